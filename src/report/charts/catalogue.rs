//! Which charts a run gets, in the order a game-day room asks: did healthy mail keep
//! flowing, how late was it, did the backlog drain, did the cluster keep accepting, did
//! every node deliver, did queues back up, how many attempts did it take. Sections whose
//! data a run does not have (per-phase timings, queue probes) are left out.

use std::collections::BTreeMap;

use super::axes::{fmt_latency, fmt_latency_tick, fmt_quantity, Scale};
use super::bar_chart::{BarChart, BarSeries};
use super::fault_lanes::fault_windows;
use super::svg::Dash;
use super::time_chart::{Series, TimeChart, Window};
use super::ChartData;
use super::{color, Chart, Plot, Section};
use super::{pace, questions};
use crate::report::series::{
    attempts, delivery_latency, domain_counts, phase_p99, submit_latency, Buckets, DomainCounts,
    LatencyStats, ATTEMPT_CLASSES,
};

/// At most this many buckets across a time chart (about 3 px each).
const MAX_BUCKETS: usize = 240;

/// Fixed colours of the percentile lines, so every latency chart reads the same.
const P50: &str = "#4e79a7";
const P99: &str = "#e67e22";
const MAX: &str = "#8e959c";

/// Everything the time charts of one run share.
pub(super) struct Frame<'a> {
    pub run: &'a ChartData<'a>,
    pub buckets: Buckets,
    /// Per domain and bucket, counted once for every chart that needs them.
    pub counts: Vec<DomainCounts>,
    windows: Vec<Window>,
    node_windows: Vec<Window>,
}

impl Frame<'_> {
    pub fn chart(&self, id: &str, label: &str, scale: Scale, tick: fn(f64) -> String) -> TimeChart {
        TimeChart {
            id: id.to_string(),
            plot: Plot::standard(),
            label: label.to_string(),
            buckets: self.buckets,
            end_ms: self.run.ledger.end_ms,
            scale,
            tick,
            unit: "",
            y_title: String::new(),
            series: Vec::new(),
            windows: self.windows.clone(),
            node_windows: self.node_windows.clone(),
            limit: None,
            alarms: Vec::new(),
        }
    }

    /// Seconds bucket `i` covers within the run (the last one is usually partial).
    pub fn seconds(&self, i: usize) -> f64 {
        let start = self.buckets.start_ms(i);
        let covered = self
            .buckets
            .width_ms
            .min(self.run.ledger.end_ms.saturating_sub(start));
        f64::from(covered) / 1000.0
    }
}

/// Every section of the report's charts, for this run.
pub fn sections(run: &ChartData) -> Vec<Section> {
    let (windows, node_windows) = fault_windows(run);
    let buckets = Buckets::adaptive(run.ledger.end_ms, MAX_BUCKETS);
    let frame = Frame {
        run,
        buckets,
        counts: domain_counts(run.ledger, buckets),
        windows,
        node_windows,
    };
    let mut out = vec![
        flow(&frame),
        latency(&frame),
        backlog(&frame),
        submit(&frame),
        pace::rate(&frame),
    ];
    if !run.samples.phases.is_empty() {
        out.push(phases(&frame));
    }
    out.push(nodes(run));
    if run.samples.queue_depths.is_empty() {
        out.push(pace::held(&frame));
    } else {
        out.push(queue_depth(&frame));
    }
    out.push(attempts_section(run));
    out
}

pub(super) fn single(id: &str, question: String, explain: String, svg: String) -> Section {
    Section {
        id: id.to_string(),
        question,
        explain,
        charts: vec![Chart {
            caption: String::new(),
            svg,
        }],
    }
}

fn flow(f: &Frame) -> Section {
    let question = questions::flow(f.run.plan);
    let counts = &f.counts;
    let per_s = |i: usize, n: u64| {
        let s = f.seconds(i);
        (s >= 0.1).then(|| n as f64 / s)
    };
    let mut chart = f.chart("chart-flow", &question, Scale::linear(1.0), fmt_quantity);
    let mut max = 0f64;
    let mut accepted_all = vec![0u64; f.buckets.count];
    for (d, c) in counts.iter().enumerate() {
        let values: Vec<Option<f64>> = c
            .delivered
            .iter()
            .enumerate()
            .map(|(i, n)| per_s(i, *n))
            .collect();
        max = values.iter().flatten().fold(max, |m, v| m.max(*v));
        chart.series.push(Series {
            name: f.run.ledger.domains[d].clone(),
            color: color(d),
            width: 2.2,
            dash: Dash::Solid,
            values,
        });
        for (a, n) in accepted_all.iter_mut().zip(&c.accepted) {
            *a += n;
        }
    }
    let accepted: Vec<Option<f64>> = accepted_all
        .iter()
        .enumerate()
        .map(|(i, n)| per_s(i, *n))
        .collect();
    // A burst of backlog draining can be ten times the normal rate and would flatten
    // everything else: clip at twice the accepted peak (the chart labels the peaks).
    let accepted_peak = accepted.iter().flatten().fold(0f64, |m, v| m.max(*v));
    if accepted_peak > 0.0 {
        max = max.min(2.0 * accepted_peak);
    }
    max = max.max(accepted_peak);
    chart.series.push(Series {
        name: "accepted, all destinations".into(),
        color: "#8e959c".into(),
        width: 1.4,
        dash: Dash::Dotted,
        values: accepted,
    });
    chart.scale = Scale::linear(max);
    chart.y_title = "delivered / s".into();
    chart.unit = "/s";
    single(
        "flow",
        question,
        format!(
            "Messages delivered per second to each destination ({}s buckets), against what the cluster accepted. Shaded: remote faults; purple band: node faults. Peaks above twice the accepted rate are clipped, with their value written at the top.",
            f.buckets.width_s()
        ),
        chart.render(),
    )
}

fn latency_series(stats: &[Option<LatencyStats>]) -> Vec<Series> {
    let line =
        |name: &str, color: &str, width: f64, dash: Dash, pick: fn(&LatencyStats) -> u32| Series {
            name: name.into(),
            color: color.into(),
            width,
            dash,
            values: stats
                .iter()
                .map(|s| s.as_ref().map(|s| f64::from(pick(s))))
                .collect(),
        };
    vec![
        line("p50", P50, 1.8, Dash::Solid, |s| s.p50),
        line("p99", P99, 2.4, Dash::Solid, |s| s.p99),
        line("max", MAX, 1.4, Dash::Dotted, |s| s.max),
    ]
}

/// A log scale that fits every percentile of every list.
fn latency_scale<'a>(
    all: impl Iterator<Item = &'a Option<LatencyStats>>,
    extra: Option<u32>,
) -> Scale {
    let (mut lo, mut hi) = (f64::MAX, 1f64);
    for s in all.flatten() {
        lo = lo.min(f64::from(s.p50));
        hi = hi.max(f64::from(s.max));
    }
    if let Some(x) = extra {
        lo = lo.min(f64::from(x));
        hi = hi.max(f64::from(x));
    }
    Scale::log(if lo == f64::MAX { 1.0 } else { lo }, hi)
}

fn latency(f: &Frame) -> Section {
    let question = questions::latency(f.run.plan);
    let per_domain = delivery_latency(f.run.ledger, f.buckets);
    let healthy = questions::healthy(f.run.plan);
    let limit = questions::isolation_limit(f.run.plan);
    let limit_ms = limit.map(|(_, l)| l.as_millis().min(u128::from(u32::MAX)) as u32);
    // One scale for all destinations, so the small charts compare at a glance.
    let scale = latency_scale(per_domain.iter().flat_map(|d| d.stats.iter()), limit_ms);
    let mut charts = Vec::new();
    for (d, lat) in per_domain.iter().enumerate() {
        let name = &f.run.ledger.domains[d];
        let accepted: usize = lat.stats.iter().flatten().map(|s| s.count).sum::<usize>()
            + lat.never.iter().sum::<u64>() as usize;
        if accepted == 0 {
            continue;
        }
        let label = format!("Delivery latency of mail to {name}");
        let mut chart = f.chart(&format!("chart-latency-{d}"), &label, scale, |v| {
            fmt_latency_tick(v)
        });
        chart.plot = Plot::small();
        chart.series = latency_series(&lat.stats);
        chart.y_title = "accepted → arrived".into();
        if let (Some((p, l)), true) = (limit, healthy.iter().any(|h| h.eq_ignore_ascii_case(name)))
        {
            chart.limit = Some((
                l.as_millis() as f64,
                format!("limit p{p} ≤ {}", fmt_latency(l.as_millis() as u32)),
            ));
        }
        chart.alarms = lat
            .never
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| {
                (
                    i,
                    format!(
                        "{n} accepted around {} never arrived",
                        super::axes::fmt_offset(f.buckets.start_ms(i))
                    ),
                )
            })
            .collect();
        charts.push(Chart {
            caption: name.clone(),
            svg: chart.render(),
        });
    }
    Section {
        id: "latency".into(),
        question,
        explain: "Delivery latency (accepted → last recipient arrived) of the mail accepted in each bucket, per destination, on a log scale. Red dots: mail accepted then that never arrived.".into(),
        charts,
    }
}

fn backlog(f: &Frame) -> Section {
    let question = questions::backlog(f.run.plan);
    let counts = &f.counts;
    let mut chart = f.chart("chart-backlog", &question, Scale::linear(1.0), fmt_quantity);
    let mut max = 0u64;
    for (d, c) in counts.iter().enumerate() {
        max = max.max(c.outstanding.iter().copied().max().unwrap_or(0));
        chart.series.push(Series {
            name: f.run.ledger.domains[d].clone(),
            color: color(d),
            width: 2.2,
            dash: Dash::Solid,
            values: c.outstanding.iter().map(|n| Some(*n as f64)).collect(),
        });
    }
    chart.scale = Scale::linear(max as f64);
    chart.y_title = "outstanding".into();
    single(
        "backlog",
        question,
        "Mail accepted by the cluster and not yet delivered nor bounced, per destination, at the end of each bucket: a backlog that grows during a fault must fall back to zero after it.".into(),
        chart.render(),
    )
}

fn submit(f: &Frame) -> Section {
    let question = questions::submit(f.run.plan);
    let stats = submit_latency(f.run.ledger, f.buckets);
    let limit = questions::acceptance_limit(f.run.plan);
    let limit_ms = limit.map(|(_, l)| l.as_millis().min(u128::from(u32::MAX)) as u32);
    let scale = latency_scale(stats.iter(), limit_ms);
    let mut chart = f.chart("chart-submit", &question, scale, fmt_latency_tick);
    chart.series = latency_series(&stats);
    if let (Some((p, _)), Some(ms)) = (limit, limit_ms) {
        chart.limit = Some((f64::from(ms), format!("limit p{p} ≤ {}", fmt_latency(ms))));
    }
    chart.y_title = "intended → accepted".into();
    single(
        "submit",
        question,
        "Submit latency: from when the generator meant to send a message to the cluster's reply to the final dot, by intended send time (open model: waiting for a free session counts). Log scale.".into(),
        chart.render(),
    )
}

fn phases(f: &Frame) -> Section {
    let by_phase = phase_p99(&f.run.samples.phases, f.buckets);
    let (lo, hi) = by_phase
        .iter()
        .flat_map(|(_, v)| v.iter().flatten())
        .fold((f64::MAX, 1f64), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    let mut chart = f.chart(
        "chart-phases",
        questions::PHASES,
        Scale::log(lo.min(hi), hi),
        fmt_latency_tick,
    );
    chart.series = by_phase
        .into_iter()
        .enumerate()
        .map(|(i, (name, values))| Series {
            name: format!("{name} p99"),
            color: color(i),
            width: 2.0,
            dash: Dash::Solid,
            values,
        })
        .collect();
    chart.y_title = "p99 per phase".into();
    single(
        "phases",
        questions::PHASES.into(),
        format!("p99 of each SMTP phase of submission (connect, banner, EHLO, MAIL, RCPT, DATA, final dot) over time, on a log scale: the slowest interval of each {}s bucket. p50 and max per interval are in phases.csv.", f.buckets.width_s()),
        chart.render(),
    )
}

fn queue_depth(f: &Frame) -> Section {
    let mut by_node: BTreeMap<String, Vec<Option<f64>>> = BTreeMap::new();
    let mut max = 0u64;
    for q in &f.run.samples.queue_depths {
        let slot = &mut by_node
            .entry(q.node.clone())
            .or_insert_with(|| vec![None; f.buckets.count])[f.buckets.index(q.at_ms)];
        *slot = Some(slot.map_or(q.depth as f64, |v: f64| v.max(q.depth as f64)));
        max = max.max(q.depth);
    }
    let mut chart = f.chart(
        "chart-queue-depth",
        questions::QUEUE_DEPTH,
        Scale::linear(max as f64),
        fmt_quantity,
    );
    chart.series = by_node
        .into_iter()
        .enumerate()
        .map(|(i, (node, values))| Series {
            name: node,
            color: color(i),
            width: 2.2,
            dash: Dash::Solid,
            values,
        })
        .collect();
    chart.y_title = "queued messages".into();
    single(
        "queue-depth",
        questions::QUEUE_DEPTH.into(),
        "Queue depth reported by each node's probe (the deepest reading in each bucket).".into(),
        chart.render(),
    )
}

fn nodes(run: &ChartData) -> Section {
    let question = questions::nodes(run.plan);
    let n = run.ledger.nodes.len();
    let (mut accepted, mut delivered) = (vec![0u64; n], vec![0u64; n]);
    for r in &run.ledger.records {
        if let (true, Some(a)) = (r.accepted(), accepted.get_mut(usize::from(r.accepted_node))) {
            *a += 1;
        }
        if let (true, Some(d)) = (
            r.partly_delivered(),
            delivered.get_mut(usize::from(r.delivered_node)),
        ) {
            *d += 1;
        }
    }
    let chart = BarChart {
        id: "chart-nodes".into(),
        label: question.clone(),
        categories: run.ledger.nodes.clone(),
        x_title: "node (banner host name)".into(),
        y_title: "messages".into(),
        series: vec![
            BarSeries {
                name: "accepted".into(),
                color: "#4e79a7".into(),
                values: accepted,
            },
            BarSeries {
                name: "delivered (relayed by it)".into(),
                color: "#59a14f".into(),
                values: delivered,
            },
        ],
        stacked: false,
    };
    single(
        "nodes",
        question,
        "Per node: messages it accepted from the generator (its banner) and messages it relayed to a remote (the top Received: header). A node that accepts and does not deliver is stuck.".into(),
        chart.render(),
    )
}

fn attempts_section(run: &ChartData) -> Section {
    let per_domain = attempts(run.ledger);
    let categories = (0..ATTEMPT_CLASSES)
        .map(|k| {
            if k + 1 == ATTEMPT_CLASSES {
                format!("{k}+")
            } else {
                k.to_string()
            }
        })
        .collect();
    let chart = BarChart {
        id: "chart-attempts".into(),
        label: questions::ATTEMPTS.into(),
        categories,
        x_title: "delivery attempts (RCPT seen at the remote)".into(),
        y_title: "messages".into(),
        series: per_domain
            .iter()
            .enumerate()
            .map(|(d, counts)| BarSeries {
                name: run.ledger.domains[d].clone(),
                color: color(d),
                values: counts.to_vec(),
            })
            .collect(),
        stacked: true,
    };
    single(
        "attempts",
        questions::ATTEMPTS.into(),
        "Accepted messages by the number of RCPT attempts the fake remotes saw for them, stacked by destination. 0: no attempt reached a remote (a refused connection is not seen); more than 1: retries.".into(),
        chart.render(),
    )
}
