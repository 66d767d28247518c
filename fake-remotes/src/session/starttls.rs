//! STARTTLS (RFC 3207) on the server side, and the `tls` faults it executes: a refusal,
//! a handshake that never answers, or a handshake with the certificate the behaviour
//! chose. After a successful handshake the session forgets the EHLO and any transaction,
//! as the RFC requires, and goes on over TLS; the EHLO reply then no longer offers
//! STARTTLS.

use tokio::time::sleep;

use super::conn::Conn;
use super::{End, Out, Session};
use crate::behavior::tls::{Certificate, Handshake};
use crate::behavior::Fired;
use crate::command::reply;
use crate::{MessageSink, Stage};

impl<T: super::Transport, K: MessageSink> Session<T, K> {
    pub(super) async fn starttls(&mut self) -> Result<(), End> {
        self.stage = Stage::Starttls;
        let Some(tls) = self.shared.tls.clone() else {
            return self.send(Out::Line(reply::NOT_IMPLEMENTED)).await;
        };
        if self.io.is_tls() {
            return self.send(Out::Line(reply::TLS_ACTIVE)).await;
        }
        if self.mail_from.is_some() {
            // RFC 3207 §4: not in the middle of a transaction.
            return self.send(Out::Line(reply::IN_TRANSACTION)).await;
        }
        if let Some(r) = self.fault_at(Stage::Starttls).await? {
            return self.send_fault(&r).await;
        }
        self.send(Out::Line(reply::READY_TLS)).await?;
        self.flush().await?;
        // Whatever the client pipelined after STARTTLS came in the clear and must not be
        // taken as said inside TLS (the STARTTLS command injection class of bugs).
        self.pos = self.inbuf.len();
        let cert = match self.plan.handshake() {
            Some(Fired { fault, action }) => {
                self.fired(fault, Stage::Starttls).await;
                match action {
                    // Hold the connection; the ClientHello is read and dropped.
                    Handshake::Hang => return Err(End::Blackhole),
                    Handshake::Present(cert) => cert,
                }
            }
            None => Certificate::Valid,
        };
        let Some(plain) = self.io.take_plain() else {
            return Err(End::ClientGone);
        };
        let accept = tokio_rustls::TlsAcceptor::from(tls.config(cert)).accept(plain);
        // The handshake is bounded like any wait for the client; a client that rejects
        // the certificate aborts it with an alert, which ends the session quietly.
        let stream = tokio::select! {
            r = accept => r.map_err(|_| End::ClientGone)?,
            _ = sleep(self.shared.idle_timeout) => return Err(End::ClientGone),
            _ = self.shutdown.as_mut() => return Err(End::ClientGone),
        };
        self.io = Conn::Tls(Box::new(stream));
        self.helo = None;
        self.authenticated = false;
        self.reset_transaction();
        Ok(())
    }
}
