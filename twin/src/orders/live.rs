//! Orders as live data for the twin: every few seconds the units confirmed
//! since the last look, per shop and item, go to the twin as `order`
//! observations (the ingest path every sensor uses), so shop demand shows in
//! its state and in `/v1/state`'s observation totals. Aggregating keeps the
//! twin's load bounded whatever the order rate.

use super::OrderBook;
use crate::live::Observation;
use crate::live::clock::Clock;
use crate::service::AppState;
use crowdtwin_sim::scenario::format_clock;
use std::sync::Arc;
use std::time::Duration;

/// Units in one order observation at most (the observation format's limit).
pub const ORDER_OBSERVATION_UNITS_MAX: u64 = 10_000;

/// The observations for the units confirmed between `before` and `now`
/// (both from [`OrderBook::confirmed_units`]), stamped `at`.
pub fn observations(
    book: &OrderBook,
    before: &[(usize, usize, u64)],
    now: &[(usize, usize, u64)],
    at: &str,
    round: u64,
) -> Vec<Observation> {
    let mut out = Vec::new();
    for (&(shop, item, then), &(_, _, units)) in before.iter().zip(now) {
        let mut fresh = units.saturating_sub(then);
        let mut part = 0;
        while fresh > 0 {
            let quantity = fresh.min(ORDER_OBSERVATION_UNITS_MAX);
            fresh -= quantity;
            let shop_entry = &book.catalogue().shops[shop];
            out.push(Observation::Order {
                version: crate::live::observation::OBSERVATION_FORMAT_VERSION,
                id: format!("orders-{round}-{}-{}-{part}", shop_entry.id, shop_entry.items[item].id),
                at: at.to_string(),
                shop: shop_entry.id.clone(),
                item: shop_entry.items[item].id.clone(),
                quantity: quantity as u32,
            });
            part += 1;
        }
    }
    out
}

/// Sends confirmed orders to the twin every `every`, until the task is dropped.
pub async fn feed_twin(
    app: AppState,
    book: Arc<OrderBook>,
    clock: Arc<dyn Clock>,
    start_clock_s: u32,
    every: Duration,
) {
    let mut before = book.confirmed_units();
    let mut interval = tokio::time::interval(every);
    let mut round = 0u64;
    loop {
        interval.tick().await;
        let now = book.confirmed_units();
        let at = format_clock(start_clock_s + clock.now().as_secs_f64() as u32);
        let batch = observations(&book, &before, &now, &at, round);
        round += 1;
        if batch.is_empty() {
            continue;
        }
        if crate::service::ingest(&app, batch).await.is_some() {
            before = now;
        }
    }
}
