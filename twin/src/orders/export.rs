//! `crowdtwin orders export`: the order store as Parquet, one row per order
//! line, for analysis next to a run's `places.parquet`. Reads a store no
//! server holds open (stop the service, or copy its data folder).

use super::ORDER_SHARDS;
use super::shop::Catalogue;
use super::store::{Decision, Record, Store};
use crate::TwinError;
use crate::output::{PARQUET_BATCH_ROWS_MAX, io_error, write_atomically};
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

/// The columns of `orders.parquet`, one row per order line.
pub fn orders_schema() -> Schema {
    Schema::new(vec![
        Field::new("order_id", DataType::UInt64, false),
        Field::new("commit", DataType::UInt64, false),
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
    order_id: UInt64Builder,
    commit: UInt64Builder,
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

/// Writes every order of the store in `data_dir` to `out`; returns (orders, rows).
pub fn export(data_dir: &Path, out: &Path) -> Result<(u64, u64), TwinError> {
    let mut stores = Vec::with_capacity(ORDER_SHARDS);
    for shard in 0..ORDER_SHARDS {
        stores.push(Store::open_existing(data_dir, shard).map_err(|e| TwinError::Input(e.to_string()))?);
    }
    let catalogue = stores[0].1.clone();
    let mut cancelled = HashSet::new();
    for (store, _) in &stores {
        store
            .scan(|_, records| {
                for record in records {
                    if let Record::Cancel { id, .. } = record {
                        cancelled.insert(id);
                    }
                }
            })
            .map_err(|e| TwinError::Input(e.to_string()))?;
    }
    let schema = Arc::new(orders_schema());
    let properties = WriterProperties::builder()
        .set_created_by("crowdtwin".to_string())
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).expect("valid level")))
        .set_max_row_group_row_count(Some(PARQUET_BATCH_ROWS_MAX))
        .build();
    let (mut orders, mut rows) = (0u64, 0u64);
    write_atomically(out, |file| {
        let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(properties)).map_err(|e| io_error(out, e))?;
        let mut columns = Columns::default();
        let mut failure = None;
        for (shard, (store, _)) in stores.iter().enumerate() {
            store
                .scan(|commit, records| {
                    for record in records {
                        let Record::Order(order) = record else { continue };
                        orders += 1;
                        let status = match order.decision {
                            Decision::OutOfStock { .. } => "rejected",
                            Decision::Confirmed if cancelled.contains(&order.id) => "cancelled",
                            Decision::Confirmed => "confirmed",
                        };
                        let shop = &catalogue_shop(&catalogue, order.shop);
                        for &(item, units) in &order.lines {
                            columns.order_id.append_value(order.id);
                            columns.commit.append_value(commit * ORDER_SHARDS as u64 + shard as u64);
                            columns.key.append_value(&order.key);
                            columns.shop.append_value(&shop.id);
                            columns.item.append_value(&shop.items[item as usize].id);
                            columns.quantity.append_value(units);
                            columns.status.append_value(status);
                            columns.pickup.append_option(order.pickup_s.map(format_clock));
                            columns.rows += 1;
                            rows += 1;
                        }
                        if columns.rows >= PARQUET_BATCH_ROWS_MAX
                            && let Err(e) = writer.write(&columns.batch(&schema))
                        {
                            failure.get_or_insert(e);
                        }
                    }
                })
                .map_err(|e| TwinError::Input(e.to_string()))?;
        }
        if columns.rows > 0 {
            writer.write(&columns.batch(&schema)).map_err(|e| io_error(out, e))?;
        }
        if let Some(e) = failure {
            return Err(io_error(out, e));
        }
        writer.close().map_err(|e| io_error(out, e))?;
        Ok(())
    })?;
    Ok((orders, rows))
}

fn catalogue_shop(catalogue: &Catalogue, shop: u16) -> &super::shop::CatalogueShop {
    &catalogue.shops[shop as usize]
}
