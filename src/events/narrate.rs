//! The Dutch narration of journal entries: what a student reads after a command. One or two
//! plain sentences per event; in "onder de motorkap" mode also the low-level facts (pids,
//! namespaces, overlay directories, cgroups, layers), taken from the event, never invented.
//! `command` entries narrate nothing: lessons use them to check what was typed.

use super::event::{Event, FreezerWrite, Namespace, Overlay, PulledLayer};
use super::journal::Entry;

/// The sentences for `entry`; with `motorkap`, followed by the low-level lines.
pub fn narrate(entry: &Entry, motorkap: bool) -> Vec<String> {
    let mut plain = Vec::new();
    let mut deep = Vec::new();
    match &entry.event {
        Event::Command { .. } => {}
        Event::ImagePulled {
            reference, layers, ..
        } => {
            let new = layers.iter().filter(|l| l.new).count();
            plain.push(format!(
                "De image {} stond nog niet lokaal; dokles haalde hem uit de offline cache ({}, {} nieuw opgeslagen).",
                familiar(reference),
                count(layers.len(), "laag", "lagen"),
                new
            ));
            // New layers are told by their own `layer_stored` entries.
            deep.extend(layers.iter().filter(|l| !l.new).map(present_layer));
        }
        Event::ImageUpToDate { reference, .. } => plain.push(format!(
            "De image {} stond al lokaal en is up-to-date; er is niets opgehaald.",
            familiar(reference)
        )),
        Event::LayerStored {
            diff_id,
            blob,
            bytes,
            ..
        } => deep.push(format!(
            "laag {} gecontroleerd en als tar bewaard in {blob}; uitgepakt ({}) wordt hij pas als een container hem nodig heeft",
            short_digest(diff_id),
            size(*bytes)
        )),
        Event::LayerUnpacked {
            diff_id,
            dir,
            bytes,
            ..
        } => deep.push(format!(
            "laag {} uitgepakt in {dir} ({}), voor de eerste container die hem gebruikt",
            short_digest(diff_id),
            size(*bytes)
        )),
        Event::ImageLoaded { id, refs } => plain.push(if refs.is_empty() {
            format!(
                "Een image zonder naam is uit het archief geladen (ID {}).",
                short_digest(id)
            )
        } else {
            let also = if refs.len() > 1 {
                format!(" (ook {})", list(refs[1..].iter().map(|r| familiar(r))))
            } else {
                String::new()
            };
            format!(
                "De image {}{also} is uit het archief geladen (ID {}).",
                familiar(&refs[0]),
                short_digest(id)
            )
        }),
        Event::ImageTagged { source, target } => plain.push(format!(
            "De image {} heeft nu ook de naam {}.",
            familiar(source),
            familiar(target)
        )),
        Event::ImageUntagged { reference } => plain.push(format!(
            "De naam {} is van de image gehaald.",
            familiar(reference)
        )),
        Event::ImageDeleted { id } => plain.push(format!(
            "De image {} is verwijderd.",
            short_digest(id)
        )),
        Event::ImageSaved { refs, output } => {
            let what = if refs.len() == 1 {
                format!("De image {} is", familiar(&refs[0]))
            } else {
                format!(
                    "De images {} zijn",
                    list(refs.iter().map(|r| familiar(r)))
                )
            };
            plain.push(match output {
                Some(file) => format!("{what} opgeslagen in het archief {file}."),
                None => format!("{what} als archief naar de standaarduitvoer geschreven."),
            });
        }
        Event::ImageCommitted {
            container_name,
            id,
            reference,
            ..
        } => plain.push(format!(
            "De wijzigingen in container {container_name} zijn vastgelegd als nieuwe image{} (ID {}).",
            reference
                .as_ref()
                .map(|r| format!(" {}", familiar(r)))
                .unwrap_or_default(),
            short_digest(id)
        )),
        Event::ImageImported {
            id,
            reference,
            source,
        } => plain.push(format!(
            "Het bestandssysteem uit {} is geïmporteerd als image{} (ID {}).",
            if source == "-" {
                "de standaardinvoer"
            } else {
                source
            },
            reference
                .as_ref()
                .map(|r| format!(" {}", familiar(r)))
                .unwrap_or_default(),
            short_digest(id)
        )),
        Event::ContainerCreated {
            id, name, image, ..
        } => plain.push(format!(
            "Container {name} ({}) is gemaakt van de image {image}; hij draait nog niet.",
            short_id(id)
        )),
        Event::ContainerStarted {
            id,
            name,
            pid,
            cmd,
            namespaces,
            overlay,
            cgroups,
            hostname,
            tty,
        } => {
            plain.push(format!(
                "Container {name} ({}) is gestart met {} als hoofdproces.",
                short_id(id),
                cmd.first().map(String::as_str).unwrap_or("?")
            ));
            deep.push(format!("pid op de host: {pid}"));
            deep.push(namespaces_line(namespaces));
            deep.push(overlay_line(overlay));
            deep.extend(cgroups.iter().map(|c| format!("cgroup: {c}")));
            deep.push(format!("hostnaam: {hostname}"));
            if *tty {
                deep.push("terminal: een eigen pty".into());
            }
        }
        Event::ContainerStartFailed {
            name,
            message,
            exit_code,
            ..
        } => {
            plain.push(format!(
                "Container {name} kon niet starten (exitcode {exit_code}{}).",
                match exit_code {
                    127 => ": het programma bestaat niet in de container",
                    126 => ": het programma kon niet worden uitgevoerd",
                    _ => "",
                }
            ));
            deep.push(format!("runtime: {message}"));
        }
        Event::ContainerExited {
            name,
            exit_code,
            oom_killed,
            ..
        } => plain.push(format!(
            "Container {name} stopte met exitcode {exit_code}{}.",
            exit_reason(*exit_code, *oom_killed)
        )),
        Event::ContainerStopped {
            name,
            signal,
            killed,
            ..
        } => plain.push(if *killed {
            format!("Container {name} is gestopt: dokles stuurde {signal} en na de wachttijd SIGKILL.")
        } else {
            format!("Container {name} is gestopt: dokles stuurde {signal} naar het hoofdproces.")
        }),
        Event::ContainerKilled { name, signal, .. } => plain.push(format!(
            "dokles stuurde het signaal {signal} naar het hoofdproces van container {name}."
        )),
        // A damaged container whose name could not be read any more.
        Event::ContainerRemoved { id, name } if name.is_empty() => plain.push(format!(
            "Container {} is verwijderd, met al zijn eigen bestanden.",
            short_id(id)
        )),
        Event::ContainerRemoved { id, name } => plain.push(format!(
            "Container {name} ({}) is verwijderd, met al zijn eigen bestanden.",
            short_id(id)
        )),
        Event::ContainerRenamed {
            old_name, new_name, ..
        } => plain.push(format!("Container {old_name} heet nu {new_name}.")),
        Event::ContainerPaused { name, freezer, .. } => {
            plain.push(format!(
                "Container {name} is gepauzeerd: al zijn processen staan stil."
            ));
            deep.push(freezer_line(freezer.as_ref(), "FROZEN"));
        }
        Event::ContainerUnpaused { name, freezer, .. } => {
            plain.push(format!("Container {name} draait weer."));
            deep.push(freezer_line(freezer.as_ref(), "THAWED"));
        }
        Event::ExecStarted {
            name,
            pid,
            cmd,
            tty,
            user,
            ..
        } => {
            plain.push(format!(
                "In container {name} is {} gestart als extra proces.",
                cmd.first().map(String::as_str).unwrap_or("?")
            ));
            deep.push(format!("pid op de host: {pid}"));
            deep.push("namespaces: die van de container (gedeeld)".into());
            if !user.is_empty() {
                deep.push(format!("gebruiker: {user}"));
            }
            if *tty {
                deep.push("terminal: een eigen pty".into());
            }
        }
        Event::ExecExited {
            name, exit_code, ..
        } => plain.push(format!(
            "Het extra proces in container {name} stopte met exitcode {exit_code}{}.",
            exit_reason(*exit_code, false)
        )),
        Event::ContainerAttached { name, .. } => {
            plain.push(format!("Je terminal is gekoppeld aan container {name}."))
        }
        Event::ContainerDetached { name, .. } => plain.push(format!(
            "Je bent losgekoppeld van container {name}; hij draait door."
        )),
    }
    if motorkap {
        plain.extend(deep);
    }
    plain
}

fn present_layer(l: &PulledLayer) -> String {
    format!(
        "laag {} was er al, gedeeld met een andere image ({})",
        short_digest(&l.diff_id),
        size(l.bytes)
    )
}

fn namespaces_line(namespaces: &[Namespace]) -> String {
    if namespaces.is_empty() {
        return "namespaces: geen nieuwe (die van de host)".into();
    }
    let kinds: Vec<&str> = namespaces.iter().map(|n| n.kind.as_str()).collect();
    format!("namespaces: {} (nieuw)", kinds.join(", "))
}

fn overlay_line(o: &Overlay) -> String {
    format!(
        "overlay: lowerdir={}, upperdir={}, workdir={}, gekoppeld op {}",
        o.lowerdirs.join(":"),
        o.upperdir,
        o.workdir,
        o.merged
    )
}

/// Why a process ended with `code`, when the code says more than itself.
/// What a pause or unpause wrote to the cgroup (an older journal says only the v1 state).
fn freezer_line(write: Option<&FreezerWrite>, v1_state: &str) -> String {
    match write {
        Some(w) => format!("cgroup freezer: {} geschreven naar {}", w.value, w.file),
        None => format!("cgroup freezer: {v1_state}"),
    }
}

fn exit_reason(code: i32, oom_killed: bool) -> String {
    if oom_killed {
        return " (de kernel stopte hem omdat zijn geheugenlimiet op was)".into();
    }
    if code > 128 {
        if let Ok(signal) = nix::sys::signal::Signal::try_from(code - 128) {
            return format!(" (128 + {}: gestopt door het signaal {signal})", code - 128);
        }
    }
    String::new()
}

/// `python:latest` for `docker.io/library/python:latest`, as Docker shows names.
fn familiar(reference: &str) -> String {
    reference
        .strip_prefix("docker.io/library/")
        .or_else(|| reference.strip_prefix("docker.io/"))
        .unwrap_or(reference)
        .to_string()
}

/// The 12-character form of a container ID.
fn short_id(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// The 12-hex form of a digest: `sha256:abcdef012345`... shown without the algorithm, as
/// Docker shows image IDs.
fn short_digest(d: &str) -> &str {
    let hex = d.strip_prefix("sha256:").unwrap_or(d);
    hex.get(..12).unwrap_or(hex)
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `a`, `a en b`, `a, b en c`.
fn list(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    match items.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} en {last}", rest.join(", ")),
    }
}

/// A size in decimal units with a Dutch decimal comma: `812 B`, `4,1 kB`, `12,3 MB`.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 999.95 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit]).replace('.', ",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    const ID: &str = "3f2a1b9c0d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeef";
    const IMG: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn say(event: Event, motorkap: bool) -> Vec<String> {
        narrate(
            &Entry {
                time: Utc::now(),
                pid: 42,
                event,
            },
            motorkap,
        )
    }

    fn layer(new: bool, diff: &str) -> PulledLayer {
        PulledLayer {
            chain_id: format!("sha256:{diff}"),
            diff_id: format!("sha256:{diff}"),
            dir: format!("/r/image/layers/{diff}/diff"),
            bytes: 12_345_678,
            new,
        }
    }

    fn started() -> Event {
        Event::ContainerStarted {
            id: ID.into(),
            name: "mijn_python_container".into(),
            pid: 12345,
            cmd: vec!["python3".into(), "-c".into(), "print(1)".into()],
            namespaces: ["pid", "mnt", "uts", "ipc", "net"]
                .iter()
                .map(|k| Namespace {
                    kind: k.to_string(),
                    inode: Some(4026532281),
                })
                .collect(),
            overlay: Overlay {
                lowerdirs: vec!["/r/l2/diff".into(), "/r/l1/diff".into()],
                upperdir: "/r/c/diff".into(),
                workdir: "/r/c/work".into(),
                merged: "/r/c/merged".into(),
            },
            cgroups: vec!["/sys/fs/cgroup/memory/dokles/3f2a".into()],
            hostname: "3f2a1b9c0d4e".into(),
            tty: false,
        }
    }

    #[test]
    fn commands_are_not_narrated() {
        let e = Event::Command {
            argv: vec!["ps".into()],
            exit_code: 0,
            cwd: "/".into(),
        };
        assert!(say(e.clone(), false).is_empty());
        assert!(say(e, true).is_empty());
    }

    #[test]
    fn a_pull_counts_its_layers_and_under_the_hood_shows_those_already_present() {
        let e = Event::ImagePulled {
            reference: "docker.io/library/python:latest".into(),
            id: IMG.into(),
            layers: vec![
                layer(false, "aaaa11112222333"),
                layer(true, "bbbb11112222333"),
            ],
        };
        assert_eq!(
            say(e.clone(), false),
            ["De image python:latest stond nog niet lokaal; dokles haalde hem uit de offline cache (2 lagen, 1 nieuw opgeslagen)."]
        );
        let deep = say(e, true);
        assert_eq!(deep.len(), 2);
        assert_eq!(
            deep[1],
            "laag aaaa11112222 was er al, gedeeld met een andere image (12,3 MB)"
        );
    }

    #[test]
    fn a_single_layer_is_one_laag() {
        let e = Event::ImagePulled {
            reference: "docker.io/library/busybox:latest".into(),
            id: IMG.into(),
            layers: vec![layer(true, "cccc11112222333")],
        };
        assert!(say(e, false)[0].contains("(1 laag, 1 nieuw opgeslagen)"));
    }

    #[test]
    fn an_up_to_date_pull_says_nothing_was_fetched() {
        let e = Event::ImageUpToDate {
            reference: "docker.io/library/busybox:latest".into(),
            id: IMG.into(),
        };
        assert_eq!(
            say(e, false),
            ["De image busybox:latest stond al lokaal en is up-to-date; er is niets opgehaald."]
        );
    }

    #[test]
    fn unpacked_layers_are_only_told_under_the_hood() {
        let e = Event::LayerUnpacked {
            chain_id: IMG.into(),
            diff_id: IMG.into(),
            dir: "/r/image/layers/x/diff".into(),
            bytes: 4_100,
        };
        assert!(say(e.clone(), false).is_empty());
        assert_eq!(
            say(e, true),
            ["laag 0123456789ab uitgepakt in /r/image/layers/x/diff (4,1 kB), voor de eerste container die hem gebruikt"]
        );
    }

    #[test]
    fn stored_layers_are_only_told_under_the_hood() {
        let e = Event::LayerStored {
            chain_id: IMG.into(),
            diff_id: IMG.into(),
            blob: "/r/image/blobs/sha256/x".into(),
            bytes: 4_100,
        };
        assert!(say(e.clone(), false).is_empty());
        assert_eq!(
            say(e, true),
            ["laag 0123456789ab gecontroleerd en als tar bewaard in /r/image/blobs/sha256/x; uitgepakt (4,1 kB) wordt hij pas als een container hem nodig heeft"]
        );
    }

    #[test]
    fn image_store_changes() {
        let cases = [
            (
                Event::ImageLoaded {
                    id: IMG.into(),
                    refs: vec!["docker.io/library/alpine:3.19".into(), "mijn/app:1".into()],
                },
                "De image alpine:3.19 (ook mijn/app:1) is uit het archief geladen (ID 0123456789ab).",
            ),
            (
                Event::ImageLoaded {
                    id: IMG.into(),
                    refs: vec![],
                },
                "Een image zonder naam is uit het archief geladen (ID 0123456789ab).",
            ),
            (
                Event::ImageTagged {
                    source: "busybox".into(),
                    target: "docker.io/library/mijnbox:1.0".into(),
                },
                "De image busybox heeft nu ook de naam mijnbox:1.0.",
            ),
            (
                Event::ImageUntagged {
                    reference: "docker.io/library/mijnbox:1.0".into(),
                },
                "De naam mijnbox:1.0 is van de image gehaald.",
            ),
            (
                Event::ImageDeleted { id: IMG.into() },
                "De image 0123456789ab is verwijderd.",
            ),
            (
                Event::ImageSaved {
                    refs: vec!["busybox:latest".into()],
                    output: Some("box.tar".into()),
                },
                "De image busybox:latest is opgeslagen in het archief box.tar.",
            ),
            (
                Event::ImageSaved {
                    refs: vec!["a:1".into(), "b:2".into(), "c:3".into()],
                    output: None,
                },
                "De images a:1, b:2 en c:3 zijn als archief naar de standaarduitvoer geschreven.",
            ),
            (
                Event::ImageCommitted {
                    container_id: ID.into(),
                    container_name: "bouwer".into(),
                    id: IMG.into(),
                    reference: Some("docker.io/library/mijnimage:1".into()),
                },
                "De wijzigingen in container bouwer zijn vastgelegd als nieuwe image mijnimage:1 (ID 0123456789ab).",
            ),
            (
                Event::ImageImported {
                    id: IMG.into(),
                    reference: None,
                    source: "-".into(),
                },
                "Het bestandssysteem uit de standaardinvoer is geïmporteerd als image (ID 0123456789ab).",
            ),
        ];
        for (event, sentence) in cases {
            assert_eq!(say(event.clone(), false), [sentence], "{event:?}");
            assert_eq!(say(event, true), [sentence]);
        }
    }

    #[test]
    fn a_start_names_the_main_process_and_under_the_hood_shows_the_kernel_side() {
        assert_eq!(
            say(started(), false),
            ["Container mijn_python_container (3f2a1b9c0d4e) is gestart met python3 als hoofdproces."]
        );
        let deep = say(started(), true);
        assert_eq!(
            &deep[1..],
            [
                "pid op de host: 12345",
                "namespaces: pid, mnt, uts, ipc, net (nieuw)",
                "overlay: lowerdir=/r/l2/diff:/r/l1/diff, upperdir=/r/c/diff, workdir=/r/c/work, gekoppeld op /r/c/merged",
                "cgroup: /sys/fs/cgroup/memory/dokles/3f2a",
                "hostnaam: 3f2a1b9c0d4e",
            ]
        );
    }

    #[test]
    fn exits_explain_signals_and_out_of_memory() {
        let exited = |exit_code, oom_killed| Event::ContainerExited {
            id: ID.into(),
            name: "web".into(),
            exit_code,
            oom_killed,
        };
        assert_eq!(
            say(exited(0, false), false),
            ["Container web stopte met exitcode 0."]
        );
        assert_eq!(
            say(exited(137, false), false),
            ["Container web stopte met exitcode 137 (128 + 9: gestopt door het signaal SIGKILL)."]
        );
        assert_eq!(
            say(exited(137, true), false),
            ["Container web stopte met exitcode 137 (de kernel stopte hem omdat zijn geheugenlimiet op was)."]
        );
    }

    #[test]
    fn a_failed_start_says_why_and_under_the_hood_quotes_the_runtime() {
        let e = Event::ContainerStartFailed {
            id: ID.into(),
            name: "web".into(),
            message: "exec: \"nosuch\": executable file not found in $PATH".into(),
            exit_code: 127,
        };
        assert_eq!(
            say(e.clone(), true),
            [
                "Container web kon niet starten (exitcode 127: het programma bestaat niet in de container).",
                "runtime: exec: \"nosuch\": executable file not found in $PATH"
            ]
        );
    }

    #[test]
    fn container_lifecycle_sentences() {
        let (id, name) = (ID.to_string(), "web".to_string());
        let cases = [
            (
                Event::ContainerCreated {
                    id: id.clone(),
                    name: name.clone(),
                    image: "nginx".into(),
                    image_id: IMG.into(),
                    cmd: vec!["nginx".into()],
                },
                "Container web (3f2a1b9c0d4e) is gemaakt van de image nginx; hij draait nog niet.",
            ),
            (
                Event::ContainerStopped {
                    id: id.clone(),
                    name: name.clone(),
                    signal: "SIGTERM".into(),
                    killed: false,
                },
                "Container web is gestopt: dokles stuurde SIGTERM naar het hoofdproces.",
            ),
            (
                Event::ContainerStopped {
                    id: id.clone(),
                    name: name.clone(),
                    signal: "SIGTERM".into(),
                    killed: true,
                },
                "Container web is gestopt: dokles stuurde SIGTERM en na de wachttijd SIGKILL.",
            ),
            (
                Event::ContainerKilled {
                    id: id.clone(),
                    name: name.clone(),
                    signal: "SIGKILL".into(),
                },
                "dokles stuurde het signaal SIGKILL naar het hoofdproces van container web.",
            ),
            (
                Event::ContainerRemoved {
                    id: id.clone(),
                    name: name.clone(),
                },
                "Container web (3f2a1b9c0d4e) is verwijderd, met al zijn eigen bestanden.",
            ),
            (
                Event::ContainerRenamed {
                    id: id.clone(),
                    old_name: "web".into(),
                    new_name: "site".into(),
                },
                "Container web heet nu site.",
            ),
            (
                Event::ContainerAttached {
                    id: id.clone(),
                    name: name.clone(),
                },
                "Je terminal is gekoppeld aan container web.",
            ),
            (
                Event::ContainerDetached {
                    id: id.clone(),
                    name: name.clone(),
                },
                "Je bent losgekoppeld van container web; hij draait door.",
            ),
        ];
        for (event, sentence) in cases {
            assert_eq!(say(event.clone(), false), [sentence], "{event:?}");
            assert_eq!(say(event, true), [sentence]);
        }
    }

    #[test]
    fn pausing_shows_the_freezer_under_the_hood() {
        let paused = Event::ContainerPaused {
            id: ID.into(),
            name: "web".into(),
            freezer: Some(FreezerWrite {
                file: "/sys/fs/cgroup/dokles/3f2a/cgroup.freeze".into(),
                value: "1".into(),
            }),
        };
        assert_eq!(
            say(paused.clone(), true),
            [
                "Container web is gepauzeerd: al zijn processen staan stil.",
                "cgroup freezer: 1 geschreven naar /sys/fs/cgroup/dokles/3f2a/cgroup.freeze"
            ]
        );
        let older = Event::ContainerPaused {
            id: ID.into(),
            name: "web".into(),
            freezer: None,
        };
        assert_eq!(say(older, true)[1], "cgroup freezer: FROZEN");
        let unpaused = Event::ContainerUnpaused {
            id: ID.into(),
            name: "web".into(),
            freezer: None,
        };
        assert_eq!(say(unpaused, false), ["Container web draait weer."]);
    }

    #[test]
    fn exec_processes() {
        let started = Event::ExecStarted {
            id: ID.into(),
            name: "web".into(),
            pid: 777,
            cmd: vec!["sh".into()],
            tty: true,
            user: "nobody".into(),
        };
        assert_eq!(
            say(started.clone(), false),
            ["In container web is sh gestart als extra proces."]
        );
        assert_eq!(
            &say(started, true)[1..],
            [
                "pid op de host: 777",
                "namespaces: die van de container (gedeeld)",
                "gebruiker: nobody",
                "terminal: een eigen pty"
            ]
        );
        let exited = Event::ExecExited {
            id: ID.into(),
            name: "web".into(),
            pid: 777,
            exit_code: 130,
        };
        assert_eq!(
            say(exited, false),
            ["Het extra proces in container web stopte met exitcode 130 (128 + 2: gestopt door het signaal SIGINT)."]
        );
    }

    #[test]
    fn sizes_use_decimal_units_and_a_comma() {
        assert_eq!(size(999), "999 B");
        assert_eq!(size(12_345_678), "12,3 MB");
        assert_eq!(size(999_999), "1,0 MB");
    }
}
