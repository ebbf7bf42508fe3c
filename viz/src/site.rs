//! The site as the viewer draws it: places and walkways with their
//! geometry, taken from a scenario. Plain data, no Bevy.
//!
//! Scenario coordinates are metres with `y` to the north; the scene puts `x`
//! east and `-z` north, `y` up.

use crowdtwin_sim::model::{ElementKind, is_queueing_area, weidmann_speed_mps};
use crowdtwin_sim::scenario::{ModelParams, PlaceKind, Scenario};

/// Tallest building drawn, m.
pub const BUILDING_HEIGHT_M_MAX: f32 = 40.0;

/// A building standing on a place, sized by the place's capacity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Building {
    /// Side of its square footprint, m.
    pub footprint_m: f32,
    /// Height, m.
    pub height_m: f32,
}

/// One place: where it is, how big, what stands on it.
#[derive(Clone, Debug, PartialEq)]
pub struct SitePlace {
    /// Id from the scenario.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Kind as written in outputs ("gate", "venue", ...).
    pub kind: PlaceKind,
    /// Centre on the ground plane `(x, z)`, m.
    pub centre: [f32; 2],
    /// Walkable area, m².
    pub area_m2: f64,
    /// Radius of the disc of that area, m: the place's pad in the scene.
    pub pad_radius_m: f32,
    /// The building, for venues, shops, food, gates and transit.
    pub building: Option<Building>,
}

/// One walkway between two places.
#[derive(Clone, Debug, PartialEq)]
pub struct SiteWalkway {
    /// Id `from--to`, as in run outputs and the live service.
    pub id: String,
    /// Index of the place at one end.
    pub a: usize,
    /// Index of the place at the other end.
    pub b: usize,
    /// Walking length from the scenario, m (may be longer than the straight line).
    pub length_m: f64,
    /// Width, m.
    pub width_m: f64,
    /// Area, m².
    pub area_m2: f64,
}

/// The site: places first, then walkways. An element index is a place index,
/// or the number of places plus a walkway index.
#[derive(Clone, Debug, PartialEq)]
pub struct Site {
    /// Scenario name.
    pub name: String,
    /// Clock time of simulation time zero, s after midnight.
    pub start_clock_s: u32,
    /// Places.
    pub places: Vec<SitePlace>,
    /// Walkways.
    pub walkways: Vec<SiteWalkway>,
    /// Model parameters (for walking speed at a density).
    pub params: ModelParams,
}

fn building(place: &crowdtwin_sim::scenario::Place) -> Option<Building> {
    let side = (place.area_m2.sqrt() as f32).max(4.0);
    let (footprint, height) = match place.kind {
        PlaceKind::Venue => (0.6 * side, 8.0 + place.seats as f32 / 400.0),
        PlaceKind::Shop | PlaceKind::Food => (0.45 * side, 4.0 + 1.5 * place.servers as f32),
        PlaceKind::Gate => (0.35 * side, 3.0 + 0.5 * place.servers as f32),
        PlaceKind::Transit => (0.5 * side, 5.0),
        PlaceKind::Plaza | PlaceKind::FanZone => return None,
    };
    Some(Building { footprint_m: footprint, height_m: height.min(BUILDING_HEIGHT_M_MAX) })
}

impl Site {
    /// The site of a checked scenario.
    pub fn from_scenario(scenario: &Scenario) -> Site {
        let places: Vec<SitePlace> = scenario
            .places
            .iter()
            .map(|p| SitePlace {
                id: p.id.clone(),
                name: p.name.clone(),
                kind: p.kind,
                centre: [p.position_m[0] as f32, -(p.position_m[1] as f32)],
                area_m2: p.area_m2,
                pad_radius_m: (p.area_m2 / std::f64::consts::PI).sqrt() as f32,
                building: building(p),
            })
            .collect();
        let walkways = scenario
            .walkways
            .iter()
            .map(|w| SiteWalkway {
                id: format!("{}--{}", places[w.a].id, places[w.b].id),
                a: w.a,
                b: w.b,
                length_m: w.length_m,
                width_m: w.width_m,
                area_m2: w.length_m * w.width_m,
            })
            .collect();
        Site {
            name: scenario.name.clone(),
            start_clock_s: scenario.start_clock_s,
            places,
            walkways,
            params: scenario.params.clone(),
        }
    }

    /// Places plus walkways.
    pub fn element_count(&self) -> usize {
        self.places.len() + self.walkways.len()
    }

    /// The element index of a place id or walkway id `from--to`.
    pub fn element_index(&self, id: &str) -> Option<usize> {
        self.places
            .iter()
            .position(|p| p.id == id)
            .or_else(|| self.walkways.iter().position(|w| w.id == id).map(|i| self.places.len() + i))
    }

    /// Id of element `index`.
    pub fn element_id(&self, index: usize) -> &str {
        match index.checked_sub(self.places.len()) {
            None => &self.places[index].id,
            Some(w) => &self.walkways[w].id,
        }
    }

    /// Kind of element `index` ("walkway" for walkways).
    pub fn element_kind(&self, index: usize) -> ElementKind {
        if index < self.places.len() { ElementKind::Place(self.places[index].kind) } else { ElementKind::Walkway }
    }

    /// Whether Fruin's queue thresholds apply to element `index`.
    pub fn is_queueing_area(&self, index: usize) -> bool {
        is_queueing_area(self.element_kind(index))
    }

    /// Walking speed at `density_p_per_m2` (Weidmann, as the model walks).
    pub fn walking_speed_mps(&self, density_p_per_m2: f64) -> f64 {
        weidmann_speed_mps(&self.params, density_p_per_m2)
    }

    /// The smallest rectangle `(min, max)` on the ground holding every pad.
    pub fn bounds(&self) -> ([f32; 2], [f32; 2]) {
        let mut min = [f32::INFINITY; 2];
        let mut max = [f32::NEG_INFINITY; 2];
        for place in &self.places {
            for axis in 0..2 {
                min[axis] = min[axis].min(place.centre[axis] - place.pad_radius_m);
                max[axis] = max[axis].max(place.centre[axis] + place.pad_radius_m);
            }
        }
        if self.places.is_empty() {
            return ([-1.0; 2], [1.0; 2]);
        }
        (min, max)
    }
}
