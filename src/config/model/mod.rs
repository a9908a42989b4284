//! The configuration model shared by every part of lvsdeck.
//!
//! Both input formats (native TOML and keepalived.conf) produce a [`Config`]; the TOML form is
//! this model's serde representation, so `import` is "parse keepalived.conf, serialize".
//! Field names follow keepalived's where one exists, so a keepalived user can guess them.

mod bfd;
mod bgp;
mod lvs;
mod routes;
mod values;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use bfd::{BfdAuth, BfdInstance, TrackBfd};
pub use bgp::{Bgp, BgpNeighbor};
pub use lvs::*;
pub use routes::{FIRST_RULE_PRIORITY, ROUTE_PROTOCOL, Route, RouteKind, Rule};
pub use values::{Dur, IpNet, StatusRange};

/// The whole configuration of one director.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub global: Global,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vrrp_script: BTreeMap<String, VrrpScript>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vrrp_instance: BTreeMap<String, VrrpInstance>,
    /// Files holding a number that VRRP instances (`track_file`) and real servers
    /// (`type = "file"` checks) track (keepalived's `track_file` blocks).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub track_file: BTreeMap<String, TrackFile>,
    /// BFD sessions to neighbours (keepalived's `bfd_instance` blocks).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub bfd_instance: BTreeMap<String, BfdInstance>,
    /// lvsdeck only: announce services' addresses over BGP (several active directors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bgp: Option<Bgp>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vrrp_sync_group: BTreeMap<String, SyncGroup>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub virtual_server_group: BTreeMap<String, VirtualServerGroup>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub virtual_server: Vec<VirtualServer>,
    #[serde(default, skip_serializing_if = "Console::is_default")]
    pub console: Console,
    /// Addresses set from start to stop, whatever the VRRP state (`static_ipaddress`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub static_ipaddress: Vec<VirtualIp>,
    /// Routes set from start to stop (`static_routes`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub static_routes: Vec<Route>,
    /// Policy rules set from start to stop (`static_rules`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub static_rules: Vec<Rule>,
}

/// Director-wide settings (keepalived's `global_defs`, plus lvsdeck's own).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Global {
    /// Name of this director in logs and in the console header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub router_id: Option<String>,
    /// Refuse scripts that a non-root user could modify (keepalived's `enable_script_security`).
    pub enable_script_security: bool,
    /// The user scripts run as when they name none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script_user: Option<String>,
    /// Where the daemon listens for the console and `lvsdeck ctl`.
    pub control_socket: PathBuf,
    /// Group whose members may act through the control socket (root always may).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_group: Option<String>,
    /// Group whose members may open the control socket and watch; without it, root only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub control_group: Option<String>,
    /// Prometheus text metrics, off unless an address is given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<String>,
    /// Where operators' drains, weights and priority overrides are kept across restarts
    /// (default /var/lib/lvsdeck/state.json; a daemon given `--socket PATH` keeps them in
    /// PATH.state.json). The audit of their commands goes beside it (`.audit.log`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_file: Option<PathBuf>,
    /// How often the daemon runs the doctor's probes (`lvsdeck doctor`; default 5 min, the
    /// first 10 s after start); `0s`: only when asked (console `D` then `r`, or `:doctor`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub doctor_interval: Option<Dur>,
    /// Gratuitous ARP / NA timings applied to instances that set none.
    #[serde(skip_serializing_if = "GarpTimings::is_default")]
    pub garp: GarpTimings,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lvs_sync_daemon: Option<SyncDaemon>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lvs_timeouts: Option<IpvsTimeouts>,
    /// Send v3 IPv4 checksums without the pseudo-header (for old peers that do).
    #[serde(skip_serializing_if = "is_false")]
    pub vrrp_v3_checksum_as_v2: bool,
    /// Pause between two gratuitous ARPs sent on one interface (keepalived's
    /// `vrrp_garp_interval`); none: sent back to back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrrp_garp_interval: Option<Dur>,
    /// Pause between two unsolicited neighbour advertisements on one interface (IPv6).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrrp_gna_interval: Option<Dur>,
    /// Accept adverts whose address list differs from this instance's VIPs (they are still
    /// counted for the election); for every instance, as keepalived's `vrrp_skip_check_adv_addr`.
    #[serde(skip_serializing_if = "is_false")]
    pub vrrp_skip_check_adv_addr: bool,
    /// keepalived's interface for *static* addresses that name no `dev` (its default: eth0).
    /// Instances and VIPs never fall back to it: keepalived 2.2.7 refuses an instance without
    /// `interface`, and a VIP without `dev` is on its instance's interface.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_interface: Option<String>,
    /// Multicast group IPv4 adverts are sent to and joined (default 224.0.0.18).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrrp_mcast_group4: Option<Ipv4Addr>,
    /// Multicast group IPv6 adverts are sent to and joined (default ff02::12).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrrp_mcast_group6: Option<Ipv6Addr>,
    /// Lock the VRRP side's memory (mlockall) so adverts never wait on swap.
    #[serde(skip_serializing_if = "is_false")]
    pub vrrp_no_swap: bool,
    /// Lock the health checkers' memory (mlockall).
    #[serde(skip_serializing_if = "is_false")]
    pub checker_no_swap: bool,
    /// keepalived's `vrrp_strict` for every instance that does not set `strict_mode`: no
    /// authentication on the wire (an auth_pass is refused), as RFC 5798 has none.
    #[serde(skip_serializing_if = "is_false")]
    pub vrrp_strict: bool,
    /// Prefix of the VMAC interfaces' default names (`<prefix>.<VRID>`; keepalived's
    /// `vmac_prefix`, default `vrrp`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vmac_prefix: Option<String>,
}

impl Default for Global {
    fn default() -> Self {
        Self {
            router_id: None,
            enable_script_security: false,
            script_user: None,
            control_socket: PathBuf::from("/run/lvsdeck/control.sock"),
            admin_group: None,
            control_group: None,
            metrics_listen: None,
            state_file: None,
            doctor_interval: None,
            garp: GarpTimings::default(),
            lvs_sync_daemon: None,
            lvs_timeouts: None,
            vrrp_v3_checksum_as_v2: false,
            vrrp_garp_interval: None,
            vrrp_gna_interval: None,
            vrrp_skip_check_adv_addr: false,
            default_interface: None,
            vrrp_mcast_group4: None,
            vrrp_mcast_group6: None,
            vrrp_no_swap: false,
            checker_no_swap: false,
            vrrp_strict: false,
            vmac_prefix: None,
        }
    }
}

/// When and how often a new master announces its VIPs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GarpTimings {
    /// Delay before the second burst after becoming master.
    pub master_delay: Dur,
    /// Gratuitous ARPs / NAs in each burst.
    pub master_repeat: u32,
    /// Periodic refresh while master; zero disables it.
    pub master_refresh: Dur,
    pub master_refresh_repeat: u32,
    /// Delay before a burst after hearing a lower-priority advert while master.
    pub lower_prio_delay: Dur,
    pub lower_prio_repeat: u32,
}

impl GarpTimings {
    fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

impl Default for GarpTimings {
    /// keepalived's defaults.
    fn default() -> Self {
        Self {
            master_delay: Dur::from_secs(5),
            master_repeat: 5,
            master_refresh: Dur::ZERO,
            master_refresh_repeat: 1,
            lower_prio_delay: Dur::from_secs(5),
            lower_prio_repeat: 5,
        }
    }
}

/// The IPVS connection-synchronisation daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncDaemon {
    pub interface: String,
    /// The VRRP instance whose state decides master/backup sync role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_id: Option<u8>,
}

/// IPVS protocol timeouts (`ipvsadm --set`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpvsTimeouts {
    pub tcp: Dur,
    pub tcp_fin: Dur,
    pub udp: Dur,
}

/// A tracking script whose result moves the priority of the instances that track it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VrrpScript {
    /// Command line, run without a shell unless it needs one (pipes, quotes).
    pub script: String,
    #[serde(default = "default_script_interval")]
    pub interval: Dur,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Dur>,
    /// Added to the priority while the script succeeds (positive) or fails (negative);
    /// zero means a failure puts the instance in FAULT.
    #[serde(default)]
    pub weight: i32,
    /// With a positive weight, add it when the script fails instead (keepalived's `weight N reverse`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub weight_reverse: bool,
    #[serde(default = "one")]
    pub rise: u32,
    #[serde(default = "one")]
    pub fall: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// A tracked file: an integer an operator or a script writes (see `health::file`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackFile {
    pub file: PathBuf,
    /// The value times this moves a priority or a weight (-254..=254); 0: a non-zero value
    /// is a fault. Default 1.
    #[serde(default = "one_i32")]
    pub weight: i32,
    /// Negate the contribution (with weight 0: a zero value is the fault).
    #[serde(default, skip_serializing_if = "is_false")]
    pub reverse: bool,
    /// Create the file at start with this value (keepalived's `init_file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_file: Option<i64>,
    /// With init_file: write it even when the file exists (never on a reload).
    #[serde(default, skip_serializing_if = "is_false")]
    pub init_overwrite: bool,
}

/// A track_file tracked by an instance, optionally with its own weight / reverse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackFileRef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverse: Option<bool>,
}

fn default_script_interval() -> Dur {
    Dur::from_secs(1)
}

fn one() -> u32 {
    1
}

fn is_one(v: &u32) -> bool {
    *v == 1
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// State an instance prefers at start (keepalived's `state`); the election decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InitialState {
    Master,
    #[default]
    Backup,
}

/// One VRRP instance (a virtual router).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VrrpInstance {
    /// VRRP version, 2 (RFC 3768) or 3 (RFC 9568).
    #[serde(default = "default_version")]
    pub version: u8,
    pub interface: String,
    pub virtual_router_id: u8,
    #[serde(default = "default_priority")]
    pub priority: u8,
    #[serde(default)]
    pub state: InitialState,
    #[serde(default = "default_advert_int")]
    pub advert_int: Dur,
    /// v2 simple password (keepalived's `authentication { auth_type PASS }`), or the AH key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_pass: Option<String>,
    /// `auth_pass` keys an IPsec AH (RFC 2402, HMAC-MD5-96) around each advert instead of
    /// going in it (keepalived's `auth_type AH`; VRRPv2, IPv4).
    #[serde(default, skip_serializing_if = "is_false")]
    pub auth_ah: bool,
    pub virtual_ipaddress: Vec<VirtualIp>,
    /// Addresses the instance keeps in step with the VIPs but does not advertise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub virtual_ipaddress_excluded: Vec<VirtualIp>,
    /// Source address of adverts; defaults to the interface's primary address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unicast_src_ip: Option<IpAddr>,
    /// Send adverts to these peers instead of multicast.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unicast_peer: Vec<IpAddr>,
    #[serde(default = "yes")]
    pub preempt: bool,
    #[serde(default, skip_serializing_if = "Dur::is_zero")]
    pub preempt_delay: Dur,
    /// Accept packets addressed to the VIPs while master (RFC 9568 Accept_Mode).
    #[serde(default, skip_serializing_if = "is_false")]
    pub accept: bool,
    /// Overrides of the global GARP timings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub garp: Option<GarpTimings>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub track_interface: Vec<TrackInterface>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub track_script: Vec<TrackScript>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub track_file: Vec<TrackFileRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub track_bfd: Vec<TrackBfd>,
    #[serde(default, skip_serializing_if = "Notify::is_empty")]
    pub notify: Notify,
    /// The interface the IPVS sync daemon uses while this instance is master.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lvs_sync_daemon_interface: Option<String>,
    /// lvsdeck only (set it on both directors): after a graceful hand-over the old master keeps
    /// the VIPs this long, and the new master sends it the packets of connections its IPVS does
    /// not know (connections opened through the old master that sync has not carried yet),
    /// instead of resetting them. Needs `nft` on the new master.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handover_grace: Option<Dur>,
    /// Accept adverts whose address list differs from the VIPs (also on when the global
    /// `vrrp_skip_check_adv_addr` is).
    #[serde(default, skip_serializing_if = "is_false")]
    pub skip_check_adv_addr: bool,
    /// This instance's `vrrp_strict`; absent: the global one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict_mode: Option<bool>,
    /// Multicast group of this instance's adverts, instead of `vrrp_mcast_group4/6`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcast_dst_ip: Option<IpAddr>,
    /// keepalived's `use_vmac`: the VIPs go on a macvlan carrying the VRRP virtual MAC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_vmac: Option<Vmac>,
    /// Routes set while master, after the VIPs (`virtual_routes`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub virtual_routes: Vec<Route>,
    /// Policy rules set while master (`virtual_rules`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub virtual_rules: Vec<Rule>,
}

/// A VRRP virtual MAC interface (RFC 3768 §7.3, RFC 5798 §7.3): a private macvlan over the
/// instance's interface with MAC 00:00:5e:00:01:VRID (IPv6: :02:), holding the VIPs, so a
/// switch keeps one MAC for the VIPs whichever director is master.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vmac {
    /// Its name; default `<vmac_prefix>.<VRID>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A MAC instead of the RFC one (keepalived allows it outside strict mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<[u8; 6]>,
    /// Send and hear adverts on the instance's interface, with its own MAC (keepalived's
    /// `vmac_xmit_base`; forced with unicast peers).
    #[serde(default, skip_serializing_if = "is_false")]
    pub xmit_base: bool,
}

impl VrrpInstance {
    /// Whether strict RFC mode applies: the instance's `strict_mode`, else the global.
    pub fn strict(&self, global: &Global) -> bool {
        self.strict_mode.unwrap_or(global.vrrp_strict)
    }
}

fn default_version() -> u8 {
    2
}
fn default_priority() -> u8 {
    100
}
fn default_advert_int() -> Dur {
    Dur::from_secs(1)
}
fn yes() -> bool {
    true
}

/// A virtual address held by the master.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VirtualIp {
    /// Address with optional prefix length, as in `192.168.10.100/24`.
    pub address: IpNet,
    /// Interface to add it on; defaults to the instance's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// IPv4 broadcast address to set with it (keepalived's `brd`); none: no broadcast, as
    /// keepalived adds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broadcast: Option<Ipv4Addr>,
    /// Address scope number (`scope link` = 253); none: global.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<u8>,
}

/// An interface whose state moves the instance's priority (weight) or puts it in FAULT (weight 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackInterface {
    pub name: String,
    #[serde(default)]
    pub weight: i32,
}

/// A `vrrp_script` tracked by an instance, optionally with its own weight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackScript {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
}

/// Scripts run on state changes, with keepalived's arguments.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Notify {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<String>,
    /// Called on every transition with `TYPE NAME STATE PRIORITY`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub any: Option<String>,
    /// Who these scripts run as, `USER` or `USER:GROUP` (default: the global script_user).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

impl Notify {
    pub fn is_empty(&self) -> bool {
        *self == Notify::default()
    }
}

/// Instances that change state together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncGroup {
    pub group: Vec<String>,
    #[serde(default, skip_serializing_if = "Notify::is_empty")]
    pub notify: Notify,
}

/// Console preferences.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Console {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub theme: Option<String>,
    /// Key rebindings: action name to key.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub keys: BTreeMap<String, String>,
}

impl Console {
    fn is_default(&self) -> bool {
        *self == Console::default()
    }
}
