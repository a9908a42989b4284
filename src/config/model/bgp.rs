//! lvsdeck's own `[bgp]` section: announce virtual services' addresses to routers through an
//! existing BGP speaker (BIRD 2), so that several directors forward at once behind equal-cost
//! routes. keepalived has no equivalent. lvsdeck never speaks BGP itself: it writes the part
//! of BIRD's configuration it owns and tells BIRD to read it again.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Dur, is_false};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bgp {
    /// This director's AS number.
    pub local_as: u32,
    /// BIRD's router id; without it, BIRD picks one of the host's addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router_id: Option<Ipv4Addr>,
    /// The routers to announce to.
    #[serde(default)]
    pub neighbor: Vec<BgpNeighbor>,
    /// BIRD's control socket (`birdc -s`).
    #[serde(default = "bird_socket")]
    pub bird_socket: PathBuf,
    /// The file lvsdeck writes and BIRD includes at the top level of its configuration
    /// (`include "/run/lvsdeck/bird.conf";`): the sessions and the routes announced.
    #[serde(default = "bird_include")]
    pub bird_include: PathBuf,
    /// BGP hold time; keepalives go every third of it. 3-65535 s.
    #[serde(default = "nine_s")]
    pub hold_time: Dur,
    /// At stop and drain: how long after the withdrawal the director keeps forwarding what
    /// still arrives (the routers' convergence) before it stops.
    #[serde(default = "two_s")]
    pub withdraw_wait: Dur,
    /// BFD on the sessions that ask for it: the interval both ways, and the multiplier.
    #[serde(default = "hundred_ms")]
    pub bfd_interval: Dur,
    #[serde(default = "three")]
    pub bfd_multiplier: u8,
    /// `net.ipv4.vs.sloppy_tcp` / `sloppy_sctp` on: a flow moved here from another director
    /// (a withdrawal, a router's new hash) continues without a SYN. Default on.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub sloppy: bool,
}

/// One BGP neighbour (a router), directly connected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BgpNeighbor {
    pub address: IpAddr,
    pub remote_as: u32,
    /// The local address of the session; BIRD picks one otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_address: Option<IpAddr>,
    /// BFD on the session (BIRD's own `protocol bfd`): a dead director's routes go in
    /// milliseconds instead of a hold time.
    #[serde(default, skip_serializing_if = "is_false")]
    pub bfd: bool,
}

fn bird_socket() -> PathBuf {
    PathBuf::from("/run/bird/bird.ctl")
}
fn bird_include() -> PathBuf {
    PathBuf::from("/run/lvsdeck/bird.conf")
}
fn nine_s() -> Dur {
    Dur::from_secs(9)
}
fn two_s() -> Dur {
    Dur::from_secs(2)
}
fn hundred_ms() -> Dur {
    Dur(std::time::Duration::from_millis(100))
}
fn three() -> u8 {
    3
}
fn yes() -> bool {
    true
}
fn is_true(b: &bool) -> bool {
    *b
}
