//! The generator over real loopback sockets: PIPELINING is used when offered (and across
//! messages), the open model holds its rate over a run, back-pressure is counted as
//! shortfall, the closed model keeps its sessions busy and reconnects after a 421,
//! weighted endpoints give per-node results.
//!
//! Every network wait has a timeout; nothing sleeps to synchronise.

use std::time::Duration;

use fake_remotes::behavior::ReplyFault;
use fake_remotes::{Fault, Stage};
use mailquake::collector::Event;
use mailquake::scenario::LoadModel;
use mailquake::smtp::{Body, ClientOptions, Connection, Phase, Timeouts};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::timeout;

use crate::support::smtp::{client, endpoint, generate, load, messages, remote, WAIT};

fn accepted(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::Accepted { .. }))
        .count()
}

#[tokio::test]
async fn pipelining_sends_mail_rcpt_and_data_in_one_write() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // A server that records each read it makes while the client waits for replies.
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        s.write_all(b"220 pipe.test ESMTP\r\n").await.unwrap();
        let mut reads: Vec<String> = Vec::new();
        let mut buf = vec![0u8; 65536];
        let mut pending = String::new();
        loop {
            let n = timeout(WAIT, s.read(&mut buf)).await.unwrap().unwrap();
            if n == 0 {
                break;
            }
            let chunk = String::from_utf8_lossy(&buf[..n]).to_string();
            reads.push(chunk.clone());
            pending.push_str(&chunk);
            // Answer whole commands; the body ends at "\r\n.\r\n".
            if pending.starts_with("EHLO") {
                s.write_all(b"250-pipe.test\r\n250 PIPELINING\r\n")
                    .await
                    .unwrap();
                pending.clear();
            } else if pending.starts_with("MAIL") && pending.ends_with("DATA\r\n") {
                s.write_all(b"250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n")
                    .await
                    .unwrap();
                pending.clear();
            } else if pending.ends_with("\r\n.\r\n") {
                s.write_all(b"250 queued\r\n").await.unwrap();
                pending.clear();
            } else if pending.starts_with("QUIT") {
                s.write_all(b"221 bye\r\n").await.unwrap();
                break;
            }
        }
        reads
    });
    let mut conn = timeout(
        WAIT,
        Connection::open(
            addr,
            "gen.test",
            Timeouts::uniform(Duration::from_secs(5), Duration::from_secs(5)),
        ),
    )
    .await
    .unwrap()
    .expect("session opens");
    assert!(conn.pipelining);
    let rcpts = vec!["a@ok.test".to_string(), "b@ok.test".to_string()];
    let outcome = timeout(WAIT, conn.send("s@bounces.test", &rcpts, b"hi\r\n"))
        .await
        .unwrap();
    assert!(outcome.accepted(), "{outcome:?}");
    timeout(WAIT, conn.quit()).await.unwrap();
    let reads = timeout(WAIT, server).await.unwrap().unwrap();
    let batch = reads
        .iter()
        .find(|r| r.starts_with("MAIL"))
        .expect("a read starting with MAIL");
    assert_eq!(
        batch,
        "MAIL FROM:<s@bounces.test>\r\nRCPT TO:<a@ok.test>\r\nRCPT TO:<b@ok.test>\r\nDATA\r\n",
        "MAIL, both RCPTs and DATA arrive in one read: {reads:?}"
    );
}

/// A PIPELINING server that answers whatever complete commands and bodies each read
/// holds, and records the reads.
async fn pipelining_server(listener: TcpListener) -> Vec<String> {
    let (mut s, _) = listener.accept().await.unwrap();
    s.write_all(b"220 pipe.test ESMTP\r\n").await.unwrap();
    let (mut reads, mut pending, mut in_data) = (Vec::new(), String::new(), false);
    let mut buf = vec![0u8; 65536];
    loop {
        let n = timeout(WAIT, s.read(&mut buf)).await.unwrap().unwrap();
        if n == 0 {
            return reads;
        }
        let chunk = String::from_utf8_lossy(&buf[..n]).to_string();
        reads.push(chunk.clone());
        pending.push_str(&chunk);
        let mut out = String::new();
        loop {
            if in_data {
                let Some(end) = pending.find("\r\n.\r\n") else {
                    break;
                };
                pending.drain(..end + 5);
                in_data = false;
                out.push_str("250 queued\r\n");
                continue;
            }
            let Some(eol) = pending.find("\r\n") else {
                break;
            };
            let line: String = pending.drain(..eol + 2).collect();
            out.push_str(match &line[..4] {
                "EHLO" => "250-pipe.test\r\n250 PIPELINING\r\n",
                "DATA" => {
                    in_data = true;
                    "354 go\r\n"
                }
                "QUIT" => "221 bye\r\n",
                _ => "250 ok\r\n",
            });
        }
        s.write_all(out.as_bytes()).await.unwrap();
    }
}

#[tokio::test]
async fn chained_messages_share_one_write_body_and_next_envelope() {
    use mailquake::smtp::transaction::Chained;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(pipelining_server(listener));
    let timeouts = Timeouts::uniform(Duration::from_secs(5), Duration::from_secs(5));
    let mut conn = timeout(WAIT, Connection::open(addr, "gen.test", timeouts))
        .await
        .unwrap()
        .expect("session opens");
    let rcpts = |n: u32| vec![format!("mq.{n}.0@ok.test")];
    let (previous, first) = timeout(
        WAIT,
        conn.chain("a@b.test", &rcpts(1), Body::bytes(b"one\r\n"), &mut ()),
    )
    .await
    .unwrap();
    assert!(previous.is_none() && matches!(first, Chained::Pending));
    let (previous, second) = timeout(
        WAIT,
        conn.chain("a@b.test", &rcpts(2), Body::bytes(b"two\r\n"), &mut ()),
    )
    .await
    .unwrap();
    assert!(previous.expect("the first message's outcome").accepted());
    assert!(matches!(second, Chained::Pending));
    assert!(timeout(WAIT, conn.finish(&mut ()))
        .await
        .unwrap()
        .unwrap()
        .accepted());
    timeout(WAIT, conn.quit()).await.unwrap();
    let reads = timeout(WAIT, server).await.unwrap().unwrap();
    assert!(
        reads.contains(
            &"one\r\n.\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<mq.2.0@ok.test>\r\nDATA\r\n".to_string()
        ),
        "the first body and the second envelope arrive in one read: {reads:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_model_rate_holds_within_5_percent_over_the_run() {
    let mut r = remote("mx.rate.test", vec![]);
    let t0_us = fake_remotes::event::now_us();
    let (report, events) = generate(
        load(LoadModel::Open, 200.0, 4, 20),
        vec![endpoint(r.addr, 1)],
        client(),
        None,
    )
    .await;
    assert_eq!((report.planned, report.shortfall), (800, 0));
    let arrived = messages(&r.stop_and_drain().await);
    assert_eq!(arrived.len(), 800);
    assert_eq!(accepted(&events), 800);
    // Server-side arrivals per one-second window from the load start: shown, not judged
    // (on a shared 2-core machine one second can stall; BENCHMARKS.md measures it).
    let mut per_second = [0u32; 5];
    for &at in &arrived {
        let s = (at.saturating_sub(t0_us) / 1_000_000).min(4) as usize;
        per_second[s] += 1;
    }
    eprintln!("arrivals per second: {per_second:?}");
    // The whole run's rate: 800 messages from the load start to the last arrival.
    let last_us = arrived.iter().max().unwrap().saturating_sub(t0_us);
    let rate = 800.0 / (last_us as f64 / 1e6);
    assert!(
        (190.0..=210.0).contains(&rate),
        "{rate:.1}/s over {last_us} µs, want 200/s ± 5%; per second {per_second:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_model_keeps_sessions_busy_and_reconnects_after_421() {
    let fault = Fault::Reply(ReplyFault {
        stage: Stage::Mail,
        code: 421,
        text: None,
        probability: 0.1,
    });
    let mut r = remote("mx.closed.test", vec![fault]);
    let (report, events) = generate(
        load(LoadModel::Closed, 0.0, 1, 4),
        vec![endpoint(r.addr, 1)],
        client(),
        None,
    )
    .await;
    let arrived = messages(&r.stop_and_drain().await).len();
    let all = report.stats.overall();
    assert_eq!(report.planned, 0);
    assert!(arrived > 50, "back to back for 1s: {arrived}");
    let rejected = all.replies[Phase::Mail.index()]
        .get(&421)
        .copied()
        .unwrap_or(0);
    assert!(rejected > 0, "some MAILs got 421");
    // Every accepted message arrived. The reverse may miss a few: a 421 to a pipelined
    // MAIL closes the connection with the client's RCPT and DATA unread, the kernel then
    // resets it, and the 250 for the message before it — already taken — can be lost
    // with the reset (the client cannot know; it retries, as an MTA would). At most one
    // such message per 421.
    let accepted_events = accepted(&events);
    assert_eq!(all.accepted as usize, accepted_events);
    assert!(
        accepted_events <= arrived && arrived - accepted_events <= rejected as usize,
        "accepted {accepted_events}, arrived {arrived}, 421s {rejected}"
    );
    let unanswered = (arrived - accepted_events) as u64;
    assert!(
        all.submitted >= all.accepted + rejected + unanswered,
        "{all:?}"
    );
    // Each 421 closed the connection; the session opened a new one and went on.
    let opened = all.replies[Phase::Banner.index()]
        .get(&220)
        .copied()
        .unwrap_or(0);
    assert!(
        opened >= 4 + rejected,
        "{opened} sessions opened for {rejected} 421s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_pressure_is_counted_as_shortfall_not_dropped() {
    // A black hole: sessions wait for a banner that never comes.
    let mut r = remote("mx.hole.test", vec![Fault::BLACKHOLE]);
    let short = ClientOptions::plain(
        "gen.test",
        Timeouts::uniform(Duration::from_secs(1), Duration::from_secs(1)),
    );
    let (report, events) = generate(
        load(LoadModel::Open, 100.0, 1, 2),
        vec![endpoint(r.addr, 1)],
        short,
        None,
    )
    .await;
    r.stop_and_drain().await;
    let submitted = events
        .iter()
        .filter(|e| matches!(e, Event::Submitted { .. }))
        .count() as u64;
    let shortfall_events: u64 = events
        .iter()
        .map(|e| match e {
            Event::Shortfall { count } => *count,
            _ => 0,
        })
        .sum();
    assert_eq!(report.planned, 100);
    assert_eq!(report.shortfall, shortfall_events);
    assert_eq!(
        submitted + report.shortfall,
        100,
        "every planned message is accounted for"
    );
    // Two sessions stuck for 1 s, two more messages queued: the rest is shortfall.
    assert!(report.shortfall >= 90, "{}", report.shortfall);
    let all = report.stats.overall();
    assert_eq!(all.submitted, submitted);
    assert_eq!(all.accepted, 0);
    assert_eq!(
        all.replies[Phase::Banner.index()].get(&mailquake::smtp::observe::no_reply::TIMEOUT),
        Some(&submitted)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weighted_endpoints_give_per_node_results() {
    let mut a = remote("node-a.test", vec![]);
    let mut b = remote("node-b.test", vec![]);
    let mut l = load(LoadModel::Open, 300.0, 1, 12);
    l.messages_per_connection = 1;
    let (report, _) = generate(
        l,
        vec![endpoint(a.addr, 2), endpoint(b.addr, 1)],
        client(),
        None,
    )
    .await;
    let (at_a, at_b) = (
        messages(&a.stop_and_drain().await).len() as u64,
        messages(&b.stop_and_drain().await).len() as u64,
    );
    let nodes = report.stats.by_node();
    let names: Vec<&str> = nodes.iter().map(|(n, _)| &**n).collect();
    assert_eq!(names, ["node-a.test", "node-b.test"]);
    assert_eq!((nodes[0].1.accepted, nodes[1].1.accepted), (at_a, at_b));
    // A loaded machine may fall short of 300 (measured: 169 sent with CI's build and
    // three test binaries on 2 cores); what was sent is accounted for exactly and
    // splits 2:1 by weight (± 5% of the total: the sessions start at different places
    // in the rotation) — enough messages for the split to mean something.
    let total = at_a + at_b;
    assert_eq!(total + report.shortfall, 300);
    assert!(total >= 100, "{total} sent");
    let want_a = total * 2 / 3;
    assert!(
        at_a.abs_diff(want_a) * 20 <= total,
        "{at_a} of {total} at the weight-2 node, want about {want_a}"
    );
    for (_, s) in &nodes {
        for phase in [
            Phase::Connect,
            Phase::Banner,
            Phase::Ehlo,
            Phase::Mail,
            Phase::Rcpt,
            Phase::Data,
            Phase::Dot,
            Phase::Quit,
        ] {
            assert!(
                s.phases.get(phase).is_some_and(|h| !h.is_empty()),
                "{phase:?}"
            );
        }
    }
    let endpoints = report.stats.by_endpoint();
    assert_eq!(endpoints.len(), 2);
    assert_eq!(endpoints[0].1.accepted, at_a);
}
