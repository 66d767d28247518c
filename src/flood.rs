//! `mailquake flood HOST:PORT`: the generator alone, for a quick load test of any SMTP
//! server — no fake remotes, no faults, no checks. It wires only the generator and a
//! collector (for the submit latency) and prints per-phase percentiles at the end.
//!
//! It floods whatever it is pointed at: use it on test servers. Recipients are
//! `mq.<seq>.<n>@flood.test` unless `--to` names another domain reserved for testing;
//! any other domain must also be named with `--allow-domain` (see `scenario::safety`).
//! Against a target that is not loopback the rate and the total are capped (`--max-rate`,
//! `--max-messages` raise the caps). The AUTH password is best given in
//! `MAILQUAKE_AUTH_PASSWORD` (`--auth USER`): a command line shows in `ps`.
//!
//! Exit codes: 0 it ran (whatever the server answered) · 2 bad arguments · 3 the target
//! is unreachable, the runtime could not start, or a stop signal (SIGINT/Ctrl-C, SIGTERM,
//! SIGHUP) cut it short — after printing what was measured until then.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use fake_remotes::event::now_us;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::collector::Progress;
use crate::generator::{self, GeneratorConfig};
use crate::report::load::{self, LoadJson, RepliesJson};
use crate::run::wiring;
use crate::scenario::safety::{self, Cap, AUTH_PASSWORD_ENV, RESERVED_LIST};
use crate::scenario::{units, Endpoint, Load, LoadModel, MessageSpec, SizeSpec, Step, TlsSpec};
use crate::signals::StopSignals;
use crate::smtp::{Credentials, Timeouts, TlsMode};

/// The default recipient domain.
pub const FLOOD_DOMAIN: &str = "flood.test";

/// What `mailquake flood` was asked to do (strings as typed; checked by [`plan`]), its
/// command line (flattened into `cli::Command::Flood`).
#[derive(Clone, Debug, clap::Args)]
pub struct FloodArgs {
    /// The SMTP server, HOST:PORT.
    pub target: String,
    /// Messages per second (open model), e.g. 500/s, 12000/m.
    #[arg(long)]
    pub rate: Option<String>,
    /// How long to send, e.g. 30s, 2m.
    #[arg(long = "for", value_name = "DURATION", default_value = "30s")]
    pub duration: String,
    /// Most sessions at once (open model) or sessions sending back to back (closed).
    #[arg(long, default_value_t = 50)]
    pub sessions: usize,
    /// Message size, headers included, e.g. 4KiB.
    #[arg(long, default_value = "4KiB")]
    pub size: String,
    /// open: messages due at --rate whatever the server does; closed: --sessions send back to back.
    #[arg(long, value_enum, default_value_t = LoadModel::Open)]
    pub model: LoadModel,
    /// STARTTLS: never, when offered, or always.
    #[arg(long, value_enum, default_value_t = TlsMode::None)]
    pub tls: TlsMode,
    /// Take any TLS certificate (self-signed test servers).
    #[arg(long)]
    pub insecure: bool,
    /// Trust the certificates in this PEM file instead of the Mozilla roots.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Recipient domain: reserved for testing (e.g. flood.test), or also named by --allow-domain.
    #[arg(long, value_name = "DOMAIN", default_value = FLOOD_DOMAIN)]
    pub to: String,
    /// Let --to name this domain although it is not reserved for testing (prints a warning).
    #[arg(long, value_name = "DOMAIN")]
    pub allow_domain: Option<String>,
    /// AUTH PLAIN (or LOGIN) as USER, the password taken from MAILQUAKE_AUTH_PASSWORD;
    /// USER:PASSWORD works too but shows in `ps`.
    #[arg(long, value_name = "USER")]
    pub auth: Option<String>,
    /// Raise the rate cap for a target that is not loopback (default 2000/s).
    #[arg(long, value_name = "RATE")]
    pub max_rate: Option<String>,
    /// Raise the message cap for a target that is not loopback (default 1000000).
    #[arg(long, value_name = "N")]
    pub max_messages: Option<u64>,
    /// Messages on one connection before QUIT.
    #[arg(long, default_value_t = 10)]
    pub messages_per_connection: u32,
    /// Recipients per message.
    #[arg(long, default_value_t = 1)]
    pub recipients: u8,
    /// Write flood.json and the per-phase *.hlog histogram logs here.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Interval of the *.hlog histogram logs.
    #[arg(long, value_name = "DURATION", default_value = "1s")]
    pub hlog_interval: String,
}

/// The arguments checked and turned into a load, with the cap the closed model is held
/// to while it runs; `Err` is a one-line message (exit 2).
pub fn plan(a: &FloodArgs) -> Result<(Endpoint, Load, Option<Cap>), String> {
    let target = Endpoint::from(a.target.as_str());
    if !a.target.contains(':') {
        return Err(format!(
            "target `{}`: expected HOST:PORT, e.g. 127.0.0.1:2525",
            a.target
        ));
    }
    let duration = units::parse_duration(&a.duration, Duration::from_secs(7 * 24 * 3600))
        .map_err(|e| format!("--for: {e}"))?;
    if duration.is_zero() {
        return Err("--for: must be more than 0".into());
    }
    let rate =
        match (a.model, &a.rate) {
            (LoadModel::Open, Some(r)) => {
                units::parse_rate(r).map_err(|e| format!("--rate: {e}"))?
            }
            (LoadModel::Open, None) => return Err(
                "--rate is required with the open model, e.g. --rate 500/s (or use --model closed)"
                    .into(),
            ),
            (LoadModel::Closed, Some(_)) => return Err(
                "--rate does not go with --model closed: closed-model sessions send back to back"
                    .into(),
            ),
            (LoadModel::Closed, None) => 0.0,
        };
    if rate * duration.as_secs_f64() > 10_000_000.0 {
        return Err("--rate × --for plans more than 10000000 messages".into());
    }
    let cap = caps(a, rate, duration)?;
    let size = units::parse_size(&a.size).map_err(|e| format!("--size: {e}"))?;
    if !(1..=10_000).contains(&a.sessions) {
        return Err("--sessions: expected 1 to 10000".into());
    }
    if !(1..=64).contains(&a.recipients) {
        return Err("--recipients: expected 1 to 64".into());
    }
    if a.messages_per_connection == 0 {
        return Err("--messages-per-connection: expected at least 1".into());
    }
    let domain = a.to.trim().to_ascii_lowercase();
    if domain.is_empty() || domain.contains(['@', ' ', '<', '>']) {
        return Err(format!(
            "--to `{}`: expected a domain such as flood.test",
            a.to
        ));
    }
    let allowed = a
        .allow_domain
        .as_deref()
        .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase());
    if let Some(d) = allowed
        .as_deref()
        .filter(|d| *d != domain.trim_end_matches('.'))
    {
        return Err(format!("--allow-domain `{d}` is not the --to domain `{domain}`: it only lets --to name a domain on purpose"));
    }
    if !safety::is_reserved(&domain) && allowed.is_none() {
        return Err(format!(
            "--to `{}`: not a domain reserved for testing ({RESERVED_LIST}): if the server relays it, the mail reaches the real `{domain}`; add --allow-domain {domain} if you mean it",
            a.to
        ));
    }
    let auth = match &a.auth {
        None => None,
        Some(text) => Some(match text.split_once(':') {
            Some((user, password)) => Credentials {
                user: user.to_owned(),
                password: password.to_owned(),
            },
            None => Credentials {
                user: text.clone(),
                password: std::env::var(AUTH_PASSWORD_ENV)
                    .ok()
                    .filter(|p| !p.is_empty())
                    .ok_or_else(|| {
                        format!("--auth {text}: set {AUTH_PASSWORD_ENV} to the password (or give --auth USER:PASSWORD, which shows in `ps`)")
                    })?,
            },
        }),
    };
    let hlog_interval = units::parse_duration(&a.hlog_interval, Duration::from_secs(3600))
        .map_err(|e| format!("--hlog-interval: {e}"))?;
    if hlog_interval < Duration::from_millis(100) {
        return Err("--hlog-interval: must be at least 100ms".into());
    }
    let load = Load {
        model: a.model,
        steps: vec![Step {
            rate,
            to: None,
            duration,
        }],
        mix: vec![(domain, 1.0)],
        message: MessageSpec {
            size: SizeSpec::Fixed(size),
            recipients: a.recipients,
        },
        sessions: a.sessions,
        messages_per_connection: a.messages_per_connection,
        tls: TlsSpec {
            mode: a.tls,
            verify: !a.insecure,
            ca: a.ca.clone(),
        },
        auth,
        hlog_interval,
        // No checks judge a flood: the shortfall is only reported.
        max_shortfall: 0.01,
    };
    Ok((target, load, cap))
}

/// Against a target that is not loopback: the rate and the total under the caps (the
/// closed model is held to them while it runs). Loopback is not capped.
fn caps(a: &FloodArgs, rate: f64, duration: Duration) -> Result<Option<Cap>, String> {
    let max_rate = match &a.max_rate {
        Some(r) => units::parse_rate(r).map_err(|e| format!("--max-rate: {e}"))?,
        None => safety::DEFAULT_MAX_RATE,
    };
    let max_messages = a.max_messages.unwrap_or(safety::DEFAULT_MAX_MESSAGES);
    if !(1..=10_000_000).contains(&max_messages) {
        return Err("--max-messages: expected 1 to 10000000".into());
    }
    if safety::is_loopback(&a.target) {
        return Ok(None);
    }
    let elsewhere = &a.target;
    if rate > max_rate {
        return Err(format!(
            "--rate {}: above the safety cap of {max_rate}/s for a target that is not loopback ({elsewhere}): raise it with --max-rate {} if you mean it",
            a.rate.as_deref().unwrap_or_default(),
            a.rate.as_deref().unwrap_or_default()
        ));
    }
    let planned = (rate * duration.as_secs_f64()).round() as u64;
    if planned > max_messages {
        return Err(format!(
            "--rate × --for plans {planned} messages, above the safety cap of {max_messages} for a target that is not loopback ({elsewhere}): raise it with --max-messages {planned} if you mean it"
        ));
    }
    Ok((a.model == LoadModel::Closed).then_some(Cap {
        rate: max_rate,
        messages: max_messages,
    }))
}

/// What the user must be told before a flood starts (one line each).
pub fn warnings(a: &FloodArgs) -> Vec<String> {
    let mut out = Vec::new();
    if a.allow_domain.is_some() && !safety::is_reserved(&a.to) {
        out.push(format!("mailquake flood: warning: mail goes to `{}`, not reserved for testing: make sure the server routes it to a test sink", a.to.trim()));
    }
    if a.auth.as_deref().is_some_and(|t| t.contains(':')) {
        out.push(format!("mailquake flood: warning: --auth USER:PASSWORD shows in `ps` and the shell history: give --auth USER and set {AUTH_PASSWORD_ENV}"));
    }
    out
}

/// `mailquake flood …`.
pub fn main(args: &FloodArgs) -> ExitCode {
    let (target, load, cap) = match plan(args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("mailquake flood: {e}");
            return ExitCode::from(2);
        }
    };
    for warning in warnings(args) {
        eprintln!("{warning}");
    }
    // One thread: sessions wake on the thread that polls their sockets (see
    // `generator::run_on_own_thread`); the collector's share is small.
    let runtime = match wiring::runtime(tokio::runtime::Builder::new_current_thread()) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mailquake flood: {e}");
            return ExitCode::from(3);
        }
    };
    let stop = CancellationToken::new();
    let signals = {
        let _in_runtime = runtime.enter();
        StopSignals::install()
    };
    match signals {
        Ok(signals) => {
            let first = {
                let stop = stop.clone();
                move |name: &str| {
                    eprintln!(
                        "\nmailquake flood: {name} — stopping the load, printing what was measured"
                    );
                    stop.cancel();
                }
            };
            // Nothing to undo: a flood puts nothing in force.
            let nothing = tokio::sync::watch::channel(Vec::new()).1;
            runtime.spawn(signals.escalate("mailquake flood", first, nothing));
        }
        Err(e) => eprintln!("mailquake flood: cannot listen for stop signals: {e}"),
    }
    match runtime.block_on(flood(target, load, cap, args.out.clone(), stop.clone())) {
        Ok(report) => {
            print!("{}", render(&args.target, &report));
            if stop.is_cancelled() {
                ExitCode::from(3)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err((code, e)) => {
            eprintln!("mailquake flood: {e}");
            ExitCode::from(code)
        }
    }
}

/// What a flood measured (`--out DIR` writes it as `DIR/flood.json`).
#[derive(Debug, Serialize)]
pub struct FloodReport {
    pub duration_s: f64,
    pub totals: Progress,
    /// Accepted messages per second over the run.
    pub accepted_per_s: f64,
    /// Intended send time → accepted, milliseconds (open model: includes queueing).
    pub submit_latency_ms: Option<[u32; 4]>,
    pub load: LoadJson,
    pub submit_replies: RepliesJson,
}

/// Runs the flood; `Err((exit code, message))` when it could not.
pub async fn flood(
    target: Endpoint,
    load: Load,
    cap: Option<Cap>,
    out: Option<PathBuf>,
    stop: CancellationToken,
) -> Result<FloodReport, (u8, String)> {
    let endpoints = crate::cluster::resolve(std::slice::from_ref(&target)).map_err(|e| (3, e))?;
    let timeouts = Timeouts::uniform(Duration::from_secs(5), Duration::from_secs(30));
    let client =
        crate::run::client_options(&load.tls, load.auth.clone(), timeouts).map_err(|e| (2, e))?;
    if let Some(dir) = &out {
        std::fs::create_dir_all(dir)
            .map_err(|e| (3, format!("cannot create {}: {e}", dir.display())))?;
    }
    crate::run::check_reachable(&endpoints)
        .await
        .map_err(|e| (3, e))?;

    let (events_tx, events_rx) = mpsc::channel(crate::collector::EVENTS_CAPACITY);
    // No remotes: nothing is ever sent on their channel.
    let (_remote_tx, remote_rx) = mpsc::channel(1);
    let t0 = Instant::now();
    let t0_us = now_us();
    // A flood has no scenario seed: the clock is its seed.
    let run_id = wiring::run_id(t0_us);
    let mut ledger = wiring::new_ledger(&run_id, &load);
    ledger.t0_us = t0_us;
    let (req_tx, collector) = wiring::start_collector(ledger, events_rx, remote_rx);
    let report = generator::run(
        load.clone(),
        GeneratorConfig {
            run_id,
            endpoints,
            domains: load.mix.iter().map(|(d, _)| d.clone()).collect(),
            seed: t0_us,
            t0,
            t0_us,
            client,
            hlog_dir: out.clone(),
            cap,
            part: Default::default(),
            phase_looks: None,
        },
        events_tx,
        stop,
    )
    .await;
    let elapsed = t0.elapsed();
    let (ledger, totals) = wiring::finish_collector(&req_tx, wiring::end_ms(elapsed))
        .await
        .unwrap_or_default();
    let _ = collector.await;
    let mut latencies: Vec<u32> = ledger
        .records
        .iter()
        .filter_map(|r| r.submit_latency_ms())
        .collect();
    latencies.sort_unstable();
    let at = |q: f64| {
        let i = ((q * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i]
    };
    let (load, submit_replies) = LoadJson::new(&report);
    let report = FloodReport {
        duration_s: elapsed.as_secs_f64(),
        totals,
        accepted_per_s: totals.accepted as f64 / elapsed.as_secs_f64().max(1e-3),
        submit_latency_ms: (!latencies.is_empty()).then(|| [at(0.5), at(0.9), at(0.99), at(1.0)]),
        load,
        submit_replies,
    };
    if let Some(dir) = &out {
        let path = dir.join("flood.json");
        let json = serde_json::to_string_pretty(&report).unwrap_or_default();
        std::fs::write(&path, json + "\n")
            .map_err(|e| (3, format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(report)
}

/// The terminal summary.
pub fn render(target: &str, r: &FloodReport) -> String {
    let p = &r.totals;
    let mut t = format!(
        "\nmailquake flood · {target} · {:.1}s\n  submitted {} · accepted {} · not accepted {} · shortfall {} · {:.1} accepted/s\n",
        r.duration_s, p.submitted, p.accepted, p.not_accepted, p.shortfall, r.accepted_per_s
    );
    if let Some([p50, p90, p99, max]) = r.submit_latency_ms {
        t.push_str(&format!(
            "  submit latency (intended send → accepted): p50 {p50}ms · p90 {p90}ms · p99 {p99}ms · max {max}ms\n"
        ));
    }
    t.push_str(&load::render(&r.load, &r.submit_replies));
    t
}

#[cfg(test)]
mod tests {
    /// flood's default recipient domain is a reserved test domain.
    #[test]
    fn flood_domain_is_reserved() {
        assert!(crate::scenario::safety::is_reserved(super::FLOOD_DOMAIN));
    }
}
