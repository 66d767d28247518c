//! `probability` and `jitter` over real sockets: a share of connections refused (reset
//! at accept, the listener stays up), held by a black hole or tarpitted, and a tarpit's
//! waits spread within their bounds. The server's seed is fixed, so the picks replay;
//! the tests hold them to binomial bounds (5 standard deviations), and to the server's
//! own count of what fired.

use fake_remotes::behavior::{Chance, Outage};
use tokio::task::JoinSet;

use super::*;

/// What a client sees first on a fresh connection.
#[derive(Debug, PartialEq)]
enum First {
    Banner,
    /// EOF or reset before any byte.
    Closed,
    /// Nothing within the wait.
    Silent,
}

/// Connects (the listener must be up) and reads the first bytes, waiting `quiet` for them.
async fn first(addr: SocketAddr, quiet: Duration) -> (First, Duration) {
    let t0 = Instant::now();
    let mut c = timeout(WAIT, TcpStream::connect(addr))
        .await
        .expect("connect in time")
        .expect("connect: the listener stays up");
    let mut buf = [0u8; 512];
    let seen = match timeout(quiet, c.read(&mut buf)).await {
        Err(_) => First::Silent,
        Ok(Ok(0)) | Ok(Err(_)) => First::Closed,
        Ok(Ok(n)) => {
            assert!(buf[..n].starts_with(b"220"), "{:?}", &buf[..n]);
            First::Banner
        }
    };
    (seen, t0.elapsed())
}

/// `n` connections at once; what each saw and when.
async fn concurrently(addr: SocketAddr, n: usize, quiet: Duration) -> Vec<(First, Duration)> {
    let mut set = JoinSet::new();
    for _ in 0..n {
        set.spawn(first(addr, quiet));
    }
    let mut all = Vec::new();
    while let Some(r) = set.join_next().await {
        all.push(r.expect("client task"));
    }
    all
}

fn within_binomial(count: usize, n: usize, p: f64) -> bool {
    let (mean, sd) = (n as f64 * p, (n as f64 * p * (1.0 - p)).sqrt());
    (count as f64 - mean).abs() <= 5.0 * sd
}

fn fired(events: &[RemoteEventKind], kind: &str) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, RemoteEventKind::FaultFired { fault, .. } if fault == kind))
        .count()
}

#[tokio::test]
async fn refuse_with_probability_resets_about_that_share_of_1000_connections() {
    let remote = start(vec![Fault::Refuse(Outage {
        probability: Some(0.3),
        ..Outage::default()
    })])
    .await;
    let n = 1000;
    let mut closed = 0;
    // One at a time: connection k gets the k-th seed, so the count replays exactly.
    for _ in 0..n {
        match first(remote.addr, WAIT).await.0 {
            First::Closed => closed += 1,
            First::Banner => {}
            First::Silent => panic!("a refused connection is reset, not held"),
        }
    }
    assert!(within_binomial(closed, n, 0.3), "{closed} of {n} refused");
    let events = remote.finish().await;
    assert_eq!(fired(&events, "refuse"), closed, "the server counted each");
}

#[tokio::test]
async fn blackhole_with_probability_holds_about_that_share() {
    let remote = start(vec![Fault::Blackhole(Chance {
        probability: Some(0.3),
    })])
    .await;
    let n = 200;
    let seen = concurrently(remote.addr, n, Duration::from_millis(1500)).await;
    let silent = seen.iter().filter(|(f, _)| *f == First::Silent).count();
    let banners = seen.iter().filter(|(f, _)| *f == First::Banner).count();
    assert_eq!(silent + banners, n, "held or served, never closed");
    assert!(within_binomial(silent, n, 0.3), "{silent} of {n} held");
    let events = remote.finish().await;
    assert_eq!(fired(&events, "blackhole"), silent);
}

#[tokio::test]
async fn tarpit_with_probability_and_jitter_spreads_banners_within_bounds() {
    let (delay, jitter) = (Duration::from_millis(300), Duration::from_millis(200));
    let remote = start(vec![Fault::Tarpit(Tarpit {
        banner: Some(delay),
        jitter: Some(jitter),
        probability: Some(0.5),
        ..Tarpit::default()
    })])
    .await;
    let n = 100;
    let mut seen = concurrently(remote.addr, n, WAIT).await;
    assert!(seen.iter().all(|(f, _)| *f == First::Banner), "{seen:?}");
    let events = remote.finish().await;
    let slowed = fired(&events, "tarpit");
    assert!(within_binomial(slowed, n, 0.5), "{slowed} of {n} tarpitted");
    // The slowed banners are the slowest: each waited at least delay − jitter (a sleep
    // is never early), at most delay + jitter (and some scheduling), and they spread.
    seen.sort_by_key(|(_, t)| *t);
    let slow: Vec<Duration> = seen[n - slowed..].iter().map(|(_, t)| *t).collect();
    assert!(slow[0] >= delay - jitter, "{slow:?}");
    assert!(
        slow[slow.len() - 1] <= delay + jitter + Duration::from_secs(2),
        "{slow:?}"
    );
    assert!(
        slow[slow.len() - 1] - slow[0] >= jitter,
        "jitter spreads the waits: {slow:?}"
    );
}
