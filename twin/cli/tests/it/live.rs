//! The live twin: checking observations, learning from them, forecasting.

use crowdtwin_live::eval::{EvalConfig, SensorConfig, TruthFeed, forecast_eval};
use crowdtwin_live::{Observation, Twin, TwinConfig};
use crowdtwin_sim::SimTime;
use crowdtwin_sim::model::ElementKind;
use crowdtwin_sim::model::{self, BuildOptions};
use crowdtwin_sim::scenario::{PlaceKind, Scenario};

const GANGNEUNG: &str = include_str!("../../../../scenarios/gangneung-2018.toml");

/// The bundled day cut to the morning, with `count` visitors.
pub fn morning(count: u32) -> Scenario {
    let text = GANGNEUNG
        .replace("end = \"25:00\"", "end = \"11:00\"")
        .replace("count = 60000", &format!("count = {count}"))
        .replace("ticket_fill = 0.9", "ticket_fill = 1.0");
    Scenario::parse(&text, "morning.toml").unwrap()
}

fn count(id: &str, at: &str, place: &str, value: f64) -> Observation {
    Observation::PlaceCount { version: 1, id: id.into(), at: at.into(), place: place.into(), count: value, sigma: None }
}

#[test]
fn bad_observations_are_refused_whole_and_change_nothing() {
    let config = TwinConfig { members: 2, threads: 1, ..Default::default() };
    let mut twin = Twin::new(morning(20_000), config).unwrap();
    twin.advance(SimTime::from_secs(600));
    let before = twin.state();
    let batch = vec![
        count("a", "07:10", "olympic-plaza", 10.0),
        count("b", "07:10", "atlantis", 10.0),
        count("c", "07:10", "olympic-plaza", f64::NAN),
        count("d", "09:00", "olympic-plaza", 1.0),
        count("e", "07:10", "olympic-plaza", -1.0),
        Observation::GateStatus {
            version: 1,
            id: "f".into(),
            at: "07:10".into(),
            place: "olympic-plaza".into(),
            open: false,
        },
        Observation::PlaceCount {
            version: 2,
            id: "g".into(),
            at: "07:10".into(),
            place: "olympic-plaza".into(),
            count: 1.0,
            sigma: None,
        },
    ];
    let error = twin.ingest(&batch).unwrap_err();
    let positions: Vec<usize> = error.problems.iter().map(|p| p.0).collect();
    assert_eq!(positions, [1, 2, 3, 4, 5, 6], "{error}");
    let text = error.to_string();
    for expected in
        ["unknown place or walkway `atlantis`", "count NaN", "ahead of the twin's clock", "not a gate", "version 2"]
    {
        assert!(text.contains(expected), "{text} lacks {expected}");
    }
    assert_eq!(twin.state(), before, "a refused batch leaves no trace");
    // The good one alone is taken; sent again it is a duplicate; an old one is late.
    let report = twin.ingest(&batch[..1]).unwrap();
    assert_eq!((report.accepted, report.duplicates, report.late), (1, 0, 0));
    let report = twin.ingest(&[batch[0].clone(), count("h", "07:01", "olympic-plaza", 3.0)]).unwrap();
    assert_eq!((report.accepted, report.duplicates, report.late), (0, 1, 1));
}

#[test]
fn the_ensemble_learns_that_more_people_came() {
    // Truth: 1.6 times the planned visitors. Observing it, the ensemble's
    // arrival scale must move well above 1; told nothing, it stays near 1.
    let plan = morning(20_000);
    let truth = morning(32_000);
    let config = TwinConfig { members: 12, threads: 2, seed: 4, ..Default::default() };
    let mut observed = Twin::new(plan.clone(), config.clone()).unwrap();
    let mut blind = Twin::new(plan, config).unwrap();
    let mut feed = TruthFeed::new(truth, 9, SensorConfig::default());
    let mut t = SimTime::ZERO;
    while t < SimTime::from_secs(3 * 3600) {
        t += crowdtwin_sim::SimDuration::from_secs(60);
        let batch = feed.observe_until(t);
        observed.ingest(&batch).unwrap();
        observed.advance(t);
        blind.advance(t);
    }
    let learned = observed.state().arrival_scale;
    let prior = blind.state().arrival_scale;
    println!("learned arrival scale {learned:.3}, without observations {prior:.3}");
    assert!(learned > 1.25, "{learned}");
    assert!((prior - 1.0).abs() < 0.3, "{prior}");
    assert!(observed.state().observations.assimilated > 1_000);
    // Three hours of counts a minute apart did not collapse the ensemble
    // onto one arrival scale: it can still follow a day that changes.
    let spread = observed.state().arrival_scale_spread;
    assert!(spread > 0.01, "{spread}");
}

#[test]
fn a_gate_closed_at_the_issue_time_is_in_that_forecast() {
    let config = TwinConfig { members: 4, threads: 2, ..Default::default() };
    let mut told = Twin::new(morning(20_000), config.clone()).unwrap();
    let mut blind = Twin::new(morning(20_000), config).unwrap();
    let now = SimTime::from_secs(3_600);
    told.advance(now);
    blind.advance(now);
    let closed = Observation::GateStatus {
        version: 1,
        id: "close-west".into(),
        at: "08:00".into(),
        place: "gate-west".into(),
        open: false,
    };
    told.ingest(&[closed]).unwrap();
    let people = |twin: &mut Twin| {
        let forecast = twin.forecast();
        let gate = forecast.elements.iter().find(|e| e.id == "gate-west").unwrap();
        gate.minutes[10..].iter().map(|m| m.occupancy_p50).sum::<f64>()
    };
    let (with_closure, without) = (people(&mut told), people(&mut blind));
    println!("west gate, 08:10-08:30: {with_closure} closed, {without} open");
    assert!(without > 20.0, "people pass the west gate at 08:10-08:30: {without}");
    assert!(with_closure < 0.5 * without, "closed at 08:00, reported at 08:00: {with_closure} vs {without}");
    assert_eq!(told.state().observations.events, 1);
}

#[test]
fn unplanned_walk_ins_come_only_as_the_learned_share_says() {
    // The morning plan has ticket holders only. With headroom, a member
    // holds a pool of walk-ins the plan does not have (half its count),
    // who come as `unplanned_walk_in_share` says; at 0 none do.
    let plan = morning(20_000);
    let fan_zone_entries = |share: f64| {
        let options = BuildOptions { population_headroom: 2.0, unplanned_walk_ins: true, ..BuildOptions::default() };
        let mut sim = model::build_with(plan.clone(), 5, options);
        sim.world_mut().tuning.unplanned_walk_in_share = share;
        sim.run_until(SimTime::from_secs(4 * 3_600));
        let world = sim.world();
        let fan_zone = (0..world.element_count()).find(|&e| world.element_kind(e) == "fan_zone").unwrap();
        world.element_recorder(fan_zone).entries(0..1_000) as f64
    };
    let (none, some, more) = (fan_zone_entries(0.0), fan_zone_entries(0.1), fan_zone_entries(0.2));
    // A planner's or stress sweep's build (no pool) has none of them, and
    // the same visitors otherwise.
    let without_pool =
        model::build_with(plan.clone(), 5, BuildOptions { population_headroom: 2.0, ..BuildOptions::default() });
    let with_pool = model::build_with(
        plan.clone(),
        5,
        BuildOptions { population_headroom: 2.0, unplanned_walk_ins: true, ..BuildOptions::default() },
    );
    let planned = without_pool.world().visitors.len();
    assert_eq!(with_pool.world().visitors.len(), planned + 10_000);
    assert!(with_pool.world().visitors[..planned] == without_pool.world().visitors[..]);
    println!("fan zone entries by 11:00: {none} {some} {more}");
    // 0.1 x 20,000 walk-ins over 09:00-20:00: about 360 arrive by 11:00, and walk-ins all see the fan zone.
    assert!(some - none > 150.0 && some - none < 600.0, "{none} {some}");
    assert!(more - some > 150.0, "{some} {more}");
}

#[test]
fn forecasts_have_ordered_quantiles_for_every_place_and_minute() {
    let config = TwinConfig { members: 6, threads: 2, horizon_min: 30, ..Default::default() };
    let mut twin = Twin::new(morning(20_000), config).unwrap();
    twin.advance(SimTime::from_secs(5_400));
    let forecast = twin.forecast();
    assert_eq!(forecast.issued_at, "08:30");
    assert_eq!(forecast.elements.len(), twin.world().element_count());
    for element in &forecast.elements {
        assert_eq!(element.minutes.len(), 30);
        for m in &element.minutes {
            assert!(m.occupancy_p10 <= m.occupancy_p50 && m.occupancy_p50 <= m.occupancy_p90, "{m:?}");
            assert!((0.0..=1.0 + 1e-9).contains(&m.probability_los_e_or_worse));
        }
    }
    // People are arriving for the 10:00 session: someone is at the gates.
    let gates: f64 = forecast.elements.iter().filter(|e| e.kind == "gate").map(|e| e.minutes[0].occupancy_p50).sum();
    assert!(gates > 1.0, "{gates}");
    // The forecast is a fork: the twin itself did not move.
    assert_eq!(twin.now(), SimTime::from_secs(5_400));
}

#[test]
fn forecast_eval_beats_persistence_on_a_morning() {
    let config = EvalConfig {
        twin: TwinConfig { members: 8, threads: 2, ..Default::default() },
        forecast_every_min: 20,
        first_forecast_clock_s: Some(8 * 3600),
        sensors: SensorConfig::default(),
    };
    let report = forecast_eval(morning(20_000), morning(26_000), &config, 3).unwrap();
    println!("{report:?}");
    assert!(report.forecasts >= 6 && report.points > 100);
    assert!(report.mae_twin < report.mae_persistence, "{report:?}");
    assert!(report.coverage_p10_p90 > 0.2, "{report:?}");
    let mismatched = Scenario::parse(
        &GANGNEUNG.replace("id = \"plaza-north\"", "id = \"plaza-nord\"").replace("\"plaza-north\"", "\"plaza-nord\""),
        "x.toml",
    )
    .unwrap();
    assert!(forecast_eval(morning(20_000), mismatched, &config, 3).is_err());
}

/// A small day (the bundled site to `end`, 30,000 visitors), with the KTX
/// shuttle stop sending no shuttle from 14:35 to `halted_until`, unreported.
fn halted_stop_day(end: &str, halted_until: Option<&str>) -> Scenario {
    let mut text = GANGNEUNG
        .replace("end = \"25:00\"", &format!("end = \"{end}\""))
        .replace("count = 60000", "count = 30000")
        .replace("ticket_fill = 0.9", "ticket_fill = 1.0");
    if let Some(until) = halted_until {
        text.push_str(&format!(
            "\n[[interventions]]\naction = \"transit_disruption\"\nat = \"14:35\"\nplace = \"ktx-shuttle-stop\"\n\
             until = \"{until}\"\ncapacity_factor = 0.0\nreported = false\n"
        ));
    }
    Scenario::parse(&text, "small.toml").unwrap()
}

/// The same stop halted 14:35-15:20, unreported, on a day to 16:30: the
/// sensors see a queue grow, then drain once shuttles run again. With the
/// stops' queues corrected towards their counts (the default) the members
/// hold the queue and drain it at the stop's rate; without, the queue is a
/// shift laid on the forecast that fades only as learned, so forecasts
/// keep it after it has drained (measured, 8 members, seed 2: at the
/// transit stops 116.5 corrected against 144.0 not, at the KTX stop 346
/// against 429; the open loop 82.9 and 245, of which 86 no forecaster
/// that cannot see the halt before it begins avoids).
#[test]
fn a_queue_seen_at_a_stop_drains_in_the_members() {
    let config = |queue_correction: bool| EvalConfig {
        twin: TwinConfig { members: 8, threads: 2, queue_correction, ..Default::default() },
        forecast_every_min: 10,
        first_forecast_clock_s: Some(13 * 3600),
        sensors: SensorConfig::default(),
    };
    let (plan, truth) = (halted_stop_day("16:30", None), halted_stop_day("16:30", Some("15:20")));
    let with = forecast_eval(plan.clone(), truth.clone(), &config(true), 2).unwrap();
    let without = forecast_eval(plan, truth, &config(false), 2).unwrap();
    let transit = |r: &crowdtwin_live::eval::EvalReport| {
        r.by_kind
            .iter()
            .find(|k| k.kind == ElementKind::Place(PlaceKind::Transit))
            .map(|k| (k.mae_twin, k.mae_open_loop))
            .unwrap()
    };
    let ((on, open_loop), (off, _)) = (transit(&with), transit(&without));
    println!("transit stops, 30-minute MAE: corrected {on:.1}, not corrected {off:.1}, open loop {open_loop:.1}");
    println!("affected: corrected {:?}, not corrected {:?}", with.affected, without.affected);
    assert!(with.affected.elements.iter().any(|e| e == "ktx-shuttle-stop"), "{:?}", with.affected);
    assert!(on < off, "corrected {on:.1}, not corrected {off:.1}");
    // The unforeseeable part is the open loop's error on forecasts issued
    // before the halt showed: the same whatever the twin does, and a part
    // of the open loop's, neither none nor all of it (measured 85.5 of 245.3).
    let unforeseeable = with.affected.mae_unforeseeable;
    assert_eq!(unforeseeable, without.affected.mae_unforeseeable);
    assert!(
        unforeseeable > 0.1 * with.affected.mae_open_loop && unforeseeable < 0.9 * with.affected.mae_open_loop,
        "{:?}",
        with.affected
    );
}

#[test]
fn a_halted_stop_is_forecast_only_with_local_assimilation() {
    // A small day (the bundled site to 15:30, 30,000 visitors): the KTX
    // shuttle stop sends no shuttle from 14:35 to 15:35 while the hockey
    // session's crowd leaves; nobody reports it. The sensors see the queue
    // grow. At 15:00 the twin forecasts 15:10-15:30: with local
    // assimilation its members hold the queue (and a halted service rate)
    // and forecast it within a band; with global parameters only, the
    // queue drains in every member and the forecast misses it. A filter of
    // 12 members can still lock onto the wrong rate, so three twins (seeds
    // 5-7) run on one truth and at least two of them must hold the queue
    // (measured: two of three; benches/README.md).
    let day = |halted: bool| halted_stop_day("15:30", halted.then_some("15:35"));
    let at = SimTime::from_secs(8 * 3600);
    let forecast_with = |local_assimilation: bool, seed: u64| {
        let config = TwinConfig { members: 12, threads: 2, seed, local_assimilation, ..Default::default() };
        let mut twin = Twin::new(day(false), config).unwrap();
        let mut feed = TruthFeed::new(day(true), 7, SensorConfig::default());
        let mut t = SimTime::from_secs(7 * 3600);
        twin.advance(t);
        feed.observe_until(t);
        while t < at {
            t += crowdtwin_sim::SimDuration::from_secs(60);
            twin.ingest(&feed.observe_until(t)).unwrap();
            twin.advance(t);
        }
        let forecast = twin.forecast();
        let stop = forecast.elements.iter().find(|e| e.id == "ktx-shuttle-stop").unwrap().clone();
        (stop, feed)
    };
    let (global, mut feed) = forecast_with(false, 5);
    let locals: Vec<_> = (5..=7).map(|seed| forecast_with(true, seed).0).collect();
    let stop = feed.sim.world().element_index("ktx-shuttle-stop").unwrap();
    let mut missed_by_global = 0;
    let mut held = [true; 3];
    for minute in [10usize, 20, 29] {
        feed.observe_until(at + crowdtwin_sim::SimDuration::from_secs(60 * minute as u64));
        let truth = feed.sim.world().element_people(stop) as f64;
        assert!(truth > 300.0, "the halted stop holds a crowd: {truth}");
        let g = &global.minutes[minute - 1];
        print!(
            "+{minute} min: truth {truth}, global {:.0} [{:.0}, {:.0}]",
            g.occupancy_p50, g.occupancy_p10, g.occupancy_p90
        );
        for (k, local) in locals.iter().enumerate() {
            let l = &local.minutes[minute - 1];
            print!(", local {:.0} [{:.0}, {:.0}]", l.occupancy_p50, l.occupancy_p10, l.occupancy_p90);
            // The band: the median within 40% of the truth (the queue grows
            // by ~20 people a minute; the members learn the halt within minutes).
            held[k] &= (l.occupancy_p50 - truth).abs() <= 0.4 * truth;
        }
        println!();
        missed_by_global += usize::from((g.occupancy_p50 - truth).abs() > 0.4 * truth && g.occupancy_p90 < truth);
    }
    let holding = held.iter().filter(|&&h| h).count();
    assert!(holding >= 2, "with local assimilation, only {holding} of 3 twins held the queue: {held:?}");
    assert!(missed_by_global >= 2, "without local assimilation the forecast should miss the queue");
}

/// With the truth equal to the plan, learned parameters that wander with
/// the counts' noise only add error: the pull back towards the plan
/// (`TwinConfig::prior_pull`) lowers the twin's error on every seed
/// (measured 3.62 -> 3.16, 3.40 -> 3.29, 2.94 -> 2.85 persons).
#[test]
fn with_nothing_changed_the_pull_towards_the_plan_lowers_the_twins_error() {
    for seed in 1..=3 {
        let mae = |prior_pull: f64| {
            let config = EvalConfig {
                twin: TwinConfig { members: 8, threads: 2, prior_pull, ..Default::default() },
                forecast_every_min: 20,
                first_forecast_clock_s: Some(8 * 3600),
                sensors: SensorConfig::default(),
            };
            forecast_eval(morning(20_000), morning(20_000), &config, seed).unwrap().mae_twin
        };
        let (free, pulled) = (mae(0.0), mae(crowdtwin_live::ensemble::PRIOR_PULL));
        assert!(pulled < free, "seed {seed}: {pulled:.3} with the pull, {free:.3} without");
    }
}

/// The P10-P90 band holds 70-90% of the people truly present on the bundled
/// day with nothing changed, with sensors whose noise the twin is not told
/// (it learns a noise that holds model error too, 0.2 against the
/// sensors' 0.1: narrowing the band by all of it gave 0.62; measured 0.82).
#[test]
fn the_band_covers_70_to_90_percent_on_the_bundled_day() {
    let plan = Scenario::parse(GANGNEUNG, "gangneung-2018.toml").unwrap();
    let config = EvalConfig {
        twin: TwinConfig { members: 8, threads: 2, ..Default::default() },
        forecast_every_min: 30,
        first_forecast_clock_s: None,
        sensors: SensorConfig::default(),
    };
    let report = forecast_eval(plan.clone(), plan, &config, 1).unwrap();
    assert!(report.points > 1_000, "{report:?}");
    assert!((0.7..=0.9).contains(&report.coverage_p10_p90), "coverage {}", report.coverage_p10_p90);
}
