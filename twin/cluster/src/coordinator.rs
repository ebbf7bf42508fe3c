//! The coordinator: connects to the worker nodes and places jobs on them.

use super::{ClusterConfig, JobReply, PointJob, WORKER_GROUP, WorkerMessage};
use crate::ClusterError;
use crowdtwin_planner::stress::PointResult;
use ractor::{Actor, ActorRef, RpcReplyPort, rpc::CallResult};
use ractor_cluster::node::NodeServerSessionInformation;
use ractor_cluster::{NodeEventSubscription, NodeServer, NodeServerMessage};
use std::collections::VecDeque;
use std::net::ToSocketAddrs;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How often the coordinator looks for a node's worker while it connects,
/// and for a job to take while others still run.
const POLL_INTERVAL_MS: u64 = 10;

/// A node session event, by the peer's address.
#[derive(Debug)]
enum NodeEvent {
    Ready { address: String, node: u64 },
    Disconnected { address: String },
}

/// Forwards node server events to the coordinator.
struct Events(mpsc::UnboundedSender<NodeEvent>);

impl NodeEventSubscription for Events {
    fn node_session_opened(&self, _: NodeServerSessionInformation) {}

    fn node_session_disconnected(&self, session: NodeServerSessionInformation) {
        let _ = self.0.send(NodeEvent::Disconnected { address: session.peer_addr });
    }

    fn node_session_authenicated(&self, _: NodeServerSessionInformation) {}

    fn node_session_ready(&self, session: NodeServerSessionInformation) {
        let _ = self.0.send(NodeEvent::Ready { address: session.peer_addr, node: session.node_id });
    }
}

/// A connected node.
pub(super) struct Node {
    pub(super) address: String,
    pub(super) slots: usize,
    pub(super) worker: ActorRef<WorkerMessage>,
}

/// Worker nodes, connected and authenticated.
pub struct Cluster {
    pub(super) runtime: tokio::runtime::Runtime,
    server: ActorRef<NodeServerMessage>,
    pub(super) nodes: Vec<Node>,
    pub(super) job_timeout: Duration,
}

impl Cluster {
    /// Connects to every node of `config`; fails naming the node that cannot
    /// be reached, refuses the cookie, or shows no worker in time.
    pub fn connect(config: &ClusterConfig) -> Result<Cluster, ClusterError> {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
        let (server, nodes) = runtime.block_on(connect(config))?;
        Ok(Cluster { runtime, server, nodes, job_timeout: config.job_timeout })
    }

    /// The nodes' addresses.
    pub fn addresses(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.address.clone()).collect()
    }

    /// Runs `jobs` on the nodes and returns their results in job order.
    /// A node whose call fails or times out is lost: its job goes back to
    /// the queue for the others. `on_done` hears of each finished job (index,
    /// result, node), `on_lost` of each lost node (node, job, why).
    pub fn run_points(
        &self,
        jobs: Vec<PointJob>,
        on_done: impl Fn(usize, &PointResult, &str) + Send + Sync + 'static,
        on_lost: impl Fn(&str, usize, &str) + Send + Sync + 'static,
    ) -> Result<Vec<PointResult>, ClusterError> {
        let total = jobs.len();
        let shared = Arc::new(Shared {
            jobs: jobs.into_iter().map(|j| serde_json::to_vec(&j).expect("a job serialises")).collect(),
            queue: Mutex::new((0..total).collect()),
            results: Mutex::new((0..total).map(|_| None).collect()),
            failure: Mutex::new(None),
            live_slots: Mutex::new(self.nodes.iter().map(|n| n.slots).sum()),
        });
        let on_done = Arc::new(on_done);
        let on_lost = Arc::new(on_lost);
        self.runtime.block_on(async {
            let mut tasks = Vec::new();
            for node in &self.nodes {
                let lost = Arc::new(std::sync::atomic::AtomicBool::new(false));
                for _ in 0..node.slots {
                    let (shared, worker, address) = (shared.clone(), node.worker.clone(), node.address.clone());
                    let (on_done, on_lost, lost) = (on_done.clone(), on_lost.clone(), lost.clone());
                    let timeout = self.job_timeout;
                    tasks.push(tokio::spawn(async move {
                        slot(shared, worker, &address, timeout, lost, &*on_done, &*on_lost).await
                    }));
                }
            }
            for task in tasks {
                let _ = task.await;
            }
        });
        if let Some(failure) = shared.failure.lock().expect("failure lock").take() {
            return Err(failure);
        }
        let results = std::mem::take(&mut *shared.results.lock().expect("results lock"));
        results
            .into_iter()
            .enumerate()
            .map(|(i, r)| r.ok_or_else(|| ClusterError::Node(format!("every node was lost before point {i} ran"))))
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.server.stop(None);
    }
}

/// What the slots of one run share.
struct Shared {
    jobs: Vec<Vec<u8>>,
    queue: Mutex<VecDeque<usize>>,
    results: Mutex<Vec<Option<PointResult>>>,
    failure: Mutex<Option<ClusterError>>,
    live_slots: Mutex<usize>,
}

impl Shared {
    fn finished(&self) -> bool {
        self.failure.lock().expect("failure lock").is_some()
            || self.results.lock().expect("results lock").iter().all(Option::is_some)
    }
}

/// One job at a time on one node, until every job is done, a job is refused
/// or the node is lost.
async fn slot(
    shared: Arc<Shared>,
    worker: ActorRef<WorkerMessage>,
    address: &str,
    timeout: Duration,
    lost: Arc<std::sync::atomic::AtomicBool>,
    on_done: &(dyn Fn(usize, &PointResult, &str) + Send + Sync),
    on_lost: &(dyn Fn(&str, usize, &str) + Send + Sync),
) {
    use std::sync::atomic::Ordering;
    loop {
        if shared.finished() || lost.load(Ordering::SeqCst) {
            break;
        }
        let Some(index) = shared.queue.lock().expect("queue lock").pop_front() else {
            // Others still run: one of them may be lost and its job come back.
            tokio::time::sleep(Duration::from_millis(POLL_INTERVAL_MS)).await;
            continue;
        };
        let bytes = shared.jobs[index].clone();
        let why = match call_bytes(&worker, WorkerMessage::RunPoint, bytes, timeout).await {
            Ok(bytes) => match serde_json::from_slice::<JobReply>(&bytes) {
                Ok(JobReply::Done(result)) => {
                    on_done(index, &result, address);
                    shared.results.lock().expect("results lock")[index] = Some(result);
                    continue;
                }
                Ok(JobReply::Refused(message)) => {
                    *shared.failure.lock().expect("failure lock") =
                        Some(ClusterError::Node(format!("node {address} refused point {index}: {message}")));
                    break;
                }
                Err(error) => format!("unreadable reply: {error}"),
            },
            Err(why) => why,
        };
        // The node is lost: its job restarts elsewhere.
        shared.queue.lock().expect("queue lock").push_front(index);
        lost.store(true, Ordering::SeqCst);
        on_lost(address, index, &why);
        let mut live = shared.live_slots.lock().expect("live lock");
        *live -= 1;
        if *live == 0 {
            *shared.failure.lock().expect("failure lock") =
                Some(ClusterError::Node(format!("every node was lost (last: {address}, {why})")));
        }
        break;
    }
}

/// Sends `bytes` to a node's worker as the message `make` builds and waits
/// up to `timeout` for the reply's bytes; `Err` says why the node counts
/// as lost.
pub(super) async fn call_bytes(
    worker: &ActorRef<WorkerMessage>,
    make: fn(Vec<u8>, RpcReplyPort<Vec<u8>>) -> WorkerMessage,
    bytes: Vec<u8>,
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    match worker.call(|reply| make(bytes, reply), Some(timeout)).await {
        Ok(CallResult::Success(bytes)) => Ok(bytes),
        Ok(CallResult::Timeout) => Err(format!("no answer within {} s", timeout.as_secs_f64())),
        Ok(CallResult::SenderError) => Err("its session closed".to_string()),
        Err(error) => Err(format!("cannot send: {error}")),
    }
}

/// Sends every `(worker, bytes)` at once, each as the message `make`
/// builds, and waits for all: per call, in order, the reply's bytes or why
/// its node counts as lost (see [`call_bytes`]).
pub(super) async fn call_each(
    calls: Vec<(ActorRef<WorkerMessage>, Vec<u8>)>,
    make: fn(Vec<u8>, RpcReplyPort<Vec<u8>>) -> WorkerMessage,
    timeout: Duration,
) -> Vec<Result<Vec<u8>, String>> {
    let tasks: Vec<_> = calls
        .into_iter()
        .map(|(worker, bytes)| tokio::spawn(async move { call_bytes(&worker, make, bytes, timeout).await }))
        .collect();
    let mut answers = Vec::with_capacity(tasks.len());
    for task in tasks {
        answers.push(task.await.unwrap_or_else(|e| Err(format!("the call's task failed: {e}"))));
    }
    answers
}

/// Starts this process's node server and connects to every node.
async fn connect(config: &ClusterConfig) -> Result<(ActorRef<NodeServerMessage>, Vec<Node>), ClusterError> {
    let name = format!("crowdtwin-coordinator-{}", std::process::id());
    let server = NodeServer::new(0, config.cookie.clone(), name, "127.0.0.1".to_string(), None, None)
        .with_listen_addr(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
    let (server, _) = Actor::spawn(None, server, ())
        .await
        .map_err(|e| ClusterError::Node(format!("cannot start a node server: {e}")))?;
    let (sender, mut events) = mpsc::unbounded_channel();
    server
        .cast(NodeServerMessage::SubscribeToEvents {
            id: "coordinator".to_string(),
            subscription: Box::new(Events(sender)),
        })
        .map_err(|e| ClusterError::Node(format!("node server stopped: {e}")))?;
    let mut nodes = Vec::new();
    for entry in &config.nodes {
        let address = entry
            .address
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| ClusterError::Node(format!("node {}: not an address", entry.address)))?;
        ractor_cluster::client_connect(&server, address)
            .await
            .map_err(|e| ClusterError::Node(format!("node {}: cannot connect: {e}", entry.address)))?;
        let deadline = Instant::now() + config.connect_timeout;
        let node = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, events.recv()).await {
                Ok(Some(NodeEvent::Ready { address: peer, node })) if peer == address.to_string() => break node,
                Ok(Some(NodeEvent::Disconnected { address: peer })) if peer == address.to_string() => {
                    return Err(ClusterError::Node(format!(
                        "node {}: refused the connection during authentication (is the cookie the same?)",
                        entry.address
                    )));
                }
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => {
                    return Err(ClusterError::Node(format!(
                        "node {}: not ready within {} s",
                        entry.address,
                        config.connect_timeout.as_secs_f64()
                    )));
                }
            }
        };
        let worker = loop {
            let found = ractor::pg::get_members(&WORKER_GROUP.to_string())
                .into_iter()
                .find(|cell| !cell.get_id().is_local() && cell.get_id().node() == node);
            if let Some(cell) = found {
                break ActorRef::<WorkerMessage>::from(cell);
            }
            if Instant::now() >= deadline {
                return Err(ClusterError::Node(format!(
                    "node {}: no worker within the connect timeout",
                    entry.address
                )));
            }
            tokio::time::sleep(Duration::from_millis(POLL_INTERVAL_MS)).await;
        };
        nodes.push(Node { address: entry.address.clone(), slots: entry.slots, worker });
    }
    Ok((server, nodes))
}
