//! Any bytes as a control-socket request line: an error, never a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lvsdeck::control::protocol::{Request, Response};

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = serde_json::from_slice::<Request>(data) {
        // What decodes must encode again and decode to the same value.
        let again = serde_json::to_vec(&r).expect("a decoded request re-encodes");
        assert_eq!(serde_json::from_slice::<Request>(&again).expect("re-decodes"), r);
    }
    let _ = serde_json::from_slice::<Response>(data);
});
