//! Scales and tick marks: time since load start on x, counts/rates (linear from zero)
//! or latencies (logarithmic, because a healthy 40 ms and a stuck 20 s must both be
//! readable on one chart) on y, with labels people read at a glance.

/// A value axis: maps data values to pixel rows (`y` grows downwards).
#[derive(Clone, Copy, Debug)]
pub enum Scale {
    /// `0..=max`.
    Linear { max: f64 },
    /// `10^lo..=10^hi` (decades).
    Log { lo: i32, hi: i32 },
}

impl Scale {
    /// A linear scale from zero to a round number above `max`, with a little headroom
    /// so a peak does not touch the frame.
    pub fn linear(max: f64) -> Self {
        Scale::Linear {
            max: nice_ceiling(max * 1.02),
        }
    }

    /// A log scale spanning whole decades around `min..=max` (values ≥ 1).
    pub fn log(min: f64, max: f64) -> Self {
        let lo = min.max(1.0).log10().floor() as i32;
        let hi = (max.max(1.0).log10().ceil() as i32).max(lo + 1);
        Scale::Log { lo, hi }
    }

    /// Position in `0..=1` of `v` along the axis (clamped).
    pub fn fraction(&self, v: f64) -> f64 {
        match *self {
            Scale::Linear { max } => (v / max).clamp(0.0, 1.0),
            Scale::Log { lo, hi } => {
                ((v.max(1.0).log10() - f64::from(lo)) / f64::from(hi - lo)).clamp(0.0, 1.0)
            }
        }
    }

    /// Values at which to draw grid lines.
    pub fn ticks(&self) -> Vec<f64> {
        match *self {
            Scale::Linear { max } => {
                let step = nice_step(max / 4.0);
                (0..)
                    .map(|i| f64::from(i) * step)
                    .take_while(|v| *v <= max * 1.0001)
                    .collect()
            }
            Scale::Log { lo, hi } => (lo..=hi).map(|e| 10f64.powi(e)).collect(),
        }
    }
}

/// The smallest of 1, 2, 2.5, 5 × 10^k at or above `v` (and 1 for nothing).
pub fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let step = nice_step(v / 4.0);
    (v / step).ceil() * step
}

/// A round step near `v`: 1, 2, 2.5 or 5 × 10^k.
fn nice_step(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    let m = v / mag;
    let nice = if m <= 1.0 {
        1.0
    } else if m <= 2.0 {
        2.0
    } else if m <= 2.5 {
        2.5
    } else if m <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// Tick positions (ms since load start) for a time axis over `0..=end_ms`: round steps,
/// at most about ten ticks.
pub fn time_ticks(end_ms: u32) -> Vec<u32> {
    const STEPS_S: [u32; 13] = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
    let end_s = end_ms / 1000;
    let step = STEPS_S
        .iter()
        .copied()
        .find(|s| end_s / s <= 10)
        .unwrap_or_else(|| (end_s / 10 / 3600 + 1) * 3600);
    (0..)
        .map(|i| i * step * 1000)
        .take_while(|t| *t <= end_ms)
        .collect()
}

/// `0s`, `45s`, `1m`, `1m 30s`, `2h`, `1h 15m`.
pub fn fmt_offset(ms: u32) -> String {
    let s = ms / 1000;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 if s % 60 == 0 => format!("{}m", s / 60),
        60..=3599 => format!("{}m {}s", s / 60, s % 60),
        _ if s % 3600 == 0 => format!("{}h", s / 3600),
        _ => format!("{}h {}m", s / 3600, (s % 3600) / 60),
    }
}

/// A latency tick: `1ms`, `100ms`, `1s`, `10s`, `100s`.
pub fn fmt_latency_tick(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{}ms", ms.round())
    } else {
        format!("{}s", (ms / 1000.0).round())
    }
}

/// A latency value in a tooltip: `312ms`, `4.2s`.
pub fn fmt_latency(ms: u32) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else if ms < 100_000 {
        format!("{:.1}s", f64::from(ms) / 1000.0)
    } else {
        format!("{}s", ms / 1000)
    }
}

/// A count or rate tick: `0`, `2.5`, `150`, `1.2k`, `3M`.
pub fn fmt_quantity(v: f64) -> String {
    let (scaled, suffix) = if v >= 1e6 {
        (v / 1e6, "M")
    } else if v >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let text = if (scaled - scaled.round()).abs() < 1e-9 {
        format!("{}", scaled.round())
    } else {
        format!("{scaled:.1}")
    };
    format!("{}{suffix}", text.trim_end_matches(".0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_ticks_are_round() {
        let s = Scale::linear(143.0);
        assert_eq!(s.ticks(), [0.0, 50.0, 100.0, 150.0]);
        assert_eq!(Scale::linear(0.0).ticks(), [0.0, 0.25, 0.5, 0.75, 1.0]);
        assert_eq!(Scale::linear(10.0).ticks(), [0.0, 5.0, 10.0, 15.0]);
        assert!((s.fraction(75.0) - 0.5).abs() < 1e-9);
    }

    #[test]
    fn log_spans_decades() {
        let s = Scale::log(40.0, 16_800.0);
        assert_eq!(s.ticks(), [10.0, 100.0, 1000.0, 10_000.0, 100_000.0]);
        assert!((s.fraction(1000.0) - 0.5).abs() < 1e-9);
        assert_eq!(Scale::log(0.0, 0.0).ticks(), [1.0, 10.0]);
    }

    #[test]
    fn time_axis_labels() {
        assert_eq!(
            time_ticks(40_000),
            (0..=8).map(|i| i * 5000).collect::<Vec<_>>()
        );
        assert_eq!(time_ticks(3_600_000).len(), 7);
        assert_eq!(fmt_offset(90_000), "1m 30s");
        assert_eq!(fmt_offset(4_500_000), "1h 15m");
        assert_eq!(fmt_quantity(1500.0), "1.5k");
        assert_eq!(fmt_quantity(2.5), "2.5");
        assert_eq!(fmt_quantity(150.0), "150");
        assert_eq!(fmt_latency_tick(100.0), "100ms");
        assert_eq!(fmt_latency(16_800), "16.8s");
    }
}
