//! The Postfix suite: real Postfix nodes behind HAProxy (targets/postfix/cluster.sh), the
//! scenarios of scenarios/postfix shortened, and verdicts that tell a well-tuned cluster
//! from a mis-tuned one. Needs postfix and haproxy installed and root (as in CI): the tests
//! are `#[ignore]`d and `.ci/run` runs them with `-- --ignored postfix`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Both tests use the same folder and ports: one cluster at a time.
static CLUSTER: Mutex<()> = Mutex::new(());

const DIR: &str = "/tmp/mqpft";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn scenario(name: &str) -> PathBuf {
    root().join("tests/scenarios/postfix").join(name)
}

fn cluster(args: &[&str]) -> Output {
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
    out
}

/// A cluster that is brought down when the test ends, however it ends.
struct Cluster;

impl Cluster {
    fn up(tuning: &str) -> Cluster {
        let _ = Command::new(root().join("targets/postfix/cluster.sh"))
            .args(["down", "--dir", DIR])
            .output();
        let routes = Command::new(env!("CARGO_BIN_EXE_mailquake"))
            .args(["routes", "--format", "postfix"])
            .arg(scenario("refuse.yaml"))
            .output()
            .unwrap();
        assert!(routes.status.success());
        let file = std::env::temp_dir().join("mqpft-routes.txt");
        std::fs::write(&file, &routes.stdout).unwrap();
        let f = file.display().to_string();
        cluster(&[
            "up",
            "--port",
            "2725",
            "--node-port",
            "2701",
            "--routes",
            &f,
            "--tuning",
            tuning,
        ]);
        Cluster
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let out = Command::new(root().join("targets/postfix/cluster.sh"))
            .args(["down", "--dir", DIR])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        if !std::thread::panicking() {
            assert!(
                out.status.success() && text.contains("no process left"),
                "{text}"
            );
        }
    }
}

/// Runs a scenario against the cluster; killed past `limit`.
fn run(name: &str, out: &Path) -> (Option<i32>, Value, String) {
    let limit = Duration::from_secs(150);
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailquake"))
        .arg("run")
        .arg(scenario(name))
        .arg("--out")
        .arg(out)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("{name} took longer than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let o = child.wait_with_output().unwrap();
    let summary = std::fs::read_to_string(out.join("summary.json")).expect("summary.json");
    (
        o.status.code(),
        serde_json::from_str(&summary).unwrap(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

fn failed(s: &Value) -> Vec<String> {
    s["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

fn check<'a>(s: &'a Value, name: &str) -> &'a Value {
    s["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()
}

#[test]
#[ignore = "needs postfix + haproxy as root: run by .ci/run (-- --ignored postfix)"]
fn postfix_well_tuned_isolates_refused_and_black_holed_destinations_bounces_5xx_and_names_a_stuck_node(
) {
    let _one = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    let _cluster = Cluster::up("good");
    let dir = tempfile::tempdir().unwrap();

    for name in ["refuse.yaml", "blackhole.yaml"] {
        let (code, s, stdout) = run(name, &dir.path().join(name));
        assert_eq!(code, Some(0), "{name}: {stdout}");
        assert!(failed(&s).is_empty(), "{name}: {s}");
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
    }

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

    let (code, s, stdout) = run("stuck-node.yaml", &dir.path().join("stuck"));
    assert_eq!(code, Some(1), "{stdout}");
    assert_eq!(failed(&s), ["nodes", "no_loss"], "{s}");
    let detail = check(&s, "nodes")["detail"].as_str().unwrap();
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
    let (code, s, stdout) = run("blackhole.yaml", dir.path());
    assert_eq!(code, Some(1), "{stdout}");
    assert!(failed(&s).contains(&"isolation".to_string()), "{s}");
    let iso = check(&s, "isolation");
    let detail = iso["detail"].as_str().unwrap();
    assert!(
        detail.contains("healthy messages accepted during the faults were late"),
        "{iso}"
    );
}
