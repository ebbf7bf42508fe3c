//! Who comes: ticket holders for the sessions, walk-ins, and crowds, with
//! their arrival times, drawn from one stream derived from the seed.

use super::visitor::{TICKETS_PER_VISITOR_MAX, Visitor, VisitorKind, uniform};
use crate::kernel::{ActorRng, SimDuration, SimTime};
use crate::scenario::{CrowdArrival, PlaceKind, Scenario};
use serde::Serialize;

/// Gap a visitor leaves between the end of one session and the start of the next, s.
pub const SESSION_GAP_MIN_S: f64 = 2_700.0;
/// The population's random stream is the one of this (otherwise unused) actor number.
const POPULATION_STREAM: u32 = u32::MAX - 1;
/// The unplanned walk-ins' stream (see [`unplanned_walk_ins`]).
const UNPLANNED_WALK_IN_STREAM: u32 = u32::MAX - 5;

/// Counts of who was generated.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PopulationSummary {
    /// Visitors with tickets.
    pub ticket_holders: u64,
    /// Tickets assigned.
    pub tickets: u64,
    /// Tickets the sessions offered but no visitor could take (visitor count too small).
    pub tickets_unsold: u64,
    /// Visitors with no ticket.
    pub walk_ins: u64,
    /// Crowd members.
    pub crowd_members: u64,
}

/// Triangular on `[low, high]` with the given mode (inverse transform).
fn triangular(rng: &mut ActorRng, low: f64, mode: f64, high: f64) -> f64 {
    if high <= low {
        return low;
    }
    let u = rng.uniform();
    let split = (mode - low) / (high - low);
    if u < split {
        low + (u * (high - low) * (mode - low)).sqrt()
    } else {
        high - ((1.0 - u) * (high - low) * (high - mode)).sqrt()
    }
}

/// Index drawn with probability proportional to `weights` (not all zero).
fn pick(rng: &mut ActorRng, weights: impl Iterator<Item = f64> + Clone) -> Option<usize> {
    let total: f64 = weights.clone().sum();
    if total <= 0.0 {
        return None;
    }
    let mut x = rng.uniform() * total;
    let mut last = None;
    for (i, w) in weights.enumerate() {
        if w > 0.0 {
            last = Some(i);
            x -= w;
            if x < 0.0 {
                return Some(i);
            }
        }
    }
    last
}

/// Transit places with their arrival shares.
fn transit_shares(scenario: &Scenario) -> Vec<(usize, f64)> {
    scenario
        .places
        .iter()
        .enumerate()
        .filter(|(_, p)| p.kind == PlaceKind::Transit)
        .map(|(i, p)| (i, p.arrival_share))
        .collect()
}

/// One walk-in of the scenario's `[visitors]`: arrival in the walk-in
/// window, stay, and the transit place they come by.
fn walk_in(rng: &mut ActorRng, scenario: &Scenario, transit: &[(usize, f64)]) -> (Visitor, SimTime) {
    let params = scenario.visitors.as_ref().expect("walk-ins come from [visitors]");
    let end = scenario.end();
    let (from, to) = params.walk_in_window;
    let at = SimTime(from.as_micros() + ((to.as_micros() - from.as_micros()) as f64 * rng.uniform()) as u64);
    let [shortest, longest] = params.walk_in_stay_s;
    let leave_s = (at.as_micros() as f64 / 1e6 + uniform(rng, shortest, longest)).min(end.as_micros() as f64 / 1e6);
    let origin = transit[pick(rng, transit.iter().map(|t| t.1)).expect("transit shares checked")].0;
    let leave_min = (leave_s / 60.0).min(u16::MAX as f64) as u16;
    (Visitor::new(VisitorKind::WalkIn, origin as u16, &[], leave_min), at)
}

/// `count` walk-ins the scenario does not plan, for a live twin to learn
/// how many more than planned come (`Tuning::unplanned_walk_in_share`):
/// drawn like the scenario's walk-ins but from their own stream, so the
/// planned population is the same with or without them.
pub fn unplanned_walk_ins(scenario: &Scenario, seed: u64, count: u64) -> Vec<(Visitor, SimTime)> {
    if scenario.visitors.is_none() {
        return Vec::new();
    }
    let mut rng = ActorRng::for_actor(seed, UNPLANNED_WALK_IN_STREAM);
    let transit = transit_shares(scenario);
    (0..count).map(|_| walk_in(&mut rng, scenario, &transit)).collect()
}

/// Generates the visitors, their arrivals (visitor index, time) and a summary.
/// With `headroom` > 1, generates that many times the visitors and tickets
/// (a live twin's ensemble picks who actually comes). Ticket holders are
/// drawn first, then walk-ins, then crowd members, all from one stream.
pub fn generate(
    scenario: &Scenario,
    seed: u64,
    headroom: f64,
) -> (Vec<Visitor>, Vec<(u32, SimTime)>, PopulationSummary) {
    let mut rng = ActorRng::for_actor(seed, POPULATION_STREAM);
    let mut drawn = Drawn::default();
    if let Some(params) = &scenario.visitors {
        let transit = transit_shares(scenario);
        let count = (params.count as f64 * headroom).round() as u64;
        ticket_holders(&mut rng, scenario, headroom, count, &transit, &mut drawn);
        while (drawn.visitors.len() as u64) < count {
            let (visitor, at) = walk_in(&mut rng, scenario, &transit);
            drawn.push(visitor, at);
            drawn.summary.walk_ins += 1;
        }
    }
    crowd_members(&mut rng, scenario, &mut drawn);
    (drawn.visitors, drawn.arrivals, drawn.summary)
}

/// The population as it is drawn.
#[derive(Default)]
struct Drawn {
    visitors: Vec<Visitor>,
    /// (visitor index, arrival).
    arrivals: Vec<(u32, SimTime)>,
    summary: PopulationSummary,
}

impl Drawn {
    /// Adds a visitor who arrives at `at`.
    fn push(&mut self, visitor: Visitor, at: SimTime) {
        self.arrivals.push((self.visitors.len() as u32, at));
        self.visitors.push(visitor);
    }
}

/// Ticket holders, until the sessions' tickets (times `headroom`) are
/// taken or `count` visitors are drawn: each with their sessions, an
/// arrival before the first and the transit place they come by.
fn ticket_holders(
    rng: &mut ActorRng,
    scenario: &Scenario,
    headroom: f64,
    count: u64,
    transit: &[(usize, f64)],
    drawn: &mut Drawn,
) {
    let params = scenario.visitors.as_ref().expect("ticket holders come from [visitors]");
    let mut remaining: Vec<u32> =
        scenario.sessions.iter().map(|s| (s.tickets as f64 * headroom).round() as u32).collect();
    let mut left: u64 = remaining.iter().map(|&t| t as u64).sum();
    while left > 0 && (drawn.visitors.len() as u64) < count {
        let tickets = draw_tickets(rng, scenario, &mut remaining, &mut left);
        if tickets.is_empty() {
            // Only sessions nobody prefers are left.
            break;
        }
        drawn.summary.tickets += tickets.len() as u64;
        let first = &scenario.sessions[tickets[0] as usize];
        let [earliest, mode, latest] = params.arrive_before_s;
        let before = triangular(rng, latest, mode, earliest);
        let at = SimTime(first.start.as_micros().saturating_sub((before * 1e6) as u64));
        let origin = transit[pick(rng, transit.iter().map(|t| t.1)).expect("transit shares checked")].0;
        drawn.push(Visitor::new(VisitorKind::TicketHolder, origin as u16, &tickets, 0), at);
    }
    drawn.summary.ticket_holders = drawn.visitors.len() as u64;
    drawn.summary.tickets_unsold = left;
}

/// One ticket holder's sessions, in time order with a gap between them:
/// how many from `visitors.session_count_weights`, each session in
/// proportion to its `remaining` tickets times the sport's preference.
fn draw_tickets(rng: &mut ActorRng, scenario: &Scenario, remaining: &mut [u32], left: &mut u64) -> Vec<u16> {
    let params = scenario.visitors.as_ref().expect("ticket holders come from [visitors]");
    let preference = |sport: &str| params.sport_preferences.get(sport).copied().unwrap_or(1.0);
    let wanted = pick(rng, params.session_count_weights.iter().copied()).unwrap_or(0) + 1;
    let mut tickets: Vec<u16> = Vec::with_capacity(TICKETS_PER_VISITOR_MAX);
    while tickets.len() < wanted.min(TICKETS_PER_VISITOR_MAX) {
        let after =
            tickets.last().map(|&s| scenario.sessions[s as usize].end + SimDuration::from_secs_f64(SESSION_GAP_MIN_S));
        let weights = scenario.sessions.iter().enumerate().map(|(i, s)| {
            let fits = after.is_none_or(|a| s.start >= a);
            if fits { remaining[i] as f64 * preference(&s.sport) } else { 0.0 }
        });
        match pick(rng, weights) {
            Some(session) => {
                remaining[session] -= 1;
                *left -= 1;
                tickets.push(session as u16);
            }
            None => break,
        }
    }
    tickets
}

/// The crowds' members, each crowd's spread over its window.
fn crowd_members(rng: &mut ActorRng, scenario: &Scenario, drawn: &mut Drawn) {
    for (crowd_index, crowd) in scenario.crowds.iter().enumerate() {
        let mut t = crowd.start.as_micros() as f64;
        let spread = crowd.spread.as_micros() as f64;
        for member in 0..crowd.count {
            let at = match crowd.arrival {
                CrowdArrival::Regular if crowd.count > 1 => {
                    crowd.start.as_micros() as f64 + spread * member as f64 / (crowd.count - 1) as f64
                }
                CrowdArrival::Regular => crowd.start.as_micros() as f64,
                CrowdArrival::Poisson => {
                    if member > 0 {
                        t += rng.exponential(spread / crowd.count as f64);
                    }
                    t
                }
            };
            let mut visitor = Visitor::new(VisitorKind::Crowd, crowd.from as u16, &[], crowd_index as u16);
            if !crowd.screening {
                visitor.mark_screened();
            }
            drawn.push(visitor, SimTime(at as u64));
            drawn.summary.crowd_members += 1;
        }
    }
}
