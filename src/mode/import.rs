//! `lvsdeck import`: a keepalived.conf as lvsdeck's TOML.

use std::process::ExitCode;

use lvsdeck::config::{self, validate::NoProbe};

pub fn run(file: &std::path::Path) -> ExitCode {
    // The file may come from another director: its scripts are checked where it will run.
    match config::load_file(file, &NoProbe) {
        Ok(loaded) => {
            eprint!("{}", loaded.warnings.render());
            print!(
                "{}",
                config::to_toml(&loaded.config, &file.display().to_string())
            );
            ExitCode::SUCCESS
        }
        Err(diags) => {
            eprint!("{}", diags.render());
            eprintln!(
                "{}: not imported: {} error(s)",
                file.display(),
                diags.errors().count()
            );
            ExitCode::from(1)
        }
    }
}
