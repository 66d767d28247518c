//! A step's plan and its judgement over hand-built ledgers.

use std::time::Duration;

use super::*;
use crate::checks::testkit::{self, LedgerBuilder};
use crate::collector::ledger::flag;

const LOAD: Duration = Duration::from_secs(10);

/// `rate` messages/s over 10 s, each accepted `submit` ms after it was due and
/// delivered `deliver(i)` ms after it was accepted (`None`: not delivered).
fn ledger(rate: u32, submit: u32, deliver: impl Fn(u32) -> Option<u32>) -> Ledger {
    let mut b = LedgerBuilder::new();
    for i in 0..rate * 10 {
        let due = i * 1000 / rate;
        let accepted = due + submit;
        b = b
            .msg(accepted, deliver(i).map(|d| accepted + d))
            .with(|r| r.intended_ms = due);
    }
    b.build()
}

#[test]
fn judges_each_criterion() {
    let spec = CapacitySpec::default();
    // (name, ledger, rate, sustained, missed phrase)
    let table: Vec<(&str, Ledger, f64, bool, &str)> = vec![
        ("steady", ledger(100, 5, |_| Some(200)), 100.0, true, ""),
        // Delivery falls behind: the i-th message waits i × 2.5 ms more (80% keeps up).
        (
            "queue grows",
            ledger(100, 5, |i| Some(200 + i * 5 / 2)),
            100.0,
            false,
            "delivered 80% of accepted < 95%",
        ),
        (
            "slow submission",
            ledger(100, 1500, |_| Some(200)),
            100.0,
            false,
            "submit p99 1500 ms > 1000 ms",
        ),
        (
            "refused",
            LedgerBuilder::new()
                .msgs(950, 1000, Some(1100))
                .msgs(50, 6000, Some(6100))
                .build(),
            // 1,000 accepted of 1,100 planned.
            110.0,
            false,
            "acceptance 90.9% < 99%",
        ),
        (
            "nothing",
            LedgerBuilder::new().build(),
            10.0,
            false,
            "nothing accepted",
        ),
    ];
    for (name, ledger, rate, sustained, missed) in table {
        let step = judge(&ledger, rate, LOAD, &spec);
        assert_eq!(step.sustained, sustained, "{name}: {step:?}");
        if !missed.is_empty() {
            assert!(
                step.missed.iter().any(|m| m == missed),
                "{name}: {:?}",
                step.missed
            );
        }
    }
}

#[test]
fn measures_rates_and_backlog() {
    // 100/s accepted; delivered 200 ms later, except the last 2 s never.
    let l = ledger(100, 5, |i| (i < 800).then_some(200));
    let step = judge(&l, 100.0, LOAD, &CapacitySpec::default());
    assert_eq!(
        (step.planned, step.submitted, step.accepted),
        (1000, 1000, 1000)
    );
    assert_eq!(step.accepted_per_s, 100.0);
    // Delivered in 5 s–10 s: those accepted 4.8 s–8 s.
    assert_eq!(step.delivered_per_s, 64.0);
    assert_eq!(step.backlog_mid, 20);
    assert_eq!(step.backlog_end, 200);
    assert_eq!(step.left_after_settle, 200);
    assert_eq!(step.submit_p99_ms, Some(5));
    // A bounce leaves the backlog too; a message not accepted never enters it.
    let l = LedgerBuilder::new()
        .msg(1000, None)
        .with(testkit::bounced(2000))
        .not_accepted(1000, 0)
        .build();
    let step = judge(&l, 0.2, LOAD, &CapacitySpec::default());
    assert_eq!(
        (step.backlog_mid, step.backlog_end, step.submitted),
        (0, 0, 2)
    );
    assert_eq!(step.left_after_settle, 0);
    assert!(l.records[1].is(flag::SUBMITTED));
}

#[test]
fn a_step_runs_one_rate_with_the_faults_in_force_at_zero() {
    let base = testkit::plan(
        vec![
            testkit::fault("down", 0, Some(3)),
            testkit::fault("down", 20, Some(10)),
        ],
        testkit::one_of_each(None),
    );
    let step = plan(&base, 42.0, false);
    assert_eq!(
        step.load.steps,
        vec![Step {
            rate: 42.0,
            to: None,
            duration: base.capacity.step
        }]
    );
    assert_eq!(step.faults.len(), 1);
    assert_eq!(step.faults[0].at, Duration::ZERO);
    assert_eq!(step.faults[0].duration, None, "held for the whole step");
    assert!(step.checks.is_empty());
    assert_eq!(step.settle, base.capacity.settle);
    assert!(step.preflight.skip);
    assert!(!plan(&base, 42.0, true).preflight.skip);
    assert_eq!(later_faults(&base), vec!["refuse remote down".to_string()]);
}
