//! The guardian: undoes a run's actions when the run dies without doing it itself.
//!
//! A run whose plan can put something in force outside its own process (`exec` actions
//! with an `undo`, faults on attached remotes) starts `mailquake guard DIR` (hidden) next
//! to itself, in a process group of its own — Ctrl-C on the terminal and a kill of the
//! run's group do not reach it; it also ignores SIGINT, SIGHUP and SIGTERM. The run holds
//! the only write end of a pipe that is the guardian's stdin; the control API's token is
//! the first line it reads there (never on a command line or in a file). When the pipe
//! closes — the run exited, whatever the way: normally, `kill -9`, the OOM killer, a
//! panic — the guardian reads the run's actions journal (`crate::journal`). `finished`:
//! it exits quietly. Otherwise it undoes what is in force exactly as `mailquake heal`
//! does (`crate::heal`), says so on its stderr (the run's), and exits.
//!
//! Limits: whatever kills the guardian too — a kill of the whole cgroup or container,
//! `kill -9` of every process of the user, a reboot — leaves the journal for an operator:
//! `mailquake heal DIR` (and, for remote faults, their lease) is then the fallback. The
//! guardian cannot stop an `exec` `run` command that was still running when the run was
//! killed: it may finish after the undo.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, ExitCode, Stdio};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use crate::journal::{self, Journal};
use crate::scenario::{FaultSubject, Plan};

/// A started guardian: it watches this process for as long as `pipe` is open, i.e. until
/// this process exits (or this is dropped).
#[derive(Debug)]
pub struct Guardian {
    pub pid: u32,
    _pipe: ChildStdin,
}

/// The crash safety of one run: its journal, and the guardian that heals from it.
#[derive(Debug, Default)]
pub struct Protection {
    pub journal: Option<Journal>,
    pub guardian: Option<Guardian>,
}

/// Whether `plan` can put something in force outside this process.
pub fn needed(plan: &Plan) -> bool {
    plan.external_remotes.is_some()
        || plan
            .faults
            .iter()
            .any(|w| matches!(&w.subject, FaultSubject::Exec { undo: Some(_), .. }))
}

/// Before a run starts: when `plan` needs it, creates `out`, starts the guardian, then
/// the journal (its header names the guardian). A guardian that cannot be started is
/// said in one line; the journal still serves `mailquake heal`.
pub fn protect(
    plan: &Plan,
    out: &Path,
    run_id: &str,
    token: Option<&str>,
) -> Result<Protection, String> {
    if !needed(plan) {
        return Ok(Protection::default());
    }
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let guardian = match start(out, token) {
        Ok(g) => Some(g),
        Err(e) => {
            eprintln!("mailquake: warning: no guardian for this run ({e}); if it is killed, undo its actions with: mailquake heal {}", out.display());
            None
        }
    };
    let cwd = std::env::current_dir().unwrap_or_default();
    let journal = Journal::create(out, run_id, guardian.as_ref().map(|g| g.pid), cwd)?;
    Ok(Protection {
        journal: Some(journal),
        guardian,
    })
}

/// Starts `mailquake guard DIR` watching this process.
fn start(dir: &Path, token: Option<&str>) -> Result<Guardian, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find mailquake: {e}"))?;
    let dir: PathBuf = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let mut child = Command::new(exe)
        .arg("guard")
        .arg(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start mailquake guard: {e}"))?;
    let mut pipe = child.stdin.take().ok_or("no pipe to the guardian")?;
    writeln!(pipe, "{}", token.unwrap_or(""))
        .map_err(|e| format!("cannot talk to the guardian: {e}"))?;
    // Not waited for: it outlives this process on purpose.
    Ok(Guardian {
        pid: child.id(),
        _pipe: pipe,
    })
}

/// `mailquake guard DIR`: waits for the end of the run's pipe, then heals if the run did
/// not finish. Always exits 0: nobody waits for it.
pub fn main(dir: &Path) -> ExitCode {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return ExitCode::SUCCESS;
    };
    runtime.block_on(guard(dir));
    ExitCode::SUCCESS
}

async fn guard(dir: &Path) {
    use tokio::signal::unix::{signal, SignalKind};
    // Registered handlers replace the default action (death): these are ignored.
    let _ignored: Vec<_> = [
        SignalKind::interrupt(),
        SignalKind::hangup(),
        SignalKind::terminate(),
    ]
    .into_iter()
    .filter_map(|kind| signal(kind).ok())
    .collect();
    let mut stdin = BufReader::new(tokio::io::stdin());
    let mut token = String::new();
    let _ = stdin.read_line(&mut token).await;
    let token = Some(token.trim()).filter(|t| !t.is_empty());
    // Until the run's end of the pipe closes.
    let mut rest = Vec::new();
    let _ = stdin.read_to_end(&mut rest).await;

    let Ok(state) = journal::read(dir) else {
        return;
    };
    if state.finished || state.in_force.is_empty() {
        return;
    }
    let pid = state
        .pid()
        .map(|p| format!(" (pid {p})"))
        .unwrap_or_default();
    crate::heal::say([format!(
        "mailquake guard: the run{pid} ended with {} in force; undoing",
        crate::heal::actions(state.in_force.len())
    )]);
    match crate::heal::heal(dir, token).await {
        Err(e) => crate::heal::say([format!("mailquake guard: {e}")]),
        Ok(healed) => {
            let mut lines: Vec<String> = healed
                .undone
                .iter()
                .map(|l| format!("mailquake guard: undone: {l}"))
                .collect();
            lines.extend(
                healed
                    .failed
                    .iter()
                    .map(|l| format!("mailquake guard: {l}")),
            );
            if !healed.failed.is_empty() {
                lines.push(format!(
                    "mailquake guard: still in force; undo with: mailquake heal {}",
                    dir.display()
                ));
            }
            crate::heal::say(lines);
        }
    }
}
