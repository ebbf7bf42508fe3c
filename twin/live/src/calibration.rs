//! Online calibration of the twin's forecasts against what the sensors
//! later saw (model output statistics with a conformal band).
//!
//! The ensemble cannot represent every way the day departs from the plan
//! (walk-ins the plan has none of, a crowd that stays longer), so the
//! forecast adds the observed anomaly (count minus the ensemble's estimate
//! now) times a persistence factor. Instead of a fixed fade, the factor at
//! the horizon is learned: every forecast is kept until its target minute
//! has been observed, and the factor per kind of element is the regression
//! (through the origin, shrunk towards the fixed fade) of the ensemble's
//! error at the horizon on the anomaly when it was issued. The P10–P90 band
//! comes from the quantiles of the past standardised errors of the
//! corrected forecast, per kind of element, once enough have been seen
//! (before that, of all kinds pooled). Those errors are against counts,
//! which carry the sensor's own noise; the band is of the people present,
//! so it is narrowed by the share of the errors' variance that the
//! sensors' reported noise explains. Everything uses only observations
//! already received.

use std::collections::VecDeque;

/// Prior persistence of an anomaly over `minutes` (the fixed fade).
pub fn prior_persistence(minutes: f64, memory_min: f64) -> f64 {
    (-minutes / memory_min).exp()
}

/// Pseudo-observations the prior persistence is worth in the regression.
pub const PRIOR_POINTS: f64 = 20.0;
/// Standardised errors kept per kind of element.
pub const ERRORS_KEPT: usize = 4_000;
/// Standardised errors needed before the band is calibrated from them.
pub const ERRORS_NEEDED: usize = 200;
/// Largest persistence factor learned (an anomaly may grow, within reason).
pub const PERSISTENCE_MAX: f64 = 1.5;
/// Narrowest the band gets from removing sensor noise, as a share of the
/// band of the errors against counts.
pub const SENSOR_NOISE_SHRINK_MIN: f64 = 0.3;

/// Forgetting of an element's own verified skill per forecast scored.
pub const SKILL_FORGETTING: f64 = 0.9;
/// Pseudo-forecasts of its kind's skill an element's own skill starts from.
pub const SKILL_PRIOR_POINTS: f64 = 3.0;
/// Where the sensors now see the day this many times the plan's verified
/// error (RMSE of its kind) away from the plan member, the twin is trusted
/// whatever its past skill (a surprise the plan has no part of): the
/// weight `g² / (g² + k² mse_plan)` for a gap `g` between the count and
/// the plan member now.
pub const GAP_TRUSTED_RMSE: f64 = 3.0;

/// One element of a forecast waiting for its target minute.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Issued {
    /// The element.
    pub element: usize,
    /// The ensemble's median at the horizon, before correction.
    pub raw: f64,
    /// The anomaly when issued.
    pub anomaly: f64,
    /// The corrected median (ensemble and anomaly).
    pub corrected: f64,
    /// The plan's value (run without assimilation, with the reported events).
    pub plan: f64,
    /// The median issued: the corrected median blended with the plan.
    pub issued: f64,
    /// The scale errors are standardised by.
    pub scale: f64,
}

/// Squared errors of the twin's corrected median and of the plan, and
/// the forecasts they are over.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Skill {
    twin: f64,
    plan: f64,
    count: f64,
}

/// Learns the persistence of anomalies and the forecast error distribution.
#[derive(Clone, Debug)]
pub struct Calibration {
    /// Group (kind of element) of each element.
    groups: Vec<usize>,
    /// Prior persistence at the horizon.
    prior: f64,
    /// Per group: Σ error·anomaly, Σ anomaly², count.
    sums: Vec<(f64, f64, f64)>,
    /// Per group: standardised errors of corrected forecasts against
    /// counts, and the standardised variance of those counts' sensor
    /// noise, latest last.
    errors: Vec<VecDeque<(f64, f64)>>,
    /// Per group: the band from `errors` (None until enough), and last the
    /// band of all groups pooled; updated when forecasts are scored.
    bands: Vec<Option<Band>>,
    /// Forecasts waiting: (target bin, elements).
    waiting: VecDeque<(usize, Vec<Issued>)>,
    /// Per group, verified skill of the twin and the plan (all the day's).
    group_skill: Vec<Skill>,
    /// Per element, the same with forgetting ([`SKILL_FORGETTING`]).
    element_skill: Vec<Skill>,
}

/// A group's calibrated band: quantiles of standardised errors.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Band {
    /// 10th percentile.
    pub low: f64,
    /// 90th percentile.
    pub high: f64,
}

impl Calibration {
    /// For elements in `groups` (one group index per element), with the
    /// prior persistence at the horizon.
    pub fn new(groups: Vec<usize>, prior: f64) -> Calibration {
        let count = groups.iter().copied().max().map_or(0, |g| g + 1);
        Calibration {
            element_skill: vec![Skill::default(); groups.len()],
            groups,
            prior,
            sums: vec![(0.0, 0.0, 0.0); count],
            errors: vec![VecDeque::new(); count],
            bands: vec![None; count + 1],
            waiting: VecDeque::new(),
            group_skill: vec![Skill::default(); count],
        }
    }

    /// How much of the twin's departure from the plan element `element`'s
    /// forecast keeps, 0 to 1: the inverse-MSE weight of the twin against
    /// the plan verified on past forecasts (the element's own, forgetting,
    /// on top of its kind's), or more where `gap`, the latest count minus
    /// the plan member's people there now, is far beyond the plan's
    /// verified error (a significance test: the sensors see a surprise
    /// the plan has no part of). With nothing verified yet, 1.
    /// Where the twin's corrections chase sensor noise the plan wins and
    /// the forecast stays near it; where the day departs from the plan, the
    /// twin wins.
    pub fn twin_weight(&self, element: usize, gap: f64) -> f64 {
        let group = self.group_skill[self.groups[element]];
        let own = self.element_skill[element];
        let (twin_mean, plan_mean) = if group.count > 0.0 {
            (group.twin / group.count, group.plan / group.count)
        } else {
            return 1.0;
        };
        let twin = own.twin + SKILL_PRIOR_POINTS * twin_mean;
        let plan = own.plan + SKILL_PRIOR_POINTS * plan_mean;
        let skill = plan / (twin + plan).max(1e-9);
        let typical = GAP_TRUSTED_RMSE * GAP_TRUSTED_RMSE * plan_mean;
        let trusted = gap * gap / (gap * gap + typical).max(1e-9);
        skill.max(trusted).clamp(0.0, 1.0)
    }

    /// The learned persistence of element `element`'s anomaly at the horizon.
    pub fn persistence(&self, element: usize) -> f64 {
        let (cross, square, count) = self.sums[self.groups[element]];
        // The prior is worth PRIOR_POINTS points of the mean squared anomaly.
        let weight = PRIOR_POINTS * if count > 0.0 { (square / count).max(1e-9) } else { 1.0 };
        ((cross + weight * self.prior) / (square + weight)).clamp(0.0, PERSISTENCE_MAX)
    }

    /// The calibrated band of element `element`'s group, once learned;
    /// until then that of all groups pooled, once learned.
    pub fn band(&self, element: usize) -> Option<Band> {
        self.bands[self.groups[element]].or(*self.bands.last().expect("the pooled band"))
    }

    /// The band of the standardised errors `errors` (error, sensor
    /// variance): their P10 and P90 about their median, narrowed by the
    /// share of their variance that is sensor noise (as if normal).
    fn band_of<'a>(errors: impl Iterator<Item = &'a (f64, f64)>) -> Option<Band> {
        let pairs: Vec<(f64, f64)> = errors.copied().collect();
        if pairs.len() < ERRORS_NEEDED {
            return None;
        }
        let n = pairs.len() as f64;
        let mean = pairs.iter().map(|p| p.0).sum::<f64>() / n;
        let variance = pairs.iter().map(|p| (p.0 - mean).powi(2)).sum::<f64>() / n;
        let sensor = pairs.iter().map(|p| p.1).sum::<f64>() / n;
        let shrink = (1.0 - sensor / variance.max(1e-12)).max(0.0).sqrt().max(SENSOR_NOISE_SHRINK_MIN);
        let mut sorted: Vec<f64> = pairs.iter().map(|p| p.0).collect();
        sorted.sort_by(f64::total_cmp);
        let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
        let median = at(0.5);
        Some(Band { low: median + (at(0.1) - median) * shrink, high: median + (at(0.9) - median) * shrink })
    }

    /// Keeps a forecast's horizon values until `target_bin` is observed.
    pub fn issue(&mut self, target_bin: usize, values: impl Iterator<Item = Issued>) {
        self.waiting.push_back((target_bin, values.collect()));
    }

    /// Scores the forecasts whose target bin has ended by `now_bin` against
    /// `observed(element, bin)`: the count seen in that bin, if any, and
    /// its sensor's noise (standard deviation).
    pub fn score(&mut self, now_bin: usize, observed: impl Fn(usize, usize) -> Option<(f64, f64)>) {
        let mut scored = false;
        while let Some((target, _)) = self.waiting.front() {
            if *target >= now_bin {
                break;
            }
            let (target, issued) = self.waiting.pop_front().expect("front exists");
            for item in issued {
                let Some((count, sigma)) = observed(item.element, target) else { continue };
                scored = true;
                let group = self.groups[item.element];
                let sums = &mut self.sums[group];
                sums.0 += (count - item.raw) * item.anomaly;
                sums.1 += item.anomaly * item.anomaly;
                sums.2 += 1.0;
                let (twin, plan) = ((count - item.corrected).powi(2), (count - item.plan).powi(2));
                let skill = &mut self.group_skill[group];
                (skill.twin, skill.plan, skill.count) = (skill.twin + twin, skill.plan + plan, skill.count + 1.0);
                let own = &mut self.element_skill[item.element];
                own.twin = SKILL_FORGETTING * own.twin + twin;
                own.plan = SKILL_FORGETTING * own.plan + plan;
                own.count = SKILL_FORGETTING * own.count + 1.0;
                let errors = &mut self.errors[group];
                let scale = item.scale.max(1.0);
                errors.push_back(((count - item.issued) / scale, (sigma / scale).powi(2)));
                if errors.len() > ERRORS_KEPT {
                    errors.pop_front();
                }
            }
        }
        if scored {
            let groups = self.errors.len();
            for group in 0..groups {
                self.bands[group] = Calibration::band_of(self.errors[group].iter());
            }
            self.bands[groups] = Calibration::band_of(self.errors.iter().flatten());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(element: usize, raw: f64, anomaly: f64, corrected: f64, scale: f64) -> Issued {
        Issued { element, raw, anomaly, corrected, plan: corrected, issued: corrected, scale }
    }

    #[test]
    fn the_plan_is_kept_where_the_twin_chases_noise_and_left_where_it_sees_a_surprise() {
        // Element 0: the twin's corrections are noise, the plan is right;
        // element 1: the twin is right, the plan 200 persons off.
        let mut calibration = Calibration::new(vec![0, 1], 0.1);
        assert_eq!(calibration.twin_weight(0, 5.0), 1.0);
        for t in 0..100usize {
            let wobble = if t % 2 == 0 { 8.0 } else { -8.0 };
            let noisy = Issued {
                element: 0,
                raw: 0.0,
                anomaly: 0.0,
                corrected: 100.0 + wobble,
                plan: 100.0,
                issued: 100.0,
                scale: 1.0,
            };
            let surprise =
                Issued { element: 1, raw: 0.0, anomaly: 0.0, corrected: 300.0, plan: 100.0, issued: 300.0, scale: 1.0 };
            calibration.issue(t, [noisy, surprise].into_iter());
            calibration
                .score(t + 1, |element, _| Some((if element == 0 { 100.0 + (t % 3) as f64 } else { 300.0 }, 0.0)));
        }
        // Where the counts are near the plan now, the plan is kept; where
        // they are far from it, the twin is trusted.
        assert!(calibration.twin_weight(0, 0.5) < 0.2, "{}", calibration.twin_weight(0, 0.5));
        assert!(calibration.twin_weight(0, 200.0) > 0.9, "{}", calibration.twin_weight(0, 200.0));
        assert!(calibration.twin_weight(1, 0.0) > 0.99, "{}", calibration.twin_weight(1, 0.0));
    }

    #[test]
    fn a_persistent_anomaly_is_learned_and_a_passing_one_is_not() {
        // Group 0: the error at the horizon equals the anomaly; group 1: it is unrelated.
        let mut calibration = Calibration::new(vec![0, 1], prior_persistence(30.0, 15.0));
        assert!((calibration.persistence(0) - 0.135).abs() < 0.01);
        for t in 0..2_000usize {
            let anomaly = if t % 2 == 0 { 40.0 } else { -25.0 };
            calibration.issue(
                t + 30,
                [item(0, 100.0, anomaly, 100.0, 10.0), item(1, 100.0, anomaly, 100.0, 10.0)].into_iter(),
            );
            calibration.score(t, |element, target| {
                let past = if (target - 30) % 2 == 0 { 40.0 } else { -25.0 };
                Some((if element == 0 { 100.0 + past } else { 100.0 + if target % 3 == 0 { 5.0 } else { -5.0 } }, 0.0))
            });
        }
        assert!(calibration.persistence(0) > 0.9, "{}", calibration.persistence(0));
        assert!(calibration.persistence(1) < 0.1, "{}", calibration.persistence(1));
        let band = calibration.band(1).unwrap();
        assert!(band.low < 0.0 && band.high > 0.0 && band.high <= 0.51, "{band:?}");
    }

    #[test]
    fn the_band_is_of_people_present_not_of_counts() {
        // Forecast errors N(0, 10), counts with sensor noise N(0, 20) on top:
        // the band must be that of the forecast error alone, about ±1.28 x 10.
        let mut rng = crowdtwin_sim::kernel::ActorRng::for_actor(3, 3);
        let mut calibration = Calibration::new(vec![0], 0.1);
        for t in 0..ERRORS_KEPT {
            let truth = 500.0 + 10.0 * rng.normal();
            let count = truth + 20.0 * rng.normal();
            calibration.issue(t, [item(0, 500.0, 0.0, 500.0, 10.0)].into_iter());
            calibration.score(t + 1, |_, _| Some((count, 20.0)));
        }
        let band = calibration.band(0).unwrap();
        assert!((band.low + 1.28).abs() < 0.25 && (band.high - 1.28).abs() < 0.25, "{band:?}");
        // The same errors with no sensor noise reported keep their width (±1.28 x sqrt(5)).
        let mut counted = Calibration::new(vec![0], 0.1);
        let mut rng = crowdtwin_sim::kernel::ActorRng::for_actor(3, 3);
        for t in 0..ERRORS_KEPT {
            let count = 500.0 + 10.0 * rng.normal() + 20.0 * rng.normal();
            counted.issue(t, [item(0, 500.0, 0.0, 500.0, 10.0)].into_iter());
            counted.score(t + 1, |_, _| Some((count, 0.0)));
        }
        let wide = counted.band(0).unwrap();
        assert!((wide.high - 1.28 * 5f64.sqrt()).abs() < 0.3, "{wide:?}");
    }

    #[test]
    fn a_kind_without_enough_errors_takes_the_pooled_band() {
        let mut calibration = Calibration::new(vec![0, 1], 0.1);
        for t in 0..ERRORS_NEEDED {
            calibration.issue(t, [item(0, 10.0, 0.0, 10.0, 1.0)].into_iter());
            calibration.score(t + 1, |_, _| Some((10.0 + if t % 2 == 0 { 1.0 } else { -1.0 }, 0.0)));
        }
        assert_eq!(calibration.band(1), calibration.band(0));
        assert!(calibration.band(1).is_some());
    }

    #[test]
    fn no_band_before_enough_errors() {
        let mut calibration = Calibration::new(vec![0], 0.1);
        calibration.issue(5, [item(0, 10.0, 1.0, 10.0, 1.0)].into_iter());
        calibration.score(10, |_, _| Some((12.0, 0.0)));
        assert_eq!(calibration.band(0), None);
    }
}
