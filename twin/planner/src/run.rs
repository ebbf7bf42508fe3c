//! `crowdtwin run` and `crowdtwin validate`: planner runs of a scenario file.

use crate::{PlannerError, output};
use crowdtwin_sim::model::{self, CrowdWorld, RunOutput};
use crowdtwin_sim::scenario::Scenario;
use crowdtwin_sim::{SimDuration, Simulation};
use std::path::{Path, PathBuf};

/// Simulated time between progress updates.
pub const PROGRESS_STEP_S: u64 = 600;
/// Largest scenario file read, bytes.
pub const SCENARIO_FILE_BYTES_MAX: u64 = 64 * 1024 * 1024;

/// Reads and checks a scenario file.
pub fn load_scenario(path: &Path) -> Result<Scenario, PlannerError> {
    Ok(load_scenario_with_text(path)?.0)
}

/// Reads and checks a scenario file; also returns its text.
pub(crate) fn load_scenario_with_text(path: &Path) -> Result<(Scenario, String), PlannerError> {
    let name = path.display().to_string();
    let metadata = std::fs::metadata(path).map_err(|e| PlannerError::file(&name, e))?;
    if metadata.len() > SCENARIO_FILE_BYTES_MAX {
        return Err(PlannerError::file(&name, format!("larger than {SCENARIO_FILE_BYTES_MAX} bytes")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| PlannerError::file(&name, e))?;
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
pub fn simulate(scenario: Scenario, options: &RunOptions) -> Result<(Simulation<CrowdWorld>, RunOutput), PlannerError> {
    let seed = options.seed.unwrap_or(scenario.seed);
    let end = scenario.end();
    let lookahead = scenario.params.handoff();
    let mut sim = model::build_advised(scenario, seed);
    let bar = crate::progress::bar("run", options.progress);
    let step = SimDuration::from_secs(PROGRESS_STEP_S);
    let (start, end_us) = (sim.now().as_micros(), end.as_micros());
    while sim.now() < end {
        let until = (sim.now() + step).min(end);
        sim.run_until_parallel(until, options.shards, options.threads, lookahead)?;
        bar.set_position(crate::progress::step(sim.now().as_micros() - start, end_us.saturating_sub(start)));
        bar.set_message(format!("{}  {} events", sim.now(), sim.events_handled()));
    }
    bar.finish();
    let output = RunOutput::collect(&sim, seed);
    Ok((sim, output))
}

/// Runs a scenario file and writes `places.parquet`, `kpis.json`,
/// `report.html` and a copy of the scenario (`scenario.toml`, the site's
/// geometry for the viewer) into `out`. Returns the paths written.
pub fn run_file(path: &Path, out: &Path, options: &RunOptions) -> Result<(RunOutput, Vec<PathBuf>), PlannerError> {
    run_file_with(path, out, |scenario, _| simulate(scenario, options))
}

/// [`run_file`] with the simulation done by `simulate`, given the checked
/// scenario and the file's text (a run on cluster nodes).
pub fn run_file_with<E: From<PlannerError>>(
    path: &Path,
    out: &Path,
    simulate: impl FnOnce(Scenario, &str) -> Result<(Simulation<CrowdWorld>, RunOutput), E>,
) -> Result<(RunOutput, Vec<PathBuf>), E> {
    let (scenario, text) = load_scenario_with_text(path)?;
    std::fs::create_dir_all(out).map_err(|e| PlannerError::file(out.display(), e))?;
    let (sim, output) = simulate(scenario, &text)?;
    // The simulation's state is no longer needed: free it before the
    // files are encoded, so the two never add up (issue 16: 300 bytes per
    // visitor at 1M visitors).
    let scenario = sim.world().scenario().clone();
    drop(sim);
    let places = out.join("places.parquet");
    let kpis = out.join("kpis.json");
    let report = out.join("report.html");
    output::write_places(&places, &output)?;
    output::write_kpis(&kpis, &output)?;
    output::write_report(&report, &output, &scenario)?;
    let copy = out.join(output::SCENARIO_FILE_NAME);
    output::write_scenario(&copy, &text)?;
    Ok((output, vec![places, kpis, report, copy]))
}

/// Crowding of one run, for comparing recommendation shares.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Crowding {
    /// Share of visitors following recommendations.
    pub recommended_share: f64,
    /// Highest interval-mean density of any place or walkway, P/m².
    pub peak_density_p_per_m2: f64,
    /// Where.
    pub peak_density_element: String,
    /// When.
    pub peak_density_at: String,
    /// Highest interval-mean density at food outlets and shops, P/m².
    pub errand_peak_density_p_per_m2: f64,
    /// Person-hours queueing anywhere.
    pub queue_time_h: f64,
    /// Person-hours queueing at food outlets and shops.
    pub errand_queue_time_h: f64,
    /// Mean wait of everyone who queued at a food outlet or shop, s.
    pub errand_mean_wait_s: f64,
    /// People served at food outlets and shops.
    pub errand_entries: u64,
    /// People who saw a queue too long and left without buying.
    pub balked: u64,
    /// Minutes any element spent at level of service E or F, summed.
    pub minutes_at_los_e_or_f: f64,
    /// Ticket holders seated by their session's start, all sessions.
    pub seated_on_time: u64,
}

impl Crowding {
    pub(crate) fn of(output: &RunOutput, share: f64) -> Crowding {
        let kpis = &output.kpis;
        let errands = kpis.elements.iter().filter(|e| e.kind == "food" || e.kind == "shop");
        Crowding {
            recommended_share: share,
            peak_density_p_per_m2: kpis.peak_density_p_per_m2,
            peak_density_element: kpis.peak_density_element.clone(),
            peak_density_at: kpis.peak_density_at.clone(),
            errand_peak_density_p_per_m2: errands.clone().map(|e| e.peak_density_p_per_m2).fold(0.0, f64::max),
            queue_time_h: kpis.total_queue_time_s / 3_600.0,
            errand_queue_time_h: errands.clone().map(|e| e.total_queue_time_s).sum::<f64>() / 3_600.0,
            errand_mean_wait_s: {
                let (weighted, count) =
                    errands.clone().fold((0.0, 0), |(w, c), e| (w + e.mean_wait_s * e.entries as f64, c + e.entries));
                if count > 0 { weighted / count as f64 } else { 0.0 }
            },
            errand_entries: errands.map(|e| e.entries).sum(),
            balked: kpis.balked,
            minutes_at_los_e_or_f: kpis.elements.iter().map(|e| e.minutes_at_los_e_or_f).sum(),
            seated_on_time: kpis.sessions.iter().map(|s| u64::from(s.seated_on_time)).sum(),
        }
    }
}

/// What following recommendations changes: the scenario with nobody
/// following and with `share` following, same seed.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RecommendationEffect {
    /// Scenario name.
    pub scenario: String,
    /// Seed.
    pub seed: u64,
    /// Nobody follows.
    pub without: Crowding,
    /// `share` follows.
    pub with: Crowding,
    /// Relative change of the peak density, % (negative = lower).
    pub peak_density_change_percent: f64,
    /// Relative change of the total queue time, %.
    pub queue_time_change_percent: f64,
    /// Relative change of the queue time at food and shops, %.
    pub errand_queue_time_change_percent: f64,
}

/// Runs `scenario` with 0 and with `share` of its visitors following recommendations.
pub fn recommendation_effect(scenario: &Scenario, share: f64, seed: u64) -> Result<RecommendationEffect, PlannerError> {
    if !(0.0..=1.0).contains(&share) {
        return Err(PlannerError::InvalidOption(format!("share {share} must be in [0, 1]")));
    }
    if scenario.visitors.is_none() {
        return Err(PlannerError::Unsupported(
            "the scenario has no [visitors]: nobody could follow recommendations".into(),
        ));
    }
    let options = RunOptions { seed: Some(seed), shards: 1, threads: 1, progress: false };
    let mut runs = Vec::new();
    for share in [0.0, share] {
        let mut variant = scenario.clone();
        if let Some(visitors) = variant.visitors.as_mut() {
            visitors.recommended_share = share;
        }
        let (_, output) = simulate(variant, &options)?;
        runs.push(Crowding::of(&output, share));
    }
    let with = runs.pop().expect("two runs");
    let without = runs.pop().expect("two runs");
    let change = |a: f64, b: f64| if a > 0.0 { 100.0 * (b - a) / a } else { 0.0 };
    Ok(RecommendationEffect {
        scenario: scenario.name.clone(),
        seed,
        peak_density_change_percent: change(without.peak_density_p_per_m2, with.peak_density_p_per_m2),
        queue_time_change_percent: change(without.queue_time_h, with.queue_time_h),
        errand_queue_time_change_percent: change(without.errand_queue_time_h, with.errand_queue_time_h),
        without,
        with,
    })
}
