//! DNS_CHECK: one query over UDP to the server, up when the answer to it says NOERROR.
//!
//! As keepalived (`check_dns.c`): the query asks recursion, class IN, for `name` (default the
//! root) of `type` (default SOA), with a random id; answers with another id, and queries
//! (QR clear), are not ours and are skipped until connect_timeout; a non-zero RCODE is down;
//! an ICMP port unreachable is down. Beyond keepalived, the answer's question must be ours
//! (a resolver's late answer to an earlier attempt does not count) and the message must
//! decode: a server that answers garbage is not a working DNS server. The wire format is
//! hickory-proto's, not hand-written.

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::{Duration, Instant};

use super::udp::{self, refused};
use super::{CheckResult, fmt_dur};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RecordType};

/// The record types keepalived 2.2.7 queries (`DNS_TYPE` in check_dns.c).
pub const TYPES: &[&str] = &[
    "A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA", "RRSIG", "DNSKEY",
];
/// keepalived's defaults: the root's SOA.
pub const DEFAULT_TYPE: &str = "SOA";
pub const DEFAULT_NAME: &str = ".";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsProbe {
    pub addr: SocketAddr,
    pub bind: Option<SocketAddr>,
    pub query: Query,
    pub timeout: Duration,
}

/// The question of a DNS_CHECK: `name` (a name with an empty label is refused, as keepalived
/// refuses it) of `kind`, one of [`TYPES`] in any case.
pub fn question(name: &str, kind: &str) -> Result<Query, String> {
    let upper = kind.to_ascii_uppercase();
    if !TYPES.contains(&upper.as_str()) {
        return Err(format!(
            "unknown DNS type `{kind}`; one of {}",
            TYPES.join(", ")
        ));
    }
    let rtype = RecordType::from_str(&upper).map_err(|e| format!("type `{kind}`: {e}"))?;
    if name != "." && (name.starts_with('.') || name.contains("..")) {
        return Err(format!("name `{name}` has an empty label"));
    }
    let mut fqdn = Name::from_ascii(name).map_err(|e| format!("name `{name}`: {e}"))?;
    fqdn.set_fqdn(true);
    let mut q = Query::query(fqdn, rtype);
    q.set_query_class(DNSClass::IN);
    Ok(q)
}

/// The query's bytes with id `id`.
pub fn encode_query(id: u16, q: &Query) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(q.clone());
    m.to_vec().expect("a query of one valid question encodes")
}

/// What one datagram is to an attempt that sent `id` asking `q`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not the answer to this query (another id, a query, another question): wait on.
    NotOurs(&'static str),
    Up(String),
    Down(String),
}

/// Judge one datagram.
pub fn judge(id: u16, q: &Query, datagram: &[u8]) -> Verdict {
    // The header's id and QR bit first, as keepalived: a stray datagram is skipped, not
    // held against the server.
    if datagram.len() < 12 {
        return Verdict::NotOurs("shorter than a DNS header");
    }
    if u16::from_be_bytes([datagram[0], datagram[1]]) != id {
        return Verdict::NotOurs("another query's id");
    }
    if datagram[2] & 0x80 == 0 {
        return Verdict::NotOurs("a query, not an answer");
    }
    let answer = match Message::from_vec(datagram) {
        Ok(m) => m,
        Err(e) => return Verdict::Down(format!("malformed answer: {e}")),
    };
    if answer.queries != std::slice::from_ref(q) {
        return Verdict::NotOurs("an answer to another question");
    }
    match answer.metadata.response_code {
        ResponseCode::NoError => Verdict::Up(format!(
            "NOERROR, {} answer record{}",
            answer.answers.len(),
            if answer.answers.len() == 1 { "" } else { "s" }
        )),
        code => Verdict::Down(format!("answered {code}")),
    }
}

/// One DNS_CHECK attempt started at `start`.
pub async fn check(p: &DnsProbe, start: Instant) -> CheckResult {
    if let Some(not_run) = udp::unbindable(p.bind, start) {
        return not_run;
    }
    match exchange(p).await {
        Ok(msg) => CheckResult::ok(msg, start.elapsed()),
        Err(msg) => CheckResult::fail(msg, start.elapsed()),
    }
}

async fn exchange(p: &DnsProbe) -> Result<String, String> {
    let socket = udp::connected(p.addr, p.bind).await?;
    let id = random_id();
    socket
        .send(&encode_query(id, &p.query))
        .await
        .map_err(|e| format!("sending: {}", refused(&e)))?;
    let deadline = tokio::time::Instant::now() + p.timeout;
    let mut buf = vec![0u8; 4096];
    let mut skipped = None;
    loop {
        match tokio::time::timeout_at(deadline, socket.recv(&mut buf)).await {
            Ok(Ok(n)) => match judge(id, &p.query, &buf[..n]) {
                Verdict::Up(msg) => return Ok(msg),
                Verdict::Down(msg) => return Err(msg),
                Verdict::NotOurs(why) => skipped = Some(why),
            },
            Ok(Err(e)) => return Err(refused(&e)),
            Err(_) => {
                let also = skipped.map_or(String::new(), |w| format!(" (skipped {w})"));
                return Err(format!("no answer in {}{also}", fmt_dur(p.timeout)));
            }
        }
    }
}

/// A query id no one on the path can guess (keepalived uses random()).
fn random_id() -> u16 {
    let mut b = [0u8; 2];
    match rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut b)
    {
        Ok(()) => u16::from_ne_bytes(b),
        // The clock's nanoseconds are a poor but working fallback.
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x1d5, |d| d.subsec_nanos() as u16),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::{RData, Record, rdata};

    fn soa_root() -> Query {
        question(DEFAULT_NAME, DEFAULT_TYPE).unwrap()
    }

    fn answer(id: u16, q: &Query, code: ResponseCode) -> Message {
        let mut m = Message::new(id, MessageType::Response, OpCode::Query);
        m.metadata.response_code = code;
        m.add_query(q.clone());
        m
    }

    #[test]
    fn the_query_is_keepalived_s() {
        let q = question("example.org", "a").unwrap();
        let bytes = encode_query(0x1234, &q);
        assert_eq!(
            &bytes[..4],
            &[0x12, 0x34, 0x01, 0x00],
            "id, RD set, QR clear"
        );
        assert_eq!(&bytes[4..12], &[0, 1, 0, 0, 0, 0, 0, 0], "one question");
        assert_eq!(
            &bytes[12..],
            b"\x07example\x03org\x00\x00\x01\x00\x01",
            "QNAME, type A, class IN"
        );
        let root = encode_query(1, &soa_root());
        assert_eq!(&root[12..], b"\x00\x00\x06\x00\x01", "the root's SOA");
    }

    #[test]
    fn names_and_types_are_checked_as_keepalived_checks_them() {
        assert!(question("a..b", "A").is_err(), "empty label");
        assert!(question(".a", "A").is_err(), "empty first label");
        assert!(question("a.b.", "A").is_ok(), "a trailing dot is the root");
        assert!(question("x", "SRV").is_err(), "keepalived has no SRV");
        for t in TYPES {
            assert!(question("x", t).is_ok(), "{t}");
        }
    }

    #[test]
    fn answers_are_judged() {
        let q = question("lab.test", "A").unwrap();
        let mut ok = answer(7, &q, ResponseCode::NoError);
        ok.add_answer(Record::from_rdata(
            Name::from_ascii("lab.test.").unwrap(),
            60,
            RData::A(rdata::A(std::net::Ipv4Addr::new(10, 0, 0, 1))),
        ));
        let judge_msg = |m: &Message| judge(7, &q, &m.to_vec().unwrap());
        assert_eq!(
            judge_msg(&ok),
            Verdict::Up("NOERROR, 1 answer record".into())
        );
        assert_eq!(
            judge_msg(&answer(7, &q, ResponseCode::NXDomain)),
            Verdict::Down("answered Non-Existent Domain".into())
        );
        assert!(matches!(
            judge_msg(&answer(7, &q, ResponseCode::ServFail)),
            Verdict::Down(_)
        ));
        assert!(matches!(
            judge_msg(&answer(8, &q, ResponseCode::NoError)),
            Verdict::NotOurs(_)
        ));
        let other = question("other.test", "A").unwrap();
        assert!(matches!(
            judge_msg(&answer(7, &other, ResponseCode::NoError)),
            Verdict::NotOurs(_)
        ));
        // Our own query echoed back (QR clear) is not an answer.
        assert!(matches!(
            judge(7, &q, &encode_query(7, &q)),
            Verdict::NotOurs(_)
        ));
    }

    #[test]
    fn malformed_datagrams_never_pass() {
        let q = soa_root();
        assert!(matches!(judge(1, &q, &[]), Verdict::NotOurs(_)));
        assert!(matches!(judge(1, &q, &[0, 1, 0x80]), Verdict::NotOurs(_)));
        let good = answer(1, &q, ResponseCode::NoError).to_vec().unwrap();
        // Cut inside the question; a count that promises records that are not there.
        assert!(matches!(
            judge(1, &q, &good[..good.len() - 2]),
            Verdict::Down(_)
        ));
        let mut lying = good.clone();
        lying[7] = 3;
        assert!(matches!(judge(1, &q, &lying), Verdict::Down(_)));
    }
}
