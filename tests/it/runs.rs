//! End-to-end runs of the `mailquake` binary on the embedded cluster: shortened versions of
//! the three shipped scenarios, with their exit codes and `summary.json` verdicts; Ctrl-C;
//! a port that cannot be bound.

use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::binary::{mailquake_run, Finished, WAIT};
use crate::support::reports::assert_rerenders_identically;
use crate::support::scenario;
use crate::support::summary::Summary;

/// Runs `mailquake run FILE --out DIR`, killed if it outlives `limit`.
fn run(file: &Path, out: &Path, limit: Duration) -> Finished {
    mailquake_run(file, out).run(limit)
}

#[test]
fn quickstart_passes() {
    let out = tempfile::tempdir().unwrap();
    let o = run(
        &scenario("quickstart.yaml"),
        out.path(),
        Duration::from_secs(90),
    );
    let s = Summary::read(out.path());
    assert_eq!(o.code, Some(0), "{}", o.stdout);
    assert_eq!(s.verdict, "pass");
    assert_eq!(s["schema_version"], 2);
    assert!(s.failed_checks().is_empty());
    // Every message of the shape is either submitted or counted as shortfall (a loaded
    // machine may leave no session free for a few).
    let t = &s["totals"];
    assert_eq!(
        t["submitted"].as_u64().unwrap() + t["shortfall"].as_u64().unwrap(),
        800
    );
    assert_eq!(s["totals"]["accepted"], s["totals"]["delivered"]);
    let drain = s.check("drain");
    assert!(
        drain["observed"].as_str().unwrap().contains("drained in"),
        "{drain}"
    );
    let stdout = &o.stdout;
    assert!(
        stdout.contains("✓ isolation") && stdout.contains("verdict: PASS"),
        "{stdout}"
    );
    // The nodes' workers were read; nothing blames the per-destination design.
    let diagnosis = &s["diagnosis"];
    assert_eq!(diagnosis["findings"], serde_json::json!([]), "{s}");
    let nodes = diagnosis["evidence"]["embedded"].as_array().unwrap();
    assert_eq!(nodes.len(), 3, "{s}");
    assert!(
        nodes.iter().all(|n| n["design"] == "per-destination"),
        "{s}"
    );
    assert_rerenders_identically(out.path());
}

#[test]
fn naive_shared_queue_fails_isolation_and_says_by_how_much() {
    let out = tempfile::tempdir().unwrap();
    let o = run(
        &scenario("quickstart-naive.yaml"),
        out.path(),
        Duration::from_secs(90),
    );
    let s = Summary::read(out.path());
    assert_eq!(o.code, Some(1), "{}", o.stdout);
    assert_eq!(s.verdict, "fail");
    assert_eq!(
        s.failed_checks(),
        ["isolation"],
        "only isolation fails: {s}"
    );
    let iso = s.check("isolation");
    assert!(
        iso["detail"].as_str().unwrap().contains("× the 2s limit"),
        "{iso}"
    );
    assert!(!iso["evidence"].as_array().unwrap().is_empty());
    // Why: the nodes reported every worker of the shared pool busy with down.test.
    let why = iso["explanations"].as_array().unwrap();
    assert!(
        why.iter().any(|x| {
            let x = x.as_str().unwrap();
            x.starts_with("shared queue: 4 of 4 workers on n") && x.contains("busy with down.test")
        }),
        "{iso}"
    );
    let findings = s["diagnosis"]["findings"].as_array().unwrap();
    assert!(
        findings.iter().all(|f| f["rule"] == "shared_pool_taken"
            && f["destination"] == "down.test"
            && f["settings"][0]["value"] == "shared"),
        "{s}"
    );
    let page = std::fs::read_to_string(out.path().join("report.html")).unwrap();
    assert!(
        page.contains("Why, from the nodes") && page.contains("n1 (shared, 4 workers)"),
        "the page shows the findings and the workers"
    );
    assert!(
        o.stdout.contains("why: shared queue: 4 of 4 workers"),
        "{}",
        o.stdout
    );
    let stdout = &o.stdout;
    assert!(stdout.contains("✗ isolation"), "{stdout}");
    // Per-phase latency is kept per interval (1 s by default), so the report can draw it
    // over time: the 8 s of load give RCPT rows in several intervals.
    let phases = std::fs::read_to_string(out.path().join("phases.csv")).unwrap();
    let rcpt: Vec<Vec<u64>> = phases
        .lines()
        .filter(|l| l.starts_with("rcpt,"))
        .map(|l| l.split(',').skip(1).map(|f| f.parse().unwrap()).collect())
        .collect();
    assert!(rcpt.len() >= 5, "{phases}");
    assert!(
        rcpt.iter().all(|r| r[1] - r[0] == 1000 && r[2] > 0),
        "{phases}"
    );
    assert!(rcpt.windows(2).all(|w| w[0][0] < w[1][0]), "{phases}");
    assert_rerenders_identically(out.path());
}

#[test]
fn stuck_node_is_named_and_its_mail_reported_stranded() {
    let out = tempfile::tempdir().unwrap();
    let o = run(
        &scenario("stuck-node.yaml"),
        out.path(),
        Duration::from_secs(90),
    );
    let s = Summary::read(out.path());
    assert_eq!(o.code, Some(1));
    assert_eq!(s.failed_checks(), ["drain", "no_loss", "nodes"], "{s}");
    let nodes = s.check("nodes");
    assert!(
        nodes["detail"].as_str().unwrap().contains("n2 accepted"),
        "{nodes}"
    );
    assert!(
        !nodes["detail"].as_str().unwrap().contains("n1 accepted"),
        "{nodes}"
    );
    let lost = s.check("no_loss");
    assert!(lost["detail"].as_str().unwrap().contains("by n2"), "{lost}");
    // What n2 accepted is exactly what is outstanding.
    let n2 = s["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "n2")
        .unwrap();
    assert_eq!(n2["delivered"], 0);
    assert_eq!(n2["accepted"], s["totals"]["outstanding"]);
    assert!(s.check("drain")["observed"]
        .as_str()
        .unwrap()
        .contains("never delivered"));
    assert_rerenders_identically(out.path());
}

#[test]
fn ctrl_c_stops_heals_writes_and_exits_3() {
    let out = tempfile::tempdir().unwrap();
    let file = scenario("quickstart.yaml");
    let mut run = mailquake_run(&file, out.path()).start();
    // Interrupt once the load is under way.
    run.wait_stderr("mailquake: t-quickstart — ");
    run.signal("INT");
    let (code, stdout, stderr) = run.exit(WAIT).parts();
    assert_eq!(code, Some(3), "{stdout}\n{stderr}");
    let s = Summary::read(out.path());
    assert_eq!(s["aborted"], true);
    assert_eq!(s.verdict, "aborted");
    let submitted = s["totals"]["submitted"].as_u64().unwrap();
    assert!(submitted < 800, "stopped mid-load: {submitted}");
    // Every report is written for an aborted run too, and re-renders as it was.
    assert_rerenders_identically(out.path());
}

#[test]
fn a_port_that_cannot_be_bound_exits_3() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let text = std::fs::read_to_string(scenario("quickstart.yaml"))
        .unwrap()
        .replace(
            "ok:    { domains: [ok.test] }",
            &format!("ok:    {{ domains: [ok.test], listen: 127.0.0.1:{port} }}"),
        );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("taken.yaml");
    std::fs::write(&file, text).unwrap();
    let o = run(&file, &dir.path().join("out"), Duration::from_secs(30));
    assert_eq!(o.code, Some(3));
    let err = &o.stderr;
    assert!(
        err.contains("cannot listen") && err.contains(&port.to_string()),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
}

#[test]
fn mail_older_than_the_queue_lifetime_bounces_to_the_verp_sender() {
    let out = tempfile::tempdir().unwrap();
    let o = run(
        &scenario("expire-bounce.yaml"),
        out.path(),
        Duration::from_secs(60),
    );
    let s = Summary::read(out.path());
    assert_eq!(o.code, Some(0), "{}", o.stdout);
    let down = s["domains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "down.test")
        .unwrap();
    assert!(down["accepted"].as_u64().unwrap() > 0);
    assert_eq!(
        down["bounced"], down["accepted"],
        "every down.test message bounced: {s}"
    );
    assert_eq!(down["delivered"], 0);
    assert_eq!(s["remotes"]["bounces"]["messages"], down["bounced"]);
    assert_eq!(s["totals"]["outstanding"], 0);
}

#[test]
fn a_remote_that_drops_the_reply_to_the_dot_causes_duplicates_and_the_check_says_so() {
    let out = tempfile::tempdir().unwrap();
    let o = run(
        &scenario("disconnect-dot.yaml"),
        out.path(),
        Duration::from_secs(60),
    );
    let s = Summary::read(out.path());
    assert_eq!(o.code, Some(1), "{}", o.stdout);
    assert_eq!(s.failed_checks(), ["no_duplicates"], "{s}");
    let dups = s["totals"]["duplicates"].as_u64().unwrap();
    assert!(dups > 0);
    assert!(s["remotes"]["flaky"]["faults_fired"].as_u64().unwrap() >= dups);
    let evidence = s.check("no_duplicates")["evidence"]
        .as_array()
        .unwrap()
        .len();
    assert!(evidence > 0);
}

#[test]
fn a_greylisting_destination_gets_everything_after_retries() {
    let out = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let o = run(
        &scenario("greylist.yaml"),
        out.path(),
        Duration::from_secs(30),
    );
    let s = Summary::read(out.path());
    assert_eq!(o.code, Some(0), "{}", o.stdout);
    assert_eq!(s.verdict, "pass", "{s}");
    let grey = s["domains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "grey.test")
        .unwrap();
    assert!(grey["accepted"].as_u64().unwrap() > 0);
    assert_eq!(
        grey["delivered"], grey["accepted"],
        "retries got through: {s}"
    );
    // Every message was greylisted once at least, so attempts outnumber deliveries.
    let fired = s["remotes"]["grey"]["faults_fired"].as_u64().unwrap();
    assert!(fired >= grey["accepted"].as_u64().unwrap(), "{s}");
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );
}

/// One session for 20,000 messages a second: most of the planned load is never sent.
/// What was sent is judged fine, but the load-dependent checks are inconclusive and say
/// why, so the gate fails (exit 1); the checks of single messages still judge.
#[test]
fn a_run_that_falls_far_short_of_its_planned_load_is_inconclusive_not_pass() {
    let out = tempfile::tempdir().unwrap();
    let o = run(
        &scenario("shortfall.yaml"),
        out.path(),
        Duration::from_secs(120),
    );
    let stdout = &o.stdout;
    assert_eq!(o.code, Some(1), "{stdout}");
    let s = Summary::read(out.path());
    assert_ne!(s["verdict"], "pass", "{s}");
    let data = &s["data"];
    assert_eq!(data["complete"], false, "{data}");
    assert_eq!(data["planned"], 40_000, "{data}");
    let pct = data["shortfall_pct"].as_f64().unwrap();
    assert!(pct > 50.0, "{data}");
    let shortfall = data["shortfall"].as_u64().unwrap();
    let submitted = data["submitted"].as_u64().unwrap();
    assert!(submitted > 0 && submitted + shortfall <= 40_000, "{data}");
    for name in ["isolation", "drain"] {
        let c = s.check(name);
        assert_eq!(c["status"], "inconclusive", "{c}");
        let detail = c["detail"].as_str().unwrap();
        assert!(
            detail.starts_with("the planned load was not applied: ")
                && detail.contains("% shortfall (")
                && detail
                    .contains(" of 40,000 planned messages not sent; limit 1%). As measured: "),
            "{detail}"
        );
        assert_ne!(c["observed"], "no data", "{c}");
    }
    // The shortfall does not touch the checks of the messages that were sent.
    for name in ["no_loss", "no_duplicates"] {
        let c = s.check(name);
        assert_eq!(c["status"], "pass", "{c}");
    }
    assert!(
        stdout.contains("data: incomplete: the planned load was not applied ("),
        "{stdout}"
    );
    assert_rerenders_identically(out.path());
}

/// PASS means the planned load was applied: a run whose only checks do not depend on the
/// load (no_loss, no_duplicates) still fails the gate when most of the load was not sent.
#[test]
fn every_check_passing_is_not_a_pass_when_the_planned_load_was_not_applied() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(scenario("shortfall.yaml")).unwrap();
    let checks = text.find("checks:").expect("a checks section");
    let settle = text.find("settle:").expect("a settle key");
    let file = dir.path().join("shortfall-no-loss.yaml");
    std::fs::write(
        &file,
        format!(
            "{}checks: [no_loss, no_duplicates]\n{}",
            &text[..checks],
            &text[settle..]
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = run(&file, &out, Duration::from_secs(120));
    let stdout = &o.stdout;
    assert_eq!(o.code, Some(1), "{stdout}");
    let s = Summary::read(&out);
    assert_eq!(s.verdict, "fail", "{s}");
    assert!(s.failed_checks().is_empty(), "{s}");
    assert!(
        stdout.contains("verdict: FAIL (every check passed, but the data is incomplete: the planned load was not applied ("),
        "{stdout}"
    );
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(junit.contains("verdict\" value=\"fail\""), "{junit}");
    assert!(
        junit.contains("failures=\"1\"") && junit.contains("<testcase name=\"load\""),
        "{junit}"
    );
}
