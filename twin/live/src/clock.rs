//! The one way wall-clock time enters the twin, so tests can run the live
//! twin at any speed.

use crowdtwin_sim::SimTime;
use std::sync::Mutex;
use std::time::Instant;

/// Maps the outside world's time to the twin's simulation time.
pub trait Clock: Send + Sync {
    /// The twin's time now.
    fn now(&self) -> SimTime;
}

/// Wall clock, optionally accelerated: simulation time = `start` +
/// `speed` x elapsed wall time.
pub struct WallClock {
    started: Instant,
    start: SimTime,
    speed: f64,
}

impl WallClock {
    /// A clock at `start` now, running `speed` times real time.
    pub fn new(start: SimTime, speed: f64) -> Self {
        assert!(speed.is_finite() && speed > 0.0, "clock speed must be positive");
        WallClock { started: Instant::now(), start, speed }
    }
}

impl Clock for WallClock {
    fn now(&self) -> SimTime {
        self.start + crowdtwin_sim::SimDuration::from_secs_f64(self.started.elapsed().as_secs_f64() * self.speed)
    }
}

/// A clock that moves only when told (tests, replays).
pub struct ManualClock {
    now: Mutex<SimTime>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: SimTime) -> Self {
        ManualClock { now: Mutex::new(start) }
    }

    /// Moves the clock to `to` (never back).
    pub fn set(&self, to: SimTime) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now = (*now).max(to);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SimTime {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}
