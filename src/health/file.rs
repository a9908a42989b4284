//! track_file: an integer in a file that an operator (or a script) writes, read as keepalived
//! reads it, for FILE_CHECK (a real server) and a vrrp_instance's `track_file`.
//!
//! keepalived's semantics (`trackers/track_file.c`, `check/check_file.c`, 2.2.7):
//! - the file's first 127 bytes are read as C's `strtol(s, NULL, 0)`: leading white space,
//!   a sign, `0x` hex or `0` octal, trailing text ignored; no number, an empty or a missing
//!   file is 0; a number outside [-2^31, 2^31] is ignored (the previous value stays);
//! - with weight 0, a non-zero value is a fault (`reverse`: a zero value is);
//! - otherwise the contribution is `value × weight` (negated with `reverse`), clamped to a
//!   range whose floor is a fault: [-254, 253] for VRRP priorities, the i32 range for
//!   real-server weights;
//! - the file's directory is watched (close after write, delete, rename in or out), so
//!   `echo 0 > f` and `mv tmp f` both count; a deleted file reads 0.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use super::CheckResult;
use super::state::WeightSet;

/// What a tracked file's value does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// The instance goes to Fault / the real server is down.
    Fault,
    /// Added to the priority / the weight.
    Add(i64),
}

/// The contribution range of a VRRP priority: s ≤ -254 is a fault, at most 253 is added.
pub const VRRP_RANGE: (i64, i64) = (-254, 253);
/// The contribution range of a real server's weight (keepalived's weight_range).
pub const WEIGHT_RANGE: (i64, i64) = (i32::MIN as i64, i32::MAX as i64);

/// The value in a file's content; None: a number out of range, to be ignored.
pub fn parse_value(content: &[u8]) -> Option<i64> {
    let s = &content[..content.len().min(127)];
    let mut i = s
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r'))
        .unwrap_or(s.len());
    let negative = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let hex_digit_after = |j: usize| s.get(j).is_some_and(u8::is_ascii_hexdigit);
    let radix = if s.get(i) == Some(&b'0') && matches!(s.get(i + 1), Some(b'x' | b'X')) {
        if hex_digit_after(i + 2) {
            i += 2;
            16
        } else {
            // "0x" with no hex digit after: strtol reads the 0.
            return Some(0);
        }
    } else if s.get(i) == Some(&b'0') {
        8
    } else {
        10
    };
    let mut value: i64 = 0;
    for &b in &s[i..] {
        let Some(d) = (b as char).to_digit(radix) else {
            break;
        };
        value = value
            .checked_mul(i64::from(radix))?
            .checked_add(i64::from(d))?;
        if value > i64::from(i32::MAX) + 1 {
            return None;
        }
    }
    let value = if negative { -value } else { value };
    (value >= i64::from(i32::MIN)).then_some(value)
}

/// What `value` does with `weight` (and `reverse`), in a contribution `range`.
pub fn effect(value: i64, weight: i64, reverse: bool, range: (i64, i64)) -> Effect {
    if weight == 0 {
        return if (value != 0) != reverse {
            Effect::Fault
        } else {
            Effect::Add(0)
        };
    }
    let s = value.saturating_mul(weight);
    let s = if reverse { s.saturating_neg() } else { s };
    let s = s.clamp(range.0, range.1);
    if s == range.0 {
        Effect::Fault
    } else {
        Effect::Add(s)
    }
}

/// Read a tracked file now: its value (0 when missing or unreadable), or None when the
/// number is out of range.
pub fn read_value(path: &Path) -> Option<i64> {
    let mut buf = [0u8; 127];
    let n = match std::fs::File::open(path) {
        Ok(mut f) => f.read(&mut buf).unwrap_or(0),
        Err(_) => 0,
    };
    parse_value(&buf[..n])
}

/// Create a file with `value` as keepalived's `init_file` does: only when missing unless
/// `overwrite`, written to a temporary file then renamed, mode 0600.
pub fn init_file(path: &Path, value: i64, overwrite: bool) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::symlink_metadata(path) {
        Ok(_) if !overwrite => return Ok(()),
        Ok(m) if !m.file_type().is_file() => {
            return Err(std::io::Error::other(format!(
                "{} is not a regular file",
                path.display()
            )));
        }
        _ => {}
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".lvsdeck-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    writeln!(f, "{value}")?;
    drop(f);
    std::fs::rename(&tmp, path)
}

/// A FILE_CHECK: the file's value moves the real server's weight or takes it down.
#[derive(Debug)]
pub struct FileProbe {
    pub name: String,
    pub path: PathBuf,
    pub weight: i64,
    pub reverse: bool,
    /// The last value read in range (an out-of-range number keeps it, as keepalived does).
    pub last: AtomicI64,
}

impl FileProbe {
    pub fn new(name: &str, path: PathBuf, weight: i64, reverse: bool) -> Self {
        Self {
            name: name.to_owned(),
            path,
            weight,
            reverse,
            last: AtomicI64::new(0),
        }
    }
}

/// One FILE_CHECK reading at `start`.
pub fn check(p: &FileProbe, start: Instant) -> CheckResult {
    let value = match read_value(&p.path) {
        Some(v) => {
            p.last.store(v, Ordering::Relaxed);
            v
        }
        None => p.last.load(Ordering::Relaxed),
    };
    match effect(value, p.weight, p.reverse, WEIGHT_RANGE) {
        Effect::Fault => CheckResult::fail(
            format!("track_file {} reads {value}: down", p.name),
            start.elapsed(),
        ),
        Effect::Add(d) => {
            let mut r = CheckResult::ok(
                format!("track_file {} reads {value}: weight {d:+}", p.name),
                start.elapsed(),
            );
            r.weight = Some(WeightSet::By(d));
            r
        }
    }
}

/// Watches tracked files through their directories (inotify); yields the paths whose
/// content may have changed. Without inotify, nothing is yielded and callers re-read on
/// their own schedule.
pub struct FileWatch {
    stream: Option<inotify::EventStream<Vec<u8>>>,
    /// Watched directory → the watched file names in it and their full paths.
    dirs: HashMap<inotify::WatchDescriptor, HashMap<OsString, PathBuf>>,
    watched: HashMap<PathBuf, inotify::WatchDescriptor>,
}

impl Default for FileWatch {
    fn default() -> Self {
        Self::new()
    }
}

impl FileWatch {
    pub fn new() -> Self {
        let stream = inotify::Inotify::init()
            .and_then(|i| i.into_event_stream(vec![0u8; 4096]))
            .map_err(|e| {
                tracing::warn!("track_file: no inotify ({e}); files are re-read on a timer")
            })
            .ok();
        Self {
            stream,
            dirs: HashMap::new(),
            watched: HashMap::new(),
        }
    }

    /// Whether changes are seen as they happen.
    pub fn is_live(&self) -> bool {
        self.stream.is_some()
    }

    /// Watch `path` (its directory must exist).
    pub fn add(&mut self, path: &Path) -> std::io::Result<()> {
        if self.watched.contains_key(path) {
            return Ok(());
        }
        let Some(stream) = &mut self.stream else {
            return Ok(());
        };
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(std::io::Error::other(format!(
                "{} names no file in a directory",
                path.display()
            )));
        };
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        use inotify::WatchMask;
        let wd = stream.watches().add(
            dir,
            WatchMask::CLOSE_WRITE
                | WatchMask::DELETE
                | WatchMask::MOVED_FROM
                | WatchMask::MOVED_TO
                | WatchMask::ONLYDIR,
        )?;
        self.dirs
            .entry(wd.clone())
            .or_default()
            .insert(name.to_owned(), path.to_owned());
        self.watched.insert(path.to_owned(), wd);
        Ok(())
    }

    /// The next watched path that changed; pending forever without inotify.
    pub async fn changed(&mut self) -> PathBuf {
        use futures::StreamExt;
        loop {
            let Some(stream) = &mut self.stream else {
                return std::future::pending().await;
            };
            match stream.next().await {
                Some(Ok(ev)) => {
                    let hit = ev
                        .name
                        .as_ref()
                        .and_then(|n| self.dirs.get(&ev.wd)?.get(n.as_os_str()));
                    if let Some(path) = hit {
                        return path.clone();
                    }
                }
                Some(Err(e)) => {
                    tracing::warn!("track_file: inotify failed ({e}); files re-read on a timer");
                    self.stream = None;
                }
                None => self.stream = None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_read_as_strtol_reads_them() {
        assert_eq!(parse_value(b"  42\n"), Some(42));
        assert_eq!(parse_value(b"-7 and text"), Some(-7));
        assert_eq!(parse_value(b"+5"), Some(5));
        assert_eq!(parse_value(b"0x10"), Some(16));
        assert_eq!(parse_value(b"010"), Some(8), "a leading 0 is octal");
        assert_eq!(parse_value(b"09"), Some(0), "9 is not an octal digit");
        assert_eq!(parse_value(b"0x"), Some(0));
        assert_eq!(parse_value(b""), Some(0), "empty");
        assert_eq!(parse_value(b"maintenance"), Some(0), "no number");
        assert_eq!(
            parse_value(b"2147483648"),
            Some(2_147_483_648),
            "INT32_MAX + 1"
        );
        assert_eq!(parse_value(b"2147483649"), None, "out of range: ignored");
        assert_eq!(parse_value(b"-2147483649"), None);
        assert_eq!(parse_value(b"99999999999999999999999"), None);
    }

    #[test]
    fn effects_follow_keepalived() {
        let v = VRRP_RANGE;
        assert_eq!(effect(0, 0, false, v), Effect::Add(0));
        assert_eq!(
            effect(3, 0, false, v),
            Effect::Fault,
            "weight 0: non-zero is a fault"
        );
        assert_eq!(effect(0, 0, true, v), Effect::Fault, "reverse: zero is");
        assert_eq!(effect(3, 0, true, v), Effect::Add(0));
        assert_eq!(effect(5, 10, false, v), Effect::Add(50));
        assert_eq!(effect(5, 10, true, v), Effect::Add(-50));
        assert_eq!(effect(100, 10, false, v), Effect::Add(253), "clamped");
        assert_eq!(effect(-100, 10, false, v), Effect::Fault, "at the floor");
        assert_eq!(effect(-253, 1, false, v), Effect::Add(-253));
        let w = WEIGHT_RANGE;
        assert_eq!(effect(-100, 10, false, w), Effect::Add(-1000));
        assert_eq!(effect(i64::from(i32::MIN), 1, false, w), Effect::Fault);
    }

    #[test]
    fn init_file_writes_only_what_keepalived_writes() {
        let dir = std::env::temp_dir().join(format!("lvsdeck-init-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("state");
        init_file(&f, 5, false).unwrap();
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "5\n");
        init_file(&f, 7, false).unwrap();
        assert_eq!(read_value(&f), Some(5), "kept without overwrite");
        init_file(&f, 7, true).unwrap();
        assert_eq!(read_value(&f), Some(7));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&f).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(
            init_file(&dir, 1, true).is_err(),
            "a directory is not overwritten"
        );
        assert_eq!(read_value(&dir.join("missing")), Some(0), "missing reads 0");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
