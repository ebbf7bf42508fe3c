//! The twin's answers: forecasts, alerts and its current state.

use serde::{Deserialize, Serialize};

/// Quantiles of one element in one minute of the horizon.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MinuteQuantiles {
    /// Minute of the horizon, 1-based.
    pub minute: u32,
    /// Clock time the minute starts.
    pub clock: String,
    /// People present (mean over the minute), 10th percentile over the ensemble.
    pub occupancy_p10: f64,
    /// Median.
    pub occupancy_p50: f64,
    /// 90th percentile.
    pub occupancy_p90: f64,
    /// Median density, P/m².
    pub density_p50: f64,
    /// 90th-percentile density, P/m².
    pub density_p90: f64,
    /// Probability that the level of service is E or F.
    pub probability_los_e_or_worse: f64,
    /// People of the issued plans expected here (booked presence times the
    /// compliance share), already in the figures above; absent: none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub booked: f64,
}

fn is_zero(value: &f64) -> bool {
    *value == 0.0
}

/// The issued plans the twin counts as demand, and the share of visitors
/// who follow theirs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BookedPlans {
    /// Plans issued and booked so far.
    pub plans: u64,
    /// Share of visitors who follow their plan, in [0, 1]: the prior until
    /// counts at booked places have said enough, then learned from them.
    pub compliance: f64,
    /// Standard deviation of the learned share (the prior's before any count).
    pub compliance_sd: f64,
    /// Counts at booked places the share was learned from.
    pub compliance_counts: u64,
    /// Whether the share in use is learned (else the prior).
    pub compliance_learned: bool,
}

/// The forecast of one place or walkway.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ElementForecast {
    /// Place id or walkway id `from--to`.
    pub id: String,
    /// Place kind or "walkway".
    pub kind: String,
    /// Walkable area, m².
    pub area_m2: f64,
    /// One entry per minute of the horizon.
    pub minutes: Vec<MinuteQuantiles>,
}

/// A place forecast to reach level of service E or F.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Alert {
    /// Place or walkway id.
    pub place: String,
    /// Kind.
    pub kind: String,
    /// Clock time of the first minute at risk.
    pub at: String,
    /// Minutes ahead of the forecast's issue time.
    pub minutes_ahead: u32,
    /// Level of service at the 90th-percentile peak density ("E" or "F").
    pub level: String,
    /// Highest probability of E or F over the horizon.
    pub probability: f64,
    /// Highest 90th-percentile density, P/m².
    pub density_p90: f64,
}

/// A forecast of every place and walkway.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Forecast {
    /// Clock time it was issued at.
    pub issued_at: String,
    /// Simulation time it was issued at, s.
    pub issued_at_s: u64,
    /// Horizon, minutes.
    pub horizon_min: u32,
    /// Members.
    pub members: usize,
    /// Effective members (1 / sum of squared weights).
    pub effective_members: f64,
    /// Per element.
    pub elements: Vec<ElementForecast>,
    /// Alerts, soonest first.
    pub alerts: Vec<Alert>,
    /// The issued plans counted in it (see `MinuteQuantiles::booked`).
    #[serde(default)]
    pub booked: BookedPlans,
}

/// The current estimate of one element.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ElementState {
    /// Id.
    pub id: String,
    /// Kind.
    pub kind: String,
    /// Weighted mean of people present.
    pub people_mean: f64,
    /// 10th percentile.
    pub people_p10: f64,
    /// 90th percentile.
    pub people_p90: f64,
    /// Mean density, P/m².
    pub density_mean: f64,
    /// Level of service at the mean density.
    pub los: String,
}

/// The twin's current estimate (`GET /v1/state`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TwinState {
    /// Clock time.
    pub clock: String,
    /// Simulation time, s.
    pub time_s: u64,
    /// Members.
    pub members: usize,
    /// Effective members.
    pub effective_members: f64,
    /// Resamplings so far.
    pub resamplings: u64,
    /// Weighted mean of the learned arrival scale (1 = as planned).
    pub arrival_scale: f64,
    /// Weighted standard deviation of the arrival scale over the members.
    pub arrival_scale_spread: f64,
    /// Weighted mean of the learned walking speed factor.
    pub walk_speed_factor: f64,
    /// Weighted mean of the learned dwell factor.
    pub dwell_factor: f64,
    /// Weighted mean of the learned unplanned walk-ins, as a share of the
    /// planned visitors.
    pub unplanned_walk_in_share: f64,
    /// Observation totals.
    pub observations: ObservationTotals,
    /// The issued plans counted as demand and the learned compliance share.
    #[serde(default)]
    pub booked: BookedPlans,
    /// Per element.
    pub elements: Vec<ElementState>,
}

/// Totals of what the twin has taken in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ObservationTotals {
    /// Observations accepted.
    pub accepted: u64,
    /// Duplicates ignored.
    pub duplicates: u64,
    /// Late counts kept out of the filter.
    pub late: u64,
    /// Counts used to weigh the ensemble.
    pub assimilated: u64,
    /// Events (delays, gate changes) applied.
    pub events: u64,
}
