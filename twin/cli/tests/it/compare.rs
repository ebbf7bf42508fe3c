//! `crowdtwin compare`: paired seeds, confidence intervals and significance.

use std::path::{Path, PathBuf};
use std::process::Command;

fn scenario(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios").join(path)
}

fn compare(base: &Path, variant: &Path, seeds: &str, out: &Path) -> serde_json::Value {
    let output = Command::new(env!("CARGO_BIN_EXE_crowdtwin"))
        .args(["compare", base.to_str().unwrap(), variant.to_str().unwrap(), "--seeds", seeds, "--json", "--out"])
        .arg(out)
        .output()
        .expect("crowdtwin runs");
    assert!(output.status.success(), "stderr: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("one JSON document")
}

fn significant(report: &serde_json::Value) -> Vec<(String, String, f64)> {
    report["elements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["significant"] == true)
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["metric"].as_str().unwrap().to_string(),
                c["delta"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_scenario_compared_with_itself_changes_nothing() {
    let out = std::env::temp_dir().join(format!("crowdtwin-compare-self-{}", std::process::id()));
    let base = scenario("gangneung-2018.toml");
    let report = compare(&base, &base, "3", &out);
    assert_eq!(report["seeds"].as_array().unwrap().len(), 3);
    let elements = report["elements"].as_array().unwrap();
    // Every place and walkway, four metrics each.
    assert!(elements.len() > 4 * 20, "{}", elements.len());
    assert!(significant(&report).is_empty(), "{:?}", significant(&report));
    // Common random numbers: the same seed gives the same run, so every difference is exactly 0.
    assert!(elements.iter().all(|c| c["delta"] == 0.0), "self-comparison with nonzero differences");
    assert!(out.join("compare.html").exists() && out.join("compare.json").exists());
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn closing_the_west_gate_at_noon_shows_at_the_gate_and_not_everywhere() {
    let out = std::env::temp_dir().join(format!("crowdtwin-compare-gate-{}", std::process::id()));
    let report = compare(
        &scenario("gangneung-2018.toml"),
        &scenario("variants/gangneung-west-gate-closed-noon.toml"),
        "4",
        &out,
    );
    let found = significant(&report);
    // Nobody enters a closed gate after noon: its entries fall.
    assert!(
        found.iter().any(|(id, metric, delta)| id == "gate-west" && metric == "entries" && *delta < 0.0),
        "{found:?}"
    );
    // The other gates take the people the west gate turns away.
    assert!(
        found.iter().any(|(id, metric, delta)| id.starts_with("gate-")
            && id != "gate-west"
            && metric == "entries"
            && *delta > 0.0),
        "{found:?}"
    );
    // Every change called significant has an interval that excludes 0.
    for c in report["elements"].as_array().unwrap().iter().filter(|c| c["significant"] == true) {
        let (low, high) = (c["ci_low"].as_f64().unwrap(), c["ci_high"].as_f64().unwrap());
        assert!(low > 0.0 || high < 0.0, "{c}");
    }
    let html = std::fs::read_to_string(out.join("compare.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("gate-west"));
    std::fs::remove_dir_all(&out).ok();
}
