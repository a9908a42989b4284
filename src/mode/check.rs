//! `lvsdeck check`: read a configuration as the daemon would, and say what it holds.

use std::process::ExitCode;

use lvsdeck::config::{self, validate::FsProbe};

pub fn run(file: &std::path::Path, strict: bool) -> ExitCode {
    let result = config::load_file(file, &FsProbe).and_then(|loaded| {
        if strict && !loaded.warnings.0.is_empty() {
            Err(loaded.warnings.into_errors())
        } else {
            Ok(loaded)
        }
    });
    match result {
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
