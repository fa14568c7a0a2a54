//! The memory budget: each agent's utilization, each profile's total.

use crate::diagnostic::problem;

problem! {
    UtilizationTooSmall { agent: String, pinned: String, needed: String, context: u64 },
    code: "strixc::budget::utilization_too_small",
    message: "agent `{agent}`'s gpu-memory-utilization {pinned} is too small for one {context}-token context (needs at least {needed})",
    label: "too small",
    help: "raise gpu-memory-utilization to {needed}, or remove it and let strixc compute it",
}

problem! {
    UtilizationAboveCap { agent: String, utilization: String, cap: String, pinned: bool, largest_context: Option<u64> },
    code: "strixc::budget::above_max_utilization",
    message: {
        format!(
            "agent `{agent}` {} gpu-memory-utilization {utilization}, above the host's \
             max-utilization {cap}",
            if *pinned { "pins" } else { "needs" }
        )
    },
    label: "above the cap",
    help: {
        match (pinned, largest_context) {
            (true, _) => format!(
                "lower gpu-memory-utilization to {cap} or less (or remove it and let strixc compute it), or raise the host's max-utilization"
            ),
            (false, Some(c)) => format!(
                "the agent fits under the cap with a context (and kv-tokens) of {c} or less; or choose a smaller model, or raise the host's max-utilization"
            ),
            (false, None) => {
                "no context fits under the cap: choose a smaller model, or raise the host's max-utilization".into()
            }
        }
    },
}

problem! {
    ProfileOverBudget { profile: String, total: String, budget: String, over: String, largest_context: Option<u64> },
    code: "strixc::budget::over_budget",
    message: "profile `{profile}` needs {total} but the host has {budget} ({over} over)",
    label: "over budget",
    help: {
        match largest_context {
            Some(c) => format!(
                "the profile fits with every agent's context at {c} or less; or stop an agent in it, or choose smaller models"
            ),
            None => "no context makes it fit: stop an agent in this profile or choose smaller models".into(),
        }
    },
}

problem! {
    ProfileOverGpu { profile: String, sum: String },
    code: "strixc::budget::over_gpu",
    message: "profile `{profile}` asks the GPU for {sum} of its memory (more than 1.00)",
    label: "over the GPU",
    help: "lower contexts or pinned utilizations of its agents",
}
