//! Observation files: `crowdtwin observe` writes what sensors would report
//! on a truth scenario (NDJSON, one observation per line, or Parquet); `crowdtwin
//! replay` sends such a file to a running twin, paced by the twin's clock.

use crate::ClientError;
use crate::http_client::{Client, split_url};
use crowdtwin_live::eval::{SensorConfig, TruthFeed};
use crowdtwin_sim::scenario::{Scenario, parse_clock};
use crowdtwin_wire::Observation;
use std::io::{BufRead, Write};
use std::path::Path;

/// Observations per request when replaying.
pub const REPLAY_BATCH_MAX: usize = 1_000;
/// Replay sends observations up to this far ahead of the twin's clock, s.
pub const REPLAY_LEAD_S: u64 = 120;

/// Writes the observations of a truth run to `out`: Parquet if it ends in
/// `.parquet`, else NDJSON. Returns how many.
pub fn observe(truth: Scenario, seed: u64, sensors: SensorConfig, out: &Path) -> Result<usize, ClientError> {
    let end = truth.end();
    let mut feed = TruthFeed::new(truth, seed, sensors);
    if out.extension().is_some_and(|e| e == "parquet") {
        let observations = feed.observe_until(end);
        write_parquet(out, &observations)?;
        return Ok(observations.len());
    }
    let file = std::fs::File::create(out).map_err(|e| ClientError::file(out.display(), e))?;
    let mut writer = std::io::BufWriter::new(file);
    let mut count = 0;
    for observation in feed.observe_until(end) {
        serde_json::to_writer(&mut writer, &observation).map_err(std::io::Error::from)?;
        writeln!(writer)?;
        count += 1;
    }
    writer.flush()?;
    Ok(count)
}

/// Reads an NDJSON observation file; a bad line is an error naming it.
pub fn read_ndjson(path: &Path) -> Result<Vec<Observation>, ClientError> {
    let file = std::fs::File::open(path).map_err(|e| ClientError::file(path.display(), e))?;
    let mut out = Vec::new();
    for (number, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| ClientError::file(format!("{}:{}", path.display(), number + 1), e))?;
        if line.trim().is_empty() {
            continue;
        }
        let observation: Observation = serde_json::from_str(&line).map_err(|e| {
            ClientError::file(format!("{}:{}", path.display(), number + 1), format!("not an observation: {e}"))
        })?;
        out.push(observation);
    }
    Ok(out)
}

fn time_of(observation: &Observation) -> u32 {
    let text = match observation {
        Observation::PlaceCount { at, .. }
        | Observation::SessionDelay { at, .. }
        | Observation::GateStatus { at, .. }
        | Observation::TransitStatus { at, .. }
        | Observation::TransitArrival { at, .. }
        | Observation::Order { at, .. } => at,
        Observation::GateEntries { to, .. } => to,
    };
    parse_clock(text).unwrap_or(0)
}

/// Sends `observations` to the twin at `url`, in time order, never more
/// than [`REPLAY_LEAD_S`] ahead of its clock. Returns (accepted, duplicates, late).
pub async fn replay(
    observations: Vec<Observation>,
    url: &str,
    mut progress: impl FnMut(usize, usize),
) -> Result<(u64, u64, u64), ClientError> {
    let (host, _) = split_url(url).map_err(|e| ClientError::InvalidOption(e.to_string()))?;
    // With auth on, observations need an operator token: CROWDTWIN_TOKEN.
    let token = std::env::var("CROWDTWIN_TOKEN").ok();
    let mut client = Client::connect(&host)
        .await
        .map_err(|e| ClientError::Connect { url: url.to_string(), reason: e.to_string() })?
        .with_token(token.as_deref());
    let mut observations = observations;
    observations.sort_by_key(time_of);
    let (mut accepted, mut duplicates, mut late) = (0, 0, 0);
    let total = observations.len();
    let mut sent = 0;
    let mut start_clock = None;
    while sent < total {
        let (status, body) = client.request("GET", "/v1/state", None).await?;
        if status != 200 {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            continue;
        }
        let state: serde_json::Value = serde_json::from_slice(&body).map_err(std::io::Error::from)?;
        let twin_s = state["time_s"].as_u64().unwrap_or(0);
        let clock = parse_clock(state["clock"].as_str().unwrap_or("00:00")).unwrap_or(0) as u64;
        let start = *start_clock.get_or_insert(clock - twin_s);
        let horizon = (start + twin_s + REPLAY_LEAD_S) as u32;
        let mut batch = Vec::new();
        while sent < total && batch.len() < REPLAY_BATCH_MAX && time_of(&observations[sent]) <= horizon {
            batch.push(observations[sent].clone());
            sent += 1;
        }
        if batch.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            continue;
        }
        let body = serde_json::to_vec(&batch).map_err(std::io::Error::from)?;
        let (status, response) = client.request("POST", "/v1/observations", Some(&body)).await?;
        if status != 200 {
            return Err(ClientError::Refused(format!(
                "the twin refused a batch ({status}): {}",
                String::from_utf8_lossy(&response)
            )));
        }
        let report: serde_json::Value = serde_json::from_slice(&response).map_err(std::io::Error::from)?;
        accepted += report["accepted"].as_u64().unwrap_or(0);
        duplicates += report["duplicates"].as_u64().unwrap_or(0);
        late += report["late"].as_u64().unwrap_or(0);
        progress(sent, total);
    }
    Ok((accepted, duplicates, late))
}

/// Columns of an observation Parquet file: one row per observation, the
/// fields a type does not use left null.
pub fn observations_schema() -> arrow_schema::Schema {
    use arrow_schema::{DataType, Field, Schema};
    Schema::new(vec![
        Field::new("type", DataType::Utf8, false),
        Field::new("id", DataType::Utf8, false),
        Field::new("at", DataType::Utf8, false),
        Field::new("place", DataType::Utf8, false),
        Field::new("count", DataType::Float64, true),
        Field::new("sigma", DataType::Float64, true),
        Field::new("from", DataType::Utf8, true),
        Field::new("session_start", DataType::Utf8, true),
        Field::new("delay_min", DataType::Float64, true),
        Field::new("open", DataType::Boolean, true),
        Field::new("item", DataType::Utf8, true),
        Field::new("quantity", DataType::UInt32, true),
    ])
}

/// Builders of the columns of [`observations_schema`], filled one
/// observation (row) at a time. One builder per column, named as in the
/// schema (`kind` holds `type`, `delay` holds `delay_min`).
struct ObservationColumns {
    kind: arrow_array::builder::StringBuilder,
    id: arrow_array::builder::StringBuilder,
    at: arrow_array::builder::StringBuilder,
    place: arrow_array::builder::StringBuilder,
    count: arrow_array::builder::Float64Builder,
    sigma: arrow_array::builder::Float64Builder,
    from: arrow_array::builder::StringBuilder,
    session_start: arrow_array::builder::StringBuilder,
    delay: arrow_array::builder::Float64Builder,
    open: arrow_array::builder::BooleanBuilder,
    item: arrow_array::builder::StringBuilder,
    quantity: arrow_array::builder::UInt32Builder,
}

impl ObservationColumns {
    /// Empty columns.
    fn new() -> Self {
        use arrow_array::builder::{BooleanBuilder, Float64Builder, StringBuilder, UInt32Builder};
        ObservationColumns {
            kind: StringBuilder::new(),
            id: StringBuilder::new(),
            at: StringBuilder::new(),
            place: StringBuilder::new(),
            count: Float64Builder::new(),
            sigma: Float64Builder::new(),
            from: StringBuilder::new(),
            session_start: StringBuilder::new(),
            delay: Float64Builder::new(),
            open: BooleanBuilder::new(),
            item: StringBuilder::new(),
            quantity: UInt32Builder::new(),
        }
    }

    /// Appends one row: the fields every observation has, then the optional ones.
    fn append(&mut self, observation: &Observation) {
        let (k, i, a, p) = match observation {
            Observation::PlaceCount { id, at, place, .. } => ("place_count", id, at, place),
            Observation::GateEntries { id, to, place, .. } => ("gate_entries", id, to, place),
            Observation::SessionDelay { id, at, venue, .. } => ("session_delay", id, at, venue),
            Observation::GateStatus { id, at, place, .. } => ("gate_status", id, at, place),
            Observation::TransitStatus { id, at, place, .. } => ("transit_status", id, at, place),
            Observation::TransitArrival { id, at, place, .. } => ("transit_arrival", id, at, place),
            Observation::Order { id, at, shop, .. } => ("order", id, at, shop),
        };
        self.kind.append_value(k);
        self.id.append_value(i);
        self.at.append_value(a);
        self.place.append_value(p);
        self.append_optional(observation);
    }

    /// Appends the fields only some types of observation have; null for the others.
    fn append_optional(&mut self, observation: &Observation) {
        self.count.append_option(match observation {
            Observation::PlaceCount { count, .. }
            | Observation::GateEntries { count, .. }
            | Observation::TransitArrival { count, .. } => Some(*count),
            // A transit status's capacity share goes in `count`.
            Observation::TransitStatus { capacity_factor, .. } => Some(*capacity_factor),
            _ => None,
        });
        self.sigma.append_option(match observation {
            Observation::PlaceCount { sigma, .. } => *sigma,
            _ => None,
        });
        self.from.append_option(match observation {
            Observation::GateEntries { from, .. } => Some(from),
            // A transit status's end goes in `from`.
            Observation::TransitStatus { until, .. } => until.as_ref(),
            _ => None,
        });
        self.session_start.append_option(match observation {
            Observation::SessionDelay { session_start, .. } => Some(session_start),
            _ => None,
        });
        self.delay.append_option(match observation {
            Observation::SessionDelay { delay_min, .. } => Some(*delay_min),
            _ => None,
        });
        self.open.append_option(match observation {
            Observation::GateStatus { open, .. } => Some(*open),
            _ => None,
        });
        self.item.append_option(match observation {
            Observation::Order { item, .. } => Some(item),
            _ => None,
        });
        self.quantity.append_option(match observation {
            Observation::Order { quantity, .. } => Some(*quantity),
            _ => None,
        });
    }

    /// The finished columns, in the order of [`observations_schema`].
    fn finish(mut self) -> Vec<arrow_array::ArrayRef> {
        use std::sync::Arc;
        vec![
            Arc::new(self.kind.finish()),
            Arc::new(self.id.finish()),
            Arc::new(self.at.finish()),
            Arc::new(self.place.finish()),
            Arc::new(self.count.finish()),
            Arc::new(self.sigma.finish()),
            Arc::new(self.from.finish()),
            Arc::new(self.session_start.finish()),
            Arc::new(self.delay.finish()),
            Arc::new(self.open.finish()),
            Arc::new(self.item.finish()),
            Arc::new(self.quantity.finish()),
        ]
    }
}

/// Writes observations as Parquet (zstd).
pub fn write_parquet(path: &Path, observations: &[Observation]) -> Result<(), ClientError> {
    use arrow_array::RecordBatch;
    use std::sync::Arc;
    let mut columns = ObservationColumns::new();
    for observation in observations {
        columns.append(observation);
    }
    let schema = Arc::new(observations_schema());
    let error = |e: &dyn std::fmt::Display| ClientError::file(path.display(), e);
    let batch = RecordBatch::try_new(schema.clone(), columns.finish()).map_err(|e| error(&e))?;
    let file = std::fs::File::create(path).map_err(|e| error(&e))?;
    let properties = parquet::file::properties::WriterProperties::builder()
        .set_created_by("crowdtwin".to_string())
        .set_compression(parquet::basic::Compression::ZSTD(parquet::basic::ZstdLevel::try_new(3).expect("valid level")))
        .build();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema, Some(properties)).map_err(|e| error(&e))?;
    writer.write(&batch).map_err(|e| error(&e))?;
    writer.close().map_err(|e| error(&e))?;
    Ok(())
}

/// The columns of one record batch of an observation Parquet file, read out
/// of Arrow arrays; null values are `None`. One vector per column, named as
/// in the schema (`kind` holds `type`, `delay` holds `delay_min`).
struct ReadColumns {
    kind: Vec<Option<String>>,
    id: Vec<Option<String>>,
    at: Vec<Option<String>>,
    place: Vec<Option<String>>,
    count: Vec<Option<f64>>,
    sigma: Vec<Option<f64>>,
    delay: Vec<Option<f64>>,
    from: Vec<Option<String>>,
    session_start: Vec<Option<String>>,
    item: Vec<Option<String>>,
    open: Vec<Option<bool>>,
    quantity: Vec<Option<u32>>,
}

impl ReadColumns {
    /// Reads the columns of [`observations_schema`] from `batch`; a missing
    /// column or one of the wrong type is an error naming `path`.
    fn from_batch(batch: &arrow_array::RecordBatch, path: &Path) -> Result<Self, ClientError> {
        use arrow_array::Array;
        use arrow_array::cast::AsArray;
        use arrow_array::types::{Float64Type, UInt32Type};
        let error = |e: &dyn std::fmt::Display| ClientError::file(path.display(), e);
        let text = |name: &str| -> Result<Vec<Option<String>>, ClientError> {
            let column = batch.column_by_name(name).ok_or_else(|| error(&format!("no column `{name}`")))?;
            let strings =
                column.as_string_opt::<i32>().ok_or_else(|| error(&format!("column `{name}` is not text")))?;
            Ok((0..strings.len()).map(|i| strings.is_valid(i).then(|| strings.value(i).to_string())).collect())
        };
        let float = |name: &str| -> Result<Vec<Option<f64>>, ClientError> {
            let column = batch.column_by_name(name).ok_or_else(|| error(&format!("no column `{name}`")))?;
            let values = column
                .as_primitive_opt::<Float64Type>()
                .ok_or_else(|| error(&format!("column `{name}` is not float64")))?;
            Ok((0..values.len()).map(|i| values.is_valid(i).then(|| values.value(i))).collect())
        };
        let (kind, id, at, place) = (text("type")?, text("id")?, text("at")?, text("place")?);
        let (count, sigma, delay) = (float("count")?, float("sigma")?, float("delay_min")?);
        let (from, session_start, item) = (text("from")?, text("session_start")?, text("item")?);
        let open_column = batch.column_by_name("open").ok_or_else(|| error(&"no column `open`"))?;
        let open = open_column.as_boolean_opt().ok_or_else(|| error(&"column `open` is not boolean"))?;
        let open = (0..open.len()).map(|i| open.is_valid(i).then(|| open.value(i))).collect();
        let quantity_column = batch.column_by_name("quantity").ok_or_else(|| error(&"no column `quantity`"))?;
        let quantity = quantity_column
            .as_primitive_opt::<UInt32Type>()
            .ok_or_else(|| error(&"column `quantity` is not uint32"))?;
        let quantity = (0..quantity.len()).map(|i| quantity.is_valid(i).then(|| quantity.value(i))).collect();
        Ok(ReadColumns { kind, id, at, place, count, sigma, delay, from, session_start, item, open, quantity })
    }

    /// The observation in row `row` of the batch; `bad` makes the error for a
    /// bad value, naming the row in the file.
    fn observation(&self, row: usize, bad: impl Fn(&str) -> ClientError) -> Result<Observation, ClientError> {
        let need = |v: &Option<String>, name: &str| v.clone().ok_or_else(|| bad(&format!("`{name}` is null")));
        let need_f = |v: Option<f64>, name: &str| v.ok_or_else(|| bad(&format!("`{name}` is null")));
        let (id, at, place) =
            (need(&self.id[row], "id")?, need(&self.at[row], "at")?, need(&self.place[row], "place")?);
        let observation = match self.kind[row].as_deref() {
            Some("place_count") => Observation::PlaceCount {
                version: 1,
                id,
                at,
                place,
                count: need_f(self.count[row], "count")?,
                sigma: self.sigma[row],
            },
            Some("gate_entries") => Observation::GateEntries {
                version: 1,
                id,
                from: need(&self.from[row], "from")?,
                to: at,
                place,
                count: need_f(self.count[row], "count")?,
            },
            Some("session_delay") => Observation::SessionDelay {
                version: 1,
                id,
                at,
                venue: place,
                session_start: need(&self.session_start[row], "session_start")?,
                delay_min: need_f(self.delay[row], "delay_min")?,
            },
            Some("gate_status") => Observation::GateStatus {
                version: 1,
                id,
                at,
                place,
                open: self.open[row].ok_or_else(|| bad("`open` is null"))?,
            },
            Some("transit_status") => Observation::TransitStatus {
                version: 1,
                id,
                at,
                place,
                capacity_factor: need_f(self.count[row], "count (the capacity factor)")?,
                until: self.from[row].clone(),
            },
            Some("transit_arrival") => {
                Observation::TransitArrival { version: 1, id, at, place, count: need_f(self.count[row], "count")? }
            }
            Some("order") => Observation::Order {
                version: 1,
                id,
                at,
                shop: place,
                item: need(&self.item[row], "item")?,
                quantity: self.quantity[row].ok_or_else(|| bad("`quantity` is null"))?,
            },
            other => return Err(bad(&format!("unknown type {other:?}"))),
        };
        Ok(observation)
    }
}

/// Reads observations from Parquet (the columns of [`observations_schema`]);
/// a bad row is an error naming it.
pub fn read_parquet(path: &Path) -> Result<Vec<Observation>, ClientError> {
    let error = |e: &dyn std::fmt::Display| ClientError::file(path.display(), e);
    let file = std::fs::File::open(path).map_err(|e| error(&e))?;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| error(&e))?
        .build()
        .map_err(|e| error(&e))?;
    let mut out = Vec::new();
    let mut row_base = 0;
    for batch in reader {
        let batch = batch.map_err(|e| error(&e))?;
        let columns = ReadColumns::from_batch(&batch, path)?;
        for row in 0..batch.num_rows() {
            let bad = |what: &str| error(&format!("row {}: {what}", row_base + row + 1));
            out.push(columns.observation(row, bad)?);
        }
        row_base += batch.num_rows();
    }
    Ok(out)
}

/// Reads an observation file: Parquet if it ends in `.parquet`, else NDJSON.
pub fn read_observations(path: &Path) -> Result<Vec<Observation>, ClientError> {
    if path.extension().is_some_and(|e| e == "parquet") { read_parquet(path) } else { read_ndjson(path) }
}
