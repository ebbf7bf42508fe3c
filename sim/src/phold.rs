//! PHOLD (Fujimoto 1990), the standard throughput benchmark for
//! discrete-event engines: `lps` logical processes each start with
//! `population` events; handling an event schedules one new event
//! `lookahead + Exp(mean)` later, to a uniformly random process with
//! probability `remote`, else to itself. Time is in seconds.

use crate::SimError;
use crate::kernel::{ActorId, ActorKind, Context, SimDuration, SimTime, Simulation, World};
use serde::{Deserialize, Serialize};

/// The one actor kind of PHOLD: a logical process.
pub const LOGICAL_PROCESS: ActorKind = ActorKind(0);

/// Largest number of events PHOLD may start with (`lps * population`).
pub const PHOLD_EVENTS_PENDING_MAX: u64 = 1 << 30;

/// PHOLD parameters; the defaults are the standard ones.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PholdParams {
    /// Logical processes.
    pub lps: u32,
    /// Events each process starts with; the pending count stays `lps * population`.
    pub population: u32,
    /// Probability that an event goes to a random process instead of its own.
    pub remote: f64,
    /// Fixed part of every delay, seconds; also the lookahead between shards.
    pub lookahead_s: f64,
    /// Mean of the exponential part of every delay, seconds.
    pub mean_s: f64,
}

impl Default for PholdParams {
    fn default() -> Self {
        PholdParams { lps: 10_000, population: 16, remote: 0.1, lookahead_s: 0.1, mean_s: 1.0 }
    }
}

impl PholdParams {
    /// Checks every parameter, naming the first one out of range.
    pub fn validate(&self) -> Result<(), SimError> {
        let invalid = |name, reason: &str| Err(SimError::InvalidParameter { name, reason: reason.to_string() });
        if self.lps == 0 || self.lps > crate::kernel::ACTORS_PER_KIND_MAX {
            return invalid("lps", "must be between 1 and 67108864");
        }
        if self.population == 0 {
            return invalid("population", "must be at least 1");
        }
        if self.lps as u64 * self.population as u64 > PHOLD_EVENTS_PENDING_MAX {
            return invalid("population", "lps * population must not exceed 2^30 pending events");
        }
        if !(0.0..=1.0).contains(&self.remote) {
            return invalid("remote", "must be a probability in [0, 1]");
        }
        if !(self.lookahead_s.is_finite() && self.lookahead_s >= 1e-6 && self.lookahead_s <= 1e6) {
            return invalid("lookahead", "must be between 1e-6 and 1e6 seconds");
        }
        if !(self.mean_s.is_finite() && self.mean_s >= 0.0 && self.mean_s <= 1e6) {
            return invalid("mean", "must be between 0 and 1e6 seconds");
        }
        Ok(())
    }

    /// The lookahead as a kernel duration.
    pub fn lookahead(&self) -> SimDuration {
        SimDuration::from_secs_f64(self.lookahead_s)
    }
}

/// The PHOLD world: per process, the number of events it has handled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Phold {
    lookahead_us: u64,
    mean_us: u64,
    remote: u64,
    handled: Vec<u32>,
}

/// `remote` as a threshold on 64 random bits, so the hot path compares integers.
fn probability_threshold(p: f64) -> u64 {
    if p >= 1.0 { u64::MAX } else { (p * 2f64.powi(64)) as u64 }
}

impl Phold {
    /// A PHOLD simulation with its initial events scheduled, each process's
    /// first `population` events drawn from its own random stream.
    pub fn simulation(params: PholdParams, seed: u64) -> Result<Simulation<Phold>, SimError> {
        params.validate()?;
        let world = Phold {
            lookahead_us: params.lookahead().as_micros(),
            mean_us: SimDuration::from_secs_f64(params.mean_s).as_micros(),
            remote: probability_threshold(params.remote),
            handled: vec![0; params.lps as usize],
        };
        let mut sim = Simulation::new(world.clone(), seed, &[params.lps]);
        for index in 0..params.lps {
            let lp = ActorId::new(LOGICAL_PROCESS, index);
            for _ in 0..params.population {
                let delay = world.delay(sim.actor_rng(lp).exponential(1.0));
                sim.inject(lp, SimTime::ZERO + delay, ());
            }
        }
        Ok(sim)
    }

    #[inline]
    fn delay(&self, unit_exponential: f64) -> SimDuration {
        // Round to the nearest microsecond (the value is never negative).
        SimDuration(self.lookahead_us + (unit_exponential * self.mean_us as f64 + 0.5) as u64)
    }

    /// Events handled by each process, in process order.
    pub fn handled(&self) -> &[u32] {
        &self.handled
    }
}

impl World for Phold {
    type Message = ();

    #[inline]
    fn handle(&mut self, _message: (), ctx: &mut Context<'_, ()>) {
        let me = ctx.me();
        self.handled[me.index() as usize] += 1;
        let rng = ctx.rng();
        let target = if rng.next_bits() < self.remote {
            ActorId::new(LOGICAL_PROCESS, rng.below(self.handled.len() as u64) as u32)
        } else {
            me
        };
        let delay = self.delay(rng.exponential(1.0));
        ctx.send(target, delay, ());
    }

    /// Contiguous blocks of processes.
    fn shard_of(&self, actor: ActorId, shard_count: usize) -> usize {
        actor.index() as usize * shard_count / self.handled.len()
    }

    fn merge_shard(&mut self, part: &Self, shard: usize, shard_count: usize) {
        let n = self.handled.len();
        let block = (shard * n).div_ceil(shard_count)..((shard + 1) * n).div_ceil(shard_count);
        self.handled[block.clone()].copy_from_slice(&part.handled[block]);
    }
}
