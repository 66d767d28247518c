//! Destinations stay apart: each remote listens on its own loopback address by default
//! (`mailquake remotes` shows them, `mailquake routes` prints them), and mail that
//! reaches a remote not serving its domain is misrouted — never delivered — and fails
//! the run in every output.

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::binary::mailquake_os;

const WAIT: Duration = Duration::from_secs(10);

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn remotes_listen_on_their_own_loopback_addresses_by_default() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailquake"))
        .arg("remotes")
        .arg(root().join("tests/scenarios/runs/served-remotes.yaml"))
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
    // `mailquake: remote NAME listening on IP:PORT (domains)`, then the API line.
    let mut listening: Vec<(String, SocketAddr)> = Vec::new();
    let deadline = Instant::now() + WAIT;
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("mailquake remotes prints where it listens in time");
        if line.contains("control API") {
            break;
        }
        let Some(rest) = line.strip_prefix("mailquake: remote ") else {
            continue;
        };
        let (name, rest) = rest.split_once(" listening on ").expect("listening line");
        let addr = rest.split(' ').next().unwrap().parse().expect("IP:PORT");
        listening.push((name.to_string(), addr));
    }
    let _ = child.kill();
    let _ = child.wait();
    let ips: Vec<(&str, IpAddr)> = listening
        .iter()
        .map(|(n, a)| (n.as_str(), a.ip()))
        .collect();
    let want: Vec<(&str, IpAddr)> = [
        ("ok", "127.0.1.1"),
        ("other", "127.0.1.2"),
        ("down", "127.0.1.3"),
        ("bounces", "127.0.1.4"),
    ]
    .into_iter()
    .map(|(n, ip)| (n, ip.parse().unwrap()))
    .collect();
    assert_eq!(ips, want, "{listening:?}");
    assert!(listening.iter().all(|(_, a)| a.port() != 0));
}

#[test]
fn routes_prints_each_remote_on_its_own_address() {
    let o = mailquake_os(&[
        "routes".as_ref(),
        root().join("scenarios/postfix/outage.yaml").as_os_str(),
        "--format".as_ref(),
        "postfix".as_ref(),
    ])
    .run(WAIT);
    assert_eq!(o.code, Some(0));
    let map = &o.stdout;
    for line in [
        "# remote ok listens on 127.0.1.1:3001 (ok.test)",
        "ok.test\tsmtp:[127.0.1.1]:3001",
        "down.test\tsmtp:[127.0.1.2]:3002",
        "bounces.test\tsmtp:[127.0.1.3]:3099",
    ] {
        assert!(
            map.lines().any(|l| l == line),
            "{line:?} missing from:\n{map}"
        );
    }
}

/// A "cluster" that hands every message to remote `ok` (the target is `ok` itself):
/// `ok` refuses the recipients of down.test with 550 5.7.1; they are misrouted, the
/// always-on `routing` check fails the run (exit 1), and the figures are in the
/// summary, the terminal, and the re-rendered report.
#[test]
fn mail_handed_to_the_wrong_remote_is_misrouted_and_fails_the_run() {
    // A free port on ok's own address, for both the remote and the target.
    let port = std::net::TcpListener::bind("127.0.1.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.1.1")
        .port();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("misrouted.yaml");
    std::fs::write(
        &file,
        format!(
            "version: 1\nname: t-misrouted\ntarget:\n  smtp: [127.0.1.1:{port}]\n\
             remotes:\n  ok: {{ domains: [ok.test], listen: 127.0.1.1:{port} }}\n  down: {{ domains: [down.test] }}\n\
             load:\n  steps: [ {{ rate: 20/s, for: 1s }} ]\n  mix: {{ ok.test: 50%, down.test: 50% }}\n\
             checks: [ no_loss ]\nsettle: 5s\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = mailquake_os(&[
        "run".as_ref(),
        file.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
        // The routing preflight would stop this run before the load (its canary for
        // down.test is refused by `ok`): here the accounting of the load is tested.
        "--skip-preflight".as_ref(),
    ])
    .run(Duration::from_secs(60));
    let stdout = &o.stdout;
    assert_eq!(o.code, Some(1), "{stdout}");
    let s: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["verdict"], "fail");
    let misrouted = s["totals"]["misrouted"].as_u64().unwrap();
    assert!(misrouted > 0, "{s}");
    assert_eq!(
        s["misrouted"],
        serde_json::json!([{ "remote": "ok", "domain": "down.test", "messages": misrouted }])
    );
    assert_eq!(s["remotes"]["ok"]["relay_denied"].as_u64(), Some(misrouted));
    let routing = s["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "routing")
        .expect("a routing finding");
    assert_eq!(routing["status"], "fail");
    assert!(
        stdout.contains(&format!("misrouted {misrouted} for down.test reached `ok`")),
        "{stdout}"
    );
    crate::support::reports::assert_rerenders_identically(&out);
}
