//! The client's view, taken from outside the daemons: every 50 ms an ARP "who-has VIP" and
//! every MAC that answers within 45 ms; and a ping of the VIP every 50 ms with timestamps.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use lvsdeck::doctor::probe::{Frames, Tap};
use lvsdeck::doctor::wire::{Mac, arp_request, parse_arp_reply};

pub const SAMPLE_EVERY: Duration = Duration::from_millis(50);

/// One ARP probe: when (from the campaign's start) and who answered.
#[derive(Debug, Clone)]
pub struct Sample {
    pub at: Duration,
    pub macs: Vec<Mac>,
}

/// Probe from the calling thread (already in the client's namespace) until `stop`.
pub fn arp_samples(
    mac: Mac,
    own: Ipv4Addr,
    vip: Ipv4Addr,
    t0: Instant,
    stop: Arc<AtomicBool>,
) -> Vec<Sample> {
    // SAFETY: if_nametoindex on a NUL-terminated name.
    let ifindex = unsafe { libc::if_nametoindex(c"eth0".as_ptr()) };
    let tap = Tap::open(ifindex, Frames::ArpReplies).expect("an ARP tap in the client");
    let request = arp_request(mac, own, vip);
    let mut out = Vec::new();
    let mut next = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let at = t0.elapsed();
        tap.send(&request).expect("send ARP");
        let mut macs: Vec<Mac> = tap.collect(Duration::from_millis(45), |f| {
            parse_arp_reply(f).filter(|r| r.addr == vip).map(|r| r.mac)
        });
        macs.sort();
        macs.dedup();
        out.push(Sample { at, macs });
        next += SAMPLE_EVERY;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        } else {
            next = Instant::now();
        }
    }
    out
}

/// The pings of `ping -D -O -i 0.05`: (seconds from the campaign's start, answered).
pub fn pings(output: &str, t0_wall: SystemTime) -> Vec<(f64, bool)> {
    let base = t0_wall
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    output
        .lines()
        .filter_map(|line| {
            let stamp = line.strip_prefix('[')?.split(']').next()?;
            let at: f64 = stamp.parse().ok()?;
            let answered = if line.contains("bytes from") {
                true
            } else if line.contains("no answer yet") {
                false
            } else {
                return None;
            };
            Some((at - base, answered))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_lines_with_and_without_answers() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let out = "PING 10.0.0.1 (10.0.0.1) 56(84) bytes of data.\n\
                   [1000.500000] 64 bytes from 10.0.0.1: icmp_seq=1 ttl=64 time=0.1 ms\n\
                   [1001.000000] no answer yet for icmp_seq=2\n";
        assert_eq!(pings(out, t0), vec![(0.5, true), (1.0, false)]);
    }
}
