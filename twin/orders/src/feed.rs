//! Orders as live data for the twin: every few seconds the units confirmed
//! since the last look, per shop and item, go to the twin as `order`
//! observations (the ingest path every sensor uses), so shop demand shows in
//! its state and in `/v1/state`'s observation totals. Orders with a pickup
//! time go at that time instead (the customer then joins the shop's queue).
//! Aggregating keeps the twin's load bounded whatever the order rate.

use super::OrderBook;
use crowdtwin_sim::scenario::format_clock;
use crowdtwin_wire::Observation;
use std::time::Duration;

/// Units in one order observation at most (the observation format's limit).
pub const ORDER_OBSERVATION_UNITS_MAX: u64 = 10_000;
/// Tries to hand one round of observations to the twin before dropping it.
pub const FEED_TRIES_MAX: u32 = 3;
/// Pickups older than this when the feed sees them are dropped (the twin
/// would count them late or refuse them), s.
pub const PICKUP_FEED_LATE_MAX_S: u32 = 3_600;

/// Observations for `(at, shop, item, units)`, ids `{prefix}-{shop}-{item}-{part}`.
fn order_observations(
    book: &OrderBook,
    entries: impl Iterator<Item = (String, usize, usize, u64)>,
    prefix: &str,
) -> Vec<Observation> {
    let mut out = Vec::new();
    for (at, shop, item, mut units) in entries {
        let shop_entry = &book.catalogue().shops[shop];
        let mut part = 0;
        while units > 0 {
            let quantity = units.min(ORDER_OBSERVATION_UNITS_MAX);
            units -= quantity;
            out.push(Observation::Order {
                version: crowdtwin_wire::OBSERVATION_FORMAT_VERSION,
                id: format!("{prefix}-{}-{}-{part}", shop_entry.id, shop_entry.items[item].id),
                at: at.clone(),
                shop: shop_entry.id.clone(),
                item: shop_entry.items[item].id.clone(),
                quantity: quantity as u32,
            });
            part += 1;
        }
    }
    out
}

/// The observations for the units confirmed between `before` and `now`
/// (both from [`OrderBook::confirmed_units`]), stamped `at`.
pub fn observations(
    book: &OrderBook,
    before: &[(usize, usize, u64)],
    now: &[(usize, usize, u64)],
    at: &str,
    round: u64,
) -> Vec<Observation> {
    let fresh = before
        .iter()
        .zip(now)
        .map(|(&(shop, item, then), &(_, _, units))| (at.to_string(), shop, item, units.saturating_sub(then)));
    order_observations(book, fresh, &format!("orders-{round}"))
}

/// The observations for pickups due (from [`OrderBook::take_pickups_due`]),
/// each stamped with its pickup time.
pub fn pickup_observations(book: &OrderBook, due: &[(u32, usize, usize, u64)], round: u64) -> Vec<Observation> {
    let entries = due.iter().map(|&(at, shop, item, units)| (format_clock(at), shop, item, units));
    let mut out = Vec::new();
    // One prefix per pickup time, so that equal shop and item at two times differ.
    for (index, entry) in entries.enumerate() {
        out.extend(order_observations(book, std::iter::once(entry), &format!("pickups-{round}-{index}")));
    }
    out
}

/// Hands confirmed orders and due pickups to `sink` every `every`, until the
/// task is dropped. `clock_s` tells the twin's clock time, s since midnight;
/// `sink` answers whether the twin took the batch (the service's ingest), and
/// a batch refused [`FEED_TRIES_MAX`] times is dropped with a warning.
pub async fn feed_twin<F: Future<Output = bool>>(
    book: &OrderBook,
    clock_s: impl Fn() -> u32,
    start_clock_s: u32,
    every: Duration,
    mut sink: impl FnMut(Vec<Observation>) -> F,
) {
    let mut before = book.confirmed_units();
    let mut interval = tokio::time::interval(every);
    let mut round = 0u64;
    let mut pending = Vec::new();
    let mut failures = 0;
    loop {
        interval.tick().await;
        let now = book.confirmed_units();
        let now_s = clock_s();
        let at = format_clock(now_s);
        pending.extend(observations(book, &before, &now, &at, round));
        before = now;
        let due: Vec<_> = book
            .take_pickups_due(now_s)
            .into_iter()
            .filter(|&(pickup, ..)| pickup >= start_clock_s && pickup + PICKUP_FEED_LATE_MAX_S >= now_s)
            .collect();
        pending.extend(pickup_observations(book, &due, round));
        round += 1;
        if pending.is_empty() {
            continue;
        }
        if sink(pending.clone()).await {
            pending.clear();
            failures = 0;
        } else {
            failures += 1;
            if failures >= FEED_TRIES_MAX {
                tracing::error!(
                    failures,
                    dropped = pending.len(),
                    "the twin took no order observations; dropping them"
                );
                pending.clear();
                failures = 0;
            }
        }
    }
}
