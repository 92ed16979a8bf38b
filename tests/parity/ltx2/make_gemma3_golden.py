#!/usr/bin/env python3
"""Makes the Gemma 3 text-encoder golden for the LTX-2 port: a tiny random Gemma 3 decoder run
by Google's own PyTorch reference (github.com/google/gemma_pytorch, imported from --ref, never
copied into opsis), with the hidden states LTX-2 consumes.

LTX-2's reference runs Hugging Face transformers' Gemma 3 (not packaged in Debian 13) with
output_hidden_states=True. gemma_pytorch implements the same architecture; this script
composes its pieces the way its Gemma 3 multimodal model runs text (token embedding x
sqrt(width), the decoder stack, local RoPE base 10k, global RoPE base 1M with the linear
scaling factor) and records the hidden states in the Hugging Face order:
  [embeddings, output of layer 0, ..., output of layer N-2, final norm(output of layer N-1)].
Unpadded sequences only: gemma_pytorch has no padding mask (see README.md).

Weights are saved under the Hugging Face Gemma 3 names that the real checkpoint uses
(language_model.model.*; gemma_pytorch's fused qkv_proj split into q/k/v_proj).
Run inside the Debian 13 chroot (torch 2.6, sentencepiece 0.2 — the versions it pins).
"""
import argparse
import json
import math
import os
import sys

GEMMA = dict(vocab_size=64, hidden_size=32, num_attention_heads=4, num_key_value_heads=2, head_dim=8,
             intermediate_size=64, num_hidden_layers=2, sliding_window_size=4, rms_norm_eps=1e-6,
             rope_local=10_000, rope_global=1_000_000, rope_scaling_factor=8, seq_len=12, batch=2)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref", required=True, help="gemma_pytorch source (has gemma/model.py)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden"))
    ap.add_argument("--seed", type=int, default=31337)
    args = ap.parse_args()
    sys.path.insert(0, args.ref)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.dont_write_bytecode = True  # no __pycache__ beside the scripts
    import torch
    from gemma import config as gcfg
    from gemma import model as gmodel
    from make_goldens import Recorder, save_safetensors, reference_commit

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    c = GEMMA
    config = gcfg.GemmaConfig(
        architecture=gcfg.Architecture.GEMMA_3, dtype="float32", vocab_size=c["vocab_size"],
        max_position_embeddings=64, num_hidden_layers=c["num_hidden_layers"],
        num_attention_heads=c["num_attention_heads"], num_key_value_heads=c["num_key_value_heads"],
        hidden_size=c["hidden_size"], intermediate_size=c["intermediate_size"], head_dim=c["head_dim"],
        rms_norm_eps=c["rms_norm_eps"], use_pre_ffw_norm=True, use_post_ffw_norm=True, use_qk_norm=True,
        attn_types=(gcfg.AttentionType.LOCAL_SLIDING, gcfg.AttentionType.GLOBAL),
        sliding_window_size=c["sliding_window_size"],
        rope_wave_length={gcfg.AttentionType.LOCAL_SLIDING: c["rope_local"],
                          gcfg.AttentionType.GLOBAL: c["rope_global"]},
        rope_scaling_factor=c["rope_scaling_factor"], tokenizer=None)

    g = torch.Generator().manual_seed(args.seed)
    model = gmodel.GemmaModel(config)
    embed = torch.randn(c["vocab_size"], c["hidden_size"], generator=g)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if p.ndim == 1:  # RMSNorm weights, used as (1 + w)
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
            else:
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(p.shape[1]))

    B, S, L = c["batch"], c["seq_len"], c["num_hidden_layers"]
    tokens = torch.randint(0, c["vocab_size"], (B, S), generator=g)
    positions = torch.arange(S)
    hd = c["head_dim"]
    freqs = {
        gcfg.AttentionType.LOCAL_SLIDING: gmodel.precompute_freqs_cis(hd, 2 * 64, theta=c["rope_local"]).index_select(0, positions),
        gcfg.AttentionType.GLOBAL: gmodel.precompute_freqs_cis(hd, 2 * 64, theta=c["rope_global"],
                                                               rope_scaling_factor=c["rope_scaling_factor"]).index_select(0, positions),
    }
    neg = -2.3819763e38
    mask = torch.triu(torch.full((1, 1, S, S), neg), diagonal=1)
    local_mask = mask + torch.tril(torch.full((1, 1, S, S), neg), diagonal=-c["sliding_window_size"])
    kv = [(torch.zeros(B, S, c["num_key_value_heads"], hd), torch.zeros(B, S, c["num_key_value_heads"], hd))
          for _ in range(L)]

    outs = {}
    hooks = [layer.register_forward_hook(lambda m, i, o, n=n: outs.__setitem__(n, o.detach().clone()))
             for n, layer in enumerate(model.layers)]
    with torch.no_grad():
        x = embed[tokens] * torch.tensor(c["hidden_size"] ** 0.5, dtype=torch.float32)
        final = model(hidden_states=x.clone(), freqs_cis=freqs, kv_write_indices=positions, kv_caches=kv,
                      mask=mask, local_mask=local_mask)
    for h in hooks:
        h.remove()
    hidden = [x] + [outs[n] for n in range(L - 1)] + [final]

    rec = Recorder()
    rec.put("gemma.tokens", tokens, "[B, S] token ids (no padding, positions 0..S-1)")
    rec.put("gemma.hidden_states", torch.stack(hidden, dim=-1),
            "[B, S, D, L+1] Hugging Face order: embeddings x sqrt(D), layers 0..L-2 outputs, final norm of layer L-1's output")
    rec.put("gemma.last_layer_raw", outs[L - 1], "[B, S, D] layer L-1 output before the final norm")
    for n in range(L):
        rec.put(f"gemma.layer{n}.output", outs[n], f"[B, S, D] output of layer {n} ({'local sliding' if n % 2 == 0 else 'global'})")

    # Weights under the Hugging Face Gemma 3 names (language_model.model.* in the real file).
    q_size, kv_size = c["num_attention_heads"] * hd, c["num_key_value_heads"] * hd
    weights = {"language_model.model.embed_tokens.weight": embed,
               "language_model.model.norm.weight": model.norm.weight.detach()}
    for n, layer in enumerate(model.layers):
        p = f"language_model.model.layers.{n}."
        q, k, v = layer.self_attn.qkv_proj.weight.detach().split([q_size, kv_size, kv_size], dim=0)
        weights |= {p + "self_attn.q_proj.weight": q, p + "self_attn.k_proj.weight": k,
                    p + "self_attn.v_proj.weight": v,
                    p + "self_attn.o_proj.weight": layer.self_attn.o_proj.weight.detach(),
                    p + "self_attn.q_norm.weight": layer.self_attn.query_norm.weight.detach(),
                    p + "self_attn.k_norm.weight": layer.self_attn.key_norm.weight.detach(),
                    p + "mlp.gate_proj.weight": layer.mlp.gate_proj.weight.detach(),
                    p + "mlp.up_proj.weight": layer.mlp.up_proj.weight.detach(),
                    p + "mlp.down_proj.weight": layer.mlp.down_proj.weight.detach(),
                    p + "input_layernorm.weight": layer.input_layernorm.weight.detach(),
                    p + "post_attention_layernorm.weight": layer.post_attention_layernorm.weight.detach(),
                    p + "pre_feedforward_layernorm.weight": layer.pre_feedforward_layernorm.weight.detach(),
                    p + "post_feedforward_layernorm.weight": layer.post_feedforward_layernorm.weight.detach()}
    hf_config = {  # the Hugging Face text_config fields these values correspond to
        "model_type": "gemma3_text", "vocab_size": c["vocab_size"], "hidden_size": c["hidden_size"],
        "intermediate_size": c["intermediate_size"], "num_hidden_layers": L,
        "num_attention_heads": c["num_attention_heads"], "num_key_value_heads": c["num_key_value_heads"],
        "head_dim": hd, "query_pre_attn_scalar": hd, "rms_norm_eps": c["rms_norm_eps"],
        "sliding_window": c["sliding_window_size"], "layer_types": ["sliding_attention", "full_attention"],
        "rope_local_base_freq": c["rope_local"], "rope_theta": c["rope_global"],
        "rope_scaling": {"rope_type": "linear", "factor": c["rope_scaling_factor"]},
        "hidden_activation": "gelu_pytorch_tanh"}
    commit = reference_commit(args.ref)
    meta = {"reference": "github.com/google/gemma_pytorch", "reference_commit": commit,
            "config": json.dumps(hf_config)}
    os.makedirs(args.out, exist_ok=True)
    save_safetensors({k: v.float().contiguous() for k, v in weights.items()},
                     os.path.join(args.out, "gemma3_tiny.safetensors"), meta)
    rec.save(os.path.join(args.out, "gemma3_io.safetensors"), meta)
    manifest_path = os.path.join(args.out, "manifest.json")
    manifest = json.load(open(manifest_path)) if os.path.exists(manifest_path) else {"files": {}}
    manifest["files"]["gemma3_tiny.safetensors"] = {"config": hf_config, "reference_commit": commit}
    manifest["files"]["gemma3_io.safetensors"] = rec.notes
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    for f in ("gemma3_tiny.safetensors", "gemma3_io.safetensors"):
        print(f"{os.path.getsize(os.path.join(args.out, f)):>9}  {f}")


if __name__ == "__main__":
    main()
