//! `lvsdeck doctor`: load the configuration, ask the local daemon (if one answers) for its
//! VRRP states, probe, print. Exit 0 when nothing was found, 1 with findings, 2 when the
//! doctor could not run.

use std::path::Path;
use std::process::ExitCode;

use lvsdeck::config::{self, validate::FsProbe};
use lvsdeck::control::client::Client;
use lvsdeck::control::protocol::{Request, Response};
use lvsdeck::doctor::{self, LocalState};

pub fn run(file: &Path, socket: Option<&Path>, json: bool, verbose: bool) -> ExitCode {
    let loaded = match config::load_file(file, &FsProbe) {
        Ok(l) => l,
        Err(diags) => {
            eprint!("{}", diags.render());
            return ExitCode::from(2);
        }
    };
    let socket = socket.unwrap_or(&loaded.config.global.control_socket);
    let local = local_state(socket);
    let report = doctor::run(&loaded.config, &local);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("serializable")
        );
    } else {
        if local.vrrp.is_empty() && !loaded.config.vrrp_instance.is_empty() {
            println!(
                "(no lvsdeck daemon answers at {}: VRRP judged from the wire alone)\n",
                socket.display()
            );
        }
        print!("{}", doctor::render::text(&report, verbose));
    }
    if report.findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The daemon's VRRP states and clock jumps; empty when no daemon answers.
fn local_state(socket: &Path) -> LocalState {
    super::runtime().block_on(async {
        let Ok(mut client) = Client::connect(socket).await else {
            return LocalState::default();
        };
        match client.call(&Request::Snapshot).await {
            Ok(Response::Snapshot { snapshot }) => LocalState {
                vrrp: snapshot
                    .vrrp
                    .iter()
                    .map(|v| (v.name.clone(), v.state))
                    .collect(),
                clock_jumps: Vec::new(),
            },
            _ => LocalState::default(),
        }
    })
}

/// `lvsdeck doctor --explain TOPIC`.
pub fn explain(topic: &str) -> ExitCode {
    match topic {
        "time" => {
            println!("{}", doctor::TIME_SYNC_NOTE);
            ExitCode::SUCCESS
        }
        other => {
            eprintln!("lvsdeck doctor --explain: no topic `{other}` (topics: time)");
            ExitCode::from(2)
        }
    }
}
