//! systemd's notify protocol (`Type=notify`): readiness, status text and the watchdog, sent as
//! datagrams to `$NOTIFY_SOCKET`. Without systemd every call does nothing.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// Send one notification; returns whether systemd is listening.
pub fn notify(state: &str) -> bool {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return false;
    };
    let Ok(sock) = UnixDatagram::unbound() else {
        return false;
    };
    let bytes = path.as_encoded_bytes();
    let sent = if let Some(abstract_name) = bytes.strip_prefix(b"@") {
        // An abstract socket: the leading '@' stands for a NUL byte.
        use std::os::linux::net::SocketAddrExt;
        std::os::unix::net::SocketAddr::from_abstract_name(abstract_name)
            .and_then(|addr| sock.send_to_addr(state.as_bytes(), &addr))
    } else {
        sock.send_to(state.as_bytes(), &path)
    };
    sent.is_ok()
}

/// Whether systemd connected our stderr to the journal: `$JOURNAL_STREAM` names the device
/// and inode of that stream (systemd.exec(5)).
fn stderr_is_journal() -> bool {
    let Ok(want) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    // SAFETY: fstat on fd 2 into a zeroed stat buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(2, &mut st) } != 0 {
        return false;
    }
    want == format!("{}:{}", st.st_dev, st.st_ino)
}

/// The daemon's log: structured records to the journal when running under systemd
/// (tracing-journald: each field of an event a journal field), plain text on stderr
/// otherwise. `RUST_LOG` filters both (default `info`).
pub fn init_logging() {
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::prelude::*;
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    if stderr_is_journal()
        && let Ok(journal) = tracing_journald::layer()
    {
        tracing_subscriber::registry()
            .with(filter())
            .with(
                journal
                    .with_syslog_identifier("lvsdeck".into())
                    .with_field_prefix(None),
            )
            .init();
        return;
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(std::io::stderr)
        .init();
}

/// The watchdog interval systemd asks for (`WatchdogSec=`), if any; ping at half of it.
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID")
        && pid.parse::<u32>().ok() != Some(std::process::id())
    {
        return None;
    }
    Some(Duration::from_micros(usec) / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_reach_the_socket() {
        let dir = std::env::temp_dir().join(format!("lvsdeck-sd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify");
        let server = UnixDatagram::bind(&path).unwrap();
        // SAFETY: the test sets the variable before any other thread reads it.
        unsafe { std::env::set_var("NOTIFY_SOCKET", &path) };
        assert!(notify("READY=1\nSTATUS=running"));
        let mut buf = [0u8; 64];
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\nSTATUS=running");
        unsafe { std::env::remove_var("NOTIFY_SOCKET") };
        std::fs::remove_dir_all(&dir).ok();
    }
}
