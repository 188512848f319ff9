//! The view docker/cli's inspect templates see: the client decodes the daemon's JSON into
//! its Go structs, so a template reads Go field names (`.ID`, `.HostConfig.NanoCPUs`), zero
//! values for fields the daemon leaves out, and times as Go prints them, while `json` of it
//! marshals by json tag with omitempty ([`typed_json`]). [`typed_view`] is the first,
//! [`typed_json`] the second; `cli::output` falls back to the raw JSON as docker/cli does.

use serde_json::Value;

/// The image config fields of the client's typed config, in its field order; all omitempty.
const TYPED_IMAGE_CONFIG: [&str; 13] = [
    "User",
    "ExposedPorts",
    "Env",
    "Entrypoint",
    "Cmd",
    "Volumes",
    "WorkingDir",
    "Labels",
    "StopSignal",
    "ArgsEscaped",
    "Healthcheck",
    "OnBuild",
    "Shell",
];

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Number(_) => false,
    }
}

/// Go's `time.Time` printed by a template: `2006-01-02 15:04:05.999999999 -0700 MST`.
fn go_time_value(s: &str) -> Option<String> {
    let t = chrono::DateTime::parse_from_rfc3339(s)
        .ok()?
        .with_timezone(&chrono::Utc);
    let frac = t.timestamp_subsec_nanos();
    let base = t.format("%Y-%m-%d %H:%M:%S").to_string();
    Some(if frac == 0 {
        format!("{base} +0000 UTC")
    } else {
        format!(
            "{base}.{} +0000 UTC",
            format!("{frac:09}").trim_end_matches('0')
        )
    })
}

/// What `json.Marshal` makes of the typed view of an inspect object: its json tags (`Id`),
/// the image config without empty fields, an empty `Container` left out (omitempty), times
/// as RFC 3339.
pub fn typed_json(raw: &Value) -> Value {
    let Value::Object(o) = raw else {
        return raw.clone();
    };
    let is_image = o.contains_key("RootFS");
    let mut t = serde_json::Map::new();
    for (k, v) in o {
        match k.as_str() {
            "Container" if is_image && is_empty(v) => {}
            "Config" if is_image => {
                t.insert(k.clone(), typed_image_config(v));
            }
            "HostConfig" if !is_image => {
                t.insert(k.clone(), typed_host_config_json(v));
            }
            _ => {
                t.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(t)
}

/// The client's typed image config: its fields, in its order, all omitempty.
fn typed_image_config(raw: &Value) -> Value {
    let mut c = serde_json::Map::new();
    for f in TYPED_IMAGE_CONFIG {
        if let Some(x) = raw.get(f).filter(|x| !is_empty(x)) {
            c.insert(f.into(), x.clone());
        }
    }
    Value::Object(c)
}

/// The client's image config struct with every field, as a template reads it: fields the
/// JSON left out hold their zero values (`map[]`, `[]`, `""`, `false`, `<nil>`).
fn typed_image_config_fields(raw: &Value) -> Value {
    let mut c = serde_json::Map::new();
    for f in TYPED_IMAGE_CONFIG {
        let value = match (raw.get(f), f) {
            (Some(v), _) if !v.is_null() => v.clone(),
            (_, "User" | "WorkingDir" | "StopSignal") => Value::String(String::new()),
            (_, "ArgsEscaped") => Value::Bool(false),
            _ => Value::Null,
        };
        c.insert(f.into(), value);
    }
    Value::Object(c)
}

/// The fields of Docker's `container.Config` the daemon leaves out when empty, with their
/// zero values, after the field they follow in the struct.
const CONTAINER_CONFIG_OMITTED: [(&str, &str, Value); 8] = [
    ("ExposedPorts", "AttachStderr", Value::Null),
    ("Healthcheck", "Cmd", Value::Null),
    ("ArgsEscaped", "Healthcheck", Value::Bool(false)),
    ("NetworkDisabled", "Entrypoint", Value::Bool(false)),
    (
        "MacAddress",
        "NetworkDisabled",
        Value::String(String::new()),
    ),
    ("StopSignal", "Labels", Value::String(String::new())),
    ("StopTimeout", "StopSignal", Value::Null),
    ("Shell", "StopTimeout", Value::Null),
];

/// A `container.Config` as the client's struct has it: the omitted fields back in place.
fn typed_container_config(raw: &Value) -> Value {
    let Value::Object(o) = raw else {
        return raw.clone();
    };
    let mut c = o.clone();
    insert_missing(&mut c, CONTAINER_CONFIG_OMITTED);
    Value::Object(c)
}

/// `HostConfig` keys whose Go field name differs from the JSON name: a template reads the
/// field (`{{.HostConfig.NanoCPUs}}`), so the JSON name fails on the typed view and Docker
/// falls back to the raw JSON.
const HOST_CONFIG_GO_NAMES: [(&str, &str); 11] = [
    ("Dns", "DNS"),
    ("DnsOptions", "DNSOptions"),
    ("DnsSearch", "DNSSearch"),
    ("CpuShares", "CPUShares"),
    ("NanoCpus", "NanoCPUs"),
    ("CpuPeriod", "CPUPeriod"),
    ("CpuQuota", "CPUQuota"),
    ("CpuRealtimePeriod", "CPURealtimePeriod"),
    ("CpuRealtimeRuntime", "CPURealtimeRuntime"),
    ("CpuCount", "CPUCount"),
    ("CpuPercent", "CPUPercent"),
];

/// The fields of the client's `container.HostConfig` the 20.10 daemon does not send, with
/// their zero values, after the field they follow in the struct.
const HOST_CONFIG_OMITTED: [(&str, &str, Value); 6] = [
    ("Annotations", "ConsoleSize", Value::Null),
    ("StorageOpt", "SecurityOpt", Value::Null),
    ("Tmpfs", "StorageOpt", Value::Null),
    ("Sysctls", "ShmSize", Value::Null),
    ("Mounts", "IOMaximumBandwidth", Value::Null),
    ("Init", "ReadonlyPaths", Value::Null),
];

/// The fields of the client's image struct the 20.10 daemon does not send.
const IMAGE_OMITTED: [(&str, &str, Value); 4] = [
    ("Variant", "Architecture", Value::String(String::new())),
    ("OsVersion", "Os", Value::String(String::new())),
    ("Descriptor", "Metadata", Value::Null),
    ("Manifests", "Descriptor", Value::Null),
];

/// Put each `(field, after, zero)` the object lacks back in its struct place: right after
/// `after`, or at the end if that is missing too.
fn insert_missing<const N: usize>(
    object: &mut serde_json::Map<String, Value>,
    fields: [(&str, &str, Value); N],
) {
    for (field, after, zero) in fields {
        if object.contains_key(field) {
            continue;
        }
        let at = object
            .keys()
            .position(|k| k == after)
            .map_or(object.len(), |i| i + 1);
        object.shift_insert(at, field.to_string(), zero);
    }
}

/// A container's `HostConfig` as the client's struct has it: Go field names, the omitted
/// fields back in place (`Init` is `<nil>` without `--init`).
fn typed_host_config(raw: &Value) -> Value {
    let Value::Object(o) = raw else {
        return raw.clone();
    };
    let mut c: serde_json::Map<String, Value> = client_host_config_order(o)
        .into_iter()
        .map(|(k, v)| {
            let name = HOST_CONFIG_GO_NAMES
                .iter()
                .find(|(json, _)| *json == k.as_str())
                .map_or(k.as_str(), |(_, go)| go);
            (name.to_string(), v)
        })
        .collect();
    insert_missing(&mut c, HOST_CONFIG_OMITTED);
    Value::Object(c)
}

/// A container's `HostConfig` in the client's field order: the 20.10 daemon writes
/// `ConsoleSize` after `Runtime`, the client's struct has it after `VolumesFrom`.
fn client_host_config_order(
    raw: &serde_json::Map<String, Value>,
) -> serde_json::Map<String, Value> {
    let mut c = raw.clone();
    if let Some(size) = c.shift_remove("ConsoleSize") {
        let at = c
            .keys()
            .position(|k| k == "VolumesFrom")
            .map_or(c.len(), |i| i + 1);
        c.shift_insert(at, "ConsoleSize".into(), size);
    }
    c
}

/// What `json.Marshal` makes of the client's `HostConfig`: its field order, and its
/// omitempty fields the daemon sends empty (`KernelMemory: 0`, no `Init`) left out.
fn typed_host_config_json(raw: &Value) -> Value {
    let Value::Object(o) = raw else {
        return raw.clone();
    };
    let mut c = client_host_config_order(o);
    c.retain(|k, v| {
        !(matches!(
            k.as_str(),
            "Annotations"
                | "StorageOpt"
                | "Tmpfs"
                | "Sysctls"
                | "Runtime"
                | "KernelMemory"
                | "KernelMemoryTCP"
                | "Mounts"
                | "Init"
        ) && (is_empty(v) || v.as_i64() == Some(0)))
    });
    Value::Object(c)
}

/// The typed view of an inspect object (see [`render_inspect`]).
pub fn typed_view(raw: &Value) -> Value {
    let Value::Object(o) = raw else {
        return raw.clone();
    };
    let is_image = o.contains_key("RootFS");
    let mut t = serde_json::Map::new();
    for (k, v) in o {
        match k.as_str() {
            "Id" => {
                t.insert("ID".into(), v.clone());
            }
            "Config" if is_image => {
                t.insert(k.clone(), typed_image_config_fields(v));
            }
            "Config" | "ContainerConfig" => {
                t.insert(k.clone(), typed_container_config(v));
            }
            "HostConfig" if !is_image => {
                t.insert(k.clone(), typed_host_config(v));
            }
            "Metadata" => {
                let mut m = v.clone();
                if let Some(s) = m
                    .get("LastTagTime")
                    .and_then(Value::as_str)
                    .and_then(go_time_value)
                {
                    m["LastTagTime"] = Value::String(s);
                }
                t.insert(k.clone(), m);
            }
            _ => {
                t.insert(k.clone(), v.clone());
            }
        }
    }
    if is_image {
        insert_missing(&mut t, IMAGE_OMITTED);
    }
    Value::Object(t)
}
