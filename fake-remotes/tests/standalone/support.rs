//! What the standalone tests share: a minimal HTTP/1.1 client (one request per
//! connection, `Connection: close`) and a minimal SMTP client, both on real loopback
//! sockets with a timeout on every wait.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};

pub const WAIT: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

fn request_text(method: &str, path: &str, token: Option<&str>, body: &str) -> String {
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// One request; the whole response (the server closes after it).
pub async fn http(
    api: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> Response {
    let mut stream = timeout(WAIT, TcpStream::connect(api))
        .await
        .expect("connect in time")
        .expect("connect to the API");
    stream
        .write_all(request_text(method, path, token, body).as_bytes())
        .await
        .unwrap();
    let mut raw = Vec::new();
    timeout(WAIT, stream.read_to_end(&mut raw))
        .await
        .expect("response in time")
        .expect("read response");
    let text = String::from_utf8(raw).expect("UTF-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    let status = head[9..12].parse().expect("a status code");
    Response {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

pub async fn get(api: SocketAddr, path: &str) -> Response {
    http(api, "GET", path, None, "").await
}

/// Opens `GET path` and returns the connection, to read a stream from it.
pub async fn open_stream(api: SocketAddr, path: &str) -> TcpStream {
    let mut stream = timeout(WAIT, TcpStream::connect(api))
        .await
        .expect("connect in time")
        .expect("connect to the API");
    stream
        .write_all(request_text("GET", path, None, "").as_bytes())
        .await
        .unwrap();
    stream
}

/// Reads from `stream` into `seen` until `seen` holds `needle`.
pub async fn read_until(stream: &mut TcpStream, seen: &mut String, needle: &str) {
    let deadline = Instant::now() + WAIT;
    while !seen.contains(needle) {
        let mut buf = [0u8; 4096];
        let n = tokio::time::timeout_at(deadline, stream.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("`{needle}` not seen in time; got {seen}"))
            .expect("read");
        assert!(n > 0, "stream closed before `{needle}`: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
}

/// Reads one complete SMTP reply (through its final `NNN ` line).
async fn reply(stream: &mut TcpStream) -> String {
    let mut out = String::new();
    loop {
        if let Some(last) = out.lines().last() {
            if out.ends_with("\r\n") && last.len() >= 4 && last.as_bytes()[3] == b' ' {
                return out;
            }
        }
        let mut buf = [0u8; 1024];
        let n = timeout(WAIT, stream.read(&mut buf))
            .await
            .expect("reply in time")
            .expect("read reply");
        assert!(n > 0, "closed after {out:?}");
        out.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
}

/// Sends one message to `rcpt` and returns the reply to the final dot.
pub async fn send_mail(addr: SocketAddr, rcpt: &str) -> String {
    let mut s = timeout(WAIT, TcpStream::connect(addr))
        .await
        .expect("connect in time")
        .expect("connect");
    assert!(reply(&mut s).await.starts_with("220 "));
    for command in [
        "EHLO client.test".to_string(),
        "MAIL FROM:<mq.1@bounces.test>".to_string(),
        format!("RCPT TO:<{rcpt}>"),
        "DATA".to_string(),
    ] {
        s.write_all(format!("{command}\r\n").as_bytes())
            .await
            .unwrap();
        let r = reply(&mut s).await;
        assert!(r.starts_with('2') || r.starts_with('3'), "{command}: {r}");
    }
    s.write_all(b"Subject: hi\r\nX-Mailquake-Id: t.1\r\n\r\nhello\r\n.\r\n")
        .await
        .unwrap();
    let dot = reply(&mut s).await;
    s.write_all(b"QUIT\r\n").await.unwrap();
    let _ = reply(&mut s).await;
    dot
}

/// Whether a TCP connection to `addr` is refused now.
pub async fn refused(addr: SocketAddr) -> bool {
    match timeout(WAIT, TcpStream::connect(addr)).await {
        Ok(Err(e)) => e.kind() == std::io::ErrorKind::ConnectionRefused,
        Ok(Ok(_)) => false,
        Err(_) => panic!("connect to {addr} neither succeeded nor failed in time"),
    }
}

/// Polls `condition` until it holds, within [`WAIT`].
pub async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + WAIT;
    while !condition().await {
        assert!(Instant::now() < deadline, "not in time: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
