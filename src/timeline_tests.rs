//! The timeline's tests: offsets under paused time, t0 after the offset-0 faults, `exec`
//! actions and their journal, what is in force, the one transition order.

#[cfg(test)]
mod timing {
    use super::super::*;

    fn window(at: u64, dur: Option<u64>) -> FaultWindow {
        FaultWindow {
            subject: FaultSubject::Remote {
                remote: "down".into(),
                fault: Fault::REFUSE,
            },
            at: Duration::from_secs(at),
            duration: dur.map(Duration::from_secs),
        }
    }

    fn exec_window(at: u64, dur: Option<u64>, run: &str, undo: &str) -> FaultWindow {
        FaultWindow {
            subject: FaultSubject::Exec {
                name: "t".into(),
                run: run.into(),
                undo: Some(undo.into()),
            },
            at: Duration::from_secs(at),
            duration: dur.map(Duration::from_secs),
        }
    }

    #[test]
    fn orders_transitions_and_heals_before_reapplying() {
        let t = transitions(&[window(10, Some(5)), window(15, Some(5)), window(0, None)]);
        let got: Vec<(u64, usize, bool)> =
            t.iter().map(|(d, i, on)| (d.as_secs(), *i, *on)).collect();
        assert_eq!(
            got,
            [
                (0, 2, true),
                (10, 0, true),
                (15, 0, false),
                (15, 1, true),
                (20, 1, false)
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn switches_remote_faults_live_and_heals_at_the_end() {
        let (tx, mut rx) = watch::channel(Vec::new());
        let controls = Controls {
            remotes: HashMap::from([("down".to_string(), tx)]),
            ..Default::default()
        };
        let heal = CancellationToken::new();
        let spawned = Instant::now();
        let windows = vec![window(1, Some(2)), window(2, None)];
        let (started_tx, started) = oneshot::channel();
        let task = tokio::spawn(run(
            windows,
            None,
            controls,
            heal.clone(),
            Abort::new(),
            started_tx,
        ));
        let t0 = started.await.unwrap();
        assert_eq!(
            (t0 - spawned).as_secs(),
            0,
            "nothing at offset 0: started at once"
        );
        rx.changed().await.unwrap();
        assert_eq!(t0.elapsed().as_secs(), 1);
        assert_eq!(rx.borrow_and_update().len(), 1);
        rx.changed().await.unwrap();
        assert_eq!(
            (t0.elapsed().as_secs(), rx.borrow_and_update().len()),
            (2, 2),
            "overlap: both in force"
        );
        rx.changed().await.unwrap();
        assert_eq!(
            (t0.elapsed().as_secs(), rx.borrow_and_update().len()),
            (3, 1)
        );
        heal.cancel();
        assert!(task.await.unwrap().is_empty());
        assert!(rx.borrow().is_empty(), "healed");
    }

    /// `exec` runs its command at the start, its undo at the window's end — or at heal
    /// time when the window is still open; a failing run aborts the run.
    #[tokio::test]
    async fn exec_runs_and_undoes_even_when_healed_early() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let l = log.display();
        let windows = vec![
            exec_window(
                0,
                Some(1),
                &format!("echo run1 >> {l}"),
                &format!("echo undo1 >> {l}"),
            ),
            exec_window(
                0,
                None,
                &format!("echo run2 >> {l}"),
                &format!("echo undo2 >> {l}"),
            ),
        ];
        let heal = CancellationToken::new();
        let abort = Abort::new();
        let task = tokio::spawn(run(
            windows,
            None,
            Controls::default(),
            heal.clone(),
            abort.clone(),
            oneshot::channel().0,
        ));
        // Wait (bounded) for both runs and the first undo to have happened.
        for _ in 0..500 {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.lines().count() >= 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        heal.cancel();
        assert!(task.await.unwrap().is_empty());
        let text = std::fs::read_to_string(&log).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines.sort_unstable();
        assert_eq!(lines, ["run1", "run2", "undo1", "undo2"]);
        assert!(!abort.is_cancelled());

        let heal = CancellationToken::new();
        let abort = Abort::new();
        let windows = vec![exec_window(
            0,
            None,
            "echo oops >&2; exit 3",
            &format!("echo undo3 >> {l}"),
        )];
        let task = tokio::spawn(run(
            windows,
            None,
            Controls::default(),
            heal.clone(),
            abort.clone(),
            oneshot::channel().0,
        ));
        tokio::time::timeout(Duration::from_secs(10), abort.cancelled())
            .await
            .unwrap();
        heal.cancel();
        let problems = task.await.unwrap();
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].contains("exit status: 3") && problems[0].contains("oops"),
            "{problems:?}"
        );
        assert!(
            std::fs::read_to_string(&log).unwrap().contains("undo3"),
            "undone even though it failed"
        );
    }
}

#[cfg(test)]
mod in_force_tests {
    use super::super::*;

    /// What would outlive the process is published while in force and cleared as it is
    /// undone: exec actions with an undo, faults on remotes served elsewhere.
    #[tokio::test]
    async fn publishes_what_is_in_force_until_undone() {
        let (faults, _faults_rx) = watch::channel(Vec::new());
        let controls = Controls {
            remotes: HashMap::from([("down".to_string(), faults)]),
            remotes_elsewhere: true,
            ..Default::default()
        };
        let mut in_force = controls.in_force.subscribe();
        let windows = vec![
            FaultWindow {
                subject: FaultSubject::Exec {
                    name: "hold".into(),
                    run: "true".into(),
                    undo: Some("true".into()),
                },
                at: Duration::ZERO,
                duration: None,
            },
            FaultWindow {
                subject: FaultSubject::Remote {
                    remote: "down".into(),
                    fault: Fault::REFUSE,
                },
                at: Duration::ZERO,
                duration: None,
            },
        ];
        let heal = CancellationToken::new();
        let (started_tx, started) = oneshot::channel();
        let task = tokio::spawn(run(
            windows,
            None,
            controls,
            heal.clone(),
            Abort::new(),
            started_tx,
        ));
        started.await.unwrap();
        let now = in_force.borrow_and_update().clone();
        assert_eq!(
            now,
            [
                "exec `hold` (undo `true`)",
                "refuse on remote down (served elsewhere)"
            ]
        );
        heal.cancel();
        assert!(task.await.unwrap().is_empty());
        assert!(in_force.borrow().is_empty(), "everything undone");
    }
}

#[cfg(test)]
mod journal_tests {
    use super::super::*;
    use crate::journal;

    /// An `exec` with an undo is in the journal before its `run` starts, and marked
    /// undone once its undo ran.
    #[tokio::test]
    async fn exec_is_journaled_before_it_runs_and_undone_after() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::create(dir.path(), "r", None, "/".into()).unwrap();
        let file = dir.path().join(journal::FILE);
        let seen = dir.path().join("seen");
        let window = FaultWindow {
            subject: FaultSubject::Exec {
                name: "t".into(),
                run: format!(
                    "grep -q '\"applied\"' {} && touch {}",
                    file.display(),
                    seen.display()
                ),
                undo: Some("true".into()),
            },
            at: Duration::ZERO,
            duration: None,
        };
        let controls = Controls {
            journal: Some(journal.clone()),
            ..Default::default()
        };
        let heal = CancellationToken::new();
        let (started_tx, started) = oneshot::channel();
        let task = tokio::spawn(run(
            vec![window],
            None,
            controls,
            heal.clone(),
            Abort::new(),
            started_tx,
        ));
        started.await.unwrap();
        assert!(seen.exists(), "the action was journaled when `run` ran");
        assert_eq!(journal::read(dir.path()).unwrap().in_force.len(), 1);
        heal.cancel();
        assert!(task.await.unwrap().is_empty());
        assert!(journal.finish().await.unwrap().is_empty(), "undone");
        assert!(journal::read(dir.path()).unwrap().finished);
    }
}

#[cfg(test)]
mod start_tests {
    use super::super::*;

    #[tokio::test(start_paused = true)]
    async fn faults_at_offset_zero_are_in_force_when_started_fires() {
        let (tx, rx) = watch::channel(Vec::new());
        let controls = Controls {
            remotes: HashMap::from([("down".to_string(), tx)]),
            ..Default::default()
        };
        let heal = CancellationToken::new();
        let (started_tx, started) = oneshot::channel();
        let refuse = |at| FaultWindow {
            subject: FaultSubject::Remote {
                remote: "down".into(),
                fault: Fault::REFUSE,
            },
            at: Duration::from_secs(at),
            duration: None,
        };
        let task = tokio::spawn(run(
            vec![refuse(0), refuse(5)],
            None,
            controls,
            heal.clone(),
            Abort::new(),
            started_tx,
        ));
        started.await.unwrap();
        assert_eq!(
            rx.borrow().len(),
            1,
            "the offset-0 fault, not yet the later one"
        );
        heal.cancel();
        task.await.unwrap();
        assert!(rx.borrow().is_empty(), "healed");
    }

    /// A slow `exec` at offset 0 (a Postfix reload takes ~2 s) comes before t0: the
    /// load's schedule and the later faults count from when it is done, so the load does
    /// not start seconds behind.
    #[tokio::test]
    async fn t0_is_after_a_slow_exec_at_offset_zero() {
        let (tx, mut rx) = watch::channel(Vec::new());
        let controls = Controls {
            remotes: HashMap::from([("down".to_string(), tx)]),
            ..Default::default()
        };
        let heal = CancellationToken::new();
        let (started_tx, started) = oneshot::channel();
        let windows = vec![
            FaultWindow {
                subject: FaultSubject::Exec {
                    name: "slow".into(),
                    run: "sleep 0.5".into(),
                    undo: None,
                },
                at: Duration::ZERO,
                duration: None,
            },
            FaultWindow {
                subject: FaultSubject::Remote {
                    remote: "down".into(),
                    fault: Fault::REFUSE,
                },
                at: Duration::from_millis(300),
                duration: None,
            },
        ];
        let spawned = Instant::now();
        let task = tokio::spawn(run(
            windows,
            None,
            controls,
            heal.clone(),
            Abort::new(),
            started_tx,
        ));
        let t0 = started.await.unwrap();
        assert!(
            t0 - spawned >= Duration::from_millis(500),
            "t0 after the exec: {:?}",
            t0 - spawned
        );
        rx.changed().await.unwrap();
        assert!(
            t0.elapsed() >= Duration::from_millis(300),
            "the 300 ms fault counts from t0"
        );
        heal.cancel();
        assert!(task.await.unwrap().is_empty());
    }

    /// A shard's timeline runs from the run's T0 (its anchor), given beforehand: that is
    /// the t0 it reports, and later faults count from it, not from when it started.
    #[tokio::test(start_paused = true)]
    async fn an_anchored_timeline_runs_from_its_anchor() {
        let (tx, mut rx) = watch::channel(Vec::new());
        let controls = Controls {
            remotes: HashMap::from([("down".to_string(), tx)]),
            ..Default::default()
        };
        let heal = CancellationToken::new();
        let (started_tx, started) = oneshot::channel();
        let anchor = Instant::now() + Duration::from_secs(2);
        let window = FaultWindow {
            subject: FaultSubject::Remote {
                remote: "down".into(),
                fault: Fault::REFUSE,
            },
            at: Duration::from_secs(3),
            duration: None,
        };
        let task = tokio::spawn(run(
            vec![window],
            Some(anchor),
            controls,
            heal.clone(),
            Abort::new(),
            started_tx,
        ));
        assert_eq!(started.await.unwrap(), anchor);
        rx.changed().await.unwrap();
        assert_eq!(Instant::now(), anchor + Duration::from_secs(3));
        heal.cancel();
        assert!(task.await.unwrap().is_empty());
    }
}

#[cfg(test)]
mod steer_tests {
    use super::super::*;

    fn window(at: u64, dur: Option<u64>) -> FaultWindow {
        FaultWindow {
            subject: FaultSubject::Remote {
                remote: "down".into(),
                fault: Fault::REFUSE,
            },
            at: Duration::from_secs(at),
            duration: dur.map(Duration::from_secs),
        }
    }

    /// By hand: a fault injected on `ok` joins what is in force; "heal all" clears both
    /// remotes and stops the timeline (the window planned at 5 s never comes); each is
    /// told, with the time it happened.
    #[tokio::test(start_paused = true)]
    async fn obeys_orders_by_hand_and_heal_all_stops_the_timeline() {
        let (down, down_rx) = watch::channel(Vec::new());
        let (ok, mut ok_rx) = watch::channel(Vec::new());
        let (steer_tx, steer_rx) = mpsc::channel(4);
        let (told_tx, mut told_rx) = mpsc::channel(64);
        let controls = Controls {
            remotes: HashMap::from([("down".to_string(), down), ("ok".to_string(), ok)]),
            steer: Some(steer_rx),
            told: Some(told_tx),
            ..Default::default()
        };
        let heal = CancellationToken::new();
        let (started_tx, started) = oneshot::channel();
        let task = tokio::spawn(run(
            vec![window(1, None), window(5, Some(1))],
            None,
            controls,
            heal.clone(),
            Abort::new(),
            started_tx,
        ));
        let t0 = started.await.unwrap();
        tokio::time::sleep_until(t0 + Duration::from_secs(2)).await;
        assert_eq!(down_rx.borrow().len(), 1, "the planned fault is in force");
        steer_tx
            .send(Steer::Inject {
                remote: "ok".into(),
                fault: Fault::REFUSE,
                form: serde_json::json!("refuse"),
            })
            .await
            .unwrap();
        ok_rx.changed().await.unwrap();
        assert_eq!(ok_rx.borrow_and_update().len(), 1);
        tokio::time::sleep_until(t0 + Duration::from_secs(3)).await;
        steer_tx.send(Steer::HealAll).await.unwrap();
        ok_rx.changed().await.unwrap();
        assert!(ok_rx.borrow_and_update().is_empty());
        tokio::time::sleep_until(t0 + Duration::from_secs(8)).await;
        assert!(down_rx.borrow().is_empty(), "healed, and 5 s never came");
        heal.cancel();
        assert!(task.await.unwrap().is_empty());
        let mut told = Vec::new();
        while let Ok(t) = told_rx.try_recv() {
            told.push(t);
        }
        let got: Vec<String> = told
            .iter()
            .map(|t| match t {
                Told::Switch {
                    at_ms,
                    on,
                    target,
                    by_hand,
                    ..
                } => format!("{at_ms} {on} {target} {by_hand}"),
                Told::Steered(s) => s.describe(),
            })
            .collect();
        assert_eq!(
            got,
            [
                "1000 true remote down false",
                "2000 true remote ok true",
                "inject refuse on ok at 2.0s",
                "3000 false remote down true",
                "3000 false remote ok true",
                "heal all at 3.0s",
            ]
        );
    }
}
