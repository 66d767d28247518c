//! Where a remote listens unless told otherwise: each on its own loopback address.
//!
//! Remote `i` (0-based, in declaration order) gets `127.0.1.(i+1)`, then `127.0.2.1` …,
//! with port 0 (a free port picked at bind time). Linux routes all of 127.0.0.0/8 to
//! `lo`, so these bind without any set-up. Distinct addresses keep destinations apart as
//! they are on the internet: an MTA that reuses an open connection for every destination
//! on the same IP (Exim's "continued delivery") would otherwise hand one remote's mail
//! to another.

use std::net::{Ipv4Addr, SocketAddr};

/// Remotes per third octet (host parts 1..=254).
const PER_BLOCK: usize = 254;

/// The default listen address of the `i`th remote: `127.0.1.(i+1):port`, `127.0.2.1`
/// after 254 remotes, and so on.
pub fn default_listen(i: usize, port: u16) -> SocketAddr {
    let block = (1 + i / PER_BLOCK).min(255) as u8;
    let host = (1 + i % PER_BLOCK) as u8;
    SocketAddr::from((Ipv4Addr::new(127, 0, block, host), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_remote_gets_its_own_loopback_address() {
        let table = [
            (0, "127.0.1.1:0"),
            (1, "127.0.1.2:0"),
            (253, "127.0.1.254:0"),
            (254, "127.0.2.1:0"),
        ];
        for (i, want) in table {
            assert_eq!(default_listen(i, 0).to_string(), want, "remote {i}");
            assert!(default_listen(i, 0).ip().is_loopback());
        }
    }
}
