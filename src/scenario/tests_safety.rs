//! The safety rules on inline YAML: reserved domains and `safety.allow_domains`, the caps
//! for a target that is not loopback, and secrets (warned about, redacted in the copy).

use super::safety::{redact, REDACTED};
use super::tests::{edit, parse_str, GOOD};
use super::*;

/// GOOD against an SMTP target at `addr` (no node fault: that needs the embedded one).
fn against(addr: &str, from: &str, to: &str) -> String {
    let embedded = &GOOD[GOOD.find("target:\n").unwrap()..GOOD.find("remotes:\n").unwrap()];
    GOOD.replace(embedded, &format!("target:\n  smtp: [{addr}]\n"))
        .replace("  - { node: n2, at: 5s, fault: stuck }\n", "")
        .replacen(from, to, 1)
}

/// GOOD where the remote `ok` also serves gmail.com and 10% of the mail goes there.
fn gmail(extra: &str) -> String {
    edit(
        "mix: { ok.test: 80%,",
        "mix: { ok.test: 70%, gmail.com: 10%,",
    )
    .replace(
        "ok: { domains: [ok.test, Also.test] }",
        "ok: { domains: [ok.test, Also.test, gmail.com] }",
    ) + extra
}

#[test]
fn safety_errors() {
    let mx = "mx.example.com:25";
    let table: &[(String, &str)] = &[
        (gmail(""),
         "t.yaml:21:24: load.mix.gmail.com: `gmail.com` is not a domain reserved for testing (.test, .example, .invalid, .localhost, example.com, example.net, example.org): if the target does not route it to the fake remotes, the mail reaches the real `gmail.com`; list it in `safety: { allow_domains: [gmail.com] }` if you mean it"),
        (edit("[ok.test, Also.test]", "[ok.test, Also.test, Mail.Example.NL]"),
         "t.yaml:15:39: remotes.ok.domains[2]: `Mail.Example.NL` is not a domain reserved for testing (.test, .example, .invalid, .localhost, example.com, example.net, example.org): if the target does not route it to the fake remotes, the mail reaches the real `mail.example.nl`; list it in `safety: { allow_domains: [mail.example.nl] }` if you mean it"),
        (gmail("safety: { allow_domains: [\"*\"] }\n"),
         "t.yaml:42:27: safety.allow_domains[0]: `*`: no wildcards: list each domain by name"),
        (gmail("safety: { allow_domains: [\"*.com\"] }\n"),
         "t.yaml:42:27: safety.allow_domains[0]: `*.com`: no wildcards: list each domain by name"),
        (gmail("safety: { allow_domains: [com] }\n"),
         "t.yaml:42:27: safety.allow_domains[0]: invalid domain `com`: expected a full name such as mx.example.com"),
        (gmail("safety: { allow_domains: [gmail.com], max_rate: fast }\n"),
         "t.yaml:42:49: safety.max_rate: invalid rate `fast`: expected a number per unit, e.g. 200/s, 12000/m"),
        (gmail("safety: { max_messages: 0 }\n"),
         "t.yaml:42:25: safety.max_messages: `0` is out of range: expected a whole number between 1 and 10000000"),
        (edit("settle: 2m\n", "settle: 2m\nsafety: { allow: [x.com] }\n"),
         "t.yaml:41:11: safety.allow: unknown key `allow`, expected one of allow_domains, max_rate, max_messages"),
        (against(mx, "{ rate: 200/s, for: 30s }", "{ rate: 2500/s, for: 30s }"),
         "t.yaml:12:15: load.steps[0].rate: `2500/s` is above the safety cap of 2000/s for a target that is not loopback (mx.example.com:25): raise it with `safety: { max_rate: 2500/s }` if you mean it"),
        (against(mx, "to: 300/s", "to: 3000/s"),
         "t.yaml:13:26: load.steps[1].to: `3000/s` is above the safety cap of 2000/s for a target that is not loopback (mx.example.com:25): raise it with `safety: { max_rate: 3000/s }` if you mean it"),
        (against(mx, "settle: 2m\n", "settle: 2m\nsafety: { max_rate: 150/s }\n"),
         "t.yaml:12:15: load.steps[0].rate: `200/s` is above the safety cap of 150/s for a target that is not loopback (mx.example.com:25): raise it with `safety: { max_rate: 200/s }` if you mean it"),
        (against(mx, "{ rate: 200/s, for: 30s }", "{ rate: 2000/s, for: 10m }"),
         "t.yaml:12:5: load.steps: the steps plan 1212000 messages, above the safety cap of 1000000 for a target that is not loopback (mx.example.com:25): raise it with `safety: { max_messages: 1212000 }` if you mean it"),
        (against("\"[::1]:25\", 10.1.2.3:25", "settle: 2m\n", "settle: 2m\nsafety: { max_messages: 17999 }\n"),
         "t.yaml:12:5: load.steps: the steps plan 18000 messages, above the safety cap of 17999 for a target that is not loopback (10.1.2.3:25): raise it with `safety: { max_messages: 18000 }` if you mean it"),
    ];
    let mut wrong = Vec::new();
    for (text, want) in table {
        match parse_str(text) {
            Ok(_) => wrong.push(format!("accepted, want {want}")),
            Err(got) if got != *want => wrong.push(format!("got  {got}\nwant {want}")),
            Err(_) => {}
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn allowed_domains_and_raised_caps_pass_with_a_warning() {
    let plan = parse_str(&gmail(
        "safety: { allow_domains: [Gmail.com., gmail.com] }\n",
    ))
    .unwrap();
    assert_eq!(plan.safety.allow_domains, ["gmail.com"]);
    assert_eq!(
        safety_warnings(&plan),
        ["t.yaml:42:26: safety.allow_domains: warning: mail may go to gmail.com, not reserved for testing: make sure the target routes it to the fake remotes"]
    );
    // Reserved names need no permission and draw no warning.
    let plan = parse_str(&edit(
        "[ok.test, Also.test]",
        "[ok.test, Also.test, mx.example.org, a.invalid]",
    ))
    .unwrap();
    assert!(safety_warnings(&plan).is_empty());

    // Raised caps; loopback and embedded targets are not capped; the closed model is
    // capped while it runs, not here.
    let fast = ("{ rate: 200/s, for: 30s }", "{ rate: 40000/s, for: 30s }");
    for text in [
        against("mx.example:25", fast.0, "{ rate: 40000/s, for: 30s }").replace(
            "settle: 2m\n",
            "settle: 2m\nsafety: { max_rate: 40000/s, max_messages: 2000000 }\n",
        ),
        against(
            "127.0.0.1:2525, localhost:2526, \"[::1]:25\"",
            fast.0,
            fast.1,
        ),
        edit(fast.0, fast.1),
        against("mx.example:25", fast.0, "{ for: 30s }")
            .replace("{ rate: 100/s, to: 300/s, for: 1m }", "{ for: 1m }")
            .replace(
                "  messages_per_connection: 5\n",
                "  messages_per_connection: 5\n  model: closed\n",
            ),
    ] {
        let plan = parse_str(&text).unwrap();
        assert!(safety_warnings(&plan).is_empty());
    }
    let plan = parse_str(&against(
        "mx.example:25",
        "settle: 2m\n",
        "settle: 2m\nsafety: { max_rate: 18000/m }\n",
    ))
    .unwrap();
    assert_eq!(plan.safety.max_rate, 300.0);
    assert_eq!(plan.safety.max_messages, safety::DEFAULT_MAX_MESSAGES);
}

#[test]
fn secrets_are_warned_about_and_redacted_in_the_copy() {
    let auth = |password: &str| {
        against(
            "127.0.0.1:2525",
            "  messages_per_connection: 5\n",
            &format!(
                "  messages_per_connection: 5\n  auth: {{ user: gen, password: {password} }}\n"
            ),
        )
    };
    for (password, value) in [
        ("s3cret", "s3cret"),
        ("\"p:w #1\"", "p:w #1"),
        ("'it''s'", "it's"),
    ] {
        let text = auth(password);
        let plan = parse_str(&text).unwrap();
        assert_eq!(plan.load.auth.as_ref().unwrap().password, value);
        assert_eq!(
            safety_warnings(&plan),
            ["t.yaml:18:32: load.auth.password: warning: a password in the scenario file goes wherever the file goes (the run's saved copy is redacted): leave it out and set MAILQUAKE_AUTH_PASSWORD"]
        );
        let copy = redact(&text, &plan.safety.secrets);
        assert!(!copy.contains(value), "{copy}");
        assert!(copy.contains("password: \"<redacted>\" }"), "{copy}");
        // The copy loads (a report renders from it) and draws no warning; the password
        // is left for the environment to give.
        let again = parse_str(&copy).unwrap();
        assert!(safety_warnings(&again).is_empty());
        assert_eq!(again.load.auth.as_ref().unwrap().password, "");
        assert_eq!(again.load.auth.as_ref().unwrap().user, "gen");
        assert_eq!(again.load.steps, plan.load.steps);
    }
    // Left out: no warning, nothing to redact.
    let plan = parse_str(&auth("\"\"").replace(", password: \"\"", "")).unwrap();
    assert!(safety_warnings(&plan).is_empty() && plan.safety.secrets.is_empty());

    // The token of remotes served elsewhere.
    let external = |token: &str| {
        GOOD.replace(
            "  ok: { domains: [ok.test, Also.test] }\n  down: { domains: [down.test], listen: 127.0.0.1:3002 }\n",
            &format!("  external: http://127.0.0.1:8025\n  token: {token}\n"),
        )
    };
    let text = external("tok-123");
    let plan = parse_str(&text).unwrap();
    assert_eq!(
        safety_warnings(&plan),
        ["t.yaml:16:10: remotes.token: warning: a token in the scenario file goes wherever the file goes (the run's saved copy is redacted): leave it out and set MAILQUAKE_REMOTES_TOKEN"]
    );
    let copy = redact(&text, &plan.safety.secrets);
    assert!(!copy.contains("tok-123") && copy.contains(&format!("token: \"{REDACTED}\"")));
    assert_eq!(
        parse_str(&copy)
            .unwrap()
            .external_remotes
            .unwrap()
            .token
            .as_deref(),
        Some(REDACTED)
    );
}

/// The plan's warnings but the steady-state baseline's (the seed scenario's p99.9
/// isolation has too short a baseline): these tests are about safety's own.
fn safety_warnings(plan: &Plan) -> Vec<&str> {
    plan.safety
        .warnings
        .iter()
        .map(String::as_str)
        .filter(|w| !w.contains("steady-state baseline"))
        .collect()
}
