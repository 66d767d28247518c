//! `GET /metrics` of the live view: the latest snapshot in the Prometheus text format
//! (version 0.0.4), so a team's Grafana shows a game day beside the cluster's own
//! dashboards (`deploy/grafana/mailquake-live.json` queries these names). [`NAMES`]
//! lists every metric served; a test holds the dashboard to it.

use std::fmt::Write;

use super::figures::{Destination, Snapshot};
use crate::checks::so_far::SoFarState;
use crate::measure::PhaseFigure;

/// Every metric `/metrics` serves.
pub const NAMES: &[&str] = &[
    "mailquake_elapsed_seconds",
    "mailquake_submitted_total",
    "mailquake_accepted_total",
    "mailquake_delivered_total",
    "mailquake_bounced_total",
    "mailquake_backlog_messages",
    "mailquake_oldest_undelivered_seconds",
    "mailquake_delivered_per_second",
    "mailquake_node_queue_messages",
    "mailquake_planned_rate_per_second",
    "mailquake_submitted_rate_per_second",
    "mailquake_shortfall_total",
    "mailquake_latency_seconds",
    "mailquake_fault_in_force",
    "mailquake_check_state",
    "mailquake_phase_latency_seconds",
];

/// A per-destination family: (index in [`NAMES`], type, help, value).
type PerDestination = (usize, &'static str, &'static str, fn(&Destination) -> f64);

const PER_DESTINATION: &[PerDestination] = &[
    (1, "counter", "Messages the generator sent.", |d| {
        d.submitted as f64
    }),
    (2, "counter", "Messages the cluster accepted.", |d| {
        d.accepted as f64
    }),
    (
        3,
        "counter",
        "Messages every recipient of which arrived.",
        |d| d.delivered as f64,
    ),
    (4, "counter", "Messages whose bounce arrived.", |d| {
        d.bounced as f64
    }),
    (
        5,
        "gauge",
        "Accepted, neither delivered nor bounced yet.",
        |d| d.backlog as f64,
    ),
    (
        6,
        "gauge",
        "Age of the oldest undelivered message (0: none).",
        |d| f64::from(d.oldest_ms.unwrap_or(0)) / 1000.0,
    ),
    (7, "gauge", "Messages delivered in the last second.", |d| {
        d.delivered_per_s as f64
    }),
];

/// The text of `/metrics` for `s`.
pub fn render(s: &Snapshot) -> String {
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, samples: Vec<(String, f64)>| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    let dest = |f: fn(&Destination) -> f64| {
        s.destinations
            .iter()
            .map(|d| (format!("{{destination=\"{}\"}}", escape(&d.domain)), f(d)))
            .collect::<Vec<_>>()
    };
    family(
        NAMES[0],
        "gauge",
        "Time since load start.",
        vec![(String::new(), f64::from(s.t_ms) / 1000.0)],
    );
    for (i, kind, help, value) in PER_DESTINATION {
        family(NAMES[*i], kind, help, dest(*value));
    }
    family(
        NAMES[8],
        "gauge",
        "Messages queued on a node (source: probe, or accepted there and not delivered).",
        s.nodes
            .iter()
            .map(|n| {
                (
                    format!("{{node=\"{}\",source=\"{}\"}}", escape(&n.node), n.source),
                    n.queued as f64,
                )
            })
            .collect(),
    );
    family(
        NAMES[9],
        "gauge",
        "Messages a second the load shape calls for now (open model).",
        s.planned_per_s
            .map(|r| (String::new(), r))
            .into_iter()
            .collect(),
    );
    family(
        NAMES[10],
        "gauge",
        "Messages due in the last second that were sent.",
        vec![(String::new(), s.submitted_per_s as f64)],
    );
    family(
        NAMES[11],
        "counter",
        "Messages the shape called for that no session was free to send.",
        vec![(String::new(), s.totals.shortfall as f64)],
    );
    let latency = [
        ("submit", "0.5", s.submit_p50_ms),
        ("submit", "0.99", s.submit_p99_ms),
        ("delivery", "0.5", s.delivery_p50_ms),
        ("delivery", "0.99", s.delivery_p99_ms),
    ];
    family(
        NAMES[12],
        "gauge",
        "Latency of the last second by phase: submit (intended send to 250), delivery (250 to arrival).",
        latency
            .iter()
            .filter_map(|(phase, q, v)| {
                Some((format!("{{phase=\"{phase}\",quantile=\"{q}\"}}"), f64::from((*v)?) / 1000.0))
            })
            .collect(),
    );
    family(
        NAMES[13],
        "gauge",
        "1 for each fault or exec action in force.",
        s.in_force
            .iter()
            .map(|f| (format!("{{fault=\"{}\"}}", escape(f)), 1.0))
            .collect(),
    );
    let states = [
        SoFarState::Pending,
        SoFarState::Holding,
        SoFarState::Failing,
        SoFarState::CannotPass,
    ];
    family(
        NAMES[14],
        "gauge",
        "1 for each check's state so far (pending, holding, failing, cannot_pass).",
        s.checks
            .iter()
            .enumerate()
            .flat_map(|(i, c)| {
                states.iter().map(move |st| {
                    (
                        format!(
                            "{{check=\"{}\",index=\"{i}\",state=\"{}\"}}",
                            escape(&c.name),
                            st.as_str()
                        ),
                        f64::from(u8::from(c.state == *st)),
                    )
                })
            })
            .collect(),
    );
    phase_latency(&mut out, &s.phases);
    out
}

/// The generator's latency per SMTP phase and endpoint since load start, as a
/// `summary`: the 0.5 and 0.99 quantiles, `_sum` and `_count` (so
/// `rate(_sum) / rate(_count)` is the mean over any window).
fn phase_latency(out: &mut String, phases: &[PhaseFigure]) {
    let name = NAMES[15];
    let _ = writeln!(
        out,
        "# HELP {name} The generator's latency per SMTP phase (connect, banner, ehlo, starttls, auth, mail, rcpt, data, dot, quit) and endpoint since load start.\n# TYPE {name} summary"
    );
    for p in phases {
        let labels = format!(
            "phase=\"{}\",endpoint=\"{}\"",
            escape(p.phase),
            escape(&p.endpoint)
        );
        for (q, us) in [("0.5", p.p50_us), ("0.99", p.p99_us)] {
            let _ = writeln!(
                out,
                "{name}{{{labels},quantile=\"{q}\"}} {}",
                us as f64 / 1e6
            );
        }
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", p.sum_us / 1e6);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", p.count);
    }
}

/// A label value: backslash, quote and newline escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::so_far::SoFar;

    #[test]
    fn every_family_is_named_typed_and_labelled() {
        let s = Snapshot {
            t_ms: 2500,
            destinations: vec![Destination {
                domain: "down.test".into(),
                backlog: 7,
                oldest_ms: Some(1500),
                ..Default::default()
            }],
            in_force: vec!["black_hole on remote down".into()],
            checks: vec![SoFar {
                name: "drain".into(),
                state: SoFarState::CannotPass,
                observed: String::new(),
                limit: String::new(),
                detail: String::new(),
            }],
            submit_p99_ms: Some(40),
            phases: vec![PhaseFigure {
                phase: "rcpt",
                endpoint: "127.0.0.1:2525".into(),
                count: 40,
                sum_us: 20_000.0,
                p50_us: 400,
                p99_us: 1_500,
            }],
            ..Default::default()
        };
        let text = render(&s);
        for name in NAMES {
            assert!(text.contains(&format!("# TYPE {name} ")), "{name}");
        }
        for line in [
            "mailquake_elapsed_seconds 2.5",
            "mailquake_backlog_messages{destination=\"down.test\"} 7",
            "mailquake_oldest_undelivered_seconds{destination=\"down.test\"} 1.5",
            "mailquake_fault_in_force{fault=\"black_hole on remote down\"} 1",
            "mailquake_check_state{check=\"drain\",index=\"0\",state=\"cannot_pass\"} 1",
            "mailquake_check_state{check=\"drain\",index=\"0\",state=\"holding\"} 0",
            "mailquake_latency_seconds{phase=\"submit\",quantile=\"0.99\"} 0.04",
            "mailquake_phase_latency_seconds{phase=\"rcpt\",endpoint=\"127.0.0.1:2525\",quantile=\"0.5\"} 0.0004",
            "mailquake_phase_latency_seconds{phase=\"rcpt\",endpoint=\"127.0.0.1:2525\",quantile=\"0.99\"} 0.0015",
            "mailquake_phase_latency_seconds_sum{phase=\"rcpt\",endpoint=\"127.0.0.1:2525\"} 0.02",
            "mailquake_phase_latency_seconds_count{phase=\"rcpt\",endpoint=\"127.0.0.1:2525\"} 40",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        assert_eq!(escape("a\"b\\c"), "a\\\"b\\\\c");
    }
}
