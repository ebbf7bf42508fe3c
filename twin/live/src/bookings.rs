//! Issued plans as demand: every plan the service hands out is booked as
//! expected visits (place, arrival, stay), and later plans are made on the
//! congestion with that load added.
//!
//! A booked errand (food, shop, fan zone), and the pickup of a plan's
//! products ([`crate::products`]), adds, times the share of visitors
//! who follow their plan:
//! - its arrivals to a fluid queue at the place: per step of the congestion
//!   grid the place serves `servers · step / service_s` people; what is
//!   booked beyond that waits, and the wait is added to the place's;
//! - its stay to the place's expected occupancy; where that would take the
//!   place past level of service D (Fruin's queue thresholds at food outlets
//!   and shops, the walkway thresholds at fan zones), the place is closed to
//!   further plans in that step ([`FULL_WAIT_S`]).
//!
//! The twin counts the same load in its forecasts ([`Bookings::expected_presence`]
//! is added to every member's future at the booked places) and learns the
//! share who follow from the counts at booked places ([`ComplianceEstimate`]).
//!
//! Since the search prefers, among equal scores, the day with the least
//! walking and queueing, visitors with the same wishes go to the nearest
//! place while it has spare capacity and then to the next: stops are spread
//! over the alternatives in proportion to their capacity, and each plan is
//! still the best for its visitor on the load it sees.

use crate::products::Pickup;
use crowdtwin_sim::itinerary::{Congestion, Plan, Problem, StopKind};
use crowdtwin_sim::model::{ElementKind, Los};
use crowdtwin_sim::scenario::Scenario;
use crowdtwin_sim::{SimDuration, SimTime};

/// Share of visitors assumed to follow an issued plan (the prior), until
/// the twin has learned one from counts ([`ComplianceEstimate`],
/// [`Bookings::set_compliance`]).
pub const COMPLIANCE_DEFAULT: f64 = 0.5;

/// Standard deviation of the prior on the compliance share: from 0.5,
/// anywhere from nobody to everybody is within two of it.
pub const COMPLIANCE_PRIOR_SD: f64 = 0.25;
/// Counts at booked places before the learned share replaces the prior.
pub const COMPLIANCE_COUNTS_MIN: u64 = 10;
/// Booked people (whole plans) below which a count at a place says
/// nothing about the share who follow.
pub const COMPLIANCE_BOOKED_MIN: f64 = 1.0;

/// Wait that closes a place to further plans in a step (it is full), s.
pub const FULL_WAIT_S: f64 = 24.0 * 3600.0;

/// The load of the plans issued so far, on the grid of a congestion.
#[derive(Clone, Debug)]
pub struct Bookings {
    places: usize,
    steps: usize,
    step_s: f64,
    /// `steps × places`: booked arrivals (whole plans, before the share).
    arrivals: Vec<f64>,
    /// `steps × places`: booked presence, person-steps.
    present: Vec<f64>,
    /// Plans booked.
    plans: u64,
    compliance: f64,
}

/// What one place can take in one step.
#[derive(Clone, Copy, Debug)]
struct Capacity {
    /// People served per step (infinite without servers).
    served: f64,
    /// Service time per server and person, s (0 without servers).
    per_person_s: f64,
    /// Most people present at level of service D.
    present_max: f64,
}

impl Bookings {
    /// No plans yet, on the grid of `congestion` for `places` places.
    pub fn new(congestion: &Congestion, places: usize) -> Bookings {
        let cells = congestion.steps() * places;
        Bookings {
            places,
            steps: congestion.steps(),
            step_s: congestion.step().as_secs_f64().max(1.0),
            arrivals: vec![0.0; cells],
            present: vec![0.0; cells],
            plans: 0,
            compliance: COMPLIANCE_DEFAULT,
        }
    }

    /// Plans booked so far.
    pub fn plans(&self) -> u64 {
        self.plans
    }

    /// The share of visitors who follow their plan, in [0, 1].
    pub fn compliance(&self) -> f64 {
        self.compliance
    }

    /// Sets the share of visitors who follow their plan (clamped to [0, 1];
    /// not finite: left as it is).
    pub fn set_compliance(&mut self, share: f64) {
        if share.is_finite() {
            self.compliance = share.clamp(0.0, 1.0);
        }
    }

    /// Mean people present at place `p` over `[from, to)` by the plans
    /// booked (whole plans, before the compliance share); 0 for an element
    /// that is not a place. An empty interval reads the step holding `from`.
    pub fn booked_presence(&self, p: usize, from: SimTime, to: SimTime) -> f64 {
        if p >= self.places || self.plans == 0 {
            return 0.0;
        }
        let to = to.max(from + SimDuration(1));
        let (from, to) = (from.as_secs_f64(), to.as_secs_f64());
        let first = ((from / self.step_s) as usize).min(self.steps - 1);
        let last = ((to / self.step_s).ceil() as usize).clamp(first + 1, self.steps);
        let person_s: f64 = (first..last)
            .map(|step| {
                let (a, b) = (step as f64 * self.step_s, (step + 1) as f64 * self.step_s);
                self.present[step * self.places + p] * (to.min(b) - from.max(a)).max(0.0)
            })
            .sum();
        person_s / (to - from)
    }

    /// [`Bookings::booked_presence`] times the compliance share: the
    /// people of issued plans expected at place `p` over `[from, to)`.
    pub fn expected_presence(&self, p: usize, from: SimTime, to: SimTime) -> f64 {
        self.booked_presence(p, from, to) * self.compliance
    }

    /// Books `copies` visitors following `plan` (of `problem`): its errands'
    /// arrivals and stays, and the pickup of its products if any.
    pub fn book(
        &mut self,
        congestion: &Congestion,
        problem: &Problem,
        plan: &Plan,
        pickup: Option<&Pickup>,
        copies: f64,
    ) {
        for (p, arrive, leave) in stays(problem, plan, pickup) {
            let step = congestion.step_index(arrive).min(self.steps - 1);
            self.arrivals[step * self.places + p] += copies;
            let (from, to) = (arrive.as_secs_f64(), leave.as_secs_f64());
            let first = (from / self.step_s) as usize;
            let last = ((to / self.step_s).ceil() as usize).min(self.steps);
            for step in first.min(self.steps - 1)..last.max(first + 1).min(self.steps) {
                let (a, b) = (step as f64 * self.step_s, (step + 1) as f64 * self.step_s);
                let overlap = (to.min(b) - from.max(a)).max(0.0) / self.step_s;
                self.present[step * self.places + p] += copies * overlap;
            }
        }
        self.plans += copies.round() as u64;
    }

    fn capacity(&self, scenario: &Scenario, p: usize) -> Capacity {
        let place = &scenario.places[p];
        let queueing = ElementKind::Place(place.kind).is_queueing_area();
        let space_d = Los::space_limits_m2(queueing)[3];
        let (served, per_person_s) = if place.servers > 0 && place.service_s > 0.0 {
            (place.servers as f64 * self.step_s / place.service_s, place.service_s / place.servers as f64)
        } else {
            (f64::INFINITY, 0.0)
        };
        Capacity { served, per_person_s, present_max: place.area_m2 / space_d }
    }

    /// The booked queue at place `p` carried into `step` (times the share).
    fn backlog_before(&self, p: usize, step: usize, served: f64) -> f64 {
        (0..step)
            .fold(0.0, |backlog, k| (backlog + self.arrivals[k * self.places + p] * self.compliance - served).max(0.0))
    }

    /// `base` with the booked load added (times the compliance share).
    pub fn apply(&self, base: &Congestion, scenario: &Scenario) -> Congestion {
        let mut congestion = base.clone();
        if self.plans == 0 || self.compliance == 0.0 {
            return congestion;
        }
        for p in 0..self.places {
            let capacity = self.capacity(scenario, p);
            let mut backlog = 0.0;
            for step in 0..self.steps {
                let index = step * self.places + p;
                let (arrivals, present) =
                    (self.arrivals[index] * self.compliance, self.present[index] * self.compliance);
                backlog = (backlog + arrivals - capacity.served).max(0.0);
                let mut wait = backlog * capacity.per_person_s;
                if present > 0.0 && base.occupancy_in(step, p) + present > capacity.present_max {
                    wait += FULL_WAIT_S;
                }
                if present > 0.0 || wait > 0.0 {
                    congestion.add_place_load(step, p, present, wait);
                }
            }
        }
        congestion
    }

    /// How many more visitors could follow `plan` before one of its errands
    /// takes its place past what it serves in the step of arrival or past
    /// level of service D (at least 1: the plan was made on this load).
    pub fn copies_that_fit(
        &self,
        base: &Congestion,
        scenario: &Scenario,
        problem: &Problem,
        plan: &Plan,
        pickup: Option<&Pickup>,
    ) -> u64 {
        let share = self.compliance.max(1e-9);
        let mut fit = f64::INFINITY;
        for (p, arrive, _) in stays(problem, plan, pickup) {
            let capacity = self.capacity(scenario, p);
            let step = base.step_index(arrive).min(self.steps - 1);
            let index = step * self.places + p;
            let carried = self.backlog_before(p, step, capacity.served);
            let served_left = (capacity.served - carried - self.arrivals[index] * share) / share;
            let room_left = (capacity.present_max - base.occupancy_in(step, p) - self.present[index] * share) / share;
            fit = fit.min(served_left).min(room_left);
        }
        if fit.is_finite() { fit.floor().max(1.0) as u64 } else { u64::MAX }
    }
}

/// The stays a plan books, (place, arrival, departure): its errands and the
/// pickup of its products (a pickup is served at the shop's counter like
/// an order).
fn stays<'a>(
    problem: &'a Problem,
    plan: &'a Plan,
    pickup: Option<&'a Pickup>,
) -> impl Iterator<Item = (usize, SimTime, SimTime)> + 'a {
    plan.visits
        .iter()
        .filter(|visit| matches!(problem.candidates[visit.candidate].kind, StopKind::Errand { .. }))
        .map(|visit| (problem.candidates[visit.candidate].place, visit.leg.arrive, visit.leave))
        .chain(pickup.map(|p| (p.place, p.at, p.leave)))
}

/// The share of visitors who follow their plan, learned from counts at
/// booked places: each count's residual (count minus the ensemble's
/// estimate, which holds no plan followers) is `share · booked + error`,
/// so the share is a linear regression through the origin on the booked
/// people. With a normal prior (mean [`COMPLIANCE_DEFAULT`], standard
/// deviation [`COMPLIANCE_PRIOR_SD`]) and normal errors the posterior is
/// normal (the conjugate update): precision `1/sd0^2 + sum(b^2/s^2)`, mean
/// `(m0/sd0^2 + sum(r b/s^2)) / precision`, clamped to [0, 1]. Counts of
/// the same crowd a minute apart are about the same evidence, so each is
/// tempered as in the filter's weighing.
#[derive(Clone, Debug, PartialEq)]
pub struct ComplianceEstimate {
    precision: f64,
    /// Precision-weighted sum of the evidence (and the prior).
    weighted: f64,
    counts: u64,
}

impl Default for ComplianceEstimate {
    fn default() -> Self {
        let precision = 1.0 / (COMPLIANCE_PRIOR_SD * COMPLIANCE_PRIOR_SD);
        ComplianceEstimate { precision, weighted: COMPLIANCE_DEFAULT * precision, counts: 0 }
    }
}

impl ComplianceEstimate {
    /// Takes one count at a place with `booked` people of issued plans
    /// (whole plans): its `residual` (count minus the estimate without
    /// plans) with error `variance`, tempered by `temper` (0 to 1). Counts
    /// where fewer than [`COMPLIANCE_BOOKED_MIN`] are booked, or with a
    /// value that is not finite, are left out.
    pub fn observe(&mut self, booked: f64, residual: f64, variance: f64, temper: f64) {
        if !(booked >= COMPLIANCE_BOOKED_MIN && residual.is_finite() && variance > 0.0 && variance.is_finite()) {
            return;
        }
        let temper = temper.clamp(0.0, 1.0);
        self.precision += temper * booked * booked / variance;
        self.weighted += temper * residual * booked / variance;
        self.counts += 1;
    }

    /// The posterior mean, clamped to [0, 1].
    pub fn share(&self) -> f64 {
        (self.weighted / self.precision).clamp(0.0, 1.0)
    }

    /// The posterior standard deviation.
    pub fn sd(&self) -> f64 {
        self.precision.recip().sqrt()
    }

    /// Counts taken.
    pub fn counts(&self) -> u64 {
        self.counts
    }

    /// Whether enough counts have come ([`COMPLIANCE_COUNTS_MIN`]) for the
    /// learned share to replace the prior.
    pub fn learned(&self) -> bool {
        self.counts >= COMPLIANCE_COUNTS_MIN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_learned_share_starts_at_the_prior_and_moves_to_what_the_residuals_say() {
        let mut estimate = ComplianceEstimate::default();
        assert_eq!((estimate.share(), estimate.sd(), estimate.learned()), (0.5, COMPLIANCE_PRIOR_SD, false));
        // Too few booked to say anything.
        estimate.observe(0.5, 10.0, 1.0, 1.0);
        assert_eq!(estimate.counts(), 0);
        for truth in [0.3, 0.8] {
            let mut estimate = ComplianceEstimate::default();
            for k in 0..60 {
                let booked = 40.0 + k as f64;
                // An error of +-3 people either side.
                let error = if k % 2 == 0 { 3.0 } else { -3.0 };
                estimate.observe(booked, truth * booked + error, 9.0 + 100.0, 1.0 / 15.0);
            }
            assert!(estimate.learned());
            // The prior (worth 16 of the data's ~180 precision) holds it back a little.
            assert!((estimate.share() - truth).abs() < 0.03, "{truth}: {}", estimate.share());
            assert!(estimate.sd() < 0.4 * COMPLIANCE_PRIOR_SD, "{}", estimate.sd());
        }
        // Residuals beyond everyone following: clamped to 1.
        let mut estimate = ComplianceEstimate::default();
        for _ in 0..20 {
            estimate.observe(10.0, 30.0, 4.0, 1.0);
        }
        assert_eq!(estimate.share(), 1.0);
    }
}
