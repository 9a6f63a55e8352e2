//! The pseudonymization key (never printed, not even by `Debug`) and the pseudonyms of the
//! person and household keys: hex HMAC-SHA-256 under the operator's key.

use std::path::Path;

use arrow::array::{Array, StringArray, StringBuilder};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::{ExtractError, KEY_ENV, MIN_KEY_BYTES};

/// The pseudonymization key. Its bytes are never printed, not even by `Debug`.
#[derive(Clone)]
pub struct Key {
    len: usize,
    /// The HMAC state after absorbing the key, cloned for every pseudonym.
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key(<{} bytes, redacted>)", self.len)
    }
}

impl Key {
    /// The key from a file (trailing line breaks ignored) or else from `POVCENSUS_EXTRACT_KEY`.
    pub fn load(file: Option<&Path>) -> Result<Key, ExtractError> {
        let bytes = match file {
            Some(p) => std::fs::read(p).map_err(|source| ExtractError::KeyFile {
                path: p.display().to_string(),
                source,
            })?,
            None => std::env::var_os(KEY_ENV)
                .map(|v| v.into_encoded_bytes())
                .ok_or(ExtractError::NoKey)?,
        };
        let mut bytes = bytes;
        while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            bytes.pop();
        }
        if bytes.is_empty() {
            return Err(ExtractError::NoKey);
        }
        if bytes.len() < MIN_KEY_BYTES {
            return Err(ExtractError::ShortKey(bytes.len()));
        }
        Ok(Key::from_bytes(&bytes))
    }

    pub fn from_bytes(bytes: &[u8]) -> Key {
        Key {
            len: bytes.len(),
            // reason: HMAC accepts a key of any length.
            mac: <Hmac<Sha256> as KeyInit>::new_from_slice(bytes).expect("any key size"),
        }
    }

    /// The pseudonym of `value` of a kind (`person`, `household`): hex HMAC-SHA-256 of
    /// `kind \x1f value`.
    pub fn pseudonym(&self, kind: &str, value: &str) -> String {
        String::from_utf8_lossy(&self.pseudonym_hex(kind, value)).into_owned()
    }

    /// [`Key::pseudonym`] as its 64 ASCII hex digits.
    fn pseudonym_hex(&self, kind: &str, value: &str) -> [u8; 64] {
        let mut mac = self.mac.clone();
        mac.update(kind.as_bytes());
        mac.update(&[0x1f]);
        mac.update(value.as_bytes());
        let mut hex = [0u8; 64];
        // reason: 32 bytes always fill 64 hex digits exactly.
        hex::encode_to_slice(mac.finalize().into_bytes(), &mut hex).expect("64 hex digits");
        hex
    }
}

/// The pseudonyms of a column of keys (consecutive repeats computed once).
pub(super) fn pseudonyms(key: &Key, kind: &str, values: &StringArray) -> StringArray {
    let mut out = StringBuilder::with_capacity(values.len(), values.len() * 64);
    let mut last: Option<(&str, [u8; 64])> = None;
    for v in values {
        let Some(v) = v else {
            out.append_null();
            continue;
        };
        let hex = match last {
            Some((l, hex)) if l == v => hex,
            _ => {
                let hex = key.pseudonym_hex(kind, v);
                last = Some((v, hex));
                hex
            }
        };
        out.append_value(std::str::from_utf8(&hex).unwrap_or_default());
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_keyed() {
        let a = Key::from_bytes(b"0123456789abcdef");
        let b = Key::from_bytes(b"0123456789abcdeF");
        assert_eq!(a.pseudonym("person", "x"), a.pseudonym("person", "x"));
        assert_ne!(a.pseudonym("person", "x"), b.pseudonym("person", "x"));
        assert_ne!(a.pseudonym("person", "x"), a.pseudonym("household", "x"));
        // RFC 4231 test case 2 layout check of the HMAC itself.
        let k = Key::from_bytes(b"Jefe");
        let mut mac = k.mac.clone();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(!format!("{a:?}").contains("0123"));
    }

    #[test]
    fn a_column_gets_the_pseudonym_of_each_value() {
        let k = Key::from_bytes(b"0123456789abcdef");
        let column = StringArray::from(vec![Some("a"), Some("a"), None, Some("b"), Some("a")]);
        let got = pseudonyms(&k, "household", &column);
        let want: Vec<Option<String>> = column
            .iter()
            .map(|v| v.map(|v| k.pseudonym("household", v)))
            .collect();
        assert_eq!(
            got.iter()
                .map(|v| v.map(str::to_string))
                .collect::<Vec<_>>(),
            want
        );
        assert_eq!(want[0].as_ref().map(String::len), Some(64));
    }
}
