//! Replays out: canonical calls to the exact request bodies targets get.

use reprise::model::{Call, Message, Part};
use reprise::providers::wire::anthropic::to_anthropic;
use reprise::providers::wire::openai_chat::to_openai_chat;
use reprise::providers::{
    TargetParams, TranslateError, WireFormat, fill_call, rewrite_raw_request,
};
use serde_json::{Value as Json, json};

use crate::support::{empty_call, fixture_json};

const SYSTEM: &str = "You are a helpful weather assistant. Answer in one sentence.";
const USER: &str = "What is the weather like in Tokyo right now?";
const PRE: &str = "Let me check that for you.";
const RESULT: &str =
    r#"{"city": "Tokyo", "temperature": 18, "unit": "celsius", "condition": "sunny"}"#;

/// Compares bodies as text, so key order counts too.
fn assert_body(actual: Result<Json, TranslateError>, expected: Json) {
    let actual = actual.expect("translates");
    assert_eq!(
        serde_json::to_string_pretty(&actual).expect("serialize"),
        serde_json::to_string_pretty(&expected).expect("serialize")
    );
}

fn schema() -> Json {
    json!({
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "City name"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}
        },
        "required": ["city"]
    })
}

fn call_with(messages: Vec<Message>) -> Call {
    let mut call = empty_call();
    call.input_messages = Some(messages);
    call
}

fn recorded(format: WireFormat, name: &str) -> Call {
    let mut call = empty_call();
    fill_call(&mut call, format, &fixture_json(name), None).expect("fixture parses");
    call
}

fn params(model: &str) -> TargetParams {
    TargetParams::new(model)
}

fn params_allowing(model: &str, drops: &[&str]) -> TargetParams {
    let mut params = TargetParams::new(model);
    for drop in drops {
        params.allow_drop.insert((*drop).to_owned());
    }
    params
}

fn tool_call(id: Option<&str>, arguments: Json) -> Part {
    Part::ToolCall {
        id: id.map(str::to_owned),
        name: "get_weather".into(),
        arguments,
    }
}

fn tool_result(id: &str, response: &str) -> Message {
    Message::new(
        "tool",
        vec![Part::ToolCallResponse {
            id: Some(id.into()),
            response: json!(response),
        }],
    )
}

#[test]
fn a_plain_chat_is_one_user_message_in_both_formats() {
    let call = call_with(vec![Message::text("user", "Hello")]);
    assert_body(
        to_openai_chat(&call, &params("gpt-4o")),
        json!({
            "model": "gpt-4o",
            "messages": [{"role": "user", "content": "Hello"}],
            "stream": true,
            "stream_options": {"include_usage": true}
        }),
    );
    let mut target = params("claude-sonnet-4-5");
    target.default_max_tokens = Some(1024);
    assert_body(
        to_anthropic(&call, &target),
        json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 1024,
            "messages": [{"role": "user", "content": "Hello"}],
            "stream": true
        }),
    );
}

#[test]
fn system_and_multi_turn_history_keep_their_order_and_parameters() {
    let mut call = call_with(vec![
        Message::text("system", "Be brief."),
        Message::text("user", "Name a colour."),
        Message::text("assistant", "Blue."),
        Message::text("user", "Another."),
    ]);
    call.request_params.temperature = Some(0.7);
    call.request_params.max_tokens = Some(300);
    call.request_params.stop_sequences = Some(vec!["END".into()]);
    let mut target = params("gpt-4o");
    target.stream = false;
    assert_body(
        to_openai_chat(&call, &target),
        json!({
            "model": "gpt-4o",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Name a colour."},
                {"role": "assistant", "content": "Blue."},
                {"role": "user", "content": "Another."}
            ],
            "temperature": 0.7,
            "max_tokens": 300,
            "stop": ["END"]
        }),
    );
    let mut target = params("claude-sonnet-4-5");
    target.stream = false;
    assert_body(
        to_anthropic(&call, &target),
        json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 300,
            "system": "Be brief.",
            "messages": [
                {"role": "user", "content": "Name a colour."},
                {"role": "assistant", "content": "Blue."},
                {"role": "user", "content": "Another."}
            ],
            "temperature": 0.7,
            "stop_sequences": ["END"]
        }),
    );
}

#[test]
fn system_instructions_kept_apart_are_sent_once() {
    let mut call = call_with(vec![Message::text("user", "Hi")]);
    call.system_instructions = Some(vec![Part::text("Be brief.")]);
    let body = to_openai_chat(&call, &params("gpt-4o")).expect("translates");
    assert_eq!(
        body["messages"],
        json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
    );
    // When the history already starts with them, they are not repeated.
    call.input_messages = Some(vec![
        Message::text("system", "Be brief."),
        Message::text("user", "Hi"),
    ]);
    let body = to_openai_chat(&call, &params("gpt-4o")).expect("translates");
    assert_eq!(body["messages"].as_array().map(Vec::len), Some(2));
}

#[test]
fn openai_tool_conversation_becomes_anthropic_tool_use_and_tool_result() {
    let call = recorded(
        WireFormat::OpenAiChat,
        "openai_chat.tool_result.request.json",
    );
    // The OpenAI request carries a seed and penalties, which Anthropic lacks.
    let refused = to_anthropic(&call, &params("claude-sonnet-4-5"));
    assert_eq!(
        refused,
        Err(TranslateError::Unsupported {
            param: "seed".into(),
            target: "Anthropic Messages",
            reason: "Anthropic has no seed".into(),
        })
    );
    let target = params_allowing(
        "claude-sonnet-4-5",
        &["seed", "frequency_penalty", "presence_penalty"],
    );
    assert_body(
        to_anthropic(&call, &target),
        json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 256,
            "system": SYSTEM,
            "messages": [
                {"role": "user", "content": USER},
                {"role": "assistant", "content": [
                    {"type": "text", "text": PRE},
                    {"type": "tool_use", "id": "call_3f294f0c2265d070835c", "name": "get_weather",
                     "input": {"city": "Tokyo", "unit": "celsius"}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "call_3f294f0c2265d070835c", "content": RESULT}
                ]}
            ],
            "tools": [{"name": "get_weather", "description": "Get the current weather for a city",
                       "input_schema": schema()}],
            "tool_choice": {"type": "auto", "disable_parallel_tool_use": true},
            "temperature": 0.2,
            "top_p": 0.9,
            "stop_sequences": ["\n\n"],
            "metadata": {"user_id": "user-1234"},
            "stream": true
        }),
    );
}

#[test]
fn anthropic_tool_conversation_becomes_openai_tool_calls_and_tool_messages() {
    let call = recorded(WireFormat::Anthropic, "anthropic.tool_result.request.json");
    let refused = to_openai_chat(&call, &params("gpt-4o")).expect_err("top_k has no equivalent");
    assert!(matches!(refused, TranslateError::Unsupported { ref param, .. } if param == "top_k"));
    assert_body(
        to_openai_chat(&call, &params_allowing("gpt-4o", &["top_k"])),
        json!({
            "model": "gpt-4o",
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": USER},
                {"role": "assistant", "content": PRE, "tool_calls": [
                    {"id": "toolu_01A09q90qw90lq917835lq9", "type": "function",
                     "function": {"name": "get_weather", "arguments": "{\"city\":\"Tokyo\",\"unit\":\"celsius\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "toolu_01A09q90qw90lq917835lq9", "content": RESULT}
            ],
            "tools": [{"type": "function", "function": {
                "name": "get_weather", "description": "Get the current weather for a city",
                "parameters": schema()}}],
            "tool_choice": "auto",
            "temperature": 0.2,
            "top_p": 0.9,
            "max_tokens": 256,
            "stop": ["\n\n"],
            "user": "user-1234",
            "parallel_tool_calls": false,
            "stream": true,
            "stream_options": {"include_usage": true}
        }),
    );
}

#[test]
fn parallel_tool_results_merge_into_one_anthropic_user_turn() {
    let mut call = call_with(vec![
        Message::text("user", "Tokyo or Paris: which is warmer?"),
        Message::new(
            "assistant",
            vec![
                tool_call(Some("call_a"), json!({"city": "Tokyo"})),
                tool_call(Some("call_b"), json!("{\"city\": \"Paris\"}")),
            ],
        ),
        tool_result("call_a", "18"),
        tool_result("call_b", "21"),
        Message::text("user", "Answer in one word."),
    ]);
    call.request_params.max_tokens = Some(50);
    let mut target = params("claude-sonnet-4-5");
    target.stream = false;
    assert_body(
        to_anthropic(&call, &target),
        json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 50,
            "messages": [
                {"role": "user", "content": "Tokyo or Paris: which is warmer?"},
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "call_a", "name": "get_weather", "input": {"city": "Tokyo"}},
                    {"type": "tool_use", "id": "call_b", "name": "get_weather", "input": {"city": "Paris"}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "call_a", "content": "18"},
                    {"type": "tool_result", "tool_use_id": "call_b", "content": "21"},
                    {"type": "text", "text": "Answer in one word."}
                ]}
            ]
        }),
    );
    let mut target = params("gpt-4o");
    target.stream = false;
    assert_body(
        to_openai_chat(&call, &target),
        json!({
            "model": "gpt-4o",
            "messages": [
                {"role": "user", "content": "Tokyo or Paris: which is warmer?"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Tokyo\"}"}},
                    {"id": "call_b", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_a", "content": "18"},
                {"role": "tool", "tool_call_id": "call_b", "content": "21"},
                {"role": "user", "content": "Answer in one word."}
            ],
            "max_tokens": 50
        }),
    );
}

fn image_call(image: Json) -> Call {
    let mut call = call_with(vec![Message::new(
        "user",
        vec![
            Part::text("Describe it."),
            Part::from_json(&image),
            Part::from_json(
                &json!({"type": "uri", "modality": "image", "uri": "https://example.com/cat.jpg"}),
            ),
        ],
    )]);
    call.request_params.max_tokens = Some(100);
    call
}

#[test]
fn images_go_as_image_url_to_openai_and_image_blocks_to_anthropic() {
    let call = image_call(
        json!({"type": "blob", "modality": "image", "mime_type": "image/png", "content": "iVBORw0KGgo="}),
    );
    let mut target = params("gpt-4o");
    target.stream = false;
    assert_body(
        to_openai_chat(&call, &target),
        json!({
            "model": "gpt-4o",
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": "Describe it."},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}
            ]}],
            "max_tokens": 100
        }),
    );
    let mut target = params("claude-sonnet-4-5");
    target.stream = false;
    assert_body(
        to_anthropic(&call, &target),
        json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 100,
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": "Describe it."},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}
            ]}]
        }),
    );
}

#[test]
fn media_a_target_cannot_take_fails_with_the_part_named() {
    let bmp = image_call(
        json!({"type": "blob", "modality": "image", "mime_type": "image/bmp", "content": "Qk0="}),
    );
    let error = to_anthropic(&bmp, &params("claude-sonnet-4-5")).expect_err("bmp refused");
    assert!(
        matches!(error, TranslateError::UnsupportedPart { index: 0, ref part_type, .. } if part_type == "blob")
    );
    assert!(error.to_string().contains("image/bmp"), "{error}");

    let file = image_call(json!({"type": "file", "modality": "image", "file_id": "file-abc"}));
    for error in [
        to_openai_chat(&file, &params("gpt-4o")).expect_err("file refused"),
        to_anthropic(&file, &params("claude-sonnet-4-5")).expect_err("file refused"),
    ] {
        assert!(
            matches!(error, TranslateError::UnsupportedPart { ref part_type, .. } if part_type == "file"),
            "{error}"
        );
    }
}

#[test]
fn anthropic_needs_max_tokens_from_the_call_the_target_or_the_overrides() {
    let call = call_with(vec![Message::text("user", "Hi")]);
    assert_eq!(
        to_anthropic(&call, &params("claude-sonnet-4-5")),
        Err(TranslateError::MissingMaxTokens {
            target: "Anthropic Messages"
        })
    );
    let mut target = params("claude-sonnet-4-5");
    target.overrides.insert("max_tokens".into(), json!(64));
    let body = to_anthropic(&call, &target).expect("override supplies it");
    assert_eq!(body["max_tokens"], json!(64));
}

/// Records one parameter on a call.
type SetParam = fn(&mut Call);

#[test]
fn parameters_anthropic_cannot_express_fail_unless_dropped() {
    let base = || {
        let mut call = call_with(vec![Message::text("user", "Hi")]);
        call.request_params.max_tokens = Some(10);
        call
    };
    let cases: [(&str, SetParam); 7] = [
        ("temperature", |call| {
            call.request_params.temperature = Some(1.5)
        }),
        ("seed", |call| call.request_params.seed = Some(1)),
        ("frequency_penalty", |call| {
            call.request_params.frequency_penalty = Some(0.5);
        }),
        ("presence_penalty", |call| {
            call.request_params.presence_penalty = Some(0.5);
        }),
        ("choice_count", |call| {
            call.request_params.choice_count = Some(3)
        }),
        ("response_format", |call| {
            call.request_params.response_format = Some(json!({"type": "json_object"}));
        }),
        ("logprobs", |call| {
            call.request_params
                .extra
                .insert("logprobs".into(), json!(true));
        }),
    ];
    for (param, set) in cases {
        let mut call = base();
        set(&mut call);
        let error = to_anthropic(&call, &params("claude-sonnet-4-5")).expect_err(param);
        assert!(
            matches!(error, TranslateError::Unsupported { param: ref named, .. } if named == param),
            "{param}: {error}"
        );
        let message = error.to_string();
        assert!(message.contains(&format!("\"{param}\"")), "{message}");
        assert!(message.contains("allow_drop"), "{message}");

        let body = to_anthropic(&call, &params_allowing("claude-sonnet-4-5", &[param]))
            .expect("dropped when allowed");
        let sent: Vec<&String> = body.as_object().expect("object").keys().collect();
        assert_eq!(
            sent,
            ["model", "max_tokens", "messages", "stream"],
            "{param}"
        );
    }
}

#[test]
fn parameters_openai_cannot_express_fail_and_its_own_pass_through() {
    let mut call = call_with(vec![Message::text("user", "Hi")]);
    call.request_params.extra.insert(
        "thinking".into(),
        json!({"type": "enabled", "budget_tokens": 512}),
    );
    let error = to_openai_chat(&call, &params("gpt-4o")).expect_err("thinking refused");
    assert!(matches!(error, TranslateError::Unsupported { ref param, .. } if param == "thinking"));

    let mut call = call_with(vec![Message::text("user", "Hi")]);
    call.request_params
        .extra
        .insert("logprobs".into(), json!(true));
    call.request_params.top_k = Some(40.0);
    let mut target = params("qwen2.5-7b-instruct");
    target.overrides.insert("top_k".into(), json!(40));
    target.stream = false;
    assert_body(
        to_openai_chat(&call, &target),
        json!({
            "model": "qwen2.5-7b-instruct",
            "messages": [{"role": "user", "content": "Hi"}],
            "logprobs": true,
            "top_k": 40
        }),
    );
}

#[test]
fn overrides_are_merged_last_and_null_removes() {
    let mut call = call_with(vec![Message::text("user", "Hi")]);
    call.request_params.max_tokens = Some(100);
    call.request_params.temperature = Some(0.3);
    let mut target = params("o4-mini");
    target.stream = false;
    target.overrides.insert("max_tokens".into(), Json::Null);
    target
        .overrides
        .insert("max_completion_tokens".into(), json!(2000));
    target
        .overrides
        .insert("reasoning_effort".into(), json!("low"));
    assert_body(
        to_openai_chat(&call, &target),
        json!({
            "model": "o4-mini",
            "messages": [{"role": "user", "content": "Hi"}],
            "temperature": 0.3,
            "max_completion_tokens": 2000,
            "reasoning_effort": "low"
        }),
    );
}

#[test]
fn reasoning_in_history_fails_unless_dropped() {
    let mut call = call_with(vec![
        Message::text("user", "Hi"),
        Message::new(
            "assistant",
            vec![
                Part::Reasoning {
                    content: "They greet me.".into(),
                },
                Part::from_json(&json!({"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3p"})),
                Part::text("Hello!"),
            ],
        ),
        Message::text("user", "Bye"),
    ]);
    call.request_params.max_tokens = Some(10);
    for error in [
        to_openai_chat(&call, &params("gpt-4o")).expect_err("reasoning refused"),
        to_anthropic(&call, &params("claude-sonnet-4-5")).expect_err("reasoning refused"),
    ] {
        assert!(
            matches!(error, TranslateError::Unsupported { ref param, .. } if param == "reasoning"),
            "{error}"
        );
    }
    let body = to_anthropic(&call, &params_allowing("claude-sonnet-4-5", &["reasoning"]))
        .expect("dropped when allowed");
    assert_eq!(
        body["messages"][1],
        json!({"role": "assistant", "content": "Hello!"})
    );
    let body = to_openai_chat(&call, &params_allowing("gpt-4o", &["reasoning"]))
        .expect("dropped when allowed");
    assert_eq!(
        body["messages"][1],
        json!({"role": "assistant", "content": "Hello!"})
    );
}

#[test]
fn structural_problems_fail_with_the_message_named() {
    let mut call = call_with(vec![
        Message::text("user", "Hi"),
        Message::text("system", "Now be rude."),
    ]);
    call.request_params.max_tokens = Some(10);
    assert_eq!(
        to_anthropic(&call, &params("claude-sonnet-4-5")),
        Err(TranslateError::SystemNotLeading {
            index: 1,
            target: "Anthropic Messages"
        })
    );
    assert!(to_openai_chat(&call, &params("gpt-4o")).is_ok());

    let mut call = call_with(vec![
        Message::text("user", "Hi"),
        Message::new("assistant", vec![tool_call(None, json!({}))]),
    ]);
    call.request_params.max_tokens = Some(10);
    for error in [
        to_openai_chat(&call, &params("gpt-4o")).expect_err("no id"),
        to_anthropic(&call, &params("claude-sonnet-4-5")).expect_err("no id"),
    ] {
        assert!(
            matches!(error, TranslateError::MissingToolCallId { index: 1, .. }),
            "{error}"
        );
    }

    let mut call = call_with(vec![
        Message::text("user", "Hi"),
        Message::new("assistant", vec![tool_call(Some("c1"), json!("[1, 2]"))]),
    ]);
    call.request_params.max_tokens = Some(10);
    assert_eq!(
        to_anthropic(&call, &params("claude-sonnet-4-5")),
        Err(TranslateError::ArgumentsNotObject {
            index: 1,
            name: "get_weather".into(),
            target: "Anthropic Messages"
        })
    );

    let call = call_with(vec![Message::text("critic", "Too long.")]);
    assert!(matches!(
        to_openai_chat(&call, &params("gpt-4o")),
        Err(TranslateError::UnsupportedRole { index: 0, .. })
    ));

    let mut call = call_with(vec![Message::text("user", "Search this.")]);
    call.tool_definitions = Some(vec![json!({"type": "web_search_preview"})]);
    call.request_params.max_tokens = Some(10);
    assert!(matches!(
        to_openai_chat(&call, &params("gpt-4o")),
        Err(TranslateError::UnsupportedTool { index: 0, .. })
    ));
    assert!(matches!(
        to_anthropic(&call, &params("claude-sonnet-4-5")),
        Err(TranslateError::UnsupportedTool { index: 0, .. })
    ));

    assert_eq!(
        to_openai_chat(&empty_call(), &params("gpt-4o")),
        Err(TranslateError::NoInput)
    );
}

#[test]
fn raw_requests_change_only_model_streaming_and_overrides() {
    let raw = fixture_json("openai_chat.tool_result.request.json");
    let mut target = params("gpt-4.1-mini");
    target.overrides.insert("seed".into(), Json::Null);
    target.overrides.insert("temperature".into(), json!(0));
    let rewritten = rewrite_raw_request(&raw, WireFormat::OpenAiChat, &target).expect("rewrites");
    let mut expected = raw.clone();
    let object = expected.as_object_mut().expect("object");
    object.insert("model".into(), json!("gpt-4.1-mini"));
    object.insert("temperature".into(), json!(0));
    object.shift_remove("seed");
    object.insert("stream".into(), json!(true));
    object.insert("stream_options".into(), json!({"include_usage": true}));
    assert_body(Ok(rewritten), expected);

    // An Anthropic stream request replayed without streaming: no stream
    // field, and no OpenAI stream_options invented.
    let raw = fixture_json("anthropic.stream.request.json");
    let mut target = params("claude-opus-4-1");
    target.stream = false;
    let rewritten = rewrite_raw_request(&raw, WireFormat::Anthropic, &target).expect("rewrites");
    let mut expected = raw.clone();
    let object = expected.as_object_mut().expect("object");
    object.insert("model".into(), json!("claude-opus-4-1"));
    object.shift_remove("stream");
    assert_body(Ok(rewritten), expected);

    assert_eq!(
        rewrite_raw_request(&json!("text"), WireFormat::Anthropic, &target),
        Err(TranslateError::RawRequestNotObject { found: "a string" })
    );
}

/// A recorded tool choice in each source's documented shape (OpenAI Chat,
/// OpenAI Responses, Anthropic, the Vercel AI SDK), as a stored call may
/// hold it, and what each target must get for it.
#[test]
fn tool_choice_in_any_source_shape_reaches_each_target_in_its_own() {
    let cases = [
        (json!("auto"), json!("auto"), json!({"type": "auto"})),
        (
            json!({"type": "auto"}),
            json!("auto"),
            json!({"type": "auto"}),
        ),
        (json!("none"), json!("none"), json!({"type": "none"})),
        (
            json!({"type": "none"}),
            json!("none"),
            json!({"type": "none"}),
        ),
        (json!("required"), json!("required"), json!({"type": "any"})),
        (
            json!({"type": "required"}),
            json!("required"),
            json!({"type": "any"}),
        ),
        (
            json!({"type": "any"}),
            json!("required"),
            json!({"type": "any"}),
        ),
        (
            json!({"type": "function", "function": {"name": "get_weather"}}),
            json!({"type": "function", "function": {"name": "get_weather"}}),
            json!({"type": "tool", "name": "get_weather"}),
        ),
        (
            json!({"type": "function", "name": "get_weather"}),
            json!({"type": "function", "function": {"name": "get_weather"}}),
            json!({"type": "tool", "name": "get_weather"}),
        ),
        (
            json!({"type": "tool", "name": "get_weather"}),
            json!({"type": "function", "function": {"name": "get_weather"}}),
            json!({"type": "tool", "name": "get_weather"}),
        ),
        (
            json!({"type": "tool", "toolName": "get_weather"}),
            json!({"type": "function", "function": {"name": "get_weather"}}),
            json!({"type": "tool", "name": "get_weather"}),
        ),
    ];
    for (recorded, openai, anthropic) in cases {
        let mut call = call_with(vec![Message::text("user", USER)]);
        call.tool_definitions = Some(vec![json!({
            "type": "function", "name": "get_weather", "parameters": schema()
        })]);
        call.request_params.tool_choice = Some(recorded.clone());
        let mut claude = params("claude");
        claude.default_max_tokens = Some(64);
        let chat = to_openai_chat(&call, &params("gpt-4o")).expect("OpenAI body");
        assert_eq!(chat["tool_choice"], openai, "{recorded} to OpenAI");
        let messages = to_anthropic(&call, &claude).expect("Anthropic body");
        assert_eq!(
            messages["tool_choice"], anthropic,
            "{recorded} to Anthropic"
        );
    }
}

#[test]
fn a_tool_choice_anthropic_cannot_say_is_refused_and_openai_keeps_its_own() {
    let mut call = call_with(vec![Message::text("user", USER)]);
    let allowed = json!({"type": "allowed_tools", "mode": "auto",
                         "tools": [{"type": "function", "name": "get_weather"}]});
    call.request_params.tool_choice = Some(allowed.clone());
    let chat = to_openai_chat(&call, &params("gpt-4o")).expect("OpenAI body");
    assert_eq!(chat["tool_choice"], allowed);
    let mut claude = params("claude");
    claude.default_max_tokens = Some(64);
    let refused = to_anthropic(&call, &claude).expect_err("no Anthropic equivalent");
    assert!(
        matches!(refused, TranslateError::Unsupported { ref param, .. } if param == "tool_choice")
    );
}
