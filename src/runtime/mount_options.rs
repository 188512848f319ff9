//! The `options` of an OCI mount, split into what `mount(2)` wants: flags to set, a
//! propagation change, and the filesystem-specific data string.

use nix::mount::MsFlags;

/// A spec mount's options, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags for the mount itself (`ro`, `nosuid`, ...).
    pub flags: MsFlags,
    /// `MS_PRIVATE`, `MS_SLAVE`, ... (each with `MS_REC` if `r`-prefixed), applied after.
    pub propagation: Vec<MsFlags>,
    /// `bind` or `rbind` was given.
    pub bind: bool,
    /// Everything else, comma-joined, for the filesystem (`mode=755,size=65536k`).
    pub data: String,
}

impl MountOptions {
    pub fn parse<S: AsRef<str>>(options: &[S]) -> Self {
        let mut parsed = MountOptions {
            flags: MsFlags::empty(),
            propagation: Vec::new(),
            bind: false,
            data: String::new(),
        };
        let mut data = Vec::new();
        for option in options {
            let option = option.as_ref();
            if let Some(flag) = propagation(option) {
                parsed.propagation.push(flag);
                continue;
            }
            match flag(option) {
                Some((true, flag)) => parsed.flags |= flag,
                Some((false, flag)) => parsed.flags &= !flag,
                None => data.push(option),
            }
            if option == "bind" || option == "rbind" {
                parsed.bind = true;
            }
        }
        parsed.data = data.join(",");
        parsed
    }

    /// Flags that need a remount of a bind mount to take effect (the initial bind ignores
    /// them).
    pub fn remount_flags(&self) -> MsFlags {
        self.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC)
    }
}

/// `(set?, flag)` for an option that is a mount flag.
fn flag(option: &str) -> Option<(bool, MsFlags)> {
    use MsFlags as F;
    Some(match option {
        "ro" => (true, F::MS_RDONLY),
        "rw" => (false, F::MS_RDONLY),
        "nosuid" => (true, F::MS_NOSUID),
        "suid" => (false, F::MS_NOSUID),
        "nodev" => (true, F::MS_NODEV),
        "dev" => (false, F::MS_NODEV),
        "noexec" => (true, F::MS_NOEXEC),
        "exec" => (false, F::MS_NOEXEC),
        "sync" => (true, F::MS_SYNCHRONOUS),
        "async" => (false, F::MS_SYNCHRONOUS),
        "dirsync" => (true, F::MS_DIRSYNC),
        "mand" => (true, F::MS_MANDLOCK),
        "nomand" => (false, F::MS_MANDLOCK),
        "noatime" => (true, F::MS_NOATIME),
        "atime" => (false, F::MS_NOATIME),
        "nodiratime" => (true, F::MS_NODIRATIME),
        "diratime" => (false, F::MS_NODIRATIME),
        "relatime" => (true, F::MS_RELATIME),
        "norelatime" => (false, F::MS_RELATIME),
        "strictatime" => (true, F::MS_STRICTATIME),
        "nostrictatime" => (false, F::MS_STRICTATIME),
        "bind" => (true, F::MS_BIND),
        "rbind" => (true, F::MS_BIND | F::MS_REC),
        "remount" => (true, F::MS_REMOUNT),
        _ => return None,
    })
}

fn propagation(option: &str) -> Option<MsFlags> {
    use MsFlags as F;
    Some(match option {
        "private" => F::MS_PRIVATE,
        "rprivate" => F::MS_PRIVATE | F::MS_REC,
        "shared" => F::MS_SHARED,
        "rshared" => F::MS_SHARED | F::MS_REC,
        "slave" => F::MS_SLAVE,
        "rslave" => F::MS_SLAVE | F::MS_REC,
        "unbindable" => F::MS_UNBINDABLE,
        "runbindable" => F::MS_UNBINDABLE | F::MS_REC,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devpts_options_split_into_flags_and_data() {
        let parsed = MountOptions::parse(&[
            "rw",
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620",
            "gid=5",
        ]);
        assert_eq!(parsed.flags, MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC);
        assert_eq!(parsed.data, "newinstance,ptmxmode=0666,mode=0620,gid=5");
        assert!(!parsed.bind);
    }

    #[test]
    fn rbind_ro_needs_a_read_only_remount() {
        let parsed = MountOptions::parse(&["rbind", "ro", "rprivate"]);
        assert!(parsed.bind);
        assert_eq!(parsed.remount_flags(), MsFlags::MS_RDONLY);
        assert_eq!(
            parsed.propagation,
            vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC]
        );
    }
}
