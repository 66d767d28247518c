//! Each check's state while the run goes (the live view, and later `abort_on_fail`):
//! a pure function of the plan, what was steered by hand, the ledger measured so far
//! and the time. The check is judged by its own rule on the timeline as run, clipped at
//! now (`cut.rs`: a fault still in force has not healed yet), and the result read as:
//!
//! - **pending** — its window has not begun (an isolation before the first fault, a
//!   drain before its fault heals), or there is nothing to judge yet, or it is judged
//!   only at the end (`no_loss`: mail in flight is not lost);
//! - **holding** — it would pass if the run ended now;
//! - **failing** — it would fail now, but what is still to come can change that;
//! - **cannot pass** — it failed in a way nothing later can undo: a drain deadline
//!   passed with mail still queued (or delivered late), an isolation window closed more
//!   than its latency limit ago with the percentile or the delivered share missed, a
//!   duplicate over the limit. [`SoFar::can_no_longer_pass`] is the one test for it.
//!
//! The final verdict is `judge`'s alone: so-far states are never a verdict (a holding
//! check can still fail on its completeness or steady-state rules at the end).

use std::time::Duration;

use serde::Serialize;

use super::common::{fmt_ms, ms};
use super::cut::{reads_to, Cut};
use super::steered::{as_run, Steered};
use super::{judge_measured, Status};
use crate::collector::Ledger;
use crate::scenario::{Check, During, FaultSubject, Plan};

/// Where a check stands so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SoFarState {
    Pending,
    Holding,
    Failing,
    CannotPass,
}

impl SoFarState {
    pub fn as_str(self) -> &'static str {
        match self {
            SoFarState::Pending => "pending",
            SoFarState::Holding => "holding",
            SoFarState::Failing => "failing",
            SoFarState::CannotPass => "cannot_pass",
        }
    }
}

/// One check so far: its state, observed vs limit, and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SoFar {
    pub name: String,
    pub state: SoFarState,
    pub observed: String,
    pub limit: String,
    pub detail: String,
}

impl SoFar {
    /// It has failed in a way the rest of the run cannot undo.
    pub fn can_no_longer_pass(&self) -> bool {
        self.state == SoFarState::CannotPass
    }
}

/// The first check that can no longer pass, if any (what `abort_on_fail` stops on).
pub fn first_lost(states: &[SoFar]) -> Option<&SoFar> {
    states.iter().find(|s| s.can_no_longer_pass())
}

/// Every check of the plan at `now_ms` (ms since load start); `ledger` is measured up
/// to then (its `end_ms` is `now_ms`).
pub fn so_far(plan: &Plan, steered: &[Steered], ledger: &Ledger, now_ms: u32) -> Vec<SoFar> {
    let run = as_run(plan, steered);
    let clip = |at_ms: u32| {
        Cut {
            at_ms,
            why: String::new(),
        }
        .clip(&run)
    };
    let now = clip(now_ms);
    plan.checks
        .iter()
        .map(|check| {
            let f = judge_measured(check, &now, ledger);
            let mut s = SoFar {
                name: f.name,
                state: SoFarState::Pending,
                observed: f.observed,
                limit: f.limit,
                detail: f.detail,
            };
            if let Some(from) = begins(check, &run).filter(|&from| from > now_ms) {
                s.detail = format!("judged from {}", fmt_ms(from));
                return s;
            }
            s.state = match (f.status, check) {
                (Status::Inconclusive, _) => SoFarState::Pending,
                (Status::Pass, _) => SoFarState::Holding,
                (Status::Fail, Check::NoLoss) => {
                    s.detail = format!("judged when the run ends; so far: {}", s.detail);
                    SoFarState::Pending
                }
                (Status::Fail, _) if settled(check, &run, ledger, now_ms, clip) => {
                    SoFarState::CannotPass
                }
                (Status::Fail, _) => SoFarState::Failing,
            };
            s
        })
        .collect()
}

/// When a check's window begins (ms since load start): an isolation's first window, a
/// drain's first heal of its remote; `None` when it reads from the start.
fn begins(check: &Check, plan: &Plan) -> Option<u32> {
    match check {
        Check::Isolation {
            during: During::Faults,
            ..
        } => Some(
            plan.remote_fault_windows(Duration::MAX)
                .iter()
                .map(|(from, _)| ms(*from))
                .min()
                .unwrap_or(u32::MAX),
        ),
        Check::Isolation {
            during: During::Window { from, .. },
            ..
        } => Some(ms(*from)),
        Check::Drain { domain, .. } => {
            let remote = plan.remote_for(domain)?;
            Some(
                plan.faults
                    .iter()
                    .filter(|f| matches!(&f.subject, FaultSubject::Remote { remote: r, .. } if *r == remote.name))
                    .filter_map(|f| f.end())
                    .map(ms)
                    .min()
                    .unwrap_or(u32::MAX),
            )
        }
        _ => None,
    }
}

/// A failing check whose failure nothing later can undo.
fn settled(
    check: &Check,
    run: &Plan,
    ledger: &Ledger,
    now_ms: u32,
    clip: impl Fn(u32) -> Plan,
) -> bool {
    match check {
        // Copies only add up.
        Check::NoDuplicates { .. } => true,
        // Judged on the windows whose deadline has passed: mail still queued is late
        // whenever it arrives, mail that arrived late stays late.
        Check::Drain { within, .. } => {
            let Some(deadline_passed) = now_ms.checked_sub(ms(*within)) else {
                return false;
            };
            judge_measured(check, &clip(deadline_passed), ledger).status == Status::Fail
        }
        // Every window closed more than the limit ago: its population is complete, any
        // message still undelivered is late already, and the delivered share counts only
        // deliveries inside the windows.
        Check::Isolation { limit, .. } => reads_to(check, run, now_ms)
            .is_some_and(|end| end < now_ms && end.saturating_add(ms(*limit)) <= now_ms),
        _ => false,
    }
}

#[cfg(test)]
#[path = "so_far_tests.rs"]
mod tests;
