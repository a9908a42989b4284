//! An in-memory [`IpvsBackend`] with the kernel's rules, for tests of the engine.

use super::table::Table;
use super::{DestEntry, IpvsBackend, IpvsError, Op, ServiceDump, ServiceEntry, Stats, SvcFlags};
use crate::config::model::SCHEDULERS;

/// A table in memory. Refuses what the kernel refuses (an unknown scheduler, a duplicate, a
/// missing service or real server) and reports services as flagged `HASHED`, as the kernel does.
#[derive(Debug, Default, Clone)]
pub struct MemBackend {
    pub table: Table,
    /// Every op applied successfully, in order.
    pub log: Vec<Op>,
}

impl MemBackend {
    pub fn new() -> Self {
        Self::default()
    }
}

impl IpvsBackend for MemBackend {
    fn apply(&mut self, op: &Op) -> Result<(), IpvsError> {
        if let Op::AddService(s) | Op::EditService(s) = op
            && !SCHEDULERS.contains(&s.sched.as_str())
        {
            return Err(IpvsError::from_errno(op, libc::ENOENT));
        }
        self.table.apply(op)?;
        self.log.push(op.clone());
        Ok(())
    }

    fn dump(&mut self) -> Result<Vec<ServiceDump>, IpvsError> {
        Ok(self
            .table
            .services
            .values()
            .map(|ts| {
                let mut service = ts.service.clone();
                service.flags = service.flags | SvcFlags::HASHED;
                ServiceDump {
                    entry: ServiceEntry {
                        service,
                        stats: Stats::default(),
                    },
                    dests: ts
                        .dests
                        .values()
                        .map(|d| DestEntry {
                            dest: *d,
                            active_conns: 0,
                            inact_conns: 0,
                            persist_conns: 0,
                            stats: Stats::default(),
                        })
                        .collect(),
                }
            })
            .collect())
    }
}
