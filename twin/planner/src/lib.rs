//! crowdtwin-planner: what planners run on scenario files.
//!
//! - [`run`]: load, build and run a scenario (sharded or not), with progress.
//! - [`output`]: `places.parquet`, `kpis.json`, `report.html`, `scenario.toml`.
//! - [`report`]: the self-contained HTML report with inline SVG plots.
//! - [`compare`]: two scenarios over paired seeds, changes with confidence intervals.
//! - [`stress`]: capacity stress tests over one parameter, first failures.
//! - [`validation`]: the crowd model against measured experiments.
//! - [`site`]: site geometry as GeoJSON: export, and import as a scenario skeleton.
//! - [`synthetic`]: synthetic parks for scale tests.
//! - [`bench`]: the kernel's PHOLD benchmark and sharded crowd runs.
//! - [`progress`]: progress bars (indicatif) of long runs.
//! - [`recommendations`]: following recommendations at several shares over seeds.
//!
//! No HTTP, no live twin, no order store.

#![warn(missing_docs)]

pub mod bench;
pub mod compare;
mod error;
mod jobs;
pub mod output;
pub mod progress;
pub mod recommendations;
pub mod report;
pub mod run;
pub mod site;
pub mod stress;
pub mod synthetic;
pub mod validation;

pub use error::PlannerError;
