//! The local simulation of a sharded run (issue 12, point 6): `mailquake remotes` and
//! `mailquake cluster` in processes of their own on loopback, then a scenario run once in
//! one process and once as 3 shards with one T0, merged. For a quickstart-like scenario
//! (per-destination queue, `down` refusing) both verdicts PASS isolation; for a
//! quickstart-naive-like one (one shared queue, 2 workers, `down` black-holed) both FAIL
//! it; and the merged count delivered equals the remotes' own counters for that run.
//! Each of the 4 runs gets fresh remotes and a fresh cluster, so counters start at 0 and
//! no mail of an earlier run is still queued in the nodes.

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use crate::support::binary::{mailquake_os, Proc, WAIT};
use crate::support::remotes::{remotes, serve};
use crate::support::summary::Summary;

/// Served by `remotes` and `cluster` (no faults: the runs apply them through the API).
fn served_yaml(cluster: &str) -> String {
    format!(
        "version: 1
name: t-sim-served
target:
  embedded: {{ nodes: 3, {cluster} }}
remotes:
  ok:    {{ domains: [ok.test] }}
  other: {{ domains: [other.test] }}
  down:  {{ domains: [down.test] }}
load: {{ steps: [ {{ rate: 1/s, for: 1s }} ], mix: {{ ok.test: 100% }} }}
checks: [ no_loss ]
"
    )
}

/// The run: 60/s for 8 s, `down` faulted from 2 s to 5 s, against the cluster's nodes.
fn run_yaml(nodes: &[String], api: SocketAddr, fault: &str, drain: &str) -> String {
    let nodes = nodes
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "version: 1
name: t-sim
seed: 7
target: {{ smtp: [{nodes}] }}
remotes: {{ external: \"http://{api}\" }}
load:
  steps: [ {{ rate: 60/s, for: 8s }} ]
  mix: {{ ok.test: 60%, other.test: 30%, down.test: 10% }}
  message: {{ size: 1KiB, recipients: 1 }}
  sessions: 40
faults:
  - {{ remote: down, at: 2s, for: 3s, fault: {fault} }}
checks:
  - {{ isolation: {{ healthy: [ok.test, other.test], during: faults, p99: 1s }} }}
  - {{ drain: {{ domain: down.test, within: {drain} }} }}
  - no_loss
  - no_duplicates
settle: 20s
"
    )
}

/// `mailquake cluster FILE --api 127.0.0.1:0 --remotes URL`, its 3 nodes' addresses.
fn cluster(file: &Path, remotes_api: SocketAddr) -> (Proc, Vec<String>) {
    let url = format!("http://{remotes_api}");
    let mut proc = mailquake_os(&[
        "cluster".as_ref(),
        file.as_os_str(),
        "--api".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--remotes".as_ref(),
        url.as_ref(),
    ])
    .start();
    let nodes = ["n1", "n2", "n3"]
        .iter()
        .map(|n| {
            let line = proc.wait_stdout(&format!("node {n} listening on "));
            line.split_whitespace().nth(5).unwrap().to_string()
        })
        .collect();
    proc.wait_stdout("control API on http://");
    (proc, nodes)
}

/// Messages taken by the remotes mail is addressed to (`bounces` excluded).
fn remotes_messages(api: SocketAddr) -> u64 {
    remotes(api)["remotes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["name"] != "bounces")
        .map(|r| r["counters"]["messages"].as_u64().unwrap())
        .sum()
}

/// Preflight canaries in a summary or a shard's `run.json` that went to a remote mail
/// is addressed to (not `bounces`): the remotes count them, `totals` do not.
fn canaries(doc: &Value) -> u64 {
    match doc {
        Value::Object(map) => match map.get("canaries").and_then(Value::as_array) {
            Some(list) => list.iter().filter(|c| c["remote"] != "bounces").count() as u64,
            None => map.values().map(canaries).sum(),
        },
        _ => 0,
    }
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// RFC 3339 of now plus `secs`.
fn t0(secs: u64) -> String {
    humantime::format_rfc3339_millis(SystemTime::now() + Duration::from_secs(secs)).to_string()
}

/// What one verdict (single or merged) showed.
struct Seen {
    summary: Summary,
    /// Messages the remotes took during this run, by their own counters.
    remotes_messages: u64,
    /// Of those, the preflight's canaries (every shard runs the preflight).
    canaries: u64,
    took: Duration,
}

/// Fresh remotes and cluster, then `mailquake run` once (`shards` false) or as 3 shards
/// and `mailquake merge`; the summary and the remotes' count.
fn simulate(dir: &Path, cluster_kind: &str, fault: &str, drain: &str, shards: bool) -> Seen {
    let served_file = dir.join("served.yaml");
    std::fs::write(&served_file, served_yaml(cluster_kind)).unwrap();
    let served = serve(&served_file);
    let (_cluster, nodes) = cluster(&served_file, served.api);
    let file = dir.join("run.yaml");
    std::fs::write(&file, run_yaml(&nodes, served.api, fault, drain)).unwrap();
    assert_eq!(remotes_messages(served.api), 0);
    let started = Instant::now();
    let out = dir.join("out");
    let canaries_sent;
    if !shards {
        let (code, stdout, stderr) = mailquake_os(&[
            "run".as_ref(),
            file.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
        ])
        .run(WAIT)
        .parts();
        assert!(matches!(code, Some(0 | 1)), "{code:?}\n{stdout}\n{stderr}");
        canaries_sent = canaries(&json(&out.join("summary.json")));
    } else {
        let start = t0(3);
        let outs: Vec<PathBuf> = (0..3).map(|i| dir.join(format!("shard-{i}"))).collect();
        let labels: Vec<String> = (0..3).map(|i| format!("{i}/3")).collect();
        let procs: Vec<Proc> = (0..3)
            .map(|i| {
                let args: [&OsStr; 10] = [
                    "run".as_ref(),
                    file.as_os_str(),
                    "--out".as_ref(),
                    outs[i].as_os_str(),
                    "--shard".as_ref(),
                    labels[i].as_ref(),
                    "--t0".as_ref(),
                    start.as_ref(),
                    "--run-id".as_ref(),
                    "sim".as_ref(),
                ];
                mailquake_os(&args).start()
            })
            .collect();
        for (i, mut p) in procs.into_iter().enumerate() {
            let (code, stdout, stderr) = p.exit(WAIT).parts();
            assert_eq!(code, Some(0), "shard {i}: {stdout}\n{stderr}");
        }
        canaries_sent = outs
            .iter()
            .map(|o| canaries(&json(&o.join("run.json"))))
            .sum();
        let mut args: Vec<&OsStr> = vec!["merge".as_ref()];
        args.extend(outs.iter().map(|o| o.as_os_str()));
        args.extend(["--out".as_ref(), out.as_os_str()]);
        let (code, stdout, stderr) = mailquake_os(&args).run(WAIT).parts();
        assert!(matches!(code, Some(0 | 1)), "{code:?}\n{stdout}\n{stderr}");
    }
    let took = started.elapsed();
    Seen {
        summary: Summary::read(&out),
        remotes_messages: remotes_messages(served.api),
        canaries: canaries_sent,
        took,
    }
}

fn isolation(s: &Summary) -> (String, Value) {
    let c = s.check("isolation");
    (
        c["status"].as_str().unwrap().to_string(),
        c["detail"].clone(),
    )
}

/// Runs both ways and compares: the isolation status wanted in each, and the counts.
fn single_and_merged_agree(cluster_kind: &str, fault: &str, drain: &str, want: &str) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let single_dir = dir.join("single");
    let merged_dir = dir.join("merged");
    std::fs::create_dir_all(&single_dir).unwrap();
    std::fs::create_dir_all(&merged_dir).unwrap();
    let single = simulate(&single_dir, cluster_kind, fault, drain, false);
    let merged = simulate(&merged_dir, cluster_kind, fault, drain, true);
    let (s_status, s_p99) = isolation(&single.summary);
    let (m_status, m_p99) = isolation(&merged.summary);
    eprintln!(
        "{cluster_kind}/{fault}: isolation single {s_status} p99 {s_p99} in {:?}; \
         merged {m_status} p99 {m_p99} in {:?}",
        single.took, merged.took
    );
    assert_eq!(
        s_status,
        want,
        "single: {}",
        single.summary.check("isolation")
    );
    assert_eq!(
        m_status,
        want,
        "merged: {}",
        merged.summary.check("isolation")
    );
    assert_eq!(merged.summary["shards"].as_array().unwrap().len(), 3);
    for seen in [&single, &merged] {
        let totals = &seen.summary["totals"];
        assert!(seen.canaries > 0, "the preflight ran");
        assert_eq!(
            totals["delivered"].as_u64(),
            Some(seen.remotes_messages - seen.canaries),
            "{totals}, canaries {}",
            seen.canaries
        );
        // The plan's 480, less what a loaded machine could not send in time.
        let planned = totals["submitted"].as_u64().unwrap() + totals["shortfall"].as_u64().unwrap();
        assert_eq!(planned, 480, "{totals}");
    }
    // Only shard 0 applied the fault: one window on `down`.
    let windows = merged.summary["faults"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["subject"].as_str().unwrap_or("").contains("down"))
        .count();
    assert_eq!(windows, 1, "{}", merged.summary["faults"]);
}

#[test]
fn sharded_quickstart_like_run_passes_isolation_as_a_single_run_does() {
    single_and_merged_agree("queue: per-destination", "refuse", "10s", "pass");
}

#[test]
fn sharded_naive_like_run_fails_isolation_as_a_single_run_does() {
    single_and_merged_agree(
        "queue: shared, concurrency: 2, timeouts: { connect: 2s, reply: 3s }",
        "blackhole",
        "15s",
        "fail",
    );
}
