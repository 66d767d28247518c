//! The cluster's own monitoring, read during a run: every [`ALERT_POLL_EVERY`], each
//! Prometheus an `alert` check names is asked for its alerting rules and their active
//! alerts (`GET /api/v1/rules?type=alert`), and the watched rules' part of the answer
//! is reported to the collector, which records it like a probe sample
//! (`checks/alert.rs` judges it). A Prometheus that does not answer at start stops the
//! run before the load (exit 3); a poll that fails later is recorded as failed.

use std::sync::Arc;
use std::time::Duration;

use fake_remotes::event::now_us;
use tokio::sync::mpsc::Sender;
use tokio_util::sync::CancellationToken;

use crate::collector::alerts::{ActiveAlert, AlertsSeen};
use crate::collector::Event;
use crate::remotes::client::ApiClient;
use crate::scenario::{Check, Plan, ALERT_POLL_EVERY};

/// The API call: alerting rules only, each with its active alerts.
const RULES_PATH: &str = "/api/v1/rules?type=alert";
/// A poll slower than this counts as failed (the next one is due).
const POLL_TIMEOUT: Duration = Duration::from_secs(2);

/// One Prometheus to poll and the rules watched there.
#[derive(Clone, Debug)]
pub struct AlertSource {
    pub url: Arc<str>,
    pub names: Vec<String>,
}

/// The Prometheus servers the plan's `alert` checks read, each once.
pub fn sources(plan: &Plan) -> Vec<AlertSource> {
    let mut out: Vec<AlertSource> = Vec::new();
    for check in &plan.checks {
        let Check::Alert(a) = check else { continue };
        match out.iter_mut().find(|s| *s.url == *a.prometheus) {
            Some(s) if s.names.contains(&a.name) => {}
            Some(s) => s.names.push(a.name.clone()),
            None => out.push(AlertSource {
                url: Arc::from(a.prometheus.as_str()),
                names: vec![a.name.clone()],
            }),
        }
    }
    out
}

/// From load start, when every `alert` check's alert is due to have fired (its fault's
/// start + `fires_within`): settle does not end before, nor while one still fires.
pub fn due(plan: &Plan) -> Duration {
    plan.checks
        .iter()
        .filter_map(|c| match c {
            Check::Alert(a) => Some(a.during.1 + a.fires_within),
            _ => None,
        })
        .max()
        .unwrap_or_default()
}

/// Polls each source once, so a Prometheus that cannot be read stops the run before
/// the load. `Err` is one line.
pub async fn prepare(sources: Vec<AlertSource>) -> Result<Vec<AlertSource>, String> {
    for s in &sources {
        poll(s)
            .await
            .map_err(|e| format!("alert check: Prometheus at {}: {e}", s.url))?;
    }
    Ok(sources)
}

/// Polls every source each [`ALERT_POLL_EVERY`] until `stop`, each on its own task so
/// a slow one does not make the others late.
pub async fn run(sources: Vec<AlertSource>, events: Sender<Event>, stop: CancellationToken) {
    let mut tasks = tokio::task::JoinSet::new();
    for source in sources {
        let (events, stop) = (events.clone(), stop.clone());
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(ALERT_POLL_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.cancelled() => return,
                }
                let at_us = now_us();
                let seen = tokio::select! {
                    seen = poll(&source) => seen,
                    _ = stop.cancelled() => return,
                };
                let event = Event::AlertPoll {
                    prometheus: source.url.clone(),
                    at_us,
                    seen,
                };
                if events.send(event).await.is_err() {
                    return;
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

/// One poll: the watched rules' part of `GET /api/v1/rules?type=alert`.
pub async fn poll(source: &AlertSource) -> Result<AlertsSeen, String> {
    let client = ApiClient::new(&source.url, None);
    let body = tokio::time::timeout(POLL_TIMEOUT, client.get(RULES_PATH))
        .await
        .map_err(|_| format!("no answer within {}s", POLL_TIMEOUT.as_secs()))?
        .map_err(|e| e.to_string())?;
    parse_rules(&body, &source.names)
}

/// Prometheus's rules answer (`{"status":"success","data":{"groups":[{"rules":[…]}]}}`),
/// reduced to the rules named in `names` and their active alerts.
pub fn parse_rules(body: &[u8], names: &[String]) -> Result<AlertsSeen, String> {
    let not_ours = |why: &str| format!("GET {RULES_PATH}: not Prometheus's answer ({why})");
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| not_ours(&e.to_string()))?;
    if v["status"] != "success" {
        return Err(not_ours("no `status: success`"));
    }
    let groups = v["data"]["groups"]
        .as_array()
        .ok_or_else(|| not_ours("no `data.groups`"))?;
    let mut seen = AlertsSeen::default();
    let rules = groups
        .iter()
        .filter_map(|g| g["rules"].as_array())
        .flatten();
    for rule in rules {
        let Some(name) = rule["name"]
            .as_str()
            .filter(|n| names.iter().any(|w| w == n))
        else {
            continue;
        };
        if rule["type"] != "alerting" {
            continue;
        }
        if !seen.rules.iter().any(|r| r == name) {
            seen.rules.push(name.to_string());
        }
        for alert in rule["alerts"].as_array().into_iter().flatten() {
            let labels = alert["labels"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect()
                })
                .unwrap_or_default();
            seen.active.push(ActiveAlert {
                name: name.to_string(),
                labels,
                firing: alert["state"] == "firing",
            });
        }
    }
    Ok(seen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_watched_rules_and_their_alerts() {
        let body = br#"{"status":"success","data":{"groups":[{"name":"postfix","rules":[
            {"type":"alerting","name":"PostfixQueueBacklog","alerts":[
                {"labels":{"alertname":"PostfixQueueBacklog","node":"n2"},"state":"firing"},
                {"labels":{"alertname":"PostfixQueueBacklog","node":"n1"},"state":"pending"}]},
            {"type":"alerting","name":"Other","alerts":[{"labels":{},"state":"firing"}]},
            {"type":"recording","name":"PostfixQueueBacklog"}]}]}}"#;
        let seen = parse_rules(body, &["PostfixQueueBacklog".into()]).unwrap();
        assert_eq!(seen.rules, ["PostfixQueueBacklog"]);
        let got: Vec<(&str, bool)> = seen
            .active
            .iter()
            .map(|a| (a.labels["node"].as_str(), a.firing))
            .collect();
        assert_eq!(got, [("n2", true), ("n1", false)]);
        assert_eq!(seen.firing(), 1);
        // A rule that is not there: no rules, nothing active.
        let none = parse_rules(body, &["Missing".into()]).unwrap();
        assert_eq!(none, AlertsSeen::default());
        for bad in [
            &b"<html>"[..],
            br#"{"status":"error"}"#,
            br#"{"status":"success"}"#,
        ] {
            let e = parse_rules(bad, &[]).unwrap_err();
            assert!(e.contains("not Prometheus's answer"), "{e}");
        }
    }
}
