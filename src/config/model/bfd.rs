//! BFD sessions (keepalived's `bfd_instance`) and what a VRRP instance does with them
//! (`track_bfd`, and lvsdeck's `takeover`).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::{Dur, is_false};

/// One BFD session to a neighbour (RFC 5880 asynchronous mode, RFC 5881 single hop).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BfdInstance {
    pub neighbor_ip: IpAddr,
    /// The address packets go out from (and, with it, the only one the session is on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<IpAddr>,
    /// Required Min RX Interval (keepalived's default 10 ms).
    #[serde(default = "ten_ms")]
    pub min_rx: Dur,
    /// Desired Min TX Interval once Up (default 10 ms).
    #[serde(default = "ten_ms")]
    pub min_tx: Dur,
    /// Desired Min TX Interval while not Up (default and minimum 1 s).
    #[serde(default = "one_s")]
    pub idle_tx: Dur,
    /// Detect multiplier (default 5).
    #[serde(default = "five")]
    pub multiplier: u8,
    /// Send nothing until the neighbour has spoken.
    #[serde(default, skip_serializing_if = "is_false")]
    pub passive: bool,
    /// TTL / hop limit sent; default 255 over IPv4, 64 over IPv6 (keepalived's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u8>,
    /// Hops a received packet may have crossed; 255: no check (keepalived's -1). Default 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_hops: u8,
    /// Default weight of `track_bfd` entries naming this session.
    #[serde(default, skip_serializing_if = "is_zero_i32")]
    pub weight: i32,
    #[serde(default, skip_serializing_if = "is_false")]
    pub weight_reverse: bool,
    /// lvsdeck only: RFC 5880 Keyed SHA1 (keepalived has no BFD authentication).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<BfdAuth>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BfdAuth {
    /// Meticulous Keyed SHA1 (type 5) rather than Keyed SHA1 (type 4).
    #[serde(default, skip_serializing_if = "is_false")]
    pub meticulous: bool,
    #[serde(default)]
    pub key_id: u8,
    /// Up to 20 bytes.
    pub secret: String,
}

/// A BFD session a vrrp_instance tracks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackBfd {
    pub name: String,
    /// As keepalived: 0 puts the instance in Fault while the session is down; otherwise the
    /// priority moves by it. Default: the bfd_instance's weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverse: Option<bool>,
    /// lvsdeck only: the session watches the master (its neighbor_ip is the master's address):
    /// when it goes Down because the master fell silent, a backup acts as if its
    /// Master_Down timer had fired, instead of waiting for three adverts. The session then
    /// moves no priority and puts the instance in no Fault.
    #[serde(default, skip_serializing_if = "is_false")]
    pub takeover: bool,
}

fn ten_ms() -> Dur {
    Dur::from_millis(10)
}
fn one_s() -> Dur {
    Dur::from_secs(1)
}
fn five() -> u8 {
    5
}
fn is_zero(v: &u8) -> bool {
    *v == 0
}
fn is_zero_i32(v: &i32) -> bool {
    *v == 0
}
