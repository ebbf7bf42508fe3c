//! `crowdtwin bench`: engine benchmarks run from the command line.

use crate::PlannerError;
use crowdtwin_sim::phold::{Phold, PholdParams};
use crowdtwin_sim::{SimError, SimTime};
use serde::Serialize;
use std::time::Instant;

/// Progress lines are written in this many steps of simulated time.
const PROGRESS_STEPS: u64 = 20;

/// One PHOLD run, as printed by `crowdtwin bench phold`.
#[derive(Clone, Debug, Serialize)]
pub struct PholdReport {
    /// Always "phold".
    pub benchmark: &'static str,
    /// Logical processes.
    pub lps: u32,
    /// Initial events per process.
    pub population: u32,
    /// Probability that an event goes to another process.
    pub remote: f64,
    /// Fixed part of every delay, s (also the lookahead).
    pub lookahead: f64,
    /// Mean of the exponential part of every delay, s.
    pub mean: f64,
    /// Simulated seconds run.
    pub end: f64,
    /// Seed of every random stream.
    pub seed: u64,
    /// Shards, each on its own thread.
    pub shards: usize,
    /// Events handled.
    pub events: u64,
    /// Wall time, s.
    pub wall_s: f64,
    /// Events handled per wall second.
    pub events_per_s: f64,
    /// Synchronisation windows (sharded runs).
    pub windows: u64,
    /// Events still queued at the end.
    pub pending_events: usize,
    /// Queue buffer bytes (capacity) divided by pending events.
    pub queue_bytes_per_pending_event: f64,
    /// Size of one queued event record.
    pub event_record_bytes: usize,
    /// Determinism fingerprint: equal for equal seeds, whatever `shards`.
    pub trace_hash: String,
}

/// Runs PHOLD until `end_s` seconds of simulated time and measures it.
/// Progress goes to stderr when stderr is a terminal.
pub fn run_phold(params: PholdParams, end_s: f64, seed: u64, shards: usize) -> Result<PholdReport, PlannerError> {
    if !(end_s.is_finite() && end_s > 0.0 && end_s <= 1e9) {
        return Err(
            SimError::InvalidParameter { name: "end", reason: "must be between 0 and 1e9 seconds".into() }.into()
        );
    }
    let mut sim = Phold::simulation(params, seed)?;
    let end = SimTime::from_secs_f64(end_s);
    let bar = crate::progress::bar("phold", true);
    let started = Instant::now();
    let mut events = 0;
    let mut windows = 0;
    for step in 1..=PROGRESS_STEPS {
        let until = SimTime(end.as_micros() / PROGRESS_STEPS * step).max(sim.now());
        let until = if step == PROGRESS_STEPS { end } else { until };
        let stats = sim.run_until_sharded(until, shards, params.lookahead())?;
        events += stats.events;
        windows += stats.windows;
        bar.set_position(crate::progress::step(step, PROGRESS_STEPS));
        bar.set_message(format!("{events} events"));
    }
    bar.finish();
    let wall_s = started.elapsed().as_secs_f64();
    let pending = sim.pending_events();
    Ok(PholdReport {
        benchmark: "phold",
        lps: params.lps,
        population: params.population,
        remote: params.remote,
        lookahead: params.lookahead_s,
        mean: params.mean_s,
        end: end_s,
        seed,
        shards,
        events,
        wall_s,
        events_per_s: events as f64 / wall_s.max(1e-9),
        windows,
        pending_events: pending,
        queue_bytes_per_pending_event: sim.queue_allocated_bytes() as f64 / pending.max(1) as f64,
        event_record_bytes: std::mem::size_of::<crowdtwin_sim::kernel::Event<()>>(),
        trace_hash: format!("{:016x}", sim.trace_hash()),
    })
}

/// One sharded crowd run, as printed by `crowdtwin bench crowd`: the
/// traffic between shards that nodes would exchange if each shard ran on
/// its own node.
#[derive(Clone, Debug, Serialize)]
pub struct CrowdShardReport {
    /// Always "crowd".
    pub benchmark: &'static str,
    /// Scenario name.
    pub scenario: String,
    /// Seed of every random stream.
    pub seed: u64,
    /// Spatial shards.
    pub shards: usize,
    /// Threads running them.
    pub threads: usize,
    /// Visitors in the run.
    pub visitors: usize,
    /// Events handled.
    pub events: u64,
    /// Wall time, s.
    pub wall_s: f64,
    /// Synchronisation windows (one lookahead each).
    pub windows: u64,
    /// Messages sent from one shard to another.
    pub cross_shard_messages: u64,
    /// Their share of all events.
    pub cross_shard_share: f64,
    /// Size of one event record in memory (time, source, sequence, target, message).
    pub event_record_bytes: usize,
    /// Determinism fingerprint: equal for equal seeds, whatever `shards`.
    pub trace_hash: String,
}

/// Runs a scenario to its end on `shards` shards over `threads` threads and
/// counts the messages between shards.
pub fn run_crowd_shards(
    scenario: crowdtwin_sim::scenario::Scenario,
    seed: Option<u64>,
    shards: usize,
    threads: usize,
) -> Result<CrowdShardReport, PlannerError> {
    let seed = seed.unwrap_or(scenario.seed);
    let name = scenario.name.clone();
    let end = scenario.end();
    let lookahead = scenario.params.handoff();
    let started = Instant::now();
    let mut sim = crowdtwin_sim::model::build(scenario, seed);
    let stats = sim.run_until_parallel(end, shards, threads, lookahead)?;
    let wall_s = started.elapsed().as_secs_f64();
    Ok(CrowdShardReport {
        benchmark: "crowd_shards",
        scenario: name,
        seed,
        shards,
        threads: threads.min(shards),
        visitors: sim.world().visitors.len(),
        events: stats.events,
        wall_s,
        windows: stats.windows,
        cross_shard_messages: stats.cross_shard_messages,
        cross_shard_share: stats.cross_shard_messages as f64 / stats.events.max(1) as f64,
        event_record_bytes: std::mem::size_of::<crowdtwin_sim::kernel::Event<crowdtwin_sim::model::Message>>(),
        trace_hash: format!("{:016x}", sim.trace_hash()),
    })
}
