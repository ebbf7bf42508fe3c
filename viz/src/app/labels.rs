//! Place names over the 3D view (egui): each name on a dark plate at its
//! place as the camera sees it (on the roof where a building stands),
//! largest place first, moved up or down a line or more where it would cover
//! a name already placed or an element at alert (whose colour must show);
//! an alerted place's plate has a border in the alert colour.

use super::camera::{HeadlessTarget, Orbit, SceneCamera, project, target_size, viewport_rect};
use super::{BEACON_RGB, CurrentFrame, LABEL_PLATE_RGB, LABEL_TEXT_RGB, ViewerData};
use crate::site::Site;
use bevy::prelude::*;
use bevy::window::PrimaryWindow;
use bevy_egui::egui::{self, Color32, FontId, Id, LayerId, Order, Stroke, StrokeKind};
use bevy_egui::{EguiContexts, EguiPrimaryContextPass};

/// Size of the names, logical px.
pub const LABEL_FONT_PX: f32 = 13.0;
/// Space between a name and its plate's edge, logical px.
pub const LABEL_PADDING_PX: f32 = 3.0;

/// Place names.
pub struct LabelsPlugin;

impl Plugin for LabelsPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(EguiPrimaryContextPass, draw_labels);
    }
}

/// Where the label of a place is anchored: its centre, on its roof.
pub fn label_anchor(site: &Site, place: usize) -> Vec3 {
    let place = &site.places[place];
    let height = place.building.map_or(0.0, |b| b.height_m);
    Vec3::new(place.centre[0], height, place.centre[1])
}

/// Plate positions tried for a name, in plate heights from its anchor.
const PLATE_LINES: [f32; 7] = [0.0, -1.0, 1.0, -2.0, 2.0, -3.0, 3.0];

/// Clear space kept between a name's plate and an alerted element, logical px.
pub const KEEP_OFF_MARGIN_PX: f32 = 3.0;

/// The plates of the places' labels in `view`: `(place, plate)` for every
/// place whose anchor projects (`anchors[place]`) inside `view`, a plate of
/// `sizes[place]` centred there or, where that would cover a plate already
/// placed (largest place first) or a point of an alerted element
/// (`keep_off`, on screen), up to three plate heights above or below; where
/// no such place is free, the first of those that covers no other plate,
/// else the anchor.
pub fn arrange_labels(
    site: &Site,
    anchors: &[Option<Vec2>],
    sizes: &[Vec2],
    view: Rect,
    keep_off: &[Vec2],
) -> Vec<(usize, Rect)> {
    let mut order: Vec<usize> = (0..site.places.len()).collect();
    order.sort_by(|&a, &b| site.places[b].area_m2.total_cmp(&site.places[a].area_m2).then(a.cmp(&b)));
    let mut placed: Vec<(usize, Rect)> = Vec::new();
    for place in order {
        let Some(anchor) = anchors[place].filter(|&a| view.contains(a)) else { continue };
        let size = sizes[place];
        let plates = PLATE_LINES.map(|lines| Rect::from_center_size(anchor + Vec2::Y * lines * size.y, size));
        let apart = |plate: &Rect| placed.iter().all(|(_, other)| other.intersect(*plate).is_empty());
        let clear = |plate: &Rect| {
            let around = plate.inflate(KEEP_OFF_MARGIN_PX);
            keep_off.iter().all(|&point| !around.contains(point))
        };
        let plate = plates
            .iter()
            .find(|plate| apart(plate) && clear(plate))
            .or_else(|| plates.iter().find(|plate| apart(plate)))
            .copied()
            .unwrap_or(Rect::from_center_size(anchor, size));
        placed.push((place, plate));
    }
    placed
}

fn colour(rgb: [u8; 3]) -> Color32 {
    Color32::from_rgb(rgb[0], rgb[1], rgb[2])
}

fn draw_labels(
    mut contexts: EguiContexts,
    data: Res<ViewerData>,
    frame: Res<CurrentFrame>,
    camera: Query<&Orbit, With<SceneCamera>>,
    headless: Option<Res<HeadlessTarget>>,
    window: Query<&Window, With<PrimaryWindow>>,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    let (Ok(orbit), Some((target_px, scale))) =
        (camera.single(), target_size(headless.as_deref(), window.single().ok()))
    else {
        return Ok(());
    };
    let (position, size) = viewport_rect(target_px, scale);
    let view = Rect::from_corners(position.as_vec2() / scale, (position + size).as_vec2() / scale);
    let site = data.site();
    let painter = ctx.layer_painter(LayerId::new(Order::Middle, Id::new("place-labels"))).with_clip_rect(
        egui::Rect::from_min_max(egui::pos2(view.min.x, view.min.y), egui::pos2(view.max.x, view.max.y)),
    );
    let galleys: Vec<_> = site
        .places
        .iter()
        .map(|p| painter.layout_no_wrap(p.name.clone(), FontId::proportional(LABEL_FONT_PX), colour(LABEL_TEXT_RGB)))
        .collect();
    let sizes: Vec<Vec2> =
        galleys.iter().map(|g| Vec2::new(g.size().x, g.size().y) + Vec2::splat(2.0 * LABEL_PADDING_PX)).collect();
    let anchors: Vec<Option<Vec2>> =
        (0..site.places.len()).map(|p| project(orbit, target_px, scale, label_anchor(site, p))).collect();
    // Names keep off the elements at alert, so their colour shows.
    let keep_off: Vec<Vec2> = frame
        .0
        .alerts
        .iter()
        .flat_map(|a| site.element_ground_points(a.element))
        .filter_map(|[x, z]| project(orbit, target_px, scale, Vec3::new(x, 0.0, z)))
        .collect();
    for (place, plate) in arrange_labels(site, &anchors, &sizes, view, &keep_off) {
        let rect = egui::Rect::from_min_max(egui::pos2(plate.min.x, plate.min.y), egui::pos2(plate.max.x, plate.max.y));
        painter.rect_filled(rect, 3.0, colour(LABEL_PLATE_RGB));
        if frame.0.alerts.iter().any(|a| a.element == place) {
            painter.rect_stroke(rect, 3.0, Stroke::new(2.0, colour(BEACON_RGB)), StrokeKind::Outside);
        }
        let text_at = rect.min + egui::vec2(LABEL_PADDING_PX, LABEL_PADDING_PX);
        painter.galley(text_at, galleys[place].clone(), colour(LABEL_TEXT_RGB));
    }
    Ok(())
}
