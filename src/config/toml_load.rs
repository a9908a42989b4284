//! The native TOML format: the model's serde form, loaded with spans so that every problem,
//! of syntax, structure or meaning, is reported at its file:line:column — all of them in one run.

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::diag::{Diag, Diags, SourceFile, suggest};
use super::model::Config;
use super::validate::{ConfPath, Dialect, ScriptProbe, Seg, validate};

/// At most this many structural errors are collected before giving up on a file.
const MAX_STRUCTURAL_ERRORS: usize = 64;

/// Parse and check a TOML configuration. `None` when any error was found.
pub fn load(source: &SourceFile, probe: &dyn ScriptProbe) -> (Option<Config>, Diags) {
    let mut diags = Diags::default();
    let (root, syntax_errors) = DeTable::parse_recoverable(&source.text);
    if !syntax_errors.is_empty() {
        for e in syntax_errors {
            let span = e.span().unwrap_or(0..0);
            diags
                .push(Diag::error(format!("TOML syntax: {}", e.message().trim())).at(source, span));
        }
        return (None, diags);
    }

    // Deserialize; on a structural error, report it, drop the offending key and try again, so one
    // run lists every bad key instead of the first.
    let mut working = root.clone();
    let mut removed: Vec<ConfPath> = Vec::new();
    let config = loop {
        let value = Spanned::new(working.span(), DeValue::Table(working.get_ref().clone()));
        match Config::deserialize(ValueDeserializer::from(value)) {
            Ok(cfg) => break Some(cfg),
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                let path = remove_containing(working.get_mut(), &span);
                // A key missing from an item that already had an error was most likely dropped
                // by the recovery above: reporting it would only echo the first error.
                let echo = e.message().starts_with("missing field")
                    && match &path {
                        Some(p) => removed.iter().any(|r| same_item(r, p)),
                        None => !removed.is_empty(),
                    };
                if !echo {
                    diags.push(structural_diag(e.message(), path.as_ref(), source, span));
                }
                match path {
                    Some(path) if diags.0.len() < MAX_STRUCTURAL_ERRORS => removed.push(path),
                    _ => break None,
                }
            }
        }
    };
    let Some(config) = config else {
        return (None, diags);
    };
    let error_lines: Vec<usize> = diags
        .errors()
        .filter_map(|d| d.location.as_ref().map(|l| l.line))
        .collect();
    for f in validate(&config, probe, Dialect::Toml) {
        // A default standing in for a removed key would only echo the error already reported.
        if removed.iter().any(|r| f.path.0.starts_with(&r.0)) {
            continue;
        }
        let span = locate(&root, &f.path);
        let line = source.line_col(span.start).0;
        if error_lines.contains(&line) {
            continue;
        }
        diags.push(f.into_diag(Some((source, span))));
    }
    if diags.has_errors() {
        (None, diags)
    } else {
        (Some(config), diags)
    }
}

/// Turn serde's wording into ours, with a suggestion for misspelt keys.
/// Whether two paths are in the same top-level item (`vrrp_instance.X`, `virtual_server[3]`).
fn same_item(a: &ConfPath, b: &ConfPath) -> bool {
    let n = a.0.len().min(b.0.len()).min(2);
    a.0[..n] == b.0[..n]
}

fn structural_diag(
    message: &str,
    path: Option<&ConfPath>,
    source: &SourceFile,
    span: Range<usize>,
) -> Diag {
    let message = message.trim();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (key, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let valid: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        let help = match suggest(key, valid.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None if valid.is_empty() => "remove it".to_string(),
            None => format!("valid keys here: {}", valid.join(", ")),
        };
        return Diag::error(format!("unknown key `{key}`"))
            .with_help(help)
            .at(source, span);
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let key = rest.split('`').next().unwrap_or(rest);
        return Diag::error(format!("missing key `{key}`"))
            .with_help(format!("add `{key} = ...` to this table"))
            .at(source, span);
    }
    let friendly = message
        .replace("expected u8", "expected a whole number from 0 to 255")
        .replace("expected u16", "expected a whole number from 0 to 65535")
        .replace(
            "expected u32",
            "expected a whole number from 0 to 4294967295",
        )
        .replace("expected i32", "expected a whole number")
        .replace("expected a boolean", "expected true or false");
    match path {
        Some(p) => Diag::error(format!("{p}: {friendly}")).at(source, span),
        None => Diag::error(friendly).at(source, span),
    }
}

fn contains(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end && outer != &(0..0)
}

/// Remove the innermost table entry whose key or value holds `span`; returns its model path.
/// Dotted and `[header]` tables have spans that do not enclose their keys, so every table is
/// searched rather than only those whose span holds the error.
fn remove_containing(table: &mut DeTable<'_>, span: &Range<usize>) -> Option<ConfPath> {
    let mut hit = None;
    for (key, value) in table.iter_mut() {
        let name = Seg::Key(key.get_ref().to_string());
        let found = match value.get_mut() {
            DeValue::Table(t) => remove_containing(t, span).map(|p| (None, p)),
            DeValue::Array(items) => items.iter_mut().enumerate().find_map(|(i, item)| match item
                .get_mut()
            {
                DeValue::Table(t) => remove_containing(t, span).map(|p| (Some(i), p)),
                _ => None,
            }),
            _ => None,
        };
        if let Some((index, inner)) = found {
            let mut path = vec![name];
            path.extend(index.map(Seg::Index));
            path.extend(inner.0);
            return Some(ConfPath(path));
        }
        let scalar = !matches!(value.get_ref(), DeValue::Table(_));
        if hit.is_none()
            && (contains(&key.span(), span) || (scalar && contains(&value.span(), span)))
        {
            hit = Some(key.clone());
        }
    }
    let hit = hit?;
    table.remove(&hit);
    Some(ConfPath(vec![Seg::Key(hit.get_ref().to_string())]))
}

/// The span of the value a model path names, or of the nearest enclosing part that exists.
pub fn locate(root: &Spanned<DeTable<'_>>, path: &ConfPath) -> Range<usize> {
    let mut span = 0..0;
    let mut current: Option<&DeValue<'_>> = None;
    let mut table = Some(root.get_ref());
    for seg in &path.0 {
        let next = match (seg, table, current) {
            (Seg::Key(k), Some(t), _) => t
                .iter()
                .find(|(key, _)| key.get_ref().as_ref() == k.as_str())
                .map(|(key, v)| (key.span(), v)),
            (Seg::Index(i), _, Some(DeValue::Array(items))) => items.get(*i).map(|v| (v.span(), v)),
            _ => None,
        };
        let Some((key_span, value)) = next else { break };
        // Point at the value, unless it is a table whose span is its whole body: then at the key.
        span = match value.get_ref() {
            DeValue::Table(_) => key_span,
            _ => value.span(),
        };
        current = Some(value.get_ref());
        table = match value.get_ref() {
            DeValue::Table(t) => Some(t),
            _ => None,
        };
    }
    span
}
