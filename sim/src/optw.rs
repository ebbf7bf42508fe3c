//! The Orienteering Problem with Time Windows (OPTW), one tour: an instance
//! parser for the KU Leuven "TOPTW test instances" format, an exact
//! feasibility checker, and an iterated local search.
//!
//! The problem: a tour leaves the depot (vertex 0) at time 0 and must be back
//! by `Tmax` (the depot's closing time); it may visit each customer at most
//! once, starting service within the customer's window `[open, close]`
//! (arriving early means waiting) and leaving `service` later; travel time is
//! the distance. Maximise the sum of the visited customers' scores.
//!
//! Distances follow the benchmark convention: Euclidean distance truncated to
//! one decimal (`floor(10 d) / 10`, Solomon-based files) or to two decimals
//! (`floor(100 d) / 100`, Cordeau-based `pr*` files). All times are kept as
//! exact integers in units of `10^-decimals`, so feasibility is decided
//! without rounding error.
//!
//! The solver ([`solve`]) is an iterated local search in the family of
//! Vansteenwegen, Souffriau, Vanden Berghe & Van Oudheusden (2009),
//! "Iterated local search for the team orienteering problem with time
//! windows", Computers & Operations Research 36(12): greedy insertion by
//! `score^2 / added time` with `wait`/`maxShift` bookkeeping (each insertion
//! checked in O(1); customers scanned by the highest ratio they could have,
//! the scan cut short once none left can beat the best found), plus
//! tour-shortening moves (2-opt, or-opt, swap) checked in O(1) each with the
//! time-window segment concatenation of Vidal et al. (2013), restricted to
//! edges between near neighbours and, with don't-look bits, to the visits
//! near the last changes (Bentley 1992), their scans cut short once time
//! windows rule out the rest (exactly: the same moves are found), and an
//! exchange move (Gunawan, Lau & Lu 2017's replace, generalised) that
//! drops any visit for an unvisited customer with a higher score inserted
//! anywhere next to a near neighbour, each pair checked in O(1) with the
//! same segments.
//!
//! Each iteration shakes the current tour, repairs it with the insertion
//! and the moves above, and accepts the result like simulated annealing at
//! a fixed temperature, going back to the best tour after 200 iterations
//! without a better one. The shake is Vansteenwegen et al.'s removal of a
//! block of consecutive visits (cycling start, growing length) or, once 50
//! iterations have passed without a better tour, sometimes a forced
//! insertion: a random unvisited customer is put where it adds the least
//! travel and the visits around it are taken out until the tour is feasible
//! again, and kept out of the first repair. It is a ruin-and-recreate step
//! (Schrimpf, Schneider, Stamm-Wilbrandt & Dueck 2000, "Record breaking
//! optimization results using the ruin and recreate principle", Journal of
//! Computational Physics 159) whose ruin is chosen by the customer that
//! goes in; it moves the tour to other places and times than block
//! removals do, which matters where a tour visits only a small share of the
//! customers (its probability is 0.6 times the share left out).
//!
//! Where the tour leaves at least 70% of the customers out (the pr
//! instances; r2 and rc2 tours visit about half), two beam searches are
//! added. The gap a block removal leaves is, with probability 0.8 times the
//! share left out, rebuilt before the repair by a beam search over paths of
//! unvisited customers from the visit before the gap, each feasible with
//! the rest of the tour (width 16, paths ranked by their noisy score less a
//! random rate times the time they end at; the best-scoring path goes in).
//! And after 100 iterations without a better tour (halfway to the return
//! to the best one) the search starts afresh from a tour built in visit
//! order by a beam search from the depot, which lands in other regions of
//! the day than the greedy insertion's tours.
//!
//! No clock is read here: [`solve`] stops when the caller's `stop` says so
//! (a caller with a time budget checks its own clock), [`solve_iterations`]
//! after a fixed number of iterations; with one seed both explore the same
//! sequence, so a timed run equals the fixed-count run of as many iterations.

mod evaluate;
mod instance;
mod search;
mod tour;

#[cfg(test)]
mod tests;

pub use evaluate::evaluate;
pub use instance::{Instance, OptwError, Vertex, default_distance_decimals, parse, parse_with_decimals};

/// Most digits after the decimal point in a number of an instance file, and
/// the most decimals a distance may be truncated to.
pub const DECIMALS_MAX: u32 = 6;

/// Most vertices (depot included) in an instance; the distance matrix holds
/// the square of this many entries.
pub const VERTICES_MAX: usize = 3_000;

/// A tour: the customers in visit order (depot left out at both ends) and
/// their total score.
#[derive(Clone, Debug, PartialEq)]
pub struct Solution {
    /// Customer vertex ids in visit order, the depot excluded.
    pub route: Vec<usize>,
    /// Sum of the visited customers' scores.
    pub score: f64,
    /// Search iterations run (the construction not counted).
    pub iterations: u64,
}

/// Searches for a high-scoring tour until `stop(iterations done)` says so
/// (the greedy construction always runs). `sim` never reads the wall
/// clock: a caller with a time budget passes a stop that checks its own
/// clock (as `crowdtwin optw --budget-ms` does).
///
/// Deterministic in the seed: one seed always explores the same sequence of
/// tours, so two runs differ only in how many iterations they got through
/// (`Solution::iterations`); [`solve_iterations`] with that count gives the
/// same tour.
pub fn solve(instance: &Instance, seed: u64, stop: impl FnMut(u64) -> bool) -> Solution {
    search::search(instance, seed, stop)
}

/// [`solve`] for a fixed number of iterations; never reads the clock.
pub fn solve_iterations(instance: &Instance, seed: u64, iterations: u64) -> Solution {
    search::search(instance, seed, |done| done >= iterations)
}
