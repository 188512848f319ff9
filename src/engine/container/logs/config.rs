//! A container's logging configuration (`--log-driver`, `--log-opt`; Docker's
//! `HostConfig.LogConfig`) and Docker's checks of it: the daemon's at `create` (driver known,
//! option names, `mode`), the json-file driver's at start (values of `max-size`, `max-file`,
//! `compress`), each with Docker's message.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::engine::container::spec::parse_go_bool;

/// The default driver, and the one dokles writes.
pub const JSON_FILE: &str = "json-file";
/// No log at all.
pub const NONE: &str = "none";

/// The options the json-file driver knows (Docker's `ValidateLogOpt`).
const JSON_FILE_OPTIONS: [&str; 8] = [
    "max-file",
    "max-size",
    "compress",
    "labels",
    "labels-regex",
    "env",
    "env-regex",
    "tag",
];

/// `--log-driver` and its `--log-opt`s, as recorded and as `inspect` shows them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LogConfig {
    #[serde(rename = "Type")]
    pub driver: String,
    /// Go's `map[string]string`: sorted by key, a later `--log-opt` of a key wins.
    #[serde(rename = "Config")]
    pub options: BTreeMap<String, String>,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            driver: JSON_FILE.to_string(),
            options: BTreeMap::new(),
        }
    }
}

/// How the json-file driver keeps its files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Rotate once the current file has this many bytes.
    pub max_size: u64,
    /// Files kept, the current one included (1: the current one is emptied).
    pub max_files: u32,
}

/// What the monitor does with a container's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logging {
    /// Nothing is kept (`--log-driver none`).
    Discard,
    /// The json-file driver: one file, or rotated ones.
    JsonFile(Option<Rotation>),
}

impl LogConfig {
    /// From the command line: an empty driver is the daemon's default.
    pub fn new(driver: &str, options: BTreeMap<String, String>) -> Self {
        Self {
            driver: if driver.is_empty() { JSON_FILE } else { driver }.to_string(),
            options,
        }
    }

    /// The daemon's checks at `create` (Docker's `ValidateLogOpts`, in its order), then
    /// what dokles does not implement. The message is the daemon's error.
    pub fn check_for_create(&self) -> Result<(), String> {
        if self.driver == NONE {
            return Ok(());
        }
        let mode = self.options.get("mode").map(String::as_str).unwrap_or("");
        if !matches!(mode, "" | "blocking" | "non-blocking") {
            return Err(format!("logger: logging mode not supported: {mode}"));
        }
        if self.options.contains_key("max-buffer-size") && mode != "non-blocking" {
            return Err(
                "logger: max-buffer-size option is only supported with 'mode=non-blocking'".into(),
            );
        }
        if self.driver != JSON_FILE {
            // Docker's drivers dokles does not have are, to it, plugins nobody installed.
            return Err(format!(
                "error looking up logging plugin {0}: plugin \"{0}\" not found",
                self.driver
            ));
        }
        let driver_options = self
            .options
            .keys()
            .filter(|k| !matches!(k.as_str(), "mode" | "max-buffer-size"));
        for key in driver_options.clone() {
            if !JSON_FILE_OPTIONS.contains(&key.as_str()) {
                return Err(format!("unknown log opt '{key}' for json-file log driver"));
            }
        }
        if mode == "non-blocking" {
            return Err("log mode 'non-blocking' is not supported by dokles".into());
        }
        for key in driver_options {
            let supported = match key.as_str() {
                "max-size" | "max-file" => true,
                // Nothing to do unless true; a value that is no bool fails at start, as in
                // Docker.
                "compress" => parse_go_bool(&self.options[key]) != Some(true),
                _ => false,
            };
            if !supported {
                return Err(format!(
                    "the json-file log option '{key}' is not supported by dokles (only max-size, max-file and compress=false are)"
                ));
            }
        }
        Ok(())
    }

    /// What the monitor does with the output; the json-file driver's checks of its values
    /// (Docker's `jsonfilelog.New`), made when the container starts and when its log is
    /// read. The message is the driver's error.
    pub fn logging(&self) -> Result<Logging, String> {
        if self.driver == NONE {
            return Ok(Logging::Discard);
        }
        let max_size = match self.options.get("max-size") {
            Some(s) => {
                let size = from_human_size(s)?;
                if size <= 0 {
                    return Err("max-size must be a positive number".into());
                }
                Some(size as u64)
            }
            None => None,
        };
        let max_files = match self.options.get("max-file") {
            Some(s) => {
                let n = go_atoi(s)?;
                if n < 1 {
                    return Err("max-file cannot be less than 1".into());
                }
                n
            }
            None => 1,
        };
        if let Some(s) = self.options.get("compress") {
            let compress = parse_go_bool(s)
                .ok_or_else(|| format!("strconv.ParseBool: parsing {s:?}: invalid syntax"))?;
            if compress && (max_files == 1 || max_size.is_none()) {
                return Err(
                    "compress cannot be true when max-file is less than 2 or max-size is not set"
                        .into(),
                );
            }
        }
        Ok(Logging::JsonFile(max_size.map(|max_size| Rotation {
            max_size,
            max_files: u32::try_from(max_files).unwrap_or(u32::MAX),
        })))
    }
}

/// go-units' `FromHumanSize` as Debian's Docker 20.10 has it: `^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$`,
/// decimal multiples, the number truncated to an integer as Go's `int64(float64)` does on
/// amd64 (out of range: the smallest int64).
pub fn from_human_size(s: &str) -> Result<i64, String> {
    let invalid = || format!("invalid size: '{s}'");
    let bytes = s.as_bytes();
    let digits_end = |from: usize| {
        from + bytes[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let mut end = digits_end(0);
    if end == 0 {
        return Err(invalid());
    }
    // `(\.\d+)*`: each dot must be followed by digits.
    while bytes.get(end) == Some(&b'.') && bytes.get(end + 1).is_some_and(u8::is_ascii_digit) {
        end = digits_end(end + 1);
    }
    let number = &s[..end];
    let mut rest = &s[end..];
    rest = rest.strip_prefix(' ').unwrap_or(rest);
    let mut unit = None;
    if let Some(c) = rest.chars().next().filter(|c| "kKmMgGtTpP".contains(*c)) {
        unit = Some(c.to_ascii_lowercase());
        rest = &rest[1..];
    }
    rest = rest.strip_prefix(['i', 'I']).unwrap_or(rest);
    rest = rest.strip_prefix(['b', 'B']).unwrap_or(rest);
    if !rest.is_empty() {
        return Err(invalid());
    }
    let size: f64 = number
        .parse()
        .map_err(|_| format!("strconv.ParseFloat: parsing {number:?}: invalid syntax"))?;
    let multiplier = match unit {
        None => 1.0,
        Some(u) => 1000f64.powi("kmgtp".find(u).map_or(0, |i| i as i32 + 1)),
    };
    let size = size * multiplier;
    // Go converts an out-of-range float to the smallest int64 (amd64's CVTTSD2SI).
    Ok(if size.is_finite() && size < i64::MAX as f64 {
        size as i64
    } else {
        i64::MIN
    })
}

/// Go's `strconv.Atoi`, with its messages.
fn go_atoi(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.Atoi: parsing {s:?}: invalid syntax"));
    }
    s.parse::<i64>()
        .map_err(|_| format!("strconv.Atoi: parsing {s:?}: value out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(driver: &str, opts: &[(&str, &str)]) -> LogConfig {
        LogConfig::new(
            driver,
            opts.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn sizes_parse_as_docker_20_10_does() {
        let ok = [
            ("10", 10),
            ("10 k", 10_000),
            ("10kb", 10_000),
            ("10KiB", 10_000),
            ("10B", 10),
            ("10 ", 10),
            ("1.5", 1),
            ("1.9k", 1900),
            ("10m", 10_000_000),
            ("1P", 1_000_000_000_000_000),
            ("0", 0),
        ];
        for (s, want) in ok {
            assert_eq!(from_human_size(s), Ok(want), "{s:?}");
        }
        for s in [
            "abc", "-1", "", ".5k", "5.k", "1e3", "10  k", " 10", "10x", "1kk", "10_kb",
        ] {
            assert_eq!(
                from_human_size(s),
                Err(format!("invalid size: '{s}'")),
                "{s:?}"
            );
        }
        assert_eq!(
            from_human_size("1.2.3"),
            Err("strconv.ParseFloat: parsing \"1.2.3\": invalid syntax".into())
        );
        assert!(from_human_size("99999999999999999999999").unwrap() < 0);
    }

    #[test]
    fn start_time_checks_have_the_drivers_messages() {
        let err = |opts: &[(&str, &str)]| config("", opts).logging().unwrap_err();
        assert_eq!(err(&[("max-size", "abc")]), "invalid size: 'abc'");
        assert_eq!(
            err(&[("max-size", "0")]),
            "max-size must be a positive number"
        );
        assert_eq!(
            err(&[("max-size", "1k"), ("max-file", "0")]),
            "max-file cannot be less than 1"
        );
        assert_eq!(
            err(&[("max-file", "")]),
            "strconv.Atoi: parsing \"\": invalid syntax"
        );
        assert_eq!(
            err(&[("compress", "maybe")]),
            "strconv.ParseBool: parsing \"maybe\": invalid syntax"
        );
        assert_eq!(
            config("", &[("max-file", "3")]).logging(),
            Ok(Logging::JsonFile(None)),
            "max-file without max-size rotates nothing"
        );
        assert_eq!(
            config("", &[("max-size", "1k"), ("max-file", "+3")]).logging(),
            Ok(Logging::JsonFile(Some(Rotation {
                max_size: 1000,
                max_files: 3
            })))
        );
        assert_eq!(config("none", &[]).logging(), Ok(Logging::Discard));
    }

    #[test]
    fn create_time_checks_follow_the_daemons_order() {
        let err = |driver: &str, opts: &[(&str, &str)]| config(driver, opts).check_for_create();
        assert_eq!(
            err("bogus", &[("mode", "x")]),
            Err("logger: logging mode not supported: x".into())
        );
        assert_eq!(
            err("", &[("max-buffer-size", "1m"), ("foo", "bar")]),
            Err("logger: max-buffer-size option is only supported with 'mode=non-blocking'".into())
        );
        assert_eq!(
            err("syslog", &[]),
            Err("error looking up logging plugin syslog: plugin \"syslog\" not found".into())
        );
        assert_eq!(
            err("", &[("", "x")]),
            Err("unknown log opt '' for json-file log driver".into())
        );
        // Values are the driver's business at start.
        assert_eq!(err("", &[("max-size", "abc"), ("max-file", "x")]), Ok(()));
        assert_eq!(err("", &[("compress", "false")]), Ok(()));
        assert!(err("", &[("compress", "true")])
            .unwrap_err()
            .contains("not supported by dokles"));
        assert!(err("", &[("tag", "x")])
            .unwrap_err()
            .contains("not supported by dokles"));
        assert_eq!(err("none", &[]), Ok(()));
        assert_eq!(config("", &[]).driver, "json-file");
    }
}
