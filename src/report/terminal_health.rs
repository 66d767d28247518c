//! Two lines of the terminal summary: delivery latency per destination (the healthy ones
//! are the point of the test) and the faults of the timeline with how often the remotes
//! say faults fired — the same figures as `summary.json`'s `domains[]`, `faults[]` and
//! `remotes.*.faults_fired`.

use crate::checks::{fmt_count, fmt_ms};

use super::summary::{DomainJson, FaultJson};

/// `ok.test p50 120ms p99 1.2s (540 delivered) · down.test no deliveries`, or `None`
/// without domains.
pub fn latency_line(domains: &[DomainJson]) -> Option<String> {
    if domains.is_empty() {
        return None;
    }
    let parts: Vec<String> = domains
        .iter()
        .map(|d| match (d.latency_p50_ms, d.latency_p99_ms) {
            (Some(p50), Some(p99)) => format!(
                "{} p50 {} p99 {} ({} delivered)",
                d.name,
                fmt_ms(p50),
                fmt_ms(p99),
                fmt_count(d.delivered)
            ),
            _ => format!("{} no deliveries", d.name),
        })
        .collect();
    Some(parts.join(" · "))
}

/// `remote down refuse 1s–3s fired 234 · node n2 stuck 0s–end`, or `None` without
/// faults: each fault with how often it acted in its window (remote faults of the plan;
/// `fired 0 (never acted)` when it judged nothing), and who set a fault beyond the plan.
pub fn faults_line(faults: &[FaultJson]) -> Option<String> {
    if faults.is_empty() {
        return None;
    }
    let secs = |x: f64| {
        if x == 0.0 {
            "0s".to_string()
        } else {
            fmt_ms((x * 1000.0).round() as u32)
        }
    };
    let parts: Vec<String> = faults
        .iter()
        .map(|f: &FaultJson| {
            let to = f.for_s.map_or("end".to_string(), |d| secs(f.at_s + d));
            let mut text = format!("{} {} {}–{to}", f.subject, f.fault, secs(f.at_s));
            match f.fired {
                Some(0) => text += " fired 0 (never acted)",
                Some(n) => text += &format!(" fired {}", fmt_count(n)),
                None => {}
            }
            if f.source != "scenario" {
                text += &format!(" (set by {})", f.source);
            }
            text
        })
        .collect();
    Some(parts.join(" · "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domain(name: &str, delivered: u64, p: Option<(u32, u32)>) -> DomainJson {
        DomainJson {
            name: name.into(),
            accepted: delivered,
            delivered,
            bounced: 0,
            latency_p50_ms: p.map(|p| p.0),
            latency_p99_ms: p.map(|p| p.1),
            latency_max_ms: p.map(|p| p.1),
        }
    }

    #[test]
    fn latency_per_destination() {
        let cases: Vec<(Vec<DomainJson>, Option<&str>)> = vec![
            (vec![], None),
            (
                vec![
                    domain("ok.test", 1_540, Some((120, 1_200))),
                    domain("down.test", 0, None),
                ],
                Some("ok.test p50 120ms p99 1.2s (1,540 delivered) · down.test no deliveries"),
            ),
        ];
        for (domains, want) in cases {
            assert_eq!(latency_line(&domains).as_deref(), want);
        }
    }

    fn fault(
        subject: &str,
        at_s: f64,
        for_s: Option<f64>,
        fired: Option<u64>,
        source: &str,
    ) -> FaultJson {
        FaultJson {
            subject: subject.into(),
            fault: "refuse".into(),
            at_s,
            for_s,
            fired,
            source: source.into(),
        }
    }

    /// Each fault with its window, how often it fired (remote faults of the plan), and
    /// who set one beyond the plan.
    #[test]
    fn faults_with_how_often_each_fired() {
        let cases: Vec<(Vec<FaultJson>, Option<&str>)> = vec![
            (vec![], None),
            (
                vec![
                    fault("remote down", 10.0, Some(20.0), Some(1_234), "scenario"),
                    fault("remote tls", 0.0, Some(5.0), Some(0), "scenario"),
                    fault("node n2", 5.0, None, None, "scenario"),
                    fault("remote slow", 12.5, Some(2.0), None, "api"),
                ],
                Some("remote down refuse 10s–30s fired 1,234 · remote tls refuse 0s–5s fired 0 (never acted) · node n2 refuse 5s–end · remote slow refuse 12.5s–14.5s (set by api)"),
            ),
        ];
        for (faults, want) in cases {
            assert_eq!(faults_line(&faults).as_deref(), want);
        }
    }
}
