//! Run outputs on disk: `places.parquet`, `kpis.json`, `report.html`, and
//! `scenario.toml`, a copy of the scenario run (the viewer reads the site's
//! geometry from it).
//!
//! Every file is written to a temporary name and renamed into place, so a
//! crashed run never leaves a half-written file under the final name. The
//! same run gives byte-identical files.

use crate::PlannerError;
use crate::report::{self, KpiRow, MapElement, MapShape, PlaceSeries, ReportInput, SessionRow};
use arrow_array::builder::{Float64Builder, StringBuilder, UInt32Builder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use crowdtwin_sim::model::{ElementKpis, RunOutput};
use crowdtwin_sim::scenario::{Scenario, Walkway, format_clock};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Rows per Parquet record batch (and row group).
pub const PARQUET_BATCH_ROWS_MAX: usize = 65_536;

/// The columns of `places.parquet`, one row per place or walkway per interval.
pub fn places_schema() -> Schema {
    Schema::new(vec![
        Field::new("interval", DataType::UInt32, false),
        Field::new("time_s", DataType::UInt32, false),
        Field::new("clock", DataType::Utf8, false),
        Field::new("place", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("occupancy", DataType::Float64, false),
        Field::new("density_p_per_m2", DataType::Float64, false),
        Field::new("los", DataType::Utf8, false),
        Field::new("queue_length", DataType::Float64, false),
        Field::new("mean_wait_s", DataType::Float64, true),
        Field::new("waits", DataType::UInt32, false),
        Field::new("entries", DataType::UInt32, false),
        Field::new("speed_mps", DataType::Float64, true),
    ])
}

pub(crate) fn io_error(path: &Path, error: impl std::fmt::Display) -> PlannerError {
    PlannerError::Output(std::io::Error::other(format!("{}: {error}", path.display())))
}

/// Writes `bytes` to `path` through a temporary file and a rename.
pub fn write_atomically<E: From<PlannerError>>(
    path: &Path,
    write: impl FnOnce(&mut fs::File) -> Result<(), E>,
) -> Result<(), E> {
    let mut temporary = PathBuf::from(path);
    temporary.as_mut_os_string().push(".tmp");
    let mut file = fs::File::create(&temporary).map_err(|e| io_error(&temporary, e))?;
    write(&mut file)?;
    file.sync_all().map_err(|e| io_error(&temporary, e))?;
    Ok(fs::rename(&temporary, path).map_err(|e| io_error(path, e))?)
}

/// Writes `places.parquet`.
pub fn write_places(path: &Path, output: &RunOutput) -> Result<(), PlannerError> {
    let schema = Arc::new(places_schema());
    let properties = WriterProperties::builder()
        .set_created_by("crowdtwin".to_string())
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).expect("valid level")))
        .set_max_row_group_row_count(Some(PARQUET_BATCH_ROWS_MAX))
        .build();
    write_atomically(path, |file| {
        let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(properties)).map_err(|e| io_error(path, e))?;
        let rows = output.elements.iter().flat_map(|e| (0..e.intervals()).map(move |i| (e, i)));
        let rows: Vec<_> = rows.collect();
        for chunk in rows.chunks(PARQUET_BATCH_ROWS_MAX) {
            let mut interval = UInt32Builder::new();
            let mut time_s = UInt32Builder::new();
            let mut clock = StringBuilder::new();
            let mut place = StringBuilder::new();
            let mut kind = StringBuilder::new();
            let mut occupancy = Float64Builder::new();
            let mut density = Float64Builder::new();
            let mut los = StringBuilder::new();
            let mut queue = Float64Builder::new();
            let mut wait = Float64Builder::new();
            let mut waits = UInt32Builder::new();
            let mut entries = UInt32Builder::new();
            let mut speed = Float64Builder::new();
            for &(element, i) in chunk {
                let seconds = (i as f64 * output.interval_s) as u32;
                interval.append_value(i as u32);
                time_s.append_value(seconds);
                clock.append_value(format_clock(output.start_clock_s + seconds));
                place.append_value(&element.id);
                kind.append_value(element.kind.as_str());
                occupancy.append_value(element.occupancy(i));
                density.append_value(element.density(i));
                los.append_value(element.los(i).letter());
                queue.append_value(element.queue(i));
                wait.append_option(element.mean_wait_s(i));
                waits.append_value(element.bins[i].waits);
                entries.append_value(element.bins[i].entries);
                speed.append_option(element.speed_mps(i));
            }
            let columns: Vec<ArrayRef> = vec![
                Arc::new(interval.finish()),
                Arc::new(time_s.finish()),
                Arc::new(clock.finish()),
                Arc::new(place.finish()),
                Arc::new(kind.finish()),
                Arc::new(occupancy.finish()),
                Arc::new(density.finish()),
                Arc::new(los.finish()),
                Arc::new(queue.finish()),
                Arc::new(wait.finish()),
                Arc::new(waits.finish()),
                Arc::new(entries.finish()),
                Arc::new(speed.finish()),
            ];
            let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|e| io_error(path, e))?;
            writer.write(&batch).map_err(|e| io_error(path, e))?;
        }
        writer.close().map_err(|e| io_error(path, e))?;
        Ok(())
    })
}

/// Writes `kpis.json` (pretty, with a trailing newline).
pub fn write_kpis(path: &Path, output: &RunOutput) -> Result<(), PlannerError> {
    write_atomically(path, |file| {
        use std::io::Write;
        serde_json::to_writer_pretty(&mut *file, &output.kpis).map_err(|e| io_error(path, e))?;
        writeln!(file).map_err(|e| io_error(path, e))
    })
}

/// Name of the scenario's copy in a run's output folder.
pub const SCENARIO_FILE_NAME: &str = "scenario.toml";

/// Writes the scenario's text (`scenario.toml`), byte for byte as read.
pub fn write_scenario(path: &Path, text: &str) -> Result<(), PlannerError> {
    write_text(path, text)
}

/// Writes `text` to `path` atomically.
fn write_text(path: &Path, text: &str) -> Result<(), PlannerError> {
    write_atomically(path, |file| {
        use std::io::Write;
        file.write_all(text.as_bytes()).map_err(|e| io_error(path, e))
    })
}

/// A walkway's element id ("a--b") and display name ("A – B", from its places' names).
fn walkway_id_and_name(scenario: &Scenario, walkway: &Walkway) -> (String, String) {
    let (a, b) = (&scenario.places[walkway.a], &scenario.places[walkway.b]);
    (format!("{}--{}", a.id, b.id), format!("{} \u{2013} {}", a.name, b.name))
}

/// Display names of the run's elements by id: a place's name, a walkway's
/// "end – end" from its places' names.
fn element_names(scenario: &Scenario) -> BTreeMap<String, String> {
    let mut names: BTreeMap<String, String> = scenario.places.iter().map(|p| (p.id.clone(), p.name.clone())).collect();
    names.extend(scenario.walkways.iter().map(|w| walkway_id_and_name(scenario, w)));
    names
}

/// The site map's elements: places (outline, or a circle of their area) and
/// walkways (centre line, or the straight segment between their places), each
/// with the peak level of service and density of its KPIs.
pub fn site_map(scenario: &Scenario, kpis: &[ElementKpis]) -> Vec<MapElement> {
    let by_id: BTreeMap<&str, &ElementKpis> = kpis.iter().map(|k| (k.id.as_str(), k)).collect();
    // KPIs are in element order (places, then walkways); the id decides where they differ.
    let kpi_of = |index: usize, id: &str| kpis.get(index).filter(|k| k.id == id).or_else(|| by_id.get(id).copied());
    let element = |index: usize, id: String, name: String, kind: String, shape, label_at| {
        let k = kpi_of(index, &id);
        MapElement {
            peak_los: k.map_or(0, |k| k.peak_los.rank()),
            peak_density_p_per_m2: k.map_or(0.0, |k| k.peak_density_p_per_m2),
            id,
            name,
            kind,
            shape,
            label_at,
        }
    };
    let mut map = Vec::with_capacity(scenario.places.len() + scenario.walkways.len());
    for (i, place) in scenario.places.iter().enumerate() {
        let shape = match &place.polygon_m {
            Some(ring) if ring.len() >= 3 => MapShape::Outline(ring.clone()),
            _ => MapShape::Disc {
                centre: place.position_m,
                radius_m: (place.area_m2.max(0.0) / std::f64::consts::PI).sqrt(),
            },
        };
        let kind = place.kind.as_str().to_string();
        map.push(element(i, place.id.clone(), place.name.clone(), kind, shape, Some(place.position_m)));
    }
    for (w, walkway) in scenario.walkways.iter().enumerate() {
        let (a, b) = (&scenario.places[walkway.a], &scenario.places[walkway.b]);
        let points = match &walkway.line_m {
            Some(line) if line.len() >= 2 => line.clone(),
            _ => vec![a.position_m, b.position_m],
        };
        let shape = MapShape::Line { points, width_m: walkway.width_m };
        let (id, name) = walkway_id_and_name(scenario, walkway);
        map.push(element(scenario.places.len() + w, id, name, "walkway".to_string(), shape, None));
    }
    map
}

/// Writes `report.html` of a run of `scenario` (the site map, names and
/// sessions come from it).
pub fn write_report(path: &Path, output: &RunOutput, scenario: &Scenario) -> Result<(), PlannerError> {
    let kpis = &output.kpis;
    let names = element_names(scenario);
    let name_of = |id: &str| names.get(id).cloned().unwrap_or_default();
    let minutes_per_interval = output.interval_s / 60.0;
    // The report plots one value per minute: repeat or pick intervals to match.
    let per_minute = |n: usize| -> Vec<usize> {
        let minutes = (n as f64 * minutes_per_interval).ceil() as usize;
        (0..minutes).map(|m| ((m as f64 / minutes_per_interval) as usize).min(n.saturating_sub(1))).collect()
    };
    let places: Vec<PlaceSeries> = output
        .elements
        .iter()
        .map(|e| {
            let picks = per_minute(e.intervals());
            PlaceSeries {
                id: e.id.clone(),
                name: name_of(&e.id),
                kind: e.kind.to_string(),
                area_m2: e.area_m2,
                occupancy: picks.iter().map(|&i| e.occupancy(i)).collect(),
                queue: picks.iter().map(|&i| e.queue(i)).collect(),
                los: picks.iter().map(|&i| e.los(i).rank()).collect(),
            }
        })
        .collect();
    let rows: Vec<KpiRow> = kpis
        .elements
        .iter()
        .map(|e| KpiRow {
            place: e.id.clone(),
            name: name_of(&e.id),
            kind: e.kind.to_string(),
            peak_density_p_per_m2: e.peak_density_p_per_m2,
            peak_los: e.peak_los.rank(),
            minutes_at_los_e_or_f: e.minutes_at_los_e_or_f.round() as u32,
            total_queue_time_s: e.total_queue_time_s,
            max_queue: e.max_queue,
            entries: e.entries,
            balked: e.balked.unwrap_or(0),
            mean_wait_s: e.mean_wait_s,
        })
        .collect();
    let sessions: Vec<SessionRow> = kpis
        .sessions
        .iter()
        .map(|s| SessionRow {
            name: s.name.clone(),
            sport: s.sport.clone(),
            venue: name_of(&s.venue),
            venue_id: s.venue.clone(),
            start: s.start.clone(),
            tickets: s.tickets,
            seated: s.seated,
            seated_on_time: s.seated_on_time,
            ended: s.ended.clone(),
            egress_min: s.egress_min,
        })
        .collect();
    let map = site_map(scenario, &kpis.elements);
    let population = &kpis.population;
    let summary = vec![
        ("Run".to_string(), format!("{} to {}", kpis.start, kpis.end)),
        (
            "Visitors".to_string(),
            format!(
                "{} ticket holders ({} tickets), {} walk-ins, {} in crowds",
                population.ticket_holders, population.tickets, population.walk_ins, population.crowd_members
            ),
        ),
        ("Left by transit".to_string(), kpis.departed_by_transit.to_string()),
        (
            "Peak density".to_string(),
            format!(
                "{:.2} P/m² at {} ({})",
                kpis.peak_density_p_per_m2, kpis.peak_density_element, kpis.peak_density_at
            ),
        ),
        ("Total queue time".to_string(), format!("{:.0} person-hours", kpis.total_queue_time_s / 3_600.0)),
        ("Orders".to_string(), format!("{} ({:.0} revenue, {} sold out)", kpis.orders, kpis.revenue, kpis.sold_out)),
        ("Output interval".to_string(), format!("{minutes_per_interval} min")),
        ("Events simulated".to_string(), kpis.events.to_string()),
    ];
    let html = report::render_html(&ReportInput {
        title: &kpis.scenario,
        seed: kpis.seed,
        start_clock_s: output.start_clock_s,
        summary,
        places: &places,
        kpis: &rows,
        map: &map,
        sessions: &sessions,
        balked: kpis.balked,
    });
    write_text(path, &html)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Gangneung site with its place outlines taken out.
    fn gangneung_without_outlines() -> Scenario {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios/gangneung-2018.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let text: String = text.lines().filter(|l| !l.starts_with("polygon_m")).map(|l| format!("{l}\n")).collect();
        Scenario::parse(&text, "gangneung").unwrap()
    }

    #[test]
    fn the_map_falls_back_to_circles_of_the_area_and_straight_walkways() {
        let scenario = gangneung_without_outlines();
        let map = site_map(&scenario, &[]);
        assert_eq!(map.len(), scenario.places.len() + scenario.walkways.len());
        for (place, e) in scenario.places.iter().zip(&map) {
            let MapShape::Disc { centre, radius_m } = &e.shape else { panic!("{}: {:?}", place.id, e.shape) };
            assert_eq!(*centre, place.position_m);
            let area = std::f64::consts::PI * radius_m * radius_m;
            assert!((area - place.area_m2).abs() < 1e-6 * place.area_m2, "{}", place.id);
            assert_eq!((e.name.as_str(), e.label_at), (place.name.as_str(), Some(place.position_m)));
        }
        let walkways = &map[scenario.places.len()..];
        let bent: Vec<&str> = walkways
            .iter()
            .filter(|e| matches!(&e.shape, MapShape::Line { points, .. } if points.len() > 2))
            .map(|e| e.id.as_str())
            .collect();
        // The two walkways with a centre line keep it; every other is its straight segment.
        assert_eq!(bent.len(), 2, "{bent:?}");
        for (walkway, e) in scenario.walkways.iter().zip(walkways) {
            let MapShape::Line { points, width_m } = &e.shape else { panic!("{}", e.id) };
            assert_eq!(*width_m, walkway.width_m);
            if walkway.line_m.is_none() {
                let ends = [scenario.places[walkway.a].position_m, scenario.places[walkway.b].position_m];
                assert_eq!(points.as_slice(), ends.as_slice(), "{}", e.id);
            }
            assert_eq!((e.kind.as_str(), e.label_at), ("walkway", None));
            assert!(e.name.contains(" \u{2013} "), "{}", e.name);
        }
        // Without KPIs every element is at LOS A.
        assert!(map.iter().all(|e| e.peak_los == 0));
    }
}
