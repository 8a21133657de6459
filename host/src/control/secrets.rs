//! Secrets (API tokens, token hashes, the venue password, signing keys):
//! read from a file only if no one but its owner can read it (mode 0600 or
//! stricter), or from an environment variable; held in a [`Secret`] that
//! redacts itself in `Debug`/`Display` and zeroes its bytes on drop.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use thiserror::Error;
use zeroize::Zeroizing;

/// Why a secret could not be read.
#[derive(Debug, Error)]
pub enum SecretError {
    #[error("secret file {path}: mode {mode:o} lets others read it; chmod 600 it")]
    Permissions { path: PathBuf, mode: u32 },
    #[error("secret file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("secret file {0} is empty")]
    Empty(PathBuf),
    #[error("environment variable {0} is not set")]
    NoEnv(String),
}

/// A secret string: never printed, zeroed on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(s: String) -> Secret {
        Secret(Zeroizing::new(s))
    }
    /// The secret itself: only for the place that uses it (hashing, login).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Refuse a file that its group or others may read or write.
///
/// # Errors
/// [`SecretError::Permissions`] or the stat's I/O error.
pub fn check_private(path: &Path) -> Result<(), SecretError> {
    let meta = std::fs::metadata(path).map_err(|source| SecretError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(SecretError::Permissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

/// Read a whole private file (0600 or stricter) as bytes, zeroed on drop.
///
/// # Errors
/// Permissions, I/O.
pub fn read_private(path: &Path) -> Result<Zeroizing<Vec<u8>>, SecretError> {
    check_private(path)?;
    std::fs::read(path)
        .map(Zeroizing::new)
        .map_err(|source| SecretError::Io {
            path: path.to_path_buf(),
            source,
        })
}

/// A one-line secret from a private file (surrounding whitespace trimmed).
///
/// # Errors
/// Permissions, I/O, an empty file.
pub fn read_secret_file(path: &Path) -> Result<Secret, SecretError> {
    let bytes = read_private(path)?;
    let s = String::from_utf8_lossy(&bytes).trim().to_string();
    if s.is_empty() {
        return Err(SecretError::Empty(path.to_path_buf()));
    }
    Ok(Secret::new(s))
}

/// A secret from the environment.
///
/// # Errors
/// [`SecretError::NoEnv`] when unset or empty.
pub fn secret_from_env(name: &str) -> Result<Secret, SecretError> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => Ok(Secret::new(v)),
        _ => Err(SecretError::NoEnv(name.to_string())),
    }
}

/// Write `contents` to a new file readable by its owner only (0600).
///
/// # Errors
/// I/O.
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // an existing file keeps its mode through open(): tighten it
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.write_all(contents)?;
    f.sync_all()
}

/// Environment variable that carries the venue password (wins over the file).
pub const VENUE_PASSWORD_ENV: &str = "ETI_VENUE_PASSWORD";

/// The venue password from `ETI_VENUE_PASSWORD`, else from `file` (0600;
/// "" = no file); `None` when neither is given (the config's inline value,
/// meant for the simulator, then applies).
///
/// # Errors
/// The file is readable by others, unreadable or empty.
pub fn venue_password(file: &str) -> Result<Option<Secret>, SecretError> {
    if let Ok(s) = secret_from_env(VENUE_PASSWORD_ENV) {
        return Ok(Some(s));
    }
    if file.is_empty() {
        return Ok(None);
    }
    read_secret_file(Path::new(file)).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_group_readable_files_and_redacts() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("pw");
        write_private(&p, b"hunter2-secret\n").unwrap();
        let s = read_secret_file(&p).unwrap();
        assert_eq!(s.expose(), "hunter2-secret");
        assert!(!format!("{s:?} {s}").contains("hunter2"));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = read_secret_file(&p).unwrap_err();
        assert!(
            matches!(e, SecretError::Permissions { mode: 0o640, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("chmod 600"));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o400)).unwrap();
        assert!(read_secret_file(&p).is_ok());
        write_private(&d.path().join("empty"), b" \n").unwrap();
        assert!(matches!(
            read_secret_file(&d.path().join("empty")),
            Err(SecretError::Empty(_))
        ));
        // the venue password: from the file when no environment variable is set
        if std::env::var(VENUE_PASSWORD_ENV).is_err() {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
            let v = venue_password(p.to_str().unwrap()).unwrap().unwrap();
            assert_eq!(v.expose(), "hunter2-secret");
            assert!(venue_password("").unwrap().is_none());
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o604)).unwrap();
            assert!(venue_password(p.to_str().unwrap()).is_err());
        }
    }
}
