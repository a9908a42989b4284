//! VRRP advertisement codec (v2 and v3, IPv4 and IPv6). Pure: bytes in, values out.

use std::net::IpAddr;

/// Protocol version of an advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    V2,
    V3,
}

/// A decoded VRRP advertisement: the fields the state machine needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advert {
    pub version: Version,
    pub vrid: u8,
    pub priority: u8,
    /// Advertisement interval in centiseconds (v2 carries whole seconds on the wire).
    pub interval_cs: u16,
    /// The virtual addresses; all of one family.
    pub addrs: Vec<IpAddr>,
    /// v2 simple-text password (RFC 2338 auth type 1), zero-padded to 8 bytes.
    pub auth: Option<[u8; 8]>,
}
