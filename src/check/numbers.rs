//! Numbers that must agree with each other: context vs the model's max-context, the
//! OpenCode output cap vs the context, kv-tokens vs one full context.

use crate::diagnostic::{Diagnostics, Kind};
use crate::model::Stack;

pub fn check(stack: &Stack, d: &mut Diagnostics) {
    for agent in &stack.agents {
        let Some(context) = &agent.context else {
            continue;
        };
        let model = agent.model.as_ref().and_then(|m| stack.model(m));
        if let Some(max) = model.and_then(|m| m.max_context.as_ref()) {
            if context.value > max.value {
                d.push(
                    crate::diagnostic::Diagnostic::new(
                        Kind::ContextAboveModelMax {
                            context: context.value,
                            max: max.value,
                            model: model.map(|m| m.name.value.clone()).unwrap_or_default(),
                        },
                        context.span,
                    )
                    .with_label(max.span, "the model's limit"),
                );
            }
        }
        let mut reported = Vec::new();
        for cap in &agent.opencode {
            if let Some(max_tokens) = &cap.max_tokens {
                // One `opencode "a" "b" max-tokens=N` node gives several caps one span.
                if max_tokens.value >= context.value && !reported.contains(&max_tokens.span) {
                    reported.push(max_tokens.span);
                    d.emit(
                        Kind::MaxTokensNotBelowContext {
                            max_tokens: max_tokens.value,
                            context: context.value,
                        },
                        max_tokens.span,
                    );
                }
            }
        }
        if let Some(kv_tokens) = &agent.kv_tokens {
            if kv_tokens.value < context.value {
                d.emit(
                    Kind::KvTokensBelowContext {
                        kv_tokens: kv_tokens.value,
                        context: context.value,
                    },
                    kv_tokens.span,
                );
            }
        }
    }
}
