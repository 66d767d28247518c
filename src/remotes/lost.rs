//! Lost remotes: remotes served elsewhere that stop answering abort the run. The events
//! follower says since when the control API has not answered ([`Link::down_since`]);
//! past [`GRACE`] without it answering again, the run is aborted with "the remotes at
//! URL stopped answering at 10.2s" — from then on nothing the remotes saw reaches the
//! ledger, and judging the cluster on it would blame it for the harness.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::Link;
use crate::abort::Abort;

/// How long the control API may stay silent (the follower retrying) before the run is
/// aborted: a restart or a blip of the network is forgiven, a dead host is not.
pub const GRACE: Duration = Duration::from_secs(5);

/// Watches `link` from load start `t0_us` (µs since the Unix epoch) until `stop`; the
/// task returns when the remotes stopped answering (µs since the Unix epoch) if that
/// aborted the run.
pub fn watch(
    link: &Link,
    grace: Duration,
    t0_us: u64,
    abort: Abort,
    stop: CancellationToken,
) -> JoinHandle<Option<u64>> {
    tokio::spawn(watchdog(
        link.down_since(),
        link.url().to_string(),
        grace,
        t0_us,
        abort,
        stop,
    ))
}

async fn watchdog(
    mut down: watch::Receiver<Option<u64>>,
    url: String,
    grace: Duration,
    t0_us: u64,
    abort: Abort,
    stop: CancellationToken,
) -> Option<u64> {
    loop {
        let since = *down.borrow_and_update();
        tokio::select! {
            _ = stop.cancelled() => return None,
            changed = down.changed() => if changed.is_err() { return None },
            _ = tokio::time::sleep(grace), if since.is_some() => {
                let since = since?;
                abort.stopped_answering(
                    &format!("the remotes at {url}"),
                    since,
                    t0_us,
                    &format!("silent for {}", humantime::format_duration(grace)),
                );
                return Some(since);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use fake_remotes::event::now_us;

    use super::*;

    /// Wait this long, then say the API is down (`Some(true)`), up, or nothing.
    type Step = (Duration, Option<bool>);

    async fn run(grace: Duration, steps: &[Step]) -> (Option<u64>, Option<String>) {
        let (tx, rx) = watch::channel(None);
        let abort = Abort::new();
        let stop = CancellationToken::new();
        let t0 = now_us();
        let task = tokio::spawn(watchdog(
            rx,
            "http://127.0.0.1:9".into(),
            grace,
            t0,
            abort.clone(),
            stop.clone(),
        ));
        for &(wait, down) in steps {
            tokio::time::sleep(wait).await;
            if let Some(down) = down {
                tx.send_replace(down.then(|| t0 + 10_200_000));
            }
        }
        stop.cancel();
        let lost = task.await.unwrap();
        (lost, abort.reason(t0).map(|a| a.reason))
    }

    /// (steps: wait, then down?/up?) → aborted; under paused time.
    #[tokio::test(start_paused = true)]
    async fn aborts_only_past_the_grace() {
        let s = Duration::from_secs;
        let table: [(&[Step], bool); 4] = [
            (&[(s(1), Some(true)), (s(6), None)], true),
            (&[(s(1), Some(true)), (s(4), None)], false),
            // Answering again within the grace forgives it.
            (
                &[(s(1), Some(true)), (s(3), Some(false)), (s(4), None)],
                false,
            ),
            (&[(s(30), None)], false),
        ];
        for (steps, aborted) in table {
            let (lost, reason) = run(GRACE, steps).await;
            assert_eq!(lost.is_some(), aborted, "{steps:?}");
            assert_eq!(reason.is_some(), aborted, "{steps:?}");
            if let Some(reason) = reason {
                assert_eq!(
                    reason,
                    "the remotes at http://127.0.0.1:9 stopped answering at 10.2s"
                );
            }
        }
    }
}
