//! Starting one fake remote and ordering a fault timeline: what `mailquake run` (remotes
//! in its own process) and standalone serving (`fake-remotes`, `mailquake remotes`) share,
//! so a remote behaves the same wherever it runs: same bind, same limits and defaults,
//! same order of fault transitions.

use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{remote_seed, RemoteDef};
use crate::{serve, CountingSink, Fault, RemoteEvent, ServerConfig};

/// Largest message a remote takes.
pub const MAX_MESSAGE_SIZE: usize = 64 << 20;
/// A client silent this long is dropped.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Binds a remote's listener, the way a remote re-binds after a `refuse`, so the
/// address stays usable. The error names the remote and the address.
pub fn bind_remote(def: &RemoteDef) -> Result<TcpListener, String> {
    crate::bind(def.listen).map_err(|e| {
        format!(
            "remote `{}`: cannot listen on {}: {e}",
            def.name, def.listen
        )
    })
}

/// Serves remote number `index` of a set seeded with `seed` on `listener` until
/// `shutdown`, reporting on `events`; its faults are switched through the sender.
pub fn spawn_remote(
    def: &RemoteDef,
    listener: TcpListener,
    seed: u64,
    index: usize,
    events: &mpsc::Sender<RemoteEvent>,
    shutdown: &CancellationToken,
) -> (watch::Sender<Vec<Fault>>, JoinHandle<std::io::Result<()>>) {
    let (faults_tx, faults_rx) = watch::channel(Vec::new());
    let config = ServerConfig {
        name: def.name.clone(),
        hostname: format!("{}.remote.test", def.name),
        faults: faults_rx,
        seed: remote_seed(seed, index),
        max_message_size: MAX_MESSAGE_SIZE,
        idle_timeout: IDLE_TIMEOUT,
        // Offered like a real MX.
        starttls: true,
        auth: None,
        // An MX for its own domains only, like a real one: mail sent to the wrong
        // remote is refused (550 5.7.1, a `RelayDenied` event) and counted misrouted.
        serves: Some(def.domains.iter().map(|d| d.to_ascii_lowercase()).collect()),
    };
    let sink = CountingSink {
        name: def.name.clone(),
        events: events.clone(),
    };
    let task = tokio::spawn(serve(
        listener,
        config,
        sink,
        events.clone(),
        shutdown.clone(),
    ));
    (faults_tx, task)
}

/// A fault timeline's transitions in the order they apply: `(when, window index, on)`,
/// from each window's `(start, end)` (`None`: never ends). At the same instant, windows
/// end before others start (a back-to-back pair never overlaps), then in file order.
pub fn transitions(
    windows: impl IntoIterator<Item = (Duration, Option<Duration>)>,
) -> Vec<(Duration, usize, bool)> {
    let mut t: Vec<(Duration, usize, bool)> = Vec::new();
    for (i, (start, end)) in windows.into_iter().enumerate() {
        t.push((start, i, true));
        if let Some(end) = end {
            t.push((end, i, false));
        }
    }
    t.sort_by_key(|(at, i, on)| (*at, *on, *i));
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_go_before_starts_at_the_same_instant_then_file_order() {
        let s = Duration::from_secs;
        // 0: 10s..15s, 1: 15s..20s (back to back), 2: 0s.. (no end), 3: 10s..15s.
        let windows = [
            (s(10), Some(s(15))),
            (s(15), Some(s(20))),
            (s(0), None),
            (s(10), Some(s(15))),
        ];
        let want = [
            (s(0), 2, true),
            (s(10), 0, true),
            (s(10), 3, true),
            (s(15), 0, false),
            (s(15), 3, false),
            (s(15), 1, true),
            (s(20), 1, false),
        ];
        assert_eq!(transitions(windows), want);
    }
}
