//! The VRRP shell: drives the sans-IO [`Instance`]s of a configuration with real sockets, VIPs,
//! timers, tracking scripts, link state and signals. One task owns every instance; sockets
//! and scripts feed it through channels.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tracing::{error, info, warn};

use super::ah::{self, AhState};
use super::announce;
use super::handback;
use super::io::{self, PacketSocket, Received, VrrpSocket};
use super::machine::{
    Action, EventKind, GarpParams, InitialState, Instance, InstanceParams, State, SyncGroup,
};
use super::packet::{
    Advert, AuthPolicy, ChecksumMode, DecodeOptions, Endpoints, IpHeader, Ipv4Header, Packet,
    VRRP_GROUP_V6, Version, auth_pass, check_ttl,
};
use super::routes::{self, Statics};
pub use super::scripts::{ScriptHealth, run_as, script_command};
use super::scripts::{notify, run_script};
use super::vip::{NetEvent, NetWatch, Rtnl, VipError, VipOptions};

mod guarding;
mod operator;
mod packets;
mod reload;
mod repair;
use super::vmac::{self, Vmacs};
use crate::config::model::{self, Config, IpNet, VrrpInstance, VrrpScript};
use crate::config::validate::{FsProbe, ScriptProbe, ScriptStatus, script_program};
use crate::engine::snapshot::{MasterHeard, Override, Transition, VrrpView, now_ms};

/// Why the runner stopped, and the process exit code that goes with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// SIGTERM: masters handed over (or released when nobody took over), then stopped.
    Graceful,
    /// A second SIGTERM, or SIGINT: plain priority-0 release at once.
    Immediate,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("vrrp_instance {instance}: {source}")]
    Interface { instance: String, source: VipError },
    #[error(
        "vrrp_instance {instance}: interface {interface} has no {what} address to send adverts from"
    )]
    NoSource {
        instance: String,
        interface: String,
        what: &'static str,
    },
    #[error(
        "vrrp_instance {instance}: cannot open the VRRP socket on {interface}: {source} (raw sockets need root or CAP_NET_RAW)"
    )]
    Socket {
        instance: String,
        interface: String,
        source: std::io::Error,
    },
    #[error("vrrp_instance {instance}: {source}")]
    Params {
        instance: String,
        source: super::machine::ParamError,
    },
    #[error("rtnetlink: {0}")]
    Rtnl(#[from] VipError),
}

struct Iface {
    name: String,
    mac: [u8; 6],
    /// Shared with the tasks that space announcements (`vrrp_garp_interval`).
    packet: Arc<PacketSocket>,
}

struct Slot {
    cfg: VrrpInstance,
    inst: Instance,
    ifindex: u32,
    /// The interface adverts go out and are heard on: the VMAC, or `ifindex`.
    sock_ifindex: u32,
    sock_kind: SockKind,
    /// `auth_type AH`: the key and sequence counter.
    ah: Option<AhState>,
    /// The name of its VMAC interface (`use_vmac`).
    vmac: Option<String>,
    v6: bool,
    src: IpAddr,
    /// Each VIP with the index of the interface it goes on.
    vips: Vec<(u32, IpNet, VipOptions)>,
    peers: Vec<IpAddr>,
    ip_id: u16,
    last_transition: Option<Transition>,
    priority_override: Option<Override<u8>>,
    /// Until when a hand-back to a releasing master is in place (see `handback`).
    handback_until: Option<Instant>,
    /// Answers once the hand-back's rule is loaded (or failed): a take-over waits for it, so
    /// no packet of a connection under way reaches this director before the rule does.
    handback_loaded: Option<tokio::sync::oneshot::Receiver<()>>,
    /// After a graceful hand-over with `handover_grace`: when the kept VIPs go.
    vips_release_at: Option<Instant>,
    /// VIPs this instance put back or took off after someone else changed them (`repair`).
    vip_repairs: u64,
}

/// What a VRRP socket carries: adverts over IPv4 or IPv6, or IPv4 adverts inside an IPsec
/// AH (`auth_type AH`, IP protocol 51).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SockKind {
    V4,
    V6,
    Ah,
}

impl SockKind {
    fn of(v6: bool, ah: bool) -> Self {
        match (v6, ah) {
            (true, _) => SockKind::V6,
            (false, true) => SockKind::Ah,
            (false, false) => SockKind::V4,
        }
    }
}

/// Something for the instances: a packet, a tracking script's result, a link change.
pub enum Input {
    Packet(u32, SockKind, Received),
    Script(String, bool),
    /// A track_file's new value (None: a number out of range, ignored).
    File(String, Option<i64>),
    Link(super::vip::LinkInfo),
    /// An address came or went on an interface (for VIP repair, which asks the kernel which).
    Addr(u32, IpAddr),
    /// Something a background task has to say about an instance, for the event log.
    Note(String, String),
}

/// Map one configured instance to the machine's parameters.
pub fn instance_params(
    name: &str,
    cfg: &VrrpInstance,
    global: &model::Global,
    src: IpAddr,
) -> InstanceParams {
    let version = if cfg.version == 3 {
        Version::V3
    } else {
        Version::V2
    };
    let vips = cfg
        .virtual_ipaddress
        .iter()
        .map(|v| v.address.addr)
        .collect();
    let mut p = InstanceParams::new(
        name,
        version,
        cfg.virtual_router_id,
        cfg.priority,
        src,
        vips,
    );
    p.advert_interval = cfg.advert_int.0;
    p.initial_state = match cfg.state {
        model::InitialState::Master => InitialState::Master,
        model::InitialState::Backup => InitialState::Backup,
    };
    p.preempt = cfg.preempt;
    p.preempt_delay = cfg.preempt_delay.0;
    p.accept = cfg.accept;
    // With AH the password keys the AH layer's ICV; the advert itself carries none.
    p.auth = (!cfg.auth_ah)
        .then(|| cfg.auth_pass.as_ref().map(|s| auth_pass(s.as_bytes())))
        .flatten();
    p.check_adv_addrs = !(global.vrrp_skip_check_adv_addr || cfg.skip_check_adv_addr);
    let g = cfg.garp.unwrap_or(global.garp);
    p.garp = GarpParams {
        master_delay: g.master_delay.0,
        master_repeat: g.master_repeat.min(255) as u8,
        master_refresh: (!g.master_refresh.is_zero()).then_some(g.master_refresh.0),
        master_refresh_repeat: g.master_refresh_repeat.min(255) as u8,
        lower_prio_delay: g.lower_prio_delay.0,
        lower_prio_repeat: g.lower_prio_repeat.min(255) as u8,
    };
    p.unicast = !cfg.unicast_peer.is_empty();
    p.handover.keep_vips = cfg.handover_grace.map_or(Duration::ZERO, |g| g.0);
    p
}

pub struct Runner {
    slots: Vec<Slot>,
    ifaces: HashMap<u32, Iface>,
    sockets: HashMap<(u32, SockKind), Arc<VrrpSocket>>,
    groups: Vec<(SyncGroup, Vec<usize>)>,
    /// Each group's notify scripts and the state they were last run for (as `groups`).
    group_notify: Vec<(model::Notify, Option<State>)>,
    rtnl: Rtnl,
    scripts: BTreeMap<String, (VrrpScript, ScriptHealth)>,
    script_tasks: BTreeMap<String, tokio::task::JoinHandle<()>>,
    global: model::Global,
    checksum: ChecksumMode,
    /// Packets dropped before any instance saw them, by reason.
    pub drops: BTreeMap<&'static str, u64>,
    inputs_tx: mpsc::Sender<Input>,
    inputs_rx: mpsc::Receiver<Input>,
    /// Non-standard multicast groups joined, by interface index.
    joined: std::collections::HashSet<(u32, SockKind, IpAddr)>,
    /// (instance, event) since the last [`Runner::take_events`].
    events: Vec<(String, String)>,
    vmacs: Vmacs,
    /// What static_ipaddress / static_routes / static_rules set.
    statics: Statics,
    track_files: super::track_files::TrackFiles,
    /// Address changes heard since the last step (`repair`).
    addr_changes: Vec<(u32, IpAddr)>,
    /// Recent repairs by address, to stop fighting whoever keeps undoing them.
    repair_log: HashMap<(u32, IpAddr), Vec<Instant>>,
    /// The VIP guard process, when this process runs one (`guard`).
    guard: Option<super::guard::Client>,
}

impl Runner {
    /// Resolve interfaces and addresses, open sockets, and start every instance, each with
    /// its operator's priority override from before a restart (`overrides`; unknown
    /// instances are skipped: `priority_overrides` says which took).
    pub async fn start(
        config: &Config,
        overrides: &[(String, Override<u8>)],
    ) -> Result<Self, RunError> {
        let rtnl = Rtnl::connect()?;
        let (inputs_tx, inputs_rx) = mpsc::channel(1024);
        let checksum = if config.global.vrrp_v3_checksum_as_v2 {
            ChecksumMode::V3Ipv4WithoutPseudoHeader
        } else {
            ChecksumMode::Rfc
        };
        let mut runner = Runner {
            slots: Vec::new(),
            ifaces: HashMap::new(),
            sockets: HashMap::new(),
            groups: Vec::new(),
            group_notify: Vec::new(),
            rtnl: rtnl.clone(),
            scripts: BTreeMap::new(),
            script_tasks: BTreeMap::new(),
            global: config.global.clone(),
            checksum,
            drops: BTreeMap::new(),
            joined: std::collections::HashSet::new(),
            inputs_tx,
            inputs_rx,
            events: Vec::new(),
            vmacs: Vmacs::new(rtnl),
            statics: Statics::default(),
            track_files: Default::default(),
            addr_changes: Vec::new(),
            repair_log: HashMap::new(),
            guard: super::guard::Client::start(),
        };
        if let Err(e) = runner.set_up(config).await {
            // What was set up goes, so the host is as it was (VMACs, their settings, statics).
            runner.vmacs.remove_all().await;
            for e in runner.statics.clear(&runner.rtnl).await {
                warn!("{e}");
            }
            return Err(e);
        }
        runner.rebuild_groups(config);
        runner.start_scripts(config);
        runner.start_track_files(config, Instant::now());
        runner.start_link_watch(config).await?;
        runner.clear_handbacks().await;
        // The machines start only now: a slow step above (an `nft` taking 1.5 s) consumed a
        // backup's master-down timer while the adverts it should have heard waited unread, and
        // it took the VIPs from a running master at start.
        let now = Instant::now();
        for slot in &mut runner.slots {
            // Before startup: an owner an operator demoted does not start as master.
            if let Some((_, o)) = overrides.iter().find(|(n, _)| n == slot.inst.name())
                && slot.inst.set_priority_override(now, Some(o.value)).is_ok()
            {
                slot.priority_override = Some(o.clone());
            }
            let _ = slot.inst.startup(now);
        }
        runner.step(now).await;
        Ok(runner)
    }

    /// The statics and every instance's interfaces, VMAC and sockets.
    async fn set_up(&mut self, config: &Config) -> Result<(), RunError> {
        self.apply_statics(config).await?;
        for (name, cfg) in &config.vrrp_instance {
            let slot = self.prepare(name, cfg, &config.global, None).await?;
            self.slots.push(slot);
        }
        Ok(())
    }

    /// Remove hand-back tables a previous run left (killed during a grace period); this also
    /// says at start when `handover_grace` cannot work for want of `nft`.
    async fn clear_handbacks(&mut self) {
        for slot in self.slots.iter().filter(|s| s.cfg.handover_grace.is_some()) {
            let table = handback::table_name(slot.v6, slot.ifindex, slot.cfg.virtual_router_id);
            if let Err(e) = handback::delete(slot.v6, &table).await {
                let name = slot.inst.name().to_string();
                warn!(instance = %name, "handover_grace: {e}");
                self.events.push((
                    name,
                    format!("handover_grace cannot hand connections back: {e}"),
                ));
            }
        }
    }

    /// Resolve an instance's interface and addresses and build its machine, started at
    /// `start_at` (None: left stopped, for the caller to start).
    async fn prepare(
        &mut self,
        name: &str,
        cfg: &VrrpInstance,
        global: &model::Global,
        start_at: Option<Instant>,
    ) -> Result<Slot, RunError> {
        let err = |source| RunError::Interface {
            instance: name.to_string(),
            source,
        };
        let link = self.rtnl.link_by_name(&cfg.interface).await.map_err(err)?;
        let v6 = cfg
            .virtual_ipaddress
            .first()
            .is_some_and(|v| v.address.addr.is_ipv6());
        let vip_addrs: Vec<IpAddr> = cfg
            .virtual_ipaddress
            .iter()
            .map(|v| v.address.addr)
            .collect();
        let src = match (cfg.unicast_src_ip, v6) {
            (Some(ip), _) => ip,
            (None, false) => self
                .rtnl
                .primary_v4(link.index, &vip_addrs)
                .await
                .map_err(err)?
                .map(IpAddr::V4)
                .ok_or_else(|| RunError::NoSource {
                    instance: name.into(),
                    interface: cfg.interface.clone(),
                    what: "IPv4",
                })?,
            (None, true) => self
                .rtnl
                .link_local_v6(link.index)
                .await
                .map_err(err)?
                .map(IpAddr::V6)
                .ok_or_else(|| RunError::NoSource {
                    instance: name.into(),
                    interface: cfg.interface.clone(),
                    what: "link-local IPv6",
                })?,
        };
        let vmac = self.vmac(name, cfg, global, &link, v6, src).await?;
        // After the VMAC: a route may name it.
        routes::check_devices(&self.rtnl, &cfg.virtual_routes, &cfg.virtual_rules)
            .await
            .map_err(err)?;
        let sock_link = match (&vmac, cfg.use_vmac.as_ref().is_some_and(|v| v.xmit_base)) {
            (Some(vmac), false) => vmac.clone(),
            _ => link.clone(),
        };
        let multicast = cfg.unicast_peer.is_empty();
        let kind = SockKind::of(v6, cfg.auth_ah);
        if let std::collections::hash_map::Entry::Vacant(e) =
            self.sockets.entry((sock_link.index, kind))
        {
            let sock_err = |source| RunError::Socket {
                instance: name.into(),
                interface: sock_link.name.clone(),
                source,
            };
            let (name, index) = (&sock_link.name, sock_link.index);
            let socket = match (src, kind) {
                (IpAddr::V6(s), _) => VrrpSocket::open_v6(name, index, s, multicast),
                (IpAddr::V4(_), SockKind::Ah) => {
                    VrrpSocket::open_v4(name, index, multicast, ah::IPPROTO_AH)
                }
                (IpAddr::V4(_), _) => {
                    VrrpSocket::open_v4(name, index, multicast, super::packet::IPPROTO_VRRP)
                }
            }
            .map_err(sock_err)?;
            let socket = Arc::new(socket);
            e.insert(socket.clone());
            let tx = self.inputs_tx.clone();
            let index = sock_link.index;
            tokio::spawn(async move {
                loop {
                    match socket.recv().await {
                        Ok(pkt) => {
                            if tx.send(Input::Packet(index, kind, pkt)).await.is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            warn!("VRRP socket on ifindex {index}: {e}");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
            });
        }
        let group = io::advert_group(cfg, global, v6);
        if multicast
            && group != io::standard_group(v6)
            && self.joined.insert((sock_link.index, kind, group))
        {
            self.sockets[&(sock_link.index, kind)]
                .join(group, sock_link.index)
                .map_err(|source| RunError::Socket {
                    instance: name.into(),
                    interface: cfg.interface.clone(),
                    source,
                })?;
        }
        let mut vips = Vec::new();
        for v in &cfg.virtual_ipaddress {
            let dev = match &v.dev {
                Some(dev) if dev != &cfg.interface => {
                    self.rtnl.link_by_name(dev).await.map_err(err)?.index
                }
                // As keepalived: a VIP on the instance's interface goes on its VMAC.
                _ => vmac.as_ref().map_or(link.index, |l| l.index),
            };
            let opts = VipOptions::of(v);
            vips.push((dev, v.address, opts));
        }
        for index in vips.iter().map(|v| v.0).chain([link.index]) {
            if !self.ifaces.contains_key(&index) {
                let info = if index == link.index {
                    link.clone()
                } else if let Some(vmac) = vmac.as_ref().filter(|l| l.index == index) {
                    vmac.clone()
                } else {
                    self.rtnl_link(index, &vips, cfg).await?
                };
                let packet = PacketSocket::open(index).map_err(|source| RunError::Socket {
                    instance: name.into(),
                    interface: info.name.clone(),
                    source,
                })?;
                self.ifaces.insert(
                    index,
                    Iface {
                        name: info.name.clone(),
                        mac: info.mac.unwrap_or([0; 6]),
                        packet: Arc::new(packet),
                    },
                );
            }
        }
        let params = instance_params(name, cfg, global, src);
        params.validate().map_err(|source| RunError::Params {
            instance: name.into(),
            source,
        })?;
        let mut inst = Instance::new_stopped(params);
        // The instance's own interface is tracked with weight 0: link down means FAULT.
        inst.set_tracker(
            start_at.unwrap_or_else(Instant::now),
            &format!("link:{}", cfg.interface),
            0,
            link.up,
        );
        if let Some(now) = start_at {
            let _ = inst.startup(now);
        }
        info!(instance = name, interface = %cfg.interface, %src, vrid = cfg.virtual_router_id, priority = cfg.priority, "VRRP instance started");
        Ok(Slot {
            cfg: cfg.clone(),
            inst,
            ifindex: link.index,
            sock_ifindex: sock_link.index,
            sock_kind: kind,
            ah: cfg
                .auth_ah
                .then(|| AhState::new(cfg.auth_pass.as_deref().unwrap_or_default(), !multicast)),
            vmac: vmac.map(|l| l.name),
            v6,
            src,
            vips,
            peers: cfg.unicast_peer.clone(),
            ip_id: 0,
            last_transition: None,
            priority_override: None,
            handback_until: None,
            handback_loaded: None,
            vips_release_at: None,
            vip_repairs: 0,
        })
    }

    /// static_ipaddress, static_routes and static_rules as `config` has them; an interface
    /// they name that does not exist refuses the config, as keepalived does.
    async fn apply_statics(&mut self, config: &Config) -> Result<(), RunError> {
        Statics::check(&self.rtnl, config).await?;
        for e in self.statics.apply(&self.rtnl, config).await {
            warn!("{e}");
            self.events.push((String::new(), e.to_string()));
        }
        Ok(())
    }

    /// The instance's VMAC (`use_vmac`), made and up; None without one.
    async fn vmac(
        &mut self,
        name: &str,
        cfg: &VrrpInstance,
        global: &model::Global,
        base: &super::vip::LinkInfo,
        v6: bool,
        src: IpAddr,
    ) -> Result<Option<super::vip::LinkInfo>, RunError> {
        let Some(v) = &cfg.use_vmac else {
            return Ok(None);
        };
        let vmac_name = v.name.clone().unwrap_or_else(|| {
            let prefix = global.vmac_prefix.as_deref().unwrap_or("vrrp");
            let taken = |n: &str| self.slots.iter().any(|s| s.vmac.as_deref() == Some(n));
            vmac::default_name(prefix, cfg.virtual_router_id, v6, taken)
        });
        // An IPv6 advert's source must be on the interface it leaves by.
        let ll = match src {
            IpAddr::V6(s) if !v.xmit_base => Some(s),
            _ => None,
        };
        let link = self
            .vmacs
            .ensure(&vmac_name, base, v, cfg.virtual_router_id, v6, ll)
            .await
            .map_err(|source| RunError::Interface {
                instance: name.to_string(),
                source,
            })?;
        Ok(Some(link))
    }

    async fn rtnl_link(
        &self,
        index: u32,
        vips: &[(u32, IpNet, VipOptions)],
        cfg: &VrrpInstance,
    ) -> Result<super::vip::LinkInfo, RunError> {
        // A VIP's `dev` names another interface: look it up by the name the config gave.
        let name = cfg
            .virtual_ipaddress
            .iter()
            .zip(vips)
            .find(|(_, v)| v.0 == index)
            .and_then(|(c, _)| c.dev.clone())
            .unwrap_or_default();
        Ok(self.rtnl.link_by_name(&name).await?)
    }

    fn start_scripts(&mut self, config: &Config) {
        for (name, script) in &config.vrrp_script {
            let tracked = config
                .vrrp_instance
                .values()
                .any(|i| i.track_script.iter().any(|t| &t.name == name));
            if !tracked || self.scripts.get(name).is_some_and(|(s, _)| s == script) {
                continue;
            }
            // A user this host does not have disables the script, as keepalived does.
            if let Some(user) = &script.user
                && crate::health::misc::lookup_user(user).is_none()
            {
                if let Some(task) = self.script_tasks.remove(name) {
                    task.abort();
                }
                self.scripts.remove(name);
                let msg = format!("vrrp_script {name} disabled: user `{user}` does not exist");
                warn!(script = %name, "{msg}");
                self.events.push((name.clone(), msg));
                continue;
            }
            // A program that is not there disables the script, as keepalived does: it never
            // runs and moves no priority. A reload probes again.
            if let Some(program) = script_program(&script.script)
                && let status @ (ScriptStatus::NotFound | ScriptStatus::NotExecutable) =
                    FsProbe.probe(program)
            {
                if let Some(task) = self.script_tasks.remove(name) {
                    task.abort();
                }
                self.scripts.remove(name);
                let why = if status == ScriptStatus::NotFound {
                    "not found"
                } else {
                    "not executable"
                };
                warn!(script = %name, "vrrp_script {name} disabled: `{program}` is {why}");
                self.events.push((
                    name.clone(),
                    format!("vrrp_script {name} disabled: `{program}` is {why}"),
                ));
                continue;
            }
            if let Some(task) = self.script_tasks.remove(name) {
                task.abort();
            }
            self.scripts
                .insert(name.clone(), (script.clone(), ScriptHealth::default()));
            let tx = self.inputs_tx.clone();
            let (task_name, script) = (name.clone(), script.clone());
            let script_user = config.global.script_user.clone();
            let task = tokio::spawn(async move {
                let mut tick =
                    tokio::time::interval(script.interval.0.max(Duration::from_millis(10)));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    let ok = run_script(&script, script_user.as_deref()).await;
                    if tx.send(Input::Script(task_name.clone(), ok)).await.is_err() {
                        return;
                    }
                }
            });
            self.script_tasks.insert(name.clone(), task);
        }
        // Scripts no longer tracked stop running.
        let wanted: Vec<String> = self
            .scripts
            .keys()
            .filter(|n| {
                config.vrrp_script.contains_key(*n)
                    && config
                        .vrrp_instance
                        .values()
                        .any(|i| i.track_script.iter().any(|t| &t.name == *n))
            })
            .cloned()
            .collect();
        self.scripts.retain(|n, _| wanted.contains(n));
        self.script_tasks.retain(|n, t| {
            let keep = wanted.contains(n);
            if !keep {
                t.abort();
            }
            keep
        });
    }

    /// Sync groups by member index into `slots`.
    fn rebuild_groups(&mut self, config: &Config) {
        // A group whose scripts did not change keeps the state it was last notified in.
        let old: HashMap<String, (model::Notify, Option<State>)> = self
            .groups
            .iter()
            .map(|(g, _)| g.name().to_string())
            .zip(std::mem::take(&mut self.group_notify))
            .collect();
        self.group_notify = config
            .vrrp_sync_group
            .iter()
            .map(|(name, g)| match old.get(name) {
                Some((n, last)) if *n == g.notify => (n.clone(), *last),
                _ => (g.notify.clone(), None),
            })
            .collect();
        self.groups.clear();
        for (gname, group) in &config.vrrp_sync_group {
            let members = group
                .group
                .iter()
                .filter_map(|m| self.slots.iter().position(|s| s.inst.name() == m))
                .collect();
            self.groups.push((SyncGroup::new(gname.clone()), members));
        }
    }

    /// Apply a new configuration: instances whose settings did not change keep their state and
    /// timers (no spurious failover); changed ones take the change in place when they can
    /// (`reload`: priority, interval, VIPs, tracking, notify, GARP, preemption), else are
    /// stopped (a master releases) and started anew; removed ones stop; new ones start.
    /// Returns what changed.
    pub async fn reconfigure(&mut self, config: &Config) -> Result<Vec<String>, RunError> {
        let mut changes = Vec::new();
        let mut kept = Vec::new();
        let mut updated = Vec::new();
        // Instances that must restart hand over first when they are masters.
        let restarting: Vec<String> = self
            .slots
            .iter()
            .filter(|s| match config.vrrp_instance.get(s.inst.name()) {
                // Unchanged is in place too.
                Some(cfg) => !reload::in_place(&s.cfg, cfg, &self.global, &config.global),
                None => true,
            })
            .map(|s| s.inst.name().to_string())
            .collect();
        // A reload that cannot be applied is refused whole, before anything changes: every
        // interface a new or restarting instance names must exist.
        for (name, cfg) in &config.vrrp_instance {
            let runs = self.slots.iter().any(|s| s.inst.name() == name);
            if runs && !restarting.contains(name) {
                continue;
            }
            let devs = cfg.virtual_ipaddress.iter().filter_map(|v| v.dev.as_ref());
            for dev in std::iter::once(&cfg.interface).chain(devs) {
                if let Err(source) = self.rtnl.link_by_name(dev).await {
                    return Err(RunError::Interface {
                        instance: name.clone(),
                        source,
                    });
                }
            }
        }
        self.hand_over_before_restart(&restarting).await;
        // The hand-over took time: a restarted instance's timers start from now.
        let now = Instant::now();
        // A restarted instance keeps its operator's priority override.
        let mut overrides: HashMap<String, Override<u8>> = HashMap::new();
        // AH sequence numbers go on across a restart, as keepalived's do across a reload:
        // peers drop adverts numbered below what they heard.
        let mut ah_seq: HashMap<String, u32> = HashMap::new();
        for mut slot in std::mem::take(&mut self.slots) {
            let name = slot.inst.name().to_string();
            match config.vrrp_instance.get(&name) {
                Some(cfg) if *cfg == slot.cfg && config.global == self.global => kept.push(slot),
                Some(cfg) if reload::in_place(&slot.cfg, cfg, &self.global, &config.global) => {
                    updated.push((kept.len(), cfg.clone()));
                    kept.push(slot);
                }
                other => {
                    slot.inst.shutdown(now);
                    while let Some(action) = slot.inst.poll_action() {
                        self.slots.push(slot);
                        let i = self.slots.len() - 1;
                        self.execute(i, action).await;
                        slot = self.slots.pop().expect("pushed above");
                    }
                    // A backup keeping VIPs for a hand-over's grace has nothing to say in
                    // its shutdown: they go now.
                    if slot.vips_release_at.take().is_some() {
                        remove_vips(&self.rtnl, &slot).await;
                    }
                    if let Some(ah) = &slot.ah {
                        ah_seq.insert(name.clone(), ah.seq());
                    }
                    if let Some(o) = slot.priority_override.take() {
                        overrides.insert(name.clone(), o);
                    }
                    changes.push(if other.is_some() {
                        format!("{name}: restarted with new settings")
                    } else {
                        format!("{name}: removed")
                    });
                }
            }
        }
        self.slots = kept;
        for (i, cfg) in updated {
            let name = self.slots[i].inst.name().to_string();
            match self.reload_in_place(i, &cfg, &config.global, now).await {
                Ok(what) => changes.push(format!("{name}: {what}, in place")),
                Err(e) => {
                    warn!(instance = %name, "reload not applied: {e}");
                    changes.push(format!("{name}: not changed: {e}"));
                }
            }
        }
        self.global = config.global.clone();
        self.apply_statics(config).await?;
        for (name, cfg) in &config.vrrp_instance {
            if !self.slots.iter().any(|s| s.inst.name() == name) {
                let mut slot = self.prepare(name, cfg, &config.global, Some(now)).await?;
                if let (Some(ah), Some(seq)) = (slot.ah.as_mut(), ah_seq.get(name)) {
                    ah.resume(*seq);
                }
                if let Some(o) = overrides.remove(name)
                    && slot.inst.set_priority_override(now, Some(o.value)).is_ok()
                {
                    slot.priority_override = Some(o);
                }
                self.slots.push(slot);
                if !changes.iter().any(|c| c.starts_with(&format!("{name}:"))) {
                    changes.push(format!("{name}: added"));
                }
            }
        }
        let vmacs: Vec<String> = self.slots.iter().filter_map(|s| s.vmac.clone()).collect();
        self.vmacs.keep_only(&vmacs).await;
        self.rebuild_groups(config);
        self.start_scripts(config);
        self.start_track_files(config, now);
        self.step(now).await;
        Ok(changes)
    }

    /// Read (and watch) the track_files, and set every instance's file trackers.
    fn start_track_files(&mut self, config: &Config, now: Instant) {
        self.track_files.configure(config, self.inputs_tx.clone());
        for slot in &mut self.slots {
            for (key, weight, up) in self.track_files.trackers(&slot.cfg) {
                slot.inst.set_tracker(now, &key, weight, up);
            }
        }
    }

    /// Set instance `i`'s track_interface trackers from the links' state now.
    async fn set_link_trackers(&mut self, i: usize, now: Instant) {
        for t in self.slots[i].cfg.track_interface.clone() {
            let up = self
                .rtnl
                .link_by_name(&t.name)
                .await
                .map(|l| l.up)
                .unwrap_or(false);
            self.slots[i]
                .inst
                .set_tracker(now, &format!("link:{}", t.name), t.weight, up);
        }
    }

    async fn start_link_watch(&mut self, config: &Config) -> Result<(), RunError> {
        let now = Instant::now();
        for i in 0..self.slots.len() {
            self.set_link_trackers(i, now).await;
        }
        let _ = config;
        let mut watch = NetWatch::open()?;
        let tx = self.inputs_tx.clone();
        tokio::spawn(async move {
            while let Some(ev) = watch.next().await {
                let input = match ev {
                    NetEvent::Link(link) => Input::Link(link),
                    NetEvent::Address { index, addr } => Input::Addr(index, addr),
                };
                if tx.send(input).await.is_err() {
                    return;
                }
            }
        });
        Ok(())
    }

    /// Feed one input to the instances it concerns.
    pub fn handle_input(&mut self, now: Instant, input: Input) {
        match input {
            Input::Packet(ifindex, SockKind::Ah, pkt) => self.handle_ah_packet(now, ifindex, pkt),
            Input::Packet(ifindex, kind, pkt) => {
                self.handle_packet(now, ifindex, kind == SockKind::V6, pkt)
            }
            Input::Script(name, ok) => {
                let Some((script, health)) = self.scripts.get_mut(&name) else {
                    return;
                };
                let Some(up) = health.record(ok, script.rise, script.fall) else {
                    return;
                };
                info!(script = %name, "vrrp_script {name} is now {}", if up { "up" } else { "down" });
                let (weight, reverse) = (script.weight, script.weight_reverse);
                for slot in &mut self.slots {
                    for t in slot.cfg.track_script.iter().filter(|t| t.name == name) {
                        let w = t.weight.unwrap_or(weight);
                        // `reverse`: a positive weight counts while the script fails.
                        let effective_up = if reverse { !up } else { up };
                        slot.inst
                            .set_tracker(now, &format!("script:{name}"), w, effective_up);
                    }
                }
            }
            Input::File(name, value) => {
                if !self.track_files.update(&name, value) {
                    return;
                }
                let v = self.track_files.value(&name).unwrap_or(0);
                info!(track_file = %name, "track_file {name} now reads {v}");
                let key = format!("file:{name}");
                for slot in &mut self.slots {
                    for (k, weight, up) in self.track_files.trackers(&slot.cfg) {
                        if k == key {
                            slot.inst.set_tracker(now, &k, weight, up);
                        }
                    }
                }
            }
            Input::Note(instance, text) => self.events.push((instance, text)),
            Input::Addr(dev, addr) => self.address_changed(dev, addr),
            Input::Link(link) => {
                for slot in &mut self.slots {
                    let key = format!("link:{}", link.name);
                    if link.name == slot.cfg.interface {
                        slot.inst.set_tracker(now, &key, 0, link.up);
                    }
                    for t in slot
                        .cfg
                        .track_interface
                        .iter()
                        .filter(|t| t.name == link.name)
                    {
                        slot.inst.set_tracker(now, &key, t.weight, link.up);
                    }
                }
            }
        }
    }

    /// Let sync groups settle, then carry out every instance's actions and log its events.
    pub async fn step(&mut self, now: Instant) {
        self.release_kept_vips(now).await;
        for (group, members) in &mut self.groups {
            let mut refs: Vec<&mut Instance> = Vec::new();
            for (i, slot) in self.slots.iter_mut().enumerate() {
                if members.contains(&i) {
                    refs.push(&mut slot.inst);
                }
            }
            group.update(now, &mut refs);
        }
        for i in 0..self.slots.len() {
            while let Some(action) = self.slots[i].inst.poll_action() {
                self.execute(i, action).await;
            }
            while let Some(event) = self.slots[i].inst.poll_event() {
                let slot = &mut self.slots[i];
                info!(instance = slot.inst.name(), "{}", event.kind);
                if let EventKind::Transition { from, to, reason } = &event.kind {
                    let priority = slot.inst.effective_priority();
                    let user = self.global.script_user.as_deref();
                    notify(
                        &slot.cfg.notify,
                        "INSTANCE",
                        slot.inst.name(),
                        *to,
                        priority,
                        user,
                    );
                    slot.last_transition = Some(Transition {
                        from: from.to_string(),
                        to: to.to_string(),
                        reason: reason.to_string(),
                        at_ms: now_ms(),
                    });
                }
                self.events
                    .push((slot.inst.name().to_string(), event.kind.to_string()));
            }
        }
        self.notify_groups();
        // After the actions: a VIP an instance has just been told to add is not a repair.
        self.repair_vips(now).await;
        self.tell_guard(now);
    }

    /// A sync group's own notify scripts, as keepalived runs them: once all its members are
    /// in one state that the group was not in (`GROUP name STATE priority` for `notify`).
    fn notify_groups(&mut self) {
        for ((group, members), (n, last)) in self.groups.iter().zip(&mut self.group_notify) {
            let mut states = members.iter().map(|&i| self.slots[i].inst.state());
            let Some(first) = states.next() else { continue };
            if states.any(|s| s != first) || *last == Some(first) {
                continue;
            }
            *last = Some(first);
            let priority = members
                .iter()
                .map(|&i| self.slots[i].inst.effective_priority())
                .max()
                .unwrap_or(0);
            let user = self.global.script_user.as_deref();
            notify(n, "GROUP", group.name(), first, priority, user);
        }
    }

    async fn execute(&mut self, i: usize, action: Action) {
        let checksum = self.checksum;
        let slot = &mut self.slots[i];
        match action {
            Action::SendAdvert(advert) => {
                let socket = self.sockets[&(slot.sock_ifindex, slot.sock_kind)].clone();
                let dsts: Vec<IpAddr> = if slot.peers.is_empty() {
                    vec![io::advert_group(&slot.cfg, &self.global, slot.v6)]
                } else {
                    slot.peers.clone()
                };
                for dst in dsts {
                    let bytes = match (slot.src, dst) {
                        (IpAddr::V4(src), IpAddr::V4(dst)) => {
                            slot.ip_id = slot.ip_id.wrapping_add(1).max(1);
                            let ip = Ipv4Header {
                                dst,
                                ..Ipv4Header::advert(src, slot.ip_id)
                            };
                            match slot.ah.as_mut() {
                                Some(ah) => advert
                                    .encode(&Endpoints::V4 { src, dst }, checksum)
                                    .map(|msg| ah.seal(&ip, &msg)),
                                None => Packet {
                                    ip: IpHeader::V4(ip),
                                    advert: advert.clone(),
                                }
                                .encode(checksum),
                            }
                        }
                        (IpAddr::V6(src), IpAddr::V6(dst)) => {
                            advert.encode(&Endpoints::V6 { src, dst }, checksum)
                        }
                        _ => continue,
                    };
                    match bytes {
                        Ok(bytes) => {
                            if let Err(e) = socket.send(&bytes, dst).await {
                                warn!(instance = slot.inst.name(), "sending advert to {dst}: {e}");
                            }
                        }
                        Err(e) => error!(instance = slot.inst.name(), "encoding advert: {e}"),
                    }
                }
            }
            Action::AddVips => {
                slot.vips_release_at = None;
                if let Some(loaded) = slot.handback_loaded.take() {
                    // Within the old master's patience: it resumes if no one takes over
                    // within 4.5 advert intervals of its release (`Instance::handover`).
                    let limit = handback::LOAD_LIMIT.min(slot.cfg.advert_int.0 * 3);
                    handback::wait_loaded(slot.inst.name(), loaded, limit, &mut self.events).await;
                }
                for (dev, net, opts) in slot.vips.clone() {
                    if let Err(e) = self.rtnl.add_vip(dev, net, &opts).await {
                        error!(instance = slot.inst.name(), "adding VIP {net}: {e}");
                    }
                }
                let cfg = &slot.cfg;
                for e in routes::add_all(&self.rtnl, &cfg.virtual_routes, &cfg.virtual_rules).await
                {
                    error!(instance = slot.inst.name(), "{e}");
                }
            }
            Action::KeepVipsFor(grace) => {
                // The connections under way come back here from the new master (`handback`).
                slot.vips_release_at = Some(Instant::now() + grace);
                let name = slot.inst.name().to_string();
                let grace = model::Dur(grace);
                info!(instance = %name, "VIPs kept {grace} for connections under way");
                self.events.push((
                    name,
                    format!("VIPs kept {grace} for connections under way (handover_grace)"),
                ));
            }
            Action::RemoveVips => {
                slot.vips_release_at = None;
                remove_vips(&self.rtnl, slot).await;
            }
            Action::SendGratuitous { count } => {
                let mut spaced = Vec::new();
                for (dev, net, _) in &slot.vips {
                    let Some(iface) = self.ifaces.get(dev) else {
                        continue;
                    };
                    let (frame, gap) = match net.addr {
                        IpAddr::V4(v4) => (
                            announce::gratuitous_arp(iface.mac, v4),
                            self.global.vrrp_garp_interval,
                        ),
                        IpAddr::V6(v6) => (
                            announce::unsolicited_na(iface.mac, v6),
                            self.global.vrrp_gna_interval,
                        ),
                    };
                    let gap = gap.map(|d| d.0).filter(|d| !d.is_zero());
                    spaced.push(announce::Announcement {
                        packet: iface.packet.clone(),
                        frame,
                        gap,
                        iface: iface.name.clone(),
                    });
                }
                announce::announce_all(slot.inst.name(), spaced, count);
            }
        }
    }

    /// The earliest instance deadline (or the end of a hand-over's grace period).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.slots
            .iter()
            .flat_map(|s| [s.inst.next_timeout(), s.vips_release_at])
            .flatten()
            .min()
    }

    /// Remove the VIPs kept after a hand-over once their grace period is over (unless the
    /// instance became master again meanwhile).
    async fn release_kept_vips(&mut self, now: Instant) {
        for slot in &mut self.slots {
            let Some(at) = slot.vips_release_at else {
                continue;
            };
            if at > now {
                continue;
            }
            slot.vips_release_at = None;
            if slot.inst.state() == State::Master {
                continue;
            }
            remove_vips(&self.rtnl, slot).await;
            self.events.push((
                slot.inst.name().to_string(),
                "VIPs released at the end of the hand-over's grace period".to_string(),
            ));
        }
    }

    /// Whether an instance is handing over, or keeps its VIPs for a hand-over's grace period
    /// (a stop waits for both, so a graceful stop resets no connection either).
    pub fn any_handing_over(&self) -> bool {
        self.slots
            .iter()
            .any(|s| s.inst.is_handing_over() || s.vips_release_at.is_some())
    }

    /// Start a graceful hand-over on every master; returns how many started.
    pub fn handover_all(&mut self, now: Instant) -> usize {
        self.slots
            .iter_mut()
            .filter(|s| s.inst.state() == State::Master)
            .filter_map(|s| s.inst.handover(now).ok())
            .count()
    }

    /// The next input from sockets, scripts or links.
    pub async fn recv_input(&mut self) -> Option<Input> {
        self.inputs_rx.recv().await
    }

    /// Fire the timers of every instance that is due.
    pub fn handle_due(&mut self, now: Instant) {
        for slot in &mut self.slots {
            if slot.inst.next_timeout().is_some_and(|t| t <= now) {
                slot.inst.handle_timeout(now);
            }
        }
    }

    /// Events since the last call: (instance, what happened).
    pub fn take_events(&mut self) -> Vec<(String, String)> {
        std::mem::take(&mut self.events)
    }

    /// Shut every instance down (a master sends priority 0 and drops its VIPs).
    pub async fn stop(&mut self) -> Stopped {
        let now = Instant::now();
        for slot in &mut self.slots {
            slot.inst.shutdown(now);
        }
        self.step(now).await;
        // A backup still keeping VIPs for a hand-over's grace (an immediate stop) lets go.
        for slot in &mut self.slots {
            if slot.vips_release_at.take().is_some() {
                remove_vips(&self.rtnl, slot).await;
            }
        }
        self.clear_handbacks().await;
        self.vmacs.remove_all().await;
        for e in self.statics.clear(&self.rtnl).await {
            warn!("{e}");
        }
        if !self.drops.is_empty() {
            info!("VRRP packets dropped: {:?}", self.drops);
        }
        Stopped::Immediate
    }
}

/// The instance's virtual rules and routes out (as keepalived: rules, then routes), then
/// its VIPs.
async fn remove_vips(rtnl: &Rtnl, slot: &Slot) {
    let cfg = &slot.cfg;
    for e in routes::remove_all(rtnl, &cfg.virtual_routes, &cfg.virtual_rules).await {
        error!(instance = slot.inst.name(), "{e}");
    }
    remove_vips_listed(rtnl, slot.inst.name(), &slot.vips).await;
}

async fn remove_vips_listed(rtnl: &Rtnl, instance: &str, vips: &[(u32, IpNet, VipOptions)]) {
    for (dev, net, _) in vips {
        if let Err(e) = rtnl.del_vip(*dev, *net).await {
            error!(instance, "removing VIP {net}: {e}");
        }
    }
}

/// A master (`old`) released with a priority-0 advert and `handover_grace` is set: until the
/// grace period after this director may take over has passed, send the packets of
/// connections this IPVS does not know back to `old` (`handback`); they only reach this
/// director once it holds the VIPs. Returns the event to log.
fn start_handback(
    slot: &mut Slot,
    old: IpAddr,
    now: Instant,
    tx: mpsc::Sender<Input>,
) -> Option<String> {
    let grace = slot.cfg.handover_grace?;
    // Skew time is under a second; the old master keeps the VIPs `grace` after it hears us.
    let lasts = grace.0 + Duration::from_secs(1);
    slot.handback_until = Some(now + lasts);
    let table = handback::table_name(slot.v6, slot.ifindex, slot.cfg.virtual_router_id);
    let vips: Vec<IpAddr> = slot.vips.iter().map(|(_, net, _)| net.addr).collect();
    let Some(rules) = handback::ruleset(&table, &vips, old, &slot.cfg.interface) else {
        return Some(format!("no hand-back to {old}: no VIP of its family"));
    };
    let (name, v6) = (slot.inst.name().to_string(), slot.v6);
    let (loaded_tx, loaded_rx) = tokio::sync::oneshot::channel();
    slot.handback_loaded = Some(loaded_rx);
    tokio::spawn(async move {
        let note = |text: String| Input::Note(name.clone(), text);
        let loaded = handback::load(&rules).await;
        let _ = loaded_tx.send(());
        if let Err(e) = loaded {
            warn!(instance = %name, "hand-back to {old}: {e}; connections under way may be reset");
            let _ = tx
                .send(note(format!("hand-back to {old} failed: {e}")))
                .await;
            return;
        }
        tokio::time::sleep(lasts).await;
        let handed = handback::packets(v6, &table).await;
        if let Err(e) = handback::delete(v6, &table).await {
            error!(instance = %name, "removing the hand-back table {table}: {e}");
        }
        if let Ok(n) = handed
            && n > 0
        {
            info!(instance = %name, "{n} packet(s) of connections under way handed back to {old}");
            let _ = tx
                .send(note(format!(
                    "{n} packet(s) of connections under way handed back to {old}"
                )))
                .await;
        }
    });
    Some(format!(
        "{old} released: connections under way go back to it for {grace} after a take-over \
         (handover_grace)"
    ))
}

/// Run the notify scripts for a transition, as keepalived does: the per-state script with no
/// arguments, and the generic `notify` with `INSTANCE NAME STATE PRIORITY`.
/// The IPv4 / IPv6 unspecified address of a family, for places that need a placeholder.
pub fn unspecified(v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_instance_maps_to_machine_params() {
        let cfg = crate::config::seed();
        let inst = &cfg.vrrp_instance["VI_1"];
        let p = instance_params("VI_1", inst, &cfg.global, "192.168.10.71".parse().unwrap());
        assert_eq!(p.validate(), Ok(()));
        assert_eq!((p.vrid, p.priority, p.version), (51, 100, Version::V2));
        assert_eq!(p.auth, Some(*b"1111\0\0\0\0"));
        assert_eq!(p.initial_state, InitialState::Master);
    }
}
