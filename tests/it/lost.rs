//! Runs whose remotes or target stop answering, over real processes: `mailquake remotes`
//! killed (SIGKILL) mid attached run, and an external target (a remote served by
//! `mailquake remotes`, standing in for an SMTP server) killed mid run. Either aborts
//! the run (exit 3, verdict `aborted`, the reason naming the address and the time) and
//! no check blames the cluster for it (none `fail`).

use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::remotes::{attached, remotes, scenario, serve, Served};
use crate::signals::{Proc, WAIT};

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
    let mut run = Proc::start(&args);
    // The load has started once the run says where its output goes.
    run.wait_stderr("; output ");
    ready(&served);
    drop(served);
    let (code, stdout, stderr) = run.exit(WAIT);
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
    // (Only the cut is compared: an attached run's saved scenario names no remotes, so
    // `report` cannot judge `drain` again — known, outside this test.)
    let again = crate::remotes::mailquake(&["report".as_ref(), out.as_os_str()], WAIT);
    assert_eq!(again.status.code(), Some(0), "{again:?}");
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
