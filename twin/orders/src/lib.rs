//! Orders: shops that own their stock, an order book that reserves stock in
//! memory and acknowledges an order only once it is durable on disk. No HTTP:
//! the service (`crowdtwin-service`) serves the book; the order, receipt and
//! stock formats are `crowdtwin-wire`'s.
//!
//! - [`shop`]: one shop, an actor in the kernel's sense (it owns its stock
//!   per item and answers reserve, release and restock messages), and the
//!   catalogue read from the scenario's `items`.
//! - [`store`]: the durable log (redb, one compact binary blob per group
//!   commit, fsync before the commit returns) and recovery from it.
//! - [`book`]: the order book: shard threads, each owning some shops and its
//!   own store; each drains the requests waiting for it, decides them,
//!   commits them together (group commit) and only then answers.
//! - [`export`]: the store as Parquet, one row per order line.
//! - [`feed`]: confirmed orders and pickups as observations, handed to a
//!   sink (the service gives the twin's ingest).
//!
//! Invariants: stock is never negative; an answer leaves the book only after
//! the commit holding it returned; an idempotency key names one order of its
//! principal for ever (across restarts: the key index is rebuilt from the
//! store), and the shared key index names an order only once the commit
//! holding it returned; an order is seen and cancelled only by its principal
//! (or an operator); order ids are not guessable ([`OrderId`]).

#![warn(missing_docs)]

pub mod book;
pub mod export;
pub mod feed;
pub mod shop;
pub mod store;

pub use crowdtwin_wire::orders::*;

pub use book::{OrderBook, OrderBookConfig};

/// Order book shards (threads, each with its own store file), shops spread
/// over them by position; fixed, because order ids carry their shard.
pub const ORDER_SHARDS: usize = 4;
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
/// Longest principal name, bytes.
pub const PRINCIPAL_BYTES_MAX: usize = 64;

/// Whether `name` can name a principal: 1 to [`PRINCIPAL_BYTES_MAX`] bytes
/// of ASCII letters, digits and `.`, `_`, `-`, `@`.
pub fn valid_principal(name: &str) -> bool {
    (1..=PRINCIPAL_BYTES_MAX).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'))
}

/// An order's id: 64 random bits drawn when the order is decided (from a
/// ChaCha12 generator seeded by the operating system, stored in the order's
/// record) and the book's internal 64-bit sequence number (which locates the
/// record). Written as 32 hex digits, secret first. Knowing one's own ids
/// tells nothing about another order's secret, so ids cannot be walked;
/// the book answers "no order" unless both halves match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OrderId {
    /// The random half.
    pub secret: u64,
    /// The internal sequence number (`local sequence * shards + shard`).
    pub sequence: u64,
}

impl OrderId {
    /// The id as written: 32 lowercase hex digits, secret first (what
    /// `Display` writes, without the formatting machinery: every receipt
    /// carries one).
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut text = [0u8; 32];
        for (half, value) in [self.secret, self.sequence].into_iter().enumerate() {
            for (i, digit) in text[half * 16..half * 16 + 16].iter_mut().enumerate() {
                *digit = DIGITS[(value >> (60 - 4 * i) & 0xf) as usize];
            }
        }
        String::from_utf8(text.to_vec()).expect("hex digits are ASCII")
    }
}

impl std::fmt::Display for OrderId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl std::str::FromStr for OrderId {
    type Err = OrderError;

    /// Reads 32 hex digits; anything else is no order.
    fn from_str(text: &str) -> Result<OrderId, OrderError> {
        let no = || OrderError::NoSuchOrder(text.chars().take(40).collect());
        if text.len() != 32 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(no());
        }
        let secret = u64::from_str_radix(&text[..16], 16).map_err(|_| no())?;
        let sequence = u64::from_str_radix(&text[16..], 16).map_err(|_| no())?;
        Ok(OrderId { secret, sequence })
    }
}

/// Who may see an order: its principal, or everyone's (operators).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Viewer<'a> {
    /// Only the orders of this principal (customers).
    Owner(&'a str),
    /// Every order (operators).
    Everyone,
}

impl Viewer<'_> {
    /// Whether this viewer may see an order placed by `principal`.
    pub fn may_see(&self, principal: &str) -> bool {
        match self {
            Viewer::Owner(owner) => *owner == principal,
            Viewer::Everyone => true,
        }
    }
}

/// Errors of the order book that are not answers to an order.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    /// No such order id (or one of another principal's orders).
    #[error("no order {0}")]
    NoSuchOrder(String),
    /// No such shop.
    #[error("no shop or food outlet `{0}`")]
    NoSuchShop(String),
    /// The same idempotency key was used for another order.
    #[error(
        "idempotency key `{0}` was used for another order (order {1}); use a new key for a new order, or resend the original body"
    )]
    KeyConflict(String, String),
    /// The same idempotency key names an order of another shard whose commit has not returned yet.
    #[error(
        "idempotency key `{0}` names another order that is being committed; retry, and use a new key for a new order"
    )]
    KeyInFlight(String),
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
    /// Writing an export failed (full disk, closed pipe).
    #[error("writing orders: {0}")]
    Export(String),
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
