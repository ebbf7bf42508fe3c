//! Site geometry as GeoJSON (RFC 7946): a scenario's places and walkways as
//! a FeatureCollection ([`export_geojson`]), and a scenario skeleton built
//! from one drawn in a GIS ([`import_geojson`]).
//!
//! Places are Polygon or MultiPolygon features with the properties `id`,
//! `kind` (a place kind: gate, plaza, venue, shop, food, fan_zone, transit),
//! `name` and optionally any other place field of the scenario format
//! (`lanes`, `service_s`, `seats`, `egress_width_m`, `servers`, `items`,
//! `departure_interval_s`, `departure_capacity`, `arrival_share`,
//! `area_m2`). Walkways are LineString features with `width_m` and
//! optionally `id`, `from`, `to`, `length_m`, `bottleneck`,
//! `capacity_p_per_m_s` and `exit_width_m`.
//!
//! Coordinates are longitude/latitude (WGS 84) unless the collection has
//! the top-level member `"frame": "local_m"` (or the importer is told so):
//! then they are metres east and north of the site origin. Longitude and
//! latitude are projected to metres equirectangularly around the origin
//! (the top-level member `origin_lat_lon`, else the centre of the
//! coordinates' bounding box), which is recorded as the scenario's
//! `origin_lat_lon`; [`export_geojson`] projects back the same way.

use crate::PlannerError;
use crowdtwin_sim::scenario::{
    ModelParams, PlaceKind, PlaceSpec, SCENARIO_FORMAT_VERSION, Scenario, ScenarioFile, WalkwaySpec,
};
use geo::{
    Area, BooleanOps, BoundingRect, Centroid, Coord, Distance, Euclidean, Intersects, Length, LineString, MultiPolygon,
    Point, Polygon, Validation,
};
use geojson::{Feature, FeatureCollection, Geometry, GeometryValue, JsonObject, Position};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::str::FromStr;
use toml::Spanned;

/// Metres per degree of latitude (mean; as the itinerary maps use).
const METRES_PER_DEGREE: f64 = 111_195.0;

/// A line's end within this distance of a place's outline joins that place, m.
pub const TOUCH_TOLERANCE_M: f64 = 5.0;

/// Two places whose outlines share more than this area overlap, m².
const OVERLAP_TOLERANCE_M2: f64 = 0.1;

/// Corners of the polygon drawn for a place without an outline.
const CIRCLE_CORNERS: usize = 32;

/// The run window a skeleton gets.
const DEFAULT_START: &str = "07:00";
const DEFAULT_END: &str = "23:00";

/// Width of a walkway whose feature gives none, m.
pub const DEFAULT_WIDTH_M: f64 = 3.0;

/// How a GeoJSON file's coordinates are to be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    /// Longitude, latitude in degrees (WGS 84), as RFC 7946 says.
    LonLat,
    /// Metres east and north of the site origin.
    LocalM,
}

impl Frame {
    /// The name written in the `frame` member.
    pub fn as_str(self) -> &'static str {
        match self {
            Frame::LonLat => "lon_lat",
            Frame::LocalM => "local_m",
        }
    }
}

/// A projection between longitude/latitude and metres around an origin.
#[derive(Clone, Copy, Debug)]
struct Projection {
    lat0: f64,
    lon0: f64,
}

impl Projection {
    fn metres_per_degree_lon(self) -> f64 {
        METRES_PER_DEGREE * self.lat0.to_radians().cos()
    }

    fn to_metres(self, lon: f64, lat: f64) -> [f64; 2] {
        [(lon - self.lon0) * self.metres_per_degree_lon(), (lat - self.lat0) * METRES_PER_DEGREE]
    }

    fn to_lon_lat(self, [x, y]: [f64; 2]) -> [f64; 2] {
        [round_to(self.lon0 + x / self.metres_per_degree_lon(), 1e7), round_to(self.lat0 + y / METRES_PER_DEGREE, 1e7)]
    }
}

fn round_to(value: f64, per_unit: f64) -> f64 {
    (value * per_unit).round() / per_unit
}

// --- Export -------------------------------------------------------------------

/// The places and walkways of a scenario as a GeoJSON FeatureCollection:
/// places as polygons (their `polygon_m`, else a 32-corner polygon of their
/// `area_m2` around `position_m`), walkways as LineStrings (their `line_m`,
/// else the straight segment between the places' positions). Longitude and
/// latitude when the scenario has `origin_lat_lon` (the top-level member
/// `"frame": "lon_lat"`), else metres (`"frame": "local_m"`).
/// `raw` is the file `scenario` was resolved from.
pub fn export_geojson(raw: &ScenarioFile, scenario: &Scenario) -> String {
    let projection = scenario.origin_lat_lon.map(|[lat0, lon0]| Projection { lat0, lon0 });
    let position = |p: [f64; 2]| -> Position {
        match projection {
            Some(projection) => projection.to_lon_lat(p).into(),
            None => [round_to(p[0], 1e3), round_to(p[1], 1e3)].into(),
        }
    };
    let mut features = Vec::new();
    for (spec, place) in raw.places.iter().map(|p| p.get_ref()).zip(&scenario.places) {
        let mut ring = place.polygon_m.clone().unwrap_or_else(|| circle(place.position_m, place.area_m2));
        // RFC 7946: exterior rings run anticlockwise.
        let signed: f64 = (0..ring.len())
            .map(|i| {
                let ([x0, y0], [x1, y1]) = (ring[i], ring[(i + 1) % ring.len()]);
                x0 * y1 - x1 * y0
            })
            .sum();
        if signed < 0.0 {
            ring.reverse();
        }
        if ring.first() != ring.last() {
            ring.push(ring[0]);
        }
        let geometry = GeometryValue::Polygon { coordinates: vec![ring.into_iter().map(position).collect()] };
        let mut properties = object(serde_json::to_value(spec).expect("a place serialises"));
        properties.remove("position_m");
        properties.remove("polygon_m");
        properties.insert("name".into(), json!(place.name));
        features.push(feature(geometry, properties));
    }
    for (spec, walkway) in raw.walkways.iter().map(|w| w.get_ref()).zip(&scenario.walkways) {
        let (a, b) = (&scenario.places[walkway.a], &scenario.places[walkway.b]);
        let line = walkway.line_m.clone().unwrap_or_else(|| vec![a.position_m, b.position_m]);
        let geometry = GeometryValue::LineString { coordinates: line.into_iter().map(position).collect() };
        let mut properties = JsonObject::new();
        properties.insert("id".into(), json!(format!("{}--{}", a.id, b.id)));
        properties.insert("kind".into(), json!("walkway"));
        properties.insert("from".into(), json!(a.id));
        properties.insert("to".into(), json!(b.id));
        properties.insert("width_m".into(), json!(walkway.width_m));
        properties.insert("length_m".into(), json!(walkway.length_m));
        if spec.bottleneck {
            properties.insert("bottleneck".into(), json!(true));
        }
        if let Some(capacity) = spec.capacity_p_per_m_s {
            properties.insert("capacity_p_per_m_s".into(), json!(capacity));
        }
        if let Some(exit) = spec.exit_width_m {
            properties.insert("exit_width_m".into(), json!(exit));
        }
        features.push(feature(geometry, properties));
    }
    let mut members = JsonObject::new();
    members.insert("name".into(), json!(scenario.name));
    let frame = if projection.is_some() { Frame::LonLat } else { Frame::LocalM };
    members.insert("frame".into(), json!(frame.as_str()));
    if let Some(origin) = scenario.origin_lat_lon {
        members.insert("origin_lat_lon".into(), json!(origin));
    }
    let collection = FeatureCollection { bbox: None, features, foreign_members: Some(members) };
    let mut text = serde_json::to_string_pretty(&collection).expect("GeoJSON serialises");
    text.push('\n');
    text
}

fn feature(geometry: GeometryValue, properties: JsonObject) -> Feature {
    Feature {
        bbox: None,
        geometry: Some(Geometry::new(geometry)),
        id: None,
        properties: Some(properties),
        foreign_members: None,
    }
}

fn object(value: Value) -> JsonObject {
    match value {
        Value::Object(map) => map,
        _ => JsonObject::new(),
    }
}

/// A regular polygon of `area_m2` centred on `centre` (its area exactly
/// `area_m2`, not the circle's), anticlockwise, not closed.
fn circle(centre: [f64; 2], area_m2: f64) -> Vec<[f64; 2]> {
    let n = CIRCLE_CORNERS as f64;
    let radius = (2.0 * area_m2 / (n * (std::f64::consts::TAU / n).sin())).sqrt();
    (0..CIRCLE_CORNERS)
        .map(|i| {
            let angle = std::f64::consts::TAU * i as f64 / n;
            [centre[0] + radius * angle.cos(), centre[1] + radius * angle.sin()]
        })
        .collect()
}

// --- Import -------------------------------------------------------------------

/// How to read a GeoJSON site file.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// The coordinates' frame; `None` = the file's `frame` member, else
    /// longitude/latitude.
    pub frame: Option<Frame>,
}

/// A scenario skeleton built from a GeoJSON site file, and what was
/// assumed in building it.
#[derive(Clone, Debug)]
pub struct Imported {
    /// The skeleton: places and walkways, a default run window, no
    /// sessions or visitors.
    pub scenario: ScenarioFile,
    /// What was taken from where and which defaults were filled in, one a line.
    pub notes: Vec<String>,
}

impl Imported {
    /// The skeleton as TOML, its notes as comments at the top.
    pub fn toml(&self, source: &str) -> String {
        let mut text = format!("# Imported from {source} by `crowdtwin import geojson`.\n");
        for note in &self.notes {
            text.push_str(&format!("# {note}\n"));
        }
        text.push_str(&toml::to_string(&self.scenario).expect("a scenario serialises"));
        text
    }
}

/// A feature's name in problems: its id, or its place in the file.
fn label(index: usize, id: Option<&str>) -> String {
    match id {
        Some(id) => format!("feature `{id}`"),
        None => format!("feature #{} (no id)", index + 1),
    }
}

/// A place read from a feature, before the cross-checks.
struct PlaceFeature {
    id: String,
    kind: PlaceKind,
    shape: MultiPolygon<f64>,
    properties: JsonObject,
}

/// A walkway read from a feature, before its ends are found.
struct WalkwayFeature {
    index: usize,
    id: Option<String>,
    line: LineString<f64>,
    properties: JsonObject,
}

/// The place fields a feature may carry beside `id` and `kind`.
const PLACE_FIELDS: [&str; 11] = [
    "name",
    "area_m2",
    "lanes",
    "service_s",
    "seats",
    "egress_width_m",
    "servers",
    "items",
    "departure_interval_s",
    "departure_capacity",
    "arrival_share",
];

/// The walkway fields a feature may carry.
const WALKWAY_FIELDS: [&str; 9] =
    ["id", "kind", "from", "to", "width_m", "length_m", "bottleneck", "capacity_p_per_m_s", "exit_width_m"];

/// Builds a scenario skeleton from a GeoJSON FeatureCollection (see the
/// module's documentation for the properties read): each place at its
/// outline's centroid with the outline's area (or its `area_m2` property),
/// each walkway joining the places its line's ends lie in (or within
/// [`TOUCH_TOLERANCE_M`] of; or its `from`/`to` properties) with the line's
/// length (or its `length_m` property). Every problem with the file is
/// reported at once, each naming its feature: features that are neither
/// places nor walkways, missing or duplicate ids, unknown kinds, degenerate
/// or self-intersecting outlines, overlapping places, walkways that touch no
/// place, and parts of the site no walkway joins to the rest. `file` names
/// the file in errors. The skeleton is checked as a scenario before it is
/// returned.
pub fn import_geojson(text: &str, file: &str, options: &ImportOptions) -> Result<Imported, PlannerError> {
    let refuse = |problems: Vec<String>| PlannerError::Site { file: file.to_string(), problems };
    let value: Value = serde_json::from_str(text).map_err(|e| refuse(vec![format!("not JSON: {e}")]))?;
    match value.get("type").and_then(Value::as_str) {
        Some("FeatureCollection") => {}
        Some(other) => {
            return Err(refuse(vec![format!(
                "a site file must be a GeoJSON FeatureCollection; this one is a `{other}`"
            )]));
        }
        None => {
            return Err(refuse(vec![
                "a site file must be a GeoJSON FeatureCollection; this JSON has no `type`".into(),
            ]));
        }
    }
    let collection = FeatureCollection::from_str(text)
        .map_err(|e| refuse(vec![format!("not a valid GeoJSON FeatureCollection: {e}")]))?;
    let members = collection.foreign_members.clone().unwrap_or_default();
    let mut problems = Vec::new();
    let mut notes = Vec::new();

    let frame = match (options.frame, members.get("frame")) {
        (Some(frame), _) => frame,
        (None, None) => Frame::LonLat,
        (None, Some(Value::String(s))) if s == "local_m" => Frame::LocalM,
        (None, Some(Value::String(s))) if s == "lon_lat" => Frame::LonLat,
        (None, Some(other)) => {
            return Err(refuse(vec![format!("frame = {other} is neither \"lon_lat\" nor \"local_m\"")]));
        }
    };
    let origin = match members.get("origin_lat_lon") {
        None => None,
        Some(value) => match serde_json::from_value::<[f64; 2]>(value.clone()) {
            Ok([lat, lon]) if lat.is_finite() && lon.is_finite() && lat.abs() <= 85.0 && lon.abs() <= 180.0 => {
                Some([lat, lon])
            }
            _ => {
                return Err(refuse(vec![format!("origin_lat_lon = {value} is not [latitude, longitude] in degrees")]));
            }
        },
    };
    let projection = match frame {
        Frame::LocalM => {
            notes.push("Coordinates read as metres east and north of the site origin (frame local_m).".into());
            None
        }
        Frame::LonLat => {
            let bad = check_lon_lat(&collection);
            if !bad.is_empty() {
                return Err(refuse(bad));
            }
            let [lat0, lon0] = match origin {
                Some(origin) => origin,
                None => {
                    let centre = bounding_centre(&collection).ok_or_else(|| refuse(vec!["no coordinates".into()]))?;
                    [round_to(centre[1], 1e6), round_to(centre[0], 1e6)]
                }
            };
            notes.push(format!(
                "Coordinates read as longitude/latitude (WGS 84), projected equirectangularly to metres around \
                 origin_lat_lon = [{lat0}, {lon0}]."
            ));
            Some(Projection { lat0, lon0 })
        }
    };
    let to_metres = |p: &Position| -> Coord<f64> {
        let (x, y) =
            (p.as_slice().first().copied().unwrap_or(f64::NAN), p.as_slice().get(1).copied().unwrap_or(f64::NAN));
        match projection {
            Some(projection) => {
                let [x, y] = projection.to_metres(x, y);
                Coord { x, y }
            }
            None => Coord { x, y },
        }
    };

    // Each feature on its own: what it is, its id, kind and geometry.
    let mut places: Vec<PlaceFeature> = Vec::new();
    let mut walkways: Vec<WalkwayFeature> = Vec::new();
    let mut first_use: BTreeMap<String, usize> = BTreeMap::new();
    for (index, feature) in collection.features.iter().enumerate() {
        let properties = feature.properties.clone().unwrap_or_default();
        let id = feature_id(feature);
        let name = label(index, id.as_deref());
        if let Some(id) = &id {
            if let Some(first) = first_use.get(id) {
                problems.push(format!("{name}: the id is used twice (features #{} and #{})", first + 1, index + 1));
                continue;
            }
            first_use.insert(id.clone(), index);
        }
        let Some(geometry) = &feature.geometry else {
            problems.push(format!("{name}: has no geometry"));
            continue;
        };
        match &geometry.value {
            GeometryValue::Polygon { coordinates } => match polygon(coordinates, &to_metres) {
                Ok(p) => places_push(&mut places, &mut problems, id, &name, MultiPolygon(vec![p]), properties),
                Err(e) => problems.push(format!("{name}: {e}")),
            },
            GeometryValue::MultiPolygon { coordinates } => {
                let parts: Result<Vec<_>, _> = coordinates.iter().map(|p| polygon(p, &to_metres)).collect();
                match parts {
                    Ok(parts) if parts.is_empty() => problems.push(format!("{name}: an empty MultiPolygon")),
                    Ok(parts) => places_push(&mut places, &mut problems, id, &name, MultiPolygon(parts), properties),
                    Err(e) => problems.push(format!("{name}: {e}")),
                }
            }
            GeometryValue::LineString { coordinates } => {
                let line: LineString<f64> = coordinates.iter().map(&to_metres).collect();
                if let Some(kind) = properties.get("kind").filter(|k| k.as_str() != Some("walkway")) {
                    problems.push(format!("{name}: a LineString is a walkway, but its kind is {kind}"));
                } else if line.0.len() < 2
                    || Euclidean.length(&line) <= 0.0
                    || !line.0.iter().all(|c| c.x.is_finite() && c.y.is_finite())
                {
                    problems.push(format!("{name}: a walkway's line needs at least 2 distinct points"));
                } else {
                    walkways.push(WalkwayFeature { index, id, line, properties });
                }
            }
            other => problems.push(format!(
                "{name}: a {} is neither a place (Polygon, MultiPolygon) nor a walkway (LineString)",
                other.type_name()
            )),
        }
    }

    // Places that overlap one another.
    for (i, a) in places.iter().enumerate() {
        for b in &places[i + 1..] {
            let (Some(ra), Some(rb)) = (a.shape.bounding_rect(), b.shape.bounding_rect()) else { continue };
            if !ra.intersects(&rb) {
                continue;
            }
            let shared = a.shape.intersection(&b.shape).unsigned_area();
            if shared > OVERLAP_TOLERANCE_M2 {
                problems.push(format!(
                    "feature `{}`: overlaps feature `{}` by {shared:.1} m² (places must not share area)",
                    a.id, b.id
                ));
            }
        }
    }

    // Walkways' ends.
    let index_of: BTreeMap<&str, usize> = places.iter().enumerate().map(|(i, p)| (p.id.as_str(), i)).collect();
    let mut joined: Vec<(usize, usize, &WalkwayFeature)> = Vec::new();
    for w in &walkways {
        let name = label(w.index, w.id.as_deref());
        let named = |key: &str| w.properties.get(key).map(|v| v.as_str().map(str::to_string).ok_or(v.clone()));
        let ends = match (named("from"), named("to")) {
            (Some(Ok(from)), Some(Ok(to))) => {
                let mut ends = Vec::new();
                for (what, id) in [("from", from), ("to", to)] {
                    match index_of.get(id.as_str()) {
                        Some(&i) => ends.push(i),
                        None => problems.push(format!("{name}: {what} `{id}` is not a place id in the file")),
                    }
                }
                (ends.len() == 2).then(|| (ends[0], ends[1]))
            }
            (None, None) => {
                let first = *w.line.0.first().expect("two points");
                let last = *w.line.0.last().expect("two points");
                match (touched(&places, first), touched(&places, last)) {
                    (Ok(a), Ok(b)) => Some((a, b)),
                    (Err(_), Err(_)) => {
                        problems.push(format!(
                            "{name}: the walkway touches no place (neither end lies in or within {TOUCH_TOLERANCE_M} m of a place's outline)"
                        ));
                        None
                    }
                    (a, b) => {
                        for (end, result) in [("start", a), ("end", b)] {
                            if let Err(e) = result {
                                problems.push(format!("{name}: its {end} touches no place: {e}"));
                            }
                        }
                        None
                    }
                }
            }
            _ => {
                problems.push(format!("{name}: give both `from` and `to` as place ids, or neither"));
                None
            }
        };
        match ends {
            Some((a, b)) if a == b => {
                problems.push(format!("{name}: both ends lie in place `{}`; a walkway joins two places", places[a].id))
            }
            Some((a, b)) => joined.push((a, b, w)),
            None => {}
        }
    }

    // Parts of the site the walkways do not join.
    let parts = components(places.len(), joined.iter().map(|&(a, b, _)| (a, b)));
    if parts.len() > 1 {
        let count = parts.len();
        for (n, part) in parts.iter().enumerate().skip(1) {
            let mut members: Vec<String> = part.iter().map(|&i| format!("`{}`", places[i].id)).collect();
            members.extend(
                joined
                    .iter()
                    .filter(|(a, _, _)| part.contains(a))
                    .map(|(_, _, w)| w.id.as_ref().map_or_else(|| format!("#{}", w.index + 1), |id| format!("`{id}`"))),
            );
            let features = if members.len() == 1 { "feature" } else { "features" };
            problems.push(format!(
                "{features} {}: not connected to the largest part of the site (`{}` ...) by any walkway (part {} of {count})",
                members.join(", "),
                places[parts[0][0]].id,
                n + 1
            ));
        }
    }

    // The places and walkways as scenario entries.
    let mut place_specs = Vec::new();
    for p in &places {
        match place_spec(p, &mut notes) {
            Ok(spec) => place_specs.push(spec),
            Err(e) => problems.push(format!("feature `{}`: {e}", p.id)),
        }
    }
    let mut walkway_specs = Vec::new();
    for (a, b, w) in &joined {
        match walkway_spec(&places[*a], &places[*b], w, &mut notes) {
            Ok(spec) => walkway_specs.push(spec),
            Err(e) => problems.push(format!("{}: {e}", label(w.index, w.id.as_deref()))),
        }
    }
    if places.is_empty() && problems.is_empty() {
        problems.push("no places: a site needs at least one Polygon feature".into());
    }
    if !problems.is_empty() {
        return Err(refuse(problems));
    }

    notes.push(format!(
        "Run window start = \"{DEFAULT_START}\", end = \"{DEFAULT_END}\" (a default); no sessions or visitors yet."
    ));
    let stem = std::path::Path::new(file).file_name().map_or(file.into(), |n| n.to_string_lossy());
    let name = members
        .get("name")
        .and_then(Value::as_str)
        .map_or_else(|| format!("Site imported from {stem}"), str::to_string);
    let scenario = ScenarioFile {
        version: SCENARIO_FORMAT_VERSION,
        name,
        description: format!("Site imported from {stem} by `crowdtwin import geojson`."),
        seed: 1,
        origin_lat_lon: projection.map(|p| [p.lat0, p.lon0]).or(origin),
        start: DEFAULT_START.into(),
        end: DEFAULT_END.into(),
        model: ModelParams::default(),
        places: place_specs.into_iter().map(|p| Spanned::new(0..0, p)).collect(),
        walkways: walkway_specs.into_iter().map(|w| Spanned::new(0..0, w)).collect(),
        sessions: Vec::new(),
        visitors: None,
        crowds: Vec::new(),
        interventions: Vec::new(),
        validation: None,
    };
    Scenario::resolve(&scenario, "", file)?;
    Ok(Imported { scenario, notes })
}

/// Adds a place feature after checking its id and kind.
fn places_push(
    places: &mut Vec<PlaceFeature>,
    problems: &mut Vec<String>,
    id: Option<String>,
    name: &str,
    shape: MultiPolygon<f64>,
    properties: JsonObject,
) {
    let kind = match properties.get("kind") {
        None => Err("has no `kind` property".to_string()),
        Some(kind) => serde_json::from_value::<PlaceKind>(kind.clone()).map_err(|_| {
            let names: Vec<&str> = PlaceKind::ALL.iter().map(|k| k.as_str()).collect();
            format!("kind {kind} is not a place kind (one of {})", names.join(", "))
        }),
    };
    let id = id.ok_or_else(|| "a place needs an `id` property".to_string());
    match (id, kind) {
        (Ok(id), Ok(kind)) => places.push(PlaceFeature { id, kind, shape, properties }),
        (id, kind) => {
            for e in [id.err(), kind.err()].into_iter().flatten() {
                problems.push(format!("{name}: {e}"));
            }
        }
    }
}

/// A polygon in metres from GeoJSON rings: at least 3 distinct points, an
/// area, no self-intersection.
fn polygon(rings: &[Vec<Position>], to_metres: &impl Fn(&Position) -> Coord<f64>) -> Result<Polygon<f64>, String> {
    let mut rings = rings.iter().map(|ring| ring.iter().map(to_metres).collect::<LineString<f64>>());
    let Some(exterior) = rings.next() else { return Err("a Polygon with no rings".into()) };
    if !exterior.0.iter().all(|c| c.x.is_finite() && c.y.is_finite()) {
        return Err("its outline has a coordinate that is not a finite number".into());
    }
    let mut distinct = exterior.0.clone();
    distinct.sort_by(|a, b| a.x.total_cmp(&b.x).then(a.y.total_cmp(&b.y)));
    distinct.dedup();
    if distinct.len() < 3 {
        return Err(format!("its outline has {} distinct points; a place needs at least 3", distinct.len()));
    }
    let (p0, p1) = (distinct[0], distinct[1]);
    let scale = distinct.iter().map(|c| (c.x - p0.x).abs().max((c.y - p0.y).abs())).fold(0.0, f64::max);
    let on_one_line = distinct
        .iter()
        .all(|c| ((p1.x - p0.x) * (c.y - p0.y) - (p1.y - p0.y) * (c.x - p0.x)).abs() <= 1e-9 * scale * scale);
    if on_one_line {
        return Err("its outline has zero area (its points lie on one line)".into());
    }
    let polygon = Polygon::new(exterior, rings.collect());
    if let Err(e) = polygon.check_validation() {
        return Err(format!("its outline is not a simple polygon: {e}"));
    }
    if polygon.unsigned_area() < 1e-6 {
        return Err("its outline has zero area".into());
    }
    Ok(polygon)
}

/// The place a line's end lies in or within [`TOUCH_TOLERANCE_M`] of (the
/// nearest), or what is nearest.
fn touched(places: &[PlaceFeature], end: Coord<f64>) -> Result<usize, String> {
    let point = Point::from(end);
    if let Some(i) = places.iter().position(|p| p.shape.intersects(&point)) {
        return Ok(i);
    }
    let nearest = places
        .iter()
        .enumerate()
        .map(|(i, p)| (i, p.shape.0.iter().map(|part| Euclidean.distance(&point, part)).fold(f64::INFINITY, f64::min)))
        .min_by(|a, b| a.1.total_cmp(&b.1));
    match nearest {
        Some((i, distance)) if distance <= TOUCH_TOLERANCE_M => Ok(i),
        Some((i, distance)) => {
            Err(format!("({:.1}, {:.1}) is {distance:.1} m from the nearest place, `{}`", end.x, end.y, places[i].id))
        }
        None => Err("there are no places".into()),
    }
}

/// The connected parts of a graph of `n` nodes, largest first (ties: the
/// one with the lowest node), each sorted.
fn components(n: usize, edges: impl Iterator<Item = (usize, usize)>) -> Vec<Vec<usize>> {
    let mut parent: Vec<usize> = (0..n).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for (a, b) in edges {
        let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
        parent[ra.max(rb)] = ra.min(rb);
    }
    let mut parts: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..n {
        let r = root(&mut parent, i);
        parts.entry(r).or_default().push(i);
    }
    let mut parts: Vec<Vec<usize>> = parts.into_values().collect();
    parts.sort_by(|a, b| b.len().cmp(&a.len()).then(a[0].cmp(&b[0])));
    parts
}

/// The place entry of a place feature: its outline's centroid and area (or
/// its `area_m2`), its properties, and defaults for what its kind needs.
fn place_spec(p: &PlaceFeature, notes: &mut Vec<String>) -> Result<PlaceSpec, String> {
    let centroid = p.shape.centroid().ok_or("its outline has no centroid")?;
    let geometry_area = p.shape.unsigned_area();
    let mut fields = JsonObject::new();
    let mut ignored = Vec::new();
    for (key, value) in &p.properties {
        if PLACE_FIELDS.contains(&key.as_str()) {
            if !value.is_null() {
                fields.insert(key.clone(), value.clone());
            }
        } else if key != "id" && key != "kind" {
            ignored.push(key.as_str());
        }
    }
    if !ignored.is_empty() {
        notes.push(format!("place `{}`: ignored properties {}", p.id, ignored.join(", ")));
    }
    let area_m2 = match fields.get("area_m2") {
        Some(area) => {
            let area = area.as_f64().ok_or_else(|| format!("area_m2 = {area} is not a number"))?;
            if (area - geometry_area).abs() > 0.01 * geometry_area {
                notes.push(format!(
                    "place `{}`: area_m2 = {area} from its property (its outline encloses {geometry_area:.0} m²)",
                    p.id
                ));
            }
            area
        }
        None => round_to(geometry_area, 100.0),
    };
    fields.insert("id".into(), json!(p.id));
    fields.insert("kind".into(), json!(p.kind));
    fields.insert("position_m".into(), json!([round_to(centroid.x(), 1e3), round_to(centroid.y(), 1e3)]));
    fields.insert("area_m2".into(), json!(area_m2));
    let exterior =
        &p.shape.0.iter().max_by(|a, b| a.unsigned_area().total_cmp(&b.unsigned_area())).expect("a part").exterior();
    let mut ring: Vec<[f64; 2]> = exterior.0.iter().map(|c| [round_to(c.x, 1e3), round_to(c.y, 1e3)]).collect();
    if ring.len() > 1 && ring.first() == ring.last() {
        ring.pop();
    }
    if p.shape.0.len() > 1 {
        notes.push(format!(
            "place `{}`: {} parts; polygon_m is the largest part's outline, area_m2 and position_m are of all parts",
            p.id,
            p.shape.0.len()
        ));
    }
    if p.shape.0.iter().any(|part| !part.interiors().is_empty()) {
        notes.push(format!("place `{}`: holes are left out of polygon_m (area_m2 excludes them)", p.id));
    }
    fields.insert("polygon_m".into(), json!(ring));
    let defaults: &[(&str, Value)] = match p.kind {
        PlaceKind::Gate => &[("lanes", json!(4)), ("service_s", json!(12.0))],
        PlaceKind::Venue => {
            &[("seats", json!(1000)), ("lanes", json!(4)), ("service_s", json!(8.0)), ("egress_width_m", json!(10.0))]
        }
        PlaceKind::Shop => &[("servers", json!(2)), ("service_s", json!(90.0))],
        PlaceKind::Food => &[("servers", json!(4)), ("service_s", json!(75.0))],
        PlaceKind::Plaza | PlaceKind::FanZone | PlaceKind::Transit => &[],
    };
    let mut filled = Vec::new();
    for (key, value) in defaults {
        if !fields.contains_key(*key) {
            fields.insert((*key).to_string(), value.clone());
            filled.push(format!("{key} = {value}"));
        }
    }
    if !filled.is_empty() {
        notes.push(format!(
            "place `{}` ({}): default {} (not in the file; edit them)",
            p.id,
            p.kind,
            filled.join(", ")
        ));
    }
    serde_json::from_value::<PlaceSpec>(Value::Object(fields)).map_err(|e| format!("a property: {e}"))
}

/// The walkway entry of a line joining places `a` and `b`.
fn walkway_spec(
    a: &PlaceFeature,
    b: &PlaceFeature,
    w: &WalkwayFeature,
    notes: &mut Vec<String>,
) -> Result<WalkwaySpec, String> {
    let name = w.id.clone().unwrap_or_else(|| format!("{}--{}", a.id, b.id));
    let number = |key: &str| -> Result<Option<f64>, String> {
        match w.properties.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_f64().map(Some).ok_or_else(|| format!("{key} = {v} is not a number")),
        }
    };
    let ignored: Vec<&str> = w.properties.keys().map(String::as_str).filter(|k| !WALKWAY_FIELDS.contains(k)).collect();
    if !ignored.is_empty() {
        notes.push(format!("walkway `{name}`: ignored properties {}", ignored.join(", ")));
    }
    let width_m = match number("width_m")? {
        Some(width) => width,
        None => {
            notes.push(format!("walkway `{name}`: default width_m = {DEFAULT_WIDTH_M} (not in the file; edit it)"));
            DEFAULT_WIDTH_M
        }
    };
    let line_length = Euclidean.length(&w.line);
    let length_m = match number("length_m")? {
        Some(length) => {
            if (length - line_length).abs() > 0.01 * line_length {
                notes.push(format!(
                    "walkway `{name}`: length_m = {length} from its property (its line is {line_length:.0} m long)"
                ));
            }
            length
        }
        None => round_to(line_length, 100.0),
    };
    let bottleneck = match w.properties.get("bottleneck") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(v) => return Err(format!("bottleneck = {v} is not true or false")),
    };
    let mut line: Vec<[f64; 2]> = w.line.0.iter().map(|c| [round_to(c.x, 1e3), round_to(c.y, 1e3)]).collect();
    // Drawn from `to` to `from`: turn it round so that it runs from `from`.
    let start = Point::from(w.line.0[0]);
    let from_distance = a.shape.0.iter().map(|p| Euclidean.distance(&start, p)).fold(f64::INFINITY, f64::min);
    let to_distance = b.shape.0.iter().map(|p| Euclidean.distance(&start, p)).fold(f64::INFINITY, f64::min);
    if to_distance < from_distance {
        line.reverse();
    }
    Ok(WalkwaySpec {
        from: Spanned::new(0..0, a.id.clone()),
        to: Spanned::new(0..0, b.id.clone()),
        length_m: Some(length_m),
        line_m: Some(line),
        width_m,
        bottleneck,
        capacity_p_per_m_s: number("capacity_p_per_m_s")?,
        exit_width_m: number("exit_width_m")?,
    })
}

/// Every feature with a coordinate outside longitude [-180, 180] and
/// latitude [-90, 90], once each.
fn check_lon_lat(collection: &FeatureCollection) -> Vec<String> {
    let mut problems = Vec::new();
    for (index, feature) in collection.features.iter().enumerate() {
        let mut bad = None;
        if let Some(geometry) = &feature.geometry {
            each_position(&geometry.value, &mut |p| {
                let s = p.as_slice();
                let ok =
                    s.len() >= 2 && s[0].is_finite() && s[1].is_finite() && s[0].abs() <= 180.0 && s[1].abs() <= 90.0;
                if !ok && bad.is_none() {
                    bad = Some(s.to_vec());
                }
            });
        }
        if let Some(bad) = bad {
            let id = feature_id(feature);
            problems.push(format!(
                "{}: coordinate {bad:?} is not a longitude/latitude; for a file in local metres give the \
                 collection \"frame\": \"local_m\" or pass --frame local-m",
                label(index, id.as_deref())
            ));
        }
    }
    problems
}

fn feature_id(feature: &Feature) -> Option<String> {
    match feature.properties.as_ref().and_then(|p| p.get("id")) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => match &feature.id {
            Some(geojson::feature::Id::String(s)) => Some(s.clone()),
            Some(geojson::feature::Id::Number(n)) => Some(n.to_string()),
            None => None,
        },
    }
}

/// Every position of a geometry.
fn each_position(value: &GeometryValue, f: &mut impl FnMut(&Position)) {
    match value {
        GeometryValue::Point { coordinates } => f(coordinates),
        GeometryValue::MultiPoint { coordinates } | GeometryValue::LineString { coordinates } => {
            coordinates.iter().for_each(f)
        }
        GeometryValue::MultiLineString { coordinates } | GeometryValue::Polygon { coordinates } => {
            coordinates.iter().flatten().for_each(f)
        }
        GeometryValue::MultiPolygon { coordinates } => coordinates.iter().flatten().flatten().for_each(f),
        GeometryValue::GeometryCollection { geometries } => geometries.iter().for_each(|g| each_position(&g.value, f)),
    }
}

/// The centre of the bounding box of every coordinate, [lon, lat].
fn bounding_centre(collection: &FeatureCollection) -> Option<[f64; 2]> {
    let (mut min, mut max) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for feature in &collection.features {
        if let Some(geometry) = &feature.geometry {
            each_position(&geometry.value, &mut |p| {
                for k in 0..2 {
                    min[k] = min[k].min(p[k]);
                    max[k] = max[k].max(p[k]);
                }
            });
        }
    }
    min[0].is_finite().then(|| [(min[0] + max[0]) / 2.0, (min[1] + max[1]) / 2.0])
}

/// Largest GeoJSON site file read, bytes.
pub const SITE_FILE_BYTES_MAX: u64 = 64 << 20;

/// Reads a scenario file and exports its site ([`export_geojson`]).
pub fn export_geojson_file(path: &std::path::Path) -> Result<String, PlannerError> {
    let (scenario, text) = crate::run::load_scenario_with_text(path)?;
    let raw: ScenarioFile = toml::from_str(&text).map_err(|e| PlannerError::file(path.display(), e.message()))?;
    Ok(export_geojson(&raw, &scenario))
}

/// Reads a GeoJSON site file and builds a scenario skeleton from it ([`import_geojson`]).
pub fn import_geojson_file(path: &std::path::Path, options: &ImportOptions) -> Result<Imported, PlannerError> {
    let name = path.display().to_string();
    let metadata = std::fs::metadata(path).map_err(|e| PlannerError::file(&name, e))?;
    if metadata.len() > SITE_FILE_BYTES_MAX {
        return Err(PlannerError::file(&name, format!("larger than {SITE_FILE_BYTES_MAX} bytes")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| PlannerError::file(&name, e))?;
    import_geojson(&text, &name, options)
}
