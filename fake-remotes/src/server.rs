//! The SMTP server: accept loop and session. Executes what the behaviours decide.

use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::{Fault, MessageSink, RemoteEvent};

/// How one server instance behaves.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Name used in events (the remote's or node's name in the scenario).
    pub name: String,
    /// Host name in the banner and EHLO reply.
    pub hostname: String,
    /// Faults in force; changes apply to new connections and to the next stage of open ones.
    pub faults: watch::Receiver<Vec<Fault>>,
    /// Seed for every random decision (probabilities).
    pub seed: u64,
    /// Largest accepted message body (SIZE); larger gets 552.
    pub max_message_size: usize,
    /// A session idle this long is closed with 421.
    pub idle_timeout: Duration,
}

/// Serves SMTP on `listener` until `shutdown` is cancelled.
pub async fn serve<S: MessageSink>(
    listener: TcpListener,
    config: ServerConfig,
    sink: S,
    events: mpsc::UnboundedSender<RemoteEvent>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let _ = (listener, config, sink, events, shutdown);
    todo!("implemented by the fake-remotes work")
}
