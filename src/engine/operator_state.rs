//! What operators set (drains, weights, priority overrides, with who and when), kept on disk
//! so that a restarted director puts it back before its first IPVS apply: a drained server
//! is not returned to rotation by a crash. Written whole on each change, atomically (a
//! temporary file, fsync, rename, fsync of the directory). The file names services and
//! real servers as the configuration does; an entry whose server or instance is no longer
//! configured is dropped at load, and said so.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::snapshot::Override;
use crate::ipvs::table::{RealId, VsId};

/// The default place (`state_file` in `[global]`).
pub const DEFAULT_PATH: &str = "/var/lib/lvsdeck/state.json";

/// One override of a real server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RealEntry<T> {
    /// The service as `lvsdeck status` names it (`TCP  192.0.2.100:80`).
    pub service: String,
    pub address: IpAddr,
    pub port: u16,
    #[serde(flatten)]
    pub set: Override<T>,
}

/// One instance's priority override.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriorityEntry {
    pub instance: String,
    #[serde(flatten)]
    pub set: Override<u8>,
}

/// The file's content.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct OperatorState {
    #[serde(default)]
    pub drains: Vec<RealEntry<()>>,
    #[serde(default)]
    pub weights: Vec<RealEntry<u32>>,
    #[serde(default)]
    pub priorities: Vec<PriorityEntry>,
    /// `[bgp]`: the whole director drained (every address withdrawn).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub director_drain: Option<Override<()>>,
}

impl<T: Clone> RealEntry<T> {
    pub fn of(id: &RealId, set: &Override<T>) -> Self {
        RealEntry {
            service: id.vs.0.clone(),
            address: id.addr,
            port: id.port,
            set: set.clone(),
        }
    }

    pub fn id(&self) -> RealId {
        RealId {
            vs: VsId(self.service.clone()),
            addr: self.address,
            port: self.port,
        }
    }
}

impl OperatorState {
    pub fn is_empty(&self) -> bool {
        self.drains.is_empty()
            && self.weights.is_empty()
            && self.priorities.is_empty()
            && self.director_drain.is_none()
    }

    /// Read `path`; a missing file is an empty state. A file that cannot be read or parsed
    /// is an error naming it: the daemon says so loudly and starts without it.
    pub fn load(path: &Path) -> Result<OperatorState, String> {
        match std::fs::read(path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(OperatorState::default()),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// Write `path` atomically ([`crate::atomic_file::write`]).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let mut text = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        text.push(b'\n');
        crate::atomic_file::write(path, &text)
    }
}

/// Where a daemon keeps its state: `state_file` when the configuration sets one; else, when
/// the daemon was given its own control socket (labs, tests: several daemons on one host),
/// beside that socket; else [`DEFAULT_PATH`].
pub fn path_for(configured: Option<&Path>, socket_given: Option<&Path>) -> PathBuf {
    match (configured, socket_given) {
        (Some(p), _) => p.to_path_buf(),
        (None, Some(s)) => {
            let mut p = s.as_os_str().to_owned();
            p.push(".state.json");
            PathBuf::from(p)
        }
        (None, None) => PathBuf::from(DEFAULT_PATH),
    }
}

/// Append one audit line to `path` (kept under 1 MiB: the older half moves to `.1`).
pub fn audit(path: &Path, line: &str) -> std::io::Result<()> {
    const LIMIT: u64 = 1 << 20;
    if std::fs::metadata(path).is_ok_and(|m| m.len() > LIMIT) {
        let mut old = path.as_os_str().to_owned();
        old.push(".1");
        std::fs::rename(path, PathBuf::from(old))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    writeln!(f, "{line}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_survives_a_round_trip_and_a_missing_file_is_empty() {
        let dir = std::env::temp_dir().join(format!("lvsdeck-state-{}", std::process::id()));
        let path = dir.join("sub/state.json");
        assert_eq!(OperatorState::load(&path), Ok(OperatorState::default()));
        let id = RealId {
            vs: VsId("TCP  192.0.2.100:80".into()),
            addr: "192.0.2.11".parse().unwrap(),
            port: 80,
        };
        fn by<T>(value: T) -> Override<T> {
            Override {
                value,
                by: "alice".into(),
                at_ms: 42,
            }
        }
        let s = OperatorState {
            drains: vec![RealEntry::of(&id, &by(()))],
            weights: vec![RealEntry::of(&id, &by(5))],
            priorities: vec![PriorityEntry {
                instance: "VI_1".into(),
                set: by(50),
            }],
            director_drain: Some(by(())),
        };
        s.save(&path).unwrap();
        let back = OperatorState::load(&path).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.drains[0].id(), id);
        std::fs::write(&path, "{ not json").unwrap();
        assert!(
            OperatorState::load(&path)
                .unwrap_err()
                .contains("state.json")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn each_daemon_has_its_own_file() {
        assert_eq!(path_for(None, None), PathBuf::from(DEFAULT_PATH));
        assert_eq!(
            path_for(None, Some(Path::new("/tmp/d1.sock"))),
            PathBuf::from("/tmp/d1.sock.state.json")
        );
        assert_eq!(
            path_for(
                Some(Path::new("/srv/s.json")),
                Some(Path::new("/tmp/d1.sock"))
            ),
            PathBuf::from("/srv/s.json")
        );
    }
}
