//! `LiveError`, the one error type of the live twin's set-up and evaluations.
//!
//! The twin itself answers refused observations with
//! `crowdtwin_wire::ObservationError` (every problem by position); this type
//! covers what a caller sets up around it: files and options.

use thiserror::Error;

/// Why an evaluation or a data file was refused.
#[derive(Debug, Error)]
pub enum LiveError {
    /// An option is out of range or malformed; change it as the message says.
    #[error("{0}")]
    InvalidOption(String),
    /// A data file could not be read or holds bad rows; the message names it (and the line).
    #[error("{path}: {reason}")]
    File {
        /// The file (with `:line` where one line is at fault).
        path: String,
        /// What the operating system or the parser said.
        reason: String,
    },
    /// The data cannot answer this question (nothing to score); use more data.
    #[error("{0}")]
    Unsupported(String),
}

impl LiveError {
    /// A [`LiveError::File`] for `path`.
    pub fn file(path: impl std::fmt::Display, reason: impl std::fmt::Display) -> LiveError {
        LiveError::File { path: path.to_string(), reason: reason.to_string() }
    }
}
