//! Products recommended with a day plan (issue 20): chosen by the
//! visitor's sports from the shops' stock, picked up at the quietest time
//! that fits between the plan's stops, booked as demand, and ordered from
//! the plan with a customer token.

use crate::orders::{call, service_with_orders};
use axum::http::StatusCode;
use crowdtwin_live::itinerary::{ItineraryOut, ItineraryRequest, Planner, RequestError};
use crowdtwin_live::products::{PICKUP_S, PICKUP_STEP_S};
use crowdtwin_service::auth::Tokens;
use crowdtwin_sim::itinerary::{Congestion, Plan, Problem, StopKind};
use crowdtwin_sim::scenario::{Scenario, parse_clock};
use crowdtwin_sim::{SimDuration, SimTime};
use std::collections::BTreeMap;
use std::sync::Arc;

const GANGNEUNG: &str = include_str!("../../../../scenarios/gangneung-2018.toml");

fn hockey_fan() -> ItineraryRequest {
    let day = serde_json::json!({
        "start_place": "ktx-shuttle-stop", "start_time": "09:00", "end_time": "22:00",
        "sports": {"ice_hockey": 5}, "food": 1, "products": 2, "seed": 3
    });
    serde_json::from_value(day).unwrap()
}

fn at(scenario: &Scenario, clock: &str) -> SimTime {
    SimTime::from_secs((parse_clock(clock).unwrap() - scenario.start_clock_s) as u64)
}

/// Expected density at `shop` at `t` on `congestion`, P/m².
fn density(planner: &Planner, congestion: &Congestion, shop: usize, t: SimTime) -> f64 {
    congestion.occupancy_in(congestion.step_index(t), shop) / planner.scenario().places[shop].area_m2
}

/// Every pickup time (on the 5-minute grid) that fits a gap of the plan:
/// reach the shop from the stop before, spend the pickup there, reach the
/// next stop by its session's start less its queue (or the end).
fn fitting_pickups(
    planner: &Planner,
    congestion: &Congestion,
    problem: &Problem,
    plan: &Plan,
    shop: usize,
) -> Vec<SimTime> {
    let network = planner.network();
    let mut from = (problem.start_place, problem.start, problem.screening);
    let mut gaps = Vec::new();
    for visit in &plan.visits {
        let candidate = &problem.candidates[visit.candidate];
        let deadline = match candidate.kind {
            StopKind::Session { .. } => SimTime(visit.start.0 - (visit.queue_s * 1e6) as u64),
            StopKind::Errand { .. } => visit.leg.arrive,
        };
        gaps.push((from, candidate.place, deadline));
        from = (candidate.place, visit.leave, false);
    }
    gaps.push((from, problem.end_place, problem.end));
    let mut times = Vec::new();
    for ((place, leave, screening), next, deadline) in gaps {
        let Some(arrive) = network.tree(congestion, place, leave, problem.speed_factor, screening).arrival(shop) else {
            continue;
        };
        let step = PICKUP_STEP_S * 1_000_000;
        let mut t = SimTime(arrive.0.div_ceil(step) * step);
        loop {
            let done = t + SimDuration::from_secs(PICKUP_S);
            let on = network.tree(congestion, shop, done, problem.speed_factor, false).arrival(next);
            if done > deadline || on.is_none_or(|a| a > deadline) {
                break;
            }
            times.push(t);
            t += SimDuration::from_secs(PICKUP_STEP_S);
        }
    }
    times
}

#[test]
fn products_suit_the_visitors_sports_and_are_picked_up_when_the_shop_is_quietest() {
    let scenario = Scenario::parse(GANGNEUNG, "gangneung-2018.toml").unwrap();
    let planner = Planner::new(scenario.clone(), 1);
    let wish = hockey_fan();
    let planned = planner.plan_issued(&wish, None).unwrap();
    let products = planned.out.products.clone().unwrap_or_else(|| panic!("{:?}", planned.out.products_note));
    // The hockey item first, then one for everyone; only the superstore
    // sells hockey items.
    assert_eq!(products.shop, "superstore");
    let items: Vec<&str> = products.items.iter().map(|p| p.item.as_str()).collect();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0], "hockey-puck-set");
    assert!(products.items[0].sports.contains(&"ice_hockey".to_string()));
    assert!(products.items[1].sports.is_empty(), "{items:?}");
    assert!(products.items.iter().all(|p| p.in_stock > 0));
    // The order is ready to send: the shop, one of each item, the pickup.
    let order = &products.order;
    assert_eq!(order.shop, products.shop);
    assert_eq!(order.pickup_at.as_deref(), Some(products.pickup_at.as_str()));
    assert_eq!(
        order.items.iter().map(|l| (l.item.as_str(), l.quantity)).collect::<Vec<_>>(),
        [(items[0], 1), (items[1], 1)]
    );
    assert!(order.idempotency_key.starts_with("plan-"));

    // The pickup fits between the stops and is the quietest time that does.
    let shop = scenario.places.iter().position(|p| p.id == "superstore").unwrap();
    let pickup = at(&scenario, &products.pickup_at);
    let congestion = &planned.congestion;
    let fitting = fitting_pickups(&planner, congestion, &planned.problem, &planned.plan, shop);
    assert!(fitting.contains(&pickup), "{} is not a time that fits", products.pickup_at);
    let chosen = density(&planner, congestion, shop, pickup);
    let busiest = fitting.iter().map(|&t| density(&planner, congestion, shop, t)).fold(0.0, f64::max);
    for &t in &fitting {
        assert!(density(&planner, congestion, shop, t) >= chosen, "quieter at {t}");
    }
    assert!((products.pickup_density_p_per_m2 - chosen).abs() < 1e-3);
    assert!((products.busiest_density_p_per_m2 - busiest).abs() < 1e-3);
    assert!(busiest > chosen, "the day has busier times at the shop: {busiest} vs {chosen}");
    // The plan's stops are those of the plan without products.
    let mut plain = wish.clone();
    plain.products = None;
    let (_, alone, _) = planner.plan(&plain, congestion, None).unwrap();
    assert_eq!(alone.visits, planned.plan.visits);

    // Booked as demand: one visitor at the shop for the pickup.
    let booked = planner.bookings().booked_presence(shop, pickup, pickup + SimDuration::from_secs(PICKUP_S));
    assert!((booked - 1.0).abs() < 1e-9, "{booked}");
}

#[test]
fn many_pickups_are_spread_over_quiet_times_within_what_the_counter_serves() {
    // 600 hockey fans with the same wishes: alone each would fetch at the
    // one quietest time; booked, later plans see the earlier pickups.
    let scenario = Scenario::parse(GANGNEUNG, "gangneung-2018.toml").unwrap();
    let planner = Planner::new(scenario.clone(), 1);
    let answers = planner.plan_batch(&vec![hockey_fan(); 600], None).unwrap();
    let shop = scenario.places.iter().position(|p| p.id == "superstore").unwrap();
    let place = &scenario.places[shop];
    let congestion = planner.congestion(None);
    let step_s = congestion.step().as_secs_f64();
    let served_per_step = f64::from(place.servers) * step_s / place.service_s;
    let compliance = planner.bookings().compliance();
    let mut per_step: BTreeMap<usize, u32> = BTreeMap::new();
    for answer in &answers {
        let planned = answer.as_ref().unwrap();
        let products = planned.out.products.as_ref().unwrap();
        assert_eq!(products.shop, "superstore");
        *per_step.entry(congestion.step_index(at(&scenario, &products.pickup_at))).or_default() += 1;
    }
    println!("pickups per step of {step_s} s: {per_step:?}");
    assert!(per_step.len() >= 3, "{per_step:?}");
    // No step gets more pickups (times the share who follow) than the
    // counter serves in it.
    for (&step, &count) in &per_step {
        assert!(f64::from(count) * compliance <= served_per_step + 1.0, "step {step}: {count} pickups");
    }
}

#[test]
fn products_are_refused_beyond_five_and_explained_when_nothing_is_in_stock() {
    let scenario = Scenario::parse(GANGNEUNG, "gangneung-2018.toml").unwrap();
    let planner = Planner::new(scenario.clone(), 1);
    let mut wish = hockey_fan();
    wish.products = Some(6);
    let error = planner.plan_issued(&wish, None).unwrap_err();
    assert!(matches!(&error, RequestError::Bad(m) if m.contains("products = 6")), "{error:?}");
    assert_eq!(planner.bookings().plans(), 0, "a refused request books nothing");

    // Sold out everywhere: the plan, and why it has no products.
    let sizes: BTreeMap<String, usize> = scenario.places.iter().map(|p| (p.id.clone(), p.items.len())).collect();
    planner.set_stock_source(Arc::new(move |shop: &str| Some(vec![0; sizes[shop]])));
    let out: ItineraryOut = planner.plan_issued(&hockey_fan(), None).unwrap().out;
    assert!(out.products.is_none());
    assert!(out.products_note.as_deref().unwrap().contains("in stock"), "{:?}", out.products_note);
    assert!(!out.stops.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_orders_a_plans_products_once_and_the_stock_goes_down() {
    let tokens = Tokens::parse("customer fan-token-0123456789 fan\noperator ops-token-0123456789 ops\n").unwrap();
    let (_service, state, book) = service_with_orders("plan-products", tokens).await;
    // The morning site (until 11:00): a curling fan with time to spare.
    let day = r#"{"start_place":"ktx-shuttle-stop","start_time":"07:30","end_time":"10:55","sports":{"curling":5},"products":2}"#;
    let (status, plan) = call(&state, "POST", "/v1/itineraries", None, Some(day.to_string())).await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    let products = &plan["products"];
    assert_eq!(products["items"][0]["item"], "curling-stone-keyring", "{plan}");
    let before = book.stock("superstore").unwrap();
    let units =
        |stock: &crowdtwin_wire::ShopStock, item: &str| stock.items.iter().find(|i| i.item == item).unwrap().stock;

    // The plan's order as it is, with the customer's token.
    let order = products["order"].to_string();
    let (status, receipt) = call(&state, "POST", "/v1/orders", Some("fan-token-0123456789"), Some(order.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    assert_eq!(receipt["status"], "confirmed");
    let uri = format!("/v1/orders/{}", receipt["id"].as_str().unwrap());
    let (status, stored) = call(&state, "GET", &uri, Some("fan-token-0123456789"), None).await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    assert_eq!((&stored["pickup_at"], &stored["principal"]), (&products["pickup_at"], &serde_json::json!("fan")));
    // Sent again (a retry, or the same plan asked for twice): the same order.
    let (status, again) = call(&state, "POST", "/v1/orders", Some("fan-token-0123456789"), Some(order)).await;
    assert_eq!((status, &again["id"]), (StatusCode::OK, &receipt["id"]), "{again}");
    let after = book.stock("superstore").unwrap();
    for item in products["items"].as_array().unwrap() {
        let id = item["item"].as_str().unwrap();
        assert_eq!(units(&after, id), units(&before, id) - 1, "{id}");
    }
    // The next plan recommends from the stock as it is now.
    let (_, next) = call(&state, "POST", "/v1/itineraries", None, Some(day.to_string())).await;
    let in_stock = next["products"]["items"][0]["in_stock"].as_u64().unwrap();
    assert_eq!(in_stock, u64::from(units(&after, "curling-stone-keyring")));
}
