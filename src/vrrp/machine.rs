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

mod events;
mod operator;

/// Late packets in a BFD session's last second that make it a lossy path (`master_silent`):
/// one or two are a busy host's scheduling, three are loss.
pub const LOSSY_GAPS: u32 = 3;
mod params;
mod receive;
mod sync_group;
pub use events::*;
pub use params::*;
pub use sync_group::*;

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
    /// A BFD session to the master went down by silence (`master_silent`).
    MasterSilent(IpAddr),
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
    /// The Master_Down deadline and its cause that [`Instance::master_silent`] brought
    /// forward, put back by [`Instance::master_heard_again`].
    before_silence: Option<(Instant, DownCause)>,
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
            before_silence: None,
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
                            DownCause::MasterSilent(peer) => Reason::MasterSilent { peer },
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
}

/// Same set of addresses, ignoring order.
fn same_addrs(a: &[IpAddr], b: &[IpAddr]) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.contains(x)) && b.iter().all(|x| a.contains(x))
}

#[cfg(test)]
mod takeover_tests;
#[cfg(test)]
mod tests;
