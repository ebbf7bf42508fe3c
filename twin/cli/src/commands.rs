//! The command groups, each a set of clap arguments and a thin call into a
//! library crate.

pub mod live;
#[cfg(feature = "cluster")]
pub mod node;
pub mod orders;
pub mod planner;
