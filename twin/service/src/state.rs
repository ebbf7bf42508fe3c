//! What every handler shares: the twin's actor slot, the published
//! snapshots, the counters, the planner, the order book and the tokens.

use crate::actor::TwinMessage;
use crate::auth::{Caller, Denied, Role, Tokens};
use crate::error::ApiError;
use crowdtwin_live::clock::Clock;
use crowdtwin_live::itinerary::Planner;
use crowdtwin_live::{Forecast, TwinState};
use crowdtwin_orders::OrderBook;
use crowdtwin_sim::SimTime;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use ractor::ActorRef;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};

/// What readers see: the last published forecast and state.
#[derive(Default)]
pub struct Published {
    pub(crate) forecast: RwLock<Option<Arc<Forecast>>>,
    /// The whole forecast, serialised once when published.
    pub(crate) forecast_json: RwLock<Option<axum::body::Bytes>>,
    pub(crate) state: RwLock<Option<Arc<TwinState>>>,
}

impl Published {
    pub(crate) fn forecast(&self) -> Option<Arc<Forecast>> {
        self.forecast.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
    pub(crate) fn state(&self) -> Option<Arc<TwinState>> {
        self.state.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The service's metrics for `/metrics` (`prometheus-client`, OpenMetrics
/// text): counters bumped where things happen, gauges set from the
/// published state when scraped, the order book's counters registered in the
/// same registry.
pub struct Metrics {
    pub(crate) requests: Counter,
    pub(crate) observations_accepted: Counter,
    pub(crate) observations_duplicate: Counter,
    pub(crate) observations_late: Counter,
    pub(crate) observation_batches_refused: Counter,
    pub(crate) forecasts: Counter,
    pub(crate) forecast_seconds: Counter<f64, AtomicU64>,
    pub(crate) twin_restarts: Counter,
    twin_time: Gauge<f64, AtomicU64>,
    effective_members: Gauge<f64, AtomicU64>,
    arrival_scale: Gauge<f64, AtomicU64>,
    registry: Mutex<Registry>,
}

impl Default for Metrics {
    fn default() -> Self {
        let metrics = Metrics {
            requests: Counter::default(),
            observations_accepted: Counter::default(),
            observations_duplicate: Counter::default(),
            observations_late: Counter::default(),
            observation_batches_refused: Counter::default(),
            forecasts: Counter::default(),
            forecast_seconds: Counter::default(),
            twin_restarts: Counter::default(),
            twin_time: Gauge::default(),
            effective_members: Gauge::default(),
            arrival_scale: Gauge::default(),
            registry: Mutex::new(Registry::default()),
        };
        metrics.register_own();
        metrics
    }
}

impl Metrics {
    fn register_own(&self) {
        let mut r = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        r.register("crowdtwin_requests", "API requests served (paths under /v1/).", self.requests.clone());
        r.register("crowdtwin_observations_accepted", "Observations accepted.", self.observations_accepted.clone());
        r.register(
            "crowdtwin_observations_duplicate",
            "Duplicate observations ignored.",
            self.observations_duplicate.clone(),
        );
        r.register(
            "crowdtwin_observations_late",
            "Late counts kept out of the filter.",
            self.observations_late.clone(),
        );
        r.register(
            "crowdtwin_observation_batches_refused",
            "Observation batches refused.",
            self.observation_batches_refused.clone(),
        );
        r.register("crowdtwin_forecasts", "Forecasts published.", self.forecasts.clone());
        r.register("crowdtwin_forecast_seconds", "Time spent forecasting.", self.forecast_seconds.clone());
        r.register("crowdtwin_twin_restarts", "Twin actor restarts by the supervisor.", self.twin_restarts.clone());
        r.register("crowdtwin_twin_time_seconds", "The twin's simulation time.", self.twin_time.clone());
        r.register("crowdtwin_effective_members", "Effective ensemble members.", self.effective_members.clone());
        r.register("crowdtwin_arrival_scale", "Learned arrival scale (1 = as planned).", self.arrival_scale.clone());
    }

    /// Adds the order book's counters.
    pub(crate) fn register_orders(&self, book: &OrderBook) {
        book.register_metrics(&mut self.registry.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// The OpenMetrics text, the gauges set from `state` (0 before the twin
    /// has published one).
    pub(crate) fn render(&self, state: Option<&TwinState>) -> String {
        if let Some(state) = state {
            self.twin_time.set(state.time_s as f64);
            self.effective_members.set(state.effective_members);
            self.arrival_scale.set(state.arrival_scale);
        }
        let mut text = String::new();
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("writing to a String cannot fail");
        text
    }
}

/// Everything a request handler shares, behind one `Arc`: every request
/// clones it (its `State` extractor), one reference count rather than one
/// per field.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    pub(crate) fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }

    /// A copy of the shared state with `change` made to it.
    fn with(&self, change: impl FnOnce(&mut Shared)) -> AppState {
        let mut shared = (*self.0).clone();
        change(&mut shared);
        AppState::new(shared)
    }
}

/// What [`AppState`] shares.
#[derive(Clone)]
pub struct Shared {
    pub(crate) twin: Arc<RwLock<Option<ActorRef<TwinMessage>>>>,
    pub(crate) published: Arc<Published>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) planner: Arc<Planner>,
    /// The order book, when orders are enabled (`AppState::with_orders`).
    pub(crate) orders: Option<Arc<OrderBook>>,
    /// Bearer tokens (`AppState::with_tokens`; none: auth off).
    pub(crate) tokens: Arc<Tokens>,
    /// The clock the twin follows (readiness compares the twin with it).
    pub(crate) clock: Arc<dyn Clock>,
    /// The scenario's end (the twin stops there).
    pub(crate) end: SimTime,
}

/// How far (simulated seconds) the twin may trail its clock and be ready.
pub const READY_LAG_S: f64 = 60.0;

impl AppState {
    /// Whether the twin is up and has caught up with its clock (within
    /// [`READY_LAG_S`]): `Ok(twin time s)` or why not.
    pub fn readiness(&self) -> Result<f64, String> {
        if self.twin.read().unwrap_or_else(|e| e.into_inner()).is_none() {
            return Err("the twin is restarting".into());
        }
        let state = self.published.state().ok_or_else(|| "the twin is starting".to_string())?;
        let target = self.clock.now().min(self.end).as_secs_f64();
        let lag = target - state.time_s as f64;
        if lag > READY_LAG_S {
            return Err(format!(
                "the twin is catching up with its clock: at {}, {lag:.0} s of simulated time behind",
                state.clock
            ));
        }
        Ok(state.time_s as f64)
    }
}

impl AppState {
    /// Checks tokens on the order and operator endpoints (default: auth off).
    pub fn with_tokens(self, tokens: Tokens) -> Self {
        self.with(|shared| shared.tokens = Arc::new(tokens))
    }

    /// Serves the order endpoints from `book` (without it they answer 503).
    /// Plans' recommended products then come from its stock now.
    pub fn with_orders(self, book: Arc<OrderBook>) -> Self {
        self.metrics.register_orders(&book);
        let scenario_items: std::collections::HashMap<String, Vec<String>> = self
            .planner
            .scenario()
            .places
            .iter()
            .map(|p| (p.id.clone(), p.items.iter().map(|i| i.id.clone()).collect()))
            .collect();
        // Weak: the planner must not keep a closed book alive.
        let reader = Arc::downgrade(&book);
        self.planner.set_stock_source(Arc::new(move |shop: &str| {
            let stock = reader.upgrade()?.stock(shop).ok()?;
            let units = |id: &String| stock.items.iter().find(|i| &i.item == id).map_or(0, |i| i.stock);
            Some(scenario_items.get(shop)?.iter().map(units).collect())
        }));
        self.with(|shared| shared.orders = Some(book))
    }

    /// Refuses a request whose bearer token is missing (401) or lacks
    /// `needed` (403); answers who calls.
    pub fn authorize(&self, headers: &axum::http::HeaderMap, needed: Role) -> Result<Caller, ApiError> {
        let authorization = headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        self.tokens.check(authorization, needed).map_err(|denied| match denied {
            Denied::Unauthenticated(d) => ApiError::Unauthorized(d),
            Denied::Forbidden(d) => ApiError::Forbidden(d),
        })
    }
}
