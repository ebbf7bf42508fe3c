//! Orders, receipts, stock and restocks.

use serde::{Deserialize, Serialize};

/// Most orders in one `POST /v1/orders/batch`.
pub const ORDER_BATCH_MAX: usize = 10_000;

/// One line of an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OrderLine {
    /// Item id, as declared in the scenario's `items` of the shop.
    pub item: String,
    /// Units, 1 to 10,000.
    pub quantity: u32,
}

/// An order, as sent (`POST /v1/orders`, and each element of a batch).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OrderRequest {
    /// The caller's key for this order (1 to 128 bytes), scoped to the
    /// caller's principal. A retry with the same key and body gets the same
    /// answer; the same key with another body is refused (409).
    pub idempotency_key: String,
    /// Shop or food outlet id.
    pub shop: String,
    /// What is ordered (1 to 32 lines).
    pub items: Vec<OrderLine>,
    /// Pickup clock time `HH:MM[:SS]` of the scenario's day, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pickup_at: Option<String>,
}

/// Where an order stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Stock is reserved; durable.
    Confirmed,
    /// Refused; see `code` and `reason`.
    Rejected,
    /// Was confirmed, then cancelled; its stock is back.
    Cancelled,
}

/// Why an order was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RejectCode {
    /// Not enough stock of an item (recorded: a retry gets the same answer).
    OutOfStock,
    /// No shop or food outlet with this id.
    UnknownShop,
    /// The shop sells no such item.
    UnknownItem,
    /// A quantity is 0 or above 10,000, or an item is listed twice.
    BadQuantity,
    /// The order is malformed (no lines, too many lines, bad key or pickup time).
    BadOrder,
    /// The idempotency key was used before for another order (batch only;
    /// a single order gets 409).
    KeyConflict,
}

/// The answer to one order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderReceipt {
    /// Order id, 32 hex digits, not guessable (absent for orders refused
    /// before reaching the book: unknown shop or item, bad quantity,
    /// malformed; and for a key still in flight on another shard).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The caller's idempotency key.
    pub idempotency_key: String,
    /// Confirmed, rejected or (on a retry after a cancel) cancelled.
    pub status: OrderStatus,
    /// Why it was rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<RejectCode>,
    /// Why it was rejected, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// True when this answers a retry of an order decided before.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replayed: bool,
}

/// An order as stored (`GET /v1/orders/{id}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Order {
    /// Order id, 32 hex digits.
    pub id: String,
    /// Who placed it: the principal of the bearer token (`anonymous` with auth off).
    pub principal: String,
    /// The caller's idempotency key (scoped to the principal).
    pub idempotency_key: String,
    /// Shop id.
    pub shop: String,
    /// Lines.
    pub items: Vec<OrderLine>,
    /// Pickup clock time, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pickup_at: Option<String>,
    /// Status.
    pub status: OrderStatus,
    /// Why it was rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<RejectCode>,
    /// Why it was rejected, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A shop's stock (`GET /v1/shops/{id}/stock`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShopStock {
    /// Shop id.
    pub shop: String,
    /// Items.
    pub items: Vec<ItemStock>,
}

/// One item's stock.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ItemStock {
    /// Item id.
    pub item: String,
    /// Units available now.
    pub stock: u32,
    /// Price per unit.
    pub price: f64,
}

/// A restock by an operator (`POST /v1/shops/{id}/restock`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RestockRequest {
    /// Units to add per item.
    pub items: Vec<OrderLine>,
}

/// `POST /v1/orders/batch` body.
#[derive(Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OrderBatch {
    /// Up to 10,000 orders, each with its own idempotency key.
    pub orders: Vec<OrderRequest>,
}

/// `POST /v1/orders/batch` answer: one receipt per order, in order.
#[derive(Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchReceipt {
    /// Orders confirmed (including retries of confirmed orders).
    pub confirmed: usize,
    /// Orders rejected (stock, names, quantities, key conflicts).
    pub rejected: usize,
    /// One per order.
    pub receipts: Vec<OrderReceipt>,
}
