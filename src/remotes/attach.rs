//! Attaching a run to remotes served elsewhere (`remotes: { external: URL }`).
//!
//! At start: `GET /remotes` says which remotes exist, which domains they serve and where
//! they listen; the scenario is validated again against that (`scenario::load_attached`),
//! and the routes for the embedded target come from it (a remote listening on
//! `0.0.0.0`/`::` is reached at the API's host). During the run: one task follows
//! `GET /events` from the cursor seen at attach and feeds the collector's remote-event
//! channel; one task per remote turns the timeline's fault switches (the same `watch`
//! channels in-process remotes take) into `PUT`/`DELETE`. At the end — normal, failed or
//! Ctrl-C — [`Link::heal`] sends `DELETE` for every remote the run faulted.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use fake_remotes::{Fault, RemoteEvent};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::client::{ApiClient, ApiError};
use super::TOKEN_ENV;
use crate::scenario::{self, ExternalRemotes, Plan, RemoteSpec};

/// Pause before following the events again after the stream broke.
const RETRY: Duration = Duration::from_millis(500);
/// Tries of the final `DELETE` per remote.
const HEAL_TRIES: u32 = 3;

/// Why a run could not attach.
#[derive(Debug)]
pub enum AttachError {
    /// The scenario does not fit the remotes served there (exit 2); one line.
    Invalid(String),
    /// The control API could not be used (exit 3); one line.
    Failed(String),
}

/// What a run needs of attached remotes: the same things in-process remotes give.
pub struct Attachment {
    /// The scenario validated against the remotes served there.
    pub plan: Plan,
    /// Lower-case domain → where its remote listens, as reached from here.
    pub routes: HashMap<String, SocketAddr>,
    /// The timeline's switch per remote.
    pub faults: HashMap<String, watch::Sender<Vec<Fault>>>,
    /// What the remotes see, for the collector.
    pub events: mpsc::Receiver<RemoteEvent>,
    pub link: Link,
}

/// The tasks that talk to the control API during the run.
pub struct Link {
    client: Arc<ApiClient>,
    stop_appliers: CancellationToken,
    appliers: Vec<JoinHandle<()>>,
    stop_follower: CancellationToken,
    follower: JoinHandle<()>,
    /// The sequence number of the last event forwarded.
    cursor: watch::Receiver<u64>,
}

pub async fn attach(plan: &Plan, external: &ExternalRemotes) -> Result<Attachment, AttachError> {
    let token = external.token.clone().or_else(|| {
        std::env::var(TOKEN_ENV)
            .ok()
            .filter(|t| !t.trim().is_empty())
    });
    let client = Arc::new(ApiClient::new(&external.url, token));
    let snapshot = client.remotes().await.map_err(|e| {
        let hint = match &e {
            ApiError::Refused { status: 401, .. } => {
                " (give `token:` beside `external:` or set MAILQUAKE_REMOTES_TOKEN)"
            }
            ApiError::Unreachable(_) => " (is `mailquake remotes` running there?)",
            ApiError::Refused { .. } => "",
        };
        AttachError::Failed(format!(
            "remotes: the control API at {} {e}{hint}",
            external.url
        ))
    })?;
    let api_host = api_host(client.authority()).await;
    let served: Vec<RemoteSpec> = snapshot
        .remotes
        .iter()
        .map(|r| RemoteSpec {
            name: r.name.clone(),
            domains: r.domains.iter().map(|d| d.to_ascii_lowercase()).collect(),
            listen: reachable(r.listen, api_host),
        })
        .collect();
    let plan = scenario::load_attached(&plan.source, &served).map_err(|mut e| {
        e.message = format!(
            "{} — checked against the remotes served at {}",
            e.message, external.url
        );
        AttachError::Invalid(e.to_string())
    })?;
    let routes = plan
        .remotes
        .iter()
        .flat_map(|r| r.domains.iter().map(|d| (d.clone(), r.listen)))
        .collect();

    let (events_tx, events) = mpsc::channel(fake_remotes::event::CHANNEL_CAPACITY);
    let after = snapshot.events.next.saturating_sub(1);
    let (cursor_tx, cursor) = watch::channel(after);
    let stop_follower = CancellationToken::new();
    let follower = tokio::spawn(follow_events(
        client.clone(),
        after,
        events_tx,
        cursor_tx,
        stop_follower.clone(),
    ));
    let stop_appliers = CancellationToken::new();
    let mut faults = HashMap::new();
    let mut appliers = Vec::new();
    for remote in &plan.remotes {
        let (tx, rx) = watch::channel(Vec::new());
        appliers.push(tokio::spawn(apply_faults(
            client.clone(),
            remote.name.clone(),
            rx,
            stop_appliers.clone(),
        )));
        faults.insert(remote.name.clone(), tx);
    }
    eprintln!(
        "mailquake: attached to {} remotes served at {} (events from #{})",
        plan.remotes.len(),
        external.url,
        after + 1
    );
    Ok(Attachment {
        plan,
        routes,
        faults,
        events,
        link: Link {
            client,
            stop_appliers,
            appliers,
            stop_follower,
            follower,
            cursor,
        },
    })
}

impl Link {
    /// Waits, at most `within`, until every event the remotes have logged by now has
    /// been forwarded, so the ledger is complete before it is judged.
    pub async fn catch_up(&self, within: Duration) {
        let Ok(snapshot) = self.client.remotes().await else {
            return;
        };
        let last = snapshot.events.next.saturating_sub(1);
        let mut cursor = self.cursor.clone();
        if tokio::time::timeout(within, cursor.wait_for(|c| *c >= last))
            .await
            .is_err()
        {
            eprintln!(
                "mailquake: events from {} still arriving after {}; judging without the rest",
                self.client.url,
                humantime::format_duration(within)
            );
        }
    }

    /// Heals every remote the run faulted (`DELETE`), then stops following events.
    pub async fn heal(self) {
        self.stop_appliers.cancel();
        for applier in self.appliers {
            let _ = applier.await;
        }
        self.stop_follower.cancel();
        let _ = self.follower.await;
    }
}

/// The IP of the API's host, for remotes that listen on every address.
async fn api_host(authority: &str) -> Option<IpAddr> {
    tokio::net::lookup_host(authority)
        .await
        .ok()?
        .next()
        .map(|a| a.ip())
}

/// Where to reach a remote that says it listens on `listen`.
fn reachable(listen: SocketAddr, api_host: Option<IpAddr>) -> SocketAddr {
    match api_host {
        Some(host) if listen.ip().is_unspecified() => SocketAddr::new(host, listen.port()),
        _ => listen,
    }
}

/// Turns the timeline's switches for one remote into `PUT`/`DELETE`; when stopped,
/// heals the remote if this run ever faulted it.
async fn apply_faults(
    client: Arc<ApiClient>,
    remote: String,
    mut switch: watch::Receiver<Vec<Fault>>,
    stop: CancellationToken,
) {
    let mut touched = false;
    // What this run last asked for: the timeline re-sends "none" to every remote when it
    // heals, and a remote the run never faulted is left alone.
    let mut asked: Vec<Fault> = Vec::new();
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            changed = switch.changed() => if changed.is_err() { break },
        }
        let faults = switch.borrow_and_update().clone();
        if faults == asked {
            continue;
        }
        asked = faults.clone();
        touched |= !faults.is_empty();
        if let Err(e) = client.set_faults(&remote, &faults).await {
            let what: Vec<&str> = faults.iter().map(Fault::kind).collect();
            eprintln!(
                "mailquake: remote `{remote}`: could not {} through {}: {e}",
                if what.is_empty() {
                    "heal it".to_string()
                } else {
                    format!("apply {}", what.join(" + "))
                },
                client.url
            );
        }
    }
    if !touched {
        return;
    }
    for attempt in 1..=HEAL_TRIES {
        match client.set_faults(&remote, &[]).await {
            Ok(()) => return,
            Err(e) if attempt == HEAL_TRIES => eprintln!(
                "mailquake: remote `{remote}` may still be faulted: DELETE {}/remotes/{remote}/fault failed: {e}",
                client.url
            ),
            Err(_) => tokio::time::sleep(RETRY).await,
        }
    }
}

/// Follows `GET /events` from `after`, feeding the collector; follows again from the
/// last event seen if the stream breaks, until stopped.
async fn follow_events(
    client: Arc<ApiClient>,
    mut after: u64,
    events: mpsc::Sender<RemoteEvent>,
    cursor: watch::Sender<u64>,
    stop: CancellationToken,
) {
    let mut broken = false;
    loop {
        let followed = tokio::select! {
            _ = stop.cancelled() => return,
            f = client.follow(after) => f,
        };
        let failure = match followed {
            Err(e) => e.to_string(),
            Ok(mut stream) => {
                if std::mem::take(&mut broken) {
                    eprintln!("mailquake: following events from {} again", client.url);
                }
                loop {
                    let next = tokio::select! {
                        _ = stop.cancelled() => return,
                        n = stream.next() => n,
                    };
                    match next {
                        Ok(Some(line)) => {
                            if line.seq > after + 1 {
                                eprintln!(
                                    "mailquake: {} events from {} were lost (their event ring overflowed or was reset): results may be incomplete",
                                    line.seq - after - 1,
                                    client.url
                                );
                            }
                            after = line.seq;
                            // Waits while the collector's channel is full: the stream
                            // is read no further meanwhile (the ring keeps the rest).
                            if events.send(line.event).await.is_err() {
                                return;
                            }
                            cursor.send_replace(after);
                        }
                        Ok(None) => break "the stream ended".to_string(),
                        Err(e) => break e.to_string(),
                    }
                }
            }
        };
        if !broken {
            broken = true;
            eprintln!("mailquake: events from {}: {failure}; retrying", client.url);
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(RETRY) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remotes_on_every_address_are_reached_at_the_api_host() {
        let host: IpAddr = "192.0.2.7".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:2525".parse().unwrap();
        let lo: SocketAddr = "127.0.0.1:2526".parse().unwrap();
        assert_eq!(
            reachable(any, Some(host)),
            "192.0.2.7:2525".parse().unwrap()
        );
        assert_eq!(reachable(lo, Some(host)), lo);
        assert_eq!(reachable(any, None), any);
    }
}
