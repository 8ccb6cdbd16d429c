//! The files a run writes for its caller (`--report-json`, `--password-file`): checked before
//! the first change, so that a run cannot finish with its result lost, and a secret written so
//! that only its owner can read it and no link planted at its path can redirect it.

use crate::error::MitosisError;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

fn refused(flag: &str, path: &Path, why: impl std::fmt::Display) -> MitosisError {
    MitosisError::bad_input(format!(
        "{flag} {}: {why}: give a path this user may write",
        path.display()
    ))
}

/// The directory a file is written in (`.` for a bare name).
fn directory(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A file beside `path` that the probe and the atomic write use, named for this process.
fn sibling(path: &Path, what: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    directory(path).join(format!(".{name}.{what}-{}", std::process::id()))
}

/// Creates, then removes, a file in the directory of `path`: it can be written there.
fn probe_directory(flag: &str, path: &Path) -> Result<(), MitosisError> {
    let probe = sibling(path, "probe");
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&probe)
        .map_err(|e| refused(flag, path, e))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// `path` can be written: an existing file opens for writing (nothing is changed), or its
/// directory takes a new file.
pub fn check_writable(flag: &str, path: &Path) -> Result<(), MitosisError> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(refused(flag, path, "is a directory")),
        Ok(_) => std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map(drop)
            .map_err(|e| refused(flag, path, e)),
        Err(_) => probe_directory(flag, path),
    }
}

/// Where a secret will be written: not a symbolic link (writing through one would put the
/// secret wherever it points), not a directory, and in a directory this user may write.
pub fn check_secret_path(flag: &str, path: &Path) -> Result<(), MitosisError> {
    if let Ok(m) = std::fs::symlink_metadata(path) {
        if m.file_type().is_symlink() {
            return Err(refused(
                flag,
                path,
                "is a symbolic link, which a secret is never written through",
            ));
        }
        if m.is_dir() {
            return Err(refused(flag, path, "is a directory"));
        }
    }
    probe_directory(flag, path)
}

/// Writes `secret` to `path` with mode 0600, whether the file is new or replaced: a new file
/// (never following a link, never an existing one) is written beside it and renamed over it,
/// so that the path holds either the old content or the whole secret, readable by its owner
/// only.
pub fn write_secret(flag: &str, path: &Path, secret: &str) -> Result<(), MitosisError> {
    check_secret_path(flag, path)?;
    let temp = sibling(path, "new");
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&temp)
        .and_then(|mut f| {
            f.write_all(secret.as_bytes())?;
            f.sync_all()
        })
        .and_then(|()| std::fs::rename(&temp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(refused(flag, path, e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("mitosis-files-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_secret_replaces_a_readable_file_with_an_owner_only_one() {
        let d = dir("replace");
        let path = d.join("password");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_secret("--password-file", &path, "s3cret").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "s3cret");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            std::fs::read_dir(&d).unwrap().count(),
            1,
            "a temporary file left"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_secret_is_never_written_through_a_link() {
        let d = dir("link");
        let elsewhere = d.join("elsewhere");
        std::fs::write(&elsewhere, "theirs").unwrap();
        let link = d.join("password");
        std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
        let e = write_secret("--password-file", &link, "s3cret").unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(e.exit_code(), 2);
        assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), "theirs");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn unwritable_places_are_refused_up_front() {
        let d = dir("unwritable");
        let missing = d.join("no-such-dir").join("report.json");
        assert!(check_writable("--report-json", &missing).is_err());
        assert!(check_writable("--report-json", &d).is_err());
        let fine = d.join("report.json");
        check_writable("--report-json", &fine).unwrap();
        assert!(!fine.exists(), "the check left a file");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
