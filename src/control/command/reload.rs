//! `reload`: the configuration read again; only the differences are applied, and a bad file
//! changes nothing.

use super::{Command, Confirmation};

pub fn describe() -> String {
    "reload the configuration".to_string()
}

pub fn confirm(config_path: &str) -> Confirmation {
    Confirmation {
        title: "Reload the configuration?".into(),
        lines: vec![("config".into(), config_path.to_string())],
        note: Some("Only the differences are applied.".into()),
        command: Command::Reload,
    }
}
