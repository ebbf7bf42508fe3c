//! Integer simulation time in microseconds. There is no floating-point clock.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// Microseconds in one second.
pub const MICROS_PER_SECOND: u64 = 1_000_000;

/// An instant of simulation time, in microseconds since the start of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SimTime(pub u64);

/// A span of simulation time, in microseconds. Never negative.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SimDuration(pub u64);

impl SimTime {
    /// The start of a run.
    pub const ZERO: SimTime = SimTime(0);
    /// Later than any event; `run_until(SimTime::MAX)` runs until quiescent.
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// Whole seconds since the start.
    pub const fn from_secs(seconds: u64) -> Self {
        SimTime(seconds * MICROS_PER_SECOND)
    }

    /// Seconds since the start, rounded to the nearest microsecond.
    /// Panics on a negative or non-finite value (a programmer error).
    pub fn from_secs_f64(seconds: f64) -> Self {
        SimTime(SimDuration::from_secs_f64(seconds).0)
    }

    /// Microseconds since the start.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Seconds since the start.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / MICROS_PER_SECOND as f64
    }

    /// The span from `earlier` to `self`; zero if `earlier` is later.
    pub const fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl SimDuration {
    /// No time at all.
    pub const ZERO: SimDuration = SimDuration(0);

    /// Whole seconds.
    pub const fn from_secs(seconds: u64) -> Self {
        SimDuration(seconds * MICROS_PER_SECOND)
    }

    /// Whole milliseconds.
    pub const fn from_millis(milliseconds: u64) -> Self {
        SimDuration(milliseconds * 1_000)
    }

    /// Seconds, rounded to the nearest microsecond.
    /// Panics on a negative or non-finite value (a programmer error).
    pub fn from_secs_f64(seconds: f64) -> Self {
        assert!(seconds.is_finite() && seconds >= 0.0, "a duration must be finite and >= 0, got {seconds} s");
        let micros = (seconds * MICROS_PER_SECOND as f64).round();
        assert!(micros < u64::MAX as f64, "duration {seconds} s overflows the clock");
        SimDuration(micros as u64)
    }

    /// Microseconds.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Seconds.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / MICROS_PER_SECOND as f64
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, rhs: SimDuration) -> SimTime {
        SimTime(self.0.checked_add(rhs.0).expect("simulation clock overflow (u64 microseconds)"))
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, rhs: SimDuration) {
        *self = *self + rhs;
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, rhs: SimDuration) -> SimDuration {
        SimDuration(self.0 + rhs.0)
    }
}

impl Sub for SimTime {
    type Output = SimDuration;
    /// Panics if `rhs` is later than `self`; use [`SimTime::saturating_since`]
    /// where that can happen.
    fn sub(self, rhs: SimTime) -> SimDuration {
        SimDuration(self.0.checked_sub(rhs.0).expect("time went backwards: subtracting a later instant"))
    }
}

impl fmt::Display for SimTime {
    /// `H:MM:SS.mmm` since the start of the run, with microseconds
    /// (`H:MM:SS.mmmuuu`) when the instant is not a whole millisecond.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (seconds, micros) = (self.0 / MICROS_PER_SECOND, self.0 % MICROS_PER_SECOND);
        let (hours, minutes, seconds) = (seconds / 3_600, seconds / 60 % 60, seconds % 60);
        if micros % 1_000 == 0 {
            write!(f, "{hours}:{minutes:02}:{seconds:02}.{:03}", micros / 1_000)
        } else {
            write!(f, "{hours}:{minutes:02}:{seconds:02}.{micros:06}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_round_to_microseconds() {
        assert_eq!(SimDuration::from_secs_f64(0.1).as_micros(), 100_000);
        assert_eq!(SimTime::from_secs(2) + SimDuration::from_millis(5), SimTime(2_005_000));
        assert_eq!(SimTime(3_723_004_000).to_string(), "1:02:03.004");
        assert_eq!(SimTime(3_723_004_005).to_string(), "1:02:03.004005");
        assert_eq!(SimTime(5).saturating_since(SimTime(9)), SimDuration::ZERO);
    }

    #[test]
    #[should_panic(expected = "finite and >= 0")]
    fn negative_duration_is_refused() {
        let _ = SimDuration::from_secs_f64(-1.0);
    }
}
