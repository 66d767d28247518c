//! The command line's parsing: every flag lands in its command's struct, and a
//! flattened struct keeps the command's own help.

use clap::{CommandFactory, Parser};

use super::{Cli, Command};
use crate::scenario::LoadModel;
use crate::smtp::TlsMode;

/// `command`'s long help starts with its own text, not the flattened struct's doc
/// comment (`struct_doc`), and shows each of `shown`.
fn assert_help(command: &str, own: &str, struct_doc: &str, shown: &[&str]) {
    let help = Cli::command()
        .find_subcommand_mut(command)
        .unwrap()
        .render_long_help()
        .to_string();
    assert!(help.starts_with(own), "{help}");
    assert!(!help.contains(struct_doc), "{help}");
    for text in shown {
        assert!(help.contains(text), "{text}: {help}");
    }
}

#[test]
fn capacity_flags_land_in_capacity_args() {
    let cli = Cli::try_parse_from([
        "mailquake",
        "capacity",
        "s.yaml",
        "--out",
        "o",
        "--start",
        "20/s",
        "--max-rate",
        "500/s",
        "--step",
        "5s",
        "--max-steps",
        "4",
        "--skip-preflight",
    ])
    .unwrap();
    let Command::Capacity { args } = cli.command else {
        panic!("not capacity: {:?}", cli.command)
    };
    assert_eq!(args.file.to_str(), Some("s.yaml"));
    assert_eq!(args.out.as_deref().and_then(|p| p.to_str()), Some("o"));
    assert_eq!(args.start.as_deref(), Some("20/s"));
    assert_eq!(args.max_rate.as_deref(), Some("500/s"));
    assert_eq!(args.step.as_deref(), Some("5s"));
    assert_eq!(args.max_steps, Some(4));
    assert!(args.skip_preflight);
}

#[test]
fn capacity_help_keeps_the_commands_own_text() {
    assert_help(
        "capacity",
        "Find the highest rate the cluster sustains",
        "overrides of `capacity:`",
        &[
            "<FILE>",
            "--out <DIR>",
            "--start <RATE>",
            "--max-rate <RATE>",
            "--step <DURATION>",
            "--max-steps <N>",
            "--skip-preflight",
        ],
    );
}

#[test]
fn cluster_flags_land_in_cluster_args() {
    let cli = Cli::try_parse_from([
        "mailquake",
        "cluster",
        "s.yaml",
        "--listen",
        "127.0.0.1:2600",
        "--api",
        "localhost:9026",
        "--token",
        "t0k",
        "--remotes",
        "http://127.0.0.1:9025",
    ])
    .unwrap();
    let Command::Cluster { args } = cli.command else {
        panic!("not cluster: {:?}", cli.command)
    };
    assert_eq!(args.file.to_str(), Some("s.yaml"));
    assert_eq!(args.listen.to_string(), "127.0.0.1:2600");
    assert_eq!(args.api, "localhost:9026");
    assert_eq!(args.token.as_deref(), Some("t0k"));
    assert_eq!(args.remotes.as_deref(), Some("http://127.0.0.1:9025"));
}

#[test]
fn cluster_help_keeps_the_commands_own_text() {
    assert_help(
        "cluster",
        "Serve the scenario's embedded reference cluster",
        "flattened into",
        &[
            "<FILE>",
            "--listen <ADDR>",
            "[default: 127.0.0.1:0]",
            "--api <ADDR>",
            "[default: 127.0.0.1:8026]",
            "--token <TOKEN>",
            "[env: MAILQUAKE_CLUSTER_TOKEN]",
            "--remotes <URL>",
        ],
    );
}

#[test]
fn flood_flags_land_in_flood_args() {
    let cli = Cli::try_parse_from([
        "mailquake",
        "flood",
        "127.0.0.1:2525",
        "--rate",
        "500/s",
        "--for",
        "2m",
        "--sessions",
        "7",
        "--size",
        "8KiB",
        "--model",
        "closed",
        "--tls",
        "required",
        "--insecure",
        "--ca",
        "ca.pem",
        "--to",
        "x.example",
        "--allow-domain",
        "x.example",
        "--auth",
        "user",
        "--max-rate",
        "900/s",
        "--max-messages",
        "1234",
        "--messages-per-connection",
        "3",
        "--recipients",
        "2",
        "--out",
        "o",
        "--hlog-interval",
        "250ms",
    ])
    .unwrap();
    let Command::Flood { args } = cli.command else {
        panic!("not flood: {:?}", cli.command)
    };
    assert_eq!(args.target, "127.0.0.1:2525");
    assert_eq!(args.rate.as_deref(), Some("500/s"));
    assert_eq!(args.duration, "2m");
    assert_eq!(args.sessions, 7);
    assert_eq!(args.size, "8KiB");
    assert_eq!(args.model, LoadModel::Closed);
    assert_eq!(args.tls, TlsMode::Required);
    assert!(args.insecure);
    assert_eq!(args.ca.as_deref().and_then(|p| p.to_str()), Some("ca.pem"));
    assert_eq!(args.to, "x.example");
    assert_eq!(args.allow_domain.as_deref(), Some("x.example"));
    assert_eq!(args.auth.as_deref(), Some("user"));
    assert_eq!(args.max_rate.as_deref(), Some("900/s"));
    assert_eq!(args.max_messages, Some(1234));
    assert_eq!(args.messages_per_connection, 3);
    assert_eq!(args.recipients, 2);
    assert_eq!(args.out.as_deref().and_then(|p| p.to_str()), Some("o"));
    assert_eq!(args.hlog_interval, "250ms");
}

#[test]
fn flood_defaults_and_value_names() {
    let parse = |extra: &[&str]| {
        let mut argv = vec!["mailquake", "flood", "127.0.0.1:2525"];
        argv.extend_from_slice(extra);
        match Cli::try_parse_from(argv).map(|c| c.command) {
            Ok(Command::Flood { args }) => Ok(args),
            Ok(other) => panic!("not flood: {other:?}"),
            Err(e) => Err(e.kind()),
        }
    };
    let d = parse(&[]).unwrap();
    assert_eq!(
        (
            d.duration.as_str(),
            d.sessions,
            d.size.as_str(),
            d.to.as_str()
        ),
        ("30s", 50, "4KiB", "flood.test")
    );
    assert_eq!((d.model, d.tls), (LoadModel::Open, TlsMode::None));
    assert_eq!(
        (
            d.messages_per_connection,
            d.recipients,
            d.hlog_interval.as_str()
        ),
        (10, 1, "1s")
    );
    for (name, model) in [("open", LoadModel::Open), ("closed", LoadModel::Closed)] {
        assert_eq!(parse(&["--model", name]).unwrap().model, model);
    }
    for (name, mode) in [
        ("none", TlsMode::None),
        ("opportunistic", TlsMode::Opportunistic),
        ("required", TlsMode::Required),
    ] {
        assert_eq!(parse(&["--tls", name]).unwrap().tls, mode);
    }
    assert_eq!(
        parse(&["--tls", "always"]).unwrap_err(),
        clap::error::ErrorKind::InvalidValue
    );
}

#[test]
fn flood_help_keeps_the_commands_own_text() {
    assert_help(
        "flood",
        "Flood one SMTP server with the generator alone",
        "strings as typed",
        &[
            "Examples:\n  mailquake flood",
            "<TARGET>",
            "--for <DURATION>",
            "--model <MODEL>",
            "[possible values: open, closed]",
            "--tls <TLS>",
            "[possible values: none, opportunistic, required]",
            "--to <DOMAIN>",
            "[default: flood.test]",
            "--hlog-interval <DURATION>",
        ],
    );
}
