//! Runs whose remotes or target stop answering, over real processes: `mailquake remotes`
//! killed (SIGKILL) mid attached run, and an external target (a remote served by
//! `mailquake remotes`, standing in for an SMTP server) killed mid run. Either aborts
//! the run (exit 3, verdict `aborted`, the reason naming the address and the time) and
//! no check blames the cluster for it (none `fail`).

use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::binary::{mailquake_os, WAIT};
use crate::support::remotes::{attached, http, remotes, request, serve, Served};
use crate::support::scenario;

fn summary(out: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap()
}

/// Runs `file` into `out`, kills `served` (SIGKILL, reaped) once the load has started and
/// `ready` returned, and expects exit 3; (summary.json, stderr).
fn run_and_kill(
    file: &Path,
    out: &Path,
    extra: &[&str],
    served: Served,
    ready: impl FnOnce(&Served),
) -> (Value, String) {
    let mut args = vec![
        "run".as_ref(),
        file.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    let mut run = mailquake_os(&args).start();
    // The load has started once the run says where its output goes.
    run.wait_stderr("; output ");
    ready(&served);
    drop(served);
    let (code, stdout, stderr) = run.exit(WAIT).parts();
    assert_eq!(code, Some(3), "{stdout}\n{stderr}");
    (summary(out), stderr)
}

/// Aborted with a reason starting `prefix` and a time; no check failed.
fn assert_aborted_not_failed(summary: &Value, prefix: &str, stderr: &str) {
    assert_eq!(summary["verdict"], "aborted", "{summary}\n{stderr}");
    let reason = summary["abort"]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(prefix)
            && reason.contains(" stopped answering at ")
            && reason.ends_with('s'),
        "{reason}"
    );
    for check in summary["checks"].as_array().unwrap() {
        assert_ne!(check["status"], "fail", "{check}");
    }
    // no_loss reads the whole run, past the moment nothing more was measured.
    let no_loss = summary["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "no_loss")
        .unwrap();
    assert_eq!(no_loss["status"], "inconclusive", "{no_loss}");
    let detail = no_loss["detail"].as_str().unwrap();
    assert!(
        detail.contains(reason) && detail.contains("nothing was measured after"),
        "{detail}"
    );
}

#[test]
fn remotes_killed_mid_attached_run_abort_it_naming_the_url_and_the_time() {
    let served = serve(&scenario("served-remotes.yaml"));
    let url = format!("http://{}", served.api);
    let dir = tempfile::tempdir().unwrap();
    let file = attached(dir.path(), &url, |t| {
        t.replace("for: 6s }", "for: 60s }")
            .replace("at: 1s, for: 3s", "at: 1s, for: 40s")
    });
    let out = dir.path().join("out");
    let (summary, stderr) = run_and_kill(&file, &out, &[], served, |served| {
        // Mid fault: the run's refuse is in force over there.
        let deadline = Instant::now() + WAIT;
        while !remotes(served.api)["remotes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "down" && r["faults"] == serde_json::json!(["refuse"]))
        {
            assert!(
                Instant::now() < deadline,
                "the run's fault was never applied"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    assert_aborted_not_failed(&summary, &format!("the remotes at {url}"), &stderr);
    // Stopped within the grace (5 s) of the kill, not at the end of the 60 s load.
    assert!(
        summary["abort"]["at_s"].as_f64().unwrap() < 45.0,
        "{summary}"
    );
    assert!(stderr.contains("stopped answering"), "{stderr}");
    // The data saved with the run carries the cut: judged again, the same.
    let run_json = std::fs::read_to_string(out.join("run.json")).unwrap();
    assert!(run_json.contains("\"cut\""), "{run_json}");
    let again = mailquake_os(&["report".as_ref(), out.as_os_str()]).run(WAIT);
    assert_eq!(again.code, Some(0), "{again:?}");
    let rejudged = self::summary(&out);
    assert_aborted_not_failed(&rejudged, &format!("the remotes at {url}"), &stderr);
}

#[test]
fn a_target_that_stops_answering_aborts_the_run() {
    let target = serve(&scenario("served-remotes.yaml"));
    let listen = remotes(target.api)["remotes"][0]["listen"]
        .as_str()
        .unwrap()
        .replace("0.0.0.0:", "127.0.0.1:");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lost-target.yaml");
    std::fs::write(
        &file,
        format!(
            "version: 1
name: t-lost-target
seed: 7
target: {{ smtp: [\"{listen}\"] }}
remotes:
  ok: {{ domains: [ok.test] }}
load:
  steps: [ {{ rate: 50/s, for: 60s }} ]
  mix: {{ ok.test: 100% }}
  sessions: 50
checks: [ no_loss, nodes ]
settle: 5s
"
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    // Killed, every connection is refused from then on.
    let (summary, stderr) = run_and_kill(&file, &out, &["--skip-preflight"], target, |_| {});
    assert_aborted_not_failed(&summary, &format!("the target at {listen}"), &stderr);
    assert!(
        summary["abort"]["at_s"].as_f64().unwrap() < 50.0,
        "{summary}"
    );
}

/// The attached scenario without faults of its own, judging `isolation` during faults.
fn attached_without_faults(dir: &Path, url: &str) -> std::path::PathBuf {
    attached(dir, url, |t| {
        t.replace(
            "faults:\n  - { remote: down, at: 1s, for: 3s, fault: refuse }\n",
            "",
        )
        .replace("  - { drain: { domain: down.test, within: 10s } }\n", "")
    })
}

/// A fault put on a served remote by hand during an attached run whose scenario has no
/// faults is recorded (source `api`) and judged by `isolation` (`during: faults`); with
/// no fault at all, `isolation` is inconclusive.
#[test]
fn a_fault_set_by_hand_during_an_attached_run_is_judged() {
    let served = serve(&scenario("served-remotes.yaml"));
    let url = format!("http://{}", served.api);
    let dir = tempfile::tempdir().unwrap();
    let file = attached_without_faults(dir.path(), &url);
    for by_hand in [true, false] {
        let out = dir.path().join(format!("out-{by_hand}"));
        let mut run = crate::support::binary::mailquake_run(&file, &out).start();
        run.wait_stderr("; output ");
        if by_hand {
            let (status, body) = request(served.api, "PUT", "/remotes/down/fault", "\"refuse\"");
            assert_eq!(status, 200, "{body}");
            // In force while healthy mail keeps arriving: 50 more messages at `ok`.
            let ok_messages = || {
                remotes(served.api)["remotes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|r| r["name"] == "ok")
                    .unwrap()["counters"]["messages"]
                    .as_u64()
                    .unwrap()
            };
            let before = ok_messages();
            let deadline = Instant::now() + WAIT;
            while ok_messages() < before + 50 {
                assert!(
                    Instant::now() < deadline,
                    "no healthy mail during the hand-set fault"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
            let (status, body) = http(served.api, "DELETE", "/remotes/down/fault");
            assert!(status == 200 || status == 204, "{body}");
        }
        let (code, stdout, stderr) = run.exit(WAIT).parts();
        let summary = summary(&out);
        let isolation = summary["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "isolation")
            .unwrap()
            .clone();
        if by_hand {
            assert_ne!(
                isolation["status"], "inconclusive",
                "{isolation}\n{stdout}\n{stderr}"
            );
            assert!(
                isolation["detail"].as_str().unwrap().contains("window"),
                "{isolation}"
            );
            let faults = summary["faults"].as_array().unwrap();
            assert_eq!(faults.len(), 1, "{faults:?}");
            assert_eq!(
                (
                    &faults[0]["subject"],
                    &faults[0]["fault"],
                    &faults[0]["source"]
                ),
                (&"remote down".into(), &"refuse".into(), &"api".into()),
                "{faults:?}"
            );
            assert!(faults[0]["for_s"].as_f64().unwrap() > 0.0, "{faults:?}");
            // Drawn on the charts, saying who set it.
            let html = std::fs::read_to_string(out.join("report.html")).unwrap();
            assert!(html.contains("refuse@down (api)"), "no hand-set fault band");
            assert_eq!(
                code,
                Some(if isolation["status"] == "pass" { 0 } else { 1 }),
                "{stdout}\n{stderr}"
            );
        } else {
            assert_eq!(isolation["status"], "inconclusive", "{isolation}");
            assert!(
                isolation["detail"]
                    .as_str()
                    .unwrap()
                    .contains("none reported by the remotes"),
                "{isolation}"
            );
            assert_eq!(code, Some(1), "{stdout}\n{stderr}");
            assert_eq!(summary["faults"], serde_json::json!([]));
        }
    }
}
