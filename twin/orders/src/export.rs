//! The order store as Parquet, one row per order line, for analysis next to
//! a run's `places.parquet`: `crowdtwin orders export` reads a store no
//! server holds open; `GET /v1/orders/export` (operator) exports from the
//! running service.

use super::ORDER_SHARDS;
use super::shop::Catalogue;
use super::store::{Decision, Record, Store};
use super::{OrderError, OrderId};
use arrow_array::builder::{StringBuilder, UInt32Builder, UInt64Builder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use crowdtwin_sim::scenario::format_clock;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

/// Rows per Parquet row group and per batch built in memory.
pub const EXPORT_BATCH_ROWS_MAX: usize = 65_536;

/// The columns of `orders.parquet`, one row per order line.
pub fn orders_schema() -> Schema {
    Schema::new(vec![
        Field::new("order_id", DataType::Utf8, false),
        Field::new("commit", DataType::UInt64, false),
        Field::new("principal", DataType::Utf8, false),
        Field::new("idempotency_key", DataType::Utf8, false),
        Field::new("shop", DataType::Utf8, false),
        Field::new("item", DataType::Utf8, false),
        Field::new("quantity", DataType::UInt32, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("pickup_at", DataType::Utf8, true),
    ])
}

#[derive(Default)]
struct Columns {
    order_id: StringBuilder,
    commit: UInt64Builder,
    principal: StringBuilder,
    key: StringBuilder,
    shop: StringBuilder,
    item: StringBuilder,
    quantity: UInt32Builder,
    status: StringBuilder,
    pickup: StringBuilder,
    rows: usize,
}

impl Columns {
    fn batch(&mut self, schema: &Arc<Schema>) -> RecordBatch {
        self.rows = 0;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.order_id.finish()),
            Arc::new(self.commit.finish()),
            Arc::new(self.principal.finish()),
            Arc::new(self.key.finish()),
            Arc::new(self.shop.finish()),
            Arc::new(self.item.finish()),
            Arc::new(self.quantity.finish()),
            Arc::new(self.status.finish()),
            Arc::new(self.pickup.finish()),
        ];
        RecordBatch::try_new(schema.clone(), columns).expect("columns match the schema")
    }
}

/// Writes every order of the store in `data_dir` (of a stopped service) as
/// Parquet to `sink`; returns (orders, rows).
pub fn export<W: std::io::Write + Send>(data_dir: &Path, sink: W) -> Result<(u64, u64), OrderError> {
    let mut stores = Vec::with_capacity(ORDER_SHARDS);
    for shard in 0..ORDER_SHARDS {
        stores.push(Store::open_existing(data_dir, shard)?);
    }
    let catalogue = stores[0].1.clone();
    let stores: Vec<Store> = stores.into_iter().map(|(store, _)| store).collect();
    write_orders(&stores, &catalogue, sink)
}

/// Writes every order committed in `stores` (the shards', in shard order)
/// as Parquet to `sink`; returns (orders, rows). Each store is read from one
/// snapshot, so a cancel and its order (always in the same shard) agree
/// even while the service commits.
pub fn write_orders<W: std::io::Write + Send>(
    stores: &[Store],
    catalogue: &Catalogue,
    sink: W,
) -> Result<(u64, u64), OrderError> {
    let snapshots = stores.iter().map(Store::snapshot).collect::<Result<Vec<_>, _>>()?;
    let mut cancelled = HashSet::new();
    for snapshot in &snapshots {
        snapshot.scan(|_, records| {
            for record in records {
                if let Record::Cancel { id, .. } = record {
                    cancelled.insert(id);
                }
            }
        })?;
    }
    let schema = Arc::new(orders_schema());
    let properties = WriterProperties::builder()
        .set_created_by("crowdtwin".to_string())
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).expect("valid level")))
        .set_max_row_group_row_count(Some(EXPORT_BATCH_ROWS_MAX))
        .build();
    let parquet_error = |e: parquet::errors::ParquetError| OrderError::Export(e.to_string());
    let (mut orders, mut rows) = (0u64, 0u64);
    let mut writer = ArrowWriter::try_new(sink, schema.clone(), Some(properties)).map_err(parquet_error)?;
    let mut columns = Columns::default();
    let mut failure = None;
    for (shard, snapshot) in snapshots.iter().enumerate() {
        snapshot.scan(|commit, records| {
            for record in records {
                let Record::Order(order) = record else { continue };
                orders += 1;
                let status = match order.decision {
                    Decision::OutOfStock { .. } => "rejected",
                    Decision::Confirmed if cancelled.contains(&order.id) => "cancelled",
                    Decision::Confirmed => "confirmed",
                };
                let shop = &catalogue_shop(catalogue, order.shop);
                let public = OrderId { secret: order.secret, sequence: order.id }.to_string();
                for &(item, units) in &order.lines {
                    columns.order_id.append_value(&public);
                    columns.commit.append_value(commit * ORDER_SHARDS as u64 + shard as u64);
                    columns.principal.append_value(&order.principal);
                    columns.key.append_value(&order.key);
                    columns.shop.append_value(&shop.id);
                    columns.item.append_value(&shop.items[item as usize].id);
                    columns.quantity.append_value(units);
                    columns.status.append_value(status);
                    columns.pickup.append_option(order.pickup_s.map(format_clock));
                    columns.rows += 1;
                    rows += 1;
                }
                if columns.rows >= EXPORT_BATCH_ROWS_MAX
                    && let Err(e) = writer.write(&columns.batch(&schema))
                {
                    failure.get_or_insert(e);
                }
            }
        })?;
    }
    if columns.rows > 0 {
        writer.write(&columns.batch(&schema)).map_err(parquet_error)?;
    }
    if let Some(e) = failure {
        return Err(parquet_error(e));
    }
    writer.close().map_err(parquet_error)?;
    Ok((orders, rows))
}

fn catalogue_shop(catalogue: &Catalogue, shop: u16) -> &super::shop::CatalogueShop {
    &catalogue.shops[shop as usize]
}
