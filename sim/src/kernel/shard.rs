//! Sharded execution with conservative time windows.
//!
//! The actors are partitioned by [`World::shard_of`]; each shard runs on its
//! own thread with its own clone of the world and its own event queue. Time
//! advances in windows `[start, start + lookahead)` where `start` is the
//! earliest pending event over all shards and `lookahead` the smallest delay
//! of any message between shards: nothing sent inside a window can land in
//! another shard before the window's end, so shards run a window without
//! talking. At the window's edge each shard sends its cross-shard messages
//! over crossbeam channels (one batch per destination), all meet at a
//! barrier, and each pushes what it received into its queue.
//!
//! Each shard handles its events in the same `(time, source, sequence)` order
//! as a single-threaded run restricted to its actors, so the result is
//! bit-identical for any shard count.

use super::actor::KindTable;
use super::queue::EventQueue;
use super::simulation::{ActorSlot, process_until};
use super::{Event, RunStats, SHARD_COUNT_MAX, SimDuration, SimTime, Simulation, World};
use crate::SimError;
use crossbeam_channel::{Receiver, Sender, bounded};
use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

pub(crate) type Batch<M> = Vec<Event<M>>;
/// A shard as a thread holds it: its number, its state and its inbox.
type Member<'a, W> = (usize, &'a mut Shard<W>, Receiver<Batch<<W as World>::Message>>);

/// One shard's state: its clone of the world, the kernel state of every
/// actor (only its own are current) and the events for its actors.
#[derive(Clone)]
pub(crate) struct Shard<W: World> {
    pub(crate) world: W,
    pub(crate) slots: Vec<ActorSlot>,
    pub(crate) queue: EventQueue<W::Message>,
    pub(crate) events: u64,
    pub(crate) windows: u64,
    pub(crate) cross_shard_messages: u64,
    pub(crate) last: Option<SimTime>,
}

impl<W: World> Shard<W> {
    /// Handles this shard's (`index`) events before `window_end`. Messages
    /// for another shard's actors go to `outgoing[shard]`; one landing before
    /// `window_end` breaks the lookahead and panics, naming both actors.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn run_window(
        &mut self,
        index: usize,
        kinds: &KindTable,
        owner: &[u16],
        lookahead: SimDuration,
        window_end: SimTime,
        outbox: &mut Vec<Event<W::Message>>,
        outgoing: &mut [Batch<W::Message>],
    ) {
        let (events, last) = process_until(
            &mut self.world,
            kinds,
            &mut self.slots,
            &mut self.queue,
            window_end,
            outbox,
            |event, queue| {
                let to = owner[kinds.slot(event.target)] as usize;
                if to == index {
                    queue.push(event);
                } else {
                    assert!(
                        event.time >= window_end,
                        "message from {} to {} at {} crosses shards with a delay below the lookahead \
                         ({} us): raise the delay or lower the lookahead",
                        event.source,
                        event.target,
                        event.time,
                        lookahead.0
                    );
                    outgoing[to].push(event);
                }
            },
        );
        self.events += events;
        self.last = self.last.max(last);
        self.windows += 1;
        self.cross_shard_messages += outgoing.iter().map(|b| b.len() as u64).sum::<u64>();
    }
}

impl<W: World> Simulation<W> {
    /// The shard of every actor, by slot, for `shard_count` shards.
    pub(crate) fn owner_table(&self, shard_count: usize) -> Vec<u16> {
        self.kinds
            .ids()
            .map(|id| {
                let shard = self.world.shard_of(id, shard_count);
                assert!(shard < shard_count, "shard_of({id}) = {shard}, not below {shard_count}");
                shard as u16
            })
            .collect()
    }
}

/// What all shard threads share for one run.
struct Sync<'a> {
    shard_count: usize,
    until: SimTime,
    lookahead: SimDuration,
    owner: &'a [u16],
    barrier: Barrier,
    /// Earliest pending time of each shard, published before each window.
    earliest: Vec<AtomicU64>,
    /// Set when a handler panicked; every shard stops at the next window.
    abort: AtomicBool,
}

impl<W: World> Simulation<W> {
    /// Like [`Simulation::run_until`], on `shard_count` threads. `lookahead`
    /// must not exceed the smallest delay of any message between actors of
    /// different shards; a message that breaks it panics, naming the actors.
    /// The result is bit-identical to a single-threaded run.
    pub fn run_until_sharded(
        &mut self,
        until: SimTime,
        shard_count: usize,
        lookahead: SimDuration,
    ) -> Result<RunStats, SimError> {
        self.run_until_parallel(until, shard_count, shard_count, lookahead)
    }

    /// Like [`Simulation::run_until_sharded`], with the `shard_count` shards
    /// dealt over `threads` threads (shard `s` on thread `s % threads`;
    /// `threads` is capped at `shard_count`). The result depends on neither.
    pub fn run_until_parallel(
        &mut self,
        until: SimTime,
        shard_count: usize,
        threads: usize,
        lookahead: SimDuration,
    ) -> Result<RunStats, SimError> {
        if !(1..=SHARD_COUNT_MAX).contains(&shard_count) {
            return Err(SimError::ShardCount { requested: shard_count, max: SHARD_COUNT_MAX });
        }
        if !(1..=SHARD_COUNT_MAX).contains(&threads) {
            return Err(SimError::ThreadCount { requested: threads, max: SHARD_COUNT_MAX });
        }
        let threads = threads.min(shard_count);
        if shard_count == 1 {
            return Ok(self.run_until(until));
        }
        if lookahead == SimDuration::ZERO {
            return Err(SimError::ZeroLookahead { lookahead_us: 0 });
        }
        assert!(until >= self.now, "run_until({until}) is before now ({})", self.now);

        let owner = self.owner_table(shard_count);
        let floor = self.queue.floor();
        let mut shards = self.split(&owner, shard_count);
        run_shards(&mut shards, &self.kinds, &owner, threads, until, lookahead);
        Ok(self.merge(shards, &owner, floor, until))
    }

    /// Clones of the world and the actor slots, one per shard, with the
    /// pending events dealt to the shards their targets belong to (`owner`).
    fn split(&mut self, owner: &[u16], shard_count: usize) -> Vec<Shard<W>> {
        let floor = self.queue.floor();
        let mut shards: Vec<Shard<W>> = (0..shard_count)
            .map(|_| Shard {
                world: self.world.clone(),
                slots: self.slots.clone(),
                queue: EventQueue::with_floor(floor),
                events: 0,
                windows: 0,
                cross_shard_messages: 0,
                last: None,
            })
            .collect();
        for event in self.queue.drain_all() {
            let shard = owner[self.kinds.slot(event.target)] as usize;
            shards[shard].queue.push(event);
        }
        shards
    }

    /// Folds the shards, run to `until`, back in: each shard's actors and
    /// pending events, the counts over all.
    fn merge(&mut self, mut shards: Vec<Shard<W>>, owner: &[u16], floor: SimTime, until: SimTime) -> RunStats {
        let shard_count = shards.len();
        let mut stats = RunStats::default();
        let mut last: Option<SimTime> = None;
        self.queue = EventQueue::with_floor(floor);
        for (index, shard) in shards.iter_mut().enumerate() {
            self.world.merge_shard(&shard.world, index, shard_count);
            stats.events += shard.events;
            stats.windows = stats.windows.max(shard.windows);
            stats.cross_shard_messages += shard.cross_shard_messages;
            last = last.max(shard.last);
            for event in shard.queue.drain_all() {
                self.queue.push(event);
            }
        }
        for (position, (slot, &shard)) in self.slots.iter_mut().zip(owner).enumerate() {
            *slot = shards[shard as usize].slots[position].clone();
        }
        self.finish_run(until, stats.events, last);
        stats
    }
}

/// Runs `shards` to `until` on `threads` threads (shard `s` on thread
/// `s % threads`), window by window; a handler's panic on any thread is
/// resumed here once every thread has stopped.
fn run_shards<W: World>(
    shards: &mut [Shard<W>],
    kinds: &KindTable,
    owner: &[u16],
    threads: usize,
    until: SimTime,
    lookahead: SimDuration,
) {
    let shard_count = shards.len();
    let sync = Sync {
        shard_count,
        until,
        lookahead,
        owner,
        barrier: Barrier::new(threads),
        earliest: (0..shard_count).map(|_| AtomicU64::new(u64::MAX)).collect(),
        abort: AtomicBool::new(false),
    };
    // At most one batch from every other shard per window, and each
    // shard drains its channel every window: senders never block.
    let cross_shard_batches_per_window_max = shard_count;
    let (senders, receivers): (Vec<Sender<Batch<W::Message>>>, Vec<_>) =
        (0..shard_count).map(|_| bounded(cross_shard_batches_per_window_max)).unzip();
    // Deal shards (with their inboxes) to threads: shard s on thread s % threads.
    let mut groups: Vec<Vec<Member<'_, W>>> = (0..threads).map(|_| Vec::new()).collect();
    for (index, (shard, inbox)) in shards.iter_mut().zip(receivers).enumerate() {
        groups[index % threads].push((index, shard, inbox));
    }
    let panics: Vec<Option<Box<dyn Any + Send>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = groups
            .into_iter()
            .map(|group| {
                let (sync, senders) = (&sync, senders.clone());
                scope.spawn(move || run_group(group, kinds, sync, &senders))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(Some)).collect()
    });
    if let Some(payload) = panics.into_iter().flatten().next() {
        resume_unwind(payload);
    }
}

/// One thread running a group of shards: windows until no shard has an
/// event before `until`. Returns the panic payload if a handler panicked.
fn run_group<W: World>(
    mut group: Vec<Member<'_, W>>,
    kinds: &KindTable,
    sync: &Sync<'_>,
    senders: &[Sender<Batch<W::Message>>],
) -> Option<Box<dyn Any + Send>> {
    let mut outgoing: Vec<Batch<W::Message>> = (0..sync.shard_count).map(|_| Vec::new()).collect();
    let mut outbox = Vec::new();
    let mut panicked = None;
    loop {
        for (index, shard, _) in &group {
            let earliest = shard.queue.peek_time().map_or(u64::MAX, |t| t.0);
            sync.earliest[*index].store(earliest, Ordering::SeqCst);
        }
        sync.barrier.wait();
        if sync.abort.load(Ordering::SeqCst) {
            break;
        }
        let start = sync.earliest.iter().map(|e| e.load(Ordering::SeqCst)).min().unwrap_or(u64::MAX);
        if start >= sync.until.0 {
            break;
        }
        let window_end = SimTime(start.saturating_add(sync.lookahead.0).min(sync.until.0));
        for (index, shard, _) in &mut group {
            let index = *index;
            if panicked.is_some() {
                break;
            }
            let result = catch_unwind(AssertUnwindSafe(|| {
                shard.run_window(index, kinds, sync.owner, sync.lookahead, window_end, &mut outbox, &mut outgoing)
            }));
            if let Err(payload) = result {
                panicked = Some(payload);
                sync.abort.store(true, Ordering::SeqCst);
            }
            for (to, batch) in outgoing.iter_mut().enumerate() {
                if !batch.is_empty() {
                    senders[to].send(std::mem::take(batch)).expect("shard inbox closed during a run");
                }
            }
        }
        sync.barrier.wait();
        for (_, shard, inbox) in &mut group {
            for batch in inbox.try_iter() {
                for event in batch {
                    shard.queue.push(event);
                }
            }
        }
    }
    panicked
}
