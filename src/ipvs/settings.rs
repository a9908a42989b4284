//! The kernel-wide IPVS settings a configuration asks for, beside the table: the protocol
//! timeouts (`lvs_timeouts`, `ipvsadm --set`) and the connection-synchronisation daemons
//! (`lvs_sync_daemon`, `ipvsadm --start-daemon`). Pure: what is wanted, from the configuration
//! and the VRRP states, and the changes that bring the kernel there.
//!
//! The sync daemon follows keepalived: while the named VRRP instance is MASTER the director
//! runs the master daemon (it multicasts its connections), otherwise the backup daemon (it
//! receives them), so that a new master already knows the connections of the old one. With no
//! instance named, both run. The sync id defaults to the instance's virtual router id.
//! Daemons are left running when lvsdeck stops, like the table; the next start adopts them.

use std::collections::BTreeSet;

use super::{SyncDaemon, SyncState, Timeouts};
use crate::config::model::Config;

/// What the kernel should have.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Settings {
    pub timeouts: Option<Timeouts>,
    /// Whether the configuration manages sync daemons at all: without `lvs_sync_daemon`,
    /// daemons someone else started are left alone.
    pub manage_sync: bool,
    /// The daemons that should run (at most one per role).
    pub sync: Vec<SyncDaemon>,
    /// `net.ipv4.vs.sloppy_tcp` and `sloppy_sctp` on (`[bgp] sloppy`): connections that
    /// arrive mid-flow from another director are taken. Never turned off by lvsdeck.
    pub sloppy: bool,
}

/// One change to the kernel's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingOp {
    SetTimeouts(Timeouts),
    StartDaemon(SyncDaemon),
    StopDaemon(SyncState),
    /// Turn `sloppy_tcp` and `sloppy_sctp` on.
    SetSloppy,
}

impl std::fmt::Display for SettingOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SettingOp::SetTimeouts(t) => write!(
                f,
                "set timeouts tcp {}s, tcp fin {}s, udp {}s",
                t.tcp, t.tcp_fin, t.udp
            ),
            SettingOp::StartDaemon(d) => write!(
                f,
                "start the {} sync daemon on {} (syncid {})",
                d.state, d.mcast_ifn, d.syncid
            ),
            SettingOp::StopDaemon(state) => write!(f, "stop the {state} sync daemon"),
            SettingOp::SetSloppy => f.write_str(
                "set net.ipv4.vs.sloppy_tcp and sloppy_sctp to 1 (flows moved from another \
                 director continue)",
            ),
        }
    }
}

/// The settings `config` asks for, given the state ("MASTER", "BACKUP", ...) of each VRRP
/// instance by name.
pub fn wanted(config: &Config, state_of: impl Fn(&str) -> Option<String>) -> Settings {
    let timeouts = config.global.lvs_timeouts.map(|t| Timeouts {
        tcp: t.tcp.0.as_secs() as u32,
        tcp_fin: t.tcp_fin.0.as_secs() as u32,
        udp: t.udp.0.as_secs() as u32,
    });
    let mut settings = Settings {
        timeouts,
        sloppy: config.bgp.as_ref().is_some_and(|b| b.sloppy),
        ..Settings::default()
    };
    // keepalived's older spelling, `lvs_sync_daemon_interface` in a vrrp_instance, names the
    // interface there and the instance by where it stands; keepalived 2.2.7 then leaves the
    // sync id at 0 rather than taking the VRID (seen in tests/keepalived_diff_vm.rs).
    let legacy = config.vrrp_instance.iter().find_map(|(name, i)| {
        i.lvs_sync_daemon_interface
            .as_ref()
            .map(|ifn| crate::config::model::SyncDaemon {
                interface: ifn.clone(),
                instance: Some(name.clone()),
                sync_id: Some(0),
            })
    });
    let Some(sync) = config.global.lvs_sync_daemon.as_ref().or(legacy.as_ref()) else {
        return settings;
    };
    settings.manage_sync = true;
    let instance = sync
        .instance
        .as_ref()
        .and_then(|name| config.vrrp_instance.get(name).map(|i| (name, i)));
    let syncid = sync
        .sync_id
        .map(u32::from)
        .or(instance.map(|(_, i)| u32::from(i.virtual_router_id)))
        .unwrap_or(0);
    let roles: &[SyncState] = match instance {
        Some((name, _)) if state_of(name).as_deref() == Some("MASTER") => &[SyncState::Master],
        Some(_) => &[SyncState::Backup],
        None => &[SyncState::Master, SyncState::Backup],
    };
    settings.sync = roles
        .iter()
        .map(|&role| SyncDaemon::new(role, &sync.interface, syncid))
        .collect();
    settings
}

/// The changes from what the kernel has (`timeouts`, `daemons`) to `want`. `started` are the
/// roles lvsdeck itself started, which it stops when no longer wanted even if the
/// configuration stopped managing sync daemons (a reload that removed `lvs_sync_daemon`).
pub fn changes(
    want: &Settings,
    timeouts: Option<Timeouts>,
    daemons: &[SyncDaemon],
    started: &BTreeSet<SyncState>,
) -> Vec<SettingOp> {
    let mut ops = Vec::new();
    if let Some(t) = want.timeouts {
        // The kernel leaves a timeout of 0 unchanged: compare only the ones given.
        let differs = |want: u32, have: Option<u32>| want != 0 && have != Some(want);
        if differs(t.tcp, timeouts.map(|h| h.tcp))
            || differs(t.tcp_fin, timeouts.map(|h| h.tcp_fin))
            || differs(t.udp, timeouts.map(|h| h.udp))
        {
            ops.push(SettingOp::SetTimeouts(t));
        }
    }
    for role in [SyncState::Master, SyncState::Backup] {
        let wanted = want.sync.iter().find(|d| d.state == role);
        let running = daemons.iter().find(|d| d.state == role);
        match (wanted, running) {
            (Some(w), None) => ops.push(SettingOp::StartDaemon(w.clone())),
            (Some(w), Some(r)) if !same_daemon(w, r) => {
                ops.push(SettingOp::StopDaemon(role));
                ops.push(SettingOp::StartDaemon(w.clone()));
            }
            (None, Some(_)) if want.manage_sync || started.contains(&role) => {
                ops.push(SettingOp::StopDaemon(role));
            }
            _ => {}
        }
    }
    // Stop before start: a role switch frees the interface's sync socket first, as keepalived
    // does.
    ops.sort_by_key(|op| !matches!(op, SettingOp::StopDaemon(_)));
    ops
}

/// Whether a running daemon is the wanted one: the fields the configuration gives; what it
/// leaves to the kernel (message size, group, port, TTL) may read back as anything.
fn same_daemon(want: &SyncDaemon, have: &SyncDaemon) -> bool {
    fn given<T: PartialEq>(want: &Option<T>, have: &Option<T>) -> bool {
        want.is_none() || want == have
    }
    want.mcast_ifn == have.mcast_ifn
        && want.syncid == have.syncid
        && given(&want.sync_maxlen, &have.sync_maxlen)
        && given(&want.mcast_group, &have.mcast_group)
        && given(&want.mcast_port, &have.mcast_port)
        && given(&want.mcast_ttl, &have.mcast_ttl)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::{Dur, IpvsTimeouts, SyncDaemon as SyncConfig};

    fn config(sync: Option<(&str, Option<&str>, Option<u8>)>) -> Config {
        let mut c: Config = toml::from_str(
            "[vrrp_instance.VI_1]\ninterface = \"eth0\"\nvirtual_router_id = 51\npriority = 100\n\
             virtual_ipaddress = [{ address = \"192.0.2.100/24\" }]\n",
        )
        .expect("valid");
        c.global.lvs_sync_daemon = sync.map(|(ifn, inst, id)| SyncConfig {
            interface: ifn.into(),
            instance: inst.map(String::from),
            sync_id: id,
        });
        c
    }

    fn state(s: &'static str) -> impl Fn(&str) -> Option<String> {
        move |_| Some(s.to_string())
    }

    #[test]
    fn the_daemon_follows_the_instance_and_takes_its_vrid() {
        let c = config(Some(("eth1", Some("VI_1"), None)));
        let master = wanted(&c, state("MASTER"));
        assert_eq!(
            master.sync,
            [SyncDaemon::new(SyncState::Master, "eth1", 51)]
        );
        for other in ["BACKUP", "FAULT", "INIT"] {
            assert_eq!(
                wanted(&c, state(other)).sync,
                [SyncDaemon::new(SyncState::Backup, "eth1", 51)]
            );
        }
        let c = config(Some(("eth1", Some("VI_1"), Some(7))));
        assert_eq!(wanted(&c, state("MASTER")).sync[0].syncid, 7);
        // no instance: both roles, sync id 0
        let c = config(Some(("eth1", None, None)));
        let both = wanted(&c, state("MASTER"));
        assert_eq!(
            both.sync,
            [
                SyncDaemon::new(SyncState::Master, "eth1", 0),
                SyncDaemon::new(SyncState::Backup, "eth1", 0)
            ]
        );
        assert!(!wanted(&config(None), state("MASTER")).manage_sync);
        // the older per-instance spelling: sync id 0, as keepalived 2.2.7 leaves it
        let mut c = config(None);
        c.vrrp_instance
            .get_mut("VI_1")
            .unwrap()
            .lvs_sync_daemon_interface = Some("eth2".into());
        assert_eq!(
            wanted(&c, state("MASTER")).sync,
            [SyncDaemon::new(SyncState::Master, "eth2", 0)]
        );
    }

    #[test]
    fn a_role_switch_stops_then_starts_and_a_match_changes_nothing() {
        let c = config(Some(("eth1", Some("VI_1"), None)));
        let none = BTreeSet::new();
        let backup = [SyncDaemon::new(SyncState::Backup, "eth1", 51)];
        assert_eq!(
            changes(&wanted(&c, state("BACKUP")), None, &[], &none),
            [SettingOp::StartDaemon(backup[0].clone())]
        );
        assert_eq!(
            changes(&wanted(&c, state("BACKUP")), None, &backup, &none),
            []
        );
        // what the kernel fills in (maxlen, group, port, ttl) is not a difference
        let mut read_back = backup[0].clone();
        read_back.sync_maxlen = Some(1472);
        read_back.mcast_port = Some(8848);
        read_back.mcast_ttl = Some(1);
        assert_eq!(
            changes(&wanted(&c, state("BACKUP")), None, &[read_back], &none),
            []
        );
        assert_eq!(
            changes(&wanted(&c, state("MASTER")), None, &backup, &none),
            [
                SettingOp::StopDaemon(SyncState::Backup),
                SettingOp::StartDaemon(SyncDaemon::new(SyncState::Master, "eth1", 51))
            ]
        );
        // another interface or sync id: restarted
        let elsewhere = [SyncDaemon::new(SyncState::Backup, "eth0", 51)];
        assert_eq!(
            changes(&wanted(&c, state("BACKUP")), None, &elsewhere, &none),
            [
                SettingOp::StopDaemon(SyncState::Backup),
                SettingOp::StartDaemon(backup[0].clone())
            ]
        );
    }

    #[test]
    fn daemons_of_others_are_left_alone_unless_we_manage_or_started_them() {
        let running = [SyncDaemon::new(SyncState::Master, "eth9", 3)];
        let unmanaged = wanted(&config(None), state("MASTER"));
        assert_eq!(changes(&unmanaged, None, &running, &BTreeSet::new()), []);
        let ours = BTreeSet::from([SyncState::Master]);
        assert_eq!(
            changes(&unmanaged, None, &running, &ours),
            [SettingOp::StopDaemon(SyncState::Master)]
        );
    }

    #[test]
    fn timeouts_are_set_only_when_they_differ() {
        let mut c = config(None);
        c.global.lvs_timeouts = Some(IpvsTimeouts {
            tcp: Dur::from_secs(7200),
            tcp_fin: Dur::from_secs(120),
            udp: Dur::ZERO,
        });
        let want = wanted(&c, state("MASTER"));
        let t = want.timeouts.unwrap();
        assert_eq!((t.tcp, t.tcp_fin, t.udp), (7200, 120, 0));
        let none = BTreeSet::new();
        let kernel_default = Timeouts {
            tcp: 900,
            tcp_fin: 120,
            udp: 300,
        };
        assert_eq!(
            changes(&want, Some(kernel_default), &[], &none),
            [SettingOp::SetTimeouts(t)]
        );
        // udp 0 means "leave it": 300 in the kernel is no difference
        let applied = Timeouts {
            tcp: 7200,
            ..kernel_default
        };
        assert_eq!(changes(&want, Some(applied), &[], &none), []);
    }
}
