//! Replays and the visitor layout, without rendering.

use crate::{run_into, scenario_path, temporary_folder};
use crowdtwin_sim::model::Los;
use crowdtwin_viz::frame::{ElementFrame, Frame};
use crowdtwin_viz::layout::{counts, place_visitors};
use crowdtwin_viz::replay::Replay;
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
    // On a place: within its pad.
    for (p, place) in site.places.iter().enumerate() {
        for person in &first[p * 400..(p + 1) * 400] {
            let d =
                ((person.ground[0] - place.centre[0]).powi(2) + (person.ground[1] - place.centre[1]).powi(2)).sqrt();
            assert!(d <= place.pad_radius_m + 0.01, "{d} from the centre of {}", place.id);
        }
    }
    // On a walkway: between its two ends, and moving.
    for (w, walkway) in site.walkways.iter().enumerate() {
        let range = (places + w) * 400..(places + w + 1) * 400;
        let (a, b) = (site.places[walkway.a].centre, site.places[walkway.b].centre);
        for person in &first[range.clone()] {
            for axis in 0..2 {
                let (low, high) = (a[axis].min(b[axis]), a[axis].max(b[axis]));
                let slack = walkway.width_m as f32;
                assert!((low - slack..=high + slack).contains(&person.ground[axis]), "{walkway:?} {person:?}");
            }
        }
        let moved = first[range.clone()].iter().zip(&later[range]).filter(|(x, y)| x != y).count();
        assert!(moved > 390, "walkers move: {moved} of 400 on {}", walkway.id);
    }
    // Places do not move.
    assert_eq!(first[..places * 400], later[..places * 400]);
}
