use std::collections::BTreeSet;

use proptest::prelude::*;

use super::*;
use crate::ipvs::mem::MemBackend;
use crate::ipvs::{IpvsBackend, Protocol, TunType};

fn cfg(text: &str) -> Config {
    toml::from_str(text).unwrap_or_else(|e| panic!("{e}"))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn tcp(addr: &str, port: u16) -> ServiceKey {
    ServiceKey::Addr {
        proto: Protocol::Tcp,
        addr: ip(addr),
        port,
    }
}

const WEB: &str = r#"
[[virtual_server]]
ip = "192.0.2.10"
port = 80
lvs_sched = "wrr"
lvs_method = "NAT"
persistence_timeout = "300s"
persistence_granularity = "255.255.255.0"
sorry_server = { ip = "10.0.0.99", port = 8080 }

[[virtual_server.real_server]]
ip = "10.0.0.1"
port = 8080
weight = 3
uthreshold = 100

[[virtual_server.real_server]]
ip = "10.0.0.2"
port = 8080
weight = 2
inhibit_on_failure = true
"#;

fn rid(text_vs: &str, addr: &str, port: u16) -> RealId {
    RealId {
        vs: VsId(text_vs.to_string()),
        addr: ip(addr),
        port,
    }
}

#[test]
fn desired_table_of_a_plain_service() {
    let d = desired(&cfg(WEB), &Health::default());
    assert!(d.problems.is_empty(), "{:?}", d.problems);
    let ts = d.table.get(&tcp("192.0.2.10", 80)).unwrap();
    assert_eq!(ts.service.sched, "wrr");
    assert_eq!(ts.service.flags, SvcFlags::PERSISTENT);
    assert_eq!(ts.service.timeout, 300);
    assert_eq!(ts.service.netmask, 0xffff_ff00);
    let dests: Vec<_> = ts.dests.values().collect();
    assert_eq!(dests.len(), 2, "sorry server stays out while quorum holds");
    assert_eq!(dests[0].fwd, Fwd::Masq);
    assert_eq!(
        (dests[0].port, dests[0].weight, dests[0].u_thresh),
        (8080, 3, 100)
    );
    assert_eq!(d.quorum[&VsId("TCP 192.0.2.10:80".into())].live_weight, 5);
}

#[test]
fn failures_remove_or_inhibit_and_quorum_brings_the_sorry_server() {
    let config = cfg(WEB);
    let mut h = Health::default();
    h.reals
        .insert(rid("TCP 192.0.2.10:80", "10.0.0.1", 8080), RealState::DOWN);
    let d = desired(&config, &h);
    let ts = d.table.get(&tcp("192.0.2.10", 80)).unwrap();
    let ws: Vec<_> = ts.dests.values().map(|d| (d.addr, d.weight)).collect();
    assert_eq!(ws, vec![(ip("10.0.0.2"), 2)], "10.0.0.1 removed");

    // both down: quorum lost, the sorry server comes in, the inhibited one stays at weight 0
    h.reals
        .insert(rid("TCP 192.0.2.10:80", "10.0.0.2", 8080), RealState::DOWN);
    let d = desired(&config, &h);
    let ts = d.table.get(&tcp("192.0.2.10", 80)).unwrap();
    let ws: Vec<_> = ts
        .dests
        .values()
        .map(|d| (d.addr, d.port, d.weight))
        .collect();
    assert_eq!(
        ws,
        vec![(ip("10.0.0.2"), 8080, 0), (ip("10.0.0.99"), 8080, 1)]
    );
    assert!(!d.quorum[&VsId("TCP 192.0.2.10:80".into())].up);
}

#[test]
fn quorum_hysteresis_and_operator_weights() {
    assert!(quorum_up(None, 5, 5, 2));
    assert!(!quorum_up(None, 4, 5, 2));
    assert!(
        quorum_up(Some(true), 3, 5, 2),
        "stays up down to quorum - hysteresis"
    );
    assert!(!quorum_up(Some(true), 2, 5, 2));
    assert!(
        !quorum_up(Some(false), 6, 5, 2),
        "needs quorum + hysteresis to come back"
    );
    assert!(quorum_up(Some(false), 7, 5, 2));
    assert!(
        !quorum_up(Some(true), 0, 0, 0),
        "no live weight is never quorum"
    );

    // a drained server (weight override 0) is in the table at weight 0
    let config = cfg(WEB);
    let mut h = Health::default();
    h.reals.insert(
        rid("TCP 192.0.2.10:80", "10.0.0.1", 8080),
        RealState {
            up: true,
            weight: Some(0),
        },
    );
    let d = desired(&config, &h);
    let ts = d.table.get(&tcp("192.0.2.10", 80)).unwrap();
    assert_eq!(
        ts.dests[&DestKey {
            addr: ip("10.0.0.1"),
            port: 8080
        }]
            .weight,
        0
    );
}

#[test]
fn sorry_server_inhibit_keeps_it_at_weight_zero() {
    let text = WEB.replace(
        "sorry_server = { ip = \"10.0.0.99\", port = 8080 }",
        "sorry_server = { ip = \"10.0.0.99\", port = 8080 }\nsorry_server_inhibit = true",
    );
    let d = desired(&cfg(&text), &Health::default());
    let ts = d.table.get(&tcp("192.0.2.10", 80)).unwrap();
    assert_eq!(
        ts.dests[&DestKey {
            addr: ip("10.0.0.99"),
            port: 8080
        }]
            .weight,
        0
    );
}

#[test]
fn alpha_starts_down_and_dr_keeps_the_service_port() {
    let config = cfg(r#"
[[virtual_server]]
ip = "192.0.2.10"
port = 443
alpha = true
[[virtual_server.real_server]]
ip = "10.0.0.1"
port = 8443
"#);
    let d = desired(&config, &Health::default());
    assert!(
        d.table
            .get(&tcp("192.0.2.10", 443))
            .unwrap()
            .dests
            .is_empty()
    );

    let mut h = Health::default();
    h.reals
        .insert(rid("TCP 192.0.2.10:443", "10.0.0.1", 8443), RealState::UP);
    let d = desired(&config, &h);
    let ts = d.table.get(&tcp("192.0.2.10", 443)).unwrap();
    let dest = ts.dests.values().next().unwrap();
    assert_eq!((dest.fwd, dest.port), (Fwd::Route, 443));
}

#[test]
fn groups_fwmarks_and_ipv6() {
    let d = desired(
        &cfg(r#"
[virtual_server_group.VG]
address = [{ ip = "192.0.2.1", range_end = "192.0.2.3", port = 80 }]
fwmark = [7]

[[virtual_server]]
group = "VG"
lvs_sched = "mh"
sched_flags = ["flag-1", "flag-2"]
[[virtual_server.real_server]]
ip = "10.0.0.1"

[[virtual_server]]
fwmark = 9
family = "inet6"
protocol = "UDP"
ops = true
lvs_sched = "twos"
persistence_timeout = 60
persistence_granularity = "ffff:ffff:ffff:ffff::"
[[virtual_server.real_server]]
ip = "2001:db8::1"
lvs_method = "TUN"
"#),
        &Health::default(),
    );
    assert!(d.problems.is_empty(), "{:?}", d.problems);
    let keys: Vec<_> = d.table.services.keys().map(|k| k.to_string()).collect();
    assert_eq!(
        keys,
        [
            "TCP 192.0.2.1:80",
            "TCP 192.0.2.2:80",
            "TCP 192.0.2.3:80",
            "FWM 7",
            "FWM 9 IPv6"
        ]
    );
    let mh = d.table.get(&tcp("192.0.2.2", 80)).unwrap();
    assert_eq!(mh.service.flags, SvcFlags::SCHED1 | SvcFlags::SCHED2);
    assert_eq!(mh.dests.keys().next().unwrap().port, 80);
    let fw7 = d
        .table
        .get(&ServiceKey::Fwmark {
            af: Af::Inet,
            mark: 7,
        })
        .unwrap();
    assert_eq!(fw7.dests.keys().next().unwrap().port, 0);
    let v6 = d
        .table
        .get(&ServiceKey::Fwmark {
            af: Af::Inet6,
            mark: 9,
        })
        .unwrap();
    assert_eq!(v6.service.flags, SvcFlags::PERSISTENT | SvcFlags::ONEPACKET);
    assert_eq!((v6.service.timeout, v6.service.netmask), (60, 64));
    assert_eq!(v6.dests.values().next().unwrap().fwd, Fwd::Tunnel);
}

#[test]
fn same_config_over_a_live_table_is_zero_ops() {
    let d = desired(&cfg(WEB), &Health::default());
    let mut kernel = MemBackend::new();
    let plan = reconcile(&d.table, None, &Table::from_dump(&kernel.dump().unwrap()));
    assert_eq!(plan.ops.len(), 1 + 2);
    assert!(kernel.apply_all(&plan.ops).is_ok());
    let actual = Table::from_dump(&kernel.dump().unwrap());
    let again = reconcile(&d.table, Some(&d.table), &actual);
    assert_eq!(again, Plan::default());
}

#[test]
fn hand_edits_are_drift_and_get_repaired_but_foreign_services_stay() {
    let d = desired(&cfg(WEB), &Health::default());
    let mut kernel = MemBackend::new();
    let key = tcp("192.0.2.10", 80);
    let foreign = tcp("203.0.113.5", 25);
    kernel
        .apply(&Op::AddService(Service::new(foreign, "rr")))
        .unwrap();
    let first = reconcile(&d.table, None, &Table::from_dump(&kernel.dump().unwrap()));
    assert!(kernel.apply_all(&first.ops).is_ok());

    // ipvsadm -e (weight), -a (a stranger), -E (scheduler)
    let mut changed = d
        .table
        .get(&key)
        .unwrap()
        .dests
        .values()
        .next()
        .copied()
        .unwrap();
    changed.weight = 50;
    kernel.apply(&Op::EditDest(key, changed)).unwrap();
    let stranger = Dest::new(ip("10.9.9.9"), 8080, Fwd::Masq, 1);
    kernel.apply(&Op::AddDest(key, stranger)).unwrap();
    let mut svc = d.table.get(&key).unwrap().service.clone();
    svc.sched = "rr".into();
    kernel.apply(&Op::EditService(svc)).unwrap();

    let actual = Table::from_dump(&kernel.dump().unwrap());
    let plan = reconcile(&d.table, Some(&d.table), &actual);
    assert_eq!(plan.drift.len(), 3, "{:#?}", plan.drift);
    let text: Vec<String> = plan.drift.iter().map(|d| d.to_string()).collect();
    assert!(
        text.iter().any(|t| t.contains("scheduler wrr -> rr")),
        "{text:?}"
    );
    assert!(
        text.iter().any(|t| t.contains("weight 3 -> 50")),
        "{text:?}"
    );
    assert!(
        text.iter().any(|t| t.contains("10.9.9.9:8080 was added")),
        "{text:?}"
    );
    assert_eq!(plan.ops.len(), 3, "{:#?}", plan.ops);
    assert!(plan.ops.iter().all(|o| *o.service_key() == key));
    assert!(kernel.apply_all(&plan.ops).is_ok());
    let repaired = Table::from_dump(&kernel.dump().unwrap());
    assert_eq!(repaired.get(&key), d.table.get(&key));
    assert!(repaired.contains(&foreign), "not ours: left alone");

    // a service dropped from the configuration is deleted; the foreign one still stays
    let empty = desired(&Config::default(), &Health::default());
    let plan = reconcile(&empty.table, Some(&d.table), &repaired);
    assert_eq!(plan.ops, vec![Op::DelService(key)]);
}

#[test]
fn sorry_swap_adds_before_it_deletes() {
    let config = cfg(WEB);
    let up = desired(&config, &Health::default());
    let mut h = Health::default();
    for a in ["10.0.0.1", "10.0.0.2"] {
        h.reals
            .insert(rid("TCP 192.0.2.10:80", a, 8080), RealState::DOWN);
    }
    let down = desired(&config, &h);
    let ops = reconcile(&down.table, Some(&up.table), &up.table).ops;
    let kinds: Vec<&str> = ops
        .iter()
        .map(|o| match o {
            Op::AddDest(..) => "add",
            Op::EditDest(..) => "edit",
            Op::DelDest(..) => "del",
            _ => "svc",
        })
        .collect();
    assert_eq!(kinds, ["add", "edit", "del"]);
}

#[test]
fn unknown_scheduler_is_refused_with_a_hint() {
    let mut kernel = MemBackend::new();
    let op = Op::AddService(Service::new(tcp("192.0.2.1", 80), "wlcx"));
    let report = kernel.apply_all(&[op]);
    assert_eq!(report.failed.len(), 1);
    assert!(
        report.failed[0]
            .1
            .to_string()
            .contains("modprobe ip_vs_wlcx")
    );
}

// ---------------------------------------------------------------------------------------------
// Properties.

fn arb_key() -> impl Strategy<Value = ServiceKey> {
    prop_oneof![
        (0u8..3, prop_oneof![Just(80u16), Just(443)], any::<bool>()).prop_map(|(a, port, udp)| {
            ServiceKey::Addr {
                proto: if udp { Protocol::Udp } else { Protocol::Tcp },
                addr: IpAddr::from([192, 0, 2, a]),
                port,
            }
        }),
        (1u32..4, any::<bool>()).prop_map(|(mark, v6)| ServiceKey::Fwmark {
            af: if v6 { Af::Inet6 } else { Af::Inet },
            mark,
        }),
    ]
}

fn arb_service(key: ServiceKey) -> impl Strategy<Value = Service> {
    (
        prop_oneof![Just("rr"), Just("wlc"), Just("mh")],
        0u32..64,
        prop_oneof![Just(0u32), Just(300)],
    )
        .prop_map(move |(sched, flags, timeout)| {
            let mut s = Service::new(key, sched);
            s.flags = SvcFlags(flags).significant();
            s.timeout = timeout;
            s
        })
}

fn arb_dest() -> impl Strategy<Value = Dest> {
    (
        0u8..4,
        prop_oneof![Just(80u16), Just(8080)],
        prop_oneof![Just(Fwd::Route), Just(Fwd::Masq), Just(Fwd::Tunnel)],
        0u32..4,
        0u32..3,
        any::<bool>(),
    )
        .prop_map(|(a, port, fwd, weight, thresh, gue)| {
            let mut d = Dest::new(IpAddr::from([10, 0, 0, a]), port, fwd, weight);
            d.u_thresh = thresh * 10;
            if gue {
                d.tun_type = TunType::Gue;
                d.tun_port = 6080;
            }
            d.normalized()
        })
}

fn arb_table() -> impl Strategy<Value = Table> {
    prop::collection::vec(
        arb_key().prop_flat_map(|k| (arb_service(k), prop::collection::vec(arb_dest(), 0..4))),
        0..5,
    )
    .prop_map(|entries| {
        let mut t = Table::new();
        for (svc, dests) in entries {
            let ts = t.insert_service(svc);
            for d in dests {
                ts.dests.insert(d.key(), d);
            }
        }
        t
    })
}

proptest! {
    #[test]
    fn applying_the_diff_yields_the_desired_table(
        desired in arb_table(),
        actual in arb_table(),
        extra_owned in prop::collection::vec(arb_key(), 0..3),
    ) {
        let mut owned: BTreeSet<ServiceKey> = desired.services.keys().copied().collect();
        owned.extend(extra_owned);
        let ops = diff(&desired, &actual, &owned);
        let mut result = actual.clone();
        for op in &ops {
            prop_assert!(result.apply(op).is_ok(), "{op} refused");
        }
        // owned services are exactly as desired; the others are untouched
        let mut expected = desired.clone();
        for (k, ts) in &actual.services {
            if !owned.contains(k) {
                expected.services.insert(*k, ts.clone());
            }
        }
        prop_assert_eq!(&result, &expected);
        prop_assert!(diff(&desired, &result, &owned).is_empty());
        // minimal: every op touches a different entry, and nothing equal is touched
        let mut touched = BTreeSet::new();
        for op in &ops {
            let what = match op {
                Op::AddService(s) | Op::EditService(s) => (s.key, None),
                Op::DelService(k) => (*k, None),
                Op::AddDest(k, d) | Op::EditDest(k, d) => (*k, Some(d.key())),
                Op::DelDest(k, d) => (*k, Some(*d)),
            };
            prop_assert!(touched.insert(what), "{op} touches an entry twice");
            if let (k, Some(dk)) = what
                && let (Some(a), Some(w)) = (actual.get(&k), desired.get(&k))
            {
                prop_assert!(a.dests.get(&dk) != w.dests.get(&dk) || !matches!(op, Op::EditDest(..)));
            }
        }
    }

    #[test]
    fn the_diff_of_a_table_with_itself_is_empty(t in arb_table()) {
        let owned = t.services.keys().copied().collect();
        prop_assert!(diff(&t, &t, &owned).is_empty());
        let plan = reconcile(&t, Some(&t), &t);
        prop_assert_eq!(plan, Plan::default());
    }

    #[test]
    fn drift_is_empty_exactly_when_the_owned_part_is_unchanged(
        applied in arb_table(),
        actual in arb_table(),
    ) {
        let d = drift(&applied, &actual);
        let same = applied
            .services
            .iter()
            .all(|(k, ts)| actual.get(k) == Some(ts));
        prop_assert_eq!(d.is_empty(), same);
    }
}
