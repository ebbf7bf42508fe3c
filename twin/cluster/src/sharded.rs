//! One run's shards on worker nodes: `crowdtwin run FILE --cluster nodes.toml`.
//!
//! The coordinator builds the run's simulation itself (to merge the shards
//! into at the end) and opens the run on every node with the scenario's
//! text and seed, so each node builds the same simulation and holds the
//! shards it is given as [`ShardRun`]s. Time then advances in the windows
//! of an in-process sharded run: each window starts at the earliest pending
//! event over all shards and lasts one lookahead. Per window the coordinator
//! sends each node that has work (a message to deliver, an event before the
//! window's end, or a checkpoint due) one [`ShardRequest::Step`]: deliver
//! these messages, run to the window's end. The reply carries each shard's
//! earliest pending event and the messages it sent to other shards, which
//! the coordinator routes into the next window's steps. The shards therefore
//! see exactly the events of a single-process run, and the merged result is
//! byte-identical.
//!
//! Checkpoints: every `checkpoint_every` of simulated time the step also
//! asks each shard to save its state at the window's edge
//! ([`ShardRun::save`]); the coordinator keeps the last complete set, with
//! the messages then in flight. A node whose call fails or times out is
//! lost: its shards are dealt to the surviving nodes and every shard
//! restarts from that checkpoint ([`ShardRequest::Open`] with the saved
//! states), so the run completes with the same result. At the end each node
//! returns its shards' final states, merged with
//! [`Simulation::merge_saved_shards`].

use super::WorkerMessage;
use super::coordinator::{Cluster, call_each};
use crate::ClusterError;
use crowdtwin_sim::kernel::{Event, ShardRun};
use crowdtwin_sim::model::{self, CrowdWorld, Message};
use crowdtwin_sim::scenario::Scenario;
use crowdtwin_sim::{RunStats, SimDuration, SimTime, Simulation};
use ractor::ActorRef;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Format version of shard requests and replies.
pub const SHARD_WIRE_VERSION: u32 = 1;

/// Messages for one shard, by shard index.
type Mail = Vec<(u32, Vec<Event<Message>>)>;

/// A request about one run's shards, sent to a node's worker (postcard).
#[derive(Debug, Serialize, Deserialize)]
pub enum ShardRequest {
    /// Build the run's simulation and hold these shards, each fresh from
    /// the build or restored from saved state; shards of this run held
    /// before are dropped.
    Open {
        /// [`SHARD_WIRE_VERSION`].
        version: u32,
        /// The run's id.
        run: u64,
        /// Name of the scenario file (in error messages).
        file: String,
        /// The scenario file's text.
        scenario: String,
        /// Seed.
        seed: u64,
        /// Shards in the run.
        shard_count: u32,
        /// Window length, µs.
        lookahead_us: u64,
        /// The shards to hold: index, and saved state (`None`: fresh).
        shards: Vec<(u32, Option<Vec<u8>>)>,
    },
    /// Deliver `inbound`, run every held shard to `window_end` and, with
    /// `save`, save each at that edge.
    Step {
        /// The run's id.
        run: u64,
        /// The window's end.
        window_end: SimTime,
        /// Messages from other shards.
        inbound: Mail,
        /// Save every held shard after the window.
        save: bool,
    },
    /// Deliver `inbound`, return every held shard's saved state, and forget the run.
    Finish {
        /// The run's id.
        run: u64,
        /// Messages from other shards.
        inbound: Mail,
    },
}

/// One shard after a step.
#[derive(Debug, Serialize, Deserialize)]
pub struct Stepped {
    /// Shard index.
    pub index: u32,
    /// Its earliest pending event.
    pub earliest: Option<SimTime>,
    /// Messages it sent to other shards, by destination.
    pub outgoing: Mail,
    /// Its saved state, when asked for.
    pub saved: Option<Vec<u8>>,
}

/// A node's answer to a [`ShardRequest`].
#[derive(Debug, Serialize, Deserialize)]
pub enum ShardReply {
    /// The shards are held; their earliest pending events.
    Opened(Vec<(u32, Option<SimTime>)>),
    /// A window was run.
    Stepped(Vec<Stepped>),
    /// The final saved states.
    Finished(Vec<(u32, Vec<u8>)>),
    /// The request was refused; the message says why.
    Refused(String),
}

/// One run as a node holds it: its shards (each with its own copy of the
/// world; the node keeps no other, so a restart rebuilds the simulation).
struct NodeRun {
    shards: Vec<ShardRun<CrowdWorld>>,
}

/// The runs a node holds, by id.
#[derive(Clone, Default)]
pub struct NodeRuns(Arc<Mutex<HashMap<u64, NodeRun>>>);

impl NodeRuns {
    /// Answers one encoded request (what a worker does with it).
    pub fn answer(&self, bytes: &[u8]) -> Vec<u8> {
        let handle = |request| self.handle(request).map_err(|e| e.to_string());
        super::answer_postcard(bytes, "shard request", handle, ShardReply::Refused)
    }

    fn handle(&self, request: ShardRequest) -> Result<ShardReply, ClusterError> {
        let mut runs = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match request {
            ShardRequest::Open { version, run, file, scenario, seed, shard_count, lookahead_us, shards } => {
                if version != SHARD_WIRE_VERSION {
                    return Err(ClusterError::Protocol(format!(
                        "shard format {version} (this node speaks {SHARD_WIRE_VERSION})"
                    )));
                }
                // Drop what this node held of the run before building it again.
                runs.remove(&run);
                let base = model::build_advised(Scenario::parse(&scenario, &file)?, seed);
                let lookahead = SimDuration(lookahead_us);
                let count = shards.len();
                let mut base = Some(base);
                let mut held = Vec::with_capacity(count);
                for (position, (index, saved)) in shards.into_iter().enumerate() {
                    // Each shard gets a copy of the build; the last takes the build itself.
                    let sim = if position + 1 == count { base.take() } else { base.clone() }.expect("a build");
                    held.push(match saved {
                        None => ShardRun::take(sim, index as usize, shard_count as usize, lookahead)?,
                        Some(bytes) => ShardRun::restore_taking(sim, &bytes, lookahead)?,
                    });
                }
                let earliest = held.iter().map(|s| (s.index() as u32, s.earliest())).collect();
                runs.insert(run, NodeRun { shards: held });
                Ok(ShardReply::Opened(earliest))
            }
            ShardRequest::Step { run, window_end, inbound, save } => {
                let held = runs.get_mut(&run).ok_or_else(|| ClusterError::Protocol(format!("no run {run} here")))?;
                deliver(&mut held.shards, inbound)?;
                let step = |shard: &mut ShardRun<CrowdWorld>| {
                    let outgoing = shard.run_window(window_end);
                    Stepped {
                        index: shard.index() as u32,
                        earliest: shard.earliest(),
                        outgoing: outgoing
                            .into_iter()
                            .enumerate()
                            .filter(|(_, batch)| !batch.is_empty())
                            .map(|(to, batch)| (to as u32, batch))
                            .collect(),
                        saved: save.then(|| shard.save()),
                    }
                };
                // The node's shards run the window side by side.
                let stepped = if held.shards.len() == 1 {
                    vec![step(&mut held.shards[0])]
                } else {
                    std::thread::scope(|scope| {
                        let handles: Vec<_> = held.shards.iter_mut().map(|s| scope.spawn(|| step(s))).collect();
                        handles.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
                    })
                };
                Ok(ShardReply::Stepped(stepped))
            }
            ShardRequest::Finish { run, inbound } => {
                let mut held = runs.remove(&run).ok_or_else(|| ClusterError::Protocol(format!("no run {run} here")))?;
                deliver(&mut held.shards, inbound)?;
                Ok(ShardReply::Finished(held.shards.iter().map(|s| (s.index() as u32, s.save())).collect()))
            }
        }
    }
}

fn deliver(shards: &mut [ShardRun<CrowdWorld>], inbound: Mail) -> Result<(), ClusterError> {
    for (index, events) in inbound {
        let shard = shards
            .iter_mut()
            .find(|s| s.index() == index as usize)
            .ok_or_else(|| ClusterError::Protocol(format!("shard {index} is not held here")))?;
        shard.deliver(events)?;
    }
    Ok(())
}

/// Settings of a run on a cluster.
#[derive(Clone, Debug)]
pub struct ShardedOptions {
    /// Shards (spread over the nodes).
    pub shard_count: usize,
    /// Simulated time between checkpoints.
    pub checkpoint_every: SimDuration,
}

/// What the coordinator reports while a run goes on.
#[derive(Clone, Debug)]
pub enum RunEvent {
    /// The shards were placed: node address and its shard indices.
    Placed(Vec<(String, Vec<usize>)>),
    /// Every shard saved its state at this edge.
    Checkpoint(SimTime),
    /// A node was lost at `at`; every shard restarts from the checkpoint at `from`.
    NodeLost {
        /// The node's address.
        node: String,
        /// Why it counts as lost.
        why: String,
        /// The window edge reached when it was lost.
        at: SimTime,
        /// The checkpoint the run restarts from.
        from: SimTime,
    },
}

/// The last complete checkpoint: every shard's state (`None`: as built)
/// and the messages then in flight.
#[derive(Clone)]
struct Checkpoint {
    at: SimTime,
    saved: Vec<Option<Vec<u8>>>,
    inbound: Vec<Vec<Event<Message>>>,
}

/// A node as a run sees it.
struct Member {
    address: String,
    worker: ActorRef<WorkerMessage>,
    alive: bool,
}

/// Why a call to a node failed.
struct Lost {
    node: usize,
    why: String,
}

impl Cluster {
    /// Runs `sim` (built from `text` as every node builds it) to `until` with
    /// its shards on the nodes, then merges them into `sim`. `text` and
    /// `file` are the scenario's text and name; `on_event` hears of
    /// placements, checkpoints and lost nodes.
    pub fn run_sharded(
        &self,
        sim: &mut Simulation<CrowdWorld>,
        (file, text): (&str, &str),
        until: SimTime,
        options: &ShardedOptions,
        on_event: impl Fn(&RunEvent),
    ) -> Result<RunStats, ClusterError> {
        let shard_count = options.shard_count;
        if shard_count == 0 || shard_count > crowdtwin_sim::kernel::SHARD_COUNT_MAX {
            return Err(ClusterError::InvalidOption(format!("--shards {shard_count}: between 1 and 256")));
        }
        if options.checkpoint_every == SimDuration::ZERO {
            return Err(ClusterError::InvalidOption("the checkpoint interval must be positive".into()));
        }
        let seed = sim.seed();
        let mut driver = Driver {
            members: self
                .nodes
                .iter()
                .map(|n| Member { address: n.address.clone(), worker: n.worker.clone(), alive: true })
                .collect(),
            node_slots: self.nodes.iter().map(|n| n.slots).collect(),
            timeout: self.job_timeout,
            run: run_id(seed, text),
            file,
            text,
            seed,
            shard_count,
            lookahead: sim.world().scenario().params.handoff(),
            until,
            checkpoint_every: options.checkpoint_every,
            checkpoint: Checkpoint {
                at: sim.now(),
                saved: vec![None; shard_count],
                inbound: vec![Vec::new(); shard_count],
            },
            next_checkpoint: sim.now() + options.checkpoint_every,
        };
        let parts = self.runtime.block_on(driver.run(&on_event))?;
        Ok(sim.merge_saved_shards(&parts, until)?)
    }
}

/// One run on the nodes: what stays across placements (the nodes, the
/// last checkpoint) and the run's fixed settings.
struct Driver<'a> {
    members: Vec<Member>,
    /// Slots of each node.
    node_slots: Vec<usize>,
    timeout: Duration,
    run: u64,
    file: &'a str,
    text: &'a str,
    seed: u64,
    shard_count: usize,
    lookahead: SimDuration,
    until: SimTime,
    checkpoint_every: SimDuration,
    checkpoint: Checkpoint,
    next_checkpoint: SimTime,
}

/// Where the shards sit: the nodes holding any, and each node's shards.
struct Placement {
    live: Vec<usize>,
    holdings: Vec<Vec<usize>>,
}

/// The shards' progress within one placement: each shard's earliest event,
/// the mail waiting for it, and the last window edge reached.
struct Progress {
    earliest: Vec<Option<SimTime>>,
    inbound: Vec<Vec<Event<Message>>>,
    edge: SimTime,
}

/// How one placement's run ended.
enum Ended {
    /// Every shard's final state, in shard order.
    Finished(Vec<Vec<u8>>),
    /// A node was lost at this edge.
    Lost(Lost, SimTime),
}

impl Driver<'_> {
    /// Places the shards, runs them, and after a lost node places them
    /// again from the last checkpoint; returns the final states.
    async fn run(&mut self, on_event: &dyn Fn(&RunEvent)) -> Result<Vec<Vec<u8>>, ClusterError> {
        loop {
            let placement = self.place()?;
            on_event(&RunEvent::Placed(
                placement
                    .live
                    .iter()
                    .map(|&m| (self.members[m].address.clone(), placement.holdings[m].clone()))
                    .collect(),
            ));
            let ended = match self.open(&placement).await? {
                Err(lost) => Ended::Lost(lost, self.checkpoint.at),
                Ok(earliest) => self.drive(&placement, earliest, on_event).await?,
            };
            match ended {
                Ended::Finished(parts) => return Ok(parts),
                Ended::Lost(lost, at) => lose(&mut self.members, lost, at, self.checkpoint.at, on_event),
            }
        }
    }

    /// Deals the shards over the live nodes' slots.
    fn place(&self) -> Result<Placement, ClusterError> {
        let live: Vec<usize> = (0..self.members.len()).filter(|&m| self.members[m].alive).collect();
        if live.is_empty() {
            return Err(ClusterError::Node("every node was lost".into()));
        }
        let mut slots: Vec<usize> = Vec::new();
        for &m in &live {
            slots.extend(std::iter::repeat_n(m, self.node_slots[m]));
        }
        let place: Vec<usize> = (0..self.shard_count).map(|shard| slots[shard % slots.len()]).collect();
        let holdings: Vec<Vec<usize>> =
            (0..self.members.len()).map(|m| (0..self.shard_count).filter(|&s| place[s] == m).collect()).collect();
        let live = live.into_iter().filter(|&m| !holdings[m].is_empty()).collect();
        Ok(Placement { live, holdings })
    }

    /// Opens every shard on its node from the checkpoint; returns each
    /// shard's earliest event.
    async fn open(&self, placement: &Placement) -> Result<Result<Vec<Option<SimTime>>, Lost>, ClusterError> {
        let calls = placement
            .live
            .iter()
            .map(|&m| {
                let shards =
                    placement.holdings[m].iter().map(|&s| (s as u32, self.checkpoint.saved[s].clone())).collect();
                let request = ShardRequest::Open {
                    version: SHARD_WIRE_VERSION,
                    run: self.run,
                    file: self.file.to_string(),
                    scenario: self.text.to_string(),
                    seed: self.seed,
                    shard_count: self.shard_count as u32,
                    lookahead_us: self.lookahead.0,
                    shards,
                };
                (m, request)
            })
            .collect();
        let replies = match call_all(&self.members, calls, self.timeout).await? {
            Err(lost) => return Ok(Err(lost)),
            Ok(replies) => replies,
        };
        let mut earliest = vec![None; self.shard_count];
        for (_, reply) in replies {
            let ShardReply::Opened(opened) = reply else { return Err(unexpected(&reply)) };
            for (index, time) in opened {
                earliest[index as usize] = time;
            }
        }
        Ok(Ok(earliest))
    }

    /// Runs the placed shards window by window to the end.
    async fn drive(
        &mut self,
        placement: &Placement,
        earliest: Vec<Option<SimTime>>,
        on_event: &dyn Fn(&RunEvent),
    ) -> Result<Ended, ClusterError> {
        let mut progress = Progress { earliest, inbound: self.checkpoint.inbound.clone(), edge: self.checkpoint.at };
        loop {
            let start = (0..self.shard_count)
                .filter_map(|s| {
                    progress.earliest[s].into_iter().chain(progress.inbound[s].iter().map(|e| e.time)).min()
                })
                .min();
            let Some(start) = start.filter(|&t| t < self.until) else {
                return self.finish(placement, &mut progress.inbound).await;
            };
            let window_end = (start + self.lookahead).min(self.until);
            if let Err(lost) = self.step(placement, &mut progress, window_end, on_event).await? {
                return Ok(Ended::Lost(lost, progress.edge));
            }
        }
    }

    /// One window: every node with work (mail, an event before the edge, or
    /// a checkpoint due) steps its shards to `window_end`.
    async fn step(
        &mut self,
        placement: &Placement,
        progress: &mut Progress,
        window_end: SimTime,
        on_event: &dyn Fn(&RunEvent),
    ) -> Result<Result<(), Lost>, ClusterError> {
        let save = window_end >= self.next_checkpoint;
        let busy: Vec<usize> = placement
            .live
            .iter()
            .copied()
            .filter(|&m| {
                save || placement.holdings[m]
                    .iter()
                    .any(|&s| !progress.inbound[s].is_empty() || progress.earliest[s].is_some_and(|t| t < window_end))
            })
            .collect();
        let calls: Vec<(usize, ShardRequest)> = busy
            .into_iter()
            .map(|m| {
                let mail = take_mail(&mut progress.inbound, &placement.holdings[m]);
                (m, ShardRequest::Step { run: self.run, window_end, inbound: mail, save })
            })
            .collect();
        let replies = match call_all(&self.members, calls, self.timeout).await? {
            Err(lost) => return Ok(Err(lost)),
            Ok(replies) => replies,
        };
        let saved = progress.absorb(replies)?;
        progress.edge = window_end;
        if save {
            self.keep_checkpoint(window_end, saved, &progress.inbound, on_event)?;
        }
        Ok(Ok(()))
    }

    /// Keeps a complete set of saved shards and the mail in flight as the
    /// checkpoint to restart from.
    fn keep_checkpoint(
        &mut self,
        at: SimTime,
        saved: Vec<Option<Vec<u8>>>,
        inbound: &[Vec<Event<Message>>],
        on_event: &dyn Fn(&RunEvent),
    ) -> Result<(), ClusterError> {
        if saved.iter().any(Option::is_none) {
            return Err(ClusterError::Protocol("a node did not save every shard it holds".into()));
        }
        self.checkpoint = Checkpoint { at, saved, inbound: inbound.to_vec() };
        while self.next_checkpoint <= at {
            self.next_checkpoint += self.checkpoint_every;
        }
        on_event(&RunEvent::Checkpoint(at));
        Ok(())
    }

    /// Delivers the last mail and collects every shard's final state.
    async fn finish(&self, placement: &Placement, inbound: &mut [Vec<Event<Message>>]) -> Result<Ended, ClusterError> {
        let calls = placement
            .live
            .iter()
            .map(|&m| (m, ShardRequest::Finish { run: self.run, inbound: take_mail(inbound, &placement.holdings[m]) }))
            .collect();
        let replies = match call_all(&self.members, calls, self.timeout).await? {
            Err(lost) => return Ok(Ended::Lost(lost, self.until)),
            Ok(replies) => replies,
        };
        let mut parts = Vec::with_capacity(self.shard_count);
        for (_, reply) in replies {
            let ShardReply::Finished(saved) = reply else { return Err(unexpected(&reply)) };
            parts.extend(saved.into_iter().map(|(_, bytes)| bytes));
        }
        Ok(Ended::Finished(parts))
    }
}

impl Progress {
    /// Takes in the nodes' step replies: earliest events and mail; returns
    /// the shards' saved states (where saved).
    fn absorb(&mut self, replies: Vec<(usize, ShardReply)>) -> Result<Vec<Option<Vec<u8>>>, ClusterError> {
        let mut saved = vec![None; self.earliest.len()];
        for (_, reply) in replies {
            let ShardReply::Stepped(stepped) = reply else { return Err(unexpected(&reply)) };
            for shard in stepped {
                let index = shard.index as usize;
                self.earliest[index] = shard.earliest;
                for (to, events) in shard.outgoing {
                    self.inbound
                        .get_mut(to as usize)
                        .ok_or_else(|| ClusterError::Protocol(format!("a node sent mail to shard {to}")))?
                        .extend(events);
                }
                saved[index] = shard.saved;
            }
        }
        Ok(saved)
    }
}

/// A run's id: the same for the same scenario text and seed.
fn run_id(seed: u64, text: &str) -> u64 {
    text.bytes().fold(seed ^ 0xCBF2_9CE4_8422_2325, |hash, byte| (hash ^ byte as u64).wrapping_mul(0x100_0000_01B3))
}

fn take_mail(inbound: &mut [Vec<Event<Message>>], shards: &[usize]) -> Mail {
    let mut mail = Vec::new();
    for &s in shards {
        if !inbound[s].is_empty() {
            mail.push((s as u32, std::mem::take(&mut inbound[s])));
        }
    }
    mail
}

fn unexpected(reply: &ShardReply) -> ClusterError {
    match reply {
        ShardReply::Refused(why) => ClusterError::Node(format!("a node refused the run: {why}")),
        _ => ClusterError::Protocol("a node answered out of turn".into()),
    }
}

fn lose(members: &mut [Member], lost: Lost, at: SimTime, from: SimTime, on_event: &dyn Fn(&RunEvent)) {
    members[lost.node].alive = false;
    on_event(&RunEvent::NodeLost { node: members[lost.node].address.clone(), why: lost.why, at, from });
}

/// Sends each request to its node at once and waits for every answer.
/// A refusal is an error of the run (the same request would be refused
/// elsewhere); a failed call loses its node.
async fn call_all(
    members: &[Member],
    calls: Vec<(usize, ShardRequest)>,
    timeout: Duration,
) -> Result<Result<Vec<(usize, ShardReply)>, Lost>, ClusterError> {
    let nodes: Vec<usize> = calls.iter().map(|(m, _)| *m).collect();
    let calls = calls
        .into_iter()
        .map(|(m, request)| {
            (members[m].worker.clone(), postcard::to_allocvec(&request).expect("a shard request serialises"))
        })
        .collect();
    let answers = call_each(calls, WorkerMessage::Shard, timeout).await;
    let mut replies = Vec::with_capacity(answers.len());
    let mut lost = None;
    for (m, answer) in nodes.into_iter().zip(answers) {
        let why = match answer {
            Ok(bytes) => match postcard::from_bytes::<ShardReply>(&bytes) {
                Ok(ShardReply::Refused(why)) => {
                    return Err(ClusterError::Node(format!("node {} refused the run: {why}", members[m].address)));
                }
                Ok(reply) => {
                    replies.push((m, reply));
                    continue;
                }
                Err(error) => format!("unreadable reply: {error}"),
            },
            Err(why) => why,
        };
        lost.get_or_insert(Lost { node: m, why });
    }
    Ok(match lost {
        Some(lost) => Err(lost),
        None => Ok(replies),
    })
}
