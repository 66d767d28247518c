//! Queue probes: every second, ask each node of an external cluster how much mail it
//! holds (`postqueue -c DIR -j` for Postfix) and report a sample to the collector. A probe
//! that fails once is counted and retried; one that cannot run at all at start-up stops
//! the run before the load (exit 3).

use std::sync::Arc;
use std::time::Duration;

use fake_remotes::event::now_us;
use tokio::sync::mpsc::Sender;
use tokio_util::sync::CancellationToken;

// The sample type is the collector's: probes report to it.
pub use crate::collector::event::QueueDepth;
use crate::collector::Event;
use crate::scenario::Probe;

/// How often each node is sampled.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);
/// A probe command slower than this counts as failed.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// A probe ready to sample: the node's host name and how to ask it.
#[derive(Clone, Debug)]
pub struct NodeProbe {
    pub node: Arc<str>,
    pub probe: Probe,
}

/// Resolves each probe's node name (Postfix: `myhostname`) and takes a first sample, so
/// a probe that cannot work stops the run before the load. `Err` is one line.
pub async fn prepare(probes: &[Probe]) -> Result<Vec<NodeProbe>, String> {
    let mut out = Vec::new();
    for probe in probes {
        match probe {
            Probe::Postfix { config_dir } => {
                let name = command(
                    "postconf",
                    &["-c", &config_dir.display().to_string(), "-h", "myhostname"],
                )
                .await
                .map_err(|e| format!("probe {}: {e}", config_dir.display()))?;
                let node: Arc<str> = Arc::from(name.trim());
                sample(probe)
                    .await
                    .map_err(|e| format!("probe {} ({node}): {e}", config_dir.display()))?;
                out.push(NodeProbe {
                    node,
                    probe: probe.clone(),
                });
            }
        }
    }
    Ok(out)
}

/// Samples every probe each [`PROBE_EVERY`] until `stop`. The nodes of a round are
/// sampled at once, so one slow node does not make the others' samples late (a sample
/// more than a period late counts as missed: `checks::completeness`).
pub async fn run(probes: Vec<NodeProbe>, events: Sender<Event>, stop: CancellationToken) {
    if probes.is_empty() {
        return;
    }
    let mut tick = tokio::time::interval(PROBE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => return,
        }
        let mut round = tokio::task::JoinSet::new();
        for p in &probes {
            let (p, events) = (p.clone(), events.clone());
            round.spawn(async move {
                let at_us = now_us();
                let depth = sample(&p.probe).await.ok();
                let _ = events
                    .send(Event::QueueSample {
                        node: p.node,
                        at_us,
                        depth,
                    })
                    .await;
            });
        }
        // Dropping the round on `stop` aborts its samples (their commands are killed).
        tokio::select! {
            _ = async { while round.join_next().await.is_some() {} } => {}
            _ = stop.cancelled() => return,
        }
    }
}

/// One sample of one probe.
pub async fn sample(probe: &Probe) -> Result<QueueDepth, String> {
    match probe {
        Probe::Postfix { config_dir } => {
            let out = command(
                "postqueue",
                &["-c", &config_dir.display().to_string(), "-j"],
            )
            .await?;
            parse_postqueue_json(&out)
        }
    }
}

pub(crate) async fn command(program: &str, args: &[&str]) -> Result<String, String> {
    let run = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let shown = || format!("{program} {}", args.join(" "));
    match tokio::time::timeout(PROBE_TIMEOUT, run).await {
        Err(_) => Err(format!(
            "`{}` took longer than {}s",
            shown(),
            PROBE_TIMEOUT.as_secs()
        )),
        Ok(Err(e)) => Err(format!("cannot run `{}`: {e}", shown())),
        Ok(Ok(out)) if out.status.success() => {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        }
        Ok(Ok(out)) => {
            let err = String::from_utf8_lossy(&out.stderr);
            Err(format!(
                "`{}` failed ({}): {}",
                shown(),
                out.status,
                err.lines().next().unwrap_or("").trim()
            ))
        }
    }
}

/// `postqueue -j` prints one JSON object per queued message, with its recipients still
/// to deliver.
pub fn parse_postqueue_json(text: &str) -> Result<QueueDepth, String> {
    let mut depth = QueueDepth::default();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let msg: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| format!("postqueue -j printed something that is not JSON: {e}"))?;
        depth.total += 1;
        let mut domains: Vec<String> = msg["recipients"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|r| r["address"].as_str())
                    .filter_map(|a| a.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()))
                    .collect()
            })
            .unwrap_or_default();
        domains.sort_unstable();
        domains.dedup();
        for d in domains {
            match depth.by_domain.iter_mut().find(|(name, _)| *name == d) {
                Some((_, n)) => *n += 1,
                None => depth.by_domain.push((d, 1)),
            }
        }
    }
    depth.by_domain.sort();
    Ok(depth)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A probe that fails reports each failed sample (the collector counts them as
    /// missed), every node in each round, until stopped.
    #[tokio::test]
    async fn failed_samples_are_reported_for_every_node_each_round() {
        let probe = Probe::Postfix {
            config_dir: "/nonexistent/mailquake-probe-test".into(),
        };
        let probes: Vec<NodeProbe> = ["n1", "n2"]
            .into_iter()
            .map(|n| NodeProbe {
                node: Arc::from(n),
                probe: probe.clone(),
            })
            .collect();
        let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(probes, tx, stop.clone()));
        let mut seen = Vec::new();
        // Two rounds: the second comes a period after the first.
        while seen.len() < 4 {
            let event = tokio::time::timeout(Duration::from_secs(20), rx.recv())
                .await
                .expect("a sample within 20s")
                .expect("the probe task runs");
            let Event::QueueSample { node, depth, .. } = event else {
                panic!("not a sample: {event:?}");
            };
            assert_eq!(depth, None, "{node}: the command cannot succeed");
            seen.push(node.to_string());
        }
        seen.sort();
        assert_eq!(seen, ["n1", "n1", "n2", "n2"]);
        stop.cancel();
        tokio::time::timeout(Duration::from_secs(20), task)
            .await
            .expect("stops when told")
            .unwrap();
    }

    #[test]
    fn counts_messages_and_their_destinations() {
        let text = r#"{"queue_name": "deferred", "queue_id": "A1", "arrival_time": 1, "message_size": 10, "sender": "mq.1@bounces.test", "recipients": [{"address": "mq.1.0@down.test", "delay_reason": "connect refused"}, {"address": "mq.1.1@DOWN.test"}]}
{"queue_name": "active", "queue_id": "B2", "arrival_time": 1, "message_size": 10, "sender": "", "recipients": [{"address": "mq.2.0@ok.test"}]}
"#;
        let d = parse_postqueue_json(text).unwrap();
        assert_eq!(d.total, 2);
        assert_eq!(
            d.by_domain,
            [("down.test".to_string(), 1), ("ok.test".to_string(), 1)]
        );
        assert_eq!(parse_postqueue_json("").unwrap(), QueueDepth::default());
        assert!(parse_postqueue_json("postqueue: fatal: …").is_err());
    }
}
