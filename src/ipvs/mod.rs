//! IPVS: the kernel's virtual-server table, its model, and the engine that keeps it in step with
//! the configuration.
//!
//! - this file: the plain model (what a service and a real server are, as the kernel sees
//!   them), the operations on the table ([`Op`]) and the errors;
//! - [`IpvsBackend`] (`backend.rs`): what the engine drives, the kernel or a table in memory;
//! - [`netlink`]: the real backend, the kernel's generic-netlink family `"IPVS"` over neli;
//! - [`table`]: the pure core: the desired table built from the configuration and the health of
//!   the real servers, the actual table from one dump, and the minimal diff between them;
//! - [`settings`]: the kernel-wide settings beside the table (timeouts, sync daemons);
//! - [`mem`]: an in-memory backend with the kernel's semantics, for tests of the engine.
//!
//! Addresses and ports are plain [`IpAddr`] / `u16` here; the byte orders the kernel wants are
//! the netlink layer's business.

mod backend;
pub mod mem;
pub mod netlink;
pub mod settings;
pub mod table;

use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, Instant};

pub use crate::config::model::Protocol;
use crate::config::model::{Family, ForwardMethod};

pub use backend::{ApplyReport, IpvsBackend};
pub use netlink::Netlink;

/// Address family of a service or real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Af {
    Inet,
    Inet6,
}

impl Af {
    /// The kernel's `AF_INET` / `AF_INET6`.
    pub fn raw(self) -> u16 {
        match self {
            Af::Inet => libc::AF_INET as u16,
            Af::Inet6 => libc::AF_INET6 as u16,
        }
    }

    pub fn from_raw(v: u16) -> Option<Af> {
        match i32::from(v) {
            libc::AF_INET => Some(Af::Inet),
            libc::AF_INET6 => Some(Af::Inet6),
            _ => None,
        }
    }

    pub fn of(addr: &IpAddr) -> Af {
        if addr.is_ipv4() { Af::Inet } else { Af::Inet6 }
    }
}

impl From<Family> for Af {
    fn from(f: Family) -> Self {
        match f {
            Family::Inet => Af::Inet,
            Family::Inet6 => Af::Inet6,
        }
    }
}

/// IP protocol numbers of the service protocols.
pub fn proto_number(p: Protocol) -> u16 {
    match p {
        Protocol::Tcp => libc::IPPROTO_TCP as u16,
        Protocol::Udp => libc::IPPROTO_UDP as u16,
        Protocol::Sctp => libc::IPPROTO_SCTP as u16,
    }
}

pub fn proto_from_number(n: u16) -> Option<Protocol> {
    match i32::from(n) {
        libc::IPPROTO_TCP => Some(Protocol::Tcp),
        libc::IPPROTO_UDP => Some(Protocol::Udp),
        libc::IPPROTO_SCTP => Some(Protocol::Sctp),
        _ => None,
    }
}

/// `TCP`, `UDP`, `SCTP`, as ipvsadm prints them.
pub fn proto_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "TCP",
        Protocol::Udp => "UDP",
        Protocol::Sctp => "SCTP",
    }
}

/// What identifies a virtual service in the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceKey {
    /// An address, port and protocol; the family is the address's.
    Addr {
        proto: Protocol,
        addr: IpAddr,
        port: u16,
    },
    /// A firewall mark (of the given family).
    Fwmark { af: Af, mark: u32 },
}

impl ServiceKey {
    pub fn af(&self) -> Af {
        match self {
            ServiceKey::Addr { addr, .. } => Af::of(addr),
            ServiceKey::Fwmark { af, .. } => *af,
        }
    }

    pub fn is_fwmark(&self) -> bool {
        matches!(self, ServiceKey::Fwmark { .. })
    }
}

impl fmt::Display for ServiceKey {
    /// The words `ipvsadm -Ln` heads a service with, single-spaced: `TCP 192.0.2.1:80`,
    /// `TCP [2001:db8::1]:80`, `FWM 1`, `FWM 1 IPv6` (ipvsadm pads the protocol to four
    /// characters: `TCP  192.0.2.1:80`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceKey::Addr { proto, addr, port } => {
                write!(f, "{} {}", proto_name(*proto), SockAddr(*addr, *port))
            }
            ServiceKey::Fwmark { af: Af::Inet, mark } => write!(f, "FWM {mark}"),
            ServiceKey::Fwmark {
                af: Af::Inet6,
                mark,
            } => write!(f, "FWM {mark} IPv6"),
        }
    }
}

/// `addr:port` with brackets around IPv6 addresses.
pub struct SockAddr(pub IpAddr, pub u16);

impl fmt::Display for SockAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(a) => write!(f, "{a}:{}", self.1),
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.1),
        }
    }
}

/// Virtual service flags (`IP_VS_SVC_F_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct SvcFlags(pub u32);

impl SvcFlags {
    pub const PERSISTENT: SvcFlags = SvcFlags(0x0001);
    /// Set by the kernel on every service in its table; never compared, never sent.
    pub const HASHED: SvcFlags = SvcFlags(0x0002);
    pub const ONEPACKET: SvcFlags = SvcFlags(0x0004);
    /// Scheduler flag 1: sh-fallback / mh-fallback.
    pub const SCHED1: SvcFlags = SvcFlags(0x0008);
    /// Scheduler flag 2: sh-port / mh-port.
    pub const SCHED2: SvcFlags = SvcFlags(0x0010);
    pub const SCHED3: SvcFlags = SvcFlags(0x0020);

    pub const fn empty() -> Self {
        SvcFlags(0)
    }
    pub const fn contains(self, other: SvcFlags) -> bool {
        self.0 & other.0 == other.0
    }
    pub const fn union(self, other: SvcFlags) -> SvcFlags {
        SvcFlags(self.0 | other.0)
    }
    pub const fn without(self, other: SvcFlags) -> SvcFlags {
        SvcFlags(self.0 & !other.0)
    }
    /// The flags as lvsdeck compares them: without the kernel's bookkeeping bit.
    pub const fn significant(self) -> SvcFlags {
        self.without(SvcFlags::HASHED)
    }

    /// A scheduler flag by its `ipvsadm -b` / keepalived name.
    pub fn sched_flag(name: &str) -> Option<SvcFlags> {
        match name {
            "flag-1" | "sh-fallback" | "mh-fallback" => Some(SvcFlags::SCHED1),
            "flag-2" | "sh-port" | "mh-port" => Some(SvcFlags::SCHED2),
            "flag-3" => Some(SvcFlags::SCHED3),
            _ => None,
        }
    }
}

impl std::ops::BitOr for SvcFlags {
    type Output = SvcFlags;
    fn bitor(self, rhs: SvcFlags) -> SvcFlags {
        self.union(rhs)
    }
}

/// A virtual service with its options, as the kernel holds it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Service {
    pub key: ServiceKey,
    /// Scheduler name (`wlc`, `mh`, ...); the kernel loads `ip_vs_<name>` on demand.
    pub sched: String,
    /// Flags, without [`SvcFlags::HASHED`].
    pub flags: SvcFlags,
    /// Persistence timeout in seconds (meaningful with [`SvcFlags::PERSISTENT`]).
    pub timeout: u32,
    /// Persistence granularity: for IPv4 the mask as a number (`0xffff_ff00` for /24), for
    /// IPv6 a prefix length (1..=128) — the two forms the kernel stores.
    pub netmask: u32,
    /// Persistence engine (`sip`), rarely used.
    pub pe_name: Option<String>,
}

impl Service {
    /// A service with the given scheduler, no flags and the host netmask of its family.
    pub fn new(key: ServiceKey, sched: &str) -> Self {
        Service {
            key,
            sched: sched.to_string(),
            flags: SvcFlags::empty(),
            timeout: 0,
            netmask: host_netmask(key.af()),
            pe_name: None,
        }
    }
}

/// The netmask that means "one client address": 255.255.255.255 or /128.
pub fn host_netmask(af: Af) -> u32 {
    match af {
        Af::Inet => u32::MAX,
        Af::Inet6 => 128,
    }
}

/// How IPVS forwards to a real server (`IP_VS_CONN_F_FWD_MASK` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Fwd {
    /// NAT (`IP_VS_CONN_F_MASQ`).
    Masq,
    /// The director itself (`IP_VS_CONN_F_LOCALNODE`).
    Local,
    /// IP-in-IP / GUE / GRE tunnel (`IP_VS_CONN_F_TUNNEL`).
    Tunnel,
    /// Direct routing (`IP_VS_CONN_F_DROUTE`).
    #[default]
    Route,
    /// Cache bypass (`IP_VS_CONN_F_BYPASS`).
    Bypass,
}

impl Fwd {
    pub fn raw(self) -> u32 {
        match self {
            Fwd::Masq => 0,
            Fwd::Local => 1,
            Fwd::Tunnel => 2,
            Fwd::Route => 3,
            Fwd::Bypass => 4,
        }
    }

    pub fn from_raw(v: u32) -> Option<Fwd> {
        Some(match v & 0x7 {
            0 => Fwd::Masq,
            1 => Fwd::Local,
            2 => Fwd::Tunnel,
            3 => Fwd::Route,
            4 => Fwd::Bypass,
            _ => return None,
        })
    }

    /// The word `ipvsadm -Ln` prints in its Forward column.
    pub fn ipvsadm_name(self) -> &'static str {
        match self {
            Fwd::Masq => "Masq",
            Fwd::Local => "Local",
            Fwd::Tunnel => "Tunnel",
            Fwd::Route => "Route",
            Fwd::Bypass => "Bypass",
        }
    }
}

impl From<ForwardMethod> for Fwd {
    fn from(m: ForwardMethod) -> Self {
        match m {
            ForwardMethod::Dr => Fwd::Route,
            ForwardMethod::Nat => Fwd::Masq,
            ForwardMethod::Tun => Fwd::Tunnel,
        }
    }
}

/// Tunnel encapsulation of a [`Fwd::Tunnel`] real server (`IP_VS_CONN_F_TUNNEL_TYPE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum TunType {
    #[default]
    Ipip,
    Gue,
    Gre,
}

impl TunType {
    pub fn raw(self) -> u8 {
        match self {
            TunType::Ipip => 0,
            TunType::Gue => 1,
            TunType::Gre => 2,
        }
    }
    pub fn from_raw(v: u8) -> Option<TunType> {
        match v {
            0 => Some(TunType::Ipip),
            1 => Some(TunType::Gue),
            2 => Some(TunType::Gre),
            _ => None,
        }
    }
}

/// Tunnel checksum flags (`IP_VS_TUNNEL_ENCAP_FLAG_*`).
pub mod tun_flags {
    pub const NOCSUM: u16 = 0;
    pub const CSUM: u16 = 1 << 0;
    pub const REMCSUM: u16 = 1 << 1;
}

/// What identifies a real server within its service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DestKey {
    pub addr: IpAddr,
    pub port: u16,
}

impl fmt::Display for DestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        SockAddr(self.addr, self.port).fmt(f)
    }
}

/// A real server (destination) with its options, as the kernel holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Dest {
    pub addr: IpAddr,
    pub port: u16,
    pub fwd: Fwd,
    /// 0 keeps the server in the table but sends it no new connections.
    pub weight: u32,
    /// Upper / lower connection thresholds (0: none).
    pub u_thresh: u32,
    pub l_thresh: u32,
    /// Tunnel options, sent and compared for [`Fwd::Tunnel`] only.
    pub tun_type: TunType,
    /// GUE destination port.
    pub tun_port: u16,
    /// See [`tun_flags`].
    pub tun_flags: u16,
}

impl Dest {
    pub fn new(addr: IpAddr, port: u16, fwd: Fwd, weight: u32) -> Self {
        Dest {
            addr,
            port,
            fwd,
            weight,
            u_thresh: 0,
            l_thresh: 0,
            tun_type: TunType::Ipip,
            tun_port: 0,
            tun_flags: 0,
        }
    }

    pub fn key(&self) -> DestKey {
        DestKey {
            addr: self.addr,
            port: self.port,
        }
    }

    /// The same server with the tunnel options cleared unless it is tunnelled: the kernel
    /// keeps them but they mean nothing for other methods.
    pub fn normalized(mut self) -> Self {
        if self.fwd != Fwd::Tunnel {
            self.tun_type = TunType::Ipip;
            self.tun_port = 0;
            self.tun_flags = 0;
        }
        self
    }
}

/// Counters and the kernel's rate estimates of a service or real server.
///
/// Filled from the 64-bit attributes (`*_STATS64`, kernel >= 4.1) when present, otherwise from
/// the 32-bit ones, whose packet and connection counters wrap at 2^32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub conns: u64,
    pub inpkts: u64,
    pub outpkts: u64,
    pub inbytes: u64,
    pub outbytes: u64,
    /// The kernel's own 2-second estimates.
    pub cps: u64,
    pub inpps: u64,
    pub outpps: u64,
    pub inbps: u64,
    pub outbps: u64,
}

/// One service as read back from the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceEntry {
    pub service: Service,
    pub stats: Stats,
}

/// One real server as read back from the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestEntry {
    pub dest: Dest,
    pub active_conns: u32,
    pub inact_conns: u32,
    pub persist_conns: u32,
    pub stats: Stats,
}

/// A service and its real servers, from one dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceDump {
    pub entry: ServiceEntry,
    pub dests: Vec<DestEntry>,
}

/// General IPVS information (`IPVS_CMD_GET_INFO`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Info {
    /// `IP_VS_VERSION_CODE`, e.g. 0x010201 for 1.2.1.
    pub version: u32,
    /// Size of the connection hash table.
    pub conn_tab_size: u32,
}

impl Info {
    /// `1.2.1`, as `ipvsadm` prints it.
    pub fn version_string(&self) -> String {
        format!(
            "{}.{}.{}",
            (self.version >> 16) & 0xff,
            (self.version >> 8) & 0xff,
            self.version & 0xff
        )
    }
}

/// Connection timeouts in seconds (`ipvsadm --set`); 0 leaves a value unchanged when setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timeouts {
    pub tcp: u32,
    pub tcp_fin: u32,
    pub udp: u32,
}

/// Role of a connection-synchronisation daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SyncState {
    Master,
    Backup,
}

impl fmt::Display for SyncState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SyncState::Master => "master",
            SyncState::Backup => "backup",
        })
    }
}

impl SyncState {
    pub fn raw(self) -> u32 {
        match self {
            SyncState::Master => 1,
            SyncState::Backup => 2,
        }
    }
    pub fn from_raw(v: u32) -> Option<SyncState> {
        match v {
            1 => Some(SyncState::Master),
            2 => Some(SyncState::Backup),
            _ => None,
        }
    }
}

/// A connection-synchronisation daemon (`ipvsadm --start-daemon`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncDaemon {
    pub state: SyncState,
    /// Multicast interface (at most 15 bytes).
    pub mcast_ifn: String,
    pub syncid: u32,
    /// Sync message size; `None` lets the kernel choose (and when read back, an old kernel).
    pub sync_maxlen: Option<u16>,
    /// Multicast group; default 224.0.0.81 / ff02::8100.
    pub mcast_group: Option<IpAddr>,
    /// Multicast port; default 8848.
    pub mcast_port: Option<u16>,
    pub mcast_ttl: Option<u8>,
}

impl SyncDaemon {
    pub fn new(state: SyncState, mcast_ifn: &str, syncid: u32) -> Self {
        SyncDaemon {
            state,
            mcast_ifn: mcast_ifn.to_string(),
            syncid,
            sync_maxlen: None,
            mcast_group: None,
            mcast_port: None,
            mcast_ttl: None,
        }
    }
}

/// One change to the kernel's table.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Op {
    AddService(Service),
    /// Change a service's scheduler, flags, persistence in place (connections are kept).
    EditService(Service),
    DelService(ServiceKey),
    AddDest(ServiceKey, Dest),
    /// Change weight, forwarding method, thresholds or tunnel options in place.
    EditDest(ServiceKey, Dest),
    DelDest(ServiceKey, DestKey),
}

impl Op {
    pub fn service_key(&self) -> &ServiceKey {
        match self {
            Op::AddService(s) | Op::EditService(s) => &s.key,
            Op::DelService(k) | Op::AddDest(k, _) | Op::EditDest(k, _) | Op::DelDest(k, _) => k,
        }
    }
}

impl fmt::Display for Op {
    /// A one-line description for logs, close to the `ipvsadm` command that does the same.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn svc(f: &mut fmt::Formatter<'_>, verb: &str, s: &Service) -> fmt::Result {
            write!(f, "{verb} service {} (scheduler {}", s.key, s.sched)?;
            if s.flags.contains(SvcFlags::PERSISTENT) {
                write!(f, ", persistent {}s", s.timeout)?;
            }
            let sched_flags =
                s.flags.0 & (SvcFlags::SCHED1.0 | SvcFlags::SCHED2.0 | SvcFlags::SCHED3.0);
            if sched_flags != 0 {
                write!(f, ", scheduler flags {:#x}", sched_flags)?;
            }
            if s.flags.contains(SvcFlags::ONEPACKET) {
                write!(f, ", one-packet")?;
            }
            write!(f, ")")
        }
        fn dest(
            f: &mut fmt::Formatter<'_>,
            verb: &str,
            prep: &str,
            k: &ServiceKey,
            d: &Dest,
        ) -> fmt::Result {
            write!(
                f,
                "{verb} real server {} ({}, weight {}",
                d.key(),
                d.fwd.ipvsadm_name(),
                d.weight
            )?;
            if d.u_thresh != 0 || d.l_thresh != 0 {
                write!(f, ", thresholds {}/{}", d.u_thresh, d.l_thresh)?;
            }
            write!(f, ") {prep} {k}")
        }
        match self {
            Op::AddService(s) => svc(f, "add", s),
            Op::EditService(s) => svc(f, "edit", s),
            Op::DelService(k) => write!(f, "delete service {k}"),
            Op::AddDest(k, d) => dest(f, "add", "to", k, d),
            Op::EditDest(k, d) => dest(f, "edit", "of", k, d),
            Op::DelDest(k, d) => write!(f, "delete real server {d} of {k}"),
        }
    }
}

/// Errors from IPVS, each saying what failed and what to do.
#[derive(Debug, thiserror::Error)]
pub enum IpvsError {
    /// No IPVS in this kernel (or not loaded).
    #[error("IPVS is not available: {detail}; load it with `modprobe ip_vs` (as root)")]
    NotAvailable { detail: String },
    #[error(
        "permission denied to {op}: IPVS needs CAP_NET_ADMIN; run lvsdeck as root (or with that capability)"
    )]
    PermissionDenied { op: String },
    /// The kernel refused an operation.
    #[error("IPVS refused to {op}: {reason} (errno {errno}){hint}")]
    Kernel {
        op: String,
        errno: i32,
        reason: String,
        hint: String,
    },
    #[error("netlink socket error during {op}: {source}")]
    Io {
        op: String,
        #[source]
        source: std::io::Error,
    },
    #[error("malformed IPVS netlink message: {0}")]
    Decode(String),
    #[error("invalid IPVS request: {0}")]
    Invalid(String),
}

impl IpvsError {
    /// The kernel's errno, for [`IpvsError::Kernel`].
    pub fn errno(&self) -> Option<i32> {
        match self {
            IpvsError::Kernel { errno, .. } => Some(*errno),
            IpvsError::PermissionDenied { .. } => Some(libc::EPERM),
            _ => None,
        }
    }

    /// The error the kernel's answer `errno` to `op` means, with a hint where one helps.
    pub fn from_errno(op: &Op, errno: i32) -> IpvsError {
        let hint = match (errno, op) {
            (libc::ENOENT, Op::AddService(s) | Op::EditService(s)) => format!(
                "; scheduler `{0}` not found: is it spelt right, and is ip_vs_{0} available (`modprobe ip_vs_{0}`)?",
                s.sched
            ),
            (libc::ENOENT, Op::EditDest(..) | Op::DelDest(..)) => {
                "; no such real server in that service".to_string()
            }
            (libc::ESRCH, _) => "; no such virtual service".to_string(),
            (libc::EEXIST, Op::AddService(_)) => "; the service already exists".to_string(),
            (libc::EEXIST, Op::AddDest(..)) => {
                "; the real server is already in that service".to_string()
            }
            (libc::EAFNOSUPPORT, _) => {
                "; this kernel's IPVS has no IPv6 support (CONFIG_IP_VS_IPV6)".to_string()
            }
            (libc::EINVAL, Op::AddDest(..) | Op::EditDest(..)) => {
                "; check the weight, thresholds, and that the forwarding method suits the family"
                    .to_string()
            }
            _ => String::new(),
        };
        IpvsError::from_errno_str(&op.to_string(), errno, hint)
    }

    pub(crate) fn from_errno_str(op: &str, errno: i32, hint: String) -> IpvsError {
        if errno == libc::EPERM || errno == libc::EACCES {
            return IpvsError::PermissionDenied { op: op.to_string() };
        }
        IpvsError::Kernel {
            op: op.to_string(),
            errno,
            reason: {
                let text = std::io::Error::from_raw_os_error(errno).to_string();
                match text.find(" (os error") {
                    Some(i) => text[..i].to_string(),
                    None => text,
                }
            },
            hint,
        }
    }
}

/// Connection, packet and byte rates between two samples of the same counters.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Rates {
    pub cps: f64,
    pub inpps: f64,
    pub outpps: f64,
    pub inbps: f64,
    pub outbps: f64,
}

/// Rates from two samples taken `elapsed` apart (pure). A counter that went backwards was zeroed
/// in between (`ipvsadm -Z`, or the entry was re-created): its rate counts from zero.
pub fn rates(prev: &Stats, cur: &Stats, elapsed: Duration) -> Rates {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 {
        return Rates::default();
    }
    let per_sec = |p: u64, c: u64| {
        let delta = if c >= p { c - p } else { c };
        delta as f64 / secs
    };
    Rates {
        cps: per_sec(prev.conns, cur.conns),
        inpps: per_sec(prev.inpkts, cur.inpkts),
        outpps: per_sec(prev.outpkts, cur.outpkts),
        inbps: per_sec(prev.inbytes, cur.inbytes),
        outbps: per_sec(prev.outbytes, cur.outbytes),
    }
}

/// How often the kernel folds its per-CPU counters into the ones a dump returns (its rate
/// estimator's timer, `ip_vs_est.c`). Between two folds every dump repeats the same values.
pub const KERNEL_STATS_PERIOD: Duration = Duration::from_secs(2);

/// Rates of one service or real server from successive dumps (pure: the caller passes the
/// time of each sample).
///
/// Rates are measured between the dumps at which the counters changed, not between
/// consecutive dumps: dumped every second, counters folded every 2 s read as 0, 2x, 0, 2x.
/// Counters unchanged for longer than a fold period (with a margin for the timer's jitter)
/// mean no traffic: the rates drop to 0.
#[derive(Debug, Clone, Default)]
pub struct RateTracker {
    last_change: Option<(Instant, Stats)>,
    current: Rates,
}

impl RateTracker {
    /// Takes a sample; the rates as they now stand.
    pub fn update(&mut self, at: Instant, stats: Stats) -> Rates {
        let counters = |s: &Stats| (s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes);
        match self.last_change {
            None => self.last_change = Some((at, stats)),
            Some((since, prev)) => {
                let elapsed = at.saturating_duration_since(since);
                if counters(&stats) != counters(&prev) {
                    self.current = rates(&prev, &stats, elapsed);
                    self.last_change = Some((at, stats));
                } else if elapsed > KERNEL_STATS_PERIOD + KERNEL_STATS_PERIOD / 2 {
                    self.current = Rates::default();
                }
            }
        }
        self.current
    }
}

#[cfg(test)]
mod tests;
