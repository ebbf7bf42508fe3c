//! Products recommended with a day plan (issue 20): items from the shops'
//! stock chosen by the visitor's sports, and a shop and pickup time that the
//! forecast, with the load of the plans issued before, shows as quiet.
//!
//! - **Items.** An item with `sports` scores the visitor's weight for each
//!   of them (`sports` of the request; a sport of a session the plan visits
//!   counts at least [`PLANNED_SPORT_WEIGHT`]); an item without sports is
//!   for everyone and scores [`GENERAL_ITEM_SCORE`]. Items out of stock, or
//!   for sports the visitor has no interest in, are left out. A shop's value
//!   is the sum of its best `products` items' scores; the order goes to one
//!   shop.
//! - **Pickup.** The visitor fetches the order between two stops of the plan
//!   (or before its end): leaving a stop, walking to the shop, spending
//!   [`PICKUP_S`] at its counter, and walking on, still in time for the next
//!   session's start (its expected queue included) or the end of the day,
//!   and within the walking limit. Pickup times are tried every
//!   [`PICKUP_STEP_S`] in each such gap, from the first arrival at the shop
//!   for at most [`PICKUP_SLOTS_MAX`] of them (three hours); the chosen one
//!   has the lowest expected density at the shop (ties: the earlier, then
//!   the shorter detour). Among shops, the best value with any time that fits.
//!
//! The plan's stops do not move: the pickup lies in the slack the plan
//! already has. The pickup is booked like a stop ([`crate::bookings`]), so
//! the forecast and later plans count it.

use crate::itinerary::Planner;
use crowdtwin_sim::itinerary::{Congestion, Plan, Problem, StopKind};
use crowdtwin_sim::scenario::{ItemSpec, PlaceKind};
use crowdtwin_sim::{SimDuration, SimTime};
use crowdtwin_wire::{ItineraryRequest, OrderLine, OrderRequest, ProductOut, ProductsOut, fnv1a64};
use std::collections::BTreeMap;

/// Most products one plan recommends.
pub const PRODUCTS_MAX: u32 = 5;
/// Time at the counter to collect an order already paid for, s.
pub const PICKUP_S: u64 = 120;
/// Pickup times are tried this far apart, s.
pub const PICKUP_STEP_S: u64 = 300;
/// Pickup times tried per gap between stops at most (three hours).
pub const PICKUP_SLOTS_MAX: usize = 36;
/// Score of an item for everyone (no `sports`): below any sport the
/// visitor names with a weight of 1 or more.
pub const GENERAL_ITEM_SCORE: f64 = 0.5;
/// Weight of a sport whose session the plan visits, when the request
/// gives it less (a ticket holder who named no sports still gets items of
/// the sport they will see).
pub const PLANNED_SPORT_WEIGHT: f64 = 50.0;

/// Where and when a plan's products are fetched.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pickup {
    /// Shop place index.
    pub place: usize,
    /// Arrival at the counter.
    pub at: SimTime,
    /// Leaves the shop.
    pub leave: SimTime,
}

/// One gap of a plan: leave `from` at `depart`, be at `to` by `deadline`;
/// the plan's own walk takes `walk_s` and `walk_m`.
struct Gap {
    from: usize,
    depart: SimTime,
    to: usize,
    deadline: SimTime,
    walk_s: f64,
    walk_m: f64,
    screening: bool,
}

/// A pickup time that fits, with what it costs.
#[derive(Clone, Copy, Debug)]
struct Slot {
    at: SimTime,
    density: f64,
    detour_s: f64,
}

/// The gaps of `plan` a pickup could fill.
fn gaps(problem: &Problem, plan: &Plan) -> Vec<Gap> {
    let mut gaps = Vec::new();
    let mut from = (problem.start_place, problem.start, problem.screening);
    for visit in &plan.visits {
        let candidate = &problem.candidates[visit.candidate];
        // A session waits for its start; an errand is served on arrival, so
        // only the time to its session's start is slack.
        let deadline = match candidate.kind {
            StopKind::Session { .. } => SimTime(visit.start.0.saturating_sub((visit.queue_s * 1e6) as u64)),
            StopKind::Errand { .. } => visit.leg.arrive,
        };
        gaps.push(Gap {
            from: from.0,
            depart: from.1,
            to: candidate.place,
            deadline,
            walk_s: (visit.leg.arrive - visit.leg.depart).as_secs_f64(),
            walk_m: visit.leg.distance_m,
            screening: from.2,
        });
        from = (candidate.place, visit.leave, false);
    }
    gaps.push(Gap {
        from: from.0,
        depart: from.1,
        to: problem.end_place,
        deadline: problem.end,
        walk_s: (plan.final_leg.arrive - plan.final_leg.depart).as_secs_f64(),
        walk_m: plan.final_leg.distance_m,
        screening: from.2,
    });
    gaps
}

impl Planner {
    /// Products for `plan` (`request.products` of them), from the shops'
    /// stock now ([`Planner::set_stock_source`]), on `congestion`: the
    /// products and their pickup, or why there are none.
    pub fn recommend_products(
        &self,
        request: &ItineraryRequest,
        problem: &Problem,
        plan: &Plan,
        congestion: &Congestion,
    ) -> Result<(ProductsOut, Pickup), String> {
        let wanted = request.products.unwrap_or(0) as usize;
        let scenario = self.scenario();
        let mut interest: BTreeMap<&str, f64> = request.sports.iter().map(|(s, w)| (s.as_str(), *w)).collect();
        for visit in &plan.visits {
            if let StopKind::Session { session, .. } = problem.candidates[visit.candidate].kind {
                let weight = interest.entry(scenario.sessions[session].sport.as_str()).or_insert(0.0);
                *weight = weight.max(PLANNED_SPORT_WEIGHT);
            }
        }
        let score = |item: &ItemSpec| -> f64 {
            if item.sports.is_empty() {
                GENERAL_ITEM_SCORE
            } else {
                item.sports.iter().map(|s| interest.get(s.as_str()).copied().unwrap_or(0.0)).sum()
            }
        };
        // Per shop, its best items in stock (score, item, units) and their value.
        type Items = Vec<(f64, usize, u32)>;
        let mut shops: Vec<(f64, usize, Items)> = Vec::new();
        for (p, place) in scenario.places.iter().enumerate().filter(|(_, p)| p.kind == PlaceKind::Shop) {
            let units = self.stock_of(p);
            let mut items: Vec<(f64, usize, u32)> = place
                .items
                .iter()
                .enumerate()
                .map(|(i, item)| (score(item), i, units.get(i).copied().unwrap_or(0)))
                .filter(|&(score, _, units)| score > 0.0 && units > 0)
                .collect();
            items.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            items.truncate(wanted);
            if !items.is_empty() {
                shops.push((items.iter().map(|i| i.0).sum(), p, items));
            }
        }
        if shops.is_empty() {
            return Err("no shop has items for these sports in stock".into());
        }
        shops.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let gaps = gaps(problem, plan);
        for (_, shop, items) in &shops {
            let Some((slot, busiest)) = self.quietest_pickup(problem, plan, congestion, &gaps, *shop) else { continue };
            let place = &scenario.places[*shop];
            let pickup_at = self.clock(slot.at);
            let lines: Vec<OrderLine> =
                items.iter().map(|&(_, i, _)| OrderLine { item: place.items[i].id.clone(), quantity: 1 }).collect();
            // The same plan (request, stops, shop, pickup and items) gives
            // the same key, so sending its order twice places it once.
            let identity = serde_json::to_vec(&(
                request,
                plan.visits.iter().map(|v| (v.candidate, v.start.as_micros())).collect::<Vec<_>>(),
                &place.id,
                &pickup_at,
                &lines,
            ))
            .unwrap_or_default();
            let order = OrderRequest {
                idempotency_key: format!("plan-{:016x}", fnv1a64(&identity)),
                shop: place.id.clone(),
                items: lines,
                pickup_at: Some(pickup_at.clone()),
            };
            let out = ProductsOut {
                shop: place.id.clone(),
                shop_name: place.name.clone(),
                pickup_at,
                pickup_density_p_per_m2: round3(slot.density),
                busiest_density_p_per_m2: round3(busiest),
                detour_min: round3(slot.detour_s / 60.0),
                items: items
                    .iter()
                    .map(|&(_, i, units)| ProductOut {
                        item: place.items[i].id.clone(),
                        price: place.items[i].price,
                        sports: place.items[i].sports.clone(),
                        in_stock: units,
                    })
                    .collect(),
                order,
            };
            let at = slot.at;
            let pickup = Pickup { place: *shop, at, leave: at + SimDuration::from_secs(PICKUP_S) };
            return Ok((out, pickup));
        }
        Err("no shop with these items can be reached between the plan's stops in time".into())
    }

    /// The quietest pickup time at `shop` over the plan's gaps, and the
    /// busiest density among the times that fitted.
    fn quietest_pickup(
        &self,
        problem: &Problem,
        plan: &Plan,
        congestion: &Congestion,
        gaps: &[Gap],
        shop: usize,
    ) -> Option<(Slot, f64)> {
        let network = self.network();
        let area = self.scenario().places[shop].area_m2;
        let mut best: Option<Slot> = None;
        let mut busiest = 0.0f64;
        for gap in gaps {
            let there = network.tree(congestion, gap.from, gap.depart, problem.speed_factor, gap.screening);
            let Some(arrive) = there.arrival(shop) else { continue };
            let step = PICKUP_STEP_S * 1_000_000;
            let mut at = SimTime(arrive.as_micros().div_ceil(step) * step);
            for _ in 0..PICKUP_SLOTS_MAX {
                let leave = at + SimDuration::from_secs(PICKUP_S);
                if leave > gap.deadline {
                    break;
                }
                let on = network.tree(congestion, shop, leave, problem.speed_factor, false);
                let Some(next) = on.arrival(gap.to) else { break };
                if next > gap.deadline {
                    break;
                }
                let extra_m = there.distance_m(shop) + on.distance_m(gap.to) - gap.walk_m;
                if plan.walk_m + extra_m.max(0.0) > problem.walk_m_max {
                    break;
                }
                let density = congestion.occupancy_in(congestion.step_index(at), shop) / area;
                let walking_s = (arrive - gap.depart).as_secs_f64() + (next - leave).as_secs_f64();
                let slot = Slot { at, density, detour_s: (walking_s - gap.walk_s).max(0.0) };
                busiest = busiest.max(density);
                let better = best.is_none_or(|b| {
                    slot.density < b.density
                        || (slot.density == b.density && (slot.at, slot.detour_s) < (b.at, b.detour_s))
                });
                if better {
                    best = Some(slot);
                }
                at += SimDuration::from_secs(PICKUP_STEP_S);
            }
        }
        best.map(|b| (b, busiest))
    }
}

fn round3(value: f64) -> f64 {
    (value * 1_000.0).round() / 1_000.0
}
