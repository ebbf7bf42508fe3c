//! OPTW instances in the KU Leuven "TOPTW test instances" format: the
//! parser, with exact decimal numbers and the benchmark's truncated
//! distances, and the instance it builds.

use super::{DECIMALS_MAX, VERTICES_MAX};
use std::fmt;

/// Largest magnitude of any number in an instance file.
const MAGNITUDE_MAX: i128 = 1_000_000_000;

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
/// The distances and the exact integer times used by [`evaluate`](fn@super::evaluate) and
/// [`solve`](super::solve) are computed once by the parser; `vertices` is for reading only
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
    /// Vertices, depot included.
    pub(super) n: usize,
    /// Row-major `n x n`, in time units.
    pub(super) dist: Vec<i64>,
    pub(super) service: Vec<i64>,
    pub(super) open: Vec<i64>,
    pub(super) close: Vec<i64>,
    pub(super) score: Vec<f64>,
    pub(super) tmax: i64,
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

    /// Sum of all customers' scores (with scores >= 0, an upper bound on any
    /// tour's score).
    pub fn total_score(&self) -> f64 {
        self.score[1..].iter().sum()
    }

    /// The step distances are truncated to, in time units: each truncated
    /// distance is less than this below the Euclidean one.
    pub(super) fn distance_step(&self) -> i64 {
        10i64.pow(self.unit_decimals - self.distance_decimals)
    }

    #[inline]
    pub(super) fn d(&self, i: usize, j: usize) -> i64 {
        self.dist[i * self.n + j]
    }

    fn to_f64(&self, t: i64) -> f64 {
        t as f64 / self.unit as f64
    }

    /// Exact decimal text of a time in units.
    pub(super) fn show(&self, t: i64) -> String {
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
    /// Checked only: scores stay `f64`.
    #[allow(dead_code)]
    score: Decimal,
    open: Decimal,
    close: Decimal,
    vertex: Vertex,
}

/// A problem on a line of the file: the line (none for the file as a
/// whole) and what is wrong.
type LineError = (Option<usize>, String);

/// Reads an instance, truncating Euclidean distances to `distance_decimals`
/// decimals (at most [`DECIMALS_MAX`]).
pub fn parse_with_decimals(text: &str, name: &str, distance_decimals: u32) -> Result<Instance, OptwError> {
    let error = |(line, message): LineError| OptwError { name: name.to_string(), line, message };
    if distance_decimals > DECIMALS_MAX {
        return Err(error((None, format!("distance decimals {distance_decimals} is more than {DECIMALS_MAX}"))));
    }
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    let customers = read_header(&mut lines).map_err(error)?;
    let raw = read_vertices(lines, customers).map_err(error)?;
    Ok(Instance::new(name, raw, distance_decimals))
}

/// Line 1 (`k v N ...`): the number of customers `N`; line 2 (`D Q`) is
/// skipped.
fn read_header<'a>(lines: &mut impl Iterator<Item = (usize, &'a str)>) -> Result<usize, LineError> {
    let Some((_, header)) = lines.next() else {
        return Err((None, "empty file".to_string()));
    };
    let fields: Vec<&str> = header.split_whitespace().collect();
    if fields.len() < 3 {
        return Err((
            Some(1),
            format!("header needs at least 3 fields `k v N ...` (N = customers), found {}", fields.len()),
        ));
    }
    let customers: usize =
        fields[2].parse().map_err(|_| (Some(1), format!("bad number of customers N `{}` (third field)", fields[2])))?;
    if customers == 0 || customers + 1 > VERTICES_MAX {
        return Err((Some(1), format!("number of customers N = {customers} is outside 1..={}", VERTICES_MAX - 1)));
    }
    // Line 2 (`D Q`) is not used.
    if lines.next().is_none() {
        return Err((None, "file ends after line 1; expected line 2 and the vertex lines".to_string()));
    }
    Ok(customers)
}

/// The depot's and the `customers` customers' lines (blank lines skipped).
fn read_vertices<'a>(
    lines: impl Iterator<Item = (usize, &'a str)>,
    customers: usize,
) -> Result<Vec<RawVertex>, LineError> {
    let expected = customers + 1;
    let mut raw: Vec<RawVertex> = Vec::with_capacity(expected);
    for (number, line) in lines {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.is_empty() {
            continue;
        }
        if raw.len() == expected {
            return Err((
                Some(number),
                format!("unexpected line after the {expected} vertex lines (line 1 says N = {customers})"),
            ));
        }
        raw.push(read_vertex(&f, raw.len()).map_err(|message| (Some(number), message))?);
    }
    if raw.len() < expected {
        return Err((
            Some(1),
            format!(
                "line 1 says N = {customers} customers, so {expected} vertex lines, but the file has {}",
                raw.len()
            ),
        ));
    }
    Ok(raw)
}

/// One vertex line `i x y d S f a ... O C`, which must be vertex `expected`.
fn read_vertex(f: &[&str], expected: usize) -> Result<RawVertex, String> {
    if f.len() < 9 {
        return Err(format!("vertex line needs at least 9 fields `i x y d S f a O C`, found {}", f.len()));
    }
    let index: usize = f[0].parse().map_err(|_| format!("bad vertex number `{}`", f[0]))?;
    if index != expected {
        return Err(format!("vertex number {index}, expected {expected}"));
    }
    let number_of =
        |token: &str, what: &str| Decimal::parse(token).map_err(|why| format!("bad {what} of vertex {index}: {why}"));
    let value = |token: &str| token.parse::<f64>().unwrap_or(f64::NAN);
    let (o, c) = (f[f.len() - 2], f[f.len() - 1]);
    let v = RawVertex {
        x: number_of(f[1], "x coordinate")?,
        y: number_of(f[2], "y coordinate")?,
        service: number_of(f[3], "service duration d")?,
        score: number_of(f[4], "score S")?,
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
    if v.service.is_negative() {
        return Err(format!("negative service duration `{}` of vertex {index}", f[3]));
    }
    if index == 0 && v.close.is_negative() {
        return Err(format!("negative tour budget Tmax `{c}` (the depot's closing time)"));
    }
    Ok(v)
}

impl Instance {
    /// The instance of the vertices read, with times in units fine enough
    /// for the distances and every written time.
    fn new(name: &str, raw: Vec<RawVertex>, distance_decimals: u32) -> Instance {
        let unit_decimals = raw
            .iter()
            .flat_map(|v| [v.service.decimals, v.open.decimals, v.close.decimals])
            .fold(distance_decimals, u32::max);
        let unit = 10i64.pow(unit_decimals);
        let time = |d: Decimal| d.scaled(unit_decimals) as i64;
        let n = raw.len();
        let dist = distances(&raw, distance_decimals, unit_decimals);
        let mut service: Vec<i64> = raw.iter().map(|v| time(v.service)).collect();
        let mut open: Vec<i64> = raw.iter().map(|v| time(v.open)).collect();
        let close: Vec<i64> = raw.iter().map(|v| time(v.close)).collect();
        let mut score: Vec<f64> = raw.iter().map(|v| v.vertex.score).collect();
        let tmax = close[0];
        service[0] = 0;
        open[0] = 0;
        score[0] = 0.0;
        Instance {
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
        }
    }
}

/// The row-major matrix of Euclidean distances truncated to
/// `distance_decimals` decimals, in units of `10^-unit_decimals`.
fn distances(raw: &[RawVertex], distance_decimals: u32, unit_decimals: u32) -> Vec<i64> {
    let n = raw.len();
    let xs: Vec<i128> = raw.iter().map(|v| v.x.scaled(DECIMALS_MAX)).collect();
    let ys: Vec<i128> = raw.iter().map(|v| v.y.scaled(DECIMALS_MAX)).collect();
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
    dist
}
