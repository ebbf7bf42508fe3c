//! crowdtwin-twin: the live twin, its services and the `crowdtwin` command.
//!
//! Today it holds the command-line front end, planner runs of scenario files
//! with their outputs ([`run`], [`output`], [`report`]), synthetic scenarios
//! for scale tests ([`synthetic`]) and the kernel benchmark ([`bench`]). The
//! live twin, forecasts, itineraries and orders arrive with their issues (see
//! ARCHITECTURE.md).

pub mod auth;
pub mod bench;
#[cfg(feature = "cluster")]
pub mod cluster;
pub mod counts;
pub mod eval;
pub mod feed;
pub mod http_client;
pub mod itinerary;
pub mod live;
pub mod loadgen;
pub mod orders;
pub mod output;
pub mod report;
pub mod run;
pub mod service;
pub mod stress;
pub mod synthetic;
pub mod validation;

use thiserror::Error;

/// The one error type of `crowdtwin-twin`.
#[derive(Debug, Error)]
pub enum TwinError {
    /// A simulation parameter or run option was rejected; fix the value named.
    #[error(transparent)]
    Sim(#[from] crowdtwin_sim::SimError),
    /// A scenario file was refused; the message names the file, line and problem.
    #[error(transparent)]
    Scenario(#[from] crowdtwin_sim::scenario::ScenarioError),
    /// An input could not be read or is not acceptable; the message says which and why.
    #[error("{0}")]
    Input(String),
    /// Writing results failed (closed pipe, full disk).
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}
