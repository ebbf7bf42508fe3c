//! Visitors' day plans, the schedule and routes.

use crate::error::{ApiError, Problem};
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use crowdtwin_live::itinerary::RequestError;
use crowdtwin_wire::{
    ItineraryBatchItem, ItineraryBatchOut, ItineraryBatchRequest, ItineraryOut, ItineraryRequest, RouteOut,
    ScheduleEntry,
};
use serde::Deserialize;

impl From<RequestError> for ApiError {
    fn from(error: RequestError) -> Self {
        match error {
            RequestError::Bad(m) => ApiError::BadRequest(m),
            RequestError::Unknown(m) => ApiError::NotFound(m),
            RequestError::Infeasible(m) => ApiError::Unprocessable(m, Vec::new()),
        }
    }
}

/// `POST /v1/itineraries` parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ItineraryQuery {
    /// "json" (default), "ics" (iCalendar, needs `date` in the request) or "geojson".
    pub format: Option<String>,
}

/// Plans a visitor's day: sessions by sport preference and held tickets,
/// food, shops and fan zone, with walking and queueing times from the plan
/// run, the live forecast and the plans issued before (each plan is booked
/// as demand that later plans see). The plan keeps every session window,
/// the walking limit and the end time. With `products`, it also recommends
/// items from the shops' stock by the visitor's sports, with a shop, the
/// quietest pickup time that fits between its stops, and the order ready to
/// send to `POST /v1/orders`.
#[utoipa::path(post, path = "/v1/itineraries", params(ItineraryQuery), request_body = ItineraryRequest, responses((status = 200, body = ItineraryOut), (status = 400, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn itineraries(
    State(app): State<AppState>,
    query: Result<Query<ItineraryQuery>, QueryRejection>,
    body: Result<Json<ItineraryRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query?;
    let Json(request) = body?;
    let format = query.format.unwrap_or_else(|| "json".into());
    if !["json", "ics", "geojson"].contains(&format.as_str()) {
        return Err(ApiError::BadRequest(format!("format `{format}` is not one of json, ics, geojson")));
    }
    let forecast = app.published.forecast();
    let planner = app.planner.clone();
    let (out, text) = tokio::task::spawn_blocking(move || -> Result<(ItineraryOut, Option<String>), RequestError> {
        let out = planner.plan_issued(&request, forecast.as_deref())?.out;
        let text = match format.as_str() {
            "ics" => {
                let date = request
                    .date
                    .as_deref()
                    .ok_or_else(|| RequestError::Bad("a calendar needs the request's `date` (YYYY-MM-DD)".into()))?;
                Some(planner.ics(&out, date)?)
            }
            "geojson" => Some(planner.geojson(&out)?.to_string()),
            _ => None,
        };
        Ok((out, text))
    })
    .await
    .map_err(|e| ApiError::Unavailable(format!("planning failed: {e}")))??;
    Ok(match text {
        None => Json(out).into_response(),
        Some(text) if text.starts_with("BEGIN:VCALENDAR") => {
            ([(header::CONTENT_TYPE, "text/calendar; charset=utf-8")], text).into_response()
        }
        Some(text) => ([(header::CONTENT_TYPE, "application/geo+json")], text).into_response(),
    })
}

/// Plans for many visitors at once (up to 10,000), in order, each on the
/// load of the plans before it: visitors with the same wishes are spread
/// over alternatives by their spare capacity. Each request is answered on
/// its own (a plan, or the status and reason it alone would have had); the
/// batch fails as a whole only when malformed or too large.
#[utoipa::path(post, path = "/v1/itineraries/batch", request_body = ItineraryBatchRequest, responses((status = 200, body = ItineraryBatchOut), (status = 400, body = Problem)))]
async fn itineraries_batch(
    State(app): State<AppState>,
    body: Result<Json<ItineraryBatchRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(batch) = body?;
    let forecast = app.published.forecast();
    let planner = app.planner.clone();
    let out = tokio::task::spawn_blocking(move || -> Result<ItineraryBatchOut, RequestError> {
        let answers = planner.plan_batch(&batch.requests, forecast.as_deref())?;
        let plans = answers
            .into_iter()
            .map(|answer| match answer {
                Ok(planned) => ItineraryBatchItem { plan: Some(planned.out), status: 200, error: None },
                Err(error) => {
                    let (status, message) = match error {
                        RequestError::Bad(m) => (400, m),
                        RequestError::Unknown(m) => (404, m),
                        RequestError::Infeasible(m) => (422, m),
                    };
                    ItineraryBatchItem { plan: None, status, error: Some(message) }
                }
            })
            .collect();
        let bookings = planner.bookings();
        Ok(ItineraryBatchOut { plans, plans_issued: bookings.plans(), compliance: bookings.compliance() })
    })
    .await
    .map_err(|e| ApiError::Unavailable(format!("planning failed: {e}")))??;
    Ok(Json(out).into_response())
}

/// `GET /v1/schedule` parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ScheduleQuery {
    /// Only this sport.
    pub sport: Option<String>,
}

/// The session schedule (with announced delays), for one sport or all.
#[utoipa::path(get, path = "/v1/schedule", params(ScheduleQuery), responses((status = 200, body = Vec<ScheduleEntry>), (status = 404, body = Problem)))]
async fn schedule(
    State(app): State<AppState>,
    query: Result<Query<ScheduleQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query?;
    Ok(Json(app.planner.schedule(query.sport.as_deref())?).into_response())
}

/// `GET /v1/route` parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RouteQuery {
    /// From place id.
    pub from: String,
    /// To place id.
    pub to: String,
    /// Departure, "HH:MM".
    pub at: String,
}

/// The fastest route between two places leaving at a time, with walking
/// speeds from the plan run and the live forecast.
#[utoipa::path(get, path = "/v1/route", params(RouteQuery), responses((status = 200, body = RouteOut), (status = 400, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn route(
    State(app): State<AppState>,
    query: Result<Query<RouteQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query?;
    let congestion = app.planner.congestion(app.published.forecast().as_deref());
    Ok(Json(app.planner.route(&query.from, &query.to, &query.at, &congestion)?).into_response())
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(itineraries, itineraries_batch, schedule, route),
    components(schemas(
        ItineraryRequest,
        ItineraryOut,
        crowdtwin_wire::ProductsOut,
        crowdtwin_wire::ProductOut,
        ItineraryBatchRequest,
        ItineraryBatchItem,
        ItineraryBatchOut,
        ScheduleEntry,
        RouteOut,
        Problem
    ))
)]
struct ItinerariesDoc;

/// The planning routes' OpenAPI document (merged into the service's).
pub fn openapi() -> utoipa::openapi::OpenApi {
    <ItinerariesDoc as utoipa::OpenApi>::openapi()
}

/// The planning routes, merged into [`crate::router`].
pub fn routes() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/v1/itineraries", post(itineraries))
        .route("/v1/itineraries/batch", post(itineraries_batch))
        .route("/v1/schedule", get(schedule))
        .route("/v1/route", get(route))
}
