//! A walkway actor: a link with a supply and a demand (the link-transmission
//! idea, Yperman 2005, for pedestrians Hänseler et al. 2014).
//!
//! - **Demand (sending).** Everyone on it walks at the Weidmann speed of its
//!   current density (both directions together), so the speed changes as
//!   people step on and off; the distance walked since the start of the run,
//!   `∫ v(ρ(t)) dt`, is integrated exactly between events (the density is
//!   constant between them). A walker reaches the far end when the walkway
//!   has advanced its length since they stepped on, and leaves no faster
//!   than the outflow capacity (per direction); the overflow queues at the
//!   exit, first in first out.
//! - **Supply (receiving).** It takes in at most its capacity per second and
//!   direction, and holds at most its storage: the area times the density on
//!   the congested branch of the speed-density relation whose flow is the
//!   outflow capacity. Whoever comes when it cannot take them waits at its
//!   entrance (one line at each end, the longest-waiting first), in the
//!   place before it: counted in the walkway's queue and reported to that
//!   place, which counts them in its density and towards being full, so a
//!   queue spills back place by place. While one direction is held back by
//!   a full place, the other may still fill half the storage: people
//!   walking away from a jam squeeze past it.
//!
//! So a walkway fed above its capacity discharges at capacity and the queue
//! grows at its entrance; one behind a narrower exit fills to the congested
//! density that carries the exit's flow and still discharges at it. It never
//! stands at jam density with zero flow: its storage density carries a
//! positive flow. A `bottleneck` walkway (a door, a turnstile row) is short:
//! it is crossed at free speed and its outflow is set by its own capacity.
//!
//! The walking physics is here too: Weidmann's fundamental diagram
//! ([`weidmann_speed_mps`]), the flow it can carry at most
//! ([`weidmann_capacity_p_per_m_s`]), which scenario resolution takes as the
//! default walkway capacity, and the congested density at a given flow
//! ([`congested_density_p_per_m2`]).

use super::{Message, PLACE, Person, Shared};
use crate::kernel::{ActorId, Context, SimDuration, SimTime};
use crate::model::Tuning;
use crate::model::recorder::Recorder;
use crate::scenario::ModelParams;
use std::collections::VecDeque;

/// The fewest people by which a walkway's entrance queue changes before
/// the place it stands in is told (see `WalkwayState::report_backlog`).
pub const BACKLOG_STEP_MIN: u32 = 5;

/// Weidmann's (1993) fundamental diagram: walking speed at density `rho`.
pub fn weidmann_speed_mps(params: &ModelParams, rho: f64) -> f64 {
    if rho <= 0.0 {
        return params.walk_speed_mps_free;
    }
    if rho >= params.jam_density_p_per_m2 {
        return 0.0;
    }
    let v = params.walk_speed_mps_free
        * (1.0 - (-params.weidmann_gamma_p_per_m2 * (1.0 / rho - 1.0 / params.jam_density_p_per_m2)).exp());
    v.max(0.0)
}

/// The maximum of the specific flow `rho * v(rho)`, P/(m·s), found by a
/// fine scan (≈ 1.68 at ≈ 2.1 P/m² with the default parameters, ≈ 1.22 at
/// ≈ 1.75 with Weidmann's published gamma).
pub fn weidmann_capacity_p_per_m_s(params: &ModelParams) -> f64 {
    (1..DENSITY_STEPS)
        .map(|i| i as f64 * params.jam_density_p_per_m2 / DENSITY_STEPS as f64)
        .map(|rho| rho * weidmann_speed_mps(params, rho))
        .fold(0.0, f64::max)
}

/// Densities scanned by [`weidmann_capacity_p_per_m_s`] and
/// [`congested_density_p_per_m2`] between 0 and the jam density.
const DENSITY_STEPS: u32 = 5_400;

/// The density on the congested branch of `rho * v(rho)` whose specific
/// flow is `specific_flow_p_per_m_s`, P/m²: the densest state that still
/// carries that flow. At or above the maximum flow, the density of the
/// maximum (the critical density).
pub fn congested_density_p_per_m2(params: &ModelParams, specific_flow_p_per_m_s: f64) -> f64 {
    let density = |i: u32| i as f64 * params.jam_density_p_per_m2 / DENSITY_STEPS as f64;
    let flow = |rho: f64| rho * weidmann_speed_mps(params, rho);
    if let Some(i) = (1..DENSITY_STEPS).rev().find(|&i| flow(density(i)) >= specific_flow_p_per_m_s) {
        return density(i);
    }
    (1..DENSITY_STEPS)
        .map(density)
        .fold((0.0, 0.0), |best, rho| if flow(rho) > best.1 { (rho, flow(rho)) } else { best })
        .0
}

#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Walker {
    person: Person,
    entered: SimTime,
    /// The walkway's walked distance when this walker stepped on, m.
    start_m: f64,
}

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
struct Lane {
    walkers: VecDeque<Walker>,
    next_free: SimTime,
    /// Earliest time the next walker may step on in this direction.
    next_entry: SimTime,
    /// When the pending release is scheduled (`None`: none is).
    scheduled: Option<SimTime>,
    /// Releases carry this number; an older one is stale and ignored.
    generation: u32,
    /// The place this lane leads into is full: nobody leaves until it has room.
    blocked: bool,
}

/// Who has left a walkway: for its flow.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WalkwayExits {
    /// People who left.
    pub count: u64,
    /// When the first left.
    pub first: Option<SimTime>,
    /// When the last left.
    pub last: SimTime,
}

impl WalkwayExits {
    /// Flow between the first and the last exit, `(count - 1) / (last - first)`, P/s.
    pub fn flow_p_per_s(&self) -> Option<f64> {
        let span = self.last.saturating_since(self.first?).as_secs_f64();
        (self.count >= 2 && span > 0.0).then(|| (self.count - 1) as f64 / span)
    }
}

/// State of one walkway.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WalkwayState {
    count: u32,
    speed_mps: f64,
    walked_m: f64,
    updated: SimTime,
    lanes: [Lane; 2],
    /// People waiting to step on, per entrance (0: at `a`, heading for
    /// `b`; 1: at `b`): who and since when.
    entrance: [VecDeque<(Person, SimTime)>; 2],
    /// What the place at each end was last told of them (see [`Message::Backlog`]).
    reported: [u32; 2],
    /// When the pending admission is scheduled (`None`: none is).
    admit_at: Option<SimTime>,
    /// Admissions carry this number; an older one is stale and ignored.
    admit_generation: u32,
    /// Everyone who has left it, and the first and last of them.
    pub exits: WalkwayExits,
    /// Microseconds during which someone was on it.
    occupied_us: u64,
    /// Statistics per output interval.
    pub recorder: Recorder,
}

impl WalkwayState {
    pub(crate) fn new(interval: SimDuration, free_speed_mps: f64) -> Self {
        WalkwayState {
            count: 0,
            speed_mps: free_speed_mps,
            walked_m: 0.0,
            updated: SimTime::ZERO,
            lanes: Default::default(),
            entrance: Default::default(),
            reported: [0; 2],
            admit_at: None,
            admit_generation: 0,
            exits: WalkwayExits::default(),
            occupied_us: 0,
            recorder: Recorder::new(interval),
        }
    }

    /// People on the walkway now.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// People waiting to step on.
    pub fn entrance_queue(&self) -> usize {
        self.entrance[0].len() + self.entrance[1].len()
    }

    /// Since when everyone still queueing has queued, as of `now`: those at
    /// the entrance, and those who reached the far end and wait for the exit.
    pub(crate) fn waiting_since(&self, now: SimTime, length_m: f64) -> Vec<SimTime> {
        let entrance = self.entrance.iter().flatten().map(|e| e.1);
        let walked = self.walked_m + self.speed_mps * now.saturating_since(self.updated).as_secs_f64();
        self.lanes
            .iter()
            .flat_map(|l| l.walkers.iter())
            .filter_map(|w| {
                let excess = walked - w.start_m - length_m;
                (excess > 0.0).then(|| SimTime(now.as_micros().saturating_sub((excess / self.speed_mps * 1e6) as u64)))
            })
            .chain(entrance)
            .collect()
    }

    /// Time during which someone was on the walkway, up to the last event.
    pub fn occupied(&self) -> SimDuration {
        SimDuration(self.occupied_us)
    }

    /// Brings the walked distance up to `now`.
    fn advance(&mut self, now: SimTime) {
        if self.count > 0 {
            self.occupied_us += now.saturating_since(self.updated).as_micros();
        }
        self.walked_m += self.speed_mps * now.saturating_since(self.updated).as_secs_f64();
        self.updated = now;
    }

    /// Sets the speed for the new count and (re)schedules each lane's next release.
    fn settle(&mut self, shared: &Shared, tuning: &Tuning, index: usize, ctx: &mut Context<'_, Message>) {
        let spec = &shared.site.scenario.walkways[index];
        let params = &shared.site.scenario.params;
        let now = ctx.now();
        self.recorder.set_level(now, self.count);
        self.speed_mps = tuning.walk_speed_factor
            * if spec.bottleneck {
                params.walk_speed_mps_free
            } else {
                let density = self.count as f64 / (spec.length_m * spec.width_m);
                weidmann_speed_mps(params, density).max(params.walk_speed_mps_min)
            };
        for (direction, lane) in self.lanes.iter_mut().enumerate() {
            let Some(head) = lane.walkers.front().filter(|_| !lane.blocked) else {
                lane.scheduled = None;
                continue;
            };
            let remaining_m = (head.start_m + spec.length_m - self.walked_m).max(0.0);
            // Round up, so the head has arrived when the release runs.
            let reach = SimTime(now.as_micros() + (remaining_m / self.speed_mps * 1e6).ceil() as u64);
            let at = reach.max(lane.next_free);
            if lane.scheduled != Some(at) {
                lane.scheduled = Some(at);
                lane.generation = lane.generation.wrapping_add(1);
                let release = Message::Release { direction: direction as u8, generation: lane.generation };
                ctx.send_at(ctx.me(), at, release);
            }
        }
    }

    pub(crate) fn enter(
        &mut self,
        shared: &Shared,
        tuning: &Tuning,
        index: usize,
        person: Person,
        from: u32,
        ctx: &mut Context<'_, Message>,
    ) {
        let spec = &shared.site.scenario.walkways[index];
        let direction = u8::from(from as usize != spec.a);
        let now = ctx.now();
        self.advance(now);
        self.entrance[direction as usize].push_back((person, now));
        if self.admit_waiting(shared, index, ctx) {
            self.settle(shared, tuning, index, ctx);
        }
        self.report_backlog(shared, index, ctx);
    }

    /// Tells the place at each end how many wait at the entrance there,
    /// standing in it, once that has changed by [`BACKLOG_STEP_MIN`] people
    /// or a fiftieth of what the place holds, whichever is more: a place
    /// counts them towards being full, so a queue spills back place by
    /// place.
    fn report_backlog(&mut self, shared: &Shared, index: usize, ctx: &mut Context<'_, Message>) {
        let spec = &shared.site.scenario.walkways[index];
        for (direction, at) in [(0, spec.a), (1, spec.b)] {
            let (waiting, reported) = (self.entrance[direction].len() as u32, self.reported[direction]);
            let step = (shared.site.scenario.places[at].hold_p / 50).max(BACKLOG_STEP_MIN);
            if waiting.abs_diff(reported) >= step || (waiting == 0 && reported != 0) {
                self.reported[direction] = waiting;
                let backlog = Message::Backlog { walkway: index as u16, waiting };
                ctx.send(ActorId::new(PLACE, at as u32), shared.site.handoff, backlog);
            }
        }
    }

    /// The place the lane in `direction` leads into takes people (`open`) or
    /// is full: its walkers stay (and queue at the far end) until it opens.
    pub(crate) fn supply(
        &mut self,
        shared: &Shared,
        tuning: &Tuning,
        index: usize,
        direction: u8,
        open: bool,
        ctx: &mut Context<'_, Message>,
    ) {
        self.advance(ctx.now());
        self.lanes[direction as usize].blocked = !open;
        self.settle(shared, tuning, index, ctx);
    }

    /// A scheduled admission: the entrance may take the next in line now.
    pub(crate) fn admit(
        &mut self,
        shared: &Shared,
        tuning: &Tuning,
        index: usize,
        generation: u32,
        ctx: &mut Context<'_, Message>,
    ) {
        if self.admit_generation != generation || self.admit_at != Some(ctx.now()) {
            return; // superseded by a later schedule
        }
        self.admit_at = None;
        self.advance(ctx.now());
        if self.admit_waiting(shared, index, ctx) {
            self.settle(shared, tuning, index, ctx);
        }
        self.report_backlog(shared, index, ctx);
    }

    /// Steps on whoever waits at the two entrances while there is room and
    /// their entrance is free (capacity per direction), the one who has
    /// waited longest first; schedules the next admission when a head waits
    /// only for its entrance. Room: the walkway holds less than its storage;
    /// or, while the lane the other way is held back by a full place, the
    /// lane this way holds less than half of it (people heading away from
    /// a jam squeeze past it, so the two directions never wait on each
    /// other). Whether anyone stepped on.
    fn admit_waiting(&mut self, shared: &Shared, index: usize, ctx: &mut Context<'_, Message>) -> bool {
        let spec = &shared.site.scenario.walkways[index];
        let now = ctx.now();
        let headway = SimDuration::from_secs_f64(1.0 / spec.entry_capacity_p_per_s);
        let mut stepped = false;
        let mut wake: Option<SimTime> = None;
        loop {
            let mut pick: Option<(usize, SimTime)> = None;
            for direction in 0..2 {
                let Some(&(_, since)) = self.entrance[direction].front() else { continue };
                let room = self.count < spec.storage_p
                    || (self.lanes[1 - direction].blocked
                        && (self.lanes[direction].walkers.len() as u32) < spec.storage_p / 2);
                if !room {
                    continue; // the next release makes room
                }
                let next_entry = self.lanes[direction].next_entry;
                if next_entry > now {
                    wake = Some(wake.map_or(next_entry, |w| w.min(next_entry)));
                } else if pick.is_none_or(|(_, first)| since < first) {
                    pick = Some((direction, since));
                }
            }
            let Some((direction, since)) = pick else { break };
            let (person, _) = self.entrance[direction].pop_front().expect("the head just seen");
            if since < now {
                self.recorder.queued(since, now);
            }
            self.lanes[direction].next_entry = now + headway;
            self.step_on(person, direction as u8, now);
            stepped = true;
        }
        if let Some(at) = wake
            && self.admit_at != Some(at)
        {
            self.admit_at = Some(at);
            self.admit_generation = self.admit_generation.wrapping_add(1);
            ctx.send_at(ctx.me(), at, Message::Admit { generation: self.admit_generation });
        }
        stepped
    }

    fn step_on(&mut self, person: Person, direction: u8, now: SimTime) {
        self.count += 1;
        self.recorder.entry(now);
        self.lanes[direction as usize].walkers.push_back(Walker { person, entered: now, start_m: self.walked_m });
    }

    pub(crate) fn release(
        &mut self,
        shared: &Shared,
        tuning: &Tuning,
        index: usize,
        direction: u8,
        generation: u32,
        ctx: &mut Context<'_, Message>,
    ) {
        let lane = &self.lanes[direction as usize];
        if lane.generation != generation || lane.scheduled != Some(ctx.now()) {
            return; // superseded by a later schedule
        }
        let spec = &shared.site.scenario.walkways[index];
        let now = ctx.now();
        self.advance(now);
        let speed = self.speed_mps;
        let lane = &mut self.lanes[direction as usize];
        let walker = lane.walkers.pop_front().expect("a release is scheduled only for a waiting walker");
        lane.scheduled = None;
        lane.next_free = now + SimDuration::from_secs_f64(1.0 / spec.capacity_p_per_s);
        let excess_m = self.walked_m - walker.start_m - spec.length_m;
        debug_assert!(excess_m > -1e-6, "released {excess_m} m before the end");
        let held = SimDuration::from_secs_f64((excess_m / speed).max(0.0));
        if held > SimDuration::ZERO {
            self.recorder.queued(SimTime(now.as_micros() - held.as_micros().min(now.as_micros())), now);
        }
        self.recorder.traversal(now, now - walker.entered);
        self.exits.count += 1;
        self.exits.first.get_or_insert(now);
        self.exits.last = now;
        self.count -= 1;
        self.admit_waiting(shared, index, ctx);
        self.settle(shared, tuning, index, ctx);
        self.report_backlog(shared, index, ctx);
        let to = if direction == 0 { spec.b } else { spec.a };
        let person = Person { via: index as u16, ..walker.person };
        ctx.send(ActorId::new(PLACE, to as u32), shared.site.handoff, Message::Arrive { person });
    }
}
