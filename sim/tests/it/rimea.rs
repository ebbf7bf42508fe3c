//! The RiMEA tests (Richtlinie für Mikroskopische Entfluchtungsanalysen,
//! Anhang 2: tests for evacuation models) that a place-and-walkway model can
//! express, each with the guideline's set-up and expected outcome beside it.
//! docs/validation.md lists every test, run or not and why.

use crate::{element, entry_seconds, queued_s, run_toml};
use crowdtwin_sim::model::weidmann_speed_mps;
use crowdtwin_sim::scenario::ModelParams;

#[test]
fn rimea_1_one_person_crosses_a_40_m_corridor_in_26_to_34_s() {
    // RiMEA test 1: one person walks a 2 m x 40 m corridor at 1.33 m/s and
    // must arrive in 26-34 s.
    let toml = r#"
        version = 1
        name = "RiMEA test 1"
        start = "07:00"
        end = "07:02"
        [model]
        walk_speed_mps_free = 1.33
        output_interval_s = 1
        [[places]]
        id = "start"
        kind = "plaza"
        position_m = [0, 0]
        area_m2 = 4
        [[places]]
        id = "end"
        kind = "plaza"
        position_m = [40, 0]
        area_m2 = 4
        [[walkways]]
        from = "start"
        to = "end"
        width_m = 2
        [[crowds]]
        name = "walker"
        count = 1
        from = "start"
        to = "end"
        start = "07:00"
    "#;
    let output = run_toml(toml, 1, 1);
    let corridor = element(&output, "start--end");
    let walk_s: f64 = corridor.bins.iter().map(|b| b.traversal_sum_s).sum();
    assert!((walk_s - 40.0 / 1.33).abs() < 0.01, "walked the 40 m in {walk_s} s");
    // Stepping off into the end area takes the 1 s handoff.
    let crossing_s = walk_s + 1.0;
    assert!((26.0..=34.0).contains(&crossing_s), "{crossing_s}");
    assert_eq!(output.kpis.crowd_arrivals, 1);
    // Appear (1 s), step on (1 s), walk 30.08 s, step off (1 s): second 33.
    assert_eq!(entry_seconds(&output, "end"), [33]);
}

/// A ring of three 50 m x 2 m walkways holding `density` P/m² on average.
fn ring(density: f64) -> String {
    let people = (density * 300.0).round() as u32;
    format!(
        r#"
        version = 1
        name = "ring"
        start = "07:00"
        end = "09:00"
        [[places]]
        id = "a"
        kind = "plaza"
        position_m = [0, 0]
        area_m2 = 20
        [[places]]
        id = "b"
        kind = "plaza"
        position_m = [50, 0]
        area_m2 = 20
        [[places]]
        id = "c"
        kind = "plaza"
        position_m = [25, 43]
        area_m2 = 20
        [[walkways]]
        from = "a"
        to = "b"
        length_m = 50
        width_m = 2
        [[walkways]]
        from = "b"
        to = "c"
        length_m = 50
        width_m = 2
        [[walkways]]
        from = "c"
        to = "a"
        length_m = 50
        width_m = 2
        [[crowds]]
        name = "ring"
        count = {people}
        from = "a"
        via = ["b", "c"]
        to = "a"
        laps = 1000000
        start = "07:00"
        spread_s = {spread}
        "#,
        spread = people as f64 / 2.0
    )
}

#[test]
fn free_flow_on_a_ring_follows_weidmann() {
    // RiMEA test 4 asks for the speed-density relation of a corridor at fixed
    // densities to follow a published diagram (here Weidmann 1993). A ring
    // of walkways holds the density fixed, as the laboratory ring corridors
    // do. On the free-flow branch (below ~1.75 P/m², where the flow peaks)
    // each walkway's measured mean speed over the second hour must be within
    // 5% of Weidmann's speed at its measured density. (On the congested
    // branch a walkway takes in no more than its outflow capacity, so a ring
    // cannot be filled past the capacity density.)
    let params = ModelParams::default();
    for target in [0.25, 0.5, 1.0, 1.5] {
        let output = run_toml(&ring(target), 7, 1);
        for id in ["a--b", "b--c", "c--a"] {
            let walkway = element(&output, id);
            let window = 60..120;
            let presence: f64 = window.clone().map(|i| walkway.occupancy(i)).sum::<f64>() / window.len() as f64;
            let density = presence / walkway.area_m2;
            let (sum, n) = window
                .clone()
                .fold((0.0, 0u32), |(s, n), i| (s + walkway.bins[i].traversal_sum_s, n + walkway.bins[i].traversals));
            assert!(n > 0, "{target}: nobody crossed {id}");
            let speed = 50.0 / (sum / n as f64);
            let expected = weidmann_speed_mps(&params, density);
            println!("ring {target}: {id} density {density:.3} speed {speed:.4} Weidmann {expected:.4}");
            // Up to 10% of the people are crossing between walkways at any time.
            assert!((density - target).abs() < 0.12 * target, "{target}: density {density} on {id}");
            assert!((speed - expected).abs() <= 0.05 * expected, "{target}: {id} {speed} vs {expected} at {density}");
        }
    }
}

fn evacuation(exits: usize) -> String {
    let mut toml = String::from(
        r#"
        version = 1
        name = "RiMEA test 9"
        start = "07:00"
        end = "07:30"
        [model]
        output_interval_s = 1
        [[places]]
        id = "room"
        kind = "plaza"
        position_m = [0, 0]
        area_m2 = 600
        [[places]]
        id = "outside"
        kind = "plaza"
        position_m = [20, 0]
        area_m2 = 10000
        [[crowds]]
        name = "occupants"
        count = 1000
        from = "room"
        to = "outside"
        start = "07:00"
        "#,
    );
    for _ in 0..exits {
        toml.push_str(
            "[[walkways]]\nfrom = \"room\"\nto = \"outside\"\nlength_m = 1\nwidth_m = 1\nbottleneck = true\n",
        );
    }
    toml
}

#[test]
fn rimea_9_closing_two_of_four_exits_doubles_the_evacuation_time() {
    // RiMEA test 9: 1,000 people leave a 30 m x 20 m room by four 1 m exits;
    // with two exits closed the evacuation takes about twice as long. The
    // people split over the equally short exits by their capacity.
    let last_out = |exits| *entry_seconds(&run_toml(&evacuation(exits), 1, 1), "outside").last().unwrap() as f64;
    let (four, two) = (last_out(4), last_out(2));
    println!("evacuation: 4 exits {four} s, 2 exits {two} s");
    // 1,000 people at 2.36 P/s per 1 m exit (the bottleneck capacity at
    // 1 m): 106 s and 212 s, plus walking.
    assert!((105.0..125.0).contains(&four), "{four}");
    assert!((1.8..=2.2).contains(&(two / four)), "{two} / {four}");
}

/// A plaza place in TOML.
fn plaza(id: &str, x: f64, y: f64, area_m2: f64) -> String {
    format!("[[places]]\nid = \"{id}\"\nkind = \"plaza\"\nposition_m = [{x}, {y}]\narea_m2 = {area_m2}\n")
}

/// A walkway in TOML, a bottleneck (a door) when `door`.
fn walkway(from: &str, to: &str, length_m: f64, width_m: f64, door: bool) -> String {
    format!(
        "[[walkways]]\nfrom = \"{from}\"\nto = \"{to}\"\nlength_m = {length_m}\nwidth_m = {width_m}\nbottleneck = {door}\n"
    )
}

/// A crowd in TOML, all appearing at `start`.
fn crowd(name: &str, count: u32, from: &str, to: &str, start: &str) -> String {
    format!("[[crowds]]\nname = \"{name}\"\ncount = {count}\nfrom = \"{from}\"\nto = \"{to}\"\nstart = \"{start}\"\n")
}

/// The head of a test scenario with 1-s output bins, `minutes` long from 07:00.
fn header(name: &str, minutes: u32) -> String {
    format!(
        "version = 1\nname = \"{name}\"\nstart = \"07:00\"\nend = \"{:02}:{:02}\"\n[model]\noutput_interval_s = 1\n",
        7 + minutes / 60,
        minutes % 60
    )
}

#[test]
fn rimea_5_each_person_starts_at_its_premovement_time() {
    // RiMEA test 5: ten people in a room with reaction (premovement) times
    // spread uniformly over 10-100 s; each must start at its own time. Here
    // each is a crowd of one appearing at its time; it steps onto the 5 m
    // walkway to the door 2 s later (appearing, then crossing into it,
    // 1 s handoff each).
    let reactions: Vec<u32> = (0..10).map(|i| 10 + 10 * i).collect();
    let mut toml = header("RiMEA test 5", 5) + &plaza("room", 0.0, 0.0, 40.0) + &plaza("door", 5.0, 0.0, 2.0);
    toml += &walkway("room", "door", 5.0, 2.0, false);
    for (i, reaction) in reactions.iter().enumerate() {
        toml +=
            &crowd(&format!("person-{i}"), 1, "room", "door", &format!("07:{:02}:{:02}", reaction / 60, reaction % 60));
    }
    let output = run_toml(&toml, 1, 1);
    let started: Vec<usize> = entry_seconds(&output, "room--door");
    let expected: Vec<usize> = reactions.iter().map(|r| *r as usize + 2).collect();
    assert_eq!(started, expected, "each starts at its reaction time");
    assert_eq!(output.kpis.crowd_arrivals, 10);
}

/// RiMEA test 10's floor: a corridor of four segments (c0-c4) with a room
/// on each of c1..c4 and an exit at each end; `assigned[i]` is the exit the
/// people of room `i` are told to use.
fn floor_with_assigned_exits(assigned: [&str; 4]) -> String {
    let mut toml = header("RiMEA test 10", 10);
    toml += &plaza("exit-west", -5.0, 0.0, 100.0);
    toml += &plaza("exit-east", 45.0, 0.0, 100.0);
    toml += &walkway("exit-west", "c0", 5.0, 2.0, true);
    toml += &walkway("c4", "exit-east", 5.0, 2.0, true);
    for i in 0..5 {
        toml += &plaza(&format!("c{i}"), 10.0 * i as f64, 0.0, 4.0);
        if i > 0 {
            toml += &walkway(&format!("c{}", i - 1), &format!("c{i}"), 10.0, 2.0, false);
        }
    }
    for (i, exit) in assigned.iter().enumerate() {
        let room = format!("room-{i}");
        toml += &plaza(&room, 10.0 * (i + 1) as f64, 6.0, 30.0);
        toml += &walkway(&room, &format!("c{}", i + 1), 1.0, 1.0, true);
        toml += &crowd(&room, 25, &room, exit, "07:00");
    }
    toml
}

#[test]
fn rimea_10_people_leave_by_the_exits_they_are_assigned() {
    // RiMEA test 10: people in rooms along a corridor are assigned exits
    // (some not the nearest) and must leave by them. Rooms 0 and 1 lie
    // nearer the west exit, rooms 2 and 3 nearer the east one; rooms 0 and
    // 3 are sent the long way.
    let output = run_toml(&floor_with_assigned_exits(["exit-east", "exit-west", "exit-east", "exit-west"]), 1, 1);
    assert_eq!(entry_seconds(&output, "exit-west").len(), 50);
    assert_eq!(entry_seconds(&output, "exit-east").len(), 50);
    // Room 0's people cross the whole corridor eastwards, room 3's westwards:
    // c3-c4 carries rooms 0 and 2 east and room 3 west (25 if everyone took
    // the nearest exit), c0-c1 rooms 1 and 3 west (room 0 goes east).
    assert_eq!(entry_seconds(&output, "c3--c4").len(), 75);
    assert_eq!(entry_seconds(&output, "c0--c1").len(), 50);
    assert_eq!(output.kpis.crowd_arrivals, 100);
}

#[test]
fn rimea_11_people_prefer_the_nearer_exit() {
    // RiMEA test 11: 1,000 people in a room with two exits, one much nearer;
    // they should prefer the nearer one (and some may take the other). The
    // model routes each crowd by free-flow shortest time, splitting only
    // over routes within a few per cent of the best: all take the nearer
    // exit, queueing at it, none the far one (the spontaneous choice of the
    // second exit is not modelled; docs/validation.md).
    let mut toml = header("RiMEA test 11", 20) + &plaza("room", 0.0, 0.0, 400.0) + &plaza("outside", 0.0, 50.0, 5000.0);
    toml += &plaza("near-door", 2.0, 0.0, 2.0);
    toml += &plaza("far-door", 30.0, 0.0, 2.0);
    toml += &walkway("room", "near-door", 2.0, 1.0, true);
    toml += &walkway("near-door", "outside", 5.0, 3.0, false);
    toml += &walkway("room", "far-door", 25.0, 1.0, true);
    toml += &walkway("far-door", "outside", 5.0, 3.0, false);
    toml += &crowd("occupants", 1000, "room", "outside", "07:00");
    let output = run_toml(&toml, 1, 1);
    assert_eq!(entry_seconds(&output, "room--near-door").len(), 1000);
    assert!(entry_seconds(&output, "room--far-door").is_empty());
    assert!(queued_s(&output, "room--near-door") > 0.0, "they queue at the nearer exit");
}

#[test]
fn rimea_12_a_bottleneck_queues_only_upstream() {
    // RiMEA test 12: 150 people in room 1 leave through a narrow corridor
    // into room 2 and out of its exit. The corridor limits the flow, so a
    // jam must form in room 1 only, none in front of room 2's exit. Here the
    // corridor is 1 m x 10 m entered through a 1 m door; room 2's exit is a
    // 1 m door, which passes more than the corridor delivers.
    let mut toml = header("RiMEA test 12", 10);
    toml += &(plaza("room-1", 0.0, 0.0, 100.0) + &plaza("corridor-end", 12.0, 0.0, 1.0));
    toml += &(plaza("room-2", 20.0, 0.0, 100.0) + &plaza("outside", 30.0, 0.0, 1000.0));
    toml += &walkway("room-1", "corridor-start", 0.5, 1.0, true);
    toml += &(plaza("corridor-start", 1.0, 0.0, 1.0) + &walkway("corridor-start", "corridor-end", 10.0, 1.0, false));
    toml += &walkway("corridor-end", "room-2", 1.0, 1.0, false);
    toml += &walkway("room-2", "outside", 0.5, 1.0, true);
    toml += &crowd("population", 150, "room-1", "outside", "07:00");
    let output = run_toml(&toml, 1, 1);
    assert_eq!(entry_seconds(&output, "outside").len(), 150);
    let (upstream, downstream) = (queued_s(&output, "room-1--corridor-start"), queued_s(&output, "room-2--outside"));
    println!("RiMEA 12: queued {upstream:.0} s in room 1, {downstream:.0} s in room 2");
    assert!(upstream > 150.0, "a jam forms in room 1: {upstream} s");
    assert!(downstream < 1.0, "no jam in room 2: {downstream} s");
    let room_2 = element(&output, "room-2");
    let peak = (0..room_2.bins.len()).map(|i| room_2.occupancy(i)).fold(0.0, f64::max);
    assert!(peak < 5.0, "room 2 never fills: {peak}");
}
