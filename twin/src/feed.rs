//! Observation files: `crowdtwin observe` writes what sensors would report
//! on a truth scenario (NDJSON, one observation per line); `crowdtwin
//! replay` sends such a file to a running twin, paced by the twin's clock.

use crate::TwinError;
use crate::eval::{SensorConfig, TruthFeed};
use crate::http_client::{Client, split_url};
use crate::live::Observation;
use crowdtwin_sim::scenario::{Scenario, parse_clock};
use std::io::{BufRead, Write};
use std::path::Path;

/// Observations per request when replaying.
pub const REPLAY_BATCH_MAX: usize = 1_000;
/// Replay sends observations up to this far ahead of the twin's clock, s.
pub const REPLAY_LEAD_S: u64 = 120;

/// Writes the observations of a truth run to `out` (NDJSON). Returns how many.
pub fn observe(truth: Scenario, seed: u64, sensors: SensorConfig, out: &Path) -> Result<usize, TwinError> {
    let end = truth.end();
    let mut feed = TruthFeed::new(truth, seed, sensors);
    let file = std::fs::File::create(out).map_err(|e| TwinError::Input(format!("{}: {e}", out.display())))?;
    let mut writer = std::io::BufWriter::new(file);
    let mut count = 0;
    for observation in feed.observe_until(end) {
        serde_json::to_writer(&mut writer, &observation).map_err(std::io::Error::from)?;
        writeln!(writer)?;
        count += 1;
    }
    writer.flush()?;
    Ok(count)
}

/// Reads an NDJSON observation file; a bad line is an error naming it.
pub fn read_ndjson(path: &Path) -> Result<Vec<Observation>, TwinError> {
    let file = std::fs::File::open(path).map_err(|e| TwinError::Input(format!("{}: {e}", path.display())))?;
    let mut out = Vec::new();
    for (number, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| TwinError::Input(format!("{}:{}: {e}", path.display(), number + 1)))?;
        if line.trim().is_empty() {
            continue;
        }
        let observation: Observation = serde_json::from_str(&line)
            .map_err(|e| TwinError::Input(format!("{}:{}: not an observation: {e}", path.display(), number + 1)))?;
        out.push(observation);
    }
    Ok(out)
}

fn time_of(observation: &Observation) -> u32 {
    let text = match observation {
        Observation::PlaceCount { at, .. }
        | Observation::SessionDelay { at, .. }
        | Observation::GateStatus { at, .. }
        | Observation::TransitArrival { at, .. }
        | Observation::Order { at, .. } => at,
        Observation::GateEntries { to, .. } => to,
    };
    parse_clock(text).unwrap_or(0)
}

/// Sends `observations` to the twin at `url`, in time order, never more
/// than [`REPLAY_LEAD_S`] ahead of its clock. Returns (accepted, duplicates, late).
pub async fn replay(
    observations: Vec<Observation>,
    url: &str,
    mut progress: impl FnMut(usize, usize),
) -> Result<(u64, u64, u64), TwinError> {
    let (host, _) = split_url(url).map_err(|e| TwinError::Input(e.to_string()))?;
    let mut client = Client::connect(&host).await.map_err(|e| TwinError::Input(format!("{url}: {e}")))?;
    let mut observations = observations;
    observations.sort_by_key(time_of);
    let (mut accepted, mut duplicates, mut late) = (0, 0, 0);
    let total = observations.len();
    let mut sent = 0;
    let mut start_clock = None;
    while sent < total {
        let (status, body) = client.request("GET", "/v1/state", None).await?;
        if status != 200 {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            continue;
        }
        let state: serde_json::Value = serde_json::from_slice(&body).map_err(std::io::Error::from)?;
        let twin_s = state["time_s"].as_u64().unwrap_or(0);
        let clock = parse_clock(state["clock"].as_str().unwrap_or("00:00")).unwrap_or(0) as u64;
        let start = *start_clock.get_or_insert(clock - twin_s);
        let horizon = (start + twin_s + REPLAY_LEAD_S) as u32;
        let mut batch = Vec::new();
        while sent < total && batch.len() < REPLAY_BATCH_MAX && time_of(&observations[sent]) <= horizon {
            batch.push(observations[sent].clone());
            sent += 1;
        }
        if batch.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            continue;
        }
        let body = serde_json::to_vec(&batch).map_err(std::io::Error::from)?;
        let (status, response) = client.request("POST", "/v1/observations", Some(&body)).await?;
        if status != 200 {
            return Err(TwinError::Input(format!(
                "the twin refused a batch ({status}): {}",
                String::from_utf8_lossy(&response)
            )));
        }
        let report: serde_json::Value = serde_json::from_slice(&response).map_err(std::io::Error::from)?;
        accepted += report["accepted"].as_u64().unwrap_or(0);
        duplicates += report["duplicates"].as_u64().unwrap_or(0);
        late += report["late"].as_u64().unwrap_or(0);
        progress(sent, total);
    }
    Ok((accepted, duplicates, late))
}
