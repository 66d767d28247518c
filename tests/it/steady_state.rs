//! The steady state before the first fault, over real processes: an embedded cluster
//! whose healthy destination cannot take the load from the start (served by `mailquake
//! remotes` with a tarpit on its timeline, outside the run's own scenario) fails
//! `steady_state` and leaves `isolation` inconclusive, exit 1; `validate` warns when the
//! baseline is too short to judge.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::binary::mailquake_os;
use crate::support::remotes::serve;
use crate::support::summary::Summary;

/// Generous: a loaded machine runs these slowly.
const LIMIT: Duration = Duration::from_secs(120);

/// Remotes `ok`, `down` served by `mailquake remotes`; `ok` answers every reply 100ms late
/// from start-up, so one node with 2 connections to it delivers a few messages a second.
fn slow_remotes(dir: &Path) -> PathBuf {
    let file = dir.join("slow-remotes.yaml");
    std::fs::write(
        &file,
        "version: 1
name: t-slow-remotes
remotes:
  ok:   { domains: [ok.test] }
  down: { domains: [down.test] }
load:
  steps: [ { rate: 1/s, for: 1s } ]
  mix: { ok.test: 100% }
faults:
  - { remote: ok, at: 0s, fault: { tarpit: { reply: 100ms } } }
checks: [ no_loss ]
",
    )
    .unwrap();
    file
}

/// 60 messages a second for 8s to that cluster; `down` refuses from `fault_at` for 2s.
fn overloaded(dir: &Path, api: &str, fault_at: &str) -> PathBuf {
    let file = dir.join("overloaded.yaml");
    std::fs::write(
        &file,
        format!(
            "version: 1
name: t-overloaded
seed: 7
target:
  embedded: {{ nodes: 1, queue: per-destination, concurrency: 2 }}
remotes: {{ external: {api} }}
load:
  steps: [ {{ rate: 60/s, for: 8s }} ]
  mix: {{ ok.test: 90%, down.test: 10% }}
  message: {{ size: 1KiB }}
  sessions: 100
faults:
  - {{ remote: down, at: {fault_at}, for: 2s, fault: refuse }}
checks:
  - {{ isolation: {{ healthy: [ok.test], during: faults, p99: 2s }} }}
settle: 3s
"
        ),
    )
    .unwrap();
    file
}

/// `mailquake run FILE --out DIR/out`: its exit code, stdout and `summary.json`.
fn run(file: &Path, dir: &Path) -> (Option<i32>, String, Summary) {
    let out = dir.join("out");
    let o = mailquake_os(&[
        "run".as_ref(),
        file.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ])
    .run(LIMIT);
    (o.code, o.stdout, Summary::read(&out))
}

/// A cluster overloaded before the first fault fails `steady_state`, and `isolation` is
/// inconclusive, not failed: the run does not blame isolation for an overload.
#[test]
fn a_cluster_overloaded_before_the_fault_fails_steady_state_not_isolation() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(&slow_remotes(dir.path()));
    let file = overloaded(dir.path(), &format!("http://{}", served.api), "4s");
    let (code, stdout, s) = run(&file, dir.path());
    assert_eq!(code, Some(1), "{stdout}");
    assert_eq!(s["verdict"], "fail", "{s}");
    let names: Vec<&str> = s["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["steady_state", "isolation"], "{s}");
    let steady = s.check("steady_state");
    assert_eq!(steady["status"], "fail", "{steady}");
    let detail = steady["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("the cluster could not carry this load before any fault: ok.test p99 ")
            && detail.contains("(baseline 0ms–4s)"),
        "{detail}"
    );
    let iso = s.check("isolation");
    assert_eq!(iso["status"], "inconclusive", "{iso}");
    assert!(
        iso["detail"].as_str().unwrap().starts_with(
            "the steady state did not hold before the fault: the cluster could not carry this load"
        ),
        "{iso}"
    );
    // The terminal shows the baseline next to the fault window, even for a failure.
    assert!(
        stdout.contains("✗ steady_state") && stdout.contains("Healthy mail: baseline 0ms–4s"),
        "{stdout}"
    );
}

/// `validate` warns (exit 0) when the baseline is too short to judge the steady state.
#[test]
fn validate_warns_when_the_baseline_holds_too_few_healthy_messages() {
    let dir = tempfile::tempdir().unwrap();
    let file = overloaded(dir.path(), "http://127.0.0.1:9", "1s");
    let o = mailquake_os(&["validate".as_ref(), file.as_os_str()]).run(LIMIT);
    let err = &o.stderr;
    assert_eq!(o.code, Some(0), "{err}");
    assert!(
        err.contains("checks[0].isolation: warning: the steady-state baseline 0s–1s holds about 54 healthy messages, fewer than the 100 needed to judge p99"),
        "{err}"
    );
}

/// A first fault at 0s leaves no baseline: no `steady_state` check, isolation judged as
/// always (here it passes), and the terminal says the steady state was not judged.
#[test]
fn a_fault_at_0s_leaves_the_steady_state_not_judged_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("at-0s.yaml");
    std::fs::write(
        &file,
        "version: 1
name: t-at-0s
seed: 7
remotes:
  ok:   { domains: [ok.test] }
  down: { domains: [down.test] }
load:
  steps: [ { rate: 20/s, for: 3s } ]
  mix: { ok.test: 90%, down.test: 10% }
  sessions: 50
faults:
  - { remote: down, at: 0s, for: 2s, fault: refuse }
checks:
  - { isolation: { healthy: [ok.test], during: faults, p99: 5s } }
settle: 10s
",
    )
    .unwrap();
    let (code, stdout, s) = run(&file, dir.path());
    assert_eq!(code, Some(0), "{stdout}");
    assert_eq!(s["checks"].as_array().unwrap().len(), 1, "{s}");
    let iso = s.check("isolation");
    assert_eq!(iso["status"], "pass", "{iso}");
    let note =
        "steady state not judged: the first fault starts at 0s, so there is no baseline before it";
    assert!(iso["detail"].as_str().unwrap().contains(note), "{iso}");
    assert!(stdout.contains(note), "{stdout}");
}
