//! Session tests over an in-memory pipe: the protocol, pipelining and how faults are
//! executed, without sockets; plus random input that must never panic. Timing tests run
//! on tokio's paused clock, so they are exact and instant. AUTH, STARTTLS and the
//! stateful faults have their own files.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use proptest::prelude::*;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
use tokio::sync::mpsc::Receiver;
use tokio::time::timeout;

use super::*;
use crate::behavior::{Disconnect, ReplyFault, Tarpit};
use crate::CountingSink;

/// Longer than every delay below, which matters on the paused clock.
const WAIT: Duration = Duration::from_secs(120);
const MAX_SIZE: usize = 1000;
const IDLE: Duration = Duration::from_secs(40);

struct Harness {
    client: DuplexStream,
    events: Receiver<RemoteEvent>,
    faults: watch::Sender<Vec<Fault>>,
    shutdown: CancellationToken,
}

/// One server's shared part: `auth` credentials, STARTTLS offered when `tls`.
fn server(auth: Option<(&str, &str)>, tls: bool) -> Arc<Shared> {
    let config = ServerConfig {
        hostname: "mx.test".into(),
        max_message_size: MAX_SIZE,
        idle_timeout: IDLE,
        auth: auth.map(|(u, p)| (u.to_string(), p.to_string())),
        ..ServerConfig::healthy("r")
    };
    let tls = tls.then(|| crate::tls::ServerTls::new("mx.test", None).expect("certificates"));
    Arc::new(Shared::new(&config, tls))
}

fn start(faults: Vec<Fault>) -> Harness {
    start_in(&server(None, false), faults)
}

/// A session of the server `shared` (sessions of one server share its memory).
fn start_in(shared: &Arc<Shared>, faults: Vec<Fault>) -> Harness {
    let (client, server) = tokio::io::duplex(256 * 1024);
    start_with(shared.clone(), client, server, faults)
}

fn start_on(client: DuplexStream, server_side: impl Transport, faults: Vec<Fault>) -> Harness {
    start_with(server(None, false), client, server_side, faults)
}

fn start_with(
    shared: Arc<Shared>,
    client: DuplexStream,
    server: impl Transport,
    faults: Vec<Fault>,
) -> Harness {
    let (events_tx, events) = mpsc::channel(crate::event::CHANNEL_CAPACITY);
    let (faults_tx, faults_rx) = watch::channel(faults);
    let shutdown = CancellationToken::new();
    let sink = CountingSink {
        name: "r".into(),
        events: events_tx.clone(),
    };
    let peer = "127.0.0.1:1".parse().unwrap();
    let session = Session::new(
        server, peer, shared, sink, events_tx, faults_rx, 1, &shutdown,
    );
    tokio::spawn(session.run());
    Harness {
        client,
        events,
        faults: faults_tx,
        shutdown,
    }
}

impl Harness {
    /// Writes `input` at once (a fully pipelined client), then reads to end-of-file.
    async fn talk(&mut self, input: &str) -> String {
        let (mut rd, mut wr) = tokio::io::split(&mut self.client);
        let write = async {
            let _ = wr.write_all(input.as_bytes()).await;
        };
        let mut out = Vec::new();
        let read = timeout(WAIT, rd.read_to_end(&mut out));
        let (_, read) = tokio::join!(write, read);
        read.expect("session ended").expect("read");
        String::from_utf8(out).expect("ascii replies")
    }

    /// Reads until `n` complete replies (their last lines) arrived.
    async fn replies(&mut self, n: usize) -> String {
        let mut out = Vec::new();
        while codes(&String::from_utf8_lossy(&out)).len() < n {
            let mut buf = [0u8; 1024];
            let got = timeout(WAIT, self.client.read(&mut buf))
                .await
                .expect("reply in time")
                .expect("read");
            assert!(got > 0, "closed after {:?}", String::from_utf8_lossy(&out));
            out.extend_from_slice(&buf[..got]);
        }
        String::from_utf8(out).unwrap()
    }

    fn events(&mut self) -> Vec<RemoteEventKind> {
        let mut all = Vec::new();
        while let Ok(e) = self.events.try_recv() {
            all.push(e.kind);
        }
        all
    }
}

/// The codes of the final line of each complete reply.
fn codes(output: &str) -> Vec<u16> {
    output
        .split_inclusive("\r\n")
        .filter(|l| l.ends_with("\r\n") && l.len() >= 4 && l.as_bytes()[3] == b' ')
        .filter_map(|l| l[..3].parse().ok())
        .collect()
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
    "EHLO c.test\r\nMAIL FROM:<mq.1@bounces.test>\r\nRCPT TO:<mq.1.0@ok.test>\r\n";
const MESSAGE: &str =
    "DATA\r\nX-Mailquake-Id: run.1\r\nReceived: from a by n1.test; d\r\n\r\n..dot\r\n.\r\n";

mod auth;
mod backpressure;
mod limits;
mod random;
mod starttls;

#[tokio::test]
async fn protocol_table() {
    let table: Vec<(&str, Vec<Fault>, String, Vec<u16>)> = vec![
        (
            "pipelined transaction, two recipients",
            vec![],
            format!("{ENVELOPE}RCPT TO:<mq.1.1@ok.test>\r\n{MESSAGE}QUIT\r\n"),
            vec![220, 250, 250, 250, 250, 354, 250, 221],
        ),
        (
            "HELO works",
            vec![],
            "HELO c\r\nMAIL FROM:<>\r\nQUIT\r\n".into(),
            vec![220, 250, 250, 221],
        ),
        (
            "out of order",
            vec![],
            "MAIL FROM:<a@b.test>\r\nHELO c\r\nRCPT TO:<a@b.test>\r\nDATA\r\nMAIL FROM:<>\r\n\
             MAIL FROM:<>\r\nDATA\r\nRSET\r\nNOOP\r\nQUIT\r\n"
                .into(),
            vec![220, 503, 250, 503, 503, 250, 503, 554, 250, 250, 221],
        ),
        (
            "unknown, not implemented, syntax",
            vec![],
            "FROB\r\nSTARTTLS\r\nEHLO c\r\nMAIL FROM:<a@@b>\r\nQUIT\r\n".into(),
            vec![220, 500, 502, 250, 501, 221],
        ),
        (
            "long line then a command",
            vec![],
            format!("NOOP {}\r\nNOOP\r\nQUIT\r\n", "x".repeat(600)),
            vec![220, 500, 250, 221],
        ),
        (
            "empty body",
            vec![],
            format!("{ENVELOPE}DATA\r\n.\r\nQUIT\r\n"),
            vec![220, 250, 250, 250, 354, 250, 221],
        ),
        (
            "oversize at the dot, then the session goes on",
            vec![],
            format!(
                "{ENVELOPE}DATA\r\n{}\r\n.\r\nNOOP\r\nQUIT\r\n",
                "y".repeat(MAX_SIZE + 1)
            ),
            vec![220, 250, 250, 250, 354, 552, 250, 221],
        ),
        (
            "SIZE over the limit",
            vec![],
            "EHLO c\r\nMAIL FROM:<a@b.test> SIZE=5000\r\nQUIT\r\n".into(),
            vec![220, 250, 552, 221],
        ),
        (
            "451 at rcpt: recipient refused, DATA has none",
            vec![reply_fault(Stage::Rcpt, 451)],
            format!("{ENVELOPE}DATA\r\nQUIT\r\n"),
            vec![220, 250, 250, 451, 554, 221],
        ),
        (
            "554 banner: only QUIT",
            vec![reply_fault(Stage::Banner, 554)],
            "EHLO c\r\nMAIL FROM:<>\r\nQUIT\r\n".into(),
            vec![554, 503, 503, 221],
        ),
        (
            "421 banner closes",
            vec![reply_fault(Stage::Banner, 421)],
            "EHLO c\r\n".into(),
            vec![421],
        ),
        (
            "421 at mail closes",
            vec![reply_fault(Stage::Mail, 421)],
            format!("{ENVELOPE}QUIT\r\n"),
            vec![220, 250, 421],
        ),
        (
            "550 at ehlo",
            vec![reply_fault(Stage::Ehlo, 550)],
            "EHLO c\r\nMAIL FROM:<>\r\nQUIT\r\n".into(),
            vec![220, 550, 503, 221],
        ),
        (
            "554 at data",
            vec![reply_fault(Stage::Data, 554)],
            format!("{ENVELOPE}DATA\r\nQUIT\r\n"),
            vec![220, 250, 250, 250, 554, 221],
        ),
        (
            "452 at dot",
            vec![reply_fault(Stage::Dot, 452)],
            format!("{ENVELOPE}{MESSAGE}QUIT\r\n"),
            vec![220, 250, 250, 250, 354, 452, 221],
        ),
        (
            "quit reply",
            vec![reply_fault(Stage::Quit, 421)],
            "QUIT\r\n".into(),
            vec![220, 421],
        ),
        (
            "disconnect at dot: body read, no reply",
            vec![Fault::Disconnect(Disconnect {
                stage: Stage::Dot,
                probability: 1.0,
            })],
            format!("{ENVELOPE}{MESSAGE}QUIT\r\n"),
            vec![220, 250, 250, 250, 354],
        ),
        (
            "disconnect at connect: no banner",
            vec![Fault::Disconnect(Disconnect {
                stage: Stage::Banner,
                probability: 1.0,
            })],
            "QUIT\r\n".into(),
            vec![],
        ),
        (
            "reset at accept",
            vec![Fault::Reset],
            "EHLO c\r\n".into(),
            vec![],
        ),
    ];
    for (name, faults, input, want) in table {
        let mut h = start(faults);
        let output = h.talk(&input).await;
        assert_eq!(codes(&output), want, "{name}: {output}");
    }
}

/// A transport that counts the writes that reached it.
struct CountingWrites {
    inner: DuplexStream,
    writes: Arc<AtomicUsize>,
}

impl AsyncRead for CountingWrites {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for CountingWrites {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if r.is_ready() {
            self.writes.fetch_add(1, Ordering::SeqCst);
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl Transport for CountingWrites {
    fn abort(self) {}
}

#[tokio::test]
async fn a_pipelined_batch_is_answered_in_one_write() {
    let (mut client, server) = tokio::io::duplex(64 * 1024);
    // The whole batch is waiting before the session reads anything.
    client
        .write_all(format!("{ENVELOPE}RCPT TO:<b@ok.test>\r\nDATA\r\n").as_bytes())
        .await
        .unwrap();
    let writes = Arc::new(AtomicUsize::new(0));
    let server = CountingWrites {
        inner: server,
        writes: writes.clone(),
    };
    let mut h = start_on(client, server, vec![]);
    assert_eq!(codes(&h.replies(6).await), [220, 250, 250, 250, 250, 354]);
    assert_eq!(writes.load(Ordering::SeqCst), 2, "banner, then the batch");
}

#[tokio::test]
async fn healthy_session_reports_rcpts_and_the_message() {
    let mut h = start(vec![]);
    let output = h.talk(&format!("{ENVELOPE}{MESSAGE}QUIT\r\n")).await;
    assert!(
        output.starts_with("220 mx.test ESMTP fake-remotes\r\n"),
        "{output}"
    );
    assert!(output.contains(
        "250-PIPELINING\r\n250-SIZE 1000\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n\
         250 ENHANCEDSTATUSCODES\r\n"
    ));
    let events = h.events();
    assert!(matches!(events[0], RemoteEventKind::Connected { .. }));
    assert_eq!(
        events[1..],
        [
            RemoteEventKind::Rcpt {
                rcpt: "mq.1.0@ok.test".into(),
                code: 250
            },
            RemoteEventKind::Message {
                mail_from: "mq.1@bounces.test".into(),
                rcpts: vec!["mq.1.0@ok.test".into()],
                tracking: Some("run.1".into()),
                received_by: vec!["n1.test".into()],
                // "..dot" arrives unstuffed
                size: "X-Mailquake-Id: run.1\r\nReceived: from a by n1.test; d\r\n\r\n.dot\r\n"
                    .len(),
            }
        ]
    );
}

#[tokio::test]
async fn fault_events_say_what_fired_and_for_which_recipients() {
    let mut h = start(vec![Fault::Disconnect(Disconnect {
        stage: Stage::Dot,
        probability: 1.0,
    })]);
    h.talk(&format!("{ENVELOPE}{MESSAGE}")).await;
    let events = h.events();
    let fired = RemoteEventKind::FaultFired {
        fault: "disconnect".into(),
        stage: Stage::Dot,
        rcpts: vec!["mq.1.0@ok.test".into()],
    };
    // The fault fires, then the message is taken (counted) before the silent close.
    let n = events.len();
    assert_eq!(events[n - 2], fired);
    assert!(
        matches!(&events[n - 1], RemoteEventKind::Message { tracking, .. } if tracking.as_deref() == Some("run.1"))
    );

    let mut h = start(vec![reply_fault(Stage::Dot, 554)]);
    h.talk(&format!("{ENVELOPE}{MESSAGE}QUIT\r\n")).await;
    let rejected = RemoteEventKind::Rejected {
        stage: Stage::Dot,
        code: 554,
        rcpts: vec!["mq.1.0@ok.test".into()],
        tracking: Some("run.1".into()),
    };
    assert_eq!(h.events().last(), Some(&rejected));

    let mut h = start(vec![reply_fault(Stage::Rcpt, 451)]);
    h.talk(&format!("{ENVELOPE}RCPT TO:<mq.1.1@ok.test>\r\nQUIT\r\n"))
        .await;
    let rcpt = |n: usize| RemoteEventKind::Rcpt {
        rcpt: format!("mq.1.{n}@ok.test"),
        code: 451,
    };
    let fired = |rcpts: &[&str]| RemoteEventKind::FaultFired {
        fault: "reply".into(),
        stage: Stage::Rcpt,
        rcpts: rcpts.iter().map(|r| r.to_string()).collect(),
    };
    // The refused recipient is not kept, but the fault names it.
    assert_eq!(
        h.events()[1..],
        [
            fired(&["mq.1.0@ok.test"]),
            rcpt(0),
            fired(&["mq.1.1@ok.test"]),
            rcpt(1)
        ]
    );

    // A RCPT refused out of sequence is an attempt too.
    let mut h = start(vec![reply_fault(Stage::Mail, 451)]);
    h.talk(&format!("{ENVELOPE}QUIT\r\n")).await;
    let need_mail = RemoteEventKind::Rcpt {
        rcpt: "mq.1.0@ok.test".into(),
        code: 503,
    };
    assert_eq!(h.events().last(), Some(&need_mail));
}

#[tokio::test]
async fn live_switch_applies_to_the_next_stage() {
    let mut h = start(vec![]);
    h.client.write_all(b"EHLO c\r\n").await.unwrap();
    assert_eq!(codes(&h.replies(2).await), [220, 250]);
    h.faults.send_replace(vec![reply_fault(Stage::Mail, 451)]);
    h.client.write_all(b"MAIL FROM:<>\r\n").await.unwrap();
    assert_eq!(codes(&h.replies(1).await), [451]);
    h.faults.send_replace(vec![Fault::BLACKHOLE]);
    h.client.write_all(b"MAIL FROM:<>\r\n").await.unwrap();
    let mut buf = [0u8; 64];
    let silent = timeout(Duration::from_millis(200), h.client.read(&mut buf)).await;
    assert!(silent.is_err(), "a black hole says nothing");
}

#[tokio::test(start_paused = true)]
async fn tarpit_delays_banner_and_replies_and_dribbles() {
    let tarpit = |banner, reply, bytes_per_sec| {
        Fault::Tarpit(Tarpit {
            banner: Some(Duration::from_secs(banner)),
            reply: Some(Duration::from_secs(reply)),
            bytes_per_sec,
            ..Tarpit::default()
        })
    };
    let mut h = start(vec![tarpit(30, 5, None)]);
    let t0 = Instant::now();
    h.replies(1).await;
    assert!(t0.elapsed() >= Duration::from_secs(30));
    h.client.write_all(b"NOOP\r\nNOOP\r\n").await.unwrap();
    let t1 = Instant::now();
    h.replies(2).await;
    assert!(
        t1.elapsed() >= Duration::from_secs(10),
        "each reply delayed"
    );

    // "220 mx.test ESMTP fake-remotes\r\n" is 32 bytes: at 4 bytes/s, about 8 s.
    let mut h = start(vec![tarpit(0, 0, Some(4))]);
    let t0 = Instant::now();
    h.replies(1).await;
    assert!(t0.elapsed() >= Duration::from_secs(7), "{:?}", t0.elapsed());
    let fired: Vec<_> = h
        .events()
        .into_iter()
        .filter(|e| matches!(e, RemoteEventKind::FaultFired { .. }))
        .collect();
    assert_eq!(fired.len(), 1, "a tarpit is reported once per session");
}

#[tokio::test(start_paused = true)]
async fn tarpit_dot_holds_only_the_end_of_data_reply() {
    let mut h = start(vec![Fault::Tarpit(Tarpit {
        dot: Some(Duration::from_secs(3)),
        ..Tarpit::default()
    })]);
    let t0 = Instant::now();
    h.client
        .write_all(b"EHLO c\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@ok.test>\r\nDATA\r\n")
        .await
        .unwrap();
    assert_eq!(codes(&h.replies(5).await), [220, 250, 250, 250, 354]);
    assert!(
        t0.elapsed() < Duration::from_secs(1),
        "no other reply waits"
    );
    h.client.write_all(b"hi\r\n.\r\n").await.unwrap();
    let t1 = Instant::now();
    assert_eq!(codes(&h.replies(1).await), [250]);
    assert!(t1.elapsed() >= Duration::from_secs(3), "{:?}", t1.elapsed());
}

#[tokio::test(start_paused = true)]
async fn idle_timeout_and_shutdown_say_421() {
    let mut h = start(vec![]);
    h.replies(1).await;
    let output = h.talk("").await;
    assert_eq!(output, "421 4.4.2 idle timeout\r\n");

    let mut h = start(vec![]);
    h.replies(1).await;
    h.shutdown.cancel();
    assert_eq!(h.talk("").await, "421 4.3.2 service shutting down\r\n");
}

#[tokio::test]
async fn client_vanishing_mid_data_ends_quietly() {
    let mut h = start(vec![]);
    h.client
        .write_all(format!("{ENVELOPE}DATA\r\nhalf a bo").as_bytes())
        .await
        .unwrap();
    h.replies(5).await;
    drop(h.client);
    // The session ends: the sink never saw a message and the event channel closes.
    let mut kinds = Vec::new();
    while let Some(e) = timeout(WAIT, h.events.recv()).await.expect("session ends") {
        kinds.push(e.kind);
    }
    assert!(!kinds
        .iter()
        .any(|e| matches!(e, RemoteEventKind::Message { .. })));
}
