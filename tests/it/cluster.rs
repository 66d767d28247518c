//! `mailquake cluster`: the embedded reference cluster in a process of its own, relaying
//! to `mailquake remotes` in another, mail sent through it with `mailquake flood`; a node
//! fault set through its control API holds that node's mail until healed; its token;
//! what it refuses (exit 2) and how it stops (SIGTERM, exit 0).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::support::binary::{mailquake, mailquake_os, Proc};
use crate::support::remotes::{http, remotes, request, serve};
use crate::support::{scenario, wait_until};

const WAIT: Duration = Duration::from_secs(10);

/// A running `mailquake cluster`: its process, control API and nodes' SMTP addresses.
struct Cluster {
    proc: Proc,
    api: SocketAddr,
    nodes: Vec<String>,
}

/// Starts `mailquake cluster FILE --api localhost:0 --remotes URL [extra]` (a host name,
/// as `mailquake remotes --api` takes it) and waits (bounded) until it says where it
/// listens.
fn cluster(remotes_api: SocketAddr, extra: &[&str]) -> Cluster {
    let file = scenario("cluster.yaml");
    let url = format!("http://{remotes_api}");
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "cluster".as_ref(),
        file.as_os_str(),
        "--api".as_ref(),
        "localhost:0".as_ref(),
        "--remotes".as_ref(),
        url.as_ref(),
    ];
    args.extend(extra.iter().map(|a| a.as_ref() as &std::ffi::OsStr));
    let mut proc = mailquake_os(&args).start();
    let nodes = ["n1", "n2"]
        .iter()
        .map(|n| {
            let line = proc.wait_stdout(&format!("node {n} listening on "));
            line.split_whitespace().nth(5).unwrap().to_string()
        })
        .collect();
    let prefix = "control API on http://";
    let line = proc.wait_stdout(prefix);
    let rest = &line[line.find(prefix).unwrap() + prefix.len()..];
    let api: SocketAddr = rest.split('/').next().unwrap().parse().unwrap();
    assert!(api.ip().is_loopback(), "localhost:0 bound {api}");
    Cluster { proc, api, nodes }
}

/// Messages the remote `ok` has taken.
fn delivered(remotes_api: SocketAddr) -> u64 {
    let all = remotes(remotes_api);
    let ok = all["remotes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "ok")
        .unwrap()
        .clone();
    ok["counters"]["messages"].as_u64().unwrap()
}

/// `mailquake flood NODE` of 20 messages to ok.test; all must be accepted.
fn flood(node: &str) {
    let o = mailquake(&[
        "flood", node, "--rate", "20/s", "--for", "1s", "--to", "ok.test",
    ])
    .run(Duration::from_secs(30));
    assert_eq!(o.code, Some(0), "{}\n{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("accepted 20 "), "{}", o.stdout);
}

#[test]
fn the_cluster_relays_to_the_remotes_and_a_stuck_node_holds_its_mail_until_healed() {
    let served = serve(&scenario("cluster.yaml"));
    let mut c = cluster(served.api, &[]);
    let (n1, n2) = (c.nodes[0].clone(), c.nodes[1].clone());

    flood(&n1);
    wait_until(WAIT, "20 messages relayed to the remote", || {
        delivered(served.api) == 20
    });

    let (status, body) = request(c.api, "PUT", "/nodes/n2/fault", r#""stuck""#);
    assert_eq!(status, 200, "{body}");
    let (status, body) = http(c.api, "GET", "/nodes");
    assert_eq!(status, 200, "{body}");
    let nodes: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        nodes["nodes"][0]["fault"],
        serde_json::Value::Null,
        "{body}"
    );
    assert_eq!(nodes["nodes"][1]["fault"], "stuck", "{body}");
    assert_eq!(nodes["nodes"][1]["smtp"], n2.as_str(), "{body}");

    // The stuck node takes its 20 first; the healthy one's 20, sent after, arrive — and
    // nothing of the stuck node's.
    flood(&n2);
    flood(&n1);
    wait_until(WAIT, "the healthy node's 20 relayed", || {
        delivered(served.api) >= 40
    });
    assert_eq!(delivered(served.api), 40, "the stuck node delivered");

    // Healed, it delivers what it held.
    let (status, body) = http(c.api, "DELETE", "/nodes/n2/fault");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""fault":null"#), "{body}");
    wait_until(WAIT, "the held 20 relayed once healed", || {
        delivered(served.api) == 60
    });

    // Unknown nodes and faults are refused with one line.
    let (status, body) = request(c.api, "PUT", "/nodes/n9/fault", r#""stuck""#);
    assert_eq!(status, 404, "{body}");
    assert!(
        body.contains("no node `n9`: the nodes are n1, n2"),
        "{body}"
    );
    let (status, body) = request(c.api, "PUT", "/nodes/n1/fault", r#""refuse""#);
    assert_eq!(status, 400, "{body}");

    c.proc.signal("TERM");
    let o = c.proc.exit(WAIT);
    assert_eq!(o.code, Some(0), "{}\n{}", o.stdout, o.stderr);
    assert!(o.stderr.contains("SIGTERM — stopping"), "{}", o.stderr);
}

#[test]
fn with_a_token_every_request_to_the_cluster_api_needs_it() {
    let served = serve(&scenario("cluster.yaml"));
    let mut c = cluster(served.api, &["--token", "s3cret"]);
    let (status, _) = http(c.api, "GET", "/nodes");
    assert_eq!(status, 401);
    let mut s = TcpStream::connect_timeout(&c.api, WAIT).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        s,
        "GET /nodes HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer s3cret\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    c.proc.signal("INT");
    assert_eq!(c.proc.exit(WAIT).code, Some(0));
}

#[test]
fn the_cluster_refuses_what_it_cannot_serve_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let external = dir.path().join("external.yaml");
    let text = std::fs::read_to_string(scenario("cluster.yaml"))
        .unwrap()
        .replace("embedded: { nodes: 2 }", "smtp: [127.0.0.1:2525]")
        .replace("  - { node: n2, at: 0s, for: 1s, fault: stuck }", "  []");
    std::fs::write(&external, text).unwrap();
    let file = scenario("cluster.yaml");
    let file = file.to_str().unwrap();
    for (args, want) in [
        (
            vec!["cluster", external.to_str().unwrap()],
            "serves the embedded reference cluster",
        ),
        (
            vec!["cluster", file, "--listen", "0.0.0.0:2525"],
            "they listen on loopback only",
        ),
        (
            vec!["cluster", file, "--api", "0.0.0.0:0"],
            "MAILQUAKE_CLUSTER_TOKEN",
        ),
        // The remotes' rule for names: `0` is 0.0.0.0 (resolved without DNS).
        (
            vec!["cluster", file, "--api", "0:0"],
            "MAILQUAKE_CLUSTER_TOKEN",
        ),
        (
            vec!["cluster", file, "--api", "localhost"],
            "mailquake: --api localhost: expected HOST:PORT",
        ),
    ] {
        let o = mailquake(&args).run(WAIT);
        assert_eq!(o.code, Some(2), "{args:?}: {}\n{}", o.stdout, o.stderr);
        assert_eq!(o.stderr.lines().count(), 1, "{args:?}: {}", o.stderr);
        assert!(o.stderr.contains(want), "{args:?}: {}", o.stderr);
    }
}
