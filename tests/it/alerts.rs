//! `alert` checks over a real socket: a tiny fake Prometheus on 127.0.0.1:0 answers
//! `GET /api/v1/rules?type=alert` from a scripted timeline (seconds since its first
//! request, which is the run's start-up poll), and a run against the embedded cluster
//! with a node fault judges it: fired and resolved in time passes, a false alarm fails,
//! no Prometheus at start is exit 3 with one line, and `mailquake report DIR` judges
//! the saved polls again the same.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::binary::{mailquake_run, Finished, WAIT};
use crate::support::reports::assert_rerenders_identically;
use crate::support::summary::Summary;

/// A fake Prometheus serving one alerting rule, `Backlog`, whose instance on `node`
/// is firing in the scripted windows (seconds since the first request).
struct FakePrometheus {
    addr: SocketAddr,
    polls: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl FakePrometheus {
    fn start(firing: &'static [(f64, f64)], node: &'static str) -> FakePrometheus {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let polls = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, stopped) = (polls.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut first: Option<Instant> = None;
            for conn in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(mut conn) = conn else { continue };
                let t = first
                    .get_or_insert_with(Instant::now)
                    .elapsed()
                    .as_secs_f64();
                let on = firing.iter().any(|&(a, b)| a <= t && t < b);
                answer(&mut conn, on, node);
                count.fetch_add(1, Ordering::SeqCst);
            }
        });
        FakePrometheus { addr, polls, stop }
    }
}

impl Drop for FakePrometheus {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

/// Reads one request (bounded) and answers the rules API.
fn answer(conn: &mut TcpStream, firing: bool, node: &str) {
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 64 * 1024 {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    assert!(
        request.starts_with(b"GET /api/v1/rules?type=alert "),
        "{}",
        String::from_utf8_lossy(&request)
    );
    let alerts = if firing {
        format!(r#"[{{"labels":{{"alertname":"Backlog","node":"{node}"}},"state":"firing"}}]"#)
    } else {
        "[]".to_string()
    };
    let body = format!(
        r#"{{"status":"success","data":{{"groups":[{{"name":"mq","rules":[{{"type":"alerting","name":"Backlog","alerts":{alerts}}}]}}]}}}}"#
    );
    let _ = write!(
        conn,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// A 10 s load on the embedded cluster; n2 stuck from 3 s to 7 s; the alert must fire
/// within 3 s of 3 s and resolve within 3 s of 7 s.
fn scenario(dir: &Path, prometheus: &str) -> PathBuf {
    let file = dir.join("alert.yaml");
    std::fs::write(
        &file,
        format!(
            r#"version: 1
name: alert-check
target: {{ embedded: {{ nodes: 2 }} }}
remotes:
  ok: {{ domains: [ok.test] }}
load:
  steps: [ {{ rate: 40/s, for: 10s }} ]
  mix: {{ ok.test: 100% }}
faults:
  - {{ node: n2, at: 3s, for: 4s, fault: stuck }}
checks:
  - alert:
      prometheus: "{prometheus}"
      name: Backlog
      labels: {{ node: n2 }}
      during: n2
      fires_within: 3s
      resolves_within: 3s
  - no_loss
settle: 20s
"#
        ),
    )
    .unwrap();
    file
}

/// Runs the scenario against a fake Prometheus firing in `firing` on `node`: the run,
/// its output folder (in the kept temporary folder) and how many polls it answered.
fn run_against(
    firing: &'static [(f64, f64)],
    node: &'static str,
) -> (Finished, PathBuf, tempfile::TempDir, usize) {
    let prom = FakePrometheus::start(firing, node);
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), &format!("http://{}", prom.addr));
    let out = dir.path().join("out");
    let run = mailquake_run(&file, &out).run(WAIT);
    let polls = prom.polls.load(Ordering::SeqCst);
    (run, out, dir, polls)
}

fn alert_detail(s: &Summary) -> String {
    s.check("alert")["detail"].as_str().unwrap().to_string()
}

#[test]
fn an_alert_that_fires_and_resolves_in_time_passes_and_rejudges_the_same() {
    // The fault is at 3–7 s of the run; the start-up poll comes a little before t0.
    let (run, out, _dir, polls) = run_against(&[(4.5, 8.5)], "n2");
    let s = Summary::read(&out);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(s.verdict, "pass", "{s}");
    let detail = alert_detail(&s);
    assert!(
        detail.contains("not firing before the fault, fired ")
            && detail.contains("resolved ")
            && detail.contains(", 0 failed"),
        "{detail}"
    );
    assert!(polls >= 10, "polled every second: {polls}");
    assert!(run.stdout.contains("alert"), "{}", run.stdout);
    // The polls were saved: the re-judged reports are the same.
    assert_rerenders_identically(&out);
}

#[test]
fn an_alert_firing_before_the_fault_is_a_false_alarm() {
    // Firing early (before 3 s), never during the fault.
    let (run, out, _dir, _) = run_against(&[(0.0, 2.0)], "n2");
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    let s = Summary::read(&out);
    assert_eq!(s.verdict, "fail", "{s}");
    let alert = s.check("alert");
    assert_eq!(alert["status"], "fail", "{s}");
    let detail = alert_detail(&s);
    assert!(
        detail.contains("before the fault on node n2 began at 3s: a false alarm")
            && detail.contains("never fired after the fault on node n2 began"),
        "{detail}"
    );
}

#[test]
fn an_alert_on_another_node_does_not_count() {
    let (run, out, _dir, _) = run_against(&[(4.5, 8.5)], "n1");
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    let detail = alert_detail(&Summary::read(&out));
    assert!(
        detail.contains("Backlog{node=\"n2\"} never fired"),
        "{detail}"
    );
}

#[test]
fn no_prometheus_at_start_is_exit_3_with_one_line() {
    // A port nothing listens on: bound, then closed.
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), &format!("http://{addr}"));
    let out = dir.path().join("out");
    let run = mailquake_run(&file, &out).run(WAIT);
    assert_eq!(run.code, Some(3), "{}\n{}", run.stdout, run.stderr);
    let line = format!("alert check: Prometheus at http://{addr}: unreachable");
    let lines: Vec<&str> = run.stderr.lines().filter(|l| l.contains(&line)).collect();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    // Nothing ran: the folder says so with an aborted verdict, never a pass.
    let summary = std::fs::read_to_string(out.join("summary.json")).unwrap();
    assert!(summary.contains(r#""verdict": "aborted""#), "{summary}");
    assert!(summary.contains(&line), "{summary}");
}
