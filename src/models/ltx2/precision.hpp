#pragma once
// How an LTX-2 module's large matrices stay in memory after load (modules.hpp, TensorSource).
// Float32: widened when loaded (the default). AsStored: linear layers' weights (and Gemma's
// embeddings) keep the checkpoint's dtype (bf16 and fp16 as such, fp8 as its bytes with a
// 256-value table) and are widened where they are used: the same numbers as widening at load, in
// half (bf16) or a quarter (fp8) of the memory. No libtorch.
namespace opsis::ltx2 {

enum class WeightPrecision { Float32, AsStored };

}  // namespace opsis::ltx2
