//! `crowdtwin forecast-eval` and `crowdtwin observe`: a hidden "truth" run
//! of a scenario as a sensor feed, and the twin's 30-minute forecasts
//! scored against it, beside persistence and the open-loop plan.

use crate::{Observation, Twin, TwinConfig};
use crowdtwin_sim::kernel::ActorRng;
use crowdtwin_sim::model::{self, CrowdWorld, ElementKind, Los, RunOutput};
use crowdtwin_sim::scenario::{Intervention, Scenario, format_clock};
use crowdtwin_sim::{SimDuration, SimTime, Simulation};
use serde::Serialize;

/// Salt that makes the truth's random streams differ from the twin's.
const TRUTH_SEED_SALT: u64 = 0x7207_0000;

/// Sensors: which elements are counted, how often, how noisily. The twin
/// is told none of this: counts carry no `sigma`, and it learns the noise
/// from its own errors.
#[derive(Clone, Debug)]
pub struct SensorConfig {
    /// Seconds between counts.
    pub every: SimDuration,
    /// Count noise: standard deviation = `relative` x count + `absolute`.
    pub noise_relative: f64,
    /// Absolute part of the noise, persons.
    pub noise_absolute: f64,
    /// Each sensor's own bias: a factor `1 + bias_sd x N(0, 1)` drawn once
    /// per sensor (miscalibrated cameras, a counting line set too wide).
    pub bias_sd: f64,
    /// Chance that a count is missing (a dropout).
    pub dropout: f64,
    /// Sensors that get stuck: each repeats its last count from a random
    /// time in the second quarter of the day on.
    pub stuck_sensors: usize,
}

impl Default for SensorConfig {
    fn default() -> Self {
        SensorConfig {
            every: SimDuration::from_secs(60),
            noise_relative: 0.10,
            noise_absolute: 2.0,
            bias_sd: 0.05,
            dropout: 0.02,
            stuck_sensors: 1,
        }
    }
}

/// A truth run that emits what sensors and operators would report.
pub struct TruthFeed {
    /// The hidden truth.
    pub sim: Simulation<CrowdWorld>,
    sensors: SensorConfig,
    noise: ActorRng,
    next_count: SimTime,
    events: Vec<Intervention>,
    sequence: u64,
    /// Per element: its sensor's bias factor.
    bias: Vec<f64>,
    /// Per element: from when its sensor is stuck, and the count it repeats.
    stuck: Vec<Option<(SimTime, Option<f64>)>>,
}

impl TruthFeed {
    /// The truth of `scenario` under `seed` (salted so it is not the twin's own future).
    pub fn new(scenario: Scenario, seed: u64, sensors: SensorConfig) -> Self {
        let events = scenario
            .interventions
            .iter()
            .filter(|i| match i {
                Intervention::CloseGate { .. } | Intervention::OpenGate { .. } => true,
                Intervention::DelaySession { reported, .. } | Intervention::TransitDisruption { reported, .. } => {
                    *reported
                }
                Intervention::SlowService { .. } | Intervention::Behaviour(_) => false,
            })
            .cloned()
            .collect();
        let mut noise = ActorRng::for_actor(seed ^ TRUTH_SEED_SALT, u32::MAX - 3);
        let sim = model::build(scenario, seed ^ TRUTH_SEED_SALT);
        let elements = sim.world().element_count();
        let bias = (0..elements).map(|_| (1.0 + sensors.bias_sd * noise.normal()).max(0.5)).collect();
        let mut stuck = vec![None; elements];
        let day = sim.world().scenario().end().as_micros() as f64;
        for _ in 0..sensors.stuck_sensors.min(elements) {
            let element = noise.below(elements as u64) as usize;
            let from = SimTime((day * (0.25 + 0.25 * noise.uniform())) as u64);
            stuck[element] = Some((from, None));
        }
        TruthFeed { sim, noise, next_count: SimTime::ZERO + sensors.every, sensors, events, sequence: 0, bias, stuck }
    }

    /// Runs the truth to `to` and returns the observations made on the way:
    /// counts of every place and walkway at each sensor time, and the
    /// operators' reports of gate changes and session delays.
    pub fn observe_until(&mut self, to: SimTime) -> Vec<Observation> {
        let mut out = Vec::new();
        let start_clock = self.sim.world().scenario().start_clock_s;
        let clock = |t: SimTime| {
            let s = start_clock + (t.as_micros() / 1_000_000) as u32;
            format!("{}:{:02}", format_clock(s), s % 60)
        };
        while self.next_count <= to {
            let t = self.next_count;
            self.sim.run_until(t);
            let scenario = self.sim.world().scenario();
            for event in self.events.iter().filter(|e| e.at() <= t && e.at() + self.sensors.every > t) {
                self.sequence += 1;
                let id = format!("event-{}", self.sequence);
                out.push(match *event {
                    Intervention::CloseGate { at, place } | Intervention::OpenGate { at, place } => {
                        Observation::GateStatus {
                            version: 1,
                            id,
                            at: clock(at),
                            place: scenario.places[place].id.clone(),
                            open: matches!(event, Intervention::OpenGate { .. }),
                        }
                    }
                    Intervention::DelaySession { at, session, delay, .. } => Observation::SessionDelay {
                        version: 1,
                        id,
                        at: clock(at),
                        venue: scenario.places[scenario.sessions[session].venue].id.clone(),
                        session_start: format_clock(scenario.clock_s(scenario.sessions[session].start)),
                        delay_min: delay.as_secs_f64() / 60.0,
                    },
                    Intervention::TransitDisruption { at, place, until, capacity_factor, .. } => {
                        Observation::TransitStatus {
                            version: 1,
                            id,
                            at: clock(at),
                            place: scenario.places[place].id.clone(),
                            capacity_factor,
                            until: Some(format_clock(scenario.clock_s(until))),
                        }
                    }
                    Intervention::SlowService { .. } | Intervention::Behaviour(_) => continue,
                });
            }
            let world = self.sim.world();
            for element in 0..world.element_count() {
                let people = world.element_people(element) as f64 * self.bias[element];
                let sd = self.sensors.noise_relative * people + self.sensors.noise_absolute;
                let mut count = (people + sd * self.noise.normal()).round().max(0.0);
                if self.noise.chance(self.sensors.dropout) {
                    continue;
                }
                if let Some((from, held)) = &mut self.stuck[element]
                    && *from <= t
                {
                    count = *held.get_or_insert(count);
                }
                self.sequence += 1;
                out.push(Observation::PlaceCount {
                    version: 1,
                    id: format!("count-{}", self.sequence),
                    at: clock(t),
                    place: world.element_id(element),
                    count,
                    sigma: None,
                });
            }
            self.next_count = t + self.sensors.every;
        }
        self.sim.run_until(to);
        out
    }
}

/// Settings of a forecast evaluation.
#[derive(Clone, Debug)]
pub struct EvalConfig {
    /// The twin's settings (members, seed, horizon, step).
    pub twin: TwinConfig,
    /// Minutes between scored forecasts.
    pub forecast_every_min: u32,
    /// Clock seconds after midnight of the first scored forecast (default: 1 h after the start).
    pub first_forecast_clock_s: Option<u32>,
    /// Sensors.
    pub sensors: SensorConfig,
}

/// Scores of one evaluation (printed as JSON).
#[derive(Clone, Debug, Serialize)]
pub struct EvalReport {
    /// Nominal scenario name.
    pub nominal: String,
    /// Truth scenario name.
    pub truth: String,
    /// Seed.
    pub seed: u64,
    /// Members.
    pub members: usize,
    /// Horizon scored, minutes.
    pub horizon_min: u32,
    /// Forecasts scored.
    pub forecasts: usize,
    /// Element-forecasts scored (forecasts x places and walkways).
    pub points: usize,
    /// Mean absolute error of the twin's median, persons.
    pub mae_twin: f64,
    /// Persistence: the last observed minute holds for the next 30.
    pub mae_persistence: f64,
    /// Open loop: the nominal plan run without assimilation.
    pub mae_open_loop: f64,
    /// Share of truths inside the twin's P10-P90 band.
    pub coverage_p10_p90: f64,
    /// mae_twin / mae_persistence.
    pub ratio_to_persistence: f64,
    /// mae_twin / mae_open_loop.
    pub ratio_to_open_loop: f64,
    /// Learned arrival scale at the end (truth / plan, if arrivals differ).
    pub learned_arrival_scale: f64,
    /// Learned unplanned walk-ins at the end, as a share of the planned visitors.
    pub learned_unplanned_walk_in_share: f64,
    /// Learned relative sensor noise at the end (the sensors' own is not told).
    pub learned_sensor_noise: f64,
    /// Learned attraction of food, shops and fan zones at the end.
    pub learned_attraction: [f64; 3],
    /// Scores on the elements where the truth departs from the plan.
    pub affected: AffectedScore,
    /// Alerts of level of service E or worse, against the truth's episodes.
    pub alerts: AlertScore,
    /// Brier score of the forecasts' probabilities of level of service E
    /// or worse, over every element and minute of horizon scored.
    pub brier: f64,
    /// The same scores per kind of element.
    pub by_kind: Vec<KindScore>,
    /// Wall time, s.
    pub wall_s: f64,
}

/// Truth departs from the plan at an element by more than this many persons ...
pub const AFFECTED_PERSONS_MIN: f64 = 20.0;
/// ... and by more than this share of the plan, at some minute of the day.
pub const AFFECTED_SHARE_MIN: f64 = 0.2;
/// An alert is a hit if issued at least this long before its episode starts, min ...
pub const ALERT_LEAD_MIN: usize = 10;
/// ... for a time within this of the episode's start, min.
pub const ALERT_TIMING_TOLERANCE_MIN: usize = 10;
/// An alert with no episode within this of its time is a false alarm, min.
pub const FALSE_ALARM_WINDOW_MIN: usize = 15;

/// Scores on the elements the surprise affects: those where the truth
/// departs from the plan (run with the truth's random streams, so that
/// what differs is the surprise, not the draw) by more than [`AFFECTED_PERSONS_MIN`] persons and
/// [`AFFECTED_SHARE_MIN`] of the plan at some minute.
#[derive(Clone, Debug, Default, Serialize)]
pub struct AffectedScore {
    /// Their ids.
    pub elements: Vec<String>,
    /// Mean absolute error of the twin's median there, persons.
    pub mae_twin: f64,
    /// Of the open loop.
    pub mae_open_loop: f64,
    /// Of persistence.
    pub mae_persistence: f64,
    /// Of a forecaster that knows the truth exactly from the moment an
    /// element departs from the plan (the departure as defined above, in a
    /// minute before the forecast is issued) and says what the open loop
    /// says before: the error no forecaster can avoid that cannot see a
    /// surprise before it begins. For a surprise nobody reports, divided by
    /// `mae_open_loop`: the lowest ratio to the open loop any twin could
    /// reach on these elements (a reported event is known before it shows).
    pub mae_unforeseeable: f64,
}

/// Alert verification. An event is an element's episode at level of
/// service E or worse in the truth (minutes in a row) that starts when a
/// forecast could have warned of it [`ALERT_LEAD_MIN`] ahead; a hit is an
/// event with an alert issued at least [`ALERT_LEAD_MIN`] before it starts
/// for a time within [`ALERT_TIMING_TOLERANCE_MIN`] of its start; a false
/// alarm is an alert (each forecast's, per element) with no episode within
/// [`FALSE_ALARM_WINDOW_MIN`] of its time.
#[derive(Clone, Debug, Default, Serialize)]
pub struct AlertScore {
    /// Events.
    pub events: usize,
    /// Events hit.
    pub hits: usize,
    /// Events missed.
    pub misses: usize,
    /// Alerts issued.
    pub alerts: usize,
    /// Alerts with no episode near their time.
    pub false_alarms: usize,
    /// Probability of detection: hits / events (1 with no event).
    pub pod: f64,
    /// False alarm ratio: false alarms / alerts (0 with no alert).
    pub far: f64,
    /// Median over hits of the longest qualifying lead, minutes.
    pub median_lead_min: f64,
}

/// A scored forecast: the bin scored, and per element (p10, p50, p90, persistence).
type Scored = (usize, Vec<(f64, f64, f64, f64)>);
/// An issued forecast: its first bin, per element its probabilities of
/// level of service E or worse per minute, and its alerts as (element, bin).
type Issued = (usize, Vec<Vec<f64>>, Vec<(usize, usize)>);

/// Scores of one kind of element.
#[derive(Clone, Debug, Serialize)]
pub struct KindScore {
    /// Place kind or "walkway".
    pub kind: ElementKind,
    /// Element-forecasts scored.
    pub points: usize,
    /// Mean absolute error of the twin's median, persons.
    pub mae_twin: f64,
    /// Of persistence.
    pub mae_persistence: f64,
    /// Of the open loop.
    pub mae_open_loop: f64,
    /// Share of truths inside the twin's P10-P90 band.
    pub coverage_p10_p90: f64,
}

/// Runs the twin on observations of `truth` while it knows only `nominal`,
/// forecasting every `forecast_every_min`, and scores the forecasts at the
/// horizon against the truth.
pub fn forecast_eval(nominal: Scenario, truth: Scenario, config: &EvalConfig, seed: u64) -> Result<EvalReport, String> {
    forecast_eval_with(nominal, truth, config, seed, None)
}

/// [`forecast_eval`] with the twin's forecasts run ahead on `run_ahead`
/// (worker nodes): the same report but for `wall_s`.
pub fn forecast_eval_with(
    nominal: Scenario,
    truth: Scenario,
    config: &EvalConfig,
    seed: u64,
    run_ahead: Option<std::sync::Arc<dyn crate::ensemble::RunAhead>>,
) -> Result<EvalReport, String> {
    if nominal.places.len() != truth.places.len()
        || nominal.walkways.len() != truth.walkways.len()
        || nominal.places.iter().zip(&truth.places).any(|(a, b)| a.id != b.id)
    {
        return Err("the truth must have the nominal scenario's places and walkways".into());
    }
    if nominal.start_clock_s != truth.start_clock_s {
        return Err("the truth must start at the nominal scenario's start time".into());
    }
    let started = std::time::Instant::now();
    let horizon = config.twin.horizon_min;
    let end = nominal.end().min(truth.end());
    let mut twin_config = config.twin.clone();
    twin_config.seed = seed;
    let mut twin = Twin::new(nominal.clone(), twin_config)?;
    if let Some(run_ahead) = run_ahead {
        twin.set_run_ahead(run_ahead);
    }
    let mut feed = TruthFeed::new(truth.clone(), seed, config.sensors.clone());

    let mut open_loop = model::build(nominal.clone(), seed);
    open_loop.run_until(end);
    let open_loop = RunOutput::collect(&open_loop, seed);

    let interval_s = nominal.params.output_interval_s as u64;
    let first_s = config.first_forecast_clock_s.map_or(3_600, |c| c.saturating_sub(nominal.start_clock_s)) as u64;
    let first = SimTime::from_secs(first_s.div_ceil(interval_s) * interval_s);
    let every = SimDuration::from_secs(config.forecast_every_min as u64 * 60);
    let last = SimTime(end.as_micros().saturating_sub(horizon as u64 * 60_000_000));

    let mut scored: Vec<Scored> = Vec::new();
    // Per forecast: its first bin, per element its probabilities of LOS E
    // or worse per minute, and its alerts as (element, bin alerted for).
    let mut issued: Vec<Issued> = Vec::new();
    let mut t = first;
    while t <= last {
        // Feed the twin as the sensors report, one sensor interval at a time.
        while twin.now() < t {
            let step = (twin.now() + config.sensors.every).min(t);
            let observations = feed.observe_until(step);
            for chunk in observations.chunks(crate::observation::OBSERVATION_BATCH_MAX) {
                twin.ingest(chunk).map_err(|e| format!("truth feed refused: {e}"))?;
            }
            twin.advance(step);
        }
        let forecast = twin.forecast();
        let bin_now = (t.as_micros() / (interval_s * 1_000_000)) as usize;
        let target_bin = bin_now + horizon as usize - 1;
        let truth_world = feed.sim.world();
        let values = forecast
            .elements
            .iter()
            .enumerate()
            .map(|(e, f)| {
                let m = &f.minutes[horizon as usize - 1];
                // The last whole minute the sensors saw.
                let persistence = truth_world.element_recorder(e).mean_presence(bin_now.saturating_sub(1), t);
                (m.occupancy_p10, m.occupancy_p50, m.occupancy_p90, persistence)
            })
            .collect();
        scored.push((target_bin, values));
        let probabilities = forecast
            .elements
            .iter()
            .map(|f| f.minutes.iter().map(|m| m.probability_los_e_or_worse).collect())
            .collect();
        let world = twin.world();
        let alerts = forecast
            .alerts
            .iter()
            .filter_map(|a| Some((world.element_index(&a.place)?, bin_now + a.minutes_ahead as usize - 1)))
            .collect();
        issued.push((bin_now, probabilities, alerts));
        t += every;
    }
    feed.observe_until(end);
    let truth_output = RunOutput::collect(&feed.sim, seed);

    let (mut twin_error, mut persistence_error, mut open_error, mut covered, mut points) =
        (0.0, 0.0, 0.0, 0usize, 0usize);
    let mut by_kind: Vec<KindScore> = Vec::new();
    for (bin, values) in &scored {
        for (e, &(p10, p50, p90, persistence)) in values.iter().enumerate() {
            let Some(truth_value) =
                truth_output.elements[e].bins.get(*bin).map(|_| truth_output.elements[e].occupancy(*bin))
            else {
                continue;
            };
            let planned = open_loop.elements[e].bins.get(*bin).map_or(0.0, |_| open_loop.elements[e].occupancy(*bin));
            twin_error += (p50 - truth_value).abs();
            persistence_error += (persistence - truth_value).abs();
            open_error += (planned - truth_value).abs();
            let inside = p10 <= truth_value + 1e-9 && truth_value <= p90 + 1e-9;
            covered += usize::from(inside);
            points += 1;
            let kind = truth_output.elements[e].kind;
            let at = match by_kind.iter().position(|k| k.kind == kind) {
                Some(at) => at,
                None => {
                    by_kind.push(KindScore {
                        kind,
                        points: 0,
                        mae_twin: 0.0,
                        mae_persistence: 0.0,
                        mae_open_loop: 0.0,
                        coverage_p10_p90: 0.0,
                    });
                    by_kind.len() - 1
                }
            };
            let score = &mut by_kind[at];
            score.points += 1;
            score.mae_twin += (p50 - truth_value).abs();
            score.mae_persistence += (persistence - truth_value).abs();
            score.mae_open_loop += (planned - truth_value).abs();
            score.coverage_p10_p90 += f64::from(u8::from(inside));
        }
    }
    for score in &mut by_kind {
        let n = score.points.max(1) as f64;
        score.mae_twin /= n;
        score.mae_persistence /= n;
        score.mae_open_loop /= n;
        score.coverage_p10_p90 /= n;
    }
    if points == 0 {
        return Err("no forecast could be scored: the run is shorter than an hour plus the horizon".into());
    }
    let n = points as f64;
    let state = twin.state();
    // The plan under the truth's own random streams: where the truth departs
    // from it is the surprise, not the noise of a different draw.
    let mut plan_as_truth = model::build(nominal.clone(), seed ^ TRUTH_SEED_SALT);
    plan_as_truth.run_until(end);
    let plan_as_truth = RunOutput::collect(&plan_as_truth, seed);
    let affected = affected_score(&scored, horizon as usize, &truth_output, &plan_as_truth, &open_loop);
    let (alerts, brier) = alert_score(&issued, &truth_output, horizon as usize);
    Ok(EvalReport {
        nominal: nominal.name.clone(),
        truth: truth.name.clone(),
        seed,
        members: config.twin.members,
        horizon_min: horizon,
        forecasts: scored.len(),
        points,
        mae_twin: twin_error / n,
        mae_persistence: persistence_error / n,
        mae_open_loop: open_error / n,
        coverage_p10_p90: covered as f64 / n,
        ratio_to_persistence: twin_error / persistence_error.max(1e-9),
        ratio_to_open_loop: twin_error / open_error.max(1e-9),
        learned_arrival_scale: state.arrival_scale,
        learned_unplanned_walk_in_share: state.unplanned_walk_in_share,
        learned_sensor_noise: twin.sensor_noise(),
        learned_attraction: twin.learned_attraction(),
        affected,
        alerts,
        brier,
        by_kind,
        wall_s: started.elapsed().as_secs_f64(),
    })
}

/// Whether truth element `e` is at level of service E or worse in bin `bin`.
fn bad(truth: &RunOutput, e: usize, bin: usize) -> bool {
    truth.elements[e].bins.get(bin).is_some() && truth.elements[e].los(bin) >= Los::E
}

/// See [`AffectedScore`].
fn affected_score(
    scored: &[Scored],
    horizon: usize,
    truth: &RunOutput,
    plan: &RunOutput,
    open_loop: &RunOutput,
) -> AffectedScore {
    let occupancy = |run: &RunOutput, e: usize, bin: usize| {
        run.elements[e].bins.get(bin).map_or(0.0, |_| run.elements[e].occupancy(bin))
    };
    let departs = |e: usize, bin: usize| {
        let (real, planned) = (occupancy(truth, e, bin), occupancy(plan, e, bin));
        (real - planned).abs() > AFFECTED_PERSONS_MIN.max(AFFECTED_SHARE_MIN * planned)
    };
    // Per element its first departure, if any.
    let first_departure: Vec<Option<usize>> =
        (0..truth.elements.len()).map(|e| (0..truth.elements[e].bins.len()).find(|&bin| departs(e, bin))).collect();
    let affected: Vec<usize> = (0..truth.elements.len()).filter(|&e| first_departure[e].is_some()).collect();
    let mut score = AffectedScore {
        elements: affected.iter().map(|&e| truth.elements[e].id.clone()).collect(),
        ..AffectedScore::default()
    };
    let mut points = 0usize;
    for (bin, values) in scored {
        for &e in &affected {
            if truth.elements[e].bins.get(*bin).is_none() {
                continue;
            }
            let real = truth.elements[e].occupancy(*bin);
            let (_, p50, _, persistence) = values[e];
            let open_loop_error = (occupancy(open_loop, e, *bin) - real).abs();
            score.mae_twin += (p50 - real).abs();
            score.mae_open_loop += open_loop_error;
            score.mae_persistence += (persistence - real).abs();
            // Issued at the start of bin `bin + 1 - horizon`: it saw the
            // minutes before that one.
            let issued = (bin + 1).saturating_sub(horizon);
            if first_departure[e].is_some_and(|first| first >= issued) {
                score.mae_unforeseeable += open_loop_error;
            }
            points += 1;
        }
    }
    let n = points.max(1) as f64;
    score.mae_twin /= n;
    score.mae_open_loop /= n;
    score.mae_persistence /= n;
    score.mae_unforeseeable /= n;
    score
}

/// See [`AlertScore`]; also the Brier score of the probabilities.
fn alert_score(issued: &[Issued], truth: &RunOutput, horizon: usize) -> (AlertScore, f64) {
    let mut score = AlertScore::default();
    let (Some(first), Some(last)) = (issued.first(), issued.last()) else { return (score, 0.0) };
    let (first_bin, last_bin) = (first.0 + ALERT_LEAD_MIN, last.0 + horizon - 1);
    let elements = truth.elements.len();
    // Episodes per element: (start, end) bins, end exclusive.
    let episodes: Vec<Vec<(usize, usize)>> = (0..elements)
        .map(|e| {
            let bins = truth.elements[e].bins.len();
            let mut out = Vec::new();
            let mut bin = 0;
            while bin < bins {
                if bad(truth, e, bin) {
                    let start = bin;
                    while bin < bins && bad(truth, e, bin) {
                        bin += 1;
                    }
                    out.push((start, bin));
                } else {
                    bin += 1;
                }
            }
            out
        })
        .collect();
    let mut leads = Vec::new();
    for (e, list) in episodes.iter().enumerate() {
        for &(start, _) in list.iter().filter(|(start, _)| (first_bin..=last_bin).contains(start)) {
            score.events += 1;
            let lead = issued
                .iter()
                .flat_map(|(at, _, alerts)| alerts.iter().map(move |&(element, bin)| (*at, element, bin)))
                .filter(|&(at, element, bin)| {
                    element == e && at + ALERT_LEAD_MIN <= start && bin.abs_diff(start) <= ALERT_TIMING_TOLERANCE_MIN
                })
                .map(|(at, _, _)| start - at)
                .max();
            if let Some(lead) = lead {
                score.hits += 1;
                leads.push(lead as f64);
            }
        }
    }
    for (_, _, alerts) in issued {
        for &(e, bin) in alerts {
            score.alerts += 1;
            let near = episodes[e]
                .iter()
                .any(|&(start, end)| start <= bin + FALSE_ALARM_WINDOW_MIN && bin < end + FALSE_ALARM_WINDOW_MIN);
            score.false_alarms += usize::from(!near);
        }
    }
    score.misses = score.events - score.hits;
    score.pod = if score.events == 0 { 1.0 } else { score.hits as f64 / score.events as f64 };
    score.far = if score.alerts == 0 { 0.0 } else { score.false_alarms as f64 / score.alerts as f64 };
    leads.sort_by(f64::total_cmp);
    score.median_lead_min = leads.get(leads.len() / 2).copied().unwrap_or(0.0);
    let (mut brier, mut count) = (0.0, 0usize);
    for (at, probabilities, _) in issued {
        for (e, minutes) in probabilities.iter().enumerate() {
            for (k, p) in minutes.iter().enumerate() {
                if truth.elements[e].bins.get(at + k).is_none() {
                    continue;
                }
                let outcome = f64::from(u8::from(bad(truth, e, at + k)));
                brier += (p - outcome).powi(2);
                count += 1;
            }
        }
    }
    (score, brier / count.max(1) as f64)
}
