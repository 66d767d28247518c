//! The game-day live view of `mailquake run FILE --live [ADDR]`: one self-contained page
//! (inline script, style and SVG: nothing fetched from elsewhere), a server-sent event
//! stream of the run, `GET /metrics`, and — with `--live-control` — the controls.
//!
//! | request | does |
//! | --- | --- |
//! | `GET /` | the page |
//! | `GET /events` | `text/event-stream`: numbered events (`id:`), the run so far first (from `Last-Event-ID` or `?after=N` on): `plan` (once), `snapshot` (every second), `switch` (a fault or `exec` on/off), `steered` (an action by hand), `end` (the findings, and the charts of the judged run as report.html has them) |
//! | `GET /charts` | the report's chart sections for the ledger so far (`charts.rs`), as HTML |
//! | `GET /metrics` | Prometheus text of the latest snapshot (`metrics.rs`) |
//! | `POST /control/inject` | `{"remote":"down","fault":"refuse"}` (a fault in the scenario's form) — `--live-control` only |
//! | `POST /control/heal` | `{"remote":"down"}` |
//! | `POST /control/heal-all` | `{}`: every fault healed, the timeline stopped |
//! | `POST /control/stop-load` | `{}`: the load stops; the run settles and judges |
//!
//! The server is fake-remotes' API loop (`fake_remotes::api::serve_routes`: connection
//! cap, header and request timeouts, body cap) with its token rule: an address that is
//! not loopback needs a token, and with a token every request needs it — as
//! `Authorization: Bearer T` or, for the page and its event stream (a browser's
//! `EventSource` cannot set headers), `?token=T`. Controls take JSON bodies only, which
//! a cross-site form cannot send. Data reaches the page by events only (`feed.rs`,
//! `hub.rs`): nothing here holds the run's state.

pub mod charts;
mod control;
mod feed;
pub mod figures;
mod hook;
mod hub;
pub mod metrics;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::checks::steered::Steered;
use crate::checks::Finding;
use crate::collector::Request as CollectorRequest;
use crate::report::JudgedRun;
use crate::scenario::{FaultSubject, Plan};
use crate::timeline::{Steer, Told};
use figures::Snapshot;
pub use hook::Hook;
use hub::Hub;

/// Where the live view listens unless told otherwise.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8026";

/// The page: markup, style and script in one file, with the report's chart style.
static PAGE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    include_str!("page.html").replace("/* charts.css */", crate::report::html::CHARTS_CSS)
});

/// What `--live`, `--live-control` and `--live-token` ask for.
#[derive(Clone, Debug)]
pub struct LiveArgs {
    pub addr: SocketAddr,
    pub token: Option<String>,
    pub control: bool,
}

/// The live view of one run, from before the load to the end of the run (dropped: the
/// server stops).
pub struct Live {
    hub: Hub,
    orders: mpsc::Sender<feed::Order>,
    waiting: Option<Waiting>,
    steer: Option<mpsc::Receiver<Steer>>,
    told: mpsc::Sender<Told>,
    stop_load: CancellationToken,
    /// Cancelled when "heal all" has stopped the timeline.
    healed_all: CancellationToken,
    url: String,
    _server: DropGuard,
}

/// What the feed takes when the load starts.
struct Waiting {
    told: mpsc::Receiver<Told>,
    orders: mpsc::Receiver<feed::Order>,
    latest: watch::Sender<Arc<Snapshot>>,
    charts: watch::Sender<Arc<charts::Drawn>>,
    plan: Arc<Plan>,
}

/// What the page learns first.
#[derive(Serialize)]
struct PlanEvent<'a> {
    name: &'a str,
    description: &'a str,
    load_ms: u64,
    timeline_end_ms: u64,
    settle_ms: u64,
    control: bool,
    faults: Vec<PlannedFault>,
    checks: Vec<&'a str>,
    remotes: Vec<&'a str>,
    /// The scenario's remote fault forms, as JSON, for "inject".
    fault_forms: Vec<serde_json::Value>,
}

#[derive(Serialize)]
struct PlannedFault {
    kind: String,
    target: String,
    at_ms: u64,
    end_ms: Option<u64>,
}

impl Live {
    /// Binds and serves the view; `stop_load` is the generator's stop (cancelled by
    /// "stop the load"). `Err`: the address is taken, or not loopback without a token.
    pub async fn start(
        plan: &Plan,
        args: LiveArgs,
        stop_load: CancellationToken,
    ) -> Result<Live, String> {
        fake_remotes::standalone::check_api_safety(args.addr, args.token.as_deref())
            .map_err(|e| format!("--live: {e}").replace("--token", "--live-token"))?;
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .map_err(|e| format!("--live {}: cannot listen: {e}", args.addr))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let hub = Hub::start();
        hub.publish("plan", &plan_event(plan, args.control));
        let (latest, latest_rx) = watch::channel(Arc::new(Snapshot::default()));
        let (charts, charts_rx) = watch::channel(Arc::new(charts::Drawn::default()));
        let (steer_tx, steer) = mpsc::channel(16);
        let (told, told_rx) = mpsc::channel(1024);
        let (orders, orders_rx) = mpsc::channel(16);
        let state = Served {
            hub: hub.clone(),
            latest: latest_rx,
            charts: charts_rx,
            control: args.control.then(|| control::Controls {
                steer: steer_tx,
                orders: orders.clone(),
                remotes: plan.remotes.iter().map(|r| r.name.clone()).collect(),
            }),
        };
        let routes = Router::new()
            .route("/", get(page))
            .route("/events", get(events))
            .route("/charts", get(charts_html))
            .route("/metrics", get(metrics_text))
            .route("/control/{action}", post(control::control))
            .with_state(state);
        let shutdown = CancellationToken::new();
        tokio::spawn(fake_remotes::api::serve_routes_within(
            listener,
            routes,
            args.token.clone(),
            fake_remotes::api::Limits::default(),
            shutdown.clone(),
            with_query_token,
        ));
        let url = format!("http://{addr}/");
        Ok(Live {
            hub,
            orders,
            waiting: Some(Waiting {
                told: told_rx,
                orders: orders_rx,
                latest,
                charts,
                plan: Arc::new(plan.clone()),
            }),
            steer: Some(steer),
            told,
            stop_load,
            healed_all: CancellationToken::new(),
            url,
            _server: shutdown.drop_guard(),
        })
    }

    /// The page's address (add `?token=TOKEN` when there is one).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The timeline's inputs: orders by hand (with `--live-control`), and where it tells
    /// its switches.
    pub fn timeline_io(&mut self) -> (Option<mpsc::Receiver<Steer>>, mpsc::Sender<Told>) {
        (self.steer.take(), self.told.clone())
    }

    /// From t0: a snapshot every second from the collector behind `collector`.
    pub fn feed(
        &mut self,
        t0: Instant,
        collector: mpsc::Sender<CollectorRequest>,
        phases: Option<mpsc::Sender<crate::measure::PhaseLook>>,
    ) {
        let Some(w) = self.waiting.take() else {
            return;
        };
        tokio::spawn(charts::run(w.plan.clone(), t0, collector.clone(), w.charts));
        tokio::spawn(feed::run(feed::Inputs {
            plan: w.plan,
            t0,
            collector,
            phases,
            told: w.told,
            orders: w.orders,
            hub: self.hub.clone(),
            latest: w.latest,
            stop_load: self.stop_load.clone(),
            healed_all: self.healed_all.clone(),
        }));
    }

    /// Cancelled once "heal all" has stopped the timeline: the run need not wait for
    /// the planned timeline's end.
    pub fn healed_all(&self) -> CancellationToken {
        self.healed_all.clone()
    }

    /// The run is measured: what was done by hand, in order.
    pub async fn steered(&self) -> Vec<Steered> {
        let (reply, rx) = oneshot::channel();
        if self.orders.send(feed::Order::Finish(reply)).await.is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }

    /// The run is judged: the page shows the findings and the run's charts, drawn
    /// as its report.html draws them.
    pub fn ended(&self, run: &JudgedRun) {
        #[derive(Serialize)]
        struct End<'a> {
            findings: &'a [Finding],
            charts: String,
        }
        self.hub.publish(
            "end",
            &End {
                findings: &run.findings,
                charts: charts::draw_judged(run).html,
            },
        );
    }
}

fn plan_event(plan: &Plan, control: bool) -> PlanEvent<'_> {
    let mut fault_forms: Vec<serde_json::Value> = Vec::new();
    for f in &plan.faults {
        if let FaultSubject::Remote { fault, .. } = &f.subject {
            let form = serde_json::to_value(fault).unwrap_or_default();
            if !fault_forms.contains(&form) {
                fault_forms.push(form);
            }
        }
    }
    PlanEvent {
        name: &plan.name,
        description: &plan.description,
        load_ms: plan.load.duration().as_millis() as u64,
        timeline_end_ms: plan.timeline_end().as_millis() as u64,
        settle_ms: plan.settle.as_millis() as u64,
        control,
        faults: plan
            .faults
            .iter()
            .map(|f| PlannedFault {
                kind: f.subject.kind().to_string(),
                target: f.subject.target(),
                at_ms: f.at.as_millis() as u64,
                end_ms: f.end().map(|e| e.as_millis() as u64),
            })
            .collect(),
        checks: plan.checks.iter().map(|c| c.name()).collect(),
        remotes: plan.remotes.iter().map(|r| r.name.as_str()).collect(),
        fault_forms,
    }
}

/// What the handlers share: channels only.
#[derive(Clone)]
struct Served {
    hub: Hub,
    latest: watch::Receiver<Arc<Snapshot>>,
    charts: watch::Receiver<Arc<charts::Drawn>>,
    control: Option<control::Controls>,
}

async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        PAGE.as_str(),
    )
        .into_response()
}

/// The latest drawing of the charts; `X-Mailquake-T-Ms` says how far the ledger had got.
async fn charts_html(State(s): State<Served>) -> Response {
    let drawn = s.charts.borrow().clone();
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8".to_string()),
            (header::CACHE_CONTROL, "no-store".to_string()),
            (
                header::HeaderName::from_static("x-mailquake-t-ms"),
                drawn.t_ms.to_string(),
            ),
        ],
        drawn.html.clone(),
    )
        .into_response()
}

#[derive(Deserialize)]
struct EventsQuery {
    after: Option<u64>,
}

async fn events(
    State(s): State<Served>,
    Query(q): Query<EventsQuery>,
    request: Request,
) -> Response {
    let after = request
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .or(q.after)
        .unwrap_or(0);
    let Some(stream) = s.hub.stream(after).await else {
        return fake_remotes::api::error(StatusCode::SERVICE_UNAVAILABLE, "the run is over");
    };
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        axum::body::Body::from_stream(stream),
    )
        .into_response()
}

async fn metrics_text(State(s): State<Served>) -> Response {
    let snapshot = s.latest.borrow().clone();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics::render(&snapshot),
    )
        .into_response()
}

/// `?token=T` as the `Authorization` header the token rule reads (a browser's
/// `EventSource` cannot send headers).
pub(crate) async fn token_from_query(mut request: Request, next: Next) -> Response {
    if !request.headers().contains_key(header::AUTHORIZATION) {
        let token = request.uri().query().and_then(|q| {
            q.split('&')
                .find_map(|kv| kv.strip_prefix("token="))
                .map(str::to_string)
        });
        if let Some(value) = token.and_then(|t| HeaderValue::from_str(&format!("Bearer {t}")).ok())
        {
            request.headers_mut().insert(header::AUTHORIZATION, value);
        }
    }
    next.run(request).await
}

/// The router with the token read from the query too.
pub(crate) fn with_query_token(router: Router) -> Router {
    router.layer(middleware::from_fn(token_from_query))
}

/// `--live` is refused with `--shard` (a shard sees its part of the load only), and
/// anywhere but loopback without `--live-token` (the token rule of the remotes' API).
pub fn check_args(args: &LiveArgs, shard: bool) -> Result<(), String> {
    if shard {
        return Err("--live: not with --shard (a shard sees only its part of the load)".into());
    }
    fake_remotes::standalone::check_api_safety(args.addr, args.token.as_deref()).map_err(|e| {
        format!("--live {}: {e}", args.addr).replace(
            "--token TOKEN (or MAILQUAKE_REMOTES_TOKEN)",
            "--live-token TOKEN (or MAILQUAKE_LIVE_TOKEN)",
        )
    })
}
