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

/// The instructions `--change` accepts (moby's `validCommitCommands`), lower case.
const VALID_CHANGE_COMMANDS: &[&str] = &[
    "cmd",
    "entrypoint",
    "healthcheck",
    "env",
    "expose",
    "label",
    "onbuild",
    "user",
    "volume",
    "workdir",
];

/// Apply `--change` instructions to a container config object (as built by [`docker_config`]).
/// As moby's `BuildFromConfig`: every instruction is checked against the allowed set first
/// (named in lower case, as the Dockerfile parser keeps them), then applied in order.
/// Errors use Docker's wording.
pub fn apply_changes(config: &mut Value, changes: &[String]) -> Result<()> {
    for change in changes {
        let instr = change.split_whitespace().next().unwrap_or_default();
        let lower = instr.to_ascii_lowercase();
        if !instr.is_empty() && !VALID_CHANGE_COMMANDS.contains(&lower.as_str()) {
            bail!("{lower} is not a valid change command");
        }
    }
    for change in changes {
        let line = change.trim();
        let (instr, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim();
        let obj = config
            .as_object_mut()
            .ok_or_else(|| anyhow::anyhow!("config is not an object"))?;
        match instr.to_ascii_uppercase().as_str() {
            "" => {}
            "CMD" => {
                obj.insert("Cmd".into(), command_form(rest)?);
            }
            "ENTRYPOINT" => {
                obj.insert("Entrypoint".into(), command_form(rest)?);
            }
            "HEALTHCHECK" => {
                obj.insert("Healthcheck".into(), healthcheck(rest)?);
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
            "ONBUILD" => {
                array_entry(obj, "OnBuild").push(Value::String(rest.to_string()));
            }
            _ => bail!(
                "{} is not a valid change command",
                instr.to_ascii_lowercase()
            ),
        }
    }
    // Keep Docker's field order (a new Healthcheck goes after Cmd, not last).
    *config = docker_config(Some(config));
    Ok(())
}

/// `HEALTHCHECK [--interval=D] [--timeout=D] [--start-period=D] [--retries=N] CMD …` or
/// `HEALTHCHECK NONE`, as the Dockerfile parser of Docker 20.10 reads it: the config's
/// `Healthcheck` object (durations in nanoseconds, zero values left out).
fn healthcheck(rest: &str) -> Result<Value> {
    let mut words = rest;
    let mut flags: Vec<(String, Option<String>)> = Vec::new();
    // Flags are the leading `--name[=value]` words.
    while let Some(flag) = words.strip_prefix("--") {
        let end = flag.find(char::is_whitespace).unwrap_or(flag.len());
        let (word, after) = flag.split_at(end);
        if word.is_empty() {
            words = after.trim_start();
            break;
        }
        let (name, value) = match word.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (word.to_string(), None),
        };
        flags.push((name, value));
        words = after.trim_start();
    }
    if words.is_empty() {
        bail!("HEALTHCHECK requires at least one argument");
    }
    let (typ, args) = words
        .split_once(char::is_whitespace)
        .map(|(t, a)| (t, a.trim()))
        .unwrap_or((words, ""));
    let typ = typ.to_uppercase();
    if typ == "NONE" {
        if !args.is_empty() {
            bail!("HEALTHCHECK NONE takes no arguments");
        }
        return Ok(serde_json::json!({"Test": ["NONE"]}));
    }
    let value_of = |name: &str| -> Option<String> {
        flags
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.clone())
    };
    for (name, value) in &flags {
        if !["interval", "timeout", "start-period", "retries"].contains(&name.as_str()) {
            bail!("Unknown flag: {name}");
        }
        if value.is_none() {
            bail!("Missing a value on flag: {name}");
        }
        if flags.iter().filter(|(n, _)| n == name).count() > 1 {
            bail!("Duplicate flag specified: {name}");
        }
    }
    if typ != "CMD" {
        bail!("Unknown type {typ:?} in HEALTHCHECK (try CMD)");
    }
    let test: Vec<String> = match serde_json::from_str::<Vec<String>>(args) {
        Ok(v) if args.starts_with('[') => {
            let mut t = vec!["CMD".to_string()];
            t.extend(v);
            t
        }
        _ if args.is_empty() => bail!("Missing command after HEALTHCHECK CMD"),
        _ => vec!["CMD-SHELL".to_string(), args.to_string()],
    };
    if test.len() == 1 {
        bail!("Missing command after HEALTHCHECK CMD");
    }
    let mut h = Map::new();
    h.insert("Test".into(), serde_json::json!(test));
    for (flag, key) in [
        ("interval", "Interval"),
        ("timeout", "Timeout"),
        ("start-period", "StartPeriod"),
    ] {
        if let Some(v) = value_of(flag).filter(|v| !v.is_empty()) {
            let nanos = go_duration_nanos(&v)
                .ok_or_else(|| anyhow::anyhow!("time: invalid duration {v:?}"))?;
            if nanos < 1_000_000 {
                bail!("Interval {flag:?} cannot be less than 1ms");
            }
            h.insert(key.into(), Value::from(nanos as i64));
        }
    }
    if let Some(v) = value_of("retries").filter(|v| !v.is_empty()) {
        let n: i32 = v
            .parse()
            .map_err(|_| anyhow::anyhow!("strconv.ParseInt: parsing {v:?}: invalid syntax"))?;
        if n < 1 {
            bail!("--retries must be at least 1 (not {n})");
        }
        h.insert("Retries".into(), Value::from(n));
    }
    Ok(Value::Object(h))
}

/// Go's `time.ParseDuration` in nanoseconds (`1h30m`, `1.5s`, `300ms`); `None` if invalid.
pub fn go_duration_nanos(s: &str) -> Option<i128> {
    let (negative, mut rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..digits];
        if number.is_empty() || number == "." {
            return None;
        }
        let n: f64 = number.parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += n * scale;
    }
    let nanos = total.round() as i128;
    Some(if negative { -nanos } else { nanos })
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
        assert_eq!(e.to_string(), "foo is not a valid change command");
        let e = apply_changes(&mut c, &["STOPSIGNAL 9".into()]).unwrap_err();
        assert_eq!(e.to_string(), "stopsignal is not a valid change command");
        // Every instruction is checked before any is applied.
        let e = apply_changes(&mut c, &["HEALTHCHECK".into(), "RUN x".into()]).unwrap_err();
        assert_eq!(e.to_string(), "run is not a valid change command");
    }

    #[test]
    fn healthcheck_changes_read_like_dockers_parser() {
        let hc = |line: &str| {
            let mut c = docker_config(None);
            apply_changes(&mut c, &[line.to_string()]).map(|_| c["Healthcheck"].clone())
        };
        assert_eq!(
            hc("HEALTHCHECK CMD true").unwrap(),
            json!({"Test": ["CMD-SHELL", "true"]})
        );
        assert_eq!(
            hc(r#"HEALTHCHECK CMD ["true","x"]"#).unwrap(),
            json!({"Test": ["CMD", "true", "x"]})
        );
        assert_eq!(hc("HEALTHCHECK NONE").unwrap(), json!({"Test": ["NONE"]}));
        assert_eq!(
            hc("HEALTHCHECK --interval=1s --timeout=2s --start-period=3s --retries=4 CMD true")
                .unwrap(),
            json!({"Test": ["CMD-SHELL", "true"], "Interval": 1_000_000_000_i64,
                   "Timeout": 2_000_000_000_i64, "StartPeriod": 3_000_000_000_i64, "Retries": 4})
        );
        for (line, err) in [
            ("HEALTHCHECK", "HEALTHCHECK requires at least one argument"),
            ("HEALTHCHECK CMD", "Missing command after HEALTHCHECK CMD"),
            ("HEALTHCHECK NONE x", "HEALTHCHECK NONE takes no arguments"),
            (
                "HEALTHCHECK true",
                "Unknown type \"TRUE\" in HEALTHCHECK (try CMD)",
            ),
            ("HEALTHCHECK --bogus=1 CMD true", "Unknown flag: bogus"),
            (
                "HEALTHCHECK --retries=0 CMD true",
                "--retries must be at least 1 (not 0)",
            ),
        ] {
            assert_eq!(hc(line).unwrap_err().to_string(), err, "{line}");
        }
        // Healthcheck sits after Cmd in Docker's field order.
        let mut c = docker_config(None);
        apply_changes(&mut c, &["HEALTHCHECK NONE".into()]).unwrap();
        let keys: Vec<_> = c.as_object().unwrap().keys().cloned().collect();
        let at = |k: &str| keys.iter().position(|x| x == k).unwrap();
        assert_eq!(at("Healthcheck"), at("Cmd") + 1);
    }

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(go_duration_nanos("1h"), Some(3_600_000_000_000));
        assert_eq!(go_duration_nanos("2h30m"), Some(9_000_000_000_000));
        assert_eq!(go_duration_nanos("1.5s"), Some(1_500_000_000));
        assert_eq!(go_duration_nanos("300ms"), Some(300_000_000));
        assert_eq!(go_duration_nanos("-1m"), Some(-60_000_000_000));
        assert_eq!(go_duration_nanos("0"), Some(0));
        for bad in ["", "1", "h", "1d", "1h-", "1.h.", "1 h"] {
            assert_eq!(go_duration_nanos(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn config_keeps_dockers_field_order() {
        let c = docker_config(Some(&json!({"Cmd": ["sh"], "Labels": {"a": "b"}})));
        let keys: Vec<_> = c.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys[0], "Hostname");
        assert_eq!(keys.last().unwrap(), "Labels");
    }
}
