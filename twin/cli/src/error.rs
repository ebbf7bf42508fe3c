//! `CliError`, the one error type of the command line: every crate's error,
//! printed as `crowdtwin: error: ...` with a non-zero exit.

use thiserror::Error;

/// Why a command failed.
#[derive(Debug, Error)]
pub enum CliError {
    /// A planner run, stress test or validation was refused.
    #[error(transparent)]
    Planner(#[from] crowdtwin_planner::PlannerError),
    /// The live twin or its evaluation was refused.
    #[error(transparent)]
    Live(#[from] crowdtwin_live::LiveError),
    /// The order store was refused.
    #[error(transparent)]
    Orders(#[from] crowdtwin_orders::OrderError),
    /// A client of a running service failed.
    #[error(transparent)]
    Client(#[from] crowdtwin_client::ClientError),
    /// A run on worker nodes failed.
    #[cfg(feature = "cluster")]
    #[error(transparent)]
    Cluster(#[from] crowdtwin_cluster::ClusterError),
    /// A scenario file was refused; the message names the file, line and problem.
    #[error(transparent)]
    Scenario(#[from] crowdtwin_sim::scenario::ScenarioError),
    /// An option is out of range or malformed; change it as the message says.
    #[error("{0}")]
    InvalidOption(String),
    /// A file could not be read or written; the message names it.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What the operating system said.
        reason: String,
    },
    /// The service could not start (the address is taken, the twin failed to build).
    #[error("{0}")]
    Service(String),
    /// Writing results failed (closed pipe, full disk).
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

impl CliError {
    /// A [`CliError::File`] for `path`.
    pub fn file(path: &std::path::Path, reason: impl std::fmt::Display) -> CliError {
        CliError::File { path: path.display().to_string(), reason: reason.to_string() }
    }

    /// `--cluster` given to a build without the `cluster` feature.
    #[cfg(not(feature = "cluster"))]
    pub fn no_cluster() -> CliError {
        CliError::InvalidOption("--cluster: built without the `cluster` feature".into())
    }
}
