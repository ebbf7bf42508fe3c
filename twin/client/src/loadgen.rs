//! `crowdtwin loadgen`: a closed-loop HTTP load generator for loopback
//! servers. Each of `concurrency` connections sends requests back to back
//! for `duration`; latencies are exact (every request timed), percentiles
//! by sorting. It stops by itself after the duration or the request cap.
//!
//! One driver ([`drive`]) serves every kind of load: `get` sends the same
//! request again and again; `orders` makes each request from the task and
//! sequence number (fresh idempotency keys) and counts the orders each
//! answer confirmed or rejected.

use crate::ClientError;
use crate::http_client::{Client, split_url};
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most requests one run sends, whatever the duration.
pub const LOADGEN_REQUESTS_MAX: u64 = 50_000_000;
/// Most concurrent connections.
pub const LOADGEN_CONCURRENCY_MAX: usize = 1_024;
/// Longest run, s.
pub const LOADGEN_DURATION_S_MAX: f64 = 3_600.0;

/// What a load run measured.
#[derive(Clone, Debug, Serialize)]
pub struct LoadReport {
    /// URL.
    pub url: String,
    /// Connections.
    pub concurrency: usize,
    /// Requests answered as expected (2xx; for orders also 422 rejected).
    pub ok: u64,
    /// Requests answered otherwise, or failed.
    pub errors: u64,
    /// Wall time, s.
    pub duration_s: f64,
    /// Answered requests per second.
    pub throughput_rps: f64,
    /// Latency percentiles, ms.
    pub p50_ms: f64,
    /// 90th percentile, ms.
    pub p90_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Slowest, ms.
    pub max_ms: f64,
    /// Orders per request (order loads only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orders_per_request: Option<usize>,
    /// Orders confirmed, durable (order loads only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orders_confirmed: Option<u64>,
    /// Orders rejected (out of stock...), durable too (order loads only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orders_rejected: Option<u64>,
    /// Orders confirmed per second (order loads only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orders_confirmed_per_s: Option<f64>,
}

/// One request of a load: method, path, body.
pub struct LoadRequest {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// Path and query.
    pub path: String,
    /// JSON body.
    pub body: Option<Vec<u8>>,
}

/// How an answer counts: `None` an error, else `(confirmed, rejected)` orders.
pub type Judge = fn(u16, &[u8]) -> Option<(u64, u64)>;

/// Sends `GET url` (or `POST url` with `body`) from `concurrency`
/// connections for `duration_s` seconds.
pub async fn run(
    url: &str,
    body: Option<Vec<u8>>,
    concurrency: usize,
    duration_s: f64,
) -> Result<LoadReport, ClientError> {
    let (_, path) = split_url(url).map_err(|e| ClientError::InvalidOption(e.to_string()))?;
    let method = if body.is_some() { "POST" } else { "GET" };
    let next = move |_: usize, _: u64| LoadRequest { method, path: path.clone(), body: body.clone() };
    let judge: Judge = |status, _| (200..300).contains(&status).then_some((0, 0));
    drive(url, None, concurrency, duration_s, next, judge).await
}

/// The driver: `next(task, sequence)` makes each request, `judge` reads each answer.
pub async fn drive(
    url: &str,
    token: Option<String>,
    concurrency: usize,
    duration_s: f64,
    next: impl Fn(usize, u64) -> LoadRequest + Send + Sync + 'static,
    judge: Judge,
) -> Result<LoadReport, ClientError> {
    if !(1..=LOADGEN_CONCURRENCY_MAX).contains(&concurrency) {
        return Err(ClientError::InvalidOption(format!(
            "--concurrency {concurrency} must be between 1 and {LOADGEN_CONCURRENCY_MAX}"
        )));
    }
    if !(duration_s > 0.0 && duration_s <= LOADGEN_DURATION_S_MAX) {
        return Err(ClientError::InvalidOption(format!(
            "--duration {duration_s} must be between 0 and {LOADGEN_DURATION_S_MAX} s"
        )));
    }
    let host = loopback_host(url)?;
    let deadline = Instant::now() + Duration::from_secs_f64(duration_s);
    let per_task_max = LOADGEN_REQUESTS_MAX / concurrency as u64;
    let next = Arc::new(next);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(concurrency);
    for task in 0..concurrency {
        let (host, next, token) = (host.clone(), next.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let (mut errors, mut confirmed, mut rejected) = (0u64, 0u64, 0u64);
            let Ok(client) = Client::connect(&host).await else {
                return (latencies, 1, 0, 0);
            };
            let mut client = client.with_token(token.as_deref());
            let mut sequence = 0u64;
            while Instant::now() < deadline && (latencies.len() as u64 + errors) < per_task_max {
                let request = next(task, sequence);
                sequence += 1;
                let sent = Instant::now();
                match client.request(request.method, &request.path, request.body.as_deref()).await {
                    Ok((status, body)) => match judge(status, &body) {
                        Some((c, r)) => {
                            latencies.push(sent.elapsed().as_micros() as u64);
                            confirmed += c;
                            rejected += r;
                        }
                        None => errors += 1,
                    },
                    Err(_) => {
                        errors += 1;
                        match Client::connect(&host).await {
                            Ok(fresh) => client = fresh.with_token(token.as_deref()),
                            Err(_) => break,
                        }
                    }
                }
            }
            (latencies, errors, confirmed, rejected)
        }));
    }
    let mut latencies = Vec::new();
    let (mut errors, mut confirmed, mut rejected) = (0, 0, 0);
    for task in tasks {
        let (mut l, e, c, r) = task.await.map_err(|e| ClientError::Refused(format!("load task failed: {e}")))?;
        latencies.append(&mut l);
        errors += e;
        confirmed += c;
        rejected += r;
    }
    let duration = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let percentile = |q: f64| {
        if latencies.is_empty() {
            return 0.0;
        }
        let index = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[index] as f64 / 1_000.0
    };
    let orders = confirmed + rejected > 0;
    Ok(LoadReport {
        url: url.to_string(),
        concurrency,
        ok: latencies.len() as u64,
        errors,
        duration_s: duration,
        throughput_rps: latencies.len() as f64 / duration,
        p50_ms: percentile(0.5),
        p90_ms: percentile(0.9),
        p99_ms: percentile(0.99),
        max_ms: latencies.last().map_or(0.0, |&l| l as f64 / 1_000.0),
        orders_per_request: None,
        orders_confirmed: orders.then_some(confirmed),
        orders_rejected: orders.then_some(rejected),
        orders_confirmed_per_s: orders.then_some(confirmed as f64 / duration),
    })
}

fn loopback_host(url: &str) -> Result<String, ClientError> {
    let (host, _) = split_url(url).map_err(|e| ClientError::InvalidOption(e.to_string()))?;
    if !(host.starts_with("127.") || host.starts_with("localhost") || host.starts_with("[::1]")) {
        return Err(ClientError::InvalidOption(format!("{host}: the load generator only targets loopback addresses")));
    }
    Ok(host)
}

/// Options of `crowdtwin loadgen orders`.
#[derive(Clone, Debug)]
pub struct OrderLoad {
    /// The service's base URL, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    /// Seconds to run.
    pub duration_s: f64,
    /// Connections.
    pub concurrency: usize,
    /// Orders per request: 1 uses `POST /v1/orders`, more `POST /v1/orders/batch`.
    pub batch: usize,
    /// Bearer token (customer; operator for `restock_units`).
    pub token: Option<String>,
    /// Units to add to every item of every shop before the run (operator), so the run measures confirmations.
    pub restock_units: Option<u32>,
}

fn counted_after(body: &[u8], field: &str) -> Option<u64> {
    let at = body.windows(field.len()).position(|w| w == field.as_bytes())? + field.len();
    let digits: Vec<u8> = body[at..].iter().copied().take_while(u8::is_ascii_digit).collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

/// `crowdtwin loadgen orders`: orders of one unit of an item, cycling over
/// every shop and item the service sells, each with a fresh idempotency key.
pub async fn orders(load: &OrderLoad) -> Result<LoadReport, ClientError> {
    if !(1..=crowdtwin_wire::ORDER_BATCH_MAX).contains(&load.batch) {
        return Err(ClientError::InvalidOption(format!("--batch {} must be between 1 and 10000", load.batch)));
    }
    let base = load.url.trim_end_matches('/').to_string();
    let host = loopback_host(&base)?;
    let client = Client::connect(&host)
        .await
        .map_err(|e| ClientError::Connect { url: base.to_string(), reason: e.to_string() })?;
    let mut client = client.with_token(load.token.as_deref());
    let (status, body) = client.request("GET", "/v1/shops", None).await?;
    if status != 200 {
        return Err(ClientError::Refused(format!(
            "{base}/v1/shops answered {status}: {}",
            String::from_utf8_lossy(&body)
        )));
    }
    let shops: Vec<crowdtwin_wire::ShopStock> =
        serde_json::from_slice(&body).map_err(|e| ClientError::Refused(format!("{base}/v1/shops: {e}")))?;
    let mut pairs = Vec::new();
    for shop in &shops {
        for item in &shop.items {
            // JSON-quoted once, pasted into every body.
            let quoted = |text: &str| serde_json::to_string(text).expect("a string serialises");
            pairs.push((quoted(&shop.shop), quoted(&item.item)));
        }
        if let Some(units) = load.restock_units {
            let lines: Vec<_> =
                shop.items.iter().map(|i| serde_json::json!({"item": i.item, "quantity": units})).collect();
            if lines.is_empty() {
                continue;
            }
            let restock = serde_json::to_vec(&serde_json::json!({ "items": lines })).expect("JSON");
            let (status, body) =
                client.request("POST", &format!("/v1/shops/{}/restock", shop.shop), Some(&restock)).await?;
            if status != 200 {
                return Err(ClientError::Refused(format!(
                    "restocking {} answered {status}: {}",
                    shop.shop,
                    String::from_utf8_lossy(&body)
                )));
            }
        }
    }
    if pairs.is_empty() {
        return Err(ClientError::Refused(format!("{base} sells nothing: no shop declares items")));
    }
    // Keys unique across runs against the same store: the run's start time.
    let run = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros());
    let batch = load.batch;
    let next = move |task: usize, sequence: u64| {
        let mut body = Vec::with_capacity(batch * 110 + 16);
        if batch > 1 {
            body.extend_from_slice(b"{\"orders\":[");
        }
        for i in 0..batch {
            let (shop, item) = &pairs[(sequence as usize * batch + i + task) % pairs.len()];
            if i > 0 {
                body.push(b',');
            }
            use std::io::Write;
            let _ = write!(
                body,
                r#"{{"idempotency_key":"lg-{run}-{task}-{sequence}-{i}","shop":{shop},"items":[{{"item":{item},"quantity":1}}]}}"#
            );
        }
        if batch > 1 {
            body.extend_from_slice(b"]}");
        }
        let path = if batch > 1 { "/v1/orders/batch" } else { "/v1/orders" };
        LoadRequest { method: "POST", path: path.to_string(), body: Some(body) }
    };
    let judge: Judge = |status, body| match status {
        201 | 200 if body.starts_with(b"{\"confirmed\":") => {
            Some((counted_after(body, "\"confirmed\":")?, counted_after(body, "\"rejected\":")?))
        }
        201 | 200 => Some((1, 0)),
        422 => Some((0, 1)),
        _ => None,
    };
    let mut report = drive(&base, load.token.clone(), load.concurrency, load.duration_s, next, judge).await?;
    report.orders_per_request = Some(batch);
    report.orders_confirmed.get_or_insert(0);
    report.orders_rejected.get_or_insert(0);
    report.orders_confirmed_per_s.get_or_insert(0.0);
    Ok(report)
}
