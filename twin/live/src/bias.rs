//! Each count sensor's own bias, learned as the filter goes.
//!
//! A camera that reads 6% high does so all day: its counts against the
//! ensemble's estimate give a persistent ratio, which the forecast would
//! otherwise take for a crowd the plan does not have and carry into every
//! forecast (the twin would chase its sensors' calibration instead of the
//! crowd). The bias is estimated robustly and slowly per sensor:
//!
//! - only from counts the ensemble roughly explains (log ratio within
//!   [`BIAS_EVIDENCE_MAX`]): a crowd the ensemble misses by more is a
//!   surprise, not a calibration error;
//! - averaged over [`BIAS_MEMORY_COUNTS`] counts, so a change lasting a few
//!   minutes moves it little;
//! - relative to the median over its kind of element: a shift shared by
//!   all the food stalls (rain, a wrong attraction) is the crowd's, and the
//!   filter learns it in its parameters (a kind with fewer than three
//!   sensors is taken against all sensors);
//! - shrunk towards no bias by the evidence ([`BIAS_PRIOR_COUNTS`]) and
//!   bounded by [`BIAS_MAX`].

/// Largest |log ratio| of count to estimate that is evidence of a bias.
pub const BIAS_EVIDENCE_MAX: f64 = 0.3;
/// Counts the running mean of a sensor's log ratio spans at most.
pub const BIAS_MEMORY_COUNTS: f64 = 240.0;
/// Counts of no bias the estimate starts with (shrinkage).
pub const BIAS_PRIOR_COUNTS: f64 = 30.0;
/// Largest learned bias, log.
pub const BIAS_MAX: f64 = 0.2;
/// Counts below this many persons (and estimates too) say nothing of a
/// sensor's relative bias.
pub const BIAS_BUSY_MIN: f64 = 20.0;

/// Per sensor (element): the running mean log ratio of count to estimate
/// and the counts it rests on; per element its kind of element.
#[derive(Clone, Debug)]
pub struct SensorBias {
    groups: Vec<usize>,
    ratios: Vec<(f64, f64)>,
    /// The learned bias (log) per element, updated by [`SensorBias::settle`].
    bias: Vec<f64>,
}

impl SensorBias {
    /// For elements in `groups` (one kind group index per element).
    pub fn new(groups: Vec<usize>) -> SensorBias {
        let n = groups.len();
        SensorBias { groups, ratios: vec![(0.0, 0.0); n], bias: vec![0.0; n] }
    }

    /// Takes the count `count` of element `element` against the
    /// ensemble's estimate `estimate` (both persons, the count as read).
    pub fn observe(&mut self, element: usize, count: f64, estimate: f64) {
        if count < BIAS_BUSY_MIN || estimate < BIAS_BUSY_MIN {
            return;
        }
        let ratio = (count / estimate).ln();
        if ratio.abs() > BIAS_EVIDENCE_MAX {
            return;
        }
        let (mean, n) = &mut self.ratios[element];
        *n = (*n + 1.0).min(BIAS_MEMORY_COUNTS);
        *mean += (ratio - *mean) / *n;
    }

    /// Recomputes the learned biases from what was observed: each sensor's
    /// mean log ratio against the median of its kind's, or of all sensors'
    /// where its kind has fewer than 3 sensors with evidence.
    pub fn settle(&mut self) {
        let median_of = |elements: &mut dyn Iterator<Item = usize>, ratios: &[(f64, f64)]| {
            let mut seen: Vec<f64> = elements.filter(|&e| ratios[e].1 > 0.0).map(|e| ratios[e].0).collect();
            seen.sort_by(f64::total_cmp);
            (seen.len() >= 3).then(|| seen[seen.len() / 2])
        };
        let Some(site) = median_of(&mut (0..self.groups.len()), &self.ratios) else { return };
        let groups = self.groups.iter().copied().max().map_or(0, |g| g + 1);
        for group in 0..groups {
            let members: Vec<usize> = (0..self.groups.len()).filter(|&e| self.groups[e] == group).collect();
            let median = median_of(&mut members.iter().copied(), &self.ratios).unwrap_or(site);
            for e in members {
                let (mean, n) = self.ratios[e];
                let shrink = n / (n + BIAS_PRIOR_COUNTS);
                self.bias[e] = if n > 0.0 { ((mean - median) * shrink).clamp(-BIAS_MAX, BIAS_MAX) } else { 0.0 };
            }
        }
    }

    /// What the sensor of `element` reads per person present (1 for no bias).
    pub fn factor(&self, element: usize) -> f64 {
        self.bias.get(element).map_or(1.0, |b| b.exp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steady_bias_is_learned_and_a_shared_shift_or_a_surprise_is_not() {
        // Five sensors of one kind: 0 reads 8% high, 1 sees a crowd three
        // times the estimate (a surprise), all read 20% above the estimate
        // besides (the crowd's shift, shared).
        let mut bias = SensorBias::new(vec![0; 5]);
        for t in 0..600 {
            let wobble = if t % 2 == 0 { 1.02 } else { 0.98 };
            for e in 0..5 {
                let truth = 100.0 * 1.2 * wobble;
                let count = match e {
                    0 => truth * 1.08,
                    1 => truth * 3.0,
                    _ => truth,
                };
                bias.observe(e, count, 100.0);
            }
        }
        bias.settle();
        assert!((bias.factor(0) - 1.08).abs() < 0.02, "{}", bias.factor(0));
        assert!((bias.factor(1) - 1.0).abs() < 1e-9, "{}", bias.factor(1));
        assert!((bias.factor(2) - 1.0).abs() < 0.01, "{}", bias.factor(2));
        // Empty places say nothing.
        let mut quiet = SensorBias::new(vec![0; 3]);
        for e in 0..3 {
            quiet.observe(e, 5.0 * (e + 1) as f64, 2.0);
        }
        quiet.settle();
        assert_eq!(quiet.factor(2), 1.0);
    }
}
