mod assets_cmd;
mod cli;
mod console_cmd;
mod ctl_cmd;
mod doctor_cmd;
mod guard_cmd;
mod lab_cmd;

use clap::Parser;

fn main() -> std::process::ExitCode {
    cli::run(cli::Cli::parse())
}
