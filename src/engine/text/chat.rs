//! Chat templates: the model's own Jinja template from its GGUF metadata
//! (`tokenizer.chat_template`), rendered with minijinja; when the file has none, Gemma's turns
//! for Gemma and ChatML for the others.

use minijinja::{Environment, context};
use serde::Serialize;

/// One message of a conversation.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

impl ChatMessage {
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: "system".into(),
            content: content.into(),
        }
    }

    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: "user".into(),
            content: content.into(),
        }
    }
}

const CHATML: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/// Gemma's turns, for Gemma files that carry no template (the base models). Gemma has no
/// system role: a system message becomes a user turn.
pub const GEMMA: &str = "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'assistant' %}{% set role = 'model' %}{% else %}{% set role = 'user' %}{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}";

#[derive(Debug, thiserror::Error)]
#[error("chat template: {0}")]
pub struct TemplateError(String);

/// A compiled chat template.
pub struct ChatTemplate {
    env: Environment<'static>,
    pub bos: String,
    pub eos: String,
}

impl ChatTemplate {
    pub fn new(source: Option<String>, bos: String, eos: String) -> Result<Self, TemplateError> {
        let mut env = Environment::new();
        env.add_template_owned("chat", source.unwrap_or_else(|| CHATML.to_string()))
            .map_err(|e| TemplateError(e.to_string()))?;
        Ok(Self { env, bos, eos })
    }

    /// The prompt text of `messages`, ending with the assistant's turn.
    pub fn render(&self, messages: &[ChatMessage]) -> Result<String, TemplateError> {
        let template = self
            .env
            .get_template("chat")
            .map_err(|e| TemplateError(e.to_string()))?;
        template
            .render(context! {
                messages => messages,
                add_generation_prompt => true,
                bos_token => &self.bos,
                eos_token => &self.eos,
            })
            .map_err(|e| TemplateError(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_chatml_with_a_generation_prompt() {
        let t =
            ChatTemplate::new(None, String::new(), String::new()).unwrap_or_else(|e| panic!("{e}"));
        let text = t
            .render(&[ChatMessage {
                role: "user".into(),
                content: "Hi".into(),
            }])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            text,
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn renders_gemma_turns_with_bos_and_a_model_turn() {
        let t = ChatTemplate::new(Some(GEMMA.into()), "<bos>".into(), "<eos>".into())
            .unwrap_or_else(|e| panic!("{e}"));
        let message = |role: &str, content: &str| ChatMessage {
            role: role.into(),
            content: content.into(),
        };
        let text = t
            .render(&[
                message("system", "Be brief."),
                message("user", "Hi"),
                message("assistant", "Hello"),
                message("user", "Bye"),
            ])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            text,
            "<bos><start_of_turn>user\nBe brief.<end_of_turn>\n<start_of_turn>user\nHi<end_of_turn>\n\
             <start_of_turn>model\nHello<end_of_turn>\n<start_of_turn>user\nBye<end_of_turn>\n\
             <start_of_turn>model\n"
        );
    }
}
