"""DeepFloyd IF through diffusers: the gated-model token, fast failure, loading, prompt embeddings.

Memory plan for a 16 GB GPU (Kaggle T4): the T5-XXL text encoder is by far the largest part
of IF, so prompts are embedded once (:func:`compute_prompt_embeddings`, optionally in 8-bit),
saved to a file and T5 is freed; stage I and stage II are then loaded in fp16 *without* a
text encoder and with model CPU offload, so only the UNet in use sits on the GPU.

The models are gated: an account must accept the licence on each model's page, and a read
token must be supplied through the environment variable ``HF_TOKEN`` or, on Kaggle, a secret
named ``HF_TOKEN``. The token is passed to the hub and never printed or stored.

diffusers and transformers are imported inside the functions: they take seconds to import.
"""

from __future__ import annotations

import gc
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import torch

if TYPE_CHECKING:
    from diffusers import IFPipeline, IFSuperResolutionPipeline

__all__ = [
    "STAGE_I",
    "STAGE_II",
    "MissingModelError",
    "get_hf_token",
    "resolve_model",
    "ensure_model_available",
    "load_stage_1",
    "load_stage_2",
    "PromptEmbeddings",
    "embed_prompts",
    "compute_prompt_embeddings",
]

STAGE_I = {
    "M": "DeepFloyd/IF-I-M-v1.0",
    "L": "DeepFloyd/IF-I-L-v1.0",
    "XL": "DeepFloyd/IF-I-XL-v1.0",
}
"""Stage I (64 px) checkpoints by size; each repository also holds the T5-XXL text encoder."""
STAGE_II = {"M": "DeepFloyd/IF-II-M-v1.0", "L": "DeepFloyd/IF-II-L-v1.0"}
"""Stage II (64 -> 256 px super-resolution) checkpoints by size."""

TOKEN_HELP = (
    "supply a Hugging Face read token: set the environment variable HF_TOKEN, or on Kaggle add "
    "a secret named HF_TOKEN (Add-ons > Secrets) and attach it to this notebook"
)


class MissingModelError(RuntimeError):
    """A model cannot be loaded: names the model, what is missing and how to fix it."""

    def __init__(self, model: str, missing: str, fix: str) -> None:
        self.model, self.missing, self.fix = model, missing, fix
        super().__init__(f"Cannot load {model}: {missing}.\nTo fix: {fix}.")


def get_hf_token() -> str | None:
    """The Hugging Face token from ``HF_TOKEN`` or Kaggle's secret ``HF_TOKEN``; ``None`` if neither.

    Never print the result: notebooks and logs are shared.
    """
    token = os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN")
    if token:
        return token
    try:
        from kaggle_secrets import UserSecretsClient  # only exists on Kaggle
    except ImportError:
        return None
    try:
        return UserSecretsClient().get_secret("HF_TOKEN") or None
    except Exception:  # the secret is not attached: same as no token
        return None


def resolve_model(name: str, table: dict[str, str]) -> str:
    """A size key of ``table`` (``"M"``), a hub id (``"DeepFloyd/IF-I-M-v1.0"``) or a local folder."""
    if name.upper() in table:
        return table[name.upper()]
    if "/" in name or Path(name).is_dir():
        return name
    raise ValueError(
        f"unknown model size {name!r}: use one of {', '.join(table)}, a hub id or a local folder"
    )


OFFLINE_FIX = (
    "turn internet on so it downloads once (Kaggle: Settings > Internet), or take the offline path: "
    "attach a dataset holding the pipeline saved with save_pretrained and pass its folder instead of "
    "the name (HYPER['stage_1'], HYPER['stage_2'], HYPER['clip'], e.g. /kaggle/input/<dataset>/IF-I-M-v1.0), "
    "and for the prompts a prompt_embeddings.pt of the same prompts, in the results folder or "
    "anywhere under /kaggle/input, so that T5 never loads"
)
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


def _offline() -> bool:
    from huggingface_hub import constants

    # The constant is read when huggingface_hub is imported; the variable may be set later.
    flag = os.environ.get("HF_HUB_OFFLINE", "")
    return constants.HF_HUB_OFFLINE or flag.upper() in {"1", "ON", "YES", "TRUE"}


def _hub_reachable(timeout: float) -> bool:
    """Whether a connection to the hub opens: Kaggle with internet off fails here at once.

    Asked before any request because a request without a network retries for about 25 s
    (huggingface_hub 1.x), or raises "the client has been closed" (1.10).
    """
    if any(os.environ.get(name) for name in PROXY_VARIABLES):
        return True  # only the request itself, through the proxy, can tell
    from huggingface_hub import constants

    endpoint = urlparse(constants.ENDPOINT)  # HF_ENDPOINT may name a mirror
    port = endpoint.port or (80 if endpoint.scheme == "http" else 443)
    try:
        socket.create_connection((endpoint.hostname, port), timeout=timeout).close()
    except OSError:
        return False
    return True


def ensure_model_available(
    repo_id: str, token: str | None = None, cache_dir: str | None = None, timeout: float = 10.0
) -> None:
    """Return if ``repo_id`` can be loaded; raise :class:`MissingModelError` within seconds if not.

    Order: a local folder or the local cache (no network); then, unless ``HF_HUB_OFFLINE`` is
    set and unless the hub cannot even be connected to (internet off), one small request
    with a ``timeout``, which also tells a missing licence or token apart.
    """
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )

    if Path(repo_id).is_dir():
        if not (Path(repo_id) / "model_index.json").is_file():
            raise MissingModelError(
                repo_id, "the folder has no model_index.json", "point to a saved diffusers pipeline"
            )
        return
    try:
        hf_hub_download(repo_id, "model_index.json", cache_dir=cache_dir, local_files_only=True)
        return
    except LocalEntryNotFoundError:  # not cached: ask the hub below
        pass
    page = f"https://huggingface.co/{repo_id}"
    if _offline():
        raise MissingModelError(
            repo_id,
            "it is not in the local Hugging Face cache and HF_HUB_OFFLINE is set (no internet)",
            OFFLINE_FIX,
        )
    if not _hub_reachable(min(timeout, 3.0)):
        raise MissingModelError(
            repo_id,
            "it is not in the local Hugging Face cache and huggingface.co could not be reached "
            "(internet off?)",
            OFFLINE_FIX,
        )
    try:
        hf_hub_download(
            repo_id, "model_index.json", cache_dir=cache_dir, token=token, etag_timeout=timeout
        )
    except GatedRepoError as error:
        missing = (
            "the model is gated and no Hugging Face token was found"
            if token is None
            else "the model is gated and the token's account has not been granted access"
        )
        raise MissingModelError(
            repo_id, missing, f"log in at {page}, accept the licence there, then {TOKEN_HELP}"
        ) from error
    except RepositoryNotFoundError as error:
        raise MissingModelError(
            repo_id,
            "the hub has no such model visible to you",
            f"check the name, accept the licence at {page}, and {TOKEN_HELP}",
        ) from error
    # No connection, a timeout or a server error: OSErrors in huggingface_hub 0.x, httpx's
    # errors and RuntimeError("Cannot send a request, as the client has been closed.") in 1.x.
    except Exception as error:
        raise MissingModelError(
            repo_id,
            f"huggingface.co could not be reached ({type(error).__name__}: {error})",
            OFFLINE_FIX,
        ) from error


def _place(pipe: Any, device: str | torch.device | None, cpu_offload: bool | None) -> None:
    """Model CPU offload on a GPU (only the model in use sits there), else move to ``device``."""
    if cpu_offload is None:
        cpu_offload = torch.cuda.is_available() and device is None
    if cpu_offload:
        pipe.enable_model_cpu_offload()
    else:
        pipe.to(device or "cpu")


def _from_pretrained(
    cls: Any, repo_id: str, dtype: torch.dtype, token: str | None, **kwargs: Any
) -> Any:
    # IF publishes fp16 copies of its weights: half the download of the float32 files, and
    # from_pretrained casts them to ``dtype``. A local folder holds whatever was saved there.
    variant = None if Path(repo_id).is_dir() else "fp16"
    # torch_dtype, not dtype: newer diffusers/transformers accept both (warning on the old name),
    # older ones silently ignore dtype and would load float32, which does not fit a T4.
    try:
        return cls.from_pretrained(
            repo_id, variant=variant, torch_dtype=dtype, token=token, **kwargs
        )
    except OSError as error:  # files missing from a partial cache or folder
        raise MissingModelError(
            repo_id, f"some files could not be loaded ({error})", "re-download or re-save it"
        ) from error


def load_stage_1(
    model: str = "M",
    *,
    dtype: torch.dtype = torch.float16,
    device: str | torch.device | None = None,
    cpu_offload: bool | None = None,
    token: str | None = None,
    cache_dir: str | None = None,
) -> IFPipeline:
    """Load IF stage I (``"M"``, ``"L"``, ``"XL"``, a hub id or a folder) without its text encoder.

    Prompts come in as embeddings (:func:`compute_prompt_embeddings`), so T5 is not loaded;
    neither are the safety checker and watermarker, which only act on PIL outputs of the
    pipeline's own ``__call__``, which the illusion sampler does not use.
    """
    return _load_stage(
        "IFPipeline", resolve_model(model, STAGE_I), dtype, device, cpu_offload, token, cache_dir
    )


def load_stage_2(
    model: str = "M",
    *,
    dtype: torch.dtype = torch.float16,
    device: str | torch.device | None = None,
    cpu_offload: bool | None = None,
    token: str | None = None,
    cache_dir: str | None = None,
) -> IFSuperResolutionPipeline:
    """Load IF stage II (``"M"``, ``"L"``, a hub id or a folder) without its own text encoder."""
    return _load_stage(
        "IFSuperResolutionPipeline",
        resolve_model(model, STAGE_II),
        dtype,
        device,
        cpu_offload,
        token,
        cache_dir,
    )


def _load_stage(
    pipeline: str,
    repo_id: str,
    dtype: torch.dtype,
    device: str | torch.device | None,
    cpu_offload: bool | None,
    token: str | None,
    cache_dir: str | None,
):
    token = token or get_hf_token()
    ensure_model_available(repo_id, token, cache_dir)  # before importing diffusers: fail in seconds
    import diffusers

    pipe = _from_pretrained(
        getattr(diffusers, pipeline),
        repo_id,
        dtype,
        token,
        cache_dir=cache_dir,
        text_encoder=None,
        tokenizer=None,
        safety_checker=None,
        feature_extractor=None,
        watermarker=None,
        requires_safety_checker=False,
    )
    _place(pipe, device, cpu_offload)
    return pipe


@dataclass
class PromptEmbeddings:
    """T5 embeddings of the prompts, one per view, and of the negative prompt, kept on the CPU.

    ``prompt_embeds`` and ``negative_prompt_embeds`` are ``(N, 77, D)`` (``D = 4096`` for
    T5-XXL); the negative prompt's embedding is repeated so row ``i`` pairs with prompt ``i``.
    """

    prompts: list[str]
    negative_prompt: str
    prompt_embeds: torch.Tensor
    negative_prompt_embeds: torch.Tensor

    def __post_init__(self) -> None:
        if self.prompt_embeds.shape != self.negative_prompt_embeds.shape:
            raise ValueError(
                f"prompt_embeds {tuple(self.prompt_embeds.shape)} and negative_prompt_embeds "
                f"{tuple(self.negative_prompt_embeds.shape)} must have the same shape"
            )
        if len(self.prompts) != self.prompt_embeds.shape[0]:
            raise ValueError(
                f"{len(self.prompts)} prompts but {self.prompt_embeds.shape[0]} embeddings"
            )

    def save(self, path: str | Path) -> None:
        torch.save(
            {
                "prompts": self.prompts,
                "negative_prompt": self.negative_prompt,
                "prompt_embeds": self.prompt_embeds,
                "negative_prompt_embeds": self.negative_prompt_embeds,
            },
            path,
        )

    @classmethod
    def load(cls, path: str | Path) -> PromptEmbeddings:
        return cls(**torch.load(path, map_location="cpu", weights_only=True))


def embed_prompts(
    text_pipe: Any, prompts: list[str], negative_prompt: str = ""
) -> PromptEmbeddings:
    """Embed ``prompts`` with an IF pipeline that has a tokenizer and text encoder (no UNet needed).

    Uses the pipeline's own ``encode_prompt`` so the text is cleaned, tokenised (77 tokens) and
    masked exactly as IF does.
    """
    with torch.no_grad():
        prompt_embeds, negative_prompt_embeds = text_pipe.encode_prompt(
            list(prompts),
            do_classifier_free_guidance=True,
            negative_prompt=[negative_prompt] * len(prompts),
        )
    return PromptEmbeddings(
        list(prompts), negative_prompt, prompt_embeds.cpu(), negative_prompt_embeds.cpu()
    )


def _eight_bit_config() -> Any:
    try:
        import bitsandbytes  # noqa: F401  (transformers needs it for 8-bit weights)
    except ImportError:
        raise ImportError(
            "8-bit T5 needs the optional package bitsandbytes and a CUDA GPU: `pip install bitsandbytes`, "
            "or call with load_in_8bit=False (fp16 T5 needs about 10 GB of GPU memory)"
        ) from None
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_8bit=True)


def compute_prompt_embeddings(
    prompts: list[str],
    *,
    negative_prompt: str = "",
    model: str = "M",
    load_in_8bit: bool = False,
    device: str | torch.device | None = None,
    path: str | Path | None = None,
    token: str | None = None,
    cache_dir: str | None = None,
) -> PromptEmbeddings:
    """Load T5-XXL from an IF stage I repository, embed the prompts, save them, and free T5.

    Run it once (or in its own process: ``python -m helpers embed-prompts``); the sampler only
    needs the returned (or saved, ``path``) embeddings. ``load_in_8bit`` halves T5's memory with
    the optional bitsandbytes package.
    """
    repo_id = resolve_model(model, STAGE_I)
    token = token or get_hf_token()
    ensure_model_available(repo_id, token, cache_dir)
    from diffusers import IFPipeline
    from transformers import T5EncoderModel

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    # float16 matmuls are slow or missing on CPUs; bfloat16 keeps the memory and works there.
    dtype = torch.float16 if torch.device(device).type == "cuda" else torch.bfloat16
    encoder_kwargs: dict[str, Any] = {"subfolder": "text_encoder", "cache_dir": cache_dir}
    if load_in_8bit:
        encoder_kwargs.update(quantization_config=_eight_bit_config(), device_map="auto")
    text_encoder = _from_pretrained(T5EncoderModel, repo_id, dtype, token, **encoder_kwargs)
    text_pipe = _from_pretrained(
        IFPipeline,
        repo_id,
        dtype,
        token,
        cache_dir=cache_dir,
        text_encoder=text_encoder,
        unet=None,
        safety_checker=None,
        feature_extractor=None,
        watermarker=None,
        requires_safety_checker=False,
    )
    if not load_in_8bit:  # device_map already placed the 8-bit weights
        text_pipe.to(device)
    embeddings = embed_prompts(text_pipe, prompts, negative_prompt)
    # T5-XXL is ~10 GB in fp16: drop every reference before the UNets are loaded.
    del text_pipe, text_encoder
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    if path is not None:
        embeddings.save(path)
    return embeddings
