//! Delivering one dispatched batch: one connection to the destination's route, the
//! entries sent one after another, each outcome classified for the queue policy.

use std::net::SocketAddr;

use bytes::Bytes;

use super::queue::{Attempt, AttemptResult, EntryId};
use crate::smtp::{Connection, Phase, Timeouts};

/// One entry as the relay needs it.
pub struct Outgoing {
    pub id: EntryId,
    pub from: String,
    pub rcpts: Vec<String>,
    pub body: Bytes,
}

/// Per-entry detail beyond the policy's view: recipients still to retry after a partial success.
pub struct RelayOutcome {
    pub attempt: Attempt,
    /// (entry, recipients that were refused with 4xx while others were accepted).
    pub retry_rcpts: Vec<(EntryId, Vec<String>)>,
    /// (entry, reason) for entries failed for good (5xx).
    pub failures: Vec<(EntryId, String)>,
}

/// Sends `batch` to `addr`, saying EHLO as `helo`.
pub async fn relay(
    dest: String,
    addr: SocketAddr,
    helo: &str,
    timeouts: Timeouts,
    batch: Vec<Outgoing>,
) -> RelayOutcome {
    let entries: Vec<EntryId> = batch.iter().map(|o| o.id).collect();
    let mut conn = match Connection::open(addr, helo, timeouts).await {
        Ok(c) => c,
        Err(failure) => {
            // A 5xx banner is a permanent refusal of every message; anything else is a failed connection.
            if let crate::smtp::FailureKind::Reply(r) = &failure.kind {
                if r.is_permanent() {
                    let failures = entries
                        .iter()
                        .map(|id| (*id, failure.to_string()))
                        .collect();
                    return RelayOutcome {
                        attempt: Attempt {
                            dest,
                            entries: entries.clone(),
                            result: AttemptResult::Done {
                                delivered: vec![],
                                deferred: vec![],
                                failed: entries,
                            },
                        },
                        retry_rcpts: vec![],
                        failures,
                    };
                }
            }
            return RelayOutcome {
                attempt: Attempt {
                    dest,
                    entries,
                    result: AttemptResult::ConnectFailed,
                },
                retry_rcpts: vec![],
                failures: vec![],
            };
        }
    };
    let (mut delivered, mut deferred, mut failed) = (vec![], vec![], vec![]);
    let mut retry_rcpts = vec![];
    let mut failures = vec![];
    for out in batch {
        if !conn.usable {
            deferred.push(out.id);
            continue;
        }
        let tx = conn.send(&out.from, &out.rcpts, &out.body).await;
        match &tx.result {
            Ok((Phase::Dot, reply)) if reply.is_positive() => {
                let refused: Vec<(String, bool)> = out
                    .rcpts
                    .iter()
                    .zip(&tx.rcpt_replies)
                    .filter(|(_, r)| !r.is_positive())
                    .map(|(rcpt, r)| (rcpt.clone(), r.is_transient()))
                    .collect();
                if refused.iter().any(|(_, transient)| *transient) {
                    let again = refused
                        .iter()
                        .filter(|(_, t)| *t)
                        .map(|(r, _)| r.clone())
                        .collect();
                    retry_rcpts.push((out.id, again));
                    deferred.push(out.id);
                } else if !refused.is_empty() {
                    failures.push((out.id, "some recipients were refused for good".to_string()));
                    failed.push(out.id);
                } else {
                    delivered.push(out.id);
                }
            }
            Ok((_, reply)) if reply.is_permanent() => {
                failures.push((out.id, reply.to_string()));
                failed.push(out.id);
            }
            _ => deferred.push(out.id),
        }
    }
    conn.quit().await;
    RelayOutcome {
        attempt: Attempt {
            dest,
            entries,
            result: AttemptResult::Done {
                delivered,
                deferred,
                failed,
            },
        },
        retry_rcpts,
        failures,
    }
}
