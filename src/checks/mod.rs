//! Checks: pure functions from the [`Ledger`] and the [`Plan`] to a [`Finding`].
//!
//! A check with no data to judge is [`Status::Inconclusive`], which fails the gate
//! (fail closed) and says why; so is one whose data is incomplete ([`completeness`]:
//! remote events lost, the planned load not applied, probe samples missed; an `alert`
//! check judges the gaps in its own polls). The run's
//! [`Verdict`] is decided here too (`verdict.rs`).

use serde::Serialize;

mod acceptance;
mod alert;
mod attribution;
mod common;
pub mod completeness;
pub mod cut;
mod drain;
mod fired;
mod isolation;
mod no_duplicates;
mod no_loss;
mod nodes;
mod queue;
pub mod recorded;
mod routing;
mod settle_end;
pub mod so_far;
mod steady_state;
pub mod steered;
pub mod stop_early;
#[cfg(test)]
pub(crate) mod testkit;
mod verdict;

pub use common::{fmt_count, fmt_ms, fmt_pct};
pub use completeness::DataCompleteness;
pub use cut::Cut;
pub use steady_state::min_baseline_messages;
pub use verdict::{Aborted, Verdict};

use crate::collector::Ledger;
use crate::scenario::{Check, Plan};

/// The outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    /// No data to judge: fails the gate.
    Inconclusive,
}

/// One judged check: observed vs limit, in words a person can act on.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    /// `isolation`, `drain`, … (the check's name in the scenario).
    pub name: String,
    pub status: Status,
    /// What was measured, e.g. `p99 312ms, delivered 99.2%`.
    pub observed: String,
    /// What was allowed, e.g. `p99 ≤ 5s, delivered ≥ 90%`.
    pub limit: String,
    /// Why, in one or two sentences (which node, how many messages, by how much).
    pub detail: String,
    /// A few tracking ids of the late, lost or duplicated messages.
    pub evidence: Vec<String>,
}

impl Finding {
    pub fn passed(&self) -> bool {
        self.status == Status::Pass
    }
}

/// How an `isolation` detail says its steady state was not judged (the terminal shows
/// that clause even when the check passes).
pub const STEADY_STATE_NOT_JUDGED: &str = "steady state not judged: ";

/// Judges every check of the plan, in the plan's order (inconclusive when it rests on
/// a fault that never fired: `fired.rs`, or on incomplete data: `completeness.rs`). Each
/// `isolation` check is preceded by the `steady_state` it implies (`steady_state.rs`):
/// when that fails, the isolation is inconclusive, since an overload before the fault
/// cannot be blamed on it. Then the always-on `routing` rule (a finding only when mail
/// reached a remote not serving its domain).
pub fn judge(plan: &Plan, ledger: &Ledger, data: &DataCompleteness) -> Vec<Finding> {
    // A run steered by hand is judged on its timeline as it ran (`steered.rs`).
    let as_run;
    let plan = if data.steered.is_empty() {
        plan
    } else {
        as_run = steered::as_run(plan, &data.steered);
        &as_run
    };
    let mut findings = Vec::new();
    for check in &plan.checks {
        let mut finding =
            fired::rest_on_fired(judge_one(check, plan, ledger, data), check, plan, ledger);
        if let Some(spec) = steady_state::spec(check) {
            match steady_state::judge(ledger, plan, &spec) {
                steady_state::SteadyState::NotJudged(why) => {
                    finding.detail += &format!(" ({STEADY_STATE_NOT_JUDGED}{why})");
                }
                steady_state::SteadyState::Judged {
                    finding: mut steady,
                    cause,
                } => {
                    mark_incomplete(&mut steady, data.reasons(check, plan, ledger.end_ms));
                    if steady.status == Status::Fail && finding.status != Status::Inconclusive {
                        finding.status = Status::Inconclusive;
                        finding.detail = format!(
                            "the steady state did not hold before the fault: {cause}. As measured: {}",
                            finding.detail
                        );
                    }
                    findings.push(steady);
                }
            }
        }
        findings.push(finding);
    }
    findings.extend(routing::judge(ledger));
    findings
}

/// Judges one check, then makes it inconclusive if its input is incomplete: the detail
/// says why first, and what was measured stays in `observed`.
pub fn judge_one(check: &Check, plan: &Plan, ledger: &Ledger, data: &DataCompleteness) -> Finding {
    // An aborted run is measured on the timeline as far as it went (`cut.rs`).
    let mut finding = match &data.cut {
        Some(cut) => judge_measured(check, &cut.clip(plan), ledger),
        None => judge_measured(check, plan, ledger),
    };
    mark_incomplete(&mut finding, data.reasons(check, plan, ledger.end_ms));
    finding
}

/// Makes `finding` inconclusive for `reasons` (its input is incomplete), if any.
fn mark_incomplete(finding: &mut Finding, reasons: Vec<String>) {
    if !reasons.is_empty() {
        finding.status = Status::Inconclusive;
        finding.detail = format!("{}. As measured: {}", reasons.join("; "), finding.detail);
    }
}

/// Judges one check on the data as measured; each lives in its own file, whose first
/// paragraph defines it.
fn judge_measured(check: &Check, plan: &Plan, ledger: &Ledger) -> Finding {
    match check {
        Check::Isolation {
            healthy,
            during,
            percentile,
            limit,
            min_delivered,
            ..
        } => isolation::judge(
            ledger,
            plan,
            healthy,
            during,
            *percentile,
            *limit,
            *min_delivered,
        ),
        Check::Drain { domain, within } => drain::judge(ledger, plan, domain, *within),
        Check::NoLoss => no_loss::judge(ledger, common::ms(plan.load.duration())),
        Check::NoDuplicates { max } => no_duplicates::judge(ledger, *max),
        Check::Nodes { min_ratio } => nodes::judge(ledger, *min_ratio),
        Check::Acceptance {
            min_accepted,
            percentile,
            limit,
        } => acceptance::judge(ledger, *min_accepted, *percentile, *limit),
        Check::Queue {
            max,
            baseline_within,
        } => queue::judge(ledger, plan, *max, *baseline_within),
        Check::Alert(a) => alert::judge(ledger, a),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::testkit::{fault, one_of_each, plan, LedgerBuilder};
    use super::*;

    /// Every check is dispatched, in the plan's order, under its scenario name.
    #[test]
    fn judge_dispatches_in_order() {
        let checks = one_of_each(Some(Duration::from_secs(1)));
        let p = plan(vec![fault("down", 30, Some(60))], checks.clone());
        let ledger = LedgerBuilder::new()
            .node("n1")
            .msgs(10, 40_000, Some(40_200))
            .domain("down.test")
            .msgs(2, 40_000, Some(100_000))
            .build();
        let findings = judge(&p, &ledger, &DataCompleteness::default());
        let names: Vec<&str> = findings.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, checks.iter().map(Check::name).collect::<Vec<_>>());
        for f in &findings {
            assert!(f.passed(), "{f:?}");
        }
    }

    /// No data anywhere: every check fails closed.
    #[test]
    fn empty_ledger_is_inconclusive_everywhere() {
        let p = plan(vec![fault("down", 30, Some(60))], one_of_each(None));
        for f in judge(&p, &Ledger::default(), &DataCompleteness::default()) {
            assert_eq!(f.status, Status::Inconclusive, "{f:?}");
            assert!(!f.passed());
            assert!(!f.detail.is_empty() && !f.limit.is_empty(), "{f:?}");
        }
    }
}
