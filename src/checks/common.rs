//! Small pieces every check shares: nearest-rank percentiles, window arithmetic (in ms
//! since load start, the ledger's unit), lookups by name, and the number formats the
//! findings are written in (`312ms`, `4.2s`, `1m 30s`, `99.2%`, `12,000`).
//!
//! Windows are half-open `[start, end)`: a message accepted exactly when a fault heals
//! is not "during" it, and two back-to-back windows never count one instant twice.

use std::time::Duration;

use super::{Finding, Status};
use crate::collector::Ledger;

/// "Never" as a latency: sorts after every real latency, so a message that never
/// arrived counts as the slowest one (and fails a percentile if there are enough of them).
pub const INF: u32 = u32::MAX;

/// At most this many tracking ids are listed as evidence.
pub const MAX_EVIDENCE: usize = 5;

/// A duration in ledger units (ms), saturating at [`INF`].
pub fn ms(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(INF)
}

/// Nearest-rank percentile (`p` in 0..=100): the smallest value such that at least
/// p% of the values are ≤ it. `None` for no values. Reorders `values`.
pub fn percentile(values: &mut [u32], p: f64) -> Option<u32> {
    if values.is_empty() {
        return None;
    }
    let n = values.len();
    // The epsilon keeps p99 of 100 values at rank 99 despite 99.9-style float noise.
    let rank = ((p / 100.0 * n as f64) - 1e-9).ceil().clamp(1.0, n as f64) as usize;
    Some(*values.select_nth_unstable(rank - 1).1)
}

/// Sorts windows and merges the ones that overlap or touch; drops empty ones.
pub fn merge_windows(mut windows: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    windows.retain(|(a, b)| a < b);
    windows.sort_unstable();
    let mut merged: Vec<(u32, u32)> = Vec::with_capacity(windows.len());
    for (a, b) in windows {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    merged
}

/// Whether `t` falls in one of the half-open windows.
pub fn in_windows(windows: &[(u32, u32)], t: u32) -> bool {
    windows.iter().any(|&(a, b)| a <= t && t < b)
}

/// Index of a domain of the ledger by name (case-insensitive, like the ledger interns).
pub fn find_domain(ledger: &Ledger, name: &str) -> Option<u16> {
    ledger
        .domains
        .iter()
        .position(|d| d.eq_ignore_ascii_case(name))
        .map(|i| i as u16)
}

/// Tracking ids of the first [`MAX_EVIDENCE`] sequence numbers.
pub fn evidence(ledger: &Ledger, seqs: impl IntoIterator<Item = usize>) -> Vec<String> {
    seqs.into_iter()
        .take(MAX_EVIDENCE)
        .map(|s| ledger.tracking_id(s))
        .collect()
}

/// A finding that could not be judged for lack of data (fails the gate).
pub fn inconclusive(name: &str, limit: String, detail: String) -> Finding {
    Finding {
        name: name.to_string(),
        status: Status::Inconclusive,
        observed: "no data".to_string(),
        limit,
        detail,
        evidence: Vec::new(),
    }
}

/// `312ms`, `4.2s`, `1m 30s`, `2h 5m`; [`INF`] is `never`.
pub fn fmt_ms(ms: u32) -> String {
    if ms == INF {
        return "never".to_string();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let tenths = (u64::from(ms) + 50) / 100;
    if tenths < 600 {
        return if tenths % 10 == 0 {
            format!("{}s", tenths / 10)
        } else {
            format!("{}.{}s", tenths / 10, tenths % 10)
        };
    }
    let secs = (u64::from(ms) + 500) / 1000;
    if secs < 3600 {
        let (m, s) = (secs / 60, secs % 60);
        return if s == 0 {
            format!("{m}m")
        } else {
            format!("{m}m {s}s")
        };
    }
    let mins = (secs + 30) / 60;
    let (h, m) = (mins / 60, mins % 60);
    if m == 0 {
        format!("{h}h")
    } else {
        format!("{h}h {m}m")
    }
}

/// [`fmt_ms`] for a `Duration` (limits from the plan).
pub fn fmt_dur(d: Duration) -> String {
    fmt_ms(ms(d))
}

/// A ratio (0..=1) as a percentage with at most one decimal: `99.2%`, `90%`. Never
/// rounds a shortfall up to `100%` nor a trickle down to `0%`, which would read as a lie.
pub fn fmt_pct(ratio: f64) -> String {
    let mut tenths = (ratio * 1000.0).round();
    if tenths >= 1000.0 && ratio < 1.0 {
        tenths = 999.0;
    } else if tenths <= 0.0 && ratio > 0.0 {
        tenths = 1.0;
    }
    let t = tenths as i64;
    if t % 10 == 0 {
        format!("{}%", t / 10)
    } else {
        format!("{}.{}%", t / 10, (t % 10).abs())
    }
}

/// `12,000` (any unsigned integer: the reports count in `u64`, the checks in `usize`).
pub fn fmt_count(n: impl std::fmt::Display) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `p99`, `p99.9`, `p50`.
pub fn fmt_pctl(p: f64) -> String {
    format!("p{p}")
}

/// How far over a limit a value is: `8.2× the 5s limit` (or `over the 0ms limit`).
pub fn fmt_over(value: u32, limit: u32) -> String {
    if limit == 0 || value == INF {
        format!("over the {} limit", fmt_ms(limit))
    } else {
        format!(
            "{:.1}× the {} limit",
            f64::from(value) / f64::from(limit),
            fmt_ms(limit)
        )
    }
}

/// `30s–1m 30s, 2m–3m`.
pub fn fmt_windows(windows: &[(u32, u32)]) -> String {
    windows
        .iter()
        .map(|&(a, b)| format!("{}–{}", fmt_ms(a), fmt_ms(b)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let hundred: Vec<u32> = (1..=100).collect();
        let cases: &[(&[u32], f64, Option<u32>)] = &[
            (&[], 99.0, None),
            (&[7], 99.0, Some(7)),
            (&[7], 0.0, Some(7)),
            (&hundred, 99.0, Some(99)),
            (&hundred, 50.0, Some(50)),
            (&hundred, 100.0, Some(100)),
            (&hundred, 99.9, Some(100)),
            (&[5, 1, 3, INF], 75.0, Some(5)),
            (&[5, 1, 3, INF], 76.0, Some(INF)),
        ];
        for (values, p, want) in cases {
            let mut v = values.to_vec();
            assert_eq!(percentile(&mut v, *p), *want, "p{p} of {values:?}");
        }
    }

    #[test]
    fn windows_merge_and_contain() {
        type Windows = &'static [(u32, u32)];
        let cases: &[(Windows, Windows)] = &[
            (&[], &[]),
            (&[(5, 5)], &[]),
            (&[(30, 60), (10, 20)], &[(10, 20), (30, 60)]),
            (&[(10, 40), (30, 60)], &[(10, 60)]),
            (&[(10, 30), (30, 60)], &[(10, 60)]),
            (&[(10, 100), (20, 30)], &[(10, 100)]),
        ];
        for (input, want) in cases {
            assert_eq!(merge_windows(input.to_vec()), want.to_vec(), "{input:?}");
        }
        let w = [(10, 20)];
        assert!(!in_windows(&w, 9));
        assert!(in_windows(&w, 10));
        assert!(in_windows(&w, 19));
        assert!(!in_windows(&w, 20));
    }

    #[test]
    fn formats() {
        let durations = [
            (0, "0ms"),
            (312, "312ms"),
            (1000, "1s"),
            (4200, "4.2s"),
            (4249, "4.2s"),
            (59_960, "1m"),
            (90_000, "1m 30s"),
            (3_600_000, "1h"),
            (7_500_000, "2h 5m"),
            (INF, "never"),
        ];
        for (ms, want) in durations {
            assert_eq!(fmt_ms(ms), want);
        }
        let pcts = [
            (0.9, "90%"),
            (0.992, "99.2%"),
            (1.0, "100%"),
            (0.99999, "99.9%"),
            (0.00001, "0.1%"),
            (0.0, "0%"),
        ];
        for (r, want) in pcts {
            assert_eq!(fmt_pct(r), want);
        }
        for (n, want) in [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (5_300, "5,300"),
            (1_234_567, "1,234,567"),
        ] {
            assert_eq!(fmt_count(n), want);
        }
        assert_eq!(fmt_pctl(99.0), "p99");
        assert_eq!(fmt_pctl(99.9), "p99.9");
        assert_eq!(fmt_over(41_200, 5_000), "8.2× the 5s limit");
        assert_eq!(fmt_windows(&[(30_000, 90_000)]), "30s–1m 30s");
    }
}
