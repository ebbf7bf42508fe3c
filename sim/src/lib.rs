//! crowdtwin-sim: the deterministic discrete-event kernel and the models that
//! run on it.
//!
//! - [`kernel`]: integer simulation time, actors addressed by [`ActorId`],
//!   per-actor random streams, a total and partition-independent event order,
//!   single-threaded and sharded (conservative time windows) execution, and a
//!   `Clone`-able world that a forecast can fork and run ahead.
//! - [`phold`]: the PHOLD benchmark model (Fujimoto 1990), the standard
//!   throughput test for discrete-event engines.
//!
//! This crate does no I/O and never reads the wall clock.
//!
//! ```
//! use crowdtwin_sim::phold::{Phold, PholdParams};
//! use crowdtwin_sim::SimTime;
//!
//! let params = PholdParams { lps: 100, population: 4, ..PholdParams::default() };
//! let mut one = Phold::simulation(params, 7).unwrap();
//! let mut four = one.clone();
//! let end = SimTime::from_secs(20);
//! let stats = one.run_until(end);
//! four.run_until_sharded(end, 4, params.lookahead()).unwrap();
//! assert!(stats.events > 0);
//! // One seed, the same trace whatever the number of shards.
//! assert_eq!(one.trace_hash(), four.trace_hash());
//! assert_eq!(one.world(), four.world());
//! ```

pub mod error;
pub mod itinerary;
pub mod kernel;
pub mod model;
pub mod optw;
pub mod phold;
pub mod scenario;

pub use error::SimError;
pub use kernel::{ActorId, ActorKind, Context, RunStats, SimDuration, SimTime, Simulation, World};
