//! Image references as Docker parses and normalises them: `python` is
//! `docker.io/library/python:latest`; `localhost:5000/a/b:1` keeps its registry; `name@sha256:…`
//! pins a digest. Also the "familiar" short form Docker prints (`python:latest`).

use std::fmt;

use thiserror::Error;

use super::digest::Digest;

pub const DEFAULT_DOMAIN: &str = "docker.io";
pub const DEFAULT_TAG: &str = "latest";
const OFFICIAL_PREFIX: &str = "library/";

/// Why a string is not a valid reference; the texts are Docker's.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ReferenceError {
    #[error("invalid reference format")]
    Format,
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    Uppercase(String),
    #[error("repository name must have at least one component")]
    Empty,
    /// The Docker 20.10 daemon's wording of [`ReferenceError::Uppercase`] (its older
    /// reference library does not name the repository).
    #[error("invalid reference format: repository name must be lowercase")]
    DaemonUppercase,
}

/// A normalised repository name: registry domain plus path (`docker.io/library/python`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Repository {
    domain: String,
    path: String,
}

impl Repository {
    pub fn domain(&self) -> &str {
        &self.domain
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// The full name, `docker.io/library/python`.
    pub fn full(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The name Docker shows: `python` for official images, `user/app` on Docker Hub,
    /// `localhost:5000/app` elsewhere.
    pub fn familiar(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            self.path
                .strip_prefix(OFFICIAL_PREFIX)
                .unwrap_or(&self.path)
                .to_string()
        } else {
            self.full()
        }
    }
}

/// A parsed reference: repository, optional tag, optional digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    repo: Repository,
    tag: Option<String>,
    digest: Option<Digest>,
}

/// A reference that names exactly one tag: what `tag`, `load` and `pull` record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaggedRef {
    repo: Repository,
    tag: String,
}

impl TaggedRef {
    pub fn new(repo: Repository, tag: impl Into<String>) -> Self {
        Self {
            repo,
            tag: tag.into(),
        }
    }

    pub fn repo(&self) -> &Repository {
        &self.repo
    }

    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// `docker.io/library/python:latest`
    pub fn full(&self) -> String {
        format!("{}:{}", self.repo.full(), self.tag)
    }

    /// `python:latest`
    pub fn familiar(&self) -> String {
        format!("{}:{}", self.repo.familiar(), self.tag)
    }
}

impl fmt::Display for TaggedRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.familiar())
    }
}

impl Reference {
    /// Parse and normalise like Docker's `reference.ParseNormalizedNamed`.
    pub fn parse(s: &str) -> Result<Self, ReferenceError> {
        if s.is_empty() {
            return Err(ReferenceError::Format);
        }
        let (rest, digest) = match s.split_once('@') {
            Some((name, d)) => (
                name,
                Some(Digest::parse(d).map_err(|_| ReferenceError::Format)?),
            ),
            None => (s, None),
        };
        // A tag is what follows the last ':' unless that ':' is part of the domain (a port).
        let (name, tag) = match rest.rfind(':') {
            Some(i) if !rest[i + 1..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
            _ => (rest, None),
        };
        if let Some(t) = tag {
            if !valid_tag(t) {
                return Err(ReferenceError::Format);
            }
        }
        let repo = parse_repository(name)?;
        Ok(Self {
            repo,
            tag: tag.map(str::to_string),
            digest,
        })
    }

    pub fn repo(&self) -> &Repository {
        &self.repo
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The tag to use: the given one, else `latest` when no digest pins the image
    /// (Docker's `TagNameOnly`).
    pub fn with_default_tag(&self) -> Option<TaggedRef> {
        match (&self.tag, &self.digest) {
            (Some(t), _) => Some(TaggedRef::new(self.repo.clone(), t.clone())),
            (None, None) => Some(TaggedRef::new(self.repo.clone(), DEFAULT_TAG)),
            (None, Some(_)) => None,
        }
    }

    /// Familiar form with `:latest` added when neither tag nor digest was given, as Docker
    /// prints it in "No such image: python:latest".
    pub fn familiar_with_default_tag(&self) -> String {
        let mut s = self.repo.familiar();
        match (&self.tag, &self.digest) {
            (Some(t), _) => {
                s.push(':');
                s.push_str(t);
            }
            (None, None) => s.push_str(":latest"),
            (None, Some(_)) => {}
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(&d.to_string());
        }
        s
    }
}

fn parse_repository(name: &str) -> Result<Repository, ReferenceError> {
    if name.is_empty() {
        return Err(ReferenceError::Format);
    }
    let (domain, path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
    };
    let domain = if domain == "index.docker.io" {
        DEFAULT_DOMAIN.to_string()
    } else {
        domain
    };
    let path = if domain == DEFAULT_DOMAIN && !path.contains('/') {
        format!("{OFFICIAL_PREFIX}{path}")
    } else {
        path
    };
    if path.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(ReferenceError::Uppercase(path));
    }
    if !valid_domain(&domain) || !path.split('/').all(valid_path_component) {
        return Err(ReferenceError::Format);
    }
    if domain.len() + 1 + path.len() > 255 {
        return Err(ReferenceError::Format);
    }
    Ok(Repository { domain, path })
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*`
fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__", or any number of "-".
        let start = i;
        while i < b.len() && !is_alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

fn valid_domain(d: &str) -> bool {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (d, None),
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|x| x.is_ascii_alphanumeric() || *x == b'-')
        })
}

/// `[\w][\w.-]{0,127}`
fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|x| x.is_ascii_alphanumeric() || matches!(x, b'_' | b'.' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(s: &str) -> String {
        let r = Reference::parse(s).unwrap();
        let mut out = r.repo().full();
        if let Some(t) = r.tag() {
            out = format!("{out}:{t}");
        }
        out
    }

    #[test]
    fn short_names_are_official_docker_hub_images() {
        assert_eq!(full("python"), "docker.io/library/python");
        assert_eq!(full("python:3.11"), "docker.io/library/python:3.11");
        assert_eq!(full("user/app:v1"), "docker.io/user/app:v1");
        assert_eq!(full("docker.io/library/python"), "docker.io/library/python");
        assert_eq!(full("index.docker.io/python"), "docker.io/library/python");
    }

    #[test]
    fn registries_are_recognised_by_dot_colon_or_localhost() {
        assert_eq!(full("localhost/app"), "localhost/app");
        assert_eq!(full("localhost:5000/app:1"), "localhost:5000/app:1");
        assert_eq!(full("registry.example.org/a/b"), "registry.example.org/a/b");
    }

    #[test]
    fn familiar_names_hide_the_defaults() {
        let r = Reference::parse("docker.io/library/python").unwrap();
        assert_eq!(r.repo().familiar(), "python");
        assert_eq!(r.familiar_with_default_tag(), "python:latest");
        let r = Reference::parse("localhost:5000/app").unwrap();
        assert_eq!(r.repo().familiar(), "localhost:5000/app");
    }

    #[test]
    fn invalid_references_get_dockers_errors() {
        assert_eq!(Reference::parse("x:y:z"), Err(ReferenceError::Format));
        assert_eq!(
            Reference::parse("BAD"),
            Err(ReferenceError::Uppercase("library/BAD".into()))
        );
        assert_eq!(Reference::parse("a//b"), Err(ReferenceError::Format));
        assert_eq!(Reference::parse("a:"), Err(ReferenceError::Format));
        assert_eq!(Reference::parse("-a"), Err(ReferenceError::Format));
        assert_eq!(Reference::parse("a@sha256:zz"), Err(ReferenceError::Format));
    }

    #[test]
    fn digests_pin_without_a_default_tag() {
        let d = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("python@{d}")).unwrap();
        assert_eq!(r.digest().map(|x| x.to_string()), Some(d));
        assert!(r.with_default_tag().is_none());
    }

    #[test]
    fn separators_in_path_components() {
        assert!(valid_path_component("a.b_c__d---e"));
        assert!(!valid_path_component("a..b"));
        assert!(!valid_path_component("a___b"));
        assert!(!valid_path_component("a-"));
    }
}
