//! `crowdtwin loadgen`: a closed-loop HTTP load generator for loopback
//! servers. Each of `concurrency` connections sends requests back to back
//! for `duration`; latencies are exact (every request timed), percentiles
//! by sorting. It stops by itself after the duration or the request cap.

use crate::TwinError;
use crate::http_client::{Client, split_url};
use serde::Serialize;
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
    /// Requests answered 2xx.
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
}

/// Sends `GET url` (or `POST url` with `body`) from `concurrency`
/// connections for `duration_s` seconds.
pub async fn run(
    url: &str,
    body: Option<Vec<u8>>,
    concurrency: usize,
    duration_s: f64,
) -> Result<LoadReport, TwinError> {
    if !(1..=LOADGEN_CONCURRENCY_MAX).contains(&concurrency) {
        return Err(TwinError::Input(format!(
            "--concurrency {concurrency} must be between 1 and {LOADGEN_CONCURRENCY_MAX}"
        )));
    }
    if !(duration_s > 0.0 && duration_s <= LOADGEN_DURATION_S_MAX) {
        return Err(TwinError::Input(format!(
            "--duration {duration_s} must be between 0 and {LOADGEN_DURATION_S_MAX} s"
        )));
    }
    let (host, path) = split_url(url).map_err(|e| TwinError::Input(e.to_string()))?;
    if !(host.starts_with("127.") || host.starts_with("localhost") || host.starts_with("[::1]")) {
        return Err(TwinError::Input(format!("{host}: the load generator only targets loopback addresses")));
    }
    let deadline = Instant::now() + Duration::from_secs_f64(duration_s);
    let per_task_max = LOADGEN_REQUESTS_MAX / concurrency as u64;
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (host, path, body) = (host.clone(), path.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let Ok(mut client) = Client::connect(&host).await else {
                return (latencies, 1);
            };
            while Instant::now() < deadline && (latencies.len() as u64 + errors) < per_task_max {
                let sent = Instant::now();
                let method = if body.is_some() { "POST" } else { "GET" };
                match client.request(method, &path, body.as_deref()).await {
                    Ok((status, _)) if (200..300).contains(&status) => {
                        latencies.push(sent.elapsed().as_micros() as u64)
                    }
                    Ok(_) => errors += 1,
                    Err(_) => {
                        errors += 1;
                        match Client::connect(&host).await {
                            Ok(fresh) => client = fresh,
                            Err(_) => break,
                        }
                    }
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (mut l, e) = task.await.map_err(|e| TwinError::Input(format!("load task failed: {e}")))?;
        latencies.append(&mut l);
        errors += e;
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
    })
}
