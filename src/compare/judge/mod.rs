//! LLM-as-judge: the prompt a judge is sent ([`template`]), what it must
//! answer and how two answers in swapped orders combine ([`verdict`]), both
//! pure, and the I/O that asks it ([`ask`]).

pub mod ask;
pub mod template;
pub mod verdict;

pub use template::{
    ANSWER_A_MARKER, ANSWER_B_MARKER, DEFAULT_PAIRWISE_TEMPLATE, DEFAULT_RUBRIC,
    DEFAULT_RUBRIC_TEMPLATE, JudgeTemplate, JudgedPrompt, Position, TemplateError, TemplateKind,
    pairwise_messages, render_answer, render_prompt, rubric_messages,
};
pub use verdict::{
    Outcome, PairJudgement, PairwiseVerdict, RubricScore, VerdictError, Winner, candidate_outcome,
    combine_orders, pairwise_verdict_schema, parse_pairwise_verdict, parse_rubric_score,
    response_format, rubric_score_schema,
};
