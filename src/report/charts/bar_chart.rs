//! A bar chart over categories (nodes, attempt counts): series side by side (grouped)
//! or on top of each other (stacked), with the value over each group.

use super::axes::{fmt_quantity, Scale};
use super::svg::{Dash, Svg};
use super::{LegendEntry, Plot};

pub struct BarSeries {
    pub name: String,
    pub color: String,
    pub values: Vec<u64>,
}

pub struct BarChart {
    pub id: String,
    pub label: String,
    pub categories: Vec<String>,
    pub x_title: String,
    pub y_title: String,
    pub series: Vec<BarSeries>,
    pub stacked: bool,
}

impl BarChart {
    pub fn render(&self) -> String {
        let p = Plot::standard();
        let mut svg = Svg::new(&self.id, p.width, p.height, &self.label);
        let n = self.categories.len().max(1);
        let value = |s: &BarSeries, c: usize| s.values.get(c).copied().unwrap_or(0);
        let top_of = |c: usize| -> u64 {
            if self.stacked {
                self.series.iter().map(|s| value(s, c)).sum()
            } else {
                self.series.iter().map(|s| value(s, c)).max().unwrap_or(0)
            }
        };
        let max = (0..n).map(top_of).max().unwrap_or(0);
        let scale = Scale::linear(max as f64);
        let y = |v: f64| p.top + p.inner_height() * (1.0 - scale.fraction(v));
        for v in scale.ticks() {
            let yy = y(v);
            svg.line(
                (p.left, yy),
                (p.width - p.right, yy),
                "#e3e6ea",
                1.0,
                Dash::Solid,
            );
            svg.text((p.left - 6.0, yy + 4.0), "end", "tick", &fmt_quantity(v));
        }
        svg.text_vertical(
            (13.0, p.top + p.inner_height() / 2.0),
            "axis-title",
            &self.y_title,
        );
        svg.text(
            (p.width - p.right, p.height - 4.0),
            "end",
            "axis-title",
            &self.x_title,
        );

        let slot = p.inner_width() / n as f64;
        let group = slot * 0.7;
        let bars = if self.stacked {
            1
        } else {
            self.series.len().max(1)
        };
        let bar = (group / bars as f64).min(48.0);
        for (c, name) in self.categories.iter().enumerate() {
            let mid = p.left + slot * (c as f64 + 0.5);
            let left = mid - bar * bars as f64 / 2.0;
            let mut base = 0u64;
            for (k, s) in self.series.iter().enumerate() {
                let v = value(s, c);
                let (x0, from) = if self.stacked {
                    (left, base)
                } else {
                    (left + bar * k as f64, 0)
                };
                let (y_top, y_bottom) = (y((from + v) as f64), y(from as f64));
                let tip = format!("{name}: {} {}", s.name, fmt_quantity(v as f64));
                svg.rect_titled(x0 + 1.0, y_top, bar - 2.0, y_bottom - y_top, &s.color, &tip);
                if !self.stacked {
                    svg.text(
                        (x0 + bar / 2.0, y_top - 4.0),
                        "middle",
                        "bar-value",
                        &count(v),
                    );
                }
                base += v;
            }
            if self.stacked && base > 0 {
                svg.text(
                    (mid, y(base as f64) - 4.0),
                    "middle",
                    "bar-value",
                    &count(base),
                );
            }
            svg.text(
                (mid, p.top + p.inner_height() + 16.0),
                "middle",
                "tick",
                name,
            );
        }
        svg.line(
            (p.left, p.top + p.inner_height()),
            (p.width - p.right, p.top + p.inner_height()),
            "#9aa3ad",
            1.0,
            Dash::Solid,
        );
        let legend: Vec<LegendEntry> = self
            .series
            .iter()
            .map(|s| LegendEntry::swatch(&s.name, &s.color))
            .collect();
        p.legend(&mut svg, &legend);
        svg.finish()
    }
}

/// `12,000`: exact counts over bars (ticks are rounded, these are not).
fn count(v: u64) -> String {
    let digits = v.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
