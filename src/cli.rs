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
    about = "VRRP + IPVS director with an operator's console",
    after_help = "Exit codes of --daemon: 0 stopped on request (SIGTERM: masters handed over first; \
                  SIGINT or a second SIGTERM: plain priority-0 release), 1 invalid configuration, \
                  2 could not start (interface, address or socket missing), 3 failed while running."
)]
pub struct Cli {
    /// Run the engines headless (for systemd), instead of the console.
    #[arg(long)]
    pub daemon: bool,
    /// Configuration file: lvsdeck TOML or keepalived.conf.
    #[arg(short, long, default_value = "/etc/lvsdeck/lvsdeck.toml")]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Option<Command>,
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
        Some(Command::Check { file }) => check(&file),
        Some(Command::Import { file }) => import(&file),
        None if cli.daemon => daemon(&cli.config),
        None => {
            eprintln!(
                "lvsdeck: the console is not built yet; run the engines with `lvsdeck --daemon -c FILE`"
            );
            ExitCode::from(2)
        }
    }
}

fn daemon(file: &std::path::Path) -> ExitCode {
    use tracing_subscriber::EnvFilter;
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let loaded = match config::load_file(file, &FsProbe) {
        Ok(l) => l,
        Err(diags) => {
            eprint!("{}", diags.render());
            eprintln!("{}: invalid configuration, not starting", file.display());
            return ExitCode::from(1);
        }
    };
    eprint!("{}", loaded.warnings.render());
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lvsdeck: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(async {
        let director = match lvsdeck::engine::director::Director::start(
            loaded.config,
            file.to_path_buf(),
            "daemon",
        )
        .await
        {
            Ok(d) => d,
            Err(e) => {
                tracing::error!("cannot start: {e}");
                return ExitCode::from(2);
            }
        };
        tracing::info!("lvsdeck daemon running with {}", file.display());
        match director.run().await {
            Ok(how) => {
                tracing::info!("stopped ({how:?})");
                ExitCode::SUCCESS
            }
            Err(e) => {
                tracing::error!("{e}");
                ExitCode::from(3)
            }
        }
    })
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
