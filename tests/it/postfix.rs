//! The Postfix suite: real Postfix nodes behind HAProxy (targets/postfix/cluster.sh), the
//! scenarios of scenarios/postfix shortened, and verdicts that tell a well-tuned cluster
//! from a mis-tuned one. Needs postfix and haproxy installed and root (as in CI): the tests
//! are `#[ignore]`d and `.ci/run` runs them with `-- --ignored postfix`.
//!
//! Three bring-ups in all: the well-tuned scenarios (isolation, preflight with the map,
//! load-balancer remediation, monitoring) share one monitored well-tuned cluster, each run
//! starting from a state checked clean ([`Cluster::clean`]); the cluster without a
//! transport map and the mis-tuned one have their own.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::support::binary::{mailquake_os, mailquake_run};
use crate::support::root;
use crate::support::summary::Summary;

/// The tests use the same folder and ports: one cluster at a time.
static CLUSTER: Mutex<()> = Mutex::new(());

const DIR: &str = "/tmp/mqpft";

fn scenario(name: &str) -> PathBuf {
    root().join("tests/scenarios/postfix").join(name)
}

fn cluster(args: &[&str]) -> Output {
    let t = Instant::now();
    let out = Command::new(root().join("targets/postfix/cluster.sh"))
        .args(args)
        .args(["--dir", DIR])
        .output()
        .expect("run cluster.sh");
    assert!(
        out.status.success(),
        "cluster.sh {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("postfix suite: cluster.sh {} {:.1?}", args[0], t.elapsed());
    out
}

/// A command's stdout, asserting it succeeded.
fn stdout_of(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().expect(program);
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Polls `probe` (bounded: every 200 ms for `limit`) until it returns `None`; the last
/// `Some(why)` fails the test.
fn wait_clean(what: &str, limit: Duration, mut probe: impl FnMut() -> Option<String>) {
    let end = Instant::now() + limit;
    loop {
        match probe() {
            None => return,
            Some(why) if Instant::now() >= end => panic!("{what} not clean after {limit:?}: {why}"),
            Some(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// A cluster that is brought down when the test ends, however it ends.
struct Cluster {
    /// Prometheus' port, when up with the monitoring stack.
    prometheus: Option<u16>,
}

impl Cluster {
    fn up(tuning: &str) -> Cluster {
        Cluster::up_and(tuning, &[])
    }

    /// Well tuned, with the monitoring stack: Prometheus on 127.0.0.1:2790 evaluating
    /// targets/postfix/monitoring/rules.yml, an exporter per node on 2781..2783.
    fn up_monitored() -> Cluster {
        let args = ["--monitoring", "--prometheus-port", "2790"];
        let mut cluster =
            Cluster::up_and("good", &[&args[..], &["--exporter-port", "2781"]].concat());
        cluster.prometheus = Some(2790);
        cluster
    }

    /// `up` with more arguments for cluster.sh.
    fn up_and(tuning: &str, extra: &[&str]) -> Cluster {
        let file = scenario("refuse.yaml");
        let routes = mailquake_os(&[
            "routes".as_ref(),
            "--format".as_ref(),
            "postfix".as_ref(),
            file.as_os_str(),
        ])
        .run(Duration::from_secs(60));
        assert_eq!(routes.code, Some(0), "{}", routes.stderr);
        Cluster::up_with_routes(tuning, routes.stdout.as_bytes(), extra)
    }

    /// A cluster whose transport map is `routes` (empty: no route at all).
    fn up_with_routes(tuning: &str, routes: &[u8], extra: &[&str]) -> Cluster {
        let _ = Command::new(root().join("targets/postfix/cluster.sh"))
            .args(["down", "--dir", DIR])
            .output();
        let file = std::env::temp_dir().join("mqpft-routes.txt");
        std::fs::write(&file, routes).unwrap();
        let f = file.display().to_string();
        cluster(
            &[
                "up",
                "--port",
                "2725",
                "--node-port",
                "2701",
                "--routes",
                &f,
                "--tuning",
                tuning,
            ]
            .iter()
            .chain(extra)
            .copied()
            .collect::<Vec<_>>(),
        );
        Cluster { prometheus: None }
    }

    /// Makes the next run start as from a fresh bring-up, and asserts it does: no mail
    /// left in any node's queue (a stuck node's, or mail deferred when the last run's
    /// remotes stopped, would reach the next run's remotes as foreign mail), no node left
    /// stuck (`defer_transports`), every node in HAProxy's rotation and UP, and no alert
    /// firing or pending in Prometheus.
    fn clean(&self) {
        let t = Instant::now();
        for k in 1..=3 {
            let etc = format!("{DIR}/n{k}/etc");
            // Again while any is left: mail the undo's flush was moving between queues
            // can escape one pass.
            wait_clean(&format!("n{k}'s queue"), Duration::from_secs(10), || {
                let out = Command::new("postsuper")
                    .args(["-c", &etc, "-d", "ALL"])
                    .output()
                    .expect("postsuper");
                assert!(out.status.success(), "postsuper -d ALL on n{k}: {out:?}");
                let q = stdout_of("postqueue", &["-c", &etc, "-j"]);
                (!q.trim().is_empty()).then_some(q)
            });
            let stuck = stdout_of("postconf", &["-c", &etc, "-h", "defer_transports"]);
            assert_eq!(stuck.trim(), "", "n{k} left stuck");
        }
        wait_clean("HAProxy's servers", Duration::from_secs(15), || {
            let states: Vec<String> = ["n1", "n2", "n3"].map(haproxy_status).into();
            states
                .iter()
                .any(|s| s != "UP")
                .then(|| format!("{states:?}"))
        });
        if let Some(port) = self.prometheus {
            let url = format!("http://127.0.0.1:{port}/api/v1/alerts");
            wait_clean("Prometheus' alerts", Duration::from_secs(30), || {
                let alerts = stdout_of("curl", &["-sf", "--max-time", "5", &url]);
                let v: serde_json::Value = serde_json::from_str(&alerts).unwrap();
                let any = !v["data"]["alerts"].as_array().unwrap().is_empty();
                any.then_some(alerts)
            });
        }
        eprintln!("postfix suite: clean {:.1?}", t.elapsed());
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let t = Instant::now();
        let out = Command::new(root().join("targets/postfix/cluster.sh"))
            .args(["down", "--dir", DIR])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        eprintln!("postfix suite: cluster.sh down {:.1?}", t.elapsed());
        if !std::thread::panicking() {
            assert!(
                out.status.success() && text.contains("no process left"),
                "{text}"
            );
        }
    }
}

/// Runs a scenario against the cluster: exit code, summary, stdout.
fn run(name: &str, out: &Path) -> (Option<i32>, Summary, String) {
    let (code, stdout, _) = run_file(&scenario(name), out);
    (code, Summary::read(out), stdout)
}

/// Runs a scenario file against the cluster (killed past 150 s): exit code, stdout, stderr.
fn run_file(file: &Path, out: &Path) -> (Option<i32>, String, String) {
    run_set(file, out, &[])
}

/// [`run_file`] with `--set KEY=VALUE` for each of `sets`.
fn run_set(file: &Path, out: &Path, sets: &[&str]) -> (Option<i32>, String, String) {
    let mut mq = mailquake_run(file, out);
    for set in sets {
        mq = mq.arg("--set").arg(set);
    }
    let done = mq.run(Duration::from_secs(150));
    eprintln!(
        "postfix suite: run {} {:.1?}",
        file.file_name().unwrap().to_string_lossy(),
        done.elapsed
    );
    done.parts()
}

/// refuse.yaml with a shorter preflight wait: the preflight test runs it without the
/// transport map, the well-tuned cluster with it.
fn refuse_with_short_preflight(dir: &Path) -> PathBuf {
    let file = dir.join("refuse-preflight-5s.yaml");
    let text = std::fs::read_to_string(scenario("refuse.yaml")).unwrap();
    std::fs::write(&file, text + "preflight: { timeout: 5s }\n").unwrap();
    file
}

/// The well-tuned scenarios, one bring-up (of the monitored cluster: the exporters and
/// Prometheus only read the nodes) for all: each function below is one former test, and
/// the cluster is checked clean before every run.
#[test]
#[ignore = "needs postfix + haproxy + socat + prometheus as root: run by .ci/run (-- --ignored postfix)"]
fn postfix_well_tuned_cluster_isolates_remediates_by_draining_and_alerts() {
    let _one = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    let cluster = Cluster::up_monitored();
    well_tuned_isolates_refused_and_black_holed_destinations_bounces_5xx_and_names_a_stuck_node(
        &cluster,
    );
    draining_the_stuck_node_from_haproxy_delivers_new_mail_and_fails_without_it(&cluster);
    // Last: it swaps Prometheus' rules.
    monitoring_alerts_notice_a_stuck_node_and_a_black_hole_and_a_removed_rule_fails(&cluster);
}

fn well_tuned_isolates_refused_and_black_holed_destinations_bounces_5xx_and_names_a_stuck_node(
    cluster: &Cluster,
) {
    let dir = tempfile::tempdir().unwrap();

    // refuse.yaml runs as the preflight test wrote it (a 5 s preflight), the map installed
    // now: the second half of that test.
    let refuse = refuse_with_short_preflight(dir.path());
    for (name, file) in [
        ("refuse.yaml", refuse),
        ("blackhole.yaml", scenario("blackhole.yaml")),
    ] {
        cluster.clean();
        let out = dir.path().join(name);
        let (code, stdout, stderr) = run_file(&file, &out);
        let s = Summary::read(&out);
        assert_eq!(code, Some(0), "{name}: {stdout}");
        // With the map installed the canaries arrive, and the load follows; nothing left
        // from an earlier run reaches the remotes.
        assert_eq!(
            s.preflight.as_ref().unwrap().status,
            "passed",
            "{s}\n{stderr}"
        );
        let domains: Vec<&str> = s["preflight"]["canaries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["domain"].as_str().unwrap())
            .collect();
        assert_eq!(domains, ["ok.test", "down.test", "bounces.test"]);
        assert_eq!(s["foreign"], 0, "{s}");
        assert!(s["totals"]["submitted"].as_u64().unwrap() > 0);
        assert!(s.failed_checks().is_empty(), "{name}: {s}");
        assert_eq!(
            s["nodes"].as_array().unwrap().len(),
            3,
            "three nodes named: {s}"
        );
        assert_eq!(
            s["queue"].as_array().unwrap().len(),
            3,
            "three probes sampled: {s}"
        );
        // The nodes' evidence was read, and no rule blames the well-tuned settings.
        let diagnosis = &s["diagnosis"];
        assert_eq!(diagnosis["findings"], serde_json::json!([]), "{name}: {s}");
        let nodes = diagnosis["evidence"]["postfix"].as_array().unwrap();
        assert_eq!(nodes.len(), 3, "{name}: {s}");
        for n in nodes {
            assert_eq!(n["settings"]["smtp_helo_timeout"], "10s", "{n}");
            assert!(n["problems"].is_null(), "{n}");
            let down = n["deliveries"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["domain"] == "down.test");
            assert!(
                down.is_some_and(|d| d["deferred"].as_u64() > Some(0)),
                "{name}: {n}"
            );
        }
    }

    cluster.clean();
    let (code, s, stdout) = run("permanent-5xx.yaml", &dir.path().join("5xx"));
    assert_eq!(code, Some(0), "{stdout}");
    let down = s["domains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "down.test")
        .unwrap();
    assert!(down["bounced"].as_u64().unwrap() > 0);
    assert_eq!(
        down["bounced"], down["accepted"],
        "every 5xx message bounced: {s}"
    );

    cluster.clean();
    let (code, s, stdout) = run("stuck-node.yaml", &dir.path().join("stuck"));
    assert_eq!(code, Some(1), "{stdout}");
    assert_eq!(s.failed_checks(), ["nodes", "no_loss"], "{s}");
    let detail = s.check("nodes")["detail"].as_str().unwrap();
    assert!(
        detail.contains("n2.cluster.test") && !detail.contains("n1.cluster.test"),
        "{detail}"
    );
    // The exec's undo ran at the end of the run: n2 no longer defers delivery.
    let setting = Command::new("postconf")
        .args(["-c", "/tmp/mqpft/n2/etc", "-h", "defer_transports"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&setting.stdout).trim(),
        "",
        "undo left n2 stuck"
    );
}

#[test]
#[ignore = "needs postfix + haproxy as root: run by .ci/run (-- --ignored postfix)"]
fn postfix_mis_tuned_fails_isolation_under_a_black_hole() {
    let _one = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    let _cluster = Cluster::up("bad");
    let dir = tempfile::tempdir().unwrap();
    // A shorter settle (its 60 s runs out all the same: the black-holed mail is held until
    // the end), with the drain window tightened to fit (drain is not what this test judges).
    // The black-holed connections are cut when the remotes stop at the end of the run, some
    // 40 s into their set-up: long_setup (≥ 30 s) still sees them.
    let file = scenario("blackhole.yaml");
    let sets = ["settle=25s", "checks[1].drain.within=30s"];
    let (code, stdout, _) = run_set(&file, dir.path(), &sets);
    let s = Summary::read(dir.path());
    assert_eq!(code, Some(1), "{stdout}");
    assert!(s.failed_checks().contains(&"isolation".to_string()), "{s}");
    let iso = s.check("isolation");
    let detail = iso["detail"].as_str().unwrap();
    assert!(
        detail.contains("healthy messages accepted during the faults were late"),
        "{iso}"
    );
    // Why, from the nodes: the pool, the HELO timeout and dead-destination detection,
    // each with its value, on every node.
    let findings = s["diagnosis"]["findings"].as_array().unwrap();
    for (rule, setting, value) in [
        ("pool_taken", "master.cf smtp/unix process_limit", "6"),
        ("long_setup", "smtp_helo_timeout", "300s"),
        (
            "dead_detection_off",
            "smtp_destination_concurrency_failed_cohort_limit",
            "1000",
        ),
    ] {
        let on: Vec<&str> = findings
            .iter()
            .filter(|f| f["rule"] == rule)
            .inspect(|f| {
                let named = f["settings"].as_array().unwrap().iter().any(|x| {
                    x["name"] == setting
                        && x["value"] == value
                        && x["doc"]
                            .as_str()
                            .unwrap()
                            .starts_with("https://www.postfix.org/postconf.5.html#")
                });
                assert!(named, "{rule} names {setting} = {value}: {f}");
                assert_eq!(f["destination"], "down.test", "{f}");
            })
            .map(|f| f["node"].as_str().unwrap())
            .collect();
        assert_eq!(
            on,
            ["n1.cluster.test", "n2.cluster.test", "n3.cluster.test"],
            "{rule}: {s}"
        );
    }
    let why = iso["explanations"].as_array().unwrap();
    assert!(
        why.iter()
            .any(|x| x.as_str().unwrap().contains("smtp process limit 6")),
        "{iso}"
    );
    let page = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(page.contains("Why, from the nodes") && page.contains("smtp_helo_timeout = 300s"));
}

#[test]
#[ignore = "needs postfix + haproxy as root: run by .ci/run (-- --ignored postfix)"]
fn postfix_cluster_without_the_transport_map_stops_at_the_preflight_and_sends_only_canaries() {
    let _one = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let file = refuse_with_short_preflight(dir.path());
    {
        let _cluster = Cluster::up_with_routes("good", b"# no routes\n", &[]);
        let out = dir.path().join("no-routes");
        let (code, stdout, stderr) = run_file(&file, &out);
        assert_eq!(code, Some(3), "{stdout}\n{stderr}");
        for (domain, remote, addr) in [
            ("ok.test", "ok", "127.0.0.1:3201"),
            ("down.test", "down", "127.0.0.1:3202"),
        ] {
            let want = format!(
                "{domain}: the canary was accepted by 127.0.0.1:2725 but never reached remote \
                 `{remote}` at {addr} in 5 s — is the transport map installed? \
                 `mailquake routes {} --format postfix`",
                file.display()
            );
            assert!(stderr.lines().any(|l| l == want), "{want}\n{stderr}");
        }
        // No load, no verdict on the target: the folder says the run was aborted.
        let s = Summary::read(&out);
        assert_eq!(s.verdict, "aborted", "{s}");
        assert_eq!(s["totals"]["submitted"], 0, "{s}");
        // The nodes took the canaries and nothing else: no tracking recipient in any log.
        let logs: String = (1..=3)
            .map(|k| std::fs::read_to_string(format!("{DIR}/n{k}/maillog")).unwrap_or_default())
            .collect();
        assert!(
            logs.contains("mq-canary."),
            "the canaries went through the nodes"
        );
        assert!(
            !logs.contains("<mq."),
            "a message of the load reached the cluster"
        );
    }

    // With the map installed the same canaries arrive, and the load follows: the first
    // run of the well-tuned cluster (one bring-up for all its scenarios).
}

/// HAProxy's view of server `smtp/NAME`, from the runtime API's `show stat` (`UP`, `MAINT`, …).
fn haproxy_status(name: &str) -> String {
    let mut child = Command::new("socat")
        .args(["-t5", "-", &format!("UNIX-CONNECT:{DIR}/haproxy.sock")])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("socat (apt-get install socat)");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"show stat\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stat = String::from_utf8_lossy(&out.stdout);
    let line = stat
        .lines()
        .find(|l| l.starts_with(&format!("smtp,{name},")))
        .unwrap_or_else(|| panic!("no smtp/{name} in show stat: {stat}"));
    // Field 18 (index 17) of the CSV is `status`.
    line.split(',').nth(17).unwrap_or_default().to_string()
}

fn draining_the_stuck_node_from_haproxy_delivers_new_mail_and_fails_without_it(cluster: &Cluster) {
    let dir = tempfile::tempdir().unwrap();
    cluster.clean();

    // n2 stuck at 0s, drained from HAProxy at 3s: mail accepted from 4s on is delivered.
    let (code, s, stdout) = run("lb-remediation.yaml", &dir.path().join("drained"));
    assert_eq!(code, Some(0), "{stdout}");
    assert_eq!(s.failed_checks(), Vec::<String>::new(), "{s}");
    let mut nodes: Vec<&str> = s["queue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["node"].as_str().unwrap())
        .collect();
    nodes.sort_unstable();
    assert_eq!(nodes, ["n1.cluster.test", "n3.cluster.test"], "{s}");
    println!(
        "with the drain: isolation {}; queue {}",
        s.check("isolation")["observed"],
        s.check("queue")["observed"]
    );
    // The drain's undo ran at the end of the run: n2 is back in rotation.
    assert!(
        !haproxy_status("n2").contains("MAINT"),
        "undo left n2 drained"
    );

    // The same run without the drain: a third of the new mail is stranded on n2.
    let file = dir.path().join("no-drain.yaml");
    let text = std::fs::read_to_string(scenario("lb-remediation.yaml")).unwrap();
    let (head, rest) = text.split_once("  # remediation").unwrap();
    let (_, tail) = rest.split_once("  # end of remediation\n").unwrap();
    std::fs::write(&file, format!("{head}{tail}")).unwrap();
    cluster.clean();
    let out = dir.path().join("stuck");
    let (code, stdout, stderr) = run_file(&file, &out);
    let s = Summary::read(&out);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert_eq!(s.failed_checks(), ["isolation"], "{s}");
    let detail = s.check("isolation")["detail"].as_str().unwrap();
    println!(
        "without the drain: isolation {}; {detail}",
        s.check("isolation")["observed"]
    );
    let blamed = detail
        .split_once("late by accepting node: ")
        .map(|(_, b)| b);
    assert!(
        blamed.is_some_and(|b| b.contains("n2.cluster.test")) && detail.contains("never delivered"),
        "{detail}"
    );
}

/// Monitoring (issue 14): the cluster's own Prometheus notices the stuck node — the
/// backlog alert fires naming n2 and resolves after the undo — and the same scenario
/// fails once the rule is removed from Prometheus; a black-holed destination makes the
/// deferred-growth alert fire and resolve after the heal.
fn monitoring_alerts_notice_a_stuck_node_and_a_black_hole_and_a_removed_rule_fails(
    cluster: &Cluster,
) {
    let dir = tempfile::tempdir().unwrap();
    cluster.clean();

    let (code, s, stdout) = run("stuck-node-alert.yaml", &dir.path().join("stuck"));
    assert_eq!(code, Some(0), "{stdout}");
    let alert = s.check("alert");
    assert!(alert.passed, "{s}");
    let detail = alert["detail"].as_str().unwrap();
    assert!(
        detail.contains(r#"firing: PostfixQueueBacklog{node="n2""#),
        "{detail}"
    );

    cluster.clean();
    let (code, s, stdout) = run("blackhole-alert.yaml", &dir.path().join("blackhole"));
    assert_eq!(code, Some(0), "{stdout}");
    assert!(s.failed_checks().is_empty(), "{s}");
    let detail = s.check("alert")["detail"].as_str().unwrap().to_string();
    assert!(
        detail.contains("fired ") && detail.contains("resolved "),
        "{detail}"
    );

    // Without the rule, the same stuck node goes unnoticed: the check fails and says so.
    let rules = dir.path().join("no-rules.yml");
    std::fs::write(&rules, "groups: []\n").unwrap();
    cluster.clean();
    self::cluster(&["rules", "--rules", &rules.display().to_string()]);
    let (code, s, stdout) = run("stuck-node-alert.yaml", &dir.path().join("no-rule"));
    assert_eq!(code, Some(1), "{stdout}");
    // What this run proves is the alert check's failure. Mail the stuck n2 deferred may
    // now and then still be queued when settle ends (measured once in CI: 6 of its 477),
    // and then `no_loss` rightly fails too — blaming n2 alone.
    let failed = s.failed_checks();
    assert!(
        failed == ["alert"]
            || (failed == ["alert", "no_loss"]
                && s.check("no_loss")["detail"]
                    .as_str()
                    .unwrap()
                    .contains("never delivered nor bounced: accepted")
                && !s.check("no_loss")["detail"]
                    .as_str()
                    .unwrap()
                    .contains("n1.cluster.test")
                && !s.check("no_loss")["detail"]
                    .as_str()
                    .unwrap()
                    .contains("n3.cluster.test")),
        "{s}"
    );
    let detail = s.check("alert")["detail"].as_str().unwrap();
    assert!(
        detail.contains("has no alerting rule named `PostfixQueueBacklog`")
            && detail.contains("never fired"),
        "{detail}"
    );
}
