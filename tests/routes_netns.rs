//! Same file, same routes: keepalived's own samples with `static_routes`, `virtual_routes`,
//! `static_rules`, `virtual_rules` and `static_ipaddress`, run by Debian's keepalived in one
//! namespace and by `lvsdeck --daemon` in another, each with the interfaces the file names.
//! Once both settle (their instances, alone, become master and add the virtual entries),
//! the routes of every table, the policy rules and the addresses must be the same; and
//! after lvsdeck stops, none of its entries may remain (keepalived takes its back too),
//! and a route the operator set to the same network stays, running and after.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use lvsdeck::lab::netns::{HostSpec, Topology, ip};
use support::{Proc, TempDir, keepalived, lvsdeck_daemon, prerequisites};

const SAMPLES: &[&str] = &[
    "keepalived.conf.vrrp.routes",
    "keepalived.conf.vrrp.rules",
    "keepalived.conf.vrrp.static_ipaddress",
    "keepalived.conf.track_interface",
];

/// The interfaces the samples name, each up (a veth) with addresses that make every
/// gateway and preferred source of theirs valid.
const IFACES: &[(&str, &[&str])] = &[
    ("eth1", &["192.168.100.1/24"]),
    ("eth2", &["192.168.201.1/24"]),
    ("eth3", &["192.168.202.1/24", "192.168.0.2/24"]),
    ("eth0.1", &["192.168.203.1/24"]),
];

fn host(tag: &str) -> Topology {
    let topo = Topology::build(
        &support::prefix(tag),
        vec![HostSpec::new("d", 0x71, &["192.168.200.1/24"])],
    )
    .expect("topology");
    let ns = topo.ns("d");
    for (i, (name, addrs)) in IFACES.iter().enumerate() {
        // A veth with its peer in the same namespace (no dummy module on every kernel).
        let peer = format!("q{i}");
        ip(&[
            "-n", &ns, "link", "add", name, "type", "veth", "peer", "name", &peer,
        ])
        .unwrap();
        for a in *addrs {
            ip(&["-n", &ns, "addr", "add", a, "dev", name]).unwrap();
        }
        ip(&["-n", &ns, "link", "set", &peer, "up"]).unwrap();
        ip(&["-n", &ns, "link", "set", name, "up"]).unwrap();
    }
    // The operator's own route to a network a sample's virtual_routes also names: neither
    // daemon may take it away (keepalived deletes only protocol-18 routes).
    ip(&[
        "-n", &ns, "route", "add", OWN_ROUTE, "dev", "eth2", "proto", "static",
    ])
    .unwrap();
    topo
}

const OWN_ROUTE: &str = "192.168.111.0/24";

/// Whether the operator's own route is still there.
fn own_route_kept(topo: &Topology) -> bool {
    let out = ip(&[
        "-n",
        &topo.ns("d"),
        "route",
        "show",
        OWN_ROUTE,
        "proto",
        "static",
    ])
    .unwrap();
    String::from_utf8_lossy(&out.stdout).contains(OWN_ROUTE)
}

/// Routes of every table but the kernel's own, rules but the three defaults, and addresses
/// but the ones set up here: what the daemon added.
fn state(topo: &Topology) -> BTreeSet<String> {
    let ns = topo.ns("d");
    let lines = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["-n", ns.as_str()];
        all.extend_from_slice(args);
        let out = ip(&all).map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
        out.unwrap_or_default()
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    };
    let mut s = BTreeSet::new();
    for family in ["-4", "-6"] {
        for l in lines(&[family, "route", "show", "table", "all"]) {
            if !l.contains("proto kernel")
                && !l.contains("proto static")
                && !l.starts_with("local ")
                && !l.starts_with("multicast ")
            {
                s.insert(format!("route {l}"));
            }
        }
        for l in lines(&[family, "rule", "show"]) {
            let default = ["0:", "32766:", "32767:"].iter().any(|p| l.starts_with(p));
            if !default {
                s.insert(format!("rule {l}"));
            }
        }
    }
    let base: Vec<&str> = IFACES
        .iter()
        .flat_map(|(_, a)| a.iter().copied())
        .chain(["192.168.200.1/24"])
        .collect();
    for l in lines(&["-o", "-4", "addr", "show"]) {
        let mut w = l.split_whitespace();
        let (Some(_), Some(dev), Some(_), Some(addr)) = (w.next(), w.next(), w.next(), w.next())
        else {
            continue;
        };
        if !base.contains(&addr) && dev != "lo" {
            let rest: Vec<&str> = w.take_while(|x| *x != "valid_lft").collect();
            s.insert(format!("addr {dev} {addr} {}", rest.join(" ")));
        }
    }
    s
}

/// The state once it held for 2 s, at least 6 s after the start (a lone instance becomes
/// master after 3 adverts and its skew: ~3.6 s).
fn settled(topo: &Topology, daemon: &Proc) -> BTreeSet<String> {
    let start = Instant::now();
    let mut last = state(topo);
    let mut since = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(250));
        let now = state(topo);
        if now != last {
            (last, since) = (now, Instant::now());
        } else if since.elapsed() >= Duration::from_secs(2)
            && start.elapsed() >= Duration::from_secs(6)
        {
            return last;
        }
    }
    panic!("never settled: {last:#?}\n{}", daemon.log_text());
}

#[test]
fn routes_rules_and_static_addresses_match_keepalived() {
    if !prerequisites("routes vs keepalived", &["ip", "keepalived"]) {
        return;
    }
    let Some(dir) = support::shared_corpus("keepalived-samples", "the routes test") else {
        return;
    };
    let runs: Vec<_> = SAMPLES
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let text = std::fs::read_to_string(dir.join(name)).unwrap();
            std::thread::spawn(move || compare(i, name, &text))
        })
        .collect();
    let failures: Vec<String> = runs.into_iter().filter_map(|r| r.join().unwrap()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// One sample through both; the differences, if any.
fn compare(i: usize, name: &str, text: &str) -> Option<String> {
    let tmp = TempDir::new(&format!("rt{i}"));
    let (ka_topo, lv_topo) = (host(&format!("k{i}")), host(&format!("l{i}")));
    let mut ka = keepalived(&ka_topo, "d", text, &tmp);
    let conf = tmp.write("lvsdeck.conf", text);
    let mut lv = lvsdeck_daemon(&lv_topo, "d", &conf, &tmp);
    let (ka_state, lv_state) = (settled(&ka_topo, &ka), settled(&lv_topo, &lv));
    println!("{name}: {} entries from keepalived", ka_state.len());
    let mut report = String::new();
    for l in ka_state.difference(&lv_state) {
        report += &format!("\n- {l}");
    }
    for l in lv_state.difference(&ka_state) {
        report += &format!("\n+ {l}");
    }
    assert!(
        ka_state.len() >= 3,
        "{name}: keepalived set almost nothing: {ka_state:#?}\n{}",
        ka.log_text()
    );
    if !own_route_kept(&lv_topo) {
        report += "\nlvsdeck took the operator's own route away while running";
    }
    lv.signal(libc::SIGTERM);
    lv.wait_exit(Duration::from_secs(5));
    ka.signal(libc::SIGTERM);
    ka.wait_exit(Duration::from_secs(5));
    if !own_route_kept(&lv_topo) {
        report += "\nlvsdeck took the operator's own route away at stop";
    }
    let left = state(&lv_topo);
    if !left.is_empty() {
        report += &format!("\nleft after lvsdeck stopped: {left:#?}");
    }
    (!report.is_empty()).then(|| {
        format!(
            "{name} (- keepalived only, + lvsdeck only):{report}\n{}",
            lv.log_text()
        )
    })
}
