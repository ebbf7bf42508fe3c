//! Why a scenario was refused, and where in its file.

use std::fmt;

/// Why a scenario was refused: the file, the line (1-based, when known) and
/// what is wrong.
#[derive(Clone, Debug, PartialEq)]
pub struct ScenarioError {
    /// File name as given to [`super::Scenario::parse`].
    pub file: String,
    /// 1-based line, when the error can be placed.
    pub line: Option<usize>,
    /// What is wrong and what is accepted.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for ScenarioError {}

/// Converts byte offsets to 1-based line numbers.
pub(super) struct Lines<'a> {
    pub(super) text: &'a str,
}

impl Lines<'_> {
    pub(super) fn of(&self, offset: usize) -> usize {
        self.text.as_bytes()[..offset.min(self.text.len())].iter().filter(|&&b| b == b'\n').count() + 1
    }
}
