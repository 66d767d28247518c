//! A run split over 3 shard processes on loopback, then merged: `mailquake remotes`
//! serves the fake remotes, and its `ok` remote stands in for the target (mail submitted
//! to it arrives there at once). All shards share one T0; the merged counts equal the
//! remotes' own counters, the fault is applied once (by shard 0), and the merge refuses
//! a missing shard and a mismatched T0 in one line each. A shard started after T0 plus
//! the tolerance exits 4 without sending.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::support::binary::{mailquake_os, WAIT};
use crate::support::remotes::{remotes, serve};
use crate::support::scenario;

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// RFC 3339 of now plus `secs` (negative: in the past).
fn t0(secs: i64) -> String {
    let now = SystemTime::now();
    let at = if secs >= 0 {
        now + Duration::from_secs(secs as u64)
    } else {
        now - Duration::from_secs((-secs) as u64)
    };
    humantime::format_rfc3339_millis(at).to_string()
}

fn shard_args<'a>(
    file: &'a Path,
    out: &'a Path,
    shard: &'a str,
    t0: &'a str,
) -> Vec<&'a std::ffi::OsStr> {
    [
        "run".as_ref(),
        file.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
        "--shard".as_ref(),
        shard.as_ref(),
        "--t0".as_ref(),
        t0.as_ref(),
        "--run-id".as_ref(),
        "shardtest".as_ref(),
        "--skip-preflight".as_ref(),
    ]
    .to_vec()
}

fn ok_counters(api: std::net::SocketAddr) -> Value {
    remotes(api)["remotes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "ok")
        .unwrap()["counters"]
        .clone()
}

#[test]
fn three_shards_merge_to_the_remotes_counts_with_one_fault_timeline() {
    let served = serve(&scenario("served-remotes.yaml"));
    let ok_listen = remotes(served.api)["remotes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "ok")
        .unwrap()["listen"]
        .as_str()
        .unwrap()
        .replace("0.0.0.0:", "127.0.0.1:");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shards.yaml");
    std::fs::write(
        &file,
        format!(
            "version: 1
name: t-shards
seed: 7
target: {{ smtp: [\"{ok_listen}\"] }}
remotes: {{ external: \"http://{api}\" }}
load:
  steps: [ {{ rate: 60/s, for: 3s }} ]
  mix: {{ ok.test: 100% }}
  sessions: 30
faults:
  - {{ remote: down, at: 1s, for: 1s, fault: refuse }}
checks: [ no_loss, no_duplicates ]
settle: 10s
",
            api = served.api
        ),
    )
    .unwrap();
    let start = t0(4);
    let outs: Vec<PathBuf> = (0..3)
        .map(|i| dir.path().join(format!("shard-{i}")))
        .collect();
    let labels: Vec<String> = (0..3).map(|i| format!("{i}/3")).collect();
    let procs: Vec<_> = (0..3)
        .map(|i| mailquake_os(&shard_args(&file, &outs[i], &labels[i], &start)).start())
        .collect();
    for (i, mut p) in procs.into_iter().enumerate() {
        let (code, stdout, stderr) = p.exit(WAIT).parts();
        assert_eq!(code, Some(0), "shard {i}: {stdout}\n{stderr}");
        let m = json(&outs[i].join("shard.json"));
        assert_eq!(
            (m["index"].as_u64(), m["count"].as_u64()),
            (Some(i as u64), Some(3))
        );
        assert_eq!(m["status"], "complete");
        assert!(
            !outs[i].join("summary.json").exists(),
            "a shard has no verdict"
        );
    }
    // Only shard 0 applied (and journaled) the fault.
    let journaled = |i: usize| {
        std::fs::read_to_string(outs[i].join("actions.journal"))
            .unwrap_or_default()
            .contains("\"down\"")
    };
    assert!(journaled(0) && !journaled(1) && !journaled(2));

    let merged = dir.path().join("merged");
    let mut args: Vec<&std::ffi::OsStr> = vec!["merge".as_ref()];
    args.extend(outs.iter().map(|o| o.as_os_str()));
    args.extend(["--out".as_ref(), merged.as_os_str()]);
    let (code, stdout, stderr) = mailquake_os(&args).run(WAIT).parts();
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let summary = json(&merged.join("summary.json"));
    assert_eq!(summary["verdict"], "pass", "{summary}");
    assert_eq!(summary["run_id"], "shardtest");
    assert_eq!(summary["shards"].as_array().unwrap().len(), 3);
    let counters = ok_counters(served.api);
    let totals = &summary["totals"];
    assert_eq!(
        totals["delivered"], counters["messages"],
        "{totals} vs {counters}"
    );
    assert_eq!(totals["submitted"], totals["delivered"]);
    assert_eq!(summary["remotes"]["ok"]["messages"], counters["messages"]);
    assert!(totals["submitted"].as_u64().unwrap() >= 150, "{totals}");
    // Every shard sent its share, none was counted foreign by the others.
    for s in summary["shards"].as_array().unwrap() {
        assert!(s["submitted"].as_u64().unwrap() >= 50, "{s}");
    }
    // The other shards' ~120 messages are not foreign to a shard, nor is a delivery
    // the remotes reported before its own submission reached the collector.
    assert_eq!(summary["foreign"], 0, "{summary}");
    // One application of the fault: one window on `down`, from the plan.
    let down: Vec<&Value> = summary["faults"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["subject"].as_str().unwrap_or("").contains("down"))
        .collect();
    assert_eq!(down.len(), 1, "{}", summary["faults"]);
    for name in ["junit.xml", "report.html", "ledger.bin", "attempts.bin"] {
        assert!(merged.join(name).is_file(), "{name}");
    }
    // Per-endpoint latency is merged from the shards' tagged histograms: as many
    // `connect` samples as the shards counted, not an empty table.
    let connects = |s: &Value| -> u64 {
        s["load"]["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["phases"]["connect"]["count"].as_u64().unwrap_or(0))
            .sum()
    };
    let shard_connects: u64 = outs
        .iter()
        .map(|o| connects(&json(&o.join("run.json"))))
        .sum();
    assert!(shard_connects > 0);
    assert_eq!(connects(&summary), shard_connects, "{}", summary["load"]);
    // A message of shard 1 is explained from the merged folder (its attempts.bin).
    let e = mailquake_os(&[
        "explain".as_ref(),
        merged.as_os_str(),
        "shardtest.1".as_ref(),
    ])
    .run(WAIT);
    assert_eq!(e.code, Some(0), "{}{}", e.stdout, e.stderr);
    assert!(
        e.stdout.contains("remote ok: recipient 0 arrived"),
        "{}",
        e.stdout
    );

    // Refusals: a missing shard, a mismatched T0 — one line each, exit 2.
    let refused = |dirs: &[&Path]| {
        let out = dir.path().join("refused");
        let mut args: Vec<&std::ffi::OsStr> = vec!["merge".as_ref()];
        args.extend(dirs.iter().map(|d| d.as_os_str()));
        args.extend(["--out".as_ref(), out.as_os_str()]);
        let (code, stdout, stderr) = mailquake_os(&args).run(WAIT).parts();
        assert_eq!(code, Some(2), "{stdout}\n{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        stderr
    };
    let missing = refused(&[&outs[0], &outs[1]]);
    assert!(missing.contains("shard 2 of 3 missing"), "{missing}");
    let other = dir.path().join("shard-2-other-t0");
    std::fs::create_dir_all(&other).unwrap();
    for entry in std::fs::read_dir(&outs[2]).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), other.join(entry.file_name())).unwrap();
    }
    let mut m = json(&other.join("shard.json"));
    m["t0_us"] = Value::from(m["t0_us"].as_u64().unwrap() + 1_000_000);
    std::fs::write(other.join("shard.json"), m.to_string()).unwrap();
    let t0_line = refused(&[&outs[0], &outs[1], &other]);
    assert!(t0_line.contains("shards disagree on T0"), "{t0_line}");
}

#[test]
fn a_shard_started_after_t0_and_the_tolerance_exits_4_without_sending() {
    let served = serve(&scenario("served-remotes.yaml"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("late.yaml");
    std::fs::write(
        &file,
        format!(
            "version: 1
name: t-late
target: {{ smtp: [\"127.0.0.1:9\"] }}
remotes: {{ external: \"http://{}\" }}
load:
  steps: [ {{ rate: 10/s, for: 1s }} ]
  mix: {{ ok.test: 100% }}
checks: [ no_loss ]
",
            served.api
        ),
    )
    .unwrap();
    let before = ok_counters(served.api);
    let out = dir.path().join("late");
    let late = t0(-10);
    let (code, stdout, stderr) = mailquake_os(&shard_args(&file, &out, "1/2", &late))
        .run(WAIT)
        .parts();
    assert_eq!(code, Some(4), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("started") && stderr.contains("after T0"),
        "{stderr}"
    );
    assert_eq!(json(&out.join("shard.json"))["status"], "late");
    assert_eq!(ok_counters(served.api), before, "nothing sent");
    // The merge names it.
    let (code, _, stderr) = mailquake_os(&[
        "merge".as_ref(),
        out.as_os_str(),
        "--out".as_ref(),
        dir.path().join("m").as_os_str(),
    ])
    .run(WAIT)
    .parts();
    assert_eq!(code, Some(2));
    assert!(stderr.contains("started late"), "{stderr}");
}

#[test]
fn shards_need_remotes_and_a_target_served_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let file = crate::support::root().join("scenarios/quickstart.yaml");
    let start = t0(30);
    let (code, _, stderr) = mailquake_os(&shard_args(&file, &out, "0/2", &start))
        .run(WAIT)
        .parts();
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("remotes: shards need remotes served elsewhere"),
        "{stderr}"
    );
}
