//! A run's output folder that cannot be used: one that cannot be created stops the run
//! before any load (exit 3, one line); one removed during the run does not lose what was
//! measured: it is written to a rescue folder, named on one line (exit 3), or, when no
//! folder takes it, the line says it was lost.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::binary::{mailquake_os, mailquake_run, Proc};
use crate::support::summary::Summary;

/// A short valid run: 2 s of load on the embedded cluster, nothing faulted.
const SHORT: &str = "\
version: 1
name: t-outdir
seed: 7
remotes:
  ok: { domains: [ok.test] }
load:
  steps: [ { rate: 20/s, for: 2s } ]
  mix: { ok.test: 100% }
  sessions: 4
checks: [no_loss]
settle: 20s
";

const LIMIT: Duration = Duration::from_secs(120);

fn start(scenario: &Path, out: &Path, cwd: &Path, tmpdir: &Path) -> Proc {
    mailquake_run(scenario, out)
        .current_dir(cwd)
        .env("TMPDIR", Some(tmpdir.to_str().unwrap()))
        .start()
}

struct Setup {
    _tmp: tempfile::TempDir,
    scenario: PathBuf,
    /// The run's working folder (the first rescue place).
    cwd: PathBuf,
    /// A regular file: a TMPDIR under it can take nothing, even for root.
    file: PathBuf,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = tmp.path().join("short.yaml");
    std::fs::write(&scenario, SHORT).unwrap();
    let cwd = tmp.path().join("cwd");
    std::fs::create_dir(&cwd).unwrap();
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "not a folder").unwrap();
    Setup {
        scenario,
        cwd,
        file,
        _tmp: tmp,
    }
}

/// Runs into `out`, removes `remove` once the run has started (its `…; output OUT` line;
/// TMPDIR can take nothing), and returns the failure line after checking the exit code.
fn run_removing(s: &Setup, out: &Path, remove: &Path) -> String {
    let mut run = start(&s.scenario, out, &s.cwd, &s.file.join("tmp"));
    run.wait_stderr("; output ");
    std::fs::remove_dir_all(remove).unwrap();
    let (code, _, stderr) = run.exit(LIMIT).parts();
    assert_eq!(code, Some(3), "{stderr}");
    stderr
        .lines()
        .find(|l| l.starts_with("mailquake: could not write"))
        .expect("a failure line")
        .to_string()
}

#[test]
fn a_folder_that_cannot_be_created_stops_the_run_before_any_load() {
    let s = setup();
    let out = s.file.join("out");
    let (code, _, stderr) = start(&s.scenario, &out, &s.cwd, &s.cwd).exit(LIMIT).parts();
    assert_eq!(code, Some(3), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        format!(
            "mailquake: cannot create {}: Not a directory (os error 20)",
            out.display()
        ),
        "one line and nothing started (no `output …` line)"
    );
}

#[test]
fn a_folder_removed_during_the_run_is_rescued_and_named() {
    let s = setup();
    let out = s.cwd.join("out");
    let line = run_removing(&s, &out, &out);
    let rescued = line
        .split("everything measured was written to ")
        .nth(1)
        .and_then(|rest| rest.strip_suffix(" instead"))
        .unwrap_or_else(|| panic!("no rescue folder named in {line}"));
    let rescued = Path::new(rescued);
    assert!(
        rescued.starts_with(&s.cwd)
            && rescued
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("mailquake-rescued-t-outdir-"),
        "{line}"
    );
    assert_eq!(
        line,
        format!(
            "mailquake: could not write any file in {} (No such file or directory (os error 2)); \
             everything measured was written to {} instead",
            out.display(),
            rescued.display()
        )
    );
    for file in [
        "scenario.yaml",
        "ledger.bin",
        "run.json",
        "summary.json",
        "report.html",
    ] {
        assert!(rescued.join(file).is_file(), "{file} rescued: {line}");
    }
    let summary = Summary::read(rescued);
    assert_eq!(summary["name"], "t-outdir", "{summary}");
    assert_eq!(
        summary["totals"]["submitted"], 40,
        "the load was measured: {summary}"
    );
    // `mailquake report` re-renders the rescued folder like any other.
    let again = mailquake_os(&["report".as_ref(), rescued.as_os_str()]).run(LIMIT);
    assert_eq!(again.code, Some(0), "{}", again.stderr.as_str());
}

#[test]
fn a_folder_removed_with_nowhere_to_rescue_says_the_data_is_lost() {
    let s = setup();
    // The working folder goes with the output folder; TMPDIR is under a regular file.
    let out = s.cwd.join("out");
    let line = run_removing(&s, &out, &s.cwd);
    assert!(line.ends_with(": what was measured is lost"), "{line}");
    assert!(line.contains("no rescue folder could be written"), "{line}");
}

/// A run that cannot start (its remote's port is taken) leaves its folder saying so:
/// the reports of an aborted run, the error as the reason, nothing submitted, and
/// `mailquake report` renders them again. Run again into that folder, it is refused on
/// one line (exit 2) and nothing is touched; with `--force` it is not refused.
#[test]
fn a_run_that_cannot_start_says_so_in_its_folder_which_is_not_overwritten_unasked() {
    let s = setup();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let scenario = s.cwd.join("taken.yaml");
    std::fs::write(
        &scenario,
        SHORT.replace(
            "ok: { domains: [ok.test] }",
            &format!("ok: {{ domains: [ok.test], listen: 127.0.0.1:{port} }}"),
        ),
    )
    .unwrap();
    let out = s.cwd.join("out");
    let (code, _, stderr) = start(&scenario, &out, &s.cwd, &s.cwd).exit(LIMIT).parts();
    assert_eq!(code, Some(3), "{stderr}");
    let error = stderr.trim_end().lines().last().unwrap().to_string();
    assert!(error.starts_with("mailquake: "), "{stderr}");
    let summary = Summary::read(&out);
    assert_eq!(summary.verdict, "aborted", "{summary}");
    assert_eq!(
        summary["abort"]["reason"],
        format!(
            "the run could not be carried out: {}",
            error.strip_prefix("mailquake: ").unwrap()
        ),
        "{summary}"
    );
    assert_eq!(summary["totals"]["submitted"], 0, "{summary}");
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(junit.contains("could not be carried out"), "{junit}");
    let again = mailquake_os(&["report".as_ref(), out.as_os_str()]).run(LIMIT);
    assert_eq!(again.code, Some(0), "{}", again.stderr.as_str());
    assert_eq!(Summary::read(&out).verdict, "aborted");

    // The folder holds that run now: not written over without --force.
    let before = std::fs::read(out.join("summary.json")).unwrap();
    let (code, _, stderr) = start(&s.scenario, &out, &s.cwd, &s.cwd).exit(LIMIT).parts();
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        format!(
            "mailquake: {} holds an earlier run (summary.json): give another --out, or --force to write over it",
            out.display()
        )
    );
    assert_eq!(std::fs::read(out.join("summary.json")).unwrap(), before);
    let (code, _, stderr) = mailquake_run(&scenario, &out)
        .arg("--force")
        .current_dir(&s.cwd)
        .run(LIMIT)
        .parts();
    assert_eq!(
        code,
        Some(3),
        "forced, it ran (and could not start again): {stderr}"
    );
    assert!(!stderr.contains("earlier run"), "{stderr}");
    drop(taken);
}
