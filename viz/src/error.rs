//! `VizError`, the crate's one error type.

/// What went wrong, saying what the user can do about it.
#[derive(Debug, thiserror::Error)]
pub enum VizError {
    /// A run folder, scenario or option is missing or malformed: fix the input.
    #[error("{0}")]
    Input(String),
    /// The live service could not be reached or answered something unexpected:
    /// check the URL and that `crowdtwin serve` is running.
    #[error("live service: {0}")]
    Live(String),
    /// Rendering failed (no Vulkan/GPU adapter, screenshot not written).
    #[error("rendering: {0}")]
    Render(String),
}
