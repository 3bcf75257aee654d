//! The API token: what a client shows to change state, or to read anything at all when the
//! server is bound beyond loopback.
//!
//! It comes from `[server] token`, else from `<state-dir>/token` (generated at first start:
//! 32 random bytes as hex, mode 0600, created exclusively without following a symlink),
//! else it is generated for this run only. A client presents it as `Authorization: Bearer
//! TOKEN` or as `?token=TOKEN` (browsers cannot set headers on a WebSocket); the dashboard
//! takes it from the link kpid prints at start, as Jupyter does, and keeps it for the tab.

use crate::state::StateDir;
use crate::trust;
use std::io::Read;
use std::sync::Arc;

/// Where the token came from (said at start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// `[server] token`.
    Config,
    /// Read from the state directory's `token` file.
    File(std::path::PathBuf),
    /// Generated into the state directory's `token` file.
    Created(std::path::PathBuf),
    /// Generated for this run (no state directory).
    Ephemeral,
}

/// The token and where it came from.
#[derive(Debug, Clone)]
pub struct Token {
    /// The secret.
    pub secret: Arc<str>,
    /// Where it came from.
    pub origin: Origin,
}

/// Shortest token accepted from the config.
const MIN_LEN: usize = 16;

/// Letters, digits and `-._~`: what a URL carries as is.
fn valid(t: &str) -> bool {
    t.len() >= MIN_LEN
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

fn random_hex() -> std::io::Result<String> {
    let mut b = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// Checks a token given in the config (what [`load`] refuses).
pub fn check_configured(t: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        valid(t.trim()),
        "[server] token: at least {MIN_LEN} characters, letters, digits and -._~ only"
    );
    Ok(())
}

/// Finds or makes the token (see the module doc).
pub fn load(configured: Option<&str>, state: Option<&StateDir>) -> anyhow::Result<Token> {
    use anyhow::Context;
    if let Some(t) = configured {
        check_configured(t)?;
        let t = t.trim();
        return Ok(Token {
            secret: Arc::from(t),
            origin: Origin::Config,
        });
    }
    let Some(state) = state else {
        return Ok(Token {
            secret: Arc::from(random_hex().context("generating the api token")?),
            origin: Origin::Ephemeral,
        });
    };
    let path = state.dir().join("token");
    let read = || -> anyhow::Result<Option<String>> {
        let Some(bytes) =
            trust::read(&path, true).with_context(|| format!("token file {}", path.display()))?
        else {
            return Ok(None);
        };
        let t = String::from_utf8_lossy(&bytes).trim().to_owned();
        anyhow::ensure!(
            valid(&t),
            "token file {}: not a token (at least {MIN_LEN} characters, letters, digits and -._~); remove it to have a new one generated",
            path.display()
        );
        Ok(Some(t))
    };
    if let Some(t) = read()? {
        return Ok(Token {
            secret: Arc::from(t),
            origin: Origin::File(path),
        });
    }
    let fresh = random_hex().context("generating the api token")?;
    let created = trust::create_new(&path, format!("{fresh}\n").as_bytes())
        .with_context(|| format!("token file {}", path.display()))?;
    if created {
        return Ok(Token {
            secret: Arc::from(fresh),
            origin: Origin::Created(path),
        });
    }
    // Another kpid created it meanwhile: use theirs.
    let t = read()?.with_context(|| format!("token file {}: vanished", path.display()))?;
    Ok(Token {
        secret: Arc::from(t),
        origin: Origin::File(path),
    })
}

/// Compares in time independent of where the first difference is.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The token a request presents: `Authorization: Bearer T`, else `token=T` in the query.
pub fn presented<'a>(authorization: Option<&'a str>, query: &'a str) -> Option<&'a str> {
    if let Some(a) = authorization {
        let a = a.trim();
        if a.len() > 7 && a[..7].eq_ignore_ascii_case("bearer ") {
            return Some(a[7..].trim());
        }
    }
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix("token="))
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_generated_once_owner_only_and_kept() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let sd = StateDir::open(tmp.path()).unwrap();
        let a = load(None, Some(&sd)).unwrap();
        assert!(matches!(a.origin, Origin::Created(_)));
        assert_eq!(a.secret.len(), 64);
        let mode = std::fs::metadata(tmp.path().join("token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let b = load(None, Some(&sd)).unwrap();
        assert_eq!(
            (a.secret, matches!(b.origin, Origin::File(_))),
            (b.secret, true)
        );
        assert!(load(Some("short"), Some(&sd)).is_err());
        assert_eq!(
            &*load(Some("0123456789abcdefX"), None).unwrap().secret,
            "0123456789abcdefX"
        );
        let e = load(None, None).unwrap();
        assert_eq!((e.origin, e.secret.len()), (Origin::Ephemeral, 64));
    }

    #[test]
    fn presented_from_header_or_query() {
        assert_eq!(presented(Some("Bearer abc"), ""), Some("abc"));
        assert_eq!(presented(Some("bearer  abc "), "token=x"), Some("abc"));
        assert_eq!(presented(None, "a=1&token=xyz"), Some("xyz"));
        assert_eq!(presented(Some("Basic zz"), "token="), None);
        assert!(same(b"abc", b"abc") && !same(b"abc", b"abd") && !same(b"ab", b"abc"));
    }
}
