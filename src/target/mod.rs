//! The cluster under test: an external cluster's SMTP endpoints, or the embedded
//! reference cluster started in-process.

pub mod embedded;
pub mod lost;
pub mod probes;
pub mod routes;

use std::net::ToSocketAddrs;

use crate::generator::TargetEndpoint;
use crate::scenario::Endpoint;

/// Resolves `host:port` endpoints of an external cluster.
pub fn resolve(endpoints: &[Endpoint]) -> Result<Vec<TargetEndpoint>, String> {
    endpoints
        .iter()
        .map(|e| {
            let addr = e
                .addr
                .to_socket_addrs()
                .map_err(|err| format!("target endpoint `{}`: {err}", e.addr))?
                .next()
                .ok_or_else(|| format!("target endpoint `{}`: no address", e.addr))?;
            Ok(TargetEndpoint {
                addr,
                name: e.addr.clone(),
                weight: e.weight,
            })
        })
        .collect()
}
