//! BFD control packet codec (RFC 5880 §4.1, §4.4, §6.7.4). Pure: bytes in, values out.
//!
//! Decoding applies the reception checks of RFC 5880 §6.8.6 that need no session (version,
//! lengths, detect multiplier, multipoint, discriminators) so a caller gets either a packet a
//! session may look at or a named reason to drop and count it. Keyed SHA1 and Meticulous Keyed
//! SHA1 are signed and verified here; the sequence-number window is the session's business.

use std::fmt;

use sha1::{Digest, Sha1};
use thiserror::Error;

/// The only BFD version (RFC 5880 §4.1).
pub const VERSION: u8 = 1;
/// UDP port of single-hop BFD control packets (RFC 5881 §4).
pub const CONTROL_PORT: u16 = 3784;
/// Source ports a single-hop session sends from (RFC 5881 §4).
pub const SOURCE_PORTS: std::ops::RangeInclusive<u16> = 49152..=65535;
/// TTL / hop limit sent, and required on reception of single-hop packets (RFC 5881 §5).
pub const TTL: u8 = 255;
/// The mandatory section's length.
pub const HEADER_LEN: usize = 24;
/// Auth Type 4 and 5: type, length, key id, reserved, sequence number, 20-byte hash.
const SHA1_AUTH_LEN: usize = 28;

/// bfd.SessionState / the packet's State field (RFC 5880 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    AdminDown = 0,
    Down = 1,
    Init = 2,
    Up = 3,
}

impl State {
    fn from_bits(b: u8) -> Self {
        match b & 3 {
            0 => State::AdminDown,
            1 => State::Down,
            2 => State::Init,
            _ => State::Up,
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::AdminDown => "AdminDown",
            State::Down => "Down",
            State::Init => "Init",
            State::Up => "Up",
        })
    }
}

/// The Diag field: why the sender's session last left Up (RFC 5880 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Diag {
    None,
    ControlDetectionTimeExpired,
    EchoFunctionFailed,
    NeighborSignaledSessionDown,
    ForwardingPlaneReset,
    PathDown,
    ConcatenatedPathDown,
    AdministrativelyDown,
    ReverseConcatenatedPathDown,
    /// 9-31: reserved; kept so a peer's value is shown as it came.
    Reserved(u8),
}

impl Diag {
    pub fn from_code(c: u8) -> Self {
        match c & 0x1f {
            0 => Diag::None,
            1 => Diag::ControlDetectionTimeExpired,
            2 => Diag::EchoFunctionFailed,
            3 => Diag::NeighborSignaledSessionDown,
            4 => Diag::ForwardingPlaneReset,
            5 => Diag::PathDown,
            6 => Diag::ConcatenatedPathDown,
            7 => Diag::AdministrativelyDown,
            8 => Diag::ReverseConcatenatedPathDown,
            n => Diag::Reserved(n),
        }
    }

    pub fn code(self) -> u8 {
        match self {
            Diag::None => 0,
            Diag::ControlDetectionTimeExpired => 1,
            Diag::EchoFunctionFailed => 2,
            Diag::NeighborSignaledSessionDown => 3,
            Diag::ForwardingPlaneReset => 4,
            Diag::PathDown => 5,
            Diag::ConcatenatedPathDown => 6,
            Diag::AdministrativelyDown => 7,
            Diag::ReverseConcatenatedPathDown => 8,
            Diag::Reserved(n) => n & 0x1f,
        }
    }
}

impl fmt::Display for Diag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Diag::None => f.write_str("no diagnostic"),
            Diag::ControlDetectionTimeExpired => f.write_str("control detection time expired"),
            Diag::EchoFunctionFailed => f.write_str("echo function failed"),
            Diag::NeighborSignaledSessionDown => f.write_str("neighbor signaled session down"),
            Diag::ForwardingPlaneReset => f.write_str("forwarding plane reset"),
            Diag::PathDown => f.write_str("path down"),
            Diag::ConcatenatedPathDown => f.write_str("concatenated path down"),
            Diag::AdministrativelyDown => f.write_str("administratively down"),
            Diag::ReverseConcatenatedPathDown => f.write_str("reverse concatenated path down"),
            Diag::Reserved(n) => write!(f, "reserved diagnostic {n}"),
        }
    }
}

/// The authentication a session uses (RFC 5880 §6.7). Only the SHA1 types are offered:
/// simple password and MD5 are deprecated for new deployments and no peer here needs them.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthKey {
    /// Meticulous Keyed SHA1 (type 5: the sequence number moves on with every packet) rather
    /// than Keyed SHA1 (type 4).
    pub meticulous: bool,
    pub key_id: u8,
    /// Up to 20 bytes, zero-padded to 20 for the hash (RFC 5880 §6.7.4).
    pub secret: Vec<u8>,
}

impl fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthKey")
            .field("meticulous", &self.meticulous)
            .field("key_id", &self.key_id)
            .field("secret", &"…")
            .finish()
    }
}

impl AuthKey {
    fn auth_type(&self) -> u8 {
        if self.meticulous { 5 } else { 4 }
    }
}

/// The authentication section of a received packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthSection {
    pub auth_type: u8,
    pub key_id: u8,
    pub seq: u32,
}

/// A BFD control packet, every field of the mandatory section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Control {
    pub diag: Diag,
    pub state: State,
    pub poll: bool,
    pub final_: bool,
    pub control_plane_independent: bool,
    pub demand: bool,
    pub detect_mult: u8,
    pub my_disc: u32,
    pub your_disc: u32,
    /// Microseconds, as on the wire.
    pub desired_min_tx_us: u32,
    pub required_min_rx_us: u32,
    pub required_min_echo_rx_us: u32,
    /// Present when the A bit was set (filled in by [`Control::decode`]).
    pub auth: Option<AuthSection>,
}

/// Why a received packet was dropped, one counter each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("shorter than a BFD header ({0} bytes)")]
    Truncated(usize),
    #[error("version {0}, not 1")]
    Version(u8),
    #[error("length field {field} does not fit the {got} bytes received (or is below the minimum)")]
    Length { field: u8, got: usize },
    #[error("detect multiplier 0")]
    DetectMultZero,
    #[error("multipoint bit set")]
    Multipoint,
    #[error("my discriminator 0")]
    MyDiscZero,
    #[error("your discriminator 0 in state {0}")]
    YourDiscZero(State),
    #[error("authentication section malformed (type {0})")]
    AuthMalformed(u8),
    #[error("authentication present, none configured")]
    AuthUnexpected,
    #[error("no authentication, but the session requires it")]
    AuthMissing,
    #[error("authentication type {got}, expected {want}")]
    AuthType { got: u8, want: u8 },
    #[error("key id {got}, expected {want}")]
    AuthKeyId { got: u8, want: u8 },
    #[error("SHA1 hash does not match")]
    AuthHash,
}

impl DecodeError {
    /// A short stable name for counters.
    pub fn counter(&self) -> &'static str {
        match self {
            DecodeError::Truncated(_) => "truncated",
            DecodeError::Version(_) => "bad_version",
            DecodeError::Length { .. } => "bad_length",
            DecodeError::DetectMultZero => "detect_mult_zero",
            DecodeError::Multipoint => "multipoint",
            DecodeError::MyDiscZero => "my_disc_zero",
            DecodeError::YourDiscZero(_) => "your_disc_zero",
            DecodeError::AuthMalformed(_) => "auth_malformed",
            DecodeError::AuthUnexpected => "auth_unexpected",
            DecodeError::AuthMissing => "auth_missing",
            DecodeError::AuthType { .. } => "auth_type",
            DecodeError::AuthKeyId { .. } => "auth_key_id",
            DecodeError::AuthHash => "auth_hash",
        }
    }
}

impl Control {
    /// Encode, signing with `auth` (and its sequence number `seq`) when given.
    pub fn encode(&self, auth: Option<(&AuthKey, u32)>) -> Vec<u8> {
        let len = HEADER_LEN + if auth.is_some() { SHA1_AUTH_LEN } else { 0 };
        let mut b = Vec::with_capacity(len);
        b.push((VERSION << 5) | self.diag.code());
        let flags = (self.state as u8) << 6
            | u8::from(self.poll) << 5
            | u8::from(self.final_) << 4
            | u8::from(self.control_plane_independent) << 3
            | u8::from(auth.is_some()) << 2
            | u8::from(self.demand) << 1;
        b.push(flags);
        b.push(self.detect_mult);
        b.push(len as u8);
        for w in [
            self.my_disc,
            self.your_disc,
            self.desired_min_tx_us,
            self.required_min_rx_us,
            self.required_min_echo_rx_us,
        ] {
            b.extend_from_slice(&w.to_be_bytes());
        }
        if let Some((key, seq)) = auth {
            b.push(key.auth_type());
            b.push(SHA1_AUTH_LEN as u8);
            b.push(key.key_id);
            b.push(0);
            b.extend_from_slice(&seq.to_be_bytes());
            let hash_at = b.len();
            b.extend_from_slice(&padded(&key.secret));
            let hash = Sha1::digest(&b);
            b[hash_at..].copy_from_slice(&hash);
        }
        b
    }

    /// Decode and check a received packet; `auth` is the session's key (None: the session
    /// runs without authentication and refuses packets that carry it).
    pub fn decode(bytes: &[u8], auth: Option<&AuthKey>) -> Result<Control, DecodeError> {
        let c = Self::decode_unauthenticated(bytes)?;
        match (c.auth, auth) {
            (None, None) => Ok(c),
            (Some(_), None) => Err(DecodeError::AuthUnexpected),
            (None, Some(_)) => Err(DecodeError::AuthMissing),
            (Some(a), Some(key)) => {
                if a.auth_type != key.auth_type() {
                    return Err(DecodeError::AuthType {
                        got: a.auth_type,
                        want: key.auth_type(),
                    });
                }
                if a.key_id != key.key_id {
                    return Err(DecodeError::AuthKeyId {
                        got: a.key_id,
                        want: key.key_id,
                    });
                }
                let len = bytes[3] as usize;
                let hash_at = HEADER_LEN + 8;
                let mut copy = bytes[..len].to_vec();
                copy[hash_at..hash_at + 20].copy_from_slice(&padded(&key.secret));
                if Sha1::digest(&copy)[..] != bytes[hash_at..hash_at + 20] {
                    return Err(DecodeError::AuthHash);
                }
                Ok(c)
            }
        }
    }

    /// Structure and the session-free checks of RFC 5880 §6.8.6, without verifying a hash
    /// (for demultiplexing before the session, and so its key, is known).
    pub fn decode_unauthenticated(bytes: &[u8]) -> Result<Control, DecodeError> {
        if bytes.len() < HEADER_LEN {
            return Err(DecodeError::Truncated(bytes.len()));
        }
        let version = bytes[0] >> 5;
        if version != VERSION {
            return Err(DecodeError::Version(version));
        }
        let flags = bytes[1];
        let has_auth = flags & 0x04 != 0;
        let len = bytes[3];
        let min = if has_auth { HEADER_LEN + 2 } else { HEADER_LEN };
        if (len as usize) < min || len as usize > bytes.len() {
            return Err(DecodeError::Length {
                field: len,
                got: bytes.len(),
            });
        }
        if bytes[2] == 0 {
            return Err(DecodeError::DetectMultZero);
        }
        if flags & 0x01 != 0 {
            return Err(DecodeError::Multipoint);
        }
        let word = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
        let state = State::from_bits(flags >> 6);
        let (my_disc, your_disc) = (word(4), word(8));
        if my_disc == 0 {
            return Err(DecodeError::MyDiscZero);
        }
        if your_disc == 0 && !matches!(state, State::Down | State::AdminDown) {
            return Err(DecodeError::YourDiscZero(state));
        }
        let auth = if has_auth {
            let t = bytes[HEADER_LEN];
            let alen = bytes[HEADER_LEN + 1] as usize;
            if HEADER_LEN + alen != len as usize {
                return Err(DecodeError::AuthMalformed(t));
            }
            if matches!(t, 4 | 5) && alen == SHA1_AUTH_LEN {
                Some(AuthSection {
                    auth_type: t,
                    key_id: bytes[HEADER_LEN + 2],
                    seq: word(HEADER_LEN + 4),
                })
            } else if (1..=3).contains(&t) && alen >= 3 {
                // Password and MD5: recognised, never accepted (no key of those types).
                Some(AuthSection {
                    auth_type: t,
                    key_id: bytes[HEADER_LEN + 2],
                    seq: 0,
                })
            } else {
                return Err(DecodeError::AuthMalformed(t));
            }
        } else {
            None
        };
        Ok(Control {
            diag: Diag::from_code(bytes[0]),
            state,
            poll: flags & 0x20 != 0,
            final_: flags & 0x10 != 0,
            control_plane_independent: flags & 0x08 != 0,
            demand: flags & 0x02 != 0,
            detect_mult: bytes[2],
            my_disc,
            your_disc,
            desired_min_tx_us: word(12),
            required_min_rx_us: word(16),
            required_min_echo_rx_us: word(20),
            auth,
        })
    }
}

fn padded(secret: &[u8]) -> [u8; 20] {
    let mut k = [0u8; 20];
    let n = secret.len().min(20);
    k[..n].copy_from_slice(&secret[..n]);
    k
}

#[cfg(test)]
mod tests;
