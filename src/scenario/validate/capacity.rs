//! `capacity:` — the capacity search's settings: units, ranges, a start below the
//! ceiling, a ceiling within `safety.max_rate` for a target that is not loopback, and
//! the open model (a closed model has no rate to search).

use super::*;
use crate::scenario::capacity::{
    safety_caps, CapacitySpec, MAX_STEP, MAX_STEPS as MAX_SEARCH_STEPS,
};

/// Reads `capacity:` (defaults without it).
pub(super) fn capacity(
    cx: &Cx,
    raw: &RawScenario,
    load: &Load,
    target: &Target,
    safety: &crate::scenario::safety::Safety,
) -> Result<CapacitySpec, ScenarioError> {
    let caps = safety_caps(target, safety);
    let mut spec = CapacitySpec::default();
    if let Some((rate, _)) = caps {
        spec.max_rate = spec.max_rate.min(rate);
    }
    let Some(section) = &raw.capacity else {
        return Ok(spec);
    };
    if load.model == LoadModel::Closed {
        return Err(cx.err(
            section.referenced,
            "capacity",
            "the capacity search needs the open model (remove load.model: closed)",
        ));
    }
    let c = &section.value;
    let key = |k: &str| format!("capacity.{k}");
    let rate = |t: &Spanned<Text>, k: &str| {
        units::parse_rate(&t.value.0).map_err(|m| cx.err(t.referenced, key(k), m))
    };
    let percent = |t: &Spanned<Text>, k: &str| {
        let share = cx.percent(t, &key(k))?;
        if share <= 0.0 {
            return Err(cx.err(t.referenced, key(k), "must be more than 0%"));
        }
        Ok(share)
    };
    if let Some(t) = &c.start {
        spec.start = rate(t, "start")?;
    }
    if let Some(t) = &c.max_rate {
        spec.max_rate = rate(t, "max_rate")?;
    }
    if let Some(t) = &c.step {
        spec.step = cx.positive_duration(t, &key("step"), MAX_STEP)?;
    }
    if let Some(t) = &c.settle {
        spec.settle = cx.duration(t, &key("settle"), MAX_STEP)?;
    }
    if let Some(t) = &c.max_steps {
        spec.max_steps = cx.int(t, &key("max_steps"), 2, u64::from(MAX_SEARCH_STEPS))? as u32;
    }
    if let Some(t) = &c.resolution {
        spec.resolution = percent(t, "resolution")?;
    }
    if let Some(t) = &c.acceptance {
        spec.acceptance = percent(t, "acceptance")?;
    }
    if let Some(t) = &c.submit_p99 {
        spec.submit_p99 = cx.positive_duration(t, &key("submit_p99"), MAX_WAIT)?;
    }
    if let Some(t) = &c.keep_up {
        spec.keep_up = percent(t, "keep_up")?;
    }
    spec.check(caps).map_err(|(k, message)| {
        // The key that broke the rule, or the section when it was left to its default.
        let at = match k {
            "start" => c.start.as_ref(),
            "max_rate" => c.max_rate.as_ref(),
            "step" => c.step.as_ref(),
            "settle" => c.settle.as_ref(),
            "max_steps" => c.max_steps.as_ref(),
            "resolution" => c.resolution.as_ref(),
            "acceptance" => c.acceptance.as_ref(),
            "submit_p99" => c.submit_p99.as_ref(),
            _ => c.keep_up.as_ref(),
        };
        cx.err(
            at.map_or(section.referenced, |t| t.referenced),
            key(k),
            message,
        )
    })?;
    Ok(spec)
}
