//! What the engine needs from an IPVS implementation: change the table, read it whole, and
//! keep the kernel-wide settings beside it (timeouts, sync daemons, sloppy TCP/SCTP).
//!
//! [`Netlink`](super::Netlink) is the kernel; [`MemBackend`](super::mem::MemBackend) is a table
//! in memory with the kernel's rules, which the engine's tests drive through the same worker.

use super::{IpvsError, Op, ServiceDump, SyncDaemon, SyncState, Timeouts};

pub trait IpvsBackend {
    fn apply(&mut self, op: &Op) -> Result<(), IpvsError>;
    fn dump(&mut self) -> Result<Vec<ServiceDump>, IpvsError>;

    fn timeouts(&mut self) -> Result<Timeouts, IpvsError>;
    fn set_timeouts(&mut self, t: &Timeouts) -> Result<(), IpvsError>;
    fn daemons(&mut self) -> Result<Vec<SyncDaemon>, IpvsError>;
    fn new_daemon(&mut self, d: &SyncDaemon) -> Result<(), IpvsError>;
    fn del_daemon(&mut self, state: SyncState) -> Result<(), IpvsError>;
    /// Whether sloppy TCP and SCTP are both on.
    fn sloppy(&mut self) -> bool;
    fn set_sloppy(&mut self) -> Result<(), IpvsError>;

    /// Things worth the operator's attention about this IPVS, said once when it opens.
    fn notes(&mut self) -> Vec<String> {
        Vec::new()
    }

    /// Apply every op in order, going on past failures (one unknown scheduler must not keep
    /// the other services out), and say which failed.
    fn apply_all(&mut self, ops: &[Op]) -> ApplyReport {
        let mut report = ApplyReport::default();
        for op in ops {
            match self.apply(op) {
                Ok(()) => report.applied += 1,
                Err(e) => report.failed.push((op.clone(), e)),
            }
        }
        report
    }
}

/// The outcome of [`IpvsBackend::apply_all`].
#[derive(Debug, Default)]
pub struct ApplyReport {
    pub applied: usize,
    pub failed: Vec<(Op, IpvsError)>,
}

impl ApplyReport {
    pub fn is_ok(&self) -> bool {
        self.failed.is_empty()
    }
}
