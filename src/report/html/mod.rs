//! `report.html`: one self-contained page (inline CSS and SVG, no script, no external
//! fonts or links) that opens offline. Verdict first — a big PASS/FAIL and the failing
//! checks with observed vs limit, detail and evidence — then the totals, every check,
//! the charts (each titled with the question it answers), and the tables.
//!
//! The page is a minijinja template (`page.html`) with HTML auto-escaping, so every
//! name, description and reply text from the scenario or the cluster is escaped; the
//! charts arrive as SVG that `charts::svg` escaped when drawing them.

mod diagnosis;

use minijinja::value::Serde;
use minijinja::{Environment, Value};
use serde::Serialize;

use super::charts::axes::fmt_latency;
use super::charts::{self, Section};
use super::summary::{CheckJson, Summary};
use super::JudgedRun;
use crate::checks::{fmt_count, Status};
use crate::preflight::PreflightStatus;

pub const FILE: &str = "report.html";

const PAGE: &str = include_str!("page.html");
/// The chart sections and their style, shared with the live page (`crate::live`), so
/// both show the same charts drawn by the same code.
const SECTIONS: &str = include_str!("sections.html");
pub const CHARTS_CSS: &str = include_str!("charts.css");

#[derive(Serialize)]
struct Check<'a> {
    name: &'a str,
    status: &'static str,
    observed: &'a str,
    limit: &'a str,
    detail: &'a str,
    evidence: &'a [String],
    /// The diagnosis's findings that explain it (failed isolation or drain).
    explanations: &'a [String],
}

#[derive(Serialize)]
struct Total {
    label: &'static str,
    value: String,
    /// Drawn in red: something that should be zero is not.
    bad: bool,
}

#[derive(Serialize)]
struct Domain {
    name: String,
    accepted: String,
    delivered: String,
    bounced: String,
    p50: String,
    p99: String,
    max: String,
}

#[derive(Serialize)]
struct Node {
    name: String,
    accepted: String,
    delivered: String,
}

#[derive(Serialize)]
struct Remote {
    name: String,
    connections: String,
    rcpts: String,
    messages: String,
    rejected: String,
    faults_fired: String,
    relay_denied: String,
}

#[derive(Serialize)]
struct Fault {
    subject: String,
    fault: String,
    at: String,
    #[serde(rename = "for")]
    duration: String,
    /// How often it acted; `–` when not counted (node faults, `exec`).
    fired: String,
}

#[derive(Serialize)]
struct Rejection {
    code: String,
    count: String,
}

/// Everything the template shows.
#[derive(Serialize)]
struct Page<'a> {
    name: &'a str,
    description: &'a str,
    scenario: &'a str,
    run_id: &'a str,
    started: &'a str,
    duration: String,
    verdict: &'a str,
    verdict_word: String,
    verdict_line: String,
    /// `judged on partial data (run aborted at 12.3s)` when the run ended early.
    partial: Option<String>,
    /// What the data lacks, when it does.
    data_warning: Option<String>,
    /// The routing preflight in one line; `preflight_skipped` shows it as a warning.
    preflight: Option<String>,
    preflight_skipped: bool,
    checks: &'a [Check<'a>],
    failing: Vec<&'a Check<'a>>,
    totals: Vec<Total>,
    sections: Vec<Section>,
    domains: Vec<Domain>,
    nodes: Vec<Node>,
    remotes: Vec<Remote>,
    faults: Vec<Fault>,
    rejections: Vec<Rejection>,
    foreign: u64,
    /// `252 for down.test reached `ok`` lines, empty when nothing was misrouted.
    misrouted: Vec<String>,
    /// The diagnosis: findings and the nodes' evidence (`crate::diagnose`).
    diagnosis: Option<diagnosis::DiagnosisHtml>,
    files: &'a [&'a str],
    version: &'static str,
}

/// Renders the page. `files` are the names of the folder's files, for the footer.
pub fn render(summary: &Summary, run: &JudgedRun, files: &[&str]) -> Result<String, String> {
    let checks: Vec<Check> = summary.checks.iter().map(check).collect();
    let t = &summary.totals;
    let failed = checks.iter().filter(|c| c.status != "pass").count();
    let latency = |v: Option<u32>| v.map_or("–".to_string(), fmt_latency);
    let page = Page {
        name: &summary.name,
        description: &run.plan.description,
        scenario: &summary.scenario,
        run_id: &summary.run_id,
        started: &summary.started,
        duration: seconds(summary.duration_s),
        verdict: summary.verdict.as_str(),
        verdict_word: summary.verdict.as_str().to_uppercase(),
        verdict_line: {
            let line = match &summary.abort {
                None if summary.stopped_early.is_some() => format!(
                    "{} (abort_on_fail) · {} of {} checks passed on what was measured",
                    summary.stopped_early.as_ref().expect("just matched"),
                    checks.len() - failed,
                    checks.len()
                ),
                Some(abort) => format!(
                    "{abort} · {} of {} checks passed on partial data",
                    checks.len() - failed,
                    checks.len()
                ),
                None if summary.passed() => format!("all {} checks passed", checks.len()),
                None if failed == 0 => format!(
                    "every check passed, but the data is {}",
                    summary
                        .data
                        .warning()
                        .unwrap_or_else(|| "incomplete".into())
                ),
                None => format!("{failed} of {} checks failed", checks.len()),
            };
            match summary.steered_note() {
                Some(note) => format!("{line} · {note}"),
                None => line,
            }
        },
        partial: summary.partial_note(),
        data_warning: summary.data.warning(),
        preflight: summary
            .preflight
            .as_ref()
            .filter(|p| p.status != PreflightStatus::NotNeeded)
            .map(|p| p.describe()),
        preflight_skipped: summary
            .preflight
            .as_ref()
            .is_some_and(|p| p.status == PreflightStatus::Skipped),
        checks: &checks,
        failing: checks.iter().filter(|c| c.status != "pass").collect(),
        totals: vec![
            total("submitted", t.submitted, false),
            total("accepted", t.accepted, false),
            total("not accepted", t.not_accepted, t.not_accepted > 0),
            total("delivered", t.delivered, false),
            total("bounced", t.bounced, false),
            total("outstanding", t.outstanding, t.outstanding > 0),
            total("duplicates", t.duplicates, t.duplicates > 0),
            total("shortfall", t.shortfall, t.shortfall > 0),
        ],
        sections: charts::sections(&run.chart_data()),
        domains: summary
            .domains
            .iter()
            .map(|d| Domain {
                name: d.name.clone(),
                accepted: fmt_count(d.accepted),
                delivered: fmt_count(d.delivered),
                bounced: fmt_count(d.bounced),
                p50: latency(d.latency_p50_ms),
                p99: latency(d.latency_p99_ms),
                max: latency(d.latency_max_ms),
            })
            .collect(),
        nodes: summary
            .nodes
            .iter()
            .map(|n| Node {
                name: n.name.clone(),
                accepted: fmt_count(n.accepted),
                delivered: fmt_count(n.delivered),
            })
            .collect(),
        remotes: summary
            .remotes
            .iter()
            .map(|(name, r)| Remote {
                name: name.clone(),
                connections: fmt_count(r.connections),
                rcpts: fmt_count(r.rcpts),
                messages: fmt_count(r.messages),
                rejected: fmt_count(r.rejected),
                faults_fired: fmt_count(r.faults_fired),
                relay_denied: fmt_count(r.relay_denied),
            })
            .collect(),
        faults: summary
            .faults
            .iter()
            .map(|f| Fault {
                subject: f.subject.clone(),
                fault: f.fault.clone(),
                at: seconds(f.at_s),
                duration: f.for_s.map_or("until the end".to_string(), seconds),
                fired: f.fired.map_or("–".to_string(), fmt_count),
            })
            .collect(),
        rejections: summary
            .submit_rejections
            .iter()
            .map(|(code, n)| Rejection {
                code: if *code == 0 {
                    "no reply (refused, timed out or closed)".to_string()
                } else {
                    code.to_string()
                },
                count: fmt_count(*n),
            })
            .collect(),
        foreign: summary.foreign,
        misrouted: summary
            .misrouted
            .iter()
            .map(|m| {
                format!(
                    "{} for {} reached `{}`",
                    fmt_count(m.messages),
                    m.domain,
                    m.remote
                )
            })
            .collect(),
        diagnosis: summary
            .diagnosis
            .as_ref()
            .map(diagnosis::DiagnosisHtml::new),
        files,
        version: env!("CARGO_PKG_VERSION"),
    };
    render_template("report.html", &page)
}

/// The chart sections as HTML (the `<section>`s of report.html), for the live page.
pub fn sections_fragment(sections: &[Section]) -> Result<String, String> {
    #[derive(Serialize)]
    struct Fragment<'a> {
        sections: &'a [Section],
    }
    render_template("sections.html", &Fragment { sections })
}

fn render_template(name: &str, data: &impl Serialize) -> Result<String, String> {
    let mut env = Environment::new();
    // The `.html` names turn on HTML auto-escaping for every value.
    for (name, text) in [
        ("report.html", PAGE),
        ("sections.html", SECTIONS),
        ("charts.css", CHARTS_CSS),
    ] {
        env.add_template(name, text)
            .map_err(|e| format!("template: {e}"))?;
    }
    env.get_template(name)
        .and_then(|t| t.render(Value::from(Serde(data))))
        .map_err(|e| format!("template: {e}"))
}

fn check(c: &CheckJson) -> Check<'_> {
    Check {
        name: &c.name,
        status: match c.status {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Inconclusive => "inconclusive",
        },
        observed: &c.observed,
        limit: &c.limit,
        detail: &c.detail,
        evidence: &c.evidence,
        explanations: &c.explanations,
    }
}

fn total(label: &'static str, n: u64, bad: bool) -> Total {
    Total {
        label,
        value: fmt_count(n),
        bad,
    }
}

/// `40.0 s`.
fn seconds(s: f64) -> String {
    format!("{s:.1} s")
}
