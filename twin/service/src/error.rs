//! `ApiError`, the one error type of the HTTP layer: every error leaves as
//! an `application/problem+json` body ([`Problem`]). What the handlers do
//! not produce themselves (axum's 404 for an unknown path, 405 for a wrong
//! method, 413 for a body over the limit, 400 for a bad path parameter,
//! the timeout's 408) is rewritten into a problem by [`problems_everywhere`],
//! the router's outermost layer.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
pub use crowdtwin_wire::Problem;

/// The problem+json media type.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Longest body of a non-problem error answer read to become a problem's detail, bytes.
const ERROR_BODY_BYTES_MAX: usize = 16 * 1024;

/// Rewrites an error answer (4xx or 5xx) that is not JSON into a problem,
/// with the original body's text as its detail; keeps its status and
/// headers (such as `Allow` on a 405).
pub async fn problems_everywhere(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    // Problems pass, and so do the JSON answers the OpenAPI document
    // declares for an error status (a rejected order's 422 receipt).
    let is_json = response.headers().get(header::CONTENT_TYPE).is_some_and(|value| {
        value.as_bytes().starts_with(PROBLEM_JSON.as_bytes()) || value.as_bytes().starts_with(b"application/json")
    });
    if is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, ERROR_BODY_BYTES_MAX).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes).trim().to_string();
    let detail = match (status, text.is_empty()) {
        (_, false) => text,
        (StatusCode::NOT_FOUND, true) => "no such path; GET /openapi.json lists the API".to_string(),
        (StatusCode::METHOD_NOT_ALLOWED, true) => {
            "this path does not answer this method; the Allow header lists those it does".to_string()
        }
        (StatusCode::REQUEST_TIMEOUT, true) => "the request took too long; retry".to_string(),
        (_, true) => status.canonical_reason().unwrap_or("error").to_string(),
    };
    let title = status.canonical_reason().unwrap_or("error").to_ascii_lowercase();
    let body = serde_json::to_vec(&Problem { status: status.as_u16(), title, detail, problems: Vec::new() })
        .expect("a problem serialises");
    parts.headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static(PROBLEM_JSON));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(body))
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
                tracing::warn!(detail = %d, "answering 503");
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable", d, Vec::new())
            }
            ApiError::Unauthorized(d) => (StatusCode::UNAUTHORIZED, "unauthorized", d, Vec::new()),
            ApiError::Forbidden(d) => (StatusCode::FORBIDDEN, "forbidden", d, Vec::new()),
            ApiError::Conflict(d) => (StatusCode::CONFLICT, "conflict", d, Vec::new()),
            ApiError::TooLarge(d) => (StatusCode::PAYLOAD_TOO_LARGE, "too large", d, Vec::new()),
        };
        let body = Problem { status: status.as_u16(), title: title.to_string(), detail, problems };
        (status, [(header::CONTENT_TYPE, PROBLEM_JSON)], Json(body)).into_response()
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::BadRequest(format!("bad query parameters: {}", rejection.body_text()))
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::TooLarge(format!(
                "the body is over {} bytes: {}",
                crate::REQUEST_BODY_BYTES_MAX,
                rejection.body_text()
            ));
        }
        ApiError::BadRequest(format!("the body is not valid JSON for this endpoint: {}", rejection.body_text()))
    }
}
