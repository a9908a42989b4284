//! `lvsdeck status`: the running daemon's Snapshot, as text or JSON.

use std::process::ExitCode;

use lvsdeck::control::client::Client;
use lvsdeck::control::protocol::{Request, Response};
use lvsdeck::engine::snapshot::now_ms;

pub fn run(socket: &std::path::Path, json: bool) -> ExitCode {
    super::runtime().block_on(async {
        let mut client = match Client::connect(socket).await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("lvsdeck status: {e}");
                return ExitCode::from(2);
            }
        };
        match client.call(&Request::Snapshot).await {
            Ok(Response::Snapshot { snapshot }) => {
                if json {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&snapshot).expect("serializable")
                    );
                } else {
                    print!("{}", lvsdeck::engine::status::render(&snapshot, now_ms()));
                }
                ExitCode::SUCCESS
            }
            Ok(other) => {
                eprintln!("lvsdeck status: unexpected answer {other:?}");
                ExitCode::from(2)
            }
            Err(e) => {
                eprintln!("lvsdeck status: {e}");
                ExitCode::from(2)
            }
        }
    })
}
