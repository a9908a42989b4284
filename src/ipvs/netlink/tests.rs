//! Byte layouts built by hand from `include/uapi/linux/ip_vs.h` and `linux/netlink.h`,
//! compared with what the builders produce, and hand-built kernel replies decoded.

use super::*;
use crate::ipvs::Protocol;

/// `struct nlattr` + payload + padding to 4, written from the header, not from neli.
fn nla(ty: u16, payload: &[u8]) -> Vec<u8> {
    let len = 4 + payload.len();
    let mut v = Vec::new();
    v.extend_from_slice(&(len as u16).to_ne_bytes());
    v.extend_from_slice(&ty.to_ne_bytes());
    v.extend_from_slice(payload);
    while v.len() % 4 != 0 {
        v.push(0);
    }
    v
}

fn nest_bytes(ty: u16, children: &[Vec<u8>]) -> Vec<u8> {
    nla(ty, &children.concat())
}

/// `struct nlmsghdr` + `struct genlmsghdr` + attributes.
fn msg(nl_type: u16, flags: u16, seq: u32, cmd: u8, attrs: &[Vec<u8>]) -> Vec<u8> {
    let body = attrs.concat();
    let len = 16 + 4 + body.len();
    let mut v = Vec::new();
    v.extend_from_slice(&(len as u32).to_ne_bytes());
    v.extend_from_slice(&nl_type.to_ne_bytes());
    v.extend_from_slice(&flags.to_ne_bytes());
    v.extend_from_slice(&seq.to_ne_bytes());
    v.extend_from_slice(&0u32.to_ne_bytes()); // pid
    v.extend_from_slice(&[cmd, IPVS_GENL_VERSION, 0, 0]);
    v.extend_from_slice(&body);
    v
}

const FAMILY: u16 = 0x23;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_MULTI: u16 = 2;
const NLM_F_ACK: u16 = 4;
const NESTED: u16 = NLA_F_NESTED;

fn v4(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn addr16(a: &str) -> [u8; 16] {
    inet_addr_bytes(&a.parse().unwrap())
}

fn web() -> ServiceKey {
    ServiceKey::Addr {
        proto: Protocol::Tcp,
        addr: v4("192.0.2.1"),
        port: 80,
    }
}

#[test]
#[cfg(target_endian = "little")]
fn add_service_bytes_literally() {
    let mut svc = Service::new(web(), "wlc");
    svc.flags = SvcFlags::PERSISTENT;
    svc.timeout = 300;
    svc.netmask = 0xffff_ff00;
    let got = to_bytes(&op_message(FAMILY, &Op::AddService(svc), 7).unwrap()).unwrap();
    #[rustfmt::skip]
    let want: Vec<u8> = vec![
        // nlmsghdr: len 104, type 0x23, flags REQUEST|ACK, seq 7, pid 0
        104, 0, 0, 0,  0x23, 0,  0x05, 0,  7, 0, 0, 0,  0, 0, 0, 0,
        // genlmsghdr: cmd NEW_SERVICE, version 1
        1, 1, 0, 0,
        // IPVS_CMD_ATTR_SERVICE | NLA_F_NESTED, len 84
        84, 0, 0x01, 0x80,
        6, 0, 1, 0,  2, 0, 0, 0,                    // AF = AF_INET
        6, 0, 2, 0,  6, 0, 0, 0,                    // PROTOCOL = TCP
        20, 0, 3, 0,  192, 0, 2, 1,  0, 0, 0, 0,  0, 0, 0, 0,  0, 0, 0, 0, // ADDR (16-byte union)
        6, 0, 4, 0,  0, 80, 0, 0,                   // PORT 80, big-endian
        8, 0, 6, 0,  b'w', b'l', b'c', 0,           // SCHED_NAME "wlc\0"
        12, 0, 7, 0,  1, 0, 0, 0,  0xff, 0xff, 0xff, 0xff, // FLAGS {PERSISTENT, mask ~0}
        8, 0, 8, 0,  0x2c, 0x01, 0, 0,              // TIMEOUT 300
        8, 0, 9, 0,  255, 255, 255, 0,              // NETMASK 255.255.255.0, network order
    ];
    assert_eq!(got, want);
}

#[test]
fn service_messages_match_the_header_layout() {
    // fwmark IPv6 service, one-packet scheduling, mh with both scheduler flags
    let key = ServiceKey::Fwmark {
        af: Af::Inet6,
        mark: 0x1234,
    };
    let mut svc = Service::new(key, "mh");
    svc.flags = SvcFlags::ONEPACKET | SvcFlags::SCHED1 | SvcFlags::SCHED2 | SvcFlags::HASHED;
    svc.netmask = 64;
    let got = to_bytes(&op_message(FAMILY, &Op::EditService(svc), 9).unwrap()).unwrap();
    let mut flags = Vec::new();
    flags.extend_from_slice(&(0x4u32 | 0x8 | 0x10).to_ne_bytes()); // HASHED never sent
    flags.extend_from_slice(&u32::MAX.to_ne_bytes());
    let want = msg(
        FAMILY,
        NLM_F_REQUEST | NLM_F_ACK,
        9,
        IPVS_CMD_SET_SERVICE,
        &[nest_bytes(
            IPVS_CMD_ATTR_SERVICE | NESTED,
            &[
                nla(IPVS_SVC_ATTR_AF, &10u16.to_ne_bytes()),
                nla(IPVS_SVC_ATTR_FWMARK, &0x1234u32.to_ne_bytes()),
                nla(IPVS_SVC_ATTR_SCHED_NAME, b"mh\0"),
                nla(IPVS_SVC_ATTR_FLAGS, &flags),
                nla(IPVS_SVC_ATTR_TIMEOUT, &0u32.to_ne_bytes()),
                nla(IPVS_SVC_ATTR_NETMASK, &64u32.to_ne_bytes()),
            ],
        )],
    );
    assert_eq!(got, want);

    // delete: identifying attributes only, IPv6 address in the union, SCTP
    let key = ServiceKey::Addr {
        proto: Protocol::Sctp,
        addr: "2001:db8::10".parse().unwrap(),
        port: 0x1f90,
    };
    let got = to_bytes(&op_message(FAMILY, &Op::DelService(key), 1).unwrap()).unwrap();
    let want = msg(
        FAMILY,
        NLM_F_REQUEST | NLM_F_ACK,
        1,
        IPVS_CMD_DEL_SERVICE,
        &[nest_bytes(
            IPVS_CMD_ATTR_SERVICE | NESTED,
            &[
                nla(IPVS_SVC_ATTR_AF, &10u16.to_ne_bytes()),
                nla(IPVS_SVC_ATTR_PROTOCOL, &132u16.to_ne_bytes()),
                nla(IPVS_SVC_ATTR_ADDR, &addr16("2001:db8::10")),
                nla(IPVS_SVC_ATTR_PORT, &[0x1f, 0x90]),
            ],
        )],
    );
    assert_eq!(got, want);
}

fn svc_key_bytes() -> Vec<u8> {
    nest_bytes(
        IPVS_CMD_ATTR_SERVICE | NESTED,
        &[
            nla(IPVS_SVC_ATTR_AF, &2u16.to_ne_bytes()),
            nla(IPVS_SVC_ATTR_PROTOCOL, &6u16.to_ne_bytes()),
            nla(IPVS_SVC_ATTR_ADDR, &addr16("192.0.2.1")),
            nla(IPVS_SVC_ATTR_PORT, &80u16.to_be_bytes()),
        ],
    )
}

#[test]
fn dest_messages_match_the_header_layout() {
    let mut d = Dest::new(v4("10.0.0.2"), 8080, Fwd::Masq, 5);
    d.u_thresh = 100;
    d.l_thresh = 10;
    let got = to_bytes(&op_message(FAMILY, &Op::AddDest(web(), d), 3).unwrap()).unwrap();
    let want = msg(
        FAMILY,
        NLM_F_REQUEST | NLM_F_ACK,
        3,
        IPVS_CMD_NEW_DEST,
        &[
            svc_key_bytes(),
            nest_bytes(
                IPVS_CMD_ATTR_DEST | NESTED,
                &[
                    nla(IPVS_DEST_ATTR_ADDR, &addr16("10.0.0.2")),
                    nla(IPVS_DEST_ATTR_PORT, &[0x1f, 0x90]),
                    nla(IPVS_DEST_ATTR_ADDR_FAMILY, &2u16.to_ne_bytes()),
                    nla(IPVS_DEST_ATTR_FWD_METHOD, &0u32.to_ne_bytes()),
                    nla(IPVS_DEST_ATTR_WEIGHT, &5u32.to_ne_bytes()),
                    nla(IPVS_DEST_ATTR_U_THRESH, &100u32.to_ne_bytes()),
                    nla(IPVS_DEST_ATTR_L_THRESH, &10u32.to_ne_bytes()),
                ],
            ),
        ],
    );
    assert_eq!(got, want);

    // a GUE tunnel to an IPv6 real server: tunnel attributes, u8 type, be16 port
    let mut d = Dest::new("2001:db8::2".parse().unwrap(), 80, Fwd::Tunnel, 1);
    d.tun_type = TunType::Gue;
    d.tun_port = 6080;
    d.tun_flags = crate::ipvs::tun_flags::CSUM;
    let got = to_bytes(&op_message(FAMILY, &Op::EditDest(web(), d), 4).unwrap()).unwrap();
    let want = msg(
        FAMILY,
        NLM_F_REQUEST | NLM_F_ACK,
        4,
        IPVS_CMD_SET_DEST,
        &[
            svc_key_bytes(),
            nest_bytes(
                IPVS_CMD_ATTR_DEST | NESTED,
                &[
                    nla(IPVS_DEST_ATTR_ADDR, &addr16("2001:db8::2")),
                    nla(IPVS_DEST_ATTR_PORT, &80u16.to_be_bytes()),
                    nla(IPVS_DEST_ATTR_ADDR_FAMILY, &10u16.to_ne_bytes()),
                    nla(IPVS_DEST_ATTR_FWD_METHOD, &2u32.to_ne_bytes()),
                    nla(IPVS_DEST_ATTR_WEIGHT, &1u32.to_ne_bytes()),
                    nla(IPVS_DEST_ATTR_TUN_TYPE, &[1]),
                    nla(IPVS_DEST_ATTR_TUN_PORT, &6080u16.to_be_bytes()),
                    nla(IPVS_DEST_ATTR_TUN_FLAGS, &1u16.to_ne_bytes()),
                    nla(IPVS_DEST_ATTR_U_THRESH, &0u32.to_ne_bytes()),
                    nla(IPVS_DEST_ATTR_L_THRESH, &0u32.to_ne_bytes()),
                ],
            ),
        ],
    );
    assert_eq!(got, want);

    let key = DestKey {
        addr: v4("10.0.0.2"),
        port: 80,
    };
    let got = to_bytes(&op_message(FAMILY, &Op::DelDest(web(), key), 5).unwrap()).unwrap();
    let want = msg(
        FAMILY,
        NLM_F_REQUEST | NLM_F_ACK,
        5,
        IPVS_CMD_DEL_DEST,
        &[
            svc_key_bytes(),
            nest_bytes(
                IPVS_CMD_ATTR_DEST | NESTED,
                &[
                    nla(IPVS_DEST_ATTR_ADDR, &addr16("10.0.0.2")),
                    nla(IPVS_DEST_ATTR_PORT, &80u16.to_be_bytes()),
                    nla(IPVS_DEST_ATTR_ADDR_FAMILY, &2u16.to_ne_bytes()),
                ],
            ),
        ],
    );
    assert_eq!(got, want);
}

#[test]
fn daemon_and_dump_requests_match_the_header_layout() {
    let mut d = SyncDaemon::new(SyncState::Master, "eth0", 7);
    d.mcast_group = Some(v4("239.1.2.3"));
    d.mcast_port = Some(8848);
    d.mcast_ttl = Some(2);
    d.sync_maxlen = Some(1400);
    let got = to_bytes(
        &request(
            FAMILY,
            1,
            IPVS_CMD_NEW_DAEMON,
            vec![daemon_attr(&d).unwrap()],
            NlmF::ACK,
            2,
        )
        .unwrap(),
    )
    .unwrap();
    let want = msg(
        FAMILY,
        NLM_F_REQUEST | NLM_F_ACK,
        2,
        IPVS_CMD_NEW_DAEMON,
        &[nest_bytes(
            IPVS_CMD_ATTR_DAEMON | NESTED,
            &[
                nla(IPVS_DAEMON_ATTR_STATE, &1u32.to_ne_bytes()),
                nla(IPVS_DAEMON_ATTR_MCAST_IFN, b"eth0\0"),
                nla(IPVS_DAEMON_ATTR_SYNC_ID, &7u32.to_ne_bytes()),
                nla(IPVS_DAEMON_ATTR_SYNC_MAXLEN, &1400u16.to_ne_bytes()),
                nla(IPVS_DAEMON_ATTR_MCAST_GROUP, &[239, 1, 2, 3]),
                nla(IPVS_DAEMON_ATTR_MCAST_PORT, &8848u16.to_ne_bytes()),
                nla(IPVS_DAEMON_ATTR_MCAST_TTL, &[2]),
            ],
        )],
    );
    assert_eq!(got, want);

    // a dump of services: NLM_F_DUMP (ROOT|MATCH = 0x300), no attributes
    let got = to_bytes(&request(FAMILY, 1, IPVS_CMD_GET_SERVICE, vec![], NlmF::DUMP, 11).unwrap())
        .unwrap();
    assert_eq!(
        got,
        msg(FAMILY, NLM_F_REQUEST | 0x300, 11, IPVS_CMD_GET_SERVICE, &[])
    );
}

#[test]
fn names_too_long_for_the_kernel_are_refused() {
    let svc = Service::new(web(), "a-scheduler-name-too-long");
    assert!(matches!(
        op_message(FAMILY, &Op::AddService(svc), 1),
        Err(IpvsError::Invalid(m)) if m.contains("1 to 15 bytes")
    ));
    let d = SyncDaemon::new(SyncState::Backup, "an-interface-name", 1);
    assert!(daemon_attr(&d).is_err());
    let mut svc = Service::new(
        ServiceKey::Fwmark {
            af: Af::Inet6,
            mark: 1,
        },
        "rr",
    );
    svc.netmask = 0;
    assert!(op_message(FAMILY, &Op::AddService(svc), 1).is_err());
}

// ---------------------------------------------------------------------------------------------
// Replies as the kernel writes them (nests without NLA_F_NESTED, u64 counters after a PAD).

fn stats64(base: u64) -> Vec<u8> {
    let mut v = Vec::new();
    for ty in 1..=10u16 {
        v.push(nla(IPVS_STATS_ATTR_PAD, &[]));
        v.push(nla(ty, &(base + u64::from(ty)).to_ne_bytes()));
    }
    v.concat()
}

fn stats32(base: u32) -> Vec<u8> {
    let mut v = Vec::new();
    for ty in 1..=10u16 {
        let val = base + u32::from(ty);
        if ty == IPVS_STATS_ATTR_INBYTES || ty == IPVS_STATS_ATTR_OUTBYTES {
            v.push(nla(ty, &u64::from(val).to_ne_bytes()));
        } else {
            v.push(nla(ty, &val.to_ne_bytes()));
        }
    }
    v.concat()
}

fn done(seq: u32) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&20u32.to_ne_bytes());
    v.extend_from_slice(&NLMSG_DONE.to_ne_bytes());
    v.extend_from_slice(&NLM_F_MULTI.to_ne_bytes());
    v.extend_from_slice(&seq.to_ne_bytes());
    v.extend_from_slice(&1234u32.to_ne_bytes());
    v.extend_from_slice(&0i32.to_ne_bytes());
    v
}

fn kernel_service(with_stats64: bool) -> Vec<u8> {
    let mut flags = Vec::new();
    flags.extend_from_slice(&(0x1u32 | 0x2 | 0x8).to_ne_bytes()); // PERSISTENT|HASHED|SCHED1
    flags.extend_from_slice(&u32::MAX.to_ne_bytes());
    let mut attrs = vec![
        nla(IPVS_SVC_ATTR_AF, &2u16.to_ne_bytes()),
        nla(IPVS_SVC_ATTR_PROTOCOL, &17u16.to_ne_bytes()),
        nla(IPVS_SVC_ATTR_ADDR, &addr16("198.51.100.7")),
        nla(IPVS_SVC_ATTR_PORT, &53u16.to_be_bytes()),
        nla(IPVS_SVC_ATTR_SCHED_NAME, b"sh\0"),
        nla(IPVS_SVC_ATTR_FLAGS, &flags),
        nla(IPVS_SVC_ATTR_TIMEOUT, &360u32.to_ne_bytes()),
        nla(IPVS_SVC_ATTR_NETMASK, &[255, 255, 0, 0]),
        nla(IPVS_SVC_ATTR_STATS, &stats32(1000)),
    ];
    if with_stats64 {
        attrs.push(nla(IPVS_SVC_ATTR_STATS64, &stats64(5_000_000_000)));
    }
    msg(
        FAMILY,
        NLM_F_MULTI,
        42,
        IPVS_CMD_NEW_SERVICE,
        &[nest_bytes(IPVS_CMD_ATTR_SERVICE, &attrs)],
    )
}

#[test]
fn parses_a_hand_built_service_dump() {
    let mut bytes = kernel_service(true);
    bytes.extend(kernel_service(false));
    bytes.extend(done(42));
    let incoming = parse_messages(&bytes).unwrap();
    assert_eq!(incoming.len(), 3);
    let Incoming::Payload { seq: 42, genl } = &incoming[0] else {
        panic!("{incoming:?}")
    };
    assert_eq!(genl.cmd, IPVS_CMD_NEW_SERVICE);
    let e = parse_service_msg(genl).unwrap();
    assert_eq!(
        e.service,
        Service {
            key: ServiceKey::Addr {
                proto: Protocol::Udp,
                addr: v4("198.51.100.7"),
                port: 53
            },
            sched: "sh".into(),
            flags: SvcFlags::PERSISTENT | SvcFlags::SCHED1,
            timeout: 360,
            netmask: 0xffff_0000,
            pe_name: None,
        }
    );
    // 64-bit counters preferred
    assert_eq!(e.stats.conns, 5_000_000_001);
    assert_eq!(e.stats.outbps, 5_000_000_010);
    // 32-bit fallback
    let Incoming::Payload { genl, .. } = &incoming[1] else {
        panic!()
    };
    let e = parse_service_msg(genl).unwrap();
    assert_eq!(e.stats.conns, 1001);
    assert_eq!(e.stats.inbytes, 1004);
    assert_eq!(e.stats.outbps, 1010);
    assert!(matches!(incoming[2], Incoming::Done { seq: 42, errno: 0 }));
}

#[test]
fn parses_a_hand_built_fwmark_v6_service() {
    let mut flags = Vec::new();
    flags.extend_from_slice(&0x2u32.to_ne_bytes());
    flags.extend_from_slice(&u32::MAX.to_ne_bytes());
    let bytes = msg(
        FAMILY,
        NLM_F_MULTI,
        1,
        IPVS_CMD_NEW_SERVICE,
        &[nest_bytes(
            IPVS_CMD_ATTR_SERVICE,
            &[
                nla(IPVS_SVC_ATTR_AF, &10u16.to_ne_bytes()),
                nla(IPVS_SVC_ATTR_FWMARK, &9u32.to_ne_bytes()),
                nla(IPVS_SVC_ATTR_SCHED_NAME, b"twos\0"),
                nla(IPVS_SVC_ATTR_PE_NAME, b"sip\0"),
                nla(IPVS_SVC_ATTR_FLAGS, &flags),
                nla(IPVS_SVC_ATTR_TIMEOUT, &0u32.to_ne_bytes()),
                nla(IPVS_SVC_ATTR_NETMASK, &96u32.to_ne_bytes()),
            ],
        )],
    );
    let inc = parse_messages(&bytes).unwrap();
    let Incoming::Payload { genl, .. } = &inc[0] else {
        panic!()
    };
    let e = parse_service_msg(genl).unwrap();
    assert_eq!(
        e.service.key,
        ServiceKey::Fwmark {
            af: Af::Inet6,
            mark: 9
        }
    );
    assert_eq!(e.service.sched, "twos");
    assert_eq!(e.service.pe_name.as_deref(), Some("sip"));
    assert_eq!(e.service.flags, SvcFlags::empty()); // HASHED dropped
    assert_eq!(e.service.netmask, 96);
    assert_eq!(e.stats, Stats::default());
}

#[test]
fn parses_a_hand_built_dest_dump() {
    let dest = |addr: &str, af: u16, fwd: u32, tun: bool| {
        let mut a = vec![
            nla(IPVS_DEST_ATTR_ADDR, &addr16(addr)),
            nla(IPVS_DEST_ATTR_PORT, &8080u16.to_be_bytes()),
            nla(IPVS_DEST_ATTR_FWD_METHOD, &fwd.to_ne_bytes()),
            nla(IPVS_DEST_ATTR_WEIGHT, &3u32.to_ne_bytes()),
        ];
        if tun {
            a.push(nla(IPVS_DEST_ATTR_TUN_TYPE, &[2]));
            a.push(nla(IPVS_DEST_ATTR_TUN_PORT, &0u16.to_be_bytes()));
            a.push(nla(IPVS_DEST_ATTR_TUN_FLAGS, &2u16.to_ne_bytes()));
        }
        a.extend([
            nla(IPVS_DEST_ATTR_U_THRESH, &50u32.to_ne_bytes()),
            nla(IPVS_DEST_ATTR_L_THRESH, &5u32.to_ne_bytes()),
            nla(IPVS_DEST_ATTR_ACTIVE_CONNS, &7u32.to_ne_bytes()),
            nla(IPVS_DEST_ATTR_INACT_CONNS, &8u32.to_ne_bytes()),
            nla(IPVS_DEST_ATTR_PERSIST_CONNS, &9u32.to_ne_bytes()),
            nla(IPVS_DEST_ATTR_ADDR_FAMILY, &af.to_ne_bytes()),
            nla(IPVS_DEST_ATTR_STATS, &stats32(0)),
            nla(IPVS_DEST_ATTR_STATS64, &stats64(100)),
        ]);
        msg(
            FAMILY,
            NLM_F_MULTI,
            5,
            IPVS_CMD_NEW_DEST,
            &[nest_bytes(IPVS_CMD_ATTR_DEST, &a)],
        )
    };
    let mut bytes = dest("10.1.1.1", 2, 3, false);
    bytes.extend(dest("2001:db8::5", 10, 2, true)); // mixed family: v6 tunnel in a v4 service
    bytes.extend(done(5));
    let inc = parse_messages(&bytes).unwrap();
    let parsed: Vec<DestEntry> = inc
        .iter()
        .filter_map(|i| match i {
            Incoming::Payload { genl, .. } => Some(parse_dest_msg(genl, Af::Inet).unwrap()),
            _ => None,
        })
        .collect();
    assert_eq!(parsed.len(), 2);
    let a = &parsed[0];
    assert_eq!(a.dest.addr, v4("10.1.1.1"));
    assert_eq!(a.dest.port, 8080);
    assert_eq!(a.dest.fwd, Fwd::Route);
    assert_eq!(
        (a.dest.weight, a.dest.u_thresh, a.dest.l_thresh),
        (3, 50, 5)
    );
    assert_eq!((a.active_conns, a.inact_conns, a.persist_conns), (7, 8, 9));
    assert_eq!(a.stats.conns, 101);
    let b = &parsed[1];
    assert_eq!(b.dest.addr, "2001:db8::5".parse::<IpAddr>().unwrap());
    assert_eq!(b.dest.fwd, Fwd::Tunnel);
    assert_eq!(b.dest.tun_type, TunType::Gre);
    assert_eq!(b.dest.tun_flags, crate::ipvs::tun_flags::REMCSUM);
}

#[test]
fn parses_acks_errors_and_daemons() {
    // NLMSG_ERROR carrying -EEXIST and the request's own header and payload
    let req = msg(
        FAMILY,
        NLM_F_REQUEST | NLM_F_ACK,
        8,
        IPVS_CMD_NEW_SERVICE,
        &[svc_key_bytes()],
    );
    let mut err = Vec::new();
    let len = 16 + 4 + req.len();
    err.extend_from_slice(&(len as u32).to_ne_bytes());
    err.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
    err.extend_from_slice(&0u16.to_ne_bytes());
    err.extend_from_slice(&8u32.to_ne_bytes());
    err.extend_from_slice(&99u32.to_ne_bytes());
    err.extend_from_slice(&(-libc::EEXIST).to_ne_bytes());
    err.extend_from_slice(&req);
    // and an ACK (code 0, the request's header only)
    let mut ack = Vec::new();
    ack.extend_from_slice(&36u32.to_ne_bytes());
    ack.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
    ack.extend_from_slice(&0u16.to_ne_bytes());
    ack.extend_from_slice(&9u32.to_ne_bytes());
    ack.extend_from_slice(&99u32.to_ne_bytes());
    ack.extend_from_slice(&0i32.to_ne_bytes());
    ack.extend_from_slice(&req[..16]);
    let both = [err, ack].concat();
    let inc = parse_messages(&both).unwrap();
    assert!(matches!(
        inc[0],
        Incoming::Error {
            seq: 8,
            errno: libc::EEXIST
        }
    ));
    assert!(matches!(inc[1], Incoming::Ack { seq: 9 }));

    let daemon = msg(
        FAMILY,
        NLM_F_MULTI,
        3,
        IPVS_CMD_NEW_DAEMON,
        &[nest_bytes(
            IPVS_CMD_ATTR_DAEMON,
            &[
                nla(IPVS_DAEMON_ATTR_STATE, &2u32.to_ne_bytes()),
                nla(IPVS_DAEMON_ATTR_MCAST_IFN, b"eth1\0"),
                nla(IPVS_DAEMON_ATTR_SYNC_ID, &4u32.to_ne_bytes()),
                nla(IPVS_DAEMON_ATTR_SYNC_MAXLEN, &1472u16.to_ne_bytes()),
                nla(IPVS_DAEMON_ATTR_MCAST_PORT, &8848u16.to_ne_bytes()),
                nla(IPVS_DAEMON_ATTR_MCAST_TTL, &[1]),
                nla(IPVS_DAEMON_ATTR_MCAST_GROUP, &[224, 0, 0, 81]),
            ],
        )],
    );
    let inc = parse_messages(&daemon).unwrap();
    let Incoming::Payload { genl, .. } = &inc[0] else {
        panic!()
    };
    let d = parse_daemon_msg(genl).unwrap();
    assert_eq!(
        d,
        SyncDaemon {
            state: SyncState::Backup,
            mcast_ifn: "eth1".into(),
            syncid: 4,
            sync_maxlen: Some(1472),
            mcast_group: Some(v4("224.0.0.81")),
            mcast_port: Some(8848),
            mcast_ttl: Some(1),
        }
    );
}

#[test]
fn parses_info_and_timeouts() {
    let info = msg(
        FAMILY,
        0,
        1,
        IPVS_CMD_SET_INFO,
        &[
            nla(IPVS_INFO_ATTR_VERSION, &0x010201u32.to_ne_bytes()),
            nla(IPVS_INFO_ATTR_CONN_TAB_SIZE, &4096u32.to_ne_bytes()),
        ],
    );
    let inc = parse_messages(&info).unwrap();
    let Incoming::Payload { genl, .. } = &inc[0] else {
        panic!()
    };
    let i = parse_info(genl).unwrap();
    assert_eq!(i.version_string(), "1.2.1");
    assert_eq!(i.conn_tab_size, 4096);

    let cfg = msg(
        FAMILY,
        0,
        1,
        IPVS_CMD_SET_CONFIG,
        &[
            nla(IPVS_CMD_ATTR_TIMEOUT_TCP, &900u32.to_ne_bytes()),
            nla(IPVS_CMD_ATTR_TIMEOUT_TCP_FIN, &120u32.to_ne_bytes()),
            nla(IPVS_CMD_ATTR_TIMEOUT_UDP, &300u32.to_ne_bytes()),
        ],
    );
    let inc = parse_messages(&cfg).unwrap();
    let Incoming::Payload { genl, .. } = &inc[0] else {
        panic!()
    };
    assert_eq!(
        parse_timeouts(genl).unwrap(),
        Timeouts {
            tcp: 900,
            tcp_fin: 120,
            udp: 300
        }
    );
}

#[test]
fn encode_then_decode_round_trips() {
    // what we send for a full service, read back as if the kernel echoed it
    let mut svc = Service::new(
        ServiceKey::Addr {
            proto: Protocol::Tcp,
            addr: "2001:db8::80".parse().unwrap(),
            port: 443,
        },
        "lblcr",
    );
    svc.flags = SvcFlags::PERSISTENT;
    svc.timeout = 1800;
    svc.netmask = 48;
    let a = service_attr(&svc).unwrap();
    let inner = Attrs::parse(a.nla_payload().as_ref(), "service").unwrap();
    assert_eq!(parse_service(&inner).unwrap().service, svc);
}

#[test]
fn not_available_names_proc_family_and_modprobe() {
    let text = not_available(false).to_string();
    for needle in [
        "/proc/net/ip_vs is absent",
        "\"IPVS\" was not found",
        "modprobe ip_vs",
    ] {
        assert!(text.contains(needle), "{needle} not in: {text}");
    }
}

#[test]
fn attrs_index_in_place_mask_flags_and_skip_what_they_do_not_know() {
    let bytes = [
        nla(IPVS_DEST_ATTR_WEIGHT, &3u32.to_ne_bytes()),
        nla(IPVS_DEST_ATTR_WEIGHT, &9u32.to_ne_bytes()), // a repeat: the first wins
        nla(IPVS_DEST_ATTR_STATS64 | NESTED, &stats64(0)),
        nla(40, b"from a newer kernel"),
        nla(IPVS_DEST_ATTR_PORT | (1 << 14), &80u16.to_be_bytes()), // NLA_F_NET_BYTEORDER
        vec![0, 0],                                                 // trailing padding
    ]
    .concat();
    let a = Attrs::parse(&bytes, "real server").unwrap();
    assert_eq!(a.get(IPVS_DEST_ATTR_WEIGHT), Some(&3u32.to_ne_bytes()[..]));
    assert_eq!(a.get(IPVS_DEST_ATTR_PORT), Some(&80u16.to_be_bytes()[..]));
    assert_eq!(
        parse_stats(a.get(IPVS_DEST_ATTR_STATS64).unwrap())
            .unwrap()
            .conns,
        1
    );
    assert_eq!(a.get(40), None);
    assert_eq!(a.get(IPVS_DEST_ATTR_ADDR), None);
    // the payload is the received bytes themselves, not a copy
    let w = a.get(IPVS_DEST_ATTR_WEIGHT).unwrap();
    assert_eq!(w.as_ptr(), bytes[4..].as_ptr());
}

#[test]
fn malformed_attributes_and_messages_are_errors_that_say_where() {
    let mut bytes = nla(IPVS_DEST_ATTR_WEIGHT, &3u32.to_ne_bytes());
    bytes[0] = 200; // claims 200 bytes, 8 are there
    let e = Attrs::parse(&bytes, "real server").unwrap_err().to_string();
    assert!(
        e.contains("real server") && e.contains("type 4 says 200 bytes, 8 are left"),
        "{e}"
    );
    bytes[0] = 2; // shorter than its own header
    assert!(Attrs::parse(&bytes, "real server").is_err());

    let good = msg(FAMILY, NLM_F_MULTI, 5, IPVS_CMD_NEW_DEST, &[]);
    // a message cut short: the first decodes, the second is an error, then the iterator stops
    let cut = [good.clone(), good[..10].to_vec()].concat();
    let got: Vec<_> = messages(&cut).collect();
    assert_eq!(got.len(), 2);
    assert!(matches!(got[0], Ok(Incoming::Payload { seq: 5, .. })));
    let e = got[1].as_ref().unwrap_err().to_string();
    assert!(e.contains("10 bytes left, a header needs 16"), "{e}");
    // a length past the end
    let mut long = good.clone();
    long[0] = 99;
    let e = parse_messages(&long).unwrap_err().to_string();
    assert!(e.contains("says 99 bytes, 20 are left"), "{e}");
    // a generic-netlink payload without its header
    let mut bare = good[..16].to_vec();
    bare[0] = 16;
    let e = parse_messages(&bare).unwrap_err().to_string();
    assert!(e.contains("too few for a generic netlink header"), "{e}");
    // a nest inside a good message that runs past its end
    let mut inner = nla(IPVS_DEST_ATTR_ADDR, &addr16("10.0.0.1"));
    inner[0] = 60;
    let bad = msg(
        FAMILY,
        NLM_F_MULTI,
        5,
        IPVS_CMD_NEW_DEST,
        &[nest_bytes(IPVS_CMD_ATTR_DEST, &[inner])],
    );
    let inc = parse_messages(&bad).unwrap();
    let Incoming::Payload { genl, .. } = &inc[0] else {
        panic!()
    };
    let e = parse_dest_msg(genl, Af::Inet).unwrap_err().to_string();
    assert!(
        e.contains("real server: attribute type 1 says 60 bytes"),
        "{e}"
    );
    // a required attribute missing
    let bare_dest = msg(
        FAMILY,
        NLM_F_MULTI,
        5,
        IPVS_CMD_NEW_DEST,
        &[nest_bytes(
            IPVS_CMD_ATTR_DEST,
            &[nla(IPVS_DEST_ATTR_PORT, &80u16.to_be_bytes())],
        )],
    );
    let inc = parse_messages(&bare_dest).unwrap();
    let Incoming::Payload { genl, .. } = &inc[0] else {
        panic!()
    };
    let e = parse_dest_msg(genl, Af::Inet).unwrap_err().to_string();
    assert!(e.contains("real server address is missing"), "{e}");
}

#[test]
fn noop_is_skipped_and_a_short_done_means_success() {
    let mut noop = vec![0u8; 16];
    noop[0] = 16;
    noop[4] = 1; // NLMSG_NOOP
    let mut done_short = vec![0u8; 16];
    done_short[0] = 16;
    done_short[4] = NLMSG_DONE as u8;
    done_short[8] = 7;
    let mut overrun = vec![0u8; 16];
    overrun[0] = 16;
    overrun[4] = 4; // NLMSG_OVERRUN
    let ok = [noop, done_short].concat();
    let inc = parse_messages(&ok).unwrap();
    assert_eq!(inc.len(), 1);
    assert!(matches!(inc[0], Incoming::Done { seq: 7, errno: 0 }));
    let e = parse_messages(&overrun).unwrap_err().to_string();
    assert!(e.contains("overrun"), "{e}");
}
