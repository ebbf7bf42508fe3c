//! One shard of a sharded run, driven window by window from outside: by a
//! worker node of a cluster, with the windows decided by a coordinator.
//!
//! [`Simulation::run_until_parallel`] runs every shard in one process and
//! exchanges their cross-shard messages over channels. A [`ShardRun`] is
//! the same shard on its own: the driver asks for its earliest pending
//! event, runs it to a window's end ([`ShardRun::run_window`], the code the
//! threads of an in-process run use) and delivers the messages the other
//! shards sent it ([`ShardRun::deliver`]). Driven with the windows of
//! `run_until_parallel` (each from the earliest event over all shards, one
//! lookahead long), the shards end in exactly its state, so the run is
//! byte-identical to a single-process one.
//!
//! With a world that implements [`ShardCodec`], a shard saves its state at
//! a window's edge ([`ShardRun::save`]: its actors' model state, their
//! random streams and message counts, its pending events and counters) and
//! is rebuilt from it on any process that built the same simulation
//! ([`ShardRun::restore`]): a checkpoint, or a shard moved to another node.
//! [`Simulation::merge_saved_shards`] folds the saved final states of all
//! shards back into one simulation, as `run_until_parallel` does with its
//! threads' shards.

use super::actor::KindTable;
use super::queue::EventQueue;
use super::shard::{Batch, Shard};
use super::simulation::ActorSlot;
use super::{ActorId, ActorRng, Event, RunStats, SHARD_COUNT_MAX, SimDuration, SimTime, Simulation, World};
use crate::SimError;
use crate::error::{DeliveryProblem, RunMismatch, SavedShardError, ShardDamage};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Format version of saved shard state.
pub const SAVED_SHARD_VERSION: u32 = 2;

/// A world whose actors' state can be written out per shard and read back:
/// what a shard needs to move between processes or to restart from a
/// checkpoint. Only the state of the actors that `shard` owns is written;
/// state every process builds the same way (the site, routing tables) is not.
pub trait ShardCodec: World {
    /// The state of the actors `shard` (of `shard_count`) owns, as bytes.
    fn save_shard(&self, shard: usize, shard_count: usize) -> Vec<u8>;

    /// Replaces the state of the actors `shard` owns with `bytes` from
    /// [`ShardCodec::save_shard`] of the same model; says what is wrong
    /// when they do not fit.
    fn load_shard(&mut self, bytes: &[u8], shard: usize, shard_count: usize) -> Result<(), String>;
}

/// A shard's state at a window's edge, as saved.
#[derive(Serialize, Deserialize)]
struct SavedShard<M> {
    version: u32,
    index: u32,
    shard_count: u32,
    actors: u32,
    seed: u64,
    /// The window edge the shard has run to.
    edge: SimTime,
    events: u64,
    windows: u64,
    cross_shard_messages: u64,
    last: Option<SimTime>,
    /// Kernel state of the shard's actors that have moved since their
    /// stream was made from the seed: (index among the shard's actors in
    /// slot order, stream position, sequence, trace). The others are fresh.
    slots: Vec<(u32, u64, u32, u64)>,
    /// Pending events, in no particular order.
    queue: Vec<Event<M>>,
    /// [`ShardCodec::save_shard`].
    world: Vec<u8>,
}

/// One shard of a run of `shard_count` shards, run window by window.
pub struct ShardRun<W: World> {
    index: usize,
    shard_count: usize,
    lookahead: SimDuration,
    seed: u64,
    kinds: KindTable,
    owner: Vec<u16>,
    edge: SimTime,
    shard: Shard<W>,
    outbox: Vec<Event<W::Message>>,
}

fn check_shape(index: usize, shard_count: usize, lookahead: SimDuration) -> Result<(), SimError> {
    if !(1..=SHARD_COUNT_MAX).contains(&shard_count) {
        return Err(SimError::ShardCount { requested: shard_count, max: SHARD_COUNT_MAX });
    }
    if index >= shard_count {
        return Err(SimError::ShardIndex { index, shard_count });
    }
    if lookahead == SimDuration::ZERO {
        return Err(SimError::ZeroLookahead { lookahead_us: 0 });
    }
    Ok(())
}

impl<W: World> ShardRun<W> {
    /// Shard `index` of `sim` split into `shard_count` shards: a clone of
    /// its world with the pending events of the shard's actors. `lookahead`
    /// as for [`Simulation::run_until_parallel`].
    pub fn new(
        sim: &Simulation<W>,
        index: usize,
        shard_count: usize,
        lookahead: SimDuration,
    ) -> Result<Self, SimError> {
        Self::take(sim.clone(), index, shard_count, lookahead)
    }

    /// [`ShardRun::new`] on `sim` itself, without a clone (a node's last shard).
    pub fn take(
        mut sim: Simulation<W>,
        index: usize,
        shard_count: usize,
        lookahead: SimDuration,
    ) -> Result<Self, SimError> {
        check_shape(index, shard_count, lookahead)?;
        let owner = sim.owner_table(shard_count);
        let mut queue = EventQueue::with_floor(sim.queue.floor());
        for event in sim.queue.drain_all() {
            if owner[sim.kinds.slot(event.target)] as usize == index {
                queue.push(event);
            }
        }
        Ok(ShardRun {
            index,
            shard_count,
            lookahead,
            seed: sim.seed,
            kinds: sim.kinds,
            owner,
            edge: sim.now,
            shard: Shard {
                world: sim.world,
                slots: sim.slots,
                queue,
                events: 0,
                windows: 0,
                cross_shard_messages: 0,
                last: None,
            },
            outbox: Vec::new(),
        })
    }

    /// This shard's index.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The shard that owns `actor`.
    pub fn shard_of(&self, actor: super::ActorId) -> usize {
        self.owner[self.kinds.slot(actor)] as usize
    }

    /// The window edge the shard has run to.
    pub fn edge(&self) -> SimTime {
        self.edge
    }

    /// The time of the shard's earliest pending event.
    pub fn earliest(&self) -> Option<SimTime> {
        self.shard.queue.peek_time()
    }

    /// Counts so far (windows: those this shard ran).
    pub fn stats(&self) -> RunStats {
        RunStats {
            events: self.shard.events,
            windows: self.shard.windows,
            cross_shard_messages: self.shard.cross_shard_messages,
        }
    }

    /// The shard's clone of the world (current for its own actors only).
    pub fn world(&self) -> &W {
        &self.shard.world
    }

    /// The shard's world, to change between windows (parameters the model
    /// does not save, such as an ensemble member's tuning).
    pub fn world_mut(&mut self) -> &mut W {
        &mut self.shard.world
    }

    /// Adds messages other shards sent to this shard's actors. Refuses (and
    /// adds none of them) a message for another shard's actor or one before
    /// the shard's edge.
    pub fn deliver(&mut self, events: Vec<Event<W::Message>>) -> Result<(), SimError> {
        for event in &events {
            let actor = event.target;
            let problem = if self.kinds.try_slot(actor).is_none() {
                DeliveryProblem::NoSuchActor { actor }
            } else if self.shard_of(actor) != self.index {
                DeliveryProblem::OtherShard { actor, owner: self.shard_of(actor) }
            } else if event.time < self.edge {
                DeliveryProblem::BeforeEdge { actor, time: event.time, edge: self.edge }
            } else {
                continue;
            };
            return Err(SimError::Delivery { shard: self.index, problem });
        }
        for event in events {
            self.shard.queue.push(event);
        }
        Ok(())
    }

    /// Handles the shard's events before `window_end` (which the driver
    /// chose no later than one lookahead after the earliest event over all
    /// shards) and returns the messages sent to other shards' actors, by
    /// destination shard.
    pub fn run_window(&mut self, window_end: SimTime) -> Vec<Vec<Event<W::Message>>> {
        assert!(window_end >= self.edge, "window end {window_end} is before the shard's edge {}", self.edge);
        let mut outgoing: Vec<Batch<W::Message>> = (0..self.shard_count).map(|_| Vec::new()).collect();
        self.shard.run_window(
            self.index,
            &self.kinds,
            &self.owner,
            self.lookahead,
            window_end,
            &mut self.outbox,
            &mut outgoing,
        );
        self.edge = window_end;
        outgoing
    }
}

impl<W: ShardCodec> ShardRun<W>
where
    W::Message: Serialize + DeserializeOwned,
{
    /// The shard's state at its edge, as bytes: a checkpoint.
    pub fn save(&self) -> Vec<u8> {
        let saved = SavedShard {
            version: SAVED_SHARD_VERSION,
            index: self.index as u32,
            shard_count: self.shard_count as u32,
            actors: self.owner.len() as u32,
            seed: self.seed,
            edge: self.edge,
            events: self.shard.events,
            windows: self.shard.windows,
            cross_shard_messages: self.shard.cross_shard_messages,
            last: self.shard.last,
            slots: self
                .shard
                .slots
                .iter()
                .zip(self.kinds.ids())
                .zip(&self.owner)
                .filter(|&(_, &o)| o as usize == self.index)
                .enumerate()
                .filter(|(_, ((slot, id), _))| **slot != fresh_slot(self.seed, *id))
                .map(|(n, ((slot, _), _))| (n as u32, slot.rng.position(), slot.sequence, slot.trace))
                .collect(),
            queue: self.shard.queue.clone().drain_all(),
            world: self.shard.world.save_shard(self.index, self.shard_count),
        };
        postcard::to_allocvec(&saved).expect("shard state serialises")
    }

    /// The shard saved in `bytes`, rebuilt on `sim`: the simulation every
    /// process builds from the same scenario and seed (its clock at or
    /// before the saved edge).
    pub fn restore(sim: &Simulation<W>, bytes: &[u8], lookahead: SimDuration) -> Result<Self, SimError> {
        Self::restore_taking(sim.clone(), bytes, lookahead)
    }

    /// [`ShardRun::restore`] on `sim` itself, without a clone.
    pub fn restore_taking(sim: Simulation<W>, bytes: &[u8], lookahead: SimDuration) -> Result<Self, SimError> {
        let saved = decode::<W::Message>(bytes)?;
        let (index, shard_count) = (saved.index as usize, saved.shard_count as usize);
        check_shape(index, shard_count, lookahead)?;
        let (seed, now, kinds) = (sim.seed, sim.now, sim.kinds.clone());
        let mut run = ShardRun::take(sim, index, shard_count, lookahead)?;
        run.shard.queue = EventQueue::with_floor(saved.edge);
        run.edge = saved.edge;
        run.shard.events = saved.events;
        run.shard.windows = saved.windows;
        run.shard.cross_shard_messages = saved.cross_shard_messages;
        run.shard.last = saved.last;
        let run_of = RunOf { seed, now, kinds: &kinds };
        apply(saved, &mut run.shard.world, &mut run.shard.slots, &mut run.shard.queue, &run.owner, run_of)?;
        Ok(run)
    }
}

/// An actor's kernel state as made from the seed, before it handles anything.
fn fresh_slot(seed: u64, id: ActorId) -> ActorSlot {
    ActorSlot { rng: ActorRng::for_actor(seed, id.raw()), sequence: 0, trace: 0 }
}

fn decode<M: DeserializeOwned>(bytes: &[u8]) -> Result<SavedShard<M>, SimError> {
    let saved: SavedShard<M> =
        postcard::from_bytes(bytes).map_err(|e| SimError::SavedShard(SavedShardError::Unreadable(e)))?;
    if saved.version != SAVED_SHARD_VERSION {
        let version = SavedShardError::Version { found: saved.version, supported: SAVED_SHARD_VERSION };
        return Err(SimError::SavedShard(version));
    }
    Ok(saved)
}

/// What a saved shard is checked against: its run's seed, the clock of the
/// simulation it is applied to, and the actors.
#[derive(Clone, Copy)]
struct RunOf<'a> {
    seed: u64,
    now: SimTime,
    kinds: &'a KindTable,
}

/// Writes a saved shard's actors and events into a world, its slots and a
/// queue, after checking that it belongs to the run `sim` describes.
fn apply<W: ShardCodec>(
    saved: SavedShard<W::Message>,
    world: &mut W,
    slots: &mut [ActorSlot],
    queue: &mut EventQueue<W::Message>,
    owner: &[u16],
    sim: RunOf<'_>,
) -> Result<(), SimError> {
    let index = saved.index as usize;
    let shard_count = saved.shard_count as usize;
    let other_run =
        |mismatch| Err(SimError::SavedShard(SavedShardError::OtherRun { shard: index, shard_count, mismatch }));
    let damaged = |damage| Err(SimError::SavedShard(SavedShardError::Damaged { shard: index, shard_count, damage }));
    if saved.actors as usize != owner.len() {
        return other_run(RunMismatch::Actors { saved: saved.actors as usize, run: owner.len() });
    }
    if saved.seed != sim.seed {
        return other_run(RunMismatch::Seed { saved: saved.seed, run: sim.seed });
    }
    if saved.edge < sim.now {
        return other_run(RunMismatch::BeforeClock { saved: saved.edge, now: sim.now });
    }
    let positions: Vec<usize> = (0..owner.len()).filter(|&p| owner[p] as usize == index).collect();
    if saved.slots.iter().any(|s| s.0 as usize >= positions.len()) || !saved.slots.is_sorted_by_key(|s| s.0) {
        return damaged(ShardDamage::Slots { actors: positions.len() });
    }
    for event in &saved.queue {
        let Some(slot) = sim.kinds.try_slot(event.target) else {
            return damaged(ShardDamage::UnknownActor { actor: event.target });
        };
        if owner[slot] as usize != index || event.time < saved.edge {
            return damaged(ShardDamage::ForeignEvent { actor: event.target, time: event.time });
        }
    }
    world
        .load_shard(&saved.world, index, shard_count)
        .map_err(|reason| SimError::SavedShard(SavedShardError::ModelState { shard: index, reason }))?;
    let ids: Vec<ActorId> = sim.kinds.ids().collect();
    for &position in &positions {
        slots[position] = fresh_slot(saved.seed, ids[position]);
    }
    for (n, rng_position, sequence, trace) in saved.slots {
        let position = positions[n as usize];
        let rng = ActorRng::at_position(saved.seed, ids[position].raw(), rng_position);
        slots[position] = ActorSlot { rng, sequence, trace };
    }
    for event in saved.queue {
        queue.push(event);
    }
    Ok(())
}

impl<W: ShardCodec> Simulation<W>
where
    W::Message: Serialize + DeserializeOwned,
{
    /// Folds the saved final states of every shard of a run (one per shard,
    /// any order, each run to `until` as [`ShardRun::run_window`] drives it)
    /// into this simulation, as [`Simulation::run_until_parallel`] does with
    /// its threads' shards: afterwards the simulation is at `until` in the
    /// state of a single-process run. Nothing changes on an error.
    pub fn merge_saved_shards(&mut self, parts: &[Vec<u8>], until: SimTime) -> Result<RunStats, SimError> {
        let decoded: Vec<SavedShard<W::Message>> = parts.iter().map(|p| decode(p)).collect::<Result<_, _>>()?;
        let shard_count = decoded.first().map_or(0, |s| s.shard_count as usize);
        let mut seen = vec![false; shard_count];
        for saved in &decoded {
            let index = saved.index as usize;
            if saved.shard_count as usize != shard_count || index >= shard_count || seen[index] {
                let saved_shard_count = saved.shard_count as usize;
                let problem = SavedShardError::NotOfTheRun { shard: index, saved_shard_count, shard_count };
                return Err(SimError::SavedShard(problem));
            }
            seen[index] = true;
        }
        if shard_count == 0 || seen.contains(&false) {
            let missing = SavedShardError::Missing { saved: decoded.len(), shard_count };
            return Err(SimError::SavedShard(missing));
        }
        let owner = self.owner_table(shard_count);
        let mut world = self.world.clone();
        let mut slots = self.slots.clone();
        let mut queue = EventQueue::with_floor(self.queue.floor());
        let mut stats = RunStats::default();
        let mut last: Option<SimTime> = None;
        for saved in decoded {
            stats.events += saved.events;
            stats.windows = stats.windows.max(saved.windows);
            stats.cross_shard_messages += saved.cross_shard_messages;
            last = last.max(saved.last);
            let run_of = RunOf { seed: self.seed, now: self.now, kinds: &self.kinds };
            apply(saved, &mut world, &mut slots, &mut queue, &owner, run_of)?;
        }
        self.world = world;
        self.slots = slots;
        self.queue = queue;
        self.finish_run(until, stats.events, last);
        Ok(stats)
    }
}
