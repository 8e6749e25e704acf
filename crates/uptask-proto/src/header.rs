//! Validation of header names and values supplied by users.
//!
//! A header is the easiest place to smuggle a second request into a connection (CR/LF), so every
//! user-supplied name and value passes through here before it reaches a request head.

use crate::ProtoError;

/// Checks that `name` is a non-empty HTTP token (RFC 9110 §5.6.2).
///
/// ```
/// use uptask_proto::header::validate_name;
/// assert!(validate_name("X-Request-Id").is_ok());
/// assert!(validate_name("X-Bad\r\nInjected").is_err());
/// ```
///
/// # Errors
/// [`ProtoError::HeaderName`] when the name is empty or holds a byte outside the token alphabet.
pub fn validate_name(name: &str) -> Result<(), ProtoError> {
    let ok = !name.is_empty() && name.bytes().all(is_tchar);
    if ok {
        Ok(())
    } else {
        Err(ProtoError::HeaderName(name.to_owned()))
    }
}

/// Checks that `value` holds no control character other than horizontal tab.
///
/// Non-ASCII text is allowed and sent as its UTF-8 bytes (RFC 9110 calls these `obs-text`);
/// CR, LF, NUL and the other controls are refused because they would break the framing.
///
/// ```
/// use uptask_proto::header::validate_value;
/// assert!(validate_value("X-Note", "tab\tis fine, 中文 too").is_ok());
/// assert!(validate_value("X-Note", "a\r\nb").is_err());
/// ```
///
/// # Errors
/// [`ProtoError::HeaderValue`] naming the header when the value holds a control character.
pub fn validate_value(name: &str, value: &str) -> Result<(), ProtoError> {
    let bad = value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f);
    if bad {
        Err(ProtoError::HeaderValue {
            name: name.to_owned(),
        })
    } else {
        Ok(())
    }
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_outside_the_token_alphabet_are_refused() {
        for bad in ["", "a b", "a:b", "a\r\n", "a\0", "é", "a\"b", "(x)"] {
            assert!(validate_name(bad).is_err(), "{bad:?} should be refused");
        }
        for good in ["a", "X-Custom-Header", "x_y", "A1!#$%&'*+-.^_`|~"] {
            assert!(validate_name(good).is_ok(), "{good:?} should pass");
        }
    }

    #[test]
    fn values_with_controls_are_refused() {
        for bad in ["\r", "\n", "a\0b", "\x7f", "\x1b[31m"] {
            assert!(
                validate_value("h", bad).is_err(),
                "{bad:?} should be refused"
            );
        }
        for good in ["", "plain", "with\ttab", "ünïcödé", "a=b; c=\"d\""] {
            assert!(validate_value("h", good).is_ok(), "{good:?} should pass");
        }
    }
}
