//! Diagnostics for configuration files: where, what, and what to write instead.
//!
//! Every problem found in a file becomes a [`Diag`] with a resolved `file:line:column`; the
//! renderer prints a stable one-line summary (what scripts and tests match on) followed by a
//! miette snippet of the source (what people read).

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{GraphicalReportHandler, GraphicalTheme, NamedSource, SourceSpan};

/// How bad a problem is: errors refuse the file, warnings are shown and loading goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// A place in a source file, 1-based like editors show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// A source file's text, shared by the diagnostics that point into it.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: Arc<str>,
}

impl SourceFile {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<Arc<str>>) -> Self {
        Self {
            path: path.into(),
            text: text.into(),
        }
    }

    /// The 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..floor_char_boundary(&self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }

    /// The byte offset of a 1-based line and column.
    pub fn offset_of(&self, line: usize, column: usize) -> usize {
        let mut offset = 0;
        for (i, l) in self.text.split_inclusive('\n').enumerate() {
            if i + 1 == line {
                let col_bytes: usize = l
                    .chars()
                    .take(column.saturating_sub(1))
                    .map(char::len_utf8)
                    .sum();
                return offset + col_bytes;
            }
            offset += l.len();
        }
        self.text.len()
    }

    pub fn location(&self, offset: usize) -> Location {
        let (line, column) = self.line_col(offset);
        Location {
            file: self.path.clone(),
            line,
            column,
        }
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// One problem in a configuration file.
#[derive(Debug, Clone)]
pub struct Diag {
    pub severity: Severity,
    pub message: String,
    /// What to write instead, when there is something useful to say.
    pub help: Option<String>,
    pub location: Option<Location>,
    /// The source and byte span, for the snippet.
    pub snippet: Option<(SourceFile, Range<usize>)>,
}

impl Diag {
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            message: message.into(),
            help: None,
            location: None,
            snippet: None,
        }
    }

    pub fn warning(message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(message)
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Point at a byte span of a source file.
    pub fn at(mut self, source: &SourceFile, span: Range<usize>) -> Self {
        self.location = Some(source.location(span.start));
        self.snippet = Some((source.clone(), span));
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The stable one-line form: `file:line:col: error: message`.
    pub fn summary(&self) -> String {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        match &self.location {
            Some(loc) => format!("{loc}: {sev}: {}", self.message),
            None => format!("{sev}: {}", self.message),
        }
    }

    /// The summary, the help, and a snippet of the source around the place.
    pub fn render(&self) -> String {
        let mut out = self.summary();
        out.push('\n');
        if let Some((source, span)) = &self.snippet {
            let report = Snippet {
                message: self.message.clone(),
                help: self.help.clone(),
                code: NamedSource::new(source.path.display().to_string(), source.text.to_string()),
                span: (span.start, span.len().max(1)).into(),
            };
            let mut text = String::new();
            let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
                .with_context_lines(1);
            if handler.render_report(&mut text, &report).is_ok() {
                out.push_str(&text);
                return out;
            }
        }
        if let Some(help) = &self.help {
            out.push_str(&format!("  help: {help}\n"));
        }
        out
    }
}

impl fmt::Display for Diag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary())?;
        if let Some(help) = &self.help {
            write!(f, " (help: {help})")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{message}")]
struct Snippet {
    message: String,
    #[help]
    help: Option<String>,
    #[source_code]
    code: NamedSource<String>,
    #[label("here")]
    span: SourceSpan,
}

/// All the problems of one load; errors first in the order found, then warnings.
#[derive(Debug, Clone, Default)]
pub struct Diags(pub Vec<Diag>);

impl Diags {
    pub fn errors(&self) -> impl Iterator<Item = &Diag> {
        self.0.iter().filter(|d| d.is_error())
    }
    pub fn warnings(&self) -> impl Iterator<Item = &Diag> {
        self.0.iter().filter(|d| !d.is_error())
    }
    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }
    pub fn push(&mut self, d: Diag) {
        self.0.push(d);
    }
    /// The same diagnostics with every warning made an error (`check --strict`).
    pub fn into_errors(mut self) -> Diags {
        for d in &mut self.0 {
            d.severity = Severity::Error;
        }
        self
    }

    /// Every diagnostic rendered, errors first, each kind in file order.
    pub fn render(&self) -> String {
        self.sorted().iter().map(|d| d.render()).collect()
    }

    /// Errors then warnings, each in order of file, line and column.
    pub fn sorted(&self) -> Vec<&Diag> {
        let mut all: Vec<&Diag> = self.0.iter().collect();
        all.sort_by_key(|d| {
            let loc = d
                .location
                .as_ref()
                .map(|l| (l.file.clone(), l.line, l.column));
            (!d.is_error(), loc)
        });
        all
    }
}

impl fmt::Display for Diags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in self.sorted() {
            writeln!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diags {}

/// The closest of `candidates` to `word`, if it is close enough to be a likely typo.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        // A third of the candidate's length, at least one: `OS:` is no typo of `SSL`.
        .filter(|(d, c)| *d <= (c.len() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Display a path relative to the current directory when it is below it.
pub fn display_path(p: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| p.strip_prefix(cwd).ok().map(|r| r.display().to_string()))
        .unwrap_or_else(|| p.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_in_characters() {
        let src = SourceFile::new("f", "ab\nçd=1\n");
        assert_eq!(src.line_col(0), (1, 1));
        assert_eq!(src.line_col(3), (2, 1));
        assert_eq!(src.line_col(6), (2, 3));
        assert_eq!(src.offset_of(2, 3), 6);
    }

    #[test]
    fn suggestions_catch_typos_only() {
        let keys = ["priority", "interface", "virtual_router_id"];
        assert_eq!(suggest("priorty", keys), Some("priority"));
        assert_eq!(suggest("colour", keys), None);
        assert_eq!(suggest("OS:", ["SSL"]), None);
        assert_eq!(suggest("weigth", ["weight"]), Some("weight"));
    }
}
