//! Seccomp for containers, as Docker does it: every container gets Docker's default
//! profile (`default.json`, moby's, embedded) resolved for its capabilities, this machine's
//! architecture and kernel — unless it runs `--privileged` or with
//! `--security-opt seccomp=unconfined`, or brings its own profile with
//! `--security-opt seccomp=<file>`. The result is the runtime spec's `linux.seccomp`, which
//! the runtime compiles and installs.
//!
//! - `profile`: Docker's profile format.
//! - `resolve`: a profile resolved for one container (moby's `setupSeccomp`).
//! - `options`: `--security-opt seccomp=…`, the client's and the daemon's parts.

mod options;
mod profile;
mod resolve;

use std::sync::OnceLock;

use oci_spec::runtime::{Capability, LinuxSeccomp};

pub use options::{read_profile_files, SeccompOption};
pub use profile::{ArchMapEntry, Filter, KernelVersion, Profile, SyscallRule};
pub use resolve::Target;

/// Docker's default profile, as moby ships it (see `NOTICE` beside it).
pub const DEFAULT_PROFILE_JSON: &str = include_str!("default.json");

/// Why a container's seccomp profile cannot be had. The texts are Docker's where it has
/// one.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("Invalid --security-opt: {0:?}")]
    InvalidOption(String),
    #[error("opening seccomp profile ({path}) failed: {reason}")]
    Open { path: String, reason: String },
    #[error("compacting json for seccomp profile ({path}) failed: {source}")]
    Compact {
        path: String,
        source: serde_json::Error,
    },
    #[error("Decoding seccomp profile failed: {0}")]
    Decode(serde_json::Error),
    #[error("Decoding seccomp profile failed: the profile has rules but no defaultAction")]
    NoDefaultAction,
    #[error("'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'")]
    ArchitecturesAndArchMap,
    #[error(
        "'name' and 'names' were specified in the seccomp profile, use either 'name' or 'names'"
    )]
    NameAndNames,
    #[error("cannot read the kernel release: {0}")]
    Uname(nix::Error),
    #[error("failed to parse kernel version {0:?}")]
    KernelRelease(String),
}

/// [`DEFAULT_PROFILE_JSON`], decoded once.
pub fn default_profile() -> Result<&'static Profile, SeccompError> {
    static DEFAULT: OnceLock<Profile> = OnceLock::new();
    if let Some(profile) = DEFAULT.get() {
        return Ok(profile);
    }
    let profile = Profile::parse(DEFAULT_PROFILE_JSON)?;
    Ok(DEFAULT.get_or_init(|| profile))
}

/// The `linux.seccomp` of a container with these security options, `--privileged` flag and
/// capability bounding set, on this machine (moby's `WithSeccomp`); `None` for no filter.
pub fn for_container<'a>(
    security_opt: &[String],
    privileged: bool,
    bounding: impl IntoIterator<Item = &'a Capability>,
) -> Result<Option<LinuxSeccomp>, SeccompError> {
    let choice = SeccompOption::from_security_opts(security_opt);
    if choice == SeccompOption::Unconfined || privileged {
        return Ok(None);
    }
    let target = Target::host(bounding)?;
    match choice {
        SeccompOption::Profile(json) => Profile::parse(&json)?.resolve(&target),
        _ => default_profile()?.resolve(&target),
    }
}

#[cfg(test)]
mod tests {
    use oci_spec::runtime::LinuxSeccompAction;

    use super::*;

    fn opts(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn every_container_gets_the_default_profile_unless_it_opts_out() {
        let caps = [Capability::Chown, Capability::NetRaw];
        let default = for_container(&[], false, &caps)
            .expect("resolves")
            .expect("a filter");
        assert_eq!(default.default_action(), LinuxSeccompAction::ScmpActErrno);
        assert!(
            default.syscalls().as_ref().map_or(0, Vec::len) > 10,
            "the default profile's rules"
        );

        let unconfined = for_container(&opts(&["seccomp=unconfined"]), false, &caps);
        assert_eq!(unconfined.expect("resolves"), None);
        // As Docker 20.10: --privileged runs without seccomp, even with a profile given.
        let privileged = for_container(&opts(&["seccomp={not json"]), true, &caps);
        assert_eq!(privileged.expect("not even decoded"), None);
    }

    #[test]
    fn a_given_profile_replaces_the_default() {
        let given = opts(&[
            r#"seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}"#,
        ]);
        let s = for_container(&given, false, &[])
            .expect("resolves")
            .expect("a filter");
        assert_eq!(s.default_action(), LinuxSeccompAction::ScmpActAllow);
        let rules = s.syscalls().clone().unwrap_or_default();
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].names(), &["mkdir", "mkdirat"]);
        assert_eq!(rules[0].action(), LinuxSeccompAction::ScmpActErrno);
    }

    #[test]
    fn a_broken_given_profile_fails_with_dockers_prefix() {
        let bad_version = opts(&[
            r#"seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","includes":{"minKernel":"x.y"}}]}"#,
        ]);
        let err = for_container(&bad_version, false, &[]).expect_err("refused");
        assert!(
            err.to_string().starts_with(
                "Decoding seccomp profile failed: invalid kernel version: \"x.y\", expected \"<kernel>.<major>\""
            ),
            "{err}"
        );
        let bad_action = opts(&[r#"seccomp={"defaultAction":"SCMP_ACT_BOGUS"}"#]);
        let err = for_container(&bad_action, false, &[]).expect_err("refused");
        assert!(
            err.to_string()
                .starts_with("Decoding seccomp profile failed: "),
            "{err}"
        );
    }
}
