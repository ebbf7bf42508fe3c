//! A tour under construction and the time-window algebra the search checks
//! its moves with.

use super::Instance;

/// A tour with the bookkeeping of Vansteenwegen et al.: per position the
/// start of service, the waiting before it, and `max_shift`, how much the
/// start there may be delayed without breaking any later window or the
/// budget.
#[derive(Clone, Debug)]
pub(super) struct Tour {
    /// Depot, customers, depot.
    pub(super) nodes: Vec<usize>,
    pub(super) start: Vec<i64>,
    pub(super) wait: Vec<i64>,
    pub(super) max_shift: Vec<i64>,
    pub(super) score: f64,
    pub(super) visited: Vec<bool>,
}

impl Tour {
    pub(super) fn empty(inst: &Instance) -> Tour {
        let mut tour = Tour {
            nodes: vec![0, 0],
            start: Vec::new(),
            wait: Vec::new(),
            max_shift: Vec::new(),
            score: 0.0,
            visited: vec![false; inst.n],
        };
        tour.update(inst);
        tour
    }

    pub(super) fn len(&self) -> usize {
        self.nodes.len() - 2
    }

    pub(super) fn end(&self) -> i64 {
        self.start[self.nodes.len() - 1]
    }

    /// Score per unit of time the tour takes (the scale of the rates that
    /// rank partial tours in the beam searches).
    pub(super) fn profit_rate(&self) -> f64 {
        self.score / self.end().max(1) as f64
    }

    pub(super) fn update(&mut self, inst: &Instance) {
        let m = self.nodes.len();
        self.start.resize(m, 0);
        self.wait.resize(m, 0);
        self.max_shift.resize(m, 0);
        self.start[0] = 0;
        self.wait[0] = 0;
        for p in 1..m {
            let (a, b) = (self.nodes[p - 1], self.nodes[p]);
            let arrive = self.start[p - 1] + inst.service[a] + inst.d(a, b);
            let open = if p == m - 1 { 0 } else { inst.open[b] };
            self.wait[p] = (open - arrive).max(0);
            self.start[p] = arrive + self.wait[p];
        }
        self.max_shift[m - 1] = inst.tmax - self.start[m - 1];
        for p in (0..m - 1).rev() {
            let close = if p == 0 { 0 } else { inst.close[self.nodes[p]] };
            self.max_shift[p] = (close - self.start[p]).min(self.wait[p + 1] + self.max_shift[p + 1]);
        }
        self.score = self.nodes.iter().map(|&v| inst.score[v]).sum();
    }

    /// The cheapest feasible insertion of customer `k`: the position to
    /// insert after, and the added time.
    #[inline]
    pub(super) fn best_insertion(&self, inst: &Instance, k: usize) -> Option<(usize, i64)> {
        let (open, close, service) = (inst.open[k], inst.close[k], inst.service[k]);
        let row = &inst.dist[k * inst.n..(k + 1) * inst.n];
        let mut best: Option<(usize, i64)> = None;
        for p in 0..self.nodes.len() - 1 {
            let i = self.nodes[p];
            let depart = self.start[p] + inst.service[i];
            if depart > close {
                break;
            }
            let dik = row[i];
            let arrive = depart + dik;
            if arrive > close {
                continue;
            }
            let j = self.nodes[p + 1];
            let shift = dik + (open - arrive).max(0) + service + row[j] - inst.d(i, j);
            if shift <= self.wait[p + 1] + self.max_shift[p + 1] && best.is_none_or(|(_, s)| shift < s) {
                best = Some((p, shift));
            }
        }
        best
    }

    pub(super) fn insert(&mut self, inst: &Instance, k: usize, after: usize) {
        self.nodes.insert(after + 1, k);
        self.visited[k] = true;
        self.update(inst);
    }

    /// Removes `count` consecutive visits starting at visit `first` (0-based
    /// among the customers), wrapping around the end of the tour.
    pub(super) fn remove_block(&mut self, inst: &Instance, first: usize, count: usize) {
        let len = self.len();
        if len == 0 {
            return;
        }
        let count = count.min(len);
        for t in 0..count {
            let v = self.nodes[1 + (first + t) % len];
            self.visited[v] = false;
        }
        let visited = &self.visited;
        self.nodes.retain(|&v| v == 0 || visited[v]);
        self.update(inst);
    }
}

/// Time-window data of a sequence of visits (Vidal, Crainic, Gendreau &
/// Prins 2013): minimum duration, time warp (lateness that would be needed;
/// 0 = feasible), earliest and latest start at the first vertex, and the
/// travel time it contains.
#[derive(Clone, Copy, Debug)]
pub(super) struct Seg {
    pub(super) first: usize,
    pub(super) last: usize,
    pub(super) duration: i64,
    pub(super) warp: i64,
    pub(super) early: i64,
    pub(super) late: i64,
    pub(super) travel: i64,
}

impl Seg {
    #[inline]
    pub(super) fn customer(inst: &Instance, v: usize) -> Seg {
        Seg {
            first: v,
            last: v,
            duration: inst.service[v],
            warp: 0,
            early: inst.open[v],
            late: inst.close[v],
            travel: 0,
        }
    }

    pub(super) fn depot_start() -> Seg {
        Seg { first: 0, last: 0, duration: 0, warp: 0, early: 0, late: 0, travel: 0 }
    }

    pub(super) fn depot_end(inst: &Instance) -> Seg {
        Seg { first: 0, last: 0, duration: 0, warp: 0, early: 0, late: inst.tmax, travel: 0 }
    }

    #[inline]
    pub(super) fn then(self, inst: &Instance, b: Seg) -> Seg {
        let c = inst.d(self.last, b.first);
        let delta = self.duration - self.warp + c;
        let wait = (b.early - delta - self.late).max(0);
        let warp = (self.early + delta - b.late).max(0);
        Seg {
            first: self.first,
            last: b.last,
            duration: self.duration + b.duration + c + wait,
            warp: self.warp + b.warp + warp,
            early: (b.early - delta).max(self.early) - wait,
            late: (b.late - delta).min(self.late) + warp,
            travel: self.travel + b.travel + c,
        }
    }

    /// Feasible and shorter (then: less travel) than `(duration, travel)`.
    #[inline]
    pub(super) fn beats(&self, duration: i64, travel: i64) -> bool {
        self.warp == 0 && (self.duration < duration || (self.duration == duration && self.travel < travel))
    }
}
