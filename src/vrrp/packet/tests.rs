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
