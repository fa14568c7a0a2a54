//! Sizes and durations as the stack writes them: `"9.98GB"`, `"124GiB"`, `"30s"`, `"15m"`.
//! Exact integer arithmetic; fractions of a byte round up (memory is never under-counted).

/// Bytes from a size string: GB = 10^9, GiB = 2^30.
pub fn parse_size(text: &str) -> Option<u64> {
    let (number, multiplier) = size_parts(text)?;
    scale(number, multiplier)
}

/// A well-formed size whose value does not fit in 64 bits (16 EiB): "too large", not
/// "not a size".
pub fn size_too_large(text: &str) -> bool {
    size_parts(text).is_some_and(|(number, multiplier)| {
        let whole = number.split_once('.').map_or(number, |(w, _)| w);
        let whole = whole.trim_start_matches('0');
        whole.len() > 20
            || whole
                .parse::<u128>()
                .ok()
                .and_then(|w| w.checked_mul(multiplier))
                .is_none_or(|bytes| bytes > u128::from(u64::MAX))
    })
}

/// The number and the unit's multiplier of a size string.
fn size_parts(text: &str) -> Option<(&str, u128)> {
    let (number, unit) = split_number(text)?;
    let multiplier: u128 = match unit {
        "B" => 1,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        _ => return None,
    };
    Some((number, multiplier))
}

/// Milliseconds from a duration string.
pub fn parse_duration(text: &str) -> Option<u64> {
    let (number, unit) = split_number(text)?;
    let multiplier: u128 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        _ => return None,
    };
    scale(number, multiplier)
}

/// A decimal number `123` or `1.25` (no sign, no exponent) and the unit after it.
fn split_number(text: &str) -> Option<(&str, &str)> {
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(end);
    let valid = !number.is_empty()
        && !number.starts_with('.')
        && !number.ends_with('.')
        && number.matches('.').count() <= 1;
    valid.then_some((number, unit.trim_start_matches(' ')))
}

fn scale(number: &str, multiplier: u128) -> Option<u64> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.len() > 20 || fraction.len() > 18 {
        return None;
    }
    let denominator = 10u128.pow(fraction.len() as u32);
    let numerator = whole.parse::<u128>().ok()? * denominator
        + if fraction.is_empty() {
            0
        } else {
            fraction.parse::<u128>().ok()?
        };
    let value = (numerator.checked_mul(multiplier)?).div_ceil(denominator);
    u64::try_from(value).ok()
}

/// A duration in systemd's syntax (`15min`, `30s`, `500ms`), exact.
pub fn systemd_timespan(ms: u64) -> String {
    timespan(ms, "0", "min")
}

/// A duration as Go's `time.ParseDuration` reads it (podman's `--health-*` options):
/// `15m`, `30s`, `1500ms`; podman rejects systemd's `15min`.
pub fn go_duration(ms: u64) -> String {
    timespan(ms, "0s", "m")
}

/// The largest unit that divides `ms` exactly; the two syntaxes differ only in how they
/// write zero and minutes.
fn timespan(ms: u64, zero: &str, minutes: &str) -> String {
    if ms == 0 {
        zero.into()
    } else if ms.is_multiple_of(3_600_000) {
        format!("{}h", ms / 3_600_000)
    } else if ms.is_multiple_of(60_000) {
        format!("{}{minutes}", ms / 60_000)
    } else if ms.is_multiple_of(1_000) {
        format!("{}s", ms / 1_000)
    } else {
        format!("{ms}ms")
    }
}

/// `bytes` in GiB with two decimals, rounded to nearest: `"19.04 GiB"`.
pub fn format_gib(bytes: u64) -> String {
    const GIB: u128 = 1 << 30;
    let hundredths = (u128::from(bytes) * 100 + GIB / 2) / GIB;
    format!("{}.{:02} GiB", hundredths / 100, hundredths % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("9.98GB"), Some(9_980_000_000));
        assert_eq!(parse_size("124GiB"), Some(124 << 30));
        assert_eq!(parse_size("512MiB"), Some(512 << 20));
        assert_eq!(parse_size("1.5KiB"), Some(1536));
        assert_eq!(parse_size("0.1B"), Some(1), "fractions of a byte round up");
        assert_eq!(parse_size("0GB"), Some(0));
        for bad in [
            "",
            "GB",
            "12",
            "1.2.3GB",
            ".5GB",
            "5.GB",
            "-1GB",
            "1 XB",
            "99999999999999999999TB",
        ] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }

    #[test]
    fn too_large_sizes_are_told_apart_from_malformed_ones() {
        assert!(size_too_large("99999999999999999999999GB"));
        assert!(size_too_large("20000000TiB"));
        assert!(!size_too_large("124GiB"));
        assert!(!size_too_large("12 parsecs"));
        assert!(!size_too_large("GB"));
        assert_eq!(parse_size("18446744073709551615B"), Some(u64::MAX));
        assert!(size_too_large("18446744073709551616B"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Some(30_000));
        assert_eq!(parse_duration("15m"), Some(900_000));
        assert_eq!(parse_duration("1.5h"), Some(5_400_000));
        assert_eq!(parse_duration("250ms"), Some(250));
        assert_eq!(parse_duration("30"), None);
        assert_eq!(systemd_timespan(900_000), "15min");
        assert_eq!(systemd_timespan(1_020_000), "17min");
        assert_eq!(systemd_timespan(30_500), "30500ms");
    }
}
