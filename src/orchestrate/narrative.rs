//! The narrative of a campaign's experiments. Every number in it is computed here from the
//! statistics (rates, lift, adjusted p-values, probability to beat control, the sequential
//! test) and written by code into fixed sentences; the local LLM only adds a short reading of
//! those sentences, under a JSON schema whose string pattern admits no digit, so it cannot
//! state a number, right or wrong (the small default model cannot be trusted with numbers).

use serde::Serialize;

use crate::engine::text::{ChatMessage, FinishReason, SamplingParams, TextRequest, TextService};

/// What one experiment found, as the summary states it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExperimentFinding {
    pub experiment: String,
    pub control: String,
    pub control_rate: f64,
    /// The variant with the highest rate.
    pub best_variant: String,
    pub best_rate: f64,
    /// Relative lift of the best variant over control; none when control converts nothing.
    pub lift: Option<f64>,
    /// Its two-proportion z-test p-value after Holm's correction across the variants.
    pub p_value_holm: f64,
    pub probability_to_beat_control: f64,
    /// The always-valid p-value after the last daily look, when daily counts were given.
    pub sequential_p_value: Option<f64>,
    pub sample_ratio_mismatch: bool,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Significant after Holm at 5%, and the sequential test agrees where there is one.
    Winner,
    /// Significantly worse than control.
    Loser,
    Inconclusive,
    /// The traffic split is off (SRM p < 0.001): the counts cannot be trusted.
    Invalid,
}

impl Verdict {
    pub fn decide(
        lift: Option<f64>,
        p_value_holm: f64,
        sequential: Option<f64>,
        srm: bool,
    ) -> Self {
        if srm {
            return Verdict::Invalid;
        }
        let significant = p_value_holm < 0.05 && sequential.is_none_or(|p| p < 0.05);
        match lift {
            Some(l) if significant && l > 0.0 => Verdict::Winner,
            Some(l) if significant && l < 0.0 => Verdict::Loser,
            _ => Verdict::Inconclusive,
        }
    }
}

fn percent(v: f64) -> String {
    format!("{:.2}%", 100.0 * v)
}

/// A p-value as a reader should see it: never "0.0000".
fn p_value(p: f64) -> String {
    if p < 0.0001 {
        "p < 0.0001".into()
    } else {
        format!("p = {p:.4}")
    }
}

/// A probability in percent, never rounded to a certainty it is not.
fn probability(v: f64) -> String {
    if v > 0.9999 {
        "> 99.99%".into()
    } else if v < 0.0001 {
        "< 0.01%".into()
    } else {
        percent(v)
    }
}

/// One sentence per finding, every number from the finding itself.
pub fn sentences(findings: &[ExperimentFinding]) -> Vec<String> {
    findings
        .iter()
        .map(|f| {
            let lift = f
                .lift
                .map_or("no lift can be computed (control has no conversions)".into(), |l| {
                    format!("a lift of {:+.1}%", 100.0 * l)
                });
            let sequential = f
                .sequential_p_value
                .map_or(String::new(), |p| format!(", always-valid {}", p_value(p)));
            let verdict = match f.verdict {
                Verdict::Winner => "a winner".to_string(),
                Verdict::Loser => "worse than control".to_string(),
                Verdict::Inconclusive => "not yet conclusive".to_string(),
                Verdict::Invalid => {
                    "not to be trusted: the traffic split does not match the plan".to_string()
                }
            };
            format!(
                "{}: {} converts at {} against {} for {}, {lift} (Holm-adjusted {}, probability to beat control {}{sequential}); {} is {verdict}.",
                f.experiment,
                f.best_variant,
                percent(f.best_rate),
                percent(f.control_rate),
                f.control,
                p_value(f.p_value_holm),
                probability(f.probability_to_beat_control),
                f.best_variant,
            )
        })
        .collect()
}

/// The narrative: the computed sentences, and the model's digit-free reading when a text model
/// is loaded and finishes within its budget.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Narrative {
    pub sentences: Vec<String>,
    pub commentary: Option<String>,
    /// `text engine` or `computed only`.
    pub source: &'static str,
}

const MAX_COMMENTARY_CHARS: u64 = 320;

pub async fn narrate(
    text: Option<&TextService>,
    campaign: &str,
    findings: &[ExperimentFinding],
) -> Narrative {
    let sentences = sentences(findings);
    let commentary = match text {
        Some(text) if !findings.is_empty() => commentary(text, campaign, &sentences).await,
        _ => None,
    };
    Narrative {
        source: if commentary.is_some() {
            "text engine"
        } else {
            "computed only"
        },
        sentences,
        commentary,
    }
}

async fn commentary(text: &TextService, campaign: &str, sentences: &[String]) -> Option<String> {
    let schema = serde_json::json!({
        "type": "object",
        "properties": {"summary": {
            "type": "string", "minLength": 20, "maxLength": MAX_COMMENTARY_CHARS,
            "pattern": "^[^0-9]*$"
        }},
        "required": ["summary"],
        "additionalProperties": false
    });
    let constraint = text.grammar.json_schema(schema).ok()?;
    let messages = [
        ChatMessage::system(
            "You advise a marketing team. In one or two short sentences, say which ad variants to keep, \
             stop or keep testing. Never write numbers.",
        ),
        ChatMessage::user(format!(
            "Campaign {campaign}. Results:\n{}",
            sentences.join("\n")
        )),
    ];
    let request = TextRequest {
        prompt: text.chat_prompt(&messages).ok()?,
        params: SamplingParams {
            temperature: 0.3,
            seed: 7,
            ..SamplingParams::default()
        },
        max_tokens: 120,
        stop: Vec::new(),
        n: 1,
        logprobs: false,
        top_logprobs: 0,
        ignore_eos: false,
        constraint: Some(constraint),
    };
    let choice = text.complete(request).await.ok()?.into_iter().next()?;
    if choice.finish != Some(FinishReason::Stop) {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(&choice.text).ok()?;
    let summary = value["summary"].as_str()?.trim().to_string();
    (!summary.chars().any(|c| c.is_ascii_digit())).then_some(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_need_both_tests() {
        assert_eq!(
            Verdict::decide(Some(0.2), 0.01, None, false),
            Verdict::Winner
        );
        assert_eq!(
            Verdict::decide(Some(0.2), 0.01, Some(0.2), false),
            Verdict::Inconclusive
        );
        assert_eq!(
            Verdict::decide(Some(-0.2), 0.01, Some(0.01), false),
            Verdict::Loser
        );
        assert_eq!(
            Verdict::decide(Some(0.2), 0.01, None, true),
            Verdict::Invalid
        );
        assert_eq!(
            Verdict::decide(None, 1.0, None, false),
            Verdict::Inconclusive
        );
    }

    #[test]
    fn sentences_carry_the_computed_numbers() {
        let finding = ExperimentFinding {
            experiment: "Headline test".into(),
            control: "A".into(),
            control_rate: 0.04,
            best_variant: "B".into(),
            best_rate: 0.052,
            lift: Some(0.3),
            p_value_holm: 0.0031,
            probability_to_beat_control: 0.9987,
            sequential_p_value: Some(0.012),
            sample_ratio_mismatch: false,
            verdict: Verdict::Winner,
        };
        let s = &sentences(&[finding])[0];
        for part in [
            "5.20%",
            "4.00%",
            "+30.0%",
            "p = 0.0031",
            "99.87%",
            "p = 0.0120",
            "a winner",
        ] {
            assert!(s.contains(part), "{part} missing from {s}");
        }
    }
}
