//! Visitors: a fixed pool of entities sharing one mesh and one material per
//! level-of-service colour (so Bevy batches them), placed each frame by
//! `layout::place_visitors`; the ones not needed are hidden.

use super::playback::MotionClock;
use super::{CurrentFrame, LEVELS, ViewerData, ViewerSet, visitor_rgb};
use crate::layout::{Placed, place_visitors};
use bevy::prelude::*;

/// A visitor's drawn size (width, height), m: larger than life so that
/// people stay visible from far away.
pub const VISITOR_SIZE_M: (f32, f32) = (2.0, 3.0);

/// A visitor entity: its slot in the pool.
#[derive(Component, Clone, Copy, Debug)]
pub struct Visitor(pub u32);

/// The visitors' mesh and materials (a lighter shade of each level's colour).
#[derive(Resource, Clone, Debug)]
pub struct CrowdLook {
    /// The shared mesh.
    pub mesh: Handle<Mesh>,
    /// One material per level, A to F.
    pub levels: [Handle<StandardMaterial>; 6],
}

/// How many visitors the pool holds, whether to fill it, how many are drawn.
#[derive(Resource, Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrowdBudget {
    /// Most visitors drawn.
    pub visitors_max: usize,
    /// Scale the crowd so that exactly `visitors_max` are drawn.
    pub fill: bool,
    /// Visitors drawn in the last frame.
    pub drawn: usize,
}

/// Visitors moving over the site.
pub struct CrowdPlugin {
    /// Most visitors drawn.
    pub visitors_max: usize,
    /// Scale the crowd to draw exactly `visitors_max` (bench).
    pub fill: bool,
}

impl Plugin for CrowdPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(CrowdBudget { visitors_max: self.visitors_max, fill: self.fill, drawn: 0 })
            .add_systems(Startup, spawn_pool)
            .add_systems(Update, place_crowd.in_set(ViewerSet::Scene));
    }
}

fn spawn_pool(
    mut commands: Commands,
    budget: Res<CrowdBudget>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    let (width, height) = VISITOR_SIZE_M;
    let look = CrowdLook {
        mesh: meshes.add(Cuboid::new(width, height, width)),
        levels: LEVELS.map(|los| {
            let [r, g, b] = visitor_rgb(los);
            materials.add(StandardMaterial { base_color: Color::srgb_u8(r, g, b), unlit: true, ..default() })
        }),
    };
    let hidden = Transform::from_xyz(0.0, -100.0, 0.0);
    let batch: Vec<_> = (0..budget.visitors_max as u32)
        .map(|i| {
            (Visitor(i), Mesh3d(look.mesh.clone()), MeshMaterial3d(look.levels[0].clone()), hidden, Visibility::Hidden)
        })
        .collect();
    commands.spawn_batch(batch);
    commands.insert_resource(look);
}

/// Places the pool on the current frame.
fn place_crowd(
    data: Res<ViewerData>,
    frame: Res<CurrentFrame>,
    motion: Res<MotionClock>,
    mut budget: ResMut<CrowdBudget>,
    look: Option<Res<CrowdLook>>,
    mut placed: Local<Vec<Placed>>,
    mut visitors: Query<(&Visitor, &mut Transform, &mut MeshMaterial3d<StandardMaterial>, &mut Visibility)>,
) {
    let Some(look) = look else { return };
    place_visitors(data.site(), &frame.0, motion.0, budget.visitors_max, budget.fill, &mut placed);
    budget.drawn = placed.len();
    let lift = VISITOR_SIZE_M.1 / 2.0 + 0.3;
    for (visitor, mut transform, mut material, mut visibility) in &mut visitors {
        let Some(person) = placed.get(visitor.0 as usize) else {
            visibility.set_if_neq(Visibility::Hidden);
            continue;
        };
        let translation = Vec3::new(person.ground[0], lift, person.ground[1]);
        if transform.translation != translation {
            transform.translation = translation;
        }
        let wanted = &look.levels[person.los.rank() as usize];
        if material.0 != *wanted {
            material.0 = wanted.clone();
        }
        visibility.set_if_neq(Visibility::Inherited);
    }
}
