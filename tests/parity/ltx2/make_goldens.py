#!/usr/bin/env python3
"""Makes the LTX-2 parity goldens: tiny random configurations of every LTX-2 component, built
and run by the official reference (github.com/Lightricks/LTX-2, imported from --ref, never
copied into opsis), saved as fp32 safetensors under tests/parity/ltx2/golden/.

Runs inside the Debian 13 chroot made by scripts/ltx2-reference-env.sh (torch 2.6); see
README.md beside this file for the exact commands. Everything is seeded: two runs on the same
torch build give identical files.

Per configuration (v2_0 = LTX-2 19B layout, v2_3 = the 2.3 options) it writes
  ltx2_tiny_<cfg>.safetensors  a checkpoint laid out like the real single file: real key names
                               (model.diffusion_model.*, text_embedding_projection.*, vae.*,
                               audio_vae.*, vocoder.*) and the real metadata ("config" JSON,
                               "model_version"). It is reloaded through the reference's own
                               loader and key maps before any golden is computed.
  <cfg>_<part>.safetensors     fixed inputs and reference outputs of one part (per module,
                               per block, end to end), fp32.
plus scheduler.safetensors (sigma schedules, one Euler step), manifest.json (what each
tensor is, versions, config).
"""
from __future__ import annotations

import argparse
import importlib.abc
import importlib.machinery
import json
import math
import os
import subprocess
import sys
import types

# ----------------------------------------------------------------------------------------------
# Reference import: the reference targets torch ~2.7 and pulls in packages the tiny parts never
# use (transformers, tokenizers, natten, media I/O). Shims live here only, never in opsis.
# ----------------------------------------------------------------------------------------------

# Third-party modules that the reference imports at module level but that no golden path calls.
_STUBBED_ROOTS = {"transformers", "tokenizers", "av", "triton", "ltx_kernels", "natten", "accelerate",
                  "PIL", "cv2", "huggingface_hub", "OpenImageIO"}


class _AnyType(type):
    def __getattr__(cls, name):
        return _AnyType(name, (object,), {})

    def __call__(cls, *args, **kwargs):
        return _AnyType(cls.__name__ + "()", (object,), {})  # what calling it gave, named after it


class _StubModule(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _AnyType(name, (object,), {})


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in _STUBBED_ROOTS:
            try:  # a real installed module wins
                if name == name.split(".")[0] and importlib.machinery.PathFinder.find_spec(name) is not None:
                    return None
            except (ImportError, ValueError):
                pass
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        module = _StubModule(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module):
        pass


def import_reference(ref: str):
    core = os.path.join(ref, "packages", "ltx-core", "src")
    pipes = os.path.join(ref, "packages", "ltx-pipelines", "src")
    for p in (core, pipes):
        if not os.path.isdir(p):
            sys.exit(f"make_goldens: {p} not found (pass --ref the LTX-2 checkout)")
    sys.path[:0] = [core, pipes]
    import torch

    # torch 2.6 lacks torch.compiler.nested_compile_region (a no-op marker outside compile).
    if not hasattr(torch.compiler, "nested_compile_region"):
        torch.compiler.nested_compile_region = lambda fn=None, **_: fn if fn is not None else (lambda f: f)
    # torch 2.6's custom_op schema inference rejects `list[int]`; the ops that hit it belong to the
    # 2.5 diffusion VAE decoder, which no golden uses. Leave them as plain functions.
    original_custom_op = torch.library.custom_op

    class _PlainOp:
        def __init__(self, fn):
            self.fn = fn

        def __call__(self, *a, **k):
            return self.fn(*a, **k)

        def register_fake(self, fn=None):
            return fn if fn is not None else (lambda f: f)

        def register_autograd(self, *a, **k):
            pass

        def register_kernel(self, *a, **k):
            return lambda f: f

    def custom_op(name, fn=None, **kwargs):
        def wrap(f):
            try:
                return original_custom_op(name, f, **kwargs)
            except ValueError:
                return _PlainOp(f)
        return wrap(fn) if fn is not None else wrap

    torch.library.custom_op = custom_op
    sys.meta_path.insert(0, _StubFinder())
    # ltx_pipelines.utils/__init__ and media_io pull in the whole pipeline stack; load the
    # denoising helpers as plain submodules instead.
    utils = types.ModuleType("ltx_pipelines.utils")
    utils.__path__ = [os.path.join(pipes, "ltx_pipelines", "utils")]
    sys.modules["ltx_pipelines.utils"] = utils
    for name in ("ltx_pipelines.utils.media_io", "ltx_pipelines.utils.media_io.color_config",
                 "ltx_pipelines.utils.media_io.decode", "ltx_pipelines.utils.media_io.encode"):
        m = _StubModule(name)
        m.__path__ = []
        sys.modules[name] = m


# ----------------------------------------------------------------------------------------------
# Tiny configurations. Sizes follow the pattern of diffusers' LTX-2 tests (2 layers, 2 heads,
# widths of 8-32) with the constraints the reference imposes: video and audio heads equal, the
# connector sequence a multiple of its 128 learnable registers, vocoder input 2 x 64 mel bins,
# audio VAE ch == z_channels * latent mel bins (its per-channel statistics run on tokens).
# ----------------------------------------------------------------------------------------------

GEMMA_HIDDEN = 24          # stands in for Gemma 3's 3840
GEMMA_LAYERS = 2           # hidden states = layers + 1 (embeddings)
TEXT_TOKENS = 128          # one block of learnable registers
VIDEO_LATENT_CHANNELS = 16
AUDIO_Z_CHANNELS = 1
AUDIO_LATENT_MEL = 16      # 64 mel bins / 4
AUDIO_FEATURES = AUDIO_Z_CHANNELS * AUDIO_LATENT_MEL

VAE = {
    "_class_name": "CausalVideoAutoencoder",
    "dims": 3,
    "in_channels": 3,
    "out_channels": 3,
    "latent_channels": VIDEO_LATENT_CHANNELS,
    "patch_size": 4,
    "norm_layer": "pixel_norm",
    "latent_log_var": "uniform",
    "encoder_spatial_padding_mode": "zeros",
    "spatial_padding_mode": "reflect",
    "causal_decoder": False,
    "timestep_conditioning": True,
    "decoder_base_channels": 4,
    # 4 (patchify) x 2 x 2 x 2 = 32 spatial, 2 x 2 x 2 = 8 temporal, like the real VAE.
    "encoder_blocks": [
        ["res_x", {"num_layers": 1}],
        ["compress_space_res", {"multiplier": 2}],
        ["compress_time_res", {"multiplier": 1}],
        ["compress_all_res", {"multiplier": 1}],
        ["compress_all_res", {"multiplier": 1}],
    ],
    "decoder_blocks": [
        ["res_x", {"num_layers": 1}],
        ["compress_space", {"multiplier": 1}],
        ["compress_time", {"multiplier": 1}],
        ["compress_all", {"residual": True, "multiplier": 2}],
        ["compress_all", {"residual": True, "multiplier": 2}],
        ["res_x", {"num_layers": 1}],
    ],
}

AUDIO_VAE = {
    "model": {"params": {
        "sampling_rate": 16000,
        "ddconfig": {
            "ch": AUDIO_FEATURES, "out_ch": 2, "ch_mult": [1, 2, 1], "num_res_blocks": 0,
            "attn_resolutions": [64], "resolution": 256, "z_channels": AUDIO_Z_CHANNELS,
            "norm_type": "pixel", "causality_axis": "height", "dropout": 0.0,
            "mid_block_add_attention": True, "mel_bins": 64, "in_channels": 2, "double_z": True,
        },
    }},
    "preprocessing": {"stft": {"hop_length": 160, "filter_length": 1024, "causal": True},
                      "mel": {"n_mel_channels": 64}},
}

VOCODER_V2_0 = {  # HiFi-GAN style: 6*5*2*2*2 = 240x, 24 kHz
    "resblock": "1", "stereo": True, "upsample_initial_channel": 32,
    "upsample_rates": [6, 5, 2, 2, 2], "upsample_kernel_sizes": [16, 15, 8, 4, 4],
    "resblock_kernel_sizes": [3, 7, 11], "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
    "output_sampling_rate": 24000,
}

VOCODER_V2_3 = {  # base vocoder (160x: 16 kHz from 100 mel frames/s) + bandwidth extension to 48 kHz
    # (the extension generator upsamples hop_length * 3 = 96x from its own mel frames)
    "vocoder": {
        "resblock": "AMP1", "stereo": True, "activation": "snakebeta", "upsample_initial_channel": 32,
        "upsample_rates": [5, 4, 2, 2, 2], "upsample_kernel_sizes": [11, 8, 4, 4, 4],
        "resblock_kernel_sizes": [3, 7], "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5]],
        "use_tanh_at_final": False,
    },
    "bwe": {
        "resblock": "AMP1", "stereo": True, "activation": "snakebeta", "upsample_initial_channel": 16,
        "upsample_rates": [4, 4, 3, 2], "upsample_kernel_sizes": [8, 8, 7, 4],
        "resblock_kernel_sizes": [3], "resblock_dilation_sizes": [[1, 3, 5]],
        "input_sampling_rate": 16000, "output_sampling_rate": 48000,
        "n_fft": 64, "hop_length": 32, "num_mels": 64, "use_bias_at_final": False,
    },
}

TRANSFORMER_COMMON = {
    "dropout": 0.0, "attention_bias": True, "num_vector_embeds": None,
    "activation_fn": "gelu-approximate", "num_embeds_ada_norm": 1000, "use_linear_projection": False,
    "only_cross_attention": False, "cross_attention_norm": True, "double_self_attention": False,
    "upcast_attention": False, "standardization_norm": "rms_norm", "norm_elementwise_affine": False,
    "qk_norm": "rms_norm", "positional_embedding_type": "rope", "use_audio_video_cross_attention": True,
    "share_ff": False, "av_cross_ada_norm": True, "use_middle_indices_grid": True,
    "num_layers": 2, "num_attention_heads": 2, "attention_head_dim": 16,
    "audio_num_attention_heads": 2, "audio_attention_head_dim": 8,
    "in_channels": VIDEO_LATENT_CHANNELS, "out_channels": VIDEO_LATENT_CHANNELS,
    "audio_in_channels": AUDIO_FEATURES, "audio_out_channels": AUDIO_FEATURES,
    "cross_attention_dim": 32, "audio_cross_attention_dim": 16, "norm_eps": 1e-6,
    "positional_embedding_theta": 10000.0, "positional_embedding_max_pos": [20, 2048, 2048],
    "audio_positional_embedding_max_pos": [20], "timestep_scale_multiplier": 1000,
    "av_ca_timestep_scale_multiplier": 1000, "connector_num_layers": 2,
    "connector_positional_embedding_max_pos": [4096],
}

CONFIGS = {
    # LTX-2 (19B layout): V1 text path (masked mean/range norm, one aggregate_embed to the Gemma
    # width, connectors at the Gemma width, caption projections inside the DiT), interleaved RoPE,
    # no gated attention, no cross-attention AdaLN, HiFi-GAN vocoder.
    "v2_0": {
        "model_version": "2.0.0",
        "config": {
            "transformer": {**TRANSFORMER_COMMON,
                            "rope_type": "interleaved", "caption_channels": GEMMA_HIDDEN,
                            "connector_num_attention_heads": 2, "connector_attention_head_dim": 12},
            "vae": VAE, "audio_vae": AUDIO_VAE, "vocoder": VOCODER_V2_0,
        },
    },
    # LTX-2.3 options: gated attention, cross-attention AdaLN (prompt AdaLN), split RoPE with
    # float64 frequencies, V2 text path (per-token RMS norm, separate video/audio projections
    # before the connectors), vocoder with bandwidth extension.
    "v2_3": {
        "model_version": "2.3.0",
        "config": {
            "transformer": {**TRANSFORMER_COMMON,
                            "rope_type": "split", "frequencies_precision": "float64",
                            "apply_gated_attention": True, "cross_attention_adaln": True,
                            "caption_proj_before_connector": True, "caption_projection_first_linear": False,
                            "caption_proj_input_norm": False, "caption_projection_second_linear": False,
                            "connector_num_attention_heads": 2, "connector_attention_head_dim": 16,
                            "audio_connector_num_attention_heads": 2, "audio_connector_attention_head_dim": 8,
                            "connector_apply_gated_attention": True},
            "vae": VAE, "audio_vae": AUDIO_VAE, "vocoder": VOCODER_V2_3,
        },
    },
}

# ----------------------------------------------------------------------------------------------


def save_safetensors(tensors, path, metadata):
    """safetensors with a canonical header (sorted keys, sorted metadata), so the same tensors
    give byte-identical files (the library's writer orders metadata by hash)."""
    import torch
    names = {torch.float32: "F32", torch.int64: "I64"}
    header, blobs, offset = {"__metadata__": dict(sorted(metadata.items()))}, [], 0
    for key in sorted(tensors):
        t = tensors[key].detach().contiguous().cpu()
        raw = t.numpy().tobytes()
        header[key] = {"dtype": names[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(len(head).to_bytes(8, "little"))
        f.write(head)
        for raw in blobs:
            f.write(raw)


def seeded(seed):
    import torch
    return torch.Generator().manual_seed(seed)


def randomize(module, seed, skip=()):
    """Deterministic random values for every persistent parameter/buffer of `module`, scaled so
    activations stay O(1) through a few layers. Values the architecture fixes (sinc filters,
    scalar multipliers) are kept."""
    import torch
    g = seeded(seed)
    with torch.no_grad():
        for name, t in sorted(module.state_dict(keep_vars=True).items()):
            leaf = name.rsplit(".", 1)[-1]
            if any(s in name for s in skip) or leaf == "filter" or t.ndim == 0 or not t.is_floating_point():
                continue
            shape = t.shape
            if "scale_shift_table" in leaf:
                v = torch.randn(shape, generator=g) * 0.2
            elif leaf == "learnable_registers":
                v = torch.rand(shape, generator=g) * 2 - 1
            elif leaf == "std-of-means":
                v = 0.5 + torch.rand(shape, generator=g)
            elif leaf == "mean-of-means":
                v = torch.randn(shape, generator=g) * 0.1
            elif leaf in ("alpha", "beta"):
                v = torch.randn(shape, generator=g) * 0.2  # log-scale snake parameters
            elif leaf == "bias":
                v = torch.randn(shape, generator=g) * 0.05
            elif t.ndim == 1:  # norm weights
                v = 1 + torch.randn(shape, generator=g) * 0.1
            else:
                owner = module.get_submodule(name.rsplit(".", 1)[0]) if "." in name else module
                if isinstance(owner, torch.nn.ConvTranspose1d):  # [in, out, k]: in * k / stride terms per output
                    fan_in = shape[0] * shape[2] // owner.stride[0]
                else:
                    fan_in = math.prod(shape[1:])
                v = torch.randn(shape, generator=g) / math.sqrt(fan_in)
            t.data = v.to(torch.float32)


def materialize(module):
    """Parameters the configurators create on the meta device (caption projections) -> CPU."""
    import torch
    for sub in module.modules():
        if any(p.is_meta for p in sub.parameters(recurse=False)) or any(b.is_meta for b in sub.buffers(recurse=False)):
            sub.to_empty(device=torch.device("cpu"), recurse=False)


def prefixed(sd, prefix, rename=None):
    out = {}
    for k, v in sd.items():
        key = rename(k) if rename else k
        out[prefix + key] = v.detach().clone().contiguous().float()
    return out


def mel_stft_buffers(vocoder, g):
    """Real Hann-windowed DFT bases (rows: real parts then imaginary parts) and a non-negative
    random mel filterbank, instead of noise, for the 2.3 bandwidth-extension front end."""
    import torch
    stft = vocoder.mel_stft.stft_fn
    n_fft = stft.forward_basis.shape[-1]
    n_freqs = n_fft // 2 + 1
    n = torch.arange(n_fft, dtype=torch.float64)
    k = torch.arange(n_freqs, dtype=torch.float64)[:, None]
    window = torch.hann_window(n_fft, periodic=True, dtype=torch.float64)
    real = torch.cos(2 * math.pi * k * n / n_fft) * window
    imag = -torch.sin(2 * math.pi * k * n / n_fft) * window
    basis = torch.cat([real, imag], 0)[:, None, :].float()
    with torch.no_grad():
        stft.forward_basis.copy_(basis)
        stft.inverse_basis.copy_(basis)
        mel = vocoder.mel_stft.mel_basis
        mel.copy_(torch.rand(mel.shape, generator=g) * (2.0 / n_freqs))


# ----------------------------------------------------------------------------------------------


def checkpoint_state(transformer, v_conn, a_conn, feature_extractor, encoder, decoder, audio_decoder, vocoder):
    """Module state dicts under the single-file checkpoint's key names."""
    sd = {}
    sd |= prefixed(transformer.state_dict(), "model.diffusion_model.")
    sd |= prefixed(v_conn.state_dict(), "model.diffusion_model.video_embeddings_connector.")
    sd |= prefixed(a_conn.state_dict(), "model.diffusion_model.audio_embeddings_connector.")
    sd |= prefixed(feature_extractor.state_dict(), "text_embedding_projection.")

    def split_stats(part):
        return lambda k: k if k.startswith("per_channel_statistics.") else f"{part}.{k}"
    for k, v in prefixed(encoder.state_dict(), "", split_stats("encoder")).items():
        sd["vae." + k] = v
    for k, v in prefixed(decoder.state_dict(), "", split_stats("decoder")).items():
        if k.startswith("per_channel_statistics.") and not bool((sd["vae." + k] == v).all()):
            raise SystemExit(f"make_goldens: encoder and decoder disagree on vae.{k}")
        sd.setdefault("vae." + k, v)
    sd |= prefixed(audio_decoder.state_dict(), "audio_vae.", split_stats("decoder"))
    sd |= prefixed(vocoder.state_dict(), "vocoder.")
    return sd


def build_checkpoint(name, spec, out_dir, seed):
    """Random tiny components built by the reference's own configurators from the metadata
    config; returns the checkpoint path."""
    import torch
    from ltx_core.model.transformer.model_configurator import LTXModelConfigurator
    from ltx_core.model.video_vae.model_configurator import VideoDecoderConfigurator, VideoEncoderConfigurator
    from ltx_core.model.audio_vae.model_configurator import AudioDecoderConfigurator, VocoderConfigurator
    from ltx_core.text_encoders.gemma.embeddings_connector import (
        AudioEmbeddings1DConnectorConfigurator, Embeddings1DConnectorConfigurator)
    from ltx_core.text_encoders.gemma.encoders.encoder_configurator import _create_feature_extractor

    metadata = {"config": spec["config"], "model_version": spec["model_version"]}
    tcfg = spec["config"]["transformer"]
    torch.manual_seed(seed)

    transformer = LTXModelConfigurator.from_metadata(metadata)
    materialize(transformer)
    randomize(transformer, seed + 1)

    v_conn = Embeddings1DConnectorConfigurator.from_metadata(metadata).float()
    a_conn = AudioEmbeddings1DConnectorConfigurator.from_metadata(metadata).float()
    randomize(v_conn, seed + 2)
    randomize(a_conn, seed + 3)
    gemma_text_config = types.SimpleNamespace(hidden_size=GEMMA_HIDDEN, num_hidden_layers=GEMMA_LAYERS)
    feature_extractor = _create_feature_extractor(tcfg, gemma_text_config)
    randomize(feature_extractor, seed + 4)

    encoder = VideoEncoderConfigurator.from_metadata(metadata)
    decoder = VideoDecoderConfigurator.from_metadata(metadata)
    randomize(encoder, seed + 5)
    randomize(decoder, seed + 6, skip=("per_channel_statistics",))
    with torch.no_grad():  # one vae.per_channel_statistics in the file, shared by both
        for buf in ("std-of-means", "mean-of-means"):
            decoder.per_channel_statistics.get_buffer(buf).copy_(encoder.per_channel_statistics.get_buffer(buf))

    audio_decoder = AudioDecoderConfigurator.from_metadata(metadata)
    randomize(audio_decoder, seed + 7)
    vocoder = VocoderConfigurator.from_metadata(metadata)
    randomize(vocoder, seed + 8, skip=("mel_stft",))
    if hasattr(vocoder, "mel_stft"):
        mel_stft_buffers(vocoder, seeded(seed + 9))
        with torch.no_grad():  # keep the clamped 2.3 output mostly inside (-1, 1)
            vocoder.vocoder.conv_post.weight.mul_(0.01)
            vocoder.bwe_generator.conv_post.weight.mul_(0.01)

    sd = checkpoint_state(transformer, v_conn, a_conn, feature_extractor, encoder, decoder, audio_decoder, vocoder)
    path = os.path.join(out_dir, f"ltx2_tiny_{name}.safetensors")
    save_safetensors(sd, path, {"config": json.dumps(spec["config"]), "model_version": spec["model_version"]})
    return path


def load_components(path):
    """Every component back from the tiny checkpoint through the reference's loader, key maps
    and configurators (the path the real weights take)."""
    import torch
    from ltx_core.loader.single_gpu_model_builder import SingleGPUModelBuilder
    from ltx_core.loader.sft_loader import SafetensorsModelStateDictLoader
    from ltx_core.loader.helpers import load_state_dict
    from ltx_core.loader.registry import ModelRegistry
    from ltx_core.model.transformer.model_configurator import LTXModelConfigurator, LTXV_MODEL_COMFY_RENAMING_MAP
    from ltx_core.model.video_vae.model_configurator import (
        VAE_DECODER_COMFY_KEYS_FILTER, VAE_ENCODER_COMFY_KEYS_FILTER, VideoDecoderConfigurator,
        VideoEncoderConfigurator)
    from ltx_core.model.audio_vae.model_configurator import (
        AUDIO_VAE_DECODER_COMFY_KEYS_FILTER, VOCODER_COMFY_KEYS_FILTER, AudioDecoderConfigurator,
        VocoderConfigurator)
    from ltx_core.text_encoders.gemma.embeddings_connector import (
        AudioEmbeddings1DConnectorConfigurator, Embeddings1DConnectorConfigurator)
    from ltx_core.text_encoders.gemma.embeddings_processor import EmbeddingsProcessor
    from ltx_core.text_encoders.gemma.encoders.encoder_configurator import (
        EMBEDDINGS_PROCESSOR_KEY_OPS, _create_feature_extractor)

    cpu = torch.device("cpu")

    def build(configurator, ops):
        model = SingleGPUModelBuilder(configurator, path, model_sd_ops=ops).build(device=cpu, dtype=torch.float32)
        bad = [n for n, t in list(model.named_parameters()) + list(model.named_buffers()) if t.is_meta]
        if bad:
            sys.exit(f"make_goldens: {configurator.__name__} left unloaded tensors: {bad[:8]}")
        return model.eval()

    parts = {
        "transformer": build(LTXModelConfigurator, LTXV_MODEL_COMFY_RENAMING_MAP),
        "video_encoder": build(VideoEncoderConfigurator, VAE_ENCODER_COMFY_KEYS_FILTER),
        "video_decoder": build(VideoDecoderConfigurator, VAE_DECODER_COMFY_KEYS_FILTER),
        "audio_decoder": build(AudioDecoderConfigurator, AUDIO_VAE_DECODER_COMFY_KEYS_FILTER),
        "vocoder": build(VocoderConfigurator, VOCODER_COMFY_KEYS_FILTER),
    }
    # The embeddings processor's configurator needs a Gemma folder for two numbers (hidden size,
    # layer count); build it from the same metadata with those numbers, then load its weights
    # through the reference's own key map (EMBEDDINGS_PROCESSOR_KEY_OPS), strictly.
    metadata = SafetensorsModelStateDictLoader().metadata(path)
    tcfg = metadata["config"]["transformer"]
    processor = EmbeddingsProcessor(
        feature_extractor=_create_feature_extractor(
            tcfg, types.SimpleNamespace(hidden_size=GEMMA_HIDDEN, num_hidden_layers=GEMMA_LAYERS)),
        video_connector=Embeddings1DConnectorConfigurator.from_metadata(metadata),
        audio_connector=AudioEmbeddings1DConnectorConfigurator.from_metadata(metadata),
    )
    sd = load_state_dict(path, SafetensorsModelStateDictLoader(), ModelRegistry(), cpu, EMBEDDINGS_PROCESSOR_KEY_OPS)
    processor.load_state_dict({k: v.float() for k, v in sd.sd.items()}, strict=True, assign=True)
    parts["embeddings_processor"] = processor.float().eval()

    # Every tensor in the file went to exactly the module parameter it names, and nothing in the
    # file was left unused: rebuild the file's key -> tensor map from the loaded modules.
    from safetensors.torch import load_file
    stored = load_file(path)
    p = parts["embeddings_processor"]
    rebuilt = checkpoint_state(parts["transformer"], p.video_connector, p.audio_connector, p.feature_extractor,
                               parts["video_encoder"], parts["video_decoder"], parts["audio_decoder"],
                               parts["vocoder"])
    if set(stored) != set(rebuilt):
        sys.exit(f"make_goldens: key mismatch: only in file {sorted(set(stored) - set(rebuilt))[:8]}, "
                 f"only in modules {sorted(set(rebuilt) - set(stored))[:8]}")
    differ = [k for k in stored if not torch.equal(stored[k], rebuilt[k])]
    if differ:
        sys.exit(f"make_goldens: loaded values differ from the file for {differ[:8]}")
    return parts, metadata


# ----------------------------------------------------------------------------------------------


class Recorder:
    def __init__(self):
        self.tensors = {}
        self.notes = {}

    def put(self, key, tensor, note):
        import torch
        t = tensor.detach()
        if t.dtype in (torch.bool, torch.int64, torch.int32):
            t = t.to(torch.int64) if t.dtype != torch.bool else t.to(torch.int64)
        else:
            t = t.float()
        self.tensors[key] = t.contiguous().clone()
        self.notes[key] = {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""), "what": note}

    def save(self, path, meta):
        save_safetensors(self.tensors, path, {k: json.dumps(v) if not isinstance(v, str) else v
                                              for k, v in meta.items()})


def text_goldens(parts, rec, seed):
    """Feature extractor + both embeddings connectors from fake Gemma hidden states."""
    import torch
    g = seeded(seed)
    B = 2
    hidden = torch.randn(B, TEXT_TOKENS, GEMMA_HIDDEN, GEMMA_LAYERS + 1, generator=g) * 3.0
    mask = torch.zeros(B, TEXT_TOKENS, dtype=torch.int64)
    mask[0, -21:] = 1      # left padding, as the Gemma tokenizer is used
    mask[1, -57:] = 1
    proc = parts["embeddings_processor"]
    with torch.no_grad():
        v_feat, a_feat = proc.feature_extractor(hidden, mask, "left")
        out = proc.process_hidden_states(hidden, mask, "left")
    rec.put("text.hidden_states", hidden, "[B, S, D, L] Gemma hidden states (embeddings + every layer), stacked on the last axis")
    rec.put("text.attention_mask", mask, "[B, S] 1 = token, 0 = left padding")
    rec.put("text.features_video", v_feat, "[B, S, Dv] feature extractor output for the video connector")
    rec.put("text.features_audio", a_feat, "[B, S, Da] feature extractor output for the audio connector")
    rec.put("text.video_encoding", out.video_encoding, "[B, S, Dv] video connector output (valid tokens first, registers after)")
    rec.put("text.audio_encoding", out.audio_encoding, "[B, S, Da] audio connector output")
    rec.put("text.binary_mask", out.attention_mask, "[B, S] mask returned with the encodings")
    return out


def av_inputs(seed, B=2, F=3, H=2, W=3, T=8):
    """Noisy latents, per-token timesteps (first latent frame of sample 0 image-conditioned,
    t = 0) and RoPE positions built by the reference's latent tools."""
    import torch
    from ltx_core.components.patchifiers import AudioPatchifier, VideoLatentPatchifier
    from ltx_core.tools import AudioLatentTools, VideoLatentTools
    from ltx_core.types import AudioLatentShape, VideoLatentShape
    g = seeded(seed)
    vtools = VideoLatentTools(VideoLatentPatchifier(patch_size=1),
                              VideoLatentShape(batch=B, channels=VIDEO_LATENT_CHANNELS, frames=F, height=H, width=W),
                              fps=24.0)
    atools = AudioLatentTools(AudioPatchifier(patch_size=1),
                              AudioLatentShape(batch=B, channels=AUDIO_Z_CHANNELS, frames=T, mel_bins=AUDIO_LATENT_MEL))
    vstate = vtools.create_initial_state(torch.device("cpu"), torch.float32)
    astate = atools.create_initial_state(torch.device("cpu"), torch.float32)
    v_lat = torch.randn(vstate.latent.shape, generator=g)
    a_lat = torch.randn(astate.latent.shape, generator=g)
    sigma_v = torch.tensor([0.8, 0.35])
    sigma_a = torch.tensor([0.8, 0.35])
    v_mask = torch.ones(B, v_lat.shape[1])
    v_mask[0, : H * W] = 0.0  # image-conditioned first latent frame
    return dict(vtools=vtools, atools=atools, vstate=vstate, astate=astate, v_lat=v_lat, a_lat=a_lat,
                sigma_v=sigma_v, sigma_a=sigma_a, v_ts=v_mask * sigma_v[:, None],
                a_ts=torch.ones(B, a_lat.shape[1]) * sigma_a[:, None])


def transformer_goldens(parts, rec, text, seed):
    import torch
    from ltx_core.guidance.perturbations import (BatchedPerturbationConfig, Perturbation, PerturbationConfig,
                                                 PerturbationType)
    from ltx_core.model.transformer.modality import Modality
    model = parts["transformer"]
    x = av_inputs(seed)
    B = x["v_lat"].shape[0]
    video = Modality(latent=x["v_lat"], sigma=x["sigma_v"], timesteps=x["v_ts"], positions=x["vstate"].positions,
                     context=text.video_encoding)
    audio = Modality(latent=x["a_lat"], sigma=x["sigma_a"], timesteps=x["a_ts"], positions=x["astate"].positions,
                     context=text.audio_encoding)
    for key, t, note in [
        ("dit.video.latent", x["v_lat"], "[B, Tv, C] patchified video latent tokens (f h w order)"),
        ("dit.video.sigma", x["sigma_v"], "[B] video sigma (A/V cross-attention gate timestep)"),
        ("dit.video.timesteps", x["v_ts"], "[B, Tv] per-token sigma = denoise_mask * sigma (0 on the conditioned first frame of sample 0)"),
        ("dit.video.positions", x["vstate"].positions, "[B, 3, Tv, 2] [start, end) bounds: time in seconds (causal fix, / fps), height/width in pixels"),
        ("dit.video.context", text.video_encoding, "[B, S, Dc] text context (text.video_encoding)"),
        ("dit.audio.latent", x["a_lat"], "[B, Ta, Ca] patchified audio latent tokens"),
        ("dit.audio.sigma", x["sigma_a"], "[B] audio sigma"),
        ("dit.audio.timesteps", x["a_ts"], "[B, Ta] per-token sigma"),
        ("dit.audio.positions", x["astate"].positions, "[B, 1, Ta, 2] [start, end) bounds in seconds"),
        ("dit.audio.context", text.audio_encoding, "[B, S, Da] text context (text.audio_encoding)"),
    ]:
        rec.put(key, t, note)

    captured = {}
    hooks = []
    vpre, apre = model.video_args_preprocessor, model.audio_args_preprocessor
    orig_v, orig_a = vpre.prepare, apre.prepare

    def cap_v(m, c=None):
        args = orig_v(m, c)
        captured["v_args"] = args
        return args

    def cap_a(m, c=None):
        args = orig_a(m, c)
        captured["a_args"] = args
        return args
    vpre.prepare, apre.prepare = cap_v, cap_a
    for i, block in enumerate(model.transformer_blocks):
        hooks.append(block.register_forward_hook(
            lambda mod, inp, out, i=i: captured.__setitem__(f"block{i}", (out[0].x, out[1].x))))
    with torch.no_grad():
        vx, ax = model(video, audio, None)
    for h in hooks:
        h.remove()
    vpre.prepare, apre.prepare = orig_v, orig_a

    va, aa = captured["v_args"], captured["a_args"]
    rec.put("dit.pre.video.x", va.x, "[B, Tv, Dv] after patchify_proj")
    rec.put("dit.pre.video.timestep", va.timesteps, "[B, Tv, k*Dv] adaln_single output (k = 6, or 9 with cross-attention AdaLN)")
    rec.put("dit.pre.video.embedded_timestep", va.embedded_timestep, "[B, Tv, Dv] adaln_single embedding (used by the output norm)")
    rec.put("dit.pre.video.context", va.context, "[B, S, Dv] context after caption_projection (19B) or as given (22B)")
    rec.put("dit.pre.video.pe_cos", va.positional_embeddings[0], "RoPE cos: split [B, H, Tv, Dh/2]; interleaved [B, Tv, Dv]")
    rec.put("dit.pre.video.pe_sin", va.positional_embeddings[1], "RoPE sin, same layout")
    rec.put("dit.pre.video.cross_pe_cos", va.cross_positional_embeddings[0], "temporal-only RoPE for A/V cross-attention (dim = audio_cross_attention_dim)")
    rec.put("dit.pre.video.cross_pe_sin", va.cross_positional_embeddings[1], "")
    rec.put("dit.pre.video.cross_scale_shift_timestep", va.cross_scale_shift_timestep, "[B, Tv, 4*Dv] av_ca_video_scale_shift_adaln_single(video timesteps)")
    rec.put("dit.pre.video.cross_gate_timestep", va.cross_gate_timestep, "[B, 1, Dv] av_ca_a2v_gate_adaln_single(audio sigma)")
    rec.put("dit.pre.audio.x", aa.x, "[B, Ta, Da] after audio_patchify_proj")
    rec.put("dit.pre.audio.timestep", aa.timesteps, "[B, Ta, k*Da]")
    rec.put("dit.pre.audio.embedded_timestep", aa.embedded_timestep, "[B, Ta, Da]")
    rec.put("dit.pre.audio.context", aa.context, "[B, S, Da]")
    rec.put("dit.pre.audio.pe_cos", aa.positional_embeddings[0], "audio RoPE cos")
    rec.put("dit.pre.audio.pe_sin", aa.positional_embeddings[1], "")
    rec.put("dit.pre.audio.cross_pe_cos", aa.cross_positional_embeddings[0], "")
    rec.put("dit.pre.audio.cross_pe_sin", aa.cross_positional_embeddings[1], "")
    rec.put("dit.pre.audio.cross_scale_shift_timestep", aa.cross_scale_shift_timestep, "[B, Ta, 4*Da]")
    rec.put("dit.pre.audio.cross_gate_timestep", aa.cross_gate_timestep, "[B, 1, Da] av_ca_v2a_gate_adaln_single(video sigma)")
    if va.prompt_timestep is not None:
        rec.put("dit.pre.video.prompt_timestep", va.prompt_timestep, "[B, 1, 2*Dv] prompt_adaln_single(sigma) (cross-attention AdaLN)")
        rec.put("dit.pre.audio.prompt_timestep", aa.prompt_timestep, "[B, 1, 2*Da]")
    for i in range(len(model.transformer_blocks)):
        rec.put(f"dit.block{i}.video", captured[f"block{i}"][0], f"[B, Tv, Dv] video hidden state after block {i}")
        rec.put(f"dit.block{i}.audio", captured[f"block{i}"][1], f"[B, Ta, Da] audio hidden state after block {i}")
    rec.put("dit.out.video", vx, "[B, Tv, C] velocity (LTXModel output)")
    rec.put("dit.out.audio", ax, "[B, Ta, Ca] velocity")

    # Perturbed passes as the guiders use them, one per batch row.
    last = len(model.transformer_blocks) - 1
    cases = {
        "stg": ("skip video and audio self-attention in the last block (V = value pass-through)",
                [Perturbation(PerturbationType.SKIP_VIDEO_SELF_ATTN, [last]),
                 Perturbation(PerturbationType.SKIP_AUDIO_SELF_ATTN, [last])]),
        "modality": ("skip A->V and V->A cross-attention in every block",
                     [Perturbation(PerturbationType.SKIP_A2V_CROSS_ATTN, None),
                      Perturbation(PerturbationType.SKIP_V2A_CROSS_ATTN, None)]),
    }
    for name, (note, perts) in cases.items():
        cfg = BatchedPerturbationConfig([PerturbationConfig(perts)] * B, num_blocks=len(model.transformer_blocks),
                                        device=torch.device("cpu"), dtype=torch.float32)
        with torch.no_grad():
            pv, pa = model(video, audio, cfg)
        rec.put(f"dit.{name}.video", pv, f"[B, Tv, C] velocity with {note}")
        rec.put(f"dit.{name}.audio", pa, f"[B, Ta, Ca] velocity with {note}")
    return x


def sampling_goldens(parts, rec, text, seed, steps=3):
    """A short guided run through the reference pipeline's own denoising loop (CFG + STG +
    modality guidance + rescale, per modality), text-to-video+audio and image-conditioned."""
    import torch
    from ltx_core.components.diffusion_steps import EulerDiffusionStep
    from ltx_core.components.guiders import MultiModalGuider, MultiModalGuiderParams
    from ltx_core.components.noisers import GaussianNoiser
    from ltx_core.components.schedulers import LTX2Scheduler
    from ltx_core.conditioning import VideoConditionByLatentIndex
    from ltx_core.model.transformer.model import X0Model
    from ltx_pipelines.utils.denoisers import GuidedDenoiser
    from ltx_pipelines.utils.helpers import state_with_conditionings
    from ltx_pipelines.utils.samplers import euler_denoising_loop

    transformer = X0Model(parts["transformer"])
    last = len(parts["transformer"].transformer_blocks) - 1
    v_params = MultiModalGuiderParams(cfg_scale=3.0, stg_scale=1.0, rescale_scale=0.7, modality_scale=3.0,
                                      stg_blocks=[last])
    a_params = MultiModalGuiderParams(cfg_scale=7.0, stg_scale=1.0, rescale_scale=0.7, modality_scale=3.0,
                                      stg_blocks=[last])
    # Batch 1: positive prompt = text sample 0, negative prompt = text sample 1.
    v_pos, v_neg = text.video_encoding[:1], text.video_encoding[1:]
    a_pos, a_neg = text.audio_encoding[:1], text.audio_encoding[1:]
    rec.put("sample.guidance", torch.tensor([3.0, 1.0, 0.7, 3.0, 7.0, 1.0, 0.7, 3.0]),
            "video (cfg, stg, rescale, modality), audio (cfg, stg, rescale, modality); STG on the last block; "
            "positive context = text.*_encoding[0], negative = [1]")
    x = av_inputs(seed, B=1)
    vtools, atools = x["vtools"], x["atools"]
    sigmas = LTX2Scheduler().execute(steps=steps, latent=torch.zeros(vtools.target_shape.to_torch_shape()))
    rec.put("sample.sigmas", sigmas, f"LTX2Scheduler({steps} steps) for this video latent's token count")

    for case in ("t2v", "i2v"):
        g = torch.Generator().manual_seed(seed + 100)
        vstate = vtools.create_initial_state(torch.device("cpu"), torch.float32)
        astate = atools.create_initial_state(torch.device("cpu"), torch.float32)
        if case == "i2v":
            image_latent = torch.randn(1, VIDEO_LATENT_CHANNELS, 1, vtools.target_shape.height,
                                       vtools.target_shape.width, generator=seeded(seed + 7))
            rec.put("sample.i2v.image_latent", image_latent, "[1, C, 1, H, W] clean first-frame latent (strength 1)")
            vstate = state_with_conditionings(vstate, [VideoConditionByLatentIndex(image_latent, 1.0, 0)], vtools)
        noiser = GaussianNoiser(generator=g)
        vstate = noiser(vstate, 1.0)
        astate = noiser(astate, 1.0)
        rec.put(f"sample.{case}.video.initial", vstate.latent, "[1, Tv, C] noised initial video tokens (GaussianNoiser, seed in manifest)")
        rec.put(f"sample.{case}.audio.initial", astate.latent, "[1, Ta, Ca] noised initial audio tokens")
        rec.put(f"sample.{case}.video.denoise_mask", vstate.denoise_mask, "[1, Tv, 1]")
        denoiser = GuidedDenoiser(v_context=v_pos, a_context=a_pos,
                                  video_guider=MultiModalGuider(v_params, negative_context=v_neg),
                                  audio_guider=MultiModalGuider(a_params, negative_context=a_neg))
        with torch.no_grad():
            vout, aout = euler_denoising_loop(sigmas, vstate, astate, EulerDiffusionStep(), transformer, denoiser)
        rec.put(f"sample.{case}.video.final", vout.latent, "[1, Tv, C] video tokens after the loop")
        rec.put(f"sample.{case}.audio.final", aout.latent, "[1, Ta, Ca] audio tokens after the loop")
    rec.put("sample.video.positions", x["vstate"].positions, "[1, 3, Tv, 2]")
    rec.put("sample.audio.positions", x["astate"].positions, "[1, 1, Ta, 2]")


def video_vae_goldens(parts, rec, seed):
    import torch
    g = seeded(seed)
    video = torch.rand(1, 3, 9, 64, 64, generator=g) * 2 - 1
    latent = torch.randn(1, VIDEO_LATENT_CHANNELS, 2, 2, 2, generator=g)
    dec = parts["video_decoder"]
    noise = torch.randn(latent.shape, generator=seeded(seed + 1)) * dec.decode_noise_scale
    timestep = torch.tensor([0.05])
    with torch.no_grad():
        enc = parts["video_encoder"](video)
        out = dec(latent, timestep=timestep, generator=seeded(seed + 1))
    rec.put("vae.encoder.input", video, "[1, 3, F=9, H, W] pixels in [-1, 1]")
    rec.put("vae.encoder.output", enc, "[1, C, 2, H/32, W/32] normalized latent means")
    rec.put("vae.decoder.input", latent, "[1, C, 2, 2, 2] normalized latent")
    rec.put("vae.decoder.timestep", timestep, "[1] decode timestep (pipeline default 0.05)")
    rec.put("vae.decoder.noise", noise, "decode_noise_scale * N(0,1) noise the decoder mixes in: "
            "x = noise + (1 - decode_noise_scale) * latent (drawn with the generator passed to it)")
    rec.put("vae.decoder.output", out, "[1, 3, 9, 64, 64] decoded video")


def audio_goldens(parts, rec, seed):
    import torch
    g = seeded(seed)
    latent = torch.randn(1, AUDIO_Z_CHANNELS, 5, AUDIO_LATENT_MEL, generator=g)
    with torch.no_grad():
        mel = parts["audio_decoder"](latent)
        wav = parts["vocoder"](mel)
    rec.put("audio.decoder.input", latent, "[1, z, T, 16] normalized audio latent")
    rec.put("audio.decoder.output", mel, "[1, 2, 4T-3, 64] stereo log-mel")
    rec.put("audio.vocoder.output", wav, "[1, 2, samples] waveform (2.0: tanh, 24 kHz; 2.3: + bandwidth extension, 48 kHz)")


def scheduler_goldens(rec):
    import torch
    from ltx_core.components.diffusion_steps import EulerDiffusionStep
    from ltx_core.components.schedulers import LTX2Scheduler
    from ltx_pipelines.utils.constants import DISTILLED_SIGMA_VALUES, STAGE_2_DISTILLED_SIGMA_VALUES
    sched = LTX2Scheduler()
    for steps, shape in [(40, (1, 128, 16, 16, 24)), (30, (1, 128, 16, 16, 24)), (8, (1, 128, 4, 8, 8)),
                         (4, (1, 16, 3, 2, 3))]:
        tokens = math.prod(shape[2:])
        rec.put(f"sched.ltx2.steps{steps}.tokens{tokens}", sched.execute(steps=steps, latent=torch.zeros(shape)),
                f"LTX2Scheduler sigmas, {steps} steps, latent {list(shape)} ({tokens} tokens)")
    rec.put("sched.ltx2.steps40.default", sched.execute(steps=40), "no latent: default 4096 tokens")
    rec.put("sched.ltx2.steps20.nostretch", sched.execute(steps=20, stretch=False), "stretch=False, 4096 tokens")
    rec.put("sched.distilled", torch.tensor(DISTILLED_SIGMA_VALUES), "distilled stage-1 sigmas (constants)")
    rec.put("sched.distilled_stage2", torch.tensor(STAGE_2_DISTILLED_SIGMA_VALUES), "distilled stage-2 sigmas")
    g = seeded(5)
    sample = torch.randn(1, 18, 16, generator=g)
    denoised = torch.randn(1, 18, 16, generator=g)
    sigmas = sched.execute(steps=4, latent=torch.zeros(1, 16, 3, 2, 3))
    rec.put("euler.sample", sample, "[1, T, C] x at sigmas[1]")
    rec.put("euler.denoised", denoised, "[1, T, C] x0 prediction")
    rec.put("euler.sigmas", sigmas, "schedule used")
    rec.put("euler.next", EulerDiffusionStep().step(sample, denoised, sigmas, 1), "x + v * (sigmas[2] - sigmas[1]), v = (x - x0) / sigma")


def reference_commit(ref):
    """HEAD of the reference checkout (git may be absent in the chroot: read .git directly)."""
    try:
        return subprocess.run(["git", "-C", ref, "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    git = os.path.join(ref, ".git")
    try:
        head = open(os.path.join(git, "HEAD")).read().strip()
        if not head.startswith("ref: "):
            return head
        name = head[5:]
        if os.path.exists(os.path.join(git, name)):
            return open(os.path.join(git, name)).read().strip()
        for line in open(os.path.join(git, "packed-refs")):
            if line.rstrip().endswith(" " + name):
                return line.split()[0]
    except OSError:
        pass
    return os.environ.get("LTX2_REF_COMMIT", "unknown")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref", required=True, help="LTX-2 checkout (has packages/ltx-core)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden"))
    ap.add_argument("--seed", type=int, default=20260)
    args = ap.parse_args()
    import_reference(args.ref)
    import torch
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(args.out, exist_ok=True)

    commit = reference_commit(args.ref)
    manifest = {"reference": "github.com/Lightricks/LTX-2", "reference_commit": commit,
                "torch": torch.__version__, "seed": args.seed, "files": {}}

    rec = Recorder()
    scheduler_goldens(rec)
    rec.save(os.path.join(args.out, "scheduler.safetensors"), {"reference_commit": commit})
    manifest["files"]["scheduler.safetensors"] = rec.notes

    for i, (name, spec) in enumerate(CONFIGS.items()):
        seed = args.seed + 1000 * i
        path = build_checkpoint(name, spec, args.out, seed)
        parts, metadata = load_components(path)
        manifest["files"][os.path.basename(path)] = {"config": metadata["config"],
                                                     "model_version": metadata["model_version"]}
        jobs = [("text", lambda r: text_goldens(parts, r, seed + 10)),
                ("audio", lambda r: audio_goldens(parts, r, seed + 40))]
        if name == "v2_0":  # the video VAE architecture is the same in both configurations
            jobs.append(("video_vae", lambda r: video_vae_goldens(parts, r, seed + 30)))
        for part, fn in jobs:
            rec = Recorder()
            out = fn(rec)
            if part == "text":
                text = out
                transformer_goldens(parts, rec, text, seed + 20)
                sampling_goldens(parts, rec, text, seed + 50)
                part = "dit"
            file = f"{name}_{part}.safetensors"
            rec.save(os.path.join(args.out, file), {"reference_commit": commit, "checkpoint": os.path.basename(path)})
            manifest["files"][file] = rec.notes
    manifest_path = os.path.join(args.out, "manifest.json")
    if os.path.exists(manifest_path):  # keep entries other scripts own (make_gemma3_golden.py)
        previous = json.load(open(manifest_path)).get("files", {})
        manifest["files"] = {**{k: v for k, v in previous.items() if k.startswith("gemma3_")}, **manifest["files"]}
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    for f in sorted(os.listdir(args.out)):
        print(f"{os.path.getsize(os.path.join(args.out, f)):>9}  {f}")


if __name__ == "__main__":
    main()
