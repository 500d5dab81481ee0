//! Raw exchanges in: provider bodies and streams to canonical calls.

use reprise::model::{CallStatus, Message, Part, Usage};
use reprise::providers::{
    RecordedResponse, WireError, WireFormat, fill_call, parse_request, parse_response, sse,
};
use serde_json::{Value as Json, json};

use crate::support::{empty_call, fixture_json, fixture_text, without_ids};

const SYSTEM: &str = "You are a helpful weather assistant. Answer in one sentence.";
const USER: &str = "What is the weather like in Tokyo right now?";
const PRE: &str = "Let me check that for you.";
const RESULT: &str =
    r#"{"city": "Tokyo", "temperature": 18, "unit": "celsius", "condition": "sunny"}"#;
const FINAL: &str = "It is sunny and 18 °C in Tokyo right now.";

fn weather_tool() -> Json {
    json!({
        "type": "function",
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}
            },
            "required": ["city"]
        }
    })
}

/// The conversation every tool_result fixture records, with its ids.
fn expected_history(call_id: &str) -> Json {
    json!([
        {"role": "system", "parts": [{"type": "text", "content": SYSTEM}]},
        {"role": "user", "parts": [{"type": "text", "content": USER}]},
        {"role": "assistant", "parts": [
            {"type": "text", "content": PRE},
            {"type": "tool_call", "id": call_id, "name": "get_weather",
             "arguments": {"city": "Tokyo", "unit": "celsius"}}
        ]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": call_id, "response": RESULT}]}
    ])
}

fn stream_events(name: &str) -> Vec<Json> {
    sse::data_values(&fixture_text(name)).expect("fixture is an event stream")
}

#[test]
fn openai_chat_exchange_fills_every_canonical_field() {
    let mut call = empty_call();
    let request = fixture_json("openai_chat.tool_result.request.json");
    let response = RecordedResponse::Body(fixture_json("openai_chat.tool_result.response.json"));
    fill_call(&mut call, WireFormat::OpenAiChat, &request, Some(&response)).expect("fills");

    assert_eq!(call.provider.as_deref(), Some("openai"));
    assert_eq!(call.operation.as_deref(), Some("chat"));
    assert_eq!(call.request_model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(
        call.response_model.as_deref(),
        Some("gpt-4o-mini-2024-07-18")
    );
    assert_eq!(
        call.response_id.as_deref(),
        Some("chatcmpl-7f2184c3e93271144fc0fd5c")
    );
    assert_eq!(call.streaming, Some(false));
    assert_eq!(call.system_instructions, None);
    assert_eq!(
        serde_json::to_value(&call.input_messages).expect("serialize"),
        expected_history("call_3f294f0c2265d070835c")
    );
    assert_eq!(call.tool_definitions, Some(vec![weather_tool()]));
    assert_eq!(
        serde_json::to_value(&call.request_params).expect("serialize"),
        json!({
            "temperature": 0.2, "top_p": 0.9, "max_tokens": 256, "stop_sequences": ["\n\n"],
            "seed": 42, "frequency_penalty": 0.1, "presence_penalty": 0.0, "choice_count": 1,
            "response_format": {"type": "text"}, "tool_choice": "auto",
            "user": "user-1234", "parallel_tool_calls": false
        })
    );
    assert_eq!(call.user_id.as_deref(), Some("user-1234"));
    assert_eq!(
        serde_json::to_value(&call.output_messages).expect("serialize"),
        json!([{"role": "assistant", "parts": [{"type": "text", "content": FINAL}], "finish_reason": "stop"}])
    );
    assert_eq!(call.finish_reasons, Some(vec!["stop".to_owned()]));
    assert_eq!(
        call.usage,
        Usage {
            input_tokens: Some(129),
            output_tokens: Some(17),
            cached_input_tokens: Some(64),
            reasoning_tokens: Some(0),
        }
    );
    assert_eq!(call.status, CallStatus::Ok);
    assert_eq!(call.error, None);
}

#[test]
fn anthropic_exchange_fills_every_canonical_field() {
    let mut call = empty_call();
    let request = fixture_json("anthropic.tool_result.request.json");
    let response = RecordedResponse::Body(fixture_json("anthropic.tool_result.response.json"));
    fill_call(&mut call, WireFormat::Anthropic, &request, Some(&response)).expect("fills");

    assert_eq!(call.provider.as_deref(), Some("anthropic"));
    assert_eq!(
        call.request_model.as_deref(),
        Some("claude-3-5-haiku-latest")
    );
    assert_eq!(
        call.response_model.as_deref(),
        Some("claude-3-5-haiku-20241022")
    );
    assert_eq!(
        call.response_id.as_deref(),
        Some("msg_01XFDUDYJgAACzvnptvVoYEL")
    );
    assert_eq!(call.streaming, Some(false));
    assert_eq!(call.system_instructions, Some(vec![Part::text(SYSTEM)]));
    assert_eq!(
        serde_json::to_value(&call.input_messages).expect("serialize"),
        expected_history("toolu_01A09q90qw90lq917835lq9")
    );
    assert_eq!(call.tool_definitions, Some(vec![weather_tool()]));
    assert_eq!(
        serde_json::to_value(&call.request_params).expect("serialize"),
        json!({
            "temperature": 0.2, "top_p": 0.9, "top_k": 40.0, "max_tokens": 256,
            "stop_sequences": ["\n\n"], "tool_choice": "auto",
            "user": "user-1234", "parallel_tool_calls": false
        })
    );
    assert_eq!(call.user_id.as_deref(), Some("user-1234"));
    assert_eq!(
        serde_json::to_value(&call.output_messages).expect("serialize"),
        json!([{"role": "assistant", "parts": [{"type": "text", "content": FINAL}], "finish_reason": "stop"}])
    );
    assert_eq!(call.finish_reasons, Some(vec!["end_turn".to_owned()]));
    // Anthropic reports input without the cache: 41 + 24 written + 64 read.
    assert_eq!(
        call.usage,
        Usage {
            input_tokens: Some(129),
            output_tokens: Some(17),
            cached_input_tokens: Some(64),
            reasoning_tokens: None,
        }
    );
    assert_eq!(call.status, CallStatus::Ok);
}

#[test]
fn one_conversation_in_three_formats_gives_the_same_canonical_messages() {
    let mut calls = Vec::new();
    for (format, prefix) in [
        (WireFormat::OpenAiChat, "openai_chat"),
        (WireFormat::Anthropic, "anthropic"),
        (WireFormat::OpenAiResponses, "openai_responses"),
    ] {
        let mut call = empty_call();
        let request = fixture_json(&format!("{prefix}.tool_result.request.json"));
        let response =
            RecordedResponse::Body(fixture_json(&format!("{prefix}.tool_result.response.json")));
        fill_call(&mut call, format, &request, Some(&response)).expect("fills");
        calls.push(call);
    }
    let inputs: Vec<Json> = calls
        .iter()
        .map(|call| without_ids(call.input_messages.as_deref().expect("input")))
        .collect();
    assert_eq!(inputs[0], inputs[1], "OpenAI chat vs Anthropic");
    assert_eq!(inputs[0], inputs[2], "OpenAI chat vs Responses");
    assert_eq!(calls[0].tool_definitions, calls[1].tool_definitions);

    let answer = |index: usize| -> Vec<Part> {
        let messages = calls[index].output_messages.as_deref().expect("output");
        let mut parts = messages[0].parts.clone();
        parts.retain(|part| !matches!(part, Part::Reasoning { .. }));
        parts
    };
    assert_eq!(answer(0), vec![Part::text(FINAL)]);
    assert_eq!(answer(1), answer(0));
    assert_eq!(answer(2), answer(0));
}

#[test]
fn openai_stream_reassembles_text_and_interleaved_parallel_tool_calls() {
    let mut call = empty_call();
    let request = fixture_json("openai_chat.stream.request.json");
    let events = stream_events("openai_chat.stream.sse");
    assert_eq!(events.last(), Some(&json!("[DONE]")));
    fill_call(
        &mut call,
        WireFormat::OpenAiChat,
        &request,
        Some(&RecordedResponse::Stream(events)),
    )
    .expect("fills");

    assert_eq!(call.streaming, Some(true));
    assert_eq!(
        call.response_id.as_deref(),
        Some("chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG")
    );
    assert_eq!(
        call.response_model.as_deref(),
        Some("gpt-4o-mini-2024-07-18")
    );
    assert_eq!(
        serde_json::to_value(&call.output_messages).expect("serialize"),
        json!([{"role": "assistant", "finish_reason": "tool_call", "parts": [
            {"type": "text", "content": "Let me check both cities."},
            {"type": "tool_call", "id": "call_tokyo_1", "name": "get_weather", "arguments": {"city": "Tokyo"}},
            {"type": "tool_call", "id": "call_paris_2", "name": "get_weather", "arguments": {"city": "Paris"}}
        ]}])
    );
    assert_eq!(call.finish_reasons, Some(vec!["tool_calls".to_owned()]));
    assert_eq!(call.usage.input_tokens, Some(88));
    assert_eq!(call.usage.output_tokens, Some(41));
    assert_eq!(call.status, CallStatus::Ok);
}

#[test]
fn anthropic_stream_reassembles_thinking_text_and_tool_input_with_split_usage() {
    let mut call = empty_call();
    let request = fixture_json("anthropic.stream.request.json");
    let events = stream_events("anthropic.stream.sse");
    fill_call(
        &mut call,
        WireFormat::Anthropic,
        &request,
        Some(&RecordedResponse::Stream(events)),
    )
    .expect("fills");

    assert_eq!(call.streaming, Some(true));
    assert_eq!(call.system_instructions, Some(vec![Part::text(SYSTEM)]));
    assert_eq!(
        call.request_params.extra.get("thinking"),
        Some(&json!({"type": "enabled", "budget_tokens": 512}))
    );
    assert_eq!(
        call.response_id.as_deref(),
        Some("msg_014p7gG3wDgGV9EUtLvnow3U")
    );
    assert_eq!(
        serde_json::to_value(&call.output_messages).expect("serialize"),
        json!([{"role": "assistant", "finish_reason": "tool_call", "parts": [
            {"type": "reasoning", "content": "The user wants the weather in Tokyo; I should call the tool."},
            {"type": "text", "content": PRE},
            {"type": "tool_call", "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "name": "get_weather",
             "arguments": {"city": "Tokyo", "unit": "celsius"}}
        ]}])
    );
    assert_eq!(call.finish_reasons, Some(vec!["tool_use".to_owned()]));
    // Input from message_start (472 + 1024 cached), output from message_delta.
    assert_eq!(
        call.usage,
        Usage {
            input_tokens: Some(1496),
            output_tokens: Some(89),
            cached_input_tokens: Some(1024),
            reasoning_tokens: None,
        }
    );
    assert_eq!(call.status, CallStatus::Ok);
}

#[test]
fn responses_exchange_maps_instructions_items_and_options() {
    let mut call = empty_call();
    let request = fixture_json("openai_responses.tool_result.request.json");
    let response =
        RecordedResponse::Body(fixture_json("openai_responses.tool_result.response.json"));
    fill_call(
        &mut call,
        WireFormat::OpenAiResponses,
        &request,
        Some(&response),
    )
    .expect("fills");

    assert_eq!(call.provider.as_deref(), Some("openai"));
    assert_eq!(call.system_instructions, Some(vec![Part::text(SYSTEM)]));
    assert_eq!(
        serde_json::to_value(&call.input_messages).expect("serialize"),
        expected_history("call_3f294f0c2265d070835c")
    );
    assert_eq!(
        serde_json::to_value(&call.request_params).expect("serialize"),
        json!({
            "temperature": 0.2, "top_p": 0.9, "max_tokens": 256,
            "response_format": {"type": "json_schema",
                "json_schema": {"name": "weather", "schema": {"type": "object"}, "strict": true}},
            "tool_choice": "auto", "reasoning_effort": "low", "store": false
        })
    );
    assert_eq!(
        serde_json::to_value(&call.output_messages).expect("serialize"),
        json!([{"role": "assistant", "finish_reason": "stop", "parts": [
            {"type": "reasoning", "content": "The tool says sunny, 18 degrees."},
            {"type": "text", "content": FINAL}
        ]}])
    );
    assert_eq!(call.finish_reasons, Some(vec!["completed".to_owned()]));
    assert_eq!(
        call.usage,
        Usage {
            input_tokens: Some(131),
            output_tokens: Some(40),
            cached_input_tokens: Some(64),
            reasoning_tokens: Some(23),
        }
    );
}

#[test]
fn responses_stream_parses_like_the_body_it_completes_with() {
    let streamed = parse_response(
        WireFormat::OpenAiResponses,
        &RecordedResponse::Stream(stream_events("openai_responses.stream.sse")),
    )
    .expect("stream parses");
    let body = parse_response(
        WireFormat::OpenAiResponses,
        &RecordedResponse::Body(fixture_json("openai_responses.tool_result.response.json")),
    )
    .expect("body parses");
    assert_eq!(streamed, body);
    assert!(streamed.complete);
}

#[test]
fn a_stream_cut_before_its_final_event_keeps_the_partial_answer_and_is_an_error() {
    let mut events = stream_events("anthropic.stream.sse");
    events.truncate(events.len() - 4); // up to the second piece of tool input
    let mut call = empty_call();
    let request = fixture_json("anthropic.stream.request.json");
    fill_call(
        &mut call,
        WireFormat::Anthropic,
        &request,
        Some(&RecordedResponse::Stream(events)),
    )
    .expect("fills");
    assert_eq!(call.status, CallStatus::Error);
    let error = call.error.as_ref().expect("error set");
    assert_eq!(error.error_type.as_deref(), Some("incomplete_stream"));
    let output = &call.output_messages.as_ref().expect("partial output")[0];
    assert_eq!(output.joined_text().as_deref(), Some(PRE));
    // The tool input stopped mid-JSON: kept as the text that arrived.
    let (_, _, arguments) = output.tool_calls().next().expect("partial tool call");
    assert_eq!(arguments, &json!(r#"{"city": "Tok"#));

    // A Responses stream cut before its message item is done is rebuilt
    // from the text deltas that did arrive.
    let mut events = stream_events("openai_responses.stream.sse");
    events.truncate(events.len() - 3);
    let parsed = parse_response(
        WireFormat::OpenAiResponses,
        &RecordedResponse::Stream(events),
    )
    .expect("parses");
    assert!(!parsed.complete);
    assert_eq!(
        parsed.output_messages[0].joined_text().as_deref(),
        Some(FINAL)
    );
}

#[test]
fn error_bodies_make_error_calls_with_type_and_message() {
    let mut call = empty_call();
    let request = fixture_json("openai_chat.tool_result.request.json");
    let response = RecordedResponse::Body(fixture_json("openai_chat.error.response.json"));
    fill_call(&mut call, WireFormat::OpenAiChat, &request, Some(&response)).expect("fills");
    assert_eq!(call.status, CallStatus::Error);
    let error = call.error.expect("error");
    assert_eq!(error.error_type.as_deref(), Some("rate_limit_exceeded"));
    assert!(
        error
            .message
            .as_deref()
            .is_some_and(|message| message.starts_with("Rate limit reached"))
    );
    assert_eq!(call.output_messages, None);

    let mut call = empty_call();
    let request = fixture_json("anthropic.tool_result.request.json");
    let response = RecordedResponse::Body(fixture_json("anthropic.error.response.json"));
    fill_call(&mut call, WireFormat::Anthropic, &request, Some(&response)).expect("fills");
    assert_eq!(call.status, CallStatus::Error);
    let error = call.error.expect("error");
    assert_eq!(error.error_type.as_deref(), Some("overloaded_error"));
    assert_eq!(error.message.as_deref(), Some("Overloaded"));

    // An error event in the middle of a stream.
    let mut events = stream_events("anthropic.stream.sse");
    events.truncate(5);
    events.push(
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    );
    let parsed =
        parse_response(WireFormat::Anthropic, &RecordedResponse::Stream(events)).expect("parses");
    assert_eq!(
        parsed.error.and_then(|error| error.error_type).as_deref(),
        Some("overloaded_error")
    );
}

#[test]
fn legacy_functions_and_function_messages_become_tool_calls_and_results() {
    let request = json!({
        "model": "gpt-3.5-turbo-0613",
        "messages": [
            {"role": "user", "content": "Weather in Oslo?"},
            {"role": "assistant", "content": null,
             "function_call": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}},
            {"role": "function", "name": "get_weather", "content": "{\"temperature\": -3}"}
        ],
        "functions": [{"name": "get_weather", "parameters": {"type": "object"}}],
        "function_call": {"name": "get_weather"}
    });
    let parsed = parse_request(WireFormat::OpenAiChat, &request).expect("parses");
    assert_eq!(
        serde_json::to_value(&parsed.input_messages).expect("serialize"),
        json!([
            {"role": "user", "parts": [{"type": "text", "content": "Weather in Oslo?"}]},
            {"role": "assistant", "parts": [
                {"type": "tool_call", "id": null, "name": "get_weather", "arguments": {"city": "Oslo"}}]},
            {"role": "tool", "name": "get_weather", "parts": [
                {"type": "tool_call_response", "id": null, "response": "{\"temperature\": -3}"}]}
        ])
    );
    assert_eq!(
        parsed.tool_definitions,
        Some(vec![
            json!({"type": "function", "name": "get_weather", "parameters": {"type": "object"}})
        ])
    );
    assert_eq!(
        parsed.params.tool_choice,
        Some(json!({"type": "function", "name": "get_weather"}))
    );
}

#[test]
fn images_in_both_formats_become_blob_and_uri_parts() {
    let openai = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is in these?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}
    ]}]});
    let anthropic = json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is in these?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}
    ]}]});
    let expected = json!([{"role": "user", "parts": [
        {"type": "text", "content": "What is in these?"},
        {"type": "blob", "modality": "image", "mime_type": "image/png", "content": "iVBORw0KGgo="},
        {"type": "uri", "modality": "image", "uri": "https://example.com/cat.jpg"}
    ]}]);
    for (format, request) in [
        (WireFormat::OpenAiChat, openai),
        (WireFormat::Anthropic, anthropic),
    ] {
        let parsed = parse_request(format, &request).expect("parses");
        assert_eq!(
            serde_json::to_value(&parsed.input_messages).expect("serialize"),
            expected,
            "{format:?}"
        );
    }
}

#[test]
fn anthropic_user_turn_with_several_tool_results_and_text_splits_in_order() {
    let request = json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_a", "content": "18"},
            {"type": "tool_result", "tool_use_id": "toolu_b", "content": "21", "is_error": false},
            {"type": "text", "text": "Which is warmer?"}
        ]}
    ]});
    let parsed = parse_request(WireFormat::Anthropic, &request).expect("parses");
    let expected = vec![
        Message::new(
            "tool",
            vec![Part::ToolCallResponse {
                id: Some("toolu_a".into()),
                response: json!("18"),
            }],
        ),
        Message::new(
            "tool",
            vec![Part::ToolCallResponse {
                id: Some("toolu_b".into()),
                response: json!("21"),
            }],
        ),
        Message::text("user", "Which is warmer?"),
    ];
    assert_eq!(parsed.input_messages, expected);
}

#[test]
fn malformed_requests_are_rejected_with_the_field_named() {
    let missing = parse_request(WireFormat::OpenAiChat, &json!({"model": "gpt-4o"}));
    assert_eq!(
        missing,
        Err(WireError::MissingField {
            what: "an OpenAI chat request",
            field: "messages"
        })
    );
    let wrong = parse_request(
        WireFormat::Anthropic,
        &json!({"model": "m", "messages": [{"role": "user", "content": 5}]}),
    );
    let error = wrong.expect_err("content 5 is not content");
    assert!(error.to_string().contains("`content`"), "{error}");
    let not_object = parse_request(WireFormat::OpenAiResponses, &json!([1, 2]));
    assert!(matches!(not_object, Err(WireError::NotAnObject { .. })));
    assert_eq!(
        parse_response(
            WireFormat::OpenAiChat,
            &RecordedResponse::Stream(Vec::new())
        ),
        Err(WireError::EmptyStream)
    );
}

#[test]
fn request_formats_are_detected_from_fields_only_one_api_has() {
    let cases = [
        (
            "openai_chat.tool_result.request.json",
            Some(WireFormat::OpenAiChat),
        ),
        (
            "anthropic.tool_result.request.json",
            Some(WireFormat::Anthropic),
        ),
        ("anthropic.stream.request.json", Some(WireFormat::Anthropic)),
        (
            "openai_responses.tool_result.request.json",
            Some(WireFormat::OpenAiResponses),
        ),
    ];
    for (name, expected) in cases {
        assert_eq!(WireFormat::detect(&fixture_json(name)), expected, "{name}");
    }
    let ambiguous =
        json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]});
    assert_eq!(WireFormat::detect(&ambiguous), None);
}

/// Each API's documented tool-choice shapes land on the one canonical
/// shape, so calls recorded from different APIs compare and replay alike.
#[test]
fn tool_choice_of_every_format_is_read_into_the_canonical_shape() {
    let named = json!({"type": "function", "name": "get_weather"});
    let cases = [
        (WireFormat::OpenAiChat, json!("auto"), json!("auto")),
        (WireFormat::OpenAiChat, json!("none"), json!("none")),
        (WireFormat::OpenAiChat, json!("required"), json!("required")),
        (
            WireFormat::OpenAiChat,
            json!({"type": "function", "function": {"name": "get_weather"}}),
            named.clone(),
        ),
        (WireFormat::OpenAiResponses, json!("auto"), json!("auto")),
        (WireFormat::OpenAiResponses, json!("none"), json!("none")),
        (
            WireFormat::OpenAiResponses,
            json!("required"),
            json!("required"),
        ),
        (WireFormat::OpenAiResponses, named.clone(), named.clone()),
        (
            WireFormat::Anthropic,
            json!({"type": "auto"}),
            json!("auto"),
        ),
        (
            WireFormat::Anthropic,
            json!({"type": "any"}),
            json!("required"),
        ),
        (
            WireFormat::Anthropic,
            json!({"type": "none"}),
            json!("none"),
        ),
        (
            WireFormat::Anthropic,
            json!({"type": "tool", "name": "get_weather"}),
            named.clone(),
        ),
    ];
    for (format, choice, canonical) in cases {
        let mut request = match format {
            WireFormat::OpenAiResponses => json!({"model": "m", "input": "Weather?"}),
            WireFormat::Anthropic => json!({"model": "m", "max_tokens": 10,
                "messages": [{"role": "user", "content": "Weather?"}]}),
            WireFormat::OpenAiChat => {
                json!({"model": "m", "messages": [{"role": "user", "content": "Weather?"}]})
            }
        };
        request["tool_choice"] = choice.clone();
        let parsed = parse_request(format, &request).expect("parses");
        assert_eq!(
            parsed.params.tool_choice,
            Some(canonical),
            "{} {choice}",
            format.as_str()
        );
    }
}
