//! The configuration model, its TOML loader and the keepalived.conf importer.
//!
//! Both formats load into [`model::Config`]; which one a file is, is told by its content.

pub mod diag;
pub mod keepalived;
pub mod model;
pub mod toml_load;
pub mod validate;

use std::path::Path;
use std::sync::RwLock;

pub use diag::{Diag, Diags, SourceFile};
pub use model::Config;
use validate::ScriptProbe;

/// The two input formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Toml,
    Keepalived,
}

/// Tell the format from the first meaningful line: `!` comments, `word {` blocks and bare
/// keywords are keepalived's; `[table]` headers and `key = value` are TOML's.
pub fn detect_format(text: &str) -> Format {
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('!') {
            return Format::Keepalived;
        }
        if line.starts_with('[') {
            return Format::Toml;
        }
        let first_word_end = line
            .find(|c: char| c.is_whitespace() || c == '=')
            .unwrap_or(line.len());
        let after = line[first_word_end..].trim_start();
        return if after.starts_with('=') {
            Format::Toml
        } else {
            Format::Keepalived
        };
    }
    Format::Toml
}

/// A loaded configuration and the warnings met on the way.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub format: Format,
    pub warnings: Diags,
}

/// The id `@ID` lines of a keepalived.conf are kept for (keepalived's `-i`), when set.
static CONFIG_ID: RwLock<Option<String>> = RwLock::new(None);

/// Set the config id for every later load of this process (`--config-id`): the daemon's
/// reloads read the file the way its start did.
pub fn set_config_id(id: Option<String>) {
    *CONFIG_ID.write().unwrap_or_else(|e| e.into_inner()) = id;
}

/// The config id: the one set, else this host's name up to its first dot, as keepalived's
/// (the kernel's hostname file is uname's nodename).
pub fn config_id() -> String {
    if let Some(id) = CONFIG_ID.read().unwrap_or_else(|e| e.into_inner()).clone() {
        return id;
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    host.trim()
        .split('.')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Read, parse and check a configuration file of either format.
pub fn load_file(path: &Path, probe: &dyn ScriptProbe) -> Result<Loaded, Diags> {
    let bytes = std::fs::read(path).map_err(|e| {
        Diags(vec![
            Diag::error(format!("cannot read {}: {e}", path.display()))
                .with_help("give the path of a readable lvsdeck.toml or keepalived.conf"),
        ])
    })?;
    // keepalived reads bytes: a Latin-1 byte in a comment or a word does not refuse the file.
    // TOML must be UTF-8, which its parser says where it is not.
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let text = keepalived::parse::text_of(e.into_bytes());
            if detect_format(&text) == Format::Toml {
                return Err(Diags(vec![
                    Diag::error(format!("{} is not UTF-8", path.display()))
                        .with_help("lvsdeck TOML files are UTF-8; convert it with iconv"),
                ]));
            }
            text
        }
    };
    load_text(path, text, probe)
}

/// Parse and check configuration text that came from `path`.
pub fn load_text(path: &Path, text: String, probe: &dyn ScriptProbe) -> Result<Loaded, Diags> {
    let format = detect_format(&text);
    let (config, diags) = match format {
        Format::Toml => toml_load::load(&SourceFile::new(path, text), probe),
        Format::Keepalived => {
            let id = config_id();
            keepalived::load(path, text, &keepalived::parse::Fs, probe, &id)
        }
    };
    match config {
        Some(config) => Ok(Loaded {
            config,
            format,
            warnings: diags,
        }),
        None => Err(diags),
    }
}

/// The project's seed configuration (`config/lvsdeck.toml`), for tests of the parts it feeds.
#[cfg(test)]
pub fn seed() -> Config {
    load_text(
        Path::new("config/lvsdeck.toml"),
        include_str!("../../config/lvsdeck.toml").to_string(),
        &validate::NoProbe,
    )
    .expect("the seed configuration is valid")
    .config
}

/// The model as commented TOML: what `lvsdeck import` prints.
pub fn to_toml(config: &Config, origin: &str) -> String {
    let body = toml::to_string_pretty(config).expect("the model always serializes to TOML");
    let mut out = format!(
        "# lvsdeck configuration, imported from {origin}.\n\
         # Check it with `lvsdeck check FILE`; keys are explained in config/lvsdeck.toml.\n\n"
    );
    for line in body.lines() {
        if let Some(comment) = section_comment(line) {
            if !out.ends_with("\n\n") {
                out.push('\n');
            }
            out.push_str(comment);
            out.push('\n');
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// A one-line explanation before each kind of section, for a reader new to the format.
fn section_comment(line: &str) -> Option<&'static str> {
    let header = line.strip_prefix('[')?;
    let name = header.trim_start_matches('[').split(['.', ']']).next()?;
    let nested = header.trim_start_matches('[').contains('.');
    Some(match (name, nested) {
        ("global", false) => "# Director-wide settings (keepalived's global_defs).",
        ("vrrp_script", true) => {
            "# A tracking script: its result moves the priority of instances that track it."
        }
        ("vrrp_instance", true) if !header.contains("].") && header.matches('.').count() == 1 => {
            "# A VRRP instance: the election between directors for these virtual addresses."
        }
        ("vrrp_sync_group", true) => "# Instances that change state together.",
        ("virtual_server_group", true) => "# Addresses that share one set of real servers.",
        ("virtual_server", false) => {
            "# A virtual service (an IPVS table entry) and its real servers."
        }
        _ => return None,
    })
}
