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
pub const EXEC_TIMEOUT: Duration = Duration::from_secs(60);

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
///
/// `anchor`: a t0 fixed beforehand (a shard's: the run's T0, shared by every shard);
/// the offset-0 faults then go in force at once and the rest runs from it.
pub async fn run(
    windows: Vec<FaultWindow>,
    anchor: Option<Instant>,
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
    let mut t0: Option<Instant> = anchor;
    if let Some(anchor) = anchor {
        if let Some(started) = started.take() {
            let _ = started.send(anchor);
        }
    }
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
#[path = "timeline_tests.rs"]
mod tests;
