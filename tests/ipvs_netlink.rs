//! The netlink backend on the host: this kernel may have no IPVS, and then lvsdeck must say
//! exactly that. (The real kernel round trips are in `ipvs_vm.rs`.)

use std::path::Path;

use lvsdeck::ipvs::{IpvsError, Netlink};

#[test]
fn open_says_exactly_why_ipvs_is_missing() {
    let proc_present = Path::new("/proc/net/ip_vs").exists();
    match Netlink::open() {
        Err(e @ IpvsError::NotAvailable { .. }) => {
            assert!(!proc_present, "IPVS is loaded, yet: {e}");
            let text = e.to_string();
            for needle in [
                "/proc/net/ip_vs is absent",
                "generic netlink family \"IPVS\" was not found",
                "modprobe ip_vs",
            ] {
                assert!(text.contains(needle), "`{needle}` missing from: {text}");
            }
        }
        Ok(mut nl) => {
            assert!(proc_present, "IPVS answered but /proc/net/ip_vs is absent");
            let info = nl.info().expect("get info");
            assert!(info.version >= 0x010200, "{}", info.version_string());
        }
        Err(e) => panic!("unexpected error opening IPVS: {e}"),
    }
}
