//! Behaviour of dokles' Go-template engine (`--format`, `inspect -f`) and its tabwriter.
//!
//! Expected outputs in the `DOCKER_*` tables were produced by the real Docker CLI (20.10)
//! with `docker image inspect -f TEMPLATE` on an image made by
//! `docker import --change 'CMD ["sh"]' --change 'LABEL maintainer="Anne <a@b.nl>" version=1.0'
//! --change 'ENV A=1 B=two' --change 'WORKDIR /app' --change 'EXPOSE 80/tcp 443'`,
//! whose `docker image inspect` JSON is `IMAGE` below.

use dokles::format::{
    normalize_format, render_list, row_type, strip_table, FunctionSet, MissingKey, ObjectStyle,
    RenderOptions, TabFlags, TabWriter, Template,
};
use serde_json::{json, Value};

const IMAGE: &str = r#"{
  "Id": "sha256:b4b22dbbcb95d434ba5eee9e07ff7dd8b0fc0c8bd2da6e136e0c166bf18ef36d",
  "RepoTags": [
    "fmttest:1"
  ],
  "RepoDigests": [],
  "Parent": "",
  "Comment": "Imported from -",
  "Created": "2026-11-23T14:00:26.988318106Z",
  "Container": "",
  "ContainerConfig": {
    "Hostname": "",
    "Domainname": "",
    "User": "",
    "AttachStdin": false,
    "AttachStdout": false,
    "AttachStderr": false,
    "Tty": false,
    "OpenStdin": false,
    "StdinOnce": false,
    "Env": null,
    "Cmd": null,
    "Image": "",
    "Volumes": null,
    "WorkingDir": "",
    "Entrypoint": null,
    "OnBuild": null,
    "Labels": null
  },
  "DockerVersion": "20.10.24+dfsg1",
  "Author": "",
  "Config": {
    "Hostname": "",
    "Domainname": "",
    "User": "",
    "AttachStdin": false,
    "AttachStdout": false,
    "AttachStderr": false,
    "ExposedPorts": {
      "443/tcp": {},
      "80/tcp": {}
    },
    "Tty": false,
    "OpenStdin": false,
    "StdinOnce": false,
    "Env": [
      "A=1",
      "B=two"
    ],
    "Cmd": [
      "sh"
    ],
    "Image": "",
    "Volumes": null,
    "WorkingDir": "/app",
    "Entrypoint": null,
    "OnBuild": null,
    "Labels": {
      "maintainer": "Anne <a@b.nl>",
      "version": "1.0"
    }
  },
  "Architecture": "amd64",
  "Os": "linux",
  "Size": 1982263,
  "VirtualSize": 1982263,
  "GraphDriver": {
    "Data": {
      "MergedDir": "/var/lib/docker/overlay2/6b14a5c48db66361c1b847fdefb7e8a1bbaa28f382bde8b7e47c9dd184eb6678/merged",
      "UpperDir": "/var/lib/docker/overlay2/6b14a5c48db66361c1b847fdefb7e8a1bbaa28f382bde8b7e47c9dd184eb6678/diff",
      "WorkDir": "/var/lib/docker/overlay2/6b14a5c48db66361c1b847fdefb7e8a1bbaa28f382bde8b7e47c9dd184eb6678/work"
    },
    "Name": "overlay2"
  },
  "RootFS": {
    "Type": "layers",
    "Layers": [
      "sha256:b2214279896fad96b2ceaf67a49c9cf6e0c9d54cc2254fcc338cbc5757e82b1f"
    ]
  },
  "Metadata": {
    "LastTagTime": "2026-11-23T14:00:26.990597165Z"
  }
}
"#;

fn image() -> Value {
    serde_json::from_str(IMAGE).expect("fixture is valid JSON")
}

/// `docker inspect -f` semantics: a missing key is an error, objects print as Go structs.
fn inspect(template: &str, data: &Value) -> Result<String, String> {
    Template::parse(template)
        .and_then(|t| t.render_with(data, &RenderOptions::inspect()))
        .map_err(|e| e.to_string())
}

/// `--format` semantics for rows: Go's defaults.
fn render(template: &str, data: &Value) -> Result<String, String> {
    Template::parse(template)
        .and_then(|t| t.render(data))
        .map_err(|e| e.to_string())
}

/// Templates and the output `docker image inspect -f` printed for them (without its newline).
const DOCKER_OUTPUTS: &[(&str, &str)] = &[
    (
        r#"{{.Id}}"#,
        r#"sha256:b4b22dbbcb95d434ba5eee9e07ff7dd8b0fc0c8bd2da6e136e0c166bf18ef36d"#,
    ),
    (r#"{{.Config.Cmd}}"#, r#"[sh]"#),
    (r#"{{json .Config.Cmd}}"#, r#"["sh"]"#),
    (
        r#"{{json .RootFS}}"#,
        r#"{"Type":"layers","Layers":["sha256:b2214279896fad96b2ceaf67a49c9cf6e0c9d54cc2254fcc338cbc5757e82b1f"]}"#,
    ),
    (
        r#"{{json .Config.Labels}}"#,
        r#"{"maintainer":"Anne <a@b.nl>","version":"1.0"}"#,
    ),
    (
        r#"{{.Config.Labels}}"#,
        r#"map[maintainer:Anne <a@b.nl> version:1.0]"#,
    ),
    (r#"{{.Config.Env}}"#, r#"[A=1 B=two]"#),
    (r#"{{.RepoTags}}"#, r#"[fmttest:1]"#),
    (r#"{{.RepoDigests}}"#, r#"[]"#),
    (r#"{{.Size}}"#, r#"1982263"#),
    (
        r#"{{.Config.ExposedPorts}}"#,
        r#"map[443/tcp:{} 80/tcp:{}]"#,
    ),
    (
        r#"{{range .RootFS.Layers}}{{println .}}{{end}}"#,
        r#"sha256:b2214279896fad96b2ceaf67a49c9cf6e0c9d54cc2254fcc338cbc5757e82b1f
"#,
    ),
    (
        r#"{{index .Config.Labels "maintainer"}}"#,
        r#"Anne <a@b.nl>"#,
    ),
    (r#"{{index .Config.Labels "nope"}}|"#, r#"|"#),
    (r#"{{index .Config.Env 1}}"#, r#"B=two"#),
    (r#"{{join .Config.Env ","}}"#, r#"A=1,B=two"#),
    (r#"{{join .Config.Cmd " "}}"#, r#"sh"#),
    (r#"{{split "a:b:c" ":"}}"#, r#"[a b c]"#),
    (r#"{{split .Os "n"}}"#, r#"[li ux]"#),
    (
        r#"{{title "hello world-foo bar_baz"}}"#,
        r#"Hello World-Foo Bar_baz"#,
    ),
    (r#"{{lower "AbC"}} {{upper .Os}}"#, r#"abc LINUX"#),
    (r#"[{{pad "ab" 2 3}}][{{pad "" 2 3}}]"#, r#"[  ab   ][]"#),
    (
        r#"{{truncate "abcdef" 3}} {{truncate "ab" 3}} {{truncate .Id 19}}"#,
        r#"abc ab sha256:b4b22dbbcb95"#,
    ),
    (
        r#"{{if eq .Os "linux"}}L{{else if eq .Os "x"}}X{{else}}O{{end}}"#,
        r#"L"#,
    ),
    (r#"{{if ne .Os "linux"}}yes{{else}}no{{end}}"#, r#"no"#),
    (
        r#"{{with .Config.Labels}}{{.version}}{{else}}none{{end}}"#,
        r#"1.0"#,
    ),
    (
        r#"{{with .Config.Entrypoint}}yes{{else}}none{{end}}"#,
        r#"none"#,
    ),
    (
        r#"{{range .Config.Entrypoint}}x{{else}}empty{{end}}"#,
        r#"empty"#,
    ),
    (
        r#"{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}"#,
        r#"maintainer=Anne <a@b.nl>;version=1.0;"#,
    ),
    (
        r#"{{range $i, $e := .Config.Env}}{{$i}}:{{$e}} {{end}}"#,
        r#"0:A=1 1:B=two "#,
    ),
    (
        r#"{{range $e := .Config.Env}}<{{$e}}>{{end}}"#,
        r#"<A=1><B=two>"#,
    ),
    (
        r#"{{ range .Config.Env -}} [{{ . }}] {{- end }}"#,
        r#"[A=1][B=two]"#,
    ),
    (r#"{{$x := .Os}}{{$x}}-{{$x | upper}}"#, r#"linux-LINUX"#),
    (r#"{{$x := 1}}{{$x = 2}}{{$x}}"#, r#"2"#),
    (r#"{{.Os | printf "%s!" | upper}}"#, r#"LINUX!"#),
    (r#"{{printf "%s:%d" .Os .Size}}"#, r#"linux:1982263"#),
    (
        r#"{{printf "%5d|%-10s|%q|%x|%v" .Size .Os .Os .Os .Config.Cmd}}"#,
        r#"1982263|linux     |"linux"|6c696e7578|[sh]"#,
    ),
    (
        r#"{{printf "%v %s %d" .Config.Env .Config.Env 3}}"#,
        r#"[A=1 B=two] [A=1 B=two] 3"#,
    ),
    (r#"{{printf "%d" .Os}}"#, r#"%!d(string=linux)"#),
    (r#"{{printf "%s"}}"#, r#"%!s(MISSING)"#),
    (r#"{{printf "%s" .Os 5}}"#, r#"linux%!(EXTRA int=5)"#),
    (
        r#"{{printf "%.2f|%e|%g|%v|%6.1f" 3.14159 1234.5678 0.000012 2.5 3.14159}}"#,
        r#"3.14|1.234568e+03|1.2e-05|2.5|   3.1"#,
    ),
    (r#"{{printf "%q" .Config.Env}}"#, r#"["A=1" "B=two"]"#),
    (
        r#"{{len .Config.Env}} {{len .Os}} {{len .Config.Labels}}"#,
        r#"2 5 2"#,
    ),
    (r#"{{slice .Os 1 3}}|{{slice .Os 2}}"#, r#"in|nux"#),
    (
        r#"{{html "<a&b>"}} {{js "a'b\"c<"}} {{urlquery "a b&c"}}"#,
        r#"&lt;a&amp;b&gt; a\'b\"c\u003C a+b%26c"#,
    ),
    (
        r#"{{print 1 2 "a" "b" 3}}|{{println 1 "a" 2}}|"#,
        r#"1 2ab3|1 a 2
|"#,
    ),
    (
        r#"{{and 1 0 2}} {{or 0 "" "x"}} {{not 0}} {{not .Os}} {{and .Os .Size}} {{or .Config.Entrypoint "fallback"}}"#,
        r#"0 x true false 1982263 fallback"#,
    ),
    (
        r#"{{eq .Os "a" "linux"}} {{ne 1 2}} {{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 2 2}}"#,
        r#"true true true true true true"#,
    ),
    (r#"{{eq .Size 1982263}} {{lt .Size 10}}"#, r#"true false"#),
    (
        r#"{{'a'}} {{0x1F}} {{1e3}} {{1.5}} {{-2}} {{1.0}} {{0o17}} {{1_000}}"#,
        r#"97 31 1000 1.5 -2 1 15 1000"#,
    ),
    (r#"{{printf "%v" nil}}"#, r#"<nil>"#),
    (
        r#"{{.Os
}}"#,
        r#"linux"#,
    ),
    (r#"{{/* c */}}x{{- /* d */ -}} y"#, r#"xy"#),
    (
        r#"{{ .Os -}}   
  z"#,
        r#"linuxz"#,
    ),
    (r#"a  {{- .Os}}"#, r#"alinux"#),
    (
        r#"{{define "x"}}X{{.}}{{end}}{{template "x" .Os}}"#,
        r#"Xlinux"#,
    ),
    (r#"{{block "y" .Os}}B{{.}}{{end}}"#, r#"Blinux"#),
    (
        r#"{{(.Config).Cmd}} {{(index .Config.Env 0)}}"#,
        r#"[sh] A=1"#,
    ),
    (r#"{{.Os | len}}"#, r#"5"#),
    (r#"{{range .Config.Env}}{{.}}{{break}}{{end}}"#, r#"A=1"#),
    (
        r#"{{range $i, $e := .Config.Env}}{{if eq $i 0}}{{continue}}{{end}}{{.}}{{end}}"#,
        r#"B=two"#,
    ),
    (r#"{{range 3}}{{.}}{{end}}"#, r#"012"#),
    (r#"{{json .Config.Entrypoint}}"#, r#"null"#),
    (r#"{{json "a<b>&"}}"#, r#""a<b>&""#),
    (r#"{{json .Size}}"#, r#"1982263"#),
    (r#"{{json 1.5}}"#, r#"1.5"#),
    (
        r#"{{json .Config.ExposedPorts}}"#,
        r#"{"443/tcp":{},"80/tcp":{}}"#,
    ),
    (r#"{{with $x := .Os}}{{$x}}{{end}}"#, r#"linux"#),
    (r#"{{if and .Os (eq .Size 1982263)}}ok{{end}}"#, r#"ok"#),
    (r#"{{.Os | printf "%s-%s" "a"}}"#, r#"a-linux"#),
    (r#"{{printf "%s" (index .RepoTags 0)}}"#, r#"fmttest:1"#),
    (r#"{{"quoted\tstring"}}"#, r#"quoted	string"#),
    (r#"{{`raw\t`}}"#, r#"raw\t"#),
    (r#"{{print}}"#, r#""#),
    (r#"{{print nil}}"#, r#"<nil>"#),
    (r#"{{eq nil nil}}"#, r#"true"#),
    (r#"{{printf "%s" "a" | printf "%s%s" "b"}}"#, r#"ba"#),
    (r#"{{$.Os}}"#, r#"linux"#),
    (r#"{{$x := .Config}}{{$x.WorkingDir}}"#, r#"/app"#),
    (r#"{{true}} {{false}}"#, r#"true false"#),
    (r#"{{"\u00e9\x41"}}"#, r#"éA"#),
    (r#"{{len "é"}}"#, r#"2"#),
    (
        r#"{{printf "%-8s|%8s|" "ab" "cd"}}"#,
        r#"ab      |      cd|"#,
    ),
    (r#"{{printf "%3c|%-4d|%x" 'z' 7 "hi"}}"#, r#"  z|7   |6869"#),
    (r#"{{printf "%%|%v" 1}}"#, r#"%|1"#),
    (r#"{{printf "%!"}}"#, r#"%!!(MISSING)"#),
    (
        r#"{{if .Config.Volumes}}v{{else}}no volumes{{end}}"#,
        r#"no volumes"#,
    ),
    (r#"{{json .ContainerConfig.Env}}"#, r#"null"#),
    ("{{.Os |\n upper}}", "LINUX"),
    (r#"{{ .Os | }}"#, "linux"),
    (r#"{{with .Os}}{{else with .Id}}{{.}}{{end}}"#, ""),
    (r#"{{.Config.Labels.maintainer}}"#, "Anne <a@b.nl>"),
    (
        r#"{{printf "%s %s" (split "a b" " ")}}"#,
        "[a b] %!s(MISSING)",
    ),
    (r#"{{join (split "a b" " ") "-"}}"#, "a-b"),
    (r#"{{.Os | printf "%q"}}"#, r#""linux""#),
    (r#"{{len .Config.Entrypoint}}"#, "0"),
    (
        r#"{{.ContainerConfig.Labels}}|{{.ContainerConfig.Env}}|{{.Config.Entrypoint}}"#,
        "map[]|[]|[]",
    ),
    (
        r#"{{index .ContainerConfig.Labels "x"}}|{{join .ContainerConfig.Env ","}}|{{range .ContainerConfig.Env}}x{{end}}"#,
        "||",
    ),
    (r#"{{.ContainerConfig.Labels.x}}"#, "<no value>"),
    (r#"{{  .Os  }}"#, r#"linux"#),
    (r#"{{.Os }}"#, r#"linux"#),
    (r#"{{ (printf "%s" .Os) | upper }}"#, r#"LINUX"#),
    (r#"{{- if .Os }} yes {{- end }}"#, r#" yes"#),
    (r#"{{/**/}}x"#, r#"x"#),
    (r#"{{- /* x */}} y"#, r#" y"#),
    (r#"a {{- /* x */ -}} b"#, r#"ab"#),
    (r#"{{printf "%T" 1.0}}"#, r#"float64"#),
    (r#"{{printf "%v" 1e21}}"#, r#"1e+21"#),
    (r#"{{printf "%v" 0.1}}"#, r#"0.1"#),
    (
        r#"{{printf "%v %v" 100000.0 1000000.0}}"#,
        r#"100000 1e+06"#,
    ),
    (
        r#"{{printf "%.3g|%g|%G" 1234.5678 1e-7 1e-7}}"#,
        r#"1.23e+03|1e-07|1E-07"#,
    ),
    (r#"{{printf "%x" -255}}"#, r#"-ff"#),
    (r#"{{printf "%+.2f" 3.14159}}"#, r#"+3.14"#),
    (
        r#"{{printf "%8.3f|%-8.2f|" 3.14159 2.5}}"#,
        r#"   3.142|2.50    |"#,
    ),
    (r#"{{printf "%e" 0.0}}"#, r#"0.000000e+00"#),
    (r#"{{printf "%v" -0.0}}"#, r#"-0"#),
    (r#"{{printf "%s" true}}"#, r#"%!s(bool=true)"#),
    (r#"{{printf "%d" true}}"#, r#"%!d(bool=true)"#),
    (r#"{{printf "%d" 1.5}}"#, r#"%!d(float64=1.5)"#),
    (r#"{{printf "%s" 1.5}}"#, r#"%!s(float64=1.5)"#),
    (r#"{{printf "%q" 65}}"#, r#"'A'"#),
    (r#"{{printf "%U" 65}}"#, r#"U+0041"#),
    (r#"{{printf "%c" 233}}"#, r#"é"#),
    (
        r#"{{printf "%v" .Config.Labels}}"#,
        r#"map[maintainer:Anne <a@b.nl> version:1.0]"#,
    ),
    (
        r#"{{printf "%s" .Config.Labels}}"#,
        r#"map[maintainer:Anne <a@b.nl> version:1.0]"#,
    ),
    (
        r#"{{printf "%d" .Config.Env}}"#,
        r#"[%!d(string=A=1) %!d(string=B=two)]"#,
    ),
    (
        r#"{{printf "%5s|%-5s|" "abcdefg" "é"}}"#,
        r#"abcdefg|é    |"#,
    ),
    (r#"{{print "a" 1 2 "b"}}"#, r#"a1 2b"#),
    (r#"{{print 1 "a"}}"#, r#"1a"#),
    (
        r#"{{print .Config.Env .Config.Env}}"#,
        r#"[A=1 B=two] [A=1 B=two]"#,
    ),
    (
        r#"{{println}}"#,
        r#"
"#,
    ),
    (r#"{{print true false}}"#, r#"true false"#),
    (
        r#"{{$x := "a"}}{{range .Config.Env}}{{$x = .}}{{end}}{{$x}}"#,
        r#"B=two"#,
    ),
    (
        r#"{{$x := "a"}}{{if true}}{{$x := "b"}}{{$x}}{{end}}{{$x}}"#,
        r#"ba"#,
    ),
    (
        r#"{{with .Config}}{{.WorkingDir}} {{$.Os}}{{end}}"#,
        r#"/app linux"#,
    ),
    (
        r#"{{range .Config.Labels}}{{.}};{{end}}"#,
        r#"Anne <a@b.nl>;1.0;"#,
    ),
    (r#"{{index .Config "Labels" "version"}}"#, r#"1.0"#),
    (r#"{{index .RootFS.Layers 0 | len}}"#, r#"71"#),
    (r#"{{slice "abcdef" 1 4}}"#, r#"bcd"#),
    (r#"{{slice .Config.Env 1}}"#, r#"[B=two]"#),
    (r#"{{len (split "a,b,c" ",")}}"#, r#"3"#),
    (r#"{{eq (len .Config.Env) 2}}"#, r#"true"#),
    (r#"{{lt "a" "b" }}"#, r#"true"#),
    (r#"{{le 1.5 2.5}}"#, r#"true"#),
    (r#"{{gt .Size 100}}"#, r#"true"#),
    (r#"{{eq true true}}"#, r#"true"#),
    (r#"{{not .Config.Entrypoint}}"#, r#"true"#),
    (r#"{{and .Os ""}}"#, r#""#),
    (r#"{{if not (eq .Os "windows")}}ok{{end}}"#, r#"ok"#),
    (r#"{{html .Config.Env}}"#, r#"[A=1 B=two]"#),
    (r#"{{urlquery "é/?=~"}}"#, r#"%C3%A9%2F%3F%3D~"#),
    (r#"{{html 1 "a"}}"#, r#"1a"#),
    (r#"{{title "élan vital"}}"#, r#"Élan Vital"#),
    (r#"{{upper "straße"}}"#, r#"STRAßE"#),
    (r#"{{lower "ÉCOLE"}}"#, r#"école"#),
    (r#"{{split "abc" ""}}"#, r#"[a b c]"#),
    (r#"{{split "" ","}}"#, r#"[]"#),
    (r#"{{join (split "" ",") "-"}}"#, r#""#),
    (r#"{{pad "x" 0 0}}"#, r#"x"#),
    (r#"{{json (index .Config.Env 0)}}"#, r#""A=1""#),
    (r#"{{json .Config.Labels.version}}"#, r#""1.0""#),
    (r#"{{json true}}"#, r#"true"#),
    (r#"{{json nil}}"#, r#"null"#),
    (r#"{{json 1e21}}"#, r#"1e+21"#),
    (r#"{{json 0.0000001}}"#, r#"1e-7"#),
    (r#"{{"a\u2028b" | json}}"#, r#""a\u2028b""#),
    (r#"{{json ""}}"#, r#""\u0007""#),
    (r#"{{.Os | printf "%s" | len}}"#, r#"5"#),
    (r#"{{printf "%s" | len}}"#, r#"12"#),
    (
        r#"{{.Config.ExposedPorts}}"#,
        r#"map[443/tcp:{} 80/tcp:{}]"#,
    ),
    (r#"{{range $i := 2}}{{$i}}{{end}}"#, r#"01"#),
    (r#"{{range -1}}x{{else}}none{{end}}"#, r#"none"#),
    (r#"{{with 0}}x{{else with 1}}y{{end}}"#, r#"y"#),
    (r#"{{if .Config.Labels}}has labels{{end}}"#, r#"has labels"#),
    (
        r#"{{if .RepoDigests}}d{{else}}no digests{{end}}"#,
        r#"no digests"#,
    ),
    (r#"{{ .Os }}{{/* comment with {{braces}} */}}"#, r#"linux"#),
    (r#"{{"}}"}}"#, r#"}}"#),
    (r#"{{`{{`}}"#, r#"{{"#),
    (r#"{{.Os}}}}"#, r#"linux}}"#),
    (r#"}}{{.Os}}"#, r#"}}linux"#),
    (r#"{{-3}}"#, r#"-3"#),
    (r#"{{- 3 -}}"#, r#"3"#),
    (r#"{{3 -}}"#, r#"3"#),
    (r#"{{ -3}}"#, r#"-3"#),
    (r#"{{.Os -}}  x"#, r#"linuxx"#),
    (r#"{{/* a */ -}}  b"#, r#"b"#),
    (r#"{{index .Config.Env}}"#, r#"[A=1 B=two]"#),
    (r#"{{and 1}}"#, r#"1"#),
    (r#"{{1 | printf "%d"}}"#, r#"1"#),
    (r#"{{(1) | printf "%d"}}"#, r#"1"#),
    (r#"{{printf "%v" nil | len}}"#, r#"5"#),
    (r#"{{.Os|upper}}"#, r#"LINUX"#),
    (r#"{{.Os|upper|lower}}"#, r#"linux"#),
    (r#"{{.Os | upper | printf "%q"}}"#, r#""LINUX""#),
    (
        r#"{{$x := .Config.Env}}{{index $x 0 | printf "%s!"}}"#,
        r#"A=1!"#,
    ),
    (r#"{{'\n'}}"#, r#"10"#),
    (r#"{{'\x41'}}"#, r#"65"#),
    (r#"{{'\u00e9' | printf "%c"}}"#, r#"é"#),
    (r#"{{.5}}"#, r#"0.5"#),
    (r#"{{5.}}"#, r#"5"#),
    (r#"{{+5}}"#, r#"5"#),
    (r#"{{0b101}}"#, r#"5"#),
    (r#"{{1.5e3}}"#, r#"1500"#),
    (r#"{{9223372036854775807}}"#, r#"9223372036854775807"#),
    (r#"{{-9223372036854775808}}"#, r#"-9223372036854775808"#),
    (
        r#"{{.Config.WorkingDir | len | printf "%d chars"}}"#,
        r#"4 chars"#,
    ),
];

/// Templates and the error Docker reported (after its "template parsing error: " prefix).
const DOCKER_ERRORS: &[(&str, &str)] = &[
    (
        r#"{{index .Config.Env 5}}"#,
        r#"template: :1:2: executing "" at <index .Config.Env 5>: error calling index: index out of range: 5"#,
    ),
    (
        r#"{{ge 1.5 2}}"#,
        r#"template: :1:2: executing "" at <ge 1.5 2>: error calling ge: incompatible types for comparison"#,
    ),
    (
        r#"{{eq .Os 1}}"#,
        r#"template: :1:2: executing "" at <eq .Os 1>: error calling eq: incompatible types for comparison"#,
    ),
    (
        r#"{{lt .Config.Env 1}}"#,
        r#"template: :1:2: executing "" at <lt .Config.Env 1>: error calling lt: invalid type for comparison"#,
    ),
    (
        r#"{{nil}}"#,
        r#"template: :1:2: executing "" at <nil>: nil is not a command"#,
    ),
    (
        r#"{{template "zz"}}"#,
        r#"template: :1:11: executing "" at <{{template "zz"}}>: template "zz" not defined"#,
    ),
    (
        r#"{{range .Os}}{{end}}"#,
        r#"template: :1:8: executing "" at <.Os>: range can't iterate over linux"#,
    ),
    (
        r#"{{.Foo}}"#,
        r#"template: :1:2: executing "" at <.Foo>: map has no entry for key "Foo""#,
    ),
    (
        r#"{{.Config.Foo}}"#,
        r#"template: :1:9: executing "" at <.Config.Foo>: map has no entry for key "Foo""#,
    ),
    (
        r#"{{.Config.Cmd.Foo}}"#,
        r#"template: :1:9: executing "" at <.Config.Cmd.Foo>: can't evaluate field Foo in type interface {}"#,
    ),
    (
        r#"{{.Id.Foo}}"#,
        r#"template: :1:5: executing "" at <.Id.Foo>: can't evaluate field Foo in type interface {}"#,
    ),
    (
        r#"{{.Config.Entrypoint.Foo}}"#,
        r#"template: :1:9: executing "" at <.Config.Entrypoint.Foo>: nil pointer evaluating interface {}.Foo"#,
    ),
    (r#"{{foo}}"#, r#"template: :1: function "foo" not defined"#),
    (r#"{{.Id"#, r#"template: :1: unclosed action"#),
    (r#"{{if}}{{end}}"#, r#"template: :1: missing value for if"#),
    (r#"{{if .Id}}"#, r#"template: :1: unexpected EOF"#),
    (r#"{{end}}"#, r#"template: :1: unexpected {{end}}"#),
    (r#"{{else}}"#, r#"template: :1: unexpected {{else}}"#),
    (
        r#"{{range}}{{end}}"#,
        r#"template: :1: missing value for range"#,
    ),
    (r#"{{.Os}"#, r#"template: :1: bad character U+007D '}'"#),
    (
        r#"{{/* c */ }}"#,
        r#"template: :1: comment ends before closing delimiter"#,
    ),
    (r#"{{$x}}"#, r#"template: :1: undefined variable "$x""#),
    (
        r#"{{.Os 1}}"#,
        r#"template: :1:2: executing "" at <.Os>: Os is not a method but has arguments"#,
    ),
    (
        r#"{{upper}}"#,
        r#"template: :1:2: executing "" at <upper>: wrong number of args for upper: want 1 got 0"#,
    ),
    (
        r#"{{upper 1}}"#,
        r#"template: :1:8: executing "" at <1>: expected string; found 1"#,
    ),
    (
        r#"{{upper .Config.Cmd}}"#,
        r#"template: :1:15: executing "" at <.Config.Cmd>: wrong type for value; expected string; got []interface {}"#,
    ),
    (
        r#"{{join .Os ","}}"#,
        r#"template: :1:7: executing "" at <.Os>: wrong type for value; expected []string; got string"#,
    ),
    (
        r#"{{"a" | .Os}}"#,
        r#"template: :1:8: executing "" at <.Os>: Os is not a method but has arguments"#,
    ),
    (
        r#"{{3 | 4}}"#,
        r#"template: :1: non executable command in pipeline stage 2"#,
    ),
    (
        r#"{{len 3}}"#,
        r#"template: :1:2: executing "" at <len 3>: error calling len: len of type int"#,
    ),
    (
        r#"{{index .Os "x"}}"#,
        r#"template: :1:2: executing "" at <index .Os "x">: error calling index: cannot index slice/array with type string"#,
    ),
    (
        r#"{{index 3 1}}"#,
        r#"template: :1:2: executing "" at <index 3 1>: error calling index: can't index item of type int"#,
    ),
    (
        r#"{{break}}"#,
        r#"template: :1: {{break}} outside {{range}}"#,
    ),
    (
        r#"{{range .Os}}{{else}}{{else}}{{end}}"#,
        r#"template: :1: expected end; found {{else}}"#,
    ),
    (
        r#"{{.Os | .Os}}"#,
        r#"template: :1:8: executing "" at <.Os>: Os is not a method but has arguments"#,
    ),
    (
        r#"{{index .Config.Env -1}}"#,
        r#"template: :1:2: executing "" at <index .Config.Env -1>: error calling index: index out of range: -1"#,
    ),
    (
        "line1\n{{foo}}",
        r#"template: :2: function "foo" not defined"#,
    ),
    (
        "a\n  {{.Os.Y}}",
        r#"template: :2:7: executing "" at <.Os.Y>: can't evaluate field Y in type interface {}"#,
    ),
    (
        "{{if .Os}}\n{{.Os.Y}}{{end}}",
        r#"template: :2:5: executing "" at <.Os.Y>: can't evaluate field Y in type interface {}"#,
    ),
    ("{{.Os\n", "template: :2: unclosed action started at :1"),
    (
        "x\n{{if .Os}}\n{{else}}{{else}}{{end}}",
        "template: :3: expected end; found {{else}}",
    ),
    (
        r#"{{range $i, $e, $f := .Os}}{{end}}"#,
        "template: :1: too many declarations in range",
    ),
    (
        r#"{{$x, $y := .Os}}"#,
        "template: :1: too many declarations in command",
    ),
    (
        r#"{{"unterminated}}"#,
        "template: :1: unterminated quoted string",
    ),
    (r#"{{(.Os}}"#, "template: :1: unclosed left paren"),
    (r#"{{.Os)}}"#, "template: :1: unexpected right paren"),
    (r#"{{| .Os}}"#, r#"template: :1: unexpected "|" in command"#),
    (r#"{{3x}}"#, r#"template: :1: bad number syntax: "3x""#),
    (r#"{{.Os.}}"#, "template: :1: unexpected <.> in operand"),
    (r#"{{@}}"#, r#"template: :1: unexpected "@" in command"#),
    (r#"{{"\z"}}"#, "template: :1: invalid syntax"),
    (
        r#"{{'ab'}}"#,
        "template: :1: malformed character constant: 'ab'",
    ),
    (
        r#"{{range $k, $v := .Config.Labels}}{{$k}}{{end}}{{$k}}"#,
        r#"template: :1: undefined variable "$k""#,
    ),
    (
        r#"{{template "a" 1 2}}"#,
        r#"template: :1:11: executing "" at <{{template "a" 1 2}}>: template "a" not defined"#,
    ),
    (
        r#"{{index .Config.Entrypoint 0}}"#,
        r#"template: :1:2: executing "" at <index .Config.Entrypoint 0>: error calling index: index of untyped nil"#,
    ),
    (
        r#"{{define "x"}}{{.Foo}}{{end}}{{template "x" .}}"#,
        r#"template: :1:16: executing "x" at <.Foo>: map has no entry for key "Foo""#,
    ),
    (
        r#"{{slice .Os 3 1}}"#,
        r#"template: :1:2: executing "" at <slice .Os 3 1>: error calling slice: invalid slice index: 3 > 1"#,
    ),
    (
        r#"{{slice .Os 1 9}}"#,
        r#"template: :1:2: executing "" at <slice .Os 1 9>: error calling slice: index out of range: 9"#,
    ),
    (
        r#"{{lt true false}}"#,
        r#"template: :1:2: executing "" at <lt true false>: error calling lt: invalid type for comparison"#,
    ),
    (
        r#"{{eq .Config.Env .Config.Env}}"#,
        r#"template: :1:2: executing "" at <eq .Config.Env .Config.Env>: error calling eq: non-comparable type [A=1 B=two]: []interface {}"#,
    ),
    (
        r#"{{and}}"#,
        r#"template: :1:2: executing "" at <and>: wrong number of args for and: want at least 1 got 0"#,
    ),
    (
        r#"{{or .Foo "x"}}"#,
        r#"template: :1:5: executing "" at <.Foo>: map has no entry for key "Foo""#,
    ),
    (
        r#"{{js "é	
"}}"#,
        r#"template: :1: unterminated quoted string"#,
    ),
    (
        r#"{{len | printf "%s"}}"#,
        r#"template: :1:2: executing "" at <len>: wrong number of args for len: want 1 got 0"#,
    ),
    (
        r#"{{range $i, $j := 2}}{{end}}"#,
        r#"template: :1:18: executing "" at <2>: can't use 2 to iterate over more than one variable"#,
    ),
    (r#"{{{.Os}}"#, r#"template: :1: unexpected "{" in command"#),
    (
        r#"{{printf "%s" .Foo}}"#,
        r#"template: :1:14: executing "" at <.Foo>: map has no entry for key "Foo""#,
    ),
    (
        r#"{{printf "%d" .Foo}}"#,
        r#"template: :1:14: executing "" at <.Foo>: map has no entry for key "Foo""#,
    ),
    (
        r#"{{upper .Foo}}"#,
        r#"template: :1:8: executing "" at <.Foo>: map has no entry for key "Foo""#,
    ),
    (
        r#"{{len .Foo}}"#,
        r#"template: :1:6: executing "" at <.Foo>: map has no entry for key "Foo""#,
    ),
    (
        r#"{{index .Foo 1}}"#,
        r#"template: :1:8: executing "" at <.Foo>: map has no entry for key "Foo""#,
    ),
    (
        r#"{{.Foo | printf "%v"}}"#,
        r#"template: :1:2: executing "" at <.Foo>: map has no entry for key "Foo""#,
    ),
    (r#"{{}}"#, r#"template: :1: missing value for command"#),
    (r#"{{ }}"#, r#"template: :1: missing value for command"#),
    (r#"{{-}}"#, r#"template: :1: illegal number syntax: "-""#),
    (r#"{{- }}"#, r#"template: :1: missing value for command"#),
    (r#"{{.Os-}}"#, r#"template: :1: bad character U+002D '-'"#),
    (
        r#"a {{-/* c */}} b"#,
        r#"template: :1: illegal number syntax: "-""#,
    ),
    (
        r#"{{ /* c */ }}"#,
        r#"template: :1: unexpected "/" in command"#,
    ),
    (r#"{{/* unclosed"#, r#"template: :1: unclosed comment"#),
    (
        r#"{{"a" "b"}}"#,
        r#"template: :1:2: executing "" at <"a">: can't give argument to non-function "a""#,
    ),
    (
        r#"{{.Os .Os}}"#,
        r#"template: :1:2: executing "" at <.Os>: Os is not a method but has arguments"#,
    ),
    (
        r#"{{$x := 1}}{{$x 2}}"#,
        r#"template: :1:13: executing "" at <$x>: can't give argument to non-function $x"#,
    ),
    (
        r#"{{printf}}"#,
        r#"template: :1:2: executing "" at <printf>: wrong number of args for printf: want at least 1 got 0"#,
    ),
    (
        r#"{{eq}}"#,
        r#"template: :1:2: executing "" at <eq>: wrong number of args for eq: want at least 1 got 0"#,
    ),
    (
        r#"{{eq 1}}"#,
        r#"template: :1:2: executing "" at <eq 1>: error calling eq: missing argument for comparison"#,
    ),
    (
        r#"{{index}}"#,
        r#"template: :1:2: executing "" at <index>: wrong number of args for index: want at least 1 got 0"#,
    ),
    (
        r#"{{not}}"#,
        r#"template: :1:2: executing "" at <not>: wrong number of args for not: want 1 got 0"#,
    ),
    (
        r#"{{len 1 2}}"#,
        r#"template: :1:2: executing "" at <len>: wrong number of args for len: want 1 got 2"#,
    ),
    (
        r#"{{or}}"#,
        r#"template: :1:2: executing "" at <or>: wrong number of args for or: want at least 1 got 0"#,
    ),
    (
        r#"{{if 1}}{{else}}{{end}}{{else}}"#,
        r#"template: :1: unexpected {{else}}"#,
    ),
    (
        r#"{{range .Config.Env}}{{end}}{{break}}"#,
        r#"template: :1: {{break}} outside {{range}}"#,
    ),
    (
        r#"{{with}}{{end}}"#,
        r#"template: :1: missing value for with"#,
    ),
    (
        r#"{{if 1}}{{end x}}"#,
        r#"template: :1: unexpected "x" in end"#,
    ),
    (
        r#"{{if 1}}{{else x}}{{end}}"#,
        r#"template: :1: unexpected "x" in else"#,
    ),
    (r#"{{end x}}"#, r#"template: :1: unexpected "x" in end"#),
    (
        r#"{{define}}{{end}}"#,
        r#"template: :1: unexpected "}}" in define clause"#,
    ),
    (r#"{{define "a"}}"#, r#"template: :1: unexpected EOF"#),
    (
        r#"{{template}}"#,
        r#"template: :1: unexpected "}}" in template clause"#,
    ),
    (
        r#"{{template .Os}}"#,
        r#"template: :1: unexpected ".Os" in template clause"#,
    ),
    (
        r#"{{block "x"}}{{end}}"#,
        r#"template: :1: missing value for block clause"#,
    ),
    (
        r#"{{range $x := .Config.Env}}{{end}}{{$x}}"#,
        r#"template: :1: undefined variable "$x""#,
    ),
    (
        r#"{{range $i, := .Config.Env}}{{end}}"#,
        r#"template: :1: range can only initialize variables"#,
    ),
    (
        r#"{{$x := 1 | 2}}"#,
        r#"template: :1: non executable command in pipeline stage 2"#,
    ),
    (
        r#"{{nil | printf "%v"}}"#,
        r#"template: :1:2: executing "" at <nil>: nil is not a command"#,
    ),
    (
        r#"{{"x".Foo}}"#,
        r#"template: :1: unexpected . after term "\"x\"""#,
    ),
    (
        r#"{{$.Foo.Bar}}"#,
        r#"template: :1:3: executing "" at <$.Foo.Bar>: map has no entry for key "Foo""#,
    ),
    (r#"{{0x}}"#, r#"template: :1: illegal number syntax: "0x""#),
    (r#"{{1e}}"#, r#"template: :1: illegal number syntax: "1e""#),
    (
        r#"{{1__0}}"#,
        r#"template: :1: illegal number syntax: "1__0""#,
    ),
    (r#"{{08}}"#, r#"template: :1: integer overflow: "08""#),
    (
        r#"{{9223372036854775808}}"#,
        r#"template: :1:2: executing "" at <9223372036854775808>: 9223372036854775808 overflows int"#,
    ),
    (
        r#"{{with .Os}}{{.}}{{end}}{{with .Foo}}x{{end}}"#,
        r#"template: :1:31: executing "" at <.Foo>: map has no entry for key "Foo""#,
    ),
];

#[test]
fn renders_what_docker_inspect_prints() {
    let data = image();
    let mut failures = Vec::new();
    for (template, expected) in DOCKER_OUTPUTS {
        match inspect(template, &data) {
            Ok(out) if out == *expected => {}
            other => failures.push(format!(
                "{template:?}: expected {expected:?}, got {other:?}"
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn fails_with_the_errors_docker_reports() {
    let data = image();
    let mut failures = Vec::new();
    for (template, expected) in DOCKER_ERRORS {
        match inspect(template, &data) {
            Err(e) if e == *expected => {}
            other => failures.push(format!(
                "{template:?}: expected {expected:?}, got {other:?}"
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn missing_keys_print_no_value_unless_missingkey_is_error() {
    let data = image();
    assert_eq!(render("{{.Foo}}", &data).unwrap(), "<no value>");
    assert_eq!(
        render("{{.Config.Foo}}|{{.Foo.Bar}}", &data).unwrap(),
        "<no value>|<no value>"
    );
    assert_eq!(
        render("{{if .Foo}}yes{{else}}no{{end}}", &data).unwrap(),
        "no"
    );
    assert_eq!(
        inspect("{{.Foo}}", &data).unwrap_err(),
        r#"template: :1:2: executing "" at <.Foo>: map has no entry for key "Foo""#
    );
}

/// `docker container inspect` on a created container, compared with Docker 20.10.
#[test]
fn docker_nil_fields_print_as_docker_typed_data_does() {
    let container = json!({
        "Args": [],
        "State": {"Status": "created", "ExitCode": 0},
        "HostConfig": {"PortBindings": {}, "Binds": null},
        "Config": {"Labels": {"a": "b"}, "Entrypoint": null, "Volumes": null},
        "Mounts": []
    });
    let cases = [
        ("{{.State.Health}}", "<nil>"),
        ("{{.Config.Healthcheck}}", "<nil>"),
        ("{{.HostConfig.PortBindings}}", "map[]"),
        ("{{.HostConfig.Binds}}", "[]"),
        ("{{.Mounts}}", "[]"),
        ("{{.Config.Entrypoint}}|{{.Config.Volumes}}", "[]|map[]"),
        ("{{eq .State.ExitCode 0}}", "true"),
    ];
    for (template, expected) in cases {
        assert_eq!(
            inspect(template, &container).unwrap(),
            expected,
            "{template}"
        );
    }
    assert_eq!(
        inspect("{{.State.Health.Status}}", &container).unwrap_err(),
        r#"template: :1:8: executing "" at <.State.Health.Status>: map has no entry for key "Health""#
    );
    assert_eq!(
        inspect("{{.Node}}", &container).unwrap_err(),
        r#"template: :1:2: executing "" at <.Node>: map has no entry for key "Node""#
    );
}

/// With `ObjectStyle::DockerStructs`, objects print as Docker's typed inspect data does
/// (expected outputs from `docker image inspect -f` / `docker container inspect -f`).
#[test]
fn inspect_objects_print_as_go_structs_on_request() {
    let options = RenderOptions {
        missing_key: MissingKey::Error,
        objects: ObjectStyle::DockerStructs,
        ..RenderOptions::default()
    };
    let run = |template: &str, data: &Value| {
        Template::parse(template)
            .unwrap()
            .render_with(data, &options)
            .unwrap()
    };
    let image = image();
    assert_eq!(
        run("{{.RootFS}}", &image),
        "{layers [sha256:b2214279896fad96b2ceaf67a49c9cf6e0c9d54cc2254fcc338cbc5757e82b1f]}"
    );
    assert_eq!(
        run("{{.GraphDriver}}", &image),
        "{map[MergedDir:/var/lib/docker/overlay2/6b14a5c48db66361c1b847fdefb7e8a1bbaa28f382bde8b7e47c9dd184eb6678/merged \
         UpperDir:/var/lib/docker/overlay2/6b14a5c48db66361c1b847fdefb7e8a1bbaa28f382bde8b7e47c9dd184eb6678/diff \
         WorkDir:/var/lib/docker/overlay2/6b14a5c48db66361c1b847fdefb7e8a1bbaa28f382bde8b7e47c9dd184eb6678/work] overlay2}"
    );
    assert_eq!(
        run("{{.Config.ExposedPorts}}", &image),
        "map[443/tcp:{} 80/tcp:{}]"
    );
    assert_eq!(
        run("{{.Config.Labels}}|{{.ContainerConfig.Labels}}", &image),
        "map[maintainer:Anne <a@b.nl> version:1.0]|map[]"
    );
    let container = json!({
        "HostConfig": {
            "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
            "LogConfig": {"Type": "json-file", "Config": {}},
            "Devices": []
        },
        "Mounts": []
    });
    assert_eq!(run("{{.HostConfig.RestartPolicy}}", &container), "{no 0}");
    assert_eq!(
        run("{{.HostConfig.LogConfig}}", &container),
        "{json-file map[]}"
    );
    assert_eq!(
        run("{{.Mounts}}|{{.HostConfig.Devices}}", &container),
        "[]|[]"
    );
    // Without the option objects print as maps.
    assert_eq!(
        render("{{.HostConfig.RestartPolicy}}", &container).unwrap(),
        "map[MaximumRetryCount:0 Name:no]"
    );
}

/// Values print like Go's `fmt` `%v` of what Docker decodes.
#[test]
fn prints_values_like_go_fmt() {
    let cases: &[(Value, &str)] = &[
        (json!("text"), "text"),
        (json!(42), "42"),
        (json!(-7), "-7"),
        (json!(1.5), "1.5"),
        (json!(1e6), "1e+06"),
        (json!(0.00001), "1e-05"),
        (json!(true), "true"),
        (json!(null), "<nil>"),
        (json!(["a", "b", "c"]), "[a b c]"),
        (json!(["a", ["b", "c"], 1]), "[a [b c] 1]"),
        (json!([]), "[]"),
        (json!({"b": 1, "a": "x"}), "map[a:x b:1]"),
        (
            json!({"z": {"y": null, "x": [1]}}),
            "map[z:map[x:[1] y:<nil>]]",
        ),
        (json!({"80/tcp": {}}), "map[80/tcp:{}]"),
        (json!({}), "map[]"),
    ];
    for (value, expected) in cases {
        let data = json!({ "V": value });
        assert_eq!(
            render("{{.V}}", &data).unwrap(),
            *expected,
            "printing {value}"
        );
    }
}

#[test]
fn json_keeps_field_order_and_does_not_escape_html() {
    let data = json!({"V": {"b": 1, "a": [true, null, 2.5], "html": "<a href=\"x\">&</a>", "nl": "x\ny\u{1}\u{2028}"}});
    assert_eq!(
        render("{{json .V}}", &data).unwrap(),
        r#"{"b":1,"a":[true,null,2.5],"html":"<a href=\"x\">&</a>","nl":"x\ny\u0001\u2028"}"#
    );
    assert_eq!(render("{{json .Missing}}", &data).unwrap(), "null");
    assert_eq!(
        render(r#"{{json (split "a,b" ",")}}"#, &data).unwrap(),
        r#"["a","b"]"#
    );
}

#[test]
fn printf_follows_go_verbs() {
    let data = json!({"S": "docker", "N": 42, "F": 2.5, "L": ["a", "b"], "B": true});
    let cases = [
        (
            r#"{{printf "%s|%v|%q" .S .S .S}}"#,
            r#"docker|docker|"docker""#,
        ),
        (
            r#"{{printf "%d|%5d|%-5d|%05d|%x|%X|%o|%b" .N .N .N .N .N .N .N .N}}"#,
            "42|   42|42   |00042|2a|2A|52|101010",
        ),
        (
            r#"{{printf "%-10s|%10s|%.3s" .S .S .S}}"#,
            "docker    |    docker|doc",
        ),
        (
            r#"{{printf "%f|%.1f|%e|%g" .F .F .F .F}}"#,
            "2.500000|2.5|2.500000e+00|2.5",
        ),
        (
            r#"{{printf "%v|%s|%q" .L .L .L}}"#,
            r#"[a b]|[a b]|["a" "b"]"#,
        ),
        (r#"{{printf "%t|%v" .B .B}}"#, "true|true"),
        (
            r#"{{printf "%T %T %T %T %T" .S .N .F .B .L}}"#,
            "string int float64 bool []interface {}",
        ),
        (r#"{{printf "%d" .S}}"#, "%!d(string=docker)"),
        (r#"{{printf "%s %s" .S}}"#, "docker %!s(MISSING)"),
        (r#"{{printf "%s" .S .N}}"#, "docker%!(EXTRA int=42)"),
        (r#"{{printf "100%%"}}"#, "100%"),
    ];
    for (template, expected) in cases {
        assert_eq!(render(template, &data).unwrap(), expected, "{template}");
    }
}

#[test]
fn docker_string_functions() {
    let data = json!({"Args": ["-c", "echo hi"], "Image": "nginx:1.25", "Empty": ""});
    let cases = [
        (r#"{{join .Args " "}}"#, "-c echo hi"),
        (r#"{{split .Image ":"}}"#, "[nginx 1.25]"),
        (r#"{{index (split .Image ":") 1}}"#, "1.25"),
        (
            r#"{{upper .Image}}|{{lower "ÄB"}}|{{title "hello wörld"}}"#,
            "NGINX:1.25|äb|Hello Wörld",
        ),
        (
            r#"[{{pad .Image 1 2}}][{{pad .Empty 1 2}}]"#,
            "[ nginx:1.25  ][]",
        ),
        (
            r#"{{truncate .Image 5}}|{{truncate .Image 50}}"#,
            "nginx|nginx:1.25",
        ),
        (r#"{{range .Args}}{{println .}}{{end}}"#, "-c\necho hi\n"),
    ];
    for (template, expected) in cases {
        assert_eq!(render(template, &data).unwrap(), expected, "{template}");
    }
}

#[test]
fn trim_markers_comments_and_variables() {
    let data = json!({"Names": ["web", "db"], "Root": "r"});
    let cases = [
        ("a  \n {{- .Root -}} \n  b", "arb"),
        ("{{- /* a comment */ -}}  x", "x"),
        (
            "{{range $i, $n := .Names}}{{if $i}}, {{end}}{{$n}}{{end}}",
            "web, db",
        ),
        ("{{range .Names}}{{$.Root}}{{.}} {{end}}", "rweb rdb "),
        ("{{$n := len .Names}}{{$n}} names", "2 names"),
        ("{{with $x := index .Names 0}}{{$x}}{{end}}", "web"),
        ("{{range .Missing}}x{{else}}none{{end}}", "none"),
    ];
    for (template, expected) in cases {
        assert_eq!(render(template, &data).unwrap(), expected, "{template:?}");
    }
}

#[test]
fn header_functions_keep_column_titles_intact() {
    let template = Template::parse(
        r#"{{upper .ID}}\t{{json .Repository}}\t{{split .Tag ":"}}\t{{join .Tag ","}}\t{{truncate .ID 2}}\t{{pad .Size 1 1}}"#,
    )
    .unwrap();
    let headers =
        json!({"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Size": "SIZE"});
    assert_eq!(
        template.render_header(&headers),
        r#"IMAGE ID\tREPOSITORY\tTAG\tTAG\tIMAGE ID\t SIZE "#
    );
    // Docker ignores header errors and keeps the text written before them.
    let failing = Template::parse("{{.ID}} {{len 3}} {{.Size}}").unwrap();
    assert_eq!(failing.render_header(&headers), "IMAGE ID ");
    let options = RenderOptions {
        functions: FunctionSet::Header,
        ..RenderOptions::default()
    };
    assert_eq!(
        failing
            .render_with(&headers, &options)
            .map_err(|e| e.to_string()),
        Err(
            r#"template: :1:10: executing "" at <len 3>: error calling len: len of type int"#
                .to_owned()
        )
    );
}

#[test]
fn table_directive_and_escapes() {
    assert_eq!(
        strip_table("table {{.ID}}\t{{.Name}}"),
        Some("{{.ID}}\t{{.Name}}")
    );
    assert_eq!(strip_table("table"), Some(""));
    assert_eq!(strip_table("tablex {{.ID}}"), Some("x {{.ID}}"));
    assert_eq!(strip_table(" table {{.ID}}"), None);
    assert_eq!(strip_table("{{.ID}}"), None);
    assert_eq!(
        normalize_format(r"  {{.ID}}\t{{.Repository}}\n "),
        "{{.ID}}\t{{.Repository}}\n"
    );
    assert_eq!(normalize_format("\t{{.ID}} "), "\t{{.ID}}");
}

/// `docker images --format` trims spaces and un-escapes `\t`/`\n`; `docker inspect -f` does not.
#[test]
fn only_list_formats_are_normalized() {
    assert_eq!(
        inspect(r"  {{.Os}}\t{{.Size}}  ", &image()).unwrap(),
        r"  linux\t1982263  "
    );
    let row = [json!({"Tag": "1", "ID": "b4b22dbbcb95"})];
    assert_eq!(
        render_list(r"  {{.Tag}}\t{{.ID}}  ", row_type::IMAGE, &json!({}), &row).unwrap(),
        "1\tb4b22dbbcb95\n"
    );
    assert_eq!(
        render_list(r"{{.Tag}}\n", row_type::IMAGE, &json!({}), &row).unwrap(),
        "1\n\n"
    );
}

const IMAGE_HEADERS: &str = r#"{"ID":"IMAGE ID","Repository":"REPOSITORY","Tag":"TAG","Digest":"DIGEST","CreatedSince":"CREATED","CreatedAt":"CREATED AT","Size":"SIZE","Containers":"CONTAINERS","SharedSize":"SHARED SIZE","UniqueSize":"UNIQUE SIZE","VirtualSize":"VIRTUAL SIZE"}"#;
const HISTORY_HEADERS: &str = r#"{"ID":"IMAGE","CreatedSince":"CREATED","CreatedAt":"CREATED AT","CreatedBy":"CREATED BY","Size":"SIZE","Comment":"COMMENT"}"#;
const CONTAINER_HEADERS: &str = r#"{"ID":"CONTAINER ID","Image":"IMAGE","Command":"COMMAND","CreatedAt":"CREATED AT","RunningFor":"CREATED","Ports":"PORTS","State":"STATE","Status":"STATUS","Size":"SIZE","Names":"NAMES","Labels":"LABELS","Mounts":"MOUNTS","LocalVolumes":"LOCAL VOLUMES","Networks":"NETWORKS"}"#;

/// A `--format` value, the rows `docker ... --format '{{json .}}'` printed, and the table
/// Docker printed for the format.
struct TableCase {
    format: &'static str,
    row_type: &'static str,
    headers: &'static str,
    rows: &'static str,
    expected: &'static str,
}

const DOCKER_TABLES: &[TableCase] = &[
    TableCase {
        format: r#"table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"#,
        row_type: row_type::IMAGE,
        headers: IMAGE_HEADERS,
        rows: r#"[{"Containers":"N/A","CreatedAt":"2026-11-23 14:04:35 +0000 UTC","CreatedSince":"7 minutes ago","Digest":"<none>","ID":"5e1eb8ae8bc7","Repository":"bb","SharedSize":"N/A","Size":"1.98MB","Tag":"imp","UniqueSize":"N/A","VirtualSize":"1.982MB"},{"Containers":"N/A","CreatedAt":"2026-11-23 14:00:26 +0000 UTC","CreatedSince":"11 minutes ago","Digest":"<none>","ID":"b4b22dbbcb95","Repository":"fmttest","SharedSize":"N/A","Size":"1.98MB","Tag":"1","UniqueSize":"N/A","VirtualSize":"1.982MB"},{"Containers":"N/A","CreatedAt":"2026-11-23 14:00:26 +0000 UTC","CreatedSince":"11 minutes ago","Digest":"<none>","ID":"b4b22dbbcb95","Repository":"registry.example/some/very-long-repository-name","SharedSize":"N/A","Size":"1.98MB","Tag":"v1.2.3-extra","UniqueSize":"N/A","VirtualSize":"1.982MB"},{"Containers":"N/A","CreatedAt":"2026-11-23 13:59:40 +0000 UTC","CreatedSince":"12 minutes ago","Digest":"<none>","ID":"ad0b24776871","Repository":"bbref","SharedSize":"N/A","Size":"1.98MB","Tag":"latest","UniqueSize":"N/A","VirtualSize":"1.984MB"},{"Containers":"N/A","CreatedAt":"2026-07-11 10:16:37 +0000 UTC","CreatedSince":"4 months ago","Digest":"<none>","ID":"e28d37531e43","Repository":"hello-world","SharedSize":"N/A","Size":"2.06kB","Tag":"latest","UniqueSize":"N/A","VirtualSize":"2.056kB"},{"Containers":"N/A","CreatedAt":"2026-07-11 10:16:37 +0000 UTC","CreatedSince":"4 months ago","Digest":"<none>","ID":"2a5c268b93e2","Repository":"python","SharedSize":"N/A","Size":"143MB","Tag":"3.11","UniqueSize":"N/A","VirtualSize":"142.9MB"},{"Containers":"N/A","CreatedAt":"2026-07-11 10:16:37 +0000 UTC","CreatedSince":"4 months ago","Digest":"<none>","ID":"2a5c268b93e2","Repository":"python","SharedSize":"N/A","Size":"143MB","Tag":"latest","UniqueSize":"N/A","VirtualSize":"142.9MB"},{"Containers":"N/A","CreatedAt":"2026-07-11 10:16:37 +0000 UTC","CreatedSince":"4 months ago","Digest":"<none>","ID":"9ea48dca39e2","Repository":"debian","SharedSize":"N/A","Size":"74MB","Tag":"bookworm","UniqueSize":"N/A","VirtualSize":"74.02MB"},{"Containers":"N/A","CreatedAt":"2026-07-11 10:16:37 +0000 UTC","CreatedSince":"4 months ago","Digest":"<none>","ID":"9ea48dca39e2","Repository":"debian","SharedSize":"N/A","Size":"74MB","Tag":"latest","UniqueSize":"N/A","VirtualSize":"74.02MB"},{"Containers":"N/A","CreatedAt":"2026-07-11 10:16:37 +0000 UTC","CreatedSince":"4 months ago","Digest":"<none>","ID":"0985b2ddf207","Repository":"busybox","SharedSize":"N/A","Size":"1.99MB","Tag":"latest","UniqueSize":"N/A","VirtualSize":"1.987MB"},{"Containers":"N/A","CreatedAt":"2025-01-01 00:00:00 +0000 UTC","CreatedSince":"23 months ago","Digest":"<none>","ID":"607cfe87e0f6","Repository":"<none>","SharedSize":"N/A","Size":"1.98MB","Tag":"<none>","UniqueSize":"N/A","VirtualSize":"1.984MB"}]"#,
        expected: r#"REPOSITORY                                        TAG            IMAGE ID       CREATED          SIZE
bb                                                imp            5e1eb8ae8bc7   7 minutes ago    1.98MB
fmttest                                           1              b4b22dbbcb95   11 minutes ago   1.98MB
registry.example/some/very-long-repository-name   v1.2.3-extra   b4b22dbbcb95   11 minutes ago   1.98MB
bbref                                             latest         ad0b24776871   12 minutes ago   1.98MB
hello-world                                       latest         e28d37531e43   4 months ago     2.06kB
python                                            3.11           2a5c268b93e2   4 months ago     143MB
python                                            latest         2a5c268b93e2   4 months ago     143MB
debian                                            bookworm       9ea48dca39e2   4 months ago     74MB
debian                                            latest         9ea48dca39e2   4 months ago     74MB
busybox                                           latest         0985b2ddf207   4 months ago     1.99MB
<none>                                            <none>         607cfe87e0f6   23 months ago    1.98MB
"#,
    },
    TableCase {
        format: r#"table {{.Repository}}:{{.Tag}}\t{{.Size}}\t{{upper .ID}}"#,
        row_type: row_type::IMAGE,
        headers: IMAGE_HEADERS,
        rows: r#"[{"Containers":"N/A","CreatedAt":"2026-11-23 14:04:35 +0000 UTC","CreatedSince":"7 minutes ago","Digest":"<none>","ID":"5e1eb8ae8bc7","Repository":"bb","SharedSize":"N/A","Size":"1.98MB","Tag":"imp","UniqueSize":"N/A","VirtualSize":"1.982MB"},{"Containers":"N/A","CreatedAt":"2026-11-23 14:00:26 +0000 UTC","CreatedSince":"11 minutes ago","Digest":"<none>","ID":"b4b22dbbcb95","Repository":"fmttest","SharedSize":"N/A","Size":"1.98MB","Tag":"1","UniqueSize":"N/A","VirtualSize":"1.982MB"},{"Containers":"N/A","CreatedAt":"2026-11-23 14:00:26 +0000 UTC","CreatedSince":"11 minutes ago","Digest":"<none>","ID":"b4b22dbbcb95","Repository":"registry.example/some/very-long-repository-name","SharedSize":"N/A","Size":"1.98MB","Tag":"v1.2.3-extra","UniqueSize":"N/A","VirtualSize":"1.982MB"},{"Containers":"N/A","CreatedAt":"2026-11-23 13:59:40 +0000 UTC","CreatedSince":"12 minutes ago","Digest":"<none>","ID":"ad0b24776871","Repository":"bbref","SharedSize":"N/A","Size":"1.98MB","Tag":"latest","UniqueSize":"N/A","VirtualSize":"1.984MB"},{"Containers":"N/A","CreatedAt":"2026-07-11 10:16:37 +0000 UTC","CreatedSince":"4 months ago","Digest":"<none>","ID":"0985b2ddf207","Repository":"busybox","SharedSize":"N/A","Size":"1.99MB","Tag":"latest","UniqueSize":"N/A","VirtualSize":"1.987MB"},{"Containers":"N/A","CreatedAt":"2026-07-11 10:16:37 +0000 UTC","CreatedSince":"4 months ago","Digest":"<none>","ID":"e28d37531e43","Repository":"hello-world","SharedSize":"N/A","Size":"2.06kB","Tag":"latest","UniqueSize":"N/A","VirtualSize":"2.056kB"},{"Containers":"N/A","CreatedAt":"2026-07-11 10:16:37 +0000 UTC","CreatedSince":"4 months ago","Digest":"<none>","ID":"9ea48dca39e2","Repository":"debian","SharedSize":"N/A","Size":"74MB","Tag":"bookworm","UniqueSize":"N/A","VirtualSize":"74.02MB"},{"Containers":"N/A","CreatedAt":"2026-07-11 10:16:37 +0000 UTC","CreatedSince":"4 months ago","Digest":"<none>","ID":"9ea48dca39e2","Repository":"debian","SharedSize":"N/A","Size":"74MB","Tag":"latest","UniqueSize":"N/A","VirtualSize":"74.02MB"},{"Containers":"N/A","CreatedAt":"2026-07-11 10:16:37 +0000 UTC","CreatedSince":"4 months ago","Digest":"<none>","ID":"2a5c268b93e2","Repository":"python","SharedSize":"N/A","Size":"143MB","Tag":"3.11","UniqueSize":"N/A","VirtualSize":"142.9MB"},{"Containers":"N/A","CreatedAt":"2026-07-11 10:16:37 +0000 UTC","CreatedSince":"4 months ago","Digest":"<none>","ID":"2a5c268b93e2","Repository":"python","SharedSize":"N/A","Size":"143MB","Tag":"latest","UniqueSize":"N/A","VirtualSize":"142.9MB"},{"Containers":"N/A","CreatedAt":"2025-01-01 00:00:00 +0000 UTC","CreatedSince":"23 months ago","Digest":"<none>","ID":"607cfe87e0f6","Repository":"<none>","SharedSize":"N/A","Size":"1.98MB","Tag":"<none>","UniqueSize":"N/A","VirtualSize":"1.984MB"}]"#,
        expected: r#"REPOSITORY:TAG                                                 SIZE      IMAGE ID
bb:imp                                                         1.98MB    5E1EB8AE8BC7
fmttest:1                                                      1.98MB    B4B22DBBCB95
registry.example/some/very-long-repository-name:v1.2.3-extra   1.98MB    B4B22DBBCB95
bbref:latest                                                   1.98MB    AD0B24776871
busybox:latest                                                 1.99MB    0985B2DDF207
hello-world:latest                                             2.06kB    E28D37531E43
debian:bookworm                                                74MB      9EA48DCA39E2
debian:latest                                                  74MB      9EA48DCA39E2
python:3.11                                                    143MB     2A5C268B93E2
python:latest                                                  143MB     2A5C268B93E2
<none>:<none>                                                  1.98MB    607CFE87E0F6
"#,
    },
    TableCase {
        format: r#"table {{.ID}}\t{{json .Repository}}\t{{upper .Tag}}\t{{pad .Size 1 1}}|"#,
        row_type: row_type::IMAGE,
        headers: IMAGE_HEADERS,
        rows: r#"[{"Containers":"N/A","CreatedAt":"2026-11-23 14:04:35 +0000 UTC","CreatedSince":"7 minutes ago","Digest":"<none>","ID":"5e1eb8ae8bc7","Repository":"bb","SharedSize":"N/A","Size":"1.98MB","Tag":"imp","UniqueSize":"N/A","VirtualSize":"1.982MB"},{"Containers":"N/A","CreatedAt":"2026-11-23 14:00:26 +0000 UTC","CreatedSince":"11 minutes ago","Digest":"<none>","ID":"b4b22dbbcb95","Repository":"fmttest","SharedSize":"N/A","Size":"1.98MB","Tag":"1","UniqueSize":"N/A","VirtualSize":"1.982MB"},{"Containers":"N/A","CreatedAt":"2026-11-23 14:00:26 +0000 UTC","CreatedSince":"11 minutes ago","Digest":"<none>","ID":"b4b22dbbcb95","Repository":"registry.example/some/very-long-repository-name","SharedSize":"N/A","Size":"1.98MB","Tag":"v1.2.3-extra","UniqueSize":"N/A","VirtualSize":"1.982MB"},{"Containers":"N/A","CreatedAt":"2026-11-23 13:59:40 +0000 UTC","CreatedSince":"12 minutes ago","Digest":"<none>","ID":"ad0b24776871","Repository":"bbref","SharedSize":"N/A","Size":"1.98MB","Tag":"latest","UniqueSize":"N/A","VirtualSize":"1.984MB"},{"Containers":"N/A","CreatedAt":"2026-07-11 10:16:37 +0000 UTC","CreatedSince":"4 months ago","Digest":"<none>","ID":"0985b2ddf207","Repository":"busybox","SharedSize":"N/A","Size":"1.99MB","Tag":"latest","UniqueSize":"N/A","VirtualSize":"1.987MB"},{"Containers":"N/A","CreatedAt":"2026-07-11 10:16:37 +0000 UTC","CreatedSince":"4 months ago","Digest":"<none>","ID":"e28d37531e43","Repository":"hello-world","SharedSize":"N/A","Size":"2.06kB","Tag":"latest","UniqueSize":"N/A","VirtualSize":"2.056kB"},{"Containers":"N/A","CreatedAt":"2026-07-11 10:16:37 +0000 UTC","CreatedSince":"4 months ago","Digest":"<none>","ID":"2a5c268b93e2","Repository":"python","SharedSize":"N/A","Size":"143MB","Tag":"3.11","UniqueSize":"N/A","VirtualSize":"142.9MB"},{"Containers":"N/A","CreatedAt":"2026-07-11 10:16:37 +0000 UTC","CreatedSince":"4 months ago","Digest":"<none>","ID":"2a5c268b93e2","Repository":"python","SharedSize":"N/A","Size":"143MB","Tag":"latest","UniqueSize":"N/A","VirtualSize":"142.9MB"},{"Containers":"N/A","CreatedAt":"2026-07-11 10:16:37 +0000 UTC","CreatedSince":"4 months ago","Digest":"<none>","ID":"9ea48dca39e2","Repository":"debian","SharedSize":"N/A","Size":"74MB","Tag":"bookworm","UniqueSize":"N/A","VirtualSize":"74.02MB"},{"Containers":"N/A","CreatedAt":"2026-07-11 10:16:37 +0000 UTC","CreatedSince":"4 months ago","Digest":"<none>","ID":"9ea48dca39e2","Repository":"debian","SharedSize":"N/A","Size":"74MB","Tag":"latest","UniqueSize":"N/A","VirtualSize":"74.02MB"},{"Containers":"N/A","CreatedAt":"2025-01-01 00:00:00 +0000 UTC","CreatedSince":"23 months ago","Digest":"<none>","ID":"607cfe87e0f6","Repository":"<none>","SharedSize":"N/A","Size":"1.98MB","Tag":"<none>","UniqueSize":"N/A","VirtualSize":"1.984MB"}]"#,
        expected: r#"IMAGE ID       REPOSITORY                                          TAG             SIZE |
5e1eb8ae8bc7   "bb"                                                IMP             1.98MB |
b4b22dbbcb95   "fmttest"                                           1               1.98MB |
b4b22dbbcb95   "registry.example/some/very-long-repository-name"   V1.2.3-EXTRA    1.98MB |
ad0b24776871   "bbref"                                             LATEST          1.98MB |
0985b2ddf207   "busybox"                                           LATEST          1.99MB |
e28d37531e43   "hello-world"                                       LATEST          2.06kB |
2a5c268b93e2   "python"                                            3.11            143MB |
2a5c268b93e2   "python"                                            LATEST          143MB |
9ea48dca39e2   "debian"                                            BOOKWORM        74MB |
9ea48dca39e2   "debian"                                            LATEST          74MB |
607cfe87e0f6   "<none>"                                            <NONE>          1.98MB |
"#,
    },
    TableCase {
        format: r#"table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"#,
        row_type: row_type::CONTAINER,
        headers: CONTAINER_HEADERS,
        rows: r#"[{"Command":"\"sh -c 'echo hi'\"","CreatedAt":"2026-11-23 14:12:20 +0000 UTC","ID":"22cfa3b520d5","Image":"fmttest:1","Labels":"a=b,maintainer=Anne <a@b.nl>,version=1.0","LocalVolumes":"0","Mounts":"","Names":"fmt-test-ctr-with-a-long-name","Networks":"bridge","Platform":null,"Ports":"","RunningFor":"1 second ago","Size":"0B (virtual 1.98MB)","State":"created","Status":"Created"},{"Command":"\"sh\"","CreatedAt":"2026-11-23 14:12:20 +0000 UTC","ID":"94f8dc201248","Image":"fmttest:1","Labels":"maintainer=Anne <a@b.nl>,version=1.0","LocalVolumes":"0","Mounts":"","Names":"fmt-test-ctr","Networks":"bridge","Platform":null,"Ports":"","RunningFor":"1 second ago","Size":"0B (virtual 1.98MB)","State":"created","Status":"Created"}]"#,
        expected: r#"CONTAINER ID   IMAGE       COMMAND             CREATED        STATUS    PORTS     NAMES
22cfa3b520d5   fmttest:1   "sh -c 'echo hi'"   1 second ago   Created             fmt-test-ctr-with-a-long-name
94f8dc201248   fmttest:1   "sh"                1 second ago   Created             fmt-test-ctr
"#,
    },
    TableCase {
        format: r#"table {{.Names}}\t{{.Command}}\t{{.Labels}}"#,
        row_type: row_type::CONTAINER,
        headers: CONTAINER_HEADERS,
        rows: r#"[{"Command":"\"sh -c 'echo hi'\"","CreatedAt":"2026-11-23 14:12:20 +0000 UTC","ID":"22cfa3b520d5","Image":"fmttest:1","Labels":"a=b,maintainer=Anne <a@b.nl>,version=1.0","LocalVolumes":"0","Mounts":"","Names":"fmt-test-ctr-with-a-long-name","Networks":"bridge","Platform":null,"Ports":"","RunningFor":"1 second ago","Size":"0B (virtual 1.98MB)","State":"created","Status":"Created"},{"Command":"\"sh\"","CreatedAt":"2026-11-23 14:12:20 +0000 UTC","ID":"94f8dc201248","Image":"fmttest:1","Labels":"maintainer=Anne <a@b.nl>,version=1.0","LocalVolumes":"0","Mounts":"","Names":"fmt-test-ctr","Networks":"bridge","Platform":null,"Ports":"","RunningFor":"1 second ago","Size":"0B (virtual 1.98MB)","State":"created","Status":"Created"}]"#,
        expected: r#"NAMES                           COMMAND             LABELS
fmt-test-ctr-with-a-long-name   "sh -c 'echo hi'"   a=b,maintainer=Anne <a@b.nl>,version=1.0
fmt-test-ctr                    "sh"                maintainer=Anne <a@b.nl>,version=1.0
"#,
    },
    TableCase {
        format: r#"table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"#,
        row_type: row_type::HISTORY,
        headers: HISTORY_HEADERS,
        rows: r#"[{"Comment":"","CreatedAt":"2026-07-11T10:16:37Z","CreatedBy":"dokles fixtures/build: CMD [\"sh\"]","CreatedSince":"4 months ago","ID":"0985b2ddf207","Size":"0B"},{"Comment":"","CreatedAt":"2026-07-11T10:16:37Z","CreatedBy":"dokles fixtures/build: Debian busybox-static\u2026","CreatedSince":"4 months ago","ID":"<missing>","Size":"1.99MB"}]"#,
        expected: r#"IMAGE          CREATED        CREATED BY                                      SIZE      COMMENT
0985b2ddf207   4 months ago   dokles fixtures/build: CMD ["sh"]               0B        
<missing>      4 months ago   dokles fixtures/build: Debian busybox-static…   1.99MB    
"#,
    },
];

#[test]
fn tables_match_docker_images_ps_and_history() {
    for case in DOCKER_TABLES {
        let headers: Value = serde_json::from_str(case.headers).unwrap();
        let rows: Vec<Value> = serde_json::from_str(case.rows).unwrap();
        let out = render_list(case.format, case.row_type, &headers, &rows).unwrap();
        assert_eq!(out, case.expected, "format {:?}", case.format);
    }
}

#[test]
fn json_of_a_list_row_is_sorted_and_html_escaped_like_docker() {
    // `docker images --format '{{json .}}'` prints the row as a sorted, HTML-escaped map.
    let rows = [json!({"Repository": "<none>", "ID": "607cfe87e0f6", "Digest": "<none>"})];
    assert_eq!(
        render_list("{{json .}}", row_type::IMAGE, &json!({}), &rows).unwrap(),
        "{\"Digest\":\"\\u003cnone\\u003e\",\"ID\":\"607cfe87e0f6\",\"Repository\":\"\\u003cnone\\u003e\"}\n"
    );
    // Fields of the row, and other templates, are not affected.
    assert_eq!(
        render_list("{{json .Digest}}", row_type::IMAGE, &json!({}), &rows).unwrap(),
        "\"<none>\"\n"
    );
    assert_eq!(
        render("{{json .}}", &rows[0]).unwrap(),
        r#"{"Repository":"<none>","ID":"607cfe87e0f6","Digest":"<none>"}"#
    );
}

#[test]
fn render_list_without_table_prints_one_line_per_row() {
    let rows = [
        json!({"ID": "a1", "Size": "1MB"}),
        json!({"ID": "b2", "Size": "2MB"}),
    ];
    let headers = json!({"ID": "IMAGE ID", "Size": "SIZE"});
    assert_eq!(
        render_list(r"{{.ID}}\t{{.Size}}", row_type::IMAGE, &headers, &rows).unwrap(),
        "a1\t1MB\nb2\t2MB\n"
    );
    assert_eq!(
        render_list("table {{.ID}}", row_type::IMAGE, &headers, &[]).unwrap(),
        "IMAGE ID\n"
    );
    assert_eq!(
        render_list("tablex {{.ID}}", row_type::IMAGE, &headers, &rows).unwrap(),
        "x IMAGE ID\nx a1\nx b2\n"
    );
    assert_eq!(
        render_list("{{.Nope", row_type::IMAGE, &headers, &rows)
            .unwrap_err()
            .to_string(),
        "template: :1: unclosed action"
    );
}

fn tabwrite(mut writer: TabWriter, text: &str) -> String {
    writer.write_str(text);
    writer.finish()
}

#[test]
fn tabwriter_aligns_like_go() {
    let docker = || TabWriter::docker();
    // Docker's settings: minimum width 10, padding 3.
    assert_eq!(tabwrite(docker(), "a\tb\n"), "a         b\n");
    assert_eq!(
        tabwrite(docker(), "abcdefghijkl\tx\nab\ty\n"),
        "abcdefghijkl   x\nab             y\n"
    );
    // The text after the last tab is never padded; a trailing tab pads the cell before it.
    assert_eq!(tabwrite(docker(), "a\t\n"), "a         \n");
    // Widths are display widths: not bytes, and wide characters count two
    // (`docker ps -a --format 'table {{.Labels}}\t{{.Names}}'` with a label x=日本語).
    assert_eq!(
        tabwrite(docker(), "LABELS\tNAMES\nmaintainer=Anne <a@b.nl>,version=1.0,x=日本語\tfmt-test-ctr-wide\na=b,maintainer=Anne <a@b.nl>,version=1.0\tfmt-test-ctr-with-a-long-name\nmaintainer=Anne <a@b.nl>,version=1.0\tfmt-test-ctr\n"),
        "LABELS                                          NAMES\nmaintainer=Anne <a@b.nl>,version=1.0,x=日本語   fmt-test-ctr-wide\na=b,maintainer=Anne <a@b.nl>,version=1.0        fmt-test-ctr-with-a-long-name\nmaintainer=Anne <a@b.nl>,version=1.0            fmt-test-ctr\n"
    );
    assert_eq!(
        tabwrite(docker(), "é\tx\nab\ty\n"),
        "é         x\nab        y\n"
    );
    // Unterminated last line is flushed as is.
    assert_eq!(tabwrite(docker(), "a\tb"), "a         b");
    // A line without tabs ends every column block.
    assert_eq!(
        tabwrite(docker(), "aaaaaaaaaaaaa\tb\nno tabs here\nc\td\n"),
        "aaaaaaaaaaaaa   b\nno tabs here\nc         d\n"
    );
    // Go's package documentation example: b and c are in distinct column blocks.
    let dots = TabWriter::new(0, 8, 1, '.', TabFlags::default());
    assert_eq!(
        tabwrite(dots, "aaaa\tbbb\td\naa\tb\tdd\na\t\naa\tcccc\teee\n"),
        "aaaa.bbb.d\naa...b...dd\na....\naa...cccc.eee\n"
    );
    let right = TabWriter::new(
        0,
        8,
        1,
        ' ',
        TabFlags {
            align_right: true,
            ..TabFlags::default()
        },
    );
    assert_eq!(tabwrite(right, "a\tb\t\nccc\td\t\n"), "   a b\n ccc d\n");
    let debug = TabWriter::new(
        0,
        8,
        3,
        ' ',
        TabFlags {
            debug: true,
            ..TabFlags::default()
        },
    );
    assert_eq!(tabwrite(debug, "a\tb\tc\n"), "a   |b   |c\n");
    let tabs = TabWriter::new(0, 8, 1, '\t', TabFlags::default());
    assert_eq!(
        tabwrite(tabs, "a\tb\nabcdefgh\tc\n"),
        "a\t\tb\nabcdefgh\tc\n"
    );
}

#[test]
fn deep_nesting_is_bounded() {
    let nested = |n: usize| format!("{{{{{}1{}}}}}", "(".repeat(n), ")".repeat(n));
    assert_eq!(render(&nested(99), &json!({})).unwrap(), "1");
    assert_eq!(
        render(&nested(101), &json!({})).unwrap_err(),
        "template: :1: max expression depth exceeded"
    );
    let ifs = |n: usize| format!("{}x{}", "{{if 1}}".repeat(n), "{{end}}".repeat(n));
    assert_eq!(render(&ifs(99), &json!({})).unwrap(), "x");
    assert_eq!(
        render(&ifs(101), &json!({})).unwrap_err(),
        "template: :1: max expression depth exceeded"
    );
}

#[test]
fn recursive_templates_stop_with_an_error() {
    let err = render(
        r#"{{define "a"}}{{template "a" .}}{{end}}{{template "a" .}}"#,
        &json!({}),
    )
    .unwrap_err();
    assert_eq!(
        err,
        r#"template: :1:25: executing "a" at <{{template "a" .}}>: exceeded maximum template depth (100)"#
    );
}

/// `docker images --format 'table {{.ID}} {{json .}}'`: the header stops where `json` fails on
/// the header map, as Docker's does, and rows are unaffected.
#[test]
fn table_header_stops_at_an_error() {
    let headers = json!({"ID": "IMAGE ID"});
    let rows = [json!({"ID": "b4b22dbbcb95"})];
    assert_eq!(
        render_list("table {{json .}}", row_type::IMAGE, &headers, &rows).unwrap(),
        "\n{\"ID\":\"b4b22dbbcb95\"}\n"
    );
    assert_eq!(
        render_list("table {{.ID}} {{json .}}", row_type::IMAGE, &headers, &rows).unwrap(),
        "IMAGE ID \nb4b22dbbcb95 {\"ID\":\"b4b22dbbcb95\"}\n"
    );
}

/// `docker ps -a --format ...` on a container labelled a=b plus the image's labels.
#[test]
fn list_rows_have_docker_label_method() {
    let headers = json!({});
    let rows = [json!({
        "Names": "fmt-test-ctr-with-a-long-name",
        "Labels": "a=b,maintainer=Anne <a@b.nl>,version=1.0,list=x,y"
    })];
    let cases = [
        (
            r#"{{.Names}}:{{.Label "a"}}|{{.Label "maintainer"}}|{{.Label "nope"}}"#,
            "fmt-test-ctr-with-a-long-name:b|Anne <a@b.nl>|\n",
        ),
        (r#"{{"version" | .Label}}"#, "1.0\n"),
        (r#"{{.Label "list"}}"#, "x,y\n"),
    ];
    for (format, expected) in cases {
        assert_eq!(
            render_list(format, row_type::CONTAINER, &headers, &rows).unwrap(),
            expected,
            "{format}"
        );
    }
    let errors = [
        (
            "{{.Label}}",
            r#"template: :1:2: executing "" at <.Label>: wrong number of args for Label: want 1 got 0"#,
        ),
        (
            "{{.Label 1}}",
            r#"template: :1:9: executing "" at <1>: expected string; found 1"#,
        ),
        (
            r#"{{.Label "a" "b"}}"#,
            r#"template: :1:2: executing "" at <.Label>: wrong number of args for Label: want 1 got 2"#,
        ),
    ];
    for (format, expected) in errors {
        assert_eq!(
            render_list(format, row_type::CONTAINER, &headers, &rows)
                .unwrap_err()
                .to_string(),
            expected,
            "{format}"
        );
    }
}

/// Row fields are methods of Docker's row types (errors from docker images/ps/history 20.10).
#[test]
fn list_row_fields_behave_like_docker_methods() {
    let image_row = [json!({"ID": "b4b22dbbcb95", "Repository": "fmttest"})];
    let container_row = [json!({"ID": "94f8dc201248", "Names": "fmt-test-ctr"})];
    let cases = [
        (
            "{{.Foo}}",
            row_type::IMAGE,
            &image_row,
            r#"template: :1:2: executing "" at <.Foo>: can't evaluate field Foo in type *formatter.imageContext"#,
        ),
        (
            "{{.ID.Foo}}",
            row_type::IMAGE,
            &image_row,
            r#"template: :1:5: executing "" at <.ID.Foo>: can't evaluate field Foo in type string"#,
        ),
        (
            "{{.Foo}}",
            row_type::HISTORY,
            &image_row,
            r#"template: :1:2: executing "" at <.Foo>: can't evaluate field Foo in type *image.historyContext"#,
        ),
        (
            "{{.Foo}}",
            row_type::CONTAINER,
            &container_row,
            r#"template: :1:2: executing "" at <.Foo>: can't evaluate field Foo in type *formatter.ContainerContext"#,
        ),
        (
            "{{.Names 1}}",
            row_type::CONTAINER,
            &container_row,
            r#"template: :1:2: executing "" at <.Names>: wrong number of args for Names: want 0 got 1"#,
        ),
    ];
    for (format, row_type, rows, expected) in cases {
        let error = render_list(format, row_type, &json!({}), rows).unwrap_err();
        assert_eq!(error.to_string(), expected, "{format}");
    }
}
