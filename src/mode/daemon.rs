//! `lvsdeck --daemon`: the control socket first, then the engines, the metrics, and the
//! director's loop until a signal stops it.

use std::process::ExitCode;

use lvsdeck::config::{self, validate::FsProbe};
use lvsdeck::control::server::ServerOptions;

/// keepalived's `vrrp_no_swap` / `checker_no_swap`: keep the daemon's pages in memory, so a
/// host swapping hard cannot delay an advert. One process here, so either locks all of it.
fn lock_memory() {
    // SAFETY: mlockall takes flags only.
    if unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) } == 0 {
        eprintln!("lvsdeck: memory locked (no_swap)");
    } else {
        eprintln!(
            "lvsdeck: warning: no_swap: cannot lock memory: {}",
            std::io::Error::last_os_error()
        );
    }
}

pub fn run(file: &std::path::Path, socket: Option<&std::path::Path>) -> ExitCode {
    lvsdeck::engine::systemd::init_logging();
    let loaded = match config::load_file(file, &FsProbe) {
        Ok(l) => l,
        Err(diags) => {
            eprint!("{}", diags.render());
            eprintln!("{}: invalid configuration, not starting", file.display());
            return ExitCode::from(1);
        }
    };
    eprint!("{}", loaded.warnings.render());
    let g = &loaded.config.global;
    if g.vrrp_no_swap || g.checker_no_swap {
        lock_memory();
    }
    let runtime = match super::runtime_with(1) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lvsdeck: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let loaded_socket = loaded.config.global.control_socket.clone();
    let admin_group = loaded.config.global.admin_group.clone();
    let control_group = loaded.config.global.control_group.clone();
    let metrics_listen = loaded.config.global.metrics_listen.clone();
    runtime.block_on(async {
        // The socket first: a second daemon must stop before it touches VRRP or IPVS.
        let opts = ServerOptions {
            path: socket.map_or_else(|| loaded_socket.clone(), |p| p.to_path_buf()),
            admin_group: admin_group.clone(),
            watch_group: control_group.clone(),
        };
        let listener = match lvsdeck::control::server::bind(&opts).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("control socket {}: {e}", opts.path.display());
                return ExitCode::from(2);
            }
        };
        let state_path = lvsdeck::engine::operator_state::path_for(
            loaded.config.global.state_file.as_deref(),
            socket,
        );
        let director = match lvsdeck::engine::director::Director::start(
            loaded.config,
            file.to_path_buf(),
            "daemon",
            state_path,
        )
        .await
        {
            Ok(d) => d,
            Err(e) => {
                tracing::error!("cannot start: {e}");
                return ExitCode::from(2);
            }
        };
        tokio::spawn(lvsdeck::control::server::serve(
            listener,
            opts.clone(),
            director.handles(),
        ));
        if let Some(listen) = &metrics_listen {
            match listen.parse() {
                Ok(addr) => {
                    let snapshots = director.handles().snapshot;
                    tokio::spawn(async move {
                        if let Err(e) = lvsdeck::engine::metrics::serve(addr, snapshots).await {
                            tracing::error!("metrics on {addr}: {e}");
                        }
                    });
                }
                Err(_) => tracing::error!(
                    "metrics_listen `{listen}` is not an address:port; metrics are off"
                ),
            }
        }
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
