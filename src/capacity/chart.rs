//! The capacity report's charts (inline SVG, drawn with `report::charts`' pieces): each
//! step as a dot at its rate — p99 submit latency (log scale, with the limit) and the
//! backlog at the end of its load — green when sustained, red when not, with a dashed
//! line at the sustained rate.

use super::step::StepResult;
use crate::report::charts::axes::{fmt_latency, fmt_latency_tick, fmt_quantity, Scale};
use crate::report::charts::svg::{Dash, Svg};
use crate::report::charts::{LegendEntry, Plot, FAULT_INK};

const SUSTAINED: &str = "#1e8449";
const NOT_SUSTAINED: &str = "#e15759";
const RATE_LINE: &str = "#4e79a7";

/// Latency and backlog per step, side by side (two `<svg>` elements).
pub fn charts(steps: &[StepResult], sustained: Option<f64>, limit_ms: u32) -> [String; 2] {
    let top = steps.iter().map(|s| s.rate).fold(1.0, f64::max);
    let x = Scale::linear(top);
    let latencies: Vec<f64> = steps
        .iter()
        .filter_map(|s| s.submit_p99_ms.map(|v| f64::from(v.max(1))))
        .collect();
    let lat = Scale::log(
        latencies
            .iter()
            .copied()
            .fold(f64::from(limit_ms), f64::min),
        latencies
            .iter()
            .copied()
            .fold(f64::from(limit_ms), f64::max),
    );
    let backlog = Scale::linear(
        steps
            .iter()
            .map(|s| s.backlog_end as f64)
            .fold(1.0, f64::max),
    );
    let latency_chart = chart(
        ("capacity-latency", "p99 submit latency per step, by rate"),
        steps,
        (&x, &lat),
        |s| {
            s.submit_p99_ms
                .map(|v| (f64::from(v.max(1)), fmt_latency(v)))
        },
        (fmt_latency_tick, "p99 submit latency"),
        sustained,
        Some(f64::from(limit_ms)),
    );
    let backlog_chart = chart(
        (
            "capacity-backlog",
            "backlog at the end of each step's load, by rate",
        ),
        steps,
        (&x, &backlog),
        |s| Some((s.backlog_end as f64, format!("{} queued", s.backlog_end))),
        (fmt_quantity, "backlog at end of load (messages)"),
        sustained,
        None,
    );
    [latency_chart, backlog_chart]
}

type Value = fn(&StepResult) -> Option<(f64, String)>;

fn chart(
    (id, label): (&str, &str),
    steps: &[StepResult],
    (x, y): (&Scale, &Scale),
    value: Value,
    (tick, title): (fn(f64) -> String, &str),
    sustained: Option<f64>,
    limit: Option<f64>,
) -> String {
    let plot = Plot::small();
    let mut svg = Svg::new(id, plot.width, plot.height, label);
    plot.y_axis(&mut svg, y, tick, title);
    plot.x_axis(&mut svg, "offered rate (messages/s)");
    let px = |rate: f64| plot.left + plot.inner_width() * x.fraction(rate);
    let bottom = plot.top + plot.inner_height();
    for v in x.ticks() {
        svg.text((px(v), bottom + 16.0), "middle", "tick", &fmt_quantity(v));
    }
    let mut legend = vec![
        LegendEntry::dot("sustained", SUSTAINED),
        LegendEntry::dot("not sustained", NOT_SUSTAINED),
    ];
    if let Some(rate) = sustained {
        svg.line(
            (px(rate), plot.top),
            (px(rate), bottom),
            RATE_LINE,
            1.5,
            Dash::Dashed,
        );
        legend.push(LegendEntry::line("capacity", RATE_LINE, Dash::Dashed));
    }
    if let Some(limit) = limit {
        let ly = plot.y(y, limit);
        svg.line(
            (plot.left, ly),
            (plot.width - plot.right, ly),
            FAULT_INK,
            1.5,
            Dash::Dotted,
        );
        legend.push(LegendEntry::line("limit", FAULT_INK, Dash::Dotted));
    }
    plot.legend(&mut svg, &legend);
    for (i, s) in steps.iter().enumerate() {
        let Some((v, shown)) = value(s) else { continue };
        let color = if s.sustained {
            SUSTAINED
        } else {
            NOT_SUSTAINED
        };
        let tip = format!(
            "step {}: {}/s — {shown}",
            i + 1,
            crate::scenario::capacity::fmt_rate(s.rate)
        );
        svg.circle((px(s.rate), plot.y(y, v)), 5.0, color, &tip);
    }
    svg.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(rate: f64, p99: u32, backlog: u64, sustained: bool) -> StepResult {
        StepResult {
            rate,
            planned: 0,
            submitted: 0,
            accepted: 0,
            acceptance: 1.0,
            submit_p99_ms: Some(p99),
            accepted_per_s: rate,
            delivered_per_s: rate,
            keep_up: Some(1.0),
            backlog_mid: 0,
            backlog_end: backlog,
            left_after_settle: 0,
            foreign: 0,
            sustained,
            missed: vec![],
        }
    }

    #[test]
    fn one_dot_per_step_coloured_by_outcome() {
        let steps = [
            step(10.0, 5, 1, true),
            step(20.0, 8, 2, true),
            step(40.0, 2000, 300, false),
        ];
        let [latency, backlog] = charts(&steps, Some(20.0), 1000);
        for svg in [&latency, &backlog] {
            assert_eq!(
                svg.matches("<circle").count(),
                3 + 2,
                "3 steps + 2 legend dots"
            );
            assert_eq!(
                svg.matches(NOT_SUSTAINED).count(),
                2,
                "one step + its legend dot"
            );
            assert!(svg.contains("capacity"));
        }
        assert!(latency.contains("step 3: 40/s — 2s"), "{latency}");
        assert!(backlog.contains("step 3: 40/s — 300 queued"));
    }
}
