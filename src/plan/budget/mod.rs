//! vLLM's memory arithmetic (README: "The budget"): pure integer math over bytes and tokens.
//!
//! Everything here mirrors what vLLM computes at start-up (`vllm/v1/worker/utils.py`
//! request_memory, `gpu_worker.py` determine_available_memory, `kv_cache_utils.py`):
//!
//! - requested = ceil(T × u), T = total GPU memory, u = `--gpu-memory-utilization`;
//! - available KV = requested − weights − overhead (activation peak + non-torch + buffer);
//! - KV tokens = 16 × floor(available / (16 × kvB)), blocks of 16 tokens.
//!
//! strixc runs it backwards: required = W + overhead + kvB × round_up_16(kv-tokens), and
//! u = required / T rounded **up** to 0.01. Utilizations are exact integer hundredths, never
//! floats that get compared. Inputs come from user text and can be absurd: all arithmetic is
//! widened to `u128` or saturating, so nothing here panics or overflows.
//!
//! [`profile`] applies the fit rules to a whole profile.

pub mod problems;
pub mod profile;
mod verdict;

use std::fmt;

pub use profile::{
    AgentBudget, AgentLoad, BudgetProblem, GpuBudget, HostCapacity, ProfileBudget,
    largest_common_context, profile_budget,
};

/// 2^20 bytes.
pub const MIB: u64 = 1 << 20;
/// 2^30 bytes.
pub const GIB: u64 = 1 << 30;

/// Tokens per vLLM KV-cache block (vLLM's default `--block-size`).
pub const BLOCK_TOKENS: u64 = 16;

/// Granularity of the context suggested for an over-budget profile.
pub const CONTEXT_SUGGESTION_STEP: u64 = 256;

/// Fixed part of the default overhead estimate; see [`default_overhead`].
pub const OVERHEAD_BASE: u64 = 3 * GIB;
/// Part of the default overhead that scales with the weights, in percent of them.
pub const OVERHEAD_WEIGHTS_PERCENT: u64 = 8;
/// The default overhead is rounded up to a multiple of this.
pub const OVERHEAD_GRANULE: u64 = 256 * MIB;

/// Saturating conversion of a widened intermediate back to bytes/tokens.
fn sat(x: u128) -> u64 {
    u64::try_from(x).unwrap_or(u64::MAX)
}

/// A `--gpu-memory-utilization` value, exactly, as integer hundredths (`Utilization(16)` is
/// 0.16). May exceed 1.00: the caller reports that.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Utilization(pub u16);

impl Utilization {
    pub const ZERO: Utilization = Utilization(0);
    /// 1.00: the whole GPU.
    pub const ONE: Utilization = Utilization(100);
    /// The largest representable value (655.35), where saturating results end.
    pub const MAX: Utilization = Utilization(u16::MAX);

    pub const fn hundredths(self) -> u16 {
        self.0
    }

    /// For display and JSON only; never compare these floats.
    pub fn as_f64(self) -> f64 {
        f64::from(self.0) / 100.0
    }

    pub fn saturating_add(self, other: Utilization) -> Utilization {
        Utilization(self.0.saturating_add(other.0))
    }
}

impl fmt::Display for Utilization {
    /// Always two decimals: `0.16`, `0.90`, `1.00`, `2.35`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

pub use crate::stack::KvDtype;
pub use crate::stack::quantity::format_gib;
pub use verdict::check_budget;

/// KV-cache bytes per token: 2 (key and value) × layers × kv-heads × head-dim × dtype bytes.
/// Saturates at `u64::MAX`.
pub fn kv_bytes_per_token(layers: u64, kv_heads: u64, head_dim: u64, dtype: KvDtype) -> u64 {
    [kv_heads, head_dim, dtype.bytes()]
        .into_iter()
        .fold(2 * u128::from(layers), |acc, x| {
            acc.saturating_mul(u128::from(x))
        })
        .try_into()
        .unwrap_or(u64::MAX)
}

/// Tokens rounded up to whole 16-token blocks (saturates at `u64::MAX`).
pub fn round_up_16(tokens: u64) -> u64 {
    tokens
        .checked_next_multiple_of(BLOCK_TOKENS)
        .unwrap_or(u64::MAX)
}

/// The default overhead (everything vLLM holds besides weights and KV cache) for a model of
/// `weights_bytes`: 3 GiB + 8 % of the weights, rounded up to a multiple of 256 MiB.
///
/// What it covers: vLLM's non-KV memory is weights + activation peak of one dummy batch +
/// non-torch memory (HIP/CUDA runtime, allocator) + a 150 MiB buffer, and no CUDA-graph
/// memory on ROCm / `--enforce-eager`. Real logs show activation peaks of 0.9–5.7 GiB,
/// growing with the model (hidden size, vocabulary), plus a few hundred MiB non-torch.
///
/// Why these numbers: an under-estimate is the dangerous error (vLLM then gets fewer KV
/// tokens than the context, or refuses to start), an over-estimate only wastes a little
/// memory, so the estimate errs high. The 3 GiB base alone covers the buffer, the non-torch
/// memory and the small models' ~1 GiB peaks with margin; the 8 % term grows with the
/// weights so that the largest peaks seen (5.7 GiB, 70B-class AWQ around 40 GB) stay
/// covered: 39.8 GB → 6 GiB, 9.98 GB → 3.75 GiB, 1.9 GB → 3.25 GiB. A stack that knows
/// better sets `overhead` on the agent.
pub fn default_overhead(weights_bytes: u64) -> u64 {
    let scaled = u128::from(weights_bytes) * u128::from(OVERHEAD_WEIGHTS_PERCENT);
    let estimate = u128::from(OVERHEAD_BASE) + scaled.div_ceil(100);
    sat(estimate.div_ceil(u128::from(OVERHEAD_GRANULE)) * u128::from(OVERHEAD_GRANULE))
}

/// What one GPU agent needs: weights, overhead and the KV cache it must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AgentDemand {
    pub weights: u64,
    pub overhead: u64,
    pub kv_bytes_per_token: u64,
    /// KV tokens to reserve (default: one full context); rounded up to whole blocks.
    pub kv_tokens: u64,
}

impl AgentDemand {
    /// A demand whose overhead is the stack's `overhead`, else [`default_overhead`].
    pub fn new(
        weights: u64,
        overhead: Option<u64>,
        kv_bytes_per_token: u64,
        kv_tokens: u64,
    ) -> AgentDemand {
        AgentDemand {
            weights,
            overhead: overhead.unwrap_or_else(|| default_overhead(weights)),
            kv_bytes_per_token,
            kv_tokens,
        }
    }

    /// W + overhead + kvB × round_up_16(kv_tokens), saturating at `u64::MAX`.
    pub fn required_bytes(&self) -> u64 {
        required(
            self.weights,
            self.overhead,
            self.kv_bytes_per_token,
            self.kv_tokens,
        )
    }

    /// The same demand with its KV tokens capped at `tokens`.
    pub fn capped(self, tokens: u64) -> AgentDemand {
        AgentDemand {
            kv_tokens: self.kv_tokens.min(tokens),
            ..self
        }
    }
}

fn required(weights: u64, overhead: u64, kv_bytes_per_token: u64, kv_tokens: u64) -> u64 {
    let kv = u128::from(kv_bytes_per_token) * u128::from(round_up_16(kv_tokens));
    sat(u128::from(weights) + u128::from(overhead) + kv)
}

/// `required / total_gpu` rounded **up** to 0.01: ceil(required × 100 / T), exactly. This is
/// the value strixc writes into `--gpu-memory-utilization`. Saturates at
/// [`Utilization::MAX`]; a zero `total_gpu` gives `MAX` unless nothing is required.
pub fn utilization_for(required: u64, total_gpu: u64) -> Utilization {
    if required == 0 {
        return Utilization::ZERO;
    }
    if total_gpu == 0 {
        return Utilization::MAX;
    }
    let h = (u128::from(required) * 100).div_ceil(u128::from(total_gpu));
    Utilization(u16::try_from(h).unwrap_or(u16::MAX))
}

/// The bytes vLLM requests at utilization `u`: ceil(T × u). vLLM computes it in floating
/// point (`math.ceil(total_memory * gpu_memory_utilization)`); this is the exact value
/// ceil(T × hundredths / 100), which differs from vLLM's by at most one byte.
pub fn requested_bytes(total_gpu: u64, u: Utilization) -> u64 {
    sat((u128::from(total_gpu) * u128::from(u.0)).div_ceil(100))
}

/// The largest whole number of 16-token blocks, in tokens, whose KV cache fits in
/// `available_bytes`: 16 × floor(available / (16 × kvB)). Zero when `kv_bytes_per_token` is
/// zero (a model without KV cache is rejected before this is asked).
pub fn largest_context_fitting(available_bytes: u64, kv_bytes_per_token: u64) -> u64 {
    if kv_bytes_per_token == 0 {
        return 0;
    }
    let block = u128::from(BLOCK_TOKENS) * u128::from(kv_bytes_per_token);
    sat(u128::from(available_bytes) / block * u128::from(BLOCK_TOKENS))
}

/// The KV tokens vLLM will actually allocate at utilization `u`:
/// 16 × floor((requested − W − overhead) / (16 × kvB)), 0 when nothing is left.
pub fn kv_cache_tokens(
    total_gpu: u64,
    u: Utilization,
    weights: u64,
    overhead: u64,
    kv_bytes_per_token: u64,
) -> u64 {
    let available = requested_bytes(total_gpu, u)
        .saturating_sub(weights)
        .saturating_sub(overhead);
    largest_context_fitting(available, kv_bytes_per_token)
}

/// The smallest utilization at which vLLM's KV cache holds one full `context`
/// (round_up_16(context) tokens), i.e. the smallest u with ceil(T × u) ≥ R where
/// R = W + overhead + kvB × round_up_16(context). For the "pinned utilization too small"
/// diagnostic. It is [`utilization_for`]`(R, T)` or, when T × u lands within one byte of R,
/// 0.01 less. Saturates at [`Utilization::MAX`].
pub fn min_utilization_for_context(
    total_gpu: u64,
    weights: u64,
    overhead: u64,
    kv_bytes_per_token: u64,
    context: u64,
) -> Utilization {
    let need = required(weights, overhead, kv_bytes_per_token, context);
    if need == 0 {
        return Utilization::ZERO;
    }
    if total_gpu == 0 {
        return Utilization::MAX;
    }
    // ceil(T·u/100) ≥ R  ⇔  T·u > 100·(R − 1)  ⇔  u ≥ floor(100·(R − 1) / T) + 1.
    let h = (u128::from(need) - 1) * 100 / u128::from(total_gpu) + 1;
    Utilization(u16::try_from(h).unwrap_or(u16::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn kv_bytes_per_token_matches_the_reference_models() {
        let bf16 = |l, h, d| kv_bytes_per_token(l, h, d, KvDtype::Auto);
        assert_eq!(bf16(36, 2, 128), 36_864, "Qwen2.5-3B");
        assert_eq!(bf16(28, 4, 128), 57_344, "Qwen2.5-7B");
        assert_eq!(
            bf16(48, 8, 128),
            196_608,
            "Qwen2.5-14B (48 layers, not the seed's 40)"
        );
        assert_eq!(bf16(64, 8, 128), 262_144, "Qwen2.5-32B");
        assert_eq!(bf16(80, 8, 128), 327_680, "Qwen2.5-72B and Llama-3.3-70B");
        assert_eq!(bf16(48, 4, 128), 98_304, "Qwen3-Coder-30B-A3B");
    }

    #[test]
    fn fp8_halves_the_kv_cache() {
        assert_eq!(kv_bytes_per_token(48, 8, 128, KvDtype::Fp8), 98_304);
        assert_eq!(kv_bytes_per_token(48, 4, 128, KvDtype::Fp8), 49_152);
        assert_eq!(kv_bytes_per_token(36, 2, 128, KvDtype::Fp8), 18_432);
    }

    #[test]
    fn kv_bytes_per_token_saturates() {
        let max = u64::MAX;
        assert_eq!(kv_bytes_per_token(max, max, max, KvDtype::Auto), u64::MAX);
        assert_eq!(kv_bytes_per_token(0, 8, 128, KvDtype::Auto), 0);
    }

    #[test]
    fn round_up_16_edges() {
        assert_eq!(round_up_16(0), 0);
        assert_eq!(round_up_16(1), 16);
        assert_eq!(round_up_16(15), 16);
        assert_eq!(round_up_16(16), 16);
        assert_eq!(round_up_16(17), 32);
        assert_eq!(round_up_16(32768), 32768);
        assert_eq!(round_up_16(32769), 32784);
        assert_eq!(round_up_16(u64::MAX - 15), u64::MAX - 15);
        assert_eq!(round_up_16(u64::MAX - 14), u64::MAX);
        assert_eq!(round_up_16(u64::MAX), u64::MAX);
    }

    #[test]
    fn default_overhead_errs_high_in_256_mib_steps() {
        assert_eq!(
            default_overhead(9_980_000_000),
            15 * 256 * MIB,
            "14B AWQ: 3.75 GiB"
        );
        assert_eq!(default_overhead(39_800_000_000), 6 * GIB, "70B AWQ: 6 GiB");
        assert_eq!(default_overhead(0), 3 * GIB);
        assert_eq!(default_overhead(1), 3 * GIB + 256 * MIB);
        assert_eq!(
            default_overhead(u64::MAX),
            1_475_739_529_150_201_856,
            "8 % of u64::MAX"
        );
        assert!(
            default_overhead(41_600_000_000) > 5_700 * MIB,
            "above the largest peak seen"
        );
    }

    #[test]
    fn utilization_rounds_up_to_a_hundredth() {
        let t = 100 * GIB;
        assert_eq!(
            utilization_for(16 * GIB, t),
            Utilization(16),
            "exact multiple stays"
        );
        assert_eq!(
            utilization_for(16 * GIB + 1, t),
            Utilization(17),
            "one byte over goes up"
        );
        assert_eq!(utilization_for(16 * GIB - 1, t), Utilization(16));
        assert_eq!(utilization_for(0, t), Utilization(0));
        assert_eq!(utilization_for(1, t), Utilization(1));
        assert_eq!(utilization_for(t, t), Utilization::ONE);
        assert_eq!(
            utilization_for(3 * t, t),
            Utilization(300),
            "over 1.00 is reported, not clamped"
        );
        assert_eq!(utilization_for(u64::MAX, 1), Utilization::MAX);
        assert_eq!(utilization_for(1, 0), Utilization::MAX);
        assert_eq!(utilization_for(0, 0), Utilization::ZERO);
    }

    #[test]
    fn requested_bytes_is_the_exact_ceiling() {
        assert_eq!(requested_bytes(100, Utilization(16)), 16);
        assert_eq!(requested_bytes(101, Utilization(16)), 17, "16.16 rounds up");
        assert_eq!(requested_bytes(124 * GIB, Utilization(16)), 21_303_037_789);
        assert_eq!(requested_bytes(u64::MAX, Utilization::MAX), u64::MAX);
        assert_eq!(requested_bytes(0, Utilization(90)), 0);
    }

    #[test]
    fn kv_cache_tokens_counts_whole_blocks() {
        // 1 MiB left for the cache at 1,024 bytes per token: exactly 1,024 tokens.
        let t = 100 * MIB;
        let w = 10 * MIB;
        let o = 5 * MIB;
        let u = Utilization(16);
        assert_eq!(requested_bytes(t, u), 16 * MIB);
        assert_eq!(kv_cache_tokens(t, u, w, o, 1024), 1024);
        // 1,000 bytes a token: floor(1,048,576 / 16,000) = 65 blocks.
        assert_eq!(kv_cache_tokens(t, u, w, o, 1000), 1040);
        assert_eq!(
            kv_cache_tokens(t, u, w + 2 * MIB, o, 1024),
            0,
            "negative → 0"
        );
        assert_eq!(kv_cache_tokens(t, u, w, o, 0), 0);
        assert_eq!(largest_context_fitting(u64::MAX, 1), u64::MAX - 15);
    }

    /// Thor: Qwen2.5-14B-AWQ on the Strix Halo (T = 124 GiB), context 32,768.
    #[test]
    fn thor_worked_example() {
        let t = 124 * GIB;
        let w = 9_980_000_000;
        let kvb = kv_bytes_per_token(48, 8, 128, KvDtype::Auto);
        let demand = AgentDemand::new(w, None, kvb, 32_768);
        assert_eq!(demand.overhead, 4_026_531_840);
        assert_eq!(AgentDemand::new(w, Some(5), kvb, 1).overhead, 5);
        // 9.98e9 + 3.75 GiB + 196,608 × 32,768 (6 GiB)
        assert_eq!(demand.required_bytes(), 20_448_982_784);
        assert_eq!(format_gib(demand.required_bytes()), "19.04 GiB");
        // 20,448,982,784 / 133,143,986,176 = 0.15358… → 0.16
        let u = utilization_for(demand.required_bytes(), t);
        assert_eq!(u, Utilization(16));
        assert_eq!(u.to_string(), "0.16");
        assert_eq!(requested_bytes(t, u), 21_303_037_789);
        // (21,303,037,789 − 9.98e9 − 4,026,531,840) / (16 × 196,608) = 2,318.9… blocks
        assert_eq!(kv_cache_tokens(t, u, w, demand.overhead, kvb), 37_104);
        assert_eq!(
            min_utilization_for_context(t, w, demand.overhead, kvb, 32_768),
            u
        );
        assert_eq!(
            kv_cache_tokens(t, Utilization(15), w, demand.overhead, kvb),
            30_336
        );
    }

    #[test]
    fn min_utilization_accounts_for_the_ceiling() {
        // R = 101 bytes, T = 1001: utilization_for says 0.11, yet ceil(1001 × 0.10) = 101.
        assert_eq!(utilization_for(101, 1001), Utilization(11));
        assert_eq!(
            min_utilization_for_context(1001, 101, 0, 1, 0),
            Utilization(10)
        );
        assert_eq!(
            min_utilization_for_context(1001, 0, 0, 1, 0),
            Utilization::ZERO
        );
        assert_eq!(min_utilization_for_context(0, 1, 0, 1, 0), Utilization::MAX);
    }

    #[test]
    fn utilization_display() {
        assert_eq!(Utilization(16).to_string(), "0.16");
        assert_eq!(Utilization(90).to_string(), "0.90");
        assert_eq!(Utilization(5).to_string(), "0.05");
        assert_eq!(Utilization(100).to_string(), "1.00");
        assert_eq!(Utilization(235).to_string(), "2.35");
        assert_eq!(Utilization(16).as_f64(), 0.16);
    }

    #[test]
    fn format_gib_two_decimals() {
        assert_eq!(format_gib(0), "0.00 GiB");
        assert_eq!(format_gib(GIB), "1.00 GiB");
        assert_eq!(format_gib(124 * GIB), "124.00 GiB");
        assert_eq!(format_gib(9_980_000_000), "9.29 GiB");
        assert_eq!(
            format_gib(GIB + GIB / 200 + 1),
            "1.01 GiB",
            "half rounds up"
        );
        assert_eq!(format_gib(GIB + GIB / 200 - 1), "1.00 GiB");
        assert_eq!(format_gib(u64::MAX), "17179869184.00 GiB");
    }

    proptest! {
        /// At the utilization strixc writes, vLLM gets at least the KV tokens asked for.
        #[test]
        fn written_utilization_holds_the_kv_tokens(
            total in GIB..(1u64 << 42),
            weights in 0u64..(1u64 << 40),
            overhead in 0u64..(1u64 << 36),
            kvb in 1u64..(1u64 << 22),
            kv_tokens in 0u64..(1u64 << 21),
        ) {
            let demand = AgentDemand { weights, overhead, kv_bytes_per_token: kvb, kv_tokens };
            let required = demand.required_bytes();
            let u = utilization_for(required, total);
            prop_assume!(u < Utilization::MAX);
            prop_assert!(requested_bytes(total, u) >= required);
            prop_assert!(kv_cache_tokens(total, u, weights, overhead, kvb) >= round_up_16(kv_tokens));
            let min = min_utilization_for_context(total, weights, overhead, kvb, kv_tokens);
            prop_assert!(min <= u);
            prop_assert!(kv_cache_tokens(total, min, weights, overhead, kvb) >= round_up_16(kv_tokens));
            if min > Utilization::ZERO {
                let below = Utilization(min.0 - 1);
                prop_assert!(kv_cache_tokens(total, below, weights, overhead, kvb) < round_up_16(kv_tokens));
            }
        }

        /// The exact ceiling is within one byte of vLLM's floating-point one.
        #[test]
        fn requested_bytes_matches_vllm_float(total in 0u64..(1u64 << 50), h in 0u16..=100) {
            let u = Utilization(h);
            let python = (total as f64 * (f64::from(h) / 100.0)).ceil() as u64;
            prop_assert!(requested_bytes(total, u).abs_diff(python) <= 1);
        }

        /// Absurd inputs never panic.
        #[test]
        fn nothing_panics(a: u64, b: u64, c: u64, d: u64, e: u64, h: u16) {
            let u = Utilization(h);
            let _ = kv_bytes_per_token(a, b, c, KvDtype::Auto);
            let _ = default_overhead(a);
            let _ = AgentDemand { weights: a, overhead: b, kv_bytes_per_token: c, kv_tokens: d }.required_bytes();
            let _ = utilization_for(a, b);
            let _ = requested_bytes(a, u);
            let _ = kv_cache_tokens(a, u, b, c, d);
            let _ = min_utilization_for_context(a, b, c, d, e);
            let _ = format_gib(a);
            let _ = round_up_16(a);
        }
    }
}
