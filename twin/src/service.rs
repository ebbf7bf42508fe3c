//! The HTTP service: forecasts, alerts, state, observations, health,
//! metrics and the OpenAPI document, on axum; the twin itself runs in a
//! ractor actor under a supervisor that restarts it (replaying the
//! observations it had accepted) if it fails.
//!
//! Reads (`GET /v1/forecast`, `/v1/alerts`, `/v1/state`) are served from the
//! last published snapshot, never waiting for the twin's computation.

use crate::itinerary::{ItineraryOut, ItineraryRequest, Planner, RequestError, RouteOut, ScheduleEntry};
use crate::live::clock::Clock;
use crate::live::{Forecast, IngestReport, Observation, ObservationError, Twin, TwinConfig, TwinState};
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use crowdtwin_sim::scenario::Scenario;
use crowdtwin_sim::{SimDuration, SimTime};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use utoipa::OpenApi;

/// Largest request body, bytes.
pub const REQUEST_BODY_BYTES_MAX: usize = 8 * 1024 * 1024;
/// Longest a request may take, s.
pub const REQUEST_TIMEOUT_S: u64 = 30;
/// Longest a caller waits for the twin to take observations, s.
pub const TWIN_CALL_TIMEOUT_S: u64 = 20;
/// Observation batches kept for replay after a restart.
pub const OBSERVATION_LOG_BATCHES_MAX: usize = 1_000_000;

/// A JSON problem response (RFC 9457 style).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// HTTP status.
    pub status: u16,
    /// Short title.
    pub title: String,
    /// What went wrong and what to do.
    pub detail: String,
    /// Per-observation problems, for refused batches.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<(usize, String)>,
}

/// The one error type of the HTTP layer.
#[derive(Debug)]
pub enum ApiError {
    /// The request is malformed (400).
    BadRequest(String),
    /// The request is well-formed but refused (422).
    Unprocessable(String, Vec<(usize, String)>),
    /// Nothing there (404).
    NotFound(String),
    /// The twin is not ready or restarting (503).
    Unavailable(String),
    /// No or unknown bearer token (401).
    Unauthorized(String),
    /// The token's role may not do this (403).
    Forbidden(String),
    /// The request contradicts an earlier one, e.g. a reused idempotency key (409).
    Conflict(String),
    /// The body holds too much, e.g. too many orders in a batch (413).
    TooLarge(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, title, detail, problems) = match self {
            ApiError::BadRequest(d) => (StatusCode::BAD_REQUEST, "bad request", d, Vec::new()),
            ApiError::Unprocessable(d, p) => (StatusCode::UNPROCESSABLE_ENTITY, "refused", d, p),
            ApiError::NotFound(d) => (StatusCode::NOT_FOUND, "not found", d, Vec::new()),
            ApiError::Unavailable(d) => {
                eprintln!("crowdtwin serve: {d}");
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable", d, Vec::new())
            }
            ApiError::Unauthorized(d) => (StatusCode::UNAUTHORIZED, "unauthorized", d, Vec::new()),
            ApiError::Forbidden(d) => (StatusCode::FORBIDDEN, "forbidden", d, Vec::new()),
            ApiError::Conflict(d) => (StatusCode::CONFLICT, "conflict", d, Vec::new()),
            ApiError::TooLarge(d) => (StatusCode::PAYLOAD_TOO_LARGE, "too large", d, Vec::new()),
        };
        let body = Problem { status: status.as_u16(), title: title.to_string(), detail, problems };
        (status, [(header::CONTENT_TYPE, "application/problem+json")], Json(body)).into_response()
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::BadRequest(format!("bad query parameters: {}", rejection.body_text()))
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        ApiError::BadRequest(format!("the body is not valid JSON for this endpoint: {}", rejection.body_text()))
    }
}

/// What readers see: the last published forecast and state.
#[derive(Default)]
pub struct Published {
    forecast: RwLock<Option<Arc<Forecast>>>,
    /// The whole forecast, serialised once when published.
    forecast_json: RwLock<Option<axum::body::Bytes>>,
    state: RwLock<Option<Arc<TwinState>>>,
}

impl Published {
    fn forecast(&self) -> Option<Arc<Forecast>> {
        self.forecast.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
    fn state(&self) -> Option<Arc<TwinState>> {
        self.state.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Counters for `/metrics`.
#[derive(Default)]
pub struct Metrics {
    requests: AtomicU64,
    observations_accepted: AtomicU64,
    observations_duplicate: AtomicU64,
    observations_late: AtomicU64,
    observation_batches_refused: AtomicU64,
    forecasts: AtomicU64,
    forecast_micros_total: AtomicU64,
    twin_restarts: AtomicU64,
}

/// Everything a request handler shares.
#[derive(Clone)]
pub struct AppState {
    twin: Arc<RwLock<Option<ActorRef<TwinMessage>>>>,
    published: Arc<Published>,
    metrics: Arc<Metrics>,
    planner: Arc<Planner>,
    /// The order book, when orders are enabled (`AppState::with_orders`).
    pub(crate) orders: Option<Arc<crate::orders::OrderBook>>,
    /// Bearer tokens (`AppState::with_tokens`; none: auth off).
    pub(crate) tokens: Arc<crate::auth::Tokens>,
}

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
#[cfg(feature = "cluster")]
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
    run_ahead: Option<Arc<dyn crate::live::ensemble::RunAhead>>,
    clock: Arc<dyn Clock>,
    forecast_interval: SimDuration,
    published: Arc<Published>,
    metrics: Arc<Metrics>,
    /// Accepted batches with the twin time they were accepted at.
    log: ObservationLog,
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
            metrics.forecasts.fetch_add(1, Ordering::Relaxed);
            metrics.forecast_micros_total.fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
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
                        metrics.observations_accepted.fetch_add(report.accepted as u64, Ordering::Relaxed);
                        metrics.observations_duplicate.fetch_add(report.duplicates as u64, Ordering::Relaxed);
                        metrics.observations_late.fetch_add(report.late as u64, Ordering::Relaxed);
                        let mut log = state.arguments.log.lock().unwrap_or_else(|e| e.into_inner());
                        if log.len() < OBSERVATION_LOG_BATCHES_MAX {
                            log.push((state.twin.now(), batch));
                        }
                    }
                    Err(_) => {
                        metrics.observation_batches_refused.fetch_add(1, Ordering::Relaxed);
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
            eprintln!("crowdtwin serve: the twin failed ({error}); restarting it from the accepted observations");
            *state.1.write().unwrap_or_else(|e| e.into_inner()) = None;
            state.0.metrics.twin_restarts.fetch_add(1, Ordering::Relaxed);
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
    /// `run_ahead` (worker nodes; see [`crate::live::ensemble::RunAhead`]).
    pub async fn start_with(
        scenario: Scenario,
        config: TwinConfig,
        clock: Arc<dyn Clock>,
        forecast_interval: SimDuration,
        run_ahead: Option<Arc<dyn crate::live::ensemble::RunAhead>>,
    ) -> Result<Service, String> {
        let published = Arc::new(Published::default());
        let metrics = Arc::new(Metrics::default());
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
        };
        let slot = Arc::new(RwLock::new(None));
        let (supervisor, _) =
            Actor::spawn(None, TwinSupervisor, (arguments, slot.clone())).await.map_err(|e| e.to_string())?;
        let tokens = Arc::new(crate::auth::Tokens::disabled());
        let state = AppState { twin: slot, published, metrics, planner: Arc::new(planner), orders: None, tokens };
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

/// `GET /v1/forecast` parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ForecastQuery {
    /// One place or walkway id (default: all).
    pub place: Option<String>,
    /// Minutes of horizon to return (default and at most: the twin's horizon).
    pub horizon_min: Option<u32>,
}

/// Forecast per place per minute of the horizon (P10/P50/P90) and alerts.
#[utoipa::path(get, path = "/v1/forecast", params(ForecastQuery), responses((status = 200, body = Forecast), (status = 404, body = Problem), (status = 503, body = Problem)))]
async fn forecast(
    State(app): State<AppState>,
    query: Result<Query<ForecastQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    app.metrics.requests.fetch_add(1, Ordering::Relaxed);
    let Query(query) = query?;
    let published = app
        .published
        .forecast()
        .ok_or_else(|| ApiError::Unavailable("no forecast yet: the twin is starting".into()))?;
    if query.place.is_none() && query.horizon_min.is_none_or(|h| h == published.horizon_min) {
        let json = app.published.forecast_json.read().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(json) = json {
            return Ok(([(header::CONTENT_TYPE, "application/json")], json).into_response());
        }
    }
    let horizon = query.horizon_min.unwrap_or(published.horizon_min);
    if horizon == 0 || horizon > published.horizon_min {
        return Err(ApiError::BadRequest(format!("horizon_min must be between 1 and {}", published.horizon_min)));
    }
    let mut forecast = (*published).clone();
    if let Some(place) = &query.place {
        forecast.elements.retain(|e| &e.id == place);
        if forecast.elements.is_empty() {
            return Err(ApiError::NotFound(format!("no place or walkway `{place}`")));
        }
        forecast.alerts.retain(|a| &a.place == place);
    }
    for element in &mut forecast.elements {
        element.minutes.truncate(horizon as usize);
    }
    forecast.alerts.retain(|a| a.minutes_ahead <= horizon);
    forecast.horizon_min = horizon;
    Ok(Json(forecast).into_response())
}

/// Places forecast to reach level of service E or F: which, when, how likely.
#[utoipa::path(get, path = "/v1/alerts", responses((status = 200, body = Vec<crate::live::Alert>), (status = 503, body = Problem)))]
async fn alerts(State(app): State<AppState>) -> Result<Response, ApiError> {
    app.metrics.requests.fetch_add(1, Ordering::Relaxed);
    let published = app.published.forecast().ok_or_else(|| ApiError::Unavailable("no forecast yet".into()))?;
    Ok(Json(&published.alerts).into_response())
}

/// The twin's current estimate per place, learned parameters, observation totals.
#[utoipa::path(get, path = "/v1/state", responses((status = 200, body = TwinState), (status = 503, body = Problem)))]
async fn state(State(app): State<AppState>) -> Result<Response, ApiError> {
    app.metrics.requests.fetch_add(1, Ordering::Relaxed);
    let published = app.published.state().ok_or_else(|| ApiError::Unavailable("no state yet".into()))?;
    Ok(Json(&*published).into_response())
}

/// One observation or an array of them (checked whole: one bad observation refuses the batch).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ObservationBody {
    /// Several.
    Batch(Vec<Observation>),
    /// One.
    One(Observation),
}

/// Takes observations. 200 with what was accepted, duplicate or late; 422
/// with every problem when the batch is refused; 400 for malformed JSON.
#[utoipa::path(post, path = "/v1/observations", request_body = ObservationBody, responses((status = 200, body = IngestReport), (status = 400, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem)))]
async fn observations(
    State(app): State<AppState>,
    headers: axum::http::HeaderMap,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    app.metrics.requests.fetch_add(1, Ordering::Relaxed);
    app.authorize(&headers, crate::auth::Role::Operator)?;
    let Json(value) = body?;
    let batch = match serde_json::from_value::<ObservationBody>(value.clone()) {
        Ok(ObservationBody::Batch(batch)) => batch,
        Ok(ObservationBody::One(one)) => vec![one],
        Err(_) => {
            // Say precisely what is wrong with the first bad observation.
            let items = if let serde_json::Value::Array(items) = value { items } else { vec![value] };
            let problems: Vec<(usize, String)> = items
                .into_iter()
                .enumerate()
                .filter_map(|(i, item)| serde_json::from_value::<Observation>(item).err().map(|e| (i, e.to_string())))
                .collect();
            return Err(ApiError::BadRequest(format!(
                "malformed observation: {}",
                problems.first().map_or(String::from("?"), |p| format!("observation {}: {}", p.0, p.1))
            )));
        }
    };
    if batch.is_empty() {
        return Err(ApiError::BadRequest("an empty batch".into()));
    }
    let twin = app.twin.read().unwrap_or_else(|e| e.into_inner()).clone();
    let twin = twin.ok_or_else(|| ApiError::Unavailable("the twin is restarting; retry with the same ids".into()))?;
    let reply = twin
        .call(|port| TwinMessage::Ingest(batch, port), Some(Duration::from_secs(TWIN_CALL_TIMEOUT_S)))
        .await
        .map_err(|e| ApiError::Unavailable(format!("the twin did not answer: {e}; retry with the same ids")))?;
    match reply {
        ractor::rpc::CallResult::Success(Ok(report)) => Ok(Json(report).into_response()),
        ractor::rpc::CallResult::Success(Err(error)) => Err(ApiError::Unprocessable(error.to_string(), error.problems)),
        _ => Err(ApiError::Unavailable("the twin did not answer in time; retry with the same ids".into())),
    }
}

/// Liveness and the twin's clock.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "alive")))]
async fn healthz(State(app): State<AppState>) -> Response {
    let clock = app.published.state().map(|s| s.clock.clone());
    let ready = app.twin.read().unwrap_or_else(|e| e.into_inner()).is_some();
    Json(serde_json::json!({"status": if ready { "ok" } else { "restarting" }, "clock": clock})).into_response()
}

/// Prometheus text metrics.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text format")))]
async fn metrics(State(app): State<AppState>) -> Response {
    let m = &app.metrics;
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let state = app.published.state();
    let mut text = String::new();
    let mut metric = |name: &str, help: &str, kind: &str, value: String| {
        text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"));
    };
    metric("crowdtwin_requests_total", "API requests served.", "counter", load(&m.requests).to_string());
    metric(
        "crowdtwin_observations_accepted_total",
        "Observations accepted.",
        "counter",
        load(&m.observations_accepted).to_string(),
    );
    metric(
        "crowdtwin_observations_duplicate_total",
        "Duplicate observations ignored.",
        "counter",
        load(&m.observations_duplicate).to_string(),
    );
    metric(
        "crowdtwin_observations_late_total",
        "Late counts kept out of the filter.",
        "counter",
        load(&m.observations_late).to_string(),
    );
    metric(
        "crowdtwin_observation_batches_refused_total",
        "Observation batches refused.",
        "counter",
        load(&m.observation_batches_refused).to_string(),
    );
    metric("crowdtwin_forecasts_total", "Forecasts published.", "counter", load(&m.forecasts).to_string());
    metric(
        "crowdtwin_forecast_seconds_total",
        "Time spent forecasting.",
        "counter",
        format!("{:.6}", load(&m.forecast_micros_total) as f64 / 1e6),
    );
    metric(
        "crowdtwin_twin_restarts_total",
        "Twin actor restarts by the supervisor.",
        "counter",
        load(&m.twin_restarts).to_string(),
    );
    if let Some(state) = state {
        metric("crowdtwin_twin_time_seconds", "The twin's simulation time.", "gauge", state.time_s.to_string());
        metric(
            "crowdtwin_effective_members",
            "Effective ensemble members.",
            "gauge",
            format!("{:.3}", state.effective_members),
        );
        metric(
            "crowdtwin_arrival_scale",
            "Learned arrival scale (1 = as planned).",
            "gauge",
            format!("{:.4}", state.arrival_scale),
        );
    }
    if let Some(orders) = &app.orders {
        text.push_str(&orders.metrics_text());
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

impl From<RequestError> for ApiError {
    fn from(error: RequestError) -> Self {
        match error {
            RequestError::Bad(m) => ApiError::BadRequest(m),
            RequestError::Unknown(m) => ApiError::NotFound(m),
            RequestError::Infeasible(m) => ApiError::Unprocessable(m, Vec::new()),
        }
    }
}

/// `POST /v1/itineraries` parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ItineraryQuery {
    /// "json" (default), "ics" (iCalendar, needs `date` in the request) or "geojson".
    pub format: Option<String>,
}

/// Plans a visitor's day: sessions by sport preference and held tickets,
/// food, shops and fan zone, with walking and queueing times from the plan
/// run and the live forecast. The plan keeps every session window, the
/// walking limit and the end time.
#[utoipa::path(post, path = "/v1/itineraries", params(ItineraryQuery), request_body = ItineraryRequest, responses((status = 200, body = ItineraryOut), (status = 400, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn itineraries(
    State(app): State<AppState>,
    query: Result<Query<ItineraryQuery>, QueryRejection>,
    body: Result<Json<ItineraryRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    app.metrics.requests.fetch_add(1, Ordering::Relaxed);
    let Query(query) = query?;
    let Json(request) = body?;
    let format = query.format.unwrap_or_else(|| "json".into());
    if !["json", "ics", "geojson"].contains(&format.as_str()) {
        return Err(ApiError::BadRequest(format!("format `{format}` is not one of json, ics, geojson")));
    }
    let forecast = app.published.forecast();
    let planner = app.planner.clone();
    let (out, text) = tokio::task::spawn_blocking(move || -> Result<(ItineraryOut, Option<String>), RequestError> {
        let congestion = planner.congestion(forecast.as_deref());
        let issued = forecast.as_ref().map(|f| f.issued_at.clone());
        let (_, _, out) = planner.plan(&request, &congestion, issued)?;
        let text = match format.as_str() {
            "ics" => {
                let date = request
                    .date
                    .as_deref()
                    .ok_or_else(|| RequestError::Bad("a calendar needs the request's `date` (YYYY-MM-DD)".into()))?;
                Some(planner.ics(&out, date)?)
            }
            "geojson" => Some(planner.geojson(&out)?.to_string()),
            _ => None,
        };
        Ok((out, text))
    })
    .await
    .map_err(|e| ApiError::Unavailable(format!("planning failed: {e}")))??;
    Ok(match text {
        None => Json(out).into_response(),
        Some(text) if text.starts_with("BEGIN:VCALENDAR") => {
            ([(header::CONTENT_TYPE, "text/calendar; charset=utf-8")], text).into_response()
        }
        Some(text) => ([(header::CONTENT_TYPE, "application/geo+json")], text).into_response(),
    })
}

/// `GET /v1/schedule` parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ScheduleQuery {
    /// Only this sport.
    pub sport: Option<String>,
}

/// The session schedule (with announced delays), for one sport or all.
#[utoipa::path(get, path = "/v1/schedule", params(ScheduleQuery), responses((status = 200, body = Vec<ScheduleEntry>), (status = 404, body = Problem)))]
async fn schedule(
    State(app): State<AppState>,
    query: Result<Query<ScheduleQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    app.metrics.requests.fetch_add(1, Ordering::Relaxed);
    let Query(query) = query?;
    Ok(Json(app.planner.schedule(query.sport.as_deref())?).into_response())
}

/// `GET /v1/route` parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct RouteQuery {
    /// From place id.
    pub from: String,
    /// To place id.
    pub to: String,
    /// Departure, "HH:MM".
    pub at: String,
}

/// The fastest route between two places leaving at a time, with walking
/// speeds from the plan run and the live forecast.
#[utoipa::path(get, path = "/v1/route", params(RouteQuery), responses((status = 200, body = RouteOut), (status = 400, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn route(
    State(app): State<AppState>,
    query: Result<Query<RouteQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    app.metrics.requests.fetch_add(1, Ordering::Relaxed);
    let Query(query) = query?;
    let congestion = app.planner.congestion(app.published.forecast().as_deref());
    Ok(Json(app.planner.route(&query.from, &query.to, &query.at, &congestion)?).into_response())
}

#[derive(OpenApi)]
#[openapi(
    info(title = "crowdtwin", description = "Live crowd forecasts for large event sites"),
    paths(forecast, alerts, state, observations, itineraries, schedule, route, healthz, metrics),
    components(schemas(
        Forecast,
        TwinState,
        Observation,
        ObservationBody,
        IngestReport,
        Problem,
        ItineraryRequest,
        ItineraryOut,
        ScheduleEntry,
        RouteOut
    ))
)]
struct ApiDoc;

/// The OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi().merge_from(crate::orders::api::openapi())
}

async fn openapi_json() -> Response {
    Json(openapi()).into_response()
}

/// The router (no socket), so tests can call it directly.
pub fn router(app: AppState) -> Router {
    Router::new()
        .route("/v1/forecast", get(forecast))
        .route("/v1/alerts", get(alerts))
        .route("/v1/state", get(state))
        .route("/v1/observations", post(observations))
        .route("/v1/itineraries", post(itineraries))
        .route("/v1/schedule", get(schedule))
        .route("/v1/route", get(route))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi_json))
        .merge(crate::orders::api::routes())
        .layer(DefaultBodyLimit::max(REQUEST_BODY_BYTES_MAX))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(REQUEST_TIMEOUT_S),
        ))
        .with_state(app)
}

/// Serves `router` on `listener` until `shutdown` resolves, then finishes
/// the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router).with_graceful_shutdown(shutdown).await
}
