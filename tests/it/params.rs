//! Parameters without editing the file: `--set KEY=VALUE` on `validate` and `run`, and
//! `${NAME}` / `${NAME:-default}` from the environment. Every rule still runs on the
//! resolved values, errors point at the file's line and column (or name the `--set`),
//! and a run saves the resolved scenario.yaml.

use std::time::Duration;

use crate::support::binary::mailquake;

/// Far above what validating takes; a command that hangs fails here.
const LIMIT: Duration = Duration::from_secs(60);

const SCENARIO: &str = "\
version: 1
name: params
remotes:
  ok: { domains: [ok.test] }
  down: { domains: [down.test] }
load:
  steps: [ { rate: ${RATE:-100/s}, for: 1m } ]
  mix: { ok.test: 90%, down.test: 10% }
faults:
  - { remote: down, at: 10s, for: 20s, fault: refuse }
checks:
  - { isolation: { healthy: [ok.test], during: faults, p99: 5s } }
  - { drain: { domain: down.test, within: \"${DRAIN}\" } }
  - no_loss
";

#[test]
fn validate_takes_sets_and_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("params.yaml");
    std::fs::write(&file, SCENARIO).unwrap();
    let path = file.display().to_string();
    let ok = |messages: &str| {
        format!(
            "{path}: ok (3 remotes (ok, down, bounces), embedded cluster of 3 nodes \
             (per-destination), {messages}, 1 fault, 3 checks (isolation, drain, no_loss))\n"
        )
    };
    // (RATE, DRAIN, --set arguments, exit code, the one line printed)
    type Case<'a> = (Option<&'a str>, Option<&'a str>, Vec<&'a str>, i32, String);
    let table: Vec<Case> = vec![
        (None, Some("30s"), vec![], 0, ok("6000 messages over 1m")),
        (Some("400/sec"), Some("30s"), vec![], 0, ok("24000 messages over 1m")),
        (
            None,
            Some("30s"),
            vec!["load.steps[0].rate=400/s", "load.steps[0].for=2m"],
            0,
            ok("48000 messages over 2m"),
        ),
        // A key the file does not have is added to its map.
        (
            None,
            Some("30s"),
            vec!["load.model=closed", "load.steps=[{for: 1m}]"],
            0,
            ok("50 closed-model sessions back to back over 1m"),
        ),
        (
            None,
            None,
            vec![],
            2,
            format!("{path}:13:43: checks[1].drain.within: environment variable `DRAIN` is not set (`${{DRAIN}}`; give a default with `${{DRAIN:-VALUE}}`)\n"),
        ),
        // Errors of resolved values point at the file.
        (
            Some("fast"),
            Some("30s"),
            vec![],
            2,
            format!("{path}:7:20: load.steps[0].rate: invalid rate `fast`: expected a number per unit, e.g. 200/s, 12000/m\n"),
        ),
        (
            None,
            Some("3"),
            vec![],
            2,
            format!("{path}:13:43: checks[1].drain.within: invalid duration `3`: expected a number and a unit, e.g. 500ms, 30s, 2m\n"),
        ),
        // … or at the --set that put them there; every rule still runs.
        (
            None,
            Some("30s"),
            vec!["checks[0].isolation.p99=2"],
            2,
            "--set checks[0].isolation.p99=2: checks[0].isolation.p99: invalid duration `2`: expected a number and a unit, e.g. 500ms, 30s, 2m\n".into(),
        ),
        (
            None,
            Some("30s"),
            vec!["faults[0].at=70s"],
            2,
            "--set faults[0].at=70s: faults[0].at: starts at 1m 10s, but the load ends at 1m\n".into(),
        ),
        (
            None,
            Some("30s"),
            vec!["load.steps[2].rate=1/s"],
            2,
            "--set load.steps[2].rate=1/s: load.steps[2].rate: `load.steps` has no item [2] (it has 1)\n".into(),
        ),
        // Errors after an added key still point at the right line of the file.
        (
            None,
            Some("3"),
            vec!["load.sessions=3", "safety.max_rate=10/s"],
            2,
            format!("{path}:13:43: checks[1].drain.within: invalid duration `3`: expected a number and a unit, e.g. 500ms, 30s, 2m\n"),
        ),
    ];
    for (rate, drain, sets, code, want) in table {
        let mut cmd = mailquake(&["validate", &path]).envs(&[("RATE", rate), ("DRAIN", drain)]);
        for set in &sets {
            cmd = cmd.arg("--set").arg(set);
        }
        let (got_code, stdout, stderr) = cmd.run(LIMIT).parts();
        let line = if code == 0 { stdout } else { stderr };
        assert_eq!(got_code, Some(code), "{sets:?}: {line}");
        assert_eq!(line, want, "{rate:?} {drain:?} {sets:?}");
    }
}

/// A short run: its saved scenario.yaml holds what the run ran with (`--set` and
/// `${NAME}` resolved), and `mailquake report` reads it back.
#[test]
fn a_run_saves_the_resolved_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("params-run.yaml");
    std::fs::write(
        &file,
        "version: 1\nname: params-run\nremotes: { ok: { domains: [ok.test] } }\n\
         load: { steps: [ { rate: ${RATE}, for: 1s } ], mix: { ok.test: 100% } }\n\
         checks: [ no_loss ]\nsettle: ${SETTLE:-10s}\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let (code, stdout, stderr) = mailquake(&["run", &file.display().to_string()])
        .arg("--out")
        .arg(&out.display().to_string())
        .arg("--set")
        .arg("load.steps[0].for=2s")
        .envs(&[("RATE", Some("10/sec")), ("SETTLE", None)])
        .run(Duration::from_secs(90))
        .parts();
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let saved = std::fs::read_to_string(out.join("scenario.yaml")).unwrap();
    assert_eq!(
        saved,
        "version: 1\nname: params-run\nremotes: { ok: { domains: [ok.test] } }\n\
         load: { steps: [ { rate: 10/sec, for: 2s } ], mix: { ok.test: 100% } }\n\
         checks: [ no_loss ]\nsettle: 10s\n"
    );
    let (code, _, stderr) = mailquake(&["report", &out.display().to_string()])
        .run(LIMIT)
        .parts();
    assert_eq!(code, Some(0), "{stderr}");
}
