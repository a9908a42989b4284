//! A check the daemon cannot build (here a MISC_CHECK whose `user` this host lacks, which a
//! keepalived.conf may carry: `check` warns, the file loads) holds its real server down with
//! the reason, in the kernel's table and in the daemon's account, instead of leaving it in
//! the pool unchecked.

use super::common::guest::{self, Daemon, wait_dests};
use super::common::vm;
use super::{SLOW, exactly, route};
use lvsdeck::lab::netns::{HostSpec, Topology};

const VIP: &str = "10.81.11.100";

#[test]
#[ignore = "runs in the guest, booted by health_checks_in_the_guest"]
fn a_check_that_cannot_run_holds_its_server_down() {
    vm::guest_only(
        "fail_closed::a_check_that_cannot_run_holds_its_server_down",
        || {
            let topo =
                Topology::build("hvfc", vec![HostSpec::new("dir", 0x02, &["10.81.11.2/24"])])
                    .expect("topology");
            let dir_ns = topo.ns("dir");
            let real = |last: u8, user: &str| {
                format!(
                    "    real_server 10.81.11.{last} 80 {{\n        weight 1\n        MISC_CHECK {{\n            \
                 misc_path /bin/true\n{user}        }}\n    }}\n"
                )
            };
            let conf = format!(
                "virtual_server {VIP} 80 {{\n    delay_loop 1\n    lb_algo rr\n    lb_kind DR\n    \
             protocol TCP\n{}{}}}\n",
                real(11, "            user no-such-user\n"),
                real(12, "")
            );
            let scratch = guest::scratch("hv-fc");
            let path = scratch.join("keepalived.conf");
            std::fs::write(&path, conf).unwrap();
            let check = std::process::Command::new(guest::lvsdeck_exe())
                .args(["check", path.to_str().unwrap()])
                .output()
                .unwrap();
            let said = String::from_utf8_lossy(&check.stdout).into_owned()
                + &String::from_utf8_lossy(&check.stderr);
            assert!(check.status.success(), "{said}");
            assert!(
                said.contains("this check cannot run: unknown user no-such-user"),
                "{said}"
            );
            let daemon = Daemon::start(&dir_ns, &path, &scratch, "dir");
            let svc = format!("TCP {VIP}:80");
            let (t, listing) =
                wait_dests(&dir_ns, &svc, SLOW, exactly(&[route("10.81.11.12:80", 1)]));
            println!("only the checkable server in, after {t:.1?}\n{listing}");
            let snap = daemon.snapshot();
            let r = guest::real_in(&snap, &format!("TCP  {VIP}:80"), "10.81.11.11").unwrap();
            assert_eq!(r.health, "down", "{r:?}");
            let last = r.last_check.as_ref().expect("the reason");
            assert!(last.message.contains("check cannot run"), "{last:?}");
            // And it stays out.
            let seen = guest::ipvsadm(&dir_ns, "-Ln");
            assert!(!seen.contains("10.81.11.11"), "{seen}");
        },
    );
}
