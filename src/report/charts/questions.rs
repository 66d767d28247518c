//! The question each chart answers, worded from the scenario: which destinations are
//! healthy, which one misbehaves and how, which limit applies. A game-day room reads
//! the question first, then the chart.

use std::time::Duration;

use crate::scenario::{Check, FaultSubject, NodeFault, Plan};

use super::axes::fmt_latency;

/// `refuse` → `was refusing connections`. Kinds this file does not know yet (faults are
/// added in their own crate) still read correctly.
fn doing(kind: &str) -> String {
    match kind {
        "refuse" => "was refusing connections".into(),
        "reset" => "was resetting connections".into(),
        "blackhole" => "was black-holing connections".into(),
        "unreachable" => "was unreachable".into(),
        "tarpit" => "was tarpitting".into(),
        "reply" => "was answering with errors".into(),
        "disconnect" => "was dropping connections".into(),
        "greylist" => "was greylisting".into(),
        "rate_limit" => "was rate-limiting".into(),
        "tls" => "was failing TLS".into(),
        other => format!("was under a `{other}` fault"),
    }
}

/// `a`, `a and b`, `a, b and c`.
pub fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The healthy domains: the isolation check's, else every domain of the mix not served
/// by a faulted remote.
pub fn healthy(plan: &Plan) -> Vec<String> {
    if let Some(Check::Isolation { healthy, .. }) = plan
        .checks
        .iter()
        .find(|c| matches!(c, Check::Isolation { .. }))
    {
        return healthy.clone();
    }
    let faulted = faulted_domains(plan);
    plan.load
        .mix
        .iter()
        .map(|(d, _)| d.clone())
        .filter(|d| !faulted.iter().any(|f| f.eq_ignore_ascii_case(d)))
        .collect()
}

/// Domains served by a remote that has a fault on the timeline.
fn faulted_domains(plan: &Plan) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in &plan.faults {
        if let FaultSubject::Remote { remote, .. } = &f.subject {
            if let Some(spec) = plan.remotes.iter().find(|r| &r.name == remote) {
                for d in &spec.domains {
                    if !out.contains(d) {
                        out.push(d.clone());
                    }
                }
            }
        }
    }
    out
}

fn stuck_nodes(plan: &Plan) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in &plan.faults {
        if let FaultSubject::Node {
            node,
            fault: NodeFault::Stuck,
        } = &f.subject
        {
            if !out.contains(node) {
                out.push(node.clone());
            }
        }
    }
    out
}

/// Who is healthy, in a phrase: `ok.test and other.test`, or `mail` when unknown or
/// too many to list.
fn healthy_phrase(plan: &Plan) -> String {
    let h = healthy(plan);
    if h.is_empty() || h.len() > 3 {
        "healthy destinations".into()
    } else {
        and_list(&h)
    }
}

/// "while down.test was refusing connections", or "while the faults were in force".
fn while_phrase(plan: &Plan) -> Option<String> {
    let kinds: Vec<&str> = plan
        .faults
        .iter()
        .filter_map(|f| match &f.subject {
            FaultSubject::Remote { fault, .. } => Some(fault.kind()),
            _ => None,
        })
        .collect();
    let domains = faulted_domains(plan);
    match (kinds.first(), domains.len()) {
        (None, _) => None,
        (Some(k), 1..=2) if kinds.iter().all(|x| x == k) => {
            Some(format!("while {} {}", and_list(&domains), doing(k)))
        }
        _ => Some("while the faults were in force".into()),
    }
}

pub fn flow(plan: &Plan) -> String {
    let stuck = stuck_nodes(plan);
    match while_phrase(plan) {
        Some(w) => format!("Did {} keep flowing {w}?", healthy_phrase(plan)),
        None if !stuck.is_empty() => format!(
            "Did mail keep flowing while {} {} stuck?",
            node_phrase(&stuck),
            if stuck.len() == 1 { "was" } else { "were" }
        ),
        None => "Did mail flow steadily to every destination?".into(),
    }
}

fn node_phrase(nodes: &[String]) -> String {
    format!(
        "node{} {}",
        if nodes.len() == 1 { "" } else { "s" },
        and_list(nodes)
    )
}

/// The isolation limit: (percentile, limit), if the plan has the check.
pub fn isolation_limit(plan: &Plan) -> Option<(f64, Duration)> {
    plan.checks.iter().find_map(|c| match c {
        Check::Isolation {
            percentile, limit, ..
        } => Some((*percentile, *limit)),
        _ => None,
    })
}

pub fn latency(plan: &Plan) -> String {
    match (isolation_limit(plan), while_phrase(plan)) {
        (Some((p, limit)), Some(w)) => format!(
            "Did {} stay under p{p} {} {w}?",
            healthy_phrase(plan),
            fmt_latency(limit.as_millis() as u32)
        ),
        _ => "How long did mail take to arrive at each destination?".into(),
    }
}

pub fn backlog(plan: &Plan) -> String {
    let drain = plan.checks.iter().find_map(|c| match c {
        Check::Drain { domain, within } => Some((domain.clone(), *within)),
        _ => None,
    });
    let stuck = stuck_nodes(plan);
    match drain {
        Some((domain, within)) => format!(
            "Did the backlog for {domain} drain within {} of the fault's end?",
            fmt_latency(within.as_millis() as u32)
        ),
        None if !stuck.is_empty() => {
            format!("How much mail was stranded behind {}?", node_phrase(&stuck))
        }
        None => "How much accepted mail was waiting for delivery, and did it drain?".into(),
    }
}

/// The acceptance check's submit-latency limit: (percentile, limit), if it sets one.
pub fn acceptance_limit(plan: &Plan) -> Option<(f64, Duration)> {
    plan.checks.iter().find_map(|c| match c {
        Check::Acceptance {
            percentile,
            limit: Some(limit),
            ..
        } => Some((*percentile, *limit)),
        _ => None,
    })
}

pub fn submit(plan: &Plan) -> String {
    match acceptance_limit(plan) {
        Some((p, limit)) => format!(
            "Did the cluster keep accepting mail within p{p} {}?",
            fmt_latency(limit.as_millis() as u32)
        ),
        None => "Did the cluster keep accepting mail promptly?".into(),
    }
}

pub fn nodes(plan: &Plan) -> String {
    let stuck = stuck_nodes(plan);
    if stuck.is_empty() {
        "Did every node deliver what it accepted?".into()
    } else {
        format!(
            "Did every node deliver what it accepted, or did {} get stuck?",
            node_phrase(&stuck)
        )
    }
}

pub const PHASES: &str = "Which SMTP phase made submission slow?";
pub const RATE: &str = "Did the generator send the load as planned?";
pub const HELD: &str = "Did any node hold mail it accepted?";
pub const QUEUE_DEPTH: &str = "Did any node's queue back up, and did it come back down?";
pub const ATTEMPTS: &str = "How many delivery attempts did messages need?";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_verbs() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(and_list(&s(&["a"])), "a");
        assert_eq!(and_list(&s(&["a", "b", "c"])), "a, b and c");
        assert_eq!(doing("blackhole"), "was black-holing connections");
        assert_eq!(doing("new_one"), "was under a `new_one` fault");
    }
}
