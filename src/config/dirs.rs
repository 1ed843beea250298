//! The daemon's own directories (`state_dir`, `runtime_dir`): created when missing, and
//! refused when another user could have planted or could change them. Every check uses
//! `lstat` (a symbolic link is never followed at the directory itself), so a link planted
//! at `/tmp/apitokend-<uid>` cannot point the daemon at someone else's directory.

use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

/// Why a directory is not used.
#[derive(Debug, thiserror::Error)]
pub enum DirError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{0} is a symbolic link; the daemon does not follow links for its own directories: remove it or point the configuration at the real directory")]
    Symlink(PathBuf),
    #[error("{0} is not a directory; remove it or choose another directory")]
    NotDirectory(PathBuf),
    #[error("{path} belongs to uid {owner}, not to this user (uid {me}) or root; remove it or choose another directory")]
    Foreign { path: PathBuf, owner: u32, me: u32 },
    #[error("{0} is writable by other users; remove it or choose another directory (chmod go-w)")]
    Writable(PathBuf),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> DirError + '_ {
    move |source| DirError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Who may own a directory the daemon trusts: this user or root.
fn trusted_owner(owner: u32, me: u32) -> bool {
    owner == me || owner == 0
}

/// Creates `dir` (and missing parents) with `mode`, then checks it and every ancestor.
/// The directory itself must be a real directory (not a link), owned by this user or root
/// and writable by nobody else. Each ancestor must be owned by this user or root, and
/// writable by others only with the sticky bit (as `/tmp`); an ancestor that is a link
/// must itself belong to this user or root, and is judged by what it points to.
pub fn ensure_dir(dir: &Path, mode: u32) -> Result<(), DirError> {
    let me = nix::unistd::getuid().as_raw();
    let dir = absolute(dir)?;
    check_ancestors(&dir, me)?;
    match std::fs::symlink_metadata(&dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => create(&dir, mode)?,
        Err(e) => return Err(io_err(&dir)(e)),
        Ok(_) => {}
    }
    check_own(&dir, me)
}

fn absolute(dir: &Path) -> Result<PathBuf, DirError> {
    if dir.is_absolute() {
        return Ok(dir.to_path_buf());
    }
    let cwd = std::env::current_dir().map_err(io_err(dir))?;
    Ok(cwd.join(dir))
}

/// Creates the missing components one at a time with `mode`; `mkdir` never follows a
/// link, so a component planted meanwhile makes it fail and the checks refuse it.
fn create(dir: &Path, mode: u32) -> Result<(), DirError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.mode(mode);
    let mut path = PathBuf::new();
    for part in dir.components() {
        path.push(part);
        if std::fs::symlink_metadata(&path).is_ok() {
            continue;
        }
        match builder.create(&path) {
            Ok(()) => {
                // The umask may have removed bits; set exactly what was asked.
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                    .map_err(io_err(&path))?;
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_err(&path)(e)),
        }
    }
    Ok(())
}

/// The directory itself: lstat only.
fn check_own(dir: &Path, me: u32) -> Result<(), DirError> {
    let meta = std::fs::symlink_metadata(dir).map_err(io_err(dir))?;
    if meta.file_type().is_symlink() {
        return Err(DirError::Symlink(dir.to_path_buf()));
    }
    if !meta.is_dir() {
        return Err(DirError::NotDirectory(dir.to_path_buf()));
    }
    if !trusted_owner(meta.uid(), me) {
        return Err(DirError::Foreign {
            path: dir.to_path_buf(),
            owner: meta.uid(),
            me,
        });
    }
    if meta.mode() & 0o022 != 0 {
        return Err(DirError::Writable(dir.to_path_buf()));
    }
    Ok(())
}

/// Every existing ancestor of `dir`, from the root down.
fn check_ancestors(dir: &Path, me: u32) -> Result<(), DirError> {
    let mut path = PathBuf::new();
    let parents: Vec<Component> = dir
        .parent()
        .map(|p| p.components().collect())
        .unwrap_or_default();
    for part in parents {
        path.push(part);
        let link = match std::fs::symlink_metadata(&path) {
            Ok(m) => m,
            // Missing ancestors are created by this user with the directory's mode.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err(&path)(e)),
        };
        if link.file_type().is_symlink() && !trusted_owner(link.uid(), me) {
            return Err(DirError::Foreign {
                path: path.clone(),
                owner: link.uid(),
                me,
            });
        }
        let meta = std::fs::metadata(&path).map_err(io_err(&path))?;
        if !meta.is_dir() {
            return Err(DirError::NotDirectory(path));
        }
        if !trusted_owner(meta.uid(), me) {
            return Err(DirError::Foreign {
                path,
                owner: meta.uid(),
                me,
            });
        }
        let sticky = meta.mode() & 0o1000 != 0;
        if meta.mode() & 0o002 != 0 && !sticky {
            return Err(DirError::Writable(path));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ensure_dir_creates_missing_with_mode() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("a/b");
        ensure_dir(&dir, 0o700).unwrap();
        let meta = std::fs::symlink_metadata(&dir).unwrap();
        assert!(meta.is_dir());
        assert_eq!(meta.mode() & 0o777, 0o700);
    }

    #[test]
    fn ensure_dir_symlink_is_refused_even_to_own_directory() {
        let base = tempfile::tempdir().unwrap();
        let real = base.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let link = base.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert!(matches!(
            ensure_dir(&link, 0o755),
            Err(DirError::Symlink(_))
        ));
    }

    #[test]
    fn ensure_dir_group_writable_is_refused() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("d");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o775)).unwrap();
        assert!(matches!(
            ensure_dir(&dir, 0o755),
            Err(DirError::Writable(_))
        ));
    }

    #[test]
    fn ensure_dir_world_writable_ancestor_without_sticky_is_refused() {
        let base = tempfile::tempdir().unwrap();
        let open = base.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = ensure_dir(&open.join("run"), 0o755).unwrap_err();
        assert!(
            matches!(err, DirError::Writable(ref p) if p == &open),
            "{err}"
        );
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
        ensure_dir(&open.join("run"), 0o755).unwrap();
    }

    #[test]
    fn ensure_dir_file_in_place_is_refused() {
        let base = tempfile::tempdir().unwrap();
        let file = base.path().join("f");
        std::fs::write(&file, "").unwrap();
        assert!(matches!(
            ensure_dir(&file, 0o755),
            Err(DirError::NotDirectory(_))
        ));
    }
}
