//! The game-day live view in a real browser: a run attached to `mailquake remotes` with
//! `--live --live-control`, its page opened in headless Chromium (driven over the
//! DevTools protocol, `support/cdp.rs`). The figures on the page change while the run
//! goes and are those `/metrics` serves; the black-holed destination's backlog shows;
//! a real click on "Heal all" heals the remote (the remotes' own API says so), ends the
//! run early and is in summary.json, junit.xml, report.html and the verdict line; a page
//! opened late shows the run from its start. Skipped without Chromium unless
//! `MAILQUAKE_REQUIRE_CHROMIUM=1`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::binary::{mailquake_os, Proc};
use crate::support::cdp::{chromium, Browser};
use crate::support::remotes::{remotes, serve};
use crate::support::{scenario, wait_until};

const WAIT: Duration = Duration::from_secs(20);

/// Attached to `api`: a blackhole on `down` from 1 s for a minute, under 8 s of load.
fn scenario_at(dir: &Path, api: SocketAddr) -> std::path::PathBuf {
    let text = format!(
        "version: 1
name: t-live
seed: 7
target:
  embedded: {{ nodes: 2, queue: per-destination, retry: {{ min_backoff: 300ms, max_backoff: 1s }} }}
remotes: {{ external: http://{api} }}
load:
  steps: [ {{ rate: 40/s, for: 8s }} ]
  mix: {{ ok.test: 70%, down.test: 30% }}
  sessions: 50
faults:
  - {{ remote: down, at: 1s, for: 60s, fault: blackhole }}
checks:
  - {{ drain: {{ domain: down.test, within: 10s }} }}
  - no_loss
settle: 15s
"
    );
    let file = dir.join("live.yaml");
    std::fs::write(&file, text).unwrap();
    file
}

/// `mailquake run FILE --live 127.0.0.1:0 EXTRA…` started; the view's address, as
/// printed.
fn start_live(file: &Path, out: &Path, extra: &[&str]) -> (Proc, SocketAddr) {
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "run".as_ref(),
        file.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
        "--live".as_ref(),
        "127.0.0.1:0".as_ref(),
    ];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    let mut run = mailquake_os(&args).start();
    let line = run.wait_stderr("mailquake: live view: http://");
    let addr = line[line.find("http://").unwrap() + 7..]
        .trim()
        .trim_end_matches('/')
        .parse()
        .unwrap();
    (run, addr)
}

/// `GET path` on the live view; (status, body).
fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    send(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"),
    )
}

/// One raw HTTP/1.1 `request` to `addr`; (status, body).
fn send(addr: SocketAddr, request: &str) -> (u16, String) {
    let mut s = TcpStream::connect_timeout(&addr, WAIT).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    (head[9..12].parse().unwrap(), body.to_string())
}

/// A sample of `/metrics`' text, e.g. `mailquake_delivered_total{destination="ok.test"}`.
fn metric(text: &str, sample: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {sample} in\n{text}"))
        .parse()
        .unwrap()
}

fn faults_on(api: SocketAddr, remote: &str) -> Value {
    remotes(api)["remotes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == remote)
        .unwrap()["faults"]
        .clone()
}

#[test]
fn the_live_page_in_chromium_shows_the_run_and_heal_all_heals() {
    let Some(binary) = chromium() else {
        assert!(
            std::env::var_os("MAILQUAKE_REQUIRE_CHROMIUM").is_none(),
            "Chromium required but not found"
        );
        eprintln!(
            "SKIPPED the_live_page_in_chromium_shows_the_run_and_heal_all_heals: no chromium"
        );
        return;
    };
    let started = Instant::now();
    let served = serve(&scenario("served-remotes.yaml"));
    let dir = tempfile::tempdir().unwrap();
    let file = scenario_at(dir.path(), served.api);
    let out = dir.path().join("out");
    let (mut run, addr) = start_live(&file, &out, &["--live-control"]);
    let url = format!("http://{addr}/");

    let mut page = Browser::open(&binary, &url);
    // The fault in force, on the page and on the remote.
    page.wait_for(
        "document.querySelector('#timeline rect.in-force') !== null",
        WAIT,
    );
    assert_eq!(
        faults_on(served.api, "down"),
        serde_json::json!(["blackhole"])
    );

    // Figures on the page are /metrics' for the same snapshot.
    let delivered = "document.querySelector('[data-domain=\"ok.test\"] .delivered').textContent";
    let read = |page: &mut Browser| -> (String, f64, f64) {
        let v = page.eval(&format!(
            "[document.getElementById('t').textContent, Number({delivered}), Number(document.querySelector('[data-domain=\"down.test\"] .backlog').textContent)]"
        ));
        (
            v[0].as_str().unwrap().to_string(),
            v[1].as_f64().unwrap(),
            v[2].as_f64().unwrap(),
        )
    };
    let deadline = Instant::now() + WAIT;
    let (t1, ok1, backlog1) = loop {
        let (t, ok, backlog) = read(&mut page);
        let (_, text) = get(addr, "/metrics");
        let elapsed = metric(&text, "mailquake_elapsed_seconds");
        // A second into the black hole (from 1 s), mail for it has piled up.
        if format!("{elapsed:.1}") == t && elapsed >= 2.0 {
            assert_eq!(
                ok,
                metric(&text, "mailquake_delivered_total{destination=\"ok.test\"}"),
                "the page and /metrics at {t} s"
            );
            assert_eq!(
                backlog,
                metric(
                    &text,
                    "mailquake_backlog_messages{destination=\"down.test\"}"
                )
            );
            break (t, ok, backlog);
        }
        assert!(
            Instant::now() < deadline,
            "the page never showed /metrics' snapshot"
        );
    };
    assert!(
        backlog1 > 0.0,
        "the black-holed destination's backlog shows at {t1} s"
    );
    // A few seconds on, the figures have moved.
    page.wait_for(
        &format!("Number(document.getElementById('t').textContent) >= {t1} + 2"),
        WAIT,
    );
    let (t2, ok2, backlog2) = read(&mut page);
    assert!(
        ok2 > ok1,
        "ok.test delivered {ok1} at {t1} s, {ok2} at {t2} s"
    );
    assert!(
        backlog2 >= backlog1,
        "backlog rises: {backlog1} → {backlog2}"
    );

    // The charts are report.html's sections, drawn from the ledger so far, and they
    // move: a later drawing reaches further and differs.
    page.wait_for(
        "document.querySelector('#report-charts svg#chart-backlog') !== null && window.mq.charts_t_ms > 0",
        WAIT,
    );
    let drawn = |page: &mut Browser| -> (u64, String, Vec<String>) {
        let v = page.eval(
            "[window.mq.charts_t_ms, document.querySelector('#report-charts svg#chart-flow').outerHTML, [...document.querySelectorAll('#report-charts svg.chart')].map((s) => s.id)]",
        );
        (
            v[0].as_u64().unwrap(),
            v[1].as_str().unwrap().to_string(),
            v[2].as_array()
                .unwrap()
                .iter()
                .map(|i| i.as_str().unwrap().to_string())
                .collect(),
        )
    };
    let (c1, flow1, live_ids) = drawn(&mut page);
    page.wait_for(&format!("window.mq.charts_t_ms >= {c1} + 1500"), WAIT);
    let (c2, flow2, _) = drawn(&mut page);
    assert_ne!(flow1, flow2, "the flow chart at {c1} ms and {c2} ms");

    // A real click on "Heal all": the remote is healthy, as its own API says.
    page.click("#heal-all");
    wait_until(WAIT, "down healed by Heal all", || {
        faults_on(served.api, "down") == serde_json::json!([])
    });
    page.wait_for(
        "window.mq.steered.some((s) => s.action === 'heal_all')",
        WAIT,
    );

    // A page opened late (a reload) gets the run from its start.
    page.eval("window.mq.before_reload = true; location.reload()");
    page.wait_for(
        "window.mq && !window.mq.before_reload && window.mq.steered.length === 1 && window.mq.snapshots.length > 0",
        WAIT,
    );
    let first = page.eval(
        "[window.mq.snapshots[0].t_ms, window.mq.switches[0].at_ms, window.mq.switches[0].on]",
    );
    assert!(
        first[0].as_u64().unwrap() <= 1_500,
        "history from the start: {first}"
    );
    assert!(
        first[2].as_bool().unwrap() && first[1].as_u64().unwrap() >= 900,
        "{first}"
    );

    // The fault planned for a minute ended by hand: the run ends early, steered.
    let done = run.exit(Duration::from_secs(45));
    let (code, stdout, stderr) = done.parts();
    assert!(code.is_some(), "{stderr}");
    let verdict = stdout
        .lines()
        .find(|l| l.starts_with("verdict:"))
        .unwrap_or_default();
    assert!(
        verdict.contains("steered by hand: heal all at"),
        "{stdout}{stderr}"
    );
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["steered"][0]["action"], "heal_all", "{summary}");
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(junit.contains("steered by hand: heal all"), "{junit}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("steered by hand: heal all"));

    // When the run is judged, the page shows the finished run's charts: byte for byte
    // report.html's chart sections, and the same charts it showed live.
    page.wait_for(
        "document.getElementById('report-charts').dataset.final === '1'",
        WAIT,
    );
    let end_charts = page.eval("window.mq.end.charts");
    let end_charts = end_charts.as_str().unwrap().trim();
    assert!(
        end_charts.contains("<svg id=\"chart-backlog\"") && html.contains(end_charts),
        "the live page's final charts are report.html's"
    );
    let report_ids: Vec<&str> = html
        .split("<svg id=\"")
        .skip(1)
        .map(|rest| &rest[..rest.find('"').unwrap()])
        .collect();
    let final_ids =
        page.eval("[...document.querySelectorAll('#report-charts svg.chart')].map((s) => s.id)");
    assert_eq!(final_ids, serde_json::json!(report_ids));
    // Live, it drew every chart of the report but the per-phase one (that data is the
    // generator's until the end).
    let expected_live: Vec<String> = report_ids
        .iter()
        .filter(|id| **id != "chart-phases")
        .map(|id| id.to_string())
        .collect();
    assert_eq!(live_ids, expected_live, "live charts vs report.html's");
    eprintln!("live view test took {:?}", started.elapsed());
}

/// A closed-model run (no planned count) whose load is stopped by hand early did not
/// apply its planned load: never a pass, and summary.json says the load was cut short.
#[test]
fn a_closed_model_stopped_by_hand_does_not_pass() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("closed.yaml");
    std::fs::write(
        &file,
        "version: 1
name: t-closed-stop
seed: 7
target:
  embedded: { nodes: 2 }
remotes:
  ok: { domains: [ok.test] }
load:
  model: closed
  steps: [ { for: 30s } ]
  mix: { ok.test: 100% }
  sessions: 2
checks: [ no_loss ]
settle: 10s
",
    )
    .unwrap();
    let out = dir.path().join("out");
    let (mut run, addr) = start_live(&file, &out, &["--live-control"]);
    // Mail is flowing: then stop the load, long before its planned 30 s.
    wait_until(WAIT, "mail delivered", || {
        let (_, text) = get(addr, "/metrics");
        text.lines()
            .find_map(|l| l.strip_prefix("mailquake_delivered_total{destination=\"ok.test\"} "))
            .is_some_and(|n| n.parse::<f64>().unwrap() > 0.0)
    });
    let (status, answer) = send(
        addr,
        "POST /control/stop-load HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
    );
    assert_eq!(status, 200, "{answer}");
    let (code, stdout, stderr) = run.exit(Duration::from_secs(45)).parts();
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["verdict"], "fail", "{summary}");
    assert_eq!(summary["steered"][0]["action"], "stop_load", "{summary}");
    assert_eq!(summary["data"]["complete"], false, "{summary}");
    let pct = summary["data"]["shortfall_pct"].as_f64().unwrap();
    assert!(pct > 50.0, "most of the 30 s not run: {pct}% in {summary}");
    let verdict = stdout.lines().find(|l| l.starts_with("verdict:")).unwrap();
    assert!(
        verdict.contains("steered by hand: stop load at")
            && verdict.contains("closed model stopped by hand at")
            && verdict.contains("of its planned 30.0s"),
        "{stdout}"
    );
}

/// Not a check: retakes the README's screenshot of the live view in the middle of a run
/// (`scripts/live-screenshot.sh` runs it). `MAILQUAKE_SCREENSHOT=OUT.png`, and
/// optionally `MAILQUAKE_SCREENSHOT_SCENARIO` (default `scenarios/quickstart-naive.yaml`)
/// and `MAILQUAKE_SCREENSHOT_AT` (seconds since load start, default 18).
#[test]
#[ignore = "retakes docs/live-quickstart-naive.png: scripts/live-screenshot.sh"]
fn live_screenshot() {
    use base64::Engine as _;
    let out = std::env::var_os("MAILQUAKE_SCREENSHOT").expect("MAILQUAKE_SCREENSHOT=OUT.png");
    let scenario = std::env::var_os("MAILQUAKE_SCREENSHOT_SCENARIO").map_or_else(
        || crate::support::root().join("scenarios/quickstart-naive.yaml"),
        std::path::PathBuf::from,
    );
    let at: f64 = std::env::var("MAILQUAKE_SCREENSHOT_AT").map_or(18.0, |a| a.parse().unwrap());
    let binary = chromium().expect("chromium");
    let dir = tempfile::tempdir().unwrap();
    let (mut run, addr) = start_live(&scenario, &dir.path().join("out"), &[]);
    let mut page = Browser::open(&binary, &format!("http://{addr}/"));
    let t = page.wait_for(
        &format!("Number(document.getElementById('t').textContent) >= {at} && window.mq.charts_t_ms >= ({at} - 3) * 1000 && document.getElementById('t').textContent"),
        Duration::from_secs_f64(at) + Duration::from_secs(120),
    );
    // Without the scroll bar (the picture is of the page, not of the window).
    page.eval("document.documentElement.style.scrollbarWidth = 'none'");
    let shot = page.call(
        "Page.captureScreenshot",
        serde_json::json!({"format": "png", "captureBeyondViewport": true, "clip": {"x": 0, "y": 0, "width": 1280, "height": 2300, "scale": 1}}),
    );
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot["data"].as_str().unwrap())
        .unwrap();
    std::fs::write(&out, &png).unwrap();
    eprintln!(
        "live_screenshot: {} at t = {t} s, {} bytes",
        Path::new(&out).display(),
        png.len()
    );
    drop(page);
    let (_, stdout, _) = run.exit(Duration::from_secs(300)).parts();
    eprintln!(
        "{}",
        stdout
            .lines()
            .find(|l| l.starts_with("verdict:"))
            .unwrap_or("")
    );
}

/// The Grafana dashboard is valid JSON and queries only metrics `/metrics` serves —
/// and every one of them.
#[test]
fn the_grafana_dashboard_queries_what_metrics_serves() {
    let path = crate::support::root().join("deploy/grafana/mailquake-live.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut queried = std::collections::BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            let mut rest = expr;
            while let Some(i) = rest.find("mailquake_") {
                let name: String = rest[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                rest = &rest[i + name.len()..];
                // A summary's `_sum` and `_count` series belong to its family.
                let family = ["_sum", "_count"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s))
                    .filter(|f| mailquake::live::metrics::NAMES.contains(f))
                    .map_or(name.clone(), str::to_string);
                queried.insert(family);
            }
        }
    }
    let served: std::collections::BTreeSet<String> = mailquake::live::metrics::NAMES
        .iter()
        .map(|n| n.to_string())
        .collect();
    let unknown: Vec<_> = queried.difference(&served).collect();
    assert!(unknown.is_empty(), "queried but not served: {unknown:?}");
    let unshown: Vec<_> = served.difference(&queried).collect();
    assert!(
        unshown == ["mailquake_elapsed_seconds"],
        "served but not on the dashboard: {unshown:?}"
    );
}

/// Debian's Prometheus scrapes a run's `/metrics` (every second) and answers queries on
/// it: the delivered count, and the generator's per-phase latency summary. Skipped without `prometheus` unless `MAILQUAKE_REQUIRE_PROMETHEUS=1` (CI).
#[test]
fn prometheus_scrapes_a_running_run() {
    let present = std::process::Command::new("prometheus")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !present {
        assert!(
            std::env::var_os("MAILQUAKE_REQUIRE_PROMETHEUS").is_none(),
            "Prometheus required but not found"
        );
        eprintln!("SKIPPED prometheus_scrapes_a_running_run: no prometheus");
        return;
    }
    let served = serve(&scenario("served-remotes.yaml"));
    let dir = tempfile::tempdir().unwrap();
    let file = scenario_at(dir.path(), served.api);
    let (run, live) = start_live(&file, &dir.path().join("out"), &[]);
    // A free loopback port for Prometheus' own API.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global: {{ scrape_interval: 1s, scrape_timeout: 1s }}\nscrape_configs:\n  - job_name: mailquake\n    static_configs: [ {{ targets: ['{live}'] }} ]\n"
        ),
    )
    .unwrap();
    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _prometheus = Killed(
        std::process::Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start prometheus"),
    );
    let api: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        let answer = TcpStream::connect_timeout(&api, Duration::from_secs(1))
            .is_ok()
            .then(|| get(api, "/api/v1/query?query=mailquake_delivered_total%7Bdestination%3D%22ok.test%22%7D"));
        if let Some((200, body)) = answer {
            let v: Value = serde_json::from_str(&body).unwrap();
            let value = v["data"]["result"][0]["value"][1]
                .as_str()
                .and_then(|s| s.parse::<f64>().ok());
            if value.is_some_and(|d| d > 0.0) {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never had a delivered count"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    // The generator's per-phase latency (a summary: Prometheus parsed the scrape, or
    // it would have no series), counted for every phase a message goes through.
    let by_phase =
        "/api/v1/query?query=sum%20by%20(phase)%20(mailquake_phase_latency_seconds_count)";
    let wanted = ["connect", "mail", "rcpt", "data"];
    let mut counts = std::collections::BTreeMap::new();
    let deadline = Instant::now() + WAIT;
    while !wanted
        .iter()
        .all(|p| counts.get(*p).is_some_and(|n| *n > 0.0))
    {
        assert!(
            Instant::now() < deadline,
            "Prometheus never had per-phase counts for {wanted:?}: {counts:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
        let (status, body) = get(api, by_phase);
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        counts = v["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| {
                let n = r["value"][1].as_str()?.parse::<f64>().ok()?;
                Some((r["metric"]["phase"].as_str()?.to_string(), n))
            })
            .collect();
    }
    let (_, up) = get(api, "/api/v1/query?query=up");
    assert!(up.contains("\"1\"]"), "the scrape is healthy: {up}");
    drop(run);
}
