//! What a capacity search reports: `capacity.json` (the sustained rate, the criteria,
//! every step's evidence), the terminal table, and `capacity.html` (the verdict line,
//! the charts of latency and backlog by rate, the table, links to each step's folder).
//! Rendering only: the search and the steps decide.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::search::Stop;
use super::step::{pct, StepResult};
use crate::report::charts::svg::esc;
use crate::scenario::capacity::fmt_rate;
use crate::scenario::CapacitySpec;

pub const JSON_FILE: &str = "capacity.json";
pub const HTML_FILE: &str = "capacity.html";
/// 1: the first.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub struct CapacityReport {
    pub schema_version: u32,
    pub name: String,
    pub scenario: String,
    /// Search start, RFC 3339 UTC.
    pub started: String,
    /// The highest rate sustained (messages/s); `null` when none was.
    pub sustained_rate: Option<f64>,
    /// The lowest rate not sustained; `null` when none failed.
    pub failed_rate: Option<f64>,
    /// Why the search ended; `null` when it was aborted.
    pub stop: Option<Stop>,
    /// Why the search was cut short (a signal, a step that could not run).
    pub aborted: Option<String>,
    pub criteria: Criteria,
    /// Faults in force at offset 0, held through every step.
    pub faults_held: Vec<String>,
    /// Faults of the timeline a step does not apply (they start later).
    pub faults_not_applied: Vec<String>,
    pub steps: Vec<StepJson>,
}

/// The search's settings and criteria, as figures.
#[derive(Debug, Serialize)]
pub struct Criteria {
    pub start: f64,
    pub max_rate: f64,
    pub step_s: f64,
    pub settle_s: f64,
    pub max_steps: u32,
    pub resolution: f64,
    pub acceptance: f64,
    pub submit_p99_ms: u64,
    pub keep_up: f64,
}

impl From<&CapacitySpec> for Criteria {
    fn from(s: &CapacitySpec) -> Self {
        Criteria {
            start: s.start,
            max_rate: s.max_rate,
            step_s: s.step.as_secs_f64(),
            settle_s: s.settle.as_secs_f64(),
            max_steps: s.max_steps,
            resolution: s.resolution,
            acceptance: s.acceptance,
            submit_p99_ms: s.submit_p99.as_millis() as u64,
            keep_up: s.keep_up,
        }
    }
}

/// One step: its folder (a full run's output) and what it measured.
#[derive(Debug, Serialize)]
pub struct StepJson {
    /// Relative to the search's folder.
    pub dir: String,
    #[serde(flatten)]
    pub result: StepResult,
}

impl CapacityReport {
    /// 0 a sustained rate was found · 1 not even the first rate was sustained · 3 the
    /// search was cut short.
    pub fn exit_code(&self) -> u8 {
        if self.aborted.is_some() {
            3
        } else if self.sustained_rate.is_none() {
            1
        } else {
            0
        }
    }

    /// The one-line answer.
    pub fn headline(&self) -> String {
        let failed = self
            .steps
            .iter()
            .find(|s| Some(s.result.rate) == self.failed_rate);
        let why = failed
            .map(|s| {
                format!(
                    " ({}/s was not: {})",
                    fmt_rate(s.result.rate),
                    s.result.missed.join("; ")
                )
            })
            .unwrap_or_default();
        let found = match (self.sustained_rate, self.stop) {
            (_, None) => "search aborted".to_string(),
            (Some(r), Some(Stop::MaxRate)) => {
                format!(
                    "sustained the max rate {}/s: the capacity is at least that",
                    fmt_rate(r)
                )
            }
            (Some(r), Some(Stop::MaxSteps)) => format!(
                "{}/s sustained{why} — max_steps reached before the {} resolution",
                fmt_rate(r),
                pct(self.criteria.resolution)
            ),
            (Some(r), _) => format!(
                "{}/s sustained{why}, within {}",
                fmt_rate(r),
                pct(self.criteria.resolution)
            ),
            (None, _) => format!("no rate sustained{why}: lower capacity.start"),
        };
        match &self.aborted {
            Some(reason) => format!("capacity: {found}: {reason}"),
            None => format!("capacity: {found}"),
        }
    }

    /// The terminal table, one row a step, then the headline.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:>4} {:>9} {:>9} {:>11} {:>11} {:>12} {:>8} {:>15} {:>6}  sustained",
            "step",
            "rate/s",
            "accepted",
            "submit p99",
            "accepted/s",
            "delivered/s",
            "keep-up",
            "backlog mid→end",
            "left"
        );
        for (i, s) in self.steps.iter().enumerate() {
            let [rate, acc, p99, a_s, d_s, keep, backlog, left, sustained] = cells(&s.result);
            let _ = writeln!(
                out,
                "{:>4} {rate:>9} {acc:>9} {p99:>11} {a_s:>11} {d_s:>12} {keep:>8} {backlog:>15} {left:>6}  {sustained}",
                i + 1
            );
        }
        out.push_str(&self.headline());
        out.push('\n');
        out
    }

    /// `capacity.html`: self-contained, opens offline.
    pub fn html(&self) -> String {
        let limit_ms = self.criteria.submit_p99_ms.min(u64::from(u32::MAX)) as u32;
        let results: Vec<StepResult> = self.steps.iter().map(|s| s.result.clone()).collect();
        let [latency, backlog] = super::chart::charts(&results, self.sustained_rate, limit_ms);
        let class = match self.exit_code() {
            0 => "pass",
            1 => "fail",
            _ => "aborted",
        };
        let c = &self.criteria;
        let mut rows = String::new();
        for (i, s) in self.steps.iter().enumerate() {
            let _ = write!(rows, "<tr><td class=num>{}</td>", i + 1);
            let [cells @ .., sustained] = cells(&s.result);
            for cell in cells {
                let _ = write!(rows, "<td class=num>{}</td>", esc(&cell));
            }
            let _ = write!(
                rows,
                "<td>{}</td><td><a href=\"{dir}/report.html\">{dir}</a></td></tr>",
                esc(&sustained),
                dir = esc(&s.dir),
            );
        }
        let faults = if self.faults_held.is_empty() && self.faults_not_applied.is_empty() {
            "No faults".to_string()
        } else {
            format!(
                "Faults held through every step: {} · not applied (they start later): {}",
                esc(&or_none(&self.faults_held)),
                esc(&or_none(&self.faults_not_applied))
            )
        };
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>capacity · {name} · mailquake</title><style>{STYLE}</style></head><body><main>\
<div class=\"verdict {class}\"><div><h1>{headline}</h1><div class=meta>{name} · {scenario} · started {started}</div></div></div>\
<div class=card><h2>How much can it take?</h2><p class=explain>Each step offers one constant rate for {step}s (then waits up to {settle}s for mail in flight). A step is sustained when at least {acc} of its messages were accepted, their p99 submit latency (intended send → accepted) was at most {p99} ms, and over the second half of its load the cluster delivered at least {keep} of what it accepted (its queues did not grow). The search doubles the rate from {start}/s until a step fails (at most {max}/s), then bisects until the two rates are within {res}; at most {steps} steps. {faults}.</p>\
<div class=grid2>{latency}{backlog}</div></div>\
<div class=card><h2>Steps</h2><table><tr><th class=num>step</th><th class=num>rate/s</th><th class=num>accepted</th><th class=num>submit p99</th><th class=num>accepted/s</th><th class=num>delivered/s</th><th class=num>keep-up</th><th class=num>backlog mid → end</th><th class=num>left</th><th>sustained</th><th>run</th></tr>{rows}</table>\
<p class=explain>accepted/s and delivered/s: over the second half of the step's load. Backlog: accepted and not yet delivered at the middle and at the end of the load; left: still undelivered when the step's settle ended. Each step's folder is a full run's output.</p></div>\
</main></body></html>\n",
            name = esc(&self.name),
            headline = esc(&self.headline()),
            scenario = esc(&self.scenario),
            started = esc(&self.started),
            step = c.step_s,
            settle = c.settle_s,
            acc = pct(c.acceptance),
            p99 = c.submit_p99_ms,
            keep = pct(c.keep_up),
            start = fmt_rate(c.start),
            max = fmt_rate(c.max_rate),
            res = pct(c.resolution),
            steps = c.max_steps,
        )
    }

    /// Writes `capacity.json` and `capacity.html` into `dir`; `Err` names the file.
    pub fn write(&self, dir: &Path) -> Result<(), String> {
        let json = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        for (file, text) in [(JSON_FILE, json + "\n"), (HTML_FILE, self.html())] {
            let path = dir.join(file);
            std::fs::write(&path, text)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        Ok(())
    }
}

/// A step's row as both the terminal and the page show it: rate, acceptance, submit
/// p99, accepted/s, delivered/s, keep-up, backlog mid → end, left, sustained.
fn cells(r: &StepResult) -> [String; 9] {
    [
        fmt_rate(r.rate),
        pct(r.acceptance),
        r.submit_p99_ms.map_or("-".into(), |v| format!("{v} ms")),
        format!("{:.1}", r.accepted_per_s),
        format!("{:.1}", r.delivered_per_s),
        r.keep_up.map_or("-".into(), pct),
        format!("{} → {}", r.backlog_mid, r.backlog_end),
        r.left_after_settle.to_string(),
        if r.sustained {
            "yes".to_string()
        } else {
            format!("no: {}", r.missed.join("; "))
        },
    ]
}

fn or_none(list: &[String]) -> String {
    if list.is_empty() {
        "none".into()
    } else {
        list.join(", ")
    }
}

const STYLE: &str = "body{margin:0;background:#f6f7f9;color:#1f2a36;font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif}\
main{max-width:1120px;margin:0 auto;padding:24px 28px 48px}h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:0 0 4px}\
.verdict{padding:20px 24px;border-radius:10px;color:#fff}.verdict.pass{background:#1e8449}.verdict.fail{background:#c0392b}.verdict.aborted{background:#a04000}.verdict h1{color:#fff}.meta{opacity:.9;font-size:13.5px}\
.card{background:#fff;border:1px solid #dfe3e8;border-radius:10px;padding:18px 22px;margin-top:18px}.explain{color:#5d6b7a;font-size:14px}\
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:4px 18px}@media (max-width:900px){.grid2{grid-template-columns:1fr}}\
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #dfe3e8}th{font-size:12.5px;text-transform:uppercase;color:#5d6b7a}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}\
svg.chart{width:100%;height:auto;display:block}svg.chart text{font-family:system-ui,sans-serif;fill:#3d4a57}svg.chart .tick{font-size:11.5px;fill:#5d6b7a}svg.chart .axis-title{font-size:11.5px;fill:#7b8794}svg.chart .legend{font-size:12.5px}";
