//! `PlannerError`, the one error type of planner runs.

use thiserror::Error;

/// Why a planner run, stress test or validation could not be done.
#[derive(Debug, Error)]
pub enum PlannerError {
    /// A simulation parameter or run option was rejected; fix the value named.
    #[error(transparent)]
    Sim(#[from] crowdtwin_sim::SimError),
    /// A scenario file was refused; the message names the file, line and problem.
    #[error(transparent)]
    Scenario(#[from] crowdtwin_sim::scenario::ScenarioError),
    /// An option is out of range or malformed; change it as the message says.
    #[error("{0}")]
    InvalidOption(String),
    /// A file or folder could not be read or created; the message names it.
    #[error("{path}: {reason}")]
    File {
        /// The file or folder.
        path: String,
        /// What the operating system or the parser said.
        reason: String,
    },
    /// A GeoJSON site file was refused: every problem found, each naming
    /// its feature (one a line, after the file's name).
    #[error("{}", site_problems(file, problems))]
    Site {
        /// The file.
        file: String,
        /// What is wrong, one problem each.
        problems: Vec<String>,
    },
    /// The scenario cannot answer this question (e.g. it has no visitors); use another scenario.
    #[error("{0}")]
    Unsupported(String),
    /// Writing results failed (closed pipe, full disk).
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

impl PlannerError {
    /// A [`PlannerError::File`] for `path`.
    pub fn file(path: impl std::fmt::Display, reason: impl std::fmt::Display) -> PlannerError {
        PlannerError::File { path: path.to_string(), reason: reason.to_string() }
    }
}

/// `file: problem`, one a line.
fn site_problems(file: &str, problems: &[String]) -> String {
    problems.iter().map(|p| format!("{file}: {p}")).collect::<Vec<_>>().join("\n")
}
