//! `--format` Go templates on the image commands, with the output the real Docker CLI
//! (client 28) prints for the same image. These need the full Go-template engine (values
//! printed as Go prints them, pipelines, functions, `range`/`if`/`with`).
//!
//! How docker/cli evaluates an inspect template, which these expectations follow: it runs
//! the template on the *typed* API struct first (Go field names, `omitempty` JSON), and only
//! if that fails (e.g. `.Id`, whose Go field is `ID`) on the raw JSON decoded into maps —
//! where `{{json .X}}` then prints keys sorted. So `{{json .Config}}` is the sparse typed
//! form, and `{{.Id}} {{json .RootFS}}` prints `{"Layers":…,"Type":"layers"}`.

mod common;

use common::{short, ArchiveSpec, Dokles};

/// An image loaded as `app:1` and `other:latest`; returns (dokles, image ID).
fn image() -> (Dokles, String, tempfile::TempDir) {
    let d = Dokles::new();
    let t = tempfile::tempdir().unwrap();
    let path = t.path().join("a.tar");
    let id = ArchiveSpec::new(&["app:1", "other:latest"], "app\n").write(&path);
    d.load(&path);
    (d, id, t)
}

/// `docker image inspect -f <format> app:1`.
fn inspect(d: &Dokles, format: &str) -> String {
    d.ok(&["image", "inspect", "-f", format, "app:1"])
}

#[test]
fn inspect_prints_lists_and_maps_as_go_does() {
    let (d, _, _t) = image();
    assert_eq!(inspect(&d, "{{.Config.Cmd}}"), "[sh]\n");
    assert_eq!(
        inspect(&d, "{{.Config.Env}}"),
        "[PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin]\n"
    );
    assert_eq!(inspect(&d, "{{.RepoTags}}"), "[app:1 other:latest]\n");
    assert_eq!(
        inspect(&d, "{{.Config.Labels}}"),
        "map[org.dokles.test:busybox]\n"
    );
    assert_eq!(inspect(&d, "{{.Config.Entrypoint}}"), "[]\n");
}

#[test]
fn inspect_prints_times_as_go_time_values() {
    let (d, _, _t) = image();
    assert_eq!(
        inspect(&d, "{{.Metadata.LastTagTime}}"),
        "0001-01-01 00:00:00 +0000 UTC\n"
    );
}

#[test]
fn inspect_json_of_the_config_is_the_sparse_typed_form() {
    let (d, _, _t) = image();
    assert_eq!(
        inspect(&d, "{{json .Config}}"),
        "{\"Env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"],\"Cmd\":[\"sh\"],\"WorkingDir\":\"/\",\"Labels\":{\"org.dokles.test\":\"busybox\"}}\n"
    );
}

#[test]
fn inspect_falls_back_to_raw_maps_with_sorted_keys() {
    let (d, id, _t) = image();
    let out = inspect(&d, "{{.Id}} {{json .RootFS}}");
    assert!(
        out.starts_with(&format!("{id} {{\"Layers\":[\"sha256:")),
        "{out}"
    );
    assert!(out.ends_with("],\"Type\":\"layers\"}\n"), "{out}");
}

#[test]
fn inspect_supports_functions_and_actions() {
    let (d, id, _t) = image();
    assert_eq!(inspect(&d, "{{index .RepoTags 0}}"), "app:1\n");
    assert_eq!(
        inspect(&d, "{{range .RepoTags}}<{{.}}>{{end}}"),
        "<app:1><other:latest>\n"
    );
    assert_eq!(inspect(&d, "{{len .RootFS.Layers}}"), "2\n");
    assert_eq!(
        inspect(&d, "{{index .Config.Labels \"org.dokles.test\"}}"),
        "busybox\n"
    );
    assert_eq!(inspect(&d, "{{upper .Os}}"), "LINUX\n");
    assert_eq!(inspect(&d, "{{title .Os}}"), "Linux\n");
    assert_eq!(inspect(&d, "{{println .Os}}"), "linux\n\n");
    assert_eq!(
        inspect(&d, "{{if .Config.Cmd}}has-cmd{{else}}none{{end}}"),
        "has-cmd\n"
    );
    assert_eq!(
        inspect(&d, "{{join .RepoTags \",\"}}"),
        "app:1,other:latest\n"
    );
    assert_eq!(
        inspect(&d, "{{printf \"%.12s\" .Id}}"),
        format!("{}\n", &id[..12])
    );
    assert_eq!(
        inspect(&d, "{{split .Id \":\"}}"),
        format!("[sha256 {}]\n", id.trim_start_matches("sha256:"))
    );
    assert_eq!(inspect(&d, "{{with .Config}}{{.WorkingDir}}{{end}}"), "/\n");
}

#[test]
fn images_format_supports_pipelines_and_conditions() {
    let (d, id, _t) = image();
    let images = |f: &str| d.ok(&["images", "--format", f, "app"]);
    assert_eq!(images("{{.Repository | upper}}"), "APP\n");
    assert_eq!(images("{{printf \"%s=%s\" .Repository .Tag}}"), "app=1\n");
    assert_eq!(
        images("{{if eq .Tag \"1\"}}one{{else}}other{{end}}"),
        "one\n"
    );
    assert_eq!(
        images("{{json .}}"),
        format!(
            "{{\"Containers\":\"N/A\",\"CreatedAt\":\"2024-01-02 03:04:05 +0000 UTC\",\"CreatedSince\":\"2 years ago\",\"Digest\":\"\\u003cnone\\u003e\",\"ID\":\"{}\",\"Repository\":\"app\",\"SharedSize\":\"N/A\",\"Size\":\"1.98MB\",\"Tag\":\"1\",\"UniqueSize\":\"N/A\",\"VirtualSize\":\"1.984MB\"}}\n",
            short(&id)
        )
    );
}

#[test]
fn history_format_supports_conditions() {
    let (d, id, _t) = image();
    assert_eq!(
        d.ok(&[
            "history",
            "--format",
            "{{.ID}}{{if .Comment}} ({{.Comment}}){{end}}",
            "app:1"
        ]),
        format!(
            "{}\n<missing>\n<missing> (motd for tests)\n<missing>\n",
            short(&id)
        )
    );
    let first = d.ok(&["history", "--format", "{{json .}}", "app:1"]);
    assert_eq!(
        first.lines().next().unwrap(),
        format!(
            "{{\"Comment\":\"\",\"CreatedAt\":\"2024-01-02T03:04:05Z\",\"CreatedBy\":\"/bin/sh -c #(nop)  CMD [\\\"sh\\\"]\",\"CreatedSince\":\"2 years ago\",\"ID\":\"{}\",\"Size\":\"0B\"}}",
            short(&id)
        )
    );
}
