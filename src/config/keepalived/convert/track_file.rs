//! `track_file` (and the old `vrrp_track_file`) blocks, a vrrp_instance's `track_file` list
//! and FILE_CHECK's keywords, read as keepalived 2.2.7 reads them (`trackers/track_file.c`,
//! `check/check_file.c`): what it reports and ignores is warned about and left out here, and
//! names are looked up among the blocks written before, as keepalived looks them up.

use super::Conv;
use super::keywords::Ctx;
use crate::conf_path;
use crate::config::keepalived::parse::{Node, Word};
use crate::config::model::{Check, TrackFile, TrackFileRef};
use crate::config::validate::ConfPath;

/// A VRRP weight's bounds (track_file blocks and instance entries).
const VRRP_WEIGHT: i64 = 254;
/// A FILE_CHECK weight's bounds.
const CHECK_WEIGHT: i64 = i32::MAX as i64;

impl Conv<'_> {
    pub(super) fn track_file_block(&mut self, node: &Node) {
        if node.keyword.text == "vrrp_track_file" {
            self.deprecated(node, "track_file");
        }
        let Some(name) = self.name(node) else { return };
        let base = conf_path!["track_file", &name];
        self.place(base.clone(), &node.args[0]);
        let mut tf = TrackFile {
            file: Default::default(),
            weight: 1,
            reverse: false,
            init_file: None,
            init_overwrite: false,
        };
        let mut file_set = false;
        for n in self.block(node) {
            self.place(base.join(n.keyword.text.as_str()), &n.keyword);
            match n.keyword.text.as_str() {
                "file" if file_set => self.warn(
                    &n.keyword,
                    format!("track_file {name}: file already set; this one is ignored, as keepalived does"),
                    "keep one `file` line",
                ),
                "file" => {
                    if let Some(path) = self.name(n) {
                        tf.file = path.into();
                        file_set = true;
                    }
                }
                "weight" => {
                    if let Some((w, reverse)) = self.weight_words(n, VRRP_WEIGHT) {
                        tf.weight = w;
                        tf.reverse = reverse;
                    }
                }
                "init_file" => self.init_file(n, &mut tf),
                _ => self.unknown(n, Ctx::TrackFile),
            }
        }
        if !file_set {
            self.warn(
                &node.keyword,
                format!("track_file {name} has no `file`: it is removed, as keepalived does"),
                "add file /path/to/file",
            );
            return;
        }
        self.config.track_file.insert(name, tf);
    }

    /// `weight W [reverse|noreverse]`, W within ±`max`; None (with a warning, as keepalived
    /// reports and ignores it) when it cannot be read.
    pub(super) fn weight_words(&mut self, n: &Node, max: i64) -> Option<(i32, bool)> {
        let w = self.arg(n, 0, "a weight")?.clone();
        let weight = match w.text.parse::<i64>() {
            Ok(v) if v.abs() <= max => v as i32,
            _ => {
                self.warn(
                    &w,
                    format!("weight `{}` is not a number from -{max} to {max}: ignored, as keepalived does", w.text),
                    "",
                );
                return None;
            }
        };
        let reverse = match n.args.get(1).map(|w| w.text.as_str()) {
            None | Some("noreverse") => false,
            Some("reverse") => true,
            Some(_) => {
                let extra = n.args[1].clone();
                self.warn(
                    &extra,
                    format!(
                        "unknown weight option `{}`: ignored, as keepalived does",
                        extra.text
                    ),
                    "write `weight N` or `weight N reverse`",
                );
                false
            }
        };
        Some((weight, reverse))
    }

    /// `init_file [VALUE] [overwrite]`, words in any order; a value keepalived cannot read is 0.
    fn init_file(&mut self, n: &Node, tf: &mut TrackFile) {
        let mut value = 0;
        for w in &n.args {
            if w.text == "overwrite" {
                tf.init_overwrite = true;
            } else if w.text.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
                value = w.text.parse().unwrap_or_else(|_| {
                    self.warn(
                        w,
                        format!("init_file value `{}` is not a number: 0 is written, as keepalived does", w.text),
                        "",
                    );
                    0
                });
            } else {
                self.warn(
                    w,
                    format!(
                        "unknown init_file option `{}`: ignored, as keepalived does",
                        w.text
                    ),
                    "write `init_file [VALUE] [overwrite]`",
                );
            }
        }
        tf.init_file = Some(value);
    }

    /// A vrrp_instance's `track_file { NAME [weight W [reverse]] ... }`.
    pub(super) fn track_file_refs(&mut self, n: &Node, base: &ConfPath) -> Vec<TrackFileRef> {
        let lookup = |c: &Conv<'_>, name: &str| {
            c.config
                .track_file
                .get(name)
                .map(|tf| (tf.weight, tf.reverse))
        };
        let refs = self.weighted_refs(n, base, "track_file", VRRP_WEIGHT, lookup);
        refs.into_iter()
            .map(|(name, weight, reverse)| TrackFileRef {
                name,
                weight,
                reverse,
            })
            .collect()
    }

    /// The entries of a vrrp_instance's `track_file` / `track_bfd` block, `NAME [weight W
    /// [reverse]]` each, as keepalived reads them: unknown names (`lookup` gives the block's
    /// own weight and reverse), repeats and unexpected words are reported and left out.
    pub(super) fn weighted_refs(
        &mut self,
        n: &Node,
        base: &ConfPath,
        list: &str,
        max: i64,
        lookup: impl Fn(&Self, &str) -> Option<(i32, bool)>,
    ) -> Vec<(String, Option<i32>, Option<bool>)> {
        // keepalived's own words: "track file", "track bfd".
        let what = list.replace('_', " ");
        let block = if list == "track_bfd" {
            "bfd_instance"
        } else {
            "track_file"
        };
        let mut out: Vec<(String, Option<i32>, Option<bool>)> = Vec::new();
        for t in self.block(n) {
            let name = t.keyword.text.clone();
            self.place(base.join(list).join(out.len()), &t.keyword);
            let Some((own_weight, own_reverse)) = lookup(self, &name) else {
                self.warn(
                    &t.keyword,
                    format!("{what} {name} not found: ignored, as keepalived does"),
                    format!("define it in a {block} block before this instance"),
                );
                continue;
            };
            if out.iter().any(|r| r.0 == name) {
                self.warn(
                    &t.keyword,
                    format!(
                        "{what} {name} is listed twice: this one is ignored, as keepalived does"
                    ),
                    "",
                );
                continue;
            }
            match t.args.first().map(|w| w.text.as_str()) {
                None => out.push((name, None, None)),
                Some("weight") if t.args.len() >= 2 => {
                    let rest = Node {
                        keyword: t.args[0].clone(),
                        args: t.args[1..].to_vec(),
                        block: None,
                    };
                    // Out of range: the block's own weight, as keepalived falls back.
                    let (w, rev) = self
                        .weight_words(&rest, max)
                        .unwrap_or((own_weight, own_reverse));
                    out.push((name, Some(w), Some(rev)));
                }
                Some(_) => {
                    let w: Word = t.args[0].clone();
                    self.warn(
                        &w,
                        format!("{what} {name}: unexpected `{}`; the entry is ignored, as keepalived does", w.text),
                        "write `NAME weight N [reverse]`",
                    );
                }
            }
        }
        out
    }

    /// FILE_CHECK's keywords; false for another keyword.
    pub(super) fn file_check_keyword(&mut self, n: &Node, ck: &mut Check) -> bool {
        match n.keyword.text.as_str() {
            "track_file" => {
                let Some(name) = self.name(n) else {
                    return true;
                };
                if self.config.track_file.contains_key(&name) {
                    ck.track_file = Some(name);
                } else {
                    self.warn(
                        &n.args[0],
                        format!("track_file {name} not found, as keepalived reports"),
                        "define it in a track_file block before this virtual_server",
                    );
                }
            }
            "weight" => {
                if let Some((w, reverse)) = self.weight_words(n, CHECK_WEIGHT) {
                    ck.file_weight = Some(w);
                    ck.file_reverse = Some(reverse);
                }
            }
            _ => return false,
        }
        true
    }
}
