//! The netlink backend and the reconciler against a real kernel's IPVS, in the qemu guest
//! (tests/vm/), with `ipvsadm` as the referee: every operation is read back through lvsdeck
//! and through `ipvsadm -Ln` (plus `--thresholds`, `--persistent-conn`, `--tun-info`,
//! `--stats --exact`, `--rate`, `--timeout`, `--daemon`, `-Lc`), and both must agree.
//!
//! All four checks share one boot (`ipvs_in_the_guest`); on the host they are `#[ignore]`d
//! and do nothing. IPVS is global to the guest, so each starts from `ipvsadm -C`.

mod common;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use common::vm;
use lvsdeck::config::Config;
use lvsdeck::config::model::SCHEDULERS;
use lvsdeck::ipvs::table::{self, Drift, Health, Plan, RealId, RealState, Table, VsId};
use lvsdeck::ipvs::{
    Af, Dest, DestKey, Fwd, IpvsBackend, IpvsError, Netlink, Op, Protocol, Service, ServiceDump,
    ServiceKey, Stats, SvcFlags, SyncDaemon, SyncState, Timeouts, TunType, tun_flags,
};

#[test]
fn ipvs_in_the_guest() {
    vm::run_tests_in_guest(&[
        "netlink_round_trips_every_kind_of_service",
        "stats_timeouts_and_connections_agree_with_ipvsadm",
        "sync_daemons_start_and_stop",
        "reconcile_applies_once_and_repairs_hand_edits",
    ]);
}

// ---------------------------------------------------------------------------------------------
// ipvsadm as the referee.

/// One `ipvsadm -Ln [ARGS]` listing: service head (`TCP 10.1.1.1:80`, `FWM 5 IPv6`) -> the rest
/// of its line and its real servers' lines (address -> the rest).
type Listing = BTreeMap<String, (Vec<String>, BTreeMap<String, Vec<String>>)>;

fn listing(args: &str) -> Listing {
    let out = vm::sh(&format!("ipvsadm -Ln {args}"));
    let mut map: Listing = BTreeMap::new();
    let mut current = None;
    for line in out.lines().skip(3) {
        let toks: Vec<String> = line
            .split_whitespace()
            .map(|t| {
                // scheduler flags are named after the scheduler: compare their presence
                if t.starts_with('(') {
                    "(flags)".to_string()
                } else {
                    t.to_string()
                }
            })
            .collect();
        if toks.is_empty() {
            continue;
        }
        if toks[0] == "->" {
            let head: &String = current.as_ref().expect("a real server before any service");
            let entry = map.get_mut(head).expect("service seen");
            entry.1.insert(toks[1].clone(), toks[2..].to_vec());
        } else {
            let n = if toks[0] == "FWM" && toks.get(2).is_some_and(|t| t == "IPv6") {
                3
            } else {
                2
            };
            let head = toks[..n].join(" ");
            map.insert(head.clone(), (toks[n..].to_vec(), BTreeMap::new()));
            current = Some(head);
        }
    }
    map
}

fn s<T: ToString>(v: T) -> String {
    v.to_string()
}

/// What `ipvsadm -Ln` must print for what lvsdeck read back.
fn expected_ln(dump: &[ServiceDump]) -> Listing {
    let mut map = Listing::new();
    for sd in dump {
        let svc = &sd.entry.service;
        let mut rest = vec![svc.sched.clone()];
        if svc.flags.0 & (SvcFlags::SCHED1.0 | SvcFlags::SCHED2.0 | SvcFlags::SCHED3.0) != 0 {
            rest.push("(flags)".into());
        }
        if svc.flags.contains(SvcFlags::PERSISTENT) {
            rest.extend([s("persistent"), s(svc.timeout)]);
            match svc.key.af() {
                Af::Inet if svc.netmask != u32::MAX => {
                    rest.extend([s("mask"), s(Ipv4Addr::from(svc.netmask))])
                }
                Af::Inet6 if svc.netmask != 128 => rest.extend([s("mask"), s(svc.netmask)]),
                _ => {}
            }
            if let Some(pe) = &svc.pe_name {
                rest.extend([s("pe"), pe.clone()]);
            }
        }
        if svc.flags.contains(SvcFlags::ONEPACKET) {
            rest.push("ops".into());
        }
        let dests = sd
            .dests
            .iter()
            .map(|d| {
                (
                    d.dest.key().to_string(),
                    vec![
                        s(d.dest.fwd.ipvsadm_name()),
                        s(d.dest.weight),
                        s(d.active_conns),
                        s(d.inact_conns),
                    ],
                )
            })
            .collect();
        map.insert(svc.key.to_string(), (rest, dests));
    }
    map
}

/// The same, for a listing whose service lines and real-server lines are columns of numbers.
fn expected_columns(
    dump: &[ServiceDump],
    svc_cols: impl Fn(&ServiceDump) -> Vec<String>,
    dest_cols: impl Fn(&lvsdeck::ipvs::DestEntry) -> Vec<String>,
) -> Listing {
    dump.iter()
        .map(|sd| {
            (
                sd.entry.service.key.to_string(),
                (
                    svc_cols(sd),
                    sd.dests
                        .iter()
                        .map(|d| (d.dest.key().to_string(), dest_cols(d)))
                        .collect(),
                ),
            )
        })
        .collect()
}

fn stats_cols(st: &Stats) -> Vec<String> {
    vec![
        s(st.conns),
        s(st.inpkts),
        s(st.outpkts),
        s(st.inbytes),
        s(st.outbytes),
    ]
}

fn rate_cols(st: &Stats) -> Vec<String> {
    vec![
        s(st.cps),
        s(st.inpps),
        s(st.outpps),
        s(st.inbps),
        s(st.outbps),
    ]
}

/// `ipvsadm -Ln`, `--thresholds`, `--persistent-conn` and `--tun-info` agree with what lvsdeck
/// reads back.
fn assert_ipvsadm_agrees(nl: &mut Netlink) {
    let dump = nl.dump().expect("dump");
    assert_eq!(listing(""), expected_ln(&dump), "ipvsadm -Ln");
    let svc_line = |sd: &ServiceDump| {
        expected_ln(std::slice::from_ref(sd))
            .into_values()
            .next()
            .unwrap()
            .0
    };
    assert_eq!(
        listing("--thresholds"),
        expected_columns(&dump, svc_line, |d| vec![
            s(d.dest.u_thresh),
            s(d.dest.l_thresh),
            s(d.active_conns),
            s(d.inact_conns)
        ]),
        "ipvsadm -Ln --thresholds"
    );
    assert_eq!(
        listing("--persistent-conn"),
        expected_columns(&dump, svc_line, |d| vec![
            s(d.dest.weight),
            s(d.persist_conns),
            s(d.active_conns),
            s(d.inact_conns)
        ]),
        "ipvsadm -Ln --persistent-conn"
    );
    // --tun-info: only the tunnel type (and GUE port) are compared; the flag letters vary
    for (head, (_, dests)) in listing("--tun-info") {
        let sd = dump
            .iter()
            .find(|sd| sd.entry.service.key.to_string() == head)
            .unwrap_or_else(|| panic!("ipvsadm lists {head}, lvsdeck does not"));
        for (addr, cols) in dests {
            let d = sd
                .dests
                .iter()
                .find(|d| d.dest.key().to_string() == addr)
                .unwrap_or_else(|| panic!("ipvsadm lists {addr} in {head}, lvsdeck does not"));
            let want = match (d.dest.fwd, d.dest.tun_type) {
                (Fwd::Tunnel, TunType::Ipip) => "ipip".to_string(),
                (Fwd::Tunnel, TunType::Gue) => format!("gue:{}", d.dest.tun_port),
                (Fwd::Tunnel, TunType::Gre) => "gre".to_string(),
                _ => "n/a".to_string(),
            };
            assert!(
                cols[1].starts_with(&want),
                "{head} -> {addr}: ipvsadm says {}, lvsdeck read {want}",
                cols[1]
            );
        }
    }
}

fn tcp(addr: &str, port: u16) -> ServiceKey {
    ServiceKey::Addr {
        proto: Protocol::Tcp,
        addr: addr.parse().unwrap(),
        port,
    }
}

fn ip(a: &str) -> IpAddr {
    a.parse().unwrap()
}

fn fresh() -> Netlink {
    vm::sh("ipvsadm -C");
    Netlink::open().expect("IPVS in the guest")
}

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let v = f();
    println!("{what}: {:.1} ms", start.elapsed().as_secs_f64() * 1e3);
    v
}

// ---------------------------------------------------------------------------------------------

#[test]
#[ignore = "runs in the guest, booted by ipvs_in_the_guest"]
fn netlink_round_trips_every_kind_of_service() {
    vm::guest_only("netlink_round_trips_every_kind_of_service", || {
        let mut nl = fresh();
        let info = nl.info().expect("info");
        assert_eq!(info.version_string(), "1.2.1");
        let header = vm::sh("ipvsadm -Ln | head -1");
        assert!(
            header.contains(&format!("(size={})", info.conn_tab_size)),
            "{header} vs {info:?}"
        );

        // every scheduler this kernel has
        let deps = std::fs::read_to_string(format!(
            "/lib/modules/{}/modules.dep",
            vm::sh("uname -r").trim()
        ))
        .expect("modules.dep");
        let mut expected = Table::new();
        let mut missing = Vec::new();
        for (i, sched) in SCHEDULERS.iter().enumerate() {
            if !deps.contains(&format!("/ip_vs_{sched}.ko")) {
                missing.push(*sched);
                continue;
            }
            let mut svc = Service::new(tcp(&format!("10.2.0.{}", i + 1), 80), sched);
            if *sched == "sh" || *sched == "mh" {
                svc.flags = SvcFlags::SCHED1 | SvcFlags::SCHED2;
            }
            nl.add_service(&svc)
                .unwrap_or_else(|e| panic!("{sched}: {e}"));
            expected.insert_service(svc);
        }
        println!(
            "schedulers: {} in this kernel, not: {missing:?}",
            SCHEDULERS.len() - missing.len()
        );

        // fwmark (v4 and v6), IPv6, UDP one-packet, SCTP, persistence with netmasks
        let fw4 = ServiceKey::Fwmark {
            af: Af::Inet,
            mark: 1,
        };
        let fw6 = ServiceKey::Fwmark {
            af: Af::Inet6,
            mark: 2,
        };
        let udp6 = ServiceKey::Addr {
            proto: Protocol::Udp,
            addr: ip("2001:db8::10"),
            port: 53,
        };
        let sctp = ServiceKey::Addr {
            proto: Protocol::Sctp,
            addr: ip("10.2.1.1"),
            port: 9,
        };
        let mut more = vec![];
        let mut s = Service::new(fw4, "wlc");
        s.flags = SvcFlags::PERSISTENT;
        s.timeout = 300;
        s.netmask = 0xffff_ff00;
        more.push(s);
        let mut s = Service::new(fw6, "lc");
        s.flags = SvcFlags::PERSISTENT;
        s.timeout = 60;
        s.netmask = 64;
        more.push(s);
        let mut s = Service::new(udp6, "rr");
        s.flags = SvcFlags::ONEPACKET;
        more.push(s);
        more.push(Service::new(sctp, "wrr"));
        for svc in more {
            nl.add_service(&svc)
                .unwrap_or_else(|e| panic!("{}: {e}", svc.key));
            expected.insert_service(svc);
        }

        // each forwarding method, tunnels of each type, thresholds, a mixed-family tunnel
        let web = tcp("10.2.0.1", 80);
        let mut dests = vec![
            Dest::new(ip("10.3.0.1"), 80, Fwd::Route, 1),
            Dest::new(ip("10.3.0.2"), 8080, Fwd::Masq, 5),
            Dest::new(ip("10.3.0.3"), 80, Fwd::Tunnel, 2),
            Dest::new(ip("2001:db8::33"), 80, Fwd::Tunnel, 1),
        ];
        dests[1].u_thresh = 100;
        dests[1].l_thresh = 10;
        let mut gue = Dest::new(ip("10.3.0.4"), 80, Fwd::Tunnel, 3);
        gue.tun_type = TunType::Gue;
        gue.tun_port = 6080;
        gue.tun_flags = tun_flags::CSUM;
        let mut gre = Dest::new(ip("10.3.0.5"), 80, Fwd::Tunnel, 4);
        gre.tun_type = TunType::Gre;
        dests.extend([gue, gre]);
        let other = [
            (fw4, Dest::new(ip("10.3.1.1"), 0, Fwd::Route, 1)),
            (fw6, Dest::new(ip("2001:db8::21"), 0, Fwd::Route, 2)),
            (udp6, Dest::new(ip("2001:db8::22"), 5353, Fwd::Masq, 3)),
            (sctp, Dest::new(ip("10.3.2.1"), 9, Fwd::Tunnel, 1)),
        ];
        timed("add 10 real servers", || {
            for d in &dests {
                nl.add_dest(&web, d)
                    .unwrap_or_else(|e| panic!("{}: {e}", d.key()));
            }
            for (k, d) in &other {
                nl.add_dest(k, d)
                    .unwrap_or_else(|e| panic!("{k} {}: {e}", d.key()));
            }
        });
        for d in &dests {
            expected
                .services
                .get_mut(&web)
                .unwrap()
                .dests
                .insert(d.key(), *d);
        }
        for (k, d) in &other {
            expected
                .services
                .get_mut(k)
                .unwrap()
                .dests
                .insert(d.key(), *d);
        }
        let dump = timed("dump", || nl.dump().expect("dump"));
        assert_eq!(Table::from_dump(&dump), expected);
        assert!(
            dump.iter()
                .all(|sd| sd.entry.service.flags == sd.entry.service.flags.significant())
        );
        assert_ipvsadm_agrees(&mut nl);

        // one service by key
        let got = nl.service(&fw6).expect("get").expect("fw6 exists");
        assert_eq!(&got.service, &expected.get(&fw6).unwrap().service);
        assert!(nl.service(&tcp("10.9.9.9", 1)).expect("get").is_none());

        // edits in place
        let mut svc = expected.get(&web).unwrap().service.clone();
        svc.sched = "wlc".into();
        svc.flags = SvcFlags::PERSISTENT;
        svc.timeout = 600;
        svc.netmask = 0xffff_0000;
        nl.edit_service(&svc).expect("edit service");
        let mut d = dests[1];
        d.weight = 9;
        d.fwd = Fwd::Route;
        d.u_thresh = 7;
        d.l_thresh = 3;
        nl.edit_dest(&web, &d).expect("edit dest");
        let ts = expected.services.get_mut(&web).unwrap();
        ts.service = svc;
        ts.dests.insert(d.key(), d);
        assert_eq!(Table::from_dump(&nl.dump().unwrap()), expected);
        assert_ipvsadm_agrees(&mut nl);

        // what the kernel refuses, said plainly
        let e = nl.add_service(&Service::new(web, "rr")).unwrap_err();
        assert_eq!(e.errno(), Some(libc::EEXIST), "{e}");
        assert!(e.to_string().contains("already exists"), "{e}");
        let e = nl
            .add_service(&Service::new(tcp("10.2.9.9", 80), "nosuch"))
            .unwrap_err();
        assert_eq!(e.errno(), Some(libc::ENOENT), "{e}");
        assert!(e.to_string().contains("modprobe ip_vs_nosuch"), "{e}");
        let e = nl.del_service(&tcp("10.2.9.9", 80)).unwrap_err();
        assert_eq!(e.errno(), Some(libc::ESRCH), "{e}");
        let e = nl
            .del_dest(
                &web,
                &DestKey {
                    addr: ip("10.9.9.9"),
                    port: 80,
                },
            )
            .unwrap_err();
        assert_eq!(e.errno(), Some(libc::ENOENT), "{e}");
        let e = nl.add_dest(&web, &dests[0]).unwrap_err();
        assert_eq!(e.errno(), Some(libc::EEXIST), "{e}");
        println!("refusals read: {e}");

        // deletes, counters, flush
        nl.del_dest(&web, &dests[0].key()).expect("del dest");
        nl.del_service(&sctp).expect("del service");
        expected
            .services
            .get_mut(&web)
            .unwrap()
            .dests
            .remove(&dests[0].key());
        expected.services.remove(&sctp);
        assert_eq!(Table::from_dump(&nl.dump().unwrap()), expected);
        assert_ipvsadm_agrees(&mut nl);
        nl.zero(Some(&web)).expect("zero one");
        nl.zero(None).expect("zero all");
        nl.flush().expect("flush");
        assert!(nl.dump().unwrap().is_empty());
        assert!(listing("").is_empty());
    });
}

#[test]
#[ignore = "runs in the guest, booted by ipvs_in_the_guest"]
fn stats_timeouts_and_connections_agree_with_ipvsadm() {
    vm::guest_only("stats_timeouts_and_connections_agree_with_ipvsadm", || {
        let mut nl = fresh();
        // a client namespace, the director (root namespace, VIP on lo), a real server namespace
        vm::sh(
            "set -e
             sysctl -qw net.ipv4.ip_forward=1
             for ns in client rs; do ip netns add $ns; ip -n $ns link set lo up; done
             ip link add d-client type veth peer name eth0 netns client
             ip link add d-rs type veth peer name eth0 netns rs
             ip addr add 198.51.100.1/24 dev d-client
             ip addr add 203.0.113.1/24 dev d-rs
             ip link set d-client up
             ip link set d-rs up
             ip -n client addr add 198.51.100.2/24 dev eth0
             ip -n client link set eth0 up
             ip -n client route add default via 198.51.100.1
             ip -n rs addr add 203.0.113.2/24 dev eth0
             ip -n rs link set eth0 up
             ip -n rs route add default via 203.0.113.1
             ip addr add 198.51.100.10/32 dev lo
             mkdir -p /tmp/www
             echo hello-from-rs > /tmp/www/index.html
             ip netns exec rs httpd -p 80 -h /tmp/www",
        );
        let vip = tcp("198.51.100.10", 80);
        nl.add_service(&Service::new(vip, "rr")).unwrap();
        nl.add_dest(&vip, &Dest::new(ip("203.0.113.2"), 80, Fwd::Masq, 1))
            .unwrap();
        for _ in 0..2 {
            let page = vm::sh(
                "ip netns exec client bash -c '
                   exec 3<>/dev/tcp/198.51.100.10/80
                   printf \"GET /index.html HTTP/1.0\\r\\n\\r\\n\" >&3
                   timeout 10 cat <&3'",
            );
            assert!(page.contains("hello-from-rs"), "{page}");
        }

        // counters move on the kernel's 2 s estimator: wait until two reads agree
        let read = |nl: &mut Netlink| nl.dump().unwrap();
        let counters = |d: &[ServiceDump]| -> Vec<Vec<String>> {
            d.iter()
                .flat_map(|sd| {
                    std::iter::once(stats_cols(&sd.entry.stats))
                        .chain(sd.dests.iter().map(|d| stats_cols(&d.stats)))
                })
                .collect()
        };
        let mut last = counters(&read(&mut nl));
        let waited = vm::wait_for("the counters to settle", Duration::from_secs(20), || {
            std::thread::sleep(Duration::from_millis(2200));
            let dump = read(&mut nl);
            let now = counters(&dump);
            let settled = now == last && dump[0].dests[0].stats.conns >= 2;
            last = now;
            settled
        });
        println!("counters settled after {waited:.1?}");
        let dump = read(&mut nl);
        let st = &dump[0].entry.stats;
        assert_eq!(st.conns, 2, "{st:?}");
        assert!(
            st.inpkts >= 8 && st.outpkts >= 6 && st.inbytes > 0 && st.outbytes > 0,
            "{st:?}"
        );
        assert_eq!(
            listing("--stats --exact"),
            expected_columns(
                &dump,
                |sd| stats_cols(&sd.entry.stats),
                |d| stats_cols(&d.stats)
            ),
            "ipvsadm -Ln --stats --exact"
        );
        // the kernel's rate estimates, read at the same moment (retried across an estimator tick)
        let mut agreed = false;
        for _ in 0..5 {
            let dump = read(&mut nl);
            let theirs = listing("--rate");
            if theirs
                == expected_columns(
                    &dump,
                    |sd| rate_cols(&sd.entry.stats),
                    |d| rate_cols(&d.stats),
                )
            {
                agreed = true;
                break;
            }
        }
        assert!(
            agreed,
            "ipvsadm -Ln --rate never agreed with lvsdeck's read"
        );
        assert_ipvsadm_agrees(&mut nl);

        // connections: -Lc lists what the real server's counts say
        let conns = vm::sh("ipvsadm -Lcn");
        let listed = conns
            .lines()
            .filter(|l| l.split_whitespace().nth(5) == Some("203.0.113.2:80"))
            .count();
        let d = &read(&mut nl)[0].dests[0];
        assert_eq!(
            listed as u32,
            d.active_conns + d.inact_conns,
            "ipvsadm -Lcn:\n{conns}\nlvsdeck: {d:?}"
        );
        assert_eq!(listed, 2, "{conns}");

        // zeroing
        nl.zero(Some(&vip)).unwrap();
        let z = read(&mut nl);
        assert_eq!(z[0].entry.stats.conns, 0);
        assert_eq!(z[0].dests[0].stats.conns, 0);
        assert_eq!(
            listing("--stats --exact"),
            expected_columns(
                &z,
                |sd| stats_cols(&sd.entry.stats),
                |d| stats_cols(&d.stats)
            )
        );

        // timeouts
        let before = nl.timeouts().unwrap();
        println!("timeouts before: {before:?}");
        let t = Timeouts {
            tcp: 901,
            tcp_fin: 121,
            udp: 301,
        };
        nl.set_timeouts(&t).unwrap();
        assert_eq!(nl.timeouts().unwrap(), t);
        let line = vm::sh("ipvsadm -L --timeout");
        assert_eq!(line.trim(), "Timeout (tcp tcpfin udp): 901 121 301");
        nl.set_timeouts(&Timeouts {
            tcp: 0,
            tcp_fin: 0,
            udp: 302,
        })
        .unwrap();
        assert_eq!(
            nl.timeouts().unwrap(),
            Timeouts { udp: 302, ..t },
            "0 leaves a timeout unchanged"
        );
        vm::sh("ipvsadm --set 900 120 300");
        assert_eq!(
            nl.timeouts().unwrap(),
            Timeouts {
                tcp: 900,
                tcp_fin: 120,
                udp: 300
            }
        );
        vm::sh(
            "ipvsadm -C; ip netns del client; ip netns del rs; ip addr del 198.51.100.10/32 dev lo",
        );
    });
}

fn daemon_line(d: &SyncDaemon) -> String {
    format!(
        "{} sync daemon (mcast={}, syncid={}, maxlen={}, group={}, port={}, ttl={})",
        match d.state {
            SyncState::Master => "master",
            SyncState::Backup => "backup",
        },
        d.mcast_ifn,
        d.syncid,
        d.sync_maxlen.expect("maxlen read back"),
        d.mcast_group.expect("group read back"),
        d.mcast_port.expect("port read back"),
        d.mcast_ttl.expect("ttl read back"),
    )
}

#[test]
#[ignore = "runs in the guest, booted by ipvs_in_the_guest"]
fn sync_daemons_start_and_stop() {
    vm::guest_only("sync_daemons_start_and_stop", || {
        let mut nl = fresh();
        vm::sh(
            "set -e
             ip link add sync0 type dummy
             ip link set sync0 multicast on up
             ip addr add 192.0.2.200/24 dev sync0",
        );
        assert!(nl.daemons().unwrap().is_empty());
        let mut master = SyncDaemon::new(SyncState::Master, "sync0", 7);
        master.sync_maxlen = Some(1400);
        master.mcast_group = Some(ip("239.1.1.1"));
        master.mcast_port = Some(8850);
        master.mcast_ttl = Some(3);
        nl.new_daemon(&master).expect("start master");
        nl.new_daemon(&SyncDaemon::new(SyncState::Backup, "sync0", 8))
            .expect("start backup");
        let mut running = nl.daemons().unwrap();
        running.sort_by_key(|d| d.state);
        assert_eq!(running.len(), 2, "{running:?}");
        assert_eq!(running[0], master);
        assert_eq!(
            (
                running[1].state,
                running[1].mcast_ifn.as_str(),
                running[1].syncid
            ),
            (SyncState::Backup, "sync0", 8)
        );
        assert_eq!(
            running[1].mcast_group,
            Some(ip("224.0.0.81")),
            "the default group"
        );
        assert_eq!(running[1].mcast_port, Some(8848), "the default port");
        let theirs = vm::sh("ipvsadm -L --daemon");
        let ours: Vec<String> = running.iter().map(daemon_line).collect();
        let theirs: Vec<&str> = theirs.lines().collect();
        assert_eq!(theirs, ours);

        let e = nl.new_daemon(&master).unwrap_err();
        println!("a second master: {e}");
        assert!(matches!(e, IpvsError::Kernel { .. }), "{e}");

        nl.del_daemon(SyncState::Master).expect("stop master");
        let left = nl.daemons().unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].state, SyncState::Backup);
        nl.del_daemon(SyncState::Backup).expect("stop backup");
        assert!(nl.daemons().unwrap().is_empty());
        assert_eq!(vm::sh("ipvsadm -L --daemon").trim(), "");
        vm::sh("ip link del sync0");
    });
}

const CONFIG: &str = r#"
[[virtual_server]]
ip = "192.0.2.10"
port = 80
lvs_sched = "wrr"
lvs_method = "NAT"
sorry_server = { ip = "10.0.0.99", port = 8080 }
[[virtual_server.real_server]]
ip = "10.0.0.1"
port = 8080
weight = 3
[[virtual_server.real_server]]
ip = "10.0.0.2"
port = 8080
weight = 2
inhibit_on_failure = true

[[virtual_server]]
fwmark = 7
family = "inet6"
lvs_sched = "mh"
sched_flags = ["flag-1"]
persistence_timeout = 120
[[virtual_server.real_server]]
ip = "2001:db8::1"
[[virtual_server.real_server]]
ip = "2001:db8::2"
weight = 4

[virtual_server_group.DNS]
address = [{ ip = "192.0.2.20", range_end = "192.0.2.21", port = 53 }]

[[virtual_server]]
group = "DNS"
protocol = "UDP"
ops = true
lvs_sched = "sh"
lvs_method = "TUN"
[[virtual_server.real_server]]
ip = "10.0.1.1"
uthreshold = 500
"#;

fn kinds(ops: &[Op]) -> Vec<&'static str> {
    ops.iter()
        .map(|o| match o {
            Op::AddService(_) => "add-svc",
            Op::EditService(_) => "edit-svc",
            Op::DelService(_) => "del-svc",
            Op::AddDest(..) => "add-rs",
            Op::EditDest(..) => "edit-rs",
            Op::DelDest(..) => "del-rs",
        })
        .collect()
}

#[test]
#[ignore = "runs in the guest, booted by ipvs_in_the_guest"]
fn reconcile_applies_once_and_repairs_hand_edits() {
    vm::guest_only("reconcile_applies_once_and_repairs_hand_edits", || {
        let mut nl = fresh();
        vm::sh(
            "ipvsadm -A -t 203.0.113.50:25 -s rr; ipvsadm -a -t 203.0.113.50:25 -r 10.5.5.5:25 -m",
        );
        let foreign = tcp("203.0.113.50", 25);
        let config: Config = toml::from_str(CONFIG).expect("config");
        let mut health = Health::default();
        let want = table::desired(&config, &health);
        assert!(want.problems.is_empty(), "{:?}", want.problems);

        // first apply: everything is added, nothing is drift, the foreign service stays
        let actual = Table::from_dump(&nl.dump().unwrap());
        let plan = table::reconcile(&want.table, None, &actual);
        assert_eq!(plan.ops.len(), 4 + 2 + 2 + 2, "{:#?}", plan.ops);
        let report = timed("first apply (10 ops)", || nl.apply_all(&plan.ops));
        assert!(report.is_ok(), "{:?}", report.failed);
        let mut last = want.table.clone();

        // the same table again: zero ops, zero drift
        let again = timed("dump + reconcile", || {
            table::reconcile(
                &want.table,
                Some(&last),
                &Table::from_dump(&nl.dump().unwrap()),
            )
        });
        assert_eq!(again, Plan::default());
        let now = Table::from_dump(&nl.dump().unwrap());
        for (k, ts) in &want.table.services {
            assert_eq!(now.get(k), Some(ts), "{k}");
        }
        assert!(now.contains(&foreign));
        assert_ipvsadm_agrees(&mut nl);

        // hand edits with ipvsadm
        vm::sh(
            "set -e
             ipvsadm -e -t 192.0.2.10:80 -r 10.0.0.1:8080 -m -w 9
             ipvsadm -E -t 192.0.2.10:80 -s rr
             ipvsadm -a -t 192.0.2.10:80 -r 10.9.9.9:8080 -m
             ipvsadm -d -u 192.0.2.21:53 -r 10.0.1.1:53
             ipvsadm -e -t 203.0.113.50:25 -r 10.5.5.5:25 -m -w 7",
        );
        let actual = Table::from_dump(&nl.dump().unwrap());
        let plan = table::reconcile(&want.table, Some(&last), &actual);
        for d in &plan.drift {
            println!("drift: {d}");
        }
        assert_eq!(plan.drift.len(), 4, "{:#?}", plan.drift);
        assert!(
            plan.drift
                .iter()
                .any(|d| matches!(d, Drift::ServiceChanged { now, .. } if now.sched == "rr"))
        );
        assert!(
            plan.drift
                .iter()
                .any(|d| matches!(d, Drift::DestChanged { now, .. } if now.weight == 9))
        );
        assert!(
            plan.drift
                .iter()
                .any(|d| matches!(d, Drift::DestAdded { dest, .. } if dest.addr == ip("10.9.9.9")))
        );
        assert!(
            plan.drift.iter().any(
                |d| matches!(d, Drift::DestMissing { dest, .. } if dest.addr == ip("10.0.1.1"))
            )
        );
        assert_eq!(
            kinds(&plan.ops),
            ["edit-svc", "edit-rs", "del-rs", "add-rs"],
            "{:#?}",
            plan.ops
        );
        assert!(nl.apply_all(&plan.ops).is_ok());
        let repaired = Table::from_dump(&nl.dump().unwrap());
        let check = table::reconcile(&want.table, Some(&last), &repaired);
        assert_eq!(check, Plan::default(), "repaired");
        let foreign_now = repaired.get(&foreign).unwrap();
        assert_eq!(
            foreign_now.dests.values().next().unwrap().weight,
            7,
            "not ours: untouched"
        );
        assert_ipvsadm_agrees(&mut nl);

        // health: one down (removed), the inhibited one down (weight 0): quorum lost, sorry in
        let vs0 = VsId("TCP 192.0.2.10:80".into());
        let rid = |a: &str| RealId {
            vs: vs0.clone(),
            addr: ip(a),
            port: 8080,
        };
        health.reals.insert(rid("10.0.0.1"), RealState::DOWN);
        let step = table::desired(&config, &health);
        let plan = table::reconcile(
            &step.table,
            Some(&last),
            &Table::from_dump(&nl.dump().unwrap()),
        );
        assert_eq!(kinds(&plan.ops), ["del-rs"]);
        assert!(nl.apply_all(&plan.ops).is_ok());
        last = step.table.clone();
        health.quorum = step.quorum.iter().map(|(k, q)| (k.clone(), q.up)).collect();
        health.reals.insert(rid("10.0.0.2"), RealState::DOWN);
        let step = table::desired(&config, &health);
        let plan = table::reconcile(
            &step.table,
            Some(&last),
            &Table::from_dump(&nl.dump().unwrap()),
        );
        assert_eq!(kinds(&plan.ops), ["add-rs", "edit-rs"], "{:#?}", plan.ops);
        assert!(nl.apply_all(&plan.ops).is_ok());
        last = step.table.clone();
        let l = listing("");
        let rs: Vec<(&String, &String)> = l["TCP 192.0.2.10:80"]
            .1
            .iter()
            .map(|(a, cols)| (a, &cols[1]))
            .collect();
        assert_eq!(
            rs,
            [
                (&s("10.0.0.2:8080"), &s("0")),
                (&s("10.0.0.99:8080"), &s("1"))
            ],
            "ipvsadm shows the sorry server and the inhibited one"
        );

        // the configuration loses every service: lvsdeck's go, the foreign one stays
        let empty = table::desired(&Config::default(), &Health::default());
        let plan = table::reconcile(
            &empty.table,
            Some(&last),
            &Table::from_dump(&nl.dump().unwrap()),
        );
        assert_eq!(kinds(&plan.ops), ["del-svc"; 4]);
        assert!(nl.apply_all(&plan.ops).is_ok());
        let l = listing("");
        assert_eq!(l.keys().collect::<Vec<_>>(), ["TCP 203.0.113.50:25"]);
        vm::sh("ipvsadm -C");
    });
}
