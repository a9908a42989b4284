//! One VRRP instance as a sans-IO state machine.
//!
//! The shape follows quinn-proto: the instance owns no socket and reads no clock. The shell
//! feeds it inputs together with the current time and pulls outputs:
//!
//! - inputs: [`Instance::handle_timeout`], [`Instance::handle_advert`], the tracking input
//!   [`Instance::set_tracker`], the operator inputs ([`Instance::set_priority_override`],
//!   [`Instance::handover`], [`Instance::clear_handover_inhibit`]), [`Instance::shutdown`] and
//!   [`Instance::startup`];
//! - outputs: [`Instance::poll_action`] (what the I/O layer must do: send an advert, add or
//!   remove the VIPs, send gratuitous ARP / unsolicited NA), [`Instance::next_timeout`] (when
//!   to call `handle_timeout` next) and [`Instance::poll_event`] (what happened, for the log
//!   and the console).
//!
//! # Rules implemented
//!
//! RFC 9568 (VRRPv3) section 6 and RFC 3768 (VRRPv2), with keepalived's extensions where an
//! LVS operator expects them:
//!
//! - `Skew_Time` is `((256 - Priority) * Master_Adver_Interval) / 256` in v3 and
//!   `(256 - Priority) / 256` seconds in v2; `Master_Down_Interval` is
//!   `3 * Master_Adver_Interval + Skew_Time`. A v3 Backup learns `Master_Adver_Interval` from
//!   the adverts it accepts; v2 uses its own interval and drops adverts whose interval differs
//!   (RFC 3768 section 7.1). Priority is the *effective* priority (see below).
//! - Start-up: priority 255 (the address owner) goes straight to Master; everybody else goes
//!   to Backup. keepalived's `state MASTER` is only a hint: for a non-owner it shortens the
//!   first down timer to `Master_Adver_Interval + Skew_Time` (one interval to hear an existing
//!   master) instead of the full `Master_Down_Interval`.
//! - Backup: a priority-0 advert sets the down timer to `Skew_Time`; an advert is accepted (down
//!   timer reset, interval learned) when preemption is off or its priority is >= ours,
//!   otherwise it is discarded and the running down timer is left to fire (preemption). With
//!   `preempt_delay` (keepalived), lower-priority adverts are still accepted until
//!   `preempt_delay` has passed since the first one was heard; a higher or equal advert cancels
//!   that window. The address owner always preempts (keepalived resets `nopreempt` for it).
//! - Master: a priority-0 advert makes it send an advert at once; a higher priority, or an
//!   equal priority from a higher primary address (unsigned comparison in network byte order),
//!   makes it step down to Backup; anything else is discarded and answered at once with our
//!   advert (RFC 9568; keepalived does the same for v2) plus one set of gratuitous ARPs
//!   (`garp_lower_prio_repeat`, repeated after `garp_lower_prio_delay`).
//! - Split brain: a Master that hears another Master's advert with our priority or a lower
//!   one records [`EventKind::SplitBrain`] with both addresses, then applies the RFC rule. The
//!   usual take-over race (the other side became master less than one advert interval ago, or
//!   we did) is not reported, nor is the same peer more than once per four advert intervals.
//!
//! # Effective priority and trackers
//!
//! `effective = clamp(base + sum(tracker contributions), 1, 254)` where `base` is the
//! configured priority, or the operator override while one is set. A tracker with a positive
//! weight adds it while up; a tracker with a negative weight adds it (subtracts) while down
//! (keepalived's `track_script` / `track_interface` semantics, without `reverse`: the shell
//! can invert `up`). An instance whose base is 255 is the address owner: weights do not change
//! it (keepalived refuses non-zero weights on an owner; here they are ignored). A tracker of
//! weight 0 that is down puts the instance in Fault; it leaves Fault (to Backup, or Master for
//! an owner) when every such tracker is up again. Entering Fault from Master sends a
//! priority-0 advert and removes the VIPs, as keepalived does.
//!
//! # Graceful hand-over (make-before-break)
//!
//! [`Instance::handover`] on a Master sends `handover.adverts` priority-0 adverts spaced by
//! `handover.spacing` and stops its normal adverts, but keeps the VIPs. Backups answer the
//! priority-0 advert by firing their down timer after `Skew_Time`; the first one to become
//! Master sends an advert, and on hearing any advert with priority > 0 from another address the
//! old Master steps down to Backup ([`Reason::OperatorHandover`]) and removes its VIPs (adverts
//! heard within `handover.guard` of the start are not taken as a take-over, see
//! [`HandoverParams::guard`]). While
//! handing over it ignores the RFC "higher priority wins" comparison, so a new master with a
//! lower priority is not pushed back. If nobody takes over within `4 * Advertisement_Interval`
//! plus half an interval (the longest any backup can wait after our last advert is
//! `3 * I + Skew_Time < 4 * I`) it resumes normal adverts and records
//! [`EventKind::HandoverNoTakeover`].
//!
//! After a completed hand-over the old master is *inhibited*: it behaves as `nopreempt`
//! (accepts every advert in Backup, whatever the priority), so it does not take the VIP back
//! at the next advert. The inhibit ends when the operator calls
//! [`Instance::clear_handover_inhibit`], when the instance becomes Master again through its
//! down timer (the new master disappeared), or on [`Instance::shutdown`] / restart. An operator
//! who hands over to do maintenance thus gets the VIP back only when they say so.
//!
//! # Sync groups
//!
//! [`SyncGroup`] keeps several instances of one machine together, with keepalived's rules:
//! one member in Fault puts every member in Fault; one member stepping down from Master to
//! Backup takes the others to Backup; members go to Master only together, when every member
//! wants to (its down timer fired) — until then a member whose timer fired stays Backup.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::packet::{Advert, Version};

/// The priority of the address owner (RFC 9568 section 5.2.4).
pub const PRIORITY_OWNER: u8 = 255;
/// The priority a Master sends when it stops being Master (RFC 9568 section 5.2.4).
pub const PRIORITY_STOP: u8 = 0;

const CS: Duration = Duration::from_millis(10);

/// The state of one instance (RFC 9568 calls Master "Active").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Not running: before [`Instance::startup`] completes or after [`Instance::shutdown`].
    Init,
    Backup,
    Master,
    /// A weight-0 tracker (or the sync group) is down: no adverts, no VIPs, adverts ignored.
    Fault,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Init => "INIT",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Fault => "FAULT",
        })
    }
}

/// keepalived's `state MASTER|BACKUP`: a start-up hint, see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitialState {
    Backup,
    Master,
}

/// Gratuitous ARP / unsolicited NA timings (keepalived's `garp_*`, same defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GarpParams {
    /// Delay of the second set after becoming Master; zero for no second set.
    pub master_delay: Duration,
    /// Messages per address in each set after becoming Master; zero sends none.
    pub master_repeat: u8,
    /// Period of the refresh sets while Master; `None` for no refresh.
    pub master_refresh: Option<Duration>,
    /// Messages per address in each refresh set.
    pub master_refresh_repeat: u8,
    /// Delay of the second set after a lower-priority advert was heard as Master.
    pub lower_prio_delay: Duration,
    /// Messages per address in each set after a lower-priority advert was heard as Master.
    pub lower_prio_repeat: u8,
}

impl Default for GarpParams {
    fn default() -> Self {
        GarpParams {
            master_delay: Duration::from_secs(5),
            master_repeat: 5,
            master_refresh: None,
            master_refresh_repeat: 1,
            lower_prio_delay: Duration::from_secs(5),
            lower_prio_repeat: 5,
        }
    }
}

/// How a graceful hand-over announces itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoverParams {
    /// Priority-0 adverts sent (at least 1).
    pub adverts: u8,
    /// Time between them. Above the LAN's worst one-way delay, the last one arrives after any
    /// advert we sent before the hand-over (which would re-arm the backups' full down timer).
    pub spacing: Duration,
    /// Adverts heard within `guard` of the start are not taken as a take-over: they may have
    /// been sent before the other node heard our priority 0 (a former master's last advert
    /// still in flight), and a backup cannot react sooner than its Skew_Time anyway. With
    /// `guard` at least twice the LAN's worst one-way delay, the advert we release on was
    /// sent after all our own earlier adverts were delivered, so its sender cannot be pushed
    /// back to Backup by them: the VIP always has a holder.
    pub guard: Duration,
    /// How long the old master keeps its VIPs once the new master is heard (`handover_grace`:
    /// the new master hands the packets of connections under way back meanwhile); zero
    /// releases them at once.
    pub keep_vips: Duration,
}

impl Default for HandoverParams {
    fn default() -> Self {
        HandoverParams {
            adverts: 3,
            spacing: Duration::from_millis(20),
            guard: Duration::from_millis(20),
            keep_vips: Duration::ZERO,
        }
    }
}

/// Everything that configures one instance. Pure data, no dependency on the config module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceParams {
    /// The instance name (`vrrp_instance NAME`), for events and logs.
    pub name: String,
    pub version: Version,
    /// Virtual router id, 1..=255.
    pub vrid: u8,
    /// Configured priority, 1..=255 (255: address owner).
    pub priority: u8,
    /// Advertisement interval. v3 is rounded to centiseconds (10 ms..=40.95 s); v2 must be
    /// whole seconds (1..=255 s).
    pub advert_interval: Duration,
    /// Our source address: the tie-break on equal priority and what peers see as the master.
    pub primary_addr: IpAddr,
    /// The virtual addresses (one family).
    pub vips: Vec<IpAddr>,
    pub initial_state: InitialState,
    pub preempt: bool,
    /// keepalived's `preempt_delay`; zero for none.
    pub preempt_delay: Duration,
    /// Accept mode (RFC 9568 section 6.1): the I/O layer reads [`Instance::accept_mode`].
    pub accept: bool,
    /// v2 simple password (`auth_type PASS`), zero-padded; must match on received adverts.
    pub auth: Option<[u8; 8]>,
    pub garp: GarpParams,
    /// Unicast peers instead of multicast: not used by the machine, read by the I/O layer.
    pub unicast: bool,
    pub handover: HandoverParams,
    /// Compare a received advert's address list with ours (a mismatch is counted, as
    /// keepalived logs it); off with keepalived's `vrrp_skip_check_adv_addr`.
    pub check_adv_addrs: bool,
}

impl InstanceParams {
    /// Parameters with keepalived's defaults for everything not given.
    pub fn new(
        name: impl Into<String>,
        version: Version,
        vrid: u8,
        priority: u8,
        primary_addr: IpAddr,
        vips: Vec<IpAddr>,
    ) -> Self {
        InstanceParams {
            name: name.into(),
            version,
            vrid,
            priority,
            advert_interval: Duration::from_secs(1),
            primary_addr,
            vips,
            initial_state: InitialState::Backup,
            preempt: true,
            preempt_delay: Duration::ZERO,
            accept: true,
            auth: None,
            garp: GarpParams::default(),
            unicast: false,
            handover: HandoverParams::default(),
            check_adv_addrs: true,
        }
    }

    /// Check the values the machine relies on.
    pub fn validate(&self) -> Result<(), ParamError> {
        if self.vrid == 0 {
            return Err(ParamError::Vrid);
        }
        if self.priority == 0 {
            return Err(ParamError::Priority);
        }
        match self.version {
            Version::V2 => {
                let ns = self.advert_interval.as_nanos();
                if !ns.is_multiple_of(1_000_000_000) || !(1..=255).contains(&(ns / 1_000_000_000)) {
                    return Err(ParamError::Interval(self.advert_interval));
                }
            }
            Version::V3 => {
                if self.advert_interval < CS || self.advert_interval > CS * 4095 {
                    return Err(ParamError::Interval(self.advert_interval));
                }
                if self.auth.is_some() {
                    return Err(ParamError::AuthWithV3);
                }
            }
        }
        if self
            .vips
            .iter()
            .any(|v| v.is_ipv4() != self.primary_addr.is_ipv4())
        {
            return Err(ParamError::MixedFamilies);
        }
        if self.handover.adverts == 0 {
            return Err(ParamError::HandoverAdverts);
        }
        Ok(())
    }

    /// The interval as carried on the wire, in centiseconds.
    pub fn wire_interval_cs(&self) -> u16 {
        match self.version {
            Version::V2 => {
                let s = (self.advert_interval.as_millis() as u64).div_ceil(1000);
                (s.clamp(1, 255) * 100) as u16
            }
            Version::V3 => {
                let cs = (self.advert_interval.as_millis() as u64).div_ceil(10);
                cs.clamp(1, 4095) as u16
            }
        }
    }
}

/// A parameter the machine cannot run with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("virtual_router_id must be 1..=255")]
    Vrid,
    #[error("priority must be 1..=255")]
    Priority,
    #[error(
        "advert interval {0:?} is out of range (v2: whole seconds 1..=255; v3: 0.01..=40.95 s)"
    )]
    Interval(Duration),
    #[error("authentication is a VRRPv2 feature; remove it or use version 2")]
    AuthWithV3,
    #[error("the virtual addresses and the primary address must be of one family")]
    MixedFamilies,
    #[error("a hand-over needs at least one priority-0 advert")]
    HandoverAdverts,
    #[error("VRID, version and address family are an instance's identity: a new instance")]
    Identity,
}

/// An operator input that does not apply in the current state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OperatorError {
    #[error("priority override must be 1..=254")]
    InvalidPriority,
    #[error("instance is {0}, not MASTER")]
    NotMaster(State),
    #[error("a hand-over is already under way")]
    AlreadyHandingOver,
    #[error("instance is already running")]
    AlreadyRunning,
}

/// What the I/O layer must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Encode and send this advert (multicast, or to the unicast peers).
    SendAdvert(Advert),
    /// Configure every VIP of the instance ([`Instance::vips`]) on the interface.
    AddVips,
    /// Remove every VIP of the instance (idempotent: also sent at start-up to clear VIPs left
    /// behind by a killed process).
    RemoveVips,
    /// After a graceful hand-over ([`HandoverParams::keep_vips`]): keep the VIPs this long,
    /// then remove them, unless the instance is master again by then.
    KeepVipsFor(Duration),
    /// Send `count` gratuitous ARPs (IPv4) / unsolicited NAs (IPv6) for each VIP.
    SendGratuitous { count: u8 },
}

/// Why a transition happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Start-up of a non-owner, to Backup.
    Startup,
    /// Start-up (or fault recovery) of the address owner, straight to Master.
    AddressOwner,
    /// No advert within Master_Down_Interval.
    MasterDownTimer,
    /// The master released with a priority-0 advert and our Skew_Time passed.
    PriorityZeroHeard,
    /// We discarded a lower-priority master's adverts and our down timer fired.
    Preempt,
    /// As Master we heard a higher priority (or equal from a higher address).
    HigherPriorityHeard { src: IpAddr, priority: u8 },
    /// A weight-0 tracker went down.
    TrackerFault(String),
    /// Every weight-0 tracker is up again.
    TrackersRecovered,
    /// The sync group put us in Fault because a member is in Fault.
    SyncGroupFault { group: String },
    /// The sync group moved us with another member.
    SyncGroup { group: String },
    /// The operator's hand-over completed: a new master was heard.
    OperatorHandover { new_master: IpAddr },
    /// [`Instance::shutdown`].
    Shutdown,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Startup => f.write_str("start-up"),
            Reason::AddressOwner => f.write_str("address owner (priority 255)"),
            Reason::MasterDownTimer => f.write_str("no advert within master down interval"),
            Reason::PriorityZeroHeard => f.write_str("master released (priority 0 heard)"),
            Reason::Preempt => f.write_str("preempted a lower-priority master"),
            Reason::HigherPriorityHeard { src, priority } => {
                write!(f, "heard higher priority {priority} from {src}")
            }
            Reason::TrackerFault(name) => write!(f, "tracker {name} down"),
            Reason::TrackersRecovered => f.write_str("trackers recovered"),
            Reason::SyncGroupFault { group } => write!(f, "sync group {group} member in fault"),
            Reason::SyncGroup { group } => write!(f, "sync group {group} follows a member"),
            Reason::OperatorHandover { new_master } => {
                write!(f, "operator hand-over to {new_master}")
            }
            Reason::Shutdown => f.write_str("shutdown"),
        }
    }
}

/// Something that happened, for the event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    Transition {
        from: State,
        to: State,
        reason: Reason,
    },
    PriorityChanged {
        from: u8,
        to: u8,
    },
    /// Another master advertises our priority or a lower one while we are Master.
    SplitBrain {
        ours: IpAddr,
        theirs: IpAddr,
        our_priority: u8,
        their_priority: u8,
    },
    HandoverStarted,
    /// No backup took over within the hand-over deadline: normal adverts resumed.
    HandoverNoTakeover,
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventKind::Transition { from, to, reason } => write!(f, "{from} -> {to}: {reason}"),
            EventKind::PriorityChanged { from, to } => write!(f, "priority {from} -> {to}"),
            EventKind::SplitBrain {
                ours,
                theirs,
                our_priority,
                their_priority,
            } => write!(
                f,
                "split brain: {theirs} (priority {their_priority}) advertises as master \
                 while we ({ours}, priority {our_priority}) are master"
            ),
            EventKind::HandoverStarted => f.write_str("hand-over started"),
            EventKind::HandoverNoTakeover => {
                f.write_str("hand-over: no backup took over, resuming as master")
            }
        }
    }
}

/// An [`EventKind`] and when it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub at: Instant,
    pub kind: EventKind,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind.fmt(f)
    }
}

/// The master we last heard (as Backup).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MasterInfo {
    pub addr: IpAddr,
    pub priority: u8,
    pub interval_cs: u16,
    pub at: Instant,
}

/// Adverts dropped before the state machine, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DropCounters {
    /// Our own advert came back (source is our primary address).
    pub own_advert: u64,
    pub vrid_mismatch: u64,
    pub version_mismatch: u64,
    /// v2: the advert interval differs from ours (RFC 3768 section 7.1).
    pub interval_mismatch: u64,
    /// v3: a zero Max Advertise Interval (RFC 9568 section 7.1).
    pub invalid_interval: u64,
    pub auth_mismatch: u64,
}

/// Counters (monotonic over the life of the instance).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub adverts_in: u64,
    pub adverts_out: u64,
    pub priority_zero_in: u64,
    pub priority_zero_out: u64,
    pub became_master: u64,
    /// Transitions out of MASTER (to BACKUP, FAULT or INIT).
    pub released_master: u64,
    /// Graceful hand-overs started by an operator (or a stop).
    pub handovers: u64,
    pub dropped: DropCounters,
    /// The advert's address list differs from ours: counted (keepalived logs it), not dropped.
    pub address_list_mismatch: u64,
    /// Lower-priority adverts discarded in Backup to preempt.
    pub lower_priority_discarded: u64,
    pub split_brain: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tracker {
    weight: i32,
    up: bool,
}

/// What will make the Backup down timer fire, to name the transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DownCause {
    NoAdverts,
    PriorityZero,
    Preempt,
}

#[derive(Debug, Clone, Copy)]
struct Handover {
    remaining: u8,
    guard_until: Instant,
    next_send: Option<Instant>,
    deadline: Instant,
    /// Whether the completed hand-over leaves the inhibit (an operator's clear during the
    /// hand-over says not).
    inhibit_after: bool,
}

/// One VRRP instance. See the module docs.
#[derive(Debug, Clone)]
pub struct Instance {
    params: InstanceParams,
    adv_cs: u16,
    state: State,
    counters: Counters,
    actions: VecDeque<Action>,
    events: VecDeque<Event>,
    trackers: BTreeMap<String, Tracker>,
    priority_override: Option<u8>,
    last_priority: u8,
    master_adver_cs: u16,
    master_down_at: Option<Instant>,
    down_cause: DownCause,
    adver_at: Option<Instant>,
    garp_at: Option<(Instant, u8)>,
    lower_garp_at: Option<Instant>,
    refresh_at: Option<Instant>,
    preempt_since: Option<Instant>,
    master_heard: Option<MasterInfo>,
    handover: Option<Handover>,
    handover_inhibit: bool,
    became_master_at: Option<Instant>,
    last_split: Option<(IpAddr, Instant)>,
    sync_hold: bool,
    sync_fault: Option<String>,
    want_master: bool,
}

impl Instance {
    /// Create the instance and start it (the RFC Startup event) at `now`.
    ///
    /// `params` should have passed [`InstanceParams::validate`]; out-of-range values are
    /// clamped.
    pub fn new(params: InstanceParams, now: Instant) -> Self {
        let mut inst = Self::new_stopped(params);
        inst.do_startup(now);
        inst
    }

    /// Create the instance in Init; [`Instance::startup`] starts it.
    pub fn new_stopped(mut params: InstanceParams) -> Self {
        params.priority = params.priority.max(1);
        let adv_cs = params.wire_interval_cs();
        let mut inst = Instance {
            adv_cs,
            state: State::Init,
            counters: Counters::default(),
            actions: VecDeque::new(),
            events: VecDeque::new(),
            trackers: BTreeMap::new(),
            priority_override: None,
            last_priority: params.priority,
            master_adver_cs: adv_cs,
            master_down_at: None,
            down_cause: DownCause::NoAdverts,
            adver_at: None,
            garp_at: None,
            lower_garp_at: None,
            refresh_at: None,
            preempt_since: None,
            master_heard: None,
            handover: None,
            handover_inhibit: false,
            became_master_at: None,
            last_split: None,
            sync_hold: false,
            sync_fault: None,
            want_master: false,
            params,
        };
        inst.last_priority = inst.effective_priority();
        inst
    }

    // ----- accessors -----

    pub fn params(&self) -> &InstanceParams {
        &self.params
    }
    pub fn name(&self) -> &str {
        &self.params.name
    }
    pub fn vips(&self) -> &[IpAddr] {
        &self.params.vips
    }
    pub fn state(&self) -> State {
        self.state
    }
    pub fn counters(&self) -> &Counters {
        &self.counters
    }
    /// The master last heard while Backup (also a lower-priority one we are preempting).
    pub fn master_heard(&self) -> Option<MasterInfo> {
        self.master_heard
    }
    /// Accept mode: whether the I/O layer lets packets addressed to the VIPs in while Master
    /// (always for the address owner).
    pub fn accept_mode(&self) -> bool {
        self.params.accept || self.params.priority == PRIORITY_OWNER
    }
    pub fn priority_override(&self) -> Option<u8> {
        self.priority_override
    }
    pub fn is_handing_over(&self) -> bool {
        self.handover.is_some()
    }
    /// True after a completed hand-over until cleared; see the module docs.
    pub fn handover_inhibited(&self) -> bool {
        self.handover_inhibit
    }
    /// Whether a Backup currently discards lower-priority adverts (preemption in force).
    pub fn preempts(&self) -> bool {
        !self.handover_inhibit
            && (self.params.preempt || self.effective_priority() == PRIORITY_OWNER)
    }
    /// The sync group wants this member to go to Master (its down timer fired while held).
    pub fn wants_master(&self) -> bool {
        self.want_master
    }
    /// A weight-0 tracker of this instance itself is down (not counting the sync group).
    pub fn own_fault(&self) -> bool {
        self.own_fault_name().is_some()
    }

    /// The trackers (`script:NAME`, `link:IFACE`, `file:NAME`, ...): up, and the weight each
    /// adds when up (positive) or takes when down (negative).
    pub fn trackers(&self) -> impl Iterator<Item = (&str, bool, i32)> {
        self.trackers
            .iter()
            .map(|(name, t)| (name.as_str(), t.up, t.weight))
    }

    /// The priority used in elections and adverts.
    pub fn effective_priority(&self) -> u8 {
        let base = self.priority_override.unwrap_or(self.params.priority);
        if base == PRIORITY_OWNER {
            return PRIORITY_OWNER;
        }
        let sum: i32 = self
            .trackers
            .values()
            .map(|t| match (t.up, t.weight) {
                (true, w) if w > 0 => w,
                (false, w) if w < 0 => w,
                _ => 0,
            })
            .sum();
        (i32::from(base) + sum).clamp(1, 254) as u8
    }

    /// `Master_Adver_Interval`: learned from the master (v3 Backup) or our own.
    pub fn master_adver_interval(&self) -> Duration {
        CS * u32::from(self.master_adver_cs)
    }
    /// Our own advertisement interval as used on the wire.
    pub fn advert_interval(&self) -> Duration {
        CS * u32::from(self.adv_cs)
    }
    /// `Skew_Time` for the current effective priority.
    pub fn skew_time(&self) -> Duration {
        let k = u64::from(256 - u16::from(self.effective_priority()));
        let unit = match self.params.version {
            Version::V2 => Duration::from_secs(1),
            Version::V3 => self.master_adver_interval(),
        };
        Duration::from_nanos((unit.as_nanos() as u64 * k) / 256)
    }
    /// `Master_Down_Interval` for the current effective priority.
    pub fn master_down_interval(&self) -> Duration {
        let i = match self.params.version {
            Version::V2 => self.advert_interval(),
            Version::V3 => self.master_adver_interval(),
        };
        i * 3 + self.skew_time()
    }

    // ----- outputs -----

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
    /// When [`Instance::handle_timeout`] must be called next.
    pub fn next_timeout(&self) -> Option<Instant> {
        let h = self
            .handover
            .map(|h| h.next_send.map_or(h.deadline, |n| n.min(h.deadline)));
        [
            self.master_down_at,
            self.adver_at,
            self.garp_at.map(|g| g.0),
            self.lower_garp_at,
            self.refresh_at,
            h,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    // ----- inputs -----

    /// Start from Init (after [`Instance::new_stopped`] or [`Instance::shutdown`]).
    pub fn startup(&mut self, now: Instant) -> Result<(), OperatorError> {
        if self.state != State::Init {
            return Err(OperatorError::AlreadyRunning);
        }
        self.do_startup(now);
        Ok(())
    }

    /// The Shutdown event: a Master sends a priority-0 advert and removes its VIPs (the plain
    /// release); every state goes to Init.
    pub fn shutdown(&mut self, now: Instant) {
        match self.state {
            State::Init => return,
            State::Master => self.leave_master(true),
            State::Backup | State::Fault => {}
        }
        self.master_down_at = None;
        self.handover_inhibit = false;
        self.want_master = false;
        self.preempt_since = None;
        self.transition(now, State::Init, Reason::Shutdown);
    }

    /// Timers: call at (or after) [`Instance::next_timeout`].
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::Backup => {
                if self.master_down_at.is_some_and(|t| t <= now) {
                    if self.sync_hold {
                        // keepalived: wait for the other members; re-arm the timer.
                        self.want_master = true;
                        self.master_down_at = Some(now + self.master_down_interval());
                    } else {
                        let reason = match self.down_cause {
                            DownCause::NoAdverts => Reason::MasterDownTimer,
                            DownCause::PriorityZero => Reason::PriorityZeroHeard,
                            DownCause::Preempt => Reason::Preempt,
                        };
                        self.become_master(now, reason);
                    }
                }
            }
            State::Master => {
                if let Some(mut h) = self.handover {
                    if h.next_send.is_some_and(|t| t <= now) {
                        self.send_advert(PRIORITY_STOP);
                        h.remaining = h.remaining.saturating_sub(1);
                        h.next_send = (h.remaining > 0).then(|| now + self.params.handover.spacing);
                    }
                    if h.deadline <= now {
                        self.handover = None;
                        self.push_event(now, EventKind::HandoverNoTakeover);
                        self.send_advert(self.effective_priority());
                        self.adver_at = Some(now + self.advert_interval());
                    } else {
                        self.handover = Some(h);
                    }
                }
                if self.adver_at.is_some_and(|t| t <= now) {
                    self.send_advert(self.effective_priority());
                    self.adver_at = Some(now + self.advert_interval());
                }
                if let Some((t, count)) = self.garp_at
                    && t <= now
                {
                    self.garp_at = None;
                    self.actions.push_back(Action::SendGratuitous { count });
                }
                if self.lower_garp_at.is_some_and(|t| t <= now) {
                    self.lower_garp_at = None;
                    self.actions.push_back(Action::SendGratuitous {
                        count: self.params.garp.lower_prio_repeat,
                    });
                }
                if self.refresh_at.is_some_and(|t| t <= now)
                    && let Some(period) = self.params.garp.master_refresh
                {
                    self.refresh_at = Some(now + period);
                    self.actions.push_back(Action::SendGratuitous {
                        count: self.params.garp.master_refresh_repeat,
                    });
                }
            }
            State::Init | State::Fault => {}
        }
    }

    /// A decoded advert for our VRID arrived from `src` (TTL, checksum and VRID routing are the
    /// I/O layer's; the VRID is checked again here).
    pub fn handle_advert(&mut self, now: Instant, src: IpAddr, advert: &Advert) {
        if self.state == State::Init {
            return;
        }
        self.counters.adverts_in += 1;
        let d = &mut self.counters.dropped;
        if src == self.params.primary_addr {
            d.own_advert += 1;
            return;
        }
        if advert.vrid != self.params.vrid {
            d.vrid_mismatch += 1;
            return;
        }
        if advert.version != self.params.version {
            d.version_mismatch += 1;
            return;
        }
        match self.params.version {
            Version::V2 => {
                if advert.interval_cs != self.adv_cs {
                    d.interval_mismatch += 1;
                    return;
                }
                if advert.auth != self.params.auth {
                    d.auth_mismatch += 1;
                    return;
                }
            }
            Version::V3 => {
                if advert.interval_cs == 0 {
                    d.invalid_interval += 1;
                    return;
                }
            }
        }
        if self.params.check_adv_addrs && !same_addrs(&advert.addrs, &self.params.vips) {
            self.counters.address_list_mismatch += 1;
        }
        if advert.priority == PRIORITY_STOP {
            self.counters.priority_zero_in += 1;
        }
        match self.state {
            State::Backup => self.backup_rx(now, src, advert),
            State::Master => self.master_rx(now, src, advert),
            State::Init | State::Fault => {}
        }
    }

    /// Set (add or update) a tracker: `weight` in -254..=254 (clamped); 0 means "Fault while
    /// down". `up` is its current status.
    pub fn set_tracker(&mut self, now: Instant, name: &str, weight: i32, up: bool) {
        let t = Tracker {
            weight: weight.clamp(-254, 254),
            up,
        };
        match self.trackers.get_mut(name) {
            Some(old) if *old == t => return,
            Some(old) => *old = t,
            None => {
                self.trackers.insert(name.to_owned(), t);
            }
        }
        self.after_priority_inputs(now);
    }

    /// Forget a tracker.
    pub fn remove_tracker(&mut self, now: Instant, name: &str) {
        if self.trackers.remove(name).is_some() {
            self.after_priority_inputs(now);
        }
    }

    /// Operator: replace the configured priority for the election while set (1..=254);
    /// `None` clears the override. Trackers still apply on top.
    pub fn set_priority_override(
        &mut self,
        now: Instant,
        priority: Option<u8>,
    ) -> Result<(), OperatorError> {
        if let Some(p) = priority
            && !(1..=254).contains(&p)
        {
            return Err(OperatorError::InvalidPriority);
        }
        self.priority_override = priority;
        self.after_priority_inputs(now);
        Ok(())
    }

    /// Operator: graceful hand-over (make-before-break); see the module docs.
    pub fn handover(&mut self, now: Instant) -> Result<(), OperatorError> {
        if self.state != State::Master {
            return Err(OperatorError::NotMaster(self.state));
        }
        if self.handover.is_some() {
            return Err(OperatorError::AlreadyHandingOver);
        }
        let i = self.advert_interval();
        self.adver_at = None;
        self.send_advert(PRIORITY_STOP);
        let remaining = self.params.handover.adverts.max(1) - 1;
        self.handover = Some(Handover {
            remaining,
            guard_until: now + self.params.handover.guard,
            next_send: (remaining > 0).then(|| now + self.params.handover.spacing),
            deadline: now + i * 4 + i / 2,
            inhibit_after: true,
        });
        self.counters.handovers += 1;
        self.push_event(now, EventKind::HandoverStarted);
        Ok(())
    }

    /// A reload: new parameters for the running instance, applied without a transition
    /// (keepalived applies them in place too). Priority, advert interval, VIPs, preemption,
    /// authentication, GARP and hand-over settings change; a master advertises the new ones
    /// at once. The identity (VRID, version, address family) cannot change here: that is a
    /// new instance.
    pub fn reconfigure(
        &mut self,
        now: Instant,
        mut params: InstanceParams,
    ) -> Result<(), ParamError> {
        params.validate()?;
        if params.vrid != self.params.vrid
            || params.version != self.params.version
            || params.primary_addr.is_ipv6() != self.params.primary_addr.is_ipv6()
        {
            return Err(ParamError::Identity);
        }
        params.priority = params.priority.max(1);
        let seen_by_peers = params.vips != self.params.vips
            || params.priority != self.params.priority
            || params.wire_interval_cs() != self.adv_cs
            || params.auth != self.params.auth;
        self.params = params;
        self.adv_cs = self.params.wire_interval_cs();
        match self.state {
            State::Master => {
                self.master_adver_cs = self.adv_cs;
                if seen_by_peers && self.handover.is_none() {
                    self.adver_at = Some(now);
                }
            }
            // v2 has no learned interval: the master's is ours.
            State::Backup if self.params.version == Version::V2 => {
                self.master_adver_cs = self.adv_cs;
            }
            _ => {}
        }
        self.after_priority_inputs(now);
        Ok(())
    }

    /// Operator: end the post-hand-over inhibit, so this instance preempts again; during a
    /// hand-over, the hand-over completes (make-before-break) but leaves no inhibit.
    pub fn clear_handover_inhibit(&mut self, _now: Instant) {
        self.handover_inhibit = false;
        if let Some(h) = self.handover.as_mut() {
            h.inhibit_after = false;
        }
    }

    // ----- sync group hooks -----

    /// While held, a Backup whose down timer fires stays Backup and [`Instance::wants_master`]
    /// becomes true (the sync group decides).
    pub fn set_sync_hold(&mut self, hold: bool) {
        self.sync_hold = hold;
    }

    /// Put in / take out of Fault on behalf of a sync group.
    pub fn set_sync_fault(&mut self, now: Instant, group: Option<&str>) {
        let new = group.map(str::to_owned);
        if new != self.sync_fault {
            self.sync_fault = new;
            self.after_priority_inputs(now);
        }
    }

    /// Move a Backup to Master on behalf of a sync group.
    pub fn force_master(&mut self, now: Instant, group: &str) {
        if self.state == State::Backup {
            self.become_master(
                now,
                Reason::SyncGroup {
                    group: group.to_owned(),
                },
            );
        }
    }

    /// Move a Master to Backup on behalf of a sync group.
    pub fn force_backup(&mut self, now: Instant, group: &str) {
        if self.state == State::Master {
            self.leave_master(false);
            self.enter_backup(now);
            self.transition(
                now,
                State::Backup,
                Reason::SyncGroup {
                    group: group.to_owned(),
                },
            );
        }
    }

    // ----- internals -----

    fn own_fault_name(&self) -> Option<&str> {
        self.trackers
            .iter()
            .find(|(_, t)| t.weight == 0 && !t.up)
            .map(|(n, _)| n.as_str())
    }

    fn fault_reason(&self) -> Option<Reason> {
        if let Some(n) = self.own_fault_name() {
            return Some(Reason::TrackerFault(n.to_owned()));
        }
        self.sync_fault
            .as_ref()
            .map(|g| Reason::SyncGroupFault { group: g.clone() })
    }

    fn do_startup(&mut self, now: Instant) {
        self.handover_inhibit = false;
        self.master_adver_cs = self.adv_cs;
        if let Some(reason) = self.fault_reason() {
            self.actions.push_back(Action::RemoveVips);
            self.transition(now, State::Fault, reason);
            return;
        }
        if self.effective_priority() == PRIORITY_OWNER {
            self.become_master(now, Reason::AddressOwner);
            return;
        }
        self.actions.push_back(Action::RemoveVips);
        self.enter_backup(now);
        if self.params.initial_state == InitialState::Master {
            self.master_down_at = Some(now + self.master_adver_interval() + self.skew_time());
        }
        self.transition(now, State::Backup, Reason::Startup);
    }

    /// Arm Backup timers (the state itself is set by `transition`).
    fn enter_backup(&mut self, now: Instant) {
        self.master_down_at = Some(now + self.master_down_interval());
        self.down_cause = DownCause::NoAdverts;
        self.preempt_since = None;
        self.want_master = false;
    }

    fn become_master(&mut self, now: Instant, reason: Reason) {
        self.counters.became_master += 1;
        self.became_master_at = Some(now);
        self.master_down_at = None;
        self.preempt_since = None;
        self.want_master = false;
        self.handover_inhibit = false;
        self.master_heard = None;
        self.last_split = None;
        self.master_adver_cs = self.adv_cs;
        // VIPs and gratuitous ARP before the advert: the advert is what makes a handing-over
        // master drop the VIP, so clients must already have been told where it lives.
        self.actions.push_back(Action::AddVips);
        let g = &self.params.garp;
        if g.master_repeat > 0 {
            self.actions.push_back(Action::SendGratuitous {
                count: g.master_repeat,
            });
            if !g.master_delay.is_zero() {
                self.garp_at = Some((now + g.master_delay, g.master_repeat));
            }
        }
        self.refresh_at = g.master_refresh.map(|p| now + p);
        self.send_advert(self.effective_priority());
        self.adver_at = Some(now + self.advert_interval());
        self.transition(now, State::Master, reason);
    }

    /// Cancel Master timers, optionally send the priority-0 advert, and remove the VIPs.
    fn leave_master(&mut self, release: bool) {
        self.adver_at = None;
        self.garp_at = None;
        self.lower_garp_at = None;
        self.refresh_at = None;
        self.handover = None;
        if release {
            self.send_advert(PRIORITY_STOP);
        }
        self.actions.push_back(Action::RemoveVips);
    }

    fn transition(&mut self, now: Instant, to: State, reason: Reason) {
        let from = self.state;
        if from == State::Master && to != State::Master {
            self.counters.released_master += 1;
        }
        self.state = to;
        self.push_event(now, EventKind::Transition { from, to, reason });
    }

    fn push_event(&mut self, at: Instant, kind: EventKind) {
        self.events.push_back(Event { at, kind });
    }

    fn send_advert(&mut self, priority: u8) {
        self.counters.adverts_out += 1;
        if priority == PRIORITY_STOP {
            self.counters.priority_zero_out += 1;
        }
        let auth = match self.params.version {
            Version::V2 => self.params.auth,
            Version::V3 => None,
        };
        self.actions.push_back(Action::SendAdvert(Advert {
            version: self.params.version,
            vrid: self.params.vrid,
            priority,
            interval_cs: self.adv_cs,
            addrs: self.params.vips.clone(),
            auth,
        }));
    }

    fn after_priority_inputs(&mut self, now: Instant) {
        let p = self.effective_priority();
        if p != self.last_priority {
            let from = self.last_priority;
            self.last_priority = p;
            self.push_event(now, EventKind::PriorityChanged { from, to: p });
        }
        let fault = self.fault_reason();
        match (self.state, fault) {
            (State::Fault, None) => {
                self.master_adver_cs = self.adv_cs;
                if p == PRIORITY_OWNER {
                    self.become_master(now, Reason::TrackersRecovered);
                } else {
                    self.enter_backup(now);
                    self.transition(now, State::Backup, Reason::TrackersRecovered);
                }
            }
            (State::Master, Some(reason)) => {
                self.leave_master(true);
                self.master_down_at = None;
                self.transition(now, State::Fault, reason);
            }
            (State::Backup, Some(reason)) => {
                self.master_down_at = None;
                self.want_master = false;
                self.transition(now, State::Fault, reason);
            }
            _ => {}
        }
    }

    fn learn_interval(&mut self, advert: &Advert) {
        if self.params.version == Version::V3 {
            self.master_adver_cs = advert.interval_cs;
        }
    }

    fn backup_rx(&mut self, now: Instant, src: IpAddr, advert: &Advert) {
        if advert.priority == PRIORITY_STOP {
            self.master_down_at = Some(now + self.skew_time());
            self.down_cause = DownCause::PriorityZero;
            return;
        }
        let ours = self.effective_priority();
        let accept = if advert.priority >= ours {
            self.preempt_since = None;
            true
        } else if !self.preempts() {
            true
        } else if !self.params.preempt_delay.is_zero() {
            let since = *self.preempt_since.get_or_insert(now);
            now < since + self.params.preempt_delay
        } else {
            false
        };
        self.master_heard = Some(MasterInfo {
            addr: src,
            priority: advert.priority,
            interval_cs: advert.interval_cs,
            at: now,
        });
        if accept {
            self.learn_interval(advert);
            self.master_down_at = Some(now + self.master_down_interval());
            self.down_cause = DownCause::NoAdverts;
            self.want_master = false;
        } else {
            self.counters.lower_priority_discarded += 1;
            self.down_cause = DownCause::Preempt;
        }
    }

    fn master_rx(&mut self, now: Instant, src: IpAddr, advert: &Advert) {
        if let Some(h) = self.handover {
            if advert.priority != PRIORITY_STOP && now >= h.guard_until {
                // Make-before-break: the new master holds the VIPs; release ours (after the
                // grace period, if one is set).
                self.leave_master(false);
                let keep = self.params.handover.keep_vips;
                if !keep.is_zero() {
                    self.actions.pop_back(); // leave_master's RemoveVips
                    self.actions.push_back(Action::KeepVipsFor(keep));
                }
                self.learn_interval(advert);
                self.enter_backup(now);
                self.handover_inhibit = h.inhibit_after;
                self.master_heard = Some(MasterInfo {
                    addr: src,
                    priority: advert.priority,
                    interval_cs: advert.interval_cs,
                    at: now,
                });
                self.transition(
                    now,
                    State::Backup,
                    Reason::OperatorHandover { new_master: src },
                );
            }
            return;
        }
        if advert.priority == PRIORITY_STOP {
            self.send_advert(self.effective_priority());
            self.adver_at = Some(now + self.advert_interval());
            return;
        }
        let ours = self.effective_priority();
        let i = self.advert_interval();
        if advert.priority <= ours {
            let transient = self.became_master_at.is_some_and(|t| now < t + i);
            let repeated = self
                .last_split
                .is_some_and(|(a, t)| a == src && now < t + i * 4);
            if !transient && !repeated {
                self.counters.split_brain += 1;
                self.last_split = Some((src, now));
                self.push_event(
                    now,
                    EventKind::SplitBrain {
                        ours: self.params.primary_addr,
                        theirs: src,
                        our_priority: ours,
                        their_priority: advert.priority,
                    },
                );
            }
        }
        let higher =
            advert.priority > ours || (advert.priority == ours && src > self.params.primary_addr);
        if higher {
            self.leave_master(false);
            self.learn_interval(advert);
            self.enter_backup(now);
            self.master_heard = Some(MasterInfo {
                addr: src,
                priority: advert.priority,
                interval_cs: advert.interval_cs,
                at: now,
            });
            self.transition(
                now,
                State::Backup,
                Reason::HigherPriorityHeard {
                    src,
                    priority: advert.priority,
                },
            );
        } else {
            self.send_advert(ours);
            let g = &self.params.garp;
            if g.lower_prio_repeat > 0 && self.lower_garp_at.is_none() {
                self.actions.push_back(Action::SendGratuitous {
                    count: g.lower_prio_repeat,
                });
                if !g.lower_prio_delay.is_zero() {
                    self.lower_garp_at = Some(now + g.lower_prio_delay);
                }
            }
        }
    }
}

/// Same set of addresses, ignoring order.
fn same_addrs(a: &[IpAddr], b: &[IpAddr]) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.contains(x)) && b.iter().all(|x| a.contains(x))
}

/// The state of a [`SyncGroup`] as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupState {
    Backup,
    Master,
    Fault,
}

/// Keeps the member instances of one machine in the same state (keepalived's
/// `vrrp_sync_group`). Pure: the shell calls [`SyncGroup::update`] after every input it gave to
/// any member (before draining the members' actions), passing the members in a fixed order.
///
/// Rules (keepalived 2.x):
/// 1. If any member has its own fault (a weight-0 tracker down) or is stopped (Init), every
///    other member is put in Fault ([`Reason::SyncGroupFault`]); when no member has one, they
///    leave Fault together.
/// 2. When the group is Master and one member drops to Backup (it heard a higher priority),
///    every other Master member is moved to Backup.
/// 3. While the group is not Master, members are *held*: a member whose down timer fires
///    only records that it wants Master. When every member is Master or wants Master, they all
///    go to Master and the group is Master. A member that became Master alone (an address
///    owner at start-up) is moved back to Backup until the others want Master too.
///
/// keepalived ignores non-zero tracker weights on sync group members (they would make members
/// disagree on who should win); the same advice applies here.
#[derive(Debug, Clone)]
pub struct SyncGroup {
    name: String,
    state: GroupState,
}

impl SyncGroup {
    pub fn new(name: impl Into<String>) -> Self {
        SyncGroup {
            name: name.into(),
            state: GroupState::Backup,
        }
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn state(&self) -> GroupState {
        self.state
    }

    /// Apply the rules to the members until they agree.
    pub fn update(&mut self, now: Instant, members: &mut [&mut Instance]) {
        // Rule 1.
        let fault = members
            .iter()
            .any(|m| m.own_fault() || m.state() == State::Init);
        for m in members.iter_mut() {
            let others_fault = fault && !m.own_fault() && m.state() != State::Init;
            m.set_sync_fault(now, others_fault.then_some(self.name.as_str()));
        }
        if fault {
            self.state = GroupState::Fault;
            for m in members.iter_mut() {
                m.set_sync_hold(true);
            }
            return;
        }
        if self.state == GroupState::Fault {
            self.state = GroupState::Backup;
        }
        // Rule 2.
        if self.state == GroupState::Master {
            if members.iter().any(|m| m.state() != State::Master) {
                for m in members.iter_mut() {
                    m.force_backup(now, &self.name);
                }
                self.state = GroupState::Backup;
            }
        } else {
            // Rule 3.
            let all_want = members
                .iter()
                .all(|m| m.state() == State::Master || m.wants_master());
            if all_want {
                for m in members.iter_mut() {
                    m.force_master(now, &self.name);
                }
                self.state = GroupState::Master;
            } else {
                for m in members.iter_mut() {
                    m.force_backup(now, &self.name);
                }
            }
        }
        let hold = self.state != GroupState::Master;
        for m in members.iter_mut() {
            m.set_sync_hold(hold);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 77, 0, last))
    }
    fn vip() -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 77, 0, 100))
    }
    fn params(version: Version, priority: u8, last: u8) -> InstanceParams {
        InstanceParams::new("VI_1", version, 51, priority, ip(last), vec![vip()])
    }
    fn advert(version: Version, priority: u8, interval_cs: u16) -> Advert {
        Advert {
            version,
            vrid: 51,
            priority,
            interval_cs,
            addrs: vec![vip()],
            auth: None,
        }
    }
    fn actions(i: &mut Instance) -> Vec<Action> {
        std::iter::from_fn(|| i.poll_action()).collect()
    }
    fn events(i: &mut Instance) -> Vec<EventKind> {
        std::iter::from_fn(|| i.poll_event())
            .map(|e| e.kind)
            .collect()
    }
    fn sent_priorities(a: &[Action]) -> Vec<u8> {
        a.iter()
            .filter_map(|a| match a {
                Action::SendAdvert(ad) => Some(ad.priority),
                _ => None,
            })
            .collect()
    }
    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }
    /// A Backup at priority `prio` (v3, 1 s) that has heard a master at 200 from .9.
    fn backup(prio: u8, t0: Instant) -> Instance {
        let mut b = Instance::new(params(Version::V3, prio, 70), t0);
        b.handle_advert(t0, ip(9), &advert(Version::V3, 200, 100));
        actions(&mut b);
        events(&mut b);
        b
    }
    /// A Master at priority `prio` (v3, 1 s) with address .71.
    fn master(prio: u8, t0: Instant) -> Instance {
        let mut m = Instance::new(params(Version::V3, prio, 71), t0);
        let t = m.next_timeout().unwrap();
        m.handle_timeout(t);
        assert_eq!(m.state(), State::Master);
        actions(&mut m);
        events(&mut m);
        m
    }

    #[test]
    fn rfc9568_6_1_skew_time_and_master_down_interval_v3() {
        let i = Instance::new(params(Version::V3, 100, 70), Instant::now());
        // ((256 - 100) * 100 cs) / 256 = 60.9375 cs
        assert_eq!(i.skew_time(), Duration::from_micros(609_375));
        assert_eq!(i.master_down_interval(), Duration::from_micros(3_609_375));
    }

    #[test]
    fn rfc3768_6_1_skew_time_is_in_seconds_whatever_the_interval_v2() {
        let mut p = params(Version::V2, 100, 70);
        p.advert_interval = Duration::from_secs(2);
        let i = Instance::new(p, Instant::now());
        assert_eq!(i.skew_time(), Duration::from_micros(609_375));
        assert_eq!(i.master_down_interval(), Duration::from_micros(6_609_375));
    }

    #[test]
    fn rfc9568_6_4_1_owner_goes_straight_to_master() {
        let t0 = Instant::now();
        let mut i = Instance::new(params(Version::V3, 255, 71), t0);
        assert_eq!(i.state(), State::Master);
        let a = actions(&mut i);
        assert_eq!(a[0], Action::AddVips);
        assert_eq!(sent_priorities(&a), vec![255]);
        assert!(a.contains(&Action::SendGratuitous { count: 5 }));
        assert_eq!(i.next_timeout(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(
            events(&mut i),
            vec![EventKind::Transition {
                from: State::Init,
                to: State::Master,
                reason: Reason::AddressOwner
            }]
        );
        assert_eq!(i.counters().became_master, 1);
    }

    #[test]
    fn rfc9568_6_4_1_non_owner_starts_backup_with_master_down_timer() {
        let t0 = Instant::now();
        let mut i = Instance::new(params(Version::V3, 100, 70), t0);
        assert_eq!(i.state(), State::Backup);
        // Stale VIPs from a killed process are cleared before Backup.
        assert_eq!(actions(&mut i), vec![Action::RemoveVips]);
        assert_eq!(i.next_timeout(), Some(t0 + i.master_down_interval()));
    }

    #[test]
    fn keepalived_state_master_hint_shortens_first_down_timer_only() {
        let t0 = Instant::now();
        let mut p = params(Version::V3, 100, 70);
        p.initial_state = InitialState::Master;
        let i = Instance::new(p, t0);
        assert_eq!(i.state(), State::Backup);
        assert_eq!(
            i.next_timeout(),
            Some(t0 + Duration::from_secs(1) + i.skew_time())
        );
    }

    #[test]
    fn rfc9568_6_4_2_master_down_timer_fires_to_master() {
        let t0 = Instant::now();
        let mut i = Instance::new(params(Version::V3, 100, 70), t0);
        actions(&mut i);
        events(&mut i);
        let t = i.next_timeout().unwrap();
        i.handle_timeout(t - ms(1));
        assert_eq!(i.state(), State::Backup);
        i.handle_timeout(t);
        assert_eq!(i.state(), State::Master);
        let a = actions(&mut i);
        assert_eq!(a[0], Action::AddVips);
        assert_eq!(sent_priorities(&a), vec![100]);
        assert_eq!(i.next_timeout(), Some(t + Duration::from_secs(1)));
        assert_eq!(
            events(&mut i),
            vec![EventKind::Transition {
                from: State::Backup,
                to: State::Master,
                reason: Reason::MasterDownTimer
            }]
        );
    }

    #[test]
    fn rfc9568_6_4_2_backup_priority_zero_sets_skew_time() {
        let t0 = Instant::now();
        let mut b = backup(100, t0);
        let t1 = t0 + ms(500);
        b.handle_advert(t1, ip(9), &advert(Version::V3, 0, 100));
        assert_eq!(b.next_timeout(), Some(t1 + b.skew_time()));
        assert_eq!(b.counters().priority_zero_in, 1);
        b.handle_timeout(t1 + b.skew_time());
        assert_eq!(b.state(), State::Master);
        assert!(events(&mut b).contains(&EventKind::Transition {
            from: State::Backup,
            to: State::Master,
            reason: Reason::PriorityZeroHeard
        }));
    }

    #[test]
    fn rfc9568_6_4_2_backup_learns_master_adver_interval() {
        let t0 = Instant::now();
        let mut b = backup(100, t0);
        b.handle_advert(t0, ip(9), &advert(Version::V3, 200, 50));
        assert_eq!(b.master_adver_interval(), ms(500));
        // 3 * 0.5 s + (156 * 0.5 s) / 256
        assert_eq!(
            b.master_down_interval(),
            Duration::from_nanos(1_804_687_500)
        );
        assert_eq!(b.next_timeout(), Some(t0 + b.master_down_interval()));
        assert_eq!(b.master_heard().unwrap().addr, ip(9));
    }

    #[test]
    fn rfc3768_6_4_2_backup_keeps_its_own_interval_and_drops_a_mismatch() {
        let t0 = Instant::now();
        let mut b = Instance::new(params(Version::V2, 100, 70), t0);
        let t1 = t0 + ms(100);
        b.handle_advert(t1, ip(9), &advert(Version::V2, 200, 200));
        assert_eq!(b.counters().dropped.interval_mismatch, 1);
        assert_eq!(b.next_timeout(), Some(t0 + b.master_down_interval()));
        b.handle_advert(t1, ip(9), &advert(Version::V2, 200, 100));
        assert_eq!(b.next_timeout(), Some(t1 + b.master_down_interval()));
        assert_eq!(b.master_adver_interval(), Duration::from_secs(1));
    }

    #[test]
    fn rfc9568_6_4_2_preempt_discards_lower_priority_and_takes_over() {
        let t0 = Instant::now();
        let mut b = backup(150, t0);
        let deadline = b.next_timeout().unwrap();
        b.handle_advert(t0 + ms(900), ip(9), &advert(Version::V3, 100, 100));
        assert_eq!(b.next_timeout(), Some(deadline), "timer not reset");
        assert_eq!(b.counters().lower_priority_discarded, 1);
        b.handle_timeout(deadline);
        assert_eq!(b.state(), State::Master);
        assert!(events(&mut b).contains(&EventKind::Transition {
            from: State::Backup,
            to: State::Master,
            reason: Reason::Preempt
        }));
    }

    #[test]
    fn rfc9568_6_4_2_nopreempt_accepts_lower_priority() {
        let t0 = Instant::now();
        let mut p = params(Version::V3, 150, 70);
        p.preempt = false;
        let mut b = Instance::new(p, t0);
        let t1 = t0 + ms(900);
        b.handle_advert(t1, ip(9), &advert(Version::V3, 100, 100));
        assert_eq!(b.next_timeout(), Some(t1 + b.master_down_interval()));
        assert!(!b.preempts());
    }

    #[test]
    fn rfc9568_6_4_2_backup_accepts_equal_priority_without_address_tie_break() {
        let t0 = Instant::now();
        let mut b = backup(100, t0);
        let t1 = t0 + ms(900);
        // .9 is a lower address than our .70: still accepted in Backup.
        b.handle_advert(t1, ip(9), &advert(Version::V3, 100, 100));
        assert_eq!(b.next_timeout(), Some(t1 + b.master_down_interval()));
    }

    #[test]
    fn rfc9568_6_4_2_owner_always_preempts_even_with_nopreempt() {
        let mut p = params(Version::V3, 255, 70);
        p.preempt = false;
        let i = Instance::new(p, Instant::now());
        assert!(i.preempts());
    }

    #[test]
    fn keepalived_preempt_delay_accepts_lower_priority_for_the_delay() {
        let t0 = Instant::now();
        let mut p = params(Version::V3, 150, 70);
        p.preempt_delay = Duration::from_secs(2);
        let mut b = Instance::new(p, t0);
        let mut t = t0;
        for _ in 0..3 {
            t += Duration::from_secs(1);
            b.handle_advert(t, ip(9), &advert(Version::V3, 100, 100));
        }
        // First lower advert at t0+1 s starts the window; at t0+3 s it has elapsed.
        assert_eq!(b.counters().lower_priority_discarded, 1);
        let fire = t - Duration::from_secs(1) + b.master_down_interval();
        assert_eq!(b.next_timeout(), Some(fire));
        // A higher advert ends the window.
        b.handle_advert(t, ip(9), &advert(Version::V3, 200, 100));
        b.handle_advert(t + ms(10), ip(9), &advert(Version::V3, 100, 100));
        assert_eq!(b.counters().lower_priority_discarded, 1);
    }

    #[test]
    fn rfc9568_6_4_2_shutdown_in_backup_cancels_timer_to_init() {
        let t0 = Instant::now();
        let mut b = backup(100, t0);
        b.shutdown(t0);
        assert_eq!(b.state(), State::Init);
        assert_eq!(b.next_timeout(), None);
        assert!(actions(&mut b).is_empty());
        // Init ignores adverts.
        b.handle_advert(t0, ip(9), &advert(Version::V3, 0, 100));
        assert_eq!(b.next_timeout(), None);
        b.startup(t0).unwrap();
        assert_eq!(b.state(), State::Backup);
    }

    #[test]
    fn rfc9568_6_4_3_adver_timer_sends_advert_and_rearms() {
        let t0 = Instant::now();
        let mut m = master(100, t0);
        let t = m.next_timeout().unwrap();
        m.handle_timeout(t);
        assert_eq!(sent_priorities(&actions(&mut m)), vec![100]);
        assert_eq!(m.next_timeout(), Some(t + Duration::from_secs(1)));
    }

    #[test]
    fn rfc9568_6_4_3_master_priority_zero_sends_advert_at_once() {
        let t0 = Instant::now();
        let mut m = master(100, t0);
        let t1 = t0 + Duration::from_secs(5);
        m.handle_advert(t1, ip(9), &advert(Version::V3, 0, 100));
        assert_eq!(sent_priorities(&actions(&mut m)), vec![100]);
        assert_eq!(m.state(), State::Master);
        assert_eq!(m.next_timeout(), Some(t1 + Duration::from_secs(1)));
    }

    #[test]
    fn rfc9568_6_4_3_higher_priority_steps_master_down() {
        let t0 = Instant::now();
        let mut m = master(100, t0);
        let t1 = t0 + Duration::from_secs(5);
        m.handle_advert(t1, ip(9), &advert(Version::V3, 101, 50));
        assert_eq!(m.state(), State::Backup);
        assert_eq!(actions(&mut m), vec![Action::RemoveVips]);
        assert_eq!(m.master_adver_interval(), ms(500));
        assert_eq!(m.next_timeout(), Some(t1 + m.master_down_interval()));
        assert_eq!(
            events(&mut m),
            vec![EventKind::Transition {
                from: State::Master,
                to: State::Backup,
                reason: Reason::HigherPriorityHeard {
                    src: ip(9),
                    priority: 101
                }
            }]
        );
    }

    #[test]
    fn rfc9568_6_4_3_equal_priority_higher_address_wins() {
        let t0 = Instant::now();
        let mut m = master(100, t0);
        let t1 = t0 + Duration::from_secs(5);
        m.handle_advert(t1, ip(200), &advert(Version::V3, 100, 100));
        assert_eq!(m.state(), State::Backup);
        // Recorded as a split brain too (same priority).
        assert_eq!(m.counters().split_brain, 1);
    }

    #[test]
    fn rfc9568_6_4_3_equal_priority_lower_address_is_discarded_and_answered() {
        let t0 = Instant::now();
        let mut m = master(100, t0);
        let t1 = t0 + Duration::from_secs(5);
        m.handle_advert(t1, ip(9), &advert(Version::V3, 100, 100));
        assert_eq!(m.state(), State::Master);
        let a = actions(&mut m);
        assert_eq!(sent_priorities(&a), vec![100]);
        assert!(a.contains(&Action::SendGratuitous { count: 5 }));
    }

    #[test]
    fn rfc9568_6_4_3_lower_priority_discarded_with_advert_and_split_brain_event() {
        let t0 = Instant::now();
        let mut m = master(100, t0);
        let t1 = t0 + Duration::from_secs(5);
        m.handle_advert(t1, ip(9), &advert(Version::V3, 50, 100));
        assert_eq!(m.state(), State::Master);
        assert_eq!(sent_priorities(&actions(&mut m)), vec![100]);
        assert_eq!(
            events(&mut m),
            vec![EventKind::SplitBrain {
                ours: ip(71),
                theirs: ip(9),
                our_priority: 100,
                their_priority: 50
            }]
        );
        // Not repeated for the same peer within four intervals.
        m.handle_advert(t1 + ms(10), ip(9), &advert(Version::V3, 50, 100));
        assert!(events(&mut m).is_empty());
    }

    #[test]
    fn split_brain_not_reported_during_the_takeover_race() {
        let t0 = Instant::now();
        let mut b = backup(100, t0);
        let t = b.next_timeout().unwrap();
        b.handle_timeout(t);
        events(&mut b);
        b.handle_advert(t + ms(5), ip(9), &advert(Version::V3, 50, 100));
        assert!(events(&mut b).is_empty());
    }

    #[test]
    fn rfc9568_6_4_3_shutdown_sends_priority_zero_and_releases() {
        let t0 = Instant::now();
        let mut m = master(100, t0);
        m.shutdown(t0 + ms(10));
        let a = actions(&mut m);
        assert_eq!(sent_priorities(&a), vec![0]);
        assert_eq!(a.last(), Some(&Action::RemoveVips));
        assert_eq!(m.state(), State::Init);
        assert_eq!(m.next_timeout(), None);
        assert_eq!(m.counters().priority_zero_out, 1);
    }

    #[test]
    fn rfc9568_7_1_zero_interval_is_discarded() {
        let t0 = Instant::now();
        let mut b = backup(100, t0);
        let before = b.next_timeout();
        b.handle_advert(t0 + ms(10), ip(9), &advert(Version::V3, 200, 0));
        assert_eq!(b.next_timeout(), before);
        assert_eq!(b.counters().dropped.invalid_interval, 1);
    }

    #[test]
    fn rfc3768_auth_pass_mismatch_is_dropped() {
        let t0 = Instant::now();
        let mut p = params(Version::V2, 100, 70);
        p.auth = Some(*b"s3cr3t\0\0");
        let mut b = Instance::new(p, t0);
        let before = b.next_timeout();
        let mut a = advert(Version::V2, 200, 100);
        b.handle_advert(t0 + ms(10), ip(9), &a);
        a.auth = Some(*b"wrong\0\0\0");
        b.handle_advert(t0 + ms(10), ip(9), &a);
        assert_eq!(b.counters().dropped.auth_mismatch, 2);
        assert_eq!(b.next_timeout(), before);
        a.auth = Some(*b"s3cr3t\0\0");
        b.handle_advert(t0 + ms(10), ip(9), &a);
        assert_ne!(b.next_timeout(), before);
    }

    #[test]
    fn address_list_mismatch_is_counted_not_dropped() {
        let t0 = Instant::now();
        let mut b = backup(100, t0);
        let mut a = advert(Version::V3, 200, 100);
        a.addrs = vec![ip(101)];
        let t1 = t0 + ms(10);
        b.handle_advert(t1, ip(9), &a);
        assert_eq!(b.counters().address_list_mismatch, 1);
        assert_eq!(b.next_timeout(), Some(t1 + b.master_down_interval()));
    }

    #[test]
    fn skip_check_adv_addr_does_not_compare_address_lists() {
        let t0 = Instant::now();
        let mut p = params(Version::V3, 100, 70);
        p.check_adv_addrs = false;
        let mut b = Instance::new(p, t0);
        let mut a = advert(Version::V3, 200, 100);
        a.addrs = vec![ip(101)];
        let t1 = t0 + ms(10);
        b.handle_advert(t1, ip(9), &a);
        assert_eq!(b.counters().address_list_mismatch, 0);
        assert_eq!(b.counters().adverts_in, 1);
    }

    #[test]
    fn own_version_and_vrid_mismatches_are_dropped() {
        let t0 = Instant::now();
        let mut b = backup(100, t0);
        b.handle_advert(t0, ip(70), &advert(Version::V3, 200, 100));
        b.handle_advert(t0, ip(9), &advert(Version::V2, 200, 100));
        let mut a = advert(Version::V3, 200, 100);
        a.vrid = 52;
        b.handle_advert(t0, ip(9), &a);
        let d = b.counters().dropped;
        assert_eq!(
            (d.own_advert, d.version_mismatch, d.vrid_mismatch),
            (1, 1, 1)
        );
        assert_eq!(b.counters().adverts_in, 4);
    }

    #[test]
    fn keepalived_tracker_weights_clamp_to_1_254() {
        let t0 = Instant::now();
        let mut i = Instance::new(params(Version::V3, 100, 70), t0);
        i.set_tracker(t0, "up_plus", 100, true);
        i.set_tracker(t0, "up_plus2", 100, true);
        assert_eq!(i.effective_priority(), 254);
        i.set_tracker(t0, "up_plus", 100, false); // positive weight counts only while up
        assert_eq!(i.effective_priority(), 200);
        i.set_tracker(t0, "down_minus", -250, false);
        assert_eq!(i.effective_priority(), 1);
        i.set_tracker(t0, "down_minus", -250, true); // negative weight counts only while down
        assert_eq!(i.effective_priority(), 200);
        let ev = events(&mut i);
        assert!(ev.contains(&EventKind::PriorityChanged { from: 200, to: 254 }));
        assert!(ev.contains(&EventKind::PriorityChanged { from: 200, to: 1 }));
    }

    #[test]
    fn keepalived_owner_priority_is_not_changed_by_weights() {
        let t0 = Instant::now();
        let mut i = Instance::new(params(Version::V3, 255, 71), t0);
        i.set_tracker(t0, "s", -50, false);
        assert_eq!(i.effective_priority(), 255);
        assert_eq!(i.state(), State::Master);
    }

    #[test]
    fn keepalived_weight_zero_tracker_down_is_fault_and_up_recovers() {
        let t0 = Instant::now();
        let mut m = master(100, t0);
        let t1 = t0 + ms(100);
        m.set_tracker(t1, "eth1", 0, false);
        assert_eq!(m.state(), State::Fault);
        let a = actions(&mut m);
        assert_eq!(sent_priorities(&a), vec![0]);
        assert_eq!(a.last(), Some(&Action::RemoveVips));
        assert_eq!(m.next_timeout(), None);
        // Adverts are ignored in Fault.
        m.handle_advert(t1, ip(9), &advert(Version::V3, 0, 100));
        assert!(actions(&mut m).is_empty());
        m.set_tracker(t1, "eth2", 0, false);
        m.set_tracker(t1, "eth1", 0, true);
        assert_eq!(m.state(), State::Fault, "eth2 still down");
        let t2 = t1 + ms(100);
        m.set_tracker(t2, "eth2", 0, true);
        assert_eq!(m.state(), State::Backup);
        assert_eq!(m.next_timeout(), Some(t2 + m.master_down_interval()));
        let ev = events(&mut m);
        assert_eq!(
            ev[0],
            EventKind::Transition {
                from: State::Master,
                to: State::Fault,
                reason: Reason::TrackerFault("eth1".into())
            }
        );
        assert_eq!(
            ev.last().unwrap(),
            &EventKind::Transition {
                from: State::Fault,
                to: State::Backup,
                reason: Reason::TrackersRecovered
            }
        );
    }

    #[test]
    fn operator_priority_override_replaces_base_priority() {
        let t0 = Instant::now();
        let mut i = Instance::new(params(Version::V3, 100, 70), t0);
        i.set_tracker(t0, "s", 10, true);
        i.set_priority_override(t0, Some(50)).unwrap();
        assert_eq!(i.effective_priority(), 60);
        assert_eq!(
            i.set_priority_override(t0, Some(255)),
            Err(OperatorError::InvalidPriority)
        );
        i.set_priority_override(t0, None).unwrap();
        assert_eq!(i.effective_priority(), 110);
    }

    #[test]
    fn garp_sets_after_master_delay_and_refresh() {
        let t0 = Instant::now();
        let mut p = params(Version::V3, 255, 71);
        p.garp.master_delay = Duration::from_secs(2);
        p.garp.master_repeat = 3;
        p.garp.master_refresh = Some(Duration::from_secs(10));
        p.garp.master_refresh_repeat = 2;
        let mut m = Instance::new(p, t0);
        assert!(actions(&mut m).contains(&Action::SendGratuitous { count: 3 }));
        let mut garps = vec![];
        let mut t = t0;
        while t < t0 + Duration::from_secs(21) {
            t = m.next_timeout().unwrap();
            m.handle_timeout(t);
            for a in actions(&mut m) {
                if let Action::SendGratuitous { count } = a {
                    garps.push(((t - t0).as_secs(), count));
                }
            }
        }
        assert_eq!(garps, vec![(2, 3), (10, 2), (20, 2)]);
    }

    #[test]
    fn handover_keeps_vips_until_new_master_heard() {
        let t0 = Instant::now();
        let mut m = master(200, t0);
        let t1 = t0 + Duration::from_secs(3);
        m.handover(t1).unwrap();
        assert_eq!(sent_priorities(&actions(&mut m)), vec![0]);
        assert_eq!(m.handover(t1), Err(OperatorError::AlreadyHandingOver));
        // The remaining two priority-0 adverts, 20 ms apart; no normal advert.
        let mut sent = vec![];
        for _ in 0..2 {
            let t = m.next_timeout().unwrap();
            m.handle_timeout(t);
            sent.extend(sent_priorities(&actions(&mut m)));
        }
        assert_eq!(sent, vec![0, 0]);
        assert_eq!(m.state(), State::Master);
        // A lower-priority backup takes over: we do not push it back, we release.
        let t2 = t1 + ms(700);
        m.handle_advert(t2, ip(9), &advert(Version::V3, 100, 100));
        assert_eq!(m.state(), State::Backup);
        assert_eq!(actions(&mut m), vec![Action::RemoveVips]);
        assert!(m.handover_inhibited());
        let ev = events(&mut m);
        assert!(ev.contains(&EventKind::HandoverStarted));
        assert!(ev.contains(&EventKind::Transition {
            from: State::Master,
            to: State::Backup,
            reason: Reason::OperatorHandover { new_master: ip(9) }
        }));
        assert_eq!(m.counters().split_brain, 0);
        let c = m.counters();
        assert_eq!((c.became_master, c.released_master, c.handovers), (1, 1, 1));
    }

    #[test]
    fn handover_with_a_grace_period_keeps_the_vips_for_it() {
        let t0 = Instant::now();
        let mut p = params(Version::V3, 200, 71);
        p.handover.keep_vips = Duration::from_secs(2);
        let mut m = Instance::new(p, t0);
        let t = m.next_timeout().unwrap();
        m.handle_timeout(t);
        actions(&mut m);
        let t1 = t0 + Duration::from_secs(3);
        m.handover(t1).unwrap();
        actions(&mut m);
        m.handle_advert(t1 + ms(700), ip(9), &advert(Version::V3, 100, 100));
        assert_eq!(m.state(), State::Backup);
        assert_eq!(
            actions(&mut m),
            vec![Action::KeepVipsFor(Duration::from_secs(2))]
        );
        // Any other way out of Master still releases at once.
        let mut m = master(200, t0);
        m.shutdown(t1);
        assert_eq!(actions(&mut m).last(), Some(&Action::RemoveVips));
    }

    #[test]
    fn handover_inhibit_keeps_old_master_backup_until_cleared_or_new_master_gone() {
        let t0 = Instant::now();
        let mut m = master(200, t0);
        m.handover(t0).unwrap();
        let mut t = t0 + ms(700);
        m.handle_advert(t, ip(9), &advert(Version::V3, 100, 100));
        assert!(!m.preempts());
        for _ in 0..10 {
            t += Duration::from_secs(1);
            m.handle_advert(t, ip(9), &advert(Version::V3, 100, 100));
            m.handle_timeout(t);
        }
        assert_eq!(m.state(), State::Backup, "no preempt back");
        assert_eq!(m.counters().lower_priority_discarded, 0);
        // The new master disappears: we take over again and the inhibit ends.
        let fire = m.next_timeout().unwrap();
        m.handle_timeout(fire);
        assert_eq!(m.state(), State::Master);
        assert!(!m.handover_inhibited());
        // Or the operator clears it.
        let mut m = master(200, t0);
        m.handover(t0).unwrap();
        m.handle_advert(t0 + ms(700), ip(9), &advert(Version::V3, 100, 100));
        m.clear_handover_inhibit(t0 + ms(800));
        assert!(m.preempts());
        // Cleared while the hand-over is still under way (found by the fault campaign: the
        // backup was slow to take over): it completes and leaves no inhibit.
        let mut m = master(200, t0);
        m.handover(t0).unwrap();
        m.clear_handover_inhibit(t0 + ms(100));
        m.handle_advert(t0 + ms(700), ip(9), &advert(Version::V3, 100, 100));
        assert_eq!(m.state(), State::Backup, "the hand-over completes");
        assert!(!m.handover_inhibited());
        assert!(m.preempts());
    }

    #[test]
    fn handover_without_backup_resumes_and_reports() {
        let t0 = Instant::now();
        let mut m = master(200, t0);
        m.handover(t0).unwrap();
        actions(&mut m);
        let mut t = t0;
        while m.is_handing_over() {
            t = m.next_timeout().unwrap();
            m.handle_timeout(t);
        }
        assert_eq!(t, t0 + ms(4500));
        assert_eq!(m.state(), State::Master);
        assert_eq!(sent_priorities(&actions(&mut m)), vec![0, 0, 200]);
        assert!(events(&mut m).contains(&EventKind::HandoverNoTakeover));
        assert_eq!(m.next_timeout(), Some(t + Duration::from_secs(1)));
    }

    #[test]
    fn handover_ignores_adverts_within_the_guard() {
        let t0 = Instant::now();
        let mut m = master(200, t0);
        m.handover(t0).unwrap();
        // A former master's advert still in flight.
        m.handle_advert(t0 + ms(5), ip(9), &advert(Version::V3, 150, 100));
        assert_eq!(m.state(), State::Master);
        m.handle_advert(t0 + ms(20), ip(9), &advert(Version::V3, 150, 100));
        assert_eq!(m.state(), State::Backup);
    }

    #[test]
    fn handover_ignores_priority_zero_and_refuses_outside_master() {
        let t0 = Instant::now();
        let mut b = backup(100, t0);
        assert_eq!(b.handover(t0), Err(OperatorError::NotMaster(State::Backup)));
        let mut m = master(200, t0);
        m.handover(t0).unwrap();
        m.handle_advert(t0 + ms(5), ip(9), &advert(Version::V3, 0, 100));
        assert_eq!(m.state(), State::Master);
    }

    #[test]
    fn params_validate() {
        let mut p = params(Version::V2, 100, 70);
        assert_eq!(p.validate(), Ok(()));
        p.advert_interval = ms(1500);
        assert!(matches!(p.validate(), Err(ParamError::Interval(_))));
        let mut p = params(Version::V3, 100, 70);
        p.advert_interval = ms(1500);
        assert_eq!(p.validate(), Ok(()));
        assert_eq!(p.wire_interval_cs(), 150);
        p.auth = Some([0; 8]);
        assert_eq!(p.validate(), Err(ParamError::AuthWithV3));
        let mut p = params(Version::V3, 0, 70);
        assert_eq!(p.validate(), Err(ParamError::Priority));
        p.priority = 1;
        p.vips.push("fd77::100".parse().unwrap());
        assert_eq!(p.validate(), Err(ParamError::MixedFamilies));
    }

    #[test]
    fn events_display() {
        let e = EventKind::Transition {
            from: State::Backup,
            to: State::Master,
            reason: Reason::HigherPriorityHeard {
                src: ip(9),
                priority: 150,
            },
        };
        assert_eq!(
            e.to_string(),
            "BACKUP -> MASTER: heard higher priority 150 from 10.77.0.9"
        );
        assert_eq!(
            EventKind::HandoverNoTakeover.to_string(),
            "hand-over: no backup took over, resuming as master"
        );
    }

    /// Two machines, each with a sync group of two instances (VRID 1 and 2); adverts are
    /// delivered at once between the instances of the same VRID.
    struct Pair {
        nodes: [[Instance; 2]; 2],
        groups: [SyncGroup; 2],
    }

    impl Pair {
        fn new(t0: Instant) -> Pair {
            let mk = |node: usize, vrid: u8| {
                let mut p = params(
                    Version::V3,
                    if node == 0 { 200 } else { 100 },
                    71 - node as u8,
                );
                p.vrid = vrid;
                p.name = format!("n{node}v{vrid}");
                Instance::new(p, t0)
            };
            let mut pair = Pair {
                nodes: [[mk(0, 1), mk(0, 2)], [mk(1, 1), mk(1, 2)]],
                groups: [SyncGroup::new("g0"), SyncGroup::new("g1")],
            };
            pair.settle(t0);
            pair
        }
        fn settle(&mut self, now: Instant) {
            for _ in 0..10 {
                for n in 0..2 {
                    let [a, b] = &mut self.nodes[n];
                    self.groups[n].update(now, &mut [a, b]);
                }
                let mut any = false;
                for n in 0..2 {
                    for v in 0..2 {
                        while let Some(a) = self.nodes[n][v].poll_action() {
                            if let Action::SendAdvert(ad) = a {
                                any = true;
                                let src = self.nodes[n][v].params().primary_addr;
                                self.nodes[1 - n][v].handle_advert(now, src, &ad);
                            }
                        }
                    }
                }
                if !any {
                    return;
                }
            }
        }
        fn run_until(&mut self, end: Instant) {
            loop {
                let next = self
                    .nodes
                    .iter()
                    .flatten()
                    .filter_map(|i| i.next_timeout())
                    .min();
                match next {
                    Some(t) if t <= end => {
                        for i in self.nodes.iter_mut().flatten() {
                            i.handle_timeout(t);
                        }
                        self.settle(t);
                    }
                    _ => return,
                }
            }
        }
        fn states(&self, n: usize) -> [State; 2] {
            [self.nodes[n][0].state(), self.nodes[n][1].state()]
        }
    }

    #[test]
    fn sync_group_members_become_master_together_and_fault_together() {
        let t0 = Instant::now();
        let mut p = Pair::new(t0);
        p.run_until(t0 + Duration::from_secs(10));
        assert_eq!(p.states(0), [State::Master; 2]);
        assert_eq!(p.states(1), [State::Backup; 2]);
        assert_eq!(p.groups[0].state(), GroupState::Master);
        // One member of node 0 faults: both go to Fault, node 1 takes both.
        let t1 = t0 + ms(10_500);
        p.nodes[0][1].set_tracker(t1, "eth1", 0, false);
        p.settle(t1);
        assert_eq!(p.states(0), [State::Fault; 2]);
        assert!(matches!(
            std::iter::from_fn(|| p.nodes[0][0].poll_event())
                .last()
                .unwrap()
                .kind,
            EventKind::Transition {
                to: State::Fault,
                reason: Reason::SyncGroupFault { .. },
                ..
            }
        ));
        p.run_until(t1 + Duration::from_secs(2));
        assert_eq!(p.states(1), [State::Master; 2]);
        // Recovery: node 0 preempts back, both members together.
        let t2 = t1 + Duration::from_secs(3);
        p.nodes[0][1].set_tracker(t2, "eth1", 0, true);
        p.settle(t2);
        assert_eq!(p.states(0), [State::Backup; 2]);
        p.run_until(t2 + Duration::from_secs(10));
        assert_eq!(p.states(0), [State::Master; 2]);
        assert_eq!(p.states(1), [State::Backup; 2]);
    }

    #[test]
    fn sync_group_one_member_stepping_down_takes_the_other() {
        let t0 = Instant::now();
        let mut p = Pair::new(t0);
        p.run_until(t0 + Duration::from_secs(10));
        assert_eq!(p.states(0), [State::Master; 2]);
        // A higher-priority stranger on VRID 1 only.
        let t1 = t0 + ms(10_100);
        let mut a = advert(Version::V3, 250, 100);
        a.vrid = 1;
        p.nodes[0][0].handle_advert(t1, ip(250), &a);
        p.settle(t1);
        assert_eq!(p.states(0), [State::Backup; 2]);
    }

    #[test]
    fn sync_group_member_waits_for_the_others_before_master() {
        let t0 = Instant::now();
        let mut p = Pair::new(t0);
        p.run_until(t0 + Duration::from_secs(10));
        // Node 1 alone: member 0 stops hearing node 0 (we feed only member 1).
        let n1 = &mut p.nodes[1];
        let mut t = t0 + Duration::from_secs(10);
        for _ in 0..10 {
            t += ms(500);
            let mut a = advert(Version::V3, 200, 100);
            a.vrid = 2;
            n1[1].handle_advert(t, ip(71), &a);
            for i in n1.iter_mut() {
                i.handle_timeout(t);
            }
            let [x, y] = n1;
            p.groups[1].update(t, &mut [x, y]);
        }
        assert!(p.nodes[1][0].wants_master());
        assert_eq!(p.states(1), [State::Backup; 2]);
    }

    #[test]
    fn a_reload_applies_in_place_without_a_transition() {
        let t0 = Instant::now();
        let mut m = master(150, t0);
        let mut p = params(Version::V3, 140, 71);
        p.vips.push(IpAddr::V4(Ipv4Addr::new(10, 77, 0, 101)));
        p.advert_interval = ms(500);
        m.reconfigure(t0 + ms(100), p).unwrap();
        assert_eq!(m.state(), State::Master);
        let ev = events(&mut m);
        assert_eq!(ev, [EventKind::PriorityChanged { from: 150, to: 140 }]);
        // The new settings go out at once, not at the old advert's time.
        m.handle_timeout(t0 + ms(100));
        let sent: Vec<Advert> = actions(&mut m)
            .into_iter()
            .filter_map(|a| match a {
                Action::SendAdvert(ad) => Some(ad),
                _ => None,
            })
            .collect();
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!((sent[0].priority, sent[0].interval_cs), (140, 50));
        assert_eq!(sent[0].addrs.len(), 2);
        assert_eq!(m.advert_interval(), ms(500));
        let mut other = params(Version::V3, 140, 71);
        other.vrid = 52;
        assert_eq!(
            m.reconfigure(t0 + ms(200), other),
            Err(ParamError::Identity)
        );
        // A backup whose priority rises stays backup until the master's next advert.
        let mut b = backup(100, t0);
        b.reconfigure(t0 + ms(10), params(Version::V3, 120, 70))
            .unwrap();
        assert_eq!(b.state(), State::Backup);
        assert_eq!(b.effective_priority(), 120);
    }
}
