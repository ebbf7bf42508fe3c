//! The scenario file format (TOML, `version = 1`): the serde wire types as
//! planners write them, with the source spans errors point at, and the
//! format's JSON Schema. Nothing here is checked; [`super::Scenario::resolve`]
//! checks and resolves a [`ScenarioFile`].

use crate::kernel::SimDuration;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use toml::Spanned;

/// A scenario file as written (TOML).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Format version; this build reads 1.
    pub version: u32,
    /// Human name of the scenario.
    pub name: String,
    /// What the scenario is and where its figures come from.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Seed of every random stream (overridden by `crowdtwin run --seed`).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Where position (0, 0) is on the globe, [latitude, longitude] in
    /// degrees (WGS 84); places' positions are metres east and north of it.
    /// Needed only for map outputs (GeoJSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_lat_lon: Option<[f64; 2]>,
    /// Clock time at which the run starts, "HH:MM" or "HH:MM:SS".
    pub start: String,
    /// Clock time at which the run ends; may pass midnight ("25:30").
    pub end: String,
    /// Model parameters; every one has a published default.
    #[serde(default)]
    pub model: ModelParams,
    /// Places: gates, plazas, venues, shops, food outlets, fan zones, transit stops.
    #[schemars(with = "Vec<PlaceSpec>")]
    pub places: Vec<Spanned<PlaceSpec>>,
    /// Walkways between places (walkable both ways).
    #[schemars(with = "Vec<WalkwaySpec>")]
    pub walkways: Vec<Spanned<WalkwaySpec>>,
    /// Sessions held at venues.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<SessionSpec>")]
    pub sessions: Vec<Spanned<SessionSpec>>,
    /// The visitor population: ticket holders and walk-ins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<VisitorSpec>")]
    pub visitors: Option<Spanned<VisitorSpec>>,
    /// Groups of people walking from one place to another (experiments,
    /// arriving trains, evacuations).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<CrowdSpec>")]
    pub crowds: Vec<Spanned<CrowdSpec>>,
    /// Changes at given times: a closed gate, a delayed session, a transit disruption.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<InterventionSpec>")]
    pub interventions: Vec<Spanned<InterventionSpec>>,
    /// What was measured when this scenario is a laboratory experiment:
    /// `crowdtwin validate-model` runs it and compares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<ValidationSpec>,
}

/// Measured quantities of an experiment, with their source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidationSpec {
    /// Where the measurements come from (paper, data set).
    pub source: String,
    /// The measured quantities.
    pub measured: Vec<MeasuredSpec>,
}

/// One measured quantity of an experiment, in its steady state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MeasuredSpec {
    /// The walkway it was measured on, as `"from--to"` (its output id).
    pub walkway: String,
    /// What was measured.
    pub quantity: MeasuredQuantity,
    /// The measured value, in the quantity's unit.
    pub value: f64,
}

/// A quantity measured on a walkway.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MeasuredQuantity {
    /// Flow out of the walkway, persons/s: over the steady state for an
    /// ordinary walkway, `(N - 1) / (last - first)` for a bottleneck.
    FlowPPerS,
    /// Mean density on the walkway in the steady state, persons/m².
    DensityPPerM2,
    /// Mean speed on the walkway in the steady state (its length over the
    /// mean time to walk it), m/s.
    SpeedMps,
}

impl MeasuredQuantity {
    /// The name as written in a file.
    pub fn as_str(self) -> &'static str {
        match self {
            MeasuredQuantity::FlowPPerS => "flow_p_per_s",
            MeasuredQuantity::DensityPPerM2 => "density_p_per_m2",
            MeasuredQuantity::SpeedMps => "speed_mps",
        }
    }
}

fn default_seed() -> u64 {
    1
}

/// Crowd-model parameters. Defaults are the published values cited beside each.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ModelParams {
    /// Free walking speed, m/s (Weidmann 1993: 1.34).
    pub walk_speed_mps_free: f64,
    /// Shape of the speed-density relation, P/m², in Weidmann's form.
    /// Default 4.28, with the jam density 3.19: fitted (v0 kept at 1.34) to
    /// the steady-state density and speed of the three Hermes corridor runs
    /// (Zhang et al. 2011, 1.80 m: 1.14 P/m² at 1.21 m/s, 1.56 at 1.01,
    /// 2.46 at 0.44, the last in the jam behind a 0.95 m exit), free and
    /// congested flow together. Weidmann's published 1.913 with 5.4 gives
    /// 0.78 m/s at 1.56 P/m² where 1.01 was measured.
    pub weidmann_gamma_p_per_m2: f64,
    /// Density at which the speed-density relation reaches zero, P/m²
    /// (Weidmann 1993: 5.4; default 3.19, fitted with the gamma above).
    /// A walkway whose exit is closed fills to it.
    pub jam_density_p_per_m2: f64,
    /// Slowest walking speed in a jam, m/s, so a jammed walkway still drains.
    pub walk_speed_mps_min: f64,
    /// Outflow capacity of ordinary walkways, P/(m·s); unset = the maximum
    /// of the speed-density relation's flow (≈ 1.68 at ≈ 2.1 P/m² with the
    /// defaults; ≈ 1.22 at 1.75 with Weidmann's published gamma).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub walkway_capacity_p_per_m_s: Option<f64>,
    /// Outflow capacity of a `bottleneck` walkway (an opening entered from
    /// a waiting crowd) of width `b` is `b` times the specific capacity
    /// `max(bottleneck_capacity_p_per_m_s - bottleneck_capacity_decline_p_per_m2_s * b,
    /// bottleneck_capacity_wide_p_per_m_s)`: narrow openings carry more per
    /// metre (people interlock), wide ones tend to the wide value. Defaults
    /// 2.62, 0.26 and 1.9, fitted (relative least squares, see
    /// docs/validation.md) to the CrowdQueue 0.50 m gate (Adrian et al.
    /// 2020), the Hermes 1.00 m corridor entrance (Zhang et al. 2011) and the
    /// flow-against-width tables of Müller 1981 and Nagai et al. 2006,
    /// 0.6-2.0 m; the wide value is Seyfried et al. 2009 and Nagai's 2.0 m.
    pub bottleneck_capacity_p_per_m_s: f64,
    /// How fast the specific bottleneck capacity falls with width, P/(m²·s).
    pub bottleneck_capacity_decline_p_per_m2_s: f64,
    /// Specific capacity of wide bottlenecks, P/(m·s).
    pub bottleneck_capacity_wide_p_per_m_s: f64,
    /// Outflow capacity of a walkway's narrowed exit (`exit_width_m`), per
    /// metre of exit width, P/(m·s): people reach it in the walkway's own
    /// stream, not pressed in a waiting crowd. Default 1.93, the Hermes run
    /// uo-180-180-095 (1.84 P/s through a 0.95 m exit of a 1.80 m corridor).
    pub exit_capacity_p_per_m_s: f64,
    /// Most people a place holds, per m² of its `area_m2`, P/m² (default 5.4,
    /// Weidmann 1993's jam density: a standing crowd that fills the space; the
    /// walkways' fitted 3.19 is where a walking stream stops). A place that
    /// holds this many takes nobody more from its walkways: they wait on the
    /// walkway (whose density and queue rise, and which then holds back its
    /// own entrance), so a queue spills back onto the walkways leading in.
    pub place_hold_density_p_per_m2: f64,
    /// Time to cross from one element into the next, s. Every message between
    /// actors takes at least this long, so it is also the kernel's lookahead.
    pub handoff_s: f64,
    /// Output interval, s (one row per place per interval).
    pub output_interval_s: f64,
}

impl Default for ModelParams {
    fn default() -> Self {
        ModelParams {
            walk_speed_mps_free: 1.34,
            weidmann_gamma_p_per_m2: 4.28,
            jam_density_p_per_m2: 3.19,
            walk_speed_mps_min: 0.01,
            walkway_capacity_p_per_m_s: None,
            bottleneck_capacity_p_per_m_s: 2.62,
            bottleneck_capacity_decline_p_per_m2_s: 0.26,
            bottleneck_capacity_wide_p_per_m_s: 1.9,
            exit_capacity_p_per_m_s: 1.93,
            place_hold_density_p_per_m2: 5.4,
            handoff_s: 1.0,
            output_interval_s: 60.0,
        }
    }
}

impl ModelParams {
    /// Outflow capacity of a bottleneck of `width_m`, P/s.
    pub fn bottleneck_capacity_p_per_s(&self, width_m: f64) -> f64 {
        let specific = (self.bottleneck_capacity_p_per_m_s - self.bottleneck_capacity_decline_p_per_m2_s * width_m)
            .max(self.bottleneck_capacity_wide_p_per_m_s);
        specific * width_m
    }

    /// The kernel lookahead: the handoff time.
    pub fn handoff(&self) -> SimDuration {
        SimDuration::from_secs_f64(self.handoff_s)
    }
}

/// Kinds of place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlaceKind {
    /// Security check at the park boundary: `lanes`, `service_s`.
    Gate,
    /// Open space people cross or wait in.
    Plaza,
    /// Arena or stadium: `seats`, entry `lanes` and `service_s`, `egress_width_m`.
    Venue,
    /// Merchandise shop: `servers`, `service_s`, `items`.
    Shop,
    /// Food outlet: `servers`, `service_s`, `items`.
    Food,
    /// Fan zone where people linger.
    FanZone,
    /// Train, shuttle or bus stop where visitors arrive and leave:
    /// `departure_interval_s`, `departure_capacity`, `arrival_share`.
    Transit,
}

impl PlaceKind {
    /// Every kind, in declaration order.
    pub const ALL: [PlaceKind; 7] = [
        PlaceKind::Gate,
        PlaceKind::Plaza,
        PlaceKind::Venue,
        PlaceKind::Shop,
        PlaceKind::Food,
        PlaceKind::FanZone,
        PlaceKind::Transit,
    ];

    /// The name used in files and outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            PlaceKind::Gate => "gate",
            PlaceKind::Plaza => "plaza",
            PlaceKind::Venue => "venue",
            PlaceKind::Shop => "shop",
            PlaceKind::Food => "food",
            PlaceKind::FanZone => "fan_zone",
            PlaceKind::Transit => "transit",
        }
    }
}

impl fmt::Display for PlaceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One place of the site.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceSpec {
    /// Unique id, referenced by walkways, sessions and crowds.
    pub id: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What the place is.
    pub kind: PlaceKind,
    /// Position of its centre, metres east and north of the site origin.
    pub position_m: [f64; 2],
    /// Walkable area, m² (for a venue: its concourse and entry area, not the bowl).
    pub area_m2: f64,
    /// Outline of the place (its walkable area or footprint): the outer
    /// ring, `[x, y]` metres east and north of the site origin, closed or
    /// not. Carried to map outputs (`crowdtwin export geojson`); the model
    /// uses `position_m` and `area_m2`, not the outline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polygon_m: Option<Vec<[f64; 2]>>,
    /// Gate and venue: parallel check lanes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lanes: Option<u32>,
    /// Gate, venue, shop, food: mean service time per person, s (exponential).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_s: Option<f64>,
    /// Venue: seats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seats: Option<u32>,
    /// Venue: total clear width of the exits, m; egress flows at the
    /// bottleneck capacity times this width.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress_width_m: Option<f64>,
    /// Shop, food: servers (tills, counters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub servers: Option<u32>,
    /// Shop, food: what is sold and how much is in stock.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<ItemSpec>,
    /// Transit: seconds between departures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub departure_interval_s: Option<f64>,
    /// Transit: people each departure takes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub departure_capacity: Option<u32>,
    /// Transit: share of the visitors who arrive and leave here (weights,
    /// normalised over all transit places).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival_share: Option<f64>,
    /// In the open air (default false): weather interventions with
    /// `outdoor = true` apply here.
    #[serde(default, skip_serializing_if = "is_false")]
    pub outdoor: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

fn yes() -> bool {
    true
}

/// An item a shop or food outlet sells.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemSpec {
    /// Item id, unique within the place.
    pub id: String,
    /// Units in stock at the start.
    pub stock: u32,
    /// Price per unit.
    #[serde(default)]
    pub price: f64,
    /// Sports whose fans it suits (sports of the scenario's sessions; none:
    /// an item for everyone). Day plans recommend items by these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sports: Vec<String>,
}

/// A walkway between two places.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WalkwaySpec {
    /// Place id at one end.
    #[schemars(with = "String")]
    pub from: Spanned<String>,
    /// Place id at the other end.
    #[schemars(with = "String")]
    pub to: Spanned<String>,
    /// Length, m; unset = the distance between the places' positions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length_m: Option<f64>,
    /// Centre line, `[x, y]` metres east and north of the site origin, from
    /// `from` to `to`. Carried to map outputs; the model uses `length_m`
    /// (not the line's length).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_m: Option<Vec<[f64; 2]>>,
    /// Clear width, m.
    pub width_m: f64,
    /// A narrow passage (door, turnstile row): its outflow capacity is the
    /// bottleneck capacity instead of the walkway capacity.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bottleneck: bool,
    /// Outflow capacity of this walkway, P/(m·s), overriding the defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_p_per_m_s: Option<f64>,
    /// The walkway narrows at its far end (`to`; both ends if walked both
    /// ways) to this width, m (a door at the end of a corridor): its
    /// outflow is at most `exit_capacity_p_per_m_s` times it, and a queue
    /// forms inside the walkway behind it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_width_m: Option<f64>,
}

/// A session at a venue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionSpec {
    /// Venue place id.
    #[schemars(with = "String")]
    pub venue: Spanned<String>,
    /// Sport, e.g. "ice_hockey", "figure_skating".
    pub sport: String,
    /// Display name, e.g. "Men's quarterfinal".
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Clock time it starts.
    pub start: String,
    /// Clock time it ends.
    pub end: String,
    /// Tickets sold; unset = the venue's seats times `visitors.ticket_fill`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tickets: Option<u32>,
}

/// The visitor population.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitorSpec {
    /// Visitors in all. Ticket holders come first (as many as the sessions'
    /// tickets need); the rest are walk-ins with no ticket.
    pub count: u64,
    /// Share of seats sold where a session does not say `tickets`.
    #[serde(default = "default_ticket_fill")]
    pub ticket_fill: f64,
    /// Weights of holding 1, 2, 3, ... tickets, for ticket holders.
    #[serde(default = "default_session_count_weights")]
    pub session_count_weights: Vec<f64>,
    /// Arrival before the first session, minutes: triangular (earliest, mode, latest).
    #[serde(default = "default_arrive_before")]
    pub arrive_before_first_session_min: [f64; 3],
    /// Walk-ins arrive uniformly between these clock times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub walk_in_window: Option<[String; 2]>,
    /// Walk-ins stay this many minutes: uniform (shortest, longest).
    #[serde(default = "default_walk_in_stay")]
    pub walk_in_stay_min: [f64; 2],
    /// Probability of eating in a free slot of at least 30 minutes.
    #[serde(default = "default_food_probability")]
    pub food_probability: f64,
    /// Probability of visiting a shop in a free slot.
    #[serde(default = "default_shop_probability")]
    pub shop_probability: f64,
    /// Probability of spending a free slot in a fan zone.
    #[serde(default = "default_fan_zone_probability")]
    pub fan_zone_probability: f64,
    /// Time spent eating after being served, minutes: uniform (shortest, longest).
    #[serde(default = "default_eat_min")]
    pub eat_min: [f64; 2],
    /// Time spent in a fan zone, minutes: uniform (shortest, longest).
    #[serde(default = "default_fan_zone_dwell")]
    pub fan_zone_dwell_min: [f64; 2],
    /// Probability that a visitor crossing a plaza stops there for a while
    /// (a photo, a meeting point, the screens) before walking on (default
    /// 0: plazas are only crossed).
    #[serde(default)]
    pub plaza_linger_probability: f64,
    /// Time a visitor who stops on a plaza stays there, minutes: uniform
    /// (shortest, longest).
    #[serde(default = "default_plaza_linger")]
    pub plaza_linger_min: [f64; 2],
    /// Preference weight per sport when tickets are drawn (default 1 each).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sport_preferences: BTreeMap<String, f64>,
    /// Share of ticket holders and walk-ins who follow crowdtwin's
    /// recommendations (0 to 1, default 0): for food, shops and fan zones
    /// they go where the plan run's congestion says they are served
    /// soonest, instead of choosing by distance alone.
    #[serde(default)]
    pub recommended_share: f64,
}

pub(super) fn default_ticket_fill() -> f64 {
    0.9
}
fn default_session_count_weights() -> Vec<f64> {
    vec![0.7, 0.25, 0.05]
}
fn default_arrive_before() -> [f64; 3] {
    [120.0, 60.0, 15.0]
}
fn default_walk_in_stay() -> [f64; 2] {
    [60.0, 240.0]
}
fn default_food_probability() -> f64 {
    0.5
}
fn default_shop_probability() -> f64 {
    0.25
}
fn default_fan_zone_probability() -> f64 {
    0.3
}
fn default_eat_min() -> [f64; 2] {
    [10.0, 25.0]
}
fn default_fan_zone_dwell() -> [f64; 2] {
    [10.0, 45.0]
}
fn default_plaza_linger() -> [f64; 2] {
    [2.0, 15.0]
}

/// How the members of a crowd are released over its window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CrowdArrival {
    /// Evenly spaced over `spread_s` (all at once when it is 0).
    #[default]
    Regular,
    /// A Poisson process of rate `count / spread_s`.
    Poisson,
}

/// A group of people walking from one place to another, then leaving the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CrowdSpec {
    /// Name used in outputs.
    pub name: String,
    /// People in the crowd.
    pub count: u32,
    /// Place id where they appear.
    #[schemars(with = "String")]
    pub from: Spanned<String>,
    /// Place id they walk to; they leave the model on arrival (after its
    /// service, if it has one) on their last lap.
    #[schemars(with = "String")]
    pub to: Spanned<String>,
    /// Place ids they pass on the way, in order (each reached by the
    /// shortest route from the one before).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<String>")]
    pub via: Vec<Spanned<String>>,
    /// Times they walk the stops `via..., to` (a ring when `to` = `from`):
    /// for fixed-density experiments on a circuit.
    #[serde(default = "default_laps")]
    pub laps: u32,
    /// Clock time the first appears.
    pub start: String,
    /// Seconds over which they appear.
    #[serde(default)]
    pub spread_s: f64,
    /// How appearances are spread over the window.
    #[serde(default)]
    pub arrival: CrowdArrival,
    /// Whether they must pass security at the gates on their way.
    #[serde(default)]
    pub screening: bool,
}

fn default_laps() -> u32 {
    1
}

/// A change at a given time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, tag = "action", rename_all = "snake_case")]
pub enum InterventionSpec {
    /// Close a gate: nobody passes it until it reopens; its queue is sent round.
    CloseGate {
        /// Clock time.
        at: String,
        /// Gate place id.
        place: String,
    },
    /// Reopen a closed gate.
    OpenGate {
        /// Clock time.
        at: String,
        /// Gate place id.
        place: String,
    },
    /// Move a session's end later (the announcement comes at `at`).
    DelaySession {
        /// Clock time.
        at: String,
        /// Venue place id.
        venue: String,
        /// Session start clock time, to pick the session at that venue.
        session_start: String,
        /// Minutes of delay.
        minutes: f64,
        /// Whether operators report it (default true); an unreported
        /// overrun is seen only in the counts.
        #[serde(default = "yes")]
        reported: bool,
    },
    /// Fewer or no departures at a transit stop until a clock time.
    TransitDisruption {
        /// Clock time.
        at: String,
        /// Transit place id.
        place: String,
        /// Clock time service is back to normal.
        until: String,
        /// Share of the normal capacity per departure (0 = none).
        capacity_factor: f64,
        /// Whether operators report it as a `transit_status` observation (default true).
        #[serde(default = "yes")]
        reported: bool,
    },
    /// Slower service at a gate, venue, shop or food outlet (fewer staff,
    /// stricter screening) until a clock time; never reported.
    SlowService {
        /// Clock time.
        at: String,
        /// Place id.
        place: String,
        /// Clock time service is back to normal.
        until: String,
        /// Share of the normal service rate, in (0, 1].
        rate_factor: f64,
    },
    /// Visitors change what they do (rain, a cold snap) from `at` until
    /// `until` (default: the end of the day): the activities of `kinds`
    /// (`food`, `shop`, `fan_zone`) and, with `outdoor = true`, the places
    /// marked `outdoor` are chosen `attraction` times as often and dwelt in
    /// `dwell_factor` times as long.
    Behaviour {
        /// Clock time.
        at: String,
        /// Clock time it ends (default: the end of the day).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<String>,
        /// Kinds of activity place it applies to.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        kinds: Vec<PlaceKind>,
        /// Whether it applies to the places marked outdoor.
        #[serde(default)]
        outdoor: bool,
        /// Factor on how often the activity (or outdoor place) is chosen, 0 to 10.
        #[serde(default = "one")]
        attraction: f64,
        /// Factor on the time spent eating or in a fan zone there, 0.1 to 10.
        #[serde(default = "one")]
        dwell_factor: f64,
        /// Whether operators announce it (default false: the twin learns it).
        #[serde(default)]
        reported: bool,
    },
}

fn one() -> f64 {
    1.0
}

/// The JSON Schema of the scenario format, as pretty JSON.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(ScenarioFile);
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serialises");
    text.push('\n');
    text
}
