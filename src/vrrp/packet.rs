//! VRRP advertisement codec (v2 and v3, IPv4 and IPv6). Pure: bytes in, values out.
//!
//! Two levels:
//! - [`Advert::decode`] / [`Advert::encode`]: the VRRP message alone (the bytes after the IP
//!   header), given the [`Endpoints`] it travels between (VRRPv3's checksum covers them, and their
//!   family is the family of the advertised addresses). This is what an IPv6 raw socket hands out.
//! - [`Packet::decode`] / [`Packet::encode`]: a whole IPv4 or IPv6 packet carrying one message,
//!   as an IPv4 raw socket with `IP_HDRINCL` sends and receives it, byte for byte what keepalived
//!   puts on the wire. The whole-packet decoder also enforces TTL / hop limit 255.
//!
//! Wire formats: RFC 3768 §5 (VRRPv2, IPv4 only) and RFC 9568 §5 (VRRPv3, which obsoletes
//! RFC 5798). VRRPv2 simple-password authentication (auth type 1, from RFC 2338) is supported
//! because keepalived still offers it; auth type 2 (IP AH) is refused.
//!
//! Decode order (which error wins when several apply): truncation, version, family, length vs.
//! address count, checksum, then the remaining fields (type, VRID, address count, interval,
//! authentication). Structure first, because the checksum cannot be computed without the
//! version and length; integrity next, so a corrupted field is counted as `bad_checksum` rather
//! than as whatever the corruption happens to look like.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use thiserror::Error;

mod ip;
pub use ip::*;

/// IP protocol number / IPv6 next header of VRRP.
pub const IPPROTO_VRRP: u8 = 112;
/// TTL (IPv4) or hop limit (IPv6) every VRRP packet is sent with and must arrive with.
pub const VRRP_TTL: u8 = 255;
/// IPv4 TOS / IPv6 traffic class keepalived sends with (DSCP CS6, "network control").
pub const VRRP_TOS: u8 = 0xc0;
/// The IPv4 multicast group of VRRP (RFC 3768 §5.2.2, RFC 9568 §5.1.1.2).
pub const VRRP_GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The IPv6 multicast group of VRRP (RFC 9568 §5.1.2.2).
pub const VRRP_GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);

/// VRRPv2 authentication type 0: none.
pub const AUTH_NONE: u8 = 0;
/// VRRPv2 authentication type 1: simple text password (RFC 2338; "reserved" in RFC 3768).
pub const AUTH_PASS: u8 = 1;
/// VRRPv2 authentication type 2: IP Authentication Header (RFC 2338; not supported here).
pub const AUTH_AH: u8 = 2;

/// The only VRRP message type (RFC 3768 §5.3.2, RFC 9568 §5.2.2).
const TYPE_ADVERTISEMENT: u8 = 1;
/// Version/type, VRID, priority, count, auth type or rsvd + interval, checksum.
const HEADER_LEN: usize = 8;
/// VRRPv2's two words of authentication data, present whatever the auth type.
const AUTH_LEN: usize = 8;
const CHECKSUM_AT: usize = 6;
const IPV4_HEADER_LEN: usize = 20;
const IPV6_HEADER_LEN: usize = 40;
const IPV4_DONT_FRAGMENT: u16 = 0x4000;
const IPV4_MORE_FRAGMENTS: u16 = 0x2000;
const IPV4_FRAGMENT_OFFSET: u16 = 0x1fff;
/// Largest VRRPv2 interval: an 8-bit count of seconds, in centiseconds.
const V2_MAX_INTERVAL_CS: u16 = 255 * 100;
/// Largest VRRPv3 interval: a 12-bit count of centiseconds.
const V3_MAX_INTERVAL_CS: u16 = 0x0fff;
const MAX_FLOW_LABEL: u32 = 0x000f_ffff;

/// Protocol version of an advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    V2,
    V3,
}

impl Version {
    /// The number in the version nibble.
    pub fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VRRPv{}", self.number())
    }
}

/// An IP address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpFamily {
    V4,
    V6,
}

impl IpFamily {
    /// The family of an address.
    pub fn of(addr: &IpAddr) -> IpFamily {
        match addr {
            IpAddr::V4(_) => IpFamily::V4,
            IpAddr::V6(_) => IpFamily::V6,
        }
    }

    /// Bytes one address takes on the wire.
    pub fn addr_len(self) -> usize {
        match self {
            IpFamily::V4 => 4,
            IpFamily::V6 => 16,
        }
    }
}

impl fmt::Display for IpFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IpFamily::V4 => "IPv4",
            IpFamily::V6 => "IPv6",
        })
    }
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

/// The source and destination of the IP packet carrying a VRRP message. VRRPv3's checksum
/// covers them (the pseudo-header), and their family is the family of the advertised addresses
/// (RFC 9568 §1: the family is inferred from the IP version). One family by construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoints {
    V4 { src: Ipv4Addr, dst: Ipv4Addr },
    V6 { src: Ipv6Addr, dst: Ipv6Addr },
}

impl Endpoints {
    /// `None` when `src` and `dst` are of different families.
    pub fn new(src: IpAddr, dst: IpAddr) -> Option<Endpoints> {
        match (src, dst) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => Some(Endpoints::V4 { src, dst }),
            (IpAddr::V6(src), IpAddr::V6(dst)) => Some(Endpoints::V6 { src, dst }),
            _ => None,
        }
    }

    pub fn family(&self) -> IpFamily {
        match self {
            Endpoints::V4 { .. } => IpFamily::V4,
            Endpoints::V6 { .. } => IpFamily::V6,
        }
    }

    pub fn src(&self) -> IpAddr {
        match *self {
            Endpoints::V4 { src, .. } => IpAddr::V4(src),
            Endpoints::V6 { src, .. } => IpAddr::V6(src),
        }
    }

    pub fn dst(&self) -> IpAddr {
        match *self {
            Endpoints::V4 { dst, .. } => IpAddr::V4(dst),
            Endpoints::V6 { dst, .. } => IpAddr::V6(dst),
        }
    }

    /// Ones'-complement partial sum of the pseudo-header for a VRRP message of `len` bytes.
    /// IPv4 (RFC 768 layout: src, dst, zero, protocol, 16-bit length) and IPv6 (RFC 8200 §8.1:
    /// src, dst, 32-bit length, three zero bytes, next header) sum to the same words.
    fn pseudo_header_sum(&self, len: usize) -> u64 {
        let addrs = match self {
            Endpoints::V4 { src, dst } => sum_words(&dst.octets(), sum_words(&src.octets(), 0)),
            Endpoints::V6 { src, dst } => sum_words(&dst.octets(), sum_words(&src.octets(), 0)),
        };
        let len = len as u64;
        addrs + (len >> 16) + (len & 0xffff) + u64::from(IPPROTO_VRRP)
    }
}

/// How the VRRPv3 checksum is computed. VRRPv2's is never affected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ChecksumMode {
    /// RFC 9568 §5.2.8: VRRPv3 includes the IPv4 or IPv6 pseudo-header.
    #[default]
    Rfc,
    /// VRRPv3 over IPv4 without the pseudo-header, as older keepalived releases and some
    /// vendors compute it. VRRPv3 over IPv6 still uses the pseudo-header.
    V3Ipv4WithoutPseudoHeader,
}

/// What the decoder does with VRRPv2 authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AuthPolicy {
    /// Accept auth type 0 or 1 and report it in [`Advert::auth`]; the caller compares it with
    /// its configuration (RFC 3768 §5.3.6 requires the type to match the local one).
    #[default]
    Accept,
    /// Require this local configuration: `None` means no authentication (VRRPv2 auth type 0,
    /// or VRRPv3), `Some(password)` means auth type 1 with exactly this (zero-padded) password.
    Require(Option<[u8; 8]>),
    /// Auth type 2 (IPsec AH), already checked by [`super::ah`]: reported as no password.
    Ah,
}

/// Options for [`Advert::decode`] and [`Packet::decode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DecodeOptions {
    pub checksum: ChecksumMode,
    pub auth: AuthPolicy,
}

/// Why a VRRPv2 authentication check failed. Never carries the password.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthError {
    #[error("auth type 2 (IP Authentication Header) is not supported")]
    AhUnsupported,
    #[error("unknown auth type {0}; only 0 (none) and 1 (simple password) are defined")]
    UnknownType(u8),
    #[error("auth type {found} received, but auth type {expected} is configured")]
    TypeMismatch { expected: u8, found: u8 },
    #[error("the simple password does not match the configured one")]
    PasswordMismatch,
}

impl AuthError {
    /// Short key for counters and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            AuthError::AhUnsupported => "auth_ah_unsupported",
            AuthError::UnknownType(_) => "auth_unknown_type",
            AuthError::TypeMismatch { .. } => "auth_type_mismatch",
            AuthError::PasswordMismatch => "auth_mismatch",
        }
    }
}

/// Why a received packet was rejected. Each variant names the field; [`DecodeError::reason`]
/// gives a short stable key to count by.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("truncated {what}: needs {need} bytes, got {have}")]
    Truncated {
        what: &'static str,
        need: usize,
        have: usize,
    },
    #[error("bad IP header: {0}")]
    IpHeader(&'static str),
    #[error("not VRRP: IP protocol / next header is {found}, VRRP is 112")]
    Protocol { found: u8 },
    #[error("bad TTL / hop limit {found}: VRRP packets must arrive with 255 (sent off-link?)")]
    Ttl { found: u8 },
    #[error("bad version {found}: only VRRP versions 2 and 3 are understood")]
    Version { found: u8 },
    #[error("bad type {found}: only 1 (advertisement) is defined")]
    Type { found: u8 },
    #[error("bad VRID 0: virtual router IDs are 1..=255")]
    Vrid,
    #[error("bad checksum: the packet carries {found:#06x}, the message sums to {expected:#06x}")]
    Checksum { expected: u16, found: u16 },
    #[error("authentication: {0}")]
    Auth(#[from] AuthError),
    #[error(
        "bad length: the message is {found} bytes, but its address count {count} makes {expected}"
    )]
    Length {
        count: u8,
        expected: usize,
        found: usize,
    },
    #[error("bad address count {found}: an advertisement carries at least one address")]
    AddressCount { found: u8 },
    #[error("bad advertisement interval {found}: must be at least 1 ({unit})")]
    Interval { found: u16, unit: &'static str },
    #[error("address family: {version} carries {supported} only, this packet is {found}")]
    Family {
        version: Version,
        supported: &'static str,
        found: IpFamily,
    },
}

impl DecodeError {
    /// Short stable key for counters and logs, e.g. `"bad_checksum"`.
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::Truncated { .. } => "truncated",
            DecodeError::IpHeader(_) => "bad_ip_header",
            DecodeError::Protocol { .. } => "not_vrrp",
            DecodeError::Ttl { .. } => "bad_ttl",
            DecodeError::Version { .. } => "bad_version",
            DecodeError::Type { .. } => "bad_type",
            DecodeError::Vrid => "bad_vrid",
            DecodeError::Checksum { .. } => "bad_checksum",
            DecodeError::Auth(e) => e.reason(),
            DecodeError::Length { .. } => "bad_length",
            DecodeError::AddressCount { .. } => "bad_address_count",
            DecodeError::Interval { .. } => "bad_interval",
            DecodeError::Family { .. } => "bad_family",
        }
    }
}

/// Why an [`Advert`] or [`Packet`] cannot be put on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    #[error("VRID 0 is not valid: virtual router IDs are 1..=255")]
    Vrid,
    #[error("no addresses: an advertisement carries 1..=255 addresses")]
    NoAddresses,
    #[error("{count} addresses: an advertisement carries at most 255")]
    TooManyAddresses { count: usize },
    #[error("address {addr} is not {family}, the family of the carrying packet")]
    AddressFamily { addr: IpAddr, family: IpFamily },
    #[error("VRRPv2 carries IPv4 only (RFC 3768); use VRRPv3 for IPv6")]
    V2OverIpv6,
    #[error(
        "interval {interval_cs} cs cannot be sent in {version}: {}",
        match version {
            Version::V2 => "it needs a whole number of seconds in 1..=255 (100..=25500 cs)",
            Version::V3 => "it needs 1..=4095 centiseconds",
        }
    )]
    Interval { version: Version, interval_cs: u16 },
    #[error("VRRPv3 has no authentication fields (RFC 9568 §5.1); remove the password")]
    AuthOnV3,
    #[error("IPv6 flow label {0:#x} does not fit in 20 bits")]
    FlowLabel(u32),
}

impl EncodeError {
    /// Short stable key, e.g. `"bad_interval"`.
    pub fn reason(&self) -> &'static str {
        match self {
            EncodeError::Vrid => "bad_vrid",
            EncodeError::NoAddresses => "no_addresses",
            EncodeError::TooManyAddresses { .. } => "too_many_addresses",
            EncodeError::AddressFamily { .. } => "bad_family",
            EncodeError::V2OverIpv6 => "v2_over_ipv6",
            EncodeError::Interval { .. } => "bad_interval",
            EncodeError::AuthOnV3 => "auth_on_v3",
            EncodeError::FlowLabel(_) => "bad_flow_label",
        }
    }
}

/// A keepalived-style `auth_pass`: the first 8 bytes of `password`, zero-padded.
pub fn auth_pass(password: &[u8]) -> [u8; 8] {
    let mut out = [0u8; 8];
    let n = password.len().min(8);
    out[..n].copy_from_slice(&password[..n]);
    out
}

impl Advert {
    /// Bytes of the VRRP message this advert encodes to.
    pub fn encoded_len(&self) -> usize {
        let alen = self.addrs.first().map_or(0, |a| IpFamily::of(a).addr_len());
        let auth = match self.version {
            Version::V2 => AUTH_LEN,
            Version::V3 => 0,
        };
        HEADER_LEN + self.addrs.len() * alen + auth
    }

    /// Checks that this advert can be sent in a packet of `family`.
    pub fn validate(&self, family: IpFamily) -> Result<(), EncodeError> {
        if self.vrid == 0 {
            return Err(EncodeError::Vrid);
        }
        if self.addrs.is_empty() {
            return Err(EncodeError::NoAddresses);
        }
        if self.addrs.len() > usize::from(u8::MAX) {
            return Err(EncodeError::TooManyAddresses {
                count: self.addrs.len(),
            });
        }
        if let Some(&addr) = self.addrs.iter().find(|a| IpFamily::of(a) != family) {
            return Err(EncodeError::AddressFamily { addr, family });
        }
        let interval_ok = match self.version {
            Version::V2 => {
                self.interval_cs.is_multiple_of(100)
                    && (100..=V2_MAX_INTERVAL_CS).contains(&self.interval_cs)
            }
            Version::V3 => (1..=V3_MAX_INTERVAL_CS).contains(&self.interval_cs),
        };
        if !interval_ok {
            return Err(EncodeError::Interval {
                version: self.version,
                interval_cs: self.interval_cs,
            });
        }
        match self.version {
            Version::V2 if family == IpFamily::V6 => Err(EncodeError::V2OverIpv6),
            Version::V3 if self.auth.is_some() => Err(EncodeError::AuthOnV3),
            _ => Ok(()),
        }
    }

    /// The VRRP message for a packet between `endpoints`.
    pub fn encode(
        &self,
        endpoints: &Endpoints,
        mode: ChecksumMode,
    ) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(endpoints, mode, &mut out)?;
        Ok(out)
    }

    /// Appends the VRRP message to `out` (which is left as it was on error).
    pub fn encode_into(
        &self,
        endpoints: &Endpoints,
        mode: ChecksumMode,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        self.validate(endpoints.family())?;
        let start = out.len();
        out.reserve(self.encoded_len());
        // Validated above: 1..=255 addresses.
        let count = self.addrs.len() as u8;
        out.extend_from_slice(&[
            self.version.number() << 4 | TYPE_ADVERTISEMENT,
            self.vrid,
            self.priority,
            count,
        ]);
        match self.version {
            Version::V2 => {
                let auth_type = if self.auth.is_some() {
                    AUTH_PASS
                } else {
                    AUTH_NONE
                };
                // Validated above: a whole number of seconds in 1..=255.
                out.extend_from_slice(&[auth_type, (self.interval_cs / 100) as u8]);
            }
            // The four reserved bits are zero (RFC 9568 §5.2.6).
            Version::V3 => out.extend_from_slice(&self.interval_cs.to_be_bytes()),
        }
        out.extend_from_slice(&[0, 0]);
        for addr in &self.addrs {
            match addr {
                IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
                IpAddr::V6(a) => out.extend_from_slice(&a.octets()),
            }
        }
        if self.version == Version::V2 {
            out.extend_from_slice(&self.auth.unwrap_or([0; 8]));
        }
        let msg = &mut out[start..];
        let sum = checksum(msg, self.version, endpoints, mode);
        msg[CHECKSUM_AT..CHECKSUM_AT + 2].copy_from_slice(&sum.to_be_bytes());
        Ok(())
    }

    /// Decodes and verifies a VRRP message (the IP payload) received between `endpoints`.
    /// TTL / hop limit is the caller's to check (see [`check_ttl`]); [`Packet::decode`] does.
    pub fn decode(
        msg: &[u8],
        endpoints: &Endpoints,
        opts: &DecodeOptions,
    ) -> Result<Advert, DecodeError> {
        if msg.len() < HEADER_LEN {
            return Err(DecodeError::Truncated {
                what: "VRRP header",
                need: HEADER_LEN,
                have: msg.len(),
            });
        }
        let version = match msg[0] >> 4 {
            2 => Version::V2,
            3 => Version::V3,
            found => return Err(DecodeError::Version { found }),
        };
        let family = endpoints.family();
        if version == Version::V2 && family == IpFamily::V6 {
            return Err(DecodeError::Family {
                version,
                supported: "IPv4",
                found: family,
            });
        }
        let count = msg[3];
        let auth_len = match version {
            Version::V2 => AUTH_LEN,
            Version::V3 => 0,
        };
        let expected = HEADER_LEN + usize::from(count) * family.addr_len() + auth_len;
        if msg.len() != expected {
            return Err(DecodeError::Length {
                count,
                expected,
                found: msg.len(),
            });
        }
        if !checksum_ok(msg, version, endpoints, opts.checksum) {
            return Err(DecodeError::Checksum {
                expected: checksum(msg, version, endpoints, opts.checksum),
                found: u16::from_be_bytes([msg[CHECKSUM_AT], msg[CHECKSUM_AT + 1]]),
            });
        }
        let kind = msg[0] & 0x0f;
        if kind != TYPE_ADVERTISEMENT {
            return Err(DecodeError::Type { found: kind });
        }
        let vrid = msg[1];
        if vrid == 0 {
            return Err(DecodeError::Vrid);
        }
        if count == 0 {
            return Err(DecodeError::AddressCount { found: count });
        }
        let interval_cs = match version {
            Version::V2 => match msg[5] {
                0 => {
                    return Err(DecodeError::Interval {
                        found: 0,
                        unit: "seconds",
                    });
                }
                s => u16::from(s) * 100,
            },
            // The four reserved bits are ignored on reception (RFC 9568 §5.2.6).
            Version::V3 => match u16::from_be_bytes([msg[4], msg[5]]) & V3_MAX_INTERVAL_CS {
                0 => {
                    return Err(DecodeError::Interval {
                        found: 0,
                        unit: "centiseconds",
                    });
                }
                cs => cs,
            },
        };
        let addr_end = msg.len() - auth_len;
        let auth = match version {
            Version::V2 => match msg[4] {
                AUTH_AH if opts.auth == AuthPolicy::Ah => None,
                found if opts.auth == AuthPolicy::Ah => {
                    return Err(AuthError::TypeMismatch {
                        expected: AUTH_AH,
                        found,
                    }
                    .into());
                }
                // Authentication data is ignored when there is no authentication (RFC 3768 §5.3.10).
                AUTH_NONE => None,
                AUTH_PASS => {
                    let mut pass = [0u8; 8];
                    pass.copy_from_slice(&msg[addr_end..]);
                    Some(pass)
                }
                AUTH_AH => return Err(AuthError::AhUnsupported.into()),
                other => return Err(AuthError::UnknownType(other).into()),
            },
            Version::V3 => None,
        };
        if let AuthPolicy::Require(want) = opts.auth {
            check_auth(want, auth)?;
        }
        let body = &msg[HEADER_LEN..addr_end];
        let addrs = match family {
            IpFamily::V4 => body
                .chunks_exact(4)
                .map(|c| IpAddr::V4(Ipv4Addr::new(c[0], c[1], c[2], c[3])))
                .collect(),
            IpFamily::V6 => body
                .chunks_exact(16)
                .map(|c| {
                    let mut o = [0u8; 16];
                    o.copy_from_slice(c);
                    IpAddr::V6(Ipv6Addr::from(o))
                })
                .collect(),
        };
        Ok(Advert {
            version,
            vrid,
            priority: msg[2],
            interval_cs,
            addrs,
            auth,
        })
    }
}

fn check_auth(want: Option<[u8; 8]>, got: Option<[u8; 8]>) -> Result<(), AuthError> {
    let type_of = |a: &Option<[u8; 8]>| if a.is_some() { AUTH_PASS } else { AUTH_NONE };
    match (want, got) {
        (Some(w), Some(g)) if w != g => Err(AuthError::PasswordMismatch),
        (w, g) if w.is_some() != g.is_some() => Err(AuthError::TypeMismatch {
            expected: type_of(&w),
            found: type_of(&g),
        }),
        _ => Ok(()),
    }
}

/// TTL / hop-limit rule of RFC 3768 §5.2.3 and RFC 9568 §5.1.1.3 / §5.1.2.3, for callers that
/// get the VRRP message and the hop limit separately (an IPv6 raw socket with IPV6_RECVHOPLIMIT).
pub fn check_ttl(ttl: u8) -> Result<(), DecodeError> {
    if ttl == VRRP_TTL {
        Ok(())
    } else {
        Err(DecodeError::Ttl { found: ttl })
    }
}

/// Adds `data` as big-endian 16-bit words (an odd last byte padded with zero) to `acc`.
fn sum_words(data: &[u8], mut acc: u64) -> u64 {
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

/// Folds a partial sum into 16 bits with end-around carry (RFC 1071).
fn fold(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

fn uses_pseudo_header(version: Version, endpoints: &Endpoints, mode: ChecksumMode) -> bool {
    match (version, endpoints, mode) {
        (Version::V2, _, _) => false,
        (Version::V3, Endpoints::V4 { .. }, ChecksumMode::V3Ipv4WithoutPseudoHeader) => false,
        (Version::V3, _, _) => true,
    }
}

fn message_sum(msg: &[u8], version: Version, endpoints: &Endpoints, mode: ChecksumMode) -> u64 {
    let init = if uses_pseudo_header(version, endpoints, mode) {
        endpoints.pseudo_header_sum(msg.len())
    } else {
        0
    };
    sum_words(msg, init)
}

/// The checksum a VRRP message `msg` should carry (its checksum field is treated as zero):
/// RFC 3768 §5.3.8 for VRRPv2 (the message alone), RFC 9568 §5.2.8 for VRRPv3 (with the
/// pseudo-header of `endpoints`, unless `mode` says otherwise for IPv4).
pub fn checksum(msg: &[u8], version: Version, endpoints: &Endpoints, mode: ChecksumMode) -> u16 {
    let mut sum = message_sum(msg, version, endpoints, mode);
    if msg.len() >= CHECKSUM_AT + 2 {
        sum -= u64::from(u16::from_be_bytes([msg[CHECKSUM_AT], msg[CHECKSUM_AT + 1]]));
    }
    !fold(sum)
}

/// RFC 1071 verification: the sum over the message including its checksum is all ones. This
/// accepts both representations of a zero checksum (0x0000 and 0xffff).
fn checksum_ok(msg: &[u8], version: Version, endpoints: &Endpoints, mode: ChecksumMode) -> bool {
    fold(message_sum(msg, version, endpoints, mode)) == 0xffff
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
