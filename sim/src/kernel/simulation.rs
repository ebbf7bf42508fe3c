//! The world, the handler API and single-threaded execution.

use super::actor::KindTable;
use super::queue::EventQueue;
use super::rng::mix64;
use super::{ActorId, ActorRng, Event, SimDuration, SimTime};

/// A model: the state of every actor, stored per kind in contiguous arrays
/// by the implementor, and the handler that dispatches a message to its
/// target (statically, by matching on [`ActorId::kind`]).
///
/// The world is `Clone` so that a forecast can fork it and run ahead.
///
/// For sharded runs each shard works on its own clone and only ever touches
/// the actors it owns ([`World::shard_of`]); [`World::merge_shard`] copies
/// those actors back. State outside the actors must not be written by
/// handlers, or must be merged by `merge_shard` in a way that does not depend
/// on the partition.
pub trait World: Clone + Send {
    /// The messages actors exchange.
    type Message: Clone + Send;

    /// Handles `message` sent to `ctx.me()` at `ctx.now()`.
    fn handle(&mut self, message: Self::Message, ctx: &mut Context<'_, Self::Message>);

    /// The shard, in `0..shard_count`, that owns `actor`. Every message
    /// between actors of different shards must have a delay of at least the
    /// run's lookahead (the kernel checks). Must be a pure function.
    fn shard_of(&self, actor: ActorId, shard_count: usize) -> usize;

    /// Copies the state of the actors owned by `shard` from `part` (the clone
    /// that ran that shard) into `self`.
    fn merge_shard(&mut self, part: &Self, shard: usize, shard_count: usize);
}

/// Kernel-side state of one actor: its random stream, the count of messages
/// it has sent (the sequence of the next one) and a hash of the events it has
/// handled, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ActorSlot {
    pub(crate) rng: ActorRng,
    pub(crate) sequence: u32,
    pub(crate) trace: u64,
}

/// What a handler sees: the clock, its own id and random stream, and a way
/// to send messages.
pub struct Context<'a, M> {
    now: SimTime,
    me: ActorId,
    slot: &'a mut ActorSlot,
    outbox: &'a mut Vec<Event<M>>,
}

impl<M> Context<'_, M> {
    /// The current simulation time.
    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// The actor handling the message.
    #[inline]
    pub fn me(&self) -> ActorId {
        self.me
    }

    /// This actor's own random stream.
    #[inline]
    pub fn rng(&mut self) -> &mut ActorRng {
        &mut self.slot.rng
    }

    /// Sends `message` to `to`, delivered at `now + delay`.
    #[inline]
    pub fn send(&mut self, to: ActorId, delay: SimDuration, message: M) {
        let time = self.now + delay;
        let sequence = self.slot.sequence;
        self.slot.sequence = sequence.checked_add(1).expect("an actor sent more than 2^32 messages in one run");
        self.outbox.push(Event { time, source: self.me, sequence, target: to, message });
    }

    /// Sends `message` to `to`, delivered at `at` (not earlier than now).
    pub fn send_at(&mut self, to: ActorId, at: SimTime, message: M) {
        assert!(at >= self.now, "{} scheduled a message at {at}, before now ({})", self.me, self.now);
        self.send(to, at - self.now, message);
    }
}

/// Counts from one call that advanced the clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Events handled.
    pub events: u64,
    /// Synchronisation windows (1 for a single-shard run).
    pub windows: u64,
    /// Messages sent from one shard to another (0 for a single-shard run):
    /// what would cross the network with the shards on separate nodes.
    pub cross_shard_messages: u64,
}

/// A world with its clock, pending events and per-actor kernel state.
/// `Clone` forks the whole thing: the fork runs ahead without touching the
/// original.
#[derive(Clone)]
pub struct Simulation<W: World> {
    pub(crate) world: W,
    pub(crate) seed: u64,
    pub(crate) now: SimTime,
    pub(crate) kinds: KindTable,
    pub(crate) slots: Vec<ActorSlot>,
    pub(crate) queue: EventQueue<W::Message>,
    external_sequence: u32,
    pub(crate) events_handled: u64,
}

impl<W: World> Simulation<W> {
    /// A simulation of `world` whose actors are `actor_counts[k]` actors of
    /// each kind `k`, with every actor's random stream derived from `seed`.
    pub fn new(world: W, seed: u64, actor_counts: &[u32]) -> Self {
        let kinds = KindTable::new(actor_counts);
        let slots = kinds
            .ids()
            .map(|id| ActorSlot { rng: ActorRng::for_actor(seed, id.raw()), sequence: 0, trace: 0 })
            .collect();
        Simulation {
            world,
            seed,
            now: SimTime::ZERO,
            kinds,
            slots,
            queue: EventQueue::with_floor(SimTime::ZERO),
            external_sequence: 0,
            events_handled: 0,
        }
    }

    /// Delivers `message` to `to` at `at` from outside the model (set-up,
    /// live observations). Panics if `at` is before now or `to` is undeclared.
    pub fn inject(&mut self, to: ActorId, at: SimTime, message: W::Message) {
        assert!(at >= self.now, "injected event at {at} is before now ({})", self.now);
        self.kinds.slot(to);
        let sequence = self.external_sequence;
        self.external_sequence = sequence.checked_add(1).expect("more than 2^32 injected events");
        self.queue.push(Event { time: at, source: ActorId::EXTERNAL, sequence, target: to, message });
    }

    /// Handles every event before `until`, then sets the clock to `until`.
    /// `SimTime::MAX` runs until no event is left (quiescent) and leaves the
    /// clock at the last event handled.
    pub fn run_until(&mut self, until: SimTime) -> RunStats {
        assert!(until >= self.now, "run_until({until}) is before now ({})", self.now);
        let mut outbox = Vec::new();
        let (events, last) = process_until(
            &mut self.world,
            &self.kinds,
            &mut self.slots,
            &mut self.queue,
            until,
            &mut outbox,
            |event, queue| queue.push(event),
        );
        self.finish_run(until, events, last);
        RunStats { events, windows: 1, cross_shard_messages: 0 }
    }

    /// Runs until no event is left.
    pub fn run_until_quiescent(&mut self) -> RunStats {
        self.run_until(SimTime::MAX)
    }

    pub(crate) fn finish_run(&mut self, until: SimTime, events: u64, last: Option<SimTime>) {
        self.events_handled += events;
        self.now = if until == SimTime::MAX { last.unwrap_or(self.now).max(self.now) } else { until };
    }

    /// The model.
    pub fn world(&self) -> &W {
        &self.world
    }

    /// The model, to change between runs (interventions, assimilation).
    pub fn world_mut(&mut self) -> &mut W {
        &mut self.world
    }

    /// The current simulation time.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// The seed the actors' random streams derive from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Events handled since the simulation was created.
    pub fn events_handled(&self) -> u64 {
        self.events_handled
    }

    /// Events scheduled and not yet handled.
    pub fn pending_events(&self) -> usize {
        self.queue.len()
    }

    /// Bytes allocated by the pending-event queue.
    pub fn queue_allocated_bytes(&self) -> usize {
        self.queue.allocated_bytes()
    }

    /// Gives every actor a fresh random stream derived from `(seed, actor id)`:
    /// a resampled copy of an ensemble member then has its own future.
    /// The world, clock and pending events are unchanged.
    pub fn reseed(&mut self, seed: u64) {
        self.seed = seed;
        for (slot, id) in self.slots.iter_mut().zip(self.kinds.ids()) {
            slot.rng = ActorRng::for_actor(seed, id.raw());
        }
    }

    /// Set-up access to an actor's random stream outside any handler.
    pub fn actor_rng(&mut self, actor: ActorId) -> &mut ActorRng {
        let slot = self.kinds.slot(actor);
        &mut self.slots[slot].rng
    }

    /// A hash of every event each actor has handled, in the order it handled
    /// them, and of its random stream's position. Two runs agree on it iff
    /// every actor saw the same events in the same order (up to 64-bit
    /// collisions): the determinism check across seeds, threads and shards.
    pub fn trace_hash(&self) -> u64 {
        self.slots.iter().fold(self.slots.len() as u64, |hash, slot| {
            mix64(hash.rotate_left(17) ^ slot.trace ^ mix64(slot.rng.clone().next_bits()))
        })
    }
}

/// Folds one handled event into an actor's trace.
#[inline]
fn trace_step<M>(trace: u64, event: &Event<M>) -> u64 {
    let key = ((event.source.raw() as u64) << 32) | event.sequence as u64;
    mix64(trace.rotate_left(23) ^ event.time.0 ^ key.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// The event loop shared by single-threaded and sharded runs: handles every
/// event of `queue` before `until`, passing each message a handler sends to
/// `route`. Returns the number of events and the time of the last one.
#[inline]
pub(crate) fn process_until<W: World>(
    world: &mut W,
    kinds: &KindTable,
    slots: &mut [ActorSlot],
    queue: &mut EventQueue<W::Message>,
    until: SimTime,
    outbox: &mut Vec<Event<W::Message>>,
    mut route: impl FnMut(Event<W::Message>, &mut EventQueue<W::Message>),
) -> (u64, Option<SimTime>) {
    let mut events = 0;
    let mut last = None;
    while let Some(event) = queue.pop_before(until) {
        let slot = &mut slots[kinds.slot(event.target)];
        slot.trace = trace_step(slot.trace, &event);
        let mut ctx = Context { now: event.time, me: event.target, slot, outbox };
        world.handle(event.message, &mut ctx);
        for sent in outbox.drain(..) {
            route(sent, queue);
        }
        events += 1;
        last = Some(event.time);
    }
    (events, last)
}
