//! `mailquake remotes` and runs attached to remotes served elsewhere: a run of a short
//! scenario against `mailquake remotes` in a separate process (faults applied through
//! the API and healed, also on SIGTERM), the one-line errors and exit codes of attaching
//! (2: the scenario does not fit what is served; 3: no API there), and what is checked
//! offline.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::support::binary::{mailquake_os, mailquake_run};
use crate::support::remotes::{attached, http, remotes, serve};
use crate::support::summary::Summary;
use crate::support::{scenario, wait_until};

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn a_run_attached_to_mailquake_remotes_applies_its_faults_through_the_api_and_heals_them() {
    let served = serve(&scenario("served-remotes.yaml"));
    let dir = tempfile::tempdir().unwrap();
    let file = attached(dir.path(), &format!("http://{}", served.api), |t| t);
    let out = dir.path().join("out");
    let o = mailquake_run(&file, &out).run(Duration::from_secs(40));
    let stdout = o.stdout.as_str();
    let stderr = o.stderr.as_str();
    assert_eq!(o.code, Some(0), "{stdout}\n{stderr}");
    let summary = Summary::read(&out);
    assert_eq!(summary.verdict, "pass", "{summary}");
    assert_eq!(
        summary["totals"]["accepted"],
        summary["totals"]["delivered"]
    );
    assert!(
        summary["totals"]["delivered"].as_u64().unwrap() > 500,
        "{summary}"
    );
    // The ledger was fed from the remotes' event stream.
    assert!(
        summary["remotes"]["down"]["faults_fired"].as_u64().unwrap() >= 1,
        "{summary}"
    );
    assert!(
        stderr.contains("attached to 4 remotes served at http://"),
        "{stderr}"
    );

    // The refuse was applied over there, and healed: nothing in force now.
    let (status, events) = http(served.api, "GET", "/events?after=0&limit=100000");
    assert_eq!(status, 200);
    assert!(
        events
            .lines()
            .any(|l| l.contains("\"remote\":\"down\"") && l.contains("\"fault\":\"refuse\"")),
        "the remote reported the refuse"
    );
    let after = remotes(served.api);
    for r in after["remotes"].as_array().unwrap() {
        assert_eq!(r["faults"], serde_json::json!([]), "healed: {r}");
    }
    let down = after["remotes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "down")
        .unwrap();
    assert_eq!(down["set_by"], "api", "the run switched it: {down}");
    let ok = after["remotes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "ok")
        .unwrap();
    assert_eq!(
        ok["set_by"], "timeline",
        "a remote the run never faulted is left alone: {ok}"
    );
    assert_eq!(
        ok["counters"]["messages"],
        summary["remotes"]["ok"]["messages"]
    );

    // Judged again from the folder (the saved scenario names only the API; run.json
    // keeps the remotes found there): the same verdict, check by check — `drain` finds
    // the remote serving down.test again.
    let again = mailquake_os(&["report".as_ref(), out.as_os_str()]).run(WAIT);
    assert_eq!(again.code, Some(0), "{again:?}");
    let rejudged = Summary::read(&out);
    assert_eq!(rejudged.verdict, "pass", "{rejudged}");
    for check in ["isolation", "drain", "no_loss", "no_duplicates", "nodes"] {
        let (was, is) = (summary.check(check), rejudged.check(check));
        assert_eq!(
            (&is["status"], &is["observed"]),
            (&was["status"], &was["observed"]),
            "{check}"
        );
    }
}

#[test]
fn attaching_checks_the_scenario_against_what_is_served_exit_2() {
    let served = serve(&scenario("served-remotes.yaml"));
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://{}", served.api);
    let file = attached(dir.path(), &url, |t| {
        t.replace("remote: down, at", "remote: dwn, at")
    });
    // Offline, the remote names are unknown: valid.
    let v = mailquake_os(&["validate".as_ref(), file.as_os_str()]).run(WAIT);
    assert_eq!(v.code, Some(0), "{}", v.stderr.as_str());
    assert!(v
        .stdout
        .as_str()
        .contains(&format!("remotes served at {url}")));

    let o = mailquake_run(&file, &dir.path().join("o")).run(WAIT);
    assert_eq!(o.code, Some(2));
    let err = o.stderr.as_str();
    let last = err.trim().lines().last().unwrap();
    assert_eq!(
        last,
        format!("{}:15:15: faults[0].remote: no remote named `dwn` (remotes: bounces, down, ok, other) — checked against the remotes served at {url}", file.display())
    );
    let nothing = remotes(served.api);
    for r in nothing["remotes"].as_array().unwrap() {
        assert_eq!(r["set_by"], "timeline", "nothing was touched: {r}");
    }
}

#[test]
fn an_unreachable_control_api_exits_3_with_one_line() {
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = attached(dir.path(), &format!("http://{free}"), |t| t);
    let o = mailquake_run(&file, &dir.path().join("o")).run(WAIT);
    assert_eq!(o.code, Some(3));
    // The scenario's own warnings (a baseline too short for steady_state) come first.
    let err: Vec<&str> = o
        .stderr
        .lines()
        .filter(|l| !l.contains(": warning: "))
        .collect();
    let err = err.join("\n");
    let err = err.as_str();
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "mailquake: remotes: the control API at http://{free} unreachable:"
        )),
        "{err}"
    );
}

#[test]
fn mailquake_remotes_refuses_what_it_cannot_serve_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = attached(dir.path(), "http://127.0.0.1:8025", |t| t);
    let o = mailquake_os(&["remotes".as_ref(), file.as_os_str()]).run(WAIT);
    assert_eq!(o.code, Some(2));
    let err = o.stderr.as_str();
    assert!(
        err.contains(
            "remotes.external: this scenario attaches to remotes served at http://127.0.0.1:8025"
        ),
        "{err}"
    );

    let served = scenario("served-remotes.yaml");
    let o = mailquake_os(&[
        "remotes".as_ref(),
        served.as_os_str(),
        "--api".as_ref(),
        "0.0.0.0:0".as_ref(),
    ])
    .run(WAIT);
    assert_eq!(o.code, Some(2));
    let err = o.stderr.as_str();
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("not loopback-only") && err.contains("--token"),
        "{err}"
    );

    let help = mailquake_os(&["remotes".as_ref(), "--help".as_ref()]).run(WAIT);
    let help = help.stdout.as_str();
    assert!(
        help.contains("Serve the scenario's fake remotes standalone"),
        "{help}"
    );
}

#[test]
fn the_external_form_is_checked_offline() {
    let table = [
        ("remotes: { external: 'https://mq:8025' }", "1:22: remotes.external: invalid URL `https://mq:8025`: https is not supported: the control API speaks plain HTTP (keep it on loopback or a private network, with a token)"),
        ("remotes: { external: 'mq:8025' }", "1:22: remotes.external: invalid URL `mq:8025`: expected the control API's address, http://HOST:PORT, e.g. http://127.0.0.1:8025"),
        ("remotes: { external: 'http://mq:8025', ok: { domains: [ok.test] } }", "1:40: remotes.ok: with `external`, the remotes are served elsewhere: declare them there; only `token` and `lease` may stand beside `external`"),
        ("remotes: { token: abc, ok: { domains: [ok.test] } }", "1:12: remotes.token: `token` goes with `external: URL` (remotes served elsewhere); `token` cannot name a remote"),
        ("remotes: { external: 'http://mq:8025', token: 'a b' }", "1:47: remotes.token: a token is one word: no spaces, not empty"),
        ("remotes: { lease: 10s, ok: { domains: [ok.test] } }", "1:12: remotes.lease: `lease` goes with `external: URL` (remotes served elsewhere); `lease` cannot name a remote"),
        ("remotes: { external: 'http://mq:8025', lease: soon }", "1:47: remotes.lease: invalid duration `soon`: expected a number and a unit, e.g. 500ms, 30s, 2m"),
    ];
    for (remotes, want) in table {
        let text = format!(
            "version: 1\nname: x\n{remotes}\nload: {{ steps: [ {{ rate: 1/s, for: 1s }} ], mix: {{ ok.test: 100% }} }}\nchecks: [ no_loss ]\n"
        );
        let err = mailquake::scenario::parse(&text, Path::new("x.yaml"))
            .unwrap_err()
            .to_string();
        let want = format!("x.yaml:{}", want.replacen("1:", "3:", 1));
        assert_eq!(err, want);
    }
    let text = "version: 1\nname: x\nremotes: { external: 'http://mq.example:8025/', token: s3cret }\nload: { steps: [ { rate: 1/s, for: 1s } ], mix: { ok.test: 100% } }\nchecks: [ { drain: { domain: ok.test, within: 5s } } ]\n";
    let plan = mailquake::scenario::parse(text, Path::new("x.yaml")).expect("valid offline");
    let ext = plan.external_remotes.expect("external");
    assert_eq!(
        (ext.url.as_str(), ext.token.as_deref(), ext.lease),
        (
            "http://mq.example:8025",
            Some("s3cret"),
            Duration::from_secs(30)
        ),
        "the lease is 30s unless given"
    );
    let leased = text.replace("token: s3cret", "lease: 1m");
    let plan = mailquake::scenario::parse(&leased, Path::new("x.yaml")).expect("valid offline");
    assert_eq!(
        plan.external_remotes.unwrap().lease,
        Duration::from_secs(60)
    );
    assert!(plan.remotes.is_empty());
    assert!(
        !format!("{ext:?}").contains("s3cret"),
        "the token stays out of debug output"
    );
}

#[test]
fn sigterm_during_an_attached_run_heals_the_remotes_it_faulted() {
    let served = serve(&scenario("served-remotes.yaml"));
    let dir = tempfile::tempdir().unwrap();
    let file = attached(dir.path(), &format!("http://{}", served.api), |t| {
        t.replace(
            "at: 1s, for: 3s, fault: refuse",
            "at: 1s, for: 4s, fault: blackhole",
        )
    });
    let out = dir.path().join("out");
    let mut run = mailquake_run(&file, &out).start();
    let down = |all: &Value| {
        all["remotes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "down")
            .unwrap()
            .clone()
    };
    wait_until(WAIT, "the run's fault applied", || {
        assert!(run.running(), "the run ended early");
        down(&remotes(served.api))["faults"] == serde_json::json!(["blackhole"])
    });
    run.signal("TERM");
    let (code, _, stderr) = run.exit(WAIT).parts();
    assert_eq!(code, Some(3), "{stderr}");
    let after = down(&remotes(served.api));
    assert_eq!(after["faults"], serde_json::json!([]), "healed: {after}");
    let journal = std::fs::read_to_string(dir.path().join("out/actions.journal")).unwrap();
    assert!(
        journal
            .lines()
            .last()
            .unwrap()
            .contains("\"record\":\"finished\""),
        "healed and recorded: {journal}"
    );
}

/// The remotes' counters mean the same wherever they are read: summary.json (fed from
/// the remotes' event stream), `GET /remotes` and `/metrics` of the process serving them
/// agree on every counter of every remote, `rejected` included (a 451 at the final dot
/// on `down` for 3 s makes it non-zero).
#[test]
fn remote_counters_agree_in_summary_json_get_remotes_and_metrics() {
    let served = serve(&scenario("served-remotes.yaml"));
    let dir = tempfile::tempdir().unwrap();
    let file = attached(dir.path(), &format!("http://{}", served.api), |t| {
        t.replace(
            "fault: refuse }",
            "fault: { reply: { stage: dot, code: 451 } } }",
        )
    });
    let out = dir.path().join("out");
    let o = mailquake_run(&file, &out).run(Duration::from_secs(40));
    assert!(matches!(o.code, Some(0 | 1)), "{}\n{}", o.stdout, o.stderr);
    let summary = Summary::read(&out);
    let served_now = remotes(served.api);
    let (status, metrics) = http(served.api, "GET", "/metrics");
    assert_eq!(status, 200, "{metrics}");
    let names = [
        "connections",
        "rcpts",
        "messages",
        "rejected",
        "faults_fired",
        "relay_denied",
    ];
    for r in served_now["remotes"].as_array().unwrap() {
        let name = r["name"].as_str().unwrap();
        for counter in names {
            let api = r["counters"][counter].as_u64().unwrap();
            let in_summary = summary["remotes"][name][counter].as_u64().unwrap_or(0);
            let line = format!("fake_remotes_{counter}_total{{remote=\"{name}\"}} {api}");
            assert_eq!(
                in_summary, api,
                "{name}.{counter}: summary.json vs GET /remotes"
            );
            assert!(
                metrics.lines().any(|l| l == line),
                "no `{line}` in:\n{metrics}"
            );
        }
    }
    assert!(
        summary["remotes"]["down"]["rejected"].as_u64().unwrap() > 0,
        "the 451 at dot was counted: {summary}"
    );
}

/// A file with only `remotes` (no `load`, no `checks`), served with `--api
/// localhost:0`: the name is resolved to loopback, the remotes are served, and the test
/// CA's file — in a folder of the process's own under TMPDIR — is gone after each stop
/// signal, whichever it is.
#[test]
fn mailquake_remotes_serves_a_remotes_only_file_on_a_host_name_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("remotes-only.yaml");
    std::fs::write(
        &file,
        "remotes:\n  ok: { domains: [ok.test] }\n  down: { domains: [down.test] }\nfaults:\n  - { remote: down, at: 0s, fault: refuse }\n",
    )
    .unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    for signal in ["INT", "TERM", "HUP"] {
        let mut proc = mailquake_os(&[
            "remotes".as_ref(),
            file.as_os_str(),
            "--api".as_ref(),
            "localhost:0".as_ref(),
        ])
        .env("TMPDIR", Some(tmp.to_str().unwrap()))
        .start();
        let prefix = "mailquake: STARTTLS test CA in ";
        let line = proc.wait_stdout(prefix);
        let ca = line[line.find(prefix).unwrap() + prefix.len()..]
            .split(" (removed at exit")
            .next()
            .unwrap()
            .to_string();
        let ca = Path::new(&ca);
        assert!(ca.starts_with(&tmp), "{line}");
        let pem = std::fs::read_to_string(ca).unwrap();
        let prefix = "mailquake: control API on http://";
        let line = proc.wait_stdout(prefix);
        let api: std::net::SocketAddr = line[line.find(prefix).unwrap() + prefix.len()..]
            .split('/')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(api.ip().is_loopback(), "{line}");
        // The file holds the CA the API serves (one per process).
        assert_eq!(http(api, "GET", "/tls/ca.pem"), (200, pem));
        let served = remotes(api);
        let names: Vec<&str> = served["remotes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["ok", "down", "bounces"], "{served}");
        let down = &served["remotes"][1];
        assert_eq!(down["faults"], serde_json::json!(["refuse"]), "{down}");

        proc.signal(signal);
        let (code, _, stderr) = proc.exit(WAIT).parts();
        assert_eq!(code, Some(0), "SIG{signal}: {stderr}");
        let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
        assert!(left.is_empty(), "SIG{signal} left {left:?}");
    }
}

/// The token rule holds for names: one that resolves to an address that is not loopback
/// (`0` is 0.0.0.0, resolved without DNS) needs `--token`; one that cannot be an
/// address is refused on one line. Both exit 2.
#[test]
fn an_api_name_for_a_non_loopback_address_needs_the_token() {
    let served = scenario("served-remotes.yaml");
    for (api, want) in [
        ("0:0", "not loopback-only"),
        (
            "localhost",
            "mailquake: --api localhost: expected HOST:PORT",
        ),
    ] {
        let o = mailquake_os(&[
            "remotes".as_ref(),
            served.as_os_str(),
            "--api".as_ref(),
            api.as_ref(),
        ])
        .env("MAILQUAKE_REMOTES_TOKEN", None)
        .run(WAIT);
        let err = o.stderr.as_str();
        assert_eq!(o.code, Some(2), "{api}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(want), "{api}: {err}");
    }
}
