//! VRRPv2's IPsec Authentication Header (RFC 2338 auth type 2) the way keepalived 2.2.7 does
//! it, without the kernel's IPsec: the IPv4 header (protocol 51), a 24-byte AH (next header
//! 112, SPI = the sender's address, a sequence number) whose ICV is HMAC-MD5-96 keyed with
//! `auth_pass`, then the VRRP message with auth type 2 and empty auth data. The ICV covers
//! the IP header with TOS, fragment offset and checksum zeroed (TTL too with unicast peers,
//! kept with multicast, as keepalived hashes it), the AH with the ICV zeroed, and the
//! message. One sequence counter per instance serves sending and receiving, as keepalived's:
//! an advert is taken only with a number above it, and raises it.
//!
//! Sans-IO: bytes in, bytes out; the runner owns the sockets (IP protocol 51).

use std::net::Ipv4Addr;

use hmac::{Hmac, KeyInit, Mac};
use md5::Md5;
use thiserror::Error;

use super::packet::{
    AUTH_AH, ChecksumMode, Endpoints, IPPROTO_VRRP, Ipv4Header, VRRP_TTL, Version, checksum,
};

pub const IPPROTO_AH: u8 = 51;
const IPV4_HEADER_LEN: usize = 20;
const AH_LEN: usize = 24;
const ICV_AT: usize = 12;
const ICV_LEN: usize = 12;
/// AH's payload length field: its length in 32-bit words, minus 2 (RFC 2402 §2.2).
const AH_PAYLOAD_LEN: u8 = (AH_LEN / 4 - 2) as u8;
/// keepalived stops counting here (it would wrap).
const LAST_SEQ: u32 = 0xffff_fffd;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AhError {
    #[error("malformed AH packet: {0}")]
    Malformed(&'static str),
    #[error("TTL {0} is not 255")]
    Ttl(u8),
    #[error("AH next header {0} is not VRRP (112)")]
    NextHeader(u8),
    #[error("the VRRP message's auth type is {0}, not 2 (AH)")]
    AuthType(u8),
    #[error("the AH ICV does not match: another password, or a field changed on the way")]
    Icv,
    #[error("the AH SPI is not the sender's address")]
    Spi,
    #[error("AH sequence number {seq} already seen (local counter {local})")]
    Replay { seq: u32, local: u32 },
}

impl AhError {
    /// Short key for the dropped-packet counters.
    pub fn reason(&self) -> &'static str {
        match self {
            AhError::Malformed(_) => "ah_malformed",
            AhError::Ttl(_) => "ttl",
            AhError::NextHeader(_) => "ah_next_header",
            AhError::AuthType(_) => "auth_type_mismatch",
            AhError::Icv => "auth_mismatch",
            AhError::Spi => "ah_spi",
            AhError::Replay { .. } => "ah_replay",
        }
    }
}

/// A checked packet: its addresses and the VRRP message inside.
#[derive(Debug, PartialEq, Eq)]
pub struct Opened<'a> {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub vrrp: &'a [u8],
}

/// One instance's AH: its key and sequence counter.
#[derive(Debug, Clone)]
pub struct AhState {
    key: Vec<u8>,
    seq: u32,
    /// With unicast peers the TTL is left out of the ICV (keepalived lets it vary there).
    unicast: bool,
}

impl AhState {
    /// `auth_pass` is cut to 8 bytes, as keepalived cuts it.
    pub fn new(auth_pass: &str, unicast: bool) -> Self {
        let key = auth_pass.as_bytes().iter().take(8).copied().collect();
        Self {
            key,
            seq: 0,
            unicast,
        }
    }

    pub fn seq(&self) -> u32 {
        self.seq
    }

    /// Go on from `seq` (the counter of the instance this one replaces on a reload).
    pub fn resume(&mut self, seq: u32) {
        self.seq = self.seq.max(seq);
    }

    /// The whole packet for one advert: `ip` (its protocol becomes 51) and the VRRPv2
    /// message `vrrp` (encoded without authentication; it gets auth type 2 here).
    pub fn seal(&mut self, ip: &Ipv4Header, vrrp: &[u8]) -> Vec<u8> {
        if self.seq <= LAST_SEQ {
            self.seq += 1;
        }
        let total = IPV4_HEADER_LEN + AH_LEN + vrrp.len();
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&[0x45, ip.tos]);
        out.extend_from_slice(&(total as u16).to_be_bytes());
        out.extend_from_slice(&ip.id.to_be_bytes());
        out.extend_from_slice(&[0, 0, VRRP_TTL, IPPROTO_AH, 0, 0]);
        out.extend_from_slice(&ip.src.octets());
        out.extend_from_slice(&ip.dst.octets());
        out.extend_from_slice(&[IPPROTO_VRRP, AH_PAYLOAD_LEN, 0, 0]);
        out.extend_from_slice(&ip.src.octets());
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&[0; ICV_LEN]);
        let msg_at = out.len();
        out.extend_from_slice(vrrp);
        let msg = &mut out[msg_at..];
        msg[4] = AUTH_AH;
        msg[6..8].fill(0);
        let sum = checksum(msg, Version::V2, &v2_endpoints(), ChecksumMode::Rfc);
        msg[6..8].copy_from_slice(&sum.to_be_bytes());
        let icv = self.icv(&out, IPV4_HEADER_LEN);
        let at = IPV4_HEADER_LEN + ICV_AT;
        out[at..at + ICV_LEN].copy_from_slice(&icv);
        out
    }

    /// Check a received packet (IPv4 header included) in keepalived's order and, when it
    /// passes, raise the counter to its sequence number.
    pub fn open<'a>(&mut self, bytes: &'a [u8]) -> Result<Opened<'a>, AhError> {
        let (header_len, total) = layout(bytes)?;
        if !self.unicast && bytes[8] != VRRP_TTL {
            return Err(AhError::Ttl(bytes[8]));
        }
        let ah = &bytes[header_len..header_len + AH_LEN];
        let vrrp = &bytes[header_len + AH_LEN..total];
        if vrrp.len() < 8 || vrrp[0] >> 4 != 2 {
            return Err(AhError::Malformed("not a VRRPv2 message after the AH"));
        }
        if vrrp[4] != AUTH_AH {
            return Err(AhError::AuthType(vrrp[4]));
        }
        if ah[0] != IPPROTO_VRRP {
            return Err(AhError::NextHeader(ah[0]));
        }
        let icv = self.icv(&bytes[..total], header_len);
        // Compared whole, not byte by byte with an early exit.
        let got = &ah[ICV_AT..ICV_AT + ICV_LEN];
        if icv.iter().zip(got).fold(0u8, |d, (a, b)| d | (a ^ b)) != 0 {
            return Err(AhError::Icv);
        }
        if ah[4..8] != bytes[12..16] {
            return Err(AhError::Spi);
        }
        let seq = u32::from_be_bytes([ah[8], ah[9], ah[10], ah[11]]);
        if seq <= self.seq {
            return Err(AhError::Replay {
                seq,
                local: self.seq,
            });
        }
        self.seq = seq;
        Ok(Opened {
            src: Ipv4Addr::new(bytes[12], bytes[13], bytes[14], bytes[15]),
            dst: Ipv4Addr::new(bytes[16], bytes[17], bytes[18], bytes[19]),
            vrrp,
        })
    }

    /// HMAC-MD5-96 over `packet` (IP header of `header_len` bytes, AH, message) with the
    /// mutable fields zeroed.
    fn icv(&self, packet: &[u8], header_len: usize) -> [u8; ICV_LEN] {
        let mut data = packet.to_vec();
        data[1] = 0; // TOS
        data[6..8].fill(0); // flags and fragment offset
        data[10..12].fill(0); // header checksum
        if self.unicast {
            data[8] = 0;
        }
        data[header_len + ICV_AT..header_len + ICV_AT + ICV_LEN].fill(0);
        let mut mac =
            <Hmac<Md5> as KeyInit>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(&data);
        let full = mac.finalize().into_bytes();
        let mut icv = [0; ICV_LEN];
        icv.copy_from_slice(&full[..ICV_LEN]);
        icv
    }
}

/// An AH packet's IPv4 header length and total length, after the structural checks.
fn layout(bytes: &[u8]) -> Result<(usize, usize), AhError> {
    if bytes.len() < IPV4_HEADER_LEN || bytes[0] >> 4 != 4 {
        return Err(AhError::Malformed("not an IPv4 packet"));
    }
    let header_len = usize::from(bytes[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
    if header_len < IPV4_HEADER_LEN || total > bytes.len() || total < header_len + AH_LEN + 8 {
        return Err(AhError::Malformed(
            "lengths do not hold an AH and a VRRP message",
        ));
    }
    if bytes[9] != IPPROTO_AH {
        return Err(AhError::Malformed("IP protocol is not 51"));
    }
    if bytes[header_len + 1] != AH_PAYLOAD_LEN {
        return Err(AhError::Malformed("AH payload length is not 4"));
    }
    Ok((header_len, total))
}

/// The VRID of an AH packet, to find its instance (and key) before checking it.
pub fn peek_vrid(bytes: &[u8]) -> Option<u8> {
    let (header_len, _) = layout(bytes).ok()?;
    bytes.get(header_len + AH_LEN + 1).copied()
}

/// VRRPv2's checksum covers only the message: any endpoints do.
fn v2_endpoints() -> Endpoints {
    Endpoints::V4 {
        src: Ipv4Addr::UNSPECIFIED,
        dst: Ipv4Addr::UNSPECIFIED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vrrp::packet::{Advert, AuthPolicy, DecodeOptions};

    fn advert() -> Vec<u8> {
        Advert {
            version: Version::V2,
            vrid: 51,
            priority: 100,
            interval_cs: 100,
            addrs: vec!["10.0.0.100".parse().unwrap()],
            auth: None,
        }
        .encode(&v2_endpoints(), ChecksumMode::Rfc)
        .unwrap()
    }

    fn ip() -> Ipv4Header {
        Ipv4Header::advert(Ipv4Addr::new(10, 0, 0, 1), 7)
    }

    #[test]
    fn sealed_adverts_open_with_the_same_key_once() {
        let mut tx = AhState::new("secret-and-longer", false);
        let mut rx = AhState::new("secret-a", false);
        let p = tx.seal(&ip(), &advert());
        assert_eq!(p.len(), 20 + 24 + 20);
        assert_eq!((p[9], p[20], p[21]), (51, 112, 4));
        assert_eq!(&p[24..28], &[10, 0, 0, 1], "SPI = source address");
        assert_eq!(&p[28..32], &1u32.to_be_bytes(), "first sequence number 1");
        assert_eq!(peek_vrid(&p), Some(51));
        let opened = rx.open(&p).unwrap();
        assert_eq!(opened.src, Ipv4Addr::new(10, 0, 0, 1));
        let ad = Advert::decode(
            opened.vrrp,
            &v2_endpoints(),
            &DecodeOptions {
                auth: AuthPolicy::Ah,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!((ad.vrid, ad.priority, ad.auth), (51, 100, None));
        // Replayed: refused; the next one passes; the shared counter moved on.
        assert_eq!(rx.open(&p).unwrap_err().reason(), "ah_replay");
        assert!(rx.open(&tx.seal(&ip(), &advert())).is_ok());
        assert_eq!(rx.seq(), 2);
    }

    #[test]
    fn a_wrong_key_or_a_changed_field_fails_the_icv() {
        let mut tx = AhState::new("secret", false);
        let p = tx.seal(&ip(), &advert());
        assert_eq!(AhState::new("other", false).open(&p), Err(AhError::Icv));
        let mut changed = p.clone();
        changed[20 + 24 + 2] = 250; // priority
        assert_eq!(
            AhState::new("secret", false).open(&changed),
            Err(AhError::Icv)
        );
        // TOS is mutable: not covered.
        let mut tos = p.clone();
        tos[1] = 0;
        assert!(AhState::new("secret", false).open(&tos).is_ok());
        // TTL is covered in multicast mode, and must be 255 there.
        let mut ttl = p.clone();
        ttl[8] = 64;
        assert_eq!(
            AhState::new("secret", false).open(&ttl),
            Err(AhError::Ttl(64))
        );
        // A spoofed SPI with a valid ICV (the sender's key) is still refused.
        let mut spi = p;
        spi[24] = 99;
        let fixed = AhState::new("secret", false).icv(&spi, 20);
        spi[32..44].copy_from_slice(&fixed);
        assert_eq!(AhState::new("secret", false).open(&spi), Err(AhError::Spi));
    }

    #[test]
    fn malformed_packets_are_refused_with_a_reason() {
        let mut tx = AhState::new("s", true);
        let p = tx.seal(&ip(), &advert());
        let mut rx = AhState::new("s", true);
        assert_eq!(rx.open(&p[..40]).unwrap_err().reason(), "ah_malformed");
        let mut next = p.clone();
        next[20] = 6;
        assert_eq!(rx.open(&next), Err(AhError::NextHeader(6)));
        // Unicast: any TTL (left out of the ICV).
        let mut ttl = p;
        ttl[8] = 3;
        assert!(rx.open(&ttl).is_ok());
    }
}
