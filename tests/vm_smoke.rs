//! Smoke tests of the IPVS test guest (tests/vm/): the kernel has IPVS and every scheduler,
//! ipvsadm talks to it, network namespaces and veth work, and IPVS forwards real traffic.
//! Every address used lives inside the guest, which has no network card.
//!
//! Three quick checks share one boot (`guest_basics_in_one_boot`); they are `#[ignore]`d on
//! the host, where they would do nothing.

mod common;

use common::vm;
use std::time::Duration;

const SCHEDULERS: &[&str] = &[
    "rr", "wrr", "lc", "wlc", "sh", "mh", "sed", "nq", "fo", "ovf", "dh", "lblc", "lblcr",
];

#[test]
fn guest_basics_in_one_boot() {
    vm::run_tests_in_guest(&[
        "proc_net_ip_vs_exists",
        "ipvsadm_lists_a_service",
        "every_scheduler_works",
    ]);
}

#[test]
#[ignore = "runs in the guest, booted by guest_basics_in_one_boot"]
fn proc_net_ip_vs_exists() {
    vm::guest_only("proc_net_ip_vs_exists", || {
        let table = std::fs::read_to_string("/proc/net/ip_vs").expect("/proc/net/ip_vs");
        assert!(table.starts_with("IP Virtual Server version"), "{table}");
    });
}

#[test]
#[ignore = "runs in the guest, booted by guest_basics_in_one_boot"]
fn ipvsadm_lists_a_service() {
    vm::guest_only("ipvsadm_lists_a_service", || {
        let list = vm::sh(
            "set -e
             ipvsadm -C
             ipvsadm -A -t 10.1.1.1:80 -s rr
             ipvsadm -a -t 10.1.1.1:80 -r 10.1.1.2:8080 -m -w 3
             ipvsadm -Ln",
        );
        assert!(list.contains("TCP  10.1.1.1:80 rr"), "{list}");
        assert!(
            list.lines()
                .any(|l| l.contains("-> 10.1.1.2:8080") && l.contains("Masq") && l.contains(" 3 ")),
            "{list}"
        );
        assert!(!vm::sh("ipvsadm -C; ipvsadm -Ln").contains("10.1.1.1"));
    });
}

#[test]
#[ignore = "runs in the guest, booted by guest_basics_in_one_boot"]
fn every_scheduler_works() {
    vm::guest_only("every_scheduler_works", || {
        let mut schedulers: Vec<&str> = SCHEDULERS.to_vec();
        let deps = std::fs::read_to_string(format!(
            "/lib/modules/{}/modules.dep",
            vm::sh("uname -r").trim()
        ))
        .expect("modules.dep");
        if deps.contains("/ip_vs_twos.ko") {
            schedulers.push("twos");
        }
        // One script: each process start costs ~0.1-0.2 s under TCG.
        let mut script = String::from("set -e\nipvsadm -C\n");
        for (i, s) in schedulers.iter().enumerate() {
            let vip = format!("10.1.2.{}:80", i + 1);
            script += &format!("ipvsadm -A -t {vip} -s {s}\n");
            script += &format!("ipvsadm -a -t {vip} -r 10.1.3.1:80 -m -w 2\n");
        }
        vm::sh(&script);
        let list = vm::sh("ipvsadm -Ln");
        for (i, s) in schedulers.iter().enumerate() {
            let line = format!("TCP  10.1.2.{}:80 {s}", i + 1);
            assert!(
                list.lines().any(|l| l.trim_end() == line),
                "no `{line}` in:\n{list}"
            );
        }
        // Each scheduler is its own module, loaded at boot or on demand.
        let modules = std::fs::read_to_string("/proc/modules").expect("/proc/modules");
        for s in &schedulers {
            assert!(
                modules
                    .lines()
                    .any(|l| l.starts_with(&format!("ip_vs_{s} "))),
                "ip_vs_{s} not loaded"
            );
        }
        vm::sh("ipvsadm -C");
        println!("schedulers: {}", schedulers.join(" "));
    });
}

#[test]
fn netns_veth_ping() {
    vm::in_guest("netns_veth_ping", || {
        vm::sh(
            "set -e
             ip netns add peer
             ip link add v-host type veth peer name v-peer
             ip link set v-peer netns peer
             ip addr add 192.0.2.1/24 dev v-host
             ip link set v-host up
             ip -n peer addr add 192.0.2.2/24 dev v-peer
             ip -n peer link set v-peer up
             ip -n peer link set lo up",
        );
        vm::sh("ping -c 1 -W 5 192.0.2.2");
        vm::sh("ip netns exec peer ping -c 1 -W 5 192.0.2.1");
        vm::sh("ip netns del peer");
    });
}

/// A client namespace reaches a VIP on the director (the root namespace), and IPVS in NAT mode
/// hands the connection to an HTTP server in a real-server namespace.
#[test]
fn ipvs_nat_forwards_http() {
    vm::in_guest("ipvs_nat_forwards_http", || {
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
             ip netns exec rs httpd -p 80 -h /tmp/www
             ipvsadm -A -t 198.51.100.10:80 -s rr
             ipvsadm -a -t 198.51.100.10:80 -r 203.0.113.2:80 -m",
        );
        let page = vm::sh(
            "ip netns exec client bash -c '
               exec 3<>/dev/tcp/198.51.100.10/80
               printf \"GET /index.html HTTP/1.0\\r\\nHost: vip\\r\\n\\r\\n\" >&3
               timeout 10 cat <&3'",
        );
        assert!(
            page.contains("hello-from-rs"),
            "reply through the VIP:\n{page}"
        );
        // ipvsadm is the referee: one connection went to the real server.
        let waited = vm::wait_for(
            "IPVS stats to count the connection",
            Duration::from_secs(10),
            || {
                let stats = vm::sh("ipvsadm -Ln --stats");
                stats
                    .lines()
                    .find(|l| l.contains("-> 203.0.113.2:80"))
                    .and_then(|l| l.split_whitespace().nth(2)?.parse::<u64>().ok())
                    .is_some_and(|conns| conns >= 1)
            },
        );
        println!("stats counted the connection after {waited:.1?}");
        println!("{}", vm::sh("ipvsadm -Ln --stats; ipvsadm -Lnc"));
    });
}
