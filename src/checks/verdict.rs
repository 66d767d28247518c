//! The run's verdict, decided once from the findings and the abort: the reports only
//! render it and the exit code comes from it. PASS means the planned load was applied
//! and every check passed on complete data; a run that ended early is `aborted` whatever
//! its checks say (they were judged on partial data).

use serde::{Deserialize, Serialize};

use super::Finding;

/// `pass` | `fail` | `aborted`, as `summary.json` writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every check passed and the run went to its end.
    Pass,
    /// A check failed or was inconclusive (fail closed), or the planned load was not
    /// applied.
    Fail,
    /// The run ended early (signal, failed `exec`, lost target): no verdict on the target.
    Aborted,
}

/// Why and when a run ended early; saved with the run's data so a re-render says it too.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Aborted {
    /// In words a person can act on: `interrupted by SIGTERM`, `exec run `…` failed: …`.
    pub reason: String,
    /// Seconds since load start.
    pub at_s: f64,
}

impl std::fmt::Display for Aborted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (at {:.1}s)", self.reason, self.at_s)
    }
}

impl Verdict {
    /// `load_applied`: the shortfall stayed within `load.max_shortfall` — PASS means the
    /// planned load was applied, whichever checks the scenario has.
    pub fn decide(findings: &[Finding], abort: Option<&Aborted>, load_applied: bool) -> Verdict {
        if abort.is_some() {
            Verdict::Aborted
        } else if load_applied && findings.iter().all(Finding::passed) {
            Verdict::Pass
        } else {
            Verdict::Fail
        }
    }

    /// 0 pass · 1 a check failed · 3 the run could not be carried out.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Pass => 0,
            Verdict::Fail => 1,
            Verdict::Aborted => 3,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Aborted => "aborted",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::Status;

    fn finding(status: Status) -> Finding {
        Finding {
            name: "no_loss".into(),
            status,
            observed: String::new(),
            limit: String::new(),
            detail: String::new(),
            evidence: Vec::new(),
        }
    }

    #[test]
    fn decides_from_findings_and_abort() {
        use Status::*;
        let sigterm = Aborted {
            reason: "interrupted by SIGTERM".into(),
            at_s: 12.3,
        };
        // (checks, aborted, load applied) → verdict, exit code
        let table: [(&[Status], bool, bool, Verdict, u8); 9] = [
            (&[Pass, Pass], false, true, Verdict::Pass, 0),
            (&[Pass, Fail], false, true, Verdict::Fail, 1),
            (&[Pass, Inconclusive], false, true, Verdict::Fail, 1),
            (&[Pass, Pass], false, false, Verdict::Fail, 1),
            (&[Pass, Pass], true, true, Verdict::Aborted, 3),
            (&[Pass, Pass], true, false, Verdict::Aborted, 3),
            (&[Fail], true, true, Verdict::Aborted, 3),
            (&[Inconclusive], true, true, Verdict::Aborted, 3),
            (&[], true, true, Verdict::Aborted, 3),
        ];
        for (statuses, aborted, applied, want, code) in table {
            let findings: Vec<Finding> = statuses.iter().copied().map(finding).collect();
            let got = Verdict::decide(&findings, aborted.then_some(&sigterm), applied);
            assert_eq!(
                (got, got.exit_code()),
                (want, code),
                "{statuses:?} aborted {aborted} applied {applied}"
            );
        }
        assert_eq!(
            serde_json::to_string(&Verdict::Aborted).unwrap(),
            "\"aborted\""
        );
        assert_eq!(sigterm.to_string(), "interrupted by SIGTERM (at 12.3s)");
    }
}
