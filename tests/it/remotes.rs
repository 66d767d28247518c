//! `mailquake remotes` and runs attached to remotes served elsewhere: a run of a short
//! scenario against `mailquake remotes` in a separate process (faults applied through
//! the API and healed, also on SIGTERM), the one-line errors and exit codes of attaching
//! (2: the scenario does not fit what is served; 3: no API there), and what is checked
//! offline.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

const WAIT: Duration = Duration::from_secs(10);

pub(crate) fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scenarios/runs")
        .join(name)
}

/// `mailquake remotes FILE --api 127.0.0.1:0`, killed when dropped.
pub(crate) struct Served {
    child: Child,
    pub(crate) api: SocketAddr,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn serve(file: &Path) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailquake"))
        .arg("remotes")
        .arg(file)
        .args(["--api", "127.0.0.1:0"])
        .env_remove("MAILQUAKE_REMOTES_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mailquake remotes");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let prefix = "mailquake: control API on http://";
    let deadline = Instant::now() + WAIT;
    let api = loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("mailquake remotes prints its API address in time");
        if let Some(rest) = line.strip_prefix(prefix) {
            break rest.split('/').next().unwrap().parse().unwrap();
        }
    };
    Served { child, api }
}

/// One plain HTTP/1.1 request without a body; (status, body).
pub(crate) fn http(api: SocketAddr, method: &str, path: &str) -> (u16, String) {
    request(api, method, path, "")
}

/// One plain HTTP/1.1 request; (status, body).
pub(crate) fn request(api: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect_timeout(&api, WAIT).expect("connect to the API");
    s.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text)
        .expect("the API answers in time");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    (head[9..12].parse().unwrap(), body.to_string())
}

pub(crate) fn remotes(api: SocketAddr) -> Value {
    let (status, body) = http(api, "GET", "/remotes");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// The attached scenario, pointed at `api`, written into `dir`.
pub(crate) fn attached(dir: &Path, api: &str, edit: impl Fn(String) -> String) -> PathBuf {
    let text = std::fs::read_to_string(scenario("attached.yaml"))
        .unwrap()
        .replace("API_URL", api);
    let file = dir.join("attached.yaml");
    std::fs::write(&file, edit(text)).unwrap();
    file
}

/// `mailquake ARGS`, killed if it outlives `limit`.
pub(crate) fn mailquake(args: &[&std::ffi::OsStr], limit: Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailquake"))
        .args(args)
        .env_remove("MAILQUAKE_REMOTES_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mailquake");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("mailquake {args:?} took longer than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn a_run_attached_to_mailquake_remotes_applies_its_faults_through_the_api_and_heals_them() {
    let served = serve(&scenario("served-remotes.yaml"));
    let dir = tempfile::tempdir().unwrap();
    let file = attached(dir.path(), &format!("http://{}", served.api), |t| t);
    let out = dir.path().join("out");
    let o = mailquake(
        &[
            "run".as_ref(),
            file.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
        ],
        Duration::from_secs(40),
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["verdict"], "pass", "{summary}");
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
    let v = mailquake(&["validate".as_ref(), file.as_os_str()], WAIT);
    assert_eq!(
        v.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&v.stderr)
    );
    assert!(String::from_utf8_lossy(&v.stdout).contains(&format!("remotes served at {url}")));

    let o = mailquake(
        &[
            "run".as_ref(),
            file.as_os_str(),
            "--out".as_ref(),
            dir.path().join("o").as_os_str(),
        ],
        WAIT,
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
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
    let o = mailquake(
        &[
            "run".as_ref(),
            file.as_os_str(),
            "--out".as_ref(),
            dir.path().join("o").as_os_str(),
        ],
        WAIT,
    );
    assert_eq!(o.status.code(), Some(3));
    // The scenario's own warnings (a baseline too short for steady_state) come first.
    let stderr = String::from_utf8_lossy(&o.stderr);
    let err: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.contains(": warning: "))
        .collect();
    let err = err.join("\n");
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
    let o = mailquake(&["remotes".as_ref(), file.as_os_str()], WAIT);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "remotes.external: this scenario attaches to remotes served at http://127.0.0.1:8025"
        ),
        "{err}"
    );

    let served = scenario("served-remotes.yaml");
    let o = mailquake(
        &[
            "remotes".as_ref(),
            served.as_os_str(),
            "--api".as_ref(),
            "0.0.0.0:0".as_ref(),
        ],
        WAIT,
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("not loopback-only") && err.contains("--token"),
        "{err}"
    );

    let help = mailquake(&["remotes".as_ref(), "--help".as_ref()], WAIT);
    let help = String::from_utf8_lossy(&help.stdout);
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
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailquake"))
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(dir.path().join("out"))
        .env_remove("MAILQUAKE_REMOTES_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let down = |all: &Value| {
        all["remotes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "down")
            .unwrap()
            .clone()
    };
    let deadline = Instant::now() + WAIT;
    while down(&remotes(served.api))["faults"] != serde_json::json!(["blackhole"]) {
        assert!(
            Instant::now() < deadline,
            "the run's fault was never applied"
        );
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let code = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st.code();
        }
        assert!(
            Instant::now() < deadline + WAIT,
            "did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(code, Some(3));
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
