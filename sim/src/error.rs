//! The one error type of `crowdtwin-sim`, with the typed details of its
//! saved-shard and delivery errors.

use crate::kernel::{ActorId, SimTime};
use thiserror::Error;

/// Operating errors of the simulation crate. Programmer errors (scheduling in
/// the past, a cross-shard message shorter than the lookahead) panic instead.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum SimError {
    /// A model or run parameter is out of its valid range; fix the value named.
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParameter {
        /// Parameter name as the user wrote it.
        name: &'static str,
        /// What is wrong and what is accepted.
        reason: String,
    },
    /// Sharded execution needs a positive lookahead (the smallest delay of
    /// any message between shards); pass one, or run with one shard.
    #[error("sharded run needs a lookahead > 0 (got {lookahead_us} us); use 1 shard or set a lookahead")]
    ZeroLookahead {
        /// The lookahead that was given, in microseconds.
        lookahead_us: u64,
    },
    /// Too many or no threads were asked for; the limit is [`crate::kernel::SHARD_COUNT_MAX`].
    #[error("thread count {requested} is outside 1..={max}")]
    ThreadCount {
        /// Threads requested.
        requested: usize,
        /// Largest thread count supported.
        max: usize,
    },
    /// Too many shards were asked for; the limit is [`crate::kernel::SHARD_COUNT_MAX`].
    #[error("shard count {requested} is outside 1..={max}")]
    ShardCount {
        /// Shards requested.
        requested: usize,
        /// Largest shard count supported.
        max: usize,
    },
    /// A shard index is not below the shard count.
    #[error("shard {index} is not below the shard count {shard_count}")]
    ShardIndex {
        /// The shard asked for.
        index: usize,
        /// Shards in the run.
        shard_count: usize,
    },
    /// Saved shard state (a checkpoint, or a shard sent between nodes) could
    /// not be read or does not belong to this run; the detail says which,
    /// and what to do.
    #[error("saved shard state: {0}")]
    SavedShard(SavedShardError),
    /// Messages were delivered to the wrong shard or too late; none of them
    /// was added. The driver's routing is wrong: route each message to the
    /// shard that owns its target ([`crate::kernel::ShardRun::shard_of`]),
    /// at or after the shard's edge.
    #[error("delivery to shard {shard}: {problem}")]
    Delivery {
        /// The shard.
        shard: usize,
        /// The first message refused, and why.
        problem: DeliveryProblem,
    },
}

/// Why saved shard state was refused.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum SavedShardError {
    /// The bytes are not saved shard state (damaged or cut short): save
    /// the shard again.
    #[error("unreadable: {0}")]
    Unreadable(postcard::Error),
    /// Saved by a build with another format: save it again with this build.
    #[error("format {found} (this build reads {supported})")]
    Version {
        /// The format the bytes carry.
        found: u32,
        /// The format this build reads ([`crate::kernel::SAVED_SHARD_VERSION`]).
        supported: u32,
    },
    /// Saved from another run: restore it on the simulation built from the
    /// same scenario and seed, at or before the saved edge.
    #[error("shard {shard} of {shard_count}: {mismatch}")]
    OtherRun {
        /// The shard saved.
        shard: usize,
        /// Shards of the saved run.
        shard_count: usize,
        /// What differs.
        mismatch: RunMismatch,
    },
    /// The saved actors or events do not fit the shard the state names: the
    /// bytes were changed after [`crate::kernel::ShardRun::save`]; use an
    /// intact copy.
    #[error("shard {shard} of {shard_count}: {damage}")]
    Damaged {
        /// The shard saved.
        shard: usize,
        /// Shards of the saved run.
        shard_count: usize,
        /// What does not fit.
        damage: ShardDamage,
    },
    /// The model could not load its actors' saved state
    /// ([`crate::kernel::ShardCodec::load_shard`]): it is of another model,
    /// or another version of it; save it again with this one.
    #[error("shard {shard}: {reason}")]
    ModelState {
        /// The shard saved.
        shard: usize,
        /// What the model found wrong.
        reason: String,
    },
    /// A shard given to [`crate::Simulation::merge_saved_shards`] is from a
    /// run with another shard count, out of range, or given twice: pass
    /// the final state of every shard of one run, once each.
    #[error("shard {shard} of {saved_shard_count}: not one of a single run's {shard_count} shards")]
    NotOfTheRun {
        /// The shard saved.
        shard: usize,
        /// Shards of the run it was saved from.
        saved_shard_count: usize,
        /// Shards of the run being merged (those of the first state given).
        shard_count: usize,
    },
    /// [`crate::Simulation::merge_saved_shards`] was given fewer states
    /// than the run has shards: pass the final state of every shard.
    #[error("{saved} of {shard_count} shards saved")]
    Missing {
        /// States given.
        saved: usize,
        /// Shards of the run.
        shard_count: usize,
    },
}

/// How saved shard state differs from the run it is applied to.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum RunMismatch {
    /// Another number of actors: another scenario or model.
    #[error("saved with {saved} actors, this run has {run}")]
    Actors {
        /// Actors when saved.
        saved: usize,
        /// Actors in this run.
        run: usize,
    },
    /// Another seed.
    #[error("saved with seed {saved}, this run has {run}")]
    Seed {
        /// Seed when saved.
        saved: u64,
        /// Seed of this run.
        run: u64,
    },
    /// Saved at a window edge before the simulation's clock: the simulation
    /// has already run past it.
    #[error("saved at {saved}, before the simulation's clock {now}")]
    BeforeClock {
        /// The saved edge.
        saved: SimTime,
        /// The simulation's clock.
        now: SimTime,
    },
}

/// What in saved shard state does not fit its shard.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum ShardDamage {
    /// Actor slots out of order, or more than the shard's actors.
    #[error("actor slots out of order or beyond the shard's {actors} actors")]
    Slots {
        /// Actors the shard owns.
        actors: usize,
    },
    /// An event for an actor the run does not have.
    #[error("an event for unknown actor {actor}")]
    UnknownActor {
        /// Its target.
        actor: ActorId,
    },
    /// An event for another shard's actor, or before the saved edge.
    #[error("an event for {actor} at {time} does not belong to the shard")]
    ForeignEvent {
        /// Its target.
        actor: ActorId,
        /// Its time.
        time: SimTime,
    },
}

/// Why a message delivered to a shard was refused.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryProblem {
    /// The run has no such actor.
    #[error("no actor {actor}")]
    NoSuchActor {
        /// The target.
        actor: ActorId,
    },
    /// The target belongs to another shard.
    #[error("{actor} belongs to shard {owner}")]
    OtherShard {
        /// The target.
        actor: ActorId,
        /// The shard that owns it.
        owner: usize,
    },
    /// The message is earlier than the shard's edge: the shard has run past it.
    #[error("a message to {actor} at {time} is before the shard's edge {edge}")]
    BeforeEdge {
        /// The target.
        actor: ActorId,
        /// The message's time.
        time: SimTime,
        /// The shard's edge.
        edge: SimTime,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::ActorKind;

    /// The messages callers and logs see.
    #[test]
    fn saved_shard_errors_read_as_before() {
        let actor = ActorId::new(ActorKind(0), 7);
        let saved = |e: SavedShardError| SimError::SavedShard(e).to_string();
        let other_run = |mismatch| SavedShardError::OtherRun { shard: 1, shard_count: 4, mismatch };
        let damaged = |damage| SavedShardError::Damaged { shard: 1, shard_count: 4, damage };
        let cases = [
            (
                saved(SavedShardError::Unreadable(postcard::Error::DeserializeUnexpectedEnd)),
                format!("saved shard state: unreadable: {}", postcard::Error::DeserializeUnexpectedEnd),
            ),
            (
                saved(SavedShardError::Version { found: 1, supported: 2 }),
                "saved shard state: format 1 (this build reads 2)".to_string(),
            ),
            (
                saved(other_run(RunMismatch::Actors { saved: 10, run: 12 })),
                "saved shard state: shard 1 of 4: saved with 10 actors, this run has 12".to_string(),
            ),
            (
                saved(other_run(RunMismatch::Seed { saved: 3, run: 4 })),
                "saved shard state: shard 1 of 4: saved with seed 3, this run has 4".to_string(),
            ),
            (
                saved(other_run(RunMismatch::BeforeClock { saved: SimTime(1), now: SimTime(2) })),
                format!(
                    "saved shard state: shard 1 of 4: saved at {}, before the simulation's clock {}",
                    SimTime(1),
                    SimTime(2)
                ),
            ),
            (
                saved(damaged(ShardDamage::Slots { actors: 5 })),
                "saved shard state: shard 1 of 4: actor slots out of order or beyond the shard's 5 actors".to_string(),
            ),
            (
                saved(damaged(ShardDamage::UnknownActor { actor })),
                format!("saved shard state: shard 1 of 4: an event for unknown actor {actor}"),
            ),
            (
                saved(damaged(ShardDamage::ForeignEvent { actor, time: SimTime(5) })),
                format!(
                    "saved shard state: shard 1 of 4: an event for {actor} at {} does not belong to the shard",
                    SimTime(5)
                ),
            ),
            (
                saved(SavedShardError::ModelState { shard: 2, reason: "3 visitors saved".into() }),
                "saved shard state: shard 2: 3 visitors saved".to_string(),
            ),
            (
                saved(SavedShardError::NotOfTheRun { shard: 3, saved_shard_count: 2, shard_count: 4 }),
                "saved shard state: shard 3 of 2: not one of a single run's 4 shards".to_string(),
            ),
            (
                saved(SavedShardError::Missing { saved: 2, shard_count: 3 }),
                "saved shard state: 2 of 3 shards saved".to_string(),
            ),
        ];
        for (got, expected) in cases {
            assert_eq!(got, expected);
        }
    }

    #[test]
    fn delivery_errors_read_as_before() {
        let actor = ActorId::new(ActorKind(0), 7);
        let cases = [
            (
                SimError::Delivery { shard: 0, problem: DeliveryProblem::NoSuchActor { actor } }.to_string(),
                format!("delivery to shard 0: no actor {actor}"),
            ),
            (
                SimError::Delivery { shard: 0, problem: DeliveryProblem::OtherShard { actor, owner: 1 } }.to_string(),
                format!("delivery to shard 0: {actor} belongs to shard 1"),
            ),
            (
                SimError::Delivery {
                    shard: 0,
                    problem: DeliveryProblem::BeforeEdge { actor, time: SimTime(1), edge: SimTime(2) },
                }
                .to_string(),
                format!(
                    "delivery to shard 0: a message to {actor} at {} is before the shard's edge {}",
                    SimTime(1),
                    SimTime(2)
                ),
            ),
        ];
        for (got, expected) in cases {
            assert_eq!(got, expected);
        }
    }
}
