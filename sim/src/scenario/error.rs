//! Why a scenario was refused, and where in its file.

use std::fmt;

/// Why a scenario was refused: the file, the line (1-based, when known) and
/// what is wrong; `more` holds the file's further errors, so that one check
/// reports them all.
#[derive(Clone, Debug, PartialEq)]
pub struct ScenarioError {
    /// File name as given to [`super::Scenario::parse`].
    pub file: String,
    /// 1-based line, when the error can be placed.
    pub line: Option<usize>,
    /// What is wrong and what is accepted.
    pub message: String,
    /// Further errors in the same file, in line order (each with an empty
    /// `more`).
    pub more: Vec<ScenarioError>,
}

impl ScenarioError {
    /// One error, with no further ones.
    pub fn new(file: &str, line: Option<usize>, message: String) -> Self {
        ScenarioError { file: file.to_string(), line, message, more: Vec::new() }
    }

    /// All of `errors` as one, in line order (those with no line first);
    /// `None` when there are none.
    pub fn all(errors: Vec<ScenarioError>) -> Option<Self> {
        let mut errors: Vec<ScenarioError> = errors
            .into_iter()
            .flat_map(|mut e| {
                let more = std::mem::take(&mut e.more);
                std::iter::once(e).chain(more)
            })
            .collect();
        errors.sort_by_key(|e| e.line);
        let mut errors = errors.into_iter();
        let mut first = errors.next()?;
        first.more = errors.collect();
        Some(first)
    }

    /// This error and the further ones, in order (its `Display` writes them
    /// one a line).
    pub fn each(&self) -> impl Iterator<Item = &ScenarioError> {
        std::iter::once(self).chain(&self.more)
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.each().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            match e.line {
                Some(line) => write!(f, "{}:{}: {}", e.file, line, e.message)?,
                None => write!(f, "{}: {}", e.file, e.message)?,
            }
        }
        Ok(())
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

    /// The key a value at `offset` is written to: the key before the last
    /// `=` ahead of it (for a value inside an array, the array's key).
    pub(super) fn key_before(&self, offset: usize) -> Option<&str> {
        let before = self.text.get(..offset)?;
        let equals = before.rfind('=')?;
        let start = before[..equals].rfind(['\n', '{', ',']).map_or(0, |i| i + 1);
        let key = before[start..equals].trim();
        let bare = |c: char| c.is_ascii_alphanumeric() || "_-.\"' ".contains(c);
        (!key.is_empty() && key.chars().all(bare)).then_some(key)
    }
}
