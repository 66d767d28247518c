//! A bar chart over categories (nodes, attempt counts): series side by side (grouped)
//! or on top of each other (stacked), with the value over each group.

use super::axes::{fmt_quantity, Scale};
use super::svg::Svg;
use super::{LegendEntry, Plot};
use crate::checks::fmt_count;

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
        let y = |v: f64| p.y(&scale, v);
        p.y_axis(&mut svg, &scale, fmt_quantity, &self.y_title);

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
                        &fmt_count(v),
                    );
                }
                base += v;
            }
            if self.stacked && base > 0 {
                svg.text(
                    (mid, y(base as f64) - 4.0),
                    "middle",
                    "bar-value",
                    &fmt_count(base),
                );
            }
            svg.text(
                (mid, p.top + p.inner_height() + 16.0),
                "middle",
                "tick",
                name,
            );
        }
        p.x_axis(&mut svg, &self.x_title);
        let legend: Vec<LegendEntry> = self
            .series
            .iter()
            .map(|s| LegendEntry::swatch(&s.name, &s.color))
            .collect();
        p.legend(&mut svg, &legend);
        svg.finish()
    }
}
