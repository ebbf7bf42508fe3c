//! Synthetic scenarios for scale tests: a park of `clusters` copies of a
//! venue cluster (venue, plaza, food, shop, gate, transit stop) joined by a
//! ring road, with enough sessions and visitors to reach a given count.

use crowdtwin_sim::scenario::{
    ItemSpec, ModelParams, PlaceKind, PlaceSpec, SCENARIO_FORMAT_VERSION, ScenarioFile, SessionSpec, VisitorSpec,
    WalkwaySpec,
};
use toml::Spanned;

/// Seats per synthetic venue.
pub const SYNTHETIC_VENUE_SEATS: u32 = 15_000;

fn place(id: String, kind: PlaceKind, x: f64, y: f64, area: f64) -> PlaceSpec {
    PlaceSpec {
        id,
        name: None,
        kind,
        position_m: [x, y],
        area_m2: area,
        lanes: None,
        service_s: None,
        seats: None,
        egress_width_m: None,
        servers: None,
        items: Vec::new(),
        departure_interval_s: None,
        departure_capacity: None,
        arrival_share: None,
    }
}

fn walkway(from: &str, to: &str, width: f64) -> Spanned<WalkwaySpec> {
    Spanned::new(
        0..0,
        WalkwaySpec {
            from: from.to_string(),
            to: to.to_string(),
            length_m: None,
            width_m: width,
            bottleneck: false,
            capacity_p_per_m_s: None,
            exit_width_m: None,
        },
    )
}

/// A synthetic park sized for `visitors` visitors (at least 1,000).
pub fn park(visitors: u64) -> ScenarioFile {
    // Three sessions a day per venue at 90% fill, 1.35 tickets per holder.
    let per_cluster = SYNTHETIC_VENUE_SEATS as f64 * 3.0 * 0.9 / 1.35;
    let clusters = ((visitors as f64 / per_cluster).ceil() as usize).max(1);
    let radius = 300.0 * clusters as f64 / std::f64::consts::PI + 400.0;
    let mut places = Vec::new();
    let mut walkways = Vec::new();
    let mut sessions = Vec::new();
    for c in 0..clusters {
        let angle = 2.0 * std::f64::consts::PI * c as f64 / clusters as f64;
        let (x, y) = (radius * angle.cos(), radius * angle.sin());
        let at = |r: f64, turn: f64| (x + r * (angle + turn).cos(), y + r * (angle + turn).sin());
        let id = |what: &str| format!("c{c}-{what}");
        let (tx, ty) = at(500.0, 0.0);
        let mut transit = place(id("transit"), PlaceKind::Transit, tx, ty, 3_000.0);
        transit.departure_interval_s = Some(60.0);
        transit.departure_capacity = Some(500);
        places.push(transit);
        let (gx, gy) = at(250.0, 0.0);
        let mut gate = place(id("gate"), PlaceKind::Gate, gx, gy, 2_000.0);
        gate.lanes = Some(30);
        gate.service_s = Some(10.0);
        places.push(gate);
        places.push(place(id("plaza"), PlaceKind::Plaza, x, y, 10_000.0));
        let (vx, vy) = at(200.0, 1.2);
        let mut venue = place(id("venue"), PlaceKind::Venue, vx, vy, 5_000.0);
        venue.seats = Some(SYNTHETIC_VENUE_SEATS);
        venue.lanes = Some(30);
        venue.service_s = Some(8.0);
        venue.egress_width_m = Some(30.0);
        places.push(venue);
        let (fx, fy) = at(150.0, -1.2);
        let mut food = place(id("food"), PlaceKind::Food, fx, fy, 2_500.0);
        food.servers = Some(30);
        food.service_s = Some(75.0);
        food.items = vec![ItemSpec { id: "meal".into(), stock: 20_000, price: 9.0 }];
        places.push(food);
        let (sx, sy) = at(150.0, 2.4);
        let mut shop = place(id("shop"), PlaceKind::Shop, sx, sy, 1_500.0);
        shop.servers = Some(20);
        shop.service_s = Some(100.0);
        shop.items = vec![ItemSpec { id: "souvenir".into(), stock: 20_000, price: 20.0 }];
        places.push(shop);
        let (zx, zy) = at(180.0, std::f64::consts::PI);
        places.push(place(id("fan-zone"), PlaceKind::FanZone, zx, zy, 8_000.0));
        for (from, to, width) in [
            ("transit", "gate", 12.0),
            ("gate", "plaza", 15.0),
            ("plaza", "venue", 14.0),
            ("plaza", "food", 10.0),
            ("plaza", "shop", 8.0),
            ("plaza", "fan-zone", 10.0),
        ] {
            walkways.push(walkway(&id(from), &id(to), width));
        }
        let next = (c + 1) % clusters;
        if clusters > 1 && (clusters > 2 || c == 0) {
            walkways.push(walkway(&id("plaza"), &format!("c{next}-plaza"), 12.0));
        }
        let offset = (c % 4) as u32 * 15;
        for (start_h, end_h, sport) in [(10, 13, "ice_hockey"), (14, 17, "figure_skating"), (19, 22, "speed_skating")] {
            sessions.push(Spanned::new(
                0..0,
                SessionSpec {
                    venue: id("venue"),
                    sport: sport.to_string(),
                    name: String::new(),
                    start: format!("{start_h:02}:{offset:02}"),
                    end: format!("{end_h:02}:{offset:02}"),
                    tickets: None,
                },
            ));
        }
    }
    ScenarioFile {
        version: SCENARIO_FORMAT_VERSION,
        name: format!("Synthetic park: {clusters} venue clusters, {visitors} visitors"),
        description: "Generated by `crowdtwin generate` for scale tests.".to_string(),
        seed: 1,
        origin_lat_lon: None,
        start: "07:00".into(),
        end: "25:00".into(),
        model: ModelParams::default(),
        places: places.into_iter().map(|p| Spanned::new(0..0, p)).collect(),
        walkways,
        sessions,
        visitors: Some(Spanned::new(
            0..0,
            VisitorSpec {
                count: visitors,
                ticket_fill: 0.9,
                session_count_weights: vec![0.7, 0.25, 0.05],
                arrive_before_first_session_min: [120.0, 60.0, 15.0],
                walk_in_window: Some(["09:00".into(), "20:00".into()]),
                walk_in_stay_min: [60.0, 240.0],
                food_probability: 0.5,
                shop_probability: 0.25,
                fan_zone_probability: 0.3,
                eat_min: [10.0, 25.0],
                fan_zone_dwell_min: [10.0, 45.0],
                sport_preferences: Default::default(),
                recommended_share: 0.0,
            },
        )),
        crowds: Vec::new(),
        interventions: Vec::new(),
        validation: None,
    }
}

/// The synthetic park as TOML text.
pub fn park_toml(visitors: u64) -> String {
    let mut text = String::from("# Generated by `crowdtwin generate`: a synthetic park for scale tests.\n");
    text.push_str(&toml::to_string(&park(visitors)).expect("a scenario serialises"));
    text
}
