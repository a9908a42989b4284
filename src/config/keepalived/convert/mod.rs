//! keepalived.conf keywords to the model, with keepalived's leniency: what keepalived warns
//! about and runs, lvsdeck warns about (file:line:column) and runs the same way; what keepalived
//! would do and lvsdeck cannot is refused with the reason. Nothing is dropped in silence, except
//! the `@ID` lines keepalived drops in silence too.
//!
//! One file per part of the file: [`global`] (global_defs), [`vrrp`] (scripts, instances, sync
//! groups), [`lvs`] (virtual servers); [`keywords`] says what each block accepts.

mod bfd;
mod blocks;
mod global;
pub mod keywords;
mod lvs;
mod reflow;
mod routes;
mod track_file;
mod vmac;
mod vrrp;

use std::collections::HashMap;
use std::ops::Range;
use std::str::FromStr;

use super::parse::{Node, Parsed, Word};
use crate::config::diag::{Diag, Diags, SourceFile, suggest};
use crate::config::model::*;
use crate::config::validate::ConfPath;
use keywords::{Ctx, Effect};

/// The result of converting: the model and where each part of it was written.
pub struct Converted {
    pub config: Config,
    pub places: HashMap<ConfPath, (usize, Range<usize>)>,
    /// Parts whose keyword had an error; their values are defaults, not the file's.
    pub failed: Vec<ConfPath>,
}

pub fn convert(parsed: &Parsed, diags: &mut Diags) -> Converted {
    let mut c = Conv {
        files: &parsed.files,
        diags,
        places: HashMap::new(),
        failed: Vec::new(),
        config: Config::default(),
        global_version: None,
        rule_priority: [0, 0],
    };
    let (nodes, early) = reflow::reflow(&parsed.nodes);
    for e in &early {
        c.warn(
            &e.unknown,
            format!(
                "`{}` is no keyword of {} to keepalived, so its {{ }} is no block: keepalived \
                 reads its lines as part of {}, and its `}}` ends {} here; lvsdeck reads it the \
                 same way",
                keywords::visible(&e.unknown.text),
                e.ended,
                e.ended,
                e.ended
            ),
            "remove the line, or fix its spelling; what follows is outside that block now",
        );
    }
    // Global defaults first: instances take the global VRRP version, GARP timings and strictness.
    for node in nodes.iter().filter(|n| n.keyword.text == "global_defs") {
        c.global_defs(node);
    }
    for node in &nodes {
        match node.keyword.text.as_str() {
            "global_defs" => {}
            "vrrp_script" => c.vrrp_script(node),
            "track_file" | "vrrp_track_file" => c.track_file_block(node),
            "bfd_instance" => c.bfd_instance_block(node),
            "vrrp_instance" => c.vrrp_instance(node),
            "vrrp_sync_group" => c.sync_group(node),
            "virtual_server_group" => c.vs_group(node),
            "virtual_server" => c.virtual_server(node),
            "static_routes" => {
                let routes = c.routes(node);
                c.config.static_routes.extend(routes);
            }
            "static_rules" => {
                let rules = c.rules(node);
                c.config.static_rules.extend(rules);
            }
            "static_ipaddress" => c.static_ipaddress(node),
            _ => c.unknown(node, Ctx::Root),
        }
    }
    Converted {
        config: c.config,
        places: c.places,
        failed: c.failed,
    }
}

struct Conv<'a> {
    files: &'a [SourceFile],
    diags: &'a mut Diags,
    places: HashMap<ConfPath, (usize, Range<usize>)>,
    failed: Vec<ConfPath>,
    config: Config,
    global_version: Option<u8>,
    /// Rules without a priority so far, IPv4 and IPv6 (keepalived counts down per family).
    rule_priority: [u32; 2],
}

impl Conv<'_> {
    fn diag_at(&mut self, w: &Word, d: Diag) {
        let d = d.at(&self.files[w.file], w.span.clone());
        self.diags.push(d);
    }

    fn error(&mut self, w: &Word, message: impl Into<String>, help: impl Into<String>) {
        let help = help.into();
        let mut d = Diag::error(message);
        if !help.is_empty() {
            d = d.with_help(help);
        }
        self.diag_at(w, d);
    }

    fn warn(&mut self, w: &Word, message: impl Into<String>, help: impl Into<String>) {
        self.diag_at(w, Diag::warning(message).with_help(help));
    }

    fn place(&mut self, path: ConfPath, w: &Word) {
        self.places.insert(path, (w.file, w.span.clone()));
    }

    fn error_count(&self) -> usize {
        self.diags.errors().count()
    }

    /// Remember `path` as failed if errors were added since `mark`.
    fn fail_since(&mut self, mark: usize, path: ConfPath) {
        if self.error_count() > mark {
            self.failed.push(path);
        }
    }

    /// A keyword this block does not read: a keepalived keyword lvsdeck ignores (warning) or
    /// refuses (error), or one keepalived does not know either (warning; the line and its block
    /// are skipped, as keepalived skips the line).
    fn unknown(&mut self, node: &Node, ctx: Ctx) {
        let kw = &node.keyword;
        match keywords::unsupported(ctx, &kw.text) {
            Some((Effect::Ignored, why)) => {
                self.warn(kw, format!("`{}` is ignored", kw.text), why);
            }
            Some((Effect::Refused(message), why)) => {
                self.error(kw, message.replace("{}", &kw.text), why);
            }
            None => {
                let help = unknown_help(&kw.text, ctx);
                let shown = keywords::visible(&kw.text);
                self.warn(
                    kw,
                    format!("unknown keyword `{shown}`: ignored, as keepalived does"),
                    help,
                );
            }
        }
    }

    fn arg<'n>(&mut self, node: &'n Node, i: usize, what: &str) -> Option<&'n Word> {
        let w = node.args.get(i);
        if w.is_none() {
            self.error(
                &node.keyword,
                format!("`{}` needs {what}", node.keyword.text),
                "",
            );
        }
        w
    }

    fn parse_arg<T: FromStr>(&mut self, node: &Node, i: usize, what: &str) -> Option<T> {
        let w = self.arg(node, i, what)?;
        match w.text.parse() {
            Ok(v) => Some(v),
            Err(_) => {
                let w = w.clone();
                let help = keywords::hidden_char_hint(&w.text).map_or_else(
                    || format!("`{}` takes {what}", node.keyword.text),
                    Into::into,
                );
                self.error(
                    &w,
                    format!("`{}` is not {what}", keywords::visible(&w.text)),
                    help,
                );
                None
            }
        }
    }

    fn num<T: FromStr>(&mut self, node: &Node, what: &str) -> Option<T> {
        self.parse_arg(node, 0, what)
    }

    fn dur(&mut self, node: &Node) -> Option<Dur> {
        let w = self.arg(node, 0, "a number of seconds")?;
        match w.text.parse::<f64>().ok().and_then(Dur::from_secs_f64) {
            Some(d) => Some(d),
            None => {
                let w = w.clone();
                self.error(
                    &w,
                    format!("`{}` is not a number of seconds", w.text),
                    "e.g. 3 or 0.5",
                );
                None
            }
        }
    }

    /// All the words, joined: for values that are text (a URL path, a regex).
    fn text(&mut self, node: &Node) -> Option<String> {
        if node.args.is_empty() {
            self.arg(node, 0, "a value");
            return None;
        }
        Some(words(&node.args))
    }

    /// A warning at word `i` of `node`, if the line has one; `message` gets its text.
    fn warn_word(
        &mut self,
        node: &Node,
        i: usize,
        message: impl FnOnce(&str) -> Option<String>,
        help: impl Into<String>,
    ) {
        if let Some(w) = node.args.get(i)
            && let Some(message) = message(&w.text)
        {
            let w = w.clone();
            self.warn(&w, message, help);
        }
    }

    /// A command line (`script`, `misc_path`): keepalived runs the first word only, so a
    /// command with arguments must be quoted; unquoted extra words are dropped with a warning.
    fn command(&mut self, node: &Node) -> Option<String> {
        let command = self.arg(node, 0, "a command")?.text.clone();
        let kw = &node.keyword.text;
        self.warn_word(
            node,
            1,
            |_| {
                Some(format!(
                    "only the first word of `{kw}` is run, as keepalived does: `{command}`"
                ))
            },
            format!(
                "quote the whole command line: {kw} \"{}\"",
                words(&node.args)
            ),
        );
        Some(command)
    }

    /// A notify script: word 1 is the command line, words 2 and 3 the user and group it runs as.
    /// lvsdeck runs notify scripts as its own user (root); any other user is said.
    fn notify_command(&mut self, node: &Node) -> Option<String> {
        let command = self.arg(node, 0, "a command")?.text.clone();
        let kw = &node.keyword.text;
        self.warn_word(
            node,
            1,
            |user| {
                (user != "root").then(|| {
                    format!("`{kw}` runs as the global script_user (else root), not as `{user}`")
                })
            },
            "keepalived reads the words after the quoted command as USER [GROUP]; quote \
             arguments together with the command",
        );
        Some(command)
    }

    /// keepalived's optional boolean (`inhibit_on_failure [true|false]`): no value is true; a
    /// value other than true/on/yes/false/off/no (lowercase) is ignored with a warning.
    fn flag(&mut self, node: &Node) -> Option<bool> {
        let Some(w) = node.args.first() else {
            return Some(true);
        };
        match w.text.as_str() {
            "true" | "on" | "yes" => Some(true),
            "false" | "off" | "no" => Some(false),
            other => {
                let (w, other) = (w.clone(), other.to_string());
                self.warn(
                    &w,
                    format!(
                        "`{}` takes true or false, not `{other}`: the line is ignored, as \
                         keepalived does",
                        node.keyword.text
                    ),
                    "write true, false, on, off, yes or no, in lowercase",
                );
                None
            }
        }
    }

    /// A keyword that takes no value: keepalived ignores one that is given.
    fn no_args(&mut self, node: &Node) {
        let kw = &node.keyword.text;
        self.warn_word(
            node,
            0,
            |extra| {
                Some(format!(
                    "`{kw}` takes no value; `{extra}` is ignored, as keepalived does"
                ))
            },
            "remove it",
        );
    }

    fn block<'n>(&mut self, node: &'n Node) -> &'n [Node] {
        match &node.block {
            Some(b) => b,
            None => {
                self.error(
                    &node.keyword,
                    format!("`{}` needs a {{ }} block", node.keyword.text),
                    "",
                );
                &[]
            }
        }
    }

    fn name(&mut self, node: &Node) -> Option<String> {
        self.arg(node, 0, "a name").map(|w| w.text.clone())
    }

    /// keepalived's `USER [GROUP]` (script_user, a vrrp_script's or MISC_CHECK's `user`)
    /// as lvsdeck writes it: `USER` or `USER:GROUP`.
    fn user_group(&mut self, node: &Node) -> Option<String> {
        let user = self.name(node)?;
        Some(match node.args.get(1) {
            Some(group) => format!("{user}:{}", group.text),
            None => user,
        })
    }

    fn deprecated(&mut self, node: &Node, new: &str) {
        let kw = node.keyword.clone();
        self.warn(
            &kw,
            format!("`{}` is deprecated; read as `{new}`", kw.text),
            format!("write `{new}`"),
        );
    }
}

/// What to tell about a keyword neither keepalived nor lvsdeck knows in `ctx`.
fn unknown_help(keyword: &str, ctx: Ctx) -> String {
    if let Some(hint) = keywords::hidden_char_hint(keyword) {
        return hint.to_string();
    }
    if keyword == "nb_get_retry" {
        return "keepalived 2.2.7 reads nb_get_retry in HTTP_GET and SSL_GET only: here retry \
                keeps its default (1, or the real or virtual server's); write `retry N`"
            .into();
    }
    // `mcast_src_ip=10.0.0.1`: a value glued on with `=`.
    if let Some((key, value)) = keyword.split_once('=')
        && keywords::candidates(ctx).any(|k| k == key)
    {
        return format!("keepalived takes no `=`: write `{key} {value}`");
    }
    if let Some(s) = suggest(keyword, keywords::candidates(ctx)) {
        return format!("did you mean `{s}`?");
    }
    if let Some(home) = keywords::home_of(ctx, keyword) {
        return format!("`{keyword}` belongs in {home}");
    }
    "remove it: keepalived does not know it either".into()
}

fn words(ws: &[Word]) -> String {
    ws.iter()
        .map(|w| w.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *slot = v;
    }
}

#[cfg(test)]
mod tests;
