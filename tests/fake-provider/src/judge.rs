//! The judge reply: a verdict between two answers found in the prompt.
//!
//! reprise can use any model as an LLM-as-judge, so the fake provider must
//! be able to play a judge with a known bias. The verdict text is the
//! configured template with `{choice}` and `{rationale}` filled in, so the
//! judge answers in whatever JSON shape the caller's prompt asks for,
//! without this module knowing that shape.

use super::config::{AnswerMarker, JudgeDecision, JudgeSettings};

/// The verdict for a judge prompt. `attempt` counts the attempts at this
/// same prompt, starting at 1 (retries of one prompt see 2, 3, …).
pub(crate) fn verdict(prompt_text: &str, settings: &JudgeSettings, attempt: u32) -> String {
    let decision = effective_decision(settings, attempt);
    let order = answers_in_prompt_order(prompt_text, &settings.answers);
    let (choice, rationale) = match decision {
        JudgeDecision::Unparseable | JudgeDecision::UnparseableThenOk => {
            return settings.unparseable_text.clone();
        }
        JudgeDecision::PreferFirst => (
            order[0].choice.as_str(),
            "The first answer is more accurate and complete.",
        ),
        JudgeDecision::PreferSecond => (
            order[1].choice.as_str(),
            "The second answer is more accurate and complete.",
        ),
        JudgeDecision::Tie => (
            settings.tie_choice.as_str(),
            "Both answers are equally good.",
        ),
        JudgeDecision::PreferLonger => longer_answer(prompt_text, settings),
    };
    settings
        .template
        .replace("{choice}", choice)
        .replace("{rationale}", rationale)
}

/// Resolves `unparseable_then_ok` for this attempt; an `after_failures` of
/// `unparseable_then_ok` itself would never end, so it counts as
/// `prefer_first`.
fn effective_decision(settings: &JudgeSettings, attempt: u32) -> JudgeDecision {
    if settings.decision != JudgeDecision::UnparseableThenOk {
        return settings.decision;
    }
    if attempt <= settings.failing_attempts {
        return JudgeDecision::Unparseable;
    }
    match settings.after_failures {
        JudgeDecision::UnparseableThenOk => JudgeDecision::PreferFirst,
        other => other,
    }
}

/// The two answers ordered by where their markers first appear; a missing
/// marker sorts after a present one, and two missing keep config order.
fn answers_in_prompt_order<'a>(
    prompt_text: &str,
    answers: &'a [AnswerMarker; 2],
) -> [&'a AnswerMarker; 2] {
    let first_position = prompt_text.find(&answers[0].marker);
    let second_position = prompt_text.find(&answers[1].marker);
    let swapped = match (first_position, second_position) {
        (Some(first), Some(second)) => second < first,
        (None, Some(_)) => true,
        _ => false,
    };
    if swapped {
        [&answers[1], &answers[0]]
    } else {
        [&answers[0], &answers[1]]
    }
}

/// The choice of the answer with more characters, or a tie when they are
/// equal or either marker is missing.
fn longer_answer<'a>(prompt_text: &str, settings: &'a JudgeSettings) -> (&'a str, &'static str) {
    let tie = (
        settings.tie_choice.as_str(),
        "Both answers are equally thorough.",
    );
    let [first, second] = &settings.answers;
    let (Some(first_start), Some(second_start)) = (
        prompt_text.find(&first.marker),
        prompt_text.find(&second.marker),
    ) else {
        return tie;
    };
    let first_length = answer_length(
        prompt_text,
        first_start + first.marker.len(),
        second_start,
        settings,
    );
    let second_length = answer_length(
        prompt_text,
        second_start + second.marker.len(),
        first_start,
        settings,
    );
    if first_length > second_length {
        (first.choice.as_str(), "This answer is more thorough.")
    } else if second_length > first_length {
        (second.choice.as_str(), "This answer is more thorough.")
    } else {
        tie
    }
}

/// Characters of the answer starting at `start`: it runs to the other
/// answer's marker when that comes later, else to the end marker or the end
/// of the prompt. Surrounding whitespace does not count.
fn answer_length(
    prompt_text: &str,
    start: usize,
    other_marker_start: usize,
    settings: &JudgeSettings,
) -> usize {
    let mut end = prompt_text.len();
    if other_marker_start > start {
        end = other_marker_start;
    } else if let Some(end_marker) = &settings.end_marker
        && let Some(offset) = prompt_text[start..].find(end_marker.as_str())
    {
        end = start + offset;
    }
    prompt_text[start..end].trim().chars().count()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn settings(decision: JudgeDecision) -> JudgeSettings {
        JudgeSettings {
            decision,
            ..JudgeSettings::default()
        }
    }

    const PROMPT: &str = "Compare.\n[Answer A]\nshort\n[Answer B]\na much longer answer\n";

    #[test]
    fn prefer_first_follows_marker_order_not_labels() {
        let swapped = "[Answer B] one [Answer A] two";
        let judge = settings(JudgeDecision::PreferFirst);
        assert_eq!(
            verdict(PROMPT, &judge, 1),
            r#"{"winner": "A", "rationale": "The first answer is more accurate and complete."}"#
        );
        assert!(verdict(swapped, &judge, 1).contains(r#""winner": "B""#));
    }

    #[test]
    fn prefer_second_picks_the_later_marker() {
        let judge = settings(JudgeDecision::PreferSecond);
        assert!(verdict(PROMPT, &judge, 1).contains(r#""winner": "B""#));
    }

    #[test]
    fn prefer_longer_compares_text_after_each_marker() {
        let judge = settings(JudgeDecision::PreferLonger);
        assert!(verdict(PROMPT, &judge, 1).contains(r#""winner": "B""#));
        let reversed = "[Answer A] a long and detailed answer [Answer B] brief";
        assert!(verdict(reversed, &judge, 1).contains(r#""winner": "A""#));
        assert!(verdict("no markers here", &judge, 1).contains(r#""winner": "tie""#));
    }

    #[test]
    fn end_marker_keeps_trailing_instructions_out_of_the_last_answer() {
        let mut judge = settings(JudgeDecision::PreferLonger);
        let prompt = "[Answer A] twelve chars [Answer B] tiny\n[End]\nNow reply with a long JSON verdict please";
        assert!(verdict(prompt, &judge, 1).contains(r#""winner": "B""#));
        judge.end_marker = Some("[End]".to_string());
        assert!(verdict(prompt, &judge, 1).contains(r#""winner": "A""#));
    }

    #[test]
    fn unparseable_then_ok_fails_the_configured_attempts() {
        let mut judge = settings(JudgeDecision::UnparseableThenOk);
        judge.failing_attempts = 2;
        judge.after_failures = JudgeDecision::Tie;
        assert_eq!(verdict(PROMPT, &judge, 1), judge.unparseable_text);
        assert_eq!(verdict(PROMPT, &judge, 2), judge.unparseable_text);
        assert!(verdict(PROMPT, &judge, 3).contains(r#""winner": "tie""#));
    }

    #[test]
    fn template_controls_the_verdict_shape() {
        let mut judge = settings(JudgeDecision::Tie);
        judge.template = "<verdict>{choice}</verdict>".to_string();
        judge.tie_choice = "C".to_string();
        assert_eq!(verdict(PROMPT, &judge, 1), "<verdict>C</verdict>");
    }
}
