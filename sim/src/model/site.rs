//! The site as the model sees it: places, walkways, adjacency and routing
//! tables, shared read-only by every actor (behind an `Arc`).

use crate::kernel::{SimDuration, SimTime};
use crate::scenario::{Intervention, PlaceKind, Scenario};
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Next hops within this share of the best route's cost count as equally
/// good; people are split over them by capacity.
pub const ROUTE_TIE_TOLERANCE: f64 = 0.02;

/// A walkway leaving a place.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Exit {
    /// Walkway index.
    pub walkway: u32,
    /// The place at its other end.
    pub to: u32,
}

/// Shortest-path next hops for one set of closed gates.
#[derive(Clone, Debug, PartialEq)]
pub struct Routing {
    /// From when this table applies.
    pub from: SimTime,
    places: usize,
    /// Per `(here, destination)`: range into `candidates`.
    next: Vec<(u32, u16)>,
    /// Adjacency slots (positions in `Site::exits[here]`) of the next hops.
    candidates: Vec<u16>,
    /// Free-flow travel time per `(here, destination)`, s (infinite where unreachable).
    cost_s: Vec<f32>,
}

impl Routing {
    /// Adjacency slots of the next hops from `here` towards `destination`.
    #[inline]
    pub fn next_hops(&self, here: usize, destination: usize) -> &[u16] {
        let (start, len) = self.next[here * self.places + destination];
        &self.candidates[start as usize..start as usize + len as usize]
    }

    /// Free-flow travel time, s.
    #[inline]
    pub fn cost_s(&self, here: usize, destination: usize) -> f64 {
        self.cost_s[here * self.places + destination] as f64
    }
}

/// Everything actors read and nobody writes during a run.
#[derive(Debug)]
pub struct Site {
    /// The resolved scenario.
    pub scenario: Scenario,
    /// Walkways leaving each place.
    pub exits: Vec<Vec<Exit>>,
    /// Routing tables in time order; the first starts at time zero.
    pub routings: Vec<Routing>,
    /// Places by kind, for visitors' choices.
    pub food: Vec<u32>,
    /// Shops.
    pub shops: Vec<u32>,
    /// Fan zones.
    pub fan_zones: Vec<u32>,
    /// Transit places.
    pub transit: Vec<u32>,
    /// Output interval.
    pub interval: SimDuration,
    /// Handoff between elements (the kernel lookahead).
    pub handoff: SimDuration,
}

#[derive(PartialEq)]
struct Entry(f64, usize);
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.total_cmp(&self.0).then(other.1.cmp(&self.1))
    }
}

impl Site {
    /// Builds adjacency and one routing table per distinct set of closed gates.
    pub fn new(scenario: Scenario) -> Site {
        let n = scenario.places.len();
        let mut exits = vec![Vec::new(); n];
        for (index, w) in scenario.walkways.iter().enumerate() {
            exits[w.a].push(Exit { walkway: index as u32, to: w.b as u32 });
            exits[w.b].push(Exit { walkway: index as u32, to: w.a as u32 });
        }
        let by_kind = |kind: PlaceKind| {
            scenario.places.iter().enumerate().filter(|(_, p)| p.kind == kind).map(|(i, _)| i as u32).collect()
        };
        let mut site = Site {
            food: by_kind(PlaceKind::Food),
            shops: by_kind(PlaceKind::Shop),
            fan_zones: by_kind(PlaceKind::FanZone),
            transit: by_kind(PlaceKind::Transit),
            interval: SimDuration::from_secs_f64(scenario.params.output_interval_s),
            handoff: scenario.params.handoff(),
            exits,
            routings: Vec::new(),
            scenario,
        };
        let mut closed = vec![false; n];
        site.routings.push(site.routing(SimTime::ZERO, &closed));
        for intervention in &site.scenario.interventions {
            let (at, place, close) = match *intervention {
                Intervention::CloseGate { at, place } => (at, place, true),
                Intervention::OpenGate { at, place } => (at, place, false),
                _ => continue,
            };
            if closed[place] == close {
                continue;
            }
            closed[place] = close;
            let table = site.routing(at, &closed);
            if site.routings.last().is_some_and(|last| last.from == at) {
                site.routings.pop();
            }
            site.routings.push(table);
        }
        site
    }

    /// Free-flow cost of walking a walkway and crossing into the next place, s.
    fn edge_cost_s(&self, walkway: usize) -> f64 {
        self.scenario.walkways[walkway].length_m / self.scenario.params.walk_speed_mps_free
            + self.scenario.params.handoff_s
    }

    /// Dijkstra from every destination; closed places are never crossed
    /// (but routes from them exist, so people inside can leave).
    fn routing(&self, from: SimTime, closed: &[bool]) -> Routing {
        let n = self.scenario.places.len();
        let mut next = Vec::with_capacity(n * n);
        let mut candidates = Vec::new();
        let mut cost_s = vec![f32::INFINITY; n * n];
        let mut distances = vec![vec![f64::INFINITY; n]; n];
        for (destination, distance) in distances.iter_mut().enumerate() {
            distance[destination] = 0.0;
            let mut heap = BinaryHeap::from([Entry(0.0, destination)]);
            while let Some(Entry(d, u)) = heap.pop() {
                if d > distance[u] || (closed[u] && u != destination) {
                    continue;
                }
                for exit in &self.exits[u] {
                    let v = exit.to as usize;
                    let candidate = d + self.edge_cost_s(exit.walkway as usize);
                    if candidate < distance[v] {
                        distance[v] = candidate;
                        heap.push(Entry(candidate, v));
                    }
                }
            }
        }
        for here in 0..n {
            for (destination, distance) in distances.iter().enumerate() {
                cost_s[here * n + destination] = distance[here] as f32;
                let start = candidates.len() as u32;
                if here != destination && distance[here].is_finite() {
                    let best = distance[here];
                    for (slot, exit) in self.exits[here].iter().enumerate() {
                        let via = exit.to as usize;
                        if closed[via] && via != destination {
                            continue;
                        }
                        let total = self.edge_cost_s(exit.walkway as usize) + distance[via];
                        if total <= best * (1.0 + ROUTE_TIE_TOLERANCE) + 1e-9 {
                            candidates.push(slot as u16);
                        }
                    }
                }
                next.push((start, (candidates.len() as u32 - start) as u16));
            }
        }
        Routing { from, places: n, next, candidates, cost_s }
    }

    /// The routing table in force at `now`.
    #[inline]
    pub fn routing_at(&self, now: SimTime) -> &Routing {
        let index = self.routings.partition_point(|r| r.from <= now);
        &self.routings[index.saturating_sub(1)]
    }
}
