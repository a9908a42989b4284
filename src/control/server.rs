//! The control socket: a Unix socket speaking JSON lines. Who is calling comes from the
//! kernel (SO_PEERCRED), never from the request: root and members of the admin group may act,
//! anyone else who can open the socket may only watch.

use std::ffi::{CStr, CString};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{broadcast, oneshot};
use tracing::{debug, info, warn};

use super::protocol::{MAX_REQUEST_BYTES, Request, Response};
use crate::engine::director::{CommandRequest, Handles};
use crate::snapshot::Snapshot;

/// Where the socket is and who may use it.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub path: PathBuf,
    /// Members may send commands (root always may).
    pub admin_group: Option<String>,
    /// Members may connect and watch; without it only root can open the socket.
    pub watch_group: Option<String>,
}

/// The caller, as the kernel reports it.
#[derive(Debug, Clone)]
pub struct Peer {
    pub uid: u32,
    pub user: String,
    pub admin: bool,
}

fn user_name(uid: u32) -> String {
    let mut buf = vec![0u8; 4096];
    // SAFETY: getpwuid_r writes into our buffers of the given sizes.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        if libc::getpwuid_r(
            uid,
            &mut pwd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        ) == 0
            && !result.is_null()
        {
            return CStr::from_ptr(pwd.pw_name).to_string_lossy().into_owned();
        }
    }
    format!("uid{uid}")
}

/// The gid of a group and its listed members.
fn group(name: &str) -> Option<(u32, Vec<String>)> {
    let cname = CString::new(name).ok()?;
    let mut buf = vec![0u8; 16384];
    // SAFETY: getgrnam_r writes into our buffers; gr_mem is a NULL-terminated array in buf.
    unsafe {
        let mut grp: libc::group = std::mem::zeroed();
        let mut result: *mut libc::group = std::ptr::null_mut();
        if libc::getgrnam_r(
            cname.as_ptr(),
            &mut grp,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        ) != 0
            || result.is_null()
        {
            return None;
        }
        let mut members = Vec::new();
        let mut p = grp.gr_mem;
        while !p.is_null() && !(*p).is_null() {
            members.push(CStr::from_ptr(*p).to_string_lossy().into_owned());
            p = p.add(1);
        }
        Some((grp.gr_gid, members))
    }
}

fn peer_of(stream: &UnixStream, admin_group: Option<&str>) -> io::Result<Peer> {
    let cred = stream.peer_cred()?;
    Ok(peer(cred.uid(), cred.gid(), admin_group))
}

/// Who may act, whichever way a command comes (this socket, or a console running the engines
/// in its own process): root, and members of the admin group (by primary group or membership).
pub fn peer(uid: u32, gid: u32, admin_group: Option<&str>) -> Peer {
    let user = user_name(uid);
    let admin = uid == 0
        || admin_group
            .and_then(group)
            .is_some_and(|(group_gid, members)| gid == group_gid || members.contains(&user));
    Peer { uid, user, admin }
}

/// Bind the socket: a stale file from a dead daemon is replaced, a live daemon is not.
pub async fn bind(opts: &ServerOptions) -> io::Result<UnixListener> {
    if let Some(dir) = opts.path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    if opts.path.exists() {
        if UnixStream::connect(&opts.path).await.is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!(
                    "another lvsdeck daemon is listening on {}",
                    opts.path.display()
                ),
            ));
        }
        std::fs::remove_file(&opts.path)?;
    }
    let listener = UnixListener::bind(&opts.path)?;
    let mode = match &opts.watch_group {
        Some(g) => {
            let (gid, _) = group(g).ok_or_else(|| {
                io::Error::other(format!("control socket group `{g}` does not exist"))
            })?;
            let c =
                CString::new(opts.path.as_os_str().as_encoded_bytes()).map_err(io::Error::other)?;
            // SAFETY: chown(2) on the path we just bound; -1 keeps the owner.
            if unsafe { libc::chown(c.as_ptr(), u32::MAX, gid) } != 0 {
                return Err(io::Error::last_os_error());
            }
            0o660
        }
        None => 0o600,
    };
    std::fs::set_permissions(&opts.path, std::fs::Permissions::from_mode(mode))?;
    Ok(listener)
}

/// Accept connections until the listener fails; each client is served on its own task, so a
/// slow or broken console never holds up the director.
pub async fn serve(listener: UnixListener, opts: ServerOptions, handles: Handles) {
    info!("control socket at {}", opts.path.display());
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let handles = handles.clone();
                let admin_group = opts.admin_group.clone();
                tokio::spawn(async move {
                    if let Err(e) = client(stream, admin_group.as_deref(), handles).await {
                        debug!("control client: {e}");
                    }
                });
            }
            Err(e) => {
                warn!("control socket accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn send(w: &mut tokio::net::unix::OwnedWriteHalf, r: &Response) -> io::Result<()> {
    let mut line = serde_json::to_vec(r).map_err(io::Error::other)?;
    line.push(b'\n');
    w.write_all(&line).await
}

/// A Snapshot, encoded off the runtime's thread: that thread also sends VRRP's adverts, and
/// a table of 2,000 services takes a while to copy and encode (seconds in the TCG guest).
async fn send_snapshot(
    w: &mut tokio::net::unix::OwnedWriteHalf,
    snapshot: Arc<Snapshot>,
) -> io::Result<()> {
    let line = tokio::task::spawn_blocking(move || {
        let response = Response::Snapshot {
            snapshot: Box::new((*snapshot).clone()),
        };
        serde_json::to_vec(&response).map(|mut line| {
            line.push(b'\n');
            line
        })
    })
    .await
    .map_err(io::Error::other)?
    .map_err(io::Error::other)?;
    w.write_all(&line).await
}

async fn client(stream: UnixStream, admin_group: Option<&str>, handles: Handles) -> io::Result<()> {
    let peer = peer_of(&stream, admin_group)?;
    let (read, mut write) = stream.into_split();
    send(
        &mut write,
        &Response::Hello {
            daemon_version: env!("CARGO_PKG_VERSION").into(),
            user: peer.user.clone(),
            uid: peer.uid,
            admin: peer.admin,
        },
    )
    .await?;
    let mut reader = BufReader::new(read);
    let mut line = Vec::new();
    loop {
        line.clear();
        // Read at most one byte past the limit: a longer line is refused unparsed.
        let n = (&mut reader)
            .take(MAX_REQUEST_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 {
            return Ok(());
        }
        if line.len() > MAX_REQUEST_BYTES && !line.ends_with(b"\n") {
            send(
                &mut write,
                &Response::Error {
                    message: format!("request longer than {MAX_REQUEST_BYTES} bytes; closing"),
                },
            )
            .await?;
            return Ok(());
        }
        let request: Request = match serde_json::from_slice(&line) {
            Ok(r) => r,
            Err(e) => {
                send(
                    &mut write,
                    &Response::Error {
                        message: format!("unreadable request: {e}"),
                    },
                )
                .await?;
                continue;
            }
        };
        match request {
            Request::Snapshot => {
                let snapshot = handles.snapshot.borrow().clone();
                send_snapshot(&mut write, snapshot).await?;
            }
            Request::Subscribe => return subscribe(write, handles).await,
            Request::Command { command } => {
                let (reply, rx) = oneshot::channel();
                let req = CommandRequest {
                    command,
                    user: peer.user.clone(),
                    uid: peer.uid,
                    admin: peer.admin,
                    reply,
                };
                if handles.commands.send(req).await.is_err() {
                    send(
                        &mut write,
                        &Response::Error {
                            message: "the director is stopping".into(),
                        },
                    )
                    .await?;
                    continue;
                }
                let response = match rx.await {
                    Ok(Ok(message)) => Response::Done { message },
                    Ok(Err(message)) => Response::Refused { message },
                    Err(_) => Response::Error {
                        message: "the director dropped the command".into(),
                    },
                };
                send(&mut write, &response).await?;
            }
        }
    }
}

/// Stream snapshots (at most four a second) and events until the client goes away.
async fn subscribe(
    mut write: tokio::net::unix::OwnedWriteHalf,
    handles: Handles,
) -> io::Result<()> {
    limit_send_buffer(&write);
    let _watching = crate::engine::director::Watching::new(&handles);
    let mut snapshots = handles.snapshot.clone();
    let mut events = handles.events.subscribe();
    let snapshot = snapshots.borrow_and_update().clone();
    send_snapshot(&mut write, snapshot).await?;
    let mut last_sent = tokio::time::Instant::now();
    loop {
        tokio::select! {
            changed = snapshots.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
                // At most four a second, without delaying one that comes after a quiet spell.
                tokio::time::sleep_until(last_sent + SNAPSHOT_SPACING).await;
                // Latest value: the next snapshot is taken only once the watcher has read the
                // previous ones, so a slow console gets the newest, never a queue of old ones.
                until_read(&write).await?;
                let snapshot = snapshots.borrow_and_update().clone();
                last_sent = tokio::time::Instant::now();
                send_snapshot(&mut write, snapshot).await?;
            }
            event = events.recv() => match event {
                Ok(event) => send(&mut write, &Response::Event { event }).await?,
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            }
        }
    }
}

/// The least time between two snapshots sent to one watcher.
const SNAPSHOT_SPACING: Duration = Duration::from_millis(250);

/// How often a stream looks whether its watcher has read what was sent.
const READ_POLL: Duration = Duration::from_millis(20);

/// Waits until the peer has read everything sent on `write` (the socket's unread bytes,
/// SIOCOUTQ, are 0). Under CPU starvation a console read slower than the daemon published:
/// the socket's buffer held a dozen snapshots and the console showed one 30-60 s old while
/// the daemon's was fresh. The kernel has no readiness event for "all read", so it polls.
async fn until_read(write: &tokio::net::unix::OwnedWriteHalf) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = write.as_ref().as_raw_fd();
    loop {
        let mut unread: libc::c_int = 0;
        // SAFETY: SIOCOUTQ writes one int to a live variable.
        if unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut unread) } != 0 {
            return Err(io::Error::last_os_error());
        }
        if unread == 0 {
            return Ok(());
        }
        tokio::time::sleep(READ_POLL).await;
    }
}

/// What a watcher may have unread before the stream waits for it. The stream sends the newest
/// snapshot whenever it can write; with the default buffer (~200 KiB) a slow console had
/// dozens queued and showed the daemon as it was seconds earlier.
const WATCH_SEND_BUFFER: libc::c_int = 32 * 1024;

fn limit_send_buffer(write: &tokio::net::unix::OwnedWriteHalf) {
    use std::os::fd::AsRawFd;
    let fd = write.as_ref().as_raw_fd();
    // SAFETY: setsockopt reads an int from a live variable of that size.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            (&WATCH_SEND_BUFFER as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        // Only freshness is at stake: the stream still works with the default buffer.
        tracing::debug!(
            "cannot shrink a watcher's send buffer: {}",
            io::Error::last_os_error()
        );
    }
}

/// The socket path a configuration names.
pub fn socket_path(config_socket: &Path, override_path: Option<&Path>) -> PathBuf {
    override_path.unwrap_or(config_socket).to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::peer;

    #[test]
    fn root_and_the_admin_groups_members_may_act_and_no_one_else() {
        assert!(peer(0, 0, None).admin);
        assert_eq!(peer(0, 0, None).user, "root");
        // nobody:nogroup (65534) on Debian.
        assert!(!peer(65534, 65534, None).admin);
        assert!(!peer(65534, 65534, Some("root")).admin);
        assert!(
            peer(65534, 65534, Some("nogroup")).admin,
            "by primary group"
        );
        assert!(!peer(65534, 65534, Some("no-such-group-lvsdeck")).admin);
    }
}
