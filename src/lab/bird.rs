//! BIRD 2 for the lab and the tests: the ECMP router's configuration, a director's base
//! configuration (which includes the fragment lvsdeck writes), and starting `bird` in a
//! namespace in the foreground with its own socket and pid file.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The daemon, by name: Debian's bird2 puts it in /usr/sbin, the test guest in /bin.
pub const BIRD: &str = "bird";

/// One director as the router sees it: its address, its AS, and whether the session runs BFD.
pub struct Peer {
    pub address: String,
    pub asn: u32,
    pub bfd: bool,
}

/// The router: one eBGP session per director, accepting only host routes, and the kernel
/// protocol merging equal routes into one multipath route (ECMP). BFD at `bfd_ms` × 3 on the
/// sessions that ask for it.
pub fn router_config(router: &str, router_as: u32, directors: &[Peer], bfd_ms: u32) -> String {
    let mut c = format!(
        "router id {router};\nlog stderr all;\nprotocol device {{ }}\n\
         protocol kernel {{\n\tmerge paths on;\n\tipv4 {{ import none; export where source = RTS_BGP; }};\n}}\n"
    );
    if directors.iter().any(|d| d.bfd) {
        let _ = writeln!(
            c,
            "protocol bfd {{\n\tinterface \"*\" {{ min rx interval {bfd_ms} ms; min tx interval {bfd_ms} ms; multiplier 3; }};\n}}"
        );
    }
    for (i, d) in directors.iter().enumerate() {
        let _ = writeln!(
            c,
            "protocol bgp director{} {{\n\tlocal {router} as {router_as};\n\tneighbor {} as {};\n\t\
             hold time 3;\n\tkeepalive time 1;\n\tconnect retry time 2;\n\terror wait time 1, 5;\n\t{}\
             ipv4 {{ import where net.len = 32; export none; }};\n}}",
            i + 1,
            d.address,
            d.asn,
            if d.bfd { "bfd on;\n\t" } else { "" },
        );
    }
    c
}

/// A director's bird.conf: its router id and the fragment lvsdeck owns.
pub fn director_config(router_id: &str, fragment: &Path) -> String {
    format!(
        "router id {router_id};\nlog stderr all;\nprotocol device {{ }}\ninclude \"{}\";\n",
        fragment.display()
    )
}

/// A running `bird -f`; killed on drop.
pub struct Bird {
    pub child: Child,
    pub socket: PathBuf,
    pub log: PathBuf,
}

impl Bird {
    /// Start BIRD in namespace `ns` with `config` (written to `dir/NAME.conf`), its socket
    /// `dir/NAME.ctl`; waits until the socket answers.
    pub fn start(ns: &str, name: &str, config: &str, dir: &Path) -> io::Result<Bird> {
        let conf = dir.join(format!("{name}.conf"));
        std::fs::write(&conf, config)?;
        let socket = dir.join(format!("{name}.ctl"));
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        let child = Command::new("ip")
            .args(["netns", "exec", ns, BIRD, "-f", "-c"])
            .arg(&conf)
            .arg("-s")
            .arg(&socket)
            .arg("-P")
            .arg(dir.join(format!("{name}.pid")))
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()?;
        let mut bird = Bird { child, socket, log };
        let start = Instant::now();
        while std::os::unix::net::UnixStream::connect(&bird.socket).is_err() {
            if let Some(status) = bird.child.try_wait()? {
                return Err(io::Error::other(format!(
                    "bird in {ns} exited ({status}): {}",
                    std::fs::read_to_string(&bird.log).unwrap_or_default()
                )));
            }
            if start.elapsed() > Duration::from_secs(10) {
                let _ = bird.child.kill();
                return Err(io::Error::other(format!("bird in {ns}: no socket in 10 s")));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(bird)
    }

    /// SIGKILL, as a crash.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Bird {
    fn drop(&mut self) {
        self.kill();
    }
}
