//! The mesoscopic crowd model: people move on a graph of places and
//! walkways. Walkways follow Weidmann's fundamental diagram with an outflow
//! capacity; places queue people for security, entry, service and transit.
//!
//! Actors: one per visitor, place (gate, plaza, venue, shop, food outlet,
//! fan zone, transit stop) and walkway. Every message between actors takes
//! at least the handoff time (`model.handoff_s`), which is the kernel's
//! lookahead, so any partition of the actors into shards gives the same run.

mod element;
mod los;
mod output;
mod place;
mod population;
pub mod recorder;
pub mod site;
pub mod travel;
mod visitor;
mod walkway;

pub use element::{ElementKind, UnknownElementKind, is_queueing_area};
pub use los::Los;
pub use output::{ElementKpis, ElementSeries, RunKpis, RunOutput, SessionKpis};
pub use place::{PlaceCounters, PlaceState, SessionEgress};
pub use population::PopulationSummary;
pub use site::Site;
pub use visitor::{Visitor, VisitorKind};
pub use walkway::{WalkwayState, congested_density_p_per_m2, weidmann_capacity_p_per_m_s, weidmann_speed_mps};

use crate::kernel::{ActorId, ActorKind, Context, SimTime, Simulation, World};
use crate::scenario::Scenario;
use std::sync::Arc;
use travel::{Congestion, Network};

/// Actor kind of visitors.
pub const VISITOR: ActorKind = ActorKind(0);
/// Actor kind of places.
pub const PLACE: ActorKind = ActorKind(1);
/// Actor kind of walkways.
pub const WALKWAY: ActorKind = ActorKind(2);

/// No session (a `Person` not going to a ticketed session).
pub const NO_SESSION: u16 = u16::MAX;
/// No walkway (a `Person` who has not walked yet).
pub const NO_WALKWAY: u16 = u16::MAX;
/// The person has passed security.
pub const FLAG_SCREENED: u8 = 1;
/// The person belongs to a crowd and leaves the model at its destination.
pub const FLAG_CROWD: u8 = 2;
/// The person is going home: at their transit stop they wait for a departure.
pub const FLAG_LEAVING: u8 = 4;
/// The person is stopping on a plaza they cross (back to the plaza's own
/// actor after their stay, then on their way).
pub const FLAG_LINGERING: u8 = 8;

/// A person moving through the site, as carried in messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Person {
    /// Visitor index.
    pub visitor: u32,
    /// Place index they are heading to.
    pub destination: u16,
    /// Session index of the ticket they are going to use, or `NO_SESSION`.
    pub session: u16,
    /// The walkway they arrived by, or `NO_WALKWAY`.
    pub via: u16,
    /// `FLAG_*` bits.
    pub flags: u8,
}

/// Messages of the crowd model.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Message {
    /// To a visitor: you arrive at your origin now.
    Begin,
    /// To a visitor: you are done at `place` (served, seated and out, arrived).
    Ready {
        /// Where the visitor is.
        place: u16,
    },
    /// To a visitor: a dwell (eating, fan zone) is over.
    Wake,
    /// To a place: a person arrives.
    Arrive {
        /// Who.
        person: Person,
    },
    /// To a place: a visitor idle here leaves for `person.destination`.
    Depart {
        /// Who, and where to.
        person: Person,
    },
    /// To a place (itself): a lane or server finished.
    ServiceDone {
        /// Which one.
        server: u16,
    },
    /// To a venue: a session's planned end.
    SessionEnd {
        /// Session index.
        session: u16,
    },
    /// To a venue (itself): the next spectator leaves.
    EgressRelease,
    /// To a transit place (itself): a departure.
    Departure,
    /// To a gate: open or close.
    SetGate {
        /// Open after this.
        open: bool,
    },
    /// To a venue: a session ends later.
    DelaySession {
        /// Session index.
        session: u16,
        /// Delay, s.
        delay_s: u32,
    },
    /// To a gate, venue, shop or food place: service at `rate_factor` of
    /// its normal rate until `until`.
    SlowService {
        /// Share of the normal service rate.
        rate_factor: f32,
        /// End of the slowdown.
        until: SimTime,
    },
    /// To a transit place: reduced departures until `until`.
    Disrupt {
        /// Share of the capacity per departure.
        capacity_factor: f32,
        /// End of the disruption.
        until: SimTime,
    },
    /// To a walkway: a person steps on from place `from`.
    Enter {
        /// Who.
        person: Person,
        /// Place index they come from.
        from: u16,
    },
    /// To a walkway (itself): the next walker in `direction` leaves.
    Release {
        /// 0: towards `b`; 1: towards `a`.
        direction: u8,
        /// Schedule number; a release from an older schedule is ignored.
        generation: u32,
    },
    /// To a walkway (itself): its entrance may take the next in line.
    Admit {
        /// Schedule number; an admission from an older schedule is ignored.
        generation: u32,
    },
    /// To a walkway, from the place at one end: whether that place takes
    /// more people (its supply; see `model.place_hold_density_p_per_m2`).
    Supply {
        /// The lane leading into that place: 0 towards `b`, 1 towards `a`.
        direction: u8,
        /// Whether walkers may leave into it.
        open: bool,
    },
    /// To a place, from a walkway leading out of it: how many people wait
    /// at the walkway's entrance, standing in the place (they fill it).
    Backlog {
        /// Walkway index.
        walkway: u16,
        /// People waiting there to step on.
        waiting: u32,
    },
}

/// Read-only data every actor shares.
#[derive(Debug)]
pub struct Shared {
    /// The site with its routing.
    pub site: Site,
    /// Sessions held at each place (empty except at venues).
    pub sessions_by_venue: Vec<Vec<u16>>,
    /// Rank of each place along the x axis (for spatial shards).
    place_rank: Vec<u32>,
    /// See [`BuildOptions::population_headroom`].
    pub population_headroom: f64,
    /// Visitors from this index on are unplanned walk-ins (see
    /// [`UNPLANNED_WALK_IN_SHARE_MAX`]); none in a planner's run.
    pub unplanned_walk_ins_from: usize,
    /// Seed the visitors' activation draws derive from.
    activation_seed: u64,
    /// What visitors who follow recommendations are told (see
    /// [`BuildOptions::advice`]).
    pub advice: Option<Advice>,
}

/// Congestion the recommendations are based on, with the network to plan on.
#[derive(Clone, Debug)]
pub struct Advice {
    /// Walking and waiting times over the day.
    pub congestion: Arc<Congestion>,
    /// The site's graph with its closures.
    pub network: Network,
}

impl Shared {
    /// Whether visitor `index` comes under `tuning`: a fixed draw per
    /// visitor against `arrival_scale / population_headroom` (unplanned
    /// walk-ins: `unplanned_walk_in_share / UNPLANNED_WALK_IN_SHARE_MAX`),
    /// so raising the scale only ever adds visitors.
    pub fn comes(&self, index: usize, tuning: &Tuning) -> bool {
        let chance = if index >= self.unplanned_walk_ins_from {
            tuning.unplanned_walk_in_share / UNPLANNED_WALK_IN_SHARE_MAX
        } else if self.population_headroom <= 1.0 && tuning.arrival_scale >= 1.0 {
            return true;
        } else {
            tuning.arrival_scale / self.population_headroom
        };
        let draw = crate::kernel::ActorRng::for_actor(self.activation_seed, index as u32).uniform();
        draw < chance
    }

    /// Whether visitor `index` follows recommendations: a fixed draw per
    /// visitor against `visitors.recommended_share` (with advice only).
    pub fn follows(&self, index: usize) -> bool {
        let share = self.site.scenario.visitors.as_ref().map_or(0.0, |v| v.recommended_share);
        if self.advice.is_none() || share <= 0.0 {
            return false;
        }
        crate::kernel::ActorRng::for_actor(self.activation_seed ^ FOLLOWER_STREAM, index as u32).uniform() < share
    }
}

/// Mixed into the activation seed for the draws of who follows recommendations.
const FOLLOWER_STREAM: u64 = 0x5EED_F011_0000;

/// Uncertain parameters a live twin's ensemble members carry and tune;
/// 1.0 each is the scenario as written.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Tuning {
    /// Share of the generated population that actually comes (see
    /// `BuildOptions::population_headroom`): 1.0 = the scenario's numbers.
    pub arrival_scale: f64,
    /// Factor on every walking speed.
    pub walk_speed_factor: f64,
    /// Factor on eating and fan zone dwell times.
    pub dwell_factor: f64,
    /// Walk-ins beyond the scenario's, as a share of its visitor count (at
    /// most [`UNPLANNED_WALK_IN_SHARE_MAX`], with population headroom only).
    pub unplanned_walk_in_share: f64,
    /// Factor on how often visitors choose each activity in a free slot,
    /// in [`ACTIVITY_KINDS`] order (food, shop, fan zone): weather moves
    /// people between them.
    pub attraction: [f64; ACTIVITY_KINDS.len()],
}

/// The activities a visitor chooses in a free slot, in the order of
/// [`Tuning::attraction`].
pub const ACTIVITY_KINDS: [crate::scenario::PlaceKind; 3] =
    [crate::scenario::PlaceKind::Food, crate::scenario::PlaceKind::Shop, crate::scenario::PlaceKind::FanZone];

/// Largest share of unplanned walk-ins a run with population headroom can
/// take (`Tuning::unplanned_walk_in_share`): it holds this many, as a share
/// of the scenario's visitor count, who come only as that share says.
pub const UNPLANNED_WALK_IN_SHARE_MAX: f64 = 0.5;

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            arrival_scale: 1.0,
            walk_speed_factor: 1.0,
            dwell_factor: 1.0,
            unplanned_walk_in_share: 0.0,
            attraction: [1.0; ACTIVITY_KINDS.len()],
        }
    }
}

/// How to build a simulation from a scenario.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// Generate this many times the scenario's visitors and tickets, each
    /// coming only with probability `arrival_scale / population_headroom`,
    /// so a twin can scale arrivals up to this factor while it runs. 1.0
    /// (planner runs) generates exactly the scenario's population.
    pub population_headroom: f64,
    /// Congestion over the day that visitors who follow recommendations
    /// plan with (usually [`recommendation_congestion`]); none = nobody follows.
    pub advice: Option<Arc<Congestion>>,
    /// With headroom, also generate a pool of walk-ins the scenario does not
    /// plan (a live twin learns how many come: `Tuning::unplanned_walk_in_share`).
    /// Off for planner runs and stress sweeps, whose headroom only scales
    /// the planned arrivals.
    pub unplanned_walk_ins: bool,
}

impl Default for BuildOptions {
    /// A planner's run: exactly the scenario's population, no advice.
    fn default() -> Self {
        BuildOptions { population_headroom: 1.0, advice: None, unplanned_walk_ins: false }
    }
}

/// The crowd model's world: every actor's state.
#[derive(Clone, Debug)]
pub struct CrowdWorld {
    shared: Arc<Shared>,
    /// Parameters an ensemble tunes between runs.
    pub tuning: Tuning,
    /// Visitors, by index.
    pub visitors: Vec<Visitor>,
    /// Places, in scenario order.
    pub places: Vec<PlaceState>,
    /// Walkways, in scenario order.
    pub walkways: Vec<WalkwayState>,
    population: PopulationSummary,
}

impl PartialEq for CrowdWorld {
    fn eq(&self, other: &Self) -> bool {
        self.visitors == other.visitors && self.places == other.places && self.walkways == other.walkways
    }
}

impl CrowdWorld {
    /// The shared site data.
    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    /// The scenario this world was built from.
    pub fn scenario(&self) -> &Scenario {
        &self.shared.site.scenario
    }

    /// Who was generated.
    pub fn population(&self) -> &PopulationSummary {
        &self.population
    }

    /// Applies an intervention decided while the world runs (a gate closed
    /// or opened now): the routing changes from `at` on. Returns the new
    /// shared data, which other worlds of the same scenario (ensemble
    /// members) can take with [`CrowdWorld::set_shared`]. The caller also
    /// sends the place its message.
    pub fn with_intervention(&self, intervention: crate::scenario::Intervention) -> Arc<Shared> {
        let mut interventions = self.shared.site.scenario.interventions.clone();
        interventions.push(intervention);
        self.with_interventions(interventions)
    }

    /// The shared data with the scenario's interventions replaced by
    /// `interventions` (sorted by time, stably): what another process needs
    /// to rebuild a world that took interventions with
    /// [`CrowdWorld::with_intervention`]. Panics on an intervention that
    /// names a place or session the scenario does not have.
    pub fn with_interventions(&self, mut interventions: Vec<crate::scenario::Intervention>) -> Arc<Shared> {
        let mut scenario = self.shared.site.scenario.clone();
        interventions.sort_by_key(|i| i.at());
        scenario.interventions = interventions;
        Arc::new(Shared {
            site: Site::new(scenario),
            sessions_by_venue: self.shared.sessions_by_venue.clone(),
            place_rank: self.shared.place_rank.clone(),
            population_headroom: self.shared.population_headroom,
            unplanned_walk_ins_from: self.shared.unplanned_walk_ins_from,
            activation_seed: self.shared.activation_seed,
            advice: self.shared.advice.clone(),
        })
    }

    /// Replaces the shared data with one made by [`CrowdWorld::with_intervention`]
    /// for the same scenario.
    pub fn set_shared(&mut self, shared: Arc<Shared>) {
        assert_eq!(shared.site.scenario.places.len(), self.shared.site.scenario.places.len());
        assert_eq!(shared.site.scenario.walkways.len(), self.shared.site.scenario.walkways.len());
        self.shared = shared;
    }

    /// The shared data, to hand to [`CrowdWorld::set_shared`] of another world.
    pub fn shared_arc(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// Places and walkways together ("elements"): places first, in scenario
    /// order, then walkways; the order of `RunOutput::elements`.
    pub fn element_count(&self) -> usize {
        self.places.len() + self.walkways.len()
    }

    /// Id of element `i` (`from--to` for walkways).
    pub fn element_id(&self, i: usize) -> String {
        let scenario = self.scenario();
        match i.checked_sub(self.places.len()) {
            None => scenario.places[i].id.clone(),
            Some(w) => {
                let walkway = &scenario.walkways[w];
                format!("{}--{}", scenario.places[walkway.a].id, scenario.places[walkway.b].id)
            }
        }
    }

    /// Kind of element `i`.
    pub fn element_kind(&self, i: usize) -> ElementKind {
        match i.checked_sub(self.places.len()) {
            None => ElementKind::Place(self.scenario().places[i].kind),
            Some(_) => ElementKind::Walkway,
        }
    }

    /// Walkable area of element `i`, m².
    pub fn element_area_m2(&self, i: usize) -> f64 {
        let scenario = self.scenario();
        match i.checked_sub(self.places.len()) {
            None => scenario.places[i].area_m2,
            Some(w) => scenario.walkways[w].length_m * scenario.walkways[w].width_m,
        }
    }

    /// People at element `i` now (on a walkway: on it and waiting to step on).
    pub fn element_people(&self, i: usize) -> u32 {
        match i.checked_sub(self.places.len()) {
            None => self.places[i].occupancy(),
            Some(w) => self.walkways[w].count() + self.walkways[w].entrance_queue() as u32,
        }
    }

    /// Statistics of element `i`.
    pub fn element_recorder(&self, i: usize) -> &recorder::Recorder {
        match i.checked_sub(self.places.len()) {
            None => &self.places[i].recorder,
            Some(w) => &self.walkways[w].recorder,
        }
    }

    /// Index of the element with id `id`.
    pub fn element_index(&self, id: &str) -> Option<usize> {
        (0..self.element_count()).find(|&i| self.element_id(i) == id)
    }

    fn place_shard(&self, place: usize, shard_count: usize) -> usize {
        self.shared.place_rank[place] as usize * shard_count / self.shared.place_rank.len()
    }
}

impl World for CrowdWorld {
    type Message = Message;

    #[inline]
    fn handle(&mut self, message: Message, ctx: &mut Context<'_, Message>) {
        let me = ctx.me();
        let index = me.index() as usize;
        let shared = &*self.shared;
        let tuning = self.tuning;
        match me.kind() {
            VISITOR => self.visitors[index].handle(shared, &tuning, index, message, ctx),
            PLACE => self.places[index].handle(shared, index, message, ctx),
            WALKWAY => match message {
                Message::Enter { person, from } => {
                    self.walkways[index].enter(shared, &tuning, index, person, from as u32, ctx)
                }
                Message::Release { direction, generation } => {
                    self.walkways[index].release(shared, &tuning, index, direction, generation, ctx)
                }
                Message::Admit { generation } => self.walkways[index].admit(shared, &tuning, index, generation, ctx),
                Message::Supply { direction, open } => {
                    self.walkways[index].supply(shared, &tuning, index, direction, open, ctx)
                }
                other => panic!("walkway {index} cannot handle {other:?}"),
            },
            kind => panic!("no actor kind {kind:?} in the crowd model"),
        }
    }

    /// Places in bands along the x axis; a walkway with the place at its
    /// `from` end; visitors dealt round-robin.
    fn shard_of(&self, actor: ActorId, shard_count: usize) -> usize {
        let index = actor.index() as usize;
        match actor.kind() {
            VISITOR => index % shard_count,
            PLACE => self.place_shard(index, shard_count),
            _ => self.place_shard(self.shared.site.scenario.walkways[index].a, shard_count),
        }
    }

    fn merge_shard(&mut self, part: &Self, shard: usize, shard_count: usize) {
        let owned = self.owned(shard, shard_count);
        for &index in &owned.visitors {
            self.visitors[index] = part.visitors[index];
        }
        for &index in &owned.places {
            self.places[index] = part.places[index].clone();
        }
        for &index in &owned.walkways {
            self.walkways[index] = part.walkways[index].clone();
        }
    }
}

/// Indices of the visitors, places and walkways one shard owns.
struct Owned {
    visitors: Vec<usize>,
    places: Vec<usize>,
    walkways: Vec<usize>,
}

/// The state of one shard's actors, as saved (indices implied by the shard).
#[derive(serde::Serialize, serde::Deserialize)]
struct ShardPart<V, P, W> {
    visitors: Vec<V>,
    places: Vec<P>,
    walkways: Vec<W>,
}

impl CrowdWorld {
    fn owned(&self, shard: usize, shard_count: usize) -> Owned {
        let ids = |kind, count: usize| {
            (0..count).filter(move |&i| self.shard_of(ActorId::new(kind, i as u32), shard_count) == shard).collect()
        };
        Owned {
            visitors: ids(VISITOR, self.visitors.len()),
            places: ids(PLACE, self.places.len()),
            walkways: ids(WALKWAY, self.walkways.len()),
        }
    }
}

impl crate::kernel::ShardCodec for CrowdWorld {
    fn save_shard(&self, shard: usize, shard_count: usize) -> Vec<u8> {
        let owned = self.owned(shard, shard_count);
        let part = ShardPart {
            visitors: owned.visitors.iter().map(|&i| &self.visitors[i]).collect(),
            places: owned.places.iter().map(|&i| &self.places[i]).collect(),
            walkways: owned.walkways.iter().map(|&i| &self.walkways[i]).collect(),
        };
        postcard::to_allocvec(&part).expect("crowd state serialises")
    }

    fn load_shard(&mut self, bytes: &[u8], shard: usize, shard_count: usize) -> Result<(), String> {
        let part: ShardPart<Visitor, PlaceState, WalkwayState> =
            postcard::from_bytes(bytes).map_err(|e| format!("unreadable crowd state: {e}"))?;
        let owned = self.owned(shard, shard_count);
        let counts = (part.visitors.len(), part.places.len(), part.walkways.len());
        if counts != (owned.visitors.len(), owned.places.len(), owned.walkways.len()) {
            return Err(format!(
                "{} visitors, {} places and {} walkways saved; the shard owns {}, {} and {}",
                counts.0,
                counts.1,
                counts.2,
                owned.visitors.len(),
                owned.places.len(),
                owned.walkways.len()
            ));
        }
        for (index, visitor) in owned.visitors.into_iter().zip(part.visitors) {
            self.visitors[index] = visitor;
        }
        for (index, place) in owned.places.into_iter().zip(part.places) {
            self.places[index] = place;
        }
        for (index, walkway) in owned.walkways.into_iter().zip(part.walkways) {
            self.walkways[index] = walkway;
        }
        Ok(())
    }
}

/// Builds the simulation of `scenario` with every random stream from `seed`:
/// the site, the population (arrivals scheduled), sessions and interventions.
pub fn build(scenario: Scenario, seed: u64) -> Simulation<CrowdWorld> {
    build_with(scenario, seed, BuildOptions::default())
}

/// Builds `scenario` as [`build`] does, and, when some visitors follow
/// recommendations, first runs it with nobody following (the plan) and
/// gives the followers that run's congestion.
pub fn build_advised(scenario: Scenario, seed: u64) -> Simulation<CrowdWorld> {
    let share = scenario.visitors.as_ref().map_or(0.0, |v| v.recommended_share);
    if share <= 0.0 {
        return build(scenario, seed);
    }
    let advice = recommendation_congestion(&scenario, seed);
    build_with(scenario, seed, BuildOptions { advice: Some(Arc::new(advice)), ..BuildOptions::default() })
}

/// The congestion of `scenario`'s plan run (built without advice, so
/// nobody follows recommendations), run to its end on one thread, and the
/// network to plan on.
pub fn plan_congestion(scenario: &Scenario, seed: u64) -> (Congestion, Network) {
    let mut sim = build(scenario.clone(), seed);
    sim.run_until(scenario.end());
    let congestion = Congestion::from_run(scenario, &RunOutput::collect(&sim, seed));
    (congestion, Network::new(&sim.world().shared.site))
}

/// Rounds of successive averages in [`recommendation_congestion`].
pub const RECOMMENDATION_ROUNDS: usize = 3;

/// The congestion that recommendations are based on: the plan run (nobody
/// following), then [`RECOMMENDATION_ROUNDS`] rounds of the method of
/// successive averages of dynamic traffic assignment: run with followers
/// advised by the current congestion, and average the result in with
/// weight 1/(round + 1), so the advice accounts for where the followers
/// themselves go. Each run goes to the scenario's end on one thread.
pub fn recommendation_congestion(scenario: &Scenario, seed: u64) -> Congestion {
    let end = scenario.end();
    let (mut congestion, _) = plan_congestion(scenario, seed);
    for round in 1..=RECOMMENDATION_ROUNDS {
        let options = BuildOptions { advice: Some(Arc::new(congestion.clone())), ..BuildOptions::default() };
        let mut sim = build_with(scenario.clone(), seed, options);
        sim.run_until(end);
        congestion.blend(&Congestion::from_run(scenario, &RunOutput::collect(&sim, seed)), 1.0 / (round as f64 + 1.0));
    }
    congestion
}

/// [`build`] with options (a live twin's population headroom).
pub fn build_with(scenario: Scenario, seed: u64, options: BuildOptions) -> Simulation<CrowdWorld> {
    let population_headroom = options.population_headroom;
    assert!(
        population_headroom >= 1.0 && options.population_headroom <= 4.0,
        "population headroom must be between 1 and 4"
    );
    let sessions_by_venue = sessions_by_venue(&scenario);
    let place_rank = place_ranks(&scenario);
    let (mut visitors, mut arrivals, population) = population::generate(&scenario, seed, population_headroom);
    // A live twin's pool of walk-ins the scenario does not plan.
    let unplanned_walk_ins_from = visitors.len();
    if options.unplanned_walk_ins && population_headroom > 1.0 {
        let count = scenario.visitors.as_ref().map_or(0, |v| v.count);
        let unplanned = (count as f64 * UNPLANNED_WALK_IN_SHARE_MAX).round() as u64;
        for (visitor, at) in population::unplanned_walk_ins(&scenario, seed, unplanned) {
            arrivals.push((visitors.len() as u32, at));
            visitors.push(visitor);
        }
    }
    let site = Site::new(scenario);
    let advice = options.advice.map(|congestion| Advice { network: Network::new(&site), congestion });
    let shared = Arc::new(Shared {
        site,
        sessions_by_venue,
        place_rank,
        population_headroom,
        unplanned_walk_ins_from,
        activation_seed: seed ^ 0xAC71_7A7E,
        advice,
    });
    let places = (0..shared.site.scenario.places.len()).map(|i| PlaceState::new(&shared, i)).collect();
    let free_speed = shared.site.scenario.params.walk_speed_mps_free;
    let walkways =
        shared.site.scenario.walkways.iter().map(|_| WalkwayState::new(shared.site.interval, free_speed)).collect();
    let counts =
        [visitors.len() as u32, shared.site.scenario.places.len() as u32, shared.site.scenario.walkways.len() as u32];
    let world =
        CrowdWorld { shared: shared.clone(), tuning: Tuning::default(), visitors, places, walkways, population };
    let mut sim = Simulation::new(world, seed, &counts);
    for (visitor, at) in arrivals {
        sim.inject(ActorId::new(VISITOR, visitor), at, Message::Begin);
    }
    schedule(&mut sim, &shared.site.scenario);
    sim
}

/// The sessions held at each place (empty except at venues).
fn sessions_by_venue(scenario: &Scenario) -> Vec<Vec<u16>> {
    let mut sessions_by_venue = vec![Vec::new(); scenario.places.len()];
    for (index, session) in scenario.sessions.iter().enumerate() {
        sessions_by_venue[session.venue].push(index as u16);
    }
    sessions_by_venue
}

/// Each place's rank along the x axis (ties by index), for spatial shards.
fn place_ranks(scenario: &Scenario) -> Vec<u32> {
    let mut by_x: Vec<usize> = (0..scenario.places.len()).collect();
    by_x.sort_by(|&a, &b| {
        scenario.places[a].position_m[0].total_cmp(&scenario.places[b].position_m[0]).then(a.cmp(&b))
    });
    let mut place_rank = vec![0; scenario.places.len()];
    for (rank, &place) in by_x.iter().enumerate() {
        place_rank[place] = rank as u32;
    }
    place_rank
}

/// Schedules the scenario's session ends and interventions at their places.
fn schedule(sim: &mut Simulation<CrowdWorld>, scenario: &Scenario) {
    for (index, session) in scenario.sessions.iter().enumerate() {
        sim.inject(place::place_id(session.venue), session.end, Message::SessionEnd { session: index as u16 });
    }
    for intervention in &scenario.interventions {
        use crate::scenario::Intervention::*;
        let (place, message) = match *intervention {
            CloseGate { place, .. } => (place, Message::SetGate { open: false }),
            OpenGate { place, .. } => (place, Message::SetGate { open: true }),
            DelaySession { session, delay, .. } => (
                scenario.sessions[session].venue,
                Message::DelaySession { session: session as u16, delay_s: (delay.as_micros() / 1_000_000) as u32 },
            ),
            TransitDisruption { place, until, capacity_factor, .. } => {
                (place, Message::Disrupt { capacity_factor: capacity_factor as f32, until })
            }
            SlowService { place, until, rate_factor, .. } => {
                (place, Message::SlowService { rate_factor: rate_factor as f32, until })
            }
            // Visitors read it from the scenario when they choose.
            Behaviour(_) => continue,
        };
        sim.inject(place::place_id(place), intervention.at(), message);
    }
}
