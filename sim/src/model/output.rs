//! What a run produces: per element (place or walkway) per interval
//! statistics, and the run's KPIs.

use super::recorder::Bin;
use super::{CrowdWorld, ElementKind, Los, PlaceCounters, PopulationSummary, WalkwayState};
use crate::kernel::{SimTime, Simulation};
use crate::scenario::{PlaceKind, Walkway, format_clock};
use serde::Serialize;

/// One place or walkway with its per-interval bins.
#[derive(Clone, Debug, PartialEq)]
pub struct ElementSeries {
    /// Place id, or `from--to` for a walkway.
    pub id: String,
    /// Place kind, or walkway.
    pub kind: ElementKind,
    /// Walkable area, m².
    pub area_m2: f64,
    /// Walkway length, m.
    pub length_m: Option<f64>,
    /// Bins, one per output interval.
    pub bins: Vec<Bin>,
    interval_s: f64,
}

impl ElementSeries {
    /// Mean persons present in interval `i`.
    pub fn occupancy(&self, i: usize) -> f64 {
        self.bins[i].presence_us as f64 / (self.interval_s * 1e6)
    }
    /// Mean density in interval `i`, P/m².
    pub fn density(&self, i: usize) -> f64 {
        self.occupancy(i) / self.area_m2
    }
    /// Level of service of interval `i`.
    pub fn los(&self, i: usize) -> Los {
        Los::from_density(self.density(i), self.kind.is_queueing_area())
    }
    /// Mean persons queueing in interval `i`.
    pub fn queue(&self, i: usize) -> f64 {
        self.bins[i].queue_us as f64 / (self.interval_s * 1e6)
    }
    /// Mean wait of the waits that ended in interval `i`, s (None if none did).
    pub fn mean_wait_s(&self, i: usize) -> Option<f64> {
        let bin = &self.bins[i];
        (bin.waits > 0).then(|| bin.wait_sum_s / bin.waits as f64)
    }
    /// Mean walking speed of the traversals that ended in interval `i`, m/s (walkways).
    pub fn speed_mps(&self, i: usize) -> Option<f64> {
        let bin = &self.bins[i];
        match self.length_m {
            Some(length) if bin.traversals > 0 && bin.traversal_sum_s > 0.0 => {
                Some(length / (bin.traversal_sum_s / bin.traversals as f64))
            }
            _ => None,
        }
    }
    /// Intervals recorded.
    pub fn intervals(&self) -> usize {
        self.bins.len()
    }
}

/// KPIs of one place or walkway.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ElementKpis {
    /// Id.
    pub id: String,
    /// Kind.
    pub kind: ElementKind,
    /// Highest interval-mean density, P/m².
    pub peak_density_p_per_m2: f64,
    /// Worst level of service.
    pub peak_los: Los,
    /// Clock time of the peak.
    pub peak_at: String,
    /// Minutes at level of service E or F.
    pub minutes_at_los_e_or_f: f64,
    /// Person-seconds spent queueing.
    pub total_queue_time_s: f64,
    /// Highest interval-mean queue length.
    pub max_queue: f64,
    /// Mean wait of everyone who waited here, s.
    pub mean_wait_s: f64,
    /// People who entered: at a place, those for whom it was the
    /// destination (screened at a gate, served, seated, staying) and, on
    /// a plaza, those who stopped there on their way.
    pub entries: u64,
    /// Places: people who crossed it on their way elsewhere (not in
    /// `entries` unless they stopped on a plaza).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passed_through: Option<u64>,
    /// Plazas: of those who crossed, people who stopped for a while
    /// (`visitors.plaza_linger_probability`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lingered: Option<u64>,
    /// Food outlets and shops: customers who saw the queue and went
    /// elsewhere (counted in `entries`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balked: Option<u64>,
    /// Transit stops, and any place where someone came onto the site
    /// while it was full: people who waited off the site (on their
    /// shuttle) until it had room.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_off_site: Option<u64>,
    /// Their mean wait off the site, s (those still waiting at the end
    /// counted to the end).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_off_site_mean_s: Option<f64>,
    /// Walkways: flow between the first and last exit, P/s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_p_per_s: Option<f64>,
    /// Walkways: that flow per metre of width, P/(m·s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub specific_flow_p_per_m_s: Option<f64>,
    /// Walkways: mean walking speed (length / mean crossing time), m/s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_speed_mps: Option<f64>,
    /// Walkways: mean density while anyone was on it, P/m².
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_density_p_per_m2: Option<f64>,
}

/// A session's attendance.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SessionKpis {
    /// Venue id.
    pub venue: String,
    /// Sport.
    pub sport: String,
    /// Name.
    pub name: String,
    /// Start clock time.
    pub start: String,
    /// Tickets sold.
    pub tickets: u32,
    /// Spectators seated (at any time).
    pub seated: u32,
    /// Spectators seated before the start.
    pub seated_on_time: u32,
    /// When it ended, after any delay (`None`: not within the run).
    pub ended: Option<String>,
    /// Egress time: from its end until its last seated spectator left the
    /// stands, minutes (`None`: not all out within the run).
    pub egress_min: Option<f64>,
}

/// The run's KPIs (`kpis.json`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunKpis {
    /// Scenario name.
    pub scenario: String,
    /// Seed.
    pub seed: u64,
    /// Clock time of the start.
    pub start: String,
    /// Clock time of the end.
    pub end: String,
    /// Events the kernel handled.
    pub events: u64,
    /// Who came.
    pub population: PopulationSummary,
    /// People who left by transit.
    pub departed_by_transit: u64,
    /// Crowd members who reached their destination.
    pub crowd_arrivals: u64,
    /// People who found no route.
    pub stranded: u64,
    /// Arrivals turned back at closed gates.
    pub turned_back: u64,
    /// Person-seconds spent queueing, all places and walkways.
    pub total_queue_time_s: f64,
    /// Orders at shops and food outlets.
    pub orders: u64,
    /// Their revenue.
    pub revenue: f64,
    /// Customers who found nothing in stock.
    pub sold_out: u64,
    /// Customers who saw a long queue and went elsewhere.
    pub balked: u64,
    /// The element with the highest density, and when.
    pub peak_density_element: String,
    /// That density, P/m².
    pub peak_density_p_per_m2: f64,
    /// Clock time of it.
    pub peak_density_at: String,
    /// Per session.
    pub sessions: Vec<SessionKpis>,
    /// Per place and walkway, in scenario order (places, then walkways).
    pub elements: Vec<ElementKpis>,
}

/// Everything a run produces.
#[derive(Clone, Debug, PartialEq)]
pub struct RunOutput {
    /// Per element series.
    pub elements: Vec<ElementSeries>,
    /// KPIs.
    pub kpis: RunKpis,
    /// Clock time of interval 0, s after midnight.
    pub start_clock_s: u32,
    /// Output interval, s.
    pub interval_s: f64,
}

impl RunOutput {
    /// Collects the outputs of a simulation that has run to `end`.
    pub fn collect(sim: &Simulation<CrowdWorld>, seed: u64) -> RunOutput {
        let world = sim.world();
        let scenario = world.scenario();
        let interval_s = scenario.params.output_interval_s;
        let elements = element_series(world, sim.now());
        let places = scenario.places.len();
        let element_kpis: Vec<ElementKpis> = elements
            .iter()
            .enumerate()
            .map(|(index, e)| {
                let walkway = index.checked_sub(places).map(|w| (&scenario.walkways[w], &world.walkways[w]));
                let mut kpis = e.kpis(walkway, scenario.start_clock_s);
                if index < places {
                    let counters = &world.places[index].counters;
                    kpis.passed_through = Some(counters.passed_through);
                    match scenario.places[index].kind {
                        PlaceKind::Plaza => kpis.lingered = Some(counters.lingered),
                        PlaceKind::Food | PlaceKind::Shop => kpis.balked = Some(counters.balked),
                        _ => {}
                    }
                    if scenario.places[index].kind == PlaceKind::Transit || counters.held > 0 {
                        kpis.held_off_site = Some(counters.held);
                        let waited_s = world.places[index].held_wait_s(sim.now());
                        kpis.held_off_site_mean_s =
                            Some(if counters.held > 0 { waited_s / counters.held as f64 } else { 0.0 });
                    }
                }
                kpis
            })
            .collect();
        let kpis = run_kpis(sim, seed, element_kpis);
        RunOutput { elements, kpis, start_clock_s: scenario.start_clock_s, interval_s }
    }
}

/// Every element's bins up to `end`: places in scenario order, then walkways.
fn element_series(world: &CrowdWorld, end: SimTime) -> Vec<ElementSeries> {
    let scenario = world.scenario();
    let interval_s = scenario.params.output_interval_s;
    let mut elements = Vec::with_capacity(scenario.places.len() + scenario.walkways.len());
    for (place, state) in scenario.places.iter().zip(&world.places) {
        elements.push(ElementSeries {
            id: place.id.clone(),
            kind: ElementKind::Place(place.kind),
            area_m2: place.area_m2,
            length_m: None,
            bins: state.recorder.finish(end, state.waiting_since()),
            interval_s,
        });
    }
    for (walkway, state) in scenario.walkways.iter().zip(&world.walkways) {
        elements.push(ElementSeries {
            id: format!("{}--{}", scenario.places[walkway.a].id, scenario.places[walkway.b].id),
            kind: ElementKind::Walkway,
            area_m2: walkway.length_m * walkway.width_m,
            length_m: Some(walkway.length_m),
            bins: state.recorder.finish(end, state.waiting_since(end, walkway.length_m).into_iter()),
            interval_s,
        });
    }
    elements
}

impl ElementSeries {
    /// The element's KPIs; `walkway` is its spec and state when it is one.
    /// Clock times count from `start_clock_s`.
    fn kpis(&self, walkway: Option<(&Walkway, &WalkwayState)>, start_clock_s: u32) -> ElementKpis {
        let e = self;
        let clock = |interval: usize| format_clock(start_clock_s + (interval as f64 * e.interval_s) as u32);
        let traversals: u64 = e.bins.iter().map(|b| b.traversals as u64).sum();
        let traversal_s: f64 = e.bins.iter().map(|b| b.traversal_sum_s).sum();
        let presence_s: f64 = e.bins.iter().map(|b| b.presence_us as f64 / 1e6).sum();
        let n = e.intervals();
        let peak = (0..n).max_by(|&a, &b| e.density(a).total_cmp(&e.density(b)).then(b.cmp(&a)));
        let waits: u64 = e.bins.iter().map(|b| b.waits as u64).sum();
        let wait_sum: f64 = e.bins.iter().map(|b| b.wait_sum_s).sum();
        ElementKpis {
            id: e.id.clone(),
            kind: e.kind,
            peak_density_p_per_m2: peak.map_or(0.0, |i| e.density(i)),
            peak_los: peak.map_or(Los::A, |i| e.los(i)),
            peak_at: clock(peak.unwrap_or(0)),
            minutes_at_los_e_or_f: (0..n).filter(|&i| e.los(i) >= Los::E).count() as f64 * e.interval_s / 60.0,
            total_queue_time_s: e.bins.iter().map(|b| b.queue_us as f64 / 1e6).sum(),
            max_queue: (0..n).map(|i| e.queue(i)).fold(0.0, f64::max),
            mean_wait_s: if waits > 0 { wait_sum / waits as f64 } else { 0.0 },
            entries: e.bins.iter().map(|b| b.entries as u64).sum(),
            passed_through: None,
            lingered: None,
            balked: None,
            held_off_site: None,
            held_off_site_mean_s: None,
            flow_p_per_s: walkway.and_then(|(_, state)| state.exits.flow_p_per_s()),
            specific_flow_p_per_m_s: walkway
                .and_then(|(spec, state)| state.exits.flow_p_per_s().map(|f| f / spec.width_m)),
            mean_speed_mps: walkway
                .and_then(|(spec, _)| (traversals > 0).then(|| spec.length_m / (traversal_s / traversals as f64))),
            mean_density_p_per_m2: walkway.and_then(|(_, state)| {
                let occupied = state.occupied().as_secs_f64();
                (occupied > 0.0).then(|| presence_s / occupied / e.area_m2)
            }),
        }
    }
}

/// Each session's tickets and who was seated.
fn session_kpis(world: &CrowdWorld) -> Vec<SessionKpis> {
    let scenario = world.scenario();
    scenario
        .sessions
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let counters = &world.places[s.venue].counters;
            let find = |list: &[(u16, u32)]| list.iter().find(|c| c.0 as usize == i).map_or(0, |c| c.1);
            let egress = counters.egress.iter().find(|e| e.session as usize == i);
            let ended = world.places[s.venue].session_ended_at(i as u16).or(egress.map(|e| e.ended));
            SessionKpis {
                venue: scenario.places[s.venue].id.clone(),
                sport: s.sport.clone(),
                name: s.name.clone(),
                start: format_clock(scenario.clock_s(s.start)),
                tickets: s.tickets,
                seated: find(&counters.seated),
                seated_on_time: find(&counters.seated_on_time),
                ended: ended.map(|t| format_clock(scenario.clock_s(t))),
                egress_min: egress.map(|e| (e.out - e.ended).as_secs_f64() / 60.0),
            }
        })
        .collect()
}

/// The run's totals over places and the densest element, with the elements' KPIs.
fn run_kpis(sim: &Simulation<CrowdWorld>, seed: u64, elements: Vec<ElementKpis>) -> RunKpis {
    let world = sim.world();
    let scenario = world.scenario();
    let end = sim.now();
    let sum = |f: fn(&PlaceCounters) -> u64| world.places.iter().map(|p| f(&p.counters)).sum::<u64>();
    let peak = elements
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.peak_density_p_per_m2.total_cmp(&b.1.peak_density_p_per_m2).then(b.0.cmp(&a.0)));
    RunKpis {
        scenario: scenario.name.clone(),
        seed,
        start: format_clock(scenario.start_clock_s),
        end: format_clock(scenario.clock_s(end.min(SimTime::ZERO + scenario.duration))),
        events: sim.events_handled(),
        population: world.population().clone(),
        departed_by_transit: sum(|c| c.departed),
        crowd_arrivals: sum(|c| c.crowd_arrivals),
        stranded: sum(|c| c.stranded),
        turned_back: sum(|c| c.turned_back),
        total_queue_time_s: elements.iter().map(|e| e.total_queue_time_s).sum(),
        orders: sum(|c| c.orders),
        revenue: world.places.iter().map(|p| p.counters.revenue).sum(),
        sold_out: sum(|c| c.sold_out),
        balked: sum(|c| c.balked),
        peak_density_element: peak.map_or(String::new(), |p| p.1.id.clone()),
        peak_density_p_per_m2: peak.map_or(0.0, |p| p.1.peak_density_p_per_m2),
        peak_density_at: peak.map_or(String::new(), |p| p.1.peak_at.clone()),
        sessions: session_kpis(world),
        elements,
    }
}
