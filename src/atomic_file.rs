//! Files written whole or not at all (operators' state, the fragment BIRD includes).

use std::io::Write;
use std::path::{Path, PathBuf};

/// Write `path` whole or not at all: a temporary file beside it, fsync, rename, fsync of the
/// directory (a crash leaves the old file or the new one, never half of one).
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}
