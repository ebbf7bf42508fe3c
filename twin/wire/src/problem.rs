//! Error answers of the HTTP service.

use serde::{Deserialize, Serialize};

/// A JSON problem response (RFC 9457 style).
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    /// HTTP status.
    pub status: u16,
    /// Short title.
    pub title: String,
    /// What went wrong and what to do.
    pub detail: String,
    /// Per-observation problems, for refused batches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<(usize, String)>,
}
