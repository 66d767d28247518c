//! Tables over hand-built ledgers: the steady state judged before the first fault, the
//! isolation check it makes inconclusive, and the "after" half.

use super::super::testkit::{fault, plan, LedgerBuilder};
use super::super::{judge as judge_all, DataCompleteness};
use super::*;
use crate::scenario::FaultWindow;

fn isolation(limit_s: u64, baseline: Option<(u64, u64)>) -> Check {
    Check::Isolation {
        healthy: vec!["ok.test".into()],
        during: During::Faults,
        percentile: 99.0,
        limit: Duration::from_secs(limit_s),
        min_delivered: 0.9,
        baseline: baseline.map(|(a, b)| (Duration::from_secs(a), Duration::from_secs(b))),
    }
}

/// `n` healthy messages evenly accepted over `[from_ms, to_ms)`, each delivered after
/// `latency(accepted_ms)` (`None`: never).
fn spread(
    mut b: LedgerBuilder,
    n: u32,
    (from_ms, to_ms): (u32, u32),
    latency: impl Fn(u32) -> Option<u32>,
) -> LedgerBuilder {
    for i in 0..n {
        let at = from_ms + (to_ms - from_ms) * i / n;
        b = b.msg(at, latency(at).map(|l| at + l));
    }
    b
}

/// 10 healthy messages a second for 120s, `before` latency before 30s and `rest` after;
/// the fault (`down`) is 30s–90s.
fn run(before: impl Fn(u32) -> Option<u32>, rest: u32) -> LedgerBuilder {
    let b = spread(LedgerBuilder::new(), 300, (0, 30_000), before);
    spread(b, 900, (30_000, 120_000), |_| Some(rest))
}

/// Steady state then isolation, as the plan judges them.
fn judged(ledger: &Ledger, faults: Vec<FaultWindow>, check: Check) -> Vec<Finding> {
    let p = plan(faults, vec![check]);
    judge_all(&p, ledger, &DataCompleteness::default())
}

fn down_30_to_90() -> Vec<FaultWindow> {
    vec![fault("down", 30, Some(60))]
}

#[test]
fn table() {
    struct Case {
        name: &'static str,
        ledger: Ledger,
        faults: Vec<FaultWindow>,
        check: Check,
        /// `None`: not judged (only isolation is listed).
        steady: Option<Status>,
        steady_has: &'static [&'static str],
        isolation: Status,
        isolation_has: &'static [&'static str],
    }
    let cases = vec![
        Case {
            name: "overloaded before the fault: steady_state fails, isolation inconclusive",
            // Latency grows by 1s every second before the fault: the backlog piles up.
            ledger: run(Some, 300).build(),
            faults: down_30_to_90(),
            check: isolation(5, None),
            steady: Some(Status::Fail),
            steady_has: &[
                "the cluster could not carry this load before any fault: ok.test p99 29.6s, 5.9× the 5s limit",
                "backlog rising",
                "(baseline 0ms–30s)",
            ],
            isolation: Status::Inconclusive,
            isolation_has: &[
                "the steady state did not hold before the fault: the cluster could not carry this load before any fault",
                "As measured: ",
            ],
        },
        Case {
            name: "healthy baseline: isolation judged as today (fails on its own)",
            ledger: spread(run(|_| Some(200), 300), 50, (40_000, 41_000), |_| None).build(),
            faults: down_30_to_90(),
            check: isolation(5, None),
            steady: Some(Status::Pass),
            steady_has: &[
                "ok.test carried the load before any fault: 300 healthy messages, p99 200ms, delivered 100%, backlog steady",
                "faults 30s–1m 30s: p50 300ms, p99 never, delivered",
            ],
            isolation: Status::Fail,
            isolation_has: &["p99 was not reached"],
        },
        Case {
            name: "healthy baseline, healthy faults: both pass",
            ledger: run(|_| Some(200), 300).build(),
            faults: down_30_to_90(),
            check: isolation(5, None),
            steady: Some(Status::Pass),
            steady_has: &["after 1m 30s–2m: p50 300ms, p99 300ms, delivered 100%: the steady state came back after the faults"],
            isolation: Status::Pass,
            isolation_has: &[],
        },
        Case {
            name: "backlog rising while p99 stays under the limit",
            // 50 a second; from 20s each message waits 19s (limit 20s).
            ledger: spread(
                spread(LedgerBuilder::new(), 2000, (0, 40_000), |at| {
                    Some(if at < 20_000 { 100 } else { 19_000 })
                }),
                100,
                (40_000, 60_000),
                |_| Some(100),
            )
            .build(),
            faults: vec![fault("down", 40, Some(20))],
            check: isolation(20, None),
            steady: Some(Status::Fail),
            steady_has: &["could not carry this load before any fault: backlog rising 5 → "],
            isolation: Status::Inconclusive,
            isolation_has: &["the steady state did not hold before the fault"],
        },
        Case {
            name: "never-delivered mail in the baseline fails it",
            ledger: run(|at| (at % 1000 != 0).then_some(100), 300).build(),
            faults: down_30_to_90(),
            check: isolation(5, None),
            steady: Some(Status::Fail),
            steady_has: &["ok.test p99 not reached: too many never arrived (limit 5s)"],
            isolation: Status::Inconclusive,
            isolation_has: &[],
        },
        Case {
            name: "fault at 0s: not judged, and isolation says so",
            ledger: run(Some, 300).build(),
            faults: vec![fault("down", 0, Some(90))],
            check: isolation(5, None),
            steady: None,
            steady_has: &[],
            // Judged as today: the overload falls in the fault window.
            isolation: Status::Fail,
            isolation_has: &["p99 was 29s", "(steady state not judged: the first fault starts at 0s, so there is no baseline before it)"],
        },
        Case {
            name: "too few healthy messages in the baseline: not judged",
            ledger: run(Some, 300).build(),
            faults: down_30_to_90(),
            check: isolation(5, Some((0, 5))),
            steady: None,
            steady_has: &[],
            isolation: Status::Pass,
            isolation_has: &["(steady state not judged: the baseline 0ms–5s holds 50 healthy messages, fewer than the 100 needed to judge p99)"],
        },
        Case {
            name: "an explicit baseline skips the warm-up",
            ledger: run(|at| Some(if at < 10_000 { 20_000 } else { 100 }), 300).build(),
            faults: down_30_to_90(),
            check: isolation(5, Some((15, 30))),
            steady: Some(Status::Pass),
            steady_has: &["(baseline 15s–30s)"],
            isolation: Status::Pass,
            isolation_has: &[],
        },
        Case {
            name: "after the faults: did not come back (reported, not gated)",
            ledger: spread(
                spread(LedgerBuilder::new(), 300, (0, 30_000), |_| Some(100)),
                900,
                (30_000, 120_000),
                |at| Some(if at < 90_000 { 200 } else { 9_000 }),
            )
            .build(),
            faults: down_30_to_90(),
            check: isolation(5, None),
            steady: Some(Status::Pass),
            steady_has: &["after 1m 30s–2m: p50 9s, p99 9s, delivered 86.7%: the steady state did not come back after the faults"],
            isolation: Status::Pass,
            isolation_has: &[],
        },
    ];
    for c in cases {
        let findings = judged(&c.ledger, c.faults, c.check);
        let names: Vec<&str> = findings.iter().map(|f| f.name.as_str()).collect();
        let iso = findings.last().unwrap();
        match c.steady {
            None => assert_eq!(names, ["isolation"], "{}", c.name),
            Some(status) => {
                assert_eq!(names, ["steady_state", "isolation"], "{}", c.name);
                let s = &findings[0];
                assert_eq!(s.status, status, "{}: {s:?}", c.name);
                for want in c.steady_has {
                    assert!(
                        s.detail.contains(want),
                        "{}: {:?} lacks {want:?}",
                        c.name,
                        s.detail
                    );
                }
            }
        }
        assert_eq!(iso.status, c.isolation, "{}: {iso:?}", c.name);
        for want in c.isolation_has {
            assert!(
                iso.detail.contains(want),
                "{}: {:?} lacks {want:?}",
                c.name,
                iso.detail
            );
        }
    }
}

/// A drain window that outlasts the load: "after" starts when the last fault healed.
#[test]
fn after_falls_back_to_the_healing_when_the_drain_window_outlasts_the_load() {
    let p = plan(
        down_30_to_90(),
        vec![
            isolation(5, None),
            Check::Drain {
                domain: "down.test".into(),
                within: Duration::from_secs(60),
            },
        ],
    );
    let ledger = run(|_| Some(200), 300).build();
    let findings = judge_all(&p, &ledger, &DataCompleteness::default());
    assert!(
        findings[0].detail.contains("after 1m 30s–2m: p50 300ms"),
        "{}",
        findings[0].detail
    );
    let p = plan(
        down_30_to_90(),
        vec![
            isolation(5, None),
            Check::Drain {
                domain: "down.test".into(),
                within: Duration::from_secs(10),
            },
        ],
    );
    let findings = judge_all(&p, &ledger, &DataCompleteness::default());
    assert!(
        findings[0].detail.contains("after 1m 40s–2m: p50 300ms"),
        "{}",
        findings[0].detail
    );
}

/// Observed and limit put baseline, faults and after side by side.
#[test]
fn observed_and_limit_side_by_side() {
    let findings = judged(
        &run(|_| Some(200), 300).build(),
        down_30_to_90(),
        isolation(5, None),
    );
    let s = &findings[0];
    assert_eq!(
        s.observed,
        "before p99 200ms, delivered 100%; during 300ms; after 300ms"
    );
    assert_eq!(
        s.limit,
        "before the first fault: p99 ≤ 5s, delivered ≥ 90%, backlog not rising"
    );
}

/// Incomplete data makes the steady state inconclusive like isolation, whatever it says.
#[test]
fn incomplete_data_is_inconclusive() {
    let p = plan(down_30_to_90(), vec![isolation(5, None)]);
    let data = DataCompleteness {
        planned: Some(12_000),
        shortfall: 6_000,
        ..Default::default()
    };
    let findings = judge_all(&p, &run(Some, 300).build(), &data);
    for f in &findings {
        assert_eq!(f.status, Status::Inconclusive, "{f:?}");
    }
}

#[test]
fn min_messages_reach_the_percentile() {
    for (p, want) in [
        (50.0, 20),
        (90.0, 20),
        (99.0, 100),
        (99.9, 1000),
        (100.0, 1000),
    ] {
        assert_eq!(min_baseline_messages(p), want, "p{p}");
    }
}
