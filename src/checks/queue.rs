//! `queue`: what the queue probes saw (DESIGN §5) — every node's queue depth stays at or
//! under `max`, and/or returns to its baseline within `baseline_within` of the end of the
//! timeline (the last fault's end; the load's end when nothing ends earlier).
//!
//! A node's baseline is the depth of its first sample (a cluster may start a test with
//! some mail queued). "Returned" is the first sample at or after the end whose depth is
//! at or under the baseline. No sample at all → inconclusive; a node with no sample after
//! the end cannot show it recovered → inconclusive.

use std::time::Duration;

use super::common::{fmt_count, fmt_dur, fmt_ms, inconclusive, ms};
use super::{Finding, Status};
use crate::collector::ledger::QueueRecord;
use crate::collector::Ledger;
use crate::scenario::Plan;

const NAME: &str = "queue";

pub(super) fn judge(
    ledger: &Ledger,
    plan: &Plan,
    max: Option<u32>,
    within: Option<Duration>,
) -> Finding {
    let mut limits = Vec::new();
    if let Some(m) = max {
        limits.push(format!(
            "≤ {} messages queued per node",
            fmt_count(m as usize)
        ));
    }
    if let Some(w) = within {
        limits.push(format!(
            "back to baseline within {} of the faults' end",
            fmt_dur(w)
        ));
    }
    let limit = limits.join(", ");
    if ledger.queue.is_empty() {
        return inconclusive(
            NAME,
            limit,
            format!(
                "no queue sample was taken ({} probe failures): check target.probes",
                ledger.probe_failures.len()
            ),
        );
    }
    let mut nodes: Vec<u8> = ledger.queue.iter().map(|s| s.node).collect();
    nodes.sort_unstable();
    nodes.dedup();
    // The timeline's end: the last fault to heal, or the load's end if none heals.
    let healing = plan.faults.iter().any(|f| f.end().is_some());
    let end = ms(if healing {
        plan.timeline_end()
    } else {
        plan.load.duration()
    });
    let mut status = Status::Pass;
    let mut observed = Vec::new();
    let mut problems = Vec::new();
    for node in nodes {
        let name = ledger.node_name(node);
        let samples: Vec<&QueueRecord> = ledger.queue.iter().filter(|s| s.node == node).collect();
        let peak = samples.iter().map(|s| s.total).max().unwrap_or(0);
        let mut parts = vec![format!("peak {}", fmt_count(peak as usize))];
        if let Some(m) = max {
            if peak > m {
                status = Status::Fail;
                problems.push(format!(
                    "{name} held {} messages, over the {} limit",
                    fmt_count(peak as usize),
                    fmt_count(m as usize)
                ));
            }
        }
        if let Some(w) = within {
            let baseline = samples[0].total;
            let after: Vec<&&QueueRecord> = samples.iter().filter(|s| s.at_ms >= end).collect();
            match after.iter().find(|s| s.total <= baseline) {
                _ if after.is_empty() => {
                    if status == Status::Pass {
                        status = Status::Inconclusive;
                    }
                    problems.push(format!(
                        "{name} was not sampled after the faults ended at {}",
                        fmt_ms(end)
                    ));
                }
                Some(s) => {
                    let took = s.at_ms - end;
                    parts.push(format!("back to {baseline} after {}", fmt_ms(took)));
                    if took > ms(w) {
                        status = Status::Fail;
                        problems.push(format!(
                            "{name} took {} to return to its baseline of {baseline}",
                            fmt_ms(took)
                        ));
                    }
                }
                None => {
                    status = Status::Fail;
                    let last = after.last().map(|s| s.total).unwrap_or(0);
                    parts.push(format!("still {} at the end", fmt_count(last as usize)));
                    problems.push(format!(
                        "{name} still held {} messages at the end of the run (baseline {baseline})",
                        fmt_count(last as usize)
                    ));
                }
            }
        }
        observed.push(format!("{name}: {}", parts.join(", ")));
    }
    let detail = if problems.is_empty() {
        format!(
            "{} samples from {} probes",
            fmt_count(ledger.queue.len()),
            observed.len()
        )
    } else {
        problems.join("; ")
    };
    Finding {
        name: NAME.to_string(),
        status,
        observed: observed.join("; "),
        limit,
        detail,
        evidence: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{fault, plan, LedgerBuilder};
    use super::*;
    use crate::scenario::Check;

    fn sample(ledger: &mut Ledger, node: &str, at_ms: u32, total: u32) {
        let node = ledger.node_index(node);
        ledger.queue.push(QueueRecord {
            at_ms,
            node,
            total,
            by_domain: vec![],
        });
    }

    #[test]
    fn judges_peak_and_return_to_baseline() {
        // The plan's fault on `down` runs 30s–90s.
        let p = plan(vec![fault("down", 30, Some(60))], vec![Check::NoLoss]);
        struct Case {
            name: &'static str,
            samples: &'static [(&'static str, u32, u32)],
            max: Option<u32>,
            within: Option<u64>,
            status: Status,
            observed_has: &'static str,
            detail_has: &'static str,
        }
        let cases = [
            Case {
                name: "recovers in time",
                samples: &[
                    ("n1", 0, 0),
                    ("n1", 60_000, 400),
                    ("n1", 95_000, 10),
                    ("n1", 100_000, 0),
                ],
                max: Some(1000),
                within: Some(30),
                status: Status::Pass,
                observed_has: "n1: peak 400, back to 0 after 10s",
                detail_has: "4 samples from 1 probes",
            },
            Case {
                name: "over the max",
                samples: &[
                    ("n1", 0, 0),
                    ("n2", 0, 0),
                    ("n2", 60_000, 5000),
                    ("n2", 95_000, 0),
                ],
                max: Some(1000),
                within: None,
                status: Status::Fail,
                observed_has: "n2: peak 5,000",
                detail_has: "n2 held 5,000 messages, over the 1,000 limit",
            },
            Case {
                name: "never returns",
                samples: &[("n1", 0, 3), ("n1", 95_000, 50), ("n1", 120_000, 40)],
                max: None,
                within: Some(30),
                status: Status::Fail,
                observed_has: "still 40 at the end",
                detail_has: "n1 still held 40 messages at the end of the run (baseline 3)",
            },
            Case {
                name: "too slow",
                samples: &[("n1", 0, 0), ("n1", 150_000, 0)],
                max: None,
                within: Some(30),
                status: Status::Fail,
                observed_has: "back to 0 after 1m",
                detail_has: "n1 took 1m to return",
            },
            Case {
                name: "not sampled after the end",
                samples: &[("n1", 0, 0), ("n1", 50_000, 10)],
                max: None,
                within: Some(30),
                status: Status::Inconclusive,
                observed_has: "n1: peak 10",
                detail_has: "was not sampled after the faults ended at 1m 30s",
            },
        ];
        for c in cases {
            let mut ledger = LedgerBuilder::new().build();
            for (node, at, total) in c.samples {
                sample(&mut ledger, node, *at, *total);
            }
            let f = judge(&ledger, &p, c.max, c.within.map(Duration::from_secs));
            assert_eq!(f.status, c.status, "{}: {f:?}", c.name);
            assert!(
                f.observed.contains(c.observed_has),
                "{}: {}",
                c.name,
                f.observed
            );
            assert!(f.detail.contains(c.detail_has), "{}: {}", c.name, f.detail);
        }
    }

    #[test]
    fn no_samples_is_inconclusive() {
        let p = plan(vec![fault("down", 30, Some(60))], vec![Check::NoLoss]);
        let f = judge(&LedgerBuilder::new().build(), &p, Some(10), None);
        assert_eq!(f.status, Status::Inconclusive);
        assert!(f.detail.contains("no queue sample"), "{}", f.detail);
    }
}
