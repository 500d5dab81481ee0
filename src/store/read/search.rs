//! Full-text search as people type it (`q=gpt-4o`, `q=don't`,
//! `q=e-mail`), turned into a query the calls' index can run.
//!
//! The index (`calls_fts`, migration 0002) uses SQLite's default
//! `unicode61` tokenizer and keeps no word positions (`detail = none`), so
//! it answers "which calls contain this token" but cannot run a phrase. A
//! quoted word that the tokenizer splits in two (`"gpt-4o"` is `gpt`, `4o`)
//! is a phrase, which SQLite refuses. So [`fts_match`] splits each typed
//! word where the tokenizer would and requires every token: `gpt-4o`
//! finds the calls that contain both `gpt` and `4o`.

/// What cannot be searched for, said so the person can fix their query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    #[error("has no words to search for (punctuation alone is not indexed)")]
    NoWords,
    #[error(
        "cannot search for an exact phrase: the index keeps no word positions; leave out the \
         double quotes to find the calls that contain every word"
    )]
    Phrase,
    #[error("{word:?}: `*` is only supported at the end of a word, to search by prefix (`weath*`)")]
    Wildcard { word: String },
    #[error(
        "{word:?} is not supported: every word must appear (there is no OR, NOT or NEAR); \
         run one search per alternative"
    )]
    Operator { word: String },
}

/// An FTS5 `MATCH` expression for what a person typed: every token of
/// every word must appear; a word ending in `*` matches its last token
/// by prefix.
pub fn fts_match(text: &str) -> Result<String, SearchError> {
    if text.contains('"') {
        return Err(SearchError::Phrase);
    }
    let mut terms = Vec::new();
    for word in text.split_whitespace() {
        if matches!(word, "OR" | "NOT" | "NEAR") {
            return Err(SearchError::Operator {
                word: word.to_owned(),
            });
        }
        let (stem, prefix) = match word.strip_suffix('*') {
            Some(stem) => (stem, true),
            None => (word, false),
        };
        if stem.contains('*') {
            return Err(SearchError::Wildcard {
                word: word.to_owned(),
            });
        }
        let tokens = tokens(stem);
        let last = tokens.len().saturating_sub(1);
        for (index, token) in tokens.into_iter().enumerate() {
            let star = if prefix && index == last { "*" } else { "" };
            terms.push(format!("\"{token}\"{star}"));
        }
    }
    if terms.is_empty() {
        return Err(SearchError::NoWords);
    }
    Ok(terms.join(" "))
}

/// The runs of token characters in `word`, as the tokenizer finds them.
fn tokens(word: &str) -> Vec<&str> {
    word.split(|c: char| !is_token_char(c))
        .filter(|token| !token.is_empty())
        .collect()
}

/// Whether `unicode61` (with its default options) keeps `c` inside a
/// token: letters, numbers and private-use characters, the combining
/// diacritics it folds away (`é` written as `e` + U+0301), and characters
/// its Unicode tables do not know. Everything else separates tokens.
fn is_token_char(c: char) -> bool {
    use unicode_general_category::{GeneralCategory as G, get_general_category};
    if c.is_ascii() {
        return c.is_ascii_alphanumeric();
    }
    if ('\u{0300}'..='\u{036F}').contains(&c) {
        return true;
    }
    matches!(
        get_general_category(c),
        G::UppercaseLetter
            | G::LowercaseLetter
            | G::TitlecaseLetter
            | G::ModifierLetter
            | G::OtherLetter
            | G::DecimalNumber
            | G::LetterNumber
            | G::OtherNumber
            | G::PrivateUse
            | G::Unassigned
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn punctuated_words_become_their_tokens() {
        assert_eq!(fts_match("gpt-4o").as_deref(), Ok(r#""gpt" "4o""#));
        assert_eq!(
            fts_match("don't panic").as_deref(),
            Ok(r#""don" "t" "panic""#)
        );
        assert_eq!(
            fts_match("alpha.apples").as_deref(),
            Ok(r#""alpha" "apples""#)
        );
        assert_eq!(fts_match("a_b").as_deref(), Ok(r#""a" "b""#));
        assert_eq!(
            fts_match("Straße café").as_deref(),
            Ok(r#""Straße" "café""#)
        );
        assert_eq!(
            fts_match("caf\u{65}\u{301}").as_deref(),
            Ok("\"cafe\u{301}\"")
        );
        assert_eq!(fts_match("हैलो").as_deref(), Ok(r#""ह" "ल""#));
    }

    #[test]
    fn a_trailing_star_is_a_prefix_of_the_last_token() {
        assert_eq!(fts_match("omelet*").as_deref(), Ok(r#""omelet"*"#));
        assert_eq!(fts_match("gpt-4*").as_deref(), Ok(r#""gpt" "4"*"#));
        assert_eq!(fts_match("  * ").as_deref(), Err(&SearchError::NoWords));
    }

    #[test]
    fn what_the_index_cannot_answer_is_named() {
        assert_eq!(fts_match("\"two words\""), Err(SearchError::Phrase));
        assert!(matches!(
            fts_match("gp*t"),
            Err(SearchError::Wildcard { .. })
        ));
        assert!(matches!(
            fts_match("*pt"),
            Err(SearchError::Wildcard { .. })
        ));
        assert!(matches!(
            fts_match("a OR b"),
            Err(SearchError::Operator { .. })
        ));
        assert_eq!(fts_match("-- ..."), Err(SearchError::NoWords));
        assert_eq!(fts_match("or not").as_deref(), Ok(r#""or" "not""#));
    }
}
