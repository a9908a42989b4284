//! An in-memory [`IpvsBackend`] with the kernel's rules, for tests of the engine.

use super::table::Table;
use super::{
    DestEntry, IpvsBackend, IpvsError, Op, ServiceDump, ServiceEntry, Stats, SvcFlags, SyncDaemon,
    SyncState, Timeouts,
};
use crate::config::model::SCHEDULERS;

/// A table in memory. Refuses what the kernel refuses (an unknown scheduler, a duplicate, a
/// missing service or real server) and reports services as flagged `HASHED`, as the kernel does.
#[derive(Debug, Default, Clone)]
pub struct MemBackend {
    pub table: Table,
    /// Every op applied successfully, in order.
    pub log: Vec<Op>,
    /// The kernel-wide settings, as `ipvsadm --set`, `--start-daemon` and the sysctls leave
    /// them (a 0 timeout leaves that one unchanged, as in the kernel).
    pub timeouts: Timeouts,
    pub daemons: Vec<SyncDaemon>,
    pub sloppy: bool,
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

    fn timeouts(&mut self) -> Result<Timeouts, IpvsError> {
        Ok(self.timeouts)
    }

    fn set_timeouts(&mut self, t: &Timeouts) -> Result<(), IpvsError> {
        let keep = |new: u32, old: u32| if new == 0 { old } else { new };
        self.timeouts = Timeouts {
            tcp: keep(t.tcp, self.timeouts.tcp),
            tcp_fin: keep(t.tcp_fin, self.timeouts.tcp_fin),
            udp: keep(t.udp, self.timeouts.udp),
        };
        Ok(())
    }

    fn daemons(&mut self) -> Result<Vec<SyncDaemon>, IpvsError> {
        Ok(self.daemons.clone())
    }

    fn new_daemon(&mut self, d: &SyncDaemon) -> Result<(), IpvsError> {
        if self.daemons.iter().any(|have| have.state == d.state) {
            return Err(IpvsError::Kernel {
                op: format!("start the {} sync daemon", d.state),
                errno: libc::EEXIST,
                reason: "File exists".into(),
                hint: String::new(),
            });
        }
        self.daemons.push(d.clone());
        Ok(())
    }

    fn del_daemon(&mut self, state: SyncState) -> Result<(), IpvsError> {
        let before = self.daemons.len();
        self.daemons.retain(|d| d.state != state);
        if self.daemons.len() == before {
            return Err(IpvsError::Kernel {
                op: format!("stop the {state} sync daemon"),
                errno: libc::ESRCH,
                reason: "No such process".into(),
                hint: String::new(),
            });
        }
        Ok(())
    }

    fn sloppy(&mut self) -> bool {
        self.sloppy
    }

    fn set_sloppy(&mut self) -> Result<(), IpvsError> {
        self.sloppy = true;
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
