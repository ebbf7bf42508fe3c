//! The one error type of `crowdtwin-sim`.

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
    /// not be read or does not belong to this run; the text says which.
    #[error("saved shard state: {0}")]
    SavedShard(String),
    /// A message for an actor of another shard, or earlier than the shard's clock, was delivered to a shard.
    #[error("delivery to shard {shard}: {reason}")]
    Delivery {
        /// The shard.
        shard: usize,
        /// What is wrong.
        reason: String,
    },
}
