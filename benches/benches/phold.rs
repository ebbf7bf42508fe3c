//! PHOLD on the kernel with the standard parameters (shared/REFERENCES.md):
//! 10,000 LPs, population 16, remote 0.1, lookahead 0.1, mean 1.0.
//! Throughput is reported in events per second.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use crowdtwin_sim::SimTime;
use crowdtwin_sim::phold::{Phold, PholdParams};
use std::hint::black_box;
use std::time::Duration;

fn phold(c: &mut Criterion) {
    let params = PholdParams::default();
    // A warmed-up simulation at t = 5 s, so the queue is in steady state.
    let mut warm = Phold::simulation(params, 1).expect("standard parameters are valid");
    warm.run_until(SimTime::from_secs(5));
    let span = SimTime::from_secs(5);
    let events = {
        let mut probe = warm.clone();
        probe.run_until(SimTime::from_secs(10)).events
    };
    let mut group = c.benchmark_group("phold");
    group.throughput(Throughput::Elements(events));
    group.sample_size(20).measurement_time(Duration::from_secs(20));
    for shards in [1usize, 2] {
        group.bench_function(format!("standard_5s_{shards}_shards"), |b| {
            b.iter_batched(
                || warm.clone(),
                |mut sim| {
                    let end = SimTime(warm.now().as_micros() + span.as_micros());
                    let stats = sim.run_until_sharded(end, shards, params.lookahead()).expect("valid run");
                    black_box(stats.events)
                },
                criterion::BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, phold);
criterion_main!(benches);
