"""IF loading without the hub: fast, clear failures; the token; local folders; prompt embeddings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch

from helpers.illusions import models
from helpers.illusions.models import MissingModelError, PromptEmbeddings

ROOT = Path(__file__).resolve().parents[1]

FAIL_FAST_SCRIPT = """
import json, time
from helpers.illusions.models import MissingModelError, load_stage_1
start = time.perf_counter()
try:
    load_stage_1("M")
except MissingModelError as error:
    print(json.dumps({"seconds": time.perf_counter() - start, "message": str(error)}))
"""


def test_missing_model_fails_within_seconds_offline(tmp_path):
    # A fresh process, so that huggingface_hub reads HF_HUB_OFFLINE and the empty HF_HOME at import.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path), PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [sys.executable, "-c", FAIL_FAST_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.stdout, out.stderr
    result = json.loads(out.stdout)
    assert result["seconds"] < 5, "only the call is timed, after imports"
    message = result["message"]
    assert "DeepFloyd/IF-I-M-v1.0" in message
    assert "not in the local Hugging Face cache" in message and "HF_HUB_OFFLINE" in message
    assert "To fix:" in message


def _gated_error():
    from huggingface_hub.errors import GatedRepoError

    error = GatedRepoError.__new__(GatedRepoError)  # the real one needs an HTTP response
    Exception.__init__(error, "401 gated")
    return error


@pytest.mark.parametrize("token", [None, "hf_secret_value_123"])
def test_gated_model_message_names_model_licence_and_token(monkeypatch, tmp_path, token):
    import huggingface_hub
    from huggingface_hub import constants
    from huggingface_hub.errors import LocalEntryNotFoundError

    def fake_download(repo_id, filename, local_files_only=False, **kwargs):
        if local_files_only:
            raise LocalEntryNotFoundError("not cached")
        raise _gated_error()

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(models, "_hub_reachable", lambda timeout: True)  # the hub answers
    with pytest.raises(MissingModelError) as caught:
        models.ensure_model_available(
            "DeepFloyd/IF-II-M-v1.0", token=token, cache_dir=str(tmp_path)
        )
    message = str(caught.value)
    assert "DeepFloyd/IF-II-M-v1.0" in message
    assert "https://huggingface.co/DeepFloyd/IF-II-M-v1.0" in message and "licence" in message
    assert "HF_TOKEN" in message and "Kaggle" in message
    assert ("no Hugging Face token" in message) == (token is None)
    if token:
        assert token not in message


def test_unreachable_hub_is_reported_as_a_connection_problem(monkeypatch, tmp_path):
    import huggingface_hub
    from huggingface_hub import constants
    from huggingface_hub.errors import LocalEntryNotFoundError

    def fake_download(repo_id, filename, local_files_only=False, **kwargs):
        raise LocalEntryNotFoundError("no connection")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with pytest.raises(MissingModelError, match="could not be reached"):
        models.ensure_model_available("DeepFloyd/IF-I-M-v1.0", cache_dir=str(tmp_path))


def test_token_from_environment_then_kaggle_secrets(monkeypatch):
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.setenv("HF_TOKEN", "from-env")
    assert models.get_hf_token() == "from-env"
    monkeypatch.delenv("HF_TOKEN")

    secrets = types.ModuleType("kaggle_secrets")

    class UserSecretsClient:
        def get_secret(self, name):
            if name != "HF_TOKEN":
                raise KeyError(name)
            return "from-kaggle"

    secrets.UserSecretsClient = UserSecretsClient
    monkeypatch.setitem(sys.modules, "kaggle_secrets", secrets)
    assert models.get_hf_token() == "from-kaggle"
    monkeypatch.setitem(sys.modules, "kaggle_secrets", None)  # not on Kaggle
    assert models.get_hf_token() is None


def test_model_names_resolve():
    assert models.resolve_model("xl", models.STAGE_I) == "DeepFloyd/IF-I-XL-v1.0"
    assert (
        models.resolve_model("DeepFloyd/IF-II-L-v1.0", models.STAGE_II) == "DeepFloyd/IF-II-L-v1.0"
    )
    with pytest.raises(ValueError, match="M, L"):
        models.resolve_model("XL", models.STAGE_II)


def test_load_stages_from_local_folders_without_text_encoder(tmp_path):
    from helpers.tiny_models import tiny_stage_1, tiny_stage_2

    tiny_stage_1().save_pretrained(tmp_path / "one")
    tiny_stage_2().save_pretrained(tmp_path / "two")
    one = models.load_stage_1(str(tmp_path / "one"), dtype=torch.float32, device="cpu")
    two = models.load_stage_2(str(tmp_path / "two"), dtype=torch.float32, device="cpu")
    assert one.text_encoder is None and two.text_encoder is None
    assert (
        one.scheduler.config.variance_type == "learned_range" and one.scheduler.config.thresholding
    )
    assert two.unet.config.in_channels == 6
    with pytest.raises(MissingModelError, match="model_index.json"):
        models.load_stage_1(str(tmp_path))


def _tiny_text_pipe():
    """IF's text half with a random 32-d T5 and a word-level tokenizer, built offline."""
    from diffusers import IFPipeline
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace
    from transformers import PreTrainedTokenizerFast, T5Config, T5EncoderModel

    words = ["<pad>", "</s>", "<unk>", "an", "oil", "painting", "of", "a", "rabbit", "duck"]
    backend = Tokenizer(WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    backend.pre_tokenizer = Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )
    torch.manual_seed(0)
    config = T5Config(vocab_size=len(words), d_model=32, d_ff=37, d_kv=8, num_layers=2, num_heads=4)
    return IFPipeline(
        tokenizer=tokenizer,
        text_encoder=T5EncoderModel(config).eval(),
        unet=None,
        scheduler=None,
        safety_checker=None,
        feature_extractor=None,
        watermarker=None,
        requires_safety_checker=False,
    )


def test_prompt_embeddings_from_t5_round_trip_a_file(tmp_path):
    prompts = ["an oil painting of a rabbit", "an oil painting of a duck"]
    embeddings = models.embed_prompts(_tiny_text_pipe(), prompts, negative_prompt="")
    assert embeddings.prompt_embeds.shape == (2, 77, 32)
    assert torch.equal(embeddings.negative_prompt_embeds[0], embeddings.negative_prompt_embeds[1])
    assert not torch.equal(embeddings.prompt_embeds[0], embeddings.prompt_embeds[1])

    embeddings.save(tmp_path / "embeds.pt")
    loaded = PromptEmbeddings.load(tmp_path / "embeds.pt")
    assert loaded.prompts == prompts
    assert torch.equal(loaded.prompt_embeds, embeddings.prompt_embeds)
    assert torch.equal(loaded.negative_prompt_embeds, embeddings.negative_prompt_embeds)


def test_embeddings_must_pair_up():
    with pytest.raises(ValueError, match="same shape"):
        PromptEmbeddings(["a"], "", torch.zeros(1, 77, 8), torch.zeros(1, 77, 4))
    with pytest.raises(ValueError, match="2 prompts but 1"):
        PromptEmbeddings(["a", "b"], "", torch.zeros(1, 77, 8), torch.zeros(1, 77, 8))


def test_eight_bit_without_bitsandbytes_says_how_to_fix(monkeypatch):
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)
    with pytest.raises(ImportError, match="pip install bitsandbytes"):
        models._eight_bit_config()


def test_embed_prompts_command_reports_a_missing_model(monkeypatch, tmp_path, capsys):
    from huggingface_hub import constants

    from helpers.cli import main

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert (
        main(["embed-prompts", "--out", str(tmp_path / "e.pt"), "an oil painting of a rabbit"]) == 2
    )
    assert "Cannot load DeepFloyd/IF-I-M-v1.0" in capsys.readouterr().out
    assert not (tmp_path / "e.pt").exists()
