//! Any text through the TOML loader and the validator: errors, never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use lvsdeck::config::{SourceFile, toml_load, validate::NoProbe};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let (config, diags) = toml_load::load(&SourceFile::new(Path::new("fuzz.toml"), text), &NoProbe);
        // Every diagnostic must render (spans inside the text, lines and columns computable).
        let _ = diags.render();
        if let Some(config) = config {
            let _ = lvsdeck::config::to_toml(&config, "fuzz");
        }
    }
});
