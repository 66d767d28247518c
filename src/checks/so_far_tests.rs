use std::time::Duration;

use super::*;
use crate::checks::steered::SteerAction;
use crate::checks::testkit::{fault, isolation_of_ok_during_faults, plan, LedgerBuilder};

fn drain_down_within_10s() -> Check {
    Check::Drain {
        domain: "down.test".into(),
        within: Duration::from_secs(10),
    }
}

/// The state of `check` at `now` (ms) with `down` faulted 10 s–30 s, on `ledger`
/// (holding only what happened before `now`).
fn state(check: Check, steered: &[Steered], ledger: LedgerBuilder, now: u32) -> SoFarState {
    let p = plan(vec![fault("down", 10, Some(20))], vec![check]);
    let mut ledger = ledger.build();
    ledger.end_ms = now;
    let states = so_far(&p, steered, &ledger, now);
    assert_eq!(states.len(), 1);
    assert!(!states[0].limit.is_empty(), "{states:?}");
    states[0].state
}

fn down_msg(accepted: u32, delivered: Option<u32>) -> LedgerBuilder {
    LedgerBuilder::new()
        .domain("down.test")
        .msg(accepted, delivered)
}

fn ok_msgs(accepted: u32, delivered: Option<u32>) -> LedgerBuilder {
    LedgerBuilder::new().msgs(10, accepted, delivered)
}

#[test]
fn drain_so_far() {
    use SoFarState::*;
    let table: [(LedgerBuilder, u32, SoFarState); 5] = [
        // The fault has not healed: nothing to drain yet.
        (down_msg(20_000, None), 25_000, Pending),
        // Healed at 30 s, still queued at 35 s: the deadline (40 s) is ahead.
        (down_msg(20_000, None), 35_000, Failing),
        // Still queued after the deadline: it can no longer pass.
        (down_msg(20_000, None), 45_000, CannotPass),
        // Drained at 33 s.
        (down_msg(20_000, Some(33_000)), 35_000, Holding),
        // Drained at 42 s: late, and late it stays.
        (down_msg(20_000, Some(42_000)), 45_000, CannotPass),
    ];
    for (ledger, now, want) in table {
        assert_eq!(
            state(drain_down_within_10s(), &[], ledger, now),
            want,
            "at {now}"
        );
    }
}

#[test]
fn isolation_so_far() {
    use SoFarState::*;
    let table: [(LedgerBuilder, u32, SoFarState); 5] = [
        // Before the first fault.
        (
            LedgerBuilder::new().msgs(10, 1_000, Some(1_100)),
            5_000,
            Pending,
        ),
        // Flowing during the fault.
        (ok_msgs(15_000, Some(15_100)), 20_000, Holding),
        // Stuck during the fault, the window still open: failing.
        (ok_msgs(15_000, None), 20_000, Failing),
        // The window closed at 30 s; 5 s later every stuck message is late already.
        (ok_msgs(15_000, None), 36_000, CannotPass),
        // Closed, but within the latency limit of its end: not settled yet.
        (ok_msgs(15_000, None), 33_000, Failing),
    ];
    for (ledger, now, want) in table {
        assert_eq!(
            state(isolation_of_ok_during_faults(), &[], ledger, now),
            want,
            "at {now}"
        );
    }
}

#[test]
fn duplicates_settle_at_once_and_loss_waits_for_the_end() {
    let dup = LedgerBuilder::new()
        .msg(1_000, Some(1_100))
        .with(|r| r.duplicates = 1);
    assert_eq!(
        state(Check::NoDuplicates { max: 0 }, &[], dup, 2_000),
        SoFarState::CannotPass
    );
    let clean = LedgerBuilder::new().msg(1_000, Some(1_100));
    assert_eq!(
        state(Check::NoDuplicates { max: 0 }, &[], clean, 2_000),
        SoFarState::Holding
    );
    // In flight is not lost.
    let in_flight = LedgerBuilder::new().msg(1_000, None);
    assert_eq!(
        state(Check::NoLoss, &[], in_flight, 2_000),
        SoFarState::Pending
    );
}

/// Healed by hand at 12 s: the drain is timed from 12 s, not from the planned 30 s.
#[test]
fn a_heal_by_hand_starts_the_drain_clock() {
    let heal = [Steered {
        at_ms: 12_000,
        action: SteerAction::HealAll,
    }];
    assert_eq!(
        state(
            drain_down_within_10s(),
            &heal,
            down_msg(11_000, None),
            25_000
        ),
        SoFarState::CannotPass
    );
    assert_eq!(
        state(drain_down_within_10s(), &[], down_msg(11_000, None), 25_000),
        SoFarState::Pending
    );
}

#[test]
fn the_first_lost_check_is_the_one_abort_on_fail_stops_on() {
    let s = |name: &str, state| SoFar {
        name: name.into(),
        state,
        observed: String::new(),
        limit: String::new(),
        detail: String::new(),
    };
    let states = [
        s("isolation", SoFarState::Failing),
        s("drain", SoFarState::CannotPass),
    ];
    assert_eq!(first_lost(&states).map(|s| s.name.as_str()), Some("drain"));
    assert!(first_lost(&states[..1]).is_none());
}
