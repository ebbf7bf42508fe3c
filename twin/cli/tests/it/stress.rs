//! `crowdtwin stress`: capacity stress tests over a parameter range.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn crowdtwin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_crowdtwin")).args(args).output().expect("crowdtwin runs")
}

fn gangneung() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/gangneung-2018.toml")
}

fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("crowdtwin-stress-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The Gangneung day cut to its first two hours and a tenth of its visitors: small and fast.
fn small_scenario(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(gangneung())
        .unwrap()
        .replace("end = \"25:00\"", "end = \"11:00\"")
        .replace("count = 60000", "count = 6000");
    let path = dir.join("small.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn report(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("stress.json")).unwrap()).unwrap()
}

#[test]
fn bad_vary_criterion_and_gate_are_refused_with_what_is_wrong() {
    let dir = folder("bad");
    let scenario = small_scenario(&dir);
    let out = dir.join("out");
    for (vary, extra, expected) in [
        ("arrivals.scale", vec![], "write PARAM=LO..HI"),
        ("arrivals.size=1..2", vec![], "unknown parameter `arrivals.size`"),
        ("arrivals.scale=1.0-3.0", vec![], "LO..HI"),
        ("arrivals.scale=3..1", vec![], "backwards"),
        ("arrivals.scale=one..2", vec![], "`one` is not a number"),
        ("arrivals.scale=1..9", vec![], "within 0..4"),
        ("gates.lanes=0..4", vec![], "within 1..1000"),
        ("sessions.shift=-600..0", vec![], "before the scenario's start"),
        ("arrivals.scale=1..2", vec!["--criterion", "density<2"], "write los<=X"),
        ("arrivals.scale=1..2", vec!["--criterion", "los<=G"], "`g` is not a level of service"),
        ("arrivals.scale=1..2", vec!["--steps", "0"], "--steps 0"),
        ("arrivals.scale=1..2", vec!["--close-gate", "gate-nowhere"], "no such place"),
        ("arrivals.scale=1..2", vec!["--close-gate", "olympic-plaza"], "not a gate"),
    ] {
        let mut args = vec!["stress", scenario.to_str().unwrap(), "--vary", vary, "--out", out.to_str().unwrap()];
        args.extend(extra.iter().copied());
        let output = crowdtwin(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} was accepted");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!out.join("stress.json").exists(), "nothing written for {args:?}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn more_arrivals_never_lower_the_peak_and_threads_do_not_change_the_files() {
    let dir = folder("monotone");
    let scenario = small_scenario(&dir);
    let mut files = Vec::new();
    for threads in ["1", "2"] {
        let out = dir.join(format!("out{threads}"));
        let args = [
            "stress",
            scenario.to_str().unwrap(),
            "--vary",
            "arrivals.scale=0.5..3.0",
            "--steps",
            "6",
            "--threads",
            threads,
            "--out",
            out.to_str().unwrap(),
        ];
        let output = crowdtwin(&args);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.matches("points done").count(), 6, "a progress line per point: {stderr}");
        files.push((std::fs::read(out.join("stress.json")).unwrap(), std::fs::read(out.join("stress.html")).unwrap()));
    }
    assert!(files[0].0 == files[1].0, "stress.json differs between 1 and 2 threads");
    assert!(files[0].1 == files[1].1, "stress.html differs between 1 and 2 threads");

    let report = report(&dir.join("out1"));
    let points = report["points"].as_array().unwrap();
    let values: Vec<f64> = points.iter().map(|p| p["value"].as_f64().unwrap()).collect();
    assert_eq!(values, [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]);
    // A visitor who comes at one scale comes at every higher one: the site's
    // busiest interval only gets busier, and so does the work simulated.
    for pair in points.windows(2) {
        let (low, high) = (&pair[0], &pair[1]);
        let peak = |p: &serde_json::Value| p["peak_density_p_per_m2"].as_f64().unwrap();
        assert!(peak(high) >= peak(low), "peak fell from {low} to {high}");
        assert!(high["events"].as_u64().unwrap() > low["events"].as_u64().unwrap());
    }
    // Once failing, an element's first failure is where its LOS first broke D.
    for element in report["elements"].as_array().unwrap() {
        let los: Vec<&str> = element["peak_los"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
        let first_bad = los.iter().position(|l| *l == "E" || *l == "F");
        assert_eq!(element["fails_at"].as_f64(), first_bad.map(|i| values[i]), "{element}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn gangneung_arrival_stress_names_the_first_place_to_reach_los_e() {
    let dir = folder("gangneung");
    let out = dir.join("out");
    let scenario = gangneung();
    let args = [
        "stress",
        scenario.to_str().unwrap(),
        "--vary",
        "arrivals.scale=1.0..2.0",
        "--steps",
        "3",
        "--criterion",
        "los<=D",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ];
    let output = crowdtwin(&args);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = report(&out);
    let first = &report["first_failure"];
    let place = first["elements"][0].as_str().expect("something reaches LOS E by twice the arrivals");
    assert!(stdout.contains(&format!("first to break los<=D: {place}")), "{stdout}");
    assert!(first["value"].as_f64().unwrap() <= 2.0);
    let html = std::fs::read_to_string(out.join("stress.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<svg") && html.contains("fails first: "));
    assert!(html.contains(place));

    // Closing a gate all day moves everyone to the others: it fails no later.
    let closed = dir.join("closed");
    let mut args = args.to_vec();
    let closed_text = closed.to_str().unwrap().to_string();
    args[9] = &closed_text;
    args.extend(["--close-gate", "gate-west"]);
    let output = crowdtwin(&args);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let closed = self::report(&closed);
    assert_eq!(closed["closed_gates"][0], "gate-west");
    let gate_west = closed["elements"].as_array().unwrap().iter().find(|e| e["id"] == "gate-west").unwrap();
    assert!(gate_west["peak_density_p_per_m2"].as_array().unwrap().iter().all(|d| d.as_f64() == Some(0.0)));
    assert!(closed["first_failure"]["value"].as_f64().unwrap() <= first["value"].as_f64().unwrap());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn fewer_gate_lanes_crowd_the_gates_and_later_sessions_move_the_peaks() {
    let dir = folder("lanes");
    let scenario = small_scenario(&dir);
    let run = |vary: &str, steps: &str, out: &str| {
        let out = dir.join(out);
        let args = ["stress", scenario.to_str().unwrap(), "--vary", vary, "--steps", steps, "--quiet"];
        let output = crowdtwin(&[&args[..], &["--out", out.to_str().unwrap()]].concat());
        assert!(output.status.success(), "{vary}: {}", String::from_utf8_lossy(&output.stderr));
        report(&out)
    };
    let elements = |report: &serde_json::Value, kind: &str| -> Vec<serde_json::Value> {
        report["elements"].as_array().unwrap().iter().filter(|e| e["kind"] == kind).cloned().collect()
    };

    // One lane per gate against four: every gate's busiest interval is fuller.
    let lanes = run("gates.lanes=1..4", "2", "lanes");
    for gate in elements(&lanes, "gate") {
        let peak = gate["peak_density_p_per_m2"].as_array().unwrap();
        assert!(peak[0].as_f64().unwrap() > peak[1].as_f64().unwrap(), "{gate}");
    }

    // Sessions an hour later: the busiest venue's peak comes later too.
    let shift = run("sessions.shift=0..60", "2", "shift");
    let venues = elements(&shift, "venue");
    let busiest = venues
        .iter()
        .max_by(|a, b| {
            let peak = |e: &serde_json::Value| e["peak_density_p_per_m2"][0].as_f64().unwrap();
            peak(a).total_cmp(&peak(b))
        })
        .unwrap();
    let at: Vec<&str> = busiest["peak_at"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    assert!(at[1] > at[0], "{busiest}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn gangneung_to_four_times_the_arrivals_queues_at_the_entrances_and_no_walkway_jams() {
    // Issue 16: past capacity a walkway discharges at capacity and the
    // queue grows upstream, place by place, to the gates and transit stops.
    let dir = folder("four-times");
    let out = dir.join("out");
    let scenario = gangneung();
    let args = [
        "stress",
        scenario.to_str().unwrap(),
        "--vary",
        "arrivals.scale=1..4",
        "--steps",
        "7",
        "--scope",
        "places",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ];
    let output = crowdtwin(&args);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report = report(&out);
    let points = report["points"].as_array().unwrap();
    let elements = report["elements"].as_array().unwrap();
    let last = points.len() - 1;
    let params = crowdtwin_sim::scenario::ModelParams::default();
    let kind = |id: &str| elements.iter().find(|e| e["id"] == id).unwrap()["kind"].as_str().unwrap().to_string();

    // The first places past LOS D are screening queues, by twice the plan.
    let first = &report["first_failure"];
    assert!(first["value"].as_f64().unwrap() <= 2.0, "{first}");
    for id in first["elements"].as_array().unwrap() {
        assert_eq!(kind(id.as_str().unwrap()), "gate", "{first}");
    }
    for element in elements {
        let peaks: Vec<f64> =
            element["peak_density_p_per_m2"].as_array().unwrap().iter().map(|d| d.as_f64().unwrap()).collect();
        let los = element["peak_los"][last].as_str().unwrap();
        let kind = element["kind"].as_str().unwrap();
        // At four times the arrivals every gate and every transit stop
        // queues (LOS E or F).
        if kind == "gate" || kind == "transit" {
            assert!(los == "E" || los == "F", "{element}");
        }
        for peak in &peaks {
            if kind == "walkway" {
                // No walkway fills to the jam density, where its flow would
                // stop: it discharges at capacity and the rest waits at its
                // entrance, counted in the place before it.
                assert!(*peak < 0.6 * params.jam_density_p_per_m2, "{element}");
            } else {
                // No place holds more than its holding limit (the entrance
                // lines of its walkways are reported at most a step late).
                assert!(*peak <= 1.05 * params.place_hold_density_p_per_m2, "{element}");
            }
        }
    }
    // The gates screen at capacity however long the queue: more arrivals
    // never get fewer people in, and nobody is stuck without a route. Past
    // what the stops take, arrivals wait on their shuttle.
    for pair in points.windows(2) {
        assert!(pair[1]["entered"].as_u64() >= pair[0]["entered"].as_u64(), "{} then {}", pair[0], pair[1]);
    }
    assert!(points.iter().all(|p| p["stranded"] == 0));
    assert_eq!(points[0]["held_off_site"], 0);
    assert!(points[last]["held_off_site"].as_u64().unwrap() > 10_000, "{}", points[last]);
    std::fs::remove_dir_all(&dir).ok();
}
