//! Images that containers use: `rmi` refuses with Docker's conflict texts, `-f` can take a
//! stopped container's image but never a running one's, and a container keeps working after
//! its image's name is gone (its layers stay pinned).

mod common;

use common::{short, Dokles};

/// An image with exactly one tag, and a stopped container made from it.
fn image_with_stopped_container(d: &Dokles) -> (String, String) {
    d.pull_busybox_as("inuse:1");
    let image = d.id_of("inuse:1");
    let container = d.ok(&["create", "--name", "user", "inuse:1", "echo", "still here"]);
    (image, container.trim().to_string())
}

trait Pull {
    fn pull_busybox_as(&self, tag: &str);
}

impl Pull for Dokles {
    fn pull_busybox_as(&self, tag: &str) {
        self.ok(&["pull", "-q", "busybox"]);
        self.ok(&["tag", "busybox", tag]);
        self.ok(&["rmi", "busybox"]);
    }
}

#[test]
fn removing_the_last_tag_of_a_used_image_needs_force() {
    let d = Dokles::new();
    let (image, container) = image_with_stopped_container(&d);
    let out = d.run(&["rmi", "inuse:1"]);
    assert_eq!(
        out.fails(1),
        format!(
            "Error response from daemon: conflict: unable to remove repository reference \"inuse:1\" (must force) - container {} is using its referenced image {}\n",
            short(&container),
            short(&image)
        )
    );
    assert_eq!(d.id_of("inuse:1"), image, "nothing was removed");
}

#[test]
fn removing_a_used_image_by_id_names_the_stopped_container() {
    let d = Dokles::new();
    let (image, container) = image_with_stopped_container(&d);
    let out = d.run(&["rmi", &image]);
    assert_eq!(
        out.fails(1),
        format!(
            "Error response from daemon: conflict: unable to delete {} (must be forced) - image is being used by stopped container {}\n",
            short(&image),
            short(&container)
        )
    );
}

#[test]
fn force_removes_a_stopped_containers_image_and_the_container_still_runs() {
    let d = Dokles::new();
    let (image, _) = image_with_stopped_container(&d);
    let out = d.ok(&["rmi", "-f", "inuse:1"]);
    assert!(out.starts_with("Untagged: inuse:1\n"), "{out}");
    assert!(d.run(&["image", "inspect", "inuse:1"]).code != 0);
    // The container's layers are pinned: it still starts, and ps shows the image's ID.
    assert_eq!(d.ok(&["start", "-a", "user"]), "still here\n");
    let shown = d.ok(&["ps", "-a", "--format", "{{.Image}}"]);
    assert_eq!(shown.trim(), short(&image));
}

#[test]
fn a_running_containers_image_cannot_be_removed_even_with_force() {
    let d = Dokles::new();
    d.pull_busybox_as("inuse:1");
    let image = d.id_of("inuse:1");
    let container = d.ok(&["run", "-d", "--name", "busy", "inuse:1", "sleep", "1000"]);
    let out = d.run(&["rmi", "-f", &image]);
    assert_eq!(
        out.fails(1),
        format!(
            "Error response from daemon: conflict: unable to delete {} (cannot be forced) - image is being used by running container {}\n",
            short(&image),
            short(container.trim())
        )
    );
    d.ok(&["rm", "-f", "busy"]);
    // Once the container is gone, so is the conflict.
    let out = d.ok(&["rmi", "inuse:1"]);
    assert!(out.contains(&format!("Deleted: {image}")), "{out}");
    assert!(d.layer_dirs().is_empty(), "unpinned layers are collected");
}

#[test]
fn image_prune_all_keeps_images_that_containers_use() {
    let d = Dokles::new();
    let (image, _) = image_with_stopped_container(&d);
    d.ok(&["image", "prune", "-a", "-f"]);
    assert_eq!(d.id_of("inuse:1"), image);
}

#[test]
fn a_pulled_image_in_use_keeps_its_name_without_force() {
    // Tag and repo digest of one repository count as a single reference, as in Docker.
    let d = Dokles::new();
    d.ok(&["pull", "-q", "busybox"]);
    d.ok(&["create", "--name", "user", "busybox", "true"]);
    let out = d.run(&["rmi", "busybox"]);
    assert!(
        out.fails(1).contains("(must force) - container"),
        "{}",
        out.stderr
    );
    let out = d.ok(&["rmi", "-f", "busybox"]);
    assert!(
        out.starts_with("Untagged: busybox:latest\nUntagged: busybox@sha256:"),
        "{out}"
    );
}
