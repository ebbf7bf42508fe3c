//! Shops: each owns its stock per item and answers messages about it, like
//! a kernel actor (private state, one `handle` per message). The order book
//! holds every shop of its shard and is the only caller, so a shop needs no
//! lock; its stock never goes below zero.

use crowdtwin_sim::scenario::{PlaceKind, Scenario};
use serde::{Deserialize, Serialize};

/// One item of a shop's catalogue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CatalogueItem {
    /// Item id.
    pub id: String,
    /// Units in stock when the store was created.
    pub initial_stock: u32,
    /// Price per unit.
    pub price: f64,
}

/// One shop of the catalogue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CatalogueShop {
    /// Shop or food outlet id.
    pub id: String,
    /// Items, in the scenario's order.
    pub items: Vec<CatalogueItem>,
}

/// Every shop and food outlet with what it sells: the scenario's `items`
/// (a shop that declares none sells nothing).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Catalogue {
    /// Shops in the scenario's order; an order names its shop by position.
    pub shops: Vec<CatalogueShop>,
}

impl Catalogue {
    /// The shops and food outlets of a scenario.
    pub fn from_scenario(scenario: &Scenario) -> Catalogue {
        let shops = scenario
            .places
            .iter()
            .filter(|p| matches!(p.kind, PlaceKind::Shop | PlaceKind::Food))
            .map(|p| CatalogueShop {
                id: p.id.clone(),
                items: p
                    .items
                    .iter()
                    .map(|i| CatalogueItem { id: i.id.clone(), initial_stock: i.stock, price: i.price })
                    .collect(),
            })
            .collect();
        Catalogue { shops }
    }

    /// The position of a shop.
    pub fn shop_index(&self, id: &str) -> Option<usize> {
        self.shops.iter().position(|s| s.id == id)
    }

    /// Checks that a catalogue stored earlier sells the same shops and items
    /// (stock may differ: the store's wins).
    pub fn same_items(&self, other: &Catalogue) -> bool {
        self.shops.len() == other.shops.len()
            && self.shops.iter().zip(&other.shops).all(|(a, b)| {
                a.id == b.id
                    && a.items.len() == b.items.len()
                    && a.items.iter().zip(&b.items).all(|(x, y)| x.id == y.id)
            })
    }
}

/// A message to a shop. Lines are `(item position, units)`.
#[derive(Debug)]
pub enum ShopMessage<'a> {
    /// Take these units if every line can be served, else take nothing.
    Reserve(&'a [(u16, u32)]),
    /// Put back units of a cancelled order.
    Release(&'a [(u16, u32)]),
    /// Add units.
    Restock(&'a [(u16, u32)]),
}

/// What a shop answers.
#[derive(Debug, PartialEq, Eq)]
pub enum ShopReply {
    /// Done.
    Done,
    /// Not enough of line `line`: `available` units left.
    Short {
        /// Position of the first line that could not be served.
        line: usize,
        /// Units left of its item.
        available: u32,
    },
    /// A restock would overflow the item's counter.
    Overflow {
        /// Position of the line.
        line: usize,
    },
}

/// A shop: its stock per item (same positions as its catalogue entry).
#[derive(Clone, Debug)]
pub struct Shop {
    stock: Vec<u32>,
}

impl Shop {
    /// A shop with its catalogue's initial stock.
    pub fn new(catalogue: &CatalogueShop) -> Shop {
        Shop { stock: catalogue.items.iter().map(|i| i.initial_stock).collect() }
    }

    /// Units of each item.
    pub fn stock(&self) -> &[u32] {
        &self.stock
    }

    /// Handles one message. Item positions were checked by the caller.
    pub fn handle(&mut self, message: ShopMessage<'_>) -> ShopReply {
        match message {
            ShopMessage::Reserve(lines) => {
                // Lines name distinct items (checked before), so checking each
                // line against the current stock is enough.
                for (position, &(item, units)) in lines.iter().enumerate() {
                    let available = self.stock[item as usize];
                    if available < units {
                        return ShopReply::Short { line: position, available };
                    }
                }
                for &(item, units) in lines {
                    let left = &mut self.stock[item as usize];
                    *left = left.checked_sub(units).expect("stock was checked: it never goes below zero");
                }
                ShopReply::Done
            }
            ShopMessage::Release(lines) | ShopMessage::Restock(lines) => {
                for (position, &(item, units)) in lines.iter().enumerate() {
                    if self.stock[item as usize].checked_add(units).is_none() {
                        return ShopReply::Overflow { line: position };
                    }
                }
                for &(item, units) in lines {
                    self.stock[item as usize] += units;
                }
                ShopReply::Done
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shop_takes_all_lines_or_none_and_never_goes_negative() {
        let catalogue = CatalogueShop {
            id: "s".into(),
            items: vec![
                CatalogueItem { id: "a".into(), initial_stock: 3, price: 1.0 },
                CatalogueItem { id: "b".into(), initial_stock: 1, price: 1.0 },
            ],
        };
        let mut shop = Shop::new(&catalogue);
        assert_eq!(shop.handle(ShopMessage::Reserve(&[(0, 2), (1, 2)])), ShopReply::Short { line: 1, available: 1 });
        assert_eq!(shop.stock(), &[3, 1], "a refused order takes nothing");
        assert_eq!(shop.handle(ShopMessage::Reserve(&[(0, 3), (1, 1)])), ShopReply::Done);
        assert_eq!(shop.stock(), &[0, 0]);
        assert_eq!(shop.handle(ShopMessage::Reserve(&[(0, 1)])), ShopReply::Short { line: 0, available: 0 });
        assert_eq!(shop.handle(ShopMessage::Release(&[(0, 3)])), ShopReply::Done);
        assert_eq!(shop.handle(ShopMessage::Restock(&[(1, u32::MAX)])), ShopReply::Done);
        assert_eq!(shop.handle(ShopMessage::Restock(&[(1, 1)])), ShopReply::Overflow { line: 0 });
        assert_eq!(shop.stock(), &[3, u32::MAX]);
    }
}
