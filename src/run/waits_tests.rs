use std::path::Path;

use super::*;

const HEAD: &str = "version: 1\nname: w\nremotes:\n  ok: { domains: [ok.test] }\n  down: { domains: [down.test] }\n";

fn plan(rest: &str) -> Plan {
    crate::scenario::parse(&format!("{HEAD}{rest}"), Path::new("w.yaml")).unwrap()
}

#[test]
fn the_longest_run_adds_the_waits_the_run_makes() {
    let load = "load:\n  steps: [ { rate: 10/s, for: 1m } ]\n  mix: { ok.test: 90%, down.test: 10% }\nchecks: [no_loss]\n";
    // (scenario after the remotes, remotes served elsewhere, longest run, settle end)
    let table: [(String, bool, u64, u64); 5] = [
        // Embedded target: load and settle (default 1m), nothing else.
        (load.to_string(), false, 120, 120),
        // A fault beyond the load moves the settle's end.
        (
            format!("{load}faults:\n  - {{ remote: down, at: 30s, for: 50s, fault: refuse }}\nsettle: 10s\n"),
            false,
            90,
            90,
        ),
        // An open-ended fault ends with the run: no later settle.
        (
            format!("{load}faults:\n  - {{ remote: down, at: 30s, fault: refuse }}\nsettle: 10s\n"),
            false,
            70,
            70,
        ),
        // External target, two endpoints: reachability 2 × 5s, preflight 30s, watch 5s.
        (
            format!("target: {{ smtp: [127.0.0.1:2525, 127.0.0.1:2526] }}\n{load}settle: 10s\n"),
            false,
            10 + 30 + 70 + 5,
            70,
        ),
        // Remotes served elsewhere, faulted: API 10s; catch-up 10s + 5s; heal 31s.
        (
            format!("{load}faults:\n  - {{ remote: down, at: 0s, for: 5s, fault: refuse }}\nsettle: 10s\n"),
            true,
            10 + 70 + 15 + 31,
            70,
        ),
    ];
    for (i, (rest, attached, longest, settle_end)) in table.into_iter().enumerate() {
        let mut p = plan(&rest);
        if attached {
            p.external_remotes = Some(crate::scenario::ExternalRemotes {
                url: "http://127.0.0.1:8025".into(),
                token: None,
                lease: Duration::from_secs(60),
            });
        }
        let w = WallClock::of(&p);
        assert_eq!(
            (w.longest(), w.settle_end),
            (
                Duration::from_secs(longest),
                Duration::from_secs(settle_end)
            ),
            "case {i}: {:#?}",
            w
        );
    }
}

#[test]
fn skipping_the_preflight_drops_its_wait() {
    let mut p = plan("target: { smtp: [127.0.0.1:2525] }\nload:\n  steps: [ { rate: 10/s, for: 10s } ]\n  mix: { ok.test: 100% }\nchecks: [no_loss]\nsettle: 5s\n");
    let with = WallClock::of(&p).longest();
    p.preflight.skip = true;
    assert_eq!(with - WallClock::of(&p).longest(), p.preflight.timeout);
}

#[test]
fn the_lines_name_every_fault_window_and_the_longest_run() {
    let p = plan("load:\n  steps: [ { rate: 10/s, for: 1m } ]\n  mix: { ok.test: 90%, down.test: 10% }\nfaults:\n  - { remote: down, at: 10s, for: 20s, fault: refuse }\n  - { remote: down, at: 40s, fault: blackhole }\n  - { exec: { name: reload, run: 'true', undo: 'true' }, at: 0s, for: 5s }\nchecks: [no_loss]\nsettle: 30s\n");
    assert_eq!(
        WallClock::of(&p).lines(),
        [
            "wall clock: load 1m (0s → 1m)",
            "  fault exec `reload`: 0s → 5s",
            "  fault remote down refuse: 10s → 30s",
            "  fault remote down blackhole: 40s → the end of the run",
            "  settle: up to 30s, ends by 1m 30s after load start",
            "  longest run: 1m 30s (load and settle 1m 30s)",
            "  plus the load's last messages, if still in flight when settle ends: each connect up to 5s, each SMTP reply up to 30s",
            "  plus 1 exec action(s): each command (run, undo) up to 1m, those at 0s before the load",
        ]
    );
}
