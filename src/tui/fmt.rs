//! Number, duration and age formatting for the console: short, fixed-ish widths.

/// A duration in milliseconds as `850ms`, `12s`, `5m03s`, `2h03m`, `3d04h`.
pub fn dur(ms: u64) -> String {
    let s = ms / 1000;
    if ms < 1000 {
        format!("{ms}ms")
    } else if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else if s < 86_400 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else {
        format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600)
    }
}

/// How long ago `at_ms` was, as `12s ago` (`now` when under a second, `never` for 0).
pub fn ago(at_ms: u64, now_ms: u64) -> String {
    if at_ms == 0 {
        return "never".into();
    }
    let age = now_ms.saturating_sub(at_ms);
    if age < 1000 {
        "now".into()
    } else {
        format!("{} ago", dur(age))
    }
}

/// A count or rate with an SI suffix: `412`, `1.27k`, `12.7k`, `2.29M`.
pub fn si(v: f64) -> String {
    let a = v.abs();
    let (n, suffix) = if a < 1000.0 {
        (v, "")
    } else if a < 1e6 {
        (v / 1e3, "k")
    } else if a < 1e9 {
        (v / 1e6, "M")
    } else if a < 1e12 {
        (v / 1e9, "G")
    } else {
        (v / 1e12, "T")
    };
    if suffix.is_empty() {
        if n.fract() == 0.0 || n >= 100.0 {
            format!("{n:.0}")
        } else {
            format!("{n:.1}")
        }
    } else if n.abs() < 10.0 {
        format!("{n:.2}{suffix}")
    } else if n.abs() < 100.0 {
        format!("{n:.1}{suffix}")
    } else {
        format!("{n:.0}{suffix}")
    }
}

/// Bytes as `1.20 GB` (decimal units, like `ipvsadm --rate`'s bytes).
pub fn bytes(v: f64) -> String {
    format!("{}B", si_spaced(v))
}

/// A byte rate as `2.29 MB/s`.
pub fn rate(bytes_per_s: f64) -> String {
    format!("{}B/s", si_spaced(bytes_per_s))
}

fn si_spaced(v: f64) -> String {
    let s = si(v);
    match s.chars().last() {
        Some(c) if c.is_ascii_alphabetic() => {
            let (n, u) = s.split_at(s.len() - 1);
            format!("{n} {u}")
        }
        _ => format!("{s} "),
    }
}

pub use crate::snapshot::{endpoint, push_endpoint};

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The bar for `v` on a scale from 0 to `max`.
pub fn bar(v: f64, max: f64) -> char {
    if max.is_nan() || v.is_nan() || max <= 0.0 || v <= 0.0 {
        return BARS[0];
    }
    let i = ((v / max) * 7.0).round().clamp(0.0, 7.0) as usize;
    BARS[i]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(dur(850), "850ms");
        assert_eq!(dur(12_400), "12s");
        assert_eq!(dur(303_000), "5m03s");
        assert_eq!(dur(2 * 3600 * 1000 + 180_000), "2h03m");
        assert_eq!(dur(3 * 86_400_000 + 4 * 3_600_000), "3d04h");
        assert_eq!(ago(0, 5), "never");
        assert_eq!(ago(1000, 1500), "now");
        assert_eq!(ago(1000, 13_000), "12s ago");
        assert_eq!(si(412.0), "412");
        assert_eq!(si(0.5), "0.5");
        assert_eq!(si(1270.0), "1.27k");
        assert_eq!(si(12_700.0), "12.7k");
        assert_eq!(si(2_286_000.0), "2.29M");
        assert_eq!(rate(2_286_000.0), "2.29 MB/s");
        assert_eq!(rate(0.0), "0 B/s");
        assert_eq!(bytes(8e9), "8.00 GB");
        assert_eq!(endpoint("10.0.0.1", 80), "10.0.0.1:80");
        assert_eq!(endpoint("2001:db8::1", 443), "[2001:db8::1]:443");
        assert_eq!(endpoint("7", 0), "7");
        assert_eq!(bar(0.0, 10.0), '▁');
        assert_eq!(bar(10.0, 10.0), '█');
    }
}
