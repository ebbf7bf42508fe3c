//! Scenario files: what planners write (TOML), checked and resolved into the
//! form the crowd model is built from.
//!
//! - [`ScenarioFile`] and its parts: the wire format (format `version = 1`),
//!   with a JSON Schema from [`json_schema`].
//! - [`Scenario::parse`] reads the TOML text, and [`Scenario::resolve`]
//!   checks every reference and range, section by section, and resolves
//!   place ids to indices and clock times ([`parse_clock`]) to simulation
//!   times. Every error ([`ScenarioError`]) names the file, the line and
//!   what is wrong.
//! - The types below are the checked scenario the model is built from.

mod clock;
mod error;
mod file;
mod resolve;

pub use clock::{format_clock, parse_clock};
pub use error::ScenarioError;
pub use file::{
    CrowdArrival, CrowdSpec, InterventionSpec, ItemSpec, MeasuredQuantity, MeasuredSpec, ModelParams, PlaceKind,
    PlaceSpec, ScenarioFile, SessionSpec, ValidationSpec, VisitorSpec, WalkwaySpec, json_schema,
};

use crate::kernel::{SimDuration, SimTime};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
    /// Outline, m (outer ring as written; map outputs only).
    pub polygon_m: Option<Vec<[f64; 2]>>,
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
    /// In the open air: a weather intervention (`Intervention::Behaviour`
    /// with `outdoor`) applies here.
    pub outdoor: bool,
    /// Most people it holds (`model.place_hold_density_p_per_m2` times its
    /// area, at least 1): at this many it takes nobody more from its walkways.
    pub hold_p: u32,
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
    /// Centre line, m, from place `a` to place `b` (map outputs only).
    pub line_m: Option<Vec<[f64; 2]>>,
    /// Whether it is a bottleneck element.
    pub bottleneck: bool,
    /// Outflow capacity, persons/s (specific capacity times width, or the
    /// narrowed exit's if that is less).
    pub capacity_p_per_s: f64,
    /// The most it takes in per second and direction: specific capacity
    /// times width (a narrowed exit does not narrow the entrance).
    pub entry_capacity_p_per_s: f64,
    /// Most people it holds: the area times the congested density at which
    /// the speed-density relation carries the outflow capacity, so a full
    /// walkway still discharges at capacity (jam density only if that is
    /// zero). A bottleneck holds what crosses it in its crossing time.
    pub storage_p: u32,
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
    /// Probability that a visitor crossing a plaza stops there.
    pub plaza_linger_probability: f64,
    /// Time stopped on a plaza, s: uniform.
    pub plaza_linger_s: [f64; 2],
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
        /// Whether operators report it (a `session_delay` observation);
        /// an unreported overrun is seen only in the egress counts.
        reported: bool,
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
        /// Whether operators report it (a `transit_status` observation).
        reported: bool,
    },
    /// Service at gate, venue, shop or food `place` runs at `rate_factor`
    /// of its normal rate from `at` to `until` (slower screening); nobody
    /// reports it.
    SlowService {
        /// When.
        at: SimTime,
        /// Place index.
        place: usize,
        /// End of the slowdown.
        until: SimTime,
        /// Share of the normal service rate, in (0, 1].
        rate_factor: f64,
    },
    /// Visitors' behaviour changes from `at` to `until` (weather): the
    /// activities `kinds` (food, shop, fan zone) and, with `outdoor`, the
    /// places marked outdoor are chosen `attraction` times as often and
    /// dwelt in `dwell_factor` times as long.
    Behaviour(Box<Behaviour>),
}

/// A change of visitors' behaviour over a time window (see [`Intervention::Behaviour`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Behaviour {
    /// When it starts.
    pub at: SimTime,
    /// When it ends.
    pub until: SimTime,
    /// Kinds of activity place it applies to (food, shop, fan zone).
    pub kinds: Vec<PlaceKind>,
    /// Whether it also applies to the places marked outdoor.
    pub outdoor: bool,
    /// Factor on the probability of choosing the activity (or, for an
    /// outdoor place of a kind not listed, on its weight among its kind).
    pub attraction: f64,
    /// Factor on eating and fan zone dwell there.
    pub dwell_factor: f64,
    /// Whether operators announce it (planners' "rain at 15:00"); the
    /// forecast then runs with it, else the twin learns it.
    pub reported: bool,
}

impl Behaviour {
    /// Whether it is in force at `now`.
    pub fn active(&self, now: SimTime) -> bool {
        self.at <= now && now < self.until
    }

    /// Whether it applies to a place of `kind`, outdoor or not.
    pub fn applies(&self, kind: PlaceKind, outdoor: bool) -> bool {
        self.kinds.contains(&kind) || (self.outdoor && outdoor)
    }
}

impl Intervention {
    /// When it takes effect.
    pub fn at(&self) -> SimTime {
        match self {
            Intervention::CloseGate { at, .. }
            | Intervention::OpenGate { at, .. }
            | Intervention::DelaySession { at, .. }
            | Intervention::TransitDisruption { at, .. }
            | Intervention::SlowService { at, .. } => *at,
            Intervention::Behaviour(behaviour) => behaviour.at,
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
    /// What was measured, when the scenario is an experiment.
    pub validation: Option<ValidationSpec>,
}

impl Scenario {
    /// The end of the run.
    pub fn end(&self) -> SimTime {
        SimTime::ZERO + self.duration
    }

    /// Clock time of a simulation time, s after midnight.
    pub fn clock_s(&self, time: SimTime) -> u32 {
        self.start_clock_s + (time.as_micros() / 1_000_000) as u32
    }
}
