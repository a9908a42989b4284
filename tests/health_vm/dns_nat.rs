//! A UDP service in the guest's real IPVS: DNS on port 53 with `lb_kind NAT`, from a
//! keepalived.conf with DNS_CHECK, two real servers running Debian's dnsmasq. A client on
//! another subnet resolves through the VIP; a real server leaves the table when its dnsmasq
//! stops and comes back when it starts again.

use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::common::guest::{self, Daemon, now_ms, wait_dests};
use super::common::support::in_netns;
use super::common::vm;
use super::{SLOW, exactly};
use lvsdeck::health::dns;
use lvsdeck::lab::netns::{HostSpec, Topology};

const VIP: &str = "10.81.9.100";

/// dnsmasq in `ns`, answering `lab.test` with `answer`; killed on drop.
struct Dnsmasq {
    ns: String,
    ip: String,
    answer: String,
    child: Option<Child>,
}

impl Dnsmasq {
    fn new(ns: &str, ip: &str, answer: &str) -> Self {
        let mut d = Dnsmasq {
            ns: ns.into(),
            ip: ip.into(),
            answer: answer.into(),
            child: None,
        };
        d.start();
        d
    }

    fn start(&mut self) {
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns, "dnsmasq", "--keep-in-foreground"])
            .args([
                "--conf-file=/dev/null",
                "--no-resolv",
                "--no-hosts",
                "--user=root",
            ])
            .args(["--pid-file=", "--bind-interfaces", "--local=/test/"])
            .arg(format!("--listen-address={}", self.ip))
            .arg(format!("--address=/lab.test/{}", self.answer))
            .stderr(Stdio::null())
            .spawn()
            .expect("dnsmasq");
        self.child = Some(child);
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One query for lab.test A through the VIP from the client; the address answered.
fn resolve(client_ns: &str) -> Result<String, String> {
    in_netns(client_ns, || {
        let s = UdpSocket::bind("0.0.0.0:0").map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        s.connect((VIP, 53)).map_err(|e| e.to_string())?;
        let q = dns::question("lab.test", "A")?;
        s.send(&dns::encode_query(0x4242, &q))
            .map_err(|e| e.to_string())?;
        let mut buf = [0u8; 512];
        let n = s.recv(&mut buf).map_err(|e| e.to_string())?;
        match dns::judge(0x4242, &q, &buf[..n]) {
            dns::Verdict::Up(_) => Ok(format!("{:?}", &buf[n - 4..n])),
            other => Err(format!("{other:?}")),
        }
    })
}

#[test]
#[ignore = "runs in the guest, booted by health_checks_in_the_guest"]
fn dns_check_runs_a_nat_udp_service() {
    vm::guest_only("dns_nat::dns_check_runs_a_nat_udp_service", || {
        // Real servers on 10.81.9.0/24 route back through the director (NAT); the client is
        // on 10.81.10.0/24 over the same bridge, so answers must come back through IPVS.
        let topo = Topology::build(
            "hvdns",
            vec![
                HostSpec::new(
                    "dir",
                    0x02,
                    &["10.81.9.2/24", "10.81.10.2/24", &format!("{VIP}/24")],
                ),
                HostSpec::new("rs1", 0x11, &["10.81.9.11/24"]),
                HostSpec::new("rs2", 0x12, &["10.81.9.12/24"]),
                HostSpec::new("client", 0x50, &["10.81.10.50/24"]),
            ],
        )
        .expect("topology");
        let dir_ns = topo.ns("dir");
        // send_redirects off, as the seed article sets up a director: both subnets share one
        // link here, so the director would tell the real servers to answer the client
        // directly (an ICMP redirect), around IPVS, and the client would drop the answers.
        vm::sh(&format!(
            "ip netns exec {dir_ns} sysctl -qw net.ipv4.ip_forward=1 \
             net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.eth0.send_redirects=0 && \
             ip -n {} route add default via 10.81.9.2 && ip -n {} route add default via 10.81.9.2 && \
             ip -n {} route add 10.81.9.0/24 via 10.81.10.2",
            topo.ns("rs1"),
            topo.ns("rs2"),
            topo.ns("client"),
        ));
        let mut dns1 = Dnsmasq::new(&topo.ns("rs1"), "10.81.9.11", "192.0.2.11");
        let _dns2 = Dnsmasq::new(&topo.ns("rs2"), "10.81.9.12", "192.0.2.12");
        let real = |last: u8| {
            format!(
                "    real_server 10.81.9.{last} 53 {{\n        weight 1\n        DNS_CHECK {{\n            \
                 type A\n            name lab.test\n            connect_timeout 1\n            \
                 retry 1\n            delay_before_retry 1\n        }}\n    }}\n"
            )
        };
        let conf = format!(
            "virtual_server {VIP} 53 {{\n    delay_loop 1\n    lb_algo rr\n    lb_kind NAT\n    \
             protocol UDP\n{}{}}}\n",
            real(11),
            real(12)
        );
        let scratch = guest::scratch("hv-dns");
        let path = scratch.join("keepalived.conf");
        std::fs::write(&path, conf).unwrap();
        let daemon = Daemon::start(&dir_ns, &path, &scratch, "dir");
        let svc = format!("UDP {VIP}:53");
        let masq = |last: u8| format!("10.81.9.{last}:53 Masq 1");
        let (t, listing) = wait_dests(&dir_ns, &svc, SLOW, exactly(&[masq(11), masq(12)]));
        println!("both real servers in after {t:.1?}\n{listing}");
        // Round robin through the VIP: both servers answer, each with its own address.
        let answers: Vec<String> = (0..4)
            .map(|_| resolve(&topo.ns("client")).unwrap())
            .collect();
        println!("answers through the VIP: {answers:?}");
        assert!(
            answers.iter().any(|a| a.ends_with("11]"))
                && answers.iter().any(|a| a.ends_with("12]")),
            "{answers:?}"
        );

        let stopped = now_ms();
        dns1.stop();
        let (t, listing) = wait_dests(&dir_ns, &svc, SLOW, exactly(&[masq(12)]));
        println!("dnsmasq on rs1 stopped: out in {t:.1?}\n{listing}");
        let snap = daemon.snapshot();
        let r = guest::real_in(&snap, &format!("UDP  {VIP}:53"), "10.81.9.11").unwrap();
        let last = r.last_check.as_ref().expect("a check result");
        assert_eq!(r.health, "down");
        assert!(last.message.contains("port unreachable"), "{last:?}");
        for _ in 0..4 {
            let t = std::time::Instant::now();
            let a = resolve(&topo.ns("client")).unwrap_or_else(|e| {
                let after = t.elapsed();
                let table = guest::ipvsadm(&dir_ns, "-Lnc");
                let again = resolve(&topo.ns("client"));
                let rs2 = daemon.snapshot();
                let rs2 = guest::real_in(&rs2, &format!("UDP  {VIP}:53"), "10.81.9.12")
                    .and_then(|r| r.last_check.clone());
                let ps = vm::sh("ps -o pid,args | grep dnsmas[q] || true");
                panic!(
                    "no answer through the VIP after {after:.1?}: {e}\n{table}\nagain: {again:?}\n\
                     rs2's last check: {rs2:?}\n{ps}"
                )
            });
            assert!(a.ends_with("12]"), "only rs2 answers now: {a}");
        }

        dns1.start();
        let (t, _) = wait_dests(&dir_ns, &svc, SLOW, exactly(&[masq(11), masq(12)]));
        println!(
            "dnsmasq on rs1 started: back in {t:.1?} ({} ms after the stop)",
            now_ms() - stopped
        );
        drop(daemon);
    });
}
