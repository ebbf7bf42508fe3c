//! The deterministic discrete-event kernel.
//!
//! An actor owns its state and reacts to timestamped messages; through a
//! [`Context`] it reads the clock, draws from its own random stream and
//! schedules messages to actors (itself included) at `now + delay`.
//!
//! Events are ordered by the total key `(time, source actor, source sequence)`
//! where the sequence counts the messages the source has sent. Together with
//! per-actor random streams seeded from `(seed, actor id)` this makes a run a
//! pure function of the seed, whatever the number of shards or threads.
//!
//! Where a zero-delay message is sent by an actor whose id sorts below the
//! source of the event being handled, it cannot go before that event (which
//! already ran); it runs next among the events left at that time, as a
//! pop-minimum queue does. That rule depends only on causality inside one
//! shard, and zero-delay messages never cross shards, so the order each actor
//! sees is the same for any partition (see `tests/kernel.rs`).

mod actor;
mod queue;
mod rng;
mod shard;
mod shard_run;
mod simulation;
mod time;

pub use actor::{ACTOR_INDEX_BITS, ACTOR_KINDS_MAX, ACTORS_PER_KIND_MAX, ActorId, ActorKind};
pub use queue::Event;
pub use rng::ActorRng;
pub use shard_run::{SAVED_SHARD_VERSION, ShardCodec, ShardRun};
pub use simulation::{Context, RunStats, Simulation, World};
pub use time::{SimDuration, SimTime};

/// Largest number of shards one run may use.
pub const SHARD_COUNT_MAX: usize = 256;
