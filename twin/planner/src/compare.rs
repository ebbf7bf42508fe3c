//! `crowdtwin compare`: what a change to a scenario does, and whether it is
//! real or noise.
//!
//! Both scenarios run over the same `N` seeds (common random numbers: with
//! one seed every visitor, place and walkway draws from the same random
//! stream in both runs, so a difference comes from the change, not from
//! luck). Per element and metric the paired differences `variant − base`
//! give a mean, a 95% Student-t confidence interval and a p-value; because a
//! site has hundreds of elements and several metrics, a change is called
//! significant after Benjamini–Hochberg control of the false discovery rate
//! at 5% over all comparisons (Benjamini & Hochberg 1995), not at 5% each.
//!
//! Outputs: `compare.json` (`{"elements": [{"id", "metric", "base_mean",
//! "variant_mean", "delta", "ci_low", "ci_high", "significant"}], ...}`) and
//! `compare.html` (a change map of the site and the table sorted by effect).

use crate::PlannerError;
use crate::output::write_atomically;
use crate::report::{esc, num};
use crate::run::{RunOptions, simulate};
use crowdtwin_sim::model::ElementKpis;
use crowdtwin_sim::scenario::Scenario;
pub use crowdtwin_wire::compare::{Change, CompareReport, Comparison};
use statrs::distribution::{ContinuousCDF, StudentsT};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Most seeds one comparison may ask for.
pub const COMPARE_SEEDS_MAX: usize = 1_000;
/// False discovery rate at which changes are called significant.
pub const FALSE_DISCOVERY_RATE: f64 = 0.05;
/// Confidence level of the intervals.
pub const CONFIDENCE: f64 = 0.95;

/// The metrics compared per element.
pub const METRICS: [&str; 4] = ["peak_density_p_per_m2", "minutes_at_los_e_or_f", "total_queue_time_s", "entries"];

fn metric(kpis: &ElementKpis, name: &str) -> f64 {
    match name {
        "peak_density_p_per_m2" => kpis.peak_density_p_per_m2,
        "minutes_at_los_e_or_f" => kpis.minutes_at_los_e_or_f,
        "total_queue_time_s" => kpis.total_queue_time_s,
        "entries" => kpis.entries as f64,
        _ => unreachable!("metric {name} is one of METRICS"),
    }
}

/// What to compare and how.
#[derive(Clone, Debug)]
pub struct CompareOptions {
    /// Paired seeds: the base scenario's seed and the next `seeds − 1`.
    pub seeds: usize,
    /// Threads running the runs.
    pub threads: usize,
    /// Progress lines on stderr.
    pub progress: bool,
}

/// Per run: element id → its KPIs.
type RunKpis = BTreeMap<String, ElementKpis>;

/// Runs both scenarios over the paired seeds and compares them.
pub fn compare(base: &Scenario, variant: &Scenario, options: &CompareOptions) -> Result<CompareReport, PlannerError> {
    if !(1..=COMPARE_SEEDS_MAX).contains(&options.seeds) {
        return Err(PlannerError::InvalidOption(format!(
            "--seeds {}: must be between 1 and {COMPARE_SEEDS_MAX}",
            options.seeds
        )));
    }
    let seeds: Vec<u64> = (0..options.seeds as u64).map(|i| base.seed.wrapping_add(i)).collect();
    let runs = run_pairs(base, variant, &seeds, options)?;
    let (base_runs, variant_runs): (Vec<RunKpis>, Vec<RunKpis>) = runs.into_iter().unzip();
    let mut unmatched: Vec<String> = base_runs[0]
        .keys()
        .filter(|id| !variant_runs[0].contains_key(*id))
        .chain(variant_runs[0].keys().filter(|id| !base_runs[0].contains_key(*id)))
        .cloned()
        .collect();
    unmatched.sort();
    let mut elements = Vec::new();
    for id in base_runs[0].keys().filter(|id| variant_runs[0].contains_key(*id)) {
        for name in METRICS {
            let pairs: Vec<(f64, f64)> = base_runs
                .iter()
                .zip(&variant_runs)
                .map(|(b, v)| (metric(&b[id], name), metric(&v[id], name)))
                .collect();
            elements.push(paired(id, name, &pairs));
        }
    }
    control_false_discoveries(&mut elements, FALSE_DISCOVERY_RATE);
    elements
        .sort_by(|a, b| b.significant.cmp(&a.significant).then(effect(b).total_cmp(&effect(a))).then(a.id.cmp(&b.id)));
    Ok(CompareReport { base: base.name.clone(), variant: variant.name.clone(), seeds, unmatched, elements })
}

/// Size of a change relative to the level it acts on, for sorting.
fn effect(c: &Comparison) -> f64 {
    let level = (c.base_mean.abs() + c.variant_mean.abs()) / 2.0;
    if level > 0.0 { c.delta.abs() / level } else { 0.0 }
}

/// Runs every (scenario, seed) pair over `options.threads` threads; results
/// in seed order, whatever the threads.
fn run_pairs(
    base: &Scenario,
    variant: &Scenario,
    seeds: &[u64],
    options: &CompareOptions,
) -> Result<Vec<(RunKpis, RunKpis)>, PlannerError> {
    let jobs = seeds.len() * 2;
    let results = crate::jobs::run_all(
        jobs,
        options.threads,
        |job| run_kpis(if job.is_multiple_of(2) { base } else { variant }, seeds[job / 2]),
        |finished, jobs| {
            if options.progress {
                eprintln!("compare: run {finished}/{jobs} done");
            }
        },
    );
    let mut results = results.into_iter();
    let mut pairs = Vec::with_capacity(seeds.len());
    while let (Some(b), Some(v)) = (results.next(), results.next()) {
        pairs.push((b?, v?));
    }
    Ok(pairs)
}

/// One whole day of `scenario` with `seed`: its element KPIs by id.
fn run_kpis(scenario: &Scenario, seed: u64) -> Result<RunKpis, PlannerError> {
    let options = RunOptions { seed: Some(seed), shards: 1, threads: 1, progress: false };
    let (_, output) = simulate(scenario.clone(), &options)?;
    Ok(output.kpis.elements.into_iter().map(|e| (e.id.clone(), e)).collect())
}

/// The paired comparison of `(base, variant)` values over the seeds.
pub(crate) fn paired(id: &str, metric: &str, pairs: &[(f64, f64)]) -> Comparison {
    let n = pairs.len() as f64;
    let base_mean = pairs.iter().map(|p| p.0).sum::<f64>() / n;
    let variant_mean = pairs.iter().map(|p| p.1).sum::<f64>() / n;
    let differences: Vec<f64> = pairs.iter().map(|(b, v)| v - b).collect();
    let delta = differences.iter().sum::<f64>() / n;
    let (ci_low, ci_high, p_value) = if pairs.len() < 2 {
        // One seed tells nothing about noise.
        (f64::NEG_INFINITY, f64::INFINITY, 1.0)
    } else {
        let variance = differences.iter().map(|d| (d - delta).powi(2)).sum::<f64>() / (n - 1.0);
        let standard_error = (variance / n).sqrt();
        let t = StudentsT::new(0.0, 1.0, n - 1.0).expect("n − 1 ≥ 1 degrees of freedom");
        let half_width = t.inverse_cdf(0.5 + CONFIDENCE / 2.0) * standard_error;
        let p_value = if standard_error > 0.0 {
            2.0 * (1.0 - t.cdf((delta / standard_error).abs()))
        } else if delta != 0.0 {
            0.0
        } else {
            1.0
        };
        (delta - half_width, delta + half_width, p_value.clamp(0.0, 1.0))
    };
    Comparison {
        id: id.to_string(),
        metric: metric.to_string(),
        base_mean,
        variant_mean,
        delta,
        ci_low,
        ci_high,
        p_value,
        significant: false,
    }
}

/// Benjamini–Hochberg: with the p-values sorted, the largest rank `k` with
/// `p(k) ≤ k/m · q` and every smaller p-value are discoveries.
pub(crate) fn control_false_discoveries(comparisons: &mut [Comparison], rate: f64) {
    let m = comparisons.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| comparisons[a].p_value.total_cmp(&comparisons[b].p_value).then(a.cmp(&b)));
    let cutoff = (0..m).rev().find(|&k| comparisons[order[k]].p_value <= (k + 1) as f64 / m as f64 * rate);
    if let Some(cutoff) = cutoff {
        for &i in &order[..=cutoff] {
            comparisons[i].significant = comparisons[i].p_value < 1.0;
        }
    }
}

/// Writes `compare.json` and `compare.html` into `out`.
pub fn write_report(out: &Path, report: &CompareReport, base: &Scenario) -> Result<Vec<PathBuf>, PlannerError> {
    std::fs::create_dir_all(out).map_err(|e| PlannerError::file(out.display(), e))?;
    let json = out.join("compare.json");
    write_atomically(&json, |file| {
        serde_json::to_writer_pretty(&mut *file, report).map_err(std::io::Error::from)?;
        std::io::Write::write_all(file, b"\n")?;
        Ok::<(), PlannerError>(())
    })?;
    let html = out.join("compare.html");
    let page = render_html(report, base);
    write_atomically(&html, |file| {
        std::io::Write::write_all(file, page.as_bytes())?;
        Ok::<(), PlannerError>(())
    })?;
    Ok(vec![json, html])
}

/// The change map: the site as the report draws it (outlines or circles of
/// their area, centre lines), red where crowding rose significantly, blue
/// where it fell, grey where nothing changed beyond noise.
fn change_map(report: &CompareReport, site: &Scenario) -> String {
    let mut svg = String::new();
    let map = crate::output::site_map(site, &[]);
    crate::report::site_svg(&mut svg, &map, "change map", &|e| report.crowding_change(&e.id).colour_hex());
    svg
}

/// The self-contained page: summary, change map, the table by effect.
fn render_html(report: &CompareReport, site: &Scenario) -> String {
    let significant = report.elements.iter().filter(|c| c.significant).count();
    let mut page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} vs {}</title>\n<style>body{{font:14px \
         system-ui,sans-serif;margin:24px;color:#222}}table{{border-collapse:collapse}}td,th{{padding:2px 8px;\
         border-bottom:1px solid #ddd;text-align:right}}td:first-child,td:nth-child(2){{text-align:left}}\
         .sig{{font-weight:600}}</style></head><body>\n<h1>{} → {}</h1>\n<p>{} paired seeds (common random numbers); \
         {} of {} element metrics changed significantly (95% intervals; significance after false-discovery-rate \
         control at {}% over all comparisons).</p>\n<h2>Change map</h2>\n<p>Red: crowding (peak density or minutes \
         at LOS E/F) rose significantly; blue: it fell; grey: no change beyond noise.</p>\n",
        esc(&report.base),
        esc(&report.variant),
        esc(&report.base),
        esc(&report.variant),
        report.seeds.len(),
        significant,
        report.elements.len(),
        num(FALSE_DISCOVERY_RATE * 100.0, 0)
    );
    page.push_str(&change_map(report, site));
    page.push_str(
        "<h2>By effect</h2>\n<table><thead><tr><th>element</th><th>metric</th><th>base</th><th>variant</th>\
         <th>change</th><th>95% interval</th><th>significant</th></tr></thead><tbody>\n",
    );
    for c in report.elements.iter().filter(|c| c.significant || c.delta != 0.0) {
        let _ = writeln!(
            page,
            "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>[{}, {}]</td><td>{}</td></tr>",
            if c.significant { " class=\"sig\"" } else { "" },
            esc(&c.id),
            esc(&c.metric),
            num(c.base_mean, 2),
            num(c.variant_mean, 2),
            num(c.delta, 2),
            num(c.ci_low, 2),
            num(c.ci_high, 2),
            if c.significant { "yes" } else { "no" }
        );
    }
    page.push_str("</tbody></table>\n</body></html>\n");
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_constant_shift_is_significant_and_noise_is_not() {
        // Differences 1.0 ± small noise over 5 seeds: clearly significant.
        let shifted = paired("a", "entries", &[(10.0, 11.1), (12.0, 12.9), (11.0, 12.0), (9.0, 10.05), (10.0, 11.0)]);
        assert!(shifted.ci_low > 0.5 && shifted.ci_high < 1.5, "{shifted:?}");
        assert!(shifted.p_value < 1e-4, "{shifted:?}");
        // Differences that flip sign: the interval holds 0.
        let noise = paired("b", "entries", &[(10.0, 11.0), (12.0, 11.0), (11.0, 12.0), (9.0, 8.0)]);
        assert!(noise.ci_low < 0.0 && noise.ci_high > 0.0 && noise.p_value > 0.5, "{noise:?}");
        // Identical runs: no change, p = 1.
        let same = paired("c", "entries", &[(3.0, 3.0), (4.0, 4.0)]);
        assert_eq!((same.delta, same.ci_low, same.ci_high, same.p_value), (0.0, 0.0, 0.0, 1.0));
    }

    #[test]
    fn the_paired_interval_matches_the_t_table() {
        // n = 4, differences 1, 2, 3, 4: mean 2.5, sd 1.291, se 0.6455,
        // t(0.975, 3) = 3.182 (any t table): 2.5 ± 2.054.
        let c = paired("a", "entries", &[(0.0, 1.0), (0.0, 2.0), (0.0, 3.0), (0.0, 4.0)]);
        assert!((c.ci_low - 0.446).abs() < 2e-3 && (c.ci_high - 4.554).abs() < 2e-3, "{c:?}");
    }

    #[test]
    fn false_discovery_control_drops_what_one_test_in_twenty_finds_by_chance() {
        let mut comparisons: Vec<Comparison> = (0..20)
            .map(|i| Comparison {
                p_value: if i == 0 { 0.001 } else { 0.04 + i as f64 * 0.01 },
                ..paired("x", "entries", &[(0.0, 0.0)])
            })
            .collect();
        control_false_discoveries(&mut comparisons, 0.05);
        // 0.001 ≤ 1/20 · 0.05 = 0.0025: kept; 0.05 > 2/20 · 0.05: dropped although < 0.05 alone.
        assert!(comparisons[0].significant);
        assert!(comparisons[1..].iter().all(|c| !c.significant));
    }

    #[test]
    fn the_change_map_draws_the_site_outlines_in_the_colour_of_the_change() {
        let site =
            Scenario::parse(include_str!("../../../scenarios/gangneung-2018.toml"), "gangneung-2018.toml").unwrap();
        let rose = |id: &str, delta: f64| Comparison {
            significant: true,
            ..paired(id, "peak_density_p_per_m2", &[(1.0, 1.0 + delta), (1.0, 1.0 + delta)])
        };
        let report = CompareReport {
            base: "base".into(),
            variant: "variant".into(),
            seeds: vec![1, 2],
            unmatched: Vec::new(),
            elements: vec![rose("gate-south", 0.5), rose("gate-west", -0.5)],
        };
        let svg = change_map(&report, &site);
        // Outlines (polygon_m) as in the report's map, not circles.
        assert_eq!(svg.matches("<polygon class=\"place\"").count(), site.places.len());
        let fill = |id: &str| {
            let at = svg.find(&format!("data-id=\"{id}\"")).unwrap_or_else(|| panic!("{id} not drawn"));
            svg[at..].split("fill=\"").nth(1).unwrap().split('"').next().unwrap().to_string()
        };
        assert_eq!(fill("gate-south"), Change::Rose.colour_hex());
        assert_eq!(fill("gate-west"), Change::Fell.colour_hex());
        assert_eq!(fill("olympic-plaza"), Change::Same.colour_hex());
        assert!(svg.contains(">Olympic Park central plaza</text>"), "place names as labels");
    }
}
