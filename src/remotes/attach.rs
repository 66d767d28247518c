//! Attaching a run to remotes served elsewhere (`remotes: { external: URL }`).
//!
//! At start: `GET /remotes` says which remotes exist, which domains they serve and where
//! they listen; the scenario is validated again against that (`scenario::load_attached`),
//! and the routes for the embedded target come from it (a remote listening on
//! `0.0.0.0`/`::` is reached at the API's host). During the run: one task follows
//! `GET /events` from the cursor seen at attach and feeds the collector's remote-event
//! channel; one task per remote turns the timeline's fault switches (the same `watch`
//! channels in-process remotes take) into `PUT`/`DELETE`. At the end — normal, failed or
//! Ctrl-C — [`Link::heal`] sends `DELETE` for every remote the run faulted. A remote's
//! faults are recorded in the run's actions journal before the first `PUT` and marked
//! undone after the final `DELETE`, so a killed run's faults can be healed afterwards.
//!
//! Every `PUT` carries a lease (`remotes: { lease: 30s }`), renewed by the same `PUT`
//! every third of it while the faults are in force: a run killed without healing
//! (SIGKILL, a lost host) leaves its faults for at most the lease; the remotes then heal
//! themselves.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use fake_remotes::event::now_us;
use fake_remotes::{Fault, RemoteEvent};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::client::{ApiClient, ApiError};
use super::TOKEN_ENV;
use crate::journal::{Action, Journal};
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
    /// Events skipped over: gaps in the sequence numbers (the remotes' ring overflowed or
    /// was reset before they were read).
    lost: watch::Receiver<u64>,
    /// Since when (µs since the Unix epoch) the API has not answered the follower;
    /// `None` while it answers (see `lost.rs`).
    down_since: watch::Receiver<Option<u64>>,
}

/// The control API's token: the scenario's `token:`, else `MAILQUAKE_REMOTES_TOKEN`.
pub fn token(external: &ExternalRemotes) -> Option<String> {
    external.token.clone().or_else(|| {
        std::env::var(TOKEN_ENV)
            .ok()
            .filter(|t| !t.trim().is_empty())
    })
}

/// `journal`: where the faults this run sets are recorded (crash safety).
pub async fn attach(
    plan: &Plan,
    external: &ExternalRemotes,
    journal: Option<&Journal>,
) -> Result<Attachment, AttachError> {
    let client = Arc::new(ApiClient::new(&external.url, token(external)));
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
    let attached =
        scenario::load_attached(&plan.source, &plan.sets, &served).map_err(|mut e| {
            e.message = format!(
                "{} — checked against the remotes served at {}",
                e.message, external.url
            );
            AttachError::Invalid(e.to_string())
        })?;
    // What the command line decided stays decided (`--skip-preflight`).
    let plan = Plan {
        preflight: plan.preflight,
        ..attached
    };
    let routes = plan
        .remotes
        .iter()
        .flat_map(|r| r.domains.iter().map(|d| (d.clone(), r.listen)))
        .collect();

    let (events_tx, events) = mpsc::channel(fake_remotes::event::CHANNEL_CAPACITY);
    let after = snapshot.events.next.saturating_sub(1);
    let (cursor_tx, cursor) = watch::channel(after);
    let (lost_tx, lost) = watch::channel(0);
    let (down_tx, down_since) = watch::channel(None);
    let stop_follower = CancellationToken::new();
    let follower = tokio::spawn(follow_events(
        client.clone(),
        after,
        events_tx,
        Progress {
            cursor: cursor_tx,
            lost: lost_tx,
            down_since: down_tx,
        },
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
            journal.cloned(),
            external.lease,
            stop_appliers.clone(),
        )));
        faults.insert(remote.name.clone(), tx);
    }
    eprintln!(
        "mailquake: attached to {} remotes served at {} (events from #{}; faults on a {} lease)",
        plan.remotes.len(),
        external.url,
        after + 1,
        humantime::format_duration(external.lease)
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
            lost,
            down_since,
        },
    })
}

impl Link {
    /// Waits, at most `within`, until every event the remotes have logged by now has
    /// been forwarded, so the ledger is complete before it is judged. Returns the events
    /// lost for the judgement: those skipped over while following, plus those logged
    /// there but still not arrived.
    pub async fn catch_up(&self, within: Duration) -> u64 {
        let Ok(snapshot) = self.client.remotes().await else {
            return *self.lost.borrow();
        };
        let last = snapshot.events.next.saturating_sub(1);
        let mut cursor = self.cursor.clone();
        let mut missing = 0;
        if tokio::time::timeout(within, cursor.wait_for(|c| *c >= last))
            .await
            .is_err()
        {
            missing = last.saturating_sub(*self.cursor.borrow());
            eprintln!(
                "mailquake: {missing} events from {} still not arrived after {}; judging without them",
                self.client.url,
                humantime::format_duration(within)
            );
        }
        *self.lost.borrow() + missing
    }

    /// The control API the events come from (`http://HOST:PORT`).
    pub fn url(&self) -> &str {
        &self.client.url
    }

    /// Since when the control API has not answered (`None` while it answers).
    pub fn down_since(&self) -> watch::Receiver<Option<u64>> {
        self.down_since.clone()
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

/// Where each domain served at `client`'s API is reached (lower-case domain → address,
/// a remote on `0.0.0.0`/`::` at the API's host), as a run attached there routes its
/// embedded target: `mailquake cluster` relays so.
pub async fn served_routes(client: &ApiClient) -> Result<HashMap<String, SocketAddr>, ApiError> {
    let snapshot = client.remotes().await?;
    let api_host = api_host(client.authority()).await;
    Ok(snapshot
        .remotes
        .iter()
        .flat_map(|r| {
            let addr = reachable(r.listen, api_host);
            r.domains
                .iter()
                .map(move |d| (d.to_ascii_lowercase(), addr))
        })
        .collect())
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

/// Turns the timeline's switches for one remote into `PUT`/`DELETE` under `lease`,
/// renewed every third of it while faults are in force; when stopped, heals the remote
/// if this run ever faulted it.
async fn apply_faults(
    client: Arc<ApiClient>,
    remote: String,
    mut switch: watch::Receiver<Vec<Fault>>,
    journal: Option<Journal>,
    lease: Duration,
    stop: CancellationToken,
) {
    let mut touched = false;
    // The journal id of this remote's faults, from the first `PUT` to the final `DELETE`.
    let mut journaled: Option<u64> = None;
    // What this run last asked for: the timeline re-sends "none" to every remote when it
    // heals, and a remote the run never faulted is left alone.
    let mut asked: Vec<Fault> = Vec::new();
    // When to renew the lease on `asked` (`None`: nothing in force).
    let mut renew: Option<Instant> = None;
    let mut renewal_failed = false;
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            changed = switch.changed() => if changed.is_err() { break },
            _ = tokio::time::sleep_until(renew.unwrap_or_else(Instant::now)), if renew.is_some() => {
                renew = Some(Instant::now() + lease / 3);
                match client.set_faults(&remote, &asked, lease).await {
                    Ok(()) => renewal_failed = false,
                    Err(e) if !std::mem::replace(&mut renewal_failed, true) => eprintln!(
                        "mailquake: remote `{remote}`: could not renew the lease on its faults through {}: {e} (it heals itself {} after the last renewal)",
                        client.url,
                        humantime::format_duration(lease)
                    ),
                    Err(_) => {}
                }
                continue;
            }
        }
        let faults = switch.borrow_and_update().clone();
        if faults == asked {
            continue;
        }
        asked = faults.clone();
        touched |= !faults.is_empty();
        if let (Some(journal), None, false) = (&journal, journaled, faults.is_empty()) {
            let action = Action::RemoteFault {
                api_url: client.url.clone(),
                remote: remote.clone(),
                faults: faults.clone(),
            };
            // Unrecorded, it would still be healed at the end of the run (and by the
            // lease); said, and applied.
            match journal.applied(action).await {
                Ok(id) => journaled = Some(id),
                Err(e) => eprintln!("mailquake: remote `{remote}`: {e}"),
            }
        }
        renew = (!faults.is_empty()).then(|| Instant::now() + lease / 3);
        if let Err(e) = client.set_faults(&remote, &faults, lease).await {
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
        match client.set_faults(&remote, &[], lease).await {
            Ok(()) => {
                if let (Some(journal), Some(id)) = (&journal, journaled) {
                    journal.undone_logged(id).await;
                }
                return;
            }
            Err(e) if attempt == HEAL_TRIES => eprintln!(
                "mailquake: remote `{remote}` may still be faulted: DELETE {}/remotes/{remote}/fault failed: {e}",
                client.url
            ),
            Err(_) => tokio::time::sleep(RETRY).await,
        }
    }
}

/// What the follower tells the run as it goes.
struct Progress {
    /// The sequence number of the last event forwarded.
    cursor: watch::Sender<u64>,
    /// Events skipped over so far.
    lost: watch::Sender<u64>,
    /// Since when the API has not answered; `None` while it answers.
    down_since: watch::Sender<Option<u64>>,
}

/// Follows `GET /events` from `after`, feeding the collector; follows again from the
/// last event seen if the stream breaks, until stopped. A gap in the sequence numbers is
/// counted as lost events (the judgement needs them) and said once per gap.
async fn follow_events(
    client: Arc<ApiClient>,
    mut after: u64,
    events: mpsc::Sender<RemoteEvent>,
    progress: Progress,
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
                progress.down_since.send_replace(None);
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
                                let gap = line.seq - after - 1;
                                progress.lost.send_modify(|lost| *lost += gap);
                                eprintln!(
                                    "mailquake: {gap} events from {} were lost (their event ring overflowed or was reset): the checks that need them will be inconclusive",
                                    client.url
                                );
                            }
                            after = line.seq;
                            // Waits while the collector's channel is full: the stream
                            // is read no further meanwhile (the ring keeps the rest).
                            if events.send(line.event).await.is_err() {
                                return;
                            }
                            progress.cursor.send_replace(after);
                        }
                        Ok(None) => break "the stream ended".to_string(),
                        Err(e) => break e.to_string(),
                    }
                }
            }
        };
        // Down from the moment it stopped answering, kept across the retries.
        progress
            .down_since
            .send_if_modified(|since| since.is_none() && since.replace(now_us()).is_none());
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
    use fake_remotes::standalone::{self, Config, RemoteDef};
    use tokio::time::Instant;

    use super::*;

    /// Events the remotes' ring pushed out before they were read are lost for the
    /// judgement: the follower counts the gap in the sequence numbers and `catch_up`
    /// reports it, with those logged there that never arrived. A real standalone server keeping 2 events; 10 open connections make
    /// exactly 10 `connected` events before the follower starts.
    #[tokio::test]
    async fn events_pushed_out_of_the_ring_are_counted_as_lost() {
        let mut config = Config::new(
            vec![RemoteDef {
                name: "ok".into(),
                domains: vec!["ok.test".into()],
                listen: "127.0.0.1:0".parse().unwrap(),
            }],
            Vec::new(),
            1,
        );
        config.api = "127.0.0.1:0".parse().unwrap();
        config.events_kept = 2;
        let served = standalone::bind(config).unwrap();
        let remote = served.remotes()[0].listen;
        let client = Arc::new(ApiClient::new(
            &format!("http://{}", served.api_addr()),
            None,
        ));
        let shutdown = CancellationToken::new();
        let _stop_serving = shutdown.clone().drop_guard();
        tokio::spawn(served.serve(shutdown.clone()));
        let mut open = Vec::new();
        for _ in 0..10 {
            open.push(tokio::net::TcpStream::connect(remote).await.unwrap());
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = client.remotes().await.unwrap().events;
            if log.next == 11 {
                assert_eq!(log.first, 9, "the ring keeps the last 2");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "10 events logged in time: {log:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        // Logged there but never forwarded here (a follower that does not get through):
        // all 10 are lost.
        let (_stuck_cursor, cursor) = watch::channel(0);
        let (_no_gaps, lost) = watch::channel(0);
        let (_up, down_since) = watch::channel(None);
        let stuck = Link {
            client: client.clone(),
            stop_appliers: CancellationToken::new(),
            appliers: Vec::new(),
            stop_follower: CancellationToken::new(),
            follower: tokio::spawn(async {}),
            cursor,
            lost,
            down_since,
        };
        assert_eq!(stuck.catch_up(Duration::from_millis(200)).await, 10);

        let (events_tx, mut events) = mpsc::channel(1024);
        let (cursor_tx, cursor) = watch::channel(0);
        let (lost_tx, lost) = watch::channel(0);
        let (down_tx, down_since) = watch::channel(None);
        let stop_follower = CancellationToken::new();
        let follower = tokio::spawn(follow_events(
            client.clone(),
            0,
            events_tx,
            Progress {
                cursor: cursor_tx,
                lost: lost_tx,
                down_since: down_tx,
            },
            stop_follower.clone(),
        ));
        let link = Link {
            client,
            stop_appliers: CancellationToken::new(),
            appliers: Vec::new(),
            stop_follower,
            follower,
            cursor,
            lost,
            down_since,
        };
        assert_eq!(link.catch_up(Duration::from_secs(10)).await, 8);
        assert_eq!(*link.cursor.borrow(), 10);
        for _ in 0..2 {
            assert!(events.recv().await.is_some(), "the 2 kept were forwarded");
        }
        assert!(events.try_recv().is_err());
        link.heal().await;
        drop(open);
    }

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
