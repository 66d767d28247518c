//! A minimal SVG writer: the elements the charts draw, with every piece of text and
//! every attribute value escaped (domain, node and fault names come from the scenario
//! and the cluster). Coordinates are rounded to 0.1 px to keep the page small.

use std::fmt::Write as _;

/// Escapes text for an XML/HTML text node or a double-quoted attribute.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A coordinate with one decimal, without a trailing `.0`.
pub fn num(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r == r.trunc() {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

/// Stroke styles for lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dash {
    Solid,
    Dashed,
    Dotted,
}

impl Dash {
    fn attr(self) -> &'static str {
        match self {
            Dash::Solid => "",
            Dash::Dashed => " stroke-dasharray=\"6 4\"",
            Dash::Dotted => " stroke-dasharray=\"2 3\"",
        }
    }
}

/// One `<svg>` element being written.
pub struct Svg {
    out: String,
}

impl Svg {
    /// Starts `<svg id=… viewBox="0 0 width height">` with an accessible label.
    pub fn new(id: &str, width: f64, height: f64, label: &str) -> Self {
        let mut out = String::new();
        let _ = write!(
            out,
            "<svg id=\"{}\" class=\"chart\" viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"{}\" xmlns=\"http://www.w3.org/2000/svg\">",
            esc(id),
            num(width),
            num(height),
            esc(label)
        );
        let _ = write!(out, "<title>{}</title>", esc(label));
        Svg { out }
    }

    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str, opacity: f64) {
        self.rect_with((x, y, w, h), fill, opacity, None);
    }

    /// A rectangle with a hover tooltip.
    pub fn rect_titled(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str, tip: &str) {
        self.rect_with((x, y, w, h), fill, 1.0, Some(tip));
    }

    fn rect_with(
        &mut self,
        (x, y, w, h): (f64, f64, f64, f64),
        fill: &str,
        opacity: f64,
        tip: Option<&str>,
    ) {
        let _ = write!(
            self.out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"{}",
            num(x),
            num(y),
            num(w.max(0.0)),
            num(h.max(0.0)),
            esc(fill),
            opacity_attr(opacity)
        );
        match tip {
            Some(tip) => {
                let _ = write!(self.out, "><title>{}</title></rect>", esc(tip));
            }
            None => self.out.push_str("/>"),
        }
    }

    pub fn line(
        &mut self,
        (x1, y1): (f64, f64),
        (x2, y2): (f64, f64),
        stroke: &str,
        width: f64,
        dash: Dash,
    ) {
        let _ = write!(
            self.out,
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"{}\"{}/>",
            num(x1),
            num(y1),
            num(x2),
            num(y2),
            esc(stroke),
            num(width),
            dash.attr()
        );
    }

    /// A polyline through `points`, with a tooltip naming the series.
    pub fn polyline(
        &mut self,
        points: &[(f64, f64)],
        stroke: &str,
        width: f64,
        dash: Dash,
        tip: &str,
    ) {
        if points.is_empty() {
            return;
        }
        let pts: Vec<String> = points
            .iter()
            .map(|&(x, y)| format!("{},{}", num(x), num(y)))
            .collect();
        let _ = write!(
            self.out,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{}\" stroke-linejoin=\"round\"{}><title>{}</title></polyline>",
            pts.join(" "),
            esc(stroke),
            num(width),
            dash.attr(),
            esc(tip)
        );
    }

    pub fn circle(&mut self, (x, y): (f64, f64), r: f64, fill: &str, tip: &str) {
        let _ = write!(
            self.out,
            "<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{}\"><title>{}</title></circle>",
            num(x),
            num(y),
            num(r),
            esc(fill),
            esc(tip)
        );
    }

    /// Text; `anchor` is `start`, `middle` or `end`; `class` picks a style of the page.
    pub fn text(&mut self, (x, y): (f64, f64), anchor: &str, class: &str, text: &str) {
        let _ = write!(
            self.out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"{anchor}\" class=\"{class}\">{}</text>",
            num(x),
            num(y),
            esc(text)
        );
    }

    /// Text read bottom to top (a y-axis title), centred on `(x, y)`.
    pub fn text_vertical(&mut self, (x, y): (f64, f64), class: &str, text: &str) {
        let _ = write!(
            self.out,
            "<text x=\"{x}\" y=\"{y}\" text-anchor=\"middle\" class=\"{class}\" transform=\"rotate(-90 {x} {y})\">{}</text>",
            esc(text),
            x = num(x),
            y = num(y),
        );
    }

    pub fn finish(mut self) -> String {
        self.out.push_str("</svg>");
        self.out
    }
}

fn opacity_attr(opacity: f64) -> String {
    if opacity >= 1.0 {
        String::new()
    } else {
        format!(" fill-opacity=\"{}\"", (opacity * 100.0).round() / 100.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_outside_is_escaped() {
        let mut s = Svg::new("c\"1", 10.0, 10.0, "<b>&'");
        s.text((1.0, 2.0), "start", "t", "</svg><script>x</script>");
        let out = s.finish();
        assert!(!out.contains("<script>"), "{out}");
        assert!(out.contains("&lt;/svg&gt;&lt;script&gt;"), "{out}");
        assert!(out.contains("id=\"c&quot;1\""), "{out}");
        assert_eq!(
            (num(1.04), num(2.0), num(-0.25)),
            ("1".into(), "2".into(), "-0.3".into())
        );
    }
}
