//! Where delivery time went, from a Postfix maillog: every `status=` line of an smtp(8)
//! (or error(8)) delivery agent, summed per destination — Postfix's `delays=a/b/c/d`
//! (before the queue manager, in the queue manager, connection set-up, transmission),
//! the outcomes, the deferral reasons, and how many delivery processes were busy with
//! one destination at once. Pure: the caller reads the file.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One destination's deliveries on one node, as its maillog tells them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DomainDelays {
    pub domain: String,
    pub sent: u64,
    pub deferred: u64,
    pub bounced: u64,
    /// Deferred without an attempt: Postfix had marked the destination dead
    /// ("delivery temporarily suspended").
    pub suspended: u64,
    /// `delays=a/b/c/d`, seconds: before the queue manager, waiting in the queue manager
    /// for a delivery agent, connection set-up (connect, greeting, HELO, TLS), transmission.
    pub a: DelayStat,
    pub b: DelayStat,
    pub c: DelayStat,
    pub d: DelayStat,
    /// Most smtp(8) processes that were delivering to it at the same second (from each
    /// line's end time and its `c + d`; attempts shorter than a second are not counted).
    pub peak_busy: u32,
    /// Deferral and bounce reasons, numbers and addresses kept as they are, with their counts.
    pub reasons: BTreeMap<String, u64>,
}

/// Median and maximum of one delay part, seconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DelayStat {
    pub p50: f64,
    pub max: f64,
}

/// One parsed `status=` line.
#[derive(Clone, Debug, PartialEq)]
struct Line {
    /// Seconds, on the log's own clock (only differences matter).
    at: i64,
    pid: String,
    domain: String,
    delays: [f64; 4],
    status: String,
    reason: String,
}

/// Summarises the `status=` lines of `text` per recipient domain, sorted by domain.
pub fn summarise(text: &str) -> Vec<DomainDelays> {
    let lines: Vec<Line> = text.lines().filter_map(parse).collect();
    let mut domains: Vec<String> = lines.iter().map(|l| l.domain.clone()).collect();
    domains.sort();
    domains.dedup();
    domains
        .into_iter()
        .map(|domain| {
            let mine: Vec<&Line> = lines.iter().filter(|l| l.domain == domain).collect();
            let mut out = DomainDelays {
                domain,
                ..Default::default()
            };
            for l in &mine {
                match l.status.as_str() {
                    "sent" => out.sent += 1,
                    "bounced" => out.bounced += 1,
                    _ => out.deferred += 1,
                }
                if l.reason.contains("delivery temporarily suspended") {
                    out.suspended += 1;
                }
                if l.status != "sent" && !l.reason.is_empty() {
                    *out.reasons.entry(l.reason.clone()).or_default() += 1;
                }
            }
            let part = |i: usize| stat(mine.iter().map(|l| l.delays[i]).collect());
            (out.a, out.b, out.c, out.d) = (part(0), part(1), part(2), part(3));
            out.peak_busy = peak_busy(&mine);
            out
        })
        .collect()
}

fn stat(mut v: Vec<f64>) -> DelayStat {
    if v.is_empty() {
        return DelayStat::default();
    }
    v.sort_by(f64::total_cmp);
    DelayStat {
        p50: v[(v.len() - 1) / 2],
        max: v[v.len() - 1],
    }
}

/// Most distinct processes busy at once: each line is busy over `[end − (c+d), end)`;
/// one process's overlapping lines (a connection carrying several messages) count once.
fn peak_busy(lines: &[&Line]) -> u32 {
    let mut by_pid: BTreeMap<&str, Vec<(i64, i64)>> = BTreeMap::new();
    for l in lines {
        let busy = (l.delays[2] + l.delays[3]).floor() as i64;
        if busy >= 1 {
            by_pid.entry(&l.pid).or_default().push((l.at - busy, l.at));
        }
    }
    // Each process's intervals merged, then a sweep over all of them.
    let mut edges: Vec<(i64, i32)> = Vec::new();
    for (_, mut spans) in by_pid {
        spans.sort_unstable();
        let mut merged: Vec<(i64, i64)> = Vec::new();
        for (from, to) in spans {
            match merged.last_mut() {
                Some(last) if from <= last.1 => last.1 = last.1.max(to),
                _ => merged.push((from, to)),
            }
        }
        for (from, to) in merged {
            edges.push((from, 1));
            edges.push((to, -1));
        }
    }
    // Ends before starts at the same second: back-to-back is not overlap.
    edges.sort_unstable();
    let (mut now, mut peak) = (0i32, 0i32);
    for (_, step) in edges {
        now += step;
        peak = peak.max(now);
    }
    peak as u32
}

/// `Dec 01 10:35:30 n1 postfix-n1/smtp[5637]: AD09A99E38A: to=<a@down.test>, relay=…,
/// delay=74, delays=0/0/74/0, dsn=4.4.2, status=deferred (reason)`; also RFC 3339 stamps.
fn parse(line: &str) -> Option<Line> {
    let status_at = line.find(" status=")?;
    let (at, rest) = timestamp(line)?;
    let program = rest.split_whitespace().nth(1)?;
    let (name, pid) = program.trim_end_matches(':').split_once('[')?;
    let agent = name.rsplit('/').next()?;
    if !matches!(agent, "smtp" | "lmtp" | "error" | "retry") {
        return None;
    }
    let to = line.split_once(" to=<")?.1.split_once('>')?.0;
    let domain = to.rsplit_once('@')?.1.to_ascii_lowercase();
    let delays = line.split_once(" delays=")?.1.split(',').next()?;
    let parts: Vec<f64> = delays.split('/').filter_map(|p| p.parse().ok()).collect();
    let delays: [f64; 4] = parts.try_into().ok()?;
    let tail = &line[status_at + " status=".len()..];
    let (status, reason) = match tail.split_once(' ') {
        Some((s, r)) => (s, r.trim().trim_start_matches('(').trim_end_matches(')')),
        None => (tail.trim(), ""),
    };
    Some(Line {
        at,
        pid: pid.trim_end_matches(']').to_string(),
        domain,
        delays,
        status: status.to_string(),
        reason: reason.to_string(),
    })
}

/// The line's time in seconds (`Mon DD HH:MM:SS`: no year, months as 31 days — only
/// differences within a run matter) and the rest of the line after the stamp.
fn timestamp(line: &str) -> Option<(i64, &str)> {
    let first = line.split_whitespace().next()?;
    if first.len() > 15 && first.as_bytes()[4] == b'-' {
        let t = humantime::parse_rfc3339_weak(first.get(..19)?).ok()?;
        let s = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs() as i64;
        return Some((s, &line[first.len()..]));
    }
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == first)? as i64;
    let mut words = line[3..].split_whitespace();
    let day: i64 = words.next()?.parse().ok()?;
    let hms: Vec<i64> = words
        .next()?
        .split(':')
        .filter_map(|p| p.parse().ok())
        .collect();
    let [h, m, s] = hms[..] else { return None };
    let rest_at = line.find(&format!("{h:02}:{m:02}:{s:02}"))? + 8;
    Some((
        ((month * 31 + day) * 24 + h) * 3600 + m * 60 + s,
        &line[rest_at..],
    ))
}

#[cfg(test)]
#[path = "maillog_tests.rs"]
mod tests;
