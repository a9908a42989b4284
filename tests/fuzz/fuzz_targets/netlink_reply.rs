//! Any bytes as a datagram from the kernel's IPVS family: the in-place decoder returns an
//! error or values, never a crash, and reads nothing outside the datagram.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lvsdeck::ipvs::Af;
use lvsdeck::ipvs::netlink::{
    Incoming, messages, parse_daemon_msg, parse_dest_msg, parse_info, parse_service_msg,
    parse_timeouts,
};

fuzz_target!(|data: &[u8]| {
    for m in messages(data) {
        let Ok(Incoming::Payload { genl, .. }) = m else {
            continue;
        };
        let _ = parse_service_msg(&genl);
        let _ = parse_dest_msg(&genl, Af::Inet);
        let _ = parse_dest_msg(&genl, Af::Inet6);
        let _ = parse_daemon_msg(&genl);
        let _ = parse_info(&genl);
        let _ = parse_timeouts(&genl);
    }
});
