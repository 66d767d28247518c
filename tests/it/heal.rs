//! Crash safety over real processes: a run attached to `mailquake remotes` with an `exec`
//! action (`touch F` / `rm F`) and a remote fault is killed with SIGKILL — with its
//! guardian (then `mailquake heal DIR` restores both, and the next run warns first) or
//! alone (then the guardian restores both, without an operator); `heal` names an undo
//! that fails (exit 3); a run that ends cleanly marks its journal `finished`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::binary::{mailquake_os, mailquake_run};
use crate::support::remotes::{remotes, serve, Served};
use crate::support::{scenario, wait_until};

/// How long anything here may take to show up.
const WAIT: Duration = Duration::from_secs(30);

/// A scenario attached to `api`: a blackhole on `down` and an `exec` that creates `flag`,
/// both in force from the start of a minute of load.
fn killable(dir: &Path, api: &str, flag: &Path) -> PathBuf {
    let text = format!(
        "version: 1
name: t-heal
seed: 7
target:
  embedded: {{ nodes: 2 }}
remotes: {{ external: {api} }}
load:
  steps: [ {{ rate: 20/s, for: 60s }} ]
  mix: {{ ok.test: 90%, down.test: 10% }}
faults:
  - {{ remote: down, at: 0s, fault: blackhole }}
  - {{ at: 0s, exec: {{ name: flag, run: 'touch {f}', undo: 'rm {f}' }} }}
checks: [ no_loss ]
settle: 5s
",
        f = flag.display()
    );
    let file = dir.join("heal.yaml");
    std::fs::write(&file, text).unwrap();
    file
}

/// `mailquake run FILE --out OUT`, its stderr into `OUT.stderr` (the guardian shares it,
/// so no pipe is left waiting on it).
fn start_run(file: &Path, out: &Path) -> (Child, PathBuf) {
    let log = out.with_extension("stderr");
    let child = mailquake_run(file, out).spawn_logged(&log);
    (child, log)
}

/// The faults the served remote `down` has now.
fn down_faults(served: &Served) -> Value {
    remotes(served.api)["remotes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "down")
        .unwrap()["faults"]
        .clone()
}

/// Starts the killable run and waits until both its actions are in force.
fn run_until_in_force(served: &Served, dir: &Path, flag: &Path) -> (Child, PathBuf, PathBuf) {
    let file = killable(dir, &format!("http://{}", served.api), flag);
    let out = dir.join("out");
    let (mut child, log) = start_run(&file, &out);
    wait_until(
        WAIT,
        "the exec action and the remote fault in force",
        || {
            assert!(
                child.try_wait().unwrap().is_none(),
                "the run ended early: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            flag.exists() && down_faults(served) == serde_json::json!(["blackhole"])
        },
    );
    (child, out, log)
}

fn journal(out: &Path) -> String {
    std::fs::read_to_string(out.join("actions.journal")).expect("actions.journal written")
}

fn sigkill(pid: u64) {
    let status = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -9 {pid}");
}

#[test]
fn kill_9_of_a_run_and_its_guardian_then_heal_undoes_the_exec_action_and_the_remote_fault() {
    let served = serve(&scenario("served-remotes.yaml"));
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("F");
    let (mut child, out, _) = run_until_in_force(&served, dir.path(), &flag);

    // The header names the guardian: kill it first, then the run.
    let text = journal(&out);
    let header: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(header["record"], "header", "{text}");
    assert_eq!(header["pid"], child.id(), "{text}");
    sigkill(header["guardian"].as_u64().expect("a guardian pid"));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(flag.exists(), "nobody undid the exec action");
    assert_eq!(down_faults(&served), serde_json::json!(["blackhole"]));

    // The next run under the same reports folder warns before anything else.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let unreachable = dir.path().join("unreachable.yaml");
    std::fs::write(
        &unreachable,
        format!("version: 1\nname: t-next\nremotes: {{ external: 'http://{free}' }}\nload: {{ steps: [ {{ rate: 1/s, for: 1s }} ], mix: {{ ok.test: 100% }} }}\nchecks: [ no_loss ]\n"),
    )
    .unwrap();
    let next = mailquake_run(&unreachable, &dir.path().join("next")).run(WAIT);
    let stderr = next.stderr.as_str();
    let first = stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!(
            "mailquake: warning: a previous run left 2 actions in force in {}:",
            out.display()
        )) && first.ends_with(&format!("undo with: mailquake heal {}", out.display())),
        "{stderr}"
    );
    assert!(first.contains("exec `flag`") && first.contains("blackhole on remote `down`"));
    assert_eq!(next.code, Some(3), "{stderr}");

    let heal = mailquake_os(&["heal".as_ref(), out.as_os_str()]).run(WAIT);
    let stdout = heal.stdout.as_str();
    assert_eq!(heal.code, Some(0), "{stdout}{}", heal.stderr.as_str());
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(stdout.contains("mailquake: undone: blackhole on remote `down`"));
    assert!(!flag.exists(), "heal ran the exec's undo");
    assert_eq!(
        down_faults(&served),
        serde_json::json!([]),
        "heal healed the remote"
    );
    assert_eq!(journal(&out).matches("\"record\":\"undone\"").count(), 2);

    let again = mailquake_os(&["heal".as_ref(), out.as_os_str()]).run(WAIT);
    assert_eq!(again.code, Some(0));
    assert_eq!(
        again.stdout.as_str().trim(),
        format!("mailquake: {}: nothing in force", out.display())
    );
}

#[test]
fn the_guardian_undoes_what_a_killed_run_left_in_force_without_an_operator() {
    let served = serve(&scenario("served-remotes.yaml"));
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("F");
    let (mut child, out, log) = run_until_in_force(&served, dir.path(), &flag);
    child.kill().unwrap();
    child.wait().unwrap();
    wait_until(WAIT, "the guardian undid both", || {
        !flag.exists() && down_faults(&served) == serde_json::json!([])
    });
    wait_until(WAIT, "the guardian recorded both undone", || {
        journal(&out).matches("\"record\":\"undone\"").count() == 2
    });
    // It says so on the run's stderr once it is done.
    wait_until(WAIT, "the guardian said what it undid", || {
        let said = std::fs::read_to_string(&log).unwrap();
        said.contains("mailquake guard: the run")
            && said.contains("mailquake guard: undone: exec `flag`")
            && said.contains("mailquake guard: undone: blackhole on remote `down`")
    });
    let heal = mailquake_os(&["heal".as_ref(), out.as_os_str()]).run(WAIT);
    assert_eq!(heal.code, Some(0));
    assert!(heal.stdout.as_str().contains("nothing in force"));
}

#[test]
fn heal_names_an_undo_that_fails_exit_3_and_still_undoes_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let empty = mailquake_os(&["heal".as_ref(), dir.path().as_os_str()]).run(WAIT);
    assert_eq!(empty.code, Some(2));
    let err = empty.stderr.as_str();
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("actions.journal"), "{err}");

    let flag = dir.path().join("F2");
    std::fs::write(&flag, "").unwrap();
    let cwd = dir.path().display();
    // Two actions in force, one of them undone by a command that fails; the run was
    // killed while writing a third record.
    let text = format!(
        r#"{{"record":"header","run":"x","pid":1,"started":"t","cwd":"{cwd}"}}
{{"record":"applied","id":1,"what":{{"exec":{{"name":"bad","run":"true","undo":"echo nope >&2; exit 7","cwd":"{cwd}"}}}},"at":"t"}}
{{"record":"applied","id":2,"what":{{"exec":{{"name":"good","run":"touch F2","undo":"rm F2","cwd":"{cwd}"}}}},"at":"t"}}
{{"record":"appl"#
    );
    std::fs::write(dir.path().join("actions.journal"), text).unwrap();
    for round in 0..2 {
        let heal = mailquake_os(&["heal".as_ref(), dir.path().as_os_str()]).run(WAIT);
        assert_eq!(heal.code, Some(3), "round {round}");
        let err = heal.stderr.as_str();
        assert_eq!(
            err.trim(),
            "mailquake: could not undo exec `bad` (undo: echo nope >&2; exit 7): exit status: 7 — nope",
            "round {round}"
        );
        let out = heal.stdout.as_str();
        assert_eq!(
            out.contains("undone: exec `good`"),
            round == 0,
            "undone once, in the run's directory: {out}"
        );
        assert!(!flag.exists());
    }
}

#[test]
fn a_run_that_ends_cleanly_finishes_its_journal_and_its_guardian_stays_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("F");
    let file = dir.path().join("clean.yaml");
    std::fs::write(
        &file,
        format!(
            "version: 1\nname: t-clean\nremotes: {{ ok: {{ domains: [ok.test] }} }}\nload: {{ steps: [ {{ rate: 20/s, for: 1s }} ], mix: {{ ok.test: 100% }} }}\nfaults:\n  - {{ at: 0s, exec: {{ name: flag, run: 'touch {f}', undo: 'rm {f}' }} }}\nchecks: [ no_loss ]\nsettle: 10s\n",
            f = flag.display()
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let (mut child, log) = start_run(&file, &out);
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the run did not end");
        std::thread::sleep(Duration::from_millis(50));
    };
    let said = std::fs::read_to_string(&log).unwrap();
    assert_eq!(status.code(), Some(0), "{said}");
    assert!(!flag.exists());
    let text = journal(&out);
    let kinds: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["record"].to_string())
        .collect();
    assert_eq!(
        kinds,
        ["\"header\"", "\"applied\"", "\"undone\"", "\"finished\""],
        "{text}"
    );
    assert!(!said.contains("mailquake guard"), "{said}");
}
