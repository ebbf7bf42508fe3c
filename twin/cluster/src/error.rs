//! `ClusterError`, the one error type of scale-out runs.

use thiserror::Error;

/// Why a run on worker nodes, or a node itself, failed.
#[derive(Debug, Error)]
pub enum ClusterError {
    /// The run itself was refused (scenario, options); fix it as the message says.
    #[error(transparent)]
    Planner(#[from] crowdtwin_planner::PlannerError),
    /// A simulation parameter was rejected or saved state does not fit; fix the value named.
    #[error(transparent)]
    Sim(#[from] crowdtwin_sim::SimError),
    /// A scenario file was refused; the message names the file, line and problem.
    #[error(transparent)]
    Scenario(#[from] crowdtwin_sim::scenario::ScenarioError),
    /// An option is out of range or malformed; change it as the message says.
    #[error("{0}")]
    InvalidOption(String),
    /// A nodes or cookie file could not be read or is malformed; the message names it.
    #[error("{0}")]
    File(String),
    /// A node could not be reached, refused us, or was lost with nobody left to take its work;
    /// check the nodes and their cookie, then run again.
    #[error("{0}")]
    Node(String),
    /// A node and the coordinator disagree (another version, unexpected mail); run the same
    /// build everywhere.
    #[error("{0}")]
    Protocol(String),
    /// Writing results failed (closed pipe, full disk).
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}
