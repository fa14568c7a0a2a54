//! A Hugging Face `config.json` → the numbers strixc sizes memory with. Pure.

use std::fmt;
use std::path::Path;

use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer};
use serde_json::{Map, Value};

use super::ImportError;
pub use crate::stack::Quant;

/// The model families whose `config.json` strixc reads (attention layout in standard fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Architecture {
    Qwen2,
    Qwen3,
    Qwen3Moe,
    Llama,
    Mistral,
}

impl Architecture {
    const ALL: [(Architecture, &'static str, &'static str); 5] = [
        (Architecture::Qwen2, "qwen2", "Qwen2ForCausalLM"),
        (Architecture::Qwen3, "qwen3", "Qwen3ForCausalLM"),
        (Architecture::Qwen3Moe, "qwen3_moe", "Qwen3MoeForCausalLM"),
        (Architecture::Llama, "llama", "LlamaForCausalLM"),
        (Architecture::Mistral, "mistral", "MistralForCausalLM"),
    ];

    /// `config.json`'s `model_type`.
    pub fn model_type(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(a, _, _)| *a == self)
            .map_or("", |(_, t, _)| t)
    }

    fn from_model_type(s: &str) -> Option<Architecture> {
        Self::ALL
            .iter()
            .find(|(_, t, _)| *t == s)
            .map(|(a, _, _)| *a)
    }

    fn from_class(s: &str) -> Option<Architecture> {
        Self::ALL
            .iter()
            .find(|(_, _, c)| *c == s)
            .map(|(a, _, _)| *a)
    }
}

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.model_type())
    }
}

/// What `config.json` says about the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelConfig {
    pub architecture: Architecture,
    pub quant: Quant,
    pub layers: u64,
    pub kv_heads: u64,
    pub head_dim: u64,
    pub max_context: u64,
    /// `_name_or_path`, when present.
    pub name_or_path: Option<String>,
}

impl ModelConfig {
    /// Reads `config` (the parsed contents of `path`, named in errors).
    pub fn from_json(config: &Value, path: &Path) -> Result<ModelConfig, ImportError> {
        let fields = Fields { path };
        let raw = match config {
            Value::Object(_) => RawConfig::deserialize(config).ok(),
            _ => None,
        };
        let Some(raw) = raw else {
            return Err(fields.bad("(the file)", config, "a JSON object"));
        };
        let architecture = fields.architecture(&raw)?;
        let layers = fields.require("num_hidden_layers", &raw.num_hidden_layers)?;
        let heads = fields.uint("num_attention_heads", &raw.num_attention_heads)?;
        let kv_heads = match (
            fields.uint("num_key_value_heads", &raw.num_key_value_heads)?,
            heads,
        ) {
            (Some(kv), _) | (None, Some(kv)) => kv,
            (None, None) => return Err(fields.missing("num_key_value_heads")),
        };
        let head_dim = match fields.uint("head_dim", &raw.head_dim)? {
            Some(d) => d,
            None => fields.head_dim(&raw, heads)?,
        };
        Ok(ModelConfig {
            architecture,
            quant: fields.quant(&raw)?,
            layers,
            kv_heads,
            head_dim,
            max_context: fields.require("max_position_embeddings", &raw.max_position_embeddings)?,
            name_or_path: raw.name_or_path.valid(),
        })
    }
}

/// The fields of `config.json` strixc reads, each as found (see [`Field`]).
#[derive(Deserialize, Default)]
#[serde(default)]
struct RawConfig {
    model_type: Field<String>,
    architectures: Field<Vec<Value>>,
    num_hidden_layers: Field<u64>,
    num_attention_heads: Field<u64>,
    num_key_value_heads: Field<u64>,
    head_dim: Field<u64>,
    hidden_size: Field<u64>,
    max_position_embeddings: Field<u64>,
    /// An object; its `quant_method` is read as a [`Field`] too.
    quantization_config: Field<Map<String, Value>>,
    torch_dtype: Field<String>,
    dtype: Field<String>,
    #[serde(rename = "_name_or_path")]
    name_or_path: Field<String>,
}

/// A field as `config.json` has it: absent (or null), of the expected type, or anything
/// else, kept for the error that shows it. Reading one never fails.
#[derive(Debug, Default)]
enum Field<T> {
    #[default]
    Absent,
    Valid(T),
    Invalid(Value),
}

impl<T: DeserializeOwned> Field<T> {
    fn of(value: Option<&Value>) -> Field<T> {
        match value {
            None | Some(Value::Null) => Field::Absent,
            Some(v) => match T::deserialize(v) {
                Ok(t) => Field::Valid(t),
                Err(_) => Field::Invalid(v.clone()),
            },
        }
    }

    fn valid(self) -> Option<T> {
        match self {
            Field::Valid(t) => Some(t),
            _ => None,
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Ok(Field::of(Some(&value)))
    }
}

/// Errors that name the file and the field.
struct Fields<'a> {
    path: &'a Path,
}

impl Fields<'_> {
    fn missing(&self, field: &'static str) -> ImportError {
        ImportError::MissingField {
            path: self.path.to_path_buf(),
            field,
        }
    }

    fn bad(&self, field: &str, found: &Value, expected: &'static str) -> ImportError {
        let mut found = found.to_string();
        if found.len() > 60 {
            let cut = (0..=57)
                .rev()
                .find(|&i| found.is_char_boundary(i))
                .unwrap_or(0);
            found.truncate(cut);
            found.push_str("...");
        }
        ImportError::BadField {
            path: self.path.to_path_buf(),
            field: field.to_owned(),
            found,
            expected,
        }
    }

    /// A positive whole number, or `None` when absent or null.
    fn uint(&self, field: &'static str, value: &Field<u64>) -> Result<Option<u64>, ImportError> {
        match value {
            Field::Absent => Ok(None),
            Field::Valid(n) if *n > 0 => Ok(Some(*n)),
            Field::Valid(n) => Err(self.bad(field, &Value::from(*n), "a positive whole number")),
            Field::Invalid(v) => Err(self.bad(field, v, "a positive whole number")),
        }
    }

    fn require(&self, field: &'static str, value: &Field<u64>) -> Result<u64, ImportError> {
        self.uint(field, value)?.ok_or_else(|| self.missing(field))
    }

    fn string(&self, value: &Field<String>, field: &str) -> Result<Option<String>, ImportError> {
        match value {
            Field::Absent => Ok(None),
            Field::Valid(s) => Ok(Some(s.clone())),
            Field::Invalid(v) => Err(self.bad(field, v, "a string")),
        }
    }

    /// `hidden_size / num_attention_heads`, when `head_dim` is absent.
    fn head_dim(&self, raw: &RawConfig, heads: Option<u64>) -> Result<u64, ImportError> {
        let hidden = self.require("hidden_size", &raw.hidden_size)?;
        let heads = heads.ok_or_else(|| self.missing("num_attention_heads"))?;
        if hidden % heads != 0 {
            return Err(ImportError::HeadDim {
                path: self.path.to_path_buf(),
                hidden,
                heads,
            });
        }
        Ok(hidden / heads)
    }

    /// `model_type`, else the first of `architectures`.
    fn architecture(&self, raw: &RawConfig) -> Result<Architecture, ImportError> {
        let unknown = |found: String| ImportError::UnknownArchitecture {
            path: self.path.to_path_buf(),
            found,
        };
        if let Some(t) = self.string(&raw.model_type, "model_type")? {
            return Architecture::from_model_type(&t).ok_or_else(|| unknown(t));
        }
        let first = match &raw.architectures {
            Field::Valid(classes) => Field::of(classes.first()),
            _ => Field::Absent,
        };
        match self.string(&first, "architectures")? {
            Some(class) => Architecture::from_class(&class).ok_or_else(|| unknown(class)),
            None => Err(self.missing("model_type")),
        }
    }

    /// `quantization_config.quant_method`, else `torch_dtype` (or the newer `dtype`), else bf16.
    fn quant(&self, raw: &RawConfig) -> Result<Quant, ImportError> {
        match &raw.quantization_config {
            Field::Absent => self.dtype(raw),
            Field::Valid(q) => self.quant_method(&Field::of(q.get("quant_method"))),
            Field::Invalid(_) => Err(self.missing("quantization_config.quant_method")),
        }
    }

    fn quant_method(&self, method: &Field<String>) -> Result<Quant, ImportError> {
        let field = "quantization_config.quant_method";
        let Some(method) = self.string(method, field)? else {
            return Err(self.missing("quantization_config.quant_method"));
        };
        match method.to_ascii_lowercase().as_str() {
            "awq" => Ok(Quant::Awq),
            "gptq" => Ok(Quant::Gptq),
            "fp8" => Ok(Quant::Fp8),
            _ => Err(ImportError::UnknownQuantization {
                path: self.path.to_path_buf(),
                found: method,
            }),
        }
    }

    fn dtype(&self, raw: &RawConfig) -> Result<Quant, ImportError> {
        let (field, dtype) = match &raw.torch_dtype {
            Field::Absent => ("dtype", &raw.dtype),
            torch => ("torch_dtype", torch),
        };
        match self.string(dtype, field)?.as_deref() {
            None | Some("bfloat16") => Ok(Quant::Bf16),
            Some("float16") => Ok(Quant::Fp16),
            Some("float32") => Ok(Quant::Fp32),
            Some(other) => {
                Err(self.bad(field, &Value::from(other), "bfloat16, float16 or float32"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(config: Value) -> Result<ModelConfig, ImportError> {
        ModelConfig::from_json(&config, Path::new("m/config.json"))
    }

    fn err(config: Value) -> String {
        read(config).expect_err("an error").to_string()
    }

    fn minimal() -> Value {
        json!({
            "model_type": "llama",
            "num_hidden_layers": 80,
            "num_attention_heads": 64,
            "num_key_value_heads": 8,
            "hidden_size": 8192,
            "max_position_embeddings": 131072
        })
    }

    #[test]
    fn reads_a_llama_config() {
        let c = read(minimal()).expect("valid");
        assert_eq!(
            c,
            ModelConfig {
                architecture: Architecture::Llama,
                quant: Quant::Bf16,
                layers: 80,
                kv_heads: 8,
                head_dim: 128,
                max_context: 131072,
                name_or_path: None,
            }
        );
    }

    #[test]
    fn defaults_and_fallbacks() {
        let mut c = minimal();
        c["num_key_value_heads"] = Value::Null;
        c["head_dim"] = Value::Null;
        c["model_type"] = Value::Null;
        c["architectures"] = json!(["MistralForCausalLM"]);
        c["torch_dtype"] = json!("float16");
        let m = read(c).expect("valid");
        assert_eq!(
            m.kv_heads, 64,
            "num_key_value_heads defaults to num_attention_heads"
        );
        assert_eq!(m.head_dim, 128);
        assert_eq!(m.architecture, Architecture::Mistral);
        assert_eq!(m.quant, Quant::Fp16);

        let mut c = minimal();
        c["head_dim"] = json!(96);
        c["dtype"] = json!("float32");
        let m = read(c).expect("valid");
        assert_eq!(m.head_dim, 96, "an explicit head_dim wins");
        assert_eq!(m.quant, Quant::Fp32, "the newer `dtype` field is read too");
    }

    #[test]
    fn quantization_methods() {
        for (method, quant) in [
            ("awq", Quant::Awq),
            ("gptq", Quant::Gptq),
            ("fp8", Quant::Fp8),
        ] {
            let mut c = minimal();
            c["quantization_config"] = json!({"quant_method": method, "bits": 4});
            assert_eq!(read(c).expect("valid").quant, quant);
        }
        let mut c = minimal();
        c["quantization_config"] = json!({"quant_method": "bitsandbytes"});
        assert_eq!(
            err(c),
            "m/config.json: quantization `bitsandbytes` is not supported (strixc reads awq, \
             gptq and fp8); write the model node by hand"
        );
    }

    #[test]
    fn errors_name_the_file_and_the_field() {
        let mut c = minimal();
        c["model_type"] = json!("gemma3");
        assert_eq!(
            err(c),
            "m/config.json: model type `gemma3` is not supported (strixc reads qwen2, qwen3, \
             qwen3_moe, llama and mistral); write the model node by hand"
        );

        let mut c = minimal();
        c.as_object_mut()
            .expect("object")
            .remove("num_hidden_layers");
        assert_eq!(
            err(c),
            "m/config.json has no `num_hidden_layers`: strixc needs it to size the KV cache; \
             check that this is the model's own config.json, or write the model node by hand"
        );

        let mut c = minimal();
        c["num_hidden_layers"] = json!(48.5);
        assert_eq!(
            err(c),
            "`num_hidden_layers` in m/config.json is 48.5, expected a positive whole number; \
             fix the file or write the model node by hand"
        );

        let mut c = minimal();
        c["num_key_value_heads"] = json!("8");
        assert!(err(c).starts_with("`num_key_value_heads` in m/config.json is \"8\""));

        let mut c = minimal();
        c["max_position_embeddings"] = json!(0);
        assert!(err(c).starts_with("`max_position_embeddings` in m/config.json is 0,"));

        let mut c = minimal();
        c["hidden_size"] = json!(5000);
        c["num_attention_heads"] = json!(64);
        assert_eq!(
            err(c),
            "m/config.json: hidden_size 5000 is not a multiple of num_attention_heads 64 and \
             head_dim is absent; add head-dim to the model node by hand"
        );

        assert!(err(json!({"num_hidden_layers": 1})).contains("has no `model_type`"));
        assert!(err(json!([1, 2])).contains("expected a JSON object"));
        assert!(err(json!({"model_type": 7})).contains("expected a string"));
        let long = "x".repeat(200);
        assert!(err(json!({"model_type": "qwen2", "num_hidden_layers": long})).contains("xxx..."));
    }
}
