//! Time series derived from the ledger for the reports: per-bucket counts per domain,
//! mail outstanding at each bucket's end, latency percentiles per bucket, attempts per
//! message, and the faults in force. Pure arithmetic over the records (no judgement), so
//! the CSV and the charts of a re-render equal those of the run.
//!
//! A bucket `i` of width `w` covers `[i·w, (i+1)·w)` ms since load start. Submissions
//! count at their *intended* time (the open-model schedule: the only submit time the
//! ledger keeps), acceptance, delivery and bounces at the time they happened.

use crate::collector::ledger::{flag, NEVER};
use crate::collector::Ledger;
use crate::scenario::FaultWindow;

use super::samples::PhaseLatency;

/// Bucket widths the charts pick from, in seconds: round numbers people read easily.
const WIDTHS_S: [u32; 14] = [
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200,
];

/// How a run's time span is cut into equal buckets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Buckets {
    pub width_ms: u32,
    pub count: usize,
}

impl Buckets {
    /// Buckets of `width_ms` covering `0..=end_ms`.
    pub fn new(width_ms: u32, end_ms: u32) -> Self {
        let width_ms = width_ms.max(1);
        Buckets {
            width_ms,
            count: (end_ms / width_ms) as usize + 1,
        }
    }

    /// The narrowest round width that cuts `0..=end_ms` into at most `max` buckets.
    pub fn adaptive(end_ms: u32, max: usize) -> Self {
        let width_s = WIDTHS_S
            .iter()
            .copied()
            .find(|&w| ((end_ms / (w * 1000)) as usize) < max)
            .unwrap_or(WIDTHS_S[WIDTHS_S.len() - 1]);
        Buckets::new(width_s * 1000, end_ms)
    }

    /// The bucket holding time `t` (ms); times past the end fall in the last bucket.
    pub fn index(&self, t: u32) -> usize {
        ((t / self.width_ms) as usize).min(self.count - 1)
    }

    pub fn start_ms(&self, i: usize) -> u32 {
        (i as u32).saturating_mul(self.width_ms)
    }

    pub fn width_s(&self) -> f64 {
        f64::from(self.width_ms) / 1000.0
    }
}

/// What happened to one domain's mail, bucket by bucket.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DomainCounts {
    pub submitted: Vec<u64>,
    pub accepted: Vec<u64>,
    /// Messages whose last recipient arrived in the bucket.
    pub delivered: Vec<u64>,
    pub bounced: Vec<u64>,
    /// Accepted and neither delivered nor bounced at the bucket's end.
    pub outstanding: Vec<u64>,
}

/// Counts per domain (indexed like [`Ledger::domains`]) per bucket.
pub fn domain_counts(ledger: &Ledger, b: Buckets) -> Vec<DomainCounts> {
    let zero = vec![0u64; b.count];
    let mut out = vec![
        DomainCounts {
            submitted: zero.clone(),
            accepted: zero.clone(),
            delivered: zero.clone(),
            bounced: zero.clone(),
            outstanding: zero.clone(),
        };
        ledger.domains.len()
    ];
    for r in &ledger.records {
        let Some(d) = out.get_mut(usize::from(r.domain)) else {
            continue;
        };
        if r.is(flag::SUBMITTED) {
            d.submitted[b.index(r.intended_ms)] += 1;
        }
        if r.accepted() {
            d.accepted[b.index(r.accepted_ms)] += 1;
        }
        if r.delivered() {
            d.delivered[b.index(r.delivered_ms)] += 1;
        }
        if r.bounced() {
            d.bounced[b.index(r.bounced_ms)] += 1;
        }
    }
    let levels = outstanding_by(ledger, b, ledger.domains.len(), |r| usize::from(r.domain));
    for (d, level) in out.iter_mut().zip(levels) {
        d.outstanding = level;
    }
    out
}

/// Per key (`0..keys`: a domain, the accepting node …), the mail accepted and neither
/// delivered nor bounced at each bucket's end. Records whose key is out of range count
/// nowhere.
pub fn outstanding_by(
    ledger: &Ledger,
    b: Buckets,
    keys: usize,
    key: impl Fn(&crate::collector::MessageRecord) -> usize,
) -> Vec<Vec<u64>> {
    // A running sum of +1 at acceptance and -1 at resolution.
    let mut change = vec![vec![0i64; b.count]; keys];
    for r in ledger.records.iter().filter(|r| r.accepted()) {
        let Some(c) = change.get_mut(key(r)) else {
            continue;
        };
        c[b.index(r.accepted_ms)] += 1;
        let resolved = r.delivered_ms.min(r.bounced_ms);
        if resolved != NEVER {
            // Seen delivered before the acceptance reply: never outstanding.
            c[b.index(resolved.max(r.accepted_ms))] -= 1;
        }
    }
    change
        .into_iter()
        .map(|c| {
            let mut level = 0i64;
            c.into_iter()
                .map(|delta| {
                    level += delta;
                    level.max(0) as u64
                })
                .collect()
        })
        .collect()
}

/// Nearest-rank percentiles of one bucket's latencies, in ms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LatencyStats {
    pub count: usize,
    pub p50: u32,
    pub p99: u32,
    pub max: u32,
}

impl LatencyStats {
    /// `None` for no values. Sorts `values`.
    pub fn of(values: &mut [u32]) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        values.sort_unstable();
        let at = |q: f64| {
            let rank = ((q * values.len() as f64) - 1e-9).ceil().max(1.0) as usize;
            values[rank.min(values.len()) - 1]
        };
        Some(LatencyStats {
            count: values.len(),
            p50: at(0.50),
            p99: at(0.99),
            max: values[values.len() - 1],
        })
    }
}

/// Delivery latency (accepted → arrived) per domain per bucket of *acceptance*, and
/// per bucket the number of messages accepted then that never arrived.
pub struct DeliveryLatency {
    pub stats: Vec<Option<LatencyStats>>,
    pub never: Vec<u64>,
}

pub fn delivery_latency(ledger: &Ledger, b: Buckets) -> Vec<DeliveryLatency> {
    let mut values = vec![vec![Vec::<u32>::new(); b.count]; ledger.domains.len()];
    let mut never = vec![vec![0u64; b.count]; ledger.domains.len()];
    for r in &ledger.records {
        let d = usize::from(r.domain);
        if d >= values.len() || !r.accepted() {
            continue;
        }
        let i = b.index(r.accepted_ms);
        match r.delivery_latency_ms() {
            Some(l) => values[d][i].push(l),
            None if !r.bounced() => never[d][i] += 1,
            None => {}
        }
    }
    values
        .into_iter()
        .zip(never)
        .map(|(buckets, never)| DeliveryLatency {
            stats: buckets
                .into_iter()
                .map(|mut v| LatencyStats::of(&mut v))
                .collect(),
            never,
        })
        .collect()
}

/// Submit latency (intended send → accepted) per bucket of intended send time.
pub fn submit_latency(ledger: &Ledger, b: Buckets) -> Vec<Option<LatencyStats>> {
    let mut values = vec![Vec::<u32>::new(); b.count];
    for r in &ledger.records {
        if let Some(l) = r.submit_latency_ms() {
            values[b.index(r.intended_ms)].push(l);
        }
    }
    values
        .into_iter()
        .map(|mut v| LatencyStats::of(&mut v))
        .collect()
}

/// Attempts counted as one class each up to this; more fall in the last class (`10+`).
pub const ATTEMPT_CLASSES: usize = 11;

/// Accepted messages per domain by RCPT attempts seen at the remotes:
/// `[d][k]` = messages to domain `d` with `k` attempts (the last class: `k` or more).
pub fn attempts(ledger: &Ledger) -> Vec<[u64; ATTEMPT_CLASSES]> {
    let mut out = vec![[0u64; ATTEMPT_CLASSES]; ledger.domains.len()];
    for r in &ledger.records {
        if let (true, Some(d)) = (r.accepted(), out.get_mut(usize::from(r.domain))) {
            d[usize::from(r.attempts).min(ATTEMPT_CLASSES - 1)] += 1;
        }
    }
    out
}

/// A fault as people name it in a line: `refuse@down`, `stuck@n2`.
pub fn fault_label(f: &FaultWindow) -> String {
    f.subject.short()
}

/// Each SMTP phase's p99 submit latency per bucket (ms), phases in order of first
/// appearance, `quit` left out (it comes after the message was accepted). A row of
/// `phases.csv` counts in every bucket its interval overlaps; where several rows fall in
/// one bucket the bucket shows the highest p99 (the slowest interval, never an average).
pub fn phase_p99(rows: &[PhaseLatency], buckets: Buckets) -> Vec<(String, Vec<Option<f64>>)> {
    let mut by_phase: Vec<(String, Vec<Option<f64>>)> = Vec::new();
    for p in rows.iter().filter(|p| p.phase != "quit" && p.count > 0) {
        let i = match by_phase.iter().position(|(name, _)| *name == p.phase) {
            Some(i) => i,
            None => {
                by_phase.push((p.phase.clone(), vec![None; buckets.count]));
                by_phase.len() - 1
            }
        };
        let ms = p.p99_us as f64 / 1000.0;
        let last = buckets.index(p.to_ms.max(p.from_ms + 1) - 1);
        for slot in &mut by_phase[i].1[buckets.index(p.from_ms)..=last] {
            *slot = Some(slot.map_or(ms, |v: f64| v.max(ms)));
        }
    }
    by_phase
}

/// Labels of the faults in force at any time in `[from_ms, to_ms)`, in timeline order.
pub fn faults_in_force(faults: &[FaultWindow], from_ms: u32, to_ms: u32) -> Vec<String> {
    faults
        .iter()
        .filter(|f| {
            let at = f.at.as_millis() as u64;
            let end = f.end().map_or(u64::MAX, |e| e.as_millis() as u64);
            at < u64::from(to_ms) && end > u64::from(from_ms)
        })
        .map(fault_label)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase_p99_is_drawn_per_interval() {
        let row = |phase: &str, from_ms: u32, to_ms: u32, count: u64, p99_us: u64| PhaseLatency {
            phase: phase.into(),
            from_ms,
            to_ms,
            count,
            p50_us: p99_us / 2,
            p99_us,
            max_us: p99_us * 2,
        };
        // Buckets of 2 s over 0..=5999 ms: three buckets; intervals of 1 s.
        let buckets = Buckets::new(2_000, 5_999);
        let rows = [
            row("rcpt", 0, 1_000, 10, 1_000),
            row("rcpt", 1_000, 2_000, 10, 4_000),
            row("connect", 0, 1_000, 10, 500),
            row("rcpt", 4_000, 5_000, 10, 2_000),
            row("quit", 0, 1_000, 10, 9_000),
            row("dot", 2_000, 3_000, 0, 7_000),
            // An interval wider than a bucket shows in every bucket it covers.
            row("data", 1_000, 6_000, 10, 3_000),
        ];
        let got = phase_p99(&rows, buckets);
        let want: Vec<(String, Vec<Option<f64>>)> = vec![
            ("rcpt".into(), vec![Some(4.0), None, Some(2.0)]),
            ("connect".into(), vec![Some(0.5), None, None]),
            ("data".into(), vec![Some(3.0), Some(3.0), Some(3.0)]),
        ];
        assert_eq!(got, want);
    }
    use crate::collector::MessageRecord;

    fn rec(accepted: u32, delivered: u32) -> MessageRecord {
        MessageRecord {
            intended_ms: accepted,
            accepted_ms: accepted,
            delivered_ms: delivered,
            delivered_mask: u64::from(delivered != NEVER),
            flags: flag::SUBMITTED | flag::ACCEPTED,
            ..Default::default()
        }
    }

    #[test]
    fn buckets_are_round_and_bounded() {
        assert_eq!(Buckets::adaptive(40_000, 240), Buckets::new(1000, 40_000));
        assert_eq!(Buckets::adaptive(40_000, 240).count, 41);
        assert_eq!(Buckets::adaptive(3_599_999, 240).width_ms, 15_000);
        assert_eq!(Buckets::adaptive(3_600_000, 240).width_ms, 30_000);
        let b = Buckets::new(1000, 2500);
        assert_eq!(
            (b.count, b.index(999), b.index(1000), b.index(99_999)),
            (3, 0, 1, 2)
        );
    }

    #[test]
    fn counts_and_outstanding_per_bucket() {
        let ledger = Ledger {
            domains: vec!["ok.test".into()],
            records: vec![rec(100, 1500), rec(200, NEVER), rec(2100, 2200)],
            end_ms: 2999,
            ..Default::default()
        };
        let c = &domain_counts(&ledger, Buckets::new(1000, ledger.end_ms))[0];
        assert_eq!(c.accepted, [2, 0, 1]);
        assert_eq!(c.delivered, [0, 1, 1]);
        assert_eq!(c.outstanding, [2, 1, 1]);
        let lat = &delivery_latency(&ledger, Buckets::new(1000, ledger.end_ms))[0];
        assert_eq!(lat.never, [1, 0, 0]);
        assert_eq!(lat.stats[0].unwrap().max, 1400);
        assert_eq!(lat.stats[1], None);
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut v: Vec<u32> = (1..=100).rev().collect();
        let s = LatencyStats::of(&mut v).unwrap();
        assert_eq!((s.count, s.p50, s.p99, s.max), (100, 50, 99, 100));
        assert_eq!(LatencyStats::of(&mut []), None);
    }
}
