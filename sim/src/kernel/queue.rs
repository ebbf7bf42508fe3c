//! The pending-event queue: a radix heap on the integer time with 8-bit
//! digits, and a small binary heap ordering the events of one instant by
//! `(source, sequence)`.
//!
//! A radix heap (Ahuja, Mehlhorn, Orlin & Tarjan 1990) needs keys that never
//! go below the last key removed (`last`), which a discrete-event clock
//! guarantees. Here a key lives at the level of the highest 8-bit digit in
//! which it differs from `last`, in the bucket of its own digit there; level
//! 0 buckets therefore each hold one exact time. Removing the minimum takes
//! the lowest occupied level-0 bucket, or else empties the first bucket of
//! the lowest occupied level into lower levels around its minimum. An event
//! moves at most 7 times, and with delays of seconds in microseconds about
//! twice: cheaper per event than a binary heap's `log2(n)` compares through
//! an array that does not fit in cache, and than a binary radix heap's ~17
//! moves per event at PHOLD's density.

use super::{ActorId, SimTime};
use std::cmp::Ordering;
use std::collections::BinaryHeap;

const DIGIT_BITS: u32 = 8;
const DIGITS: usize = 1 << DIGIT_BITS;
const LEVELS: usize = (u64::BITS / DIGIT_BITS) as usize;
const BITMAP_WORDS: usize = DIGITS / 64;
/// An emptied bucket keeps its buffer for reuse only up to this many events;
/// a larger one is freed, or each of the 2,048 buckets would keep the largest
/// size it ever had (in PHOLD, 20 times the pending events in all).
const BUCKET_KEPT_CAPACITY_EVENTS_MAX: usize = 128;

/// A scheduled message: delivered to `target` at `time`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
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

/// Which buckets of one level hold events.
#[derive(Clone, Copy, Default)]
struct Bitmap([u64; BITMAP_WORDS]);

impl Bitmap {
    #[inline]
    fn set(&mut self, digit: usize) {
        self.0[digit / 64] |= 1 << (digit % 64);
    }
    #[inline]
    fn clear(&mut self, digit: usize) {
        self.0[digit / 64] &= !(1 << (digit % 64));
    }
    #[inline]
    fn first(&self) -> Option<usize> {
        self.0.iter().enumerate().find(|(_, w)| **w != 0).map(|(i, w)| i * 64 + w.trailing_zeros() as usize)
    }
}

/// Pending events in `(time, source, sequence)` order.
#[derive(Clone)]
pub(crate) struct EventQueue<M> {
    /// Every pending time is `>= last`.
    last: u64,
    /// `LEVELS * DIGITS` buckets, level-major.
    buckets: Vec<Vec<Event<M>>>,
    /// Smallest time in each bucket of levels 1 and up (level 0 buckets hold one time).
    bucket_min: Vec<u64>,
    occupied: [Bitmap; LEVELS],
    /// Bit `l` set iff level `l` has an occupied bucket.
    levels_occupied: u32,
    /// Events at `instant_time` being handed out in `(source, sequence)` order.
    instant: BinaryHeap<SameInstant<M>>,
    instant_time: u64,
    len: usize,
}

#[inline]
fn level_of(difference: u64) -> usize {
    if difference == 0 { 0 } else { ((u64::BITS - 1 - difference.leading_zeros()) / DIGIT_BITS) as usize }
}

#[inline]
fn digit_of(time: u64, level: usize) -> usize {
    ((time >> (level as u32 * DIGIT_BITS)) as usize) & (DIGITS - 1)
}

impl<M> EventQueue<M> {
    /// An empty queue that accepts events at `floor` or later.
    pub(crate) fn with_floor(floor: SimTime) -> Self {
        EventQueue {
            last: floor.0,
            buckets: (0..LEVELS * DIGITS).map(|_| Vec::new()).collect(),
            bucket_min: vec![u64::MAX; LEVELS * DIGITS],
            occupied: [Bitmap::default(); LEVELS],
            levels_occupied: 0,
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
        let level = level_of(time ^ self.last);
        let digit = digit_of(time, level);
        let bucket = level * DIGITS + digit;
        if level > 0 {
            self.bucket_min[bucket] = self.bucket_min[bucket].min(time);
        }
        self.occupied[level].set(digit);
        self.levels_occupied |= 1 << level;
        self.buckets[bucket].push(event);
    }

    /// The time of the earliest pending event.
    pub(crate) fn peek_time(&self) -> Option<SimTime> {
        if !self.instant.is_empty() {
            return Some(SimTime(self.instant_time));
        }
        if self.levels_occupied == 0 {
            return None;
        }
        let level = self.levels_occupied.trailing_zeros() as usize;
        let digit = self.occupied[level].first().expect("an occupied level has an occupied bucket");
        Some(SimTime(if level == 0 { self.level0_time(digit) } else { self.bucket_min[level * DIGITS + digit] }))
    }

    #[inline]
    fn level0_time(&self, digit: usize) -> u64 {
        (self.last & !(DIGITS as u64 - 1)) | digit as u64
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
        loop {
            if self.levels_occupied == 0 {
                return None;
            }
            let level = self.levels_occupied.trailing_zeros() as usize;
            let digit = self.occupied[level].first().expect("an occupied level has an occupied bucket");
            if level == 0 {
                let time = self.level0_time(digit);
                if time >= until.0 {
                    return None;
                }
                self.last = time;
                return Some(self.take_instant(digit));
            }
            let bucket = level * DIGITS + digit;
            let min = self.bucket_min[bucket];
            if min >= until.0 {
                return None;
            }
            self.redistribute(level, digit, min);
        }
    }

    /// Hands out the first event of level-0 bucket `digit`, whose events are
    /// all at `last`; several go through the same-instant heap.
    #[inline]
    fn take_instant(&mut self, digit: usize) -> Event<M> {
        self.len -= 1;
        let bucket = &mut self.buckets[digit];
        if bucket.len() == 1 {
            self.occupied[0].clear(digit);
            if self.occupied[0].first().is_none() {
                self.levels_occupied &= !1;
            }
            return bucket.pop().expect("bucket has one event");
        }
        self.instant_time = self.last;
        self.instant.extend(bucket.drain(..).map(SameInstant));
        self.occupied[0].clear(digit);
        if self.occupied[0].first().is_none() {
            self.levels_occupied &= !1;
        }
        self.instant.pop().expect("instant has events").0
    }

    /// Moves the events of bucket (`level`, `digit`) into lower levels
    /// around the new `last = min`.
    fn redistribute(&mut self, level: usize, digit: usize, min: u64) {
        self.last = min;
        let bucket = level * DIGITS + digit;
        let mut events = std::mem::take(&mut self.buckets[bucket]);
        self.bucket_min[bucket] = u64::MAX;
        self.occupied[level].clear(digit);
        if self.occupied[level].first().is_none() {
            self.levels_occupied &= !(1 << level);
        }
        for event in events.drain(..) {
            self.push_bucket(event);
        }
        if events.capacity() <= BUCKET_KEPT_CAPACITY_EVENTS_MAX {
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
        self.bucket_min.fill(u64::MAX);
        self.occupied = [Bitmap::default(); LEVELS];
        self.levels_occupied = 0;
        self.len = 0;
        all
    }

    /// Bytes held by the queue's buffers (capacity, not only length).
    pub(crate) fn allocated_bytes(&self) -> usize {
        let event = std::mem::size_of::<Event<M>>();
        self.buckets.iter().map(|b| b.capacity() * event).sum::<usize>()
            + self.instant.capacity() * std::mem::size_of::<SameInstant<M>>()
            + self.buckets.capacity() * std::mem::size_of::<Vec<Event<M>>>()
            + self.bucket_min.capacity() * std::mem::size_of::<u64>()
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
