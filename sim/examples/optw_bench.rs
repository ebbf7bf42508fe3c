//! The OPTW benchmark: every instance in `sim/tests/data/optw/` solved with
//! a wall-clock budget, the gap to the best-known score per instance and
//! the mean gap per family.
//!
//! ```sh
//! cargo run --release -p crowdtwin-sim --example optw_bench -- [budget-ms] [seeds] [dir]
//! ```
//!
//! `seeds` is a count (seeds 1..=count, default 1); the budget defaults to
//! 100 ms of wall time (as `crowdtwin optw --budget-ms`); `i300` runs 300
//! iterations instead, and `OPTW_CPU=1` counts the budget in this thread's
//! CPU time (Linux), for comparing settings on a loaded machine. Prints one
//! line per instance and seed, then the table (gaps are signed: a score
//! above the best known gives a negative gap, and a line saying so).

use crowdtwin_sim::optw;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The family of an instance file: `pr01`-`pr05`, `pr11`-`pr15`, or the
/// Solomon class (`c1`, `r2`, `rc2`, ...).
fn family(name: &str) -> String {
    if let Some(num) = name.strip_prefix("pr") {
        let n: u32 = num.trim_end_matches(".txt").parse().unwrap_or(0);
        return if n <= 10 { "pr01-pr05".into() } else { "pr11-pr15".into() };
    }
    let letters: String = name.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
    let class = name[letters.len()..].chars().next().unwrap_or('?');
    format!("{letters}{class}")
}

/// This thread's CPU time (Linux), for comparing settings on a loaded machine.
fn thread_cpu() -> Duration {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").expect("schedstat");
    Duration::from_nanos(text.split_whitespace().next().and_then(|t| t.parse().ok()).expect("run time"))
}

fn main() {
    // OPTW_CPU=1: budgets in this thread's CPU time instead of wall time.
    let cpu = std::env::var_os("OPTW_CPU").is_some();
    let args: Vec<String> = std::env::args().collect();
    // `i500`: 500 iterations instead of a time budget (independent of load).
    let budget_arg = args.get(1).map_or("100", String::as_str);
    let iterations: Option<u64> = budget_arg.strip_prefix('i').map(|n| n.parse().expect("iteration count"));
    let budget =
        Duration::from_millis(if iterations.is_some() { 0 } else { budget_arg.parse().expect("budget in ms") });
    let seeds: u64 = args.get(2).map_or(1, |a| a.parse().expect("seed count"));
    let dir = args.get(3).cloned().unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/optw").into());
    let bks_text = std::fs::read_to_string(format!("{dir}/bks.csv")).expect("bks.csv");
    let bks: BTreeMap<String, f64> = bks_text
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split(',');
            Some((f.next()?.to_string(), f.next()?.parse().ok()?))
        })
        .collect();
    // family -> (sum of gaps per seed, instances)
    let mut families: BTreeMap<String, (Vec<f64>, usize)> = BTreeMap::new();
    for (name, &best) in &bks {
        // A directory may hold only some of the instances.
        let Ok(text) = std::fs::read_to_string(format!("{dir}/{name}")) else { continue };
        let inst = optw::parse(&text, name).expect("instance parses");
        let entry = families.entry(family(name)).or_insert_with(|| (vec![0.0; seeds as usize], 0));
        entry.1 += 1;
        for seed in 1..=seeds {
            let started = Instant::now();
            let sol = match iterations {
                Some(count) => optw::solve_iterations(&inst, seed, count),
                None if cpu => {
                    let start = thread_cpu();
                    optw::solve(&inst, seed, |_| thread_cpu() - start >= budget)
                }
                None => optw::solve(&inst, seed, |_| started.elapsed() >= budget),
            };
            let wall = started.elapsed().as_secs_f64() * 1e3;
            let score = optw::evaluate(&inst, &sol.route).expect("feasible tour");
            if score > best {
                println!("{name} seed {seed}: {score} ABOVE the best known {best}: {:?}", sol.route);
            }
            let gap = 100.0 * (best - score) / best;
            entry.0[seed as usize - 1] += gap;
            println!(
                "{name} seed {seed}: {score} / {best} gap {gap:.2}% ({} iterations, {wall:.1} ms)",
                sol.iterations
            );
        }
    }
    println!("| family | instances | mean gap seed 1 | mean gap seeds 1-{seeds} |");
    let (mut all, mut count) = (vec![0.0; seeds as usize], 0);
    for (fam, (gaps, n)) in &families {
        let mean = gaps.iter().sum::<f64>() / (gaps.len() * n) as f64;
        println!("| {fam} | {n} | {:.2}% | {mean:.2}% |", gaps[0] / *n as f64);
        for (a, g) in all.iter_mut().zip(gaps) {
            *a += g;
        }
        count += n;
    }
    let mean = all.iter().sum::<f64>() / (all.len() * count) as f64;
    println!("| all | {count} | {:.2}% | {mean:.2}% |", all[0] / count as f64);
}
