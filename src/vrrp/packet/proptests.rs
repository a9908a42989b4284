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
