//! crowdtwin-twin: the live twin, its services and the `crowdtwin` command.
//!
//! Today it holds the command-line front end and the kernel benchmark
//! ([`bench`]); the live twin, forecasts, itineraries and orders arrive with
//! their issues (see ARCHITECTURE.md).

pub mod bench;

use thiserror::Error;

/// The one error type of `crowdtwin-twin`.
#[derive(Debug, Error)]
pub enum TwinError {
    /// A simulation parameter or run option was rejected; fix the value named.
    #[error(transparent)]
    Sim(#[from] crowdtwin_sim::SimError),
    /// Writing results failed (closed pipe, full disk).
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}
