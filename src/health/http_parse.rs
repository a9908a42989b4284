//! An incremental HTTP/1.x response reader on byte slices, apart from the socket: the status
//! line and headers, then the body by `Content-Length`, chunked transfer coding, or up to the
//! end of the connection. The body is hashed (MD5) as it arrives and kept (up to a cap) only
//! when a regex needs it.

use md5::{Digest, Md5};

/// Headers longer than this are refused.
pub const MAX_HEAD: usize = 16 * 1024;
/// A chunk-size or trailer line longer than this is refused.
const MAX_LINE: usize = 1024;

/// Why a response could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("empty response")]
    Empty,
    #[error("not an HTTP response")]
    NotHttp,
    #[error("response headers too long")]
    HeadTooLong,
    #[error("truncated response headers")]
    TruncatedHead,
    #[error("bad chunked encoding")]
    BadChunk,
}

/// Whether the response is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    More,
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading a chunk-size line; `len` bytes of it so far.
    Size {
        value: u64,
        digits: u32,
        ext: bool,
    },
    Data(u64),
    /// After a chunk's data: its CRLF.
    DataEnd,
    /// After the last chunk: trailer lines until an empty one; `len` of the current line.
    Trailer {
        len: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    Head,
    Length(u64),
    Chunked(Chunk),
    UntilEof,
    Done,
}

/// Reads one response.
pub struct ResponseReader {
    head: Vec<u8>,
    state: Body,
    status: u16,
    content_length: Option<u64>,
    chunked: bool,
    md5: Option<Md5>,
    keep: Option<Vec<u8>>,
    keep_cap: usize,
    body_len: u64,
    line_len: usize,
}

impl ResponseReader {
    /// `digest`: hash the body; `keep`: keep up to this many bytes of it (for a regex).
    pub fn new(digest: bool, keep: Option<usize>) -> Self {
        Self {
            head: Vec::new(),
            state: Body::Head,
            status: 0,
            content_length: None,
            chunked: false,
            md5: digest.then(Md5::new),
            keep: keep.map(|_| Vec::new()),
            keep_cap: keep.unwrap_or(0),
            body_len: 0,
            line_len: 0,
        }
    }

    /// The status code (0 before the headers are in).
    pub fn status(&self) -> u16 {
        self.status
    }

    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    pub fn is_chunked(&self) -> bool {
        self.chunked
    }

    /// Body bytes received (decoded).
    pub fn body_len(&self) -> u64 {
        self.body_len
    }

    /// The kept part of the body.
    pub fn body(&self) -> &[u8] {
        self.keep.as_deref().unwrap_or(&[])
    }

    /// MD5 of the body so far, as lowercase hex would print it.
    pub fn digest(&self) -> Option<[u8; 16]> {
        self.md5.as_ref().map(|h| h.clone().finalize().into())
    }

    /// Feed bytes read from the connection.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<Progress, ParseError> {
        if self.state == Body::Head {
            let from = self.head.len().saturating_sub(3);
            self.head.extend_from_slice(data);
            let Some(end) = find_head_end(&self.head, from) else {
                if self.head.len() > MAX_HEAD {
                    return Err(ParseError::HeadTooLong);
                }
                return Ok(Progress::More);
            };
            if end > MAX_HEAD {
                return Err(ParseError::HeadTooLong);
            }
            let consumed_before = self.head.len() - data.len();
            self.parse_head(end)?;
            data = &data[end - consumed_before..];
            self.head = Vec::new();
        }
        while !data.is_empty() {
            let n = self.feed_body(data)?;
            data = &data[n..];
            if self.state == Body::Done {
                break;
            }
        }
        Ok(if self.state == Body::Done {
            Progress::Done
        } else {
            Progress::More
        })
    }

    /// The connection ended. Like keepalived, a body shorter than Content-Length is accepted
    /// (its digest will not match); a response without complete headers is not.
    pub fn eof(&mut self) -> Result<(), ParseError> {
        match self.state {
            Body::Head if self.head.is_empty() => Err(ParseError::Empty),
            Body::Head => Err(ParseError::TruncatedHead),
            _ => {
                self.state = Body::Done;
                Ok(())
            }
        }
    }

    fn parse_head(&mut self, end: usize) -> Result<(), ParseError> {
        let head = &self.head[..end];
        let mut lines = head
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
        let status_line = lines.next().unwrap_or_default();
        self.status = parse_status_line(status_line).ok_or(ParseError::NotHttp)?;
        for line in lines {
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                continue;
            };
            let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
            if name.eq_ignore_ascii_case(b"content-length") {
                self.content_length = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok());
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                // Chunked when it is the last coding.
                let last = value.rsplit(|&b| b == b',').next().unwrap_or_default();
                self.chunked = trim(last).eq_ignore_ascii_case(b"chunked");
            }
        }
        self.state = if matches!(self.status, 204 | 304) || (100..200).contains(&self.status) {
            Body::Done
        } else if self.chunked {
            Body::Chunked(Chunk::Size {
                value: 0,
                digits: 0,
                ext: false,
            })
        } else {
            match self.content_length {
                Some(0) => Body::Done,
                Some(n) => Body::Length(n),
                None => Body::UntilEof,
            }
        };
        Ok(())
    }

    fn take_body(&mut self, data: &[u8]) {
        self.body_len += data.len() as u64;
        if let Some(h) = &mut self.md5 {
            h.update(data);
        }
        if let Some(keep) = &mut self.keep {
            let room = self.keep_cap.saturating_sub(keep.len());
            keep.extend_from_slice(&data[..room.min(data.len())]);
        }
    }

    /// Consume some body bytes; returns how many.
    fn feed_body(&mut self, data: &[u8]) -> Result<usize, ParseError> {
        match self.state {
            Body::Head | Body::Done => Ok(data.len()),
            Body::UntilEof => {
                self.take_body(data);
                Ok(data.len())
            }
            Body::Length(left) => {
                let n = (left.min(data.len() as u64)) as usize;
                self.take_body(&data[..n]);
                self.state = if left == n as u64 {
                    Body::Done
                } else {
                    Body::Length(left - n as u64)
                };
                // Bytes past Content-Length are ignored.
                Ok(data.len())
            }
            Body::Chunked(chunk) => self.feed_chunked(chunk, data),
        }
    }

    fn feed_chunked(&mut self, chunk: Chunk, data: &[u8]) -> Result<usize, ParseError> {
        match chunk {
            Chunk::Size {
                mut value,
                mut digits,
                mut ext,
            } => {
                for (i, &b) in data.iter().enumerate() {
                    self.line_len += 1;
                    if self.line_len > MAX_LINE {
                        return Err(ParseError::BadChunk);
                    }
                    match b {
                        b'\n' => {
                            if digits == 0 {
                                return Err(ParseError::BadChunk);
                            }
                            self.line_len = 0;
                            self.state = Body::Chunked(if value == 0 {
                                Chunk::Trailer { len: 0 }
                            } else {
                                Chunk::Data(value)
                            });
                            return Ok(i + 1);
                        }
                        _ if ext => {}
                        b';' | b' ' | b'\t' | b'\r' => ext = true,
                        _ => {
                            let d = (b as char).to_digit(16).ok_or(ParseError::BadChunk)?;
                            value = value
                                .checked_mul(16)
                                .and_then(|v| v.checked_add(u64::from(d)))
                                .ok_or(ParseError::BadChunk)?;
                            digits += 1;
                        }
                    }
                }
                self.state = Body::Chunked(Chunk::Size { value, digits, ext });
                Ok(data.len())
            }
            Chunk::Data(left) => {
                let n = (left.min(data.len() as u64)) as usize;
                self.take_body(&data[..n]);
                self.state = Body::Chunked(if left == n as u64 {
                    Chunk::DataEnd
                } else {
                    Chunk::Data(left - n as u64)
                });
                Ok(n)
            }
            Chunk::DataEnd => match data[0] {
                b'\r' => Ok(1),
                b'\n' => {
                    self.state = Body::Chunked(Chunk::Size {
                        value: 0,
                        digits: 0,
                        ext: false,
                    });
                    Ok(1)
                }
                _ => Err(ParseError::BadChunk),
            },
            Chunk::Trailer { mut len } => {
                for (i, &b) in data.iter().enumerate() {
                    match b {
                        b'\n' if len == 0 => {
                            self.state = Body::Done;
                            return Ok(i + 1);
                        }
                        b'\n' => len = 0,
                        b'\r' => {}
                        _ => {
                            len += 1;
                            if len > MAX_LINE {
                                return Err(ParseError::BadChunk);
                            }
                        }
                    }
                }
                self.state = Body::Chunked(Chunk::Trailer { len });
                Ok(data.len())
            }
        }
    }
}

/// The end of the headers (just past the blank line), searching from `from`.
fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i < buf.len() {
        if buf[i] == b'\n' {
            if buf.get(i + 1) == Some(&b'\n') {
                return Some(i + 2);
            }
            if buf.get(i + 1) == Some(&b'\r') && buf.get(i + 2) == Some(&b'\n') {
                return Some(i + 3);
            }
        }
        i += 1;
    }
    None
}

/// `HTTP/1.1 200 OK` -> 200.
fn parse_status_line(line: &[u8]) -> Option<u16> {
    let rest = line.strip_prefix(b"HTTP/")?;
    let sp = rest.iter().position(|&b| b == b' ')?;
    let code = trim(&rest[sp + 1..]);
    let digits = code.get(..3)?;
    if code.get(3).is_some_and(|&b| b != b' ') {
        return None;
    }
    let s = std::str::from_utf8(digits).ok()?;
    s.parse().ok().filter(|c| (100..=999).contains(c))
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end.max(start)]
}

/// Lowercase hex, as genhash prints a digest.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Decode a 32-digit hex digest (either case).
pub fn parse_digest(s: &str) -> Option<[u8; 16]> {
    let s = s.trim();
    if s.len() != 32 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md5_hex(b: &[u8]) -> String {
        hex(&Md5::digest(b))
    }

    /// Feed `raw` in pieces of `step` bytes; returns the reader and whether it completed
    /// before EOF.
    fn read(raw: &[u8], step: usize, keep: bool) -> (ResponseReader, bool) {
        let mut r = ResponseReader::new(true, keep.then_some(1 << 20));
        let mut done = false;
        for piece in raw.chunks(step.max(1)) {
            if r.feed(piece).unwrap() == Progress::Done {
                done = true;
                break;
            }
        }
        if !done {
            r.eof().unwrap();
        }
        (r, done)
    }

    #[test]
    fn md5_of_known_strings() {
        // RFC 1321's test suite.
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            parse_digest("900150983CD24FB0D6963F7D28E17F72").map(|d| hex(&d)),
            Some("900150983cd24fb0d6963f7d28e17f72".into())
        );
        assert_eq!(parse_digest("abc"), None);
        assert_eq!(parse_digest("zz0150983cd24fb0d6963f7d28e17f72"), None);
    }

    #[test]
    fn content_length_body_in_any_split() {
        let raw = b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\nServer: x\r\n\r\nhelloIGNORED";
        for step in 1..raw.len() {
            let (r, done) = read(raw, step, true);
            assert!(done, "step {step}");
            assert_eq!(r.status(), 200);
            assert_eq!(r.body(), b"hello");
            assert_eq!(r.digest().map(|d| hex(&d)), Some(md5_hex(b"hello")));
        }
    }

    #[test]
    fn body_until_eof() {
        let raw = b"HTTP/1.0 503 Service Unavailable\nX: y\n\nsorry, down";
        for step in 1..raw.len() {
            let (r, done) = read(raw, step, true);
            assert!(!done);
            assert_eq!((r.status(), r.body()), (503, &b"sorry, down"[..]));
        }
    }

    #[test]
    fn chunked_body_in_any_split() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n\
                    5;name=value\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\nJUNK";
        for step in 1..raw.len() {
            let (r, done) = read(raw, step, true);
            assert!(done, "step {step}");
            assert!(r.is_chunked());
            assert_eq!(r.body(), b"hello 0123456789", "step {step}");
            assert_eq!(r.body_len(), 16);
            assert_eq!(
                r.digest().map(|d| hex(&d)),
                Some(md5_hex(b"hello 0123456789"))
            );
        }
    }

    #[test]
    fn bad_chunks_are_refused() {
        for raw in [
            &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n"[..],
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\n",
        ] {
            let mut r = ResponseReader::new(false, None);
            assert_eq!(r.feed(raw), Err(ParseError::BadChunk), "{raw:?}");
        }
    }

    #[test]
    fn no_body_statuses_and_zero_length() {
        for raw in [
            &b"HTTP/1.1 204 No Content\r\n\r\n"[..],
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        ] {
            let mut r = ResponseReader::new(true, None);
            assert_eq!(r.feed(raw), Ok(Progress::Done));
            assert_eq!(r.body_len(), 0);
        }
    }

    #[test]
    fn bad_heads() {
        let mut r = ResponseReader::new(false, None);
        assert_eq!(r.eof(), Err(ParseError::Empty));
        let mut r = ResponseReader::new(false, None);
        r.feed(b"HTTP/1.1 200 OK\r\nX").unwrap();
        assert_eq!(r.eof(), Err(ParseError::TruncatedHead));
        for raw in [
            &b"SSH-2.0-OpenSSH\r\n\r\n"[..],
            b"HTTP/1.1 20 OK\r\n\r\n",
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"HTTP/1.1\r\n\r\n",
        ] {
            let mut r = ResponseReader::new(false, None);
            assert_eq!(r.feed(raw), Err(ParseError::NotHttp), "{raw:?}");
        }
        let mut r = ResponseReader::new(false, None);
        let big = vec![b'x'; MAX_HEAD + 10];
        assert_eq!(r.feed(&big), Err(ParseError::HeadTooLong));
        assert_eq!(parse_status_line(b"HTTP/1.0 404"), Some(404));
    }

    #[test]
    fn kept_body_is_capped_but_digest_is_whole() {
        let mut r = ResponseReader::new(true, Some(4));
        r.feed(b"HTTP/1.0 200 OK\r\n\r\n0123456789").unwrap();
        r.eof().unwrap();
        assert_eq!(r.body(), b"0123");
        assert_eq!(r.digest().map(|d| hex(&d)), Some(md5_hex(b"0123456789")));
    }

    #[test]
    fn short_body_is_accepted_like_keepalived() {
        let mut r = ResponseReader::new(true, None);
        r.feed(b"HTTP/1.0 200 OK\r\nContent-Length: 100\r\n\r\nabc")
            .unwrap();
        assert_eq!(r.eof(), Ok(()));
        assert_eq!(r.body_len(), 3);
    }
}
