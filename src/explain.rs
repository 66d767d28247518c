//! `mailquake explain DIR ID`: one message's life, read back from a run's folder —
//! its ledger record (`ledger.bin`), its entries in the attempt log (`attempts.bin`) and
//! the scenario's fault windows (`scenario.yaml`) — printed in time order, times since
//! load start. This is how an evidence id of a report is looked up.

use std::path::Path;
use std::process::ExitCode;

use crate::checks::fmt_ms;
use crate::collector::attempts::{self, Attempt, AttemptLog, AttemptsHeader, Kind, NONE_U8};
use crate::collector::ledger::{flag, MessageRecord, NEVER, NO_NODE};
use crate::collector::Ledger;
use crate::report::saved::{self, SavedRun};
use crate::scenario::{FaultSubject, Plan};
use crate::tracking::parse_tracking;

/// Exit 0 and the life on stdout; exit 2 and one line on stderr.
pub fn main(dir: &Path, id: &str) -> ExitCode {
    match explain(dir, id) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(line) => {
            eprintln!("mailquake explain: {line}");
            ExitCode::from(2)
        }
    }
}

/// The life of message `id` in the run saved in `dir`, or a one-line reason.
pub fn explain(dir: &Path, id: &str) -> Result<String, String> {
    let run = saved::load(dir).map_err(|e| e.to_string())?;
    let seq = find(&run.ledger, id)?;
    let path = dir.join(attempts::FILE);
    let log = match AttemptLog::read(&path) {
        Ok(log) => Some(log),
        // Folders written before the attempt log existed: the ledger record alone.
        Err(_) if !path.exists() => None,
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    Ok(life(&run, seq, log.as_ref()))
}

/// The sequence number `id` names in this run: `<run>.<seq>`, or a bare `<seq>`.
fn find(ledger: &Ledger, id: &str) -> Result<usize, String> {
    let n = ledger.records.len();
    let range = match n {
        0 => "no messages".to_string(),
        _ => format!("{} to {}", ledger.tracking_id(0), ledger.tracking_id(n - 1)),
    };
    let unknown = || format!("unknown id `{id}`: run {} has {range}", ledger.run_id);
    let seq = match id.trim().parse::<u64>() {
        Ok(seq) => seq,
        Err(_) => match parse_tracking(id) {
            Some((run, seq)) if run == ledger.run_id => seq,
            _ => return Err(unknown()),
        },
    };
    match ledger.records.get(seq as usize) {
        Some(r) if r.is(flag::SUBMITTED) => Ok(seq as usize),
        _ => Err(unknown()),
    }
}

/// "+12.345s": ms since load start, as the timeline is read.
fn at(ms: u32) -> String {
    format!("+{}.{:03}s", ms / 1000, ms % 1000)
}

fn life(run: &SavedRun, seq: usize, log: Option<&(AttemptsHeader, AttemptLog)>) -> String {
    let ledger = &run.ledger;
    let r = &ledger.records[seq];
    let domain = ledger.domain_name(r.domain);
    let node = |i: u8| {
        if i == NO_NODE {
            "an unknown node".to_string()
        } else {
            ledger.node_name(i).to_string()
        }
    };
    let mut out = format!(
        "message {} to {domain} ({} recipient{}), run {} of {}\n",
        ledger.tracking_id(seq),
        r.rcpts,
        if r.rcpts == 1 { "" } else { "s" },
        ledger.run_id,
        run.plan.name
    );
    // (time, order among equal times, line)
    let mut lines: Vec<(u32, u8, String)> = vec![(r.intended_ms, 0, "submitted".to_string())];
    if r.accepted() {
        lines.push((
            r.accepted_ms,
            1,
            format!("accepted by {}", node(r.accepted_node)),
        ));
    }
    let mut rcpt_seen = 0u32;
    if let Some((_, log)) = log {
        for a in log.of(seq as u32) {
            if a.kind == Kind::Rcpt {
                rcpt_seen += 1;
            }
            lines.push((a.at_ms, 2, entry(ledger, log, a)));
        }
    }
    if r.delivered() {
        let after = r
            .delivery_latency_ms()
            .map(|l| format!(", {} after acceptance", fmt_ms(l)))
            .unwrap_or_default();
        lines.push((
            r.delivered_ms,
            3,
            format!("delivered: every recipient arrived{after}"),
        ));
    }
    if r.bounced() && log.is_none() {
        lines.push((r.bounced_ms, 3, "its bounce arrived".to_string()));
    }
    lines.sort_by_key(|&(t, o, _)| (t, o));
    for (t, _, line) in &lines {
        out += &format!("  {:>10}  {line}\n", at(*t));
    }
    out += &format!("  {}\n", outcome(r, ledger.end_ms));
    match log {
        None => out += "  (no attempts.bin in this folder: delivery attempts were not recorded)\n",
        Some((header, log)) => {
            let missing = u32::from(r.attempts).saturating_sub(rcpt_seen);
            if missing > 0 {
                out += &format!(
                    "  ({missing} more RCPT attempts were seen but not kept: the log keeps the first {} entries of a message)\n",
                    header.per_message_cap
                );
            }
            if log.dropped_total > 0 {
                out += &format!(
                    "  (the attempt log was full: {} entries of the run were not kept)\n",
                    log.dropped_total
                );
            }
        }
    }
    out += &crossed(&run.plan, r, domain, ledger.end_ms);
    out
}

/// One attempt-log entry in words.
fn entry(ledger: &Ledger, log: &AttemptLog, a: &Attempt) -> String {
    let remote = log.remote_name(a.remote);
    let rcpt = if a.rcpt == NONE_U8 {
        String::new()
    } else {
        format!(" recipient {}", a.rcpt)
    };
    match a.kind {
        Kind::NotAccepted if a.code == 0 => {
            format!("not accepted: no reply at {}", log.label(a.label))
        }
        Kind::NotAccepted => format!("not accepted: {} at {}", a.code, log.label(a.label)),
        Kind::Rcpt => format!("remote {remote}:{rcpt} RCPT answered {}", a.code),
        Kind::Arrived => {
            let by = if a.node == NO_NODE {
                String::new()
            } else {
                format!(", relayed by {}", ledger.node_name(a.node))
            };
            format!("remote {remote}:{rcpt} arrived (250 at the final dot){by}")
        }
        Kind::Rejected => format!(
            "remote {remote}:{rcpt} rejected {} at {}",
            a.code,
            log.label(a.label)
        ),
        Kind::FaultFired => format!("remote {remote}:{rcpt} fault {}", log.label(a.label)),
        Kind::Bounced => format!("its bounce arrived at remote {remote}"),
    }
}

/// How its life ended, or that it had not when measurement stopped.
fn outcome(r: &MessageRecord, end_ms: u32) -> String {
    if r.delivered() {
        "outcome: delivered".to_string()
    } else if r.bounced() {
        "outcome: bounced".to_string()
    } else if r.accepted() {
        let partly = if r.partly_delivered() {
            " (some recipients arrived)"
        } else {
            ""
        };
        format!(
            "outcome: still queued when measurement stopped at {}{partly}",
            at(end_ms)
        )
    } else if r.is(flag::REJECTED) {
        "outcome: not accepted (the cluster answered 4xx/5xx)".to_string()
    } else if r.is(flag::SUBMIT_FAILED) {
        "outcome: not accepted (no reply: refused, timed out or closed)".to_string()
    } else {
        "outcome: never submitted (the run ended first)".to_string()
    }
}

/// The fault windows its life (submitted → delivered, bounced or end of measurement)
/// overlapped.
fn crossed(plan: &Plan, r: &MessageRecord, domain: &str, end_ms: u32) -> String {
    let last = [r.delivered_ms, r.bounced_ms]
        .into_iter()
        .filter(|&t| t != NEVER)
        .max()
        .unwrap_or(end_ms);
    let from = r.intended_ms;
    let dest = plan.remote_for(domain).map(|s| s.name.as_str());
    let ms = |d: std::time::Duration| u32::try_from(d.as_millis()).unwrap_or(NEVER);
    // Fault times as the scenario writes them (`0s`, `1m 30s`).
    let when = |t: u32| if t == 0 { "0s".to_string() } else { fmt_ms(t) };
    let hit: Vec<String> = plan
        .faults
        .iter()
        .filter(|f| {
            let (a, b) = (ms(f.at), f.end().map_or(end_ms.max(last), ms));
            a <= last && b > from
        })
        .map(|f| {
            let to = f.end().map_or("the end".to_string(), |e| when(ms(e)));
            let its = match &f.subject {
                FaultSubject::Remote { remote, .. } if Some(remote.as_str()) == dest => {
                    " (its destination)"
                }
                _ => "",
            };
            format!(
                "  {} {} {}–{to}{its}\n",
                f.subject.target(),
                f.subject.kind(),
                when(ms(f.at))
            )
        })
        .collect();
    let span = format!("its life {} – {}", at(from), at(last));
    if hit.is_empty() {
        format!("fault windows crossed ({span}): none\n")
    } else {
        format!("fault windows crossed ({span}):\n{}", hit.concat())
    }
}
