//! Stop signals over real processes: SIGTERM, SIGHUP and SIGINT to `mailquake run` with
//! an `exec` action in force (undone, reports written, verdict `aborted` naming the
//! signal, junit.xml with an error, exit 3); a second signal during a slow undo does not
//! skip it, a third exits at once naming what was left; `flood` and `remotes` stop
//! promptly with their documented exit codes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::binary::{mailquake_os, mailquake_run, Proc, WAIT};
use crate::support::reports::assert_rerenders_identically;
use crate::support::scenario;
use crate::support::smtp::remote;
use crate::support::summary::Summary;

/// The exec-hold scenario with `hold` as the file its action creates and `undo` as the
/// command that reverses it; returns the scenario's path.
fn exec_hold(dir: &Path, hold: &Path, undo: &str) -> PathBuf {
    let text = std::fs::read_to_string(scenario("exec-hold.yaml"))
        .unwrap()
        .replace("HOLD", &hold.display().to_string())
        .replace("UNDO", undo);
    let file = dir.join("exec-hold.yaml");
    std::fs::write(&file, text).unwrap();
    file
}

/// Starts `mailquake run` on the exec-hold scenario and waits for its start line (the
/// action is in force by then).
fn start_run(dir: &Path, hold: &Path, undo: &str) -> Proc {
    let file = exec_hold(dir, hold, undo);
    let out = dir.join("out");
    let mut run = mailquake_run(&file, &out).start();
    run.wait_stderr("mailquake: t-exec-hold — ");
    assert!(hold.exists(), "the exec action is in force at the start");
    run
}

#[test]
fn a_stop_signal_mid_run_undoes_the_exec_writes_an_aborted_verdict_and_exits_3() {
    for signal in ["TERM", "HUP", "INT"] {
        let dir = tempfile::tempdir().unwrap();
        let hold = dir.path().join("held");
        let mut run = start_run(dir.path(), &hold, &format!("rm '{}'", hold.display()));
        run.signal(signal);
        let (code, stdout, stderr) = run.exit(WAIT).parts();
        assert_eq!(code, Some(3), "SIG{signal}: {stdout}\n{stderr}");
        assert!(!hold.exists(), "SIG{signal}: the undo ran\n{stderr}");
        assert!(
            stderr.contains(&format!("mailquake: SIG{signal} — stopping")),
            "{stderr}"
        );

        let out = dir.path().join("out");
        let s = Summary::read(&out);
        assert_eq!(s["schema_version"], 2);
        assert_eq!(s.verdict, "aborted", "SIG{signal}: {s}");
        assert_eq!(s["aborted"], true);
        let abort = s.abort.as_ref().expect("why and when it stopped");
        assert_eq!(abort.reason, format!("interrupted by SIG{signal}"));
        let at = abort.at_s;
        assert!((0.0..60.0).contains(&at), "{at}");
        for c in s["checks"].as_array().unwrap() {
            assert_eq!(c["partial"], true, "{c}");
        }
        let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
        assert!(junit.contains("errors=\"1\""), "{junit}");
        assert!(
            junit.contains(&format!(
                "message=\"run aborted: interrupted by SIG{signal} (at "
            )),
            "{junit}"
        );
        assert!(
            stdout.contains(&format!(
                "verdict: ABORTED — interrupted by SIG{signal} (at "
            )),
            "{stdout}"
        );
        assert!(stdout.contains("checks judged on partial data"), "{stdout}");
        let html = std::fs::read_to_string(out.join("report.html")).unwrap();
        assert!(html.contains(">ABORTED</div>") && html.contains("interrupted by SIG"));
        // The reason is saved with the data: `mailquake report` says it again, byte for byte.
        assert_rerenders_identically(&out);
    }
}

/// A run whose undo takes `secs` seconds, sent SIGTERM and now undoing: (its folder, the
/// file the undo removes, the process).
fn stopped_during_a_slow_undo(secs: u32) -> (tempfile::TempDir, PathBuf, Proc) {
    let dir = tempfile::tempdir().unwrap();
    let hold = dir.path().join("held");
    let undo = format!("sleep {secs}; rm '{}'", hold.display());
    let mut run = start_run(dir.path(), &hold, &undo);
    run.signal("TERM");
    run.wait_stderr(&format!("[heal] undo: sleep {secs}"));
    (dir, hold, run)
}

#[test]
fn a_second_signal_does_not_skip_a_slow_undo_and_says_what_it_is_undoing() {
    let (dir, hold, mut run) = stopped_during_a_slow_undo(5);
    run.signal("TERM");
    run.wait_stderr("SIGTERM again — still undoing: exec `hold`");
    let (code, _, stderr) = run.exit(WAIT).parts();
    assert_eq!(code, Some(3), "{stderr}");
    assert!(!hold.exists(), "the undo finished\n{stderr}");
    let s = Summary::read(&dir.path().join("out"));
    assert_eq!(s.verdict, "aborted");
}

#[test]
fn a_third_signal_exits_at_once_naming_what_was_left_in_force() {
    let (_dir, _hold, mut run) = stopped_during_a_slow_undo(60);
    run.signal("INT");
    run.wait_stderr("SIGINT again — still undoing");
    run.signal("HUP");
    // Well before the undo could have finished.
    let (code, _, stderr) = run.exit(Duration::from_secs(20)).parts();
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        stderr.contains(
            "SIGHUP a third time — exiting now; LEFT IN FORCE: exec `hold` (undo `sleep 60;"
        ),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_a_flood_which_prints_what_it_measured_and_exits_3() {
    let mut sink = remote("mx.flood.test", vec![]);
    let target = sink.addr.to_string();
    let mut flood = mailquake_os(&[
        "flood".as_ref(),
        target.as_ref(),
        "--rate".as_ref(),
        "50/s".as_ref(),
        "--for".as_ref(),
        "5m".as_ref(),
    ])
    .start();
    // Under way once the first message arrives.
    let first = tokio::time::timeout(WAIT, async {
        while let Some(e) = sink.events.recv().await {
            if matches!(e.kind, fake_remotes::RemoteEventKind::Message { .. }) {
                return;
            }
        }
    })
    .await;
    assert!(first.is_ok(), "no message arrived");
    let (code, stdout, stderr) = tokio::task::spawn_blocking(move || {
        flood.signal("TERM");
        flood.exit(WAIT).parts()
    })
    .await
    .unwrap();
    assert_eq!(code, Some(3), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("mailquake flood: SIGTERM — stopping"),
        "{stderr}"
    );
    assert!(
        stdout.contains("mailquake flood · ") && stdout.contains("accepted"),
        "{stdout}"
    );
    sink.stop_and_drain().await;
}

#[test]
fn sigterm_and_sighup_stop_mailquake_remotes_with_exit_0() {
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios/runs/served-remotes.yaml");
    for signal in ["TERM", "HUP"] {
        let mut remotes = mailquake_os(&[
            "remotes".as_ref(),
            file.as_os_str(),
            "--api".as_ref(),
            "127.0.0.1:0".as_ref(),
        ])
        .start();
        // Serving once it says where the API listens.
        remotes.wait_stdout("mailquake: control API on http://");
        remotes.signal(signal);
        let (code, _, stderr) = remotes.exit(WAIT).parts();
        assert_eq!(code, Some(0), "SIG{signal}: {stderr}");
        assert!(
            stderr.contains(&format!("SIG{signal} — stopping")),
            "{stderr}"
        );
    }
}
