//! SMTP_CHECK: connect, read the greeting (220), `HELO name`, read 250, `QUIT`, read any
//! line. As keepalived, only the first line of each answer counts and its code must be three
//! digits followed by a space or the line's end (a `220-` continuation greeting fails);
//! each step has connect_timeout.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::spec::TcpProbe;
use super::{CheckResult, fmt_dur, tcp};

/// keepalived's default HELO name.
pub const DEFAULT_HELO: &str = "smtpchecker.keepalived.org";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpProbe {
    pub conn: TcpProbe,
    pub helo: String,
}

/// The status code of an answer's first line, when it is one keepalived accepts.
pub fn status(answer: &[u8]) -> Option<u16> {
    let line = answer.split(|b| *b == b'\n').next()?;
    let (code, rest) = line.split_at_checked(3)?;
    if !code.iter().all(u8::is_ascii_digit) || !(rest.is_empty() || rest[0] == b' ') {
        return None;
    }
    std::str::from_utf8(code).ok()?.parse().ok()
}

/// One SMTP_CHECK attempt started at `start`.
pub async fn check(p: &SmtpProbe, start: Instant) -> CheckResult {
    if let Some(not_run) = tcp::unbindable(&p.conn, start) {
        return not_run;
    }
    match dialogue(p).await {
        Ok(()) => CheckResult::ok("220, 250 to HELO", start.elapsed()),
        Err(msg) => CheckResult::fail(msg, start.elapsed()),
    }
}

async fn dialogue(p: &SmtpProbe) -> Result<(), String> {
    let mut s = tcp::connect(&p.conn).await?;
    let t = p.conn.timeout;
    expect(&mut s, t, 220, "greeting").await?;
    send(&mut s, t, format!("HELO {}\r\n", p.helo).as_bytes()).await?;
    expect(&mut s, t, 250, "HELO").await?;
    send(&mut s, t, b"QUIT\r\n").await?;
    // Any answer ends it well.
    read(&mut s, t, "QUIT").await.map(drop)
}

/// One answer line (as keepalived, until the first `\n`, however the server's segments cut
/// it), within `t`.
async fn read(s: &mut TcpStream, t: Duration, after: &str) -> Result<Vec<u8>, String> {
    let mut answer = Vec::new();
    let mut buf = [0u8; 512];
    let deadline = tokio::time::Instant::now() + t;
    while !answer.contains(&b'\n') && answer.len() < 4096 {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(0)) if answer.is_empty() => {
                return Err(format!("connection closed before the answer to {after}"));
            }
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
            Ok(Err(e)) => return Err(tcp::io_message(&e)),
            Err(_) => return Err(format!("no answer to {after} in {}", fmt_dur(t))),
        }
    }
    Ok(answer)
}

async fn expect(s: &mut TcpStream, t: Duration, code: u16, after: &str) -> Result<(), String> {
    let answer = read(s, t, after).await?;
    match status(&answer) {
        Some(c) if c == code => Ok(()),
        _ => {
            let first =
                String::from_utf8_lossy(answer.split(|b| *b == b'\n').next().unwrap_or(&[]));
            Err(format!(
                "{after}: expected {code}, got `{}`",
                first.trim_end()
            ))
        }
    }
}

async fn send(s: &mut TcpStream, t: Duration, bytes: &[u8]) -> Result<(), String> {
    match tokio::time::timeout(t, s.write_all(bytes)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(tcp::io_message(&e)),
        Err(_) => Err(format!("write timed out after {}", fmt_dur(t))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_are_read_as_keepalived_reads_them() {
        assert_eq!(status(b"220 mx.example ESMTP\r\n"), Some(220));
        assert_eq!(status(b"250 hello\r\n250 more\r\n"), Some(250));
        assert_eq!(status(b"220"), Some(220));
        assert_eq!(status(b"220-first line of many\r\n220 last\r\n"), None);
        assert_eq!(
            status(b"220\r\n"),
            None,
            "keepalived wants a space or the end"
        );
        assert_eq!(status(b"2x0 no\r\n"), None);
        assert_eq!(status(b"22"), None);
        assert_eq!(status(b""), None);
    }
}
