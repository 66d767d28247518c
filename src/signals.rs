//! The stop signals of every long-running command (`run`, `flood`, `report`):
//! SIGINT (Ctrl-C), SIGTERM (a CI runner cancelling a job, Kubernetes stopping a pod)
//! and SIGHUP (the terminal went away) all mean the same thing, and escalate:
//!
//! 1. the first one is logged on one line naming it and stops the command the way it
//!    was built to stop (a run stops its load, undoes its actions, heals its faults and
//!    writes what it measured);
//! 2. a second one during that clean-up says what is still being undone — and lets it
//!    finish: nothing is skipped;
//! 3. a third one says what was left in force and exits 3 at once.
//!
//! "What is in force" is the timeline's [`watch`] of descriptions (exec actions with an
//! undo, faults on remotes served elsewhere); commands with nothing to undo pass an
//! empty one. (`mailquake remotes` is served by the fake-remotes crate, which handles
//! the same three signals itself.)

use std::path::Path;

use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::watch;

use crate::report::progress;

/// Exit code after a signal (DESIGN §6: the run could not be carried out).
pub const EXIT_CODE: i32 = 3;

/// The three stop signals, registered when installed (from then on none of them kills
/// the process: each is delivered here).
pub struct StopSignals {
    int: Signal,
    term: Signal,
    hup: Signal,
}

impl StopSignals {
    /// Must run inside a Tokio runtime.
    pub fn install() -> std::io::Result<StopSignals> {
        Ok(StopSignals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    /// The next stop signal's name: `SIGINT`, `SIGTERM` or `SIGHUP`.
    pub async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "SIGINT",
            _ = self.term.recv() => "SIGTERM",
            _ = self.hup.recv() => "SIGHUP",
        }
    }

    /// Follows the escalation above for `program` (`mailquake`, `mailquake flood`):
    /// `first` gets the first signal's name and starts the stop; `in_force` says what is
    /// still to undo. Returns only if the signals stop arriving.
    pub async fn escalate(
        mut self,
        program: &str,
        first: impl FnOnce(&'static str),
        in_force: watch::Receiver<Vec<String>>,
    ) {
        let name = self.recv().await;
        first(name);
        let name = self.recv().await;
        progress::log_line(&second_line(program, name, &in_force.borrow()));
        let name = self.recv().await;
        progress::log_line(&third_line(program, name, &in_force.borrow()));
        std::process::exit(EXIT_CODE);
    }
}

/// For `report`: a stop signal (SIGINT, SIGTERM, SIGHUP) names the reports not yet
/// rewritten (`written` hears of each one written) and exits 3. Listens on a thread of
/// its own, registered before this returns.
pub fn exit_on_signal_naming_unwritten(dir: &Path, written: std::sync::mpsc::Receiver<String>) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return eprintln!("mailquake: cannot listen for stop signals: {e}"),
    };
    let signals = {
        let _in_runtime = runtime.enter();
        StopSignals::install()
    };
    let mut signals = match signals {
        Ok(s) => s,
        Err(e) => return eprintln!("mailquake: cannot listen for stop signals: {e}"),
    };
    let dir = dir.display().to_string();
    std::thread::spawn(move || {
        let name = runtime.block_on(signals.recv());
        let written: Vec<String> = written.try_iter().collect();
        let unwritten: Vec<&str> = crate::report::REPORT_FILES
            .into_iter()
            .filter(|f| !written.iter().any(|w| w == f))
            .collect();
        eprintln!(
            "mailquake: {name} — stopped; not written in {dir}: {} (run `mailquake report {dir}` again)",
            unwritten.join(", ")
        );
        std::process::exit(EXIT_CODE);
    });
}

/// What a second signal prints: what is still being undone, which it does not skip.
fn second_line(program: &str, name: &str, in_force: &[String]) -> String {
    if in_force.is_empty() {
        format!("{program}: {name} again — still stopping; a third signal exits at once")
    } else {
        format!(
            "{program}: {name} again — still undoing: {} (not skipped; a third signal exits at once and leaves it in force)",
            in_force.join("; ")
        )
    }
}

/// What a third signal prints before the process exits.
fn third_line(program: &str, name: &str, in_force: &[String]) -> String {
    if in_force.is_empty() {
        format!("{program}: {name} a third time — exiting now; nothing was left in force")
    } else {
        format!(
            "{program}: {name} a third time — exiting now; LEFT IN FORCE: {} — undo it by hand",
            in_force.join("; ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_signals_name_what_is_in_force() {
        let undo = vec!["exec `stuck n2`: undo `postfix reload`".to_string()];
        let table = [
            (
                second_line("mailquake", "SIGTERM", &undo),
                "still undoing: exec `stuck n2`: undo `postfix reload` (not skipped",
            ),
            (
                second_line("mailquake", "SIGINT", &[]),
                "SIGINT again — still stopping",
            ),
            (
                third_line("mailquake", "SIGHUP", &undo),
                "LEFT IN FORCE: exec `stuck n2`: undo `postfix reload`",
            ),
            (
                third_line("mailquake", "SIGHUP", &[]),
                "nothing was left in force",
            ),
        ];
        for (line, want) in table {
            assert!(line.contains(want), "{line}");
            assert_eq!(line.lines().count(), 1, "{line}");
        }
    }
}
