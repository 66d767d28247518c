//! A run's output folder: checked before any load — one holding an earlier run is
//! refused unless forced (exit 2), one that cannot be created or written stops the run
//! at once (exit 3) — and,
//! when it cannot be written at the end (removed or made read-only during the run), a
//! rescue folder that takes everything measured instead, so nothing is silently lost.

use std::path::{Path, PathBuf};

use crate::report::{self, JudgedRun};

/// Files only a run writes: a folder holding one holds an earlier run's data.
pub const EARLIER_RUN: [&str; 5] = [
    "summary.json",
    "run.json",
    "ledger.bin",
    "shard.json",
    "actions.journal",
];

/// `Err` (one line) when `dir` holds an earlier run and `force` is not given: a run
/// never writes over another's data unasked (`mailquake run --out DIR --force`).
pub fn check_not_earlier_run(dir: &Path, force: bool) -> Result<(), String> {
    if force {
        return Ok(());
    }
    match EARLIER_RUN.iter().find(|f| dir.join(f).exists()) {
        None => Ok(()),
        Some(file) => Err(format!(
            "{} holds an earlier run ({file}): give another --out, or --force to write over it",
            dir.display()
        )),
    }
}

/// Creates `dir` and proves a file can be written in it; `Err` is one line.
pub fn prepare(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let probe = dir.join(format!(".mailquake-write-check-{}", std::process::id()));
    std::fs::write(&probe, b"")
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|e| format!("cannot write in {}: {e}", dir.display()))
}

/// Where the files of a run whose folder failed went.
#[derive(Debug, PartialEq, Eq)]
pub enum Rescue {
    /// Every file was written in this folder.
    Written(PathBuf),
    /// No rescue folder could take them: why, per folder tried.
    Lost(String),
}

impl Rescue {
    /// The end of the failure line: where the data went, or that it was lost.
    pub fn describe(&self) -> String {
        match self {
            Rescue::Written(dir) => {
                format!(
                    "everything measured was written to {} instead",
                    dir.display()
                )
            }
            Rescue::Lost(why) => {
                format!("no rescue folder could be written ({why}): what was measured is lost")
            }
        }
    }
}

/// Writes the whole run into the first rescue folder that takes it:
/// `./mailquake-rescued-NAME-RUNID`, then the same name in the temp folder.
pub fn rescue(run: &JudgedRun) -> Rescue {
    let name = format!("mailquake-rescued-{}-{}", run.plan.name, run.ledger.run_id);
    let mut candidates = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        candidates.push(cwd.join(&name));
    }
    candidates.push(std::env::temp_dir().join(&name));
    rescue_into(run, &candidates)
}

fn rescue_into(run: &JudgedRun, candidates: &[PathBuf]) -> Rescue {
    let mut why = Vec::new();
    for dir in candidates {
        if let Err(e) = prepare(dir) {
            why.push(e);
            continue;
        }
        let written = report::write_run(dir, run);
        match written.failure_line(dir) {
            None => return Rescue::Written(dir.clone()),
            Some(line) => why.push(line),
        }
    }
    Rescue::Lost(why.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_earlier_run_is_refused_unless_forced() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        assert_eq!(check_not_earlier_run(dir, false), Ok(()), "empty");
        assert_eq!(
            check_not_earlier_run(&dir.join("new"), false),
            Ok(()),
            "absent"
        );
        std::fs::write(dir.join("w.hlog"), "").unwrap();
        std::fs::write(dir.join("scenario.yaml"), "").unwrap();
        assert_eq!(
            check_not_earlier_run(dir, false),
            Ok(()),
            "not proof of a run"
        );
        for file in EARLIER_RUN {
            std::fs::write(dir.join(file), "").unwrap();
            assert_eq!(
                check_not_earlier_run(dir, false),
                Err(format!(
                    "{} holds an earlier run ({file}): give another --out, or --force to write over it",
                    dir.display()
                ))
            );
            assert_eq!(check_not_earlier_run(dir, true), Ok(()));
            std::fs::remove_file(dir.join(file)).unwrap();
        }
    }

    #[test]
    fn a_folder_under_a_file_is_refused_on_one_line() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let err = prepare(&file.join("out")).unwrap_err();
        assert_eq!(
            err,
            format!(
                "cannot create {}: Not a directory (os error 20)",
                file.join("out").display()
            )
        );
        let err = prepare(&file).unwrap_err();
        assert!(err.starts_with("cannot create "), "{err}");
        assert!(prepare(&tmp.path().join("a/b")).is_ok());
        let left: Vec<_> = std::fs::read_dir(tmp.path().join("a/b")).unwrap().collect();
        assert!(left.is_empty(), "the write check leaves nothing behind");
    }
}
