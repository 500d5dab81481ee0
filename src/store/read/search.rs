//! Full-text search on SQLite: a [`Search`] as an FTS5 `MATCH`.
//!
//! The index (`calls_fts`, migration 0002) uses SQLite's default
//! `unicode61` tokenizer and keeps no word positions (`detail = none`), so
//! it answers "which calls contain this token" but cannot run a phrase. A
//! quoted word that the tokenizer splits in two (`"gpt-4o"` is `gpt`, `4o`)
//! is a phrase, which SQLite refuses; so each token is its own quoted term,
//! all required.

use crate::model::search::Search;
#[cfg(test)]
use crate::model::search::SearchError;

/// The FTS5 `MATCH` expression for `search`.
pub fn fts5_match(search: &Search) -> String {
    let terms: Vec<String> = search
        .terms()
        .iter()
        .map(|term| {
            let star = if term.prefix { "*" } else { "" };
            format!("\"{}\"{star}", term.token)
        })
        .collect();
    terms.join(" ")
}

/// What a person typed, as an FTS5 `MATCH` expression.
#[cfg(test)]
fn fts_match(text: &str) -> Result<String, SearchError> {
    Search::parse(text).map(|search| fts5_match(&search))
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
