//! A vrrp_instance's `track_file`s: the files' values, read at start and whenever a file
//! changes (one watching task, inotify), and the trackers they make for the machine.
//! The reading and the arithmetic are `health::file`'s, shared with FILE_CHECK.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::sync::mpsc;
use tracing::warn;

use super::runner::Input;
use crate::config::model::{Config, TrackFile, VrrpInstance};
use crate::health::file::{self, Effect, FileWatch, VRRP_RANGE};

/// Where a file is re-read when the kernel gives no inotify.
const POLL: Duration = Duration::from_secs(1);

#[derive(Default)]
pub struct TrackFiles {
    files: BTreeMap<String, TrackFile>,
    values: BTreeMap<String, i64>,
    task: Option<tokio::task::JoinHandle<()>>,
    /// init_file's `overwrite` applies at the first start only, never on a reload.
    started: bool,
}

impl Drop for TrackFiles {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

impl TrackFiles {
    /// Take the track_files the instances name: create those with init_file, read every
    /// value now (the machines start with them), and watch them for changes, which come
    /// back as [`Input::File`].
    pub fn configure(&mut self, config: &Config, tx: mpsc::Sender<Input>) {
        let used = |name: &String| {
            config
                .vrrp_instance
                .values()
                .any(|i| i.track_file.iter().any(|t| &t.name == name))
        };
        self.files = config
            .track_file
            .iter()
            .filter(|(n, _)| used(n))
            .map(|(n, tf)| (n.clone(), tf.clone()))
            .collect();
        for (name, tf) in &self.files {
            if let Some(value) = tf.init_file
                && let Err(e) = file::init_file(&tf.file, value, tf.init_overwrite && !self.started)
            {
                warn!(
                    "track_file {name}: cannot initialise {}: {e}",
                    tf.file.display()
                );
            }
        }
        self.started = true;
        self.values = self
            .files
            .iter()
            .map(|(n, tf)| (n.clone(), file::read_value(&tf.file).unwrap_or(0)))
            .collect();
        if let Some(t) = self.task.take() {
            t.abort();
        }
        if !self.files.is_empty() {
            let files = self.files.clone();
            self.task = Some(tokio::spawn(watch(files, self.values.clone(), tx)));
        }
    }

    /// A file's new value; false when nothing changed (or the number is out of range: the
    /// previous value stays, as keepalived keeps it).
    pub fn update(&mut self, name: &str, value: Option<i64>) -> bool {
        match (value, self.values.get_mut(name)) {
            (Some(v), Some(old)) if *old != v => {
                *old = v;
                true
            }
            _ => false,
        }
    }

    pub fn value(&self, name: &str) -> Option<i64> {
        self.values.get(name).copied()
    }

    /// The trackers of an instance: (key, weight, up) for `Instance::set_tracker`. A
    /// fault is a down weight-0 tracker; a contribution s is weight s, up when positive.
    /// An address owner (priority 255) takes no weight: the default weight 1 becomes 0 (a
    /// non-zero value is a fault) and another weight drops the entry, as keepalived does.
    pub fn trackers(&self, inst: &VrrpInstance) -> Vec<(String, i32, bool)> {
        let mut out = Vec::new();
        for t in &inst.track_file {
            let (Some(tf), Some(&value)) = (self.files.get(&t.name), self.values.get(&t.name))
            else {
                continue;
            };
            let mut weight = t.weight.unwrap_or(tf.weight);
            let reverse = t.reverse.unwrap_or(tf.reverse);
            if inst.priority == 255 && weight != 0 {
                if weight != 1 {
                    continue;
                }
                weight = 0;
            }
            let key = format!("file:{}", t.name);
            out.push(
                match file::effect(value, i64::from(weight), reverse, VRRP_RANGE) {
                    Effect::Fault => (key, 0, false),
                    Effect::Add(s) => (key, s as i32, s >= 0),
                },
            );
        }
        out
    }
}

/// The watching task: sends a file's value when its directory says it changed (or, without
/// inotify, when a re-read every second finds another value).
async fn watch(
    files: BTreeMap<String, TrackFile>,
    mut last: BTreeMap<String, i64>,
    tx: mpsc::Sender<Input>,
) {
    let mut watch = FileWatch::new();
    for (name, tf) in &files {
        if let Err(e) = watch.add(&tf.file) {
            warn!("track_file {name}: cannot watch {}: {e}", tf.file.display());
        }
    }
    let mut poll = tokio::time::interval(POLL);
    loop {
        let changed = tokio::select! {
            path = watch.changed() => Some(path),
            _ = poll.tick(), if !watch.is_live() => None,
        };
        for (name, tf) in &files {
            if changed.as_ref().is_some_and(|p| *p != tf.file) {
                continue;
            }
            let value = file::read_value(&tf.file);
            if changed.is_none() && value.is_none_or(|v| last.get(name) == Some(&v)) {
                continue;
            }
            if let Some(v) = value {
                last.insert(name.clone(), v);
            }
            if tx.send(Input::File(name.clone(), value)).await.is_err() {
                return;
            }
        }
    }
}
