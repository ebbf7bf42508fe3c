//! The parser, the feasibility check and the search against small
//! hand-checked cases, exact optima and the published best-known scores.

use super::*;
use crate::kernel::ActorRng;
use std::time::{Duration, Instant};

/// `solve` with a wall-clock budget, as the command line runs it.
fn timed(instance: &Instance, seed: u64, budget: Duration) -> Solution {
    let started = Instant::now();
    solve(instance, seed, |_| started.elapsed() >= budget)
}

const C101: &str = include_str!("../../tests/data/optw/c101.txt");
const R101: &str = include_str!("../../tests/data/optw/r101.txt");
const R104: &str = include_str!("../../tests/data/optw/r104.txt");
const R107: &str = include_str!("../../tests/data/optw/r107.txt");
const RC101: &str = include_str!("../../tests/data/optw/rc101.txt");
const RC104: &str = include_str!("../../tests/data/optw/rc104.txt");
const C201: &str = include_str!("../../tests/data/optw/c201.txt");
const R202: &str = include_str!("../../tests/data/optw/r202.txt");
const R205: &str = include_str!("../../tests/data/optw/r205.txt");
const PR01: &str = include_str!("../../tests/data/optw/pr01.txt");
const PR12: &str = include_str!("../../tests/data/optw/pr12.txt");
const PR13: &str = include_str!("../../tests/data/optw/pr13.txt");
const PR15: &str = include_str!("../../tests/data/optw/pr15.txt");
const BKS: &str = include_str!("../../tests/data/optw/bks.csv");

/// Depot at (0, 0), Tmax 100; customer 1 at (3, 4) (distance 5), 2 at
/// (1, 1) (distance 1.414...), 3 at (0, 10).
const SMALL: &str = "\
1 1 3 1
0 100
0 0 0 0 0 0 0 0 100
1 3 4 2 10 1 1 1 0 20
2 1.0 1.0 0.5 5 1 1 1 10.25 30
3 0 10 0 7 1 2 1 2 50 60
";

fn bks(file: &str) -> f64 {
    let line = BKS.lines().find(|l| l.starts_with(&format!("{file},"))).expect("instance in bks.csv");
    line.split(',').nth(1).unwrap().parse().unwrap()
}

fn error_of(text: &str) -> OptwError {
    parse(text, "bad.txt").expect_err("should not parse")
}

#[test]
fn parses_a_small_instance() {
    let inst = parse(SMALL, "small.txt").unwrap();
    assert_eq!(inst.name, "small.txt");
    assert_eq!(inst.customers(), 3);
    assert_eq!(inst.vertices.len(), 4);
    assert_eq!(inst.tmax(), 100.0);
    assert_eq!(inst.distance_decimals(), 1);
    assert_eq!(inst.vertices[2], Vertex { x: 1.0, y: 1.0, service: 0.5, score: 5.0, open: 10.25, close: 30.0 });
    // O and C are the last two fields, whatever the visit pattern list.
    assert_eq!((inst.vertices[3].open, inst.vertices[3].close), (50.0, 60.0));
    assert_eq!(inst.distance(0, 1), 5.0);
    assert_eq!(inst.distance(0, 2), 1.4); // floor(14.14...) / 10
    assert_eq!(inst.distance(2, 0), 1.4);
    assert_eq!(inst.distance(1, 3), 6.7); // sqrt(45) = 6.708...
    assert_eq!(inst.total_score(), 22.0);
    // Two decimals for Cordeau-based names (by base name), or on request.
    assert_eq!(parse(SMALL, "some/dir/PR99.txt").unwrap().distance(0, 2), 1.41);
    assert_eq!(parse_with_decimals(SMALL, "small.txt", 3).unwrap().distance(0, 2), 1.414);
    assert_eq!(parse_with_decimals(SMALL, "small.txt", 0).unwrap().distance(1, 3), 6.0);
    assert_eq!(default_distance_decimals("pr01.txt"), 2);
    assert_eq!(default_distance_decimals("data/c101.txt"), 1);
    assert_eq!(default_distance_decimals("p"), 1);
    assert!(parse_with_decimals(SMALL, "small.txt", DECIMALS_MAX + 1).is_err());
    // Line 2 may be short, lines may end in CRLF, blank lines are skipped.
    let crlf = SMALL.replace("\n0 100\n", "\n100\n").replace('\n', "\r\n") + "\r\n\r\n";
    assert_eq!(parse(&crlf, "small.txt").unwrap().customers(), 3);
}

#[test]
fn parse_errors_name_the_line() {
    let e = error_of(&SMALL.replace("1 3 4 2 10", "1 3 x4 2 10"));
    assert_eq!(e.line, Some(4));
    assert!(e.message.contains("x coordinate") || e.message.contains("y coordinate"), "{e}");
    assert!(e.to_string().starts_with("bad.txt: line 4: "), "{e}");
    assert!(e.to_string().contains("`x4`"), "{e}");

    let e = error_of(&SMALL.replace("10.25 30", "10.25 3O"));
    assert_eq!(e.line, Some(5));
    assert!(e.message.contains("closing time"), "{e}");

    let e = error_of(&SMALL.replace("1 3 4 2 10 1 1 1 0 20", "1 3 4 2 10 1 0 20"));
    assert_eq!(e.line, Some(4));
    assert!(e.message.contains("at least 9 fields") && e.message.contains("found 8"), "{e}");

    let e = error_of(&SMALL.replace("1 1 3 1", "1 1 4 1"));
    assert_eq!(e.line, Some(1));
    assert!(e.message.contains("N = 4") && e.message.contains("the file has 4"), "{e}");

    let e = error_of(&SMALL.replace("1 1 3 1", "1 1 2 1"));
    assert_eq!(e.line, Some(6));
    assert!(e.message.contains("unexpected line"), "{e}");

    let e = error_of(&SMALL.replace("1 1 3 1", "1 1 three 1"));
    assert_eq!(e.line, Some(1));

    let e = error_of(&SMALL.replace("2 1.0 1.0", "7 1.0 1.0"));
    assert_eq!(e.line, Some(5));
    assert!(e.message.contains("vertex number 7, expected 2"), "{e}");

    let e = error_of(&SMALL.replace("0.5 5", "-0.5 5"));
    assert_eq!(e.line, Some(5));
    assert!(e.message.contains("negative service"), "{e}");

    let e = error_of(&SMALL.replace("1 1 1 0 20", "1 1 1 0 1e3"));
    assert!(e.message.contains("not a plain decimal"), "{e}");
    let e = error_of(&SMALL.replace("1 1 1 0 20", "1 1 1 0 20.1234567"));
    assert!(e.message.contains("more than 6 decimals"), "{e}");
    let e = error_of(&SMALL.replace("0 0 0 0 0 0 0 0 100", "0 0 0 0 0 0 0 0 -1"));
    assert!(e.message.contains("Tmax"), "{e}");

    assert_eq!(error_of("").line, None);
    assert!(error_of("1 1 3 1\n").message.contains("ends after line 1"));
}

#[test]
fn evaluate_checks_windows_and_budget_exactly() {
    let inst = parse(SMALL, "small.txt").unwrap();
    // 2 at 1.4, waits to 10.25, leaves 10.75; 1 at 10.75 + 2.2 = 12.95
    // (<= 20), leaves 14.95; back at 19.95.
    assert_eq!(evaluate(&inst, &[2, 1]), Ok(15.0));
    assert_eq!(evaluate(&inst, &[]), Ok(0.0));
    // 3 at 10, waits to 50, leaves 50; 2 at 50 + 9 = 59 > 30.
    let why = evaluate(&inst, &[3, 2]).unwrap_err();
    assert!(why.contains("customer 2 (position 1) is reached at 59.00") && why.contains("closes at 30.00"), "{why}");
    assert!(evaluate(&inst, &[1, 1]).unwrap_err().contains("twice"));
    assert!(evaluate(&inst, &[0]).unwrap_err().contains("not a customer"));
    assert!(evaluate(&inst, &[4]).unwrap_err().contains("not a customer"));
    // The budget: Tmax 55 lets 3 (back at 50 + 10 = 60) fail.
    let tight = SMALL.replace("0 0 0 0 0 0 0 0 100", "0 0 0 0 0 0 0 0 55");
    let inst = parse(&tight, "small.txt").unwrap();
    let why = evaluate(&inst, &[3]).unwrap_err();
    assert!(why.contains("back at the depot at 60.00") && why.contains("Tmax = 55.00"), "{why}");
    assert_eq!(evaluate(&inst, &[2, 1]), Ok(15.0));
}

/// The witness tours of the data README: feasible with the truncated
/// distances, and (all but c101) infeasible with real distances.
#[test]
fn distance_convention_matches_the_benchmark() {
    let witnesses: [(&str, &str, &[usize], f64); 4] = [
        (C101, "c101.txt", &[57, 63, 62, 74, 93, 97, 12, 2, 21, 75], 320.0),
        (R104, "r104.txt", &[94, 95, 59, 93, 85, 5, 48, 47, 19, 10, 31, 27], 303.0),
        (R107, "r107.txt", &[89, 5, 61, 86, 44, 16, 85, 59, 95, 94, 13, 58, 28], 299.0),
        (RC104, "rc104.txt", &[12, 10, 11, 78, 79, 7, 4, 6, 2, 70, 68], 301.0),
    ];
    for (text, name, route, score) in witnesses {
        let inst = parse(text, name).unwrap();
        assert_eq!(evaluate(&inst, route), Ok(score), "{name}");
        let real = parse_with_decimals(text, name, DECIMALS_MAX).unwrap();
        assert_eq!(evaluate(&real, route).is_ok(), name == "c101.txt", "{name} with real distances");
    }
    let why = evaluate(&parse_with_decimals(R104, "r104.txt", 2).unwrap(), witnesses[1].2).unwrap_err();
    // One more decimal and r104's tour misses customer 27's window (it
    // would then be back at 230.36 > Tmax = 230 as well).
    assert!(why.contains("customer 27 (position 11) is reached at 215.33"), "{why}");
}

#[test]
fn solver_output_is_feasible_and_deterministic() {
    for (text, name) in
        [(C101, "c101.txt"), (R101, "r101.txt"), (RC101, "rc101.txt"), (C201, "c201.txt"), (PR01, "pr01.txt")]
    {
        let inst = parse(text, name).unwrap();
        let a = solve_iterations(&inst, 7, 150);
        assert_eq!(a.iterations, 150);
        assert_eq!(evaluate(&inst, &a.route), Ok(a.score), "{name}");
        assert!(a.score > 0.0, "{name}");
        assert_eq!(solve_iterations(&inst, 7, 150), a, "{name}: same seed, same tour");
    }
    // A timed run is the fixed-count run of as many iterations.
    let inst = parse(R202, "r202.txt").unwrap();
    let run = timed(&inst, 3, Duration::from_millis(20));
    assert_eq!(evaluate(&inst, &run.route), Ok(run.score));
    assert_eq!(solve_iterations(&inst, 3, run.iterations), run);
    // No budget: just the greedy construction, still feasible.
    let greedy = timed(&inst, 3, Duration::ZERO);
    assert_eq!(greedy.iterations, 0);
    assert_eq!(evaluate(&inst, &greedy.route), Ok(greedy.score));
}

#[test]
fn solver_handles_degenerate_instances() {
    // Nothing reachable: every window closes before the customer can be reached.
    let text = "1 1 2 1\n0 0\n0 0 0 0 0 0 0 0 100\n1 50 0 1 5 1 1 1 0 10\n2 0 60 1 5 1 1 1 0 10\n";
    let inst = parse(text, "none.txt").unwrap();
    let sol = timed(&inst, 1, Duration::from_secs(5));
    assert_eq!((sol.route.as_slice(), sol.score), (&[][..], 0.0));
    // Everything fits (2, 1, then 3 back at 60): stops at once.
    let inst = parse(SMALL, "small.txt").unwrap();
    let sol = timed(&inst, 1, Duration::from_secs(5));
    assert_eq!(sol.score, inst.total_score());
    assert_eq!(evaluate(&inst, &sol.route), Ok(22.0));
}

/// Exact optimum by dynamic programming over (visited set, last
/// customer) keeping the earliest departure.
fn optimum(inst: &Instance) -> f64 {
    let n = inst.customers();
    let mut depart = vec![i64::MAX; (1 << n) * n];
    let mut best = 0.0f64;
    for k in 0..n {
        let arrive = inst.d(0, k + 1);
        if arrive <= inst.close[k + 1] {
            depart[(1 << k) * n + k] = arrive.max(inst.open[k + 1]) + inst.service[k + 1];
        }
    }
    for set in 1usize..1 << n {
        for last in 0..n {
            let t = depart[set * n + last];
            if t == i64::MAX {
                continue;
            }
            if t + inst.d(last + 1, 0) <= inst.tmax {
                best = best.max((0..n).filter(|b| set >> b & 1 == 1).map(|b| inst.score[b + 1]).sum());
            }
            for k in (0..n).filter(|k| set >> k & 1 == 0) {
                let arrive = t + inst.d(last + 1, k + 1);
                if arrive <= inst.close[k + 1] {
                    let slot = &mut depart[(set | 1 << k) * n + k];
                    *slot = (*slot).min(arrive.max(inst.open[k + 1]) + inst.service[k + 1]);
                }
            }
        }
    }
    best
}

#[test]
fn solver_finds_the_optimum_of_small_random_instances() {
    let mut rng = ActorRng::for_actor(2024, 1);
    for trial in 0..25 {
        let n = 9;
        let tmax = 100 + rng.below(200);
        let mut text = format!("1 1 {n} 1\n0 0\n0 50 50 0 0 0 0 0 {tmax}\n");
        for i in 1..=n {
            let open = rng.below(tmax / 2);
            let close = open + 5 + rng.below(80);
            let (x, y, service, score) = (rng.below(100), rng.below(100), rng.below(10), 1 + rng.below(30));
            text += &format!("{i} {x} {y} {service} {score} 1 1 1 {open} {close}\n");
        }
        let inst = parse(&text, "random.txt").unwrap();
        let sol = solve_iterations(&inst, 1, 1500);
        assert_eq!(evaluate(&inst, &sol.route), Ok(sol.score));
        assert_eq!(sol.score, optimum(&inst), "trial {trial}:\n{text}");
    }
}

/// Against the published best-known scores: within 5% in 100 ms, and
/// never above (a score above would mean a wrong distance convention).
#[test]
fn solver_reaches_best_known_scores() {
    for (text, name) in [(C101, "c101.txt"), (R101, "r101.txt"), (RC101, "rc101.txt"), (PR01, "pr01.txt")] {
        let inst = parse(text, name).unwrap();
        let sol = timed(&inst, 1, Duration::from_millis(100));
        let best = bks(name);
        assert_eq!(evaluate(&inst, &sol.route), Ok(sol.score), "{name}");
        assert!(sol.score >= 0.95 * best, "{name}: {} is more than 5% below the best known {best}", sol.score);
        assert!(sol.score <= best, "{name}: {} is above the best known {best}", sol.score);
    }
    // A long-tour instance with Cordeau distances stays below its BKS too.
    let inst = parse(PR12, "pr12.txt").unwrap();
    let sol = timed(&inst, 1, Duration::from_millis(100));
    assert!(sol.score <= bks("pr12.txt") && sol.score >= 0.95 * bks("pr12.txt"), "pr12: {}", sol.score);
}

/// A long tour with wide windows (r205, 100 customers, Tmax 1000): within
/// 1% of the best known score in 300 iterations for every seed tried. The
/// search before the don't-look bits stayed 3.4-4.2% below (913-920) at
/// this budget with the same seeds.
#[test]
fn solver_closes_the_gap_on_a_wide_window_instance() {
    let inst = parse(R205, "r205.txt").unwrap();
    let best = bks("r205.txt");
    for seed in 1..=5 {
        let sol = solve_iterations(&inst, seed, 300);
        assert_eq!(evaluate(&inst, &sol.route), Ok(sol.score), "seed {seed}");
        assert!(sol.score >= 0.99 * best, "seed {seed}: {} is more than 1% below the best known {best}", sol.score);
    }
}

/// The largest instance shown (pr15: 288 customers, Tmax 1000, windows
/// about 190 wide), 400 iterations: every tour feasible under the
/// independent check, within 1% of the best known 708 for every seed tried
/// (707 each), and the same tour again for the same seed. The search before
/// the exchange move reached 705, 671 and 675 with these seeds.
#[test]
fn solver_holds_on_the_largest_instance() {
    let inst = parse(PR15, "pr15.txt").unwrap();
    let best = bks("pr15.txt");
    for seed in 1..=3 {
        let sol = solve_near_best(&inst, best, seed, 0.99 * best);
        assert_eq!(sol.iterations, 400);
        assert_eq!(solve_iterations(&inst, seed, 400), sol, "seed {seed}: not deterministic");
    }
}

/// 400 iterations with `seed`: a tour the independent check accepts with
/// its score, at least `floor` and at most the best known `best`.
fn solve_near_best(inst: &Instance, best: f64, seed: u64, floor: f64) -> Solution {
    let sol = solve_iterations(inst, seed, 400);
    assert_eq!(evaluate(inst, &sol.route), Ok(sol.score), "seed {seed}: tour infeasible or score wrong");
    assert!(sol.score >= floor, "seed {seed}: {} is below {floor} (best known {best})", sol.score);
    assert!(sol.score <= best, "seed {seed}: {} is above the best known {best}", sol.score);
    sol
}

/// pr13 (144 customers, tours of about 25): the greedy start and its
/// iterated local search stop at 458 of 467 for most seeds within 400
/// iterations; the fresh starts from beam-built tours reach the region of
/// the best known one.
#[test]
fn solver_leaves_the_greedy_region_on_a_sparse_instance() {
    let inst = parse(PR13, "pr13.txt").unwrap();
    let best = bks("pr13.txt");
    for seed in 1..=3 {
        solve_near_best(&inst, best, seed, best - 1.0);
    }
}
