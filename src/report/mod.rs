//! Rendering only: every file of a run's output folder and what the terminal shows.
//! Reports take a judged run (plan, ledger, findings) and decide nothing; `run.rs`
//! judges and calls them.
//!
//! The folder (schema in `reports/README.md`): the saved data a re-render starts from
//! (`scenario.yaml`, `ledger.bin`, and `phases.csv` / `queue_depth.csv` when a run has
//! them: [`saved`], [`samples`]) and the reports (`summary.json`, `junit.xml`,
//! `report.html`, `timeseries.csv`). Every file is written on its own: one that fails
//! is named and the others are still written.

pub mod charts;
pub mod csv;
pub mod html;
pub mod junit;
pub mod load;
pub mod progress;
pub mod samples;
pub mod saved;
pub mod series;
pub mod summary;
pub mod terminal;
mod terminal_health;
pub mod timeseries;

use std::path::Path;

pub use samples::Samples;
pub use summary::Summary;

use crate::checks::{Aborted, DataCompleteness, Finding};
use crate::collector::{attempts, Ledger, Progress};
use crate::scenario::Plan;

/// A run and its judgement: what every report renders.
#[derive(Debug)]
pub struct JudgedRun {
    pub plan: Plan,
    /// The scenario file's text, saved byte for byte for re-rendering.
    pub scenario_text: String,
    pub ledger: Ledger,
    /// The collector's running totals when measurement stopped.
    pub totals: Progress,
    pub findings: Vec<Finding>,
    /// Why and when the run ended early (a signal, a failed `exec`); `None` if it did not.
    pub abort: Option<Aborted>,
    pub samples: Samples,
    /// The generator's measurements and the harness's problems.
    pub load: LoadSection,
}

impl JudgedRun {
    /// What the report's charts are drawn from.
    pub fn chart_data(&self) -> charts::ChartData<'_> {
        charts::ChartData {
            plan: &self.plan,
            ledger: &self.ledger,
            samples: &self.samples,
        }
    }
}

/// What a run measured besides the ledger, as `summary.json` shows it: the generator's
/// `load` section and `submit_replies`, the terminal's phase table, the harness's own
/// problems (a failed `exec`) and what the data lacks. Saved as `run.json` so a re-render
/// shows them again and judges the same.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LoadSection {
    pub load: serde_json::Value,
    pub submit_replies: serde_json::Value,
    /// The per-phase table printed under the totals.
    pub table: String,
    pub problems: Vec<String>,
    /// Remote events lost, probe samples missed, shortfall: the checks judge with it.
    /// (Folders written before it existed read as complete.)
    #[serde(default)]
    pub data: DataCompleteness,
    /// The routing preflight (absent in runs saved before it existed).
    #[serde(default)]
    pub preflight: Option<crate::preflight::PreflightReport>,
    /// The remotes an attached run found served elsewhere (the saved scenario names
    /// only their API): `report` judges again against them. Empty otherwise, and in
    /// runs saved before it existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub served_remotes: Vec<ServedRemote>,
    /// A merged run: its shards (absent otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<ShardJson>,
    /// What the nodes showed at the end of the run, for the explanation of a failure
    /// (`crate::diagnose`); absent without probes or embedded nodes, and in older runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<crate::diagnose::Evidence>,
}

/// One remote served elsewhere, as an attached run saw it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServedRemote {
    pub name: String,
    pub domains: Vec<String>,
    pub listen: std::net::SocketAddr,
}

/// `summary.json` → `shards[]`: one shard of a merged run and what it sent.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ShardJson {
    pub index: u64,
    pub count: u64,
    /// Its output folder, as given to the merge.
    pub dir: String,
    /// `complete` or `incomplete` (its manifest's word).
    pub status: String,
    pub submitted: u64,
    pub accepted: u64,
    pub delivered: u64,
    pub bounced: u64,
}

impl LoadSection {
    pub fn new(
        load: load::LoadJson,
        replies: load::RepliesJson,
        problems: Vec<String>,
        data: DataCompleteness,
    ) -> Self {
        LoadSection {
            table: load::render(&load, &replies),
            load: serde_json::to_value(&load).unwrap_or_default(),
            submit_replies: serde_json::to_value(&replies).unwrap_or_default(),
            problems,
            data,
            preflight: None,
            served_remotes: Vec::new(),
            shards: Vec::new(),
            evidence: None,
        }
    }

    /// Keeps the nodes' evidence (`crate::diagnose`), if any was collected.
    pub fn with_evidence(self, evidence: Option<crate::diagnose::Evidence>) -> Self {
        LoadSection { evidence, ..self }
    }

    pub fn with_preflight(self, preflight: crate::preflight::PreflightReport) -> Self {
        LoadSection {
            preflight: Some(preflight),
            ..self
        }
    }

    /// Keeps the remotes of `plan` when they are served elsewhere (see `served_remotes`).
    pub fn with_served_remotes(self, plan: &crate::scenario::Plan) -> Self {
        if plan.external_remotes.is_none() {
            return self;
        }
        let served_remotes = plan
            .remotes
            .iter()
            .map(|r| ServedRemote {
                name: r.name.clone(),
                domains: r.domains.clone(),
                listen: r.listen,
            })
            .collect();
        LoadSection {
            served_remotes,
            ..self
        }
    }
}

/// A file of the folder that could not be written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteFailure {
    pub file: String,
    pub error: String,
}

/// What writing a folder did.
#[derive(Debug)]
pub struct Written {
    pub summary: Summary,
    /// Names of the files written, in writing order.
    pub files: Vec<String>,
    pub failed: Vec<WriteFailure>,
}

impl Written {
    /// One line naming what could not be written, if anything.
    pub fn failure_line(&self, dir: &Path) -> Option<String> {
        if self.failed.is_empty() {
            return None;
        }
        let first = &self.failed[0].error;
        if self.files.is_empty() && self.failed.iter().all(|f| &f.error == first) {
            return Some(format!(
                "could not write any file in {} ({first})",
                dir.display()
            ));
        }
        let what: Vec<String> = self
            .failed
            .iter()
            .map(|f| format!("{} ({})", f.file, f.error))
            .collect();
        let others = if self.files.is_empty() {
            ""
        } else {
            "; the other files were written"
        };
        Some(format!(
            "could not write {} in {}{others}",
            what.join(", "),
            dir.display()
        ))
    }
}

/// The report files, in the order they are written.
pub const REPORT_FILES: [&str; 4] = [summary::FILE, junit::FILE, timeseries::FILE, html::FILE];

/// Files written and files that failed, as writing goes; `observer` hears of each file
/// written as soon as it is.
#[derive(Default)]
struct Tally<'a> {
    files: Vec<String>,
    failed: Vec<WriteFailure>,
    observer: Option<&'a dyn Fn(&str)>,
}

impl Tally<'_> {
    fn record(&mut self, name: &str, result: Result<(), String>) {
        match result {
            Ok(()) => {
                if let Some(observer) = self.observer {
                    observer(name);
                }
                self.files.push(name.to_string())
            }
            Err(error) => self.failed.push(WriteFailure {
                file: name.to_string(),
                error,
            }),
        }
    }
}

/// Writes the saved data and every report into `dir` (after a run).
pub fn write_run(dir: &Path, run: &JudgedRun) -> Written {
    let mut tally = Tally::default();
    saved_into(dir, run, &mut tally);
    let summary = reports_into(dir, run, &mut tally);
    Written {
        summary,
        files: tally.files,
        failed: tally.failed,
    }
}

/// Writes the saved data alone into `dir` (a shard's folder: its verdict is the merge's).
/// The summary is computed, not written.
pub fn write_saved(dir: &Path, run: &JudgedRun) -> Written {
    let mut tally = Tally::default();
    saved_into(dir, run, &mut tally);
    Written {
        summary: Summary::new(
            &run.plan,
            &run.ledger,
            run.totals,
            &run.findings,
            &run.load,
            run.abort.as_ref(),
        ),
        files: tally.files,
        failed: tally.failed,
    }
}

/// The data a re-render (or a merge) starts from: scenario, ledger, attempts, samples,
/// `run.json`.
fn saved_into(dir: &Path, run: &JudgedRun, tally: &mut Tally) {
    tally.record(
        saved::SCENARIO_FILE,
        write(dir, saved::SCENARIO_FILE, Ok(run.scenario_text.clone())),
    );
    tally.record(
        saved::LEDGER_FILE,
        saved::write_ledger(
            &dir.join(saved::LEDGER_FILE),
            &run.ledger,
            run.totals,
            &run.plan.source,
            run.abort.as_ref(),
        )
        .map_err(|e| e.to_string()),
    );
    tally.record(
        attempts::FILE,
        run.ledger
            .attempts
            .write(&dir.join(attempts::FILE), &run.ledger.run_id)
            .map_err(|e| e.to_string()),
    );
    for (name, text) in run.samples.files() {
        tally.record(name, write(dir, name, Ok(text)));
    }
    let load = serde_json::to_string_pretty(&run.load)
        .map(|j| j + "\n")
        .map_err(|e| e.to_string());
    tally.record(saved::RUN_FILE, write(dir, saved::RUN_FILE, load));
}

/// Writes every report into `dir` from a judged run (re-rendering a saved run).
pub fn write_reports(dir: &Path, run: &JudgedRun) -> Written {
    write_reports_observed(dir, run, &|_| {})
}

/// [`write_reports`], calling `written` with each file's name once it is written (so a
/// signal can say which were not).
pub fn write_reports_observed(dir: &Path, run: &JudgedRun, written: &dyn Fn(&str)) -> Written {
    let mut tally = Tally {
        observer: Some(written),
        ..Default::default()
    };
    let summary = reports_into(dir, run, &mut tally);
    Written {
        summary,
        files: tally.files,
        failed: tally.failed,
    }
}

fn reports_into(dir: &Path, run: &JudgedRun, tally: &mut Tally) -> Summary {
    let summary = Summary::new(
        &run.plan,
        &run.ledger,
        run.totals,
        &run.findings,
        &run.load,
        run.abort.as_ref(),
    );
    let json = serde_json::to_string_pretty(&summary)
        .map(|j| j + "\n")
        .map_err(|e| e.to_string());
    tally.record(summary::FILE, write(dir, summary::FILE, json));
    tally.record(
        junit::FILE,
        write(dir, junit::FILE, junit::render(&summary)),
    );
    tally.record(
        timeseries::FILE,
        write(dir, timeseries::FILE, Ok(timeseries::render(run))),
    );
    // The page lists the folder's files (it is written last, so name what will be there).
    let mut listed: Vec<&str> = vec![saved::SCENARIO_FILE, saved::LEDGER_FILE, saved::RUN_FILE];
    // Written by the run only (folders from before it have none).
    if dir.join(attempts::FILE).is_file() {
        listed.push(attempts::FILE);
    }
    listed.extend(run.samples.files().iter().map(|(name, _)| *name));
    listed.extend(REPORT_FILES);
    tally.record(
        html::FILE,
        write(dir, html::FILE, html::render(&summary, run, &listed)),
    );
    summary
}

/// Writes one file; `contents` is `Err` when rendering it failed.
fn write(dir: &Path, name: &str, contents: Result<String, String>) -> Result<(), String> {
    let text = contents?;
    std::fs::write(dir.join(name), text).map_err(|e| e.to_string())
}
