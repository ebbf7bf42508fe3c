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
//! principal (`principal NUL key`). The index names an order only after
//! the commit holding it returned: while a group is being decided and
//! committed its keys are in the shard's own pending map and marked in
//! flight in the shared index, so another shard meeting such a key answers
//! "in flight, retry" (409) without citing an order that is not durable.
//! Checking a request's shape (shop and item names, quantities, key)
//! happens before, on the caller's task, so the book's thread does only
//! what must be sequential.
//!
//! A failed commit stops the book: nothing of the failed group was
//! acknowledged, later calls answer [`OrderError::Store`], and a restart
//! recovers from what the store holds.

use super::shop::{Catalogue, Shop, ShopMessage, ShopReply};
use super::store::{Decision, OrderRecord, Record, Store};
use super::{
    COMMIT_ORDERS_MAX, IDEMPOTENCY_KEY_BYTES_MAX, ItemStock, ORDER_LINES_MAX, ORDER_QUANTITY_MAX,
    ORDER_QUEUE_REQUESTS_MAX, ORDER_SHARDS, Order, OrderError, OrderId, OrderLine, OrderReceipt, OrderRequest,
    OrderStatus, RESTOCK_QUANTITY_MAX, RejectCode, ShopStock, Viewer, body_hash, valid_principal,
};
use crossbeam_channel::{Receiver, Sender, TrySendError};
use crowdtwin_sim::scenario::{format_clock, parse_clock};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use rand::{RngCore, SeedableRng};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
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
    /// Who places it.
    principal: Arc<str>,
    /// The key in the index: `principal NUL key`.
    scoped: Box<str>,
    shop: u16,
    lines: Vec<(u16, u32)>,
    pickup_s: Option<u32>,
    body_hash: u64,
}

enum Command {
    Place(Vec<CheckedOrder>, oneshot::Sender<Result<Vec<OrderReceipt>, OrderError>>),
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
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

/// Units to be picked up, by `(pickup s, shop, item)`.
type Pickups = std::collections::BTreeMap<(u32, u16, u16), u64>;

/// Parts of the key index: growing one part (a rehash) holds the index's
/// lock for 1/64 of the time growing the whole would.
const KEY_INDEX_PARTS: usize = 64;

/// One key of the shared index.
#[derive(Clone, Copy)]
enum Slot {
    /// Decided by a shard whose commit has not returned yet.
    InFlight,
    /// Durable.
    Committed(KeyEntry),
}

/// The idempotency key index, shared by the shards.
struct KeyIndex {
    parts: Vec<HashMap<Box<str>, Slot>>,
}

impl KeyIndex {
    fn new() -> KeyIndex {
        KeyIndex { parts: (0..KEY_INDEX_PARTS).map(|_| HashMap::new()).collect() }
    }

    fn part(key: &str) -> usize {
        let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
        (hash >> 32) as usize % KEY_INDEX_PARTS
    }

    fn get(&self, key: &str) -> Option<&Slot> {
        self.parts[KeyIndex::part(key)].get(key)
    }

    fn insert(&mut self, key: Box<str>, slot: Slot) -> Option<Slot> {
        self.parts[KeyIndex::part(&key)].insert(key, slot)
    }
}

/// The key of `key` of `principal` in the index.
fn scoped_key(principal: &str, key: &str) -> Box<str> {
    let mut scoped = String::with_capacity(principal.len() + 1 + key.len());
    scoped.push_str(principal);
    scoped.push('\0');
    scoped.push_str(key);
    scoped.into_boxed_str()
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
    /// Keys of the group being built (not yet in the shared index as committed).
    pending: HashMap<Box<str>, KeyEntry>,
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

fn reject_reason(catalogue: &Catalogue, shop: u16, lines: &[(u16, u32)], line: u8, available: u32) -> String {
    let shop = &catalogue.shops[shop as usize];
    let (item, units) = lines[line as usize];
    format!("out of stock: `{}` at `{}` has {available} left, {units} asked", shop.items[item as usize].id, shop.id)
}

impl Book {
    fn receipt(&self, key: &str, entry: &KeyEntry, shop: u16, lines: &[(u16, u32)], replayed: bool) -> OrderReceipt {
        let (status, code, reason) = match entry.decision {
            Decision::Confirmed if self.cancelled.contains(&entry.id) => (OrderStatus::Cancelled, None, None),
            Decision::Confirmed => (OrderStatus::Confirmed, None, None),
            Decision::OutOfStock { line, available } => (
                OrderStatus::Rejected,
                Some(RejectCode::OutOfStock),
                Some(reject_reason(&self.catalogue, shop, lines, line, available)),
            ),
        };
        let id = OrderId { secret: entry.secret, sequence: entry.id }.to_string();
        OrderReceipt { id: Some(id), idempotency_key: key.to_string(), status, code, reason, replayed }
    }

    fn place(&mut self, orders: Vec<CheckedOrder>) -> Vec<OrderReceipt> {
        let mut receipts = Vec::with_capacity(orders.len());
        let keys = self.keys.clone();
        let mut keys = keys.lock().unwrap_or_else(|e| e.into_inner());
        for order in orders {
            debug_assert_eq!(shard_of_shop(order.shop), self.shard, "an order goes to its shop's shard");
            // This group's own keys first (answered after the same commit),
            // then the durable ones; a key another shard is committing now
            // is in flight: no order can be cited yet.
            let known = match self.pending.get(&order.scoped) {
                Some(entry) => Some(*entry),
                None => match keys.get(&order.scoped) {
                    Some(Slot::Committed(entry)) => Some(*entry),
                    Some(Slot::InFlight) => {
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
                    None => None,
                },
            };
            if let Some(entry) = known {
                if entry.body_hash == order.body_hash {
                    self.published.metrics.replayed.inc();
                    receipts.push(self.receipt(&order.key, &entry, order.shop, &order.lines, true));
                } else {
                    let id = OrderId { secret: entry.secret, sequence: entry.id }.to_string();
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
                    Decision::Confirmed
                }
                ShopReply::Short { line, available } => Decision::OutOfStock { line: line as u8, available },
                ShopReply::Overflow { .. } => unreachable!("a reservation never adds stock"),
            };
            let entry = KeyEntry { id, secret, body_hash: order.body_hash, decision };
            receipts.push(self.receipt(&order.key, &entry, order.shop, &order.lines, false));
            keys.insert(order.scoped.clone(), Slot::InFlight);
            self.pending.insert(order.scoped, entry);
            let record = OrderRecord {
                id,
                secret,
                principal: order.principal.to_string(),
                shop: order.shop,
                decision,
                pickup_s: order.pickup_s,
                body_hash: order.body_hash,
                key: order.key,
                lines: order.lines,
            };
            Record::Order(record).encode(&mut self.blob);
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
        let receipt = self.receipt(&record.key, &entry, record.shop, &record.lines, false);
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
                for (key, entry) in self.pending.drain() {
                    keys.insert(key, Slot::Committed(entry));
                }
            }
            if let Some(first) = self.group_first_id.take() {
                self.locations.push((first, self.next_group));
            }
            self.next_group += 1;
            self.blob.clear();
        }
        self.publish();
        for answer in answers {
            if let Answer::Place(_, receipts) = &answer {
                for receipt in receipts {
                    let counter = match (receipt.status, receipt.code, receipt.replayed) {
                        (OrderStatus::Confirmed, _, false) => &self.published.metrics.confirmed,
                        (OrderStatus::Rejected, Some(RejectCode::OutOfStock), false) => {
                            &self.published.metrics.rejected
                        }
                        _ => continue,
                    };
                    counter.inc();
                }
            }
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
                    Command::Place(batch, port) => {
                        orders += batch.len();
                        let receipts = self.place(batch);
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
        let (books, readers, catalogue, published) = OrderBook::recover_shards(config, catalogue)?;
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
        Ok(OrderBook { senders, stores: readers, catalogue, shop_positions, published, threads: Mutex::new(threads) })
    }

    /// The shards' states (not started), the stores to read, the catalogue and the published counters.
    #[allow(clippy::type_complexity)]
    fn recover_shards(
        config: &OrderBookConfig,
        catalogue: Catalogue,
    ) -> Result<(Vec<Book>, Vec<Store>, Arc<Catalogue>, Arc<Published>), OrderError> {
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
        let mut recovered = Vec::with_capacity(ORDER_SHARDS);
        for (shard, store) in stores.into_iter().enumerate() {
            let mut index = keys.lock().unwrap_or_else(|e| e.into_inner());
            recovered.push(recover(store, &catalogue, shard, &mut index)?);
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
                pending: HashMap::new(),
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
        Ok((books, readers, catalogue, published))
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

    /// Checks an order of `principal` (see [`valid_principal`]), its shape,
    /// and resolves its names; a refusal is the receipt to send back
    /// (nothing is recorded for it).
    pub fn check(&self, principal: &Arc<str>, request: OrderRequest) -> Result<CheckedOrder, OrderReceipt> {
        let hash = body_hash(&request);
        let refuse = |request: OrderRequest, code: RejectCode, reason: String| OrderReceipt {
            id: None,
            idempotency_key: request.idempotency_key,
            status: OrderStatus::Rejected,
            code: Some(code),
            reason: Some(reason),
            replayed: false,
        };
        if !valid_principal(principal) {
            let reason = format!("`{principal}` cannot name a principal");
            return Err(refuse(request, RejectCode::BadOrder, reason));
        }
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
        let scoped = scoped_key(principal, &request.idempotency_key);
        Ok(CheckedOrder {
            key: request.idempotency_key,
            principal: principal.clone(),
            scoped,
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
        let principal: Arc<str> = Arc::from(principal);
        let mut receipts: Vec<Option<OrderReceipt>> = Vec::with_capacity(requests.len());
        let mut checked = Vec::with_capacity(requests.len());
        for request in requests {
            match self.check(&principal, request) {
                Ok(order) => {
                    checked.push(order);
                    receipts.push(None);
                }
                Err(receipt) => receipts.push(Some(receipt)),
            }
        }
        // One request per shard concerned, all in flight at once.
        let mut per_shard: Vec<Vec<CheckedOrder>> = vec![Vec::new(); ORDER_SHARDS];
        let shards: Vec<usize> = checked.iter().map(|o| shard_of_shop(o.shop)).collect();
        for order in checked {
            per_shard[shard_of_shop(order.shop)].push(order);
        }
        let mut asks = Vec::new();
        for (shard, orders) in per_shard.into_iter().enumerate() {
            if !orders.is_empty() {
                asks.push((shard, self.post(shard, |port| Command::Place(orders, port))?));
            }
        }
        let mut decided: Vec<std::vec::IntoIter<OrderReceipt>> =
            (0..ORDER_SHARDS).map(|_| Vec::new().into_iter()).collect();
        for (shard, answer) in asks {
            decided[shard] = OrderBook::answer(answer).await?.into_iter();
        }
        let mut shards = shards.into_iter();
        Ok(receipts
            .into_iter()
            .map(|receipt| {
                receipt.unwrap_or_else(|| {
                    let shard = shards.next().expect("one shard per order sent");
                    decided[shard].next().expect("one receipt per order sent")
                })
            })
            .collect())
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
fn recover(store: Store, catalogue: &Catalogue, shard: usize, keys: &mut KeyIndex) -> Result<Recovered, OrderError> {
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
                    if keys.insert(scoped_key(&order.principal, &order.key), Slot::Committed(entry)).is_some() {
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

    fn checked(principal: &str, key: &str, shop: u16) -> CheckedOrder {
        let request = OrderRequest {
            idempotency_key: key.into(),
            shop: ["north", "south"][shop as usize].into(),
            items: vec![OrderLine { item: "pin".into(), quantity: 1 }],
            pickup_at: None,
        };
        CheckedOrder {
            scoped: scoped_key(principal, key),
            principal: principal.into(),
            key: key.into(),
            shop,
            lines: vec![(0, 1)],
            pickup_s: None,
            body_hash: body_hash(&request),
        }
    }

    /// The shared key index names an order only after its commit: until
    /// then another shard meeting the key answers "in flight" citing no
    /// order; after it, a conflict citing the durable order. Keys of two
    /// principals never meet.
    #[test]
    fn the_key_index_names_an_order_only_after_its_commit() {
        let dir = std::env::temp_dir().join(format!("crowdtwin-book-keys-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let config = OrderBookConfig { data_dir: dir.clone() };
        let (mut books, _, _, _) = OrderBook::recover_shards(&config, two_shops()).unwrap();
        let mut south = books.remove(1);
        let mut north = books.remove(0);
        let placed = north.place(vec![checked("alice", "k", 0)]);
        assert_eq!(placed[0].status, OrderStatus::Confirmed);
        // North has decided but not committed: south may not cite it.
        let early = south.place(vec![checked("alice", "k", 1)]);
        assert_eq!((early[0].code, early[0].id.as_ref()), (Some(RejectCode::KeyConflict), None), "{early:?}");
        assert!(early[0].reason.as_deref().unwrap().contains("being committed"), "{early:?}");
        // Another principal's key `k` is another key.
        let bob = south.place(vec![checked("bob", "k", 1)]);
        assert_eq!(bob[0].status, OrderStatus::Confirmed);
        north.flush().unwrap();
        let late = south.place(vec![checked("alice", "k", 1)]);
        assert_eq!((late[0].code, &late[0].id), (Some(RejectCode::KeyConflict), &placed[0].id), "{late:?}");
        assert!(late[0].reason.as_deref().unwrap().contains("was used for another order"), "{late:?}");
        // The same body again, once durable, is a replay of the same order.
        let again = north.place(vec![checked("alice", "k", 0)]);
        assert_eq!((again[0].replayed, &again[0].id), (true, &placed[0].id));
        let _ = std::fs::remove_dir_all(dir);
    }
}
