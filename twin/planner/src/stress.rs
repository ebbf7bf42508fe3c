//! `crowdtwin stress`: capacity stress tests.
//!
//! Runs one scenario over a range of one parameter (`--vary PARAM=LO..HI`,
//! `--steps N` evenly spaced points), every point a whole day from the same
//! seed, in parallel over threads. Per place and walkway it finds the first
//! point at which the day's worst level of service breaks the criterion
//! (`los<=D`: a place fails once any output interval reaches E or F), and
//! writes `stress.json` and `stress.html` (the capacity frontier).
//!
//! Every point is a function of the scenario, the seed and the point's value
//! alone, and results are kept in point order, so the files are
//! byte-identical for any number of threads.

use crate::PlannerError;
use crate::output::write_atomically;
use crate::report::{self, esc, num};
use crowdtwin_sim::SimTime;
use crowdtwin_sim::model::{self, BuildOptions, ElementKind, Los, RunOutput, Tuning};
use crowdtwin_sim::scenario::{Intervention, PlaceKind, Scenario};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Most threads one stress run may use.
pub const STRESS_THREADS_MAX: usize = 256;
/// Most points one stress run may have.
pub const STRESS_STEPS_MAX: usize = 101;
/// Highest arrival scale. An `arrivals.scale` sweep generates the population
/// this many times over (`BuildOptions::population_headroom`) and lets each
/// visitor come with probability `scale / ARRIVAL_SCALE_MAX`.
pub const ARRIVAL_SCALE_MAX: f64 = 4.0;
/// Most lanes a gate may be given.
pub const GATE_LANES_MAX: f64 = 1_000.0;
/// Largest session shift, minutes either way.
pub const SESSION_SHIFT_MIN_MAX: f64 = 24.0 * 60.0;
/// Format version of `stress.json`.
pub const STRESS_FORMAT_VERSION: u32 = 1;

/// The parameter a stress run varies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parameter {
    /// `arrivals.scale`: factor on the visitors who come (ticket holders and
    /// walk-ins; crowds keep their counts).
    ArrivalScale,
    /// `gates.lanes`: every gate gets this many lanes (rounded, at least 1).
    GateLanes,
    /// `gates.lanes_scale`: every gate's lanes times this (rounded, at least 1).
    GateLanesScale,
    /// `sessions.shift`: every session starts and ends this many minutes later
    /// (earlier if negative).
    SessionShift,
}

impl Parameter {
    /// All parameters with their names, for parsing and messages.
    pub const ALL: [(Parameter, &'static str); 4] = [
        (Parameter::ArrivalScale, "arrivals.scale"),
        (Parameter::GateLanes, "gates.lanes"),
        (Parameter::GateLanesScale, "gates.lanes_scale"),
        (Parameter::SessionShift, "sessions.shift"),
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        Parameter::ALL.iter().find(|(p, _)| *p == self).map_or("", |(_, name)| name)
    }

    /// The unit of its values, for axis titles.
    fn unit(self) -> &'static str {
        match self {
            Parameter::ArrivalScale | Parameter::GateLanesScale => "x",
            Parameter::GateLanes => "lanes per gate",
            Parameter::SessionShift => "min",
        }
    }
}

/// `--vary PARAM=LO..HI`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Vary {
    /// What varies.
    pub parameter: Parameter,
    /// First value.
    pub low: f64,
    /// Last value.
    pub high: f64,
}

impl Vary {
    /// Parses `PARAM=LO..HI`, checking the range the parameter allows.
    pub fn parse(text: &str) -> Result<Vary, PlannerError> {
        let bad = |why: String| PlannerError::InvalidOption(format!("--vary `{text}`: {why}"));
        let names = || Parameter::ALL.iter().map(|(_, n)| *n).collect::<Vec<_>>().join(", ");
        let (name, range) =
            text.split_once('=').ok_or_else(|| bad(format!("write PARAM=LO..HI, PARAM one of {}", names())))?;
        let parameter = Parameter::ALL
            .iter()
            .find(|(_, n)| *n == name.trim())
            .map(|(p, _)| *p)
            .ok_or_else(|| bad(format!("unknown parameter `{}`: use one of {}", name.trim(), names())))?;
        let (low, high) =
            range.split_once("..").ok_or_else(|| bad("write the range as LO..HI, e.g. 1.0..3.0".into()))?;
        let number = |s: &str| -> Result<f64, PlannerError> {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| bad(format!("`{}` is not a number", s.trim())))
        };
        let (low, high) = (number(low)?, number(high)?);
        if low > high {
            return Err(bad(format!("the range runs backwards ({low} > {high})")));
        }
        let (min, max) = match parameter {
            Parameter::ArrivalScale => (0.0, ARRIVAL_SCALE_MAX),
            Parameter::GateLanes => (1.0, GATE_LANES_MAX),
            Parameter::GateLanesScale => (0.0, GATE_LANES_MAX),
            Parameter::SessionShift => (-SESSION_SHIFT_MIN_MAX, SESSION_SHIFT_MIN_MAX),
        };
        if low < min || high > max {
            return Err(bad(format!("{} must stay within {min}..{max}", parameter.name())));
        }
        Ok(Vary { parameter, low, high })
    }

    /// The value of point `index` of `steps` evenly spaced points.
    pub fn value(&self, index: usize, steps: usize) -> f64 {
        if steps <= 1 {
            return self.low;
        }
        let value = self.low + (self.high - self.low) * index as f64 / (steps - 1) as f64;
        // Round off representation noise so that 1.2 prints as 1.2.
        (value * 1e9).round() / 1e9
    }
}

/// Parses `los<=X` (X one of A–E): the worst level of service allowed.
pub fn parse_criterion(text: &str) -> Result<Los, PlannerError> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
    let letter = compact.strip_prefix("los<=").ok_or_else(|| {
        PlannerError::InvalidOption(format!(
            "--criterion `{text}`: write los<=X with X a level of service A to E, e.g. los<=D"
        ))
    })?;
    match letter {
        "a" => Ok(Los::A),
        "b" => Ok(Los::B),
        "c" => Ok(Los::C),
        "d" => Ok(Los::D),
        "e" => Ok(Los::E),
        "f" => Err(PlannerError::InvalidOption(format!("--criterion `{text}`: every place meets los<=F; use A to E"))),
        _ => Err(PlannerError::InvalidOption(format!(
            "--criterion `{text}`: `{letter}` is not a level of service A to E"
        ))),
    }
}

/// Which elements the criterion applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Places and walkways.
    All,
    /// Places only (gates, plazas, venues, shops, food, fan zones, transit).
    Places,
    /// Walkways only.
    Walkways,
}

impl Scope {
    /// Parses `all`, `places` or `walkways`.
    pub fn parse(text: &str) -> Result<Scope, PlannerError> {
        match text {
            "all" => Ok(Scope::All),
            "places" => Ok(Scope::Places),
            "walkways" => Ok(Scope::Walkways),
            _ => Err(PlannerError::InvalidOption(format!("--scope `{text}`: use all, places or walkways"))),
        }
    }

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Scope::All => "all",
            Scope::Places => "places",
            Scope::Walkways => "walkways",
        }
    }

    fn covers(self, kind: ElementKind) -> bool {
        match self {
            Scope::All => true,
            Scope::Places => !kind.is_walkway(),
            Scope::Walkways => kind.is_walkway(),
        }
    }
}

/// Options of a stress run.
#[derive(Clone, Debug)]
pub struct StressOptions {
    /// The parameter and its range.
    pub vary: Vary,
    /// Points, evenly spaced from `low` to `high` (both included).
    pub steps: usize,
    /// Worst level of service allowed.
    pub criterion: Los,
    /// Which elements the criterion applies to.
    pub scope: Scope,
    /// Gates closed all day at every point (place ids).
    pub close_gates: Vec<String>,
    /// Seed (the file's own when `None`).
    pub seed: Option<u64>,
    /// Threads running points.
    pub threads: usize,
    /// Print a line to stderr as each point finishes.
    pub progress: bool,
}

/// One point of the sweep.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StressPoint {
    /// The parameter's value.
    pub value: f64,
    /// Events simulated.
    pub events: u64,
    /// Places and walkways beyond the criterion.
    pub failing: Vec<String>,
    /// The element with the highest density.
    pub peak_density_element: String,
    /// That density, P/m².
    pub peak_density_p_per_m2: f64,
    /// What the day carried: who came in, who left, who was stuck.
    #[serde(flatten)]
    pub throughput: Throughput,
}

/// What a day carried, so a sweep shows that people still get through
/// where the site is full (a queue, not a standstill).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Throughput {
    /// People screened at the gates.
    pub entered: u64,
    /// People who left the site by transit.
    pub departed: u64,
    /// People who found no route and gave up.
    pub stranded: u64,
    /// People who waited off the site (on their shuttle) at a full stop.
    pub held_off_site: u64,
}

impl Throughput {
    /// The totals of a finished run.
    pub fn of(output: &RunOutput) -> Throughput {
        let kpis = &output.kpis;
        let gates = kpis.elements.iter().filter(|e| e.kind == ElementKind::Place(PlaceKind::Gate));
        Throughput {
            entered: gates.map(|e| e.entries).sum(),
            departed: kpis.departed_by_transit,
            stranded: kpis.stranded,
            held_off_site: kpis.elements.iter().filter_map(|e| e.held_off_site).sum(),
        }
    }
}

/// One place or walkway over the sweep.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StressElement {
    /// Place id, or `from--to` for a walkway.
    pub id: String,
    /// Place kind, or "walkway".
    pub kind: ElementKind,
    /// Highest interval-mean density per point, P/m².
    pub peak_density_p_per_m2: Vec<f64>,
    /// Worst level of service per point.
    pub peak_los: Vec<Los>,
    /// Clock time of the peak per point.
    pub peak_at: Vec<String>,
    /// The first value at which it breaks the criterion (none: never in the range).
    pub fails_at: Option<f64>,
    /// Peak density over the density at which the criterion breaks, per point:
    /// 1 or more is a failure.
    pub load_ratio: Vec<f64>,
}

/// The first failure of the sweep.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FirstFailure {
    /// Value of the first point where anything fails.
    pub value: f64,
    /// The elements failing there, highest load ratio first.
    pub elements: Vec<String>,
    /// Their level of service there.
    pub los: Vec<Los>,
}

/// `stress.json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StressReport {
    /// Format version.
    pub version: u32,
    /// Scenario name.
    pub scenario: String,
    /// Seed of every point.
    pub seed: u64,
    /// The parameter's name.
    pub parameter: String,
    /// Its range.
    pub low: f64,
    /// Its range.
    pub high: f64,
    /// The criterion, e.g. `los<=D`.
    pub criterion: String,
    /// Which elements the criterion applies to: all, places or walkways.
    pub scope: String,
    /// Gates closed all day.
    pub closed_gates: Vec<String>,
    /// Points in order of value.
    pub points: Vec<StressPoint>,
    /// Places and walkways, places first in scenario order.
    pub elements: Vec<StressElement>,
    /// Where the first element fails (none: nothing fails in the range).
    pub first_failure: Option<FirstFailure>,
}

/// Lowest density at which the level of service is worse than `criterion`.
fn breaking_density(criterion: Los, queueing_area: bool) -> f64 {
    // LOS is worse than X once the space per person is at most X's lower limit.
    let limit = Los::space_limits_m2(queueing_area)[criterion.rank() as usize];
    debug_assert_eq!(Los::from_density(1.0 / limit, queueing_area), next_worse(criterion));
    1.0 / limit
}

fn next_worse(los: Los) -> Los {
    [Los::B, Los::C, Los::D, Los::E, Los::F, Los::F][los.rank() as usize]
}

/// The scenario and build options of one point.
pub fn point_scenario(
    base: &Scenario,
    vary: &Vary,
    value: f64,
    closed: &[usize],
) -> Result<(Scenario, BuildOptions, Tuning), PlannerError> {
    let mut scenario = base.clone();
    let mut options = BuildOptions::default();
    let mut tuning = Tuning::default();
    match vary.parameter {
        Parameter::ArrivalScale => {
            // The same headroom at every point and for every range, so a
            // visitor who comes at one scale comes at every higher one, and
            // a point depends on its value alone, not on the range around it.
            options.population_headroom = ARRIVAL_SCALE_MAX;
            tuning.arrival_scale = value;
        }
        Parameter::GateLanes | Parameter::GateLanesScale => {
            for place in scenario.places.iter_mut().filter(|p| p.kind == PlaceKind::Gate) {
                let lanes = match vary.parameter {
                    Parameter::GateLanes => value,
                    _ => place.servers as f64 * value,
                };
                place.servers = lanes.round().max(1.0) as u32;
            }
        }
        Parameter::SessionShift => {
            // As in scenario files, a session may run past the end of the
            // run but not start before its start.
            let shift_us = (value * 60e6).round() as i64;
            for session in &mut scenario.sessions {
                let start = session.start.as_micros() as i64 + shift_us;
                let stop = session.end.as_micros() as i64 + shift_us;
                if start < 0 {
                    return Err(PlannerError::InvalidOption(format!(
                        "--vary sessions.shift: {value} min moves session `{}` before the scenario's start",
                        session.name
                    )));
                }
                session.start = SimTime(start as u64);
                session.end = SimTime(stop as u64);
            }
        }
    }
    for &place in closed {
        scenario.interventions.push(Intervention::CloseGate { at: SimTime::ZERO, place });
    }
    scenario.interventions.sort_by_key(|i| i.at());
    Ok((scenario, options, tuning))
}

/// A point ready to run.
#[derive(Clone, Debug)]
pub struct PreparedPoint {
    /// Position in the sweep.
    pub index: usize,
    /// The parameter's value.
    pub value: f64,
    /// The scenario with the value applied.
    pub scenario: Scenario,
    /// Build options (population headroom).
    pub build: BuildOptions,
    /// Tuning (arrival scale).
    pub tuning: Tuning,
}

/// One element's peak in one point. Floats travel as their bits, so that a
/// point run on another node gives exactly the same report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ElementPeak {
    /// Id.
    pub id: String,
    /// Kind.
    pub kind: ElementKind,
    /// Highest interval-mean density, P/m², as `f64::to_bits`.
    pub peak_density_bits: u64,
    /// Worst level of service, 0 = A ... 5 = F.
    pub peak_los_rank: u8,
    /// Clock time of the peak.
    pub peak_at: String,
}

/// What one point contributes to the report (also its wire form between nodes).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PointResult {
    /// Events simulated.
    pub events: u64,
    /// The element with the highest density.
    pub peak_density_element: String,
    /// That density, as `f64::to_bits`.
    pub peak_density_bits: u64,
    /// Every place and walkway, in scenario order.
    pub elements: Vec<ElementPeak>,
    /// Who came in, left and was stuck.
    pub throughput: Throughput,
}

impl PointResult {
    /// The peaks of a finished run.
    pub fn of(output: &RunOutput) -> PointResult {
        PointResult {
            events: output.kpis.events,
            peak_density_element: output.kpis.peak_density_element.clone(),
            peak_density_bits: output.kpis.peak_density_p_per_m2.to_bits(),
            elements: output
                .kpis
                .elements
                .iter()
                .map(|e| ElementPeak {
                    id: e.id.clone(),
                    kind: e.kind,
                    peak_density_bits: e.peak_density_p_per_m2.to_bits(),
                    peak_los_rank: e.peak_los.rank(),
                    peak_at: e.peak_at.clone(),
                })
                .collect(),
            throughput: Throughput::of(output),
        }
    }
}

fn los_of_rank(rank: u8) -> Los {
    [Los::A, Los::B, Los::C, Los::D, Los::E, Los::F][usize::from(rank.min(5))]
}

/// Runs one point to the scenario's end.
pub fn run_point(point: PreparedPoint, seed: u64) -> PointResult {
    let end = point.scenario.end();
    let mut sim = model::build_with(point.scenario, seed, point.build);
    sim.world_mut().tuning = point.tuning;
    sim.run_until(end);
    PointResult::of(&RunOutput::collect(&sim, seed))
}

/// Checks the options against `base` and prepares every point, so that a
/// bad point refuses the run before anything is simulated.
pub fn prepare(base: &Scenario, options: &StressOptions) -> Result<Vec<PreparedPoint>, PlannerError> {
    if !(1..=STRESS_STEPS_MAX).contains(&options.steps) {
        return Err(PlannerError::InvalidOption(format!(
            "--steps {}: must be between 1 and {STRESS_STEPS_MAX}",
            options.steps
        )));
    }
    if !(1..=STRESS_THREADS_MAX).contains(&options.threads) {
        return Err(PlannerError::InvalidOption(format!(
            "--threads {}: must be between 1 and {STRESS_THREADS_MAX}",
            options.threads
        )));
    }
    let mut closed = Vec::new();
    for name in &options.close_gates {
        let place = base.places.iter().position(|p| p.id == *name).ok_or_else(|| {
            PlannerError::InvalidOption(format!("--close-gate `{name}`: no such place in the scenario"))
        })?;
        if base.places[place].kind != PlaceKind::Gate {
            return Err(PlannerError::InvalidOption(format!(
                "--close-gate `{name}`: a {}, not a gate",
                base.places[place].kind.as_str()
            )));
        }
        closed.push(place);
    }
    (0..options.steps)
        .map(|index| {
            let value = options.vary.value(index, options.steps);
            let (scenario, build, tuning) = point_scenario(base, &options.vary, value, &closed)?;
            Ok(PreparedPoint { index, value, scenario, build, tuning })
        })
        .collect()
}

/// Runs the sweep on `base` over local threads.
pub fn stress(base: &Scenario, options: &StressOptions) -> Result<StressReport, PlannerError> {
    stress_with(base, options, |points, seed| Ok(run_points(points, seed, options)))
}

/// Runs the sweep with `run`, which takes the prepared points and the seed
/// and returns their results in point order (local threads, or cluster nodes).
pub fn stress_with<E: From<PlannerError>>(
    base: &Scenario,
    options: &StressOptions,
    run: impl FnOnce(Vec<PreparedPoint>, u64) -> Result<Vec<PointResult>, E>,
) -> Result<StressReport, E> {
    let points = prepare(base, options)?;
    let values: Vec<f64> = points.iter().map(|p| p.value).collect();
    let seed = options.seed.unwrap_or(base.seed);
    let results = run(points, seed)?;
    assert_eq!(results.len(), values.len(), "one result per point");
    let outputs: Vec<(f64, PointResult)> = values.into_iter().zip(results).collect();
    Ok(summarise(base, seed, options, &outputs))
}

/// The progress line of a finished point.
pub fn progress_line(
    options: &StressOptions,
    finished: usize,
    total: usize,
    value: f64,
    result: &PointResult,
) -> String {
    format!(
        "stress: {finished}/{total} points done ({} = {value}: peak {:.2} P/m² at {})",
        options.vary.parameter.name(),
        f64::from_bits(result.peak_density_bits),
        result.peak_density_element
    )
}

/// Runs the points over `options.threads` threads; results in point order.
fn run_points(points: Vec<PreparedPoint>, seed: u64, options: &StressOptions) -> Vec<PointResult> {
    let total = points.len();
    let jobs: Vec<Mutex<Option<PreparedPoint>>> = points.into_iter().map(|p| Mutex::new(Some(p))).collect();
    let results: Vec<Mutex<Option<PointResult>>> = (0..total).map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..options.threads.min(total) {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    let Some(job) = jobs.get(index) else { break };
                    let point = job.lock().expect("job lock").take().expect("taken once");
                    let value = point.value;
                    let result = run_point(point, seed);
                    if options.progress {
                        let finished = done.fetch_add(1, Ordering::SeqCst) + 1;
                        eprintln!("{}", progress_line(options, finished, total, value, &result));
                    }
                    *results[index].lock().expect("result lock") = Some(result);
                }
            });
        }
    });
    results.into_iter().map(|r| r.into_inner().expect("result lock").expect("every point ran")).collect()
}

fn summarise(base: &Scenario, seed: u64, options: &StressOptions, outputs: &[(f64, PointResult)]) -> StressReport {
    let criterion = options.criterion;
    let first = &outputs[0].1;
    let mut elements: Vec<StressElement> = first
        .elements
        .iter()
        .map(|e| StressElement {
            id: e.id.clone(),
            kind: e.kind,
            peak_density_p_per_m2: Vec::new(),
            peak_los: Vec::new(),
            peak_at: Vec::new(),
            fails_at: None,
            load_ratio: Vec::new(),
        })
        .collect();
    let mut points = Vec::new();
    for (value, output) in outputs {
        let mut failing = Vec::new();
        for (element, peak) in elements.iter_mut().zip(&output.elements) {
            debug_assert_eq!(element.id, peak.id);
            let limit = breaking_density(criterion, model::is_queueing_area(peak.kind));
            let density = f64::from_bits(peak.peak_density_bits);
            let los = los_of_rank(peak.peak_los_rank);
            element.peak_density_p_per_m2.push(density);
            element.peak_los.push(los);
            element.peak_at.push(peak.peak_at.clone());
            element.load_ratio.push(density / limit);
            if los > criterion && options.scope.covers(peak.kind) {
                failing.push(peak.id.clone());
                element.fails_at.get_or_insert(*value);
            }
        }
        points.push(StressPoint {
            value: *value,
            events: output.events,
            failing,
            peak_density_element: output.peak_density_element.clone(),
            peak_density_p_per_m2: f64::from_bits(output.peak_density_bits),
            throughput: output.throughput,
        });
    }
    let first_failure = points.iter().position(|p| !p.failing.is_empty()).map(|index| {
        let mut failing: Vec<&StressElement> =
            elements.iter().filter(|e| e.peak_los[index] > criterion && options.scope.covers(e.kind)).collect();
        failing.sort_by(|a, b| b.load_ratio[index].total_cmp(&a.load_ratio[index]).then(a.id.cmp(&b.id)));
        FirstFailure {
            value: points[index].value,
            elements: failing.iter().map(|e| e.id.clone()).collect(),
            los: failing.iter().map(|e| e.peak_los[index]).collect(),
        }
    });
    StressReport {
        version: STRESS_FORMAT_VERSION,
        scenario: base.name.clone(),
        seed,
        parameter: options.vary.parameter.name().to_string(),
        low: options.vary.low,
        high: options.vary.high,
        criterion: format!("los<={}", criterion.letter()),
        scope: options.scope.name().to_string(),
        closed_gates: options.close_gates.clone(),
        points,
        elements,
        first_failure,
    }
}

/// Runs a stress test of a scenario file and writes `stress.json` and
/// `stress.html` into `out`. Returns the report and the paths written.
pub fn stress_file(
    path: &Path,
    out: &Path,
    options: &StressOptions,
) -> Result<(StressReport, Vec<PathBuf>), PlannerError> {
    let scenario = crate::run::load_scenario(path)?;
    let report = stress(&scenario, options)?;
    let paths = write_report(out, &report)?;
    Ok((report, paths))
}

/// Writes `stress.json` and `stress.html` into `out`; returns their paths.
pub fn write_report(out: &Path, report: &StressReport) -> Result<Vec<PathBuf>, PlannerError> {
    std::fs::create_dir_all(out).map_err(|e| PlannerError::file(out.display(), e))?;
    let json = out.join("stress.json");
    let html = out.join("stress.html");
    write_atomically(&json, |file| {
        use std::io::Write;
        serde_json::to_writer_pretty(&mut *file, report).map_err(std::io::Error::from)?;
        writeln!(file)?;
        Ok::<(), PlannerError>(())
    })?;
    let page = render_html(report);
    write_atomically(&html, |file| {
        use std::io::Write;
        file.write_all(page.as_bytes())?;
        Ok::<(), PlannerError>(())
    })?;
    Ok(vec![json, html])
}

/// How many elements the frontier chart draws at most.
pub const FRONTIER_SERIES_MAX: usize = report::MAX_CHART_SERIES;

/// The stress report page: summary, frontier chart, level of service per
/// point and the list of failures in order.
pub fn render_html(report: &StressReport) -> String {
    let mut out = String::with_capacity(64 * 1024);
    page_header(&mut out, report);

    out.push_str("<section id=\"frontier\">\n<h2>Capacity frontier</h2>\n");
    out.push_str(
        "<p>Peak density of the day over the density at which the criterion breaks (1 = the first interval \
         at the next level of service), for the places closest to failing.</p>\n",
    );
    frontier_chart(&mut out, report);
    out.push_str("</section>\n");

    failure_order_section(&mut out, report);
    los_per_point_section(&mut out, report);
    let _ = writeln!(
        out,
        "<footer>crowdtwin stress report \u{b7} {} \u{b7} seed {}</footer>",
        esc(&report.scenario),
        report.seed
    );
    out.push_str("</body>\n</html>\n");
    out
}

/// The document head and the page header: title, the sweep, and a summary of
/// what fails first.
fn page_header(out: &mut String, report: &StressReport) {
    let title = format!("{} \u{2014} stress test of {}", report.scenario, report.parameter);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n\
         <style>{}</style>\n</head>\n<body>\n<header>\n<h1>{}</h1>\n",
        esc(&title),
        report::STYLE,
        esc(&title)
    );
    let _ = writeln!(
        out,
        "<p class=\"meta\">Seed <strong>{}</strong> \u{b7} {} from {} to {} in {} points \u{b7} criterion {} on {}{}</p>",
        report.seed,
        esc(&report.parameter),
        num(report.low, 2),
        num(report.high, 2),
        report.points.len(),
        esc(&report.criterion),
        esc(&report.scope),
        if report.closed_gates.is_empty() {
            String::new()
        } else {
            format!(" \u{b7} closed all day: {}", esc(&report.closed_gates.join(", ")))
        }
    );
    out.push_str("<dl class=\"summary\">\n");
    match &report.first_failure {
        Some(first) => {
            let _ = writeln!(
                out,
                "<dt>Fails first</dt><dd><strong>{}</strong> ({}) at {} = {}</dd>",
                esc(&first.elements[0]),
                first.los[0].letter(),
                esc(&report.parameter),
                num(first.value, 2)
            );
            if first.elements.len() > 1 {
                let _ = writeln!(out, "<dt>Also failing there</dt><dd>{}</dd>", esc(&first.elements[1..].join(", ")));
            }
        }
        None => {
            let _ =
                writeln!(out, "<dt>Fails first</dt><dd>nothing breaks {} in this range</dd>", esc(&report.criterion));
        }
    }
    let failing = report.elements.iter().filter(|e| e.fails_at.is_some()).count();
    let _ = writeln!(out, "<dt>Failing at the top of the range</dt><dd>{failing} of {}</dd>", report.elements.len());
    out.push_str("</dl>\n</header>\n");
}

/// The order of failure: every failing element, earliest failure first.
fn failure_order_section(out: &mut String, report: &StressReport) {
    out.push_str("<section id=\"order\">\n<h2>Order of failure</h2>\n<table>\n<thead><tr><th>place</th><th>kind</th>");
    let _ = writeln!(
        out,
        "<th class=\"n\">fails at {}</th><th class=\"n\">peak density at the top (P/m²)</th></tr></thead><tbody>",
        esc(&report.parameter)
    );
    let mut order: Vec<&StressElement> = report.elements.iter().filter(|e| e.fails_at.is_some()).collect();
    order.sort_by(|a, b| {
        let (fa, fb) = (a.fails_at.unwrap_or(f64::MAX), b.fails_at.unwrap_or(f64::MAX));
        fa.total_cmp(&fb).then_with(|| last(&b.load_ratio).total_cmp(&last(&a.load_ratio))).then(a.id.cmp(&b.id))
    });
    for element in &order {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&element.id),
            esc(element.kind.as_str()),
            num(element.fails_at.unwrap_or(0.0), 2),
            num(last(&element.peak_density_p_per_m2), 2)
        );
    }
    if order.is_empty() {
        out.push_str("<tr><td colspan=\"4\" class=\"note\">No place breaks the criterion in this range.</td></tr>\n");
    }
    out.push_str("</tbody></table>\n</section>\n");
}

/// The worst level of service of every element at every point, as a table.
fn los_per_point_section(out: &mut String, report: &StressReport) {
    out.push_str("<section id=\"los\">\n<h2>Worst level of service per point</h2>\n<table>\n<thead><tr><th>place</th>");
    for point in &report.points {
        let _ = write!(out, "<th class=\"n\">{}</th>", num(point.value, 2));
    }
    out.push_str("</tr></thead><tbody>\n");
    for element in &report.elements {
        let _ = write!(out, "<tr><td>{}</td>", esc(&element.id));
        for (los, density) in element.peak_los.iter().zip(&element.peak_density_p_per_m2) {
            let _ = write!(
                out,
                "<td class=\"los\" style=\"background:{}\" title=\"{} P/m²\">{}</td>",
                los.colour_hex(),
                num(*density, 2),
                los.letter()
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n</section>\n");
}

fn last(values: &[f64]) -> f64 {
    values.last().copied().unwrap_or(0.0)
}

/// Width and height of the frontier chart's plotting area, and its margins.
const CHART_W: f64 = 880.0;
const CHART_H: f64 = 320.0;
const CHART_LEFT: f64 = 56.0;
const CHART_TOP: f64 = 12.0;
const CHART_BOTTOM: f64 = 44.0;
const CHART_RIGHT: f64 = 24.0;

/// Scales of the frontier chart and the elements it draws.
struct FrontierChart {
    /// Indices into the report's elements, closest to failing first.
    ranked: Vec<usize>,
    /// Spacing of the load ratio ticks.
    step: f64,
    /// Load ratio at the top of the plotting area.
    y_top: f64,
    /// Decimals of the load ratio tick labels.
    decimals: usize,
    /// Parameter value at the left edge.
    low: f64,
    /// Parameter range across the plotting area (1 where the range is empty).
    span: f64,
}

impl FrontierChart {
    /// Ranks the elements in scope by their load ratio at the top of the range
    /// (ties by id), keeps the first [`FRONTIER_SERIES_MAX`] and scales the
    /// axes to them.
    fn new(report: &StressReport) -> Self {
        let mut ranked: Vec<usize> = (0..report.elements.len()).collect();
        ranked.sort_by(|&a, &b| {
            let (ea, eb) = (&report.elements[a], &report.elements[b]);
            last(&eb.load_ratio).total_cmp(&last(&ea.load_ratio)).then(ea.id.cmp(&eb.id))
        });
        let scope = Scope::parse(&report.scope).unwrap_or(Scope::All);
        ranked.retain(|&i| scope.covers(report.elements[i].kind));
        ranked.truncate(FRONTIER_SERIES_MAX);
        let y_max = ranked
            .iter()
            .flat_map(|&i| report.elements[i].load_ratio.iter().copied())
            .fold(1.2_f64, |m, v| if v.is_finite() { m.max(v) } else { m });
        let (step, y_top, decimals) = report::nice_scale(y_max);
        let (low, high) = (report.low, report.high);
        let span = if high > low { high - low } else { 1.0 };
        FrontierChart { ranked, step, y_top, decimals, low, span }
    }

    /// x of parameter value `v`.
    fn x_of(&self, v: f64) -> f64 {
        CHART_LEFT + (v - self.low) / self.span * CHART_W
    }

    /// y of load ratio `v`, clamped to the plotting area.
    fn y_of(&self, v: f64) -> f64 {
        CHART_TOP + CHART_H - v.clamp(0.0, self.y_top) / self.y_top * CHART_H
    }
}

/// Width of the whole frontier SVG.
const CHART_WIDTH: f64 = CHART_LEFT + CHART_W + CHART_RIGHT;
/// Height of the whole frontier SVG.
const CHART_HEIGHT: f64 = CHART_TOP + CHART_H + CHART_BOTTOM;
/// y of the frontier chart's x axis.
const CHART_AXIS_Y: f64 = CHART_TOP + CHART_H;

/// The frontier chart: the parameter on x, each element's load ratio on y,
/// a line at 1 (the criterion) and the first failure marked.
fn frontier_chart(out: &mut String, report: &StressReport) {
    let chart = FrontierChart::new(report);
    report::svg_open(out, CHART_WIDTH, CHART_HEIGHT, "Capacity frontier", "");
    out.push_str(report::SVG_STYLE);
    frontier_grid(out, report, &chart);
    frontier_axes(out, report, &chart);
    frontier_lines(out, report, &chart);
    frontier_first_failure(out, report, &chart);
    out.push_str("</svg>\n<ul class=\"legend\">\n");
    for (rank, &i) in chart.ranked.iter().enumerate() {
        let element = &report.elements[i];
        let _ = writeln!(
            out,
            "<li><span class=\"sw\" style=\"background:{}\"></span>{} <small>({})</small></li>",
            report::SERIES_COLOURS[rank % report::SERIES_COLOURS.len()],
            esc(&element.id),
            element.fails_at.map_or_else(|| "holds".to_string(), |v| format!("fails at {}", num(v, 2)))
        );
    }
    out.push_str("</ul>\n");
}

/// The frontier chart's grid: load ratio ticks and labels, and a tick per point.
fn frontier_grid(out: &mut String, report: &StressReport, chart: &FrontierChart) {
    for k in 0..=((chart.y_top / chart.step).round() as usize) {
        let v = k as f64 * chart.step;
        let y = num(chart.y_of(v), 1);
        let _ = writeln!(
            out,
            "<line class=\"grid\" x1=\"{l}\" y1=\"{y}\" x2=\"{r}\" y2=\"{y}\"/><text x=\"{t}\" y=\"{y}\" dy=\"0.32em\" \
             text-anchor=\"end\">{}</text>",
            num(v, chart.decimals),
            l = num(CHART_LEFT, 1),
            r = num(CHART_LEFT + CHART_W, 1),
            t = num(CHART_LEFT - 6.0, 1)
        );
    }
    for point in &report.points {
        let x = num(chart.x_of(point.value), 1);
        let _ = writeln!(
            out,
            "<line class=\"axis\" x1=\"{x}\" y1=\"{b}\" x2=\"{x}\" y2=\"{b5}\"/><text x=\"{x}\" y=\"{b17}\" \
             text-anchor=\"middle\">{}</text>",
            num(point.value, 2),
            b = num(CHART_AXIS_Y, 1),
            b5 = num(CHART_AXIS_Y + 5.0, 1),
            b17 = num(CHART_AXIS_Y + 17.0, 1)
        );
    }
}

/// The frontier chart's axes, the criterion line at 1 and the axis titles.
fn frontier_axes(out: &mut String, report: &StressReport, chart: &FrontierChart) {
    let _ = writeln!(
        out,
        "<line class=\"axis\" x1=\"{l}\" y1=\"{t}\" x2=\"{l}\" y2=\"{b}\"/><line class=\"axis\" x1=\"{l}\" y1=\"{b}\" \
         x2=\"{r}\" y2=\"{b}\"/>",
        l = num(CHART_LEFT, 1),
        t = num(CHART_TOP, 1),
        b = num(CHART_AXIS_Y, 1),
        r = num(CHART_LEFT + CHART_W, 1)
    );
    let one = num(chart.y_of(1.0), 1);
    let _ = writeln!(
        out,
        "<line x1=\"{l}\" y1=\"{one}\" x2=\"{r}\" y2=\"{one}\" stroke=\"{}\" stroke-width=\"1.5\" \
         stroke-dasharray=\"6 4\"/><text x=\"{l4}\" y=\"{one}\" dy=\"-4\">{}</text>",
        Los::F.colour_hex(),
        esc(&report.criterion),
        l = num(CHART_LEFT, 1),
        r = num(CHART_LEFT + CHART_W, 1),
        l4 = num(CHART_LEFT + 4.0, 1)
    );
    let _ = writeln!(
        out,
        "<text class=\"ttl\" transform=\"translate(14,{}) rotate(-90)\" text-anchor=\"middle\">peak density / \
         breaking density</text><text class=\"ttl\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{} ({})</text>",
        num(CHART_TOP + CHART_H / 2.0, 1),
        num(CHART_LEFT + CHART_W / 2.0, 1),
        num(CHART_HEIGHT - 6.0, 1),
        esc(&report.parameter),
        Parameter::ALL.iter().find(|(_, n)| *n == report.parameter).map_or("", |(p, _)| p.unit())
    );
}

/// One line per ranked element, lowest-ranked first so that the closest to
/// failing is drawn on top.
fn frontier_lines(out: &mut String, report: &StressReport, chart: &FrontierChart) {
    for (rank, &i) in chart.ranked.iter().enumerate().rev() {
        let element = &report.elements[i];
        let colour = report::SERIES_COLOURS[rank % report::SERIES_COLOURS.len()];
        let points: Vec<String> = report
            .points
            .iter()
            .zip(&element.load_ratio)
            .map(|(p, r)| format!("{},{}", num(chart.x_of(p.value), 1), num(chart.y_of(*r), 1)))
            .collect();
        let _ = writeln!(
            out,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.8\" points=\"{}\"><title>{}</title></polyline>",
            points.join(" "),
            esc(&element.id)
        );
    }
}

/// A ring around the element that fails first, at the point where it fails.
fn frontier_first_failure(out: &mut String, report: &StressReport, chart: &FrontierChart) {
    if let Some(first) = &report.first_failure
        && let Some(element) = report.elements.iter().find(|e| e.id == first.elements[0])
        && let Some(index) = report.points.iter().position(|p| p.value == first.value)
    {
        let (x, y) = (num(chart.x_of(first.value), 1), num(chart.y_of(element.load_ratio[index]), 1));
        let _ = writeln!(
            out,
            "<circle cx=\"{x}\" cy=\"{y}\" r=\"6\" fill=\"none\" stroke=\"#000\" stroke-width=\"2\"/>\
             <text x=\"{x}\" y=\"{y}\" dx=\"9\" dy=\"-8\" class=\"ttl\">fails first: {}</text>",
            esc(&element.id)
        );
    }
}
