//! Crowd-aware day plans: a time-dependent orienteering problem with time
//! windows (TD-OPTW).
//!
//! The planner walks the site with the model's own travel times
//! ([`crate::model::travel`]): [`Congestion`] (walking speed per walkway and
//! waiting time per place over the day) and [`Network`] (the site's graph
//! with its gate closures; a time-dependent Dijkstra). They are re-exported
//! here.
//!
//! - [`solve`]: an iterated local search (greedy insertion by
//!   score / added time, random block removal, restarts to the best),
//!   deterministic for a seed, stopped by the caller's callback; every
//!   candidate route is simulated leg by leg at the times it would be walked.
//! - [`verify`]: checks a plan independently of the search (re-walks every
//!   leg on its own route, checks every window, the walking limit and the
//!   mandatory stops).
//!
//! The crowd model uses the same [`Congestion`] and [`Network`] for visitors
//! who follow recommendations (see `visitors.recommended_share`).

use crate::kernel::{ActorRng, SimDuration, SimTime};
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

pub use crate::model::travel::{
    Congestion, Leg, Network, PLAN_WALK_SPEED_MIN_MPS, RECOMMENDATION_SPREAD_S, Tree, recommend_errand,
};

/// Iterations of the local search when the caller does not stop it earlier.
pub const ITERATIONS_MAX: u64 = 400;
/// Iterations without a better plan before the search restarts from the best.
const RESTART_AFTER: u64 = 25;

/// Groups of errands a plan holds at most one of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrandGroup {
    /// A meal.
    Food,
    /// Shopping.
    Shop,
    /// A fan zone.
    FanZone,
}

/// What a stop is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StopKind {
    /// A session: be seated by `start`, stay to `end`.
    Session {
        /// Session index.
        session: usize,
        /// Start.
        start: SimTime,
        /// End.
        end: SimTime,
    },
    /// An errand: queue, then stay `dwell`.
    Errand {
        /// Its group.
        group: ErrandGroup,
        /// Time spent after the queue.
        dwell: SimDuration,
    },
}

/// A stop the plan may (or must) include.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// Place.
    pub place: usize,
    /// What it is.
    pub kind: StopKind,
    /// Score if visited.
    pub score: f64,
    /// Must be in the plan (a ticket already held).
    pub mandatory: bool,
}

/// A visitor's planning problem.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    /// Where the day starts.
    pub start_place: usize,
    /// When.
    pub start: SimTime,
    /// Where it ends.
    pub end_place: usize,
    /// Latest arrival there.
    pub end: SimTime,
    /// Possible stops.
    pub candidates: Vec<Candidate>,
    /// Factor on walking speed (slower walkers < 1).
    pub speed_factor: f64,
    /// Most metres walked in the day.
    pub walk_m_max: f64,
    /// The first leg passes security (the start is outside the park).
    pub screening: bool,
}

/// One stop of a plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Visit {
    /// Candidate index.
    pub candidate: usize,
    /// The walk there.
    pub leg: Leg,
    /// Queue at the place, s.
    pub queue_s: f64,
    /// Seated (session start) or served.
    pub start: SimTime,
    /// Leaves.
    pub leave: SimTime,
}

/// A feasible day plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Stops in order.
    pub visits: Vec<Visit>,
    /// From the last stop to the end place.
    pub final_leg: Leg,
    /// Sum of the visited candidates' scores.
    pub score: f64,
    /// Metres walked.
    pub walk_m: f64,
    /// Seconds walking.
    pub walk_s: f64,
    /// Seconds queueing (gates and places).
    pub queue_s: f64,
    /// Search iterations.
    pub iterations: u64,
}

/// Why no plan.
#[derive(Clone, Debug, PartialEq)]
pub enum PlanError {
    /// The request itself is inconsistent.
    Invalid(String),
    /// Mandatory stop `candidate` cannot be kept after the mandatory stops before it.
    Unreachable {
        /// Candidate index.
        candidate: usize,
    },
    /// The mandatory stops cannot all be kept.
    Infeasible(String),
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::Invalid(m) | PlanError::Infeasible(m) => f.write_str(m),
            PlanError::Unreachable { candidate } => {
                write!(f, "mandatory candidate {candidate} cannot be reached in time after the ones before it")
            }
        }
    }
}

impl std::error::Error for PlanError {}

/// Evaluates routes for one problem, caching shortest-path trees.
struct Evaluator<'a> {
    network: &'a Network,
    congestion: &'a Congestion,
    problem: &'a Problem,
    trees: HashMap<(usize, u64, bool), Rc<Tree>>,
}

/// Summary of a feasible route.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Value {
    score: f64,
    /// Walking plus queueing, s.
    cost_s: f64,
    walk_m: f64,
}

impl Value {
    fn better_than(&self, other: &Value) -> bool {
        self.score > other.score + 1e-9 || (self.score > other.score - 1e-9 && self.cost_s < other.cost_s - 1e-6)
    }
}

impl<'a> Evaluator<'a> {
    fn tree(&mut self, from: usize, depart: SimTime, screening: bool) -> Rc<Tree> {
        let (network, congestion, factor) = (self.network, self.congestion, self.problem.speed_factor);
        self.trees
            .entry((from, depart.as_micros(), screening))
            .or_insert_with(|| Rc::new(network.tree(congestion, from, depart, factor, screening)))
            .clone()
    }

    /// Simulates `route` (candidate indices); the value if every window holds.
    fn value(&mut self, route: &[usize]) -> Option<Value> {
        let problem = self.problem;
        let (mut here, mut t, mut screening) = (problem.start_place, problem.start, problem.screening);
        let mut value = Value { score: 0.0, cost_s: 0.0, walk_m: 0.0 };
        for &c in route {
            let candidate = &problem.candidates[c];
            let tree = self.tree(here, t, screening);
            let arrive = tree.arrival(candidate.place)?;
            value.walk_m += tree.distance_m(candidate.place);
            let (start, leave, queue) = stay(self.congestion, candidate, arrive)?;
            value.cost_s += (arrive - t).as_secs_f64() + queue;
            value.score += candidate.score;
            if leave > problem.end {
                return None;
            }
            debug_assert!(start >= arrive);
            (here, t, screening) = (candidate.place, leave, false);
        }
        let tree = self.tree(here, t, screening);
        let arrive = tree.arrival(problem.end_place)?;
        value.walk_m += tree.distance_m(problem.end_place);
        value.cost_s += (arrive - t).as_secs_f64();
        (arrive <= problem.end && value.walk_m <= problem.walk_m_max + 1e-6).then_some(value)
    }

    /// The full plan of a feasible route.
    fn plan(&mut self, route: &[usize], iterations: u64) -> Plan {
        let problem = self.problem;
        let (mut here, mut t, mut screening) = (problem.start_place, problem.start, problem.screening);
        let mut visits = Vec::with_capacity(route.len());
        let (mut score, mut walk_m, mut walk_s, mut queue_s) = (0.0, 0.0, 0.0, 0.0);
        for &c in route {
            let candidate = &problem.candidates[c];
            let leg = self.tree(here, t, screening).leg(candidate.place).expect("route was feasible");
            let (start, leave, queue) = stay(self.congestion, candidate, leg.arrive).expect("route was feasible");
            score += candidate.score;
            walk_m += leg.distance_m;
            walk_s += (leg.arrive - leg.depart).as_secs_f64() - leg.queue_s;
            queue_s += leg.queue_s + queue;
            (here, t, screening) = (candidate.place, leave, false);
            visits.push(Visit { candidate: c, leg, queue_s: queue, start, leave });
        }
        let final_leg = self.tree(here, t, screening).leg(problem.end_place).expect("route was feasible");
        walk_m += final_leg.distance_m;
        walk_s += (final_leg.arrive - final_leg.depart).as_secs_f64() - final_leg.queue_s;
        queue_s += final_leg.queue_s;
        Plan { visits, final_leg, score, walk_m, walk_s, queue_s, iterations }
    }
}

/// Start, leave and queue at `candidate` reached at `arrive`, if its window holds.
fn stay(congestion: &Congestion, candidate: &Candidate, arrive: SimTime) -> Option<(SimTime, SimTime, f64)> {
    let queue = congestion.wait_s(candidate.place, arrive);
    let served = arrive + SimDuration::from_secs_f64(queue);
    match candidate.kind {
        StopKind::Session { start, end, .. } => (served <= start).then_some((start, end, queue)),
        StopKind::Errand { dwell, .. } => Some((served, served + dwell, queue)),
    }
}

fn duration_s(candidate: &Candidate) -> f64 {
    match candidate.kind {
        StopKind::Session { start, end, .. } => (end - start).as_secs_f64(),
        StopKind::Errand { dwell, .. } => dwell.as_secs_f64(),
    }
}

fn group(candidate: &Candidate) -> Option<ErrandGroup> {
    match candidate.kind {
        StopKind::Errand { group, .. } => Some(group),
        StopKind::Session { .. } => None,
    }
}

/// Whether `candidate` may join `route`: not there yet, its group not used.
fn fits(problem: &Problem, route: &[usize], candidate: usize) -> bool {
    let wanted = group(&problem.candidates[candidate]);
    !route.contains(&candidate) && (wanted.is_none() || route.iter().all(|&r| group(&problem.candidates[r]) != wanted))
}

/// Whether inserting `candidate` into `route` is worth trying: it fits and scores.
fn admissible(problem: &Problem, route: &[usize], candidate: usize) -> bool {
    problem.candidates[candidate].score > 0.0 && fits(problem, route, candidate)
}

fn check_problem(network: &Network, problem: &Problem) -> Result<(), PlanError> {
    let n = network.places();
    let invalid = |m: String| Err(PlanError::Invalid(m));
    if problem.start_place >= n || problem.end_place >= n {
        return invalid("start or end place is not in the site".into());
    }
    if problem.end <= problem.start {
        return invalid("the end time must be after the start time".into());
    }
    if !(problem.speed_factor.is_finite() && problem.speed_factor > 0.05 && problem.speed_factor <= 3.0) {
        return invalid(format!("walking speed factor {} must be in (0.05, 3]", problem.speed_factor));
    }
    if problem.walk_m_max.is_nan() || problem.walk_m_max <= 0.0 {
        return invalid("the walking limit must be positive".into());
    }
    for (i, c) in problem.candidates.iter().enumerate() {
        if c.place >= n {
            return invalid(format!("candidate {i}: place {} is not in the site", c.place));
        }
        if !c.score.is_finite() || c.score < 0.0 {
            return invalid(format!("candidate {i}: score {} must be finite and not negative", c.score));
        }
    }
    Ok(())
}

/// Plans the day: the route of highest score (ties: least walking and
/// queueing) found before `stop(iterations)` says stop or
/// [`ITERATIONS_MAX`] iterations. Deterministic for `seed` and the same
/// number of iterations.
pub fn solve(
    network: &Network,
    congestion: &Congestion,
    problem: &Problem,
    seed: u64,
    mut stop: impl FnMut(u64) -> bool,
) -> Result<Plan, PlanError> {
    check_problem(network, problem)?;
    let mut evaluator = Evaluator { network, congestion, problem, trees: HashMap::new() };
    let mut mandatory: Vec<usize> =
        (0..problem.candidates.len()).filter(|&c| problem.candidates[c].mandatory).collect();
    let start_of = |c: usize| match problem.candidates[c].kind {
        StopKind::Session { start, .. } => start,
        StopKind::Errand { .. } => SimTime::ZERO,
    };
    mandatory.sort_by_key(|&c| (start_of(c), c));
    if evaluator.value(&mandatory).is_none() {
        return Err(infeasibility(&mut evaluator, &mandatory));
    }
    let mut rng = ActorRng::for_actor(seed, 0x17_1E_4A);
    let mut current = mandatory.clone();
    insert_greedily(&mut evaluator, &mut current, &mut rng, 0.0);
    let mut current_value = evaluator.value(&current).expect("insertion keeps routes feasible");
    let (mut best, mut best_value) = (current.clone(), current_value);
    let mut iterations = 0;
    let mut since_best = 0;
    while iterations < ITERATIONS_MAX && !stop(iterations) {
        iterations += 1;
        let mut route = current.clone();
        let optional: Vec<usize> = (0..route.len()).filter(|&i| !problem.candidates[route[i]].mandatory).collect();
        if optional.is_empty() && iterations > 1 {
            break;
        }
        if !optional.is_empty() {
            let from = optional[rng.below(optional.len() as u64) as usize];
            let count = 1 + rng.below(optional.len().div_ceil(2) as u64) as usize;
            let mut removed = 0;
            route.retain({
                let mut position = 0;
                move |&c| {
                    let keep = problem.candidates[c].mandatory || position < from || removed >= count;
                    if !keep {
                        removed += 1;
                    }
                    position += 1;
                    keep
                }
            });
        }
        insert_greedily(&mut evaluator, &mut route, &mut rng, 0.3);
        let value = evaluator.value(&route).expect("insertion keeps routes feasible");
        if value.better_than(&current_value) || rng.chance(0.1) {
            (current, current_value) = (route, value);
        }
        if current_value.better_than(&best_value) {
            (best, best_value) = (current.clone(), current_value);
            since_best = 0;
        } else {
            since_best += 1;
            if since_best >= RESTART_AFTER {
                (current, current_value) = (best.clone(), best_value);
                since_best = 0;
            }
        }
    }
    Ok(evaluator.plan(&best, iterations))
}

/// Says which mandatory stop cannot be kept.
fn infeasibility(evaluator: &mut Evaluator<'_>, mandatory: &[usize]) -> PlanError {
    let problem = evaluator.problem;
    for k in 1..=mandatory.len() {
        // Feasible up to stop k if the stops up to it keep their windows (the end aside).
        let relaxed =
            Problem { end: SimTime::MAX, end_place: problem.start_place, walk_m_max: f64::INFINITY, ..problem.clone() };
        let mut relaxed_evaluator = Evaluator {
            network: evaluator.network,
            congestion: evaluator.congestion,
            problem: &relaxed,
            trees: HashMap::new(),
        };
        if relaxed_evaluator.value(&mandatory[..k]).is_none() {
            return PlanError::Unreachable { candidate: mandatory[k - 1] };
        }
    }
    PlanError::Infeasible(
        "the end place cannot be reached by the end time after the mandatory stops, or the walking limit is too low"
            .to_string(),
    )
}

/// Inserts admissible candidates one at a time, each at the position with
/// the highest score² / (added walking and queueing + time there), until
/// none fits. `noise` > 0 perturbs the ratios (uniform factor in `[1, 1 + noise]`).
fn insert_greedily(evaluator: &mut Evaluator<'_>, route: &mut Vec<usize>, rng: &mut ActorRng, noise: f64) {
    let problem = evaluator.problem;
    let Some(mut base) = evaluator.value(route) else { return };
    loop {
        let mut best: Option<(f64, usize, usize, Value)> = None;
        for c in 0..problem.candidates.len() {
            if !admissible(problem, route, c) {
                continue;
            }
            let candidate = &problem.candidates[c];
            for position in 0..=route.len() {
                route.insert(position, c);
                let value = evaluator.value(route);
                route.remove(position);
                let Some(value) = value else { continue };
                let added = (value.cost_s - base.cost_s).max(0.0) + duration_s(candidate) + 60.0;
                let mut ratio = candidate.score * candidate.score / added;
                if noise > 0.0 {
                    ratio *= 1.0 + noise * rng.uniform();
                }
                if best.is_none_or(|(r, ..)| ratio > r) {
                    best = Some((ratio, c, position, value));
                }
            }
        }
        let Some((_, c, position, value)) = best else { return };
        route.insert(position, c);
        base = value;
    }
}

/// Checks `plan` against `problem` without the search: re-walks every leg
/// on its own route at its own departure time, and checks that legs join,
/// windows hold, mandatory stops are there, groups are used once, the day
/// ends in time and within the walking limit, and the totals add up.
pub fn verify(network: &Network, congestion: &Congestion, problem: &Problem, plan: &Plan) -> Result<(), String> {
    const TOLERANCE_S: f64 = 1e-3;
    let (mut here, mut t, mut screening) = (problem.start_place, problem.start, problem.screening);
    let mut walk_m = 0.0;
    let mut score = 0.0;
    let mut seen: Vec<usize> = Vec::new();
    let check_leg = |leg: &Leg, here: usize, t: SimTime, screening: bool, to: usize| -> Result<f64, String> {
        if leg.from != here || leg.depart != t || leg.to != to {
            return Err(format!("leg to place {to} does not start where and when the last stop ended"));
        }
        let (arrive, reached, metres, _) = network
            .walk(congestion, here, t, &leg.walkways, problem.speed_factor, screening)
            .ok_or_else(|| format!("leg to place {to}: the walkways do not join up or cross a closed place"))?;
        if reached != to {
            return Err(format!("leg to place {to} ends at place {reached}"));
        }
        if (arrive.as_secs_f64() - leg.arrive.as_secs_f64()).abs() > TOLERANCE_S {
            return Err(format!(
                "leg to place {to}: walking it takes until {:.1} s, the plan says {:.1} s",
                arrive.as_secs_f64(),
                leg.arrive.as_secs_f64()
            ));
        }
        Ok(metres)
    };
    for (i, visit) in plan.visits.iter().enumerate() {
        let candidate = problem.candidates.get(visit.candidate).ok_or(format!("stop {i}: no such candidate"))?;
        if !fits(problem, &seen, visit.candidate) {
            return Err(format!("stop {i}: candidate {} repeated or its group used twice", visit.candidate));
        }
        seen.push(visit.candidate);
        walk_m += check_leg(&visit.leg, here, t, screening, candidate.place)?;
        let (start, leave, _) = stay(congestion, candidate, visit.leg.arrive)
            .ok_or(format!("stop {i}: arriving at {:.0} s misses the session start", visit.leg.arrive.as_secs_f64()))?;
        if start != visit.start || leave != visit.leave || visit.start < visit.leg.arrive {
            return Err(format!("stop {i}: start or leave times do not follow from the arrival"));
        }
        score += candidate.score;
        (here, t, screening) = (candidate.place, visit.leave, false);
    }
    walk_m += check_leg(&plan.final_leg, here, t, screening, problem.end_place)?;
    if plan.final_leg.arrive > problem.end {
        return Err("the day ends after the end time".into());
    }
    if walk_m > problem.walk_m_max + 1e-6 {
        return Err(format!("{walk_m:.0} m walked, above the limit of {:.0} m", problem.walk_m_max));
    }
    if let Some(missing) = (0..problem.candidates.len()).find(|c| problem.candidates[*c].mandatory && !seen.contains(c))
    {
        return Err(format!("mandatory candidate {missing} is not in the plan"));
    }
    if (score - plan.score).abs() > 1e-6 || (walk_m - plan.walk_m).abs() > 1e-3 {
        return Err(format!("totals do not add up: score {score} vs {}, walk {walk_m} vs {}", plan.score, plan.walk_m));
    }
    Ok(())
}
