//! The built-in detectors: what each looks for, and the checks a regex
//! cannot express (a card number's Luhn digit, a phone number's digit
//! count, where a token may start).
//!
//! Patterns avoid `\b` and `\d`: both are Unicode-aware in the `regex`
//! crate, and a Unicode word boundary makes its fast DFA give up on any
//! non-ASCII text, which prompts are full of. Boundaries are checked in
//! code instead ([`super::rule::starts_at_boundary`]), which also lets
//! them see through JSON escapes: a key right after a `\n` inside a
//! JSON-encoded attribute (`"Key:\nsk-…"`) still starts at a boundary.

/// Families of detectors that a configuration can switch on by one name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Provider API keys and tokens: on by default.
    Secrets,
    Email,
    Card,
    Phone,
}

impl Group {
    pub fn name(self) -> &'static str {
        match self {
            Group::Secrets => "secrets",
            Group::Email => "email",
            Group::Card => "card",
            Group::Phone => "phone",
        }
    }

    pub const ALL: [Group; 4] = [Group::Secrets, Group::Email, Group::Card, Group::Phone];
}

/// Extra checks on a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    None,
    /// The token body holds both a letter and a digit: real keys are
    /// random, `sk-this-is-a-long-hyphenated-phrase` is prose.
    Random,
    /// 13 to 19 digits passing the Luhn check.
    Card,
    /// 7 to 15 digits, not glued to a longer number or identifier.
    Phone,
}

#[derive(Debug, Clone, Copy)]
pub struct Detector {
    /// Also the default replacement's label: `[REDACTED:email]`.
    pub name: &'static str,
    pub group: Group,
    /// When the pattern has a group named `secret`, only that group is
    /// replaced (`Bearer [REDACTED:bearer_token]`).
    pub pattern: &'static str,
    pub check: Check,
}

/// In the order they are applied: specific token formats before the
/// generic ones that would also match them (`sk-ant-…` before `sk-…`, any
/// key before `Bearer …`), so each secret is named by its best detector.
pub const BUILT_IN: &[Detector] = &[
    Detector {
        name: "reprise_key",
        group: Group::Secrets,
        pattern: r"rpk_[A-Za-z0-9_-]{43}",
        check: Check::None,
    },
    Detector {
        name: "anthropic_key",
        group: Group::Secrets,
        pattern: r"sk-ant-[A-Za-z0-9_-]{20,}",
        check: Check::None,
    },
    Detector {
        name: "openai_key",
        group: Group::Secrets,
        pattern: r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
        check: Check::Random,
    },
    Detector {
        name: "stripe_key",
        group: Group::Secrets,
        pattern: r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}",
        check: Check::None,
    },
    Detector {
        name: "aws_access_key_id",
        group: Group::Secrets,
        pattern: r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}",
        check: Check::None,
    },
    Detector {
        name: "github_token",
        group: Group::Secrets,
        pattern: r"gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,}",
        check: Check::None,
    },
    Detector {
        name: "google_api_key",
        group: Group::Secrets,
        pattern: r"AIza[0-9A-Za-z_-]{35}",
        check: Check::None,
    },
    Detector {
        name: "slack_token",
        group: Group::Secrets,
        pattern: r"xox[baprs]-[A-Za-z0-9-]{10,}",
        check: Check::None,
    },
    Detector {
        name: "jwt",
        group: Group::Secrets,
        pattern: r"eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{10,}",
        check: Check::None,
    },
    Detector {
        name: "bearer_token",
        group: Group::Secrets,
        pattern: r"[Bb][Ee][Aa][Rr][Ee][Rr][ \t]+(?P<secret>[A-Za-z0-9._~+/=-]{16,})",
        check: Check::Random,
    },
    Detector {
        name: "email",
        group: Group::Email,
        pattern: r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
        check: Check::None,
    },
    Detector {
        name: "card",
        group: Group::Card,
        // Issuer numbers start with 2 to 6; 19-digit nanosecond timestamps
        // and 13-digit millisecond ones start with 1 for years to come.
        pattern: r"[2-6][0-9](?:[ -]?[0-9]){11,17}",
        check: Check::Card,
    },
    Detector {
        name: "phone",
        group: Group::Phone,
        // International (+…), North American and European national formats.
        // National ones need separators, so bare digit runs (ids,
        // timestamps) never match.
        pattern: concat!(
            r"\+[1-9][0-9]{0,2}[ .-]?\([0-9]{1,4}\)(?:[ .-]?[0-9]){4,10}",
            r"|\+[1-9](?:[ .-]?[0-9]){6,14}",
            r"|\([2-9][0-9]{2}\)[ .-]?[0-9]{3}[ .-][0-9]{4}",
            r"|[2-9][0-9]{2}[ .-][0-9]{3}[ .-][0-9]{4}",
            r"|0[1-9](?:[ .][0-9]{2}){4}",
            r"|0[1-9][0-9]{1,4}[ /-][0-9]{3,4}[ -]?[0-9]{3,4}",
        ),
        check: Check::Phone,
    },
];

impl Check {
    /// Whether `text[start..end]` (the part to replace) is a real find.
    pub fn accepts(self, text: &str, start: usize, end: usize) -> bool {
        let found = &text[start..end];
        match self {
            Check::None => true,
            Check::Random => {
                let body = found.rsplit_once(['-', '_']).map_or(found, |(_, b)| b);
                let body = if body.len() >= 8 { body } else { found };
                body.bytes().any(|b| b.is_ascii_digit())
                    && body.bytes().any(|b| b.is_ascii_alphabetic())
            }
            Check::Card => {
                let digits = digits_of(found);
                (13..=19).contains(&digits.len())
                    && luhn_valid(&digits)
                    && !glued_to_number(text, start, end)
            }
            Check::Phone => {
                let count = found.bytes().filter(u8::is_ascii_digit).count();
                (7..=15).contains(&count) && !glued_to_number(text, start, end)
            }
        }
    }
}

fn digits_of(text: &str) -> Vec<u8> {
    let mut digits = Vec::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_digit() {
            digits.push(byte - b'0');
        }
    }
    digits
}

/// The Luhn check digit test every payment card number passes.
pub fn luhn_valid(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (index, digit) in digits.iter().rev().enumerate() {
        let mut value = u32::from(*digit);
        if index % 2 == 1 {
            value *= 2;
            if value > 9 {
                value -= 9;
            }
        }
        sum += value;
    }
    sum.is_multiple_of(10)
}

/// A number that continues past the match (`…4567-89`, `1.555.123.4567`,
/// `v2-555-123-4567`) is an identifier or a version, not a phone or card.
fn glued_to_number(text: &str, start: usize, end: usize) -> bool {
    let bytes = text.as_bytes();
    if start > 0 {
        let before = bytes[start - 1];
        if before.is_ascii_digit() || matches!(before, b'.' | b'-' | b'/' | b'+' | b'_') {
            return true;
        }
    }
    if let Some(&after) = bytes.get(end) {
        if after.is_ascii_alphanumeric() || after == b'_' {
            return true;
        }
        let next = bytes.get(end + 1).copied().unwrap_or(b' ');
        if matches!(after, b'.' | b'-' | b'/') && next.is_ascii_digit() {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_accepts_test_card_numbers_and_refuses_one_digit_off() {
        assert!(luhn_valid(&digits_of("4111 1111 1111 1111")));
        assert!(luhn_valid(&digits_of("5555-5555-5555-4444")));
        assert!(luhn_valid(&digits_of("378282246310005")));
        assert!(!luhn_valid(&digits_of("4111 1111 1111 1112")));
    }

    #[test]
    fn random_check_refuses_prose_with_a_key_prefix() {
        let text = "sk-this-is-a-long-hyphenated-phrase";
        assert!(!Check::Random.accepts(text, 0, text.len()));
        let key = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8t";
        assert!(Check::Random.accepts(key, 0, key.len()));
    }
}
