//! Orders: shops that own their stock, an order book that reserves stock in
//! memory and acknowledges an order only once it is durable on disk, and the
//! HTTP endpoints over it.
//!
//! - [`shop`]: one shop, an actor in the kernel's sense (it owns its stock
//!   per item and answers reserve, release and restock messages), and the
//!   catalogue read from the scenario's `items`.
//! - [`store`]: the durable log (redb, one compact binary blob per group
//!   commit, fsync before the commit returns) and recovery from it.
//! - [`book`]: the order book: shard threads, each owning some shops and its
//!   own store; each drains the requests waiting for it, decides them,
//!   commits them together (group commit) and only then answers.
//! - [`api`]: `POST /v1/orders`, `/v1/orders/batch`, `GET /v1/orders/{id}`,
//!   `POST /v1/orders/{id}/cancel`, `GET /v1/shops/{id}/stock`,
//!   `POST /v1/shops/{id}/restock`.
//! - [`export`]: the store as Parquet, one row per order line.
//! - [`live`]: confirmed orders as observations for the twin.
//!
//! Invariants: stock is never negative; an answer leaves the book only after
//! the commit holding it returned; an idempotency key names one order for
//! ever (across restarts: the key index is rebuilt from the store).

pub mod api;
pub mod book;
pub mod export;
pub mod live;
pub mod shop;
pub mod store;

use serde::{Deserialize, Serialize};

pub use book::{OrderBook, OrderBookConfig};

/// Order book shards (threads, each with its own store file), shops spread
/// over them by position; fixed, because order ids carry their shard.
pub const ORDER_SHARDS: usize = 4;
/// Most orders in one `POST /v1/orders/batch`.
pub const ORDER_BATCH_MAX: usize = 10_000;
/// Most lines (items) in one order.
pub const ORDER_LINES_MAX: usize = 32;
/// Most units of one item in one order line.
pub const ORDER_QUANTITY_MAX: u32 = 10_000;
/// Longest idempotency key, bytes.
pub const IDEMPOTENCY_KEY_BYTES_MAX: usize = 128;
/// Most orders decided and committed together in one group commit.
pub const COMMIT_ORDERS_MAX: usize = 65_536;
/// Most requests waiting for the order book; beyond it callers get 503.
pub const ORDER_QUEUE_REQUESTS_MAX: usize = 16_384;
/// Most units restocked at once.
pub const RESTOCK_QUANTITY_MAX: u32 = 1_000_000;

/// One line of an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderLine {
    /// Item id, as declared in the scenario's `items` of the shop.
    pub item: String,
    /// Units, 1 to 10,000.
    pub quantity: u32,
}

/// An order, as sent (`POST /v1/orders`, and each element of a batch).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderRequest {
    /// The caller's key for this order (1 to 128 bytes). A retry with the
    /// same key and body gets the same answer; the same key with another
    /// body is refused (409).
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderReceipt {
    /// Order id (absent for orders refused before reaching the book: unknown
    /// shop or item, bad quantity, malformed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Order {
    /// Order id.
    pub id: u64,
    /// The caller's idempotency key.
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ShopStock {
    /// Shop id.
    pub shop: String,
    /// Items.
    pub items: Vec<ItemStock>,
}

/// One item's stock.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ItemStock {
    /// Item id.
    pub item: String,
    /// Units available now.
    pub stock: u32,
    /// Price per unit.
    pub price: f64,
}

/// A restock by an operator (`POST /v1/shops/{id}/restock`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestockRequest {
    /// Units to add per item.
    pub items: Vec<OrderLine>,
}

/// Errors of the order book that are not answers to an order.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    /// No such order id.
    #[error("no order {0}")]
    NoSuchOrder(u64),
    /// No such shop.
    #[error("no shop or food outlet `{0}`")]
    NoSuchShop(String),
    /// The same idempotency key was used for another order.
    #[error(
        "idempotency key `{0}` was used for another order (order {1}); use a new key for a new order, or resend the original body"
    )]
    KeyConflict(String, u64),
    /// The request cannot be done (cancel a rejected order, restock an unknown item...).
    #[error("{0}")]
    Refused(String),
    /// The order book is too busy to queue the request; retry.
    #[error("the order book is busy ({0} requests waiting); retry with the same idempotency keys")]
    Busy(usize),
    /// The store failed; the order book stopped. Restart the service: it recovers from the store.
    #[error("the order store failed: {0}; nothing after the last durable commit was acknowledged")]
    Store(String),
    /// The data folder does not fit (another catalogue, unreadable files).
    #[error("{0}")]
    Open(String),
}

/// A stable 64-bit FNV-1a hash of an order's body (shop, lines, pickup),
/// to tell a retry from another order under the same key.
pub fn body_hash(request: &OrderRequest) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // A separator, so ("ab","c") and ("a","bc") differ.
        hash ^= 0xff;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    };
    eat(request.shop.as_bytes());
    for line in &request.items {
        eat(line.item.as_bytes());
        eat(&line.quantity.to_le_bytes());
    }
    if let Some(pickup) = &request.pickup_at {
        eat(pickup.as_bytes());
    }
    hash
}
