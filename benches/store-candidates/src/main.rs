//! Scratch: N orders per durable commit, each = idempotency-key lookup + order insert + key insert.
use std::time::Instant;
const TOTAL: u64 = 400_000;

fn record(i: u64) -> (Vec<u8>, [u8; 8], Vec<u8>) {
    let key = format!("loadgen-7-{i:012}").into_bytes();
    let mut value = Vec::with_capacity(48);
    value.extend_from_slice(&(i % 300).to_le_bytes()[..4]);
    value.extend_from_slice(&key[..16]);
    value.extend_from_slice(&[1, 0, 0, 0, 2, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    (key, i.to_be_bytes(), value)
}

fn redb_run(dir: &std::path::Path, group: u64) -> f64 {
    use redb::{Database, Durability, ReadableTable, TableDefinition};
    const ORDERS: TableDefinition<u64, &[u8]> = TableDefinition::new("orders");
    const KEYS: TableDefinition<&[u8], u64> = TableDefinition::new("keys");
    let db = Database::create(dir.join("r.redb")).unwrap();
    let t = Instant::now();
    let mut i = 0;
    while i < TOTAL {
        let mut tx = db.begin_write().unwrap();
        tx.set_durability(Durability::Immediate).unwrap();
        {
            let mut orders = tx.open_table(ORDERS).unwrap();
            let mut keys = tx.open_table(KEYS).unwrap();
            for _ in 0..group {
                let (k, _, v) = record(i);
                assert!(keys.get(k.as_slice()).unwrap().is_none());
                keys.insert(k.as_slice(), i).unwrap();
                orders.insert(i, v.as_slice()).unwrap();
                i += 1;
            }
        }
        tx.commit().unwrap();
    }
    TOTAL as f64 / t.elapsed().as_secs_f64()
}

fn fjall_run(dir: &std::path::Path, group: u64) -> f64 {
    use fjall::{Database, KeyspaceCreateOptions, PersistMode};
    let db = Database::builder(dir.join("f")).open().unwrap();
    let orders = db.keyspace("orders", KeyspaceCreateOptions::default).unwrap();
    let keys = db.keyspace("keys", KeyspaceCreateOptions::default).unwrap();
    let t = Instant::now();
    let mut i = 0;
    while i < TOTAL {
        let mut batch = db.batch().durability(Some(PersistMode::SyncData));
        for _ in 0..group {
            let (k, id, v) = record(i);
            assert!(keys.get(&k).unwrap().is_none());
            batch.insert(&keys, k, id.to_vec());
            batch.insert(&orders, id.to_vec(), v);
            i += 1;
        }
        batch.commit().unwrap();
    }
    TOTAL as f64 / t.elapsed().as_secs_f64()
}

fn sqlite_run(dir: &std::path::Path, group: u64) -> f64 {
    let mut c = rusqlite::Connection::open(dir.join("s.db")).unwrap();
    c.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE orders(id INTEGER PRIMARY KEY, v BLOB); CREATE TABLE keys(k BLOB PRIMARY KEY, id INTEGER) WITHOUT ROWID;").unwrap();
    let t = Instant::now();
    let mut i = 0;
    while i < TOTAL {
        let tx = c.transaction().unwrap();
        {
            let mut get = tx.prepare_cached("SELECT id FROM keys WHERE k = ?1").unwrap();
            let mut ik = tx.prepare_cached("INSERT INTO keys VALUES (?1, ?2)").unwrap();
            let mut io = tx.prepare_cached("INSERT INTO orders VALUES (?1, ?2)").unwrap();
            for _ in 0..group {
                let (k, _, v) = record(i);
                let found: Option<i64> = get.query_row([&k], |r| r.get(0)).ok();
                assert!(found.is_none());
                ik.execute(rusqlite::params![k, i as i64]).unwrap();
                io.execute(rusqlite::params![i as i64, v]).unwrap();
                i += 1;
            }
        }
        tx.commit().unwrap();
    }
    TOTAL as f64 / t.elapsed().as_secs_f64()
}

/// The shape crowdtwin uses: one compact blob per group commit (idempotency index in memory).
fn redb_blob_run(dir: &std::path::Path, group: u64) -> f64 {
    use redb::{Database, Durability, TableDefinition};
    const GROUPS: TableDefinition<u64, &[u8]> = TableDefinition::new("groups");
    let db = Database::create(dir.join("b.redb")).unwrap();
    let mut index = std::collections::HashMap::new();
    let t = Instant::now();
    let (mut i, mut seq) = (0, 0u64);
    while i < TOTAL {
        let mut blob = Vec::with_capacity(group as usize * 64);
        for _ in 0..group {
            let (k, id, v) = record(i);
            assert!(index.insert(k.clone(), i).is_none());
            blob.extend_from_slice(&id);
            blob.push(k.len() as u8);
            blob.extend_from_slice(&k);
            blob.extend_from_slice(&v);
            i += 1;
        }
        let mut tx = db.begin_write().unwrap();
        tx.set_durability(Durability::Immediate).unwrap();
        tx.open_table(GROUPS).unwrap().insert(seq, blob.as_slice()).unwrap();
        tx.commit().unwrap();
        seq += 1;
    }
    TOTAL as f64 / t.elapsed().as_secs_f64()
}

fn fsync_probe(dir: &std::path::Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(dir.join("probe")).unwrap();
    let t = Instant::now();
    for _ in 0..200 {
        f.write_all(&[0u8; 4096]).unwrap();
        f.sync_data().unwrap();
    }
    println!("fdatasync of 4 KiB appends: {:.3} ms each", t.elapsed().as_secs_f64() * 1e3 / 200.0);
}

fn main() {
    let d = std::env::temp_dir().join("storebench-probe");
    std::fs::create_dir_all(&d).unwrap();
    fsync_probe(&d);
    for group in [100u64, 1_000, 10_000] {
        for (name, f) in [
            ("redb", redb_run as fn(&std::path::Path, u64) -> f64),
            ("fjall", fjall_run),
            ("sqlite", sqlite_run),
            ("redb-blob", redb_blob_run),
        ] {
            let dir = std::env::temp_dir().join(format!("storebench-{name}-{group}"));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            let rate = f(&dir, group);
            println!("{name:9} group {group:6}: {rate:>12.0} orders/s (fsync per group)");
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}
