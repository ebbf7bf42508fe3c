//! The HTTP service, through the router with no socket and through a real
//! server on 127.0.0.1 port 0.

use crate::live::morning;
use axum::http::StatusCode;
use crowdtwin_client::http_client::Client;
use crowdtwin_live::TwinConfig;
use crowdtwin_live::clock::{Clock, ManualClock};
use crowdtwin_service::{Service, router, serve};
use crowdtwin_sim::{SimDuration, SimTime};
use std::sync::Arc;
use std::time::Duration;

async fn started(clock: Arc<ManualClock>) -> Service {
    let config = TwinConfig { members: 3, threads: 1, horizon_min: 10, ..Default::default() };
    let clock: Arc<dyn Clock> = clock;
    Service::start(morning(10_000), config, clock, SimDuration::from_secs(60)).await.unwrap()
}

async fn call(
    service: &Service,
    method: &str,
    uri: &str,
    body: Option<&str>,
) -> (StatusCode, serde_json::Value, String) {
    let (status, _, text) = crate::request(service, method, uri, body).await;
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::Null), text)
}

/// Ticks until the published state reaches `time_s`.
async fn reach(service: &Service, time_s: u64) {
    for _ in 0..200 {
        service.tick();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (status, state, _) = call(service, "GET", "/v1/state", None).await;
        if status == StatusCode::OK && state["time_s"].as_u64() == Some(time_s) {
            return;
        }
    }
    panic!("the twin never reached {time_s} s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_answers_every_endpoint() {
    let clock = Arc::new(ManualClock::new(SimTime::ZERO));
    let service = started(clock.clone()).await;
    clock.set(SimTime::from_secs(1_800));
    reach(&service, 1_800).await;

    let (status, health, _) = call(&service, "GET", "/healthz", None).await;
    assert_eq!((status, health["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (status, forecast, _) = call(&service, "GET", "/v1/forecast", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(forecast["issued_at"], "07:30");
    assert_eq!(forecast["elements"][0]["minutes"].as_array().unwrap().len(), 10);
    let (status, one, _) = call(&service, "GET", "/v1/forecast?place=gate-west&horizon_min=5", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["elements"].as_array().unwrap().len(), 1);
    assert_eq!(one["elements"][0]["minutes"].as_array().unwrap().len(), 5);
    let (status, problem, _) = call(&service, "GET", "/v1/forecast?place=atlantis", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(problem["detail"].as_str().unwrap().contains("atlantis"));
    assert_eq!(call(&service, "GET", "/v1/forecast?horizon_min=31", None).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(call(&service, "GET", "/v1/alerts", None).await.0, StatusCode::OK);
    let (_, openapi, _) = call(&service, "GET", "/openapi.json", None).await;
    for path in ["/v1/forecast", "/v1/alerts", "/v1/state", "/v1/observations", "/healthz", "/metrics"] {
        assert!(openapi["paths"][path].is_object(), "openapi lacks {path}");
    }

    // Observations: one, a batch with a duplicate, bad ones.
    let good = r#"{"type":"place_count","id":"s1","at":"07:30","place":"gate-west","count":12}"#;
    let (status, report, _) = call(&service, "POST", "/v1/observations", Some(good)).await;
    assert_eq!((status, report["accepted"].as_u64()), (StatusCode::OK, Some(1)));
    let batch = format!("[{good}, {}]", good.replace("s1", "s2"));
    let (status, report, _) = call(&service, "POST", "/v1/observations", Some(&batch)).await;
    assert_eq!(
        (status, report["accepted"].as_u64(), report["duplicates"].as_u64()),
        (StatusCode::OK, Some(1), Some(1))
    );
    for (body, status, words) in [
        (
            r#"{"type":"place_count","id":"s3","at":"07:30","place":"atlantis","count":1}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "atlantis",
        ),
        (
            r#"{"type":"place_count","id":"s4","at":"09:30","place":"gate-west","count":1}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "ahead of the twin's clock",
        ),
        (
            r#"{"type":"place_count","id":"s5","at":"07:30","place":"gate-west","count":-4}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "count -4",
        ),
        (r#"{"type":"place_count","id":"s6","#, StatusCode::BAD_REQUEST, "not valid JSON"),
        (r#"{"type":"weather","id":"s7"}"#, StatusCode::BAD_REQUEST, "malformed observation"),
        ("[]", StatusCode::BAD_REQUEST, "empty batch"),
    ] {
        let (got, problem, text) = call(&service, "POST", "/v1/observations", Some(body)).await;
        assert_eq!(got, status, "{body}: {text}");
        assert!(problem["detail"].as_str().unwrap_or("").contains(words), "{body}: {text}");
    }
    let (_, _, metrics) = call(&service, "GET", "/metrics", None).await;
    assert!(metrics.contains("crowdtwin_observations_accepted_total 2"), "{metrics}");
    assert!(metrics.contains("crowdtwin_observation_batches_refused_total 3"), "{metrics}");

    // Issued plans are in the next forecast, at the booked outlet only,
    // and said apart (`booked`) from the rest of the figure (issue 20).
    let (_, quiet, _) = call(&service, "GET", "/v1/forecast", None).await;
    assert_eq!(quiet["booked"]["plans"].as_u64(), Some(0), "{}", quiet["booked"]);
    let meal = r#"{"start_place":"food-court-central","start_time":"07:31","end_time":"09:00","food":2}"#;
    let batch = format!(r#"{{"requests":[{}]}}"#, vec![meal; 40].join(","));
    let (status, out, text) = call(&service, "POST", "/v1/itineraries/batch", Some(&batch)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let outlet = out["plans"][0]["plan"]["stops"][0]["place"].as_str().unwrap().to_string();
    let compliance = out["compliance"].as_f64().unwrap();
    clock.set(SimTime::from_secs(1_860));
    reach(&service, 1_860).await;
    let (status, forecast, _) = call(&service, "GET", "/v1/forecast", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((forecast["issued_at"].as_str(), forecast["booked"]["plans"].as_u64()), (Some("07:31"), Some(40)));
    let booked_at = |element: &serde_json::Value| -> Vec<f64> {
        element["minutes"].as_array().unwrap().iter().map(|m| m["booked"].as_f64().unwrap_or(0.0)).collect()
    };
    for element in forecast["elements"].as_array().unwrap() {
        let booked = booked_at(element);
        if element["id"] == outlet.as_str() {
            let peak = booked.iter().copied().fold(0.0, f64::max);
            assert!(peak > 0.5 * 40.0 * compliance && peak <= 40.0 * compliance + 1e-9, "{outlet}: {booked:?}");
        } else {
            assert!(booked.iter().all(|&b| b == 0.0), "{}: {booked:?}", element["id"]);
        }
    }
    let (_, state, _) = call(&service, "GET", "/v1/state", None).await;
    assert_eq!(state["booked"]["plans"].as_u64(), Some(40), "{}", state["booked"]);
    service.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_twin_is_restarted_with_its_observations() {
    let clock = Arc::new(ManualClock::new(SimTime::ZERO));
    let service = started(clock.clone()).await;
    clock.set(SimTime::from_secs(600));
    reach(&service, 600).await;
    let good = r#"{"type":"place_count","id":"k1","at":"07:10","place":"gate-west","count":3}"#;
    assert_eq!(call(&service, "POST", "/v1/observations", Some(good)).await.0, StatusCode::OK);
    service.crash_twin();
    let mut restarted = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (_, _, metrics) = call(&service, "GET", "/metrics", None).await;
        let (_, health, _) = call(&service, "GET", "/healthz", None).await;
        if metrics.contains("crowdtwin_twin_restarts_total 1") && health["status"] == "ok" {
            restarted = true;
            break;
        }
    }
    assert!(restarted, "the supervisor restarted the twin");
    // The accepted observation survived: sending it again is a duplicate.
    let (_, report, text) = call(&service, "POST", "/v1/observations", Some(good)).await;
    assert_eq!(report["duplicates"].as_u64(), Some(1), "{text}");
    service.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_server_on_port_0_serves_and_shuts_down() {
    let clock = Arc::new(ManualClock::new(SimTime::ZERO));
    let service = started(clock.clone()).await;
    clock.set(SimTime::from_secs(300));
    reach(&service, 300).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, router(service.state.clone()), async {
        let _ = stopped.await;
    }));
    let mut client = Client::connect(&address).await.unwrap();
    for _ in 0..20 {
        let (status, body) = client.request("GET", "/v1/forecast?place=olympic-plaza", None).await.unwrap();
        assert_eq!(status, 200);
        let forecast: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(forecast["elements"][0]["id"], "olympic-plaza");
    }
    let body = br#"[{"type":"place_count","id":"r1","at":"07:05","place":"olympic-plaza","count":0}]"#;
    let (status, _) = client.request("POST", "/v1/observations", Some(body)).await.unwrap();
    assert_eq!(status, 200);
    stop.send(()).unwrap();
    drop(client);
    tokio::time::timeout(Duration::from_secs(10), server).await.expect("graceful shutdown").unwrap().unwrap();
    service.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observe_writes_ndjson_and_parquet_and_replay_feeds_a_live_server() {
    use crowdtwin_client::feed;
    use crowdtwin_live::eval::SensorConfig;
    let dir = std::env::temp_dir().join(format!("crowdtwin-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let truth = {
        let text = include_str!("../../../../scenarios/gangneung-2018.toml")
            .replace("end = \"25:00\"", "end = \"07:20\"")
            .replace("count = 60000", "count = 10000");
        crowdtwin_sim::scenario::Scenario::parse(&text, "truth.toml").unwrap()
    };
    let (ndjson, parquet) = (dir.join("obs.ndjson"), dir.join("obs.parquet"));
    let written = feed::observe(truth.clone(), 5, SensorConfig::default(), &ndjson).unwrap();
    assert_eq!(feed::observe(truth, 5, SensorConfig::default(), &parquet).unwrap(), written);
    let from_ndjson = feed::read_observations(&ndjson).unwrap();
    assert_eq!(from_ndjson.len(), written);
    assert!(written > 500, "20 minutes of counts of 44 elements");
    assert_eq!(feed::read_observations(&parquet).unwrap(), from_ndjson, "Parquet and NDJSON hold the same");
    std::fs::write(dir.join("bad.ndjson"), "{\"type\":\"place_count\"}\n").unwrap();
    let error = feed::read_observations(&dir.join("bad.ndjson")).unwrap_err().to_string();
    assert!(error.contains("bad.ndjson:1:"), "{error}");

    // A live twin whose clock runs 600 times real time.
    let clock: Arc<dyn Clock> = Arc::new(crowdtwin_live::clock::WallClock::new(SimTime::ZERO, 600.0));
    let config = TwinConfig { members: 2, threads: 1, horizon_min: 5, ..Default::default() };
    let service = Arc::new(Service::start(morning(10_000), config, clock, SimDuration::from_secs(60)).await.unwrap());
    let ticker = service.clone();
    let ticking = tokio::spawn(async move {
        loop {
            ticker.tick();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, router(service.state.clone()), async {
        let _ = stopped.await;
    }));
    let (accepted, duplicates, late) = feed::replay(from_ndjson.clone(), &url, |_, _| {}).await.unwrap();
    assert_eq!(accepted + duplicates + late, written as u64);
    assert!(accepted > written as u64 / 2, "{accepted} of {written} accepted ({late} late)");
    let (_, again, _) = feed::replay(from_ndjson, &url, |_, _| {}).await.unwrap();
    assert_eq!(again, written as u64, "a second replay is all duplicates");
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    ticking.abort();
    service.stop();
    std::fs::remove_dir_all(&dir).ok();
}

/// A request with headers through the router: (status, headers, body bytes).
async fn raw(
    service: &Service,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    use tower::ServiceExt;
    let mut request = axum::http::Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response =
        router(service.state.clone()).oneshot(request.body(axum::body::Body::from(body)).unwrap()).await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, axum::body::to_bytes(response.into_body(), 64 << 20).await.unwrap().to_vec())
}

/// Errors the handlers do not make themselves (unknown path, wrong method,
/// oversized body, bad path parameter) are problem+json too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_is_a_problem_and_large_answers_are_compressed() {
    let clock = Arc::new(ManualClock::new(SimTime::ZERO));
    let service = started(clock.clone()).await;
    reach(&service, 0).await;
    let json = [("content-type", "application/json")];
    let oversized = vec![b' '; crowdtwin_service::REQUEST_BODY_BYTES_MAX + 1];
    for (method, uri, body, status) in [
        ("GET", "/nowhere", Vec::new(), StatusCode::NOT_FOUND),
        ("DELETE", "/v1/forecast", Vec::new(), StatusCode::METHOD_NOT_ALLOWED),
        ("POST", "/v1/observations", oversized.clone(), StatusCode::PAYLOAD_TOO_LARGE),
        ("POST", "/v1/orders", oversized, StatusCode::PAYLOAD_TOO_LARGE),
        ("GET", "/v1/orders/abc", Vec::new(), StatusCode::SERVICE_UNAVAILABLE),
        ("GET", "/v1/forecast?horizon_min=abc", Vec::new(), StatusCode::BAD_REQUEST),
    ] {
        let (got, headers, bytes) = raw(&service, method, uri, &json, body).await;
        assert_eq!(got, status, "{method} {uri}: {}", String::from_utf8_lossy(&bytes));
        assert_eq!(headers["content-type"], "application/problem+json", "{method} {uri}");
        let problem: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(problem["status"], status.as_u16(), "{method} {uri}: {problem}");
        assert!(!problem["detail"].as_str().unwrap().is_empty(), "{method} {uri}: {problem}");
        if status == StatusCode::METHOD_NOT_ALLOWED {
            assert!(headers.contains_key("allow"), "a 405 keeps its Allow header");
        }
    }
    // The whole forecast leaves gzip- or br-compressed when asked, and is the same JSON.
    let (_, _, plain) = raw(&service, "GET", "/v1/forecast", &[], Vec::new()).await;
    let (status, headers, gzipped) =
        raw(&service, "GET", "/v1/forecast", &[("accept-encoding", "gzip")], Vec::new()).await;
    assert_eq!((status, headers.get("content-encoding").map(|v| v.to_str().unwrap())), (StatusCode::OK, Some("gzip")));
    assert!(gzipped.len() * 3 < plain.len(), "{} bytes gzipped of {}", gzipped.len(), plain.len());
    let mut unzipped = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gzipped.as_slice()), &mut unzipped).unwrap();
    assert_eq!(unzipped, plain);
    let (_, headers, _) = raw(&service, "GET", "/v1/forecast", &[("accept-encoding", "br")], Vec::new()).await;
    assert_eq!(headers.get("content-encoding").map(|v| v.to_str().unwrap()), Some("br"));
    let (_, headers, _) = raw(&service, "GET", "/healthz", &[("accept-encoding", "gzip")], Vec::new()).await;
    assert!(headers.get("content-encoding").is_none(), "small answers are sent as they are");
    service.stop();
}

/// `/readyz` is 503 while the twin trails its clock and 200 once caught up;
/// `/healthz` stays 200 (liveness). An accepted batch counts in `/v1/state`
/// at once, not at the next step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_clock_and_state_counts_a_batch_at_once() {
    let clock = Arc::new(ManualClock::new(SimTime::ZERO));
    let service = started(clock.clone()).await;
    reach(&service, 0).await;
    assert_eq!(call(&service, "GET", "/readyz", None).await.0, StatusCode::OK);
    clock.set(SimTime::from_secs(3_600));
    let (status, problem, text) = call(&service, "GET", "/readyz", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    assert!(problem["detail"].as_str().unwrap().contains("catching up"), "{text}");
    assert_eq!(call(&service, "GET", "/healthz", None).await.0, StatusCode::OK, "alive while catching up");
    reach(&service, 3_600).await;
    assert_eq!(call(&service, "GET", "/readyz", None).await.0, StatusCode::OK);

    let (_, before, _) = call(&service, "GET", "/v1/state", None).await;
    let good = r#"{"type":"place_count","id":"r1","at":"08:00","place":"gate-west","count":5}"#;
    assert_eq!(call(&service, "POST", "/v1/observations", Some(good)).await.0, StatusCode::OK);
    let (_, after, _) = call(&service, "GET", "/v1/state", None).await;
    assert_eq!(
        after["observations"]["accepted"].as_u64().unwrap(),
        before["observations"]["accepted"].as_u64().unwrap() + 1,
        "no tick in between"
    );
    service.stop();
}
