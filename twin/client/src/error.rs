//! `ClientError`, the one error type of the clients of a running service.

use thiserror::Error;

/// Why a replay, observation file or load run failed.
#[derive(Debug, Error)]
pub enum ClientError {
    /// A scenario file was refused; the message names the file, line and problem.
    #[error(transparent)]
    Scenario(#[from] crowdtwin_sim::scenario::ScenarioError),
    /// An option is out of range or malformed (a URL, a batch size); change it as the message says.
    #[error("{0}")]
    InvalidOption(String),
    /// A file could not be read, parsed or written; the message names it and the line.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The service could not be reached; check that it runs at that address.
    #[error("{url}: {reason}")]
    Connect {
        /// The service's address.
        url: String,
        /// What the connection said.
        reason: String,
    },
    /// The service answered with an error; the message quotes it.
    #[error("{0}")]
    Refused(String),
    /// Writing results failed (closed pipe, full disk).
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

impl ClientError {
    /// A [`ClientError::File`] for `path`.
    pub fn file(path: impl std::fmt::Display, reason: impl std::fmt::Display) -> ClientError {
        ClientError::File { path: path.to_string(), reason: reason.to_string() }
    }
}
