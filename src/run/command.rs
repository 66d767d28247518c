//! The `run` command around the orchestrator: reading the scenario (with its
//! parameters), the guardian and the runtime, the stop signals, the journal's close,
//! and the exit code of each way a run can end.

use std::path::Path;
use std::process::ExitCode;

use tokio::sync::watch;

use super::*;

/// `mailquake run FILE [--set KEY=VALUE]... [--out DIR] [--skip-preflight] [--shard I/N
/// --t0 T0 --run-id ID]`.
pub fn main(
    file: &Path,
    out: Option<&Path>,
    skip_preflight: bool,
    shard: Option<ShardSpec>,
    sets: &[String],
    live: Option<crate::live::LiveArgs>,
) -> ExitCode {
    // The resolved text (`--set`, `${NAME}`) is the one saved with the reports.
    let source = scenario::Source::read(file, sets);
    let (plan, text) = match source.and_then(|s| Ok((s.plan()?, s.text().to_owned()))) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Some(spec) = &shard {
        if let Some(late) = spec.late_at(crate::shard::now_us()) {
            eprintln!("{}", spec.late_line(late));
            shard::write_late(out, spec, &text);
            return ExitCode::from(crate::shard::LATE_EXIT);
        }
        if let Err(e) = shard::check_plan(&plan) {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    }
    for warning in &plan.safety.warnings {
        eprintln!("{warning}");
    }
    let mut plan = plan;
    plan.preflight.skip = skip_preflight;
    let out = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| default_out_dir(&plan.name));
    let reports = out.parent().filter(|p| !p.as_os_str().is_empty());
    for line in crate::heal::warnings(reports.unwrap_or(Path::new("."))) {
        eprintln!("{line}");
    }
    let token = plan
        .external_remotes
        .as_ref()
        .and_then(remotes::attach::token);
    // Held until this process exits (declared before the runtime, so dropped after it,
    // a panic included): the guardian's pipe closes only then.
    let run_id = shard
        .as_ref()
        .map_or_else(|| wiring::run_id(plan.seed), |s| s.run_id.clone());
    let protection = match crate::guardian::protect(&plan, &out, &run_id, token.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("mailquake: {e}");
            return ExitCode::from(3);
        }
    };
    let runtime = match wiring::runtime(tokio::runtime::Builder::new_multi_thread()) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mailquake: {e}");
            return ExitCode::from(3);
        }
    };
    let journal = protection.journal.clone();
    // Kept for the reports of a run that cannot start (`not_started`).
    let plan_copy = plan.clone();
    let code = match runtime.block_on(run(
        plan,
        text.clone(),
        out.clone(),
        journal,
        shard.as_ref(),
        live,
    )) {
        Ok(outcome) => ExitCode::from(outcome.exit_code()),
        Err(RunError::Late(line)) => {
            eprintln!("{line}");
            if let Some(spec) = &shard {
                shard::write_late(Some(&out), spec, &text);
            }
            ExitCode::from(crate::shard::LATE_EXIT)
        }
        Err(RunError::Invalid(e)) => {
            eprintln!("{e}");
            if shard.is_none() {
                not_started::write(&out, &plan_copy, &text, &run_id, &e);
            }
            ExitCode::from(2)
        }
        Err(RunError::Failed(e)) => {
            eprintln!("mailquake: {e}");
            if shard.is_none() {
                not_started::write(&out, &plan_copy, &text, &run_id, &e);
            }
            ExitCode::from(3)
        }
    };
    // No task may act after the guardian is let go.
    drop(runtime);
    drop(protection);
    code
}

/// Runs a plan end to end; `scenario_text` is saved with the reports; `journal` records
/// what the run puts in force outside this process. `Err` means there is no verdict
/// (exit 2 or 3). SIGINT, SIGTERM and SIGHUP abort it (see `signals`).
pub async fn run(
    plan: Plan,
    scenario_text: String,
    out_dir: PathBuf,
    journal: Option<Journal>,
    shard: Option<&ShardSpec>,
    live: Option<crate::live::LiveArgs>,
) -> Result<Outcome, RunError> {
    let (abort, in_force) = stop_on_signals("the load");
    let result = run_with_abort(
        plan,
        scenario_text,
        out_dir,
        journal.clone(),
        (abort, in_force),
        shard,
        live,
    )
    .await;
    if let Some(journal) = journal {
        close_journal(&journal).await;
    }
    result
}

/// The abort SIGINT, SIGTERM and SIGHUP fire (the first stops `what`, see `signals`),
/// and the list of what is in force that a second signal names.
pub(crate) fn stop_on_signals(what: &'static str) -> (Abort, watch::Sender<Vec<String>>) {
    let abort = Abort::new();
    let in_force = watch::Sender::new(Vec::new());
    match StopSignals::install() {
        Ok(signals) => {
            let first = {
                let abort = abort.clone();
                move |name: &str| {
                    progress::log_line(&format!("mailquake: {name} — stopping {what}, undoing every action, healing the faults, writing what was measured"));
                    abort.abort(format!("interrupted by {name}"));
                }
            };
            tokio::spawn(signals.escalate("mailquake", first, in_force.subscribe()));
        }
        Err(e) => eprintln!("mailquake: cannot listen for stop signals: {e}"),
    }
    (abort, in_force)
}

/// Marks the journal `finished` when nothing is left in force, or says what is.
pub(crate) async fn close_journal(journal: &Journal) {
    match journal.finish().await {
        Ok(still) if still.is_empty() => {}
        Ok(still) => eprintln!(
            "mailquake: still in force: {}; the guardian retries as this run exits, or undo with: mailquake heal {}",
            still.iter().map(Action::describe).collect::<Vec<_>>().join("; "),
            journal.dir().display()
        ),
        Err(e) => eprintln!("mailquake: {e}"),
    }
}
