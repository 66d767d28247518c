//! The fault timeline: switches remote faults and node faults on and off at their
//! offsets from load start, and heals everything when told (end of run, failure, Ctrl-C)
//! — a fault is never left behind.

use std::collections::HashMap;
use std::time::Duration;

use fake_remotes::Fault;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::scenario::{FaultSubject, FaultWindow, NodeFault};
use crate::target::embedded::node::NodeControl;

/// Runs the timeline from `t0` until `heal` is cancelled, then heals everything.
pub async fn run(
    windows: Vec<FaultWindow>,
    t0: Instant,
    remotes: HashMap<String, watch::Sender<Vec<Fault>>>,
    nodes: HashMap<String, mpsc::UnboundedSender<NodeControl>>,
    heal: CancellationToken,
) {
    let mut active = vec![false; windows.len()];
    for (at, index, on) in transitions(&windows) {
        tokio::select! {
            _ = tokio::time::sleep_until(t0 + at) => {}
            _ = heal.cancelled() => break,
        }
        active[index] = on;
        apply(&windows, &active, &windows[index].subject, &remotes, &nodes);
        // Through the live progress, so the line lands above a drawn bar.
        crate::report::progress::log_line(&format!(
            "[fault {:>5.1}s] {} {}",
            t0.elapsed().as_secs_f64(),
            if on { "on: " } else { "off:" },
            describe(&windows[index].subject)
        ));
    }
    heal.cancelled().await;
    active.iter_mut().for_each(|a| *a = false);
    for tx in remotes.values() {
        tx.send_replace(Vec::new());
    }
    for tx in nodes.values() {
        let _ = tx.send(NodeControl::Stuck(false));
    }
}

/// (offset, window index, on/off), in time order; at equal times "off" goes first.
pub fn transitions(windows: &[FaultWindow]) -> Vec<(Duration, usize, bool)> {
    let mut t: Vec<(Duration, usize, bool)> = Vec::new();
    for (i, w) in windows.iter().enumerate() {
        t.push((w.at, i, true));
        if let Some(end) = w.end() {
            t.push((end, i, false));
        }
    }
    t.sort_by_key(|(at, i, on)| (*at, *on, *i));
    t
}

/// Pushes the combined faults in force on `subject`'s remote or node.
fn apply(
    windows: &[FaultWindow],
    active: &[bool],
    subject: &FaultSubject,
    remotes: &HashMap<String, watch::Sender<Vec<Fault>>>,
    nodes: &HashMap<String, mpsc::UnboundedSender<NodeControl>>,
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
                .collect();
            if let Some(tx) = remotes.get(remote) {
                tx.send_replace(faults);
            }
        }
        FaultSubject::Node { node, .. } => {
            let stuck = in_force
                .into_iter()
                .any(|s| matches!(s, FaultSubject::Node { node: n, fault: NodeFault::Stuck } if n == node));
            if let Some(tx) = nodes.get(node) {
                let _ = tx.send(NodeControl::Stuck(stuck));
            }
        }
    }
}

fn describe(subject: &FaultSubject) -> String {
    match subject {
        FaultSubject::Remote { remote, fault } => format!("{} on remote {remote}", fault.kind()),
        FaultSubject::Node {
            node,
            fault: NodeFault::Stuck,
        } => format!("stuck on node {node}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(at: u64, dur: Option<u64>) -> FaultWindow {
        FaultWindow {
            subject: FaultSubject::Remote {
                remote: "down".into(),
                fault: Fault::Refuse,
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
        let remotes = HashMap::from([("down".to_string(), tx)]);
        let heal = CancellationToken::new();
        let t0 = Instant::now();
        let task = tokio::spawn(run(
            vec![window(1, Some(2)), window(2, None)],
            t0,
            remotes,
            HashMap::new(),
            heal.clone(),
        ));
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
        task.await.unwrap();
        assert!(rx.borrow().is_empty(), "healed");
    }
}
