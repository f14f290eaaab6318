//! Hex text to bytes, as the command-line tools and the conformance protocol write it
//! (`"aa  bb  "`, `"aabb"`, `"0xaa 0xbb"`).

use thiserror::Error;

/// A malformed hex string.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum HexError {
    #[error("character {column}: {found:?} is not a hex digit")]
    BadDigit { column: usize, found: char },
    #[error("character {column}: byte has a single hex digit (bytes are two digits)")]
    OddDigits { column: usize },
}

/// Decodes hex bytes. Whitespace separates tokens; each token is an optional `0x` prefix and
/// an even number of hex digits (two per byte, in order). Columns in errors count
/// characters from 1.
pub fn decode(text: &str) -> Result<Vec<u8>, HexError> {
    let mut out = Vec::with_capacity(text.len() / 2);
    let mut chars = text.char_indices().peekable();
    let column = |byte: usize| text[..byte].chars().count() + 1;
    while let Some(&(i, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        // A token.
        if text[i..].starts_with("0x") || text[i..].starts_with("0X") {
            chars.next();
            chars.next();
        }
        let mut hi: Option<(usize, u8)> = None;
        while let Some(&(j, c)) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            chars.next();
            let Some(d) = c.to_digit(16) else {
                return Err(HexError::BadDigit {
                    column: column(j),
                    found: c,
                });
            };
            match hi.take() {
                None => hi = Some((j, d as u8)),
                Some((_, h)) => out.push(h << 4 | d as u8),
            }
        }
        if let Some((j, _)) = hi {
            return Err(HexError::OddDigits { column: column(j) });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_usual_forms() {
        assert_eq!(decode("aa  bb  \n").unwrap(), vec![0xaa, 0xbb]);
        assert_eq!(decode("AAbb01").unwrap(), vec![0xaa, 0xbb, 1]);
        assert_eq!(decode("0xaa 0x0102").unwrap(), vec![0xaa, 1, 2]);
        assert_eq!(decode("").unwrap(), Vec::<u8>::new());
        assert_eq!(decode("  \n ").unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn reports_the_column() {
        assert_eq!(
            decode("aa zz").unwrap_err(),
            HexError::BadDigit {
                column: 4,
                found: 'z'
            }
        );
        assert_eq!(
            decode("aa b cc").unwrap_err(),
            HexError::OddDigits { column: 4 }
        );
        assert!(decode("0x").is_ok());
    }
}
