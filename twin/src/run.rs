//! `crowdtwin run` and `crowdtwin validate`: planner runs of a scenario file.

use crate::{TwinError, output};
use crowdtwin_sim::model::{self, CrowdWorld, RunOutput};
use crowdtwin_sim::scenario::Scenario;
use crowdtwin_sim::{SimDuration, Simulation};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Simulated time between progress updates.
pub const PROGRESS_STEP_S: u64 = 600;
/// Largest scenario file read, bytes.
pub const SCENARIO_FILE_BYTES_MAX: u64 = 64 * 1024 * 1024;

/// Reads and checks a scenario file.
pub fn load_scenario(path: &Path) -> Result<Scenario, TwinError> {
    Ok(load_scenario_with_text(path)?.0)
}

/// Reads and checks a scenario file; also returns its text.
fn load_scenario_with_text(path: &Path) -> Result<(Scenario, String), TwinError> {
    let name = path.display().to_string();
    let metadata = std::fs::metadata(path).map_err(|e| TwinError::Input(format!("{name}: {e}")))?;
    if metadata.len() > SCENARIO_FILE_BYTES_MAX {
        return Err(TwinError::Input(format!("{name}: larger than {SCENARIO_FILE_BYTES_MAX} bytes")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| TwinError::Input(format!("{name}: {e}")))?;
    let scenario = Scenario::parse(&text, &name)?;
    Ok((scenario, text))
}

/// Options of one run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Seed (the file's own when `None`).
    pub seed: Option<u64>,
    /// Shards (spatial partitions).
    pub shards: usize,
    /// Threads running the shards.
    pub threads: usize,
    /// Show a progress bar on stderr (when it is a terminal).
    pub progress: bool,
}

/// Runs a scenario to its end, reporting progress, and collects its outputs.
pub fn simulate(scenario: Scenario, options: &RunOptions) -> Result<(Simulation<CrowdWorld>, RunOutput), TwinError> {
    let seed = options.seed.unwrap_or(scenario.seed);
    let end = scenario.end();
    let lookahead = scenario.params.handoff();
    let mut sim = model::build(scenario, seed);
    let show = options.progress && std::io::stderr().is_terminal();
    let started = Instant::now();
    let step = SimDuration::from_secs(PROGRESS_STEP_S);
    while sim.now() < end {
        let until = (sim.now() + step).min(end);
        sim.run_until_parallel(until, options.shards, options.threads, lookahead)?;
        if show {
            let done = sim.now().as_micros() as f64 / end.as_micros() as f64;
            let width = 30;
            let filled = (done * width as f64) as usize;
            eprint!(
                "\r[{}{}] {:>3.0}%  {}  {} events  {:.1} s",
                "#".repeat(filled),
                "-".repeat(width - filled),
                done * 100.0,
                sim.now(),
                sim.events_handled(),
                started.elapsed().as_secs_f64()
            );
            std::io::stderr().flush().ok();
        }
    }
    if show {
        eprintln!();
    }
    let output = RunOutput::collect(&sim, seed);
    Ok((sim, output))
}

/// Runs a scenario file and writes `places.parquet`, `kpis.json`,
/// `report.html` and a copy of the scenario (`scenario.toml`, the site's
/// geometry for the viewer) into `out`. Returns the paths written.
pub fn run_file(path: &Path, out: &Path, options: &RunOptions) -> Result<(RunOutput, Vec<PathBuf>), TwinError> {
    let (scenario, text) = load_scenario_with_text(path)?;
    std::fs::create_dir_all(out).map_err(|e| TwinError::Input(format!("{}: {e}", out.display())))?;
    let (_, output) = simulate(scenario, options)?;
    let places = out.join("places.parquet");
    let kpis = out.join("kpis.json");
    let report = out.join("report.html");
    output::write_places(&places, &output)?;
    output::write_kpis(&kpis, &output)?;
    output::write_report(&report, &output)?;
    let copy = out.join(output::SCENARIO_FILE_NAME);
    output::write_scenario(&copy, &text)?;
    Ok((output, vec![places, kpis, report, copy]))
}
