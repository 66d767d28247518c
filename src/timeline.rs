//! The fault timeline: switches remote faults, node faults and operator actions (`exec`)
//! on and off at their offsets from load start, and heals everything when told (end of
//! run, failure, a stop signal) — a fault is never left behind: remote faults are cleared, stuck
//! nodes released, and every `exec` whose window is open has its `undo` run. What it has
//! put in force and not yet undone is published as it changes ([`Controls::in_force`])
//! so a signal can say what is still being undone. With `--live-control` it also takes
//! orders given by hand ([`Steer`]: inject, heal one remote, heal all — which stops the
//! timeline) and tells every switch as it happens ([`Told`], for the live view).

use std::collections::HashMap;
use std::time::Duration;

use fake_remotes::Fault;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use serde::Serialize;

use crate::abort::Abort;
use crate::checks::steered::{SteerAction, Steered};
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
    /// Orders given by hand during the run (`--live-control`); none otherwise.
    pub steer: Option<mpsc::Receiver<Steer>>,
    /// Where each switch is told as it happens (the live view). Never waited on: a
    /// full channel loses the note, not the switch.
    pub told: Option<mpsc::Sender<Told>>,
}

/// An order given by hand.
#[derive(Clone, Debug)]
pub enum Steer {
    /// Put `fault` in force on `remote` now, on top of the planned ones, until healed.
    Inject {
        remote: String,
        fault: Fault,
        /// The fault in the scenario's form, as given (for the record).
        form: serde_json::Value,
    },
    /// Heal every fault on `remote` now (a later planned window still begins).
    Heal { remote: String },
    /// Heal everything now and stop the timeline.
    HealAll,
}

/// What the timeline tells the live view.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Told {
    /// A fault or an `exec` action went on or off.
    Switch {
        /// ms since load start.
        at_ms: u32,
        on: bool,
        /// `refuse`, `stuck`, `exec`.
        kind: String,
        /// `remote down`, `node n2`, `exec `name``.
        target: String,
        /// Switched by an order given by hand.
        by_hand: bool,
    },
    /// An order given by hand was carried out.
    Steered(Steered),
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
    mut controls: Controls,
    heal: CancellationToken,
    abort: Abort,
    started: oneshot::Sender<Instant>,
) -> Vec<String> {
    let mut state = State {
        active: vec![false; windows.len()],
        journaled: vec![None; windows.len()],
        problems: Vec::new(),
        hand: HashMap::new(),
        t0: anchor,
        windows,
    };
    let mut steer = controls.steer.take();
    let mut started = Some(started);
    if let Some(anchor) = anchor {
        if let Some(started) = started.take() {
            let _ = started.send(anchor);
        }
    }
    'timeline: for (at, index, on) in transitions(&state.windows) {
        if !at.is_zero() && state.t0.is_none() {
            let now = Instant::now();
            state.t0 = Some(now);
            if let Some(started) = started.take() {
                let _ = started.send(now);
            }
        }
        // Offset 0 (before t0): at once.
        let due = state.t0.map_or_else(Instant::now, |t0| t0 + at);
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(due) => break,
                _ = heal.cancelled() => break 'timeline,
                Some(order) = next_order(&mut steer) => {
                    if state.obey(order, &controls).await {
                        break 'timeline;
                    }
                }
            }
        }
        state.switch(index, on, false, &controls, &abort).await;
    }
    if let Some(started) = started.take() {
        let _ = started.send(Instant::now());
    }
    // After the timeline (or "heal all"), orders are still taken until the end.
    while !heal.is_cancelled() {
        tokio::select! {
            _ = heal.cancelled() => {}
            Some(order) = next_order(&mut steer) => {
                state.obey(order, &controls).await;
            }
        }
    }
    state.heal_everything(&controls, false).await;
    state.problems
}

/// The next order given by hand; never, when there is no one to give them.
async fn next_order(steer: &mut Option<mpsc::Receiver<Steer>>) -> Option<Steer> {
    match steer {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// What the timeline has switched.
struct State {
    windows: Vec<FaultWindow>,
    active: Vec<bool>,
    /// The journal id of each `exec` whose undo is owed.
    journaled: Vec<Option<u64>>,
    problems: Vec<String>,
    /// Faults put in force by hand, per remote.
    hand: HashMap<String, Vec<Fault>>,
    t0: Option<Instant>,
}

impl State {
    fn at_ms(&self) -> u32 {
        self.t0.map_or(0, |t0| {
            t0.elapsed().as_millis().min(u128::from(u32::MAX - 1)) as u32
        })
    }

    fn tell(&self, controls: &Controls, told: Told) {
        if let Some(tx) = &controls.told {
            let _ = tx.try_send(told);
        }
    }

    /// Switches window `index` on or off (an `exec` runs its command).
    async fn switch(
        &mut self,
        index: usize,
        on: bool,
        by_hand: bool,
        controls: &Controls,
        abort: &Abort,
    ) {
        self.active[index] = on;
        let subject = self.windows[index].subject.clone();
        // Through the live progress, so the line lands above a drawn bar.
        crate::report::progress::log_line(&format!(
            "[fault {:>5.1}s] {} {} on {}",
            self.t0.map_or(0.0, |t0| t0.elapsed().as_secs_f64()),
            if on { "on: " } else { "off:" },
            subject.kind(),
            subject.target()
        ));
        self.tell(
            controls,
            Told::Switch {
                at_ms: self.at_ms(),
                on,
                kind: subject.kind().to_string(),
                target: subject.target(),
                by_hand,
            },
        );
        if let FaultSubject::Exec { name, run, undo } = &subject {
            if on {
                match journal_exec(controls.journal.as_ref(), name, run, undo.as_ref()).await {
                    Ok(id) => self.journaled[index] = id,
                    Err(e) => {
                        // Unrecorded, it could not be undone after a crash: not run.
                        self.problems.push(format!("exec `{name}` not run: {e}"));
                        crate::report::progress::log_line(&format!(
                            "mailquake: exec `{name}` not run: {e}"
                        ));
                        self.active[index] = false;
                        abort.abort(format!("exec `{name}` not run: {e}"));
                        return;
                    }
                }
            }
            let command = if on { Some(run) } else { undo.as_ref() };
            if let Some(command) = command {
                let done = exec(command).await;
                if done.is_ok() && !on {
                    journal_undone(controls.journal.as_ref(), self.journaled[index].take()).await;
                }
                if let Err(e) = done {
                    let what = if on { "run" } else { "undo" };
                    self.problems
                        .push(format!("exec {what} `{command}` failed: {e}"));
                    crate::report::progress::log_line(&format!(
                        "mailquake: exec {what} `{command}` failed: {e}"
                    ));
                    if on {
                        abort.abort(format!("exec run `{command}` failed: {e}"));
                    }
                }
            }
        } else {
            apply(&self.windows, &self.active, &self.hand, &subject, controls);
        }
        publish(&self.windows, &self.active, controls);
    }

    /// Carries out an order given by hand; `true` when it stops the timeline.
    async fn obey(&mut self, order: Steer, controls: &Controls) -> bool {
        let at_ms = self.at_ms();
        crate::report::progress::log_line(&format!(
            "[hand  {:>5.1}s] {order:?}",
            f64::from(at_ms) / 1000.0
        ));
        let (action, stops) = match order {
            Steer::Inject {
                remote,
                fault,
                form,
            } => {
                self.tell(
                    controls,
                    Told::Switch {
                        at_ms,
                        on: true,
                        kind: fault.kind().to_string(),
                        target: format!("remote {remote}"),
                        by_hand: true,
                    },
                );
                self.hand
                    .entry(remote.clone())
                    .or_default()
                    .push(fault.clone());
                let subject = FaultSubject::Remote {
                    remote: remote.clone(),
                    fault,
                };
                apply(&self.windows, &self.active, &self.hand, &subject, controls);
                (
                    SteerAction::Inject {
                        remote,
                        fault: form,
                    },
                    false,
                )
            }
            Steer::Heal { remote } => {
                self.heal_remote(&remote, controls);
                (SteerAction::Heal { remote }, false)
            }
            Steer::HealAll => {
                self.heal_everything(controls, true).await;
                (SteerAction::HealAll, true)
            }
        };
        self.tell(controls, Told::Steered(Steered { at_ms, action }));
        stops
    }

    /// Every fault on `remote`, planned or by hand, off now.
    fn heal_remote(&mut self, remote: &str, controls: &Controls) {
        let at_ms = self.at_ms();
        for i in 0..self.windows.len() {
            let subject = &self.windows[i].subject;
            if self.active[i]
                && matches!(subject, FaultSubject::Remote { remote: r, .. } if r == remote)
            {
                self.tell_off(controls, at_ms, subject);
                self.active[i] = false;
            }
        }
        for fault in self.hand.remove(remote).unwrap_or_default() {
            let subject = FaultSubject::Remote {
                remote: remote.to_string(),
                fault,
            };
            self.tell_off(controls, at_ms, &subject);
        }
        if let Some(tx) = controls.remotes.get(remote) {
            tx.send_replace(Vec::new());
        }
        publish(&self.windows, &self.active, controls);
    }

    fn tell_off(&self, controls: &Controls, at_ms: u32, subject: &FaultSubject) {
        self.tell(
            controls,
            Told::Switch {
                at_ms,
                on: false,
                kind: subject.kind().to_string(),
                target: subject.target(),
                by_hand: true,
            },
        );
    }

    /// Heals everything: remote faults cleared, nodes released, every `exec` in force
    /// undone (at the end of the run, or "heal all" by hand).
    async fn heal_everything(&mut self, controls: &Controls, by_hand: bool) {
        let at_ms = self.at_ms();
        if by_hand {
            for (w, on) in self.windows.iter().zip(&self.active) {
                if *on && !matches!(w.subject, FaultSubject::Exec { .. }) {
                    self.tell_off(controls, at_ms, &w.subject);
                }
            }
            for (remote, faults) in &self.hand {
                for fault in faults {
                    let subject = FaultSubject::Remote {
                        remote: remote.clone(),
                        fault: fault.clone(),
                    };
                    self.tell_off(controls, at_ms, &subject);
                }
            }
        }
        self.hand.clear();
        for tx in controls.remotes.values() {
            tx.send_replace(Vec::new());
        }
        for tx in controls.nodes.values() {
            let _ = tx.send(NodeControl::Stuck(false));
        }
        for (window, on) in self.windows.iter().zip(self.active.iter_mut()) {
            *on &= matches!(window.subject, FaultSubject::Exec { .. });
        }
        publish(&self.windows, &self.active, controls);
        for i in 0..self.windows.len() {
            if let (
                true,
                FaultSubject::Exec {
                    undo: Some(undo), ..
                },
            ) = (self.active[i], &self.windows[i].subject)
            {
                let undo = undo.clone();
                crate::report::progress::log_line(&format!("[heal] undo: {undo}"));
                if by_hand {
                    self.tell_off(controls, at_ms, &self.windows[i].subject);
                }
                let done = exec(&undo).await;
                if done.is_ok() {
                    journal_undone(controls.journal.as_ref(), self.journaled[i].take()).await;
                }
                if let Err(e) = done {
                    self.problems
                        .push(format!("exec undo `{undo}` failed: {e}"));
                    crate::report::progress::log_line(&format!(
                        "mailquake: exec undo `{undo}` failed: {e}"
                    ));
                }
                self.active[i] = false;
                publish(&self.windows, &self.active, controls);
            }
        }
    }
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
fn apply(
    windows: &[FaultWindow],
    active: &[bool],
    hand: &HashMap<String, Vec<Fault>>,
    subject: &FaultSubject,
    controls: &Controls,
) {
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
                // And those put in force by hand.
                .chain(hand.get(remote).into_iter().flatten().cloned())
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
