//! `junit.xml`: one `<testcase>` per check in a `<testsuite>` named after the scenario,
//! so CI systems (GitLab, Jenkins, GitHub test reporters) show the gate like a test run.
//! A failed or inconclusive check carries `<failure message="observed (limit: …)">`
//! with the detail and the evidence as its text. A run that ended early gets one more
//! testcase, `run`, with an `<error>` saying why and when, so `errors="1"` and no CI
//! system shows it green; one whose checks all passed but whose planned load was not
//! applied gets a failing `load` testcase. Nothing time-dependent beyond the run's own figures goes in,
//! so a re-render gives the same bytes.

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::summary::Summary;
use crate::checks::{Status, Verdict};

pub const FILE: &str = "junit.xml";

pub fn render(s: &Summary) -> Result<String, String> {
    let mut suite = TestSuite::new(s.name.as_str());
    suite.set_time(std::time::Duration::from_secs_f64(s.duration_s.max(0.0)));
    suite.add_properties([
        Property::new("run_id", s.run_id.as_str()),
        Property::new("scenario", s.scenario.as_str()),
        Property::new("started", s.started.as_str()),
        Property::new("verdict", s.verdict.as_str()),
        Property::new("aborted", if s.aborted { "true" } else { "false" }),
    ]);
    if let Some(note) = s.steered_note() {
        suite.add_property(Property::new("steered", note.as_str()));
    }
    let partial = s.partial_note();
    for c in &s.checks {
        let status = match c.status {
            Status::Pass => TestCaseStatus::success(),
            Status::Fail | Status::Inconclusive => {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                st.set_message(format!("{} (limit: {})", c.observed, c.limit));
                st.set_type(if c.status == Status::Fail {
                    "fail"
                } else {
                    "inconclusive"
                });
                let mut text = c.detail.clone();
                if !c.evidence.is_empty() {
                    text.push_str(&format!("\nevidence: {}", c.evidence.join(", ")));
                }
                if let Some(note) = &partial {
                    text.push_str(&format!("\n{note}"));
                }
                st.set_description(text);
                st
            }
        };
        let mut case = TestCase::new(c.name.as_str(), status);
        case.set_classname(format!("mailquake.{}", s.name));
        // Passing checks keep their figures too: CI shows them on the test's page.
        if c.status == Status::Pass {
            let mut text = format!("{} (limit: {})\n{}", c.observed, c.limit, c.detail);
            if let Some(note) = &partial {
                text.push_str(&format!("\n{note}"));
            }
            case.set_system_out(text);
        }
        suite.add_test_case(case);
    }
    if let Some(abort) = &s.abort {
        let mut st = TestCaseStatus::non_success(NonSuccessKind::Error);
        st.set_message(format!("run aborted: {abort}"));
        st.set_type("aborted");
        st.set_description(format!(
            "The run ended early: {abort}. No verdict on the target: the checks above were judged on what was measured until then."
        ));
        let mut case = TestCase::new("run", st);
        case.set_classname(format!("mailquake.{}", s.name));
        suite.add_test_case(case);
    }
    if let (None, Some(stop)) = (&s.abort, &s.stopped_early) {
        let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
        st.set_message(stop.to_string());
        st.set_type("stopped_early");
        st.set_description(format!(
            "{stop}: {}. abort_on_fail stopped the load; the checks above were judged on what was measured until then.",
            stop.detail
        ));
        let mut case = TestCase::new("run", st);
        case.set_classname(format!("mailquake.{}", s.name));
        suite.add_test_case(case);
    }
    // Every check passed, yet the verdict is not pass: the planned load was not applied.
    // One failing testcase says so, or a CI system that counts failures shows it green.
    if s.verdict == Verdict::Fail && s.checks.iter().all(|c| c.passed) {
        let why = s
            .data
            .warning()
            .unwrap_or_else(|| "the data is incomplete".into());
        let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
        st.set_message(why.clone());
        st.set_type("incomplete");
        st.set_description(format!(
            "Every check passed on what was measured, but {why}: no pass."
        ));
        let mut case = TestCase::new("load", st);
        case.set_classname(format!("mailquake.{}", s.name));
        suite.add_test_case(case);
    }
    let mut report = Report::new("mailquake");
    report.add_test_suite(suite);
    report.to_string().map_err(|e| e.to_string())
}
