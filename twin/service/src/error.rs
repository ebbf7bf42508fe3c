//! `ApiError`, the one error type of the HTTP layer: every error leaves as
//! an `application/problem+json` body ([`Problem`]).

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
pub use crowdtwin_wire::Problem;

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
