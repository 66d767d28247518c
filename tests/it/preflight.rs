//! The routing preflight of external targets, without Postfix: stand-in targets in this
//! process — a fake remote that accepts mail and relays nothing, and the embedded
//! cluster started from the library with chosen routes (one domain routed nowhere, or
//! every route) — in front of remotes served by `mailquake remotes` or by the run. A
//! route that is missing stops the run at the preflight (exit 3, one line per domain,
//! only canaries sent); `--skip-preflight` starts the load and the reports say so; with
//! every route the canaries arrive and count nowhere.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fake_remotes::{CountingSink, RemoteEvent, RemoteEventKind, ServerConfig};
use mailquake::cluster::embedded;
use mailquake::scenario::EmbeddedSpec;
use tempfile::TempDir;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::support::binary::mailquake_run;
use crate::support::remotes::{http, remotes, serve, Served};
use crate::support::scenario;
use crate::support::summary::Summary;

const LIMIT: Duration = Duration::from_secs(60);

/// A target in this process; stopped when dropped.
struct StandIn {
    runtime: tokio::runtime::Runtime,
    stop: CancellationToken,
    addrs: Vec<SocketAddr>,
    /// What a fake-remote stand-in saw (nothing for the embedded cluster).
    events: mpsc::Receiver<RemoteEvent>,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl StandIn {
    /// A fake remote as the target: it takes every message and relays none.
    fn relaying_nothing() -> StandIn {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let stop = CancellationToken::new();
        let (tx, events) = mpsc::channel(65_536);
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let sink = CountingSink {
            name: "stand-in".into(),
            events: tx.clone(),
        };
        let server = fake_remotes::serve(
            listener,
            ServerConfig::healthy("stand-in"),
            sink,
            tx,
            stop.clone(),
        );
        runtime.spawn(server);
        StandIn {
            runtime,
            stop,
            addrs: vec![addr],
            events,
        }
    }

    /// The embedded cluster (one node) relaying by `routes`.
    fn embedded(routes: HashMap<String, SocketAddr>) -> StandIn {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let stop = CancellationToken::new();
        let spec = EmbeddedSpec {
            nodes: 1,
            ..EmbeddedSpec::default()
        };
        let cluster = runtime
            .block_on(embedded::start(
                &spec,
                embedded::LOOPBACK,
                routes,
                1,
                stop.clone(),
            ))
            .unwrap();
        let (_, events) = mpsc::channel(65_536);
        StandIn {
            runtime,
            stop,
            addrs: cluster.nodes.iter().map(|n| n.addr).collect(),
            events,
        }
    }

    /// Every recipient of every message the stand-in took so far.
    fn taken(&mut self) -> Vec<String> {
        let _enter = self.runtime.enter();
        let mut rcpts = Vec::new();
        while let Ok(e) = self.events.try_recv() {
            if let RemoteEventKind::Message { rcpts: r, .. } = e.kind {
                rcpts.extend(r);
            }
        }
        rcpts
    }
}

/// The preflight scenario against `target`, with `remotes` (YAML), written into `dir`.
fn scenario_file(dir: &Path, target: &[SocketAddr], remotes: &str) -> PathBuf {
    let endpoints: Vec<String> = target.iter().map(SocketAddr::to_string).collect();
    let text = format!(
        "version: 1
name: t-preflight
seed: 5
target:
  smtp: [{}]
remotes: {remotes}
load:
  steps: [ {{ rate: 20/s, for: 2s }} ]
  mix: {{ ok.test: 60%, other.test: 30%, down.test: 10% }}
  message: {{ size: 1KiB }}
  sessions: 4
checks:
  - no_loss
  - no_duplicates
settle: 10s
preflight: {{ timeout: 3s }}
",
        endpoints.join(", ")
    );
    let file = dir.join("preflight.yaml");
    std::fs::write(&file, text).unwrap();
    file
}

const IN_PROCESS_REMOTES: &str = "
  ok:    { domains: [ok.test] }
  other: { domains: [other.test] }
  down:  { domains: [down.test] }";

fn run(file: &Path, out: &Path, extra: &[&str]) -> (Option<i32>, String, String) {
    extra
        .iter()
        .fold(mailquake_run(file, out), |run, arg| run.arg(arg))
        .run(LIMIT)
        .parts()
}

/// Where each remote served by `mailquake remotes` listens, and its message count.
fn served(api: SocketAddr) -> HashMap<String, (SocketAddr, u64)> {
    remotes(api)["remotes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                (
                    r["listen"].as_str().unwrap().parse().unwrap(),
                    r["counters"]["messages"].as_u64().unwrap(),
                ),
            )
        })
        .collect()
}

/// Remotes served by `mailquake remotes`, an embedded-cluster stand-in routing `routed`
/// (domain, remote) and bounces.test to them, and the scenario attached to both.
fn embedded_routing(routed: &[(&str, &str)]) -> (Served, StandIn, TempDir, PathBuf) {
    let remotes = serve(&scenario("served-remotes.yaml"));
    let api = remotes.api;
    let served = served(api);
    let routes = routed
        .iter()
        .chain(&[("bounces.test", "bounces")])
        .map(|(domain, remote)| (domain.to_string(), served[*remote].0))
        .collect();
    let target = StandIn::embedded(routes);
    let dir = tempfile::tempdir().unwrap();
    let file = scenario_file(
        dir.path(),
        &target.addrs,
        &format!("{{ external: http://{api} }}"),
    );
    (remotes, target, dir, file)
}

#[test]
fn a_target_that_relays_nothing_stops_at_the_preflight_with_exit_3_and_gets_only_canaries() {
    let mut target = StandIn::relaying_nothing();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario_file(dir.path(), &target.addrs, IN_PROCESS_REMOTES);
    let out = dir.path().join("out");
    let (code, stdout, stderr) = run(&file, &out, &[]);
    assert_eq!(code, Some(3), "{stdout}\n{stderr}");

    let by = target.addrs[0];
    let hint = format!(
        "— is the transport map installed? `mailquake routes {} --format postfix`",
        file.display()
    );
    for (domain, remote) in [
        ("ok.test", "ok"),
        ("other.test", "other"),
        ("down.test", "down"),
    ] {
        let line = stderr
            .lines()
            .find(|l| l.starts_with(&format!("{domain}: ")))
            .unwrap_or_else(|| panic!("a line for {domain}: {stderr}"));
        assert!(
            line.starts_with(&format!(
                "{domain}: the canary was accepted by {by} but never reached remote `{remote}` at 127.0.1."
            )) && line.ends_with(&format!(" in 3 s {hint}")),
            "{line}"
        );
    }
    // The bounce canary's recipient is one every fake remote refuses: the stand-in did.
    assert!(
        stderr.lines().any(|l| l.starts_with(&format!(
            "bounces.test: the canary was not accepted by {by}: dot: 550"
        ))),
        "{stderr}"
    );
    assert!(
        stderr.contains("the routing preflight failed; no load was sent"),
        "{stderr}"
    );
    // No load, no verdict on the target: the folder says the run could not be carried
    // out, and why.
    let summary = Summary::read(&out);
    assert_eq!(summary.verdict, "aborted", "{summary}");
    assert!(
        summary["abort"]["reason"].as_str().unwrap().starts_with(
            "the run could not be carried out: the routing preflight failed; no load was sent:"
        ),
        "{summary}"
    );
    assert_eq!(summary["totals"]["submitted"], 0, "{summary}");

    // Only the three canaries reached the target: not one message of the load.
    let taken = target.taken();
    assert_eq!(taken.len(), 3, "{taken:?}");
    assert!(
        taken.iter().all(|r| r.starts_with("mq-canary.")),
        "{taken:?}"
    );
}

#[test]
fn skip_preflight_sends_the_load_at_once_and_the_reports_say_it_was_skipped() {
    let mut target = StandIn::relaying_nothing();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario_file(dir.path(), &target.addrs, IN_PROCESS_REMOTES);
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("settle: 10s", "settle: 1s");
    std::fs::write(&file, text).unwrap();
    let out = dir.path().join("out");
    let (code, stdout, stderr) = run(&file, &out, &["--skip-preflight"]);
    // Nothing is relayed: the load's mail is lost, and no_loss says so.
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    let summary = Summary::read(&out);
    assert_eq!(
        summary.preflight.as_ref().unwrap().status,
        "skipped",
        "{summary}"
    );
    assert_eq!(summary["preflight"]["canaries"], serde_json::json!([]));
    assert!(stdout.contains("skipped (--skip-preflight)"), "{stdout}");
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        page.contains("Routing preflight skipped"),
        "the page says so"
    );

    let taken = target.taken();
    assert!(!taken.is_empty());
    assert!(
        taken.iter().all(|r| r.starts_with("mq.")),
        "no canary: {taken:?}"
    );
    assert_eq!(
        summary["totals"]["submitted"].as_u64().unwrap(),
        taken.len() as u64,
        "{summary}"
    );
}

#[test]
fn a_cluster_routing_one_domain_nowhere_stops_at_the_preflight_naming_only_that_domain() {
    let (served_remotes, target, dir, file) =
        embedded_routing(&[("ok.test", "ok"), ("other.test", "other")]);
    let api = served_remotes.api;
    let (code, stdout, stderr) = run(&file, &dir.path().join("out"), &[]);
    assert_eq!(code, Some(3), "{stdout}\n{stderr}");
    let down_at = served(api)["down"].0;
    let failed: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains(": the canary") || l.contains(": the bounce canary"))
        .collect();
    assert_eq!(
        failed,
        [format!(
            "down.test: the canary was accepted by {} but never reached remote `down` at {down_at} \
             in 3 s — is the transport map installed? `mailquake routes {} --format postfix`",
            target.addrs[0],
            file.display()
        )],
        "{stderr}"
    );
    // The remotes saw the canaries (and DSNs of the canaries), never a load message.
    let counts = served(api);
    assert_eq!(
        (counts["ok"].1, counts["other"].1, counts["down"].1),
        (1, 1, 0)
    );
    let (status, events) = http(api, "GET", "/events?after=0&limit=100000");
    assert_eq!(status, 200);
    assert!(
        !events.contains("\"mq."),
        "a load message reached a remote: {events}"
    );
    assert!(events.contains("mq-canary."), "{events}");
}

#[test]
fn a_cluster_with_every_route_passes_the_preflight_and_the_canaries_count_nowhere() {
    let (served_remotes, _target, dir, file) = embedded_routing(&[
        ("ok.test", "ok"),
        ("other.test", "other"),
        ("down.test", "down"),
    ]);
    let api = served_remotes.api;
    let out = dir.path().join("out");
    let (code, stdout, stderr) = run(&file, &out, &[]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let summary = Summary::read(&out);
    let preflight = &summary["preflight"];
    assert_eq!(
        summary.preflight.as_ref().unwrap().status,
        "passed",
        "{summary}"
    );
    assert_eq!(preflight["timeout_s"], 3.0);
    let arrived: Vec<(&str, &str)> = preflight["canaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert!(c["arrived_after_s"].as_f64().unwrap() < 3.0, "{c}");
            (c["domain"].as_str().unwrap(), c["remote"].as_str().unwrap())
        })
        .collect();
    assert_eq!(
        arrived,
        [
            ("ok.test", "ok"),
            ("other.test", "other"),
            ("down.test", "down"),
            ("bounces.test", "bounces")
        ]
    );
    assert!(
        stderr.contains("mailquake: routing preflight: every canary arrived"),
        "{stderr}"
    );
    assert!(stdout.contains("preflight"), "{stdout}");

    // The canaries are in the remotes' own counters, in no figure of the run.
    assert_eq!(summary["foreign"], 0, "{summary}");
    let t = &summary["totals"];
    assert_eq!(t["delivered"], t["submitted"], "{summary}");
    let counts = served(api);
    for remote in ["ok", "other", "down"] {
        assert_eq!(
            summary["remotes"][remote]["messages"].as_u64().unwrap() + 1,
            counts[remote].1,
            "{remote}: {summary}"
        );
    }
}
