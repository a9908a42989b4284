//! The frames the doctor sends and the answers it reads, built and parsed with no I/O: an ARP
//! request, a TCP SYN to a VIP addressed to a real server's MAC (what IPVS direct routing
//! sends), the same inside IP-in-IP (tunnelling), and a VRRP advert with its sender's MAC.

use std::net::Ipv4Addr;

use crate::health::ping::internet_checksum;
use crate::vrrp::packet::{DecodeOptions, Packet};

pub type Mac = [u8; 6];

pub const ETH_P_IP: u16 = 0x0800;
pub const ETH_P_ARP: u16 = 0x0806;
pub const ETH_P_IPV6: u16 = 0x86dd;
const BROADCAST: Mac = [0xff; 6];
pub const TCP_SYN: u8 = 0x02;
pub const TCP_RST: u8 = 0x04;
pub const TCP_ACK: u8 = 0x10;

pub fn parse_mac(text: &str) -> Option<Mac> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for b in &mut mac {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

pub fn mac_text(mac: &Mac) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn ethernet(dst: Mac, src: Mac, ethertype: u16) -> Vec<u8> {
    let mut f = Vec::with_capacity(64);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f
}

/// An ARP request "who has `target`, tell `sender`", broadcast.
pub fn arp_request(mac: Mac, sender: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
    let mut f = ethernet(BROADCAST, mac, ETH_P_ARP);
    f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&sender.octets());
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&target.octets());
    f
}

/// An ARP reply seen: who claims which address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpReply {
    pub mac: Mac,
    pub addr: Ipv4Addr,
}

/// An Ethernet frame that is an ARP reply (IPv4 over Ethernet).
pub fn parse_arp_reply(frame: &[u8]) -> Option<ArpReply> {
    let arp = frame.get(14..42)?;
    if frame[12..14] != ETH_P_ARP.to_be_bytes() || arp[..8] != [0, 1, 8, 0, 6, 4, 0, 2] {
        return None;
    }
    Some(ArpReply {
        mac: arp[8..14].try_into().ok()?,
        addr: Ipv4Addr::new(arp[14], arp[15], arp[16], arp[17]),
    })
}

/// One TCP segment's addresses and control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
}

/// An IPv4 header for `payload_len` bytes of protocol `proto`, checksummed.
fn ipv4_header(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, payload_len: usize) -> Vec<u8> {
    let total = (20 + payload_len) as u16;
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&[0, 0, 0x40, 0, 64, proto, 0, 0]);
    h.extend_from_slice(&src.octets());
    h.extend_from_slice(&dst.octets());
    let sum = internet_checksum(&h);
    h[10..12].copy_from_slice(&sum.to_be_bytes());
    h
}

/// An IPv4 packet carrying one TCP segment (no options), checksums filled.
pub fn ipv4_tcp(s: &Segment) -> Vec<u8> {
    let mut tcp = Vec::with_capacity(20);
    tcp.extend_from_slice(&s.sport.to_be_bytes());
    tcp.extend_from_slice(&s.dport.to_be_bytes());
    tcp.extend_from_slice(&s.seq.to_be_bytes());
    tcp.extend_from_slice(&s.ack.to_be_bytes());
    tcp.extend_from_slice(&[5 << 4, s.flags]);
    tcp.extend_from_slice(&64240u16.to_be_bytes());
    tcp.extend_from_slice(&[0, 0, 0, 0]);
    let mut pseudo = Vec::with_capacity(32);
    pseudo.extend_from_slice(&s.src.octets());
    pseudo.extend_from_slice(&s.dst.octets());
    pseudo.extend_from_slice(&[0, 6, 0, tcp.len() as u8]);
    pseudo.extend_from_slice(&tcp);
    let sum = internet_checksum(&pseudo);
    tcp[16..18].copy_from_slice(&sum.to_be_bytes());
    let mut packet = ipv4_header(s.src, s.dst, 6, tcp.len());
    packet.extend_from_slice(&tcp);
    packet
}

/// `packet` (IPv4) in an Ethernet frame.
pub fn frame(dst: Mac, src: Mac, packet: &[u8]) -> Vec<u8> {
    let mut f = ethernet(dst, src, ETH_P_IP);
    f.extend_from_slice(packet);
    f
}

/// `inner` (an IPv4 packet) inside IP-in-IP from `src` to `dst`, as IPVS tunnelling sends it.
pub fn ipip(src: Ipv4Addr, dst: Ipv4Addr, inner: &[u8]) -> Vec<u8> {
    let mut packet = ipv4_header(src, dst, 4, inner.len());
    packet.extend_from_slice(inner);
    packet
}

/// The IPv4 payload of an Ethernet frame, if it is IPv4.
fn ipv4_of(frame: &[u8]) -> Option<&[u8]> {
    (frame.get(12..14)? == ETH_P_IP.to_be_bytes()).then(|| &frame[14..])
}

/// The TCP segment in an Ethernet frame (IPv4), if it is one.
pub fn parse_tcp(frame: &[u8]) -> Option<Segment> {
    let ip = ipv4_of(frame)?;
    let hl = usize::from(ip.first()? & 0x0f) * 4;
    if ip.first()? >> 4 != 4 || *ip.get(9)? != 6 || ip.len() < hl + 20 {
        return None;
    }
    let tcp = &ip[hl..];
    let word = |at: usize| u32::from_be_bytes([tcp[at], tcp[at + 1], tcp[at + 2], tcp[at + 3]]);
    Some(Segment {
        src: Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]),
        dst: Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]),
        sport: u16::from_be_bytes([tcp[0], tcp[1]]),
        dport: u16::from_be_bytes([tcp[2], tcp[3]]),
        seq: word(4),
        ack: word(8),
        flags: tcp[13],
    })
}

/// A VRRP advert in an Ethernet frame (IPv4 or IPv6), with the sender's MAC. The checksum is
/// not judged here: a doctor wants to see every advert on the segment, well-formed or not by
/// this host's settings.
pub fn parse_vrrp(frame: &[u8]) -> Option<(Mac, Packet)> {
    let ethertype = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
    if ethertype != ETH_P_IP && ethertype != ETH_P_IPV6 {
        return None;
    }
    let src: Mac = frame.get(6..12)?.try_into().ok()?;
    let ip = &frame[14..];
    let opts = DecodeOptions::default();
    let packet = Packet::decode(ip, &opts).ok().or_else(|| {
        let lenient = DecodeOptions {
            checksum: crate::vrrp::packet::ChecksumMode::V3Ipv4WithoutPseudoHeader,
            ..opts
        };
        Packet::decode(ip, &lenient).ok()
    })?;
    Some((src, packet))
}

/// Who advertises which VRID at which priority, from a frame carrying a VRRP advert either
/// plain (v2 or v3, IPv4 or IPv6) or inside an IPsec AH header (`auth_type AH`, IPv4). Nothing
/// is authenticated: it says what the segment claims, as the doctor's listening does.
pub fn advert_claim(frame: &[u8]) -> Option<(std::net::IpAddr, u8, u8)> {
    if let Some((_, p)) = parse_vrrp(frame) {
        return Some((p.ip.src(), p.advert.vrid, p.advert.priority));
    }
    let ip = frame.get(14..)?;
    let ethertype = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
    if ethertype != ETH_P_IP || *ip.get(9)? != 51 {
        return None;
    }
    let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let ah = ip.get(usize::from(ip[0] & 0x0f) * 4..)?;
    if *ah.first()? != 112 {
        return None;
    }
    let vrrp = ah.get((usize::from(*ah.get(1)?) + 2) * 4..)?;
    if *vrrp.first()? >> 4 != 2 {
        return None;
    }
    Some((src.into(), *vrrp.get(1)?, *vrrp.get(2)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Mac = [2, 0, 0, 0, 0, 1];

    #[test]
    fn an_advert_inside_ah_is_read_for_its_claim() {
        use crate::vrrp::ah::AhState;
        use crate::vrrp::packet::Ipv4Header;
        let src = Ipv4Addr::new(10, 0, 0, 72);
        let ip = Ipv4Header::advert(src, 1);
        // A VRRPv2 advert for VRID 53 at priority 100, one VIP.
        let vrrp = [
            0x21, 53, 100, 1, 0, 1, 0, 0, 10, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        let packet = AhState::new("secret", false).seal(&ip, &vrrp);
        let f = frame([1, 0, 0x5e, 0, 0, 0x12], A, &packet);
        assert_eq!(advert_claim(&f), Some((src.into(), 53, 100)));
        assert_eq!(advert_claim(&f[..40]), None, "cut short");
    }

    #[test]
    fn arp_request_is_a_broadcast_who_has() {
        let f = arp_request(A, Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 100));
        assert_eq!(f.len(), 42);
        assert_eq!(&f[..6], &[0xff; 6]);
        assert_eq!(&f[20..22], &[0, 1], "opcode request");
        assert_eq!(&f[38..42], &[10, 0, 0, 100]);
        assert!(parse_arp_reply(&f).is_none(), "a request is not a reply");
    }

    #[test]
    fn arp_reply_parsed() {
        let mut f = arp_request(A, Ipv4Addr::new(10, 0, 0, 100), Ipv4Addr::new(10, 0, 0, 1));
        f[12..14].copy_from_slice(&ETH_P_ARP.to_be_bytes());
        f[21] = 2;
        assert_eq!(
            parse_arp_reply(&f),
            Some(ArpReply {
                mac: A,
                addr: Ipv4Addr::new(10, 0, 0, 100)
            })
        );
        assert!(parse_arp_reply(&f[..30]).is_none(), "truncated");
    }

    #[test]
    fn tcp_segment_round_trips_with_valid_checksums() {
        let s = Segment {
            src: Ipv4Addr::new(10, 0, 0, 1),
            dst: Ipv4Addr::new(10, 0, 0, 100),
            sport: 40000,
            dport: 80,
            seq: 7,
            ack: 0,
            flags: TCP_SYN,
        };
        let packet = ipv4_tcp(&s);
        assert_eq!(internet_checksum(&packet[..20]), 0, "IP header checksum");
        let mut pseudo = packet[12..20].to_vec();
        pseudo.extend_from_slice(&[0, 6, 0, 20]);
        pseudo.extend_from_slice(&packet[20..]);
        assert_eq!(internet_checksum(&pseudo), 0, "TCP checksum");
        assert_eq!(parse_tcp(&frame(A, A, &packet)), Some(s));
    }

    #[test]
    fn ipip_wraps_the_inner_packet() {
        let inner = [0x45u8; 40];
        let outer = ipip(Ipv4Addr::new(1, 1, 1, 1), Ipv4Addr::new(2, 2, 2, 2), &inner);
        assert_eq!(outer[9], 4, "protocol IPIP");
        assert_eq!(u16::from_be_bytes([outer[2], outer[3]]), 60);
        assert_eq!(&outer[20..], &inner);
    }

    #[test]
    fn macs_parse_and_print() {
        assert_eq!(
            parse_mac("02:77:00:00:00:71"),
            Some([2, 0x77, 0, 0, 0, 0x71])
        );
        assert_eq!(parse_mac("02:77:00:00:00"), None);
        assert_eq!(parse_mac("02:77:00:00:00:71:00"), None);
        assert_eq!(mac_text(&[2, 0x77, 0, 0, 0, 0x71]), "02:77:00:00:00:71");
    }
}
