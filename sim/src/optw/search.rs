//! The iterated local search (Vansteenwegen et al. 2009) with the
//! tour-shortening and exchange moves checked in O(1) each (Vidal et al. 2013);
//! the shortening moves are tried only from visits near a change since they
//! were last tried (don't-look bits, Bentley 1992). The shake is either the
//! block removal of Vansteenwegen et al. or a forced insertion (an
//! unvisited customer put in and the visits around it taken out until the
//! tour is feasible, those kept out of the first repair, as in the
//! ejection moves of ruin-and-recreate searches). Where the tour leaves
//! most customers out (the pr instances), the gap a block removal leaves is
//! often rebuilt first by a beam search over paths of unvisited customers,
//! and halfway to each return to the best tour the search starts afresh
//! from a tour a beam search builds in visit order.

use super::tour::{Seg, Tour};
use super::{Instance, Solution};
use crate::kernel::ActorRng;

/// Shortening and exchange moves must create an edge to one of this many
/// nearest vertices (a granular neighbourhood).
const NEAR_NEIGHBOURS: usize = 10;
/// Insertion ratios during the search are scaled by a random factor in
/// `(1 - NOISE, 1]`.
const NOISE: f64 = 1.0;
/// Acceptance temperature, in mean customer scores: a tour worse by `t`
/// is accepted with probability `exp(-t / (TEMPERATURE * mean score))`.
const TEMPERATURE: f64 = 0.5;
/// Probability of a forced insertion instead of a block removal in a tour
/// that visits none of the candidates; scaled by the share of candidates
/// the tour leaves out (so rarely in tours that visit nearly all).
const FORCE: f64 = 0.6;
/// Iterations without a new best tour before forced insertions start.
const FORCE_AFTER: u64 = 50;
/// Iterations without a new best tour before the search returns to it.
const RESTART_AFTER: u64 = 200;
/// The beam searches ([`Search::rebuild`], [`Search::construct`]) are used
/// only where the tour leaves out at least this share of the candidates
/// (the pr instances, 0.8 and more; r2 and rc2 visit about half).
const SPARSE: f64 = 0.7;
/// Probability that the gap a block removal leaves is rebuilt by a beam
/// search ([`Search::rebuild`]) before the repair, scaled by the share of
/// candidates the tour leaves out.
const BEAM: f64 = 0.8;
/// Iterations without a new best tour before a fresh start from a
/// beam-built tour ([`Search::construct`]); not at the multiples of
/// [`RESTART_AFTER`], where the search returns to the best tour.
const FRESH_AFTER: u64 = 100;
/// The rate of a fresh start's beam search: this range times the greedy
/// tour's score per unit of time, drawn uniformly.
const FRESH_RATE: (f64, f64) = (0.6, 1.0);
/// Noise on the scores in [`Search::rebuild`]'s ranking.
const BEAM_NOISE: f64 = 0.3;
/// Beam width of [`Search::rebuild`].
const BEAM_WIDTH: usize = 16;
/// Most customers [`Search::rebuild`] considers for one gap (the best by
/// ratio among those that fit in it alone); at most 64 (a bit mask).
const BEAM_CUSTOMERS: usize = 48;

/// A tour-shortening move found by [`Search::shorten`].
#[derive(Clone, Copy, Debug)]
enum Move {
    /// Reverse positions `i..=j`.
    Reverse(usize, usize),
    /// Move the `len` visits at `i` to just after position `after`,
    /// reversed or not.
    Relocate { i: usize, len: usize, after: usize, reversed: bool },
    /// Exchange the visits at positions `i < j`.
    Swap(usize, usize),
}

struct Search<'a> {
    inst: &'a Instance,
    rng: ActorRng,
    prefix: Vec<Seg>,
    suffix: Vec<Seg>,
    /// Customers with a positive score that fit in a tour on their own:
    /// the only ones worth trying.
    candidates: Vec<usize>,
    /// Scratch: the customers that may still fit, during [`Search::fill`].
    open: Vec<usize>,
    /// `near[a * n + b]`: one of `a`, `b` is among the other's nearest
    /// vertices; shortening moves must create such an edge.
    near: Vec<bool>,
    /// `nearest[a * k..(a + 1) * k]`: the `k` nearest vertices of `a`.
    nearest: Vec<usize>,
    /// Don't-look bits: the customers whose shortening moves are worth
    /// trying again (near a change since they were last tried).
    active: Vec<bool>,
    /// `top[k]`: the highest insertion ratio customer `k` can have,
    /// `score^2 / (service - 2 step + 1)`: an insertion adds at least the
    /// service time less two truncation steps plus one unit (truncated
    /// distances break the triangle inequality by less than one step per
    /// edge).
    top: Vec<f64>,
    /// Customers the next fill must not insert.
    tabu: Vec<bool>,
}

impl<'a> Search<'a> {
    fn new(inst: &'a Instance, seed: u64) -> Self {
        // Customers with a score that a tour can visit on its own.
        let alone = |v: usize| {
            let arrive = inst.d(0, v);
            arrive <= inst.close[v] && arrive.max(inst.open[v]) + inst.service[v] + inst.d(v, 0) <= inst.tmax
        };
        let candidates = (1..inst.n).filter(|&v| inst.score[v] > 0.0 && alone(v)).collect();
        let n = inst.n;
        let k = NEAR_NEIGHBOURS.min(n - 1);
        let mut near = vec![false; n * n];
        let mut nearest = Vec::with_capacity(n * k);
        let mut order: Vec<usize> = Vec::with_capacity(n);
        for a in 0..n {
            order.clear();
            order.extend((0..n).filter(|&b| b != a));
            if k < order.len() {
                order.select_nth_unstable_by_key(k, |&b| (inst.d(a, b), b));
            }
            order[..k].sort_unstable_by_key(|&b| (inst.d(a, b), b));
            for &b in &order[..k] {
                near[a * n + b] = true;
                near[b * n + a] = true;
            }
            nearest.extend_from_slice(&order[..k]);
        }
        let step = inst.distance_step();
        let top =
            (0..n).map(|k| inst.score[k] * inst.score[k] / (inst.service[k] - 2 * step + 1).max(1) as f64).collect();
        Search {
            inst,
            rng: ActorRng::for_actor(seed, 0),
            prefix: Vec::new(),
            suffix: Vec::new(),
            candidates,
            open: Vec::new(),
            near,
            nearest,
            active: vec![true; n],
            top,
            tabu: vec![false; n],
        }
    }

    /// Marks `v` and its nearest vertices for [`Search::shorten`].
    fn touch(&mut self, v: usize) {
        self.active[v] = true;
        let k = self.nearest.len() / self.inst.n;
        for &b in &self.nearest[v * k..(v + 1) * k] {
            self.active[b] = true;
        }
    }

    /// Marks the visit at position `p` of `tour`, its near vertices and the
    /// next visit (whose incoming edge changed) for [`Search::shorten`].
    fn touch_at(&mut self, tour: &Tour, p: usize) {
        self.touch(tour.nodes[p]);
        if let Some(&next) = tour.nodes.get(p + 1) {
            self.active[next] = true;
        }
    }

    /// Greedy insertion: repeatedly inserts the customer with the best
    /// `score^2 / added time` at its cheapest position, each ratio scaled by
    /// a random factor in `(1 - noise, 1]`, until none fits. Customers are
    /// scanned by their highest possible ratio ([`Search::top`]) and the
    /// scan ends once no later one can beat the best found; a customer
    /// whose scaled bound cannot beat it is skipped without its insertion.
    fn fill(&mut self, tour: &mut Tour, noise: f64) {
        let inst = self.inst;
        // Insertions only take time away, so a customer that fits nowhere
        // now fits nowhere later in this fill either.
        self.open.clear();
        let tabu = &self.tabu;
        self.open.extend(self.candidates.iter().copied().filter(|&k| !tour.visited[k] && !tabu[k]));
        let top = &self.top;
        self.open.sort_unstable_by(|&a, &b| top[b].total_cmp(&top[a]).then(a.cmp(&b)));
        loop {
            let mut best: Option<(f64, usize, usize)> = None;
            let len = self.open.len();
            let (mut t, mut kept) = (0, 0);
            while t < len {
                let k = self.open[t];
                t += 1;
                // No ratio from here on can beat the best: keep the rest.
                if best.is_some_and(|(r, ..)| self.top[k] <= r) {
                    self.open.copy_within(t - 1..len, kept);
                    kept += len - (t - 1);
                    break;
                }
                let factor = if noise > 0.0 { 1.0 - noise * self.rng.uniform() } else { 1.0 };
                if best.is_some_and(|(r, ..)| self.top[k] * factor <= r) {
                    self.open[kept] = k;
                    kept += 1;
                    continue;
                }
                let Some((after, shift)) = tour.best_insertion(inst, k) else { continue };
                self.open[kept] = k;
                kept += 1;
                let s = inst.score[k];
                let ratio = s * s / shift.max(1) as f64 * factor;
                if best.is_none_or(|(r, _, _)| ratio > r) {
                    best = Some((ratio, k, after));
                }
            }
            self.open.truncate(kept);
            let Some((_, k, after)) = best else { break };
            tour.insert(inst, k, after);
            self.touch_at(tour, after);
            self.touch_at(tour, after + 1);
            let at = self.open.iter().position(|&v| v == k).expect("inserted customer was open");
            self.open.remove(at);
        }
    }

    fn segments(&mut self, tour: &Tour) {
        let inst = self.inst;
        let m = tour.nodes.len();
        let node_seg = |p: usize| {
            if p == 0 {
                Seg::depot_start()
            } else if p == m - 1 {
                Seg::depot_end(inst)
            } else {
                Seg::customer(inst, tour.nodes[p])
            }
        };
        self.prefix.clear();
        self.suffix.clear();
        self.prefix.push(node_seg(0));
        for p in 1..m {
            let s = self.prefix[p - 1].then(inst, node_seg(p));
            self.prefix.push(s);
        }
        self.suffix.resize(m, node_seg(m - 1));
        for p in (0..m - 1).rev() {
            self.suffix[p] = node_seg(p).then(inst, self.suffix[p + 1]);
        }
    }

    /// The first improving tour-shortening move anchored at position `i`
    /// (2-opt reversing `i..=j`, or-opt moving 1-3 visits starting at `i`,
    /// swap of `i` with a later visit) that creates an edge between near
    /// neighbours, or none. Needs [`Search::segments`] of `tour`.
    fn shortening_at(&self, tour: &Tour, i: usize) -> Option<Move> {
        let last = tour.nodes.len() - 1;
        let whole = self.prefix[last];
        let anchor = Anchor {
            inst: self.inst,
            prefix: &self.prefix,
            suffix: &self.suffix,
            near: &self.near,
            nodes: &tour.nodes,
            i,
            last,
            duration: whole.duration,
            travel: whole.travel,
        };
        anchor.reverse().or_else(|| anchor.relocate()).or_else(|| anchor.swap())
    }

    /// Applies shortening moves until none is left (the anchor goes round
    /// the tour and stops after a full round without a move); true when any
    /// was applied.
    fn shorten(&mut self, tour: &mut Tour) -> bool {
        let mut any = false;
        let len = tour.len();
        if len < 2 {
            return false;
        }
        self.segments(tour);
        let (mut i, mut idle) = (1, 0);
        while idle < len {
            let v = tour.nodes[i];
            let found = if self.active[v] { self.shortening_at(tour, i) } else { None };
            match found {
                Some(mv) => {
                    self.touch_move(tour, mv);
                    let nodes = &mut tour.nodes;
                    match mv {
                        Move::Reverse(i, j) => nodes[i..=j].reverse(),
                        Move::Relocate { i, len, after, reversed } => {
                            if after < i {
                                nodes[after + 1..i + len].rotate_right(len);
                                if reversed {
                                    nodes[after + 1..after + 1 + len].reverse();
                                }
                            } else {
                                nodes[i..=after].rotate_left(len);
                                if reversed {
                                    nodes[after + 1 - len..=after].reverse();
                                }
                            }
                        }
                        Move::Swap(i, j) => nodes.swap(i, j),
                    }
                    tour.update(self.inst);
                    self.segments(tour);
                    any = true;
                    idle = 0;
                }
                None => {
                    self.active[v] = false;
                    idle += 1;
                    i = if i == len { 1 } else { i + 1 };
                }
            }
        }
        any
    }

    /// Marks the visits at the ends of the edges `mv` changes.
    fn touch_move(&mut self, tour: &Tour, mv: Move) {
        let ends = match mv {
            Move::Reverse(i, j) => [i - 1, i, j, j, j, j],
            Move::Relocate { i, len, after, .. } => [i - 1, i, i + len - 1, i + len - 1, after, after + 1],
            Move::Swap(i, j) => [i - 1, i, i + 1, j - 1, j, j],
        };
        for p in ends {
            self.touch_at(tour, p);
        }
    }

    /// Exchange (Gunawan et al. 2017's replace, generalised): removes one
    /// visit anywhere and inserts an unvisited customer with a higher score
    /// anywhere next to a near neighbour; of the feasible pairs, the largest
    /// gain, then the shortest tour. Each pair is checked in O(1) with the
    /// segments, the removed visit scanned outward from the insertion
    /// point until time warp ends the scan; true when it applied one.
    fn exchange(&mut self, tour: &mut Tour) -> bool {
        let inst = self.inst;
        let n = inst.n;
        let len = tour.len();
        if len == 0 {
            return false;
        }
        self.segments(tour);
        let last = len + 1;
        let nodes = &tour.nodes;
        let lowest = nodes[1..last].iter().map(|&v| inst.score[v]).fold(f64::INFINITY, f64::min);
        // (gain, duration, k, insert after p, remove q)
        let mut found: Option<(f64, i64, usize, usize, usize)> = None;
        for &k in &self.candidates {
            if tour.visited[k] {
                continue;
            }
            let top = inst.score[k] - lowest;
            if top <= 0.0 || found.is_some_and(|(g, ..)| g > top) {
                continue;
            }
            let ck = Seg::customer(inst, k);
            for p in 0..last {
                if !self.near[nodes[p] * n + k] && !self.near[k * n + nodes[p + 1]] {
                    continue;
                }
                let gain_at = |q: usize| inst.score[k] - inst.score[nodes[q]];
                let worth = |q: usize, found: &Option<(f64, i64, usize, usize, usize)>| {
                    let gain = gain_at(q);
                    gain > 0.0 && found.is_none_or(|(g, ..)| gain >= g)
                };
                let better = |gain: f64, seg: Seg, found: &Option<(f64, i64, usize, usize, usize)>| {
                    seg.warp == 0 && found.is_none_or(|(g, d, ..)| gain > g || seg.duration < d)
                };
                // Remove a later visit q > p.
                let mut acc = self.prefix[p].then(inst, ck);
                if acc.warp == 0 {
                    for q in p + 1..last {
                        if q > p + 1 {
                            acc = acc.then(inst, Seg::customer(inst, nodes[q - 1]));
                            if acc.warp > 0 {
                                break;
                            }
                        }
                        if worth(q, &found) {
                            let seg = acc.then(inst, self.suffix[q + 1]);
                            if better(gain_at(q), seg, &found) {
                                found = Some((gain_at(q), seg.duration, k, p, q));
                            }
                        }
                    }
                }
                // Remove an earlier visit q <= p.
                let mut acc = ck.then(inst, self.suffix[p + 1]);
                if acc.warp == 0 {
                    for q in (1..=p).rev() {
                        if worth(q, &found) {
                            let seg = self.prefix[q - 1].then(inst, acc);
                            if better(gain_at(q), seg, &found) {
                                found = Some((gain_at(q), seg.duration, k, p, q));
                            }
                        }
                        acc = Seg::customer(inst, nodes[q]).then(inst, acc);
                        if acc.warp > 0 {
                            break;
                        }
                    }
                }
            }
        }
        let Some((_, _, k, p, q)) = found else { return false };
        let r = tour.nodes[q];
        tour.visited[r] = false;
        tour.visited[k] = true;
        tour.nodes.insert(p + 1, k);
        let at = if q > p { q + 1 } else { q };
        tour.nodes.remove(at);
        tour.update(inst);
        let pk = tour.nodes.iter().position(|&v| v == k).expect("inserted");
        self.touch_at(tour, pk - 1);
        self.touch_at(tour, pk);
        let pr = if q > p { q } else { q - 1 };
        let pr = pr.min(tour.nodes.len() - 2);
        self.touch_at(tour, pr.max(1) - 1);
        self.touch_at(tour, pr.max(1));
        true
    }

    /// Local search: fill, then shorten and fill again while that helps.
    fn improve(&mut self, tour: &mut Tour, noise: f64) {
        self.fill(tour, noise);
        self.tabu.fill(false);
        loop {
            while self.shorten(tour) {
                let before = tour.len();
                self.fill(tour, noise);
                if tour.len() == before {
                    break;
                }
            }
            if !self.exchange(tour) {
                break;
            }
            self.fill(tour, noise);
        }
    }
}

/// A partial path of [`Search::rebuild`]: the visits from the depot to its
/// last customer, their score, the customers it holds (bits of the gap's
/// customer list), its place in the arena of visits, and the sum of its
/// customers' noisy scores (for the ranking).
#[derive(Clone, Copy)]
struct Partial {
    seg: Seg,
    score: f64,
    mask: u64,
    node: u32,
    value: f64,
}

/// The path of the beam searches' arena (entries of (item, parent index or
/// `u32::MAX`)) that ends at `node`, first item first.
fn unwind(arena: &[(u32, u32)], mut node: u32) -> impl Iterator<Item = u32> {
    let mut items = Vec::new();
    while node != u32::MAX {
        let (item, parent) = arena[node as usize];
        items.push(item);
        node = parent;
    }
    items.into_iter().rev()
}

impl Search<'_> {
    /// Beam rebuild of the gap between positions `p` and `p + 1`: paths of
    /// unvisited customers (not tabu) from the visit at `p`, each feasible
    /// with the rest of the tour, grown one customer at a time, the
    /// `BEAM_WIDTH` best kept at each length by score less `rate` times the
    /// time they end at (each customer's score scaled by a random factor in
    /// `(1 - noise, 1]` for the ranking); the path with the highest score
    /// (then the shortest tour) of all lengths goes in.
    fn rebuild(&mut self, tour: &mut Tour, p: usize, rate: f64, noise: f64) {
        let inst = self.inst;
        self.segments(tour);
        let head = self.prefix[p];
        let tail = self.suffix[p + 1];
        let base = head.then(inst, tail);
        if base.warp > 0 {
            return;
        }
        let mut cands: Vec<(f64, usize)> = Vec::new();
        for &k in &self.candidates {
            if tour.visited[k] || self.tabu[k] {
                continue;
            }
            let seg = head.then(inst, Seg::customer(inst, k)).then(inst, tail);
            if seg.warp == 0 {
                let add = (seg.duration - base.duration).max(1) as f64;
                cands.push((inst.score[k] * inst.score[k] / add, k));
            }
        }
        if cands.is_empty() {
            return;
        }
        if cands.len() > BEAM_CUSTOMERS {
            cands.select_nth_unstable_by(BEAM_CUSTOMERS, |a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            cands.truncate(BEAM_CUSTOMERS);
        }
        let weight: Vec<f64> = cands
            .iter()
            .map(|&(_, k)| inst.score[k] * if noise > 0.0 { 1.0 - noise * self.rng.uniform() } else { 1.0 })
            .collect();
        // arena of (customer index in cands, parent arena index or u32::MAX)
        let mut arena: Vec<(u32, u32)> = Vec::new();
        let mut beam = vec![Partial { seg: head, score: 0.0, mask: 0, node: u32::MAX, value: 0.0 }];
        let mut children: Vec<Partial> = Vec::new();
        // (score, duration, arena node)
        let mut best = (0.0f64, base.duration, u32::MAX);
        while !beam.is_empty() {
            children.clear();
            for st in &beam {
                for (c, &(_, k)) in cands.iter().enumerate() {
                    if st.mask >> c & 1 == 1 {
                        continue;
                    }
                    let seg = st.seg.then(inst, Seg::customer(inst, k));
                    if seg.warp > 0 {
                        continue;
                    }
                    let whole = seg.then(inst, tail);
                    if whole.warp > 0 {
                        continue;
                    }
                    let score = st.score + inst.score[k];
                    arena.push((c as u32, st.node));
                    let node = (arena.len() - 1) as u32;
                    if score > best.0 || (score == best.0 && whole.duration < best.1) {
                        best = (score, whole.duration, node);
                    }
                    let value = st.value + weight[c];
                    children.push(Partial { seg, score, mask: st.mask | 1 << c, node, value });
                }
            }
            let rank = |q: &Partial| q.value - rate * (q.seg.early + q.seg.duration) as f64;
            children.sort_unstable_by(|a, b| rank(b).total_cmp(&rank(a)));
            beam.clear();
            for q in &children {
                if beam.len() == BEAM_WIDTH {
                    break;
                }
                let last = arena[q.node as usize].0;
                if beam.iter().any(|b| b.mask == q.mask && arena[b.node as usize].0 == last) {
                    continue;
                }
                beam.push(*q);
            }
        }
        let path: Vec<usize> = unwind(&arena, best.2).map(|c| cands[c as usize].1).collect();
        if path.is_empty() {
            return;
        }
        for &k in &path {
            tour.visited[k] = true;
            self.touch(k);
        }
        self.touch(tour.nodes[p]);
        self.touch(tour.nodes[p + 1]);
        tour.nodes.splice(p + 1..p + 1, path);
        tour.update(inst);
    }

    /// A tour built in visit order by a beam search from the depot: at
    /// each length the `width` best partial tours by score less `rate`
    /// times the time they end at (feasible ones with the way back), each
    /// grown by every candidate that keeps it feasible; the best complete
    /// tour of any length (score, then shortest).
    fn construct(&self, rate: f64, width: usize) -> Tour {
        let inst = self.inst;
        let n = inst.n;
        let words = n.div_ceil(64);
        let end = Seg::depot_end(inst);
        // arena of (customer, parent arena index or u32::MAX)
        let mut arena: Vec<(u32, u32)> = Vec::new();
        // (seg, score, arena node)
        let mut beam: Vec<(Seg, f64, u32)> = vec![(Seg::depot_start(), 0.0, u32::MAX)];
        let mut masks: Vec<u64> = vec![0; words];
        // (rank, seg, score, parent state, customer)
        let mut children: Vec<(f64, Seg, f64, u32, u32)> = Vec::new();
        let mut best = (0.0f64, 0i64, u32::MAX);
        let mut next_masks: Vec<u64> = Vec::new();
        let mut next_beam: Vec<(Seg, f64, u32)> = Vec::new();
        while !beam.is_empty() {
            children.clear();
            for (b, &(seg0, score0, _)) in beam.iter().enumerate() {
                let mask = &masks[b * words..(b + 1) * words];
                for &k in &self.candidates {
                    if mask[k / 64] >> (k % 64) & 1 == 1 {
                        continue;
                    }
                    let seg = seg0.then(inst, Seg::customer(inst, k));
                    if seg.warp > 0 || seg.then(inst, end).warp > 0 {
                        continue;
                    }
                    let score = score0 + inst.score[k];
                    let rank = score - rate * (seg.early + seg.duration) as f64;
                    children.push((rank, seg, score, b as u32, k as u32));
                }
            }
            children.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.4.cmp(&b.4)));
            next_beam.clear();
            next_masks.clear();
            for &(_, seg, score, parent, k) in &children {
                if next_beam.len() == width {
                    break;
                }
                // The same visits in another order: keep the first.
                let dup = next_beam.iter().any(|&(s2, sc2, node2): &(Seg, f64, u32)| {
                    sc2 == score && s2.duration == seg.duration && arena[node2 as usize].0 == k
                });
                if dup {
                    continue;
                }
                arena.push((k, beam[parent as usize].2));
                let node = (arena.len() - 1) as u32;
                let whole = seg.then(inst, end);
                if score > best.0 || (score == best.0 && whole.duration < best.1) {
                    best = (score, whole.duration, node);
                }
                next_masks.extend_from_slice(&masks[parent as usize * words..(parent as usize + 1) * words]);
                let at = next_masks.len() - words + k as usize / 64;
                next_masks[at] |= 1 << (k % 64);
                next_beam.push((seg, score, node));
            }
            std::mem::swap(&mut beam, &mut next_beam);
            std::mem::swap(&mut masks, &mut next_masks);
        }
        let mut tour = Tour::empty(inst);
        let path: Vec<usize> = unwind(&arena, best.2).map(|k| k as usize).collect();
        for &k in &path {
            tour.visited[k] = true;
        }
        tour.nodes.splice(1..1, path);
        tour.update(inst);
        tour
    }

    /// Forced insertion: puts the unvisited customer `k` where it adds the
    /// least travel (among the places its window can still be met from)
    /// and removes the visits around it, alternately before and after,
    /// until the tour is feasible again; the removed visits are kept out of
    /// the next fill ([`Search::tabu`]). False (tour unchanged) when no
    /// removal makes room.
    fn force(&mut self, tour: &mut Tour, k: usize) -> bool {
        let inst = self.inst;
        self.segments(tour);
        let m = tour.nodes.len();
        let nodes = &tour.nodes;
        let mut best: Option<(i64, usize)> = None;
        for p in 0..m - 1 {
            let (i, j) = (nodes[p], nodes[p + 1]);
            // Only where k's window can be met after the visits before.
            if self.prefix[p].early + self.prefix[p].duration + inst.d(i, k) > inst.close[k] {
                break;
            }
            let add = inst.d(i, k) + inst.d(k, j) - inst.d(i, j);
            if best.is_none_or(|(a, _)| add < a) {
                best = Some((add, p));
            }
        }
        let Some((_, p)) = best else { return false };
        let ck = Seg::customer(inst, k);
        // Take out the visits strictly between a and b, one more on
        // alternate sides, until the tour with k is feasible.
        let (mut a, mut b) = (p, p + 1);
        let mut left = true;
        loop {
            let seg = self.prefix[a].then(inst, ck).then(inst, self.suffix[b]);
            if seg.warp == 0 {
                break;
            }
            let can_left = a > 0;
            let can_right = b < m - 1;
            if !can_left && !can_right {
                return false;
            }
            if (left && can_left) || !can_right {
                a -= 1;
            } else {
                b += 1;
            }
            left = !left;
        }
        for q in a + 1..b {
            let v = tour.nodes[q];
            tour.visited[v] = false;
            self.tabu[v] = true;
        }
        for q in a..=b.min(m - 1) {
            self.touch(tour.nodes[q]);
        }
        self.touch(k);
        tour.nodes.splice(a + 1..b, [k]);
        tour.visited[k] = true;
        tour.update(inst);
        true
    }

    /// Marks the visits around the block [`Tour::remove_block`] removes, and
    /// their near vertices, for [`Search::shorten`].
    fn touch_block(&mut self, tour: &Tour, first: usize, count: usize) {
        let len = tour.len();
        if len == 0 {
            return;
        }
        let count = count.min(len);
        for t in len - 1..=count + len {
            let p = 1 + (first + t) % len;
            self.touch(tour.nodes[p]);
        }
        // The depot's neighbours too, when the block wraps round.
        self.touch(0);
    }
}

/// The tour-shortening moves anchored at position `i` of a tour, checked
/// against its prefix and suffix segments; each is an improvement when the
/// new tour is feasible and shorter (then: less travel) than the whole
/// tour's `duration` and `travel`.
struct Anchor<'s> {
    inst: &'s Instance,
    prefix: &'s [Seg],
    suffix: &'s [Seg],
    /// See [`Search::near`].
    near: &'s [bool],
    nodes: &'s [usize],
    i: usize,
    /// Position of the closing depot.
    last: usize,
    duration: i64,
    travel: i64,
}

impl Anchor<'_> {
    /// Whether the edge `a`-`b` joins near neighbours.
    #[inline]
    fn close(&self, a: usize, b: usize) -> bool {
        self.near[a * self.inst.n + b]
    }

    /// The visit at position `p` on its own.
    #[inline]
    fn customer(&self, p: usize) -> Seg {
        Seg::customer(self.inst, self.nodes[p])
    }

    #[inline]
    fn beats(&self, tour: Seg) -> bool {
        tour.beats(self.duration, self.travel)
    }

    /// 2-opt: reverse i..=j; new edges (i-1, j) and (i, j+1).
    fn reverse(&self) -> Option<Move> {
        let (inst, nodes, i) = (self.inst, self.nodes, self.i);
        let mut rev = self.customer(i);
        for j in i + 1..self.last {
            rev = self.customer(j).then(inst, rev);
            // Time warp only grows as the reversed block does.
            if rev.warp > 0 {
                return None;
            }
            if !self.close(nodes[i - 1], nodes[j]) && !self.close(nodes[i], nodes[j + 1]) {
                continue;
            }
            let head = self.prefix[i - 1].then(inst, rev);
            if self.beats(head.then(inst, self.suffix[j + 1])) {
                return Some(Move::Reverse(i, j));
            }
        }
        None
    }

    /// Or-opt: move i..i+len (1 to 3 visits) to between p and p+1, maybe
    /// reversed; earlier places first.
    fn relocate(&self) -> Option<Move> {
        let (inst, i) = (self.inst, self.i);
        for len in 1..=3usize {
            if i + len > self.last {
                break;
            }
            let mut forward = self.customer(i);
            let mut backward = forward;
            for t in 1..len {
                forward = forward.then(inst, self.customer(i + t));
                backward = self.customer(i + t).then(inst, backward);
            }
            let found =
                self.relocate_earlier(len, forward, backward).or_else(|| self.relocate_later(len, forward, backward));
            if found.is_some() {
                return found;
            }
        }
        None
    }

    /// The block `i..i+len` as `forward` (and, for 2 or more visits,
    /// `backward`), each with the block's first and last visit.
    fn orientations(&self, len: usize, forward: Seg, backward: Seg) -> impl Iterator<Item = (Seg, bool, usize, usize)> {
        let (a, b) = (self.nodes[self.i], self.nodes[self.i + len - 1]);
        let count = if len == 1 { 1 } else { 2 };
        [(forward, false, a, b), (backward, true, b, a)].into_iter().take(count)
    }

    /// Or-opt to an earlier place: p < i - 1; the block goes before
    /// p+1..i-1 and the rest of the tour (`tail`).
    fn relocate_earlier(&self, len: usize, forward: Seg, backward: Seg) -> Option<Move> {
        let (inst, nodes, i) = (self.inst, self.nodes, self.i);
        // The earliest the block can end, in either orientation.
        let end = |s: Seg| if s.warp == 0 { s.early + s.duration } else { i64::MAX };
        let earliest = end(forward).min(end(backward));
        let mut tail = self.suffix[i + len];
        for p in (0..i.saturating_sub(1)).rev() {
            tail = self.customer(p + 1).then(inst, tail);
            // The visits after the block only grow: once they must start
            // before it can end, every earlier place fails as well.
            if earliest > tail.late {
                return None;
            }
            let (x, y) = (nodes[p], nodes[p + 1]);
            for (seg, reversed, u, v) in self.orientations(len, forward, backward) {
                if !self.close(x, u) && !self.close(v, y) {
                    continue;
                }
                if self.beats(self.prefix[p].then(inst, seg).then(inst, tail)) {
                    return Some(Move::Relocate { i, len, after: p, reversed });
                }
            }
        }
        None
    }

    /// Or-opt to a later place: p >= i + len; mid = i+len..=p.
    fn relocate_later(&self, len: usize, forward: Seg, backward: Seg) -> Option<Move> {
        let (inst, nodes, i) = (self.inst, self.nodes, self.i);
        // The block cannot start after this, in either orientation.
        let latest = forward.late.max(backward.late);
        let mut mid: Option<Seg> = None;
        for p in i + len..self.last {
            let seg_mid = match mid {
                None => self.customer(p),
                Some(s) => s.then(inst, self.customer(p)),
            };
            mid = Some(seg_mid);
            let head = self.prefix[i - 1].then(inst, seg_mid);
            // The visits before the block only grow: once they end too
            // late for it, every later place is too late as well.
            if head.early + head.duration - head.warp > latest {
                return None;
            }
            let (x, y) = (nodes[p], nodes[p + 1]);
            for (seg, reversed, u, v) in self.orientations(len, forward, backward) {
                if !self.close(x, u) && !self.close(v, y) {
                    continue;
                }
                if self.beats(head.then(inst, seg).then(inst, self.suffix[p + 1])) {
                    return Some(Move::Relocate { i, len, after: p, reversed });
                }
            }
        }
        None
    }

    /// Swap i < j (adjacent swaps are or-opt moves).
    fn swap(&self) -> Option<Move> {
        let (inst, nodes, i) = (self.inst, self.nodes, self.i);
        if i + 1 >= self.last {
            return None;
        }
        let (a, mut mid) = (self.customer(i), self.customer(i + 1));
        for j in i + 2..self.last {
            if self.close(nodes[i - 1], nodes[j]) || self.close(nodes[j - 1], nodes[i]) {
                let head = self.prefix[i - 1].then(inst, self.customer(j));
                if self.beats(head.then(inst, mid).then(inst, a).then(inst, self.suffix[j + 1])) {
                    return Some(Move::Swap(i, j));
                }
            }
            mid = mid.then(inst, self.customer(j));
        }
        None
    }
}

/// The iterated local search. Each iteration shakes a copy of the current
/// tour (with probability [`FORCE`] times the share of candidates left out,
/// a forced insertion of a random unvisited customer, [`Search::force`];
/// otherwise, or when that finds no room, removes a block of consecutive
/// visits: Vansteenwegen et al.'s cycling start and growing length),
/// repairs and improves it
/// ([`Search::improve`] with noisy ratios) and accepts it like simulated
/// annealing at a fixed temperature; after [`RESTART_AFTER`] iterations
/// without a better tour it goes back to the best one.
pub(super) fn search(inst: &Instance, seed: u64, mut stop: impl FnMut(u64) -> bool) -> Solution {
    let mut s = Search::new(inst, seed);
    let mean_score = if s.candidates.is_empty() {
        1.0
    } else {
        s.candidates.iter().map(|&v| inst.score[v]).sum::<f64>() / s.candidates.len() as f64
    };
    let temperature = TEMPERATURE * mean_score;
    let mut current = Tour::empty(inst);
    s.improve(&mut current, 0.0);
    // The profit rate of the greedy tour: the scale of the fresh starts' rates.
    let greedy_rate = current.profit_rate();
    let mut best = current.clone();
    let (mut block, mut first) = (1usize, 0usize);
    let mut iterations = 0u64;
    let mut since_best = 0u64;
    // Every customer worth visiting is in the tour: nothing to search for.
    let all: f64 = s.candidates.iter().map(|&v| inst.score[v]).sum();
    while best.score < all && !stop(iterations) {
        iterations += 1;
        let mut candidate = current.clone();
        // Shake: a forced insertion, more often the fewer of the customers
        // the tour visits; a block removal otherwise (or when the forced
        // customer cannot be made room for).
        let unvisited = s.candidates.len().saturating_sub(candidate.len());
        let force = FORCE * unvisited as f64 / s.candidates.len().max(1) as f64;
        let forced = since_best >= FORCE_AFTER && unvisited > 0 && s.rng.uniform() < force && {
            let pick = s.rng.below(unvisited as u64) as usize;
            let k = s.candidates.iter().copied().filter(|&v| !candidate.visited[v]).nth(pick).expect("unvisited");
            s.force(&mut candidate, k)
        };
        if !forced {
            s.touch_block(&candidate, first, block);
            let len = candidate.len();
            let rate = current.profit_rate();
            candidate.remove_block(inst, first, block);
            // The beam rebuild, where the tour leaves most candidates out.
            let share = unvisited as f64 / s.candidates.len().max(1) as f64;
            if len > 0 && share >= SPARSE && s.rng.uniform() < BEAM * share {
                // The gap after the visits before the block (the end of
                // the tour when the block wraps round).
                let p = if first % len + block.min(len) > len { candidate.len() } else { first % len };
                let rate = rate * (0.5 + s.rng.uniform());
                s.rebuild(&mut candidate, p, rate, BEAM_NOISE);
            }
        }
        s.improve(&mut candidate, NOISE);
        if candidate.score >= current.score || s.rng.uniform() < ((candidate.score - current.score) / temperature).exp()
        {
            current = candidate;
        }
        if current.score > best.score || (current.score == best.score && current.end() < best.end()) {
            best = current.clone();
            block = 1;
            since_best = 0;
        } else {
            since_best += 1;
        }
        // Next block: start further on, one visit longer, up to half the
        // tour (all of a tour of up to 4 visits).
        let len = current.len().max(1);
        first += block;
        block += 1;
        if first >= len {
            first %= len;
        }
        if block > (len / 2).max(len.min(4)) {
            block = 1;
        }
        // Halfway to the return to the best tour, a fresh start from a
        // beam-built tour, where the best tour leaves most candidates out.
        let sparse = s.candidates.len().saturating_sub(best.len()) as f64 >= SPARSE * s.candidates.len() as f64;
        if sparse
            && since_best > 0
            && since_best.is_multiple_of(FRESH_AFTER)
            && !since_best.is_multiple_of(RESTART_AFTER)
        {
            let rate = greedy_rate * (FRESH_RATE.0 + (FRESH_RATE.1 - FRESH_RATE.0) * s.rng.uniform());
            current = s.construct(rate, BEAM_WIDTH);
            s.active.fill(true);
            s.improve(&mut current, 0.0);
            if current.score > best.score || (current.score == best.score && current.end() < best.end()) {
                best = current.clone();
                block = 1;
                since_best = 0;
            }
        }
        if since_best > 0 && since_best.is_multiple_of(RESTART_AFTER) {
            current = best.clone();
        }
    }
    Solution { route: best.nodes[1..best.nodes.len() - 1].to_vec(), score: best.score, iterations }
}
