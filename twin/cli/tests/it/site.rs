//! `crowdtwin export geojson` and `crowdtwin import geojson`: site geometry
//! round trips, topology problems named by feature, bad input refused.

use crowdtwin_sim::scenario::Scenario;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn crowdtwin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_crowdtwin")).args(args).output().expect("crowdtwin runs")
}

fn succeeded(output: &Output) -> String {
    assert!(output.status.success(), "stderr: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).to_string()
}

fn gangneung() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/gangneung-2018.toml")
}

fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("crowdtwin-site-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn export(scenario: &Path, out: &Path) -> Value {
    succeeded(&crowdtwin(&["export", "geojson", path(scenario), "--out", path(out)]));
    serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap()
}

fn import(site: &Path, out: &Path, extra: &[&str]) -> (String, Scenario) {
    let mut args = vec!["import", "geojson", path(site), "--out", path(out)];
    args.extend(extra);
    let stdout = succeeded(&crowdtwin(&args));
    succeeded(&crowdtwin(&["validate", path(out)]));
    let text = std::fs::read_to_string(out).unwrap();
    (stdout, Scenario::parse(&text, path(out)).unwrap())
}

/// Every feature's properties without `keys`.
fn without(collection: &Value, keys: &[&str]) -> Value {
    let mut collection = collection.clone();
    for feature in collection["features"].as_array_mut().unwrap() {
        let properties = feature["properties"].as_object_mut().unwrap();
        for key in keys {
            properties.remove(*key);
        }
    }
    collection
}

/// Places (id, kind, area, position) and walkways (ends, length, width) of
/// `imported` match `original`'s: areas and lengths within 1%, positions
/// within 1 m.
fn assert_same_site(original: &Scenario, imported: &Scenario) {
    assert_eq!(imported.places.len(), original.places.len());
    for (a, b) in original.places.iter().zip(&imported.places) {
        assert_eq!((&a.id, a.kind, &a.name), (&b.id, b.kind, &b.name));
        assert!((a.area_m2 - b.area_m2).abs() <= 0.01 * a.area_m2, "{}: {} m² became {}", a.id, a.area_m2, b.area_m2);
        let moved = ((a.position_m[0] - b.position_m[0]).powi(2) + (a.position_m[1] - b.position_m[1]).powi(2)).sqrt();
        assert!(moved < 1.0, "{} moved {moved} m", a.id);
        assert_eq!((a.servers, a.seats, a.service_s), (b.servers, b.seats, b.service_s), "{}", a.id);
    }
    assert_eq!(imported.walkways.len(), original.walkways.len());
    for (a, b) in original.walkways.iter().zip(&imported.walkways) {
        let ends =
            |s: &Scenario, w: &crowdtwin_sim::scenario::Walkway| (s.places[w.a].id.clone(), s.places[w.b].id.clone());
        assert_eq!(ends(original, a), ends(imported, b));
        assert!(
            (a.length_m - b.length_m).abs() <= 0.01 * a.length_m,
            "{:?}: {} m became {}",
            ends(original, a),
            a.length_m,
            b.length_m
        );
        assert_eq!(a.width_m, b.width_m);
    }
}

/// The bundled scenario's `[visitors]` table and sessions, to add to an
/// imported site so it runs the same day.
fn visitors_and_sessions() -> String {
    let text = std::fs::read_to_string(gangneung()).unwrap();
    let visitors = text.find("[visitors]").unwrap();
    let visitors_end = visitors + text[visitors..].find("\n# ---").unwrap();
    let sessions = text.find("[[sessions]]").unwrap();
    format!("\n{}\n\n{}", &text[visitors..visitors_end], &text[sessions..])
}

/// Runs `scenario` to noon; its kpis.json.
fn morning_kpis(scenario_text: &str, dir: &Path, name: &str) -> Value {
    let scenario = dir.join(format!("{name}.toml"));
    std::fs::write(
        &scenario,
        scenario_text.replace("end = \"25:00\"", "end = \"12:00\"").replace("end = \"23:00\"", "end = \"12:00\""),
    )
    .unwrap();
    let out = dir.join(format!("{name}-out"));
    succeeded(&crowdtwin(&["run", path(&scenario), "--quiet", "--out", path(&out)]));
    serde_json::from_str(&std::fs::read_to_string(out.join("kpis.json")).unwrap()).unwrap()
}

/// Every number of `a` and `b` within `tolerance` (relative, or 1e-6
/// absolute), every other value equal; the first difference if not.
fn differ(a: &Value, b: &Value, tolerance: f64, at: &str) -> Option<String> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            ((x - y).abs() > tolerance * x.abs().max(y.abs()) && (x - y).abs() > 1e-6)
                .then(|| format!("{at}: {x} vs {y}"))
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            x.iter().zip(y).enumerate().find_map(|(i, (x, y))| differ(x, y, tolerance, &format!("{at}[{i}]")))
        }
        (Value::Object(x), Value::Object(y)) if x.len() == y.len() => x.iter().find_map(|(k, v)| match y.get(k) {
            Some(w) => differ(v, w, tolerance, &format!("{at}.{k}")),
            None => Some(format!("{at}.{k} missing")),
        }),
        _ => (a != b).then(|| format!("{at}: {a} vs {b}")),
    }
}

#[test]
fn the_gangneung_site_round_trips_through_geojson() {
    let dir = folder("round-trip");
    let original = Scenario::parse(&std::fs::read_to_string(gangneung()).unwrap(), "gangneung").unwrap();
    let site = export(&gangneung(), &dir.join("site.geojson"));
    assert_eq!(site["type"], "FeatureCollection");
    assert_eq!(site["frame"], "lon_lat");
    assert_eq!(site["origin_lat_lon"], json!([37.774, 128.897]));
    let features = site["features"].as_array().unwrap();
    let kinds: Vec<&str> = features.iter().map(|f| f["geometry"]["type"].as_str().unwrap()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "Polygon").count(), 18);
    assert_eq!(kinds.iter().filter(|k| **k == "LineString").count(), 26);
    let plaza = &features[6];
    assert_eq!(plaza["properties"]["id"], "olympic-plaza");
    assert_eq!(plaza["properties"]["kind"], "plaza");
    assert_eq!(plaza["properties"]["area_m2"], 12000.0);
    // Longitude first, near the origin; the ring closed.
    let ring = plaza["geometry"]["coordinates"][0].as_array().unwrap();
    assert_eq!(ring.first(), ring.last());
    let lon = ring[0][0].as_f64().unwrap();
    let lat = ring[0][1].as_f64().unwrap();
    assert!((128.89..128.92).contains(&lon) && (37.77..37.79).contains(&lat), "{lon}, {lat}");
    let detour = features.iter().find(|f| f["properties"]["id"] == "ktx-shuttle-stop--gate-south").unwrap();
    assert_eq!(detour["geometry"]["coordinates"].as_array().unwrap().len(), 3);
    assert_eq!(detour["properties"]["length_m"], 1100.0);

    // From the geometry alone: areas from the outlines, lengths from the
    // lines, walkway ends from where the lines end.
    let geometry_only = dir.join("geometry-only.geojson");
    let stripped = without(&site, &["area_m2", "length_m", "from", "to"]);
    std::fs::write(&geometry_only, stripped.to_string()).unwrap();
    let (stdout, imported) = import(&geometry_only, &dir.join("geometry-only.toml"), &[]);
    assert!(stdout.contains("origin_lat_lon = [37.774, 128.897]"), "{stdout}");
    assert!(stdout.contains("18 places, 26 walkways"), "{stdout}");
    assert_eq!(imported.origin_lat_lon, Some([37.774, 128.897]));
    assert_same_site(&original, &imported);
    assert!(imported.places.iter().all(|p| p.polygon_m.is_some()));
    assert!(imported.walkways.iter().all(|w| w.line_m.is_some()));

    // Without the origin member: projected around the centre of the
    // coordinates instead; the places move, the site's shape does not.
    let mut no_origin = stripped.clone();
    no_origin.as_object_mut().unwrap().remove("origin_lat_lon");
    std::fs::write(dir.join("no-origin.geojson"), no_origin.to_string()).unwrap();
    let (_, moved) = import(&dir.join("no-origin.geojson"), &dir.join("no-origin.toml"), &[]);
    let [lat, lon] = moved.origin_lat_lon.unwrap();
    assert!((lat - 37.774).abs() > 1e-5 && (lat - 37.774).abs() < 0.01 && (lon - 128.897).abs() < 0.01, "{lat}, {lon}");
    let shift = |i: usize| {
        [
            moved.places[i].position_m[0] - original.places[i].position_m[0],
            moved.places[i].position_m[1] - original.places[i].position_m[1],
        ]
    };
    for i in 0..original.places.len() {
        let (a, b) = (shift(0), shift(i));
        assert!(
            (a[0] - b[0]).abs() < 1.0 && (a[1] - b[1]).abs() < 1.0,
            "{}: shifted {b:?}, not {a:?}",
            original.places[i].id
        );
        assert!((moved.places[i].area_m2 - original.places[i].area_m2).abs() <= 0.01 * original.places[i].area_m2);
    }
    for (a, b) in original.walkways.iter().zip(&moved.walkways) {
        assert_eq!((a.a, a.b), (b.a, b.b));
        assert!((a.length_m - b.length_m).abs() <= 0.01 * a.length_m);
    }

    // With the properties: the same again, and the same KPIs on the same day.
    let (_, with_properties) = import(&dir.join("site.geojson"), &dir.join("imported.toml"), &[]);
    assert_same_site(&original, &with_properties);
    let expected = morning_kpis(&std::fs::read_to_string(gangneung()).unwrap(), &dir, "original");
    let day = |name: &str| {
        let text = std::fs::read_to_string(dir.join(format!("{name}.toml"))).unwrap() + &visitors_and_sessions();
        morning_kpis(&text.replace("seed = 1\n", "seed = 2018\n"), &dir, &format!("{name}-day"))
    };
    // Every field carried over (areas, lengths and ends from the
    // properties, positions from the centroids): the very same run.
    assert_eq!(day("imported"), expected);
    // Areas and lengths from the geometry differ from the file's by up to
    // 0.5% (outlines rounded to 0.1 m) and so shift a few events: the same
    // day within noise.
    let kpis = day("geometry-only");
    assert_eq!(kpis["population"], expected["population"]);
    for (got, want) in kpis["sessions"].as_array().unwrap().iter().zip(expected["sessions"].as_array().unwrap()) {
        assert_eq!((&got["venue"], &got["start"], &got["tickets"]), (&want["venue"], &want["start"], &want["tickets"]));
        let (a, b) = (got["seated"].as_f64().unwrap(), want["seated"].as_f64().unwrap());
        assert!((a - b).abs() <= (0.01 * b).max(20.0), "{}: {a} seated, {b} before", want["name"]);
    }
    for key in ["events", "total_queue_time_s", "orders", "revenue", "peak_density_p_per_m2"] {
        if let Some(difference) = differ(&expected[key], &kpis[key], 0.02, key) {
            panic!("geometry-only: {difference}");
        }
    }
    // Balks are a few hundred on this morning: within 2% or three times
    // their Poisson noise, whichever is wider.
    let (a, b) = (kpis["balked"].as_f64().unwrap(), expected["balked"].as_f64().unwrap());
    assert!((a - b).abs() <= (0.02 * b).max(3.0 * b.sqrt()), "geometry-only: balked {a} vs {b}");
    let (elements, expected_elements) =
        (kpis["elements"].as_array().unwrap(), expected["elements"].as_array().unwrap());
    assert_eq!(elements.len(), 44);
    for (got, want) in elements.iter().zip(expected_elements) {
        assert_eq!(got["id"], want["id"]);
        let (a, b) = (got["entries"].as_f64().unwrap(), want["entries"].as_f64().unwrap());
        assert!((a - b).abs() <= (0.01 * b).max(20.0), "{}: {a} entries, {b} before", want["id"]);
        let (a, b) = (got["peak_density_p_per_m2"].as_f64().unwrap(), want["peak_density_p_per_m2"].as_f64().unwrap());
        assert!((a - b).abs() <= (0.05 * b).max(0.01), "{}: peak density {a}, {b} before", want["id"]);
    }
}

#[test]
fn a_scenario_without_outlines_or_origin_exports_circles_in_local_metres() {
    let dir = folder("circles");
    let text: String = std::fs::read_to_string(gangneung())
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("polygon_m") && !l.starts_with("line_m") && !l.starts_with("origin_lat_lon"))
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        // One outline drawn clockwise.
        .replacen(
            "area_m2 = 1800\n",
            "area_m2 = 1800\npolygon_m = [[-15, 470], [-15, 530], [15, 530], [15, 470]]\n",
            1,
        );
    let scenario = dir.join("bare.toml");
    std::fs::write(&scenario, &text).unwrap();
    let site = export(&scenario, &dir.join("bare.geojson"));
    assert_eq!(site["frame"], "local_m");
    assert!(site.get("origin_lat_lon").is_none());
    let plaza = &site["features"][6];
    let ring: Vec<[f64; 2]> = serde_json::from_value(plaza["geometry"]["coordinates"][0].clone()).unwrap();
    assert_eq!(ring.len(), 33, "32 corners and the closing point");
    let area: f64 = ring.windows(2).map(|w| w[0][0] * w[1][1] - w[1][0] * w[0][1]).sum::<f64>() / 2.0;
    assert!((area - 12_000.0).abs() < 1.0, "{area}");
    let radius = ((ring[0][0] - 450.0).powi(2) + (ring[0][1] - 450.0).powi(2)).sqrt();
    assert!((61.0..63.0).contains(&radius), "centred on the position: {radius}");
    let gate: Vec<[f64; 2]> =
        serde_json::from_value(site["features"][3]["geometry"]["coordinates"][0].clone()).unwrap();
    assert_eq!(site["features"][3]["properties"]["id"], "gate-west");
    assert_eq!(
        gate,
        [[15.0, 470.0], [15.0, 530.0], [-15.0, 530.0], [-15.0, 470.0], [15.0, 470.0]],
        "turned anticlockwise, closed"
    );
    let walkway = site["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["properties"]["id"] == "gate-west--olympic-plaza")
        .unwrap();
    assert_eq!(walkway["geometry"]["coordinates"], json!([[0.0, 500.0], [450.0, 450.0]]));
    // Read back in its own frame (from the `frame` member).
    let original = Scenario::parse(&text, "bare").unwrap();
    let (stdout, imported) = import(&dir.join("bare.geojson"), &dir.join("bare-imported.toml"), &[]);
    assert!(stdout.contains("frame local_m"), "{stdout}");
    assert_eq!(imported.origin_lat_lon, None);
    assert_same_site(&original, &imported);
}

/// A small site in local metres: three squares joined in a row by two
/// walkways, plus `extra` features.
fn small_site(extra: &[Value]) -> Value {
    let square = |id: &str, kind: &str, x: f64| {
        json!({"type": "Feature", "properties": {"id": id, "kind": kind, "name": id},
               "geometry": {"type": "Polygon", "coordinates": [[[x, 0.0], [x + 20.0, 0.0], [x + 20.0, 20.0], [x, 20.0], [x, 0.0]]]}})
    };
    let line = |id: &str, from: [f64; 2], to: [f64; 2]| {
        json!({"type": "Feature", "properties": {"id": id, "width_m": 4.0},
               "geometry": {"type": "LineString", "coordinates": [from, to]}})
    };
    let mut features = vec![
        square("gate", "gate", 0.0),
        square("plaza", "plaza", 100.0),
        square("arena", "venue", 200.0),
        line("gate-plaza", [10.0, 10.0], [110.0, 10.0]),
        // Ends just outside the outlines, within the tolerance.
        line("plaza-arena", [122.0, 10.0], [198.0, 10.0]),
    ];
    features.extend(extra.iter().cloned());
    json!({"type": "FeatureCollection", "frame": "local_m", "features": features})
}

fn polygon(id: Option<&str>, kind: &str, ring: &[[f64; 2]]) -> Value {
    let mut properties = json!({"kind": kind});
    if let Some(id) = id {
        properties["id"] = json!(id);
    }
    json!({"type": "Feature", "properties": properties, "geometry": {"type": "Polygon", "coordinates": [ring]}})
}

fn walkway(id: &str, line: &[[f64; 2]]) -> Value {
    json!({"type": "Feature", "properties": {"id": id, "width_m": 3.0}, "geometry": {"type": "LineString", "coordinates": line}})
}

/// Imports `site` (written to `dir`), which must be refused: its stderr.
fn refused(dir: &Path, name: &str, site: &str, extra: &[&str]) -> String {
    let file = dir.join(format!("{name}.geojson"));
    std::fs::write(&file, site).unwrap();
    let out = dir.join(format!("{name}.toml"));
    let mut args = vec!["import", "geojson", path(&file), "--out", path(&out)];
    args.extend(extra);
    let output = crowdtwin(&args);
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(!output.status.success(), "{name} was accepted: {}", String::from_utf8_lossy(&output.stdout));
    assert!(!out.exists(), "{name}: a scenario was written though the site was refused");
    assert!(stderr.contains(path(&file)), "{name}: the file is not named: {stderr}");
    stderr
}

#[test]
fn the_small_site_imports_with_defaults_stated() {
    let dir = folder("small");
    let file = dir.join("small.geojson");
    std::fs::write(&file, small_site(&[]).to_string()).unwrap();
    let (stdout, scenario) = import(&file, &dir.join("small.toml"), &[]);
    assert_eq!(scenario.places.len(), 3);
    assert_eq!(scenario.walkways.len(), 2);
    let ends: Vec<(usize, usize)> = scenario.walkways.iter().map(|w| (w.a, w.b)).collect();
    assert_eq!(ends, [(0, 1), (1, 2)]);
    assert_eq!(scenario.places[1].position_m, [110.0, 10.0]);
    assert_eq!(scenario.places[1].area_m2, 400.0);
    assert_eq!(scenario.walkways[1].length_m, 76.0);
    // Defaults are said on the output and in the file.
    let toml = std::fs::read_to_string(dir.join("small.toml")).unwrap();
    for said in
        ["place `gate` (gate): default lanes = 4, service_s = 12.0", "place `arena` (venue): default seats = 1000"]
    {
        assert!(stdout.contains(said), "{stdout} lacks {said}");
        assert!(toml.contains(&format!("# {said}")), "{toml} lacks {said}");
    }
    assert!(stdout.contains("start = \"07:00\""), "{stdout}");
    // A place in two parts: the area of both, the outline of the larger.
    let mut site = small_site(&[]);
    site["features"][1]["geometry"] = json!({"type": "MultiPolygon", "coordinates": [
        [[[100.0, 0.0], [120.0, 0.0], [120.0, 20.0], [100.0, 20.0], [100.0, 0.0]]],
        [[[100.0, 30.0], [110.0, 30.0], [110.0, 40.0], [100.0, 30.0]]],
    ]});
    std::fs::write(dir.join("parts.geojson"), site.to_string()).unwrap();
    let (stdout, scenario) = import(&dir.join("parts.geojson"), &dir.join("parts.toml"), &[]);
    assert_eq!(scenario.places[1].area_m2, 450.0);
    assert_eq!(scenario.places[1].polygon_m.as_ref().unwrap().len(), 4);
    assert!(stdout.contains("place `plaza`: 2 parts"), "{stdout}");
    // Read as longitude/latitude when told so: the metres are out of range.
    let stderr = refused(&dir, "told-lon-lat", &small_site(&[]).to_string(), &["--frame", "lon-lat"]);
    assert!(stderr.contains("feature `arena`: coordinate [200.0, 0.0] is not a longitude/latitude"), "{stderr}");
    assert!(stderr.contains("--frame local-m"), "{stderr}");
}

#[test]
fn each_topology_problem_is_named_with_its_feature() {
    let dir = folder("topology");
    let cases: Vec<(&str, Vec<Value>, &str)> = vec![
        (
            "stray-walkway",
            vec![walkway("w-stray", &[[500.0, 500.0], [600.0, 500.0]])],
            "feature `w-stray`: the walkway touches no place",
        ),
        (
            "one-end-loose",
            vec![walkway("w-half", &[[10.0, 10.0], [10.0, 300.0]])],
            "feature `w-half`: its end touches no place: (10.0, 300.0) is 280.0 m from the nearest place, `gate`",
        ),
        (
            "overlap",
            vec![polygon(
                Some("p-overlap"),
                "plaza",
                &[[110.0, 10.0], [140.0, 10.0], [140.0, 40.0], [110.0, 40.0], [110.0, 10.0]],
            )],
            "feature `plaza`: overlaps feature `p-overlap` by 100.0 m²",
        ),
        (
            "island",
            vec![polygon(Some("p-island"), "fan_zone", &[[0.0, 500.0], [20.0, 500.0], [20.0, 520.0], [0.0, 500.0]])],
            "feature `p-island`: not connected to the largest part of the site (`gate` ...) by any walkway (part 2 of 2)",
        ),
        (
            "flat",
            vec![polygon(Some("p-flat"), "plaza", &[[0.0, 500.0], [10.0, 500.0], [20.0, 500.0], [0.0, 500.0]])],
            "feature `p-flat`: its outline has zero area",
        ),
        (
            "two-points",
            vec![polygon(Some("p-two"), "plaza", &[[0.0, 500.0], [10.0, 500.0], [0.0, 500.0]])],
            "feature `p-two`: its outline has 2 distinct points; a place needs at least 3",
        ),
        (
            "bow-tie",
            vec![polygon(
                Some("p-bowtie"),
                "plaza",
                &[[0.0, 500.0], [20.0, 520.0], [20.0, 500.0], [0.0, 520.0], [0.0, 500.0]],
            )],
            "feature `p-bowtie`: its outline is not a simple polygon",
        ),
        (
            "no-id",
            vec![polygon(None, "plaza", &[[0.0, 500.0], [20.0, 500.0], [20.0, 520.0], [0.0, 500.0]])],
            "feature #6 (no id): a place needs an `id` property",
        ),
        (
            "duplicate-id",
            vec![polygon(Some("plaza"), "plaza", &[[0.0, 500.0], [20.0, 500.0], [20.0, 520.0], [0.0, 500.0]])],
            "feature `plaza`: the id is used twice (features #2 and #6)",
        ),
        (
            "unknown-kind",
            vec![polygon(Some("p-lawn"), "lawn", &[[0.0, 500.0], [20.0, 500.0], [20.0, 520.0], [0.0, 500.0]])],
            "feature `p-lawn`: kind \"lawn\" is not a place kind (one of gate, plaza, venue, shop, food, fan_zone, transit)",
        ),
        (
            "point",
            vec![
                json!({"type": "Feature", "properties": {"id": "p-point"}, "geometry": {"type": "Point", "coordinates": [0.0, 0.0]}}),
            ],
            "feature `p-point`: a Point is neither a place (Polygon, MultiPolygon) nor a walkway (LineString)",
        ),
    ];
    let mut all = Vec::new();
    for (name, extra, message) in &cases {
        let stderr = refused(&dir, name, &small_site(extra).to_string(), &[]);
        assert!(stderr.contains(message), "{name}: {stderr} lacks {message}");
        all.extend(extra.iter().cloned());
    }
    // All at once: every problem reported in one go.
    let stderr = refused(&dir, "all", &small_site(&all).to_string(), &[]);
    for (_, _, message) in &cases {
        // The problem, less its feature's label (numbers and parts change).
        let problem: String = message.split_once(": ").unwrap().1.chars().take(25).collect();
        assert!(stderr.contains(&problem), "{stderr} lacks {problem}");
    }
    for id in ["w-stray", "w-half", "p-overlap", "p-island", "p-flat", "p-two", "p-bowtie", "p-lawn", "p-point"] {
        assert!(stderr.contains(&format!("`{id}`")), "{stderr} does not name {id}");
    }
    assert!(stderr.lines().count() >= cases.len(), "{stderr}");
}

#[test]
fn input_that_is_not_a_feature_collection_is_refused_and_nothing_is_written() {
    let dir = folder("bad-input");
    for (name, text, message) in [
        ("not-json", "places: [gate, plaza]", "not JSON"),
        ("empty", "", "not JSON"),
        (
            "a-feature",
            r#"{"type": "Feature", "properties": {}, "geometry": null}"#,
            "must be a GeoJSON FeatureCollection; this one is a `Feature`",
        ),
        ("an-array", "[1, 2, 3]", "must be a GeoJSON FeatureCollection; this JSON has no `type`"),
        ("bad-features", r#"{"type": "FeatureCollection", "features": 3}"#, "not a valid GeoJSON FeatureCollection"),
        (
            "bad-frame",
            r#"{"type": "FeatureCollection", "frame": "feet", "features": []}"#,
            "frame = \"feet\" is neither",
        ),
        ("no-places", r#"{"type": "FeatureCollection", "frame": "local_m", "features": []}"#, "no places"),
    ] {
        let stderr = refused(&dir, name, text, &[]);
        assert!(stderr.contains(message), "{name}: {stderr} lacks {message}");
    }
    // A file that is not there.
    let out = dir.join("missing.toml");
    let output = crowdtwin(&["import", "geojson", path(&dir.join("missing.geojson")), "--out", path(&out)]);
    assert!(!output.status.success() && !out.exists());
    assert!(String::from_utf8_lossy(&output.stderr).contains("missing.geojson"));
    // Export of a scenario that is refused writes nothing either.
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "version = 1\n").unwrap();
    let out = dir.join("bad.geojson");
    let output = crowdtwin(&["export", "geojson", path(&bad), "--out", path(&out)]);
    assert!(!output.status.success() && !out.exists());
}
