//! The fault timeline: switches remote faults, node faults and operator actions (`exec`)
//! on and off at their offsets from load start, and heals everything when told (end of
//! run, failure, a stop signal) — a fault is never left behind: remote faults are cleared, stuck
//! nodes released, and every `exec` whose window is open has its `undo` run. What it has
//! put in force and not yet undone is published as it changes ([`Controls::in_force`])
//! so a signal can say what is still being undone.

use std::collections::HashMap;
use std::time::Duration;

use fake_remotes::Fault;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::abort::Abort;
use crate::cluster::embedded::node::NodeControl;
use crate::journal::{Action, Journal};
use crate::scenario::{FaultSubject, FaultWindow, NodeFault};

/// Longest an `exec` command may take before it counts as failed.
const EXEC_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the timeline's switches go.
#[derive(Default)]
pub struct Controls {
    /// Remote name → its fault set.
    pub remotes: HashMap<String, watch::Sender<Vec<Fault>>>,
    /// Embedded node name → its control channel.
    pub nodes: HashMap<String, mpsc::UnboundedSender<NodeControl>>,
    /// What is in force that would outlive the process — `exec` actions with an undo,
    /// faults on remotes served elsewhere — one description each, until undone.
    pub in_force: watch::Sender<Vec<String>>,
    /// The remotes are served by another process (their faults outlive this one).
    pub remotes_elsewhere: bool,
    /// Where `exec` actions with an `undo` are recorded before they run (crash safety).
    pub journal: Option<Journal>,
}

/// Puts the faults at offset 0 in force, then fixes t0 — the load's start, sent through
/// `started` — and runs the rest of the timeline from it until `heal` is cancelled, then
/// heals everything. An `exec` command that fails aborts the run (it cannot go on as
/// planned). Returns the problems met (failed commands), one line each.
///
/// t0 comes after the offset-0 faults so the load starts with them in force (otherwise a
/// busy machine lets the first messages slip past a fault meant to be there from the
/// start) and on its own schedule: an offset-0 `exec` that takes seconds (a Postfix
/// reload) must not leave the load seconds behind, to catch up in a burst.
pub async fn run(
    windows: Vec<FaultWindow>,
    controls: Controls,
    heal: CancellationToken,
    abort: Abort,
    started: oneshot::Sender<Instant>,
) -> Vec<String> {
    let mut active = vec![false; windows.len()];
    // The journal id of each `exec` whose undo is owed.
    let mut journaled: Vec<Option<u64>> = vec![None; windows.len()];
    let mut problems = Vec::new();
    let mut started = Some(started);
    let mut t0: Option<Instant> = None;
    for (at, index, on) in transitions(&windows) {
        if !at.is_zero() && t0.is_none() {
            let now = Instant::now();
            t0 = Some(now);
            if let Some(started) = started.take() {
                let _ = started.send(now);
            }
        }
        // Offset 0 (before t0): at once.
        let due = t0.map_or_else(Instant::now, |t0| t0 + at);
        tokio::select! {
            _ = tokio::time::sleep_until(due) => {}
            _ = heal.cancelled() => break,
        }
        active[index] = on;
        let subject = &windows[index].subject;
        // Through the live progress, so the line lands above a drawn bar.
        crate::report::progress::log_line(&format!(
            "[fault {:>5.1}s] {} {} on {}",
            t0.map_or(0.0, |t0| t0.elapsed().as_secs_f64()),
            if on { "on: " } else { "off:" },
            subject.kind(),
            subject.target()
        ));
        if let FaultSubject::Exec { name, run, undo } = subject {
            if on {
                match journal_exec(controls.journal.as_ref(), name, run, undo.as_ref()).await {
                    Ok(id) => journaled[index] = id,
                    Err(e) => {
                        // Unrecorded, it could not be undone after a crash: not run.
                        problems.push(format!("exec `{name}` not run: {e}"));
                        crate::report::progress::log_line(&format!(
                            "mailquake: exec `{name}` not run: {e}"
                        ));
                        active[index] = false;
                        abort.abort(format!("exec `{name}` not run: {e}"));
                        continue;
                    }
                }
            }
            let command = if on { Some(run) } else { undo.as_ref() };
            if let Some(command) = command {
                let done = exec(command).await;
                if done.is_ok() && !on {
                    journal_undone(controls.journal.as_ref(), journaled[index].take()).await;
                }
                if let Err(e) = done {
                    let what = if on { "run" } else { "undo" };
                    problems.push(format!("exec {what} `{command}` failed: {e}"));
                    crate::report::progress::log_line(&format!(
                        "mailquake: exec {what} `{command}` failed: {e}"
                    ));
                    if on {
                        abort.abort(format!("exec run `{command}` failed: {e}"));
                    }
                }
            }
        } else {
            apply(&windows, &active, subject, &controls);
        }
        publish(&windows, &active, &controls);
    }
    if let Some(started) = started.take() {
        let _ = started.send(Instant::now());
    }
    heal.cancelled().await;
    for tx in controls.remotes.values() {
        tx.send_replace(Vec::new());
    }
    for tx in controls.nodes.values() {
        let _ = tx.send(NodeControl::Stuck(false));
    }
    for (window, on) in windows.iter().zip(active.iter_mut()) {
        *on &= matches!(window.subject, FaultSubject::Exec { .. });
    }
    publish(&windows, &active, &controls);
    for i in 0..windows.len() {
        if let (
            true,
            FaultSubject::Exec {
                undo: Some(undo), ..
            },
        ) = (active[i], &windows[i].subject)
        {
            crate::report::progress::log_line(&format!("[heal] undo: {undo}"));
            let done = exec(undo).await;
            if done.is_ok() {
                journal_undone(controls.journal.as_ref(), journaled[i].take()).await;
            }
            if let Err(e) = done {
                problems.push(format!("exec undo `{undo}` failed: {e}"));
                crate::report::progress::log_line(&format!(
                    "mailquake: exec undo `{undo}` failed: {e}"
                ));
            }
            active[i] = false;
            publish(&windows, &active, &controls);
        }
    }
    problems
}

/// Publishes what is in force and would outlive the process (see [`Controls::in_force`]).
fn publish(windows: &[FaultWindow], active: &[bool], controls: &Controls) {
    let in_force: Vec<String> = windows
        .iter()
        .zip(active)
        .filter(|(_, on)| **on)
        .filter_map(|(w, _)| match &w.subject {
            FaultSubject::Exec {
                undo: Some(undo), ..
            } => Some(format!("{} (undo `{undo}`)", w.subject.target())),
            FaultSubject::Remote { remote, fault } if controls.remotes_elsewhere => Some(format!(
                "{} on remote {remote} (served elsewhere)",
                fault.kind()
            )),
            _ => None,
        })
        .collect();
    controls.in_force.send_if_modified(|old| {
        let changed = *old != in_force;
        *old = in_force;
        changed
    });
}

/// Records an `exec` that has an `undo` in the journal before it runs; its id, or
/// `None` when there is no journal or nothing to undo.
async fn journal_exec(
    journal: Option<&Journal>,
    name: &str,
    run: &str,
    undo: Option<&String>,
) -> Result<Option<u64>, String> {
    let (Some(journal), Some(undo)) = (journal, undo) else {
        return Ok(None);
    };
    let action = Action::Exec {
        name: name.to_string(),
        run: run.to_string(),
        undo: undo.clone(),
        cwd: std::env::current_dir().unwrap_or_default(),
    };
    journal.applied(action).await.map(Some)
}

/// Records that the journaled action `id` (if any) was undone.
async fn journal_undone(journal: Option<&Journal>, id: Option<u64>) {
    if let (Some(journal), Some(id)) = (journal, id) {
        journal.undone_logged(id).await;
    }
}

/// Runs `command` with `sh -c`, within [`EXEC_TIMEOUT`]; `Err` says why it failed.
pub async fn exec(command: &str) -> Result<(), String> {
    exec_in(command, None).await
}

/// [`exec`] in the directory `cwd` (this process's own when `None`): `mailquake heal`
/// runs an undo where the run ran it.
pub async fn exec_in(command: &str, cwd: Option<&std::path::Path>) -> Result<(), String> {
    let mut child = tokio::process::Command::new("sh");
    child.arg("-c").arg(command);
    if let Some(cwd) = cwd {
        child.current_dir(cwd);
    }
    let child = child
        .stdin(std::process::Stdio::null())
        // Its own process group: a Ctrl-C at the terminal (sent to the whole foreground
        // group) must not kill an undo the run is waiting for.
        .process_group(0)
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(EXEC_TIMEOUT, child).await {
        Err(_) => Err(format!("still running after {}s", EXEC_TIMEOUT.as_secs())),
        Ok(Err(e)) => Err(format!("cannot start sh: {e}")),
        Ok(Ok(out)) if out.status.success() => Ok(()),
        Ok(Ok(out)) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let last = stderr
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            Err(format!("{} — {}", out.status, last.trim()))
        }
    }
}

/// (offset, window index, on/off), in time order; at equal times "off" goes first.
pub fn transitions(windows: &[FaultWindow]) -> Vec<(Duration, usize, bool)> {
    // Shared with standalone remotes' timeline: the same order wherever faults run.
    fake_remotes::standalone::start::transitions(windows.iter().map(|w| (w.at, w.end())))
}

/// Pushes the combined faults in force on `subject`'s remote or node.
fn apply(windows: &[FaultWindow], active: &[bool], subject: &FaultSubject, controls: &Controls) {
    let in_force = windows
        .iter()
        .zip(active)
        .filter(|(_, on)| **on)
        .map(|(w, _)| &w.subject);
    match subject {
        FaultSubject::Remote { remote, .. } => {
            let faults: Vec<Fault> = in_force
                .filter_map(|s| match s {
                    FaultSubject::Remote { remote: r, fault } if r == remote => Some(fault.clone()),
                    _ => None,
                })
                .collect();
            if let Some(tx) = controls.remotes.get(remote) {
                tx.send_replace(faults);
            }
        }
        FaultSubject::Node { node, .. } => {
            let stuck = in_force.into_iter().any(
                |s| matches!(s, FaultSubject::Node { node: n, fault: NodeFault::Stuck } if n == node),
            );
            if let Some(tx) = controls.nodes.get(node) {
                let _ = tx.send(NodeControl::Stuck(stuck));
            }
        }
        FaultSubject::Exec { .. } => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(at: u64, dur: Option<u64>) -> FaultWindow {
        FaultWindow {
            subject: FaultSubject::Remote {
                remote: "down".into(),
                fault: Fault::REFUSE,
            },
            at: Duration::from_secs(at),
            duration: dur.map(Duration::from_secs),
        }
    }

    fn exec_window(at: u64, dur: Option<u64>, run: &str, undo: &str) -> FaultWindow {
        FaultWindow {
            subject: FaultSubject::Exec {
                name: "t".into(),
                run: run.into(),
                undo: Some(undo.into()),
            },
            at: Duration::from_secs(at),
            duration: dur.map(Duration::from_secs),
        }
    }

    #[test]
    fn orders_transitions_and_heals_before_reapplying() {
        let t = transitions(&[window(10, Some(5)), window(15, Some(5)), window(0, None)]);
        let got: Vec<(u64, usize, bool)> =
            t.iter().map(|(d, i, on)| (d.as_secs(), *i, *on)).collect();
        assert_eq!(
            got,
            [
                (0, 2, true),
                (10, 0, true),
                (15, 0, false),
                (15, 1, true),
                (20, 1, false)
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn switches_remote_faults_live_and_heals_at_the_end() {
        let (tx, mut rx) = watch::channel(Vec::new());
        let controls = Controls {
            remotes: HashMap::from([("down".to_string(), tx)]),
            ..Default::default()
        };
        let heal = CancellationToken::new();
        let spawned = Instant::now();
        let windows = vec![window(1, Some(2)), window(2, None)];
        let (started_tx, started) = oneshot::channel();
        let task = tokio::spawn(run(
            windows,
            controls,
            heal.clone(),
            Abort::new(),
            started_tx,
        ));
        let t0 = started.await.unwrap();
        assert_eq!(
            (t0 - spawned).as_secs(),
            0,
            "nothing at offset 0: started at once"
        );
        rx.changed().await.unwrap();
        assert_eq!(t0.elapsed().as_secs(), 1);
        assert_eq!(rx.borrow_and_update().len(), 1);
        rx.changed().await.unwrap();
        assert_eq!(
            (t0.elapsed().as_secs(), rx.borrow_and_update().len()),
            (2, 2),
            "overlap: both in force"
        );
        rx.changed().await.unwrap();
        assert_eq!(
            (t0.elapsed().as_secs(), rx.borrow_and_update().len()),
            (3, 1)
        );
        heal.cancel();
        assert!(task.await.unwrap().is_empty());
        assert!(rx.borrow().is_empty(), "healed");
    }

    /// `exec` runs its command at the start, its undo at the window's end — or at heal
    /// time when the window is still open; a failing run aborts the run.
    #[tokio::test]
    async fn exec_runs_and_undoes_even_when_healed_early() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let l = log.display();
        let windows = vec![
            exec_window(
                0,
                Some(1),
                &format!("echo run1 >> {l}"),
                &format!("echo undo1 >> {l}"),
            ),
            exec_window(
                0,
                None,
                &format!("echo run2 >> {l}"),
                &format!("echo undo2 >> {l}"),
            ),
        ];
        let heal = CancellationToken::new();
        let abort = Abort::new();
        let task = tokio::spawn(run(
            windows,
            Controls::default(),
            heal.clone(),
            abort.clone(),
            oneshot::channel().0,
        ));
        // Wait (bounded) for both runs and the first undo to have happened.
        for _ in 0..500 {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.lines().count() >= 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        heal.cancel();
        assert!(task.await.unwrap().is_empty());
        let text = std::fs::read_to_string(&log).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines.sort_unstable();
        assert_eq!(lines, ["run1", "run2", "undo1", "undo2"]);
        assert!(!abort.is_cancelled());

        let heal = CancellationToken::new();
        let abort = Abort::new();
        let windows = vec![exec_window(
            0,
            None,
            "echo oops >&2; exit 3",
            &format!("echo undo3 >> {l}"),
        )];
        let task = tokio::spawn(run(
            windows,
            Controls::default(),
            heal.clone(),
            abort.clone(),
            oneshot::channel().0,
        ));
        tokio::time::timeout(Duration::from_secs(10), abort.cancelled())
            .await
            .unwrap();
        heal.cancel();
        let problems = task.await.unwrap();
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].contains("exit status: 3") && problems[0].contains("oops"),
            "{problems:?}"
        );
        assert!(
            std::fs::read_to_string(&log).unwrap().contains("undo3"),
            "undone even though it failed"
        );
    }
}

#[cfg(test)]
mod in_force_tests {
    use super::*;

    /// What would outlive the process is published while in force and cleared as it is
    /// undone: exec actions with an undo, faults on remotes served elsewhere.
    #[tokio::test]
    async fn publishes_what_is_in_force_until_undone() {
        let (faults, _faults_rx) = watch::channel(Vec::new());
        let controls = Controls {
            remotes: HashMap::from([("down".to_string(), faults)]),
            remotes_elsewhere: true,
            ..Default::default()
        };
        let mut in_force = controls.in_force.subscribe();
        let windows = vec![
            FaultWindow {
                subject: FaultSubject::Exec {
                    name: "hold".into(),
                    run: "true".into(),
                    undo: Some("true".into()),
                },
                at: Duration::ZERO,
                duration: None,
            },
            FaultWindow {
                subject: FaultSubject::Remote {
                    remote: "down".into(),
                    fault: Fault::REFUSE,
                },
                at: Duration::ZERO,
                duration: None,
            },
        ];
        let heal = CancellationToken::new();
        let (started_tx, started) = oneshot::channel();
        let task = tokio::spawn(run(
            windows,
            controls,
            heal.clone(),
            Abort::new(),
            started_tx,
        ));
        started.await.unwrap();
        let now = in_force.borrow_and_update().clone();
        assert_eq!(
            now,
            [
                "exec `hold` (undo `true`)",
                "refuse on remote down (served elsewhere)"
            ]
        );
        heal.cancel();
        assert!(task.await.unwrap().is_empty());
        assert!(in_force.borrow().is_empty(), "everything undone");
    }
}

#[cfg(test)]
mod journal_tests {
    use super::*;
    use crate::journal;

    /// An `exec` with an undo is in the journal before its `run` starts, and marked
    /// undone once its undo ran.
    #[tokio::test]
    async fn exec_is_journaled_before_it_runs_and_undone_after() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::create(dir.path(), "r", None, "/".into()).unwrap();
        let file = dir.path().join(journal::FILE);
        let seen = dir.path().join("seen");
        let window = FaultWindow {
            subject: FaultSubject::Exec {
                name: "t".into(),
                run: format!(
                    "grep -q '\"applied\"' {} && touch {}",
                    file.display(),
                    seen.display()
                ),
                undo: Some("true".into()),
            },
            at: Duration::ZERO,
            duration: None,
        };
        let controls = Controls {
            journal: Some(journal.clone()),
            ..Default::default()
        };
        let heal = CancellationToken::new();
        let (started_tx, started) = oneshot::channel();
        let task = tokio::spawn(run(
            vec![window],
            controls,
            heal.clone(),
            Abort::new(),
            started_tx,
        ));
        started.await.unwrap();
        assert!(seen.exists(), "the action was journaled when `run` ran");
        assert_eq!(journal::read(dir.path()).unwrap().in_force.len(), 1);
        heal.cancel();
        assert!(task.await.unwrap().is_empty());
        assert!(journal.finish().await.unwrap().is_empty(), "undone");
        assert!(journal::read(dir.path()).unwrap().finished);
    }
}

#[cfg(test)]
mod start_tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn faults_at_offset_zero_are_in_force_when_started_fires() {
        let (tx, rx) = watch::channel(Vec::new());
        let controls = Controls {
            remotes: HashMap::from([("down".to_string(), tx)]),
            ..Default::default()
        };
        let heal = CancellationToken::new();
        let (started_tx, started) = oneshot::channel();
        let refuse = |at| FaultWindow {
            subject: FaultSubject::Remote {
                remote: "down".into(),
                fault: Fault::REFUSE,
            },
            at: Duration::from_secs(at),
            duration: None,
        };
        let task = tokio::spawn(run(
            vec![refuse(0), refuse(5)],
            controls,
            heal.clone(),
            Abort::new(),
            started_tx,
        ));
        started.await.unwrap();
        assert_eq!(
            rx.borrow().len(),
            1,
            "the offset-0 fault, not yet the later one"
        );
        heal.cancel();
        task.await.unwrap();
        assert!(rx.borrow().is_empty(), "healed");
    }

    /// A slow `exec` at offset 0 (a Postfix reload takes ~2 s) comes before t0: the
    /// load's schedule and the later faults count from when it is done, so the load does
    /// not start seconds behind.
    #[tokio::test]
    async fn t0_is_after_a_slow_exec_at_offset_zero() {
        let (tx, mut rx) = watch::channel(Vec::new());
        let controls = Controls {
            remotes: HashMap::from([("down".to_string(), tx)]),
            ..Default::default()
        };
        let heal = CancellationToken::new();
        let (started_tx, started) = oneshot::channel();
        let windows = vec![
            FaultWindow {
                subject: FaultSubject::Exec {
                    name: "slow".into(),
                    run: "sleep 0.5".into(),
                    undo: None,
                },
                at: Duration::ZERO,
                duration: None,
            },
            FaultWindow {
                subject: FaultSubject::Remote {
                    remote: "down".into(),
                    fault: Fault::REFUSE,
                },
                at: Duration::from_millis(300),
                duration: None,
            },
        ];
        let spawned = Instant::now();
        let task = tokio::spawn(run(
            windows,
            controls,
            heal.clone(),
            Abort::new(),
            started_tx,
        ));
        let t0 = started.await.unwrap();
        assert!(
            t0 - spawned >= Duration::from_millis(500),
            "t0 after the exec: {:?}",
            t0 - spawned
        );
        rx.changed().await.unwrap();
        assert!(
            t0.elapsed() >= Duration::from_millis(300),
            "the 300 ms fault counts from t0"
        );
        heal.cancel();
        assert!(task.await.unwrap().is_empty());
    }
}
