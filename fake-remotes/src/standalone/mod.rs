//! Standalone serving: a set of fake remotes in their own process, with a fault
//! timeline running from start-up and the control API ([`crate::api`]) to watch them and
//! switch faults live. The `fake-remotes` binary and `mailquake remotes` both come here.
//!
//! Wiring: every remote is a [`crate::serve`] with its own `watch` fault channel; all of
//! them report events on one channel to the control task (`control.rs`), which owns the
//! faults in force, the counters and the event log (`log.rs`); the API talks only to the
//! control task.
//!
//! Safety (DESIGN §7): the API binds loopback unless told otherwise, and then refuses
//! to start without a token.

pub mod ca_file;
pub mod control;
pub mod file;
pub mod lease;
pub mod log;
pub mod runs;
pub mod start;

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::Fault;
pub use control::{Control, Counters, RemoteView, SetBy, Snapshot};
pub use lease::LeaseView;
pub use log::SequencedEvent;

/// Where the control API listens unless told otherwise.
pub const DEFAULT_API: &str = "127.0.0.1:8025";

/// One remote to serve.
#[derive(Clone, Debug, PartialEq)]
pub struct RemoteDef {
    pub name: String,
    pub domains: Vec<String>,
    /// Port 0 picks a free port.
    pub listen: SocketAddr,
}

/// One entry of the fault timeline; offsets count from start-up.
#[derive(Clone, Debug, PartialEq)]
pub struct TimelineEntry {
    pub remote: String,
    pub at: Duration,
    /// `None`: until the process ends (or the API changes it).
    pub duration: Option<Duration>,
    pub fault: Fault,
}

/// What to serve and how.
#[derive(Clone, Debug)]
pub struct Config {
    pub remotes: Vec<RemoteDef>,
    pub timeline: Vec<TimelineEntry>,
    /// Every random decision (fault probabilities) derives from it.
    pub seed: u64,
    /// Where the control API listens.
    pub api: SocketAddr,
    /// Required from clients as `Authorization: Bearer TOKEN`; required to bind the API
    /// anywhere but loopback.
    pub token: Option<String>,
    /// Events kept for `GET /events`.
    pub events_kept: usize,
    /// What one client may take of the control API (connections, timeouts, body size).
    pub api_limits: crate::api::Limits,
}

impl Config {
    pub fn new(remotes: Vec<RemoteDef>, timeline: Vec<TimelineEntry>, seed: u64) -> Config {
        Config {
            remotes,
            timeline,
            seed,
            api: DEFAULT_API.parse().expect("a valid address"),
            token: None,
            events_kept: log::DEFAULT_CAPACITY,
            api_limits: crate::api::Limits::default(),
        }
    }
}

/// Why a standalone server could not start.
#[derive(Debug)]
pub enum StartError {
    /// The configuration is not acceptable (exit 2): e.g. a non-loopback API without a token.
    Invalid(String),
    /// An address could not be bound (exit 3).
    Bind(String),
}

impl StartError {
    pub fn exit_code(&self) -> u8 {
        match self {
            StartError::Invalid(_) => 2,
            StartError::Bind(_) => 3,
        }
    }
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Invalid(m) | StartError::Bind(m) => f.write_str(m),
        }
    }
}

/// The remotes and the API, bound and ready to serve.
pub struct Standalone {
    config: Config,
    remotes: Vec<(RemoteDef, TcpListener)>,
    api: TcpListener,
}

/// Binds every remote and the API. Must run inside a Tokio runtime.
pub fn bind(config: Config) -> Result<Standalone, StartError> {
    check_api_safety(config.api, config.token.as_deref())?;
    let mut remotes = Vec::new();
    for def in &config.remotes {
        let listener = start::bind_remote(def).map_err(StartError::Bind)?;
        let listen = listener.local_addr().unwrap_or(def.listen);
        remotes.push((
            RemoteDef {
                listen,
                ..def.clone()
            },
            listener,
        ));
    }
    let api = std::net::TcpListener::bind(config.api)
        .and_then(|l| {
            l.set_nonblocking(true)?;
            TcpListener::from_std(l)
        })
        .map_err(|e| {
            StartError::Bind(format!("control API: cannot listen on {}: {e}", config.api))
        })?;
    Ok(Standalone {
        config,
        remotes,
        api,
    })
}

/// A non-loopback API needs a token (DESIGN §7); an empty token is no token. (The rule
/// of every control API: `mailquake cluster`'s too.)
pub fn check_api_safety(api: SocketAddr, token: Option<&str>) -> Result<(), StartError> {
    if token.is_some_and(|t| t.trim().is_empty()) {
        return Err(StartError::Invalid(
            "the control API token is empty: give a non-empty --token".into(),
        ));
    }
    if !api.ip().is_loopback() && token.is_none() {
        return Err(StartError::Invalid(format!(
            "the control API on {api} is not loopback-only: give --token TOKEN (or MAILQUAKE_REMOTES_TOKEN) so that only you can switch faults"
        )));
    }
    Ok(())
}

/// `--api` of every control API (`fake-remotes`, `mailquake remotes`, `mailquake
/// cluster`): `IP:PORT` or `HOST:PORT` (a name is resolved; the first address is bound,
/// and the token rule applies to it: a name that resolves to an address that is not
/// loopback needs `--token`, [`check_api_safety`]). `Err` is one line.
pub fn resolve_api(api: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = api.parse() {
        return Ok(addr);
    }
    let invalid =
        |why: String| format!("--api {api}: {why}, e.g. 127.0.0.1:8025 or localhost:8025");
    if api
        .rsplit_once(':')
        .is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err())
    {
        return Err(invalid("expected HOST:PORT".into()));
    }
    api.to_socket_addrs()
        .map_err(|e| invalid(format!("cannot resolve it ({e})")))?
        .next()
        .ok_or_else(|| invalid("the name has no address".into()))
}

impl Standalone {
    /// The remotes with the addresses they actually listen on.
    pub fn remotes(&self) -> Vec<RemoteDef> {
        self.remotes.iter().map(|(def, _)| def.clone()).collect()
    }

    pub fn api_addr(&self) -> SocketAddr {
        self.api.local_addr().unwrap_or(self.config.api)
    }

    /// Serves until `shutdown` is cancelled; the timeline starts now.
    pub async fn serve(self, shutdown: CancellationToken) -> std::io::Result<()> {
        let t0 = Instant::now();
        let (events_tx, events_rx) = mpsc::channel(crate::event::CHANNEL_CAPACITY);
        let mut servers = Vec::new();
        let mut known = Vec::new();
        for (i, (def, listener)) in self.remotes.into_iter().enumerate() {
            let (faults_tx, server) =
                start::spawn_remote(&def, listener, self.config.seed, i, &events_tx, &shutdown);
            servers.push(server);
            known.push(control::Remote {
                name: def.name,
                domains: def.domains,
                listen: def.listen,
                faults: faults_tx,
            });
        }
        drop(events_tx);
        let (control, control_task) = control::spawn(
            known,
            self.config.timeline,
            t0,
            events_rx,
            self.config.events_kept,
            shutdown.clone(),
        );
        let api = crate::api::serve(
            self.api,
            control,
            self.config.token,
            self.config.api_limits,
            shutdown.clone(),
        );
        let result = api.await;
        shutdown.cancel();
        for server in servers {
            let _ = server.await;
        }
        let _ = control_task.await;
        result
    }
}

/// The seed of the `i`th remote: the same as mailquake gives its in-process remotes,
/// so a scenario served standalone replays the same random decisions.
pub fn remote_seed(seed: u64, i: usize) -> u64 {
    seed.wrapping_mul(1_000_003).wrapping_add(i as u64)
}

/// A binary's whole life: bind, print where everything listens (stdout, one line each),
/// serve until Ctrl-C (SIGINT), SIGTERM or SIGHUP. `program` prefixes the messages. Exit
/// codes: 0 after a signal (serving until told to stop is the job), 2 for an unacceptable
/// configuration, 3 if an address cannot be bound.
pub fn main(config: Config, program: &str) -> ExitCode {
    crate::limits::raise_open_files();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{program}: cannot start the runtime: {e}");
            return ExitCode::from(3);
        }
    };
    runtime.block_on(async {
        // Signal handlers first: a stop that comes while binding must not kill the process.
        let stop = StopSignals::install();
        let token = config.token.is_some();
        let bound = match bind(config) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{program}: {e}");
                return ExitCode::from(e.exit_code());
            }
        };
        for def in bound.remotes() {
            println!(
                "{program}: remote {} listening on {} ({})",
                def.name,
                def.listen,
                def.domains.join(", ")
            );
        }
        // Clients in other processes verify STARTTLS against this CA; the file goes
        // when this block ends (a stop signal ends the server, so it ends too).
        let _ca = match ca_file::CaFile::write_in(&std::env::temp_dir()) {
            Ok(ca) => {
                println!(
                    "{program}: STARTTLS test CA in {} (removed at exit; also GET /tls/ca.pem)",
                    ca.path().display()
                );
                Some(ca)
            }
            Err(e) => {
                eprintln!("{program}: {e}");
                None
            }
        };
        println!(
            "{program}: control API on http://{}/remotes ({})",
            bound.api_addr(),
            if token {
                "Authorization: Bearer token required"
            } else {
                "no token: loopback only"
            }
        );
        let shutdown = CancellationToken::new();
        tokio::spawn(stop.cancel_on_signal(shutdown.clone(), program.to_string()));
        match bound.serve(shutdown).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{program}: control API failed: {e}");
                ExitCode::from(3)
            }
        }
    })
}

/// Ctrl-C and (on Unix) SIGTERM and SIGHUP, registered when installed.
struct StopSignals {
    #[cfg(unix)]
    signals: Option<[tokio::signal::unix::Signal; 3]>,
}

impl StopSignals {
    fn install() -> StopSignals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let signals = (|| {
                Ok::<_, std::io::Error>([
                    signal(SignalKind::interrupt())?,
                    signal(SignalKind::terminate())?,
                    signal(SignalKind::hangup())?,
                ])
            })()
            .ok();
            StopSignals { signals }
        }
        #[cfg(not(unix))]
        StopSignals {}
    }

    async fn cancel_on_signal(self, shutdown: CancellationToken, program: String) {
        #[cfg(unix)]
        if let Some([mut int, mut term, mut hup]) = self.signals {
            let name = tokio::select! {
                _ = int.recv() => "SIGINT",
                _ = term.recv() => "SIGTERM",
                _ = hup.recv() => "SIGHUP",
            };
            eprintln!("{program}: {name} — stopping");
            shutdown.cancel();
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
        shutdown.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_loopback_api_needs_a_token() {
        let any: SocketAddr = "0.0.0.0:8025".parse().unwrap();
        let lo: SocketAddr = "127.0.0.1:8025".parse().unwrap();
        assert!(check_api_safety(lo, None).is_ok());
        assert!(check_api_safety(any, Some("s3cret")).is_ok());
        let err = check_api_safety(any, None).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("--token"), "{err}");
        assert!(check_api_safety(lo, Some(" ")).is_err());
    }

    #[test]
    fn api_addresses_and_names() {
        let table: [(&str, Result<&str, &str>); 6] = [
            ("127.0.0.1:8025", Ok("127.0.0.1:8025")),
            ("[::1]:0", Ok("[::1]:0")),
            ("localhost:8025", Ok("loopback")),
            (
                "localhost",
                Err("--api localhost: expected HOST:PORT, e.g. 127.0.0.1:8025 or localhost:8025"),
            ),
            (
                ":8025",
                Err("--api :8025: expected HOST:PORT, e.g. 127.0.0.1:8025 or localhost:8025"),
            ),
            (
                "nowhere.invalid:8025",
                Err("--api nowhere.invalid:8025: cannot resolve it ("),
            ),
        ];
        for (api, want) in table {
            match (resolve_api(api), want) {
                (Ok(addr), Ok("loopback")) => {
                    assert!(
                        addr.ip().is_loopback() && addr.port() == 8025,
                        "{api}: {addr}"
                    )
                }
                (Ok(addr), Ok(want)) => assert_eq!(addr.to_string(), want, "{api}"),
                (Err(e), Err(want)) => assert!(e.starts_with(want), "{api}: {e}"),
                (got, want) => panic!("{api}: {got:?}, want {want:?}"),
            }
        }
    }
}
