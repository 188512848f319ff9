//! Seccomp as Docker applies it, through the CLI: every container runs under Docker's
//! default profile (filter mode, one filter) unless `--security-opt seccomp=unconfined`;
//! the profile denies what it denies (new namespaces without CAP_SYS_ADMIN) and lets
//! everyday commands through; `--cap-add` brings back the calls its capability guards;
//! `--security-opt seccomp=<file>` replaces the profile; `exec` runs under the container's
//! filter. The last tests run the same commands in the real Docker Engine and require the
//! same answers.
//!
//! Each test has its own state root; containers are removed, pass or fail, and so is every
//! image put into the real Docker.

mod common;

use std::process::Command;

use common::{busybox_rootfs_tar, unique_name, Dokles, Output};

const STATUS: [&str; 3] = ["grep", "Seccomp", "/proc/self/status"];
const FILTERED: &str = "Seccomp:\t2\nSeccomp_filters:\t1\n";
const UNFILTERED: &str = "Seccomp:\t0\nSeccomp_filters:\t0\n";
const UNSHARE_DENIED: &str = "unshare: unshare(0x10000000): Operation not permitted\n";
const DENY_MKDIR: &str = r#"{
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [
        { "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO" }
    ]
}
"#;

/// `docker import -c 'CMD ["sh"]'` of the busybox rootfs as `tag`.
fn import_busybox(d: &Dokles, tag: &str) {
    let tar = busybox_rootfs_tar(d.work());
    d.ok(&["import", "-c", r#"CMD ["sh"]"#, tar.to_str().unwrap(), tag]);
}

fn busybox() -> Dokles {
    let d = Dokles::new();
    import_busybox(&d, "bb:test");
    d
}

/// `docker run --rm <args>`.
fn run(d: &Dokles, args: &[&str]) -> Output {
    d.run(&[&["run", "--rm"], args].concat())
}

/// A profile file in the test's scratch directory; returns its path.
fn profile_file(d: &Dokles, name: &str, json: &str) -> String {
    let path = d.work().join(name);
    std::fs::write(&path, json).expect("write profile");
    path.to_str().expect("UTF-8 path").to_string()
}

#[test]
fn every_container_runs_under_a_seccomp_filter() {
    let d = busybox();
    assert_eq!(
        run(&d, &[&["bb:test"], &STATUS[..]].concat()).ok(),
        FILTERED
    );
}

#[test]
fn seccomp_unconfined_runs_without_a_filter() {
    let d = busybox();
    let unconfined = ["--security-opt", "seccomp=unconfined", "bb:test"];
    assert_eq!(
        run(&d, &[&unconfined[..], &STATUS[..]].concat()).ok(),
        UNFILTERED
    );
    // What the default profile denies works without it.
    run(
        &d,
        &[&unconfined[..], &["unshare", "--user", "true"]].concat(),
    )
    .ok();
}

#[test]
fn the_default_profile_denies_new_namespaces() {
    let d = busybox();
    let denied = run(&d, &["bb:test", "unshare", "--user", "true"]);
    assert_eq!(denied.fails(1), UNSHARE_DENIED);
    let mount_ns = run(&d, &["bb:test", "unshare", "--mount", "true"]);
    assert!(
        mount_ns.fails(1).contains("Operation not permitted"),
        "{mount_ns:?}"
    );
}

#[test]
fn cap_sys_admin_brings_back_the_calls_it_guards() {
    let d = busybox();
    // unshare(CLONE_NEWNS) needs the capability and the profile's CAP_SYS_ADMIN rule.
    run(
        &d,
        &[
            "--cap-add",
            "SYS_ADMIN",
            "bb:test",
            "unshare",
            "--mount",
            "true",
        ],
    )
    .ok();
    // The filter is still there.
    assert_eq!(
        run(
            &d,
            &[&["--cap-add", "SYS_ADMIN", "bb:test"], &STATUS[..]].concat()
        )
        .ok(),
        FILTERED
    );
}

#[test]
fn everyday_commands_work_under_the_default_profile() {
    let d = busybox();
    let script = "ls / >/dev/null && echo hi && date >/dev/null && ps >/dev/null \
                  && sleep 0.1 && mkdir /x && touch /x/f && rm -r /x && id -u";
    assert_eq!(run(&d, &["bb:test", "sh", "-c", script]).ok(), "hi\n0\n");
}

#[test]
fn a_profile_file_replaces_the_default_profile() {
    let d = busybox();
    let file = profile_file(&d, "deny-mkdir.json", DENY_MKDIR);
    let opt = format!("seccomp={file}");
    let mkdir = run(&d, &["--security-opt", &opt, "bb:test", "mkdir", "/x"]);
    assert_eq!(
        mkdir.fails(1),
        "mkdir: can't create directory '/x': Operation not permitted\n"
    );
    assert_eq!(
        run(
            &d,
            &[&["--security-opt", &opt, "bb:test"], &STATUS[..]].concat()
        )
        .ok(),
        FILTERED
    );
    // The default profile's denials are gone with it.
    run(
        &d,
        &[
            "--security-opt",
            &opt,
            "bb:test",
            "unshare",
            "--user",
            "true",
        ],
    )
    .ok();
}

#[test]
fn the_record_carries_the_profile_itself_not_the_file_name() {
    let d = busybox();
    let file = profile_file(&d, "deny-mkdir.json", DENY_MKDIR);
    let id = d.ok(&[
        "create",
        "--security-opt",
        &format!("seccomp={file}"),
        "bb:test",
        "mkdir",
        "/x",
    ]);
    let id = id.trim();
    std::fs::remove_file(&file).expect("remove profile");
    assert_eq!(
        d.ok(&["inspect", "-f", "{{json .HostConfig.SecurityOpt}}", id]),
        "[\"seccomp={\\\"defaultAction\\\":\\\"SCMP_ACT_ALLOW\\\",\\\"syscalls\\\":[{\\\"names\\\":[\\\"mkdir\\\",\\\"mkdirat\\\"],\\\"action\\\":\\\"SCMP_ACT_ERRNO\\\"}]}\"]\n"
    );
    // Started after the file is gone, it still gets the profile.
    let started = d.run(&["start", "-a", id]);
    assert_eq!(
        started.fails(1),
        "mkdir: can't create directory '/x': Operation not permitted\n"
    );
    d.ok(&["rm", id]);
}

/// A detached container, removed on drop.
struct Running<'a> {
    d: &'a Dokles,
    id: String,
}

impl<'a> Running<'a> {
    fn start(d: &'a Dokles, opts: &[&str]) -> Self {
        let out = d.ok(&[&["run", "-d"], opts, &["bb:test", "sleep", "60"]].concat());
        Self {
            d,
            id: out.trim().to_string(),
        }
    }

    fn exec(&self, cmd: &[&str]) -> Output {
        self.d.run(&[&["exec", self.id.as_str()], cmd].concat())
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let _ = self.d.run(&["rm", "-f", &self.id]);
    }
}

#[test]
fn exec_runs_under_the_containers_filter() {
    let d = busybox();
    let confined = Running::start(&d, &[]);
    assert_eq!(confined.exec(&STATUS).ok(), FILTERED);
    assert_eq!(
        confined.exec(&["unshare", "--user", "true"]).fails(1),
        UNSHARE_DENIED
    );
    let unconfined = Running::start(&d, &["--security-opt", "seccomp=unconfined"]);
    assert_eq!(unconfined.exec(&STATUS).ok(), UNFILTERED);
}

#[test]
fn a_missing_profile_file_is_refused_before_anything_is_created() {
    let d = busybox();
    let missing = run(
        &d,
        &["--security-opt", "seccomp=/nonexistent/p.json", "bb:test"],
    );
    assert_eq!(
        missing.fails(125),
        "docker: opening seccomp profile (/nonexistent/p.json) failed: open /nonexistent/p.json: no such file or directory\n\nRun 'docker run --help' for more information\n"
    );
    assert_eq!(d.ok(&["ps", "-aq"]), "");
}

#[test]
fn a_profile_the_daemon_cannot_decode_fails_the_start() {
    let d = busybox();
    let file = profile_file(
        &d,
        "bad-kernel.json",
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","includes":{"minKernel":"x.y"}}]}"#,
    );
    let out = run(
        &d,
        &[
            "--security-opt",
            &format!("seccomp={file}"),
            "bb:test",
            "true",
        ],
    );
    let err = out.fails(125);
    assert!(
        err.starts_with(
            "docker: Error response from daemon: Decoding seccomp profile failed: invalid kernel version: \"x.y\", expected \"<kernel>.<major>\": strconv.ParseUint: parsing \"x\": invalid syntax"
        ),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------
// Side by side with the real Docker Engine.

fn docker(args: &[&str]) -> Output {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("the docker CLI is installed");
    Output {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code().unwrap_or(-1),
    }
}

/// The busybox image under one name in both engines; Docker's copy is removed on drop.
struct BothEngines {
    d: Dokles,
    tag: String,
}

impl BothEngines {
    fn new() -> Self {
        let info = docker(&["info", "--format", "{{.ServerVersion}}"]);
        assert!(
            info.code == 0 && !info.stdout.trim().is_empty(),
            "these tests need a running Docker daemon (`docker info` failed): {info:?}"
        );
        let d = Dokles::new();
        let tag = format!("{}:test", unique_name("dokles-seccomp"));
        import_busybox(&d, &tag);
        let tar = busybox_rootfs_tar(d.work());
        let imported = docker(&["import", "-c", r#"CMD ["sh"]"#, tar.to_str().unwrap(), &tag]);
        assert_eq!(imported.code, 0, "docker import: {imported:?}");
        Self { d, tag }
    }

    /// `docker run --rm <opts> <image> <cmd>` in both (Docker's without a network); equal
    /// stdout, stderr and exit code required.
    #[track_caller]
    fn same_run(&self, opts: &[&str], cmd: &[&str]) -> Output {
        let ours = run(&self.d, &[opts, &[self.tag.as_str()], cmd].concat());
        let theirs = docker(
            &[
                &["run", "--rm", "--network", "none"],
                opts,
                &[self.tag.as_str()],
                cmd,
            ]
            .concat(),
        );
        assert_eq!(
            (ours.code, &ours.stderr, &ours.stdout),
            (theirs.code, &theirs.stderr, &theirs.stdout),
            "`run {} {}` differs (left: dokles, right: Docker)",
            opts.join(" "),
            cmd.join(" ")
        );
        ours
    }
}

impl Drop for BothEngines {
    fn drop(&mut self) {
        let _ = docker(&["rmi", "-f", &self.tag]);
    }
}

#[test]
fn seccomp_status_matches_docker() {
    let both = BothEngines::new();
    assert_eq!(both.same_run(&[], &STATUS).stdout, FILTERED);
    let unconfined = ["--security-opt", "seccomp=unconfined"];
    assert_eq!(both.same_run(&unconfined, &STATUS).stdout, UNFILTERED);
    let admin = ["--cap-add", "SYS_ADMIN"];
    assert_eq!(both.same_run(&admin, &STATUS).stdout, FILTERED);
}

#[test]
fn what_the_profiles_deny_matches_docker() {
    let both = BothEngines::new();
    both.same_run(&[], &["unshare", "--user", "true"]);
    both.same_run(&[], &["unshare", "--mount", "true"]);
    both.same_run(&["--cap-add", "SYS_ADMIN"], &["unshare", "--mount", "true"]);
    both.same_run(&[], &["sh", "-c", "mkdir /x && echo made"]);
    let file = profile_file(&both.d, "deny-mkdir.json", DENY_MKDIR);
    let opt = format!("seccomp={file}");
    both.same_run(&["--security-opt", &opt], &["mkdir", "/x"]);
    both.same_run(
        &["--security-opt", &opt],
        &[
            "sh",
            "-c",
            "grep Seccomp /proc/self/status; unshare --user true",
        ],
    );
}

#[test]
fn security_opt_errors_and_records_match_docker() {
    let both = BothEngines::new();
    both.same_run(
        &["--security-opt", "seccomp=/nonexistent/p.json"],
        &["true"],
    );
    both.same_run(&["--security-opt", "seccomp"], &["true"]);

    let file = profile_file(&both.d, "deny-mkdir.json", DENY_MKDIR);
    let opts = [
        "--security-opt",
        &format!("seccomp={file}"),
        "--security-opt",
        "no-new-privileges",
    ];
    let ours = both.d.ok(&[&["create"], &opts[..], &[&both.tag]].concat());
    let theirs = docker(&[&["create"], &opts[..], &[&both.tag]].concat());
    assert_eq!(theirs.code, 0, "docker create: {theirs:?}");
    let (ours, theirs) = (ours.trim(), theirs.stdout.trim().to_string());
    let format = ["inspect", "-f", "{{json .HostConfig.SecurityOpt}}"];
    let inspected = (
        both.d.ok(&[&format[..], &[ours]].concat()),
        docker(&[&format[..], &[theirs.as_str()]].concat()),
    );
    let _ = docker(&["rm", &theirs]);
    both.d.ok(&["rm", ours]);
    assert_eq!(inspected.0, inspected.1.stdout);
}
