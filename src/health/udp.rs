//! UDP_CHECK: one datagram to the server, and keepalived's reading of what comes back. An
//! ICMP port unreachable (ECONNREFUSED on the connected socket) is down; silence is up
//! unless an answer is required; an answer must match `require_reply` (a prefix, `x` any
//! hex digit) and its length bounds when a pattern is given.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

use super::tcp::io_message;
use super::{CheckResult, fmt_dur};

/// keepalived's payload when the file gives none (32 bytes).
pub const DEFAULT_PAYLOAD: &[u8] = b"keepalived check - keepalived ch";

/// What an answer must look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Each byte's value and which of its bits count (0xf0 for `3x`).
    pub pattern: Vec<(u8, u8)>,
    pub min_len: usize,
    pub max_len: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpProbe {
    pub addr: SocketAddr,
    pub bind: Option<SocketAddr>,
    pub payload: Vec<u8>,
    /// None: no answer needed.
    pub reply: Option<Reply>,
    pub timeout: Duration,
}

/// keepalived's hex: digits in pairs, spaces between bytes allowed (a lone digit before a
/// space is a byte); `wildcard` allows `x` for any digit (in patterns).
pub fn parse_hex(text: &str, wildcard: bool) -> Result<Vec<(u8, u8)>, String> {
    let mut out = Vec::new();
    for word in text.split_whitespace() {
        let digits: Vec<char> = word.chars().collect();
        for pair in digits.chunks(2) {
            let mut value = 0u8;
            let mut mask = 0u8;
            let n = pair.len();
            for (i, c) in pair.iter().enumerate() {
                let shift = 4 * (n - 1 - i) as u8;
                match c {
                    'x' | 'X' if wildcard => {}
                    c => {
                        let d = c.to_digit(16).ok_or(format!("`{c}` is not a hex digit"))? as u8;
                        value |= d << shift;
                        mask |= 0xf << shift;
                    }
                }
            }
            out.push((value, mask));
        }
    }
    Ok(out)
}

/// Whether an answer passes: any answer without a pattern; else the length bounds and the
/// pattern over the bytes both have.
pub fn reply_ok(reply: &Reply, got: &[u8]) -> Result<(), String> {
    if reply.pattern.is_empty() {
        return Ok(());
    }
    if got.len() < reply.min_len || got.len() > reply.max_len {
        return Err(format!(
            "answer of {} bytes, not {} to {}",
            got.len(),
            reply.min_len,
            reply.max_len
        ));
    }
    match reply
        .pattern
        .iter()
        .zip(got)
        .position(|((value, mask), b)| b & mask != *value)
    {
        Some(i) => Err(format!("answer differs from require_reply at byte {i}")),
        None => Ok(()),
    }
}

/// One UDP_CHECK attempt started at `start`.
pub async fn check(p: &UdpProbe, start: Instant) -> CheckResult {
    if let Some(not_run) = unbindable(p.bind, start) {
        return not_run;
    }
    match exchange(p).await {
        Ok(msg) => CheckResult::ok(msg, start.elapsed()),
        Err(msg) => CheckResult::fail(msg, start.elapsed()),
    }
}

/// The result of an attempt that cannot be made because its source address (`bindto`) cannot
/// be bound: keepalived counts no failure then ("UDP socket bind failed. Rescheduling."), and
/// neither does lvsdeck.
pub fn unbindable(bind: Option<SocketAddr>, start: Instant) -> Option<CheckResult> {
    let bind = bind?;
    let e = std::net::UdpSocket::bind(bind).err()?;
    Some(CheckResult::not_run(
        format!("not run: cannot bind to {bind}: {}", io_message(&e)),
        start.elapsed(),
    ))
}

/// A UDP socket bound to `bind` (any address of the family by default) and connected to
/// `addr`, so that an ICMP port unreachable comes back as ECONNREFUSED.
pub async fn connected(addr: SocketAddr, bind: Option<SocketAddr>) -> Result<UdpSocket, String> {
    let local = bind.unwrap_or_else(|| match addr {
        SocketAddr::V4(_) => "0.0.0.0:0".parse().expect("an address"),
        SocketAddr::V6(_) => "[::]:0".parse().expect("an address"),
    });
    let socket = UdpSocket::bind(local)
        .await
        .map_err(|e| format!("cannot bind to {local}: {}", io_message(&e)))?;
    socket
        .connect(addr)
        .await
        .map_err(|e| format!("cannot reach {addr}: {}", io_message(&e)))?;
    Ok(socket)
}

async fn exchange(p: &UdpProbe) -> Result<String, String> {
    let socket = connected(p.addr, p.bind).await?;
    socket
        .send(&p.payload)
        .await
        .map_err(|e| format!("sending: {}", refused(&e)))?;
    let max = p.reply.as_ref().map_or(65_535, |r| r.max_len) + 1;
    let mut buf = vec![0u8; max];
    match tokio::time::timeout(p.timeout, socket.recv(&mut buf)).await {
        Ok(Ok(n)) => match &p.reply {
            Some(r) => reply_ok(r, &buf[..n]).map(|()| format!("answered ({n} bytes)")),
            None => Ok(format!("answered ({n} bytes)")),
        },
        Ok(Err(e)) => Err(refused(&e)),
        Err(_) if p.reply.is_some() => Err(format!("no answer in {}", fmt_dur(p.timeout))),
        Err(_) => Ok(format!("no answer in {}, none needed", fmt_dur(p.timeout))),
    }
}

/// An error of a connected UDP socket, "port unreachable" for the ICMP answer.
pub fn refused(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ECONNREFUSED) => "port unreachable".into(),
        _ => io_message(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(pattern: &str, min: usize, max: usize) -> Reply {
        Reply {
            pattern: parse_hex(pattern, true).unwrap(),
            min_len: min,
            max_len: max,
        }
    }

    #[test]
    fn hex_is_read_as_keepalived_reads_it() {
        let bytes =
            |t: &str| parse_hex(t, false).map(|v| v.iter().map(|p| p.0).collect::<Vec<_>>());
        assert_eq!(bytes("0a0B ff"), Ok(vec![0x0a, 0x0b, 0xff]));
        assert_eq!(
            bytes("a 0b"),
            Ok(vec![0x0a, 0x0b]),
            "a lone digit is a byte"
        );
        assert!(bytes("0g").is_err());
        assert!(bytes("3x").is_err(), "no wildcard in a payload");
        assert_eq!(parse_hex("3x", true), Ok(vec![(0x30, 0xf0)]));
    }

    #[test]
    fn answers_are_matched_as_keepalived_matches_them() {
        assert!(
            reply_ok(&reply("", 0, 255), b"").is_ok(),
            "no pattern: any answer"
        );
        let r = reply("4f 4b", 0, 255);
        assert!(reply_ok(&r, b"OK, fine").is_ok(), "a prefix");
        assert!(
            reply_ok(&r, b"O").is_ok(),
            "shorter than the pattern, but what is there matches"
        );
        assert!(reply_ok(&r, b"NO").is_err());
        assert!(
            reply_ok(&reply("4x", 0, 255), b"Oops").is_ok(),
            "wildcard digit"
        );
        assert!(
            reply_ok(&reply("4f", 4, 255), b"OK").is_err(),
            "below min_reply_length"
        );
        assert!(
            reply_ok(&reply("4f", 0, 3), b"OKAY").is_err(),
            "above max_reply_length"
        );
    }
}
