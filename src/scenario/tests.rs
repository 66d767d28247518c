//! Tests of the whole loader on inline YAML: the mapping to [`Plan`], the semantic rules
//! (one table row per rule), and that no input makes it panic.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use fake_remotes::behavior::Tarpit;
use fake_remotes::Fault;
use proptest::prelude::*;

use super::*;

pub(super) const GOOD: &str = "\
version: 1
name: seed-incident
description: A destination refuses connections mid-flood.
seed: 7
target:
  embedded:
    nodes: 3
    queue: shared
    concurrency: 4
    timeouts: { connect: 2s, reply: 3s }
    retry: { min_backoff: 500ms, max_backoff: 4s }
    dead_after: 3
    max_queue_lifetime: 5m
remotes:
  ok: { domains: [ok.test, Also.test] }
  down: { domains: [down.test], listen: 127.0.0.1:3002 }
load:
  steps:
    - { rate: 200/s, for: 30s }
    - { rate: 100/s, to: 300/s, for: 1m }
  mix: { ok.test: 80%, also.test: 10%, down.test: 10% }
  message: { size: 4KiB, recipients: 2 }
  sessions: 20
  messages_per_connection: 5
faults:
  - { remote: down, at: 40s, for: 20s, fault: { tarpit: { banner: 2s } } }
  - { remote: down, at: 10s, for: 20s, fault: refuse }
  - { node: n2, at: 5s, fault: stuck }
checks:
  - { isolation: { healthy: [ok.test], during: faults, p99: 5s } }
  - { isolation: { healthy: [also.test], during: { from: 10s, to: 30s }, p99.9: 1s, min_delivered: 95% } }
  - { drain: { domain: down.test, within: 30s } }
  - no_loss
  - no_duplicates
  - { no_duplicates: { max: 2 } }
  - nodes
  - { nodes: { min_ratio: 50% } }
  - { acceptance: { min: 98%, p95: 1s } }
  - { acceptance: {} }
settle: 2m
preflight: { timeout: 10s }
";

pub(super) fn parse_str(text: &str) -> Result<Plan, String> {
    parse(text, Path::new("t.yaml")).map_err(|e| e.to_string())
}

/// GOOD with `from` replaced by `to` (exactly once, so the table cannot silently miss).
pub(super) fn edit(from: &str, to: &str) -> String {
    assert_eq!(
        GOOD.matches(from).count(),
        1,
        "`{from}` must occur once in GOOD"
    );
    GOOD.replacen(from, to, 1)
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn good_scenario_maps_to_the_plan() {
    let plan = parse_str(GOOD).unwrap();
    let local = |port| SocketAddr::from(([127, 0, 0, 1], port));
    let want = Plan {
        name: "seed-incident".into(),
        description: "A destination refuses connections mid-flood.".into(),
        seed: 7,
        source: "t.yaml".into(),
        sets: Vec::new(),
        target: Target::Embedded(EmbeddedSpec {
            nodes: 3,
            queue: QueueDesign::Shared,
            concurrency: 4,
            connect_timeout: secs(2),
            reply_timeout: secs(3),
            min_backoff: Duration::from_millis(500),
            max_backoff: secs(4),
            dead_after: 3,
            max_queue_lifetime: secs(300),
        }),
        remotes: vec![
            RemoteSpec {
                name: "ok".into(),
                domains: vec!["ok.test".into(), "also.test".into()],
                // No `listen:`: each remote on its own loopback address.
                listen: "127.0.1.1:0".parse().unwrap(),
            },
            RemoteSpec {
                name: "down".into(),
                domains: vec!["down.test".into()],
                listen: local(3002),
            },
            RemoteSpec {
                name: "bounces".into(),
                domains: vec!["bounces.test".into()],
                listen: "127.0.1.3:0".parse().unwrap(),
            },
        ],
        external_remotes: None,
        load: Load {
            model: LoadModel::Open,
            tls: TlsSpec::default(),
            auth: None,
            hlog_interval: Duration::from_secs(1),
            max_shortfall: 0.01,
            steps: vec![
                Step {
                    rate: 200.0,
                    to: None,
                    duration: secs(30),
                },
                Step {
                    rate: 100.0,
                    to: Some(300.0),
                    duration: secs(60),
                },
            ],
            mix: vec![
                ("ok.test".into(), 0.8),
                ("also.test".into(), 0.1),
                ("down.test".into(), 0.1),
            ],
            message: MessageSpec {
                size: SizeSpec::Fixed(4096),
                recipients: 2,
            },
            sessions: 20,
            messages_per_connection: 5,
        },
        faults: vec![
            FaultWindow {
                subject: FaultSubject::Node {
                    node: "n2".into(),
                    fault: NodeFault::Stuck,
                },
                at: secs(5),
                duration: None,
            },
            FaultWindow {
                subject: FaultSubject::Remote {
                    remote: "down".into(),
                    fault: Fault::REFUSE,
                },
                at: secs(10),
                duration: Some(secs(20)),
            },
            FaultWindow {
                subject: FaultSubject::Remote {
                    remote: "down".into(),
                    fault: Fault::Tarpit(Tarpit {
                        banner: Some(secs(2)),
                        ..Tarpit::default()
                    }),
                },
                at: secs(40),
                duration: Some(secs(20)),
            },
        ],
        abort_on_fail: Vec::new(),
        checks: vec![
            Check::Isolation {
                healthy: vec!["ok.test".into()],
                during: During::Faults,
                percentile: 99.0,
                limit: secs(5),
                min_delivered: 0.9,
                baseline: None,
            },
            Check::Isolation {
                healthy: vec!["also.test".into()],
                during: During::Window {
                    from: secs(10),
                    to: secs(30),
                },
                percentile: 99.9,
                limit: secs(1),
                min_delivered: 0.95,
                baseline: None,
            },
            Check::Drain {
                domain: "down.test".into(),
                within: secs(30),
            },
            Check::NoLoss,
            Check::NoDuplicates { max: 0 },
            Check::NoDuplicates { max: 2 },
            Check::Nodes { min_ratio: 0.0 },
            Check::Nodes { min_ratio: 0.5 },
            Check::Acceptance {
                min_accepted: 0.98,
                percentile: 95.0,
                limit: Some(secs(1)),
            },
            Check::Acceptance {
                min_accepted: 0.99,
                percentile: 99.0,
                limit: None,
            },
        ],
        settle: secs(120),
        probes: vec![],
        preflight: Preflight {
            timeout: secs(10),
            skip: false,
        },
        safety: crate::scenario::safety::Safety {
            // 5s before the first fault at 200/s, 10% to also.test: too few for p99.9.
            warnings: vec!["t.yaml:31:5: checks[1].isolation: warning: the steady-state baseline 0s–5s holds about 100 healthy messages, fewer than the 1000 needed to judge p99.9: steady_state will not be judged (start the first fault later, or raise the rate)".into()],
            ..Default::default()
        },
        capacity: Default::default(),
    };
    assert_eq!(plan, want);
    assert_eq!(
        describe(&plan),
        "3 remotes (ok, down, bounces), embedded cluster of 3 nodes (shared), 18000 messages \
         over 1m 30s, 3 faults, 10 checks (isolation, isolation, drain, no_loss, \
         no_duplicates, no_duplicates, nodes, nodes, acceptance, acceptance)"
    );
}

#[test]
fn minimal_scenario_gets_the_defaults() {
    let text = "version: 1\nname: min\nremotes: { ok: { domains: [ok.test] } }\n\
                load: { steps: [{ rate: 10/s, for: 1s }], mix: { ok.test: 100% } }\n\
                checks: [no_loss]\n";
    let plan = parse_str(text).unwrap();
    assert_eq!(plan.seed, 1);
    assert_eq!(plan.description, "");
    assert_eq!(plan.target, Target::Embedded(EmbeddedSpec::default()));
    assert_eq!(
        plan.load.message,
        MessageSpec {
            size: SizeSpec::Fixed(2048),
            recipients: 1
        }
    );
    assert_eq!(
        (plan.load.sessions, plan.load.messages_per_connection),
        (50, 10)
    );
    assert_eq!(plan.settle, secs(60));
    assert_eq!(plan.remotes.last().unwrap().name, BOUNCE_REMOTE);
}

#[test]
fn smtp_target_and_declared_bounce_remote() {
    let text = edit(
        "target:\n  embedded:\n    nodes: 3\n    queue: shared\n    concurrency: 4\n    \
         timeouts: { connect: 2s, reply: 3s }\n    retry: { min_backoff: 500ms, max_backoff: 4s }\n    \
         dead_after: 3\n    max_queue_lifetime: 5m\n",
        "target:\n  smtp: [127.0.0.1:2525, \"localhost:2526\", \"[::1]:25\"]\n",
    )
    .replace("  - { node: n2, at: 5s, fault: stuck }\n", "")
    .replace("  ok: {", "  dsn: { domains: [bounces.test] }\n  ok: {");
    let plan = parse_str(&text).unwrap();
    assert_eq!(
        plan.target,
        Target::Smtp(vec![
            "127.0.0.1:2525".into(),
            "localhost:2526".into(),
            "[::1]:25".into()
        ])
    );
    let names: Vec<&str> = plan.remotes.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["dsn", "ok", "down"]);
}

#[test]
fn semantic_rules() {
    let table: &[(&str, &str, &str)] = &[
        ("name: seed-incident", "name: seed incident",
         "t.yaml:2:7: name: invalid name `seed incident`: use 1 to 64 letters, digits, `.`, `_` or `-` (it names the report folder)"),
        ("    nodes: 3", "    nodes: 17",
         "t.yaml:7:12: target.embedded.nodes: `17` is out of range: expected a whole number between 1 and 16"),
        ("max_backoff: 4s", "max_backoff: 100ms",
         "t.yaml:11:47: target.embedded.retry.max_backoff: min_backoff (500ms) must not exceed max_backoff (100ms)"),
        ("connect: 2s", "connect: 0s",
         "t.yaml:10:26: target.embedded.timeouts.connect: must be more than 0"),
        ("[down.test]", "[down.test, OK.test]",
         "t.yaml:16:32: remotes.down.domains[1]: domain `ok.test` is served by both `ok` and `down`: a domain belongs to one remote"),
        ("[down.test]", "[down.test, Down.test]",
         "t.yaml:16:32: remotes.down.domains[1]: domain `down.test` is listed twice"),
        ("  ok: {", "  bounces: { domains: [b.test] }\n  ok: {",
         "t.yaml:15:3: remotes.bounces: the remote named `bounces` must serve `bounces.test` (bounces are collected there); add it to its domains or rename the remote"),
        ("  ok: {", "  value: { domains: [b_.test] }\n  ok: {",
         "t.yaml:15:22: remotes.value.domains[0]: invalid domain `b_.test`: expected a name such as ok.test"),
        ("also.test: 10%", "bounces.test: 10%",
         "t.yaml:21:24: load.mix.bounces.test: `bounces.test` receives the cluster's bounces; it cannot be in the mix"),
        ("also.test: 10%", "also.test: 0%, x.test: 10%",
         "t.yaml:21:35: load.mix.also.test: a share must be more than 0%; leave the domain out instead"),
        ("also.test: 10%", "ALSO.test: 5%, also.test: 5%",
         "t.yaml:21:39: load.mix.also.test: `also.test` is in the mix twice"),
        ("{ rate: 200/s, for: 30s }", "{ rate: 200/s, for: 0s }",
         "t.yaml:19:27: load.steps[0].for: must be more than 0"),
        ("{ rate: 200/s, for: 30s }", "{ rate: 200/s, to: 60001/s, for: 30s }",
         "t.yaml:19:26: load.steps[0].to: rate `60001/s` is above the cap of 50000/s"),
        ("{ rate: 200/s, for: 30s }", "{ rate: 40000/s, for: 5m }",
         "t.yaml:19:5: load.steps: the steps plan 12012000 messages, more than the cap of 10000000"),
        ("{ rate: 200/s, for: 30s }", "{ rate: 1/s, for: 7d }",
         "t.yaml:19:5: load.steps: the steps last 7days 1m, more than the cap of 7days"),
        ("size: 4KiB", "size: 4kb",
         "t.yaml:22:20: load.message.size: invalid size `4kb`: expected bytes or a number and a unit, e.g. 2048, 4KiB, 1MiB, 10KB"),
        ("sessions: 20", "sessions: 0",
         "t.yaml:23:13: load.sessions: `0` is out of range: expected a whole number between 1 and 10000"),
        ("at: 40s", "at: 2m",
         "t.yaml:26:25: faults[0].at: starts at 2m, but the load ends at 1m 30s"),
        ("{ remote: down, at: 10s", "{ remote: down, node: n1, at: 10s",
         "t.yaml:27:27: faults[1].node: give one of `remote` or `node`, not both"),
        ("{ remote: down, at: 10s", "{ at: 10s",
         "t.yaml:27:5: faults[1]: missing `remote` or `node`: the fault needs a subject"),
        ("at: 10s, for: 20s, fault: refuse", "at: 10s, for: 20s, fault: stuck",
         "t.yaml:27:47: faults[1].fault: `stuck` is a node fault; a remote takes refuse, unreachable, reset, blackhole, tarpit, reply, disconnect, greylist, rate_limit or tls"),
        ("at: 5s, fault: stuck", "at: 5s, fault: refuse",
         "t.yaml:28:32: faults[2].fault: `refuse` is a remote fault; a node takes only `stuck`"),
        ("node: n2", "node: n02",
         "t.yaml:28:13: faults[2].node: no node named `n02` (nodes: n1..n3)"),
        ("at: 40s, for: 20s", "at: 40s, for: 0s",
         "t.yaml:26:35: faults[0].for: must be more than 0"),
        ("fault: refuse", "fault: { reply: { stage: rcpt, code: 600 } }",
         "t.yaml:27:47: faults[1].fault.reply: reply code 600 is out of range: expected 200 to 599"),
        ("healthy: [ok.test]", "healthy: [down.test]",
         "t.yaml:30:30: checks[0].isolation.healthy[0]: `down.test` is served by remote `down`, which faults[0] targets: a healthy domain's remote must have no fault"),
        ("healthy: [ok.test]", "healthy: [ok.test], p50: 1s",
         "t.yaml:30:70: checks[0].isolation.p99: give one percentile limit, not both `p50` and `p99`"),
        ("during: faults, p99: 5s", "during: faults",
         "t.yaml:30:5: checks[0].isolation: needs a latency limit, one of: p50, p90, p95, p99, p99.9"),
        ("{ from: 10s, to: 30s }", "{ from: 30s, to: 30s }",
         "t.yaml:31:67: checks[1].isolation.during.to: `from` (30s) must be before `to` (30s)"),
        ("during: faults, p99: 5s", "during: faults, p99: 5s, baseline: { from: 3s, to: 3s }",
         "t.yaml:30:91: checks[0].isolation.baseline.to: `from` (3s) must be before `to` (3s)"),
        ("during: faults, p99: 5s", "during: faults, p99: 5s, baseline: { from: 0s, to: 8s }",
         "t.yaml:30:91: checks[0].isolation.baseline.to: the baseline must end by the first fault (at 5s), not at 8s"),
        ("min_delivered: 95%", "min_delivered: 0.95",
         "t.yaml:31:100: checks[1].isolation.min_delivered: invalid percentage `0.95`: expected a number and a % sign, e.g. 90%, 99.5%"),
        ("also.test: 10%, down.test: 10%", "also.test: 20%",
         "t.yaml:32:24: checks[2].drain.domain: `down.test` is not in load.mix: no mail is sent to it"),
        ("{ max: 2 }", "{ max: -2 }",
         "t.yaml:35:29: checks[5].no_duplicates.max: invalid number `-2`: expected a whole number between 0 and 4294967295"),
        ("min_ratio: 50%", "min_ratio: 150%",
         "t.yaml:37:27: checks[7].nodes.min_ratio: percentage `150%` is above 100%"),
        ("settle: 2m", "settle: 2h",
         "t.yaml:40:9: settle: duration `2h` is above the cap of 1h"),
        ("timeout: 10s", "timeout: 0s",
         "t.yaml:41:23: preflight.timeout: must be more than 0"),
        ("timeout: 10s", "timout: 10s",
         "t.yaml:41:14: preflight.timout: unknown key `timout`, expected one of timeout"),
        ("seed: 7", "seed: -7",
         "t.yaml:4:7: seed: invalid number `-7`: expected a whole number of at least 0"),
        ("version: 1", "version: one",
         "t.yaml:1:10: version: unsupported version `one`: this mailquake reads version 1"),
    ];
    for (from, to, want) in table {
        assert_eq!(
            parse_str(&edit(from, to)).unwrap_err(),
            *want,
            "{from} → {to}"
        );
    }
}

/// `isolation.baseline` maps to the plan; a baseline with enough healthy mail draws no
/// warning (the seed's p99.9 check, 5s before the first fault, draws one: see above).
#[test]
fn isolation_baseline_maps_to_the_plan() {
    let plan = parse_str(&edit(
        "during: faults, p99: 5s",
        "during: faults, p99: 5s, baseline: { from: 1s, to: 5s }",
    ))
    .unwrap();
    let Check::Isolation { baseline, .. } = &plan.checks[0] else {
        panic!("{:?}", plan.checks[0])
    };
    assert_eq!(*baseline, Some((secs(1), secs(5))));
    assert_eq!(plan.safety.warnings.len(), 1, "{:?}", plan.safety.warnings);
    assert!(plan.safety.warnings[0].contains("checks[1].isolation"));
}

/// Shape mistakes caught while reading the YAML, in the scenario's words.
#[test]
fn shape_errors() {
    let table: &[(&str, &str, &str)] = &[
        ("target:\n  embedded:\n", "target:\n  smtp: [a.test:25]\n  embedded:\n",
         "t.yaml:6:3: target: write one of `embedded` or `smtp`, not both"),
        ("checks:\n", "checks: no_loss\nx:\n",
         "t.yaml:29:9: checks: expected a list (`- item` lines or `[ … ]`)"),
        ("settle: 2m\n", "settle: 2m\n---\nversion: 1\n",
         "t.yaml:42:1: a scenario file holds one YAML document: remove the second `---` and what follows"),
        ("fault: refuse", "fault: { refuse: { open_sessions: later } }",
         "t.yaml:27:74: faults[1].fault.refuse.open_sessions: unknown value `later`, expected one of reset, silent, keep"),
        ("  - no_loss\n", "  - { no_loss: { max: 1 } }\n",
         "t.yaml:33:18: checks[3].no_loss.max: unknown key `max`: this takes no settings"),
        ("name: seed-incident", "name:",
         "t.yaml:2:5: name: a value is required here"),
        ("name: seed-incident", "name: seed-incident\nname: again",
         "t.yaml:3:1: duplicate key `name`: each key may appear once"),
        ("{ ok.test: 80%,", "{ ok.test: [80%],",
         "t.yaml:21:19: load.mix.ok.test: expected a single value, not a list or a map"),
        ("  down: {", "  down: down.test\n  x: {",
         "t.yaml:16:9: remotes.down: expected a map (`key: value` lines or `{ … }`)"),
        ("fault: refuse", "fault: tarpit",
         "t.yaml:27:40: faults[1].fault: invalid type: string \"tarpit\", expected the fault's settings as a map, e.g. fault: { tarpit: { banner: 2s } }"),
        ("  - no_loss\n", "  - no_los\n",
         "t.yaml:33:5: checks[3]: unknown check `no_los`, expected one of isolation, drain, no_loss, no_duplicates, nodes, acceptance, queue, alert"),
        ("  - no_loss\n", "  - drain\n",
         "t.yaml:33:5: checks[3]: invalid type: string \"drain\", expected a map with its settings, e.g. { drain: { domain: x.test, within: 30s } }"),
        ("  - no_loss\n", "  - { no_loss: {}, nodes: {} }\n",
         "t.yaml:33:5: checks[3]: a check is a map with one check name (and optionally abort_on_fail)"),
        ("during: faults", "during: always",
         "t.yaml:30:40: checks[0].isolation.during: invalid value: string \"always\", expected `faults` or a window such as { from: 10s, to: 30s }"),
    ];
    for (from, to, want) in table {
        assert_eq!(
            parse_str(&edit(from, to)).unwrap_err(),
            *want,
            "{from} → {to}"
        );
    }
}

#[test]
fn errors_are_one_line_even_with_control_characters() {
    let err = parse_str(&edit("name: seed-incident", "name: \"a\\nb\\u001b\"")).unwrap_err();
    assert!(!err.contains('\n') && !err.contains('\u{1b}'), "{err:?}");
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    for open in ["[", "{a: "] {
        let text = format!("version: 1\nname: {}", open.repeat(100_000));
        let err = parse_str(&text).unwrap_err();
        assert!(err.starts_with("t.yaml:2:"), "{err}");
    }
}

#[test]
fn unreadable_file() {
    let err = load(Path::new("/nonexistent/x.yaml")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/nonexistent/x.yaml: cannot read: No such file or directory (os error 2)"
    );
}

/// Random edits of a valid scenario reach the semantic rules far more often than random text.
fn mutated() -> impl Strategy<Value = String> {
    let tokens = prop::sample::select(vec![
        "",
        " ",
        "\n",
        "\t",
        ":",
        "- ",
        "[",
        "]",
        "{",
        "}",
        ",",
        "0",
        "-1",
        "99999999999999999999",
        "1e400",
        ".nan",
        "~",
        "&a ",
        "*a",
        "<<: ",
        "!!binary ",
        "%",
        "/s",
        "p99",
        "n9",
        "\"",
        "'",
        "#",
        "---\n",
        "...",
        "\u{feff}",
        "ü",
    ]);
    (
        0..GOOD.len(),
        0usize..40,
        prop::collection::vec(tokens, 0..4),
    )
        .prop_map(|(at, cut, ins)| {
            let at = (0..=at)
                .rev()
                .find(|&i| GOOD.is_char_boundary(i))
                .unwrap_or(0);
            let end = (at + cut..=GOOD.len())
                .find(|&i| GOOD.is_char_boundary(i))
                .unwrap_or(GOOD.len());
            format!("{}{}{}", &GOOD[..at], ins.concat(), &GOOD[end..])
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn never_panics_on_text(text in ".{0,400}") {
        if let Err(e) = parse(&text, Path::new("t.yaml")) {
            prop_assert!(!e.to_string().contains('\n'));
        }
    }

    #[test]
    fn never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = parse(&String::from_utf8_lossy(&bytes), Path::new("t.yaml"));
    }

    #[test]
    fn never_panics_on_edited_scenarios(text in mutated()) {
        if let Err(e) = parse(&text, Path::new("t.yaml")) {
            let line = e.to_string();
            prop_assert!(!line.contains('\n'), "{}", line);
            prop_assert!(line.starts_with("t.yaml"), "{}", line);
        }
    }
}

/// `abort_on_fail` beside a check's name: `true`, `false` or `{ grace: D }`, only on the
/// checks whose failure can be final before the run ends.
#[test]
fn abort_on_fail_beside_a_check() {
    let with = |entry: &str| edit("  - no_loss\n", &format!("  - no_loss\n{entry}"));
    type Want = Result<Vec<(usize, Duration)>, &'static str>;
    let table: [(&str, Want); 7] = [
        ("", Ok(vec![])),
        (
            "  - drain: { domain: down.test, within: 30s }\n    abort_on_fail: true\n",
            Ok(vec![(4, Duration::ZERO)]),
        ),
        (
            "  - abort_on_fail: { grace: 5s }\n    no_duplicates: { max: 0 }\n",
            Ok(vec![(4, secs(5))]),
        ),
        ("  - { no_duplicates: {}, abort_on_fail: false }\n", Ok(vec![])),
        (
            "  - { nodes: {}, abort_on_fail: true }\n",
            Err("t.yaml:34:33: checks[4].abort_on_fail: `nodes` is judged when the run ends, so the run cannot stop on it; abort_on_fail goes on isolation, drain or no_duplicates"),
        ),
        (
            "  - { abort_on_fail: true }\n",
            Err("t.yaml:34:5: checks[4]: abort_on_fail goes beside a check's name, e.g. { drain: {...}, abort_on_fail: true }"),
        ),
        (
            "  - { nodes: {}, abort_on_fail: maybe }\n",
            Err("t.yaml:34:18: checks[4].abort_on_fail: invalid value: string \"maybe\", expected true, false or { grace: 10s }"),
        ),
    ];
    for (entry, want) in table {
        let got = parse_str(&with(entry)).map(|p| {
            p.abort_on_fail
                .iter()
                .map(|a| (a.check, a.grace))
                .collect::<Vec<_>>()
        });
        match (got, want) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{entry}"),
            (Err(got), Err(want)) => assert_eq!(got, want, "{entry}"),
            (got, want) => panic!("{entry}: got {got:?}, want {want:?}"),
        }
    }
}
