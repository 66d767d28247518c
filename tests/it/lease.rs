//! Leases on faults set through the control API of `mailquake remotes`: a fault put with
//! `?lease=` heals itself when the lease runs out and logs `lease_expired`, one put
//! without stays; and an attached run killed with SIGKILL (no chance to heal) leaves its
//! remote faulted for at most its `remotes: { lease: }`.

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::binary::mailquake_run;
use crate::support::remotes::{attached, http, remotes, request, serve};
use crate::support::scenario;

/// Slack on every deadline: the machine may be busy.
const MARGIN: Duration = Duration::from_secs(10);

fn remote(api: SocketAddr, name: &str) -> Value {
    remotes(api)["remotes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no remote {name}"))
        .clone()
}

/// Polls `remote(name)` until `done` holds; panics after `within`.
fn wait_for(
    api: SocketAddr,
    name: &str,
    within: Duration,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let r = remote(api, name);
        if done(&r) {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "{what} within {within:?}; now: {r}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The `lease_expired` events logged for `name`, as their `kind`.
fn expiries(api: SocketAddr, name: &str) -> Vec<Value> {
    let (status, body) = http(api, "GET", "/events?after=0&limit=100000");
    assert_eq!(status, 200, "{body}");
    body.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["remote"] == name && e["kind"]["type"] == "lease_expired")
        .map(|e| e["kind"].clone())
        .collect()
}

#[test]
fn a_fault_put_with_a_lease_heals_itself_and_one_put_without_stays() {
    let served = serve(&scenario("served-remotes.yaml"));
    let api = served.api;

    let (status, body) = request(api, "PUT", "/remotes/down/fault?lease=500ms", "\"refuse\"");
    assert_eq!(
        (status, body.trim()),
        (
            400,
            r#"{"error":"lease: `500ms` is out of range: from 1s to 7days"}"#
        )
    );
    assert_eq!(remote(api, "down")["faults"], json!([]), "nothing changed");

    let (status, body) = request(api, "PUT", "/remotes/down/fault?lease=2s", "\"refuse\"");
    assert_eq!(status, 200, "{body}");
    let put: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(put["faults"], json!(["refuse"]));
    assert_eq!(put["lease"]["lease_ms"], 2000, "{put}");
    let (status, body) = request(api, "PUT", "/remotes/other/fault", "\"blackhole\"");
    assert_eq!(status, 200, "{body}");
    assert_eq!(remote(api, "other")["lease"], Value::Null);

    let down = wait_for(
        api,
        "down",
        Duration::from_secs(2) + MARGIN,
        "healed",
        |r| r["faults"] == json!([]),
    );
    assert_eq!(
        (&down["set_by"], &down["lease"]),
        (&json!("api"), &Value::Null)
    );
    assert_eq!(down["counters"]["leases_expired"], 1, "{down}");
    assert_eq!(
        expiries(api, "down"),
        vec![json!({"type": "lease_expired", "faults": ["refuse"], "lease_ms": 2000})]
    );
    let (status, metrics) = http(api, "GET", "/metrics");
    assert_eq!(status, 200);
    assert!(
        metrics
            .lines()
            .any(|l| l == "fake_remotes_leases_expired_total{remote=\"down\"} 1"),
        "{metrics}"
    );
    // The fault put without a lease is still in force: today's behaviour.
    let other = remote(api, "other");
    assert_eq!(other["faults"], json!(["blackhole"]), "{other}");
    assert!(expiries(api, "other").is_empty());
    assert_eq!(http(api, "DELETE", "/remotes/other/fault").0, 200);
}

#[test]
fn an_attached_run_killed_with_sigkill_leaves_its_remote_faulted_for_at_most_the_lease() {
    const LEASE: Duration = Duration::from_secs(3);
    let served = serve(&scenario("served-remotes.yaml"));
    let api = served.api;
    let dir = tempfile::tempdir().unwrap();
    let file = attached(dir.path(), &format!("http://{api}"), |t| {
        t.replacen(
            "remotes: { external: ",
            "remotes: { lease: 3s, external: ",
            1,
        )
        .replace("rate: 100/s, for: 6s", "rate: 20/s, for: 60s")
        .replace(
            "at: 1s, for: 3s, fault: refuse",
            "at: 1s, for: 50s, fault: refuse",
        )
    });
    let log = dir.path().join("run.stderr");
    let out = dir.path().join("out");
    let mut run = mailquake_run(&file, &out).spawn_logged(&log);
    let stderr = || std::fs::read_to_string(&log).unwrap_or_default();

    let faulted = wait_for(
        api,
        "down",
        Duration::from_secs(20),
        "the run's fault applied",
        |r| r["faults"] == json!(["refuse"]),
    );
    assert!(
        run.try_wait().unwrap().is_none(),
        "the run ended early: {}",
        stderr()
    );
    assert_eq!(faulted["lease"]["lease_ms"], 3000, "{faulted}");
    assert!(stderr().contains("(events from #"), "{}", stderr());
    assert!(stderr().contains("; faults on a 3s lease)"), "{}", stderr());
    // The run renews its lease: the time left goes up again.
    let last_left = std::cell::Cell::new(u64::MAX);
    wait_for(api, "down", LEASE + MARGIN, "the lease renewed", |r| {
        let left = r["lease"]["remaining_ms"].as_u64().unwrap_or(u64::MAX);
        left > last_left.replace(left) && left != u64::MAX
    });
    assert!(
        run.try_wait().unwrap().is_none(),
        "the run ended early: {}",
        stderr()
    );

    // The lease alone must heal: the run's guardian (named in its journal's header) is
    // killed first, as a kill of the whole container would.
    let journal = std::fs::read_to_string(dir.path().join("out/actions.journal"))
        .expect("the run keeps an actions journal");
    let header: Value = serde_json::from_str(journal.lines().next().unwrap()).unwrap();
    let guardian = header["guardian"].as_u64().expect("a guardian pid");
    let killed = Command::new("kill")
        .args(["-9", &guardian.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success(), "kill -9 the guardian {guardian}");
    run.kill().expect("SIGKILL the run");
    run.wait().unwrap();
    let killed = Instant::now();
    let down = wait_for(api, "down", LEASE + MARGIN, "healed after SIGKILL", |r| {
        r["faults"] == json!([])
    });
    eprintln!(
        "healed {:?} after SIGKILL (lease {LEASE:?})",
        killed.elapsed()
    );
    assert_eq!(down["lease"], Value::Null, "{down}");
    assert_eq!(
        expiries(api, "down"),
        vec![json!({"type": "lease_expired", "faults": ["refuse"], "lease_ms": 3000})],
        "healed by its lease"
    );
    for other in ["ok", "other", "bounces"] {
        let r = remote(api, other);
        assert_eq!(
            (&r["faults"], &r["set_by"]),
            (&json!([]), &json!("timeline")),
            "never touched: {r}"
        );
    }
}
