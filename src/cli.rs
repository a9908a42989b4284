//! Command-line arguments (clap derive) and dispatch to each mode.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use lvsdeck::config::{
    self,
    validate::{FsProbe, NoProbe},
};

#[derive(Debug, Parser)]
#[command(
    name = "lvsdeck",
    version,
    about = "VRRP + IPVS director with an operator's console"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a configuration (lvsdeck TOML or keepalived.conf); exit 0 if valid, 1 if not.
    Check {
        /// The file to check.
        file: PathBuf,
    },
    /// Print the lvsdeck TOML equivalent of a keepalived.conf.
    Import {
        /// The keepalived.conf to read.
        file: PathBuf,
    },
}

pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Check { file } => check(&file),
        Command::Import { file } => import(&file),
    }
}

fn check(file: &std::path::Path) -> ExitCode {
    match config::load_file(file, &FsProbe) {
        Ok(loaded) => {
            eprint!("{}", loaded.warnings.render());
            let c = &loaded.config;
            println!(
                "{}: valid ({:?}): {} VRRP instance(s), {} virtual server(s), {} real server(s), {} warning(s)",
                file.display(),
                loaded.format,
                c.vrrp_instance.len(),
                c.virtual_server.len(),
                c.virtual_server
                    .iter()
                    .map(|v| v.real_server.len())
                    .sum::<usize>(),
                loaded.warnings.0.len()
            );
            ExitCode::SUCCESS
        }
        Err(diags) => {
            eprint!("{}", diags.render());
            eprintln!(
                "{}: invalid: {} error(s), {} warning(s)",
                file.display(),
                diags.errors().count(),
                diags.warnings().count()
            );
            ExitCode::from(1)
        }
    }
}

fn import(file: &std::path::Path) -> ExitCode {
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
