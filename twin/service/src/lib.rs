//! The HTTP service: forecasts, alerts, state, observations, health,
//! metrics and the OpenAPI document, on axum; the twin itself runs in a
//! ractor actor under a supervisor that restarts it (replaying the
//! observations it had accepted) if it fails.
//!
//! Reads (`GET /v1/forecast`, `/v1/alerts`, `/v1/state`) are served from the
//! last published snapshot, never waiting for the twin's computation.
//!
//! - [`error`]: `ApiError` and its problem+json answers.
//! - [`auth`]: bearer tokens and roles (token logic only).
//! - [`state`]: what handlers share.
//! - [`actor`]: the twin actor, its supervisor and [`Service`].
//! - [`routes`]: one file per group of routes (twin, itineraries, orders).
//! - [`openapi`]: the OpenAPI document.
//! - [`logging`]: the `tracing` subscriber (human or JSON lines, `RUST_LOG`).

#![warn(missing_docs)]

pub mod actor;
pub mod auth;
pub mod error;
pub mod logging;
pub mod openapi;
pub mod routes;
pub mod state;

pub use actor::{Service, ingest};
pub use error::{ApiError, Problem};
pub use openapi::openapi;
pub use state::AppState;

use axum::Json;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::time::Duration;

async fn openapi_json() -> Response {
    Json(openapi()).into_response()
}

/// Smallest answer body compressed, bytes.
pub const COMPRESS_BYTES_MIN: u16 = 1024;
/// Largest request body, bytes.
pub const REQUEST_BODY_BYTES_MAX: usize = 8 * 1024 * 1024;
/// Longest a request may take, s.
pub const REQUEST_TIMEOUT_S: u64 = 30;
/// Longest a caller waits for the twin to take observations, s.
pub const TWIN_CALL_TIMEOUT_S: u64 = 20;
/// Observation batches kept for replay after a restart.
pub const OBSERVATION_LOG_BATCHES_MAX: usize = 1_000_000;

/// Answers a path no route serves (a problem, as every error).
async fn no_route(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {method} {}; GET /openapi.json lists the API", uri.path()))
}

/// The router (no socket), so tests can call it directly.
///
/// The layers every answer passes (request counting, the request's span,
/// compression, problems, the timeout, the body limit) wrap the routes
/// once, as one service: `Router::layer` would wrap each route in each
/// layer, boxing and cloning every layer again for every request.
pub fn router(app: AppState) -> Router {
    let routes = Router::new()
        .merge(routes::twin::routes())
        .merge(routes::itineraries::routes())
        .merge(routes::orders::routes())
        .route("/openapi.json", get(openapi_json))
        .fallback(no_route)
        .with_state(app.clone());
    let layered = tower::ServiceBuilder::new()
        .layer(CountRequestsLayer(app.metrics.requests.clone()))
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(tower_http::trace::DefaultMakeSpan::new().level(tracing::Level::INFO))
                .on_request(())
                // One line per answer at debug (`RUST_LOG=tower_http=debug`):
                // at info it would be a line per order under load.
                .on_response(tower_http::trace::DefaultOnResponse::new().level(tracing::Level::DEBUG)),
        )
        // Large answers (the whole forecast is ~300 KB of JSON) leave
        // compressed when the caller accepts gzip or br; small ones as they are.
        .layer(
            tower_http::compression::CompressionLayer::new()
                .compress_when(tower_http::compression::predicate::SizeAbove::new(COMPRESS_BYTES_MIN)),
        )
        .layer(axum::middleware::map_response(error::problems_everywhere))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(REQUEST_TIMEOUT_S),
        ))
        .layer(DefaultBodyLimit::max(REQUEST_BODY_BYTES_MAX))
        .service(routes);
    Router::new().fallback_service(layered)
}

/// Counts the API's requests (paths under `/v1/`) for `/metrics`.
#[derive(Clone)]
struct CountRequestsLayer(prometheus_client::metrics::counter::Counter);

impl<S> tower::Layer<S> for CountRequestsLayer {
    type Service = CountRequests<S>;

    fn layer(&self, inner: S) -> CountRequests<S> {
        CountRequests { inner, requests: self.0.clone() }
    }
}

/// [`CountRequestsLayer`]'s service: counts, then calls the inner service
/// (no boxed future, no clone of the inner service per request).
#[derive(Clone)]
struct CountRequests<S> {
    inner: S,
    requests: prometheus_client::metrics::counter::Counter,
}

impl<S, B> tower::Service<axum::http::Request<B>> for CountRequests<S>
where
    S: tower::Service<axum::http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: axum::http::Request<B>) -> S::Future {
        if request.uri().path().starts_with("/v1/") {
            self.requests.inc();
        }
        self.inner.call(request)
    }
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
