//! The kernel as an [`IpvsBackend`]: the table over generic netlink, the settings beside it,
//! and the sysctls of this network namespace's IPVS.

use super::Netlink;
use crate::ipvs::{IpvsBackend, IpvsError, Op, ServiceDump, SyncDaemon, SyncState, Timeouts};

/// The sysctls of sloppy TCP and SCTP (present once ip_vs is loaded).
const SLOPPY: [&str; 2] = [
    "/proc/sys/net/ipv4/vs/sloppy_tcp",
    "/proc/sys/net/ipv4/vs/sloppy_sctp",
];

impl IpvsBackend for Netlink {
    fn apply(&mut self, op: &Op) -> Result<(), IpvsError> {
        self.run(op)
    }

    fn dump(&mut self) -> Result<Vec<ServiceDump>, IpvsError> {
        let services = self.services()?;
        let mut out = Vec::with_capacity(services.len());
        for entry in services {
            let dests = self.dests(&entry.service.key)?;
            out.push(ServiceDump { entry, dests });
        }
        Ok(out)
    }

    fn timeouts(&mut self) -> Result<Timeouts, IpvsError> {
        Netlink::timeouts(self)
    }

    fn set_timeouts(&mut self, t: &Timeouts) -> Result<(), IpvsError> {
        Netlink::set_timeouts(self, t)
    }

    fn daemons(&mut self) -> Result<Vec<SyncDaemon>, IpvsError> {
        Netlink::daemons(self)
    }

    fn new_daemon(&mut self, d: &SyncDaemon) -> Result<(), IpvsError> {
        Netlink::new_daemon(self, d)
    }

    fn del_daemon(&mut self, state: SyncState) -> Result<(), IpvsError> {
        Netlink::del_daemon(self, state)
    }

    fn sloppy(&mut self) -> bool {
        SLOPPY
            .iter()
            .all(|p| std::fs::read_to_string(p).is_ok_and(|v| v.trim() == "1"))
    }

    fn set_sloppy(&mut self) -> Result<(), IpvsError> {
        for p in SLOPPY {
            std::fs::write(p, "1").map_err(|source| IpvsError::Io {
                op: format!("writing 1 to {p}"),
                source,
            })?;
        }
        Ok(())
    }

    /// With `net.ipv4.vs.expire_nodest_conn` at 0 (the kernel's default), a client that
    /// reuses a source port whose old connection IPVS still remembers (FIN_WAIT entries live
    /// 2 minutes in direct routing) is sent to that connection's real server even when it is
    /// drained.
    fn notes(&mut self) -> Vec<String> {
        let value = std::fs::read_to_string("/proc/sys/net/ipv4/vs/expire_nodest_conn");
        match value {
            Ok(v) if v.trim() == "0" => vec![
                "net.ipv4.vs.expire_nodest_conn is 0: a drained real server still gets new \
                 connections from clients that reuse a source port IPVS remembers; set it to 1 \
                 for drains that hold"
                    .to_string(),
            ],
            _ => Vec::new(),
        }
    }
}
