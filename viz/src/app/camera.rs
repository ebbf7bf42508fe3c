//! The cameras: a 3D camera orbiting the site (drag to orbit, right- or
//! middle-drag to pan, wheel to zoom, `H` for home) that ignores input egui
//! has taken, drawing into the area between the panels; and a 2D camera on
//! top that draws only the panels. Without a window both draw into an image.

use super::{LEFT_PANEL_WIDTH_PX, RIGHT_PANEL_WIDTH_PX, TIMELINE_HEIGHT_PX, ViewerData, ViewerSet};
use crate::site::Site;
use bevy::asset::RenderAssetUsages;
use bevy::camera::visibility::RenderLayers;
use bevy::camera::{CameraOutputMode, RenderTarget, Viewport};
use bevy::core_pipeline::tonemapping::{DebandDither, Tonemapping};
use bevy::input::mouse::{AccumulatedMouseMotion, AccumulatedMouseScroll, MouseScrollUnit};
use bevy::light::GlobalAmbientLight;
use bevy::prelude::*;
use bevy::render::render_resource::{BlendState, TextureFormat};
use bevy::window::PrimaryWindow;
use bevy_egui::input::EguiWantsInput;
use bevy_egui::{EguiGlobalSettings, PrimaryEguiContext};
use std::f32::consts::FRAC_PI_4;

/// Vertical field of view, rad.
pub const FIELD_OF_VIEW_RAD: f32 = FRAC_PI_4;
/// Near plane, m.
pub const NEAR_PLANE_M: f32 = 1.0;
/// Home view: the camera looks down at this angle, rad.
pub const HOME_PITCH_RAD: f32 = 1.25;
/// Home view: how far from the centre the site's corners may reach, in
/// normalised device coordinates (1: the viewport's edge).
pub const HOME_MARGIN_NDC: f32 = 0.9;
/// Steepest and flattest views, rad.
pub const PITCH_RANGE_RAD: (f32, f32) = (0.15, 1.5);
/// Closest and farthest orbit, m.
pub const DISTANCE_RANGE_M: (f32, f32) = (20.0, 20_000.0);

/// The image drawn into without a window.
#[derive(Resource, Clone, Debug)]
pub struct HeadlessTarget {
    /// The image.
    pub image: Handle<Image>,
    /// Its size, px.
    pub size: UVec2,
}

/// An orbit around a point on the ground.
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub struct Orbit {
    /// The point looked at.
    pub focus: Vec3,
    /// Distance from it, m.
    pub distance: f32,
    /// Turn about the vertical, rad (0: looking north).
    pub yaw: f32,
    /// Angle below the horizontal, rad.
    pub pitch: f32,
}

impl Orbit {
    /// The view that shows the whole site in a viewport of `viewport_px`:
    /// the closest orbit from which every point of every pad and walkway
    /// strip is on screen with a small margin (so the drawn site, not its
    /// bounding rectangle, fills the view), its focus moved north or south
    /// so that the site sits in the middle of the view (perspective draws
    /// the near side larger than the far side).
    pub fn home(site: &Site, viewport_px: Vec2) -> Orbit {
        let (min, max) = site.bounds();
        let aspect = (viewport_px.x / viewport_px.y.max(1.0)).max(0.1);
        let clip_from_view = Mat4::perspective_infinite_reverse_rh(FIELD_OF_VIEW_RAD, aspect, NEAR_PLANE_M);
        let mut points: Vec<[f32; 2]> = site.drawn_points().collect();
        if points.is_empty() {
            points = vec![[min[0], min[1]], [min[0], max[1]], [max[0], min[1]], [max[0], max[1]]];
        }
        // The points' lowest and highest NDC y and widest NDC x, or None
        // when one is behind the camera.
        let span = |orbit: &Orbit| {
            let clip_from_world = clip_from_view * orbit.transform().to_matrix().inverse();
            let (mut low, mut high, mut wide) = (f32::INFINITY, f32::NEG_INFINITY, 0.0_f32);
            for &[x, z] in &points {
                let clip = clip_from_world * Vec4::new(x, 0.0, z, 1.0);
                if clip.w <= 0.0 {
                    return None;
                }
                let (ndc_x, ndc_y) = (clip.x / clip.w, clip.y / clip.w);
                (low, high, wide) = (low.min(ndc_y), high.max(ndc_y), wide.max(ndc_x.abs()));
            }
            Some((low, high, wide))
        };
        let fits = |orbit: &Orbit| {
            span(orbit).is_some_and(|(low, high, wide)| {
                low >= -HOME_MARGIN_NDC && high <= HOME_MARGIN_NDC && wide <= HOME_MARGIN_NDC
            })
        };
        let closest = |focus: Vec3| {
            let (mut near, mut far) = DISTANCE_RANGE_M;
            for _ in 0..40 {
                let middle = (near + far) / 2.0;
                if fits(&Orbit { focus, distance: middle, yaw: 0.0, pitch: HOME_PITCH_RAD }) {
                    far = middle;
                } else {
                    near = middle;
                }
            }
            Orbit { focus, distance: far, yaw: 0.0, pitch: HOME_PITCH_RAD }
        };
        // Moving the focus south moves the site up the screen.
        let (mut south, mut north) = (max[1], min[1]);
        let mut orbit = closest(Vec3::new((min[0] + max[0]) / 2.0, 0.0, (min[1] + max[1]) / 2.0));
        for _ in 0..20 {
            let z = (south + north) / 2.0;
            orbit = closest(Vec3::new(orbit.focus.x, 0.0, z));
            match span(&orbit) {
                // Too high on the screen: the focus goes north.
                Some((low, high, _)) if low + high > 0.0 => south = z,
                _ => north = z,
            }
        }
        orbit
    }

    /// Where the camera stands and looks.
    pub fn transform(&self) -> Transform {
        let offset = Vec3::new(self.yaw.sin() * self.pitch.cos(), self.pitch.sin(), self.yaw.cos() * self.pitch.cos())
            * self.distance;
        Transform::from_translation(self.focus + offset).looking_at(self.focus, Vec3::Y)
    }
}

/// The 3D view's rectangle `(position, size)` in a target of `target_px`
/// physical px at `scale` physical px per logical px: between the panels.
pub fn viewport_rect(target_px: UVec2, scale: f32) -> (UVec2, UVec2) {
    let left = (LEFT_PANEL_WIDTH_PX * scale) as u32;
    let right = (RIGHT_PANEL_WIDTH_PX * scale) as u32;
    let bottom = (TIMELINE_HEIGHT_PX * scale) as u32;
    let width = target_px.x.saturating_sub(left + right).max(1);
    let height = target_px.y.saturating_sub(bottom).max(1);
    (UVec2::new(left.min(target_px.x - 1), 0), UVec2::new(width, height))
}

/// Where `world` appears from `orbit` in a target of `target_px` physical
/// px at `scale` physical px per logical px: logical px from the target's
/// top left (`None`: behind the camera).
pub fn project(orbit: &Orbit, target_px: UVec2, scale: f32, world: Vec3) -> Option<Vec2> {
    let (position, size) = viewport_rect(target_px, scale);
    let (position, size) = (position.as_vec2() / scale, size.as_vec2() / scale);
    let view = orbit.transform().to_matrix().inverse();
    let clip = Mat4::perspective_infinite_reverse_rh(FIELD_OF_VIEW_RAD, size.x / size.y, NEAR_PLANE_M)
        * view
        * world.extend(1.0);
    if clip.w <= 0.0 {
        return None;
    }
    let ndc = clip.truncate() / clip.w;
    Some(position + Vec2::new((ndc.x + 1.0) / 2.0 * size.x, (1.0 - ndc.y) / 2.0 * size.y))
}

/// Where `world` appears in a `target_px` image rendered without a window
/// from the home view, px from the top left (`None`: behind the camera).
pub fn project_home(site: &Site, target_px: UVec2, world: Vec3) -> Option<Vec2> {
    let (_, size) = viewport_rect(target_px, 1.0);
    project(&Orbit::home(site, size.as_vec2()), target_px, 1.0, world)
}

/// The target's size in physical px and its scale (physical px per logical
/// px): the headless image's, or the primary window's.
pub fn target_size(headless: Option<&HeadlessTarget>, window: Option<&Window>) -> Option<(UVec2, f32)> {
    match (headless, window) {
        (Some(headless), _) => Some((headless.size, 1.0)),
        (None, Some(window)) => Some((window.physical_size(), window.scale_factor())),
        (None, None) => None,
    }
}

/// The 3D camera.
#[derive(Component)]
pub struct SceneCamera;

/// The cameras and the light.
pub struct CameraPlugin {
    /// Draw into an image of this size instead of a window.
    pub headless_size: Option<UVec2>,
}

impl Plugin for CameraPlugin {
    fn build(&self, app: &mut App) {
        if let Some(size) = self.headless_size {
            let mut image = Image::new_target_texture(size.x, size.y, TextureFormat::Rgba8UnormSrgb, None);
            image.asset_usage = RenderAssetUsages::RENDER_WORLD | RenderAssetUsages::MAIN_WORLD;
            let handle = app.world_mut().resource_mut::<Assets<Image>>().add(image);
            app.insert_resource(HeadlessTarget { image: handle, size });
        }
        app.insert_resource(ClearColor(Color::srgb_u8(28, 32, 38)))
            .add_systems(Startup, spawn_cameras)
            .add_systems(Update, (fit_viewport, orbit_input).chain().in_set(ViewerSet::Input));
    }
}

fn spawn_cameras(
    mut commands: Commands,
    data: Res<ViewerData>,
    headless: Option<Res<HeadlessTarget>>,
    mut egui_settings: ResMut<EguiGlobalSettings>,
    window: Query<&Window, With<PrimaryWindow>>,
) {
    egui_settings.auto_create_primary_context = false;
    let target = match &headless {
        Some(headless) => RenderTarget::Image(headless.image.clone().into()),
        None => RenderTarget::default(),
    };
    let (target_px, scale) =
        target_size(headless.as_deref(), window.single().ok()).unwrap_or((UVec2::new(1280, 720), 1.0));
    let (_, size) = viewport_rect(target_px, scale);
    let orbit = Orbit::home(data.site(), size.as_vec2());
    commands.spawn((
        SceneCamera,
        Camera3d::default(),
        target.clone(),
        Projection::Perspective(PerspectiveProjection { fov: FIELD_OF_VIEW_RAD, near: NEAR_PLANE_M, ..default() }),
        Msaa::Off,
        // Exact colours: level-of-service colours must read as themselves.
        Tonemapping::None,
        DebandDither::Disabled,
        orbit,
        orbit.transform(),
    ));
    commands.spawn((
        PrimaryEguiContext,
        Camera2d,
        target,
        RenderLayers::none(),
        Msaa::Off,
        Camera {
            order: 1,
            output_mode: CameraOutputMode::Write {
                blend_state: Some(BlendState::ALPHA_BLENDING),
                clear_color: ClearColorConfig::None,
            },
            clear_color: ClearColorConfig::Custom(Color::NONE),
            ..default()
        },
    ));
    commands.spawn((
        DirectionalLight { illuminance: 9_000.0, shadow_maps_enabled: false, ..default() },
        Transform::from_xyz(300.0, 1_000.0, 600.0).looking_at(Vec3::ZERO, Vec3::Y),
    ));
    commands.insert_resource(GlobalAmbientLight { brightness: 600.0, ..default() });
}

/// Keeps the 3D view between the panels as the window changes size.
fn fit_viewport(
    headless: Option<Res<HeadlessTarget>>,
    window: Query<&Window, With<PrimaryWindow>>,
    mut camera: Query<&mut Camera, With<SceneCamera>>,
) {
    let Some((target_px, scale)) = target_size(headless.as_deref(), window.single().ok()) else { return };
    let (physical_position, physical_size) = viewport_rect(target_px, scale);
    for mut camera in &mut camera {
        let unchanged = camera
            .viewport
            .as_ref()
            .is_some_and(|v| v.physical_position == physical_position && v.physical_size == physical_size);
        if !unchanged {
            camera.viewport = Some(Viewport { physical_position, physical_size, ..default() });
        }
    }
}

/// Orbit, pan and zoom, unless egui wants the pointer.
fn orbit_input(
    buttons: Res<ButtonInput<MouseButton>>,
    keys: Res<ButtonInput<KeyCode>>,
    motion: Res<AccumulatedMouseMotion>,
    scroll: Res<AccumulatedMouseScroll>,
    egui: Res<EguiWantsInput>,
    data: Res<ViewerData>,
    mut camera: Query<(&mut Orbit, &mut Transform, &Camera), With<SceneCamera>>,
) {
    let Ok((mut orbit, mut transform, camera)) = camera.single_mut() else { return };
    let before = *orbit;
    if keys.just_pressed(KeyCode::KeyH) && !egui.wants_any_keyboard_input() {
        let size = camera.viewport.as_ref().map_or(Vec2::new(1280.0, 720.0), |v| v.physical_size.as_vec2());
        *orbit = Orbit::home(data.site(), size);
    }
    if !egui.wants_any_pointer_input() {
        let delta = motion.delta;
        if buttons.pressed(MouseButton::Left) {
            orbit.yaw -= delta.x * 0.005;
            orbit.pitch = (orbit.pitch + delta.y * 0.005).clamp(PITCH_RANGE_RAD.0, PITCH_RANGE_RAD.1);
        }
        if buttons.pressed(MouseButton::Right) || buttons.pressed(MouseButton::Middle) {
            // Move the focus on the ground, as far as the pointer moved there.
            let per_px = orbit.distance * 0.0015;
            let right = Vec3::new(orbit.yaw.cos(), 0.0, -orbit.yaw.sin());
            let forward = Vec3::new(-orbit.yaw.sin(), 0.0, -orbit.yaw.cos());
            orbit.focus += (-right * delta.x + forward * delta.y) * per_px;
        }
        let lines = match scroll.unit {
            MouseScrollUnit::Line => scroll.delta.y,
            MouseScrollUnit::Pixel => scroll.delta.y / 40.0,
        };
        if lines != 0.0 {
            orbit.distance = (orbit.distance * 0.9_f32.powf(lines)).clamp(DISTANCE_RANGE_M.0, DISTANCE_RANGE_M.1);
        }
    }
    if *orbit != before {
        *transform = orbit.transform();
    }
}
