//! Per-interval statistics of one place or walkway: time-integrated
//! presence and queueing, waits and traversal times.

use crate::kernel::{SimDuration, SimTime};

/// Totals over one output interval.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Bin {
    /// Person-microseconds of presence (divide by the interval for the mean occupancy).
    pub presence_us: u64,
    /// Person-microseconds spent queueing.
    pub queue_us: u64,
    /// Sum of the waits that ended in this interval, s.
    pub wait_sum_s: f64,
    /// Waits that ended in this interval.
    pub waits: u32,
    /// People who entered in this interval.
    pub entries: u32,
    /// Sum of the traversal times that ended in this interval, s (walkways).
    pub traversal_sum_s: f64,
    /// Traversals that ended in this interval.
    pub traversals: u32,
}

/// Integrates a level (people present) and intervals over fixed bins.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Recorder {
    interval_us: u64,
    level: u32,
    last_us: u64,
    bins: Vec<Bin>,
}

impl Recorder {
    /// A recorder with bins of `interval` starting at time zero.
    pub fn new(interval: SimDuration) -> Self {
        assert!(interval.as_micros() > 0, "output interval must be positive");
        Recorder { interval_us: interval.as_micros(), level: 0, last_us: 0, bins: Vec::new() }
    }

    fn bin(&mut self, index: usize) -> &mut Bin {
        if index >= self.bins.len() {
            self.bins.resize(index + 1, Bin::default());
        }
        &mut self.bins[index]
    }

    /// Adds `weight` per microsecond over `[from, to)` to the field `pick` selects.
    fn spread(&mut self, from: u64, to: u64, weight: u64, pick: fn(&mut Bin) -> &mut u64) {
        if weight == 0 || to <= from {
            return;
        }
        let mut t = from;
        while t < to {
            let index = (t / self.interval_us) as usize;
            let bin_end = (index as u64 + 1) * self.interval_us;
            let until = bin_end.min(to);
            *pick(self.bin(index)) += weight * (until - t);
            t = until;
        }
    }

    /// The number of people present from `now` on.
    pub fn set_level(&mut self, now: SimTime, level: u32) {
        let now = now.as_micros();
        debug_assert!(now >= self.last_us, "recorder time went back");
        self.spread(self.last_us, now, self.level as u64, |b| &mut b.presence_us);
        self.last_us = now;
        self.level = level;
    }

    /// One person present over `[from, to)` in addition to the level.
    pub fn transient(&mut self, from: SimTime, to: SimTime) {
        self.spread(from.as_micros(), to.as_micros(), 1, |b| &mut b.presence_us);
    }

    /// One person queued over `[from, to)`; also records the wait at `to`.
    pub fn queued(&mut self, from: SimTime, to: SimTime) {
        self.spread(from.as_micros(), to.as_micros(), 1, |b| &mut b.queue_us);
        self.wait(to, to.saturating_since(from));
    }

    /// A wait of `wait` that ended at `now`.
    pub fn wait(&mut self, now: SimTime, wait: SimDuration) {
        let bin = self.bin((now.as_micros() / self.interval_us) as usize);
        bin.wait_sum_s += wait.as_secs_f64();
        bin.waits += 1;
    }

    /// One person entered at `now`.
    pub fn entry(&mut self, now: SimTime) {
        self.bin((now.as_micros() / self.interval_us) as usize).entries += 1;
    }

    /// A traversal of `duration` that ended at `now`.
    pub fn traversal(&mut self, now: SimTime, duration: SimDuration) {
        let bin = self.bin((now.as_micros() / self.interval_us) as usize);
        bin.traversal_sum_s += duration.as_secs_f64();
        bin.traversals += 1;
    }

    /// The bins up to `end`, with the level integrated to `end` and
    /// `still_queued` (arrival times of people still queueing) counted up to it.
    pub fn finish(&self, end: SimTime, still_queued: impl Iterator<Item = SimTime>) -> Vec<Bin> {
        let mut copy = self.clone();
        copy.set_level(end, self.level);
        for since in still_queued {
            copy.spread(since.as_micros(), end.as_micros(), 1, |b| &mut b.queue_us);
        }
        let bins = end.as_micros().div_ceil(copy.interval_us) as usize;
        copy.bins.resize(bins, Bin::default());
        copy.bins
    }

    /// People present now.
    pub fn level(&self) -> u32 {
        self.level
    }

    /// Mean presence over bin `index`, counting the current level up to
    /// `now` (for a bin the run has passed but whose level has not changed
    /// since). Transient presence already recorded is included.
    pub fn mean_presence(&self, index: usize, now: SimTime) -> f64 {
        let recorded = self.bins.get(index).map_or(0, |b| b.presence_us);
        let (bin_start, bin_end) = (index as u64 * self.interval_us, (index as u64 + 1) * self.interval_us);
        let from = self.last_us.max(bin_start);
        let to = now.as_micros().min(bin_end);
        let pending = if to > from { self.level as u64 * (to - from) } else { 0 };
        (recorded + pending) as f64 / self.interval_us as f64
    }

    /// People who entered during bins `from..to`.
    pub fn entries(&self, bins: std::ops::Range<usize>) -> u64 {
        bins.filter_map(|i| self.bins.get(i)).map(|b| b.entries as u64).sum()
    }

    /// The output interval.
    pub fn interval(&self) -> SimDuration {
        SimDuration(self.interval_us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrates_levels_and_intervals_across_bins() {
        let mut r = Recorder::new(SimDuration::from_secs(60));
        r.set_level(SimTime::from_secs(30), 2); // 2 people from 0:30
        r.set_level(SimTime::from_secs(90), 1); // 1 person from 1:30
        r.queued(SimTime::from_secs(50), SimTime::from_secs(70));
        let bins = r.finish(SimTime::from_secs(180), [SimTime::from_secs(150)].into_iter());
        assert_eq!(bins.len(), 3);
        // Minute 0: 2 people for 30 s = 60 person-s; minute 1: 2*30 + 1*30 = 90; minute 2: 60.
        assert_eq!(bins.iter().map(|b| b.presence_us / 1_000_000).collect::<Vec<_>>(), [60, 90, 60]);
        // Queued 10 s in minute 0, 10 s in minute 1, and one still queued for 30 s in minute 2.
        assert_eq!(bins.iter().map(|b| b.queue_us / 1_000_000).collect::<Vec<_>>(), [10, 10, 30]);
        assert_eq!((bins[1].waits, bins[1].wait_sum_s), (1, 20.0));
    }
}
