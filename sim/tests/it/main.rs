//! crowdtwin-sim's integration tests, one binary: the kernel, the crowd
//! model's validation against published figures, and scenario files.

mod kernel;
mod model;
mod scenario;

use crowdtwin_sim::model::{self as crowd, RunOutput};
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
