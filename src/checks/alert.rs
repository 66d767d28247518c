//! `alert`: the cluster's own monitoring noticed the fault. Judged from the recorded
//! polls of its Prometheus (`ledger.alert_polls`, one every [`ALERT_POLL_EVERY`]): an
//! instance of the alerting rule `name` carrying every `labels` pair is
//!
//! - **not firing before** its fault began (firing then is a false alarm: fail);
//! - **firing** at a poll within `fires_within` of the fault's start (the first poll
//!   that sees it firing; pending does not count);
//! - with `resolves_within`: **resolved** — seen not firing at a poll at or after the
//!   fault's end (and after it fired) within `resolves_within` of that end.
//!
//! The state between two readings more than [`MAX_QUIET`] apart (a poll failed or came
//! late), and after the last one, is unknown: a part that the readings did not decide
//! and whose window holds such a gap is inconclusive. What was seen decides whatever
//! the gaps: a false alarm fails. A rule Prometheus never had cannot fire; the detail
//! says so.

use super::common::{fmt_count, fmt_dur, fmt_ms, inconclusive, ms, MAX_EVIDENCE};
use super::{Finding, Status};
use crate::collector::alerts::{ActiveAlert, AlertPoll};
use crate::collector::Ledger;
use crate::scenario::{AlertCheck, ALERT_POLL_EVERY};

const NAME: &str = "alert";

/// Longest time between two readings whose state still counts as known: two poll
/// periods and a half (one poll may fail or come late).
pub const MAX_QUIET: std::time::Duration =
    std::time::Duration::from_millis(ALERT_POLL_EVERY.as_millis() as u64 * 5 / 2);

/// One successful reading: when, and the matching instances firing and pending.
struct Reading<'a> {
    at: u32,
    firing: Vec<&'a ActiveAlert>,
    pending: bool,
    has_rule: bool,
}

/// The outcome of one part of the check.
enum Part {
    Ok(String),
    Fail(String),
    Unknown(String),
}

pub(super) fn judge(ledger: &Ledger, a: &AlertCheck) -> Finding {
    let (what, start, end) = (&a.during.0, ms(a.during.1), a.during.2.map(ms));
    let mut limit = format!(
        "fires within {} of the fault on {what} (at {}), not before",
        fmt_dur(a.fires_within),
        fmt_ms(start)
    );
    if let (Some(w), Some(end)) = (a.resolves_within, end) {
        limit += &format!(
            "; resolves within {} of its end (at {})",
            fmt_dur(w),
            fmt_ms(end)
        );
    }
    let polls: Vec<&AlertPoll> = ledger
        .alert_polls
        .iter()
        .filter(|p| p.prometheus == a.prometheus && p.at_ms <= ledger.end_ms)
        .collect();
    let failed = polls.iter().filter(|p| p.seen.is_none()).count();
    let readings: Vec<Reading> = polls.iter().filter_map(|p| reading(p, a)).collect();
    if readings.is_empty() {
        let why = polls
            .iter()
            .rev()
            .find_map(|p| p.error.as_deref())
            .map_or(String::new(), |e| format!(": {e}"));
        return inconclusive(
            NAME,
            limit,
            format!(
                "no poll of {} answered ({} failed{why}): the alert's state is unknown",
                a.prometheus,
                fmt_count(failed)
            ),
        );
    }
    let quiet = ms(MAX_QUIET);
    let gaps = gaps(&readings, quiet);
    // A gap's state is unknown from `quiet` after the reading before it.
    let unknown_in = |from: u32, to: u32| {
        gaps.iter()
            .find(|&&(after, before)| after.saturating_add(quiet) <= to && from < before)
    };
    let gap_words = |(after, before): (u32, u32)| match before {
        u32::MAX => format!("nothing was read after {}", fmt_ms(after)),
        _ => format!(
            "no reading between {} and {}",
            fmt_ms(after),
            fmt_ms(before)
        ),
    };
    let shown = a.shown();

    // Before the fault: a firing alert is a false alarm.
    let before = match readings
        .iter()
        .find(|r| r.at < start && !r.firing.is_empty())
    {
        Some(r) => Part::Fail(format!(
            "{shown} was firing at {}, before the fault on {what} began at {}: a false alarm",
            fmt_ms(r.at),
            fmt_ms(start)
        )),
        None => match (start > 0).then(|| unknown_in(0, start - 1)).flatten() {
            Some(&g) => Part::Unknown(format!(
                "a false alarm before the fault cannot be ruled out ({})",
                gap_words(g)
            )),
            None => Part::Ok("not firing before the fault".into()),
        },
    };

    // After the fault began: firing within the limit.
    let fire_by = start.saturating_add(ms(a.fires_within));
    let fired = readings
        .iter()
        .find(|r| r.at >= start && !r.firing.is_empty());
    let pending_from = readings
        .iter()
        .find(|r| r.at >= start && (r.pending || !r.firing.is_empty()))
        .map(|r| r.at);
    let fire = match fired {
        Some(r) if r.at <= fire_by => Part::Ok(format!(
            "fired {} after the fault began{}",
            fmt_ms(r.at - start),
            pending_from
                .filter(|&p| p < r.at)
                .map_or(String::new(), |p| format!(
                    " (pending from {})",
                    fmt_ms(p - start)
                ))
        )),
        _ => match unknown_in(start, fire_by) {
            Some(&g) => Part::Unknown(format!(
                "whether {shown} fired within {} is unknown ({})",
                fmt_dur(a.fires_within),
                gap_words(g)
            )),
            None => Part::Fail(match fired {
                Some(r) => format!(
                    "{shown} fired {} after the fault on {what} began, later than the {} limit",
                    fmt_ms(r.at - start),
                    fmt_dur(a.fires_within)
                ),
                None => format!(
                    "{shown} never fired after the fault on {what} began at {}{}",
                    fmt_ms(start),
                    match pending_from {
                        Some(p) => format!(" (pending from {}, never firing)", fmt_ms(p)),
                        None => String::new(),
                    }
                ),
            }),
        },
    };

    // After the fault ended: resolved within the limit.
    let resolve = match (a.resolves_within, end, fired) {
        (Some(within), Some(end), Some(fired)) => {
            let from = end.max(fired.at);
            let resolve_by = end.saturating_add(ms(within));
            match readings.iter().find(|r| r.at >= from && r.firing.is_empty()) {
                Some(r) if r.at <= resolve_by => Some(Part::Ok(format!(
                    "resolved {} after the fault ended",
                    fmt_ms(r.at.saturating_sub(end))
                ))),
                resolved => Some(match unknown_in(from, resolve_by) {
                    Some(&g) => Part::Unknown(format!(
                        "whether {shown} resolved within {} is unknown ({})",
                        fmt_dur(within),
                        gap_words(g)
                    )),
                    None => Part::Fail(match resolved {
                        Some(r) => format!(
                            "{shown} resolved {} after the fault on {what} ended, later than the {} limit",
                            fmt_ms(r.at - end),
                            fmt_dur(within)
                        ),
                        None => format!(
                            "{shown} was still firing {} after the fault on {what} ended (limit {})",
                            fmt_ms(readings.last().map_or(0, |r| r.at).saturating_sub(end)),
                            fmt_dur(within)
                        ),
                    }),
                }),
            }
        }
        _ => None,
    };

    let parts: Vec<&Part> = [Some(&before), Some(&fire), resolve.as_ref()]
        .into_iter()
        .flatten()
        .collect();
    let status = if parts.iter().any(|p| matches!(p, Part::Fail(_))) {
        Status::Fail
    } else if parts.iter().any(|p| matches!(p, Part::Unknown(_))) {
        Status::Inconclusive
    } else {
        Status::Pass
    };
    let words = |keep: fn(&Part) -> Option<&String>| -> Vec<String> {
        parts.iter().filter_map(|p| keep(p)).cloned().collect()
    };
    let oks = words(|p| match p {
        Part::Ok(s) => Some(s),
        _ => None,
    });
    let mut problems = words(|p| match p {
        Part::Fail(s) => Some(s),
        _ => None,
    });
    problems.extend(words(|p| match p {
        Part::Unknown(s) => Some(s),
        _ => None,
    }));
    let mut detail = problems.join("; ");
    if !readings.iter().any(|r| r.has_rule) {
        detail = format!(
            "Prometheus at {} has no alerting rule named `{}` (at any of {} polls): it could not fire. {detail}",
            a.prometheus,
            a.name,
            fmt_count(readings.len())
        );
    }
    let polled = format!(
        "{} polls of {}, {} failed",
        fmt_count(polls.len()),
        a.prometheus,
        fmt_count(failed)
    );
    let spans = firing_spans(&readings);
    let firing = match spans.is_empty() {
        true => String::new(),
        false => format!("; firing: {}", spans.join(", ")),
    };
    let detail = match detail.trim() {
        "" => format!("{shown}: {}; {polled}{firing}", oks.join(", ")),
        d => format!("{d} ({polled}{firing})"),
    };
    Finding {
        name: NAME.into(),
        status,
        observed: if oks.is_empty() {
            format!("{shown}: {}", problems.first().map_or("", |s| s.as_str()))
        } else {
            format!("{shown}: {}", oks.join(", "))
        },
        limit,
        detail,
        // Evidence is tracking ids (`mailquake explain`): an alert has none.
        evidence: Vec::new(),
    }
}

/// The matching instances of one successful poll.
fn reading<'a>(poll: &'a AlertPoll, a: &AlertCheck) -> Option<Reading<'a>> {
    let seen = poll.seen.as_ref()?;
    let matching: Vec<&ActiveAlert> = seen
        .active
        .iter()
        .filter(|i| i.name == a.name)
        .filter(|i| a.labels.iter().all(|(k, v)| i.labels.get(k) == Some(v)))
        .collect();
    Some(Reading {
        at: poll.at_ms,
        pending: matching.iter().any(|i| !i.firing),
        firing: matching.into_iter().filter(|i| i.firing).collect(),
        has_rule: seen.rules.contains(&a.name),
    })
}

/// The readings more than `quiet` apart, as (the reading before, the one after): the
/// run's start counts as one, and after the last one the gap is open (`u32::MAX`).
fn gaps(readings: &[Reading], quiet: u32) -> Vec<(u32, u32)> {
    let mut gaps = Vec::new();
    let mut last = 0u32;
    for r in readings {
        if r.at.saturating_sub(last) > quiet {
            gaps.push((last, r.at));
        }
        last = r.at;
    }
    gaps.push((last, u32::MAX));
    gaps
}

/// Each matching label set's firing spans (first to last reading seen firing), for
/// the detail: `Backlog{node="n2"} 31.2s–48.0s`.
fn firing_spans(readings: &[Reading]) -> Vec<String> {
    let mut spans: Vec<(String, u32, u32)> = Vec::new();
    let mut open: Vec<(String, u32, u32)> = Vec::new();
    for r in readings {
        let now: Vec<String> = r.firing.iter().map(|i| labels(i)).collect();
        // Spans that did not fire in this reading are closed.
        let (still, closed): (Vec<_>, Vec<_>) =
            open.drain(..).partition(|(l, _, _)| now.contains(l));
        spans.extend(closed);
        open = still;
        for l in now {
            match open.iter_mut().find(|(o, _, _)| *o == l) {
                Some(span) => span.2 = r.at,
                None => open.push((l, r.at, r.at)),
            }
        }
    }
    spans.extend(open);
    spans.sort_by_key(|s| s.1);
    spans
        .into_iter()
        .take(MAX_EVIDENCE)
        .map(|(l, a, b)| format!("{l} {}–{}", fmt_ms(a), fmt_ms(b)))
        .collect()
}

/// `Backlog{node="n2",severity="page"}` (without `alertname`, and the scrape's `job` and
/// `instance`, which say where it was measured rather than what).
fn labels(i: &ActiveAlert) -> String {
    let pairs: Vec<String> = i
        .labels
        .iter()
        .filter(|(k, _)| !["alertname", "job", "instance"].contains(&k.as_str()))
        .map(|(k, v)| format!("{k}=\"{v}\""))
        .collect();
    format!("{}{{{}}}", i.name, pairs.join(","))
}

#[cfg(test)]
#[path = "alert_tests.rs"]
mod tests;
