//! The planner's run report: one self-contained HTML page.
//!
//! [`render_html`] turns a run's per-minute place series and its KPI rows into
//! a single page with inline CSS and inline SVG plots: no scripts, no external
//! fonts, images or style sheets, nothing fetched over the network. The output
//! is deterministic: the same input gives byte-identical HTML (floats are
//! written with fixed precision, nothing depends on hash order or the time of
//! rendering).
//!
//! The page, top to bottom: the run's key figures; a map of the site, every
//! place and walkway coloured by its worst level of service; the KPI table,
//! worst element first; the sessions and their attendance; balks and waits at
//! food outlets and shops; occupancy and queue charts (one small chart per
//! place, on a shared scale); the level of service strip.
//!
//! Values that are not finite (NaN, ±∞) are treated as 0, and so are negative
//! occupancies and queues; a LOS value above 5 is shown as F.

use crowdtwin_sim::model::Los;
use std::fmt::Write as _;

/// Fill colour of level of service `level` (0 = A ... 5 = F): the one palette, `Los::colour_hex`.
pub fn los_colour(level: u8) -> &'static str {
    Los::from_rank(level).colour_hex()
}

/// How many places the occupancy and queue charts show at most.
pub const MAX_CHART_SERIES: usize = 10;

/// Line colours of the charts (one per series, at most [`MAX_CHART_SERIES`]).
pub(crate) const SERIES_COLOURS: [&str; MAX_CHART_SERIES] =
    ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

/// Width in SVG units of the plotting area of the LOS strip.
const PLOT_W: f64 = 880.0;
/// Right margin of the LOS strip.
const RIGHT: f64 = 24.0;
/// Left margin of a small chart (value tick labels).
const SMALL_LEFT: f64 = 40.0;
/// Width of a small chart's plotting area.
const SMALL_PLOT_W: f64 = 250.0;
/// Right margin of a small chart.
const SMALL_RIGHT: f64 = 14.0;
/// Top margin of a small chart.
const SMALL_TOP: f64 = 8.0;
/// Height of a small chart's plotting area.
const SMALL_PLOT_H: f64 = 90.0;
/// Bottom margin of a small chart (clock labels).
const SMALL_BOTTOM: f64 = 20.0;
/// Most clock ticks on a small chart.
const SMALL_TICKS_MAX: u64 = 4;
/// Width of the site map.
const MAP_W: f64 = 928.0;
/// Most height of the site map.
const MAP_H_MAX: f64 = 640.0;
/// Margin around the site inside the map.
const MAP_MARGIN: f64 = 36.0;
/// Vertical pitch of one LOS strip row and the height of its cells.
const ROW_PITCH: f64 = 12.0;
const ROW_CELL_H: f64 = 11.0;
/// Height of a kind header within the LOS strip.
const GROUP_HEAD_H: f64 = 16.0;
/// Row labels longer than this (in characters) are cut with an ellipsis.
const MAX_LABEL_CHARS: usize = 30;

/// One place's per-minute series over the run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PlaceSeries {
    /// Place id, e.g. "gangneung-hockey-centre" or "plaza-north--hockey-gate" for walkways.
    pub id: String,
    /// Display name ("Gangneung Hockey Centre"); the id is shown where it is empty.
    pub name: String,
    /// "venue", "shop", "food", "gate", "plaza", "fan_zone", "transit", "walkway".
    pub kind: String,
    /// Walkable area in m².
    pub area_m2: f64,
    /// Mean persons present, one value per minute of the run.
    pub occupancy: Vec<f64>,
    /// Mean persons queueing, one per minute (all zeros where the place has no queue).
    pub queue: Vec<f64>,
    /// Level of service per minute, 0..=5.
    pub los: Vec<u8>,
}

/// One row of the KPI table.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KpiRow {
    /// Place id.
    pub place: String,
    /// Display name; the id is shown where it is empty.
    pub name: String,
    /// Place kind.
    pub kind: String,
    /// Highest density reached, persons per m².
    pub peak_density_p_per_m2: f64,
    /// Worst level of service reached, 0 = A ... 5 = F.
    pub peak_los: u8,
    /// Minutes spent at level of service E or F.
    pub minutes_at_los_e_or_f: u32,
    /// Total time spent queueing, in seconds (shown in minutes).
    pub total_queue_time_s: f64,
    /// Longest queue, persons.
    pub max_queue: f64,
    /// People who entered (food outlets and shops: customers who came,
    /// balked ones included).
    pub entries: u64,
    /// Food outlets and shops: customers who saw the queue and went elsewhere.
    pub balked: u64,
    /// Mean wait of everyone who waited here, s.
    pub mean_wait_s: f64,
}

/// Where one element of the site map is, in site metres (x east, y north).
#[derive(Debug, Clone, PartialEq)]
pub enum MapShape {
    /// A place's outline (its outer ring).
    Outline(Vec<[f64; 2]>),
    /// A place without an outline: a circle of its area around its position.
    Disc {
        /// Position of the place, m.
        centre: [f64; 2],
        /// Radius of a circle of the place's area, m.
        radius_m: f64,
    },
    /// A walkway: its centre line, or the straight segment between its ends.
    Line {
        /// The line's points, m.
        points: Vec<[f64; 2]>,
        /// Clear width, m.
        width_m: f64,
    },
}

/// One place or walkway on the site map.
#[derive(Debug, Clone, PartialEq)]
pub struct MapElement {
    /// Element id (as in the KPI table).
    pub id: String,
    /// Display name; the id is shown where it is empty.
    pub name: String,
    /// Element kind ("venue", ..., "walkway").
    pub kind: String,
    /// Where it is.
    pub shape: MapShape,
    /// Where its label goes (places); walkways carry none.
    pub label_at: Option<[f64; 2]>,
    /// Worst level of service over the run, 0 = A ... 5 = F.
    pub peak_los: u8,
    /// Highest density over the run, P/m².
    pub peak_density_p_per_m2: f64,
}

/// One row of the sessions table.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SessionRow {
    /// Session name, e.g. "Men's quarterfinal".
    pub name: String,
    /// Sport.
    pub sport: String,
    /// Venue name.
    pub venue: String,
    /// Venue id.
    pub venue_id: String,
    /// Start clock time, "HH:MM".
    pub start: String,
    /// Tickets sold.
    pub tickets: u32,
    /// Spectators seated (at any time).
    pub seated: u32,
    /// Spectators seated before the start.
    pub seated_on_time: u32,
    /// When it ended, "HH:MM", after any delay (`None`: not within the run).
    pub ended: Option<String>,
    /// Minutes from its end until its last spectator left the stands
    /// (`None`: not all out within the run).
    pub egress_min: Option<f64>,
}

/// Everything the report shows.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportInput<'a> {
    /// Scenario name.
    pub title: &'a str,
    /// Seed of the run.
    pub seed: u64,
    /// Clock time (seconds after midnight) of minute 0, e.g. 7*3600.
    pub start_clock_s: u32,
    /// Key figures shown at the top as a definition list, in this order.
    pub summary: Vec<(String, String)>,
    /// All the same length (minutes); may be empty.
    pub places: &'a [PlaceSeries],
    /// Rows of the KPI table (shown worst first, see [`by_severity`]).
    pub kpis: &'a [KpiRow],
    /// The site map's places and walkways; the map is left out when empty.
    pub map: &'a [MapElement],
    /// The sessions, in this order.
    pub sessions: &'a [SessionRow],
    /// Customers who saw a queue too long at a food outlet or shop and went elsewhere.
    pub balked: u64,
}

/// Appends formatted text to a `String` (writing to a `String` cannot fail).
macro_rules! w {
    ($dst:expr, $($arg:tt)*) => {{
        let _ = write!($dst, $($arg)*);
    }};
}

pub(crate) const STYLE: &str = "\
*{box-sizing:border-box}\
body{margin:0 auto;max-width:1040px;padding:16px 24px 40px;font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,\
'Helvetica Neue',Arial,sans-serif;color:#222;background:#fff}\
h1{font-size:24px;margin:8px 0 4px}\
h2{font-size:18px;margin:28px 0 8px;padding-bottom:4px;border-bottom:1px solid #ddd}\
.meta{color:#555;margin:0 0 12px}\
dl.summary{display:grid;grid-template-columns:max-content auto;gap:2px 16px;margin:8px 0 0}\
dl.summary dt{font-weight:600}\
dl.summary dd{margin:0;font-variant-numeric:tabular-nums}\
svg{display:block;max-width:100%;height:auto}\
ul.legend{list-style:none;padding:0;margin:6px 0 0;display:flex;flex-wrap:wrap;gap:4px 18px}\
ul.legend li{white-space:nowrap}\
.sw{display:inline-block;width:14px;height:10px;margin-right:6px;vertical-align:baseline;border:1px solid #0002}\
.note{color:#555;font-style:italic}\
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}\
th,td{padding:3px 8px;border-bottom:1px solid #e6e6e6;text-align:left}\
th{background:#f4f4f4;position:sticky;top:0}\
td.n,th.n{text-align:right}\
td.los{text-align:center;font-weight:600}\
small.id{color:#777;margin-left:6px}\
strong.balked{font-size:16px}\
.multiples{display:grid;grid-template-columns:repeat(auto-fill,minmax(304px,1fr));gap:10px 16px;margin-top:8px}\
figure{margin:0}\
figcaption{font-weight:600;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}\
figcaption small{font-weight:400;color:#555}\
footer{margin-top:32px;color:#777;font-size:12px}";

/// Style sheet inside every SVG, so that a chart saved on its own still looks right.
pub(crate) const SVG_STYLE: &str = "<style>text{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;\
font-size:11px;fill:#333}.axis{stroke:#444;stroke-width:1}.grid{stroke:#e4e4e4;stroke-width:1}\
.ttl{font-size:12px;fill:#222}.grp{font-weight:600;fill:#555}</style>\n";

/// Renders the whole page.
pub fn render_html(input: &ReportInput<'_>) -> String {
    let minutes = run_minutes(input.places);
    let mut out = String::with_capacity(64 * 1024);
    page_header(&mut out, input, minutes);
    site_map_section(&mut out, input.map);
    out.push_str(
        "<section id=\"kpis\">\n<h2>Key figures per place</h2>\n<p class=\"note\">Worst first: by peak level of \
         service, then minutes at LOS E/F, then peak density.</p>\n",
    );
    kpi_table(&mut out, input.kpis);
    out.push_str("</section>\n");
    sessions_section(&mut out, input.sessions);
    errands_section(&mut out, input.kpis, input.balked);
    occupancy_section(&mut out, input, minutes);
    queue_section(&mut out, input, minutes);
    los_section(&mut out, input, minutes);

    w!(out, "<footer>crowdtwin run report \u{b7} {} \u{b7} seed {}</footer>\n", esc(input.title), input.seed);
    out.push_str("</body>\n</html>\n");
    out
}

/// The document head and the page header: title, seed, summary.
fn page_header(out: &mut String, input: &ReportInput<'_>, minutes: usize) {
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    w!(out, "<title>{} \u{2014} crowdtwin run report</title>\n", esc(input.title));
    w!(out, "<style>{STYLE}</style>\n</head>\n<body>\n");

    // 1. Title, seed, summary.
    w!(out, "<header>\n<h1>{}</h1>\n", esc(input.title));
    w!(
        out,
        "<p class=\"meta\">Seed <strong>{}</strong> \u{b7} start {} \u{b7} {} min \u{b7} {} places</p>\n",
        input.seed,
        clock_label(u64::from(input.start_clock_s)),
        minutes,
        input.places.len()
    );
    if !input.summary.is_empty() {
        out.push_str("<dl class=\"summary\">\n");
        for (key, value) in &input.summary {
            w!(out, "<dt>{}</dt><dd>{}</dd>\n", esc(key), esc(value));
        }
        out.push_str("</dl>\n");
    }
    out.push_str("</header>\n");
}

/// The occupancy charts of the places with the highest peak.
fn occupancy_section(out: &mut String, input: &ReportInput<'_>, minutes: usize) {
    let places = input.places;
    out.push_str("<section id=\"occupancy\">\n<h2>Occupancy over time</h2>\n");
    if places.is_empty() {
        out.push_str("<p class=\"note\">No places in this run.</p>\n");
    } else if minutes == 0 {
        out.push_str("<p class=\"note\">The run has no minutes to plot.</p>\n");
    } else {
        let top = top_places(places, |p| &p.occupancy, false);
        let charts = Multiples::new(places, &top, |p| &p.occupancy, minutes, input.start_clock_s);
        small_multiples(out, &charts, "Occupancy", SERIES_COLOURS[0]);
    }
    out.push_str("</section>\n");
}

/// The queue charts of the places that had a queue.
fn queue_section(out: &mut String, input: &ReportInput<'_>, minutes: usize) {
    let places = input.places;
    out.push_str("<section id=\"queues\">\n<h2>Queue lengths</h2>\n");
    let top_queues = if minutes == 0 { Vec::new() } else { top_places(places, |p| &p.queue, true) };
    if top_queues.is_empty() {
        out.push_str("<p class=\"note\">No place had a queue at any time during the run.</p>\n");
    } else {
        let charts = Multiples::new(places, &top_queues, |p| &p.queue, minutes, input.start_clock_s);
        small_multiples(out, &charts, "Queue length", SERIES_COLOURS[3]);
    }
    out.push_str("</section>\n");
}

/// The level of service strip.
fn los_section(out: &mut String, input: &ReportInput<'_>, minutes: usize) {
    out.push_str("<section id=\"los\">\n<h2>Level of service</h2>\n");
    if input.places.is_empty() {
        out.push_str("<p class=\"note\">No places in this run.</p>\n");
    } else if minutes == 0 {
        out.push_str("<p class=\"note\">The run has no minutes to show.</p>\n");
    } else {
        los_strip(out, input.places, minutes, input.start_clock_s);
    }
    out.push_str("</section>\n");
}

/// The name to show: `name`, or `id` where the name is empty.
fn display_name<'a>(name: &'a str, id: &'a str) -> &'a str {
    if name.trim().is_empty() { id } else { name }
}

/// Escapes text for HTML element content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The letter of a level of service; values above 5 count as F.
pub fn los_letter(los: u8) -> &'static str {
    Los::from_rank(los).letter()
}

/// A finite, non-negative value: NaN, ±∞ and negatives become 0.
fn clean(v: f64) -> f64 {
    if v.is_finite() && v > 0.0 { v } else { 0.0 }
}

/// A finite value: NaN and ±∞ become 0 (sign kept otherwise).
fn finite(v: f64) -> f64 {
    if v.is_finite() { v } else { 0.0 }
}

/// Fixed-precision number without a "-0" artefact.
/// Opens an inline SVG of `width` x `height` px (its viewBox the same),
/// described by `label` for screen readers; `extra` attributes follow.
pub(crate) fn svg_open(out: &mut String, width: f64, height: f64, label: &str, extra: &str) {
    w!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" \
         aria-label=\"{label}\"{extra}>\n",
        w = num(width, 0),
        h = num(height, 0)
    );
}

pub(crate) fn num(v: f64, prec: usize) -> String {
    let s = format!("{:.*}", prec, finite(v));
    if s.starts_with('-') && s[1..].bytes().all(|b| b == b'0' || b == b'.') { s[1..].to_string() } else { s }
}

/// Fixed-precision number with thousands separators ("12,345.6").
fn num_grouped(v: f64, prec: usize) -> String {
    let s = num(v, prec);
    let (sign, rest) = match s.strip_prefix('-') {
        Some(r) => ("-", r),
        None => ("", s.as_str()),
    };
    let (int, frac) = match rest.find('.') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let mut grouped = String::with_capacity(s.len() + int.len() / 3);
    grouped.push_str(sign);
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    grouped.push_str(frac);
    grouped
}

/// Number of minutes of the run: the longest series of any place.
fn run_minutes(places: &[PlaceSeries]) -> usize {
    places.iter().map(|p| p.occupancy.len().max(p.queue.len()).max(p.los.len())).max().unwrap_or(0)
}

/// Highest cleaned value of a series (0 for an empty one).
fn peak(values: &[f64]) -> f64 {
    values.iter().copied().map(clean).fold(0.0, f64::max)
}

/// Indices of the (at most) [`MAX_CHART_SERIES`] places with the highest peak
/// of `series`, highest first; ties by id, then by input order. With
/// `positive_only`, places whose peak is 0 are left out.
fn top_places(places: &[PlaceSeries], series: impl Fn(&PlaceSeries) -> &Vec<f64>, positive_only: bool) -> Vec<usize> {
    let mut ranked: Vec<(usize, f64)> = places
        .iter()
        .enumerate()
        .map(|(i, p)| (i, peak(series(p))))
        .filter(|&(_, pk)| !positive_only || pk > 0.0)
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| places[a.0].id.cmp(&places[b.0].id)).then(a.0.cmp(&b.0)));
    ranked.truncate(MAX_CHART_SERIES);
    ranked.into_iter().map(|(i, _)| i).collect()
}

/// "HH:MM" of a clock time in seconds after midnight of day 0; from day 1 on
/// the day is appended ("07:00+1d").
fn clock_label(clock_s: u64) -> String {
    let day = clock_s / 86_400;
    let s = clock_s % 86_400;
    let hm = format!("{:02}:{:02}", s / 3600, (s % 3600) / 60);
    if day == 0 { hm } else { format!("{hm}+{day}d") }
}

/// Tick spacing in minutes for a run of `minutes`: at most about `ticks`
/// ticks, on round clock steps (1, 2, 5, 10, 15, 30 minutes, then whole hours).
fn tick_step_min(minutes: usize, ticks: u64) -> u64 {
    const STEPS: [u64; 15] = [1, 2, 5, 10, 15, 30, 60, 120, 180, 240, 360, 720, 1440, 2880, 10_080];
    let m = minutes as u64;
    let ticks = ticks.max(1);
    for step in STEPS {
        if m <= step * ticks {
            return step;
        }
    }
    // Very long runs: whole weeks.
    m.div_ceil(ticks).div_ceil(10_080) * 10_080
}

/// Clock ticks over a run of `minutes` starting at `start_clock_s`: (offset
/// from minute 0 in minutes, label), aligned to round clock times and
/// covering the domain [0, minutes].
fn clock_ticks(start_clock_s: u32, minutes: usize) -> Vec<(f64, String)> {
    clock_ticks_at_most(start_clock_s, minutes, 8)
}

/// [`clock_ticks`] with at most about `ticks` ticks.
fn clock_ticks_at_most(start_clock_s: u32, minutes: usize, ticks: u64) -> Vec<(f64, String)> {
    let step_s = tick_step_min(minutes, ticks) * 60;
    let start = u64::from(start_clock_s);
    let end = start + minutes as u64 * 60;
    let mut t = start.div_ceil(step_s) * step_s;
    let mut ticks = Vec::new();
    while t <= end {
        ticks.push(((t - start) as f64 / 60.0, clock_label(t)));
        t += step_s;
    }
    ticks
}

/// Round y-axis scale for data up to `max`: (step, top of axis, decimals).
pub(crate) fn nice_scale(max: f64) -> (f64, f64, usize) {
    let max = clean(max);
    if max <= 0.0 {
        return (1.0, 1.0, 0);
    }
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let mult = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 2.5 {
        2.5
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    let step = mult * mag;
    let top = ((max / step) - 1e-9).ceil().max(1.0) * step;
    let mut decimals = if step >= 1.0 { 0 } else { (-step.log10() - 1e-9).ceil().clamp(0.0, 12.0) as usize };
    if mult == 2.5 && step < 10.0 {
        decimals += 1;
    }
    (step, top, decimals)
}

/// Small multiples of one series: one small chart per place of `top` (indices
/// into `places`, highest peak first), all on one value scale and one clock
/// axis, so that heights compare across charts.
struct Multiples<'a, S: Fn(&PlaceSeries) -> &Vec<f64>> {
    /// All places of the run.
    places: &'a [PlaceSeries],
    /// Indices into `places` of the places drawn, highest peak first.
    top: &'a [usize],
    /// The series of a place that the charts show.
    series: S,
    /// Length of the run, minutes.
    minutes: usize,
    /// Clock time of minute 0, seconds after midnight.
    start_clock_s: u32,
    /// Spacing of the value ticks.
    step: f64,
    /// Value at the top of every plotting area: the shared scale.
    y_top: f64,
    /// Decimals of the value tick labels.
    decimals: usize,
}

impl<'a, S: Fn(&PlaceSeries) -> &Vec<f64>> Multiples<'a, S> {
    /// The charts of `series` for the places `top`, their value axis scaled to the highest peak of them all.
    fn new(places: &'a [PlaceSeries], top: &'a [usize], series: S, minutes: usize, start_clock_s: u32) -> Self {
        let max = top.iter().map(|&i| peak(series(&places[i]))).fold(0.0, f64::max);
        let (step, y_top, decimals) = nice_scale(max);
        Multiples { places, top, series, minutes, start_clock_s, step, y_top, decimals }
    }

    /// x of minute offset `m`.
    fn x_of(&self, m: f64) -> f64 {
        SMALL_LEFT + m / self.minutes as f64 * SMALL_PLOT_W
    }

    /// y of value `v` (cleaned).
    fn y_of(&self, v: f64) -> f64 {
        SMALL_TOP + SMALL_PLOT_H - clean(v) / self.y_top * SMALL_PLOT_H
    }
}

/// A grid of small charts, one per place, with a note on what they show;
/// `what` names the series, `colour` is the line colour of every chart.
fn small_multiples<S: Fn(&PlaceSeries) -> &Vec<f64>>(
    out: &mut String,
    charts: &Multiples<'_, S>,
    what: &str,
    colour: &str,
) {
    w!(
        out,
        "<p class=\"note\">{} of the {} places with the highest peak, highest first, one chart each; every chart \
         on the same scale (persons, 0\u{2013}{}).</p>\n<div class=\"multiples\">\n",
        esc(what),
        charts.top.len(),
        num_grouped(charts.y_top, charts.decimals)
    );
    let ticks = clock_ticks_at_most(charts.start_clock_s, charts.minutes, SMALL_TICKS_MAX);
    let (width, height) = (SMALL_LEFT + SMALL_PLOT_W + SMALL_RIGHT, SMALL_TOP + SMALL_PLOT_H + SMALL_BOTTOM);
    for &i in charts.top {
        let place = &charts.places[i];
        let values = (charts.series)(place);
        w!(
            out,
            "<figure><figcaption title=\"{} ({})\">{} <small>(peak {})</small></figcaption>\n<svg \
             xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" \
             aria-label=\"{} at {}\">\n",
            esc(&place.id),
            esc(&place.kind),
            esc(display_name(&place.name, &place.id)),
            num_grouped(peak(values), 1),
            esc(what),
            esc(display_name(&place.name, &place.id)),
            w = num(width, 0),
            h = num(height, 0)
        );
        out.push_str(SVG_STYLE);
        small_chart_grid(out, charts, &ticks);
        let mut points = String::with_capacity(values.len().min(2 * SMALL_PLOT_W as usize) * 12);
        for (m, v) in line_points(values, charts.minutes, SMALL_PLOT_W as usize) {
            w!(points, "{},{} ", num(charts.x_of(m), 1), num(charts.y_of(v), 1));
        }
        w!(
            out,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.4\" stroke-linejoin=\"round\" \
             points=\"{}\"/>\n</svg></figure>\n",
            points.trim_end()
        );
    }
    out.push_str("</div>\n");
}

/// The grid, ticks and axes of one small chart.
fn small_chart_grid<S: Fn(&PlaceSeries) -> &Vec<f64>>(
    out: &mut String,
    charts: &Multiples<'_, S>,
    ticks: &[(f64, String)],
) {
    let (left, right, bottom) = (SMALL_LEFT, SMALL_LEFT + SMALL_PLOT_W, SMALL_TOP + SMALL_PLOT_H);
    let n_y = (charts.y_top / charts.step).round() as usize;
    for k in 0..=n_y {
        let v = k as f64 * charts.step;
        let y = num(charts.y_of(v), 1);
        w!(
            out,
            "<line class=\"grid\" x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\"/><text x=\"{}\" y=\"{y}\" dy=\"0.32em\" \
             text-anchor=\"end\">{}</text>\n",
            num(left, 1),
            num(right, 1),
            num(left - 4.0, 1),
            num_grouped(v, charts.decimals)
        );
    }
    for (m, label) in ticks {
        let x = num(charts.x_of(*m), 1);
        w!(
            out,
            "<line class=\"axis\" x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\"/><text x=\"{x}\" y=\"{}\" \
             text-anchor=\"middle\">{label}</text>\n",
            num(bottom, 1),
            num(bottom + 4.0, 1),
            num(bottom + 15.0, 1)
        );
    }
    w!(
        out,
        "<line class=\"axis\" x1=\"{l}\" y1=\"{t}\" x2=\"{l}\" y2=\"{b}\"/><line class=\"axis\" x1=\"{l}\" y1=\"{b}\" \
         x2=\"{r}\" y2=\"{b}\"/>\n",
        l = num(left, 1),
        t = num(SMALL_TOP, 1),
        b = num(bottom, 1),
        r = num(right, 1)
    );
}

/// Points (minute position, value) of one series over the domain [0, minutes]:
/// each minute's mean at the middle of its minute; a single minute as a flat
/// segment; missing minutes as 0. Runs far longer than the plot's `columns`
/// pixel columns are reduced to the lowest and highest value of each column,
/// in the order they occur, so that peaks survive and the SVG stays small.
fn line_points(values: &[f64], minutes: usize, columns: usize) -> Vec<(f64, f64)> {
    let at = |m: usize| values.get(m).copied().map_or(0.0, clean);
    if minutes == 1 {
        return vec![(0.0, at(0)), (1.0, at(0))];
    }
    let columns = columns.max(1);
    if minutes <= 2 * columns {
        return (0..minutes).map(|m| (m as f64 + 0.5, at(m))).collect();
    }
    let mut points = Vec::with_capacity(2 * columns);
    for c in 0..columns {
        let lo = c * minutes / columns;
        let hi = ((c + 1) * minutes / columns).max(lo + 1);
        let (mut min_m, mut max_m) = (lo, lo);
        for m in lo..hi {
            if at(m) < at(min_m) {
                min_m = m;
            }
            if at(m) > at(max_m) {
                max_m = m;
            }
        }
        let x = (lo + hi) as f64 / 2.0;
        if min_m == max_m || at(min_m) == at(max_m) {
            points.push((x, at(min_m)));
        } else if min_m < max_m {
            points.push((x, at(min_m)));
            points.push((x, at(max_m)));
        } else {
            points.push((x, at(max_m)));
            points.push((x, at(min_m)));
        }
    }
    points
}

/// Row label: the name, cut to [`MAX_LABEL_CHARS`] characters with an ellipsis.
fn row_label(name: &str) -> String {
    if name.chars().count() <= MAX_LABEL_CHARS {
        name.to_string()
    } else {
        let mut s: String = name.chars().take(MAX_LABEL_CHARS - 1).collect();
        s.push('\u{2026}');
        s
    }
}

/// Runs of equal LOS in one row: (first minute, end minute exclusive, LOS).
/// With more minutes than the strip has pixel columns, each column of
/// `bucket` minutes shows its worst LOS. Minutes without a LOS value are
/// left blank.
fn los_runs(los: &[u8], minutes: usize, bucket: usize) -> Vec<(usize, usize, u8)> {
    let mut runs: Vec<(usize, usize, u8)> = Vec::new();
    let mut start = 0;
    while start < minutes {
        let end = (start + bucket).min(minutes);
        let worst = los.get(start..end.min(los.len())).and_then(|cells| cells.iter().map(|&l| l.min(5)).max());
        if let Some(level) = worst {
            match runs.last_mut() {
                Some(last) if last.1 == start && last.2 == level => last.1 = end,
                _ => runs.push((start, end, level)),
            }
        }
        start = end;
    }
    runs
}

/// Layout of the LOS strip chart: the rows in their order and where
/// everything goes.
struct LosStrip<'a> {
    /// All places of the run.
    places: &'a [PlaceSeries],
    /// Indices into `places`, sorted by kind, then id, then input order.
    order: Vec<usize>,
    /// Row labels, in the order of `order`.
    labels: Vec<String>,
    /// Left margin: room for the longest row label.
    left: f64,
    /// y of the top clock axis.
    top_axis: f64,
    /// y of the bottom clock axis.
    bottom: f64,
    /// Width of the whole SVG.
    width: f64,
    /// Height of the whole SVG.
    height: f64,
    /// Length of the run, minutes.
    minutes: usize,
    /// Minutes per pixel column (1 unless the run is longer than the strip is wide).
    bucket: usize,
}

impl<'a> LosStrip<'a> {
    /// Sorts the rows and lays the strip out for a run of `minutes`.
    fn new(places: &'a [PlaceSeries], minutes: usize) -> Self {
        let mut order: Vec<usize> = (0..places.len()).collect();
        order.sort_by(|&a, &b| {
            places[a].kind.cmp(&places[b].kind).then_with(|| places[a].id.cmp(&places[b].id)).then(a.cmp(&b))
        });
        let labels: Vec<String> =
            order.iter().map(|&i| row_label(display_name(&places[i].name, &places[i].id))).collect();
        let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
        let left = (longest as f64 * 6.2 + 16.0).clamp(72.0, 220.0).round();
        let top_axis = 24.0;
        let groups = 1 + order.windows(2).filter(|w| places[w[0]].kind != places[w[1]].kind).count();
        let rows_h = order.len() as f64 * ROW_PITCH + groups as f64 * GROUP_HEAD_H;
        let bottom = top_axis + rows_h + 4.0;
        let width = left + PLOT_W + RIGHT;
        let height = bottom + 40.0;
        let bucket = minutes.div_ceil(PLOT_W as usize).max(1);
        LosStrip { places, order, labels, left, top_axis, bottom, width, height, minutes, bucket }
    }

    /// x of minute offset `m`.
    fn x_of(&self, m: f64) -> f64 {
        self.left + m / self.minutes as f64 * PLOT_W
    }
}

/// The LOS strip chart: one row per place, sorted by kind then id, with kind
/// headers, clock axes on top and bottom and an HTML colour legend.
fn los_strip(out: &mut String, places: &[PlaceSeries], minutes: usize, start_clock_s: u32) {
    let strip = LosStrip::new(places, minutes);
    svg_open(
        out,
        strip.width,
        strip.height,
        "Level of service per place and minute",
        " shape-rendering=\"crispEdges\"",
    );
    out.push_str(SVG_STYLE);
    los_strip_axes(out, &strip, start_clock_s);
    los_strip_rows(out, &strip);
    out.push_str("</svg>\n<ul class=\"legend\">\n");
    for (letter, colour) in Los::ALL.map(|los| (los.letter(), los.colour_hex())) {
        w!(out, "<li><span class=\"sw\" style=\"background:{colour}\"></span>LOS {letter}</li>\n");
    }
    out.push_str("</ul>\n");
    if strip.bucket > 1 {
        w!(
            out,
            "<p class=\"note\">Each cell spans {} minutes and shows the worst level of service in them.</p>\n",
            strip.bucket
        );
    }
}

/// The clock ticks of the LOS strip, top and bottom, and the axis title.
fn los_strip_axes(out: &mut String, strip: &LosStrip<'_>, start_clock_s: u32) {
    let (top_axis, bottom) = (strip.top_axis, strip.bottom);
    for (m, label) in clock_ticks(start_clock_s, strip.minutes) {
        let x = num(strip.x_of(m), 1);
        w!(
            out,
            "<line class=\"axis\" x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\"/><text x=\"{x}\" y=\"{}\" \
             text-anchor=\"middle\">{label}</text><line class=\"axis\" x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\"/>\
             <text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{label}</text>\n",
            num(top_axis - 5.0, 1),
            num(top_axis, 1),
            num(top_axis - 8.0, 1),
            num(bottom, 1),
            num(bottom + 5.0, 1),
            num(bottom + 17.0, 1)
        );
    }
    w!(
        out,
        "<text class=\"ttl\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">clock time</text>\n",
        num(strip.left + PLOT_W / 2.0, 1),
        num(strip.height - 6.0, 1)
    );
}

/// The rows of the LOS strip, a kind header before each new kind.
fn los_strip_rows(out: &mut String, strip: &LosStrip<'_>) {
    let mut y = strip.top_axis;
    let mut kind: Option<&str> = None;
    for (row, &i) in strip.order.iter().enumerate() {
        let place = &strip.places[i];
        if kind != Some(place.kind.as_str()) {
            kind = Some(place.kind.as_str());
            w!(
                out,
                "<text class=\"grp\" x=\"4\" y=\"{}\">{}</text>\n",
                num(y + GROUP_HEAD_H - 4.0, 1),
                esc(&place.kind)
            );
            y += GROUP_HEAD_H;
        }
        los_strip_row(out, strip, place, &strip.labels[row], y);
        y += ROW_PITCH;
    }
}

/// One row of the LOS strip at height `y`: the label and the runs of equal LOS.
fn los_strip_row(out: &mut String, strip: &LosStrip<'_>, place: &PlaceSeries, label: &str, y: f64) {
    w!(
        out,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"end\"><title>{} ({})</title>{}</text>\n",
        num(strip.left - 6.0, 1),
        num(y + ROW_CELL_H - 2.0, 1),
        esc(&place.id),
        esc(&place.kind),
        esc(label)
    );
    let y_cell = num(y, 1);
    for (from, to, level) in los_runs(&place.los, strip.minutes, strip.bucket) {
        // Round both edges so that neighbouring cells meet without seams.
        let x0 = (strip.x_of(from as f64) * 10.0).round() / 10.0;
        let x1 = (strip.x_of(to as f64) * 10.0).round() / 10.0;
        w!(
            out,
            "<rect x=\"{}\" y=\"{y_cell}\" width=\"{}\" height=\"{}\" fill=\"{}\"/>\n",
            num(x0, 1),
            num((x1 - x0).max(0.1), 1),
            num(ROW_CELL_H, 0),
            los_colour(level)
        );
    }
}

/// The name of an element for a table cell: the name, and the id in small
/// grey text after it where the two differ.
fn name_cell(name: &str, id: &str) -> String {
    let shown = display_name(name, id);
    if shown == id { esc(id) } else { format!("{}<small class=\"id\">{}</small>", esc(shown), esc(id)) }
}

/// The KPI rows worst first: by peak level of service, then minutes at LOS
/// E or F, then peak density, all highest first; ties keep their order.
pub fn by_severity(kpis: &[KpiRow]) -> Vec<&KpiRow> {
    let mut rows: Vec<&KpiRow> = kpis.iter().collect();
    rows.sort_by(|a, b| {
        b.peak_los
            .min(5)
            .cmp(&a.peak_los.min(5))
            .then(b.minutes_at_los_e_or_f.cmp(&a.minutes_at_los_e_or_f))
            .then(clean(b.peak_density_p_per_m2).total_cmp(&clean(a.peak_density_p_per_m2)))
    });
    rows
}

/// The KPI table, worst element first ([`by_severity`]).
fn kpi_table(out: &mut String, kpis: &[KpiRow]) {
    if kpis.is_empty() {
        out.push_str("<p class=\"note\">No KPI rows.</p>\n");
        return;
    }
    out.push_str(
        "<table>\n<thead><tr><th>Place</th><th>Kind</th><th class=\"n\">Peak density (p/m\u{b2})</th>\
         <th>Peak LOS</th><th class=\"n\">Minutes at LOS E/F</th><th class=\"n\">Total queue time (min)</th>\
         <th class=\"n\">Max queue (persons)</th></tr></thead>\n<tbody>\n",
    );
    for k in by_severity(kpis) {
        let level = k.peak_los.min(5);
        let text_colour = if level >= 5 { "#fff" } else { "#222" };
        w!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"los\" style=\"background:{};color:{}\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>\n",
            name_cell(&k.name, &k.place),
            esc(&k.kind),
            num_grouped(clean(k.peak_density_p_per_m2), 2),
            los_colour(level),
            text_colour,
            los_letter(level),
            k.minutes_at_los_e_or_f,
            num_grouped(clean(k.total_queue_time_s) / 60.0, 1),
            num_grouped(clean(k.max_queue), 1)
        );
    }
    out.push_str("</tbody>\n</table>\n");
}

/// `part` of `whole` in per cent, one decimal ("–" when `whole` is 0).
fn percent(part: u64, whole: u64) -> String {
    if whole == 0 { "\u{2013}".to_string() } else { num(100.0 * part as f64 / whole as f64, 1) }
}

/// The sessions and their attendance, one row per session in the order given.
fn sessions_section(out: &mut String, sessions: &[SessionRow]) {
    out.push_str("<section id=\"sessions\">\n<h2>Sessions</h2>\n");
    if sessions.is_empty() {
        out.push_str("<p class=\"note\">No sessions in this run.</p>\n</section>\n");
        return;
    }
    out.push_str(
        "<table>\n<thead><tr><th>Start</th><th>Session</th><th>Sport</th><th>Venue</th><th class=\"n\">Tickets</th>\
         <th class=\"n\">Seated</th><th class=\"n\">Attendance (%)</th><th class=\"n\">Seated by the start</th>\
         <th class=\"n\">On time (% of seated)</th><th>Ended</th><th class=\"n\">Egress (min)</th></tr></thead>\n<tbody>\n",
    );
    for s in sessions {
        w!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td></tr>\n",
            esc(&s.start),
            esc(&s.name),
            esc(&s.sport),
            name_cell(&s.venue, &s.venue_id),
            num_grouped(f64::from(s.tickets), 0),
            num_grouped(f64::from(s.seated), 0),
            percent(s.seated.into(), s.tickets.into()),
            num_grouped(f64::from(s.seated_on_time), 0),
            percent(s.seated_on_time.into(), s.seated.into()),
            s.ended.as_deref().map_or_else(|| "\u{2013}".to_string(), esc),
            s.egress_min.map_or_else(|| "\u{2013}".to_string(), |m| num(m, 1))
        );
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

/// Balks and waits at food outlets and shops: the run's balks and per
/// outlet its customers, mean wait and total queue time, the longest total
/// queue time first.
fn errands_section(out: &mut String, kpis: &[KpiRow], balked: u64) {
    out.push_str("<section id=\"errands\">\n<h2>Food outlets and shops: balks and waits</h2>\n");
    let mut outlets: Vec<&KpiRow> = kpis.iter().filter(|k| k.kind == "food" || k.kind == "shop").collect();
    let came: u64 = outlets.iter().map(|k| k.entries).sum();
    w!(
        out,
        "<p><strong class=\"balked\">{}</strong> {} saw a queue too long at a food outlet or shop and went \
         elsewhere (balked){}.</p>\n",
        num_grouped(balked as f64, 0),
        if balked == 1 { "customer" } else { "customers" },
        if came > 0 {
            format!(": {}% of the {} who came", percent(balked, came), num_grouped(came as f64, 0))
        } else {
            String::new()
        }
    );
    if outlets.is_empty() {
        out.push_str("<p class=\"note\">No food outlets or shops in this run.</p>\n</section>\n");
        return;
    }
    outlets.sort_by(|a, b| clean(b.total_queue_time_s).total_cmp(&clean(a.total_queue_time_s)));
    out.push_str(
        "<table>\n<thead><tr><th>Outlet</th><th>Kind</th><th class=\"n\">Customers (entries)</th>\
         <th class=\"n\">Balked</th><th class=\"n\">Mean wait (min)</th><th class=\"n\">Total queue time (min)</th>\
         <th class=\"n\">Max queue (persons)</th></tr></thead>\n<tbody>\n",
    );
    for k in outlets {
        w!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{} ({}%)</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td></tr>\n",
            name_cell(&k.name, &k.place),
            esc(&k.kind),
            num_grouped(k.entries as f64, 0),
            num_grouped(k.balked as f64, 0),
            percent(k.balked, k.entries),
            num_grouped(clean(k.mean_wait_s) / 60.0, 1),
            num_grouped(clean(k.total_queue_time_s) / 60.0, 1),
            num_grouped(clean(k.max_queue), 1)
        );
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

/// The points of a shape that must fit on the map.
fn shape_extent(shape: &MapShape) -> Vec<[f64; 2]> {
    match shape {
        MapShape::Outline(points) | MapShape::Line { points, .. } => points.clone(),
        MapShape::Disc { centre: [x, y], radius_m } => {
            let r = clean(*radius_m);
            vec![[x - r, y - r], [x + r, y + r]]
        }
    }
}

/// Area of a shape in m², for drawing large places first.
fn shape_area(shape: &MapShape) -> f64 {
    match shape {
        MapShape::Outline(points) => {
            let n = points.len();
            let twice: f64 =
                (0..n).map(|i| points[i][0] * points[(i + 1) % n][1] - points[(i + 1) % n][0] * points[i][1]).sum();
            clean(twice.abs() / 2.0)
        }
        MapShape::Disc { radius_m, .. } => std::f64::consts::PI * clean(*radius_m).powi(2),
        MapShape::Line { .. } => 0.0,
    }
}

/// Where the site goes on the map: site metres to SVG units, north up.
struct MapFrame {
    /// Smallest x and y of the site, m.
    x0: f64,
    y0: f64,
    /// SVG units per metre.
    scale: f64,
    /// x of the site's west edge in the SVG.
    left: f64,
    /// Size of the SVG.
    width: f64,
    height: f64,
}

impl MapFrame {
    /// The frame fitting every element of `map` into the map with a margin;
    /// none when no element has a finite point.
    fn fit(map: &[MapElement]) -> Option<MapFrame> {
        let points: Vec<[f64; 2]> =
            map.iter().flat_map(|e| shape_extent(&e.shape)).filter(|p| p[0].is_finite() && p[1].is_finite()).collect();
        let x0 = points.iter().map(|p| p[0]).reduce(f64::min)?;
        let x1 = points.iter().map(|p| p[0]).fold(x0, f64::max);
        let y0 = points.iter().map(|p| p[1]).fold(f64::INFINITY, f64::min);
        let y1 = points.iter().map(|p| p[1]).fold(y0, f64::max);
        let (dx, dy) = ((x1 - x0).max(1.0), (y1 - y0).max(1.0));
        let scale = ((MAP_W - 2.0 * MAP_MARGIN) / dx).min((MAP_H_MAX - 2.0 * MAP_MARGIN) / dy);
        let height = (dy * scale + 2.0 * MAP_MARGIN).max(160.0).round();
        Some(MapFrame { x0, y0, scale, left: (MAP_W - dx * scale) / 2.0, width: MAP_W, height })
    }

    /// SVG position of site point `p`: x east, y flipped so that north is up.
    fn at(&self, p: [f64; 2]) -> (f64, f64) {
        (
            self.left + (finite(p[0]) - self.x0) * self.scale,
            self.height - MAP_MARGIN - (finite(p[1]) - self.y0) * self.scale,
        )
    }

    /// The points of `points` as an SVG `points` attribute.
    fn points(&self, points: &[[f64; 2]]) -> String {
        let mut text = String::with_capacity(points.len() * 14);
        for &p in points {
            let (x, y) = self.at(p);
            w!(text, "{},{} ", num(x, 1), num(y, 1));
        }
        text.trim_end().to_string()
    }
}

/// Styles of the site map's shapes and labels.
const MAP_STYLE: &str = "<style>.place{stroke:#333;stroke-width:0.8;fill-opacity:0.9}\
.walkway{fill:none;stroke-linecap:round;stroke-linejoin:round}\
text.lbl{font-size:11px;fill:#111;paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}</style>\n";

/// The tooltip of a map element.
fn map_title(e: &MapElement) -> String {
    format!(
        "{} ({}, {}): peak LOS {}, peak density {} P/m\u{b2}",
        esc(display_name(&e.name, &e.id)),
        esc(&e.id),
        esc(&e.kind),
        los_letter(e.peak_los),
        num(clean(e.peak_density_p_per_m2), 2)
    )
}

/// The site map: every place (its outline, or a circle of its area) and
/// walkway (its centre line, as wide as it is but at least visible) in the
/// colour of its worst level of service over the run, place names, a
/// north arrow, a scale bar and the LOS legend.
fn site_map_section(out: &mut String, map: &[MapElement]) {
    out.push_str("<section id=\"map\">\n<h2>Site map: worst level of service</h2>\n");
    if MapFrame::fit(map).is_none() {
        out.push_str("<p class=\"note\">No site geometry in this run.</p>\n</section>\n");
        return;
    }
    out.push_str(
        "<p>Each place and walkway in the colour of its worst level of service over the run. Places where people \
         queue (gates, venues, food outlets, shops, transit stops) are rated on Fruin's queueing thresholds and \
         walkways, plazas and fan zones on his walkway thresholds, because people standing in line accept more \
         density than people walking: the same density is a better letter at a queue than on a walkway.</p>\n",
    );
    site_svg(out, map, "Site map, each place and walkway coloured by its worst level of service", &|e: &MapElement| {
        los_colour(e.peak_los)
    });
    out.push_str("<ul class=\"legend\">\n");
    for (letter, colour) in Los::ALL.map(|los| (los.letter(), los.colour_hex())) {
        w!(out, "<li><span class=\"sw\" style=\"background:{colour}\"></span>LOS {letter}</li>\n");
    }
    out.push_str("</ul>\n</section>\n");
}

/// The site as SVG in `frame`: walkways under places (the worst level of
/// service on top), large places under small ones, each filled with
/// `colour`, place names, a north arrow and a scale bar. The report's map
/// and compare's change map. Writes nothing when no element has a point.
pub(crate) fn site_svg(
    out: &mut String,
    map: &[MapElement],
    label: &str,
    colour: &dyn Fn(&MapElement) -> &'static str,
) {
    let Some(frame) = MapFrame::fit(map) else { return };
    let frame = &frame;
    svg_open(out, frame.width, frame.height, label, "");
    out.push_str(SVG_STYLE);
    out.push_str(MAP_STYLE);
    let mut walkways: Vec<&MapElement> = map.iter().filter(|e| matches!(e.shape, MapShape::Line { .. })).collect();
    walkways.sort_by_key(|e| e.peak_los.min(5));
    let mut places: Vec<&MapElement> = map.iter().filter(|e| !matches!(e.shape, MapShape::Line { .. })).collect();
    places.sort_by(|a, b| shape_area(&b.shape).total_cmp(&shape_area(&a.shape)));
    for e in walkways.iter().chain(&places) {
        map_shape(out, frame, e, colour(e));
    }
    map_labels(out, frame, &places);
    map_furniture(out, frame);
    out.push_str("</svg>\n");
}

/// Height of a map label's box, SVG units.
const LABEL_H: f64 = 13.0;

/// The place names, largest place first: each at its place, kept inside the
/// map and moved up or down a line or two where it would cover a name
/// already written (left where it is when every try does).
fn map_labels(out: &mut String, frame: &MapFrame, places: &[&MapElement]) {
    let mut taken: Vec<[f64; 4]> = Vec::new();
    let overlaps = |a: &[f64; 4], b: &[f64; 4]| a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3];
    for e in places {
        let Some(at) = e.label_at else { continue };
        let name = display_name(&e.name, &e.id);
        // About 6 SVG units per character at 11 px.
        let half = name.chars().count() as f64 * 3.1;
        let (x, y) = frame.at(at);
        let x = if 2.0 * half + 8.0 < frame.width { x.clamp(4.0 + half, frame.width - 4.0 - half) } else { x };
        let boxed = |y: f64| [x - half, y - LABEL_H / 2.0, x + half, y + LABEL_H / 2.0];
        let y = [0.0, LABEL_H, -LABEL_H, 2.0 * LABEL_H, -2.0 * LABEL_H]
            .into_iter()
            .map(|dy| (y + dy).clamp(LABEL_H, frame.height - LABEL_H))
            .find(|&y| !taken.iter().any(|t| overlaps(t, &boxed(y))))
            .unwrap_or(y);
        taken.push(boxed(y));
        w!(
            out,
            "<text class=\"lbl\" x=\"{}\" y=\"{}\" dy=\"0.32em\" text-anchor=\"middle\">{}</text>\n",
            num(x, 1),
            num(y, 1),
            esc(name)
        );
    }
}

/// One shape of the site map.
fn map_shape(out: &mut String, frame: &MapFrame, e: &MapElement, colour: &str) {
    match &e.shape {
        MapShape::Outline(points) => w!(
            out,
            "<polygon class=\"place\" data-id=\"{}\" points=\"{}\" fill=\"{colour}\"><title>{}</title></polygon>\n",
            esc(&e.id),
            frame.points(points),
            map_title(e)
        ),
        MapShape::Disc { centre, radius_m } => {
            let (x, y) = frame.at(*centre);
            w!(
                out,
                "<circle class=\"place\" data-id=\"{}\" cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{colour}\"><title>{}</title>\
                 </circle>\n",
                esc(&e.id),
                num(x, 1),
                num(y, 1),
                num((clean(*radius_m) * frame.scale).max(3.0), 1),
                map_title(e)
            );
        }
        MapShape::Line { points, width_m } => w!(
            out,
            "<polyline class=\"walkway\" data-id=\"{}\" points=\"{}\" stroke=\"{colour}\" stroke-width=\"{}\"><title>{}\
             </title></polyline>\n",
            esc(&e.id),
            frame.points(points),
            num((clean(*width_m) * frame.scale).clamp(2.0, 12.0), 1),
            map_title(e)
        ),
    }
}

/// The north arrow and a scale bar of a round length.
fn map_furniture(out: &mut String, frame: &MapFrame) {
    let (x, y) = (frame.width - 20.0, 14.0);
    w!(
        out,
        "<path d=\"M{x} {y} l-6 16 l6 -4 l6 4 z\" fill=\"#333\"/><text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">N</text>\n",
        num(y + 28.0, 1)
    );
    let most_m = 0.25 * (frame.width - 2.0 * MAP_MARGIN) / frame.scale;
    let length_m = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1_000.0, 2_000.0, 5_000.0, 10_000.0]
        .into_iter()
        .rfind(|&l| l <= most_m)
        .unwrap_or(1.0);
    let (x0, y0) = (MAP_MARGIN, frame.height - 12.0);
    let x1 = x0 + length_m * frame.scale;
    w!(
        out,
        "<line class=\"axis\" x1=\"{a}\" y1=\"{y}\" x2=\"{b}\" y2=\"{y}\"/><line class=\"axis\" x1=\"{a}\" y1=\"{t}\" \
         x2=\"{a}\" y2=\"{y}\"/><line class=\"axis\" x1=\"{b}\" y1=\"{t}\" x2=\"{b}\" y2=\"{y}\"/><text x=\"{}\" \
         y=\"{}\">{} m</text>\n",
        num(x1 + 6.0, 1),
        num(y0 + 4.0, 1),
        num_grouped(length_m, 0),
        a = num(x0, 1),
        b = num(x1, 1),
        y = num(y0, 1),
        t = num(y0 - 5.0, 1)
    );
}

#[cfg(test)]
mod tests;
