//! `greylist`: the first attempt of each (client IP, sender, recipient) triple gets
//! `451 4.7.1 Greylisted, please try again later` at RCPT TO, and so does every retry
//! until `retry_after` has passed since the triple was first seen; from then on the
//! triple is accepted. A client that retries later (as every MTA does for a 4xx) gets its
//! mail through; one that gives up or never retries loses it.
//!
//! This is greylisting as postgrey, sqlgrey or milter-greylist do it behind Postfix or
//! Sendmail (postgrey's default delay is 300 s, which is this fault's default). Like
//! them, an early retry does not restart the clock, a triple that passed keeps passing,
//! and a triple never retried is forgotten after [`FORGET_AFTER`]. Sender and recipient
//! are compared without case; the client is the full IP address (postgrey's default
//! groups a /24, which on loopback is the same).
//!
//! State lives across the connections of one server in a [`GreylistTable`] owned by that
//! server's `clients` task (never shared between tasks); the table is consulted only
//! while the fault is in force. It keeps a 64-bit hash of each triple, not the strings,
//! so a soak of millions of messages stays small. Asked after the other faults at RCPT,
//! as a policy service usually ends Postfix's recipient restrictions.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::RemoteReply;

/// A triple never retried is forgotten this long after it was first seen (postgrey's
/// retry window is 2 days; a passed triple is kept as long, which a test run never
/// outlives).
pub const FORGET_AFTER: Duration = Duration::from_secs(3 * 24 * 3600);
/// The longest `retry_after` accepted: longer would only ever bounce.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Greylist {
    /// How long after the first attempt a retry is accepted.
    #[serde(default = "default_retry_after", with = "crate::units::duration")]
    pub retry_after: Duration,
}

fn default_retry_after() -> Duration {
    Duration::from_secs(300)
}

impl Default for Greylist {
    fn default() -> Self {
        Greylist {
            retry_after: default_retry_after(),
        }
    }
}

impl Greylist {
    pub fn validate(&self) -> Result<(), String> {
        if self.retry_after.is_zero() {
            return Err("greylist retry_after must be more than 0".to_string());
        }
        if self.retry_after > MAX_RETRY_AFTER {
            return Err(format!(
                "greylist retry_after {} is too long: at most 24h",
                humantime::format_duration(self.retry_after)
            ));
        }
        Ok(())
    }
}

/// The reply to a greylisted RCPT.
pub fn reply() -> RemoteReply {
    RemoteReply::new(
        451,
        "4.7.1 Greylisted, please try again later (fake-remotes)",
    )
}

/// The longest `retry_after` of the greylists in force (the strictest wins), if any.
pub(super) fn retry_after<'a>(greylists: impl Iterator<Item = &'a Greylist>) -> Option<Duration> {
    greylists.map(|g| g.retry_after).max()
}

/// The triples one server has seen, by when each was first seen (time since the table
/// was made, so the owner's clock, paused in tests, is the only clock).
#[derive(Debug, Default)]
pub struct GreylistTable {
    first_seen: HashMap<u64, Duration>,
    /// Size after the last sweep; the next sweep comes when the table has doubled, so
    /// forgetting costs O(1) per insert on average.
    swept_at_len: usize,
}

impl GreylistTable {
    /// Whether this attempt passes (`true`) or is greylisted, recording the triple on its
    /// first attempt.
    pub fn passes(
        &mut self,
        ip: IpAddr,
        sender: &str,
        rcpt: &str,
        retry_after: Duration,
        now: Duration,
    ) -> bool {
        let key = triple_key(ip, sender, rcpt);
        match self.first_seen.get(&key) {
            Some(&first) if now.saturating_sub(first) < FORGET_AFTER => {
                now.saturating_sub(first) >= retry_after
            }
            _ => {
                self.first_seen.insert(key, now);
                self.sweep(now);
                false
            }
        }
    }

    pub fn len(&self) -> usize {
        self.first_seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.first_seen.is_empty()
    }

    fn sweep(&mut self, now: Duration) {
        if self.first_seen.len() < (2 * self.swept_at_len).max(1024) {
            return;
        }
        self.first_seen
            .retain(|_, first| now.saturating_sub(*first) < FORGET_AFTER);
        self.swept_at_len = self.first_seen.len();
    }
}

/// A stable 64-bit key for a triple (SipHash with fixed keys: the same in every run).
fn triple_key(ip: IpAddr, sender: &str, rcpt: &str) -> u64 {
    let mut h = DefaultHasher::new();
    ip.hash(&mut h);
    for part in [sender, rcpt] {
        for b in part.bytes() {
            h.write_u8(b.to_ascii_lowercase());
        }
        // A separator, so ("ab", "c") and ("a", "bc") differ.
        h.write_u8(0xff);
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn first_attempt_deferred_until_retry_after_then_accepted() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        // (ip, sender, rcpt, seconds since start) → passes, in order, on one table.
        let table = [
            (ip, "a@x.test", "r@y.test", 0, false),
            (ip, "a@x.test", "r@y.test", 10, false), // early retry: still greylisted …
            (ip, "a@x.test", "r@y.test", 29, false), // … and the clock was not restarted
            (ip, "a@x.test", "r@y.test", 30, true),
            (ip, "A@X.test", "R@y.TEST", 31, true), // case does not matter
            (ip, "a@x.test", "r2@y.test", 31, false), // another recipient is new
            (ip, "b@x.test", "r@y.test", 31, false), // another sender is new
            (other, "a@x.test", "r@y.test", 31, false), // another client is new
            (ip, "a@x.test", "r@y.test", 3600, true), // a passed triple keeps passing
            (ip, "a@x.test", "r2@y.test", 62, true),
        ];
        let mut grey = GreylistTable::default();
        for (ip, from, rcpt, at, want) in table {
            let got = grey.passes(ip, from, rcpt, S(30), S(at));
            assert_eq!(got, want, "{ip} {from} {rcpt} at {at}s");
        }
        assert_eq!(grey.len(), 4);
    }

    #[test]
    fn forgotten_after_the_window_and_swept() {
        let ip: IpAddr = "::1".parse().unwrap();
        let mut grey = GreylistTable::default();
        assert!(!grey.passes(ip, "a", "b", S(1), S(0)));
        // Never retried within FORGET_AFTER: greylisted again, as a new triple.
        let later = FORGET_AFTER + S(1);
        assert!(!grey.passes(ip, "a", "b", S(1), later));
        assert!(grey.passes(ip, "a", "b", S(1), later + S(1)));
        // Many stale triples are swept once the table has grown.
        for n in 0..2000 {
            grey.passes(ip, &format!("s{n}"), "r", S(1), S(0));
        }
        let much_later = FORGET_AFTER * 3;
        for n in 0..1100 {
            grey.passes(ip, &format!("t{n}"), "r", S(1), much_later);
        }
        assert!(grey.len() < 2000, "stale triples swept: {}", grey.len());
    }

    #[test]
    fn strictest_retry_after_wins_and_validate() {
        let g = |s| Greylist { retry_after: S(s) };
        assert_eq!(retry_after([g(30), g(300)].iter()), Some(S(300)));
        assert_eq!(retry_after([].iter()), None);
        assert!(g(30).validate().is_ok());
        assert!(g(0).validate().is_err());
        assert!(g(2 * 24 * 3600).validate().is_err());
        let parsed: Greylist = serde_json::from_str("{}").unwrap();
        assert_eq!(parsed.retry_after, S(300), "postgrey's default delay");
    }
}
