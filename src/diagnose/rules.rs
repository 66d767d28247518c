//! The rules: pure functions from the [`Evidence`] to [`Explanation`]s. Each fires only
//! on a measured fact (a maillog figure, a worker count) together with the setting that
//! allowed it, and says both; a setting alone is never blamed.
//!
//! - `pool_taken`: a faulted destination held as many smtp(8) processes at once as
//!   master.cf allows — healthy mail waited in the queue manager (`delays` b).
//! - `long_setup`: connection set-up to a faulted destination took ≥ [`LONG_SETUP_S`]
//!   per attempt (`delays` c), with a connect or HELO timeout that long.
//! - `dead_detection_off`: a faulted destination failed delivery attempts and was never
//!   suspended, with a failed-cohort limit of 0 (off) or above the failures seen.
//! - `backoff_past_drain`: mail a node had queued for a faulted destination when it
//!   healed did not all arrive within the drain check's limit, and the node may wait
//!   longer than that limit before retrying a deferred message: up to
//!   `maximal_backoff_time` before it is due, then up to `queue_run_delay` for the
//!   deferred-queue scan that picks it up.
//! - `shared_pool_taken`: an embedded node's shared queue had every worker busy with a
//!   faulted destination.

use super::backlog::Backlog;
use super::maillog::DomainDelays;
use super::{Evidence, Explanation, PostfixNode, Setting, WorkerNode, SMTP_PROCESS_LIMIT};

/// Connection set-up at least this long (seconds) holds a delivery process long enough
/// to starve others: Postfix's own default `smtp_connect_timeout`.
pub const LONG_SETUP_S: f64 = 30.0;

/// Every finding the evidence supports, node by node, destination by destination.
pub fn explain(e: &Evidence) -> Vec<Explanation> {
    let mut out = Vec::new();
    for n in &e.postfix {
        for d in n
            .deliveries
            .iter()
            .filter(|d| e.faulted.contains(&d.domain))
        {
            out.extend(pool_taken(n, d, e));
            out.extend(long_setup(n, d));
            out.extend(dead_detection_off(n, d));
        }
        for b in n.backlog.iter().filter(|b| e.faulted.contains(&b.domain)) {
            out.extend(backoff_past_drain(n, b));
        }
    }
    for w in &e.embedded {
        out.extend(shared_pool_taken(w, e));
    }
    out
}

fn pool_taken(n: &PostfixNode, d: &DomainDelays, e: &Evidence) -> Option<Explanation> {
    let limit = n.settings.get(SMTP_PROCESS_LIMIT)?;
    let pool: u32 = limit.parse().ok().filter(|p| *p > 0)?;
    if d.peak_busy < pool {
        return None;
    }
    let mut settings = vec![Setting::postfix(SMTP_PROCESS_LIMIT, limit)];
    let window = n.settings.get("smtp_destination_concurrency_limit");
    if let Some(w) = window {
        settings.push(Setting::postfix("smtp_destination_concurrency_limit", w));
    }
    let mut evidence = vec![format!(
        "{} smtp(8) processes were delivering to {} at the same time (maillog: each attempt's c + d)",
        d.peak_busy, d.domain
    )];
    let mut waited = 0.0f64;
    for h in n
        .deliveries
        .iter()
        .filter(|h| e.healthy.contains(&h.domain))
    {
        waited = waited.max(h.b.max);
        evidence.push(format!(
            "{} mail waited in the queue manager for a delivery process up to {} (median {}) (delays b)",
            h.domain,
            secs(h.b.max),
            secs(h.b.p50)
        ));
    }
    if let Some(q) = &n.queue {
        let rows: Vec<String> = q
            .by_domain
            .iter()
            .map(|r| format!("{} {} (oldest {})", r.domain, r.queued, secs(r.oldest_s)))
            .collect();
        evidence.push(format!(
            "at its fullest ({} into the load) the node held {}: {}",
            secs(f64::from(q.at_ms) / 1000.0),
            q.total,
            rows.join(", ")
        ));
    }
    let because = match window {
        Some(w) if w.parse::<u32>().is_ok_and(|w| w >= pool) => format!(
            "; the per-destination limit smtp_destination_concurrency_limit {w} lets one destination take the whole pool"
        ),
        _ => String::new(),
    };
    Some(Explanation {
        rule: "pool_taken".into(),
        node: n.node.clone(),
        destination: d.domain.clone(),
        text: format!(
            "every smtp(8) process on {} was busy with {} ({} of {}, smtp process limit {limit} in master.cf{because}): healthy mail waited in the active queue up to {}",
            n.node,
            d.domain,
            d.peak_busy,
            pool,
            secs(waited)
        ),
        settings,
        evidence,
    })
}

fn long_setup(n: &PostfixNode, d: &DomainDelays) -> Option<Explanation> {
    if d.c.max < LONG_SETUP_S {
        return None;
    }
    let get = |k: &str| n.settings.get(k).map(String::as_str);
    let (connect, helo) = (get("smtp_connect_timeout")?, get("smtp_helo_timeout")?);
    let greeting = d
        .reasons
        .keys()
        .any(|r| r.contains("greeting") || r.contains("HELO") || r.contains("EHLO"));
    // The timeout that was waiting: the greeting's when the connection was made.
    let (first, second) = if greeting {
        (
            ("smtp_helo_timeout", helo),
            ("smtp_connect_timeout", connect),
        )
    } else {
        (
            ("smtp_connect_timeout", connect),
            ("smtp_helo_timeout", helo),
        )
    };
    if seconds(first.1).is_none_or(|t| t < LONG_SETUP_S) {
        return None;
    }
    let mut evidence = vec![format!(
        "connection set-up to {} took up to {} (median {}) per attempt (delays c)",
        d.domain,
        secs(d.c.max),
        secs(d.c.p50)
    )];
    // The reason that shows the wait: the greeting's, else the most frequent.
    let shown = d
        .reasons
        .iter()
        .filter(|(r, _)| !greeting || r.contains("greeting") || r.contains("HELO"))
        .max_by_key(|(_, n)| **n);
    if let Some((reason, count)) = shown {
        evidence.push(format!("{count} deferred: {reason}"));
    }
    Some(Explanation {
        rule: "long_setup".into(),
        node: n.node.clone(),
        destination: d.domain.clone(),
        text: format!(
            "connection set-up to {} took up to {} per attempt on {}: {} {} ({} {}) let a dead destination hold a delivery process that long",
            d.domain,
            secs(d.c.max),
            n.node,
            first.0,
            first.1,
            second.0,
            second.1
        ),
        settings: vec![
            Setting::postfix(first.0, first.1),
            Setting::postfix(second.0, second.1),
        ],
        evidence,
    })
}

fn dead_detection_off(n: &PostfixNode, d: &DomainDelays) -> Option<Explanation> {
    let key = "smtp_destination_concurrency_failed_cohort_limit";
    let limit = n.settings.get(key)?;
    let cohorts: u64 = limit.parse().ok()?;
    let failed = d.deferred.saturating_sub(d.suspended);
    if failed == 0 || d.suspended > 0 || (cohorts != 0 && cohorts <= failed) {
        return None;
    }
    let mut settings = vec![Setting::postfix(key, limit)];
    let feedback = "smtp_destination_concurrency_negative_feedback";
    let mut and = String::new();
    if let Some(f) = n.settings.get(feedback).filter(|f| f.as_str() == "0") {
        settings.push(Setting::postfix(feedback, f));
        and = format!(", {feedback} 0: concurrency never lowered after failures");
    }
    let how = if cohorts == 0 {
        "off".to_string()
    } else {
        format!("off in effect ({cohorts} failed cohorts needed, {failed} failures seen)")
    };
    Some(Explanation {
        rule: "dead_detection_off".into(),
        node: n.node.clone(),
        destination: d.domain.clone(),
        text: format!(
            "dead-destination detection is {how} on {} ({key} {limit}{and}): {} failed {failed} delivery attempts and was never suspended",
            n.node, d.domain
        ),
        settings,
        evidence: vec![
            format!("{failed} attempts to {} deferred on {}", d.domain, n.node),
            format!(
                "{} deferred as \"delivery temporarily suspended\" (what a destination marked dead gets)",
                d.suspended
            ),
        ],
    })
}

fn backoff_past_drain(n: &PostfixNode, b: &Backlog) -> Option<Explanation> {
    if !b.failed() {
        return None;
    }
    let get = |k: &'static str| Some((k, n.settings.get(k)?.as_str()));
    let (max, scan) = (get("maximal_backoff_time")?, get("queue_run_delay")?);
    // The longest a message deferred just before the heal can wait for its next try.
    let wait = seconds(max.1)? + seconds(scan.1)?;
    if wait <= b.within_s {
        return None;
    }
    let mut settings = vec![
        Setting::postfix(max.0, max.1),
        Setting::postfix(scan.0, scan.1),
    ];
    if let Some((k, v)) = get("minimal_backoff_time") {
        settings.push(Setting::postfix(k, v));
    }
    let healed = secs(f64::from(b.healed_ms) / 1000.0);
    let mut evidence = vec![format!(
        "{} messages to {} were queued on {} when its fault ended at {healed} (ledger)",
        b.queued, b.domain, n.node
    )];
    match (b.first_s, b.last_s) {
        (Some(first), Some(last)) => evidence.push(format!(
            "the first of them arrived {} after the heal, the last {} after; {} later than the {} limit",
            secs(first),
            secs(last),
            b.late,
            secs(b.within_s)
        )),
        _ => evidence.push("none of them arrived after the heal".to_string()),
    }
    if b.never > 0 {
        evidence.push(format!(
            "{} had not arrived when measurement stopped",
            b.never
        ));
    }
    Some(Explanation {
        rule: "backoff_past_drain".into(),
        node: n.node.clone(),
        destination: b.domain.clone(),
        text: format!(
            "{} of {} messages queued for {} on {} did not arrive within {} of the heal: a deferred message waits up to {} {} before its next try and up to {} {} for the deferred-queue scan, {} in all, longer than the drain limit",
            b.late + b.never,
            b.queued,
            b.domain,
            n.node,
            secs(b.within_s),
            max.0,
            max.1,
            scan.0,
            scan.1,
            secs(wait)
        ),
        settings,
        evidence,
    })
}

fn shared_pool_taken(w: &WorkerNode, e: &Evidence) -> Vec<Explanation> {
    if w.design != "shared" || w.workers == 0 {
        return Vec::new();
    }
    e.faulted
        .iter()
        .filter_map(|d| {
            let busy = *w.peak_busy.get(d)?;
            (busy >= w.workers).then(|| Explanation {
                rule: "shared_pool_taken".into(),
                node: w.node.clone(),
                destination: d.clone(),
                text: format!(
                    "shared queue: {busy} of {} workers on {} were busy with {d} at once: mail to every other destination waited behind it (queue: per-destination gives each destination its own window)",
                    w.workers, w.node
                ),
                settings: vec![
                    embedded_setting("queue", &w.design),
                    embedded_setting("concurrency", &w.workers.to_string()),
                ],
                evidence: vec![format!(
                    "the node reported {busy} of its {} workers delivering to {d} at the same time",
                    w.workers
                )],
            })
        })
        .collect()
}

fn embedded_setting(key: &str, value: &str) -> Setting {
    Setting {
        name: format!("target.embedded.{key}"),
        value: value.to_string(),
        doc_name: format!("target.embedded.{key}"),
        doc: "scenarios/README.md#targetembedded".into(),
    }
}

/// A Postfix time value in seconds (`300s`, `5m`, `300`: seconds by default).
fn seconds(v: &str) -> Option<f64> {
    let v = v.trim();
    let (num, unit) = v.split_at(v.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(v.len()));
    let n: f64 = num.parse().ok()?;
    let scale = match unit {
        "" | "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        "w" => 604_800.0,
        _ => return None,
    };
    Some(n * scale)
}

/// `75 s`, `0.4 s`.
fn secs(s: f64) -> String {
    if s >= 10.0 {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
