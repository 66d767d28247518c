//! A small client for the fake remotes' control API (see `fake_remotes::api`), also used
//! to read Prometheus's API (`cluster/alerts.rs`): HTTP/1.1
//! over hyper's client connection, one TCP connection per request (requests are rare:
//! a handful per fault switch), plus the one long-lived `GET /events?follow=1` stream.

use std::time::Duration;

use bytes::Bytes;
use fake_remotes::standalone::{SequencedEvent, Snapshot};
use fake_remotes::Fault;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{header, Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// How long connecting to the API may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a request (not a stream) may take, answer included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a request failed, in one line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiError {
    /// No answer: connection refused, timed out, broken.
    Unreachable(String),
    /// The API answered with an error status; `message` is its `error` text.
    Refused { status: u16, message: String },
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Unreachable(why) => write!(f, "unreachable: {why}"),
            ApiError::Refused { status, message } => write!(f, "answered {status}: {message}"),
        }
    }
}

#[derive(Clone)]
pub struct ApiClient {
    /// `http://HOST:PORT`, for messages.
    pub url: String,
    /// `HOST:PORT`.
    authority: String,
    token: Option<String>,
}

impl std::fmt::Debug for ApiClient {
    // The token stays out of debug output (and so out of any log).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "…"))
            .finish()
    }
}

impl ApiClient {
    /// `url` is `http://HOST:PORT` (as the scenario loader checked it).
    pub fn new(url: &str, token: Option<String>) -> ApiClient {
        let authority = url.trim_start_matches("http://").trim_end_matches('/');
        ApiClient {
            url: url.to_string(),
            authority: authority.to_string(),
            token,
        }
    }

    /// `HOST:PORT` of the API.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<hyper::Response<Incoming>, ApiError> {
        let unreachable = |e: &dyn std::fmt::Display| ApiError::Unreachable(e.to_string());
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&self.authority))
            .await
            .map_err(|_| unreachable(&"no connection within 5s"))?
            .map_err(|e| unreachable(&e))?;
        let _ = stream.set_nodelay(true);
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| unreachable(&e))?;
        // The connection is driven by its own task; it ends with the response body.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, &self.authority);
        if let Some(token) = &self.token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| unreachable(&e))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| unreachable(&e))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let body = read_body(response).await.unwrap_or_default();
        Err(ApiError::Refused {
            status: status.as_u16(),
            message: error_text(status, &body),
        })
    }

    /// A request with a bounded time, its whole body read.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Bytes, ApiError> {
        tokio::time::timeout(REQUEST_TIMEOUT, async {
            let response = self.send(method, path, body).await?;
            read_body(response).await
        })
        .await
        .map_err(|_| ApiError::Unreachable("no answer within 10s".into()))?
    }

    /// `GET path`, its whole body, in a bounded time (another service's API, e.g.
    /// Prometheus's `/api/v1/rules`, read with the same client).
    pub async fn get(&self, path: &str) -> Result<Bytes, ApiError> {
        self.call(Method::GET, path, None).await
    }

    /// `GET /remotes`.
    pub async fn remotes(&self) -> Result<Snapshot, ApiError> {
        let body = self.call(Method::GET, "/remotes", None).await?;
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::Unreachable(format!("GET /remotes: not the fake remotes' answer: {e}"))
        })
    }

    /// Puts `faults` in force on `remote` (`PUT`) under `lease` (the same call renews
    /// it), or heals it (`DELETE`) when empty.
    pub async fn set_faults(
        &self,
        remote: &str,
        faults: &[Fault],
        lease: Duration,
    ) -> Result<(), ApiError> {
        if faults.is_empty() {
            return self.clear_faults(remote).await;
        }
        let body = serde_json::to_vec(faults).unwrap_or_default();
        let path = format!("/remotes/{remote}/fault?lease={}ms", lease.as_millis());
        self.call(Method::PUT, &path, Some(body)).await.map(drop)
    }

    /// Heals `remote` (`DELETE`): no fault, no lease.
    pub async fn clear_faults(&self, remote: &str) -> Result<(), ApiError> {
        let path = format!("/remotes/{remote}/fault");
        self.call(Method::DELETE, &path, None).await.map(drop)
    }

    /// `GET /events?after=N&follow=1`: events as they happen, from after the cursor.
    pub async fn follow(&self, after: u64) -> Result<EventStream, ApiError> {
        let path = format!("/events?after={after}&follow=1");
        let response = tokio::time::timeout(REQUEST_TIMEOUT, self.send(Method::GET, &path, None))
            .await
            .map_err(|_| ApiError::Unreachable("no answer within 10s".into()))??;
        Ok(EventStream {
            body: response.into_body(),
            buf: Vec::new(),
            pos: 0,
        })
    }
}

async fn read_body(response: hyper::Response<Incoming>) -> Result<Bytes, ApiError> {
    response
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .map_err(|e| ApiError::Unreachable(e.to_string()))
}

/// The `error` of a JSON error body, or the status's own words.
fn error_text(status: StatusCode, body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"].as_str().map(String::from))
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string())
}

/// A followed event stream: JSON lines, one event each.
pub struct EventStream {
    body: Incoming,
    buf: Vec<u8>,
    /// Start of the unread part of `buf`.
    pos: usize,
}

impl EventStream {
    /// The next event; `Ok(None)` when the server ended the stream.
    pub async fn next(&mut self) -> Result<Option<SequencedEvent>, ApiError> {
        loop {
            let unread = &self.buf[self.pos..];
            if let Some(end) = unread.iter().position(|&b| b == b'\n') {
                let line = &unread[..end];
                self.pos += end + 1;
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return serde_json::from_slice(line).map(Some).map_err(|e| {
                    ApiError::Unreachable(format!("GET /events: not an event line: {e}"))
                });
            }
            // Only a partial line is left: keep it, read more.
            self.buf.drain(..self.pos);
            self.pos = 0;
            match self.body.frame().await {
                None => return Ok(None),
                Some(Err(e)) => return Err(ApiError::Unreachable(e.to_string())),
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        self.buf.extend_from_slice(data);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_give_their_message() {
        assert_eq!(
            error_text(StatusCode::NOT_FOUND, br#"{"error":"no remote named `x`"}"#),
            "no remote named `x`"
        );
        assert_eq!(
            error_text(StatusCode::UNAUTHORIZED, b"nope"),
            "Unauthorized"
        );
        assert_eq!(
            ApiClient::new("http://127.0.0.1:8025", None).authority(),
            "127.0.0.1:8025"
        );
    }

    #[test]
    fn the_token_stays_out_of_debug_output() {
        let client = ApiClient::new("http://127.0.0.1:8025", Some("tok-s3cret".into()));
        let shown = format!("{client:?}");
        assert!(
            !shown.contains("tok-s3cret") && shown.contains("127.0.0.1:8025"),
            "{shown}"
        );
    }
}
