//! The pure core of the IPVS engine: tables and the diff between them.
//!
//! - [`desired`] builds the table the configuration asks for, given the health of each real
//!   server ([`Health`]): weights and operator overrides, `inhibit_on_failure` (weight 0 instead
//!   of removal), quorum with hysteresis, and the sorry server when quorum is lost;
//! - [`Table::from_dump`] is the actual table, from one dump of the kernel;
//! - [`reconcile`] yields the minimal [`Op`]s that turn the actual table into the desired one,
//!   and the [`Drift`]: what changed in the kernel since lvsdeck last applied its table (an
//!   `ipvsadm` by hand). Services lvsdeck does not own are left alone, and nothing is ever
//!   flushed: a service that stays keeps its connections, a real server that stays keeps its
//!   counters.
//!
//! No I/O, no clock: the engine calls these with what it read and applies what they return.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::net::IpAddr;

use super::{
    Af, Dest, DestKey, Fwd, IpvsError, Op, Service, ServiceDump, ServiceKey, SvcFlags,
    host_netmask, proto_name,
};
use crate::config::Config;
use crate::config::model::{GroupAddress, RealServer, SorryServer, VirtualServer};

/// A service in a [`Table`], with its real servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableService {
    pub service: Service,
    pub dests: BTreeMap<DestKey, Dest>,
}

/// A whole IPVS table (services and real servers, no counters), in a canonical form: service
/// flags without [`SvcFlags::HASHED`], tunnel options only on tunnelled servers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Table {
    pub services: BTreeMap<ServiceKey, TableService>,
}

impl Table {
    pub fn new() -> Self {
        Self::default()
    }

    /// The table of one dump.
    pub fn from_dump(dump: &[ServiceDump]) -> Table {
        let mut t = Table::new();
        for sd in dump {
            let mut service = sd.entry.service.clone();
            service.flags = service.flags.significant();
            let dests = sd
                .dests
                .iter()
                .map(|d| (d.dest.key(), d.dest.normalized()))
                .collect();
            t.services
                .insert(service.key, TableService { service, dests });
        }
        t
    }

    pub fn get(&self, key: &ServiceKey) -> Option<&TableService> {
        self.services.get(key)
    }

    pub fn contains(&self, key: &ServiceKey) -> bool {
        self.services.contains_key(key)
    }

    pub fn len(&self) -> usize {
        self.services.len()
    }

    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }

    /// Add a service (replacing one with the same key) with no real servers.
    pub fn insert_service(&mut self, mut service: Service) -> &mut TableService {
        service.flags = service.flags.significant();
        let key = service.key;
        self.services.insert(
            key,
            TableService {
                service,
                dests: BTreeMap::new(),
            },
        );
        self.services.get_mut(&key).expect("just inserted")
    }

    /// Apply one op the way the kernel does, refusing what it refuses (EEXIST, ESRCH, ENOENT).
    pub fn apply(&mut self, op: &Op) -> Result<(), IpvsError> {
        let refuse = |errno| Err(IpvsError::from_errno(op, errno));
        match op {
            Op::AddService(s) => {
                if self.contains(&s.key) {
                    return refuse(libc::EEXIST);
                }
                self.insert_service(s.clone());
            }
            Op::EditService(s) => match self.services.get_mut(&s.key) {
                Some(ts) => {
                    ts.service = s.clone();
                    ts.service.flags = s.flags.significant();
                }
                None => return refuse(libc::ESRCH),
            },
            Op::DelService(k) => {
                if self.services.remove(k).is_none() {
                    return refuse(libc::ESRCH);
                }
            }
            Op::AddDest(k, d) => {
                let Some(ts) = self.services.get_mut(k) else {
                    return refuse(libc::ESRCH);
                };
                if ts.dests.contains_key(&d.key()) {
                    return refuse(libc::EEXIST);
                }
                ts.dests.insert(d.key(), d.normalized());
            }
            Op::EditDest(k, d) => {
                let Some(ts) = self.services.get_mut(k) else {
                    return refuse(libc::ESRCH);
                };
                match ts.dests.get_mut(&d.key()) {
                    Some(slot) => *slot = d.normalized(),
                    None => return refuse(libc::ENOENT),
                }
            }
            Op::DelDest(k, dk) => {
                let Some(ts) = self.services.get_mut(k) else {
                    return refuse(libc::ESRCH);
                };
                if ts.dests.remove(dk).is_none() {
                    return refuse(libc::ENOENT);
                }
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// The diff.

/// Whether two services differ in anything lvsdeck sets.
fn service_differs(a: &Service, b: &Service) -> bool {
    a.sched != b.sched
        || a.flags.significant() != b.flags.significant()
        || a.timeout != b.timeout
        || a.netmask != b.netmask
        || a.pe_name != b.pe_name
}

fn dest_differs(a: &Dest, b: &Dest) -> bool {
    a.normalized() != b.normalized()
}

/// The minimal ops that make `actual` equal to `desired` on the services in `owned` (which
/// must contain every key of `desired`); services outside `owned` are never touched.
///
/// Order: stale services are deleted first; then, service by service, the service is added or
/// edited in place, new real servers are added, changed ones edited, and only then are the
/// ones that go deleted (so a sorry-server swap never leaves a service without servers).
pub fn diff(desired: &Table, actual: &Table, owned: &BTreeSet<ServiceKey>) -> Vec<Op> {
    let mut ops = Vec::new();
    for key in owned {
        if !desired.contains(key) && actual.contains(key) {
            ops.push(Op::DelService(*key));
        }
    }
    for (key, want) in &desired.services {
        match actual.get(key) {
            None => {
                ops.push(Op::AddService(want.service.clone()));
                ops.extend(want.dests.values().map(|d| Op::AddDest(*key, *d)));
            }
            Some(have) => {
                if service_differs(&want.service, &have.service) {
                    ops.push(Op::EditService(want.service.clone()));
                }
                for (dk, d) in &want.dests {
                    if !have.dests.contains_key(dk) {
                        ops.push(Op::AddDest(*key, *d));
                    }
                }
                for (dk, d) in &want.dests {
                    if let Some(h) = have.dests.get(dk)
                        && dest_differs(d, h)
                    {
                        ops.push(Op::EditDest(*key, *d));
                    }
                }
                for dk in have.dests.keys() {
                    if !want.dests.contains_key(dk) {
                        ops.push(Op::DelDest(*key, *dk));
                    }
                }
            }
        }
    }
    ops
}

/// Something changed in the kernel that lvsdeck did not do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    /// A service lvsdeck had set up is gone.
    ServiceMissing { key: ServiceKey },
    /// A service's scheduler, flags or persistence were changed.
    ServiceChanged { was: Service, now: Service },
    /// A real server lvsdeck had set up is gone.
    DestMissing { service: ServiceKey, dest: Dest },
    /// A real server lvsdeck did not put there was added to one of its services.
    DestAdded { service: ServiceKey, dest: Dest },
    /// A real server's weight, method or thresholds were changed.
    DestChanged {
        service: ServiceKey,
        was: Dest,
        now: Dest,
    },
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Drift::ServiceMissing { key } => write!(f, "service {key} was deleted by hand"),
            Drift::ServiceChanged { was, now } => {
                write!(f, "service {} was changed by hand:", was.key)?;
                if was.sched != now.sched {
                    write!(f, " scheduler {} -> {}", was.sched, now.sched)?;
                }
                if was.flags != now.flags {
                    write!(f, " flags {:#x} -> {:#x}", was.flags.0, now.flags.0)?;
                }
                if was.timeout != now.timeout {
                    write!(f, " persistence {}s -> {}s", was.timeout, now.timeout)?;
                }
                if was.netmask != now.netmask {
                    write!(f, " netmask {:#x} -> {:#x}", was.netmask, now.netmask)?;
                }
                if was.pe_name != now.pe_name {
                    write!(f, " pe {:?} -> {:?}", was.pe_name, now.pe_name)?;
                }
                Ok(())
            }
            Drift::DestMissing { service, dest } => {
                write!(
                    f,
                    "real server {} of {service} was deleted by hand",
                    dest.key()
                )
            }
            Drift::DestAdded { service, dest } => {
                write!(
                    f,
                    "real server {} was added to {service} by hand",
                    dest.key()
                )
            }
            Drift::DestChanged { service, was, now } => {
                write!(
                    f,
                    "real server {} of {service} was changed by hand:",
                    was.key()
                )?;
                if was.weight != now.weight {
                    write!(f, " weight {} -> {}", was.weight, now.weight)?;
                }
                if was.fwd != now.fwd {
                    write!(
                        f,
                        " forward {} -> {}",
                        was.fwd.ipvsadm_name(),
                        now.fwd.ipvsadm_name()
                    )?;
                }
                if was.u_thresh != now.u_thresh || was.l_thresh != now.l_thresh {
                    write!(
                        f,
                        " thresholds {}/{} -> {}/{}",
                        was.u_thresh, was.l_thresh, now.u_thresh, now.l_thresh
                    )?;
                }
                if (was.tun_type, was.tun_port, was.tun_flags)
                    != (now.tun_type, now.tun_port, now.tun_flags)
                {
                    write!(f, " tunnel options")?;
                }
                Ok(())
            }
        }
    }
}

/// What differs between the table lvsdeck last applied and the kernel's now, on lvsdeck's
/// services (those of `last_applied`).
pub fn drift(last_applied: &Table, actual: &Table) -> Vec<Drift> {
    let mut out = Vec::new();
    for (key, was) in &last_applied.services {
        let Some(now) = actual.get(key) else {
            out.push(Drift::ServiceMissing { key: *key });
            continue;
        };
        if service_differs(&was.service, &now.service) {
            out.push(Drift::ServiceChanged {
                was: was.service.clone(),
                now: now.service.clone(),
            });
        }
        for (dk, d) in &was.dests {
            match now.dests.get(dk) {
                None => out.push(Drift::DestMissing {
                    service: *key,
                    dest: *d,
                }),
                Some(n) if dest_differs(d, n) => out.push(Drift::DestChanged {
                    service: *key,
                    was: *d,
                    now: *n,
                }),
                Some(_) => {}
            }
        }
        for (dk, n) in &now.dests {
            if !was.dests.contains_key(dk) {
                out.push(Drift::DestAdded {
                    service: *key,
                    dest: *n,
                });
            }
        }
    }
    out
}

/// The outcome of [`reconcile`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    pub ops: Vec<Op>,
    pub drift: Vec<Drift>,
}

/// Ops to make `actual` what `desired` says, and the drift since `last_applied` (the table
/// lvsdeck applied last; `None` at start, when nothing can be called drift).
///
/// lvsdeck owns the services of `desired` and those of `last_applied` (so a service removed from
/// the configuration is deleted); every other service is left alone. After a fully successful
/// apply, `desired` is the next `last_applied`.
pub fn reconcile(desired: &Table, last_applied: Option<&Table>, actual: &Table) -> Plan {
    let mut owned: BTreeSet<ServiceKey> = desired.services.keys().copied().collect();
    if let Some(l) = last_applied {
        owned.extend(l.services.keys().copied());
    }
    Plan {
        ops: diff(desired, actual, &owned),
        drift: last_applied.map(|l| drift(l, actual)).unwrap_or_default(),
    }
}

// ---------------------------------------------------------------------------------------------
// The desired table.

/// A configured virtual server, as health and quorum are keyed: `TCP 192.0.2.1:80`,
/// `FWM 1`, `FWM 1 IPv6`, `TCP group WEB`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VsId(pub String);

impl VsId {
    pub fn of(vs: &VirtualServer) -> VsId {
        let proto = proto_name(vs.protocol);
        VsId(match (&vs.ip, vs.port, vs.fwmark, &vs.group) {
            (_, _, _, Some(g)) => format!("{proto} group {g}"),
            (_, _, Some(m), _) => ServiceKey::Fwmark {
                af: vs.family.map(Af::from).unwrap_or(Af::Inet),
                mark: m,
            }
            .to_string(),
            (Some(ip), port, _, _) => ServiceKey::Addr {
                proto: vs.protocol,
                addr: *ip,
                port: port.unwrap_or(0),
            }
            .to_string(),
            _ => format!("{proto} (incomplete)"),
        })
    }
}

impl fmt::Display for VsId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A configured real server: its virtual server and its address and configured port (0 when
/// the configuration gives none, as for fwmark services).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RealId {
    pub vs: VsId,
    pub addr: IpAddr,
    pub port: u16,
}

impl RealId {
    pub fn of(vs: &VirtualServer, rs: &RealServer) -> RealId {
        RealId {
            vs: VsId::of(vs),
            addr: rs.ip,
            port: rs.port.or(vs.port).unwrap_or(0),
        }
    }
}

/// What the checks and the operator say about one real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RealState {
    /// The health checks pass.
    pub up: bool,
    /// A weight that overrides the configured one: the operator's (`ctl weight`, drain = 0)
    /// or a `misc_dynamic` check's.
    pub weight: Option<u32>,
}

impl RealState {
    pub const UP: RealState = RealState {
        up: true,
        weight: None,
    };
    pub const DOWN: RealState = RealState {
        up: false,
        weight: None,
    };
}

/// Health and overrides of the real servers, and the quorum state of each virtual server as
/// it was last computed (for hysteresis). A real server without an entry is up, unless its
/// virtual server has `alpha` (then down until its first check passes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    pub reals: HashMap<RealId, RealState>,
    pub quorum: HashMap<VsId, bool>,
}

/// The quorum state of a virtual server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuorumState {
    pub up: bool,
    /// Sum of the weights of the real servers that are up.
    pub live_weight: u64,
}

/// The table the configuration asks for, and how it was decided.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Desired {
    pub table: Table,
    /// Quorum of each virtual server; keep it in [`Health::quorum`] for the next call.
    pub quorum: BTreeMap<VsId, QuorumState>,
    /// Things in the configuration the table could not honour, for the log.
    pub problems: Vec<String>,
}

/// Quorum with keepalived's hysteresis: once up, it stays up until the live weight drops below
/// `quorum - hysteresis` (or to 0); once down, it needs `quorum + hysteresis` to come back.
pub fn quorum_up(prev: Option<bool>, live_weight: u64, quorum: u32, hysteresis: u32) -> bool {
    let q = u64::from(quorum);
    let h = u64::from(hysteresis);
    match prev {
        None => live_weight > 0 && live_weight >= q,
        Some(true) => live_weight > 0 && live_weight >= q.saturating_sub(h),
        Some(false) => live_weight > 0 && live_weight >= q + h,
    }
}

/// The kernel services a virtual server stands for: one, or one per group address / fwmark.
pub fn service_keys(config: &Config, vs: &VirtualServer) -> Result<Vec<ServiceKey>, String> {
    if let Some(name) = &vs.group {
        let g = config
            .virtual_server_group
            .get(name)
            .ok_or_else(|| format!("virtual_server_group `{name}` is not defined"))?;
        let mut keys = Vec::new();
        for a in &g.address {
            for addr in expand_range(a)? {
                keys.push(ServiceKey::Addr {
                    proto: vs.protocol,
                    addr,
                    port: a.port,
                });
            }
        }
        let af = vs.family.map(Af::from).unwrap_or(Af::Inet);
        keys.extend(g.fwmark.iter().map(|&mark| ServiceKey::Fwmark { af, mark }));
        return Ok(keys);
    }
    if let Some(mark) = vs.fwmark {
        let af = vs.family.map(Af::from).unwrap_or(Af::Inet);
        return Ok(vec![ServiceKey::Fwmark { af, mark }]);
    }
    match (vs.ip, vs.port) {
        (Some(addr), Some(port)) => Ok(vec![ServiceKey::Addr {
            proto: vs.protocol,
            addr,
            port,
        }]),
        _ => Err(format!(
            "virtual server {} needs ip + port, fwmark or group",
            VsId::of(vs)
        )),
    }
}

/// The addresses of a group entry: the range varies the last byte (IPv4) or the last 16-bit
/// group (IPv6), as keepalived's does.
fn expand_range(a: &GroupAddress) -> Result<Vec<IpAddr>, String> {
    let Some(end) = a.range_end else {
        return Ok(vec![a.ip]);
    };
    match (a.ip, end) {
        (IpAddr::V4(s), IpAddr::V4(e)) if s.octets()[..3] == e.octets()[..3] => {
            let (o, last) = (s.octets(), e.octets()[3]);
            Ok((o[3]..=last)
                .map(|b| IpAddr::from([o[0], o[1], o[2], b]))
                .collect())
        }
        (IpAddr::V6(s), IpAddr::V6(e)) if s.segments()[..7] == e.segments()[..7] => {
            let seg = s.segments();
            Ok((seg[7]..=e.segments()[7])
                .map(|x| {
                    let mut g = seg;
                    g[7] = x;
                    IpAddr::from(g)
                })
                .collect())
        }
        _ => Err(format!(
            "address range {}-{end} must vary only the last byte (IPv4) or group (IPv6)",
            a.ip
        )),
    }
}

fn leading_ones(addr: &IpAddr) -> u32 {
    match addr {
        IpAddr::V4(a) => u32::from(*a).leading_ones(),
        IpAddr::V6(a) => u128::from(*a).leading_ones(),
    }
}

/// The kernel service for a virtual server at `key`.
pub fn service_for(vs: &VirtualServer, key: ServiceKey, problems: &mut Vec<String>) -> Service {
    let mut svc = Service::new(key, &vs.lvs_sched);
    let secs = vs
        .persistence_timeout
        .map(|d| d.0.as_secs_f64().ceil() as u32);
    if let Some(t) = secs.filter(|&t| t > 0) {
        svc.flags = svc.flags | SvcFlags::PERSISTENT;
        svc.timeout = t;
    }
    if vs.ops {
        svc.flags = svc.flags | SvcFlags::ONEPACKET;
    }
    for name in &vs.sched_flags {
        match SvcFlags::sched_flag(name) {
            Some(f) => svc.flags = svc.flags | f,
            None => problems.push(format!(
                "{}: unknown scheduler flag `{name}` ignored",
                VsId::of(vs)
            )),
        }
    }
    svc.netmask = match (key.af(), vs.persistence_granularity) {
        (_, None) => host_netmask(key.af()),
        (Af::Inet, Some(IpAddr::V4(m))) => u32::from(m),
        (Af::Inet6, Some(m)) if leading_ones(&m) >= 1 => leading_ones(&m).min(128),
        (af, Some(m)) => {
            problems.push(format!(
                "{}: persistence_granularity {m} does not fit the service's family; using the host mask",
                VsId::of(vs)
            ));
            host_netmask(af)
        }
    };
    svc
}

/// The port of a real server in the service `key`: fwmark services keep the client's port
/// unless one is given; direct routing and tunnels cannot change ports, so they get the
/// service's (as ipvsadm does).
fn dest_port(key: &ServiceKey, fwd: Fwd, port: Option<u16>) -> u16 {
    match key {
        ServiceKey::Fwmark { .. } => port.unwrap_or(0),
        ServiceKey::Addr { port: svc_port, .. } => match fwd {
            Fwd::Route | Fwd::Tunnel => *svc_port,
            _ => port.unwrap_or(*svc_port),
        },
    }
}

fn sorry_dest(vs: &VirtualServer, key: &ServiceKey, s: &SorryServer, weight: u32) -> Dest {
    let fwd = Fwd::from(s.lvs_method.unwrap_or(vs.lvs_method));
    Dest::new(s.ip, dest_port(key, fwd, s.port), fwd, weight)
}

/// The table `config` asks for with the real servers' `health`.
pub fn desired(config: &Config, health: &Health) -> Desired {
    let mut out = Desired::default();
    for vs in &config.virtual_server {
        let id = VsId::of(vs);
        let keys = match service_keys(config, vs) {
            Ok(k) => k,
            Err(e) => {
                out.problems.push(e);
                continue;
            }
        };

        // Each real server's state and effective weight.
        let reals: Vec<(&RealServer, RealState, u32, bool)> = vs
            .real_server
            .iter()
            .map(|rs| {
                let default = if vs.alpha {
                    RealState::DOWN
                } else {
                    RealState::UP
                };
                let state = health
                    .reals
                    .get(&RealId::of(vs, rs))
                    .copied()
                    .unwrap_or(default);
                let weight = state.weight.unwrap_or_else(|| {
                    if rs.weight < 0 {
                        out.problems.push(format!(
                            "{id}: real server {} has negative weight {}; using 0",
                            rs.ip, rs.weight
                        ));
                    }
                    rs.weight.max(0) as u32
                });
                let inhibit = rs.inhibit_on_failure.unwrap_or(vs.inhibit_on_failure);
                (rs, state, weight, inhibit)
            })
            .collect();
        let live_weight: u64 = reals
            .iter()
            .filter(|(_, s, _, _)| s.up)
            .map(|(_, _, w, _)| u64::from(*w))
            .sum();
        let up = quorum_up(
            health.quorum.get(&id).copied(),
            live_weight,
            vs.quorum,
            vs.hysteresis,
        );
        out.quorum
            .insert(id.clone(), QuorumState { up, live_weight });
        let sorry_active = !up && vs.sorry_server.is_some();

        for key in keys {
            if out.table.contains(&key) {
                out.problems.push(format!(
                    "{id}: service {key} is already defined by another virtual server; ignored here"
                ));
                continue;
            }
            let svc = service_for(vs, key, &mut out.problems);
            let ts = out.table.insert_service(svc);
            for (rs, state, weight, inhibit) in &reals {
                let fwd = Fwd::from(rs.lvs_method.unwrap_or(vs.lvs_method));
                let port = dest_port(&key, fwd, rs.port);
                let in_pool = state.up && !sorry_active;
                let weight = match (in_pool, inhibit) {
                    (true, _) => *weight,
                    (false, true) => 0,
                    (false, false) => continue,
                };
                let mut d = Dest::new(rs.ip, port, fwd, weight);
                d.u_thresh = rs.uthreshold;
                d.l_thresh = rs.lthreshold;
                if ts.dests.insert(d.key(), d).is_some() {
                    out.problems.push(format!(
                        "{id}: real server {} is listed twice; the last one wins",
                        d.key()
                    ));
                }
            }
            if let Some(s) = &vs.sorry_server {
                let weight = if sorry_active {
                    Some(1)
                } else if vs.sorry_server_inhibit {
                    Some(0)
                } else {
                    None
                };
                if let Some(w) = weight {
                    let d = sorry_dest(vs, &key, s, w);
                    ts.dests.entry(d.key()).or_insert(d);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
