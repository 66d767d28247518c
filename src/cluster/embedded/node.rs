//! One node of the embedded reference cluster: an SMTP server (the fake-remotes session
//! machinery with a sink that queues instead of counting) and a queue manager that
//! relays with our SMTP client to each domain's route.
//!
//! The queue manager is one task that owns the node's queue; it executes what the
//! [`QueuePolicy`] decides. Every message gets a `Received:` header naming the node, so
//! remotes can tell which node relayed it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use fake_remotes::{Envelope, MessageSink, RemoteReply};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::queue::{EntryId, QueuePolicy};
use super::relay::{relay, Outgoing, RelayOutcome};
use crate::smtp::Timeouts;

/// A message the node's SMTP server accepted.
pub struct Incoming {
    pub from: String,
    pub rcpts: Vec<String>,
    pub body: Bytes,
}

/// A node's delivery workers: how many, and per destination the most that were busy
/// with it at once. The queue manager publishes it on a watch channel whenever a peak
/// grows (a measurement the run reads at its end, for `crate::diagnose`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Occupancy {
    /// `shared` or `per-destination`.
    pub design: String,
    /// The node's pool (`concurrency`): all destinations share it under `shared`, each
    /// destination has it under `per-destination`.
    pub workers: u32,
    pub peak_busy: std::collections::BTreeMap<String, u32>,
}

/// Operator actions on a node (the fault timeline's node faults).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeControl {
    /// Accept mail but never try to deliver it (true), or behave again (false).
    Stuck(bool),
}

/// The sink of a node's SMTP server: stamps `Received:` and hands the message to the queue manager.
#[derive(Clone)]
pub struct NodeSink {
    pub node: Arc<str>,
    pub next_id: Arc<AtomicU64>,
    pub queue: mpsc::Sender<Incoming>,
}

impl MessageSink for NodeSink {
    async fn deliver(&self, envelope: Envelope, body: Bytes) -> RemoteReply {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let received = format!(
            "Received: from {} ([{}])\r\n\tby {} (mailquake-embedded) with ESMTP id {id:X};\r\n\t{}\r\n",
            envelope.helo,
            envelope.peer.ip(),
            self.node,
            humantime::format_rfc3339_seconds(std::time::SystemTime::now()),
        );
        let mut stamped = BytesMut::with_capacity(received.len() + body.len());
        stamped.extend_from_slice(received.as_bytes());
        stamped.extend_from_slice(&body);
        let incoming = Incoming {
            from: envelope.mail_from,
            rcpts: envelope.rcpts,
            body: stamped.freeze(),
        };
        match self.queue.send(incoming).await {
            Ok(()) => RemoteReply::new(250, format!("2.0.0 Ok: queued as {id:X}")),
            Err(_) => RemoteReply::new(451, "4.3.0 queue unavailable, try again"),
        }
    }
}

/// How the queue manager relays.
pub struct RelayConfig {
    pub node: String,
    /// Domain (lower case) → the address that serves it.
    pub routes: Arc<HashMap<String, SocketAddr>>,
    pub timeouts: Timeouts,
}

struct Stored {
    from: String,
    rcpts: Vec<String>,
    body: Bytes,
}

/// Runs the queue manager until `shutdown`.
pub async fn run_queue(
    config: RelayConfig,
    mut policy: Box<dyn QueuePolicy>,
    mut incoming: mpsc::Receiver<Incoming>,
    mut control: mpsc::UnboundedReceiver<NodeControl>,
    occupancy: tokio::sync::watch::Sender<Occupancy>,
    shutdown: CancellationToken,
) {
    // Attempts in flight per destination (the workers busy with it).
    let mut busy: HashMap<String, u32> = HashMap::new();
    let mut store: HashMap<EntryId, Stored> = HashMap::new();
    let mut next_entry: EntryId = 0;
    let mut in_flight: JoinSet<RelayOutcome> = JoinSet::new();
    let mut stuck = false;
    let far = || Instant::now() + std::time::Duration::from_secs(3600);
    loop {
        let wake = policy.next_wakeup().unwrap_or_else(far);
        tokio::select! {
            _ = shutdown.cancelled() => break,
            Some(msg) = incoming.recv() => {
                let now = Instant::now();
                for (dest, rcpts) in split_by_domain(msg.rcpts) {
                    let id = next_entry;
                    next_entry += 1;
                    store.insert(id, Stored { from: msg.from.clone(), rcpts, body: msg.body.clone() });
                    if config.routes.contains_key(&dest) {
                        policy.enqueue(id, &dest, now);
                    } else {
                        bounce(&config, &mut store, &mut policy, &mut next_entry, id, "5.1.2 no route to the recipient's domain");
                    }
                }
            }
            Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                let Ok(outcome) = done else { continue };
                if let Some(n) = busy.get_mut(&outcome.attempt.dest) { *n = n.saturating_sub(1); }
                for (id, rcpts) in outcome.retry_rcpts {
                    if let Some(s) = store.get_mut(&id) { s.rcpts = rcpts; }
                }
                if let super::queue::AttemptResult::Done { delivered, .. } = &outcome.attempt.result {
                    for id in delivered { store.remove(id); }
                }
                let expired = policy.report(outcome.attempt, Instant::now());
                for (id, reason) in outcome.failures {
                    bounce(&config, &mut store, &mut policy, &mut next_entry, id, &reason);
                }
                for id in expired {
                    bounce(&config, &mut store, &mut policy, &mut next_entry, id, "4.4.7 message expired in the queue");
                }
            }
            Some(ctl) = control.recv() => match ctl {
                NodeControl::Stuck(on) => stuck = on,
            },
            _ = tokio::time::sleep_until(wake) => {}
        }
        if stuck {
            continue;
        }
        for dispatch in policy.dispatch(Instant::now()) {
            let Some(addr) = config.routes.get(&dispatch.dest).copied() else {
                continue;
            };
            let batch: Vec<Outgoing> = dispatch
                .entries
                .iter()
                .filter_map(|id| {
                    store.get(id).map(|s| Outgoing {
                        id: *id,
                        from: s.from.clone(),
                        rcpts: s.rcpts.clone(),
                        body: s.body.clone(),
                    })
                })
                .collect();
            let now_busy = busy.entry(dispatch.dest.clone()).or_default();
            *now_busy += 1;
            let now_busy = *now_busy;
            occupancy.send_if_modified(|o| {
                let peak = o.peak_busy.entry(dispatch.dest.clone()).or_default();
                let grew = now_busy > *peak;
                *peak = (*peak).max(now_busy);
                grew
            });
            let (node, timeouts) = (config.node.clone(), config.timeouts);
            in_flight
                .spawn(async move { relay(dispatch.dest, addr, &node, timeouts, batch).await });
        }
    }
}

/// Gives entry `id` up: removes it and queues a bounce to its sender (none for a bounce).
fn bounce(
    config: &RelayConfig,
    store: &mut HashMap<EntryId, Stored>,
    policy: &mut Box<dyn QueuePolicy>,
    next_entry: &mut EntryId,
    id: EntryId,
    reason: &str,
) {
    let Some(stored) = store.remove(&id) else {
        return;
    };
    if stored.from.is_empty() {
        return;
    }
    let Some(dest) = domain_of(&stored.from) else {
        return;
    };
    if !config.routes.contains_key(&dest) {
        return;
    }
    let body = super::dsn::build(
        &config.node,
        &stored.from,
        &stored.rcpts,
        reason,
        &stored.body,
    );
    let bounce_id = *next_entry;
    *next_entry += 1;
    store.insert(
        bounce_id,
        Stored {
            from: String::new(),
            rcpts: vec![stored.from],
            body: Bytes::from(body),
        },
    );
    policy.enqueue(bounce_id, &dest, Instant::now());
}

fn domain_of(addr: &str) -> Option<String> {
    addr.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase())
}

/// Groups recipients by their (lower-cased) domain, keeping first-seen order.
fn split_by_domain(rcpts: Vec<String>) -> Vec<(String, Vec<String>)> {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for rcpt in rcpts {
        let domain = domain_of(&rcpt).unwrap_or_default();
        match groups.iter_mut().find(|(d, _)| *d == domain) {
            Some((_, list)) => list.push(rcpt),
            None => groups.push((domain, vec![rcpt])),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_recipients_by_domain() {
        let rcpts = ["a@x.test", "b@Y.test", "c@x.test"]
            .map(String::from)
            .to_vec();
        let got = split_by_domain(rcpts);
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[0],
            ("x.test".into(), vec!["a@x.test".into(), "c@x.test".into()])
        );
        assert_eq!(got[1].0, "y.test");
    }
}
