//! The crowd model on the bundled Gangneung scenario (~60,000 visitors):
//! a whole day, and 30 simulated minutes run ahead from a fork of the busy
//! afternoon (what each forecast member does).

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use crowdtwin_sim::SimTime;
use crowdtwin_sim::model::{self, RunOutput};
use crowdtwin_sim::scenario::Scenario;
use std::hint::black_box;
use std::time::Duration;

const GANGNEUNG: &str = include_str!("../../scenarios/gangneung-2018.toml");

fn crowd(c: &mut Criterion) {
    let scenario = Scenario::parse(GANGNEUNG, "gangneung-2018.toml").expect("bundled scenario is valid");
    let mut group = c.benchmark_group("gangneung");
    group.sample_size(10).measurement_time(Duration::from_secs(10));
    group.bench_function("whole_day_build_run_collect", |b| {
        b.iter(|| {
            let mut sim = model::build(scenario.clone(), 2018);
            sim.run_until(scenario.end());
            black_box(RunOutput::collect(&sim, 2018).kpis.events)
        })
    });
    // 13:45 (t = 6 h 45 min): figure skating lets out at 14:00 and hockey
    // fans arrive; the 30 minutes ahead are among the day's busiest.
    let mut live = model::build(scenario.clone(), 2018);
    let now = SimTime::from_secs(6 * 3600 + 45 * 60);
    live.run_until(now);
    let ahead = SimTime::from_secs(now.as_micros() / 1_000_000 + 30 * 60);
    group.bench_function("fork_and_run_30_min_from_13_45", |b| {
        b.iter_batched(
            || (),
            |()| {
                let mut fork = live.clone();
                black_box(fork.run_until(ahead).events);
                fork
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, crowd);
criterion_main!(benches);
