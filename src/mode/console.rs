//! The console: attached to running daemons, or (`--embedded` only) running the engines
//! itself; `screen` is its loop.

use std::path::PathBuf;
use std::process::ExitCode;

use lvsdeck::config::{self, validate::FsProbe};

pub mod screen;

#[derive(Debug, Clone, Copy)]
pub enum How {
    /// Attach to a running daemon; `socket_given`: --socket named it (else the default and
    /// the configuration's control_socket are tried).
    Attach { socket_given: bool },
    /// Run the engines in this process.
    Embedded,
}

/// The console: attached to a running daemon, or (`--embedded` only) running the engines
/// for `file` itself. Never the engines by surprise: without a daemon it says where it
/// looked and stops, since engines started beside a working director take its VIPs.
pub fn run(
    file: &std::path::Path,
    socket: &std::path::Path,
    how: How,
    read_only: bool,
    theme: Option<&str>,
    peers: Vec<(String, PathBuf)>,
) -> ExitCode {
    use lvsdeck::tui::app::ConsoleConfig;
    if matches!(how, How::Embedded) && !peers.is_empty() {
        eprintln!("lvsdeck: --peer follows daemons; it does not go with --embedded");
        return ExitCode::from(2);
    }
    let answers = |p: &std::path::Path| std::os::unix::net::UnixStream::connect(p).is_ok();
    let (socket, loaded) = match how {
        How::Attach { socket_given } => {
            let mut tried = vec![socket.to_path_buf()];
            // The configuration may name another control_socket.
            if !socket_given
                && let Ok(l) = config::load_file(file, &FsProbe)
                && l.config.global.control_socket != socket
            {
                tried.push(l.config.global.control_socket);
            }
            match tried.iter().find(|p| answers(p)) {
                Some(p) => (p.clone(), None),
                None => {
                    let looked: Vec<String> =
                        tried.iter().map(|p| p.display().to_string()).collect();
                    eprintln!(
                        "lvsdeck: no daemon answers at {}.\n  Start one: systemctl start lvsdeck, or \
                         lvsdeck --daemon -c {}\n  Or run the engines in this console: lvsdeck \
                         --embedded -c {} (refused while keepalived or another director runs \
                         these VRIDs)",
                        looked.join(" or "),
                        file.display(),
                        file.display()
                    );
                    return ExitCode::from(2);
                }
            }
        }
        How::Embedded => {
            let loaded = match config::load_file(file, &FsProbe) {
                Ok(l) => l,
                Err(diags) => {
                    eprint!("{}", diags.render());
                    return ExitCode::from(1);
                }
            };
            let mut reasons = Vec::new();
            // A local daemon's own adverts are not looped back to us: ask its socket.
            for p in [
                socket.to_path_buf(),
                loaded.config.global.control_socket.clone(),
            ] {
                if answers(&p)
                    && !reasons
                        .iter()
                        .any(|r: &String| r.contains(&*p.to_string_lossy()))
                {
                    reasons.push(format!("an lvsdeck daemon answers at {}", p.display()));
                }
            }
            reasons.extend(lvsdeck::vrrp::others::reasons_not_to_start(&loaded.config));
            if !reasons.is_empty() {
                eprintln!(
                    "lvsdeck: --embedded refused: {}.\n  Engines started here would take or drop \
                     the VIPs of the director that runs them; attach to its daemon instead \
                     (lvsdeck --socket PATH).",
                    reasons.join("; ")
                );
                return ExitCode::from(2);
            }
            (socket.to_path_buf(), Some(loaded))
        }
    };
    let socket = socket.as_path();
    let console_cfg = loaded
        .as_ref()
        .map(|l| l.config.console.clone())
        .unwrap_or_default();
    let mut cc = match ConsoleConfig::from_console(&console_cfg) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("lvsdeck: [console.keys]: {e}");
            return ExitCode::from(1);
        }
    };
    cc.read_only = read_only;
    let theme = match lvsdeck::tui::theme::Theme::load(theme.or(console_cfg.theme.as_deref())) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("lvsdeck: {e}");
            return ExitCode::from(1);
        }
    };
    let rt = match super::runtime_with(2) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lvsdeck: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    rt.block_on(async move {
        match loaded {
            None => {
                let label = if peers.is_empty() {
                    socket.display().to_string()
                } else {
                    "local".to_string()
                };
                let mut targets = vec![(label, socket.to_path_buf())];
                targets.extend(peers);
                screen::run(cc, theme, screen::Source::Attach(targets), None).await
            }
            Some(loaded) => {
                // Engines in this process: logs go to a file, not over the console.
                // The state of this host's director, whichever process runs its engines.
                let state_path = lvsdeck::engine::operator_state::path_for(
                    loaded.config.global.state_file.as_deref(),
                    None,
                );
                let admin_group = loaded.config.global.admin_group.clone();
                let director = match lvsdeck::engine::director::Director::start(
                    loaded.config,
                    file.to_path_buf(),
                    "embedded",
                    state_path,
                )
                .await
                {
                    Ok(d) => d,
                    Err(e) => {
                        eprintln!("lvsdeck: cannot start the engines: {e}");
                        return ExitCode::from(2);
                    }
                };
                let in_process = lvsdeck::control::transport::InProcess::new(
                    director.handles(),
                    admin_group.as_deref(),
                );
                let engines = tokio::spawn(director.run());
                let code = screen::run(cc, theme, screen::Source::Embedded(in_process), None).await;
                // Quitting the console stops its engines gracefully: masters hand over first.
                // SAFETY: raise(2) delivers SIGTERM to this process, which the director handles.
                unsafe { libc::raise(libc::SIGTERM) };
                let _ = tokio::time::timeout(std::time::Duration::from_secs(30), engines).await;
                code
            }
        }
    })
}
