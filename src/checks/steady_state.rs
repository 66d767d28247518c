//! `steady_state`: before any fault, the cluster carried the load to the healthy domains
//! (the steady-state hypothesis of chaos engineering, checked before and after).
//!
//! It is implied by every `isolation` check and uses its healthy domains and limits. The
//! baseline window is `isolation.baseline` or, by default, `[load start, first fault)`
//! (any fault, remote or node; with no fault, up to an explicit `during` window). Its
//! population is every healthy message accepted inside it; latency is as in isolation
//! (never delivered = infinitely late, nearest-rank percentile). The delivered share is
//! the population delivered by the baseline's end plus the latency limit, so the mail
//! still in flight at the window's edge is not held against it.
//!
//! The backlog is the number of healthy messages accepted and neither delivered nor
//! bounced yet, sampled at 40 evenly spaced instants of the baseline. It is *rising* when
//! the mean of the last ten samples is more than twice the mean of the first ten **and**
//! exceeds it by more than `max(20, λ × limit / 2)` messages, λ being the healthy messages
//! accepted per second in the baseline: by Little's law a cluster meeting the limit holds
//! about λ × latency in flight, so a healthy cluster warming up stays below that margin.
//!
//! It passes iff `pXX ≤ limit`, delivered ≥ `min_delivered` and the backlog is not
//! rising; a failure makes the isolation check inconclusive (the cluster was overloaded
//! before the fault, so the fault's effect cannot be told apart). It is *not judged*
//! (no finding; isolation's detail says why) when there is no baseline (the first fault
//! starts at 0s) or the baseline holds fewer than [`min_baseline_messages`].
//!
//! The "after" half is reported, not gated: healthy mail accepted from the last fault's
//! end plus the longest `drain.within` (just the end, when that leaves no load) to the
//! end of the load is measured the same way
//! and the detail says whether the steady state came back. It does not fail the check
//! because the drain of the faulted destination's backlog may legitimately slow the
//! healthy ones for a while; `drain` and `queue` judge the recovery itself.

use std::time::Duration;

use super::common::{
    fmt_count, fmt_dur, fmt_ms, fmt_over, fmt_pct, fmt_pctl, fmt_windows, in_windows, ms,
    percentile, INF,
};
use super::isolation;
use super::{Finding, Status};
use crate::collector::Ledger;
use crate::scenario::{Check, During, Plan};

pub(super) const NAME: &str = "steady_state";

/// Backlog samples taken over the baseline; the first and last quarter are compared.
const SAMPLES: usize = 40;
pub use crate::scenario::min_baseline_messages;

/// The isolation check's settings the steady state is judged with.
pub(super) struct Spec<'a> {
    pub healthy: &'a [String],
    pub during: &'a During,
    pub pctl: f64,
    pub limit: Duration,
    pub min_delivered: f64,
    pub baseline: Option<(Duration, Duration)>,
}

/// Whether the steady state was judged: a finding, or why not (one clause).
#[derive(Debug)]
pub(super) enum SteadyState {
    /// `cause`: why it failed, in one clause with the baseline window (for isolation).
    Judged {
        finding: Finding,
        cause: String,
    },
    NotJudged(String),
}

/// Healthy latency and delivered share over one window.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Stats {
    n: usize,
    p50: u32,
    p: u32,
    delivered: f64,
}

impl Stats {
    fn fmt(&self, label: &str) -> String {
        format!(
            "p50 {}, {label} {}, delivered {}",
            fmt_ms(self.p50),
            fmt_ms(self.p),
            fmt_pct(self.delivered)
        )
    }
}

/// The settings of an isolation check, if `check` is one.
pub(super) fn spec(check: &Check) -> Option<Spec<'_>> {
    match check {
        Check::Isolation {
            healthy,
            during,
            percentile,
            limit,
            min_delivered,
            baseline,
        } => Some(Spec {
            healthy,
            during,
            pctl: *percentile,
            limit: *limit,
            min_delivered: *min_delivered,
            baseline: *baseline,
        }),
        _ => None,
    }
}

pub(super) fn judge(ledger: &Ledger, plan: &Plan, spec: &Spec) -> SteadyState {
    let Some(base) = baseline_window(plan, spec) else {
        return SteadyState::NotJudged(
            "the first fault starts at 0s, so there is no baseline before it".to_string(),
        );
    };
    let label = fmt_pctl(spec.pctl);
    let limit_ms = ms(spec.limit);
    let is_healthy: Vec<bool> = ledger
        .domains
        .iter()
        .map(|d| spec.healthy.iter().any(|h| h.eq_ignore_ascii_case(d)))
        .collect();
    let healthy = |r: &crate::collector::ledger::MessageRecord| {
        is_healthy
            .get(usize::from(r.domain))
            .copied()
            .unwrap_or(false)
    };
    let base_txt = fmt_windows(&[base]);
    let before = measure(ledger, &healthy, &[base], Grace::Limit(limit_ms), spec.pctl);
    let needed = min_baseline_messages(spec.pctl);
    let before = match before {
        Some(s) if s.n >= needed => s,
        other => {
            return SteadyState::NotJudged(format!(
                "the baseline {base_txt} holds {} healthy messages, fewer than the {needed} needed to judge {label}",
                fmt_count(other.map_or(0, |s| s.n))
            ))
        }
    };
    let (first, last) = backlog(ledger, &healthy, base);
    let per_s = before.n as f64 * 1000.0 / f64::from((base.1 - base.0).max(1));
    let margin = (per_s * f64::from(limit_ms) / 1000.0 / 2.0).max(20.0);
    let rising = last > 2.0 * first && last - first > margin;

    let latency_ok = before.p != INF && before.p <= limit_ms;
    let ratio_ok = before.delivered + 1e-12 >= spec.min_delivered;
    let status = if latency_ok && ratio_ok && !rising {
        Status::Pass
    } else {
        Status::Fail
    };
    let backlog_txt = format!(
        "backlog {} {} → {}",
        if rising { "rising" } else { "steady" },
        first.round(),
        last.round()
    );

    let faults = isolation::windows(ledger, plan, spec.during);
    let during = measure(ledger, &healthy, &faults, Grace::Inside, spec.pctl);
    let after = after_window(ledger, plan).map(|w| {
        (
            w,
            measure(ledger, &healthy, &[w], Grace::Limit(limit_ms), spec.pctl),
        )
    });

    let observed = format!(
        "before {label} {}, delivered {}; during {}; after {}",
        fmt_ms(before.p),
        fmt_pct(before.delivered),
        during.map_or("no data".into(), |s| fmt_ms(s.p)),
        match after {
            Some((_, Some(s))) => fmt_ms(s.p),
            _ => "no data".into(),
        }
    );
    let names = spec.healthy.join(", ");
    let mut detail = if status == Status::Pass {
        format!(
            "{names} carried the load before any fault: {} healthy messages, {label} {}, delivered {}, {backlog_txt}",
            fmt_count(before.n),
            fmt_ms(before.p),
            fmt_pct(before.delivered)
        )
    } else {
        let mut why = Vec::new();
        if !latency_ok {
            why.push(format!("{names} {label} {}", over(before.p, limit_ms)));
        }
        if !ratio_ok {
            why.push(format!(
                "delivered {}, under {}",
                fmt_pct(before.delivered),
                fmt_pct(spec.min_delivered)
            ));
        }
        why.push(backlog_txt);
        format!(
            "the cluster could not carry this load before any fault: {}",
            why.join(", ")
        )
    };
    detail += &format!(" (baseline {base_txt})");
    let cause = detail.clone();
    detail += &format!(
        ". Healthy mail: baseline {base_txt}: {}",
        before.fmt(&label)
    );
    match during {
        Some(s) if !faults.is_empty() => {
            detail += &format!("; faults {}: {}", fmt_windows(&faults), s.fmt(&label))
        }
        _ => detail += "; faults: no healthy mail accepted",
    }
    detail += &match after {
        None => "; after the faults: no load left to judge whether the steady state came back"
            .to_string(),
        Some((w, None)) => format!(
            "; after {}: no healthy mail accepted, whether the steady state came back is unknown",
            fmt_windows(&[w])
        ),
        Some((w, Some(s))) => {
            let back = s.p != INF && s.p <= limit_ms && s.delivered + 1e-12 >= spec.min_delivered;
            format!(
                "; after {}: {}: the steady state {}",
                fmt_windows(&[w]),
                s.fmt(&label),
                if back {
                    "came back after the faults"
                } else {
                    "did not come back after the faults"
                }
            )
        }
    };
    let finding = Finding {
        name: NAME.to_string(),
        status,
        observed,
        limit: format!(
            "before the first fault: {label} ≤ {}, delivered ≥ {}, backlog not rising",
            fmt_dur(spec.limit),
            fmt_pct(spec.min_delivered)
        ),
        detail,
        evidence: Vec::new(),
    };
    SteadyState::Judged { finding, cause }
}

/// `44.7s, 8.9× the 5s limit` or `never reached (too many not delivered)`.
fn over(p: u32, limit: u32) -> String {
    if p == INF {
        format!(
            "not reached: too many never arrived (limit {})",
            fmt_ms(limit)
        )
    } else {
        format!("{}, {}", fmt_ms(p), fmt_over(p, limit))
    }
}

/// `[from, to)` in ms: the explicit baseline, or load start to the first fault (or to
/// an explicit `during` window when there is no fault). `None`: empty.
fn baseline_window(plan: &Plan, spec: &Spec) -> Option<(u32, u32)> {
    let (from, to) = match spec.baseline {
        Some(w) => w,
        None => {
            let first = plan.faults.iter().map(|f| f.at).min();
            let end = first.or(match spec.during {
                During::Window { from, .. } => Some(*from),
                During::Faults => None,
            })?;
            (Duration::ZERO, end)
        }
    };
    let (a, b) = (ms(from), ms(to));
    (a < b).then_some((a, b))
}

/// From the last fault's end plus the longest drain window (or from the last fault's
/// end, if that leaves no load) to the end of the load; `None` when a fault never ends,
/// there is none, or no load is left after it.
fn after_window(ledger: &Ledger, plan: &Plan) -> Option<(u32, u32)> {
    if plan.faults.is_empty() || plan.faults.iter().any(|f| f.duration.is_none()) {
        return None;
    }
    let drain = plan
        .checks
        .iter()
        .filter_map(|c| match c {
            Check::Drain { within, .. } => Some(*within),
            _ => None,
        })
        .max()
        .unwrap_or(Duration::ZERO);
    let end = ms(plan.load.duration()).min(ledger.end_ms);
    let healed = ms(plan.timeline_end());
    let start = ms(plan.timeline_end() + drain);
    // A drain window that outlasts the load would leave nothing: judge from the healing.
    let start = if start < end { start } else { healed };
    (start < end).then_some((start, end))
}

/// How a message of the population counts as delivered.
#[derive(Clone, Copy)]
enum Grace {
    /// Its delivery landed inside one of the windows (isolation's definition).
    Inside,
    /// It was delivered by the last window's end plus this many ms.
    Limit(u32),
}

/// Healthy messages accepted inside `windows`: latency percentiles and delivered share.
fn measure(
    ledger: &Ledger,
    healthy: &dyn Fn(&crate::collector::ledger::MessageRecord) -> bool,
    windows: &[(u32, u32)],
    grace: Grace,
    pctl: f64,
) -> Option<Stats> {
    let deadline = windows.last().map_or(0, |w| w.1);
    let mut latencies = Vec::new();
    let mut delivered = 0usize;
    for r in ledger.records.iter().filter(|r| healthy(r)) {
        let landed = r.delivered()
            && match grace {
                Grace::Inside => in_windows(windows, r.delivered_ms),
                Grace::Limit(l) => r.delivered_ms < deadline.saturating_add(l),
            };
        let inside = r.accepted() && in_windows(windows, r.accepted_ms);
        if inside {
            latencies.push(if r.delivered() {
                r.delivered_ms.saturating_sub(r.accepted_ms)
            } else {
                INF
            });
        }
        // Inside: any healthy delivery landing in the windows counts, as in isolation.
        if landed && (inside || matches!(grace, Grace::Inside)) {
            delivered += 1;
        }
    }
    let n = latencies.len();
    let p = percentile(&mut latencies, pctl)?;
    let p50 = percentile(&mut latencies, 50.0)?;
    Some(Stats {
        n,
        p50,
        p,
        delivered: (delivered as f64 / n as f64).min(1.0),
    })
}

/// Mean outstanding healthy messages in the first and the last quarter of `window`.
fn backlog(
    ledger: &Ledger,
    healthy: &dyn Fn(&crate::collector::ledger::MessageRecord) -> bool,
    (from, to): (u32, u32),
) -> (f64, f64) {
    // Outstanding at t = accepted before t − done (delivered or bounced) before t, both
    // counted by binary search in sorted times: one pass over the ledger.
    let mut accepted = Vec::new();
    let mut done = Vec::new();
    for r in ledger.records.iter().filter(|r| healthy(r) && r.accepted()) {
        accepted.push(r.accepted_ms);
        let delivered = if r.delivered() { r.delivered_ms } else { INF };
        let bounced = if r.bounced() { r.bounced_ms } else { INF };
        done.push(delivered.min(bounced).max(r.accepted_ms));
    }
    accepted.sort_unstable();
    done.sort_unstable();
    let before = |v: &[u32], t: u32| v.partition_point(|&x| x < t);
    let span = u64::from(to - from);
    let samples: Vec<usize> = (1..=SAMPLES as u64)
        .map(|i| from + (span * i / SAMPLES as u64) as u32)
        .map(|t| before(&accepted, t) - before(&done, t))
        .collect();
    let quarter = SAMPLES / 4;
    let mean = |s: &[usize]| s.iter().sum::<usize>() as f64 / s.len() as f64;
    (
        mean(&samples[..quarter]),
        mean(&samples[SAMPLES - quarter..]),
    )
}

#[cfg(test)]
#[path = "steady_state_tests.rs"]
mod tests;
