//! The routing preflight of an external target: before any load, prove that mail for
//! each mix domain crosses the cluster to the fake remote serving it, so a cluster
//! without the transport map (`mailquake routes FILE --format postfix`) stops the run
//! at once (exit 3, one line per domain) instead of failing every check after the
//! whole flood.
//!
//! What it does, after the remotes and the target are up and before the collector's t0:
//! - one canary per mix domain, from `mq-canary.<run>.<i>@bounces.test` to
//!   `mq-canary.<run>.<i>@<domain>` (header `X-Mailquake-Id: <run>-pf.<i>`), submitted
//!   through the target with the load's TLS and AUTH settings, one session each;
//! - when a check counts bounces (`no_loss`: a bounced message is accounted for, so
//!   bounces that never come back would read as loss), one bounce canary from
//!   `mq-canary.<run>.b@bounces.test` to `mq-reject.<run>@<first mix domain>`, which
//!   every fake remote answers 550 (`fake_remotes::REJECT_PREFIX`): its DSN must come
//!   back to the remote serving `bounces.test`;
//! - it reads the remote events itself until every canary has arrived at the remote it
//!   was meant for, or `preflight.timeout` has passed; then the collector gets the
//!   receiver. The events read here (canaries, and mail of earlier runs still draining)
//!   never reach the ledger, and canary addresses (`mq-canary.`, `mq-reject.`) that
//!   show up later are ignored by the collector: canaries count in no check, not even
//!   as foreign mail.
//!
//! The embedded cluster routes by the scenario itself: no preflight. `--skip-preflight`
//! skips it (summary.json, the terminal and the page say so).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use fake_remotes::event::now_us;
use fake_remotes::{RemoteEvent, RemoteEventKind, REJECT_PREFIX};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::cluster::TargetEndpoint;
use crate::report::progress::log_line;
use crate::scenario::{Check, Plan, Target, BOUNCE_DOMAIN};
use crate::smtp::{ClientOptions, Connection};
use crate::tracking::canary_address;

/// What the preflight found: `summary.json`'s `preflight` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PreflightReport {
    pub status: PreflightStatus,
    /// `preflight.timeout`, seconds.
    pub timeout_s: f64,
    /// Each canary that arrived (empty unless `passed`).
    pub canaries: Vec<CanaryJson>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PreflightStatus {
    /// Every canary arrived where it should.
    Passed,
    /// `--skip-preflight`: the routes were not checked.
    Skipped,
    /// The embedded cluster: it routes by the scenario itself.
    NotNeeded,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CanaryJson {
    /// The mix domain, or `bounces.test` for the bounce canary.
    pub domain: String,
    /// The remote it arrived at.
    pub remote: String,
    /// From its acceptance by the target to its arrival, seconds.
    pub arrived_after_s: f64,
    /// The shard that sent it (a merged run: every shard checks the routes itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<u64>,
}

impl PreflightReport {
    fn new(status: PreflightStatus, plan: &Plan) -> Self {
        PreflightReport {
            status,
            timeout_s: plan.preflight.timeout.as_secs_f64(),
            canaries: Vec::new(),
        }
    }

    /// One line for the terminal and the page.
    pub fn describe(&self) -> String {
        match self.status {
            PreflightStatus::Skipped => {
                "skipped (--skip-preflight): the routes to the fake remotes were not checked".into()
            }
            PreflightStatus::NotNeeded => "not needed (the embedded cluster)".into(),
            PreflightStatus::Passed => {
                let each: Vec<String> = self
                    .canaries
                    .iter()
                    .map(|c| match c.shard {
                        Some(i) => format!("{} {:.2} s (shard {i})", c.domain, c.arrived_after_s),
                        None => format!("{} {:.2} s", c.domain, c.arrived_after_s),
                    })
                    .collect();
                format!("every canary arrived ({})", each.join(", "))
            }
        }
    }
}

impl PreflightReport {
    /// The preflight of a merged run from its shards' (shard index, report), shard 0
    /// first: every canary of every shard, named by shard; `skipped` if any shard
    /// skipped it, `passed` if any passed (the others then had the embedded cluster,
    /// which cannot be: one scenario), `None` if a shard has none.
    pub fn merged(shards: &[(u64, Option<&PreflightReport>)]) -> Option<PreflightReport> {
        let mut reports = Vec::new();
        for (i, r) in shards {
            reports.push((*i, (*r)?));
        }
        let (_, first) = reports.first()?;
        let status = if reports
            .iter()
            .any(|(_, r)| r.status == PreflightStatus::Skipped)
        {
            PreflightStatus::Skipped
        } else if reports
            .iter()
            .any(|(_, r)| r.status == PreflightStatus::Passed)
        {
            PreflightStatus::Passed
        } else {
            first.status
        };
        Some(PreflightReport {
            status,
            timeout_s: first.timeout_s,
            canaries: reports
                .iter()
                .flat_map(|(i, r)| {
                    r.canaries.iter().map(move |c| CanaryJson {
                        shard: Some(*i),
                        ..c.clone()
                    })
                })
                .collect(),
        })
    }
}

/// One canary: where it goes and what became of it.
#[derive(Clone, Debug, PartialEq)]
struct Canary {
    /// The mix domain (or `bounces.test` for the bounce canary).
    domain: String,
    from: String,
    rcpt: String,
    tracking: String,
    /// The address whose arrival proves the route: the recipient, or for the bounce
    /// canary its sender (where the DSN goes).
    expect: String,
    /// The remote it must reach, and where that listens.
    remote: String,
    remote_addr: Option<SocketAddr>,
    fate: Fate,
}

#[derive(Clone, Debug, PartialEq)]
enum Fate {
    /// Accepted by this endpoint at that moment (Unix µs, the clock of remote events);
    /// not seen yet.
    Sent {
        by: String,
        at_us: u64,
    },
    /// The target did not take it: why.
    NotAccepted {
        by: String,
        why: String,
    },
    Arrived {
        after: Duration,
    },
    /// Arrived at another remote than the one serving its domain.
    Misrouted {
        by: String,
        at_remote: String,
    },
}

const INTERRUPTED: &str = "interrupted during the routing preflight; no load was sent";

/// Runs the preflight of an external target. `routes`: domain → the address of the
/// remote serving it. `Err`: the lines to print (exit 3, no load sent).
pub async fn run(
    plan: &Plan,
    run_id: &str,
    endpoints: &[TargetEndpoint],
    client: &ClientOptions,
    routes: &HashMap<String, SocketAddr>,
    remote_events: &mut mpsc::Receiver<RemoteEvent>,
    abort: &CancellationToken,
) -> Result<PreflightReport, String> {
    if !matches!(plan.target, Target::Smtp(_)) {
        return Ok(PreflightReport::new(PreflightStatus::NotNeeded, plan));
    }
    if plan.preflight.skip {
        log_line("mailquake: routing preflight skipped (--skip-preflight)");
        return Ok(PreflightReport::new(PreflightStatus::Skipped, plan));
    }
    let mut canaries = canaries(plan, run_id, routes);
    for c in &mut canaries {
        if abort.is_cancelled() {
            return Err(INTERRUPTED.into());
        }
        c.fate = submit(c, endpoints, client).await;
    }
    let deadline = Instant::now() + plan.preflight.timeout;
    wait(&mut canaries, remote_events, deadline, abort).await?;
    let failures = failure_lines(&canaries, plan);
    if !failures.is_empty() {
        return Err(format!(
            "the routing preflight failed; no load was sent:\n{}",
            failures.join("\n")
        ));
    }
    let mut report = PreflightReport::new(PreflightStatus::Passed, plan);
    report.canaries = canaries
        .iter()
        .filter_map(|c| match c.fate {
            Fate::Arrived { after } => Some(CanaryJson {
                domain: c.domain.clone(),
                remote: c.remote.clone(),
                arrived_after_s: (after.as_secs_f64() * 1000.0).round() / 1000.0,
                shard: None,
            }),
            _ => None,
        })
        .collect();
    log_line(&format!(
        "mailquake: routing preflight: {}",
        report.describe()
    ));
    Ok(report)
}

/// The canaries of `plan`: one per mix domain, and the bounce canary when a check
/// counts bounces.
fn canaries(plan: &Plan, run_id: &str, routes: &HashMap<String, SocketAddr>) -> Vec<Canary> {
    let remote_of = |domain: &str| {
        plan.remotes
            .iter()
            .find(|r| r.domains.iter().any(|d| d.eq_ignore_ascii_case(domain)))
            .map_or_else(|| "?".to_string(), |r| r.name.clone())
    };
    let route = |domain: &str| routes.get(&domain.to_ascii_lowercase()).copied();
    let mut list: Vec<Canary> = plan
        .load
        .mix
        .iter()
        .enumerate()
        .map(|(i, (domain, _))| {
            let n = i.to_string();
            let rcpt = canary_address(run_id, &n, domain);
            Canary {
                domain: domain.clone(),
                from: canary_address(run_id, &n, BOUNCE_DOMAIN),
                expect: rcpt.clone(),
                rcpt,
                tracking: format!("{run_id}-pf.{n}"),
                remote: remote_of(domain),
                remote_addr: route(domain),
                fate: Fate::NotAccepted {
                    by: String::new(),
                    why: "not sent".into(),
                },
            }
        })
        .collect();
    let counts_bounces = plan.checks.iter().any(|c| matches!(c, Check::NoLoss));
    if let (true, Some((first, _))) = (counts_bounces, plan.load.mix.first()) {
        let from = canary_address(run_id, "b", BOUNCE_DOMAIN);
        list.push(Canary {
            domain: BOUNCE_DOMAIN.to_string(),
            expect: from.clone(),
            from,
            rcpt: format!("{REJECT_PREFIX}{run_id}@{first}"),
            tracking: format!("{run_id}-pf.b"),
            remote: remote_of(BOUNCE_DOMAIN),
            remote_addr: route(BOUNCE_DOMAIN),
            fate: Fate::NotAccepted {
                by: String::new(),
                why: "not sent".into(),
            },
        });
    }
    list
}

/// Submits one canary in a session of its own, trying the endpoints in order until one
/// takes a session.
async fn submit(c: &Canary, endpoints: &[TargetEndpoint], client: &ClientOptions) -> Fate {
    let body = format!(
        "From: mailquake <{}>\r\nTo: {}\r\nSubject: mailquake routing preflight {}\r\n\
         Message-ID: <{}@mailquake.test>\r\nX-Mailquake-Id: {}\r\n\r\n\
         A canary: mailquake checks that mail for {} reaches its fake remote.\r\n",
        c.from, c.rcpt, c.tracking, c.tracking, c.tracking, c.domain
    );
    let mut why = "the target has no endpoint".to_string();
    for endpoint in endpoints {
        let mut conn = match Connection::open_observed(
            endpoint.addr,
            endpoint.host(),
            client,
            &mut (),
        )
        .await
        {
            Ok(conn) => conn,
            Err(failure) => {
                why = format!("{}: {failure}", endpoint.name);
                continue;
            }
        };
        let outcome = conn
            .send(&c.from, std::slice::from_ref(&c.rcpt), body.as_bytes())
            .await;
        conn.quit().await;
        let by = endpoint.name.clone();
        return if outcome.accepted() {
            Fate::Sent {
                by,
                at_us: now_us(),
            }
        } else {
            let why = match outcome.result {
                Ok((phase, reply)) => format!("{}: {reply}", phase.as_str()),
                Err(failure) => failure.to_string(),
            };
            Fate::NotAccepted { by, why }
        };
    }
    Fate::NotAccepted {
        by: String::new(),
        why,
    }
}

/// Reads remote events until every sent canary has arrived somewhere, or `deadline`.
async fn wait(
    canaries: &mut [Canary],
    events: &mut mpsc::Receiver<RemoteEvent>,
    deadline: Instant,
    abort: &CancellationToken,
) -> Result<(), String> {
    while canaries.iter().any(|c| matches!(c.fate, Fate::Sent { .. })) {
        let event = tokio::select! {
            e = events.recv() => e,
            _ = tokio::time::sleep_until(deadline) => return Ok(()),
            _ = abort.cancelled() => return Err(INTERRUPTED.into()),
        };
        let Some(event) = event else {
            return Err("the remotes stopped reporting during the routing preflight".into());
        };
        let RemoteEventKind::Message { rcpts, .. } = &event.kind else {
            continue;
        };
        for c in canaries.iter_mut() {
            let Fate::Sent { by, at_us } = &c.fate else {
                continue;
            };
            if !rcpts.iter().any(|r| r.eq_ignore_ascii_case(&c.expect)) {
                continue;
            }
            c.fate = if event.remote == c.remote {
                Fate::Arrived {
                    after: Duration::from_micros(event.at_us.saturating_sub(*at_us)),
                }
            } else {
                Fate::Misrouted {
                    by: by.clone(),
                    at_remote: event.remote.clone(),
                }
            };
        }
    }
    Ok(())
}

/// One line per canary that did not arrive where it should, in the user's terms.
fn failure_lines(canaries: &[Canary], plan: &Plan) -> Vec<String> {
    let hint = format!(
        "`mailquake routes {} --format postfix`",
        plan.source.display()
    );
    let secs = seconds(plan.preflight.timeout);
    let addr = |c: &Canary| c.remote_addr.map_or("?".into(), |a| a.to_string());
    canaries
        .iter()
        .filter_map(|c| {
            let bounce = c.domain == BOUNCE_DOMAIN;
            Some(match &c.fate {
                Fate::Arrived { .. } => return None,
                Fate::NotAccepted { by, why } if by.is_empty() => {
                    format!("{}: the canary could not be submitted: {why}", c.domain)
                }
                Fate::NotAccepted { by, why } => {
                    format!("{}: the canary was not accepted by {by}: {why}", c.domain)
                }
                Fate::Sent { by, .. } if bounce => format!(
                    "{}: the bounce canary (to {}, which every fake remote answers 550) was accepted by {by} \
                     but its bounce never reached remote `{}` at {} in {secs} — does the cluster send bounces, \
                     and is {} in the transport map? {hint}",
                    c.domain, c.rcpt, c.remote, addr(c), c.domain
                ),
                Fate::Sent { by, .. } => format!(
                    "{}: the canary was accepted by {by} but never reached remote `{}` at {} in {secs} \
                     — is the transport map installed? {hint}",
                    c.domain, c.remote, addr(c)
                ),
                Fate::Misrouted { by, at_remote } => format!(
                    "{}: the canary was accepted by {by} but reached remote `{at_remote}` instead of `{}` at {} \
                     — the transport map sends {} to the wrong place: {hint}",
                    c.domain, c.remote, addr(c), c.domain
                ),
            })
        })
        .collect()
}

/// `30 s`, `2.5 s`.
fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests;
