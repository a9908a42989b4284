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
//! - when a `hold` is not renewed within its term, the daemon is silent (stopped, stuck, or
//!   gone: the kernel closes a dead process's pipe). The guard, listening on the instances'
//!   interfaces for adverts (kernel-filtered to VRRP), removes the VIPs on the first advert of
//!   their VRID from another director with a priority above 0 (a gone daemon's at once, term or
//!   not: a backup that learnt of its death by BFD does not wait a term): another master holds them now
//!   (make-before-break, as the hand-over). Until then this director's kernel still serves the VIPs (its IPVS table
//!   is intact), and a director with no peer keeps serving; nothing is removed early;
//! - a daemon that resumes says `hold` again and the guard stands down; if it resumes as master
//!   after its VIPs went, its VIP repair puts them back. After the daemon is gone, an advert
//!   from the instance's own address is a restarted daemon speaking: the guard forgets the
//!   instance. It exits when the daemon is gone and nothing is held (at once after a graceful
//!   stop, which released everything first).
//!
//! This module holds the wire format and the guard's bookkeeping (pure, no I/O) and the
//! daemon's side of the pipe; the guard's own loop is `lvsdeck vip-guard` (`guard_cmd.rs`).

use std::collections::BTreeMap;
use std::io::Write;
use std::net::IpAddr;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::config::model::IpNet;

/// An address on an interface (by index), as the guard removes it.
pub type HeldAddr = (u32, IpNet);

/// Where an instance's adverts are heard, and who sends ours: the guard listens there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Speaker {
    /// The interface the adverts go out on (the VMAC, or the instance's interface).
    pub ifindex: u32,
    pub vrid: u8,
    /// This director's source address for them.
    pub src: IpAddr,
}

/// What an instance holds: for how long the daemon vouches for it, where it speaks, and the
/// addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    pub term: Duration,
    pub speaker: Speaker,
    pub addrs: Vec<HeldAddr>,
}

/// One message from the daemon to the guard, a line of text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// `hold NAME TERM_MS IFINDEX VRID SRC IFINDEX:ADDR/PLEN...`: the instance holds these;
    /// if no further word about it arrives within the term, the daemon is silent.
    Hold { instance: String, holding: Holding },
    /// `release NAME`: the instance holds nothing now.
    Release { instance: String },
}

impl Message {
    pub fn line(&self) -> String {
        match self {
            Message::Hold { instance, holding } => {
                let Speaker { ifindex, vrid, src } = holding.speaker;
                let mut s = format!(
                    "hold {instance} {} {ifindex} {vrid} {src}",
                    holding.term.as_millis()
                );
                for (index, net) in &holding.addrs {
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
                let mut next = |what: &str| words.next().ok_or(format!("no {what}"));
                let ms: u64 = next("term")?
                    .parse()
                    .map_err(|_| "no term in milliseconds")?;
                let ifindex = next("ifindex")?.parse().map_err(|_| "a bad ifindex")?;
                let vrid = next("vrid")?.parse().map_err(|_| "a bad vrid")?;
                let src = next("source")?
                    .parse()
                    .map_err(|_| "a bad source address")?;
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
                    holding: Holding {
                        term: Duration::from_millis(ms),
                        speaker: Speaker { ifindex, vrid, src },
                        addrs,
                    },
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
    /// Who advertises the VRID as master now.
    pub new_master: IpAddr,
    /// How long since the daemon last vouched for it.
    pub silent: Duration,
    /// Whether the daemon is gone (the pipe closed), or only silent.
    pub daemon_gone: bool,
    pub addrs: Vec<HeldAddr>,
}

/// An instance whose daemon has just fallen silent (for the log, and to start listening).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Silent {
    pub instance: String,
    pub speaker: Speaker,
    pub silent: Duration,
}

#[derive(Debug)]
struct Held {
    heard: Instant,
    until: Instant,
    holding: Holding,
    silent: bool,
}

/// The guard's bookkeeping: what each instance holds, until when the daemon vouches for it,
/// and which instances' daemon is silent.
#[derive(Debug, Default)]
pub struct Watch {
    held: BTreeMap<String, Held>,
    daemon_gone: bool,
}

impl Watch {
    pub fn handle(&mut self, now: Instant, message: Message) {
        match message {
            Message::Hold { instance, holding } => {
                let held = Held {
                    heard: now,
                    until: now + holding.term,
                    holding,
                    silent: false,
                };
                self.held.insert(instance, held);
            }
            Message::Release { instance } => {
                self.held.remove(&instance);
            }
        }
    }

    /// The pipe closed: nothing will be renewed.
    pub fn daemon_gone(&mut self) {
        self.daemon_gone = true;
    }

    /// Whether the guard has nothing left to do: the daemon is gone and nothing is held.
    pub fn done(&self) -> bool {
        self.daemon_gone && self.held.is_empty()
    }

    /// When the next term ends among the instances still vouched for.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.held
            .values()
            .filter(|h| !h.silent)
            .map(|h| h.until)
            .min()
    }

    /// The instances whose term has just ended: silent from now on.
    pub fn fall_silent(&mut self, now: Instant) -> Vec<Silent> {
        let mut out = Vec::new();
        for (name, h) in &mut self.held {
            if !h.silent && h.until <= now {
                h.silent = true;
                out.push(Silent {
                    instance: name.clone(),
                    speaker: h.holding.speaker,
                    silent: now.saturating_duration_since(h.heard),
                });
            }
        }
        out
    }

    /// The interfaces to listen on: those of every held instance, so that the first advert
    /// of a new master is heard however close it comes to the end of a term.
    pub fn listening(&self) -> Vec<u32> {
        let mut out: Vec<u32> = self
            .held
            .values()
            .map(|h| h.holding.speaker.ifindex)
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// An advert heard on `ifindex`: another master of a silent instance's VRID takes its
    /// VIPs away; our own address speaking again after the daemon died is a new daemon, whose
    /// business the instance is now.
    pub fn heard(
        &mut self,
        now: Instant,
        ifindex: u32,
        vrid: u8,
        src: IpAddr,
        priority: u8,
    ) -> Vec<Removal> {
        let daemon_gone = self.daemon_gone;
        let matching: Vec<String> = self
            .held
            .iter()
            .filter(|(_, h)| {
                let sp = h.holding.speaker;
                // A gone daemon vouches for nothing: a backup told of its death sooner than
                // a term (BFD's `takeover`) is master within milliseconds.
                (h.silent || daemon_gone || now >= h.until)
                    && sp.ifindex == ifindex
                    && sp.vrid == vrid
            })
            .map(|(n, _)| n.clone())
            .collect();
        let mut out = Vec::new();
        for name in matching {
            let own = self.held[&name].holding.speaker.src == src;
            if own {
                if daemon_gone {
                    self.held.remove(&name);
                }
                continue;
            }
            if priority == 0 {
                continue;
            }
            if let Some(h) = self.held.remove(&name) {
                out.push(Removal {
                    instance: name,
                    new_master: src,
                    silent: now.saturating_duration_since(h.heard),
                    daemon_gone,
                    addrs: h.holding.addrs,
                });
            }
        }
        out
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
    /// What was last said per instance, and when (a master's renewals are spaced).
    said: BTreeMap<String, (Holding, Instant)>,
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

    /// Say what each instance holds now, or that it holds nothing (`None`); an instance no
    /// longer listed (gone in a reload) holds nothing either.
    pub fn update(&mut self, now: Instant, instances: Vec<(String, Option<Holding>)>) {
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
                Some(holding) => {
                    // A renewal with nothing new waits until a quarter of the term has passed.
                    if let Some((said, at)) = self.said.get(&instance)
                        && said.speaker == holding.speaker
                        && said.addrs == holding.addrs
                        && now.saturating_duration_since(*at) < holding.term / 4
                    {
                        continue;
                    }
                    self.said.insert(instance.clone(), (holding.clone(), now));
                    Message::Hold { instance, holding }
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
                    .map(|(name, (holding, _))| {
                        Message::Hold {
                            instance: name.clone(),
                            holding: holding.clone(),
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

    const OURS: &str = "10.0.0.71";
    const PEER: &str = "10.0.0.72";

    fn hold(name: &str, ms: u64) -> Message {
        Message::Hold {
            instance: name.into(),
            holding: Holding {
                term: Duration::from_millis(ms),
                speaker: Speaker {
                    ifindex: 2,
                    vrid: 51,
                    src: OURS.parse().unwrap(),
                },
                addrs: vec![(2, net("10.0.0.100/24"))],
            },
        }
    }

    #[test]
    fn messages_round_trip() {
        let mut m = hold("VI_1", 3000);
        if let Message::Hold { holding, .. } = &mut m {
            holding.addrs.push((7, net("fd00::100/64")));
        }
        assert_eq!(
            m.line(),
            "hold VI_1 3000 2 51 10.0.0.71 2:10.0.0.100/24 7:fd00::100/64\n"
        );
        assert_eq!(Message::parse(&m.line()).unwrap(), m);
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
            Message::parse("hold VI_1 10 2 51 x")
                .unwrap_err()
                .contains("source")
        );
        assert!(
            Message::parse("hold VI_1 10 2 51 10.0.0.1 x")
                .unwrap_err()
                .contains("IFINDEX")
        );
        assert!(Message::parse("grab VI_1").unwrap_err().contains("grab"));
    }

    #[test]
    fn silence_alone_removes_nothing_another_master_does() {
        let t0 = Instant::now();
        let mut w = Watch::default();
        w.handle(t0, hold("A", 3000));
        w.handle(t0, hold("B", 3000));
        w.handle(t0 + Duration::from_secs(2), hold("B", 3000));
        assert!(w.fall_silent(t0 + Duration::from_millis(2999)).is_empty());
        let silent = w.fall_silent(t0 + Duration::from_secs(3));
        assert_eq!(silent.len(), 1);
        assert_eq!(silent[0].instance, "A");
        assert_eq!(w.listening(), vec![2]);
        // B is still vouched for: another master's advert does not touch it.
        assert_eq!(w.next_deadline(), Some(t0 + Duration::from_secs(5)));
        let t = t0 + Duration::from_secs(4);
        // Another VRID, a priority-0 release, our own address: nothing goes.
        assert!(w.heard(t, 2, 52, PEER.parse().unwrap(), 100).is_empty());
        assert!(w.heard(t, 2, 51, PEER.parse().unwrap(), 0).is_empty());
        assert!(w.heard(t, 2, 51, OURS.parse().unwrap(), 100).is_empty());
        let gone = w.heard(t, 2, 51, PEER.parse().unwrap(), 100);
        assert_eq!(gone.len(), 1, "only the silent instance");
        assert_eq!(gone[0].instance, "A");
        assert_eq!(gone[0].silent, Duration::from_secs(4));
        assert!(!gone[0].daemon_gone);
        // A term that has run out counts before its timer has fired.
        let late = w.heard(
            t0 + Duration::from_secs(5),
            2,
            51,
            PEER.parse().unwrap(),
            100,
        );
        assert_eq!(late.len(), 1);
        assert_eq!(late[0].instance, "B");
    }

    /// A dead daemon's VIPs go at the first advert of another master, within its term: a
    /// backup that learnt of the death by BFD is master 40 ms after it.
    #[test]
    fn a_gone_daemon_vouches_for_nothing() {
        let t0 = Instant::now();
        let mut w = Watch::default();
        w.handle(t0, hold("A", 3000));
        let t = t0 + Duration::from_millis(500);
        assert!(w.heard(t, 2, 51, PEER.parse().unwrap(), 100).is_empty());
        w.daemon_gone();
        let gone = w.heard(t, 2, 51, PEER.parse().unwrap(), 100);
        assert_eq!(gone.len(), 1);
        assert!(gone[0].daemon_gone);
    }

    #[test]
    fn a_resumed_daemon_stands_the_guard_down_and_a_restarted_one_takes_over() {
        let t0 = Instant::now();
        let mut w = Watch::default();
        w.handle(t0, hold("A", 3000));
        w.fall_silent(t0 + Duration::from_secs(3));
        w.handle(t0 + Duration::from_secs(4), hold("A", 3000));
        assert!(
            w.heard(
                t0 + Duration::from_secs(4),
                2,
                51,
                PEER.parse().unwrap(),
                100
            )
            .is_empty()
        );
        // The daemon dies; a new one on this host becomes master: its business now.
        w.daemon_gone();
        w.fall_silent(t0 + Duration::from_secs(8));
        assert!(!w.done());
        assert!(
            w.heard(
                t0 + Duration::from_secs(9),
                2,
                51,
                OURS.parse().unwrap(),
                150
            )
            .is_empty()
        );
        assert!(w.done());
    }

    #[test]
    fn a_released_instance_is_forgotten() {
        let t0 = Instant::now();
        let mut w = Watch::default();
        w.handle(t0, hold("A", 3000));
        w.handle(
            t0,
            Message::Release {
                instance: "A".into(),
            },
        );
        w.daemon_gone();
        assert!(w.done());
    }
}
