//! Frames that tell the LAN where a VIP now lives: gratuitous ARP (IPv4) and unsolicited
//! neighbour advertisement (IPv6). Pure builders; `io` sends them on an AF_PACKET socket, and
//! [`announce_all`] paces them when keepalived's `vrrp_garp_interval` asks for it.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use tracing::warn;

use super::io::PacketSocket;

/// An Ethernet MAC address.
pub type Mac = [u8; 6];

const ETH_P_ARP: u16 = 0x0806;
const ETH_P_IPV6: u16 = 0x86dd;
const BROADCAST: Mac = [0xff; 6];
/// Ethernet multicast for ff02::1 (all nodes).
const ALL_NODES_MAC: Mac = [0x33, 0x33, 0, 0, 0, 1];
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

fn ethernet(dst: Mac, src: Mac, ethertype: u16, payload_len: usize) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload_len);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f
}

/// A gratuitous ARP request for `vip` from `mac`, broadcast: the form keepalived sends
/// (sender and target address both the VIP, target hardware address all ones).
pub fn gratuitous_arp(mac: Mac, vip: Ipv4Addr) -> Vec<u8> {
    let mut f = ethernet(BROADCAST, mac, ETH_P_ARP, 28);
    f.extend_from_slice(&1u16.to_be_bytes()); // hardware: Ethernet
    f.extend_from_slice(&0x0800u16.to_be_bytes()); // protocol: IPv4
    f.push(6);
    f.push(4);
    f.extend_from_slice(&1u16.to_be_bytes()); // request
    f.extend_from_slice(&mac);
    f.extend_from_slice(&vip.octets());
    f.extend_from_slice(&BROADCAST);
    f.extend_from_slice(&vip.octets());
    f
}

/// An unsolicited neighbour advertisement (RFC 4861 §7.2.6) for `vip` to all nodes, with the
/// Override flag and our link-layer address, sent from the VIP itself.
pub fn unsolicited_na(mac: Mac, vip: Ipv6Addr) -> Vec<u8> {
    let mut icmp = Vec::with_capacity(32);
    icmp.push(136); // neighbour advertisement
    icmp.push(0);
    icmp.extend_from_slice(&[0, 0]); // checksum, filled below
    icmp.extend_from_slice(&0x2000_0000u32.to_be_bytes()); // Override
    icmp.extend_from_slice(&vip.octets());
    icmp.push(2); // option: target link-layer address
    icmp.push(1); // length in units of 8 bytes
    icmp.extend_from_slice(&mac);
    let sum = icmpv6_checksum(vip, ALL_NODES, &icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());

    let mut f = ethernet(ALL_NODES_MAC, mac, ETH_P_IPV6, 40 + icmp.len());
    f.extend_from_slice(&[0x60, 0, 0, 0]); // version 6, no class or flow
    f.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
    f.push(58); // ICMPv6
    f.push(255); // hop limit: RFC 4861 requires 255
    f.extend_from_slice(&vip.octets());
    f.extend_from_slice(&ALL_NODES.octets());
    f.extend_from_slice(&icmp);
    f
}

/// The Internet checksum over an IPv6 pseudo-header and an ICMPv6 message.
fn icmpv6_checksum(src: Ipv6Addr, dst: Ipv6Addr, msg: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |bytes: &[u8]| {
        for chunk in bytes.chunks(2) {
            let word = u16::from_be_bytes([chunk[0], *chunk.get(1).unwrap_or(&0)]);
            sum += u32::from(word);
        }
    };
    add(&src.octets());
    add(&dst.octets());
    add(&(msg.len() as u32).to_be_bytes());
    add(&[0, 0, 0, 58]);
    add(msg);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Sends `count` announcements of each VIP: back to back, or with `vrrp_garp_interval` /
/// `vrrp_gna_interval` between two on one interface (keepalived's pacing, for switches that
/// rate-limit them), on a task of their own so the pacing never holds up the adverts.
pub fn announce_all(instance: &str, frames: Vec<Announcement>, count: u8) {
    let (paced, at_once): (Vec<_>, Vec<_>) = frames.into_iter().partition(|f| f.gap.is_some());
    for f in &at_once {
        for _ in 0..count {
            f.send(instance);
        }
    }
    if paced.is_empty() {
        return;
    }
    let instance = instance.to_string();
    tokio::spawn(async move {
        for round in 0..count {
            for (i, f) in paced.iter().enumerate() {
                if round > 0 || i > 0 {
                    tokio::time::sleep(f.gap.unwrap_or_default()).await;
                }
                f.send(&instance);
            }
        }
    });
}

/// One gratuitous ARP / unsolicited NA frame, where it goes, and the pause before the next.
pub struct Announcement {
    pub packet: Arc<PacketSocket>,
    pub frame: Vec<u8>,
    pub gap: Option<Duration>,
    pub iface: String,
}

impl Announcement {
    fn send(&self, instance: &str) {
        if let Err(e) = self.packet.send(&self.frame) {
            warn!(instance, "announcing a VIP on {}: {e}", self.iface);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    const D1: Mac = [0x02, 0x77, 0, 0, 0, 0x71];

    #[test]
    fn gratuitous_arp_matches_keepalived_byte_for_byte() {
        // vectors.txt: vrrpv2_ipv4_adv1.pcap garp from d1.
        let expected = hex(
            "ffffffffffff027700000071080600010800060400010277000000710a4d0064ffffffffffff0a4d0064",
        );
        assert_eq!(gratuitous_arp(D1, Ipv4Addr::new(10, 77, 0, 100)), expected);
    }

    #[test]
    fn unsolicited_na_matches_keepalived_byte_for_byte() {
        // vectors.txt: vrrpv3_ipv6_adv1.pcap unsol_na from d1 (and d2, checksum differs by MAC).
        let expected = hex(concat!(
            "33330000000102770000007186dd6000000000203afffd770000000000000000000000000100",
            "ff020000000000000000000000000001880056c820000000fd7700000000000000000000000001000201027700000071"
        ));
        let vip: Ipv6Addr = "fd77::100".parse().unwrap();
        assert_eq!(unsolicited_na(D1, vip), expected);
        let d2 = [0x02, 0x77, 0, 0, 0, 0x70];
        assert_eq!(&unsolicited_na(d2, vip)[56..58], &hex("56c9")[..]);
    }
}
