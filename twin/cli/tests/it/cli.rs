//! The `crowdtwin` command as a user runs it.

use std::process::Command;

fn crowdtwin(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_crowdtwin")).args(args).output().expect("crowdtwin runs")
}

fn json(output: &std::process::Output) -> serde_json::Value {
    assert!(output.status.success(), "stderr: {}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout.clone()).unwrap();
    assert_eq!(stdout.lines().count(), 1, "one JSON line: {stdout}");
    serde_json::from_str(&stdout).unwrap()
}

#[test]
fn bench_phold_prints_one_json_line_identical_across_shards() {
    let base = ["bench", "phold", "--lps", "500", "--population", "4", "--end", "20", "--seed", "9"];
    let one = json(&crowdtwin(&base));
    let mut sharded_args = base.to_vec();
    sharded_args.extend(["--shards", "3"]);
    let three = json(&crowdtwin(&sharded_args));
    let events = one["events"].as_u64().unwrap();
    // 2,000 pending events, each re-scheduled every ~1.1 s, for 20 s.
    assert!((30_000..40_000).contains(&events), "{events}");
    assert!(one["wall_s"].as_f64().unwrap() > 0.0);
    assert!(one["events_per_s"].as_f64().unwrap() > 0.0);
    assert_eq!(one["pending_events"], 2_000);
    assert_eq!(three["events"], one["events"]);
    assert_eq!(three["trace_hash"], one["trace_hash"]);
    assert_eq!(three["shards"], 3);
}

#[test]
fn bad_parameters_are_refused_with_the_parameter_named() {
    for (args, expected) in [
        (vec!["--remote", "1.5"], "remote"),
        (vec!["--lookahead", "0"], "lookahead"),
        (vec!["--end=-3"], "end"),
        (vec!["--shards", "0"], "shard count"),
        (vec!["--population", "ten"], "invalid value 'ten'"),
    ] {
        let mut all = vec!["bench", "phold", "--lps", "10"];
        all.extend(args);
        let output = crowdtwin(&all);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{all:?} was accepted");
        assert!(output.stdout.is_empty(), "no result on error");
        assert!(stderr.contains(expected), "{all:?}: {stderr}");
    }
}

fn scenario_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/gangneung-2018.toml")
}

fn temporary_folder(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("crowdtwin-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The Gangneung scenario cut to the morning (for speed).
fn morning_scenario(dir: &std::path::Path) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let text = std::fs::read_to_string(scenario_path()).unwrap().replace("end = \"25:00\"", "end = \"12:00\"");
    let path = dir.join("morning.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn run_writes_parquet_kpis_and_report_identical_for_any_threads_and_shards() {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let dir = temporary_folder("run");
    let scenario = morning_scenario(&dir);
    let scenario = scenario.to_str().unwrap();
    let runs = [vec![], vec!["--threads", "2", "--shards", "2"], vec!["--threads", "1", "--shards", "4"]];
    let mut outputs = Vec::new();
    for (i, extra) in runs.iter().enumerate() {
        let out = dir.join(format!("out{i}"));
        let mut args = vec!["run", scenario, "--seed", "7", "--out", out.to_str().unwrap()];
        args.extend(extra.iter().copied());
        let result = crowdtwin(&args);
        let stdout = String::from_utf8_lossy(&result.stdout);
        assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
        assert!(stdout.contains("report.html"), "tells the user where the report is: {stdout}");
        let read = |name: &str| std::fs::read(out.join(name)).unwrap();
        outputs.push((read("places.parquet"), read("kpis.json"), read("report.html")));
        assert_eq!(read("scenario.toml"), std::fs::read(scenario).unwrap(), "the scenario is copied as it was read");
    }
    for other in &outputs[1..] {
        assert!(other.0 == outputs[0].0, "places.parquet differs across threads/shards");
        assert!(other.1 == outputs[0].1, "kpis.json differs");
        assert!(other.2 == outputs[0].2, "report.html differs");
    }
    // 18 places + 26 walkways, 300 minutes each.
    let reader = SerializedFileReader::new(std::fs::File::open(dir.join("out0/places.parquet")).unwrap()).unwrap();
    assert_eq!(reader.metadata().file_metadata().num_rows(), 44 * 300);
    let columns: Vec<String> =
        reader.metadata().file_metadata().schema_descr().columns().iter().map(|c| c.name().to_string()).collect();
    for column in ["place", "occupancy", "density_p_per_m2", "los", "queue_length", "mean_wait_s"] {
        assert!(columns.iter().any(|c| c == column), "{column} missing from {columns:?}");
    }
    let kpis: serde_json::Value = serde_json::from_slice(&outputs[0].1).unwrap();
    assert_eq!(kpis["seed"], 7);
    assert!(kpis["events"].as_u64().unwrap() > 100_000);
    assert!(kpis["sessions"][0]["seated"].as_u64().unwrap() > 2_500, "the 09:05 curling session fills");
    let report = String::from_utf8(outputs[0].2.clone()).unwrap();
    assert!(report.starts_with("<!DOCTYPE html>") && report.contains("<svg"));
    report_shows_the_site(&report, &kpis);
    std::fs::remove_dir_all(&dir).ok();
}

/// The text of section `id` of a report.
fn report_section<'a>(report: &'a str, id: &str) -> &'a str {
    let start = report.find(&format!("<section id=\"{id}\">")).unwrap_or_else(|| panic!("section {id}"));
    &report[start..start + report[start..].find("</section>").unwrap()]
}

/// The Gangneung morning's report: a map with every place and walkway in the
/// colour of its peak LOS, the KPI table worst first, sessions and balks.
fn report_shows_the_site(report: &str, kpis: &serde_json::Value) {
    use crowdtwin_sim::model::Los;
    let map = report_section(report, "map");
    // 18 places (every one outlined) and 26 walkways.
    assert_eq!(map.matches("<polygon class=\"place\"").count(), 18);
    assert_eq!(map.matches("class=\"place\"").count(), 18);
    assert_eq!(map.matches("<polyline class=\"walkway\"").count(), 26);
    let elements = kpis["elements"].as_array().unwrap();
    let los_of = |e: &serde_json::Value| Los::from_letter(e["peak_los"].as_str().unwrap()).unwrap();
    // Each shape in the colour of its element's peak LOS; the densest one too.
    let shape = |id: &str| {
        let at = map.find(&format!("data-id=\"{id}\"")).unwrap_or_else(|| panic!("{id} on the map"));
        let start = map[..at].rfind('<').unwrap();
        &map[start..start + map[start..].find('>').unwrap()]
    };
    for e in elements {
        let id = e["id"].as_str().unwrap();
        let colour = los_of(e).colour_hex();
        assert!(shape(id).contains(&format!("=\"{colour}\"")), "{id}: {} in {colour}", shape(id));
    }
    let densest = kpis["peak_density_element"].as_str().unwrap();
    let densest_kpis = elements.iter().find(|e| e["id"] == densest).unwrap();
    assert!(shape(densest).contains(los_of(densest_kpis).colour_hex()), "{densest}");
    // Place names as labels.
    for name in ["Gangneung Hockey Centre", "Gangneung Curling Centre"] {
        assert!(map.contains(&format!(">{name}</text>")), "label {name}");
    }
    // The KPI table's first row is the worst element (the F walkway, last in file order).
    let worst = elements
        .iter()
        .max_by(|a, b| {
            los_of(a)
                .cmp(&los_of(b))
                .then(
                    a["minutes_at_los_e_or_f"]
                        .as_f64()
                        .unwrap()
                        .total_cmp(&b["minutes_at_los_e_or_f"].as_f64().unwrap()),
                )
                .then(
                    a["peak_density_p_per_m2"]
                        .as_f64()
                        .unwrap()
                        .total_cmp(&b["peak_density_p_per_m2"].as_f64().unwrap()),
                )
                .then(std::cmp::Ordering::Greater)
        })
        .unwrap();
    let table = report_section(report, "kpis");
    let first_row = table.split("<tbody>").nth(1).unwrap().split("</tr>").next().unwrap();
    assert!(first_row.contains(worst["id"].as_str().unwrap()), "{first_row} is not {}", worst["id"]);
    assert!(first_row.contains(&format!(">{}</td>", los_of(worst).letter())));
    // One row per session; the balks.
    let sessions = report_section(report, "sessions");
    let rows = sessions.split("<tbody>").nth(1).unwrap().matches("<tr>").count();
    assert_eq!(rows, kpis["sessions"].as_array().unwrap().len());
    assert!(rows >= 1);
    let balked = kpis["balked"].as_u64().unwrap();
    let errands = report_section(report, "errands");
    let shown: u64 = errands
        .split("<strong class=\"balked\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .replace(',', "")
        .parse()
        .unwrap();
    assert_eq!(shown, balked);
}

#[test]
fn a_bad_scenario_is_refused_with_its_line_and_nothing_written() {
    let dir = temporary_folder("bad");
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(scenario_path()).unwrap().replace("to = \"gate-west\"", "to = \"gate-wset\"");
    let line = text[..text.find("gate-wset").unwrap()].lines().count();
    let path = dir.join("bad.toml");
    std::fs::write(&path, text).unwrap();
    for command in ["validate", "run"] {
        let out = dir.join("out");
        let output = crowdtwin(
            &[command, path.to_str().unwrap(), "--out", out.to_str().unwrap()][..if command == "run" { 4 } else { 2 }],
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success());
        assert!(stderr.contains("bad.toml:") && stderr.contains("`gate-wset` is not a place id"), "{stderr}");
        let reported: usize = stderr.split("bad.toml:").nth(1).unwrap().split(':').next().unwrap().parse().unwrap();
        assert!(reported <= line && line - reported < 6, "{stderr}: expected near line {line}");
        assert!(!out.join("places.parquet").exists(), "nothing written for a refused scenario");
    }
    let missing = crowdtwin(&["validate", dir.join("nope.toml").to_str().unwrap()]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nope.toml"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn generate_writes_a_valid_synthetic_park_and_schema_prints_json() {
    let dir = temporary_folder("generate");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("park.toml");
    assert!(crowdtwin(&["generate", "--visitors", "100000", "--out", path.to_str().unwrap()]).status.success());
    let validate = crowdtwin(&["validate", path.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&validate.stdout);
    assert!(validate.status.success() && stdout.contains("100000 visitors"), "{stdout}");
    assert!(!crowdtwin(&["generate", "--visitors", "10", "--out", path.to_str().unwrap()]).status.success());
    let schema = crowdtwin(&["schema"]);
    let value: serde_json::Value = serde_json::from_slice(&schema.stdout).unwrap();
    assert!(value["properties"]["places"].is_object());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn optw_solves_a_benchmark_instance_and_refuses_a_bad_file() {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sim/tests/data/optw/c101.txt");
    let report = json(&crowdtwin(&["optw", file.to_str().unwrap(), "--budget-ms", "100"]));
    // Best-known score of c101 is 320 (shared/data/optw/bks.csv); within 5%, never above.
    let score = report["score"].as_f64().unwrap();
    assert!((304.0..=320.0).contains(&score), "{report}");
    assert!(!report["route"].as_array().unwrap().is_empty());
    assert!(report["wall_s"].as_f64().unwrap() < 1.0);
    let dir = temporary_folder("optw");
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.txt");
    std::fs::write(&bad, "1 1 2 0\n0 0\n0 0 0 0 0 0 0 0 100\n1 1 1 x 1 0 0 0 50\n").unwrap();
    let output = crowdtwin(&["optw", bad.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("bad.txt") && stderr.contains("line 4"), "{stderr}");
    std::fs::remove_dir_all(&dir).ok();
}
