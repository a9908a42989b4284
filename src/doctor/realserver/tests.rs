use super::*;

const RS1: Mac = [2, 0x77, 0, 0, 0, 0x72];
const RS2: Mac = [2, 0x77, 0, 0, 0, 0x73];
const MASTER: Mac = [2, 0x77, 0, 0, 0, 0x71];
const BACKUP: Mac = [2, 0x77, 0, 0, 0, 0x70];

fn vip() -> Ipv4Addr {
    Ipv4Addr::new(10, 10, 10, 100)
}

fn server(last: u8, mac: Mac, method: ForwardMethod, outcome: SynOutcome) -> ServerProbe {
    ServerProbe {
        protocol: Protocol::Tcp,
        rs: Ipv4Addr::new(10, 10, 10, last),
        port: 80,
        vip: vip(),
        vport: 80,
        method,
        ifname: "eth0".into(),
        from: Some(Ipv4Addr::new(10, 10, 10, 70)),
        mac: Some(mac),
        outcome,
    }
}

fn probed(held_here: bool, answers: &[Mac], servers: Vec<ServerProbe>) -> Probed {
    Probed {
        vips: vec![VipProbe {
            vip: vip(),
            ifname: "eth0".into(),
            from: Ipv4Addr::new(10, 10, 10, 70),
            held_here,
            answers: answers.to_vec(),
        }],
        servers,
        skipped: Vec::new(),
    }
}

fn healthy() -> Vec<ServerProbe> {
    vec![
        server(0x48, RS1, ForwardMethod::Dr, SynOutcome::Accepted),
        server(0x49, RS2, ForwardMethod::Dr, SynOutcome::Accepted),
    ]
}

fn judged(p: &Probed, heard: &[Heard]) -> Report {
    let mut r = Report::default();
    judge(p, heard, &mut r);
    r
}

fn checks(r: &Report) -> Vec<&str> {
    r.findings.iter().map(|f| f.check.as_str()).collect()
}

#[test]
fn the_master_alone_answering_and_servers_accepting_is_healthy() {
    assert!(
        judged(&probed(false, &[MASTER], healthy()), &[])
            .findings
            .is_empty()
    );
    assert!(
        judged(&probed(true, &[], healthy()), &[])
            .findings
            .is_empty()
    );
}

#[test]
fn a_real_server_answering_arp_for_the_vip_leaks() {
    let r = judged(&probed(false, &[MASTER, RS2], healthy()), &[]);
    assert_eq!(checks(&r), ["rs-arp-leak"]);
    let f = &r.findings[0];
    assert_eq!(f.host, "real server 10.10.10.73 (02:77:00:00:00:73)");
    assert!(
        f.fix
            .starts_with("on 10.10.10.73: sysctl -w net.ipv4.conf.all.arp_ignore=1")
    );
}

#[test]
fn a_vip_nobody_answers_for() {
    assert_eq!(
        checks(&judged(&probed(false, &[], healthy()), &[])),
        ["vip-unanswered"]
    );
}

#[test]
fn another_host_answering_for_a_vip_held_here_is_named() {
    let heard = [Heard {
        ifname: "eth0".into(),
        mac: BACKUP,
        src: "10.10.10.70".parse().unwrap(),
        vrid: 51,
        priority: 90,
        addrs: vec![],
        count: 3,
    }];
    let r = judged(&probed(true, &[BACKUP], healthy()), &heard);
    assert_eq!(checks(&r), ["vip-claimed-twice"]);
    assert!(r.findings[0].host.contains("director 10.10.10.70"));
    let r = judged(&probed(false, &[MASTER, BACKUP], healthy()), &[]);
    assert_eq!(checks(&r), ["vip-claimed-twice"]);
    assert!(r.findings[0].seen.starts_with("2 hosts answered"));
}

#[test]
fn a_dr_server_without_the_vip_is_silent_and_named() {
    let mut servers = healthy();
    servers[1].outcome = SynOutcome::Silent;
    let r = judged(&probed(false, &[MASTER], servers), &[]);
    assert_eq!(checks(&r), ["rs-no-vip"]);
    assert_eq!(r.findings[0].host, "real server 10.10.10.73");
    assert!(
        r.findings[0]
            .fix
            .contains("ip addr add 10.10.10.100/32 dev lo")
    );
}

#[test]
fn a_reset_is_a_service_not_listening_on_the_vip() {
    let mut servers = healthy();
    servers[0].outcome = SynOutcome::Reset;
    let r = judged(&probed(false, &[MASTER], servers), &[]);
    assert_eq!(checks(&r), ["rs-not-listening"]);
    assert!(r.findings[0].fix.contains("10.10.10.100:80"));
}

#[test]
fn tunnel_and_nat_failures_have_their_own_fixes() {
    let servers = vec![
        server(0x48, RS1, ForwardMethod::Tun, SynOutcome::Silent),
        server(0x49, RS2, ForwardMethod::Nat, SynOutcome::Silent),
    ];
    let r = judged(&probed(true, &[], servers), &[]);
    assert_eq!(checks(&r), ["rs-tun-no-vip", "rs-nat-route"]);
    assert!(r.findings[0].fix.contains("dev tunl0"));
    assert!(
        r.findings[1]
            .fix
            .starts_with("on 10.10.10.73: ip route replace default via 10.10.10.70 (this")
    );
}

#[test]
fn what_was_not_probed_is_said() {
    let servers = vec![server(
        0x48,
        RS1,
        ForwardMethod::Nat,
        SynOutcome::NotProbed("this director does not hold 10.10.10.100".into()),
    )];
    let r = judged(&probed(false, &[MASTER], servers), &[]);
    assert!(r.findings.is_empty());
    assert!(r.skipped[0].contains("does not hold"));
}

#[test]
fn the_answer_to_a_probe_is_recognised() {
    let s = server(0x48, RS1, ForwardMethod::Dr, SynOutcome::Silent);
    let syn = syn_for(&s, Ipv4Addr::new(10, 10, 10, 70), 41000, 1);
    assert_eq!((syn.dst, syn.dport), (vip(), 80));
    let synack = Segment {
        src: vip(),
        dst: syn.src,
        sport: 80,
        dport: 41000,
        seq: 9,
        ack: 2,
        flags: wire::TCP_SYN | wire::TCP_ACK,
    };
    assert!(answers(&syn, &synack));
    assert!(!answers(
        &syn,
        &Segment {
            dport: 41001,
            ..synack
        }
    ));
    let nat = server(0x48, RS1, ForwardMethod::Nat, SynOutcome::Silent);
    let syn = syn_for(&nat, Ipv4Addr::new(10, 10, 10, 70), 41000, 1);
    assert_eq!((syn.src, syn.dst), (vip(), nat.rs));
}
