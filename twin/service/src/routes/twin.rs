//! The twin's routes: forecasts, alerts, state, observations, health and metrics.

use crate::TWIN_CALL_TIMEOUT_S;
use crate::actor::TwinMessage;
use crate::error::{ApiError, Problem};
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use crowdtwin_live::{BookedPlans, Forecast, IngestReport, Observation, TwinState};
use serde::Deserialize;
use std::time::Duration;

/// `GET /v1/forecast` parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ForecastQuery {
    /// One place or walkway id (default: all).
    pub place: Option<String>,
    /// Minutes of horizon to return (default and at most: the twin's horizon).
    pub horizon_min: Option<u32>,
}

/// Forecast per place per minute of the horizon (P10/P50/P90) and alerts.
/// The people of the plans issued before the forecast (booked presence
/// times the compliance share) are in every figure, and each minute's
/// `booked` says how many of them there are; `booked` at the top counts the
/// plans and gives the share.
#[utoipa::path(get, path = "/v1/forecast", params(ForecastQuery), responses((status = 200, body = Forecast), (status = 404, body = Problem), (status = 503, body = Problem)))]
async fn forecast(
    State(app): State<AppState>,
    query: Result<Query<ForecastQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
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
#[utoipa::path(get, path = "/v1/alerts", responses((status = 200, body = Vec<crowdtwin_wire::Alert>), (status = 503, body = Problem)))]
async fn alerts(State(app): State<AppState>) -> Result<Response, ApiError> {
    let published = app.published.forecast().ok_or_else(|| ApiError::Unavailable("no forecast yet".into()))?;
    Ok(Json(&published.alerts).into_response())
}

/// The twin's current estimate per place, learned parameters, observation
/// totals, and the issued plans counted with the share who follow them (learned
/// from counts at booked places; the prior 0.5 until 10 such counts).
#[utoipa::path(get, path = "/v1/state", responses((status = 200, body = TwinState), (status = 503, body = Problem)))]
async fn state(State(app): State<AppState>) -> Result<Response, ApiError> {
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
#[utoipa::path(post, path = "/v1/observations", request_body = ObservationBody, security(("bearer" = [])), responses((status = 200, body = IngestReport), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem)))]
async fn observations(
    State(app): State<AppState>,
    headers: axum::http::HeaderMap,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Response, ApiError> {
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

/// Liveness (the process answers) and the twin's clock; `ok`, or
/// `restarting` while the supervisor restarts the twin. Readiness is `/readyz`.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "alive")))]
async fn healthz(State(app): State<AppState>) -> Response {
    let clock = app.published.state().map(|s| s.clock.clone());
    let ready = app.twin.read().unwrap_or_else(|e| e.into_inner()).is_some();
    Json(serde_json::json!({"status": if ready { "ok" } else { "restarting" }, "clock": clock})).into_response()
}

/// Readiness: 200 once the twin is up and has caught up with its clock
/// (within a minute of simulated time), else 503 with why. `/healthz` is
/// liveness only.
#[utoipa::path(get, path = "/readyz", responses((status = 200, description = "ready"), (status = 503, body = Problem)))]
async fn readyz(State(app): State<AppState>) -> Result<Response, ApiError> {
    let time_s = app.readiness().map_err(ApiError::Unavailable)?;
    Ok(Json(serde_json::json!({"status": "ready", "time_s": time_s})).into_response())
}

/// Metrics in the OpenMetrics text format (Prometheus scrapes it).
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "OpenMetrics text format")))]
async fn metrics(State(app): State<AppState>) -> Response {
    let text = app.metrics.render(app.published.state().as_deref());
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text).into_response()
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(forecast, alerts, state, observations, healthz, readyz, metrics),
    components(schemas(Forecast, BookedPlans, TwinState, Observation, ObservationBody, IngestReport, Problem))
)]
struct TwinDoc;

/// The twin routes' OpenAPI document (merged into the service's).
pub fn openapi() -> utoipa::openapi::OpenApi {
    <TwinDoc as utoipa::OpenApi>::openapi()
}

/// The twin routes, merged into [`crate::router`].
pub fn routes() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/v1/forecast", get(forecast))
        .route("/v1/alerts", get(alerts))
        .route("/v1/state", get(state))
        .route("/v1/observations", post(observations))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}
