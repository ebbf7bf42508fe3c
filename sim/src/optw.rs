//! The Orienteering Problem with Time Windows (OPTW), one tour: an instance
//! parser for the KU Leuven "TOPTW test instances" format, an exact
//! feasibility checker, and an iterated local search.
//!
//! The problem: a tour leaves the depot (vertex 0) at time 0 and must be back
//! by `Tmax` (the depot's closing time); it may visit each customer at most
//! once, starting service within the customer's window `[open, close]`
//! (arriving early means waiting) and leaving `service` later; travel time is
//! the distance. Maximise the sum of the visited customers' scores.
//!
//! Distances follow the benchmark convention: Euclidean distance truncated to
//! one decimal (`floor(10 d) / 10`, Solomon-based files) or to two decimals
//! (`floor(100 d) / 100`, Cordeau-based `pr*` files). All times are kept as
//! exact integers in units of `10^-decimals`, so feasibility is decided
//! without rounding error.
//!
//! The solver ([`solve`]) is an iterated local search in the family of
//! Vansteenwegen, Souffriau, Vanden Berghe & Van Oudheusden (2009),
//! "Iterated local search for the team orienteering problem with time
//! windows", Computers & Operations Research 36(12): greedy insertion by
//! `score^2 / added time` with `wait`/`maxShift` bookkeeping (each insertion
//! checked in O(1)), shaking by removing a block of consecutive visits, plus
//! tour-shortening moves (2-opt, or-opt, swap) checked in O(1) each with the
//! time-window segment concatenation of Vidal et al. (2013), and a
//! replace move that swaps a visit for a better unvisited customer.
//!
//! This is the one place in the crate that reads the wall clock: [`solve`]
//! stops when its budget is spent. [`solve_iterations`] runs a fixed number
//! of iterations and never reads it; with one seed both explore the same
//! sequence, so a timed run equals the fixed-count run of as many iterations.

use crate::kernel::ActorRng;
use std::fmt;
use std::time::{Duration, Instant};

/// Most digits after the decimal point in a number of an instance file, and
/// the most decimals a distance may be truncated to.
pub const DECIMALS_MAX: u32 = 6;

/// Most vertices (depot included) in an instance; the distance matrix holds
/// the square of this many entries.
pub const VERTICES_MAX: usize = 3_000;

/// Largest magnitude of any number in an instance file.
const MAGNITUDE_MAX: i128 = 1_000_000_000;

/// Scale of the exact coordinates: micro-units (`DECIMALS_MAX` decimals).
const COORD_SCALE: i128 = 1_000_000;

/// A vertex as written in the file (vertex 0 is the depot).
#[derive(Clone, Debug, PartialEq)]
pub struct Vertex {
    /// x coordinate.
    pub x: f64,
    /// y coordinate.
    pub y: f64,
    /// Service (visit) duration; ignored for the depot.
    pub service: f64,
    /// Score (profit) of a visit; ignored for the depot.
    pub score: f64,
    /// Earliest start of service; ignored for the depot (the tour leaves at 0).
    pub open: f64,
    /// Latest start of service; for the depot, the tour budget `Tmax`.
    pub close: f64,
}

/// An OPTW instance: vertices and the truncated distance matrix.
///
/// The distances and the exact integer times used by [`evaluate`] and
/// [`solve`] are computed once by the parser; `vertices` is for reading only
/// (changing it afterwards does not change the instance that is solved).
#[derive(Clone, Debug)]
pub struct Instance {
    /// Name given to the parser (usually the file name).
    pub name: String,
    /// Depot (index 0) and customers `1..=N`.
    pub vertices: Vec<Vertex>,
    distance_decimals: u32,
    /// Times are integers in units of `1 / unit`.
    unit: i64,
    unit_decimals: u32,
    n: usize,
    /// Row-major `n x n`, in time units.
    dist: Vec<i64>,
    service: Vec<i64>,
    open: Vec<i64>,
    close: Vec<i64>,
    score: Vec<f64>,
    tmax: i64,
}

impl Instance {
    /// Number of customers `N` (vertices other than the depot).
    pub fn customers(&self) -> usize {
        self.n - 1
    }

    /// The tour budget `Tmax` (the depot's closing time).
    pub fn tmax(&self) -> f64 {
        self.to_f64(self.tmax)
    }

    /// Truncated travel time between vertices `i` and `j`.
    pub fn distance(&self, i: usize, j: usize) -> f64 {
        self.to_f64(self.d(i, j))
    }

    /// Decimals the Euclidean distances are truncated to.
    pub fn distance_decimals(&self) -> u32 {
        self.distance_decimals
    }

    /// Sum of all customers' scores (an upper bound on any tour's score).
    pub fn total_score(&self) -> f64 {
        self.score[1..].iter().sum()
    }

    #[inline]
    fn d(&self, i: usize, j: usize) -> i64 {
        self.dist[i * self.n + j]
    }

    fn to_f64(&self, t: i64) -> f64 {
        t as f64 / self.unit as f64
    }

    /// Exact decimal text of a time in units.
    fn show(&self, t: i64) -> String {
        if self.unit_decimals == 0 {
            return t.to_string();
        }
        let sign = if t < 0 { "-" } else { "" };
        let a = t.unsigned_abs();
        let u = self.unit as u64;
        format!("{sign}{}.{:0w$}", a / u, a % u, w = self.unit_decimals as usize)
    }
}

/// Why an instance could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptwError {
    /// Name given to the parser.
    pub name: String,
    /// 1-based line the problem is on, where there is one.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for OptwError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}: line {}: {}", self.name, line, self.message),
            None => write!(f, "{}: {}", self.name, self.message),
        }
    }
}

impl std::error::Error for OptwError {}

/// The distance decimals of the benchmark convention for a file name: 2 for
/// Cordeau-based files (base name starting with `pr`, any case), else 1.
pub fn default_distance_decimals(name: &str) -> u32 {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name).as_bytes();
    if base.len() >= 2 && base[..2].eq_ignore_ascii_case(b"pr") { 2 } else { 1 }
}

/// Reads an instance, truncating distances to
/// [`default_distance_decimals`]`(name)` decimals.
pub fn parse(text: &str, name: &str) -> Result<Instance, OptwError> {
    parse_with_decimals(text, name, default_distance_decimals(name))
}

/// A plain decimal number: `mantissa / 10^decimals`, trailing zeros removed.
#[derive(Clone, Copy, Debug)]
struct Decimal {
    mantissa: i128,
    decimals: u32,
}

impl Decimal {
    fn parse(token: &str) -> Result<Decimal, String> {
        let bad = || format!("`{token}` is not a plain decimal number");
        let (negative, body) = match token.as_bytes().first() {
            Some(b'-') => (true, &token[1..]),
            Some(b'+') => (false, &token[1..]),
            _ => (false, token),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        if int.is_empty() && frac.is_empty() {
            return Err(bad());
        }
        if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let frac = frac.trim_end_matches('0');
        let int = int.trim_start_matches('0');
        if frac.len() > DECIMALS_MAX as usize {
            return Err(format!("`{token}` has more than {DECIMALS_MAX} decimals"));
        }
        if int.len() > 12 {
            return Err(format!("`{token}` is out of range (magnitude at most {MAGNITUDE_MAX})"));
        }
        let mut mantissa: i128 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            mantissa = mantissa * 10 + i128::from(b - b'0');
        }
        let decimals = frac.len() as u32;
        if mantissa > MAGNITUDE_MAX * 10i128.pow(decimals) {
            return Err(format!("`{token}` is out of range (magnitude at most {MAGNITUDE_MAX})"));
        }
        Ok(Decimal { mantissa: if negative { -mantissa } else { mantissa }, decimals })
    }

    /// The value in units of `10^-decimals` (`decimals >= self.decimals`).
    fn scaled(self, decimals: u32) -> i128 {
        self.mantissa * 10i128.pow(decimals - self.decimals)
    }

    fn is_negative(self) -> bool {
        self.mantissa < 0
    }
}

struct RawVertex {
    x: Decimal,
    y: Decimal,
    service: Decimal,
    open: Decimal,
    close: Decimal,
    vertex: Vertex,
}

/// Reads an instance, truncating Euclidean distances to `distance_decimals`
/// decimals (at most [`DECIMALS_MAX`]).
pub fn parse_with_decimals(text: &str, name: &str, distance_decimals: u32) -> Result<Instance, OptwError> {
    let error = |line: Option<usize>, message: String| OptwError { name: name.to_string(), line, message };
    if distance_decimals > DECIMALS_MAX {
        return Err(error(None, format!("distance decimals {distance_decimals} is more than {DECIMALS_MAX}")));
    }
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    let Some((_, header)) = lines.next() else {
        return Err(error(None, "empty file".to_string()));
    };
    let fields: Vec<&str> = header.split_whitespace().collect();
    if fields.len() < 3 {
        return Err(error(
            Some(1),
            format!("header needs at least 3 fields `k v N ...` (N = customers), found {}", fields.len()),
        ));
    }
    let customers: usize = fields[2]
        .parse()
        .map_err(|_| error(Some(1), format!("bad number of customers N `{}` (third field)", fields[2])))?;
    if customers == 0 || customers + 1 > VERTICES_MAX {
        return Err(error(Some(1), format!("number of customers N = {customers} is outside 1..={}", VERTICES_MAX - 1)));
    }
    // Line 2 (`D Q`) is not used.
    if lines.next().is_none() {
        return Err(error(None, "file ends after line 1; expected line 2 and the vertex lines".to_string()));
    }
    let expected = customers + 1;
    let mut raw: Vec<RawVertex> = Vec::with_capacity(expected);
    for (number, line) in lines {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.is_empty() {
            continue;
        }
        let at = Some(number);
        if raw.len() == expected {
            return Err(error(
                at,
                format!("unexpected line after the {expected} vertex lines (line 1 says N = {customers})"),
            ));
        }
        if f.len() < 9 {
            return Err(error(at, format!("vertex line needs at least 9 fields `i x y d S f a O C`, found {}", f.len())));
        }
        let index: usize = f[0].parse().map_err(|_| error(at, format!("bad vertex number `{}`", f[0])))?;
        if index != raw.len() {
            return Err(error(at, format!("vertex number {index}, expected {}", raw.len())));
        }
        let number_of = |token: &str, what: &str| {
            Decimal::parse(token).map_err(|why| error(at, format!("bad {what} of vertex {index}: {why}")))
        };
        let value = |token: &str| token.parse::<f64>().unwrap_or(f64::NAN);
        let (o, c) = (f[f.len() - 2], f[f.len() - 1]);
        let v = RawVertex {
            x: number_of(f[1], "x coordinate")?,
            y: number_of(f[2], "y coordinate")?,
            service: number_of(f[3], "service duration d")?,
            open: number_of(o, "opening time O")?,
            close: number_of(c, "closing time C")?,
            vertex: Vertex {
                x: value(f[1]),
                y: value(f[2]),
                service: value(f[3]),
                score: value(f[4]),
                open: value(o),
                close: value(c),
            },
        };
        number_of(f[4], "score S")?;
        if v.service.is_negative() {
            return Err(error(at, format!("negative service duration `{}` of vertex {index}", f[3])));
        }
        if index == 0 && v.close.is_negative() {
            return Err(error(at, format!("negative tour budget Tmax `{c}` (the depot's closing time)")));
        }
        raw.push(v);
    }
    if raw.len() < expected {
        return Err(error(
            Some(1),
            format!("line 1 says N = {customers} customers, so {expected} vertex lines, but the file has {}", raw.len()),
        ));
    }

    // Times in units fine enough for the distances and every written time.
    let unit_decimals = raw
        .iter()
        .flat_map(|v| [v.service.decimals, v.open.decimals, v.close.decimals])
        .fold(distance_decimals, u32::max);
    let unit = 10i64.pow(unit_decimals);
    let time = |d: Decimal| d.scaled(unit_decimals) as i64;
    let n = raw.len();
    let xs: Vec<i128> = raw.iter().map(|v| v.x.scaled(DECIMALS_MAX)).collect();
    let ys: Vec<i128> = raw.iter().map(|v| v.y.scaled(DECIMALS_MAX)).collect();
    debug_assert_eq!(COORD_SCALE, 10i128.pow(DECIMALS_MAX));
    // floor(10^k d) = isqrt(floor(s 10^2k / 10^12)) with s = dx^2 + dy^2 in
    // micro-units squared: exact, no floating point.
    let divisor = 10u128.pow(2 * (DECIMALS_MAX - distance_decimals));
    let widen = 10i64.pow(unit_decimals - distance_decimals);
    let mut dist = vec![0i64; n * n];
    for i in 0..n {
        for j in 0..n {
            let (dx, dy) = (xs[i] - xs[j], ys[i] - ys[j]);
            let s = (dx * dx + dy * dy) as u128;
            dist[i * n + j] = (s / divisor).isqrt() as i64 * widen;
        }
    }
    let mut service: Vec<i64> = raw.iter().map(|v| time(v.service)).collect();
    let mut open: Vec<i64> = raw.iter().map(|v| time(v.open)).collect();
    let close: Vec<i64> = raw.iter().map(|v| time(v.close)).collect();
    let mut score: Vec<f64> = raw.iter().map(|v| v.vertex.score).collect();
    let tmax = close[0];
    service[0] = 0;
    open[0] = 0;
    score[0] = 0.0;
    Ok(Instance {
        name: name.to_string(),
        vertices: raw.into_iter().map(|v| v.vertex).collect(),
        distance_decimals,
        unit,
        unit_decimals,
        n,
        dist,
        service,
        open,
        close,
        score,
        tmax,
    })
}

/// A tour: the customers in visit order (depot left out at both ends) and
/// their total score.
#[derive(Clone, Debug, PartialEq)]
pub struct Solution {
    /// Customer vertex ids in visit order, the depot excluded.
    pub route: Vec<usize>,
    /// Sum of the visited customers' scores.
    pub score: f64,
    /// Search iterations run (the construction not counted).
    pub iterations: u64,
}

/// Checks a tour exactly (every window and the budget, with the truncated
/// distances) and returns its score, or why it is infeasible. Service starts
/// as early as possible; `route` lists customer ids, depot excluded.
pub fn evaluate(instance: &Instance, route: &[usize]) -> Result<f64, String> {
    let inst = instance;
    let mut seen = vec![false; inst.n];
    let (mut depart, mut prev, mut score) = (0i64, 0usize, 0.0);
    for (position, &v) in route.iter().enumerate() {
        if v == 0 || v >= inst.n {
            return Err(format!("position {position}: {v} is not a customer id (1..={})", inst.n - 1));
        }
        if seen[v] {
            return Err(format!("customer {v} is visited twice (again at position {position})"));
        }
        seen[v] = true;
        let arrive = depart + inst.d(prev, v);
        if arrive > inst.close[v] {
            return Err(format!(
                "customer {v} (position {position}) is reached at {}, after its window closes at {}",
                inst.show(arrive),
                inst.show(inst.close[v])
            ));
        }
        depart = arrive.max(inst.open[v]) + inst.service[v];
        prev = v;
        score += inst.score[v];
    }
    let back = depart + inst.d(prev, 0);
    if back > inst.tmax {
        return Err(format!(
            "the tour is back at the depot at {}, after the budget Tmax = {}",
            inst.show(back),
            inst.show(inst.tmax)
        ));
    }
    Ok(score)
}

/// Searches for a high-scoring tour for `budget` of wall-clock time (the
/// greedy construction always runs, even with a zero budget).
///
/// Deterministic in the seed: one seed always explores the same sequence of
/// tours, so two runs differ only in how many iterations they got through
/// (`Solution::iterations`); [`solve_iterations`] with that count gives the
/// same tour.
pub fn solve(instance: &Instance, seed: u64, budget: Duration) -> Solution {
    let started = Instant::now();
    search(instance, seed, |_| started.elapsed() >= budget)
}

/// [`solve`] for a fixed number of iterations; never reads the clock.
pub fn solve_iterations(instance: &Instance, seed: u64, iterations: u64) -> Solution {
    search(instance, seed, |done| done >= iterations)
}

/// A tour with the bookkeeping of Vansteenwegen et al.: per position the
/// start of service, the waiting before it, and `max_shift`, how much the
/// start there may be delayed without breaking any later window or the
/// budget.
#[derive(Clone, Debug)]
struct Tour {
    /// Depot, customers, depot.
    nodes: Vec<usize>,
    start: Vec<i64>,
    wait: Vec<i64>,
    max_shift: Vec<i64>,
    score: f64,
    visited: Vec<bool>,
}

impl Tour {
    fn empty(inst: &Instance) -> Tour {
        let mut tour = Tour {
            nodes: vec![0, 0],
            start: Vec::new(),
            wait: Vec::new(),
            max_shift: Vec::new(),
            score: 0.0,
            visited: vec![false; inst.n],
        };
        tour.update(inst);
        tour
    }

    fn len(&self) -> usize {
        self.nodes.len() - 2
    }

    fn end(&self) -> i64 {
        self.start[self.nodes.len() - 1]
    }

    fn update(&mut self, inst: &Instance) {
        let m = self.nodes.len();
        self.start.resize(m, 0);
        self.wait.resize(m, 0);
        self.max_shift.resize(m, 0);
        self.start[0] = 0;
        self.wait[0] = 0;
        for p in 1..m {
            let (a, b) = (self.nodes[p - 1], self.nodes[p]);
            let arrive = self.start[p - 1] + inst.service[a] + inst.d(a, b);
            let open = if p == m - 1 { 0 } else { inst.open[b] };
            self.wait[p] = (open - arrive).max(0);
            self.start[p] = arrive + self.wait[p];
        }
        self.max_shift[m - 1] = inst.tmax - self.start[m - 1];
        for p in (0..m - 1).rev() {
            let close = if p == 0 { 0 } else { inst.close[self.nodes[p]] };
            self.max_shift[p] = (close - self.start[p]).min(self.wait[p + 1] + self.max_shift[p + 1]);
        }
        self.score = self.nodes.iter().map(|&v| inst.score[v]).sum();
    }

    /// The cheapest feasible insertion of customer `k`: the position to
    /// insert after, and the added time.
    #[inline]
    fn best_insertion(&self, inst: &Instance, k: usize) -> Option<(usize, i64)> {
        let (open, close, service) = (inst.open[k], inst.close[k], inst.service[k]);
        let row = &inst.dist[k * inst.n..(k + 1) * inst.n];
        let mut best: Option<(usize, i64)> = None;
        for p in 0..self.nodes.len() - 1 {
            let i = self.nodes[p];
            let depart = self.start[p] + inst.service[i];
            if depart > close {
                break;
            }
            let dik = row[i];
            let arrive = depart + dik;
            if arrive > close {
                continue;
            }
            let j = self.nodes[p + 1];
            let shift = dik + (open - arrive).max(0) + service + row[j] - inst.d(i, j);
            if shift <= self.wait[p + 1] + self.max_shift[p + 1] && best.is_none_or(|(_, s)| shift < s) {
                best = Some((p, shift));
            }
        }
        best
    }

    fn insert(&mut self, inst: &Instance, k: usize, after: usize) {
        self.nodes.insert(after + 1, k);
        self.visited[k] = true;
        self.update(inst);
    }

    /// Removes `count` consecutive visits starting at visit `first` (0-based
    /// among the customers), wrapping around the end of the tour.
    fn remove_block(&mut self, inst: &Instance, first: usize, count: usize) {
        let len = self.len();
        if len == 0 {
            return;
        }
        let count = count.min(len);
        for t in 0..count {
            let v = self.nodes[1 + (first + t) % len];
            self.visited[v] = false;
        }
        let visited = &self.visited;
        self.nodes.retain(|&v| v == 0 || visited[v]);
        self.update(inst);
    }
}

/// Time-window data of a sequence of visits (Vidal, Crainic, Gendreau &
/// Prins 2013): minimum duration, time warp (lateness that would be needed;
/// 0 = feasible), earliest and latest start at the first vertex, and the
/// travel time it contains.
#[derive(Clone, Copy, Debug)]
struct Seg {
    first: usize,
    last: usize,
    duration: i64,
    warp: i64,
    early: i64,
    late: i64,
    travel: i64,
}

impl Seg {
    #[inline]
    fn customer(inst: &Instance, v: usize) -> Seg {
        Seg {
            first: v,
            last: v,
            duration: inst.service[v],
            warp: 0,
            early: inst.open[v],
            late: inst.close[v],
            travel: 0,
        }
    }

    fn depot_start() -> Seg {
        Seg { first: 0, last: 0, duration: 0, warp: 0, early: 0, late: 0, travel: 0 }
    }

    fn depot_end(inst: &Instance) -> Seg {
        Seg { first: 0, last: 0, duration: 0, warp: 0, early: 0, late: inst.tmax, travel: 0 }
    }

    #[inline]
    fn then(self, inst: &Instance, b: Seg) -> Seg {
        let c = inst.d(self.last, b.first);
        let delta = self.duration - self.warp + c;
        let wait = (b.early - delta - self.late).max(0);
        let warp = (self.early + delta - b.late).max(0);
        Seg {
            first: self.first,
            last: b.last,
            duration: self.duration + b.duration + c + wait,
            warp: self.warp + b.warp + warp,
            early: (b.early - delta).max(self.early) - wait,
            late: (b.late - delta).min(self.late) + warp,
            travel: self.travel + b.travel + c,
        }
    }

    /// Feasible and shorter (then: less travel) than `(duration, travel)`.
    #[inline]
    fn beats(&self, duration: i64, travel: i64) -> bool {
        self.warp == 0 && (self.duration < duration || (self.duration == duration && self.travel < travel))
    }
}

/// A tour-shortening move found by [`Search::shorten`].
#[derive(Clone, Copy, Debug)]
enum Move {
    /// Reverse positions `i..=j`.
    Reverse(usize, usize),
    /// Move the `len` visits at `i` to just after position `after`,
    /// reversed or not.
    Relocate { i: usize, len: usize, after: usize, reversed: bool },
    /// Exchange the visits at positions `i < j`.
    Swap(usize, usize),
}

struct Search<'a> {
    inst: &'a Instance,
    rng: ActorRng,
    prefix: Vec<Seg>,
    suffix: Vec<Seg>,
    /// Customers with a positive score, the only ones worth visiting.
    candidates: Vec<usize>,
}

impl<'a> Search<'a> {
    fn new(inst: &'a Instance, seed: u64) -> Self {
        let candidates = (1..inst.n).filter(|&v| inst.score[v] > 0.0 && inst.open[v] <= inst.close[v]).collect();
        Search { inst, rng: ActorRng::for_actor(seed, 0), prefix: Vec::new(), suffix: Vec::new(), candidates }
    }

    /// Greedy insertion: repeatedly inserts the customer with the best
    /// `score^2 / added time` at its cheapest position, each ratio scaled by
    /// a random factor in `(1 - noise, 1]`, until none fits.
    fn fill(&mut self, tour: &mut Tour, noise: f64) {
        let inst = self.inst;
        loop {
            let mut best: Option<(f64, usize, usize)> = None;
            for &k in &self.candidates {
                if tour.visited[k] {
                    continue;
                }
                if let Some((after, shift)) = tour.best_insertion(inst, k) {
                    let s = inst.score[k];
                    let mut ratio = s * s / shift.max(1) as f64;
                    if noise > 0.0 {
                        ratio *= 1.0 - noise * self.rng.uniform();
                    }
                    if best.is_none_or(|(r, _, _)| ratio > r) {
                        best = Some((ratio, k, after));
                    }
                }
            }
            let Some((_, k, after)) = best else { break };
            tour.insert(inst, k, after);
        }
    }

    fn segments(&mut self, tour: &Tour) {
        let inst = self.inst;
        let m = tour.nodes.len();
        let node_seg = |p: usize| {
            if p == 0 {
                Seg::depot_start()
            } else if p == m - 1 {
                Seg::depot_end(inst)
            } else {
                Seg::customer(inst, tour.nodes[p])
            }
        };
        self.prefix.clear();
        self.suffix.clear();
        self.prefix.push(node_seg(0));
        for p in 1..m {
            let s = self.prefix[p - 1].then(inst, node_seg(p));
            self.prefix.push(s);
        }
        self.suffix.resize(m, node_seg(m - 1));
        for p in (0..m - 1).rev() {
            self.suffix[p] = node_seg(p).then(inst, self.suffix[p + 1]);
        }
    }

    /// First improving tour-shortening move (2-opt, or-opt of 1-3 visits,
    /// swap), or none.
    fn find_shortening(&mut self, tour: &Tour) -> Option<Move> {
        let inst = self.inst;
        self.segments(tour);
        let (pre, suf) = (&self.prefix, &self.suffix);
        let m = tour.nodes.len();
        let last = m - 1;
        let whole = pre[last];
        let (dur, trav) = (whole.duration, whole.travel);
        let cust = |p: usize| Seg::customer(inst, tour.nodes[p]);
        // 2-opt: reverse i..=j.
        for i in 1..last {
            let mut rev = cust(i);
            for j in i + 1..last {
                rev = cust(j).then(inst, rev);
                let head = pre[i - 1].then(inst, rev);
                if head.warp > 0 {
                    break;
                }
                if head.then(inst, suf[j + 1]).beats(dur, trav) {
                    return Some(Move::Reverse(i, j));
                }
            }
        }
        // Or-opt: move i..i+len to another place, maybe reversed.
        for len in 1..=3usize {
            for i in 1..last {
                if i + len > last {
                    break;
                }
                let mut fwd = cust(i);
                let mut bwd = fwd;
                for t in 1..len {
                    fwd = fwd.then(inst, cust(i + t));
                    bwd = cust(i + t).then(inst, bwd);
                }
                // Earlier: after position p < i - 1.
                let mut mid: Option<Seg> = None;
                for p in (0..i.saturating_sub(1)).rev() {
                    let seg_mid = match mid {
                        None => cust(p + 1),
                        Some(s) => cust(p + 1).then(inst, s),
                    };
                    mid = Some(seg_mid);
                    let tail = seg_mid.then(inst, suf[i + len]);
                    for (seg, reversed) in [(fwd, false), (bwd, true)] {
                        if len == 1 && reversed {
                            continue;
                        }
                        if pre[p].then(inst, seg).then(inst, tail).beats(dur, trav) {
                            return Some(Move::Relocate { i, len, after: p, reversed });
                        }
                    }
                }
                // Later: after position p >= i + len.
                let mut mid: Option<Seg> = None;
                for p in i + len..last {
                    let seg_mid = match mid {
                        None => cust(p),
                        Some(s) => s.then(inst, cust(p)),
                    };
                    mid = Some(seg_mid);
                    let head = pre[i - 1].then(inst, seg_mid);
                    if head.warp > 0 {
                        break;
                    }
                    for (seg, reversed) in [(fwd, false), (bwd, true)] {
                        if len == 1 && reversed {
                            continue;
                        }
                        if head.then(inst, seg).then(inst, suf[p + 1]).beats(dur, trav) {
                            return Some(Move::Relocate { i, len, after: p, reversed });
                        }
                    }
                }
            }
        }
        // Swap i < j (adjacent swaps are or-opt moves).
        for i in 1..last {
            let (a, mut mid) = (cust(i), cust(i + 1));
            for j in i + 2..last {
                let head = pre[i - 1].then(inst, cust(j));
                if head.warp > 0 {
                    break;
                }
                if head.then(inst, mid).then(inst, a).then(inst, suf[j + 1]).beats(dur, trav) {
                    return Some(Move::Swap(i, j));
                }
                mid = mid.then(inst, cust(j));
            }
        }
        None
    }

    /// Applies shortening moves until none is left; true when any was.
    fn shorten(&mut self, tour: &mut Tour) -> bool {
        let mut any = false;
        while let Some(mv) = self.find_shortening(tour) {
            let nodes = &mut tour.nodes;
            match mv {
                Move::Reverse(i, j) => nodes[i..=j].reverse(),
                Move::Relocate { i, len, after, reversed } => {
                    if after < i {
                        nodes[after + 1..i + len].rotate_right(len);
                        if reversed {
                            nodes[after + 1..after + 1 + len].reverse();
                        }
                    } else {
                        nodes[i..=after].rotate_left(len);
                        if reversed {
                            nodes[after + 1 - len..=after].reverse();
                        }
                    }
                }
                Move::Swap(i, j) => nodes.swap(i, j),
            }
            tour.update(self.inst);
            any = true;
        }
        any
    }

    /// Local search: fill, then shorten and fill again while that helps.
    fn improve(&mut self, tour: &mut Tour, noise: f64) {
        self.fill(tour, noise);
        while self.shorten(tour) {
            let before = tour.len();
            self.fill(tour, noise);
            if tour.len() == before {
                break;
            }
        }
    }
}

fn knob(name: &str, default: f64) -> f64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn search(inst: &Instance, seed: u64, mut stop: impl FnMut(u64) -> bool) -> Solution {
    let noise = knob("OPTW_NOISE", 0.0);
    let restart = knob("OPTW_RESTART", 200.0) as u64;
    let temp0 = knob("OPTW_T", 0.0);
    let mode = knob("OPTW_MODE", 0.0) as u32;
    let gate = knob("OPTW_GATE", -1.0);
    let mut s = Search::new(inst, seed);
    let mut current = Tour::empty(inst);
    s.improve(&mut current, 0.0);
    let mut best = current.clone();
    let (mut block, mut first) = (1usize, 0usize);
    let mut iterations = 0u64;
    let mut since_best = 0u64;
    while !stop(iterations) {
        iterations += 1;
        let mut cand = current.clone();
        if mode == 0 {
            cand.remove_block(inst, first, block);
        } else {
            let len = cand.len().max(1);
            let b = 1 + s.rng.below((len as u64 / 3).max(1)) as usize;
            let f = s.rng.below(len as u64) as usize;
            cand.remove_block(inst, f, b);
        }
        if gate < 0.0 {
            s.improve(&mut cand, noise);
        } else {
            s.fill(&mut cand, noise);
            if cand.score + gate >= current.score {
                s.improve(&mut cand, noise);
            }
        }
        let accept = if temp0 > 0.0 {
            cand.score >= current.score || s.rng.uniform() < ((cand.score - current.score) / temp0).exp()
        } else { true };
        if accept { current = cand; }
        if current.score > best.score || (current.score == best.score && current.end() < best.end()) {
            best = current.clone();
            block = 1;
            since_best = 0;
        } else {
            since_best += 1;
        }
        let len = current.len().max(1);
        first += block;
        block += 1;
        if first >= len {
            first %= len;
        }
        if block > (len / 2).max(1) {
            block = 1;
        }
        if since_best > 0 && since_best % restart == 0 {
            current = best.clone();
        }
    }
    Solution { route: best.nodes[1..best.nodes.len() - 1].to_vec(), score: best.score, iterations }
}
