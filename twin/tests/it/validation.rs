//! The crowd model against measured experiments (scenarios/validation/).

use crowdtwin_twin::validation::validate_model;

fn simulated(report: &crowdtwin_twin::validation::ValidationReport, experiment: &str, quantity: &str) -> (f64, f64) {
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
