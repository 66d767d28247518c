//! `settle` must outlast every drain window: a run that stops measuring (load end, or
//! the last fault's end, + `settle`) before a `drain` check's window closes (its fault's
//! end + `within`) judges mail that was never given its time, and blames the cluster.

use std::time::Duration;

use super::*;

/// The first drain window that closes after the run ends, as a one-line error naming
/// both figures and the `settle` it needs.
pub(super) fn covers_drains(cx: &Cx, raw: &RawScenario, plan: &Plan) -> Result<(), ScenarioError> {
    let load_end = plan.load.duration();
    let timeline_end = plan.timeline_end();
    let (base, base_what) = if timeline_end > load_end {
        (timeline_end, "the last fault ends")
    } else {
        (load_end, "the load ends")
    };
    let run_end = base + plan.settle;
    for (i, check) in plan.checks.iter().enumerate() {
        let Check::Drain { domain, within } = check else {
            continue;
        };
        let Some(fault_end) = last_healing(plan, domain) else {
            continue;
        };
        let closes = fault_end + *within;
        if closes <= run_end {
            continue;
        }
        let needed = closes - base;
        let (at, path) = match &raw.settle {
            Some(s) => (s.referenced, "settle".to_string()),
            None => (raw.checks.value[i].referenced, format!("checks[{i}].drain")),
        };
        return Err(cx.err(
            at,
            path,
            format!(
                "the run ends at {} ({base_what} at {} + settle {}), before the drain window of `{domain}` closes at {} (its fault ends at {} + within {}): `settle` needs at least {}",
                fmt(run_end),
                fmt(base),
                fmt(plan.settle),
                fmt(closes),
                fmt(fault_end),
                fmt(*within),
                fmt(needed),
            ),
        ));
    }
    Ok(())
}

/// When the last fault on `domain`'s remote heals, among those the drain check judges
/// (a fault that ends inside an open-ended one never heals before the run ends).
fn last_healing(plan: &Plan, domain: &str) -> Option<Duration> {
    let remote = plan.remote_for(domain)?;
    let on_remote: Vec<&FaultWindow> = plan
        .faults
        .iter()
        .filter(
            |f| matches!(&f.subject, FaultSubject::Remote { remote: r, .. } if *r == remote.name),
        )
        .collect();
    on_remote
        .iter()
        .filter_map(|f| f.end())
        .filter(|&end| {
            !on_remote
                .iter()
                .any(|o| o.duration.is_none() && o.at <= end)
        })
        .max()
}

fn fmt(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::scenario;

    /// The scenario: `slow.test` refused 5s–30s, drain within 45s, load 20s.
    fn scenario(settle: Option<&str>) -> String {
        let settle = settle.map_or(String::new(), |s| format!("settle: {s}\n"));
        format!(
            "version: 1\nname: s\ntarget:\n  embedded: {{ nodes: 2, queue: per-destination, retry: {{ min_backoff: 10s, max_backoff: 30s }} }}\n\
             remotes:\n  ok: {{ domains: [ok.test] }}\n  slow: {{ domains: [slow.test] }}\n\
             load:\n  steps: [ {{ rate: 40/s, for: 20s }} ]\n  mix: {{ ok.test: 50%, slow.test: 50% }}\n\
             faults:\n  - {{ remote: slow, at: 5s, for: 25s, fault: refuse }}\n\
             checks:\n  - {{ drain: {{ domain: slow.test, within: 45s }} }}\n  - no_loss\n{settle}"
        )
    }

    #[test]
    fn settle_shorter_than_a_drain_window_is_refused_in_one_line() {
        let table = [
            (
                Some("5s"),
                Err("s.yaml:16:9: settle: the run ends at 35s (the last fault ends at 30s + settle 5s), before the drain window of `slow.test` closes at 1m 15s (its fault ends at 30s + within 45s): `settle` needs at least 45s"),
            ),
            (Some("45s"), Ok(())),
            (Some("60s"), Ok(())),
            // The default settle (60s) covers it.
            (None, Ok(())),
        ];
        for (settle, want) in table {
            let got = scenario::parse(&scenario(settle), Path::new("s.yaml"))
                .map(|_| ())
                .map_err(|e| e.to_string());
            assert_eq!(got, want.map_err(String::from), "settle {settle:?}");
        }
    }

    /// Without `settle:` the error points at the drain check.
    #[test]
    fn without_settle_the_error_points_at_the_drain_check() {
        let text = scenario(None).replace("within: 45s", "within: 2m");
        let err = scenario::parse(&text, Path::new("s.yaml"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "s.yaml:14:5: checks[0].drain: the run ends at 1m 30s (the last fault ends at 30s + settle 1m), before the drain window of `slow.test` closes at 2m 30s (its fault ends at 30s + within 2m): `settle` needs at least 2m"
        );
    }
}
