//! The offline `echo` provider: answers with the last user message, so suites
//! and CI pipelines can run end to end without a network or a key. It reports
//! no usage (the runner counts tokens) and no latency, and stops naturally.

use super::{BoxFuture, ChatRequest, ChatResponse, FinishReason, Provider, ProviderError};
use crate::prompt::message::Role;

pub struct Echo;

impl Provider for Echo {
    fn id(&self) -> &str {
        "echo"
    }

    /// Echo answers in microseconds; a figure in ms would be noise.
    fn measures_latency(&self) -> bool {
        false
    }

    fn complete<'a>(&'a self, req: &'a ChatRequest) -> BoxFuture<'a, Result<ChatResponse, ProviderError>> {
        let text = req
            .messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map(|m| m.content.clone())
            .unwrap_or_default();
        Box::pin(std::future::ready(Ok(ChatResponse {
            text,
            finish_reason: FinishReason::Stop,
            usage: None,
            model: Some(req.model.clone()),
            latency_ms: 0,
            attempts: 1,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt::ModelConfig;
    use crate::prompt::message::Message;

    fn req(messages: Vec<Message>) -> ChatRequest {
        ChatRequest {
            model: "any".into(),
            messages,
            config: ModelConfig::default(),
            response_schema: None,
            json: false,
        }
    }

    #[tokio::test]
    async fn echoes_the_last_user_message() {
        let r = Echo
            .complete(&req(vec![
                Message::new(Role::System, "sys"),
                Message::new(Role::User, "first"),
                Message::new(Role::Assistant, "reply"),
                Message::new(Role::User, "second"),
                Message::new(Role::Assistant, "prefill"),
            ]))
            .await
            .unwrap();
        assert_eq!(r.text, "second");
        assert_eq!(r.finish_reason, FinishReason::Stop);
        assert_eq!(r.usage, None);
        assert_eq!(r.model.as_deref(), Some("any"));
        assert_eq!(r.attempts, 1);

        let r = Echo
            .complete(&req(vec![Message::new(Role::System, "only")]))
            .await
            .unwrap();
        assert_eq!(r.text, "");
    }
}
