//! `mailquake cluster FILE [--listen ADDR] [--api ADDR] [--token T] [--remotes URL]`:
//! serves the scenario's embedded reference cluster (`target: { embedded: … }`) as a
//! process of its own, so runs and shards in other processes have a target without
//! Postfix. Its nodes take SMTP on loopback (node `ni` on `--listen`'s port plus i−1, or
//! each on a free port) and relay to the remotes served by `mailquake remotes` (the
//! routes come from their control API, `GET /remotes`, at `--remotes URL`, else at the
//! scenario's `remotes.external`, else at `http://127.0.0.1:8025`, their default — asked
//! for up to 10 s while they start). Node faults are switched through a small control
//! API (`api.rs`); the scenario's node fault timeline is not run here.
//!
//! Prints where everything listens (stdout, one line each) and serves until SIGINT,
//! SIGTERM or SIGHUP (exit 0; mail still queued in the nodes is dropped then). Exits 2
//! (invalid scenario, an external target, a node address that is not loopback, an
//! `--api` that is neither IP:PORT nor HOST:PORT, a non-loopback API without a token) or
//! 3 (the remotes' API does not answer, an address cannot be bound).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::embedded;
use crate::remotes::client::ApiClient;
use crate::remotes::{attach, TOKEN_ENV};
use crate::scenario::{self, FaultSubject, Plan, Target};
use crate::signals::StopSignals;

/// Where the control API listens unless told otherwise (the remotes' is on 8025).
pub const DEFAULT_API: &str = "127.0.0.1:8026";

/// Where the remotes' API is asked for routes when neither the command line nor the
/// scenario says.
const DEFAULT_REMOTES: &str = "http://127.0.0.1:8025";

/// How long the remotes' API may take to answer first (it may be starting too).
const REMOTES_WAIT: Duration = Duration::from_secs(10);

/// `mailquake cluster`'s command line (flattened into `cli::Command::Cluster`).
#[derive(Debug, clap::Args)]
pub struct ClusterArgs {
    /// The scenario file; its `target.embedded` is served.
    pub file: PathBuf,
    /// The first node's SMTP address (loopback); node ni listens on its port plus
    /// i-1. Port 0: each node on a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Where the control API listens, IP:PORT or HOST:PORT (e.g. localhost:8026: the
    /// name's first address); anything but loopback needs --token.
    // Kept as typed: `fake_remotes::standalone::resolve_api` resolves it.
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_API)]
    pub api: String,
    /// Every API request must carry `Authorization: Bearer TOKEN`.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "MAILQUAKE_CLUSTER_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// The remotes' control API, http://HOST:PORT (default: the scenario's
    /// `remotes.external`, else http://127.0.0.1:8025); its token from
    /// MAILQUAKE_REMOTES_TOKEN.
    #[arg(long, value_name = "URL")]
    pub remotes: Option<String>,
}

/// The whole command; its exit code.
pub fn main(args: &ClusterArgs) -> ExitCode {
    let api = match fake_remotes::standalone::resolve_api(&args.api) {
        Ok(api) => api,
        Err(e) => {
            eprintln!("mailquake: {e}");
            return ExitCode::from(2);
        }
    };
    let plan = match scenario::load(&args.file) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = check(&args.file, &plan, args, api) {
        eprintln!("mailquake: {e}");
        return ExitCode::from(2);
    }
    let nodes = plan
        .faults
        .iter()
        .filter(|w| matches!(w.subject, FaultSubject::Node { .. }))
        .count();
    if nodes > 0 {
        eprintln!("mailquake: {nodes} node fault(s) of the timeline left out: switch them with PUT /nodes/NAME/fault");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("mailquake: cannot start the runtime: {e}");
            return ExitCode::from(3);
        }
    };
    runtime.block_on(serve(&plan, args, api))
}

/// What is refused before anything starts (exit 2), one line.
fn check(file: &Path, plan: &Plan, args: &ClusterArgs, api: SocketAddr) -> Result<(), String> {
    let Target::Embedded(spec) = &plan.target else {
        return Err(format!(
            "{}: target: `mailquake cluster` serves the embedded reference cluster (`target: {{ embedded: … }}`); this scenario's target is external SMTP endpoints",
            file.display()
        ));
    };
    if !args.listen.ip().is_loopback() {
        return Err(format!(
            "--listen {}: the nodes relay for anyone who connects: they listen on loopback only",
            args.listen
        ));
    }
    let last = u32::from(args.listen.port()) + spec.nodes as u32 - 1;
    if args.listen.port() != 0 && last > u32::from(u16::MAX) {
        return Err(format!(
            "--listen {}: {} nodes need ports up to {last}, above 65535",
            args.listen, spec.nodes
        ));
    }
    fake_remotes::standalone::check_api_safety(api, args.token.as_deref()).map_err(|e| {
        e.to_string()
            .replace("MAILQUAKE_REMOTES_TOKEN", TOKEN_ENV_CLUSTER)
    })
}

/// Where the token of this API is read from when `--token` is not given.
pub const TOKEN_ENV_CLUSTER: &str = "MAILQUAKE_CLUSTER_TOKEN";

async fn serve(plan: &Plan, args: &ClusterArgs, api_at: SocketAddr) -> ExitCode {
    // Signal handlers first: a stop while starting must not kill the process.
    let signals = match StopSignals::install() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mailquake: cannot listen for stop signals: {e}");
            return ExitCode::from(3);
        }
    };
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    let (_in_force, nothing) = watch::channel(Vec::new());
    tokio::spawn(signals.escalate(
        "mailquake",
        move |name| {
            eprintln!("mailquake: {name} — stopping");
            stop.cancel();
        },
        nothing,
    ));
    let Target::Embedded(spec) = &plan.target else {
        return ExitCode::from(2);
    };
    let (url, token) = remotes_api(plan, args);
    let client = ApiClient::new(&url, token);
    let routes = tokio::select! {
        routes = routes_within(&client, REMOTES_WAIT) => routes,
        () = shutdown.cancelled() => return ExitCode::SUCCESS,
    };
    let routes = match routes {
        Ok(r) => r,
        Err(e) => {
            eprintln!("mailquake: the remotes' control API at {url} {e} (is `mailquake remotes` running there? give --remotes URL)");
            return ExitCode::from(3);
        }
    };
    let api = match std::net::TcpListener::bind(api_at).and_then(|l| {
        l.set_nonblocking(true)?;
        TcpListener::from_std(l)
    }) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("mailquake: control API: cannot listen on {api_at}: {e}");
            return ExitCode::from(3);
        }
    };
    let api_addr = api.local_addr().unwrap_or(api_at);
    let cluster = match embedded::start(
        spec,
        args.listen,
        routes.clone(),
        plan.seed,
        shutdown.clone(),
    )
    .await
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "mailquake: embedded cluster: cannot listen on {}: {e}",
                args.listen
            );
            shutdown.cancel();
            return ExitCode::from(3);
        }
    };
    for node in &cluster.nodes {
        println!(
            "mailquake: node {} listening on {} (SMTP)",
            node.name, node.addr
        );
    }
    println!(
        "mailquake: relaying to the remotes served at {url}: {}",
        describe(&routes)
    );
    println!(
        "mailquake: control API on http://{api_addr}/nodes ({})",
        if args.token.is_some() {
            "Authorization: Bearer token required"
        } else {
            "no token: loopback only"
        }
    );
    let router = super::api::router(cluster.nodes);
    let served = fake_remotes::api::serve_routes(
        api,
        router,
        args.token.clone(),
        fake_remotes::api::Limits::default(),
        shutdown.clone(),
    )
    .await;
    shutdown.cancel();
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mailquake: control API failed: {e}");
            ExitCode::from(3)
        }
    }
}

/// The remotes' API and its token: `--remotes`, else the scenario's `remotes.external`
/// (with its `token:`), else the default; the token otherwise from the environment.
fn remotes_api(plan: &Plan, args: &ClusterArgs) -> (String, Option<String>) {
    let env = || {
        std::env::var(TOKEN_ENV)
            .ok()
            .filter(|t| !t.trim().is_empty())
    };
    match (&args.remotes, &plan.external_remotes) {
        (Some(url), _) => (url.clone(), env()),
        (None, Some(external)) => (external.url.clone(), attach::token(external)),
        (None, None) => (DEFAULT_REMOTES.to_string(), env()),
    }
}

/// `GET /remotes` until it answers or `within` has passed.
async fn routes_within(
    client: &ApiClient,
    within: Duration,
) -> Result<HashMap<String, SocketAddr>, crate::remotes::client::ApiError> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match attach::served_routes(client).await {
            Ok(routes) => return Ok(routes),
            // A refusal (401, 404) will not change: say so at once.
            Err(e @ crate::remotes::client::ApiError::Refused { .. }) => return Err(e),
            Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// `ok.test → 127.0.1.1:3001, …`, sorted by domain.
fn describe(routes: &HashMap<String, SocketAddr>) -> String {
    let mut pairs: Vec<_> = routes.iter().collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(d, a)| format!("{d} → {a}"))
        .collect::<Vec<_>>()
        .join(", ")
}
