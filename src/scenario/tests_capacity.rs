//! `capacity:` — what it becomes in the plan (defaults without it) and the exact
//! one-line error for each kind of mistake.

use std::time::Duration;

use super::tests::{edit, parse_str};
use super::*;

/// GOOD with a `capacity:` section of `keys` (one per line).
fn with(keys: &str) -> String {
    edit("settle: 2m\n", &format!("settle: 2m\ncapacity:\n{keys}"))
}

#[test]
fn capacity_keys_become_the_plan_and_default_without_them() {
    assert_eq!(
        parse_str(super::tests::GOOD).unwrap().capacity,
        CapacitySpec::default()
    );
    let plan = parse_str(&with(
        "  start: 20/s\n  max_rate: 6000/m\n  step: 5s\n  settle: 0s\n  max_steps: 8\n  \
         resolution: 2%\n  acceptance: 99.5%\n  submit_p99: 250ms\n  keep_up: 90%\n",
    ))
    .unwrap();
    assert_eq!(
        plan.capacity,
        CapacitySpec {
            start: 20.0,
            max_rate: 100.0,
            step: Duration::from_secs(5),
            settle: Duration::ZERO,
            max_steps: 8,
            resolution: 0.02,
            acceptance: 0.995,
            submit_p99: Duration::from_millis(250),
            keep_up: 0.9,
        }
    );
}

#[test]
fn capacity_mistakes_are_one_line_naming_the_key() {
    let table = [
        (
            "  start: fast\n",
            "t.yaml:42:10: capacity.start: invalid rate `fast`",
        ),
        (
            "  start: 2000/s\n",
            "t.yaml:42:10: capacity.start: 2000/s is above max_rate 1000/s",
        ),
        (
            "  step: 1s\n",
            "t.yaml:42:9: capacity.step: must be between 2s and 1h",
        ),
        (
            "  max_steps: 1\n",
            "t.yaml:42:14: capacity.max_steps: `1` is out of range",
        ),
        (
            "  resolution: 80%\n",
            "t.yaml:42:15: capacity.resolution: must be between 1% and 50%",
        ),
        (
            "  keep_up: 0%\n",
            "t.yaml:42:12: capacity.keep_up: must be more than 0%",
        ),
        (
            "  submit_p99: 0s\n",
            "t.yaml:42:15: capacity.submit_p99: must be more than 0",
        ),
        (
            "  max_rate: 50000/s\n  step: 1h\n",
            "capacity.step: a step at max_rate 50000/s plans",
        ),
        (
            "  sustained: 5\n",
            "t.yaml:42:3: capacity.sustained: unknown key `sustained`",
        ),
    ];
    for (keys, want) in table {
        let err = parse_str(&with(keys)).unwrap_err();
        assert!(err.contains(want), "{keys:?}: {err}");
        assert!(!err.contains('\n'), "{err}");
    }
    // The closed model has no rate to search.
    let closed = with("  start: 20/s\n").replace(
        "  messages_per_connection: 5\n",
        "  messages_per_connection: 5\n  model: closed\n",
    );
    let closed = closed
        .replace("{ rate: 200/s, for: 30s }", "{ for: 30s }")
        .replace("{ rate: 100/s, to: 300/s, for: 1m }", "{ for: 1m }");
    let err = parse_str(&closed).unwrap_err();
    assert!(
        err.contains("capacity: the capacity search needs the open model"),
        "{err}"
    );
}
