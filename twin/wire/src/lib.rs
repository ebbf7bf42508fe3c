//! crowdtwin-wire: the types that cross the wire between the live service and
//! its clients (the viewer, the replay and load tools, apps), as serde structs.
//!
//! Nothing here knows how a value is computed; the live twin, the order book
//! and the HTTP service fill these types, the viewer and the clients read
//! them. With the `openapi` feature every type also derives
//! `utoipa::ToSchema` for the service's OpenAPI document; the viewer builds
//! without it.

#![warn(missing_docs, unreachable_pub)]

pub mod compare;
pub mod forecast;
pub mod itinerary;
pub mod observation;
pub mod orders;
pub mod problem;

pub use forecast::{
    Alert, BookedPlans, ElementForecast, ElementState, Forecast, MinuteQuantiles, ObservationTotals, TwinState,
};
pub use itinerary::{
    ItineraryBatchItem, ItineraryBatchOut, ItineraryBatchRequest, ItineraryOut, ItineraryRequest, ProductOut,
    ProductsOut, RouteOut, ScheduleEntry, StopOut, WalkOut,
};
pub use observation::{IngestReport, OBSERVATION_FORMAT_VERSION, Observation, ObservationError};
pub use orders::{
    BatchReceipt, ItemStock, ORDER_BATCH_MAX, Order, OrderBatch, OrderLine, OrderReceipt, OrderRequest, OrderStatus,
    RejectCode, RestockRequest, ShopStock,
};
pub use problem::Problem;

/// A stable 64-bit FNV-1a hash of `bytes` (the same on every machine and
/// version, unlike `std`'s hashers): for ids that outlive a process.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}
