//! The fault windows the remotes reported during the run (`collector::fault_log`), as
//! the checks read them beside the plan's: a fault set by hand on the control API is
//! judged like a planned one.

use crate::collector::fault_log::{recorded_windows, RecordedWindow};
use crate::collector::Ledger;
use crate::scenario::{FaultSubject, Plan};

/// Every recorded window in which some remote had a fault in force (ms, half-open;
/// unmerged).
pub fn fault_windows(ledger: &Ledger) -> impl Iterator<Item = (u32, u32)> {
    recorded_windows(&ledger.fault_changes, ledger.end_ms)
        .into_iter()
        .map(|(_, from, to, _, _)| (from, to))
}

/// The recorded windows of one remote (ms, half-open; unmerged); one still in force
/// when measurement stopped ends at [`super::common::INF`]: it never healed.
pub fn remote_windows<'a>(
    ledger: &'a Ledger,
    remote: &'a str,
) -> impl Iterator<Item = (u32, u32)> + 'a {
    recorded_windows(&ledger.fault_changes, ledger.end_ms)
        .into_iter()
        .filter(move |(r, ..)| r == remote)
        .map(|(_, from, to, _, _)| {
            (
                from,
                if to >= ledger.end_ms {
                    super::common::INF
                } else {
                    to
                },
            )
        })
}

/// The recorded windows that are not the plan's own faults coming back from the remotes
/// (an attached run's `PUT`s are reported too): those on a remote the plan does not fault
/// while they were in force — set by hand, by another tool, or by the served timeline.
pub fn beyond_plan(plan: &Plan, ledger: &Ledger) -> Vec<RecordedWindow> {
    let end = std::time::Duration::from_millis(u64::from(ledger.end_ms));
    recorded_windows(&ledger.fault_changes, ledger.end_ms)
        .into_iter()
        .filter(|(remote, from, to, _, _)| {
            !plan.faults.iter().any(|f| {
                let (a, b) = (
                    super::common::ms(f.at),
                    super::common::ms(f.end().unwrap_or(end)),
                );
                matches!(&f.subject, FaultSubject::Remote { remote: r, .. } if r == remote)
                    && a < *to
                    && *from < b.max(a + 1)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use fake_remotes::event::FaultSource;

    use crate::checks::testkit::{isolation_of_ok_during_faults, plan, LedgerBuilder};
    use crate::checks::{judge, DataCompleteness, Status};
    use crate::collector::fault_log::FaultChange;
    use crate::scenario::Check;

    /// A tarpit put on `down` by hand for 15 s, no fault in the plan: `during: faults`
    /// judges that window; with no fault at all it is inconclusive.
    #[test]
    fn a_hand_set_fault_is_a_window_for_isolation() {
        let isolation = isolation_of_ok_during_faults();
        let p = plan(vec![], vec![isolation]);
        let change = |at_ms, faults: &[&str]| FaultChange {
            at_ms,
            remote: "down".into(),
            faults: faults.iter().map(|f| f.to_string()).collect(),
            source: FaultSource::Api,
        };
        // (changes, ok.test delivered after) → status, windows named
        let table = [
            (
                vec![change(10_000, &["tarpit"]), change(25_000, &[])],
                200,
                Status::Pass,
            ),
            (
                vec![change(10_000, &["tarpit"]), change(25_000, &[])],
                9_000,
                Status::Fail,
            ),
            (vec![], 200, Status::Inconclusive),
        ];
        for (changes, latency, want) in table {
            let mut ledger = LedgerBuilder::new()
                .node("n1")
                .domain("ok.test")
                .msgs(20, 12_000, Some(12_000 + latency))
                .build();
            ledger.end_ms = 60_000;
            ledger.fault_changes = changes.clone();
            let f = &judge(&p, &ledger, &DataCompleteness::default())[0];
            assert_eq!(f.status, want, "{changes:?}: {f:?}");
            if want == Status::Inconclusive {
                assert!(f.detail.contains("none reported by the remotes"), "{f:?}");
            } else {
                assert!(f.detail.contains("10s–25s"), "{f:?}");
            }
        }
    }

    /// A refuse put on `down` by hand 10 s–25 s, none in the plan: `drain` judges the
    /// mail queued for down.test from the hand-set fault's end; one never healed, or no
    /// fault at all, drains nothing (inconclusive).
    #[test]
    fn a_hand_set_fault_is_a_window_for_drain() {
        let drain = Check::Drain {
            domain: "down.test".into(),
            within: Duration::from_secs(10),
        };
        let p = plan(vec![], vec![drain]);
        let change = |at_ms, faults: &[&str]| FaultChange {
            at_ms,
            remote: "down".into(),
            faults: faults.iter().map(|f| f.to_string()).collect(),
            source: FaultSource::Api,
        };
        let healed = vec![change(10_000, &["refuse"]), change(25_000, &[])];
        // (changes, down.test delivered at) → status, detail has
        let table = [
            (healed.clone(), 27_000, Status::Pass, "2s"),
            (healed, 40_000, Status::Fail, "15s"),
            (
                vec![change(10_000, &["refuse"])],
                59_000,
                Status::Inconclusive,
                "heals before the run ends",
            ),
            (
                vec![],
                27_000,
                Status::Inconclusive,
                "heals before the run ends",
            ),
        ];
        for (changes, delivered, want, has) in table {
            let mut ledger = LedgerBuilder::new()
                .node("n1")
                .domain("down.test")
                .msgs(20, 12_000, Some(delivered))
                .build();
            ledger.end_ms = 60_000;
            ledger.fault_changes = changes.clone();
            let f = &judge(&p, &ledger, &DataCompleteness::default())[0];
            assert_eq!(f.status, want, "{changes:?}: {f:?}");
            assert!(
                format!("{} {}", f.observed, f.detail).contains(has),
                "{has}: {f:?}"
            );
        }
    }
}
