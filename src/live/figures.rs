//! The figures of one live snapshot, from the ledger as measured so far: per
//! destination (sent, delivered, delivered in the last second, backlog and the age of
//! its oldest undelivered message), per node (queue depth: the probes' latest sample,
//! or — for a target without probes, such as the embedded cluster — the mail it
//! accepted and has not delivered yet), planned vs submitted rate, submit latency.
//! One pass over the records; pure.

use serde::Serialize;

use crate::checks::so_far::SoFar;
use crate::collector::ledger::{flag, NO_NODE};
use crate::collector::{Ledger, Progress};
use crate::scenario::{Load, LoadModel};

/// The window of the per-second figures, ms.
const SECOND_MS: u32 = 1000;

/// One snapshot of the run, as the page and `/metrics` read it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Snapshot {
    /// ms since load start.
    pub t_ms: u32,
    /// `load`, `faults` (load over, timeline not), `settle`.
    pub phase: &'static str,
    pub totals: Progress,
    /// Messages a second the shape calls for now (`None`: closed model, or load over).
    pub planned_per_s: Option<f64>,
    /// Messages the shape has called for so far (open model).
    pub planned_so_far: Option<f64>,
    /// Messages due in the last second that were sent.
    pub submitted_per_s: u64,
    /// Submit latency (intended → accepted) of the messages accepted in the last
    /// second, ms.
    pub submit_p50_ms: Option<u32>,
    pub submit_p99_ms: Option<u32>,
    /// Delivery latency (accepted → arrived) of the messages delivered in the last
    /// second, ms.
    pub delivery_p50_ms: Option<u32>,
    pub delivery_p99_ms: Option<u32>,
    pub destinations: Vec<Destination>,
    pub nodes: Vec<NodeDepth>,
    /// Faults and `exec` actions in force (`refuse on remote down`).
    pub in_force: Vec<String>,
    pub checks: Vec<SoFar>,
    /// The generator's latency per SMTP phase and endpoint since load start, for
    /// `/metrics` (left out of the event stream: ten phases per endpoint in every
    /// snapshot would swell the replay log for a figure the page does not draw).
    #[serde(skip)]
    pub phases: Vec<crate::measure::PhaseFigure>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Destination {
    pub domain: String,
    pub submitted: u64,
    pub accepted: u64,
    pub delivered: u64,
    pub bounced: u64,
    pub delivered_per_s: u64,
    /// Accepted, not delivered nor bounced yet.
    pub backlog: u64,
    /// How long the oldest of them has waited, ms.
    pub oldest_ms: Option<u32>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct NodeDepth {
    pub node: String,
    pub queued: u64,
    /// `probe` (the node's own queue, sampled) or `accepted` (accepted here, not yet
    /// delivered: what the run knows without probes).
    pub source: &'static str,
}

/// The figures at `now_ms` (ms since load start); `checks` and `in_force` are left
/// for the caller.
pub fn figures(ledger: &Ledger, progress: &Progress, load: &Load, now_ms: u32) -> Snapshot {
    let recent = |t: u32| t <= now_ms && now_ms.saturating_sub(t) < SECOND_MS;
    let mut dests: Vec<Destination> = ledger
        .domains
        .iter()
        .map(|d| Destination {
            domain: d.clone(),
            ..Default::default()
        })
        .collect();
    let mut by_node = vec![0u64; ledger.nodes.len()];
    let (mut submitted_per_s, mut submit, mut delivery) = (0, Vec::new(), Vec::new());
    for r in ledger.records.iter().filter(|r| r.is(flag::SUBMITTED)) {
        let Some(d) = dests.get_mut(r.domain as usize) else {
            continue;
        };
        d.submitted += 1;
        if recent(r.intended_ms) {
            submitted_per_s += 1;
        }
        if !r.accepted() {
            continue;
        }
        d.accepted += 1;
        if recent(r.accepted_ms) {
            submit.extend(r.submit_latency_ms());
        }
        if r.delivered() {
            d.delivered += 1;
            if recent(r.delivered_ms) {
                d.delivered_per_s += 1;
                delivery.extend(r.delivery_latency_ms());
            }
        }
        if r.bounced() {
            d.bounced += 1;
        }
        if r.outstanding() {
            d.backlog += 1;
            let age = now_ms.saturating_sub(r.accepted_ms);
            d.oldest_ms = Some(d.oldest_ms.map_or(age, |o| o.max(age)));
            if r.accepted_node != NO_NODE {
                if let Some(n) = by_node.get_mut(r.accepted_node as usize) {
                    *n += 1;
                }
            }
        }
    }
    let nodes = node_depths(ledger, &by_node);
    let (submit_p50_ms, submit_p99_ms) = quantiles(&mut submit);
    let (delivery_p50_ms, delivery_p99_ms) = quantiles(&mut delivery);
    let open = load.model == LoadModel::Open;
    Snapshot {
        t_ms: now_ms,
        phase: "load",
        totals: *progress,
        planned_per_s: open.then(|| load.rate_at(now_ms)).flatten(),
        planned_so_far: open.then(|| load.planned_by(now_ms)),
        submitted_per_s,
        submit_p50_ms,
        submit_p99_ms,
        delivery_p50_ms,
        delivery_p99_ms,
        destinations: dests,
        nodes,
        ..Default::default()
    }
}

/// The probes' latest sample per node when there are probes, else what each node
/// accepted and has not delivered.
fn node_depths(ledger: &Ledger, accepted_outstanding: &[u64]) -> Vec<NodeDepth> {
    if ledger.queue.is_empty() {
        return ledger
            .nodes
            .iter()
            .zip(accepted_outstanding)
            .map(|(n, q)| NodeDepth {
                node: n.clone(),
                queued: *q,
                source: "accepted",
            })
            .collect();
    }
    let mut latest: Vec<Option<u32>> = vec![None; ledger.nodes.len()];
    for s in &ledger.queue {
        if let Some(slot) = latest.get_mut(s.node as usize) {
            *slot = Some(s.total);
        }
    }
    ledger
        .nodes
        .iter()
        .zip(latest)
        .filter_map(|(n, q)| {
            Some(NodeDepth {
                node: n.clone(),
                queued: u64::from(q?),
                source: "probe",
            })
        })
        .collect()
}

/// (p50, p99) by nearest rank.
fn quantiles(v: &mut [u32]) -> (Option<u32>, Option<u32>) {
    if v.is_empty() {
        return (None, None);
    }
    v.sort_unstable();
    let at = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    (Some(at(0.5)), Some(at(0.99)))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::checks::testkit::{bounced, plan, LedgerBuilder};
    use crate::scenario::Step;

    #[test]
    fn per_destination_and_per_node_at_one_instant() {
        let ledger = LedgerBuilder::new()
            .node("n1")
            .msgs(3, 9_500, Some(9_700)) // delivered in the last second
            .msg(2_000, Some(2_100)) // delivered long ago
            .domain("down.test")
            .node("n2")
            .msgs(2, 4_000, None) // backlog, oldest 6 s
            .msg(8_000, None)
            .msg(3_000, None)
            .with(bounced(5_000))
            .build();
        let s = figures(
            &ledger,
            &Progress::default(),
            &plan(vec![], vec![]).load,
            10_000,
        );
        let got: Vec<_> = s
            .destinations
            .iter()
            .map(|d| {
                (
                    d.domain.as_str(),
                    d.delivered,
                    d.delivered_per_s,
                    d.backlog,
                    d.bounced,
                    d.oldest_ms,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("ok.test", 4, 3, 0, 0, None),
                ("down.test", 0, 0, 3, 1, Some(6_000)),
            ]
        );
        let nodes: Vec<_> = s
            .nodes
            .iter()
            .map(|n| (n.node.as_str(), n.queued, n.source))
            .collect();
        assert_eq!(nodes, [("n1", 0, "accepted"), ("n2", 3, "accepted")]);
        assert_eq!((s.submit_p50_ms, s.submit_p99_ms), (Some(0), Some(0)));
        assert_eq!(
            (s.delivery_p50_ms, s.delivery_p99_ms),
            (Some(200), Some(200))
        );
        assert_eq!(s.submitted_per_s, 3);
    }

    #[test]
    fn planned_rate_and_messages_follow_the_shape() {
        let mut load = plan(vec![], vec![]).load;
        load.steps = vec![
            Step {
                rate: 10.0,
                to: None,
                duration: Duration::from_secs(10),
            },
            Step {
                rate: 10.0,
                to: Some(30.0),
                duration: Duration::from_secs(10),
            },
        ];
        let table = [
            (0, Some(10.0), 0.0),
            (5_000, Some(10.0), 50.0),
            (15_000, Some(20.0), 175.0),
            (20_000, None, 300.0),
            (30_000, None, 300.0),
        ];
        for (t, rate, planned) in table {
            assert_eq!(load.rate_at(t), rate, "rate at {t}");
            assert!(
                (load.planned_by(t) - planned).abs() < 1e-6,
                "planned by {t}"
            );
        }
    }
}
