//! crowdtwin-live: the live digital twin: observations in, an ensemble of world states kept
//! in step by a particle filter, 30-minute forecasts with quantiles and
//! alerts out.
//!
//! - [`observation`]: the versioned observation format, checking, late and
//!   duplicate handling.
//! - [`ensemble`]: the [`Twin`]: members, assimilation, resampling, forecasts.
//! - [`bias`]: each count sensor's own bias, learned as the filter goes.
//! - [`calibration`]: the forecasts' anomaly persistence and band, learned
//!   online from what the sensors later saw.
//! - [`clock`]: the injected clock (wall clock live, accelerated, or manual).

#![warn(missing_docs)]

//! - [`eval`]: forecast evaluation against a truth scenario the twin cannot see.
//! - [`counts`]: forecast evaluation on real hourly counts.
//! - [`itinerary`]: visitors' day plans on the live forecast (the planner).
//! - [`bookings`]: issued plans as demand that later plans see.
//!
//! No HTTP and no order store here: the service (`crowdtwin-service`) wraps
//! the twin in an actor and serves it; the wire types it answers with are
//! `crowdtwin-wire`'s.

pub mod bias;
pub mod bookings;
pub mod calibration;
pub mod clock;
pub mod counts;
pub mod ensemble;
mod error;
pub mod eval;
pub mod itinerary;
pub mod observation;
pub mod products;

pub use crowdtwin_wire::{
    Alert, BookedPlans, ElementForecast, ElementState, Forecast, IngestReport, MinuteQuantiles, Observation,
    ObservationError, ObservationTotals, TwinState,
};
pub use ensemble::{Twin, TwinConfig};
pub use error::LiveError;
