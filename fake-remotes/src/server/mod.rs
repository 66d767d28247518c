//! The SMTP server: the accept loop (which also executes `refuse` and `unreachable` by
//! closing or jamming its listener: `listener.rs`) and one task per session
//! (`session/`). Executes what the behaviours decide.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::behavior::{connection_seed, listener_state, outage, ListenerState};
use crate::event::now_us;
use crate::session::{Session, Shared};
use crate::tls::ServerTls;
use crate::{Fault, MessageSink, RemoteEvent, RemoteEventKind, Stage};

mod address;
mod listener;
pub use address::default_listen;
use listener::Listening;

/// Pending connections the kernel keeps per listener.
pub const BACKLOG: u32 = 1024;
/// Pause after an accept error (out of file descriptors…) or a failed re-bind.
const RETRY: Duration = Duration::from_millis(100);

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
    /// Offer STARTTLS, with a certificate for `hostname` signed by the test CA
    /// ([`crate::tls::TestCa`]); the `tls` faults need it.
    pub starttls: bool,
    /// AUTH PLAIN/LOGIN is always offered. With `Some((user, password))` those are
    /// checked and MAIL needs AUTH first; with `None` any credentials are accepted.
    pub auth: Option<(String, String)>,
    /// The domains this server is an MX for (lower-case). With `Some`, a RCPT for any
    /// other domain gets `550 5.7.1 relay access denied`, as from a real MX, and a
    /// [`RemoteEventKind::RelayDenied`] event; with `None` every domain is accepted (a
    /// relay, like the embedded cluster's nodes).
    pub serves: Option<Vec<String>>,
}

impl ServerConfig {
    /// A healthy server: no faults (the sender is dropped, so they never change), 10 MiB
    /// messages, 5 minutes idle timeout (RFC 5321 §4.5.3.2.7), STARTTLS offered, any
    /// AUTH accepted.
    pub fn healthy(name: impl Into<String>) -> ServerConfig {
        let name = name.into();
        ServerConfig {
            hostname: format!("{name}.fake-remotes.test"),
            name,
            faults: watch::channel(Vec::new()).1,
            seed: 0,
            max_message_size: 10 << 20,
            idle_timeout: Duration::from_secs(300),
            starttls: true,
            auth: None,
            serves: None,
        }
    }
}

/// Binds a listener the way `serve` re-binds after a `refuse`: SO_REUSEADDR, backlog
/// [`BACKLOG`]. Use it for listeners handed to [`serve`].
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Serves SMTP on `listener` until `shutdown` is cancelled.
///
/// While a `refuse` fault is in force the listener is closed, while an `unreachable` is
/// in force it is replaced by a jammed one, and when they end the same local address is
/// bound again (so the caller must not rely on the listener object outliving such a
/// fault); sessions open when such a fault begins are reset or silenced as its
/// `open_sessions` says (`behavior/outage.rs`). On shutdown, open sessions get `421 4.3.2` (black-holed ones are just closed)
/// and `serve` returns once every session task has ended; a session waiting on the sink
/// finishes that delivery first. Errors are returned only for a listener whose address
/// cannot be read, or a host name that cannot be put in a certificate; accept errors
/// are retried.
pub async fn serve<S: MessageSink>(
    listener: TcpListener,
    config: ServerConfig,
    sink: S,
    events: mpsc::Sender<RemoteEvent>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let local = listener.local_addr()?;
    let tls = if config.starttls {
        Some(ServerTls::new(&config.hostname, Some(local.ip())).map_err(std::io::Error::other)?)
    } else {
        None
    };
    let shared = Arc::new(Shared::new(&config, tls));
    let sessions = TaskTracker::new();
    let mut faults = config.faults.clone();
    // Once the sender is gone the faults can no longer change.
    let mut faults_live = true;
    let mut listening = Listening::Open(listener);
    let mut connections: u64 = 0;
    // Cancelled (and replaced) when an outage that ends open sessions begins.
    let mut outage_signal = CancellationToken::new();

    loop {
        let wanted = listener_state(&faults.borrow_and_update());
        if wanted != listening.state() {
            if let Err(e) = listening.switch(wanted, local).await {
                tracing::warn!(remote = %config.name, %local, error = %e, "cannot switch the listener; retrying");
                if pause_or_shutdown(&shutdown).await {
                    break;
                }
                continue;
            }
            // Reported once the switch is done: from now on connect() is refused or hangs.
            let fired = match wanted {
                ListenerState::Open => None,
                ListenerState::Closed => Some("refuse"),
                ListenerState::Jammed => Some("unreachable"),
            };
            if fired.is_some() && outage::open_sessions(&faults.borrow()).is_some() {
                outage_signal.cancel();
                outage_signal = CancellationToken::new();
            }
            if let Some(fault) = fired {
                let _ = events
                    .send(RemoteEvent {
                        at_us: now_us(),
                        remote: config.name.clone(),
                        kind: RemoteEventKind::FaultFired {
                            fault: fault.to_string(),
                            stage: Stage::Banner,
                            rcpts: Vec::new(),
                        },
                    })
                    .await;
            }
        }

        tokio::select! {
            _ = shutdown.cancelled() => break,
            changed = faults.changed(), if faults_live => faults_live = changed.is_ok(),
            accepted = listening.accept() => match accepted {
                Ok((stream, peer)) => {
                    let seed = connection_seed(config.seed, connections);
                    connections += 1;
                    spawn_session(&sessions, stream, peer, &shared, &sink, &events, &faults, seed, (&shutdown, &outage_signal));
                }
                Err(e) => {
                    tracing::warn!(remote = %config.name, error = %e, "accept failed");
                    if pause_or_shutdown(&shutdown).await {
                        break;
                    }
                }
            },
        }
    }

    drop(listening);
    sessions.close();
    sessions.wait().await;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn spawn_session<S: MessageSink>(
    sessions: &TaskTracker,
    stream: TcpStream,
    peer: SocketAddr,
    shared: &Arc<Shared>,
    sink: &S,
    events: &mpsc::Sender<RemoteEvent>,
    faults: &watch::Receiver<Vec<Fault>>,
    seed: u64,
    (shutdown, outage): (&CancellationToken, &CancellationToken),
) {
    // Replies go out in whole batches, so Nagle would only add delay (and would merge
    // a tarpit's dribbled bytes).
    let _ = stream.set_nodelay(true);
    let session = Session::new(
        stream,
        peer,
        Arc::clone(shared),
        sink.clone(),
        events.clone(),
        faults.clone(),
        seed,
        shutdown,
    )
    .with_outage(outage);
    sessions.spawn(session.run());
}

/// Waits [`RETRY`]; true if shutdown came first.
async fn pause_or_shutdown(shutdown: &CancellationToken) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(RETRY) => false,
        _ = shutdown.cancelled() => true,
    }
}
