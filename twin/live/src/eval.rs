//! `crowdtwin forecast-eval` and `crowdtwin observe`: a hidden "truth" run
//! of a scenario as a sensor feed, and the twin's 30-minute forecasts
//! scored against it, beside persistence and the open-loop plan.

use crate::{Observation, Twin, TwinConfig};
use crowdtwin_sim::kernel::ActorRng;
use crowdtwin_sim::model::{self, CrowdWorld, ElementKind, RunOutput};
use crowdtwin_sim::scenario::{Intervention, Scenario, format_clock};
use crowdtwin_sim::{SimDuration, SimTime, Simulation};
use serde::Serialize;

/// Salt that makes the truth's random streams differ from the twin's.
const TRUTH_SEED_SALT: u64 = 0x7207_0000;

/// Sensors: which elements are counted, how often, how noisily.
#[derive(Clone, Debug)]
pub struct SensorConfig {
    /// Seconds between counts.
    pub every: SimDuration,
    /// Count noise: standard deviation = `relative` x count + `absolute`.
    pub noise_relative: f64,
    /// Absolute part of the noise, persons.
    pub noise_absolute: f64,
}

impl Default for SensorConfig {
    fn default() -> Self {
        SensorConfig { every: SimDuration::from_secs(60), noise_relative: 0.05, noise_absolute: 2.0 }
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
}

impl TruthFeed {
    /// The truth of `scenario` under `seed` (salted so it is not the twin's own future).
    pub fn new(scenario: Scenario, seed: u64, sensors: SensorConfig) -> Self {
        let events = scenario
            .interventions
            .iter()
            .filter(|i| {
                matches!(
                    i,
                    Intervention::CloseGate { .. } | Intervention::OpenGate { .. } | Intervention::DelaySession { .. }
                )
            })
            .cloned()
            .collect();
        TruthFeed {
            sim: model::build(scenario, seed ^ TRUTH_SEED_SALT),
            noise: ActorRng::for_actor(seed ^ TRUTH_SEED_SALT, u32::MAX - 3),
            next_count: SimTime::ZERO + sensors.every,
            sensors,
            events,
            sequence: 0,
        }
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
                    Intervention::DelaySession { at, session, delay } => Observation::SessionDelay {
                        version: 1,
                        id,
                        at: clock(at),
                        venue: scenario.places[scenario.sessions[session].venue].id.clone(),
                        session_start: format_clock(scenario.clock_s(scenario.sessions[session].start)),
                        delay_min: delay.as_secs_f64() / 60.0,
                    },
                    Intervention::TransitDisruption { .. } => continue,
                });
            }
            let world = self.sim.world();
            for element in 0..world.element_count() {
                let people = world.element_people(element) as f64;
                let sd = self.sensors.noise_relative * people + self.sensors.noise_absolute;
                let count = (people + sd * self.noise.normal()).round().max(0.0);
                self.sequence += 1;
                out.push(Observation::PlaceCount {
                    version: 1,
                    id: format!("count-{}", self.sequence),
                    at: clock(t),
                    place: world.element_id(element),
                    count,
                    sigma: Some(sd),
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
    /// The same scores per kind of element.
    pub by_kind: Vec<KindScore>,
    /// Wall time, s.
    pub wall_s: f64,
}

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

    // Per forecast: the bin scored, and per element (p10, p50, p90, persistence).
    type Scored = (usize, Vec<(f64, f64, f64, f64)>);
    let mut scored: Vec<Scored> = Vec::new();
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
        by_kind,
        wall_s: started.elapsed().as_secs_f64(),
    })
}
