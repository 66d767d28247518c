//! Checks: pure functions from the [`Ledger`] and the [`Plan`] to a [`Finding`].
//!
//! A check with no data to judge is [`Status::Inconclusive`], which fails the gate
//! (fail closed) and says why. The run's [`Verdict`] is decided here too (`verdict.rs`).

use serde::Serialize;

mod acceptance;
mod common;
mod drain;
mod fired;
mod isolation;
mod no_duplicates;
mod no_loss;
mod nodes;
mod queue;
mod routing;
mod settle_end;
#[cfg(test)]
mod testkit;
mod verdict;

pub use common::fmt_count;
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

/// Judges every check of the plan, in the plan's order (inconclusive when it rests on
/// a fault that never fired: `fired.rs`), then the always-on `routing` rule (a finding
/// only when mail reached a remote not serving its domain).
pub fn judge(plan: &Plan, ledger: &Ledger) -> Vec<Finding> {
    plan.checks
        .iter()
        .map(|c| fired::rest_on_fired(judge_one(c, plan, ledger), c, plan, ledger))
        .chain(routing::judge(ledger))
        .collect()
}

/// Judges one check; each lives in its own file, whose first paragraph defines it.
pub fn judge_one(check: &Check, plan: &Plan, ledger: &Ledger) -> Finding {
    match check {
        Check::Isolation {
            healthy,
            during,
            percentile,
            limit,
            min_delivered,
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
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::testkit::{fault, plan, LedgerBuilder};
    use super::*;
    use crate::scenario::During;

    /// One check of each kind; `latency_limit` is acceptance's optional limit.
    fn one_of_each(latency_limit: Option<Duration>) -> Vec<Check> {
        vec![
            Check::Isolation {
                healthy: vec!["ok.test".into()],
                during: During::Faults,
                percentile: 99.0,
                limit: Duration::from_secs(5),
                min_delivered: 0.9,
            },
            Check::Drain {
                domain: "down.test".into(),
                within: Duration::from_secs(90),
            },
            Check::NoLoss,
            Check::NoDuplicates { max: 0 },
            Check::Nodes { min_ratio: 0.5 },
            Check::Acceptance {
                min_accepted: 0.99,
                percentile: 99.0,
                limit: latency_limit,
            },
        ]
    }

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
        let findings = judge(&p, &ledger);
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
        for f in judge(&p, &Ledger::default()) {
            assert_eq!(f.status, Status::Inconclusive, "{f:?}");
            assert!(!f.passed());
            assert!(!f.detail.is_empty() && !f.limit.is_empty(), "{f:?}");
        }
    }
}
