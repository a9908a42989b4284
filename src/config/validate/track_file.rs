//! track_file blocks and what refers to them (a vrrp_instance's `track_file`, FILE checks),
//! and the fields of DNS and FILE checks.

use super::{Checker, ConfPath};
use crate::conf_path;
use crate::config::model::{Check, CheckKind, Config, VrrpInstance};

pub(super) fn check_track_files(c: &mut Checker, cfg: &Config) {
    for (name, tf) in &cfg.track_file {
        let path = conf_path!["track_file", name];
        if tf.file.as_os_str().is_empty() {
            c.error(path.join("file"), "the file name is empty", "");
        } else if let Some(dir) = tf.file.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.is_dir()
        {
            c.warn(
                path.join("file"),
                format!(
                    "the directory of {} does not exist: the file reads 0 and is not watched",
                    tf.file.display()
                ),
                "create the directory, then reload",
            );
        }
        if !(-254..=254).contains(&tf.weight) {
            c.error(
                path.join("weight"),
                format!("weight {} is outside -254..254", tf.weight),
                "",
            );
        }
    }
}

pub(super) fn check_instance_refs(
    c: &mut Checker,
    cfg: &Config,
    path: &ConfPath,
    inst: &VrrpInstance,
) {
    for (i, t) in inst.track_file.iter().enumerate() {
        let at = path.join("track_file").join(i);
        if !cfg.track_file.contains_key(&t.name) {
            let message = format!("track_file `{}` is not defined", t.name);
            let help = "define it in [track_file.NAME]";
            if c.lenient() {
                c.drop_part(at, format!("{message}: ignored, as keepalived does"), help);
            } else {
                c.error(at, message, help);
            }
            continue;
        }
        if let Some(w) = t.weight
            && !(-254..=254).contains(&w)
        {
            c.error(
                at.join("weight"),
                format!("weight {w} is outside -254..254"),
                "",
            );
        }
    }
}

/// The fields of DNS and FILE checks, and that others do not set them.
pub(super) fn check_fields(c: &mut Checker, cfg: &Config, path: &ConfPath, ck: &Check, kind: &str) {
    if ck.kind == CheckKind::Dns {
        let name = ck
            .dns_name
            .as_deref()
            .unwrap_or(crate::health::dns::DEFAULT_NAME);
        let rtype = ck
            .dns_type
            .as_deref()
            .unwrap_or(crate::health::dns::DEFAULT_TYPE);
        if let Err(e) = crate::health::dns::question(name, rtype) {
            c.error(
                path.clone(),
                e,
                "e.g. dns_name = \"example.org\", dns_type = \"A\"",
            );
        }
    } else if ck.dns_name.is_some() || ck.dns_type.is_some() {
        c.error(
            path.clone(),
            format!("dns_name / dns_type do not apply to a {kind} check"),
            "",
        );
    }
    if ck.kind == CheckKind::File {
        match &ck.track_file {
            None => c.error(
                path.join("track_file"),
                "a file check needs track_file",
                "name a [track_file.NAME]",
            ),
            Some(n) if !cfg.track_file.contains_key(n) => c.error(
                path.join("track_file"),
                format!("track_file `{n}` is not defined"),
                "define it in [track_file.NAME]",
            ),
            Some(_) => {}
        }
    } else if ck.track_file.is_some() || ck.file_weight.is_some() || ck.file_reverse.is_some() {
        c.error(
            path.clone(),
            format!("track_file / file_weight / file_reverse do not apply to a {kind} check"),
            "",
        );
    }
}
