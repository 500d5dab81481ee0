//! The simulated traffic: users of the [`catalog`](crate::catalog)'s
//! services holding conversations at the same time.
//!
//! A fixed number of users are active at once; each runs a conversation of
//! 1–12 turns with think time between turns, and starts a new one when it
//! ends. Turns are emitted in time order across all users, so conversations
//! interleave in the exported stream as they would from a busy deployment.
//! Each turn is one trace: a root span, one `chat` call (two when the model
//! first calls a tool, with an `execute_tool` span between them), and now
//! and then a failed call that the app retries. Every call resends the
//! conversation so far, which is what makes chat telemetry so repetitive,
//! and what the store's content deduplication is for.
//!
//! The same turns can be written in two conventions ([`Convention`]): the
//! OTel GenAI one of [`spans`], or OpenInference's of [`openinference`],
//! where turns of RAG services first retrieve passages from a
//! [`knowledge`] base. Both come from the same draws, so one seed gives
//! the same conversations, texts and ids in either; the retrievals draw
//! from a stream of their own.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use serde_json::{Value, json};

use crate::catalog::{INSTANCES_PER_SERVICE, Model, SERVICES, SYSTEM_PROMPTS, Service};
use crate::knowledge::{self, KnowledgeBase};
use crate::openinference::{self, LlmCall, Session};
use crate::rng::Rng;
use crate::spans::{self, ChatCall, RootRequest, ScopeKind, SpanFrame, ToolExecution};
use crate::text::TextGen;

/// How the spans describe the calls (`--workload`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Convention {
    /// OTel GenAI 1.37+: content as JSON strings in the part schema.
    #[value(name = "genai")]
    GenAi,
    /// Arize OpenInference: flattened messages plus the raw provider
    /// request and response, RETRIEVER, TOOL and CHAIN spans.
    #[value(name = "openinference")]
    OpenInference,
}

/// Users in a conversation at any moment.
const CONCURRENT_USERS: usize = 48;
/// 2026-01-01T00:00:00Z: a fixed start so the workload is reproducible.
const START_UNIX_NANO: u64 = 1_767_225_600_000_000_000;
const MILLI: u64 = 1_000_000;
/// Share of answering calls that fail first and are retried by the app.
const ERROR_RATE: f64 = 0.015;
/// Traces whose spans are read back after the run.
const SAMPLED_TRACES: usize = 200;

/// One span and where it belongs.
pub struct GeneratedSpan {
    pub span: Span,
    /// Index into [`Workload::resources`].
    pub resource: usize,
    pub service: usize,
    pub scope: ScopeKind,
    pub llm_call: bool,
    /// Part of a conversation of two or more turns.
    pub multi_turn: bool,
}

/// A trace to read back after the run, ids in lower-case hex.
pub struct SampledTrace {
    pub trace_id: String,
    pub span_ids: Vec<String>,
    /// Spans in it that are model calls, so calls the server should derive.
    pub llm_calls: usize,
}

pub struct Workload {
    pub convention: Convention,
    /// In the order the spans ended, which is the order an SDK exports them.
    pub spans: Vec<GeneratedSpan>,
    /// Per service and instance: `service * INSTANCES_PER_SERVICE + instance`.
    pub resources: Vec<Resource>,
    pub samples: Vec<SampledTrace>,
    pub traces: usize,
    pub conversations: usize,
    pub vocabulary_words: usize,
    pub system_prompt_bytes: Vec<usize>,
}

impl Workload {
    pub fn scope(&self, service: usize, kind: ScopeKind) -> InstrumentationScope {
        match self.convention {
            Convention::GenAi => spans::scope(&SERVICES[service], kind),
            Convention::OpenInference => openinference::scope(&SERVICES[service], kind),
        }
    }

    /// The GenAI instrumentations name the semantic-conventions version;
    /// the OpenInference ones name none.
    pub fn schema_url(&self) -> &'static str {
        match self.convention {
            Convention::GenAi => "https://opentelemetry.io/schemas/1.37.0",
            Convention::OpenInference => "",
        }
    }
}

/// One user's conversation in progress. History messages are kept
/// serialized, as they are resent verbatim on every turn.
struct Conversation {
    id: String,
    service: usize,
    instance: usize,
    model: usize,
    prompt: usize,
    user_id: String,
    client_address: String,
    user_agent: &'static str,
    turns_planned: usize,
    turns_done: usize,
    history_json: Vec<String>,
}

const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "python-httpx/0.28.1",
];

struct Generator {
    rng: Rng,
    text: TextGen,
    system_prompts: Vec<String>,
    tool_definitions: Vec<Option<String>>,
    service_weights: Vec<u32>,
    conversations_started: usize,
    /// Set for the OpenInference convention.
    openinference: Option<OpenInferenceParts>,
}

/// What only the OpenInference workload needs.
struct OpenInferenceParts {
    /// Retrievals draw from here, so the turns stay the GenAI workload's.
    rng: Rng,
    /// Per service; `None` for services that never retrieve.
    knowledge: Vec<Option<KnowledgeBase>>,
    /// Per service, in its provider's request shape.
    tools: Vec<Vec<Value>>,
}

/// Generates traces until at least `target_spans` spans exist (the trace
/// that crosses the target is kept whole).
pub fn generate(target_spans: usize, seed: u64, convention: Convention) -> Workload {
    let mut rng = Rng::new(seed);
    let text = TextGen::new();
    let mut prompt_rng = rng.fork();
    let mut system_prompts = Vec::with_capacity(SYSTEM_PROMPTS);
    for index in 0..SYSTEM_PROMPTS {
        let service = &SERVICES[index % SERVICES.len()];
        let target_bytes = prompt_rng.log_uniform(500, 4_000);
        system_prompts.push(text.system_prompt(&mut prompt_rng, service.role, target_bytes));
    }
    let mut generator = Generator {
        rng: rng.fork(),
        system_prompts,
        tool_definitions: SERVICES.iter().map(spans::tool_definitions_json).collect(),
        service_weights: SERVICES.iter().map(|s| s.weight).collect(),
        text,
        conversations_started: 0,
        openinference: None,
    };
    let resources = build_resources(&mut rng.fork());
    if convention == Convention::OpenInference {
        let mut extra_rng = rng.fork();
        let mut knowledge = Vec::with_capacity(SERVICES.len());
        for service in SERVICES {
            knowledge.push(KnowledgeBase::build(
                service,
                &generator.text,
                &mut extra_rng,
            ));
        }
        generator.openinference = Some(OpenInferenceParts {
            rng: extra_rng,
            knowledge,
            tools: SERVICES.iter().map(openinference::tool_schemas).collect(),
        });
    }
    let sample_every = (target_spans / 3 / SAMPLED_TRACES).max(1);

    let mut users = Vec::with_capacity(CONCURRENT_USERS);
    let mut queue = BinaryHeap::new();
    for user in 0..CONCURRENT_USERS {
        users.push(generator.new_conversation());
        // Users arrive spread over the first minute.
        let first_turn = START_UNIX_NANO + generator.rng.below(60_000) as u64 * MILLI;
        queue.push(Reverse((first_turn, user)));
    }

    let mut spans = Vec::with_capacity(target_spans + 8);
    let mut samples = Vec::new();
    let mut traces = 0;
    while spans.len() < target_spans {
        let Some(Reverse((start, user))) = queue.pop() else {
            break;
        };
        let (trace, end) = generator.turn(&mut users[user], start);
        if traces % sample_every == 0 && samples.len() < SAMPLED_TRACES {
            samples.push(sample(&trace));
        }
        traces += 1;
        spans.extend(trace);
        let next_turn = if users[user].turns_done >= users[user].turns_planned {
            users[user] = generator.new_conversation();
            end + generator.rng.between(1_000, 30_000) as u64 * MILLI
        } else {
            // People read the answer and type the next question.
            end + generator.rng.log_uniform(3_000, 120_000) as u64 * MILLI
        };
        queue.push(Reverse((next_turn, user)));
    }

    Workload {
        convention,
        spans,
        resources,
        samples,
        traces,
        conversations: generator.conversations_started,
        vocabulary_words: generator.text.vocabulary_len(),
        system_prompt_bytes: generator.system_prompts.iter().map(String::len).collect(),
    }
}

fn build_resources(rng: &mut Rng) -> Vec<Resource> {
    let mut resources = Vec::new();
    for service in SERVICES {
        for instance in 0..INSTANCES_PER_SERVICE {
            let instance_id = hex(&rng.bytes::<16>());
            let host = format!("{}-{}-{}", service.name, instance, &instance_id[..5]);
            resources.push(spans::resource(service, &instance_id, &host));
        }
    }
    resources
}

fn sample(trace: &[GeneratedSpan]) -> SampledTrace {
    let mut span_ids = Vec::with_capacity(trace.len());
    let mut llm_calls = 0;
    for generated in trace {
        span_ids.push(hex(&generated.span.span_id));
        llm_calls += usize::from(generated.llm_call);
    }
    let trace_id = trace
        .first()
        .map(|generated| hex(&generated.span.trace_id))
        .unwrap_or_default();
    SampledTrace {
        trace_id,
        span_ids,
        llm_calls,
    }
}

pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// What one model call answered, for the span and the history.
struct Answer {
    /// The message as it goes into later turns' input.
    message: Value,
    /// `finish_reason` in the OTel output message.
    finish_reason: &'static str,
    output_bytes: usize,
}

/// The spans of one turn, built up as the turn is simulated.
struct TurnTrace<'a> {
    conversation: &'a Conversation,
    service: &'static Service,
    model: &'static Model,
    trace_id: [u8; 16],
    root_id: [u8; 8],
    spans: Vec<GeneratedSpan>,
    clock_unix_nano: u64,
    /// Passages retrieved for this turn, as appended to the system prompt
    /// (OpenInference workload only).
    context: Option<String>,
}

impl Generator {
    fn new_conversation(&mut self) -> Conversation {
        let rng = &mut self.rng;
        let service_index = rng.weighted(&self.service_weights);
        let service = &SERVICES[service_index];
        // A service uses the prompts of the pool assigned to it, a few
        // versions each; conversations share them.
        let mut own_prompts = Vec::new();
        for prompt in 0..SYSTEM_PROMPTS {
            if prompt % SERVICES.len() == service_index {
                own_prompts.push(prompt);
            }
        }
        let prompt = *rng.pick(&own_prompts);
        let user_number = rng.between(1, 5_000);
        self.conversations_started += 1;
        Conversation {
            id: format!("conv_{}", hex(&rng.bytes::<12>())),
            service: service_index,
            instance: rng.below(INSTANCES_PER_SERVICE),
            model: rng.below(service.models.len()),
            prompt,
            user_id: format!("user-{user_number:05}"),
            client_address: format!(
                "10.{}.{}.{}",
                user_number % 7,
                user_number / 256 % 256,
                user_number % 256
            ),
            user_agent: USER_AGENTS[rng.below(USER_AGENTS.len())],
            turns_planned: rng.weighted(service.turn_weights) + 1,
            turns_done: 0,
            history_json: Vec::new(),
        }
    }

    /// Simulates one turn starting at `start_unix_nano`; returns its spans
    /// (children first, root last) and its end time.
    fn turn(
        &mut self,
        conversation: &mut Conversation,
        start_unix_nano: u64,
    ) -> (Vec<GeneratedSpan>, u64) {
        let service = &SERVICES[conversation.service];
        let model = &service.models[conversation.model];
        let user_bytes = self.rng.log_uniform(100, 3_000);
        let user_text = self.text.user_message(&mut self.rng, user_bytes);
        let user_message = spans::text_message("user", &user_text).to_string();

        let mut trace = TurnTrace {
            conversation,
            service,
            model,
            trace_id: self.rng.bytes(),
            root_id: self.rng.bytes(),
            spans: Vec::with_capacity(5),
            clock_unix_nano: start_unix_nano + self.rng.between(3, 25) as u64 * MILLI,
            context: None,
        };
        self.retrieve(&mut trace, &user_text);
        let mut input = trace.conversation.history_json.clone();
        input.push(user_message.clone());
        let mut new_history = vec![user_message];

        if !service.tools.is_empty() && self.rng.chance(service.tool_rate) {
            let (call_message, response_message) = self.tool_round(&mut trace, &input);
            input.push(call_message.clone());
            input.push(response_message.clone());
            new_history.push(call_message);
            new_history.push(response_message);
        }
        if self.rng.chance(ERROR_RATE) {
            self.failed_call(&mut trace, &input);
        }
        let answer_bytes = self.rng.log_uniform(200, 3_000);
        let answer_text = self.text.answer(&mut self.rng, answer_bytes);
        let answer = Answer {
            message: spans::text_message("assistant", &answer_text),
            finish_reason: "stop",
            output_bytes: answer_text.len(),
        };
        new_history.push(answer.message.to_string());
        self.call(&mut trace, &input, answer);

        let (spans, end_unix_nano) =
            self.close_trace(trace, start_unix_nano, &user_text, &answer_text);
        conversation.history_json.extend(new_history);
        conversation.turns_done += 1;
        (spans, end_unix_nano)
    }

    /// Adds the root span, which ends last, and returns the trace's spans
    /// with its end time. `question` and `answer` are the turn's texts,
    /// which an OpenInference `CHAIN` root carries.
    fn close_trace(
        &mut self,
        trace: TurnTrace<'_>,
        start_unix_nano: u64,
        question: &str,
        answer: &str,
    ) -> (Vec<GeneratedSpan>, u64) {
        let end_unix_nano = trace.clock_unix_nano + self.rng.between(2, 15) as u64 * MILLI;
        let conversation = trace.conversation;
        let frame = SpanFrame {
            trace_id: trace.trace_id,
            span_id: trace.root_id,
            parent_span_id: None,
            start_time_unix_nano: start_unix_nano,
            end_time_unix_nano: end_unix_nano,
        };
        let root = match self.openinference {
            None => spans::root_span(
                &frame,
                &RootRequest {
                    service: trace.service,
                    model: trace.model,
                    conversation_id: &conversation.id,
                    user_id: &conversation.user_id,
                    client_address: &conversation.client_address,
                    user_agent: conversation.user_agent,
                },
            ),
            Some(_) => openinference::chain_span(&frame, &session(conversation), question, answer),
        };
        let mut spans = trace.spans;
        spans.push(GeneratedSpan {
            span: root,
            resource: resource_index(conversation),
            service: conversation.service,
            scope: ScopeKind::Root,
            llm_call: false,
            multi_turn: conversation.turns_planned > 1,
        });
        (spans, end_unix_nano)
    }

    /// The model asks for a tool, the app runs it: a `chat` span and an
    /// `execute_tool` span. Returns the tool call and tool response
    /// messages for the next call's input.
    fn tool_round(&mut self, trace: &mut TurnTrace<'_>, input: &[String]) -> (String, String) {
        let tool = self.rng.pick(trace.service.tools);
        let call_id = tool_call_id(trace.service.provider, &mut self.rng);
        let mut arguments = serde_json::Map::new();
        for parameter in tool.parameters {
            let value = self.tool_argument(parameter, trace.conversation);
            arguments.insert((*parameter).to_owned(), json!(value));
        }
        let arguments = Value::Object(arguments);
        let call_message = spans::tool_call_message(&call_id, tool.name, &arguments);
        let output_bytes = arguments.to_string().len() + 40;
        self.call(
            trace,
            input,
            Answer {
                message: call_message.clone(),
                finish_reason: "tool_call",
                output_bytes,
            },
        );

        let result_bytes = self.rng.log_uniform(200, 2_000);
        let result_json = self
            .text
            .json_document(&mut self.rng, result_bytes)
            .to_string();
        let tool_start = trace.clock_unix_nano + MILLI;
        let tool_end = tool_start + self.rng.log_uniform(20, 1_500) as u64 * MILLI;
        let frame = self.child_frame(trace, tool_start, tool_end);
        let arguments_json = arguments.to_string();
        let span = match self.openinference {
            None => spans::tool_span(
                &frame,
                &ToolExecution {
                    name: tool.name,
                    call_id: &call_id,
                    arguments_json: &arguments_json,
                    result_json: &result_json,
                },
            ),
            Some(_) => openinference::tool_span(
                &frame,
                &session(trace.conversation),
                tool,
                &arguments_json,
                &result_json,
            ),
        };
        push_span(trace, span, ScopeKind::Tool, false);
        trace.clock_unix_nano = tool_end;
        let response_message = spans::tool_response_message(&call_id, &result_json);
        (call_message.to_string(), response_message.to_string())
    }

    /// In the OpenInference workload, a RAG service's turn may first fetch
    /// passages for the question: a `RETRIEVER` span, and the passages go
    /// into this turn's system prompt.
    fn retrieve(&mut self, trace: &mut TurnTrace<'_>, question: &str) {
        let Some(parts) = self.openinference.as_mut() else {
            return;
        };
        let Some(knowledge) = &parts.knowledge[trace.conversation.service] else {
            return;
        };
        let rng = &mut parts.rng;
        if !rng.chance(trace.service.retrieval_rate) {
            return;
        }
        let retrieved = knowledge.retrieve(rng);
        let start = trace.clock_unix_nano + MILLI;
        let end = start + rng.log_uniform(20, 400) as u64 * MILLI;
        let frame = SpanFrame {
            trace_id: trace.trace_id,
            span_id: rng.bytes(),
            parent_span_id: Some(trace.root_id),
            start_time_unix_nano: start,
            end_time_unix_nano: end,
        };
        let span = openinference::retriever_span(
            &frame,
            &session(trace.conversation),
            question,
            &retrieved,
        );
        trace.context = Some(knowledge::context_block(&retrieved));
        push_span(trace, span, ScopeKind::Root, false);
        trace.clock_unix_nano = end;
    }

    /// The span of one model call in the workload's convention; `input`
    /// is the conversation without the system prompt, `output` the answer
    /// (none for a failed call).
    fn model_call_span(
        &self,
        trace: &TurnTrace<'_>,
        frame: &SpanFrame,
        call: &ChatCall<'_>,
        input: &[String],
        output: Option<&Value>,
    ) -> Span {
        let Some(parts) = &self.openinference else {
            return spans::chat_span(frame, call);
        };
        // The history is kept serialized for the GenAI spans; OpenInference
        // flattens it, so it is parsed back (all before the clock starts).
        let mut messages = Vec::with_capacity(input.len());
        for message in input {
            if let Ok(value) = serde_json::from_str::<Value>(message) {
                messages.push(value);
            }
        }
        let mut system_prompt = self.system_prompts[trace.conversation.prompt].clone();
        if let Some(context) = &trace.context {
            system_prompt.push_str(context);
        }
        openinference::llm_span(
            frame,
            &LlmCall {
                chat: call,
                session: session(trace.conversation),
                system_prompt: &system_prompt,
                input: &messages,
                output,
                tools: &parts.tools[trace.conversation.service],
            },
        )
    }

    fn tool_argument(&mut self, parameter: &str, conversation: &Conversation) -> String {
        let rng = &mut self.rng;
        match parameter {
            "order_number" => format!("{}", rng.between(100_000, 999_999)),
            "email" => format!("{}@example.com", conversation.user_id),
            "amount" => format!("{}.{:02}", rng.between(5, 500), rng.below(100)),
            "date" => format!("2026-{:02}-{:02}", rng.between(1, 12), rng.between(1, 28)),
            "days" => rng.between(1, 10).to_string(),
            "origin" | "destination" => {
                (*rng.pick(&["SFO", "JFK", "LHR", "CDG", "NRT", "FRA", "AMS", "SIN"])).to_owned()
            }
            "city" => {
                (*rng.pick(&["Lisbon", "Tokyo", "Denver", "Oslo", "Nairobi", "Lima"])).to_owned()
            }
            "path" => format!("src/{}.py", self.text.identifier(rng)),
            _ => self.text.short_phrase(rng),
        }
    }

    /// A model call that failed (rate limit, overload, timeout) before the
    /// app's retry.
    fn failed_call(&mut self, trace: &mut TurnTrace<'_>, input: &[String]) {
        let error_type = match trace.service.provider {
            "anthropic" => "overloaded_error",
            "openai" => *self.rng.pick(&["RateLimitError", "APITimeoutError"]),
            _ => *self.rng.pick(&["429", "503"]),
        };
        let start = trace.clock_unix_nano + MILLI;
        let end = start + self.rng.log_uniform(50, 30_000) as u64 * MILLI;
        let frame = self.child_frame(trace, start, end);
        let input_json = join(input);
        let system_json = self.system_instructions_json(trace);
        let call = ChatCall {
            service: trace.service,
            model: trace.model,
            conversation_id: &trace.conversation.id,
            system_instructions_json: system_json.as_deref(),
            input_messages_json: &input_json,
            output_messages_json: None,
            tool_definitions_json: self.tool_definitions[trace.conversation.service].as_deref(),
            finish_reason: "",
            response_id: "",
            input_tokens: 0,
            output_tokens: 0,
            cache_read_input_tokens: 0,
            max_tokens: 4_096,
            temperature: 0.7,
            error_type: Some(error_type),
        };
        let span = self.model_call_span(trace, &frame, &call, input, None);
        push_span(trace, span, ScopeKind::GenAi, true);
        // Back-off before the retry.
        trace.clock_unix_nano = end + self.rng.between(200, 2_000) as u64 * MILLI;
    }

    /// A successful model call with `input` that answered `answer`.
    fn call(&mut self, trace: &mut TurnTrace<'_>, input: &[String], answer: Answer) {
        let system_json = self.system_instructions_json(trace);
        let mut input_json = join(input);
        if trace.service.system_in_messages {
            let system =
                spans::text_message("system", &self.system_prompts[trace.conversation.prompt])
                    .to_string();
            let mut with_system = Vec::with_capacity(input.len() + 1);
            with_system.push(system.as_str());
            for message in input {
                with_system.push(message.as_str());
            }
            input_json = spans::join_json_array(&with_system);
        }
        let system_bytes = self.system_prompts[trace.conversation.prompt].len();
        let context_bytes = trace.context.as_ref().map_or(0, String::len);
        // About four bytes of English per token.
        let input_tokens =
            ((input_json.len() + system_json.as_ref().map_or(0, String::len) + context_bytes) / 4)
                as i64;
        let output_tokens = (answer.output_bytes / 4).max(1) as i64;
        // Providers cache the prompt prefix; the system prompt is warm
        // after a conversation's first call.
        let cache_read_input_tokens =
            if trace.service.provider == "anthropic" && trace.conversation.turns_done > 0 {
                (system_bytes / 4) as i64
            } else {
                0
            };
        let start = trace.clock_unix_nano + MILLI;
        let ttft_ms = self.rng.log_uniform(250, 2_500) as u64;
        let end =
            start + (ttft_ms + output_tokens as u64 * trace.model.ms_per_output_token) * MILLI;
        let frame = self.child_frame(trace, start, end);
        let provider_finish = provider_finish_reason(trace.service.provider, answer.finish_reason);
        let response_id = response_id(trace.service.provider, &mut self.rng);
        let output_json = spans::output_messages_json(answer.message.clone(), answer.finish_reason);
        let call = ChatCall {
            service: trace.service,
            model: trace.model,
            conversation_id: &trace.conversation.id,
            system_instructions_json: system_json.as_deref(),
            input_messages_json: &input_json,
            output_messages_json: Some(&output_json),
            tool_definitions_json: self.tool_definitions[trace.conversation.service].as_deref(),
            finish_reason: provider_finish,
            response_id: &response_id,
            input_tokens,
            output_tokens,
            cache_read_input_tokens,
            max_tokens: 4_096,
            temperature: 0.7,
            error_type: None,
        };
        let span = self.model_call_span(trace, &frame, &call, input, Some(&answer.message));
        push_span(trace, span, ScopeKind::GenAi, true);
        trace.clock_unix_nano = end;
    }

    fn system_instructions_json(&self, trace: &TurnTrace<'_>) -> Option<String> {
        if trace.service.system_in_messages {
            return None;
        }
        let prompt = &self.system_prompts[trace.conversation.prompt];
        Some(Value::Array(vec![json!({"type": "text", "content": prompt})]).to_string())
    }

    fn child_frame(&mut self, trace: &TurnTrace<'_>, start: u64, end: u64) -> SpanFrame {
        SpanFrame {
            trace_id: trace.trace_id,
            span_id: self.rng.bytes(),
            parent_span_id: Some(trace.root_id),
            start_time_unix_nano: start,
            end_time_unix_nano: end,
        }
    }
}

fn push_span(trace: &mut TurnTrace<'_>, span: Span, scope: ScopeKind, llm_call: bool) {
    trace.spans.push(GeneratedSpan {
        span,
        resource: resource_index(trace.conversation),
        service: trace.conversation.service,
        scope,
        llm_call,
        multi_turn: trace.conversation.turns_planned > 1,
    });
}

fn session(conversation: &Conversation) -> Session<'_> {
    Session {
        conversation_id: &conversation.id,
        user_id: &conversation.user_id,
    }
}

fn resource_index(conversation: &Conversation) -> usize {
    conversation.service * INSTANCES_PER_SERVICE + conversation.instance
}

fn join(messages: &[String]) -> String {
    let mut elements = Vec::with_capacity(messages.len());
    for message in messages {
        elements.push(message.as_str());
    }
    spans::join_json_array(&elements)
}

/// The provider's own word for why generation stopped.
fn provider_finish_reason(provider: &str, finish_reason: &str) -> &'static str {
    match (provider, finish_reason) {
        ("anthropic", "tool_call") => "tool_use",
        ("anthropic", _) => "end_turn",
        ("gcp.gemini", _) => "STOP",
        (_, "tool_call") => "tool_calls",
        _ => "stop",
    }
}

const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn random_id(prefix: &str, length: usize, rng: &mut Rng) -> String {
    let mut id = String::with_capacity(prefix.len() + length);
    id.push_str(prefix);
    for _ in 0..length {
        id.push(char::from(*rng.pick(ID_ALPHABET)));
    }
    id
}

fn response_id(provider: &str, rng: &mut Rng) -> String {
    match provider {
        "anthropic" => random_id("msg_01", 22, rng),
        "openai" => random_id("chatcmpl-", 29, rng),
        _ => hex(&rng.bytes::<16>()),
    }
}

fn tool_call_id(provider: &str, rng: &mut Rng) -> String {
    match provider {
        "anthropic" => random_id("toolu_01", 22, rng),
        _ => random_id("call_", 24, rng),
    }
}
