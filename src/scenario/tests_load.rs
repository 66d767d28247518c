//! The generator's scenario keys: `load.model`, message size distributions, `load.tls`,
//! `load.auth`, `load.hlog_interval` and weighted `target.smtp` endpoints — what they
//! become in the plan, and the exact one-line error for each kind of mistake.

use std::time::Duration;

use super::tests::{edit, parse_str};
use super::*;
use crate::smtp::{Credentials, TlsMode};

/// GOOD with an SMTP target (TLS `required` and AUTH need one) and no node fault.
fn smtp(from: &str, to: &str) -> String {
    edit(
        "target:\n  embedded:\n    nodes: 3\n    queue: shared\n    concurrency: 4\n    \
         timeouts: { connect: 2s, reply: 3s }\n    retry: { min_backoff: 500ms, max_backoff: 4s }\n    \
         dead_after: 3\n    max_queue_lifetime: 5m\n",
        "target:\n  smtp: [127.0.0.1:2525, { addr: \"localhost:2526\", weight: 3 }]\n",
    )
    .replace("  - { node: n2, at: 5s, fault: stuck }\n", "")
    .replace(from, to)
}

#[test]
fn generator_keys_become_the_plan() {
    let plan = parse_str(&smtp(
        "  messages_per_connection: 5\n",
        "  messages_per_connection: 5\n  model: closed\n  tls: { mode: required, verify: false }\n  \
         auth: { user: gen, password: \"p:w\" }\n  hlog_interval: 5s\n  max_shortfall: 2.5%\n",
    )
    .replace("{ rate: 200/s, for: 30s }", "{ for: 30s }")
    .replace("{ rate: 100/s, to: 300/s, for: 1m }", "{ for: 1m }")
    .replace("size: 4KiB", "size: { min: 1KiB, max: 64KiB }"))
    .unwrap();
    let load = &plan.load;
    assert_eq!(load.model, LoadModel::Closed);
    assert_eq!(load.duration(), Duration::from_secs(90));
    assert_eq!(load.planned_messages(), 0.0);
    assert_eq!(
        load.message.size,
        SizeSpec::Uniform {
            min: 1024,
            max: 65536
        }
    );
    assert_eq!(
        load.tls,
        TlsSpec {
            mode: TlsMode::Required,
            verify: false,
            ca: None
        }
    );
    assert_eq!(
        load.auth,
        Some(Credentials {
            user: "gen".into(),
            password: "p:w".into()
        })
    );
    assert_eq!(load.hlog_interval, Duration::from_secs(5));
    assert_eq!(load.max_shortfall, 0.025);
    assert_eq!(
        plan.target,
        Target::Smtp(vec![
            "127.0.0.1:2525".into(),
            Endpoint {
                addr: "localhost:2526".into(),
                weight: 3
            }
        ])
    );
    assert!(describe(&plan).contains("20 closed-model sessions back to back over 1m 30s"));
    assert!(describe(&plan).contains("localhost:2526 (weight 3)"));

    let plan = parse_str(&edit(
        "size: 4KiB",
        "size: [ { size: 2KiB, weight: 9 }, { size: 1MiB, weight: 1 } ]",
    ))
    .unwrap();
    assert_eq!(plan.load.model, LoadModel::Open);
    assert_eq!(
        plan.load.message.size,
        SizeSpec::Weighted(vec![(2048, 9), (1 << 20, 1)])
    );
    assert_eq!(plan.load.tls, TlsSpec::default());
    assert_eq!(plan.load.hlog_interval, Duration::from_secs(1));
}

#[test]
fn generator_key_errors() {
    let mpc = "  messages_per_connection: 5\n";
    let table: &[(String, &str)] = &[
        (edit(mpc, "  messages_per_connection: 5\n  model: closed\n"),
         "t.yaml:19:15: load.steps[0].rate: `model: closed` sends back to back, so a step takes no rate: write { for: 30s }"),
        (edit(mpc, "  messages_per_connection: 5\n  model: fast\n"),
         "t.yaml:25:10: load.model: unknown model `fast`: expected open or closed"),
        (edit("{ rate: 200/s, for: 30s }", "{ for: 30s }"),
         "t.yaml:19:7: load.steps[0]: missing required key `rate`, e.g. { rate: 200/s, for: 30s }"),
        (edit("size: 4KiB", "size: { min: 8KiB, max: 4KiB }"),
         "t.yaml:22:38: load.message.size.max: max (4KiB) must not be below min (8KiB)"),
        (edit("size: 4KiB", "size: { min: 1KiB, top: 4KiB }"),
         "t.yaml:22:33: load.message.size.top: unknown key `top`, expected one of min, max"),
        (edit("size: 4KiB", "size: [ { size: 1KiB, weight: 0 } ]"),
         "t.yaml:22:44: load.message.size[0].weight: `0` is out of range: expected a whole number between 1 and 1000000"),
        (edit("size: 4KiB", "size: []"),
         "t.yaml:22:20: load.message.size: needs at least one size, e.g. [ { size: 2KiB, weight: 9 }, { size: 1MiB, weight: 1 } ]"),
        (edit(mpc, "  messages_per_connection: 5\n  tls: { mode: required }\n"),
         "t.yaml:25:16: load.tls.mode: `required` needs a target that offers STARTTLS; the embedded cluster does not"),
        (smtp(mpc, "  messages_per_connection: 5\n  tls: { mode: always }\n"),
         "t.yaml:18:16: load.tls.mode: unknown mode `always`: expected none, opportunistic or required"),
        (smtp(mpc, "  messages_per_connection: 5\n  tls: { mode: required, verify: no }\n"),
         "t.yaml:18:34: load.tls.verify: invalid value `no`: expected true or false"),
        (smtp(mpc, "  messages_per_connection: 5\n  tls: { mode: required, ca: nowhere.pem }\n"),
         "t.yaml:18:30: load.tls.ca: cannot read `nowhere.pem`: No such file or directory (os error 2)"),
        (smtp(mpc, "  messages_per_connection: 5\n  tls: { mode: required, ca: /dev/zero }\n"),
         "t.yaml:18:30: load.tls.ca: cannot read `/dev/zero`: not a regular file"),
        (edit(mpc, "  messages_per_connection: 5\n  auth: { user: a, password: b }\n"),
         "t.yaml:25:9: load.auth: the embedded cluster does not offer AUTH: use it with `target: { smtp: [...] }`"),
        (smtp(mpc, "  messages_per_connection: 5\n  auth: { user: a, pasword: b }\n"),
         "t.yaml:18:20: load.auth.pasword: unknown key `pasword`, expected one of user, password"),
        (edit(mpc, "  messages_per_connection: 5\n  hlog_interval: 10ms\n"),
         "t.yaml:25:18: load.hlog_interval: must be at least 100ms"),
        (edit(mpc, "  messages_per_connection: 5\n  max_shortfall: 120%\n"),
         "t.yaml:25:18: load.max_shortfall: percentage `120%` is above 100%"),
        (edit(mpc, "  messages_per_connection: 5\n  max_shortfall: 0.01\n"),
         "t.yaml:25:18: load.max_shortfall: invalid percentage `0.01`: expected a number and a % sign, e.g. 90%, 99.5%"),
        (smtp("weight: 3", "weight: 0"),
         "t.yaml:6:60: target.smtp[1].weight: `0` is out of range: expected a whole number between 1 and 1000"),
        (smtp("addr: \"localhost:2526\"", "addr: localhost"),
         "t.yaml:6:34: target.smtp[1].addr: invalid endpoint `localhost`: expected HOST:PORT, e.g. 127.0.0.1:2525 or mx.example:25"),
        (smtp("weight: 3", "weigth: 3"),
         "t.yaml:6:52: target.smtp[1].weigth: unknown key `weigth`, expected one of addr, weight"),
    ];
    let mut wrong = Vec::new();
    for (text, want) in table {
        let got = parse_str(text).unwrap_err();
        if got != *want {
            wrong.push(format!("got  {got}\nwant {want}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
