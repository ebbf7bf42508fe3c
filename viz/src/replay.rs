//! Replays a run's output folder: `places.parquet` (per element per
//! interval), `kpis.json` and `scenario.toml` (the site's geometry).

use crate::VizError;
use crate::frame::{ElementFrame, Frame, alerts_at_e_or_f, los_from_letter};
use crate::site::Site;
use arrow_array::{Array, Float64Array, RecordBatch, StringArray, UInt32Array};
use crowdtwin_sim::model::Los;
use crowdtwin_sim::scenario::{Scenario, format_clock};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::path::Path;

/// Largest scenario file read, bytes.
pub const SCENARIO_FILE_BYTES_MAX: u64 = 64 * 1024 * 1024;
/// Most rows read from `places.parquet` (elements x intervals).
pub const PLACES_ROWS_MAX: usize = 50_000_000;

/// One element in one output interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// Mean people present.
    pub occupancy: f64,
    /// Mean density, P/m².
    pub density_p_per_m2: f64,
    /// Level of service, as the run classified it.
    pub los: Los,
    /// Mean people queueing.
    pub queue_length: f64,
    /// Mean walking speed (walkways with walkers).
    pub speed_mps: Option<f64>,
}

/// A run's output, ready to play.
#[derive(Clone, Debug)]
pub struct Replay {
    /// The site.
    pub site: Site,
    /// Output interval, s.
    pub interval_s: u32,
    /// Intervals per element.
    pub intervals: usize,
    /// `samples[element * intervals + interval]`.
    samples: Vec<Sample>,
    /// `kpis.json`'s scalar entries, in file order (empty if absent).
    pub kpis: Vec<(String, String)>,
    /// Spectators seated per session of the site, from `kpis.json` (`None`
    /// if absent or not the site's sessions).
    pub attendance: Option<Vec<u32>>,
}

/// Reads and checks a scenario file.
pub fn load_scenario(path: &Path) -> Result<Scenario, VizError> {
    let name = path.display().to_string();
    let metadata = std::fs::metadata(path).map_err(|e| VizError::Input(format!("{name}: {e}")))?;
    if metadata.len() > SCENARIO_FILE_BYTES_MAX {
        return Err(VizError::Input(format!("{name}: larger than {SCENARIO_FILE_BYTES_MAX} bytes")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| VizError::Input(format!("{name}: {e}")))?;
    Scenario::parse(&text, &name).map_err(|e| VizError::Input(e.to_string()))
}

fn column<'a, T: 'static>(batch: &'a RecordBatch, name: &str, path: &Path) -> Result<&'a T, VizError> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or_else(|| VizError::Input(format!("{}: no column `{name}` of the expected type", path.display())))
}

fn optional(values: &Float64Array, row: usize) -> Option<f64> {
    values.is_valid(row).then(|| values.value(row))
}

/// Flattens `kpis.json`'s top-level numbers and strings into `(name, value)`.
pub fn kpi_entries(json: &serde_json::Value) -> Vec<(String, String)> {
    let Some(object) = json.as_object() else { return Vec::new() };
    object
        .iter()
        .filter_map(|(name, value)| match value {
            serde_json::Value::Number(n) => {
                let n = n.as_f64()?;
                Some((name.clone(), if n.fract() == 0.0 { format!("{n:.0}") } else { format!("{n:.2}") }))
            }
            serde_json::Value::String(s) => Some((name.clone(), s.clone())),
            _ => None,
        })
        .collect()
}

/// `kpis.json`'s spectators seated per session, when its sessions are the
/// site's (same number, same venues, in order).
pub fn attendance(site: &Site, json: &serde_json::Value) -> Option<Vec<u32>> {
    let sessions = json.get("sessions")?.as_array()?;
    if sessions.len() != site.sessions.len() {
        return None;
    }
    sessions
        .iter()
        .zip(&site.sessions)
        .map(|(reported, session)| {
            let venue = reported.get("venue")?.as_str()?;
            let seated = reported.get("seated")?.as_u64()?;
            (venue == site.places[session.venue].id).then_some(u32::try_from(seated).ok()?)
        })
        .collect()
}

/// A human label for a `kpis.json` key: the known ones named in words,
/// others with their underscores as spaces and their unit in brackets.
pub fn kpi_label(key: &str) -> String {
    let known = match key {
        "scenario" => "Scenario",
        "seed" => "Seed",
        "start" => "Start",
        "end" => "End",
        "events" => "Simulation events",
        "departed_by_transit" => "Left by transit",
        "crowd_arrivals" => "Crowd arrivals",
        "stranded" => "Stranded (no route)",
        "turned_back" => "Turned back at closed gates",
        "total_queue_time_s" => "Total time queueing (h)",
        "orders" => "Orders",
        "revenue" => "Revenue",
        "sold_out" => "Found items sold out",
        "balked" => "Left a queue unjoined",
        "peak_density_element" => "Densest place or walkway",
        "peak_density_p_per_m2" => "Peak density (P/m²)",
        "peak_density_at" => "Peak density at",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_string();
    }
    let (words, unit) = [("_p_per_m2", " (P/m²)"), ("_s", " (s)"), ("_m", " (m)"), ("_min", " (min)")]
        .into_iter()
        .find_map(|(suffix, unit)| key.strip_suffix(suffix).map(|words| (words, unit)))
        .unwrap_or((key, ""));
    let words = words.replace('_', " ");
    let mut chars = words.chars();
    let first = chars.next().map(|c| c.to_uppercase().collect::<String>()).unwrap_or_default();
    format!("{first}{}{unit}", chars.as_str())
}

/// A `kpis.json` value as shown beside its label: whole numbers with
/// thousands separators, the queueing total in hours, an element's id as
/// its name.
pub fn kpi_value(site: &Site, key: &str, value: &str) -> String {
    if let Some(element) = key.ends_with("_element").then(|| site.element_index(value)).flatten() {
        return site.element_name(element);
    }
    match value.parse::<f64>() {
        Ok(seconds) if key == "total_queue_time_s" => with_thousands(seconds / 3_600.0, 0),
        Ok(number) if number.fract() == 0.0 && number.abs() < 1e15 => with_thousands(number, 0),
        _ => value.to_string(),
    }
}

/// `value` with `decimals` decimals and a comma every three digits.
pub fn with_thousands(value: f64, decimals: usize) -> String {
    let text = format!("{:.*}", decimals, value.abs());
    let (whole, fraction) = text.split_once('.').unwrap_or((text.as_str(), ""));
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let sign = if value < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0') { "-" } else { "" };
    if fraction.is_empty() { format!("{sign}{grouped}") } else { format!("{sign}{grouped}.{fraction}") }
}

impl Replay {
    /// Loads a run folder; the site comes from `scenario` if given, else from
    /// the folder's `scenario.toml`.
    pub fn load(dir: &Path, scenario: Option<&Path>) -> Result<Replay, VizError> {
        let copy = dir.join("scenario.toml");
        let scenario_path = scenario.unwrap_or(&copy);
        if !scenario_path.exists() {
            return Err(VizError::Input(format!(
                "{}: not found; runs written by `crowdtwin run` include it, or pass --scenario FILE",
                scenario_path.display()
            )));
        }
        let site = Site::from_scenario(&load_scenario(scenario_path)?);
        let places = dir.join("places.parquet");
        let file = std::fs::File::open(&places).map_err(|e| VizError::Input(format!("{}: {e}", places.display())))?;
        let mut replay = Replay::read_places(site, file, &places)?;
        let kpis_path = dir.join("kpis.json");
        if let Ok(text) = std::fs::read_to_string(&kpis_path) {
            let json: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| VizError::Input(format!("{}: {e}", kpis_path.display())))?;
            replay.kpis = kpi_entries(&json);
            replay.attendance = attendance(&replay.site, &json);
        }
        Ok(replay)
    }

    /// Reads `places.parquet` for `site`. Every element of the file must be in
    /// the site; elements of the site missing from the file stay empty.
    pub fn read_places(site: Site, file: std::fs::File, path: &Path) -> Result<Replay, VizError> {
        let bad = |e: &dyn std::fmt::Display| VizError::Input(format!("{}: {e}", path.display()));
        let reader = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| bad(&e))?;
        let rows = reader.metadata().file_metadata().num_rows() as usize;
        if rows > PLACES_ROWS_MAX {
            return Err(bad(&format!("{rows} rows, more than {PLACES_ROWS_MAX}")));
        }
        let mut rows: Vec<(usize, usize, u32, Sample)> = Vec::with_capacity(rows);
        for batch in reader.build().map_err(|e| bad(&e))? {
            let batch = batch.map_err(|e| bad(&e))?;
            let interval: &UInt32Array = column(&batch, "interval", path)?;
            let time_s: &UInt32Array = column(&batch, "time_s", path)?;
            let place: &StringArray = column(&batch, "place", path)?;
            let occupancy: &Float64Array = column(&batch, "occupancy", path)?;
            let density: &Float64Array = column(&batch, "density_p_per_m2", path)?;
            let los: &StringArray = column(&batch, "los", path)?;
            let queue: &Float64Array = column(&batch, "queue_length", path)?;
            let speed: &Float64Array = column(&batch, "speed_mps", path)?;
            for row in 0..batch.num_rows() {
                let id = place.value(row);
                let element = site.element_index(id).ok_or_else(|| {
                    bad(&format!("`{id}` is not a place or walkway of scenario `{}`: wrong --scenario?", site.name))
                })?;
                let letter = los.value(row);
                let los = los_from_letter(letter).ok_or_else(|| bad(&format!("level of service `{letter}`")))?;
                let sample = Sample {
                    occupancy: occupancy.value(row),
                    density_p_per_m2: density.value(row),
                    los,
                    queue_length: queue.value(row),
                    speed_mps: optional(speed, row),
                };
                rows.push((element, interval.value(row) as usize, time_s.value(row), sample));
            }
        }
        let intervals = rows.iter().map(|r| r.1 + 1).max().unwrap_or(0);
        // The interval length from the first row after interval 0.
        let interval_s = rows.iter().find(|r| r.1 > 0).map_or(60, |r| r.2 / r.1 as u32).max(1);
        let empty = Sample { occupancy: 0.0, density_p_per_m2: 0.0, los: Los::A, queue_length: 0.0, speed_mps: None };
        let mut samples = vec![empty; site.element_count() * intervals];
        for (element, interval, _, sample) in rows {
            samples[element * intervals + interval] = sample;
        }
        Ok(Replay { site, interval_s, intervals, samples, kpis: Vec::new(), attendance: None })
    }

    /// Length of the run, s.
    pub fn duration_s(&self) -> f64 {
        (self.intervals as u32 * self.interval_s) as f64
    }

    /// Element `element` in interval `interval`.
    pub fn sample(&self, element: usize, interval: usize) -> &Sample {
        &self.samples[element * self.intervals + interval]
    }

    /// The interval holding `time_s` (s since the run's start).
    pub fn interval_at(&self, time_s: f64) -> usize {
        ((time_s.max(0.0) / self.interval_s as f64) as usize).min(self.intervals.saturating_sub(1))
    }

    /// The scene at `time_s` s after the run's start: the level of service of
    /// the interval holding it, occupancy blended towards the next interval
    /// so that crowds grow and shrink smoothly.
    pub fn frame(&self, time_s: f64) -> Frame {
        let clock_s = self.site.start_clock_s as f64 + time_s;
        if self.intervals == 0 {
            return Frame { clock_s, elements: Vec::new(), alerts: Vec::new() };
        }
        let interval = self.interval_at(time_s);
        let next = (interval + 1).min(self.intervals - 1);
        let blend = ((time_s / self.interval_s as f64) - interval as f64).clamp(0.0, 1.0);
        let elements: Vec<ElementFrame> = (0..self.site.element_count())
            .map(|e| {
                let (now, then) = (self.sample(e, interval), self.sample(e, next));
                ElementFrame {
                    occupancy: now.occupancy + (then.occupancy - now.occupancy) * blend,
                    density_p_per_m2: now.density_p_per_m2,
                    los: now.los,
                    queue_length: now.queue_length,
                    speed_mps: now.speed_mps,
                    los_p90: None,
                }
            })
            .collect();
        let clock = format_clock(self.site.start_clock_s + interval as u32 * self.interval_s);
        let alerts = alerts_at_e_or_f(&self.site, &elements, &clock);
        Frame { clock_s, elements, alerts }
    }
}
