//! Visitors' day plans: the request and the plan.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A visitor's planning request.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ItineraryRequest {
    /// Place id where the day starts (a transit stop: the first walk passes security).
    pub start_place: String,
    /// Clock time the day starts, "HH:MM".
    pub start_time: String,
    /// Place id where the day ends (default: the start place).
    #[serde(default)]
    pub end_place: Option<String>,
    /// Clock time to be at the end place by, "HH:MM".
    pub end_time: String,
    /// Weight per sport (sports not named are not planned unless ticketed).
    #[serde(default)]
    pub sports: BTreeMap<String, f64>,
    /// Sessions already held (indices as in `GET /v1/schedule`): always in the plan.
    #[serde(default)]
    pub tickets: Vec<usize>,
    /// Interest in a meal (0 = none).
    #[serde(default)]
    pub food: f64,
    /// Interest in shopping.
    #[serde(default)]
    pub shop: f64,
    /// Interest in a fan zone.
    #[serde(default)]
    pub fan_zone: f64,
    /// Most kilometres walked (default 12).
    #[serde(default)]
    pub walk_km_max: Option<f64>,
    /// Walking speed relative to the usual (default 1; 0.7 for a slow walker).
    #[serde(default)]
    pub walk_speed_factor: Option<f64>,
    /// Seed of the search (default 1): the same request, seed and forecast give the same plan.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Search time, ms (default 30, at most 200).
    #[serde(default)]
    pub budget_ms: Option<u64>,
    /// Date of the day, "YYYY-MM-DD", for the calendar form.
    #[serde(default)]
    pub date: Option<String>,
    /// Recommend up to this many products (0 to 5; default 0, none) from
    /// the shops' stock, chosen by `sports`, with a shop and a pickup time
    /// the forecast shows as quiet that fit between the plan's stops.
    #[serde(default)]
    pub products: Option<u32>,
}

/// One walk of a plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WalkOut {
    /// Leaves at, "HH:MM".
    pub depart: String,
    /// Arrives at, "HH:MM".
    pub arrive: String,
    /// Minutes walking.
    pub walk_min: f64,
    /// Minutes queueing at security on the way.
    pub security_min: f64,
    /// Metres.
    pub distance_m: f64,
    /// Place ids passed, first to last.
    pub route: Vec<String>,
}

/// One stop of a plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StopOut {
    /// "session", "food", "shop" or "fan_zone".
    pub kind: String,
    /// Place id.
    pub place: String,
    /// Place name.
    pub place_name: String,
    /// Session index (sessions only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<usize>,
    /// Session name and sport (sessions only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Held ticket.
    pub ticket: bool,
    /// The walk there.
    pub walk: WalkOut,
    /// Arrives, "HH:MM".
    pub arrive: String,
    /// Expected queue, minutes.
    pub queue_min: f64,
    /// Seated or served, "HH:MM".
    pub start: String,
    /// Leaves, "HH:MM".
    pub leave: String,
    /// Score of the stop.
    pub score: f64,
}

/// A day plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ItineraryOut {
    /// Scenario (site) name.
    pub site: String,
    /// Stops in order.
    pub stops: Vec<StopOut>,
    /// The walk to the end place.
    pub end: WalkOut,
    /// Total score.
    pub score: f64,
    /// Kilometres walked.
    pub walk_km: f64,
    /// Minutes walking.
    pub walk_min: f64,
    /// Minutes queueing (security, venues, food, shops).
    pub queue_min: f64,
    /// Clock time of the forecast the next 30 minutes were planned with (none: the plan run only).
    pub forecast_issued_at: Option<String>,
    /// Search iterations.
    pub iterations: u64,
    /// Recommended products with their shop and pickup time (when asked
    /// for with `products` and some shop has them in stock on the way).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub products: Option<ProductsOut>,
    /// Why products were asked for and none are recommended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub products_note: Option<String>,
}

/// Products recommended with a plan, to order now and pick up later.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProductsOut {
    /// Shop place id.
    pub shop: String,
    /// Shop name.
    pub shop_name: String,
    /// Pickup, "HH:MM": the quietest time at the shop (expected people per
    /// m², forecast and issued plans) that fits between two of the plan's
    /// stops or before its end.
    pub pickup_at: String,
    /// Expected density at the shop at the pickup, P/m².
    pub pickup_density_p_per_m2: f64,
    /// The busiest expected density among the pickup times that fitted, P/m²
    /// (what the chosen time avoids).
    pub busiest_density_p_per_m2: f64,
    /// Minutes the detour to the shop adds to the walk between the stops.
    pub detour_min: f64,
    /// The items, best suited first.
    pub items: Vec<ProductOut>,
    /// The order, ready to send as it is to `POST /v1/orders` with a
    /// customer token (its key makes a resend of the same plan's order
    /// answer with the order already placed).
    pub order: crate::OrderRequest,
}

/// One recommended product.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProductOut {
    /// Item id at the shop.
    pub item: String,
    /// Price per unit.
    pub price: f64,
    /// Sports it suits (empty: everyone).
    pub sports: Vec<String>,
    /// Units in stock when the plan was made.
    pub in_stock: u32,
}

/// A session of the schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScheduleEntry {
    /// Index (use it in `tickets`).
    pub session: usize,
    /// Name.
    pub name: String,
    /// Sport.
    pub sport: String,
    /// Venue place id.
    pub venue: String,
    /// Start, "HH:MM" (with announced delays).
    pub start: String,
    /// End, "HH:MM".
    pub end: String,
    /// Tickets sold.
    pub tickets: u32,
}

/// A crowd-aware route between two places.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RouteOut {
    /// From place id.
    pub from: String,
    /// To place id.
    pub to: String,
    /// The walk.
    pub walk: WalkOut,
    /// Minutes the same walk takes at free flow.
    pub free_flow_min: f64,
}

/// Many visitors' planning requests at once (`POST /v1/itineraries/batch`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ItineraryBatchRequest {
    /// The requests, 1 to 10,000, planned in this order.
    pub requests: Vec<ItineraryRequest>,
}

/// The answer to one request of a batch: its plan, or why there is none.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ItineraryBatchItem {
    /// The plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<ItineraryOut>,
    /// HTTP status this request alone would have had (200, 400, 404 or 422).
    pub status: u16,
    /// Why there is no plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Plans for a batch, in the order of the requests.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ItineraryBatchOut {
    /// One per request.
    pub plans: Vec<ItineraryBatchItem>,
    /// Plans issued so far (this batch included), booked as demand.
    pub plans_issued: u64,
    /// Share of visitors who follow their plan (the prior 0.5 until the
    /// twin has learned it from counts; see `BookedPlans`).
    pub compliance: f64,
}
