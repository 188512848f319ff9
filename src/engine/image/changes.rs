//! Docker's container config object (`Config` in `inspect`) and the Dockerfile-style
//! `--change` instructions (`CMD`, `ENV`, `LABEL`, …) that `import` and `commit` apply to it.

use anyhow::{bail, Result};
use serde_json::{Map, Value};

/// The container config with Docker's field order and defaults, built from a raw image
/// `config` object (missing fields get Docker's zero values; optional ones stay absent).
pub fn docker_config(raw: Option<&Value>) -> Value {
    let get = |k: &str| raw.and_then(|r| r.get(k)).cloned();
    let text = |k: &str| {
        get(k)
            .filter(Value::is_string)
            .unwrap_or(Value::String(String::new()))
    };
    let flag = |k: &str| {
        get(k)
            .filter(Value::is_boolean)
            .unwrap_or(Value::Bool(false))
    };
    let nullable = |k: &str| get(k).unwrap_or(Value::Null);
    // Go maps (ExposedPorts, Volumes, Labels) marshal with their keys sorted.
    let go_map = |k: &str| match get(k) {
        Some(Value::Object(o)) => {
            let mut entries: Vec<(String, Value)> = o.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().collect())
        }
        other => other.unwrap_or(Value::Null),
    };
    let mut m = Map::new();
    m.insert("Hostname".into(), text("Hostname"));
    m.insert("Domainname".into(), text("Domainname"));
    m.insert("User".into(), text("User"));
    m.insert("AttachStdin".into(), flag("AttachStdin"));
    m.insert("AttachStdout".into(), flag("AttachStdout"));
    m.insert("AttachStderr".into(), flag("AttachStderr"));
    let ports = go_map("ExposedPorts");
    if !ports.is_null() {
        m.insert("ExposedPorts".into(), ports);
    }
    m.insert("Tty".into(), flag("Tty"));
    m.insert("OpenStdin".into(), flag("OpenStdin"));
    m.insert("StdinOnce".into(), flag("StdinOnce"));
    m.insert("Env".into(), nullable("Env"));
    m.insert("Cmd".into(), nullable("Cmd"));
    if let Some(h) = get("Healthcheck").filter(|v| !v.is_null()) {
        m.insert("Healthcheck".into(), h);
    }
    if let Some(a) = get("ArgsEscaped").filter(|v| v == &Value::Bool(true)) {
        m.insert("ArgsEscaped".into(), a);
    }
    m.insert("Image".into(), text("Image"));
    m.insert("Volumes".into(), go_map("Volumes"));
    m.insert("WorkingDir".into(), text("WorkingDir"));
    m.insert("Entrypoint".into(), nullable("Entrypoint"));
    m.insert("OnBuild".into(), nullable("OnBuild"));
    m.insert("Labels".into(), go_map("Labels"));
    for k in ["StopSignal", "StopTimeout", "Shell"] {
        if let Some(v) = get(k).filter(|v| !v.is_null()) {
            m.insert(k.into(), v);
        }
    }
    Value::Object(m)
}

/// Apply `--change` instructions to a container config object (as built by [`docker_config`]).
/// Errors use Docker's wording.
pub fn apply_changes(config: &mut Value, changes: &[String]) -> Result<()> {
    for change in changes {
        let line = change.trim();
        let (instr, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim();
        let obj = config
            .as_object_mut()
            .ok_or_else(|| anyhow::anyhow!("config is not an object"))?;
        match instr.to_ascii_uppercase().as_str() {
            "CMD" => {
                obj.insert("Cmd".into(), command_form(rest)?);
            }
            "ENTRYPOINT" => {
                obj.insert("Entrypoint".into(), command_form(rest)?);
            }
            "ENV" => {
                let env = array_entry(obj, "Env");
                for (k, v) in key_values(rest, "ENV")? {
                    env.retain(|e| {
                        e.as_str().and_then(|s| s.split_once('=')).map(|(ek, _)| ek)
                            != Some(k.as_str())
                            && e.as_str() != Some(k.as_str())
                    });
                    env.push(Value::String(format!("{k}={v}")));
                }
            }
            "LABEL" => {
                let labels = object_entry(obj, "Labels");
                for (k, v) in key_values(rest, "LABEL")? {
                    labels.insert(k, Value::String(v));
                }
            }
            "WORKDIR" => {
                obj.insert("WorkingDir".into(), Value::String(unquote(rest)));
            }
            "USER" => {
                obj.insert("User".into(), Value::String(unquote(rest)));
            }
            "EXPOSE" => {
                let ports = object_entry(obj, "ExposedPorts");
                for p in rest.split_whitespace() {
                    let p = if p.contains('/') {
                        p.to_string()
                    } else {
                        format!("{p}/tcp")
                    };
                    ports.insert(p, Value::Object(Map::new()));
                }
            }
            "VOLUME" => {
                let vols = object_entry(obj, "Volumes");
                let list = match serde_json::from_str::<Vec<String>>(rest) {
                    Ok(v) => v,
                    Err(_) => rest.split_whitespace().map(str::to_string).collect(),
                };
                for v in list {
                    vols.insert(v, Value::Object(Map::new()));
                }
            }
            "STOPSIGNAL" => {
                obj.insert("StopSignal".into(), Value::String(rest.to_string()));
            }
            "ONBUILD" => {
                array_entry(obj, "OnBuild").push(Value::String(rest.to_string()));
            }
            _ => bail!("{instr} is not a valid change command"),
        }
    }
    Ok(())
}

fn array_entry<'a>(obj: &'a mut Map<String, Value>, key: &str) -> &'a mut Vec<Value> {
    let slot = obj.entry(key.to_string()).or_insert(Value::Null);
    if !slot.is_array() {
        *slot = Value::Array(Vec::new());
    }
    match slot {
        Value::Array(a) => a,
        _ => unreachable!("slot was just made an array"),
    }
}

fn object_entry<'a>(obj: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let slot = obj.entry(key.to_string()).or_insert(Value::Null);
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    match slot {
        Value::Object(m) => m,
        _ => unreachable!("slot was just made an object"),
    }
}

/// `["a","b"]` (exec form) or `a b` (shell form, run by `/bin/sh -c`).
fn command_form(rest: &str) -> Result<Value> {
    if rest.starts_with('[') {
        if let Ok(v) = serde_json::from_str::<Vec<String>>(rest) {
            return Ok(Value::Array(v.into_iter().map(Value::String).collect()));
        }
    }
    Ok(Value::Array(vec![
        Value::String("/bin/sh".into()),
        Value::String("-c".into()),
        Value::String(rest.to_string()),
    ]))
}

/// `k=v k2="v 2"` or the legacy `k v` form.
fn key_values(rest: &str, instr: &str) -> Result<Vec<(String, String)>> {
    if rest.is_empty() {
        bail!("{instr} requires at least one argument");
    }
    let words = split_words(rest);
    if !words[0].contains('=') {
        let (k, v) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        return Ok(vec![(k.to_string(), unquote(v.trim()))]);
    }
    words
        .iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((unquote(k), unquote(v))),
            _ => bail!("Syntax error - can't find = in \"{w}\". Must be of the form: name=value"),
        })
        .collect()
}

fn split_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c);
            }
            (None, '"') | (None, '\'') => {
                quote = Some(c);
                cur.push(c);
            }
            (None, c) if c.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            (_, c) => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn unquote(s: &str) -> String {
    let mut out = String::new();
    let mut quote: Option<char> = None;
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '"') | (None, '\'') => quote = Some(c),
            (_, c) => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn changes_set_fields_like_a_dockerfile() {
        let mut c = docker_config(None);
        apply_changes(
            &mut c,
            &[
                r#"CMD ["python3"]"#.into(),
                "ENV A=1 B=\"two words\"".into(),
                "ENV A 3".into(),
                "LABEL maintainer=dokles".into(),
                "WORKDIR /app".into(),
                "EXPOSE 80".into(),
                "ENTRYPOINT echo hi".into(),
            ],
        )
        .unwrap();
        assert_eq!(c["Cmd"], json!(["python3"]));
        assert_eq!(c["Env"], json!(["B=two words", "A=3"]));
        assert_eq!(c["Labels"], json!({"maintainer": "dokles"}));
        assert_eq!(c["WorkingDir"], json!("/app"));
        assert_eq!(c["ExposedPorts"], json!({"80/tcp": {}}));
        assert_eq!(c["Entrypoint"], json!(["/bin/sh", "-c", "echo hi"]));
    }

    #[test]
    fn unknown_instructions_are_refused_with_dockers_text() {
        let mut c = docker_config(None);
        let e = apply_changes(&mut c, &["FOO bar".into()]).unwrap_err();
        assert_eq!(e.to_string(), "FOO is not a valid change command");
    }

    #[test]
    fn config_keeps_dockers_field_order() {
        let c = docker_config(Some(&json!({"Cmd": ["sh"], "Labels": {"a": "b"}})));
        let keys: Vec<_> = c.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys[0], "Hostname");
        assert_eq!(keys.last().unwrap(), "Labels");
    }
}
