//! A full forecast cycle of the live twin on the bundled Gangneung day:
//! 32 members forked at 13:45 and run 30 minutes ahead on all cores, then
//! summarised into quantiles and alerts (goal: <= 2 s on 2 cores).

use criterion::{Criterion, criterion_group, criterion_main};
use crowdtwin_live::{Twin, TwinConfig};
use crowdtwin_sim::SimTime;
use crowdtwin_sim::scenario::Scenario;
use std::hint::black_box;
use std::time::Duration;

const GANGNEUNG: &str = include_str!("../../scenarios/gangneung-2018.toml");

fn forecast_cycle(c: &mut Criterion) {
    let scenario = Scenario::parse(GANGNEUNG, "gangneung-2018.toml").expect("bundled scenario is valid");
    let mut twin = Twin::new(scenario, TwinConfig { members: 32, ..Default::default() }).expect("valid config");
    twin.advance(SimTime::from_secs(6 * 3600 + 45 * 60));
    let mut group = c.benchmark_group("twin");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    group.bench_function("forecast_32_members_30_min_at_13_45", |b| b.iter(|| black_box(twin.forecast().alerts.len())));
    group.finish();
}

criterion_group!(benches, forecast_cycle);
criterion_main!(benches);
