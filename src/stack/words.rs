//! Enums the stack writes as words (`quant "awq"`, `engine "llama.cpp"`): one declaration
//! names each variant's word, and parsing, display and the list of words follow from it.

/// Declares a fieldless enum whose variants each have one word (`Awq = "awq"`), with
/// `NAMES` (every word, in declaration order), `as_str`, `parse`, `Display` and `FromStr`.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident = $word:literal, )+
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $( $(#[$variant_meta])* $variant, )+
        }

        impl $name {
            /// Every word, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($word),+];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $word, )+
                }
            }

            pub fn parse(word: &str) -> Option<Self> {
                match word {
                    $( $word => Some($name::$variant), )+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = ();

            fn from_str(word: &str) -> Result<Self, ()> {
                Self::parse(word).ok_or(())
            }
        }
    };
}

pub(crate) use string_enum;

#[cfg(test)]
mod tests {
    use crate::stack::{Engine, KvDtype, Quant};

    #[test]
    fn kv_dtype_names() {
        assert_eq!("auto".parse(), Ok(KvDtype::Auto));
        assert_eq!("fp8".parse(), Ok(KvDtype::Fp8));
        assert_eq!("bf16".parse::<KvDtype>(), Err(()));
        assert_eq!(KvDtype::Fp8.to_string(), "fp8");
    }

    #[test]
    fn every_word_parses_back_to_its_variant() {
        for word in Quant::NAMES {
            assert_eq!(Quant::parse(word).map(Quant::as_str), Some(*word));
        }
        for word in Engine::NAMES {
            assert_eq!(
                word.parse::<Engine>().map(|e| e.to_string()),
                Ok(word.to_string())
            );
        }
        assert_eq!(Engine::LlamaCpp.as_str(), "llama.cpp");
        assert_eq!(Quant::parse("AWQ"), None, "words are exact");
        assert_eq!(
            Quant::NAMES,
            [
                "awq", "gptq", "marlin", "fp8", "bf16", "fp16", "fp32", "gguf"
            ]
        );
    }
}
