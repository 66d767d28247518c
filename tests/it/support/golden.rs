//! The golden run: a hand-built ledger of 300 messages judged against
//! `tests/golden/scenario.yaml`, and probe samples for the charts. The report tests
//! compare what is written from it with `tests/golden/`; other tests reuse it when they
//! need a judged run without running one.

use std::path::Path;

use mailquake::checks::{self, DataCompleteness};
use mailquake::collector::ledger::{flag, RemoteCounters};
use mailquake::collector::{Ledger, MessageRecord, Progress};
use mailquake::report::samples::{PhaseLatency, QueueDepth};
use mailquake::report::{self, JudgedRun, Samples};
use mailquake::scenario;

use super::root;

const GOLDEN_SCENARIO: &str = "tests/golden/scenario.yaml";

/// 300 messages over 30 s to three domains; `down.test` refused 10–20 s and drained by
/// 23 s; healthy mail accepted during the fault partly 3 s late; one message lost, one
/// duplicated, one bounced, one rejected at submission; node n3 stuck 25–30 s.
pub fn golden_ledger() -> (Ledger, Progress) {
    let mut l = Ledger {
        run_id: "g01den".into(),
        // 2025-11-24T16:00:00Z
        t0_us: 1_764_000_000_000_000,
        end_ms: 35_000,
        domains: vec!["ok.test".into(), "other.test".into(), "down.test".into()],
        nodes: vec!["n1".into(), "n2".into(), "n3".into()],
        foreign: 2,
        ..Default::default()
    };
    let mut drained = 0u32;
    for i in 0..300u32 {
        let domain: u16 = match i % 10 {
            0..=5 => 0,
            6..=8 => 1,
            _ => 2,
        };
        let intended = i * 100;
        let mut r = MessageRecord {
            intended_ms: intended,
            domain,
            rcpts: 1,
            flags: flag::SUBMITTED,
            ..Default::default()
        };
        if i == 149 {
            r.flags |= flag::REJECTED;
            l.records.push(r);
            continue;
        }
        let accepted = intended + 5 + i % 7;
        let node = (i % 3) as u8;
        r.flags |= flag::ACCEPTED;
        r.accepted_ms = accepted;
        r.accepted_node = node;
        r.attempts = 1;
        let in_fault = (10_000..20_000).contains(&accepted);
        let stuck = node == 2 && accepted >= 25_000;
        let mut delivered = accepted + 40 + (i % 13) * 3;
        if domain == 2 && in_fault {
            delivered = 20_100 + drained * 50;
            drained += 1;
            r.attempts = 3;
        } else if domain < 2 && in_fault && i % 4 == 0 {
            delivered += 3_000;
            r.attempts = 2;
        }
        match i {
            77 => {}
            29 => {
                r.flags |= flag::BOUNCED;
                r.bounced_ms = 9_000;
                r.attempts = 4;
            }
            _ if stuck => {}
            _ => {
                r.delivered_ms = delivered;
                r.delivered_mask = 1;
                r.delivered_node = node;
            }
        }
        if i == 123 {
            r.duplicates = 1;
        }
        l.records.push(r);
    }
    l.submit_rejections.insert(451, 1);
    for (name, rcpts) in [("ok", 180u64), ("other", 90), ("down", 40)] {
        l.remotes.insert(
            name.into(),
            RemoteCounters {
                connections: rcpts / 3,
                rcpts,
                messages: rcpts,
                rejected: 0,
                faults_fired: u64::from(name == "down") * 12,
                relay_denied: 0,
            },
        );
    }
    let totals = Progress {
        submitted: 300,
        accepted: l.records.iter().filter(|r| r.accepted()).count() as u64,
        not_accepted: 1,
        shortfall: 0,
        delivered: l.records.iter().filter(|r| r.delivered()).count() as u64,
        bounced: 1,
        outstanding: l.outstanding() as u64,
        duplicates: 1,
        misrouted: 0,
        queued: 0,
        queued_at_start: 0,
        alerts_firing: 0,
    };
    (l, totals)
}

/// Per-phase timings and queue probes, as a run that has them would save.
pub fn golden_samples() -> Samples {
    let mut s = Samples::default();
    for sec in 0..30u32 {
        for (k, phase) in ["connect", "ehlo", "mail", "rcpt", "data", "dot"]
            .iter()
            .enumerate()
        {
            let slow = if (10..20).contains(&sec) && *phase == "dot" {
                40
            } else {
                1
            };
            s.phases.push(PhaseLatency {
                phase: phase.to_string(),
                from_ms: sec * 1000,
                to_ms: sec * 1000 + 1000,
                count: 10,
                p50_us: 200 * (k as u64 + 1) * slow,
                p99_us: 900 * (k as u64 + 1) * slow,
                max_us: 1500 * (k as u64 + 1) * slow,
            });
        }
        for node in ["n1", "n2", "n3"] {
            let depth = if node == "n3" && sec >= 25 {
                u64::from(sec - 24) * 4
            } else if (10..20).contains(&sec) {
                u64::from(sec - 9)
            } else {
                0
            };
            s.queue_depths.push(QueueDepth {
                at_ms: sec * 1000 + 500,
                node: node.into(),
                depth,
            });
        }
    }
    s
}

pub fn golden_run(samples: Samples) -> JudgedRun {
    golden_run_with(samples, DataCompleteness::default())
}

/// The golden run judged with what its data lacks.
pub fn golden_run_with(samples: Samples, data: DataCompleteness) -> JudgedRun {
    let text = std::fs::read_to_string(root().join(GOLDEN_SCENARIO)).unwrap();
    let plan = scenario::parse(&text, Path::new(GOLDEN_SCENARIO)).expect("golden scenario");
    let (mut ledger, totals) = golden_ledger();
    // A run keeps its probe readings in the ledger too (the queue check judges them).
    for q in &samples.queue_depths {
        let node = ledger.node_index(&q.node);
        ledger
            .queue
            .push(mailquake::collector::ledger::QueueRecord {
                at_ms: q.at_ms,
                node,
                total: q.depth as u32,
                by_domain: Vec::new(),
            });
    }
    let findings = checks::judge(&plan, &ledger, &data);
    JudgedRun {
        plan,
        scenario_text: text,
        ledger,
        totals,
        findings,
        abort: None,
        samples,
        load: report::LoadSection {
            data,
            ..Default::default()
        },
    }
}
