//! What the fake model answers, and how many tokens that costs.
//!
//! An [`Answer`] is computed once per request from the [`Prompt`] and the
//! model's [`Behavior`], then rendered as JSON or as a stream by the API
//! modules; that is why streamed text and usage always equal the
//! non-streamed ones. Tokens are whitespace-separated words.

use serde_json::{Map, Value as Json, json};

use super::config::{Behavior, ReplyStyle};
use super::judge;
use super::prompt::{Prompt, ToolChoice, ToolSpec, count_words};
use super::seed::{SplitMix64, stable_hash};

/// The answer of `reply = "refusal"`.
pub(crate) const REFUSAL_TEXT: &str = "I'm sorry, but I can't help with that request.";

/// How deep derived tool arguments follow nested object schemas.
const MAX_SCHEMA_DEPTH: usize = 8;

const LOREM_WORDS: &[&str] = &[
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
    "ut",
    "labore",
    "et",
    "dolore",
    "magna",
    "aliqua",
    "enim",
    "ad",
    "minim",
    "veniam",
    "quis",
    "nostrud",
    "exercitation",
    "ullamco",
    "laboris",
    "nisi",
    "aliquip",
    "ex",
    "ea",
    "commodo",
    "consequat",
    "duis",
    "aute",
    "irure",
    "in",
    "reprehenderit",
    "voluptate",
    "velit",
    "esse",
    "cillum",
    "fugiat",
    "nulla",
    "pariatur",
    "excepteur",
    "sint",
    "occaecat",
    "cupidatat",
    "non",
    "proident",
    "sunt",
    "culpa",
    "qui",
    "officia",
    "deserunt",
    "mollit",
    "anim",
    "id",
    "est",
    "laborum",
];

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Content {
    Text(String),
    ToolCall(ToolCall),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ToolCall {
    pub name: String,
    /// The arguments as JSON text, as both APIs stream them.
    pub arguments: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Finish {
    Stop,
    /// The answer was cut at the request's output token limit.
    Length,
    ToolCall,
}

/// Token counts of one answer, in the fake's word-based units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TokenUsage {
    /// All prompt tokens, cached ones included (OpenAI's `prompt_tokens`).
    pub input_tokens: u64,
    pub cached_input_tokens: u64,
    pub cache_creation_input_tokens: u64,
    /// All completion tokens, reasoning included.
    pub output_tokens: u64,
    pub reasoning_tokens: u64,
}

impl TokenUsage {
    /// Prompt tokens that were neither read from nor written to the cache:
    /// Anthropic's `input_tokens`.
    pub(crate) fn uncached_input_tokens(&self) -> u64 {
        self.input_tokens - self.cached_input_tokens - self.cache_creation_input_tokens
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Answer {
    pub content: Content,
    pub finish: Finish,
    pub usage: TokenUsage,
}

/// The reply style for this prompt: the first matching script rule's, else
/// the behavior's. The text is the rule's own fixed text, if it has one.
pub(crate) fn choose_style<'a>(
    prompt: &Prompt,
    behavior: &'a Behavior,
) -> (ReplyStyle, Option<&'a str>) {
    let last_user = prompt.last_user_text();
    for rule in &behavior.script {
        if last_user.contains(&rule.contains) {
            return (rule.reply, rule.text.as_deref());
        }
    }
    (behavior.reply, None)
}

/// Composes the answer. `judge_attempt` is this prompt's attempt number
/// (from 1) and only matters for `ReplyStyle::Judge`.
pub(crate) fn compose(
    prompt: &Prompt,
    behavior: &Behavior,
    style: ReplyStyle,
    rule_text: Option<&str>,
    judge_attempt: u32,
) -> Answer {
    let seed = prompt.fingerprint();
    let mut content = match style {
        ReplyStyle::EchoLastUser => Content::Text(prompt.last_user_text().to_string()),
        ReplyStyle::Fixed => Content::Text(rule_text.unwrap_or(&behavior.text).to_string()),
        ReplyStyle::Lorem => Content::Text(lorem(behavior.words, seed)),
        ReplyStyle::Json => Content::Text(json_reply(prompt, behavior, seed)),
        ReplyStyle::ToolCall => tool_call_reply(prompt, behavior, seed),
        ReplyStyle::Refusal => Content::Text(REFUSAL_TEXT.to_string()),
        ReplyStyle::Empty => Content::Text(String::new()),
        ReplyStyle::Judge => Content::Text(judge::verdict(
            &prompt.full_text(),
            &behavior.judge,
            judge_attempt,
        )),
    };
    let mut finish = match content {
        Content::Text(_) => Finish::Stop,
        Content::ToolCall(_) => Finish::ToolCall,
    };
    if let (Content::Text(text), Some(limit)) = (&mut content, prompt.max_output_tokens)
        && truncate_words(text, limit)
    {
        finish = Finish::Length;
    }
    let usage = usage_for(prompt, behavior, &content);
    Answer {
        content,
        finish,
        usage,
    }
}

fn usage_for(prompt: &Prompt, behavior: &Behavior, content: &Content) -> TokenUsage {
    let input_tokens = prompt.input_tokens();
    let cached_input_tokens = behavior.usage.cached_input_tokens.min(input_tokens);
    let cache_creation_input_tokens = behavior
        .usage
        .cache_creation_input_tokens
        .min(input_tokens - cached_input_tokens);
    let answer_words = match content {
        Content::Text(text) => count_words(text),
        Content::ToolCall(call) => count_words(&call.name) + count_words(&call.arguments),
    };
    TokenUsage {
        input_tokens,
        cached_input_tokens,
        cache_creation_input_tokens,
        output_tokens: answer_words + behavior.usage.reasoning_tokens,
        reasoning_tokens: behavior.usage.reasoning_tokens,
    }
}

/// Cuts `text` after its `limit`-th word; true when something was cut.
fn truncate_words(text: &mut String, limit: u64) -> bool {
    let mut words_seen = 0u64;
    let mut in_word = false;
    for (index, character) in text.char_indices() {
        if character.is_whitespace() {
            in_word = false;
            continue;
        }
        if !in_word {
            in_word = true;
            words_seen += 1;
            if words_seen > limit {
                let kept = text[..index].trim_end().len();
                text.truncate(kept);
                return true;
            }
        }
    }
    false
}

/// `count` pseudo-Latin words picked by a generator seeded with `seed`, as
/// one sentence.
pub(crate) fn lorem(count: usize, seed: u64) -> String {
    let mut generator = SplitMix64::new(seed);
    let mut text = String::new();
    for index in 0..count {
        let word = LOREM_WORDS[generator.below(LOREM_WORDS.len() as u64) as usize];
        if index == 0 {
            let mut characters = word.chars();
            if let Some(first) = characters.next() {
                text.extend(first.to_uppercase());
                text.push_str(characters.as_str());
            }
        } else {
            text.push(' ');
            text.push_str(word);
        }
    }
    if count > 0 {
        text.push('.');
    }
    text
}

fn json_reply(prompt: &Prompt, behavior: &Behavior, seed: u64) -> String {
    let value = match &behavior.json {
        Some(value) => value.clone(),
        None => json!({
            "answer": lorem(8, seed),
            "prompt_words": prompt.input_tokens(),
        }),
    };
    value.to_string()
}

/// A call of the configured tool, the one `tool_choice` names, or the
/// request's first tool. With no tool to call (none offered and none
/// configured, or `tool_choice: none`) the model answers in text instead,
/// echoing the last user message, as a real model would have to.
fn tool_call_reply(prompt: &Prompt, behavior: &Behavior, seed: u64) -> Content {
    if prompt.tool_choice == ToolChoice::None {
        return Content::Text(prompt.last_user_text().to_string());
    }
    let wanted = match &prompt.tool_choice {
        ToolChoice::Named(name) => Some(name.as_str()),
        _ => behavior.tool.name.as_deref(),
    };
    let spec = find_tool(&prompt.tools, wanted);
    let name = match (wanted, spec) {
        (Some(name), _) => name.to_string(),
        (None, Some(spec)) => spec.name.clone(),
        (None, None) => return Content::Text(prompt.last_user_text().to_string()),
    };
    let arguments = match (&behavior.tool.arguments, spec) {
        (Some(arguments), _) => arguments.clone(),
        (None, Some(spec)) => derive_arguments(&spec.schema, seed, 0),
        (None, None) => Json::Object(Map::new()),
    };
    Content::ToolCall(ToolCall {
        name,
        arguments: arguments.to_string(),
    })
}

fn find_tool<'a>(tools: &'a [ToolSpec], name: Option<&str>) -> Option<&'a ToolSpec> {
    match name {
        Some(name) => tools.iter().find(|tool| tool.name == name),
        None => tools.first(),
    }
}

/// One deterministic value per property of an object schema.
fn derive_arguments(schema: &Json, seed: u64, depth: usize) -> Json {
    let mut arguments = Map::new();
    if let Some(Json::Object(properties)) = schema.get("properties") {
        for (name, property) in properties {
            let property_seed = stable_hash(&[&seed.to_le_bytes(), name.as_bytes()]);
            arguments.insert(
                name.clone(),
                derive_value(property, property_seed, depth + 1),
            );
        }
    }
    Json::Object(arguments)
}

fn derive_value(property: &Json, seed: u64, depth: usize) -> Json {
    if let Some(Json::Array(options)) = property.get("enum")
        && !options.is_empty()
    {
        return options[(seed % options.len() as u64) as usize].clone();
    }
    match property.get("type").and_then(Json::as_str) {
        Some("integer") => json!(seed % 100),
        Some("number") => json!((seed % 1000) as f64 / 10.0),
        Some("boolean") => json!(seed & 1 == 1),
        Some("array") => json!([]),
        Some("object") if depth < MAX_SCHEMA_DEPTH => derive_arguments(property, seed, depth),
        Some("object") => json!({}),
        _ => json!(lorem(2, seed).trim_end_matches('.').to_lowercase()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::ScriptRule;
    use serde_json::json;

    fn prompt(body: Json) -> Prompt {
        Prompt::from_openai(&body).unwrap()
    }

    fn user(text: &str) -> Prompt {
        prompt(json!({"model": "m", "messages": [{"role": "user", "content": text}]}))
    }

    fn answer(prompt: &Prompt, behavior: &Behavior) -> Answer {
        let (style, text) = choose_style(prompt, behavior);
        compose(prompt, behavior, style, text, 1)
    }

    #[test]
    fn echo_counts_words_both_ways() {
        let asked = user("say these four words");
        let reply = answer(&asked, &Behavior::default());
        assert_eq!(
            reply.content,
            Content::Text("say these four words".to_string())
        );
        assert_eq!(reply.usage.input_tokens, 4);
        assert_eq!(reply.usage.output_tokens, 4);
        assert_eq!(reply.finish, Finish::Stop);
    }

    #[test]
    fn lorem_is_seeded_by_the_prompt() {
        let behavior = Behavior {
            words: 12,
            ..Behavior::replying(ReplyStyle::Lorem)
        };
        let first = answer(&user("question one"), &behavior);
        let again = answer(&user("question one"), &behavior);
        let other = answer(&user("question two"), &behavior);
        assert_eq!(first, again);
        assert_ne!(first.content, other.content);
        assert_eq!(first.usage.output_tokens, 12);
    }

    #[test]
    fn script_rule_overrides_the_reply_for_matching_items() {
        let behavior = Behavior {
            script: vec![ScriptRule {
                contains: "capital".to_string(),
                reply: ReplyStyle::Fixed,
                text: Some("Lyon".to_string()),
            }],
            ..Behavior::default()
        };
        let scripted = answer(&user("What is the capital of France?"), &behavior);
        assert_eq!(scripted.content, Content::Text("Lyon".to_string()));
        let unscripted = answer(&user("Hello"), &behavior);
        assert_eq!(unscripted.content, Content::Text("Hello".to_string()));
    }

    #[test]
    fn output_limit_cuts_words_and_reports_length() {
        let asked = prompt(json!({"model": "m", "max_tokens": 2,
            "messages": [{"role": "user", "content": "one two  three four"}]}));
        let reply = answer(&asked, &Behavior::default());
        assert_eq!(reply.content, Content::Text("one two".to_string()));
        assert_eq!(reply.finish, Finish::Length);
        assert_eq!(reply.usage.output_tokens, 2);
    }

    #[test]
    fn tool_call_derives_arguments_from_the_schema() {
        let asked = prompt(json!({"model": "m",
        "messages": [{"role": "user", "content": "weather?"}],
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer"}
            }}}}]}));
        let reply = answer(&asked, &Behavior::replying(ReplyStyle::ToolCall));
        let Content::ToolCall(call) = &reply.content else {
            panic!("expected a tool call, got {:?}", reply.content);
        };
        assert_eq!(call.name, "get_weather");
        let arguments: Json = serde_json::from_str(&call.arguments).unwrap();
        assert!(arguments["city"].is_string());
        assert!(["celsius", "fahrenheit"].contains(&arguments["unit"].as_str().unwrap()));
        assert!(arguments["days"].as_u64().unwrap() < 100);
        assert_eq!(reply.finish, Finish::ToolCall);
    }

    #[test]
    fn tool_call_without_tools_answers_in_text() {
        let reply = answer(
            &user("no tools here"),
            &Behavior::replying(ReplyStyle::ToolCall),
        );
        assert_eq!(reply.content, Content::Text("no tools here".to_string()));
    }

    #[test]
    fn cached_tokens_are_capped_at_the_prompt() {
        let mut behavior = Behavior::default();
        behavior.usage.cached_input_tokens = 100;
        behavior.usage.reasoning_tokens = 5;
        let reply = answer(&user("three words here"), &behavior);
        assert_eq!(reply.usage.cached_input_tokens, 3);
        assert_eq!(reply.usage.uncached_input_tokens(), 0);
        assert_eq!(reply.usage.output_tokens, 3 + 5);
    }
}
