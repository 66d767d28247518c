//! The control API of `mailquake cluster` (HTTP/1.1, served by fake-remotes' API loop
//! under the same limits and the same token rule as the remotes' API):
//!
//! | request | does |
//! | --- | --- |
//! | `GET /nodes` | every node: name, SMTP address, fault in force (`"stuck"` or `null`) |
//! | `PUT /nodes/{name}/fault` | body `"stuck"` (JSON): the node accepts mail and never tries to deliver it |
//! | `DELETE /nodes/{name}/fault` | the node delivers again (what it held included) |
//!
//! Errors are JSON `{"error": "…"}` with 400 (bad fault), 401 (token), 404 (unknown node
//! or path). The API owns what it has switched: one `watch` per node, whose change (and
//! only a change) is sent to the node's queue manager, so the node's control channel
//! holds at most one message per switch.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, put};
use axum::Router;
use fake_remotes::api::{error, json};
use serde::Serialize;
use tokio::sync::{mpsc, watch};

use super::embedded::node::NodeControl;
use super::embedded::NodeHandle;

/// One node as the API serves it.
struct Node {
    name: String,
    addr: SocketAddr,
    control: mpsc::UnboundedSender<NodeControl>,
    stuck: watch::Sender<bool>,
}

/// What `GET /nodes` lists for one node.
#[derive(Debug, Serialize)]
pub struct NodeView {
    pub name: String,
    pub smtp: SocketAddr,
    /// `"stuck"`, or `None` when healthy.
    pub fault: Option<&'static str>,
}

#[derive(Clone)]
struct Api {
    nodes: Arc<[Node]>,
}

/// The API's routes over `nodes` (their control handles move here).
pub fn router(nodes: Vec<NodeHandle>) -> Router {
    let nodes: Arc<[Node]> = nodes
        .into_iter()
        .map(|n| Node {
            name: n.name,
            addr: n.addr,
            control: n.control,
            stuck: watch::Sender::new(false),
        })
        .collect();
    Router::new()
        .route("/nodes", get(list))
        .route("/nodes/{name}/fault", put(set_fault).delete(clear_fault))
        .fallback(|| async {
            error(
                StatusCode::NOT_FOUND,
                "no such endpoint: see GET /nodes, PUT or DELETE /nodes/NAME/fault",
            )
        })
        .with_state(Api { nodes })
}

fn view(node: &Node) -> NodeView {
    NodeView {
        name: node.name.clone(),
        smtp: node.addr,
        fault: (*node.stuck.borrow()).then_some("stuck"),
    }
}

async fn list(State(api): State<Api>) -> Response {
    let nodes: Vec<NodeView> = api.nodes.iter().map(view).collect();
    json(StatusCode::OK, &serde_json::json!({ "nodes": nodes }))
}

async fn set_fault(State(api): State<Api>, Path(name): Path<String>, body: Bytes) -> Response {
    match parse_fault(&body) {
        Ok(()) => switch(&api, &name, true),
        Err(message) => error(StatusCode::BAD_REQUEST, &message),
    }
}

async fn clear_fault(State(api): State<Api>, Path(name): Path<String>) -> Response {
    switch(&api, &name, false)
}

/// Puts `stuck` in force on node `name`; tells the node only when it changes.
fn switch(api: &Api, name: &str, stuck: bool) -> Response {
    let Some(node) = api.nodes.iter().find(|n| n.name == name) else {
        let names: Vec<&str> = api.nodes.iter().map(|n| n.name.as_str()).collect();
        return error(
            StatusCode::NOT_FOUND,
            &format!("no node `{name}`: the nodes are {}", names.join(", ")),
        );
    };
    let changed = node
        .stuck
        .send_if_modified(|s| std::mem::replace(s, stuck) != stuck);
    if changed && node.control.send(NodeControl::Stuck(stuck)).is_err() {
        return error(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    json(StatusCode::OK, &view(node))
}

/// The one node fault: `"stuck"` as JSON (the scenario's node fault vocabulary).
fn parse_fault(body: &[u8]) -> Result<(), String> {
    match serde_json::from_slice::<String>(body) {
        Ok(fault) if fault == "stuck" => Ok(()),
        Ok(fault) => Err(format!(
            "unknown node fault `{fault}`: the node fault is \"stuck\""
        )),
        Err(_) => Err(r#"send the node fault as JSON: "stuck""#.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_stuck_is_a_node_fault() {
        assert_eq!(parse_fault(br#""stuck""#), Ok(()));
        let err = parse_fault(br#""refuse""#).unwrap_err();
        assert!(err.contains("unknown node fault `refuse`"), "{err}");
        assert!(parse_fault(b"stuck").unwrap_err().contains("as JSON"));
    }
}
