//! The twin: an ensemble of world states (a particle filter) advanced with
//! the twin's clock, weighted by how well each explains the observed
//! counts, resampled when the weights degenerate, with the uncertain
//! parameters (arrival scale, dwell times, walk-ins the plan does not
//! have) jittered so the ensemble can learn them; and forecasts run ahead
//! from forks of it.

use super::bias::SensorBias;
use super::bookings::{Bookings, COMPLIANCE_BOOKED_MIN, ComplianceEstimate};
use super::calibration::{Calibration, Issued, prior_persistence};
use super::observation::{self, Checked, IngestReport, Observation, ObservationError, Timed};
use crowdtwin_sim::kernel::ActorRng;
use crowdtwin_sim::model::{self, BuildOptions, CrowdWorld, ElementKind, Los, Message, Tuning};
use crowdtwin_sim::scenario::{Intervention, Scenario, format_clock};
use crowdtwin_sim::{ActorId, SimDuration, SimTime, Simulation};
use crowdtwin_wire::{
    Alert, BookedPlans, ElementForecast, ElementState, Forecast, MinuteQuantiles, ObservationTotals, TwinState,
};
use serde::{Deserialize, Serialize};
use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

/// Largest ensemble.
pub const MEMBERS_MAX: usize = 256;
/// Longest forecast horizon, minutes.
pub const HORIZON_MIN_MAX: u32 = 120;
/// Resample when the effective ensemble size falls below this share of it.
pub const RESAMPLE_ESS_SHARE: f64 = 0.5;
/// Model error added to every count total's standard deviation, as a share of it.
pub const COUNT_MODEL_ERROR_SHARE: f64 = 0.1;
/// An observed anomaly (count minus ensemble estimate) fades from the
/// forecast with this time constant, minutes.
pub const ANOMALY_MEMORY_MIN: f64 = 15.0;
/// Counts this close in time are about the same evidence: the model's
/// error in a count total lasts about as long as an anomaly does, so one
/// step's log-likelihood counts `step / COUNT_ERROR_MEMORY_MIN` of an
/// independent observation's (tempered), instead of every minute's count
/// of the same crowd counting in full and collapsing the ensemble onto
/// whatever the first hour suggested.
pub const COUNT_ERROR_MEMORY_MIN: f64 = ANOMALY_MEMORY_MIN;
/// Smallest spread (standard deviation, in the units of `parameters_of`)
/// the jitter keeps in each learned parameter, so the ensemble can follow
/// a day that changes: 3% on the arrival scale and dwell factor, 1% of the
/// planned visitors in unplanned walk-ins, 5% on each activity's attraction.
pub const PARAMETER_SPREAD_MIN: [f64; PARAMETERS] = [0.03, 0.03, 0.01, 0.05, 0.05, 0.05];
/// Share of the variance of the learned count noise that the forecast
/// band counts as the sensors' own (see `calibration`: the band of errors
/// against counts is narrowed by the sensors' share to be a band of the
/// people present). The learned noise is the median error of counts
/// against the ensemble's estimate now, sensor and model error together,
/// which the counts cannot split; half each. Counting all of it as sensor
/// noise narrowed the band to 0.56-0.65 coverage on the bundled day
/// (benches/README.md, "Live twin"). Counts that state their sigma are
/// narrowed by it in full.
pub const LEARNED_NOISE_SENSOR_SHARE: f64 = 0.5;
/// Default of `TwinConfig::prior_pull`: measured on the bundled day (16
/// members, the plan and eight truths; benches/README.md, "Live twin"),
/// 0.2-0.4 did about equally well; pulling the arrival scale too cost the
/// "more arrivals" truth (0.57 -> 0.77x the open loop).
pub const PRIOR_PULL: f64 = 0.3;
/// Localisation radius on the site graph, in element hops: a count at a
/// place corrects that place's state and local parameters and those of the
/// elements this many hops away (a walkway is one hop from its ends).
pub const LOCALISATION_RADIUS_HOPS: usize = 1;
/// Chance per assimilation step that a member's local service-rate factor
/// at a gate or transit stop jumps to a fresh draw (a regime switch: a stop
/// halts, a screening line slows, service resumes), so the ensemble always
/// holds a few members that try a change the plan does not have.
pub const SERVICE_JUMP_CHANCE: f64 = 0.01;
/// Lowest local service-rate factor (a halted stop or line).
pub const SERVICE_FACTOR_MIN: f64 = 0.01;
/// Smallest spread (log) the local service-rate factors keep.
pub const SERVICE_SPREAD_MIN: f64 = 0.05;
/// Share of the innovation (observed minus the member's count) added to
/// the ensemble's variance at a transit stop before the local update:
/// adaptive inflation, so a surprise the whole ensemble missed still moves it.
pub const LOCAL_INFLATION_SHARE: f64 = 0.5;
/// Share of the members that assume an unreported overrun when a
/// session's planned end comes, and the longest overrun they try, minutes.
pub const OVERRUN_SHARE: f64 = 0.0;
/// See [`OVERRUN_SHARE`].
pub const OVERRUN_MIN_MAX: f64 = 45.0;
/// The learned sensor noise (relative part) starts here and stays within these bounds.
pub const SENSOR_NOISE_PRIOR: f64 = 0.1;
/// See [`SENSOR_NOISE_PRIOR`].
pub const SENSOR_NOISE_BOUNDS: [f64; 2] = [0.02, 0.5];
/// Absolute part of the sensor noise the twin assumes, persons.
pub const SENSOR_NOISE_ABSOLUTE: f64 = 2.0;
/// A sensor that repeats the same count of at least
/// `STUCK_COUNT_MIN` people this many times in a row is stuck: ignored
/// until it changes.
pub const STUCK_REPEATS_MIN: u32 = 5;
/// See [`STUCK_REPEATS_MIN`].
pub const STUCK_COUNT_MIN: f64 = 10.0;
/// Weight of the newest anomaly in its exponential smoothing over counts:
/// one sensor's noise (and its bias) should not move the forecast, a crowd
/// the ensemble misses minute after minute should.
pub const ANOMALY_SMOOTHING: f64 = 0.3;
/// Share of Poisson count noise added to the ensemble's band.
pub const DRESSING_SHARE: f64 = 1.0;
/// Count totals the members are weighed on: one per kind of element
/// (see `kind_group`), and the whole site.
const AGGREGATES: usize = KIND_GROUPS + 1;
/// Kinds of element told apart by `kind_group`.
const KIND_GROUPS: usize = 9;

/// How the twin runs.
#[derive(Clone, Debug, PartialEq)]
pub struct TwinConfig {
    /// Ensemble members.
    pub members: usize,
    /// Seed of the members' streams, the prior and the resampling.
    pub seed: u64,
    /// Assimilation step: the ensemble advances and weighs in steps of this.
    pub step: SimDuration,
    /// Forecast horizon, minutes.
    pub horizon_min: u32,
    /// See `BuildOptions::population_headroom`: how far arrivals may scale up.
    pub population_headroom: f64,
    /// Threads for advancing and forecasting (members are split over them).
    pub threads: usize,
    /// Alert when a place reaches level of service E with at least this probability.
    pub alert_probability: f64,
    /// Spread of the prior on the arrival scale (log-normal sigma).
    pub prior_arrival_sigma: f64,
    /// Spread of the prior on the unplanned walk-ins (share of the planned
    /// visitors; the prior is half-normal: the plan says none).
    pub prior_unplanned_walk_in_sigma: f64,
    /// Local assimilation: per gate and transit stop a learned service-rate
    /// factor weighed on the counts near it, the state at transit stops
    /// corrected where observed, and (with [`OVERRUN_SHARE`] above 0, which
    /// it is not) members guessing unreported overruns. Off: only the global parameters (arrival scale,
    /// dwell, walk-ins, attraction per activity) are learned. Off by default:
    /// on the bundled day it makes the forecast worse than the plan when
    /// nothing unusual happens (benches/README.md, "Live twin").
    pub local_assimilation: bool,
    /// The people waiting at each transit stop corrected towards its count
    /// every step (the state update of local assimilation alone: an
    /// ensemble Kalman update, people moved consistently, see
    /// `correct_transit_queue`); the members keep their service rates, so
    /// an observed queue drains in them at the stop's planned rate. On by
    /// default: what the sensors see at a stop (a shuttle that did not
    /// come) is then in the members' state, not a shift laid on the
    /// forecast that fades as learned, which kept a queue that had drained
    /// (on the bundled day with the KTX stop halted unreported, 1.20x ->
    /// 1.01x the open loop's error; benches/README.md). Implied by
    /// `local_assimilation`.
    pub queue_correction: bool,
    /// Share of the way the ensemble's mean of each learned parameter but
    /// the arrival scale (dwell, walk-ins, the attraction of food, shops
    /// and fan zones) returns to the plan's value at each resampling: the
    /// parameters follow a mean-reverting walk around the plan instead of
    /// a free one. They rest on few sensors (one fan zone: its sensor's
    /// bias cannot be told from the zone's attraction), and a free walk
    /// wanders with the counts' noise and stays where it went, so with
    /// nothing changed the twin was worse than the plan (1.04-1.14x the
    /// open loop's error on the bundled day, seeds 1-3). A change the
    /// counts keep showing (rain) still moves them: the pull only costs the
    /// part of a deviation the next counts do not confirm. The arrival
    /// scale is weighed on every sensor and the gate entries and is not
    /// pulled. 0: a free walk.
    pub prior_pull: f64,
}

impl Default for TwinConfig {
    fn default() -> Self {
        TwinConfig {
            members: 32,
            seed: 1,
            step: SimDuration::from_secs(60),
            horizon_min: 30,
            population_headroom: 2.0,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            alert_probability: 0.2,
            prior_arrival_sigma: 0.25,
            prior_unplanned_walk_in_sigma: 0.03,
            local_assimilation: false,
            queue_correction: true,
            prior_pull: PRIOR_PULL,
        }
    }
}

#[derive(Clone)]
struct Member {
    sim: Simulation<CrowdWorld>,
    log_weight: f64,
    /// Per local place (see `Local::places`): log-likelihood of the counts
    /// near it since its last local resampling.
    local_log_weight: Vec<f64>,
}

/// What local assimilation works on.
struct Local {
    /// Gates and transit stops: places with a learned service-rate factor.
    places: Vec<usize>,
    /// Per local place: the elements within the localisation radius.
    near: Vec<Vec<usize>>,
    /// Sessions whose end the members have already hypothesised or been told.
    sessions_settled: Vec<bool>,
}

impl Local {
    fn new(world: &CrowdWorld) -> Local {
        let scenario = world.scenario();
        let place_count = scenario.places.len();
        let places: Vec<usize> = (0..place_count)
            .filter(|&p| {
                matches!(
                    scenario.places[p].kind,
                    crowdtwin_sim::scenario::PlaceKind::Gate | crowdtwin_sim::scenario::PlaceKind::Transit
                )
            })
            .collect();
        let near = places.iter().map(|&p| elements_near(world, p, LOCALISATION_RADIUS_HOPS)).collect();
        Local { places, near, sessions_settled: vec![false; scenario.sessions.len()] }
    }
}

/// Elements within `radius` hops of place `place` on the site graph (a
/// walkway is one hop from each of its ends), the place first.
fn elements_near(world: &CrowdWorld, place: usize, radius: usize) -> Vec<usize> {
    let scenario = world.scenario();
    let places = scenario.places.len();
    let mut distance = vec![usize::MAX; world.element_count()];
    distance[place] = 0;
    let mut frontier = vec![place];
    for hop in 1..=radius {
        let mut next = Vec::new();
        for &element in &frontier {
            if element < places {
                for (w, walkway) in scenario.walkways.iter().enumerate() {
                    if (walkway.a == element || walkway.b == element) && distance[places + w] == usize::MAX {
                        distance[places + w] = hop;
                        next.push(places + w);
                    }
                }
            } else {
                let walkway = &scenario.walkways[element - places];
                for end in [walkway.a, walkway.b] {
                    if distance[end] == usize::MAX {
                        distance[end] = hop;
                        next.push(end);
                    }
                }
            }
        }
        frontier = next;
    }
    let mut near: Vec<usize> = (0..distance.len()).filter(|&e| distance[e] <= radius).collect();
    near.sort_by_key(|&e| (distance[e], e));
    near
}

/// The members' futures for a forecast (element-major, see
/// [`member_future`]), their weights, the plan member's future, the
/// issued plans' expected people (in the futures already) and one
/// element's anomaly.
struct ElementFutures<'a> {
    futures: &'a [Vec<f64>],
    weights: &'a [f64],
    plan: &'a [f64],
    booked: &'a [f64],
    anomaly: f64,
}

/// One minute of an element's forecast: the corrected median (ensemble
/// and anomaly), the band issued and the scale of its errors.
struct MinuteBand {
    corrected: f64,
    p10: f64,
    p50: f64,
    p90: f64,
    scale: f64,
}

/// Count totals of one step per aggregate (kind of element, and the
/// whole site): observed, their sensors' variance, and the elements summed
/// with their sensors' sigma.
struct Totals {
    observed: [f64; AGGREGATES],
    variance: [f64; AGGREGATES],
    members_of: Vec<Vec<(usize, f64)>>,
}

/// The live twin.
pub struct Twin {
    config: TwinConfig,
    members: Vec<Member>,
    now: SimTime,
    pending: Vec<(u64, Timed)>,
    sequence: u64,
    seen: HashSet<String>,
    seen_order: VecDeque<String>,
    rng: ActorRng,
    totals: ObservationTotals,
    resamplings: u64,
    /// Latest count per element: (time, people, sensor sigma).
    latest_counts: Vec<Option<(SimTime, f64, f64)>>,
    /// Per element: whether its latest count's sigma is the twin's learned
    /// noise (the count stated none).
    sigma_learned: Vec<bool>,
    /// Anomaly persistence and forecast band, learned from past forecasts.
    calibration: Calibration,
    /// Where forecasts run the members ahead, if not here.
    run_ahead: Option<Arc<dyn RunAhead>>,
    /// Local assimilation's places and neighbourhoods.
    local: Local,
    /// Learned relative sensor noise (standard deviation per person counted).
    sensor_noise: f64,
    /// Per element: the last count and how many times in a row it came.
    repeats: Vec<(f64, u32)>,
    /// Per element: when last observed, and the anomaly (count minus the
    /// ensemble's estimate) smoothed over the counts (see [`ANOMALY_SMOOTHING`]).
    anomalies: Vec<Option<(SimTime, f64)>>,
    /// Each sensor's learned bias.
    bias: SensorBias,
    /// The plan member: the scenario's own parameters, told the reported
    /// events, never weighed nor corrected (taken out only while it runs
    /// with the members).
    plan: Option<Member>,
    /// The issued plans' load, shared with the planner that books it
    /// ([`Twin::set_bookings`]); none: no plans are counted.
    bookings: Option<Arc<Mutex<Bookings>>>,
    /// The share of visitors who follow their plan, learned from counts
    /// at booked places.
    compliance: ComplianceEstimate,
}

/// How a twin with `config` builds its members' simulation (also on the
/// nodes that run them ahead): with headroom and unplanned walk-ins.
pub fn twin_build_options(config: &TwinConfig) -> BuildOptions {
    BuildOptions {
        population_headroom: config.population_headroom,
        unplanned_walk_ins: true,
        ..BuildOptions::default()
    }
}

/// The stretch of future a forecast needs from each member: `horizon`
/// output intervals from bin `first_bin`, run to `end`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FutureWindow {
    /// First output interval.
    pub first_bin: usize,
    /// Intervals.
    pub horizon: usize,
    /// Where the fork runs to (the end of the last interval).
    pub end: SimTime,
}

/// A member's future, read from its world run to `window.end`: the mean
/// occupancy of every element in each interval of the window, element-major.
pub fn member_future(world: &CrowdWorld, window: FutureWindow) -> Vec<f64> {
    (0..world.element_count())
        .flat_map(|e| (0..window.horizon).map(move |k| (e, k)))
        .map(|(e, k)| world.element_recorder(e).mean_presence(window.first_bin + k, window.end))
        .collect()
}

/// Runs ensemble members ahead somewhere else (worker nodes).
pub trait RunAhead: Send + Sync {
    /// The futures of `members` of a twin with `config`, in order: for each,
    /// [`member_future`] of a fork run to `window.end`. An error makes the
    /// twin run them itself.
    fn run_ahead(
        &self,
        config: &TwinConfig,
        members: &[&Simulation<CrowdWorld>],
        window: FutureWindow,
    ) -> Result<Vec<Vec<f64>>, String>;
}

/// What a count sensor reports on average where `people` are present: its
/// noise (standard deviation `sigma`) is cut at zero, so near-empty places
/// read high on average: the mean of a normal censored at zero,
/// `p Φ(p/σ) + σ φ(p/σ)`. Comparing counts with this instead of `people`
/// keeps the filter from learning a bias from empty walkways.
pub fn observed_mean(people: f64, sigma: f64) -> f64 {
    if sigma <= 0.0 {
        return people.max(0.0);
    }
    let z = people / sigma;
    let cdf = 0.5 * (1.0 + erf(z / std::f64::consts::SQRT_2));
    let pdf = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
    people * cdf + sigma * pdf
}

/// The variance of a count total's error against a member's: the
/// sensors' `sensor_variance`, the model's error
/// ([`COUNT_MODEL_ERROR_SHARE`] of the `observed` total) and a floor of 5
/// people. It depends on the observation only, so a weight is symmetric
/// in over- and under-prediction.
fn count_error_variance(observed: f64, sensor_variance: f64) -> f64 {
    let model_error = COUNT_MODEL_ERROR_SHARE * observed;
    sensor_variance + model_error * model_error + 25.0
}

/// The error function (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7).
fn erf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly =
        t * (0.254_829_592 + t * (-0.284_496_736 + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let value = 1.0 - poly * (-x * x).exp();
    if x >= 0.0 { value } else { -value }
}

/// Kinds of element the calibration learns separately.
fn kind_group(kind: ElementKind) -> usize {
    ["gate", "plaza", "venue", "shop", "food", "fan_zone", "transit", "walkway"]
        .iter()
        .position(|k| *k == kind.as_str())
        .unwrap_or(8)
}

/// Liu & West (2001) shrinkage: after resampling, each copy's parameters
/// move towards the ensemble mean by `1 - a` and get noise of the matching
/// size, so the ensemble keeps its spread without drifting as a random walk.
const SHRINKAGE_A: f64 = 0.98;

/// Learned parameters.
const PARAMETERS: usize = 6;

/// The learned parameters (indices of `parameters_of`) that return towards
/// the plan's values (`TwinConfig::prior_pull`): all but the arrival scale.
const PRIOR_PULLED: std::ops::Range<usize> = 1..PARAMETERS;

/// The learned parameters: arrival scale and dwell factor in log space,
/// the unplanned walk-ins' share (people the plan does not have at all,
/// whom no scaling of the planned arrivals makes), and the attraction of
/// food, shops and fan zones in log space (weather moves people between
/// them). Walking speed is not learned: it stays at the scenario's value,
/// since counts alone cannot tell it from arrivals.
fn parameters_of(tuning: &Tuning) -> [f64; PARAMETERS] {
    let [food, shop, fan_zone] = tuning.attraction.map(f64::ln);
    [tuning.arrival_scale.ln(), tuning.dwell_factor.ln(), tuning.unplanned_walk_in_share, food, shop, fan_zone]
}

fn set_parameters(tuning: &mut Tuning, values: [f64; PARAMETERS], headroom: f64) {
    tuning.arrival_scale = values[0].exp().clamp(0.2, headroom);
    tuning.dwell_factor = values[1].exp().clamp(0.3, 3.0);
    tuning.unplanned_walk_in_share = values[2].clamp(0.0, model::UNPLANNED_WALK_IN_SHARE_MAX);
    for (k, attraction) in tuning.attraction.iter_mut().enumerate() {
        *attraction = values[3 + k].exp().clamp(0.1, 5.0);
    }
}

/// Systematic resampling: how many copies of each of `weights` (summing to 1) to keep.
fn systematic(weights: &[f64], rng: &mut ActorRng) -> Vec<usize> {
    let n = weights.len();
    let mut copies = vec![0usize; n];
    let start = rng.uniform() / n as f64;
    let mut cumulative = 0.0;
    let mut index = 0;
    for k in 0..n {
        let u = start + k as f64 / n as f64;
        while index < n - 1 && cumulative + weights[index] < u {
            cumulative += weights[index];
            index += 1;
        }
        copies[index] += 1;
    }
    copies
}

/// Weighted mean and variance of each parameter over the members.
fn weighted_moments(parameters: &[[f64; PARAMETERS]], weights: &[f64]) -> ([f64; PARAMETERS], [f64; PARAMETERS]) {
    let mut mean = [0.0; PARAMETERS];
    let mut variance = [0.0; PARAMETERS];
    for k in 0..PARAMETERS {
        mean[k] = parameters.iter().zip(weights).map(|(p, w)| p[k] * w).sum();
        variance[k] = parameters.iter().zip(weights).map(|(p, w)| (p[k] - mean[k]).powi(2) * w).sum();
    }
    (mean, variance)
}

/// Keeps the ensemble from collapsing onto one value of a parameter:
/// where the members' spread (standard deviation) of parameter `k` has
/// fallen below `floor[k]`, their deviations from the mean are inflated
/// to it (relaxation to a floor, as in Whitaker & Hamill 2012); members
/// that all hold the same value get fresh noise of that size. The mean
/// stays. Resampling duplicates members and the likelihood keeps only a
/// few: without this, three hours of counts leave every member with the
/// same arrival scale, and the ensemble can no longer follow a day that
/// changes.
fn keep_spread(values: &mut [[f64; PARAMETERS]], floor: &[f64; PARAMETERS], rng: &mut ActorRng) {
    let n = values.len();
    if n < 2 {
        return;
    }
    for k in 0..PARAMETERS {
        let mean = values.iter().map(|v| v[k]).sum::<f64>() / n as f64;
        let sd = (values.iter().map(|v| (v[k] - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
        if sd >= floor[k] {
            continue;
        }
        if sd < 1e-3 * floor[k] {
            for value in values.iter_mut() {
                value[k] += floor[k] * rng.normal();
            }
        } else {
            for value in values.iter_mut() {
                value[k] = mean + (value[k] - mean) * floor[k] / sd;
            }
        }
    }
}

/// Normalised weights of `log_weights`.
fn normalise(log_weights: impl Iterator<Item = f64> + Clone) -> Vec<f64> {
    let max = log_weights.clone().fold(f64::NEG_INFINITY, f64::max);
    let raw: Vec<f64> = log_weights.map(|w| (w - max).exp()).collect();
    let total: f64 = raw.iter().sum();
    raw.iter().map(|w| w / total).collect()
}

/// The `q` quantile of `(value, weight)` pairs sorted by value whose weights
/// sum to 1: the first value where the cumulative weight reaches `q` (the
/// largest if rounding leaves it short; 0 for none).
fn weighted_quantile(sorted: &[(f64, f64)], q: f64) -> f64 {
    let mut cumulative = 0.0;
    for &(value, weight) in sorted {
        cumulative += weight;
        if cumulative >= q {
            return value;
        }
    }
    sorted.last().map_or(0.0, |v| v.0)
}

/// Runs `job` on every member, spread over `threads` threads.
fn on_members<T: Send>(members: &mut [Member], threads: usize, job: impl Fn(&mut Member) -> T + Sync) -> Vec<T> {
    let chunk = members.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = members
            .chunks_mut(chunk)
            .map(|part| scope.spawn(|| part.iter_mut().map(&job).collect::<Vec<T>>()))
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("an ensemble member panicked")).collect()
    })
}

impl Twin {
    /// An ensemble for `scenario` at its start, with the uncertain
    /// parameters drawn from their priors.
    pub fn new(scenario: Scenario, config: TwinConfig) -> Result<Twin, String> {
        if !(1..=MEMBERS_MAX).contains(&config.members) {
            return Err(format!("members = {} must be between 1 and {MEMBERS_MAX}", config.members));
        }
        if !(1..=HORIZON_MIN_MAX).contains(&config.horizon_min) {
            return Err(format!("horizon {} min must be between 1 and {HORIZON_MIN_MAX}", config.horizon_min));
        }
        if config.step.as_micros() < 1_000_000 {
            return Err("the assimilation step must be at least 1 s".into());
        }
        if !(0.0..=1.0).contains(&config.prior_pull) {
            return Err(format!("prior pull {} must be between 0 and 1", config.prior_pull));
        }
        let mut rng = ActorRng::for_actor(config.seed, u32::MAX - 2);
        let base = model::build_with(scenario, config.seed, twin_build_options(&config));
        let mut plan = Member { sim: base.clone(), log_weight: 0.0, local_log_weight: Vec::new() };
        plan.sim.reseed(config.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x504C_414E);
        let members = (0..config.members)
            .map(|i| {
                let mut sim = base.clone();
                sim.reseed(config.seed.wrapping_add(1 + i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                let tuning = &mut sim.world_mut().tuning;
                if config.members > 1 {
                    let prior = [
                        config.prior_arrival_sigma * rng.normal(),
                        0.1 * rng.normal(),
                        (config.prior_unplanned_walk_in_sigma * rng.normal()).abs(),
                        0.1 * rng.normal(),
                        0.1 * rng.normal(),
                        0.1 * rng.normal(),
                    ];
                    set_parameters(tuning, prior, config.population_headroom);
                }
                Member { sim, log_weight: 0.0, local_log_weight: Vec::new() }
            })
            .collect::<Vec<Member>>();
        let world = members[0].sim.world();
        let local = Local::new(world);
        let mut members = members;
        for member in &mut members {
            member.local_log_weight = vec![0.0; local.places.len()];
        }
        let world = members[0].sim.world();
        let repeats = vec![(-1.0, 0); world.element_count()];
        let groups: Vec<usize> = (0..world.element_count()).map(|e| kind_group(world.element_kind(e))).collect();
        let bias = SensorBias::new(groups.clone());
        let calibration = Calibration::new(groups, prior_persistence(config.horizon_min as f64, ANOMALY_MEMORY_MIN));
        Ok(Twin {
            calibration,
            config,
            members,
            now: SimTime::ZERO,
            pending: Vec::new(),
            sequence: 0,
            seen: HashSet::new(),
            seen_order: VecDeque::new(),
            rng,
            totals: ObservationTotals::default(),
            resamplings: 0,
            latest_counts: Vec::new(),
            sigma_learned: Vec::new(),
            run_ahead: None,
            local,
            sensor_noise: SENSOR_NOISE_PRIOR,
            repeats,
            anomalies: Vec::new(),
            bias,
            plan: Some(plan),
            bookings: None,
            compliance: ComplianceEstimate::default(),
        })
    }

    /// The time the ensemble has been advanced to.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// A member's world, for the scenario and element names.
    pub fn world(&self) -> &CrowdWorld {
        self.members[0].sim.world()
    }

    /// The relative sensor noise learned from the twin's own errors (used
    /// for counts that state no `sigma`).
    pub fn sensor_noise(&self) -> f64 {
        self.sensor_noise
    }

    /// The weighted mean of the members' learned attraction of food, shops and fan zones.
    pub fn learned_attraction(&self) -> [f64; 3] {
        let weights = self.weights();
        let mut mean = [0.0; 3];
        for (member, w) in self.members.iter().zip(&weights) {
            for (k, value) in member.sim.world().tuning.attraction.iter().enumerate() {
                mean[k] += value * w;
            }
        }
        mean
    }

    /// The configuration.
    pub fn config(&self) -> &TwinConfig {
        &self.config
    }

    /// Counts the issued plans booked in `bookings` (shared with the
    /// planner that books them): their expected people are added to the
    /// members' futures at the booked places and to what the members are
    /// weighed against (the members themselves hold no plan followers).
    pub fn set_bookings(&mut self, bookings: Arc<Mutex<Bookings>>) {
        self.bookings = Some(bookings);
    }

    /// The issued plans' load, if any plan is booked.
    fn booked(&self) -> Option<MutexGuard<'_, Bookings>> {
        let bookings = self.bookings.as_ref()?.lock().unwrap_or_else(|e| e.into_inner());
        (bookings.plans() > 0).then_some(bookings)
    }

    /// The people of issued plans expected at each element now (times the
    /// compliance share; 0 at walkways); empty when none are booked.
    fn booked_now(&self) -> Vec<f64> {
        let Some(bookings) = self.booked() else { return Vec::new() };
        (0..self.world().element_count()).map(|e| bookings.expected_presence(e, self.now, self.now)).collect()
    }

    /// The issued plans counted and the share in use, for the forecast
    /// and the state.
    fn booked_plans(&self) -> BookedPlans {
        let (plans, compliance) = match &self.bookings {
            Some(bookings) => {
                let bookings = bookings.lock().unwrap_or_else(|e| e.into_inner());
                (bookings.plans(), bookings.compliance())
            }
            None => (0, self.compliance.share()),
        };
        BookedPlans {
            plans,
            compliance,
            compliance_sd: self.compliance.sd(),
            compliance_counts: self.compliance.counts(),
            compliance_learned: self.compliance.learned(),
        }
    }

    /// Learns the share of visitors who follow their plan from this
    /// step's counts `observed_counts` (element, count, sigma) at booked
    /// places (see [`ComplianceEstimate`]): each count's residual against
    /// the members' weighted mean (which holds no plan followers) over the
    /// people booked there now, its error the sensor's, the model's and
    /// the members' spread, tempered by `temper`. Once learned, the share
    /// replaces the prior in the bookings, for forecasts and later plans.
    fn learn_compliance(&mut self, observed_counts: &[(usize, f64, f64)], temper: f64) {
        let weights = self.weights();
        let evidence: Vec<(f64, f64, f64)> = {
            let Some(bookings) = self.booked() else { return };
            observed_counts
                .iter()
                .filter_map(|&(element, count, sigma)| {
                    let booked = bookings.booked_presence(element, self.now, self.now);
                    if booked < COMPLIANCE_BOOKED_MIN {
                        return None;
                    }
                    let people: Vec<f64> =
                        self.members.iter().map(|m| m.sim.world().element_people(element) as f64).collect();
                    let mean: f64 = people.iter().zip(&weights).map(|(p, w)| p * w).sum();
                    let spread: f64 = people.iter().zip(&weights).map(|(p, w)| (p - mean).powi(2) * w).sum();
                    let residual = count - observed_mean(mean, sigma);
                    Some((booked, residual, count_error_variance(count, sigma * sigma) + spread))
                })
                .collect()
        };
        for (booked, residual, variance) in evidence {
            self.compliance.observe(booked, residual, variance, temper);
        }
        if self.compliance.learned()
            && let Some(bookings) = &self.bookings
        {
            bookings.lock().unwrap_or_else(|e| e.into_inner()).set_compliance(self.compliance.share());
        }
    }

    /// Checks a batch and keeps it for assimilation; refuses the whole batch
    /// if any observation is bad (see [`observation`] for the rules).
    pub fn ingest(&mut self, batch: &[Observation]) -> Result<IngestReport, ObservationError> {
        if batch.len() > observation::OBSERVATION_BATCH_MAX {
            return Err(ObservationError {
                problems: vec![(
                    0,
                    format!("{} observations: at most {} per batch", batch.len(), observation::OBSERVATION_BATCH_MAX),
                )],
            });
        }
        let world = self.members[0].sim.world();
        let mut problems = Vec::new();
        let mut checked = Vec::with_capacity(batch.len());
        for (position, observation) in batch.iter().enumerate() {
            match observation::check(observation, world, self.now) {
                Ok(timed) => checked.push(timed),
                Err(problem) => problems.push((position, problem)),
            }
        }
        if !problems.is_empty() {
            return Err(ObservationError { problems });
        }
        let mut report = IngestReport::default();
        let mut batch_ids = HashSet::new();
        for (observation, timed) in batch.iter().zip(checked) {
            let id = observation.id();
            if self.seen.contains(id) || !batch_ids.insert(id) {
                report.duplicates += 1;
                continue;
            }
            let is_count = matches!(timed.what, Checked::Count { .. } | Checked::GateEntries { .. });
            // Counts reach the twin after the fact; up to the lag they still
            // weigh the ensemble at its next step, older ones cannot.
            if is_count && timed.at + observation::OBSERVATION_ASSIMILATION_LAG < self.now {
                report.late += 1;
            } else {
                report.accepted += 1;
                self.sequence += 1;
                self.pending.push((self.sequence, timed));
            }
        }
        for id in batch_ids {
            self.remember(id.to_string());
        }
        self.totals.accepted += report.accepted as u64;
        self.totals.duplicates += report.duplicates as u64;
        self.totals.late += report.late as u64;
        Ok(report)
    }

    fn remember(&mut self, id: String) {
        if self.seen_order.len() >= observation::OBSERVATION_IDS_REMEMBERED_MAX
            && let Some(old) = self.seen_order.pop_front()
        {
            self.seen.remove(&old);
        }
        self.seen.insert(id.clone());
        self.seen_order.push_back(id);
    }

    /// Advances the ensemble to `to` in assimilation steps.
    pub fn advance(&mut self, to: SimTime) {
        while self.now < to {
            let step_end = (self.now + self.config.step).min(to);
            self.apply_events(step_end);
            if self.config.local_assimilation && self.config.members > 1 {
                self.hypothesise_overruns(step_end);
            }
            let threads = self.config.threads;
            self.members.push(self.plan.take().expect("the plan member is kept"));
            on_members(&mut self.members, threads, |member| {
                member.sim.run_until(step_end);
            });
            self.plan = self.members.pop();
            self.now = step_end;
            self.assimilate();
        }
    }

    /// Every member's simulation and the plan member's: those told reported events.
    fn told_sims(&mut self) -> impl Iterator<Item = &mut Simulation<CrowdWorld>> {
        self.members.iter_mut().chain(self.plan.as_mut()).map(|m| &mut m.sim)
    }

    /// Events (delays, gate changes) due before `until`, applied to every member.
    fn apply_events(&mut self, until: SimTime) {
        let mut due: Vec<(u64, Timed)> = Vec::new();
        self.pending.retain(|(sequence, timed)| {
            let event = matches!(
                timed.what,
                Checked::SessionDelay { .. }
                    | Checked::GateStatus { .. }
                    | Checked::TransitStatus { .. }
                    | Checked::Recorded
            );
            if event && timed.at < until {
                due.push((*sequence, timed.clone()));
                false
            } else {
                true
            }
        });
        due.sort_by_key(|(sequence, timed)| (timed.at, *sequence));
        for (_, timed) in due {
            let at = timed.at.max(self.now);
            match timed.what {
                Checked::SessionDelay { session, delay } => {
                    let venue = self.world().scenario().sessions[session].venue;
                    let delay_s = (delay.as_micros() / 1_000_000) as u32;
                    for sim in self.told_sims() {
                        let message = Message::DelaySession { session: session as u16, delay_s };
                        sim.inject(ActorId::new(model::PLACE, venue as u32), at, message);
                    }
                    // Reported: no member guesses an overrun of its own.
                    self.local.sessions_settled[session] = true;
                    self.totals.events += 1;
                }
                Checked::GateStatus { place, open } => {
                    let intervention =
                        if open { Intervention::OpenGate { at, place } } else { Intervention::CloseGate { at, place } };
                    let shared = self.world().with_intervention(intervention);
                    for sim in self.told_sims() {
                        sim.world_mut().set_shared(shared.clone());
                        sim.inject(ActorId::new(model::PLACE, place as u32), at, Message::SetGate { open });
                    }
                    self.totals.events += 1;
                }
                Checked::TransitStatus { place, capacity_factor, until } => {
                    let until = until.unwrap_or(SimTime::MAX);
                    for sim in self.told_sims() {
                        // The report explains the change: the learned factor goes back to the plan's.
                        sim.world_mut().places[place].service_rate_factor = 1.0;
                        let message = Message::Disrupt { capacity_factor: capacity_factor as f32, until };
                        sim.inject(ActorId::new(model::PLACE, place as u32), at, message);
                    }
                    self.totals.events += 1;
                }
                _ => {}
            }
        }
    }

    /// When a session's planned end falls in the step to `until` and no
    /// delay was reported, [`OVERRUN_SHARE`] of the members assume an
    /// unreported overrun of up to [`OVERRUN_MIN_MAX`] minutes; the egress
    /// counts then weigh the hypotheses (a session's real end is learned).
    fn hypothesise_overruns(&mut self, until: SimTime) {
        let now = self.now;
        let scenario = self.world().scenario();
        let due: Vec<(usize, usize)> = scenario
            .sessions
            .iter()
            .enumerate()
            .filter(|(s, session)| !self.local.sessions_settled[*s] && session.end < until && session.end >= now)
            .map(|(s, session)| (s, session.venue))
            .collect();
        for (session, venue) in due {
            self.local.sessions_settled[session] = true;
            for member in &mut self.members {
                if !self.rng.chance(OVERRUN_SHARE) {
                    continue;
                }
                let delay_s = (60.0 * (1.0 + (OVERRUN_MIN_MAX - 1.0) * self.rng.uniform())) as u32;
                let message = Message::DelaySession { session: session as u16, delay_s };
                member.sim.inject(ActorId::new(model::PLACE, venue as u32), now, message);
            }
        }
    }

    /// Weighs the members by the counts observed up to now, and resamples
    /// when the weights degenerate.
    fn assimilate(&mut self) {
        let now = self.now;
        let mut counts = Vec::new();
        self.pending.retain(|(_, timed)| {
            let count = matches!(timed.what, Checked::Count { .. } | Checked::GateEntries { .. });
            if count && timed.at <= now {
                counts.push(timed.what.clone());
                false
            } else {
                true
            }
        });
        if counts.is_empty() {
            return;
        }
        self.totals.assimilated += counts.len() as u64;
        let booked = self.booked_now();
        let observed_counts = self.sensor_counts(&counts, &booked);
        let temper = (self.config.step.as_secs_f64() / (60.0 * COUNT_ERROR_MEMORY_MIN)).min(1.0);
        self.learn_compliance(&observed_counts, temper);
        // The state has hundreds of dimensions and the ensemble a few dozen
        // members: weighing on every count at once collapses it. Counts are
        // summed by kind of element (gates, venues, fan zones, walkways...)
        // and over the whole site, and members are weighed on those few
        // totals, which carry what the filter must learn (how many came, and
        // whether with tickets for the venues or for the park) without the
        // noise of single sensors. What is local (a stop's or a gate's
        // service) is learned from the counts near it (`assimilate_locally`).
        let mut latest = std::mem::take(&mut self.latest_counts);
        latest.resize(self.world().element_count(), None);
        let world = self.world();
        let group_of = |element: usize| kind_group(world.element_kind(element));
        let mut observed = [0.0f64; AGGREGATES];
        let mut variance = [0.0f64; AGGREGATES];
        let mut members_of: Vec<Vec<(usize, f64)>> = vec![Vec::new(); AGGREGATES];
        for &(element, count, sigma) in &observed_counts {
            latest[element] = Some((now, count, sigma));
            for group in [group_of(element), AGGREGATES - 1] {
                observed[group] += count;
                variance[group] += sigma * sigma;
                members_of[group].push((element, sigma));
            }
        }
        let gate_entries: Vec<(usize, std::ops::Range<usize>, f64)> = counts
            .iter()
            .filter_map(|what| match what {
                Checked::GateEntries { place, bins, count } => Some((*place, bins.clone(), *count)),
                _ => None,
            })
            .collect();
        self.latest_counts = latest;
        let interval = self.world().element_recorder(0).interval().as_micros();
        let (latest, learned) = (&self.latest_counts, &self.sigma_learned);
        self.calibration.score((now.as_micros() / interval) as usize, |element, bin| {
            let (at, count, sigma) = latest.get(element).copied().flatten()?;
            let at = at.as_micros();
            // The band may narrow by the sensors' noise only: of a learned
            // noise, the share `LEARNED_NOISE_SENSOR_SHARE` of its variance.
            let share = if learned.get(element) == Some(&true) { LEARNED_NOISE_SENSOR_SHARE } else { 1.0 };
            (at > bin as u64 * interval && at <= (bin as u64 + 1) * interval).then_some((count, sigma * share.sqrt()))
        });
        self.weigh(&Totals { observed, variance, members_of }, &gate_entries, &booked, temper);
        if (self.config.local_assimilation || self.config.queue_correction) && self.members.len() > 1 {
            self.assimilate_locally(&observed_counts, temper);
        }
        let weights = self.weights();
        let ess = 1.0 / weights.iter().map(|w| w * w).sum::<f64>();
        if ess < RESAMPLE_ESS_SHARE * self.members.len() as f64 {
            self.resample(&weights);
        }
    }

    /// Weighs every member on the count totals per kind of element and
    /// the gate entries (tempered by `temper`, see [`COUNT_ERROR_MEMORY_MIN`]),
    /// each member's people with the issued plans' expected people `booked`
    /// (per element; empty: none) added.
    fn weigh(
        &mut self,
        totals: &Totals,
        gate_entries: &[(usize, std::ops::Range<usize>, f64)],
        booked: &[f64],
        temper: f64,
    ) {
        let Totals { observed, variance, members_of } = totals;
        let noise = self.sensor_noise;
        for member in &mut self.members {
            let world = member.sim.world();
            let mut log_likelihood = 0.0;
            let mut term = |observed: f64, predicted: f64, variance: f64| {
                // The spread depends on the observation only, so the weight is
                // symmetric in over- and under-prediction.
                let sd = count_error_variance(observed, variance).sqrt();
                let z = (observed - predicted) / sd;
                log_likelihood += -0.5 * z * z - sd.ln();
            };
            for group in 0..AGGREGATES {
                if members_of[group].is_empty() {
                    continue;
                }
                let predicted: f64 = members_of[group]
                    .iter()
                    .map(|&(e, sigma)| {
                        observed_mean(world.element_people(e) as f64 + booked.get(e).copied().unwrap_or(0.0), sigma)
                    })
                    .sum();
                term(observed[group], predicted, variance[group]);
            }
            for (place, bins, count) in gate_entries {
                let predicted = world.places[*place].recorder.entries(bins.clone()) as f64;
                term(*count, predicted, (noise * count + SENSOR_NOISE_ABSOLUTE).powi(2));
            }
            member.log_weight += temper * log_likelihood;
        }
    }

    /// The counts of this step as `(element, count, sigma)`, without stuck
    /// sensors (the same count of a busy place [`STUCK_REPEATS_MIN`] times
    /// in a row), each divided by its sensor's learned bias (see
    /// [`crate::bias`]); counts with no stated sigma get the noise the twin has
    /// learned from its own errors: the median relative error of busy
    /// elements' counts against the ensemble's mean (model error included,
    /// so it errs on the wide side), smoothed over steps. The anomaly is
    /// the count beyond the ensemble's estimate and the issued plans'
    /// expected people `booked` (per element; empty: none).
    fn sensor_counts(&mut self, counts: &[Checked], booked: &[f64]) -> Vec<(usize, f64, f64)> {
        let weights = self.weights();
        let mut relative_errors = Vec::new();
        let mut usable = Vec::with_capacity(counts.len());
        for what in counts {
            let Checked::Count { element, count, sigma } = *what else { continue };
            let repeat = &mut self.repeats[element];
            repeat.1 = if repeat.0 == count { repeat.1 + 1 } else { 1 };
            repeat.0 = count;
            if repeat.1 >= STUCK_REPEATS_MIN && count >= STUCK_COUNT_MIN {
                continue;
            }
            let estimate: f64 =
                self.members.iter().zip(&weights).map(|(m, w)| m.sim.world().element_people(element) as f64 * w).sum();
            // The count as the sensor would read without its learned bias.
            self.bias.observe(element, count, estimate);
            let count = count / self.bias.factor(element);
            if sigma.is_none() && estimate.max(count) >= 20.0 {
                relative_errors.push((count - estimate).abs() / (estimate.max(count) + SENSOR_NOISE_ABSOLUTE));
            }
            usable.push((element, count, sigma, estimate));
        }
        if relative_errors.len() >= 5 {
            relative_errors.sort_by(f64::total_cmp);
            let median = relative_errors[relative_errors.len() / 2] * 1.4826;
            self.sensor_noise =
                (0.9 * self.sensor_noise + 0.1 * median).clamp(SENSOR_NOISE_BOUNDS[0], SENSOR_NOISE_BOUNDS[1]);
        }
        self.bias.settle();
        let noise = self.sensor_noise;
        let now = self.now;
        self.anomalies.resize(self.repeats.len(), None);
        self.sigma_learned.resize(self.repeats.len(), false);
        usable
            .into_iter()
            .map(|(element, count, sigma, estimate)| {
                self.sigma_learned[element] = sigma.is_none();
                let sigma = sigma.unwrap_or(noise * count + SENSOR_NOISE_ABSOLUTE);
                let expected = estimate + booked.get(element).copied().unwrap_or(0.0);
                let anomaly = count - observed_mean(expected, sigma);
                let smoothed = match self.anomalies[element] {
                    Some((at, before)) if at + observation::OBSERVATION_ASSIMILATION_LAG >= now => {
                        (1.0 - ANOMALY_SMOOTHING) * before + ANOMALY_SMOOTHING * anomaly
                    }
                    _ => anomaly,
                };
                self.anomalies[element] = Some((now, smoothed));
                (element, count, sigma)
            })
            .collect()
    }

    /// Local assimilation (a localised particle filter, after Poterjoy
    /// 2016): for each gate and transit stop, the members are weighed on
    /// the counts within [`LOCALISATION_RADIUS_HOPS`] of it only, and when
    /// those local weights degenerate, each member takes the local
    /// service-rate factor of a member drawn by them (jittered, with a
    /// spread floor and occasional jumps), the rest of its state staying
    /// its own. At a transit stop the queue itself is corrected where
    /// observed (an ensemble Kalman update with perturbed observations and
    /// adaptive inflation), by moving people consistently: extra waiters
    /// leave on a departure, missing ones are people who left from there
    /// brought back to wait. With queue correction alone
    /// (`TwinConfig::queue_correction` without `local_assimilation`) only
    /// that correction runs.
    fn assimilate_locally(&mut self, observed_counts: &[(usize, f64, f64)], temper: f64) {
        let now = self.now;
        let n = self.members.len();
        let mut count_at: Vec<Option<(f64, f64)>> = vec![None; self.world().element_count()];
        for &(element, count, sigma) in observed_counts {
            count_at[element] = Some((count, sigma));
        }
        for local in 0..self.local.places.len() {
            let place = self.local.places[local];
            let near = self.local.near[local].clone();
            if near.iter().all(|&e| count_at[e].is_none()) {
                continue;
            }
            if !self.config.local_assimilation {
                // Queue correction alone: the members keep their service rates.
                if let Some((count, sigma)) = count_at[place].filter(|_| self.is_transit(place)) {
                    self.correct_transit_queue(place, count, sigma, now);
                }
                continue;
            }
            for member in &mut self.members {
                let world = member.sim.world();
                let mut log_likelihood = 0.0;
                for &element in &near {
                    let Some((count, sigma)) = count_at[element] else { continue };
                    let predicted = observed_mean(world.element_people(element) as f64, sigma);
                    let sd = count_error_variance(count, sigma * sigma).sqrt();
                    let z = (count - predicted) / sd;
                    // The place's own count (a stop's queue, a gate's line) is
                    // the state the factor drives, corrected every step: each
                    // step's count is fresh evidence on the factor, so it is
                    // not tempered; the counts around it are.
                    let weight = if element == place { 1.0 } else { temper };
                    log_likelihood += -0.5 * z * z * weight;
                }
                member.local_log_weight[local] += log_likelihood;
            }
            let weights = normalise(self.members.iter().map(|m| m.local_log_weight[local]));
            let ess = 1.0 / weights.iter().map(|w| w * w).sum::<f64>();
            let factors: Vec<f64> =
                self.members.iter().map(|m| m.sim.world().places[place].service_rate_factor.ln()).collect();
            let mut new_factors = factors.clone();
            if ess < RESAMPLE_ESS_SHARE * n as f64 {
                new_factors = self.resample_factors(&factors, &weights);
                for member in &mut self.members {
                    member.local_log_weight[local] = 0.0;
                }
            }
            for factor in &mut new_factors {
                if self.rng.chance(SERVICE_JUMP_CHANCE) {
                    // A regime switch: normal, halted, or in between (log-uniform).
                    *factor = match self.rng.below(3) {
                        0 => 0.0,
                        1 => SERVICE_FACTOR_MIN.ln(),
                        _ => (0.02f64).ln() * self.rng.uniform(),
                    };
                }
            }
            for (member, factor) in self.members.iter_mut().zip(&new_factors) {
                member.sim.world_mut().places[place].service_rate_factor = factor.exp().clamp(SERVICE_FACTOR_MIN, 1.5);
            }
            if let Some((count, sigma)) = count_at[place].filter(|_| self.is_transit(place)) {
                self.correct_transit_queue(place, count, sigma, now);
            }
        }
    }

    /// Whether place `place` is a transit stop.
    fn is_transit(&self, place: usize) -> bool {
        self.world().scenario().places[place].kind == crowdtwin_sim::scenario::PlaceKind::Transit
    }

    /// A local resampling of the factors `factors` (log) by `weights`:
    /// each member keeps its place in the ensemble (its other state) and
    /// takes the factor of a member drawn by the weights, shrunk and
    /// jittered (Liu & West, with a spread floor of [`SERVICE_SPREAD_MIN`]).
    fn resample_factors(&mut self, factors: &[f64], weights: &[f64]) -> Vec<f64> {
        let n = factors.len();
        let mut new_factors = factors.to_vec();
        let copies = systematic(weights, &mut self.rng);
        let drawn: Vec<usize> = copies.iter().enumerate().flat_map(|(i, &c)| std::iter::repeat_n(i, c)).collect();
        let mean: f64 = factors.iter().zip(weights).map(|(f, w)| f * w).sum();
        let spread = factors
            .iter()
            .zip(weights)
            .map(|(f, w)| (f - mean).powi(2) * w)
            .sum::<f64>()
            .max(SERVICE_SPREAD_MIN * SERVICE_SPREAD_MIN)
            .sqrt();
        let jitter = (1.0 - SHRINKAGE_A * SHRINKAGE_A).sqrt() * spread;
        // Members keep their place in the ensemble (their other
        // state); the local factor comes from the drawn member.
        let mut order: Vec<usize> = (0..n).collect();
        for k in (1..n).rev() {
            order.swap(k, self.rng.below(k as u64 + 1) as usize);
        }
        for (slot, &i) in order.iter().enumerate() {
            let source = drawn[slot];
            new_factors[i] = SHRINKAGE_A * factors[source] + (1.0 - SHRINKAGE_A) * mean + jitter * self.rng.normal();
        }
        new_factors
    }

    /// The local state update at transit stop `place` (see `assimilate_locally`).
    fn correct_transit_queue(&mut self, place: usize, count: f64, sigma: f64, now: SimTime) {
        let people: Vec<f64> = self.members.iter().map(|m| m.sim.world().element_people(place) as f64).collect();
        let weights = self.weights();
        let mean: f64 = people.iter().zip(&weights).map(|(p, w)| p * w).sum();
        let variance: f64 = people.iter().zip(&weights).map(|(p, w)| (p - mean).powi(2) * w).sum();
        let inflated = variance + (LOCAL_INFLATION_SHARE * (count - mean)).powi(2);
        let gain = inflated / (inflated + sigma * sigma);
        let interval = SimDuration::from_secs_f64(self.world().scenario().places[place].departure_interval_s);
        for (member, own) in self.members.iter_mut().zip(people) {
            let perturbed = count + sigma * self.rng.normal();
            let state = &mut member.sim.world_mut().places[place];
            let others = own - state.transit_waiting() as f64;
            let target = (own + gain * (perturbed - own) - others).round().max(0.0) as usize;
            if state.set_transit_waiting(now, target) {
                let next = SimTime(now.as_micros().div_ceil(interval.as_micros()).max(1) * interval.as_micros());
                member.sim.inject(ActorId::new(model::PLACE, place as u32), next.max(now), Message::Departure);
            }
        }
    }

    /// Normalised weights.
    fn weights(&self) -> Vec<f64> {
        normalise(self.members.iter().map(|m| m.log_weight))
    }

    /// Systematic resampling; copies get fresh random streams and jittered
    /// parameters, and the parameters' spread is kept at its floor (see
    /// [`keep_spread`]).
    fn resample(&mut self, weights: &[f64]) {
        let copies = systematic(weights, &mut self.rng);
        let parameters: Vec<[f64; PARAMETERS]> =
            self.members.iter().map(|m| parameters_of(&m.sim.world().tuning)).collect();
        let (mean, variance) = weighted_moments(&parameters, weights);
        // Mean reversion towards the plan's values (see `TwinConfig::prior_pull`).
        let mut shift = [0.0; PARAMETERS];
        if let Some(plan) = &self.plan {
            let prior = parameters_of(&plan.sim.world().tuning);
            for k in PRIOR_PULLED {
                shift[k] = self.config.prior_pull * (prior[k] - mean[k]);
            }
        }
        let old = std::mem::take(&mut self.members);
        let spread = (1.0 - SHRINKAGE_A * SHRINKAGE_A).sqrt();
        let mut moved_all = Vec::with_capacity(old.len());
        for (member, count) in old.into_iter().zip(copies) {
            if count == 0 {
                continue;
            }
            let mut sims = Vec::with_capacity(count);
            for _ in 1..count {
                let mut copy = member.sim.clone();
                copy.reseed(self.rng.next_bits());
                sims.push(copy);
            }
            sims.push(member.sim);
            for sim in sims {
                let own = parameters_of(&sim.world().tuning);
                let mut moved = [0.0; PARAMETERS];
                for k in 0..PARAMETERS {
                    let sd = variance[k].max(PARAMETER_SPREAD_MIN[k] * PARAMETER_SPREAD_MIN[k]).sqrt();
                    moved[k] = SHRINKAGE_A * own[k]
                        + (1.0 - SHRINKAGE_A) * mean[k]
                        + spread * sd * self.rng.normal()
                        + shift[k];
                }
                moved_all.push(moved);
                let local_log_weight = member.local_log_weight.clone();
                self.members.push(Member { sim, log_weight: 0.0, local_log_weight });
            }
        }
        keep_spread(&mut moved_all, &PARAMETER_SPREAD_MIN, &mut self.rng);
        let headroom = self.config.population_headroom;
        for (member, moved) in self.members.iter_mut().zip(moved_all) {
            set_parameters(&mut member.sim.world_mut().tuning, moved, headroom);
        }
        self.resamplings += 1;
    }

    /// Every member's future over `window`, from the nodes of
    /// [`Twin::set_run_ahead`] if any (the same numbers), else from forks here.
    fn futures(&mut self, window: FutureWindow) -> Vec<Vec<f64>> {
        if let Some(remote) = &self.run_ahead {
            let sims: Vec<&Simulation<CrowdWorld>> = self.members.iter().map(|m| &m.sim).collect();
            match remote.run_ahead(&self.config, &sims, window) {
                Ok(futures) if futures.len() == sims.len() => return futures,
                Ok(futures) => eprintln!(
                    "twin: the nodes returned {} futures for {} members; running them here",
                    futures.len(),
                    sims.len()
                ),
                Err(why) => eprintln!("twin: forecast on the nodes failed ({why}); running the members here"),
            }
        }
        on_members(&mut self.members, self.config.threads, |member| {
            let mut fork = member.sim.clone();
            fork.run_until(window.end);
            member_future(fork.world(), window)
        })
    }

    /// Runs forecasts' member forks on `run_ahead` (worker nodes) instead
    /// of this process's threads; if it fails, a forecast runs them here.
    pub fn set_run_ahead(&mut self, run_ahead: Arc<dyn RunAhead>) {
        self.run_ahead = Some(run_ahead);
    }

    /// Runs every member ahead by the horizon from a fork and summarises the
    /// futures: weighted P10/P50/P90 per element per minute, and alerts.
    /// The plan member runs ahead too: where the twin's verified skill at
    /// an element is no better than the plan's, the median keeps near the
    /// plan (see [`Calibration::twin_weight`]).
    pub fn forecast(&mut self) -> Forecast {
        // Events reported for now (a gate closed at the issue time) are in
        // the forecast; `advance` applies only those before its step's end.
        self.apply_events(self.now + SimDuration(1));
        let now = self.now;
        let weights = self.weights();
        let interval = self.world().element_recorder(0).interval();
        let first_bin = now.as_micros().div_ceil(interval.as_micros()) as usize;
        let horizon = self.config.horizon_min as usize;
        let end = SimTime((first_bin + horizon) as u64 * interval.as_micros());
        let elements = self.world().element_count();
        let window = FutureWindow { first_bin, horizon, end };
        self.members.push(self.plan.take().expect("the plan member is kept"));
        let mut futures = self.futures(window);
        self.plan = self.members.pop();
        let booked = self.booked_futures(window);
        if !booked.is_empty() {
            for future in &mut futures {
                for (value, extra) in future.iter_mut().zip(&booked) {
                    *value += extra;
                }
            }
        }
        let plan = futures.pop().expect("the plan member's future");
        let booked = if booked.is_empty() { vec![0.0; elements * horizon] } else { booked };
        let anomaly = self.forecast_anomalies();
        let mut forecast_elements = Vec::with_capacity(elements);
        let mut alerts = Vec::new();
        let mut issued = Vec::with_capacity(elements);
        for (e, &anomaly) in anomaly.iter().enumerate() {
            let values = ElementFutures { futures: &futures, weights: &weights, plan: &plan, booked: &booked, anomaly };
            let (element, alert, verified) = self.element_forecast(e, window, &values);
            forecast_elements.push(element);
            alerts.extend(alert);
            issued.push(verified);
        }
        alerts.sort_by(|a, b| a.minutes_ahead.cmp(&b.minutes_ahead).then(b.probability.total_cmp(&a.probability)));
        let forecast = Forecast {
            issued_at: format_clock(self.world().scenario().clock_s(now)),
            issued_at_s: now.as_micros() / 1_000_000,
            horizon_min: self.config.horizon_min,
            members: self.members.len(),
            effective_members: 1.0 / weights.iter().map(|w| w * w).sum::<f64>(),
            elements: forecast_elements,
            alerts,
            booked: self.booked_plans(),
        };
        self.calibration.issue(first_bin + horizon - 1, issued.into_iter());
        forecast
    }

    /// The issued plans' expected people per element per interval of
    /// `window` (element-major, as [`member_future`]); empty when none
    /// are booked.
    fn booked_futures(&self, window: FutureWindow) -> Vec<f64> {
        let Some(bookings) = self.booked() else { return Vec::new() };
        let interval = self.world().element_recorder(0).interval();
        let elements = self.world().element_count();
        (0..elements)
            .flat_map(|e| (0..window.horizon).map(move |k| (e, k)))
            .map(|(e, k)| {
                let from = SimTime((window.first_bin + k) as u64 * interval.as_micros());
                bookings.expected_presence(e, from, from + interval)
            })
            .collect()
    }

    /// What the sensors saw beyond what the ensemble holds now, per element:
    /// the smoothed anomaly, shrunk by how far it stands above the sensors'
    /// noise (what smoothing leaves of it): a James-Stein-like gain
    /// `a^2 / (a^2 + s^2)`, near 0 for noise, near 1 for a surprise.
    fn forecast_anomalies(&self) -> Vec<f64> {
        let smoothed_variance = ANOMALY_SMOOTHING / (2.0 - ANOMALY_SMOOTHING);
        (0..self.world().element_count())
            .map(|e| match (self.anomalies.get(e).copied().flatten(), self.latest_counts.get(e).copied().flatten()) {
                (Some((at, smoothed)), Some((_, _, sigma)))
                    if at + observation::OBSERVATION_ASSIMILATION_LAG >= self.now =>
                {
                    let noise = sigma * sigma * smoothed_variance;
                    smoothed * smoothed * smoothed / (smoothed * smoothed + noise).max(1e-9)
                }
                _ => 0.0,
            })
            .collect()
    }

    /// Element `e`'s forecast over `window` from the members' futures, its
    /// alert if any, and what the calibration verifies later.
    fn element_forecast(
        &self,
        e: usize,
        window: FutureWindow,
        values: &ElementFutures,
    ) -> (ElementForecast, Option<Alert>, Issued) {
        let world = self.world();
        let (area, kind) = (world.element_area_m2(e), world.element_kind(e));
        let queueing = model::is_queueing_area(kind);
        let horizon = window.horizon;
        let interval_s = world.element_recorder(0).interval().as_secs_f64();
        let mut minutes = Vec::with_capacity(horizon);
        let mut verified = None;
        for k in 0..horizon {
            let mut sorted: Vec<(f64, f64)> =
                values.futures.iter().zip(values.weights).map(|(f, &w)| (f[e * horizon + k], w)).collect();
            sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
            // `+ 0.0` turns the empty sum's -0.0 into 0.0 for the JSON.
            let p_bad: f64 = sorted
                .iter()
                .filter(|(v, _)| Los::from_density(v / area, queueing) >= Los::E)
                .map(|x| x.1)
                .sum::<f64>()
                + 0.0;
            // The observed anomaly persists as learned (from 1 now to the
            // learned factor at the horizon).
            let persistence = 1.0 + (self.calibration.persistence(e) - 1.0) * (k + 1) as f64 / horizon as f64;
            let shift = values.anomaly * persistence;
            let band = self.band(e, &sorted, shift, values.plan[e * horizon + k]);
            if k + 1 == horizon {
                verified = Some(Issued {
                    element: e,
                    raw: weighted_quantile(&sorted, 0.5),
                    anomaly: values.anomaly,
                    corrected: band.corrected,
                    plan: values.plan[e * horizon + k],
                    issued: band.p50,
                    scale: band.scale,
                });
            }
            let start_s = (window.first_bin + k) as f64 * interval_s;
            minutes.push(MinuteQuantiles {
                minute: k as u32 + 1,
                clock: format_clock(world.scenario().start_clock_s + start_s as u32),
                occupancy_p10: band.p10,
                occupancy_p50: band.p50,
                occupancy_p90: band.p90,
                density_p50: band.p50 / area,
                density_p90: band.p90 / area,
                probability_los_e_or_worse: p_bad.clamp(0.0, 1.0),
                booked: values.booked[e * horizon + k],
            });
        }
        let id = world.element_id(e);
        let alert =
            minutes.iter().find(|m| m.probability_los_e_or_worse >= self.config.alert_probability).map(|first| {
                let worst = minutes.iter().map(|m| m.probability_los_e_or_worse).fold(0.0, f64::max);
                let peak = minutes.iter().map(|m| m.density_p90).fold(0.0, f64::max);
                Alert {
                    place: id.clone(),
                    kind: kind.to_string(),
                    at: first.clock.clone(),
                    minutes_ahead: first.minute,
                    level: Los::from_density(peak, queueing).letter().to_string(),
                    probability: worst,
                    density_p90: peak,
                }
            });
        let element = ElementForecast { id, kind: kind.to_string(), area_m2: area, minutes };
        (element, alert, verified.expect("a horizon of at least one minute"))
    }

    /// The latest count at element `e` (without its sensor's bias) minus
    /// the plan member's people there now; 0 without a recent count.
    fn gap_to_plan(&self, e: usize) -> f64 {
        match (self.latest_counts.get(e).copied().flatten(), &self.plan) {
            (Some((at, count, _)), Some(plan)) if at + observation::OBSERVATION_ASSIMILATION_LAG >= self.now => {
                count - plan.sim.world().element_people(e) as f64
            }
            _ => 0.0,
        }
    }

    /// One minute's band of element `e` from the members' values `sorted`
    /// (value, weight; by value), the anomaly's shift and the plan's value:
    /// the median is the ensemble's plus the shift, blended with the plan by
    /// verified skill; the band is the ensemble's spread with count noise,
    /// scaled by the learned error quantiles once there are enough, else
    /// dressed as is, and moved with the median.
    fn band(&self, e: usize, sorted: &[(f64, f64)], shift: f64, plan: f64) -> MinuteBand {
        let quantile = |q: f64| weighted_quantile(sorted, q);
        let (p10, p50, p90) = (quantile(0.1), quantile(0.5), quantile(0.9));
        let noise = 1.2816 * (p50.max(0.0) + 1.0).sqrt() * DRESSING_SHARE;
        let corrected = (p50 + shift).max(0.0);
        let departure = corrected - plan;
        let issued = (plan + self.calibration.twin_weight(e, self.gap_to_plan(e)) * departure).max(0.0);
        let scale = (((p90 - p10) / 2.5631).powi(2) + (noise / 1.2816).powi(2)).sqrt();
        let (low, high) = match self.calibration.band(e) {
            Some(band) => ((issued + band.low * scale).max(0.0), (issued + band.high * scale).max(0.0)),
            None => (
                (issued - ((p50 - p10).max(0.0).powi(2) + noise * noise).sqrt()).max(0.0),
                issued + ((p90 - p50).max(0.0).powi(2) + noise * noise).sqrt(),
            ),
        };
        MinuteBand { corrected, p10: low.min(issued), p50: issued, p90: high.max(issued), scale }
    }

    /// The current estimate: people per element (weighted mean, P10, P90),
    /// the learned parameters and the observation totals.
    pub fn state(&self) -> TwinState {
        let weights = self.weights();
        let world = self.world();
        let elements = (0..world.element_count())
            .map(|e| {
                let mut values: Vec<(f64, f64)> = self
                    .members
                    .iter()
                    .zip(&weights)
                    .map(|(m, &w)| (m.sim.world().element_people(e) as f64, w))
                    .collect();
                let mean = values.iter().map(|(v, w)| v * w).sum::<f64>();
                values.sort_by(|a, b| a.0.total_cmp(&b.0));
                let quantile = |q: f64| weighted_quantile(&values, q);
                let area = world.element_area_m2(e);
                ElementState {
                    id: world.element_id(e),
                    kind: world.element_kind(e).to_string(),
                    people_mean: mean,
                    people_p10: quantile(0.1),
                    people_p90: quantile(0.9),
                    density_mean: mean / area,
                    los: Los::from_density(mean / area, model::is_queueing_area(world.element_kind(e)))
                        .letter()
                        .to_string(),
                }
            })
            .collect();
        let mean_of = |f: fn(&Tuning) -> f64| {
            self.members.iter().zip(&weights).map(|(m, w)| f(&m.sim.world().tuning) * w).sum::<f64>()
        };
        TwinState {
            clock: format_clock(world.scenario().clock_s(self.now)),
            time_s: self.now.as_micros() / 1_000_000,
            members: self.members.len(),
            effective_members: 1.0 / weights.iter().map(|w| w * w).sum::<f64>(),
            resamplings: self.resamplings,
            arrival_scale: mean_of(|t| t.arrival_scale),
            arrival_scale_spread: (mean_of(|t| t.arrival_scale.powi(2)) - mean_of(|t| t.arrival_scale).powi(2))
                .max(0.0)
                .sqrt(),
            walk_speed_factor: mean_of(|t| t.walk_speed_factor),
            dwell_factor: mean_of(|t| t.dwell_factor),
            unplanned_walk_in_share: mean_of(|t| t.unplanned_walk_in_share),
            observations: self.totals,
            elements,
            booked: self.booked_plans(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sensor_cut_at_zero_reads_high_near_empty_and_true_when_busy() {
        // Mean of max(0, N(0, 2)) = 2 / sqrt(2 pi).
        assert!((observed_mean(0.0, 2.0) - 2.0 / (2.0 * std::f64::consts::PI).sqrt()).abs() < 1e-6);
        assert!((observed_mean(100.0, 7.0) - 100.0).abs() < 1e-9);
        // Against a sampled censored mean at p = 1, sigma = 2.
        let mut rng = ActorRng::for_actor(1, 1);
        let n = 200_000;
        let sampled = (0..n).map(|_| (1.0 + 2.0 * rng.normal()).max(0.0)).sum::<f64>() / n as f64;
        assert!((observed_mean(1.0, 2.0) - sampled).abs() < 0.01, "{} vs {sampled}", observed_mean(1.0, 2.0));
        assert!((erf(0.5) - 0.520_499_877_8).abs() < 2e-7 && (erf(-1.2) + 0.910_313_978_2).abs() < 2e-7);
    }

    /// The ensemble's mean log value of each learned parameter after one
    /// resampling with equal weights, every member starting from `start`.
    fn mean_after_resampling(prior_pull: f64, start: [f64; PARAMETERS]) -> [f64; PARAMETERS] {
        let text = include_str!("../../../scenarios/gangneung-2018.toml");
        let scenario = Scenario::parse(text, "gangneung-2018.toml").unwrap();
        let config = TwinConfig { members: 8, threads: 1, prior_pull, ..Default::default() };
        let mut twin = Twin::new(scenario, config).unwrap();
        for member in &mut twin.members {
            set_parameters(&mut member.sim.world_mut().tuning, start, 2.0);
        }
        let weights = vec![1.0 / 8.0; 8];
        twin.resample(&weights);
        let parameters: Vec<_> = twin.members.iter().map(|m| parameters_of(&m.sim.world().tuning)).collect();
        weighted_moments(&parameters, &weights).0
    }

    #[test]
    fn resampling_pulls_the_learned_parameters_but_the_arrival_scale_towards_the_plan() {
        let scenario = Scenario::parse(include_str!("../../../scenarios/gangneung-2018.toml"), "g.toml").unwrap();
        for refused in [-0.1, 1.5, f64::NAN] {
            let config = TwinConfig { members: 2, prior_pull: refused, ..Default::default() };
            let error = Twin::new(scenario.clone(), config).err().expect("refused");
            assert!(error.contains("prior pull") && error.contains("between 0 and 1"), "{error}");
        }
        // Arrivals 20% up, dwell 10% up, fan zones 30% up, food 20% down.
        let start = [1.2f64.ln(), 1.1f64.ln(), 0.0, 0.8f64.ln(), 0.0, 1.3f64.ln()];
        let pulled = mean_after_resampling(0.3, start);
        let free = mean_after_resampling(0.0, start);
        // The jitter moves each member by about 0.01 (log) and keeps the
        // mean within 0.01 / sqrt(8) of where it was.
        for k in [0, 1, 3, 5] {
            assert!((free[k] - start[k]).abs() < 0.01, "free walk, parameter {k}: {} from {}", free[k], start[k]);
        }
        assert!((pulled[0] - start[0]).abs() < 0.01, "the arrival scale is not pulled: {}", pulled[0]);
        for k in [1, 3, 5] {
            let expected = 0.7 * start[k];
            assert!((pulled[k] - expected).abs() < 0.01, "parameter {k}: {} against {expected}", pulled[k]);
        }
    }
}
