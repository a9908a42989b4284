//! BIRD's control socket (what `birdc` speaks): a greeting, then one command per line, each
//! answered by lines `CODE-text` (more follow), ` text` (the previous code goes on) and a last
//! `CODE text`. Codes 0xxx end a command well, 1xxx are table rows, 2xxx table headers, 8xxx
//! and 9xxx errors. Hand-written: there is no crate for it and it is this small.

use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

/// How long one exchange with BIRD may take.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(5);

/// One line of a reply: its code and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub code: u16,
    pub text: String,
}

/// A whole reply: every line, the last one's code saying how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub lines: Vec<Line>,
}

impl Reply {
    pub fn code(&self) -> u16 {
        self.lines.last().map_or(0, |l| l.code)
    }

    pub fn is_error(&self) -> bool {
        self.code() >= 8000
    }

    /// The reply's text, one line per line, for the log.
    pub fn text(&self) -> String {
        let texts: Vec<&str> = self.lines.iter().map(|l| l.text.as_str()).collect();
        texts.join("; ")
    }
}

/// Reads reply lines as they come; `Some(reply)` once the last one is in.
#[derive(Debug, Default)]
pub struct ReplyParser {
    lines: Vec<Line>,
}

impl ReplyParser {
    pub fn push(&mut self, raw: &str) -> Result<Option<Reply>, String> {
        let raw = raw.trim_end_matches(['\r', '\n']);
        if raw.starts_with('+') {
            return Ok(None); // a message BIRD sends on its own (`+` lines), not this reply
        }
        if let Some(rest) = raw.strip_prefix(' ') {
            let code = self
                .lines
                .last()
                .map(|l| l.code)
                .ok_or_else(|| format!("a continuation line first: {raw:?}"))?;
            self.lines.push(Line {
                code,
                text: rest.to_string(),
            });
            return Ok(None);
        }
        let (digits, sep, text) = (raw.get(..4), raw.get(4..5), raw.get(5..).unwrap_or(""));
        let code = digits
            .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|d| d.parse::<u16>().ok())
            .ok_or_else(|| format!("not a reply line: {raw:?}"))?;
        self.lines.push(Line {
            code,
            text: text.to_string(),
        });
        match sep {
            Some("-") => Ok(None),
            Some(" ") | None => Ok(Some(Reply {
                lines: std::mem::take(&mut self.lines),
            })),
            Some(other) => Err(format!("unexpected separator {other:?} in {raw:?}")),
        }
    }
}

/// A connection to BIRD's control socket.
pub struct Bird {
    reader: BufReader<UnixStream>,
}

impl Bird {
    /// Connect and read the greeting (`0001 BIRD 2.0.12 ready.`).
    pub async fn connect(socket: &Path) -> Result<Bird, String> {
        let stream = tokio::time::timeout(EXCHANGE_TIMEOUT, UnixStream::connect(socket))
            .await
            .map_err(|_| format!("{}: no answer in 5 s", socket.display()))?
            .map_err(|e| format!("{}: {e}", socket.display()))?;
        let mut bird = Bird {
            reader: BufReader::new(stream),
        };
        let hello = tokio::time::timeout(EXCHANGE_TIMEOUT, bird.read_reply())
            .await
            .map_err(|_| format!("{}: no greeting in 5 s", socket.display()))??;
        if hello.code() != 1 {
            return Err(format!(
                "{} did not greet as BIRD does: {}",
                socket.display(),
                hello.text()
            ));
        }
        Ok(bird)
    }

    /// Send one command and read its whole reply.
    pub async fn command(&mut self, command: &str) -> Result<Reply, String> {
        // One deadline for the whole exchange: a BIRD that dribbles lines holds nobody long.
        let exchange = async {
            let line = format!("{command}\n");
            self.reader
                .get_mut()
                .write_all(line.as_bytes())
                .await
                .map_err(|e| format!("`{command}`: {e}"))?;
            self.read_reply().await
        };
        tokio::time::timeout(EXCHANGE_TIMEOUT, exchange)
            .await
            .map_err(|_| format!("`{command}`: BIRD took over 5 s to answer"))?
    }

    async fn read_reply(&mut self) -> Result<Reply, String> {
        let mut parser = ReplyParser::default();
        let mut raw = String::new();
        loop {
            raw.clear();
            let n = self
                .reader
                .read_line(&mut raw)
                .await
                .map_err(|e| format!("reading BIRD's answer: {e}"))?;
            if n == 0 {
                return Err("BIRD closed its control socket".into());
            }
            if let Some(reply) = parser.push(&raw)? {
                return Ok(reply);
            }
        }
    }
}

/// One row of `show protocols`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protocol {
    pub name: String,
    pub proto: String,
    /// up, down, start, stop, flush
    pub state: String,
    pub since: String,
    /// For BGP the session's state (Established, Active, Connect, ...) and the last error.
    pub info: String,
}

/// The rows of a `show protocols` reply (code 1002 each; the 2002 header names the columns).
pub fn protocols(reply: &Reply) -> Vec<Protocol> {
    reply
        .lines
        .iter()
        .filter(|l| l.code == 1002)
        .filter_map(|l| {
            let mut words = l.text.split_whitespace();
            let name = words.next()?.to_string();
            let proto = words.next()?.to_string();
            let _table = words.next()?;
            let state = words.next()?.to_string();
            // `since` is one or two words (a time, or a date and a time).
            let rest: Vec<&str> = words.collect();
            let date_like = |w: &&&str| w.contains(':') || w.contains('-') || w.contains('.');
            let since_words = rest.iter().take(2).take_while(date_like).count();
            Some(Protocol {
                name,
                proto,
                state,
                since: rest[..since_words].join(" "),
                info: rest[since_words..].join(" "),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
