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
use ractor::ActorRef;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock};

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

/// Counters for `/metrics`.
#[derive(Default)]
pub struct Metrics {
    pub(crate) requests: AtomicU64,
    pub(crate) observations_accepted: AtomicU64,
    pub(crate) observations_duplicate: AtomicU64,
    pub(crate) observations_late: AtomicU64,
    pub(crate) observation_batches_refused: AtomicU64,
    pub(crate) forecasts: AtomicU64,
    pub(crate) forecast_micros_total: AtomicU64,
    pub(crate) twin_restarts: AtomicU64,
}

/// Everything a request handler shares.
#[derive(Clone)]
pub struct AppState {
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
    pub fn with_tokens(mut self, tokens: Tokens) -> Self {
        self.tokens = Arc::new(tokens);
        self
    }

    /// Serves the order endpoints from `book` (without it they answer 503).
    pub fn with_orders(mut self, book: Arc<OrderBook>) -> Self {
        self.orders = Some(book);
        self
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
