//! A walkway actor: people walk it at the Weidmann speed of its density and
//! leave it no faster than its outflow capacity; the overflow queues at the
//! exit, in first-in first-out order per direction.

use super::{Message, PLACE, Person, Shared, WALKWAY};
use crate::kernel::{ActorId, Context, SimDuration, SimTime};
use crate::model::recorder::Recorder;
use crate::scenario::weidmann_speed_mps;
use std::collections::VecDeque;

#[derive(Clone, Copy, Debug, PartialEq)]
struct Walker {
    person: Person,
    entered: SimTime,
    earliest_exit: SimTime,
}

#[derive(Clone, Debug, Default, PartialEq)]
struct Lane {
    walkers: VecDeque<Walker>,
    next_free: SimTime,
    release_pending: bool,
}

/// State of one walkway.
#[derive(Clone, Debug, PartialEq)]
pub struct WalkwayState {
    count: u32,
    lanes: [Lane; 2],
    /// Statistics per output interval.
    pub recorder: Recorder,
}

impl WalkwayState {
    pub(crate) fn new(interval: SimDuration) -> Self {
        WalkwayState { count: 0, lanes: Default::default(), recorder: Recorder::new(interval) }
    }

    /// People on the walkway now.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Arrival times of people held at the exit by the capacity limit.
    pub(crate) fn waiting_since(&self, now: SimTime) -> impl Iterator<Item = SimTime> + '_ {
        self.lanes.iter().flat_map(|l| l.walkers.iter()).map(|w| w.earliest_exit).filter(move |&t| t < now)
    }

    pub(crate) fn enter(
        &mut self,
        shared: &Shared,
        index: usize,
        person: Person,
        from: u32,
        ctx: &mut Context<'_, Message>,
    ) {
        let spec = &shared.site.scenario.walkways[index];
        let params = &shared.site.scenario.params;
        let direction = usize::from(from as usize != spec.a);
        let now = ctx.now();
        self.count += 1;
        self.recorder.set_level(now, self.count);
        self.recorder.entry(now);
        let density = self.count as f64 / (spec.length_m * spec.width_m);
        let speed = weidmann_speed_mps(params, density).max(params.walk_speed_mps_min);
        let earliest_exit = now + SimDuration::from_secs_f64(spec.length_m / speed);
        let lane = &mut self.lanes[direction];
        lane.walkers.push_back(Walker { person, entered: now, earliest_exit });
        if !lane.release_pending {
            lane.release_pending = true;
            let at = earliest_exit.max(lane.next_free);
            ctx.send_at(ctx.me(), at, Message::Release { direction: direction as u8 });
        }
    }

    pub(crate) fn release(&mut self, shared: &Shared, index: usize, direction: u8, ctx: &mut Context<'_, Message>) {
        let spec = &shared.site.scenario.walkways[index];
        let now = ctx.now();
        let lane = &mut self.lanes[direction as usize];
        let walker = lane.walkers.pop_front().expect("a release is scheduled only for a waiting walker");
        debug_assert!(walker.earliest_exit <= now);
        self.count -= 1;
        self.recorder.set_level(now, self.count);
        if walker.earliest_exit < now {
            self.recorder.queued(walker.earliest_exit, now);
        }
        self.recorder.traversal(now, now - walker.entered);
        lane.next_free = now + SimDuration::from_secs_f64(1.0 / spec.capacity_p_per_s);
        match lane.walkers.front() {
            Some(next) => {
                let at = next.earliest_exit.max(lane.next_free);
                ctx.send_at(ActorId::new(WALKWAY, index as u32), at, Message::Release { direction });
            }
            None => lane.release_pending = false,
        }
        let to = if direction == 0 { spec.b } else { spec.a };
        let person = Person { via: index as u16, ..walker.person };
        ctx.send(ActorId::new(PLACE, to as u32), shared.site.handoff, Message::Arrive { person });
    }
}
