//! `lvsdeck lab`: build the lab, watch it, tear it down on quit.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use lvsdeck::control::client::Client;
use lvsdeck::control::protocol::{Request, Response};
use lvsdeck::lab::client::ClientStatus;
use lvsdeck::lab::{self, Lab, RUN_DIR};

pub fn run(rate: u32, no_console: bool) -> ExitCode {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("lvsdeck lab: needs root (network namespaces, raw sockets, IPVS)");
        return ExitCode::from(2);
    }
    let run_dir = Path::new(RUN_DIR);
    if let Err(e) = lab::claim(run_dir) {
        eprintln!("lvsdeck lab: {e}");
        return ExitCode::from(2);
    }
    let ipvs = lab::kernel_has_ipvs();
    if !ipvs {
        eprintln!(
            "lvsdeck lab: this kernel has no IPVS (/proc/net/ip_vs is absent; `modprobe ip_vs` as root where it exists).\n\
             VRRP failover and health checks run; traffic to the VIP cannot be balanced, so the client's requests fail."
        );
    }
    let mut lab = match Lab::start(run_dir, rate) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("lvsdeck lab: {e}");
            lab::down(run_dir);
            return ExitCode::from(2);
        }
    };
    for d in ["lvs-master", "lvs-backup"] {
        if !lab.wait_for_socket(d, Duration::from_secs(10)) {
            eprintln!(
                "lvsdeck lab: {d} did not start; its log:\n{}",
                std::fs::read_to_string(lab.log_path(d)).unwrap_or_default()
            );
            return ExitCode::from(2);
        }
    }
    if no_console {
        plain(&mut lab);
    } else {
        with_console(&lab);
    }
    drop(lab);
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "lab torn down");
    ExitCode::SUCCESS
}

/// The console attached to both directors (`>` switches), with the client's counts.
fn with_console(lab: &Lab) {
    let theme = match lvsdeck::tui::theme::Theme::load(None) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("lvsdeck lab: {e}");
            return;
        }
    };
    let targets = vec![
        ("lvs-master".to_string(), lab.socket("lvs-master")),
        ("lvs-backup".to_string(), lab.socket("lvs-backup")),
    ];
    let status = lab.client_status_path();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(crate::console_cmd::run(
        lvsdeck::tui::app::ConsoleConfig::default(),
        theme,
        crate::console_cmd::Source::Attach(targets),
        Some(status),
    ));
}

/// A status line every two seconds until Ctrl-C.
fn plain(lab: &mut Lab) {
    let rt = crate::cli::runtime();
    rt.block_on(async {
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = tokio::signal::ctrl_c() => return,
            }
            let mut line = String::new();
            for d in ["lvs-master", "lvs-backup"] {
                let state = match Client::connect(&lab.socket(d)).await {
                    Ok(mut c) => match c.call(&Request::Snapshot).await {
                        Ok(Response::Snapshot { snapshot }) => snapshot
                            .vrrp
                            .first()
                            .map(|v| format!("{} prio {}", v.state, v.effective_priority))
                            .unwrap_or_default(),
                        _ => "?".into(),
                    },
                    Err(_) => "down".into(),
                };
                line.push_str(&format!("{d}: {state}   "));
            }
            if let Some(c) = ClientStatus::read(&lab.client_status_path()) {
                let per: Vec<String> = c
                    .by_server
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect();
                line.push_str(&format!(
                    "client: {} ok, {} failed [{}]",
                    c.ok,
                    c.failed,
                    per.join(", ")
                ));
            }
            println!("{line}");
        }
    });
}
