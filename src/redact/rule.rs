//! A compiled policy: the rules one project applies, behind a `RegexSet`
//! that answers "does anything match?" in one pass, so text without
//! secrets (nearly all of it) costs one scan whatever the number of rules.

use std::borrow::Cow;

use regex::{Regex, RegexSet};

use super::detectors::Check;

/// One detector or user rule, ready to run.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub regex: Regex,
    pub check: Check,
    /// Built-in detectors only match at a token boundary; user rules
    /// match wherever their regex says.
    pub needs_boundary: bool,
    pub replacement: String,
    /// Whether the pattern has a `secret` group to replace alone.
    has_secret_group: bool,
}

impl Rule {
    pub fn new(
        name: String,
        regex: Regex,
        check: Check,
        needs_boundary: bool,
        replacement: String,
    ) -> Rule {
        let has_secret_group = regex.capture_names().any(|n| n == Some("secret"));
        Rule {
            name,
            regex,
            check,
            needs_boundary,
            replacement,
            has_secret_group,
        }
    }

    /// The text with every accepted match replaced, or `None` when nothing was.
    fn apply(&self, text: &str) -> Option<String> {
        let mut found = Vec::new();
        if self.has_secret_group {
            for captures in self.regex.captures_iter(text) {
                if let Some(m) = captures.name("secret").or_else(|| captures.get(0)) {
                    found.push((m.start(), m.end()));
                }
            }
        } else {
            for m in self.regex.find_iter(text) {
                found.push((m.start(), m.end()));
            }
        }
        let mut out = String::new();
        let mut copied_to = 0;
        let mut replaced = false;
        for (start, end) in found {
            let Some(start) = adjusted_start(text, start, end, self.needs_boundary) else {
                continue;
            };
            if start < copied_to || start >= end || !self.check.accepts(text, start, end) {
                continue;
            }
            out.push_str(&text[copied_to..start]);
            out.push_str(&self.replacement);
            copied_to = end;
            replaced = true;
        }
        if !replaced {
            return None;
        }
        out.push_str(&text[copied_to..]);
        Some(out)
    }
}

/// The rules of one project, in the order they apply.
#[derive(Debug, Clone)]
pub struct Policy {
    set: RegexSet,
    rules: Vec<Rule>,
}

impl Policy {
    pub fn new(rules: Vec<Rule>) -> Result<Policy, regex::Error> {
        let set = RegexSet::new(rules.iter().map(|r| r.regex.as_str()))?;
        Ok(Policy { set, rules })
    }

    /// A policy that changes nothing.
    pub fn none() -> Policy {
        Policy {
            set: RegexSet::empty(),
            rules: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn rule_names(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.name.as_str())
    }

    /// The text with every secret replaced, or `None` when it holds none.
    pub fn redact(&self, text: &str) -> Option<String> {
        if self.rules.is_empty() {
            return None;
        }
        let matched = self.set.matches(text);
        if !matched.matched_any() {
            return None;
        }
        let mut current = Cow::Borrowed(text);
        for index in matched.iter() {
            if let Some(replaced) = self.rules[index].apply(&current) {
                current = Cow::Owned(replaced);
            }
        }
        match current {
            Cow::Owned(text) => Some(text),
            Cow::Borrowed(_) => None,
        }
    }

    /// Redacts `text` in place; true when it changed.
    pub fn redact_string(&self, text: &mut String) -> bool {
        match self.redact(text) {
            Some(redacted) => {
                *text = redacted;
                true
            }
            None => false,
        }
    }
}

/// Where a match really starts, or `None` when it must not be replaced.
///
/// Text inside a JSON-encoded attribute holds escapes: a match that begins
/// on the letter of an escape (`\nsk-…` matched from `n` by a permissive
/// pattern) starts after the escape instead, so the replacement never
/// splits `\n` into an invalid `\[`. Detectors that need a boundary refuse
/// a match glued to a preceding letter or digit, unless that letter ends
/// an escape.
pub fn adjusted_start(text: &str, start: usize, end: usize, needs_boundary: bool) -> Option<usize> {
    let bytes = text.as_bytes();
    if odd_backslashes_before(bytes, start) {
        let escape_length = if is_unicode_escape_body(bytes, start) {
            5
        } else {
            1
        };
        let start = start + escape_length;
        return (start < end).then_some(start);
    }
    if !needs_boundary || starts_at_boundary(bytes, start) {
        return Some(start);
    }
    None
}

/// Whether a token starting at `start` is not the tail of a longer word.
pub fn starts_at_boundary(bytes: &[u8], start: usize) -> bool {
    if start == 0 {
        return true;
    }
    let before = bytes[start - 1];
    if !(before.is_ascii_alphanumeric() || before == b'_') {
        return true;
    }
    ends_escape(bytes, start)
}

/// Whether the bytes before `position` end a JSON escape (`\n`, `\u00e9`).
fn ends_escape(bytes: &[u8], position: usize) -> bool {
    if position >= 2
        && matches!(bytes[position - 1], b'n' | b'r' | b't' | b'b' | b'f')
        && odd_backslashes_before(bytes, position - 1)
    {
        return true;
    }
    position >= 6
        && bytes[position - 5] == b'u'
        && is_unicode_escape_body(bytes, position - 5)
        && odd_backslashes_before(bytes, position - 5)
}

fn is_unicode_escape_body(bytes: &[u8], u_at: usize) -> bool {
    bytes.get(u_at) == Some(&b'u')
        && bytes
            .get(u_at + 1..u_at + 5)
            .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
}

fn odd_backslashes_before(bytes: &[u8], position: usize) -> bool {
    let mut count = 0;
    let mut index = position;
    while index > 0 && bytes[index - 1] == b'\\' {
        count += 1;
        index -= 1;
    }
    count % 2 == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(pattern: &str, needs_boundary: bool) -> Rule {
        Rule::new(
            "t".into(),
            Regex::new(pattern).expect("pattern"),
            Check::None,
            needs_boundary,
            "[X]".into(),
        )
    }

    #[test]
    fn a_match_starting_inside_an_escape_starts_after_it() {
        let policy = Policy::new(vec![rule(r"[a-z]+@x\.com", true)]).expect("policy");
        assert_eq!(
            policy.redact(r#"["mail:\nbob@x.com"]"#).as_deref(),
            Some(r#"["mail:\n[X]"]"#)
        );
        assert_eq!(
            policy.redact(r#"["\u00e9bob@x.com"]"#).as_deref(),
            Some(r#"["\u00e9[X]"]"#)
        );
    }

    #[test]
    fn a_token_after_an_escape_is_at_a_boundary_but_not_after_a_letter() {
        let policy = Policy::new(vec![rule(r"sk-[0-9]{4}", true)]).expect("policy");
        assert_eq!(
            policy.redact(r"key:\nsk-1234").as_deref(),
            Some(r"key:\n[X]")
        );
        assert_eq!(policy.redact("task-1234"), None);
        assert_eq!(
            policy.redact(r"a\\nsk-1234"),
            None,
            "an escaped backslash then n is a letter"
        );
    }

    #[test]
    fn nothing_matching_leaves_the_text_alone() {
        let policy = Policy::new(vec![rule("secret", false)]).expect("policy");
        assert_eq!(policy.redact("nothing here"), None);
        assert_eq!(
            policy.redact("a secret and a secret").as_deref(),
            Some("a [X] and a [X]")
        );
    }
}
