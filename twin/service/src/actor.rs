//! The twin as a ractor actor under a supervisor that restarts it
//! (replaying the observations it had accepted) if it fails, and
//! [`Service`], which starts both.

use crate::state::{AppState, Metrics, Published};
use crate::{OBSERVATION_LOG_BATCHES_MAX, TWIN_CALL_TIMEOUT_S};
use crowdtwin_live::bookings::Bookings;
use crowdtwin_live::clock::Clock;
use crowdtwin_live::itinerary::Planner;
use crowdtwin_live::{IngestReport, Observation, ObservationError, Twin, TwinConfig};
use crowdtwin_sim::scenario::Scenario;
use crowdtwin_sim::{SimDuration, SimTime};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// Messages of the twin actor.
pub enum TwinMessage {
    /// Check and keep observations.
    Ingest(Vec<Observation>, RpcReplyPort<Result<IngestReport, ObservationError>>),
    /// Advance to the clock, forecast if one is due, publish.
    Tick,
    /// Fail on purpose (tests of the supervisor).
    Crash,
}

// With ractor's `cluster` feature (turned on by ractor_cluster) every message
// type implements `Message` itself; this one never leaves its node.
impl ractor::Message for TwinMessage {}

/// Accepted observation batches with the twin time each was accepted at,
/// replayed into a restarted twin.
type ObservationLog = Arc<Mutex<Vec<(SimTime, Vec<Observation>)>>>;

/// Arguments that (re)build a twin actor.
#[derive(Clone)]
pub struct TwinArguments {
    scenario: Scenario,
    config: TwinConfig,
    /// Where forecasts run the members ahead (worker nodes), if not here.
    run_ahead: Option<Arc<dyn crowdtwin_live::ensemble::RunAhead>>,
    clock: Arc<dyn Clock>,
    forecast_interval: SimDuration,
    published: Arc<Published>,
    metrics: Arc<Metrics>,
    /// Accepted batches with the twin time they were accepted at.
    log: ObservationLog,
    /// The planner's issued plans, counted in the forecasts.
    bookings: Arc<Mutex<Bookings>>,
}

/// The twin actor's state.
pub struct TwinActorState {
    twin: Twin,
    last_forecast: Option<SimTime>,
    arguments: TwinArguments,
}

/// The twin as a ractor actor.
pub struct TwinActor;

impl TwinActor {
    fn publish(state: &mut TwinActorState, force: bool) {
        let now = state.twin.now();
        let due = state.last_forecast.is_none_or(|last| now >= last + state.arguments.forecast_interval);
        if due || force {
            let started = std::time::Instant::now();
            let forecast = state.twin.forecast();
            let metrics = &state.arguments.metrics;
            metrics.forecasts.inc();
            metrics.forecast_seconds.inc_by(started.elapsed().as_secs_f64());
            let json = axum::body::Bytes::from(serde_json::to_vec(&forecast).expect("a forecast serialises"));
            *state.arguments.published.forecast.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(forecast));
            *state.arguments.published.forecast_json.write().unwrap_or_else(|e| e.into_inner()) = Some(json);
            state.last_forecast = Some(now);
        }
        let snapshot = state.twin.state();
        *state.arguments.published.state.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(snapshot));
    }
}

impl Actor for TwinActor {
    type Msg = TwinMessage;
    type State = TwinActorState;
    type Arguments = TwinArguments;

    async fn pre_start(
        &self,
        _myself: ActorRef<TwinMessage>,
        arguments: TwinArguments,
    ) -> Result<TwinActorState, ActorProcessingErr> {
        let mut twin = tokio::task::block_in_place(|| Twin::new(arguments.scenario.clone(), arguments.config.clone()))?;
        if let Some(run_ahead) = &arguments.run_ahead {
            twin.set_run_ahead(run_ahead.clone());
        }
        twin.set_bookings(arguments.bookings.clone());
        // After a restart: replay what had been accepted, in order.
        let log = arguments.log.lock().unwrap_or_else(|e| e.into_inner()).clone();
        tokio::task::block_in_place(|| {
            for (at, batch) in &log {
                twin.advance(*at);
                let _ = twin.ingest(batch);
            }
        });
        let mut state = TwinActorState { twin, last_forecast: None, arguments };
        tokio::task::block_in_place(|| TwinActor::publish(&mut state, true));
        Ok(state)
    }

    async fn handle(
        &self,
        _myself: ActorRef<TwinMessage>,
        message: TwinMessage,
        state: &mut TwinActorState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            TwinMessage::Ingest(batch, reply) => {
                let result = state.twin.ingest(&batch);
                let metrics = &state.arguments.metrics;
                match &result {
                    Ok(report) => {
                        metrics.observations_accepted.inc_by(report.accepted as u64);
                        metrics.observations_duplicate.inc_by(report.duplicates as u64);
                        metrics.observations_late.inc_by(report.late as u64);
                        let mut log = state.arguments.log.lock().unwrap_or_else(|e| e.into_inner());
                        if log.len() < OBSERVATION_LOG_BATCHES_MAX {
                            log.push((state.twin.now(), batch));
                        }
                        drop(log);
                        // The state's totals count the batch at once, not at the next step.
                        if report.accepted > 0 {
                            let snapshot = state.twin.state();
                            *state.arguments.published.state.write().unwrap_or_else(|e| e.into_inner()) =
                                Some(Arc::new(snapshot));
                        }
                    }
                    Err(error) => {
                        metrics.observation_batches_refused.inc();
                        tracing::warn!(
                            observations = batch.len(),
                            problems = error.problems.len(),
                            reason = %error,
                            "observation batch refused"
                        );
                    }
                }
                let _ = reply.send(result);
            }
            TwinMessage::Tick => {
                let target = state.arguments.clock.now().min(state.arguments.scenario.end());
                if target > state.twin.now() {
                    tokio::task::block_in_place(|| {
                        state.twin.advance(target);
                        TwinActor::publish(state, false);
                    });
                }
            }
            TwinMessage::Crash => return Err("crash requested".into()),
        }
        Ok(())
    }
}

/// Supervises the twin actor: restarts it when it fails.
pub struct TwinSupervisor;

impl Actor for TwinSupervisor {
    type Msg = ();
    type State = (TwinArguments, Arc<RwLock<Option<ActorRef<TwinMessage>>>>);
    type Arguments = (TwinArguments, Arc<RwLock<Option<ActorRef<TwinMessage>>>>);

    async fn pre_start(
        &self,
        myself: ActorRef<()>,
        arguments: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        let (twin, _) = Actor::spawn_linked(None, TwinActor, arguments.0.clone(), myself.get_cell()).await?;
        *arguments.1.write().unwrap_or_else(|e| e.into_inner()) = Some(twin);
        Ok(arguments)
    }

    async fn handle(
        &self,
        _myself: ActorRef<()>,
        _message: (),
        _state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<()>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if let SupervisionEvent::ActorFailed(_, error) = event {
            tracing::error!(%error, "the twin failed; restarting it from the accepted observations");
            *state.1.write().unwrap_or_else(|e| e.into_inner()) = None;
            state.0.metrics.twin_restarts.inc();
            let (twin, _) = Actor::spawn_linked(None, TwinActor, state.0.clone(), myself.get_cell()).await?;
            *state.1.write().unwrap_or_else(|e| e.into_inner()) = Some(twin);
        }
        Ok(())
    }
}

/// A running twin service: its router state and the ticker.
pub struct Service {
    /// Router state.
    pub state: AppState,
    supervisor: ActorRef<()>,
}

impl Service {
    /// Starts the twin (under its supervisor) for `scenario`.
    pub async fn start(
        scenario: Scenario,
        config: TwinConfig,
        clock: Arc<dyn Clock>,
        forecast_interval: SimDuration,
    ) -> Result<Service, String> {
        Self::start_with(scenario, config, clock, forecast_interval, None).await
    }

    /// [`Service::start`] with the forecasts' members run ahead on
    /// `run_ahead` (worker nodes; see [`crowdtwin_live::ensemble::RunAhead`]).
    pub async fn start_with(
        scenario: Scenario,
        config: TwinConfig,
        clock: Arc<dyn Clock>,
        forecast_interval: SimDuration,
        run_ahead: Option<Arc<dyn crowdtwin_live::ensemble::RunAhead>>,
    ) -> Result<Service, String> {
        let published = Arc::new(Published::default());
        let metrics = Arc::new(Metrics::default());
        let (arguments_clock, scenario_end) = (clock.clone(), scenario.end());
        let (plan_scenario, seed) = (scenario.clone(), config.seed);
        let planner = tokio::task::spawn_blocking(move || Planner::new(plan_scenario, seed))
            .await
            .map_err(|e| format!("planning the day failed: {e}"))?;
        let arguments = TwinArguments {
            scenario,
            config,
            run_ahead,
            clock,
            forecast_interval,
            published: published.clone(),
            metrics: metrics.clone(),
            log: Arc::new(Mutex::new(Vec::new())),
            bookings: planner.shared_bookings(),
        };
        let slot = Arc::new(RwLock::new(None));
        let (supervisor, _) =
            Actor::spawn(None, TwinSupervisor, (arguments, slot.clone())).await.map_err(|e| e.to_string())?;
        let tokens = Arc::new(crate::auth::Tokens::disabled());
        let state = AppState::new(crate::state::Shared {
            twin: slot,
            published,
            metrics,
            planner: Arc::new(planner),
            orders: None,
            tokens,
            clock: arguments_clock,
            end: scenario_end,
        });
        Ok(Service { state, supervisor })
    }

    /// Asks the twin to catch up with the clock (the ticker calls this).
    pub fn tick(&self) {
        if let Some(twin) = self.state.twin.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
            let _ = twin.cast(TwinMessage::Tick);
        }
    }

    /// Makes the twin fail (to exercise the supervisor in tests).
    pub fn crash_twin(&self) {
        if let Some(twin) = self.state.twin.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
            let _ = twin.cast(TwinMessage::Crash);
        }
    }

    /// Stops the twin and its supervisor.
    pub fn stop(&self) {
        self.supervisor.stop(None);
    }
}

/// Hands observations to the twin in-process (the demo's sensor feed).
pub async fn ingest(app: &AppState, batch: Vec<Observation>) -> Option<IngestReport> {
    let twin = app.twin.read().unwrap_or_else(|e| e.into_inner()).clone()?;
    match twin.call(|port| TwinMessage::Ingest(batch, port), Some(Duration::from_secs(TWIN_CALL_TIMEOUT_S))).await {
        Ok(ractor::rpc::CallResult::Success(Ok(report))) => Some(report),
        _ => None,
    }
}
