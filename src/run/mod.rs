//! `mailquake run FILE`: the orchestrator. It loads the plan, starts the remotes (here or
//! attached elsewhere), the target, the collector, the timeline of faults, the probes and
//! the generator; at the end of the load it lets mail settle, stops measuring, heals
//! everything it put in force, judges the checks and writes the reports. `mailquake
//! report DIR` re-renders a saved run. What it shares with `mailquake flood` (run id,
//! runtime, collector) is in [`wiring`].
//!
//! Exit codes (DESIGN §6): 0 every check passed · 1 a check failed · 2 invalid scenario
//! or command line · 3 the run could not be carried out, the operator aborted it, or a
//! report could not be written (the others are; one line names it). A shard (`--shard
//! I/N`, see [`shard`] and `crate::shard`) exits 0 (its data is complete), 3 (aborted or
//! incomplete) or 4 (started late).

mod command;
mod live;
mod local_remotes;
mod not_started;
mod outcome;
mod outputs;
mod shard;
mod stop_early;
pub mod waits;
pub(crate) mod wiring;

pub(crate) use command::{close_journal, stop_on_signals};
pub use command::{main, run};
pub use wiring::{check_reachable, client_options};

use std::collections::HashMap;
use std::path::PathBuf;

use fake_remotes::event::now_us;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use live::show_progress;
use local_remotes::{start_remotes, RemoteSet};
pub use outcome::{Outcome, RunError};
pub(crate) use outputs::finish;
pub use outputs::{default_out_dir, report_main};

use crate::abort::Abort;
use crate::checks::completeness::probe_coverage;
use crate::checks::DataCompleteness;
use crate::cluster::embedded::node::NodeControl;
use crate::cluster::{self, embedded};
use crate::generator::{self, GeneratorConfig, TargetEndpoint};
use crate::journal::{Action, Journal};
use crate::out_dir;
use crate::remotes::{self, AttachError, Attachment, Link};
use crate::report::progress;
use crate::report::{JudgedRun, LoadSection, Samples};
use crate::scenario::{self, LoadModel, Plan, Target};
use crate::shard::ShardSpec;
use crate::signals::StopSignals;
use crate::smtp::Timeouts;
use crate::{checks, timeline};

/// [`run`] with the abort supplied by the caller (tests abort without a signal);
/// `in_force` gets what the timeline has put in force and not yet undone.
pub async fn run_with_abort(
    plan: Plan,
    scenario_text: String,
    out_dir: PathBuf,
    journal: Option<Journal>,
    (abort, in_force): (Abort, watch::Sender<Vec<String>>),
    shard: Option<&ShardSpec>,
    live: Option<crate::live::LiveArgs>,
) -> Result<Outcome, RunError> {
    // Before anything is started: a folder that cannot take the reports stops the run.
    crate::out_dir::prepare(&out_dir)?;
    // The saved copy must not carry the secrets; the run takes them from the plan.
    let scenario_text = scenario::safety::redact(&scenario_text, &plan.safety.secrets);
    let plan = scenario::safety::resolve_secrets(plan).map_err(RunError::Invalid)?;
    let shutdown = CancellationToken::new();
    let _stop_everything = shutdown.clone().drop_guard();

    let Some(external) = plan.external_remotes.clone() else {
        let remotes = start_remotes(&plan, &shutdown)?;
        return run_stages(
            plan,
            scenario_text,
            out_dir,
            (abort, in_force),
            shutdown.clone(),
            remotes,
            (None, shard),
            journal,
            live,
        )
        .await;
    };
    // Remotes served elsewhere: attach, run, and heal them whatever happened — they
    // outlive this run.
    let attached = remotes::attach(&plan, &external, journal.as_ref())
        .await
        .map_err(|e| match e {
            AttachError::Invalid(m) => RunError::Invalid(m),
            AttachError::Failed(m) => RunError::Failed(m),
        })?;
    // Validated again from the file, which may leave the password to the environment.
    let auth = plan.load.auth.clone();
    let Attachment {
        mut plan,
        routes,
        faults,
        events,
        link,
    } = attached;
    plan.load.auth = auth;
    let remotes = RemoteSet {
        routes,
        faults,
        events,
    };
    let result = run_stages(
        plan,
        scenario_text,
        out_dir,
        (abort, in_force),
        shutdown.clone(),
        remotes,
        (Some(&link), shard),
        journal,
        live,
    )
    .await;
    link.heal().await;
    result
}

/// Everything after the remotes are up: target, timeline, load, settle, verdict.
/// `link`: the control API of remotes served elsewhere, if so; `shard`: which shard of
/// the run this process is, if it is one; `journal`: where `exec` actions are recorded.
/// `(abort, in_force)` as [`run_with_abort`] takes them.
#[allow(clippy::too_many_arguments)] // the stages' inputs, each used once
async fn run_stages(
    plan: Plan,
    scenario_text: String,
    out_dir: PathBuf,
    (abort, in_force): (Abort, watch::Sender<Vec<String>>),
    shutdown: CancellationToken,
    remotes: RemoteSet,
    (link, shard): (Option<&Link>, Option<&ShardSpec>),
    journal: Option<Journal>,
    live: Option<crate::live::LiveArgs>,
) -> Result<Outcome, RunError> {
    // Collector first, so nothing is missed.
    let run_id = match (shard, &journal) {
        (Some(s), _) => s.run_id.clone(),
        (None, Some(j)) => j.run_id().to_string(),
        (None, None) => wiring::run_id(plan.seed),
    };
    let part = shard.map(|s| s.part).unwrap_or_default();
    // Faults and probes once per run: shard 0's (`crate::shard`).
    let first = part.index == 0;
    let mut live = crate::live::Hook::start(&plan, live, abort.token()).await?;
    let (events_tx, events_rx) = mpsc::channel(crate::collector::EVENTS_CAPACITY);
    let mut ledger = wiring::new_ledger(&run_id, &plan.load);
    ledger.part = part;
    // Which remote serves what: mail seen at any other remote is misrouted.
    ledger.served = plan
        .remotes
        .iter()
        .map(|r| (r.name.clone(), r.domains.clone()))
        .collect();
    ledger.fault_windows = crate::collector::fault_windows(&plan);
    // The shape says how many records there will be: no doubling, no slack (a 10-million
    // soak stays at 40 bytes a message).
    ledger
        .records
        .reserve_exact(plan.load.planned_messages().ceil() as usize);
    // t0 is fixed once everything is up; the collector learns it before any event.
    let mut ledger = Some(ledger);
    let RemoteSet {
        routes,
        faults: remote_faults,
        events: mut remote_rx,
    } = remotes;

    // The target.
    let mut node_controls: HashMap<String, mpsc::UnboundedSender<NodeControl>> = HashMap::new();
    let probes = cluster::probes::prepare(if first { &plan.probes[..] } else { &[] }).await?;
    let mut workers = Vec::new();
    let alert_sources = cluster::alerts::sources(&plan);
    let alert_sources =
        cluster::alerts::prepare(if first { alert_sources } else { vec![] }).await?;
    let (endpoints, timeouts) = match &plan.target {
        Target::Embedded(spec) => {
            let cluster = embedded::start(
                spec,
                embedded::LOOPBACK,
                routes.clone(),
                plan.seed,
                shutdown.clone(),
            )
            .await
            .map_err(|e| format!("embedded cluster: cannot listen: {e}"))?;
            let endpoints = cluster
                .nodes
                .iter()
                .map(|n| TargetEndpoint {
                    addr: n.addr,
                    name: n.addr.to_string(),
                    weight: 1,
                })
                .collect();
            for n in cluster.nodes {
                workers.push((n.name.clone(), n.occupancy));
                node_controls.insert(n.name, n.control);
            }
            (
                endpoints,
                Timeouts::uniform(waits::SMTP_CONNECT, waits::SMTP_REPLY),
            )
        }
        Target::Smtp(list) => {
            let endpoints = cluster::resolve(list)?;
            check_reachable(&endpoints).await?;
            (
                endpoints,
                Timeouts::uniform(waits::SMTP_CONNECT, waits::SMTP_REPLY),
            )
        }
    };

    let client = client_options(&plan.load.tls, plan.load.auth.clone(), timeouts)?;
    // An external target must route every mix domain to its remote before any load.
    let preflight = crate::preflight::run(
        &plan,
        &run_id,
        &endpoints,
        &client,
        &routes,
        &mut remote_rx,
        abort.token(),
    )
    .await?;

    // A shard waits for the run's T0 and its timeline runs from it; a single run's
    // faults at offset 0 go in force first (the timeline runs them), then t0: the load
    // starts with them in force and on schedule, however long they took (a Postfix
    // reload in an `exec` takes seconds).
    let anchor = match shard {
        Some(spec) => Some(shard::wait_for_t0(spec, &abort).await?),
        None => None,
    };
    let heal = CancellationToken::new();
    let controls = timeline::Controls {
        remotes: remote_faults,
        nodes: node_controls,
        in_force,
        remotes_elsewhere: link.is_some(),
        journal,
        ..live.timeline_io()
    };
    let (timeline_started, started) = tokio::sync::oneshot::channel();
    let timeline = tokio::spawn(timeline::run(
        // Faults once per run: shard 0 alone applies them.
        if first {
            plan.faults.clone()
        } else {
            Vec::new()
        },
        anchor.map(|(t0, _)| t0),
        controls,
        heal.clone(),
        abort.clone(),
        timeline_started,
    ));

    // Go: t0.
    let started = started.await;
    let (t0, t0_us) = match anchor {
        Some(anchor) => anchor,
        None => {
            let t0 = started.unwrap_or_else(|_| Instant::now());
            (t0, now_us().saturating_sub(t0.elapsed().as_micros() as u64))
        }
    };
    let mut ledger = ledger.take().unwrap_or_default();
    ledger.t0_us = t0_us;
    let (req_tx, collector) = wiring::start_collector(ledger, events_rx, remote_rx);
    live.feed(t0, req_tx.clone());
    // `abort_on_fail` (not in a shard: one shard's mail is not the run's).
    let early_stop = CancellationToken::new();
    let early = (shard.is_none() && !plan.abort_on_fail.is_empty()).then(|| {
        tokio::spawn(stop_early::watch(
            std::sync::Arc::new(plan.clone()),
            req_tx.clone(),
            (live.stop_load(), early_stop.clone()),
        ))
    });
    // Remotes or a target that stop answering abort the run (`remotes/lost.rs`,
    // `cluster/lost.rs`).
    let stop_watching = CancellationToken::new();
    let remotes_watch = link.map(|link| {
        remotes::lost::watch(
            link,
            remotes::lost::GRACE,
            t0_us,
            abort.clone(),
            stop_watching.clone(),
        )
    });
    // Where the probed nodes' logs stand after the preflight, for the evidence at the end.
    let evidence = crate::diagnose::Collection::start(&probes)
        .await
        .with_workers(workers);
    let probed: Vec<String> = probes.iter().map(|p| p.node.to_string()).collect();
    tokio::spawn(cluster::probes::run(
        probes,
        events_tx.clone(),
        shutdown.clone(),
    ));
    let alerts = cluster::alerts::run(alert_sources, events_tx.clone(), shutdown.clone());
    tokio::spawn(alerts);
    eprintln!(
        "mailquake: {} — {}; output {}",
        plan.name,
        scenario::describe(&plan),
        out_dir.display()
    );
    let progress = tokio::spawn(show_progress(
        req_tx.clone(),
        t0,
        plan.clone(),
        shutdown.clone(),
    ));

    let (generator_events, target_watch) = match &plan.target {
        Target::Smtp(_) => {
            let target = endpoints
                .iter()
                .map(|e| e.name.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            let (tx, watch) = cluster::lost::tee(
                events_tx,
                target,
                cluster::lost::GRACE,
                t0_us,
                abort.clone(),
            );
            (tx, Some(watch))
        }
        Target::Embedded(_) => (events_tx, None),
    };
    let mut load = plan.load.clone();
    load.sessions = shard::sessions(load.sessions, shard);
    let generator = generator::run_on_own_thread(
        load,
        GeneratorConfig {
            run_id,
            endpoints,
            domains: plan.load.mix.iter().map(|(d, _)| d.clone()).collect(),
            seed: plan.seed,
            t0,
            t0_us,
            client,
            hlog_dir: Some(out_dir.clone()),
            cap: scenario::safety::closed_model_cap(&plan.load, &plan.target, &plan.safety),
            part,
            phase_looks: live.phase_looks(),
        },
        generator_events,
        live.stop_load(),
    );
    let load_report = generator.await?;
    // The generator's sender is gone: the watch ends (bounded, should one linger).
    let target_lost = match target_watch {
        Some(watch) => tokio::time::timeout(waits::TARGET_WATCH_END, watch)
            .await
            .ok()
            .and_then(Result::ok)
            .flatten(),
        None => None,
    };

    // Settle: wait for the timeline to finish, then for mail in flight, within `settle`.
    let load_end = t0 + plan.load.duration();
    let timeline_end = t0 + plan.timeline_end();
    let settle_deadline = load_end.max(timeline_end) + plan.settle;
    let alerts_due = t0 + cluster::alerts::due(&plan);
    tokio::select! {
        _ = tokio::time::sleep_until(timeline_end) => {}
        _ = abort.cancelled() => {}
        _ = live.settle_now() => {}
        _ = early_stop.cancelled() => {}
    }
    // Stopped early by `abort_on_fail` (then, or while mail settles): no settle.
    live::settle(&req_tx, &abort, (settle_deadline, alerts_due), &early_stop).await;
    let stopped_early = match early {
        Some(watch) => {
            watch.abort();
            watch.await.ok().flatten()
        }
        None => None,
    };

    // Stop measuring, then heal every fault (an `exec` undo may release held mail: it
    // must not count), then judge. The faults are healed even if the collector failed.
    progress.abort();
    let mut remote_events_lost = 0;
    if let Some(link) = link {
        // Remote events come over HTTP: let those already logged there arrive.
        remote_events_lost = link.catch_up(waits::CATCH_UP).await;
    }
    progress::finish();
    let end_ms = wiring::end_ms(t0.elapsed());
    let finished = wiring::finish_collector(&req_tx, end_ms).await;
    stop_watching.cancel();
    let remotes_lost = match remotes_watch {
        Some(watch) => watch.await.ok().flatten(),
        None => None,
    };
    heal.cancel();
    let problems = timeline.await.unwrap_or_default();
    let _ = collector.await;
    shutdown.cancel();
    let (ledger, totals) = finished?;
    // The remotes are down: connections they held are closed and logged by the nodes.
    let evidence = evidence.finish(&plan, &ledger).await;

    let data = DataCompleteness {
        remote_events_lost,
        remote_events_from: link.map(|l| l.url().to_string()),
        planned: (load_report.model == LoadModel::Open).then_some(load_report.planned),
        submitted: totals.submitted,
        shortfall: load_report.shortfall,
        closed_load_ms: (load_report.model == LoadModel::Closed)
            .then(|| wiring::end_ms(plan.load.duration())),
        probes: probe_coverage(&ledger, &probed, cluster::probes::PROBE_EVERY),
        steered: live.steered().await,
        // Stopped early, the run is measured up to its end like an aborted one.
        cut: checks::cut::at_abort(
            abort.reason(t0_us).as_ref(),
            remotes_lost.into_iter().chain(target_lost).min(),
            t0_us,
            end_ms,
        )
        .or_else(|| stopped_early.as_ref().map(|stop| stop.cut())),
        stopped_early,
    };
    let data = checks::steered::count_unsent(data);
    let findings = checks::judge(&plan, &ledger, &data);
    let (load_json, submit_replies) = crate::report::load::LoadJson::new(&load_report);
    let judged = JudgedRun {
        samples: Samples::from_run(&ledger, &load_report.stats),
        load: LoadSection::new(load_json, submit_replies, problems, data)
            .with_preflight(preflight)
            .with_served_remotes(&plan)
            .with_evidence(evidence),
        plan,
        scenario_text,
        ledger,
        totals,
        findings,
        abort: abort.reason(t0_us),
    };
    live.ended(&judged);
    if let Some(spec) = shard {
        let (written, complete) = shard::write(&out_dir, spec, &judged, &judged.scenario_text);
        if let Some(line) = written.failure_line(&out_dir) {
            eprintln!("mailquake: {line}");
        }
        return Ok(Outcome {
            unwritten: !written.failed.is_empty(),
            summary: written.summary,
            out_dir,
            shard_complete: Some(complete),
        });
    }
    let written = crate::report::write_run(&out_dir, &judged);
    // The folder failed (removed, read-only, full): what was measured goes elsewhere.
    let rescued = (!written.failed.is_empty()).then(|| out_dir::rescue(&judged));
    Ok(finish(written, out_dir, rescued))
}
