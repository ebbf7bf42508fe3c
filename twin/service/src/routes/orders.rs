//! The order endpoints. Customers (or operators) order, read and cancel;
//! operators restock. Every answer that reports an order decided was sent
//! after the commit holding it.

use crate::auth::Role;
use crate::error::{ApiError, Problem};
use crate::state::AppState;
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use crowdtwin_orders::{
    BatchReceipt, ORDER_BATCH_MAX, Order, OrderBatch, OrderBook, OrderError, OrderReceipt, OrderRequest, OrderStatus,
    RejectCode, RestockRequest, ShopStock,
};
use std::sync::Arc;
use utoipa::OpenApi;

impl From<OrderError> for ApiError {
    fn from(error: OrderError) -> Self {
        match error {
            OrderError::NoSuchOrder(_) | OrderError::NoSuchShop(_) => ApiError::NotFound(error.to_string()),
            OrderError::KeyConflict(..) | OrderError::KeyInFlight(_) => ApiError::Conflict(error.to_string()),
            OrderError::Refused(_) => ApiError::Unprocessable(error.to_string(), Vec::new()),
            OrderError::Busy(_) | OrderError::Store(_) | OrderError::Open(_) | OrderError::Export(_) => {
                ApiError::Unavailable(error.to_string())
            }
        }
    }
}

fn book(app: &AppState) -> Result<Arc<OrderBook>, ApiError> {
    app.orders
        .clone()
        .ok_or_else(|| ApiError::Unavailable("orders are not enabled on this service: start it with --data DIR".into()))
}

/// Reads a JSON body straight from its bytes (the hot paths skip axum's
/// `Json`, whose error-path tracking costs per field).
fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::BadRequest(format!("the body is not valid order JSON: {e}")))
}

/// Shortest order in JSON, bytes (`{"idempotency_key":"k","shop":"s","items":[{"item":"i","quantity":1}]}`
/// has 70): the orders a batch body of a given length can hold at most.
const ORDER_JSON_BYTES_MIN: usize = 64;

/// Reads a batch body as `OrderBatch` does (the same fields, the same
/// refusals), into a vector sized from the body's length: grown by
/// doubling, 10,000 orders' vector (about a megabyte) was copied into
/// fresh pages several times per batch.
fn batch_body(bytes: &[u8]) -> Result<OrderBatch, ApiError> {
    use serde::de::{DeserializeSeed, Error, MapAccess, SeqAccess, Visitor};
    struct Orders(usize);
    impl<'de> DeserializeSeed<'de> for Orders {
        type Value = Vec<OrderRequest>;
        fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
            deserializer.deserialize_seq(self)
        }
    }
    impl<'de> Visitor<'de> for Orders {
        type Value = Vec<OrderRequest>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a sequence of orders")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut orders = Vec::with_capacity(self.0);
            while let Some(order) = seq.next_element()? {
                orders.push(order);
            }
            Ok(orders)
        }
    }
    struct Batch(usize);
    impl<'de> Visitor<'de> for Batch {
        type Value = OrderBatch;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("struct OrderBatch")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderBatch, A::Error> {
            let mut orders = None;
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                match &*key {
                    "orders" if orders.is_some() => return Err(A::Error::duplicate_field("orders")),
                    "orders" => orders = Some(map.next_value_seed(Orders(self.0))?),
                    other => return Err(A::Error::unknown_field(other, &["orders"])),
                }
            }
            Ok(OrderBatch { orders: orders.ok_or_else(|| A::Error::missing_field("orders"))? })
        }
    }
    let capacity = (bytes.len() / ORDER_JSON_BYTES_MIN).min(ORDER_BATCH_MAX);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde::Deserializer::deserialize_struct(&mut deserializer, "OrderBatch", &["orders"], Batch(capacity))
        .and_then(|batch| deserializer.end().map(|()| batch))
        .map_err(|e| ApiError::BadRequest(format!("the body is not valid order JSON: {e}")))
}

/// Places one order for the token's principal. 201 confirmed; 200 a retry
/// answered again (same key and body, same principal); 422 rejected (the
/// receipt says why: out of stock, unknown shop or item, bad quantity); 409
/// the principal used the key for another order (or one still being
/// committed: retry). Keys are scoped per principal.
#[utoipa::path(post, path = "/v1/orders", request_body = OrderRequest, security(("bearer" = [])),
    responses((status = 201, body = OrderReceipt), (status = 200, body = OrderReceipt), (status = 422, body = OrderReceipt),
        (status = 409, body = Problem), (status = 401, body = Problem), (status = 503, body = Problem)))]
async fn place_one(State(app): State<AppState>, headers: HeaderMap, request: Bytes) -> Result<Response, ApiError> {
    let caller = app.authorize(&headers, Role::Customer)?;
    let request: OrderRequest = body(&request)?;
    let book = book(&app)?;
    let receipt = book.place(&caller.principal, vec![request]).await?.pop().expect("one receipt per order");
    let status = match (receipt.status, receipt.code, receipt.replayed) {
        (_, Some(RejectCode::KeyConflict), _) => {
            return Err(ApiError::Conflict(receipt.reason.unwrap_or_default()));
        }
        (OrderStatus::Rejected, _, _) => StatusCode::UNPROCESSABLE_ENTITY,
        (_, _, true) => StatusCode::OK,
        _ => StatusCode::CREATED,
    };
    Ok((status, Json(receipt)).into_response())
}

/// Places up to 10,000 orders at once (413 beyond); 200 with one receipt
/// per order. All are durable when the answer is sent.
#[utoipa::path(post, path = "/v1/orders/batch", request_body = OrderBatch, security(("bearer" = [])),
    responses((status = 200, body = BatchReceipt), (status = 400, body = Problem), (status = 413, body = Problem),
        (status = 401, body = Problem), (status = 503, body = Problem)))]
async fn place_batch(State(app): State<AppState>, headers: HeaderMap, request: Bytes) -> Result<Response, ApiError> {
    let caller = app.authorize(&headers, Role::Customer)?;
    let batch = batch_body(&request)?;
    if batch.orders.len() > ORDER_BATCH_MAX {
        return Err(ApiError::TooLarge(format!(
            "{} orders in one batch; send at most {ORDER_BATCH_MAX}",
            batch.orders.len()
        )));
    }
    if batch.orders.is_empty() {
        return Err(ApiError::BadRequest("an empty batch".into()));
    }
    let receipts = book(&app)?.place(&caller.principal, batch.orders).await?;
    let confirmed = receipts.iter().filter(|r| r.status == OrderStatus::Confirmed).count();
    // About a megabyte for 10,000 receipts: serialised into a buffer of
    // its size, not one grown by doubling (each growth copied it into
    // fresh pages the kernel zeroed first).
    let bytes = 64 + receipts.iter().map(receipt_bytes_max).sum::<usize>();
    let answer = BatchReceipt { confirmed, rejected: receipts.len() - confirmed, receipts };
    let mut body = Vec::with_capacity(bytes);
    serde_json::to_writer(&mut body, &answer).map_err(|e| ApiError::Unavailable(format!("writing receipts: {e}")))?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// About the most bytes a receipt takes in JSON, its strings unescaped.
fn receipt_bytes_max(receipt: &OrderReceipt) -> usize {
    let text = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    // `{"id":"..","idempotency_key":"..","status":"cancelled","code":"..","reason":"..","replayed":true},`
    120 + text(&receipt.id) + receipt.idempotency_key.len() + text(&receipt.reason)
}

/// One order as stored, with its status now. Customers see only their
/// principal's orders (404 for any other id); operators see all.
#[utoipa::path(get, path = "/v1/orders/{id}", params(("id" = String, Path, description = "order id (32 hex digits)")), security(("bearer" = [])),
    responses((status = 200, body = Order), (status = 404, body = Problem), (status = 401, body = Problem)))]
async fn get_order(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let caller = app.authorize(&headers, Role::Customer)?;
    Ok(Json(book(&app)?.get(&id, caller.viewer()).await?).into_response())
}

/// Cancels a confirmed order and puts its units back in stock; cancelling
/// again changes nothing. 422 for a rejected order. Customers cancel only
/// their principal's orders (404 for any other id); operators any.
#[utoipa::path(post, path = "/v1/orders/{id}/cancel", params(("id" = String, Path, description = "order id (32 hex digits)")), security(("bearer" = [])),
    responses((status = 200, body = Order), (status = 404, body = Problem), (status = 422, body = Problem), (status = 401, body = Problem)))]
async fn cancel(State(app): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Result<Response, ApiError> {
    let caller = app.authorize(&headers, Role::Customer)?;
    Ok(Json(book(&app)?.cancel(&id, caller.viewer()).await?).into_response())
}

/// A shop's stock per item (committed).
#[utoipa::path(get, path = "/v1/shops/{id}/stock", params(("id" = String, Path, description = "shop id")), security(("bearer" = [])),
    responses((status = 200, body = ShopStock), (status = 404, body = Problem), (status = 401, body = Problem)))]
async fn stock(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(shop): Path<String>,
) -> Result<Response, ApiError> {
    app.authorize(&headers, Role::Customer)?;
    Ok(Json(book(&app)?.stock(&shop)?).into_response())
}

/// Every shop and food outlet with its stock per item.
#[utoipa::path(get, path = "/v1/shops", security(("bearer" = [])),
    responses((status = 200, body = Vec<ShopStock>), (status = 401, body = Problem), (status = 503, body = Problem)))]
async fn shops(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    app.authorize(&headers, Role::Customer)?;
    Ok(Json(book(&app)?.shops()).into_response())
}

/// Adds units to a shop's items (operators only); answers the new stock once durable.
#[utoipa::path(post, path = "/v1/shops/{id}/restock", request_body = RestockRequest, params(("id" = String, Path, description = "shop id")), security(("bearer" = [])),
    responses((status = 200, body = ShopStock), (status = 404, body = Problem), (status = 422, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn restock(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(shop): Path<String>,
    request: Bytes,
) -> Result<Response, ApiError> {
    app.authorize(&headers, Role::Operator)?;
    let request: RestockRequest = body(&request)?;
    Ok(Json(book(&app)?.restock(&shop, &request.items).await?).into_response())
}

/// Every order committed so far, one row per order line, as Parquet (the
/// columns of `crowdtwin orders export`), while the service runs (operators only).
#[utoipa::path(get, path = "/v1/orders/export", security(("bearer" = [])),
    responses((status = 200, description = "Parquet file", content_type = "application/vnd.apache.parquet"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 503, body = Problem)))]
async fn export(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    app.authorize(&headers, Role::Operator)?;
    let book = book(&app)?;
    let (bytes, orders) = tokio::task::spawn_blocking(move || book.export_parquet())
        .await
        .map_err(|e| ApiError::Unavailable(format!("the export stopped: {e}")))?
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let headers = [
        (axum::http::header::CONTENT_TYPE, "application/vnd.apache.parquet".to_string()),
        (axum::http::header::CONTENT_DISPOSITION, "attachment; filename=\"orders.parquet\"".to_string()),
        (axum::http::HeaderName::from_static("x-orders"), orders.to_string()),
    ];
    Ok((headers, bytes).into_response())
}

/// Declares the `bearer` security scheme the order endpoints name.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        let scheme = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some(
            "A token from the service's --tokens file: role customer for orders, operator also for restocks and observations",
        ));
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme.build()));
    }
}

#[derive(OpenApi)]
#[openapi(
    modifiers(&BearerAuth),
    paths(place_one, place_batch, get_order, cancel, shops, stock, restock, export),
    components(schemas(OrderRequest, OrderBatch, BatchReceipt, OrderReceipt, Order, ShopStock, RestockRequest))
)]
struct OrdersDoc;

/// The order endpoints' OpenAPI document (merged into the service's).
pub fn openapi() -> utoipa::openapi::OpenApi {
    OrdersDoc::openapi()
}

/// The order routes, merged into [`crate::router`].
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/orders", post(place_one))
        .route("/v1/orders/batch", post(place_batch))
        .route("/v1/orders/export", get(export))
        .route("/v1/orders/{id}", get(get_order))
        .route("/v1/orders/{id}/cancel", post(cancel))
        .route("/v1/shops", get(shops))
        .route("/v1/shops/{id}/stock", get(stock))
        .route("/v1/shops/{id}/restock", post(restock))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sized batch reader accepts and refuses what `OrderBatch`'s own
    /// `Deserialize` does.
    #[test]
    fn batch_bodies_read_as_order_batch_does() {
        let order = r#"{"idempotency_key":"k1","shop":"s","items":[{"item":"i","quantity":2}],"pickup_at":"12:00"}"#;
        let bodies = [
            format!(r#"{{"orders":[{order},{order}]}}"#),
            r#"{"orders":[]}"#.to_string(),
            r#" { "orders" : [ ] } "#.to_string(),
            r#"{"orders":[],"extra":1}"#.to_string(),
            r#"{"orders":[],"orders":[]}"#.to_string(),
            r#"{}"#.to_string(),
            r#"{"orders":[]} x"#.to_string(),
            r#"{"orders":[{"shop":"s"}]}"#.to_string(),
            r#"{"orders":{}}"#.to_string(),
            r#"[]"#.to_string(),
            r#"{"orders":[1]"#.to_string(),
            String::new(),
        ];
        for body in bodies {
            let sized = batch_body(body.as_bytes()).map(|b| b.orders);
            let derived = serde_json::from_str::<OrderBatch>(&body).map(|b| b.orders);
            match (&sized, &derived) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{body}"),
                (Err(_), Err(_)) => {}
                // Serde's derive also reads a struct from a sequence; a batch is an object.
                (Err(_), Ok(_)) if body.trim_start().starts_with('[') => {}
                _ => panic!("{body}: sized {:?}, derived {:?}", sized.is_ok(), derived.is_ok()),
            }
        }
        let orders = batch_body(format!(r#"{{"orders":[{order}]}}"#).as_bytes()).unwrap().orders;
        assert_eq!((orders.len(), orders[0].idempotency_key.as_str()), (1, "k1"));
    }
}
