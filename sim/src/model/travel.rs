//! Travel on the site over time: what the crowd model's followers of
//! recommendations and the day planner (the `itinerary` module) both use.
//!
//! - [`Congestion`]: walking speed per walkway and waiting time per place,
//!   per time step: from a run of the model (the plan, or a forecast's
//!   median laid over it). Walking time depends on when you walk.
//! - [`Network`]: the site's graph with its gate closures over time;
//!   [`Network::tree`] is a time-dependent Dijkstra (earliest arrival from
//!   one place at one departure time, FIFO links), [`Network::walk`] re-walks
//!   a given route.
//! - [`recommend_errand`]: the one-stop plan of a simulated visitor who
//!   follows recommendations (see `visitors.recommended_share`).

use super::site::Exit;
use super::walkway::weidmann_speed_mps;
use crate::kernel::{SimDuration, SimTime};
use crate::model::{RunOutput, Site};
use crate::scenario::{Intervention, PlaceKind, Scenario};

/// Walking speed never taken below this in plans, m/s (a jammed walkway is
/// slow, not impassable: people do get through).
pub const PLAN_WALK_SPEED_MIN_MPS: f64 = 0.1;

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

    /// Length of one step of the time grid.
    pub fn step(&self) -> SimDuration {
        self.step
    }

    /// Steps of the time grid (the last one holds on to the end).
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// The step holding `t`.
    pub fn step_index(&self, t: SimTime) -> usize {
        self.step_of(t)
    }

    /// Expected people at place `p` in step `step`.
    pub fn occupancy_in(&self, step: usize, p: usize) -> f64 {
        self.occupancy[step.min(self.steps - 1) * self.places + p] as f64
    }

    /// Adds `persons` to place `p`'s expected occupancy and `wait_s` to its
    /// expected wait in step `step` (load that plans already issued bring).
    pub fn add_place_load(&mut self, step: usize, p: usize, persons: f64, wait_s: f64) {
        let index = step.min(self.steps - 1) * self.places + p;
        self.occupancy[index] += persons as f32;
        self.wait_s[index] += wait_s as f32;
    }

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
