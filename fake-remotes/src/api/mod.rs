//! The control API of a standalone server, over HTTP/1.1 (axum). It holds no state: each
//! request becomes a question or an order to the control task (`standalone::control`).
//!
//! | request | does |
//! | --- | --- |
//! | `GET /remotes` | every remote: name, domains, listen address, faults in force (and who set them), counters; the event log's cursors |
//! | `PUT /remotes/{name}/fault[?lease=30s]` | body: a fault in the scenario's form, as JSON (`"refuse"`, `{"tarpit":{"banner":"2s"}}`), or a JSON array of them; in force at once, until `DELETE` or the timeline's next change for that remote — with `lease`, also until the lease runs out unless the same `PUT` renews it (`standalone::lease`) |
//! | `DELETE /remotes/{name}/fault` | the remote is healthy again (until the timeline's next change for it) |
//! | `POST /reset` | every remote healthy, counters zeroed, event log cleared (sequence numbers go on) |
//! | `GET /events?after=N[&limit=M][&follow=1]` | events with a sequence number above N as JSON lines; `follow=1` streams new ones as they come |
//! | `GET /metrics` | Prometheus text: per-remote counters, faults in force |
//!
//! Errors are JSON `{"error": "…"}` with 400 (bad fault or query), 401 (token), 404
//! (unknown remote or path), 408 (request too slow), 413 (body too large), 503 (shutting
//! down, or too many connections). With a token, every request needs
//! `Authorization: Bearer TOKEN`. The limits on clients are in `connections.rs`.

mod connections;
mod events;
mod metrics;

pub use connections::Limits;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::standalone::control::{Control, Stopped};
use crate::standalone::lease::parse_lease;
use crate::Fault;

/// What every handler gets.
#[derive(Clone)]
struct Api {
    control: Control,
    token: Option<std::sync::Arc<str>>,
    shutdown: CancellationToken,
}

/// Serves the API on `listener` until `shutdown` is cancelled (streams end then too).
pub async fn serve(
    listener: TcpListener,
    control: Control,
    token: Option<String>,
    limits: Limits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = router(control, token, limits, shutdown.clone());
    connections::serve(listener, app, limits, shutdown).await
}

/// Serves another small control API's `routes` (state already applied) under the same
/// limits and the same token rule as this one: `mailquake cluster` serves its nodes' API
/// so.
pub async fn serve_routes(
    listener: TcpListener,
    routes: Router,
    token: Option<String>,
    limits: Limits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = guarded(
        routes,
        token.map(|t| std::sync::Arc::from(t.as_str())),
        limits,
    );
    connections::serve(listener, app, limits, shutdown).await
}

/// [`serve_routes`] with `outer` layered around the token check: the live view of
/// `mailquake run --live` reads the token from the query too (a browser's event stream
/// cannot send a header).
pub async fn serve_routes_within(
    listener: TcpListener,
    routes: Router,
    token: Option<String>,
    limits: Limits,
    shutdown: CancellationToken,
    outer: fn(Router) -> Router,
) -> std::io::Result<()> {
    let app = outer(guarded(
        routes,
        token.map(|t| std::sync::Arc::from(t.as_str())),
        limits,
    ));
    connections::serve(listener, app, limits, shutdown).await
}

/// `routes` behind the request timeout, the body limit and the token.
fn guarded(routes: Router, token: Option<std::sync::Arc<str>>, limits: Limits) -> Router {
    routes
        .layer(middleware::from_fn_with_state(
            limits.request_timeout,
            answer_in_time,
        ))
        .layer(DefaultBodyLimit::max(limits.max_body))
        .layer(middleware::from_fn_with_state(token, authorize))
}

/// The API's routes, for a caller that serves them itself (`limits`: the body cap and
/// the request timeout; the connection limits are the server's business).
pub fn router(
    control: Control,
    token: Option<String>,
    limits: Limits,
    shutdown: CancellationToken,
) -> Router {
    let api = Api {
        control,
        token: token.map(|t| std::sync::Arc::from(t.as_str())),
        shutdown,
    };
    let token = api.token.clone();
    let routes = Router::new()
        .route("/remotes", get(remotes))
        .route("/remotes/{name}/fault", put(set_fault).delete(clear_fault))
        .route("/reset", post(reset))
        .route("/events", get(events::events))
        .route("/metrics", get(metrics::metrics))
        .route("/tls/ca.pem", get(ca_pem))
        .fallback(|| async {
            error(
                StatusCode::NOT_FOUND,
                "no such endpoint: see GET /remotes, /events, /metrics, /tls/ca.pem",
            )
        })
        .with_state(api);
    guarded(routes, token, limits)
}

/// `408` when a request is not answered within the limit: a body sent slowly, or a
/// control task that does not answer. A followed stream counts until it starts.
async fn answer_in_time(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => error(
            StatusCode::REQUEST_TIMEOUT,
            &format!(
                "the request was not complete within {}",
                humantime::format_duration(limit)
            ),
        ),
    }
}

/// The test CA that signs the remotes' STARTTLS certificates (PEM), so a client in
/// another process can verify them (and tell `expired_cert`/`wrong_name` from `unknown_ca`).
async fn ca_pem() -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        crate::tls::ca_pem().to_string(),
    )
        .into_response()
}

/// With a token, every request must carry `Authorization: Bearer TOKEN`.
async fn authorize(
    State(token): State<Option<std::sync::Arc<str>>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = &token else {
        return next.run(request).await;
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if given.is_some_and(|g| same(g.as_bytes(), token.as_bytes())) {
        return next.run(request).await;
    }
    let mut response = error(
        StatusCode::UNAUTHORIZED,
        "missing or wrong token: send Authorization: Bearer TOKEN",
    );
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// Compares in constant time (`subtle`, whose comparison the optimiser cannot turn into
/// an early exit), so timing does not tell how much of a guessed token was right. Only
/// the length can show.
fn same(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

async fn remotes(State(api): State<Api>) -> Response {
    match api.control.snapshot().await {
        Ok(snapshot) => json(StatusCode::OK, &snapshot),
        Err(Stopped) => stopped(),
    }
}

#[derive(Debug, Deserialize)]
struct FaultQuery {
    lease: Option<String>,
}

async fn set_fault(
    State(api): State<Api>,
    Path(name): Path<String>,
    Query(q): Query<FaultQuery>,
    body: Bytes,
) -> Response {
    let lease = match q.lease.as_deref().map(parse_lease).transpose() {
        Ok(lease) => lease,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    let faults = match parse_faults(&body) {
        Ok(f) => f,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    apply(&api, &name, faults, lease).await
}

async fn clear_fault(State(api): State<Api>, Path(name): Path<String>) -> Response {
    apply(&api, &name, Vec::new(), None).await
}

async fn apply(api: &Api, name: &str, faults: Vec<Fault>, lease: Option<Duration>) -> Response {
    match api.control.set_faults(name, faults, lease).await {
        Ok(Ok(view)) => json(StatusCode::OK, &view),
        Ok(Err(unknown)) => error(StatusCode::NOT_FOUND, &unknown.0),
        Err(Stopped) => stopped(),
    }
}

async fn reset(State(api): State<Api>) -> Response {
    match api.control.reset().await {
        Ok(log) => json(
            StatusCode::OK,
            &serde_json::json!({ "reset": true, "events": log }),
        ),
        Err(Stopped) => stopped(),
    }
}

/// A fault (`"refuse"`, `{"tarpit":{"banner":"2s"}}`) or an array of them (`[]` heals).
pub fn parse_faults(body: &[u8]) -> Result<Vec<Fault>, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the body is not UTF-8".to_string())?;
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        return Err(
            r#"empty body: send a fault as JSON, e.g. "refuse" or {"tarpit":{"banner":"2s"}}"#
                .into(),
        );
    }
    let faults = if trimmed.starts_with('[') {
        serde_json::from_str::<Vec<Fault>>(text)
    } else {
        serde_json::from_str::<Fault>(text).map(|f| vec![f])
    }
    .map_err(|e| format!("not a fault: {e}"))?;
    for fault in &faults {
        fault
            .validate()
            .map_err(|e| format!("bad {} fault: {e}", fault.kind()))?;
    }
    Ok(faults)
}

/// A JSON response, one line (shared with `mailquake cluster`'s API, so both answer alike).
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    let mut body = serde_json::to_vec(value).unwrap_or_default();
    body.push(b'\n');
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from(body),
    )
        .into_response()
}

/// `{"error": "…"}` with `status`.
pub fn error(status: StatusCode, message: &str) -> Response {
    json(status, &serde_json::json!({ "error": message }))
}

fn stopped() -> Response {
    error(StatusCode::SERVICE_UNAVAILABLE, "shutting down")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse_alone_or_as_a_list_and_bad_ones_say_why() {
        assert_eq!(parse_faults(br#""refuse""#), Ok(vec![Fault::REFUSE]));
        assert_eq!(parse_faults(b" []"), Ok(vec![]));
        assert_eq!(
            parse_faults(br#"["reset", "blackhole"]"#),
            Ok(vec![Fault::Reset, Fault::Blackhole])
        );
        let err = parse_faults(br#""explode""#).unwrap_err();
        assert!(
            err.starts_with("not a fault: unknown variant `explode`"),
            "{err}"
        );
        let err =
            parse_faults(br#"{"reply":{"stage":"rcpt","code":451,"probability":2}}"#).unwrap_err();
        assert!(err.starts_with("bad reply fault: probability 2"), "{err}");
        assert!(parse_faults(b"").unwrap_err().starts_with("empty body"));
    }

    #[test]
    fn token_comparison_needs_every_byte() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"abcd"));
    }
}
