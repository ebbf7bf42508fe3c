//! The exact feasibility check of a tour, independent of the search.

use super::Instance;

/// Checks a tour exactly (every window and the budget, with the truncated
/// distances) and returns its score, or why it is infeasible. Service starts
/// as early as possible; `route` lists customer ids, depot excluded.
pub fn evaluate(instance: &Instance, route: &[usize]) -> Result<f64, String> {
    let inst = instance;
    let mut seen = vec![false; inst.n];
    let (mut depart, mut prev, mut score) = (0i64, 0usize, 0.0);
    for (position, &v) in route.iter().enumerate() {
        if v == 0 || v >= inst.n {
            return Err(format!("position {position}: {v} is not a customer id (1..={})", inst.n - 1));
        }
        if seen[v] {
            return Err(format!("customer {v} is visited twice (again at position {position})"));
        }
        seen[v] = true;
        let arrive = depart + inst.d(prev, v);
        if arrive > inst.close[v] {
            return Err(format!(
                "customer {v} (position {position}) is reached at {}, after its window closes at {}",
                inst.show(arrive),
                inst.show(inst.close[v])
            ));
        }
        depart = arrive.max(inst.open[v]) + inst.service[v];
        prev = v;
        score += inst.score[v];
    }
    let back = depart + inst.d(prev, 0);
    if back > inst.tmax {
        return Err(format!(
            "the tour is back at the depot at {}, after the budget Tmax = {}",
            inst.show(back),
            inst.show(inst.tmax)
        ));
    }
    Ok(score)
}
