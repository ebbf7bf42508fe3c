//! Forecasting real pedestrian counts: each sensor of a counts file is a
//! place of a count-only site. What the twin needs is learned from the
//! training part only: a weekday x hour profile per sensor, and how the
//! anomaly (log count minus log profile) carries over from one hour to the
//! next (an AR(1) on the anomaly, the count-only form of the twin's
//! assimilation). The rest is replayed hour by hour as live observations;
//! at every hour the twin forecasts `horizon` hours ahead, with P10/P90
//! from the quantiles of its own forecast errors in training.

use crate::LiveError;
use serde::Serialize;
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::path::Path;

/// Largest counts file read, bytes.
pub const COUNTS_FILE_BYTES_MAX: u64 = 512 * 1024 * 1024;
/// Bad rows listed in full in the report (all are counted).
pub const BAD_ROWS_LISTED_MAX: usize = 100;

/// Hours since 1970-01-01T00:00 of a date `YYYY-MM-DD` (its midnight) or a
/// date-time `YYYY-MM-DDTHH:00`.
pub fn parse_date_or_hour(text: &str) -> Result<i64, String> {
    let hour = if text.contains('T') { parse_hour(text) } else { parse_hour(&format!("{text}T00:00")) };
    hour.map_err(|_| format!("`{text}` is neither a date YYYY-MM-DD nor a date-time YYYY-MM-DDTHH:00"))
}

/// Hours since 1970-01-01T00:00 of an ISO `YYYY-MM-DDTHH:MM` (minutes must be 00).
pub fn parse_hour(text: &str) -> Result<i64, String> {
    let bad = || format!("`{text}` is not a timestamp YYYY-MM-DDTHH:00");
    let (date, time) = text.split_once('T').ok_or_else(bad)?;
    let parts: Vec<&str> = date.split('-').collect();
    let [year, month, day] = parts.as_slice() else { return Err(bad()) };
    let (year, month, day): (i64, i64, i64) =
        (year.parse().map_err(|_| bad())?, month.parse().map_err(|_| bad())?, day.parse().map_err(|_| bad())?);
    let (hour, minute) = time.split_once(':').ok_or_else(bad)?;
    let (hour, minute): (i64, i64) = (hour.parse().map_err(|_| bad())?, minute.parse().map_err(|_| bad())?);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&month)
        || day < 1
        || day > month_days[(month - 1) as usize]
        || !(0..24).contains(&hour)
        || minute != 0
    {
        return Err(bad());
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Ok(days * 24 + hour)
}

/// Day of week (0 = Monday) and hour of day of an hour number.
fn weekday_hour(hour: i64) -> (usize, usize) {
    let days = hour.div_euclid(24);
    // 1970-01-01 was a Thursday (3 with Monday = 0).
    (((days + 3).rem_euclid(7)) as usize, hour.rem_euclid(24) as usize)
}

/// A parsed counts file.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    /// Sensor names, sorted.
    pub sensors: Vec<String>,
    /// Per sensor: hour number -> count.
    pub series: Vec<BTreeMap<i64, f64>>,
    /// `(line, problem)` for every row skipped.
    pub bad_rows: Vec<(usize, String)>,
}

/// Reads `timestamp,sensor,count` rows. Bad rows (missing or negative
/// count, unknown timestamp, a later duplicate of a sensor-hour: the first
/// row wins) are skipped and
/// reported with their line numbers; the rest is used.
pub fn read_counts(path: &Path) -> Result<Counts, LiveError> {
    let name = path.display().to_string();
    let size = std::fs::metadata(path).map_err(|e| LiveError::file(&name, e))?.len();
    if size > COUNTS_FILE_BYTES_MAX {
        return Err(LiveError::file(&name, format!("larger than {COUNTS_FILE_BYTES_MAX} bytes")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| LiveError::file(&name, e))?;
    parse_counts(&text, &name)
}

/// [`read_counts`] on text.
pub fn parse_counts(text: &str, name: &str) -> Result<Counts, LiveError> {
    let mut lines = text.lines().enumerate();
    let header = lines.next().map(|l| l.1.trim().to_lowercase()).unwrap_or_default();
    let columns: Vec<&str> = header.split(',').map(str::trim).collect();
    let position = |column: &str| columns.iter().position(|c| *c == column);
    let (Some(t), Some(s), Some(c)) = (position("timestamp"), position("sensor"), position("count")) else {
        return Err(LiveError::file(format!("{name}:1"), "the header must name the columns timestamp,sensor,count"));
    };
    let mut by_sensor: BTreeMap<String, BTreeMap<i64, f64>> = BTreeMap::new();
    let mut bad_rows = Vec::new();
    for (index, line) in lines {
        let number = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let field = |i: usize| fields.get(i).copied().unwrap_or("");
        let hour = match parse_hour(field(t)) {
            Ok(hour) => hour,
            Err(problem) => {
                bad_rows.push((number, problem));
                continue;
            }
        };
        let sensor = field(s);
        if sensor.is_empty() {
            bad_rows.push((number, "no sensor".into()));
            continue;
        }
        let count: f64 = match field(c).parse::<f64>() {
            Ok(count) if count.is_finite() && count >= 0.0 => count,
            _ => {
                bad_rows.push((number, format!("count `{}` is not a number >= 0", field(c))));
                continue;
            }
        };
        // The first row for a sensor-hour wins; a later one is skipped and
        // reported with its line.
        match by_sensor.entry(sensor.to_string()).or_default().entry(hour) {
            Entry::Vacant(slot) => {
                slot.insert(count);
            }
            Entry::Occupied(_) => {
                bad_rows.push((number, format!("duplicate of an earlier row for {sensor} at {}: skipped", field(t))))
            }
        }
    }
    if by_sensor.is_empty() {
        return Err(LiveError::file(name, "no usable rows"));
    }
    let (sensors, series) = by_sensor.into_iter().unzip();
    Ok(Counts { sensors, series, bad_rows })
}

/// What `forecast-eval --counts` prints.
#[derive(Clone, Debug, Serialize)]
pub struct CountsReport {
    /// Sensors.
    pub sensors: usize,
    /// Hours forecast (per sensor, summed).
    pub hours: usize,
    /// Horizon, hours.
    pub horizon_h: u32,
    /// Mean absolute error of the twin, persons/hour.
    pub mae_twin: f64,
    /// Persistence: the last count holds.
    pub mae_persistence: f64,
    /// Seasonal naive: the same weekday and hour one week earlier.
    pub mae_seasonal_naive: f64,
    /// Share of counts inside the twin's P10-P90 band.
    pub coverage_p10_p90: f64,
    /// Rows skipped.
    pub bad_rows: usize,
    /// The first skipped rows: `(line, problem)`.
    pub bad_rows_listed: Vec<(usize, String)>,
}

struct SensorModel {
    profile: [[f64; 24]; 7],
    phi: f64,
    error_p10: f64,
    error_p90: f64,
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let position = q * (sorted.len() - 1) as f64;
    let (low, high) = (position.floor() as usize, position.ceil() as usize);
    sorted[low] + (sorted[high] - sorted[low]) * (position - low as f64)
}

fn learn(series: &BTreeMap<i64, f64>, train_until: i64, horizon: i64) -> Option<SensorModel> {
    let training: Vec<(i64, f64)> = series.range(..train_until).map(|(&h, &c)| (h, c)).collect();
    let mut sums = [[(0.0f64, 0u32); 24]; 7];
    for &(hour, count) in &training {
        let (d, h) = weekday_hour(hour);
        sums[d][h].0 += (count + 1.0).ln();
        sums[d][h].1 += 1;
    }
    if sums.iter().flatten().any(|s| s.1 == 0) {
        return None;
    }
    let profile = sums.map(|day| day.map(|(s, n)| s / n as f64));
    let anomaly =
        |hour: i64| series.get(&hour).map(|&c| (c + 1.0).ln() - profile[weekday_hour(hour).0][weekday_hour(hour).1]);
    // AR(1) on the anomaly, from training pairs `horizon` hours apart.
    let pairs: Vec<(f64, f64)> = training
        .iter()
        .filter_map(|&(h, _)| Some((anomaly(h)?, anomaly(h + horizon).filter(|_| h + horizon < train_until)?)))
        .collect();
    let (sxy, sxx) = pairs.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + x * y, b + x * x));
    let phi = if sxx > 0.0 { (sxy / sxx).clamp(0.0, 1.0) } else { 0.0 };
    let mut errors: Vec<f64> = pairs.iter().map(|(x, y)| y - phi * x).collect();
    errors.sort_by(f64::total_cmp);
    Some(SensorModel { profile, phi, error_p10: quantile(&errors, 0.1), error_p90: quantile(&errors, 0.9) })
}

/// Learns from data before `train_until` (an hour number) and forecasts the
/// rest `horizon_h` hours ahead, hour by hour.
pub fn evaluate(counts: &Counts, train_until: i64, horizon_h: u32) -> Result<CountsReport, LiveError> {
    if !(1..=168).contains(&horizon_h) {
        return Err(LiveError::InvalidOption(format!("--horizon {horizon_h}h must be between 1h and 168h")));
    }
    let horizon = horizon_h as i64;
    let (mut twin, mut persistence, mut seasonal, mut covered, mut hours) = (0.0, 0.0, 0.0, 0usize, 0usize);
    let mut learned = 0;
    for series in &counts.series {
        let Some(model) = learn(series, train_until, horizon) else { continue };
        learned += 1;
        let profile = |hour: i64| {
            let (d, h) = weekday_hour(hour);
            model.profile[d][h]
        };
        for (&now, &count) in series.range(train_until..) {
            let target = now + horizon;
            let (Some(&truth), Some(&week_ago)) = (series.get(&target), series.get(&(target - 168))) else { continue };
            let anomaly = (count + 1.0).ln() - profile(now);
            let center = profile(target) + model.phi * anomaly;
            let forecast = center.exp() - 1.0;
            let (p10, p90) = ((center + model.error_p10).exp() - 1.0, (center + model.error_p90).exp() - 1.0);
            twin += (forecast - truth).abs();
            persistence += (count - truth).abs();
            seasonal += (week_ago - truth).abs();
            covered += usize::from(p10 <= truth && truth <= p90);
            hours += 1;
        }
    }
    if learned == 0 || hours == 0 {
        return Err(LiveError::Unsupported(
            "nothing to score: every sensor needs each weekday and hour in the training part, and hours after it"
                .into(),
        ));
    }
    let n = hours as f64;
    Ok(CountsReport {
        sensors: learned,
        hours,
        horizon_h,
        mae_twin: twin / n,
        mae_persistence: persistence / n,
        mae_seasonal_naive: seasonal / n,
        coverage_p10_p90: covered as f64 / n,
        bad_rows: counts.bad_rows.len(),
        bad_rows_listed: counts.bad_rows.iter().take(BAD_ROWS_LISTED_MAX).cloned().collect(),
    })
}
