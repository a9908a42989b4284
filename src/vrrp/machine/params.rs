//! What an instance is made of: its parameters (RFC 9568's, keepalived's additions),
//! gratuitous ARP timings and the graceful hand-over's, and their validation.

use super::*;

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
