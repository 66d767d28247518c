//! What a plain TCP client sees of each fault, over real loopback sockets (127.0.0.1:0).
//! TLS and AUTH (`wire/tls.rs`), the stateful faults (`wire/limits.rs`), `probability`
//! and `jitter` (`wire/chance.rs`) and robustness
//! against bad clients (`wire/robustness.rs`) have their own files.
//!
//! Every network wait has a timeout; "nothing arrived" is proven by waiting out a
//! deadline; waits for the server to change state poll a condition within a deadline.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;

use fake_remotes::behavior::{Disconnect, ReplyFault, Tarpit};
use fake_remotes::{serve, CountingSink, Fault, RemoteEvent, RemoteEventKind, ServerConfig, Stage};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{timeout, Instant};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(5);
const MAX_SIZE: usize = 2000;

struct Remote {
    addr: SocketAddr,
    faults: watch::Sender<Vec<Fault>>,
    events: mpsc::Receiver<RemoteEvent>,
    shutdown: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
}

#[path = "wire/chance.rs"]
mod chance;
#[path = "wire/domains.rs"]
mod domains;
#[path = "wire/limits.rs"]
mod limits;
#[path = "wire/outages.rs"]
mod outages;
#[path = "wire/robustness.rs"]
mod robustness;
#[path = "wire/tls.rs"]
mod tls;

async fn start(faults: Vec<Fault>) -> Remote {
    start_with(faults, |_| {}).await
}

/// A remote `mx.ok.test` with `faults`, its settings changed by `tweak`.
async fn start_with(faults: Vec<Fault>, tweak: impl FnOnce(&mut ServerConfig)) -> Remote {
    let listener = fake_remotes::bind("127.0.0.1:0".parse().unwrap()).expect("bind loopback");
    let addr = listener.local_addr().unwrap();
    let (faults_tx, faults_rx) = watch::channel(faults);
    let (events_tx, events) = mpsc::channel(fake_remotes::event::CHANNEL_CAPACITY);
    let shutdown = CancellationToken::new();
    let mut config = ServerConfig {
        hostname: "mx.ok.test".into(),
        faults: faults_rx,
        max_message_size: MAX_SIZE,
        idle_timeout: Duration::from_secs(30),
        seed: 7,
        ..ServerConfig::healthy("ok")
    };
    tweak(&mut config);
    let sink = CountingSink {
        name: "ok".into(),
        events: events_tx.clone(),
    };
    let server = tokio::spawn(serve(listener, config, sink, events_tx, shutdown.clone()));
    Remote {
        addr,
        faults: faults_tx,
        events,
        shutdown,
        server,
    }
}

impl Remote {
    async fn connect(&self) -> TcpStream {
        timeout(WAIT, TcpStream::connect(self.addr))
            .await
            .expect("connect in time")
            .expect("connect")
    }

    /// The next event of a kind, waiting for it.
    async fn wait_for(&mut self, wanted: impl Fn(&RemoteEventKind) -> bool) -> RemoteEventKind {
        loop {
            let event = timeout(WAIT, self.events.recv())
                .await
                .expect("event in time")
                .expect("server alive");
            if wanted(&event.kind) {
                return event.kind;
            }
        }
    }

    /// Connects once the server listens (again), within [`WAIT`]: each try gives up after
    /// `per_try` (a jammed listener never answers) or on a refusal, and is repeated.
    async fn connect_when_listening(&self, per_try: Duration) -> TcpStream {
        let deadline = Instant::now() + WAIT;
        loop {
            match timeout(per_try, TcpStream::connect(self.addr)).await {
                Ok(Ok(c)) => return c,
                Ok(Err(e)) if e.kind() != ErrorKind::ConnectionRefused => panic!("connect: {e}"),
                _ => {}
            }
            assert!(Instant::now() < deadline, "never listened again");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Shuts the server down and returns every event it had left.
    async fn finish(mut self) -> Vec<RemoteEventKind> {
        self.shutdown.cancel();
        timeout(WAIT, self.server)
            .await
            .expect("server stops in time")
            .expect("server task")
            .expect("serve ok");
        let mut all = Vec::new();
        while let Some(e) = self.events.recv().await {
            all.push(e.kind);
        }
        all
    }
}

/// Reads until `n` complete replies (their final lines) arrived.
async fn replies(stream: &mut TcpStream, n: usize) -> String {
    let mut out = Vec::new();
    while codes(&String::from_utf8_lossy(&out)).len() < n {
        let mut buf = [0u8; 4096];
        let got = timeout(WAIT, stream.read(&mut buf))
            .await
            .expect("reply in time")
            .expect("read");
        assert!(got > 0, "closed after {:?}", String::from_utf8_lossy(&out));
        out.extend_from_slice(&buf[..got]);
    }
    String::from_utf8(out).expect("ascii")
}

/// Reads what comes until the server closes (EOF or reset).
async fn until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match timeout(WAIT, stream.read(&mut buf))
            .await
            .expect("closed in time")
        {
            Ok(0) | Err(_) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
}

fn codes(output: &str) -> Vec<u16> {
    output
        .split_inclusive("\r\n")
        .filter(|l| l.ends_with("\r\n") && l.len() >= 4 && l.as_bytes()[3] == b' ')
        .filter_map(|l| l[..3].parse().ok())
        .collect()
}

async fn send(stream: &mut TcpStream, text: &str) {
    timeout(WAIT, stream.write_all(text.as_bytes()))
        .await
        .expect("write in time")
        .expect("write");
}

fn reply_fault(stage: Stage, code: u16) -> Fault {
    Fault::Reply(ReplyFault {
        stage,
        code,
        text: None,
        probability: 1.0,
    })
}

const ENVELOPE: &str =
    "EHLO client.test\r\nMAIL FROM:<mq.1@bounces.test>\r\nRCPT TO:<mq.1.0@ok.test>\r\n";
const BODY: &str = "Received: from client.test (client.test [127.0.0.1])\r\n\
    \tby node2.cluster.test (Postfix) with ESMTP id A1; Mon, 1 Jan 2030 00:00:00 +0000\r\n\
    Received: from gen by node0.cluster.test; Mon, 1 Jan 2030 00:00:00 +0000\r\n\
    X-Mailquake-Id: run7.1\r\n\r\n..starts with a dot\r\nbye\r\n.\r\n";

#[tokio::test]
async fn healthy_pipelined_session_end_to_end() {
    let mut remote = start(vec![]).await;
    let mut c = remote.connect().await;
    assert_eq!(
        replies(&mut c, 1).await,
        "220 mx.ok.test ESMTP fake-remotes\r\n"
    );
    send(
        &mut c,
        &format!("{ENVELOPE}RCPT TO:<mq.1.1@ok.test>\r\nDATA\r\n"),
    )
    .await;
    let batch = replies(&mut c, 5).await;
    assert_eq!(codes(&batch), [250, 250, 250, 250, 354], "{batch}");
    assert!(batch.contains("250-PIPELINING\r\n"), "{batch}");
    send(&mut c, &format!("{BODY}QUIT\r\n")).await;
    let end = replies(&mut c, 2).await;
    assert_eq!(codes(&end), [250, 221], "{end}");
    assert!(until_closed(&mut c).await.is_empty());

    let message = remote
        .wait_for(|e| matches!(e, RemoteEventKind::Message { .. }))
        .await;
    let RemoteEventKind::Message {
        mail_from,
        rcpts,
        tracking,
        received_by,
        ..
    } = message
    else {
        unreachable!()
    };
    assert_eq!(mail_from, "mq.1@bounces.test");
    assert_eq!(rcpts, ["mq.1.0@ok.test", "mq.1.1@ok.test"]);
    assert_eq!(tracking.as_deref(), Some("run7.1"));
    assert_eq!(received_by, ["node2.cluster.test", "node0.cluster.test"]);

    let events = remote.finish().await;
    assert!(events.is_empty(), "nothing after the message: {events:?}");
}

#[tokio::test]
async fn refuse_then_heal_on_the_same_port() {
    let mut remote = start(vec![Fault::REFUSE]).await;
    // The listener is closed once the fault is reported.
    remote
        .wait_for(|e| matches!(e, RemoteEventKind::FaultFired { fault, .. } if fault == "refuse"))
        .await;
    let refused = timeout(WAIT, TcpStream::connect(remote.addr))
        .await
        .expect("answer in time");
    assert_eq!(refused.unwrap_err().kind(), ErrorKind::ConnectionRefused);

    remote.faults.send_replace(vec![]);
    let mut c = remote.connect_when_listening(WAIT).await;
    assert_eq!(codes(&replies(&mut c, 1).await), [220]);
    remote.finish().await;
}

#[tokio::test]
async fn unreachable_leaves_connect_pending_then_heals_on_the_same_port() {
    let mut remote = start(vec![Fault::UNREACHABLE]).await;
    // Reported once the listener is jammed: from then on SYNs are dropped.
    remote
        .wait_for(
            |e| matches!(e, RemoteEventKind::FaultFired { fault, .. } if fault == "unreachable"),
        )
        .await;
    let pending = timeout(Duration::from_millis(500), TcpStream::connect(remote.addr)).await;
    assert!(
        pending.is_err(),
        "connect() neither completed nor failed within 500 ms: {pending:?}"
    );

    remote.faults.send_replace(vec![]);
    let mut c = remote
        .connect_when_listening(Duration::from_millis(300))
        .await;
    assert_eq!(codes(&replies(&mut c, 1).await), [220]);
    remote.finish().await;
}

#[tokio::test]
async fn reset_closes_with_rst_before_any_byte() {
    let remote = start(vec![Fault::Reset]).await;
    let mut c = remote.connect().await;
    let mut buf = [0u8; 64];
    let read = timeout(WAIT, c.read(&mut buf))
        .await
        .expect("closed in time");
    match read {
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset),
        Ok(n) => assert_eq!(n, 0, "no byte before the reset"),
    }
    let events = remote.finish().await;
    assert!(events.contains(&RemoteEventKind::FaultFired {
        fault: "reset".into(),
        stage: Stage::Banner,
        rcpts: vec![]
    }));
}

#[tokio::test]
async fn blackhole_sends_nothing_and_keeps_the_connection() {
    let remote = start(vec![Fault::BLACKHOLE]).await;
    let mut c = remote.connect().await;
    send(&mut c, "EHLO client.test\r\n").await;
    let mut buf = [0u8; 64];
    let read = timeout(Duration::from_millis(300), c.read(&mut buf)).await;
    assert!(
        read.is_err(),
        "neither a byte nor a close within 300 ms: {read:?}"
    );
    // Shutdown releases the held connection.
    remote.finish().await;
    assert!(until_closed(&mut c).await.is_empty());
}

#[tokio::test]
async fn tarpit_delays_the_banner() {
    let delay = Duration::from_millis(300);
    let remote = start(vec![Fault::Tarpit(Tarpit {
        banner: Some(delay),
        ..Tarpit::default()
    })])
    .await;
    let t0 = Instant::now();
    let mut c = remote.connect().await;
    assert_eq!(codes(&replies(&mut c, 1).await), [220]);
    assert!(t0.elapsed() >= delay, "banner after {:?}", t0.elapsed());
    remote.finish().await;
}

#[tokio::test]
async fn reply_451_at_rcpt() {
    let mut remote = start(vec![reply_fault(Stage::Rcpt, 451)]).await;
    let mut c = remote.connect().await;
    send(&mut c, &format!("{ENVELOPE}QUIT\r\n")).await;
    let all = replies(&mut c, 5).await;
    assert_eq!(codes(&all), [220, 250, 250, 451, 221], "{all}");
    assert!(
        all.contains("451 4.3.0 temporary failure (fake-remotes)\r\n"),
        "{all}"
    );
    let rcpt = remote
        .wait_for(|e| matches!(e, RemoteEventKind::Rcpt { .. }))
        .await;
    assert_eq!(
        rcpt,
        RemoteEventKind::Rcpt {
            rcpt: "mq.1.0@ok.test".into(),
            code: 451
        }
    );
    remote.finish().await;
}

#[tokio::test]
async fn reply_at_connect_then_only_quit() {
    let remote = start(vec![Fault::Reply(ReplyFault {
        stage: Stage::Banner,
        code: 554,
        text: Some("5.7.1 no service here".into()),
        probability: 1.0,
    })])
    .await;
    let mut c = remote.connect().await;
    assert_eq!(replies(&mut c, 1).await, "554 5.7.1 no service here\r\n");
    send(&mut c, "EHLO client.test\r\nQUIT\r\n").await;
    assert_eq!(codes(&replies(&mut c, 2).await), [503, 221]);
    remote.finish().await;
}

#[tokio::test]
async fn disconnect_at_dot_takes_the_message_and_closes_without_reply() {
    let mut remote = start(vec![Fault::Disconnect(Disconnect {
        stage: Stage::Dot,
        probability: 1.0,
    })])
    .await;
    let mut c = remote.connect().await;
    send(&mut c, &format!("{ENVELOPE}DATA\r\n")).await;
    assert_eq!(codes(&replies(&mut c, 5).await), [220, 250, 250, 250, 354]);
    send(&mut c, BODY).await;
    assert!(until_closed(&mut c).await.is_empty(), "no reply to the dot");
    remote
        .wait_for(|e| {
            matches!(
                e,
                RemoteEventKind::FaultFired {
                    stage: Stage::Dot,
                    ..
                }
            )
        })
        .await;
    // The message was taken before the silent close: a client that retries duplicates it.
    let rest = remote.finish().await;
    assert!(rest
        .iter()
        .any(|e| matches!(e, RemoteEventKind::Message { .. })));
}

#[tokio::test]
async fn oversize_message_gets_552_at_the_dot() {
    let mut remote = start(vec![]).await;
    let mut c = remote.connect().await;
    let big = "x".repeat(998) + "\r\n";
    send(
        &mut c,
        &format!("{ENVELOPE}DATA\r\n{}.\r\nNOOP\r\n", big.repeat(3)),
    )
    .await;
    let all = replies(&mut c, 7).await;
    assert_eq!(codes(&all), [220, 250, 250, 250, 354, 552, 250], "{all}");
    let rejected = remote
        .wait_for(|e| matches!(e, RemoteEventKind::Rejected { .. }))
        .await;
    assert!(matches!(
        rejected,
        RemoteEventKind::Rejected {
            stage: Stage::Dot,
            code: 552,
            ..
        }
    ));
    remote.finish().await;
}

#[tokio::test]
async fn long_command_line_gets_500() {
    let remote = start(vec![]).await;
    let mut c = remote.connect().await;
    send(&mut c, &format!("EHLO {}\r\nNOOP\r\n", "h".repeat(600))).await;
    let all = replies(&mut c, 3).await;
    assert_eq!(codes(&all), [220, 500, 250], "{all}");
    assert!(all.contains("500 5.5.2 Line too long\r\n"));
    remote.finish().await;
}

#[tokio::test]
async fn live_switch_on_an_open_session() {
    let remote = start(vec![]).await;
    let mut c = remote.connect().await;
    send(&mut c, "EHLO client.test\r\n").await;
    assert_eq!(codes(&replies(&mut c, 2).await), [220, 250]);
    remote
        .faults
        .send_replace(vec![reply_fault(Stage::Mail, 451)]);
    send(&mut c, "MAIL FROM:<>\r\n").await;
    assert_eq!(codes(&replies(&mut c, 1).await), [451]);
    remote.faults.send_replace(vec![]);
    send(&mut c, "MAIL FROM:<>\r\n").await;
    assert_eq!(codes(&replies(&mut c, 1).await), [250]);
    remote.faults.send_replace(vec![Fault::Reset]);
    send(&mut c, "RCPT TO:<a@ok.test>\r\n").await;
    let mut buf = [0u8; 64];
    let read = timeout(WAIT, c.read(&mut buf))
        .await
        .expect("closed in time");
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "reset at the next stage: {read:?}"
    );
    remote.finish().await;
}

#[tokio::test]
async fn shutdown_says_421_to_open_sessions() {
    let remote = start(vec![]).await;
    let mut c = remote.connect().await;
    assert_eq!(codes(&replies(&mut c, 1).await), [220]);
    remote.shutdown.cancel();
    let rest = until_closed(&mut c).await;
    assert_eq!(rest, b"421 4.3.2 service shutting down\r\n");
    remote.finish().await;
}
