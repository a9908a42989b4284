//! The VIP guard: a small process beside the daemon that takes the VIPs off this director when
//! the daemon can no longer speak for them.
//!
//! A VIP is a kernel address: it outlives the process that added it. A master that is
//! SIGKILLed, OOM-killed or aborts leaves its VIPs up, and a master that is frozen (SIGSTOP, a
//! stuck runtime) keeps them while a backup, no longer hearing adverts, takes over. Either way
//! two hosts answer ARP for one VIP — a split brain on the wire that keepalived shows too and
//! that lasts until the daemon is restarted or resumes. The guard ends it:
//!
//! - the daemon tells the guard, over a pipe, which VIPs each instance holds and for how long
//!   it vouches for them (`hold`, renewed at every step of a master: at least once per advert
//!   interval; the term is the instance's own Master_Down_Interval, `3 * interval + skew`,
//!   before which no backup of a lower priority takes over), and when an instance stops
//!   holding them (`release`);
//! - when a `hold` is not renewed within its term, the guard removes that instance's VIPs. A
//!   daemon that resumes and is still master puts them back through its VIP repair;
//! - when the pipe closes (the daemon died: the kernel closes a dead process's pipes) nothing
//!   renews anything any more: each VIP goes at the end of its term, then the guard exits. Not
//!   at once: until a backup can take over, this director's kernel still forwards for the VIP
//!   (its IPVS table is intact), so removing it early would only open a gap. A graceful stop
//!   has released everything before the pipe closes, and the guard exits at once.
//!
//! This module holds the wire format and the guard's bookkeeping (pure, no I/O) and the
//! daemon's side of the pipe; the guard's own loop is `lvsdeck vip-guard` (`guard_cmd.rs`).

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::config::model::IpNet;

/// An address on an interface (by index), as the guard removes it.
pub type HeldAddr = (u32, IpNet);

/// What an instance holds now: for how long the daemon vouches for it, and the addresses;
/// `None` when it holds nothing.
pub type Holding = Option<(Duration, Vec<HeldAddr>)>;

/// One message from the daemon to the guard, a line of text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// `hold NAME MS IFINDEX:ADDR/PLEN...`: the instance holds these; remove them if no
    /// further word about it arrives within `term`.
    Hold {
        instance: String,
        term: Duration,
        addrs: Vec<HeldAddr>,
    },
    /// `release NAME`: the instance holds nothing now.
    Release { instance: String },
}

impl Message {
    pub fn line(&self) -> String {
        match self {
            Message::Hold {
                instance,
                term,
                addrs,
            } => {
                let mut s = format!("hold {instance} {}", term.as_millis());
                for (index, net) in addrs {
                    s.push_str(&format!(" {index}:{net}"));
                }
                s.push('\n');
                s
            }
            Message::Release { instance } => format!("release {instance}\n"),
        }
    }

    pub fn parse(line: &str) -> Result<Message, String> {
        let mut words = line.split_whitespace();
        let verb = words.next().ok_or("an empty line")?;
        let instance = words.next().ok_or("no instance name")?.to_string();
        match verb {
            "hold" => {
                let ms: u64 = words
                    .next()
                    .and_then(|w| w.parse().ok())
                    .ok_or("no term in milliseconds")?;
                let addrs = words
                    .map(|w| {
                        let (index, net) = w.split_once(':').ok_or(format!("{w}: no IFINDEX:"))?;
                        let index = index.parse().map_err(|_| format!("{w}: bad ifindex"))?;
                        let net = net.parse().map_err(|e| format!("{w}: {e}"))?;
                        Ok((index, net))
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                Ok(Message::Hold {
                    instance,
                    term: Duration::from_millis(ms),
                    addrs,
                })
            }
            "release" => Ok(Message::Release { instance }),
            other => Err(format!("unknown verb {other:?}")),
        }
    }
}

/// What the guard removes, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    pub instance: String,
    /// How long since the daemon last vouched for it.
    pub silent: Duration,
    /// Whether the daemon is gone (the pipe closed), or only silent.
    pub daemon_gone: bool,
    pub addrs: Vec<HeldAddr>,
}

#[derive(Debug)]
struct Held {
    heard: Instant,
    until: Instant,
    addrs: Vec<HeldAddr>,
}

/// The guard's bookkeeping: what each instance holds and until when the daemon vouches for it.
#[derive(Debug, Default)]
pub struct Watch {
    held: BTreeMap<String, Held>,
    daemon_gone: bool,
}

impl Watch {
    pub fn handle(&mut self, now: Instant, message: Message) {
        match message {
            Message::Hold {
                instance,
                term,
                addrs,
            } => {
                let held = Held {
                    heard: now,
                    until: now + term,
                    addrs,
                };
                self.held.insert(instance, held);
            }
            Message::Release { instance } => {
                self.held.remove(&instance);
            }
        }
    }

    /// The pipe closed: nothing will be renewed; each term runs out.
    pub fn daemon_gone(&mut self) {
        self.daemon_gone = true;
    }

    /// Whether the guard has nothing left to do: the daemon is gone and nothing is held.
    pub fn done(&self) -> bool {
        self.daemon_gone && self.held.is_empty()
    }

    /// When the next term ends, if anything is held.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.held.values().map(|h| h.until).min()
    }

    /// The instances whose term has ended: their VIPs go, and they are forgotten.
    pub fn expired(&mut self, now: Instant) -> Vec<Removal> {
        let names: Vec<String> = self
            .held
            .iter()
            .filter(|(_, h)| h.until <= now)
            .map(|(n, _)| n.clone())
            .collect();
        names
            .into_iter()
            .filter_map(|n| {
                let h = self.held.remove(&n)?;
                Some(Removal {
                    instance: n,
                    silent: now.saturating_duration_since(h.heard),
                    daemon_gone: self.daemon_gone,
                    addrs: h.addrs,
                })
            })
            .collect()
    }
}

/// The program the daemon starts as its guard (`lvsdeck vip-guard`); unset, no guard runs
/// (library users and tests that drive a runner directly).
static GUARD_PROGRAM: OnceLock<std::path::PathBuf> = OnceLock::new();

/// Have every VRRP runner of this process start a guard: `program vip-guard`.
pub fn enable(program: std::path::PathBuf) {
    let _ = GUARD_PROGRAM.set(program);
}

/// The daemon's end of the pipe. Writes never block the runtime: the pipe is non-blocking and
/// a line that does not fit (a guard that stopped reading) is dropped and said once.
pub struct Client {
    program: std::path::PathBuf,
    child: Option<(Child, ChildStdin)>,
    /// What was last said per instance: the addresses and when (a master's renewals are spaced).
    said: BTreeMap<String, (Vec<HeldAddr>, Instant)>,
    full_warned: bool,
}

impl Client {
    /// A guard for this process's runner, if guards are enabled.
    pub fn start() -> Option<Client> {
        let program = GUARD_PROGRAM.get()?.clone();
        let mut client = Client {
            program,
            child: None,
            said: BTreeMap::new(),
            full_warned: false,
        };
        client.spawn();
        Some(client)
    }

    fn spawn(&mut self) {
        let started = Command::new(&self.program)
            .arg("vip-guard")
            .stdin(Stdio::piped())
            .spawn();
        match started {
            Ok(mut child) => {
                let Some(stdin) = child.stdin.take() else {
                    return;
                };
                set_nonblocking(&stdin);
                self.child = Some((child, stdin));
            }
            Err(e) => tracing::error!(
                "VIP guard: cannot start `{} vip-guard`: {e}; a crash of this daemon would leave \
                 its VIPs up",
                self.program.display()
            ),
        }
    }

    /// Say what each instance holds now (`Some((term, addrs))`) or that it holds nothing;
    /// an instance no longer listed (gone in a reload) holds nothing either.
    pub fn update(&mut self, now: Instant, instances: Vec<(String, Holding)>) {
        let gone: Vec<String> = self
            .said
            .keys()
            .filter(|n| !instances.iter().any(|(m, _)| m == *n))
            .cloned()
            .collect();
        let mut lines = String::new();
        for name in gone {
            self.said.remove(&name);
            lines.push_str(&Message::Release { instance: name }.line());
        }
        for (instance, holding) in instances {
            let message = match holding {
                Some((term, addrs)) => {
                    // A renewal with nothing new waits until a quarter of the term has passed.
                    if let Some((said, at)) = self.said.get(&instance)
                        && *said == addrs
                        && now.saturating_duration_since(*at) < term / 4
                    {
                        continue;
                    }
                    self.said.insert(instance.clone(), (addrs.clone(), now));
                    Message::Hold {
                        instance,
                        term,
                        addrs,
                    }
                }
                None => {
                    if self.said.remove(&instance).is_none() {
                        continue;
                    }
                    Message::Release { instance }
                }
            };
            lines.push_str(&message.line());
        }
        if !lines.is_empty() {
            self.send(&lines);
        }
    }

    fn send(&mut self, line: &str) {
        let Some((_, stdin)) = self.child.as_mut() else {
            return;
        };
        match stdin.write_all(line.as_bytes()) {
            Ok(()) => self.full_warned = false,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if !self.full_warned {
                    tracing::warn!("VIP guard: not reading; its word on the VIPs may be late");
                    self.full_warned = true;
                }
            }
            Err(e) => {
                // The guard died: a new one, told everything held now.
                tracing::error!("VIP guard: {e}; starting a new one");
                if let Some((mut child, _)) = self.child.take() {
                    let _ = child.wait();
                }
                self.spawn();
                let all: Vec<String> = self
                    .said
                    .iter()
                    .map(|(name, (addrs, _))| {
                        Message::Hold {
                            instance: name.clone(),
                            term: Duration::from_secs(3),
                            addrs: addrs.clone(),
                        }
                        .line()
                    })
                    .collect();
                if let Some((_, stdin)) = self.child.as_mut() {
                    for line in all {
                        let _ = stdin.write_all(line.as_bytes());
                    }
                }
            }
        }
    }
}

impl Drop for Client {
    /// The pipe closes and the guard, holding nothing after a stop, exits.
    fn drop(&mut self) {
        if let Some((mut child, stdin)) = self.child.take() {
            drop(stdin);
            let _ = child.wait();
        }
    }
}

fn set_nonblocking(stdin: &ChildStdin) {
    use std::os::fd::AsRawFd;
    let fd = stdin.as_raw_fd();
    // SAFETY: fcntl(2) on a pipe descriptor this process owns.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
}

/// The addresses of a removal, for a log line: `10.0.0.100/24 (if 2)`.
pub fn describe(addrs: &[HeldAddr]) -> String {
    addrs
        .iter()
        .map(|(index, net)| format!("{net} (if {index})"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn messages_round_trip() {
        let hold = Message::Hold {
            instance: "VI_1".into(),
            term: Duration::from_millis(3000),
            addrs: vec![(2, net("10.0.0.100/24")), (7, net("fd00::100/64"))],
        };
        assert_eq!(
            hold.line(),
            "hold VI_1 3000 2:10.0.0.100/24 7:fd00::100/64\n"
        );
        assert_eq!(Message::parse(&hold.line()).unwrap(), hold);
        let release = Message::Release {
            instance: "VI_1".into(),
        };
        assert_eq!(Message::parse(&release.line()).unwrap(), release);
    }

    #[test]
    fn bad_lines_say_why() {
        assert!(Message::parse("").unwrap_err().contains("empty"));
        assert!(Message::parse("hold VI_1").unwrap_err().contains("term"));
        assert!(
            Message::parse("hold VI_1 10 x")
                .unwrap_err()
                .contains("IFINDEX")
        );
        assert!(Message::parse("grab VI_1").unwrap_err().contains("grab"));
    }

    #[test]
    fn a_term_not_renewed_removes_that_instance_only() {
        let t0 = Instant::now();
        let mut w = Watch::default();
        let hold = |name: &str, ms| Message::Hold {
            instance: name.into(),
            term: Duration::from_millis(ms),
            addrs: vec![(2, net("10.0.0.100/24"))],
        };
        w.handle(t0, hold("A", 3000));
        w.handle(t0, hold("B", 3000));
        w.handle(t0 + Duration::from_secs(2), hold("B", 3000));
        assert_eq!(w.next_deadline(), Some(t0 + Duration::from_secs(3)));
        assert!(w.expired(t0 + Duration::from_millis(2999)).is_empty());
        let gone = w.expired(t0 + Duration::from_secs(3));
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].instance, "A");
        assert_eq!(gone[0].silent, Duration::from_secs(3));
        assert!(!gone[0].daemon_gone);
        assert_eq!(w.next_deadline(), Some(t0 + Duration::from_secs(5)));
    }

    #[test]
    fn a_released_instance_is_forgotten_and_a_gone_daemon_s_vips_last_their_term() {
        let t0 = Instant::now();
        let mut w = Watch::default();
        for name in ["A", "B"] {
            w.handle(
                t0,
                Message::Hold {
                    instance: name.into(),
                    term: Duration::from_secs(3),
                    addrs: vec![(2, net("10.0.0.100/24"))],
                },
            );
        }
        w.handle(
            t0,
            Message::Release {
                instance: "A".into(),
            },
        );
        w.daemon_gone();
        assert!(!w.done());
        assert!(w.expired(t0 + Duration::from_secs(1)).is_empty());
        let gone = w.expired(t0 + Duration::from_secs(3));
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].instance, "B");
        assert!(gone[0].daemon_gone);
        assert!(w.done());
    }
}
