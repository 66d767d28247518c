//! The control task: the one owner of a standalone server's state — the faults in force
//! on each remote (from the timeline or set through the API), the counters, and the
//! event log. Servers report events to it on a channel; the API asks it questions and
//! gives it orders on another ([`Control`]); it pushes faults to the servers through
//! their `watch` channels. Nothing else holds the state, so nothing is locked.
//!
//! Who decides a remote's faults: the timeline, from start-up; a `PUT` or `DELETE`
//! through the API replaces them at once (`DELETE` = none), until the timeline's next
//! change *for that remote*, which takes over again. `POST /reset` heals every remote
//! the same way, zeroes the counters and clears the event log (sequence numbers go on).
//! A `PUT` may carry a lease (`lease.rs`): unless renewed in time, the task heals that
//! remote itself, as `DELETE` would, and logs `lease_expired`. Anything that replaces
//! the API setting (`DELETE`, a `PUT` without lease, the timeline, `/reset`) ends it.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::lease::{Lease, LeaseView};
use super::log::{EventLog, Page};
use super::runs::RunCounts;
use super::TimelineEntry;
use crate::event::FaultSource;
use crate::{Fault, RemoteEvent, RemoteEventKind};

/// Events taken from the channel per turn of the loop.
const BATCH: usize = 512;

/// What each remote has counted (the same counters as mailquake's summary).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// TCP connections accepted.
    pub connections: u64,
    /// RCPT TO commands answered (each one delivery attempt), whatever the reply.
    pub rcpts: u64,
    /// Messages accepted at the final dot.
    pub messages: u64,
    /// Transactions refused at DATA or at the final dot.
    pub rejected: u64,
    /// Times a fault acted on a session.
    pub faults_fired: u64,
    /// Times the remote healed itself because a lease ran out.
    #[serde(default)]
    pub leases_expired: u64,
    /// RCPTs refused because their domain is not this remote's (mail sent to the wrong
    /// remote).
    #[serde(default)]
    pub relay_denied: u64,
}

/// Who set a remote's faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SetBy {
    Timeline,
    Api,
}

/// One remote as `GET /remotes` shows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RemoteView {
    pub name: String,
    pub domains: Vec<String>,
    pub listen: SocketAddr,
    /// The faults in force, in the scenario's form.
    pub faults: Vec<Fault>,
    pub set_by: SetBy,
    /// The lease on faults set through the API, if they were set with one.
    #[serde(default)]
    pub lease: Option<LeaseView>,
    pub counters: Counters,
}

/// The event log's cursors, as `GET /remotes` shows them.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct LogView {
    /// Oldest sequence number still kept.
    pub first: u64,
    /// The number the next event will get: follow from `after = next - 1`.
    pub next: u64,
    /// Events pushed out of the full ring since start-up.
    pub dropped: u64,
}

/// Everything `GET /remotes` and `GET /metrics` show.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Snapshot {
    pub remotes: Vec<RemoteView>,
    pub events: LogView,
    /// Accepted messages by the run that sent them (all remotes together).
    #[serde(default)]
    pub runs: RunCounts,
}

/// The remote named in a request does not exist; the message lists those that do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownRemote(pub String);

enum Request {
    Snapshot(oneshot::Sender<Snapshot>),
    SetFaults {
        remote: String,
        faults: Vec<Fault>,
        lease: Option<Duration>,
        reply: oneshot::Sender<Result<RemoteView, UnknownRemote>>,
    },
    Reset(oneshot::Sender<LogView>),
    Events {
        after: u64,
        limit: usize,
        reply: oneshot::Sender<Page>,
    },
}

/// A handle on the control task, for the API (cheap to clone).
#[derive(Clone, Debug)]
pub struct Control {
    requests: mpsc::Sender<Request>,
    next_event: watch::Receiver<u64>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Request")
    }
}

/// The control task is gone (the server is shutting down).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stopped;

impl Control {
    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Request) -> Result<T, Stopped> {
        let (tx, rx) = oneshot::channel();
        self.requests.send(make(tx)).await.map_err(|_| Stopped)?;
        rx.await.map_err(|_| Stopped)
    }

    pub async fn snapshot(&self) -> Result<Snapshot, Stopped> {
        self.ask(Request::Snapshot).await
    }

    /// Replaces `remote`'s faults now (empty = healthy) until the timeline's next change
    /// for it — or, with a `lease`, until the lease runs out unless set again before.
    pub async fn set_faults(
        &self,
        remote: &str,
        faults: Vec<Fault>,
        lease: Option<Duration>,
    ) -> Result<Result<RemoteView, UnknownRemote>, Stopped> {
        self.ask(|reply| Request::SetFaults {
            remote: remote.to_string(),
            faults,
            lease,
            reply,
        })
        .await
    }

    /// Heals every remote, zeroes the counters, clears the event log.
    pub async fn reset(&self) -> Result<LogView, Stopped> {
        self.ask(Request::Reset).await
    }

    /// Up to `limit` events after the cursor `after`.
    pub async fn events(&self, after: u64, limit: usize) -> Result<Page, Stopped> {
        self.ask(|reply| Request::Events {
            after,
            limit,
            reply,
        })
        .await
    }

    /// Changes whenever events are added: the number the next event will get.
    pub fn next_event(&self) -> watch::Receiver<u64> {
        self.next_event.clone()
    }
}

/// A served remote as the control task knows it.
pub(super) struct Remote {
    pub name: String,
    pub domains: Vec<String>,
    pub listen: SocketAddr,
    pub faults: watch::Sender<Vec<Fault>>,
}

struct RemoteState {
    remote: Remote,
    /// The timeline's faults for this remote, in timeline order.
    timeline: Vec<Fault>,
    /// Set through the API; `None` once the timeline changes this remote again.
    api: Option<Vec<Fault>>,
    /// On `api`'s faults, if they were set with one.
    lease: Option<Lease>,
    counters: Counters,
}

impl RemoteState {
    fn in_force(&self) -> (&[Fault], SetBy) {
        match &self.api {
            Some(faults) => (faults, SetBy::Api),
            None => (&self.timeline, SetBy::Timeline),
        }
    }

    /// Puts the faults in force; a change is returned as the event that logs it.
    fn publish(&self, source: FaultSource) -> Option<RemoteEvent> {
        let faults = self.in_force().0.to_vec();
        let kinds = faults.iter().map(|f| f.kind().to_string()).collect();
        let changed = self.remote.faults.send_if_modified(|current| {
            let changed = *current != faults;
            *current = faults;
            changed
        });
        changed.then(|| RemoteEvent {
            at_us: crate::event::now_us(),
            remote: self.remote.name.clone(),
            kind: RemoteEventKind::FaultChanged {
                faults: kinds,
                source,
            },
        })
    }

    fn view(&self) -> RemoteView {
        let (faults, set_by) = self.in_force();
        RemoteView {
            name: self.remote.name.clone(),
            domains: self.remote.domains.clone(),
            listen: self.remote.listen,
            faults: faults.to_vec(),
            set_by,
            lease: self.lease.as_ref().map(Lease::view),
            counters: self.counters,
        }
    }
}

/// Starts the control task. `events` is the receiving end of the channel every server
/// of `remotes` reports to; the timeline's offsets count from `t0`.
pub(super) fn spawn(
    remotes: Vec<Remote>,
    timeline: Vec<TimelineEntry>,
    t0: Instant,
    events: mpsc::Receiver<RemoteEvent>,
    log_capacity: usize,
    shutdown: CancellationToken,
) -> (Control, tokio::task::JoinHandle<()>) {
    let (requests_tx, requests) = mpsc::channel(64);
    let (next_tx, next_rx) = watch::channel(1);
    let task = ControlTask {
        remotes: remotes
            .into_iter()
            .map(|remote| RemoteState {
                remote,
                timeline: Vec::new(),
                api: None,
                lease: None,
                counters: Counters::default(),
            })
            .collect(),
        active: vec![false; timeline.len()],
        transitions: transitions(&timeline),
        timeline,
        log: EventLog::new(log_capacity),
        next_tx,
        runs: RunCounts::default(),
    };
    let handle = tokio::spawn(task.run(t0, events, requests, shutdown));
    (
        Control {
            requests: requests_tx,
            next_event: next_rx,
        },
        handle,
    )
}

struct ControlTask {
    remotes: Vec<RemoteState>,
    timeline: Vec<TimelineEntry>,
    active: Vec<bool>,
    /// (offset, entry index, on/off) still to come, in time order.
    transitions: std::collections::VecDeque<(Duration, usize, bool)>,
    log: EventLog,
    next_tx: watch::Sender<u64>,
    runs: RunCounts,
}

impl ControlTask {
    async fn run(
        mut self,
        t0: Instant,
        mut events: mpsc::Receiver<RemoteEvent>,
        mut requests: mpsc::Receiver<Request>,
        shutdown: CancellationToken,
    ) {
        let mut batch = Vec::with_capacity(BATCH);
        // Once every server is gone the channel stays closed: its branch is switched off
        // (a closed channel is always ready, and polling it would spin).
        let mut servers_up = true;
        loop {
            let next_change = self.transitions.front().map(|(at, _, _)| t0 + *at);
            let next_expiry = self
                .remotes
                .iter()
                .filter_map(|r| r.lease.map(|l| l.expires))
                .min();
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                Some(request) = requests.recv() => self.answer(request),
                _ = sleep_until(next_change), if next_change.is_some() => self.advance_timeline(t0),
                _ = sleep_until(next_expiry), if next_expiry.is_some() => self.expire_leases(),
                n = events.recv_many(&mut batch, BATCH), if servers_up => {
                    if n == 0 {
                        // Every server is gone; keep answering the API until shutdown.
                        servers_up = false;
                        continue;
                    }
                    for event in batch.drain(..) {
                        self.count(&event);
                        self.log.push(event);
                    }
                    self.next_tx.send_replace(self.log.next());
                }
            }
        }
    }

    fn count(&mut self, event: &RemoteEvent) {
        let Some(state) = self
            .remotes
            .iter_mut()
            .find(|r| r.remote.name == event.remote)
        else {
            return;
        };
        let c = &mut state.counters;
        match &event.kind {
            RemoteEventKind::Connected { .. } => c.connections += 1,
            RemoteEventKind::Rcpt { .. } => c.rcpts += 1,
            RemoteEventKind::Message { tracking, .. } => {
                c.messages += 1;
                self.runs.count(tracking.as_deref());
            }
            RemoteEventKind::Rejected { .. } => c.rejected += 1,
            RemoteEventKind::FaultFired { .. } => c.faults_fired += 1,
            RemoteEventKind::LeaseExpired { .. } => c.leases_expired += 1,
            RemoteEventKind::RelayDenied { .. } => c.relay_denied += 1,
            RemoteEventKind::FaultChanged { .. } => {}
        }
    }

    fn answer(&mut self, request: Request) {
        match request {
            Request::Snapshot(reply) => {
                let _ = reply.send(self.snapshot());
            }
            Request::SetFaults {
                remote,
                faults,
                lease,
                reply,
            } => {
                let mut changed = None;
                let result = match self.remotes.iter_mut().find(|r| r.remote.name == remote) {
                    Some(state) => {
                        // Healthy has nothing to heal: no lease to keep.
                        state.lease = lease
                            .filter(|_| !faults.is_empty())
                            .map(Lease::starting_now);
                        state.api = Some(faults);
                        changed = state.publish(FaultSource::Api);
                        Ok(state.view())
                    }
                    None => Err(self.unknown(&remote)),
                };
                self.log_changes(changed);
                let _ = reply.send(result);
            }
            Request::Reset(reply) => {
                let mut changed = Vec::new();
                for state in &mut self.remotes {
                    state.api = Some(Vec::new());
                    state.lease = None;
                    state.counters = Counters::default();
                    changed.extend(state.publish(FaultSource::Api));
                }
                self.log.clear();
                // The healing is the first thing the fresh log says.
                self.log_changes(changed);
                self.runs = RunCounts::default();
                let _ = reply.send(self.log_view());
            }
            Request::Events {
                after,
                limit,
                reply,
            } => {
                let _ = reply.send(self.log.page(after, limit));
            }
        }
    }

    fn unknown(&self, name: &str) -> UnknownRemote {
        let names: Vec<&str> = self
            .remotes
            .iter()
            .map(|r| r.remote.name.as_str())
            .collect();
        UnknownRemote(format!(
            "no remote named `{name}` (remotes: {})",
            names.join(", ")
        ))
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            remotes: self.remotes.iter().map(RemoteState::view).collect(),
            events: self.log_view(),
            runs: self.runs.clone(),
        }
    }

    fn log_view(&self) -> LogView {
        LogView {
            first: self.log.first(),
            next: self.log.next(),
            dropped: self.log.dropped(),
        }
    }

    /// Applies every transition that is due; the remotes they touch get the timeline's
    /// faults back (an API setting ends there).
    fn advance_timeline(&mut self, t0: Instant) {
        let elapsed = t0.elapsed();
        while let Some(&(at, index, on)) = self.transitions.front() {
            if at > elapsed {
                break;
            }
            self.transitions.pop_front();
            self.active[index] = on;
            let remote = self.timeline[index].remote.clone();
            let faults: Vec<Fault> = self
                .timeline
                .iter()
                .zip(&self.active)
                .filter(|(entry, on)| **on && entry.remote == remote)
                .map(|(entry, _)| entry.fault.clone())
                .collect();
            let mut changed = None;
            if let Some(state) = self.remotes.iter_mut().find(|r| r.remote.name == remote) {
                state.timeline = faults;
                state.api = None;
                state.lease = None;
                changed = state.publish(FaultSource::Timeline);
            }
            self.log_changes(changed);
        }
    }

    /// Logs fault changes (counted nowhere: they are not traffic).
    fn log_changes(&mut self, changes: impl IntoIterator<Item = RemoteEvent>) {
        let before = self.log.next();
        for event in changes {
            self.log.push(event);
        }
        if self.log.next() != before {
            self.next_tx.send_replace(self.log.next());
        }
    }

    /// Heals every remote whose lease has run out, as `DELETE` would, and logs a
    /// `lease_expired` event for each.
    fn expire_leases(&mut self) {
        let now = Instant::now();
        let mut expired = Vec::new();
        for state in &mut self.remotes {
            let Some(lease) = state.lease.filter(|l| l.expires <= now) else {
                continue;
            };
            let lifted = state.in_force().0.iter().map(|f| f.kind().to_string());
            let kind = RemoteEventKind::LeaseExpired {
                faults: lifted.collect(),
                lease_ms: lease.length.as_millis() as u64,
            };
            state.lease = None;
            state.api = Some(Vec::new());
            let changed = state.publish(FaultSource::Lease);
            expired.push(RemoteEvent {
                at_us: crate::event::now_us(),
                remote: state.remote.name.clone(),
                kind,
            });
            expired.extend(changed);
        }
        for event in expired {
            self.count(&event);
            self.log.push(event);
        }
        self.next_tx.send_replace(self.log.next());
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// (offset, entry index, on/off), in time order; at equal times "off" goes first, so a
/// fault that ends as another starts never overlaps it.
/// (`start::transitions`, shared with mailquake's own timeline.)
fn transitions(entries: &[TimelineEntry]) -> std::collections::VecDeque<(Duration, usize, bool)> {
    super::start::transitions(entries.iter().map(|e| (e.at, e.duration.map(|d| e.at + d)))).into()
}

#[cfg(test)]
#[path = "control_tests.rs"]
mod tests;
