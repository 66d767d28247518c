//! From FAIL to the fix: the evidence a run collects from the target's nodes at its end
//! (`collect.rs`: Postfix settings, maillog delays; `shape.rs`: the queue at its worst
//! moment; `backlog.rs`: what was queued for a faulted destination when it healed and
//! when it arrived; the embedded nodes' worker occupancy) and the pure rules that turn it into
//! findings a person can act on (`rules.rs`). Each finding names the setting, its value,
//! the measured evidence and the Postfix documentation of the parameter; none is made
//! without evidence. The evidence is saved in `run.json` (`evidence`), so a re-render
//! explains the same; the findings are shown in summary.json (`diagnosis`) and
//! report.html under the failed checks.

pub mod backlog;
mod collect;
pub mod maillog;
mod rules;
pub mod shape;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use collect::Collection;
pub use rules::explain;

/// Everything measured on the nodes for the explanation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Destinations served by a remote that had a fault in the plan.
    pub faulted: Vec<String>,
    /// The other destinations of the mix (the isolation checks' healthy ones).
    pub healthy: Vec<String>,
    /// One entry per probed Postfix node.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub postfix: Vec<PostfixNode>,
    /// One entry per embedded node: its delivery workers' occupancy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub embedded: Vec<WorkerNode>,
}

/// One Postfix node: its delivery settings, its queue at the worst moment, and where
/// delivery time went.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PostfixNode {
    /// `myhostname`.
    pub node: String,
    pub config_dir: String,
    /// `postconf -n`: every main.cf setting that is not the default.
    pub postconf_n: Vec<String>,
    /// Effective values (`postconf -x`) of the parameters that decide isolation, and the
    /// smtp process limit from master.cf under [`SMTP_PROCESS_LIMIT`].
    pub settings: BTreeMap<String, String>,
    /// The node's queue when it held the most mail (probe samples and the ledger).
    pub queue: Option<shape::QueueShape>,
    /// Per destination, from the node's maillog lines written during the run.
    pub deliveries: Vec<maillog::DomainDelays>,
    /// Per drain check: the node's backlog for its destination at the heal, and when
    /// it arrived (the ledger). Absent in evidence recorded before it was collected.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backlog: Vec<backlog::Backlog>,
    /// What could not be collected, one line each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

/// The key of the smtp(8) process limit in [`PostfixNode::settings`].
pub const SMTP_PROCESS_LIMIT: &str = "master.cf smtp/unix process_limit";

/// The main.cf parameters read for every node (effective values).
pub const PARAMETERS: [&str; 17] = [
    "smtp_connect_timeout",
    "smtp_helo_timeout",
    "default_destination_concurrency_limit",
    "smtp_destination_concurrency_limit",
    "initial_destination_concurrency",
    "smtp_initial_destination_concurrency",
    "default_destination_concurrency_failed_cohort_limit",
    "smtp_destination_concurrency_failed_cohort_limit",
    "default_destination_concurrency_negative_feedback",
    "smtp_destination_concurrency_negative_feedback",
    "default_destination_concurrency_positive_feedback",
    "smtp_destination_concurrency_positive_feedback",
    "default_process_limit",
    "minimal_backoff_time",
    "maximal_backoff_time",
    "queue_run_delay",
    "maillog_file",
];

/// One embedded node's delivery workers at their busiest for a faulted destination.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkerNode {
    pub node: String,
    /// `shared` or `per-destination`.
    pub design: String,
    pub workers: u32,
    /// Per destination: most workers busy with it at once.
    pub peak_busy: BTreeMap<String, u32>,
}

/// One finding: why the cluster behaved as it did, from a rule over the evidence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// The rule that made it (`pool_taken`, `long_setup`, `dead_detection_off`,
    /// `backoff_past_drain`, `shared_pool_taken`).
    pub rule: String,
    pub node: String,
    /// The faulted destination it is about.
    pub destination: String,
    /// One sentence a person can act on.
    pub text: String,
    /// The settings it names, with their values and documentation.
    pub settings: Vec<Setting>,
    /// The measured facts it rests on.
    pub evidence: Vec<String>,
}

/// A setting a finding names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Setting {
    /// `smtp_helo_timeout`, or `master.cf smtp/unix process_limit`.
    pub name: String,
    pub value: String,
    /// The documentation's name for it (`transport_destination_concurrency_limit` for
    /// `smtp_destination_concurrency_limit`) and its address.
    pub doc_name: String,
    pub doc: String,
}

impl Setting {
    /// A Postfix parameter: documented in postconf(5) under its own name, or under
    /// `transport_…` for the per-transport ones (`smtp_destination_…`).
    pub fn postfix(name: &str, value: &str) -> Setting {
        let doc_name = match name {
            SMTP_PROCESS_LIMIT => "default_process_limit".to_string(),
            n if n.starts_with("smtp_destination_") || n.starts_with("smtp_initial_") => {
                n.replacen("smtp_", "transport_", 1)
            }
            n => n.to_string(),
        };
        Setting {
            name: name.to_string(),
            value: value.to_string(),
            doc: format!("https://www.postfix.org/postconf.5.html#{doc_name}"),
            doc_name,
        }
    }
}

/// One line per (rule, destination), in the findings' order: the first node's text, and
/// the other nodes where the same rule fired (what a failed check shows).
pub fn condensed(findings: &[Explanation]) -> Vec<String> {
    let mut out: Vec<(&str, &str, String, Vec<&str>)> = Vec::new();
    for f in findings {
        match out
            .iter_mut()
            .find(|(rule, dest, ..)| *rule == f.rule && *dest == f.destination)
        {
            Some((.., others)) => others.push(&f.node),
            None => out.push((&f.rule, &f.destination, f.text.clone(), Vec::new())),
        }
    }
    out.into_iter()
        .map(|(.., text, others)| match others.is_empty() {
            true => text,
            false => format!("{text} (the same on {})", others.join(", ")),
        })
        .collect()
}

/// The explanations of a run, for `summary.json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Diagnosis {
    pub findings: Vec<Explanation>,
    pub evidence: Evidence,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn condensed_names_the_other_nodes_once_per_rule_and_destination() {
        let f = |rule: &str, node: &str, dest: &str| Explanation {
            rule: rule.into(),
            node: node.into(),
            destination: dest.into(),
            text: format!("{rule} on {node} for {dest}"),
            settings: Vec::new(),
            evidence: Vec::new(),
        };
        let got = condensed(&[
            f("a", "n1", "d"),
            f("b", "n1", "d"),
            f("a", "n2", "d"),
            f("a", "n3", "d"),
            f("a", "n1", "e"),
        ]);
        assert_eq!(
            got,
            [
                "a on n1 for d (the same on n2, n3)",
                "b on n1 for d",
                "a on n1 for e"
            ]
        );
        assert!(condensed(&[]).is_empty());
    }
}
