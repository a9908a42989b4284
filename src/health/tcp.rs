//! TCP_CHECK: connect, and that's it.
//!
//! A successful check closes with a reset (`SO_LINGER` 0) rather than a FIN, as HAProxy's
//! checks do: the director would otherwise keep a TIME_WAIT socket for every check (40,000
//! checks every 6 s means ~400,000 of them), and the real server sees an accepted connection
//! go away either way. keepalived closes normally.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use tokio::net::{TcpSocket, TcpStream};

use super::spec::TcpProbe;
use super::{CheckResult, fmt_dur};

/// One TCP_CHECK attempt started at `start`.
pub async fn check(p: &TcpProbe, start: Instant) -> CheckResult {
    if let Some(not_run) = unbindable(p, start) {
        return not_run;
    }
    match connect(p).await {
        Ok(stream) => {
            let _ = stream.set_zero_linger();
            CheckResult::ok("connected", start.elapsed())
        }
        Err(msg) => CheckResult::fail(msg, start.elapsed()),
    }
}

/// Connect within the probe's timeout; the error is the check's message.
pub async fn connect(p: &TcpProbe) -> Result<TcpStream, String> {
    let socket = socket(p.addr, p.bind)?;
    match tokio::time::timeout(p.timeout, socket.connect(p.addr)).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(io_message(&e)),
        Err(_) => Err(format!("timeout after {}", fmt_dur(p.timeout))),
    }
}

/// The result of an attempt that cannot be made because its source address (`bindto`) cannot
/// be bound (not on this host, for one): keepalived counts no failure then, and neither does
/// lvsdeck (see [`crate::health::state::Outcome::NotRun`]).
pub fn unbindable(p: &TcpProbe, start: Instant) -> Option<CheckResult> {
    p.bind?;
    let message = socket(p.addr, p.bind).err()?;
    Some(CheckResult::not_run(
        format!("not run: {message}"),
        start.elapsed(),
    ))
}

fn socket(addr: SocketAddr, bind: Option<SocketAddr>) -> Result<TcpSocket, String> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(|e| format!("cannot open a socket: {}", io_message(&e)))?;
    if let Some(bind) = bind {
        if bind.port() != 0 {
            // A fixed source port is reused check after check.
            let _ = socket.set_reuseaddr(true);
        }
        socket
            .bind(bind)
            .map_err(|e| format!("cannot bind to {bind}: {}", io_message(&e)))?;
    }
    Ok(socket)
}

/// A short message for a failed connection: "connection refused", "no route to host", ...
pub fn io_message(e: &io::Error) -> String {
    use io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => return "connection refused".into(),
        ConnectionReset => return "connection reset".into(),
        TimedOut => return "timed out".into(),
        AddrNotAvailable => return "address not available".into(),
        _ => {}
    }
    match e.raw_os_error() {
        Some(libc::EHOSTUNREACH) => "no route to host".into(),
        Some(libc::ENETUNREACH) => "network unreachable".into(),
        _ => {
            // Without the " (os error N)" tail std adds.
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_lowercase(),
                None => s,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_short() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(io_message(&refused), "connection refused");
        let unreach = io::Error::from_raw_os_error(libc::EHOSTUNREACH);
        assert_eq!(io_message(&unreach), "no route to host");
        let other = io::Error::from_raw_os_error(libc::EACCES);
        assert_eq!(io_message(&other), "permission denied");
    }
}
