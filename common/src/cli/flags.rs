//! Parsers of flag values, for clap: durations, quantities, tokens and identities. Each
//! refuses a value that cannot work with a message saying why.

use std::time::Duration;

/// Parses durations written like Kubernetes/Go ones: `300ms`, `5s`, `10m`, `24h`, `1h30m`, `0`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return Err("empty duration".to_string());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("invalid duration {text:?}: expected a number"));
        }
        let value: u64 = rest[..digits]
            .parse()
            .map_err(|e| format!("invalid duration {text:?}: {e}"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => Duration::from_millis(value),
            "s" => Duration::from_secs(value),
            "m" => Duration::from_secs(value * 60),
            "h" => Duration::from_secs(value * 3600),
            other => {
                return Err(format!(
                    "invalid duration {text:?}: unknown unit {other:?} (use ms, s, m or h)"
                ));
            }
        };
        total += unit;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// A duration flag that must be more than zero, for clap.
pub fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        Duration::ZERO => Err(format!("{text:?} must be more than 0")),
        d => Ok(d),
    }
}

/// The shortest Lease duration accepted: renewals happen every third of it, and a shorter
/// lease flaps between replicas on any API latency.
pub const MIN_LEASE_DURATION: Duration = Duration::from_secs(3);

/// A Lease duration flag (at least [`MIN_LEASE_DURATION`]), for clap.
pub fn parse_lease_duration(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d < MIN_LEASE_DURATION {
        return Err(format!("{text:?} is shorter than {MIN_LEASE_DURATION:?}"));
    }
    Ok(d)
}

/// The shortest bearer token accepted (e.g. `openssl rand -hex 32` gives 64 characters).
pub const MIN_TOKEN_LEN: usize = 16;

/// A bearer-token flag: at least [`MIN_TOKEN_LEN`] visible ASCII characters. An empty or
/// short value (a failed `openssl rand` in a script) is refused instead of switching
/// authentication off or making it guessable.
pub fn parse_token(text: &str) -> Result<String, String> {
    if !text.chars().all(|c| c.is_ascii_graphic()) {
        return Err("a token has only visible ASCII characters (no spaces or line breaks)".into());
    }
    if text.len() < MIN_TOKEN_LEN {
        return Err(format!(
            "a token of {} characters is too short (at least {MIN_TOKEN_LEN}; e.g. openssl rand -hex 32)",
            text.len()
        ));
    }
    Ok(text.to_owned())
}

/// Refuses TLS settings with a plaintext (`http://`) address: the connection would silently
/// be unencrypted.
pub fn check_tls_scheme<'a>(
    tls: bool,
    addrs: impl IntoIterator<Item = &'a String>,
) -> Result<(), String> {
    if !tls {
        return Ok(());
    }
    match addrs
        .into_iter()
        .find(|a| !a.trim().starts_with("https://"))
    {
        Some(addr) => Err(format!(
            "TLS is configured but {addr} is not an https:// address: the connection would be plaintext"
        )),
        None => Ok(()),
    }
}

/// An identity flag (a pod name): 1 to 253 characters of letters, digits, `.`, `-` and `_`.
pub fn parse_identity(text: &str) -> Result<String, String> {
    let valid = !text.is_empty()
        && text.len() <= 253
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if valid {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "{text:?} is not a valid identity: 1 to 253 letters, digits, '.', '-' or '_'"
        ))
    }
}

/// An identity unique to this process when none is configured: the host name and a random
/// suffix, so that two replicas started without one never share it.
pub fn unique_identity(program: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| parse_identity(h).is_ok())
        .unwrap_or_else(|| program.to_owned());
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    if let Ok(now) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        hasher.write_u128(now.as_nanos());
    }
    format!("{host}-{:08x}", hasher.finish() as u32)
}

/// Parses a Kubernetes resource quantity (`512Mi`, `1G`, `250m`, `2`, `1.5Gi`) into its
/// value in base units (bytes for memory, cores for CPU); an error names what is wrong.
pub fn parse_quantity(text: &str) -> Result<f64, String> {
    const SUFFIXES: [(&str, f64); 13] = [
        ("Ki", 1024.0),
        ("Mi", 1_048_576.0),
        ("Gi", 1_073_741_824.0),
        ("Ti", 1_099_511_627_776.0),
        ("Pi", 1_125_899_906_842_624.0),
        ("Ei", 1_152_921_504_606_846_976.0),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    let trimmed = text.trim();
    let (number, factor) = SUFFIXES
        .iter()
        .find_map(|(suffix, factor)| Some((trimmed.strip_suffix(suffix)?, *factor)))
        .unwrap_or((trimmed, 1.0));
    let decimal = |n: &str| {
        let mut parts = n.splitn(2, '.');
        let whole = parts.next().unwrap_or_default();
        let digits = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit());
        digits(whole) && parts.next().is_none_or(digits)
    };
    let well_formed = match number.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => {
            let exponent = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            decimal(mantissa)
                && !exponent.is_empty()
                && exponent.chars().all(|c| c.is_ascii_digit())
        }
        None => decimal(number),
    };
    let value: f64 = match number.parse() {
        Ok(value) if well_formed => value,
        _ => {
            return Err(format!(
                "invalid quantity {text:?}: expected a number with an optional unit such as 512Mi, 1G or 250m"
            ));
        }
    };
    Ok(value * factor)
}

/// A memory quantity flag in bytes (at least 1 MiB), for clap.
pub fn parse_memory(text: &str) -> Result<u64, String> {
    let bytes = parse_quantity(text)?;
    if bytes < 1_048_576.0 {
        return Err(format!("{text:?} is less than 1Mi"));
    }
    Ok(bytes as u64)
}

/// A quantity flag kept as written (for a pod spec) once it parses, for clap.
pub fn valid_quantity(text: &str) -> Result<String, String> {
    parse_quantity(text).map(|_| text.trim().to_owned())
}

/// Formats a duration the way Go does for report-ttl annotations: `24h0m0s`, `5m0s`, `10s`.
pub fn format_go_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_tls_schemes() {
        assert!(parse_token("").is_err());
        assert!(parse_token("short").is_err());
        assert!(parse_token("has a space in it, long").is_err());
        assert!(parse_token("0123456789abcdef").is_ok());
        let addrs = ["https://a:7070".to_string(), "http://b:7070".to_string()];
        assert!(check_tls_scheme(false, &addrs).is_ok());
        assert!(check_tls_scheme(true, &addrs[..1]).is_ok());
        let err = check_tls_scheme(true, &addrs).unwrap_err();
        assert!(err.contains("http://b:7070"), "{err}");
    }

    #[test]
    fn flag_bounds() {
        assert!(parse_positive_duration("0s").is_err());
        assert!(parse_positive_duration("0").is_err());
        assert_eq!(parse_positive_duration("5s"), Ok(Duration::from_secs(5)));
        assert!(parse_lease_duration("0s").is_err());
        assert!(parse_lease_duration("1s").is_err());
        assert_eq!(parse_lease_duration("15s"), Ok(Duration::from_secs(15)));
        assert!(parse_identity("").is_err());
        assert!(parse_identity("a b").is_err());
        assert!(parse_identity(&"x".repeat(254)).is_err());
        assert_eq!(parse_identity("worker-0"), Ok("worker-0".to_owned()));
        let (a, b) = (unique_identity("p"), unique_identity("p"));
        assert_ne!(a, b);
        assert!(parse_identity(&a).is_ok(), "{a}");
    }

    #[test]
    fn parses_kubernetes_quantities() {
        assert_eq!(parse_quantity("512Mi"), Ok(536_870_912.0));
        assert_eq!(parse_quantity("1G"), Ok(1e9));
        assert_eq!(parse_quantity("250m"), Ok(0.25));
        assert_eq!(parse_quantity("2"), Ok(2.0));
        assert_eq!(parse_quantity("1.5Gi"), Ok(1_610_612_736.0));
        assert_eq!(parse_quantity("1e3"), Ok(1000.0));
        for bad in ["lots", "", "Mi", "1.2.3", "-1", "5 Mi", "1e", ".5", "1."] {
            assert!(parse_quantity(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_memory("256Mi"), Ok(268_435_456));
        assert!(parse_memory("100Ki").is_err());
        assert_eq!(valid_quantity(" 100m "), Ok("100m".to_owned()));
    }

    #[test]
    fn parses_go_style_durations() {
        let cases = [
            ("0", 0),
            ("5s", 5_000),
            ("300ms", 300),
            ("10m", 600_000),
            ("24h", 86_400_000),
            ("1h30m", 5_400_000),
            ("24h0m0s", 86_400_000),
        ];
        for (text, millis) in cases {
            assert_eq!(
                parse_duration(text).unwrap(),
                Duration::from_millis(millis),
                "{text}"
            );
        }
    }

    #[test]
    fn rejects_bad_durations() {
        for text in ["", "s", "5", "5d", "-1s", "1.5h"] {
            assert!(parse_duration(text).is_err(), "{text} should be rejected");
        }
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format_go_duration(Duration::from_secs(86_400)), "24h0m0s");
        assert_eq!(format_go_duration(Duration::from_secs(300)), "5m0s");
        assert_eq!(format_go_duration(Duration::from_secs(5)), "5s");
        assert_eq!(
            parse_duration(&format_go_duration(Duration::from_secs(5400)))
                .unwrap()
                .as_secs(),
            5400
        );
    }
}
