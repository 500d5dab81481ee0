//! What a call cost: a price table per model (US dollars per million
//! tokens, with the dates prices took effect), shipped as an editable TOML
//! file ([`BUILT_IN`]) that users can override, and the arithmetic that
//! prices a call's token usage ([`Rates::cost`], the only place it is
//! done). A replayed answer is priced once, by [`PriceTable::cost_with`],
//! when its result call is made: the item, the run summary, the stored
//! call and `compare` all show that one figure.

use std::path::Path;

use serde::Deserialize;

use crate::model::{Call, Usage};

/// The built-in price table; `reprise serve --prices FILE` overrides it.
pub const BUILT_IN: &str = include_str!("prices.toml");

#[derive(Debug, thiserror::Error)]
pub enum PriceError {
    #[error("cannot read price file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("price file {path} is not valid: {message}")]
    Invalid { path: String, message: String },
}

/// One price entry: a model's prices from a date on.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct ModelPrice {
    pub name: String,
    pub provider: Option<String>,
    /// Dollars per million input tokens.
    pub input: f64,
    /// Dollars per million output tokens.
    pub output: f64,
    /// Dollars per million cached input tokens (defaults to `input`).
    pub cached_input: Option<f64>,
    /// First day (UTC, `YYYY-MM-DD`) the price applies.
    pub from: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PriceFile {
    #[serde(default)]
    models: Vec<ModelPrice>,
}

/// A validated price table.
#[derive(Clone, Debug, Default)]
pub struct PriceTable {
    /// Entries with their start as Unix nanoseconds, most recent first
    /// within a model.
    entries: Vec<(ModelPrice, u64)>,
}

impl PriceTable {
    /// The built-in table, extended and overridden by `path` if given.
    pub fn load(path: Option<&Path>) -> Result<PriceTable, PriceError> {
        let mut entries = parse(BUILT_IN, "built-in prices")?;
        if let Some(path) = path {
            let name = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|source| PriceError::Read {
                path: name.clone(),
                source,
            })?;
            let user = parse(&text, &name)?;
            entries.retain(|(built_in, _)| !user.iter().any(|(u, _)| u.name == built_in.name));
            entries.extend(user);
        }
        entries.sort_by(|a, b| a.0.name.cmp(&b.0.name).then(b.1.cmp(&a.1)));
        Ok(PriceTable { entries })
    }

    pub fn built_in() -> PriceTable {
        // The built-in file is part of the binary and covered by a test.
        Self::load(None).unwrap_or_default()
    }

    /// The price in force for `model` at `time_unix_nano`: an exact name
    /// match, else the longest name that prefixes the model followed by a
    /// `-`, `.`, `:` or `@` suffix.
    pub fn find(&self, model: &str, time_unix_nano: u64) -> Option<&ModelPrice> {
        let mut best: Option<&(ModelPrice, u64)> = None;
        for entry in &self.entries {
            let name = entry.0.name.as_str();
            let matches = model == name
                || model
                    .strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with(['-', '.', ':', '@']));
            if !matches || entry.1 > time_unix_nano {
                continue;
            }
            let better = match best {
                None => true,
                Some(current) => {
                    name.len() > current.0.name.len()
                        || (name.len() == current.0.name.len() && entry.1 > current.1)
                }
            };
            if better {
                best = Some(entry);
            }
        }
        best.map(|(price, _)| price)
    }

    /// The cost of a call whose prices may be set apart from the table (a
    /// replay target's configured `price`): those when given, else the
    /// table's for the call's model.
    pub fn cost_with(&self, call: &Call, own: Option<Rates>) -> Option<f64> {
        match own {
            Some(rates) => rates.cost(&call.usage),
            None => self.cost(call),
        }
    }

    /// The cost of a call in dollars, when its model has a price and its
    /// usage is known; `None` otherwise (never a guess).
    pub fn cost(&self, call: &Call) -> Option<f64> {
        let model = call
            .response_model
            .as_deref()
            .or(call.request_model.as_deref())?;
        let price = self.find(model, call.start_time_unix_nano).or_else(|| {
            let request = call.request_model.as_deref()?;
            self.find(request, call.start_time_unix_nano)
        })?;
        price_usage(price, &call.usage)
    }
}

/// Dollars for `usage` at `price`.
pub fn price_usage(price: &ModelPrice, usage: &Usage) -> Option<f64> {
    price.rates().cost(usage)
}

impl ModelPrice {
    pub fn rates(&self) -> Rates {
        Rates {
            input_per_1m: self.input,
            output_per_1m: self.output,
            cached_input_per_1m: self.cached_input,
        }
    }
}

/// Prices in US dollars per million tokens, wherever they were set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rates {
    pub input_per_1m: f64,
    pub output_per_1m: f64,
    /// Input tokens read from the provider's cache; priced as input when absent.
    pub cached_input_per_1m: Option<f64>,
}

impl Rates {
    /// Dollars for `usage`; `None` when its input tokens are unknown (never
    /// a guess). Cached tokens are part of input tokens and are charged at
    /// the cached price instead of the input price.
    pub fn cost(&self, usage: &Usage) -> Option<f64> {
        let input = usage.input_tokens?;
        let output = usage.output_tokens.unwrap_or(0);
        let cached = usage
            .cached_input_tokens
            .unwrap_or(0)
            .clamp(0, input.max(0));
        let uncached = (input - cached).max(0);
        let cached_price = self.cached_input_per_1m.unwrap_or(self.input_per_1m);
        let dollars = (uncached as f64 * self.input_per_1m
            + cached as f64 * cached_price
            + output.max(0) as f64 * self.output_per_1m)
            / 1_000_000.0;
        Some(dollars)
    }
}

fn parse(text: &str, path: &str) -> Result<Vec<(ModelPrice, u64)>, PriceError> {
    let invalid = |message: String| PriceError::Invalid {
        path: path.to_owned(),
        message,
    };
    let file: PriceFile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
    let mut out = Vec::with_capacity(file.models.len());
    for model in file.models {
        if model.name.trim().is_empty() {
            return Err(invalid("a model has an empty name".into()));
        }
        for (what, value) in [
            ("input", Some(model.input)),
            ("output", Some(model.output)),
            ("cached_input", model.cached_input),
        ] {
            if value.is_some_and(|v| !v.is_finite() || v < 0.0) {
                return Err(invalid(format!(
                    "{}: {what} must be a price of 0 or more",
                    model.name
                )));
            }
        }
        let from = match &model.from {
            None => 0,
            Some(day) => day_start_unix_nano(day).ok_or_else(|| {
                invalid(format!(
                    "{}: from {day:?} is not a YYYY-MM-DD date",
                    model.name
                ))
            })?,
        };
        out.push((model, from));
    }
    Ok(out)
}

fn day_start_unix_nano(day: &str) -> Option<u64> {
    let time = humantime::parse_rfc3339_weak(&format!("{day} 00:00:00")).ok()?;
    let since = time.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(since.as_nanos() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CallId, Source};

    const JAN_2025: u64 = 1_735_689_600_000_000_000;

    fn call(model: &str, input: i64, cached: i64, output: i64) -> Call {
        let mut call = Call::new(CallId::derived(JAN_2025, b"c"), Source::Raw, JAN_2025);
        call.response_model = Some(model.into());
        call.usage = Usage {
            input_tokens: Some(input),
            output_tokens: Some(output),
            cached_input_tokens: Some(cached),
            reasoning_tokens: None,
        };
        call
    }

    #[test]
    fn built_in_prices_parse() {
        let table = PriceTable::load(None).expect("built-in prices are valid");
        assert!(table.entries.len() > 20);
    }

    #[test]
    fn dated_model_names_match_and_cached_tokens_are_cheaper() {
        let table = PriceTable::built_in();
        // gpt-4o from 2024-10-01: $2.50 in, $1.25 cached, $10 out per 1M.
        // 1,000 input of which 400 cached, 500 output:
        // (600 × 2.50 + 400 × 1.25 + 500 × 10) / 1e6 = 0.007
        let cost = table
            .cost(&call("gpt-4o-2024-11-20", 1000, 400, 500))
            .expect("priced");
        assert!((cost - 0.007).abs() < 1e-12, "{cost}");
    }

    #[test]
    fn the_price_in_force_on_the_day_applies() {
        let table = PriceTable::built_in();
        let old = table
            .find("gpt-4o", 1_720_000_000_000_000_000)
            .expect("mid 2024");
        assert_eq!(old.input, 5.0);
        let new = table.find("gpt-4o", JAN_2025).expect("2025");
        assert_eq!(new.input, 2.5);
    }

    #[test]
    fn longest_prefix_wins_and_unknown_models_have_no_cost() {
        let table = PriceTable::built_in();
        assert_eq!(
            table
                .find("gpt-4o-mini-2024-07-18", JAN_2025)
                .map(|p| p.name.as_str()),
            Some("gpt-4o-mini")
        );
        assert!(table.find("gpt-4oops", JAN_2025).is_none());
        assert_eq!(table.cost(&call("my-local-model", 10, 0, 10)), None);
    }

    #[test]
    fn a_user_file_overrides_built_in_models() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("prices.toml");
        std::fs::write(&path, "[[models]]\nname = \"gpt-4o\"\ninput = 1.0\noutput = 2.0\n\n[[models]]\nname = \"tiny\"\ninput = 0.0\noutput = 0.0\n").expect("write");
        let table = PriceTable::load(Some(&path)).expect("valid");
        assert_eq!(table.find("gpt-4o", JAN_2025).map(|p| p.input), Some(1.0));
        assert_eq!(table.cost(&call("tiny", 100, 0, 100)), Some(0.0));
        std::fs::write(
            &path,
            "[[models]]\nname = \"x\"\ninput = -1.0\noutput = 2.0\n",
        )
        .expect("write");
        assert!(matches!(
            PriceTable::load(Some(&path)),
            Err(PriceError::Invalid { .. })
        ));
    }
}
