//! `GET /metrics`: the counters and the faults in force in the Prometheus text format
//! (version 0.0.4), for a dashboard during a game day.

use std::fmt::Write;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{stopped, Api};
use crate::standalone::control::{Counters, Snapshot, Stopped};

pub(super) async fn metrics(State(api): State<Api>) -> Response {
    match api.control.snapshot().await {
        Ok(snapshot) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            render(&snapshot),
        )
            .into_response(),
        Err(Stopped) => stopped(),
    }
}

type Counter = (&'static str, &'static str, fn(&Counters) -> u64);

const COUNTERS: &[Counter] = &[
    ("connections", "TCP connections accepted.", |c| {
        c.connections
    }),
    (
        "rcpts",
        "RCPT TO commands answered, whatever the reply.",
        |c| c.rcpts,
    ),
    ("messages", "Messages accepted at the final dot.", |c| {
        c.messages
    }),
    (
        "rejected",
        "Transactions refused at DATA or at the final dot.",
        |c| c.rejected,
    ),
    ("faults_fired", "Times a fault acted on a session.", |c| {
        c.faults_fired
    }),
    (
        "relay_denied",
        "RCPTs refused because their domain is not this remote's.",
        |c| c.relay_denied,
    ),
    (
        "leases_expired",
        "Times the remote healed itself because a lease ran out.",
        |c| c.leases_expired,
    ),
];

/// Counters reset to zero on `POST /reset` (Prometheus handles counter resets).
pub fn render(snapshot: &Snapshot) -> String {
    let mut out = String::new();
    for (name, help, value) in COUNTERS {
        let _ = writeln!(out, "# HELP fake_remotes_{name}_total {help}");
        let _ = writeln!(out, "# TYPE fake_remotes_{name}_total counter");
        for r in &snapshot.remotes {
            let _ = writeln!(
                out,
                "fake_remotes_{name}_total{{remote=\"{}\"}} {}",
                escape(&r.name),
                value(&r.counters)
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP fake_remotes_faults_in_force Faults in force on a remote, by kind."
    );
    let _ = writeln!(out, "# TYPE fake_remotes_faults_in_force gauge");
    for r in &snapshot.remotes {
        let _ = writeln!(
            out,
            "fake_remotes_faults_in_force{{remote=\"{}\"}} {}",
            escape(&r.name),
            r.faults.len()
        );
        let mut kinds: Vec<&str> = r.faults.iter().map(|f| f.kind()).collect();
        kinds.sort_unstable();
        kinds.dedup();
        for kind in kinds {
            let n = r.faults.iter().filter(|f| f.kind() == kind).count();
            let _ = writeln!(
                out,
                "fake_remotes_faults_in_force{{remote=\"{}\",fault=\"{kind}\"}} {n}",
                escape(&r.name)
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP fake_remotes_events_dropped_total Events pushed out of the full event ring."
    );
    let _ = writeln!(out, "# TYPE fake_remotes_events_dropped_total counter");
    let _ = writeln!(
        out,
        "fake_remotes_events_dropped_total {}",
        snapshot.events.dropped
    );
    let _ = writeln!(
        out,
        "# HELP fake_remotes_events_next The sequence number the next event will get."
    );
    let _ = writeln!(out, "# TYPE fake_remotes_events_next gauge");
    let _ = writeln!(out, "fake_remotes_events_next {}", snapshot.events.next);
    out
}

/// Label values escape `\`, `"` and newlines.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standalone::control::{LogView, RemoteView, SetBy};
    use crate::Fault;

    #[test]
    fn renders_counters_and_faults_per_remote() {
        let snapshot = Snapshot {
            remotes: vec![RemoteView {
                name: "down".into(),
                domains: vec!["down.test".into()],
                listen: "127.0.0.1:25".parse().unwrap(),
                faults: vec![Fault::REFUSE],
                set_by: SetBy::Api,
                lease: None,
                counters: Counters {
                    connections: 3,
                    ..Counters::default()
                },
            }],
            events: LogView {
                first: 1,
                next: 4,
                dropped: 0,
            },
            runs: Default::default(),
        };
        let text = render(&snapshot);
        for line in [
            "# TYPE fake_remotes_connections_total counter",
            "fake_remotes_connections_total{remote=\"down\"} 3",
            "fake_remotes_messages_total{remote=\"down\"} 0",
            "fake_remotes_faults_in_force{remote=\"down\"} 1",
            "fake_remotes_faults_in_force{remote=\"down\",fault=\"refuse\"} 1",
            "fake_remotes_events_next 4",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
        }
    }
}
