//! The report's charts as inline SVG, drawn here by hand so the page opens offline and
//! stays small. `catalogue.rs` decides which charts a run gets and the question each
//! one answers; `time_chart.rs` and `bar_chart.rs` draw; `axes.rs` and `svg.rs` are the
//! pieces they share; `pace.rs` has the planned-vs-sent and held-per-node charts. This
//! file holds the common layout, legend and colours. The live view draws the same
//! sections from the ledger so far ([`ChartData`]).

pub mod axes;
pub mod bar_chart;
mod catalogue;
pub mod fault_lanes;
mod pace;
mod questions;
pub mod svg;
pub mod time_chart;

pub use catalogue::sections;

use crate::collector::Ledger;
use crate::report::samples::Samples;
use crate::scenario::Plan;

use axes::Scale;
use svg::{Dash, Svg};

/// What the charts are drawn from: the plan, the ledger (up to `ledger.end_ms`) and the
/// samples. A finished run gives its own ([`crate::report::JudgedRun::chart_data`]); the
/// live view gives the ledger so far, so the page and report.html draw the same charts
/// with the same code.
#[derive(Clone, Copy)]
pub struct ChartData<'a> {
    pub plan: &'a Plan,
    pub ledger: &'a Ledger,
    pub samples: &'a Samples,
}

/// Colours for series (domains, nodes, phases), picked by index: distinguishable,
/// readable on white, and none of them the red reserved for faults and limits.
pub const PALETTE: [&str; 8] = [
    "#4e79a7", "#59a14f", "#b07aa1", "#f28e2b", "#76b7b2", "#9c755f", "#edc948", "#bab0ac",
];
/// Shading of remote-fault windows.
pub const FAULT_FILL: &str = "rgba(225,87,89,0.13)";
/// Fault labels, limit lines, "never arrived" markers.
pub const FAULT_INK: &str = "#c0392b";
/// Node faults (stuck node).
pub const NODE_FAULT_INK: &str = "#6c3483";

pub fn color(i: usize) -> String {
    PALETTE[i % PALETTE.len()].to_string()
}

/// One section of the report: a question and the chart(s) that answer it.
#[derive(Debug, serde::Serialize)]
pub struct Section {
    /// Anchor of the section (`#flow`, `#latency` …).
    pub id: String,
    /// The question a game-day room asks, which the chart answers.
    pub question: String,
    /// How to read the chart, in a sentence.
    pub explain: String,
    pub charts: Vec<Chart>,
}

#[derive(Debug, serde::Serialize)]
pub struct Chart {
    /// A caption over the chart when a section has several (the destination's name).
    pub caption: String,
    /// The `<svg>` element, already escaped.
    pub svg: String,
}

/// The frame a chart is drawn in: a fixed view box scaled by the page's CSS.
#[derive(Clone, Copy, Debug)]
pub struct Plot {
    pub width: f64,
    pub height: f64,
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
}

impl Plot {
    pub fn standard() -> Self {
        Plot {
            width: 960.0,
            height: 300.0,
            left: 72.0,
            right: 16.0,
            top: 40.0,
            bottom: 40.0,
        }
    }

    /// For small multiples, two side by side: text stays the size of the big charts'.
    pub fn small() -> Self {
        Plot {
            width: 540.0,
            height: 250.0,
            left: 70.0,
            right: 12.0,
            top: 40.0,
            bottom: 40.0,
        }
    }

    pub fn inner_width(&self) -> f64 {
        self.width - self.left - self.right
    }

    pub fn inner_height(&self) -> f64 {
        self.height - self.top - self.bottom
    }

    /// The pixel row of value `v` on `scale`.
    pub fn y(&self, scale: &Scale, v: f64) -> f64 {
        self.top + self.inner_height() * (1.0 - scale.fraction(v))
    }

    /// Grid lines with their labels, and the y axis title.
    pub fn y_axis(&self, svg: &mut Svg, scale: &Scale, tick: fn(f64) -> String, title: &str) {
        for v in scale.ticks() {
            let y = self.y(scale, v);
            svg.line(
                (self.left, y),
                (self.width - self.right, y),
                "#e3e6ea",
                1.0,
                Dash::Solid,
            );
            svg.text((self.left - 6.0, y + 4.0), "end", "tick", &tick(v));
        }
        svg.text_vertical(
            (13.0, self.top + self.inner_height() / 2.0),
            "axis-title",
            title,
        );
    }

    /// The base line under the plot, and the x axis title at its right end.
    pub fn x_axis(&self, svg: &mut Svg, title: &str) {
        let bottom = self.top + self.inner_height();
        svg.line(
            (self.left, bottom),
            (self.width - self.right, bottom),
            "#9aa3ad",
            1.0,
            Dash::Solid,
        );
        svg.text(
            (self.width - self.right, self.height - 4.0),
            "end",
            "axis-title",
            title,
        );
    }

    /// Draws the legend in one row above the plot.
    pub fn legend(&self, svg: &mut Svg, entries: &[LegendEntry]) {
        let mut x = self.left;
        let y = 16.0;
        for e in entries {
            match e.mark {
                Mark::Line(dash) => {
                    svg.line((x, y - 4.0), (x + 18.0, y - 4.0), &e.color, 2.5, dash)
                }
                Mark::Swatch => svg.rect(x + 3.0, y - 10.0, 12.0, 12.0, &e.color, 1.0),
                Mark::Dot => svg.circle((x + 9.0, y - 4.0), 3.5, &e.color, &e.name),
            }
            svg.text((x + 24.0, y), "start", "legend", &e.name);
            // Text width estimated from the character count: no font metrics offline.
            x += 24.0 + 7.0 * e.name.chars().count() as f64 + 18.0;
        }
    }
}

enum Mark {
    Line(Dash),
    Swatch,
    Dot,
}

pub struct LegendEntry {
    name: String,
    color: String,
    mark: Mark,
}

impl LegendEntry {
    pub fn line(name: &str, color: &str, dash: Dash) -> Self {
        LegendEntry {
            name: name.to_string(),
            color: color.to_string(),
            mark: Mark::Line(dash),
        }
    }

    pub fn swatch(name: &str, color: &str) -> Self {
        LegendEntry {
            name: name.to_string(),
            color: color.to_string(),
            mark: Mark::Swatch,
        }
    }

    pub fn dot(name: &str, color: &str) -> Self {
        LegendEntry {
            name: name.to_string(),
            color: color.to_string(),
            mark: Mark::Dot,
        }
    }
}
