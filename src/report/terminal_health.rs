//! Two lines of the terminal summary: delivery latency per destination (the healthy ones
//! are the point of the test) and the faults of the timeline with how often the remotes
//! say faults fired — the same figures as `summary.json`'s `domains[]`, `faults[]` and
//! `remotes.*.faults_fired`.

use crate::checks::{fmt_count, fmt_ms};

use super::summary::{DomainJson, FaultJson};
use super::Summary;

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

/// `remote down refuse 1s–3s · node n2 stuck 0s–end · fired: down 234`, or `None`
/// without faults. Fired counts are per remote (a remote counts every time any fault
/// acted on a session); a remote-fault window that fired 0 times says `(never fired)`.
pub fn faults_line(s: &Summary) -> Option<String> {
    if s.faults.is_empty() {
        return None;
    }
    let secs = |x: f64| {
        if x == 0.0 {
            "0s".to_string()
        } else {
            fmt_ms((x * 1000.0).round() as u32)
        }
    };
    let mut parts: Vec<String> = s
        .faults
        .iter()
        .map(|f: &FaultJson| {
            let to = f.for_s.map_or("end".to_string(), |d| secs(f.at_s + d));
            // A remote-fault window that never fired judged nothing: said here, where the
            // window is.
            let never = if f.fired == Some(0) {
                " (never fired)"
            } else {
                ""
            };
            format!("{} {} {}–{to}{never}", f.subject, f.fault, secs(f.at_s))
        })
        .collect();
    let fired: Vec<String> = s
        .remotes
        .iter()
        .filter(|(_, c)| c.faults_fired > 0)
        .map(|(name, c)| format!("{name} {}", fmt_count(c.faults_fired)))
        .collect();
    if !fired.is_empty() {
        parts.push(format!("fired: {}", fired.join(", ")));
    }
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
}
