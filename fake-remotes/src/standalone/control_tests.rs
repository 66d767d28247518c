//! The control task under paused time: the timeline, API changes, leases and the event ring.

use super::*;

fn remote(name: &str) -> (Remote, watch::Receiver<Vec<Fault>>) {
    let (tx, rx) = watch::channel(Vec::new());
    (
        Remote {
            name: name.into(),
            domains: vec![format!("{name}.test")],
            listen: "127.0.0.1:25".parse().unwrap(),
            faults: tx,
        },
        rx,
    )
}

fn entry(at: u64, dur: Option<u64>, fault: Fault) -> TimelineEntry {
    TimelineEntry {
        remote: "down".into(),
        at: Duration::from_secs(at),
        duration: dur.map(Duration::from_secs),
        fault,
    }
}

#[tokio::test(start_paused = true)]
async fn the_api_overrides_the_timeline_until_its_next_change() {
    let (down, mut faults) = remote("down");
    let (_events_tx, events_rx) = mpsc::channel(crate::event::CHANNEL_CAPACITY);
    let shutdown = CancellationToken::new();
    let t0 = Instant::now();
    let timeline = vec![
        entry(1, Some(2), Fault::REFUSE),
        entry(2, None, Fault::BLACKHOLE),
    ];
    let (control, task) = spawn(vec![down], timeline, t0, events_rx, 10, shutdown.clone());

    faults.changed().await.unwrap();
    assert_eq!(
        (t0.elapsed().as_secs(), faults.borrow_and_update().clone()),
        (1, vec![Fault::REFUSE])
    );
    let view = control
        .set_faults("down", vec![], None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((view.faults.len(), view.set_by), (0, SetBy::Api));
    assert!(faults.borrow_and_update().is_empty(), "healed by the API");
    faults.changed().await.unwrap();
    assert_eq!(
        t0.elapsed().as_secs(),
        2,
        "the timeline takes over at its next change"
    );
    assert_eq!(
        *faults.borrow_and_update(),
        vec![Fault::REFUSE, Fault::BLACKHOLE]
    );
    let err = control
        .set_faults("nope", vec![], None)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.0, "no remote named `nope` (remotes: down)");

    shutdown.cancel();
    task.await.unwrap();
    assert_eq!(control.snapshot().await.unwrap_err(), Stopped);
}

/// Every change of the faults in force is logged with what made it: the timeline,
/// the API (a hand-set fault too), a lease running out; a setting that changes
/// nothing is not.
#[tokio::test(start_paused = true)]
async fn fault_changes_are_logged_with_their_source() {
    let (down, mut faults) = remote("down");
    let (_events_tx, events_rx) = mpsc::channel(16);
    let shutdown = CancellationToken::new();
    let t0 = Instant::now();
    let timeline = vec![entry(1, Some(1), Fault::REFUSE)];
    let (control, _task) = spawn(vec![down], timeline, t0, events_rx, 100, shutdown.clone());
    faults.changed().await.unwrap(); // refuse, at 1 s
    faults.changed().await.unwrap(); // healed, at 2 s
    for _ in 0..2 {
        control
            .set_faults("down", vec![Fault::BLACKHOLE], None)
            .await
            .unwrap()
            .unwrap();
    }
    control
        .set_faults("down", vec![], None)
        .await
        .unwrap()
        .unwrap();
    control
        .set_faults("down", vec![Fault::REFUSE], Some(Duration::from_secs(3)))
        .await
        .unwrap()
        .unwrap();
    faults.borrow_and_update();
    faults.changed().await.unwrap(); // the lease ran out
    let changes: Vec<(Vec<String>, FaultSource)> = control
        .events(0, 100)
        .await
        .unwrap()
        .lines
        .iter()
        .filter_map(|line| {
            let line: super::super::log::SequencedEvent = serde_json::from_slice(line).unwrap();
            match line.event.kind {
                RemoteEventKind::FaultChanged { faults, source } => Some((faults, source)),
                _ => None,
            }
        })
        .collect();
    let kinds = |k: &[&str]| k.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        changes,
        vec![
            (kinds(&["refuse"]), FaultSource::Timeline),
            (kinds(&[]), FaultSource::Timeline),
            (kinds(&["blackhole"]), FaultSource::Api),
            (kinds(&[]), FaultSource::Api),
            (kinds(&["refuse"]), FaultSource::Api),
            (kinds(&[]), FaultSource::Lease),
        ]
    );
    shutdown.cancel();
}

#[tokio::test]
async fn counts_events_logs_them_and_reset_zeroes() {
    let (ok, _faults) = remote("ok");
    let (events_tx, events_rx) = mpsc::channel(crate::event::CHANNEL_CAPACITY);
    let shutdown = CancellationToken::new();
    let (control, _task) = spawn(
        vec![ok],
        vec![],
        Instant::now(),
        events_rx,
        10,
        shutdown.clone(),
    );
    let mut next = control.next_event();
    for kind in [
        RemoteEventKind::Connected {
            peer: "127.0.0.1:1".parse().unwrap(),
        },
        RemoteEventKind::Rcpt {
            rcpt: "a@ok.test".into(),
            code: 250,
        },
    ] {
        events_tx
            .send(RemoteEvent {
                at_us: 1,
                remote: "ok".into(),
                kind,
            })
            .await
            .unwrap();
    }
    tokio::time::timeout(Duration::from_secs(5), next.wait_for(|n| *n == 3))
        .await
        .expect("events in time")
        .unwrap();
    let snap = control.snapshot().await.unwrap();
    assert_eq!(
        snap.remotes[0].counters,
        Counters {
            connections: 1,
            rcpts: 1,
            ..Counters::default()
        }
    );
    assert_eq!(control.events(1, 10).await.unwrap().lines.len(), 1);
    let log = control.reset().await.unwrap();
    assert_eq!((log.first, log.next), (3, 3));
    let snap = control.snapshot().await.unwrap();
    assert_eq!(snap.remotes[0].counters, Counters::default());
    shutdown.cancel();
}

/// Once every server is gone (the events channel closed) the task idles until shutdown
/// and still answers the API. Under paused time the clock only moves when every task
/// waits, so a task that spun on the closed channel would hold the hour-long sleep
/// below forever: the real-time watchdog turns that into a failure.
#[test]
fn the_task_idles_once_every_server_is_gone() {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let (down, _faults) = remote("down");
            let (events_tx, events_rx) = mpsc::channel(crate::event::CHANNEL_CAPACITY);
            let shutdown = CancellationToken::new();
            let (control, task) = spawn(
                vec![down],
                vec![],
                Instant::now(),
                events_rx,
                10,
                shutdown.clone(),
            );
            drop(events_tx);
            tokio::time::sleep(Duration::from_secs(3600)).await;
            assert!(control.snapshot().await.is_ok(), "still answers the API");
            shutdown.cancel();
            task.await.unwrap();
        });
        let _ = done_tx.send(());
    });
    done_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the control task spins once its events channel is closed");
}
