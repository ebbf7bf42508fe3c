//! `crowdtwin validate-model`: the crowd model against measured laboratory
//! experiments. Every scenario file in a folder (default
//! scenarios/validation/) with a `[validation]` table is run and each of its
//! measured quantities compared with the simulated one; nothing here knows
//! the files. Also the density-speed plot for docs/validation.md.

use crate::run::{RunOptions, simulate};
use crowdtwin_sim::model::{ElementSeries, RunOutput, weidmann_speed_mps};
use crowdtwin_sim::scenario::{MeasuredQuantity, ModelParams, Scenario};
use serde::Serialize;
use std::path::{Path, PathBuf};

const CORRIDOR_POINTS: &str = include_str!("../../../scenarios/validation/corridor-uo-145-180-180-density-speed.csv");

/// Share of an ordinary walkway's occupied time cut at each end to leave
/// its steady state (the measured runs' steady states leave out about a
/// fifth at the start and the end).
const STEADY_STATE_TRIM: f64 = 0.2;

/// One quantity, measured and simulated.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    /// Experiment (scenario file name without `.toml`).
    pub experiment: String,
    /// Quantity, as in the file (`flow_p_per_s`, `density_p_per_m2`, `speed_mps`), and walkway.
    pub quantity: String,
    /// Measured value.
    pub measured: f64,
    /// Simulated value.
    pub simulated: f64,
    /// (simulated - measured) / measured.
    pub relative_error: f64,
}

/// Everything `validate-model` reports.
#[derive(Clone, Debug, Serialize)]
pub struct ValidationReport {
    /// Measured against simulated, file by file in name order.
    pub comparisons: Vec<Comparison>,
    /// Experiments run.
    pub experiments: usize,
    /// Median of the absolute relative errors.
    pub median_abs_relative_error: f64,
    /// Largest absolute relative error.
    pub max_abs_relative_error: f64,
}

fn run(scenario: Scenario) -> Result<RunOutput, String> {
    let options = RunOptions { seed: Some(1), shards: 1, threads: 1, progress: false };
    simulate(scenario, &options).map(|(_, output)| output).map_err(|e| e.to_string())
}

/// The steady-state intervals of a walkway: its occupied span, trimmed.
fn steady(series: &ElementSeries) -> std::ops::Range<usize> {
    let occupied: Vec<usize> = (0..series.intervals()).filter(|&i| series.occupancy(i) > 0.0).collect();
    let (first, last) = (occupied.first().copied().unwrap_or(0), occupied.last().copied().unwrap_or(0));
    let cut = ((last - first) as f64 * STEADY_STATE_TRIM) as usize;
    (first + cut)..(last + 1 - cut).max(first + cut + 1)
}

/// The simulated value of one measured quantity.
fn simulated(
    output: &RunOutput,
    scenario: &Scenario,
    walkway: &str,
    quantity: MeasuredQuantity,
) -> Result<f64, String> {
    let series =
        output.elements.iter().find(|e| e.id == walkway).ok_or(format!("no walkway {walkway} in the output"))?;
    let index = output.elements.iter().filter(|e| e.kind.as_ref() == "walkway").position(|e| e.id == walkway);
    let bottleneck = index.and_then(|i| scenario.walkways.get(i)).is_some_and(|w| w.bottleneck);
    let interval_s = scenario.params.output_interval_s;
    let window = steady(series);
    let seconds = window.len() as f64 * interval_s;
    let traversals: u32 = window.clone().map(|i| series.bins[i].traversals).sum();
    match quantity {
        MeasuredQuantity::FlowPPerS if bottleneck => {
            let kpi = output.kpis.elements.iter().find(|e| e.id == walkway);
            kpi.and_then(|k| k.flow_p_per_s).ok_or(format!("fewer than two passed {walkway}"))
        }
        MeasuredQuantity::FlowPPerS => Ok(traversals as f64 / seconds),
        MeasuredQuantity::DensityPPerM2 => {
            Ok(window.map(|i| series.density(i)).sum::<f64>() / window_len(&steady(series)))
        }
        MeasuredQuantity::SpeedMps => {
            let traversal_s: f64 = window.map(|i| series.bins[i].traversal_sum_s).sum();
            let length = series.length_m.ok_or(format!("{walkway} has no length"))?;
            (traversals > 0)
                .then(|| length / (traversal_s / traversals as f64))
                .ok_or(format!("nobody walked {walkway}"))
        }
    }
}

fn window_len(window: &std::ops::Range<usize>) -> f64 {
    window.len().max(1) as f64
}

/// The scenario files of a folder, in name order.
fn experiment_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

/// Runs every experiment (scenario file with a `[validation]` table) in `dir`.
pub fn validate_model(dir: &Path) -> Result<ValidationReport, String> {
    let mut comparisons = Vec::new();
    let mut experiments = 0;
    for path in experiment_files(dir)? {
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let scenario = Scenario::parse(&text, &path.display().to_string()).map_err(|e| e.to_string())?;
        let Some(validation) = scenario.validation.clone() else { continue };
        let experiment = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        experiments += 1;
        let output = run(scenario.clone())?;
        for measured in &validation.measured {
            let value = simulated(&output, &scenario, &measured.walkway, measured.quantity)
                .map_err(|e| format!("{experiment}: {e}"))?;
            comparisons.push(Comparison {
                experiment: experiment.clone(),
                quantity: format!("{} ({})", measured.quantity.as_str(), measured.walkway),
                measured: measured.value,
                simulated: value,
                relative_error: (value - measured.value) / measured.value,
            });
        }
    }
    if comparisons.is_empty() {
        return Err(format!("{}: no scenario file with a [validation] table", dir.display()));
    }
    let mut errors: Vec<f64> = comparisons.iter().map(|c| c.relative_error.abs()).collect();
    errors.sort_by(f64::total_cmp);
    let n = errors.len();
    let median = if n % 2 == 1 { errors[n / 2] } else { (errors[n / 2 - 1] + errors[n / 2]) / 2.0 };
    Ok(ValidationReport {
        experiments,
        median_abs_relative_error: median,
        max_abs_relative_error: errors[n - 1],
        comparisons,
    })
}

/// The measured density-speed points of the corridor run uo-145-180-180: (density, speed).
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
    out.push_str(&format!(
        "\n{} experiments, {} quantities: median |error| {:.1}%, largest {:.1}%\n",
        report.experiments,
        report.comparisons.len(),
        100.0 * report.median_abs_relative_error,
        100.0 * report.max_abs_relative_error
    ));
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
    svg.push_str(&curve(
        &ModelParams { weidmann_gamma_p_per_m2: 1.913, jam_density_p_per_m2: 5.4, ..ModelParams::default() },
        "#888",
        "6 4",
    ));
    svg.push_str(&curve(&ModelParams::default(), "#d73027", ""));
    for (d, v) in corridor_points() {
        svg.push_str(&format!(
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"#1a6fbf\" fill-opacity=\"0.7\"/>\n",
            x(d),
            y(v)
        ));
    }
    let legend = [
        ("#1a6fbf", "measured, Hermes corridor uo-145-180-180 (1-s means)", ""),
        ("#d73027", "model default (Weidmann form, gamma 4.28, zero speed at 3.19)", ""),
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
