//! What dokles knows of the Go types behind Docker's JSON. Docker renders templates against
//! typed structs, so a `null` slice prints `[]`, an omitted pointer `<nil>`, and a struct
//! `{v1 v2}`; JSON alone cannot tell these apart, so the field names decide.

use serde_json::Value as Json;

use super::value::{sorted_entries, write_json_v, NilKind};

/// Docker's `omitempty` pointer fields: absent from the JSON when nil, yet `<nil>` in Docker's
/// typed template data (`{{.State.Health}}` prints `<nil>` for a container without health check).
pub(crate) fn docker_omitted_nil(field: &str) -> bool {
    matches!(field, "Health" | "Healthcheck")
}

/// Docker's inspect fields declared as slices or maps in Go. When such a field is `null`,
/// Docker's typed template data prints it as an empty collection rather than `<nil>`.
pub(crate) fn docker_nil_kind(field: &str) -> Option<NilKind> {
    const SLICES: &[&str] = &[
        "Aliases",
        "Args",
        "Binds",
        "BlkioDeviceReadBps",
        "BlkioDeviceReadIOps",
        "BlkioDeviceWriteBps",
        "BlkioDeviceWriteIOps",
        "BlkioWeightDevice",
        "CapAdd",
        "CapDrop",
        "Cmd",
        "DNSNames",
        "DeviceCgroupRules",
        "DeviceRequests",
        "Devices",
        "Dns",
        "DnsOptions",
        "DnsSearch",
        "Entrypoint",
        "Env",
        "ExecIDs",
        "ExtraHosts",
        "GroupAdd",
        "Layers",
        "Links",
        "Manifests",
        "MaskedPaths",
        "Mounts",
        "OnBuild",
        "ReadonlyPaths",
        "RepoDigests",
        "RepoTags",
        "SecondaryIPAddresses",
        "SecondaryIPv6Addresses",
        "SecurityOpt",
        "Shell",
        "Test",
        "Ulimits",
        "VolumesFrom",
    ];
    const MAPS: &[&str] = &[
        "Annotations",
        "Data",
        "DriverOpts",
        "ExposedPorts",
        "Labels",
        "Networks",
        "Options",
        "PortBindings",
        "Ports",
        "StorageOpt",
        "Sysctls",
        "Tmpfs",
        "Volumes",
    ];
    if SLICES.contains(&field) {
        Some(NilKind::Slice)
    } else if MAPS.contains(&field) {
        Some(NilKind::Map)
    } else {
        None
    }
}

/// Whether a JSON object stands for a Go struct or a Go map when printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    Struct,
    Map,
}

/// The Go shape of a Docker field holding `json`: a map for Docker's map-typed fields
/// (`Labels`, `Ports`, ...), a struct otherwise. `Config` is both: the container's config is a
/// struct, `LogConfig.Config` a `map[string]string`.
pub(crate) fn docker_shape(field: &str, json: &Json) -> Shape {
    match (docker_nil_kind(field), json) {
        (Some(NilKind::Map), _) => Shape::Map,
        (None, Json::Object(map)) if field == "Config" && map.values().all(Json::is_string) => {
            Shape::Map
        }
        _ => Shape::Struct,
    }
}

/// Go's `%v` of Docker's typed data: structs print their field values in order (`{a b}`),
/// maps print sorted (`map[k:v]`), nil slices and maps print `[]` and `map[]`.
pub(crate) fn write_docker_v(out: &mut String, json: &Json, shape: Shape) {
    if let Some(text) = ulimit_string(json) {
        out.push_str(&text);
        return;
    }
    match json {
        Json::Object(map) if shape == Shape::Struct => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                match (item, docker_nil_kind(key)) {
                    (Json::Null, Some(NilKind::Slice)) => out.push_str("[]"),
                    (Json::Null, Some(NilKind::Map)) => out.push_str("map[]"),
                    _ => write_docker_v(out, item, docker_shape(key, item)),
                }
            }
            out.push('}');
        }
        Json::Object(map) => {
            out.push_str("map[");
            for (i, (key, item)) in sorted_entries(map).into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(key);
                out.push(':');
                write_docker_v(out, item, Shape::Struct);
            }
            out.push(']');
        }
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_docker_v(out, item, Shape::Struct);
            }
            out.push(']');
        }
        scalar => write_json_v(out, scalar),
    }
}

/// go-units' `Ulimit` (`HostConfig.Ulimits`) prints by its `String` method: `nofile=100:200`
/// (name=soft:hard). Recognised by its exact fields.
fn ulimit_string(json: &Json) -> Option<String> {
    let Json::Object(map) = json else {
        return None;
    };
    if map.len() != 3 {
        return None;
    }
    let name = map.get("Name")?.as_str()?;
    let soft = map.get("Soft")?.as_i64()?;
    let hard = map.get("Hard")?.as_i64()?;
    Some(format!("{name}={soft}:{hard}"))
}
