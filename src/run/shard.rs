//! What `mailquake run --shard I/N` does differently from a whole run (the rules are in
//! `crate::shard`): it needs remotes and a target served elsewhere, starts its load at
//! the shared T0 (or exits 4 when it is too late for it), applies faults and probes only
//! as shard 0, sends its share of the sessions, and writes its data and `shard.json`
//! instead of a verdict.

use std::path::Path;
use std::time::Duration;

use tokio::time::Instant;

use super::RunError;
use crate::abort::Abort;
use crate::report::{JudgedRun, Written};
use crate::scenario::{Plan, Target};
use crate::shard::{Manifest, ShardSpec};

/// Shards share remotes and a target served elsewhere; `Err` is the one line to print.
pub(super) fn check_plan(plan: &Plan) -> Result<(), String> {
    let file = plan.source.display();
    if plan.external_remotes.is_none() {
        return Err(format!(
            "{file}: remotes: shards need remotes served elsewhere, `remotes: {{ external: URL }}` (serve them with `mailquake remotes FILE`)"
        ));
    }
    if !matches!(plan.target, Target::Smtp(_)) {
        return Err(format!(
            "{file}: target: shards need an external target, `target: {{ smtp: [HOST:PORT] }}` (the embedded cluster lives in one process)"
        ));
    }
    Ok(())
}

/// Waits until T0 (or the abort), then gives t0 as an instant and in µs since the Unix
/// epoch: T0 itself. Past T0 plus the tolerance, the shard is late.
pub(super) async fn wait_for_t0(
    spec: &ShardSpec,
    abort: &Abort,
) -> Result<(Instant, u64), RunError> {
    let now = crate::shard::now_us();
    if let Some(late) = spec.late_at(now) {
        return Err(RunError::Late(spec.late_line(late)));
    }
    if now < spec.t0_us {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_micros(spec.t0_us - now)) => {}
            _ = abort.cancelled() => {}
        }
    }
    let since = Duration::from_micros(crate::shard::now_us().saturating_sub(spec.t0_us));
    let t0 = Instant::now()
        .checked_sub(since)
        .unwrap_or_else(Instant::now);
    Ok((t0, spec.t0_us))
}

/// A shard's share of `sessions`: ⌈sessions / N⌉.
pub(super) fn sessions(sessions: usize, spec: Option<&ShardSpec>) -> usize {
    match spec {
        Some(s) => sessions.div_ceil(s.part.count.max(1) as usize).max(1),
        None => sessions,
    }
}

/// Writes the shard's data and manifest; says in one line what it sent and whether its
/// data is complete. `Ok(complete)`.
pub(super) fn write(
    dir: &Path,
    spec: &ShardSpec,
    run: &JudgedRun,
    scenario_text: &str,
) -> (Written, bool) {
    let mut written = crate::report::write_saved(dir, run);
    let complete = run.abort.is_none() && run.load.data.remote_events_lost == 0;
    let status = if complete { "complete" } else { "incomplete" };
    let manifest = Manifest::new(spec, scenario_text, status);
    match manifest.write(dir) {
        Ok(()) => written.files.push(crate::shard::MANIFEST_FILE.into()),
        Err(error) => written.failed.push(crate::report::WriteFailure {
            file: crate::shard::MANIFEST_FILE.into(),
            error,
        }),
    }
    let t = &run.totals;
    eprintln!(
        "mailquake: shard {} of run {}: {} submitted, {} accepted, {} delivered, {} bounced — data {status}{}; judge all shards with `mailquake merge DIR... --out DIR` ({})",
        spec.label(),
        spec.run_id,
        t.submitted,
        t.accepted,
        t.delivered,
        t.bounced,
        match &run.abort {
            Some(a) => format!(" ({})", a.reason),
            None => String::new(),
        },
        dir.display()
    );
    (written, complete)
}

/// A late shard still leaves its folder, saying so (the merge names it).
pub(super) fn write_late(dir: Option<&Path>, spec: &ShardSpec, scenario_text: &str) {
    let Some(dir) = dir else { return };
    if std::fs::create_dir_all(dir).is_ok() {
        let _ = Manifest::new(spec, scenario_text, "late").write(dir);
    }
}
