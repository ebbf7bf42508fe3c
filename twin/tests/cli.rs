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
