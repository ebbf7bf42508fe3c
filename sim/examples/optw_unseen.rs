//! Unseen OPTW instances of the large wide-window kinds (r2-, rc2- and
//! pr11-pr20-like), seeded, written in the KU Leuven format with a
//! `bks.csv` of reference scores from a long run of the solver, so that
//! `optw_bench` can score short runs against them:
//!
//! ```sh
//! cargo run --release -p crowdtwin-sim --example optw_unseen -- /tmp/optw-unseen 10000 3
//! cargo run --release -p crowdtwin-sim --example optw_bench -- 100 5 /tmp/optw-unseen
//! ```
//!
//! Arguments: output folder, reference budget per instance in ms of wall
//! time (default 10,000), instances per kind (default 3), number of the
//! first instance of each kind (default 1; e.g. 5 with 4 per kind writes
//! `*-u05` to `*-u08`, another set of the same kinds and sizes). The reference is
//! the better of two runs of half the budget each (seeds 1001 and 1002),
//! each tour checked by `evaluate`.

use crowdtwin_sim::optw;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// SplitMix64: a small seeded generator, enough for instance data.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform integer in `lo..=hi`.
    fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }
}

/// One kind of instance: customers, coordinate box, depot, service times,
/// scores, window half-widths, budget; clustered share (rc).
struct Kind {
    prefix: &'static str,
    customers: &'static [usize],
    side: f64,
    depot: (f64, f64),
    service: (i64, i64),
    score: (i64, i64),
    half_width: (i64, i64),
    tmax: i64,
    clustered: f64,
}

const KINDS: [Kind; 3] = [
    Kind {
        prefix: "r2",
        customers: &[100],
        side: 100.0,
        depot: (35.0, 35.0),
        service: (10, 10),
        score: (1, 41),
        half_width: (60, 250),
        tmax: 1000,
        clustered: 0.0,
    },
    Kind {
        prefix: "rc2",
        customers: &[100],
        side: 100.0,
        depot: (40.0, 50.0),
        service: (10, 10),
        score: (3, 40),
        half_width: (60, 250),
        tmax: 960,
        clustered: 0.5,
    },
    Kind {
        prefix: "pr",
        customers: &[144, 192, 240, 288],
        side: 100.0,
        depot: (0.0, 0.0),
        service: (1, 25),
        score: (1, 25),
        half_width: (80, 110),
        tmax: 1000,
        clustered: 0.0,
    },
];

/// The instance text: coordinates, service, score, window per customer.
fn instance(kind: &Kind, n: usize, g: &mut Gen) -> String {
    let mut text = String::new();
    writeln!(text, "1 1 {n} 1\n0 0").unwrap();
    let (dx, dy) = kind.depot;
    writeln!(text, "0 {dx:.2} {dy:.2} 0 0 0 0 0 {}", kind.tmax).unwrap();
    let lo = if kind.prefix == "pr" { -kind.side } else { 0.0 };
    let span = kind.side - lo;
    let centres: Vec<(f64, f64)> = (0..8).map(|_| (lo + span * g.unit(), lo + span * g.unit())).collect();
    for i in 1..=n {
        let (x, y) = if g.unit() < kind.clustered {
            let (cx, cy) = centres[g.int(0, 7) as usize];
            let r = 8.0 * g.unit();
            let a = std::f64::consts::TAU * g.unit();
            ((cx + r * a.cos()).clamp(lo, kind.side), (cy + r * a.sin()).clamp(lo, kind.side))
        } else {
            (lo + span * g.unit(), lo + span * g.unit())
        };
        let service = g.int(kind.service.0, kind.service.1);
        let score = g.int(kind.score.0, kind.score.1);
        // A window the tour can reach and return from: centre between the
        // earliest arrival and the latest start.
        let reach = ((x - dx).hypot(y - dy)).ceil() as i64;
        let latest = (kind.tmax - reach - service).max(reach);
        let centre = g.int(reach, latest);
        let half = g.int(kind.half_width.0, kind.half_width.1);
        let open = (centre - half).max(0);
        let close = (centre + half).min(latest);
        writeln!(text, "{i} {x:.2} {y:.2} {service} {score} 0 0 {open} {close}").unwrap();
    }
    text
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = args.get(1).expect("usage: optw_unseen <dir> [reference-ms] [per-kind] [first]");
    let reference = Duration::from_millis(args.get(2).map_or(10_000, |a| a.parse().expect("reference ms")));
    let per_kind: usize = args.get(3).map_or(3, |a| a.parse().expect("instances per kind"));
    let first: usize = args.get(4).map_or(1, |a| a.parse().expect("first instance number"));
    assert!(first >= 1, "instances are numbered from 1");
    std::fs::create_dir_all(dir).expect("output folder");
    let mut bks = String::from("instance,score,source\n");
    for (k, kind) in KINDS.iter().enumerate() {
        for t in first - 1..first - 1 + per_kind {
            let mut g = Gen(0x5EED_0000 + 100 * k as u64 + t as u64);
            let n = kind.customers[t % kind.customers.len()];
            let name = format!("{}-u{:02}.txt", kind.prefix, t + 1);
            let text = instance(kind, n, &mut g);
            std::fs::write(format!("{dir}/{name}"), &text).expect("write instance");
            let inst = optw::parse(&text, &name).expect("generated instance parses");
            let mut best = 0.0f64;
            for seed in [1001, 1002] {
                let started = Instant::now();
                let sol = optw::solve(&inst, seed, |_| started.elapsed() >= reference / 2);
                let score = optw::evaluate(&inst, &sol.route).expect("feasible tour");
                println!("{name} ({n} customers) reference seed {seed}: {score} ({} iterations)", sol.iterations);
                best = best.max(score);
            }
            writeln!(bks, "{name},{best},long run").unwrap();
        }
    }
    std::fs::write(format!("{dir}/bks.csv"), bks).expect("write bks.csv");
}
