//! The live view's event stream: one task that numbers every event (server-sent event
//! `id:`), keeps the run so far for replay, and fans new events out to the browsers.
//!
//! Nothing waits on a browser: publishing is a `try_send` to this task, and the task
//! hands events to a `broadcast` channel, which never blocks its sender — a browser that
//! reads too slowly lags, and its stream catches up from the replay log (by its last
//! id, as a reconnecting browser does with `Last-Event-ID`). The log keeps every event
//! and at most [`MAX_SNAPSHOTS`] snapshots: beyond that every other one of them is
//! dropped, so a long run's replay gets coarser, not bigger.

use std::convert::Infallible;

use axum::body::Bytes;
use tokio::sync::{broadcast, mpsc, oneshot};

/// Snapshots kept for replay (an hour at one a second) before thinning.
pub const MAX_SNAPSHOTS: usize = 3600;
/// Events a browser may be behind before it lags (then it catches up from the log).
const FAN_OUT: usize = 256;
/// Events waiting for the hub task (the publishers never wait: beyond it, one is lost).
const INBOX: usize = 1024;

/// One numbered event, as it goes on the wire.
#[derive(Clone, Debug)]
struct Frame {
    id: u64,
    snapshot: bool,
    bytes: Bytes,
}

enum Msg {
    Publish {
        kind: &'static str,
        data: String,
    },
    /// The frames after `after` and a receiver for those to come, taken together.
    Join {
        after: u64,
        reply: oneshot::Sender<(Vec<Bytes>, u64, broadcast::Receiver<Frame>)>,
    },
}

/// Where events are published and streams joined; cheap to clone.
#[derive(Clone)]
pub struct Hub {
    tx: mpsc::Sender<Msg>,
}

impl Hub {
    /// Starts the hub task; it ends when every handle is dropped.
    pub fn start() -> Hub {
        let (tx, rx) = mpsc::channel(INBOX);
        tokio::spawn(run(rx));
        Hub { tx }
    }

    /// Publishes an event of `kind` (`snapshot`, `switch`, …) with `data` as JSON.
    /// Never waits: when the hub is this far behind the event is lost.
    pub fn publish(&self, kind: &'static str, data: &impl serde::Serialize) {
        let data = serde_json::to_string(data).unwrap_or_else(|_| "null".into());
        let _ = self.tx.try_send(Msg::Publish { kind, data });
    }

    /// The stream of events after `after` (0: the whole run so far), then new ones as
    /// they come; it ends when the hub does.
    pub async fn stream(
        &self,
        after: u64,
    ) -> Option<impl futures_util::Stream<Item = Result<Bytes, Infallible>> + Send + 'static> {
        let (first, last, rx) = self.join(after).await?;
        struct S {
            hub: Hub,
            first: Option<Bytes>,
            last: u64,
            rx: broadcast::Receiver<Frame>,
        }
        let s = S {
            hub: self.clone(),
            first: Some(first),
            last,
            rx,
        };
        Some(futures_util::stream::unfold(s, |mut s| async move {
            if let Some(first) = s.first.take().filter(|b| !b.is_empty()) {
                return Some((Ok(first), s));
            }
            loop {
                match s.rx.recv().await {
                    Ok(frame) if frame.id <= s.last => continue,
                    Ok(frame) => {
                        s.last = frame.id;
                        return Some((Ok(frame.bytes), s));
                    }
                    // Too slow: catch up from the log.
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let (bytes, last, rx) = s.hub.join(s.last).await?;
                        (s.last, s.rx) = (last, rx);
                        if !bytes.is_empty() {
                            return Some((Ok(bytes), s));
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        }))
    }

    /// The frames after `after` as one chunk, the last id in it (or `after`), and a
    /// receiver for what follows.
    async fn join(&self, after: u64) -> Option<(Bytes, u64, broadcast::Receiver<Frame>)> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Msg::Join { after, reply }).await.ok()?;
        let (frames, last, receiver) = rx.await.ok()?;
        Some((Bytes::from(frames.concat()), last.max(after), receiver))
    }
}

async fn run(mut rx: mpsc::Receiver<Msg>) {
    let (fan_out, _) = broadcast::channel(FAN_OUT);
    let mut log: Vec<Frame> = Vec::new();
    let mut snapshots = 0usize;
    let mut next_id = 1u64;
    while let Some(msg) = rx.recv().await {
        match msg {
            Msg::Publish { kind, data } => {
                let frame = Frame {
                    id: next_id,
                    snapshot: kind == "snapshot",
                    bytes: Bytes::from(format!("id: {next_id}\nevent: {kind}\ndata: {data}\n\n")),
                };
                next_id += 1;
                snapshots += usize::from(frame.snapshot);
                let _ = fan_out.send(frame.clone());
                log.push(frame);
                if snapshots > MAX_SNAPSHOTS {
                    // Every other one, the latest kept.
                    let mut k = 0usize;
                    log.retain(|f| {
                        k += usize::from(f.snapshot);
                        !f.snapshot || k % 2 == snapshots % 2
                    });
                    snapshots = log.iter().filter(|f| f.snapshot).count();
                }
            }
            Msg::Join { after, reply } => {
                let receiver = fan_out.subscribe();
                let frames: Vec<Bytes> = log
                    .iter()
                    .filter(|f| f.id > after)
                    .map(|f| f.bytes.clone())
                    .collect();
                let last = log.last().map_or(0, |f| f.id);
                let _ = reply.send((frames, last, receiver));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::*;

    async fn next_text(
        s: &mut (impl futures_util::Stream<Item = Result<Bytes, Infallible>> + Unpin),
    ) -> String {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), s.next())
            .await
            .expect("in time")
            .expect("a chunk")
            .unwrap();
        String::from_utf8(chunk.to_vec()).unwrap()
    }

    /// A browser joining late gets the run so far, numbered, then what follows; one
    /// reconnecting after id 2 gets only what it missed.
    #[tokio::test]
    async fn numbered_events_replayed_to_late_joiners() {
        let hub = Hub::start();
        hub.publish("switch", &serde_json::json!({"on": true}));
        hub.publish("snapshot", &serde_json::json!({"t_ms": 1000}));
        hub.publish("snapshot", &serde_json::json!({"t_ms": 2000}));
        let mut late = Box::pin(hub.stream(0).await.unwrap());
        let replay = next_text(&mut late).await;
        assert!(
            replay.starts_with("id: 1\nevent: switch\ndata: {\"on\":true}\n\n"),
            "{replay}"
        );
        assert!(
            replay.contains("id: 3\nevent: snapshot\ndata: {\"t_ms\":2000}\n\n"),
            "{replay}"
        );
        let mut again = Box::pin(hub.stream(2).await.unwrap());
        assert_eq!(
            next_text(&mut again).await,
            "id: 3\nevent: snapshot\ndata: {\"t_ms\":2000}\n\n"
        );
        hub.publish("snapshot", &serde_json::json!({"t_ms": 3000}));
        assert!(next_text(&mut late).await.starts_with("id: 4\n"));
        assert!(next_text(&mut again).await.starts_with("id: 4\n"));
    }

    /// A browser that does not read costs nothing: publishing goes on, and when it
    /// reads again it gets every event in order, none twice.
    #[tokio::test]
    async fn a_slow_reader_catches_up_from_the_log() {
        let hub = Hub::start();
        let mut slow = Box::pin(hub.stream(0).await.unwrap());
        let n = FAN_OUT as u64 * 3;
        for i in 0..n {
            hub.publish("switch", &i);
            if i % 32 == 0 {
                tokio::task::yield_now().await;
            }
        }
        let mut text = String::new();
        while !text.contains(&format!("id: {n}\n")) {
            text += &next_text(&mut slow).await;
        }
        let ids: Vec<u64> = text
            .lines()
            .filter_map(|l| l.strip_prefix("id: "))
            .map(|i| i.parse().unwrap())
            .collect();
        assert_eq!(ids, (1..=n).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn snapshots_beyond_the_cap_are_thinned_events_kept() {
        let hub = Hub::start();
        hub.publish("switch", &"first");
        for i in 0..=MAX_SNAPSHOTS {
            hub.publish("snapshot", &i);
            if i % 32 == 0 {
                tokio::task::yield_now().await;
            }
        }
        let mut s = Box::pin(hub.stream(0).await.unwrap());
        let text = next_text(&mut s).await;
        assert!(text.starts_with("id: 1\nevent: switch"));
        let kept = text.matches("event: snapshot").count();
        assert!(kept <= MAX_SNAPSHOTS / 2 + 1, "{kept}");
        assert!(
            text.contains(&format!("data: {MAX_SNAPSHOTS}\n")),
            "the latest is kept"
        );
    }
}
