//! Leases on faults set through the control API: a client that sets faults with a lease
//! (`PUT /remotes/NAME/fault?lease=30s`) must renew it (the same `PUT` again) before it
//! runs out, or the control task heals the remote by itself and logs a `lease_expired`
//! event. So a run that dies without healing (SIGKILL, a lost host) leaves its remotes
//! faulted for at most the lease, with no operator. Faults set without a lease stay as
//! they were: in force until `DELETE` or the timeline's next change.
//!
//! The expiry is the control task's own timer (`tokio::time`), so it is tested under a
//! paused clock.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::units::parse_duration;

/// The shortest lease: shorter would expire between a client's renewals on a busy host.
pub const MIN_LEASE: Duration = Duration::from_secs(1);
/// The longest lease (a week, as long as a scenario may last).
pub const MAX_LEASE: Duration = Duration::from_secs(7 * 24 * 3600);

/// A lease in force on a remote's API setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Lease {
    /// As asked for: each renewal starts a lease this long again.
    pub length: Duration,
    /// When the remote heals itself unless renewed.
    pub expires: Instant,
}

impl Lease {
    pub fn starting_now(length: Duration) -> Lease {
        Lease {
            length,
            expires: Instant::now() + length,
        }
    }

    pub fn view(&self) -> LeaseView {
        LeaseView {
            lease_ms: self.length.as_millis() as u64,
            remaining_ms: self
                .expires
                .saturating_duration_since(Instant::now())
                .as_millis() as u64,
        }
    }
}

/// A lease as `GET /remotes` and `PUT` show it: `{"lease_ms":30000,"remaining_ms":21874}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseView {
    /// The lease's length, as asked for.
    pub lease_ms: u64,
    /// Time left before the remote heals itself unless the lease is renewed.
    pub remaining_ms: u64,
}

/// The `lease` query value of a `PUT`: a duration from [`MIN_LEASE`] to [`MAX_LEASE`].
pub fn parse_lease(text: &str) -> Result<Duration, String> {
    let lease = parse_duration(text).map_err(|e| format!("lease: {e}"))?;
    if !(MIN_LEASE..=MAX_LEASE).contains(&lease) {
        return Err(format!(
            "lease: `{}` is out of range: from 1s to 7days",
            text.trim()
        ));
    }
    Ok(lease)
}

#[cfg(test)]
mod tests {
    use tokio::sync::{mpsc, watch};
    use tokio_util::sync::CancellationToken;

    use super::super::control::{spawn, Control, Remote, SetBy};
    use super::super::TimelineEntry;
    use super::*;
    use crate::{Fault, RemoteEventKind};

    #[test]
    fn leases_parse_within_their_range() {
        let table: &[(&str, Result<Duration, &str>)] = &[
            ("30s", Ok(Duration::from_secs(30))),
            ("1500ms", Ok(Duration::from_millis(1500))),
            ("2m", Ok(Duration::from_secs(120))),
            ("999ms", Err("lease: `999ms` is out of range: from 1s to 7days")),
            ("0", Err("lease: `0` is out of range: from 1s to 7days")),
            ("8days", Err("lease: `8days` is out of range: from 1s to 7days")),
            ("soon", Err("lease: invalid duration `soon`: expected a number and a unit, e.g. 500ms, 30s, 2m")),
        ];
        for (text, want) in table {
            assert_eq!(parse_lease(text), want.map_err(String::from), "{text}");
        }
    }

    /// A control task serving one remote `down` with `timeline`; the clock is paused.
    struct Served {
        control: Control,
        faults: watch::Receiver<Vec<Fault>>,
        shutdown: CancellationToken,
        t0: Instant,
        /// Held so that the task keeps waiting for events (no server ever sends one).
        _events: mpsc::Sender<crate::RemoteEvent>,
    }

    fn served(timeline: Vec<TimelineEntry>) -> Served {
        let (tx, faults) = watch::channel(Vec::new());
        let down = Remote {
            name: "down".into(),
            domains: vec!["down.test".into()],
            listen: "127.0.0.1:25".parse().unwrap(),
            faults: tx,
        };
        let (events, events_rx) = mpsc::channel(64);
        let shutdown = CancellationToken::new();
        let t0 = Instant::now();
        let (control, _task) = spawn(vec![down], timeline, t0, events_rx, 100, shutdown.clone());
        Served {
            control,
            faults,
            shutdown,
            t0,
            _events: events,
        }
    }

    impl Drop for Served {
        fn drop(&mut self) {
            self.shutdown.cancel();
        }
    }

    /// The `lease_expired` events logged so far.
    async fn expiries(control: &Control) -> Vec<RemoteEventKind> {
        let page = control.events(0, 100).await.unwrap();
        page.lines
            .iter()
            .map(|l| serde_json::from_slice::<super::super::SequencedEvent>(l).unwrap())
            .map(|e| e.event.kind)
            .filter(|k| matches!(k, RemoteEventKind::LeaseExpired { .. }))
            .collect()
    }

    const LEASE: Duration = Duration::from_secs(30);

    #[tokio::test(start_paused = true)]
    async fn an_unrenewed_lease_heals_the_remote_and_logs_lease_expired() {
        let mut s = served(vec![]);
        let view = s
            .control
            .set_faults("down", vec![Fault::BLACKHOLE], Some(LEASE))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            view.lease,
            Some(LeaseView {
                lease_ms: 30_000,
                remaining_ms: 30_000
            })
        );
        assert_eq!(*s.faults.borrow_and_update(), vec![Fault::BLACKHOLE]);

        s.faults.changed().await.unwrap();
        assert_eq!(
            s.t0.elapsed(),
            LEASE,
            "healed exactly when the lease ran out"
        );
        assert!(s.faults.borrow_and_update().is_empty());
        let snap = s.control.snapshot().await.unwrap();
        let down = &snap.remotes[0];
        assert_eq!(
            (down.faults.len(), down.set_by, down.lease),
            (0, SetBy::Api, None),
            "healed as DELETE heals"
        );
        assert_eq!(down.counters.leases_expired, 1);
        assert_eq!(
            expiries(&s.control).await,
            vec![RemoteEventKind::LeaseExpired {
                faults: vec!["blackhole".into()],
                lease_ms: 30_000
            }]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn renewing_keeps_the_faults_in_force() {
        let s = served(vec![]);
        for _ in 0..5 {
            s.control
                .set_faults("down", vec![Fault::Refuse(Default::default())], Some(LEASE))
                .await
                .unwrap()
                .unwrap();
            tokio::time::sleep(LEASE / 3 * 2).await;
            let snap = s.control.snapshot().await.unwrap();
            let lease = snap.remotes[0].lease.expect("still leased");
            assert_eq!(lease.remaining_ms, 10_000);
            assert_eq!(
                snap.remotes[0].faults,
                vec![Fault::Refuse(Default::default())]
            );
        }
        assert!(expiries(&s.control).await.is_empty());
        assert_eq!(*s.faults.borrow(), vec![Fault::Refuse(Default::default())]);
    }

    #[tokio::test(start_paused = true)]
    async fn delete_a_put_without_lease_reset_and_the_timeline_end_the_lease() {
        const CHANGE: Duration = Duration::from_secs(1000);
        let s = served(vec![TimelineEntry {
            remote: "down".into(),
            at: CHANGE,
            duration: None,
            fault: Fault::Reset,
        }]);
        enum End {
            Put(Vec<Fault>),
            Reset,
            Timeline,
        }
        let cases = [
            ("DELETE", End::Put(vec![])),
            (
                "a PUT without lease",
                End::Put(vec![Fault::Refuse(Default::default())]),
            ),
            ("POST /reset", End::Reset),
            ("the timeline's change", End::Timeline),
        ];
        for (what, end) in cases {
            if let End::Timeline = end {
                // Leased 1s before the timeline's change.
                tokio::time::sleep_until(s.t0 + CHANGE - Duration::from_secs(1)).await;
            }
            s.control
                .set_faults("down", vec![Fault::BLACKHOLE], Some(LEASE))
                .await
                .unwrap()
                .unwrap();
            match end {
                End::Put(faults) => {
                    let view = s.control.set_faults("down", faults, None).await.unwrap();
                    assert_eq!(view.unwrap().lease, None, "{what}");
                }
                End::Reset => {
                    s.control.reset().await.unwrap();
                }
                End::Timeline => {}
            }
            // Then no expiry ever comes.
            tokio::time::sleep(LEASE * 2).await;
            let snap = s.control.snapshot().await.unwrap();
            assert_eq!(snap.remotes[0].lease, None, "{what}");
            assert!(expiries(&s.control).await.is_empty(), "{what}");
        }
        let snap = s.control.snapshot().await.unwrap();
        assert_eq!(
            (snap.remotes[0].set_by, snap.remotes[0].faults.clone()),
            (SetBy::Timeline, vec![Fault::Reset]),
            "the timeline took over, and no lease healed it afterwards"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_lease_replaces_the_old_and_an_empty_put_takes_none() {
        let s = served(vec![]);
        let view = s
            .control
            .set_faults("down", vec![], Some(LEASE))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(view.lease, None, "nothing to heal: no lease");
        s.control
            .set_faults(
                "down",
                vec![Fault::Refuse(Default::default())],
                Some(Duration::from_secs(5)),
            )
            .await
            .unwrap()
            .unwrap();
        // A later, longer lease replaces the shorter one.
        tokio::time::sleep(Duration::from_secs(4)).await;
        s.control
            .set_faults(
                "down",
                vec![Fault::Refuse(Default::default())],
                Some(Duration::from_secs(60)),
            )
            .await
            .unwrap()
            .unwrap();
        tokio::time::sleep(Duration::from_secs(59)).await;
        assert!(expiries(&s.control).await.is_empty());
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(expiries(&s.control).await.len(), 1);
        assert!(s.faults.borrow().is_empty());
    }
}
