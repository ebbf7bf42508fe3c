//! A visitor actor: arrives by transit, passes security, goes to its
//! sessions, eats, shops and lingers in free time, and leaves by transit.

use super::travel::recommend_errand;
use super::{FLAG_CROWD, FLAG_LEAVING, FLAG_SCREENED, Message, NO_SESSION, NO_WALKWAY, PLACE, Person, Shared};
use crate::kernel::{ActorId, ActorRng, Context, SimDuration, SimTime};
use crate::model::{ACTIVITY_KINDS, Tuning};
use crate::scenario::PlaceKind;

/// Most tickets one visitor holds.
pub const TICKETS_PER_VISITOR_MAX: usize = 4;
/// Time a visitor allows for entering a venue before its session, s.
pub const VENUE_ENTRY_BUFFER_S: f64 = 600.0;
/// A free slot must be this long for food or shopping, s.
pub const ERRAND_SLACK_MIN_S: f64 = 1_800.0;
/// A free slot must be this long for a fan zone, s.
pub const FAN_ZONE_SLACK_MIN_S: f64 = 1_200.0;

/// What kind of visitor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[repr(u8)]
pub enum VisitorKind {
    /// Holds tickets to sessions.
    TicketHolder,
    /// Comes for the park, with no ticket.
    WalkIn,
    /// Member of a crowd: walks from one place to another and leaves.
    Crowd,
}

const DID_FOOD: u8 = 1;
const DID_SHOP: u8 = 2;
const DID_FAN_ZONE: u8 = 4;
const EATING: u8 = 8;
const AT_FAN_ZONE: u8 = 16;
const SKIPS_SCREENING: u8 = 32;
const FOLLOWS_RECOMMENDATIONS: u8 = 64;

/// State of one visitor (24 bytes).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Visitor {
    /// Session indices of the tickets held, in time order.
    pub tickets: [u16; TICKETS_PER_VISITOR_MAX],
    /// Tickets already used (or skipped).
    pub next_ticket: u8,
    /// Kind.
    pub kind: VisitorKind,
    flags: u8,
    /// Where the visitor arrives and leaves (a transit place, or a crowd's origin).
    pub origin: u16,
    /// Where the visitor is idle now.
    pub location: u16,
    /// Crowd members: crowd index. Walk-ins: minutes after the start when they leave.
    pub target: u16,
    /// Crowd members: legs walked.
    pub legs: u32,
}

impl Visitor {
    /// A ticket holder or walk-in arriving at `origin`.
    pub fn new(kind: VisitorKind, origin: u16, tickets: &[u16], target: u16) -> Self {
        assert!(tickets.len() <= TICKETS_PER_VISITOR_MAX, "too many tickets");
        let mut held = [NO_SESSION; TICKETS_PER_VISITOR_MAX];
        held[..tickets.len()].copy_from_slice(tickets);
        Visitor { tickets: held, next_ticket: 0, kind, flags: 0, origin, location: origin, target, legs: 0 }
    }

    /// Crowd members who skip security.
    pub(crate) fn mark_screened(&mut self) {
        self.flags |= SKIPS_SCREENING;
    }

    /// A crowd member's next stop, with `FLAG_CROWD` on the last leg (they
    /// leave the model there).
    fn crowd_leg(&self, shared: &Shared) -> (u16, u8) {
        let crowd = &shared.site.scenario.crowds[self.target as usize];
        let legs_total = crowd.stops.len() as u32 * crowd.laps;
        let destination = crowd.stops[self.legs as usize % crowd.stops.len()] as u16;
        let screened = if self.flags & SKIPS_SCREENING != 0 || self.legs > 0 { FLAG_SCREENED } else { 0 };
        let last = if self.legs + 1 >= legs_total { FLAG_CROWD } else { 0 };
        (destination, screened | last)
    }

    fn next_session(&self) -> Option<u16> {
        self.tickets.get(self.next_ticket as usize).copied().filter(|&s| s != NO_SESSION)
    }

    pub(crate) fn handle(
        &mut self,
        shared: &Shared,
        tuning: &Tuning,
        index: usize,
        message: Message,
        ctx: &mut Context<'_, Message>,
    ) {
        match message {
            Message::Begin if self.kind != VisitorKind::Crowd && !shared.comes(index, tuning) => {
                // Stays at home in this member of the ensemble.
            }
            Message::Begin => {
                self.location = self.origin;
                if self.kind != VisitorKind::Crowd && shared.follows(index) {
                    self.flags |= FOLLOWS_RECOMMENDATIONS;
                }
                let (destination, session, flags) = match self.kind {
                    VisitorKind::Crowd => {
                        let (destination, flags) = self.crowd_leg(shared);
                        (destination, NO_SESSION, flags)
                    }
                    _ => {
                        let (destination, session) = self.decide(shared, tuning, ctx);
                        (destination, session, 0)
                    }
                };
                let person = Person { visitor: index as u32, destination, session, via: NO_WALKWAY, flags };
                ctx.send(place(self.origin), shared.site.handoff, Message::Arrive { person });
            }
            Message::Ready { place: at } if self.kind == VisitorKind::Crowd => {
                self.location = at;
                self.legs += 1;
                let (destination, flags) = self.crowd_leg(shared);
                let person = Person { visitor: index as u32, destination, session: NO_SESSION, via: NO_WALKWAY, flags };
                ctx.send(place(self.location), shared.site.handoff, Message::Depart { person });
            }
            Message::Ready { place: at } => {
                self.location = at;
                let kind = shared.site.scenario.places[at as usize].kind;
                if kind == PlaceKind::Venue {
                    // Back out of a session: a new free slot.
                    self.flags &= !(DID_FOOD | DID_SHOP | DID_FAN_ZONE);
                }
                if kind == PlaceKind::Food && self.flags & EATING == 0 {
                    self.flags |= EATING;
                    let [shortest, longest] = visitors(shared).eat_s;
                    let eat = uniform(ctx.rng(), shortest, longest)
                        * tuning.dwell_factor
                        * behaviour_dwell(shared, at as usize, ctx.now());
                    return ctx.send(ctx.me(), SimDuration::from_secs_f64(eat), Message::Wake);
                }
                if kind == PlaceKind::FanZone && self.flags & AT_FAN_ZONE == 0 {
                    self.flags |= AT_FAN_ZONE;
                    let [shortest, longest] = visitors(shared).fan_zone_dwell_s;
                    let mut dwell = uniform(ctx.rng(), shortest, longest)
                        * tuning.dwell_factor
                        * behaviour_dwell(shared, at as usize, ctx.now());
                    if let Some(session) = self.next_session() {
                        dwell = dwell.min(self.slack_s(shared, session, ctx.now())).max(0.0);
                    }
                    return ctx.send(ctx.me(), SimDuration::from_secs_f64(dwell), Message::Wake);
                }
                self.depart(shared, tuning, index, ctx);
            }
            Message::Wake => {
                self.flags &= !(EATING | AT_FAN_ZONE);
                self.depart(shared, tuning, index, ctx);
            }
            other => panic!("visitor {index} cannot handle {other:?}"),
        }
    }

    fn depart(&mut self, shared: &Shared, tuning: &Tuning, index: usize, ctx: &mut Context<'_, Message>) {
        let (destination, session) = self.decide(shared, tuning, ctx);
        let leaving = if session == NO_SESSION && destination == self.origin { FLAG_LEAVING } else { 0 };
        let person =
            Person { visitor: index as u32, destination, session, via: NO_WALKWAY, flags: FLAG_SCREENED | leaving };
        ctx.send(place(self.location), shared.site.handoff, Message::Depart { person });
    }

    /// Free time before leaving for `session`, s.
    fn slack_s(&self, shared: &Shared, session: u16, now: SimTime) -> f64 {
        slack_s(shared, self.location as usize, session, now)
    }

    /// The next destination (and session, if it is a ticketed venue).
    fn decide(&mut self, shared: &Shared, tuning: &Tuning, ctx: &mut Context<'_, Message>) -> (u16, u16) {
        let params = visitors(shared);
        let now = ctx.now();
        let [food, shop, fan_zone] = ACTIVITY_KINDS.map(|kind| activity_attraction(shared, tuning, kind, now));
        let errands = |me: &mut Visitor, ctx: &mut Context<'_, Message>, slack_s: f64, scale: f64| -> Option<u16> {
            if slack_s > ERRAND_SLACK_MIN_S && me.flags & DID_FOOD == 0 {
                me.flags |= DID_FOOD;
                if ctx.rng().chance(params.food_probability * scale * food) {
                    return me.nearby(shared, &shared.site.food, ctx.rng(), now);
                }
            }
            if slack_s > ERRAND_SLACK_MIN_S && me.flags & DID_SHOP == 0 {
                me.flags |= DID_SHOP;
                if ctx.rng().chance(params.shop_probability * scale * shop) {
                    return me.nearby(shared, &shared.site.shops, ctx.rng(), now);
                }
            }
            if slack_s > FAN_ZONE_SLACK_MIN_S && me.flags & DID_FAN_ZONE == 0 {
                me.flags |= DID_FAN_ZONE;
                // Walk-ins come for the park: they always see the fan zone.
                let p = if me.kind == VisitorKind::WalkIn {
                    fan_zone
                } else {
                    params.fan_zone_probability * scale * fan_zone
                };
                if ctx.rng().chance(p) {
                    return me.nearby(shared, &shared.site.fan_zones, ctx.rng(), now);
                }
            }
            None
        };
        if let Some(session) = self.next_session() {
            let slack = self.slack_s(shared, session, now);
            if let Some(errand) = errands(self, ctx, slack, 1.0) {
                return (errand, NO_SESSION);
            }
            self.next_ticket += 1;
            let venue = shared.site.scenario.sessions[session as usize].venue;
            return (venue as u16, session);
        }
        let (slack, scale) = match self.kind {
            VisitorKind::WalkIn => ((self.target as f64 * 60.0) - now.as_micros() as f64 / 1e6, 1.0),
            // After the last session: fewer errands, then home.
            _ => (ERRAND_SLACK_MIN_S + 1.0, 0.5),
        };
        if let Some(errand) = errands(self, ctx, slack, scale) {
            return (errand, NO_SESSION);
        }
        (self.origin, NO_SESSION)
    }

    /// One of `places`: for a visitor who follows recommendations, where
    /// the plan's congestion says they are served soonest; for others,
    /// nearer ones likelier (weight `1 / (1 + minutes)^2`).
    fn nearby(&self, shared: &Shared, places: &[u32], rng: &mut ActorRng, now: SimTime) -> Option<u16> {
        if let Some(advice) = shared.advice.as_ref().filter(|_| self.flags & FOLLOWS_RECOMMENDATIONS != 0) {
            let (network, congestion) = (&advice.network, &advice.congestion);
            let draw = rng.uniform();
            return recommend_errand(network, congestion, self.location as usize, now, places, draw).map(|p| p as u16);
        }
        let routing = shared.site.routing_at(now);
        let weight = |p: u32| {
            let cost = routing.cost_s(self.location as usize, p as usize);
            let outdoor = outdoor_weight(shared, p as usize, now);
            if cost.is_finite() { outdoor / (1.0 + cost / 60.0).powi(2) } else { 0.0 }
        };
        let total: f64 = places.iter().map(|&p| weight(p)).sum();
        if total <= 0.0 {
            return None;
        }
        let mut pick = rng.uniform() * total;
        for &p in places {
            pick -= weight(p);
            if pick < 0.0 {
                return Some(p as u16);
            }
        }
        places.iter().rev().find(|&&p| weight(p) > 0.0).map(|&p| p as u16)
    }
}

/// The behaviour interventions (weather) in force at `now`.
fn behaviours(shared: &Shared, now: SimTime) -> impl Iterator<Item = &crate::scenario::Behaviour> {
    shared.site.scenario.interventions.iter().filter_map(move |i| match i {
        crate::scenario::Intervention::Behaviour(b) if b.active(now) => Some(&**b),
        _ => None,
    })
}

/// Factor on choosing activity `kind` at `now`: the member's learned
/// attraction times that of every behaviour in force for the kind (also
/// an outdoor one, where every place of the kind is outdoor).
fn activity_attraction(shared: &Shared, tuning: &Tuning, kind: PlaceKind, now: SimTime) -> f64 {
    let learned = ACTIVITY_KINDS.iter().position(|k| *k == kind).map_or(1.0, |i| tuning.attraction[i]);
    let places = &shared.site.scenario.places;
    let all_outdoor = places.iter().filter(|p| p.kind == kind).all(|p| p.outdoor);
    behaviours(shared, now)
        .filter(|b| b.kinds.contains(&kind) || (b.outdoor && all_outdoor))
        .fold(learned, |factor, b| factor * b.attraction)
}

/// Weight of place `p` among its kind at `now`: the attraction of an
/// outdoor behaviour in force that does not already apply to the kind.
fn outdoor_weight(shared: &Shared, p: usize, now: SimTime) -> f64 {
    let place = &shared.site.scenario.places[p];
    if !place.outdoor {
        return 1.0;
    }
    let places = &shared.site.scenario.places;
    let all_outdoor = places.iter().filter(|q| q.kind == place.kind).all(|q| q.outdoor);
    behaviours(shared, now)
        .filter(|b| b.outdoor && !b.kinds.contains(&place.kind) && !all_outdoor)
        .fold(1.0, |factor, b| factor * b.attraction)
}

/// Factor on dwelling at place `p` at `now` from the behaviours in force.
fn behaviour_dwell(shared: &Shared, p: usize, now: SimTime) -> f64 {
    let place = &shared.site.scenario.places[p];
    behaviours(shared, now)
        .filter(|b| b.applies(place.kind, place.outdoor))
        .fold(1.0, |factor, b| factor * b.dwell_factor)
}

fn visitors(shared: &Shared) -> &crate::scenario::Visitors {
    shared.site.scenario.visitors.as_ref().expect("ticket holders and walk-ins come from [visitors]")
}

fn place(index: u16) -> ActorId {
    ActorId::new(PLACE, index as u32)
}

/// Free time, s, that someone at place `from` has at `now` before they must
/// leave for `session` (its start less the walk there and
/// [`VENUE_ENTRY_BUFFER_S`]).
pub(crate) fn slack_s(shared: &Shared, from: usize, session: u16, now: SimTime) -> f64 {
    let session = &shared.site.scenario.sessions[session as usize];
    let travel = shared.site.routing_at(now).cost_s(from, session.venue);
    session.start.as_micros() as f64 / 1e6 - now.as_micros() as f64 / 1e6 - travel - VENUE_ENTRY_BUFFER_S
}

/// Uniform in `[low, high]`.
pub(crate) fn uniform(rng: &mut ActorRng, low: f64, high: f64) -> f64 {
    low + (high - low) * rng.uniform()
}
