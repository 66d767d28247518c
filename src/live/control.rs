//! The live view's controls (`--live-control`): `POST /control/{inject,heal,heal-all,
//! stop-load}` with a JSON body. Fault orders go to the timeline (which owns every
//! switch), "stop the load" to the feed (which records it); each is an event on the
//! page once carried out. Without `--live-control` every control is 404.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use fake_remotes::api::{error, json};
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};

use super::feed::Order;
use super::Served;
use crate::checks::steered::parse_fault;
use crate::timeline::Steer;

/// Where the controls' orders go.
#[derive(Clone)]
pub(super) struct Controls {
    pub steer: mpsc::Sender<Steer>,
    pub orders: mpsc::Sender<Order>,
    /// The remotes a fault may be put on or healed.
    pub remotes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    remote: Option<String>,
    fault: Option<serde_json::Value>,
}

pub(super) async fn control(
    State(s): State<Served>,
    Path(action): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(c) = &s.control else {
        return error(
            StatusCode::NOT_FOUND,
            "the controls are off: run with --live-control",
        );
    };
    // JSON only: a form on another site cannot send it without asking first (CORS).
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the order as JSON (Content-Type: application/json)",
        );
    }
    let body: Body = match serde_json::from_slice(if body.is_empty() { b"{}" } else { &body }) {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("body: {e}")),
    };
    let remote = || -> Result<String, Response> {
        let Some(r) = &body.remote else {
            return Err(error(StatusCode::BAD_REQUEST, "remote: missing"));
        };
        if !c.remotes.contains(r) {
            return Err(error(
                StatusCode::NOT_FOUND,
                &format!("no remote `{r}`: the remotes are {}", c.remotes.join(", ")),
            ));
        }
        Ok(r.clone())
    };
    let order = match action.as_str() {
        "inject" => {
            let remote = match remote() {
                Ok(r) => r,
                Err(e) => return e,
            };
            let Some(form) = body.fault.clone() else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "fault: missing (the scenario's form, e.g. \"refuse\")",
                );
            };
            match parse_fault(&form) {
                Ok(fault) => Steer::Inject {
                    remote,
                    fault,
                    form,
                },
                Err(e) => return error(StatusCode::BAD_REQUEST, &e),
            }
        }
        "heal" => match remote() {
            Ok(remote) => Steer::Heal { remote },
            Err(e) => return e,
        },
        "heal-all" => Steer::HealAll,
        "stop-load" => {
            let (reply, rx) = oneshot::channel();
            if c.orders.send(Order::StopLoad(reply)).await.is_err() {
                return error(StatusCode::SERVICE_UNAVAILABLE, "the run is over");
            }
            return match rx.await {
                Ok(done) => json(StatusCode::OK, &done),
                Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "the run is over"),
            };
        }
        other => {
            return error(
                StatusCode::NOT_FOUND,
                &format!("no control `{other}`: inject, heal, heal-all, stop-load"),
            )
        }
    };
    match c.steer.try_send(order) {
        Ok(()) => json(
            StatusCode::ACCEPTED,
            &serde_json::json!({"accepted": action}),
        ),
        Err(mpsc::error::TrySendError::Full(_)) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "orders are still being carried out: try again shortly",
        ),
        Err(mpsc::error::TrySendError::Closed(_)) => {
            error(StatusCode::SERVICE_UNAVAILABLE, "the run is over")
        }
    }
}
