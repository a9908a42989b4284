//! Decode and encode of whole advert packets, as keepalived 2.2.7 sent them (the frames of
//! `tests/fixtures/vectors/keepalived-2.2.7/vectors.txt`, without their Ethernet header).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use lvsdeck::vrrp::packet::{ChecksumMode, DecodeOptions, Packet};

/// v2, IPv4, PASS "s3cr3t", priority 100, 1 s.
const V2_IPV4: &str =
    "45c0002800010000ff70cffe0a4d0047e000001221336401010164ff0a4d00647333637233740000";
/// v3, IPv6, priority 100, 100 cs, from fe80::77:ff:fe00:71 to ff02::12.
const V3_IPV6: &str = concat!(
    "6c0fb4c1001870fffe80000000000000007700fffe000071ff020000000000000000000000000012",
    "3133640100646de9fd770000000000000000000000000100"
);

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn codec(c: &mut Criterion) {
    let opts = DecodeOptions::default();
    for (name, hex) in [("v2_ipv4", V2_IPV4), ("v3_ipv6", V3_IPV6)] {
        let wire = unhex(hex);
        let packet = Packet::decode(&wire, &opts).expect("vector decodes");
        let mut out = Vec::with_capacity(wire.len());
        packet.encode_into(ChecksumMode::Rfc, &mut out).unwrap();
        assert_eq!(out, wire, "{name} re-encodes byte for byte");

        c.bench_function(&format!("decode/{name}"), |b| {
            b.iter(|| Packet::decode(black_box(&wire), &opts).unwrap())
        });
        c.bench_function(&format!("encode/{name}"), |b| {
            b.iter(|| {
                out.clear();
                black_box(&packet)
                    .encode_into(ChecksumMode::Rfc, &mut out)
                    .unwrap();
                black_box(out.len())
            })
        });
    }
}

criterion_group!(benches, codec);
criterion_main!(benches);
