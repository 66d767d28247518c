//! Routes: the transport map that sends each test domain of a scenario to the fake remote
//! serving it, for a real MTA under test (`mailquake routes FILE --format postfix`).

use std::fmt::Write;

use crate::scenario::Plan;

/// Output formats of `mailquake routes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RouteFormat {
    /// A Postfix transport map (`domain smtp:[ip]:port`), for `transport_maps = texthash:FILE`.
    Postfix,
}

/// The transport map, or a one-line error naming a remote that cannot be routed to.
pub fn render(plan: &Plan, format: RouteFormat) -> Result<String, String> {
    let mut out = String::new();
    match format {
        RouteFormat::Postfix => {
            let _ = writeln!(
                out,
                "# mailquake routes for scenario `{}` ({}): Postfix transport map",
                plan.name,
                plan.source.display()
            );
            for (i, remote) in plan.remotes.iter().enumerate() {
                if remote.listen.port() == 0 {
                    // Suggest its own address: remotes sharing one IP get each other's
                    // mail from an MTA that reuses connections per IP (Exim).
                    let ip = if remote.listen.ip().is_unspecified() {
                        fake_remotes::default_listen(i, 0).ip()
                    } else {
                        remote.listen.ip()
                    };
                    return Err(format!(
                        "{}: remote `{}` listens on port 0 (a free port picked at run time): give it a fixed `listen:` (e.g. {ip}:{}) so a cluster can be routed to it",
                        plan.source.display(),
                        remote.name,
                        3001 + i
                    ));
                }
                let ip = remote.listen.ip();
                let host = if ip.is_unspecified() {
                    "127.0.0.1".to_string()
                } else {
                    ip.to_string()
                };
                let _ = writeln!(
                    out,
                    "# remote {} listens on {host}:{} ({})",
                    remote.name,
                    remote.listen.port(),
                    remote.domains.join(", ")
                );
                for domain in &remote.domains {
                    // Brackets: no MX lookup, straight to this address.
                    let _ = writeln!(out, "{domain}\tsmtp:[{host}]:{}", remote.listen.port());
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::scenario;

    const SCENARIO: &str = "version: 1\nname: r\nremotes:\n  ok: { domains: [ok.test, also.test], listen: 127.0.1.1:3001 }\n  bounces: { domains: [bounces.test], listen: 127.0.1.2:3099 }\nload:\n  steps: [ { rate: 1/s, for: 1s } ]\n  mix: { ok.test: 100% }\nchecks: [ no_loss ]\n";

    #[test]
    fn postfix_transport_map_routes_every_domain() {
        let plan = scenario::parse(SCENARIO, Path::new("r.yaml")).unwrap();
        let map = render(&plan, RouteFormat::Postfix).unwrap();
        let lines: Vec<&str> = map.lines().skip(1).collect();
        assert_eq!(
            lines,
            [
                "# remote ok listens on 127.0.1.1:3001 (ok.test, also.test)",
                "ok.test\tsmtp:[127.0.1.1]:3001",
                "also.test\tsmtp:[127.0.1.1]:3001",
                "# remote bounces listens on 127.0.1.2:3099 (bounces.test)",
                "bounces.test\tsmtp:[127.0.1.2]:3099"
            ]
        );
    }

    #[test]
    fn a_remote_on_port_zero_cannot_be_routed() {
        let text = SCENARIO.replace(
            "  bounces: { domains: [bounces.test], listen: 127.0.1.2:3099 }\n",
            "",
        );
        let plan = scenario::parse(&text, Path::new("r.yaml")).unwrap();
        let err = render(&plan, RouteFormat::Postfix).unwrap_err();
        assert!(
            err.starts_with("r.yaml: remote `bounces` listens on port 0"),
            "{err}"
        );
        // It suggests the remote's own loopback address (the default for the second).
        assert!(err.contains("(e.g. 127.0.1.2:3002)"), "{err}");
    }
}
