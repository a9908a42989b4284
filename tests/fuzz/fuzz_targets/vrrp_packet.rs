//! Any bytes as a received VRRP packet (IPv4 whole packet, or IPv6 payload): an error, never
//! a crash; what decodes re-encodes to the same advert.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lvsdeck::vrrp::packet::{Advert, DecodeOptions, Endpoints, Packet};

fuzz_target!(|data: &[u8]| {
    let opts = DecodeOptions::default();
    let _ = Packet::decode(data, &opts);
    let ep = Endpoints::new("fe80::1".parse().unwrap(), "ff02::12".parse().unwrap()).unwrap();
    if let Ok(a) = Advert::decode(data, &ep, &opts) {
        let bytes = a.encode(&ep, Default::default()).expect("a decoded advert re-encodes");
        assert_eq!(Advert::decode(&bytes, &ep, &opts).expect("re-decodes"), a);
    }
});
