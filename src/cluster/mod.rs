//! The cluster under test: an external cluster's SMTP endpoints, or the embedded
//! reference cluster started in-process — or served in a process of its own by
//! `mailquake cluster` (`serve.rs`, with its node control API in `api.rs`).

pub mod alerts;
pub mod api;
pub mod embedded;
pub mod lost;
pub mod probes;
pub mod routes;
pub mod serve;

use std::net::{SocketAddr, ToSocketAddrs};

use crate::scenario::Endpoint;

/// One SMTP endpoint of the target.
#[derive(Clone, Debug)]
pub struct TargetEndpoint {
    pub addr: SocketAddr,
    /// As written (`HOST:PORT`): reports name it so, and TLS checks the certificate
    /// against its host.
    pub name: String,
    pub weight: u32,
}

impl TargetEndpoint {
    /// The host part of the name (for the TLS server name).
    pub fn host(&self) -> &str {
        self.name
            .rsplit_once(':')
            .map_or(self.name.as_str(), |(h, _)| h)
    }
}

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
