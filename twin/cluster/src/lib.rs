//! Scale-out over worker nodes with ractor_cluster.
//!
//! `crowdtwin node --listen ADDR --cookie-file F` starts a worker node: a
//! ractor_cluster `NodeServer` that authenticates peers by the shared cookie
//! (a peer with another cookie is refused during the handshake) and a
//! [`node::Worker`] actor in the process group [`WORKER_GROUP`], which
//! ractor_cluster makes visible to every connected node.
//!
//! A coordinator ([`coordinator::Cluster`], used by `crowdtwin stress
//! --cluster nodes.toml`) connects to the nodes named in a nodes file, finds
//! their workers in the group and places work on them: each stress point is
//! one job, described by the scenario's text, the sweep and the point's
//! index, so a node recomputes exactly the point a local run would, and the
//! reply carries the point's peaks with floats as their bits. Results are
//! kept in point order, so the files are byte-identical to a single-process
//! run. A job is a pure function of its description, which is therefore its
//! checkpoint: when a node dies (its session closes or a call times out)
//! its jobs go back to the queue and restart on the surviving nodes, and the
//! run completes with the same result.

#![warn(missing_docs)]

pub mod coordinator;
mod error;
pub mod members;
pub mod node;
pub mod sharded;

pub use error::ClusterError;
use ractor::RpcReplyPort;
use ractor_cluster::RactorClusterMessage;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The process group every worker joins.
pub const WORKER_GROUP: &str = "crowdtwin.workers";
/// Largest cookie file read, bytes.
pub const COOKIE_FILE_BYTES_MAX: u64 = 4_096;
/// Largest nodes file read, bytes.
pub const NODES_FILE_BYTES_MAX: u64 = 1024 * 1024;
/// Most nodes one nodes file may name.
pub const NODES_MAX: usize = 256;
/// Most jobs a node runs at once.
pub const NODE_SLOTS_MAX: usize = 256;
/// Format version of jobs and replies.
pub const WIRE_VERSION: u32 = 1;

/// Messages of the worker actor; they cross nodes (serialised by
/// ractor_cluster), each payload a JSON document.
#[derive(RactorClusterMessage)]
pub enum WorkerMessage {
    /// Run one stress point: a [`PointJob`]; the reply is a [`JobReply`].
    #[rpc]
    RunPoint(Vec<u8>, RpcReplyPort<Vec<u8>>),
    /// A request about one run's shards: a [`sharded::ShardRequest`]
    /// (postcard); the reply is a [`sharded::ShardReply`].
    #[rpc]
    Shard(Vec<u8>, RpcReplyPort<Vec<u8>>),
    /// Live-twin members to run ahead: a [`members::MembersJob`]
    /// (postcard); the reply is a [`members::MembersReply`].
    #[rpc]
    Members(Vec<u8>, RpcReplyPort<Vec<u8>>),
}

/// One stress point, as sent to a node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PointJob {
    /// [`WIRE_VERSION`].
    pub version: u32,
    /// Name of the scenario file (in error messages).
    pub file: String,
    /// The scenario file's text.
    pub scenario: String,
    /// `--vary` as `PARAM=LO..HI`.
    pub vary: String,
    /// Points in the sweep.
    pub steps: usize,
    /// This point's index.
    pub index: usize,
    /// Gates closed all day.
    pub close_gates: Vec<String>,
    /// Seed.
    pub seed: u64,
}

/// A node's answer to a [`PointJob`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum JobReply {
    /// The point's result.
    Done(crowdtwin_planner::stress::PointResult),
    /// The job was refused; the message says why.
    Refused(String),
}

/// What a node answers to a request of `what` in `bytes` (postcard): the
/// reply `handle` gives, or `refused(why)` when the request is malformed,
/// `handle` fails, or it panics; encoded in postcard.
pub(crate) fn answer_postcard<Q: serde::de::DeserializeOwned, R: Serialize>(
    bytes: &[u8],
    what: &str,
    handle: impl FnOnce(Q) -> Result<R, String>,
    refused: impl Fn(String) -> R,
) -> Vec<u8> {
    let reply = match postcard::from_bytes::<Q>(bytes) {
        Ok(request) => match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handle(request))) {
            Ok(Ok(reply)) => reply,
            Ok(Err(why)) => refused(why),
            Err(panic) => refused(format!(
                "the {what} panicked: {}",
                panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("?")
            )),
        },
        Err(error) => refused(format!("malformed {what}: {error}")),
    };
    postcard::to_allocvec(&reply).expect("a reply serialises")
}

/// A nodes file (`nodes.toml`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodesFile {
    /// The cookie file shared with the nodes (relative to the nodes file).
    pub cookie_file: PathBuf,
    /// Seconds to wait for each node to connect and authenticate.
    #[serde(default = "default_connect_timeout_s")]
    pub connect_timeout_s: f64,
    /// Seconds a job may take before its node counts as lost.
    #[serde(default = "default_job_timeout_s")]
    pub job_timeout_s: f64,
    /// The nodes.
    pub nodes: Vec<NodeEntry>,
}

fn default_connect_timeout_s() -> f64 {
    10.0
}

fn default_job_timeout_s() -> f64 {
    600.0
}

/// One node of a nodes file.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeEntry {
    /// `host:port` the node listens on.
    pub address: String,
    /// Jobs it runs at once (default 1).
    #[serde(default = "default_slots")]
    pub slots: usize,
}

fn default_slots() -> usize {
    1
}

/// A nodes file, read and checked, with its cookie.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterConfig {
    /// The nodes.
    pub nodes: Vec<NodeEntry>,
    /// The shared cookie.
    pub cookie: String,
    /// See [`NodesFile::connect_timeout_s`].
    pub connect_timeout: std::time::Duration,
    /// See [`NodesFile::job_timeout_s`].
    pub job_timeout: std::time::Duration,
}

fn read_limited(path: &Path, max: u64, what: &str) -> Result<String, ClusterError> {
    let name = path.display();
    let metadata = std::fs::metadata(path).map_err(|e| ClusterError::File(format!("{what} {name}: {e}")))?;
    if metadata.len() > max {
        return Err(ClusterError::File(format!("{what} {name}: larger than {max} bytes")));
    }
    std::fs::read_to_string(path).map_err(|e| ClusterError::File(format!("{what} {name}: {e}")))
}

/// Reads a cookie file: its text without surrounding white space, not empty.
pub fn read_cookie(path: &Path) -> Result<String, ClusterError> {
    let text = read_limited(path, COOKIE_FILE_BYTES_MAX, "cookie file")?;
    let cookie = text.trim();
    if cookie.is_empty() {
        return Err(ClusterError::File(format!("cookie file {}: empty", path.display())));
    }
    Ok(cookie.to_string())
}

/// Reads and checks a nodes file and the cookie file it names.
pub fn read_nodes_file(path: &Path) -> Result<ClusterConfig, ClusterError> {
    let text = read_limited(path, NODES_FILE_BYTES_MAX, "nodes file")?;
    let file: NodesFile =
        toml::from_str(&text).map_err(|e| ClusterError::File(format!("nodes file {}: {e}", path.display())))?;
    let bad = |why: String| ClusterError::File(format!("nodes file {}: {why}", path.display()));
    if file.nodes.is_empty() || file.nodes.len() > NODES_MAX {
        return Err(bad(format!("name between 1 and {NODES_MAX} [[nodes]]")));
    }
    for (index, node) in file.nodes.iter().enumerate() {
        if file.nodes[..index].iter().any(|other| other.address == node.address) {
            return Err(bad(format!("node {} is named twice", node.address)));
        }
        if !(1..=NODE_SLOTS_MAX).contains(&node.slots) {
            return Err(bad(format!("node {}: slots must be between 1 and {NODE_SLOTS_MAX}", node.address)));
        }
        if !node.address.contains(':') {
            return Err(bad(format!("node `{}`: write host:port", node.address)));
        }
    }
    for (what, seconds) in [("connect_timeout_s", file.connect_timeout_s), ("job_timeout_s", file.job_timeout_s)] {
        if !(seconds.is_finite() && seconds > 0.0 && seconds <= 86_400.0) {
            return Err(bad(format!("{what} must be between 0 and 86400")));
        }
    }
    let cookie_path = path.parent().unwrap_or(Path::new(".")).join(&file.cookie_file);
    Ok(ClusterConfig {
        nodes: file.nodes,
        cookie: read_cookie(&cookie_path)?,
        connect_timeout: std::time::Duration::from_secs_f64(file.connect_timeout_s),
        job_timeout: std::time::Duration::from_secs_f64(file.job_timeout_s),
    })
}

/// Runs a job on this process: what a worker does with a [`PointJob`].
pub fn run_job(job: &PointJob) -> JobReply {
    match run_job_checked(job) {
        Ok(result) => JobReply::Done(result),
        Err(error) => JobReply::Refused(error.to_string()),
    }
}

fn run_job_checked(job: &PointJob) -> Result<crowdtwin_planner::stress::PointResult, ClusterError> {
    use crowdtwin_planner::stress;
    if job.version != WIRE_VERSION {
        return Err(ClusterError::Protocol(format!("job format {} (this node speaks {WIRE_VERSION})", job.version)));
    }
    let scenario = crowdtwin_sim::scenario::Scenario::parse(&job.scenario, &job.file)?;
    let options = stress::StressOptions {
        vary: stress::Vary::parse(&job.vary)?,
        steps: job.steps,
        criterion: crowdtwin_sim::model::Los::D,
        scope: stress::Scope::All,
        close_gates: job.close_gates.clone(),
        seed: Some(job.seed),
        threads: 1,
        progress: false,
    };
    let point = stress::prepare(&scenario, &options)?
        .into_iter()
        .nth(job.index)
        .ok_or_else(|| ClusterError::Protocol(format!("point {} of {}", job.index, job.steps)))?;
    Ok(stress::run_point(point, job.seed))
}

/// `crowdtwin stress FILE --cluster nodes.toml`: the sweep of
/// [`crowdtwin_planner::stress::stress_file`] with its points run on the nodes; writes
/// the same files.
pub fn stress_file_on_cluster(
    path: &Path,
    out: &Path,
    options: &crowdtwin_planner::stress::StressOptions,
    config: &ClusterConfig,
) -> Result<(crowdtwin_planner::stress::StressReport, Vec<PathBuf>), ClusterError> {
    use crowdtwin_planner::stress;
    let text = read_limited(path, crowdtwin_planner::run::SCENARIO_FILE_BYTES_MAX, "scenario")?;
    let file = path.display().to_string();
    let scenario = crowdtwin_sim::scenario::Scenario::parse(&text, &file)?;
    // Refuse bad options before any node is contacted.
    stress::prepare(&scenario, options)?;
    let cluster = coordinator::Cluster::connect(config)?;
    if options.progress {
        eprintln!("stress: on {} nodes: {}", config.nodes.len(), cluster.addresses().join(", "));
    }
    let vary = options.vary;
    let report = stress::stress_with(&scenario, options, |points, seed| {
        let total = points.len();
        let jobs = points
            .iter()
            .map(|point| PointJob {
                version: WIRE_VERSION,
                file: file.clone(),
                scenario: text.clone(),
                vary: format!("{}={}..{}", vary.parameter.name(), vary.low, vary.high),
                steps: total,
                index: point.index,
                close_gates: options.close_gates.clone(),
                seed,
            })
            .collect();
        let values: Vec<f64> = points.iter().map(|p| p.value).collect();
        let progress = options.progress;
        let progress_options = options.clone();
        let done = std::sync::atomic::AtomicUsize::new(0);
        cluster.run_points(
            jobs,
            move |index, result, node| {
                if progress {
                    let finished = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    let line = stress::progress_line(&progress_options, finished, total, values[index], result);
                    eprintln!("{line} on {node}");
                }
            },
            move |node, index, why| {
                if progress {
                    eprintln!("stress: node {node} lost ({why}); point {index} restarts on another node");
                }
            },
        )
    })?;
    let paths = stress::write_report(out, &report)?;
    Ok((report, paths))
}

/// `crowdtwin run FILE --cluster nodes.toml`: [`crowdtwin_planner::run::run_file`] with
/// the run's `options.shards` shards on the nodes (see [`sharded`]),
/// checkpointed every `checkpoint_every_min` simulated minutes; writes the
/// same files, byte for byte.
pub fn run_file_on_cluster(
    path: &Path,
    out: &Path,
    options: &crowdtwin_planner::run::RunOptions,
    config: &ClusterConfig,
    checkpoint_every_min: f64,
) -> Result<(crowdtwin_sim::model::RunOutput, Vec<PathBuf>), ClusterError> {
    use crowdtwin_sim::SimDuration;
    use crowdtwin_sim::model::{self, RunOutput};
    if !(checkpoint_every_min.is_finite() && checkpoint_every_min >= 1.0 / 60.0) {
        return Err(ClusterError::InvalidOption(format!(
            "--checkpoint-every-min {checkpoint_every_min}: at least 1 s"
        )));
    }
    if !(1..=crowdtwin_sim::kernel::SHARD_COUNT_MAX).contains(&options.shards) {
        return Err(ClusterError::InvalidOption(format!("--shards {}: between 1 and 256", options.shards)));
    }
    let file = path.display().to_string();
    crowdtwin_planner::run::run_file_with(path, out, |scenario, text| {
        let cluster = coordinator::Cluster::connect(config)?;
        let seed = options.seed.unwrap_or(scenario.seed);
        let end = scenario.end();
        let mut sim = model::build_advised(scenario, seed);
        let sharded = sharded::ShardedOptions {
            shard_count: options.shards,
            checkpoint_every: SimDuration::from_secs_f64(checkpoint_every_min * 60.0),
        };
        let started = std::time::Instant::now();
        let progress = options.progress;
        let stats = cluster.run_sharded(&mut sim, (&file, text), end, &sharded, |event| {
            if !progress {
                return;
            }
            let elapsed = started.elapsed().as_secs_f64();
            match event {
                sharded::RunEvent::Placed(placed) => {
                    for (node, shards) in placed {
                        eprintln!("run: shards {shards:?} on {node}");
                    }
                }
                sharded::RunEvent::Checkpoint(at) => eprintln!("run: checkpoint at {at} ({elapsed:.1} s)"),
                sharded::RunEvent::NodeLost { node, why, at, from } => eprintln!(
                    "run: node {node} lost at {at} ({why}); every shard restarts from the checkpoint at {from}"
                ),
            }
        })?;
        if progress {
            eprintln!(
                "run: {} events, {} windows, {} messages between shards, {:.1} s",
                stats.events,
                stats.windows,
                stats.cross_shard_messages,
                started.elapsed().as_secs_f64()
            );
        }
        let output = RunOutput::collect(&sim, seed);
        Ok((sim, output))
    })
}
