//! Any text through the keepalived.conf parser, converter and validator: errors, never a panic.
#![no_main]

use std::path::{Path, PathBuf};

use libfuzzer_sys::fuzz_target;
use lvsdeck::config::keepalived::{self, parse::FileSource};
use lvsdeck::config::validate::NoProbe;

/// Includes resolve to one small file, so include handling is exercised without a filesystem.
struct OneFile;
impl FileSource for OneFile {
    fn read(&self, _: &Path) -> std::io::Result<Vec<u8>> {
        Ok(b"vrrp_instance X {\n interface eth0\n virtual_router_id 9\n virtual_ipaddress {\n 10.0.0.9\n }\n}\n".to_vec())
    }
    fn glob(&self, pattern: &Path) -> Vec<PathBuf> {
        vec![pattern.to_path_buf()]
    }
}

fuzz_target!(|data: &[u8]| {
    // Bytes, as keepalived reads them: what is not UTF-8 stays in its word.
    let text = keepalived::parse::text_of(data.to_vec());
    let (config, diags) = keepalived::load(
        Path::new("/etc/keepalived/keepalived.conf"),
        text,
        &OneFile,
        &NoProbe,
        "lb1",
    );
    let _ = diags.render();
    if let Some(config) = config {
        let _ = lvsdeck::config::to_toml(&config, "fuzz");
    }
});
