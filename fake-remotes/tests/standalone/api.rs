//! The control API of an in-process standalone server: every endpoint, the token, bad
//! requests, resumable and followed events, and a live fault switch seen by an SMTP client.

use std::net::SocketAddr;
use std::time::Duration;

use fake_remotes::api::Limits;
use fake_remotes::standalone::{self, Config, RemoteDef, TimelineEntry};
use fake_remotes::Fault;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

use crate::support::*;

pub struct Server {
    pub api: SocketAddr,
    remotes: Vec<RemoteDef>,
    shutdown: CancellationToken,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    pub fn addr(&self, name: &str) -> SocketAddr {
        self.remotes.iter().find(|r| r.name == name).unwrap().listen
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        timeout(WAIT, self.task)
            .await
            .expect("stops in time")
            .unwrap()
            .unwrap();
    }
}

fn remote(name: &str) -> RemoteDef {
    RemoteDef {
        name: name.into(),
        domains: vec![format!("{name}.test")],
        listen: "127.0.0.1:0".parse().unwrap(),
    }
}

async fn start(timeline: Vec<TimelineEntry>, token: Option<&str>) -> Server {
    start_with(timeline, token, Limits::default()).await
}

/// Remotes `ok` and `down` with the control API on a free loopback port.
pub async fn start_with(
    timeline: Vec<TimelineEntry>,
    token: Option<&str>,
    api_limits: Limits,
) -> Server {
    let config = Config {
        api: "127.0.0.1:0".parse().unwrap(),
        token: token.map(String::from),
        api_limits,
        ..Config::new(vec![remote("ok"), remote("down")], timeline, 7)
    };
    let bound = standalone::bind(config).expect("bind loopback");
    let api = bound.api_addr();
    let remotes = bound.remotes();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(bound.serve(shutdown.clone()));
    Server {
        api,
        remotes,
        shutdown,
        task,
    }
}

fn find<'a>(remotes: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    remotes["remotes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {remotes}"))
}

#[tokio::test]
async fn remotes_metrics_and_reset_report_what_was_served() {
    let server = start(vec![], None).await;
    let dot = send_mail(server.addr("ok"), "mq.1.0@ok.test").await;
    assert!(dot.starts_with("250 "), "{dot}");

    let api = server.api;
    eventually("the message is counted", || async move {
        find(&get(api, "/remotes").await.json(), "ok")["counters"]["messages"] == 1
    })
    .await;
    let remotes = get(api, "/remotes").await;
    assert_eq!(remotes.status, 200);
    assert_eq!(remotes.header("content-type"), Some("application/json"));
    let all = remotes.json();
    let ok = find(&all, "ok");
    assert_eq!(ok["domains"], serde_json::json!(["ok.test"]));
    assert_eq!(ok["listen"], server.addr("ok").to_string());
    assert_eq!(ok["faults"], serde_json::json!([]));
    assert_eq!(
        ok["counters"],
        serde_json::json!({"connections": 1, "rcpts": 1, "messages": 1, "rejected": 0, "faults_fired": 0, "leases_expired": 0, "relay_denied": 0})
    );
    assert_eq!(all["events"]["next"], 4, "connected, rcpt, message: {all}");
    // Whose mail it was: the run id of its tracking id (`X-Mailquake-Id: t.1`).
    assert_eq!(
        all["runs"],
        serde_json::json!({"by_run": {"t": 1}, "other_runs": 0, "untracked": 0})
    );

    // The STARTTLS test CA, for clients in other processes.
    let ca = get(api, "/tls/ca.pem").await;
    assert_eq!(ca.status, 200);
    assert!(
        ca.body.starts_with("-----BEGIN CERTIFICATE-----"),
        "{}",
        ca.body
    );
    assert_eq!(ca.body, fake_remotes::tls::ca_pem());

    let metrics = get(api, "/metrics").await;
    assert_eq!(metrics.status, 200);
    assert!(metrics
        .header("content-type")
        .unwrap()
        .starts_with("text/plain"));
    assert!(
        metrics
            .body
            .contains("fake_remotes_messages_total{remote=\"ok\"} 1\n"),
        "{}",
        metrics.body
    );
    assert!(metrics
        .body
        .contains("fake_remotes_messages_total{remote=\"down\"} 0\n"));

    let reset = http(api, "POST", "/reset", None, "").await;
    assert_eq!(reset.status, 200, "{}", reset.body);
    let all = get(api, "/remotes").await.json();
    assert_eq!(find(&all, "ok")["counters"]["messages"], 0);
    assert_eq!(all["runs"]["by_run"], serde_json::json!({}));
    assert_eq!(
        (
            all["events"]["first"].clone(),
            all["events"]["next"].clone()
        ),
        (4.into(), 4.into()),
        "cleared, numbering kept"
    );
    let events = get(api, "/events?after=0").await;
    assert_eq!(
        (events.body.as_str(), events.header("x-events-missed")),
        ("", Some("3"))
    );
    server.stop().await;
}

#[tokio::test]
async fn with_a_token_every_request_needs_it() {
    let server = start(vec![], Some("s3cret")).await;
    for (method, path) in [
        ("GET", "/remotes"),
        ("GET", "/metrics"),
        ("GET", "/events"),
        ("POST", "/reset"),
        ("DELETE", "/remotes/ok/fault"),
        ("GET", "/nothing"),
    ] {
        let none = http(server.api, method, path, None, "").await;
        assert_eq!(none.status, 401, "{method} {path}");
        assert_eq!(none.header("www-authenticate"), Some("Bearer"));
        assert!(none.json()["error"].as_str().unwrap().contains("token"));
        let wrong = http(server.api, method, path, Some("s3cre7"), "").await;
        assert_eq!(wrong.status, 401, "{method} {path}");
    }
    let right = http(server.api, "GET", "/remotes", Some("s3cret"), "").await;
    assert_eq!(right.status, 200);
    let put = http(
        server.api,
        "PUT",
        "/remotes/ok/fault",
        Some("s3cret"),
        r#""reset""#,
    )
    .await;
    assert_eq!(put.status, 200);
    server.stop().await;
}

#[tokio::test]
async fn bad_faults_are_400_and_unknown_remotes_404_with_a_clear_message() {
    let server = start(vec![], None).await;
    let bad = http(server.api, "PUT", "/remotes/ok/fault", None, r#""explode""#).await;
    assert_eq!(bad.status, 400);
    let message = bad.json()["error"].as_str().unwrap().to_string();
    assert!(
        message.starts_with("not a fault: unknown variant `explode`, expected one of"),
        "{message}"
    );
    let range = http(
        server.api,
        "PUT",
        "/remotes/ok/fault",
        None,
        r#"{"reply":{"stage":"rcpt","code":700}}"#,
    )
    .await;
    assert_eq!(range.status, 400);
    assert!(
        range.json()["error"]
            .as_str()
            .unwrap()
            .starts_with("bad reply fault:"),
        "{}",
        range.body
    );
    let empty = http(server.api, "PUT", "/remotes/ok/fault", None, "").await;
    assert_eq!(empty.status, 400);

    let unknown = http(
        server.api,
        "PUT",
        "/remotes/nope/fault",
        None,
        r#""refuse""#,
    )
    .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(
        unknown.json()["error"],
        "no remote named `nope` (remotes: ok, down)"
    );
    assert_eq!(
        http(server.api, "DELETE", "/remotes/nope/fault", None, "")
            .await
            .status,
        404
    );
    assert_eq!(get(server.api, "/events?after=x").await.status, 400);
    assert_eq!(get(server.api, "/nowhere").await.status, 404);
    let all = get(server.api, "/remotes").await.json();
    assert_eq!(
        find(&all, "ok")["faults"],
        serde_json::json!([]),
        "nothing was applied"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_live_put_refuses_connections_and_delete_heals() {
    let server = start(vec![], None).await;
    let ok = server.addr("ok");
    assert!(send_mail(ok, "mq.1.0@ok.test").await.starts_with("250 "));

    let put = http(server.api, "PUT", "/remotes/ok/fault", None, r#""refuse""#).await;
    assert_eq!(put.status, 200, "{}", put.body);
    let view = put.json();
    assert_eq!(
        (view["faults"].clone(), view["set_by"].clone()),
        (serde_json::json!(["refuse"]), "api".into())
    );
    eventually("connections are refused", || refused(ok)).await;
    let all = get(server.api, "/remotes").await.json();
    assert_eq!(find(&all, "ok")["faults"], serde_json::json!(["refuse"]));
    assert_eq!(
        find(&all, "down")["faults"],
        serde_json::json!([]),
        "other remotes untouched"
    );

    let delete = http(server.api, "DELETE", "/remotes/ok/fault", None, "").await;
    assert_eq!(delete.status, 200);
    assert_eq!(delete.json()["faults"], serde_json::json!([]));
    eventually("the listener is back", || async move { !refused(ok).await }).await;
    assert!(
        send_mail(ok, "mq.2.0@ok.test").await.starts_with("250 "),
        "healthy again"
    );
    server.stop().await;
}

/// `probability` and `jitter` through the control API (the same reader as a scenario):
/// a PUT refuse on 30% of connections keeps the listener up and resets about that
/// share; a jitter beyond its delay is refused with the rule.
#[tokio::test]
async fn a_put_fault_takes_probability_and_jitter() {
    use tokio::io::AsyncReadExt;
    let server = start(vec![], None).await;
    let ok = server.addr("ok");
    let body = r#"{"refuse":{"probability":0.3}}"#;
    let put = http(server.api, "PUT", "/remotes/ok/fault", None, body).await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(
        put.json()["faults"],
        serde_json::json!([{"refuse": {"probability": 0.3}}])
    );
    let n = 300;
    let mut reset = 0;
    for _ in 0..n {
        let mut c = timeout(WAIT, tokio::net::TcpStream::connect(ok))
            .await
            .expect("connect in time")
            .expect("the listener stays up");
        let mut buf = [0u8; 256];
        match timeout(WAIT, c.read(&mut buf))
            .await
            .expect("banner or reset in time")
        {
            Ok(0) | Err(_) => reset += 1,
            Ok(_) => assert!(buf.starts_with(b"220"), "a banner"),
        }
    }
    // Binomial(300, 0.3): mean 90, 5 standard deviations ≈ 40.
    assert!((50..=130).contains(&reset), "{reset} of {n} reset");

    let jitter = r#"{"tarpit":{"reply":"1s","jitter":"2s"}}"#;
    let bad = http(server.api, "PUT", "/remotes/ok/fault", None, jitter).await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.json()["error"]
            .as_str()
            .unwrap()
            .starts_with("bad tarpit fault: jitter 2s is more than the reply delay 1s"),
        "{}",
        bad.body
    );
    server.stop().await;
}

#[tokio::test]
async fn events_resume_from_a_cursor_and_follow_live() {
    let server = start(vec![], None).await;
    let api = server.api;
    send_mail(server.addr("ok"), "mq.1.0@ok.test").await;
    eventually("three events", || async move {
        get(api, "/remotes").await.json()["events"]["next"] == 4
    })
    .await;

    let all = get(api, "/events?after=0").await;
    assert_eq!(all.status, 200);
    assert_eq!(all.header("x-events-next"), Some("4"));
    assert_eq!(all.header("x-events-missed"), Some("0"));
    let lines: Vec<serde_json::Value> = all
        .body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let seqs: Vec<u64> = lines.iter().map(|l| l["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3]);
    assert_eq!(lines[0]["kind"]["type"], "connected");
    assert_eq!(lines[2]["kind"]["type"], "message");
    assert_eq!(lines[2]["remote"], "ok");
    let line: fake_remotes::standalone::SequencedEvent =
        serde_json::from_str(all.body.lines().nth(1).unwrap()).unwrap();
    assert_eq!(line.seq, 2);

    let rest = get(api, "/events?after=1&limit=1").await;
    assert_eq!(rest.body.lines().count(), 1);
    assert!(rest.body.starts_with("{\"seq\":2,"), "{}", rest.body);
    assert_eq!(rest.header("x-events-next"), Some("4"));

    // Follow from the cursor: the backlog first, then what happens next.
    let mut stream = open_stream(api, "/events?after=2&follow=1").await;
    let mut seen = String::new();
    read_until(&mut stream, &mut seen, "{\"seq\":3,").await;
    assert!(
        !seen.contains("{\"seq\":2,"),
        "resumed after the cursor: {seen}"
    );
    send_mail(server.addr("down"), "mq.2.0@down.test").await;
    read_until(&mut stream, &mut seen, "{\"seq\":6,").await;
    assert!(seen.contains("\"remote\":\"down\""), "{seen}");
    drop(stream);
    server.stop().await;
}

#[tokio::test]
async fn the_timeline_runs_from_start_up_and_the_api_takes_over_until_its_next_change() {
    let timeline = vec![TimelineEntry {
        remote: "down".into(),
        at: Duration::ZERO,
        duration: None,
        fault: Fault::REFUSE,
    }];
    let server = start(timeline, None).await;
    let (api, down) = (server.api, server.addr("down"));
    eventually("refused from start-up", || refused(down)).await;
    let all = get(api, "/remotes").await.json();
    assert_eq!(find(&all, "down")["set_by"], "timeline");
    let delete = http(api, "DELETE", "/remotes/down/fault", None, "").await;
    assert_eq!(
        (delete.status, delete.json()["set_by"].clone()),
        (200, "api".into())
    );
    eventually(
        "healed through the API",
        || async move { !refused(down).await },
    )
    .await;
    assert!(send_mail(down, "mq.1.0@down.test")
        .await
        .starts_with("250 "));
    server.stop().await;
}

#[tokio::test]
async fn a_follow_stream_ends_when_the_server_shuts_down() {
    let server = start(vec![], None).await;
    let mut stream = open_stream(server.api, "/events?follow=1").await;
    let mut seen = String::new();
    read_until(&mut stream, &mut seen, "\r\n\r\n").await;
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
    server.stop().await;
}
