//! crowdtwin's integration tests, one binary: the command line, the
//! live twin, its HTTP service and orders.

mod cli;
#[cfg(feature = "cluster")]
mod cluster;
mod compare;
mod itinerary;
mod live;
mod openapi;
mod orders;
mod products;
mod service;
mod site;
mod stress;
mod validation;

/// Sends one request through the router (no socket): status, content type, body.
pub async fn request(
    service: &crowdtwin_service::Service,
    method: &str,
    uri: &str,
    body: Option<&str>,
) -> (axum::http::StatusCode, String, String) {
    use tower::ServiceExt;
    let mut request = axum::http::Request::builder().method(method).uri(uri);
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let request =
        request.body(body.map_or(axum::body::Body::empty(), |b| axum::body::Body::from(b.to_string()))).unwrap();
    let response = crowdtwin_service::router(service.state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let content_type =
        response.headers().get("content-type").map_or(String::new(), |v| v.to_str().unwrap().to_string());
    let bytes = axum::body::to_bytes(response.into_body(), 64 << 20).await.unwrap();
    (status, content_type, String::from_utf8_lossy(&bytes).to_string())
}
