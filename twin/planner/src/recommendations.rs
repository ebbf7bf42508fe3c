//! `crowdtwin recommendations --shares`: what following recommendations
//! does at several shares over paired seeds, against nobody following (each
//! visitor then goes to the nearest food outlet, shop or fan zone).

use crate::PlannerError;
use crate::compare::{Comparison, FALSE_DISCOVERY_RATE, control_false_discoveries, paired};
use crate::run::{Crowding, RunOptions, simulate};
use crowdtwin_sim::scenario::Scenario;
use serde::Serialize;

/// Most seeds of one table.
pub const SEEDS_MAX: usize = 100;

/// The metrics of the table, each of a [`Crowding`].
pub const METRICS: [&str; 6] = [
    "peak_density_p_per_m2",
    "errand_peak_density_p_per_m2",
    "errand_mean_wait_s",
    "errand_queue_time_h",
    "balked",
    "seated_on_time",
];

fn metric(crowding: &Crowding, name: &str) -> f64 {
    match name {
        "peak_density_p_per_m2" => crowding.peak_density_p_per_m2,
        "errand_peak_density_p_per_m2" => crowding.errand_peak_density_p_per_m2,
        "errand_mean_wait_s" => crowding.errand_mean_wait_s,
        "errand_queue_time_h" => crowding.errand_queue_time_h,
        "balked" => crowding.balked as f64,
        "seated_on_time" => crowding.seated_on_time as f64,
        _ => unreachable!("metric {name} is one of METRICS"),
    }
}

/// The share table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ShareTable {
    /// Scenario name.
    pub scenario: String,
    /// Seeds, each run at every share.
    pub seeds: Vec<u64>,
    /// The shares compared with nobody following.
    pub shares: Vec<f64>,
    /// Every run: share-major, then seed.
    pub runs: Vec<Crowding>,
    /// Per share and metric, against nobody following over the paired
    /// seeds: means, the difference with its 95% interval, and whether it
    /// is significant (false discoveries controlled over the table). `id`
    /// is "share S".
    pub effects: Vec<Comparison>,
}

/// Runs `scenario` with nobody and with each of `shares` following, on
/// each of `seeds` seeds, over `threads` threads.
pub fn share_table(
    scenario: &Scenario,
    shares: &[f64],
    seeds: usize,
    threads: usize,
) -> Result<ShareTable, PlannerError> {
    if scenario.visitors.is_none() {
        return Err(PlannerError::Unsupported(
            "the scenario has no [visitors]: nobody could follow recommendations".into(),
        ));
    }
    if !(1..=SEEDS_MAX).contains(&seeds) {
        return Err(PlannerError::InvalidOption(format!("--seeds {seeds}: must be between 1 and {SEEDS_MAX}")));
    }
    if shares.is_empty() {
        return Err(PlannerError::InvalidOption("--shares: give at least one share".into()));
    }
    if let Some(bad) = shares.iter().find(|s| !(0.0..=1.0).contains(*s)) {
        return Err(PlannerError::InvalidOption(format!("share {bad} must be in [0, 1]")));
    }
    let seeds: Vec<u64> = (0..seeds as u64).map(|i| scenario.seed.wrapping_add(i)).collect();
    let all_shares: Vec<f64> = std::iter::once(0.0).chain(shares.iter().copied()).collect();
    let jobs = all_shares.len() * seeds.len();
    let runs = crate::jobs::run_all(
        jobs,
        threads,
        |job| {
            let (share, seed) = (all_shares[job / seeds.len()], seeds[job % seeds.len()]);
            let mut variant = scenario.clone();
            if let Some(visitors) = variant.visitors.as_mut() {
                visitors.recommended_share = share;
            }
            let options = RunOptions { seed: Some(seed), shards: 1, threads: 1, progress: false };
            simulate(variant, &options).map(|(_, output)| Crowding::of(&output, share))
        },
        |_, _| {},
    );
    let runs = runs.into_iter().collect::<Result<Vec<Crowding>, PlannerError>>()?;
    let nobody = &runs[..seeds.len()];
    let mut effects = Vec::new();
    for (i, share) in shares.iter().enumerate() {
        let with = &runs[(i + 1) * seeds.len()..(i + 2) * seeds.len()];
        for name in METRICS {
            let pairs: Vec<(f64, f64)> =
                nobody.iter().zip(with).map(|(a, b)| (metric(a, name), metric(b, name))).collect();
            effects.push(paired(&format!("share {share}"), name, &pairs));
        }
    }
    control_false_discoveries(&mut effects, FALSE_DISCOVERY_RATE);
    Ok(ShareTable { scenario: scenario.name.clone(), seeds, shares: shares.to_vec(), runs, effects })
}
