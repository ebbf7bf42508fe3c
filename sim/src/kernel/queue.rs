//! The pending-event queue: a radix heap on the integer time, with the events
//! of one instant drained into a small binary heap ordered by
//! `(source, sequence)`.
//!
//! A radix heap (Ahuja, Mehlhorn, Orlin & Tarjan 1990) needs keys that never
//! go below the last key removed, which a discrete-event clock guarantees.
//! Bucket `b > 0` holds the events whose time differs from `last` first in
//! bit `b - 1` (counting from the least significant); bucket 0 holds the
//! events at exactly `last`. Removing the minimum empties the lowest occupied
//! bucket into lower ones, so an event moves at most 64 times and in practice
//! a handful: cheaper per event than a binary heap's `log2(n)` compares and
//! swaps through a 160,000-entry array that does not fit in cache.

use super::{ActorId, SimTime};
use std::cmp::Ordering;
use std::collections::BinaryHeap;

const BUCKET_COUNT: usize = 65;
/// An emptied bucket keeps its buffer only while that buffer holds at most
/// `1 / BUCKET_KEEP_FRACTION_OF_PENDING` of the pending events.
const BUCKET_KEEP_FRACTION_OF_PENDING: usize = 8;

/// A scheduled message: delivered to `target` at `time`.
#[derive(Clone, Debug, PartialEq)]
pub struct Event<M> {
    /// When the message is delivered.
    pub time: SimTime,
    /// The actor that sent it ([`ActorId::EXTERNAL`] for injected events).
    pub source: ActorId,
    /// How many messages `source` had sent before this one.
    pub sequence: u32,
    /// The actor that receives it.
    pub target: ActorId,
    /// The model's payload.
    pub message: M,
}

/// Orders events of one instant by `(source, sequence)`, smallest first in a
/// max-heap. The pair is unique, so the order is total.
#[derive(Clone)]
struct SameInstant<M>(Event<M>);

impl<M> SameInstant<M> {
    fn key(&self) -> (ActorId, u32) {
        (self.0.source, self.0.sequence)
    }
}

impl<M> PartialEq for SameInstant<M> {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl<M> Eq for SameInstant<M> {}
impl<M> PartialOrd for SameInstant<M> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<M> Ord for SameInstant<M> {
    fn cmp(&self, other: &Self) -> Ordering {
        other.key().cmp(&self.key())
    }
}

#[inline]
fn bucket_of(difference: u64) -> usize {
    (u64::BITS - difference.leading_zeros()) as usize
}

/// Pending events in `(time, source, sequence)` order.
#[derive(Clone)]
pub(crate) struct EventQueue<M> {
    /// Every pending time is `>= last`.
    last: u64,
    buckets: Vec<Vec<Event<M>>>,
    bucket_min: [u64; BUCKET_COUNT],
    /// Bit `b` set iff bucket `b` is non-empty.
    occupied: u128,
    /// Events at `instant_time` being handed out in `(source, sequence)` order.
    instant: BinaryHeap<SameInstant<M>>,
    instant_time: u64,
    len: usize,
}

impl<M> EventQueue<M> {
    /// An empty queue that accepts events at `floor` or later.
    pub(crate) fn with_floor(floor: SimTime) -> Self {
        EventQueue {
            last: floor.0,
            buckets: (0..BUCKET_COUNT).map(|_| Vec::new()).collect(),
            bucket_min: [u64::MAX; BUCKET_COUNT],
            occupied: 0,
            instant: BinaryHeap::new(),
            instant_time: 0,
            len: 0,
        }
    }

    /// The earliest time an event may still be pushed at.
    pub(crate) fn floor(&self) -> SimTime {
        SimTime(self.last)
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub(crate) fn push(&mut self, event: Event<M>) {
        let time = event.time.0;
        assert!(
            time >= self.last,
            "event for {} at {} is earlier than the queue's clock {}",
            event.target,
            event.time,
            SimTime(self.last)
        );
        self.len += 1;
        if time == self.instant_time && !self.instant.is_empty() {
            self.instant.push(SameInstant(event));
            return;
        }
        self.push_bucket(event);
    }

    #[inline]
    fn push_bucket(&mut self, event: Event<M>) {
        let time = event.time.0;
        let bucket = bucket_of(time ^ self.last);
        self.bucket_min[bucket] = self.bucket_min[bucket].min(time);
        self.occupied |= 1 << bucket;
        self.buckets[bucket].push(event);
    }

    /// The time of the earliest pending event.
    pub(crate) fn peek_time(&self) -> Option<SimTime> {
        if !self.instant.is_empty() {
            Some(SimTime(self.instant_time))
        } else if self.occupied == 0 {
            None
        } else {
            let bucket = self.occupied.trailing_zeros() as usize;
            Some(SimTime(if bucket == 0 { self.last } else { self.bucket_min[bucket] }))
        }
    }

    /// Removes and returns the earliest event if its time is before `until`.
    #[inline]
    pub(crate) fn pop_before(&mut self, until: SimTime) -> Option<Event<M>> {
        if !self.instant.is_empty() {
            if self.instant_time >= until.0 {
                return None;
            }
            self.len -= 1;
            return self.instant.pop().map(|e| e.0);
        }
        if self.occupied & 1 == 0 {
            if self.occupied == 0 {
                return None;
            }
            let bucket = self.occupied.trailing_zeros() as usize;
            let min = self.bucket_min[bucket];
            if min >= until.0 {
                return None;
            }
            self.redistribute(bucket, min);
        } else if self.last >= until.0 {
            return None;
        }
        // Bucket 0 now holds exactly the events at `last`.
        self.len -= 1;
        if self.buckets[0].len() == 1 {
            self.occupied &= !1;
            return self.buckets[0].pop();
        }
        self.instant_time = self.last;
        let (bucket0, instant) = (&mut self.buckets[0], &mut self.instant);
        instant.extend(bucket0.drain(..).map(SameInstant));
        self.occupied &= !1;
        self.instant.pop().map(|e| e.0)
    }

    /// Moves the events of `bucket` into lower buckets around the new `last`.
    fn redistribute(&mut self, bucket: usize, min: u64) {
        self.last = min;
        let mut events = std::mem::take(&mut self.buckets[bucket]);
        self.bucket_min[bucket] = u64::MAX;
        self.occupied &= !(1 << bucket);
        for event in events.drain(..) {
            self.push_bucket(event);
        }
        // Keep a small allocation for the next time this bucket fills; free a
        // large one, or every bucket would keep the largest size it ever had
        // (up to ~20 times the pending events in PHOLD's steady state).
        if events.capacity() <= self.len / BUCKET_KEEP_FRACTION_OF_PENDING {
            self.buckets[bucket] = events;
        }
    }

    /// Removes every pending event, in no particular order.
    pub(crate) fn drain_all(&mut self) -> Vec<Event<M>> {
        let mut all = Vec::with_capacity(self.len);
        all.extend(self.instant.drain().map(|e| e.0));
        for bucket in &mut self.buckets {
            all.append(bucket);
        }
        self.bucket_min = [u64::MAX; BUCKET_COUNT];
        self.occupied = 0;
        self.len = 0;
        all
    }

    /// Bytes held by the queue's buffers (capacity, not only length).
    pub(crate) fn allocated_bytes(&self) -> usize {
        let event = std::mem::size_of::<Event<M>>();
        self.buckets.iter().map(|b| b.capacity() * event).sum::<usize>()
            + self.instant.capacity() * std::mem::size_of::<SameInstant<M>>()
            + self.buckets.capacity() * std::mem::size_of::<Vec<Event<M>>>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::{ActorKind, ActorRng};

    fn event(time: u64, source: u32, sequence: u32) -> Event<()> {
        Event {
            time: SimTime(time),
            source: ActorId::new(ActorKind(0), source),
            sequence,
            target: ActorId::new(ActorKind(0), 0),
            message: (),
        }
    }

    #[test]
    fn pops_in_total_key_order_against_a_sorted_reference() {
        let mut rng = ActorRng::for_actor(3, 3);
        let mut queue = EventQueue::with_floor(SimTime::ZERO);
        let mut reference = Vec::new();
        let mut now = 0;
        let mut sequence = 0;
        for round in 0..2_000 {
            // Pushes at or after the clock, with many ties in time.
            for _ in 0..rng.below(4) {
                let time = now + rng.below(50) * (round % 3);
                let e = event(time, rng.below(5) as u32, sequence);
                sequence += 1;
                reference.push((e.time, e.source, e.sequence));
                queue.push(e);
            }
            if let Some(e) = queue.pop_before(SimTime(u64::MAX)) {
                reference.sort();
                let expected = reference.remove(0);
                assert_eq!((e.time, e.source, e.sequence), expected);
                now = e.time.0;
            }
            assert_eq!(queue.len(), reference.len());
        }
    }

    #[test]
    fn pop_before_respects_the_bound_and_peek() {
        let mut queue = EventQueue::with_floor(SimTime(10));
        queue.push(event(30, 0, 0));
        queue.push(event(20, 1, 0));
        queue.push(event(20, 0, 1));
        assert_eq!(queue.peek_time(), Some(SimTime(20)));
        assert!(queue.pop_before(SimTime(20)).is_none());
        assert_eq!(queue.pop_before(SimTime(21)).unwrap().source.index(), 0);
        // A zero-delay event at the same instant joins the ones still pending.
        queue.push(event(20, 0, 2));
        assert_eq!(queue.pop_before(SimTime(21)).unwrap().sequence, 2);
        assert_eq!(queue.pop_before(SimTime(21)).unwrap().source.index(), 1);
        assert!(queue.pop_before(SimTime(21)).is_none());
        assert_eq!(queue.drain_all().len(), 1);
        assert_eq!(queue.peek_time(), None);
    }

    #[test]
    #[should_panic(expected = "earlier than the queue's clock")]
    fn an_event_in_the_past_is_refused() {
        let mut queue = EventQueue::with_floor(SimTime(10));
        queue.push(event(9, 0, 0));
    }
}
