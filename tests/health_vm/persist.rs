//! Operators' overrides survive a crash: a drained real server, the daemon killed with
//! SIGKILL, the kernel's table flushed as a reboot would, a new daemon: the server is at
//! weight 0 in the very first table the new daemon writes, and `ctl clear` lets it go.

use std::time::{Duration, Instant};

use super::common::guest::{self, Daemon, dests_of, wait_dests};
use super::common::vm;
use super::{SLOW, exactly, route};
use lvsdeck::lab::netns::{HostSpec, Topology};

const VIP: &str = "10.81.12.100";

#[test]
#[ignore = "runs in the guest, booted by health_checks_in_the_guest"]
fn a_drain_survives_a_crash_and_a_flushed_table() {
    vm::guest_only(
        "persist::a_drain_survives_a_crash_and_a_flushed_table",
        || {
            let topo =
                Topology::build("hvps", vec![HostSpec::new("dir", 0x02, &["10.81.12.2/24"])])
                    .expect("topology");
            let dir_ns = topo.ns("dir");
            let conf = format!(
                "virtual_server {VIP} 80 {{\n    lb_algo rr\n    lb_kind DR\n    protocol TCP\n    \
             real_server 10.81.12.11 80 {{\n        weight 1\n    }}\n    \
             real_server 10.81.12.12 80 {{\n        weight 1\n    }}\n}}\n"
            );
            let scratch = guest::scratch("hv-ps");
            let path = scratch.join("keepalived.conf");
            std::fs::write(&path, conf).unwrap();
            let svc = format!("TCP {VIP}:80");
            let key = format!("TCP  {VIP}:80");
            let both = |w1| [route("10.81.12.11:80", w1), route("10.81.12.12:80", 1)];
            let mut daemon = Daemon::start(&dir_ns, &path, &scratch, "dir");
            wait_dests(&dir_ns, &svc, SLOW, exactly(&both(1)));
            daemon.cli_ok(&["ctl", "drain", &key, "10.81.12.11:80"]);
            wait_dests(&dir_ns, &svc, SLOW, exactly(&both(0)));

            daemon.signal(libc::SIGKILL);
            daemon.wait_exit(Duration::from_secs(5)).expect("killed");
            vm::sh(&format!("ip netns exec {dir_ns} ipvsadm -C"));
            // Every table the new daemon writes, from its first: rs1 never back at weight 1.
            let watch = std::thread::spawn({
                let dir_ns = dir_ns.clone();
                let svc = svc.clone();
                move || {
                    let mut seen = Vec::new();
                    let start = Instant::now();
                    while start.elapsed() < Duration::from_secs(12) {
                        let listing = guest::ipvsadm(&dir_ns, "-Ln");
                        let dests = dests_of(&listing, &svc);
                        if !dests.is_empty() && seen.last() != Some(&dests) {
                            seen.push(dests);
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    seen
                }
            });
            let daemon = Daemon::start(&dir_ns, &path, &scratch, "dir");
            let tables = watch.join().unwrap();
            println!("tables after the restart: {tables:?}");
            assert_eq!(
                tables.first().map(Vec::as_slice),
                Some(&both(0)[..]),
                "{tables:?}"
            );
            assert!(tables.iter().all(|t| t[..] == both(0)[..]), "{tables:?}");
            let status = daemon.status();
            assert!(status.contains("drain"), "{status}");
            let log = daemon.log_text();
            assert!(log.contains("1 drain(s)"), "{log}");

            daemon.cli_ok(&["ctl", "clear"]);
            wait_dests(&dir_ns, &svc, SLOW, exactly(&both(1)));
            let audit = std::fs::read_to_string(scratch.join("dir.sock.state.audit.log")).unwrap();
            println!("audit:\n{audit}");
            assert!(
                audit.contains("command=\"drain ") && audit.contains("command=\"clear "),
                "{audit}"
            );
        },
    );
}
