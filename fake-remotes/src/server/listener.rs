//! The listening socket as the listener faults want it: open, closed (`refuse`) or
//! jammed (`unreachable`). Executes what `behavior::listener_state` decides.
//!
//! A jam is a listener on the same address with a backlog of 1 that is never accepted
//! from, whose accept queue the server fills with its own connections. Linux drops every
//! SYN that reaches a listener with a full accept queue (no SYN-ACK, no RST), so clients'
//! `connect()` hangs. On Linux the queue length is read from the listener (TCP_INFO:
//! queued vs. backlog) so the jam is complete before it is reported; elsewhere fillers
//! are added until one does not connect within [`FILL_TIMEOUT`].

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};

use crate::behavior::ListenerState;

/// Backlog of a jammed listener: the smallest that still completes handshakes normally
/// (0 would push the kernel into SYN cookies and log a "SYN flood").
const JAM_BACKLOG: u32 = 1;
/// Most connections the server makes to fill its own jammed queue.
const MAX_FILLERS: usize = 8;
/// A filler that has not connected by then was dropped: the queue is full.
const FILL_TIMEOUT: Duration = Duration::from_secs(1);

/// What the listening socket is now.
pub(super) enum Listening {
    Open(TcpListener),
    Closed,
    /// Held for its sockets: dropping it un-jams.
    Jammed {
        _jam: Jam,
    },
}

/// A jammed listener and the connections that fill its accept queue; dropping it closes
/// them all (the kernel resets the queued ones).
pub(super) struct Jam {
    _listener: TcpListener,
    _fillers: Vec<TcpStream>,
}

impl Listening {
    pub(super) fn state(&self) -> ListenerState {
        match self {
            Listening::Open(_) => ListenerState::Open,
            Listening::Closed => ListenerState::Closed,
            Listening::Jammed { .. } => ListenerState::Jammed,
        }
    }

    /// Moves to `wanted` on `addr`. On an error the listener is left closed, to be tried
    /// again.
    pub(super) async fn switch(
        &mut self,
        wanted: ListenerState,
        addr: SocketAddr,
    ) -> io::Result<()> {
        // The old socket goes first: the new one takes the same address.
        *self = Listening::Closed;
        *self = match wanted {
            ListenerState::Open => Listening::Open(super::bind(addr)?),
            ListenerState::Closed => Listening::Closed,
            ListenerState::Jammed => Listening::Jammed {
                _jam: jam(addr).await?,
            },
        };
        Ok(())
    }

    /// Accepts while open; waits forever otherwise.
    pub(super) async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        match self {
            Listening::Open(l) => l.accept().await,
            Listening::Closed | Listening::Jammed { .. } => std::future::pending().await,
        }
    }
}

async fn jam(addr: SocketAddr) -> io::Result<Jam> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    let listener = socket.listen(JAM_BACKLOG)?;
    let target = SocketAddr::new(reachable(addr.ip()), addr.port());
    let mut fillers = Vec::new();
    while fillers.len() < MAX_FILLERS {
        if accept_queue(&listener).is_some_and(|(queued, max)| queued > max) {
            break;
        }
        match tokio::time::timeout(FILL_TIMEOUT, TcpStream::connect(target)).await {
            Ok(Ok(filler)) => fillers.push(filler),
            Ok(Err(e)) => return Err(e),
            // This SYN was dropped: the queue is full.
            Err(_) => break,
        }
    }
    Ok(Jam {
        _listener: listener,
        _fillers: fillers,
    })
}

/// Where the server can reach its own listener (a wildcard address is reached on loopback).
fn reachable(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        other => other,
    }
}

/// (connections waiting in the accept queue, the queue's limit) of a listener.
#[cfg(target_os = "linux")]
fn accept_queue(listener: &TcpListener) -> Option<(u32, u32)> {
    use std::os::fd::AsRawFd;
    // SAFETY: `info` is a plain C struct that getsockopt fills up to `len` bytes; the fd
    // is a live socket borrowed from `listener` for the duration of the call.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    let rc = unsafe {
        libc::getsockopt(
            listener.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    // For a listening socket Linux reports the accept queue's length in `tcpi_unacked`
    // and its limit in `tcpi_sacked`; it is full when the length exceeds the limit.
    (rc == 0).then_some((info.tcpi_unacked, info.tcpi_sacked))
}

#[cfg(not(target_os = "linux"))]
fn accept_queue(_listener: &TcpListener) -> Option<(u32, u32)> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_are_reached_on_loopback() {
        let table = [
            ("0.0.0.0", "127.0.0.1"),
            ("::", "::1"),
            ("127.0.0.2", "127.0.0.2"),
        ];
        for (ip, want) in table {
            let got = reachable(ip.parse().unwrap());
            assert_eq!(got, want.parse::<IpAddr>().unwrap());
        }
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_jam_fills_the_accept_queue() {
        let open = super::super::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = open.local_addr().unwrap();
        drop(open);
        let jam = tokio::time::timeout(Duration::from_secs(10), jam(addr))
            .await
            .expect("jammed in time")
            .expect("jam");
        let (queued, max) = accept_queue(&jam._listener).expect("TCP_INFO on Linux");
        assert_eq!(max, JAM_BACKLOG);
        assert!(queued > max, "full: {queued} > {max}");
        assert!(jam._fillers.len() <= MAX_FILLERS);
    }
}
