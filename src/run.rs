//! THE orchestrator: the only module that wires the stages. It binds the fake remotes,
//! starts the target, runs the fault timeline and the generator, waits for the mail in
//! flight to settle, then has the checks judged and the reports written. It also wires
//! `mailquake report DIR`: saved data → checks → reports.
//!
//! Exit codes (DESIGN §6): 0 every check passed · 1 a check failed · 2 invalid scenario
//! or command line · 3 the run could not be carried out, the operator aborted it, or a
//! report could not be written (the others are; one line names it).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use fake_remotes::event::now_us;
use fake_remotes::{serve, CountingSink, Fault, ServerConfig};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::collector::{self, Ledger, Progress, Request};
use crate::generator::{self, GeneratorConfig};
use crate::report::progress::{self, LiveProgress, Snapshot};
use crate::report::series::fault_label;
use crate::report::{saved, terminal, JudgedRun, Samples, Summary, Written};
use crate::scenario::{self, Plan, Target};
use crate::smtp::Timeouts;
use crate::target::embedded::node::NodeControl;
use crate::target::{self, embedded};
use crate::{checks, timeline};

/// How often the live progress is updated while a run goes.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// `mailquake run FILE [--out DIR]`.
pub fn main(file: &Path, out: Option<&Path>) -> ExitCode {
    let (plan, text) = match scenario::read(file).and_then(|t| Ok((scenario::parse(&t, file)?, t)))
    {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mailquake: cannot start the runtime: {e}");
            return ExitCode::from(3);
        }
    };
    let out = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| default_out_dir(&plan.name));
    match runtime.block_on(run(plan, text, out)) {
        Ok(outcome) => ExitCode::from(outcome.exit_code()),
        Err(e) => {
            eprintln!("mailquake: {e}");
            ExitCode::from(3)
        }
    }
}

/// What a finished run decided.
#[derive(Debug)]
pub struct Outcome {
    pub summary: Summary,
    pub out_dir: PathBuf,
    /// Some file of the output folder could not be written.
    pub unwritten: bool,
}

impl Outcome {
    pub fn exit_code(&self) -> u8 {
        if self.summary.aborted || self.unwritten {
            3
        } else if self.summary.passed() {
            0
        } else {
            1
        }
    }
}

/// `reports/<name>-<UTC time>/`.
pub fn default_out_dir(name: &str) -> PathBuf {
    let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .replace(':', "");
    PathBuf::from("reports").join(format!("{name}-{stamp}"))
}

/// Runs a plan end to end; `scenario_text` is saved with the reports. `Err` means the
/// harness could not do its job (exit 3).
pub async fn run(plan: Plan, scenario_text: String, out_dir: PathBuf) -> Result<Outcome, String> {
    let abort = CancellationToken::new();
    {
        let abort = abort.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                progress::log_line("mailquake: interrupted — stopping the load, healing the faults, writing what was measured");
                abort.cancel();
            }
        });
    }
    run_with_abort(plan, scenario_text, out_dir, abort).await
}

/// [`run`] with the abort signal supplied by the caller (tests abort without a signal).
pub async fn run_with_abort(
    plan: Plan,
    scenario_text: String,
    out_dir: PathBuf,
    abort: CancellationToken,
) -> Result<Outcome, String> {
    std::fs::create_dir_all(&out_dir)
        .map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
    let shutdown = CancellationToken::new();
    let _stop_everything = shutdown.clone().drop_guard();

    // Collector first, so nothing is missed.
    let run_id = run_id(plan.seed);
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let (remote_tx, remote_rx) = mpsc::unbounded_channel();
    let (req_tx, req_rx) = mpsc::channel(16);
    let ledger = Ledger {
        run_id: run_id.clone(),
        domains: plan.load.mix.iter().map(|(d, _)| d.clone()).collect(),
        ..Default::default()
    };
    // t0 is fixed once everything is up; the collector learns it before any event.
    let mut ledger = Some(ledger);

    // Fake remotes.
    let mut remote_faults: HashMap<String, watch::Sender<Vec<Fault>>> = HashMap::new();
    let mut routes: HashMap<String, SocketAddr> = HashMap::new();
    for (i, spec) in plan.remotes.iter().enumerate() {
        // Bound the way a remote re-binds after a `refuse`, so the address stays usable.
        let listener = fake_remotes::bind(spec.listen).map_err(|e| {
            format!(
                "remote `{}`: cannot listen on {}: {e}",
                spec.name, spec.listen
            )
        })?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let (faults_tx, faults_rx) = watch::channel(Vec::new());
        let config = ServerConfig {
            name: spec.name.clone(),
            hostname: format!("{}.remote.test", spec.name),
            faults: faults_rx,
            seed: plan.seed.wrapping_mul(1_000_003).wrapping_add(i as u64),
            max_message_size: 64 << 20,
            idle_timeout: Duration::from_secs(300),
        };
        let sink = CountingSink {
            name: spec.name.clone(),
            events: remote_tx.clone(),
        };
        tokio::spawn(serve(
            listener,
            config,
            sink,
            remote_tx.clone(),
            shutdown.clone(),
        ));
        remote_faults.insert(spec.name.clone(), faults_tx);
        for d in &spec.domains {
            routes.insert(d.to_ascii_lowercase(), addr);
        }
    }
    drop(remote_tx);

    // The target.
    let mut node_controls: HashMap<String, mpsc::UnboundedSender<NodeControl>> = HashMap::new();
    let (endpoints, timeouts) = match &plan.target {
        Target::Embedded(spec) => {
            let cluster = embedded::start(spec, routes.clone(), plan.seed, shutdown.clone())
                .await
                .map_err(|e| format!("embedded cluster: cannot listen: {e}"))?;
            let endpoints = cluster.nodes.iter().map(|n| n.addr).collect();
            for n in cluster.nodes {
                node_controls.insert(n.name, n.control);
            }
            (
                endpoints,
                Timeouts::uniform(Duration::from_secs(5), Duration::from_secs(30)),
            )
        }
        Target::Smtp(list) => {
            let endpoints = target::resolve(list)?;
            check_reachable(&endpoints).await?;
            (
                endpoints,
                Timeouts::uniform(Duration::from_secs(5), Duration::from_secs(30)),
            )
        }
    };

    // Go: t0.
    let t0 = Instant::now();
    let t0_us = now_us();
    let mut ledger = ledger.take().unwrap_or_default();
    ledger.t0_us = t0_us;
    let collector = tokio::spawn(collector::run(ledger, events_rx, remote_rx, req_rx));
    let heal = CancellationToken::new();
    let timeline = tokio::spawn(timeline::run(
        plan.faults.clone(),
        t0,
        remote_faults,
        node_controls,
        heal.clone(),
    ));
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

    let generator = generator::run(
        plan.load.clone(),
        GeneratorConfig {
            run_id,
            endpoints,
            domains: plan.load.mix.iter().map(|(d, _)| d.clone()).collect(),
            seed: plan.seed,
            t0,
            t0_us,
            timeouts,
        },
        events_tx,
        abort.clone(),
    );
    generator.await;

    // Settle: wait for the timeline to finish, then for mail in flight, within `settle`.
    let load_end = t0 + plan.load.duration();
    let timeline_end = t0 + plan.timeline_end();
    let settle_deadline = load_end.max(timeline_end) + plan.settle;
    tokio::select! {
        _ = tokio::time::sleep_until(timeline_end) => {}
        _ = abort.cancelled() => {}
    }
    while !abort.is_cancelled() && Instant::now() < settle_deadline {
        match ask_progress(&req_tx).await {
            Some(p) if p.outstanding == 0 => break,
            None => break,
            _ => {}
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            _ = abort.cancelled() => {}
        }
    }

    // Heal every fault, stop measuring, judge.
    heal.cancel();
    let _ = timeline.await;
    progress.abort();
    progress::finish();
    let end_ms = t0.elapsed().as_millis().min(u32::MAX as u128 - 1) as u32;
    let (reply_tx, reply_rx) = oneshot::channel();
    req_tx
        .send(Request::Finish {
            end_ms,
            reply: reply_tx,
        })
        .await
        .map_err(|_| "the collector stopped early".to_string())?;
    let (ledger, totals) = reply_rx
        .await
        .map_err(|_| "the collector stopped early".to_string())?;
    let _ = collector.await;
    shutdown.cancel();

    let findings = checks::judge(&plan, &ledger);
    let judged = JudgedRun {
        plan,
        scenario_text,
        ledger,
        totals,
        findings,
        aborted: abort.is_cancelled(),
        samples: Samples::default(),
    };
    let written = crate::report::write_run(&out_dir, &judged);
    Ok(finish(written, out_dir))
}

/// Prints the terminal summary and says (one line) what could not be written.
fn finish(written: Written, out_dir: PathBuf) -> Outcome {
    print!(
        "{}",
        terminal::render(
            &written.summary,
            &out_dir.display().to_string(),
            &written.files,
            &written.failed,
            std::io::stdout().is_terminal(),
        )
    );
    if let Some(line) = written.failure_line(&out_dir) {
        eprintln!("mailquake: {line}");
    }
    Outcome {
        unwritten: !written.failed.is_empty(),
        summary: written.summary,
        out_dir,
    }
}

/// `mailquake report DIR`: judges a finished run again from the data saved in its
/// folder and rewrites every report. Exit 0 · 2 unreadable folder or data · 3 a report
/// could not be written.
pub fn report_main(dir: &Path) -> ExitCode {
    let saved = match saved::load(dir) {
        Ok(saved) => saved,
        Err(e) => {
            eprintln!("mailquake: {e}");
            return ExitCode::from(2);
        }
    };
    let findings = checks::judge(&saved.plan, &saved.ledger);
    let judged = JudgedRun {
        plan: saved.plan,
        scenario_text: saved.scenario_text,
        ledger: saved.ledger,
        totals: saved.totals,
        findings,
        aborted: saved.aborted,
        samples: saved.samples,
    };
    let outcome = finish(
        crate::report::write_reports(dir, &judged),
        dir.to_path_buf(),
    );
    ExitCode::from(if outcome.unwritten { 3 } else { 0 })
}

async fn ask_progress(req_tx: &mpsc::Sender<Request>) -> Option<Progress> {
    let (tx, rx) = oneshot::channel();
    req_tx.send(Request::Progress(tx)).await.ok()?;
    rx.await.ok()
}

/// Live progress on stderr: a bar on a terminal, a plain line every few seconds otherwise.
async fn show_progress(
    req_tx: mpsc::Sender<Request>,
    t0: Instant,
    plan: Plan,
    stop: CancellationToken,
) {
    let total = plan.load.duration().max(plan.timeline_end());
    let mut live = LiveProgress::start(total);
    let mut tick = tokio::time::interval_at(t0 + PROGRESS_EVERY, PROGRESS_EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => return,
        }
        let Some(p) = ask_progress(&req_tx).await else {
            return;
        };
        let elapsed = t0.elapsed();
        let (phase, ends_by) = if elapsed < plan.load.duration() {
            ("load", total)
        } else if elapsed < total {
            ("faults", total)
        } else {
            ("settle", total + plan.settle)
        };
        let active: Vec<String> = plan
            .faults
            .iter()
            .filter(|f| f.at <= elapsed && f.end().is_none_or(|e| e > elapsed))
            .map(fault_label)
            .collect();
        live.update(&Snapshot {
            phase,
            elapsed,
            total: ends_by,
            totals: p,
            faults: &active,
            queue_depth: None,
        });
    }
}

/// An external target must answer at least one TCP connection before the flood starts.
async fn check_reachable(endpoints: &[SocketAddr]) -> Result<(), String> {
    for addr in endpoints {
        if let Ok(Ok(_)) =
            tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(addr)).await
        {
            return Ok(());
        }
    }
    Err(format!(
        "target unreachable: no endpoint accepted a connection ({})",
        endpoints
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// A short id for this run's tracking ids, from the seed and the clock.
fn run_id(seed: u64) -> String {
    let x = now_us() ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!("{:06x}", (x ^ (x >> 24)) & 0xff_ffff)
}
