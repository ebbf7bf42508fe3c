//! Crowd-aware day plans: a time-dependent orienteering problem with time
//! windows (TD-OPTW).
//!
//! - [`Congestion`]: walking speed per walkway and waiting time per place,
//!   per time step: from a run of the model (the plan, or a forecast's
//!   median laid over it). Walking time depends on when you walk.
//! - [`Network`]: the site's graph with its gate closures over time;
//!   [`Network::tree`] is a time-dependent Dijkstra (earliest arrival from
//!   one place at one departure time, FIFO links), [`Network::walk`] re-walks
//!   a given route.
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
use crate::model::{RunOutput, Site};
use crate::scenario::{Intervention, PlaceKind, Scenario, weidmann_speed_mps};
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

/// Walking speed never taken below this in plans, m/s (a jammed walkway is
/// slow, not impassable: people do get through).
pub const PLAN_WALK_SPEED_MIN_MPS: f64 = 0.1;
/// Iterations of the local search when the caller does not stop it earlier.
pub const ITERATIONS_MAX: u64 = 400;
/// Iterations without a better plan before the search restarts from the best.
const RESTART_AFTER: u64 = 25;

/// Walking speed per walkway and waiting time per place over time.
#[derive(Clone, Debug, PartialEq)]
pub struct Congestion {
    places: usize,
    walkways: usize,
    step: SimDuration,
    steps: usize,
    /// `steps × walkways`, m/s.
    speed_mps: Vec<f32>,
    /// `steps × places`, s.
    wait_s: Vec<f32>,
    /// `steps × places`, persons (the baseline that forecasts scale waits by).
    occupancy: Vec<f32>,
}

impl Congestion {
    /// Free flow: everyone at the free walking speed, no queues.
    pub fn free_flow(scenario: &Scenario) -> Congestion {
        let places = scenario.places.len();
        let walkways = scenario.walkways.len();
        Congestion {
            places,
            walkways,
            step: scenario.duration.max(SimDuration::from_secs(1)),
            steps: 1,
            speed_mps: vec![scenario.params.walk_speed_mps_free as f32; walkways],
            wait_s: vec![0.0; places],
            occupancy: vec![0.0; places],
        }
    }

    /// From a run's outputs: walkway speeds from the interval-mean density
    /// (Weidmann, the model's own relation), place waits from the mean wait
    /// of the waits that ended in the interval, or, where none ended, from
    /// the queue length over the servers' rate (Little).
    pub fn from_run(scenario: &Scenario, output: &RunOutput) -> Congestion {
        let places = scenario.places.len();
        let walkways = scenario.walkways.len();
        assert_eq!(output.elements.len(), places + walkways, "the run is not of this scenario");
        let steps = output.elements.first().map_or(0, |e| e.intervals()).max(1);
        let mut congestion = Congestion {
            places,
            walkways,
            step: SimDuration::from_secs_f64(output.interval_s),
            steps,
            speed_mps: vec![scenario.params.walk_speed_mps_free as f32; steps * walkways],
            wait_s: vec![0.0; steps * places],
            occupancy: vec![0.0; steps * places],
        };
        for (p, place) in scenario.places.iter().enumerate() {
            let series = &output.elements[p];
            for i in 0..series.intervals() {
                let little =
                    if place.servers > 0 { series.queue(i) * place.service_s / place.servers as f64 } else { 0.0 };
                let wait = series.mean_wait_s(i).unwrap_or(little);
                congestion.wait_s[i * places + p] = wait as f32;
                congestion.occupancy[i * places + p] = series.occupancy(i) as f32;
            }
        }
        for w in 0..walkways {
            let series = &output.elements[places + w];
            for i in 0..series.intervals() {
                let at = SimTime(congestion.step.as_micros() * i as u64);
                congestion.set_walkway_density(at, w, series.density(i), scenario);
            }
        }
        congestion
    }

    fn step_of(&self, t: SimTime) -> usize {
        ((t.as_micros() / self.step.as_micros().max(1)) as usize).min(self.steps - 1)
    }

    /// Walking speed on walkway `w` for someone stepping on at `t`, m/s.
    #[inline]
    pub fn speed_mps(&self, w: usize, t: SimTime) -> f64 {
        self.speed_mps[self.step_of(t) * self.walkways + w] as f64
    }

    /// Expected wait (queue) at place `p` for someone arriving at `t`, s.
    #[inline]
    pub fn wait_s(&self, p: usize, t: SimTime) -> f64 {
        self.wait_s[self.step_of(t) * self.places + p] as f64
    }

    /// Sets walkway `w`'s speed for the step holding `t` from a density, P/m².
    pub fn set_walkway_density(&mut self, t: SimTime, w: usize, density: f64, scenario: &Scenario) {
        let speed = weidmann_speed_mps(&scenario.params, density).max(PLAN_WALK_SPEED_MIN_MPS);
        let step = self.step_of(t);
        self.speed_mps[step * self.walkways + w] = speed as f32;
    }

    /// Sets place `p`'s expected occupancy for the step holding `t` (a
    /// forecast): the wait scales with it relative to the baseline run,
    /// by at most a factor of 4 either way; a place empty in the baseline
    /// gets the Little estimate of the people beyond its servers.
    pub fn set_place_occupancy(&mut self, t: SimTime, p: usize, occupancy: f64, scenario: &Scenario) {
        let step = self.step_of(t);
        let index = step * self.places + p;
        let baseline = self.occupancy[index] as f64;
        let place = &scenario.places[p];
        let wait = if baseline >= 1.0 {
            self.wait_s[index] as f64 * (occupancy / baseline).clamp(0.25, 4.0)
        } else if place.servers > 0 {
            (occupancy - place.servers as f64).max(0.0) * place.service_s / place.servers as f64
        } else {
            0.0
        };
        self.wait_s[index] = wait as f32;
        self.occupancy[index] = occupancy as f32;
    }
}

/// A walkway leaving a place (see [`crate::model::site::Exit`]).
type Exit = crate::model::site::Exit;

/// The site's graph for planning: adjacency, lengths, gate closures.
#[derive(Clone, Debug)]
pub struct Network {
    exits: Vec<Vec<Exit>>,
    length_m: Vec<f64>,
    gate: Vec<bool>,
    /// Per place: (from, closed) changes in time order.
    closures: Vec<Vec<(SimTime, bool)>>,
    handoff_s: f64,
}

/// Earliest arrivals from one place at one departure time.
#[derive(Clone, Debug)]
pub struct Tree {
    from: usize,
    depart: SimTime,
    arrive: Vec<u64>,
    distance_m: Vec<f64>,
    queue_s: Vec<f64>,
    /// The walkway and place each place was reached by.
    previous: Vec<Option<(u32, u32)>>,
}

/// One walk between two places.
#[derive(Clone, Debug, PartialEq)]
pub struct Leg {
    /// From place.
    pub from: usize,
    /// To place.
    pub to: usize,
    /// Departure.
    pub depart: SimTime,
    /// Arrival.
    pub arrive: SimTime,
    /// Metres walked.
    pub distance_m: f64,
    /// Queueing at security gates on the way, s.
    pub queue_s: f64,
    /// Walkways in walking order.
    pub walkways: Vec<u32>,
    /// Places passed, from `from` to `to` inclusive.
    pub places: Vec<u32>,
}

impl Network {
    /// The network of a site.
    pub fn new(site: &Site) -> Network {
        let scenario = &site.scenario;
        let mut closures = vec![Vec::new(); scenario.places.len()];
        for intervention in &scenario.interventions {
            match *intervention {
                Intervention::CloseGate { at, place } => closures[place].push((at, true)),
                Intervention::OpenGate { at, place } => closures[place].push((at, false)),
                _ => {}
            }
        }
        Network {
            exits: site.exits.clone(),
            length_m: scenario.walkways.iter().map(|w| w.length_m).collect(),
            gate: scenario.places.iter().map(|p| p.kind == PlaceKind::Gate).collect(),
            closures,
            handoff_s: scenario.params.handoff_s,
        }
    }

    /// Places.
    pub fn places(&self) -> usize {
        self.exits.len()
    }

    /// Whether place `p` is closed at `t`.
    pub fn closed(&self, p: usize, t: SimTime) -> bool {
        self.closures[p].iter().take_while(|(at, _)| *at <= t).last().is_some_and(|&(_, closed)| closed)
    }

    fn edge_s(&self, congestion: &Congestion, walkway: usize, enter: SimTime, speed_factor: f64) -> f64 {
        self.length_m[walkway] / (congestion.speed_mps(walkway, enter) * speed_factor) + self.handoff_s
    }

    /// Time-dependent Dijkstra: earliest arrival at every place leaving
    /// `from` at `depart`. Closed places are not crossed (but are left, and
    /// may be the destination only if they are `from`). With `screening`,
    /// crossing a gate adds its expected queue.
    pub fn tree(
        &self,
        congestion: &Congestion,
        from: usize,
        depart: SimTime,
        speed_factor: f64,
        screening: bool,
    ) -> Tree {
        let n = self.places();
        let mut tree = Tree {
            from,
            depart,
            arrive: vec![u64::MAX; n],
            distance_m: vec![f64::INFINITY; n],
            queue_s: vec![0.0; n],
            previous: vec![None; n],
        };
        tree.arrive[from] = depart.as_micros();
        tree.distance_m[from] = 0.0;
        let mut heap = std::collections::BinaryHeap::new();
        heap.push(std::cmp::Reverse((depart.as_micros(), from as u32)));
        while let Some(std::cmp::Reverse((t, u))) = heap.pop() {
            let u = u as usize;
            if t > tree.arrive[u] {
                continue;
            }
            for exit in &self.exits[u] {
                let v = exit.to as usize;
                let walk = self.edge_s(congestion, exit.walkway as usize, SimTime(t), speed_factor);
                let mut arrive = t + (walk * 1e6).round() as u64;
                if self.closed(v, SimTime(arrive)) {
                    continue;
                }
                let mut queue = tree.queue_s[u];
                if screening && self.gate[v] {
                    let wait = congestion.wait_s(v, SimTime(arrive));
                    arrive += (wait * 1e6).round() as u64;
                    queue += wait;
                }
                if arrive < tree.arrive[v] {
                    tree.arrive[v] = arrive;
                    tree.distance_m[v] = tree.distance_m[u] + self.length_m[exit.walkway as usize];
                    tree.queue_s[v] = queue;
                    tree.previous[v] = Some((exit.walkway, u as u32));
                    heap.push(std::cmp::Reverse((arrive, v as u32)));
                }
            }
        }
        tree
    }

    /// Walks `walkways` in order from `from` leaving at `depart`, as
    /// [`Network::tree`] times each step; `None` if the walkways do not
    /// join up or cross a closed place. Returns (arrival, place reached, metres, gate queue s).
    pub fn walk(
        &self,
        congestion: &Congestion,
        from: usize,
        depart: SimTime,
        walkways: &[u32],
        speed_factor: f64,
        screening: bool,
    ) -> Option<(SimTime, usize, f64, f64)> {
        let (mut t, mut here, mut metres, mut queue) = (depart.as_micros(), from, 0.0, 0.0);
        for &w in walkways {
            let exit = self.exits[here].iter().find(|e| e.walkway == w)?;
            let walk = self.edge_s(congestion, w as usize, SimTime(t), speed_factor);
            t += (walk * 1e6).round() as u64;
            here = exit.to as usize;
            if self.closed(here, SimTime(t)) {
                return None;
            }
            if screening && self.gate[here] {
                let wait = congestion.wait_s(here, SimTime(t));
                t += (wait * 1e6).round() as u64;
                queue += wait;
            }
            metres += self.length_m[w as usize];
        }
        Some((SimTime(t), here, metres, queue))
    }
}

impl Tree {
    /// Arrival at `to`, if reachable.
    pub fn arrival(&self, to: usize) -> Option<SimTime> {
        (self.arrive[to] != u64::MAX).then(|| SimTime(self.arrive[to]))
    }

    /// Metres to `to`.
    pub fn distance_m(&self, to: usize) -> f64 {
        self.distance_m[to]
    }

    /// The leg to `to`, with its route, if reachable.
    pub fn leg(&self, to: usize) -> Option<Leg> {
        let arrive = self.arrival(to)?;
        let mut walkways = Vec::new();
        let mut places = vec![to as u32];
        let mut here = to;
        while let Some((walkway, previous)) = self.previous[here] {
            walkways.push(walkway);
            places.push(previous);
            here = previous as usize;
        }
        walkways.reverse();
        places.reverse();
        Some(Leg {
            from: self.from,
            to,
            depart: self.depart,
            arrive,
            distance_m: self.distance_m[to],
            queue_s: self.queue_s[to],
            walkways,
            places,
        })
    }
}

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

/// Mean served-time spread, s, of the logit choice in [`recommend_errand`]:
/// places served within a few minutes of the best are nearly as likely, so
/// followers spread over them instead of all going to one.
pub const RECOMMENDATION_SPREAD_S: f64 = 300.0;

/// The one-stop version of the plan, for simulated visitors who follow
/// recommendations: one of `places`, chosen with probability proportional
/// to `exp(-served / RECOMMENDATION_SPREAD_S)`, where `served` is when the
/// congestion says they would be served leaving `from` at `now` (walk +
/// queue); `None` if none is reachable. `uniform` is a draw in [0, 1).
pub fn recommend_errand(
    network: &Network,
    congestion: &Congestion,
    from: usize,
    now: SimTime,
    places: &[u32],
    uniform: f64,
) -> Option<u32> {
    let tree = network.tree(congestion, from, now, 1.0, false);
    let served: Vec<(u32, f64)> = places
        .iter()
        .filter_map(|&p| {
            let arrive = tree.arrival(p as usize)?;
            Some((p, (arrive - now).as_secs_f64() + congestion.wait_s(p as usize, arrive)))
        })
        .collect();
    let best = served.iter().map(|s| s.1).fold(f64::INFINITY, f64::min);
    let weight = |s: f64| (-(s - best) / RECOMMENDATION_SPREAD_S).exp();
    let total: f64 = served.iter().map(|s| weight(s.1)).sum();
    let mut pick = uniform * total;
    for &(p, s) in &served {
        pick -= weight(s);
        if pick < 0.0 {
            return Some(p);
        }
    }
    served.last().map(|s| s.0)
}

impl Congestion {
    /// Moves this congestion towards `other` (of the same site and steps) by
    /// `weight` in [0, 1]: `self = (1 - weight) self + weight other`.
    pub fn blend(&mut self, other: &Congestion, weight: f64) {
        assert_eq!((self.places, self.walkways, self.steps), (other.places, other.walkways, other.steps));
        let w = weight as f32;
        for (a, b) in [
            (&mut self.speed_mps, &other.speed_mps),
            (&mut self.wait_s, &other.wait_s),
            (&mut self.occupancy, &other.occupancy),
        ] {
            for (x, y) in a.iter_mut().zip(b) {
                *x += w * (*y - *x);
            }
        }
    }
}
