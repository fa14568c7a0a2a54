//! What the hardware and the engines can do: a model an engine can load, kernels a GPU has.

use crate::diagnostic::problem;

problem! {
    ModelLocationMissing { model: String, engine: &'static str, field: &'static str },
    code: "strixc::model::location_missing",
    message: "model `{model}` has no `{field}`",
    label: "defined here",
    help: "{engine} loads a model from its `{field}`; add one",
}

problem! {
    EngineModelMismatch { agent: String, engine: &'static str, model: String, format: &'static str },
    code: "strixc::agent::engine_model_mismatch",
    message: {
        format!(
            "agent `{agent}` runs {}, which cannot load model `{model}` ({format})",
            if *engine == "vllm" { "vLLM" } else { engine }
        )
    },
    label: "model chosen here",
    help: {
        match *engine {
            "llama.cpp" => "llama.cpp loads GGUF files: give the model `quant \"gguf\"` and a `path`, or run the agent on vLLM",
            _ => "vLLM loads Hugging Face checkpoints (AWQ, BF16): choose such a model, or run the agent on a llama.cpp runtime",
        }
    },
}

problem! {
    GpuRequired { agent: String },
    code: "strixc::host::gpu_required",
    message: "agent `{agent}` runs vLLM, but the host declares no GPU",
    label: "GPU agent",
    help: "add `gpu \"gfx1151\" memory=\"124GiB\" unified=#true` to `host`",
}

problem! {
    Fp8Weights { model: String, gpu: String },
    code: "strixc::hardware::fp8_weights",
    message: "model `{model}` uses fp8 weights, which crash on {gpu}",
    label: "fp8 weights",
    help: "torch._scaled_mm needs MI300 or CUDA sm_89+: use an AWQ build of the model (`quant \"awq\"`)",
}

problem! {
    GptqOnRocm { model: String, quant: &'static str },
    code: "strixc::hardware::cuda_only_quant",
    message: "model `{model}` uses {quant}, whose kernels are CUDA-only",
    label: "CUDA-only quantization",
    help: "GPTQ/Marlin kernels are CUDA-only: use an AWQ build of the model",
}

problem! {
    Fp8KvCache { agent: String },
    code: "strixc::hardware::fp8_kv_cache",
    severity: Warning,
    message: "agent `{agent}` uses an fp8 KV cache, which loses accuracy on this GPU",
    label: "uncalibrated fp8 scales",
    help: "gfx1151's attention uses uncalibrated fp8 scales (1.0): use `kv-cache-dtype \"auto\"` unless you measured the loss",
}
