//! Executing the plan's decisions: asking it at each stage, answering with a fault's
//! reply (421 closes), following live fault switches, and reporting what fired.

use super::{End, Out, Session};
use crate::behavior::{Fired, StageAction};
use crate::event::now_us;
use crate::{MessageSink, RemoteEvent, RemoteEventKind, RemoteReply, Stage};

impl<T: super::Transport, K: MessageSink> Session<T, K> {
    /// Asks the plan about `stage`; reports a fault that fires. `Ok(Some)`: answer this
    /// instead; `Err`: the session ends here.
    pub(super) async fn fault_at(&mut self, stage: Stage) -> Result<Option<RemoteReply>, End> {
        let Some(Fired { fault, action }) = self.plan.at_stage(stage) else {
            return Ok(None);
        };
        self.fired(fault, stage).await;
        match action {
            StageAction::Reply(r) => Ok(Some(r)),
            StageAction::Disconnect => Err(End::Close),
            StageAction::Reset => Err(End::Reset),
            StageAction::Blackhole => Err(End::Blackhole),
        }
    }

    pub(super) async fn send_or_fault(
        &mut self,
        fault: Option<RemoteReply>,
        normal: Out<'_>,
    ) -> Result<(), End> {
        match fault {
            Some(r) => self.send_fault(&r).await,
            None => self.send(normal).await,
        }
    }

    /// A fault's reply; 421 closes the connection after it (RFC 5321 §3.8).
    pub(super) async fn send_fault(&mut self, r: &RemoteReply) -> Result<(), End> {
        self.send(Out::Reply(r)).await?;
        if r.code == 421 {
            return Err(End::Close);
        }
        Ok(())
    }

    pub(super) fn refresh_faults(&mut self) {
        if self.faults.has_changed().unwrap_or(false) {
            let faults = self.faults.borrow_and_update().clone();
            self.plan.set_faults(faults);
        }
    }

    pub(super) async fn report_tarpit(&mut self) {
        if !self.tarpit_reported {
            self.tarpit_reported = true;
            self.fired("tarpit", self.stage).await;
        }
    }

    pub(super) async fn fired(&mut self, fault: &'static str, stage: Stage) {
        self.emit(RemoteEventKind::FaultFired {
            fault: fault.to_string(),
            stage,
            rcpts: self.rcpts.clone(),
        })
        .await;
    }

    /// Waits while the events channel is full (back-pressure on this SMTP session,
    /// never a lost event).
    pub(super) async fn emit(&mut self, kind: RemoteEventKind) {
        // The receiver may be gone (a run ending); the session goes on regardless.
        let _ = self
            .events
            .send(RemoteEvent {
                at_us: now_us(),
                remote: self.shared.name.clone(),
                kind,
            })
            .await;
    }
}
