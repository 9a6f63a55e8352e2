//! Researchers' tokens: read from a file only its owner may read, held in memory as SHA-256
//! digests, and compared in constant time, every entry each time.

use std::path::Path;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::ServerError;

/// The researchers and the digests of their tokens.
pub struct Tokens {
    entries: Vec<([u8; 32], String)>,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Tokens {
    /// Researchers from `name:token` lines (blank lines and `#` comments ignored). Every
    /// problem is reported at once; tokens are never echoed. A file that others than its owner
    /// may read is refused.
    pub fn read(path: &Path) -> Result<Tokens, ServerError> {
        let shown = || path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ServerError::Tokens {
            path: shown(),
            source,
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let meta = std::fs::metadata(path).map_err(|source| ServerError::Tokens {
                path: shown(),
                source,
            })?;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(ServerError::TokensReadable {
                    path: shown(),
                    mode,
                });
            }
        }
        let mut entries: Vec<([u8; 32], String)> = Vec::new();
        let mut problems = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match line.split_once(':') {
                Some((name, token)) if !name.trim().is_empty() && token.trim().len() >= 16 => {
                    let d = digest(token.trim());
                    if entries.iter().any(|(e, _)| *e == d) {
                        problems.push(format!("line {}: this token is given twice", i + 1));
                    } else {
                        entries.push((d, name.trim().to_string()));
                    }
                }
                Some((name, _)) if !name.trim().is_empty() => problems.push(format!(
                    "line {}: the token of `{}` is shorter than 16 characters",
                    i + 1,
                    name.trim()
                )),
                _ => problems.push(format!("line {}: expected `name:token`", i + 1)),
            }
        }
        if entries.is_empty() && problems.is_empty() {
            problems.push("no researcher is listed".into());
        }
        if problems.is_empty() {
            Ok(Tokens { entries })
        } else {
            Err(ServerError::InvalidTokens {
                path: shown(),
                problems,
            })
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The researcher whose token this is: its digest compared in constant time with every
    /// entry, so the time taken says nothing of how close a guess came.
    pub fn researcher(&self, token: &str) -> Option<&str> {
        let d = digest(token);
        let mut found = None;
        for (entry, name) in &self.entries {
            if bool::from(entry[..].ct_eq(&d[..])) {
                found = Some(name.as_str());
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn private(p: &Path, text: &str) {
        std::fs::write(p, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }

    #[test]
    fn tokens_file_problems_are_reported_together() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tokens");
        private(
            &p,
            "# researchers\nalice:0123456789abcdef0\nbob:short\nnocolon\ncarol:0123456789abcdef0\n",
        );
        let e = Tokens::read(&p).err().unwrap().to_string();
        assert!(e.contains("3 problem(s)"), "{e}");
        assert!(
            e.contains("line 3") && e.contains("line 4") && e.contains("line 5"),
            "{e}"
        );
        assert!(
            !e.contains("0123456789abcdef0"),
            "tokens are not echoed: {e}"
        );
        private(&p, "alice: 0123456789abcdef0\n\nbob:fedcba98765432100\n");
        let t = Tokens::read(&p).unwrap();
        assert_eq!(t.researcher("0123456789abcdef0"), Some("alice"));
        assert_eq!(t.researcher("0123456789abcdef1"), None);
        assert_eq!(t.len(), 2);
    }

    #[cfg(unix)]
    #[test]
    fn a_tokens_file_others_may_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tokens");
        private(&p, "alice:0123456789abcdef0\n");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = Tokens::read(&p).err().unwrap();
        assert!(e.to_string().contains("mode 644"), "{e}");
        assert!(e.hint().unwrap().contains("chmod 600"), "{e}");
    }
}
