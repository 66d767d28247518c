//! One step of the search: the plan it runs (the scenario at one constant rate, its
//! offset-0 faults held for the whole step, no checks) and what its ledger shows
//! against the criteria — acceptance, p99 submit latency, delivery keeping up with
//! acceptance over the second half of the load, and the backlog. Pure.

use std::time::Duration;

use serde::Serialize;

use crate::collector::Ledger;
use crate::scenario::{CapacitySpec, FaultWindow, Plan, Step};

/// The plan of the step at `rate`: the scenario's target, remotes, mix, message and
/// sessions; one constant step of `spec.step`; the faults in force at offset 0 held for
/// the whole step (later ones are not applied, see [`later_faults`]); no checks (the
/// search judges); `spec.settle` to drain. `preflight`: whether this step runs the
/// routing preflight (the first one does).
pub fn plan(base: &Plan, rate: f64, preflight: bool) -> Plan {
    let spec = &base.capacity;
    let mut plan = base.clone();
    plan.load.steps = vec![Step {
        rate,
        to: None,
        duration: spec.step,
    }];
    plan.faults = base
        .faults
        .iter()
        .filter(|f| f.at.is_zero())
        .map(|f| FaultWindow {
            duration: None,
            ..f.clone()
        })
        .collect();
    plan.checks = Vec::new();
    plan.settle = spec.settle;
    plan.preflight.skip = base.preflight.skip || !preflight;
    plan
}

/// The faults a step does not apply (they start after offset 0), as reports name them.
pub fn later_faults(base: &Plan) -> Vec<String> {
    base.faults
        .iter()
        .filter(|f| !f.at.is_zero())
        .map(|f| format!("{} {}", f.subject.kind(), f.subject.target()))
        .collect()
}

/// What one step measured, and whether it sustained its rate.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepResult {
    /// Offered rate, messages/s.
    pub rate: f64,
    /// Messages the step called for, sent, and the cluster accepted.
    pub planned: u64,
    pub submitted: u64,
    pub accepted: u64,
    /// `accepted / planned`.
    pub acceptance: f64,
    /// p99 of intended send → accepted, ms; `null` when nothing was accepted.
    pub submit_p99_ms: Option<u32>,
    /// Over the second half of the load: messages accepted, and delivered, per second.
    pub accepted_per_s: f64,
    pub delivered_per_s: f64,
    /// `delivered_per_s / accepted_per_s`; `null` when nothing was accepted then.
    pub keep_up: Option<f64>,
    /// Accepted and not yet delivered (nor bounced): at the middle and at the end of
    /// the load.
    pub backlog_mid: u64,
    pub backlog_end: u64,
    /// Still undelivered when the step's settle ended.
    pub left_after_settle: u64,
    /// Mail of earlier steps (or others) that reached this step's remotes.
    pub foreign: u64,
    pub sustained: bool,
    /// The criteria it missed, one phrase each (empty when sustained).
    pub missed: Vec<String>,
}

/// Judges a step's ledger (`load`: how long its load lasted) against `spec`.
pub fn judge(ledger: &Ledger, rate: f64, load: Duration, spec: &CapacitySpec) -> StepResult {
    let end = load.as_millis().min(u128::from(u32::MAX)) as u32;
    let half = end / 2;
    let planned = (rate * load.as_secs_f64()).round() as u64;
    let records = &ledger.records;
    let submitted = records
        .iter()
        .filter(|r| r.is(crate::collector::ledger::flag::SUBMITTED))
        .count() as u64;
    let accepted = records.iter().filter(|r| r.accepted()).count() as u64;
    let acceptance = accepted as f64 / planned.max(submitted).max(1) as f64;
    let mut latencies: Vec<u32> = records
        .iter()
        .filter_map(|r| r.submit_latency_ms())
        .collect();
    latencies.sort_unstable();
    let submit_p99_ms = (!latencies.is_empty()).then(|| {
        // Nearest rank.
        let rank = ((latencies.len() as f64) * 0.99).ceil() as usize;
        latencies[rank.clamp(1, latencies.len()) - 1]
    });
    let within = |t: u32| t >= half && t < end;
    let accepted_w = records
        .iter()
        .filter(|r| r.accepted() && within(r.accepted_ms))
        .count();
    let delivered_w = records
        .iter()
        .filter(|r| r.delivered() && within(r.delivered_ms))
        .count();
    let window_s = f64::from(end - half).max(1.0) / 1000.0;
    let keep_up = (accepted_w > 0).then(|| delivered_w as f64 / accepted_w as f64);
    let backlog = |t: u32| {
        records
            .iter()
            .filter(|r| {
                r.accepted()
                    && r.accepted_ms < t
                    && !(r.delivered() && r.delivered_ms < t)
                    && !(r.bounced() && r.bounced_ms < t)
            })
            .count() as u64
    };
    let mut missed = Vec::new();
    if acceptance < spec.acceptance {
        missed.push(format!(
            "acceptance {} < {}",
            pct(acceptance),
            pct(spec.acceptance)
        ));
    }
    let limit_ms = spec.submit_p99.as_millis().min(u128::from(u32::MAX)) as u32;
    match submit_p99_ms {
        Some(p99) if p99 > limit_ms => missed.push(format!("submit p99 {p99} ms > {limit_ms} ms")),
        Some(_) => {}
        None => missed.push("nothing accepted".into()),
    }
    match keep_up {
        Some(k) if k < spec.keep_up => missed.push(format!(
            "delivered {} of accepted < {}",
            pct(k),
            pct(spec.keep_up)
        )),
        Some(_) => {}
        None if accepted > 0 => missed.push("nothing accepted in the second half".into()),
        None => {}
    }
    StepResult {
        rate,
        planned,
        submitted,
        accepted,
        acceptance,
        submit_p99_ms,
        accepted_per_s: accepted_w as f64 / window_s,
        delivered_per_s: delivered_w as f64 / window_s,
        keep_up,
        backlog_mid: backlog(half),
        backlog_end: backlog(end),
        left_after_settle: records.iter().filter(|r| r.outstanding()).count() as u64,
        foreign: ledger.foreign,
        sustained: missed.is_empty(),
        missed,
    }
}

/// `0.987` → `98.7%`.
pub fn pct(share: f64) -> String {
    crate::scenario::units::format_percent((share * 1000.0).round() / 1000.0)
}

#[cfg(test)]
#[path = "step_tests.rs"]
mod tests;
