//! The crowd model against measured experiments (scenarios/validation/).

use crowdtwin_planner::validation::validate_model;

fn simulated(report: &crowdtwin_planner::validation::ValidationReport, experiment: &str, quantity: &str) -> (f64, f64) {
    let c = report
        .comparisons
        .iter()
        .find(|c| c.experiment == experiment && c.quantity.starts_with(quantity))
        .unwrap_or_else(|| panic!("no {experiment} {quantity}"));
    (c.measured, c.simulated)
}

#[test]
fn the_model_matches_the_measured_bottleneck_and_corridor() {
    let report = validate_model().unwrap();
    // CrowdQueue 0.50 m gate (Adrian et al. 2020): 1.148 persons/s, within 10%.
    let (measured, flow) = simulated(&report, "bottleneck-0.50m", "flow");
    assert_eq!(measured, 1.148);
    assert!((flow - 1.148).abs() <= 0.10 * 1.148, "{flow}");
    // Hermes corridor 1.80 m (Zhang et al. 2011): 1.01 m/s at 1.56 persons/m²,
    // speed within 10%; density within 15%; specific flow 1.55 within 10%.
    let (_, speed) = simulated(&report, "corridor-1.80m", "speed");
    assert!((speed - 1.007).abs() <= 0.10 * 1.007, "{speed}");
    let (_, density) = simulated(&report, "corridor-1.80m", "density");
    assert!((density - 1.558).abs() <= 0.15 * 1.558, "{density}");
    let (_, specific) = simulated(&report, "corridor-1.80m", "specific flow");
    assert!((specific - 1.55).abs() <= 0.10 * 1.55, "{specific}");
    // Per density bin with at least 5 points, the speed is within 15%.
    for bin in report.density_bins.iter().filter(|b| b.points >= 5) {
        assert!(bin.relative_error.abs() <= 0.15, "{bin:?}");
    }
}

const COUNTS: &str = include_str!("../data/akl_counts_2019-06-03_2019-09-22.csv");

#[test]
fn real_counts_one_hour_ahead_beat_both_baselines_with_a_calibrated_band() {
    // Auckland city-centre counts (Heart of the City, CC BY 4.0): trained on
    // the first 12 weeks, scored on the last 4, one hour ahead.
    use crowdtwin_live::counts::{evaluate, parse_counts, parse_hour};
    let counts = parse_counts(COUNTS, "akl.csv").unwrap();
    assert_eq!(counts.sensors.len(), 5);
    assert!(counts.bad_rows.is_empty());
    let report = evaluate(&counts, parse_hour("2019-08-26T00:00").unwrap(), 1).unwrap();
    println!("{report:?}");
    // 4 weeks of hours per sensor, less the last (its target is past the data).
    assert_eq!(report.hours, 5 * (28 * 24 - 1));
    assert!(report.mae_twin < report.mae_seasonal_naive, "{report:?}");
    assert!(report.mae_twin < report.mae_persistence, "{report:?}");
    assert!((0.7..=0.9).contains(&report.coverage_p10_p90), "{report:?}");
}

#[test]
fn bad_count_rows_are_reported_with_their_lines_and_the_rest_is_used() {
    use crowdtwin_live::counts::parse_counts;
    let mut text = COUNTS.lines().take(200).collect::<Vec<_>>().join("\n");
    text.push_str("\n2019-06-05T25:00,45 Queen Street,10\n2019-06-05T10:00,45 Queen Street,\n2019-06-03T00:00,45 Queen Street,110\n2019-06-05T11:00,45 Queen Street,-5\n");
    let counts = parse_counts(&text, "bad.csv").unwrap();
    let lines: Vec<usize> = counts.bad_rows.iter().map(|b| b.0).collect();
    assert_eq!(lines, [201, 202, 203, 204], "{:?}", counts.bad_rows);
    assert!(counts.bad_rows[0].1.contains("not a timestamp"));
    assert!(counts.bad_rows[1].1.contains("not a number"));
    assert!(counts.bad_rows[2].1.contains("duplicate"));
    assert_eq!(counts.series.iter().map(|s| s.len()).sum::<usize>(), 199);
    let error = parse_counts("time,place,n\n", "x.csv").unwrap_err().to_string();
    assert!(error.contains("x.csv:1:"), "{error}");
}
