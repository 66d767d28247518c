//! A line chart over the run's time: series per bucket, remote-fault windows shaded and
//! labelled, node faults marked along the top, an optional limit line, and markers for
//! messages that never arrived. Every time chart of the report is one of these, so they
//! line up and read the same way.

use super::axes::{fmt_offset, time_ticks, Scale};
use super::fault_lanes::layout;
use super::svg::{Dash, Svg};
use super::{LegendEntry, Plot, FAULT_FILL, FAULT_INK, NODE_FAULT_INK};
use crate::report::series::Buckets;

/// One line: a value per bucket (`None`: no data in that bucket, the line breaks).
pub struct Series {
    pub name: String,
    pub color: String,
    pub width: f64,
    pub dash: Dash,
    pub values: Vec<Option<f64>>,
}

/// A shaded stretch of time (a fault), ends resolved (see [`super::fault_lanes`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    pub from_ms: u32,
    /// Where it heals, or the run's end if it does not before.
    pub to_ms: u32,
    pub label: String,
    /// Its lane: the remote (or node) it acts on.
    pub lane: String,
}

/// Height of one remote's fault lane: its band and its label.
const LANE_PX: f64 = 18.0;
/// The fault lanes start this far under the plot's top edge, under the row of
/// "never arrived" markers.
const LANES_TOP: f64 = 10.0;

pub struct TimeChart {
    pub id: String,
    /// The frame: standard, or small for small multiples.
    pub plot: Plot,
    /// The chart's accessible name (the question it answers).
    pub label: String,
    pub buckets: Buckets,
    pub end_ms: u32,
    pub scale: Scale,
    /// Formats a y tick.
    pub tick: fn(f64) -> String,
    /// Unit after a value written out (a clipped peak): `/s`, or nothing.
    pub unit: &'static str,
    pub y_title: String,
    pub series: Vec<Series>,
    /// Remote faults.
    pub windows: Vec<Window>,
    /// Node faults.
    pub node_windows: Vec<Window>,
    /// A horizontal limit line and its label (drawn at the left, where faults rarely are).
    pub limit: Option<(f64, String)>,
    /// (bucket, tooltip): something went wrong for good in this bucket (never arrived).
    pub alarms: Vec<(usize, String)>,
}

impl TimeChart {
    pub fn render(&self) -> String {
        let p = self.plot;
        let mut svg = Svg::new(&self.id, p.width, p.height, &self.label);
        let end = f64::from(self.end_ms.max(1));
        let x = |ms: f64| p.left + p.inner_width() * (ms / end).clamp(0.0, 1.0);
        let y = |v: f64| p.y(&self.scale, v);

        // Remote faults: shaded full height, and one lane per remote along the top (a thin
        // band and the label), so overlapping faults' labels never collide.
        let lanes = layout(&self.windows, self.end_ms, p.left, p.width - p.right);
        for (k, lane) in lanes.iter().enumerate() {
            let row = p.top + LANES_TOP + LANE_PX * k as f64;
            for f in &lane.faults {
                let w = f.to_x - f.from_x;
                svg.rect_titled(f.from_x, p.top, w, p.inner_height(), FAULT_FILL, &f.label);
                // 1 px short, so back-to-back faults of one remote read as two.
                svg.rect_titled(f.from_x, row, (w - 1.0).max(2.0), 3.0, FAULT_INK, &f.label);
            }
        }
        let below_lanes = p.top + LANES_TOP + LANE_PX * lanes.len() as f64;
        p.y_axis(&mut svg, &self.scale, self.tick, &self.y_title);
        for t in time_ticks(self.end_ms) {
            let xx = x(f64::from(t));
            svg.line(
                (xx, p.top + p.inner_height()),
                (xx, p.top + p.inner_height() + 4.0),
                "#9aa3ad",
                1.0,
                Dash::Solid,
            );
            svg.text(
                (xx, p.height - p.bottom + 18.0),
                "middle",
                "tick",
                &fmt_offset(t),
            );
        }
        p.x_axis(&mut svg, "time since load start");

        // Node faults: a band along the top edge, a dashed line where they begin, and the
        // label in a lane per node under the remotes' lanes.
        let node_lanes = layout(&self.node_windows, self.end_ms, p.left, p.width - p.right);
        for w in &self.node_windows {
            let (a, b) = (x(f64::from(w.from_ms)), x(f64::from(w.to_ms)));
            svg.rect_titled(
                a,
                p.top - 6.0,
                (b - a).max(2.0),
                5.0,
                NODE_FAULT_INK,
                &w.label,
            );
            svg.line(
                (a, p.top),
                (a, p.top + p.inner_height()),
                NODE_FAULT_INK,
                1.2,
                Dash::Dashed,
            );
        }
        for (k, lane) in node_lanes.iter().enumerate() {
            let row = below_lanes + LANE_PX * k as f64;
            for f in &lane.faults {
                if let Some(lx) = f.label_x {
                    svg.text((lx, row + 14.0), "start", "node-fault-label", &f.label);
                }
            }
        }
        let below_all = below_lanes + LANE_PX * node_lanes.len() as f64;

        let half = f64::from(self.buckets.width_ms) / 2.0;
        let center = |i: usize| x(f64::from(self.buckets.start_ms(i)) + half);
        // Last to first, so the first series listed is drawn on top.
        for s in self.series.iter().rev() {
            // Break the line where a bucket has no data.
            let mut run: Vec<(f64, f64)> = Vec::new();
            for (i, v) in s.values.iter().enumerate() {
                match v {
                    Some(v) => run.push((center(i), y(*v))),
                    None => flush(&mut svg, &mut run, s),
                }
            }
            flush(&mut svg, &mut run, s);
        }
        // Fault labels over the lines (the page gives them a white halo).
        for (k, lane) in lanes.iter().enumerate() {
            let row = p.top + LANES_TOP + LANE_PX * k as f64;
            for f in &lane.faults {
                if let Some(lx) = f.label_x {
                    svg.text((lx, row + 14.0), "start", "fault-label", &f.label);
                }
            }
        }
        if let Some((v, label)) = &self.limit {
            let yy = y(*v);
            svg.line(
                (p.left, yy),
                (p.width - p.right, yy),
                FAULT_INK,
                1.5,
                Dash::Dashed,
            );
            // Above its line, unless that is among the fault lanes' labels: then below both.
            let above = yy - 5.0;
            let label_y = if !lanes.is_empty() && above - 12.0 < below_lanes {
                (yy + 14.0).max(below_lanes + 14.0)
            } else {
                above
            };
            svg.text((p.left + 4.0, label_y), "start", "limit-label", label);
        }
        // Values above a linear scale are drawn on the frame: say how high they went.
        if let Scale::Linear { max } = self.scale {
            let mut row = 0.0;
            for s in &self.series {
                let peak = s
                    .values
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| v.filter(|v| *v > max).map(|v| (i, v)))
                    .max_by(|a, b| a.1.total_cmp(&b.1));
                if let Some((i, v)) = peak {
                    let text = format!("{} peaks at {}{}", s.name, (self.tick)(v), self.unit);
                    svg.text(
                        (center(i) + 6.0, below_all + 12.0 + row),
                        "start",
                        "clip-label",
                        &text,
                    );
                    row += 14.0;
                }
            }
        }
        for (i, tip) in &self.alarms {
            svg.circle((center(*i), p.top + 5.0), 3.0, FAULT_INK, tip);
        }
        let mut legend: Vec<LegendEntry> = self
            .series
            .iter()
            .map(|s| LegendEntry::line(&s.name, &s.color, s.dash))
            .collect();
        if !self.alarms.is_empty() {
            legend.push(LegendEntry::dot("never arrived", FAULT_INK));
        }
        p.legend(&mut svg, &legend);
        svg.finish()
    }
}

fn flush(svg: &mut Svg, run: &mut Vec<(f64, f64)>, s: &Series) {
    match run.len() {
        0 => {}
        // A lone point would be invisible as a line.
        1 => svg.circle(run[0], s.width.max(2.0), &s.color, &s.name),
        _ => svg.polyline(run, &s.color, s.width, s.dash, &s.name),
    }
    run.clear();
}
