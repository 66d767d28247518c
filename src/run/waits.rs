//! How long a run can take on the wall clock: its load, its fault timeline, the longest
//! settle, and every bounded wait the run makes around them — the waits named once here,
//! so `mailquake validate` adds up what `run` really waits for.

use std::time::Duration;

use crate::checks::fmt_ms;
use crate::scenario::{FaultSubject, Plan, Target};

/// The reachability check of an external target: one TCP connect per endpoint, in turn.
pub const REACH_TIMEOUT: Duration = Duration::from_secs(5);
/// After the load, for the external target's watch to take the generator's last events.
pub const TARGET_WATCH_END: Duration = Duration::from_secs(5);
/// After settle, for events already logged by remotes served elsewhere to arrive.
pub const CATCH_UP: Duration = Duration::from_secs(5);
/// The generator's (and the canaries') SMTP timeouts: connect, and each reply.
pub const SMTP_CONNECT: Duration = Duration::from_secs(5);
pub const SMTP_REPLY: Duration = Duration::from_secs(30);
/// One request to the remotes' control API (connect included).
pub use crate::remotes::client::REQUEST_TIMEOUT as API_REQUEST;
/// One `exec` command (`run` or `undo`).
pub use crate::timeline::EXEC_TIMEOUT;

/// One bounded wait of a run outside its load and settle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wait {
    pub what: String,
    pub at_most: Duration,
}

/// A run's wall-clock plan, from the Plan alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WallClock {
    pub load: Duration,
    /// Each fault as `(who and what, from, until)`; `None`: until the run ends.
    pub faults: Vec<(String, Duration, Option<Duration>)>,
    /// When settle ends at the latest, from load start: the later of the load's and the
    /// timeline's end, plus `settle`.
    pub settle_end: Duration,
    pub settle: Duration,
    pub before: Vec<Wait>,
    pub after: Vec<Wait>,
    /// Waits not in `longest`: how many there are depends on the target's answers.
    pub uncounted: Vec<String>,
}

impl WallClock {
    pub fn of(plan: &Plan) -> Self {
        let mut before = Vec::new();
        let mut after = Vec::new();
        let mut uncounted = Vec::new();
        if plan.external_remotes.is_some() {
            before.push(Wait {
                what: "the remotes' control API".into(),
                at_most: API_REQUEST,
            });
            after.push(Wait {
                what: "the remotes' last events".into(),
                at_most: API_REQUEST + CATCH_UP,
            });
            if plan
                .faults
                .iter()
                .any(|f| matches!(f.subject, FaultSubject::Remote { .. }))
            {
                // Every faulted remote is healed at once, each DELETE tried up to 3 times.
                after.push(Wait {
                    what: "healing the remotes".into(),
                    at_most: API_REQUEST * 3 + Duration::from_secs(1),
                });
            }
        }
        if let Target::Smtp(endpoints) = &plan.target {
            before.push(Wait {
                what: format!(
                    "target reachability ({} × {})",
                    endpoints.len(),
                    fmt_dur(REACH_TIMEOUT)
                ),
                at_most: REACH_TIMEOUT * endpoints.len() as u32,
            });
            if !plan.preflight.skip {
                before.push(Wait {
                    what: "routing preflight (unless --skip-preflight)".into(),
                    at_most: plan.preflight.timeout,
                });
                uncounted.push(format!(
                    "sending the routing preflight's canaries: each connect up to {}, each SMTP reply up to {}",
                    fmt_dur(SMTP_CONNECT),
                    fmt_dur(SMTP_REPLY)
                ));
            }
            after.push(Wait {
                what: "the target's watch".into(),
                at_most: TARGET_WATCH_END,
            });
        }
        // The generator ends when its sessions have their last messages' replies; past
        // the settle's end, that lengthens the run.
        uncounted.push(format!(
            "the load's last messages, if still in flight when settle ends: each connect up to {}, each SMTP reply up to {}",
            fmt_dur(SMTP_CONNECT),
            fmt_dur(SMTP_REPLY)
        ));
        let execs = plan
            .faults
            .iter()
            .filter(|f| matches!(f.subject, FaultSubject::Exec { .. }))
            .count();
        if execs > 0 {
            uncounted.push(format!(
                "{execs} exec action(s): each command (run, undo) up to {}, those at 0s before the load",
                fmt_dur(EXEC_TIMEOUT)
            ));
        }
        let load = plan.load.duration();
        WallClock {
            load,
            faults: plan
                .faults
                .iter()
                .map(|f| {
                    let who = match &f.subject {
                        FaultSubject::Exec { .. } => f.subject.target(),
                        s => format!("{} {}", s.target(), s.kind()),
                    };
                    (who, f.at, f.end())
                })
                .collect(),
            settle_end: load.max(plan.timeline_end()) + plan.settle,
            settle: plan.settle,
            before,
            after,
            uncounted,
        }
    }

    /// The longest the run can take: the waits before the load, load and settle, the
    /// waits after it (not the `uncounted` ones).
    pub fn longest(&self) -> Duration {
        let sum = |w: &[Wait]| w.iter().map(|w| w.at_most).sum::<Duration>();
        sum(&self.before) + self.settle_end + sum(&self.after)
    }

    /// What `mailquake validate` prints, one line each.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "wall clock: load {} (0s → {})",
            fmt_dur(self.load),
            fmt_dur(self.load)
        )];
        for (who, from, until) in &self.faults {
            let until = until.map_or_else(|| "the end of the run".to_string(), fmt_dur);
            lines.push(format!("  fault {who}: {} → {until}", fmt_dur(*from)));
        }
        lines.push(format!(
            "  settle: up to {}, ends by {} after load start",
            fmt_dur(self.settle),
            fmt_dur(self.settle_end)
        ));
        let list = |w: &[Wait]| {
            w.iter()
                .map(|w| format!("{} {}", w.what, fmt_dur(w.at_most)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut parts = Vec::new();
        if !self.before.is_empty() {
            parts.push(format!("before the load: {}", list(&self.before)));
        }
        parts.push(format!("load and settle {}", fmt_dur(self.settle_end)));
        if !self.after.is_empty() {
            parts.push(format!("after: {}", list(&self.after)));
        }
        lines.push(format!(
            "  longest run: {} ({})",
            fmt_dur(self.longest()),
            parts.join("; ")
        ));
        for line in &self.uncounted {
            lines.push(format!("  plus {line}"));
        }
        lines
    }
}

/// `90s` → `1m 30s`, as the reports write durations.
fn fmt_dur(d: Duration) -> String {
    if d.is_zero() {
        return "0s".into();
    }
    fmt_ms(d.as_millis().min(u128::from(u32::MAX)) as u32)
}

#[cfg(test)]
#[path = "waits_tests.rs"]
mod tests;
