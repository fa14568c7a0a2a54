//! Token numbers: the context against the model, max-tokens and kv-tokens against the
//! context, OpenCode's prompt against both.

use crate::diagnostic::problem;

problem! {
    ContextAboveModelMax { context: u64, max: u64, model: String },
    code: "strixc::agent::context_above_model_max",
    message: "context {context} is above model `{model}`'s max-context of {max}",
    label: "too long for this model",
    help: "lower `context` to at most {max}",
}

problem! {
    MaxTokensNotBelowContext { max_tokens: u64, context: u64 },
    code: "strixc::opencode::max_tokens_not_below_context",
    message: "max-tokens {max_tokens} leaves no room for input in a context of {context}",
    label: "must be below the context",
    help: {
        format!(
            "set max-tokens below {context}; half the context ({}) is the default",
            context / 2
        )
    },
}

problem! {
    /// OpenCode's first request (its prompt) plus the output cap exceed the context.
    OpencodePromptDoesNotFit { agent: String, served: Vec<String>, context: u64, prompt_tokens: u64, max_tokens: u64 },
    code: "strixc::opencode::prompt_does_not_fit",
    message: {
        format!(
            "agent `{agent}` refuses every OpenCode request of {}: its context of {context} tokens cannot hold OpenCode's prompt ({prompt_tokens} tokens) plus max-tokens {max_tokens}",
            served.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
        )
    },
    label: {
        format!("{prompt_tokens} + {max_tokens} = {} tokens", prompt_tokens + max_tokens)
    },
    help: {
        let context_fix =
            format!("raise the agent's context to at least {}", prompt_tokens + max_tokens);
        let fix = match context.checked_sub(*prompt_tokens) {
            Some(room) if room > 0 => format!(
                "set max-tokens={room} (context {context} − prompt {prompt_tokens}), or {context_fix}"
            ),
            _ => context_fix,
        };
        format!(
            "{fix}; OpenCode's prompt size is `opencode prompt-tokens=N` in `stack` (default {}, measured with OpenCode 1.18.33)",
            crate::stack::defaults::OPENCODE_PROMPT_TOKENS
        )
    },
}

problem! {
    KvTokensBelowContext { kv_tokens: u64, context: u64 },
    code: "strixc::budget::kv_tokens_below_context",
    message: "kv-tokens {kv_tokens} cannot hold one full context of {context} tokens",
    label: "below one context",
    help: "vLLM refuses to start unless one full sequence fits: set kv-tokens to at least {context}",
}
