//! `mailquake validate`: every malformed scenario in `tests/scenarios/invalid/` is
//! rejected with exactly the one-line message below, through the library and through the
//! binary (exit code 2, one line on stderr); a valid scenario passes (exit code 0).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::binary::{mailquake, mailquake_os};

const INVALID_DIR: &str = "tests/scenarios/invalid";

/// (file in INVALID_DIR, the error after `INVALID_DIR/file:`). One mistake per file; the
/// first line of each file says which.
const INVALID: &[(&str, &str)] = &[
    ("bad_listen_address.yaml", "6:41: remotes.down.listen: invalid listen address `127.0.0.1`: expected IP:PORT, e.g. 127.0.0.1:2525 (port 0 picks a free port)"),
    ("bad_percentile_key.yaml", "13:56: checks[0].isolation.p98: unknown key `p98`, expected one of healthy, during, p50, p90, p95, p99, p99.9, min_delivered, baseline"),
    ("closed_model_with_rate.yaml", "8:20: load.steps[0].rate: `model: closed` sends back to back, so a step takes no rate: write { for: 30s }"),
    ("check_unserved_domain.yaml", "13:30: checks[0].isolation.healthy[0]: no remote serves `nope.test`"),
    ("drain_without_ending_fault.yaml", "14:24: checks[1].drain.domain: `down.test` is served by remote `down`, but none of its faults has a `for` (an end): there is nothing to drain (no mixed domain has a fault with a `for`)"),
    ("drain_unfaulted_domain.yaml", "14:24: checks[1].drain.domain: `ok.test` is served by remote `ok`, but no fault targets it: there is nothing to drain (domains with a fault that ends: down.test)"),
    ("duplicate_key.yaml", "4:1: duplicate key `name`: each key may appear once"),
    ("duration_unknown_unit.yaml", "8:32: load.steps[0].for: invalid duration `10 parsecs`: expected a number and a unit, e.g. 500ms, 30s, 2m"),
    ("empty_checks.yaml", "11:9: checks: needs at least one check, e.g. - no_loss"),
    ("fault_unknown_remote.yaml", "11:15: faults[0].remote: no remote named `dwn` (remotes: down, ok)"),
    ("greylist_bad_duration.yaml", "11:74: faults[0].fault.greylist.retry_after: invalid duration `soon`: expected a number and a unit, e.g. 500ms, 30s, 2m"),
    ("greylist_zero_retry.yaml", "11:47: faults[0].fault.greylist: greylist retry_after must be more than 0"),
    ("healthy_remote_faulted.yaml", "13:30: checks[0].isolation.healthy[0]: `down.test` is served by remote `down`, which faults[0] targets: a healthy domain's remote must have no fault"),
    ("isolation_without_faults.yaml", "11:48: checks[0].isolation.during: `during: faults` needs at least one remote fault in `faults` (or remotes served elsewhere, whose faults set by hand count)"),
    ("malformed_tab_indent.yaml", "8:2: load.steps: tabs disallowed within this context (block indentation); indent with spaces, not tabs"),
    ("malformed_over_indented_key.yaml", "9:11: load.steps[0].for: mapping values are not allowed in this context; check the indentation of this line against its siblings (keys of one map line up; a value holding `: ` must be quoted)"),
    ("malformed_misaligned_key.yaml", "9:4: load.sessions: while parsing a block mapping, did not find expected key; check the indentation of this line against its siblings (keys of one map line up; a value holding `: ` must be quoted)"),
    ("malformed_unclosed_list.yaml", "8:6: load.steps: illegal placement of ':' indicator; check the `[ … ]` and `{ … }` around here: each must be closed, with commas between items"),
    ("max_shortfall_over_100.yaml", "10:18: load.max_shortfall: percentage `150%` is above 100%"),
    ("missing_load.yaml", "2:1: missing required key `load`"),
    ("mix_over_100.yaml", "9:8: load.mix: shares sum to 110%, must be 100%"),
    ("mix_under_100.yaml", "9:8: load.mix: shares sum to 90%, must be 100%"),
    ("node_fault_on_smtp_target.yaml", "13:13: faults[0].node: node faults need the embedded target"),
    ("node_out_of_range.yaml", "13:13: faults[0].node: no node named `n9` (nodes: n1..n3)"),
    ("percent_without_sign.yaml", "9:35: load.mix.down.test: invalid percentage `10`: expected a number and a % sign, e.g. 90%, 99.5%"),
    ("rate_limit_messages_without_per.yaml", "11:47: faults[0].fault.rate_limit: rate_limit `messages` needs `per`, e.g. { messages: 100, per: 1m }"),
    ("rate_limit_negative.yaml", "11:76: faults[0].fault.rate_limit.connections: `-5` is out of range: expected a whole number of at least 1"),
    ("rate_limit_nothing_limited.yaml", "11:47: faults[0].fault.rate_limit: rate_limit needs `messages` and `per`, `connections`, or both, e.g. { messages: 100, per: 1m, connections: 5 }"),
    ("rate_not_a_rate.yaml", "8:20: load.steps[0].rate: invalid rate `fast`: expected a number per unit, e.g. 200/s, 12000/m"),
    ("size_range_inverted.yaml", "10:39: load.message.size.max: max (1KiB) must not be below min (64KiB)"),
    ("tarpit_unknown_field.yaml", "11:71: faults[0].fault.tarpit.delay: unknown key `delay`, expected one of banner, reply, bytes_per_sec, dot, jitter, probability"),
    ("tarpit_jitter_above_delay.yaml", "11:47: faults[0].fault.tarpit: jitter 3s is more than the reply delay 1s: jitter may be at most the delay (each wait is drawn from delay - jitter to delay + jitter)"),
    ("tls_required_on_embedded.yaml", "11:16: load.tls.mode: `required` needs a target that offers STARTTLS; the embedded cluster does not"),
    ("tls_unknown_mode.yaml", "11:54: faults[0].fault.tls: unknown value `wrong`, expected one of starttls_refused, handshake_hang, expired_cert, wrong_name, unknown_ca"),
    ("tls_without_mode.yaml", "11:40: faults[0].fault: invalid type: string \"tls\", expected the TLS fault's mode as a map, e.g. fault: { tls: expired_cert } (modes: starttls_refused, handshake_hang, expired_cert, wrong_name, unknown_ca)"),
    ("unknown_check.yaml", "15:5: checks[2]: unknown check `no_los`, expected one of isolation, drain, no_loss, no_duplicates, nodes, acceptance, queue, alert"),
    ("unknown_fault_kind.yaml", "11:40: faults[0].fault: unknown fault `explode`, expected one of refuse, unreachable, reset, blackhole, tarpit, reply, disconnect, greylist, rate_limit, tls"),
    ("unknown_nested_key.yaml", "5:29: remotes.ok.lisen: unknown key `lisen`, expected one of domains, listen"),
    ("unknown_top_level_key.yaml", "16:1: settel: unknown key `settel`, expected one of version, name, description, seed, target, remotes, load, faults, checks, settle, preflight, safety, capacity"),
    ("unreachable_unknown_setting.yaml", "11:64: faults[0].fault.unreachable.after: unknown key `after`, expected one of open_sessions, probability"),
    ("refuse_probability_zero.yaml", "11:47: faults[0].fault.refuse: probability 0 is out of range: expected more than 0 and at most 1 (the share of connections the fault picks)"),
    ("wrong_version.yaml", "2:10: version: unsupported version `2`: this mailquake reads version 1"),
    ("queue_without_probes.yaml", "12:5: checks[1].queue: needs queue probes: add `probes: [{ postfix: CONFIG_DIR }, …]` under `target`"),
    ("probes_on_embedded.yaml", "5:11: target.probes: queue probes are for an external cluster (target.smtp); the embedded cluster needs none"),
    ("external_lease_too_short.yaml", "4:54: remotes.lease: must be at least 1s: the run renews its faults every third of the lease"),
    ("exec_with_fault.yaml", "9:22: faults[0].fault: an `exec` entry runs commands: it takes no `remote`, `node` or `fault`"),
    ("real_domain_in_mix.yaml", "9:24: load.mix.gmail.com: `gmail.com` is not a domain reserved for testing (.test, .example, .invalid, .localhost, example.com, example.net, example.org): if the target does not route it to the fake remotes, the mail reaches the real `gmail.com`; list it in `safety: { allow_domains: [gmail.com] }` if you mean it"),
    ("real_domain_served.yaml", "5:28: remotes.ok.domains[1]: `mail.example.nl` is not a domain reserved for testing (.test, .example, .invalid, .localhost, example.com, example.net, example.org): if the target does not route it to the fake remotes, the mail reaches the real `mail.example.nl`; list it in `safety: { allow_domains: [mail.example.nl] }` if you mean it"),
    ("allow_domains_wildcard.yaml", "12:19: safety.allow_domains[0]: `*.com`: no wildcards: list each domain by name"),
    ("rate_above_safety_cap.yaml", "9:47: load.steps[1].rate: `5000/s` is above the safety cap of 2000/s for a target that is not loopback (mx.staging.example:25): raise it with `safety: { max_rate: 5000/s }` if you mean it"),
    ("messages_above_safety_cap.yaml", "9:10: load.steps: the steps plan 3600000 messages, above the safety cap of 500000 for a target that is not loopback (10.0.0.25:25): raise it with `safety: { max_messages: 3600000 }` if you mean it"),
    ("alert_bad_label.yaml", "12:78: checks[0].alert.labels.host-name: not a label to match: a label name is letters, digits and `_`, not starting with a digit (the alert's own name goes in `name`)"),
    ("alert_https.yaml", "12:28: checks[0].alert.prometheus: invalid URL `https://prom.test:9090`: https is not supported: Prometheus's HTTP API is read over plain HTTP"),
    ("alert_resolves_without_end.yaml", "13:115: checks[0].alert.resolves_within: the fault on node n1 has no `for` (an end): there is nothing to resolve after"),
    ("alert_settle_too_short.yaml", "13:9: settle: the run ends at 50s (the load ends at 20s + settle 30s), before the alert `Backlog` is judged at 5m 10s (its fault ends at 10s + resolves_within 5m): `settle` needs at least 4m 50s"),
    ("alert_unknown_during.yaml", "12:76: checks[0].alert.during: no fault on a remote, node or exec action named `n3` (faults on: n2)"),
    ("zero_recipients.yaml", "10:38: load.message.recipients: `0` is out of range: expected a whole number between 1 and 64"),
];

/// Paths relative to the package root (cargo runs integration tests there), so the
/// expected messages do not depend on where the checkout lives.
fn invalid(file: &str) -> PathBuf {
    Path::new(INVALID_DIR).join(file)
}

#[test]
fn invalid_scenarios_report_one_exact_line() {
    let mut wrong = Vec::new();
    for (file, want) in INVALID {
        let path = invalid(file);
        let want = format!("{}:{want}", path.display());
        match mailquake::scenario::load(&path) {
            Ok(_) => wrong.push(format!("{file}: accepted, expected `{want}`")),
            Err(e) if e.to_string() != want => {
                wrong.push(format!("{file}:\n   got  {e}\n   want {want}"))
            }
            Err(_) => {}
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // Also one by one, so a failure shows a plain diff.
    for (file, want) in INVALID {
        let path = invalid(file);
        let got = mailquake::scenario::load(&path).unwrap_err().to_string();
        assert_eq!(got, format!("{}:{want}", path.display()));
    }
}

#[test]
fn every_invalid_file_is_in_the_table() {
    let mut files: Vec<String> = std::fs::read_dir(INVALID_DIR)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".yaml"))
        .collect();
    files.sort();
    let mut listed: Vec<String> = INVALID.iter().map(|(f, _)| f.to_string()).collect();
    listed.sort();
    assert_eq!(files, listed);
    assert!(files.len() >= 18);
}

#[test]
fn error_fields_match_the_display() {
    let err = mailquake::scenario::load(&invalid("rate_not_a_rate.yaml")).unwrap_err();
    assert_eq!((err.line, err.col), (8, 20));
    assert_eq!(err.path, "load.steps[0].rate");
    assert_eq!(
        err.message,
        "invalid rate `fast`: expected a number per unit, e.g. 200/s, 12000/m"
    );
}

/// Far above what validating takes; a command that hangs fails here.
const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn binary_exits_2_with_one_line_per_invalid_file() {
    for (file, _) in INVALID {
        let path = invalid(file);
        let out = mailquake_os(&["validate".as_ref(), path.as_os_str()]).run(LIMIT);
        let stderr = out.stderr.as_str();
        assert_eq!(out.code, Some(2), "{file}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{file}: {stderr:?}");
        assert!(stderr.ends_with('\n'), "{file}: {stderr:?}");
        let prefix = format!("{}:", path.display());
        let rest = stderr
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("{stderr}"));
        let line = rest.split(':').next().unwrap();
        assert!(
            line.parse::<u32>().is_ok_and(|n| n > 0),
            "{file}: no :LINE: in {stderr}"
        );
        assert!(out.stdout.is_empty(), "{file}");
    }
}

#[test]
fn binary_exits_2_for_a_missing_file() {
    let out = mailquake_os(&["validate".as_ref(), "no/such/file.yaml".as_ref()]).run(LIMIT);
    assert_eq!(out.code, Some(2));
    let stderr = out.stderr.as_str();
    assert!(
        stderr.starts_with("no/such/file.yaml: cannot read: "),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1);
}

const VALID: &str = "\
version: 1
name: valid
remotes:
  ok: { domains: [ok.test] }
  down: { domains: [down.test] }
load:
  steps: [ { rate: 100/s, for: 1m } ]
  mix: { ok.test: 90%, down.test: 10% }
faults:
  - { remote: down, at: 10s, for: 20s, fault: refuse }
checks:
  - { isolation: { healthy: [ok.test], during: faults, p99: 5s } }
  - { drain: { domain: down.test, within: 30s } }
  - no_loss
";

#[test]
fn binary_exits_0_for_a_valid_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("valid.yaml");
    std::fs::write(&path, VALID).unwrap();
    let out = mailquake_os(&["validate".as_ref(), path.as_os_str()]).run(LIMIT);
    let stdout = out.stdout.as_str();
    assert_eq!(out.code, Some(0), "{}", out.stderr.as_str());
    assert_eq!(
        stdout,
        format!(
            "{}: ok (3 remotes (ok, down, bounces), embedded cluster of 3 nodes \
             (per-destination), 6000 messages over 1m, 1 fault, 3 checks (isolation, drain, \
             no_loss))\n\
             wall clock: load 1m (0s → 1m)\n  \
             fault remote down refuse: 10s → 30s\n  \
             settle: up to 1m, ends by 2m after load start\n  \
             longest run: 2m (load and settle 2m)\n  \
             plus the load's last messages, if still in flight when settle ends: each \
             connect up to 5s, each SMTP reply up to 30s\n",
            path.display()
        )
    );
}

/// An external target: the longest run adds the reachability check (5 s an endpoint,
/// in turn), the routing preflight's wait and the target watch's end to load and settle.
#[test]
fn validate_states_the_waits_of_an_external_target() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("external.yaml");
    let text = VALID.replace(
        "load:",
        "target: { smtp: [127.0.0.1:2525, 127.0.0.1:2526] }\npreflight: { timeout: 20s }\nsettle: 15s\nload:",
    );
    std::fs::write(&path, text).unwrap();
    let out = mailquake_os(&["validate".as_ref(), path.as_os_str()]).run(LIMIT);
    assert_eq!(out.code, Some(0), "{}", out.stderr.as_str());
    let longest = out
        .stdout
        .as_str()
        .lines()
        .find(|l| l.starts_with("  longest run: "))
        .unwrap_or_else(|| panic!("{}", out.stdout.as_str()))
        .to_string();
    assert_eq!(
        longest,
        "  longest run: 1m 50s (before the load: target reachability (2 × 5s) 10s, \
         routing preflight (unless --skip-preflight) 20s; load and settle 1m 15s; \
         after: the target's watch 5s)"
    );
}

/// The scenarios shipped in `scenarios/` and the complete examples in its README (the
/// ```yaml blocks that start with `version: 1`) must stay valid as the format evolves.
#[test]
fn shipped_scenarios_and_readme_examples_are_valid() {
    let mut checked = 0;
    for entry in std::fs::read_dir("scenarios").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            if let Err(e) = mailquake::scenario::load(&path) {
                panic!("{e}");
            }
            checked += 1;
        }
    }
    let readme = std::fs::read_to_string("scenarios/README.md").unwrap();
    for (i, block) in readme.split("```yaml\n").skip(1).enumerate() {
        let block = block.split("```").next().unwrap();
        if block.starts_with("version: 1") {
            let name = format!("scenarios/README.md#example{i}");
            if let Err(e) = mailquake::scenario::parse(block, Path::new(&name)) {
                panic!("{e}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 1, "the README has at least one complete example");
}

// Parameters without editing the file: `--set KEY=VALUE` and `${NAME}` /
// `${NAME:-default}` from the environment. Every rule still runs on the resolved values,
// errors point at the file's line and column (or name the `--set`), and a run saves the
// resolved scenario.yaml.

#[test]
fn validate_takes_sets_and_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("params.yaml");
    // The valid scenario with two of its values left to the environment.
    let text = VALID
        .replace("rate: 100/s", "rate: ${RATE:-100/s}")
        .replace("within: 30s", "within: \"${DRAIN}\"");
    std::fs::write(&file, text).unwrap();
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
        // A valid file: its first line (the wall-clock plan follows).
        let line = if code == 0 {
            stdout
                .lines()
                .next()
                .map(|l| format!("{l}\n"))
                .unwrap_or_default()
        } else {
            stderr
        };
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

/// A reader that has gone away (`mailquake validate FILE | head -0`) ends the command
/// quietly, by SIGPIPE as it ends `cat` — not with a panic on the broken pipe.
#[test]
fn validate_into_a_closed_pipe_ends_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("valid.yaml");
    std::fs::write(&path, VALID).unwrap();
    // The reading end is closed before the command starts: its first write fails.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mailquake"))
        .arg("validate")
        .arg(&path)
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "validate never ended");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        status.signal(),
        Some(13),
        "ended by SIGPIPE: {status:?} {stderr}"
    );
}
