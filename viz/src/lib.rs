//! crowdtwin's 3D viewer (Bevy): replays a run's output folder or follows the
//! live twin, drawing the site, places coloured by level of service, visitors
//! moving along walkways, alerts, a timeline and panels. It can also render
//! one frame without a window (`--screenshot`) and time frames (`--bench-frames`).
//!
//! With `--compare FILE` it colours the site by a scenario comparison's
//! change instead of the level of service.
//!
//! The data side (`site`, `frame`, `replay`, `live`, `layout`, `change`) is plain Rust;
//! `app` holds the Bevy plugins, one per file.

pub mod app;
pub mod change;
pub mod error;
pub mod frame;
pub mod layout;
pub mod live;
pub mod replay;
pub mod site;

pub use error::VizError;
