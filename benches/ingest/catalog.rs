//! The simulated applications: which services exist, which provider and
//! models each calls, how their traces are rooted and which tools they
//! offer the model. Plain data, so the traffic mix is easy to read and
//! change in one place.

/// How a service's traces start.
#[derive(Clone, Copy)]
pub enum Root {
    /// A web app: an HTTP server span `POST {route}` around the model calls.
    Http { route: &'static str },
    /// An agent framework: an `invoke_agent {agent}` span.
    Agent { agent: &'static str },
}

pub struct Model {
    pub request: &'static str,
    pub response: &'static str,
    /// Milliseconds per output token, for span durations.
    pub ms_per_output_token: u64,
}

pub struct Tool {
    pub name: &'static str,
    pub description: &'static str,
    /// Parameter names, all strings, for `gen_ai.tool.definitions`.
    pub parameters: &'static [&'static str],
}

pub struct Service {
    pub name: &'static str,
    pub version: &'static str,
    pub root: Root,
    pub provider: &'static str,
    pub server_address: &'static str,
    /// The instrumentation scope that reports its model calls.
    pub genai_scope: (&'static str, &'static str),
    pub models: &'static [Model],
    /// OpenAI-style APIs carry the system prompt as the first input
    /// message; the others (Anthropic, Gemini) as `gen_ai.system_instructions`.
    pub system_in_messages: bool,
    pub role: &'static str,
    pub tools: &'static [Tool],
    /// Share of turns in which the model calls a tool first.
    pub tool_rate: f64,
    /// Share of turns that first retrieve documents from the service's
    /// knowledge base for the prompt (the OpenInference workload only:
    /// RAG apps are what its RETRIEVER spans describe).
    pub retrieval_rate: f64,
    /// Relative number of conversations this service has.
    pub weight: u32,
    /// Weights of conversation lengths 1, 2, … turns.
    pub turn_weights: &'static [u32],
}

/// Conversation lengths for chat products: anything from one question to
/// a long session.
const CHAT_TURNS: &[u32] = &[14, 10, 9, 8, 7, 6, 5, 4, 3, 3, 2, 2];
/// One-shot tools that sometimes get a follow-up.
const ONE_SHOT_TURNS: &[u32] = &[8, 2];

pub const SERVICES: &[Service] = &[
    Service {
        name: "support-chat",
        version: "2.14.1",
        root: Root::Http { route: "/api/chat" },
        provider: "anthropic",
        server_address: "api.anthropic.com",
        genai_scope: ("opentelemetry.instrumentation.anthropic", "0.47.3"),
        models: &[
            Model {
                request: "claude-sonnet-4-5",
                response: "claude-sonnet-4-5-20250929",
                ms_per_output_token: 14,
            },
            Model {
                request: "claude-haiku-4-5",
                response: "claude-haiku-4-5-20251001",
                ms_per_output_token: 7,
            },
        ],
        system_in_messages: false,
        role: "the customer support assistant of an online store that sells outdoor equipment",
        tools: &[
            Tool {
                name: "lookup_order",
                description: "Find an order by its number and return its items, status and shipping events.",
                parameters: &["order_number", "email"],
            },
            Tool {
                name: "issue_refund",
                description: "Refund part or all of an order to the original payment method.",
                parameters: &["order_number", "amount", "reason"],
            },
        ],
        tool_rate: 0.3,
        retrieval_rate: 0.4,
        weight: 30,
        turn_weights: CHAT_TURNS,
    },
    Service {
        name: "code-assistant",
        version: "0.9.0",
        root: Root::Agent {
            agent: "code-assistant",
        },
        provider: "openai",
        server_address: "api.openai.com",
        genai_scope: ("opentelemetry.instrumentation.openai_v2", "2.3b0"),
        models: &[
            Model {
                request: "gpt-4.1",
                response: "gpt-4.1-2025-04-14",
                ms_per_output_token: 12,
            },
            Model {
                request: "o4-mini",
                response: "o4-mini-2025-04-16",
                ms_per_output_token: 9,
            },
        ],
        system_in_messages: true,
        role: "a senior software engineer who helps colleagues read, write and debug code",
        tools: &[
            Tool {
                name: "search_repository",
                description: "Search the repository for files and symbols matching a query.",
                parameters: &["query", "path"],
            },
            Tool {
                name: "run_tests",
                description: "Run the test suite or a subset of it and return the failures.",
                parameters: &["filter"],
            },
        ],
        tool_rate: 0.35,
        retrieval_rate: 0.2,
        weight: 25,
        turn_weights: CHAT_TURNS,
    },
    Service {
        name: "docs-search",
        version: "1.3.7",
        root: Root::Http { route: "/v1/ask" },
        provider: "openai",
        server_address: "api.openai.com",
        genai_scope: ("opentelemetry.instrumentation.openai_v2", "2.3b0"),
        models: &[Model {
            request: "gpt-4o-mini",
            response: "gpt-4o-mini-2024-07-18",
            ms_per_output_token: 6,
        }],
        system_in_messages: true,
        role: "a documentation assistant that answers questions from the product manual and cites its sources",
        tools: &[Tool {
            name: "search_docs",
            description: "Full-text search over the documentation; returns the best matching passages.",
            parameters: &["query"],
        }],
        tool_rate: 0.5,
        retrieval_rate: 0.9,
        weight: 20,
        turn_weights: CHAT_TURNS,
    },
    Service {
        name: "travel-planner",
        version: "3.0.2",
        root: Root::Agent {
            agent: "travel-planner",
        },
        provider: "gcp.gemini",
        server_address: "generativelanguage.googleapis.com",
        genai_scope: ("opentelemetry.instrumentation.google_genai", "0.4b0"),
        models: &[Model {
            request: "gemini-2.5-flash",
            response: "gemini-2.5-flash",
            ms_per_output_token: 5,
        }],
        system_in_messages: false,
        role: "a travel planner who builds itineraries within the traveller's budget",
        tools: &[
            Tool {
                name: "search_flights",
                description: "Search flights between two airports on a date.",
                parameters: &["origin", "destination", "date"],
            },
            Tool {
                name: "get_weather",
                description: "Weather forecast for a city for the next days.",
                parameters: &["city", "days"],
            },
        ],
        tool_rate: 0.3,
        retrieval_rate: 0.0,
        weight: 12,
        turn_weights: CHAT_TURNS,
    },
    Service {
        name: "contract-review",
        version: "1.0.5",
        root: Root::Http { route: "/review" },
        provider: "mistral_ai",
        server_address: "api.mistral.ai",
        genai_scope: ("opentelemetry.instrumentation.mistralai", "0.47.3"),
        models: &[Model {
            request: "mistral-large-latest",
            response: "mistral-large-2411",
            ms_per_output_token: 11,
        }],
        system_in_messages: true,
        role: "a legal analyst who reviews contracts and flags risky clauses",
        tools: &[],
        tool_rate: 0.0,
        retrieval_rate: 0.5,
        weight: 8,
        turn_weights: CHAT_TURNS,
    },
    Service {
        name: "email-writer",
        version: "0.4.1",
        root: Root::Http {
            route: "/api/draft",
        },
        provider: "anthropic",
        server_address: "api.anthropic.com",
        genai_scope: ("opentelemetry.instrumentation.anthropic", "0.47.3"),
        models: &[Model {
            request: "claude-haiku-4-5",
            response: "claude-haiku-4-5-20251001",
            ms_per_output_token: 7,
        }],
        system_in_messages: false,
        role: "a writing assistant that drafts short, friendly sales emails",
        tools: &[],
        tool_rate: 0.0,
        retrieval_rate: 0.0,
        weight: 10,
        turn_weights: ONE_SHOT_TURNS,
    },
];

/// Instances (hosts) per service, each with its own resource.
pub const INSTANCES_PER_SERVICE: usize = 2;

/// System prompts in the shared pool; each service uses a few of them
/// (prompt versions, A/B variants).
pub const SYSTEM_PROMPTS: usize = 20;
