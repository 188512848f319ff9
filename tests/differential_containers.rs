//! dokles against the real Docker Engine: the same command sequences, with the same busybox
//! image and the same container names, must give the same `ps -a` table, `inspect` fields,
//! logs, error texts and exit codes — after normalising what legitimately differs (IDs,
//! times, the runtime's name in start errors, column widths).
//!
//! Docker must be running here; if `docker info` fails these tests fail loudly rather than
//! pass without comparing anything.

mod common_ctr;

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common_ctr::{busybox_tar, wait_for, Dokles, Out};
use serde_json::Value;

/// A dokles root and the real Docker, each with the busybox image under one unique name.
struct Pair {
    dokles: Dokles,
    image: String,
    /// Prefix of every container name this test gives, unique on the shared Docker daemon.
    prefix: String,
}

fn docker(args: &[&str]) -> Out {
    let o = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the docker CLI must be installed");
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

impl Pair {
    fn new() -> Self {
        let info = docker(&["info", "--format", "{{.ServerVersion}}"]);
        assert!(
            info.code == 0 && !info.stdout.trim().is_empty(),
            "the real Docker engine is needed for the differential tests, but `docker info` failed:\n{}",
            info.stderr
        );
        static N: AtomicU32 = AtomicU32::new(0);
        let unique = format!(
            "{}x{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let image = format!("dokles-diff-{unique}:busybox");
        let tar = busybox_tar().to_str().unwrap().to_string();
        let imported = docker(&["import", "-c", r#"CMD ["sh"]"#, &tar, &image]);
        assert_eq!(imported.code, 0, "docker import: {}", imported.stderr);
        let dokles = Dokles::new();
        dokles.ok(&["import", "-c", r#"CMD ["sh"]"#, &tar, &image]);
        Self {
            dokles,
            image,
            // `$DOKLES_DIFF_PREFIX` (default `dd`) lets a shared daemon's users keep to
            // their own container names.
            prefix: format!(
                "{}{unique}-",
                std::env::var("DOKLES_DIFF_PREFIX").unwrap_or_else(|_| "dd".into())
            ),
        }
    }

    /// A container name unique to this test.
    fn name(&self, n: &str) -> String {
        format!("{}{n}", self.prefix)
    }

    /// Run the same command on both: (Docker's, dokles').
    fn both(&self, args: &[&str]) -> (Out, Out) {
        let args: Vec<String> = args
            .iter()
            .map(|a| {
                if *a == "IMG" {
                    self.image.clone()
                } else {
                    a.to_string()
                }
            })
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        (docker(&args), self.dokles.run(&args))
    }

    /// Run the same command on both; exit code, stdout and stderr must agree once
    /// normalised. Returns the normalised result.
    fn same(&self, args: &[&str]) -> Out {
        let (real, ours) = self.both(args);
        let (real, ours) = (self.normalise(&real), self.normalise(&ours));
        assert_eq!(
            (real.code, &real.stdout, &real.stderr),
            (ours.code, &ours.stdout, &ours.stderr),
            "docker {args:?}: Docker (left) and dokles (right) differ"
        );
        real
    }

    fn normalise(&self, o: &Out) -> Out {
        Out {
            code: o.code,
            stdout: self.normalise_text(&o.stdout),
            stderr: self.normalise_text(&o.stderr),
        }
    }

    /// IDs → `<id>`/`<short>`, `… ago`/`Up …` durations → `<time>`, the runtime's own name,
    /// and table columns (whose widths follow their contents) → ` | `.
    fn normalise_text(&self, s: &str) -> String {
        let s = s
            .replace("runc create failed", "<runtime> create failed")
            .replace("dokles runtime create failed", "<runtime> create failed");
        let s = replace_hex_runs(&s);
        let s = replace_durations(&s);
        s.lines()
            .map(|l| {
                l.split("   ")
                    .map(str::trim)
                    .filter(|f| !f.is_empty())
                    .collect::<Vec<_>>()
                    .join(" | ")
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The inspect document of `name` on both sides.
    fn inspect_both(&self, name: &str) -> (Value, Value) {
        let (real, ours) = self.both(&["inspect", name]);
        assert_eq!(real.code, 0, "docker inspect: {}", real.stderr);
        assert_eq!(ours.code, 0, "dokles inspect: {}", ours.stderr);
        let first = |s: &str| -> Value {
            let v: Value = serde_json::from_str(s).expect("inspect JSON");
            v[0].clone()
        };
        (first(&real.stdout), first(&ours.stdout))
    }

    fn wait_exited(&self, name: &str) {
        wait_for(&format!("{name} to exit on both"), || {
            let (r, o) = self.both(&["inspect", "-f", "{{.State.Status}}", name]);
            r.stdout.trim() == "exited" && o.stdout.trim() == "exited"
        });
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        let listed = docker(&["ps", "-aq", "--filter", &format!("name={}", self.prefix)]);
        let ids: Vec<&str> = listed.stdout.lines().collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(ids);
            docker(&args);
        }
        docker(&["rmi", "-f", &self.image]);
    }
}

/// 64- and 12-character lowercase hex runs (container and image IDs) → `<id>` / `<short>`.
fn replace_hex_runs(s: &str) -> String {
    let mut out = String::new();
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        match run.len() {
            64 => out.push_str("<id>"),
            12 => out.push_str("<short>"),
            _ => out.push_str(run),
        }
        run.clear();
    };
    for c in s.chars() {
        if c.is_ascii_digit() || ('a'..='f').contains(&c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Go's human durations (`Less than a second`, `3 seconds`, `About a minute`) → `<time>`.
fn replace_durations(s: &str) -> String {
    let mut s = s.replace("Less than a second", "<time>");
    s = s.replace("About a minute", "<time>");
    for unit in ["seconds", "second", "minutes"] {
        let mut out = String::new();
        let mut rest = s.as_str();
        while let Some(i) = rest.find(&format!(" {unit}")) {
            let head = &rest[..i];
            let digits = head.len() - head.trim_end_matches(|c: char| c.is_ascii_digit()).len();
            if digits > 0 {
                out.push_str(&head[..head.len() - digits]);
                out.push_str("<time>");
            } else {
                out.push_str(head);
                out.push(' ');
                out.push_str(unit);
            }
            rest = &rest[i + 1 + unit.len()..];
        }
        out.push_str(rest);
        s = out;
    }
    s
}

// ---------------------------------------------------------------------------------------

#[test]
fn normalising_hides_ids_and_times_only() {
    assert_eq!(
        replace_hex_runs("x 0123456789ab y"),
        "x <short> y",
        "a 12-hex short ID"
    );
    assert_eq!(replace_hex_runs("cafe"), "cafe");
    assert_eq!(
        replace_durations("Exited (3) 5 seconds ago, Up 1 second, Up Less than a second"),
        "Exited (3) <time> ago, Up <time>, Up <time>"
    );
}

#[test]
fn exit_codes_and_output_streams_agree() {
    let p = Pair::new();
    p.same(&[
        "run",
        "--rm",
        "IMG",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    p.same(&["run", "--rm", "IMG", "true"]);
    p.same(&["run", "--rm", "IMG", "nosuchcmd"]);
    p.same(&["run", "--rm", "IMG", "/etc/passwd"]);
    p.same(&["run", "--rm", "IMG", "sh", "-c", "exit 255"]);
}

#[test]
fn start_errors_agree_and_leave_a_created_container() {
    let p = Pair::new();
    let name = p.name("broken");
    let out = p.same(&["run", "--name", &name, "IMG", "nosuchcmd"]);
    assert_eq!(out.code, 127);
    p.same(&[
        "ps",
        "-a",
        "--filter",
        &format!("name={name}"),
        "--format",
        "{{.Names}} {{.Status}}",
    ]);
    p.same(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{.State.ExitCode}}",
        &name,
    ]);
}

#[test]
fn ps_a_tables_agree() {
    let p = Pair::new();
    let (c, e, r) = (p.name("created"), p.name("exited"), p.name("running"));
    p.same(&[
        "create",
        "--name",
        &c,
        "IMG",
        "sh",
        "-c",
        "echo hi; sleep 100",
    ]);
    p.same(&["run", "--name", &e, "IMG", "sh", "-c", "exit 3"]);
    p.same(&[
        "run", "-d", "--name", &r, "-l", "role=srv", "IMG", "sleep", "1000",
    ]);
    let filter = format!("name={}", p.prefix);
    p.same(&["ps", "-a", "--filter", &filter]);
    p.same(&["ps", "--filter", &filter]);
    p.same(&["ps", "-a", "--no-trunc", "--filter", &filter]);
    p.same(&["ps", "-aq", "--filter", &filter]);
    p.same(&[
        "ps",
        "-a",
        "--filter",
        &filter,
        "--filter",
        "status=exited",
        "--format",
        "{{.Names}}\t{{.Status}}",
    ]);
    p.same(&[
        "ps",
        "-a",
        "--filter",
        &filter,
        "--filter",
        "exited=3",
        "--format",
        "{{.Names}}",
    ]);
    p.same(&[
        "ps",
        "-a",
        "--filter",
        &filter,
        "--filter",
        "label=role=srv",
        "--format",
        "{{.Names}}",
    ]);
    p.same(&[
        "ps",
        "-a",
        "--filter",
        &filter,
        "--format",
        "table {{.Names}}\t{{.Status}}",
    ]);
    p.same(&["ps", "--filter", "status=sleeping"]);
    p.same(&[
        "ps",
        "--filter",
        &filter,
        "--format",
        "{{.Names}} {{.Size}}",
    ]);
    let (real, ours) = p.inspect_both(&r);
    for path in [
        "/Config/AttachStdout",
        "/Config/AttachStderr",
        "/State/Running",
        "/State/Status",
    ] {
        assert_eq!(
            real.pointer(path),
            ours.pointer(path),
            "inspect {path} of run -d"
        );
    }
    // Several values of one key: any may match (label: all must); keys combine.
    let (name_c, name_e) = (format!("name={c}"), format!("name={e}"));
    p.same(&[
        "ps",
        "-a",
        "--filter",
        &name_c,
        "--filter",
        &name_e,
        "--format",
        "{{.Names}}",
    ]);
    p.same(&[
        "ps",
        "-a",
        "--filter",
        &filter,
        "--filter",
        "status=exited",
        "--filter",
        "status=created",
        "--format",
        "{{.Names}}",
    ]);
    p.same(&[
        "ps",
        "-a",
        "--filter",
        &filter,
        "--filter",
        "label=role=srv",
        "--filter",
        "label=nope",
        "--format",
        "{{.Names}}",
    ]);
    for f in [
        format!("before={r}"),
        format!("since={c}"),
        "health=none".into(),
        "is-task=false".into(),
    ] {
        p.same(&[
            "ps",
            "-a",
            "--filter",
            &filter,
            "--filter",
            &f,
            "--format",
            "{{.Names}}",
        ]);
    }
    p.same(&["ps", "--filter", "before=dokles-no-such-container"]);
    p.same(&["ps", "--filter", "health=bogus"]);
    p.same(&["ps", "--filter", "is-task=maybe"]);
    // `raw` is a block per container (creation times differ by the second).
    let by_name = format!("name={r}");
    let (real, ours) = p.both(&["ps", "--filter", &by_name, "--format", "raw"]);
    let block = |o: &Out| {
        let text = p.normalise(o).stdout;
        text.lines()
            .filter(|l| !l.starts_with("created_at: "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(block(&real), block(&ours));
    assert!(
        block(&ours).starts_with("container_id: <short>\nimage: "),
        "{ours:?}"
    );
    p.same(&["ps", "--filter", &by_name, "--format", "raw", "-q"]);
    // -q wins over a format, with a warning.
    p.same(&["ps", "--filter", &by_name, "--format", "{{.Names}}", "-q"]);
    p.same(&["ps", "--filter", &by_name, "--format", "table", "-q"]);
    // A bare `table` is the default table.
    let (real, ours) = p.both(&["ps", "-a", "--filter", &filter, "--format", "table"]);
    let header = |o: &Out| {
        o.stdout
            .lines()
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(header(&real), header(&ours));
    assert_eq!(ours.stdout.lines().count(), 4);
}

#[test]
fn inspect_fields_agree() {
    let p = Pair::new();
    let name = p.name("insp");
    p.same(&[
        "run", "--name", &name, "-e", "A=1", "-l", "k=v", "-w", "/tmp", "-u", "nobody", "IMG",
        "sh", "-c", "exit 4",
    ]);
    // Docker's typed data: fields the daemon leaves out are zero values, a missing label is
    // `<no value>`, unknown fields fail as the raw JSON does.
    p.same(&[
        "inspect",
        "-f",
        "{{.Config.ExposedPorts}}|{{.Config.StopTimeout}}|{{.Config.Shell}}|{{.Config.Labels.nope}}",
        &name,
    ]);
    p.same(&["inspect", "-f", "{{.Config.Nope}}", &name]);
    let (real, ours) = p.inspect_both(&name);
    for path in [
        "/Name",
        "/Path",
        "/Args",
        "/State/Status",
        "/State/Running",
        "/State/Paused",
        "/State/Restarting",
        "/State/OOMKilled",
        "/State/Dead",
        "/State/Pid",
        "/State/ExitCode",
        "/State/Error",
        "/Config/Cmd",
        "/Config/Entrypoint",
        "/Config/Env",
        "/Config/Image",
        "/Config/Labels",
        "/Config/WorkingDir",
        "/Config/User",
        "/Config/Tty",
        "/Config/OpenStdin",
        "/Config/AttachStdin",
        "/Config/AttachStdout",
        "/Config/AttachStderr",
        "/Config/StdinOnce",
        "/HostConfig/Privileged",
        "/HostConfig/AutoRemove",
        "/HostConfig/CapAdd",
        "/HostConfig/CapDrop",
        "/HostConfig/SecurityOpt",
        "/HostConfig/RestartPolicy",
        "/HostConfig/LogConfig/Type",
        "/GraphDriver/Name",
        "/RestartCount",
        "/Platform",
    ] {
        assert_eq!(real.pointer(path), ours.pointer(path), "inspect {path}");
    }
    for (v, who) in [(&real, "docker"), (&ours, "dokles")] {
        let id = v["Id"].as_str().unwrap();
        assert_eq!(
            v["Config"]["Hostname"],
            &id[..12],
            "{who}: hostname is the short ID"
        );
        assert!(v["Image"].as_str().unwrap().starts_with("sha256:"), "{who}");
        let times = [
            &v["Created"],
            &v["State"]["StartedAt"],
            &v["State"]["FinishedAt"],
        ];
        assert!(
            times.iter().all(|t| t.as_str().unwrap().ends_with('Z')),
            "{who}: {times:?}"
        );
    }
    let created = p.name("fresh");
    p.same(&[
        "create",
        "--name",
        &created,
        "--cap-add",
        "NET_ADMIN",
        "--cap-drop",
        "CHOWN",
        "--entrypoint",
        "echo",
        "IMG",
        "hi",
    ]);
    let (real, ours) = p.inspect_both(&created);
    for path in [
        "/State/Status",
        "/State/StartedAt",
        "/State/FinishedAt",
        "/Config/Cmd",
        "/Config/Entrypoint",
        "/HostConfig/CapAdd",
        "/HostConfig/CapDrop",
        "/Path",
        "/Args",
    ] {
        assert_eq!(real.pointer(path), ours.pointer(path), "inspect {path}");
    }
}

/// `HostConfig` has Docker 20.10's keys in its order and values, for a plain container and
/// one with resource flags, in the JSON and through `-f` templates (typed view and raw
/// fallback alike).
#[test]
fn host_config_agrees() {
    let p = Pair::new();
    let (plain, limited, cgroups) = (p.name("hc-plain"), p.name("hc-limits"), p.name("hc-cg"));
    p.same(&["create", "--name", &plain, "IMG"]);
    // The cgroup flags as given (the parent is not cleaned in the record).
    p.same(&[
        "create",
        "--name",
        &cgroups,
        "-m",
        "20m",
        "--memory-swap",
        "30m",
        "-c",
        "512",
        "--cpuset-cpus",
        "1",
        "--cgroup-parent",
        "/dokles-test/../dokles-test-parent/",
        "IMG",
    ]);
    p.same(&[
        "create",
        "--name",
        &limited,
        "-m",
        "10m",
        "--cpus",
        "1.5",
        "--pids-limit",
        "50",
        "--ulimit",
        "nofile=100:200",
        "--init",
        "--cap-drop",
        "ALL",
        "IMG",
    ]);
    for name in [&plain, &limited, &cgroups] {
        let (real, ours) = p.inspect_both(name);
        let keys = |v: &Value| -> Vec<String> {
            v["HostConfig"]
                .as_object()
                .expect("HostConfig is an object")
                .keys()
                .cloned()
                .collect()
        };
        assert_eq!(keys(&real), keys(&ours), "{name}: HostConfig keys");
        assert_eq!(real["HostConfig"], ours["HostConfig"], "{name}: HostConfig");
        for template in [
            // NanoCpus is no field of the client's struct (NanoCPUs): the raw JSON answers.
            "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.MemorySwap}} {{.HostConfig.PidsLimit}} {{.HostConfig.ReadonlyRootfs}} {{json .HostConfig.Ulimits}}",
            "{{.HostConfig.Memory}} {{.HostConfig.NanoCPUs}} {{.HostConfig.PidsLimit}} {{.HostConfig.Ulimits}} {{json .HostConfig.Ulimits}}",
            "{{.HostConfig.Init}} {{json .HostConfig.Init}} {{.HostConfig.CapDrop}} {{.HostConfig.SecurityOpt}}",
            "{{.HostConfig.ShmSize}} {{.HostConfig.IpcMode}} {{.HostConfig.Runtime}} {{.HostConfig.OomKillDisable}} {{.HostConfig.MemorySwappiness}}",
            "{{.HostConfig.Annotations}} {{.HostConfig.Tmpfs}} {{.HostConfig.Mounts}} {{.HostConfig.KernelMemory}} {{.HostConfig.DNS}}",
            "{{.HostConfig.Dns}} {{.HostConfig.Binds}} {{.HostConfig.RestartPolicy}}",
            "{{.HostConfig.CpuShares}} {{.HostConfig.CPUShares}} {{.HostConfig.CpusetCpus}} {{.HostConfig.CgroupParent}} {{.HostConfig.MemorySwap}}",
            "{{json .HostConfig}}",
        ] {
            p.same(&["inspect", "-f", template, name]);
        }
    }
    // `--init=false` is given, so Docker shows it; 0 pids is no limit.
    let off = p.name("hc-off");
    p.same(&[
        "create",
        "--name",
        &off,
        "--init=false",
        "--pids-limit",
        "0",
        "--privileged",
        "IMG",
    ]);
    let (real, ours) = p.inspect_both(&off);
    assert_eq!(real["HostConfig"], ours["HostConfig"], "{off}: HostConfig");
}

#[test]
fn logs_agree() {
    let p = Pair::new();
    let name = p.name("logs");
    p.same(&[
        "run",
        "--name",
        &name,
        "IMG",
        "sh",
        "-c",
        "for i in 1 2 3; do echo out$i; sleep 0.1; echo err$i >&2; sleep 0.1; done",
    ]);
    p.same(&["logs", &name]);
    p.same(&["logs", "--tail", "2", &name]);
    p.same(&["logs", "--tail", "0", &name]);
    p.same(&["logs", "--until", "1h", &name]);
    // Not a count of lines means all of them; --details adds a space before each line.
    for tail in ["abc", "-1", "-5"] {
        p.same(&["logs", "--tail", tail, &name]);
    }
    p.same(&["logs", "-n", "-5", &name]);
    p.same(&["logs", "--details", "--tail", "2", &name]);
    p.same(&["logs", "--since", "bogus", &name]);
    p.same(&["logs", "--until", "bogus", &name]);
    // Two streams, each in order; spaced out so that their interleaving is fixed too.
    let (real, ours) = p.both(&["logs", "-t", "--tail", "1", &name]);
    for o in [&real, &ours] {
        let (time, text) = o.stderr.split_once(' ').unwrap();
        assert_eq!(text, "err3\n");
        assert!(time.ends_with('Z'), "{time}");
    }
}

#[test]
fn log_options_agree() {
    let p = Pair::new();
    // Rotation keeps the same lines in the same number of files; tails reach into them.
    let rot = p.name("rot");
    p.same(&[
        "run",
        "--name",
        &rot,
        "--log-opt",
        "max-size=1k",
        "--log-opt",
        "max-file=3",
        "IMG",
        "sh",
        "-c",
        "for i in $(seq 1 100); do echo line $i; done",
    ]);
    p.same(&["logs", &rot]);
    p.same(&["logs", "--tail", "30", &rot]);
    let (real, ours) = p.inspect_both(&rot);
    assert_eq!(
        real["HostConfig"]["LogConfig"],
        ours["HostConfig"]["LogConfig"]
    );
    p.same(&["inspect", "-f", "{{.HostConfig.LogConfig}}", &rot]);
    let files = |o: &Out| {
        let log = o.stdout.trim();
        (1..5)
            .filter(|n| std::path::Path::new(&format!("{log}.{n}")).exists())
            .count()
    };
    let (real, ours) = p.both(&["inspect", "-f", "{{.LogPath}}", &rot]);
    assert_eq!((files(&real), files(&ours)), (2, 2), "rotated files kept");

    // Values the json-file driver refuses stop the start, with its messages.
    for opts in [
        &["max-size=abc"][..],
        &["max-size=0"],
        &["max-size=-1"],
        &["max-size=1.2.3"],
        &["max-size=99999999999999999999999"],
        &["max-size=10k", "max-file=0"],
        &["max-size=10k", "max-file=abc"],
        &["max-file="],
        &["compress=maybe"],
    ] {
        let mut args = vec!["run", "--rm"];
        for o in opts {
            args.extend(["--log-opt", o]);
        }
        args.extend(["IMG", "echo", "hi"]);
        p.same(&args);
    }
    // Accepted values, and what `max-file` alone does (nothing).
    for opt in [
        "max-size=10 k",
        "max-size=1.5k",
        "max-size=10KiB",
        "max-file=3",
        "compress=false",
    ] {
        p.same(&["run", "--rm", "--log-opt", opt, "IMG", "echo", "hi"]);
    }
    // The daemon's checks at create, and the client's for `none`.
    for (driver, opt) in [
        ("json-file", "foo=bar"),
        ("json-file", "mode=x"),
        ("json-file", "max-buffer-size=1m"),
        ("bogus", "max-size=1k"),
        ("none", "max-size=1k"),
    ] {
        for cmd in ["run", "create"] {
            p.same(&[cmd, "--log-driver", driver, "--log-opt", opt, "IMG", "true"]);
        }
    }
    p.same(&["run", "--rm", "--log-driver", "bogus", "IMG", "true"]);

    // A container the driver refused: created, not started; its logs say why.
    let bad = p.name("bad");
    p.same(&[
        "run",
        "--name",
        &bad,
        "--log-opt",
        "max-size=abc",
        "IMG",
        "echo",
        "hi",
    ]);
    p.same(&["start", &bad]);
    p.same(&["start", "-a", &bad]);
    p.same(&["logs", &bad]);
    p.same(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{.State.ExitCode}} {{.State.Error}}",
        &bad,
    ]);

    // The none driver: output reaches the attached client only.
    let none = p.name("none");
    p.same(&[
        "run",
        "--name",
        &none,
        "--log-driver",
        "none",
        "IMG",
        "echo",
        "hi",
    ]);
    p.same(&["logs", &none]);
    p.same(&["logs", "-f", &none]);
    p.same(&[
        "inspect",
        "-f",
        "{{json .HostConfig.LogConfig}} {{.LogPath}}",
        &none,
    ]);
}

#[test]
fn error_texts_agree() {
    let p = Pair::new();
    let (x, busy) = (p.name("x1"), p.name("busy"));
    p.same(&["run", "--name", &x, "IMG", "true"]);
    p.same(&["run", "--name", &x, "IMG", "true"]);
    p.same(&["create", "--name", &x, "IMG"]);
    p.same(&["run", "-d", "--name", &busy, "IMG", "sleep", "1000"]);
    p.same(&["rm", &busy]);
    p.same(&["kill", &x]);
    for cmd in [
        "rm", "stop", "start", "kill", "logs", "wait", "inspect", "restart",
    ] {
        p.same(&[cmd, "dokles-no-such-container"]);
    }
    p.same(&["rename", "dokles-no-such-container", "other"]);
    p.same(&["rename", &x, &x]);
    p.same(&["rename", &x, &busy]);
    p.same(&["rename", &x, "a b"]);
    p.same(&["create", "--name", "a b", "IMG"]);
    p.same(&["run", "--name", "a b", "IMG"]);
    p.same(&["kill", "-s", "FOO", &busy]);
    p.same(&["rm", "-f", "dokles-no-such-container", &x]);
    p.same(&["stop", "--time", "1", "dokles-no-such-container"]);
    p.same(&["ps", "--filter", "foo=bar"]);
    p.same(&["ps", "--filter", "exited=x"]);
    p.same(&["container", "inspect", "dokles-no-such-container"]);
    p.same(&["inspect", "--type", "container", "dokles-no-such-container"]);
    p.same(&["create", "--nope", "IMG"]);
    p.same(&["run", "-e", "=x", "IMG"]);
    p.same(&["run", "--env-file", "/nonexistent.env", "IMG"]);
    p.same(&["run", "--security-opt", "foo", "IMG"]);
    p.same(&["run", "--security-opt", "foo=bar", "IMG"]);
    // Only refused prunes: a real prune would remove other users' containers from Docker.
    p.same(&["container", "prune", "-f", "--filter", "foo=bar"]);
    p.same(&["container", "prune", "-f", "--filter", "until=xyz"]);
    p.same(&["create", "-w", "tmp", "IMG"]);
    p.same(&["run", "-w", "tmp", "IMG"]);
    p.same(&["run", "--cap-add", "NOPE", "IMG"]);
    p.same(&["create", "--cap-drop", "nope", "IMG"]);
    // Flag values the client refuses: pflag's text, the usage, the help hint, exit 125.
    p.same(&["run", "-m", "abc", "IMG"]);
    p.same(&["create", "--cpus", "x", "IMG"]);
    p.same(&["run", "--ulimit", "bad", "IMG"]);
    p.same(&["run", "--pids-limit", "x", "IMG"]);
    p.same(&["run", "--pull=bogus", "IMG"]);
    p.same(&["create", "--pull=bogus", "IMG"]);
    p.same(&["ps", "-n", "abc"]);
    p.same(&["ps", "--filter", "x"]);
    p.same(&["stop", "-t", "x", "dokles-no-such-container"]);
    p.same(&["container", "prune", "--filter", "x"]);
    // Bad image references: `run` dresses the error up, `create` prints it as is (exit 1).
    p.same(&["run", "BadName"]);
    p.same(&["create", "BadName"]);
    p.same(&["create", "x:"]);
    // top: the host's ps rows of the container, in columns at least 20 wide (host pids
    // differ between the engines).
    let (real, ours) = p.both(&["top", &busy, "-o", "user,pid,comm"]);
    let words = |o: &Out| {
        o.stdout
            .lines()
            .map(|l| {
                l.split_whitespace()
                    .map(|w| w.replace(|c: char| c.is_ascii_digit(), ""))
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(words(&real), words(&ours));
    assert!(
        ours.stdout.starts_with("USER                PID"),
        "{ours:?}"
    );
    // exec into a paused container is refused at once (it would wait for the thaw).
    p.same(&["pause", &busy]);
    p.same(&["exec", &busy, "true"]);
    p.same(&["exec", "-d", &busy, "true"]);
    p.same(&["unpause", &busy]);
    // A failed exec: attached, the runtime's error on stdout and exit 126; detached, the
    // daemon's error and exit 1.
    for args in [
        vec!["exec", &busy, "dokles-no-such-command"],
        vec!["exec", "-w", "/nonexistent", &busy, "true"],
        vec!["exec", "-w", "relative", &busy, "true"],
        vec!["exec", "-u", "nosuchuser", &busy, "true"],
        vec!["exec", "-d", &busy, "dokles-no-such-command"],
    ] {
        p.same(&args);
    }
    p.same(&["run", "-m", "10x", "IMG"]);
    p.same(&["run", "-m", "-5", "IMG"]);
    p.same(&["create", "-m", "100", "IMG"]);
    p.same(&["run", "-m", "100", "IMG"]);
    p.same(&["run", "--cpus", "999", "IMG"]);
    p.same(&["create", "--cpus", "-1", "IMG"]);
    // The cgroup flags' own checks, client and daemon.
    p.same(&["run", "--memory-swap", "x", "IMG"]);
    p.same(&["create", "-m", "20m", "--memory-swap", "-2", "IMG"]);
    p.same(&["run", "--memory-swap", "10m", "IMG"]);
    p.same(&["create", "-m", "20m", "--memory-swap", "10m", "IMG"]);
    p.same(&["run", "-c", "x", "IMG"]);
    p.same(&["create", "--cpu-shares", "1.5", "IMG"]);
    p.same(&["run", "--cpuset-cpus", "0-4095", "IMG"]);
    p.same(&["create", "--cpuset-cpus", "abc", "IMG"]);
    p.same(&["run", "--cpuset-cpus", "1-0", "IMG"]);
    p.same(&["create", "--cpuset-cpus", "0-99999", "IMG"]);
    // Shares the kernel would clamp fail at start, after the container was made.
    p.same(&["run", "--rm", "--cpu-shares", "1", "IMG", "true"]);
    p.same(&["run", "--rm", "-c", "300000", "IMG", "true"]);
    p.same(&["run", "--rm", "-c", "-5", "IMG", "true"]);
    p.same(&["run", "--name", "-x", "IMG"]);
    p.same(&["commit", &x, "Bad:Name"]);
    p.same(&["commit", "dokles-no-such-container", "bad name"]);
    p.same(&["commit"]);
    p.same(&["commit", "a", "b", "c"]);
    p.same(&[
        "run",
        "-d",
        "--rm=false",
        "--name",
        &p.name("bools"),
        "IMG",
        "true",
    ]);
}

#[test]
fn the_lifecycle_commands_print_and_end_alike() {
    let p = Pair::new();
    let name = p.name("life");
    p.same(&[
        "create",
        "--name",
        &name,
        "IMG",
        "sh",
        "-c",
        "trap 'echo TERM' TERM; trap 'echo USR1' USR1; while true; do sleep 0.1; done",
    ]);
    p.same(&["start", &name]);
    std::thread::sleep(Duration::from_millis(500));
    p.same(&["kill", "-s", "USR1", &name]);
    wait_for("USR1 to be handled on both", || {
        let (r, o) = p.both(&["logs", &name]);
        r.stdout == "USR1\n" && o.stdout == "USR1\n"
    });
    // TERM is trapped: stop waits its second and kills.
    p.same(&["stop", "-t", "1", &name]);
    p.same(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{.State.ExitCode}} {{.State.Running}}",
        &name,
    ]);
    p.same(&["logs", &name]);
    p.same(&["wait", &name]);
    p.same(&["restart", "-t", "1", &name]);
    p.same(&["inspect", "-f", "{{.State.Status}}", &name]);
    p.same(&["kill", &name]);
    p.wait_exited(&name);
    p.same(&["inspect", "-f", "{{.State.ExitCode}}", &name]);
    p.same(&["rm", &name]);
    // Commands that have nothing to do still succeed and print the name.
    let idle = p.name("idle");
    p.same(&["create", "--name", &idle, "IMG", "sleep", "1000"]);
    p.same(&["wait", &idle]);
    p.same(&["stop", &idle]);
    p.same(&["start", &idle]);
    p.same(&["start", &idle]);
    p.same(&["rm", "-f", &idle]);
    let gone = p.name("gone");
    p.same(&[
        "run", "--rm", "--name", &gone, "IMG", "sh", "-c", "echo bye",
    ]);
    p.same(&["ps", "-a", "--filter", &format!("name={gone}")]);
}

#[test]
fn the_view_from_inside_agrees() {
    let p = Pair::new();
    p.same(&["run", "--rm", "IMG", "grep", "CapEff", "/proc/self/status"]);
    p.same(&[
        "run",
        "--rm",
        "--cap-drop",
        "ALL",
        "IMG",
        "grep",
        "CapEff",
        "/proc/self/status",
    ]);
    p.same(&[
        "run",
        "--rm",
        "--cap-add",
        "NET_ADMIN",
        "IMG",
        "grep",
        "CapEff",
        "/proc/self/status",
    ]);
    p.same(&["run", "--rm", "-u", "nobody", "IMG", "id"]);
    p.same(&["run", "--rm", "-u", "1234:5", "IMG", "id"]);
    p.same(&["run", "--rm", "-w", "/new/dir", "IMG", "pwd"]);
    p.same(&["run", "--rm", "--entrypoint", "echo", "IMG", "a", "b"]);
    p.same(&["run", "--rm", "-h", "mijnhost", "IMG", "hostname"]);
    p.same(&["run", "--rm", "IMG", "ls", "/proc/self/fd"]);
    p.same(&["run", "--rm", "IMG", "sh", "-c", "cat /proc/kcore | wc -c"]);
    p.same(&[
        "run",
        "--rm",
        "IMG",
        "sh",
        "-c",
        "echo h > /proc/sysrq-trigger",
    ]);
    p.same(&["run", "--rm", "IMG", "mount", "-t", "tmpfs", "x", "/mnt"]);
    p.same(&[
        "run",
        "--rm",
        "-e",
        "A=1",
        "-e",
        "B=two words",
        "IMG",
        "sh",
        "-c",
        "env | sort | grep -v ^HOSTNAME=",
    ]);
    p.same(&[
        "run",
        "--rm",
        "IMG",
        "sh",
        "-c",
        "test \"$(hostname)\" = \"$HOSTNAME\" && cat /etc/hostname | wc -c",
    ]);
    p.same(&["run", "--rm", "IMG", "cat", "/proc/1/cmdline"]);
    p.same(&[
        "run",
        "--rm",
        "IMG",
        "sh",
        "-c",
        "ls -ld /tmp /proc/sys | cut -c1-10",
    ]);
    p.same(&[
        "run",
        "--rm",
        "IMG",
        "sh",
        "-c",
        "grep -E ' / | /proc | /dev ' /proc/self/mounts | cut -d' ' -f2,3",
    ]);
}

#[test]
fn ctrl_c_on_an_attached_run_reaches_the_container_on_both() {
    use std::io::{BufRead, BufReader, Read};
    let p = Pair::new();
    let script = "trap 'echo got INT; exit 3' INT; echo ready; i=0; while [ $i -lt 150 ]; do sleep 0.1; i=$((i+1)); done";
    let run = |mut cmd: Command| {
        let mut child = cmd
            .args(["run", "--rm", &p.image, "sh", "-c", script])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line, "ready\n");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGINT,
        )
        .unwrap();
        out.read_to_string(&mut line).unwrap();
        (child.wait().unwrap().code(), line)
    };
    let mut ours = Command::new(env!("CARGO_BIN_EXE_dokles"));
    ours.arg("--root").arg(p.dokles.root()).arg("docker");
    let real = run(Command::new("docker"));
    assert_eq!(real, (Some(3), "ready\ngot INT\n".to_string()));
    assert_eq!(run(ours), real);
}
