//! Scenario comparisons (`crowdtwin compare`): what `compare.json` holds,
//! and how an element's crowding changed, with the one palette of change
//! maps (the comparison's report and the viewer).

use serde::{Deserialize, Serialize};

/// One element's metric, base against variant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Place id, or `from--to` for a walkway.
    pub id: String,
    /// The metric (`peak_density_p_per_m2`, `minutes_at_los_e_or_f`,
    /// `total_queue_time_s` or `entries`).
    pub metric: String,
    /// Mean over the seeds in the base scenario.
    pub base_mean: f64,
    /// Mean over the seeds in the variant.
    pub variant_mean: f64,
    /// Mean paired difference, variant − base.
    pub delta: f64,
    /// Lower end of the 95% confidence interval of `delta`.
    pub ci_low: f64,
    /// Upper end.
    pub ci_high: f64,
    /// Two-sided p-value of the paired t-test (1 when every difference is 0).
    pub p_value: f64,
    /// Significant after false-discovery-rate control over all comparisons.
    pub significant: bool,
}

/// A whole comparison (`compare.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompareReport {
    /// The base scenario's name.
    pub base: String,
    /// The variant's name.
    pub variant: String,
    /// The seeds run, each in both scenarios.
    pub seeds: Vec<u64>,
    /// Elements present in only one of the two scenarios (not compared).
    pub unmatched: Vec<String>,
    /// Per element and metric, sorted by effect (significant first).
    pub elements: Vec<Comparison>,
}

/// The metrics that say how crowded an element was.
pub const CROWDING_METRICS: [&str; 2] = ["peak_density_p_per_m2", "minutes_at_los_e_or_f"];

/// How an element's crowding changed from base to variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Change {
    /// A crowding metric rose significantly.
    Rose,
    /// A crowding metric fell significantly and none rose.
    Fell,
    /// No change beyond noise.
    Same,
}

impl Change {
    /// Red, blue and grey, as red, green, blue bytes.
    pub fn colour_rgb(self) -> [u8; 3] {
        match self {
            Change::Rose => [0xd7, 0x30, 0x27],
            Change::Fell => [0x45, 0x75, 0xb4],
            Change::Same => [0xbd, 0xbd, 0xbd],
        }
    }

    /// [`Change::colour_rgb`] as `#rrggbb`.
    pub fn colour_hex(self) -> &'static str {
        match self {
            Change::Rose => "#d73027",
            Change::Fell => "#4575b4",
            Change::Same => "#bdbdbd",
        }
    }

    /// In words, for legends.
    pub fn label(self) -> &'static str {
        match self {
            Change::Rose => "crowding rose",
            Change::Fell => "crowding fell",
            Change::Same => "no change beyond noise",
        }
    }
}

impl CompareReport {
    /// How element `id`'s crowding changed: [`Change::Rose`] if a crowding
    /// metric ([`CROWDING_METRICS`]) rose significantly, else
    /// [`Change::Fell`] if one fell, else [`Change::Same`].
    pub fn crowding_change(&self, id: &str) -> Change {
        let crowding = self
            .elements
            .iter()
            .filter(|c| c.id == id && c.significant && CROWDING_METRICS.contains(&c.metric.as_str()));
        let mut change = Change::Same;
        for c in crowding {
            if c.delta > 0.0 {
                return Change::Rose;
            }
            change = Change::Fell;
        }
        change
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rise_wins_over_a_fall_and_only_significant_crowding_metrics_count() {
        let comparison = |id: &str, metric: &str, delta: f64, significant: bool| Comparison {
            id: id.into(),
            metric: metric.into(),
            base_mean: 1.0,
            variant_mean: 1.0 + delta,
            delta,
            ci_low: delta - 0.1,
            ci_high: delta + 0.1,
            p_value: if significant { 0.001 } else { 0.5 },
            significant,
        };
        let report = CompareReport {
            base: "base".into(),
            variant: "variant".into(),
            seeds: vec![1, 2, 3],
            unmatched: Vec::new(),
            elements: vec![
                comparison("a", "peak_density_p_per_m2", -0.5, true),
                comparison("a", "minutes_at_los_e_or_f", 3.0, true),
                comparison("b", "peak_density_p_per_m2", -0.5, true),
                comparison("c", "peak_density_p_per_m2", 2.0, false),
                comparison("c", "entries", 500.0, true),
            ],
        };
        assert_eq!(report.crowding_change("a"), Change::Rose);
        assert_eq!(report.crowding_change("b"), Change::Fell);
        assert_eq!(report.crowding_change("c"), Change::Same, "entries are not crowding; the rise is noise");
        assert_eq!(report.crowding_change("nowhere"), Change::Same);
        for change in [Change::Rose, Change::Fell, Change::Same] {
            let [r, g, b] = change.colour_rgb();
            assert_eq!(change.colour_hex(), format!("#{r:02x}{g:02x}{b:02x}"));
        }
        let text = serde_json::to_string(&report).unwrap();
        assert_eq!(serde_json::from_str::<CompareReport>(&text).unwrap(), report);
    }
}
