//! Memory per visitor at scale (issue 16's goal: at most 300 bytes per
//! visitor at 1M visitors). Its own test binary, so that the process's peak
//! resident set is this run's alone. Memory, unlike time, does not depend
//! on the machine's load, so this is a test and not only a benchmark.

/// The allocator of the `crowdtwin` binary, so that the figure is the one a
/// user's run has.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(target_os = "linux")]
#[test]
fn a_million_visitor_day_keeps_under_300_bytes_per_visitor() {
    use crowdtwin_planner::run::{RunOptions, run_file};
    const VISITORS: u64 = 1_000_000;
    let dir = std::env::temp_dir().join(format!("crowdtwin-memory-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("park.toml");
    std::fs::write(&file, crowdtwin_planner::synthetic::park_toml(VISITORS)).unwrap();
    let options = RunOptions { seed: None, shards: 1, threads: 1, progress: false };
    let (output, _) = run_file(&file, &dir.join("out"), &options).unwrap();
    // The whole day ran (over a hundred events per visitor) and everyone
    // found a way.
    let kpis = &output.kpis;
    let came = kpis.population.ticket_holders + kpis.population.walk_ins;
    assert!(came >= 990_000, "{:?}", kpis.population);
    assert!(kpis.events >= 100 * came, "{} events", kpis.events);
    assert!(kpis.sessions.iter().all(|s| s.ended.is_some()));
    assert_eq!(kpis.stranded, 0);
    // Peak resident set of this process (the kernel's high-water mark).
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status");
    let per_visitor = (kib * 1024) as f64 / came as f64;
    println!(
        "{} events, {} left by transit, peak resident {} MiB, {per_visitor:.0} bytes per visitor",
        kpis.events,
        kpis.departed_by_transit,
        kib / 1024
    );
    assert!(per_visitor <= 300.0, "{per_visitor:.0} bytes per visitor");
    std::fs::remove_dir_all(&dir).ok();
}
