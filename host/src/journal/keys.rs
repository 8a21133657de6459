//! The Ed25519 sealing key: read from the configured file, or generated into
//! the journal directory (mode 0600) when none is configured. The secret is
//! never logged or printed; only the public key is.

use super::JournalError;
use ed25519_dalek::{SigningKey, VerifyingKey};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// File name of a generated secret key inside the journal directory.
pub const GENERATED_KEY_FILE: &str = "journal.key";
/// File name of the public key (hex) inside the journal directory.
pub const PUBLIC_KEY_FILE: &str = "journal.pub";

pub fn hex(b: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(D[(x >> 4) as usize] as char);
        s.push(D[(x & 15) as usize] as char);
    }
    s
}

pub fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let s = s.trim().as_bytes();
    if s.len() != 2 * N {
        return None;
    }
    let v = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = v(s[2 * i])? << 4 | v(s[2 * i + 1])?;
    }
    Some(out)
}

fn key_err(path: &Path, what: &str) -> JournalError {
    JournalError::Key {
        path: path.to_path_buf(),
        reason: what.to_string(),
    }
}

/// Read a secret key file: 32 raw bytes, or 64 hex characters.
pub fn read_signing_key(path: &Path) -> Result<SigningKey, JournalError> {
    let bytes = std::fs::read(path).map_err(|e| JournalError::io(path, "read key", e))?;
    let seed: [u8; 32] = if bytes.len() == 32 {
        let mut s = [0u8; 32];
        s.copy_from_slice(&bytes);
        s
    } else {
        let text = std::str::from_utf8(&bytes).map_err(|_| key_err(path, "not 32 bytes or hex"))?;
        unhex::<32>(text).ok_or_else(|| key_err(path, "not 32 raw bytes or 64 hex characters"))?
    };
    Ok(SigningKey::from_bytes(&seed))
}

/// Read a public key file (64 hex characters or 32 raw bytes).
pub fn read_verifying_key(path: &Path) -> Result<VerifyingKey, JournalError> {
    let bytes = std::fs::read(path).map_err(|e| JournalError::io(path, "read public key", e))?;
    let raw: [u8; 32] = if bytes.len() == 32 {
        let mut s = [0u8; 32];
        s.copy_from_slice(&bytes);
        s
    } else {
        let text = std::str::from_utf8(&bytes).map_err(|_| key_err(path, "not hex"))?;
        unhex::<32>(text).ok_or_else(|| key_err(path, "not 64 hex characters"))?
    };
    VerifyingKey::from_bytes(&raw).map_err(|_| key_err(path, "not an Ed25519 public key"))
}

/// Publish the public key as `DIR/journal.pub` (hex) unless already there.
/// It is a convenience for `eti audit verify`; an auditor should pin the key
/// from outside the directory (`--public-key`).
pub fn write_public_if_missing(dir: &Path, key: &SigningKey) -> Result<(), JournalError> {
    let pub_path = dir.join(PUBLIC_KEY_FILE);
    if pub_path.exists() {
        return Ok(());
    }
    let pub_tmp = dir.join(format!("{PUBLIC_KEY_FILE}.tmp"));
    std::fs::write(&pub_tmp, hex(key.verifying_key().as_bytes()) + "\n")
        .and_then(|_| std::fs::rename(&pub_tmp, &pub_path))
        .and_then(|_| std::fs::File::open(dir)?.sync_all())
        .map_err(|e| JournalError::io(&pub_path, "write public key", e))
}

/// Where the key came from, for the caller to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Configured(PathBuf),
    ExistingGenerated(PathBuf),
    Generated(PathBuf),
}

/// The configured key, else the generated one in `dir`, else a new one
/// generated there with mode 0600 (and its public half in `journal.pub`).
pub fn load_or_generate(
    dir: &Path,
    configured: Option<&Path>,
) -> Result<(SigningKey, KeySource), JournalError> {
    if let Some(p) = configured {
        return Ok((read_signing_key(p)?, KeySource::Configured(p.to_path_buf())));
    }
    let path = dir.join(GENERATED_KEY_FILE);
    for leftover in [GENERATED_KEY_FILE, PUBLIC_KEY_FILE] {
        let _ = std::fs::remove_file(dir.join(format!("{leftover}.tmp")));
    }
    if path.exists() {
        let mode = std::fs::metadata(&path)
            .map_err(|e| JournalError::io(&path, "stat key", e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(key_err(
                &path,
                "key file readable by group/others (want 0600)",
            ));
        }
        return Ok((read_signing_key(&path)?, KeySource::ExistingGenerated(path)));
    }
    // Segments without their generated key: the key was lost (or the
    // directory copied without it). A new key would only fail later against
    // the old seals; say what is missing instead, before writing anything.
    if let Ok(segs) = super::reader::list_segments(dir) {
        if let Some((_, first)) = segs.first() {
            return Err(key_err(
                &path,
                &format!(
                    "missing, but {} segments (first {}) were sealed with a key: restore the key file or configure journal.signing_key",
                    segs.len(),
                    first.display()
                ),
            ));
        }
    }
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    // Write to a temporary name and rename, so a crash never leaves a
    // half-written key that would keep the journal from opening.
    let tmp = dir.join(format!("{GENERATED_KEY_FILE}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| JournalError::io(&tmp, "create key", e))?;
    f.write_all(hex(key.as_bytes()).as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| JournalError::io(&tmp, "write key", e))?;
    std::fs::rename(&tmp, &path).map_err(|e| JournalError::io(&path, "install key", e))?;
    write_public_if_missing(dir, &key)?;
    Ok((key, KeySource::Generated(path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_is_0600_and_reloads() {
        let d = tempfile::tempdir().unwrap();
        let (k, src) = load_or_generate(d.path(), None).unwrap();
        assert!(matches!(src, KeySource::Generated(_)));
        let p = d.path().join(GENERATED_KEY_FILE);
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let (k2, src2) = load_or_generate(d.path(), None).unwrap();
        assert!(matches!(src2, KeySource::ExistingGenerated(_)));
        assert_eq!(k.to_bytes(), k2.to_bytes());
        let vk = read_verifying_key(&d.path().join(PUBLIC_KEY_FILE)).unwrap();
        assert_eq!(vk, k.verifying_key());
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(load_or_generate(d.path(), None).is_err());
    }

    #[test]
    fn hex_round_trip_and_rejects() {
        let b = [0u8, 1, 0xAB, 0xFF];
        assert_eq!(hex(&b), "0001abff");
        assert_eq!(unhex::<4>("0001ABff"), Some(b));
        assert_eq!(unhex::<4>("0001abf"), None);
        assert_eq!(unhex::<4>("0001abfg"), None);
    }
}
