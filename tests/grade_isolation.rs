//! A graded submission is an attacker: each test here is a hostile submission, graded by
//! the real `dokles nakijken`, that tries to reach out of its world — write host files,
//! use another state root or the real Docker's socket, outlive grading by leaving its
//! cgroup, reach a listener on the host's loopback, or send escape sequences to the
//! instructor's terminal — and checks afterwards, from the host, that it did not get out.
//! Each submission also proves its lines ran (an exit code in the report's problems), so
//! no test passes because nothing happened.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A one-step lesson: write `klaar` to uitvoer.txt.
const LESSON: &str = r#"
titel = "Isolatie"

[[stap]]
id = "klaar"
titel = "Een bestand op de host"
uitleg = "Een bestand in je werkmap."
opdracht = "Zet klaar in uitvoer.txt."
voorbeeld = "echo klaar > uitvoer.txt"
controle = [ { hostbestand = "uitvoer.txt", inhoud = "klaar" } ]
"#;

/// A directory with the lesson and the submission.
struct Case {
    dir: tempfile::TempDir,
}

struct Graded {
    report: Value,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Graded {
    fn submission(&self) -> &Value {
        &self.report["submissions"][0]
    }

    /// The report's problems, one string.
    fn problems(&self) -> String {
        self.submission()["problems"]
            .as_array()
            .map(|p| {
                p.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    }

    /// Whether the line starting with `start` ended with `code`.
    fn ended_with(&self, start: &str, code: i32) -> bool {
        self.problems()
            .lines()
            .any(|p| p.contains(start) && p.ends_with(&format!("eindigde met exitcode {code}")))
    }
}

impl Case {
    fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("dokles-isolatie-")
            .tempdir()
            .expect("temp dir");
        std::fs::write(dir.path().join("98-isolatie.toml"), LESSON).expect("lesson");
        Self { dir }
    }

    /// Grade `script` (a shell script submission) named `name`, with `args` added.
    fn grade(&self, name: &str, script: &[u8], args: &[&str]) -> Graded {
        let file = self.dir.path().join(name);
        std::fs::write(&file, script).expect("submission");
        let out = Command::new(common::binary())
            .current_dir(self.dir.path())
            .args(["nakijken", "--les", "98-isolatie.toml", "--ruimte", "64"])
            .args(["--timeout", "60"])
            .args(args)
            .arg(name)
            .stdin(Stdio::null())
            .output()
            .expect("running dokles nakijken");
        let json = if args.contains(&"--json") {
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
                panic!(
                    "no JSON report ({e}):\n{}\n{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                )
            })
        } else {
            Value::Null
        };
        Graded {
            report: json,
            stdout: out.stdout,
            stderr: out.stderr,
        }
    }

    fn grade_json(&self, script: &str) -> Graded {
        let g = self.grade("vijandig.sh", script.as_bytes(), &["--json"]);
        assert_eq!(
            g.submission()["status"],
            "graded",
            "{}\n{}",
            g.report,
            String::from_utf8_lossy(&g.stderr)
        );
        g
    }
}

/// A path on the host that does not exist yet (and is removed again when dropped).
struct Marker(PathBuf);

impl Marker {
    fn new(dir: &str) -> Self {
        let m = Self(Path::new(dir).join(common::unique_name("dokles-isolatie")));
        assert!(!m.0.exists());
        m
    }

    fn path(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for Marker {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn writing_host_files_only_writes_in_the_submissions_own_world() {
    let case = Case::new();
    let markers: Vec<Marker> = ["/tmp", "/root", "/etc", "/var", "/var/tmp", "/usr/local"]
        .into_iter()
        .map(Marker::new)
        .collect();
    let [tmp, root, etc, var, var_tmp, usr] = &markers[..] else {
        unreachable!()
    };
    // A line for the host's kernel log, through a device node of its own (/dev/kmsg).
    let kernel_log = common::unique_name("dokles-isolatie-kmsg");
    let script = format!(
        "#!/bin/sh\n\
         echo x > {tmp} && test -s {tmp} && exit 41\n\
         echo x > {root} && test -s {root} && exit 42\n\
         echo x > {etc}\n\
         echo x > {var}\n\
         echo x > {var_tmp} && exit 43\n\
         mount -o remount,rw /usr; echo x > {usr}\n\
         mount -o remount,bind,rw /etc; echo x > {etc}\n\
         mount -o remount,bind,rw /; echo x > {var}\n\
         mknod /tmp/kmsg c 1 11\n\
         echo {kernel_log} > /tmp/kmsg && exit 44\n\
         echo klaar > uitvoer.txt\n",
        tmp = tmp.path(),
        root = root.path(),
        etc = etc.path(),
        var = var.path(),
        var_tmp = var_tmp.path(),
        usr = usr.path(),
    );
    let g = case.grade_json(&script);
    // It may make a device node, but not open one it should not have: the host's kernel
    // log stays untouched.
    assert!(!g.problems().contains("mknod"), "{}", g.problems());
    assert!(g.ended_with("> /tmp/kmsg", 2), "{}", g.problems());
    let dmesg = Command::new("dmesg").output().expect("dmesg");
    assert!(
        !String::from_utf8_lossy(&dmesg.stdout).contains(&kernel_log),
        "the submission wrote to the host's kernel log"
    );
    // /tmp, /root and /var/tmp are the submission's own; /etc, /var and /usr are read-only
    // (and stay so: remounting them read-write is refused).
    assert!(g.ended_with("echo x > /tmp/", 41), "{}", g.problems());
    assert!(g.ended_with("echo x > /root/", 42), "{}", g.problems());
    assert!(g.ended_with("echo x > /var/tmp/", 43), "{}", g.problems());
    for line in [
        format!("`echo x > {}`", etc.path()),
        format!("`echo x > {}`", var.path()),
        "`mount -o remount,rw /usr;".to_string(),
        "`mount -o remount,bind,rw /etc;".to_string(),
        "`mount -o remount,bind,rw /;".to_string(),
    ] {
        assert!(
            g.problems().lines().any(|p| p.contains(&line)),
            "{line} did not fail:\n{}",
            g.problems()
        );
    }
    assert_eq!(g.submission()["passed"], true, "{}", g.report);
    for m in &markers {
        assert!(!m.0.exists(), "{} was written on the host", m.path());
    }
}

/// A state root with busybox, outside /tmp: next to the binary under test.
fn other_state_root() -> tempfile::TempDir {
    let root = tempfile::Builder::new()
        .prefix("andere-root-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("temp dir");
    let out = Command::new(common::binary())
        .arg("--root")
        .arg(root.path())
        .args(["docker", "pull", "busybox"])
        .stdin(Stdio::null())
        .output()
        .expect("pull");
    assert!(out.status.success(), "{out:?}");
    root
}

fn can_connect(socket: &str) -> bool {
    std::os::unix::net::UnixStream::connect(socket).is_ok()
}

#[test]
fn another_state_root_and_the_real_docker_socket_are_out_of_reach() {
    const DOCKER_SOCKET: &str = "/var/run/docker.sock";
    assert!(
        can_connect(DOCKER_SOCKET),
        "the reference dockerd must run for this test (dockerd --iptables=false …)"
    );
    let other = other_state_root();
    let other_path = std::fs::canonicalize(other.path()).expect("canonical");
    let own_socket =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{}.sock", common::unique_name("iso")));
    let listener = std::os::unix::net::UnixListener::bind(&own_socket).expect("listener");
    listener.set_nonblocking(true).expect("nonblocking");
    let name = common::unique_name("eindringer");
    let case = Case::new();
    let script = format!(
        "#!/bin/sh\n\
         test -d {other} && exit 41\n\
         DOKLES_ROOT={other} docker images | grep -q busybox && exit 42\n\
         DOKLES_ROOT={other} docker run -d --name {name} busybox sleep 1000 && exit 43\n\
         \"$(readlink /.nakijken/bin/docker)\" --root {other} docker run -d --name {name} busybox sleep 1000 && exit 44\n\
         env -u DOKLES_ROOT docker run -d --name {name} busybox sleep 1000 && exit 45\n\
         curl -s --max-time 5 --unix-socket {DOCKER_SOCKET} http://docker/version && exit 46\n\
         /usr/bin/docker -H unix://{DOCKER_SOCKET} ps && exit 47\n\
         python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])' {DOCKER_SOCKET} && exit 48\n\
         python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])' {own} && exit 49\n\
         test -n \"$(readlink /proc/2/fd/1)\" && exit 51\n\
         python3 -c 'import ctypes,sys; sys.exit(52 if ctypes.CDLL(None).ptrace(16, 2, 0, 0) == 0 else 1)'\n\
         docker pull busybox && exit 50\n\
         echo klaar > uitvoer.txt\n",
        other = other_path.display(),
        own = own_socket.display(),
    );
    let g = case.grade_json(&script);
    let _ = std::fs::remove_file(&own_socket);
    let default = Path::new("/var/lib/dokles");
    let in_default = || {
        let out = Command::new(common::binary())
            .arg("--root")
            .arg(default)
            .args(["docker", "ps", "-a", "--format", "{{.Names}}"])
            .output()
            .expect("ps");
        String::from_utf8_lossy(&out.stdout).contains(&name)
    };
    let default_reached = default.exists() && in_default();
    if default_reached {
        let _ = Command::new(common::binary())
            .arg("--root")
            .arg(default)
            .args(["docker", "rm", "-f", &name])
            .output();
    }
    // Its own docker works (the last line proves the lines ran), nothing else does.
    assert!(g.ended_with("docker pull busybox", 50), "{}", g.problems());
    // Nor can it take its judge's descriptors or ptrace it (PID 2 of its world).
    for code in (41..=49).chain([51, 52]) {
        assert!(
            !g.ended_with("", code),
            "line with `exit {code}` got through:\n{}",
            g.problems()
        );
    }
    assert!(
        listener.accept().is_err(),
        "a connection reached the host's socket"
    );
    // The other root has no new container.
    let ps = Command::new(common::binary())
        .arg("--root")
        .arg(other.path())
        .args(["docker", "ps", "-a", "--format", "{{.Names}}"])
        .output()
        .expect("ps");
    assert_eq!(String::from_utf8_lossy(&ps.stdout), "");
    assert!(
        !default_reached,
        "a container was made in {}",
        default.display()
    );
}

/// Host processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let mut cmdline = Vec::new();
        if std::fs::File::open(entry.path().join("cmdline"))
            .and_then(|mut f| f.read_to_end(&mut cmdline))
            .is_ok()
            && String::from_utf8_lossy(&cmdline).contains(marker)
        {
            found.push(format!(
                "{}: {}",
                entry.file_name().to_string_lossy(),
                String::from_utf8_lossy(&cmdline).replace('\0', " ")
            ));
        }
    }
    found
}

/// SIGKILL `pid`, thawing its freezer cgroup first (on cgroup v1 a frozen process does not
/// die; on v2 it does).
fn kill_frozen_or_not(pid: &str) {
    let _ = Command::new("kill").args(["-9", pid]).status();
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    if let Some(freezer) = cgroups
        .lines()
        .find_map(|l| l.split_once(":freezer:").map(|(_, p)| p.to_string()))
    {
        let _ = std::fs::write(
            format!("/sys/fs/cgroup/freezer{freezer}/freezer.state"),
            "THAWED",
        );
    }
}

/// Wait until no host process has `marker` in its command line; fail (killing them) if
/// some outlive the wait.
fn assert_none_left(marker: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = processes_with(marker);
        if left.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            for p in &left {
                if let Some(pid) = p.split(':').next() {
                    kill_frozen_or_not(pid);
                }
            }
            panic!("processes outlived grading: {left:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn cgroup_v2() -> bool {
    dokles::runtime::cgroups::version().expect("cgroup version")
        == dokles::runtime::cgroups::Version::V2
}

#[test]
fn a_process_that_leaves_its_cgroup_does_not_outlive_grading() {
    let marker = common::unique_name("overlever");
    let climb = common::unique_name("ontsnapt");
    let case = Case::new();
    // Each escape starts a long sleep under a shell named after the marker, most in a
    // session of their own, after moving to the root of a cgroup hierarchy it can see or to
    // the judge's cgroup; the line waits a moment so the escape is done before it ends.
    // Containers come first: on cgroup v2 a process in the submission's root cgroup would
    // keep its containers from getting controllers (it would only hurt itself).
    let sleeper = |n: u32| format!("sh -c \"sleep 100000; exit 0\" {marker}-{n}");
    let quiet = "> /dev/null 2>&1 < /dev/null";
    let container_cgroup = if cgroup_v2() {
        "/sys/fs/cgroup/dokles"
    } else {
        "/sys/fs/cgroup/pids/dokles"
    };
    let common = format!(
        "docker run -d --name blijver busybox {s6} > /dev/null && test -d \"{container_cgroup}/$(docker inspect -f '{{{{.Id}}}}' blijver)\" && exit 46\n\
         docker run -d --name klimmer --cgroup-parent /../../{climb} busybox {s7} > /dev/null && cg=/proc/$(docker inspect -f '{{{{.State.Pid}}}}' klimmer)/cgroup && grep -q ':/{climb}/' $cg && ! grep -q '/[.][.]' $cg && exit 48\n\
         ( nohup sh -c 'trap \"\" TERM HUP INT; sleep 100000; exit 0' {marker}-4 {quiet} & ) ; sleep 0.5; exit 44\n\
         mkdir -p /tmp/cg1 && mount -t cgroup -o none,name={climb} cgroup /tmp/cg1 && exit 49\n",
        s6 = sleeper(6),
        s7 = sleeper(7),
    );
    let escapes = if cgroup_v2() {
        format!(
            "sh -c 'echo $$ > /sys/fs/cgroup/cgroup.procs; exec setsid {s1}' {quiet} & sleep 0.5; exit 41\n\
             sh -c 'echo $$ > /sys/fs/cgroup/beoordelaar/cgroup.procs; exec setsid {s2}' {quiet} & sleep 0.5; exit 42\n\
             mkdir -p /tmp/cg && mount -t cgroup2 cgroup2 /tmp/cg && sh -c 'echo $$ > /tmp/cg/cgroup.procs; ( ( setsid {s3} & ) & )' {quiet}; sleep 0.5; exit 43\n\
             mkdir /sys/fs/cgroup/ijs && ( sh -c 'echo $$ > /sys/fs/cgroup/ijs/cgroup.procs; exec setsid {s5}' {quiet} & ) ; sleep 0.5; echo 1 > /sys/fs/cgroup/ijs/cgroup.freeze; exit 45\n\
             ls /sys/fs/cgroup | grep -q dokles-nakijken && exit 47\n",
            s1 = sleeper(1),
            s2 = sleeper(2),
            s3 = sleeper(3),
            s5 = sleeper(5),
        )
    } else {
        format!(
            "sh -c 'echo $$ > /sys/fs/cgroup/pids/cgroup.procs; echo $$ > /sys/fs/cgroup/freezer/cgroup.procs; exec setsid {s1}' {quiet} & sleep 0.5; exit 41\n\
             sh -c 'echo $$ > /sys/fs/cgroup/unified/cgroup.procs; echo $$ > /sys/fs/cgroup/pids/cgroup.procs; exec setsid {s2}' {quiet} & sleep 0.5; exit 42\n\
             mkdir -p /tmp/cg && mount -t cgroup -o pids cgroup /tmp/cg && sh -c 'echo $$ > /tmp/cg/cgroup.procs; ( ( setsid {s3} & ) & )' {quiet}; sleep 0.5; exit 43\n\
             mkdir /sys/fs/cgroup/freezer/ijs && ( sh -c 'echo $$ > /sys/fs/cgroup/freezer/ijs/cgroup.procs; exec setsid {s5}' {quiet} & ) ; sleep 0.5; echo FROZEN > /sys/fs/cgroup/freezer/ijs/freezer.state; exit 45\n\
             ls /sys/fs/cgroup/pids /sys/fs/cgroup/freezer /sys/fs/cgroup/unified | grep -q dokles-nakijken && exit 47\n",
            s1 = sleeper(1),
            s2 = sleeper(2),
            s3 = sleeper(3),
            s5 = sleeper(5),
        )
    };
    let script = format!("#!/bin/sh\n{common}{escapes}echo klaar > uitvoer.txt\n");
    let started = Instant::now();
    let g = case.grade_json(&script);
    // Every escape ran; the containers' cgroups are below the submission's own — also the
    // one whose --cgroup-parent climbs — and no cgroup of the host is in sight, nor can a
    // hierarchy of its own (with a release agent) be made.
    for code in (41..=46).chain([48]) {
        assert!(g.ended_with("", code), "line {code}:\n{}", g.problems());
    }
    assert!(g.ended_with("ls /sys/fs/cgroup", 1), "{}", g.problems());
    assert!(!g.ended_with("", 49), "{}", g.problems());
    assert!(started.elapsed() < Duration::from_secs(120));
    // The climbing parent was made inside the world, never at a hierarchy's root.
    let climbed = dokles::runtime::Cgroup::locate_everywhere(&Path::new("/").join(&climb))
        .expect("cgroup paths");
    for dir in climbed.dirs() {
        assert!(!dir.exists(), "{} was made on the host", dir.display());
    }
    // Nothing of it runs on: not in its cgroup, not anywhere.
    assert_none_left(&marker);
}

#[test]
fn stats_top_and_pause_work_on_the_submissions_containers() {
    let marker = common::unique_name("gepauzeerd");
    let case = Case::new();
    let id = "$(docker inspect -f '{{.Id}}' web)";
    let (frozen, thawed) = if cgroup_v2() {
        (
            format!("grep -qx 'frozen 1' /sys/fs/cgroup/dokles/{id}/cgroup.events"),
            format!("grep -qx 'frozen 0' /sys/fs/cgroup/dokles/{id}/cgroup.events"),
        )
    } else {
        (
            format!("grep -qx FROZEN /sys/fs/cgroup/freezer/dokles/{id}/freezer.state"),
            format!("grep -qx THAWED /sys/fs/cgroup/freezer/dokles/{id}/freezer.state"),
        )
    };
    // Each line proves it worked with its exit code; the container is left paused (a
    // frozen cgroup), which must not keep it alive after grading.
    let script = format!(
        "#!/bin/sh\n\
         docker run -d --name web busybox sh -c 'sleep 100000; exit 0' {marker} > /dev/null && exit 51\n\
         docker stats --no-stream --format '{{{{.Name}}}} {{{{.PIDs}}}} {{{{.MemUsage}}}}' web | grep -q '^web 2 .*iB / ' && exit 52\n\
         docker top web | grep -q 'sleep 100000' && exit 53\n\
         docker pause web && test \"$(docker inspect -f '{{{{.State.Status}}}}' web)\" = paused && {frozen} && exit 54\n\
         docker unpause web && {thawed} && docker exec web true && exit 55\n\
         docker pause web && exit 56\n\
         echo klaar > uitvoer.txt\n"
    );
    let g = case.grade_json(&script);
    for code in 51..=56 {
        assert!(g.ended_with("", code), "line {code}:\n{}", g.problems());
    }
    assert_none_left(&marker);
}

#[test]
fn the_submission_cannot_reach_a_listener_on_the_hosts_loopback() {
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").expect("tcp listener");
    tcp.set_nonblocking(true).expect("nonblocking");
    let port = tcp.local_addr().expect("address").port();
    // An abstract unix socket: no path, only a network namespace hides it.
    let abstract_name = common::unique_name("dokles-isolatie");
    let addr =
        <std::os::unix::net::SocketAddr as std::os::linux::net::SocketAddrExt>::from_abstract_name(
            abstract_name.as_bytes(),
        )
        .expect("abstract address");
    let unix = std::os::unix::net::UnixListener::bind_addr(&addr).expect("abstract listener");
    unix.set_nonblocking(true).expect("nonblocking");
    let case = Case::new();
    let script = format!(
        "#!/bin/sh\n\
         curl -s --max-time 2 http://127.0.0.1:{port}/ > /dev/null; exit 41\n\
         python3 -c 'import socket,sys; socket.create_connection((\"127.0.0.1\", int(sys.argv[1])), timeout=5)' {port} && exit 42\n\
         python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(b\"\\0\" + sys.argv[1].encode())' {abstract_name} && exit 43\n\
         python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\", 0)); s.listen(); socket.create_connection(s.getsockname(), timeout=5)' && exit 44\n\
         echo klaar > uitvoer.txt\n"
    );
    let g = case.grade_json(&script);
    // Its own loopback works; the host's is not there.
    assert!(
        g.ended_with("python3 -c 'import socket; s=", 44),
        "{}",
        g.problems()
    );
    assert!(g.ended_with("curl", 41), "{}", g.problems());
    for code in 42..=43 {
        assert!(!g.ended_with("", code), "line {code}:\n{}", g.problems());
    }
    assert!(
        tcp.accept().is_err(),
        "a connection reached the host's port"
    );
    assert!(
        unix.accept().is_err(),
        "a connection reached the abstract socket"
    );
}

/// Bytes a terminal would obey: ESC (CSI, OSC), BEL, and the 8-bit CSI.
fn raw_controls(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    text.chars()
        .filter(|&c| c == '\u{1b}' || c == '\u{7}' || c == '\u{9b}' || c == '\r')
        .map(|c| format!("{:?}", c))
        .collect()
}

#[test]
fn escape_sequences_in_a_submission_reach_no_terminal_raw() {
    let case = Case::new();
    // Clear the screen, write the clipboard (OSC 52), an 8-bit CSI: in the file it writes
    // (shown in the check's message), in a command line (a problem) and in its name.
    let mut script = b"#!/bin/sh\n\
        printf '\\033[2J\\033]52;c;aGFsbG8=\\007\\302\\233' > uitvoer.txt\n\
        echo '"
        .to_vec();
    script.extend_from_slice(b"\x1b]0;titel\x07\x1b[2J");
    script.extend_from_slice(b"'; exit 3\n");
    let name = "vijandig-\u{1b}[31m.sh";

    let summary = case.grade(name, &script, &[]);
    assert_eq!(
        raw_controls(&summary.stdout),
        Vec::<String>::new(),
        "{}",
        String::from_utf8_lossy(&summary.stdout)
    );
    assert_eq!(raw_controls(&summary.stderr), Vec::<String>::new());
    let text = String::from_utf8_lossy(&summary.stdout);
    assert!(
        text.contains("uitvoer.txt bevat: \\u{1b}[2J\\u{1b}]52;c;aGFsbG8=\\u{7}\\u{9b}"),
        "{text}"
    );
    assert!(text.contains("echo '\\u{1b}]0;titel\\u{7}\\u{1b}[2J'; exit 3"));
    assert!(text.contains("vijandig-\\u{1b}[31m.sh: 0/1 punten"));

    // JSON keeps the characters themselves (escaped by JSON).
    let json = case.grade(name, &script, &["--json"]);
    let s = &json.report["submissions"][0];
    assert_eq!(s["submission"], name);
    assert!(s["steps"][0]["checks"][0]["message"]
        .as_str()
        .is_some_and(|m| m.contains("\u{1b}[2J\u{1b}]52;c;aGFsbG8=\u{7}\u{9b}")));
    assert_eq!(raw_controls(&json.stdout), Vec::<String>::new());

    // JUnit stays valid XML and shows them.
    let xml = case.dir.path().join("junit.xml");
    let xml_arg = xml.display().to_string();
    case.grade(name, &script, &["--junit", &xml_arg]);
    let text = std::fs::read_to_string(&xml).expect("junit");
    assert!(
        text.contains("\\u{1b}[2J\\u{1b}]52;c;aGFsbG8=\\u{7}\\u{9b}"),
        "{text}"
    );
    assert_eq!(raw_controls(text.as_bytes()), Vec::<String>::new());
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/junit/JUnit.xsd");
    let lint = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(&schema)
        .arg(&xml)
        .output()
        .expect("xmllint (libxml2-utils) is installed: see scripts/test");
    assert!(
        lint.status.success(),
        "{}",
        String::from_utf8_lossy(&lint.stderr)
    );
}
