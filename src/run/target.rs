//! What the generator needs to reach the target: its SMTP client settings, and the check
//! that an external target answers before any load.

use std::time::Duration;

use crate::generator::{self, TargetEndpoint};
use crate::scenario;
use crate::smtp::{ClientOptions, Credentials, Timeouts, TlsClient};

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
            Duration::from_secs(5),
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
