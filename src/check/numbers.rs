//! Numbers that must agree with each other: context vs the model's max-context, the
//! OpenCode output cap vs the context, OpenCode's prompt plus that cap vs the context,
//! kv-tokens vs one full context.

use miette::SourceSpan;

use crate::check::problems::{
    ContextAboveModelMax, KvTokensBelowContext, MaxTokensNotBelowContext, OpencodePromptDoesNotFit,
};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::stack::{Agent, Spanned, Stack};

pub fn check(stack: &Stack, d: &mut Diagnostics) {
    for agent in &stack.agents {
        let Some(context) = &agent.context else {
            continue;
        };
        let model = agent.model.as_ref().and_then(|m| stack.model(m));
        if let Some(max) = model.and_then(|m| m.max_context.as_ref())
            && context.value > max.value
        {
            d.push(
                Diagnostic::new(
                    ContextAboveModelMax {
                        context: context.value,
                        max: max.value,
                        model: model.map(|m| m.name.value.clone()).unwrap_or_default(),
                    },
                    context.span,
                )
                .with_label(max.span, "the model's limit"),
            );
        }
        let mut reported = Vec::new();
        for cap in &agent.opencode {
            if let Some(max_tokens) = &cap.max_tokens {
                // One `opencode "a" "b" max-tokens=N` node gives several caps one span.
                if max_tokens.value >= context.value && !reported.contains(&max_tokens.span) {
                    reported.push(max_tokens.span);
                    d.emit(
                        MaxTokensNotBelowContext {
                            max_tokens: max_tokens.value,
                            context: context.value,
                        },
                        max_tokens.span,
                    );
                }
            }
        }
        opencode_fits(stack, agent, context, d);
        if let Some(kv_tokens) = &agent.kv_tokens
            && kv_tokens.value < context.value
        {
            d.emit(
                KvTokensBelowContext {
                    kv_tokens: kv_tokens.value,
                    context: context.value,
                },
                kv_tokens.span,
            );
        }
    }
}

/// Every OpenCode request starts with OpenCode's own prompt (system prompt and tool
/// definitions, `opencode prompt-tokens=`) and asks for up to max-tokens more: a server
/// whose context cannot hold both refuses the request before reading the user's message.
/// One report per cap as written: per `max-tokens=` value, and once for the caps that take
/// the default (half the context), at the first of them. Caps not below the context are
/// left to `MaxTokensNotBelowContext`.
fn opencode_fits(stack: &Stack, agent: &Agent, context: &Spanned<u64>, d: &mut Diagnostics) {
    let prompt = stack.opencode_prompt_tokens();
    let mut groups: Vec<(Option<SourceSpan>, SourceSpan, u64, Vec<String>)> = Vec::new();
    for cap in &agent.opencode {
        let (key, span, max_tokens) = match &cap.max_tokens {
            Some(m) => (Some(m.span), m.span, m.value),
            None => (None, cap.name.span, context.value / 2),
        };
        match groups.iter_mut().find(|g| g.0 == key) {
            Some(group) => group.3.push(cap.name.value.clone()),
            None => groups.push((key, span, max_tokens, vec![cap.name.value.clone()])),
        }
    }
    for (_, span, max_tokens, served) in groups {
        if max_tokens >= context.value || prompt.saturating_add(max_tokens) <= context.value {
            continue;
        }
        let mut diagnostic = Diagnostic::new(
            OpencodePromptDoesNotFit {
                agent: agent.name.value.clone(),
                served,
                context: context.value,
                prompt_tokens: prompt,
                max_tokens,
            },
            span,
        )
        .with_label(context.span, "the context");
        if let Some(declared) = &stack.opencode_prompt_tokens {
            diagnostic = diagnostic.with_label(declared.span, "OpenCode's prompt");
        }
        d.push(diagnostic);
    }
}
