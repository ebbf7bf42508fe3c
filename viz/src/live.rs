//! Follows the live service (`crowdtwin serve`): its wire types (shared with
//! the service through `crowdtwin-wire`), a small blocking HTTP/1.1 GET, and a poller thread that sends
//! each state and forecast to the viewer over a bounded channel.

use crate::VizError;
use crate::frame::{Alert, ElementFrame, Frame, los_from_letter};
use crate::site::Site;
use crowdtwin_sim::model::Los;
use crowdtwin_sim::scenario::parse_clock;
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

/// Largest response read, bytes.
pub const RESPONSE_BYTES_MAX: u64 = 64 * 1024 * 1024;
/// Connect, read and write timeout of one request, s.
pub const REQUEST_TIMEOUT_S: u64 = 5;
/// Polls waiting for the viewer; the poller skips a poll when it is full.
pub const UPDATES_QUEUED_MAX: usize = 4;
/// States kept for the inspector's time series.
pub const HISTORY_STATES_MAX: usize = 720;

/// The service's answers, as the service writes them (`crowdtwin-wire`):
/// `GET /v1/state`, `GET /v1/forecast` and its alerts.
pub use crowdtwin_wire::{Alert as ForecastAlert, ElementForecast, ElementState, Forecast, MinuteQuantiles, TwinState};

/// What one poll brought.
#[derive(Clone, Debug, PartialEq)]
pub enum Update {
    /// The current state, and the latest forecast if there is one yet.
    Snapshot(Box<TwinState>, Option<Box<Forecast>>),
    /// The service could not be read.
    Failed(String),
}

/// Splits `http://host:port[/prefix]` into `(host:port, prefix)`.
pub fn split_url(url: &str) -> Result<(String, String), VizError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| VizError::Input(format!("{url}: only http:// URLs are supported")))?;
    let (host, prefix) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if host.is_empty() {
        return Err(VizError::Input(format!("{url}: no host")));
    }
    Ok((host.to_string(), prefix.trim_end_matches('/').to_string()))
}

/// `GET http://host{path}` on a fresh connection: the body of a 200 answer.
pub fn get(host: &str, path: &str) -> Result<Vec<u8>, VizError> {
    let timeout = Duration::from_secs(REQUEST_TIMEOUT_S);
    let failed = |e: &dyn std::fmt::Display| VizError::Live(format!("GET http://{host}{path}: {e}"));
    let address = host.to_socket_addrs().map_err(|e| failed(&e))?.next().ok_or_else(|| failed(&"no address"))?;
    let mut stream = TcpStream::connect_timeout(&address, timeout).map_err(|e| failed(&e))?;
    stream.set_read_timeout(Some(timeout)).map_err(|e| failed(&e))?;
    stream.set_write_timeout(Some(timeout)).map_err(|e| failed(&e))?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\nConnection: close\r\n\r\n")
        .map_err(|e| failed(&e))?;
    let mut response = Vec::new();
    stream.take(RESPONSE_BYTES_MAX).read_to_end(&mut response).map_err(|e| failed(&e))?;
    let (status, body) = parse_response(&response).map_err(|e| failed(&e))?;
    if status != 200 {
        return Err(failed(&format!("status {status}: {}", String::from_utf8_lossy(body).trim())));
    }
    Ok(body.to_vec())
}

/// Splits a whole HTTP/1.1 response into its status and body (the body cut
/// to its Content-Length when there is one; chunked bodies are refused).
pub fn parse_response(response: &[u8]) -> Result<(u16, &[u8]), String> {
    let end = response.windows(4).position(|w| w == b"\r\n\r\n").ok_or("response without a blank line")?;
    let head = std::str::from_utf8(&response[..end]).map_err(|_| "response head is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or(format!("bad status line {status_line:?}"))?;
    let mut body = &response[end + 4..];
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        if name.eq_ignore_ascii_case("transfer-encoding") && value.trim().eq_ignore_ascii_case("chunked") {
            return Err("chunked responses are not supported".into());
        }
        if name.eq_ignore_ascii_case("content-length") {
            let length: usize = value.trim().parse().map_err(|_| format!("bad Content-Length {value:?}"))?;
            body = body.get(..length).ok_or(format!("body shorter than its Content-Length {length}"))?;
        }
    }
    Ok((status, body))
}

fn get_json<T: serde::de::DeserializeOwned>(host: &str, path: &str) -> Result<T, VizError> {
    let body = get(host, path)?;
    serde_json::from_slice(&body).map_err(|e| VizError::Live(format!("GET {path}: {e}")))
}

/// One poll: the state, and the forecast once the service has one.
pub fn poll(host: &str, prefix: &str) -> Update {
    match get_json::<TwinState>(host, &format!("{prefix}/v1/state")) {
        Ok(state) => {
            Update::Snapshot(Box::new(state), get_json(host, &format!("{prefix}/v1/forecast")).ok().map(Box::new))
        }
        Err(e) => Update::Failed(e.to_string()),
    }
}

/// Polls `url` every `period` on a background thread until the receiver is
/// dropped.
pub fn spawn_poller(url: &str, period: Duration) -> Result<Receiver<Update>, VizError> {
    let (host, prefix) = split_url(url)?;
    let (sender, receiver): (SyncSender<Update>, Receiver<Update>) = sync_channel(UPDATES_QUEUED_MAX);
    std::thread::Builder::new()
        .name("live-poller".into())
        .spawn(move || {
            loop {
                match sender.try_send(poll(&host, &prefix)) {
                    Ok(()) | Err(TrySendError::Full(_)) => {}
                    Err(TrySendError::Disconnected(_)) => return,
                }
                std::thread::sleep(period);
            }
        })
        .map_err(|e| VizError::Live(format!("cannot start the poller: {e}")))?;
    Ok(receiver)
}

/// What the viewer knows of the live twin.
#[derive(Clone, Debug)]
pub struct LiveData {
    /// The site.
    pub site: Site,
    /// The latest state.
    pub state: Option<TwinState>,
    /// The latest forecast.
    pub forecast: Option<Forecast>,
    /// Past states, oldest first: `(clock s, occupancy per element)`.
    pub history: VecDeque<(f64, Vec<f64>)>,
    /// The last poll's error, cleared by a good poll.
    pub error: Option<String>,
}

impl LiveData {
    /// Nothing known yet.
    pub fn new(site: Site) -> LiveData {
        LiveData { site, state: None, forecast: None, history: VecDeque::new(), error: None }
    }

    /// Takes in one poll.
    pub fn apply(&mut self, update: Update) {
        match update {
            Update::Snapshot(state, forecast) => {
                let mut occupancy = vec![0.0; self.site.element_count()];
                for element in &state.elements {
                    if let Some(i) = self.site.element_index(&element.id) {
                        occupancy[i] = element.people_mean;
                    }
                }
                let clock_s = self.site.start_clock_s as f64 + state.time_s as f64;
                if self.history.back().is_none_or(|(t, _)| *t < clock_s) {
                    if self.history.len() == HISTORY_STATES_MAX {
                        self.history.pop_front();
                    }
                    self.history.push_back((clock_s, occupancy));
                }
                self.state = Some(*state);
                if forecast.is_some() {
                    self.forecast = forecast.map(|f| *f);
                }
                self.error = None;
            }
            Update::Failed(error) => self.error = Some(error),
        }
    }

    /// Minutes of forecast available.
    pub fn horizon_min(&self) -> u32 {
        self.forecast.as_ref().map_or(0, |f| f.horizon_min)
    }

    /// The scene `minutes_ahead` minutes from now: the state at 0, the
    /// forecast's median (with its 90th percentile as `los_p90`) after.
    pub fn frame(&self, minutes_ahead: u32) -> Option<Frame> {
        let state = self.state.as_ref()?;
        let site = &self.site;
        let mut elements: Vec<ElementFrame> =
            (0..site.element_count()).map(|e| ElementFrame::at_density(site, e, 0.0, 0.0)).collect();
        let now_s = site.start_clock_s as f64 + state.time_s as f64;
        let forecast = self.forecast.as_ref().filter(|_| minutes_ahead > 0);
        let Some(forecast) = forecast else {
            for element in &state.elements {
                let Some(i) = site.element_index(&element.id) else { continue };
                elements[i] = ElementFrame::at_density(site, i, element.people_mean, element.density_mean);
                elements[i].los = los_from_letter(&element.los).unwrap_or(elements[i].los);
            }
            let alerts = self.alerts();
            return Some(Frame { clock_s: now_s, elements, alerts });
        };
        let minute = minutes_ahead.min(forecast.horizon_min);
        for element in &forecast.elements {
            let Some(i) = site.element_index(&element.id) else { continue };
            let Some(m) = element.minutes.get(minute as usize - 1) else { continue };
            elements[i] = ElementFrame::at_density(site, i, m.occupancy_p50, m.density_p50);
            elements[i].los_p90 = Some(Los::from_density(m.density_p90, site.is_queueing_area(i)));
        }
        let clock_s = site.start_clock_s as f64 + forecast.issued_at_s as f64 + 60.0 * (minute - 1) as f64;
        Some(Frame { clock_s, elements, alerts: self.alerts() })
    }

    /// The forecast's alerts, soonest first.
    pub fn alerts(&self) -> Vec<Alert> {
        let Some(forecast) = &self.forecast else { return Vec::new() };
        forecast
            .alerts
            .iter()
            .filter_map(|a| {
                let element = self.site.element_index(&a.place)?;
                Some(Alert {
                    element,
                    level: los_from_letter(&a.level)?,
                    at: a.at.clone(),
                    detail: format!(
                        "{} in {} min, p = {:.2}, P90 {:.2} P/m²",
                        self.site.element_name(element),
                        a.minutes_ahead,
                        a.probability,
                        a.density_p90
                    ),
                })
            })
            .collect()
    }

    /// Element `element`'s forecast median and 90th percentile of people,
    /// per minute: `(clock s, p50, p90)`.
    pub fn forecast_series(&self, element: usize) -> Vec<(f64, f64, f64)> {
        let Some(forecast) = &self.forecast else { return Vec::new() };
        let id = self.site.element_id(element);
        let Some(series) = forecast.elements.iter().find(|e| e.id == id) else { return Vec::new() };
        series
            .minutes
            .iter()
            .map(|m| {
                let clock_s = parse_clock(&m.clock).map_or(0.0, f64::from);
                (clock_s, m.occupancy_p50, m.occupancy_p90)
            })
            .collect()
    }
}
