//! Observations as sent to the twin (`POST /v1/observations`, replay files).

use serde::{Deserialize, Serialize};

use std::fmt;

/// The observation format version this build reads and writes.
pub const OBSERVATION_FORMAT_VERSION: u32 = 1;
/// Problems listed in an error message (all are in `problems`).
pub const OBSERVATION_PROBLEMS_SHOWN_MAX: usize = 20;

fn version_one() -> u32 {
    OBSERVATION_FORMAT_VERSION
}

/// One observation, as sent (JSON, tagged by `type`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Observation {
    /// People counted at a place or walkway (walkway id `from--to`) at a time.
    PlaceCount {
        /// Format version (1).
        #[serde(default = "version_one")]
        version: u32,
        /// Unique id (retries reuse it).
        id: String,
        /// Clock time `HH:MM[:SS]` of the scenario's day.
        at: String,
        /// Place id, or walkway id `from--to`.
        place: String,
        /// People counted.
        count: f64,
        /// Standard deviation of the sensor's error, persons (default: 5% of the count + 2).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sigma: Option<f64>,
    },
    /// People who entered a gate between two clock times.
    GateEntries {
        /// Format version (1).
        #[serde(default = "version_one")]
        version: u32,
        /// Unique id.
        id: String,
        /// Start of the interval.
        from: String,
        /// End of the interval (the observation's time).
        to: String,
        /// Gate id.
        place: String,
        /// Entries.
        count: f64,
    },
    /// A session runs late: it ends `delay_min` later than planned.
    SessionDelay {
        /// Format version (1).
        #[serde(default = "version_one")]
        version: u32,
        /// Unique id.
        id: String,
        /// When it was announced.
        at: String,
        /// Venue id.
        venue: String,
        /// Planned start clock time, to pick the session.
        session_start: String,
        /// Minutes of delay to the end.
        delay_min: f64,
    },
    /// A gate was closed or opened.
    GateStatus {
        /// Format version (1).
        #[serde(default = "version_one")]
        version: u32,
        /// Unique id.
        id: String,
        /// When.
        at: String,
        /// Gate id.
        place: String,
        /// Open after this.
        open: bool,
    },
    /// Operators report a transit stop's service: departures at
    /// `capacity_factor` of their capacity (0 = halted, 1 = normal again)
    /// from `at` until `until` (default: until the next report).
    TransitStatus {
        /// Format version (1).
        #[serde(default = "version_one")]
        version: u32,
        /// Unique id.
        id: String,
        /// When.
        at: String,
        /// Transit place id.
        place: String,
        /// Share of the normal departure capacity, 0 to 1.
        capacity_factor: f64,
        /// Clock time service is back to normal, if known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<String>,
    },
    /// People arrived at a transit stop (recorded and counted; the twin's
    /// arrivals come from its learned arrival scale, see the README).
    TransitArrival {
        /// Format version (1).
        #[serde(default = "version_one")]
        version: u32,
        /// Unique id.
        id: String,
        /// When.
        at: String,
        /// Transit place id.
        place: String,
        /// People.
        count: f64,
    },
    /// An order at a shop or food outlet (recorded and counted; the order
    /// book, not the twin, acts on orders, see the README).
    Order {
        /// Format version (1).
        #[serde(default = "version_one")]
        version: u32,
        /// Unique id.
        id: String,
        /// When.
        at: String,
        /// Shop id.
        shop: String,
        /// Item id.
        item: String,
        /// Units.
        quantity: u32,
    },
}

impl Observation {
    /// The observation's id.
    pub fn id(&self) -> &str {
        match self {
            Observation::PlaceCount { id, .. }
            | Observation::GateEntries { id, .. }
            | Observation::SessionDelay { id, .. }
            | Observation::GateStatus { id, .. }
            | Observation::TransitStatus { id, .. }
            | Observation::TransitArrival { id, .. }
            | Observation::Order { id, .. } => id,
        }
    }
}

/// Why observations were refused: each problem with its position in the batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ObservationError {
    /// `(position in the batch, what is wrong)`.
    pub problems: Vec<(usize, String)>,
}

impl fmt::Display for ObservationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = OBSERVATION_PROBLEMS_SHOWN_MAX;
        let list: Vec<String> =
            self.problems.iter().take(shown).map(|(i, p)| format!("observation {i}: {p}")).collect();
        write!(f, "{}", list.join("; "))?;
        if self.problems.len() > shown {
            write!(f, "; and {} more", self.problems.len() - shown)?;
        }
        Ok(())
    }
}

impl std::error::Error for ObservationError {}

/// What happened to an accepted batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IngestReport {
    /// New observations kept for assimilation (or applied events).
    pub accepted: usize,
    /// Ids seen before: ignored.
    pub duplicates: usize,
    /// Older than the last assimilation step: kept out of the filter.
    pub late: usize,
}
