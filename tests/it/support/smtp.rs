//! A fake remote MTA in the test's own runtime and the generator run directly: a
//! remote on 127.0.0.1:0 whose events the test reads, a one-step load, endpoints, a
//! plain client, and a bounded read of one SMTP line.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use fake_remotes::{serve, CountingSink, Fault, RemoteEvent, RemoteEventKind, ServerConfig};
use mailquake::collector::Event;
use mailquake::generator::{self, GeneratorConfig, GeneratorReport, TargetEndpoint};
use mailquake::scenario::{Load, LoadModel, MessageSpec, SizeSpec, Step, TlsSpec};
use mailquake::smtp::{ClientOptions, Timeouts};
use tokio::io::AsyncBufReadExt;
use tokio::sync::{mpsc, watch};
use tokio::time::{timeout, Instant};
use tokio_util::sync::CancellationToken;

/// How long a network wait here may take.
pub const WAIT: Duration = Duration::from_secs(10);

/// A fake remote (healthy unless `faults`) on 127.0.0.1:0, introducing itself as `hostname`.
pub struct Remote {
    pub addr: SocketAddr,
    pub events: mpsc::Receiver<RemoteEvent>,
    pub shutdown: CancellationToken,
}

pub fn remote(hostname: &str, faults: Vec<Fault>) -> Remote {
    let listener = fake_remotes::bind("127.0.0.1:0".parse().unwrap()).expect("bind loopback");
    let addr = listener.local_addr().unwrap();
    let (events_tx, events) = mpsc::channel(fake_remotes::event::CHANNEL_CAPACITY);
    let shutdown = CancellationToken::new();
    let config = ServerConfig {
        hostname: hostname.into(),
        faults: watch::channel(faults).1,
        ..ServerConfig::healthy(hostname)
    };
    let sink = CountingSink {
        name: hostname.into(),
        events: events_tx.clone(),
    };
    tokio::spawn(serve(listener, config, sink, events_tx, shutdown.clone()));
    Remote {
        addr,
        events,
        shutdown,
    }
}

impl Remote {
    /// Every event so far, with the server stopped first (so the list is complete).
    pub async fn stop_and_drain(&mut self) -> Vec<RemoteEvent> {
        self.shutdown.cancel();
        let mut out = Vec::new();
        while let Ok(Some(e)) = timeout(WAIT, self.events.recv()).await {
            out.push(e);
        }
        out
    }
}

pub fn messages(events: &[RemoteEvent]) -> Vec<u64> {
    events
        .iter()
        .filter(|e| matches!(e.kind, RemoteEventKind::Message { .. }))
        .map(|e| e.at_us)
        .collect()
}

pub fn load(model: LoadModel, rate: f64, secs: u64, sessions: usize) -> Load {
    Load {
        model,
        steps: vec![Step {
            rate,
            to: None,
            duration: Duration::from_secs(secs),
        }],
        mix: vec![("ok.test".into(), 1.0)],
        message: MessageSpec {
            size: SizeSpec::Fixed(1024),
            recipients: 1,
        },
        sessions,
        messages_per_connection: 10,
        tls: TlsSpec::default(),
        auth: None,
        hlog_interval: Duration::from_secs(1),
        max_shortfall: 0.01,
    }
}

pub fn endpoint(addr: SocketAddr, weight: u32) -> TargetEndpoint {
    TargetEndpoint {
        addr,
        name: addr.to_string(),
        weight,
    }
}

/// Runs the generator to the end of `load`; its report and every event it sent.
pub async fn generate(
    load: Load,
    endpoints: Vec<TargetEndpoint>,
    client: ClientOptions,
    hlog_dir: Option<&Path>,
) -> (GeneratorReport, Vec<Event>) {
    let (tx, mut rx) = mpsc::channel(mailquake::collector::EVENTS_CAPACITY);
    // Read as the collector does: the channel is bounded, so the generator waits on it.
    let collected = tokio::spawn(async move {
        let mut events = Vec::new();
        while let Some(e) = rx.recv().await {
            events.push(e);
        }
        events
    });
    let t0 = Instant::now();
    let t0_us = fake_remotes::event::now_us();
    let config = GeneratorConfig {
        run_id: "t1".into(),
        endpoints,
        domains: load.mix.iter().map(|(d, _)| d.clone()).collect(),
        seed: 3,
        t0,
        t0_us,
        client,
        hlog_dir: hlog_dir.map(Path::to_path_buf),
        cap: None,
        part: Default::default(),
        phase_looks: None,
    };
    let limit = load.duration() + Duration::from_secs(30);
    let report = timeout(
        limit,
        generator::run(load, config, tx, CancellationToken::new()),
    )
    .await
    .expect("the generator finishes");
    let events = timeout(Duration::from_secs(30), collected)
        .await
        .expect("the generator's last sender is gone")
        .expect("the reader does not panic");
    (report, events)
}

pub fn client() -> ClientOptions {
    ClientOptions::plain(
        "gen.test",
        Timeouts::uniform(Duration::from_secs(5), Duration::from_secs(10)),
    )
}

/// Reads SMTP command lines (bounded by [`WAIT`]); `None` at the end or on a timeout.
pub async fn read_line<R: AsyncBufReadExt + Unpin>(r: &mut R) -> Option<String> {
    let mut line = String::new();
    match timeout(WAIT, r.read_line(&mut line)).await {
        Ok(Ok(n)) if n > 0 => Some(line),
        _ => None,
    }
}
