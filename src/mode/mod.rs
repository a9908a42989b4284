//! The program's modes, one file each; `cli.rs` parses the arguments and picks one.

pub mod assets;
pub mod check;
pub mod console;
pub mod ctl;
pub mod daemon;
pub mod doctor;
pub mod guard;
pub mod import;
pub mod lab;
pub mod status;

/// The runtime every mode runs on: one thread (the daemon's director, VRRP's adverts and the
/// tools), or `workers` threads (the console draws while it follows daemons).
pub fn runtime_with(workers: usize) -> std::io::Result<tokio::runtime::Runtime> {
    match workers {
        0 | 1 => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        n => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build(),
    }
}

/// One thread's runtime, for the tools (a host that cannot make one cannot run lvsdeck).
pub fn runtime() -> tokio::runtime::Runtime {
    runtime_with(1).expect("a tokio runtime")
}
