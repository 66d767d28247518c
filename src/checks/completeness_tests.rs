//! Tables for `completeness.rs`: which checks each gap in the data makes inconclusive.

use super::super::testkit::{fault, one_of_each, plan, LedgerBuilder};
use super::super::{judge, Status};
use super::*;
use crate::collector::ledger::QueueRecord;

const EVERY: Duration = Duration::from_secs(1);

/// One check of each kind, `queue` twice (a peak and a return to baseline); the
/// plan's fault on `down` runs 30s–90s.
fn checks() -> Vec<Check> {
    let mut checks = one_of_each(None);
    checks.push(Check::Queue {
        max: Some(1000),
        baseline_within: None,
    });
    checks.push(Check::Queue {
        max: None,
        baseline_within: Some(Duration::from_secs(30)),
    });
    checks
}

/// A ledger on which every check of [`checks`] passes: n1 sampled every second to 130s.
fn passing_ledger() -> Ledger {
    let mut ledger = LedgerBuilder::new()
        .node("n1")
        .msgs(10, 40_000, Some(40_200))
        .domain("down.test")
        .msgs(2, 40_000, Some(100_000))
        .build();
    let n1 = ledger.node_index("n1");
    for s in 0..=130u32 {
        ledger.queue.push(QueueRecord {
            at_ms: s * 1000,
            node: n1,
            total: if (30..95).contains(&s) { 5 } else { 0 },
            by_domain: vec![],
        });
    }
    ledger.end_ms = 130_500;
    ledger
}

fn statuses(data: &DataCompleteness) -> Vec<(&'static str, Status, String)> {
    let checks = checks();
    let p = plan(vec![fault("down", 30, Some(60))], checks.clone());
    judge(&p, &passing_ledger(), data)
        .into_iter()
        .zip(&checks)
        .map(|(f, c)| (c.name(), f.status, f.detail))
        .collect()
}

fn complete() -> DataCompleteness {
    DataCompleteness {
        planned: Some(10_000),
        submitted: 10_000,
        probes: vec![ProbeCoverage {
            node: "n1".into(),
            taken: 131,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// A closed-model run of 120 s (no planned count), its load stopped by hand at `stop`.
fn closed(stop: Option<u32>) -> DataCompleteness {
    use crate::checks::steered::{SteerAction, Steered};
    DataCompleteness {
        planned: None,
        closed_load_ms: Some(120_000),
        steered: stop
            .map(|at_ms| Steered {
                at_ms,
                action: SteerAction::StopLoad,
            })
            .into_iter()
            .collect(),
        ..complete()
    }
}

/// Each kind of incompleteness makes exactly the checks the issue lists inconclusive,
/// says why first, and keeps what was measured.
#[test]
fn incomplete_input_makes_the_dependent_checks_inconclusive() {
    struct Case {
        name: &'static str,
        data: DataCompleteness,
        /// Indexes into [`checks`] that turn inconclusive.
        inconclusive: &'static [usize],
        why: &'static str,
    }
    let cases = [
        Case {
            name: "complete",
            data: complete(),
            inconclusive: &[],
            why: "",
        },
        Case {
            name: "shortfall at the limit",
            data: DataCompleteness {
                shortfall: 100,
                submitted: 9_900,
                ..complete()
            },
            inconclusive: &[],
            why: "",
        },
        Case {
            name: "lost remote events",
            data: DataCompleteness {
                remote_events_lost: 312,
                remote_events_from: Some("http://127.0.0.1:8025".into()),
                ..complete()
            },
            inconclusive: &[0, 1, 2, 3, 4],
            why: "312 remote events were lost while following http://127.0.0.1:8025: deliveries may be missing. As measured: ",
        },
        Case {
            name: "shortfall over the limit",
            data: DataCompleteness {
                shortfall: 2_300,
                submitted: 7_700,
                ..complete()
            },
            inconclusive: &[0, 1, 5, 6, 7],
            why: "the planned load was not applied: 23% shortfall (2,300 of 10,000 planned messages not sent; limit 1%). As measured: ",
        },
        Case {
            name: "probe gap while the faults are on (max reads the whole run)",
            data: DataCompleteness {
                probes: vec![ProbeCoverage {
                    node: "n1".into(),
                    taken: 128,
                    missed: 3,
                    gaps: vec![(40_000, 44_000)],
                }],
                ..complete()
            },
            inconclusive: &[6],
            why: "queue probe samples were missed on n1 (3 missed, no reading 40s–44s): the queue depth there is unknown. As measured: ",
        },
        Case {
            name: "probe gap after the faults (both queue checks read it)",
            data: DataCompleteness {
                probes: vec![ProbeCoverage {
                    node: "n1".into(),
                    taken: 128,
                    missed: 3,
                    gaps: vec![(92_000, 96_000)],
                }],
                ..complete()
            },
            inconclusive: &[6, 7],
            why: "queue probe samples were missed on n1",
        },
        Case {
            name: "closed model stopped by hand before its planned end",
            data: closed(Some(30_000)),
            inconclusive: &[0, 1, 5, 6, 7],
            why: "the planned load was not applied: stopped by hand at 30.0s of its planned 120.0s (closed model: 75% of its time not run; limit 1%). As measured: ",
        },
        Case {
            name: "closed model stopped by hand in its last 1%",
            data: closed(Some(119_000)),
            inconclusive: &[],
            why: "",
        },
        Case {
            name: "closed model stopped by hand after its load ended",
            data: closed(Some(120_000)),
            inconclusive: &[],
            why: "",
        },
        Case {
            name: "closed model not stopped",
            data: closed(None),
            inconclusive: &[],
            why: "",
        },
    ];
    let measured = statuses(&complete());
    for (_, status, _) in &measured {
        assert_eq!(*status, Status::Pass, "{measured:?}");
    }
    for c in cases {
        let got = statuses(&c.data);
        for (i, ((name, status, detail), (_, _, measured_detail))) in
            got.iter().zip(&measured).enumerate()
        {
            if c.inconclusive.contains(&i) {
                assert_eq!(*status, Status::Inconclusive, "{}: {name}", c.name);
                assert!(detail.starts_with(c.why), "{}: {name}: {detail}", c.name);
                assert!(detail.ends_with(measured_detail.as_str()), "{detail}");
            } else {
                assert_eq!(*status, Status::Pass, "{}: {name}: {detail}", c.name);
                assert_eq!(detail, measured_detail, "{}: {name}", c.name);
            }
        }
        let all_passed = c.inconclusive.is_empty();
        assert_eq!(c.data.complete(0.01), all_passed, "{}", c.name);
    }
}

/// A check already failing on what was measured is inconclusive too, its figure kept.
#[test]
fn a_failing_check_with_incomplete_input_is_inconclusive() {
    let checks = vec![Check::NoLoss];
    let p = plan(vec![], checks);
    let ledger = LedgerBuilder::new().msgs(3, 1_000, None).build();
    let data = DataCompleteness {
        remote_events_lost: 5,
        ..Default::default()
    };
    let f = &judge(&p, &ledger, &data)[0];
    assert_eq!(f.status, Status::Inconclusive);
    assert!(f
        .detail
        .starts_with("5 remote events were lost while following the remotes"));
    assert_eq!(
        f.observed,
        judge(&p, &ledger, &DataCompleteness::default())[0].observed
    );
}

/// Readings every second, failures and silences → samples taken, missed and the
/// windows with no reading.
#[test]
fn probe_coverage_finds_failed_and_late_samples() {
    struct Case {
        name: &'static str,
        /// (ms, reading came back)
        attempts: &'static [(u32, bool)],
        end_ms: u32,
        taken: u64,
        missed: u64,
        gaps: &'static [(u32, u32)],
    }
    let cases = [
        Case {
            name: "every second",
            attempts: &[(5, true), (1_005, true), (2_010, true), (3_004, true)],
            end_ms: 3_500,
            taken: 4,
            missed: 0,
            gaps: &[],
        },
        Case {
            name: "one failed",
            attempts: &[(5, true), (1_005, false), (2_010, true), (3_004, true)],
            end_ms: 3_500,
            taken: 3,
            missed: 1,
            gaps: &[(5, 2_010)],
        },
        Case {
            name: "the first failed",
            attempts: &[(5, false), (1_005, true)],
            end_ms: 1_500,
            taken: 1,
            missed: 1,
            gaps: &[(0, 1_005)],
        },
        Case {
            name: "late: nothing for 3.5s",
            attempts: &[(5, true), (1_005, true), (4_505, true), (5_505, true)],
            end_ms: 6_000,
            taken: 4,
            missed: 3,
            gaps: &[(1_005, 4_505)],
        },
        Case {
            name: "silent at the end",
            attempts: &[(5, true), (1_005, true)],
            end_ms: 6_000,
            taken: 2,
            missed: 4,
            gaps: &[(1_005, 6_000)],
        },
        Case {
            name: "never sampled",
            attempts: &[],
            end_ms: 10_000,
            taken: 0,
            missed: 9,
            gaps: &[(0, 10_000)],
        },
        Case {
            name: "after the end: not counted",
            attempts: &[(5, true), (1_005, true), (1_400, false)],
            end_ms: 1_300,
            taken: 2,
            missed: 0,
            gaps: &[],
        },
    ];
    for c in cases {
        let mut ledger = Ledger {
            end_ms: c.end_ms,
            ..Default::default()
        };
        let n1 = ledger.node_index("n1");
        let other = ledger.node_index("n2");
        for &(at_ms, ok) in c.attempts {
            if ok {
                ledger.queue.push(QueueRecord {
                    at_ms,
                    node: n1,
                    total: 0,
                    by_domain: vec![],
                });
            } else {
                ledger.probe_failures.push((at_ms, n1));
            }
        }
        // Another node's failure is not n1's.
        ledger.probe_failures.push((500, other));
        let got = probe_coverage(&ledger, &["n1".to_string()], EVERY);
        assert_eq!(got.len(), 1);
        let got = &got[0];
        assert_eq!(
            (got.taken, got.missed, got.gaps.as_slice()),
            (c.taken, c.missed, c.gaps),
            "{}",
            c.name
        );
    }
}

#[test]
fn figures() {
    let data = DataCompleteness {
        planned: Some(200),
        shortfall: 46,
        probes: vec![
            ProbeCoverage {
                node: "a".into(),
                taken: 10,
                missed: 2,
                gaps: vec![],
            },
            ProbeCoverage {
                node: "b".into(),
                taken: 12,
                missed: 0,
                gaps: vec![],
            },
        ],
        ..Default::default()
    };
    assert_eq!(data.shortfall_ratio(), 0.23);
    assert_eq!(
        (data.probe_samples_expected(), data.probe_samples_missed()),
        (24, 2)
    );
    // The closed model plans nothing: no shortfall.
    let closed = DataCompleteness {
        shortfall: 5,
        ..Default::default()
    };
    assert_eq!(closed.shortfall_ratio(), 0.0);
}
