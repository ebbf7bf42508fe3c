//! Scenario files: what planners write (TOML), checked and resolved into the
//! form the crowd model is built from.
//!
//! [`ScenarioFile`] and its parts are the wire format (format `version = 1`),
//! with a JSON Schema from [`json_schema`]. [`Scenario::parse`] reads the TOML
//! text, checks every reference and range, and resolves place ids to indices
//! and clock times to simulation times. Every error names the file, the line
//! and what is wrong.

use crate::kernel::{SimDuration, SimTime};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use toml::Spanned;

/// The scenario format version this build reads and writes.
pub const SCENARIO_FORMAT_VERSION: u32 = 1;
/// Largest number of places (including gates, venues, shops) in one site;
/// routing tables grow with its square (12 bytes per pair).
pub const PLACES_MAX: usize = 1_024;
/// Largest number of walkways in one site.
pub const WALKWAYS_MAX: usize = 16_384;
/// Largest number of sessions in one scenario.
pub const SESSIONS_MAX: usize = 4_096;
/// Largest number of visitors (ticket holders, walk-ins and crowds together).
pub const VISITORS_MAX: u64 = 20_000_000;
/// Largest number of crowds.
pub const CROWDS_MAX: usize = 60_000;
/// Longest run: two days.
pub const RUN_DURATION_S_MAX: u32 = 48 * 3_600;

// ---------------------------------------------------------------------------
// Wire format.

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
    #[serde(default)]
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
    /// Default 3.13: fitted (least squares, v0 and jam density kept) to the
    /// 49 one-second density-speed points of the Hermes corridor run
    /// uo-145-180-180 (Zhang et al. 2011, 1.80 m, 0.6-2.1 P/m²). Weidmann's
    /// published 1.913 gives 0.78 m/s at 1.56 P/m² where 1.01 was measured.
    pub weidmann_gamma_p_per_m2: f64,
    /// Jam density, P/m² (Weidmann 1993: 5.4).
    pub jam_density_p_per_m2: f64,
    /// Slowest walking speed in a jam, m/s, so a jammed walkway still drains.
    pub walk_speed_mps_min: f64,
    /// Outflow capacity of ordinary walkways, P/(m·s); unset = the maximum
    /// of the speed-density relation's flow (≈ 1.68 at ≈ 2.1 P/m² with the
    /// defaults; ≈ 1.22 at 1.75 with Weidmann's published gamma).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub walkway_capacity_p_per_m_s: Option<f64>,
    /// Outflow capacity of a `bottleneck` walkway of width `b` is
    /// `bottleneck_capacity_p_per_m_s * b + bottleneck_capacity_offset_p_per_s`.
    /// Slope default 1.75 P/(m·s): the middle of the 1.6-1.9 measured in
    /// laboratory bottlenecks (Seyfried et al.; Kretz et al.), what wide
    /// openings tend to.
    pub bottleneck_capacity_p_per_m_s: f64,
    /// The offset of the bottleneck law, P/s. Default 0.27: narrow openings
    /// carry more per metre (people interlock in lanes); calibrated on the
    /// CrowdQueue 0.50 m gate (Adrian et al. 2020: 1.148 P/s, 2.30 P/(m·s)).
    pub bottleneck_capacity_offset_p_per_s: f64,
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
            weidmann_gamma_p_per_m2: 3.13,
            jam_density_p_per_m2: 5.4,
            walk_speed_mps_min: 0.01,
            walkway_capacity_p_per_m_s: None,
            bottleneck_capacity_p_per_m_s: 1.75,
            bottleneck_capacity_offset_p_per_s: 0.27,
            handoff_s: 1.0,
            output_interval_s: 60.0,
        }
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
}

/// A walkway between two places.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WalkwaySpec {
    /// Place id at one end.
    pub from: String,
    /// Place id at the other end.
    pub to: String,
    /// Length, m; unset = the distance between the places' positions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length_m: Option<f64>,
    /// Clear width, m.
    pub width_m: f64,
    /// A narrow passage (door, turnstile row): its outflow capacity is the
    /// bottleneck capacity instead of the walkway capacity.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bottleneck: bool,
    /// Outflow capacity of this walkway, P/(m·s), overriding the defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_p_per_m_s: Option<f64>,
}

/// A session at a venue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionSpec {
    /// Venue place id.
    pub venue: String,
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

fn default_ticket_fill() -> f64 {
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
    pub from: String,
    /// Place id they walk to; they leave the model on arrival (after its
    /// service, if it has one) on their last lap.
    pub to: String,
    /// Place ids they pass on the way, in order (each reached by the
    /// shortest route from the one before).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub via: Vec<String>,
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
    },
}

// ---------------------------------------------------------------------------
// Errors.

/// Why a scenario was refused: the file, the line (1-based, when known) and
/// what is wrong.
#[derive(Clone, Debug, PartialEq)]
pub struct ScenarioError {
    /// File name as given to [`Scenario::parse`].
    pub file: String,
    /// 1-based line, when the error can be placed.
    pub line: Option<usize>,
    /// What is wrong and what is accepted.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for ScenarioError {}

/// Converts byte offsets to 1-based line numbers.
struct Lines<'a> {
    text: &'a str,
}

impl Lines<'_> {
    fn of(&self, offset: usize) -> usize {
        self.text.as_bytes()[..offset.min(self.text.len())].iter().filter(|&&b| b == b'\n').count() + 1
    }
}

// ---------------------------------------------------------------------------
// Resolved scenario.

/// Clock time in seconds after midnight of the run's first day.
pub fn parse_clock(text: &str) -> Result<u32, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let parse = |s: &str, max: u32, what: &str| -> Result<u32, String> {
        let value: u32 =
            s.parse().map_err(|_| format!("`{text}` is not a clock time: {what} `{s}` is not a whole number"))?;
        if value > max {
            return Err(format!("`{text}` is not a clock time: {what} {value} is above {max}"));
        }
        Ok(value)
    };
    match parts.as_slice() {
        [h, m] | [h, m, _] if h.len() <= 2 && m.len() == 2 => {
            let seconds = if let [_, _, s] = parts.as_slice() { parse(s, 59, "seconds")? } else { 0 };
            Ok(parse(h, 47, "hours")? * 3_600 + parse(m, 59, "minutes")? * 60 + seconds)
        }
        _ => Err(format!("`{text}` is not a clock time: write HH:MM or HH:MM:SS (hours up to 47 for the next day)")),
    }
}

/// Formats seconds after midnight as `HH:MM`.
pub fn format_clock(seconds: u32) -> String {
    format!("{:02}:{:02}", seconds / 3_600, seconds / 60 % 60)
}

/// A place, resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct Place {
    /// Id from the file.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Kind.
    pub kind: PlaceKind,
    /// Position, m.
    pub position_m: [f64; 2],
    /// Area, m².
    pub area_m2: f64,
    /// Check lanes or servers (0 where the place serves nobody).
    pub servers: u32,
    /// Mean service time, s.
    pub service_s: f64,
    /// Venue seats.
    pub seats: u32,
    /// Venue egress flow, persons/s.
    pub egress_p_per_s: f64,
    /// Items on sale.
    pub items: Vec<ItemSpec>,
    /// Transit departure interval, s.
    pub departure_interval_s: f64,
    /// Transit departure capacity, persons.
    pub departure_capacity: u32,
    /// Transit arrival share (normalised over transit places).
    pub arrival_share: f64,
}

/// A walkway, resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct Walkway {
    /// Index of the place at one end.
    pub a: usize,
    /// Index of the place at the other end.
    pub b: usize,
    /// Length, m.
    pub length_m: f64,
    /// Width, m.
    pub width_m: f64,
    /// Whether it is a bottleneck element.
    pub bottleneck: bool,
    /// Outflow capacity, persons/s (specific capacity times width).
    pub capacity_p_per_s: f64,
}

/// A session, resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    /// Venue place index.
    pub venue: usize,
    /// Sport.
    pub sport: String,
    /// Display name.
    pub name: String,
    /// Start.
    pub start: SimTime,
    /// Planned end.
    pub end: SimTime,
    /// Tickets sold.
    pub tickets: u32,
}

/// A crowd, resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct Crowd {
    /// Name.
    pub name: String,
    /// People.
    pub count: u32,
    /// Origin place index.
    pub from: usize,
    /// Destination place index.
    pub to: usize,
    /// Stops of one lap: the `via` places, then `to`.
    pub stops: Vec<usize>,
    /// Laps.
    pub laps: u32,
    /// First appearance.
    pub start: SimTime,
    /// Window of appearances.
    pub spread: SimDuration,
    /// Spread rule.
    pub arrival: CrowdArrival,
    /// Must pass security.
    pub screening: bool,
}

/// The visitor population, resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct Visitors {
    /// Visitors in all (ticket holders and walk-ins; crowds not included).
    pub count: u64,
    /// Weights of holding 1, 2, ... tickets.
    pub session_count_weights: Vec<f64>,
    /// Triangular arrival before the first session, s: (earliest, mode, latest).
    pub arrive_before_s: [f64; 3],
    /// Walk-in arrival window.
    pub walk_in_window: (SimTime, SimTime),
    /// Walk-in stay, s: uniform.
    pub walk_in_stay_s: [f64; 2],
    /// Probabilities in a free slot.
    pub food_probability: f64,
    /// Probability of shopping in a free slot.
    pub shop_probability: f64,
    /// Probability of a fan zone in a free slot.
    pub fan_zone_probability: f64,
    /// Share following recommendations.
    pub recommended_share: f64,
    /// Eating time, s: uniform.
    pub eat_s: [f64; 2],
    /// Fan zone dwell, s: uniform.
    pub fan_zone_dwell_s: [f64; 2],
    /// Sport preference weights.
    pub sport_preferences: BTreeMap<String, f64>,
}

/// An intervention, resolved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Intervention {
    /// Close gate `place` at `at`.
    CloseGate {
        /// When.
        at: SimTime,
        /// Gate index.
        place: usize,
    },
    /// Reopen gate `place` at `at`.
    OpenGate {
        /// When.
        at: SimTime,
        /// Gate index.
        place: usize,
    },
    /// Session `session` ends `delay` later, announced at `at`.
    DelaySession {
        /// When.
        at: SimTime,
        /// Session index.
        session: usize,
        /// Delay.
        delay: SimDuration,
    },
    /// Transit stop `place` runs at `capacity_factor` from `at` to `until`.
    TransitDisruption {
        /// When.
        at: SimTime,
        /// Transit place index.
        place: usize,
        /// End of the disruption.
        until: SimTime,
        /// Capacity share.
        capacity_factor: f64,
    },
}

impl Intervention {
    /// When it takes effect.
    pub fn at(&self) -> SimTime {
        match self {
            Intervention::CloseGate { at, .. }
            | Intervention::OpenGate { at, .. }
            | Intervention::DelaySession { at, .. }
            | Intervention::TransitDisruption { at, .. } => *at,
        }
    }
}

/// A checked scenario with references resolved, ready to build a model from.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// Name.
    pub name: String,
    /// Seed from the file.
    pub seed: u64,
    /// Latitude and longitude of position (0, 0), degrees.
    pub origin_lat_lon: Option<[f64; 2]>,
    /// Clock time of simulation time zero, s after midnight.
    pub start_clock_s: u32,
    /// Length of the run.
    pub duration: SimDuration,
    /// Model parameters.
    pub params: ModelParams,
    /// Places.
    pub places: Vec<Place>,
    /// Walkways.
    pub walkways: Vec<Walkway>,
    /// Sessions.
    pub sessions: Vec<Session>,
    /// Visitor population (none: only crowds).
    pub visitors: Option<Visitors>,
    /// Crowds.
    pub crowds: Vec<Crowd>,
    /// Interventions, in time order.
    pub interventions: Vec<Intervention>,
}

/// Weidmann's (1993) fundamental diagram: walking speed at density `rho`.
pub fn weidmann_speed_mps(params: &ModelParams, rho: f64) -> f64 {
    if rho <= 0.0 {
        return params.walk_speed_mps_free;
    }
    if rho >= params.jam_density_p_per_m2 {
        return 0.0;
    }
    let v = params.walk_speed_mps_free
        * (1.0 - (-params.weidmann_gamma_p_per_m2 * (1.0 / rho - 1.0 / params.jam_density_p_per_m2)).exp());
    v.max(0.0)
}

/// The maximum of the specific flow `rho * v(rho)`, P/(m·s), found by a
/// fine scan (≈ 1.68 at ≈ 2.1 P/m² with the default parameters, ≈ 1.22 at
/// ≈ 1.75 with Weidmann's published gamma).
pub fn weidmann_capacity_p_per_m_s(params: &ModelParams) -> f64 {
    (1..5_400)
        .map(|i| i as f64 * params.jam_density_p_per_m2 / 5_400.0)
        .map(|rho| rho * weidmann_speed_mps(params, rho))
        .fold(0.0, f64::max)
}

impl ModelParams {
    fn check(&self) -> Result<(), String> {
        let positive = |name: &str, value: f64, max: f64| {
            if value.is_finite() && value > 0.0 && value <= max {
                Ok(())
            } else {
                Err(format!("model.{name} = {value} must be > 0 and <= {max}"))
            }
        };
        positive("walk_speed_mps_free", self.walk_speed_mps_free, 10.0)?;
        positive("weidmann_gamma_p_per_m2", self.weidmann_gamma_p_per_m2, 100.0)?;
        positive("jam_density_p_per_m2", self.jam_density_p_per_m2, 20.0)?;
        positive("walk_speed_mps_min", self.walk_speed_mps_min, self.walk_speed_mps_free)?;
        if let Some(c) = self.walkway_capacity_p_per_m_s {
            positive("walkway_capacity_p_per_m_s", c, 20.0)?;
        }
        positive("bottleneck_capacity_p_per_m_s", self.bottleneck_capacity_p_per_m_s, 20.0)?;
        if !(self.bottleneck_capacity_offset_p_per_s.is_finite()
            && self.bottleneck_capacity_offset_p_per_s.abs() <= 10.0)
        {
            return Err(format!(
                "model.bottleneck_capacity_offset_p_per_s = {} must be between -10 and 10",
                self.bottleneck_capacity_offset_p_per_s
            ));
        }
        positive("handoff_s", self.handoff_s, 60.0)?;
        if self.handoff_s < 0.001 {
            return Err("model.handoff_s must be at least 0.001 s".into());
        }
        positive("output_interval_s", self.output_interval_s, 3_600.0)?;
        if self.output_interval_s.fract() != 0.0 {
            return Err("model.output_interval_s must be a whole number of seconds".into());
        }
        Ok(())
    }

    /// The kernel lookahead: the handoff time.
    pub fn handoff(&self) -> SimDuration {
        SimDuration::from_secs_f64(self.handoff_s)
    }
}

impl Scenario {
    /// Parses and checks a scenario from TOML text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
        let lines = Lines { text };
        let raw: ScenarioFile = toml::from_str(text).map_err(|e| ScenarioError {
            file: file.to_string(),
            line: e.span().map(|s| lines.of(s.start)),
            message: e.message().trim().to_string(),
        })?;
        Scenario::resolve(&raw, text, file)
    }

    /// Checks an already-deserialised file. `text` is the source the spans
    /// point into (empty for files built in code: errors then carry no line).
    pub fn resolve(raw: &ScenarioFile, text: &str, file: &str) -> Result<Scenario, ScenarioError> {
        let lines = Lines { text };
        let at = |span: std::ops::Range<usize>, message: String| ScenarioError {
            file: file.to_string(),
            line: if text.is_empty() { None } else { Some(lines.of(span.start)) },
            message,
        };
        let top = |message: String| ScenarioError { file: file.to_string(), line: None, message };

        if raw.version != SCENARIO_FORMAT_VERSION {
            return Err(top(format!(
                "format version {} is not supported; this build reads version {SCENARIO_FORMAT_VERSION}",
                raw.version
            )));
        }
        raw.model.check().map_err(top)?;
        let start_clock_s = parse_clock(&raw.start).map_err(|e| top(format!("start: {e}")))?;
        let end_clock_s = parse_clock(&raw.end).map_err(|e| top(format!("end: {e}")))?;
        if end_clock_s <= start_clock_s || end_clock_s - start_clock_s > RUN_DURATION_S_MAX {
            return Err(top(format!("end {} must be after start {} and at most 48 hours later", raw.end, raw.start)));
        }
        // Times may lie after the end (a session the run stops in the middle
        // of, an intervention it never reaches) but not before the start.
        let clock = |text: &str| -> Result<SimTime, String> {
            let seconds = parse_clock(text)?;
            if seconds < start_clock_s {
                return Err(format!("{text} is before the run starts ({})", raw.start));
            }
            Ok(SimTime::from_secs((seconds - start_clock_s) as u64))
        };

        if raw.places.is_empty() {
            return Err(top("no places: a site needs at least one `[[places]]`".into()));
        }
        if raw.places.len() > PLACES_MAX || raw.walkways.len() > WALKWAYS_MAX || raw.sessions.len() > SESSIONS_MAX {
            return Err(top(format!(
                "too large: at most {PLACES_MAX} places, {WALKWAYS_MAX} walkways, {SESSIONS_MAX} sessions"
            )));
        }

        // Places.
        let mut index_of: BTreeMap<&str, usize> = BTreeMap::new();
        let mut places = Vec::with_capacity(raw.places.len());
        let bottleneck_capacity = raw.model.bottleneck_capacity_p_per_m_s;
        for spanned in &raw.places {
            let p = spanned.get_ref();
            let here = |message: String| at(spanned.span(), format!("place `{}`: {message}", p.id));
            if p.id.is_empty() || p.id.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(here("an id must be non-empty with no spaces".into()));
            }
            if index_of.insert(&p.id, places.len()).is_some() {
                return Err(here("the id is used twice".into()));
            }
            if !(p.area_m2.is_finite() && p.area_m2 > 0.0) {
                return Err(here(format!("area_m2 = {} must be > 0", p.area_m2)));
            }
            if !p.position_m.iter().all(|x| x.is_finite()) {
                return Err(here("position_m must be finite".into()));
            }
            let needs = |field: &str, present: bool| {
                if present { Ok(()) } else { Err(here(format!("a {} needs `{field}`", p.kind.as_str()))) }
            };
            let allowed = |field: &str, present: bool, kinds: &str| {
                if present { Err(here(format!("`{field}` applies only to {kinds}"))) } else { Ok(()) }
            };
            let serves = matches!(p.kind, PlaceKind::Gate | PlaceKind::Venue);
            let sells = matches!(p.kind, PlaceKind::Shop | PlaceKind::Food);
            allowed("lanes", p.lanes.is_some() && !serves, "gates and venues")?;
            allowed("servers", p.servers.is_some() && !sells, "shops and food")?;
            allowed("service_s", p.service_s.is_some() && !(serves || sells), "gates, venues, shops and food")?;
            allowed("seats", p.seats.is_some() && p.kind != PlaceKind::Venue, "venues")?;
            allowed("egress_width_m", p.egress_width_m.is_some() && p.kind != PlaceKind::Venue, "venues")?;
            allowed("items", !p.items.is_empty() && !sells, "shops and food")?;
            let transit = p.kind == PlaceKind::Transit;
            allowed("departure_interval_s", p.departure_interval_s.is_some() && !transit, "transit")?;
            allowed("departure_capacity", p.departure_capacity.is_some() && !transit, "transit")?;
            allowed("arrival_share", p.arrival_share.is_some() && !transit, "transit")?;
            let servers = if serves {
                needs("lanes", p.lanes.is_some())?;
                p.lanes.unwrap_or(0)
            } else if sells {
                needs("servers", p.servers.is_some())?;
                p.servers.unwrap_or(0)
            } else {
                0
            };
            if (serves || sells) && !(1..=10_000).contains(&servers) {
                return Err(here(format!("{servers} lanes/servers: must be between 1 and 10000")));
            }
            let service_s = if serves || sells {
                needs("service_s", p.service_s.is_some())?;
                let s = p.service_s.unwrap_or(0.0);
                if !(s.is_finite() && s > 0.0 && s <= 3_600.0) {
                    return Err(here(format!("service_s = {s} must be > 0 and <= 3600")));
                }
                s
            } else {
                0.0
            };
            let (seats, egress_p_per_s) = if p.kind == PlaceKind::Venue {
                needs("seats", p.seats.is_some())?;
                needs("egress_width_m", p.egress_width_m.is_some())?;
                let width = p.egress_width_m.unwrap_or(0.0);
                if !(width.is_finite() && width > 0.0) {
                    return Err(here(format!("egress_width_m = {width} must be > 0")));
                }
                (p.seats.unwrap_or(0), width * bottleneck_capacity)
            } else {
                (0, 0.0)
            };
            let mut item_ids = std::collections::BTreeSet::new();
            for item in &p.items {
                if !item_ids.insert(item.id.as_str()) {
                    return Err(here(format!("item `{}` is listed twice", item.id)));
                }
                if !(item.price.is_finite() && item.price >= 0.0) {
                    return Err(here(format!("item `{}`: price must be >= 0", item.id)));
                }
            }
            let (departure_interval_s, departure_capacity) = if transit {
                let interval = p.departure_interval_s.unwrap_or(60.0);
                let capacity = p.departure_capacity.unwrap_or(1_000);
                if !((1.0..=86_400.0).contains(&interval)) {
                    return Err(here(format!("departure_interval_s = {interval} must be between 1 and 86400")));
                }
                if capacity == 0 {
                    return Err(here("departure_capacity must be at least 1".into()));
                }
                (interval, capacity)
            } else {
                (0.0, 0)
            };
            let arrival_share = p.arrival_share.unwrap_or(if transit { 1.0 } else { 0.0 });
            if !(arrival_share.is_finite() && arrival_share >= 0.0) {
                return Err(here("arrival_share must be >= 0".into()));
            }
            places.push(Place {
                id: p.id.clone(),
                name: p.name.clone().unwrap_or_else(|| p.id.clone()),
                kind: p.kind,
                position_m: p.position_m,
                area_m2: p.area_m2,
                servers,
                service_s,
                seats,
                egress_p_per_s,
                items: p.items.clone(),
                departure_interval_s,
                departure_capacity,
                arrival_share,
            });
        }
        let place = |id: &str, what: &str| -> Result<usize, String> {
            index_of.get(id).copied().ok_or_else(|| format!("{what} `{id}` is not a place id"))
        };

        // Walkways.
        let walkway_capacity =
            raw.model.walkway_capacity_p_per_m_s.unwrap_or_else(|| weidmann_capacity_p_per_m_s(&raw.model));
        let mut walkways = Vec::with_capacity(raw.walkways.len());
        for spanned in &raw.walkways {
            let w = spanned.get_ref();
            let here = |message: String| at(spanned.span(), format!("walkway {} -> {}: {message}", w.from, w.to));
            let a = place(&w.from, "from").map_err(here)?;
            let b = place(&w.to, "to").map_err(here)?;
            if a == b {
                return Err(here("a walkway must join two different places".into()));
            }
            let length_m = match w.length_m {
                Some(length) => length,
                None => {
                    let (p, q) = (places[a].position_m, places[b].position_m);
                    ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sqrt()
                }
            };
            if !((0.1..=100_000.0).contains(&length_m)) {
                return Err(here(format!(
                    "length {length_m} m must be between 0.1 and 100000 (give length_m where positions coincide)"
                )));
            }
            if !(w.width_m.is_finite() && w.width_m >= 0.1 && w.width_m <= 1_000.0) {
                return Err(here(format!("width_m = {} must be between 0.1 and 1000", w.width_m)));
            }
            let specific =
                w.capacity_p_per_m_s.unwrap_or(if w.bottleneck { bottleneck_capacity } else { walkway_capacity });
            if !(specific.is_finite() && specific > 0.0 && specific <= 20.0) {
                return Err(here(format!("capacity_p_per_m_s = {specific} must be > 0 and <= 20")));
            }
            let offset = if w.bottleneck && w.capacity_p_per_m_s.is_none() {
                raw.model.bottleneck_capacity_offset_p_per_s
            } else {
                0.0
            };
            let capacity_p_per_s = specific * w.width_m + offset;
            if capacity_p_per_s <= 0.0 {
                return Err(here(format!("its capacity {capacity_p_per_s} P/s is not positive")));
            }
            walkways.push(Walkway { a, b, length_m, width_m: w.width_m, bottleneck: w.bottleneck, capacity_p_per_s });
        }

        // Sessions.
        let ticket_fill = raw.visitors.as_ref().map_or(default_ticket_fill(), |v| v.get_ref().ticket_fill);
        let mut sessions = Vec::with_capacity(raw.sessions.len());
        for spanned in &raw.sessions {
            let s = spanned.get_ref();
            let here = |message: String| at(spanned.span(), format!("session at {} {}: {message}", s.venue, s.start));
            let venue = place(&s.venue, "venue").map_err(here)?;
            if places[venue].kind != PlaceKind::Venue {
                return Err(here(format!("`{}` is a {}, not a venue", s.venue, places[venue].kind.as_str())));
            }
            let start = clock(&s.start).map_err(here)?;
            let end = clock(&s.end).map_err(here)?;
            if end <= start {
                return Err(here("end must be after start".into()));
            }
            let seats = places[venue].seats;
            let tickets = s.tickets.unwrap_or((seats as f64 * ticket_fill).round() as u32);
            if tickets > seats {
                return Err(here(format!("{tickets} tickets for {seats} seats")));
            }
            if let Some(other) = sessions.iter().find(|o: &&Session| o.venue == venue && o.start < end && start < o.end)
            {
                return Err(here(format!("overlaps the session starting at {} at the same venue", other.start)));
            }
            sessions.push(Session { venue, sport: s.sport.clone(), name: s.name.clone(), start, end, tickets });
        }

        // Visitors.
        let visitors = match &raw.visitors {
            None => None,
            Some(spanned) => {
                let v = spanned.get_ref();
                let here = |message: String| at(spanned.span(), format!("visitors: {message}"));
                let probability = |name: &str, p: f64| {
                    if (0.0..=1.0).contains(&p) { Ok(()) } else { Err(here(format!("{name} = {p} must be in [0, 1]"))) }
                };
                probability("ticket_fill", v.ticket_fill)?;
                probability("food_probability", v.food_probability)?;
                probability("shop_probability", v.shop_probability)?;
                probability("fan_zone_probability", v.fan_zone_probability)?;
                probability("recommended_share", v.recommended_share)?;
                if v.count > VISITORS_MAX {
                    return Err(here(format!("count {} is above the limit of {VISITORS_MAX}", v.count)));
                }
                if v.session_count_weights.is_empty()
                    || v.session_count_weights.iter().any(|w| !(w.is_finite() && *w >= 0.0))
                    || v.session_count_weights.iter().sum::<f64>() <= 0.0
                {
                    return Err(here("session_count_weights must be non-negative with a positive sum".into()));
                }
                let [earliest, mode, latest] = v.arrive_before_first_session_min;
                if !(earliest >= mode && mode >= latest && latest >= 0.0 && earliest <= 24.0 * 60.0) {
                    return Err(here(
                        "arrive_before_first_session_min must be [earliest, mode, latest] with earliest >= mode >= latest >= 0"
                            .into(),
                    ));
                }
                let range = |name: &str, r: [f64; 2]| {
                    if r[0].is_finite() && r[0] >= 0.0 && r[1] >= r[0] && r[1] <= 48.0 * 60.0 {
                        Ok([r[0] * 60.0, r[1] * 60.0])
                    } else {
                        Err(here(format!("{name} must be [shortest, longest] minutes with 0 <= shortest <= longest")))
                    }
                };
                let walk_in_window = match &v.walk_in_window {
                    Some([from, to]) => {
                        let from = clock(from).map_err(|e| here(format!("walk_in_window: {e}")))?;
                        let to = clock(to).map_err(|e| here(format!("walk_in_window: {e}")))?;
                        if to < from {
                            return Err(here("walk_in_window must run forwards".into()));
                        }
                        (from, to)
                    }
                    None => (
                        SimTime::ZERO,
                        SimTime::ZERO + SimDuration::from_secs_f64((end_clock_s - start_clock_s) as f64 * 0.6),
                    ),
                };
                for (sport, weight) in &v.sport_preferences {
                    if !(weight.is_finite() && *weight >= 0.0) {
                        return Err(here(format!("sport_preferences.{sport} must be >= 0")));
                    }
                }
                if v.count > 0 && !places.iter().any(|p| p.kind == PlaceKind::Transit) {
                    return Err(here("visitors arrive by transit: the site needs a `transit` place".into()));
                }
                if places.iter().filter(|p| p.kind == PlaceKind::Transit).map(|p| p.arrival_share).sum::<f64>() <= 0.0
                    && v.count > 0
                {
                    return Err(here("the transit places' arrival_share must not all be 0".into()));
                }
                Some(Visitors {
                    count: v.count,
                    session_count_weights: v.session_count_weights.clone(),
                    arrive_before_s: [earliest * 60.0, mode * 60.0, latest * 60.0],
                    walk_in_window,
                    walk_in_stay_s: range("walk_in_stay_min", v.walk_in_stay_min)?,
                    food_probability: v.food_probability,
                    shop_probability: v.shop_probability,
                    fan_zone_probability: v.fan_zone_probability,
                    recommended_share: v.recommended_share,
                    eat_s: range("eat_min", v.eat_min)?,
                    fan_zone_dwell_s: range("fan_zone_dwell_min", v.fan_zone_dwell_min)?,
                    sport_preferences: v.sport_preferences.clone(),
                })
            }
        };

        // Crowds.
        let mut crowds = Vec::with_capacity(raw.crowds.len());
        for spanned in &raw.crowds {
            let c = spanned.get_ref();
            let here = |message: String| at(spanned.span(), format!("crowd `{}`: {message}", c.name));
            let from = place(&c.from, "from").map_err(here)?;
            let to = place(&c.to, "to").map_err(here)?;
            let start = clock(&c.start).map_err(here)?;
            if !(c.spread_s.is_finite() && c.spread_s >= 0.0 && c.spread_s <= RUN_DURATION_S_MAX as f64) {
                return Err(here(format!("spread_s = {} must be >= 0", c.spread_s)));
            }
            if c.count as u64 > VISITORS_MAX {
                return Err(here(format!("count {} is above the limit of {VISITORS_MAX}", c.count)));
            }
            let mut stops = Vec::with_capacity(c.via.len() + 1);
            for id in &c.via {
                stops.push(place(id, "via").map_err(here)?);
            }
            stops.push(to);
            if stops.windows(2).any(|w| w[0] == w[1]) || stops[0] == from {
                return Err(here("consecutive stops must differ".into()));
            }
            if c.laps == 0 || c.laps as u64 * stops.len() as u64 > u32::MAX as u64 {
                return Err(here(format!("laps = {} must be at least 1 (and laps x stops below 2^32)", c.laps)));
            }
            if c.laps > 1 && stops.last() == stops.first() {
                return Err(here("a lap must not end where the next one starts".into()));
            }
            crowds.push(Crowd {
                name: c.name.clone(),
                count: c.count,
                from,
                to,
                stops,
                laps: c.laps,
                start,
                spread: SimDuration::from_secs_f64(c.spread_s),
                arrival: c.arrival,
                screening: c.screening,
            });
        }
        let total_people =
            visitors.as_ref().map_or(0, |v| v.count) + crowds.iter().map(|c| c.count as u64).sum::<u64>();
        if total_people > VISITORS_MAX {
            return Err(top(format!("{total_people} people in all is above the limit of {VISITORS_MAX}")));
        }

        // Interventions.
        let mut interventions = Vec::with_capacity(raw.interventions.len());
        for spanned in &raw.interventions {
            let here = |message: String| at(spanned.span(), format!("intervention: {message}"));
            let kind_is = |index: usize, kind: PlaceKind| {
                if places[index].kind == kind {
                    Ok(index)
                } else {
                    Err(here(format!(
                        "`{}` is a {}, not a {}",
                        places[index].id,
                        places[index].kind.as_str(),
                        kind.as_str()
                    )))
                }
            };
            let intervention = match spanned.get_ref() {
                InterventionSpec::CloseGate { at, place: id } => Intervention::CloseGate {
                    at: clock(at).map_err(here)?,
                    place: kind_is(place(id, "place").map_err(here)?, PlaceKind::Gate)?,
                },
                InterventionSpec::OpenGate { at, place: id } => Intervention::OpenGate {
                    at: clock(at).map_err(here)?,
                    place: kind_is(place(id, "place").map_err(here)?, PlaceKind::Gate)?,
                },
                InterventionSpec::DelaySession { at, venue, session_start, minutes } => {
                    let venue = kind_is(place(venue, "venue").map_err(here)?, PlaceKind::Venue)?;
                    let start = clock(session_start).map_err(here)?;
                    let session = sessions
                        .iter()
                        .position(|s| s.venue == venue && s.start == start)
                        .ok_or_else(|| here(format!("no session starts at {session_start} at that venue")))?;
                    if !(minutes.is_finite() && *minutes >= 0.0 && *minutes <= 24.0 * 60.0) {
                        return Err(here(format!("minutes = {minutes} must be between 0 and 1440")));
                    }
                    Intervention::DelaySession {
                        at: clock(at).map_err(here)?,
                        session,
                        delay: SimDuration::from_secs_f64(minutes * 60.0),
                    }
                }
                InterventionSpec::TransitDisruption { at, place: id, until, capacity_factor } => {
                    let at = clock(at).map_err(here)?;
                    let until = clock(until).map_err(here)?;
                    if until < at {
                        return Err(here("until must not be before at".into()));
                    }
                    if !(0.0..=1.0).contains(capacity_factor) {
                        return Err(here(format!("capacity_factor = {capacity_factor} must be in [0, 1]")));
                    }
                    Intervention::TransitDisruption {
                        at,
                        place: kind_is(place(id, "place").map_err(here)?, PlaceKind::Transit)?,
                        until,
                        capacity_factor: *capacity_factor,
                    }
                }
            };
            interventions.push(intervention);
        }
        interventions.sort_by_key(|i| i.at());

        if let Some([lat, lon]) = raw.origin_lat_lon
            && !(lat.is_finite() && lon.is_finite() && lat.abs() <= 85.0 && lon.abs() <= 180.0)
        {
            return Err(top(format!(
                "origin_lat_lon = [{lat}, {lon}] is not a latitude in [-85, 85] and a longitude in [-180, 180]"
            )));
        }
        Ok(Scenario {
            name: raw.name.clone(),
            seed: raw.seed,
            origin_lat_lon: raw.origin_lat_lon,
            start_clock_s,
            duration: SimDuration::from_secs((end_clock_s - start_clock_s) as u64),
            params: raw.model.clone(),
            places,
            walkways,
            sessions,
            visitors,
            crowds,
            interventions,
        })
    }

    /// The end of the run.
    pub fn end(&self) -> SimTime {
        SimTime::ZERO + self.duration
    }

    /// Clock time of a simulation time, s after midnight.
    pub fn clock_s(&self, time: SimTime) -> u32 {
        self.start_clock_s + (time.as_micros() / 1_000_000) as u32
    }
}

/// The JSON Schema of the scenario format, as pretty JSON.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(ScenarioFile);
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serialises");
    text.push('\n');
    text
}
