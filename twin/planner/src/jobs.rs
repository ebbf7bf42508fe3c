//! Independent runs spread over threads, results in job order whatever the
//! threads (compare's paired seeds, the recommendation shares).

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Runs `run(job)` for every job `0..jobs` on at most `threads` threads and
/// returns the results in job order; `done(finished, jobs)` is called as
/// each finishes.
pub fn run_all<R: Send>(
    jobs: usize,
    threads: usize,
    run: impl Fn(usize) -> R + Sync,
    done: impl Fn(usize, usize) + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let finished = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..jobs).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, jobs.max(1)) {
            scope.spawn(|| {
                loop {
                    let job = next.fetch_add(1, Ordering::SeqCst);
                    if job >= jobs {
                        break;
                    }
                    let result = run(job);
                    results.lock().unwrap_or_else(|e| e.into_inner())[job] = Some(result);
                    done(finished.fetch_add(1, Ordering::SeqCst) + 1, jobs);
                }
            });
        }
    });
    results.into_inner().unwrap_or_else(|e| e.into_inner()).into_iter().map(|r| r.expect("every job ran")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_job_order_whatever_the_threads() {
        let calls = AtomicUsize::new(0);
        for threads in [1, 2, 5, 64] {
            let squares = run_all(
                17,
                threads,
                |j| j * j,
                |_, _| {
                    calls.fetch_add(1, Ordering::SeqCst);
                },
            );
            assert_eq!(squares, (0..17).map(|j| j * j).collect::<Vec<_>>());
        }
        assert_eq!(calls.load(Ordering::SeqCst), 4 * 17, "done once per job");
        assert!(run_all(0, 4, |j| j, |_, _| {}).is_empty());
    }
}
