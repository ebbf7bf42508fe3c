//! Observations: the versioned wire format (JSON), checking against the
//! scenario, and how late and duplicate observations are handled.
//!
//! Handling, as documented in the README:
//! - Every observation carries an `id`; an id seen before is a duplicate:
//!   it is counted and ignored (retries are safe).
//! - A count ahead of the twin's clock is held until the clock reaches it;
//!   one up to [`OBSERVATION_ASSIMILATION_LAG`] behind weighs the ensemble at
//!   its next step; one older than that is late: counted and kept out of the
//!   filter (the ensemble has moved on), unless it is older than
//!   [`OBSERVATION_LATE_MAX_S`], when it is refused.
//! - Events (session delays, gate closures) apply at their time, or at once
//!   if that has passed.
//! - A time more than [`OBSERVATION_FUTURE_TOLERANCE_S`] ahead of the
//!   twin's clock is refused (a wrong clock or date upstream).
//! - A batch is checked whole: one bad observation refuses the batch, with
//!   every problem listed by position, and nothing of it is kept.

use crowdtwin_sim::model::CrowdWorld;
use crowdtwin_sim::scenario::{Scenario, parse_clock};
use crowdtwin_sim::{SimDuration, SimTime};

/// Observations further ahead of the twin's clock than this are refused, s.
pub const OBSERVATION_FUTURE_TOLERANCE_S: u64 = 300;
/// Counts up to this far behind the twin's clock still weigh the ensemble
/// (at its next step); older ones are late.
pub const OBSERVATION_ASSIMILATION_LAG: SimDuration = SimDuration::from_secs(120);
/// Observations older than this behind the twin's clock are refused, s.
pub const OBSERVATION_LATE_MAX_S: u64 = 6 * 3600;
/// Most observations in one batch.
pub const OBSERVATION_BATCH_MAX: usize = 10_000;
pub use crowdtwin_wire::observation::{OBSERVATION_FORMAT_VERSION, OBSERVATION_PROBLEMS_SHOWN_MAX};
pub use crowdtwin_wire::{IngestReport, Observation, ObservationError};
/// Ids remembered for duplicate detection.
pub const OBSERVATION_IDS_REMEMBERED_MAX: usize = 1_000_000;

/// A checked observation, with references resolved.
#[derive(Clone, Debug, PartialEq)]
pub enum Checked {
    /// Count at element `element` (places then walkways).
    Count {
        /// Element index.
        element: usize,
        /// People.
        count: f64,
        /// Sensor error, persons, if the sensor states it; else the twin
        /// uses the noise level it learned from its own errors.
        sigma: Option<f64>,
    },
    /// Entries at gate `place` during bins `bins`.
    GateEntries {
        /// Gate place index.
        place: usize,
        /// Output bins covered.
        bins: std::ops::Range<usize>,
        /// Entries.
        count: f64,
    },
    /// Session `session` ends `delay` later.
    SessionDelay {
        /// Session index.
        session: usize,
        /// Delay.
        delay: SimDuration,
    },
    /// Gate `place` opened or closed.
    GateStatus {
        /// Gate place index.
        place: usize,
        /// Open after this.
        open: bool,
    },
    /// Transit stop `place` departs at `capacity_factor` of its capacity
    /// until `until` (or until the next report).
    TransitStatus {
        /// Transit place index.
        place: usize,
        /// Share of the normal capacity.
        capacity_factor: f64,
        /// End, if reported.
        until: Option<SimTime>,
    },
    /// Counted in the totals and otherwise kept for the record: transit
    /// arrivals (the members' arrivals follow the learned arrival scale,
    /// which the counts at the stops and gates already inform) and orders
    /// (the order book acts on them; a member's shops stock what the
    /// scenario says).
    Recorded,
}

/// A checked observation and its time.
#[derive(Clone, Debug, PartialEq)]
pub struct Timed {
    /// Observation time.
    pub at: SimTime,
    /// What was observed.
    pub what: Checked,
}

/// Checks one observation against the scenario and the twin's clock.
pub fn check(observation: &Observation, world: &CrowdWorld, now: SimTime) -> Result<Timed, String> {
    let scenario: &Scenario = world.scenario();
    let time = |text: &str| -> Result<SimTime, String> {
        let seconds = parse_clock(text)?;
        let at =
            seconds.checked_sub(scenario.start_clock_s).ok_or_else(|| format!("{text} is before the day starts"))?;
        let at = SimTime::from_secs(at as u64);
        if at > now + SimDuration::from_secs(OBSERVATION_FUTURE_TOLERANCE_S) {
            return Err(format!(
                "{text} is more than {OBSERVATION_FUTURE_TOLERANCE_S} s ahead of the twin's clock ({})",
                crowdtwin_sim::scenario::format_clock(scenario.clock_s(now))
            ));
        }
        if now.saturating_since(at) > SimDuration::from_secs(OBSERVATION_LATE_MAX_S) {
            return Err(format!("{text} is more than {OBSERVATION_LATE_MAX_S} s behind the twin's clock"));
        }
        Ok(at)
    };
    let place = |id: &str, kind: Option<crowdtwin_sim::scenario::PlaceKind>| -> Result<usize, String> {
        let index = scenario.places.iter().position(|p| p.id == id).ok_or_else(|| format!("unknown place `{id}`"))?;
        match kind {
            Some(kind) if scenario.places[index].kind != kind => {
                Err(format!("`{id}` is a {}, not a {}", scenario.places[index].kind.as_str(), kind.as_str()))
            }
            _ => Ok(index),
        }
    };
    let count = |value: f64| {
        if (0.0..=1e7).contains(&value) {
            Ok(value)
        } else {
            Err(format!("count {value} must be a number between 0 and 10000000"))
        }
    };
    let version = match observation {
        Observation::PlaceCount { version, .. }
        | Observation::GateEntries { version, .. }
        | Observation::SessionDelay { version, .. }
        | Observation::GateStatus { version, .. }
        | Observation::TransitStatus { version, .. }
        | Observation::TransitArrival { version, .. }
        | Observation::Order { version, .. } => *version,
    };
    if version != OBSERVATION_FORMAT_VERSION {
        return Err(format!(
            "format version {version} is not supported (this build reads {OBSERVATION_FORMAT_VERSION})"
        ));
    }
    if observation.id().is_empty() || observation.id().len() > 200 {
        return Err("id must be 1 to 200 characters".into());
    }
    use crowdtwin_sim::scenario::PlaceKind;
    Ok(match observation {
        Observation::PlaceCount { at, place: id, count: value, sigma, .. } => {
            let element = world.element_index(id).ok_or_else(|| format!("unknown place or walkway `{id}`"))?;
            let value = count(*value)?;
            let sigma = match sigma {
                Some(s) if s.is_finite() && *s > 0.0 => Some(*s),
                Some(s) => return Err(format!("sigma {s} must be > 0")),
                None => None,
            };
            Timed { at: time(at)?, what: Checked::Count { element, count: value, sigma } }
        }
        Observation::GateEntries { from, to, place: id, count: value, .. } => {
            let place = place(id, Some(PlaceKind::Gate))?;
            let (start, end) = (time(from)?, time(to)?);
            if end <= start {
                return Err(format!("interval {from} to {to} must run forwards"));
            }
            let interval = scenario.params.output_interval_s as u64 * 1_000_000;
            let bins = (start.as_micros() / interval) as usize..(end.as_micros() / interval) as usize;
            Timed { at: end, what: Checked::GateEntries { place, bins, count: count(*value)? } }
        }
        Observation::SessionDelay { at, venue, session_start, delay_min, .. } => {
            let venue = place(venue, Some(PlaceKind::Venue))?;
            let start = parse_clock(session_start)?;
            let session = scenario
                .sessions
                .iter()
                .position(|s| s.venue == venue && scenario.clock_s(s.start) == start)
                .ok_or_else(|| format!("no session starts at {session_start} at that venue"))?;
            if !(delay_min.is_finite() && *delay_min >= 0.0 && *delay_min <= 24.0 * 60.0) {
                return Err(format!("delay_min {delay_min} must be between 0 and 1440"));
            }
            Timed {
                at: time(at)?,
                what: Checked::SessionDelay { session, delay: SimDuration::from_secs_f64(delay_min * 60.0) },
            }
        }
        Observation::GateStatus { at, place: id, open, .. } => {
            Timed { at: time(at)?, what: Checked::GateStatus { place: place(id, Some(PlaceKind::Gate))?, open: *open } }
        }
        Observation::TransitStatus { at, place: id, capacity_factor, until, .. } => {
            let place = place(id, Some(PlaceKind::Transit))?;
            if !(capacity_factor.is_finite() && (0.0..=1.0).contains(capacity_factor)) {
                return Err(format!("capacity_factor {capacity_factor} must be between 0 and 1"));
            }
            let at = time(at)?;
            let until = match until {
                Some(text) => {
                    let seconds = parse_clock(text)?;
                    let end = seconds
                        .checked_sub(scenario.start_clock_s)
                        .ok_or_else(|| format!("until {text} is before the day starts"))?;
                    Some(SimTime::from_secs(end as u64))
                }
                None => None,
            };
            if until.is_some_and(|u| u < at) {
                return Err("until must not be before at".into());
            }
            Timed { at, what: Checked::TransitStatus { place, capacity_factor: *capacity_factor, until } }
        }
        Observation::TransitArrival { at, place: id, count: value, .. } => {
            place(id, Some(PlaceKind::Transit))?;
            count(*value)?;
            Timed { at: time(at)?, what: Checked::Recorded }
        }
        Observation::Order { at, shop, item, quantity, .. } => {
            let index = place(shop, None)?;
            let spec = &scenario.places[index];
            if !matches!(spec.kind, PlaceKind::Shop | PlaceKind::Food) {
                return Err(format!("`{shop}` is a {}, not a shop or food outlet", spec.kind.as_str()));
            }
            if !spec.items.iter().any(|i| &i.id == item) {
                return Err(format!("`{shop}` sells no item `{item}`"));
            }
            if *quantity == 0 || *quantity > 10_000 {
                return Err(format!("quantity {quantity} must be between 1 and 10000"));
            }
            Timed { at: time(at)?, what: Checked::Recorded }
        }
    })
}
