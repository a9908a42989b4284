//! keepalived.conf, read into the same model as the native TOML.

pub mod convert;
pub mod parse;

use std::path::Path;

use super::diag::Diags;
use super::model::Config;
use super::validate::{ConfPath, Dialect, ScriptProbe, remove_dropped, validate};
use parse::FileSource;

/// Parse, convert and check a keepalived.conf, with keepalived's leniency; `config_id` decides
/// the `@ID` lines (keepalived's `-i`). `None` when any error was found.
pub fn load(
    path: &Path,
    text: String,
    fs: &dyn FileSource,
    probe: &dyn ScriptProbe,
    config_id: &str,
) -> (Option<Config>, Diags) {
    let (parsed, mut diags) = parse::parse(path, text, fs, config_id);
    let mut converted = convert::convert(&parsed, &mut diags);
    let findings = validate(&converted.config, probe, Dialect::Keepalived);
    remove_dropped(&mut converted.config, &findings);
    for f in findings {
        // A value that failed to convert was left at its default; checking it would only echo.
        if converted.failed.iter().any(|p| f.path.0.starts_with(&p.0)) {
            continue;
        }
        // The nearest written place: the path itself, or the closest enclosing part.
        let mut probe_path: ConfPath = f.path.clone();
        let place = loop {
            if let Some(p) = converted.places.get(&probe_path) {
                break Some(p);
            }
            if probe_path.0.pop().is_none() {
                break None;
            }
        };
        diags.push(f.into_diag(place.map(|(file, span)| (&parsed.files[*file], span.clone()))));
    }
    if diags.has_errors() {
        (None, diags)
    } else {
        (Some(converted.config), diags)
    }
}
