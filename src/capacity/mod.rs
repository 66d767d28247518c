//! `mailquake capacity FILE`: the highest rate the cluster sustains under the
//! scenario's conditions. Each step is a short run of the scenario at one constant rate
//! (`crate::run::run_with_abort`: the same remotes, target, generator and collector a
//! run uses; its folder under `steps/` is a full run's output), judged from its ledger
//! ([`step`]); the rates come from [`search`] (ramp by doubling, then bisect). Faults
//! in force at offset 0 are held through every step; later ones are not applied. The
//! target is the scenario's: an external cluster is the same cluster every step (each
//! step's settle lets it drain first); the embedded cluster and in-process remotes are
//! started afresh for each step. Remotes served elsewhere are not supported.
//!
//! Exit codes: 0 a sustained rate was found · 1 not even the first rate was sustained ·
//! 2 invalid scenario or command line · 3 the search could not be carried out or was
//! aborted (what was measured is still reported).

mod chart;
mod report;
pub mod search;
pub mod step;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use tokio::sync::watch;

pub use report::{CapacityReport, HTML_FILE, JSON_FILE};
use report::{Criteria, StepJson};
use search::Search;

use crate::abort::Abort;
use crate::journal::Journal;
use crate::run::{self, RunError};
use crate::scenario::capacity::{fmt_rate, safety_caps};
use crate::scenario::{self, units, Plan};

/// `mailquake capacity`'s command line (flattened into `cli::Command::Capacity`): the
/// overrides of `capacity:`.
#[derive(Debug, Default, clap::Args)]
pub struct CapacityArgs {
    /// The scenario file (YAML, see scenarios/README.md, `capacity:`).
    pub file: PathBuf,
    /// Output folder (default: reports/<name>-capacity-<UTC time>/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The first step's rate, e.g. 20/s (overrides `capacity.start`).
    #[arg(long, value_name = "RATE")]
    pub start: Option<String>,
    /// No step above this rate, e.g. 500/s (overrides `capacity.max_rate`).
    #[arg(long, value_name = "RATE")]
    pub max_rate: Option<String>,
    /// Each step's load, e.g. 10s (overrides `capacity.step`).
    #[arg(long, value_name = "DURATION")]
    pub step: Option<String>,
    /// Most steps in the search (overrides `capacity.max_steps`).
    #[arg(long, value_name = "N")]
    pub max_steps: Option<u32>,
    /// Do not send the routing preflight's canaries before the first step (see `run`).
    #[arg(long)]
    pub skip_preflight: bool,
}

/// Runs the search and writes its reports; the exit code (module docs).
pub fn main(args: &CapacityArgs) -> ExitCode {
    let file = &args.file;
    let loaded = scenario::read(file).and_then(|t| Ok((scenario::parse(&t, file)?, t)));
    let (mut plan, text) = match loaded {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = prepare(&mut plan, args) {
        eprintln!("{e}");
        return ExitCode::from(2);
    }
    for warning in &plan.safety.warnings {
        eprintln!("{warning}");
    }
    let out = args.out.clone().unwrap_or_else(|| {
        let dir = run::default_out_dir(&plan.name);
        let name = dir.file_name().unwrap_or_default().to_string_lossy();
        dir.with_file_name(name.replacen(&plan.name, &format!("{}-capacity", plan.name), 1))
    });
    if let Err(e) = crate::out_dir::prepare(&out) {
        eprintln!("mailquake: {e}");
        return ExitCode::from(3);
    }
    // One guardian for the whole search: it heals from the folder's journal, where each
    // step writes its own header (`Journal::create` continues the file).
    let first_id = run::wiring::run_id(plan.seed);
    let token = plan
        .external_remotes
        .as_ref()
        .and_then(crate::remotes::attach::token);
    let held = step::plan(&plan, plan.capacity.start, true);
    let protection = match crate::guardian::protect(&held, &out, &first_id, token.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("mailquake: {e}");
            return ExitCode::from(3);
        }
    };
    let runtime = match run::wiring::runtime(tokio::runtime::Builder::new_multi_thread()) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mailquake: {e}");
            return ExitCode::from(3);
        }
    };
    let journals = Journals {
        first: protection.journal.clone(),
        guardian: protection.guardian.as_ref().map(|g| g.pid),
        out: out.clone(),
    };
    let report = runtime.block_on(search(&plan, &text, &out, journals));
    print!("{}", report.table());
    let code = match report.write(&out) {
        Ok(()) => {
            eprintln!(
                "mailquake: capacity report: {}",
                out.join(HTML_FILE).display()
            );
            report.exit_code()
        }
        Err(e) => {
            eprintln!("mailquake: {e}");
            3
        }
    };
    // No task may act after the guardian is let go.
    drop(runtime);
    drop(protection);
    ExitCode::from(code)
}

/// Checks what the search needs of the plan and applies the command line's overrides;
/// `Err` is one line naming the file and key, or the flag.
pub fn prepare(plan: &mut Plan, args: &CapacityArgs) -> Result<(), String> {
    let file = plan.source.display().to_string();
    if plan.external_remotes.is_some() {
        return Err(format!(
            "{file}: remotes: the capacity search serves its remotes itself; remotes served elsewhere (external) are not supported"
        ));
    }
    if plan.load.model == scenario::LoadModel::Closed {
        return Err(format!(
            "{file}: load.model: the capacity search needs the open model (remove load.model: closed)"
        ));
    }
    fn flag(name: &'static str) -> impl Fn(String) -> String {
        move |m| format!("mailquake: {name}: {m}")
    }
    let spec = &mut plan.capacity;
    if let Some(t) = &args.start {
        spec.start = units::parse_rate(t).map_err(flag("--start"))?;
    }
    if let Some(t) = &args.max_rate {
        spec.max_rate = units::parse_rate(t).map_err(flag("--max-rate"))?;
    }
    if let Some(t) = &args.step {
        spec.step =
            units::parse_duration(t, scenario::capacity::MAX_STEP).map_err(flag("--step"))?;
    }
    if let Some(n) = args.max_steps {
        spec.max_steps = n;
    }
    plan.preflight.skip = args.skip_preflight;
    let caps = safety_caps(&plan.target, &plan.safety);
    plan.capacity.check(caps).map_err(|(key, m)| {
        let given = match key {
            "start" => args.start.is_some(),
            "max_rate" => args.max_rate.is_some(),
            "step" => args.step.is_some(),
            "max_steps" => args.max_steps.is_some(),
            _ => false,
        };
        if given {
            format!("mailquake: --{}: {m}", key.replace('_', "-"))
        } else {
            format!("{file}: capacity.{key}: {m}")
        }
    })
}

/// Where each step's actions are journaled (only when the plan can put something in
/// force outside this process).
struct Journals {
    first: Option<Journal>,
    guardian: Option<u32>,
    out: PathBuf,
}

impl Journals {
    /// The journal of step `index` (1-based), under a run id of its own.
    fn for_step(&mut self, index: usize, seed: u64) -> Result<Option<Journal>, String> {
        if index == 1 || self.first.is_none() {
            return Ok(self.first.clone());
        }
        let cwd = std::env::current_dir().unwrap_or_default();
        let id = run::wiring::run_id(seed.wrapping_add(index as u64));
        Journal::create(&self.out, &id, self.guardian, cwd).map(Some)
    }
}

/// The search: steps until [`Search`] stops, the abort fires or a step cannot run.
async fn search(plan: &Plan, text: &str, out: &Path, mut journals: Journals) -> CapacityReport {
    let spec = &plan.capacity;
    let (abort, in_force) = run::stop_on_signals("the capacity search");
    let later = step::later_faults(plan);
    if !later.is_empty() {
        eprintln!(
            "mailquake: capacity: faults after offset 0 are not applied: {}",
            later.join(", ")
        );
    }
    let held = step::plan(plan, spec.start, false)
        .faults
        .iter()
        .map(|f| format!("{} {}", f.subject.kind(), f.subject.target()))
        .collect();
    let mut report = CapacityReport {
        schema_version: report::SCHEMA_VERSION,
        name: plan.name.clone(),
        scenario: plan.source.display().to_string(),
        started: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        sustained_rate: None,
        failed_rate: None,
        stop: None,
        aborted: None,
        criteria: Criteria::from(spec),
        faults_held: held,
        faults_not_applied: later,
        steps: Vec::new(),
    };
    let mut search = Search::new(spec);
    loop {
        let rate = match search.next() {
            Ok(rate) => rate,
            Err(stop) => {
                report.stop = Some(stop);
                break;
            }
        };
        let index = report.steps.len() + 1;
        let rel = format!("steps/{index:02}-{}", fmt_rate(rate));
        eprintln!(
            "mailquake: capacity step {index}: {}/s for {}",
            fmt_rate(rate),
            humantime::format_duration(spec.step)
        );
        let outcome = match run_step(
            plan,
            text,
            out,
            &rel,
            rate,
            index,
            &mut journals,
            &abort,
            &in_force,
        )
        .await
        {
            Ok(outcome) => outcome,
            Err(e) => {
                report.aborted = Some(format!("step {index} ({}/s): {e}", fmt_rate(rate)));
                break;
            }
        };
        let (result, step_abort) = outcome;
        eprintln!(
            "mailquake: capacity step {index}: {}/s {}",
            fmt_rate(rate),
            if result.sustained {
                "sustained".to_string()
            } else {
                format!("not sustained: {}", result.missed.join("; "))
            }
        );
        report.steps.push(StepJson {
            dir: rel,
            result: result.clone(),
        });
        if let Some(reason) = step_abort {
            report.aborted = Some(format!(
                "step {index} ({}/s) was aborted: {reason}",
                fmt_rate(rate)
            ));
            break;
        }
        search.record(rate, result.sustained);
        report.sustained_rate = search.sustained;
        report.failed_rate = search.failed;
    }
    if report.aborted.is_some() {
        report.stop = None;
    }
    report
}

/// Runs one step and judges it from its saved ledger; `Err`: the step gave nothing to
/// judge (one line). The second value says why the step was cut short, if it was.
#[allow(clippy::too_many_arguments)] // one step's inputs, each used once
async fn run_step(
    plan: &Plan,
    text: &str,
    out: &Path,
    rel: &str,
    rate: f64,
    index: usize,
    journals: &mut Journals,
    abort: &Abort,
    in_force: &watch::Sender<Vec<String>>,
) -> Result<(step::StepResult, Option<String>), String> {
    let dir = out.join(rel);
    let journal = journals.for_step(index, plan.seed)?;
    let result = run::run_with_abort(
        step::plan(plan, rate, index == 1),
        text.to_string(),
        dir.clone(),
        journal.clone(),
        (abort.clone(), in_force.clone()),
        None,
        None,
    )
    .await;
    if let Some(journal) = &journal {
        run::close_journal(journal).await;
    }
    let outcome = result.map_err(|e| match e {
        RunError::Invalid(m) | RunError::Failed(m) | RunError::Late(m) => m,
    })?;
    if outcome.unwritten {
        return Err(format!(
            "its output could not be written in {}",
            dir.display()
        ));
    }
    let saved = crate::report::saved::load(&dir).map_err(|e| e.to_string())?;
    let result = step::judge(&saved.ledger, rate, plan.capacity.step, &plan.capacity);
    Ok((result, saved.abort.map(|a| a.reason)))
}
