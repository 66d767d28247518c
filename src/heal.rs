//! `mailquake heal DIR`: undoes whatever a run's actions journal (`crate::journal`) shows
//! still in force — an `exec` action's `undo` (the same `sh -c` and timeout as the
//! timeline's, in the run's working directory) or `DELETE /remotes/NAME/fault` on the
//! control API of attached remotes — and records each success as `undone`. Run twice, the
//! second time finds nothing in force. The guardian (`crate::guardian`) heals the same
//! way when a run died without finishing.
//!
//! Exit codes: 0 nothing is left in force · 2 DIR has no readable journal · 3 an undo
//! failed (one line names each; the others are still tried).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use crate::journal::{self, Action, Record};
use crate::remotes::client::{ApiClient, ApiError};
use crate::timeline;

/// What healing did.
#[derive(Debug, Default)]
pub struct Healed {
    /// One line per action undone.
    pub undone: Vec<String>,
    /// One line per action whose undo failed (still in force).
    pub failed: Vec<String>,
}

/// Undoes every action `DIR/actions.journal` shows in force; `token` for the control
/// API. `Err` (one line) when there is no readable journal.
pub async fn heal(dir: &Path, token: Option<&str>) -> Result<Healed, String> {
    let state = journal::read(dir)?;
    let mut healed = Healed::default();
    if state.in_force.is_empty() {
        return Ok(healed);
    }
    let mut file = journal::open(dir)
        .map_err(|e| format!("cannot write {}: {e}", dir.join(journal::FILE).display()))?;
    for (id, action) in state.in_force {
        match undo(&action, token).await {
            Ok(()) => {
                let record = Record::Undone {
                    id,
                    at: journal::now(),
                };
                if let Err(e) = journal::append(&mut file, &record) {
                    healed.failed.push(format!(
                        "undid {} but could not record it in {}: {e}",
                        action.describe(),
                        dir.join(journal::FILE).display()
                    ));
                } else {
                    healed.undone.push(action.describe());
                }
            }
            Err(e) => healed
                .failed
                .push(format!("could not undo {}: {e}", action.describe())),
        }
    }
    Ok(healed)
}

/// Undoes one action.
async fn undo(action: &Action, token: Option<&str>) -> Result<(), String> {
    match action {
        Action::Exec { undo, cwd, .. } => {
            // The run's working directory may be gone: run it here rather than not at all.
            let cwd = cwd.is_dir().then_some(cwd.as_path());
            timeline::exec_in(undo, cwd).await
        }
        Action::RemoteFault {
            api_url, remote, ..
        } => ApiClient::new(api_url, token.map(str::to_string))
            .clear_faults(remote)
            .await
            .map_err(|e| {
                let hint = match e {
                    ApiError::Refused { status: 401, .. } => {
                        " (give --token or set MAILQUAKE_REMOTES_TOKEN)"
                    }
                    _ => "",
                };
                format!("DELETE {api_url}/remotes/{remote}/fault: {e}{hint}")
            }),
    }
}

/// Writes lines to stderr, ignoring failures: a guardian whose terminal is gone still
/// heals.
pub fn say(lines: impl IntoIterator<Item = String>) {
    let mut stderr = std::io::stderr().lock();
    for line in lines {
        let _ = writeln!(stderr, "{line}");
    }
}

/// `mailquake heal DIR [--token TOKEN]`.
pub fn main(dir: &Path, token: Option<&str>) -> ExitCode {
    let healed = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map(|runtime| runtime.block_on(heal(dir, token)));
    match healed {
        Err(e) => {
            eprintln!("mailquake: cannot start the runtime: {e}");
            ExitCode::from(3)
        }
        Ok(Err(e)) => {
            eprintln!("mailquake: no actions journal to heal from: {e}");
            ExitCode::from(2)
        }
        Ok(Ok(healed)) => {
            if healed.undone.is_empty() && healed.failed.is_empty() {
                println!("mailquake: {}: nothing in force", dir.display());
            }
            for line in &healed.undone {
                println!("mailquake: undone: {line}");
            }
            say(healed.failed.iter().map(|l| format!("mailquake: {l}")));
            ExitCode::from(if healed.failed.is_empty() { 0 } else { 3 })
        }
    }
}

/// One line per output folder under `reports` whose journal still shows actions in force
/// (its run no longer alive), with the command that heals it.
pub fn warnings(reports: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(reports) else {
        return Vec::new();
    };
    let mut dirs: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join(journal::FILE).is_file())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .filter_map(|dir| {
            let state = journal::read(&dir).ok()?;
            if state.in_force.is_empty() || state.pid().is_some_and(alive) {
                return None;
            }
            let what: Vec<String> = state.in_force.values().map(Action::describe).collect();
            Some(format!(
                "mailquake: warning: a previous run left {} in force in {}: {}; undo with: mailquake heal {}",
                actions(what.len()),
                dir.display(),
                what.join("; "),
                dir.display()
            ))
        })
        .collect()
}

/// "1 action", "2 actions".
pub fn actions(n: usize) -> String {
    if n == 1 {
        "1 action".to_string()
    } else {
        format!("{n} actions")
    }
}

/// Whether a process `pid` still runs (Linux: `/proc`; elsewhere assumed gone).
fn alive(pid: u32) -> bool {
    pid != std::process::id() && Path::new("/proc").join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A journal in `reports/NAME` written by `pid`, with `lines` after its header.
    fn folder(reports: &Path, name: &str, pid: u32, lines: &[&str]) {
        let dir = reports.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let header =
            format!(r#"{{"record":"header","run":"r","pid":{pid},"started":"t","cwd":"/"}}"#);
        let text: Vec<&str> = std::iter::once(header.as_str())
            .chain(lines.iter().copied())
            .collect();
        std::fs::write(dir.join(journal::FILE), text.join("\n")).unwrap();
    }

    #[test]
    fn warns_about_folders_left_in_force_by_runs_that_are_gone() {
        let applied = r#"{"record":"applied","id":1,"what":{"exec":{"name":"x","run":"touch x","undo":"rm x","cwd":"/"}},"at":"t"}"#;
        let undone = r#"{"record":"undone","id":1,"at":"t"}"#;
        let reports = tempfile::tempdir().unwrap();
        // A pid no process has (above the kernel's pid_max).
        let gone = 1 << 23;
        let alive = std::os::unix::process::parent_id();
        folder(reports.path(), "a-left", gone, &[applied]);
        folder(reports.path(), "b-healed", gone, &[applied, undone]);
        folder(reports.path(), "c-still-running", alive, &[applied]);
        std::fs::create_dir_all(reports.path().join("d-no-journal")).unwrap();
        let left = reports.path().join("a-left");
        assert_eq!(
            warnings(reports.path()),
            [format!(
                "mailquake: warning: a previous run left 1 action in force in {}: exec `x` (undo: rm x); undo with: mailquake heal {}",
                left.display(),
                left.display()
            )]
        );
        assert!(warnings(&reports.path().join("nowhere")).is_empty());
    }
}
