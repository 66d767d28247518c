//! The embedded reference cluster: N relay nodes on loopback, each accepting SMTP,
//! queueing in memory and relaying to the scenario's fake remotes. A reference target
//! for demos and self-tests — small and clear, not a product MTA.
//!
//! Two queue designs (`queue:` in the scenario): `per-destination` isolates a failing
//! destination; `shared` is the naive FIFO whose head-of-line blocking caused the outage
//! mailquake exists to catch.

pub mod dsn;
pub mod node;
pub mod per_destination;
pub mod queue;
pub mod relay;
pub mod shared;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use fake_remotes::{serve, ServerConfig};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::scenario::{EmbeddedSpec, QueueDesign};
use crate::smtp::Timeouts;
use node::{NodeControl, NodeSink, RelayConfig};
use queue::{QueuePolicy, RetryPolicy};

/// A node's address and control handle.
pub struct NodeHandle {
    pub name: String,
    pub addr: SocketAddr,
    pub control: mpsc::UnboundedSender<NodeControl>,
    /// Its workers' busiest moments per destination ([`node::Occupancy`]).
    pub occupancy: watch::Receiver<node::Occupancy>,
}

/// A running embedded cluster.
pub struct EmbeddedCluster {
    pub nodes: Vec<NodeHandle>,
}

/// Where a run's nodes listen: loopback, each on a free port.
pub const LOOPBACK: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);

/// Messages a node sends per connection to one destination.
const RELAY_BATCH: usize = 10;

/// Accepted messages waiting for the node's queue manager to take them. It takes each
/// with a map insert and no wait, so the hand-off is normally near empty; when full the
/// node answers the final dot only once there is room (back-pressure on the client, as
/// a real MTA whose queue manager lags). 1,024 messages of a few KiB is a few MB per
/// node. The queue itself (what is waiting for a destination) is the cluster under
/// test's state, not a harness buffer: it holds at most the messages not yet delivered.
const HANDOFF_CAPACITY: usize = 1024;

/// Binds and starts the nodes (`n1` … `nN`) on `listen`'s IP — node `ni` on its port
/// plus i−1, or each on a free port when it is 0 — relaying by `routes` (lower-case
/// domain → address). Fails only if a port cannot be bound.
pub async fn start(
    spec: &EmbeddedSpec,
    listen: SocketAddr,
    routes: HashMap<String, SocketAddr>,
    seed: u64,
    shutdown: CancellationToken,
) -> std::io::Result<EmbeddedCluster> {
    let routes = Arc::new(routes);
    let mut nodes = Vec::with_capacity(spec.nodes);
    for i in 1..=spec.nodes {
        let name = format!("n{i}");
        let port = match listen.port() {
            0 => 0,
            first => first.saturating_add(i as u16 - 1),
        };
        let listener = TcpListener::bind(SocketAddr::new(listen.ip(), port)).await?;
        let addr = listener.local_addr()?;
        let (queue_tx, queue_rx) = mpsc::channel(HANDOFF_CAPACITY);
        // Unbounded, but bounded by construction: one message per `stuck` switch of the
        // scenario's timeline (a handful) or of `mailquake cluster`'s API (sent only when
        // the state changes), read as it comes.
        let (control_tx, control_rx) = mpsc::unbounded_channel();
        // Nodes never misbehave at the SMTP level; the sender is dropped with the task.
        let (faults_tx, faults_rx) = watch::channel(Vec::new());
        let server = ServerConfig {
            name: name.clone(),
            hostname: name.clone(),
            faults: faults_rx,
            seed: seed.wrapping_add(i as u64),
            max_message_size: 64 << 20,
            idle_timeout: Duration::from_secs(60),
            // Nodes take mail in plain text (no certificate to make per node); AUTH is
            // offered and anything accepted.
            starttls: false,
            auth: None,
            // A relay: it takes mail for every domain.
            serves: None,
        };
        let sink = NodeSink {
            node: Arc::from(name.as_str()),
            next_id: Arc::new(AtomicU64::new(1)),
            queue: queue_tx,
        };
        // Node-side events are not needed: the ledger is built from what the
        // generator and the remotes see, as it would be for a real cluster.
        let (events_tx, mut events_rx) = mpsc::channel(fake_remotes::event::CHANNEL_CAPACITY);
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let _keep = faults_tx;
            let drain = async { while events_rx.recv().await.is_some() {} };
            tokio::join!(
                async {
                    let _ = serve(listener, server, sink, events_tx, stop).await;
                },
                drain
            );
        });
        let relay = RelayConfig {
            node: name.clone(),
            routes: routes.clone(),
            timeouts: Timeouts::uniform(spec.connect_timeout, spec.reply_timeout),
        };
        let policy = policy_for(spec);
        let (occupancy_tx, occupancy) = watch::channel(node::Occupancy {
            design: match spec.queue {
                QueueDesign::PerDestination => "per-destination".into(),
                QueueDesign::Shared => "shared".into(),
            },
            workers: spec.concurrency as u32,
            peak_busy: Default::default(),
        });
        tokio::spawn(node::run_queue(
            relay,
            policy,
            queue_rx,
            control_rx,
            occupancy_tx,
            shutdown.clone(),
        ));
        nodes.push(NodeHandle {
            name,
            addr,
            control: control_tx,
            occupancy,
        });
    }
    Ok(EmbeddedCluster { nodes })
}

fn policy_for(spec: &EmbeddedSpec) -> Box<dyn QueuePolicy> {
    let retry = RetryPolicy {
        min_backoff: spec.min_backoff,
        max_backoff: spec.max_backoff,
        max_lifetime: spec.max_queue_lifetime,
    };
    match spec.queue {
        QueueDesign::PerDestination => Box::new(per_destination::PerDestination::new(
            retry,
            spec.concurrency,
            RELAY_BATCH,
            spec.dead_after,
        )),
        QueueDesign::Shared => Box::new(shared::Shared::new(retry, spec.concurrency, RELAY_BATCH)),
    }
}
