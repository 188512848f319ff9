//! Layer tarballs in and out: hostile archives are refused without touching anything outside
//! the layer directory, OCI whiteouts become overlayfs whiteouts that really hide files, and
//! packing a tree gives back a deterministic Docker-style tar that unpacks to the same tree.
//! These tests run as root (mknod, chown, trusted.* attributes, overlay mounts).

mod layer_common;

use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::process::Command;

use dokles::engine::image::layers::dir_size;
use dokles::engine::image::pack::{pack_layer, PackOptions};
use dokles::engine::image::unpack::{
    check_layer, unpack_layer, UnpackError, UnpackOptions, UnpackReport, INODE_SLACK,
};
use layer_common::*;

fn unpack(archive: &[u8], dest: &Path) -> Result<UnpackReport, UnpackError> {
    unpack_with(archive, dest, &UnpackOptions::default())
}

/// Unpacks `archive` into `dest`, after a dry run of it (`load`'s check), which must reach the
/// same verdict: the same error, or success with the size the unpacked layer then has.
fn unpack_with(
    archive: &[u8],
    dest: &Path,
    opts: &UnpackOptions,
) -> Result<UnpackReport, UnpackError> {
    let checked = check_layer(archive, opts);
    let unpacked = unpack_layer(archive, dest, opts);
    match (&checked, &unpacked) {
        (Ok(check), Ok(_)) => assert_eq!(
            check.size,
            dir_size(dest).unwrap(),
            "the dry run's size is the unpacked layer's"
        ),
        (Err(c), Err(u)) => assert_eq!(c.to_string(), u.to_string(), "the same refusal"),
        _ => panic!("the dry run and the unpacking disagree: {checked:?} vs {unpacked:?}"),
    }
    unpacked
}

fn pack(dir: &Path, opts: &PackOptions) -> Vec<u8> {
    let mut out = Vec::new();
    pack_layer(dir, &mut out, opts).unwrap();
    out
}

/// Unpacks `entries`, expects a refusal, and checks that nothing beside the layer changed.
fn assert_refused(entries: &[E]) -> (Sandbox, UnpackError) {
    let sandbox = Sandbox::new();
    let before = sandbox.outside();
    let err = unpack(&tar(entries), &sandbox.dest).expect_err("a hostile archive must be refused");
    assert_eq!(
        sandbox.outside(),
        before,
        "something outside the layer changed ({err})"
    );
    (sandbox, err)
}

// ---------------------------------------------------------------------------------------------
// Hostile archives
// ---------------------------------------------------------------------------------------------

#[test]
fn parent_directory_components_are_refused() {
    for path in ["../x", "a/../../x", "../../../../../../tmp/x", "ok/../x"] {
        let (_, err) = assert_refused(&[file(path, b"pwned")]);
        assert!(
            matches!(err, UnpackError::PathTraversal { .. }),
            "{path}: {err}"
        );
        assert!(
            err.to_string().contains(path),
            "the message names the entry: {err}"
        );
    }
}

#[test]
fn absolute_paths_stay_inside_the_layer() {
    let sandbox = Sandbox::new();
    let name = format!("dokles-unpack-test-{}", std::process::id());
    let inside_tmp = sandbox.sentinel.join("absolute");
    let entries = [
        file(&format!("/etc/{name}"), b"contained"),
        file(&inside_tmp.to_string_lossy(), b"contained too"),
    ];
    let before = sandbox.outside();
    unpack(&tar(&entries), &sandbox.dest).unwrap();
    assert_eq!(
        fs::read(sandbox.dest.join("etc").join(&name)).unwrap(),
        b"contained"
    );
    assert!(!Path::new("/etc").join(&name).exists());
    let rel = inside_tmp.strip_prefix("/").unwrap();
    assert_eq!(fs::read(sandbox.dest.join(rel)).unwrap(), b"contained too");
    assert_eq!(sandbox.outside(), before);
}

#[test]
fn files_beneath_a_symlinked_directory_are_refused() {
    let sentinel = Sandbox::new().sentinel;
    let cases = [
        ("absolute", sentinel.to_string_lossy().into_owned()),
        ("to /etc", "/etc".to_owned()),
        ("relative", "../..".to_owned()),
        ("to itself", ".".to_owned()),
    ];
    for (case, target) in cases {
        let (_, err) = assert_refused(&[symlink("a", &target), file("a/passwd", b"pwned")]);
        assert!(
            matches!(err, UnpackError::SymlinkInPath { .. }),
            "{case}: {err}"
        );
        assert!(err.to_string().contains("a/passwd"), "{err}");
    }
}

#[test]
fn symlink_into_the_sandbox_cannot_be_used_as_a_parent_either() {
    // The symlink points at the real sentinel of this sandbox: following it would overwrite it.
    let sandbox = Sandbox::new();
    let before = sandbox.outside();
    let target = sandbox.sentinel.to_string_lossy().into_owned();
    let entries = [symlink("s", &target), file("s/secret", b"pwned")];
    let err = unpack(&tar(&entries), &sandbox.dest).unwrap_err();
    assert!(matches!(err, UnpackError::SymlinkInPath { .. }), "{err}");
    assert_eq!(
        fs::read(sandbox.sentinel.join("secret")).unwrap(),
        b"top secret"
    );
    assert_eq!(sandbox.outside(), before);
}

#[test]
fn a_file_replaces_a_symlink_at_its_own_path_instead_of_writing_through_it() {
    let sandbox = Sandbox::new();
    let before = sandbox.outside();
    let secret = sandbox
        .sentinel
        .join("secret")
        .to_string_lossy()
        .into_owned();
    let entries = [symlink("f", &secret), file("f", b"replaced")];
    unpack(&tar(&entries), &sandbox.dest).unwrap();
    let f = sandbox.dest.join("f");
    assert!(fs::symlink_metadata(&f).unwrap().is_file());
    assert_eq!(fs::read(&f).unwrap(), b"replaced");
    assert_eq!(sandbox.outside(), before);
}

#[test]
fn a_directory_entry_replaces_a_symlink_and_its_contents_stay_inside() {
    let sandbox = Sandbox::new();
    let before = sandbox.outside();
    let target = sandbox.sentinel.to_string_lossy().into_owned();
    let entries = [symlink("d", &target), dir("d/"), file("d/secret", b"mine")];
    unpack(&tar(&entries), &sandbox.dest).unwrap();
    assert!(fs::symlink_metadata(sandbox.dest.join("d"))
        .unwrap()
        .is_dir());
    assert_eq!(fs::read(sandbox.dest.join("d/secret")).unwrap(), b"mine");
    assert_eq!(sandbox.outside(), before);
}

#[test]
fn hardlinks_may_not_reach_outside_the_layer() {
    let sandbox = Sandbox::new();
    let secret = sandbox.sentinel.join("secret");
    let abs = secret.to_string_lossy().into_owned();
    let cases: Vec<(&str, Vec<E>)> = vec![
        (
            "parent components",
            vec![hardlink("h", "../../../sentinel/secret")],
        ),
        ("absolute path outside", vec![hardlink("h", &abs)]),
        ("absolute /etc/passwd", vec![hardlink("h", "/etc/passwd")]),
        (
            "through a symlink",
            vec![
                symlink("s", &sandbox.sentinel.to_string_lossy()),
                hardlink("h", "s/secret"),
            ],
        ),
        (
            "through a relative symlink",
            vec![symlink("s", "../../.."), hardlink("h", "s/sentinel/secret")],
        ),
    ];
    let passwd_links = fs::metadata("/etc/passwd").unwrap().nlink();
    for (case, entries) in cases {
        let (_, err) = assert_refused(&entries);
        assert!(
            matches!(
                err,
                UnpackError::HardlinkTraversal { .. }
                    | UnpackError::HardlinkTargetMissing { .. }
                    | UnpackError::HardlinkThroughSymlink { .. }
            ),
            "{case}: {err}"
        );
        assert!(
            err.to_string().contains("\"h\""),
            "{case}: the message names the link: {err}"
        );
    }
    assert_eq!(fs::metadata(&secret).unwrap().nlink(), 1);
    assert_eq!(fs::metadata("/etc/passwd").unwrap().nlink(), passwd_links);
}

#[test]
fn a_hardlink_may_point_at_a_symlink_without_following_it() {
    let sandbox = Sandbox::new();
    let target = sandbox
        .sentinel
        .join("secret")
        .to_string_lossy()
        .into_owned();
    unpack(
        &tar(&[symlink("s", &target), hardlink("h", "s")]),
        &sandbox.dest,
    )
    .unwrap();
    let h = fs::symlink_metadata(sandbox.dest.join("h")).unwrap();
    assert!(h.file_type().is_symlink());
    assert_eq!(
        h.ino(),
        fs::symlink_metadata(sandbox.dest.join("s")).unwrap().ino()
    );
    assert_eq!(
        fs::metadata(sandbox.sentinel.join("secret"))
            .unwrap()
            .nlink(),
        1
    );
}

#[test]
fn whiteouts_cannot_escape_either() {
    let sentinel = Sandbox::new().sentinel.to_string_lossy().into_owned();
    let (_, err) = assert_refused(&[file("../.wh.secret", b"")]);
    assert!(matches!(err, UnpackError::PathTraversal { .. }), "{err}");
    let (_, err) = assert_refused(&[file("x/../../.wh.x", b"")]);
    assert!(matches!(err, UnpackError::PathTraversal { .. }), "{err}");
    let (sandbox, err) = assert_refused(&[symlink("s", &sentinel), file("s/.wh.secret", b"")]);
    assert!(matches!(err, UnpackError::SymlinkInPath { .. }), "{err}");
    assert!(fs::metadata(sandbox.sentinel.join("secret"))
        .unwrap()
        .is_file());
    let (_, err) = assert_refused(&[symlink("s", &sentinel), file("s/.wh..wh..opq", b"")]);
    assert!(matches!(err, UnpackError::SymlinkInPath { .. }), "{err}");
    for bad in ["d/.wh..", "d/.wh...", ".wh."] {
        let (_, err) = assert_refused(&[file(bad, b"")]);
        assert!(
            matches!(err, UnpackError::InvalidWhiteout { .. }),
            "{bad}: {err}"
        );
    }
}

#[test]
fn devices_and_fifos_are_refused_when_not_allowed() {
    let no_devices = UnpackOptions {
        allow_devices: false,
    };
    for entry in [
        chardev("dev/null", 1, 3),
        blockdev("dev/sda", 8, 0),
        fifo("run/fifo"),
    ] {
        let sandbox = Sandbox::new();
        let err = unpack_with(
            &tar(std::slice::from_ref(&entry))[..],
            &sandbox.dest,
            &no_devices,
        )
        .unwrap_err();
        assert!(matches!(err, UnpackError::DeviceNotAllowed { .. }), "{err}");
        assert!(err
            .to_string()
            .contains(&*String::from_utf8_lossy(&entry.path)));
        assert!(!sandbox
            .dest
            .join(String::from_utf8_lossy(&entry.path).as_ref())
            .exists());
    }
    // Whiteouts are the unpacker's own devices and stay allowed.
    let sandbox = Sandbox::new();
    unpack_with(
        &tar(&[file(".wh.gone", b"")])[..],
        &sandbox.dest,
        &no_devices,
    )
    .unwrap();
    assert!(fs::symlink_metadata(sandbox.dest.join("gone"))
        .unwrap()
        .file_type()
        .is_char_device());
}

#[test]
fn broken_archives_are_refused_with_context() {
    let good = tar(&[dir("d/"), file("d/file", &[7; 2000])]);

    // Cut in the middle of the file's data.
    let sandbox = Sandbox::new();
    let err = unpack(&good[..512 * 3], &sandbox.dest).unwrap_err();
    assert!(
        matches!(
            err,
            UnpackError::Truncated {
                expected: 2000,
                found: 512,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("d/file"));

    // A header whose checksum does not match.
    let mut corrupt = good.clone();
    corrupt[512 + 10] ^= 0x55;
    let err = unpack(&corrupt, &Sandbox::new().dest).unwrap_err();
    assert!(matches!(err, UnpackError::Archive { .. }), "{err}");
    assert!(err.to_string().contains("after entry \"d/\""), "{err}");
    let source = std::error::Error::source(&err).unwrap().to_string();
    assert!(source.contains("checksum"), "{source}");

    // Not a tar at all, and compressions other than gzip.
    let err = unpack(&[0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3], &Sandbox::new().dest).unwrap_err();
    assert!(
        matches!(
            err,
            UnpackError::UnsupportedCompression {
                compression: "zstd"
            }
        ),
        "{err}"
    );
    let err = unpack(b"this is not a tar archive", &Sandbox::new().dest).unwrap_err();
    assert!(matches!(err, UnpackError::Archive { .. }), "{err}");
}

#[test]
fn unsupported_types_and_empty_paths_are_refused() {
    let volume = E {
        ty: tar::EntryType::new(b'V'),
        ..file("label", b"")
    };
    let (_, err) = assert_refused(&[volume]);
    assert!(matches!(err, UnpackError::UnsupportedType { .. }), "{err}");
    assert!(err.to_string().contains("label"));

    let (_, err) = assert_refused(&[file("", b"x")]);
    assert!(matches!(err, UnpackError::EmptyPath), "{err}");

    let (_, err) = assert_refused(&[file("./", b"x")]);
    assert!(matches!(err, UnpackError::RootNotDirectory { .. }), "{err}");

    // Longer than PATH_MAX: this also bounds how deep a hostile layer can nest directories.
    let deep = "d/".repeat(2100) + "f";
    let (_, err) = assert_refused(&[file(&deep, b"x")]);
    assert!(matches!(err, UnpackError::PathTooLong { .. }), "{err}");
}

#[test]
fn archives_cannot_set_the_overlay_drivers_own_attributes() {
    let sandbox = Sandbox::new();
    let entries = [
        dir("d/").pax("SCHILY.xattr.trusted.overlay.redirect", b"/elsewhere"),
        file("f", b"")
            .pax("SCHILY.xattr.trusted.overlay.metacopy", b"")
            .pax("SCHILY.xattr.user.kept", b"1"),
    ];
    unpack(&tar(&entries), &sandbox.dest).unwrap();
    assert!(xattrs(&sandbox.dest.join("d")).is_empty());
    assert_eq!(
        xattrs(&sandbox.dest.join("f"))
            .into_keys()
            .collect::<Vec<_>>(),
        ["user.kept"]
    );
}

/// What a sparse entry of a few hundred bytes claims in the tests below.
const TEBIBYTE: u64 = 1 << 40;

#[test]
fn a_sparse_entry_claiming_a_terabyte_is_refused_before_a_byte_is_written() {
    let entries = [
        file("before", b"x"),
        gnu_sparse("huge", TEBIBYTE, b"the last bytes"),
        file("after", b"y"),
    ];
    let archive = tar(&entries);
    assert!(archive.len() < 5000, "a few kilobytes of archive");
    // The dry run first, with a deadline: had the claim been honoured it would read a
    // terabyte of zeros (and unpacking would write them to this disk), so nothing else runs
    // unless it refused at once.
    let (sender, receiver) = std::sync::mpsc::channel();
    let input = archive.clone();
    std::thread::spawn(move || {
        let _ = sender.send(check_layer(&input[..], &UnpackOptions::default()));
    });
    let checked = receiver
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the dry run reads the claimed terabyte instead of refusing it");
    let err = checked.expect_err("the dry run accepts a sparse entry");
    assert_eq!(
        err.to_string(),
        "layer entry \"huge\": unhandled tar header type 83",
        "Docker's words for it"
    );
    // Now the unpacking (and the dry run again, which must agree).
    let (sandbox, err) = assert_refused(&entries);
    assert!(
        matches!(err, UnpackError::UnsupportedType { flag: b'S', .. }),
        "{err}"
    );
    assert!(!sandbox.dest.join("huge").exists());
}

#[test]
fn sparse_files_in_pax_form_are_refused_too() {
    // GNU tar's `--sparse --format=pax` (sparse format 1.0): a regular entry whose data starts
    // with a map of the chunks stored, and PAX records with the size to expand it to. Docker
    // expands it, writing every hole out as zeros; dokles refuses it.
    let mut data = b"1\n0\n4\n".to_vec();
    data.resize(512, 0);
    data.extend_from_slice(b"tail");
    let sparse = file("GNUSparseFile.0/huge", &data)
        .pax("GNU.sparse.major", b"1")
        .pax("GNU.sparse.minor", b"0")
        .pax("GNU.sparse.name", b"huge")
        .pax("GNU.sparse.realsize", TEBIBYTE.to_string().as_bytes());
    let (sandbox, err) = assert_refused(&[sparse]);
    assert!(matches!(err, UnpackError::SparsePax { .. }), "{err}");
    assert!(!sandbox.dest.join("GNUSparseFile.0").exists());
}

#[test]
fn a_layer_cannot_make_more_files_than_its_archive_describes() {
    // One entry with a 4 KB path of one-letter directories is 5 KB of archive that would
    // make 2,000 directories (8 MB of directory blocks on ext4): a few MB of such entries fill
    // a disk. The layer may make one file or directory per 512-byte block it reads, plus
    // INODE_SLACK.
    let deep = |i: usize| format!("{i}/{}f", "d/".repeat(2000));
    let entries: Vec<E> = (0..20).map(|i| file(&deep(i), b"")).collect();
    let archive_len = tar(&entries).len() as u64;
    let (sandbox, err) = assert_refused(&entries);
    assert!(matches!(err, UnpackError::TooManyFiles { .. }), "{err}");
    let made = describe(&sandbox.dest).len() as u64;
    assert!(
        made <= INODE_SLACK + archive_len / 512,
        "{made} files and directories made from {archive_len} bytes before the refusal"
    );
}

#[test]
fn archives_that_leave_out_parent_directories_still_unpack() {
    // Hand-made tars (`tar cf x.tar usr/local/bin/tool`) name no parent directories; the slack
    // covers them, and a file's own data pays for more.
    let sandbox = Sandbox::new();
    let deep = format!("{}tool", "p/".repeat(500));
    let entries = [
        file("usr/local/bin/tool", b"#!/bin/sh\n"),
        file(&deep, b"x"),
        file("big/file", &vec![b'x'; 600 * 512]),
        file(&format!("big/{}f", "q/".repeat(550)), b""),
    ];
    unpack(&tar(&entries), &sandbox.dest).unwrap();
    assert!(sandbox.dest.join(&deep).is_file());
}

// ---------------------------------------------------------------------------------------------
// What unpacking preserves
// ---------------------------------------------------------------------------------------------

/// `security.capability` as `setcap cap_net_bind_service+ep` writes it (VFS_CAP_REVISION_2).
fn net_bind_capability() -> Vec<u8> {
    let mut cap = Vec::new();
    cap.extend_from_slice(&0x0200_0001u32.to_le_bytes()); // revision 2, effective
    cap.extend_from_slice(&(1u32 << 10).to_le_bytes()); // permitted: CAP_NET_BIND_SERVICE
    cap.extend_from_slice(&0u32.to_le_bytes()); // inheritable
    cap.extend_from_slice(&0u32.to_le_bytes());
    cap.extend_from_slice(&0u32.to_le_bytes());
    cap
}

fn rich_layer() -> Vec<E> {
    vec![
        dir("./").mode(0o755).mtime(1_500_000_000),
        dir("bin/").mode(0o755).mtime(1_500_000_001),
        file("bin/su", b"#!/bin/sh\n").mode(0o4755).owner(0, 0),
        file("bin/ping", b"ping")
            .mode(0o755)
            .pax("SCHILY.xattr.security.capability", &net_bind_capability()),
        file("bin/wall", b"wall").mode(0o2755).owner(0, 5),
        dir("tmp/").mode(0o1777).mtime(1_400_000_000),
        dir("home/user/")
            .mode(0o700)
            .owner(1000, 1000)
            .mtime(1_300_000_000),
        file("home/user/notes", b"hello")
            .mode(0o600)
            .owner(1000, 1000)
            .mtime(1_200_000_000),
        file("home/user/tagged", b"t")
            .pax("SCHILY.xattr.user.origin", b"dokles")
            .pax("SCHILY.xattr.trusted.note", b"x"),
        symlink("home/user/link", "../../etc/motd")
            .owner(1000, 1000)
            .mtime(1_100_000_000),
        file("etc/motd", b"welcome\n"),
        hardlink("etc/motd.hard", "etc/motd"),
        chardev("dev/null", 1, 3).mode(0o666),
        blockdev("dev/loop9", 7, 9).mode(0o660).owner(0, 6),
        fifo("run/initctl").mode(0o600),
        file("big/uid", b"id")
            .owner(3_000_000, 4_000_000)
            .pax("uid", b"3000000")
            .pax("gid", b"4000000"),
        file("precise", b"t").pax("mtime", b"1234567890.5"),
    ]
}

#[test]
fn modes_owners_times_xattrs_links_and_devices_are_preserved() {
    let sandbox = Sandbox::new();
    let report = unpack(&tar(&rich_layer()), &sandbox.dest).unwrap();
    let d = &sandbox.dest;
    let meta = |p: &str| fs::symlink_metadata(d.join(p)).unwrap();

    assert_eq!(meta("bin/su").mode() & 0o7777, 0o4755);
    assert_eq!(meta("bin/wall").mode() & 0o7777, 0o2755);
    assert_eq!((meta("bin/wall").uid(), meta("bin/wall").gid()), (0, 5));
    assert_eq!(meta("tmp").mode() & 0o7777, 0o1777);
    assert_eq!(
        xattrs(&d.join("bin/ping"))["security.capability"],
        net_bind_capability()
    );
    let tagged = xattrs(&d.join("home/user/tagged"));
    assert_eq!(tagged["user.origin"], b"dokles");
    assert_eq!(tagged["trusted.note"], b"x");

    assert_eq!(
        (meta("home/user").uid(), meta("home/user").gid()),
        (1000, 1000)
    );
    assert_eq!(meta("home/user").mode() & 0o7777, 0o700);
    assert_eq!(meta("home/user/notes").mtime(), 1_200_000_000);
    // Directory times survive the files created in them afterwards.
    assert_eq!(meta("home/user").mtime(), 1_300_000_000);
    assert_eq!(meta("tmp").mtime(), 1_400_000_000);
    assert_eq!(meta("bin").mtime(), 1_500_000_001);
    assert_eq!(fs::metadata(d).unwrap().mtime(), 1_500_000_000);
    assert_eq!(meta("precise").mtime(), 1_234_567_890);
    assert_eq!(meta("precise").mtime_nsec(), 500_000_000);

    let link = meta("home/user/link");
    assert!(link.file_type().is_symlink());
    assert_eq!(
        fs::read_link(d.join("home/user/link")).unwrap(),
        Path::new("../../etc/motd")
    );
    assert_eq!(
        (link.uid(), link.gid(), link.mtime()),
        (1000, 1000, 1_100_000_000)
    );

    assert_eq!(meta("etc/motd").ino(), meta("etc/motd.hard").ino());
    assert_eq!(meta("etc/motd").nlink(), 2);

    let null = meta("dev/null");
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), rustix::fs::makedev(1, 3));
    assert_eq!(null.mode() & 0o7777, 0o666);
    let loop9 = meta("dev/loop9");
    assert!(loop9.file_type().is_block_device());
    assert_eq!((loop9.rdev(), loop9.gid()), (rustix::fs::makedev(7, 9), 6));
    assert!(meta("run/initctl").file_type().is_fifo());

    assert_eq!(
        (meta("big/uid").uid(), meta("big/uid").gid()),
        (3_000_000, 4_000_000)
    );
    // Parents created implicitly are 0755 root, as Docker makes them.
    assert_eq!(meta("etc").mode() & 0o7777, 0o755);

    // "hello" + "welcome\n" (counted once despite the hard link) + the others.
    let expected: u64 = [10, 4, 4, 5, 1, 8, 2, 1].iter().sum();
    assert_eq!(report.size, expected);
}

#[test]
fn whiteouts_become_overlayfs_whiteouts() {
    let sandbox = Sandbox::new();
    let entries = [
        dir("etc/"),
        file("etc/.wh.shadow", b"").owner(0, 42).mtime(1_234),
        dir("var/cache/").mode(0o750),
        file("var/cache/.wh..wh..opq", b""),
        file("var/cache/fresh", b"new"),
        file(".wh..wh..opq", b""),
        file(".wh..wh.plnk/123.456", b"aufs bookkeeping"),
    ];
    unpack(&tar(&entries), &sandbox.dest).unwrap();
    let shadow = fs::symlink_metadata(sandbox.dest.join("etc/shadow")).unwrap();
    assert!(shadow.file_type().is_char_device());
    assert_eq!(shadow.rdev(), 0);
    assert_eq!(
        (shadow.mode() & 0o7777, shadow.gid(), shadow.mtime()),
        (0, 42, 1_234)
    );
    assert!(!sandbox.dest.join("etc/.wh.shadow").exists());

    let cache = sandbox.dest.join("var/cache");
    assert_eq!(xattrs(&cache)["trusted.overlay.opaque"], b"y");
    assert_eq!(fs::metadata(&cache).unwrap().mode() & 0o7777, 0o750);
    assert!(!cache.join(".wh..wh..opq").exists());
    assert_eq!(fs::read(cache.join("fresh")).unwrap(), b"new");
    assert_eq!(xattrs(&sandbox.dest)["trusted.overlay.opaque"], b"y");
    assert!(!sandbox.dest.join(".wh..wh.plnk").exists());
}

#[test]
fn later_entries_win_and_directories_keep_their_contents() {
    let sandbox = Sandbox::new();
    let entries = [
        file("x", b"first"),
        file("x", b"second"),
        dir("d/").mode(0o700),
        file("d/inner", b"kept"),
        dir("d/").mode(0o751).mtime(1_000),
        dir("gone/"),
        file("gone/child", b"c"),
        file("gone", b"now a file"),
        file("e", b"now a dir soon"),
        dir("e/"),
    ];
    unpack(&tar(&entries), &sandbox.dest).unwrap();
    let d = &sandbox.dest;
    assert_eq!(fs::read(d.join("x")).unwrap(), b"second");
    assert_eq!(fs::read(d.join("d/inner")).unwrap(), b"kept");
    let dmeta = fs::metadata(d.join("d")).unwrap();
    assert_eq!((dmeta.mode() & 0o7777, dmeta.mtime()), (0o751, 1_000));
    assert_eq!(fs::read(d.join("gone")).unwrap(), b"now a file");
    assert!(fs::metadata(d.join("e")).unwrap().is_dir());
}

#[test]
fn gzip_layers_are_decompressed_transparently() {
    let plain = tar(&rich_layer());
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&plain).unwrap();
    let gz = gz.finish().unwrap();

    let (a, b) = (Sandbox::new(), Sandbox::new());
    let plain_report = unpack(&plain, &a.dest).unwrap();
    let gz_report = unpack(&gz, &b.dest).unwrap();
    assert_eq!(plain_report, gz_report);
    assert_eq!(describe(&a.dest), describe(&b.dest));
}

#[test]
fn the_whole_stream_is_consumed_for_digesting() {
    // A tar writer may pad to a 10 KiB record after the end marker; the caller hashing the
    // stream needs all of it read.
    let mut archive = tar(&[file("f", b"x")]);
    archive.resize(10240, 0);
    let mut reader = &archive[..];
    unpack_layer(&mut reader, &Sandbox::new().dest, &UnpackOptions::default()).unwrap();
    assert!(reader.is_empty());
}

#[test]
fn long_names_from_gnu_and_pax_headers() {
    let deep = format!("{}/{}", "d".repeat(120), "f".repeat(150));
    let pax_path = format!("pax/{deep}");
    let mut pax_tar = tar(&[file(&pax_path, b"pax")]);
    pax_tar.truncate(pax_tar.len() - 1024);

    let mut gnu = tar::Builder::new(Vec::new());
    // Uid, gid and mtime are left empty, as some writers do: they read as 0.
    let mut header = tar::Header::new_gnu();
    header.set_size(3);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    gnu.append_data(&mut header, format!("gnu/{deep}"), &b"gnu"[..])
        .unwrap();
    let mut target = tar::Header::new_gnu();
    target.set_entry_type(tar::EntryType::Symlink);
    target.set_size(0);
    gnu.append_link(
        &mut target,
        "gnu/link",
        format!("{}/{}", "t".repeat(200), "x"),
    )
    .unwrap();
    let mut archive = pax_tar;
    archive.extend_from_slice(&gnu.into_inner().unwrap());

    let sandbox = Sandbox::new();
    unpack(&archive, &sandbox.dest).unwrap();
    assert_eq!(fs::read(sandbox.dest.join(&pax_path)).unwrap(), b"pax");
    assert_eq!(
        fs::read(sandbox.dest.join(format!("gnu/{deep}"))).unwrap(),
        b"gnu"
    );
    let link = fs::read_link(sandbox.dest.join("gnu/link")).unwrap();
    assert_eq!(link.to_string_lossy().len(), 202);
}

// ---------------------------------------------------------------------------------------------
// Overlayfs: the whiteouts really hide
// ---------------------------------------------------------------------------------------------

#[test]
fn unpacked_whiteouts_hide_lower_files_in_a_real_overlay() {
    let tmp = tempfile::tempdir().unwrap();
    let (lower, layer, mnt) = (
        tmp.path().join("lower"),
        tmp.path().join("layer"),
        tmp.path().join("mnt"),
    );
    for d in [&lower, &layer, &mnt] {
        fs::create_dir(d).unwrap();
    }
    fs::write(lower.join("hidden"), b"should vanish").unwrap();
    fs::write(lower.join("kept"), b"still here").unwrap();
    fs::create_dir_all(lower.join("opq")).unwrap();
    fs::write(lower.join("opq/old"), b"old").unwrap();

    let entries = [
        file(".wh.hidden", b""),
        dir("opq/"),
        file("opq/.wh..wh..opq", b""),
        file("opq/new", b"new"),
    ];
    unpack(&tar(&entries), &layer).unwrap();

    let options = format!("lowerdir={}:{}", layer.display(), lower.display());
    nix::mount::mount(
        Some("overlay"),
        &mnt,
        Some("overlay"),
        nix::mount::MsFlags::MS_RDONLY,
        Some(options.as_str()),
    )
    .unwrap();
    let _guard = MountGuard(mnt.clone());

    assert!(
        !mnt.join("hidden").exists(),
        "the whiteout hides the lower file"
    );
    assert_eq!(fs::read(mnt.join("kept")).unwrap(), b"still here");
    assert!(
        !mnt.join("opq/old").exists(),
        "the opaque directory hides the lower contents"
    );
    assert_eq!(fs::read(mnt.join("opq/new")).unwrap(), b"new");
    let mut names: Vec<_> = fs::read_dir(&mnt)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names, ["kept", "opq"]);
}

// ---------------------------------------------------------------------------------------------
// Packing
// ---------------------------------------------------------------------------------------------

/// One entry of an archive as the tar crate reads it back.
#[derive(Debug)]
struct Listed {
    name: String,
    ty: char,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    uname: String,
    link: String,
}

fn listing(archive: &[u8]) -> Vec<Listed> {
    let mut a = tar::Archive::new(archive);
    a.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let h = e.header();
            Listed {
                name: String::from_utf8_lossy(&e.path_bytes()).into_owned(),
                ty: char::from(h.entry_type().as_byte()),
                mode: h.mode().unwrap(),
                uid: h.uid().unwrap(),
                gid: h.gid().unwrap(),
                mtime: h.mtime().unwrap(),
                uname: String::from_utf8_lossy(h.username_bytes().unwrap_or_default()).into_owned(),
                link: e
                    .link_name_bytes()
                    .map(|l| String::from_utf8_lossy(&l).into_owned())
                    .unwrap_or_default(),
            }
        })
        .collect()
}

#[test]
fn packed_layers_look_like_dockers() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    fs::create_dir_all(root.join("bin")).unwrap();
    fs::create_dir_all(root.join("a-b")).unwrap();
    fs::create_dir_all(root.join("a/c")).unwrap();
    fs::write(root.join("bin/busybox"), b"\x7fELF").unwrap();
    std::os::unix::fs::symlink("busybox", root.join("bin/sh")).unwrap();
    fs::hard_link(root.join("bin/busybox"), root.join("a/c/hard")).unwrap();
    std::os::unix::net::UnixListener::bind(root.join("a/sock")).unwrap();
    let archive = pack(root, &PackOptions::default());

    let entries = listing(&archive);
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    // Sorted component by component: a directory's contents come before its next sibling.
    let want = [
        "a/",
        "a/c/",
        "a/c/hard",
        "a-b/",
        "bin/",
        "bin/busybox",
        "bin/sh",
    ];
    assert_eq!(names, want);
    // The first path of the inode in sort order holds the data, the later one links to it.
    assert_eq!(entries[2].ty, '0');
    assert_eq!((entries[5].ty, entries[5].link.as_str()), ('1', "a/c/hard"));
    assert_eq!((entries[6].ty, entries[6].link.as_str()), ('2', "busybox"));
    for e in &entries {
        assert_eq!((e.uid, e.gid, e.uname.as_str()), (0, 0, ""), "{}", e.name);
    }
    // ustar headers, zero blocks at the end, no PAX header where none is needed.
    assert_eq!(&archive[257..265], b"ustar\x0000");
    assert_eq!(
        &archive[148 + 6..156],
        b"\0 ",
        "checksum written as GNU tar and Go do"
    );
    assert!(archive.ends_with(&[0; 1024]));
    assert_eq!(
        archive.len() % 10240,
        0,
        "padded to whole records, as GNU tar does"
    );
    assert!(!archive.windows(14).any(|w| w == b"././@PaxHeader"));
}

#[test]
fn packing_is_deterministic() {
    let sandbox = Sandbox::new();
    unpack(&tar(&rich_layer()), &sandbox.dest).unwrap();
    let first = pack(&sandbox.dest, &PackOptions::default());
    // Reading every file changes access times; the archive must not notice.
    describe(&sandbox.dest);
    let second = pack(&sandbox.dest, &PackOptions::default());
    assert!(first == second, "two packs of the same tree differ");
}

#[test]
fn pack_and_unpack_round_trip() {
    let original = Sandbox::new();
    let mut entries = rich_layer();
    entries.push(file(
        &format!("long/{}/{}", "n".repeat(160), "m".repeat(120)),
        b"long",
    ));
    entries.push(symlink("long-target", &"t/".repeat(80)));
    unpack(&tar(&entries), &original.dest).unwrap();

    let mut packed_writer = Vec::new();
    let pack_report =
        pack_layer(&original.dest, &mut packed_writer, &PackOptions::default()).unwrap();
    let copy = Sandbox::new();
    let unpack_report = unpack(&packed_writer, &copy.dest).unwrap();
    assert_eq!(pack_report.size, unpack_report.size);

    let mut want = describe(&original.dest);
    let got = describe(&copy.dest);
    // The layer root itself is not in the tar (as in Docker's layers); everything else is.
    want.retain(|p, _| !p.as_os_str().is_empty());
    assert_eq!(want, got);
    let repacked = pack(&copy.dest, &PackOptions::default());
    assert!(
        packed_writer == repacked,
        "pack(unpack(pack(tree))) differs from pack(tree)"
    );
}

#[test]
fn overlay_whiteouts_are_packed_in_oci_form_and_round_trip() {
    let layer = Sandbox::new();
    let entries = [
        dir("etc/").mode(0o755).mtime(1_000),
        file("etc/.wh.shadow", b"").mtime(2_000),
        dir("var/").mode(0o750).owner(0, 3).mtime(3_000),
        file("var/.wh..wh..opq", b""),
        file("var/new", b"n"),
    ];
    unpack(&tar(&entries), &layer.dest).unwrap();

    let oci = pack(
        &layer.dest,
        &PackOptions {
            overlay_whiteouts: true,
        },
    );
    let listed = listing(&oci);
    let names: Vec<&str> = listed.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "etc/",
            "etc/.wh.shadow",
            "var/",
            "var/.wh..wh..opq",
            "var/new"
        ]
    );
    // Whiteouts: empty regular 0600 files; the opaque marker inherits its directory's owner.
    assert_eq!(
        (listed[1].ty, listed[1].mode, listed[1].mtime),
        ('0', 0o600, 2_000)
    );
    let marker = &listed[3];
    assert_eq!(
        (marker.ty, marker.mode, marker.gid, marker.mtime),
        ('0', 0o750, 3, 3_000)
    );
    assert!(!oci.windows(22).any(|w| w == b"trusted.overlay.opaque"));

    let copy = Sandbox::new();
    unpack(&oci, &copy.dest).unwrap();
    let mut want = describe(&layer.dest);
    want.retain(|p, _| !p.as_os_str().is_empty());
    assert_eq!(want, describe(&copy.dest));

    // Without the option, the same tree is packed as it is: a 0:0 device and the attribute.
    let raw = pack(&layer.dest, &PackOptions::default());
    let listed = listing(&raw);
    assert!(listed.iter().any(|e| e.name == "etc/shadow" && e.ty == '3'));
    assert!(!listed.iter().any(|e| e.name.contains(".wh.")));
    // trusted.overlay.* attributes are the storage driver's, never part of a layer.
    assert!(!raw.windows(22).any(|w| w == b"trusted.overlay.opaque"));
}

/// Writes `root` as a layer with Python's tarfile in PAX format, an independent tar writer
/// (the one the Debian and Python fixture layers of this machine were made with): entries in
/// name order, numeric owners only, whole-second mtimes.
const PYTHON_LAYER_WRITER: &str = r#"
import os, sys, tarfile
root, out = sys.argv[1], sys.argv[2]
def walk(rel):
    here = os.path.join(root, rel) if rel else root
    for name in sorted(os.listdir(here), key=os.fsencode):
        path = os.path.join(rel, name) if rel else name
        yield path
        full = os.path.join(root, path)
        if os.path.isdir(full) and not os.path.islink(full):
            yield from walk(path)
with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
    for path in walk(""):
        full = os.path.join(root, path)
        info = tar.gettarinfo(full, arcname=path)
        info.uname = info.gname = ""
        info.mtime = int(info.mtime)
        if info.isreg():
            with open(full, "rb") as f:
                tar.addfile(info, f)
        else:
            tar.addfile(info)
"#;

#[test]
fn pack_writes_the_same_bytes_as_an_independent_tar_writer() {
    let src = tempfile::tempdir().unwrap();
    let root = src.path();
    let long_dir = "d".repeat(120);
    for d in [
        "etc/ssl/certs",
        "usr/share/ca-certificates",
        "a-b",
        "a/c",
        "srv/empty",
        &long_dir,
    ] {
        fs::create_dir_all(root.join(d)).unwrap();
    }
    fs::write(
        root.join("usr/share/ca-certificates/F\u{151}tan\u{fa}s\u{ed}tv\u{e1}ny.crt"),
        b"cert",
    )
    .unwrap();
    std::os::unix::fs::symlink(
        "/usr/share/ca-certificates/F\u{151}tan\u{fa}s\u{ed}tv\u{e1}ny.crt",
        root.join("etc/ssl/certs/F\u{151}tan\u{fa}s\u{ed}tv\u{e1}ny.pem"),
    )
    .unwrap();
    std::os::unix::fs::symlink("x/".repeat(70), root.join("etc/long-target")).unwrap();
    fs::write(
        root.join(&long_dir).join("f".repeat(90)),
        vec![b'z'; 70_000],
    )
    .unwrap();
    fs::write(root.join("a/c/data"), b"shared").unwrap();
    fs::hard_link(root.join("a/c/data"), root.join("a-b/data")).unwrap();
    fs::write(root.join("etc/shadow"), b"root:*:1::::::\n").unwrap();
    fs::set_permissions(
        root.join("etc/shadow"),
        std::os::unix::fs::PermissionsExt::from_mode(0o640),
    )
    .unwrap();
    std::os::unix::fs::chown(root.join("etc/shadow"), Some(0), Some(42)).unwrap();
    nix::unistd::mkfifo(
        &root.join("srv/fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();

    let work = tempfile::tempdir().unwrap();
    let reference = work.path().join("reference.tar");
    let status = Command::new("python3")
        .args(["-c", PYTHON_LAYER_WRITER])
        .arg(root)
        .arg(&reference)
        .status()
        .unwrap();
    assert!(status.success());
    let reference = fs::read(reference).unwrap();

    let ours = pack(root, &PackOptions::default());
    assert!(
        ours == reference,
        "pack differs from Python's tarfile:\n{:#?}",
        listing(&ours)
    );

    // And the independent writer's tar unpacks to the tree it was made from.
    let dest = tempfile::tempdir().unwrap();
    unpack(&reference, dest.path()).unwrap();
    let mut want = describe(root);
    want.retain(|p, _| !p.as_os_str().is_empty());
    assert_eq!(want, describe(dest.path()));
}

// ---------------------------------------------------------------------------------------------
// A real-world layer: a busybox root file system
// ---------------------------------------------------------------------------------------------

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n";

#[test]
fn a_busybox_rootfs_survives_pack_and_unpack_and_runs() {
    let busybox = Path::new("/bin/busybox");
    assert!(
        busybox.exists(),
        "busybox-static is installed on the test machine"
    );
    let src = tempfile::tempdir().unwrap();
    let root = src.path();
    for d in ["bin", "etc", "tmp", "root", "var/empty"] {
        fs::create_dir_all(root.join(d)).unwrap();
    }
    fs::copy(busybox, root.join("bin/busybox")).unwrap();
    for applet in ["sh", "ls", "cat", "echo", "id"] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
    }
    fs::write(root.join("etc/passwd"), PASSWD).unwrap();
    fs::hard_link(root.join("etc/passwd"), root.join("etc/passwd-")).unwrap();
    fs::set_permissions(
        root.join("tmp"),
        std::os::unix::fs::PermissionsExt::from_mode(0o1777),
    )
    .unwrap();
    std::os::unix::fs::chown(root.join("root"), Some(0), Some(0)).unwrap();
    std::os::unix::fs::lchown(root.join("bin/sh"), Some(0), Some(0)).unwrap();

    let archive = pack(root, &PackOptions::default());
    let names: Vec<String> = listing(&archive).into_iter().map(|e| e.name).collect();
    assert_eq!(names.first().map(String::as_str), Some("bin/"));
    assert!(names.contains(&"bin/sh".to_owned()));

    let dest = tempfile::tempdir().unwrap();
    let report = unpack(&archive, dest.path()).unwrap();
    let busybox_size = fs::metadata(busybox).unwrap().len();
    assert_eq!(
        report.size,
        busybox_size + PASSWD.len() as u64,
        "the hard-linked passwd counts once"
    );

    let mut want = describe(root);
    want.retain(|p, _| !p.as_os_str().is_empty());
    assert_eq!(want, describe(dest.path()));

    // The unpacked tree is a working root file system.
    let out = Command::new("chroot")
        .arg(dest.path())
        .args([
            "/bin/sh",
            "-c",
            "ls /bin | /bin/busybox wc -l; cat /etc/passwd-",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout,
        format!("6\n{PASSWD}"),
        "busybox and its five applets, then passwd"
    );
}

// ---------------------------------------------------------------------------------------------
// The dry run `load` relies on
// ---------------------------------------------------------------------------------------------

/// A small deterministic generator (xorshift64*), so every failure names a reproducible seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    /// A path over a tiny namespace, so entries collide, nest in each other, climb out and
    /// pass through each other's symbolic links.
    fn path(&mut self) -> String {
        let depth = 1 + self.below(3);
        (0..depth)
            .map(|_| self.pick(&["a", "b", "c", "a", "b", "..", ".wh.a", ".wh..wh..opq"]))
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// Random archives: whatever the unpacking makes of each — a layer of some size or a refusal —
/// the dry run says the same, and a refused one changes nothing outside the layer.
#[test]
fn the_dry_run_reaches_the_unpackings_verdict_on_random_archives() {
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    for seed in 1..=2000u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let entries: Vec<E> = (0..1 + rng.below(8))
            .map(|_| {
                let path = rng.path();
                match rng.below(6) {
                    0 => dir(&format!("{path}/")),
                    1 | 2 => file(&path, &vec![b'x'; rng.below(5) as usize]),
                    3 => symlink(&path, &rng.path()),
                    4 => hardlink(&path, &rng.path()),
                    _ => fifo(&path),
                }
            })
            .collect();
        let sandbox = Sandbox::new();
        let before = sandbox.outside();
        let outcome = std::panic::catch_unwind(|| unpack(&tar(&entries), &sandbox.dest));
        let outcome = outcome.unwrap_or_else(|_| panic!("seed {seed}: {entries:?}"));
        assert_eq!(sandbox.outside(), before, "seed {seed} reached outside");
        let kind = match outcome {
            Ok(_) => "unpacked".to_string(),
            Err(e) => format!("{e:?}")
                .split([' ', '{'])
                .next()
                .unwrap()
                .to_string(),
        };
        *outcomes.entry(kind).or_default() += 1;
    }
    // The generator reaches the interesting cases, not just one of them.
    for kind in [
        "unpacked",
        "PathTraversal",
        "SymlinkInPath",
        "NotADirectory",
        "HardlinkTargetMissing",
        "HardlinkTraversal",
    ] {
        assert!(
            outcomes.get(kind).copied().unwrap_or(0) > 10,
            "{kind}: {outcomes:?}"
        );
    }
}
