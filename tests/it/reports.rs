//! Reports: golden summary.json / junit.xml / timeseries.csv from a hand-built ledger
//! (`UPDATE_GOLDEN=1` rewrites them), the HTML page's charts and escaping, the page
//! rendered in headless Chromium (`scripts/render-report.sh`), `mailquake report DIR`
//! re-rendering byte for byte, and a report that cannot be written.

use std::path::{Path, PathBuf};
use std::process::Command;

use mailquake::checks::{self, DataCompleteness};
use mailquake::collector::ledger::{flag, RemoteCounters};
use mailquake::collector::{Ledger, MessageRecord, Progress};
use mailquake::report::samples::{PhaseLatency, QueueDepth};
use mailquake::report::{self, JudgedRun, Samples};
use mailquake::scenario;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

const GOLDEN_SCENARIO: &str = "tests/golden/scenario.yaml";

/// 300 messages over 30 s to three domains; `down.test` refused 10–20 s and drained by
/// 23 s; healthy mail accepted during the fault partly 3 s late; one message lost, one
/// duplicated, one bounced, one rejected at submission; node n3 stuck 25–30 s.
fn golden_ledger() -> (Ledger, Progress) {
    let mut l = Ledger {
        run_id: "g01den".into(),
        // 2025-11-24T16:00:00Z
        t0_us: 1_764_000_000_000_000,
        end_ms: 35_000,
        domains: vec!["ok.test".into(), "other.test".into(), "down.test".into()],
        nodes: vec!["n1".into(), "n2".into(), "n3".into()],
        foreign: 2,
        ..Default::default()
    };
    let mut drained = 0u32;
    for i in 0..300u32 {
        let domain: u16 = match i % 10 {
            0..=5 => 0,
            6..=8 => 1,
            _ => 2,
        };
        let intended = i * 100;
        let mut r = MessageRecord {
            intended_ms: intended,
            domain,
            rcpts: 1,
            flags: flag::SUBMITTED,
            ..Default::default()
        };
        if i == 149 {
            r.flags |= flag::REJECTED;
            l.records.push(r);
            continue;
        }
        let accepted = intended + 5 + i % 7;
        let node = (i % 3) as u8;
        r.flags |= flag::ACCEPTED;
        r.accepted_ms = accepted;
        r.accepted_node = node;
        r.attempts = 1;
        let in_fault = (10_000..20_000).contains(&accepted);
        let stuck = node == 2 && accepted >= 25_000;
        let mut delivered = accepted + 40 + (i % 13) * 3;
        if domain == 2 && in_fault {
            delivered = 20_100 + drained * 50;
            drained += 1;
            r.attempts = 3;
        } else if domain < 2 && in_fault && i % 4 == 0 {
            delivered += 3_000;
            r.attempts = 2;
        }
        match i {
            77 => {}
            29 => {
                r.flags |= flag::BOUNCED;
                r.bounced_ms = 9_000;
                r.attempts = 4;
            }
            _ if stuck => {}
            _ => {
                r.delivered_ms = delivered;
                r.delivered_mask = 1;
                r.delivered_node = node;
            }
        }
        if i == 123 {
            r.duplicates = 1;
        }
        l.records.push(r);
    }
    l.submit_rejections.insert(451, 1);
    for (name, rcpts) in [("ok", 180u64), ("other", 90), ("down", 40)] {
        l.remotes.insert(
            name.into(),
            RemoteCounters {
                connections: rcpts / 3,
                rcpts,
                messages: rcpts,
                rejected: 0,
                faults_fired: u64::from(name == "down") * 12,
            },
        );
    }
    let totals = Progress {
        submitted: 300,
        accepted: l.records.iter().filter(|r| r.accepted()).count() as u64,
        not_accepted: 1,
        shortfall: 0,
        delivered: l.records.iter().filter(|r| r.delivered()).count() as u64,
        bounced: 1,
        outstanding: l.outstanding() as u64,
        duplicates: 1,
        queued: 0,
        queued_at_start: 0,
    };
    (l, totals)
}

/// Per-phase timings and queue probes, as a run that has them would save.
fn golden_samples() -> Samples {
    let mut s = Samples::default();
    for sec in 0..30u32 {
        for (k, phase) in ["connect", "ehlo", "mail", "rcpt", "data", "dot"]
            .iter()
            .enumerate()
        {
            let slow = if (10..20).contains(&sec) && *phase == "dot" {
                40
            } else {
                1
            };
            s.phases.push(PhaseLatency {
                phase: phase.to_string(),
                from_ms: sec * 1000,
                to_ms: sec * 1000 + 1000,
                count: 10,
                p50_us: 200 * (k as u64 + 1) * slow,
                p99_us: 900 * (k as u64 + 1) * slow,
                max_us: 1500 * (k as u64 + 1) * slow,
            });
        }
        for node in ["n1", "n2", "n3"] {
            let depth = if node == "n3" && sec >= 25 {
                u64::from(sec - 24) * 4
            } else if (10..20).contains(&sec) {
                u64::from(sec - 9)
            } else {
                0
            };
            s.queue_depths.push(QueueDepth {
                at_ms: sec * 1000 + 500,
                node: node.into(),
                depth,
            });
        }
    }
    s
}

pub fn golden_run(samples: Samples) -> JudgedRun {
    golden_run_with(samples, DataCompleteness::default())
}

/// The golden run judged with what its data lacks.
fn golden_run_with(samples: Samples, data: DataCompleteness) -> JudgedRun {
    let text = std::fs::read_to_string(root().join(GOLDEN_SCENARIO)).unwrap();
    let plan = scenario::parse(&text, Path::new(GOLDEN_SCENARIO)).expect("golden scenario");
    let (mut ledger, totals) = golden_ledger();
    // A run keeps its probe readings in the ledger too (the queue check judges them).
    for q in &samples.queue_depths {
        let node = ledger.node_index(&q.node);
        ledger
            .queue
            .push(mailquake::collector::ledger::QueueRecord {
                at_ms: q.at_ms,
                node,
                total: q.depth as u32,
                by_domain: Vec::new(),
            });
    }
    let findings = checks::judge(&plan, &ledger, &data);
    JudgedRun {
        plan,
        scenario_text: text,
        ledger,
        totals,
        findings,
        abort: None,
        samples,
        load: report::LoadSection {
            data,
            ..Default::default()
        },
    }
}

/// Compares `got` with the golden file, or rewrites it under `UPDATE_GOLDEN=1`.
fn golden(name: &str, got: &str) {
    let path = root().join("tests/golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    assert!(
        got == want,
        "{name} differs from {} (UPDATE_GOLDEN=1 rewrites it after a deliberate change)\n--- got:\n{got}",
        path.display()
    );
}

#[test]
fn summary_junit_and_timeseries_match_the_golden_files() {
    let dir = tempfile::tempdir().unwrap();
    let written = report::write_reports(dir.path(), &golden_run(Samples::default()));
    assert!(written.failed.is_empty(), "{:?}", written.failed);
    for name in ["summary.json", "junit.xml", "timeseries.csv"] {
        golden(
            name,
            &std::fs::read_to_string(dir.path().join(name)).unwrap(),
        );
    }
    // The gate as CI reads it: every check that did not pass is a <failure>.
    let s = &written.summary;
    let statuses: Vec<String> = s
        .checks
        .iter()
        .map(|c| format!("{}:{:?}", c.name, c.status))
        .collect();
    assert_eq!(
        statuses,
        [
            "isolation:Fail",
            "drain:Pass",
            "no_loss:Fail",
            "no_duplicates:Fail",
            "nodes:Pass",
            "acceptance:Pass",
            "isolation:Inconclusive"
        ]
    );
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert_eq!(junit.matches("<failure ").count(), 4, "{junit}");
    assert!(junit.contains("<testsuite name=\"golden\""), "{junit}");
}

/// Every chart id a run with per-phase timings and queue probes gets.
const ALL_CHARTS: [&str; 10] = [
    "chart-flow",
    "chart-latency-0",
    "chart-latency-1",
    "chart-latency-2",
    "chart-backlog",
    "chart-submit",
    "chart-phases",
    "chart-nodes",
    "chart-queue-depth",
    "chart-attempts",
];

fn svg_ids(html: &str) -> Vec<String> {
    html.match_indices("<svg id=\"")
        .map(|(i, m)| {
            let rest = &html[i + m.len()..];
            rest[..rest.find('"').unwrap()].to_string()
        })
        .collect()
}

#[test]
fn html_has_every_chart_verdict_first_and_nothing_external() {
    let dir = tempfile::tempdir().unwrap();
    let written = report::write_run(dir.path(), &golden_run(golden_samples()));
    assert!(written.failed.is_empty(), "{:?}", written.failed);
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert_eq!(svg_ids(&html), ALL_CHARTS);
    // The verdict and the failing checks come before any chart.
    let verdict = html.find("id=\"verdict\"").unwrap();
    let failing = html.find("id=\"failing\"").unwrap();
    assert!(verdict < failing && failing < html.find("<svg").unwrap());
    assert!(html.contains(">FAIL</div>"));
    // Titles are the questions a game-day room asks.
    assert!(html.contains(
        "Did ok.test and other.test keep flowing while down.test was refusing connections?"
    ));
    assert!(html.contains("Did the backlog for down.test drain within 5s of the fault&#x27;s end?"));
    // Self-contained: no script, no fetched resource.
    for banned in ["<script", "<link", "src=", "@import", "url(", "https://"] {
        assert!(!html.contains(banned), "report.html contains {banned}");
    }
    // Text from the scenario is escaped, in the page and in the charts.
    assert!(
        html.contains("Hand-built ledger &lt;for&gt; &quot;golden&quot; tests &amp; escaping &lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
        "description escaped"
    );

    // Without per-phase timings and probes, their sections are left out.
    let dir = tempfile::tempdir().unwrap();
    report::write_reports(dir.path(), &golden_run(Samples::default()));
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    let ids = svg_ids(&html);
    assert_eq!(ids.len(), 8, "{ids:?}");
    assert!(!ids
        .iter()
        .any(|i| i == "chart-phases" || i == "chart-queue-depth"));
}

/// Renders the page in headless Chromium through `scripts/render-report.sh`: every chart
/// drawn, a screenshot that is not blank. Skipped when no Chromium is installed, unless
/// `MAILQUAKE_REQUIRE_CHROMIUM=1` (CI sets it once it has installed Chromium).
#[test]
fn html_renders_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    report::write_run(dir.path(), &golden_run(golden_samples()));
    // Kept under target/tmp for people to open: golden-report.html and .png.
    let keep = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::copy(
        dir.path().join("report.html"),
        keep.join("golden-report.html"),
    )
    .unwrap();
    let png = keep.join("golden-report.png");
    let out = Command::new(root().join("scripts/render-report.sh"))
        .arg(dir.path().join("report.html"))
        .arg(&png)
        .args(ALL_CHARTS)
        .env("HEIGHT", "4800")
        .output()
        .expect("run scripts/render-report.sh");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.code() == Some(77) {
        assert!(
            std::env::var_os("MAILQUAKE_REQUIRE_CHROMIUM").is_none(),
            "Chromium required but not found: {text}"
        );
        eprintln!("SKIPPED html_renders_in_headless_chromium: {text}");
        return;
    }
    assert!(out.status.success(), "{text}");
    eprintln!("{text}");
}

/// The files `mailquake report DIR` rewrites.
const REPORTS: [&str; 4] = ["summary.json", "junit.xml", "timeseries.csv", "report.html"];

/// Deletes the reports of a run's folder, re-renders them with `mailquake report DIR`
/// and checks they come back byte for byte.
pub fn assert_rerenders_identically(dir: &Path) {
    let before: Vec<Vec<u8>> = REPORTS
        .iter()
        .map(|f| std::fs::read(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}")))
        .collect();
    for f in REPORTS {
        std::fs::remove_file(dir.join(f)).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_mailquake"))
        .arg("report")
        .arg(dir)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (f, want) in REPORTS.iter().zip(before) {
        let got = std::fs::read(dir.join(f)).unwrap();
        assert!(got == want, "{f} differs after `mailquake report`");
    }
    assert!(String::from_utf8_lossy(&out.stdout).contains("verdict: "));
}

#[test]
fn report_dir_rerenders_a_saved_run_and_names_bad_data() {
    let dir = tempfile::tempdir().unwrap();
    let written = report::write_run(dir.path(), &golden_run(golden_samples()));
    assert!(written.failed.is_empty(), "{:?}", written.failed);
    assert_rerenders_identically(dir.path());

    let report = |dir: &Path| {
        Command::new(env!("CARGO_BIN_EXE_mailquake"))
            .arg("report")
            .arg(dir)
            .output()
            .unwrap()
    };
    // A damaged ledger: exit 2, one line naming the file.
    let ledger = dir.path().join("ledger.bin");
    let bytes = std::fs::read(&ledger).unwrap();
    std::fs::write(&ledger, &bytes[..bytes.len() - 3]).unwrap();
    let out = report(dir.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("ledger.bin") && err.trim().lines().count() == 1,
        "{err}"
    );
    // Not a run's folder at all.
    let empty = tempfile::tempdir().unwrap();
    let out = report(empty.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("scenario.yaml"), "{err}");
}

/// Incomplete data: the checks that needed it are inconclusive, every report says so,
/// and `mailquake report DIR` judges the saved run the same.
#[test]
fn incomplete_data_is_inconclusive_everywhere_and_judged_again_the_same() {
    let data = DataCompleteness {
        remote_events_lost: 12,
        remote_events_from: Some("http://127.0.0.1:8025".into()),
        planned: Some(300),
        submitted: 231,
        shortfall: 69,
        probes: Vec::new(),
        cut: None,
    };
    let dir = tempfile::tempdir().unwrap();
    let written = report::write_run(dir.path(), &golden_run_with(golden_samples(), data));
    assert!(written.failed.is_empty(), "{:?}", written.failed);
    let s = &written.summary;
    assert!(!s.passed());
    // Lost events touch all but acceptance; the 23% shortfall touches acceptance too.
    for c in &s.checks {
        assert_eq!(format!("{:?}", c.status), "Inconclusive", "{}", c.name);
    }
    let drain = s.checks.iter().find(|c| c.name == "drain").unwrap();
    assert!(
        drain.detail.starts_with(
            "12 remote events were lost while following http://127.0.0.1:8025: deliveries may be missing; \
             the planned load was not applied: 23% shortfall (69 of 300 planned messages not sent; limit 1%). \
             As measured: "
        ),
        "{}",
        drain.detail
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(
        json["data"],
        serde_json::json!({
            "complete": false,
            "remote_events_lost": 12,
            "probe_samples_expected": 0,
            "probe_samples_missed": 0,
            "planned": 300,
            "submitted": 231,
            "shortfall": 69,
            "shortfall_pct": 23.0,
            "max_shortfall_pct": 1.0
        })
    );
    let terminal = report::terminal::render(s, "out", &written.files, &[], false);
    assert!(
        terminal.contains("  data: incomplete: the planned load was not applied (23% shortfall, limit 1%) · 12 remote events lost; the checks that needed it are inconclusive\n"),
        "{terminal}"
    );
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    let verdict = html.find("id=\"verdict\"").unwrap();
    let warning = html.find("id=\"data\"").unwrap();
    assert!(verdict < warning && warning < html.find("id=\"failing\"").unwrap());
    assert!(html.contains("Data incomplete: the planned load was not applied"));
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert_eq!(junit.matches("<failure ").count(), 7, "{junit}");
    // run.json keeps it: the re-render judges the same, byte for byte.
    assert_rerenders_identically(dir.path());
}

#[test]
fn a_report_that_cannot_be_written_is_named_and_the_others_are_written() {
    let dir = tempfile::tempdir().unwrap();
    // A folder where report.html should go: that one write fails.
    std::fs::create_dir(dir.path().join("report.html")).unwrap();
    let written = report::write_run(dir.path(), &golden_run(Samples::default()));
    let failed: Vec<&str> = written.failed.iter().map(|f| f.file.as_str()).collect();
    assert_eq!(failed, ["report.html"]);
    for f in [
        "scenario.yaml",
        "ledger.bin",
        "summary.json",
        "junit.xml",
        "timeseries.csv",
    ] {
        assert!(dir.path().join(f).is_file(), "{f} written");
    }
    // Re-rendering into the same folder: exit 3, one line naming the file.
    let out = Command::new(env!("CARGO_BIN_EXE_mailquake"))
        .arg("report")
        .arg(dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("report.html"), "{err}");
}

/// An aborted run is never `pass` in any output, whatever its checks say.
#[test]
fn an_aborted_run_is_aborted_in_every_report() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = golden_run(Samples::default());
    run.abort = Some(checks::Aborted {
        reason: "exec run `false` failed: exit status: 1".into(),
        at_s: 5.0,
    });
    // Even with every check passing.
    for f in &mut run.findings {
        f.status = checks::Status::Pass;
    }
    let written = report::write_reports(dir.path(), &run);
    assert!(written.failed.is_empty(), "{:?}", written.failed);
    assert_eq!(written.summary.verdict, checks::Verdict::Aborted);
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(s["verdict"], "aborted");
    assert_eq!(s["abort"]["at_s"], 5.0);
    assert_eq!(s["checks"][0]["partial"], true);
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert!(junit.contains("errors=\"1\""), "{junit}");
    assert!(
        junit.contains("<testcase name=\"run\"")
            && junit.contains(
                "message=\"run aborted: exec run `false` failed: exit status: 1 (at 5.0s)\""
            ),
        "{junit}"
    );
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains(">ABORTED</div>"));
    assert!(html.contains("judged on partial data (run aborted at 5.0s)"));
    let text = report::terminal::render(&written.summary, "out", &[], &[], false);
    assert!(
        text.contains("verdict: ABORTED — exec run `false` failed: exit status: 1 (at 5.0s)"),
        "{text}"
    );
    assert!(!text.contains("PASS"), "{text}");
}
