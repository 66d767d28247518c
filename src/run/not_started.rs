//! A run that gives no verdict (it could not start: remotes not bound or not attached,
//! the target unreachable, the routing preflight failed, …) still leaves its folder
//! saying so: every report, written as for an aborted run — `"verdict": "aborted"`, the
//! error as `abort.reason`, nothing submitted — so a folder is never left empty and a
//! CI job reading `summary.json` or `junit.xml` never reads a pass. Nothing measured is
//! dropped: the folder is not removed (it may hold the actions journal), and the error
//! lines are those printed.

use std::path::Path;

use fake_remotes::event::now_us;

use crate::checks::{self, Aborted, DataCompleteness};
use crate::report::{self, JudgedRun, LoadSection, Samples};
use crate::scenario::{self, Plan};

/// Writes the reports of a run that stopped with `error` before giving a verdict into
/// `dir` — unless `dir` is not a folder or already holds a `summary.json` (the run got
/// that far). Best effort: the error line is already printed, a write failure adds none.
pub(super) fn write(dir: &Path, plan: &Plan, scenario_text: &str, run_id: &str, error: &str) {
    if !dir.is_dir() || dir.join(report::summary::FILE).exists() {
        return;
    }
    let abort = Aborted {
        reason: format!("the run could not be carried out: {error}"),
        at_s: 0.0,
    };
    let mut ledger = super::wiring::new_ledger(run_id, &plan.load);
    ledger.t0_us = now_us();
    let data = DataCompleteness {
        cut: checks::cut::at_abort(Some(&abort), None, ledger.t0_us, 0),
        ..Default::default()
    };
    let findings = checks::judge(plan, &ledger, &data);
    let judged = JudgedRun {
        plan: plan.clone(),
        scenario_text: scenario::safety::redact(scenario_text, &plan.safety.secrets),
        ledger,
        totals: Default::default(),
        findings,
        abort: Some(abort),
        samples: Samples::default(),
        load: LoadSection {
            data,
            ..Default::default()
        },
    };
    let _ = report::write_run(dir, &judged);
}
