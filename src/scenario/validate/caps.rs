//! How many entries a scenario's lists and maps may hold, checked before any other rule:
//! a scenario of 10,000 remotes is refused on one line at once, before the rules that
//! compare entries with each other run, and a run never tries to bind thousands of
//! ports. The caps are far above any real scenario (see `scenarios/README.md`, Limits).

use serde_saphyr::Location;

use super::{Cx, RawCheck, RawScenario, RawTarget, ScenarioError};

/// The domains of all remotes together (the caps of `remotes` and `faults` are checked
/// by the rules shared with `fake-remotes`).
pub use fake_remotes::scenario_input::MAX_DOMAINS;
/// Entries of `load.steps` and `load.mix`, each on its own.
pub const MAX_STEPS: usize = 1_000;
pub const MAX_MIX: usize = 1_000;
/// Entries of `checks`, `target.smtp` and `target.probes`, each on its own, and the
/// domains of one isolation check's `healthy` list.
pub const MAX_CHECKS: usize = 100;
pub const MAX_ENDPOINTS: usize = 100;
pub const MAX_PROBES: usize = 100;
pub const MAX_HEALTHY: usize = MAX_DOMAINS;

/// The first list over its cap, pointing at its first entry beyond the cap.
pub(super) fn check(cx: &Cx, raw: &RawScenario) -> Result<(), ScenarioError> {
    let over = |what: &str, count: usize, max: usize, at: Location, path: String| {
        cx.err(
            at,
            path,
            format!("{count} {what}: at most {max} are allowed"),
        )
    };
    fake_remotes::scenario::validate::remote_caps(&raw.remotes.value).map_err(|e| cx.spec(e))?;
    let steps = &raw.load.steps.value;
    if let Some(step) = steps.get(MAX_STEPS) {
        let path = "load.steps".into();
        return Err(over("steps", steps.len(), MAX_STEPS, step.referenced, path));
    }
    let checks = &raw.checks.value;
    if let Some(check) = checks.get(MAX_CHECKS) {
        let path = "checks".into();
        return Err(over(
            "checks",
            checks.len(),
            MAX_CHECKS,
            check.referenced,
            path,
        ));
    }
    let mix = &raw.load.mix.value.0;
    if let Some((domain, _)) = mix.get(MAX_MIX) {
        return Err(over(
            "domains in the mix",
            mix.len(),
            MAX_MIX,
            domain.referenced,
            "load.mix".into(),
        ));
    }
    fake_remotes::scenario::validate::fault_cap(&raw.faults).map_err(|e| cx.spec(e))?;
    if let Some(section) = &raw.target {
        if let RawTarget::Smtp(endpoints) = &section.target {
            if let Some(e) = endpoints.value.get(MAX_ENDPOINTS) {
                let count = endpoints.value.len();
                let path = "target.smtp".into();
                return Err(over("endpoints", count, MAX_ENDPOINTS, e.referenced, path));
            }
        }
        if let Some(probes) = &section.probes {
            if let Some(p) = probes.value.get(MAX_PROBES) {
                let count = probes.value.len();
                let path = "target.probes".into();
                return Err(over("probes", count, MAX_PROBES, p.referenced, path));
            }
        }
    }
    for (i, check) in raw.checks.value.iter().enumerate() {
        if let RawCheck::Isolation(iso) = &check.value.check {
            if let Some(d) = iso.healthy.value.get(MAX_HEALTHY) {
                let count = iso.healthy.value.len();
                let path = format!("checks[{i}].isolation.healthy");
                return Err(over(
                    "healthy domains",
                    count,
                    MAX_HEALTHY,
                    d.referenced,
                    path,
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// A valid scenario with `n` copies of one list's entry (`{i}` numbers each copy).
    fn scenario(remotes: usize, faults: usize, steps: usize) -> String {
        let mut text = String::from("version: 1\nname: caps\nremotes:\n");
        for i in 0..remotes {
            text.push_str(&format!("  r{i}: {{ domains: [r{i}.test] }}\n"));
        }
        text.push_str("load:\n  steps:\n");
        for _ in 0..steps {
            text.push_str("    - { rate: 1/s, for: 1s }\n");
        }
        text.push_str("  mix: { r0.test: 100% }\nfaults:\n");
        for i in 0..faults {
            text.push_str(&format!(
                "  - {{ remote: r1, at: {i}ms, for: 1ms, fault: refuse }}\n"
            ));
        }
        text.push_str("checks: [no_loss]\n");
        text
    }

    #[test]
    fn lists_at_their_cap_pass_and_one_more_names_the_key_and_the_cap() {
        let table = [
            ((1_000, 1, 1), None),
            (
                (1_001, 1, 1),
                Some("t.yaml:1004:3: remotes: 1001 remotes: at most 1000 are allowed"),
            ),
            ((2, 1_000, 1), None),
            (
                (2, 1_001, 1),
                Some("t.yaml:1011:5: faults: 1001 faults: at most 1000 are allowed"),
            ),
            ((2, 1, 1_000), None),
            (
                (2, 1, 1_001),
                Some("t.yaml:1008:7: load.steps: 1001 steps: at most 1000 are allowed"),
            ),
        ];
        for ((remotes, faults, steps), want) in table {
            let text = scenario(remotes, faults, steps);
            let got = super::super::super::parse(&text, Path::new("t.yaml"));
            match want {
                None => assert!(got.is_ok(), "{remotes}/{faults}/{steps}: {:?}", got.err()),
                Some(want) => assert_eq!(got.unwrap_err().to_string(), want),
            }
        }
    }

    #[test]
    fn ten_thousand_remotes_are_refused_at_once() {
        let text = scenario(10_000, 1, 1);
        let started = std::time::Instant::now();
        let err = super::super::super::parse(&text, Path::new("t.yaml")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "t.yaml:1004:3: remotes: 10000 remotes: at most 1000 are allowed"
        );
        // Generous for a debug build on a loaded machine; the point is no quadratic work.
        assert!(started.elapsed() < std::time::Duration::from_secs(60));
    }
}
