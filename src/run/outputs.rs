//! The end of a judged run: the terminal summary and one line for whatever could not be
//! written (and where it was rescued), and `mailquake report DIR`, which judges a saved
//! run again and rewrites its reports.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::Outcome;
use crate::checks;
use crate::out_dir::Rescue;
use crate::report::{saved, terminal, JudgedRun, Written};

/// Prints the terminal summary and says (one line) what could not be written, and where
/// it went instead if it was rescued.
pub(crate) fn finish(written: Written, out_dir: PathBuf, rescued: Option<Rescue>) -> Outcome {
    print!(
        "{}",
        terminal::render(
            &written.summary,
            &out_dir.display().to_string(),
            &written.files,
            &written.failed,
            std::io::stdout().is_terminal(),
        )
    );
    if let Some(line) = written.failure_line(&out_dir) {
        match rescued {
            Some(rescue) => eprintln!("mailquake: {line}; {}", rescue.describe()),
            None => eprintln!("mailquake: {line}"),
        }
    }
    Outcome {
        unwritten: !written.failed.is_empty(),
        summary: written.summary,
        out_dir,
        shard_complete: None,
    }
}

/// `mailquake report DIR`: judges a finished run again from the data saved in its
/// folder and rewrites every report. Exit 0 · 2 unreadable folder or data · 3 a report
/// could not be written, or a stop signal came first (it says which were not written).
pub fn report_main(dir: &Path) -> ExitCode {
    let (written_tx, written_rx) = std::sync::mpsc::channel::<String>();
    crate::signals::exit_on_signal_naming_unwritten(dir, written_rx);
    let saved = match saved::load(dir) {
        Ok(saved) => saved,
        Err(e) => {
            eprintln!("mailquake: {e}");
            return ExitCode::from(2);
        }
    };
    let findings = checks::judge(&saved.plan, &saved.ledger, &saved.load.data);
    let judged = JudgedRun {
        plan: saved.plan,
        scenario_text: saved.scenario_text,
        ledger: saved.ledger,
        totals: saved.totals,
        findings,
        abort: saved.abort,
        samples: saved.samples,
        load: saved.load,
    };
    // The saved data stays in `dir`: a report that fails there loses nothing.
    let outcome = finish(
        crate::report::write_reports_observed(dir, &judged, &|file| {
            let _ = written_tx.send(file.to_string());
        }),
        dir.to_path_buf(),
        None,
    );
    ExitCode::from(if outcome.unwritten { 3 } else { 0 })
}

/// `reports/<name>-<UTC time>/`.
pub fn default_out_dir(name: &str) -> PathBuf {
    let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .replace(':', "");
    PathBuf::from("reports").join(format!("{name}-{stamp}"))
}
