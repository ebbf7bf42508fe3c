//! The order book: [`ORDER_SHARDS`] shards, each a thread that owns the
//! shops whose position is its number modulo the shard count, and its own
//! store file. Requests arrive on a bounded channel per shard; a shard takes
//! all that are waiting (up to [`COMMIT_ORDERS_MAX`] orders), decides them
//! against its shops' stock in memory, appends their records to one blob,
//! commits it (one fsync for the whole group) and only then answers every
//! request of the group. Shards commit in parallel: on this machine's disk
//! concurrent fsyncs overlap (one 4 KiB `O_DSYNC` write takes ~3.8 ms alone,
//! ~0.75 ms each with two writers). The idempotency key index is shared by
//! the shards (one lock per group, one more after its commit), so a key
//! names one order of its principal whatever shop; keys are scoped per
//! principal (the index's key is the principal's number and the key). The
//! index names an order only after the commit holding it returned: while a
//! group is being decided and committed its keys are marked in flight by
//! their shard, so another shard meeting such a key answers "in flight,
//! retry" (409) without citing an order that is not durable, and only the
//! shard's own group (answered after the same commit) reads their
//! decision; after the commit the shard marks them committed.
//! Checking a request's shape (shop and item names, quantities, key) and
//! hashing its key happen before, on the caller's task, so the book's
//! thread does only what must be sequential.
//!
//! A failed commit stops the book: nothing of the failed group was
//! acknowledged, later calls answer [`OrderError::Store`], and a restart
//! recovers from what the store holds.

use super::shop::{Catalogue, Shop, ShopMessage, ShopReply};
use super::store::{Decision, OrderRecord, OrderRef, Record, Store};
use super::{
    COMMIT_ORDERS_MAX, IDEMPOTENCY_KEY_BYTES_MAX, ItemStock, ORDER_LINES_MAX, ORDER_QUANTITY_MAX,
    ORDER_QUEUE_REQUESTS_MAX, ORDER_SHARDS, Order, OrderError, OrderId, OrderLine, OrderReceipt, OrderRequest,
    OrderStatus, RESTOCK_QUANTITY_MAX, RejectCode, ShopStock, Viewer, body_hash, valid_principal,
};
use crossbeam_channel::{Receiver, Sender, TrySendError};
use crowdtwin_sim::scenario::{format_clock, parse_clock};
use hashbrown::HashTable;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use rand::{RngCore, SeedableRng};
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;
use tokio::sync::oneshot;

/// Where the order book keeps its store.
#[derive(Clone, Debug)]
pub struct OrderBookConfig {
    /// Data folder (created if missing); shard N keeps `orders-N.redb` in it.
    pub data_dir: PathBuf,
}

/// An order whose shape was checked: names resolved to positions.
#[derive(Clone, Debug)]
pub struct CheckedOrder {
    key: String,
    /// [`KeyHasher::hash`] of the principal's number and the key.
    hash: u64,
    shop: u16,
    lines: Vec<(u16, u32)>,
    pickup_s: Option<u32>,
    body_hash: u64,
}

/// Orders of one principal for one shard.
struct Placement {
    principal: Arc<str>,
    /// The principal's number ([`Principals`]).
    principal_id: u32,
    orders: Vec<CheckedOrder>,
}

enum Command {
    Place(Placement, oneshot::Sender<Result<Vec<OrderReceipt>, OrderError>>),
    Get(OrderId, Option<Box<str>>, oneshot::Sender<Result<Order, OrderError>>),
    Cancel(OrderId, Option<Box<str>>, oneshot::Sender<Result<Order, OrderError>>),
    Restock(u16, Vec<(u16, u32)>, oneshot::Sender<Result<(), OrderError>>),
}

/// What the book's thread publishes for readers, after each commit.
struct Published {
    /// Committed stock per shop per item.
    stock: Vec<Vec<AtomicU32>>,
    /// Units confirmed since start of the store, per shop per item (cancels
    /// not subtracted), of orders without a pickup time.
    confirmed_units: Vec<Vec<AtomicU64>>,
    /// Units of confirmed orders with a pickup time, by `(pickup s, shop,
    /// item)`, until the live feed takes them at that time.
    pickups: Mutex<Pickups>,
    metrics: BookMetrics,
    failed: AtomicBool,
}

/// The book's counters, registered with the service's Prometheus registry
/// (`prometheus-client`; a counter is one shared atomic, as cheap on the
/// hot path as a bare `AtomicU64`).
#[derive(Default)]
struct BookMetrics {
    confirmed: Counter,
    rejected: Counter,
    replayed: Counter,
    cancelled: Counter,
    commits: Counter,
    commit_seconds: Counter<f64, AtomicU64>,
    failed: Gauge,
}

impl BookMetrics {
    fn register(&self, registry: &mut Registry) {
        registry.register("crowdtwin_orders_confirmed", "Orders confirmed.", self.confirmed.clone());
        registry.register("crowdtwin_orders_rejected", "Orders rejected for stock.", self.rejected.clone());
        registry.register("crowdtwin_orders_replayed", "Retries answered from the key index.", self.replayed.clone());
        registry.register("crowdtwin_orders_cancelled", "Orders cancelled.", self.cancelled.clone());
        registry.register("crowdtwin_order_commits", "Durable group commits.", self.commits.clone());
        registry.register(
            "crowdtwin_order_commit_seconds",
            "Time spent committing (fsync included).",
            self.commit_seconds.clone(),
        );
        registry.register(
            "crowdtwin_order_book_failed",
            "1 when a commit failed and the book stopped.",
            self.failed.clone(),
        );
    }
}

/// The order book's handle (cheap to share behind an `Arc`).
pub struct OrderBook {
    senders: Vec<Sender<Command>>,
    /// The shards' stores, to read from beside their writers (exports).
    stores: Vec<Store>,
    catalogue: Arc<Catalogue>,
    shop_positions: HashMap<String, u16>,
    published: Arc<Published>,
    principals: Arc<Principals>,
    hasher: KeyHasher,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

/// Units to be picked up, by `(pickup s, shop, item)`.
type Pickups = std::collections::BTreeMap<(u32, u16, u16), u64>;

/// Parts of the key index's table: growing one part (a rehash) holds the
/// index's lock for 1/64 of the time growing the whole would.
const KEY_INDEX_PARTS: usize = 64;
/// Keys per chunk of the key index's slab (3.5 MiB).
const KEY_SLAB_CHUNK: usize = 1 << 16;

const _: () = assert!(ORDER_SHARDS <= u8::MAX as usize, "a shard's number fits the key index's in-flight mark");

/// Principals by name, numbered as first met: the key index keys an order
/// by its principal's number and its key, so no `principal NUL key` string
/// is built per order. Principals come from the tokens file (or
/// `anonymous` with auth off), so there are few.
#[derive(Default)]
struct Principals {
    ids: RwLock<HashMap<Arc<str>, u32>>,
}

impl Principals {
    /// The principal's number and its name as kept here (shared, not copied per request).
    fn get(&self, name: &str) -> (u32, Arc<str>) {
        if let Some((kept, &id)) = self.ids.read().unwrap_or_else(|e| e.into_inner()).get_key_value(name) {
            return (id, kept.clone());
        }
        let mut ids = self.ids.write().unwrap_or_else(|e| e.into_inner());
        let next = u32::try_from(ids.len()).expect("fewer than 2^32 principals");
        let kept: Arc<str> = Arc::from(name);
        let &mut id = ids.entry(kept).or_insert(next);
        (id, ids.get_key_value(name).expect("just kept").0.clone())
    }

    fn id(&self, name: &str) -> u32 {
        self.get(name).0
    }
}

/// Hashes the key index's keys: SipHash-1-3 with this process's random
/// keys (std's `RandomState`), so that clients, who choose the keys, cannot
/// aim them at one bucket. Each order's key is hashed once, on the caller's
/// task; the index keeps the hash, so the book's threads never hash and
/// growing a part never hashes a key again.
#[derive(Clone)]
struct KeyHasher(std::hash::RandomState);

impl KeyHasher {
    fn new() -> KeyHasher {
        KeyHasher(std::hash::RandomState::new())
    }

    fn hash(&self, principal: u32, key: &str) -> u64 {
        self.0.hash_one((principal, key))
    }
}

/// Where a key of the shared index stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyState {
    /// Decided by this shard, whose commit has not returned yet.
    InFlight(u8),
    /// Durable.
    Committed,
}

/// One key of the shared index (56 bytes, and the key's own allocation).
struct IndexEntry {
    key: Box<str>,
    entry: KeyEntry,
    principal: u32,
    state: KeyState,
}

const _: () = assert!(std::mem::size_of::<IndexEntry>() == 56);

/// The idempotency key index, shared by the shards: the keys in a slab
/// (chunks filled in order, never moved), found through hash tables of
/// `(slab position, 32 bits of the key's hash)`, 8 bytes a key. Growing a
/// table moves those 8 bytes and hashes nothing (the hash bits are there);
/// a key's entry is written once. (Tables of whole entries, 64 bytes, moved
/// every entry at each growth into fresh pages the kernel had to zero
/// first: most of the shards' time under the batch load.)
struct KeyIndex {
    parts: Vec<HashTable<(u32, u32)>>,
    slab: Vec<Vec<IndexEntry>>,
    len: usize,
}

/// A key's hash in the index's table of its part, from the 32 bits it keeps.
fn table_hash(bits: u32) -> u64 {
    u64::from(bits).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

impl KeyIndex {
    fn new() -> KeyIndex {
        KeyIndex { parts: (0..KEY_INDEX_PARTS).map(|_| HashTable::new()).collect(), slab: Vec::new(), len: 0 }
    }

    /// The part of a [`KeyHasher::hash`] (its low bits) and the bits its table keeps (its high half).
    fn split(hash: u64) -> (usize, u32) {
        (hash as usize % KEY_INDEX_PARTS, (hash >> 32) as u32)
    }

    fn entry(&self, at: u32) -> &IndexEntry {
        &self.slab[at as usize / KEY_SLAB_CHUNK][at as usize % KEY_SLAB_CHUNK]
    }

    fn entry_mut(&mut self, at: u32) -> &mut IndexEntry {
        &mut self.slab[at as usize / KEY_SLAB_CHUNK][at as usize % KEY_SLAB_CHUNK]
    }

    fn get(&self, hash: u64, principal: u32, key: &str) -> Option<&IndexEntry> {
        let (part, bits) = KeyIndex::split(hash);
        let found = self.parts[part].find(table_hash(bits), |&(at, kept)| {
            kept == bits && {
                let entry = self.entry(at);
                entry.principal == principal && *entry.key == *key
            }
        });
        found.map(|&(at, _)| self.entry(at))
    }

    /// Adds a key known to be absent; answers its slab position.
    fn insert_new(&mut self, hash: u64, principal: u32, key: &str, state: KeyState, entry: KeyEntry) -> u32 {
        // Memory runs out long before: 2^32 keys take over 400 GB.
        let at = u32::try_from(self.len).expect("fewer than 2^32 idempotency keys");
        if self.len.is_multiple_of(KEY_SLAB_CHUNK) {
            self.slab.push(Vec::with_capacity(KEY_SLAB_CHUNK));
        }
        let chunk = self.slab.last_mut().expect("a chunk with room");
        chunk.push(IndexEntry { key: key.into(), entry, principal, state });
        self.len += 1;
        let (part, bits) = KeyIndex::split(hash);
        self.parts[part].insert_unique(table_hash(bits), (at, bits), |&(_, kept)| table_hash(kept));
        at
    }

    /// Adds a durable key (recovery); false if the key was there.
    fn insert_committed(&mut self, hash: u64, principal: u32, key: &str, entry: KeyEntry) -> bool {
        if self.get(hash, principal, key).is_some() {
            return false;
        }
        self.insert_new(hash, principal, key, KeyState::Committed, entry);
        true
    }

    /// Marks the key at slab position `at`, in flight on `shard`, committed.
    fn commit(&mut self, at: u32, shard: u8) {
        let entry = self.entry_mut(at);
        debug_assert_eq!(entry.state, KeyState::InFlight(shard), "a key is committed by the shard that decided it");
        entry.state = KeyState::Committed;
    }
}

/// Who may see an order, from a command's owner (none: an operator).
fn viewer(owner: &Option<Box<str>>) -> Viewer<'_> {
    owner.as_deref().map_or(Viewer::Everyone, Viewer::Owner)
}

/// The shard owning shop `shop`.
fn shard_of_shop(shop: u16) -> usize {
    shop as usize % ORDER_SHARDS
}

/// The shard holding order `id` (ids are `local sequence * shards + shard`).
fn shard_of_order(id: u64) -> usize {
    (id % ORDER_SHARDS as u64) as usize
}

/// Index entry of one idempotency key.
#[derive(Clone, Copy)]
struct KeyEntry {
    id: u64,
    secret: u64,
    body_hash: u64,
    decision: Decision,
}

/// The book's thread state.
struct Book {
    store: Store,
    catalogue: Arc<Catalogue>,
    shops: Vec<Shop>,
    keys: Arc<Mutex<KeyIndex>>,
    /// Where the keys of the group being built are in the shared index
    /// (in flight until its commit returns).
    pending: Vec<u32>,
    /// Orders of the group being built confirmed and rejected for stock
    /// (counted once its commit returned).
    group_confirmed: u64,
    group_rejected: u64,
    /// Draws the random half of order ids.
    rng: rand::rngs::StdRng,
    shard: usize,
    cancelled: HashSet<u64>,
    /// `(first order id, group sequence)` of each group holding orders.
    locations: Vec<(u64, u64)>,
    next_id: u64,
    next_group: u64,
    published: Arc<Published>,
    /// The group being built: its blob, first order id, answers and touched shops.
    blob: Vec<u8>,
    group_first_id: Option<u64>,
    answers: Vec<Answer>,
    touched: Vec<bool>,
    confirmed_in_group: Vec<(Option<u32>, u16, u16, u32)>,
}

enum Answer {
    Place(oneshot::Sender<Result<Vec<OrderReceipt>, OrderError>>, Vec<OrderReceipt>),
    Order(oneshot::Sender<Result<Order, OrderError>>, Result<Order, OrderError>),
    Restock(oneshot::Sender<Result<(), OrderError>>, Result<(), OrderError>),
}

impl Answer {
    fn send(self, failure: Option<&OrderError>) {
        let fail = |e: &OrderError| OrderError::Store(e.to_string());
        match (self, failure) {
            (Answer::Place(port, receipts), None) => drop(port.send(Ok(receipts))),
            (Answer::Place(port, _), Some(e)) => drop(port.send(Err(fail(e)))),
            (Answer::Order(port, answer), None) => drop(port.send(answer)),
            (Answer::Order(port, _), Some(e)) => drop(port.send(Err(fail(e)))),
            (Answer::Restock(port, answer), None) => drop(port.send(answer)),
            (Answer::Restock(port, _), Some(e)) => drop(port.send(Err(fail(e)))),
        }
    }
}

/// The receipt of an order refused before reaching the book (nothing is recorded).
fn refuse(request: OrderRequest, code: RejectCode, reason: String) -> OrderReceipt {
    OrderReceipt {
        id: None,
        idempotency_key: request.idempotency_key,
        status: OrderStatus::Rejected,
        code: Some(code),
        reason: Some(reason),
        replayed: false,
    }
}

fn reject_reason(catalogue: &Catalogue, shop: u16, lines: &[(u16, u32)], line: u8, available: u32) -> String {
    let shop = &catalogue.shops[shop as usize];
    let (item, units) = lines[line as usize];
    format!("out of stock: `{}` at `{}` has {available} left, {units} asked", shop.items[item as usize].id, shop.id)
}

impl Book {
    /// The receipt of an order decided before (`fresh` false: it may have
    /// been cancelled since) or just now.
    fn receipt(&self, key: String, entry: &KeyEntry, shop: u16, lines: &[(u16, u32)], fresh: bool) -> OrderReceipt {
        let (status, code, reason) = match entry.decision {
            Decision::Confirmed if !fresh && self.cancelled.contains(&entry.id) => (OrderStatus::Cancelled, None, None),
            Decision::Confirmed => (OrderStatus::Confirmed, None, None),
            Decision::OutOfStock { line, available } => (
                OrderStatus::Rejected,
                Some(RejectCode::OutOfStock),
                Some(reject_reason(&self.catalogue, shop, lines, line, available)),
            ),
        };
        let id = OrderId { secret: entry.secret, sequence: entry.id }.to_hex();
        OrderReceipt { id: Some(id), idempotency_key: key, status, code, reason, replayed: !fresh }
    }

    fn place(&mut self, placement: Placement) -> Vec<OrderReceipt> {
        let Placement { principal, principal_id, orders } = placement;
        let mut receipts = Vec::with_capacity(orders.len());
        let keys = self.keys.clone();
        let mut keys = keys.lock().unwrap_or_else(|e| e.into_inner());
        let shard = self.shard as u8;
        for order in orders {
            debug_assert_eq!(shard_of_shop(order.shop), self.shard, "an order goes to its shop's shard");
            // A key durable, or decided in this group (answered after the
            // same commit), is known; a key another shard is committing
            // now is in flight: no order can be cited yet.
            let known = match keys.get(order.hash, principal_id, &order.key) {
                None => None,
                Some(found) => match found.state {
                    KeyState::Committed => Some(found.entry),
                    KeyState::InFlight(owner) if owner == shard => Some(found.entry),
                    KeyState::InFlight(_) => {
                        receipts.push(OrderReceipt {
                            id: None,
                            reason: Some(OrderError::KeyInFlight(order.key.clone()).to_string()),
                            idempotency_key: order.key,
                            status: OrderStatus::Rejected,
                            code: Some(RejectCode::KeyConflict),
                            replayed: false,
                        });
                        continue;
                    }
                },
            };
            if let Some(entry) = known {
                if entry.body_hash == order.body_hash {
                    self.published.metrics.replayed.inc();
                    receipts.push(self.receipt(order.key, &entry, order.shop, &order.lines, false));
                } else {
                    let id = OrderId { secret: entry.secret, sequence: entry.id }.to_hex();
                    let error = OrderError::KeyConflict(order.key.clone(), id.clone());
                    receipts.push(OrderReceipt {
                        id: Some(id),
                        idempotency_key: order.key,
                        status: OrderStatus::Rejected,
                        code: Some(RejectCode::KeyConflict),
                        reason: Some(error.to_string()),
                        replayed: false,
                    });
                }
                continue;
            }
            let secret = self.rng.next_u64();
            let id = self.next_id;
            self.next_id += ORDER_SHARDS as u64;
            self.group_first_id.get_or_insert(id);
            let decision = match self.shops[order.shop as usize].handle(ShopMessage::Reserve(&order.lines)) {
                ShopReply::Done => {
                    self.touched[order.shop as usize] = true;
                    for &(item, units) in &order.lines {
                        self.confirmed_in_group.push((order.pickup_s, order.shop, item, units));
                    }
                    self.group_confirmed += 1;
                    Decision::Confirmed
                }
                ShopReply::Short { line, available } => {
                    self.group_rejected += 1;
                    Decision::OutOfStock { line: line as u8, available }
                }
                ShopReply::Overflow { .. } => unreachable!("a reservation never adds stock"),
            };
            let entry = KeyEntry { id, secret, body_hash: order.body_hash, decision };
            let at = keys.insert_new(order.hash, principal_id, &order.key, KeyState::InFlight(shard), entry);
            self.pending.push(at);
            OrderRef {
                id,
                secret,
                principal: &principal,
                shop: order.shop,
                decision,
                pickup_s: order.pickup_s,
                body_hash: order.body_hash,
                key: &order.key,
                lines: &order.lines,
            }
            .encode(&mut self.blob);
            receipts.push(self.receipt(order.key, &entry, order.shop, &order.lines, true));
        }
        receipts
    }

    /// The stored record of order `public` if `viewer` may see it
    /// (committed groups only: call after a flush). Another principal's
    /// order and a wrong secret answer "no order", as a missing id does.
    fn find(&self, public: OrderId, viewer: Viewer<'_>) -> Result<OrderRecord, OrderError> {
        let no = || OrderError::NoSuchOrder(public.to_string());
        let id = public.sequence;
        if id >= self.next_id || shard_of_order(id) != self.shard {
            return Err(no());
        }
        let at = self.locations.partition_point(|&(first, _)| first <= id);
        let Some(&(_, sequence)) = at.checked_sub(1).and_then(|i| self.locations.get(i)) else {
            return Err(no());
        };
        let blob = self.store.group(sequence)?.ok_or_else(no)?;
        let mut rest = blob.as_slice();
        while !rest.is_empty() {
            if let Record::Order(order) = Record::decode(&mut rest).map_err(OrderError::Store)?
                && order.id == id
            {
                if order.secret != public.secret || !viewer.may_see(&order.principal) {
                    return Err(no());
                }
                return Ok(order);
            }
        }
        Err(no())
    }

    fn order(&self, record: &OrderRecord) -> Order {
        let shop = &self.catalogue.shops[record.shop as usize];
        let entry =
            KeyEntry { id: record.id, secret: record.secret, body_hash: record.body_hash, decision: record.decision };
        let receipt = self.receipt(record.key.clone(), &entry, record.shop, &record.lines, false);
        Order {
            id: receipt.id.expect("a stored order has an id"),
            principal: record.principal.clone(),
            idempotency_key: record.key.clone(),
            shop: shop.id.clone(),
            items: record
                .lines
                .iter()
                .map(|&(item, units)| OrderLine { item: shop.items[item as usize].id.clone(), quantity: units })
                .collect(),
            pickup_at: record
                .pickup_s
                .map(|s| if s % 60 == 0 { format_clock(s) } else { format!("{}:{:02}", format_clock(s), s % 60) }),
            status: receipt.status,
            code: receipt.code,
            reason: receipt.reason,
        }
    }

    fn cancel(&mut self, public: OrderId, viewer: Viewer<'_>) -> Result<Order, OrderError> {
        let record = self.find(public, viewer)?;
        let id = record.id;
        if record.decision != Decision::Confirmed {
            return Err(OrderError::Refused(format!("order {public} was rejected; there is nothing to cancel")));
        }
        if self.cancelled.insert(id) {
            match self.shops[record.shop as usize].handle(ShopMessage::Release(&record.lines)) {
                ShopReply::Done => {}
                _ => {
                    self.cancelled.remove(&id);
                    return Err(OrderError::Refused(format!(
                        "order {public}: releasing its units would overflow the stock counter"
                    )));
                }
            }
            self.touched[record.shop as usize] = true;
            self.published.metrics.cancelled.inc();
            Record::Cancel { id, shop: record.shop, lines: record.lines.clone() }.encode(&mut self.blob);
        }
        Ok(self.order(&record))
    }

    fn restock(&mut self, shop: u16, lines: Vec<(u16, u32)>) -> Result<(), OrderError> {
        match self.shops[shop as usize].handle(ShopMessage::Restock(&lines)) {
            ShopReply::Done => {}
            ShopReply::Overflow { line } => {
                return Err(OrderError::Refused(format!(
                    "restocking `{}` would pass {} units",
                    self.catalogue.shops[shop as usize].items[lines[line].0 as usize].id,
                    u32::MAX
                )));
            }
            ShopReply::Short { .. } => unreachable!("a restock never takes stock"),
        }
        self.touched[shop as usize] = true;
        for (item, units) in lines {
            Record::Restock { shop, item, units }.encode(&mut self.blob);
        }
        Ok(())
    }

    /// Commits the group being built, publishes, then answers.
    fn flush(&mut self) -> Result<(), OrderError> {
        let answers = std::mem::take(&mut self.answers);
        let result = if self.blob.is_empty() {
            Ok(())
        } else {
            let started = Instant::now();
            let result = self.store.commit(self.next_group, &self.blob);
            self.published.metrics.commit_seconds.inc_by(started.elapsed().as_secs_f64());
            result
        };
        if let Err(error) = &result {
            self.published.failed.store(true, Ordering::Relaxed);
            self.published.metrics.failed.set(1);
            tracing::error!(%error, shard = self.shard, "a commit failed; the order book stops, restart to recover from the store");
            for answer in answers {
                answer.send(Some(error));
            }
            return result;
        }
        if !self.blob.is_empty() {
            self.published.metrics.commits.inc();
            if !self.pending.is_empty() {
                // Durable now: the shared index may name these orders.
                let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
                for at in self.pending.drain(..) {
                    keys.commit(at, self.shard as u8);
                }
            }
            if let Some(first) = self.group_first_id.take() {
                self.locations.push((first, self.next_group));
            }
            self.next_group += 1;
            self.blob.clear();
        }
        self.publish();
        self.published.metrics.confirmed.inc_by(std::mem::take(&mut self.group_confirmed));
        self.published.metrics.rejected.inc_by(std::mem::take(&mut self.group_rejected));
        for answer in answers {
            answer.send(None);
        }
        Ok(())
    }

    fn publish(&mut self) {
        for (shop, touched) in self.touched.iter_mut().enumerate() {
            if std::mem::take(touched) {
                for (item, &units) in self.shops[shop].stock().iter().enumerate() {
                    self.published.stock[shop][item].store(units, Ordering::Relaxed);
                }
            }
        }
        let mut pickups = None;
        for (pickup, shop, item, units) in self.confirmed_in_group.drain(..) {
            match pickup {
                None => {
                    self.published.confirmed_units[shop as usize][item as usize]
                        .fetch_add(u64::from(units), Ordering::Relaxed);
                }
                Some(at) => {
                    let pickups =
                        pickups.get_or_insert_with(|| self.published.pickups.lock().unwrap_or_else(|e| e.into_inner()));
                    *pickups.entry((at, shop, item)).or_default() += u64::from(units);
                }
            }
        }
    }

    fn run(mut self, receiver: Receiver<Command>) {
        while let Ok(first) = receiver.recv() {
            let mut orders = 0;
            let mut next = Some(first);
            while let Some(command) = next.take() {
                match command {
                    Command::Place(placement, port) => {
                        orders += placement.orders.len();
                        let receipts = self.place(placement);
                        self.answers.push(Answer::Place(port, receipts));
                    }
                    Command::Get(id, owner, port) => {
                        if self.flush().is_err() {
                            return;
                        }
                        let answer = self.find(id, viewer(&owner)).map(|record| self.order(&record));
                        drop(port.send(answer));
                    }
                    Command::Cancel(id, owner, port) => {
                        if self.flush().is_err() {
                            return;
                        }
                        let answer = self.cancel(id, viewer(&owner));
                        self.answers.push(Answer::Order(port, answer));
                    }
                    Command::Restock(shop, lines, port) => {
                        let answer = self.restock(shop, lines);
                        self.answers.push(Answer::Restock(port, answer));
                    }
                }
                if orders < COMMIT_ORDERS_MAX {
                    next = receiver.try_recv().ok();
                }
            }
            if self.flush().is_err() {
                return;
            }
        }
    }
}

impl OrderBook {
    /// Opens the shards' stores in `config.data_dir` (creating them for
    /// `catalogue` if new), recovers stock, keys and cancels from them, and
    /// starts the shards' threads.
    pub fn open(config: &OrderBookConfig, catalogue: Catalogue) -> Result<OrderBook, OrderError> {
        let Shards { books, readers, catalogue, published, principals, hasher } =
            OrderBook::recover_shards(config, catalogue)?;
        let mut senders = Vec::with_capacity(ORDER_SHARDS);
        let mut threads = Vec::with_capacity(ORDER_SHARDS);
        for (shard, book) in books.into_iter().enumerate() {
            let (sender, receiver) = crossbeam_channel::bounded(ORDER_QUEUE_REQUESTS_MAX);
            let thread = std::thread::Builder::new()
                .name(format!("order-book-{shard}"))
                .spawn(move || book.run(receiver))
                .map_err(|e| OrderError::Open(format!("cannot start the order book's thread: {e}")))?;
            senders.push(sender);
            threads.push(thread);
        }
        let shop_positions = catalogue.shops.iter().enumerate().map(|(i, s)| (s.id.clone(), i as u16)).collect();
        Ok(OrderBook {
            senders,
            stores: readers,
            catalogue,
            shop_positions,
            published,
            principals,
            hasher,
            threads: Mutex::new(threads),
        })
    }

    /// The shards' states (not started), the stores to read, the catalogue,
    /// the published counters and what keys the index.
    fn recover_shards(config: &OrderBookConfig, catalogue: Catalogue) -> Result<Shards, OrderError> {
        if catalogue.shops.len() > u16::MAX as usize
            || catalogue.shops.iter().any(|s| s.items.len() > u16::MAX as usize)
        {
            return Err(OrderError::Open("more than 65,535 shops, or items in one shop".into()));
        }
        let mut stores = Vec::with_capacity(ORDER_SHARDS);
        let mut stored = catalogue;
        for shard in 0..ORDER_SHARDS {
            let (store, catalogue) = Store::open(&config.data_dir, shard, &stored)?;
            stores.push(store);
            stored = catalogue;
        }
        let catalogue = Arc::new(stored);
        let readers = stores.clone();
        let keys = Arc::new(Mutex::new(KeyIndex::new()));
        let principals = Arc::new(Principals::default());
        let hasher = KeyHasher::new();
        let mut recovered = Vec::with_capacity(ORDER_SHARDS);
        for (shard, store) in stores.into_iter().enumerate() {
            let mut index = keys.lock().unwrap_or_else(|e| e.into_inner());
            let keyed = Keyed { index: &mut index, principals: &principals, hasher: &hasher };
            recovered.push(recover(store, &catalogue, shard, keyed)?);
        }
        let owner = |shop: usize| &recovered[shard_of_shop(shop as u16)];
        let published = Arc::new(Published {
            stock: (0..catalogue.shops.len())
                .map(|shop| owner(shop).shops[shop].stock().iter().map(|&u| AtomicU32::new(u)).collect())
                .collect(),
            confirmed_units: (0..catalogue.shops.len())
                .map(|shop| owner(shop).confirmed_units[shop].iter().map(|&u| AtomicU64::new(u)).collect())
                .collect(),
            pickups: Mutex::new(recovered.iter().flat_map(|r| r.pickups.iter().map(|(k, v)| (*k, *v))).collect()),
            metrics: BookMetrics::default(),
            failed: AtomicBool::new(false),
        });
        let mut books = Vec::with_capacity(ORDER_SHARDS);
        for (shard, state) in recovered.into_iter().enumerate() {
            books.push(Book {
                store: state.store,
                catalogue: catalogue.clone(),
                touched: vec![false; state.shops.len()],
                shops: state.shops,
                keys: keys.clone(),
                pending: Vec::new(),
                group_confirmed: 0,
                group_rejected: 0,
                rng: rand::rngs::StdRng::from_os_rng(),
                shard,
                cancelled: state.cancelled,
                locations: state.locations,
                next_id: state.next_id,
                next_group: state.next_group,
                published: published.clone(),
                blob: Vec::new(),
                group_first_id: None,
                answers: Vec::new(),
                confirmed_in_group: Vec::new(),
            });
        }
        Ok(Shards { books, readers, catalogue, published, principals, hasher })
    }

    /// Every order committed so far as Parquet (the file `crowdtwin orders
    /// export` writes), read beside the running shards; returns the bytes
    /// and the count of orders. Blocking: it reads the stores.
    pub fn export_parquet(&self) -> Result<(Vec<u8>, u64), OrderError> {
        let mut bytes = Vec::new();
        let (orders, _) = super::export::write_orders(&self.stores, &self.catalogue, &mut bytes)?;
        Ok((bytes, orders))
    }

    /// The shops and items on sale.
    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    fn send(&self, shard: usize, command: Command) -> Result<(), OrderError> {
        self.senders[shard].try_send(command).map_err(|e| match e {
            TrySendError::Full(_) => OrderError::Busy(ORDER_QUEUE_REQUESTS_MAX),
            TrySendError::Disconnected(_) => OrderError::Store("the order book has stopped".into()),
        })
    }

    /// Sends a request to a shard now; the answer comes on the receiver.
    fn post<T>(
        &self,
        shard: usize,
        command: impl FnOnce(oneshot::Sender<Result<T, OrderError>>) -> Command,
    ) -> Result<oneshot::Receiver<Result<T, OrderError>>, OrderError> {
        let (port, answer) = oneshot::channel();
        self.send(shard, command(port))?;
        Ok(answer)
    }

    async fn answer<T>(answer: oneshot::Receiver<Result<T, OrderError>>) -> Result<T, OrderError> {
        answer.await.map_err(|_| OrderError::Store("the order book stopped before answering".into()))?
    }

    async fn ask<T>(
        &self,
        shard: usize,
        command: impl FnOnce(oneshot::Sender<Result<T, OrderError>>) -> Command,
    ) -> Result<T, OrderError> {
        OrderBook::answer(self.post(shard, command)?).await
    }

    /// Checks an order's shape and resolves its names, and hashes its key
    /// for the principal numbered `principal_id`; a refusal is the receipt
    /// to send back (nothing is recorded for it).
    fn check(&self, principal_id: u32, request: OrderRequest) -> Result<CheckedOrder, OrderReceipt> {
        let hash = body_hash(&request);
        if request.idempotency_key.is_empty() || request.idempotency_key.len() > IDEMPOTENCY_KEY_BYTES_MAX {
            let reason = format!("idempotency_key must be 1 to {IDEMPOTENCY_KEY_BYTES_MAX} bytes");
            return Err(refuse(request, RejectCode::BadOrder, reason));
        }
        let Some(&shop) = self.shop_positions.get(&request.shop) else {
            let reason = format!("no shop or food outlet `{}`", request.shop);
            return Err(refuse(request, RejectCode::UnknownShop, reason));
        };
        if request.items.is_empty() || request.items.len() > ORDER_LINES_MAX {
            let reason = format!("an order has 1 to {ORDER_LINES_MAX} lines, this one {}", request.items.len());
            return Err(refuse(request, RejectCode::BadOrder, reason));
        }
        let items = &self.catalogue.shops[shop as usize].items;
        let mut lines = Vec::with_capacity(request.items.len());
        for line in &request.items {
            let Some(item) = items.iter().position(|i| i.id == line.item) else {
                let reason = format!("`{}` sells no item `{}`", request.shop, line.item);
                return Err(refuse(request, RejectCode::UnknownItem, reason));
            };
            if !(1..=ORDER_QUANTITY_MAX).contains(&line.quantity) {
                let reason =
                    format!("quantity {} of `{}` must be between 1 and {ORDER_QUANTITY_MAX}", line.quantity, line.item);
                return Err(refuse(request, RejectCode::BadQuantity, reason));
            }
            if lines.iter().any(|&(i, _)| i == item as u16) {
                let reason = format!("item `{}` is listed twice; give one line with the total", line.item);
                return Err(refuse(request, RejectCode::BadQuantity, reason));
            }
            lines.push((item as u16, line.quantity));
        }
        let pickup_s = match &request.pickup_at {
            None => None,
            Some(text) => match parse_clock(text) {
                Ok(seconds) => Some(seconds),
                Err(problem) => return Err(refuse(request, RejectCode::BadOrder, format!("pickup_at: {problem}"))),
            },
        };
        Ok(CheckedOrder {
            hash: self.hasher.hash(principal_id, &request.idempotency_key),
            key: request.idempotency_key,
            shop,
            lines,
            pickup_s,
            body_hash: hash,
        })
    }

    /// Places orders of `principal`: checks each, decides the valid ones in
    /// one request to the book, and answers once they are durable; receipts
    /// in request order.
    pub async fn place(&self, principal: &str, requests: Vec<OrderRequest>) -> Result<Vec<OrderReceipt>, OrderError> {
        let count = requests.len();
        if !valid_principal(principal) {
            let reason = format!("`{principal}` cannot name a principal");
            return Ok(requests.into_iter().map(|r| refuse(r, RejectCode::BadOrder, reason.clone())).collect());
        }
        let (principal_id, principal) = self.principals.get(principal);
        if count == 1 {
            // One order (`POST /v1/orders`): straight to its shard.
            let request = requests.into_iter().next().expect("one order");
            let order = match self.check(principal_id, request) {
                Ok(order) => order,
                Err(receipt) => return Ok(vec![receipt]),
            };
            let shard = shard_of_shop(order.shop);
            let placement = Placement { principal, principal_id, orders: vec![order] };
            return OrderBook::answer(self.post(shard, |port| Command::Place(placement, port))?).await;
        }
        // Refusals with their positions; the rest go to the shards.
        let mut refused: Vec<(usize, OrderReceipt)> = Vec::new();
        let mut checked = Vec::with_capacity(count);
        let mut per_shard_count = [0usize; ORDER_SHARDS];
        for (at, request) in requests.into_iter().enumerate() {
            match self.check(principal_id, request) {
                Ok(order) => {
                    per_shard_count[shard_of_shop(order.shop)] += 1;
                    checked.push(order);
                }
                Err(receipt) => refused.push((at, receipt)),
            }
        }
        // One request per shard concerned, all in flight at once.
        let shards: Vec<u8> = checked.iter().map(|o| shard_of_shop(o.shop) as u8).collect();
        let mut per_shard: Vec<Vec<CheckedOrder>> = per_shard_count.iter().map(|&n| Vec::with_capacity(n)).collect();
        for order in checked {
            per_shard[shard_of_shop(order.shop)].push(order);
        }
        let mut asks = Vec::with_capacity(ORDER_SHARDS);
        for (shard, orders) in per_shard.into_iter().enumerate() {
            if !orders.is_empty() {
                let placement = Placement { principal: principal.clone(), principal_id, orders };
                asks.push((shard, self.post(shard, |port| Command::Place(placement, port))?));
            }
        }
        let mut decided: Vec<std::vec::IntoIter<OrderReceipt>> =
            (0..ORDER_SHARDS).map(|_| Vec::new().into_iter()).collect();
        for (shard, answer) in asks {
            decided[shard] = OrderBook::answer(answer).await?.into_iter();
        }
        // Receipts in request order.
        let mut receipts = Vec::with_capacity(count);
        let mut refused = refused.into_iter().peekable();
        let mut shards = shards.into_iter();
        for at in 0..count {
            match refused.next_if(|(position, _)| *position == at) {
                Some((_, receipt)) => receipts.push(receipt),
                None => {
                    let shard = shards.next().expect("one shard per order sent") as usize;
                    receipts.push(decided[shard].next().expect("one receipt per order sent"));
                }
            }
        }
        Ok(receipts)
    }

    /// One order as stored, if `viewer` may see it (else "no order", as
    /// for an id that names none).
    pub async fn get(&self, id: &str, viewer: Viewer<'_>) -> Result<Order, OrderError> {
        let id: OrderId = id.parse()?;
        let owner = owner(viewer);
        self.ask(shard_of_order(id.sequence), |port| Command::Get(id, owner, port)).await
    }

    /// Cancels a confirmed order `viewer` may see and puts its units back
    /// (again: no change).
    pub async fn cancel(&self, id: &str, viewer: Viewer<'_>) -> Result<Order, OrderError> {
        let id: OrderId = id.parse()?;
        let owner = owner(viewer);
        self.ask(shard_of_order(id.sequence), |port| Command::Cancel(id, owner, port)).await
    }

    /// Adds units to a shop's items (durable when this returns).
    pub async fn restock(&self, shop: &str, lines: &[OrderLine]) -> Result<ShopStock, OrderError> {
        let &position = self.shop_positions.get(shop).ok_or_else(|| OrderError::NoSuchShop(shop.to_string()))?;
        let items = &self.catalogue.shops[position as usize].items;
        if lines.is_empty() {
            return Err(OrderError::Refused("a restock needs at least one item".into()));
        }
        let mut resolved = Vec::with_capacity(lines.len());
        for line in lines {
            let item = items
                .iter()
                .position(|i| i.id == line.item)
                .ok_or_else(|| OrderError::Refused(format!("`{shop}` sells no item `{}`", line.item)))?;
            if !(1..=RESTOCK_QUANTITY_MAX).contains(&line.quantity) {
                return Err(OrderError::Refused(format!(
                    "restock quantity {} must be between 1 and {RESTOCK_QUANTITY_MAX}",
                    line.quantity
                )));
            }
            resolved.push((item as u16, line.quantity));
        }
        self.ask(shard_of_shop(position), |port| Command::Restock(position, resolved, port)).await?;
        self.stock(shop)
    }

    /// Every shop's committed stock, in the catalogue's order.
    pub fn shops(&self) -> Vec<ShopStock> {
        self.catalogue.shops.iter().filter_map(|s| self.stock(&s.id).ok()).collect()
    }

    /// A shop's committed stock.
    pub fn stock(&self, shop: &str) -> Result<ShopStock, OrderError> {
        let &position = self.shop_positions.get(shop).ok_or_else(|| OrderError::NoSuchShop(shop.to_string()))?;
        let entry = &self.catalogue.shops[position as usize];
        Ok(ShopStock {
            shop: shop.to_string(),
            items: entry
                .items
                .iter()
                .zip(&self.published.stock[position as usize])
                .map(|(item, units)| ItemStock {
                    item: item.id.clone(),
                    stock: units.load(Ordering::Relaxed),
                    price: item.price,
                })
                .collect(),
        })
    }

    /// Units confirmed so far per `(shop, item)`, cancels not subtracted
    /// (the live feed sends the differences to the twin).
    pub fn confirmed_units(&self) -> Vec<(usize, usize, u64)> {
        let mut all = Vec::new();
        for (shop, items) in self.published.confirmed_units.iter().enumerate() {
            for (item, units) in items.iter().enumerate() {
                all.push((shop, item, units.load(Ordering::Relaxed)));
            }
        }
        all
    }

    /// Takes the units to be picked up at or before `until_s` (seconds after
    /// midnight): `(pickup s, shop, item, units)`, in time order.
    pub fn take_pickups_due(&self, until_s: u32) -> Vec<(u32, usize, usize, u64)> {
        let mut pickups = self.published.pickups.lock().unwrap_or_else(|e| e.into_inner());
        let later = pickups.split_off(&(until_s.saturating_add(1), 0, 0));
        let due = std::mem::replace(&mut *pickups, later);
        due.into_iter().map(|((at, shop, item), units)| (at, shop as usize, item as usize, units)).collect()
    }

    /// Whether a commit failed (the book stopped).
    pub fn failed(&self) -> bool {
        self.published.failed.load(Ordering::Relaxed)
    }

    /// Registers the book's counters (`crowdtwin_orders_*`,
    /// `crowdtwin_order_*`) with a Prometheus registry.
    pub fn register_metrics(&self, registry: &mut Registry) {
        self.published.metrics.register(registry);
    }

    /// Stops the shards' threads after the requests already queued.
    pub fn close(self) {
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        drop(self.senders);
        for thread in threads {
            let _ = thread.join();
        }
    }
}

/// A viewer as a command carries it.
fn owner(viewer: Viewer<'_>) -> Option<Box<str>> {
    match viewer {
        Viewer::Owner(principal) => Some(principal.into()),
        Viewer::Everyone => None,
    }
}

/// The shards recovered from their stores, not started.
struct Shards {
    books: Vec<Book>,
    /// The stores, to read beside the shards (exports).
    readers: Vec<Store>,
    catalogue: Arc<Catalogue>,
    published: Arc<Published>,
    principals: Arc<Principals>,
    hasher: KeyHasher,
}

/// The key index being rebuilt, with what keys it.
struct Keyed<'a> {
    index: &'a mut KeyIndex,
    principals: &'a Principals,
    hasher: &'a KeyHasher,
}

/// One shard's state rebuilt from its store.
struct Recovered {
    store: Store,
    shops: Vec<Shop>,
    cancelled: HashSet<u64>,
    locations: Vec<(u64, u64)>,
    next_id: u64,
    next_group: u64,
    confirmed_units: Vec<Vec<u64>>,
    pickups: Pickups,
}

/// Reads shard `shard`'s groups back in order: stock, keys (into `keys`), cancels.
fn recover(store: Store, catalogue: &Catalogue, shard: usize, keys: Keyed<'_>) -> Result<Recovered, OrderError> {
    let mut shops: Vec<Shop> = catalogue.shops.iter().map(Shop::new).collect();
    let mut cancelled = HashSet::new();
    let mut locations = Vec::new();
    let mut confirmed_units: Vec<Vec<u64>> = catalogue.shops.iter().map(|s| vec![0; s.items.len()]).collect();
    let mut pickups = Pickups::new();
    let (mut next_id, mut next_group) = (shard as u64, 0u64);
    let mut problem = None;
    let valid = |shop: u16, lines: &[(u16, u32)]| {
        shard_of_shop(shop) == shard
            && catalogue.shops.get(shop as usize).is_some_and(|s| lines.iter().all(|l| (l.0 as usize) < s.items.len()))
    };
    store.scan(|sequence, records| {
        next_group = sequence + 1;
        let mut first = None;
        for record in records {
            match record {
                Record::Order(order) => {
                    if !valid(order.shop, &order.lines) || shard_of_order(order.id) != shard {
                        problem.get_or_insert(format!("group {sequence}: order {} is not this shard's", order.id));
                        continue;
                    }
                    first.get_or_insert(order.id);
                    next_id = next_id.max(order.id + ORDER_SHARDS as u64);
                    if order.decision == Decision::Confirmed {
                        if shops[order.shop as usize].handle(ShopMessage::Reserve(&order.lines)) != ShopReply::Done {
                            problem.get_or_insert(format!(
                                "group {sequence}: order {} takes more than the stock",
                                order.id
                            ));
                        }
                        for &(item, units) in &order.lines {
                            match order.pickup_s {
                                None => confirmed_units[order.shop as usize][item as usize] += u64::from(units),
                                Some(at) => *pickups.entry((at, order.shop, item)).or_default() += u64::from(units),
                            }
                        }
                    }
                    let entry = KeyEntry {
                        id: order.id,
                        secret: order.secret,
                        body_hash: order.body_hash,
                        decision: order.decision,
                    };
                    let principal = keys.principals.id(&order.principal);
                    let hash = keys.hasher.hash(principal, &order.key);
                    if !keys.index.insert_committed(hash, principal, &order.key, entry) {
                        problem
                            .get_or_insert(format!("group {sequence}: order {}'s key names another order", order.id));
                    }
                }
                Record::Cancel { id, shop, lines } => {
                    if !valid(shop, &lines) {
                        problem.get_or_insert(format!("group {sequence}: cancel of {id} names no known item"));
                        continue;
                    }
                    cancelled.insert(id);
                    shops[shop as usize].handle(ShopMessage::Release(&lines));
                }
                Record::Restock { shop, item, units } => {
                    if !valid(shop, &[(item, units)]) {
                        problem.get_or_insert(format!("group {sequence}: restock names no known item"));
                        continue;
                    }
                    shops[shop as usize].handle(ShopMessage::Restock(&[(item, units)]));
                }
            }
        }
        if let Some(first) = first {
            locations.push((first, sequence));
        }
    })?;
    if let Some(problem) = problem {
        return Err(OrderError::Open(format!("the order store (shard {shard}) does not add up: {problem}")));
    }
    Ok(Recovered { store, shops, cancelled, locations, next_id, next_group, confirmed_units, pickups })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shop::{CatalogueItem, CatalogueShop};

    /// Two shops, on shards 0 and 1.
    fn two_shops() -> Catalogue {
        let shop = |id: &str| CatalogueShop {
            id: id.into(),
            items: vec![CatalogueItem { id: "pin".into(), initial_stock: 10, price: 1.0 }],
        };
        Catalogue { shops: vec![shop("north"), shop("south")] }
    }

    /// One order of one unit of `shop`'s pin, as the shard gets it.
    fn order(shards: &Shards, principal: &str, key: &str, shop: u16) -> Placement {
        let request = OrderRequest {
            idempotency_key: key.into(),
            shop: ["north", "south"][shop as usize].into(),
            items: vec![OrderLine { item: "pin".into(), quantity: 1 }],
            pickup_at: None,
        };
        let principal_id = shards.principals.id(principal);
        let checked = CheckedOrder {
            hash: shards.hasher.hash(principal_id, key),
            key: key.into(),
            shop,
            lines: vec![(0, 1)],
            pickup_s: None,
            body_hash: body_hash(&request),
        };
        Placement { principal: principal.into(), principal_id, orders: vec![checked] }
    }

    /// The shared key index names an order only after its commit: until
    /// then another shard meeting the key answers "in flight" citing no
    /// order (its own group answers a retry of it); after it, a conflict
    /// citing the durable order. Keys of two principals never meet, and
    /// the index is rebuilt from the store.
    #[test]
    fn the_key_index_names_an_order_only_after_its_commit() {
        let dir = std::env::temp_dir().join(format!("crowdtwin-book-keys-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let config = OrderBookConfig { data_dir: dir.clone() };
        let mut shards = OrderBook::recover_shards(&config, two_shops()).unwrap();
        let mut south = shards.books.remove(1);
        let mut north = shards.books.remove(0);
        let placed = north.place(order(&shards, "alice", "k", 0));
        assert_eq!(placed[0].status, OrderStatus::Confirmed);
        // The same group meets its own key: the same order, answered after the same commit.
        let own = north.place(order(&shards, "alice", "k", 0));
        assert_eq!((own[0].replayed, &own[0].id), (true, &placed[0].id), "{own:?}");
        // North has decided but not committed: south may not cite it.
        let early = south.place(order(&shards, "alice", "k", 1));
        assert_eq!((early[0].code, early[0].id.as_ref()), (Some(RejectCode::KeyConflict), None), "{early:?}");
        assert!(early[0].reason.as_deref().unwrap().contains("being committed"), "{early:?}");
        // Another principal's key `k` is another key.
        let bob = south.place(order(&shards, "bob", "k", 1));
        assert_eq!(bob[0].status, OrderStatus::Confirmed);
        north.flush().unwrap();
        let late = south.place(order(&shards, "alice", "k", 1));
        assert_eq!((late[0].code, &late[0].id), (Some(RejectCode::KeyConflict), &placed[0].id), "{late:?}");
        assert!(late[0].reason.as_deref().unwrap().contains("was used for another order"), "{late:?}");
        // The same body again, once durable, is a replay of the same order.
        let again = north.place(order(&shards, "alice", "k", 0));
        assert_eq!((again[0].replayed, &again[0].id), (true, &placed[0].id));
        south.flush().unwrap();
        drop((north, south, shards));
        // After a restart: both keys durable, each its principal's.
        let mut shards = OrderBook::recover_shards(&config, two_shops()).unwrap();
        let mut south = shards.books.remove(1);
        let mut north = shards.books.remove(0);
        let alice = north.place(order(&shards, "alice", "k", 0));
        assert_eq!((alice[0].replayed, &alice[0].id), (true, &placed[0].id), "{alice:?}");
        let bob_again = south.place(order(&shards, "bob", "k", 1));
        assert_eq!((bob_again[0].replayed, &bob_again[0].id), (true, &bob[0].id), "{bob_again:?}");
        let carol = south.place(order(&shards, "carol", "k", 1));
        assert_eq!((carol[0].status, carol[0].replayed), (OrderStatus::Confirmed, false), "{carol:?}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
