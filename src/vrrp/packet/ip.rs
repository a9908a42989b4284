//! The IP layer around an advert: IPv4 and IPv6 headers as received or to send, and a whole
//! packet's decoding and encoding with its checks (TTL, protocol, addresses, fragments).

use super::*;

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
