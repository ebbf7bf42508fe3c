//! A place actor: gates (security lanes), plazas, venues (entry lanes, seats,
//! sessions, egress), shops and food outlets (servers, stock), fan zones and
//! transit stops (departures with a capacity).

use super::{
    FLAG_CROWD, FLAG_LEAVING, FLAG_LINGERING, FLAG_SCREENED, Message, NO_SESSION, NO_WALKWAY, PLACE, Person, Shared,
    VISITOR, WALKWAY,
};
use crate::kernel::{ActorId, Context, SimDuration, SimTime};
use crate::model::recorder::Recorder;
use crate::scenario::PlaceKind;
use std::collections::VecDeque;

/// A full place still takes people from a walkway while those waiting to
/// step onto that walkway here number up to `1 / SWAP_SHARE_INVERSE` of
/// what it holds (see `PlaceState::update_supply`).
pub const SWAP_SHARE_INVERSE: u32 = 10;

/// Customers who would wait longer than this for a shop or food server
/// (queue length / servers x mean service time) go elsewhere, s.
pub const SHOP_BALK_WAIT_S: f64 = 900.0;

/// Lanes or servers with a first-in first-out queue.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
struct Service {
    /// Who each server is serving.
    serving: Vec<Option<Person>>,
    waiting: VecDeque<(Person, SimTime)>,
}

/// Per-venue state.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
struct Venue {
    /// Visitors seated for each session of the scenario held here (by session index).
    seated: Vec<(u16, Vec<u32>)>,
    /// Sessions that have ended.
    ended: Vec<u16>,
    /// Sessions whose end moved later, with the new end.
    delayed: Vec<(u16, SimTime)>,
    egress: VecDeque<u32>,
    egress_pending: bool,
    /// Spectators released from the stands so far.
    released: u64,
    /// Sessions whose spectators are still leaving: session, its end, and
    /// the count of `released` at which its last spectator is out.
    leaving: VecDeque<(u16, SimTime, u64)>,
}

/// Per-transit-stop state.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
struct Transit {
    waiting: VecDeque<(u32, SimTime)>,
    departure_pending: bool,
    /// Capacity share and the time it lasts until.
    disruption: Option<(f64, SimTime)>,
    /// Who has left from here, latest last (see [`PlaceState::set_transit_waiting`]).
    departed: Vec<u32>,
}

/// Counters a place keeps for the run's KPIs.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlaceCounters {
    /// People who arrived here as their destination.
    pub arrivals: u64,
    /// People served (screened, admitted, sold to).
    pub served: u64,
    /// Orders taken (shops and food).
    pub orders: u64,
    /// Revenue from orders.
    pub revenue: f64,
    /// Customers who found nothing in stock.
    pub sold_out: u64,
    /// Spectators seated per session (venues), by session index.
    pub seated: Vec<(u16, u32)>,
    /// Spectators seated before their session started.
    pub seated_on_time: Vec<(u16, u32)>,
    /// People who left the site from here (transit).
    pub departed: u64,
    /// Crowd members who reached this place as their destination.
    pub crowd_arrivals: u64,
    /// People who found no route from here and gave up.
    pub stranded: u64,
    /// People sent back from a closed gate.
    pub turned_back: u64,
    /// Customers who saw the queue and went elsewhere.
    pub balked: u64,
    /// People who crossed the place on their way elsewhere.
    pub passed_through: u64,
    /// Of those, people who stopped here for a while (plazas).
    pub lingered: u64,
    /// People who came onto the site here while it was full and waited off
    /// the site until it had room.
    pub held: u64,
    /// The time they waited, person-seconds (counted as they come in).
    pub held_s: f64,
    /// Per session that ended (venues): its end (after any delay) and when
    /// its last seated spectator left the stands.
    pub egress: Vec<SessionEgress>,
}

/// When a session ended and when its spectators were out of the stands.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SessionEgress {
    /// Session index.
    pub session: u16,
    /// When it ended (its planned end, or later if delayed).
    pub ended: SimTime,
    /// When its last seated spectator left the stands (`ended` if none was seated).
    pub out: SimTime,
}

/// People the walkways into place `index` can bring in during three
/// handoffs at their capacity: how long word of a queue there takes to
/// stop them (see `PlaceState::update_supply`).
fn round_trip_inflow_p(shared: &Shared, index: usize) -> u32 {
    let walkways = &shared.site.scenario.walkways;
    let per_s: f64 = shared.site.exits[index].iter().map(|e| walkways[e.walkway as usize].capacity_p_per_s).sum();
    (3.0 * shared.site.handoff.as_secs_f64() * per_s).ceil() as u32
}

/// State of one place.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlaceState {
    occupancy: u32,
    /// Statistics per output interval.
    pub recorder: Recorder,
    /// People sent down each exit (for splitting over equal routes).
    sent: Vec<u32>,
    service: Service,
    open: bool,
    venue: Option<Box<Venue>>,
    transit: Option<Box<Transit>>,
    stock: Vec<u32>,
    /// Service rate share (scenario slowdown) and the time it lasts until.
    slowdown: Option<(f64, SimTime)>,
    /// Factor on the service rate (gates, venues, shops, food) or on the
    /// departure capacity (transit) a live twin's member learns; 1.0 as planned.
    pub service_rate_factor: f64,
    /// KPI counters.
    pub counters: PlaceCounters,
    /// Whether it is full: it holds as many as it can, its queues at its
    /// exits' entrances included (see [`PlaceState::update_supply`]).
    full: bool,
    /// Per exit (in `Site::exits` order): people waiting at that walkway's
    /// entrance, standing here, as its walkway last reported.
    backlog: Vec<u32>,
    /// Their sum.
    backlog_total: u32,
    /// People coming onto the site here while it was full, waiting off the
    /// site (on their shuttle, behind the crowd's start) until it has
    /// room, with since when.
    held: VecDeque<(Person, SimTime)>,
    /// Per exit: whether the walkway has been told this place takes nobody
    /// more from it.
    closed_to: Vec<bool>,
    /// How many exits are closed to.
    closed: u32,
    /// When the held last came in.
    held_released: SimTime,
}

impl PlaceState {
    pub(crate) fn new(shared: &Shared, index: usize) -> Self {
        let place = &shared.site.scenario.places[index];
        let venue = (place.kind == PlaceKind::Venue).then(|| {
            let sessions = shared.sessions_by_venue[index].iter().map(|&s| (s, Vec::new())).collect();
            Box::new(Venue { seated: sessions, ..Venue::default() })
        });
        PlaceState {
            occupancy: 0,
            recorder: Recorder::new(shared.site.interval),
            sent: vec![0; shared.site.exits[index].len()],
            service: Service { serving: vec![None; place.servers as usize], waiting: VecDeque::new() },
            open: true,
            venue,
            transit: (place.kind == PlaceKind::Transit).then(Box::default),
            stock: place.items.iter().map(|i| i.stock).collect(),
            slowdown: None,
            service_rate_factor: 1.0,
            counters: PlaceCounters::default(),
            full: false,
            backlog: vec![0; shared.site.exits[index].len()],
            backlog_total: 0,
            held: VecDeque::new(),
            closed_to: vec![false; shared.site.exits[index].len()],
            closed: 0,
            held_released: SimTime::ZERO,
        }
    }

    /// People in the place's walkable area now (seated spectators excluded).
    pub fn occupancy(&self) -> u32 {
        self.occupancy
    }

    /// People queueing now.
    pub fn queue_length(&self) -> usize {
        self.service.waiting.len() + self.transit.as_ref().map_or(0, |t| t.waiting.len())
    }

    /// When `session` ended if its spectators are still leaving the stands
    /// (those all out are in `counters.egress`).
    pub fn session_ended_at(&self, session: u16) -> Option<SimTime> {
        self.venue.as_ref()?.leaving.iter().find(|l| l.0 == session).map(|l| l.1)
    }

    /// Stock left per item, in the scenario's item order.
    pub fn stock(&self) -> &[u32] {
        &self.stock
    }

    /// People waiting for a departure (transit places; 0 elsewhere).
    pub fn transit_waiting(&self) -> usize {
        self.transit.as_ref().map_or(0, |t| t.waiting.len())
    }

    /// A live twin's local correction at a transit stop: makes `target`
    /// people wait, moving people consistently: extra waiters leave (as by
    /// a departure, latest arrivals first); missing ones are people who
    /// left from here brought back to wait (latest first), so nobody is in
    /// two places. Returns whether the place needs a `Message::Departure`
    /// scheduled (the caller injects it), i.e. people wait and none is due.
    pub fn set_transit_waiting(&mut self, now: SimTime, target: usize) -> bool {
        let Some(transit) = self.transit.as_mut() else { return false };
        let mut delta = 0i32;
        while transit.waiting.len() > target {
            let (visitor, since) = transit.waiting.pop_back().expect("someone waits");
            transit.departed.push(visitor);
            self.recorder.queued(since, now);
            self.counters.departed += 1;
            delta -= 1;
        }
        while transit.waiting.len() < target {
            let Some(visitor) = transit.departed.pop() else { break };
            transit.waiting.push_back((visitor, now));
            self.counters.departed -= 1;
            delta += 1;
        }
        let schedule = !transit.waiting.is_empty() && !transit.departure_pending;
        transit.departure_pending |= schedule;
        if delta != 0 {
            self.change_occupancy(now, delta);
        }
        schedule
    }

    /// The service rate share now: the scenario's slowdown times the learned factor.
    fn rate_factor(&self, now: SimTime) -> f64 {
        let slowdown = match self.slowdown {
            Some((factor, until)) if now < until => factor,
            _ => 1.0,
        };
        (slowdown * self.service_rate_factor).max(1e-3)
    }

    /// Arrival times of everyone still queueing.
    pub(crate) fn waiting_since(&self) -> impl Iterator<Item = SimTime> + '_ {
        let transit = self.transit.iter().flat_map(|t| t.waiting.iter().map(|w| w.1));
        self.service.waiting.iter().map(|w| w.1).chain(transit)
    }

    fn change_occupancy(&mut self, now: SimTime, delta: i32) {
        self.occupancy = self.occupancy.checked_add_signed(delta).expect("place occupancy went negative");
        self.recorder.set_level(now, self.occupancy + self.backlog_total);
    }

    /// Person-seconds waited off the site by those held here, up to `now`
    /// (those still waiting included).
    pub fn held_wait_s(&self, now: SimTime) -> f64 {
        self.counters.held_s
            + self.held.iter().map(|(_, since)| now.saturating_since(*since).as_secs_f64()).sum::<f64>()
    }

    /// A walkway out of here reports how many wait at its entrance.
    fn set_backlog(&mut self, shared: &Shared, index: usize, walkway: u16, waiting: u32, now: SimTime) {
        let slot = shared.site.exits[index]
            .iter()
            .position(|e| e.walkway == u32::from(walkway))
            .expect("a backlog comes from a walkway out of the place");
        self.backlog_total = self.backlog_total - self.backlog[slot] + waiting;
        self.backlog[slot] = waiting;
        self.recorder.set_level(now, self.occupancy + self.backlog_total);
    }

    /// Whether the place holds as many as it can (its walkways hold back
    /// whoever would walk in).
    pub fn is_full(&self) -> bool {
        self.full
    }

    /// The place's supply: once it holds `hold_p` people, those waiting at
    /// its exits' entrances included, it tells every walkway leading in to
    /// hold its walkers back and holds off whoever would come onto the
    /// site here; once it is 2% below (at least one person) it lets them
    /// come again, and a venue resumes its egress. The word takes a
    /// handoff to reach the walkways and the walkers they release a
    /// handoff to come in, so it may pass `hold_p` by what its walkways
    /// carry in two handoffs (three when the queue at an exit filled it:
    /// its report takes one).
    fn update_supply(&mut self, shared: &Shared, index: usize, ctx: &mut Context<'_, Message>) {
        let hold = shared.site.scenario.places[index].hold_p;
        let level = self.occupancy + self.backlog_total;
        if self.closed == 0 && !self.full && level < hold && self.held.is_empty() {
            return; // nothing to tell anyone
        }
        let margin = hold.div_ceil(50).max(1);
        // Word of a queue at an exit reaches the walkways in only after a
        // round trip (the walkway's report, the place's word, the last
        // walkers coming in): a place cannot hold its queues to fewer than
        // its walkways bring in meanwhile, or it stops and starts them and
        // starves its own exits. What it cannot hold so stands in the
        // walkways before it; a small junction counts it at its own area.
        let limit = hold.max(round_trip_inflow_p(shared, index));
        let occupancy = self.occupancy;
        let is_full = |was: bool, count: u32| {
            if was { occupancy + margin > hold || count + margin > limit } else { occupancy >= hold || count >= limit }
        };
        let walkways = &shared.site.scenario.walkways;
        // Towards each walkway, up to a tenth of what the place holds of
        // the people waiting to step onto that same walkway is left out of
        // the count: two full places joined by a walkway still swap the
        // people who wait to cross it, instead of waiting on each other
        // for ever, and a place passes its limit so by at most a tenth.
        let swap = hold / SWAP_SHARE_INVERSE;
        for (slot, exit) in shared.site.exits[index].iter().enumerate() {
            let closed = is_full(self.closed_to[slot], level - self.backlog[slot].min(swap));
            if closed == self.closed_to[slot] {
                continue;
            }
            self.closed_to[slot] = closed;
            if closed {
                self.closed += 1;
            } else {
                self.closed -= 1;
            }
            let walkway = exit.walkway as usize;
            let direction = u8::from(walkways[walkway].b != index);
            let supply = Message::Supply { direction, open: !closed };
            ctx.send(ActorId::new(WALKWAY, walkway as u32), shared.site.handoff, supply);
        }
        let full = is_full(self.full, level);
        if full != self.full {
            self.full = full;
            if let Some(venue) = self.venue.as_mut()
                && !full
                && !venue.egress_pending
                && !venue.egress.is_empty()
            {
                venue.egress_pending = true;
                ctx.send(ctx.me(), SimDuration::ZERO, Message::EgressRelease);
            }
        }
        let now = ctx.now();
        if !full && !self.held.is_empty() && now >= self.held_released + shared.site.handoff {
            // Let in as many as there is room for, at most a fiftieth of
            // what it holds per handoff: those who walk on reach the count
            // only when their walkway reports its queue.
            self.held_released = now;
            let room = limit.saturating_sub(level).min(margin);
            for _ in 0..room.min(self.held.len() as u32) {
                let (person, since) = self.held.pop_front().expect("someone is held");
                self.counters.held_s += now.saturating_since(since).as_secs_f64();
                self.come_in(shared, index, person, ctx);
            }
        }
    }

    pub(crate) fn handle(&mut self, shared: &Shared, index: usize, message: Message, ctx: &mut Context<'_, Message>) {
        self.dispatch(shared, index, message, ctx);
        self.update_supply(shared, index, ctx);
    }

    fn dispatch(&mut self, shared: &Shared, index: usize, message: Message, ctx: &mut Context<'_, Message>) {
        let now = ctx.now();
        match message {
            Message::Arrive { person } => self.arrive(shared, index, person, ctx),
            Message::Backlog { walkway, waiting } => self.set_backlog(shared, index, walkway, waiting, now),
            Message::Depart { person } if person.destination as usize == index => {
                // Staying: already counted here.
                self.at_destination(shared, index, person, ctx);
            }
            Message::Depart { person } => {
                self.change_occupancy(now, -1);
                self.recorder.transient(now, now + shared.site.handoff);
                self.forward(shared, index, person, ctx);
            }
            Message::ServiceDone { server } => {
                let person = self.service.serving[server as usize].take().expect("a server finished nobody");
                self.counters.served += 1;
                self.start_next(shared, index, server as usize, ctx);
                self.served(shared, index, person, ctx);
            }
            Message::SessionEnd { session } => self.session_end(session, ctx),
            Message::EgressRelease => self.egress_release(shared, index, ctx),
            Message::Departure => self.departure(shared, index, ctx),
            Message::SetGate { open } => {
                self.open = open;
                if !open {
                    // Everyone still queueing turns back the way they came.
                    for (person, since) in std::mem::take(&mut self.service.waiting) {
                        self.recorder.queued(since, now);
                        self.change_occupancy(now, -1);
                        self.turn_back(shared, index, person, ctx);
                    }
                }
            }
            Message::DelaySession { session, delay_s } => {
                let venue = self.venue.as_mut().expect("sessions are delayed at venues");
                let end = shared.site.scenario.sessions[session as usize].end + SimDuration::from_secs(delay_s as u64);
                venue.delayed.retain(|d| d.0 != session);
                venue.delayed.push((session, end));
            }
            Message::SlowService { rate_factor, until } => self.slowdown = Some((rate_factor as f64, until)),
            Message::Disrupt { capacity_factor, until } => {
                let transit = self.transit.as_mut().expect("disruptions are at transit places");
                transit.disruption = Some((capacity_factor as f64, until));
            }
            other => panic!("place {} cannot handle {other:?}", shared.site.scenario.places[index].id),
        }
    }

    fn arrive(&mut self, shared: &Shared, index: usize, person: Person, ctx: &mut Context<'_, Message>) {
        let now = ctx.now();
        if person.via == NO_WALKWAY && person.flags & FLAG_LINGERING == 0 && (self.full || !self.held.is_empty()) {
            // Coming onto the site here while it is full: they wait off
            // the site, first come first in, until it has room.
            self.counters.held += 1;
            self.held.push_back((person, now));
            return;
        }
        self.come_in(shared, index, person, ctx);
    }

    /// A person arriving who may come in.
    fn come_in(&mut self, shared: &Shared, index: usize, person: Person, ctx: &mut Context<'_, Message>) {
        let place = &shared.site.scenario.places[index];
        let now = ctx.now();
        if place.kind == PlaceKind::Gate && person.flags & FLAG_SCREENED == 0 {
            if !self.open {
                self.counters.turned_back += 1;
                self.recorder.transient(now, now + shared.site.handoff);
                return self.turn_back(shared, index, person, ctx);
            }
            self.recorder.entry(now);
            self.change_occupancy(now, 1);
            return self.queue(shared, index, person, ctx);
        }
        if person.destination as usize != index {
            return self.pass_through(shared, index, person, ctx);
        }
        self.counters.arrivals += 1;
        self.recorder.entry(now);
        self.change_occupancy(now, 1);
        self.at_destination(shared, index, person, ctx);
    }

    /// A person crossing on their way elsewhere: on a plaza they may stop
    /// for a while (counted in the occupancy meanwhile, then sent on), and
    /// elsewhere they walk straight on.
    fn pass_through(&mut self, shared: &Shared, index: usize, mut person: Person, ctx: &mut Context<'_, Message>) {
        let now = ctx.now();
        if person.flags & FLAG_LINGERING != 0 {
            // Back from a stay on this plaza.
            person.flags &= !FLAG_LINGERING;
            self.change_occupancy(now, -1);
            return self.forward(shared, index, person, ctx);
        }
        self.counters.passed_through += 1;
        let Some(stay) = self.linger_s(shared, index, &person, ctx) else {
            self.recorder.transient(now, now + shared.site.handoff);
            return self.forward(shared, index, person, ctx);
        };
        self.counters.lingered += 1;
        self.recorder.entry(now);
        self.change_occupancy(now, 1);
        person.flags |= FLAG_LINGERING;
        ctx.send(ctx.me(), SimDuration::from_secs_f64(stay), Message::Arrive { person });
    }

    /// How long `person`, crossing this place, stops here, s: on a plaza,
    /// with `plaza_linger_probability`, a stay drawn from
    /// `plaza_linger_min`, cut to the time they have to spare before their
    /// session; `None` when they walk straight on.
    fn linger_s(&self, shared: &Shared, index: usize, person: &Person, ctx: &mut Context<'_, Message>) -> Option<f64> {
        let scenario = &shared.site.scenario;
        let visitors = scenario.visitors.as_ref().filter(|v| {
            scenario.places[index].kind == PlaceKind::Plaza
                && person.flags & FLAG_CROWD == 0
                && v.plaza_linger_probability > 0.0
        })?;
        if !ctx.rng().chance(visitors.plaza_linger_probability) {
            return None;
        }
        let [shortest, longest] = visitors.plaza_linger_s;
        let mut stay = super::visitor::uniform(ctx.rng(), shortest, longest);
        if person.session != NO_SESSION {
            stay = stay.min(super::visitor::slack_s(shared, index, person.session, ctx.now()));
        }
        (stay > 0.0).then_some(stay)
    }

    /// A person (counted in the occupancy) is at their destination.
    fn at_destination(&mut self, shared: &Shared, index: usize, person: Person, ctx: &mut Context<'_, Message>) {
        let place = &shared.site.scenario.places[index];
        let now = ctx.now();
        match place.kind {
            PlaceKind::Venue if person.session != NO_SESSION => self.queue(shared, index, person, ctx),
            PlaceKind::Shop | PlaceKind::Food => {
                let expected_wait_s = self.service.waiting.len() as f64 / place.servers as f64 * place.service_s;
                if expected_wait_s > SHOP_BALK_WAIT_S {
                    self.counters.balked += 1;
                    self.done_here(shared, index, person, ctx);
                } else {
                    self.queue(shared, index, person, ctx);
                }
            }
            PlaceKind::Transit if person.flags & FLAG_LEAVING != 0 => {
                let transit = self.transit.as_mut().expect("transit state");
                transit.waiting.push_back((person.visitor, now));
                if !transit.departure_pending {
                    transit.departure_pending = true;
                    let interval = SimDuration::from_secs_f64(place.departure_interval_s).as_micros();
                    let next = SimTime(now.as_micros().div_ceil(interval) * interval);
                    ctx.send_at(ctx.me(), next, Message::Departure);
                }
            }
            _ => self.done_here(shared, index, person, ctx),
        }
    }

    /// Joins the queue for a lane or server, or starts service at once.
    fn queue(&mut self, shared: &Shared, index: usize, person: Person, ctx: &mut Context<'_, Message>) {
        match self.service.serving.iter().position(Option::is_none) {
            Some(server) => {
                self.recorder.wait(ctx.now(), SimDuration::ZERO);
                self.serve(shared, index, server, person, ctx);
            }
            None => self.service.waiting.push_back((person, ctx.now())),
        }
    }

    fn serve(&mut self, shared: &Shared, index: usize, server: usize, person: Person, ctx: &mut Context<'_, Message>) {
        let mean = shared.site.scenario.places[index].service_s / self.rate_factor(ctx.now());
        let duration = SimDuration::from_secs_f64(ctx.rng().exponential(mean));
        self.service.serving[server] = Some(person);
        ctx.send(ctx.me(), duration, Message::ServiceDone { server: server as u16 });
    }

    fn start_next(&mut self, shared: &Shared, index: usize, server: usize, ctx: &mut Context<'_, Message>) {
        if let Some((person, since)) = self.service.waiting.pop_front() {
            self.recorder.queued(since, ctx.now());
            self.serve(shared, index, server, person, ctx);
        }
    }

    /// Service finished: screened at a gate, admitted at a venue, sold to at a shop.
    fn served(&mut self, shared: &Shared, index: usize, mut person: Person, ctx: &mut Context<'_, Message>) {
        let place = &shared.site.scenario.places[index];
        let now = ctx.now();
        match place.kind {
            PlaceKind::Gate => {
                person.flags |= FLAG_SCREENED;
                if person.destination as usize == index {
                    self.done_here(shared, index, person, ctx);
                } else {
                    self.change_occupancy(now, -1);
                    self.recorder.transient(now, now + shared.site.handoff);
                    self.forward(shared, index, person, ctx);
                }
            }
            PlaceKind::Venue => {
                let venue = self.venue.as_mut().expect("venue state");
                let session = person.session;
                if venue.ended.contains(&session) {
                    // Too late: straight back out.
                    return self.done_here(shared, index, person, ctx);
                }
                let seats = venue.seated.iter_mut().find(|s| s.0 == session).expect("ticket for a session held here");
                seats.1.push(person.visitor);
                self.change_occupancy(now, -1);
                bump(&mut self.counters.seated, session);
                if now <= shared.site.scenario.sessions[session as usize].start {
                    bump(&mut self.counters.seated_on_time, session);
                }
            }
            PlaceKind::Shop | PlaceKind::Food => {
                let in_stock: Vec<usize> = (0..self.stock.len()).filter(|&i| self.stock[i] > 0).collect();
                if in_stock.is_empty() {
                    self.counters.sold_out += 1;
                } else {
                    let item = in_stock[ctx.rng().below(in_stock.len() as u64) as usize];
                    self.stock[item] -= 1;
                    self.counters.orders += 1;
                    self.counters.revenue += place.items[item].price;
                }
                self.done_here(shared, index, person, ctx);
            }
            _ => unreachable!("{} places serve nobody", place.kind.as_str()),
        }
    }

    /// The person is done at their destination: a visitor decides what
    /// next; a crowd member leaves the model.
    fn done_here(&mut self, shared: &Shared, index: usize, person: Person, ctx: &mut Context<'_, Message>) {
        if person.flags & FLAG_CROWD != 0 {
            self.counters.crowd_arrivals += 1;
            self.change_occupancy(ctx.now(), -1);
            return;
        }
        ctx.send(ActorId::new(VISITOR, person.visitor), shared.site.handoff, Message::Ready { place: index as u16 });
    }

    /// Sends a person down the next walkway towards their destination,
    /// splitting people over equally good routes by capacity.
    fn forward(&mut self, shared: &Shared, index: usize, person: Person, ctx: &mut Context<'_, Message>) {
        let destination = person.destination as usize;
        debug_assert_ne!(destination, index, "forwarding to where one is");
        let hops = shared.site.routing_at(ctx.now()).next_hops(index, destination);
        let exits = &shared.site.exits[index];
        let walkways = &shared.site.scenario.walkways;
        let Some(&slot) = hops.iter().min_by(|&&a, &&b| {
            let load = |s: u16| {
                (self.sent[s as usize] as f64 + 1.0) / walkways[exits[s as usize].walkway as usize].capacity_p_per_s
            };
            load(a).total_cmp(&load(b)).then(a.cmp(&b))
        }) else {
            self.counters.stranded += 1;
            return;
        };
        self.sent[slot as usize] += 1;
        let walkway = exits[slot as usize].walkway;
        ctx.send(ActorId::new(WALKWAY, walkway), shared.site.handoff, Message::Enter { person, from: index as u16 });
    }

    /// Sends an unscreened person back down the walkway they came by.
    fn turn_back(&mut self, shared: &Shared, index: usize, person: Person, ctx: &mut Context<'_, Message>) {
        if person.via == NO_WALKWAY {
            self.counters.stranded += 1;
            return;
        }
        ctx.send(
            ActorId::new(WALKWAY, person.via as u32),
            shared.site.handoff,
            Message::Enter { person, from: index as u16 },
        );
    }

    fn session_end(&mut self, session: u16, ctx: &mut Context<'_, Message>) {
        let venue = self.venue.as_mut().expect("sessions end at venues");
        if let Some(&(_, end)) = venue.delayed.iter().find(|d| d.0 == session)
            && end > ctx.now()
        {
            return ctx.send_at(ctx.me(), end, Message::SessionEnd { session });
        }
        venue.ended.push(session);
        let seats = venue.seated.iter_mut().find(|s| s.0 == session).expect("session held here");
        venue.egress.extend(seats.1.drain(..));
        let now = ctx.now();
        let last = venue.released + venue.egress.len() as u64;
        if last == venue.released {
            self.counters.egress.push(SessionEgress { session, ended: now, out: now });
        } else {
            venue.leaving.push_back((session, now, last));
        }
        if !venue.egress_pending && !venue.egress.is_empty() {
            venue.egress_pending = true;
            ctx.send(ctx.me(), SimDuration::ZERO, Message::EgressRelease);
        }
    }

    fn egress_release(&mut self, shared: &Shared, index: usize, ctx: &mut Context<'_, Message>) {
        let venue = self.venue.as_mut().expect("egress is at venues");
        if self.full {
            // The concourse is full: spectators stay seated until it has room.
            venue.egress_pending = false;
            return;
        }
        let Some(visitor) = venue.egress.pop_front() else {
            venue.egress_pending = false;
            return;
        };
        venue.released += 1;
        while let Some(&(session, ended, last)) = venue.leaving.front()
            && last <= venue.released
        {
            venue.leaving.pop_front();
            self.counters.egress.push(SessionEgress { session, ended, out: ctx.now() });
        }
        let more = !venue.egress.is_empty();
        venue.egress_pending = more;
        if more {
            let headway = 1.0 / shared.site.scenario.places[index].egress_p_per_s;
            ctx.send(ctx.me(), SimDuration::from_secs_f64(headway), Message::EgressRelease);
        }
        self.change_occupancy(ctx.now(), 1);
        let person =
            Person { visitor, destination: index as u16, session: NO_SESSION, via: NO_WALKWAY, flags: FLAG_SCREENED };
        self.done_here(shared, index, person, ctx);
    }

    fn departure(&mut self, shared: &Shared, index: usize, ctx: &mut Context<'_, Message>) {
        let place = &shared.site.scenario.places[index];
        let now = ctx.now();
        let transit = self.transit.as_mut().expect("departures are at transit places");
        let factor = match transit.disruption {
            Some((factor, until)) if now < until => factor,
            _ => 1.0,
        };
        let capacity = (place.departure_capacity as f64 * factor * self.service_rate_factor).floor() as usize;
        let leaving = capacity.min(transit.waiting.len());
        let departed: Vec<(u32, SimTime)> = transit.waiting.drain(..leaving).collect();
        transit.departed.extend(departed.iter().map(|d| d.0));
        let more = !transit.waiting.is_empty();
        transit.departure_pending = more;
        if more {
            ctx.send(ctx.me(), SimDuration::from_secs_f64(place.departure_interval_s), Message::Departure);
        }
        for (_, since) in departed {
            self.recorder.queued(since, now);
        }
        self.counters.departed += leaving as u64;
        self.change_occupancy(now, -(leaving as i32));
    }
}

fn bump(counts: &mut Vec<(u16, u32)>, session: u16) {
    match counts.iter_mut().find(|c| c.0 == session) {
        Some(c) => c.1 += 1,
        None => counts.push((session, 1)),
    }
}

/// The place actor of place `index`.
pub(crate) fn place_id(index: usize) -> ActorId {
    ActorId::new(PLACE, index as u32)
}
