//! crowdtwin-sim's integration tests, one binary: the kernel, the crowd
//! model's validation against published figures and the RiMEA tests, and
//! scenario files.

mod kernel;
mod model;
mod rimea;
mod scenario;

use crowdtwin_sim::model::{self as crowd, ElementSeries, RunOutput};
use crowdtwin_sim::scenario::Scenario;

/// Builds and runs a scenario given as TOML text to its end.
pub fn run_toml(toml: &str, seed: u64, shards: usize) -> RunOutput {
    let scenario = Scenario::parse(toml, "test.toml").unwrap_or_else(|e| panic!("{e}"));
    let end = scenario.end();
    let lookahead = scenario.params.handoff();
    let mut sim = crowd::build(scenario, seed);
    sim.run_until_sharded(end, shards, lookahead).unwrap();
    RunOutput::collect(&sim, seed)
}

/// The output series of element `id` (a place id, or `from--to` for a walkway).
pub fn element<'a>(output: &'a RunOutput, id: &str) -> &'a ElementSeries {
    output.elements.iter().find(|e| e.id == id).unwrap_or_else(|| panic!("no element {id}"))
}

/// Seconds (bin starts, with 1-s bins) at which people entered `id`.
pub fn entry_seconds(output: &RunOutput, id: &str) -> Vec<usize> {
    element(output, id).bins.iter().enumerate().flat_map(|(i, b)| std::iter::repeat_n(i, b.entries as usize)).collect()
}

/// Seconds people spent queueing at the entrance of element `id` in all.
pub fn queued_s(output: &RunOutput, id: &str) -> f64 {
    element(output, id).bins.iter().map(|b| b.queue_us).sum::<u64>() as f64 / 1e6
}
