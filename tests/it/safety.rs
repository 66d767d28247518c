//! Safety rails, end to end through the binary: real domains need naming on purpose
//! (`validate`, `flood --to`), a target that is not loopback is capped (`flood`, the
//! closed model at run time), secrets stay out of every output of a run (saved scenario
//! copy, summary.json, report.html, logs) and can come from the environment, and mail
//! of no message of the run is shown.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::time::Duration;

use fake_remotes::standalone::{self, Config, RemoteDef};
use fake_remotes::{serve, CountingSink, RemoteEvent, RemoteEventKind, ServerConfig};
use mailquake::collector::Event;
use mailquake::generator::{self, GeneratorConfig};
use mailquake::scenario::safety::Cap;
use mailquake::scenario::{self, LoadModel, TlsSpec};
use mailquake::smtp::Timeouts;
use tokio::sync::{mpsc, watch};
use tokio::time::{timeout, Instant};
use tokio_util::sync::CancellationToken;

use crate::support::binary::mailquake;
use crate::support::golden::golden_run;
use crate::support::reports::assert_rerenders_identically;
use crate::support::smtp::{endpoint, load, WAIT};
use crate::support::summary::Summary;

const USER: &str = "loadgen";
const PASSWORD: &str = "pw-51b0d2c8aa";
const TOKEN: &str = "tok-9f3a1c77e2";
const NO_SECRETS_IN_ENV: [(&str, Option<&str>); 2] = [
    ("MAILQUAKE_AUTH_PASSWORD", None),
    ("MAILQUAKE_REMOTES_TOKEN", None),
];

/// A fake remote on 127.0.0.1:0 that demands AUTH as USER/PASSWORD before MAIL.
fn auth_server() -> (SocketAddr, mpsc::Receiver<RemoteEvent>, CancellationToken) {
    let listener = fake_remotes::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let (events_tx, events) = mpsc::channel(65_536);
    let shutdown = CancellationToken::new();
    let config = ServerConfig {
        faults: watch::channel(Vec::new()).1,
        auth: Some((USER.into(), PASSWORD.into())),
        ..ServerConfig::healthy("mx.auth.test")
    };
    let sink = CountingSink {
        name: "mx".into(),
        events: events_tx.clone(),
    };
    tokio::spawn(serve(listener, config, sink, events_tx, shutdown.clone()));
    (addr, events, shutdown)
}

/// Every event the server sent, once it is stopped.
async fn drain(
    mut events: mpsc::Receiver<RemoteEvent>,
    stop: CancellationToken,
) -> Vec<RemoteEvent> {
    stop.cancel();
    let mut out = Vec::new();
    while let Ok(Some(e)) = timeout(WAIT, events.recv()).await {
        out.push(e);
    }
    out
}

/// Recipients of the messages a server accepted.
fn delivered_rcpts(events: &[RemoteEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            RemoteEventKind::Message { rcpts, .. } => Some(rcpts.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

async fn mailquake_async(
    args: Vec<String>,
    env: Vec<(&'static str, Option<String>)>,
) -> (Option<i32>, String, String) {
    let env: Vec<(&str, Option<&str>)> = env.iter().map(|(k, v)| (*k, v.as_deref())).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    mailquake(&args)
        .envs(&env)
        .run_async(Duration::from_secs(120))
        .await
        .parts()
}

#[test]
fn validate_passes_an_allowed_real_domain_and_a_written_password_with_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.yaml");
    std::fs::write(
        &file,
        format!(
            "version: 1\nname: s\ntarget: {{ smtp: [127.0.0.1:2525] }}\nremotes:\n  ok: {{ domains: [ok.test, gmail.com] }}\n\
             load:\n  steps: [ {{ rate: 10/s, for: 1s }} ]\n  mix: {{ ok.test: 40%, gmail.com: 60% }}\n  auth: {{ user: {USER}, password: {PASSWORD} }}\n\
             checks: [ no_loss ]\nsafety: {{ allow_domains: [gmail.com] }}\n"
        ),
    )
    .unwrap();
    let path = file.display().to_string();
    let (code, stdout, stderr) = mailquake(&["validate", &path]).run(WAIT).parts();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.starts_with(&format!("{path}: ok (")), "{stdout}");
    assert_eq!(
        stderr,
        format!(
            "{path}:11:26: safety.allow_domains: warning: mail may go to gmail.com, not reserved for testing: make sure the target routes it to the fake remotes\n\
             {path}:9:36: load.auth.password: warning: a password in the scenario file goes wherever the file goes (the run's saved copy is redacted): leave it out and set MAILQUAKE_AUTH_PASSWORD\n"
        )
    );
    assert!(!stderr.contains(PASSWORD) && !stdout.contains(PASSWORD));
}

#[test]
fn flood_refuses_real_domains_and_rates_above_the_caps_before_connecting() {
    // A live server: the refusal must come before any connection to it.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let target = listener.local_addr().unwrap().to_string();
    let flood = |extra: &[&'static str]| -> Vec<&str> {
        let mut args = vec!["flood", target.as_str(), "--rate", "5/s", "--for", "1s"];
        args.extend_from_slice(extra);
        args
    };
    let table: Vec<(Vec<&str>, String)> = vec![
        (flood(&["--to", "gmail.com"]),
         "mailquake flood: --to `gmail.com`: not a domain reserved for testing (.test, .example, .invalid, .localhost, example.com, example.net, example.org): if the server relays it, the mail reaches the real `gmail.com`; add --allow-domain gmail.com if you mean it".into()),
        (flood(&["--to", "Mail.Example.NL"]),
         "mailquake flood: --to `Mail.Example.NL`: not a domain reserved for testing (.test, .example, .invalid, .localhost, example.com, example.net, example.org): if the server relays it, the mail reaches the real `mail.example.nl`; add --allow-domain mail.example.nl if you mean it".into()),
        (flood(&["--to", "gmail.com", "--allow-domain", "yahoo.com"]),
         "mailquake flood: --allow-domain `yahoo.com` is not the --to domain `gmail.com`: it only lets --to name a domain on purpose".into()),
        (flood(&["--auth", USER]),
         format!("mailquake flood: --auth {USER}: set MAILQUAKE_AUTH_PASSWORD to the password (or give --auth USER:PASSWORD, which shows in `ps`)")),
        // Not loopback: capped (the address is never contacted: the check comes first).
        (vec!["flood", "mx.staging.example:25", "--rate", "2500/s", "--for", "1s"],
         "mailquake flood: --rate 2500/s: above the safety cap of 2000/s for a target that is not loopback (mx.staging.example:25): raise it with --max-rate 2500/s if you mean it".into()),
        (vec!["flood", "10.20.30.40:25", "--rate", "1000/s", "--for", "1h", "--max-rate", "1000/s"],
         "mailquake flood: --rate × --for plans 3600000 messages, above the safety cap of 1000000 for a target that is not loopback (10.20.30.40:25): raise it with --max-messages 3600000 if you mean it".into()),
        (vec!["flood", "10.20.30.40:25", "--rate", "10/s", "--max-rate", "fast"],
         "mailquake flood: --max-rate: invalid rate `fast`: expected a number per unit, e.g. 200/s, 12000/m".into()),
    ];
    for (args, want) in table {
        let (code, _, stderr) = mailquake(&args)
            .envs(&NO_SECRETS_IN_ENV)
            .run(Duration::from_secs(30))
            .parts();
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr, format!("{want}\n"), "{args:?}");
    }
    assert!(
        listener.accept().is_err(),
        "nothing connected to the server"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flood_to_an_allowed_domain_with_the_password_from_the_environment() {
    let (addr, events, stop) = auth_server();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out").display().to_string();
    let args: Vec<String> = [
        "flood",
        &addr.to_string(),
        "--rate",
        "10/s",
        "--for",
        "1s",
        "--to",
        "gmail.com",
        "--allow-domain",
        "gmail.com",
        "--auth",
        USER,
        "--out",
        &out,
    ]
    .map(String::from)
    .to_vec();
    let (code, stdout, stderr) = mailquake_async(
        args,
        vec![("MAILQUAKE_AUTH_PASSWORD", Some(PASSWORD.to_string()))],
    )
    .await;
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert_eq!(
        stderr,
        "mailquake flood: warning: mail goes to `gmail.com`, not reserved for testing: make sure the server routes it to a test sink\n"
    );
    let json = std::fs::read_to_string(dir.path().join("out/flood.json")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["totals"]["accepted"], 10, "{report}");
    assert!(!json.contains(PASSWORD) && !stdout.contains(PASSWORD));
    let rcpts = delivered_rcpts(&drain(events, stop).await);
    assert_eq!(rcpts.len(), 10);
    assert!(rcpts.iter().all(|r| r.ends_with("@gmail.com")), "{rcpts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_model_against_a_target_elsewhere_is_paced_and_stopped_at_the_caps() {
    // Which runs get a cap: the closed model against a target that is not loopback.
    let text = |target: &str, model: &str| {
        format!("version: 1\nname: c\ntarget: {{ smtp: [{target}] }}\nremotes: {{ ok: {{ domains: [ok.test] }} }}\n\
                 load: {{ model: {model}, steps: [ {{ for: 1m }} ], mix: {{ ok.test: 100% }} }}\n\
                 checks: [ no_loss ]\nsafety: {{ max_rate: 40/s, max_messages: 30 }}\n")
    };
    let cap_of = |target: &str, model: &str| {
        let plan = scenario::parse(&text(target, model), Path::new("c.yaml")).unwrap();
        scenario::safety::closed_model_cap(&plan.load, &plan.target, &plan.safety)
    };
    let cap = Cap {
        rate: 40.0,
        messages: 30,
    };
    assert_eq!(cap_of("mx.example:25", "closed"), Some(cap));
    assert_eq!(cap_of("127.0.0.1:25", "closed"), None);

    // The generator held to it, against a loopback server (as it would be elsewhere).
    let (addr, events, stop) = auth_server();
    let (tx, mut rx) = mpsc::channel(65_536);
    let client = mailquake::run::client_options(
        &TlsSpec::default(),
        Some(mailquake::smtp::Credentials {
            user: USER.into(),
            password: PASSWORD.into(),
        }),
        Timeouts::uniform(Duration::from_secs(5), Duration::from_secs(30)),
    )
    .unwrap();
    let t0 = Instant::now();
    let config = GeneratorConfig {
        run_id: "c1".into(),
        endpoints: vec![endpoint(addr, 1)],
        domains: vec!["ok.test".into()],
        seed: 1,
        t0,
        t0_us: fake_remotes::event::now_us(),
        client,
        hlog_dir: None,
        cap: Some(cap),
        part: Default::default(),
        phase_looks: None,
    };
    let sending = load(LoadModel::Closed, 0.0, 30, 8);
    let report = timeout(
        Duration::from_secs(60),
        generator::run(sending, config, tx, CancellationToken::new()),
    )
    .await
    .expect("the generator stops at the message cap, long before the 30 s");
    let elapsed = t0.elapsed();
    let mut submitted = 0;
    while let Ok(e) = rx.try_recv() {
        submitted += matches!(e, Event::Submitted { .. }) as u32;
    }
    assert_eq!(submitted, 30);
    assert_eq!(report.stats.overall().accepted, 30);
    // 30 messages at 40/s: the last may not start before 29/40 s.
    assert!(elapsed >= Duration::from_millis(725), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(29), "{elapsed:?}");
    assert_eq!(delivered_rcpts(&drain(events, stop).await).len(), 30);
}

/// Remotes served standalone with a token, as staging would: `ok.test` and the bounces.
async fn token_remotes(stop: &CancellationToken) -> SocketAddr {
    let remote = |name: &str, domain: &str| RemoteDef {
        name: name.into(),
        domains: vec![domain.into()],
        listen: "127.0.0.1:0".parse().unwrap(),
    };
    let config = Config {
        api: "127.0.0.1:0".parse().unwrap(),
        token: Some(TOKEN.into()),
        ..Config::new(
            vec![remote("ok", "ok.test"), remote("bounces", "bounces.test")],
            Vec::new(),
            1,
        )
    };
    let served = standalone::bind(config).unwrap();
    let api = served.api_addr();
    tokio::spawn(served.serve(stop.clone()));
    api
}

/// Every file under `dir`, as (path, bytes).
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_keeps_the_token_and_password_out_of_every_output() {
    let stop = CancellationToken::new();
    let api = token_remotes(&stop).await;
    let (target, events, target_stop) = auth_server();
    let dir = tempfile::tempdir().unwrap();
    let scenario = |secrets: bool| {
        let (token, password) = match secrets {
            true => (
                format!(", token: {TOKEN}"),
                format!(", password: \"{PASSWORD}\""),
            ),
            false => (String::new(), String::new()),
        };
        format!(
            "version: 1\nname: t-secrets\ntarget: {{ smtp: [{target}] }}\nremotes: {{ external: http://{api}{token} }}\n\
             load:\n  steps: [ {{ rate: 20/s, for: 1s }} ]\n  mix: {{ ok.test: 100% }}\n  sessions: 4\n  auth: {{ user: {USER}{password} }}\n\
             checks:\n  - {{ acceptance: {{ min: 100% }} }}\nsettle: 1s\n"
        )
    };
    let run = |name: &str, text: String, env: Vec<(&'static str, Option<String>)>| {
        let file = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&file, text).unwrap();
        let out = dir.path().join(name);
        let args = vec![
            "run".to_string(),
            file.display().to_string(),
            "--out".into(),
            out.display().to_string(),
            // The AUTH target is a test server that relays nothing: the routing preflight
            // would stop the run before the secrets are used.
            "--skip-preflight".into(),
        ];
        async move { (mailquake_async(args, env).await, out, file) }
    };
    let no_env = || NO_SECRETS_IN_ENV.map(|(k, _)| (k, None)).to_vec();

    // Secrets written in the file: used, warned about, and nowhere in what the run wrote.
    let ((code, stdout, stderr), out, file) = run("in-file", scenario(true), no_env()).await;
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let path = file.display();
    assert!(stderr.starts_with(&format!(
        "{path}:9:36: load.auth.password: warning: a password in the scenario file goes wherever the file goes (the run's saved copy is redacted): leave it out and set MAILQUAKE_AUTH_PASSWORD\n\
         {path}:4:{}: remotes.token: warning: a token in the scenario file goes wherever the file goes (the run's saved copy is redacted): leave it out and set MAILQUAKE_REMOTES_TOKEN\n",
        38 + api.to_string().len()
    )), "{stderr}");
    let written = files(&out);
    for name in [
        "scenario.yaml",
        "summary.json",
        "report.html",
        "junit.xml",
        "ledger.bin",
    ] {
        assert!(
            written.iter().any(|(p, _)| p.ends_with(name)),
            "{name} written"
        );
    }
    for (p, bytes) in written
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .chain([("stdout", stdout.as_bytes()), ("stderr", stderr.as_bytes())])
    {
        assert!(
            !contains(bytes, PASSWORD) && !contains(bytes, TOKEN),
            "a secret in {p}"
        );
    }
    let copy = std::fs::read_to_string(out.join("scenario.yaml")).unwrap();
    assert_eq!(
        copy,
        scenario(true)
            .replace(TOKEN, "\"<redacted>\"")
            .replace(&format!("\"{PASSWORD}\""), "\"<redacted>\"")
    );
    assert_rerenders_identically(&out);

    // Secrets from the environment: the same run, no warning.
    let env = vec![
        ("MAILQUAKE_AUTH_PASSWORD", Some(PASSWORD.to_string())),
        ("MAILQUAKE_REMOTES_TOKEN", Some(TOKEN.to_string())),
    ];
    let ((code, stdout, stderr), out, _) = run("from-env", scenario(false), env).await;
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    for (p, bytes) in files(&out) {
        assert!(
            !contains(&bytes, PASSWORD) && !contains(&bytes, TOKEN),
            "a secret in {p}"
        );
    }

    // No password anywhere: exit 2 before anything is sent.
    let mut env = no_env();
    env[1].1 = Some(TOKEN.to_string());
    let ((code, _, stderr), _, file) = run("none", scenario(false), env).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(
        stderr,
        format!("{}: load.auth.password: not in the file and MAILQUAKE_AUTH_PASSWORD is not set: set it to the password for `{USER}`\n", file.display())
    );
    target_stop.cancel();
    let delivered = delivered_rcpts(&drain(events, target_stop).await);
    assert_eq!(delivered.len(), 40, "two runs of 20, all authenticated");
    stop.cancel();
}

#[test]
fn mail_of_no_message_of_the_run_is_shown_in_the_terminal_and_the_report() {
    let dir = tempfile::tempdir().unwrap();
    // The golden run saw 2 messages that belong to no message of it.
    let run = golden_run(Default::default());
    assert_eq!(run.ledger.foreign, 2);
    let written = mailquake::report::write_run(dir.path(), &run);
    assert!(written.failed.is_empty(), "{:?}", written.failed);
    let (code, stdout, stderr) = mailquake(&["report", &dir.path().display().to_string()])
        .run(WAIT)
        .parts();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("\n  foreign  2 seen at the remotes belong to no message of this run\n"),
        "{stdout}"
    );
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("2 message(s) seen at the remotes belong to no message of this run"));
    let summary = Summary::read(dir.path());
    assert_eq!(summary["foreign"], 2);
}
