//! `--security-opt seccomp=…` as Docker reads it, in its two steps: the client replaces a
//! profile file's name by the file's JSON ([`read_profile_files`], docker/cli's
//! `parseSecurityOpts`), so the container's record carries the profile itself; the daemon
//! then takes the last `seccomp` option ([`SeccompOption::from_security_opts`]).

use std::fs::File;
use std::io::Read;

use super::SeccompError;

/// Which seccomp profile a container asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeccompOption {
    /// Docker's default profile.
    Default,
    /// `seccomp=unconfined`: no filter.
    Unconfined,
    /// A profile's JSON text, as the client inlined it.
    Profile(String),
}

impl SeccompOption {
    /// The daemon's reading: `seccomp=<value>` (or the old `seccomp:<value>`); the last one
    /// wins.
    pub fn from_security_opts(opts: &[String]) -> Self {
        let mut choice = Self::Default;
        for opt in opts {
            if let Some(("seccomp", value)) = split_option(opt) {
                choice = match value {
                    "unconfined" => Self::Unconfined,
                    profile => Self::Profile(profile.to_string()),
                };
            }
        }
        choice
    }
}

/// `key=value`, or `key:value` in the old spelling.
fn split_option(opt: &str) -> Option<(&str, &str)> {
    opt.split_once('=').or_else(|| opt.split_once(':'))
}

/// The client's step: check each option's shape and replace `seccomp=<file>` by
/// `seccomp=<the file's JSON without insignificant white space>`. Errors read as Docker's
/// (`opening seccomp profile (<file>) failed: open <file>: no such file or directory`).
pub fn read_profile_files(opts: &[String]) -> Result<Vec<String>, SeccompError> {
    opts.iter()
        .map(|opt| {
            let Some((key, value)) = split_option(opt) else {
                if opt == "no-new-privileges" {
                    return Ok(opt.clone());
                }
                return Err(SeccompError::InvalidOption(opt.clone()));
            };
            if key != "seccomp" || value == "unconfined" {
                return Ok(opt.clone());
            }
            let text = read_file(value).map_err(|reason| SeccompError::Open {
                path: value.to_string(),
                reason,
            })?;
            let json = compact_json(&text).map_err(|source| SeccompError::Compact {
                path: value.to_string(),
                source,
            })?;
            Ok(format!("seccomp={json}"))
        })
        .collect()
}

/// Read a file, failing with Go's `os.ReadFile` wording (`open <path>: permission denied`).
fn read_file(path: &str) -> Result<String, String> {
    let go_error = |op: &str, e: std::io::Error| {
        let reason = match e.raw_os_error() {
            Some(errno) => nix::errno::Errno::from_raw(errno).desc().to_lowercase(),
            None => e.to_string(),
        };
        format!("{op} {path}: {reason}")
    };
    let mut file = File::open(path).map_err(|e| go_error("open", e))?;
    let mut text = String::new();
    file.read_to_string(&mut text)
        .map_err(|e| go_error("read", e))?;
    Ok(text)
}

/// Go's `json.Compact`: the text, validated, without white space outside strings (member
/// order and number spelling kept, unlike a decode and re-encode).
fn compact_json(text: &str) -> Result<String, serde_json::Error> {
    serde_json::from_str::<serde::de::IgnoredAny>(text)?;
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            out.push(c);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_last_seccomp_option_wins() {
        use SeccompOption::*;
        assert_eq!(SeccompOption::from_security_opts(&[]), Default);
        assert_eq!(
            SeccompOption::from_security_opts(&opts(&["no-new-privileges", "seccomp=unconfined"])),
            Unconfined
        );
        assert_eq!(
            SeccompOption::from_security_opts(&opts(&["seccomp:unconfined"])),
            Unconfined
        );
        assert_eq!(
            SeccompOption::from_security_opts(&opts(&["seccomp=unconfined", "seccomp={}"])),
            Profile("{}".into())
        );
    }

    #[test]
    fn the_client_inlines_a_profile_file_compacted() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("p.json");
        std::fs::write(
            &path,
            "{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\",\n  \"x\": \"a b\\\" c\",\n  \"n\": 1.0\n}\n",
        )
        .expect("write");
        let given = opts(&[
            "no-new-privileges",
            "label=disable",
            &format!("seccomp={}", path.display()),
            "seccomp=unconfined",
        ]);
        let sent = read_profile_files(&given).expect("readable");
        assert_eq!(
            sent,
            opts(&[
                "no-new-privileges",
                "label=disable",
                r#"seccomp={"defaultAction":"SCMP_ACT_ALLOW","x":"a b\" c","n":1.0}"#,
                "seccomp=unconfined",
            ])
        );
    }

    #[test]
    fn client_errors_read_as_dockers() {
        let missing =
            read_profile_files(&opts(&["seccomp=/nonexistent/p.json"])).expect_err("no such file");
        assert_eq!(
            missing.to_string(),
            "opening seccomp profile (/nonexistent/p.json) failed: open /nonexistent/p.json: no such file or directory"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{bad").expect("write");
        let err = read_profile_files(&opts(&[&format!("seccomp={}", bad.display())]))
            .expect_err("not JSON");
        assert!(
            err.to_string().starts_with(&format!(
                "compacting json for seccomp profile ({}) failed: ",
                bad.display()
            )),
            "{err}"
        );
        let shapeless = read_profile_files(&opts(&["seccomp"])).expect_err("no value");
        assert_eq!(shapeless.to_string(), "Invalid --security-opt: \"seccomp\"");
    }
}
