//! OpenCode's two client files, driven by the same numbers as the units: each agent's
//! context and its oh-my-opencode output caps. Struct fields are declared in
//! sorted order and maps are `BTreeMap`s, so keys come out sorted whatever serde_json's
//! features are.

use std::collections::BTreeMap;

use serde::Serialize;

use super::agent::reach_host;
use crate::plan::Plan;

/// The `$id` of oh-my-opencode's published schema (the project now lives at
/// code-yeongyu/oh-my-openagent; the plugin and its file keep the oh-my-opencode name).
pub const OH_MY_OPENCODE_SCHEMA: &str = "https://raw.githubusercontent.com/code-yeongyu/oh-my-openagent/dev/assets/oh-my-opencode.schema.json";
pub const OPENCODE_SCHEMA: &str = "https://opencode.ai/config.json";
/// The AI SDK provider OpenCode loads for an OpenAI-compatible server (vLLM, llama-server).
pub const PROVIDER_NPM: &str = "@ai-sdk/openai-compatible";

#[derive(Serialize)]
struct OhMyOpencode<'a> {
    #[serde(rename = "$schema")]
    schema: &'a str,
    agents: BTreeMap<&'a str, AgentOverride>,
}

#[derive(Serialize)]
struct AgentOverride {
    #[serde(rename = "maxTokens")]
    max_tokens: u64,
    /// `PROVIDER/MODEL` of `opencode.json`: the agent's name, then the served model id.
    model: String,
}

#[derive(Serialize)]
struct Opencode<'a> {
    #[serde(rename = "$schema")]
    schema: &'a str,
    provider: BTreeMap<&'a str, Provider<'a>>,
}

#[derive(Serialize)]
struct Provider<'a> {
    models: BTreeMap<&'a str, ModelEntry<'a>>,
    name: String,
    npm: &'a str,
    options: Options,
}

#[derive(Serialize)]
struct Options {
    #[serde(rename = "baseURL")]
    base_url: String,
}

#[derive(Serialize)]
struct ModelEntry<'a> {
    limit: Limit,
    name: &'a str,
}

#[derive(Serialize)]
struct Limit {
    context: u64,
    output: u64,
}

/// OpenCode's `PROVIDER/MODEL`: it splits at the first `/`, so a model id that holds `/`
/// itself (`Qwen/Qwen2.5-14B-Instruct-AWQ`) stays whole.
fn model_ref(provider: &str, model: &str) -> String {
    format!("{provider}/{model}")
}

fn pretty(value: &impl Serialize) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// `{"$schema": ..., "agents": {NAME: {"maxTokens": N, "model": "PROVIDER/MODEL"}}}` and
/// nothing else: each oh-my-opencode agent is pointed at the provider [`opencode`] writes
/// for the stack agent serving it, with that agent's output cap. The upstream schema
/// forbids unknown keys; the sections it marks required all have defaults in the plugin
/// and are left out (a project file that set them would override the user's own).
pub fn oh_my_opencode(plan: &Plan) -> Vec<u8> {
    let agents = plan
        .agents
        .iter()
        .flat_map(|a| {
            a.opencode.iter().map(|&(name, max)| {
                // With a gateway, through it: the agent runs whenever it is asked for.
                let model = match &plan.stack.gateway {
                    Some(_) => model_ref(GATEWAY_PROVIDER, a.name()),
                    None => model_ref(a.name(), a.model_source()),
                };
                (
                    name,
                    AgentOverride {
                        max_tokens: max,
                        model,
                    },
                )
            })
        })
        .collect();
    pretty(&OhMyOpencode {
        schema: OH_MY_OPENCODE_SCHEMA,
        agents,
    })
}

/// The provider key of the gateway in `opencode.json`, when the stack has one.
pub const GATEWAY_PROVIDER: &str = "gateway";

/// One OpenAI-compatible provider per agent, keyed by the agent's name; its one model is
/// keyed by the id the server reports (vLLM and llama-server serve the model argument).
/// With a gateway, one more provider, `gateway`, has every agent as a model keyed by the
/// agent's name (what the gateway routes by), at the gateway's address.
/// `limit.output` is the largest cap among the oh-my-opencode agents it serves (so it equals
/// their `maxTokens` when there is one), or half the context when it serves none.
pub fn opencode(plan: &Plan) -> Vec<u8> {
    let output_of = |agent: &crate::plan::AgentPlan| {
        agent
            .opencode
            .iter()
            .map(|&(_, max)| max)
            .max()
            .unwrap_or(agent.context / 2)
    };
    let mut provider: BTreeMap<&str, Provider> = plan
        .agents
        .iter()
        .map(|agent| {
            let output = output_of(agent);
            let name = match &agent.agent.role {
                Some(role) => format!("{} ({})", agent.name(), role.value),
                None => agent.name().to_owned(),
            };
            let model = ModelEntry {
                limit: Limit {
                    context: agent.context,
                    output,
                },
                name: &agent.model.name.value,
            };
            let provider = Provider {
                models: BTreeMap::from([(agent.model_source(), model)]),
                name,
                npm: PROVIDER_NPM,
                options: Options {
                    base_url: format!("http://{}:{}/v1", reach_host(agent.bind), agent.port),
                },
            };
            (agent.name(), provider)
        })
        .collect();
    if let Some(gateway) = &plan.gateway {
        let models = plan
            .agents
            .iter()
            .map(|agent| {
                let model = ModelEntry {
                    limit: Limit {
                        context: agent.context,
                        output: output_of(agent),
                    },
                    name: agent.name(),
                };
                (agent.name(), model)
            })
            .collect();
        let listen = gateway.listen;
        provider.insert(
            GATEWAY_PROVIDER,
            Provider {
                models,
                name: format!(
                    "{} gateway (every agent, switching profiles)",
                    plan.stack.name.value
                ),
                npm: PROVIDER_NPM,
                options: Options {
                    base_url: format!("http://{}:{}/v1", reach_host(listen.ip()), listen.port()),
                },
            },
        );
    }
    pretty(&Opencode {
        schema: OPENCODE_SCHEMA,
        provider,
    })
}
