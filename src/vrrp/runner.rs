//! The VRRP shell: drives the sans-IO [`Instance`]s of a configuration with real sockets, VIPs,
//! timers, link state and signals. One task owns every instance; sockets and links feed it
//! through channels. Tracking scripts run in the director's health runner, which hands their
//! rise / fall changes in ([`Runner::script_changed`]).

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
use super::scripts::notify;
pub use super::scripts::run_as;
use super::vip::{NetEvent, NetWatch, Rtnl, VipError, VipOptions};

mod actions;
mod bfd;
mod guarding;
mod operator;
mod packets;
mod reload;
mod repair;
mod setup;
use super::vmac::{self, Vmacs};
use crate::config::model::{self, Config, IpNet, VrrpInstance, VrrpScript};
use crate::config::validate::{FsProbe, ScriptProbe, ScriptStatus, script_program};
use crate::snapshot::{MasterHeard, Override, Transition, VrrpView, now_ms};

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
    /// A track_file's new value (None: a number out of range, ignored).
    File(String, Option<i64>),
    Link(super::vip::LinkInfo),
    /// An address came or went on an interface (for VIP repair, which asks the kernel which).
    Addr(u32, IpAddr),
    /// Something a background task has to say about an instance, for the event log.
    Note(String, String),
    /// A BFD session went up or down.
    Bfd(crate::bfd::runner::Change),
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
    /// The tracked vrrp_scripts that can run (the director's health runner runs them), with
    /// their state: unknown until the first result.
    scripts: BTreeMap<String, (VrrpScript, Option<bool>)>,
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
    bfd: bfd::BfdState,
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
            bfd: Default::default(),
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
        runner.start_bfd(config, Instant::now());
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
        self.start_bfd(config, now);
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
            Input::Bfd(change) => self.bfd_change(now, change),
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
                        from: (*from).into(),
                        to: (*to).into(),
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
        // After the masters released: a peer hears AdminDown, which is no failure.
        self.bfd.stop();
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
