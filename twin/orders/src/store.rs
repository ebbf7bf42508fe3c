//! The durable store of one order book shard: a redb database (pure Rust,
//! one file per shard, nothing to install) holding a log of group commits. Each commit is
//! one row `group sequence -> blob`, the blob being the compact binary
//! records of every order, cancel and restock decided in that group; the
//! commit uses `Durability::Immediate`, so it has reached the disk (fsync)
//! when it returns. Recovery reads the groups back in order.
//!
//! Why blobs rather than a row per order: the book keeps its indexes (the
//! idempotency keys, the stock) in memory and rebuilds them at start, so the
//! store only has to append; one row per group costs one B-tree insert per
//! commit instead of two per order (benches/README.md has the measurements).
//!
//! Record encoding (little-endian):
//! - order:   `1, id u64, secret u64, shop u16, flags u8 (1 rejected, 2 pickup),
//!   [failed line u8, available u32], [pickup s u32], body hash u64,
//!   key length u8, key, principal length u8, principal,
//!   line count u8, (item u16, units u32)*`
//! - cancel:  `2, id u64`
//! - restock: `3, shop u16, item u16, units u32`

use super::shop::Catalogue;
use super::{ORDER_SHARDS, OrderError};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const GROUPS: TableDefinition<u64, &[u8]> = TableDefinition::new("groups");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// The store file of shard `shard` inside the data folder.
pub fn store_file_name(shard: usize) -> String {
    format!("orders-{shard}.redb")
}
/// redb's page cache per store, bytes. redb keeps every page it writes in
/// this cache until it is full (its default, 1 GiB a store, four stores):
/// each group's pages were fresh memory the kernel zeroed (about 8% of the
/// shards' time under the batch load, and 0.4–0.6 GB more resident after
/// 10 s of it), for pages the book reads again only to answer
/// `GET /v1/orders/{id}` (a group's blob, from the file system's cache when
/// not here). Bounded, the cache keeps the B-tree's upper pages and its
/// memory is reused.
pub const STORE_CACHE_BYTES: usize = 32 * 1024 * 1024;
/// Store format version, kept in the store's `meta` table (2: orders carry
/// their principal and the random half of their id).
pub const STORE_FORMAT_VERSION: u32 = 2;

/// How an order was decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Stock taken.
    Confirmed,
    /// Not enough stock on line `line`: `available` units were left.
    OutOfStock {
        /// Position of the first short line.
        line: u8,
        /// Units left then.
        available: u32,
    },
}

/// An order as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderRecord {
    /// Order id (the internal sequence number; see [`super::OrderId`]).
    pub id: u64,
    /// The random half of the order's public id.
    pub secret: u64,
    /// Who placed it.
    pub principal: String,
    /// Shop position in the catalogue.
    pub shop: u16,
    /// How it was decided.
    pub decision: Decision,
    /// Pickup, seconds after midnight.
    pub pickup_s: Option<u32>,
    /// [`super::body_hash`] of the request.
    pub body_hash: u64,
    /// Idempotency key.
    pub key: String,
    /// `(item position, units)`.
    pub lines: Vec<(u16, u32)>,
}

/// An order record to encode, borrowing its strings and lines (the order
/// book writes its records from the request's own, without copies).
#[derive(Clone, Copy, Debug)]
pub struct OrderRef<'a> {
    /// Order id (the internal sequence number).
    pub id: u64,
    /// The random half of the order's public id.
    pub secret: u64,
    /// Who placed it.
    pub principal: &'a str,
    /// Shop position in the catalogue.
    pub shop: u16,
    /// How it was decided.
    pub decision: Decision,
    /// Pickup, seconds after midnight.
    pub pickup_s: Option<u32>,
    /// [`super::body_hash`] of the request.
    pub body_hash: u64,
    /// Idempotency key.
    pub key: &'a str,
    /// `(item position, units)`.
    pub lines: &'a [(u16, u32)],
}

impl OrderRef<'_> {
    /// Appends the order's record (the same bytes as [`Record::Order`]) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(1);
        out.extend_from_slice(&self.id.to_le_bytes());
        out.extend_from_slice(&self.secret.to_le_bytes());
        out.extend_from_slice(&self.shop.to_le_bytes());
        let rejected = matches!(self.decision, Decision::OutOfStock { .. });
        out.push(u8::from(rejected) | (u8::from(self.pickup_s.is_some()) << 1));
        if let Decision::OutOfStock { line, available } = self.decision {
            out.push(line);
            out.extend_from_slice(&available.to_le_bytes());
        }
        if let Some(pickup) = self.pickup_s {
            out.extend_from_slice(&pickup.to_le_bytes());
        }
        out.extend_from_slice(&self.body_hash.to_le_bytes());
        debug_assert!(self.key.len() <= u8::MAX as usize);
        out.push(self.key.len() as u8);
        out.extend_from_slice(self.key.as_bytes());
        debug_assert!(self.principal.len() <= u8::MAX as usize);
        out.push(self.principal.len() as u8);
        out.extend_from_slice(self.principal.as_bytes());
        encode_lines(self.lines, out);
    }
}

/// One record of a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// An order decided.
    Order(OrderRecord),
    /// A confirmed order cancelled (its stock released).
    Cancel {
        /// Order id.
        id: u64,
        /// Shop position.
        shop: u16,
        /// Lines released.
        lines: Vec<(u16, u32)>,
    },
    /// Units added by an operator.
    Restock {
        /// Shop position.
        shop: u16,
        /// Item position.
        item: u16,
        /// Units.
        units: u32,
    },
}

impl Record {
    /// Appends the record's encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Record::Order(o) => OrderRef {
                id: o.id,
                secret: o.secret,
                principal: &o.principal,
                shop: o.shop,
                decision: o.decision,
                pickup_s: o.pickup_s,
                body_hash: o.body_hash,
                key: &o.key,
                lines: &o.lines,
            }
            .encode(out),
            Record::Cancel { id, shop, lines } => {
                out.push(2);
                out.extend_from_slice(&id.to_le_bytes());
                out.extend_from_slice(&shop.to_le_bytes());
                encode_lines(lines, out);
            }
            Record::Restock { shop, item, units } => {
                out.push(3);
                out.extend_from_slice(&shop.to_le_bytes());
                out.extend_from_slice(&item.to_le_bytes());
                out.extend_from_slice(&units.to_le_bytes());
            }
        }
    }

    /// Decodes every record of a group blob.
    pub fn decode_all(mut blob: &[u8]) -> Result<Vec<Record>, String> {
        let mut records = Vec::new();
        while !blob.is_empty() {
            records.push(Record::decode(&mut blob)?);
        }
        Ok(records)
    }

    /// Decodes one record from the front of `blob`.
    pub fn decode(blob: &mut &[u8]) -> Result<Record, String> {
        fn take<'a>(blob: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
            if blob.len() < n {
                return Err("a record is cut short".into());
            }
            let (head, rest) = blob.split_at(n);
            *blob = rest;
            Ok(head)
        }
        let u8_ = |b: &mut &[u8]| take(b, 1).map(|s| s[0]);
        let u16_ = |b: &mut &[u8]| take(b, 2).map(|s| u16::from_le_bytes([s[0], s[1]]));
        let u32_ = |b: &mut &[u8]| take(b, 4).map(|s| u32::from_le_bytes(s.try_into().expect("4 bytes")));
        let u64_ = |b: &mut &[u8]| take(b, 8).map(|s| u64::from_le_bytes(s.try_into().expect("8 bytes")));
        let lines_ = |b: &mut &[u8]| -> Result<Vec<(u16, u32)>, String> {
            let count = u8_(b)? as usize;
            let mut lines = Vec::with_capacity(count);
            for _ in 0..count {
                lines.push((u16_(b)?, u32_(b)?));
            }
            Ok(lines)
        };
        match u8_(blob)? {
            1 => {
                let id = u64_(blob)?;
                let secret = u64_(blob)?;
                let shop = u16_(blob)?;
                let flags = u8_(blob)?;
                let decision = if flags & 1 != 0 {
                    Decision::OutOfStock { line: u8_(blob)?, available: u32_(blob)? }
                } else {
                    Decision::Confirmed
                };
                let pickup_s = if flags & 2 != 0 { Some(u32_(blob)?) } else { None };
                let body_hash = u64_(blob)?;
                let key_length = u8_(blob)? as usize;
                let key = String::from_utf8(take(blob, key_length)?.to_vec())
                    .map_err(|_| "an idempotency key is not UTF-8".to_string())?;
                let principal_length = u8_(blob)? as usize;
                let principal = String::from_utf8(take(blob, principal_length)?.to_vec())
                    .map_err(|_| "a principal is not UTF-8".to_string())?;
                let lines = lines_(blob)?;
                Ok(Record::Order(OrderRecord {
                    id,
                    secret,
                    principal,
                    shop,
                    decision,
                    pickup_s,
                    body_hash,
                    key,
                    lines,
                }))
            }
            2 => Ok(Record::Cancel { id: u64_(blob)?, shop: u16_(blob)?, lines: lines_(blob)? }),
            3 => Ok(Record::Restock { shop: u16_(blob)?, item: u16_(blob)?, units: u32_(blob)? }),
            tag => Err(format!("unknown record tag {tag}")),
        }
    }
}

fn encode_lines(lines: &[(u16, u32)], out: &mut Vec<u8>) {
    debug_assert!(lines.len() <= u8::MAX as usize);
    out.push(lines.len() as u8);
    for &(item, units) in lines {
        out.extend_from_slice(&item.to_le_bytes());
        out.extend_from_slice(&units.to_le_bytes());
    }
}

/// The open store. Clones share the database: the order book's shard
/// writes through one, an export reads through another.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
    path: PathBuf,
}

/// A consistent view of one store: what was committed when it was taken.
pub struct StoreSnapshot<'a> {
    tx: redb::ReadTransaction,
    path: &'a Path,
}

fn store_error(path: &Path, error: impl std::fmt::Display) -> OrderError {
    OrderError::Store(format!("{}: {error}", path.display()))
}

impl Store {
    /// Opens (or creates) shard `shard`'s store in `dir` for `catalogue`. A
    /// store made for another catalogue (other shops or items) is refused;
    /// its stored catalogue (initial stock) is returned and wins over the
    /// scenario's.
    pub fn open(dir: &Path, shard: usize, catalogue: &Catalogue) -> Result<(Store, Catalogue), OrderError> {
        std::fs::create_dir_all(dir).map_err(|e| OrderError::Open(format!("{}: {e}", dir.display())))?;
        let path = dir.join(store_file_name(shard));
        let db = Database::builder()
            .set_cache_size(STORE_CACHE_BYTES)
            .create(&path)
            .map_err(|e| OrderError::Open(format!("{}: {e}", path.display())))?;
        let store = Store { db: Arc::new(db), path };
        let stored = store.catalogue()?;
        let catalogue = match stored {
            Some(stored) => {
                if !stored.same_items(catalogue) {
                    return Err(OrderError::Open(format!(
                        "{}: this order store was made for other shops or items than the scenario's; use another --data folder",
                        store.path.display()
                    )));
                }
                stored
            }
            None => {
                let json = serde_json::to_vec(catalogue).expect("a catalogue serialises");
                let mut tx = store.db.begin_write().map_err(|e| store_error(&store.path, e))?;
                tx.set_durability(Durability::Immediate).map_err(|e| store_error(&store.path, e))?;
                {
                    let mut meta = tx.open_table(META).map_err(|e| store_error(&store.path, e))?;
                    meta.insert("catalogue", json.as_slice()).map_err(|e| store_error(&store.path, e))?;
                    meta.insert("format_version", STORE_FORMAT_VERSION.to_le_bytes().as_slice())
                        .map_err(|e| store_error(&store.path, e))?;
                    meta.insert("shards", (ORDER_SHARDS as u32).to_le_bytes().as_slice())
                        .map_err(|e| store_error(&store.path, e))?;
                    tx.open_table(GROUPS).map_err(|e| store_error(&store.path, e))?;
                }
                tx.commit().map_err(|e| store_error(&store.path, e))?;
                catalogue.clone()
            }
        };
        Ok((store, catalogue))
    }

    /// Opens shard `shard`'s existing store to read it (export); the server
    /// must not be running on it.
    pub fn open_existing(dir: &Path, shard: usize) -> Result<(Store, Catalogue), OrderError> {
        let path = dir.join(store_file_name(shard));
        if !path.exists() {
            return Err(OrderError::Open(format!("{}: no order store here", path.display())));
        }
        let db = Database::builder()
            .set_cache_size(STORE_CACHE_BYTES)
            .open(&path)
            .map_err(|e| OrderError::Open(format!("{}: {e}", path.display())))?;
        let store = Store { db: Arc::new(db), path };
        let catalogue = store
            .catalogue()?
            .ok_or_else(|| OrderError::Open(format!("{}: the store holds no catalogue", store.path.display())))?;
        Ok((store, catalogue))
    }

    fn catalogue(&self) -> Result<Option<Catalogue>, OrderError> {
        let tx = self.db.begin_read().map_err(|e| store_error(&self.path, e))?;
        let meta = match tx.open_table(META) {
            Ok(meta) => meta,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(store_error(&self.path, e)),
        };
        if let Some(version) = meta.get("format_version").map_err(|e| store_error(&self.path, e))? {
            let bytes = version.value();
            if bytes != STORE_FORMAT_VERSION.to_le_bytes() {
                let found =
                    <[u8; 4]>::try_from(bytes).map(u32::from_le_bytes).map_or("unknown".into(), |v| v.to_string());
                return Err(OrderError::Open(format!(
                    "{}: order store format {found}, this build reads {STORE_FORMAT_VERSION} (orders with principals); export it with the build that made it, and start on a new --data folder",
                    self.path.display()
                )));
            }
        }
        if let Some(shards) = meta.get("shards").map_err(|e| store_error(&self.path, e))?
            && shards.value() != (ORDER_SHARDS as u32).to_le_bytes()
        {
            return Err(OrderError::Open(format!(
                "{}: made for another shard count than this build's {ORDER_SHARDS}",
                self.path.display()
            )));
        }
        let Some(json) = meta.get("catalogue").map_err(|e| store_error(&self.path, e))? else {
            return Ok(None);
        };
        serde_json::from_slice(json.value()).map(Some).map_err(|e| store_error(&self.path, e))
    }

    /// Appends one group durably: when this returns `Ok`, the group is on disk.
    pub fn commit(&mut self, sequence: u64, blob: &[u8]) -> Result<(), OrderError> {
        let mut tx = self.db.begin_write().map_err(|e| store_error(&self.path, e))?;
        tx.set_durability(Durability::Immediate).map_err(|e| store_error(&self.path, e))?;
        {
            let mut groups = tx.open_table(GROUPS).map_err(|e| store_error(&self.path, e))?;
            groups.insert(sequence, blob).map_err(|e| store_error(&self.path, e))?;
        }
        tx.commit().map_err(|e| store_error(&self.path, e))
    }

    /// One group's blob.
    pub fn group(&self, sequence: u64) -> Result<Option<Vec<u8>>, OrderError> {
        let tx = self.db.begin_read().map_err(|e| store_error(&self.path, e))?;
        let groups = tx.open_table(GROUPS).map_err(|e| store_error(&self.path, e))?;
        Ok(groups.get(sequence).map_err(|e| store_error(&self.path, e))?.map(|blob| blob.value().to_vec()))
    }

    /// Calls `visit(sequence, records)` for every group, in order.
    pub fn scan(&self, visit: impl FnMut(u64, Vec<Record>)) -> Result<(), OrderError> {
        self.snapshot()?.scan(visit)
    }

    /// What is committed now, to read (more than once) while commits go on.
    pub fn snapshot(&self) -> Result<StoreSnapshot<'_>, OrderError> {
        Ok(StoreSnapshot { tx: self.db.begin_read().map_err(|e| store_error(&self.path, e))?, path: &self.path })
    }
}

impl StoreSnapshot<'_> {
    /// Calls `visit(sequence, records)` for every group of the snapshot, in order.
    pub fn scan(&self, mut visit: impl FnMut(u64, Vec<Record>)) -> Result<(), OrderError> {
        let groups = self.tx.open_table(GROUPS).map_err(|e| store_error(self.path, e))?;
        for entry in groups.iter().map_err(|e| store_error(self.path, e))? {
            let (sequence, blob) = entry.map_err(|e| store_error(self.path, e))?;
            let records = Record::decode_all(blob.value())
                .map_err(|e| store_error(self.path, format!("group {}: {e}", sequence.value())))?;
            visit(sequence.value(), records);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_through_their_encoding() {
        let records = vec![
            Record::Order(OrderRecord {
                id: 7,
                secret: 0x0123_4567_89ab_cdef,
                principal: "alice".into(),
                shop: 3,
                decision: Decision::Confirmed,
                pickup_s: Some(45_000),
                body_hash: 99,
                key: "key-é".into(),
                lines: vec![(0, 2), (4, 1)],
            }),
            Record::Order(OrderRecord {
                id: 8,
                secret: u64::MAX,
                principal: "operator-1".into(),
                shop: 0,
                decision: Decision::OutOfStock { line: 1, available: 4 },
                pickup_s: None,
                body_hash: u64::MAX,
                key: "k".into(),
                lines: vec![(1, 1), (2, 5)],
            }),
            Record::Cancel { id: 7, shop: 3, lines: vec![(0, 2), (4, 1)] },
            Record::Restock { shop: 2, item: 1, units: 1_000 },
        ];
        let mut blob = Vec::new();
        for record in &records {
            record.encode(&mut blob);
        }
        assert_eq!(Record::decode_all(&blob).unwrap(), records);
        assert!(Record::decode_all(&blob[..blob.len() - 1]).is_err(), "a cut record is an error");
    }
}
