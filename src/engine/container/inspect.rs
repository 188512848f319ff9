//! The JSON view of a container that `docker inspect` prints (Docker Engine 20.10's field
//! names and order), also the data `--format` templates see.

use serde_json::{json, Map, Value};

use super::record::ContainerConfig;
use super::store::Container;
use crate::engine::image::config::go_rfc3339_nano;
use crate::engine::image::ImageStore;
use crate::runtime::{DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, DEFAULT_SHM_SIZE};

const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

pub fn inspect(images: &ImageStore, c: &Container) -> Value {
    let cfg = &c.config;
    let st = &c.state;
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| go_rfc3339_nano(&t))
            .unwrap_or_else(|| ZERO_TIME.to_string())
    };
    let lowers: Vec<String> = cfg
        .layers
        .iter()
        .rev()
        .map(|l| images.layers().diff_dir(l).display().to_string())
        .collect();
    let mut o = Map::new();
    o.insert("Id".into(), json!(cfg.id.as_str()));
    o.insert("Created".into(), json!(go_rfc3339_nano(&cfg.created)));
    o.insert("Path".into(), json!(cfg.path));
    o.insert("Args".into(), json!(cfg.args));
    o.insert(
        "State".into(),
        json!({
            "Status": st.status.as_str(),
            "Running": st.is_running(),
            "Paused": st.status == super::Status::Paused,
            "Restarting": st.status == super::Status::Restarting,
            "OOMKilled": st.oom_killed,
            "Dead": st.status == super::Status::Dead,
            "Pid": st.process.filter(|_| st.is_running()).map(|p| p.pid).unwrap_or(0),
            "ExitCode": st.exit_code,
            "Error": st.error,
            "StartedAt": time(st.started_at),
            "FinishedAt": time(st.finished_at),
        }),
    );
    o.insert("Image".into(), json!(cfg.image_id.to_string()));
    o.insert(
        "ResolvConfPath".into(),
        json!(c.paths.resolv_conf().display().to_string()),
    );
    o.insert(
        "HostnamePath".into(),
        json!(c.paths.hostname().display().to_string()),
    );
    o.insert(
        "HostsPath".into(),
        json!(c.paths.hosts().display().to_string()),
    );
    // No file for a driver that keeps none.
    let log_path = if cfg.log_config.driver == super::logs::NONE {
        String::new()
    } else {
        c.paths.log(&cfg.id).display().to_string()
    };
    o.insert("LogPath".into(), json!(log_path));
    o.insert("Name".into(), json!(format!("/{}", cfg.name)));
    o.insert("RestartCount".into(), json!(0));
    o.insert("Driver".into(), json!("overlay2"));
    o.insert("Platform".into(), json!("linux"));
    o.insert("MountLabel".into(), json!(""));
    o.insert("ProcessLabel".into(), json!(""));
    o.insert("AppArmorProfile".into(), json!(""));
    o.insert("ExecIDs".into(), Value::Null);
    o.insert("HostConfig".into(), host_config(cfg));
    o.insert(
        "GraphDriver".into(),
        json!({
            "Data": {
                "LowerDir": lowers.join(":"),
                "MergedDir": c.paths.merged().display().to_string(),
                "UpperDir": c.paths.upper().display().to_string(),
                "WorkDir": c.paths.work().display().to_string(),
            },
            "Name": "overlay2",
        }),
    );
    o.insert("Mounts".into(), json!([]));
    let image_cfg = &cfg.image_config;
    let mut config = Map::new();
    config.insert("Hostname".into(), json!(cfg.hostname));
    config.insert("Domainname".into(), json!(""));
    config.insert("User".into(), json!(cfg.user));
    config.insert("AttachStdin".into(), json!(cfg.open_stdin && cfg.attached));
    config.insert("AttachStdout".into(), json!(cfg.attached));
    config.insert("AttachStderr".into(), json!(cfg.attached));
    if let Some(p) = image_cfg.get("ExposedPorts").filter(|v| !v.is_null()) {
        config.insert("ExposedPorts".into(), p.clone());
    }
    config.insert("Tty".into(), json!(cfg.tty));
    config.insert("OpenStdin".into(), json!(cfg.open_stdin));
    config.insert("StdinOnce".into(), json!(cfg.open_stdin && cfg.attached));
    config.insert("Env".into(), json!(cfg.env));
    config.insert("Cmd".into(), json!(cfg.cmd));
    config.insert("Image".into(), json!(cfg.image_name));
    config.insert(
        "Volumes".into(),
        image_cfg.get("Volumes").cloned().unwrap_or(Value::Null),
    );
    config.insert("WorkingDir".into(), json!(cfg.working_dir));
    config.insert("Entrypoint".into(), json!(cfg.entrypoint));
    config.insert(
        "OnBuild".into(),
        image_cfg.get("OnBuild").cloned().unwrap_or(Value::Null),
    );
    config.insert("Labels".into(), json!(cfg.labels));
    if let Some(s) = image_cfg.get("StopSignal").filter(|v| !v.is_null()) {
        config.insert("StopSignal".into(), s.clone());
    }
    o.insert("Config".into(), Value::Object(config));
    o.insert(
        "NetworkSettings".into(),
        json!({
            "Bridge": "", "SandboxID": "", "HairpinMode": false,
            "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0, "Ports": {},
            "SandboxKey": "", "SecondaryIPAddresses": null, "SecondaryIPv6Addresses": null,
            "EndpointID": "", "Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
            "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "", "MacAddress": "",
            "Networks": {},
        }),
    );
    Value::Object(o)
}

/// `HostConfig` with the keys the 20.10 daemon writes, in its order: what `create` stored,
/// Docker's defaults for the options dokles does not take.
fn host_config(cfg: &ContainerConfig) -> Value {
    let list_or_null = |v: &[String]| {
        if v.is_empty() {
            Value::Null
        } else {
            json!(v)
        }
    };
    // The daemon appends SELinux's `label=disable` for privileged containers.
    let mut security_opt = cfg.security_opt.clone();
    if cfg.privileged {
        security_opt.push("label=disable".into());
    }
    // `-m` without `--memory-swap`: the daemon allows as much swap as memory.
    let memory_swap = if cfg.memory > 0 && cfg.memory_swap == 0 {
        cfg.memory.saturating_mul(2)
    } else {
        cfg.memory_swap
    };
    let ulimits: Vec<Value> = cfg
        .ulimits
        .iter()
        .map(|u| json!({"Name": u.name, "Hard": u.hard, "Soft": u.soft}))
        .collect();
    let (masked, readonly) = if cfg.privileged {
        (Value::Null, Value::Null)
    } else {
        (json!(DEFAULT_MASKED_PATHS), json!(DEFAULT_READONLY_PATHS))
    };
    let mut h: Map<String, Value> = [
        ("Binds", json!(null)),
        ("ContainerIDFile", json!("")),
        ("LogConfig", json!(cfg.log_config)),
        ("NetworkMode", json!("default")),
        ("PortBindings", json!({})),
        (
            "RestartPolicy",
            json!({"Name": "no", "MaximumRetryCount": 0}),
        ),
        ("AutoRemove", json!(cfg.auto_remove)),
        ("VolumeDriver", json!("")),
        ("VolumesFrom", json!(null)),
        ("CapAdd", list_or_null(&cfg.cap_add)),
        ("CapDrop", list_or_null(&cfg.cap_drop)),
        (
            "CgroupnsMode",
            json!(if cfg.cgroupns_mode.is_empty() {
                "host"
            } else {
                cfg.cgroupns_mode.as_str()
            }),
        ),
        ("Dns", json!([])),
        ("DnsOptions", json!([])),
        ("DnsSearch", json!([])),
        ("ExtraHosts", json!(null)),
        ("GroupAdd", json!(null)),
        ("IpcMode", json!("private")),
        ("Cgroup", json!("")),
        ("Links", json!(null)),
        ("OomScoreAdj", json!(0)),
        ("PidMode", json!("")),
        ("Privileged", json!(cfg.privileged)),
        ("PublishAllPorts", json!(false)),
        ("ReadonlyRootfs", json!(false)),
        ("SecurityOpt", list_or_null(&security_opt)),
        ("UTSMode", json!("")),
        ("UsernsMode", json!("")),
        ("ShmSize", json!(DEFAULT_SHM_SIZE)),
        ("Runtime", json!("runc")),
        ("ConsoleSize", json!([0, 0])),
        ("Isolation", json!("")),
        ("CpuShares", json!(cfg.cpu_shares)),
        ("Memory", json!(cfg.memory)),
        ("NanoCpus", json!(cfg.nano_cpus)),
        ("CgroupParent", json!(cfg.cgroup_parent)),
        ("BlkioWeight", json!(0)),
        ("BlkioWeightDevice", json!([])),
        ("BlkioDeviceReadBps", json!([])),
        ("BlkioDeviceWriteBps", json!([])),
        ("BlkioDeviceReadIOps", json!([])),
        ("BlkioDeviceWriteIOps", json!([])),
        ("CpuPeriod", json!(0)),
        ("CpuQuota", json!(0)),
        ("CpuRealtimePeriod", json!(0)),
        ("CpuRealtimeRuntime", json!(0)),
        ("CpusetCpus", json!(cfg.cpuset_cpus)),
        ("CpusetMems", json!("")),
        ("Devices", json!([])),
        ("DeviceCgroupRules", json!(null)),
        ("DeviceRequests", json!(null)),
        ("KernelMemory", json!(0)),
        ("KernelMemoryTCP", json!(0)),
        ("MemoryReservation", json!(0)),
        ("MemorySwap", json!(memory_swap)),
        ("MemorySwappiness", json!(null)),
        ("OomKillDisable", json!(false)),
        // The daemon treats 0 and negative limits as none.
        (
            "PidsLimit",
            if cfg.pids_limit > 0 {
                json!(cfg.pids_limit)
            } else {
                Value::Null
            },
        ),
        ("Ulimits", Value::Array(ulimits)),
        ("CpuCount", json!(0)),
        ("CpuPercent", json!(0)),
        ("IOMaximumIOps", json!(0)),
        ("IOMaximumBandwidth", json!(0)),
        ("MaskedPaths", masked),
        ("ReadonlyPaths", readonly),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    // `Init` is a pointer the client sets only when `--init` was given (`--init=false` too).
    if let Some(init) = cfg.init_flag() {
        h.insert("Init".into(), json!(init));
    }
    Value::Object(h)
}
