//! The live digital twin: observations in, an ensemble of world states kept
//! in step by a particle filter, 30-minute forecasts with quantiles and
//! alerts out.
//!
//! - [`observation`]: the versioned observation format, checking, late and
//!   duplicate handling.
//! - [`ensemble`]: the [`Twin`]: members, assimilation, resampling, forecasts.
//! - [`calibration`]: the forecasts' anomaly persistence and band, learned
//!   online from what the sensors later saw.
//! - [`clock`]: the injected clock (wall clock live, accelerated, or manual).

pub mod calibration;
pub mod clock;
pub mod ensemble;
pub mod observation;

pub use ensemble::{Alert, ElementForecast, Forecast, MinuteQuantiles, Twin, TwinConfig, TwinState};
pub use observation::{IngestReport, Observation, ObservationError};
