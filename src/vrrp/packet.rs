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

/// The IPv4 header of a VRRP packet. TTL (255) and protocol (112) are fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Header {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub tos: u8,
    /// The Identification field: keepalived counts it per instance, from 1, wrapping.
    pub id: u16,
    /// keepalived 2.2.7 leaves DF clear.
    pub dont_fragment: bool,
}

impl Ipv4Header {
    /// A multicast advertisement header as keepalived 2.2.7 builds it: to 224.0.0.18, TOS 0xc0,
    /// DF clear, with the caller's running `id`.
    pub fn advert(src: Ipv4Addr, id: u16) -> Ipv4Header {
        Ipv4Header {
            src,
            dst: VRRP_GROUP_V4,
            tos: VRRP_TOS,
            id,
            dont_fragment: false,
        }
    }
}

/// The IPv6 header of a VRRP packet (no extension headers). Hop limit (255) and next header
/// (112) are fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6Header {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub traffic_class: u8,
    /// 20 bits. The kernel picks it for keepalived (auto flow labels), so it is only known for
    /// packets we build ourselves or have captured.
    pub flow_label: u32,
}

impl Ipv6Header {
    /// A multicast advertisement header: from `src` (the interface's link-local address, RFC 9568
    /// §5.1.2.1) to ff02::12, traffic class 0xc0.
    pub fn advert(src: Ipv6Addr, flow_label: u32) -> Ipv6Header {
        Ipv6Header {
            src,
            dst: VRRP_GROUP_V6,
            traffic_class: VRRP_TOS,
            flow_label,
        }
    }
}

/// The IP header of a VRRP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpHeader {
    V4(Ipv4Header),
    V6(Ipv6Header),
}

impl IpHeader {
    pub fn endpoints(&self) -> Endpoints {
        match *self {
            IpHeader::V4(h) => Endpoints::V4 {
                src: h.src,
                dst: h.dst,
            },
            IpHeader::V6(h) => Endpoints::V6 {
                src: h.src,
                dst: h.dst,
            },
        }
    }

    /// The sender's address (the state machine's tie-breaker, RFC 9568 §6.4.2).
    pub fn src(&self) -> IpAddr {
        self.endpoints().src()
    }
}

/// A whole IP packet carrying one advertisement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub ip: IpHeader,
    pub advert: Advert,
}

impl Packet {
    /// Decodes an IPv4 or IPv6 packet (told apart by its version nibble). Bytes after the IP
    /// total / payload length (Ethernet padding) are ignored. The IPv4 header checksum is not
    /// verified (the kernel has done it before a raw socket sees the packet); IPv4 options are
    /// skipped; IPv6 extension headers are not supported (next header must be 112).
    pub fn decode(bytes: &[u8], opts: &DecodeOptions) -> Result<Packet, DecodeError> {
        let Some(first) = bytes.first() else {
            return Err(DecodeError::Truncated {
                what: "IP header",
                need: 1,
                have: 0,
            });
        };
        match first >> 4 {
            4 => Self::decode_v4(bytes, opts),
            6 => Self::decode_v6(bytes, opts),
            _ => Err(DecodeError::IpHeader("IP version is neither 4 nor 6")),
        }
    }

    fn decode_v4(bytes: &[u8], opts: &DecodeOptions) -> Result<Packet, DecodeError> {
        if bytes.len() < IPV4_HEADER_LEN {
            return Err(DecodeError::Truncated {
                what: "IPv4 header",
                need: IPV4_HEADER_LEN,
                have: bytes.len(),
            });
        }
        let header_len = usize::from(bytes[0] & 0x0f) * 4;
        if header_len < IPV4_HEADER_LEN {
            return Err(DecodeError::IpHeader("IPv4 header length below 20 bytes"));
        }
        let total_len = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
        if total_len < header_len {
            return Err(DecodeError::IpHeader(
                "IPv4 total length shorter than its header",
            ));
        }
        if bytes.len() < total_len {
            return Err(DecodeError::Truncated {
                what: "IPv4 packet",
                need: total_len,
                have: bytes.len(),
            });
        }
        let flags = u16::from_be_bytes([bytes[6], bytes[7]]);
        if flags & (IPV4_MORE_FRAGMENTS | IPV4_FRAGMENT_OFFSET) != 0 {
            return Err(DecodeError::IpHeader("IPv4 fragment"));
        }
        if bytes[9] != IPPROTO_VRRP {
            return Err(DecodeError::Protocol { found: bytes[9] });
        }
        check_ttl(bytes[8])?;
        let header = Ipv4Header {
            src: Ipv4Addr::new(bytes[12], bytes[13], bytes[14], bytes[15]),
            dst: Ipv4Addr::new(bytes[16], bytes[17], bytes[18], bytes[19]),
            tos: bytes[1],
            id: u16::from_be_bytes([bytes[4], bytes[5]]),
            dont_fragment: flags & IPV4_DONT_FRAGMENT != 0,
        };
        let ip = IpHeader::V4(header);
        let advert = Advert::decode(&bytes[header_len..total_len], &ip.endpoints(), opts)?;
        Ok(Packet { ip, advert })
    }

    fn decode_v6(bytes: &[u8], opts: &DecodeOptions) -> Result<Packet, DecodeError> {
        if bytes.len() < IPV6_HEADER_LEN {
            return Err(DecodeError::Truncated {
                what: "IPv6 header",
                need: IPV6_HEADER_LEN,
                have: bytes.len(),
            });
        }
        let payload_len = usize::from(u16::from_be_bytes([bytes[4], bytes[5]]));
        let total_len = IPV6_HEADER_LEN + payload_len;
        if bytes.len() < total_len {
            return Err(DecodeError::Truncated {
                what: "IPv6 packet",
                need: total_len,
                have: bytes.len(),
            });
        }
        if bytes[6] != IPPROTO_VRRP {
            return Err(DecodeError::Protocol { found: bytes[6] });
        }
        check_ttl(bytes[7])?;
        let mut src = [0u8; 16];
        let mut dst = [0u8; 16];
        src.copy_from_slice(&bytes[8..24]);
        dst.copy_from_slice(&bytes[24..40]);
        let header = Ipv6Header {
            src: Ipv6Addr::from(src),
            dst: Ipv6Addr::from(dst),
            traffic_class: (bytes[0] << 4) | (bytes[1] >> 4),
            flow_label: u32::from_be_bytes([0, bytes[1] & 0x0f, bytes[2], bytes[3]]),
        };
        let ip = IpHeader::V6(header);
        let advert = Advert::decode(&bytes[IPV6_HEADER_LEN..total_len], &ip.endpoints(), opts)?;
        Ok(Packet { ip, advert })
    }

    /// The whole packet, IP header included.
    pub fn encode(&self, mode: ChecksumMode) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::new();
        self.encode_into(mode, &mut out)?;
        Ok(out)
    }

    /// Appends the whole packet to `out` (which is left as it was on error).
    pub fn encode_into(&self, mode: ChecksumMode, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let endpoints = self.ip.endpoints();
        self.advert.validate(endpoints.family())?;
        let start = out.len();
        let msg_len = self.advert.encoded_len();
        match self.ip {
            IpHeader::V4(h) => {
                // At most 20 + 8 + 255 * 4 + 8 bytes: fits in u16.
                let total = (IPV4_HEADER_LEN + msg_len) as u16;
                let flags = if h.dont_fragment {
                    IPV4_DONT_FRAGMENT
                } else {
                    0
                };
                out.reserve(IPV4_HEADER_LEN + msg_len);
                out.extend_from_slice(&[0x45, h.tos]);
                out.extend_from_slice(&total.to_be_bytes());
                out.extend_from_slice(&h.id.to_be_bytes());
                out.extend_from_slice(&flags.to_be_bytes());
                out.extend_from_slice(&[VRRP_TTL, IPPROTO_VRRP, 0, 0]);
                out.extend_from_slice(&h.src.octets());
                out.extend_from_slice(&h.dst.octets());
                let sum = !fold(sum_words(&out[start..], 0));
                out[start + 10..start + 12].copy_from_slice(&sum.to_be_bytes());
            }
            IpHeader::V6(h) => {
                if h.flow_label > MAX_FLOW_LABEL {
                    return Err(EncodeError::FlowLabel(h.flow_label));
                }
                // At most 8 + 255 * 16 bytes: fits in u16.
                let payload_len = msg_len as u16;
                let word = 6u32 << 28 | u32::from(h.traffic_class) << 20 | h.flow_label;
                out.reserve(IPV6_HEADER_LEN + msg_len);
                out.extend_from_slice(&word.to_be_bytes());
                out.extend_from_slice(&payload_len.to_be_bytes());
                out.extend_from_slice(&[IPPROTO_VRRP, VRRP_TTL]);
                out.extend_from_slice(&h.src.octets());
                out.extend_from_slice(&h.dst.octets());
            }
        }
        // Validated above, so this does not fail; keep `out` intact if it ever did.
        self.advert
            .encode_into(&endpoints, mode, out)
            .inspect_err(|_| out.truncate(start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D1_V4: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 71);
    const VIP_V4: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 100);
    const D1_LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0x77, 0xff, 0xfe00, 0x71);
    const VIP_V6: Ipv6Addr = Ipv6Addr::new(0xfd77, 0, 0, 0, 0, 0, 0, 0x100);

    fn ep4() -> Endpoints {
        Endpoints::V4 {
            src: D1_V4,
            dst: VRRP_GROUP_V4,
        }
    }

    fn ep6() -> Endpoints {
        Endpoints::V6 {
            src: D1_LL,
            dst: VRRP_GROUP_V6,
        }
    }

    fn v2() -> Advert {
        Advert {
            version: Version::V2,
            vrid: 51,
            priority: 100,
            interval_cs: 100,
            addrs: vec![IpAddr::V4(VIP_V4)],
            auth: Some(auth_pass(b"s3cr3t")),
        }
    }

    fn v3_4() -> Advert {
        Advert {
            version: Version::V3,
            vrid: 51,
            priority: 100,
            interval_cs: 100,
            addrs: vec![IpAddr::V4(VIP_V4)],
            auth: None,
        }
    }

    fn v3_6() -> Advert {
        Advert {
            addrs: vec![IpAddr::V6(VIP_V6)],
            ..v3_4()
        }
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn opts() -> DecodeOptions {
        DecodeOptions::default()
    }

    /// Recomputes the checksum after a test has changed a field on purpose.
    fn reseal(msg: &mut [u8], version: Version, ep: &Endpoints) {
        let sum = checksum(msg, version, ep, ChecksumMode::Rfc);
        msg[6..8].copy_from_slice(&sum.to_be_bytes());
    }

    fn decode(msg: &[u8], ep: &Endpoints) -> Result<Advert, DecodeError> {
        Advert::decode(msg, ep, &opts())
    }

    fn enc(a: &Advert, ep: &Endpoints) -> Vec<u8> {
        a.encode(ep, ChecksumMode::Rfc).unwrap()
    }

    fn packet4(a: Advert) -> Vec<u8> {
        Packet {
            ip: IpHeader::V4(Ipv4Header::advert(D1_V4, 1)),
            advert: a,
        }
        .encode(ChecksumMode::Rfc)
        .unwrap()
    }

    fn packet6(a: Advert) -> Vec<u8> {
        Packet {
            ip: IpHeader::V6(Ipv6Header::advert(D1_LL, 0xfb4c1)),
            advert: a,
        }
        .encode(ChecksumMode::Rfc)
        .unwrap()
    }

    // ---- RFC 3768 (VRRPv2) ----

    #[test]
    fn rfc3768_5_1_layout_matches_keepalived() {
        // The VRRP part of keepalived 2.2.7's priority-100 advert (vectors.txt).
        let wire = hex("21336401010164ff0a4d00647333637233740000");
        assert_eq!(enc(&v2(), &ep4()), wire);
        assert_eq!(decode(&wire, &ep4()).unwrap(), v2());
    }

    #[test]
    fn rfc3768_5_2_3_ttl_not_255_rejected() {
        let mut p = packet4(v2());
        for ttl in [0, 1, 64, 254] {
            p[8] = ttl;
            assert_eq!(
                Packet::decode(&p, &opts()),
                Err(DecodeError::Ttl { found: ttl })
            );
        }
        assert_eq!(check_ttl(255), Ok(()));
        assert_eq!(check_ttl(254), Err(DecodeError::Ttl { found: 254 }));
    }

    #[test]
    fn rfc3768_5_2_4_protocol_must_be_112() {
        let mut p = packet4(v2());
        p[9] = 51; // AH
        assert_eq!(
            Packet::decode(&p, &opts()),
            Err(DecodeError::Protocol { found: 51 })
        );
    }

    #[test]
    fn rfc3768_5_3_1_unknown_version_rejected() {
        for found in (0..16u8).filter(|v| !(2..=3).contains(v)) {
            let mut m = enc(&v2(), &ep4());
            m[0] = found << 4 | 1;
            assert_eq!(decode(&m, &ep4()), Err(DecodeError::Version { found }));
        }
    }

    #[test]
    fn rfc3768_5_3_2_unknown_type_rejected() {
        for found in [0u8, 2, 3, 15] {
            let mut m = enc(&v2(), &ep4());
            m[0] = 0x20 | found;
            reseal(&mut m, Version::V2, &ep4());
            assert_eq!(decode(&m, &ep4()), Err(DecodeError::Type { found }));
        }
    }

    #[test]
    fn rfc3768_5_3_3_vrid_zero_rejected() {
        let mut m = enc(&v2(), &ep4());
        m[1] = 0;
        reseal(&mut m, Version::V2, &ep4());
        assert_eq!(decode(&m, &ep4()), Err(DecodeError::Vrid));
        let a = Advert { vrid: 0, ..v2() };
        assert_eq!(a.encode(&ep4(), ChecksumMode::Rfc), Err(EncodeError::Vrid));
    }

    #[test]
    fn rfc3768_5_3_4_priority_0_and_255_carried() {
        for priority in [0, 1, 254, 255] {
            let a = Advert { priority, ..v2() };
            assert_eq!(decode(&enc(&a, &ep4()), &ep4()).unwrap(), a);
        }
    }

    #[test]
    fn rfc3768_5_3_5_count_zero_rejected() {
        // A consistent zero-address message (length 16) with a good checksum.
        let mut m = enc(&v2(), &ep4());
        m.drain(8..12);
        m[3] = 0;
        reseal(&mut m, Version::V2, &ep4());
        assert_eq!(
            decode(&m, &ep4()),
            Err(DecodeError::AddressCount { found: 0 })
        );
        let a = Advert {
            addrs: vec![],
            ..v2()
        };
        assert_eq!(
            a.encode(&ep4(), ChecksumMode::Rfc),
            Err(EncodeError::NoAddresses)
        );
    }

    #[test]
    fn rfc3768_5_3_5_count_must_match_length() {
        let m = enc(&v2(), &ep4());
        let mut more = m.clone();
        more[3] = 2;
        assert_eq!(
            decode(&more, &ep4()),
            Err(DecodeError::Length {
                count: 2,
                expected: 24,
                found: 20
            })
        );
        let mut trailing = m.clone();
        trailing.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(
            decode(&trailing, &ep4()),
            Err(DecodeError::Length {
                count: 1,
                expected: 20,
                found: 24
            })
        );
        assert_eq!(
            decode(&m[..19], &ep4()),
            Err(DecodeError::Length {
                count: 1,
                expected: 20,
                found: 19
            })
        );
        assert_eq!(
            decode(&m[..7], &ep4()),
            Err(DecodeError::Truncated {
                what: "VRRP header",
                need: 8,
                have: 7
            })
        );
    }

    #[test]
    fn rfc3768_5_3_5_up_to_255_addresses() {
        let addrs: Vec<IpAddr> = (0..255u32)
            .map(|i| IpAddr::V4(Ipv4Addr::from(0x0a4d_0000 + i)))
            .collect();
        let a = Advert { addrs, ..v2() };
        assert_eq!(decode(&enc(&a, &ep4()), &ep4()).unwrap(), a);
        let mut too_many = a.clone();
        too_many.addrs.push(IpAddr::V4(VIP_V4));
        assert_eq!(
            too_many.encode(&ep4(), ChecksumMode::Rfc),
            Err(EncodeError::TooManyAddresses { count: 256 })
        );
    }

    #[test]
    fn rfc3768_5_3_6_auth_none_round_trips() {
        let a = Advert { auth: None, ..v2() };
        let m = enc(&a, &ep4());
        assert_eq!(m[4], AUTH_NONE);
        assert_eq!(&m[12..], &[0; 8]);
        assert_eq!(decode(&m, &ep4()).unwrap(), a);
    }

    #[test]
    fn rfc3768_5_3_6_auth_pass_round_trips() {
        let m = enc(&v2(), &ep4());
        assert_eq!(m[4], AUTH_PASS);
        assert_eq!(&m[12..], b"s3cr3t\0\0");
        let o = DecodeOptions {
            auth: AuthPolicy::Require(Some(auth_pass(b"s3cr3t"))),
            ..opts()
        };
        assert_eq!(Advert::decode(&m, &ep4(), &o).unwrap(), v2());
    }

    #[test]
    fn rfc3768_5_3_6_auth_pass_mismatch_rejected() {
        let m = enc(&v2(), &ep4());
        let o = DecodeOptions {
            auth: AuthPolicy::Require(Some(auth_pass(b"s3cr3T"))),
            ..opts()
        };
        let e = Advert::decode(&m, &ep4(), &o).unwrap_err();
        assert_eq!(e, DecodeError::Auth(AuthError::PasswordMismatch));
        assert_eq!(e.reason(), "auth_mismatch");
        assert!(!e.to_string().contains("s3cr3"), "password leaked: {e}");
    }

    #[test]
    fn rfc3768_5_3_6_auth_type_mismatch_rejected() {
        let pass = enc(&v2(), &ep4());
        let none = enc(&Advert { auth: None, ..v2() }, &ep4());
        let want_none = DecodeOptions {
            auth: AuthPolicy::Require(None),
            ..opts()
        };
        let want_pass = DecodeOptions {
            auth: AuthPolicy::Require(Some(auth_pass(b"s3cr3t"))),
            ..opts()
        };
        assert_eq!(
            Advert::decode(&pass, &ep4(), &want_none),
            Err(DecodeError::Auth(AuthError::TypeMismatch {
                expected: 0,
                found: 1
            }))
        );
        assert_eq!(
            Advert::decode(&none, &ep4(), &want_pass),
            Err(DecodeError::Auth(AuthError::TypeMismatch {
                expected: 1,
                found: 0
            }))
        );
        assert!(Advert::decode(&none, &ep4(), &want_none).is_ok());
    }

    #[test]
    fn rfc3768_5_3_6_auth_ah_rejected_as_unsupported() {
        let mut m = enc(&v2(), &ep4());
        m[4] = AUTH_AH;
        reseal(&mut m, Version::V2, &ep4());
        let e = decode(&m, &ep4()).unwrap_err();
        assert_eq!(e, DecodeError::Auth(AuthError::AhUnsupported));
        assert_eq!(e.reason(), "auth_ah_unsupported");
    }

    #[test]
    fn rfc3768_5_3_6_unknown_auth_type_rejected() {
        let mut m = enc(&v2(), &ep4());
        m[4] = 3;
        reseal(&mut m, Version::V2, &ep4());
        assert_eq!(
            decode(&m, &ep4()),
            Err(DecodeError::Auth(AuthError::UnknownType(3)))
        );
    }

    #[test]
    fn rfc3768_5_3_7_interval_is_whole_seconds() {
        for s in [1u16, 2, 255] {
            let a = Advert {
                interval_cs: s * 100,
                ..v2()
            };
            let m = enc(&a, &ep4());
            assert_eq!(u16::from(m[5]), s);
            assert_eq!(decode(&m, &ep4()).unwrap(), a);
        }
        for interval_cs in [0u16, 10, 50, 150, 25_600, u16::MAX] {
            let a = Advert {
                interval_cs,
                ..v2()
            };
            assert_eq!(
                a.encode(&ep4(), ChecksumMode::Rfc),
                Err(EncodeError::Interval {
                    version: Version::V2,
                    interval_cs
                })
            );
        }
    }

    #[test]
    fn rfc3768_5_3_7_interval_zero_rejected() {
        let mut m = enc(&v2(), &ep4());
        m[5] = 0;
        reseal(&mut m, Version::V2, &ep4());
        assert_eq!(decode(&m, &ep4()).unwrap_err().reason(), "bad_interval");
    }

    #[test]
    fn rfc3768_5_3_8_checksum_covers_message_only() {
        // No pseudo-header in v2: the same bytes are valid between any addresses.
        let m = enc(&v2(), &ep4());
        let elsewhere = Endpoints::V4 {
            src: Ipv4Addr::new(192, 0, 2, 1),
            dst: Ipv4Addr::new(192, 0, 2, 2),
        };
        assert_eq!(enc(&v2(), &elsewhere), m);
        assert_eq!(decode(&m, &elsewhere).unwrap(), v2());
        let mut sum = 0u64;
        for w in m.chunks(2) {
            sum += u64::from(u16::from_be_bytes([w[0], w[1]]));
        }
        assert_eq!(fold(sum), 0xffff);
    }

    #[test]
    fn rfc3768_5_3_8_bad_checksum_rejected() {
        let mut m = enc(&v2(), &ep4());
        m[7] ^= 0x01;
        assert_eq!(
            decode(&m, &ep4()),
            Err(DecodeError::Checksum {
                expected: 0x64ff,
                found: 0x64fe
            })
        );
        // Corruption elsewhere is caught too, before any field is looked at.
        let mut m = enc(&v2(), &ep4());
        m[1] = 0;
        assert_eq!(decode(&m, &ep4()).unwrap_err().reason(), "bad_checksum");
    }

    #[test]
    fn rfc3768_5_3_10_auth_data_ignored_without_auth() {
        let mut m = enc(&Advert { auth: None, ..v2() }, &ep4());
        m[12..].copy_from_slice(b"leftover");
        reseal(&mut m, Version::V2, &ep4());
        assert_eq!(decode(&m, &ep4()).unwrap().auth, None);
    }

    #[test]
    fn rfc3768_v2_is_ipv4_only() {
        let a = Advert {
            addrs: vec![IpAddr::V6(VIP_V6)],
            auth: None,
            ..v2()
        };
        assert_eq!(
            a.encode(&ep6(), ChecksumMode::Rfc),
            Err(EncodeError::V2OverIpv6)
        );
        // A v2 message arriving over IPv6.
        let mut m = enc(&v3_6(), &ep6());
        m[0] = 0x21;
        assert_eq!(
            decode(&m, &ep6()),
            Err(DecodeError::Family {
                version: Version::V2,
                supported: "IPv4",
                found: IpFamily::V6
            })
        );
    }

    #[test]
    fn addresses_must_match_the_carrying_family() {
        assert_eq!(
            v3_6().encode(&ep4(), ChecksumMode::Rfc),
            Err(EncodeError::AddressFamily {
                addr: IpAddr::V6(VIP_V6),
                family: IpFamily::V4
            })
        );
        let mixed = Advert {
            addrs: vec![IpAddr::V4(VIP_V4), IpAddr::V6(VIP_V6)],
            ..v3_4()
        };
        assert_eq!(
            mixed
                .encode(&ep4(), ChecksumMode::Rfc)
                .unwrap_err()
                .reason(),
            "bad_family"
        );
        // An IPv4-sized message decoded as IPv6 fails its length check.
        let m = enc(&v3_4(), &ep4());
        assert_eq!(decode(&m, &ep6()).unwrap_err().reason(), "bad_length");
        assert_eq!(
            Endpoints::new(IpAddr::V4(D1_V4), IpAddr::V6(VRRP_GROUP_V6)),
            None
        );
    }

    // ---- RFC 9568 (VRRPv3) ----

    #[test]
    fn rfc9568_5_1_layout_matches_keepalived() {
        let wire4 = hex("31336401006474930a4d0064");
        assert_eq!(enc(&v3_4(), &ep4()), wire4);
        assert_eq!(decode(&wire4, &ep4()).unwrap(), v3_4());
        let wire6 = hex("3133640100646de9fd770000000000000000000000000100");
        assert_eq!(enc(&v3_6(), &ep6()), wire6);
        assert_eq!(decode(&wire6, &ep6()).unwrap(), v3_6());
    }

    #[test]
    fn rfc9568_5_1_1_3_ttl_not_255_rejected() {
        let mut p = packet4(v3_4());
        p[8] = 254;
        assert_eq!(
            Packet::decode(&p, &opts()),
            Err(DecodeError::Ttl { found: 254 })
        );
    }

    #[test]
    fn rfc9568_5_1_2_3_hop_limit_not_255_rejected() {
        let mut p = packet6(v3_6());
        p[7] = 1;
        assert_eq!(
            Packet::decode(&p, &opts()),
            Err(DecodeError::Ttl { found: 1 })
        );
    }

    #[test]
    fn rfc9568_5_1_2_4_next_header_must_be_112() {
        let mut p = packet6(v3_6());
        p[6] = 0; // hop-by-hop options: extension headers are not supported
        assert_eq!(
            Packet::decode(&p, &opts()),
            Err(DecodeError::Protocol { found: 0 })
        );
    }

    #[test]
    fn rfc9568_5_2_1_version_3_round_trips() {
        let m = enc(&v3_4(), &ep4());
        assert_eq!(m[0] >> 4, 3);
        assert_eq!(decode(&m, &ep4()).unwrap().version, Version::V3);
    }

    #[test]
    fn rfc9568_5_2_2_unknown_type_rejected() {
        let mut m = enc(&v3_6(), &ep6());
        m[0] = 0x32;
        reseal(&mut m, Version::V3, &ep6());
        assert_eq!(decode(&m, &ep6()), Err(DecodeError::Type { found: 2 }));
    }

    #[test]
    fn rfc9568_5_2_3_vrid_zero_rejected() {
        let mut m = enc(&v3_6(), &ep6());
        m[1] = 0;
        reseal(&mut m, Version::V3, &ep6());
        assert_eq!(decode(&m, &ep6()), Err(DecodeError::Vrid));
    }

    #[test]
    fn rfc9568_5_2_5_count_minimum_is_1() {
        let mut m = enc(&v3_6(), &ep6());
        m.truncate(8);
        m[3] = 0;
        reseal(&mut m, Version::V3, &ep6());
        assert_eq!(
            decode(&m, &ep6()),
            Err(DecodeError::AddressCount { found: 0 })
        );
        let a = Advert {
            addrs: vec![],
            ..v3_6()
        };
        assert_eq!(
            a.encode(&ep6(), ChecksumMode::Rfc),
            Err(EncodeError::NoAddresses)
        );
    }

    #[test]
    fn rfc9568_5_2_5_count_must_match_length() {
        let mut m = enc(&v3_6(), &ep6());
        m[3] = 2;
        assert_eq!(
            decode(&m, &ep6()),
            Err(DecodeError::Length {
                count: 2,
                expected: 40,
                found: 24
            })
        );
    }

    #[test]
    fn rfc9568_5_2_6_rsvd_zero_on_transmit_ignored_on_receive() {
        let a = Advert {
            interval_cs: 4095,
            ..v3_4()
        };
        let mut m = enc(&a, &ep4());
        assert_eq!(m[4] >> 4, 0);
        m[4] |= 0xf0;
        reseal(&mut m, Version::V3, &ep4());
        assert_eq!(decode(&m, &ep4()).unwrap(), a);
    }

    #[test]
    fn rfc9568_5_2_7_interval_is_12_bit_centiseconds() {
        for interval_cs in [1u16, 10, 100, 4095] {
            let a = Advert {
                interval_cs,
                ..v3_6()
            };
            let m = enc(&a, &ep6());
            assert_eq!(u16::from_be_bytes([m[4], m[5]]), interval_cs);
            assert_eq!(decode(&m, &ep6()).unwrap(), a);
        }
        for interval_cs in [0u16, 4096, u16::MAX] {
            let a = Advert {
                interval_cs,
                ..v3_6()
            };
            assert_eq!(
                a.encode(&ep6(), ChecksumMode::Rfc),
                Err(EncodeError::Interval {
                    version: Version::V3,
                    interval_cs
                })
            );
        }
        let mut m = enc(&v3_6(), &ep6());
        m[4] = 0;
        m[5] = 0;
        reseal(&mut m, Version::V3, &ep6());
        assert_eq!(
            decode(&m, &ep6()),
            Err(DecodeError::Interval {
                found: 0,
                unit: "centiseconds"
            })
        );
    }

    #[test]
    fn rfc9568_5_2_8_checksum_covers_ipv4_pseudo_header() {
        let m = enc(&v3_4(), &ep4());
        let other_src = Endpoints::V4 {
            src: Ipv4Addr::new(10, 77, 0, 70),
            dst: VRRP_GROUP_V4,
        };
        assert_eq!(decode(&m, &other_src).unwrap_err().reason(), "bad_checksum");
        let unicast = Endpoints::V4 {
            src: D1_V4,
            dst: Ipv4Addr::new(10, 77, 0, 70),
        };
        assert_eq!(decode(&m, &unicast).unwrap_err().reason(), "bad_checksum");
    }

    #[test]
    fn rfc9568_5_2_8_checksum_covers_ipv6_pseudo_header() {
        let m = enc(&v3_6(), &ep6());
        let other_src = Endpoints::V6 {
            src: Ipv6Addr::new(0xfe80, 0, 0, 0, 0x77, 0xff, 0xfe00, 0x70),
            dst: VRRP_GROUP_V6,
        };
        assert_eq!(decode(&m, &other_src).unwrap_err().reason(), "bad_checksum");
        // IPv6 always uses the pseudo-header, whatever the IPv4 compatibility mode says.
        assert_eq!(
            v3_6()
                .encode(&ep6(), ChecksumMode::V3Ipv4WithoutPseudoHeader)
                .unwrap(),
            m
        );
    }

    #[test]
    fn rfc9568_5_2_8_v3_ipv4_without_pseudo_header_mode() {
        let compat = DecodeOptions {
            checksum: ChecksumMode::V3Ipv4WithoutPseudoHeader,
            ..opts()
        };
        let m = v3_4()
            .encode(&ep4(), ChecksumMode::V3Ipv4WithoutPseudoHeader)
            .unwrap();
        assert_eq!(hex("5fb6"), &m[6..8]); // computed over the message alone
        assert_eq!(Advert::decode(&m, &ep4(), &compat).unwrap(), v3_4());
        // Independent of the addresses, like v2.
        let elsewhere = Endpoints::V4 {
            src: Ipv4Addr::new(192, 0, 2, 1),
            dst: VRRP_GROUP_V4,
        };
        assert!(Advert::decode(&m, &elsewhere, &compat).is_ok());
        // Each mode rejects the other's checksum.
        assert_eq!(decode(&m, &ep4()).unwrap_err().reason(), "bad_checksum");
        let rfc = enc(&v3_4(), &ep4());
        assert_eq!(
            Advert::decode(&rfc, &ep4(), &compat).unwrap_err().reason(),
            "bad_checksum"
        );
    }

    #[test]
    fn rfc1071_both_zero_checksums_accepted() {
        // Find an advert whose checksum computes to 0x0000; 0xffff is the same value.
        let a = (0..=u16::MAX)
            .map(|i| Advert {
                addrs: vec![IpAddr::V4(Ipv4Addr::from(0x0a4d_0000 | u32::from(i)))],
                ..v3_4()
            })
            .find(|a| enc(a, &ep4())[6..8] == [0, 0])
            .expect("some address gives a zero checksum");
        let mut m = enc(&a, &ep4());
        assert_eq!(decode(&m, &ep4()).unwrap(), a);
        m[6] = 0xff;
        m[7] = 0xff;
        assert_eq!(decode(&m, &ep4()).unwrap(), a);
    }

    #[test]
    fn rfc9568_5_1_v3_has_no_authentication() {
        let a = Advert {
            auth: Some(auth_pass(b"s3cr3t")),
            ..v3_4()
        };
        assert_eq!(
            a.encode(&ep4(), ChecksumMode::Rfc),
            Err(EncodeError::AuthOnV3)
        );
        let want_pass = DecodeOptions {
            auth: AuthPolicy::Require(Some(auth_pass(b"s3cr3t"))),
            ..opts()
        };
        assert_eq!(
            Advert::decode(&enc(&v3_4(), &ep4()), &ep4(), &want_pass),
            Err(DecodeError::Auth(AuthError::TypeMismatch {
                expected: 1,
                found: 0
            }))
        );
    }

    // ---- whole packets ----

    #[test]
    fn ipv4_packet_as_keepalived_sends_it() {
        let p = packet4(v2());
        assert_eq!(
            p,
            hex("45c0002800010000ff70cffe0a4d0047e000001221336401010164ff0a4d00647333637233740000")
        );
        let d = Packet::decode(&p, &opts()).unwrap();
        assert_eq!(d.ip, IpHeader::V4(Ipv4Header::advert(D1_V4, 1)));
        assert_eq!(d.ip.src(), IpAddr::V4(D1_V4));
        assert_eq!(d.advert, v2());
    }

    #[test]
    fn ipv4_packet_dont_fragment_and_options() {
        let pkt = Packet {
            ip: IpHeader::V4(Ipv4Header {
                dont_fragment: true,
                ..Ipv4Header::advert(D1_V4, 7)
            }),
            advert: v3_4(),
        };
        let p = pkt.encode(ChecksumMode::Rfc).unwrap();
        assert_eq!(&p[6..8], &[0x40, 0]);
        assert_eq!(Packet::decode(&p, &opts()).unwrap(), pkt);
        // Four bytes of options (router alert) are skipped.
        let mut with_opts = p[..20].to_vec();
        with_opts[0] = 0x46;
        with_opts[3] += 4;
        with_opts.extend_from_slice(&[0x94, 0x04, 0, 0]);
        with_opts.extend_from_slice(&p[20..]);
        assert_eq!(Packet::decode(&with_opts, &opts()).unwrap(), pkt);
    }

    #[test]
    fn ipv4_fragments_rejected() {
        let mut p = packet4(v2());
        p[6] = 0x20; // more fragments
        assert_eq!(
            Packet::decode(&p, &opts()).unwrap_err().reason(),
            "bad_ip_header"
        );
    }

    #[test]
    fn ethernet_padding_after_the_packet_ignored() {
        let mut p = packet4(v3_4());
        p.resize(46, 0);
        assert_eq!(Packet::decode(&p, &opts()).unwrap().advert, v3_4());
        let mut p = packet6(v3_6());
        p.extend_from_slice(&[0; 6]);
        assert_eq!(Packet::decode(&p, &opts()).unwrap().advert, v3_6());
    }

    #[test]
    fn ipv6_packet_header_fields() {
        let p = packet6(v3_6());
        assert_eq!(
            &p[..8],
            &hex("6c0fb4c1001870ff")[..],
            "version 6, class 0xc0, flow label, payload 24, next header 112, hop limit 255"
        );
        // The whole packet, as in vectors.txt (the sum alone cannot tell fe00:71 from fe71).
        assert_eq!(
            p,
            hex(concat!(
                "6c0fb4c1001870ff",
                "fe80000000000000007700fffe000071",
                "ff020000000000000000000000000012",
                "3133640100646de9fd770000000000000000000000000100"
            ))
        );
        let d = Packet::decode(&p, &opts()).unwrap();
        assert_eq!(d.ip, IpHeader::V6(Ipv6Header::advert(D1_LL, 0xfb4c1)));
        let bad = Packet {
            ip: IpHeader::V6(Ipv6Header::advert(D1_LL, 0x10_0000)),
            advert: v3_6(),
        };
        assert_eq!(
            bad.encode(ChecksumMode::Rfc),
            Err(EncodeError::FlowLabel(0x10_0000))
        );
    }

    #[test]
    fn truncated_packets_rejected() {
        for p in [packet4(v2()), packet6(v3_6())] {
            for n in 0..p.len() {
                assert_eq!(
                    Packet::decode(&p[..n], &opts()).unwrap_err().reason(),
                    "truncated",
                    "{n} bytes"
                );
            }
        }
    }

    #[test]
    fn bad_ip_headers_rejected() {
        let mut p = packet4(v2());
        p[0] = 0x55;
        assert_eq!(
            Packet::decode(&p, &opts()).unwrap_err().reason(),
            "bad_ip_header"
        );
        p[0] = 0x44; // IHL 16 bytes
        assert_eq!(
            Packet::decode(&p, &opts()).unwrap_err().reason(),
            "bad_ip_header"
        );
        let mut p = packet4(v2());
        p[2] = 0;
        p[3] = 19;
        assert_eq!(
            Packet::decode(&p, &opts()).unwrap_err().reason(),
            "bad_ip_header"
        );
    }

    #[test]
    fn encode_into_appends_and_leaves_buffer_alone_on_error() {
        let mut out = vec![0xaa];
        v2().encode_into(&ep4(), ChecksumMode::Rfc, &mut out)
            .unwrap();
        assert_eq!(out[0], 0xaa);
        assert_eq!(&out[1..], &enc(&v2(), &ep4())[..]);
        let before = out.clone();
        let bad = Packet {
            ip: IpHeader::V4(Ipv4Header::advert(D1_V4, 1)),
            advert: Advert { vrid: 0, ..v2() },
        };
        assert!(bad.encode_into(ChecksumMode::Rfc, &mut out).is_err());
        assert_eq!(out, before);
    }

    #[test]
    fn auth_pass_pads_and_truncates_like_keepalived() {
        assert_eq!(&auth_pass(b"s3cr3t"), b"s3cr3t\0\0");
        assert_eq!(&auth_pass(b"longer-than-8"), b"longer-t");
        assert_eq!(auth_pass(b""), [0; 8]);
    }

    #[test]
    fn every_error_names_its_field_and_has_a_distinct_reason() {
        let errors = [
            DecodeError::Truncated {
                what: "IPv4 header",
                need: 20,
                have: 3,
            },
            DecodeError::IpHeader("IPv4 fragment"),
            DecodeError::Protocol { found: 6 },
            DecodeError::Ttl { found: 64 },
            DecodeError::Version { found: 4 },
            DecodeError::Type { found: 2 },
            DecodeError::Vrid,
            DecodeError::Checksum {
                expected: 1,
                found: 2,
            },
            DecodeError::Auth(AuthError::AhUnsupported),
            DecodeError::Auth(AuthError::UnknownType(9)),
            DecodeError::Auth(AuthError::TypeMismatch {
                expected: 1,
                found: 0,
            }),
            DecodeError::Auth(AuthError::PasswordMismatch),
            DecodeError::Length {
                count: 2,
                expected: 16,
                found: 12,
            },
            DecodeError::AddressCount { found: 0 },
            DecodeError::Interval {
                found: 0,
                unit: "seconds",
            },
            DecodeError::Family {
                version: Version::V2,
                supported: "IPv4",
                found: IpFamily::V6,
            },
        ];
        let words = [
            "truncated",
            "IP header",
            "protocol",
            "TTL",
            "version",
            "type",
            "VRID",
            "checksum",
            "auth type 2",
            "auth type 9",
            "auth type 0",
            "password",
            "length",
            "address count",
            "interval",
            "family",
        ];
        let mut reasons = std::collections::HashSet::new();
        for (e, word) in errors.iter().zip(words) {
            let text = e.to_string();
            assert!(text.contains(word), "{text:?} should mention {word:?}");
            assert!(
                reasons.insert(e.reason()),
                "duplicate reason {}",
                e.reason()
            );
        }
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    fn endpoints(family: IpFamily) -> BoxedStrategy<Endpoints> {
        match family {
            IpFamily::V4 => (any::<u32>(), any::<u32>())
                .prop_map(|(s, d)| Endpoints::V4 {
                    src: Ipv4Addr::from(s),
                    dst: Ipv4Addr::from(d),
                })
                .boxed(),
            IpFamily::V6 => (any::<u128>(), any::<u128>())
                .prop_map(|(s, d)| Endpoints::V6 {
                    src: Ipv6Addr::from(s),
                    dst: Ipv6Addr::from(d),
                })
                .boxed(),
        }
    }

    fn addrs(family: IpFamily, max: usize) -> BoxedStrategy<Vec<IpAddr>> {
        match family {
            IpFamily::V4 => {
                prop::collection::vec(any::<u32>().prop_map(|a| Ipv4Addr::from(a).into()), 1..=max)
                    .boxed()
            }
            IpFamily::V6 => prop::collection::vec(
                any::<u128>().prop_map(|a| Ipv6Addr::from(a).into()),
                1..=max,
            )
            .boxed(),
        }
    }

    /// Any valid advert with endpoints of its family: v2 over IPv4, v3 over IPv4 or IPv6.
    fn advert_and_endpoints() -> impl Strategy<Value = (Advert, Endpoints)> {
        prop_oneof![
            Just((Version::V2, IpFamily::V4)),
            Just((Version::V3, IpFamily::V4)),
            Just((Version::V3, IpFamily::V6)),
        ]
        .prop_flat_map(|(version, family)| {
            let interval = match version {
                Version::V2 => (1u16..=255).prop_map(|s| s * 100).boxed(),
                Version::V3 => (1u16..=4095).boxed(),
            };
            let auth = match version {
                Version::V2 => proptest::option::of(any::<[u8; 8]>()).boxed(),
                Version::V3 => Just(None).boxed(),
            };
            (
                1u8..=255,
                any::<u8>(),
                interval,
                addrs(family, 40),
                auth,
                endpoints(family),
            )
                .prop_map(move |(vrid, priority, interval_cs, addrs, auth, ep)| {
                    (
                        Advert {
                            version,
                            vrid,
                            priority,
                            interval_cs,
                            addrs,
                            auth,
                        },
                        ep,
                    )
                })
        })
    }

    fn mode() -> impl Strategy<Value = ChecksumMode> {
        prop_oneof![
            Just(ChecksumMode::Rfc),
            Just(ChecksumMode::V3Ipv4WithoutPseudoHeader)
        ]
    }

    fn packet() -> impl Strategy<Value = Packet> {
        (
            advert_and_endpoints(),
            any::<u8>(),
            any::<u16>(),
            any::<bool>(),
            0u32..=MAX_FLOW_LABEL,
        )
            .prop_map(|((advert, ep), tos, id, df, flow_label)| {
                let ip = match ep {
                    Endpoints::V4 { src, dst } => IpHeader::V4(Ipv4Header {
                        src,
                        dst,
                        tos,
                        id,
                        dont_fragment: df,
                    }),
                    Endpoints::V6 { src, dst } => IpHeader::V6(Ipv6Header {
                        src,
                        dst,
                        traffic_class: tos,
                        flow_label,
                    }),
                };
                Packet { ip, advert }
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn advert_round_trips((advert, ep) in advert_and_endpoints(), mode in mode()) {
            let msg = advert.encode(&ep, mode).unwrap();
            prop_assert_eq!(msg.len(), advert.encoded_len());
            let opts = DecodeOptions { checksum: mode, auth: AuthPolicy::Require(advert.auth) };
            prop_assert_eq!(Advert::decode(&msg, &ep, &opts).unwrap(), advert);
        }

        #[test]
        fn packet_round_trips(pkt in packet(), mode in mode()) {
            let bytes = pkt.encode(mode).unwrap();
            let opts = DecodeOptions { checksum: mode, ..DecodeOptions::default() };
            prop_assert_eq!(Packet::decode(&bytes, &opts).unwrap(), pkt);
        }

        /// The Internet checksum catches every single-bit error in the message.
        #[test]
        fn any_single_bit_flip_is_rejected((advert, ep) in advert_and_endpoints(), bit in any::<prop::sample::Index>()) {
            let mut msg = advert.encode(&ep, ChecksumMode::Rfc).unwrap();
            let bit = bit.index(msg.len() * 8);
            msg[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(Advert::decode(&msg, &ep, &DecodeOptions::default()).is_err());
        }

        #[test]
        fn decode_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300), v6 in any::<bool>()) {
            let _ = Packet::decode(&bytes, &DecodeOptions::default());
            let ep = if v6 {
                Endpoints::V6 { src: Ipv6Addr::LOCALHOST, dst: VRRP_GROUP_V6 }
            } else {
                Endpoints::V4 { src: Ipv4Addr::LOCALHOST, dst: VRRP_GROUP_V4 }
            };
            let _ = Advert::decode(&bytes, &ep, &DecodeOptions::default());
        }

        /// Plausible headers with garbage after them reach deeper than uniform noise does.
        #[test]
        fn decode_mangled_packets_never_panics(pkt in packet(), edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6), cut in any::<prop::sample::Index>()) {
            let mut bytes = pkt.encode(ChecksumMode::Rfc).unwrap();
            for (at, value) in edits {
                let i = at.index(bytes.len());
                bytes[i] = value;
            }
            let n = cut.index(bytes.len() + 1);
            let _ = Packet::decode(&bytes[..n], &DecodeOptions::default());
        }
    }
}
