//! Two charts the live view needs as much as the report: the load as planned against
//! what was sent (a generator that fell behind shows here before it shows as
//! shortfall), and — for a run without queue probes, such as the embedded cluster — the
//! mail each node accepted and still held, the stuck-node signal.

use super::axes::{fmt_quantity, Scale};
use super::catalogue::{single, Frame};
use super::questions;
use super::svg::Dash;
use super::time_chart::Series;
use super::{color, Section};
use crate::collector::Ledger;
use crate::report::series::{outstanding_by, Buckets};
use crate::scenario::{Load, LoadModel};

/// Planned vs submitted messages per second (open model); submitted only (closed).
pub(super) fn rate(f: &Frame) -> Section {
    let b = f.buckets;
    let end = f.run.ledger.end_ms;
    let load = &f.run.plan.load;
    let mut submitted = vec![0u64; b.count];
    for c in &f.counts {
        for (s, n) in submitted.iter_mut().zip(&c.submitted) {
            *s += n;
        }
    }
    let per_s = |i: usize, n: f64| {
        let s = f.seconds(i);
        (s >= 0.1).then(|| n / s)
    };
    let mut series = Vec::new();
    if load.model == LoadModel::Open {
        let planned: Vec<Option<f64>> = planned_per_bucket(load, b, end)
            .into_iter()
            .enumerate()
            .map(|(i, n)| per_s(i, n))
            .collect();
        series.push(Series {
            name: "planned".into(),
            color: "#8e959c".into(),
            width: 1.6,
            dash: Dash::Dashed,
            values: planned,
        });
    }
    series.push(Series {
        name: "submitted".into(),
        color: color(0),
        width: 2.2,
        dash: Dash::Solid,
        values: submitted
            .iter()
            .enumerate()
            .map(|(i, n)| per_s(i, *n as f64))
            .collect(),
    });
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .fold(0f64, |m, v| m.max(*v));
    let mut chart = f.chart(
        "chart-rate",
        questions::RATE,
        Scale::linear(max),
        fmt_quantity,
    );
    chart.series = series;
    chart.y_title = "messages / s".into();
    chart.unit = "/s";
    single(
        "rate",
        questions::RATE.into(),
        format!(
            "Messages the load shape called for per second ({}s buckets) against those the generator sent, counted at their intended send time. A gap is shortfall: the load was not applied as planned. A closed-model run has no planned rate.",
            b.width_s()
        ),
        chart.render(),
    )
}

/// Without probes: per node, mail it accepted and had neither delivered nor bounced
/// at each bucket's end.
pub(super) fn held(f: &Frame) -> Section {
    let ledger = f.run.ledger;
    let levels = held_per_node(ledger, f.buckets);
    let max = levels.iter().flatten().copied().max().unwrap_or(0);
    let series: Vec<Series> = levels
        .into_iter()
        .enumerate()
        .map(|(i, level)| Series {
            name: ledger.nodes[i].clone(),
            color: color(i),
            width: 2.2,
            dash: Dash::Solid,
            values: level.into_iter().map(|v| Some(v as f64)).collect(),
        })
        .collect();
    let mut chart = f.chart(
        "chart-held",
        questions::HELD,
        Scale::linear(max as f64),
        fmt_quantity,
    );
    chart.series = series;
    chart.y_title = "accepted, not delivered".into();
    single(
        "held",
        questions::HELD.into(),
        "No queue probes: per node, the mail it accepted (its banner) and had neither delivered nor bounced at each bucket's end. A node whose line only rises holds mail it does not deliver; add `probes` to see a real node's own queue.".into(),
        chart.render(),
    )
}

/// Messages the shape called for in each bucket, up to `end_ms`.
fn planned_per_bucket(load: &Load, b: Buckets, end_ms: u32) -> Vec<f64> {
    (0..b.count)
        .map(|i| {
            let from = b.start_ms(i).min(end_ms);
            let to = b.start_ms(i).saturating_add(b.width_ms).min(end_ms);
            load.planned_by(to) - load.planned_by(from)
        })
        .collect()
}

/// Per node (indexed like [`Ledger::nodes`]), the mail it accepted and had neither
/// delivered nor bounced at each bucket's end.
fn held_per_node(ledger: &Ledger, b: Buckets) -> Vec<Vec<u64>> {
    outstanding_by(ledger, b, ledger.nodes.len(), |r| {
        usize::from(r.accepted_node)
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::collector::ledger::{flag, NEVER, NO_NODE};
    use crate::collector::MessageRecord;
    use crate::scenario::Step;

    #[test]
    fn planned_messages_per_bucket_follow_the_shape_up_to_the_end() {
        let step = |rate: f64, to: Option<f64>| Step {
            rate,
            to,
            duration: Duration::from_secs(10),
        };
        let mut load = crate::checks::testkit::plan(vec![], vec![]).load;
        load.steps = vec![step(10.0, None), step(10.0, Some(30.0))];
        // (bucket width, end) → messages per bucket; the last bucket stops at the end.
        let table: [(u32, u32, Vec<f64>); 3] = [
            (5_000, 12_000, vec![50.0, 50.0, 24.0]),
            (10_000, 20_000, vec![100.0, 200.0, 0.0]),
            (10_000, 25_000, vec![100.0, 200.0, 0.0]),
        ];
        for (width, end, want) in table {
            let got = planned_per_bucket(&load, Buckets::new(width, end), end);
            let close =
                got.len() == want.len() && got.iter().zip(&want).all(|(g, w)| (g - w).abs() < 1e-9);
            assert!(close, "width {width} end {end}: {got:?} vs {want:?}");
        }
    }

    #[test]
    fn held_mail_per_node_rises_at_acceptance_and_falls_at_delivery_or_bounce() {
        let rec = |node: u8, accepted_ms: u32, delivered_ms: u32, bounced_ms: u32, flags: u8| {
            MessageRecord {
                intended_ms: accepted_ms,
                accepted_ms,
                accepted_node: node,
                delivered_ms,
                bounced_ms,
                flags,
                ..Default::default()
            }
        };
        let ok = flag::SUBMITTED | flag::ACCEPTED;
        let ledger = Ledger {
            nodes: vec!["n1".into(), "n2".into()],
            records: vec![
                rec(0, 100, 1_500, NEVER, ok),
                rec(1, 200, NEVER, NEVER, ok),
                rec(1, 2_100, NEVER, 2_500, ok),
                // Delivered before its acceptance reply: never held.
                rec(0, 900, 800, NEVER, ok),
                // Not accepted, or by no known node: not held anywhere.
                rec(0, 300, NEVER, NEVER, flag::SUBMITTED),
                rec(NO_NODE, 300, NEVER, NEVER, ok),
            ],
            end_ms: 2_999,
            ..Default::default()
        };
        assert_eq!(
            held_per_node(&ledger, Buckets::new(1_000, ledger.end_ms)),
            vec![vec![1, 0, 0], vec![1, 1, 1]]
        );
    }
}
