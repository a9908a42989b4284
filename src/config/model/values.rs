//! Value types with a text form: durations, addresses with a prefix, status code ranges.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration written as `"1s"`, `"100ms"`, `"1.5s"`, `"2m"`, or a number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Dur(pub Duration);

impl Dur {
    pub const ZERO: Dur = Dur(Duration::ZERO);

    pub const fn from_secs(s: u64) -> Self {
        Dur(Duration::from_secs(s))
    }
    pub const fn from_millis(ms: u64) -> Self {
        Dur(Duration::from_millis(ms))
    }
    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }
    /// Seconds as a float, the way keepalived writes them (`0.1`, `3`).
    pub fn from_secs_f64(s: f64) -> Option<Self> {
        if s.is_finite() && (0.0..1e9).contains(&s) {
            // Round to microseconds: keepalived's timer resolution.
            Some(Dur(Duration::from_micros((s * 1e6).round() as u64)))
        } else {
            None
        }
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = self.0.as_micros();
        if us.is_multiple_of(1_000_000) {
            write!(f, "{}s", us / 1_000_000)
        } else if us.is_multiple_of(1000) {
            write!(f, "{}ms", us / 1000)
        } else {
            write!(f, "{us}us")
        }
    }
}

impl FromStr for Dur {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let value: f64 = num.parse().map_err(|_| {
            format!("`{s}` is not a duration; write e.g. \"1s\", \"100ms\" or \"2m\"")
        })?;
        let scale = match unit.trim() {
            "" | "s" => 1.0,
            "ms" => 1e-3,
            "us" => 1e-6,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            other => {
                return Err(format!(
                    "unknown duration unit `{other}` in `{s}`; use us, ms, s, m or h"
                ));
            }
        };
        Dur::from_secs_f64(value * scale).ok_or_else(|| format!("duration `{s}` is out of range"))
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as \"1s\" or \"100ms\", or a number of seconds")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Dur, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Dur, E> {
                u64::try_from(v)
                    .map(Dur::from_secs)
                    .map_err(|_| E::custom("a duration cannot be negative"))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Dur, E> {
                Ok(Dur::from_secs(v))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Dur, E> {
                Dur::from_secs_f64(v).ok_or_else(|| E::custom("duration out of range"))
            }
        }
        d.deserialize_any(V)
    }
}

/// An address with an optional prefix length (`10.0.0.1/24`); without one, a host route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpNet {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl IpNet {
    pub fn host(addr: IpAddr) -> Self {
        let prefix = if addr.is_ipv4() { 32 } else { 128 };
        Self { addr, prefix }
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for IpNet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| {
            format!("`{s}` is not an IP address (write e.g. 192.0.2.10/24 or 2001:db8::10/64)")
        })?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(p) if p <= max => p,
                _ => return Err(format!("prefix length `/{p}` in `{s}` must be 0 to {max}")),
            },
        };
        Ok(Self { addr, prefix })
    }
}

/// An inclusive range of HTTP status codes (`200`, `200-299`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusRange {
    pub first: u16,
    pub last: u16,
}

impl StatusRange {
    pub fn contains(&self, code: u16) -> bool {
        (self.first..=self.last).contains(&code)
    }
}

impl fmt::Display for StatusRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

impl FromStr for StatusRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a status code or range (write e.g. 200 or 200-299)");
        let code = |t: &str| match t.trim().parse::<u16>() {
            Ok(c) if (100..=599).contains(&c) => Ok(c),
            _ => Err(bad()),
        };
        let (first, last) = match s.split_once('-') {
            Some((a, b)) => (code(a)?, code(b)?),
            None => (code(s)?, code(s)?),
        };
        if first > last {
            return Err(bad());
        }
        Ok(Self { first, last })
    }
}

/// Serde for types with Display + FromStr, accepting integers too (a bare `200`).
macro_rules! serde_via_str {
    ($t:ty, $what:literal) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = $t;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$t, E> {
                        v.parse().map_err(E::custom)
                    }
                    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<$t, E> {
                        v.to_string().parse().map_err(E::custom)
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}

serde_via_str!(
    IpNet,
    "an address with optional prefix, such as \"192.0.2.10/24\""
);
serde_via_str!(
    StatusRange,
    "a status code or range, such as 200 or \"200-299\""
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print_canonically() {
        for (text, canon) in [
            ("1s", "1s"),
            ("0.1", "100ms"),
            ("100ms", "100ms"),
            ("2m", "120s"),
            ("1.5s", "1500ms"),
            ("250us", "250us"),
        ] {
            let d: Dur = text.parse().unwrap();
            assert_eq!(d.to_string(), canon, "{text}");
            assert_eq!(canon.parse::<Dur>().unwrap(), d);
        }
        assert!("1d".parse::<Dur>().unwrap_err().contains("unit"));
        assert!("fast".parse::<Dur>().is_err());
    }

    #[test]
    fn ipnet_defaults_to_host_prefix_and_checks_range() {
        assert_eq!("10.0.0.1".parse::<IpNet>().unwrap().prefix, 32);
        assert_eq!("fd00::1/64".parse::<IpNet>().unwrap().prefix, 64);
        assert!("10.0.0.1/33".parse::<IpNet>().is_err());
        assert!("10.0.0.300/24".parse::<IpNet>().is_err());
    }

    #[test]
    fn status_ranges() {
        let r: StatusRange = "200-299".parse().unwrap();
        assert!(r.contains(204) && !r.contains(301));
        assert!("299-200".parse::<StatusRange>().is_err());
        assert!("42".parse::<StatusRange>().is_err());
    }
}
