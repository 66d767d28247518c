//! Bounces: the delivery status notification a node sends to a message's (VERP) sender
//! when it gives the message up (a 5xx, or the maximum queue lifetime passed).

use fake_remotes::event::now_us;

/// The text of a bounce for a message from `sender` that `node` could not deliver.
pub fn build(node: &str, sender: &str, rcpts: &[String], reason: &str, original: &[u8]) -> Vec<u8> {
    let head_end = original
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 2)
        .unwrap_or(original.len().min(4096));
    let mut out = format!(
        "From: MAILER-DAEMON@{node}\r\nTo: {sender}\r\nSubject: Undelivered Mail Returned to Sender\r\n\
         Auto-Submitted: auto-replied\r\nX-Mailquake-Bounce-Time: {}\r\n\
         Content-Type: text/plain; charset=us-ascii\r\n\r\n\
         This is the mail system at host {node}.\r\n\r\nYour message could not be delivered to:\r\n",
        now_us()
    )
    .into_bytes();
    for rcpt in rcpts {
        out.extend_from_slice(format!("  <{rcpt}>: {reason}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n--- Headers of the original message ---\r\n\r\n");
    out.extend_from_slice(&original[..head_end]);
    out
}
