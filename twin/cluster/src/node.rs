//! `crowdtwin node`: a worker node.

use super::members::MemberBases;
use super::sharded::NodeRuns;
use super::{JobReply, PointJob, WORKER_GROUP, WorkerMessage, run_job};
use crate::ClusterError;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use ractor_cluster::{NetworkStream, NodeServer, NodeServerMessage};
use std::io::Write;

/// The worker actor: runs the jobs it is sent, each on a blocking thread,
/// so that it takes the next job while one runs (the coordinator decides
/// how many a node gets at once), holds the shards of runs placed here, and
/// keeps the live twin's base simulation for its members.
#[derive(Debug, Default)]
pub struct Worker;

impl Actor for Worker {
    type Msg = WorkerMessage;
    type State = (NodeRuns, MemberBases);
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<WorkerMessage>, _: ()) -> Result<Self::State, ActorProcessingErr> {
        Ok((NodeRuns::default(), MemberBases::default()))
    }

    async fn handle(
        &self,
        _: ActorRef<WorkerMessage>,
        message: WorkerMessage,
        state: &mut (NodeRuns, MemberBases),
    ) -> Result<(), ActorProcessingErr> {
        match message {
            WorkerMessage::RunPoint(bytes, reply) => {
                tokio::task::spawn_blocking(move || {
                    let answer = match serde_json::from_slice::<PointJob>(&bytes) {
                        Ok(job) => run_job(&job),
                        Err(error) => JobReply::Refused(format!("malformed job: {error}")),
                    };
                    let bytes = serde_json::to_vec(&answer).expect("a reply serialises");
                    // The coordinator may have gone; nothing to do then.
                    let _ = reply.send(bytes);
                });
            }
            WorkerMessage::Shard(bytes, reply) => {
                let runs = state.0.clone();
                tokio::task::spawn_blocking(move || {
                    let _ = reply.send(runs.answer(&bytes));
                });
            }
            WorkerMessage::Members(bytes, reply) => {
                let bases = state.1.clone();
                tokio::task::spawn_blocking(move || {
                    let _ = reply.send(bases.answer(&bytes));
                });
            }
        }
        Ok(())
    }
}

/// Runs a worker node on `listen` until interrupted: prints
/// `crowdtwin node listening on ADDR` (the bound address, also for port 0)
/// on stdout once it accepts connections.
pub fn run_node(listen: &str, cookie: String) -> Result<(), ClusterError> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| ClusterError::InvalidOption(format!("{listen}: {e}")))?;
        let local = listener.local_addr()?;
        let name = format!("crowdtwin-node-{local}");
        // The server's own listener takes a free loopback port; peers come in
        // through `listener` above, handed over as opened connections.
        let server = NodeServer::new(0, cookie, name, local.ip().to_string(), None, None)
            .with_listen_addr(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
        let (server, _) = Actor::spawn(None, server, ())
            .await
            .map_err(|e| ClusterError::Node(format!("cannot start the node server: {e}")))?;
        let (worker, _) = Actor::spawn(None, Worker, ())
            .await
            .map_err(|e| ClusterError::Node(format!("cannot start the worker: {e}")))?;
        ractor::pg::join(WORKER_GROUP.to_string(), vec![worker.get_cell()]);
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "crowdtwin node listening on {local}")?;
        stdout.flush()?;
        drop(stdout);
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (stream, peer_addr) = match accepted {
                        Ok(pair) => pair,
                        Err(error) => {
                            eprintln!("crowdtwin node: accept failed: {error}");
                            continue;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    let local_addr = stream.local_addr()?;
                    let opened = NodeServerMessage::ConnectionOpened {
                        stream: Box::new(NetworkStream::Raw { peer_addr, local_addr, stream }),
                        is_server: true,
                    };
                    server.cast(opened).map_err(|e| ClusterError::Node(format!("node server stopped: {e}")))?;
                }
                _ = tokio::signal::ctrl_c() => break,
            }
        }
        worker.stop(None);
        server.stop(None);
        Ok(())
    })
}
