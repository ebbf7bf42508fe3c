//! The site as the viewer draws it: places and walkways with their
//! geometry, taken from a scenario. Plain data, no Bevy.
//!
//! Scenario coordinates are metres with `y` to the north; the scene puts `x`
//! east and `-z` north, `y` up. A place is drawn from its outline
//! (`polygon_m`) where the scenario has one, else as a disc of its area; a
//! walkway as a strip along its centre line (`line_m`), else straight from
//! place to place. Both become [`GroundMesh`]es, triangulated by ear cutting
//! (`geo`).

use crowdtwin_sim::model::{ElementKind, is_queueing_area, weidmann_speed_mps};
use crowdtwin_sim::scenario::{ModelParams, PlaceKind, Scenario, format_clock};
use geo::{Buffer, Coord, LineString, MultiPolygon, Polygon, TriangulateEarcut};

/// Tallest building drawn, m.
pub const BUILDING_HEIGHT_M_MAX: f32 = 40.0;
/// Sides of the polygon drawn for a place without an outline.
pub const DISC_SIDES: usize = 48;
/// Drawn width of a walkway at least, m (narrow ones would vanish).
pub const WALKWAY_DRAWN_WIDTH_M_MIN: f32 = 8.0;
/// A walkway is drawn this much wider than it is on each side, m: a rim in
/// its level-of-service colour beside its walkers.
pub const WALKWAY_RIM_M: f32 = 3.0;

/// A flat shape on the ground: triangles over points `(x, z)`, each
/// counter-clockwise seen from above (so that its face points up).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GroundMesh {
    /// Corners `(x, z)`, m.
    pub points: Vec<[f32; 2]>,
    /// Triangles, as indices into `points`.
    pub triangles: Vec<[u32; 3]>,
}

/// Twice the signed area of a triangle on the ground: positive when it is
/// counter-clockwise seen from above (`y` up, `z` towards the viewer).
fn turn(a: [f32; 2], b: [f32; 2], c: [f32; 2]) -> f32 {
    (b[1] - a[1]) * (c[0] - a[0]) - (b[0] - a[0]) * (c[1] - a[1])
}

fn coords(points: &[[f32; 2]]) -> LineString<f64> {
    LineString(points.iter().map(|&[x, z]| Coord { x: x as f64, y: z as f64 }).collect())
}

impl GroundMesh {
    /// The ear-cut triangulation of `polygons` (in ground coordinates).
    pub fn from_polygons(polygons: &MultiPolygon<f64>) -> GroundMesh {
        let mut mesh = GroundMesh::default();
        for polygon in polygons {
            let raw = polygon.earcut_triangles_raw();
            let base = mesh.points.len() as u32;
            mesh.points.extend(raw.vertices.iter().map(|&[x, z]| [x as f32, z as f32]));
            for t in raw.triangle_indices.chunks_exact(3) {
                let [a, b, c] = [t[0], t[1], t[2]].map(|i| base + i as u32);
                let area = turn(mesh.points[a as usize], mesh.points[b as usize], mesh.points[c as usize]);
                if area > 0.0 {
                    mesh.triangles.push([a, b, c]);
                } else if area < 0.0 {
                    mesh.triangles.push([a, c, b]);
                }
            }
        }
        mesh
    }

    /// The triangulated outline `ring` (open or closed).
    pub fn from_ring(ring: &[[f32; 2]]) -> GroundMesh {
        GroundMesh::from_polygons(&MultiPolygon(vec![Polygon::new(coords(ring), Vec::new())]))
    }

    /// A strip `width_m` wide along `line`, with round ends and joins.
    pub fn strip(line: &[[f32; 2]], width_m: f32) -> GroundMesh {
        GroundMesh::from_polygons(&coords(line).buffer(width_m as f64 / 2.0))
    }

    /// Area covered, m².
    pub fn area_m2(&self) -> f32 {
        let corners = |t: &[u32; 3]| t.map(|i| self.points[i as usize]);
        self.triangles.iter().map(corners).map(|[a, b, c]| turn(a, b, c) / 2.0).sum()
    }

    /// Whether `point` lies on the shape (edges included).
    pub fn contains(&self, point: [f32; 2]) -> bool {
        self.triangles.iter().any(|t| {
            let [a, b, c] = t.map(|i| self.points[i as usize]);
            turn(a, b, point) >= -1e-3 && turn(b, c, point) >= -1e-3 && turn(c, a, point) >= -1e-3
        })
    }
}

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
    /// Radius of the disc of that area, m.
    pub pad_radius_m: f32,
    /// Outline on the ground `(x, z)`, m: the scenario's `polygon_m`, else a
    /// circle of radius `pad_radius_m`.
    pub outline: Vec<[f32; 2]>,
    /// Whether `outline` comes from the scenario.
    pub outlined: bool,
    /// The outline triangulated: the place's pad in the scene.
    pub pad: GroundMesh,
    /// Radius of the largest disc about `centre` inside the outline, m:
    /// where the place's visitors stand.
    pub inner_radius_m: f32,
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
    /// Walking length from the scenario, m (may be longer than the drawn line).
    pub length_m: f64,
    /// Width, m.
    pub width_m: f64,
    /// Area, m².
    pub area_m2: f64,
    /// Centre line on the ground `(x, z)` from place `a` to place `b`, m:
    /// the scenario's `line_m`, else straight from centre to centre.
    pub line: Vec<[f32; 2]>,
    /// Length of `line`, m.
    pub line_length_m: f32,
    /// The strip drawn along `line`: its width plus a rim of
    /// [`WALKWAY_RIM_M`] each side, at least [`WALKWAY_DRAWN_WIDTH_M_MIN`].
    pub strip: GroundMesh,
}

/// A session at a venue.
#[derive(Clone, Debug, PartialEq)]
pub struct SiteSession {
    /// Venue place index.
    pub venue: usize,
    /// Display name.
    pub name: String,
    /// Start, clock s after midnight.
    pub start_clock_s: u32,
    /// Planned end, clock s after midnight.
    pub end_clock_s: u32,
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
    /// The day's sessions, in scenario order.
    pub sessions: Vec<SiteSession>,
    /// Model parameters (for walking speed at a density).
    pub params: ModelParams,
}

/// Scenario metres (`y` north) to the ground `(x, z)`.
fn ground(point: [f64; 2]) -> [f32; 2] {
    [point[0] as f32, -(point[1] as f32)]
}

fn distance(a: [f32; 2], b: [f32; 2]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

/// Distance from `p` to the segment from `a` to `b`.
fn distance_to_segment(p: [f32; 2], a: [f32; 2], b: [f32; 2]) -> f32 {
    let along = [b[0] - a[0], b[1] - a[1]];
    let length_squared = along[0] * along[0] + along[1] * along[1];
    let t = if length_squared > 0.0 {
        (((p[0] - a[0]) * along[0] + (p[1] - a[1]) * along[1]) / length_squared).clamp(0.0, 1.0)
    } else {
        0.0
    };
    distance(p, [a[0] + along[0] * t, a[1] + along[1] * t])
}

/// Spacing of the points along a walkway that [`Site::element_ground_points`] gives, m.
pub const GROUND_POINT_SPACING_M: f32 = 5.0;

/// The point `distance_m` along `line` and the unit direction there,
/// clamped to the line's ends.
pub fn point_along(line: &[[f32; 2]], distance_m: f32) -> ([f32; 2], [f32; 2]) {
    let mut left = distance_m.max(0.0);
    let mut last = (line.first().copied().unwrap_or_default(), [1.0, 0.0]);
    for pair in line.windows(2) {
        let length = distance(pair[0], pair[1]);
        if length <= 0.0 {
            continue;
        }
        let direction = [(pair[1][0] - pair[0][0]) / length, (pair[1][1] - pair[0][1]) / length];
        let t = left.min(length);
        last = ([pair[0][0] + direction[0] * t, pair[0][1] + direction[1] * t], direction);
        if left <= length {
            break;
        }
        left -= length;
    }
    last
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

fn site_place(place: &crowdtwin_sim::scenario::Place) -> SitePlace {
    let centre = ground(place.position_m);
    let pad_radius_m = (place.area_m2 / std::f64::consts::PI).sqrt() as f32;
    let outline: Vec<[f32; 2]> = match &place.polygon_m {
        Some(polygon) => polygon.iter().map(|&q| ground(q)).collect(),
        None => (0..DISC_SIDES)
            .map(|k| {
                let angle = k as f32 / DISC_SIDES as f32 * std::f32::consts::TAU;
                [centre[0] + pad_radius_m * angle.cos(), centre[1] + pad_radius_m * angle.sin()]
            })
            .collect(),
    };
    let pad = GroundMesh::from_ring(&outline);
    let edges = outline.iter().zip(outline.iter().cycle().skip(1));
    let to_edge = edges.map(|(&a, &b)| distance_to_segment(centre, a, b)).fold(f32::INFINITY, f32::min);
    let inner_radius_m = if pad.contains(centre) { to_edge.min(pad_radius_m) } else { 0.0 };
    let building = building(place).map(|b| Building {
        // The footprint's corners stay inside the pad.
        footprint_m: b.footprint_m.min(inner_radius_m * std::f32::consts::SQRT_2 * 0.8).max(2.0),
        ..b
    });
    SitePlace {
        id: place.id.clone(),
        name: place.name.clone(),
        kind: place.kind,
        centre,
        area_m2: place.area_m2,
        pad_radius_m,
        outlined: place.polygon_m.is_some(),
        outline,
        pad,
        inner_radius_m,
        building,
    }
}

impl Site {
    /// The site of a checked scenario.
    pub fn from_scenario(scenario: &Scenario) -> Site {
        let places: Vec<SitePlace> = scenario.places.iter().map(site_place).collect();
        let walkways = scenario
            .walkways
            .iter()
            .map(|w| {
                let line: Vec<[f32; 2]> = match &w.line_m {
                    Some(line) => line.iter().map(|&q| ground(q)).collect(),
                    None => vec![places[w.a].centre, places[w.b].centre],
                };
                let drawn_width_m = (w.width_m as f32 + 2.0 * WALKWAY_RIM_M).max(WALKWAY_DRAWN_WIDTH_M_MIN);
                SiteWalkway {
                    id: format!("{}--{}", places[w.a].id, places[w.b].id),
                    a: w.a,
                    b: w.b,
                    length_m: w.length_m,
                    width_m: w.width_m,
                    area_m2: w.length_m * w.width_m,
                    line_length_m: line.windows(2).map(|pair| distance(pair[0], pair[1])).sum(),
                    strip: GroundMesh::strip(&line, drawn_width_m),
                    line,
                }
            })
            .collect();
        let sessions = scenario
            .sessions
            .iter()
            .map(|s| SiteSession {
                venue: s.venue,
                name: s.name.clone(),
                start_clock_s: scenario.clock_s(s.start),
                end_clock_s: scenario.clock_s(s.end),
            })
            .collect();
        Site {
            name: scenario.name.clone(),
            start_clock_s: scenario.start_clock_s,
            places,
            walkways,
            sessions,
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

    /// Display name of element `index`: a place's name, or a walkway's
    /// two ends' names.
    pub fn element_name(&self, index: usize) -> String {
        match index.checked_sub(self.places.len()) {
            None => self.places[index].name.clone(),
            Some(w) => {
                let walkway = &self.walkways[w];
                format!("{} \u{2013} {}", self.places[walkway.a].name, self.places[walkway.b].name)
            }
        }
    }

    /// Where element `index` is marked on the ground `(x, z)`: a place's
    /// centre, the middle of a walkway's line.
    pub fn element_anchor(&self, index: usize) -> [f32; 2] {
        match index.checked_sub(self.places.len()) {
            None => self.places[index].centre,
            Some(w) => {
                let walkway = &self.walkways[w];
                point_along(&walkway.line, walkway.line_length_m / 2.0).0
            }
        }
    }

    /// Points on the ground `(x, z)` that show where element `index` lies:
    /// a place's centre and outline, a walkway's line every
    /// [`GROUND_POINT_SPACING_M`] metres and its ends (for keeping names
    /// off it).
    pub fn element_ground_points(&self, index: usize) -> Vec<[f32; 2]> {
        match index.checked_sub(self.places.len()) {
            None => {
                let place = &self.places[index];
                std::iter::once(place.centre).chain(place.outline.iter().copied()).collect()
            }
            Some(w) => {
                let walkway = &self.walkways[w];
                let steps = (walkway.line_length_m / GROUND_POINT_SPACING_M).ceil().max(1.0) as usize;
                (0..=steps)
                    .map(|i| point_along(&walkway.line, walkway.line_length_m * i as f32 / steps as f32).0)
                    .collect()
            }
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

    /// The sessions under way at `clock_s` (started, not past their planned end).
    pub fn sessions_under_way(&self, clock_s: f64) -> impl Iterator<Item = (usize, &SiteSession)> {
        self.sessions
            .iter()
            .enumerate()
            .filter(move |(_, s)| (s.start_clock_s as f64..s.end_clock_s as f64).contains(&clock_s))
    }

    /// A session's start and end as `HH:MM-HH:MM`.
    pub fn session_times(&self, session: usize) -> String {
        let s = &self.sessions[session];
        format!("{}-{}", format_clock(s.start_clock_s), format_clock(s.end_clock_s))
    }

    /// The points of every pad and walkway strip as drawn on the ground.
    pub fn drawn_points(&self) -> impl Iterator<Item = [f32; 2]> + '_ {
        let meshes = self.places.iter().map(|p| &p.pad).chain(self.walkways.iter().map(|w| &w.strip));
        meshes.flat_map(|m| m.points.iter().copied())
    }

    /// The smallest rectangle `(min, max)` on the ground holding every pad
    /// and walkway strip.
    pub fn bounds(&self) -> ([f32; 2], [f32; 2]) {
        let mut min = [f32::INFINITY; 2];
        let mut max = [f32::NEG_INFINITY; 2];
        for point in self.drawn_points() {
            for axis in 0..2 {
                min[axis] = min[axis].min(point[axis]);
                max[axis] = max[axis].max(point[axis]);
            }
        }
        if min[0] > max[0] {
            return ([-1.0; 2], [1.0; 2]);
        }
        (min, max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_l_shaped_outline_is_cut_into_upward_triangles_covering_its_area() {
        // An L: a 20 x 10 bar with a 10 x 10 square on one end, 300 m².
        let ring = [[0.0, 0.0], [20.0, 0.0], [20.0, 10.0], [10.0, 10.0], [10.0, 20.0], [0.0, 20.0]];
        let mut reversed = ring;
        reversed.reverse();
        for ring in [&ring, &reversed] {
            let mesh = GroundMesh::from_ring(ring);
            assert_eq!(mesh.triangles.len(), 4, "{mesh:?}");
            assert!((mesh.area_m2() - 300.0).abs() < 1e-3, "{}", mesh.area_m2());
            let corners = |t: &[u32; 3]| t.map(|i| mesh.points[i as usize]);
            assert!(mesh.triangles.iter().all(|t| { turn(corners(t)[0], corners(t)[1], corners(t)[2]) > 0.0 }));
            assert!(mesh.contains([5.0, 15.0]) && mesh.contains([15.0, 5.0]));
            assert!(!mesh.contains([15.0, 15.0]), "the notch stays empty");
        }
    }

    #[test]
    fn a_strip_follows_its_bent_line_at_its_width() {
        let line = [[0.0, 0.0], [100.0, 0.0], [100.0, 50.0]];
        let strip = GroundMesh::strip(&line, 8.0);
        // 150 m long, 8 m wide, plus round ends and a round outer corner.
        let area = strip.area_m2();
        assert!((1_200.0..1_200.0 + 3.0 * 16.0 * std::f32::consts::PI).contains(&area), "{area}");
        assert!(strip.contains([50.0, 3.9]) && strip.contains([103.9, 25.0]));
        assert!(!strip.contains([50.0, 4.5]) && !strip.contains([50.0, 25.0]), "not the corner's inside");
        assert_eq!(point_along(&line, 125.0), ([100.0, 25.0], [0.0, 1.0]));
        assert_eq!(point_along(&line, 1_000.0).0, [100.0, 50.0], "clamped at the end");
    }
}
