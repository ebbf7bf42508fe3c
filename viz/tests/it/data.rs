//! Replays and the visitor layout, without rendering.

use crate::{run_into, scenario_path, temporary_folder};
use crowdtwin_sim::model::Los;
use crowdtwin_sim::scenario::Scenario;
use crowdtwin_viz::frame::{ElementFrame, Frame, count_people};
use crowdtwin_viz::layout::{counts, place_visitors};
use crowdtwin_viz::replay::{Replay, kpi_label, kpi_value, with_thousands};
use crowdtwin_viz::site::Site;

fn morning_run(name: &str) -> std::path::PathBuf {
    let dir = temporary_folder(name);
    let text = std::fs::read_to_string(scenario_path()).unwrap().replace("end = \"25:00\"", "end = \"11:00\"");
    let scenario = dir.join("morning.toml");
    std::fs::write(&scenario, text).unwrap();
    let out = dir.join("out");
    run_into(&scenario, &out);
    out
}

#[test]
fn replay_reads_a_run_folder_with_its_scenario_copy() {
    let out = morning_run("replay");
    let replay = Replay::load(&out, None).unwrap();
    // 18 places + 26 walkways; 07:00 to 11:00 in one-minute intervals.
    assert_eq!(replay.site.element_count(), 44);
    assert_eq!((replay.interval_s, replay.intervals), (60, 240));
    assert!(replay.kpis.iter().any(|(name, _)| name == "peak_density_p_per_m2"), "{:?}", replay.kpis);
    // The frame at a minute's start holds that minute's values as written.
    let frame = replay.frame(120.0 * 60.0);
    assert_eq!(frame.clock_s, (replay.site.start_clock_s + 7_200) as f64);
    for (element, state) in frame.elements.iter().enumerate() {
        let sample = replay.sample(element, 120);
        assert_eq!((state.occupancy, state.los), (sample.occupancy, sample.los));
        // The run's level of service is the model's classification.
        assert_eq!(sample.los, Los::from_density(sample.density_p_per_m2, replay.site.is_queueing_area(element)));
    }
    let people: f64 = frame.elements.iter().map(|e| e.occupancy).sum();
    assert!(people > 1_000.0, "the park is busy at 09:00: {people}");
    // Alerts are exactly the elements at E or F.
    let at_e_or_f = frame.elements.iter().filter(|e| e.los >= Los::E).count();
    assert_eq!(frame.alerts.len(), at_e_or_f);
}

#[test]
fn replay_without_a_scenario_says_what_to_pass() {
    let out = morning_run("no-scenario");
    std::fs::remove_file(out.join("scenario.toml")).unwrap();
    let error = Replay::load(&out, None).unwrap_err().to_string();
    assert!(error.contains("scenario.toml") && error.contains("--scenario"), "{error}");
    assert!(Replay::load(&out, Some(&scenario_path())).is_ok(), "--scenario overrides");
    // Another site's scenario does not fit the run.
    let other = out.join("other.toml");
    let text = std::fs::read_to_string(scenario_path()).unwrap().replace("\"gate-west\"", "\"gate-w\"");
    std::fs::write(&other, text).unwrap();
    let error = Replay::load(&out, Some(&other)).unwrap_err().to_string();
    assert!(error.contains("gate-west") && error.contains("wrong --scenario"), "{error}");
}

fn frame_with(site: &Site, occupancy: &[f64]) -> Frame {
    let elements = (0..site.element_count())
        .map(|e| ElementFrame::at_density(site, e, occupancy.get(e).copied().unwrap_or(0.0), 0.1))
        .collect();
    Frame { clock_s: 36_000.0, elements, alerts: Vec::new() }
}

fn site() -> Site {
    let text = std::fs::read_to_string(scenario_path()).unwrap();
    Site::from_scenario(&crowdtwin_sim::scenario::Scenario::parse(&text, "gangneung").unwrap())
}

#[test]
fn visitor_counts_follow_occupancy_within_the_budget() {
    let site = site();
    let occupancy: Vec<f64> = (0..site.element_count()).map(|e| (e * 37 % 101) as f64 + 0.4).collect();
    let total: f64 = occupancy.iter().sum();
    let frame = frame_with(&site, &occupancy);
    let drawn = counts(&frame, 100_000, false);
    assert_eq!(drawn.iter().sum::<usize>(), total.round() as usize, "one visitor per person when they fit");
    for (n, o) in drawn.iter().zip(&occupancy) {
        assert!((*n as f64 - o).abs() <= 1.0, "{n} for {o}");
    }
    let small = counts(&frame, 500, false);
    assert_eq!(small.iter().sum::<usize>(), 500, "scaled down to the budget");
    let filled = counts(&frame, 60_000, true);
    assert_eq!(filled.iter().sum::<usize>(), 60_000, "filled up to the budget");
}

#[test]
fn visitors_are_placed_deterministically_on_pads_and_walkways_and_walk() {
    let site = site();
    let occupancy = vec![400.0; site.element_count()];
    let frame = frame_with(&site, &occupancy);
    let (mut first, mut again, mut later) = (Vec::new(), Vec::new(), Vec::new());
    place_visitors(&site, &frame, 36_000.0, 60_000, false, &mut first);
    place_visitors(&site, &frame, 36_000.0, 60_000, false, &mut again);
    place_visitors(&site, &frame, 36_010.0, 60_000, false, &mut later);
    assert_eq!(first.len(), 400 * site.element_count());
    assert_eq!(first, again, "same frame and time, same layout");
    let places = site.places.len();
    // On a place: on its pad, within its inner disc.
    for (p, place) in site.places.iter().enumerate() {
        for person in &first[p * 400..(p + 1) * 400] {
            let d =
                ((person.ground[0] - place.centre[0]).powi(2) + (person.ground[1] - place.centre[1]).powi(2)).sqrt();
            assert!(d <= place.inner_radius_m + 0.01, "{d} from the centre of {}", place.id);
            assert!(place.pad.contains(person.ground), "{person:?} off {}", place.id);
        }
    }
    // On a walkway: on its strip, and moving.
    for (w, walkway) in site.walkways.iter().enumerate() {
        let range = (places + w) * 400..(places + w + 1) * 400;
        for person in &first[range.clone()] {
            assert!(walkway.strip.contains(person.ground), "{} {person:?}", walkway.id);
        }
        let moved = first[range.clone()].iter().zip(&later[range]).filter(|(x, y)| x != y).count();
        assert!(moved > 390, "walkers move: {moved} of 400 on {}", walkway.id);
    }
    // Places do not move.
    assert_eq!(first[..places * 400], later[..places * 400]);
}

#[test]
fn the_site_is_drawn_from_the_scenarios_outlines_and_centre_lines() {
    let text = std::fs::read_to_string(scenario_path()).unwrap();
    let scenario = crowdtwin_sim::scenario::Scenario::parse(&text, "gangneung").unwrap();
    let site = Site::from_scenario(&scenario);
    for (place, from) in site.places.iter().zip(&scenario.places) {
        let outline = from.polygon_m.as_ref().expect("every Gangneung place has an outline");
        assert!(place.outlined && place.outline.len() == outline.len(), "{}", place.id);
        // The pad is the outline (y north becomes -z) and covers its area.
        assert_eq!(place.outline[0], [outline[0][0] as f32, -outline[0][1] as f32]);
        let ratio = place.pad.area_m2() as f64 / from.area_m2;
        assert!((0.9..1.3).contains(&ratio), "{}: pad {} m² for {} m²", place.id, place.pad.area_m2(), from.area_m2);
        assert!(place.pad.contains(place.centre) && place.inner_radius_m > 2.0, "{}", place.id);
    }
    let mut bent = 0;
    for (walkway, from) in site.walkways.iter().zip(&scenario.walkways) {
        assert!(walkway.line.iter().all(|&p| walkway.strip.contains(p)), "{} covers its line", walkway.id);
        if let Some(line) = &from.line_m {
            assert_eq!(walkway.line.len(), line.len());
            bent += 1;
        }
    }
    assert!(bent >= 2, "the Gangneung day has centre lines");
    // Without outlines: a disc of the place's area.
    let plain =
        Scenario::parse(&text.lines().filter(|l| !l.starts_with("polygon_m")).collect::<Vec<_>>().join("\n"), "g")
            .unwrap();
    let discs = Site::from_scenario(&plain);
    for place in &discs.places {
        assert!(!place.outlined);
        let ratio = place.pad.area_m2() as f64 / place.area_m2;
        assert!((0.99..=1.0).contains(&ratio), "{}: {ratio}", place.id);
    }
    // The bounds hold every pad and strip.
    let (min, max) = site.bounds();
    let inside = |p: &[f32; 2]| (min[0]..=max[0]).contains(&p[0]) && (min[1]..=max[1]).contains(&p[1]);
    assert!(site.places.iter().all(|p| p.outline.iter().all(inside)));
    assert!(site.walkways.iter().all(|w| w.strip.points.iter().all(inside)));
}

#[test]
fn kpis_read_in_words_and_people_are_counted_where_they_are() {
    assert_eq!(kpi_label("peak_density_p_per_m2"), "Peak density (P/m²)");
    assert_eq!(kpi_label("mean_wait_s"), "Mean wait (s)");
    assert_eq!(with_thousands(28_448.0, 0), "28,448");
    assert_eq!(with_thousands(-1_234_567.5, 1), "-1,234,567.5");
    assert_eq!(with_thousands(999.0, 0), "999");
    let out = morning_run("counts");
    let replay = Replay::load(&out, None).unwrap();
    let site = &replay.site;
    for (name, value) in &replay.kpis {
        let label = kpi_label(name);
        assert!(!label.contains('_') && label.starts_with(char::is_uppercase), "{name}: {label}");
        assert!(!kpi_value(site, name, value).is_empty());
    }
    assert_eq!(
        kpi_value(site, "peak_density_element", "ice-arena"),
        site.places[site.element_index("ice-arena").unwrap()].name
    );

    // 10:30: the figure-skating session at the ice arena is under way.
    let attendance = replay.attendance.as_deref().expect("the run reports attendance per session");
    let frame = replay.frame(3.5 * 3_600.0);
    let people = count_people(site, &frame, Some(attendance));
    let under_way: Vec<usize> = site.sessions_under_way(frame.clock_s).map(|(s, _)| s).collect();
    assert!(!under_way.is_empty(), "a session is under way at 10:30");
    let seated: u64 = under_way.iter().map(|&s| attendance[s] as u64).sum();
    assert_eq!(people.seated, Some(seated));
    assert!(seated > 5_000, "{seated} seated at 10:30");
    let total: f64 = frame.elements.iter().map(|e| e.occupancy).sum();
    assert!((people.at_places + people.walking - total).abs() < 1e-6);
    assert!(people.queueing <= people.at_places, "{people:?}");
    assert_eq!(count_people(site, &frame, None).seated, None, "no attendance, no seated count");
}

#[test]
fn place_names_are_laid_out_apart_and_only_inside_the_view() {
    use bevy::math::{Rect, Vec2};
    use crowdtwin_viz::app::labels::arrange_labels;
    let site = site();
    let view = Rect::new(270.0, 0.0, 980.0, 736.0);
    let size = Vec2::new(80.0, 20.0);
    let sizes = vec![size; site.places.len()];
    // Everything at one point: the largest place keeps it, the next ones
    // move a line up, down, two lines up, two down, three up, three down;
    // the rest stay put.
    let at = Vec2::new(600.0, 300.0);
    let mut anchors = vec![Some(at); site.places.len()];
    anchors[0] = Some(Vec2::new(100.0, 300.0)); // over the left panel
    anchors[1] = None; // behind the camera
    let plates = arrange_labels(&site, &anchors, &sizes, view, &[]);
    assert_eq!(plates.len(), site.places.len() - 2, "names off the view are left out");
    assert!(plates.iter().all(|(p, _)| *p >= 2));
    let largest = (2..site.places.len())
        .max_by(|&a, &b| site.places[a].area_m2.total_cmp(&site.places[b].area_m2).then(b.cmp(&a)));
    assert_eq!(plates[0], (largest.unwrap(), Rect::from_center_size(at, size)));
    let centres: Vec<f32> = plates.iter().take(5).map(|(_, r)| r.center().y).collect();
    assert_eq!(centres, [300.0, 280.0, 320.0, 260.0, 340.0]);
    for (i, (_, a)) in plates.iter().take(5).enumerate() {
        for (_, b) in plates.iter().take(5).skip(i + 1) {
            assert!(a.intersect(*b).is_empty(), "{a:?} and {b:?} overlap");
        }
    }
}

#[test]
fn place_names_keep_off_elements_at_alert() {
    use bevy::math::{Rect, Vec2};
    use crowdtwin_viz::app::labels::{KEEP_OFF_MARGIN_PX, arrange_labels};
    let site = site();
    let view = Rect::new(0.0, 0.0, 1000.0, 800.0);
    let size = Vec2::new(80.0, 20.0);
    let sizes = vec![size; site.places.len()];
    // Two names far apart; an alerted walkway runs through where the first
    // would sit (a row of points across it) and just below it.
    let mut anchors = vec![None; site.places.len()];
    anchors[0] = Some(Vec2::new(300.0, 300.0));
    anchors[1] = Some(Vec2::new(700.0, 300.0));
    let walkway: Vec<Vec2> = (0..=20).map(|i| Vec2::new(250.0 + 5.0 * i as f32, 305.0)).collect();
    let plates = arrange_labels(&site, &anchors, &sizes, view, &walkway);
    let first = plates.iter().find(|(p, _)| *p == 0).unwrap().1;
    let second = plates.iter().find(|(p, _)| *p == 1).unwrap().1;
    // The first moved a line up, clear of the walkway by the margin; the
    // other one, with nothing under it, stays on its anchor.
    assert_eq!(first, Rect::from_center_size(Vec2::new(300.0, 280.0), size));
    assert!(walkway.iter().all(|&p| !first.inflate(KEEP_OFF_MARGIN_PX).contains(p)));
    assert_eq!(second, Rect::from_center_size(Vec2::new(700.0, 300.0), size));
    // Where every nearby line is covered, the name still shows, at its anchor.
    let everywhere: Vec<Vec2> = (0..=40)
        .flat_map(|y| (0..=20).map(move |x| Vec2::new(250.0 + 5.0 * x as f32, 220.0 + 4.0 * y as f32)))
        .collect();
    let plates = arrange_labels(&site, &anchors, &sizes, view, &everywhere);
    assert_eq!(plates.iter().find(|(p, _)| *p == 0).unwrap().1, Rect::from_center_size(Vec2::new(300.0, 300.0), size));
}

#[test]
fn an_element_s_ground_points_follow_its_outline_or_line() {
    let site = site();
    let place = &site.places[0];
    let points = site.element_ground_points(0);
    assert_eq!(points[0], place.centre);
    assert_eq!(points.len(), place.outline.len() + 1);
    let w = site.places.len();
    let walkway = &site.walkways[0];
    let points = site.element_ground_points(w);
    assert_eq!(points.first().copied(), walkway.line.first().copied());
    let last = *points.last().unwrap();
    let end = *walkway.line.last().unwrap();
    assert!((last[0] - end[0]).abs() < 1e-2 && (last[1] - end[1]).abs() < 1e-2, "{last:?} against {end:?}");
    for pair in points.windows(2) {
        let gap = ((pair[1][0] - pair[0][0]).powi(2) + (pair[1][1] - pair[0][1]).powi(2)).sqrt();
        assert!(gap <= crowdtwin_viz::site::GROUND_POINT_SPACING_M + 1e-3, "{gap} m between points");
    }
}

#[test]
fn a_comparison_colours_each_element_by_its_crowding_change_and_another_sites_is_refused() {
    use crowdtwin_viz::change::ChangeMap;
    use crowdtwin_wire::compare::{Change, CompareReport, Comparison};
    let scenario = Scenario::parse(&std::fs::read_to_string(scenario_path()).unwrap(), "gangneung.toml").unwrap();
    let site = Site::from_scenario(&scenario);
    let comparison = |id: &str, delta: f64| Comparison {
        id: id.into(),
        metric: "peak_density_p_per_m2".into(),
        base_mean: 1.0,
        variant_mean: 1.0 + delta,
        delta,
        ci_low: delta - 0.1,
        ci_high: delta + 0.1,
        p_value: 0.001,
        significant: true,
    };
    let report = CompareReport {
        base: "plan".into(),
        variant: "west gate closed".into(),
        seeds: vec![1, 2, 3],
        unmatched: Vec::new(),
        elements: vec![comparison("gate-west", -0.4), comparison("gate-south", 0.6)],
    };
    let map = ChangeMap::of(&report, &site).unwrap();
    assert_eq!(map.changes.len(), site.element_count());
    assert_eq!(map.changes[site.element_index("gate-west").unwrap()], Change::Fell);
    assert_eq!(map.changes[site.element_index("gate-south").unwrap()], Change::Rose);
    assert_eq!((map.count(Change::Rose), map.count(Change::Fell)), (1, 1));
    assert_eq!(map.count(Change::Same), site.element_count() - 2);
    assert_eq!(map.seeds, 3);

    // Another site's comparison, and a file that is not one, are refused with why.
    let mut other = report.clone();
    other.elements = vec![comparison("c0-gate", 0.5)];
    let error = ChangeMap::of(&other, &site).unwrap_err();
    assert!(error.contains("not this site's"), "{error}");
    let dir = temporary_folder("bad-compare");
    let bad = dir.join("compare.json");
    std::fs::write(&bad, "{\"elements\": 3}").unwrap();
    let error = ChangeMap::load(&bad, &site).unwrap_err().to_string();
    assert!(error.contains("not a comparison") && error.contains("compare.json"), "{error}");
    let error = ChangeMap::load(&dir.join("missing.json"), &site).unwrap_err().to_string();
    assert!(error.contains("missing.json"), "{error}");
}
