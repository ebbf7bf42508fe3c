//! The OpenAPI document, from the handlers' annotations.

use crate::routes::{itineraries, orders, twin};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(info(title = "crowdtwin", description = "Live crowd forecasts for large event sites"))]
struct ApiDoc;

/// The OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi().merge_from(twin::openapi()).merge_from(itineraries::openapi()).merge_from(orders::openapi())
}
