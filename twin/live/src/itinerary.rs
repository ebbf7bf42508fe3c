//! Visitors' day plans on the service: the request and plan formats, the
//! session schedule, crowd-aware routes, and the shareable forms of a plan
//! (an iCalendar file and a GeoJSON route).
//!
//! The planning itself is `crowdtwin_sim::itinerary` (a time-dependent
//! orienteering problem with time windows). Walking and queueing times come
//! from the plan run of the scenario (the whole day), with the live
//! forecast's median laid over the next 30 minutes.

use crate::Forecast;
use crate::bookings::Bookings;
use crate::products::{PRODUCTS_MAX, Pickup};
use crowdtwin_sim::itinerary::{self, Candidate, Congestion, ErrandGroup, Leg, Network, Plan, Problem, StopKind};
use crowdtwin_sim::model;
use crowdtwin_sim::scenario::{Intervention, PlaceKind, Scenario, format_clock, parse_clock};
use crowdtwin_sim::{SimDuration, SimTime};
pub use crowdtwin_wire::{
    ItineraryBatchItem, ItineraryBatchOut, ItineraryBatchRequest, ItineraryOut, ItineraryRequest, RouteOut,
    ScheduleEntry, StopOut, WalkOut,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Default search time per request, ms.
pub const PLAN_BUDGET_MS_DEFAULT: u64 = 30;
/// Longest search time a request may ask for, ms.
pub const PLAN_BUDGET_MS_MAX: u64 = 200;
/// Default walking limit, km.
pub const WALK_KM_MAX_DEFAULT: f64 = 12.0;
/// Time spent at a shop after the queue, s.
pub const SHOP_DWELL_S: f64 = 900.0;
/// Most requests in one batch.
pub const BATCH_REQUESTS_MAX: usize = 10_000;
/// Default search time per distinct request of a batch, ms.
pub const BATCH_BUDGET_MS_DEFAULT: u64 = 5;
/// Most tickets one request may hold.
pub const TICKETS_MAX: usize = 16;

/// Why a request cannot be answered.
#[derive(Clone, Debug, PartialEq)]
pub enum RequestError {
    /// Malformed or out of range (400).
    Bad(String),
    /// Unknown place, session or sport (404).
    Unknown(String),
    /// Well-formed but impossible (422).
    Infeasible(String),
}

fn bad(message: impl Into<String>) -> RequestError {
    RequestError::Bad(message.into())
}

/// The site, its network, the plan run's congestion and the last overlay.
pub struct Planner {
    scenario: Scenario,
    network: Network,
    baseline: Congestion,
    free_flow: Congestion,
    places: HashMap<String, usize>,
    /// Forecast element id → (is walkway, index).
    elements: HashMap<String, (bool, usize)>,
    /// Session start and end with announced delays.
    sessions: Vec<(SimTime, SimTime)>,
    overlay: RwLock<Option<(u64, Arc<Congestion>)>>,
    /// The plans issued so far, as demand later plans see (shared with the
    /// twin, which counts them in its forecasts).
    bookings: Arc<Mutex<Bookings>>,
    /// The shops' stock now, for recommended products (none: the
    /// scenario's starting stock).
    stock: RwLock<Option<StockSource>>,
}

/// A shop's stock per item now (the scenario's item order), by shop id;
/// `None` for a shop it does not know. The service reads the order book.
pub type StockSource = Arc<dyn Fn(&str) -> Option<Vec<u32>> + Send + Sync>;

/// One plan made for a request and booked, with the congestion it was made on.
#[derive(Clone, Debug)]
pub struct Planned {
    /// The request as a problem.
    pub problem: Problem,
    /// The plan.
    pub plan: Plan,
    /// Its JSON form.
    pub out: ItineraryOut,
    /// The congestion (forecast and earlier plans' load) it was made on.
    pub congestion: Arc<Congestion>,
    /// Where and when its products are fetched, if it recommends any.
    pub pickup: Option<Pickup>,
}

impl Planner {
    /// Runs the plan of `scenario` (one day, one thread) for the baseline congestion.
    pub fn new(scenario: Scenario, seed: u64) -> Planner {
        let (baseline, network) = model::plan_congestion(&scenario, seed);
        let places = scenario.places.iter().enumerate().map(|(i, p)| (p.id.clone(), i)).collect();
        let mut elements: HashMap<String, (bool, usize)> =
            scenario.places.iter().enumerate().map(|(i, p)| (p.id.clone(), (false, i))).collect();
        for (w, walkway) in scenario.walkways.iter().enumerate() {
            let id = format!("{}--{}", scenario.places[walkway.a].id, scenario.places[walkway.b].id);
            elements.insert(id, (true, w));
        }
        let mut sessions: Vec<(SimTime, SimTime)> = scenario.sessions.iter().map(|s| (s.start, s.end)).collect();
        for intervention in &scenario.interventions {
            if let Intervention::DelaySession { session, delay, .. } = *intervention {
                sessions[session].0 += delay;
                sessions[session].1 += delay;
            }
        }
        let bookings = Arc::new(Mutex::new(Bookings::new(&baseline, scenario.places.len())));
        Planner {
            bookings,
            free_flow: Congestion::free_flow(&scenario),
            scenario,
            network,
            baseline,
            places,
            elements,
            sessions,
            overlay: RwLock::new(None),
            stock: RwLock::new(None),
        }
    }

    /// Reads the shops' stock from `source` for recommended products.
    pub fn set_stock_source(&self, source: StockSource) {
        *self.stock.write().unwrap_or_else(|e| e.into_inner()) = Some(source);
    }

    /// Shop `p`'s stock per item now.
    pub(crate) fn stock_of(&self, p: usize) -> Vec<u32> {
        let place = &self.scenario.places[p];
        let source = self.stock.read().unwrap_or_else(|e| e.into_inner()).clone();
        source.and_then(|read| read(&place.id)).unwrap_or_else(|| place.items.iter().map(|i| i.stock).collect())
    }

    /// The scenario planned on.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The network planned on.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The plan run's congestion with `forecast`'s medians over its horizon
    /// (computed once per forecast).
    pub fn congestion(&self, forecast: Option<&Forecast>) -> Arc<Congestion> {
        let Some(forecast) = forecast else { return Arc::new(self.baseline.clone()) };
        if let Some((issued, congestion)) = self.overlay.read().unwrap_or_else(|e| e.into_inner()).as_ref()
            && *issued == forecast.issued_at_s
        {
            return congestion.clone();
        }
        let mut congestion = self.baseline.clone();
        for element in &forecast.elements {
            let Some(&(walkway, index)) = self.elements.get(&element.id) else { continue };
            for minute in &element.minutes {
                let at = SimTime::from_secs(forecast.issued_at_s + 60 * (minute.minute as u64).saturating_sub(1));
                if walkway {
                    congestion.set_walkway_density(at, index, minute.density_p50, &self.scenario);
                } else {
                    congestion.set_place_occupancy(at, index, minute.occupancy_p50, &self.scenario);
                }
            }
        }
        let congestion = Arc::new(congestion);
        *self.overlay.write().unwrap_or_else(|e| e.into_inner()) = Some((forecast.issued_at_s, congestion.clone()));
        congestion
    }

    fn place(&self, id: &str) -> Result<usize, RequestError> {
        self.places.get(id).copied().ok_or_else(|| RequestError::Unknown(format!("no place `{id}` in this site")))
    }

    fn time(&self, clock: &str, what: &str) -> Result<SimTime, RequestError> {
        let seconds = parse_clock(clock).map_err(|e| bad(format!("{what}: {e}")))?;
        let since = seconds
            .checked_sub(self.scenario.start_clock_s)
            .ok_or_else(|| bad(format!("{what} {clock} is before the day starts ({})", self.clock(SimTime::ZERO))))?;
        let at = SimTime::from_secs(since as u64);
        if at > self.scenario.end() {
            return Err(bad(format!("{what} {clock} is after the day ends ({})", self.clock(self.scenario.end()))));
        }
        Ok(at)
    }

    pub(crate) fn clock(&self, t: SimTime) -> String {
        format_clock(self.scenario.clock_s(t))
    }

    /// The session schedule, for one sport or all.
    pub fn schedule(&self, sport: Option<&str>) -> Result<Vec<ScheduleEntry>, RequestError> {
        let entries: Vec<ScheduleEntry> = self
            .scenario
            .sessions
            .iter()
            .enumerate()
            .filter(|(_, s)| sport.is_none_or(|wanted| s.sport == wanted))
            .map(|(i, s)| ScheduleEntry {
                session: i,
                name: s.name.clone(),
                sport: s.sport.clone(),
                venue: self.scenario.places[s.venue].id.clone(),
                start: self.clock(self.sessions[i].0),
                end: self.clock(self.sessions[i].1),
                tickets: s.tickets,
            })
            .collect();
        if entries.is_empty()
            && let Some(sport) = sport
        {
            let mut sports: Vec<&str> = self.scenario.sessions.iter().map(|s| s.sport.as_str()).collect();
            sports.sort_unstable();
            sports.dedup();
            return Err(RequestError::Unknown(format!("no sport `{sport}`; the schedule has: {}", sports.join(", "))));
        }
        Ok(entries)
    }

    /// The fastest route from `from` to `to` leaving at `at` ("HH:MM").
    pub fn route(&self, from: &str, to: &str, at: &str, congestion: &Congestion) -> Result<RouteOut, RequestError> {
        let (a, b) = (self.place(from)?, self.place(to)?);
        let depart = self.time(at, "at")?;
        let screening = self.scenario.places[a].kind == PlaceKind::Transit;
        let leg = self
            .network
            .tree(congestion, a, depart, 1.0, screening)
            .leg(b)
            .ok_or_else(|| RequestError::Infeasible(format!("`{to}` cannot be reached from `{from}` at {at}")))?;
        let free = self
            .network
            .tree(&self.free_flow, a, depart, 1.0, false)
            .arrival(b)
            .map_or(f64::NAN, |t| (t - depart).as_secs_f64());
        Ok(RouteOut {
            from: from.to_string(),
            to: to.to_string(),
            walk: self.walk_out(&leg),
            free_flow_min: round2(free / 60.0),
        })
    }

    fn walk_out(&self, leg: &Leg) -> WalkOut {
        let total = (leg.arrive - leg.depart).as_secs_f64();
        WalkOut {
            depart: self.clock(leg.depart),
            arrive: self.clock(leg.arrive),
            walk_min: round2((total - leg.queue_s) / 60.0),
            security_min: round2(leg.queue_s / 60.0),
            distance_m: round2(leg.distance_m),
            route: leg.places.iter().map(|&p| self.scenario.places[p as usize].id.clone()).collect(),
        }
    }

    /// Turns a request into the planning problem.
    pub fn problem(&self, request: &ItineraryRequest) -> Result<Problem, RequestError> {
        let start_place = self.place(&request.start_place)?;
        let end_place = match &request.end_place {
            Some(id) => self.place(id)?,
            None => start_place,
        };
        let start = self.time(&request.start_time, "start_time")?;
        let end = self.time(&request.end_time, "end_time")?;
        if end <= start {
            return Err(bad("end_time must be after start_time"));
        }
        let interest = |name: &str, value: f64| {
            if value.is_finite() && (0.0..=100.0).contains(&value) {
                Ok(value)
            } else {
                Err(bad(format!("{name} = {value} must be between 0 and 100")))
            }
        };
        for (sport, &weight) in &request.sports {
            interest(&format!("sports.{sport}"), weight)?;
            if !self.scenario.sessions.iter().any(|s| &s.sport == sport) {
                return Err(RequestError::Unknown(format!("no sessions of sport `{sport}` (see GET /v1/schedule)")));
            }
        }
        if request.tickets.len() > TICKETS_MAX {
            return Err(bad(format!("at most {TICKETS_MAX} tickets")));
        }
        let mut candidates = Vec::new();
        for (i, session) in self.scenario.sessions.iter().enumerate() {
            let ticket = request.tickets.contains(&i);
            let weight = request.sports.get(&session.sport).copied().unwrap_or(0.0);
            let (session_start, session_end) = self.sessions[i];
            if !ticket && (weight <= 0.0 || session_start < start || session_end > end) {
                continue;
            }
            candidates.push(Candidate {
                place: session.venue,
                kind: StopKind::Session { session: i, start: session_start, end: session_end },
                score: weight,
                mandatory: ticket,
            });
        }
        if let Some(&missing) = request.tickets.iter().find(|&&t| t >= self.scenario.sessions.len()) {
            return Err(RequestError::Unknown(format!("no session {missing} (see GET /v1/schedule)")));
        }
        let visitors = self.scenario.visitors.as_ref();
        let errands = [
            (
                PlaceKind::Food,
                ErrandGroup::Food,
                interest("food", request.food)?,
                visitors.map_or(1_200.0, |v| (v.eat_s[0] + v.eat_s[1]) / 2.0),
            ),
            (PlaceKind::Shop, ErrandGroup::Shop, interest("shop", request.shop)?, SHOP_DWELL_S),
            (
                PlaceKind::FanZone,
                ErrandGroup::FanZone,
                interest("fan_zone", request.fan_zone)?,
                visitors.map_or(1_800.0, |v| (v.fan_zone_dwell_s[0] + v.fan_zone_dwell_s[1]) / 2.0),
            ),
        ];
        for (kind, group, score, dwell_s) in errands {
            if score <= 0.0 {
                continue;
            }
            for (p, place) in self.scenario.places.iter().enumerate().filter(|(_, p)| p.kind == kind) {
                let _ = place;
                candidates.push(Candidate {
                    place: p,
                    kind: StopKind::Errand { group, dwell: SimDuration::from_secs_f64(dwell_s) },
                    score,
                    mandatory: false,
                });
            }
        }
        let walk_km = request.walk_km_max.unwrap_or(WALK_KM_MAX_DEFAULT);
        if !(walk_km.is_finite() && walk_km > 0.0 && walk_km <= 100.0) {
            return Err(bad(format!("walk_km_max = {walk_km} must be in (0, 100]")));
        }
        let speed_factor = request.walk_speed_factor.unwrap_or(1.0);
        if !(0.2..=2.0).contains(&speed_factor) {
            return Err(bad(format!("walk_speed_factor = {speed_factor} must be in [0.2, 2]")));
        }
        Ok(Problem {
            start_place,
            start,
            end_place,
            end,
            candidates,
            speed_factor,
            walk_m_max: walk_km * 1_000.0,
            screening: self.scenario.places[start_place].kind == PlaceKind::Transit,
        })
    }

    /// Plans a day: the problem, the plan (searched for at most the
    /// request's budget) and its JSON form.
    pub fn plan(
        &self,
        request: &ItineraryRequest,
        congestion: &Congestion,
        forecast_issued_at: Option<String>,
    ) -> Result<(Problem, Plan, ItineraryOut), RequestError> {
        self.plan_with_pickup(request, congestion, forecast_issued_at)
            .map(|(problem, plan, out, _)| (problem, plan, out))
    }

    /// [`Planner::plan`], with where and when the plan's products are
    /// fetched, if it recommends any.
    fn plan_with_pickup(
        &self,
        request: &ItineraryRequest,
        congestion: &Congestion,
        forecast_issued_at: Option<String>,
    ) -> Result<(Problem, Plan, ItineraryOut, Option<Pickup>), RequestError> {
        let problem = self.problem(request)?;
        let products = request.products.unwrap_or(0);
        if products > PRODUCTS_MAX {
            return Err(bad(format!("products = {products} must be between 0 and {PRODUCTS_MAX}")));
        }
        let budget = request.budget_ms.unwrap_or(PLAN_BUDGET_MS_DEFAULT);
        if budget == 0 || budget > PLAN_BUDGET_MS_MAX {
            return Err(bad(format!("budget_ms = {budget} must be between 1 and {PLAN_BUDGET_MS_MAX}")));
        }
        let started = Instant::now();
        let deadline = Duration::from_millis(budget);
        let plan = itinerary::solve(&self.network, congestion, &problem, request.seed.unwrap_or(1), |_| {
            started.elapsed() >= deadline
        })
        .map_err(|e| match e {
            itinerary::PlanError::Unreachable { candidate } => {
                let StopKind::Session { session, start, .. } = problem.candidates[candidate].kind else {
                    return RequestError::Infeasible(e.to_string());
                };
                let s = &self.scenario.sessions[session];
                RequestError::Infeasible(format!(
                    "ticketed session {session} \"{}\" at {} ({}) cannot be reached in time after the tickets before it: they overlap or are too far apart",
                    s.name,
                    self.scenario.places[s.venue].id,
                    self.clock(start)
                ))
            }
            itinerary::PlanError::Invalid(m) => RequestError::Bad(m),
            itinerary::PlanError::Infeasible(m) => RequestError::Infeasible(m),
        })?;
        let mut out = self.describe(&problem, &plan, forecast_issued_at);
        let mut pickup = None;
        if products > 0 {
            match self.recommend_products(request, &problem, &plan, congestion) {
                Ok((products, fetched)) => (out.products, pickup) = (Some(products), Some(fetched)),
                Err(note) => out.products_note = Some(note),
            }
        }
        Ok((problem, plan, out, pickup))
    }

    /// The issued plans' load (see [`crate::bookings`]).
    pub fn bookings(&self) -> std::sync::MutexGuard<'_, Bookings> {
        self.bookings.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The issued plans' load itself, to share with the twin
    /// ([`crate::Twin::set_bookings`]).
    pub fn shared_bookings(&self) -> Arc<Mutex<Bookings>> {
        self.bookings.clone()
    }

    /// Plans a day on `forecast` with the load of the plans issued before,
    /// and books the plan as demand for the plans after it.
    pub fn plan_issued(
        &self,
        request: &ItineraryRequest,
        forecast: Option<&Forecast>,
    ) -> Result<Planned, RequestError> {
        let base = self.congestion(forecast);
        let congestion = Arc::new(self.bookings().apply(&base, &self.scenario));
        let issued = forecast.map(|f| f.issued_at.clone());
        let (problem, plan, out, pickup) = self.plan_with_pickup(request, &congestion, issued)?;
        self.bookings().book(&congestion, &problem, &plan, pickup.as_ref(), 1.0);
        Ok(Planned { problem, plan, out, congestion, pickup })
    }

    /// Plans for many visitors at once, in order, each on the load of the
    /// plans before it (also those of earlier calls), all booked. Equal
    /// requests share one search while the plan's errands have spare
    /// capacity, then are searched again on the new load, so the visitors
    /// spread over the alternatives. A request without `budget_ms` is
    /// searched for [`BATCH_BUDGET_MS_DEFAULT`] ms.
    pub fn plan_batch(
        &self,
        requests: &[ItineraryRequest],
        forecast: Option<&Forecast>,
    ) -> Result<Vec<Result<Planned, RequestError>>, RequestError> {
        if requests.is_empty() || requests.len() > BATCH_REQUESTS_MAX {
            return Err(bad(format!("a batch holds 1 to {BATCH_REQUESTS_MAX} requests, not {}", requests.len())));
        }
        let base = self.congestion(forecast);
        let issued = forecast.map(|f| f.issued_at.clone());
        // Per distinct request: the last plan and how many more it fits.
        let mut shared: HashMap<String, (Planned, u64)> = HashMap::new();
        let mut answers = Vec::with_capacity(requests.len());
        for request in requests {
            let mut request = request.clone();
            request.budget_ms = Some(request.budget_ms.unwrap_or(BATCH_BUDGET_MS_DEFAULT));
            let key = serde_json::to_string(&request).unwrap_or_default();
            // Held for one request at a time, so the twin is not kept waiting
            // for the whole batch.
            let mut bookings = self.bookings();
            if let Some((planned, left)) = shared.get_mut(&key)
                && *left > 0
            {
                *left -= 1;
                bookings.book(&planned.congestion, &planned.problem, &planned.plan, planned.pickup.as_ref(), 1.0);
                answers.push(Ok(planned.clone()));
                continue;
            }
            let congestion = Arc::new(bookings.apply(&base, &self.scenario));
            let answer =
                self.plan_with_pickup(&request, &congestion, issued.clone()).map(|(problem, plan, out, pickup)| {
                    let fit = bookings.copies_that_fit(&base, &self.scenario, &problem, &plan, pickup.as_ref());
                    bookings.book(&congestion, &problem, &plan, pickup.as_ref(), 1.0);
                    let planned = Planned { problem, plan, out, congestion, pickup };
                    shared.insert(key, (planned.clone(), fit.saturating_sub(1)));
                    planned
                });
            answers.push(answer);
        }
        Ok(answers)
    }

    /// The JSON form of a plan.
    pub fn describe(&self, problem: &Problem, plan: &Plan, forecast_issued_at: Option<String>) -> ItineraryOut {
        let stops = plan
            .visits
            .iter()
            .map(|visit| {
                let candidate = &problem.candidates[visit.candidate];
                let place = &self.scenario.places[candidate.place];
                let (kind, session) = match candidate.kind {
                    StopKind::Session { session, .. } => ("session", Some(session)),
                    StopKind::Errand { group: ErrandGroup::Food, .. } => ("food", None),
                    StopKind::Errand { group: ErrandGroup::Shop, .. } => ("shop", None),
                    StopKind::Errand { group: ErrandGroup::FanZone, .. } => ("fan_zone", None),
                };
                StopOut {
                    kind: kind.to_string(),
                    place: place.id.clone(),
                    place_name: place.name.clone(),
                    session,
                    title: session.map(|s| {
                        let s = &self.scenario.sessions[s];
                        format!("{} ({})", s.name, s.sport)
                    }),
                    ticket: candidate.mandatory,
                    walk: self.walk_out(&visit.leg),
                    arrive: self.clock(visit.leg.arrive),
                    queue_min: round2(visit.queue_s / 60.0),
                    start: self.clock(visit.start),
                    leave: self.clock(visit.leave),
                    score: candidate.score,
                }
            })
            .collect();
        ItineraryOut {
            site: self.scenario.name.clone(),
            stops,
            end: self.walk_out(&plan.final_leg),
            score: plan.score,
            walk_km: round2(plan.walk_m / 1_000.0),
            walk_min: round2(plan.walk_s / 60.0),
            queue_min: round2(plan.queue_s / 60.0),
            forecast_issued_at,
            iterations: plan.iterations,
            products: None,
            products_note: None,
        }
    }

    /// The plan as an iCalendar file (RFC 5545): one event per stop, in
    /// floating local time on `date` ("YYYY-MM-DD").
    pub fn ics(&self, plan: &ItineraryOut, date: &str) -> Result<String, RequestError> {
        let day = parse_date(date)?;
        let stamp = |clock: &str| -> String {
            let seconds = parse_clock(clock).unwrap_or(0);
            let (extra_days, seconds) = (seconds / 86_400, seconds % 86_400);
            let (y, m, d) = add_days(day, extra_days);
            format!("{y:04}{m:02}{d:02}T{:02}{:02}00", seconds / 3_600, seconds / 60 % 60)
        };
        let mut text = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//crowdtwin//itinerary//EN\r\n");
        for (i, stop) in plan.stops.iter().enumerate() {
            let summary =
                stop.title.clone().unwrap_or_else(|| format!("{} at {}", stop.kind.replace('_', " "), stop.place_name));
            let description = format!(
                "Walk {:.0} min from {} ({:.0} m), expected queue {:.0} min.",
                stop.walk.walk_min,
                stop.walk.route.first().map_or("", String::as_str),
                stop.walk.distance_m,
                stop.queue_min
            );
            text.push_str(&format!(
                "BEGIN:VEVENT\r\nUID:{date}-{i}-{}@crowdtwin\r\nDTSTAMP:{}Z\r\nDTSTART:{}\r\nDTEND:{}\r\nSUMMARY:{}\r\nLOCATION:{}\r\nDESCRIPTION:{}\r\nEND:VEVENT\r\n",
                stop.place,
                stamp("00:00"),
                stamp(&stop.arrive),
                stamp(&stop.leave),
                ics_escape(&summary),
                ics_escape(&stop.place_name),
                ics_escape(&description)
            ));
        }
        text.push_str("END:VCALENDAR\r\n");
        Ok(text)
    }

    /// The plan's walks as GeoJSON (RFC 7946): a LineString per walk and a
    /// Point per stop, in WGS 84 from the scenario's `origin_lat_lon`.
    pub fn geojson(&self, plan: &ItineraryOut) -> Result<serde_json::Value, RequestError> {
        let [lat0, lon0] = self.scenario.origin_lat_lon.ok_or_else(|| {
            RequestError::Infeasible("the scenario has no origin_lat_lon, so its metres cannot be put on a map".into())
        })?;
        let position = |id: &str| -> [f64; 2] {
            let [x, y] = self.scenario.places[self.places[id]].position_m;
            let lat = lat0 + y / METRES_PER_DEGREE;
            let lon = lon0 + x / (METRES_PER_DEGREE * lat0.to_radians().cos());
            [(lon * 1e7).round() / 1e7, (lat * 1e7).round() / 1e7]
        };
        let mut features = Vec::new();
        let walks = plan.stops.iter().map(|s| (&s.walk, Some(s))).chain(std::iter::once((&plan.end, None)));
        for (walk, stop) in walks {
            let line: Vec<[f64; 2]> = walk.route.iter().map(|p| position(p)).collect();
            features.push(serde_json::json!({
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": line},
                "properties": {"depart": walk.depart, "arrive": walk.arrive, "walk_min": walk.walk_min, "distance_m": walk.distance_m},
            }));
            if let Some(stop) = stop {
                features.push(serde_json::json!({
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": position(&stop.place)},
                    "properties": {"kind": stop.kind, "place": stop.place, "name": stop.title.as_ref().unwrap_or(&stop.place_name),
                                   "arrive": stop.arrive, "start": stop.start, "leave": stop.leave, "queue_min": stop.queue_min},
                }));
            }
        }
        Ok(serde_json::json!({"type": "FeatureCollection", "features": features}))
    }
}

/// Rounded to hundredths (for display; plans keep full precision).
fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// Metres per degree of latitude (mean).
const METRES_PER_DEGREE: f64 = 111_195.0;

fn ics_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace(';', "\\;").replace(',', "\\,").replace('\n', "\\n")
}

fn parse_date(text: &str) -> Result<(i32, u32, u32), RequestError> {
    let parts: Vec<&str> = text.split('-').collect();
    let parsed = match parts.as_slice() {
        [y, m, d] if y.len() == 4 && m.len() == 2 && d.len() == 2 => {
            (y.parse::<i32>().ok(), m.parse::<u32>().ok(), d.parse::<u32>().ok())
        }
        _ => (None, None, None),
    };
    match parsed {
        (Some(y), Some(m), Some(d)) if (1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m) => Ok((y, m, d)),
        _ => Err(bad(format!("date `{text}` is not a calendar date YYYY-MM-DD"))),
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn add_days((mut y, mut m, mut d): (i32, u32, u32), days: u32) -> (i32, u32, u32) {
    for _ in 0..days {
        d += 1;
        if d > days_in_month(y, m) {
            d = 1;
            m += 1;
            if m > 12 {
                m = 1;
                y += 1;
            }
        }
    }
    (y, m, d)
}
