//! Running the judge: the I/O around [`crate::compare::judge`].
//!
//! A pair is judged twice, candidate as A and candidate as B. Each order is
//! asked until its reply parses, at most `1 + unparseable_retries` times;
//! every reply is kept word for word. An order whose replies never parse
//! is recorded as `unparseable` with those replies and counts as no
//! verdict: nothing is guessed from prose. An order whose request failed
//! (the target kept failing, or the budget refused it) is `failed`. The
//! pair gets a [`PairJudgement`] only when both orders gave a verdict.
//!
//! In rubric mode each answer is graded alone, 1 to 10, with the same
//! retry rule, and the pair gets both grades.

use serde::{Deserialize, Serialize};

use crate::compare::caller::Caller;
use crate::compare::judge::{
    self, JudgeTemplate, JudgedPrompt, PairJudgement, Position, TemplateKind, Winner,
};
use crate::compare::summary::aggregate::RubricPair;
use crate::model::Message;

/// How one judge request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JudgeStatus {
    Ok,
    /// Every reply was read and none held a valid verdict.
    Unparseable,
    /// No reply: the target failed or the budget refused the request.
    Failed,
}

/// One order of a pairwise judgement, or one rubric grade.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JudgeReply {
    pub status: JudgeStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub winner: Option<Winner>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rationale: Option<String>,
    /// The judge's replies, in order (retries of unparseable ones included).
    pub raw_replies: Vec<String>,
    /// Why the last reply was refused, or why the request failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl JudgeReply {
    fn failed(raw_replies: Vec<String>, error: String) -> Self {
        JudgeReply {
            status: JudgeStatus::Failed,
            winner: None,
            score: None,
            rationale: None,
            raw_replies,
            error: Some(error),
        }
    }
}

/// Both orders of a pairwise judgement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairwiseRecord {
    pub candidate_as_a: JudgeReply,
    pub candidate_as_b: JudgeReply,
    /// Set only when both orders gave a verdict.
    pub judgement: Option<PairJudgement>,
}

impl PairwiseRecord {
    pub fn unparseable(&self) -> bool {
        self.candidate_as_a.status == JudgeStatus::Unparseable
            || self.candidate_as_b.status == JudgeStatus::Unparseable
    }

    pub fn failed(&self) -> bool {
        self.candidate_as_a.status == JudgeStatus::Failed
            || self.candidate_as_b.status == JudgeStatus::Failed
    }

    /// The rationale that explains the combined outcome: the order in which
    /// the candidate was shown first, else the other.
    pub fn rationale(&self) -> Option<&str> {
        self.candidate_as_a
            .rationale
            .as_deref()
            .or(self.candidate_as_b.rationale.as_deref())
    }
}

/// Both rubric grades of a pair.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RubricRecord {
    pub original: JudgeReply,
    pub candidate: JudgeReply,
    pub grades: Option<RubricPair>,
}

/// A judge: a caller, a validated template and the retry rule.
pub struct Judge {
    pub caller: Caller,
    pub template: JudgeTemplate,
    pub rubric: String,
    pub unparseable_retries: u32,
}

impl Judge {
    pub fn mode(&self) -> TemplateKind {
        self.template.kind()
    }

    /// Judges a pair in both orders.
    pub async fn pairwise(
        &self,
        prompt: &JudgedPrompt<'_>,
        original: &[Message],
        candidate: &[Message],
    ) -> PairwiseRecord {
        let mut replies = Vec::with_capacity(2);
        for position in [Position::CandidateAsA, Position::CandidateAsB] {
            let messages = judge::pairwise_messages(
                &self.template,
                prompt,
                original,
                candidate,
                position,
                &self.rubric,
            );
            replies.push(self.ask(messages, TemplateKind::Pairwise).await);
        }
        let candidate_as_b = replies.pop().unwrap_or_else(no_reply);
        let candidate_as_a = replies.pop().unwrap_or_else(no_reply);
        let judgement = match (candidate_as_a.winner, candidate_as_b.winner) {
            (Some(first), Some(second)) => Some(judge::combine_orders(first, second)),
            _ => None,
        };
        PairwiseRecord {
            candidate_as_a,
            candidate_as_b,
            judgement,
        }
    }

    /// Grades both answers alone.
    pub async fn grade_pair(
        &self,
        prompt: &JudgedPrompt<'_>,
        original: &[Message],
        candidate: &[Message],
    ) -> RubricRecord {
        let messages = judge::rubric_messages(&self.template, prompt, original, &self.rubric);
        let original = self.ask(messages, TemplateKind::Rubric).await;
        let messages = judge::rubric_messages(&self.template, prompt, candidate, &self.rubric);
        let candidate = self.ask(messages, TemplateKind::Rubric).await;
        let grades = match (original.score, candidate.score) {
            (Some(original), Some(candidate)) => Some(RubricPair {
                original,
                candidate,
            }),
            _ => None,
        };
        RubricRecord {
            original,
            candidate,
            grades,
        }
    }

    /// Asks until a reply parses or the retries are used up.
    async fn ask(&self, messages: Vec<Message>, kind: TemplateKind) -> JudgeReply {
        let mut raw_replies = Vec::new();
        let mut last_error = String::new();
        for _ in 0..=self.unparseable_retries {
            let text = match self
                .caller
                .chat(messages.clone(), Some(judge::response_format(kind)))
                .await
            {
                Ok(text) => text,
                Err(error) => return JudgeReply::failed(raw_replies, error.to_string()),
            };
            match read_reply(&text, kind) {
                Ok(reply) => {
                    raw_replies.push(text);
                    return JudgeReply {
                        raw_replies,
                        ..reply
                    };
                }
                Err(error) => {
                    last_error = error;
                    raw_replies.push(text);
                }
            }
        }
        JudgeReply {
            status: JudgeStatus::Unparseable,
            winner: None,
            score: None,
            rationale: None,
            raw_replies,
            error: Some(last_error),
        }
    }
}

fn no_reply() -> JudgeReply {
    JudgeReply::failed(Vec::new(), "no reply".to_owned())
}

/// A reply read strictly; `Err` holds the parser's reason.
fn read_reply(text: &str, kind: TemplateKind) -> Result<JudgeReply, String> {
    let ok = |winner, score, rationale| JudgeReply {
        status: JudgeStatus::Ok,
        winner,
        score,
        rationale: Some(rationale),
        raw_replies: Vec::new(),
        error: None,
    };
    match kind {
        TemplateKind::Pairwise => judge::parse_pairwise_verdict(text)
            .map(|verdict| ok(Some(verdict.winner), None, verdict.rationale))
            .map_err(|error| error.to_string()),
        TemplateKind::Rubric => judge::parse_rubric_score(text)
            .map(|grade| ok(None, Some(grade.score), grade.rationale))
            .map_err(|error| error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_read_strictly_for_their_mode() {
        let reply = read_reply(
            r#"{"winner": "B", "rationale": "shorter"}"#,
            TemplateKind::Pairwise,
        )
        .expect("verdict");
        assert_eq!(reply.winner, Some(Winner::B));
        assert_eq!(reply.rationale.as_deref(), Some("shorter"));
        assert!(read_reply("B is better", TemplateKind::Pairwise).is_err());
        let grade =
            read_reply(r#"{"score": 7, "rationale": "ok"}"#, TemplateKind::Rubric).expect("grade");
        assert_eq!(grade.score, Some(7));
        assert!(read_reply(r#"{"winner": "A", "rationale": ""}"#, TemplateKind::Rubric).is_err());
    }

    #[test]
    fn a_pair_with_an_unparseable_order_has_no_judgement_and_says_so() {
        let ok = read_reply(
            r#"{"winner": "A", "rationale": "x"}"#,
            TemplateKind::Pairwise,
        )
        .expect("verdict");
        let unparseable = JudgeReply {
            status: JudgeStatus::Unparseable,
            winner: None,
            score: None,
            rationale: None,
            raw_replies: vec!["hard to say".into(), "still hard".into()],
            error: Some("no JSON".into()),
        };
        let record = PairwiseRecord {
            candidate_as_a: ok,
            candidate_as_b: unparseable,
            judgement: None,
        };
        assert!(record.unparseable());
        assert!(!record.failed());
        assert_eq!(record.rationale(), Some("x"));
    }
}
