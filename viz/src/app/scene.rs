//! The site in 3D: ground, walkway strips and place pads (their outlines,
//! triangulated) coloured by level of service, buildings sized by capacity
//! with roofs in the same colour, rings in the forecast's 90th-percentile
//! colour, and alert markers (a wide ring and a pillar). Pads and strips
//! have a mesh each; every other part shares one mesh per shape, and all
//! share one material per colour.

use super::playback::Playback;
use super::{BEACON_RGB, Comparison, CurrentFrame, LEVELS, ViewerData, ViewerSet, los_color};
use crate::site::{GroundMesh, Site};
use bevy::asset::RenderAssetUsages;
use bevy::mesh::{Indices, PrimitiveTopology};
use bevy::prelude::*;
use crowdtwin_sim::model::Los;
use crowdtwin_wire::compare::Change;
use std::f32::consts::FRAC_PI_2;

/// Height of the alert pillars, m.
pub const BEACON_HEIGHT_M: f32 = 50.0;
/// Radius of the alert pillars, m.
pub const BEACON_RADIUS_M: f32 = 5.0;
/// Radius of the alert ring around a walkway's middle, m (around a place:
/// its outline's reach plus [`ALERT_RING_GAP_M`], at least this).
pub const ALERT_RING_RADIUS_M_MIN: f32 = 48.0;
/// Gap between a place's outline and its alert ring, m.
pub const ALERT_RING_GAP_M: f32 = 10.0;
/// Heights of the flat parts above the ground, m: walkways under places,
/// rings on top.
const WALKWAY_Y_M: f32 = 0.1;
const PAD_Y_M: f32 = 0.3;
const RING_Y_M: f32 = 0.5;

/// The shared meshes and materials of the scene and the crowd.
#[derive(Resource, Clone, Debug)]
pub struct Palette {
    /// A 1 m cube.
    pub cube: Handle<Mesh>,
    /// A cylinder of radius 1 m, 1 m high.
    pub disc: Handle<Mesh>,
    /// A ring from radius 1 m to 1.3 m, lying flat.
    pub ring: Handle<Mesh>,
    /// A ring from radius 1 m to 1.3 m, lying flat (alerts).
    pub alert_ring: Handle<Mesh>,
    /// Unlit level-of-service colours, A to F.
    pub levels: [Handle<StandardMaterial>; 6],
    /// Lit walls.
    pub wall: Handle<StandardMaterial>,
    /// The ground.
    pub ground: Handle<StandardMaterial>,
    /// Alert beacons.
    pub beacon: Handle<StandardMaterial>,
    /// Unlit change colours: rose, fell, same (`--compare`).
    pub changes: [Handle<StandardMaterial>; 3],
}

impl Palette {
    /// The material of a level of service.
    pub fn level(&self, los: Los) -> &Handle<StandardMaterial> {
        &self.levels[los.rank() as usize]
    }

    /// The material of a change.
    pub fn change(&self, change: Change) -> &Handle<StandardMaterial> {
        &self.changes[CHANGES.iter().position(|&c| c == change).unwrap_or(2)]
    }
}

/// The changes, in the order of [`Palette::changes`].
pub const CHANGES: [Change; 3] = [Change::Rose, Change::Fell, Change::Same];

/// A part drawn in its element's level-of-service colour (pad, roof, walkway).
#[derive(Component, Clone, Copy, Debug)]
pub struct LevelColoured {
    /// Element index.
    pub element: usize,
}

/// A ring in the colour of its element's forecast 90th percentile.
#[derive(Component, Clone, Copy, Debug)]
pub struct P90Ring {
    /// Element index.
    pub element: usize,
}

/// A beacon shown while its element has an alert.
#[derive(Component, Clone, Copy, Debug)]
pub struct AlertBeacon {
    /// Element index.
    pub element: usize,
}

/// The site's geometry and its colouring.
pub struct ScenePlugin;

impl Plugin for ScenePlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(PreStartup, make_palette)
            .add_systems(Startup, spawn_site)
            .add_systems(Update, recolour.in_set(ViewerSet::Scene));
    }
}

fn unlit(materials: &mut Assets<StandardMaterial>, color: Color) -> Handle<StandardMaterial> {
    materials.add(StandardMaterial { base_color: color, unlit: true, ..default() })
}

fn make_palette(
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    let levels = LEVELS.map(|los| unlit(&mut materials, los_color(los)));
    commands.insert_resource(Palette {
        cube: meshes.add(Cuboid::new(1.0, 1.0, 1.0)),
        disc: meshes.add(Cylinder::new(1.0, 1.0)),
        ring: meshes.add(Annulus::new(1.0, 1.3)),
        alert_ring: meshes.add(Annulus::new(1.0, 1.3)),
        levels,
        wall: materials.add(StandardMaterial {
            base_color: Color::srgb_u8(205, 208, 214),
            perceptual_roughness: 0.9,
            ..default()
        }),
        ground: unlit(&mut materials, Color::srgb_u8(52, 60, 58)),
        beacon: unlit(&mut materials, Color::srgb_u8(BEACON_RGB[0], BEACON_RGB[1], BEACON_RGB[2])),
        changes: CHANGES.map(|c| {
            let [r, g, b] = c.colour_rgb();
            unlit(&mut materials, Color::srgb_u8(r, g, b))
        }),
    });
}

/// A flat mesh of `shape`, `y_m` above the ground, facing up.
pub fn flat_mesh(shape: &GroundMesh, y_m: f32) -> Mesh {
    let positions: Vec<[f32; 3]> = shape.points.iter().map(|&[x, z]| [x, y_m, z]).collect();
    let normals = vec![[0.0, 1.0, 0.0]; positions.len()];
    Mesh::new(PrimitiveTopology::TriangleList, RenderAssetUsages::RENDER_WORLD)
        .with_inserted_attribute(Mesh::ATTRIBUTE_POSITION, positions)
        .with_inserted_attribute(Mesh::ATTRIBUTE_NORMAL, normals)
        .with_inserted_indices(Indices::U32(shape.triangles.iter().flatten().copied().collect()))
}

/// How far element `element`'s shape reaches from its anchor, m.
fn reach_m(site: &Site, element: usize) -> f32 {
    let anchor = site.element_anchor(element);
    let points = match site.places.get(element) {
        Some(place) => &place.outline,
        None => return 0.0,
    };
    points.iter().map(|p| ((p[0] - anchor[0]).powi(2) + (p[1] - anchor[1]).powi(2)).sqrt()).fold(0.0, f32::max)
}

fn spawn_site(mut commands: Commands, data: Res<ViewerData>, palette: Res<Palette>, mut meshes: ResMut<Assets<Mesh>>) {
    let site = data.site();
    let (min, max) = site.bounds();
    let margin = 80.0;
    let centre = Vec3::new((min[0] + max[0]) / 2.0, -0.3, (min[1] + max[1]) / 2.0);
    commands.spawn((
        Mesh3d(palette.cube.clone()),
        MeshMaterial3d(palette.ground.clone()),
        Transform::from_translation(centre).with_scale(Vec3::new(
            max[0] - min[0] + 2.0 * margin,
            0.6,
            max[1] - min[1] + 2.0 * margin,
        )),
    ));
    let places = site.places.len();
    for (w, walkway) in site.walkways.iter().enumerate() {
        commands.spawn((
            LevelColoured { element: places + w },
            Mesh3d(meshes.add(flat_mesh(&walkway.strip, WALKWAY_Y_M))),
            MeshMaterial3d(palette.level(Los::A).clone()),
        ));
        spawn_alert_marker(&mut commands, &palette, site, places + w, 0.0);
    }
    for (p, place) in site.places.iter().enumerate() {
        let ground = Vec3::new(place.centre[0], 0.0, place.centre[1]);
        commands.spawn((
            LevelColoured { element: p },
            Mesh3d(meshes.add(flat_mesh(&place.pad, PAD_Y_M))),
            MeshMaterial3d(palette.level(Los::A).clone()),
        ));
        commands.spawn((
            P90Ring { element: p },
            Mesh3d(palette.ring.clone()),
            MeshMaterial3d(palette.level(Los::A).clone()),
            Transform::from_translation(ground + Vec3::Y * RING_Y_M)
                .with_rotation(Quat::from_rotation_x(-FRAC_PI_2))
                .with_scale(Vec3::splat(reach_m(site, p).max(1.0))),
            Visibility::Hidden,
        ));
        let mut top = 0.0;
        if let Some(building) = place.building {
            let (side, height) = (building.footprint_m, building.height_m);
            commands.spawn((
                Mesh3d(palette.cube.clone()),
                MeshMaterial3d(palette.wall.clone()),
                Transform::from_translation(ground + Vec3::Y * height / 2.0).with_scale(Vec3::new(side, height, side)),
            ));
            commands.spawn((
                LevelColoured { element: p },
                Mesh3d(palette.cube.clone()),
                MeshMaterial3d(palette.level(Los::A).clone()),
                Transform::from_translation(ground + Vec3::Y * (height + 0.2)).with_scale(Vec3::new(
                    side * 0.92,
                    0.4,
                    side * 0.92,
                )),
            ));
            top = height;
        }
        spawn_alert_marker(&mut commands, &palette, site, p, top);
    }
}

/// The alert marker of `element`, hidden until it has an alert: a wide
/// ring around it on the ground and a pillar standing `base_m` up (on its
/// building's roof).
fn spawn_alert_marker(commands: &mut Commands, palette: &Palette, site: &Site, element: usize, base_m: f32) {
    let [x, z] = site.element_anchor(element);
    let ground = Vec3::new(x, 0.0, z);
    let radius = (reach_m(site, element) + ALERT_RING_GAP_M).max(ALERT_RING_RADIUS_M_MIN);
    commands.spawn((
        AlertBeacon { element },
        Mesh3d(palette.alert_ring.clone()),
        MeshMaterial3d(palette.beacon.clone()),
        Transform::from_translation(ground + Vec3::Y * RING_Y_M)
            .with_rotation(Quat::from_rotation_x(-FRAC_PI_2))
            .with_scale(Vec3::splat(radius)),
        Visibility::Hidden,
    ));
    commands.spawn((
        AlertBeacon { element },
        Mesh3d(palette.disc.clone()),
        MeshMaterial3d(palette.beacon.clone()),
        Transform::from_translation(ground + Vec3::Y * (base_m + BEACON_HEIGHT_M / 2.0)).with_scale(Vec3::new(
            BEACON_RADIUS_M,
            BEACON_HEIGHT_M,
            BEACON_RADIUS_M,
        )),
        Visibility::Hidden,
    ));
}

type ColouredParts<'w, 's> = Query<
    'w,
    's,
    (&'static LevelColoured, &'static mut MeshMaterial3d<StandardMaterial>),
    (Without<P90Ring>, Without<AlertBeacon>),
>;

/// Follows the frame: colours (or, with a comparison, its change), P90
/// rings, beacons.
fn recolour(
    frame: Res<CurrentFrame>,
    playback: Res<Playback>,
    palette: Res<Palette>,
    comparison: Res<Comparison>,
    mut parts: ColouredParts,
    mut rings: Query<(&P90Ring, &mut MeshMaterial3d<StandardMaterial>, &mut Visibility), Without<AlertBeacon>>,
    mut beacons: Query<(&AlertBeacon, &mut Visibility), Without<P90Ring>>,
) {
    if !frame.is_changed() && !playback.is_changed() {
        return;
    }
    let elements = &frame.0.elements;
    for (part, mut material) in &mut parts {
        let Some(element) = elements.get(part.element) else { continue };
        let wanted = match &comparison.0 {
            Some(map) => palette.change(map.changes[part.element]),
            None => palette.level(element.los),
        };
        if material.0 != *wanted {
            material.0 = wanted.clone();
        }
    }
    for (ring, mut material, mut visibility) in &mut rings {
        let level = elements.get(ring.element).and_then(|e| e.los_p90).filter(|_| playback.show_p90);
        let wanted_visibility = if level.is_some() { Visibility::Inherited } else { Visibility::Hidden };
        visibility.set_if_neq(wanted_visibility);
        if let Some(level) = level
            && material.0 != *palette.level(level)
        {
            material.0 = palette.level(level).clone();
        }
    }
    for (beacon, mut visibility) in &mut beacons {
        let alerted = frame.0.alerts.iter().any(|a| a.element == beacon.element);
        visibility.set_if_neq(if alerted { Visibility::Inherited } else { Visibility::Hidden });
    }
}
