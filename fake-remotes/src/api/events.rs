//! `GET /events?after=N[&limit=M][&follow=1]`: the event log as JSON lines, one event a
//! line with its sequence number (`{"seq":12,"at_us":…,"remote":"ok","kind":{…}}`).
//!
//! Without `follow`, at most `limit` lines (default 10,000, at most 100,000) and the
//! header `X-Events-Next`: the next request's `after` is `X-Events-Next - 1`. With
//! `follow=1` the response is a stream that never ends by itself: lines come as events
//! happen, until the client goes away or the server shuts down. Either way the header
//! `X-Events-Missed` counts events after the cursor that were no longer kept (the ring
//! overflowed or `POST /reset` cleared it); later losses in a stream show as a gap in
//! `seq`.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{error, stopped, Api};
use crate::standalone::control::{Control, Stopped};
use crate::standalone::log::Page;

const DEFAULT_LIMIT: usize = 10_000;
const MAX_LIMIT: usize = 100_000;

#[derive(Debug, Deserialize)]
pub(super) struct EventsQuery {
    after: Option<String>,
    limit: Option<String>,
    follow: Option<String>,
}

pub(super) async fn events(State(api): State<Api>, Query(q): Query<EventsQuery>) -> Response {
    let after = match q.after.as_deref().map(str::parse::<u64>) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            return error(
                StatusCode::BAD_REQUEST,
                "after: expected a whole number (the last sequence number seen, 0 for all)",
            )
        }
    };
    let limit = match q.limit.as_deref().map(str::parse::<usize>) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "limit: expected a whole number from 1 to 100000",
            )
        }
    };
    let follow = match q.follow.as_deref() {
        None | Some("0") | Some("false") => false,
        Some("") | Some("1") | Some("true") => true,
        Some(_) => return error(StatusCode::BAD_REQUEST, "follow: expected 1 or 0"),
    };
    let mut next_event = api.control.next_event();
    next_event.borrow_and_update();
    let page = match api.control.events(after, limit).await {
        Ok(page) => page,
        Err(Stopped) => return stopped(),
    };
    let missed = page.missed;
    let next = page.next;
    let body = if follow {
        let cursor = last_seq(after, &page);
        let first = Some(concat(&page.lines)).filter(|b| !b.is_empty());
        Body::from_stream(follow_stream(api, cursor, next_event, first))
    } else {
        Body::from(concat(&page.lines))
    };
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        body,
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert("x-events-missed", missed.into());
    if !follow {
        headers.insert("x-events-next", next.into());
    }
    response
}

/// The sequence number of the page's last line (`after` if it has none).
fn last_seq(after: u64, page: &Page) -> u64 {
    after + page.missed + page.lines.len() as u64
}

fn concat(lines: &[Bytes]) -> Bytes {
    let mut out = Vec::with_capacity(lines.iter().map(Bytes::len).sum());
    for line in lines {
        out.extend_from_slice(line);
    }
    Bytes::from(out)
}

/// Chunks of lines after `cursor`, waiting for new events when caught up; ends when the
/// server shuts down (the client going away drops the stream).
fn follow_stream(
    api: Api,
    cursor: u64,
    next_event: tokio::sync::watch::Receiver<u64>,
    first: Option<Bytes>,
) -> impl futures_util::Stream<Item = Result<Bytes, Infallible>> + Send + 'static {
    struct Follow {
        control: Control,
        shutdown: tokio_util::sync::CancellationToken,
        cursor: u64,
        next_event: tokio::sync::watch::Receiver<u64>,
        first: Option<Bytes>,
    }
    let state = Follow {
        control: api.control,
        shutdown: api.shutdown,
        cursor,
        next_event,
        first,
    };
    futures_util::stream::unfold(state, |mut s| async move {
        if let Some(first) = s.first.take() {
            return Some((Ok(first), s));
        }
        loop {
            // Marked seen before asking, so an event added meanwhile wakes the wait below.
            s.next_event.borrow_and_update();
            let page = s.control.events(s.cursor, DEFAULT_LIMIT).await.ok()?;
            if !page.lines.is_empty() {
                s.cursor = last_seq(s.cursor, &page);
                return Some((Ok(concat(&page.lines)), s));
            }
            tokio::select! {
                changed = s.next_event.changed() => changed.ok()?,
                _ = s.shutdown.cancelled() => return None,
            }
        }
    })
}
