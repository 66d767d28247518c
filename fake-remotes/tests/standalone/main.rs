//! Standalone serving over real loopback sockets: the control API in-process (`api`),
//! and the `fake-remotes` binary serving a scenario file (`binary`).

mod api;
mod api_limits;
mod binary;
mod support;
