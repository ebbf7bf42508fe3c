//! Scenario files: every error names the file, the line and what is wrong.

use crowdtwin_sim::scenario::{Scenario, json_schema};

const GANGNEUNG: &str = include_str!("../../../scenarios/gangneung-2018.toml");

fn error(text: &str) -> String {
    Scenario::parse(text, "bad.toml").expect_err("must be refused").to_string()
}

/// The 1-based line of the first occurrence of `needle` in `text`.
fn line_of(text: &str, needle: &str) -> usize {
    text[..text.find(needle).expect("needle present")].lines().count() + 1
}

#[test]
fn the_bundled_scenario_is_valid() {
    let scenario = Scenario::parse(GANGNEUNG, "gangneung-2018.toml").unwrap();
    assert_eq!(scenario.places.iter().filter(|p| p.seats > 0).map(|p| p.seats).sum::<u32>(), 33_500);
    assert_eq!(scenario.sessions.len(), 10);
    assert_eq!(scenario.visitors.as_ref().unwrap().count, 60_000);
}

#[test]
fn errors_name_the_file_line_and_problem() {
    let cases = [
        (
            GANGNEUNG.replace("to = \"gate-west\"", "to = \"gate-wset\""),
            "to = \"gate-wset\"",
            "`gate-wset` is not a place id",
        ),
        (GANGNEUNG.replace("seats = 12000", "seats = -5"), "seats = -5", "`seats`: invalid value"),
        (GANGNEUNG.replace("area_m2 = 12000", "area_m2 = 12000\ncolour = \"red\""), "colour", "unknown field"),
        (GANGNEUNG.replace("start = \"16:00\"", "start = \"16:75\""), "start = \"16:75\"", "not a clock time"),
        (GANGNEUNG.replace("kind = \"plaza\"", "kind = \"lawn\""), "kind = \"lawn\"", "unknown variant"),
        (GANGNEUNG.replace("width_m = 15", "width_m = 15\nwidth_m = 3"), "width_m = 3", "duplicate key"),
    ];
    for (text, needle, message) in cases {
        let error = error(&text);
        let line = line_of(&text, needle);
        // The line of the offending entry or key; an entry's error points at
        // the start of its table, at most a few lines above.
        let reported: usize = error.split(':').nth(1).and_then(|l| l.parse().ok()).unwrap_or_else(|| panic!("{error}"));
        assert!(error.starts_with("bad.toml:"), "{error}");
        assert!(reported <= line && line - reported <= 12, "{error} (expected near line {line})");
        assert!(error.contains(message), "{error} lacks {message}");
    }
}

#[test]
fn semantic_errors_are_refused() {
    let cases = [
        (GANGNEUNG.replace("version = 1", "version = 2"), "format version 2"),
        (GANGNEUNG.replace("end = \"25:00\"", "end = \"06:00\""), "must be after start"),
        (GANGNEUNG.replace("end = \"11:50\"", "end = \"11:50\"\ntickets = 4000"), "4000 tickets for 3500 seats"),
        (GANGNEUNG.replace("start = \"09:05\"", "start = \"06:05\""), "before the run starts"),
        (GANGNEUNG.replace("start = \"20:05\"", "start = \"16:00\""), "overlaps"),
        (GANGNEUNG.replace("egress_width_m = 24\n", ""), "a venue needs `egress_width_m`"),
        (GANGNEUNG.replace("food_probability = 0.55", "food_probability = 1.5"), "food_probability"),
        (GANGNEUNG.replace("id = \"plaza-north\"", "id = \"olympic-plaza\""), "used twice"),
        (GANGNEUNG.replace("seats = 12000", "seats = 0"), "seats = 0: a venue needs at least one seat"),
        (
            GANGNEUNG.replace("sports = [\"curling\"]", "sports = [\"curlling\"]"),
            "place `superstore`: no session has the sport `curlling` (item `curling-stone-keyring`)",
        ),
        (GANGNEUNG.replace("sports = [\"curling\"]", "sports = [\"curling\", \"curling\"]"), "named once each"),
    ];
    for (text, message) in cases {
        let error = error(&text);
        assert!(error.contains(message), "{error} lacks {message}");
    }
}

#[test]
fn the_json_schema_describes_the_format() {
    let schema: serde_json::Value = serde_json::from_str(&json_schema()).unwrap();
    let properties = &schema["properties"];
    for key in ["version", "places", "walkways", "sessions", "visitors", "crowds", "interventions", "model"] {
        assert!(properties.get(key).is_some(), "schema lacks {key}");
    }
    let shipped = include_str!("../../../scenarios/scenario.schema.json");
    assert!(
        shipped == json_schema(),
        "scenarios/scenario.schema.json is stale: run `crowdtwin schema > scenarios/scenario.schema.json`"
    );
}

/// The reported line of `error` (one error) as a number.
fn reported_line(error: &str) -> usize {
    error.split(':').nth(1).and_then(|l| l.parse().ok()).unwrap_or_else(|| panic!("no line in {error}"))
}

#[test]
fn a_value_out_of_its_type_names_its_field_and_line() {
    for (from, to, field) in [
        ("seats = 12000", "seats = -5", "seats"),
        ("lanes = 8", "lanes = -1", "lanes"),
        ("count = 60000", "count = -60000", "count"),
        ("width_m = 15", "width_m = \"wide\"", "width_m"),
    ] {
        assert!(GANGNEUNG.contains(from), "{from}");
        let text = GANGNEUNG.replacen(from, to, 1);
        let error = error(&text);
        assert_eq!(reported_line(&error), line_of(&text, to), "{error}");
        assert!(error.contains(&format!("`{field}`: invalid")), "{error} does not name `{field}`");
    }
}

#[test]
fn an_unknown_place_is_reported_at_the_line_of_its_field() {
    let cases = [
        ("from = \"gate-west\"", "from = \"gate-wset\"", "from `gate-wset` is not a place id"),
        ("to = \"gate-west\"", "to = \"gate-wset\"", "to `gate-wset` is not a place id"),
        ("venue = \"oval\"", "venue = \"ovla\"", "venue `ovla` is not a place id"),
    ];
    for (from, to, message) in cases {
        assert!(GANGNEUNG.contains(from), "{from}");
        let text = GANGNEUNG.replacen(from, to, 1);
        let error = error(&text);
        assert_eq!(reported_line(&error), line_of(&text, to), "{error}: not at the field's line");
        assert!(error.contains(message), "{error} lacks {message}");
    }
}

#[test]
fn every_error_in_a_file_is_reported_at_once() {
    // Four bad references in three walkways and a session, and a bad width
    // in another walkway: five errors, each at its own line, in line order.
    let bad = [
        ("to = \"gate-west\"", "to = \"gate-wset\"", "`gate-wset` is not a place id"),
        ("from = \"gate-east\"", "from = \"gate-eats\"", "`gate-eats` is not a place id"),
        ("to = \"hockey-centre\"", "to = \"hokey-centre\"", "`hokey-centre` is not a place id"),
        ("venue = \"oval\"", "venue = \"ovla\"", "`ovla` is not a place id"),
    ];
    let mut text = GANGNEUNG.to_string();
    for (from, to, _) in bad {
        assert!(text.contains(from), "{from}");
        text = text.replacen(from, to, 1);
    }
    let first = text.find("[[walkways]]").unwrap() + 1;
    let walkways = first + text[first..].find("[[walkways]]").unwrap();
    let width = walkways + text[walkways..].find("width_m = ").unwrap();
    text.replace_range(width..width + "width_m = ".len(), "width_m = 0.01 # ");
    let scenario_error = Scenario::parse(&text, "bad.toml").expect_err("must be refused");
    assert_eq!(scenario_error.each().count(), 5, "{scenario_error}");
    let errors: Vec<String> = scenario_error.to_string().lines().map(str::to_string).collect();
    assert_eq!(errors.len(), 5, "one line each: {scenario_error}");
    for (_, to, message) in bad {
        let error =
            errors.iter().find(|e| e.contains(message)).unwrap_or_else(|| panic!("{message} missing: {errors:?}"));
        assert_eq!(reported_line(error), line_of(&text, to), "{error}");
    }
    assert!(errors.iter().any(|e| e.contains("width_m = 0.01 must be between")), "{errors:?}");
    let lines: Vec<usize> = errors.iter().map(|e| reported_line(e)).collect();
    assert!(lines.windows(2).all(|w| w[0] < w[1]), "not in line order: {errors:?}");
}

/// The bundled scenario with the olympic plaza's outline line replaced by `outline`.
fn with_plaza_outline(outline: &str) -> String {
    let place = GANGNEUNG.find("id = \"olympic-plaza\"").unwrap();
    let start = place + GANGNEUNG[place..].find("polygon_m = ").unwrap();
    let end = start + GANGNEUNG[start..].find('\n').unwrap();
    format!("{}{outline}{}", &GANGNEUNG[..start], &GANGNEUNG[end..])
}

#[test]
fn outlines_and_centre_lines_are_carried_to_the_resolved_scenario() {
    let scenario = Scenario::parse(GANGNEUNG, "gangneung-2018.toml").unwrap();
    assert!(scenario.places.iter().all(|p| p.polygon_m.as_ref().is_some_and(|r| r.len() >= 4)));
    let text = with_plaza_outline("polygon_m = [[395, 395], [505, 395], [505, 505], [395, 505]]");
    let scenario = Scenario::parse(&text, "outlined.toml").unwrap();
    let plaza = scenario.places.iter().find(|p| p.id == "olympic-plaza").unwrap();
    assert_eq!(plaza.polygon_m.as_deref(), Some(&[[395.0, 395.0], [505.0, 395.0], [505.0, 505.0], [395.0, 505.0]][..]));
    // The outline does not set the model's inputs.
    assert_eq!((plaza.position_m, plaza.area_m2), ([450.0, 450.0], 12_000.0));
    let lined: Vec<_> = scenario.walkways.iter().filter(|w| w.line_m.is_some()).collect();
    assert_eq!(lined.len(), 2);
    assert_eq!(lined[0].line_m.as_ref().unwrap().len(), 3);
    // The model's inputs stay as written: the line does not set the length.
    assert_eq!(lined[0].length_m, 1100.0);
}

#[test]
fn a_degenerate_outline_or_line_is_refused_with_its_place_or_walkway_named() {
    let cases = [
        ("polygon_m = [[0, 0], [10, 0], [0, 0]]", "place `olympic-plaza`: polygon_m has 2 distinct points"),
        ("polygon_m = [[0, 0], [10, 0], [20, 0], [0, 0]]", "place `olympic-plaza`: polygon_m has zero area"),
        (
            "polygon_m = [[0, 0], [10, 0], [10, nan]]",
            "place `olympic-plaza`: polygon_m: every coordinate must be finite",
        ),
        (
            "polygon_m = [[0, 0], [10, 0], [10, inf]]",
            "place `olympic-plaza`: polygon_m: every coordinate must be finite",
        ),
    ];
    for (outline, message) in cases {
        let text = with_plaza_outline(outline);
        let error = error(&text);
        assert!(error.contains(message), "{error} lacks {message}");
        // At the place's table, the line above its id.
        assert_eq!(reported_line(&error) + 1, line_of(&text, "id = \"olympic-plaza\""), "{error}");
    }
    let walkway = "from = \"gate-west\"\nto = \"olympic-plaza\"";
    for (line, message) in [
        ("line_m = [[0, 500]]", "walkway gate-west -> olympic-plaza: line_m has 1 point(s)"),
        ("line_m = [[0, 500], [0, 500]]", "walkway gate-west -> olympic-plaza: line_m has zero length"),
    ] {
        let text = GANGNEUNG.replacen(walkway, &format!("{walkway}\n{line}"), 1);
        let error = error(&text);
        assert!(error.contains(message), "{error} lacks {message}");
    }
}
