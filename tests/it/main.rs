//! The integration-test binary: one module per area; what they share is in [`support`]
//! (modules never import each other's items).

mod abort_on_fail;
mod alerts;
mod architecture;
mod bad_input;
mod capacity;
mod cluster;
mod explain;
mod flood;
mod generator;
mod generator_tls;
mod heal;
mod kubernetes;
mod lease;
mod live;
mod lost;
mod out_dir;
mod postfix;
mod preflight;
mod readers;
mod remotes;
mod reports;
mod routing;
mod runs;
mod safety;
mod shards;
mod shards_verdicts;
mod signals;
mod steady_state;
mod support;
mod validate;
