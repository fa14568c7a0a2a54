//! OpenCode's two files: what `strixc build` writes against the upstream JSON schemas kept in
//! `tests/data/opencode/` (its README says where each copy comes from), the links between
//! the two files, and the real client — `opencode run` against a real llama-server through
//! the generated `opencode.json`.
//!
//! The real-client tests need `scripts/install-opencode` (run by `scripts/test-deps`) and a
//! llama-server: `STRIXC_LLAMA_SERVER` names an executable that runs llama-server with the
//! arguments it is given (the binary itself, or a wrapper), `STRIXC_LLAMA_MODEL` the GGUF
//! file it reads (default `/opt/tiny/tiny.gguf`, a path as that executable sees it). Without
//! them these tests print why and pass, except under CI (`CI` set), where they fail.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use strixc::compile::build_tree;
use strixc::source::Source;
use strixc::stack::defaults::OPENCODE_PROMPT_TOKENS;
use strixc::tree::Tree;
use support::opencode::{self, Opencode};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

// ── the upstream schemas ────────────────────────────────────────────────────────────

fn read_json(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn upstream(name: &str) -> Value {
    read_json(&root().join("tests/data/opencode").join(name))
}

/// OpenCode's configuration schema (draft 2020-12), as kept.
fn opencode_schema() -> Value {
    upstream("opencode.schema.json")
}

/// oh-my-opencode's schema (draft-07) exactly as published.
fn oh_my_opencode_schema_strict() -> Value {
    upstream("oh-my-opencode.schema.json")
}

/// The sections oh-my-opencode's published schema lists as required. Its schema is zod's
/// *output* type (`z.toJSONSchema` defaults to `io: "output"`), in which a field declared
/// with `.default(...)` is always present — so it lands in `required`. The plugin parses a
/// file with the *input* type, where such a field may be left out and takes its default.
/// `git_master` is `GitMasterConfigSchema.default({commit_footer: true,
/// include_co_authored_by: true, git_env_prefix: "GIT_MASTER=1"})` upstream.
const DEFAULTED_REQUIRED: [&str; 1] = ["git_master"];

/// What a minimal valid oh-my-opencode file is: the published schema without the top-level
/// `required` of defaulted sections. strixc writes `$schema` and `agents` only: writing
/// `git_master` would pin the plugin's defaults and, since a project file is merged over the
/// user's own `~/.config/opencode/oh-my-opencode.json`, override the user's git settings.
fn oh_my_opencode_schema() -> Value {
    let mut schema = oh_my_opencode_schema_strict();
    let required = schema["required"].clone();
    assert_eq!(
        required,
        json!(DEFAULTED_REQUIRED),
        "upstream's top-level `required` changed: decide again what a minimal file is"
    );
    schema.as_object_mut().unwrap().remove("required");
    schema
}

/// A compiled schema; `validate` lists every error.
struct Validator {
    schemas: boon::Schemas,
    index: boon::SchemaIndex,
}

impl Validator {
    fn new(schema: Value) -> Self {
        let url = "urn:strixc:schema";
        let mut compiler = boon::Compiler::new();
        compiler.add_resource(url, schema).expect("add schema");
        let mut schemas = boon::Schemas::new();
        let index = compiler
            .compile(url, &mut schemas)
            .unwrap_or_else(|e| panic!("schema does not compile: {e:#}"));
        Validator { schemas, index }
    }

    fn validate(&self, instance: &Value) -> Result<(), String> {
        self.schemas
            .validate(instance, self.index)
            .map_err(|e| format!("{e:#}"))
    }

    fn assert_valid(&self, instance: &Value, what: &str) {
        if let Err(e) = self.validate(instance) {
            panic!("{what} does not validate:\n{e}\n{instance:#}");
        }
    }

    fn assert_invalid(&self, instance: &Value, what: &str) -> String {
        match self.validate(instance) {
            Ok(()) => panic!("{what} validates, but must not:\n{instance:#}"),
            Err(e) => e,
        }
    }
}

/// The stacks the tree-wide tests cover: the shipped one and tests/stacks/build/*.
const STACKS: [&str; 5] = ["stack", "llama", "discrete", "minimal", "gateway"];

fn stack_path(name: &str) -> PathBuf {
    match name {
        "stack" => root().join("stack.kdl"),
        other => root().join(format!("tests/stacks/build/{other}.kdl")),
    }
}

fn build(source: &Source) -> Tree {
    match build_tree(source) {
        Ok((tree, _warnings)) => tree,
        Err(d) => panic!("{} does not build: {d:?}", source.name()),
    }
}

/// `(oh-my-opencode.json, opencode.json)` of a built tree.
fn files(tree: &Tree) -> (Value, Value) {
    let get = |path: &str| -> Value {
        serde_json::from_slice(tree.get(path).unwrap_or_else(|| panic!("no {path}"))).unwrap()
    };
    (
        get("opencode/oh-my-opencode.json"),
        get("opencode/opencode.json"),
    )
}

#[test]
fn generated_files_validate_against_the_upstream_schemas() {
    let omo = Validator::new(oh_my_opencode_schema());
    let oc = Validator::new(opencode_schema());
    for name in STACKS {
        let tree = build(&Source::read(&stack_path(name)).unwrap());
        let (omo_file, oc_file) = files(&tree);
        omo.assert_valid(&omo_file, &format!("{name}: oh-my-opencode.json"));
        oc.assert_valid(&oc_file, &format!("{name}: opencode.json"));
    }
    // And the committed files, byte for byte what users install.
    for (validator, path) in [
        (&omo, "generated/opencode/oh-my-opencode.json"),
        (&oc, "generated/opencode/opencode.json"),
    ] {
        validator.assert_valid(&read_json(&root().join(path)), path);
    }
}

#[test]
fn the_schema_urls_name_the_schemas_kept() {
    let tree = build(&Source::read(&stack_path("stack")).unwrap());
    let (omo_file, oc_file) = files(&tree);
    assert_eq!(omo_file["$schema"], oh_my_opencode_schema_strict()["$id"]);
    assert_eq!(oc_file["$schema"], "https://opencode.ai/config.json");
}

/// The only thing the published oh-my-opencode schema has against strixc's file is the
/// defaulted sections: with them added (at the plugin's defaults) it validates as is.
#[test]
fn oh_my_opencode_file_misses_only_the_defaulted_sections() {
    let strict = Validator::new(oh_my_opencode_schema_strict());
    let tree = build(&Source::read(&stack_path("stack")).unwrap());
    let (mut omo_file, _) = files(&tree);
    let error = strict.assert_invalid(&omo_file, "oh-my-opencode.json against the strict schema");
    assert!(error.contains("git_master"), "{error}");
    omo_file["git_master"] = json!({
        "commit_footer": true,
        "include_co_authored_by": true,
        "git_env_prefix": "GIT_MASTER=1",
    });
    strict.assert_valid(&omo_file, "oh-my-opencode.json with git_master's defaults");
}

/// The validators do reject what upstream rejects (so a pass above means something).
#[test]
fn the_schemas_reject_what_opencode_and_oh_my_opencode_reject() {
    let omo = Validator::new(oh_my_opencode_schema());
    let oc = Validator::new(opencode_schema());
    let tree = build(&Source::read(&stack_path("stack")).unwrap());
    let (omo_file, oc_file) = files(&tree);

    let mut bad = omo_file.clone();
    bad["agnets"] = json!({});
    omo.assert_invalid(&bad, "an unknown top-level key");
    let mut bad = omo_file.clone();
    bad["agents"]["sisyphus"]["maxTokens"] = json!("16384");
    omo.assert_invalid(&bad, "maxTokens as a string");
    let mut bad = omo_file.clone();
    bad["agents"]["sisyphus"]["max_tokens"] = json!(16384);
    omo.assert_invalid(&bad, "an unknown agent setting");
    let mut bad = omo_file;
    bad["agents"]["sisyphus"]["model"] = json!(7);
    omo.assert_invalid(&bad, "model as a number");

    let mut bad = oc_file.clone();
    bad["providers"] = bad["provider"].clone();
    oc.assert_invalid(&bad, "`providers` (OpenCode's key is `provider`)");
    let mut bad = oc_file.clone();
    bad["provider"]["thor"]["baseURL"] = json!("http://127.0.0.1:8001/v1");
    oc.assert_invalid(&bad, "baseURL outside `options`");
    let mut bad = oc_file.clone();
    let limit = &mut bad["provider"]["thor"]["models"]["Qwen/Qwen2.5-14B-Instruct-AWQ"]["limit"];
    limit.as_object_mut().unwrap().remove("output");
    oc.assert_invalid(&bad, "a limit without output");
    let mut bad = oc_file;
    bad["provider"]["thor"]["models"]["Qwen/Qwen2.5-14B-Instruct-AWQ"]["limit"]["context"] =
        json!("32768");
    oc.assert_invalid(&bad, "a context as a string");
}

/// Each oh-my-opencode agent is pointed at the provider and model of the stack agent that
/// serves it, with that agent's cap; each provider is the agent's server.
#[test]
fn every_oh_my_opencode_agent_points_at_the_server_that_serves_it() {
    for name in STACKS {
        let source = Source::read(&stack_path(name)).unwrap();
        let tree = build(&source);
        let (omo_file, oc_file) = files(&tree);
        let checked = strixc::compile::compile(&source).unwrap();
        let stack = checked.stack();

        let providers = oc_file["provider"].as_object().unwrap();
        let mut names: Vec<&str> = stack.agents.iter().map(|a| a.name.as_str()).collect();
        // With a gateway, one more provider: the gateway, every agent a model of it.
        if stack.gateway.is_some() {
            names.push("gateway");
            let gateway = providers["gateway"]["models"].as_object().unwrap();
            let mut agents: Vec<&str> = stack.agents.iter().map(|a| a.name.as_str()).collect();
            agents.sort();
            assert_eq!(
                gateway.keys().map(String::as_str).collect::<Vec<_>>(),
                agents
            );
        }
        assert_eq!(
            providers.keys().map(String::as_str).collect::<Vec<_>>(),
            {
                let mut sorted = names.clone();
                sorted.sort();
                sorted
            },
            "{name}: one provider per agent"
        );
        let mut expected_omo = BTreeMap::new();
        for agent in &stack.agents {
            let provider = &providers[agent.name.as_str()];
            assert_eq!(provider["npm"], "@ai-sdk/openai-compatible");
            let port = agent.port.as_ref().unwrap().value;
            let host = match &agent.bind {
                Some(b) if !b.value.is_unspecified() => b.value.to_string(),
                _ => "127.0.0.1".to_owned(),
            };
            assert_eq!(
                provider["options"]["baseURL"],
                format!("http://{host}:{port}/v1"),
                "{name}: {}",
                agent.name.value
            );
            let model = stack.model(agent.model.as_ref().unwrap()).unwrap();
            let served = &model.repo.as_ref().or(model.path.as_ref()).unwrap().value;
            let models = provider["models"].as_object().unwrap();
            assert_eq!(models.keys().collect::<Vec<_>>(), [served], "the served id");
            let limit = &models[served]["limit"];
            let context = agent.context.as_ref().unwrap().value;
            assert_eq!(limit["context"], context);
            let caps: Vec<u64> = agent
                .opencode
                .iter()
                .map(|c| c.max_tokens.as_ref().map_or(context / 2, |m| m.value))
                .collect();
            assert_eq!(
                limit["output"].as_u64().unwrap(),
                caps.iter().copied().max().unwrap_or(context / 2),
                "{name}: {}",
                agent.name.value
            );
            for (cap, max_tokens) in agent.opencode.iter().zip(caps) {
                // Through the gateway when there is one: it summons the agent.
                let model = match &stack.gateway {
                    Some(_) => format!("gateway/{}", agent.name.value),
                    None => format!("{}/{served}", agent.name.value),
                };
                expected_omo.insert(
                    cap.name.value.clone(),
                    json!({
                        "maxTokens": max_tokens,
                        "model": model,
                    }),
                );
                // What the e2e runner passes to `opencode run --model`.
                let oc_bytes = tree.get("opencode/opencode.json").unwrap();
                assert_eq!(
                    opencode::model_of(oc_bytes, &agent.name.value),
                    format!("{}/{served}", agent.name.value)
                );
            }
        }
        let expected = json!({
            "$schema": oh_my_opencode_schema_strict()["$id"],
            "agents": expected_omo,
        });
        assert_eq!(omo_file, expected, "{name}");
    }
}

// ── the real client ─────────────────────────────────────────────────────────────────

/// OpenCode and a llama-server, or `None` after printing why not (a failure under CI).
fn real_client(test: &str) -> Option<(Opencode, PathBuf, String)> {
    let missing = |why: String| {
        if std::env::var_os("CI").is_some() {
            panic!("{test}: {why}");
        }
        eprintln!("SKIPPED {test}: {why}");
        None
    };
    let Some(server) = std::env::var_os("STRIXC_LLAMA_SERVER") else {
        return missing(
            "STRIXC_LLAMA_SERVER is not set (an executable running llama-server with the \
             arguments given; STRIXC_LLAMA_MODEL: its GGUF model)"
                .into(),
        );
    };
    let opencode = match Opencode::find() {
        Ok(o) => o,
        Err(e) => return missing(e),
    };
    let model =
        std::env::var("STRIXC_LLAMA_MODEL").unwrap_or_else(|_| "/opt/tiny/tiny.gguf".into());
    Some((opencode, PathBuf::from(server), model))
}

/// A running llama-server, killed on drop; its log is `log`.
struct LlamaServer {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl LlamaServer {
    fn start(server: &Path, model: &str, context: u64) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("strixc-llama-")
            .tempdir()
            .unwrap();
        let log = dir.path().join("server.log");
        let port = support::free_port();
        let child = Command::new(server)
            .args(["-m", model, "--host", "127.0.0.1", "--port"])
            .arg(port.to_string())
            .args(["--ctx-size", &context.to_string(), "--metrics", "-t", "2"])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start llama-server");
        let mut this = LlamaServer {
            child,
            port,
            log,
            _dir: dir,
        };
        let start = Instant::now();
        while !this.healthy() {
            if let Some(status) = this.child.try_wait().unwrap() {
                panic!("llama-server exited {status}:\n{}", this.log_text());
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "llama-server not healthy after 60 s:\n{}",
                this.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        this
    }

    fn healthy(&self) -> bool {
        Command::new("curl")
            .args(["-sf", "-o", "/dev/null", "--max-time", "2"])
            .arg(format!("http://127.0.0.1:{}/health", self.port))
            .status()
            .is_ok_and(|s| s.success())
    }

    fn log_text(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log).unwrap_or_default()).into_owned()
    }
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A stack of one native llama.cpp agent `tiny` serving `model` on `port`, serving
/// oh-my-opencode's `build` with a small output cap: the tiny random model never emits
/// end-of-sequence, so every answer runs to the cap.
fn tiny_stack(server: &Path, model: &str, port: u16, context: u64) -> Source {
    let text = format!(
        r#"stack "oc" {{
    description "OpenCode against one llama-server"
}}
host {{
    memory "16GiB"
}}
runtime "llama" {{
    engine "llama.cpp"
    command "{server}" "-m" "{{model}}" "-c" "{{context}}" "--host" "{{host}}" "--port" "{{port}}"
}}
model "tiny" {{
    path "{model}"
    quant "gguf"
    weights "1MB"
    layers 2
    kv-heads 4
    head-dim 16
    max-context 32768
}}
agent "tiny" {{
    model "tiny"
    port {port}
    context {context}
    opencode "build" max-tokens=16
}}
profile "only" default=#true {{
    agents "tiny"
}}
"#,
        server = server.display()
    );
    Source::new("oc.kdl", text)
}

/// Prompt sizes llama-server logged, one per request it evaluated.
fn prompt_sizes(log: &str) -> Vec<u64> {
    log.lines()
        .filter_map(|line| {
            let rest = line.split("prompt eval time =").nth(1)?;
            let tokens = rest.split('/').nth(1)?.split_whitespace().next()?;
            tokens.parse().ok()
        })
        .collect()
}

/// llama-server's refusals: `request (N tokens) exceeds the available context size`.
fn refused_sizes(log: &str) -> Vec<u64> {
    log.lines()
        .filter_map(|line| {
            let rest = line.split("request (").nth(1)?;
            if !rest.contains("exceeds the available context size") {
                return None;
            }
            rest.split_whitespace().next()?.parse().ok()
        })
        .collect()
}

/// OpenCode's prompt (system prompt, tool definitions, the environment block with the
/// working directory) plus the chat template and the user's "hi": close to the measured
/// default, which is what `opencode prompt-tokens=` defaults to. A tenth either way allows
/// for the folder names; beyond that the default is stale (another OpenCode version).
fn assert_near_default(tokens: u64, what: &str) {
    let default = OPENCODE_PROMPT_TOKENS as f64;
    let ratio = tokens as f64 / default;
    assert!(
        (0.9..=1.1).contains(&ratio),
        "{what}: {tokens} tokens, {ratio:.2}× the default of {OPENCODE_PROMPT_TOKENS}: \
         measure OpenCode's prompt again and update the default"
    );
}

#[test]
fn opencode_run_answers_through_the_generated_opencode_json() {
    let Some((opencode, server, model)) = real_client("opencode_run_answers") else {
        return;
    };
    assert_eq!(opencode.version(), opencode::VERSION);
    let llama = LlamaServer::start(&server, &model, 32768);
    let tree = build(&tiny_stack(&server, &model, llama.port, 32768));
    let config = tree.get("opencode/opencode.json").unwrap();
    let run = opencode.run(
        config,
        &opencode::model_of(config, "tiny"),
        "hi",
        Duration::from_secs(600),
    );
    let log = llama.log_text();
    assert!(
        run.success,
        "{}\n--- llama-server ---\n{log}",
        run.describe()
    );
    assert!(
        !run.stdout.trim().is_empty(),
        "no answer printed: {}",
        run.describe()
    );
    let sizes = prompt_sizes(&log);
    let first = sizes
        .iter()
        .copied()
        .max()
        .expect("llama-server evaluated a prompt");
    eprintln!(
        "opencode run: exit 0 in {:.1} s; prompts evaluated by llama-server: {sizes:?} tokens; \
         OpenCode's request: {first} tokens",
        run.elapsed.as_secs_f64()
    );
    assert_near_default(first, "OpenCode's request");
}

/// A server whose context cannot hold OpenCode's prompt plus its cap refuses OpenCode's
/// request, and `strixc check` says so for such an agent.
#[test]
fn a_context_below_opencodes_prompt_refuses_it_and_check_says_so() {
    let Some((opencode, server, model)) = real_client("a_context_below_opencodes_prompt") else {
        return;
    };
    let small = 4096;
    match strixc::compile::compile(&tiny_stack(&server, &model, 18000, small)) {
        Ok(_) => panic!("a context of {small} compiles"),
        Err(d) => {
            let codes: Vec<&str> = d.iter().map(|x| x.problem.code()).collect();
            assert_eq!(codes, ["strixc::opencode::prompt_does_not_fit"]);
        }
    }
    let llama = LlamaServer::start(&server, &model, small);
    // The same agent with a context that fits, so that the files build; the server below
    // it has the small one.
    let tree = build(&tiny_stack(&server, &model, llama.port, 32768));
    let config = tree.get("opencode/opencode.json").unwrap().to_vec();
    let scratch = tempfile::tempdir().unwrap();
    let run = opencode.run_in(
        scratch.path(),
        &config,
        &opencode::model_of(&config, "tiny"),
        "hi",
        Duration::from_secs(180),
        &mut || !refused_sizes(&llama.log_text()).is_empty(),
    );
    let refused = refused_sizes(&llama.log_text());
    let first = *refused
        .first()
        .unwrap_or_else(|| panic!("llama-server refused nothing: {}", run.describe()));
    assert!(first > small, "{first}");
    assert!(
        run.stopped,
        "OpenCode was not stopped on the refusal: {}",
        run.describe()
    );
    eprintln!(
        "context {small}: llama-server refused OpenCode's first request of {first} tokens \
         (all refusals: {refused:?})"
    );
    assert_near_default(first, "OpenCode's refused request");
}
