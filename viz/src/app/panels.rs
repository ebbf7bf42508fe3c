//! The panels (egui): the timeline at the bottom (play, pause, speed, scrub;
//! live: now to the end of the forecast, P90 layer), KPIs and alerts on the
//! left, the place inspector with a small time series on the right.

use super::playback::Playback;
use super::scene::CHANGES;
use super::{
    Comparison, CurrentFrame, LEFT_PANEL_WIDTH_PX, RIGHT_PANEL_WIDTH_PX, Selected, Source, TIMELINE_HEIGHT_PX,
    ViewerData, los_rgb,
};
use crate::frame::{Alert, count_people};
use crate::live::LiveData;
use crate::replay::{Replay, kpi_label, kpi_value, with_thousands};
use bevy::prelude::*;
use bevy_egui::egui::{self, Color32, LayerId, Pos2, Stroke, Ui, UiBuilder};
use bevy_egui::{EguiContexts, EguiPrimaryContextPass};
use crowdtwin_sim::model::Los;
use crowdtwin_sim::scenario::format_clock;

/// Playback speeds offered, simulated s per real s.
pub const SPEEDS: [f64; 6] = [1.0, 10.0, 60.0, 300.0, 900.0, 3_600.0];
/// Height of the inspector's plot, logical px.
pub const PLOT_HEIGHT_PX: f32 = 120.0;

/// The panels.
pub struct PanelsPlugin;

impl Plugin for PanelsPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(EguiPrimaryContextPass, draw_panels);
    }
}

fn level_colour(los: Los) -> Color32 {
    let [r, g, b] = los_rgb(los);
    Color32::from_rgb(r, g, b)
}

fn clock(seconds: f64) -> String {
    format_clock(seconds.max(0.0) as u32)
}

fn draw_panels(
    mut contexts: EguiContexts,
    data: Res<ViewerData>,
    frame: Res<CurrentFrame>,
    mut playback: ResMut<Playback>,
    mut selected: ResMut<Selected>,
    comparison: Res<Comparison>,
) -> Result {
    // Until the user picks one, the inspector shows the first alert's element.
    if selected.0.is_none() {
        selected.0 = frame.0.alerts.first().map(|a| a.element);
    }
    let ctx = contexts.ctx_mut()?;
    let mut root = Ui::new(
        ctx.clone(),
        "viewer".into(),
        UiBuilder::new().layer_id(LayerId::background()).max_rect(ctx.viewport_rect()),
    );
    egui::Panel::bottom("timeline").exact_size(TIMELINE_HEIGHT_PX).resizable(false).show(&mut root, |ui| {
        match &data.0 {
            Source::Replay(replay) => replay_timeline(ui, replay, &mut playback),
            Source::Live { data, .. } => live_timeline(ui, data, &mut playback),
        }
    });
    egui::Panel::left("overview").exact_size(LEFT_PANEL_WIDTH_PX).resizable(false).show(&mut root, |ui| {
        if let Some(map) = &comparison.0 {
            change_legend(ui, map);
        }
        overview(ui, &data, &frame, &mut selected);
    });
    egui::Panel::right("inspector").exact_size(RIGHT_PANEL_WIDTH_PX).resizable(false).show(&mut root, |ui| {
        inspector(ui, &data, &frame, &playback, &mut selected);
    });
    Ok(())
}

fn speed_choice(ui: &mut Ui, playback: &mut Playback) {
    egui::ComboBox::from_id_salt("speed").selected_text(format!("{}x", playback.speed)).show_ui(ui, |ui| {
        for speed in SPEEDS {
            ui.selectable_value(&mut playback.speed, speed, format!("{speed}x"));
        }
    });
}

fn replay_timeline(ui: &mut Ui, replay: &Replay, playback: &mut Playback) {
    let start = replay.site.start_clock_s as f64;
    ui.horizontal(|ui| {
        let label = if playback.playing { "Pause" } else { "Play" };
        if ui.button(label).clicked() {
            playback.playing = !playback.playing;
        }
        speed_choice(ui, playback);
        ui.monospace(clock(start + playback.time_s));
        ui.label(format!("{} to {}", clock(start), clock(start + replay.duration_s())));
    });
    ui.spacing_mut().slider_width = ui.available_width() - 20.0;
    let slider = egui::Slider::new(&mut playback.time_s, 0.0..=replay.duration_s())
        .show_value(false)
        .custom_formatter(move |value, _| clock(start + value));
    ui.add(slider);
}

fn live_timeline(ui: &mut Ui, live: &LiveData, playback: &mut Playback) {
    ui.horizontal(|ui| {
        match &live.state {
            Some(state) => ui.monospace(format!("now {}", state.clock)),
            None => ui.label("waiting for the live service..."),
        };
        let horizon = live.horizon_min();
        if horizon > 0 {
            ui.label(format!("forecast +{} min (P50; rings: P90)", playback.minutes_ahead));
            ui.checkbox(&mut playback.show_p90, "P90 rings");
        }
        if let Some(error) = &live.error {
            ui.colored_label(Color32::LIGHT_RED, error);
        }
    });
    let horizon = live.horizon_min();
    ui.spacing_mut().slider_width = ui.available_width() - 20.0;
    ui.add(egui::Slider::new(&mut playback.minutes_ahead, 0..=horizon).show_value(false));
}

/// One alert: its level as a badge in the level's colour (dark letter), the
/// rest in the panel's own text colour, so that it reads on the selection
/// highlight too.
fn alert_row(ui: &mut Ui, alert: &Alert, selected: &mut Selected) {
    ui.horizontal(|ui| {
        let badge = egui::RichText::new(format!(" {} ", alert.level.letter()))
            .strong()
            .monospace()
            .color(Color32::BLACK)
            .background_color(level_colour(alert.level));
        ui.label(badge);
        let text = format!("{} {}", alert.at, alert.detail);
        let chosen = selected.0 == Some(alert.element);
        if ui.add(egui::Button::selectable(chosen, text).wrap()).clicked() {
            selected.0 = Some(alert.element);
        }
    });
}

/// What the colours mean when the site shows a comparison.
fn change_legend(ui: &mut Ui, map: &crate::change::ChangeMap) {
    ui.strong("Coloured by change");
    // (egui's default fonts have no arrow.)
    ui.add(egui::Label::new(format!("base: {}", map.base)).wrap());
    ui.add(egui::Label::new(format!("variant: {}", map.variant)).wrap());
    ui.label(format!("{} paired seeds", map.seeds));
    for change in CHANGES {
        let [r, g, b] = change.colour_rgb();
        ui.horizontal(|ui| {
            let badge = egui::RichText::new("   ").background_color(Color32::from_rgb(r, g, b));
            ui.label(badge);
            ui.label(format!("{}: {}", change.label(), map.count(change)));
        });
    }
    ui.separator();
}

fn overview(ui: &mut Ui, data: &ViewerData, frame: &CurrentFrame, selected: &mut Selected) {
    let site = data.site();
    ui.heading(&site.name);
    ui.monospace(clock(frame.0.clock_s));
    let attendance = match &data.0 {
        Source::Replay(replay) => replay.attendance.as_deref(),
        Source::Live { .. } => None,
    };
    let people = count_people(site, &frame.0, attendance);
    let seated = people.seated.map_or("not reported".to_string(), |s| with_thousands(s as f64, 0));
    egui::Grid::new("overview-grid").num_columns(2).show(ui, |ui| {
        for (name, value) in [
            ("Seated (sessions under way)", seated),
            ("At places", with_thousands(people.at_places, 0)),
            ("  of whom queueing", with_thousands(people.queueing, 0)),
            ("Walking", with_thousands(people.walking, 0)),
            ("At LOS E or F", format!("{}", frame.0.elements.iter().filter(|e| e.los >= Los::E).count())),
        ] {
            ui.label(name);
            ui.monospace(value);
            ui.end_row();
        }
    });
    ui.separator();
    ui.strong("Key figures");
    egui::ScrollArea::vertical().id_salt("kpis").max_height(200.0).show(ui, |ui| match &data.0 {
        Source::Replay(replay) => {
            egui::Grid::new("kpi-grid").num_columns(2).show(ui, |ui| {
                for (name, value) in &replay.kpis {
                    ui.label(kpi_label(name));
                    ui.add(egui::Label::new(kpi_value(site, name, value)).wrap());
                    ui.end_row();
                }
            });
        }
        Source::Live { data, .. } => {
            if let Some(state) = &data.state {
                ui.label(format!("Effective forecast members: {:.1}", state.effective_members));
                ui.label(format!("Arrivals against plan: {:.2}x", state.arrival_scale));
            }
            if let Some(forecast) = &data.forecast {
                ui.label(format!("Forecast issued {}", forecast.issued_at));
            }
        }
    });
    ui.separator();
    ui.strong(format!("Alerts ({})", frame.0.alerts.len()));
    egui::ScrollArea::vertical().id_salt("alerts").show(ui, |ui| {
        for alert in &frame.0.alerts {
            alert_row(ui, alert, selected);
        }
    });
}

fn inspector(ui: &mut Ui, data: &ViewerData, frame: &CurrentFrame, playback: &Playback, selected: &mut Selected) {
    let site = data.site();
    ui.heading("Inspector");
    let name = selected.0.map_or("(choose a place)".to_string(), |e| site.element_name(e));
    egui::ComboBox::from_id_salt("element").selected_text(name).width(RIGHT_PANEL_WIDTH_PX - 30.0).show_ui(ui, |ui| {
        for element in 0..site.element_count() {
            ui.selectable_value(&mut selected.0, Some(element), site.element_name(element));
        }
    });
    let Some(element) = selected.0 else { return };
    let Some(now) = frame.0.elements.get(element) else { return };
    egui::Grid::new("inspector-grid").num_columns(2).show(ui, |ui| {
        let p90 = now.los_p90.map_or(String::new(), |l| format!(" (P90 {})", l.letter()));
        for (label, value) in [
            ("kind", site.element_kind(element).to_string()),
            ("people", format!("{:.0}", now.occupancy)),
            ("density", format!("{:.2} P/m²", now.density_p_per_m2)),
            ("level of service", format!("{}{p90}", now.los.letter())),
            ("queueing", format!("{:.0}", now.queue_length)),
        ] {
            ui.label(label);
            ui.monospace(value);
            ui.end_row();
        }
    });
    ui.separator();
    match &data.0 {
        Source::Replay(replay) => {
            ui.label("people over the run");
            let series: Vec<(f64, f64)> = (0..replay.intervals)
                .map(|i| ((i as u32 * replay.interval_s) as f64, replay.sample(element, i).occupancy))
                .collect();
            plot(ui, &[(series, Color32::LIGHT_BLUE)], Some(playback.time_s));
        }
        Source::Live { data, .. } => {
            ui.label("people: past (white), forecast P50 (blue), P90 (red)");
            let past: Vec<(f64, f64)> = data.history.iter().map(|(t, o)| (*t, o[element])).collect();
            let forecast = data.forecast_series(element);
            let p50 = forecast.iter().map(|&(t, p50, _)| (t, p50)).collect();
            let p90 = forecast.iter().map(|&(t, _, p90)| (t, p90)).collect();
            let now = data.state.as_ref().map(|s| site.start_clock_s as f64 + s.time_s as f64);
            plot(ui, &[(past, Color32::WHITE), (p50, Color32::LIGHT_BLUE), (p90, Color32::LIGHT_RED)], now);
        }
    }
}

/// A small line plot of `(x, y)` series sharing axes, with a marker at `at`.
fn plot(ui: &mut Ui, series: &[(Vec<(f64, f64)>, Color32)], at: Option<f64>) {
    let points = series.iter().flat_map(|(s, _)| s.iter());
    let (mut x0, mut x1, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, 1.0_f64);
    for &(x, y) in points {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    let (response, painter) =
        ui.allocate_painter(egui::vec2(ui.available_width(), PLOT_HEIGHT_PX), egui::Sense::hover());
    let rect = response.rect;
    painter.rect_filled(rect, 2.0, Color32::from_gray(20));
    if x1 <= x0 {
        return;
    }
    let to_screen = |x: f64, y: f64| {
        Pos2::new(
            rect.left() + ((x - x0) / (x1 - x0)) as f32 * rect.width(),
            rect.bottom() - (y / y1) as f32 * rect.height(),
        )
    };
    for (points, colour) in series {
        let line: Vec<Pos2> = points.iter().map(|&(x, y)| to_screen(x, y)).collect();
        painter.add(egui::Shape::line(line, Stroke::new(1.5, *colour)));
    }
    if let Some(at) = at.filter(|at| (x0..=x1).contains(at)) {
        let x = to_screen(at, 0.0).x;
        painter
            .line_segment([Pos2::new(x, rect.top()), Pos2::new(x, rect.bottom())], Stroke::new(1.0, Color32::YELLOW));
    }
    painter.text(
        rect.left_top(),
        egui::Align2::LEFT_TOP,
        format!("{y1:.0}"),
        egui::FontId::monospace(10.0),
        Color32::GRAY,
    );
}
