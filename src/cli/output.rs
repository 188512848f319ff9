//! Rendering lists and objects the way Docker's CLI does: list commands through
//! [`crate::format::render_list`] (a `table` format gets a header row and aligned columns),
//! `inspect` as indented JSON or one `-f` line per object, each with Docker's error prefixes
//! and exit codes for bad templates.

use std::io::Write;

use serde_json::Value;

use super::CliError;
use crate::format::{FormatError, ObjectStyle, RenderOptions, Template};

/// How a list command words template errors (Docker differs per command).
#[derive(Debug, Clone, Copy)]
pub struct ListKind {
    pub row_type: &'static str,
    pub parse_prefix: &'static str,
    pub exec_prefix: &'static str,
}

pub const IMAGES: ListKind = ListKind {
    row_type: crate::format::row_type::IMAGE,
    parse_prefix: "template parsing error: ",
    exec_prefix: "template parsing error: ",
};

pub const HISTORY: ListKind = ListKind {
    row_type: crate::format::row_type::HISTORY,
    parse_prefix: "template parsing error: ",
    exec_prefix: "template parsing error: ",
};

pub const CONTAINERS: ListKind = ListKind {
    row_type: crate::format::row_type::CONTAINER,
    parse_prefix: "failed to parse template: ",
    exec_prefix: "failed to execute template: ",
};

pub const STATS: ListKind = ListKind {
    row_type: crate::format::row_type::CONTAINER,
    parse_prefix: "template parsing error: ",
    exec_prefix: "template parsing error: ",
};

fn io_error(e: std::io::Error) -> CliError {
    CliError::plain(format!("cannot write output: {e}"))
}

/// Render `rows` with the user's `format`; `headers` maps field names to column titles.
pub fn render_list(
    kind: ListKind,
    format: &str,
    headers: &Value,
    rows: &[Value],
) -> Result<(), CliError> {
    let text = crate::format::render_list(format, kind.row_type, headers, rows).map_err(|e| {
        let prefix = match e {
            FormatError::Parse { .. } => kind.parse_prefix,
            _ => kind.exec_prefix,
        };
        CliError::plain(format!("{prefix}{e}"))
    })?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    out.write_all(text.as_bytes()).map_err(io_error)?;
    out.flush().map_err(io_error)
}

/// `inspect` output: a JSON array indented like Go's `json.MarshalIndent(v, "", "    ")`
/// (also for an empty `-f`), the array on one line for `-f json`, or one rendered line per
/// object with any other `-f` (parsed as typed, as Docker does).
///
/// Like docker/cli, a `-f` template runs first on the *typed* view of an object (the Go
/// struct the client decodes: field `ID` rather than `Id`, the image config without empty
/// fields, times as Go prints `time.Time`), and only if that fails on the raw JSON, whose maps
/// `json` prints with sorted keys.
pub fn render_inspect(format: Option<&str>, objects: &[Value]) -> Result<(), CliError> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        None | Some("") => {
            let text = go_indent_json(&Value::Array(objects.to_vec()));
            writeln!(out, "{text}").map_err(io_error)?;
        }
        // The daemon's JSON as it came, on one line (the 28 client's `-f json`).
        Some("json") => {
            let text = Value::Array(objects.to_vec()).to_string();
            writeln!(out, "{text}").map_err(io_error)?;
        }
        Some(f) => {
            let t = Template::parse(f).map_err(|e| CliError::Message {
                text: format!("template parsing error: {e}"),
                code: 64,
            })?;
            let options = RenderOptions::inspect();
            let raw_options = RenderOptions {
                objects: ObjectStyle::RawJson,
                ..options
            };
            for o in objects {
                let rendered = t
                    .render_typed(&typed_view(o), &typed_json(o), &options)
                    // The raw JSON is Go's `map[string]interface{}`: objects print as maps
                    // and a null as `<no value>`.
                    .or_else(|_| t.render_with(&sorted(o), &raw_options));
                match rendered {
                    Ok(line) => writeln!(out, "{line}").map_err(io_error)?,
                    Err(e) => {
                        writeln!(out).map_err(io_error)?;
                        return Err(CliError::plain(format!("template parsing error: {e}")));
                    }
                }
            }
        }
    }
    out.flush().map_err(io_error)
}

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
fn typed_json(raw: &Value) -> Value {
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
    for (field, after, zero) in CONTAINER_CONFIG_OMITTED {
        if c.contains_key(field) {
            continue;
        }
        let at = c.keys().position(|k| k == after).map_or(c.len(), |i| i + 1);
        c.shift_insert(at, field.to_string(), zero);
    }
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
fn host_config_omitted() -> [(&'static str, &'static str, Value); 6] {
    [
        ("Annotations", "ConsoleSize", Value::Null),
        ("StorageOpt", "SecurityOpt", Value::Null),
        ("Tmpfs", "StorageOpt", Value::Null),
        ("Sysctls", "ShmSize", Value::Null),
        ("Mounts", "IOMaximumBandwidth", Value::Null),
        ("Init", "ReadonlyPaths", Value::Null),
    ]
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
    for (field, after, zero) in host_config_omitted() {
        if c.contains_key(field) {
            continue;
        }
        let at = c.keys().position(|k| k == after).map_or(c.len(), |i| i + 1);
        c.shift_insert(at, field.to_string(), zero);
    }
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
fn typed_view(raw: &Value) -> Value {
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
        // Fields of the client's image struct the 20.10 daemon does not send.
        for (field, after, zero) in [
            ("Variant", "Architecture", Value::String(String::new())),
            ("OsVersion", "Os", Value::String(String::new())),
            ("Descriptor", "Metadata", Value::Null),
            ("Manifests", "Descriptor", Value::Null),
        ] {
            if !t.contains_key(field) {
                let at = t.keys().position(|k| k == after).map_or(t.len(), |i| i + 1);
                t.shift_insert(at, field.to_string(), zero);
            }
        }
    }
    Value::Object(t)
}

/// Raw JSON decoded into Go maps: keys sorted at every level.
fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&o[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Go's `json.MarshalIndent` with four spaces (and no HTML escaping, as Docker's CLI).
pub fn go_indent_json(v: &Value) -> String {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    match serde::Serialize::serialize(v, &mut ser) {
        Ok(()) => String::from_utf8_lossy(&buf).into_owned(),
        Err(_) => v.to_string(),
    }
}
