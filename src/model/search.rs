//! Full-text search as people type it (`q=gpt-4o`, `q=don't`,
//! `q=e-mail`): the words a search requires, engine-neutral. Each storage
//! engine turns a [`Search`] into its own query (SQLite: an FTS5 `MATCH`,
//! see `store::read::search`).
//!
//! A word is split into tokens where the index's tokenizer splits it
//! (SQLite's default `unicode61`): `gpt-4o` is the tokens `gpt` and `4o`,
//! and a search requires every token of every word. A word ending in `*`
//! matches its last token by prefix. What an index without word positions
//! cannot answer (phrases, inner wildcards, OR/NOT/NEAR) is refused with a
//! [`SearchError`] that says how to go on.

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

/// One token a search requires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Term {
    pub token: String,
    /// Matches any token that starts with `token`.
    pub prefix: bool,
}

/// A full-text search: calls that contain every term.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Search {
    terms: Vec<Term>,
}

impl Search {
    /// The search for what a person typed.
    pub fn parse(text: &str) -> Result<Search, SearchError> {
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
                terms.push(Term {
                    token: token.to_owned(),
                    prefix: prefix && index == last,
                });
            }
        }
        if terms.is_empty() {
            return Err(SearchError::NoWords);
        }
        Ok(Search { terms })
    }

    /// Every term, in the order typed; all are required.
    pub fn terms(&self) -> &[Term] {
        &self.terms
    }
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
