//! The wiring `mailquake run` and `mailquake flood` share: the run id, the tokio runtime,
//! the collector — its ledger, started at t0 and finished at the end of the load — and
//! the generator's SMTP client and its target's reachability.

use std::time::Duration;

use fake_remotes::event::now_us;
use fake_remotes::RemoteEvent;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::collector::{self, Event, Ledger, Progress, Request};
use crate::generator::{self, TargetEndpoint};
use crate::scenario::{self, Load};
use crate::smtp::{ClientOptions, Credentials, Timeouts, TlsClient};

/// A short id for this run's tracking ids, from the seed and the clock.
pub(crate) fn run_id(seed: u64) -> String {
    let x = now_us() ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!("{:06x}", (x ^ (x >> 24)) & 0xff_ffff)
}

/// The runtime from `builder` (multi- or current-thread) with I/O and timers; `Err` is
/// the one-line reason.
pub(crate) fn runtime(
    mut builder: tokio::runtime::Builder,
) -> Result<tokio::runtime::Runtime, String> {
    builder
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}

/// An empty ledger for `load`'s messages; the caller sets `t0_us` at t0.
pub(crate) fn new_ledger(run_id: &str, load: &Load) -> Ledger {
    Ledger {
        run_id: run_id.to_string(),
        domains: load.mix.iter().map(|(d, _)| d.clone()).collect(),
        ..Default::default()
    }
}

/// Starts the collector on `ledger` (its `t0_us` set): the sender its progress and finish
/// requests go to, and its task.
pub(crate) fn start_collector(
    ledger: Ledger,
    events: mpsc::Receiver<Event>,
    remote_events: mpsc::Receiver<RemoteEvent>,
) -> (mpsc::Sender<Request>, JoinHandle<Option<Ledger>>) {
    let (req_tx, req_rx) = mpsc::channel(16);
    let task = tokio::spawn(collector::run(ledger, events, remote_events, req_rx));
    (req_tx, task)
}

/// Milliseconds since t0 as the ledger keeps them (saturating below `u32::MAX`).
pub(crate) fn end_ms(elapsed: Duration) -> u32 {
    elapsed.as_millis().min(u32::MAX as u128 - 1) as u32
}

/// Asks the collector for the ledger, measured up to `end_ms`.
pub(crate) async fn finish_collector(
    req_tx: &mpsc::Sender<Request>,
    end_ms: u32,
) -> Result<(Ledger, Progress), String> {
    let (reply_tx, reply_rx) = oneshot::channel();
    req_tx
        .send(Request::Finish {
            end_ms,
            reply: reply_tx,
        })
        .await
        .map_err(|_| "the collector stopped early".to_string())?;
    reply_rx
        .await
        .map_err(|_| "the collector stopped early".to_string())
}

/// The generator's SMTP client settings: EHLO name, timeouts, STARTTLS, AUTH.
pub fn client_options(
    tls: &scenario::TlsSpec,
    auth: Option<Credentials>,
    timeouts: Timeouts,
) -> Result<ClientOptions, String> {
    Ok(ClientOptions {
        helo: generator::HELO_NAME.to_owned(),
        timeouts,
        tls: TlsClient::new(tls.mode, tls.verify, tls.ca.as_deref())?,
        auth,
    })
}

/// An external target must answer at least one TCP connection before the flood starts.
pub async fn check_reachable(endpoints: &[TargetEndpoint]) -> Result<(), String> {
    for e in endpoints {
        if let Ok(Ok(_)) = tokio::time::timeout(
            super::waits::REACH_TIMEOUT,
            tokio::net::TcpStream::connect(e.addr),
        )
        .await
        {
            return Ok(());
        }
    }
    Err(format!(
        "target unreachable: no endpoint accepted a connection ({})",
        endpoints
            .iter()
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ))
}
