//! Benchmark: memory per tracked message in the collector's ledger (DESIGN §8: ≤ 64 bytes).
//!
//! Feeds the collector N messages (submitted, accepted by one of three nodes, delivered
//! with a `Received:` node, a few bounced) exactly as a run does, and reports the growth of
//! the process's resident memory divided by N.
//!
//!     cargo run --release --example ledger_memory -- 10000000

use std::sync::Arc;

use fake_remotes::{RemoteEvent, RemoteEventKind};
use mailquake::collector::{Collector, Event, Ledger};

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let before = rss_bytes();
    let mut ledger = Ledger {
        run_id: "bench".into(),
        t0_us: 1_000_000,
        domains: vec!["ok.test".into(), "down.test".into()],
        ..Default::default()
    };
    // As `run` does: the load shape says how many records there will be.
    ledger.records.reserve_exact(n as usize);
    let mut c = Collector::new(ledger);
    let nodes: Vec<Arc<str>> = ["n1", "n2", "n3"].iter().map(|n| Arc::from(*n)).collect();
    for seq in 0..n {
        let t = 1_000_000 + seq * 10;
        c.apply(Event::Submitted {
            seq,
            domain: (seq % 10 == 0) as u16,
            rcpts: 1,
            intended_us: t,
        });
        c.apply(Event::Accepted {
            seq,
            at_us: t + 500,
            node: nodes[(seq % 3) as usize].clone(),
        });
        let (rcpt, received_by) = if seq % 1000 == 0 {
            (format!("mq.{seq}@bounces.test"), vec![])
        } else {
            (
                format!("mq.{seq}.0@ok.test"),
                vec![nodes[(seq % 3) as usize].to_string()],
            )
        };
        c.apply(Event::Remote(RemoteEvent {
            at_us: t + 2_000,
            remote: "ok".into(),
            kind: RemoteEventKind::Message {
                mail_from: String::new(),
                rcpts: vec![rcpt],
                tracking: Some(format!("bench.{seq}")),
                received_by,
                size: 4096,
            },
        }));
    }
    let after = rss_bytes();
    let p = c.progress;
    assert_eq!(p.accepted, n);
    assert_eq!(p.delivered + p.bounced, n);
    println!(
        "{n} messages: ledger records {} bytes each; RSS grew {:.1} MiB = {:.1} bytes per message",
        std::mem::size_of::<mailquake::collector::MessageRecord>(),
        (after - before) as f64 / (1 << 20) as f64,
        (after - before) as f64 / n as f64
    );
}
