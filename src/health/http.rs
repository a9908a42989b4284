//! HTTP_GET and SSL_GET: fetch each URL on a new connection and judge the answer the way
//! keepalived does — the status code first (accepted codes, default 200-299), then the MD5
//! digest of the body, then the regex. All URLs must pass.
//!
//! keepalived hashes the bytes after the headers as they come (its default request is
//! HTTP/1.0, so the body is never chunked); here a chunked body is decoded before hashing, so
//! the digest is genhash's MD5 of the body in both versions.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::http_parse::{Progress, ResponseReader, hex};
use super::spec::{HttpProbe, HttpVersion, UrlProbe};
use super::{CheckResult, fmt_dur, tcp};

/// How much of a body a regex sees.
pub const REGEX_WINDOW: usize = 1 << 20;

/// One HTTP(S) check attempt started at `start`.
pub async fn check(p: &HttpProbe, start: Instant) -> CheckResult {
    if let Some(not_run) = tcp::unbindable(&p.conn, start) {
        return not_run;
    }
    let mut last = 0;
    for url in &p.urls {
        match fetch(p, url).await {
            Ok(status) => last = status,
            Err(msg) => {
                let msg = if p.urls.len() > 1 {
                    format!("{msg} ({})", url.path)
                } else {
                    msg
                };
                return CheckResult::fail(msg, start.elapsed());
            }
        }
    }
    CheckResult::ok(format!("HTTP {last}"), start.elapsed())
}

/// Fetch one URL; Ok(status) when the answer is good, else the check's message.
async fn fetch(p: &HttpProbe, url: &UrlProbe) -> Result<u16, String> {
    let tcp = tcp::connect(&p.conn).await?;
    match &url.tls {
        None => exchange(tcp, url, p.read_timeout).await,
        Some(tls) => {
            let connector = tokio_rustls::TlsConnector::from(tls.config.clone());
            let stream = tokio::time::timeout(
                p.conn.timeout,
                connector.connect(tls.server_name.clone(), tcp),
            )
            .await
            .map_err(|_| format!("TLS handshake timeout after {}", fmt_dur(p.conn.timeout)))?
            .map_err(|e| format!("TLS handshake failed: {e}"))?;
            exchange(stream, url, p.read_timeout).await
        }
    }
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    url: &UrlProbe,
    timeout: Duration,
) -> Result<u16, String> {
    let timed_out = || format!("timeout after {}", fmt_dur(timeout));
    tokio::time::timeout(timeout, s.write_all(&url.request))
        .await
        .map_err(|_| timed_out())?
        .map_err(|e| format!("sending request: {}", tcp::io_message(&e)))?;
    let keep = url.regex.as_ref().map(|_| REGEX_WINDOW);
    let mut reader = ResponseReader::new(url.digest.is_some(), keep);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match tokio::time::timeout(timeout, s.read(&mut buf)).await {
            Err(_) => return Err(timed_out()),
            Ok(Ok(n)) => n,
            // A TLS peer that closes without close_notify: the end of the answer (keepalived
            // does not insist on it either unless tls_compliant).
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
            Ok(Err(e)) if reader.status() != 0 => {
                // Reset after a complete head: judge what came.
                tracing::debug!("reading {}: {e}", url.path);
                0
            }
            Ok(Err(e)) => return Err(format!("reading response: {}", tcp::io_message(&e))),
        };
        if n == 0 {
            reader.eof().map_err(|e| e.to_string())?;
            break;
        }
        if reader.feed(&buf[..n]).map_err(|e| e.to_string())? == Progress::Done {
            break;
        }
    }
    judge(url, &reader)
}

/// keepalived's order: status, digest, regex.
pub fn judge(url: &UrlProbe, r: &ResponseReader) -> Result<u16, String> {
    let status = r.status();
    if !url.status.iter().any(|range| range.contains(status)) {
        return Err(format!("HTTP {status}"));
    }
    if let (Some(want), Some(got)) = (url.digest, r.digest())
        && want != got
    {
        return Err(format!("digest mismatch (got {})", hex(&got)));
    }
    if let Some(re) = &url.regex
        && re.is_match(r.body()) == url.regex_no_match
    {
        return Err(if url.regex_no_match {
            "regex matched (regex_no_match)".into()
        } else {
            "regex did not match".into()
        });
    }
    Ok(status)
}

/// The request keepalived would send (its template, with `Connection: close` always).
pub fn request(path: &str, host: &str, version: HttpVersion) -> Vec<u8> {
    let v = match version {
        HttpVersion::Http10 => "1.0",
        HttpVersion::Http11 => "1.1",
    };
    let mut s = String::with_capacity(128);
    let _ = write!(
        s,
        "GET {path} HTTP/{v}\r\nUser-Agent: KeepAliveClient (lvsdeck)\r\nConnection: close\r\nHost: {host}\r\n\r\n"
    );
    s.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_has_host_and_close() {
        let r =
            String::from_utf8(request("/health", "www.example.com", HttpVersion::Http11)).unwrap();
        assert_eq!(
            r,
            "GET /health HTTP/1.1\r\nUser-Agent: KeepAliveClient (lvsdeck)\r\nConnection: close\r\nHost: www.example.com\r\n\r\n"
        );
        let r = String::from_utf8(request("/", "[::1]:80", HttpVersion::Http10)).unwrap();
        assert!(r.starts_with("GET / HTTP/1.0\r\n") && r.contains("Host: [::1]:80\r\n"));
    }
}
