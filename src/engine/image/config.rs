//! An image's configuration blob: the OCI image config (`oci-spec`), kept with its raw JSON
//! because the image ID is the digest of those exact bytes and Docker's extra fields
//! (`container_config`, `docker_version`, …) must survive a load/save round trip.

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use oci_spec::image::ImageConfiguration;
use serde_json::Value;

use super::digest::Digest;

#[derive(Debug, Clone)]
pub struct ImageConfig {
    raw: Vec<u8>,
    json: Value,
    oci: ImageConfiguration,
    diff_ids: Vec<Digest>,
}

impl ImageConfig {
    pub fn parse(raw: Vec<u8>) -> Result<Self> {
        let json: Value = serde_json::from_slice(&raw).context("image config is not valid JSON")?;
        if !json.is_object() {
            bail!("image config is not a JSON object");
        }
        let oci: ImageConfiguration =
            serde_json::from_value(json.clone()).context("invalid image config")?;
        if oci.rootfs().typ() != "layers" {
            bail!("invalid image config: rootfs type {:?}", oci.rootfs().typ());
        }
        let diff_ids = oci
            .rootfs()
            .diff_ids()
            .iter()
            .map(|d| Digest::parse(d))
            .collect::<Result<Vec<_>, _>>()
            .context("invalid image config: bad diff_id")?;
        Ok(Self {
            raw,
            json,
            oci,
            diff_ids,
        })
    }

    /// The image ID: the digest of the config bytes.
    pub fn id(&self) -> Digest {
        Digest::of(&self.raw)
    }

    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    pub fn json(&self) -> &Value {
        &self.json
    }

    pub fn oci(&self) -> &ImageConfiguration {
        &self.oci
    }

    pub fn diff_ids(&self) -> &[Digest] {
        &self.diff_ids
    }

    pub fn created(&self) -> Option<DateTime<Utc>> {
        self.json
            .get("created")
            .and_then(Value::as_str)
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
    }

    /// A top-level string field of the raw config (`author`, `comment`, `docker_version`, …).
    pub fn str_field(&self, key: &str) -> &str {
        self.json.get(key).and_then(Value::as_str).unwrap_or("")
    }

    /// The runtime config (`config` object: Cmd, Env, Labels, …) as raw JSON.
    pub fn runtime_config(&self) -> Option<&Value> {
        self.json.get("config").filter(|v| v.is_object())
    }

    /// The history entries, oldest first, as raw JSON objects.
    pub fn history(&self) -> Vec<&Value> {
        self.json
            .get("history")
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default()
    }
}

/// Go's `time.RFC3339Nano`: fractional seconds without trailing zeros, `Z` for UTC.
pub fn go_rfc3339_nano(t: &DateTime<Utc>) -> String {
    let base = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = t.timestamp_subsec_nanos();
    if nanos == 0 {
        format!("{base}Z")
    } else {
        let frac = format!("{nanos:09}");
        format!("{base}.{}Z", frac.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_nano_trims_trailing_zeros_like_go() {
        let t = DateTime::parse_from_rfc3339("2026-11-23T13:55:49.609179100Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(go_rfc3339_nano(&t), "2026-11-23T13:55:49.6091791Z");
        let t = DateTime::parse_from_rfc3339("2025-05-20T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(go_rfc3339_nano(&t), "2025-05-20T00:00:00Z");
    }

    #[test]
    fn rejects_configs_without_layers_rootfs() {
        let raw = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"foo","diff_ids":[]}}"#;
        assert!(ImageConfig::parse(raw.to_vec()).is_err());
    }
}
