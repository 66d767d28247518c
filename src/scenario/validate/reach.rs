//! Faults that cannot act on the chosen target are refused: a window resting on a fault
//! that never fires judges nothing, yet would pass. The embedded cluster relays in plain
//! text, so nothing of STARTTLS ever reaches its remotes: the `tls` faults, and `reply`
//! or `disconnect` at stage `starttls`, would never fire there.

use fake_remotes::{Fault, Stage};

use super::*;

/// Why `fault` can never act on `target`'s relay connections, if so.
pub(super) fn why_never_fires(fault: &Fault, target: &Target) -> Option<String> {
    if !matches!(target, Target::Embedded(_)) {
        return None;
    }
    let starttls = match fault {
        Fault::Tls(_) => true,
        Fault::Reply(r) => r.stage == Stage::Starttls,
        Fault::Disconnect(d) => d.stage == Stage::Starttls,
        _ => false,
    };
    starttls.then(|| {
        format!(
            "this `{}` fault acts on STARTTLS, but the embedded cluster delivers to its remotes in plain text, so it would never fire: use an external target (target.smtp) whose MTA uses STARTTLS, or a fault that acts in plain text",
            fault.kind()
        )
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::scenario;

    fn with_fault(fault: &str, target: &str) -> Result<(), String> {
        let text = format!(
            "version: 1\nname: r\n{target}remotes:\n  ok: {{ domains: [ok.test] }}\n  tls: {{ domains: [tls.test] }}\n\
             load:\n  steps: [ {{ rate: 10/s, for: 20s }} ]\n  mix: {{ ok.test: 50%, tls.test: 50% }}\n\
             faults:\n  - {{ remote: tls, at: 3s, for: 15s, fault: {fault} }}\nchecks: [ no_loss ]\n"
        );
        scenario::parse(&text, Path::new("r.yaml"))
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn starttls_faults_are_refused_on_the_embedded_cluster() {
        let embedded = "target:\n  embedded: { nodes: 2, queue: shared }\n";
        let external = "target:\n  smtp: [127.0.0.1:2525]\n";
        let table = [
            (
                "{ tls: handshake_hang }",
                embedded,
                Some("faults[0].fault.tls: this `tls` fault acts on STARTTLS"),
            ),
            (
                "{ reply: { stage: starttls, code: 454 } }",
                embedded,
                Some("faults[0].fault.reply: this `reply` fault"),
            ),
            (
                "{ disconnect: { stage: starttls } }",
                embedded,
                Some("faults[0].fault.disconnect:"),
            ),
            ("{ reply: { stage: rcpt, code: 451 } }", embedded, None),
            ("refuse", embedded, None),
            ("{ tls: handshake_hang }", external, None),
        ];
        for (fault, target, want) in table {
            let got = with_fault(fault, target);
            match want {
                None => assert_eq!(got, Ok(()), "{fault}"),
                Some(start) => {
                    let err = got.unwrap_err();
                    assert!(err.contains(start), "{fault}: {err}");
                    assert!(
                        err.contains("embedded cluster delivers to its remotes in plain text"),
                        "{err}"
                    );
                    assert_eq!(err.lines().count(), 1);
                }
            }
        }
    }
}
