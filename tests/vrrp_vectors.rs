//! The VRRP codec against what keepalived 2.2.7 put on the wire (`tests/fixtures/vectors/`,
//! captured by this project; see its README): every advert decodes to the fields of the lab that
//! sent it, the encoder rebuilds each frame byte for byte, and malformed variants of each are
//! rejected for the right reason.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use lvsdeck::vrrp::packet::{
    Advert, AuthError, AuthPolicy, ChecksumMode, DecodeError, DecodeOptions, Endpoints, IpHeader,
    Ipv4Header, Ipv6Header, Packet, VRRP_GROUP_V4, VRRP_GROUP_V6, VRRP_TOS, Version, auth_pass,
    checksum,
};

const VECTORS: &str = "tests/fixtures/vectors/keepalived-2.2.7";
const ETH_LEN: usize = 14;
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;

fn vectors_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(VECTORS);
    assert!(
        dir.join("vectors.txt").is_file(),
        "{} is part of the repository",
        dir.display()
    );
    Some(dir)
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// One frame of `vectors.txt`: `# <pcap> <kind> ethsrc=<mac> len=<n>` then a hex line.
struct Vector {
    pcap: String,
    kind: String,
    eth_src: [u8; 6],
    frame: Vec<u8>,
}

impl Vector {
    fn name(&self) -> String {
        format!("{} {}", self.pcap, self.kind)
    }

    fn is_advert(&self) -> bool {
        self.kind.starts_with("v2_") || self.kind.starts_with("v3_")
    }
}

fn load_vectors(dir: &Path) -> Vec<Vector> {
    let text = std::fs::read_to_string(dir.join("vectors.txt")).expect("read vectors.txt");
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let mut out = Vec::new();
    while let Some(header) = lines.next() {
        let fields: Vec<&str> = header
            .strip_prefix('#')
            .expect("a '# ...' line")
            .split_whitespace()
            .collect();
        let [pcap, kind, ethsrc, len] = fields[..] else {
            panic!("unexpected vector header {header:?}");
        };
        let mac: Vec<u8> = ethsrc
            .strip_prefix("ethsrc=")
            .expect("ethsrc=")
            .split(':')
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect();
        let frame = unhex(lines.next().expect("hex line").trim());
        let len: usize = len.strip_prefix("len=").unwrap().parse().unwrap();
        assert_eq!(frame.len(), len, "{header}");
        out.push(Vector {
            pcap: pcap.to_string(),
            kind: kind.to_string(),
            eth_src: mac.try_into().expect("6-byte MAC"),
            frame,
        });
    }
    out
}

/// The lab of `tests/fixtures/vectors/README.md`: who sent it, to whom, and what it must say.
struct Expected {
    endpoints: Endpoints,
    advert: Advert,
}

fn sender(mac_last: u8, v6: bool) -> IpAddr {
    // d1 is 02:77:00:00:00:71, 10.77.0.71, fe80::77:ff:fe00:71; d2 the same with 70.
    let host = match mac_last {
        0x71 => 71,
        0x70 => 70,
        other => panic!("no director has MAC ..:{other:02x}"),
    };
    if v6 {
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0x77, 0xff, 0xfe00, u16::from(mac_last)).into()
    } else {
        Ipv4Addr::new(10, 77, 0, host).into()
    }
}

/// What a capture file's run was configured with: version, family, interval in centiseconds.
fn run_of(pcap: &str) -> (Version, bool, u16) {
    let version = if pcap.starts_with("vrrpv2_") {
        Version::V2
    } else {
        Version::V3
    };
    let v6 = pcap.contains("_ipv6_");
    let interval_cs = if pcap.contains("adv0.1") { 10 } else { 100 };
    (version, v6, interval_cs)
}

fn expected_advert(version: Version, v6: bool, interval_cs: u16, priority: u8) -> Advert {
    Advert {
        version,
        vrid: 51,
        priority,
        interval_cs,
        addrs: vec![if v6 {
            IpAddr::V6(Ipv6Addr::new(0xfd77, 0, 0, 0, 0, 0, 0, 0x100))
        } else {
            IpAddr::V4(Ipv4Addr::new(10, 77, 0, 100))
        }],
        auth: (version == Version::V2).then(|| auth_pass(b"s3cr3t")),
    }
}

fn expected(v: &Vector) -> Expected {
    let (version, v6, interval_cs) = run_of(&v.pcap);
    let kind_version = if v.kind.starts_with("v2_") {
        Version::V2
    } else {
        Version::V3
    };
    assert_eq!(kind_version, version, "{}", v.name());
    assert_eq!(v.kind.contains("_ipv6_"), v6, "{}", v.name());
    let priority: u8 = v
        .kind
        .rsplit_once("prio")
        .expect("prioN")
        .1
        .parse()
        .unwrap();
    let src = sender(v.eth_src[5], v6);
    let dst = if v6 {
        IpAddr::V6(VRRP_GROUP_V6)
    } else {
        IpAddr::V4(VRRP_GROUP_V4)
    };
    Expected {
        endpoints: Endpoints::new(src, dst).unwrap(),
        advert: expected_advert(version, v6, interval_cs, priority),
    }
}

fn adverts() -> Option<Vec<Vector>> {
    let dir = vectors_dir()?;
    let all = load_vectors(&dir);
    let adverts: Vec<Vector> = all.into_iter().filter(Vector::is_advert).collect();
    // Four runs (v2/IPv4, v3/IPv4 1 s and 0.1 s, v3/IPv6), each at priorities 100, 90 and 0.
    assert_eq!(adverts.len(), 12, "advert vectors in vectors.txt");
    Some(adverts)
}

/// The Ethernet header a multicast advert from `src_mac` goes out with.
fn ethernet(src_mac: [u8; 6], v6: bool) -> Vec<u8> {
    let (dst, ethertype) = if v6 {
        ([0x33, 0x33, 0, 0, 0, 0x12], ETHERTYPE_IPV6)
    } else {
        ([0x01, 0x00, 0x5e, 0, 0, 0x12], ETHERTYPE_IPV4)
    };
    let mut out = dst.to_vec();
    out.extend_from_slice(&src_mac);
    out.extend_from_slice(&ethertype.to_be_bytes());
    out
}

/// The per-packet IP header values that are not advert fields: the IPv4 Identification (a
/// running counter in keepalived) and the IPv6 flow label (picked by the kernel).
fn ip_header_for(ip: &[u8], endpoints: &Endpoints) -> IpHeader {
    match *endpoints {
        Endpoints::V4 { src, .. } => {
            IpHeader::V4(Ipv4Header::advert(src, u16::from_be_bytes([ip[4], ip[5]])))
        }
        Endpoints::V6 { src, .. } => IpHeader::V6(Ipv6Header::advert(
            src,
            u32::from_be_bytes([0, ip[1] & 0x0f, ip[2], ip[3]]),
        )),
    }
}

fn decode(ip: &[u8]) -> Result<Packet, DecodeError> {
    Packet::decode(ip, &DecodeOptions::default())
}

#[test]
fn every_advert_vector_decodes_to_the_lab_fields() {
    let Some(adverts) = adverts() else { return };
    for v in &adverts {
        let want = expected(v);
        let v6 = matches!(want.endpoints, Endpoints::V6 { .. });
        assert_eq!(
            v.frame[..ETH_LEN],
            ethernet(v.eth_src, v6)[..],
            "{}",
            v.name()
        );
        let opts = DecodeOptions {
            auth: AuthPolicy::Require(want.advert.auth),
            ..DecodeOptions::default()
        };
        let pkt = Packet::decode(&v.frame[ETH_LEN..], &opts)
            .unwrap_or_else(|e| panic!("{}: {e}", v.name()));
        assert_eq!(pkt.advert, want.advert, "{}", v.name());
        assert_eq!(pkt.ip.endpoints(), want.endpoints, "{}", v.name());
        match pkt.ip {
            IpHeader::V4(h) => {
                assert_eq!(h.tos, VRRP_TOS, "{}", v.name());
                assert!(!h.dont_fragment, "{}", v.name());
            }
            IpHeader::V6(h) => assert_eq!(h.traffic_class, VRRP_TOS, "{}", v.name()),
        }
    }
    // Spot checks against the README, independent of how `expected` derives them.
    let v2 = &adverts[0];
    assert_eq!(v2.kind, "v2_ipv4_prio100");
    let d = decode(&v2.frame[ETH_LEN..]).unwrap();
    assert_eq!(d.advert.interval_cs, 100);
    assert_eq!(&d.advert.auth.unwrap()[..6], b"s3cr3t");
    assert_eq!(d.ip.src(), IpAddr::V4(Ipv4Addr::new(10, 77, 0, 71)));
    let fast = adverts
        .iter()
        .find(|v| v.pcap.contains("adv0.1") && v.kind == "v3_ipv4_prio90")
        .unwrap();
    let d = decode(&fast.frame[ETH_LEN..]).unwrap();
    assert_eq!((d.advert.priority, d.advert.interval_cs), (90, 10));
}

#[test]
fn encoder_reproduces_every_advert_frame_byte_for_byte() {
    let Some(adverts) = adverts() else { return };
    for v in &adverts {
        let want = expected(v);
        let v6 = matches!(want.endpoints, Endpoints::V6 { .. });
        let ip = &v.frame[ETH_LEN..];
        let pkt = Packet {
            ip: ip_header_for(ip, &want.endpoints),
            advert: want.advert,
        };
        let mut frame = ethernet(v.eth_src, v6);
        pkt.encode_into(ChecksumMode::Rfc, &mut frame).unwrap();
        assert_eq!(hex(&frame), hex(&v.frame), "{}", v.name());
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A malformed copy of a vector's IP packet; `reseal` recomputes the VRRP checksum so that
/// only the intended field is wrong, and the IPv4 header checksum is kept right throughout.
struct Mangle<'a> {
    v: &'a Vector,
    want: Expected,
}

impl Mangle<'_> {
    fn ip(&self) -> Vec<u8> {
        self.v.frame[ETH_LEN..].to_vec()
    }

    fn vrrp_at(&self) -> usize {
        match self.want.endpoints {
            Endpoints::V4 { .. } => 20,
            Endpoints::V6 { .. } => 40,
        }
    }

    fn version(&self) -> Version {
        self.want.advert.version
    }

    /// Changes the VRRP message with `f`, optionally fixing its checksum afterwards.
    fn vrrp(&self, reseal: bool, f: impl FnOnce(&mut [u8])) -> Vec<u8> {
        let mut ip = self.ip();
        let at = self.vrrp_at();
        f(&mut ip[at..]);
        if reseal {
            let sum = checksum(
                &ip[at..],
                self.version(),
                &self.want.endpoints,
                ChecksumMode::Rfc,
            );
            ip[at + 6..at + 8].copy_from_slice(&sum.to_be_bytes());
        }
        ip
    }

    /// Changes the IP header with `f`, then fixes the IPv4 header checksum.
    fn header(&self, f: impl FnOnce(&mut [u8])) -> Vec<u8> {
        let mut ip = self.ip();
        f(&mut ip);
        if let Endpoints::V4 { .. } = self.want.endpoints {
            ip[10] = 0;
            ip[11] = 0;
            let mut sum: u32 = ip[..20]
                .chunks(2)
                .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
                .sum();
            while sum > 0xffff {
                sum = (sum & 0xffff) + (sum >> 16);
            }
            ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
        }
        ip
    }
}

#[test]
fn malformed_variants_of_every_vector_are_rejected_for_the_right_reason() {
    let Some(adverts) = adverts() else { return };
    for v in &adverts {
        let name = v.name();
        let m = Mangle {
            v,
            want: expected(v),
        };
        assert!(decode(&m.ip()).is_ok(), "{name}: the original decodes");
        let carried = {
            let ip = m.ip();
            let at = m.vrrp_at();
            u16::from_be_bytes([ip[at + 6], ip[at + 7]])
        };

        // Bad checksum: every single-bit error in the checksum field.
        for bit in 0..16 {
            let ip = m.vrrp(false, |b| b[6 + bit / 8] ^= 0x80 >> (bit % 8));
            let found = carried ^ (0x8000 >> bit);
            assert_eq!(
                decode(&ip),
                Err(DecodeError::Checksum {
                    expected: carried,
                    found
                }),
                "{name}: checksum bit {bit}"
            );
        }
        // A corrupted field with the checksum left alone is a checksum error.
        let ip = m.vrrp(false, |b| b[2] ^= 0x01);
        assert_eq!(decode(&ip).unwrap_err().reason(), "bad_checksum", "{name}");

        // Wrong version: any nibble but 2 and 3, and the other known version.
        for found in (0..16u8).filter(|n| !(2..=3).contains(n)) {
            let ip = m.vrrp(true, |b| b[0] = found << 4 | (b[0] & 0x0f));
            assert_eq!(
                decode(&ip),
                Err(DecodeError::Version { found }),
                "{name}: version {found}"
            );
        }
        let ip = m.vrrp(false, |b| b[0] ^= 0x10); // 2 <-> 3
        let reason = decode(&ip).unwrap_err().reason();
        let want = match m.want.endpoints {
            Endpoints::V4 { .. } => "bad_length", // v2 has 8 bytes of auth data, v3 none
            Endpoints::V6 { .. } => "bad_family", // v2 is IPv4 only
        };
        assert_eq!(reason, want, "{name}: version swapped");

        // Truncated anywhere: in the IP header, the VRRP header, the addresses, the auth data.
        let ip = m.ip();
        for n in 0..ip.len() {
            assert!(
                matches!(decode(&ip[..n]), Err(DecodeError::Truncated { .. })),
                "{name}: cut to {n} bytes gives {:?}",
                decode(&ip[..n])
            );
        }

        // Count mismatch: one more address or one fewer than the message holds.
        for delta in [1i16, -1] {
            let count = (i16::from(m.want.advert.addrs.len() as u8) + delta) as u8;
            let ip = m.vrrp(true, |b| b[3] = count);
            assert!(
                matches!(decode(&ip), Err(DecodeError::Length { count: c, .. }) if c == count),
                "{name}: count {count} gives {:?}",
                decode(&ip)
            );
        }

        // TTL / hop limit other than 255.
        for ttl in [0u8, 1, 64, 128, 254] {
            let ip = m.header(|h| match m.want.endpoints {
                Endpoints::V4 { .. } => h[8] = ttl,
                Endpoints::V6 { .. } => h[7] = ttl,
            });
            assert_eq!(
                decode(&ip),
                Err(DecodeError::Ttl { found: ttl }),
                "{name}: ttl {ttl}"
            );
        }

        // Bad type, with a checksum that matches it.
        for found in [0u8, 2, 3, 15] {
            let ip = m.vrrp(true, |b| b[0] = (b[0] & 0xf0) | found);
            assert_eq!(
                decode(&ip),
                Err(DecodeError::Type { found }),
                "{name}: type {found}"
            );
        }

        // Not VRRP at all.
        let ip = m.header(|h| match m.want.endpoints {
            Endpoints::V4 { .. } => h[9] = 17,
            Endpoints::V6 { .. } => h[6] = 17,
        });
        assert_eq!(
            decode(&ip),
            Err(DecodeError::Protocol { found: 17 }),
            "{name}"
        );

        // VRID 0 and interval 0, each with a matching checksum.
        let ip = m.vrrp(true, |b| b[1] = 0);
        assert_eq!(decode(&ip), Err(DecodeError::Vrid), "{name}");
        let ip = m.vrrp(true, |b| match m.version() {
            Version::V2 => b[5] = 0,
            Version::V3 => b[4..6].copy_from_slice(&[0, 0]),
        });
        assert_eq!(decode(&ip).unwrap_err().reason(), "bad_interval", "{name}");

        // The v3 checksum covers the IP addresses: another sender's address breaks it.
        if m.version() == Version::V3 {
            let ip = m.header(|h| {
                let last = match m.want.endpoints {
                    Endpoints::V4 { .. } => 15,
                    Endpoints::V6 { .. } => 23,
                };
                h[last] ^= 0x01;
            });
            assert_eq!(decode(&ip).unwrap_err().reason(), "bad_checksum", "{name}");
        }

        // Authentication.
        if m.version() == Version::V2 {
            let wrong = DecodeOptions {
                auth: AuthPolicy::Require(Some(auth_pass(b"S3cr3t"))),
                ..DecodeOptions::default()
            };
            assert_eq!(
                Packet::decode(&m.ip(), &wrong),
                Err(DecodeError::Auth(AuthError::PasswordMismatch)),
                "{name}"
            );
            let none = DecodeOptions {
                auth: AuthPolicy::Require(None),
                ..DecodeOptions::default()
            };
            assert_eq!(
                Packet::decode(&m.ip(), &none),
                Err(DecodeError::Auth(AuthError::TypeMismatch {
                    expected: 0,
                    found: 1
                })),
                "{name}"
            );
            let ip = m.vrrp(true, |b| b[4] = 2);
            assert_eq!(
                decode(&ip),
                Err(DecodeError::Auth(AuthError::AhUnsupported)),
                "{name}"
            );
        }
    }
}

/// Every Ethernet frame of a classic little-endian pcap with microsecond stamps.
fn pcap_frames(bytes: &[u8]) -> Vec<&[u8]> {
    assert_eq!(bytes[..4], [0xd4, 0xc3, 0xb2, 0xa1], "little-endian pcap");
    assert_eq!(
        u32::from_le_bytes(bytes[20..24].try_into().unwrap()),
        1,
        "Ethernet link type"
    );
    let mut frames = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let caplen = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        at += 16;
        frames.push(&bytes[at..at + caplen]);
        at += caplen;
    }
    assert_eq!(at, bytes.len(), "pcap ends on a record boundary");
    frames
}

/// Beyond `vectors.txt`: every advert in every capture (start, failover, preempt back, VMAC).
#[test]
fn every_captured_advert_decodes_and_reencodes() {
    let Some(dir) = vectors_dir() else { return };
    let mut pcaps: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    pcaps.sort();
    assert!(pcaps.len() >= 4, "captures in {}", dir.display());
    let mut total = 0;
    for path in &pcaps {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let (version, v6, interval_cs) = run_of(&file);
        let bytes = std::fs::read(path).unwrap();
        let mut adverts = 0;
        for frame in pcap_frames(&bytes) {
            let ethertype = u16::from_be_bytes([frame[12], frame[13]]);
            let ip = &frame[ETH_LEN..];
            let is_vrrp = match ethertype {
                ETHERTYPE_IPV4 => ip[9] == 112,
                ETHERTYPE_IPV6 => ip[6] == 112,
                _ => false,
            };
            if !is_vrrp {
                continue;
            }
            adverts += 1;
            let pkt = decode(ip).unwrap_or_else(|e| panic!("{file} advert {adverts}: {e}"));
            let want = expected_advert(version, v6, interval_cs, pkt.advert.priority);
            assert_eq!(pkt.advert, want, "{file} advert {adverts}");
            assert!(
                [0, 90, 100].contains(&pkt.advert.priority),
                "{file} advert {adverts}"
            );
            let again = pkt.encode(ChecksumMode::Rfc).unwrap();
            assert_eq!(hex(&again), hex(ip), "{file} advert {adverts}");
        }
        // The tcpdump transcript beside the capture counts the same adverts.
        let transcript = path.with_extension("txt");
        if let Ok(text) = std::fs::read_to_string(&transcript) {
            let listed = text.matches(", Advertisement,").count();
            assert_eq!(adverts, listed, "{file}: adverts vs. tcpdump's transcript");
        }
        assert!(adverts > 0, "{file} holds adverts");
        total += adverts;
    }
    assert!(total >= 124, "{total} adverts in the captures");
}
