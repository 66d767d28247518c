//! The cluster under test: an external cluster's SMTP endpoints, or the embedded
//! reference cluster started in-process.

pub mod embedded;
pub mod probes;
pub mod routes;

use std::net::{SocketAddr, ToSocketAddrs};

/// Resolves `host:port` endpoints of an external cluster.
pub fn resolve(endpoints: &[String]) -> Result<Vec<SocketAddr>, String> {
    endpoints
        .iter()
        .map(|e| {
            e.to_socket_addrs()
                .map_err(|err| format!("target endpoint `{e}`: {err}"))?
                .next()
                .ok_or_else(|| format!("target endpoint `{e}`: no address"))
        })
        .collect()
}
