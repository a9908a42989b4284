//! `lvsdeck ctl`: one operator command to the running daemon over its control socket.

use std::process::ExitCode;

use clap::Subcommand;

use lvsdeck::control::client::Client;
use lvsdeck::control::command;
use lvsdeck::control::protocol::{Command as ProtoCommand, RealTarget, Request, Response};

#[derive(Debug, Subcommand)]
pub enum CtlAction {
    /// Weight 0 for a real server: existing connections finish, new ones go elsewhere.
    Drain { service: String, real: String },
    /// Back to the configured (or pre-drain) weight.
    Undrain { service: String, real: String },
    /// Set a real server's weight (sticky), or `clear` the override.
    Weight {
        service: String,
        real: String,
        weight: String,
    },
    /// Override an instance's VRRP priority (1-254), or `clear` it.
    Priority { instance: String, priority: String },
    /// Graceful hand-over of a master instance: no packet lost.
    Handover { instance: String },
    /// Re-read the configuration; a bad file changes nothing.
    Reload,
    /// Remove every operator override (drains, weights, priority overrides), which are
    /// otherwise kept across restarts, and the hold a hand-over leaves on the old master (it
    /// preempts again).
    Clear,
    /// Have the daemon run the doctor's checks now (its report: `status --json`, the console's
    /// `D`); `lvsdeck doctor` runs them in this process instead.
    Doctor,
    /// `[bgp]`: withdraw every address this director announces (kept across restarts until
    /// `undrain-director`); its flows move to the other directors as the routers converge.
    DrainDirector,
    /// `[bgp]`: announce again every address whose services have quorum.
    UndrainDirector,
}

pub fn run(socket: &std::path::Path, action: CtlAction, json: bool) -> ExitCode {
    let target = |service: String, real: String| RealTarget { service, real };
    let command = match action {
        CtlAction::Drain { service, real } => Ok(ProtoCommand::Drain {
            target: target(service, real),
        }),
        CtlAction::Undrain { service, real } => Ok(ProtoCommand::Undrain {
            target: target(service, real),
        }),
        CtlAction::Weight {
            service,
            real,
            weight,
        } => command::weight::parse(&weight).map(|weight| ProtoCommand::Weight {
            target: target(service, real),
            weight,
        }),
        CtlAction::Priority { instance, priority } => command::priority::parse(&priority)
            .map(|priority| ProtoCommand::Priority { instance, priority }),
        CtlAction::Handover { instance } => Ok(ProtoCommand::Handover { instance }),
        CtlAction::Reload => Ok(ProtoCommand::Reload),
        CtlAction::Clear => Ok(ProtoCommand::Clear),
        CtlAction::Doctor => Ok(ProtoCommand::Doctor),
        CtlAction::DrainDirector => Ok(ProtoCommand::DrainDirector),
        CtlAction::UndrainDirector => Ok(ProtoCommand::UndrainDirector),
    };
    let command = match command {
        Ok(c) => c,
        Err(e) => {
            eprintln!("lvsdeck ctl: {e}");
            return ExitCode::from(2);
        }
    };
    super::runtime().block_on(async {
        let mut client = match Client::connect(socket).await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("lvsdeck ctl: {e}");
                return ExitCode::from(2);
            }
        };
        let answer = client.call(&Request::Command { command }).await;
        if json && let Ok(a) = &answer {
            println!("{}", serde_json::to_string(a).expect("serializable"));
        }
        match answer {
            Ok(Response::Done { message }) => {
                if !json {
                    println!("{message}");
                }
                ExitCode::SUCCESS
            }
            Ok(Response::Refused { message }) => {
                eprintln!("refused: {message}");
                ExitCode::from(1)
            }
            Ok(other) => {
                eprintln!("lvsdeck ctl: unexpected answer {other:?}");
                ExitCode::from(2)
            }
            Err(e) => {
                eprintln!("lvsdeck ctl: {e}");
                ExitCode::from(2)
            }
        }
    })
}
