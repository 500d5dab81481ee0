//! Redaction before storage: secrets and personal data are replaced in the
//! ingest workers, after decoding and before anything is encoded, so the
//! original text never reaches the write queue, the database or its
//! write-ahead log.
//!
//! [`detectors`] holds the built-in detectors (provider API keys and
//! tokens, emails, payment cards, phone numbers), [`config`] the
//! `--redaction` file that picks them per project and adds regex rules,
//! [`rule`] the compiled [`Policy`] of one project, and [`apply`] the walk
//! over spans, log records, resources and calls that rewrites every string
//! value in place. The [`Redactor`] maps project names to policies.
//!
//! By default only the `secrets` group is on: a leaked key is never
//! wanted, while emails or phone numbers may be exactly what a support
//! team's prompts are about, so those are a per-project choice.

pub mod apply;
pub mod config;
pub mod detectors;
pub mod rule;
pub mod stored;

use std::collections::HashMap;
use std::sync::Arc;

pub use config::{RedactionConfigError, load};
pub use rule::Policy;

/// Every project's policy.
#[derive(Debug, Clone)]
pub struct Redactor {
    default: Arc<Policy>,
    projects: HashMap<String, Arc<Policy>>,
}

impl Redactor {
    pub fn new(default: Arc<Policy>, projects: HashMap<String, Arc<Policy>>) -> Redactor {
        Redactor { default, projects }
    }

    /// The policy without a configuration file: the `secrets` group.
    pub fn built_in() -> Redactor {
        match config::parse("") {
            Ok(redactor) => redactor,
            // The built-in patterns are constants covered by tests; should
            // one ever fail to compile, storing nothing redacted would be
            // worse than a loud log and no redaction at all.
            Err(error) => {
                tracing::error!(%error, "the built-in redaction rules do not compile");
                Redactor::new(Arc::new(Policy::none()), HashMap::new())
            }
        }
    }

    /// The policy of the project named `project` (its own section, else `[default]`).
    pub fn policy_for(&self, project: &str) -> Arc<Policy> {
        self.projects.get(project).unwrap_or(&self.default).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn everything() -> Arc<Policy> {
        config::parse("[default]\ndetectors = [\"secrets\", \"email\", \"card\", \"phone\"]")
            .expect("valid")
            .policy_for("default")
    }

    #[test]
    fn each_detector_finds_its_kind_of_secret() {
        let cases = [
            (
                "reprise_key",
                "rpk_Hq7Lm2Vx9Kp4Rt8Wz1Nb5Cd3Fg6Js0AeQm3vX8kL2pR",
            ),
            ("openai_key", "sk-Qm3vX8kL2pR7tY1wZ4nB6cD9fG0hJ5sAT3BlbkFJ"),
            ("openai_key", "sk-proj-Qm3vX8kL2p_R7tY1wZ4n-B6cD9fG0hJ5sA"),
            (
                "anthropic_key",
                "sk-ant-api03-Hq7Lm2Vx9Kp4Rt8Wz1Nb5Cd3Fg6Js0Ae",
            ),
            ("stripe_key", "sk_live_4eQm3vX8kL2pR7tY1wZ4nB6c"),
            ("stripe_key", "rk_test_4eQm3vX8kL2pR7tY1wZ4nB6c"),
            ("aws_access_key_id", "AKIAIOSFODNN7EXAMPLE"),
            ("github_token", "ghp_7Hq2Lm9Vx4Kp8Rt1Wz5Nb3Cd6Fg0Js2Ae7Yx"),
            (
                "github_token",
                "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH",
            ),
            ("google_api_key", "AIzaSyQ7xK2m9P4r8TW3zB6nC1dF5gH0jL2aE7y"),
            ("slack_token", "xoxp-240581937462-Qm3vX8kL2pR7tY1w"),
            (
                "jwt",
                "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIn0.Qm3vX8kL2pR7tY1wZ4nB6c",
            ),
            ("email", "first.last+tag@mail.example.co.uk"),
            ("card", "4111111111111111"),
            ("card", "5555-5555-5555-4444"),
            ("card", "3782 822463 10005"),
            ("phone", "+14155550139"),
            ("phone", "+44 20 7946 0958"),
            ("phone", "+1 (415) 555-0139"),
            ("phone", "(415) 555-0139"),
            ("phone", "415-555-0139"),
            ("phone", "01 23 45 67 89"),
            ("phone", "020 7946 0958"),
        ];
        let policy = everything();
        for (name, secret) in cases {
            let text = format!("before {secret}, after");
            let redacted = policy.redact(&text);
            assert_eq!(
                redacted.as_deref(),
                Some(format!("before [REDACTED:{name}], after").as_str()),
                "{name}: {secret}"
            );
        }
    }

    #[test]
    fn bearer_tokens_lose_the_token_and_keep_the_scheme() {
        let policy = everything();
        assert_eq!(
            policy
                .redact("Authorization: Bearer abc123DEF456ghi789JKL")
                .as_deref(),
            Some("Authorization: Bearer [REDACTED:bearer_token]")
        );
        assert_eq!(
            policy
                .redact("authorization: bearer sk-proj-Qm3vX8kL2pR7tY1wZ4nB6cD9")
                .as_deref(),
            Some("authorization: bearer [REDACTED:openai_key]"),
            "a known key is named by its own detector"
        );
    }

    #[test]
    fn numbers_ids_and_times_that_look_alike_are_left_alone() {
        let policy = everything();
        let innocent = [
            "1712345678901234567",
            "ts 1712345678901",
            "2024-01-15T10:30:45.123Z",
            "2024-01-15 10:30:45",
            "version 1.2.3 build 20240115",
            "order 12345678",
            "4111 1111 1111 1112",
            "pi 3.14159265358979",
            "id 555-123-4567-89",
            "host 192.168.100.1",
            "trace 5b8efff798038103d269b633813fc60c",
            "uuid 550e8400-e29b-41d4-a716-446655440000",
            "task-force-abcdefghijklmnopqrstuv",
            "the sk-this-is-a-long-hyphenated-phrase here",
            "Bearer of bad news, and tidings",
            "user@localhost",
            "a 401(k) plan",
            "prices: 12.50, 13.75, 14.00",
        ];
        for text in innocent {
            assert_eq!(policy.redact(text), None, "{text}");
        }
    }

    #[test]
    fn secrets_are_found_inside_json_encoded_attribute_values() {
        let policy = everything();
        let json = serde_json::json!([{"role": "user", "content":
            "Line one\nsk-proj-Qm3vX8kL2pR7tY1wZ4nB6cD9fG0\n\u{e9}jane@example.org\tcard 4111111111111111"}])
        .to_string();
        let redacted = policy.redact(&json).expect("found");
        let parsed: serde_json::Value = serde_json::from_str(&redacted).expect("still JSON");
        assert_eq!(
            parsed[0]["content"],
            "Line one\n[REDACTED:openai_key]\n\u{e9}[REDACTED:email]\tcard [REDACTED:card]"
        );
    }
}
