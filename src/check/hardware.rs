//! What the engines and the GPU can run: the seed's gfx1151 findings, engine vs weight
//! format, and where each engine finds its model.

use crate::check::problems::{
    EngineModelMismatch, Fp8KvCache, Fp8Weights, GptqOnRocm, GpuRequired, ModelLocationMissing,
};
use crate::diagnostic::Diagnostics;
use crate::stack::{Agent, Engine, KvDtype, Model, Quant, Stack};

pub fn check(stack: &Stack, d: &mut Diagnostics) {
    let mut reported_models: Vec<&str> = Vec::new();
    for agent in &stack.agents {
        let Some(runtime) = stack.runtime_of(agent) else {
            continue;
        };
        let engine = runtime.engine.value;
        // A stack without a `host` node is already reported as such; "the host declares
        // no GPU" on every agent would only repeat it (a missing host has an empty span).
        let host_declared = !stack.host.span.is_empty();
        if engine == Engine::Vllm && stack.host.gpu.is_none() && host_declared {
            d.emit(
                GpuRequired {
                    agent: agent.name.value.clone(),
                },
                agent.name.span,
            );
        }
        if let (Some(dtype), Some(gpu)) = (&agent.kv_cache_dtype, &stack.host.gpu)
            && dtype.value == KvDtype::Fp8
            && engine == Engine::Vllm
            && is_rdna(&gpu.arch)
        {
            d.emit(
                Fp8KvCache {
                    agent: agent.name.value.clone(),
                },
                dtype.span,
            );
        }
        let Some(model_ref) = &agent.model else {
            continue;
        };
        let Some(model) = stack.model(model_ref) else {
            continue;
        };
        let is_gguf = model.quant() == Some(Quant::Gguf);
        match engine {
            Engine::LlamaCpp if !is_gguf => {
                mismatch(agent, engine, model, "not GGUF", model_ref.span, d)
            }
            Engine::Vllm if is_gguf => mismatch(agent, engine, model, "GGUF", model_ref.span, d),
            _ => {}
        }
        if reported_models.contains(&model.name.as_str()) {
            continue;
        }
        reported_models.push(model.name.as_str());
        location(model, engine, d);
        if engine == Engine::Vllm {
            quantization(stack, model, d);
        }
    }
}

/// RDNA GPUs (gfx10xx, gfx11xx, gfx12xx): no fp8 matrix units, uncalibrated fp8 KV scales.
fn is_rdna(arch: &str) -> bool {
    ["gfx10", "gfx11", "gfx12"]
        .iter()
        .any(|p| arch.starts_with(p))
}

fn mismatch(
    agent: &Agent,
    engine: Engine,
    model: &Model,
    format: &'static str,
    span: miette::SourceSpan,
    d: &mut Diagnostics,
) {
    d.emit(
        EngineModelMismatch {
            agent: agent.name.value.clone(),
            engine: engine.as_str(),
            model: model.name.value.clone(),
            format,
        },
        span,
    );
}

/// vLLM needs a `repo` (or a local `path`); llama.cpp needs the GGUF file's `path`.
fn location(model: &Model, engine: Engine, d: &mut Diagnostics) {
    let (ok, field) = match engine {
        Engine::Vllm => (model.repo.is_some() || model.path.is_some(), "repo"),
        Engine::LlamaCpp => (model.path.is_some(), "path"),
    };
    if !ok {
        d.emit(
            ModelLocationMissing {
                model: model.name.value.clone(),
                engine: engine.as_str(),
                field,
            },
            model.name.span,
        );
    }
}

/// The seed's measured failures on AMD: fp8 weights (torch._scaled_mm needs MI300 or
/// sm_89+) and GPTQ/Marlin (CUDA-only kernels).
fn quantization(stack: &Stack, model: &Model, d: &mut Diagnostics) {
    let (Some(quant), Some(gpu)) = (&model.quant, &stack.host.gpu) else {
        return;
    };
    let amd = gpu.arch.starts_with("gfx");
    let has_fp8_matmul = gpu.arch.starts_with("gfx94") || gpu.arch.starts_with("gfx95");
    match quant.value {
        Quant::Fp8 if amd && !has_fp8_matmul => d.emit(
            Fp8Weights {
                model: model.name.value.clone(),
                gpu: gpu.arch.value.clone(),
            },
            quant.span,
        ),
        Quant::Gptq | Quant::Marlin if amd => d.emit(
            GptqOnRocm {
                model: model.name.value.clone(),
                quant: quant.value.as_str(),
            },
            quant.span,
        ),
        _ => {}
    }
}
