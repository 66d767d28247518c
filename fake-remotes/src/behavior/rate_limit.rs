//! `rate_limit`: a client IP that sends more than `messages` per `per` gets
//! `421 4.7.0 Too much mail from IP, try again later` at MAIL FROM, and the connection is
//! closed; a client IP with more than `connections` open at once gets
//! `421 4.7.0 Too many connections from IP` as the banner, and the connection is closed.
//! Either limit may be given alone (`messages` needs `per`).
//!
//! This is what large mailbox providers answer to a sender that is too fast (Gmail's
//! `421 4.7.0 Try again later, closing connection`, Yahoo's `421 4.7.0 [TSS04]`,
//! Outlook.com's throttling), and what Postfix's anvil does with
//! `smtpd_client_message_rate_limit` / `smtpd_client_connection_count_limit`. Like anvil,
//! messages are counted in fixed windows: the first MAIL FROM from an IP opens a window
//! of `per`; within it the `messages`+1st and later are refused (refused ones do not
//! count); after it the count starts again. A MAIL FROM counts whether or not the message
//! is delivered later.
//!
//! Connections are counted per IP by the server's `clients` task at all times (so a limit
//! switched on mid-run sees the connections already open); messages only while the fault
//! is in force. Several rate limits in force at once all apply: the lowest connection
//! limit, and every message window. Asked after the other faults at their stage.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::RemoteReply;

/// The longest `per` accepted.
pub const MAX_PER: Duration = Duration::from_secs(24 * 3600);

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Messages (MAIL FROM) per client IP per `per`.
    #[serde(
        default,
        with = "crate::units::opt_count",
        skip_serializing_if = "Option::is_none"
    )]
    pub messages: Option<u32>,
    #[serde(
        default,
        with = "crate::units::opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub per: Option<Duration>,
    /// Connections open at once per client IP.
    #[serde(
        default,
        with = "crate::units::opt_count",
        skip_serializing_if = "Option::is_none"
    )]
    pub connections: Option<u32>,
}

impl RateLimit {
    pub fn validate(&self) -> Result<(), String> {
        match (self.messages, self.per, self.connections) {
            (None, None, None) => {
                return Err(
                    "rate_limit needs `messages` and `per`, `connections`, or both, \
                     e.g. { messages: 100, per: 1m, connections: 5 }"
                        .to_string(),
                )
            }
            (Some(_), None, _) => {
                return Err(
                    "rate_limit `messages` needs `per`, e.g. { messages: 100, per: 1m }"
                        .to_string(),
                )
            }
            (None, Some(_), _) => {
                return Err(
                    "rate_limit `per` needs `messages`, e.g. { messages: 100, per: 1m }"
                        .to_string(),
                )
            }
            _ => {}
        }
        if self.messages == Some(0) {
            return Err("rate_limit messages must be at least 1".to_string());
        }
        if self.connections == Some(0) {
            return Err("rate_limit connections must be at least 1".to_string());
        }
        match self.per {
            Some(per) if per.is_zero() => Err("rate_limit per must be more than 0".to_string()),
            Some(per) if per > MAX_PER => Err(format!(
                "rate_limit per {} is too long: at most 24h",
                humantime::format_duration(per)
            )),
            _ => Ok(()),
        }
    }

    /// `(messages, per)` when this limit counts messages.
    pub fn message_window(&self) -> Option<(u32, Duration)> {
        Some((self.messages?, self.per?))
    }
}

/// The banner for a connection over the limit.
pub fn too_many_connections(ip: IpAddr) -> RemoteReply {
    RemoteReply::new(
        421,
        format!("4.7.0 Too many connections from {ip}, closing connection (fake-remotes)"),
    )
}

/// The reply to a MAIL FROM over the limit.
pub fn too_much_mail(ip: IpAddr) -> RemoteReply {
    RemoteReply::new(
        421,
        format!("4.7.0 Too much mail from {ip}, try again later (fake-remotes)"),
    )
}

/// The lowest connection limit of the rate limits in force, if any.
pub(super) fn connection_limit<'a>(limits: impl Iterator<Item = &'a RateLimit>) -> Option<u32> {
    limits.filter_map(|l| l.connections).min()
}

/// Every message window of the rate limits in force.
pub(super) fn message_windows<'a>(
    limits: impl Iterator<Item = &'a RateLimit>,
) -> Vec<(u32, Duration)> {
    limits.filter_map(RateLimit::message_window).collect()
}

/// Whether a connection is over the limit, given how many the IP has open (this one included).
pub fn over_connection_limit(open: u32, limit: u32) -> bool {
    open > limit
}

/// Open connections per client IP, owned by the server's `clients` task.
#[derive(Debug, Default)]
pub struct Connections {
    open: HashMap<IpAddr, u32>,
}

impl Connections {
    pub fn opened(&mut self, ip: IpAddr) {
        *self.open.entry(ip).or_default() += 1;
    }

    pub fn closed(&mut self, ip: IpAddr) {
        if let Some(n) = self.open.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.open.remove(&ip);
            }
        }
    }

    pub fn open(&self, ip: IpAddr) -> u32 {
        self.open.get(&ip).copied().unwrap_or(0)
    }
}

/// Fixed message windows per (client IP, window length), owned by the server's `clients`
/// task. Times are durations since the owner started.
#[derive(Debug, Default)]
pub struct MessageWindows {
    windows: HashMap<(IpAddr, Duration), Window>,
}

#[derive(Clone, Copy, Debug)]
struct Window {
    start: Duration,
    count: u32,
}

impl MessageWindows {
    /// Whether one more message from `ip` is within every limit; if so it is counted in
    /// every window, if not in none.
    pub fn admit(&mut self, ip: IpAddr, limits: &[(u32, Duration)], now: Duration) -> bool {
        let fresh = |w: &Window, per: Duration| now.saturating_sub(w.start) >= per;
        let within = limits.iter().all(|&(max, per)| {
            self.windows
                .get(&(ip, per))
                .is_none_or(|w| fresh(w, per) || w.count < max)
        });
        if !within {
            return false;
        }
        for (i, &(_, per)) in limits.iter().enumerate() {
            // Limits with the same period share one window: count the message once.
            if limits[..i].iter().any(|&(_, p)| p == per) {
                continue;
            }
            let w = self.windows.entry((ip, per)).or_insert(Window {
                start: now,
                count: 0,
            });
            if fresh(w, per) {
                *w = Window {
                    start: now,
                    count: 0,
                };
            }
            w.count += 1;
        }
        // Loopback clients are few; drop expired windows if many IPs ever show up.
        if self.windows.len() > 4096 {
            self.windows.retain(|(_, per), w| !fresh(w, *per));
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn validate_table() {
        let rl = |messages, per: Option<u64>, connections| RateLimit {
            messages,
            per: per.map(S),
            connections,
        };
        let table = [
            (rl(Some(100), Some(60), Some(5)), None),
            (rl(Some(100), Some(60), None), None),
            (rl(None, None, Some(5)), None),
            (rl(None, None, None), Some("needs `messages` and `per`")),
            (rl(Some(100), None, None), Some("`messages` needs `per`")),
            (rl(None, Some(60), Some(1)), Some("`per` needs `messages`")),
            (
                rl(Some(0), Some(60), None),
                Some("messages must be at least 1"),
            ),
            (
                rl(None, None, Some(0)),
                Some("connections must be at least 1"),
            ),
            (rl(Some(1), Some(0), None), Some("per must be more than 0")),
            (rl(Some(1), Some(90_000), None), Some("too long")),
        ];
        for (limit, want) in table {
            match (limit.validate(), want) {
                (Ok(()), None) => {}
                (Err(e), Some(part)) => assert!(e.contains(part), "{limit:?}: {e}"),
                (got, want) => panic!("{limit:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn message_windows_are_fixed_per_ip() {
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let limit = [(2, S(60))];
        // (ip, seconds since start) → admitted, in order, on one state.
        let table = [
            (a, 0, true),
            (a, 10, true),
            (a, 20, false), // the third within the window
            (a, 59, false), // refused ones do not count, the window still ends at 60
            (b, 30, true),  // another client has its own window
            (a, 60, true),  // a new window
            (a, 61, true),
            (a, 62, false),
        ];
        let mut windows = MessageWindows::default();
        for (ip, at, want) in table {
            assert_eq!(windows.admit(ip, &limit, S(at)), want, "{ip} at {at}s");
        }
    }

    #[test]
    fn every_window_applies_and_counts_only_admitted_messages() {
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let limits = [(3, S(10)), (4, S(100))];
        let mut w = MessageWindows::default();
        let admitted: Vec<bool> = [0, 1, 2, 3, 11, 12, 13]
            .iter()
            .map(|&t| w.admit(a, &limits, S(t)))
            .collect();
        // 3 in the first 10 s; at 11 s the short window is new but the long one is at 3
        // of 4, so one more; then the long one is full.
        assert_eq!(admitted, [true, true, true, false, true, false, false]);

        // Two limits over the same period share a window, each message counted once.
        let mut w = MessageWindows::default();
        let same_period = [(3, S(10)), (5, S(10))];
        let admitted: Vec<bool> = (0..4).map(|t| w.admit(a, &same_period, S(t))).collect();
        assert_eq!(admitted, [true, true, true, false], "the lower one decides");
    }

    #[test]
    fn connections_are_counted_and_limits_combine() {
        let a: IpAddr = "::1".parse().unwrap();
        let mut c = Connections::default();
        c.opened(a);
        c.opened(a);
        assert_eq!(c.open(a), 2);
        c.closed(a);
        c.closed(a);
        c.closed(a); // an extra close never underflows
        assert_eq!(c.open(a), 0);
        assert!(!over_connection_limit(5, 5));
        assert!(over_connection_limit(6, 5));

        let limits = [
            RateLimit {
                connections: Some(5),
                ..RateLimit::default()
            },
            RateLimit {
                messages: Some(10),
                per: Some(S(60)),
                connections: Some(3),
            },
        ];
        assert_eq!(connection_limit(limits.iter()), Some(3));
        assert_eq!(message_windows(limits.iter()), [(10, S(60))]);
    }
}
