//! Data completeness: what the judged data lacks, and which checks that makes
//! inconclusive. A check whose input is incomplete fails the gate as inconclusive and
//! says why, with what it measured still shown:
//!
//! - remote events lost while following remotes served elsewhere → `no_loss`,
//!   `no_duplicates`, `isolation`, `drain`, `nodes` (a delivery may be missing);
//! - a shortfall above `load.max_shortfall` → `isolation`, `drain`, `acceptance`, `queue`
//!   (the planned load was not applied; for the closed model, stopped by hand before
//!   its planned end: the share of its time not run);
//! - queue probe samples missed in the window a `queue` check judges → `queue`;
//! - an aborted run measured nothing after its end, or after the remotes or the target
//!   stopped answering → every check that reads past that point (`cut.rs`).
//!
//! [`DataCompleteness`] is built by `run.rs` from what the stages report and saved in
//! `run.json`, so `mailquake report DIR` judges a saved run the same way.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::common::{fmt_count, fmt_pct, fmt_windows, merge_windows, ms};
use super::cut::Cut;
use crate::collector::Ledger;
use crate::scenario::{Check, Plan};

/// What the stages could not measure.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DataCompleteness {
    /// Events lost while following remotes served elsewhere (`GET /events`): gaps in
    /// their sequence numbers, and those still not arrived when measurement stopped.
    /// Always 0 for remotes served in-process.
    pub remote_events_lost: u64,
    /// The control API the events were followed from (`http://HOST:PORT`).
    pub remote_events_from: Option<String>,
    /// Open model: messages the load shape called for; `None` for the closed model.
    pub planned: Option<u64>,
    /// Messages the generator sent.
    pub submitted: u64,
    /// Open model: called for, but no session was free to send them.
    pub shortfall: u64,
    /// Closed model: how long its load was planned to run, ms (`None`: open model, or a
    /// run saved before it existed). A closed-model load stopped by hand before then
    /// was not applied in full: the share of its time it did not run is its shortfall
    /// ratio ([`DataCompleteness::shortfall_ratio`]), as there is no planned count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_load_ms: Option<u32>,
    /// Per probed node: the samples taken and missed.
    pub probes: Vec<ProbeCoverage>,
    /// An aborted run: where measurement stopped (see `cut.rs`). Absent in runs saved
    /// before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut: Option<Cut>,
    /// What was done by hand during the run (`--live-control`, `steered.rs`): the checks
    /// judge the timeline as it ran. Empty when nobody steered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steered: Vec<super::steered::Steered>,
    /// `abort_on_fail`: the run stopped because a check could no longer pass (the load
    /// was cut short; `cut` says where measurement stopped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_early: Option<super::stop_early::StoppedEarly>,
}

/// How well one node's queue was sampled.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProbeCoverage {
    pub node: String,
    /// Samples taken (a reading came back).
    pub taken: u64,
    /// Samples due that brought no reading: failed, or late by more than a period.
    pub missed: u64,
    /// Windows (ms since load start, half-open) between the readings around each miss:
    /// the queue depth there is unknown.
    pub gaps: Vec<(u32, u32)>,
}

impl DataCompleteness {
    /// Shortfall as a share of the planned messages; for the closed model, the share of
    /// its planned time it did not run because the load was stopped by hand (else 0).
    pub fn shortfall_ratio(&self) -> f64 {
        match (self.planned, self.closed_cut_short()) {
            (Some(planned), _) if planned > 0 => self.shortfall as f64 / planned as f64,
            (None, Some((stopped, planned))) => f64::from(planned - stopped) / f64::from(planned),
            _ => 0.0,
        }
    }

    /// Closed model stopped by hand before its planned end: (stopped at, planned), ms.
    pub fn closed_cut_short(&self) -> Option<(u32, u32)> {
        let planned = self.closed_load_ms?;
        let stopped = self
            .steered
            .iter()
            .find(|s| s.action == super::steered::SteerAction::StopLoad)?
            .at_ms;
        (stopped < planned).then_some((stopped, planned))
    }

    /// Probe samples missed, every node together.
    pub fn probe_samples_missed(&self) -> u64 {
        self.probes.iter().map(|p| p.missed).sum()
    }

    /// Probe samples due (taken + missed), every node together.
    pub fn probe_samples_expected(&self) -> u64 {
        self.probes.iter().map(|p| p.taken + p.missed).sum()
    }

    /// Nothing the checks need is missing, as far as `max_shortfall` allows.
    pub fn complete(&self, max_shortfall: f64) -> bool {
        self.remote_events_lost == 0
            && self.shortfall_ratio() <= max_shortfall
            && self.probe_samples_missed() == 0
    }

    /// Why remote events are incomplete, if they are.
    fn events_lost(&self) -> Option<String> {
        (self.remote_events_lost > 0).then(|| {
            let from = self
                .remote_events_from
                .as_deref()
                .map_or("the remotes".to_string(), |u| u.to_string());
            format!(
                "{} remote events were lost while following {from}: deliveries may be missing",
                fmt_count(self.remote_events_lost)
            )
        })
    }

    /// Why the load was not applied, if the shortfall is over the limit.
    fn load_not_applied(&self, max_shortfall: f64) -> Option<String> {
        let ratio = self.shortfall_ratio();
        if let (None, Some((stopped, planned))) = (self.planned, self.closed_cut_short()) {
            return (ratio > max_shortfall).then(|| {
                format!(
                    "the planned load was not applied: stopped by hand at {:.1}s of its planned {:.1}s (closed model: {} of its time not run; limit {})",
                    f64::from(stopped) / 1000.0,
                    f64::from(planned) / 1000.0,
                    fmt_pct(ratio),
                    fmt_pct(max_shortfall)
                )
            });
        }
        (ratio > max_shortfall).then(|| {
            format!(
                "the planned load was not applied: {} shortfall ({} of {} planned messages not sent; limit {})",
                fmt_pct(ratio),
                fmt_count(self.shortfall),
                fmt_count(self.planned.unwrap_or(0)),
                fmt_pct(max_shortfall)
            )
        })
    }

    /// Why the probe readings in `window` (ms, half-open) are incomplete, if they are.
    fn probes_missed(&self, window: (u32, u32)) -> Option<String> {
        let nodes: Vec<String> = self
            .probes
            .iter()
            .filter_map(|p| {
                let gaps: Vec<(u32, u32)> = p
                    .gaps
                    .iter()
                    .filter(|&&(a, b)| a < window.1 && window.0 < b)
                    .copied()
                    .collect();
                (!gaps.is_empty()).then(|| {
                    format!(
                        "{} ({} missed, no reading {})",
                        p.node,
                        fmt_count(p.missed),
                        fmt_windows(&gaps)
                    )
                })
            })
            .collect();
        (!nodes.is_empty()).then(|| {
            format!(
                "queue probe samples were missed on {}: the queue depth there is unknown",
                nodes.join(", ")
            )
        })
    }

    /// Why `check`'s input is incomplete, one sentence per reason (empty: complete).
    pub fn reasons(&self, check: &Check, plan: &Plan, end_ms: u32) -> Vec<String> {
        let lost_events = matches!(
            check,
            Check::NoLoss
                | Check::NoDuplicates { .. }
                | Check::Isolation { .. }
                | Check::Drain { .. }
                | Check::Nodes { .. }
        );
        let load_dependent = matches!(
            check,
            Check::Isolation { .. }
                | Check::Drain { .. }
                | Check::Acceptance { .. }
                | Check::Queue { .. }
        );
        let mut reasons = Vec::new();
        // The check `abort_on_fail` stopped on was judged on a failure nothing later
        // could undo: the cut is not a reason to doubt it.
        let stopped_on = self
            .stopped_early
            .as_ref()
            .is_some_and(|s| plan.checks.get(s.index) == Some(check));
        if !stopped_on {
            reasons.extend(
                self.cut
                    .as_ref()
                    .and_then(|cut| cut.reason(check, plan, end_ms)),
            );
        }
        if lost_events {
            reasons.extend(self.events_lost());
        }
        if load_dependent {
            reasons.extend(self.load_not_applied(plan.load.max_shortfall));
        }
        if let Check::Queue {
            max,
            baseline_within,
        } = check
        {
            reasons.extend(
                queue_windows(plan, end_ms, *max, *baseline_within)
                    .into_iter()
                    .find_map(|w| self.probes_missed(w)),
            );
        }
        reasons
    }
}

/// The windows a `queue` check reads: the whole run for `max`, and from the timeline's
/// end for `baseline_within` (as `queue.rs` measures it).
fn queue_windows(
    plan: &Plan,
    end_ms: u32,
    max: Option<u32>,
    within: Option<Duration>,
) -> Vec<(u32, u32)> {
    let mut windows = Vec::new();
    if max.is_some() {
        windows.push((0, end_ms.max(1)));
    }
    if let Some(w) = within {
        let healing = plan.faults.iter().any(|f| f.end().is_some());
        let from = ms(if healing {
            plan.timeline_end()
        } else {
            plan.load.duration()
        });
        windows.push((from, from.saturating_add(ms(w)).min(end_ms).max(from + 1)));
    }
    merge_windows(windows)
}

/// How well each probed node was sampled, from the readings and failures in the ledger
/// up to its end. `every` is the probes' period: a node with no attempt for more than
/// two periods missed the samples due in between (a late sample).
pub fn probe_coverage(ledger: &Ledger, probed: &[String], every: Duration) -> Vec<ProbeCoverage> {
    let every = ms(every).max(1);
    let end = ledger.end_ms;
    probed
        .iter()
        .map(|name| {
            // Node names are told apart case-insensitively, as the ledger interns them.
            let node = ledger
                .nodes
                .iter()
                .position(|n| n.eq_ignore_ascii_case(name));
            let mut attempts: Vec<(u32, bool)> = ledger
                .queue
                .iter()
                .filter(|s| Some(s.node as usize) == node)
                .map(|s| (s.at_ms, true))
                .chain(
                    ledger
                        .probe_failures
                        .iter()
                        .filter(|(_, n)| Some(*n as usize) == node)
                        .map(|(at, _)| (*at, false)),
                )
                .filter(|(at, _)| *at <= end)
                .collect();
            attempts.sort_unstable();
            let mut c = ProbeCoverage {
                node: name.clone(),
                ..Default::default()
            };
            // Since the last reading (the run's start counts as one), was one missed?
            let (mut last_reading, mut last_attempt, mut missing) = (0u32, 0u32, false);
            let late = |from: u32, to: u32, c: &mut ProbeCoverage| {
                let quiet = to - from;
                if quiet > 2 * every {
                    c.missed += u64::from(quiet.div_ceil(every) - 1);
                    return true;
                }
                false
            };
            for (at, ok) in attempts {
                missing |= late(last_attempt, at, &mut c);
                last_attempt = at;
                if !ok {
                    c.missed += 1;
                    missing = true;
                    continue;
                }
                c.taken += 1;
                if std::mem::take(&mut missing) {
                    c.gaps.push((last_reading, at));
                }
                last_reading = at;
            }
            missing |= late(last_attempt, end, &mut c);
            if missing {
                c.gaps.push((last_reading, end.max(last_reading + 1)));
            }
            c
        })
        .collect()
}

#[cfg(test)]
#[path = "completeness_tests.rs"]
mod tests;
