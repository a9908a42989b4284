//! The one view model: what the console renders, what `status --json` prints and what the
//! control socket sends. Plain data with serde; times are Unix milliseconds so that a console
//! in another process can compute ages with its own clock. Field names are a stable interface:
//! add fields, never rename them (bump [`SCHEMA`] if a meaning changes).

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// Version of this schema.
mod bgp;
mod kinds;
pub use bgp::{BgpRouteView, BgpSessionView, BgpView};
pub use kinds::{EventKind, Method, RealHealth, VrrpState};

pub const SCHEMA: u32 = 1;

/// Everything the director knows at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Snapshot {
    pub schema: u32,
    /// When the snapshot was taken.
    pub taken_at_ms: u64,
    pub host: HostView,
    pub vrrp: Vec<VrrpView>,
    pub ipvs: IpvsView,
    /// The most recent events, oldest first (the daemon keeps a bounded ring).
    pub events: Vec<EventView>,
    /// VRRP packets dropped before any instance saw them, by reason (ttl, checksum, length,
    /// ...), over the daemon's life.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vrrp_packets_dropped: BTreeMap<String, u64>,
    /// Each vrrp_script's state: up, down, or unknown (None) before enough results.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vrrp_scripts: Vec<ScriptView>,
    /// The doctor's last report (`lvsdeck doctor`'s checks, run by the daemon); absent until
    /// its first run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doctor: Option<crate::doctor::Report>,
    /// The BFD sessions (`bfd_instance`), absent when none is configured.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bfd: Vec<BfdView>,
    /// BFD packets dropped before any session saw them, by reason.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub bfd_packets_dropped: BTreeMap<String, u64>,
    /// BGP announcements (`[bgp]`), absent without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bgp: Option<BgpView>,
}

/// A BFD session (`bfd_instance`) as the console, `status --json` and the metrics show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BfdView {
    pub name: String,
    pub peer: IpAddr,
    pub local: Option<IpAddr>,
    pub state: String,
    pub remote_state: String,
    pub local_disc: u32,
    pub remote_disc: u32,
    /// Our configured intervals, microseconds.
    pub min_tx_us: u64,
    pub min_rx_us: u64,
    pub multiplier: u8,
    /// The peer's advertised intervals, microseconds.
    pub remote_min_tx_us: u64,
    pub remote_min_rx_us: u64,
    pub remote_multiplier: u8,
    /// What packets go out at and how long silence is allowed, now.
    pub tx_interval_us: u64,
    pub detection_us: Option<u64>,
    pub up_since_ms: Option<u64>,
    /// When and why the session last left Up.
    pub last_down_ms: Option<u64>,
    pub last_down_reason: Option<String>,
    pub sent: u64,
    pub received: u64,
    pub dropped: u64,
    pub flaps: u64,
    /// Why the session cannot run (its send socket failed), if it cannot.
    pub error: Option<String>,
}

/// The director itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct HostView {
    pub hostname: String,
    pub router_id: Option<String>,
    pub config_path: String,
    /// "daemon" (attached over the control socket) or "embedded" (engines in the console).
    pub mode: String,
    pub started_at_ms: u64,
    pub cpu_percent: f32,
    pub mem_used_bytes: u64,
    pub mem_total_bytes: u64,
    pub net_rx_bps: u64,
    pub net_tx_bps: u64,
    pub refreshed_at_ms: u64,
}

/// One VRRP instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct VrrpView {
    pub name: String,
    pub interface: String,
    pub vrid: u8,
    pub version: u8,
    pub state: VrrpState,
    pub effective_priority: u8,
    /// The configured priority.
    pub base_priority: u8,
    /// An operator's priority override, sticky until cleared.
    pub priority_override: Option<Override<u8>>,
    pub vips: Vec<String>,
    /// Whether this director holds the VIPs now.
    pub holds_vips: bool,
    /// The master last heard while Backup.
    pub master_heard: Option<MasterHeard>,
    pub handing_over: bool,
    pub adverts_in: u64,
    pub adverts_out: u64,
    pub priority_zero_in: u64,
    pub priority_zero_out: u64,
    pub became_master: u64,
    /// Transitions out of MASTER.
    #[serde(default)]
    pub released_master: u64,
    /// Graceful hand-overs started.
    #[serde(default)]
    pub handovers: u64,
    pub dropped: u64,
    /// `dropped` by reason: own_advert, vrid_mismatch, version_mismatch, interval_mismatch,
    /// invalid_interval, auth_mismatch.
    #[serde(default)]
    pub dropped_by: BTreeMap<String, u64>,
    /// Adverts whose address list differs from ours (counted, not dropped).
    #[serde(default)]
    pub address_list_mismatch: u64,
    /// What the priority tracks (`script:NAME`, `link:IFACE`, `file:NAME`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trackers: Vec<TrackerView>,
    pub split_brain: u64,
    /// VIPs put back on this master, or taken off this backup, after someone else changed
    /// them (`ip addr del` on the master, a VIP added by hand on a backup).
    #[serde(default)]
    pub vip_repairs: u64,
    pub last_transition: Option<Transition>,
    pub refreshed_at_ms: u64,
}

/// One thing an instance's priority tracks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TrackerView {
    pub name: String,
    pub up: bool,
    /// Added while up (positive) or taken while down (negative); 0: down means FAULT.
    pub weight: i32,
}

/// A vrrp_script, as the instances that track it see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ScriptView {
    pub name: String,
    pub up: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct MasterHeard {
    pub address: String,
    pub priority: u8,
    pub at_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Transition {
    pub from: VrrpState,
    pub to: VrrpState,
    pub reason: String,
    pub at_ms: u64,
}

/// A value an operator set, with who and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Override<T> {
    pub value: T,
    pub by: String,
    pub at_ms: u64,
}

/// The IPVS table as the kernel has it, with health and rates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct IpvsView {
    /// False when the kernel has no IPVS; `error` says why and what to do.
    pub available: bool,
    pub error: Option<String>,
    pub services: Vec<ServiceView>,
    pub refreshed_at_ms: u64,
    /// How often the daemon dumps the kernel's table now (0: not known): the IPVS values are
    /// up to this old by design, and only older ones are stale.
    #[serde(default)]
    pub refresh_interval_ms: u64,
    /// Changes made outside lvsdeck (ipvsadm) that the daemon put back.
    #[serde(default)]
    pub drift_repairs: u64,
    /// How long applying a set of changes to the kernel took.
    #[serde(default)]
    pub apply_latency: Histogram,
}

/// A histogram of durations with fixed bucket bounds ([`Histogram::BOUNDS_S`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// Observations at or under each bound (cumulative, as Prometheus counts them).
    pub buckets: Vec<u64>,
    pub count: u64,
    pub sum_s: f64,
}

impl Histogram {
    pub const BOUNDS_S: [f64; 12] = [
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    ];

    pub fn observe(&mut self, seconds: f64) {
        for (b, bound) in self.buckets.iter_mut().zip(Self::BOUNDS_S) {
            if seconds <= bound {
                *b += 1;
            }
        }
        self.count += 1;
        self.sum_s += seconds;
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: vec![0; Self::BOUNDS_S.len()],
            count: 0,
            sum_s: 0.0,
        }
    }
}

/// Counters of a service or real server since IPVS created it (the kernel's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Totals {
    pub conns: u64,
    pub in_packets: u64,
    pub out_packets: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
}

impl From<crate::ipvs::Stats> for Totals {
    fn from(s: crate::ipvs::Stats) -> Totals {
        Totals {
            conns: s.conns,
            in_packets: s.inpkts,
            out_packets: s.outpkts,
            in_bytes: s.inbytes,
            out_bytes: s.outbytes,
        }
    }
}

/// One virtual service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ServiceView {
    /// As ipvsadm prints it: "TCP  192.0.2.100:80", "FWM  7".
    pub key: String,
    pub protocol: String,
    pub address: String,
    pub scheduler: String,
    pub method: Method,
    pub persistence_s: Option<u32>,
    pub active_conns: u64,
    pub inactive_conns: u64,
    pub cps: f64,
    pub in_pps: f64,
    pub out_pps: f64,
    pub in_bps: f64,
    pub out_bps: f64,
    pub quorum_up: bool,
    pub sorry_active: bool,
    #[serde(default)]
    pub totals: Totals,
    pub reals: Vec<RealView>,
}

/// One real server of a service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RealView {
    pub address: String,
    pub port: u16,
    /// The weight in the kernel now (absent from the table: `in_table` false).
    pub weight: u32,
    pub configured_weight: u32,
    pub in_table: bool,
    pub health: RealHealth,
    pub last_check: Option<CheckResult>,
    pub active_conns: u64,
    pub inactive_conns: u64,
    pub cps: f64,
    pub in_bps: f64,
    pub out_bps: f64,
    /// Recent CPS samples, oldest first, for a sparkline.
    pub cps_history: Vec<f64>,
    /// An operator's drain (weight 0), sticky until undrained.
    pub drain: Option<Override<()>>,
    /// An operator's weight, sticky until cleared.
    pub weight_override: Option<Override<u32>>,
    #[serde(default)]
    pub totals: Totals,
    /// When its health last changed (up or down), if it has since the daemon started.
    #[serde(default)]
    pub health_changed_at_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct CheckResult {
    pub ok: bool,
    pub at_ms: u64,
    pub latency_ms: f64,
    /// What happened, e.g. "connected", "HTTP 503", "timeout after 3s".
    pub message: String,
}

/// One entry of the event log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct EventView {
    pub at_ms: u64,
    pub kind: EventKind,
    /// What it is about: an instance, "TCP 192.0.2.100:80 -> 192.0.2.11:80", ...
    pub subject: String,
    pub message: String,
}

impl RealView {
    /// Whether an operator drained it and it still has active connections.
    pub fn draining(&self) -> bool {
        self.drain.is_some() && self.active_conns > 0
    }
}

/// Milliseconds since the Unix epoch, now.
/// `address:port`, with brackets for IPv6; the address alone when the port is 0 (fwmark).
pub fn endpoint(address: &str, port: u16) -> String {
    let mut s = String::with_capacity(address.len() + 8);
    push_endpoint(&mut s, address, port);
    s
}

/// [`endpoint`] into a reusable buffer.
pub fn push_endpoint(s: &mut String, address: &str, port: u16) {
    if port == 0 {
        s.push_str(address);
    } else if address.contains(':') {
        let _ = std::fmt::Write::write_fmt(s, format_args!("[{address}]:{port}"));
    } else {
        let _ = std::fmt::Write::write_fmt(s, format_args!("{address}:{port}"));
    }
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
impl BfdView {
    /// An Up session to `peer` for tests: our 10 ms x 3, the peer's 50/40 ms x 3, two flaps.
    pub fn sample(name: &str, peer: &str, now_ms: u64) -> BfdView {
        BfdView {
            name: name.into(),
            peer: peer.parse().expect("an address"),
            local: None,
            state: "Up".into(),
            remote_state: "Up".into(),
            local_disc: 0x1bfd_0002,
            remote_disc: 0x7731_aa01,
            min_tx_us: 10_000,
            min_rx_us: 10_000,
            multiplier: 3,
            remote_min_tx_us: 50_000,
            remote_min_rx_us: 40_000,
            remote_multiplier: 3,
            tx_interval_us: 40_000,
            detection_us: Some(150_000),
            up_since_ms: Some(now_ms - 3_600_000),
            last_down_ms: Some(now_ms - 7_200_000),
            last_down_reason: Some("control detection time expired".into()),
            sent: 90_000,
            received: 89_990,
            dropped: 0,
            flaps: 2,
            error: None,
        }
    }
}

#[cfg(any(test, feature = "testkit"))]
impl Snapshot {
    /// A snapshot of the seed's cluster seen from its master, for tests, screenshots of the
    /// layout and documentation. Times are relative to `now_ms`.
    pub fn sample(now_ms: u64) -> Snapshot {
        let real = |addr: &str, health: RealHealth, active: u64, cps: f64| RealView {
            address: addr.into(),
            port: 80,
            weight: if health == RealHealth::Up { 1 } else { 0 },
            configured_weight: 1,
            in_table: health == RealHealth::Up,
            health,
            last_check: Some(CheckResult {
                ok: health == RealHealth::Up,
                at_ms: now_ms - 1200,
                latency_ms: if health == RealHealth::Up {
                    0.4
                } else {
                    3000.0
                },
                message: if health == RealHealth::Up {
                    "connected".into()
                } else {
                    "timeout after 3s".into()
                },
            }),
            active_conns: active,
            inactive_conns: active * 3,
            cps,
            in_bps: cps * 900.0,
            out_bps: 0.0,
            cps_history: (0..30)
                .map(|i| cps * (0.8 + 0.4 * ((i % 7) as f64 / 7.0)))
                .collect(),
            drain: None,
            weight_override: None,
            totals: Totals {
                conns: active * 40,
                in_packets: active * 400,
                out_packets: 0,
                in_bytes: active * 36_000,
                out_bytes: 0,
            },
            health_changed_at_ms: Some(now_ms - 2 * 3600 * 1000),
        };
        Snapshot {
            schema: SCHEMA,
            taken_at_ms: now_ms,
            host: HostView {
                hostname: "lvs-master".into(),
                router_id: Some("LVS_MASTER".into()),
                config_path: "/etc/lvsdeck/lvsdeck.toml".into(),
                mode: "daemon".into(),
                started_at_ms: now_ms - 3 * 3600 * 1000,
                cpu_percent: 3.5,
                mem_used_bytes: 1_200_000_000,
                mem_total_bytes: 8_000_000_000,
                net_rx_bps: 4_800_000,
                net_tx_bps: 350_000,
                refreshed_at_ms: now_ms,
            },
            vrrp: vec![VrrpView {
                name: "VI_1".into(),
                interface: "ens33".into(),
                vrid: 51,
                version: 2,
                state: VrrpState::Master,
                effective_priority: 100,
                base_priority: 100,
                priority_override: None,
                vips: vec!["192.168.10.100/24".into()],
                holds_vips: true,
                master_heard: None,
                handing_over: false,
                adverts_in: 12,
                adverts_out: 10_512,
                priority_zero_in: 0,
                priority_zero_out: 1,
                became_master: 2,
                released_master: 1,
                handovers: 0,
                dropped: 0,
                dropped_by: BTreeMap::new(),
                address_list_mismatch: 0,
                trackers: vec![TrackerView {
                    name: "script:chk_httpd".into(),
                    up: true,
                    weight: -5,
                }],
                split_brain: 0,
                vip_repairs: 0,
                last_transition: Some(Transition {
                    from: VrrpState::Backup,
                    to: VrrpState::Master,
                    reason: "no advert within master down interval".into(),
                    at_ms: now_ms - 2 * 3600 * 1000,
                }),
                refreshed_at_ms: now_ms,
            }],
            ipvs: IpvsView {
                available: true,
                error: None,
                services: vec![ServiceView {
                    key: "TCP  192.168.10.100:80".into(),
                    protocol: "TCP".into(),
                    address: "192.168.10.100:80".into(),
                    scheduler: "rr".into(),
                    method: Method::Dr,
                    persistence_s: None,
                    active_conns: 412,
                    inactive_conns: 1236,
                    cps: 2540.0,
                    in_pps: 15_000.0,
                    out_pps: 0.0,
                    in_bps: 2_286_000.0,
                    out_bps: 0.0,
                    quorum_up: true,
                    sorry_active: false,
                    totals: Totals {
                        conns: 16_480,
                        in_packets: 164_800,
                        out_packets: 0,
                        in_bytes: 14_832_000,
                        out_bytes: 0,
                    },
                    reals: vec![
                        real("192.168.10.72", RealHealth::Up, 206, 1270.0),
                        real("192.168.10.73", RealHealth::Up, 206, 1270.0),
                    ],
                }],
                refreshed_at_ms: now_ms,
                refresh_interval_ms: 1000,
                drift_repairs: 0,
                apply_latency: Histogram::default(),
            },
            events: vec![
                EventView {
                    at_ms: now_ms - 2 * 3600 * 1000,
                    kind: EventKind::Vrrp,
                    subject: "VI_1".into(),
                    message: "BACKUP -> MASTER: no advert within master down interval".into(),
                },
                EventView {
                    at_ms: now_ms - 60_000,
                    kind: EventKind::Health,
                    subject: "TCP 192.168.10.100:80 -> 192.168.10.73:80".into(),
                    message: "up: connected in 0.4 ms".into(),
                },
            ],
            vrrp_packets_dropped: BTreeMap::new(),
            vrrp_scripts: Vec::new(),
            doctor: None,
            bfd: Vec::new(),
            bfd_packets_dropped: BTreeMap::new(),
            bgp: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_round_trips_through_json() {
        let s = Snapshot::sample(1_800_000_000_000);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<Snapshot>(&json).unwrap(), s);
        assert!(json.contains("\"effective_priority\":100"));
    }
}
