//! Collecting the evidence (I/O): before the load, where each probed Postfix node's
//! maillog ends; after the run (the remotes shut down, so connections they held are
//! closed and logged), the node's settings (`postconf -n`, `postconf -x`, `postconf -F`
//! for the smtp process limit), the maillog lines written since, the queue's shape at
//! its worst moment and each drain check's backlog at the heal; for the embedded nodes,
//! their workers' busiest moment per destination (the occupancy each publishes). What
//! cannot be read is said in the node's `problems`; the evidence never decides a
//! verdict.

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::watch;

use super::{
    backlog, maillog, shape, Evidence, PostfixNode, WorkerNode, PARAMETERS, SMTP_PROCESS_LIMIT,
};
use crate::cluster::embedded::node::Occupancy;
use crate::cluster::probes::{command, NodeProbe};
use crate::collector::Ledger;
use crate::scenario::{Check, FaultSubject, Plan, Probe};

/// Longest wait at the end for the nodes' logs to take the last lines (connections the
/// remotes held are closed when they shut down, and Postfix logs them at once).
const LOG_QUIET_MAX: Duration = Duration::from_secs(3);
/// A log that has not grown for this long is taken as complete.
const LOG_QUIET: Duration = Duration::from_millis(500);
/// At most this much of a node's maillog is read (from the run's start).
const LOG_MAX_BYTES: u64 = 64 << 20;

/// The nodes to collect from: Postfix nodes and where their logs stood before the
/// load, embedded nodes and their occupancy channels.
#[derive(Debug, Default)]
pub struct Collection {
    nodes: Vec<Start>,
    workers: Vec<(String, watch::Receiver<Occupancy>)>,
}

#[derive(Debug)]
struct Start {
    node: String,
    config_dir: PathBuf,
    /// The node's `maillog_file` and its length before the load, or why not.
    maillog: Result<(PathBuf, u64), String>,
}

impl Collection {
    /// Notes where each probed node's maillog ends now (before the load).
    pub async fn start(probes: &[NodeProbe]) -> Collection {
        let mut nodes = Vec::new();
        for p in probes {
            let Probe::Postfix { config_dir } = &p.probe;
            let dir = config_dir.display().to_string();
            let maillog = match command("postconf", &["-c", &dir, "-x", "-h", "maillog_file"]).await
            {
                Ok(path) if path.trim().is_empty() => Err(
                    "no maillog_file (the node logs to syslog): delivery delays not read".into(),
                ),
                Ok(path) => {
                    let path = PathBuf::from(path.trim());
                    let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                    Ok((path, len))
                }
                Err(e) => Err(e),
            };
            nodes.push(Start {
                node: p.node.to_string(),
                config_dir: config_dir.clone(),
                maillog,
            });
        }
        Collection {
            nodes,
            workers: Vec::new(),
        }
    }

    /// Adds the embedded nodes' occupancy channels (node name, receiver).
    pub fn with_workers(self, workers: Vec<(String, watch::Receiver<Occupancy>)>) -> Self {
        Collection { workers, ..self }
    }

    /// Collects every node's evidence; `None` when there is no node to ask.
    pub async fn finish(self, plan: &Plan, ledger: &Ledger) -> Option<Evidence> {
        if self.nodes.is_empty() && self.workers.is_empty() {
            return None;
        }
        let mut evidence = destinations(plan);
        for start in self.nodes {
            evidence.postfix.push(node(start, plan, ledger).await);
        }
        evidence.embedded = self
            .workers
            .into_iter()
            .map(|(node, rx)| {
                let o = rx.borrow();
                WorkerNode {
                    node,
                    design: o.design.clone(),
                    workers: o.workers,
                    peak_busy: o.peak_busy.clone(),
                }
            })
            .collect();
        Some(evidence)
    }
}

/// The faulted destinations (domains of remotes with a fault in the plan) and the
/// healthy ones (the isolation checks', else the rest of the mix).
pub fn destinations(plan: &Plan) -> Evidence {
    let mut faulted: Vec<String> = plan
        .faults
        .iter()
        .filter_map(|f| match &f.subject {
            FaultSubject::Remote { remote, .. } => Some(remote),
            _ => None,
        })
        .flat_map(|remote| {
            plan.remotes
                .iter()
                .filter(move |r| &r.name == remote)
                .flat_map(|r| r.domains.iter().map(|d| d.to_ascii_lowercase()))
        })
        .collect();
    faulted.sort();
    faulted.dedup();
    let mut healthy: Vec<String> = plan
        .checks
        .iter()
        .filter_map(|c| match c {
            Check::Isolation { healthy, .. } => Some(healthy.clone()),
            _ => None,
        })
        .flatten()
        .map(|d| d.to_ascii_lowercase())
        .collect();
    if healthy.is_empty() {
        healthy = plan
            .load
            .mix
            .iter()
            .map(|(d, _)| d.to_ascii_lowercase())
            .filter(|d| !faulted.contains(d))
            .collect();
    }
    healthy.sort();
    healthy.dedup();
    Evidence {
        faulted,
        healthy,
        ..Default::default()
    }
}

async fn node(start: Start, plan: &Plan, ledger: &Ledger) -> PostfixNode {
    let dir = start.config_dir.display().to_string();
    let mut out = PostfixNode {
        node: start.node.clone(),
        config_dir: dir.clone(),
        queue: shape::worst(ledger, &start.node),
        backlog: backlog::after_heal(plan, ledger, &start.node),
        ..Default::default()
    };
    match command("postconf", &["-c", &dir, "-n"]).await {
        Ok(text) => out.postconf_n = text.lines().map(str::to_string).collect(),
        Err(e) => out.problems.push(e),
    }
    let mut args = vec!["-c", dir.as_str(), "-x"];
    args.extend(PARAMETERS);
    match command("postconf", &args).await {
        Ok(text) => out.settings = parse_settings(&text),
        Err(e) => out.problems.push(e),
    }
    match command("postconf", &["-c", &dir, "-F", "smtp/unix/process_limit"]).await {
        Ok(text) => {
            let raw = text.split_once('=').map_or("", |(_, v)| v.trim());
            // `-`: master.cf leaves it to default_process_limit.
            let value = match raw {
                "-" | "" => out
                    .settings
                    .get("default_process_limit")
                    .cloned()
                    .unwrap_or_default(),
                v => v.to_string(),
            };
            out.settings.insert(SMTP_PROCESS_LIMIT.into(), value);
        }
        Err(e) => out.problems.push(e),
    }
    match start.maillog {
        Ok((path, from)) => match read_log(&path, from).await {
            Ok(text) => out.deliveries = maillog::summarise(&text),
            Err(e) => out.problems.push(e),
        },
        Err(e) => out.problems.push(e),
    }
    out
}

/// `name = value` lines.
fn parse_settings(text: &str) -> std::collections::BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once(" = ").or_else(|| l.split_once('=')))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// The log from `from` on, once it has stopped growing (bounded wait).
async fn read_log(path: &std::path::Path, from: u64) -> Result<String, String> {
    let len = || std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let deadline = tokio::time::Instant::now() + LOG_QUIET_MAX;
    let mut last = len();
    while tokio::time::Instant::now() < deadline {
        tokio::time::sleep(LOG_QUIET).await;
        let now = len();
        if now == last {
            break;
        }
        last = now;
    }
    use std::io::{Read, Seek, SeekFrom};
    let mut file =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    // A log rotated or truncated since the start is read from its beginning.
    let from = if last < from { 0 } else { from };
    file.seek(SeekFrom::Start(from))
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(LOG_MAX_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_read_as_postconf_prints_them() {
        let got =
            parse_settings("smtp_helo_timeout = 300s\nmaillog_file =\nqueue_run_delay = 5s\n");
        assert_eq!(got["smtp_helo_timeout"], "300s");
        assert_eq!(got["maillog_file"], "");
        assert_eq!(got.len(), 3);
    }
}
