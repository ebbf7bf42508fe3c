//! PHOLD on the kernel with the standard parameters (shared/REFERENCES.md):
//! 10,000 LPs, population 16, remote 0.1, lookahead 0.1, mean 1.0; and, as
//! the yardstick, the same workload as a bare loop over `std`'s BinaryHeap
//! with no actors at all (16 bytes per pending event), which is what the
//! queue alone costs when it is a binary heap.
//!
//! Throughput is in events per second (criterion's "elem/s").

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use crowdtwin_sim::SimTime;
use crowdtwin_sim::kernel::ActorRng;
use crowdtwin_sim::phold::{Phold, PholdParams};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;
use std::time::Duration;

/// Simulated seconds per measured iteration.
const SPAN_S: u64 = 20;

/// The bare-loop baseline: pending events as `(time us, lp)` in a min-heap,
/// one random stream, same delays. Returns the events handled.
fn binary_heap_phold(
    params: PholdParams,
    heap: &mut BinaryHeap<Reverse<(u64, u32)>>,
    rng: &mut ActorRng,
    until_us: u64,
) -> u64 {
    let lookahead_us = params.lookahead().as_micros();
    let mean_us = params.mean_s * 1e6;
    let remote = params.remote;
    let mut events = 0;
    while let Some(&Reverse((time, lp))) = heap.peek() {
        if time >= until_us {
            break;
        }
        heap.pop();
        let target = if rng.uniform() < remote { rng.below(params.lps as u64) as u32 } else { lp };
        heap.push(Reverse((time + lookahead_us + (rng.exponential(mean_us) + 0.5) as u64, target)));
        events += 1;
    }
    events
}

fn phold(c: &mut Criterion) {
    let params = PholdParams::default();
    // Warm both to t = 5 s so the queues are in steady state.
    let warm_until = SimTime::from_secs(5);
    let mut warm = Phold::simulation(params, 1).expect("standard parameters are valid");
    warm.run_until(warm_until);
    let end = SimTime::from_secs(5 + SPAN_S);
    let events = warm.clone().run_until(end).events;

    let mut group = c.benchmark_group("phold");
    group.throughput(Throughput::Elements(events));
    group.sample_size(10).measurement_time(Duration::from_secs(15));
    for shards in [1usize, 2] {
        group.bench_function(format!("kernel_{shards}_shards"), |b| {
            b.iter_batched(
                || warm.clone(),
                |mut sim| {
                    black_box(sim.run_until_sharded(end, shards, params.lookahead()).expect("valid run").events);
                    sim // dropped outside the measurement
                },
                BatchSize::LargeInput,
            )
        });
    }

    let mut rng = ActorRng::for_actor(1, 0);
    let mut heap = BinaryHeap::with_capacity((params.lps * params.population) as usize);
    for lp in 0..params.lps {
        for _ in 0..params.population {
            let time = params.lookahead().as_micros() + (rng.exponential(params.mean_s * 1e6) + 0.5) as u64;
            heap.push(Reverse((time, lp)));
        }
    }
    binary_heap_phold(params, &mut heap, &mut rng, warm_until.as_micros());
    let baseline_events = binary_heap_phold(params, &mut heap.clone(), &mut rng.clone(), end.as_micros());
    group.throughput(Throughput::Elements(baseline_events));
    group.bench_function("binary_heap_bare_loop", |b| {
        b.iter_batched(
            || (heap.clone(), rng.clone()),
            |(mut heap, mut rng)| {
                black_box(binary_heap_phold(params, &mut heap, &mut rng, end.as_micros()));
                heap
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, phold);
criterion_main!(benches);
