//! The crowd model against measured experiments (scenarios/validation/).

use crowdtwin_planner::validation::validate_model;

#[test]
fn every_shown_experiment_is_within_10_percent_with_one_parameter_set() {
    // scenarios/validation/: the Hermes corridor runs uo-100-180-180,
    // uo-145-180-180 and uo-180-180-095 (Zhang et al. 2011: flow, density and
    // speed in the steady state) and the CrowdQueue 0.50 m gate (Adrian et
    // al. 2020: flow); measured values and sources are in the files. Each
    // simulated quantity must be within 10% of the measured one.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/validation");
    let report = validate_model(&dir).unwrap();
    for c in &report.comparisons {
        println!(
            "{} {}: measured {} simulated {:.3} ({:+.1}%)",
            c.experiment,
            c.quantity,
            c.measured,
            c.simulated,
            100.0 * c.relative_error
        );
    }
    let shown: Vec<_> = report.comparisons.iter().filter(|c| !c.experiment.starts_with("extra-")).collect();
    assert_eq!(shown.len(), 3 * 3 + 1, "three corridor runs x 3 quantities, one gate");
    for c in shown {
        assert!(c.relative_error.abs() <= 0.10, "{c:?}");
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
    use crowdtwin_live::counts::{parse_counts, parse_hour};
    let mut text = COUNTS.lines().take(200).collect::<Vec<_>>().join("\n");
    text.push_str("\n2019-06-05T25:00,45 Queen Street,10\n2019-06-05T10:00,45 Queen Street,\n2019-06-03T00:00,45 Queen Street,999\n2019-06-05T11:00,45 Queen Street,-5\n");
    let counts = parse_counts(&text, "bad.csv").unwrap();
    let lines: Vec<usize> = counts.bad_rows.iter().map(|b| b.0).collect();
    assert_eq!(lines, [201, 202, 203, 204], "{:?}", counts.bad_rows);
    assert!(counts.bad_rows[0].1.contains("not a timestamp"));
    assert!(counts.bad_rows[1].1.contains("not a number"));
    assert!(counts.bad_rows[2].1.contains("duplicate"));
    assert_eq!(counts.series.iter().map(|s| s.len()).sum::<usize>(), 199);
    // The first row of a sensor-hour wins: the duplicate's 999 is not used.
    let queen = counts.sensors.iter().position(|s| s == "45 Queen Street").unwrap();
    let midnight = parse_hour("2019-06-03T00:00").unwrap();
    let first: f64 = COUNTS
        .lines()
        .find(|l| l.starts_with("2019-06-03T00:00,45 Queen Street,"))
        .unwrap()
        .rsplit(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(first, 999.0);
    assert_eq!(counts.series[queen][&midnight], first);
    let error = parse_counts("time,place,n\n", "x.csv").unwrap_err().to_string();
    assert!(error.contains("x.csv:1:"), "{error}");
}

#[test]
fn train_until_takes_a_date_or_a_date_time_and_names_both_forms_when_bad() {
    use crowdtwin_live::counts::{parse_date_or_hour, parse_hour};
    assert_eq!(parse_date_or_hour("2019-08-26"), parse_hour("2019-08-26T00:00"));
    assert_eq!(parse_date_or_hour("2019-08-26T13:00").unwrap(), parse_hour("2019-08-26T00:00").unwrap() + 13);
    let error = parse_date_or_hour("2019-08-26T13:30").unwrap_err();
    assert!(error.contains("`2019-08-26T13:30` is neither a date YYYY-MM-DD nor a date-time"), "{error}");
    assert!(!error.contains("T00:00"), "{error}");
}
