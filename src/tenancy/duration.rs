//! Durations as Go writes them ("8h", "1h30m", "1.5h", "300ms"): the syntax of a GroupGrant's
//! `temporaryMembers.maxDuration`, which admission checks with CEL's `duration()` (Go's
//! `time.ParseDuration`). Ported rather than taken from a crate: the reconcile must read exactly
//! what admission accepted, and the crates at hand read other dialects (humantime and jiff
//! accept "1h 30m" or "2 hours" but refuse Go's "1.5h30m").

use jiff::SignedDuration;

/// Parses a Go duration: an optional sign, then one or more decimal numbers (with an optional
/// fraction), each with a unit (ns, us, µs, μs, ms, s, m, h); "0" alone is zero. `None` for
/// anything else and for values outside Go's range (about 292 years).
pub fn parse(text: &str) -> Option<SignedDuration> {
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Some(SignedDuration::ZERO);
    }
    if rest.is_empty() {
        return None;
    }
    // Nanoseconds, as Go counts them: an unsigned 64-bit total that must fit an i64.
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let whole: u64 = if digits == 0 {
            0
        } else {
            rest[..digits].parse().ok()?
        };
        rest = &rest[digits..];
        let mut fraction_digits = "";
        if let Some(after_dot) = rest.strip_prefix('.') {
            let n = after_dot.bytes().take_while(u8::is_ascii_digit).count();
            fraction_digits = &after_dot[..n];
            rest = &after_dot[n..];
        }
        if digits == 0 && fraction_digits.is_empty() {
            return None; // no number at all, e.g. ".s" or "h"
        }
        let unit_len = rest
            .char_indices()
            .find(|(_, c)| *c == '.' || c.is_ascii_digit())
            .map_or(rest.len(), |(i, _)| i);
        let unit: u64 = match &rest[..unit_len] {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        rest = &rest[unit_len..];
        let mut value = whole.checked_mul(unit)?;
        // As Go's leadingFraction: digits count while they fit, the rest are dropped; the
        // fraction is then scaled in floating point, as Go does.
        let mut scale = 1.0_f64;
        let mut fraction = 0_u64;
        for d in fraction_digits.bytes() {
            if fraction > (1 << 63) / 10 {
                break;
            }
            let next = fraction * 10 + u64::from(d - b'0');
            if next > 1 << 63 {
                break;
            }
            fraction = next;
            scale *= 10.0;
        }
        if fraction > 0 {
            value = value.checked_add((fraction as f64 * (unit as f64 / scale)) as u64)?;
        }
        total = total.checked_add(value).filter(|t| *t <= 1 << 63)?;
    }
    let limit = i64::MAX as u64;
    match (negative, total) {
        (false, t) if t <= limit => Some(SignedDuration::from_nanos(t as i64)),
        (true, t) if t <= limit + 1 => Some(SignedDuration::from_nanos((t as i64).wrapping_neg())),
        _ => None,
    }
}

/// A duration as Go prints it ("8h0m0s" reads better as "8h"): hours, minutes and seconds,
/// leaving out the zero ones; below a second, Go's own small units.
pub fn format(duration: SignedDuration) -> String {
    if duration.is_zero() {
        return "0s".to_owned();
    }
    let sign = if duration.is_negative() { "-" } else { "" };
    let duration = duration.abs();
    let secs = duration.as_secs();
    let nanos = duration.subsec_nanos();
    if secs == 0 {
        let (value, unit) = match nanos {
            n if n % 1_000_000 == 0 => (n / 1_000_000, "ms"),
            n if n % 1_000 == 0 => (n / 1_000, "us"),
            n => (n, "ns"),
        };
        return format!("{sign}{value}{unit}");
    }
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = sign.to_owned();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || nanos > 0 {
        if nanos > 0 {
            let fraction = format!("{nanos:09}");
            out.push_str(&format!("{s}.{}s", fraction.trim_end_matches('0')));
        } else {
            out.push_str(&format!("{s}s"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> SignedDuration {
        SignedDuration::from_secs_f64(s)
    }

    #[test]
    fn reads_what_go_reads() {
        // Go's own test table (time.TestParseDuration), in part.
        let cases: &[(&str, SignedDuration)] = &[
            ("0", SignedDuration::ZERO),
            ("5s", secs(5.0)),
            ("30s", secs(30.0)),
            ("1478s", secs(1478.0)),
            ("-5s", secs(-5.0)),
            ("+5s", secs(5.0)),
            ("-0", SignedDuration::ZERO),
            ("5.0s", secs(5.0)),
            ("5.6s", secs(5.6)),
            ("5.s", secs(5.0)),
            (".5s", secs(0.5)),
            ("1.004s", secs(1.004)),
            ("100.00100s", secs(100.001)),
            ("10ns", SignedDuration::from_nanos(10)),
            ("11us", SignedDuration::from_micros(11)),
            ("12µs", SignedDuration::from_micros(12)),
            ("12μs", SignedDuration::from_micros(12)),
            ("13ms", SignedDuration::from_millis(13)),
            ("14s", secs(14.0)),
            ("15m", secs(900.0)),
            ("16h", secs(16.0 * 3600.0)),
            ("3h30m", secs(3.5 * 3600.0)),
            ("10.5s4m", secs(250.5)),
            ("-2m3.4s", secs(-123.4)),
            ("1h2m3s4ms5us6ns", SignedDuration::new(3723, 4_005_006)),
            ("39h9m14.425s", SignedDuration::new(140_954, 425_000_000)),
            ("52763797000ns", SignedDuration::from_nanos(52_763_797_000)),
            ("0.3333333333333333333h", secs(1200.0)),
            (
                "9007199254740993ns",
                SignedDuration::from_nanos(9_007_199_254_740_993),
            ),
            (
                "9223372036854775807ns",
                SignedDuration::from_nanos(i64::MAX),
            ),
            (
                "-9223372036854775808ns",
                SignedDuration::from_nanos(i64::MIN),
            ),
            ("1.5h30m", secs(2.0 * 3600.0)),
            ("2562047h", secs(2_562_047.0 * 3600.0)),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text), Some(*want), "{text}");
        }
    }

    #[test]
    fn refuses_what_go_refuses() {
        for text in [
            "",
            "3",
            "-",
            "s",
            ".",
            "-.",
            ".s",
            "+.s",
            "1d",
            "8 h",
            "1h 30m",
            "2 hours",
            "9223372036854775808ns",
            "2562048h",
            "9999999999h",
            "1e3s",
        ] {
            assert_eq!(parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn prints_short_and_reads_back() {
        for (text, printed) in [
            ("8h", "8h"),
            ("90m", "1h30m"),
            ("1h0m30s", "1h30s"),
            ("1.5s", "1.5s"),
            ("300ms", "300ms"),
            ("7us", "7us"),
            ("3ns", "3ns"),
            ("-2m", "-2m"),
        ] {
            let duration = parse(text).unwrap();
            assert_eq!(format(duration), printed, "{text}");
            assert_eq!(parse(printed), Some(duration), "{printed} reads back");
        }
        assert_eq!(format(SignedDuration::ZERO), "0s");
    }
}
