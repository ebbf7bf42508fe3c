//! The live twin's ensemble members run ahead on worker nodes
//! (`crowdtwin serve --cluster`, `crowdtwin forecast-eval --cluster`).
//!
//! A forecast runs every member 30 minutes ahead from a fork; that is the
//! twin's heaviest work, and members need no synchronisation. With a
//! cluster, [`ClusterRunAhead`] sends each node a [`MembersJob`]: the
//! scenario's text and the twin's build settings (so the node builds the
//! twin's base simulation once and keeps it), and per member its state
//! saved as one shard ([`ShardRun::save`]), its seed, tuning and the
//! interventions it has taken. The node rebuilds each member on its base,
//! runs it to the window's end and returns [`member_future`], the numbers
//! a local fork gives. Members are dealt over the nodes' slots in order;
//! a node whose call fails is lost and its members go to the others; with
//! no node left the twin runs the members itself.

use super::WorkerMessage;
use super::coordinator::{Cluster, call_each};
use crowdtwin_live::TwinConfig;
use crowdtwin_live::ensemble::{FutureWindow, RunAhead, member_future, twin_build_options};
use crowdtwin_sim::Simulation;
use crowdtwin_sim::kernel::ShardRun;
use crowdtwin_sim::model::{self, CrowdWorld, Tuning};
use crowdtwin_sim::scenario::{Intervention, Scenario};
use ractor::ActorRef;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

/// Format version of member jobs.
pub const MEMBERS_WIRE_VERSION: u32 = 1;

/// Members to run ahead, as sent to a node (postcard).
#[derive(Debug, Serialize, Deserialize)]
pub struct MembersJob {
    /// [`MEMBERS_WIRE_VERSION`].
    pub version: u32,
    /// Name of the scenario file (in error messages).
    pub file: String,
    /// The scenario file's text.
    pub scenario: String,
    /// The twin's seed (its base build).
    pub seed: u64,
    /// The twin's population headroom.
    pub population_headroom: f64,
    /// What to run and read.
    pub window: FutureWindow,
    /// The members.
    pub members: Vec<MemberState>,
}

/// One member as sent.
#[derive(Debug, Serialize, Deserialize)]
pub struct MemberState {
    /// Its random streams' seed.
    pub seed: u64,
    /// Its parameters.
    pub tuning: Tuning,
    /// Every intervention its world holds (the scenario's and those reported live).
    pub interventions: Vec<Intervention>,
    /// Its state: [`ShardRun::save`] of its one shard.
    pub saved: Vec<u8>,
}

/// A node's answer to a [`MembersJob`].
#[derive(Debug, Serialize, Deserialize)]
pub enum MembersReply {
    /// Each member's future, in order.
    Futures(Vec<Vec<f64>>),
    /// Refused; the message says why.
    Refused(String),
}

/// Saves one member for a [`MembersJob`].
pub fn member_state(sim: &Simulation<CrowdWorld>) -> Result<MemberState, crate::ClusterError> {
    let world = sim.world();
    let lookahead = world.scenario().params.handoff();
    Ok(MemberState {
        seed: sim.seed(),
        tuning: world.tuning,
        interventions: world.scenario().interventions.clone(),
        saved: ShardRun::take(sim.clone(), 0, 1, lookahead)?.save(),
    })
}

/// A base simulation with the build settings it was made with.
type KeyedBase = (BaseKey, Arc<Simulation<CrowdWorld>>);

/// The twin's base simulation a node keeps, by the job's build settings.
#[derive(Clone, Default)]
pub struct MemberBases(Arc<Mutex<Option<KeyedBase>>>);

#[derive(Clone, Debug, PartialEq)]
struct BaseKey {
    scenario: String,
    seed: u64,
    headroom_bits: u64,
}

impl MemberBases {
    /// Answers one encoded [`MembersJob`] (what a worker does with it).
    pub fn answer(&self, bytes: &[u8]) -> Vec<u8> {
        let handle = |job| self.run(job).map(MembersReply::Futures);
        super::answer_postcard(bytes, "members job", handle, MembersReply::Refused)
    }

    fn base(&self, job: &MembersJob) -> Result<Arc<Simulation<CrowdWorld>>, String> {
        let key = BaseKey {
            scenario: job.scenario.clone(),
            seed: job.seed,
            headroom_bits: job.population_headroom.to_bits(),
        };
        let mut held = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((k, base)) = held.as_ref()
            && *k == key
        {
            return Ok(base.clone());
        }
        if !(1.0..=4.0).contains(&job.population_headroom) {
            return Err(format!("population headroom {} is outside 1..=4", job.population_headroom));
        }
        let scenario = Scenario::parse(&job.scenario, &job.file).map_err(|e| e.to_string())?;
        let config =
            TwinConfig { seed: job.seed, population_headroom: job.population_headroom, ..TwinConfig::default() };
        let options = twin_build_options(&config);
        let base = Arc::new(model::build_with(scenario, job.seed, options));
        *held = Some((key, base.clone()));
        Ok(base)
    }

    fn run(&self, job: MembersJob) -> Result<Vec<Vec<f64>>, String> {
        if job.version != MEMBERS_WIRE_VERSION {
            return Err(format!("members format {} (this node speaks {MEMBERS_WIRE_VERSION})", job.version));
        }
        let base = self.base(&job)?;
        let window = job.window;
        let lookahead = base.world().scenario().params.handoff();
        let run_one = |member: &MemberState| -> Result<Vec<f64>, String> {
            let mut sim = (*base).clone();
            sim.reseed(member.seed);
            let world = sim.world_mut();
            world.tuning = member.tuning;
            if member.interventions != world.scenario().interventions {
                let shared = world.with_interventions(member.interventions.clone());
                world.set_shared(shared);
            }
            let mut member_run = ShardRun::restore_taking(sim, &member.saved, lookahead).map_err(|e| e.to_string())?;
            member_run.run_window(window.end);
            Ok(member_future(member_run.world(), window))
        };
        on_cores(&job.members, run_one).into_iter().collect()
    }
}

/// `job` on every item, the items split over this machine's cores; results in order.
fn on_cores<T: Sync, R: Send>(items: &[T], job: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = items.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> =
            items.chunks(chunk).map(|part| scope.spawn(|| part.iter().map(&job).collect::<Vec<R>>())).collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
    })
}

/// Hears of a lost node: its address and why.
type OnLost = dyn Fn(&str, &str) + Send + Sync;

/// Runs a twin's members ahead on a cluster's nodes.
pub struct ClusterRunAhead {
    cluster: Cluster,
    file: String,
    scenario: String,
    /// Nodes lost so far (they get no more members).
    lost: Mutex<Vec<bool>>,
    /// Reports a lost node: address and why.
    on_lost: Box<OnLost>,
}

impl ClusterRunAhead {
    /// Members of a twin of `scenario` (the file's text, named `file`) go
    /// to `cluster`'s nodes; `on_lost` hears of each node lost (address, why).
    pub fn new(
        cluster: Cluster,
        (file, scenario): (&str, &str),
        on_lost: impl Fn(&str, &str) + Send + Sync + 'static,
    ) -> Self {
        let nodes = cluster.nodes.len();
        ClusterRunAhead {
            cluster,
            file: file.to_string(),
            scenario: scenario.to_string(),
            lost: Mutex::new(vec![false; nodes]),
            on_lost: Box::new(on_lost),
        }
    }

    fn job(&self, config: &TwinConfig, window: FutureWindow, members: Vec<MemberState>) -> Vec<u8> {
        let job = MembersJob {
            version: MEMBERS_WIRE_VERSION,
            file: self.file.clone(),
            scenario: self.scenario.clone(),
            seed: config.seed,
            population_headroom: config.population_headroom,
            window,
            members,
        };
        postcard::to_allocvec(&job).expect("a members job serialises")
    }
}

impl ClusterRunAhead {
    /// Deals the waiting members, in order, over the live nodes' slots:
    /// `(node, members)` per job.
    fn deal(&self, waiting: &[usize]) -> Result<Vec<(usize, Vec<usize>)>, String> {
        let lost = self.lost.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let slots: Vec<usize> = (0..self.cluster.nodes.len())
            .filter(|&n| !lost[n])
            .flat_map(|n| std::iter::repeat_n(n, self.cluster.nodes[n].slots))
            .collect();
        if slots.is_empty() {
            return Err("every node is lost".into());
        }
        let per_slot = waiting.len().div_ceil(slots.len());
        Ok(waiting.chunks(per_slot).zip(&slots).map(|(part, &node)| (node, part.to_vec())).collect())
    }

    /// Sends each job to its worker at once and waits for every answer. The
    /// cluster's runtime runs on a thread of its own: the caller may be
    /// inside another runtime.
    fn call(&self, calls: Vec<(ActorRef<WorkerMessage>, Vec<u8>)>) -> Vec<Result<Vec<u8>, String>> {
        let timeout = self.cluster.job_timeout;
        std::thread::scope(|scope| {
            scope
                .spawn(|| self.cluster.runtime.block_on(call_each(calls, WorkerMessage::Members, timeout)))
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    }
}

impl RunAhead for ClusterRunAhead {
    fn run_ahead(
        &self,
        config: &TwinConfig,
        members: &[&Simulation<CrowdWorld>],
        window: FutureWindow,
    ) -> Result<Vec<Vec<f64>>, String> {
        // Saving a member takes tens of milliseconds: on every core at once.
        let saved = on_cores(members, |sim| member_state(sim));
        let mut states: Vec<Option<MemberState>> =
            saved.into_iter().map(|s| s.map(Some)).collect::<Result<_, _>>().map_err(|e| e.to_string())?;
        let mut futures: Vec<Option<Vec<f64>>> = vec![None; members.len()];
        loop {
            let waiting: Vec<usize> = (0..members.len()).filter(|&i| futures[i].is_none()).collect();
            if waiting.is_empty() {
                return Ok(futures.into_iter().map(|f| f.expect("every member has its future")).collect());
            }
            let jobs = self.deal(&waiting)?;
            let calls: Vec<(usize, Vec<usize>, Vec<u8>)> = jobs
                .into_iter()
                .map(|(node, part)| {
                    let sent = part.iter().map(|&i| states[i].take().expect("a member is sent once")).collect();
                    let bytes = self.job(config, window, sent);
                    (node, part, bytes)
                })
                .collect();
            let (targets, calls): (Vec<(usize, Vec<usize>)>, Vec<_>) = calls
                .into_iter()
                .map(|(node, part, bytes)| ((node, part), (self.cluster.nodes[node].worker.clone(), bytes)))
                .unzip();
            let replies = self.call(calls);
            let answers = targets.into_iter().zip(replies).map(|((node, part), answer)| (node, part, answer));
            for (node, part, answer) in answers {
                let address = &self.cluster.nodes[node].address;
                let why = match answer.map(|bytes| postcard::from_bytes::<MembersReply>(&bytes)) {
                    Ok(Ok(MembersReply::Futures(got))) if got.len() == part.len() => {
                        for (i, future) in part.into_iter().zip(got) {
                            futures[i] = Some(future);
                        }
                        continue;
                    }
                    Ok(Ok(MembersReply::Refused(why))) => return Err(format!("node {address} refused: {why}")),
                    Ok(Ok(MembersReply::Futures(got))) => format!("{} futures for {} members", got.len(), part.len()),
                    Ok(Err(error)) => format!("unreadable reply: {error}"),
                    Err(why) => why,
                };
                self.lost.lock().unwrap_or_else(|p| p.into_inner())[node] = true;
                (self.on_lost)(address, &why);
                // Its members go to the others in the next round.
                for i in part {
                    states[i] = Some(member_state(members[i]).map_err(|e| e.to_string())?);
                }
            }
        }
    }
}
