//! Kernel behaviour at its public API: determinism across runs, threads and
//! shards; forks; queueing results against Erlang C; errors.

use crowdtwin_sim::SimError;
use crowdtwin_sim::kernel::{ActorId, ActorKind, Context, SimDuration, SimTime, Simulation, World};
use crowdtwin_sim::phold::{Phold, PholdParams};
use statrs::distribution::{ContinuousCDF, StudentsT};

fn small_phold() -> PholdParams {
    PholdParams { lps: 1_000, population: 8, ..PholdParams::default() }
}

/// Everything observable about a finished run.
fn fingerprint<W: World + PartialEq + std::fmt::Debug>(sim: &Simulation<W>) -> (u64, u64, usize, SimTime) {
    (sim.trace_hash(), sim.events_handled(), sim.pending_events(), sim.now())
}

#[test]
fn phold_same_seed_same_trace_for_1_2_and_4_shards() {
    let params = small_phold();
    let end = SimTime::from_secs(30);
    let mut reference = Phold::simulation(params, 11).unwrap();
    reference.run_until(end);
    assert!(reference.events_handled() > 200_000, "the run must do real work");
    for shards in [1, 2, 4] {
        for _repeat in 0..2 {
            let mut sim = Phold::simulation(params, 11).unwrap();
            let stats = sim.run_until_sharded(end, shards, params.lookahead()).unwrap();
            assert_eq!(stats.events, reference.events_handled());
            // A remote event goes to a random other process, in another
            // shard with probability (shards - 1) / shards.
            let expected = params.remote * (shards - 1) as f64 / shards as f64;
            let share = stats.cross_shard_messages as f64 / stats.events as f64;
            assert!((share - expected).abs() < 0.01, "{shards} shards: {share} of events crossed, not {expected}");
            assert_eq!(fingerprint(&sim), fingerprint(&reference), "{shards} shards");
            assert_eq!(sim.world(), reference.world(), "{shards} shards");
        }
    }
    let mut other_seed = Phold::simulation(params, 12).unwrap();
    other_seed.run_until(end);
    assert_ne!(other_seed.trace_hash(), reference.trace_hash());
}

#[test]
fn running_in_steps_equals_one_run() {
    let params = small_phold();
    let mut whole = Phold::simulation(params, 5).unwrap();
    whole.run_until(SimTime::from_secs(20));
    let mut steps = Phold::simulation(params, 5).unwrap();
    for (i, t) in [3u64, 7, 7, 12, 20].into_iter().enumerate() {
        // Alternate single-threaded and sharded steps.
        steps.run_until_sharded(SimTime::from_secs(t), 1 + i % 3, params.lookahead()).unwrap();
    }
    assert_eq!(fingerprint(&steps), fingerprint(&whole));
    assert_eq!(steps.world(), whole.world());
}

#[test]
fn a_fork_runs_ahead_without_disturbing_the_original() {
    let params = small_phold();
    let mut live = Phold::simulation(params, 3).unwrap();
    live.run_until(SimTime::from_secs(10));
    let before = (fingerprint(&live), live.world().clone());

    let mut fork = live.clone();
    fork.run_until_sharded(SimTime::from_secs(40), 2, params.lookahead()).unwrap();
    assert!(fork.events_handled() > live.events_handled());
    assert_eq!((fingerprint(&live), live.world().clone()), before, "the fork changed the original");

    // The original, continued, reaches exactly where the fork went.
    live.run_until(SimTime::from_secs(40));
    assert_eq!(fingerprint(&live), fingerprint(&fork));
}

// ---------------------------------------------------------------------------
// A model full of ties and zero-delay messages: the order of events at one
// instant must not depend on the partition either.

const RELAY: ActorKind = ActorKind(0);
const RELAY_GROUP_SIZE: u32 = 8;

#[derive(Clone, Debug, PartialEq)]
struct Relay {
    /// Per actor: an order-sensitive hash of every token it received.
    seen: Vec<u64>,
}

#[derive(Clone, Debug, PartialEq)]
struct Token {
    value: u64,
    zero_delay_hops: u8,
}

impl World for Relay {
    type Message = Token;

    fn handle(&mut self, token: Token, ctx: &mut Context<'_, Token>) {
        let me = ctx.me().index();
        let seen = &mut self.seen[me as usize];
        *seen = seen.rotate_left(13) ^ token.value.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ctx.now().as_micros();
        let next = token.value.wrapping_mul(6364136223846793005).wrapping_add(me as u64);
        if token.zero_delay_hops < 3 && ctx.rng().chance(0.6) {
            // Same instant, same group (so the same shard), often to a lower id.
            let group = me / RELAY_GROUP_SIZE;
            let to = group * RELAY_GROUP_SIZE + ctx.rng().below(RELAY_GROUP_SIZE as u64) as u32;
            ctx.send(
                ActorId::new(RELAY, to),
                SimDuration::ZERO,
                Token { value: next, zero_delay_hops: token.zero_delay_hops + 1 },
            );
        } else {
            // Whole seconds only, so many events share an instant.
            let to = ctx.rng().below(self.seen.len() as u64) as u32;
            let delay = SimDuration::from_secs(1 + ctx.rng().below(3));
            ctx.send(ActorId::new(RELAY, to), delay, Token { value: next, zero_delay_hops: 0 });
        }
    }

    fn shard_of(&self, actor: ActorId, shard_count: usize) -> usize {
        let groups = self.seen.len() / RELAY_GROUP_SIZE as usize;
        (actor.index() / RELAY_GROUP_SIZE) as usize * shard_count / groups
    }

    fn merge_shard(&mut self, part: &Self, shard: usize, shard_count: usize) {
        for index in 0..self.seen.len() {
            if self.shard_of(ActorId::new(RELAY, index as u32), shard_count) == shard {
                self.seen[index] = part.seen[index];
            }
        }
    }
}

fn relay(actors: u32, seed: u64) -> Simulation<Relay> {
    let mut sim = Simulation::new(Relay { seen: vec![0; actors as usize] }, seed, &[actors]);
    for index in 0..actors {
        // Three tokens per actor, all at the first two instants.
        for k in 0..3u64 {
            sim.inject(ActorId::new(RELAY, index), SimTime::from_secs(k % 2), Token { value: k, zero_delay_hops: 0 });
        }
    }
    sim
}

#[test]
fn ties_and_zero_delay_messages_are_partition_independent() {
    let end = SimTime::from_secs(150);
    let mut reference = relay(64, 9);
    reference.run_until(end);
    assert!(reference.events_handled() > 20_000);
    for shards in [2, 3, 4, 8] {
        let mut sim = relay(64, 9);
        sim.run_until_sharded(end, shards, SimDuration::from_secs(1)).unwrap();
        assert_eq!(fingerprint(&sim), fingerprint(&reference), "{shards} shards");
        assert_eq!(sim.world(), reference.world(), "{shards} shards");
    }
}

#[test]
#[should_panic(expected = "crosses shards with a delay below the lookahead")]
fn a_cross_shard_message_below_the_lookahead_is_refused() {
    let mut sim = relay(64, 9);
    // Relay's cross-group delays are 1-3 s; claiming 2 s is a lie the kernel catches.
    sim.run_until_sharded(SimTime::from_secs(60), 2, SimDuration::from_secs(2)).unwrap();
}

#[test]
fn bad_run_options_are_typed_errors() {
    let mut sim = Phold::simulation(small_phold(), 1).unwrap();
    let end = SimTime::from_secs(1);
    assert!(matches!(sim.run_until_sharded(end, 0, SimDuration::from_secs(1)), Err(SimError::ShardCount { .. })));
    assert!(matches!(sim.run_until_sharded(end, 2, SimDuration::ZERO), Err(SimError::ZeroLookahead { .. })));
    assert_eq!(sim.events_handled(), 0, "a refused run changes nothing");
    let bad = PholdParams { remote: 1.5, ..small_phold() };
    let error = Phold::simulation(bad, 1).err().unwrap();
    assert!(error.to_string().contains("remote"), "{error}");
    let bad = PholdParams { lookahead_s: 0.0, ..small_phold() };
    assert!(matches!(Phold::simulation(bad, 1), Err(SimError::InvalidParameter { name: "lookahead", .. })));
}

#[test]
#[should_panic(expected = "before now")]
fn injecting_into_the_past_is_refused() {
    let mut sim = Phold::simulation(small_phold(), 1).unwrap();
    sim.run_until(SimTime::from_secs(2));
    sim.inject(ActorId::new(ActorKind(0), 0), SimTime::from_secs(1), ());
}

// ---------------------------------------------------------------------------
// M/M/c queues built from kernel actors, against Erlang C.

const SOURCE: ActorId = ActorId::new_const(0, 0);
const STATION: ActorId = ActorId::new_const(1, 0);

#[derive(Clone, Debug, PartialEq)]
enum Queueing {
    NextArrival,
    Customer { arrived: SimTime },
    Departure,
}

#[derive(Clone, Debug, PartialEq)]
struct MmcWorld {
    arrival_rate: f64,
    service_rate: f64,
    servers: u32,
    customers_max: u64,
    warmup_customers: u64,
    // Source state.
    arrivals: u64,
    // Station state.
    busy: u32,
    waiting: std::collections::VecDeque<SimTime>,
    started: u64,
    wait_sum_s: f64,
    wait_count: u64,
}

impl MmcWorld {
    fn start_service(&mut self, arrived: SimTime, ctx: &mut Context<'_, Queueing>) {
        self.started += 1;
        if self.started > self.warmup_customers {
            self.wait_sum_s += (ctx.now() - arrived).as_secs_f64();
            self.wait_count += 1;
        }
        let service = ctx.rng().exponential(1.0 / self.service_rate);
        ctx.send(STATION, SimDuration::from_secs_f64(service), Queueing::Departure);
    }
}

impl World for MmcWorld {
    type Message = Queueing;

    fn handle(&mut self, message: Queueing, ctx: &mut Context<'_, Queueing>) {
        match message {
            Queueing::NextArrival => {
                self.arrivals += 1;
                ctx.send(STATION, SimDuration::ZERO, Queueing::Customer { arrived: ctx.now() });
                if self.arrivals < self.customers_max {
                    let gap = ctx.rng().exponential(1.0 / self.arrival_rate);
                    ctx.send(SOURCE, SimDuration::from_secs_f64(gap), Queueing::NextArrival);
                }
            }
            Queueing::Customer { arrived } => {
                if self.busy < self.servers {
                    self.busy += 1;
                    self.start_service(arrived, ctx);
                } else {
                    self.waiting.push_back(arrived);
                }
            }
            Queueing::Departure => match self.waiting.pop_front() {
                Some(arrived) => self.start_service(arrived, ctx),
                None => self.busy -= 1,
            },
        }
    }

    fn shard_of(&self, _actor: ActorId, _shard_count: usize) -> usize {
        0
    }

    fn merge_shard(&mut self, part: &Self, shard: usize, _shard_count: usize) {
        if shard == 0 {
            *self = part.clone();
        }
    }
}

/// Mean wait in queue of one replication, seconds.
fn mmc_replication(arrival_rate: f64, service_rate: f64, servers: u32, seed: u64) -> f64 {
    let world = MmcWorld {
        arrival_rate,
        service_rate,
        servers,
        customers_max: 60_000,
        warmup_customers: 5_000,
        arrivals: 0,
        busy: 0,
        waiting: Default::default(),
        started: 0,
        wait_sum_s: 0.0,
        wait_count: 0,
    };
    let mut sim = Simulation::new(world, seed, &[1, 1]);
    sim.inject(SOURCE, SimTime::ZERO, Queueing::NextArrival);
    sim.run_until_quiescent();
    let world = sim.world();
    assert_eq!(world.wait_count, 55_000, "every customer after the warm-up was served");
    assert_eq!(world.busy, 0);
    world.wait_sum_s / world.wait_count as f64
}

/// Erlang C: probability that an arrival waits in an M/M/c queue with
/// offered load `a = lambda / mu` (shared/REFERENCES.md, "Queues").
fn erlang_c(servers: u32, offered: f64) -> f64 {
    let c = servers as f64;
    let mut term = 1.0; // a^k / k!
    let mut sum = 0.0;
    for k in 0..servers {
        sum += term;
        term *= offered / (k + 1) as f64;
    }
    let top = term * c / (c - offered);
    top / (sum + top)
}

/// Checks the simulated mean wait against `W_q = C(c, a) / (c mu - lambda)`:
/// the theory must lie in the 95% Student-t interval over independent
/// replications, and the interval must be tight enough (half-width under
/// 8% of the theory) for the check to mean something.
fn check_mmc(arrival_rate: f64, service_rate: f64, servers: u32) {
    let theory = erlang_c(servers, arrival_rate / service_rate) / (servers as f64 * service_rate - arrival_rate);
    let replications = 24;
    let means: Vec<f64> =
        (0..replications).map(|r| mmc_replication(arrival_rate, service_rate, servers, 1_000 + r)).collect();
    let n = means.len() as f64;
    let mean = means.iter().sum::<f64>() / n;
    let variance = means.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let t = StudentsT::new(0.0, 1.0, n - 1.0).unwrap().inverse_cdf(0.975);
    let half_width = t * (variance / n).sqrt();
    println!(
        "M/M/{servers} lambda={arrival_rate} mu={service_rate}: simulated {mean:.4} +- {half_width:.4} s, Erlang C {theory:.4} s"
    );
    assert!((mean - theory).abs() <= half_width, "M/M/{servers}: Erlang C {theory} outside {mean} +- {half_width}");
    assert!(half_width < 0.08 * theory, "interval too wide to test anything: +-{half_width}");
}

#[test]
fn mm1_mean_wait_matches_erlang_c() {
    // rho = 0.7: W_q = rho / (mu - lambda) = 0.7 / 0.3 = 2.333 s.
    check_mmc(0.7, 1.0, 1);
}

#[test]
fn mm3_mean_wait_matches_erlang_c() {
    // rho = 0.8 on three servers: W_q = 1.0787 s.
    check_mmc(2.4, 1.0, 3);
}

#[test]
fn erlang_c_reduces_to_the_mm1_formula() {
    // For c = 1, C(1, a) = a, so W_q = rho / (mu - lambda).
    let (lambda, mu) = (0.7, 1.0);
    assert!((erlang_c(1, lambda / mu) / (mu - lambda) - (lambda / mu) / (mu - lambda)).abs() < 1e-12);
}
