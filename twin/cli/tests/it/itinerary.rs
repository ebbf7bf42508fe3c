//! Day plans: feasibility on random requests, determinism, crowd-aware
//! routes, the HTTP endpoints and the shareable forms, and what followers
//! of recommendations do in the simulation.

use axum::http::StatusCode;
use crowdtwin_live::TwinConfig;
use crowdtwin_live::clock::{Clock, ManualClock};
use crowdtwin_live::itinerary::{ItineraryRequest, Planner, RequestError};
use crowdtwin_service::Service;
use crowdtwin_sim::itinerary::{self, Congestion};
use crowdtwin_sim::kernel::ActorRng;
use crowdtwin_sim::scenario::{PlaceKind, Scenario};
use crowdtwin_sim::{SimDuration, SimTime};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

const GANGNEUNG: &str = include_str!("../../../../scenarios/gangneung-2018.toml");

fn gangneung() -> Scenario {
    Scenario::parse(GANGNEUNG, "gangneung-2018.toml").unwrap()
}

/// One planner for the whole file (it runs the day once).
fn planner() -> &'static Planner {
    static PLANNER: OnceLock<Planner> = OnceLock::new();
    PLANNER.get_or_init(|| Planner::new(gangneung(), 1))
}

fn request(start: &str, begin: &str, end: &str) -> ItineraryRequest {
    ItineraryRequest {
        start_place: start.into(),
        start_time: begin.into(),
        end_place: None,
        end_time: end.into(),
        sports: BTreeMap::new(),
        tickets: Vec::new(),
        food: 0.0,
        shop: 0.0,
        fan_zone: 0.0,
        walk_km_max: None,
        walk_speed_factor: None,
        seed: None,
        budget_ms: None,
        date: None,
        products: None,
    }
}

fn clock(minutes_after_midnight: u64) -> String {
    format!("{:02}:{:02}", minutes_after_midnight / 60, minutes_after_midnight % 60)
}

#[test]
fn random_requests_get_feasible_plans() {
    let planner = planner();
    let scenario = planner.scenario();
    let baseline = planner.congestion(None);
    // A congestion with the plan's walkways much slower from 12:00: the
    // checks must hold on any congestion, not only the one planned with.
    let mut jammed = (*baseline).clone();
    for w in 0..scenario.walkways.len() {
        for minute in (300..420).step_by(1) {
            jammed.set_walkway_density(SimTime::from_secs(minute * 60), w, 3.0 + (w % 3) as f64, scenario);
        }
    }
    let transit: Vec<&str> =
        scenario.places.iter().filter(|p| p.kind == PlaceKind::Transit).map(|p| p.id.as_str()).collect();
    let places: Vec<&str> = scenario.places.iter().map(|p| p.id.as_str()).collect();
    let sports: Vec<String> = {
        let mut s: Vec<String> = scenario.sessions.iter().map(|s| s.sport.clone()).collect();
        s.sort();
        s.dedup();
        s
    };
    let mut rng = ActorRng::for_actor(2026, 11);
    let (mut planned, mut with_sessions, mut with_tickets) = (0, 0, 0);
    for case in 0..120 {
        let start_min = 7 * 60 + rng.below(10 * 60);
        let end_min = (start_min + 60 + rng.below(12 * 60)).min(24 * 60 + 59);
        let from = if case % 4 == 3 {
            places[rng.below(places.len() as u64) as usize]
        } else {
            transit[rng.below(transit.len() as u64) as usize]
        };
        let mut r = request(from, &clock(start_min), &clock(end_min));
        if rng.chance(0.3) {
            r.end_place = Some(transit[rng.below(transit.len() as u64) as usize].into());
        }
        for sport in &sports {
            if rng.chance(0.5) {
                r.sports.insert(sport.clone(), (1 + rng.below(5)) as f64);
            }
        }
        r.food = rng.below(4) as f64;
        r.shop = rng.below(3) as f64;
        r.fan_zone = rng.below(3) as f64;
        r.walk_km_max = Some(1.0 + rng.uniform() * 14.0);
        r.walk_speed_factor = Some(0.6 + rng.uniform() * 0.8);
        r.seed = Some(case);
        // A ticket that surely fits: a session inside the day with two hours spare around it.
        if rng.chance(0.4) {
            let start = SimTime::from_secs(start_min * 60 - scenario.start_clock_s as u64);
            let end = SimTime::from_secs(end_min * 60 - scenario.start_clock_s as u64);
            if let Some(fits) = scenario.sessions.iter().position(|s| {
                s.start >= start + SimDuration::from_secs(7_200) && s.end + SimDuration::from_secs(7_200) <= end
            }) {
                r.tickets.push(fits);
                r.walk_km_max = Some(15.0);
            }
        }
        let congestion = if case % 2 == 0 { baseline.clone() } else { Arc::new(jammed.clone()) };
        match planner.plan(&r, &congestion, None) {
            Ok((problem, plan, out)) => {
                itinerary::verify(planner.network(), &congestion, &problem, &plan)
                    .unwrap_or_else(|e| panic!("case {case}: infeasible plan: {e}\n{r:?}"));
                // The JSON form says the same: times in order, within the day.
                let mut last = r.start_time.clone();
                for stop in &out.stops {
                    assert!(stop.walk.depart >= last && stop.arrive >= stop.walk.depart, "case {case}: {out:?}");
                    assert!(stop.start >= stop.arrive && stop.leave >= stop.start, "case {case}: {out:?}");
                    last = stop.leave.clone();
                }
                assert!(out.end.arrive <= r.end_time, "case {case}: ends {} after {}", out.end.arrive, r.end_time);
                assert!(out.walk_km <= r.walk_km_max.unwrap() + 0.01, "case {case}");
                for ticket in &r.tickets {
                    assert!(
                        out.stops.iter().any(|s| s.session == Some(*ticket) && s.ticket),
                        "case {case}: ticket lost"
                    );
                }
                planned += 1;
                with_sessions += out.stops.iter().any(|s| s.kind == "session") as u32;
                with_tickets += !r.tickets.is_empty() as u32;
            }
            // Only a walking limit too short to reach the end and back may refuse a day.
            Err(RequestError::Infeasible(message)) => {
                assert!(r.walk_km_max.unwrap() < 4.0 || message.contains("walking limit"), "case {case}: {message}")
            }
            Err(other) => panic!("case {case}: {other:?}"),
        }
    }
    assert!(planned >= 100, "only {planned} of 120 planned");
    assert!(with_sessions >= 30 && with_tickets >= 10, "{with_sessions} with sessions, {with_tickets} with tickets");
}

#[test]
fn the_same_request_and_seed_give_the_same_plan() {
    let planner = planner();
    let mut r = request("ktx-shuttle-stop", "09:00", "22:00");
    r.sports.insert("figure_skating".into(), 3.0);
    r.sports.insert("ice_hockey".into(), 2.0);
    r.food = 2.0;
    r.shop = 1.0;
    let problem = planner.problem(&r).unwrap();
    let congestion = planner.congestion(None);
    let run = |seed| itinerary::solve(planner.network(), &congestion, &problem, seed, |i| i >= 60).unwrap();
    let (a, b) = (run(5), run(5));
    assert_eq!(a, b);
    assert_eq!(a.iterations, 60);
    // A preferred sport is planned; a meal is in the day.
    let out = planner.describe(&problem, &a, None);
    assert!(out.stops.iter().any(|s| s.title.as_deref().is_some_and(|t| t.contains("figure_skating"))), "{out:?}");
    assert!(out.stops.iter().any(|s| s.kind == "food"), "{out:?}");
}

#[test]
fn routes_go_around_a_jammed_walkway_and_cost_more_when_all_are_slow() {
    let planner = planner();
    let scenario = planner.scenario();
    let free = Congestion::free_flow(scenario);
    let route = planner.route("gate-west", "ice-arena", "10:00", &free).unwrap();
    assert!(route.walk.route.len() >= 3, "{route:?}");
    // Jam the first walkway of the free-flow route all day: the route changes.
    let first = (&route.walk.route[0], &route.walk.route[1]);
    let jammed_walkway = scenario
        .walkways
        .iter()
        .position(|w| {
            let (a, b) = (&scenario.places[w.a].id, &scenario.places[w.b].id);
            (a, b) == first || (b, a) == first
        })
        .unwrap();
    let mut jammed = free.clone();
    jammed.set_walkway_density(SimTime::ZERO, jammed_walkway, 5.3, scenario);
    let around = planner.route("gate-west", "ice-arena", "10:00", &jammed).unwrap();
    assert_ne!(around.walk.route, route.walk.route, "{around:?}");
    assert!(around.walk.walk_min >= route.walk.walk_min);
    // Unknown places and bad times are refused clearly.
    assert!(
        matches!(planner.route("atlantis", "ice-arena", "10:00", &free), Err(RequestError::Unknown(m)) if m.contains("atlantis"))
    );
    assert!(
        matches!(planner.route("gate-west", "ice-arena", "06:00", &free), Err(RequestError::Bad(m)) if m.contains("before the day starts"))
    );
    assert!(matches!(planner.route("gate-west", "ice-arena", "10h", &free), Err(RequestError::Bad(_))));
}

async fn call(service: &Service, method: &str, uri: &str, body: Option<&str>) -> (StatusCode, String, String) {
    crate::request(service, method, uri, body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_itinerary_endpoints_answer_and_refuse_clearly() {
    let config = TwinConfig { members: 2, threads: 1, horizon_min: 10, ..Default::default() };
    let manual = Arc::new(ManualClock::new(SimTime::ZERO));
    let clock: Arc<dyn Clock> = manual.clone();
    let service = Service::start(gangneung(), config, clock, SimDuration::from_secs(60)).await.unwrap();

    let (status, _, body) = call(&service, "GET", "/v1/schedule?sport=curling", None).await;
    assert_eq!(status, StatusCode::OK);
    let schedule: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(schedule.as_array().unwrap().len(), 3);
    assert!(schedule.as_array().unwrap().iter().all(|s| s["sport"] == "curling" && s["venue"] == "curling-centre"));
    let (status, _, body) = call(&service, "GET", "/v1/schedule?sport=quidditch", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("quidditch") && body.contains("curling"), "{body}");

    let (status, _, body) = call(&service, "GET", "/v1/route?from=bus-terminal-south&to=oval&at=15:30", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let route: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(route["walk"]["route"][0], "bus-terminal-south");
    assert!(route["walk"]["walk_min"].as_f64().unwrap() > 0.0);
    assert_eq!(call(&service, "GET", "/v1/route?from=x&to=oval&at=15:30", None).await.0, StatusCode::NOT_FOUND);
    let (status, content_type, body) = call(&service, "GET", "/v1/route?from=gate-west", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(content_type.starts_with("application/problem+json") && body.contains("to"), "{body}");

    let day = r#"{"start_place":"ktx-shuttle-stop","start_time":"09:00","end_time":"22:00","sports":{"figure_skating":3,"ice_hockey":2},"tickets":[4],"food":2,"shop":1,"date":"2018-02-17"}"#;
    let (status, content_type, body) = call(&service, "POST", "/v1/itineraries", Some(day)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(content_type.starts_with("application/json"));
    let plan: serde_json::Value = serde_json::from_str(&body).unwrap();
    let stops = plan["stops"].as_array().unwrap();
    assert!(stops.iter().any(|s| s["session"] == 4 && s["ticket"] == true), "{body}");
    assert!(plan["score"].as_f64().unwrap() >= 3.0);

    let (status, content_type, ics) = call(&service, "POST", "/v1/itineraries?format=ics", Some(day)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/calendar"));
    assert!(ics.starts_with("BEGIN:VCALENDAR\r\n") && ics.ends_with("END:VCALENDAR\r\n"));
    assert_eq!(ics.matches("BEGIN:VEVENT").count(), stops.len());
    assert!(ics.contains("DTEND:20180217T183000"), "the ticketed 16:00-18:30 session: {ics}");

    let (status, content_type, geo) = call(&service, "POST", "/v1/itineraries?format=geojson", Some(day)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/geo+json");
    let geo: serde_json::Value = serde_json::from_str(&geo).unwrap();
    let features = geo["features"].as_array().unwrap();
    assert_eq!(features.len(), 2 * stops.len() + 1);
    let [lon, lat] = [
        features[0]["geometry"]["coordinates"][0][0].as_f64().unwrap(),
        features[0]["geometry"]["coordinates"][0][1].as_f64().unwrap(),
    ];
    assert!((lat - 37.77).abs() < 0.05 && (lon - 128.90).abs() < 0.05, "near Gangneung: {lat} {lon}");

    // Refusals, each with a reason.
    let refusals = [
        (
            r#"{"start_place":"ktx-shuttle-stop","start_time":"09:00","end_time":"22:00","tickets":[1,2]}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "overlap",
        ),
        (r#"{"start_place":"ktx","start_time":"09:00","end_time":"22:00"}"#, StatusCode::NOT_FOUND, "ktx"),
        (
            r#"{"start_place":"ktx-shuttle-stop","start_time":"23:00","end_time":"22:00"}"#,
            StatusCode::BAD_REQUEST,
            "after",
        ),
        (
            r#"{"start_place":"ktx-shuttle-stop","start_time":"9h","end_time":"22:00"}"#,
            StatusCode::BAD_REQUEST,
            "clock time",
        ),
        (
            r#"{"start_place":"ktx-shuttle-stop","start_time":"09:00","end_time":"22:00","sports":{"chess":1}}"#,
            StatusCode::NOT_FOUND,
            "chess",
        ),
        (
            r#"{"start_place":"ktx-shuttle-stop","start_time":"09:00","end_time":"22:00","tickets":[99]}"#,
            StatusCode::NOT_FOUND,
            "99",
        ),
        (
            r#"{"start_place":"ktx-shuttle-stop","start_time":"09:00","end_time":"22:00","food":-1}"#,
            StatusCode::BAD_REQUEST,
            "food",
        ),
        (
            r#"{"start_place":"ktx-shuttle-stop","start_time":"09:00","end_time":"22:00","budget_ms":5000}"#,
            StatusCode::BAD_REQUEST,
            "budget_ms",
        ),
        (
            r#"{"start_place":"ktx-shuttle-stop","start_time":"09:00","end_time":"22:00","colour":"red"}"#,
            StatusCode::BAD_REQUEST,
            "colour",
        ),
        (r#"{"start_place":"ktx-shuttle-stop""#, StatusCode::BAD_REQUEST, "JSON"),
    ];
    for (body, status, needle) in refusals {
        let (got, _, text) = call(&service, "POST", "/v1/itineraries", Some(body)).await;
        assert_eq!(got, status, "{body}: {text}");
        assert!(text.contains(needle), "{body}: {text} lacks {needle}");
    }
    let (status, _, text) = call(
        &service,
        "POST",
        "/v1/itineraries?format=ics",
        Some(r#"{"start_place":"ktx-shuttle-stop","start_time":"09:00","end_time":"22:00"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("date"));

    // A batch: each request answered on its own, in order.
    let batch = format!(
        r#"{{"requests":[{day},{},{day}]}}"#,
        r#"{"start_place":"ktx","start_time":"09:00","end_time":"22:00"}"#
    );
    let (status, _, body) = call(&service, "POST", "/v1/itineraries/batch", Some(&batch)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let out: serde_json::Value = serde_json::from_str(&body).unwrap();
    let plans = out["plans"].as_array().unwrap();
    assert_eq!(plans.len(), 3);
    assert_eq!(
        (plans[0]["status"].as_u64(), plans[1]["status"].as_u64(), plans[2]["status"].as_u64()),
        (Some(200), Some(404), Some(200))
    );
    assert!(plans[1]["error"].as_str().unwrap().contains("ktx") && plans[1]["plan"].is_null(), "{body}");
    assert!(plans[2]["plan"]["stops"].as_array().unwrap().iter().any(|s| s["session"] == 4), "{body}");
    // The single plans above and these two are booked.
    assert!(out["plans_issued"].as_u64().unwrap() >= 5, "{body}");
    for (body, needle) in [
        (r#"{"requests":[]}"#.to_string(), "1 to 10000"),
        (format!(r#"{{"requests":[{}]}}"#, vec![day; 10_001].join(",")), "10001"),
        (r#"{"requests":[{"start_place":"x"}]}"#.to_string(), "start_time"),
    ] {
        let (status, content_type, text) = call(&service, "POST", "/v1/itineraries/batch", Some(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
        assert!(content_type.starts_with("application/problem+json") && text.contains(needle), "{needle}: {text}");
    }

    let (_, _, openapi) = call(&service, "GET", "/openapi.json", None).await;
    let openapi: serde_json::Value = serde_json::from_str(&openapi).unwrap();
    for path in ["/v1/itineraries", "/v1/itineraries/batch", "/v1/schedule", "/v1/route"] {
        assert!(openapi["paths"][path].is_object(), "openapi lacks {path}");
    }
    service.stop();
}

#[test]
fn a_burst_of_identical_requests_is_spread_over_the_food_outlets_and_every_plan_holds() {
    // Issue 20: identical requests at 11:30 (a meal, figure skating and
    // ice hockey preferred). Alone, every one would get the same food
    // outlet; booked as demand, later plans see the earlier ones' load. The
    // best outlet (34 servers) takes the first ~900 meals before its queue
    // makes another one better, so the burst is larger than that.
    const BURST: usize = 1200;
    let planner = Planner::new(gangneung(), 1);
    let mut wish = request("ktx-shuttle-stop", "11:30", "21:00");
    wish.sports = BTreeMap::from([("figure_skating".to_string(), 3.0), ("ice_hockey".to_string(), 2.0)]);
    wish.food = 2.0;
    wish.seed = Some(7);
    let food_places = |out: &crowdtwin_live::itinerary::ItineraryOut| -> Vec<String> {
        out.stops.iter().filter(|s| s.kind == "food").map(|s| s.place.clone()).collect()
    };
    let base = planner.congestion(None);
    let (_, selfish, selfish_out) = planner.plan(&wish, &base, None).unwrap();
    let selfish_food = food_places(&selfish_out);
    assert!(!selfish_food.is_empty(), "the wish includes a meal: {selfish_out:?}");

    let requests = vec![wish.clone(); BURST];
    let answers = planner.plan_batch(&requests, None).unwrap();
    let mut per_place: BTreeMap<String, usize> = BTreeMap::new();
    let mut extra_min = Vec::new();
    for answer in &answers {
        let planned = answer.as_ref().expect("every request is planned");
        itinerary::verify(planner.network(), &planned.congestion, &planned.problem, &planned.plan)
            .unwrap_or_else(|e| panic!("a plan that does not hold on the load it was made on: {e}"));
        assert!(planned.plan.score >= selfish.score - 1e-9, "each plan keeps its visitor's score");
        extra_min.push((planned.out.walk_min + planned.out.queue_min) - (selfish_out.walk_min + selfish_out.queue_min));
        for place in food_places(&planned.out) {
            *per_place.entry(place).or_default() += 1;
        }
    }
    let mean_extra = extra_min.iter().sum::<f64>() / extra_min.len() as f64;
    println!("food stops per outlet: {per_place:?}; mean extra walking and queueing {mean_extra:.1} min");
    assert!(per_place.len() >= 2, "the meals are spread: {per_place:?}");
    let at_selfish = per_place.get(&selfish_food[0]).copied().unwrap_or(0);
    assert!(at_selfish < BURST, "not every meal at {}: {per_place:?}", selfish_food[0]);
    assert_eq!(planner.bookings().plans(), BURST as u64);

    // Single requests book too: the next identical plan sees the whole burst.
    let next = planner.plan_issued(&wish, None).unwrap();
    itinerary::verify(planner.network(), &next.congestion, &next.problem, &next.plan).unwrap();
    assert_eq!(planner.bookings().plans(), BURST as u64 + 1);
    // With nobody following plans, the load is gone.
    planner.bookings().set_compliance(0.0);
    let (_, _, unloaded) = planner.plan(&wish, &planner.bookings().apply(&base, planner.scenario()), None).unwrap();
    assert_eq!(food_places(&unloaded), selfish_food);
}

#[test]
fn followers_of_recommendations_spread_the_food_crowds_and_runs_stay_deterministic() {
    let with_share = |share: f64| {
        let text = GANGNEUNG
            .replace("end = \"25:00\"", "end = \"16:00\"")
            .replace("count = 60000", "count = 20000")
            .replace("[visitors]", &format!("[visitors]\nrecommended_share = {share}"));
        Scenario::parse(&text, "followers.toml").unwrap()
    };
    let food = |scenario: &Scenario| {
        let options = crowdtwin_planner::run::RunOptions { seed: Some(3), shards: 1, threads: 1, progress: false };
        let (_, output) = crowdtwin_planner::run::simulate(scenario.clone(), &options).unwrap();
        let entries: Vec<u64> = output.kpis.elements.iter().filter(|e| e.kind == "food").map(|e| e.entries).collect();
        (entries, output.kpis)
    };
    let (nobody, plain) = food(&with_share(0.0));
    let (half, advised) = food(&with_share(0.5));
    let (half_again, advised_again) = food(&with_share(0.5));
    assert_eq!((&half, &advised), (&half_again, &advised_again), "the same seed gives the same run");
    assert_ne!(nobody, half, "followers go elsewhere");
    // In which direction: followers choose by walking plus expected queue,
    // so the busiest food outlet or shop gets less crowded and fewer people
    // give up on a queue (benches/README.md has the whole day over seeds).
    let busiest = |kpis: &crowdtwin_sim::model::RunKpis| {
        kpis.elements
            .iter()
            .filter(|e| e.kind == "food" || e.kind == "shop")
            .map(|e| e.peak_density_p_per_m2)
            .fold(0.0, f64::max)
    };
    println!(
        "food/shop peak {:.3} -> {:.3} P/m2, balked {} -> {}",
        busiest(&plain),
        busiest(&advised),
        plain.balked,
        advised.balked
    );
    assert!(busiest(&advised) < busiest(&plain), "{} vs {}", busiest(&advised), busiest(&plain));
    assert!(advised.balked < plain.balked, "{} vs {}", advised.balked, plain.balked);
    assert_eq!(plain.population, advised.population, "the same people come");
    // Sharded runs give the same bytes with followers too.
    let options = crowdtwin_planner::run::RunOptions { seed: Some(3), shards: 2, threads: 2, progress: false };
    let (_, sharded) = crowdtwin_planner::run::simulate(with_share(0.5), &options).unwrap();
    assert_eq!(sharded.kpis, advised);
    // Shares outside [0, 1] are refused with the field named.
    let text = GANGNEUNG.replace("[visitors]", "[visitors]\nrecommended_share = 1.5");
    let error = Scenario::parse(&text, "bad.toml").unwrap_err().to_string();
    assert!(error.contains("recommended_share") && error.contains("bad.toml:"), "{error}");
}

#[test]
fn the_share_table_compares_each_share_with_nobody_over_paired_seeds() {
    use crowdtwin_planner::recommendations::{METRICS, share_table};
    let text = GANGNEUNG.replace("end = \"25:00\"", "end = \"16:00\"").replace("count = 60000", "count = 20000");
    let scenario = Scenario::parse(&text, "followers.toml").unwrap();
    let table = share_table(&scenario, &[0.5, 1.0], 3, 2).unwrap();
    assert_eq!(table.seeds, [scenario.seed, scenario.seed + 1, scenario.seed + 2]);
    assert_eq!(table.runs.len(), 9, "nobody, half and everyone on each seed");
    assert_eq!(table.effects.len(), 2 * METRICS.len());
    let balked = table.effects.iter().find(|e| e.id == "share 0.5" && e.metric == "balked").unwrap();
    let nobody_mean = table.runs[..3].iter().map(|r| r.balked as f64).sum::<f64>() / 3.0;
    assert!((balked.base_mean - nobody_mean).abs() < 1e-9);
    assert!(balked.delta < 0.0 && balked.ci_low <= balked.delta && balked.delta <= balked.ci_high, "{balked:?}");
    println!("{}", serde_json::to_string_pretty(&table.effects).unwrap());
    // The same seeds give the same table, whatever the threads.
    assert_eq!(share_table(&scenario, &[0.5, 1.0], 3, 1).unwrap(), table);
    for (shares, seeds, needle) in [(vec![1.5], 2, "1.5"), (vec![0.5], 0, "--seeds"), (vec![], 2, "--shares")] {
        let error = share_table(&scenario, &shares, seeds, 1).unwrap_err().to_string();
        assert!(error.contains(needle), "{error}");
    }
}

/// The morning with 20,000 visitors: a planner, and a twin (4 members,
/// `horizon_min`) that counts its bookings, at 09:00; and the wish of a
/// visitor at the KTX shuttle stop at 09:00 who wants a meal.
fn booked_twin_at_nine(horizon_min: u32) -> (Scenario, Planner, crowdtwin_live::Twin, ItineraryRequest) {
    let scenario = crate::live::morning(20_000);
    let planner = Planner::new(scenario.clone(), 1);
    let config = TwinConfig { members: 4, threads: 1, horizon_min, ..Default::default() };
    let mut twin = crowdtwin_live::Twin::new(scenario.clone(), config).unwrap();
    twin.set_bookings(planner.shared_bookings());
    twin.advance(SimTime::from_secs(2 * 3600));
    let mut wish = request("ktx-shuttle-stop", "09:00", "10:55");
    wish.food = 2.0;
    (scenario, planner, twin, wish)
}

#[test]
fn the_forecast_counts_the_issued_plans_at_the_booked_outlets_and_nowhere_else() {
    // Issue 20: a burst of identical plans with a meal; the twin shares the
    // planner's bookings, so the forecast at the booked outlets rises by
    // the booked people times the compliance share, and nothing else moves.
    let (scenario, planner, mut twin, wish) = booked_twin_at_nine(30);
    let issued_at = twin.now();
    let before = twin.forecast();
    assert_eq!(before, twin.forecast(), "a second forecast at the same time is the same");
    assert!(before.elements.iter().all(|e| e.minutes.iter().all(|m| m.booked == 0.0)));

    let plans = 300;
    let answers = planner.plan_batch(&vec![wish; plans], None).unwrap();
    let compliance = planner.bookings().compliance();
    let after = twin.forecast();
    assert_eq!((after.booked.plans, after.booked.compliance), (plans as u64, compliance));

    // What the plans themselves say: per outlet and minute of the horizon,
    // the share of the minute each booked visitor is there.
    let interval_s = scenario.params.output_interval_s;
    let first_bin = (issued_at.as_secs_f64() / interval_s).ceil();
    let mut expected: BTreeMap<(String, usize), f64> = BTreeMap::new();
    let mut stays_s = Vec::new();
    for answer in &answers {
        let planned = answer.as_ref().unwrap();
        for visit in &planned.plan.visits {
            let place = planned.problem.candidates[visit.candidate].place;
            if scenario.places[place].kind != PlaceKind::Food {
                continue;
            }
            let (arrive, leave) = (visit.leg.arrive.as_secs_f64(), visit.leave.as_secs_f64());
            stays_s.push(leave - arrive);
            for k in 0..30 {
                let (a, b) = ((first_bin + k as f64) * interval_s, (first_bin + k as f64 + 1.0) * interval_s);
                let share = (leave.min(b) - arrive.max(a)).max(0.0) / interval_s;
                *expected.entry((scenario.places[place].id.clone(), k)).or_default() += compliance * share;
            }
        }
    }
    assert_eq!(stays_s.len(), plans, "every plan has its meal");
    let mut risen = 0;
    for (element_before, element_after) in before.elements.iter().zip(&after.elements) {
        for (k, (m0, m1)) in element_before.minutes.iter().zip(&element_after.minutes).enumerate() {
            let booked = expected.get(&(element_before.id.clone(), k)).copied().unwrap_or(0.0);
            if booked == 0.0 {
                assert_eq!(m0, m1, "{} minute {}: no plan there, no change", element_before.id, k + 1);
                continue;
            }
            assert!(
                (m1.booked - booked).abs() < 1e-6,
                "{} minute {}: {} vs {booked}",
                element_before.id,
                k + 1,
                m1.booked
            );
            // The median moves by the booked people; the band's upper end
            // at least as far (more people, more count noise), the lower
            // end up, and the chance of LOS E or worse does not fall.
            let (id, minute) = (&element_before.id, k + 1);
            assert!((m1.occupancy_p50 - m0.occupancy_p50 - booked).abs() < 1e-6, "{id} {minute}: {m0:?} {m1:?}");
            assert!(m1.occupancy_p90 - m0.occupancy_p90 >= booked - 1e-6, "{id} {minute}: {m0:?} {m1:?}");
            assert!(m1.occupancy_p10 > m0.occupancy_p10, "{id} {minute}: {m0:?} {m1:?}");
            assert!(m1.probability_los_e_or_worse >= m0.probability_los_e_or_worse, "{id} {minute}");
            risen += 1;
        }
    }
    // A whole minute inside every stay at an outlet: about its visitors
    // times the compliance share.
    let (outlet, peak) = expected.iter().max_by(|a, b| a.1.total_cmp(b.1)).map(|(k, v)| (k.clone(), *v)).unwrap();
    println!("{risen} outlet-minutes risen; peak +{peak:.1} at {} minute {}", outlet.0, outlet.1 + 1);
    assert!(risen > 0 && peak > 0.2 * plans as f64 * compliance, "{expected:?}");
}

#[test]
fn the_twin_learns_the_share_of_visitors_who_follow_their_plans_from_counts() {
    // A synthetic truth: at the booked outlet the sensor counts the
    // people the twin expects without plans, plus a known share of the
    // booked ones. From the prior 0.5 the learned share moves to it.
    let learned = |truth: f64| {
        let (scenario, planner, mut twin, wish) = booked_twin_at_nine(10);
        let answers = planner.plan_batch(&vec![wish; 300], None).unwrap();
        let outlet = answers[0].as_ref().unwrap().out.stops.iter().find(|s| s.kind == "food").unwrap().place.clone();
        let p = scenario.places.iter().position(|place| place.id == outlet).unwrap();
        let prior = twin.state().booked;
        assert_eq!((prior.compliance, prior.compliance_counts, prior.compliance_learned), (0.5, 0, false));
        for minute in 1..=60 {
            let now = twin.now();
            let without_plans = twin.state().elements[p].people_mean;
            let booked = planner.bookings().booked_presence(p, now, now);
            let observation = crowdtwin_live::Observation::PlaceCount {
                version: 1,
                id: format!("c{minute}"),
                at: clock((now.as_secs_f64() / 60.0) as u64 + 7 * 60),
                place: outlet.clone(),
                count: (without_plans + truth * booked).round(),
                sigma: Some(3.0),
            };
            twin.ingest(&[observation]).unwrap();
            twin.advance(now + SimDuration::from_secs(60));
        }
        let state = twin.state().booked;
        assert!(state.compliance_learned && state.compliance_counts >= 10, "{state:?}");
        // The share in use is the learned one, for forecasts and plans.
        assert_eq!(planner.bookings().compliance(), state.compliance);
        state
    };
    for truth in [0.3, 0.8] {
        let state = learned(truth);
        println!(
            "truth {truth}: learned {:.3} ± {:.3} from {} counts",
            state.compliance, state.compliance_sd, state.compliance_counts
        );
        // Past half way from the prior to the truth, and surer than the prior.
        assert!((state.compliance - truth).abs() < 0.5 * (0.5 - truth).abs(), "truth {truth}: {state:?}");
        assert!(state.compliance_sd < 0.5 * crowdtwin_live::bookings::COMPLIANCE_PRIOR_SD, "{state:?}");
    }
}
