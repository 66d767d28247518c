//! `isolation.baseline`: the steady-state window judged before the first fault, and the
//! warning when it will hold too few healthy messages to judge (a warning, not an error:
//! the steady state is then simply not judged, see `checks/steady_state.rs`).

use std::time::Duration;

use serde_saphyr::{Location, Spanned};

use super::load::IndexedFaults;
use super::*;
use crate::scenario::min_baseline_messages;

/// The explicit baseline window, if any (`from < to ≤ the first fault`), and a warning in
/// `warnings` when the planned load puts too few healthy messages in the baseline.
#[allow(clippy::too_many_arguments)]
pub(super) fn baseline(
    cx: &Cx,
    p: &str,
    at: Location,
    raw: Option<&Spanned<RawWindow>>,
    during: &During,
    healthy: &[String],
    percentile: f64,
    load: &Load,
    faults: &IndexedFaults,
    warnings: &mut Vec<String>,
) -> Result<Option<(Duration, Duration)>, ScenarioError> {
    let first_fault = faults.iter().map(|(_, f)| f.at).min();
    let explicit = match raw {
        None => None,
        Some(w) => {
            let key = format!("{p}.baseline");
            let (from, to) = window(cx, &key, &w.value)?;
            if let Some(first) = first_fault.filter(|&f| to > f) {
                return Err(cx.err(
                    w.value.to.referenced,
                    format!("{key}.to"),
                    format!(
                        "the baseline must end by the first fault (at {}), not at {}",
                        humantime::format_duration(first),
                        humantime::format_duration(to)
                    ),
                ));
            }
            Some((from, to))
        }
    };
    let window = explicit.or_else(|| {
        let end = first_fault.or(match during {
            During::Window { from, .. } => Some(*from),
            During::Faults => None,
        })?;
        Some((Duration::ZERO, end))
    });
    // No baseline (first fault at 0s): not judged, and the report says so; the closed
    // model plans no rate to count with.
    let Some((from, to)) = window.filter(|(a, b)| a < b) else {
        return Ok(explicit);
    };
    if load.model != LoadModel::Open {
        return Ok(explicit);
    }
    let share: f64 = load
        .mix
        .iter()
        .filter(|(d, _)| healthy.iter().any(|h| h.eq_ignore_ascii_case(d)))
        .map(|(_, s)| s)
        .sum::<f64>()
        / load
            .mix
            .iter()
            .map(|(_, s)| s)
            .sum::<f64>()
            .max(f64::MIN_POSITIVE);
    let expected = planned_between(load, from, to) * share;
    let needed = min_baseline_messages(percentile);
    if expected < needed as f64 {
        let (at, key) = match raw {
            Some(w) => (w.referenced, format!("{p}.baseline")),
            None => (at, p.to_string()),
        };
        let text = format!(
            "warning: the steady-state baseline {}–{} holds about {} healthy messages, fewer than the {needed} needed to judge p{percentile}: steady_state will not be judged (start the first fault later, or raise the rate)",
            humantime::format_duration(from),
            humantime::format_duration(to),
            expected.round() as u64
        );
        warnings.push(cx.err(at, key, text).to_string());
    }
    Ok(explicit)
}

/// A `{ from, to }` window at `key` (`during`, `baseline`): `from` before `to`.
pub(super) fn window(
    cx: &Cx,
    key: &str,
    w: &RawWindow,
) -> Result<(Duration, Duration), ScenarioError> {
    let from = cx.duration(&w.from, &format!("{key}.from"), MAX_SPAN)?;
    let to = cx.duration(&w.to, &format!("{key}.to"), MAX_SPAN)?;
    if from >= to {
        return Err(cx.err(
            w.to.referenced,
            format!("{key}.to"),
            format!(
                "`from` ({}) must be before `to` ({})",
                humantime::format_duration(from),
                humantime::format_duration(to)
            ),
        ));
    }
    Ok((from, to))
}

/// Messages the open-model steps plan in `[from, to)`: each step's rate integrated over
/// its overlap with the window (a ramp is linear).
fn planned_between(load: &Load, from: Duration, to: Duration) -> f64 {
    let (from, to) = (from.as_secs_f64(), to.as_secs_f64());
    let mut start = 0.0;
    let mut total = 0.0;
    for step in &load.steps {
        let len = step.duration.as_secs_f64();
        let (a, b) = (from.max(start), to.min(start + len));
        if a < b && len > 0.0 {
            let rate_at = |t: f64| {
                let end = step.to.unwrap_or(step.rate);
                step.rate + (end - step.rate) * (t - start) / len
            };
            total += (rate_at(a) + rate_at(b)) / 2.0 * (b - a);
        }
        start += len;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planned_between_integrates_steps_and_ramps() {
        let step = |rate, to, secs| Step {
            rate,
            to,
            duration: Duration::from_secs(secs),
        };
        let good = crate::scenario::tests::GOOD;
        let mut load = crate::scenario::parse(good, std::path::Path::new("t.yaml"))
            .expect("GOOD is valid")
            .load;
        load.steps = vec![step(100.0, None, 10), step(0.0, Some(100.0), 10)];
        let s = Duration::from_secs;
        let cases = [
            (0, 5, 500.0),
            (5, 15, 500.0 + 125.0),
            (10, 20, 500.0),
            (20, 30, 0.0),
        ];
        for (a, b, want) in cases {
            let got = planned_between(&load, s(a), s(b));
            assert!((got - want).abs() < 1e-6, "{a}–{b}: {got}");
        }
    }
}
