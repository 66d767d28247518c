//! The fake remotes a run serves in its own process, started as standalone ones are
//! (`fake_remotes::standalone::start`: same bind, limits, seeds and domains served), and
//! the [`RemoteSet`] the stages use wherever the remotes run (here, or attached).

use std::collections::HashMap;
use std::net::SocketAddr;

use fake_remotes::standalone::start;
use fake_remotes::{Fault, RemoteEvent};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::scenario::Plan;

/// The fake remotes as the stages see them, wherever they run.
pub(super) struct RemoteSet {
    /// Lower-case domain → the address of the remote serving it.
    pub(super) routes: HashMap<String, SocketAddr>,
    /// The timeline's fault switch per remote.
    pub(super) faults: HashMap<String, watch::Sender<Vec<Fault>>>,
    /// What the remotes see, for the collector.
    pub(super) events: mpsc::Receiver<RemoteEvent>,
}

/// Binds and starts the scenario's remotes in this process.
pub(super) fn start_remotes(
    plan: &Plan,
    shutdown: &CancellationToken,
) -> Result<RemoteSet, String> {
    let (remote_tx, remote_rx) = mpsc::channel(fake_remotes::event::CHANNEL_CAPACITY);
    let mut remote_faults: HashMap<String, watch::Sender<Vec<Fault>>> = HashMap::new();
    let mut routes: HashMap<String, SocketAddr> = HashMap::new();
    for (i, spec) in plan.remotes.iter().enumerate() {
        // Started as standalone remotes are: same bind, limits and seeds.
        let listener = start::bind_remote(spec)?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let (faults_tx, _server) =
            start::spawn_remote(spec, listener, plan.seed, i, &remote_tx, shutdown);
        remote_faults.insert(spec.name.clone(), faults_tx);
        for d in &spec.domains {
            routes.insert(d.to_ascii_lowercase(), addr);
        }
    }
    Ok(RemoteSet {
        routes,
        faults: remote_faults,
        events: remote_rx,
    })
}
