//! keepalived.conf syntax: lines of `keyword args...`, `{ }` blocks (on one line or many),
//! `!` / `#` comments, quoted strings, `include` with globs, `$NAME=value` parameters and
//! `@ID` / `@^ID` conditional lines. The result is a tree of [`Node`]s that remembers where
//! every word came from.
//!
//! Files are bytes, as keepalived reads them: words split on ASCII white space only, so a
//! no-break space (U+00A0) or a Latin-1 byte stays inside its word, where keepalived leaves it.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::config::diag::{Diag, Diags, SourceFile};

/// One word of the file, after comments, quotes and parameters are dealt with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    /// Index into [`Parsed::files`].
    pub file: usize,
    pub span: Range<usize>,
}

/// A statement: a keyword, its arguments, and its block if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub keyword: Word,
    pub args: Vec<Word>,
    pub block: Option<Vec<Node>>,
}

/// The parsed tree with the files it came from (the main file first, then includes).
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub files: Vec<SourceFile>,
    pub nodes: Vec<Node>,
}

/// Reads files for the parser; a trait so that tests and fuzzing need no filesystem.
pub trait FileSource {
    /// The file's bytes; keepalived does not require UTF-8, so neither does this parser.
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>>;
    /// The files a glob pattern names, sorted.
    fn glob(&self, pattern: &Path) -> Vec<PathBuf>;
}

/// The real filesystem.
pub struct Fs;

impl FileSource for Fs {
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn glob(&self, pattern: &Path) -> Vec<PathBuf> {
        glob_paths(pattern)
    }
}

/// Expand `*`, `?` and `[...]` in each component of a path, as glob(3) does for include.
pub fn glob_paths(pattern: &Path) -> Vec<PathBuf> {
    let mut current = vec![PathBuf::new()];
    for comp in pattern.components() {
        let part = comp.as_os_str().to_string_lossy();
        let is_pattern = part.contains(['*', '?', '[']);
        let mut next = Vec::new();
        for base in &current {
            if !is_pattern {
                next.push(base.join(comp.as_os_str()));
                continue;
            }
            let dir = if base.as_os_str().is_empty() {
                Path::new(".")
            } else {
                base.as_path()
            };
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut found: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .filter(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    !name.starts_with('.') && wildcard_match(&part, &name)
                })
                .map(|e| base.join(e.file_name()))
                .collect();
            found.sort();
            next.extend(found);
        }
        current = next;
    }
    current.into_iter().filter(|p| p.exists()).collect()
}

/// Shell-style matching of one name against `*`, `?` and `[abc]` / `[a-z]` / `[!a]`.
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).any(|i| go(&p[1..], &n[i..])),
            Some('?') => !n.is_empty() && go(&p[1..], &n[1..]),
            Some('[') => {
                let Some(close) = p.iter().skip(2).position(|&c| c == ']').map(|i| i + 2) else {
                    return n.first() == Some(&'[') && go(&p[1..], &n[1..]);
                };
                let Some(&c) = n.first() else { return false };
                let (negate, set) = match p[1] {
                    '!' | '^' => (true, &p[2..close]),
                    _ => (false, &p[1..close]),
                };
                let mut hit = false;
                let mut i = 0;
                while i < set.len() {
                    if i + 2 < set.len() && set[i + 1] == '-' {
                        hit |= set[i] <= c && c <= set[i + 2];
                        i += 3;
                    } else {
                        hit |= set[i] == c;
                        i += 1;
                    }
                }
                hit != negate && go(&p[close + 1..], &n[1..])
            }
            Some(&c) => n.first() == Some(&c) && go(&p[1..], &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

/// A lexed line: its words in order; braces are words of their own.
struct Line {
    words: Vec<Word>,
}

const MAX_INCLUDE_DEPTH: usize = 8;

/// keepalived's white space (`" \t\f\n\r\v"`): not Unicode's, which would also split at U+00A0.
pub fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\x0c' | '\n' | '\r' | '\x0b')
}

/// Bytes as text: invalid UTF-8 (a Latin-1 0xA0) becomes U+FFFD, which is not white space
/// either, so words split where keepalived splits them.
pub fn text_of(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Whether a line with this first word is kept for `config_id`: `@ID rest` only on the host
/// whose config id is ID, `@^ID rest` on every other host (keepalived's `-i`). `None` when the
/// word is not a condition.
fn condition_holds(word: &str, config_id: &str) -> Option<bool> {
    let cond = word.strip_prefix('@')?;
    Some(match cond.strip_prefix('^') {
        Some(id) => id != config_id,
        None => cond == config_id,
    })
}

struct Lexer<'a> {
    fs: &'a dyn FileSource,
    config_id: &'a str,
    files: Vec<SourceFile>,
    params: BTreeMap<String, String>,
    lines: Vec<Line>,
    diags: Diags,
}

impl Lexer<'_> {
    fn lex_file(&mut self, path: &Path, text: String, depth: usize) {
        let file = self.files.len();
        self.files.push(SourceFile::new(path, text));
        let source = self.files[file].clone();
        let mut offset = 0;
        for raw_line in source.text.split_inclusive('\n') {
            let line_start = offset;
            offset += raw_line.len();
            let line = raw_line.trim_end_matches(['\n', '\r']);
            let mut words = self.split_words(&source, file, line, line_start);
            if let Some(keep) = words
                .first()
                .and_then(|w| condition_holds(&w.text, self.config_id))
            {
                // Dropped in silence, as keepalived does; so is a condition with nothing after it.
                if !keep {
                    continue;
                }
                words.remove(0);
            }
            let Some(first) = words.first() else { continue };
            if let Some(def) = first.text.strip_prefix('$')
                && let Some((name, _)) = def.split_once('=')
            {
                // `$NAME=value`: the rest of the line, as written, is the value.
                let value_start = first.span.start + 1 + name.len() + 1;
                let rest = &source.text[value_start..line_start + line.len()];
                self.params
                    .insert(name.to_string(), rest.trim_matches(is_space).to_string());
                continue;
            }
            if first.text == "include" {
                self.include(&source, &words, depth);
                continue;
            }
            self.lines.push(Line { words });
        }
    }

    fn include(&mut self, source: &SourceFile, words: &[Word], depth: usize) {
        let Some(pattern) = words.get(1) else {
            self.diags.push(
                Diag::error("include needs a file or pattern").at(source, words[0].span.clone()),
            );
            return;
        };
        if depth >= MAX_INCLUDE_DEPTH {
            self.diags.push(
                Diag::error(format!(
                    "includes nest deeper than {MAX_INCLUDE_DEPTH} levels"
                ))
                .with_help("an included file probably includes itself")
                .at(source, pattern.span.clone()),
            );
            return;
        }
        let mut path = PathBuf::from(&pattern.text);
        if path.is_relative()
            && let Some(dir) = source.path.parent()
        {
            path = dir.join(path);
        }
        let matches = self.fs.glob(&path);
        if matches.is_empty() && !pattern.text.contains(['*', '?', '[']) {
            self.diags.push(
                Diag::error(format!("included file {} not found", path.display()))
                    .at(source, pattern.span.clone()),
            );
        }
        for file in matches {
            match self.fs.read(&file) {
                Ok(bytes) => self.lex_file(&file, text_of(bytes), depth + 1),
                Err(e) => self.diags.push(
                    Diag::error(format!("cannot read included file {}: {e}", file.display()))
                        .at(source, pattern.span.clone()),
                ),
            }
        }
    }

    /// Split one line into words: quotes group, `!`/`#` at a word start end the line,
    /// braces stand alone, `$NAME` / `${NAME}` expand.
    fn split_words(
        &mut self,
        source: &SourceFile,
        file: usize,
        line: &str,
        base: usize,
    ) -> Vec<Word> {
        let mut words = Vec::new();
        let chars: Vec<(usize, char)> = line.char_indices().collect();
        let mut i = 0;
        while i < chars.len() {
            let (pos, c) = chars[i];
            if is_space(c) {
                i += 1;
                continue;
            }
            if c == '!' || c == '#' {
                break;
            }
            if c == '{' || c == '}' {
                words.push(Word {
                    text: c.to_string(),
                    file,
                    span: base + pos..base + pos + 1,
                });
                i += 1;
                continue;
            }
            if c == '"' {
                let start = pos;
                let mut text = String::new();
                i += 1;
                let mut closed = false;
                while i < chars.len() {
                    let (_, ch) = chars[i];
                    i += 1;
                    if ch == '"' {
                        closed = true;
                        break;
                    }
                    text.push(ch);
                }
                let end = chars.get(i).map_or(line.len(), |(p, _)| *p);
                if !closed {
                    self.diags.push(
                        Diag::error("unterminated quoted string")
                            .with_help("close it with \" on the same line")
                            .at(source, base + start..base + line.len()),
                    );
                }
                words.push(Word {
                    text: self.expand(&text),
                    file,
                    span: base + start..base + end,
                });
                continue;
            }
            let start = pos;
            let mut in_param = false;
            while i < chars.len() && !is_space(chars[i].1) {
                let ch = chars[i].1;
                // `${NAME}` is one word; any other brace stands alone.
                if ch == '{' && i > 0 && chars[i - 1].1 == '$' {
                    in_param = true;
                } else if ch == '}' && in_param {
                    in_param = false;
                } else if matches!(ch, '{' | '}') {
                    break;
                }
                i += 1;
            }
            let end = chars.get(i).map_or(line.len(), |(p, _)| *p);
            let raw = &line[start..end];
            let text = if raw.starts_with('$') && raw.contains('=') {
                raw.to_string()
            } else {
                self.expand(raw)
            };
            words.push(Word {
                text,
                file,
                span: base + start..base + end,
            });
        }
        words
    }

    /// Substitute `$NAME` and `${NAME}` with defined parameters; unknown names stay as written.
    fn expand(&self, text: &str) -> String {
        if !text.contains('$') || self.params.is_empty() {
            return text.to_string();
        }
        let mut out = String::new();
        let mut rest = text;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let (name, consumed) = if let Some(body) = after.strip_prefix('{') {
                match body.find('}') {
                    Some(end) => (&body[..end], end + 2),
                    None => ("", 0),
                }
            } else {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], end)
            };
            match self.params.get(name) {
                Some(v) if !name.is_empty() => {
                    out.push_str(v);
                    rest = &after[consumed..];
                }
                _ => {
                    out.push('$');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }
}

/// Parse a keepalived.conf and the files it includes; `config_id` decides `@ID` lines.
pub fn parse(path: &Path, text: String, fs: &dyn FileSource, config_id: &str) -> (Parsed, Diags) {
    let mut lexer = Lexer {
        fs,
        config_id,
        files: Vec::new(),
        params: BTreeMap::new(),
        lines: Vec::new(),
        diags: Diags::default(),
    };
    lexer.lex_file(path, text, 0);
    let Lexer {
        files,
        lines,
        mut diags,
        ..
    } = lexer;
    let mut tokens: Vec<Option<Word>> = Vec::new();
    for line in lines {
        tokens.extend(line.words.into_iter().map(Some));
        tokens.push(None); // end of line
    }
    let mut parser = Parser {
        tokens,
        pos: 0,
        files: &files,
        diags: &mut diags,
    };
    let nodes = parser.block(None);
    (Parsed { files, nodes }, diags)
}

struct Parser<'a> {
    tokens: Vec<Option<Word>>,
    pos: usize,
    files: &'a [SourceFile],
    diags: &'a mut Diags,
}

impl Parser<'_> {
    fn error_at(&mut self, w: &Word, message: impl Into<String>, help: &str) {
        let d = Diag::error(message)
            .with_help(help)
            .at(&self.files[w.file], w.span.clone());
        self.diags.push(d);
    }

    /// Statements until the `}` closing `opener`, or the end of input at the top level.
    fn block(&mut self, opener: Option<&Word>) -> Vec<Node> {
        let mut nodes: Vec<Node> = Vec::new();
        loop {
            let Some(tok) = self.tokens.get(self.pos).cloned() else {
                if let Some(open) = opener {
                    self.error_at(open, "this `{` is never closed", "add the matching `}`");
                }
                return nodes;
            };
            self.pos += 1;
            let Some(word) = tok else { continue };
            match word.text.as_str() {
                "}" => {
                    if opener.is_some() {
                        return nodes;
                    }
                    self.error_at(&word, "`}` without a matching `{`", "remove it");
                }
                "{" => match nodes.last_mut() {
                    // A block opened on the line after its keyword.
                    Some(last) if last.block.is_none() => {
                        last.block = Some(self.block(Some(&word)));
                    }
                    _ => {
                        let inner = self.block(Some(&word));
                        self.error_at(&word, "a block needs a keyword before `{`", "");
                        drop(inner);
                    }
                },
                _ => {
                    let mut node = Node {
                        keyword: word,
                        args: Vec::new(),
                        block: None,
                    };
                    while let Some(Some(next)) = self.tokens.get(self.pos).cloned() {
                        match next.text.as_str() {
                            "{" => {
                                self.pos += 1;
                                node.block = Some(self.block(Some(&next)));
                                break;
                            }
                            "}" => break,
                            _ => {
                                self.pos += 1;
                                node.args.push(next);
                            }
                        }
                    }
                    nodes.push(node);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Mem(Vec<(&'static str, &'static str)>);
    impl FileSource for Mem {
        fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
            self.0
                .iter()
                .find(|(p, _)| Path::new(p) == path)
                .map(|(_, t)| t.as_bytes().to_vec())
                .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
        }
        fn glob(&self, pattern: &Path) -> Vec<PathBuf> {
            let pat = pattern.to_string_lossy();
            self.0
                .iter()
                .filter(|(p, _)| wildcard_match(&pat, p))
                .map(|(p, _)| PathBuf::from(p))
                .collect()
        }
    }

    fn parse_str(text: &str) -> (Parsed, Diags) {
        parse_as(text, "lb1")
    }

    fn parse_as(text: &str, config_id: &str) -> (Parsed, Diags) {
        parse(
            Path::new("/etc/k.conf"),
            text.to_string(),
            &Mem(vec![]),
            config_id,
        )
    }

    fn keywords(p: &Parsed) -> Vec<&str> {
        p.nodes.iter().map(|n| n.keyword.text.as_str()).collect()
    }

    #[test]
    fn blocks_on_one_line_and_many() {
        let (p, d) = parse_str("a { b 1 } \nc 2 3\n{\n d\n}\n");
        assert!(!d.has_errors(), "{d}");
        assert_eq!(p.nodes.len(), 2);
        assert_eq!(p.nodes[0].block.as_ref().unwrap()[0].args[0].text, "1");
        assert_eq!(p.nodes[1].args.len(), 2);
        assert_eq!(p.nodes[1].block.as_ref().unwrap()[0].keyword.text, "d");
    }

    #[test]
    fn comments_quotes_and_params() {
        let (p, d) = parse_str("$X=eth0\n! c\nx \"a b\" $X # tail\ny ${X}:0 a!b\n");
        assert!(!d.has_errors(), "{d}");
        let args: Vec<&str> = p.nodes[0].args.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(args, ["a b", "eth0"]);
        assert_eq!(p.nodes[1].args[0].text, "eth0:0");
        assert_eq!(p.nodes[1].args[1].text, "a!b");
    }

    #[test]
    fn includes_with_globs_keep_their_own_file() {
        let fs = Mem(vec![
            ("/etc/k.d/a.conf", "x 1\n"),
            ("/etc/k.d/b.conf", "y 2\n"),
        ]);
        let (p, d) = parse(
            Path::new("/etc/k.conf"),
            "include k.d/*.conf\nz\n".into(),
            &fs,
            "lb1",
        );
        assert!(!d.has_errors(), "{d}");
        let kws: Vec<&str> = p.nodes.iter().map(|n| n.keyword.text.as_str()).collect();
        assert_eq!(kws, ["x", "y", "z"]);
        assert_eq!(
            p.files[p.nodes[1].keyword.file].path,
            Path::new("/etc/k.d/b.conf")
        );
    }

    #[test]
    fn unbalanced_braces_are_errors_with_places() {
        let (_, d) = parse_str("a {\n b\n");
        assert!(d.to_string().contains("/etc/k.conf:1:3"), "{d}");
        let (_, d) = parse_str("}\n");
        assert!(d.to_string().contains("without a matching"), "{d}");
    }

    #[test]
    fn conditional_lines_follow_the_config_id() {
        let text = "@lb1 a 1\n@lb2 b 2\n  @^lb1 c 3\n@^lb2 d 4\n@lb1\n@lb1 $X=5\ne $X\n";
        let (p, d) = parse_as(text, "lb1");
        assert!(d.0.is_empty(), "{d}");
        assert_eq!(keywords(&p), ["a", "d", "e"]);
        assert_eq!(p.nodes[2].args[0].text, "5");
        // The id is compared whole and case-sensitively.
        let (p, _) = parse_as(text, "LB1");
        assert_eq!(keywords(&p), ["c", "d", "e"]);
        assert_eq!(p.nodes[2].args[0].text, "$X");
    }

    #[test]
    fn only_ascii_white_space_separates_words() {
        let (p, d) = parse_as("x\u{a0}1 2\n\u{a0} y 3\nz\x0b4\n", "lb1");
        assert!(!d.has_errors(), "{d}");
        assert_eq!(keywords(&p), ["x\u{a0}1", "\u{a0}", "z"]);
        assert_eq!(p.nodes[1].args[0].text, "y");
        assert_eq!(p.nodes[2].args[0].text, "4");
    }

    #[test]
    fn bytes_that_are_not_utf8_stay_in_their_word() {
        let text = text_of(b"a\xa0b 1\n".to_vec());
        let (p, d) = parse_as(&text, "lb1");
        assert!(!d.has_errors(), "{d}");
        assert_eq!(keywords(&p), ["a\u{fffd}b"]);
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*.conf", "a.conf"));
        assert!(!wildcard_match("*.conf", "a.conf~"));
        assert!(wildcard_match("vi_[0-9]?", "vi_1x"));
        assert!(!wildcard_match("[!a]*", "abc"));
    }
}
