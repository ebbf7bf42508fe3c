//! `crowdtwin validate-model`: the crowd model against measured laboratory
//! experiments (scenarios/validation/), side by side, and the density-speed
//! plot for docs/validation.md.

use crate::run::{RunOptions, simulate};
use crowdtwin_sim::model::RunOutput;
use crowdtwin_sim::model::weidmann_speed_mps;
use crowdtwin_sim::scenario::{ModelParams, Scenario};
use serde::Serialize;

const BOTTLENECK: &str = include_str!("../../../scenarios/validation/bottleneck-0.50m.toml");
const CORRIDOR: &str = include_str!("../../../scenarios/validation/corridor-1.80m.toml");
const CORRIDOR_POINTS: &str = include_str!("../../../scenarios/validation/corridor-uo-145-180-180-density-speed.csv");

/// One quantity, measured and simulated.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    /// Experiment (scenario file).
    pub experiment: String,
    /// Quantity and unit.
    pub quantity: String,
    /// Measured value.
    pub measured: f64,
    /// Simulated value.
    pub simulated: f64,
    /// (simulated - measured) / measured.
    pub relative_error: f64,
}

/// Speed in one density bin of the corridor's one-second points.
#[derive(Clone, Debug, Serialize)]
pub struct DensityBin {
    /// Lower edge, P/m².
    pub density_from: f64,
    /// Upper edge, P/m².
    pub density_to: f64,
    /// Measured points in the bin.
    pub points: usize,
    /// Mean measured speed, m/s.
    pub measured_speed_mps: f64,
    /// Mean model speed at the points' densities, m/s.
    pub model_speed_mps: f64,
    /// Mean Weidmann (published gamma 1.913) speed at the same densities, m/s.
    pub weidmann_speed_mps: f64,
    /// (model - measured) / measured.
    pub relative_error: f64,
}

/// Everything `validate-model` reports.
#[derive(Clone, Debug, Serialize)]
pub struct ValidationReport {
    /// Measured against simulated.
    pub comparisons: Vec<Comparison>,
    /// The corridor's density-speed points, binned.
    pub density_bins: Vec<DensityBin>,
}

fn run(text: &str, name: &str) -> Result<RunOutput, String> {
    let scenario = Scenario::parse(text, name).map_err(|e| e.to_string())?;
    let options = RunOptions { seed: Some(1), shards: 1, threads: 1, progress: false };
    simulate(scenario, &options).map(|(_, output)| output).map_err(|e| e.to_string())
}

fn comparison(experiment: &str, quantity: &str, measured: f64, simulated: f64) -> Comparison {
    Comparison {
        experiment: experiment.into(),
        quantity: quantity.into(),
        measured,
        simulated,
        relative_error: (simulated - measured) / measured,
    }
}

/// The measured density-speed points of the corridor: (density, speed).
pub fn corridor_points() -> Vec<(f64, f64)> {
    CORRIDOR_POINTS
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?))
        })
        .collect()
}

/// Runs every validation experiment.
pub fn validate_model() -> Result<ValidationReport, String> {
    let mut comparisons = Vec::new();

    let bottleneck = run(BOTTLENECK, "bottleneck-0.50m.toml")?;
    let gate = bottleneck.kpis.elements.iter().find(|e| e.kind == "walkway").ok_or("no gate")?;
    let flow = gate.flow_p_per_s.ok_or("nobody passed the gate")?;
    comparisons.push(comparison("bottleneck-0.50m", "flow, persons/s", 1.148, flow));
    comparisons.push(comparison("bottleneck-0.50m", "specific flow, persons/(m s)", 2.296, flow / 0.50));

    // The corridor's steady state: the middle 60% of the seconds it was occupied.
    let corridor = run(CORRIDOR, "corridor-1.80m.toml")?;
    let walkway = corridor.elements.iter().find(|e| e.id == "corridor-start--exit").ok_or("no corridor")?;
    let occupied: Vec<usize> = (0..walkway.intervals()).filter(|&i| walkway.occupancy(i) > 0.0).collect();
    let (first, last) = (occupied.first().copied().unwrap_or(0), occupied.last().copied().unwrap_or(0));
    let span = last.saturating_sub(first);
    let steady = first + span / 5..last.saturating_sub(span / 5);
    let seconds = steady.len().max(1) as f64;
    let density = steady.clone().map(|i| walkway.density(i)).sum::<f64>() / seconds;
    let (traversal_s, traversals) = steady
        .clone()
        .fold((0.0, 0u32), |(s, n), i| (s + walkway.bins[i].traversal_sum_s, n + walkway.bins[i].traversals));
    let speed = walkway.length_m.unwrap_or(8.0) / (traversal_s / traversals.max(1) as f64);
    let specific_flow = traversals as f64 / seconds / 1.80;
    comparisons.push(comparison("corridor-1.80m", "density, persons/m^2", 1.558, density));
    comparisons.push(comparison("corridor-1.80m", "speed, m/s", 1.007, speed));
    comparisons.push(comparison("corridor-1.80m", "specific flow, persons/(m s)", 1.55, specific_flow));

    let params = ModelParams::default();
    let published = ModelParams { weidmann_gamma_p_per_m2: 1.913, ..ModelParams::default() };
    let points = corridor_points();
    let mut density_bins = Vec::new();
    let mut from = 0.5;
    while from < 2.2 {
        let to = from + 0.25;
        let inside: Vec<&(f64, f64)> = points.iter().filter(|(d, _)| *d >= from && *d < to).collect();
        if !inside.is_empty() {
            let n = inside.len() as f64;
            let measured = inside.iter().map(|p| p.1).sum::<f64>() / n;
            let model = inside.iter().map(|p| weidmann_speed_mps(&params, p.0)).sum::<f64>() / n;
            let weidmann = inside.iter().map(|p| weidmann_speed_mps(&published, p.0)).sum::<f64>() / n;
            density_bins.push(DensityBin {
                density_from: from,
                density_to: to,
                points: inside.len(),
                measured_speed_mps: measured,
                model_speed_mps: model,
                weidmann_speed_mps: weidmann,
                relative_error: (model - measured) / measured,
            });
        }
        from = to;
    }
    Ok(ValidationReport { comparisons, density_bins })
}

/// The report as a Markdown table.
pub fn markdown(report: &ValidationReport) -> String {
    let mut out =
        String::from("| experiment | quantity | measured | simulated | error |\n| --- | --- | --- | --- | --- |\n");
    for c in &report.comparisons {
        out.push_str(&format!(
            "| {} | {} | {:.3} | {:.3} | {:+.1}% |\n",
            c.experiment,
            c.quantity,
            c.measured,
            c.simulated,
            100.0 * c.relative_error
        ));
    }
    out.push_str("\n| density bin, P/m^2 | points | measured speed, m/s | model, m/s | model error | Weidmann 1993 (gamma 1.913), m/s |\n| --- | --- | --- | --- | --- | --- |\n");
    for b in &report.density_bins {
        out.push_str(&format!(
            "| {:.2}-{:.2} | {} | {:.3} | {:.3} | {:+.1}% | {:.3} |\n",
            b.density_from,
            b.density_to,
            b.points,
            b.measured_speed_mps,
            b.model_speed_mps,
            100.0 * b.relative_error,
            b.weidmann_speed_mps
        ));
    }
    out
}

/// The density-speed plot (SVG): measured one-second points, Weidmann's
/// published diagram and the model's.
pub fn density_speed_svg() -> String {
    let (width, height, left, bottom, top, right) = (640.0, 420.0, 60.0, 50.0, 30.0, 20.0);
    let (max_density, max_speed) = (3.0, 1.5);
    let x = |d: f64| left + d / max_density * (width - left - right);
    let y = |v: f64| height - bottom - v / max_speed * (height - bottom - top);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    for i in 0..=6 {
        let d = i as f64 * 0.5;
        svg.push_str(&format!(
            "<line x1=\"{0:.1}\" y1=\"{1:.1}\" x2=\"{0:.1}\" y2=\"{2:.1}\" stroke=\"#ddd\"/><text x=\"{0:.1}\" y=\"{3:.1}\" text-anchor=\"middle\">{d:.1}</text>\n",
            x(d),
            y(0.0),
            y(max_speed),
            y(0.0) + 16.0
        ));
    }
    for i in 0..=6 {
        let v = i as f64 * 0.25;
        svg.push_str(&format!(
            "<line x1=\"{1:.1}\" y1=\"{0:.1}\" x2=\"{2:.1}\" y2=\"{0:.1}\" stroke=\"#ddd\"/><text x=\"{3:.1}\" y=\"{4:.1}\" text-anchor=\"end\">{v:.2}</text>\n",
            y(v),
            x(0.0),
            x(max_density),
            x(0.0) - 6.0,
            y(v) + 4.0
        ));
    }
    svg.push_str(&format!(
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">density, persons/m²</text>\n<text x=\"16\" y=\"{:.1}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {:.1})\">speed, m/s</text>\n",
        (left + width - right) / 2.0,
        height - 12.0,
        (top + height - bottom) / 2.0,
        (top + height - bottom) / 2.0
    ));
    let curve = |params: &ModelParams, colour: &str, dash: &str| {
        let points: Vec<String> = (1..=300)
            .map(|i| {
                let d = i as f64 * max_density / 300.0;
                format!("{:.1},{:.1}", x(d), y(weidmann_speed_mps(params, d)))
            })
            .collect();
        format!(
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" stroke-dasharray=\"{dash}\" points=\"{}\"/>\n",
            points.join(" ")
        )
    };
    svg.push_str(&curve(&ModelParams { weidmann_gamma_p_per_m2: 1.913, ..ModelParams::default() }, "#888", "6 4"));
    svg.push_str(&curve(&ModelParams::default(), "#d73027", ""));
    for (d, v) in corridor_points() {
        svg.push_str(&format!(
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"#1a6fbf\" fill-opacity=\"0.7\"/>\n",
            x(d),
            y(v)
        ));
    }
    let legend = [
        ("#1a6fbf", "measured, Hermes corridor 1.80 m (1-s means)", ""),
        ("#d73027", "model default (Weidmann form, gamma 3.13)", ""),
        ("#888", "Weidmann 1993 (gamma 1.913)", "6 4"),
    ];
    for (i, (colour, label, dash)) in legend.iter().enumerate() {
        let ly = y(0.42) + i as f64 * 18.0;
        svg.push_str(&format!(
            "<line x1=\"{:.1}\" y1=\"{ly:.1}\" x2=\"{:.1}\" y2=\"{ly:.1}\" stroke=\"{colour}\" stroke-width=\"3\" stroke-dasharray=\"{dash}\"/><text x=\"{:.1}\" y=\"{:.1}\">{label}</text>\n",
            x(0.1),
            x(0.3),
            x(0.35),
            ly + 4.0
        ));
    }
    svg.push_str("</svg>\n");
    svg
}
