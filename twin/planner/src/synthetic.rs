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
        polygon_m: None,
        lanes: None,
        service_s: None,
        seats: None,
        egress_width_m: None,
        servers: None,
        items: Vec::new(),
        departure_interval_s: None,
        departure_capacity: None,
        arrival_share: None,
        outdoor: false,
    }
}

fn walkway(from: &str, to: &str, width: f64) -> Spanned<WalkwaySpec> {
    Spanned::new(
        0..0,
        WalkwaySpec {
            from: Spanned::new(0..0, from.to_string()),
            to: Spanned::new(0..0, to.to_string()),
            length_m: None,
            line_m: None,
            width_m: width,
            bottleneck: false,
            capacity_p_per_m_s: None,
            exit_width_m: None,
        },
    )
}

/// Where one venue cluster of the park lies: its index and the position of
/// its plaza on the ring.
struct Cluster {
    /// Index of the cluster, 0-based; names its places (`c{index}-...`).
    index: usize,
    /// x of the plaza, m.
    x: f64,
    /// y of the plaza, m.
    y: f64,
    /// Direction of the plaza from the park centre, radians.
    angle: f64,
}

impl Cluster {
    /// Cluster `index` of `clusters` on a ring of `radius` metres.
    fn new(index: usize, clusters: usize, radius: f64) -> Self {
        let angle = 2.0 * std::f64::consts::PI * index as f64 / clusters as f64;
        Cluster { index, x: radius * angle.cos(), y: radius * angle.sin(), angle }
    }

    /// The point `r` metres from the plaza, `turn` radians off the outward direction.
    fn at(&self, r: f64, turn: f64) -> (f64, f64) {
        (self.x + r * (self.angle + turn).cos(), self.y + r * (self.angle + turn).sin())
    }

    /// The id of this cluster's place `what`.
    fn id(&self, what: &str) -> String {
        format!("c{}-{what}", self.index)
    }

    /// The cluster's seven places: transit stop, gate, plaza, venue, food, shop and fan zone.
    fn places(&self) -> Vec<PlaceSpec> {
        let mut places = Vec::new();
        let (tx, ty) = self.at(500.0, 0.0);
        let mut transit = place(self.id("transit"), PlaceKind::Transit, tx, ty, 3_000.0);
        transit.departure_interval_s = Some(60.0);
        transit.departure_capacity = Some(500);
        places.push(transit);
        let (gx, gy) = self.at(250.0, 0.0);
        let mut gate = place(self.id("gate"), PlaceKind::Gate, gx, gy, 2_000.0);
        gate.lanes = Some(30);
        gate.service_s = Some(10.0);
        places.push(gate);
        places.push(place(self.id("plaza"), PlaceKind::Plaza, self.x, self.y, 10_000.0));
        let (vx, vy) = self.at(200.0, 1.2);
        let mut venue = place(self.id("venue"), PlaceKind::Venue, vx, vy, 5_000.0);
        venue.seats = Some(SYNTHETIC_VENUE_SEATS);
        venue.lanes = Some(30);
        venue.service_s = Some(8.0);
        venue.egress_width_m = Some(30.0);
        places.push(venue);
        let (fx, fy) = self.at(150.0, -1.2);
        let mut food = place(self.id("food"), PlaceKind::Food, fx, fy, 2_500.0);
        food.servers = Some(30);
        food.service_s = Some(75.0);
        food.items = vec![ItemSpec { id: "meal".into(), stock: 20_000, price: 9.0, sports: Vec::new() }];
        places.push(food);
        let (sx, sy) = self.at(150.0, 2.4);
        let mut shop = place(self.id("shop"), PlaceKind::Shop, sx, sy, 1_500.0);
        shop.servers = Some(20);
        shop.service_s = Some(100.0);
        shop.items = vec![ItemSpec { id: "souvenir".into(), stock: 20_000, price: 20.0, sports: Vec::new() }];
        places.push(shop);
        let (zx, zy) = self.at(180.0, std::f64::consts::PI);
        places.push(place(self.id("fan-zone"), PlaceKind::FanZone, zx, zy, 8_000.0));
        places
    }

    /// The cluster's walkways, and the ring road to the next cluster's plaza
    /// (one road between two clusters, none for a single cluster).
    fn walkways(&self, clusters: usize) -> Vec<Spanned<WalkwaySpec>> {
        let mut walkways = Vec::new();
        for (from, to, width) in [
            ("transit", "gate", 12.0),
            ("gate", "plaza", 15.0),
            ("plaza", "venue", 14.0),
            ("plaza", "food", 10.0),
            ("plaza", "shop", 8.0),
            ("plaza", "fan-zone", 10.0),
        ] {
            walkways.push(walkway(&self.id(from), &self.id(to), width));
        }
        let next = (self.index + 1) % clusters;
        if clusters > 1 && (clusters > 2 || self.index == 0) {
            walkways.push(walkway(&self.id("plaza"), &format!("c{next}-plaza"), 12.0));
        }
        walkways
    }

    /// The venue's three sessions, staggered by 15 minutes across neighbouring clusters.
    fn sessions(&self) -> Vec<Spanned<SessionSpec>> {
        let offset = (self.index % 4) as u32 * 15;
        [(10, 13, "ice_hockey"), (14, 17, "figure_skating"), (19, 22, "speed_skating")]
            .into_iter()
            .map(|(start_h, end_h, sport)| {
                Spanned::new(
                    0..0,
                    SessionSpec {
                        venue: Spanned::new(0..0, self.id("venue")),
                        sport: sport.to_string(),
                        name: String::new(),
                        start: format!("{start_h:02}:{offset:02}"),
                        end: format!("{end_h:02}:{offset:02}"),
                        tickets: None,
                    },
                )
            })
            .collect()
    }
}

/// The park's visitor population: `visitors` visitors, 90% of the tickets filled.
fn visitor_spec(visitors: u64) -> VisitorSpec {
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
        plaza_linger_probability: 0.0,
        plaza_linger_min: [2.0, 15.0],
        sport_preferences: Default::default(),
        recommended_share: 0.0,
    }
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
        let cluster = Cluster::new(c, clusters, radius);
        places.extend(cluster.places());
        walkways.extend(cluster.walkways(clusters));
        sessions.extend(cluster.sessions());
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
        visitors: Some(Spanned::new(0..0, visitor_spec(visitors))),
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
