//! A check whose window rests on a fault that never fired judged nothing: its verdict
//! is **inconclusive**, whatever the figures say ("the fault on `tls` never fired:
//! nothing reached it during 3s–18s"). Applies to `isolation` with `during: faults`
//! (every remote-fault window) and `drain` (the windows of its domain's remote); the
//! counts come from the collector (`collector/fired.rs`). Ledgers saved before the
//! counts existed are judged as before.

use super::common::fmt_ms;
use super::{Finding, Status};
use crate::collector::ledger::NEVER;
use crate::collector::Ledger;
use crate::scenario::{Check, During, Plan};

/// Why `check` rests on a fault that never fired, if it does.
fn unfired(check: &Check, plan: &Plan, ledger: &Ledger) -> Option<String> {
    let remote: Option<&str> = match check {
        Check::Isolation {
            during: During::Faults,
            ..
        } => None,
        Check::Drain { domain, .. } => Some(plan.remote_for(domain)?.name.as_str()),
        _ => return None,
    };
    let w = ledger
        .fault_windows
        .iter()
        .filter(|w| remote.is_none_or(|r| w.remote == r))
        .filter(|w| w.start_ms < ledger.end_ms)
        // A planned window that "heal all" prevented (`steered.rs`) never began.
        .filter(|w| begins_in_plan(plan, w))
        .find(|w| w.fired == 0)?;
    let end = if w.end_ms == NEVER {
        ledger.end_ms
    } else {
        w.end_ms.min(ledger.end_ms)
    };
    Some(format!(
        "the fault on `{}` never fired: nothing reached it during {}–{}",
        w.remote,
        fmt_ms(w.start_ms),
        fmt_ms(end)
    ))
}

/// The plan (as run) has a fault on `w`'s remote that begins when `w` does.
fn begins_in_plan(plan: &Plan, w: &crate::collector::ledger::FiredWindow) -> bool {
    plan.faults.iter().any(|f| {
        super::common::ms(f.at) == w.start_ms
            && matches!(&f.subject, crate::scenario::FaultSubject::Remote { remote, .. } if *remote == w.remote)
    })
}

/// `finding`, made inconclusive when its check rests on a fault that never fired.
pub(super) fn rest_on_fired(
    finding: Finding,
    check: &Check,
    plan: &Plan,
    ledger: &Ledger,
) -> Finding {
    let Some(why) = unfired(check, plan, ledger) else {
        return finding;
    };
    Finding {
        status: Status::Inconclusive,
        detail: format!("{why}, so this judges nothing; {}", finding.detail),
        ..finding
    }
}

#[cfg(test)]
mod tests {

    use super::super::testkit::{fault, isolation_of_ok_during_faults, plan, LedgerBuilder};
    use super::*;
    use crate::checks::judge;
    use crate::collector::ledger::FiredWindow;

    /// The case: isolation during faults passes on its figures, but the only
    /// fault (on `tls`, 3s–18s) fired 0 times: inconclusive, saying so. Once it fired,
    /// the figures decide again; a ledger without counts is judged as before.
    #[test]
    fn a_check_resting_on_a_fault_that_never_fired_is_inconclusive() {
        let isolation = isolation_of_ok_during_faults();
        let p = plan(vec![fault("tls", 3, Some(15))], vec![isolation]);
        let ledger = |fired: Option<u64>| {
            LedgerBuilder::new()
                .node("n1")
                .msgs(50, 5_000, Some(5_100))
                .ledger(|l| {
                    l.end_ms = 25_000;
                    l.fault_windows = fired
                        .map(|fired| FiredWindow {
                            remote: "tls".into(),
                            fault: "tls".into(),
                            start_ms: 3_000,
                            end_ms: 18_000,
                            fired,
                        })
                        .into_iter()
                        .collect();
                })
                .build()
        };
        let table = [
            (Some(0), Status::Inconclusive),
            (Some(7), Status::Pass),
            (None, Status::Pass),
        ];
        for (fired, want) in table {
            let f = &judge(&p, &ledger(fired), &Default::default())[0];
            assert_eq!(f.status, want, "fired {fired:?}: {f:?}");
            let said = f
                .detail
                .starts_with("the fault on `tls` never fired: nothing reached it during 3s–18s");
            assert_eq!(said, want == Status::Inconclusive, "{}", f.detail);
        }
    }
}
