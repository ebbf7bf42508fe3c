//! Actor addresses: a kind and an index within that kind, packed in 32 bits.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Bits of an [`ActorId`] that hold the index within its kind.
pub const ACTOR_INDEX_BITS: u32 = 26;
/// Largest number of actors of one kind (67,108,864).
pub const ACTORS_PER_KIND_MAX: u32 = 1 << ACTOR_INDEX_BITS;
/// Largest number of actor kinds a model may declare. The last kind number
/// (63) is reserved for [`ActorId::EXTERNAL`].
pub const ACTOR_KINDS_MAX: u8 = 63;

/// A kind of actor (visitor, venue, shop, walkway, ...), numbered by the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ActorKind(pub u8);

/// The address of an actor: kind and index, ordered by kind then index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ActorId(u32);

impl ActorId {
    /// The source of events injected from outside the model (scenario set-up,
    /// live observations). It has its own sequence but no state or handler.
    pub const EXTERNAL: ActorId = ActorId(u32::MAX);

    /// The `index`-th actor of `kind`. Panics when either is out of range.
    pub fn new(kind: ActorKind, index: u32) -> Self {
        assert!(kind.0 < ACTOR_KINDS_MAX, "actor kind {} is out of range (< {ACTOR_KINDS_MAX})", kind.0);
        assert!(index < ACTORS_PER_KIND_MAX, "actor index {index} is out of range (< {ACTORS_PER_KIND_MAX})");
        ActorId(((kind.0 as u32) << ACTOR_INDEX_BITS) | index)
    }

    /// `ActorId::new` for constants: `kind` and `index` are checked at
    /// compile time when used in a `const`.
    pub const fn new_const(kind: u8, index: u32) -> Self {
        assert!(kind < ACTOR_KINDS_MAX && index < ACTORS_PER_KIND_MAX, "actor id out of range");
        ActorId(((kind as u32) << ACTOR_INDEX_BITS) | index)
    }

    /// The kind of this actor.
    pub const fn kind(self) -> ActorKind {
        ActorKind((self.0 >> ACTOR_INDEX_BITS) as u8)
    }

    /// The index of this actor within its kind.
    pub const fn index(self) -> u32 {
        self.0 & (ACTORS_PER_KIND_MAX - 1)
    }

    /// The packed representation (kind in the top bits), which also orders ids.
    pub const fn raw(self) -> u32 {
        self.0
    }
}

impl fmt::Display for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == ActorId::EXTERNAL { write!(f, "external") } else { write!(f, "{}#{}", self.kind().0, self.index()) }
    }
}

/// Maps actor ids to dense slot numbers, given the actor count of each kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KindTable {
    offsets: Vec<u32>,
    counts: Vec<u32>,
}

impl KindTable {
    pub(crate) fn new(counts: &[u32]) -> Self {
        assert!(
            counts.len() <= ACTOR_KINDS_MAX as usize,
            "at most {ACTOR_KINDS_MAX} actor kinds, got {}",
            counts.len()
        );
        let mut offsets = Vec::with_capacity(counts.len());
        let mut total: u32 = 0;
        for (kind, &count) in counts.iter().enumerate() {
            assert!(count <= ACTORS_PER_KIND_MAX, "kind {kind} has {count} actors, too many");
            offsets.push(total);
            total = total.checked_add(count).expect("more than 2^32 actors in one world");
        }
        KindTable { offsets, counts: counts.to_vec() }
    }

    /// Dense slot of `id`. Panics on an id the world did not declare.
    #[inline]
    pub(crate) fn slot(&self, id: ActorId) -> usize {
        self.try_slot(id).unwrap_or_else(|| panic!("message to undeclared actor {id}"))
    }

    /// Dense slot of `id`, or `None` for an id the world did not declare.
    #[inline]
    pub(crate) fn try_slot(&self, id: ActorId) -> Option<usize> {
        let kind = id.kind().0 as usize;
        let index = id.index();
        match (self.offsets.get(kind), self.counts.get(kind)) {
            (Some(&offset), Some(&count)) if index < count => Some((offset + index) as usize),
            _ => None,
        }
    }

    /// Every declared actor id in slot order.
    pub(crate) fn ids(&self) -> impl Iterator<Item = ActorId> + '_ {
        self.counts
            .iter()
            .enumerate()
            .flat_map(|(kind, &count)| (0..count).map(move |i| ActorId::new(ActorKind(kind as u8), i)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_pack_and_order_by_kind_then_index() {
        let a = ActorId::new(ActorKind(1), 5);
        let b = ActorId::new(ActorKind(2), 0);
        assert_eq!((a.kind(), a.index()), (ActorKind(1), 5));
        assert!(a < b && b < ActorId::EXTERNAL);
        let table = KindTable::new(&[3, 0, 2]);
        assert_eq!(table.slot(ActorId::new(ActorKind(2), 1)), 4);
        assert_eq!(table.ids().count(), 5);
    }

    #[test]
    #[should_panic(expected = "undeclared actor")]
    fn undeclared_actor_is_a_programmer_error() {
        KindTable::new(&[3]).slot(ActorId::new(ActorKind(0), 3));
    }
}
