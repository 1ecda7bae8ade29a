"""Part 2's offline models: a toy DeepFloyd IF and a toy CLIP, trained on :mod:`helpers.toy_world`.

They have IF's and CLIP's own shapes, so smoke mode runs the notebook's code unchanged:

* **text encoder**: a transformers ``T5EncoderModel`` (one layer, fixed random weights,
  like IF's frozen T5) behind a word-level tokenizer over the toy captions; prompts are
  embedded by the pipeline's own ``encode_prompt``
  (:func:`helpers.illusions.models.embed_prompts`), the call path of full mode;
* **stage I** (32 px) and **stage II** (32 -> 64 px): diffusers ``UNet2DConditionModel``
  in IF's layout (cross-attention on the text, text pooled into the time embedding,
  6 output channels: noise and learned variance), in ``IFPipeline`` and
  ``IFSuperResolutionPipeline`` with IF's scheduler;
* **CLIP**: a transformers ``CLIPModel`` (small config) with a letter-level
  ``CLIPTokenizer``, trained contrastively on the same pictures and captions.

The trained weights ship with the kit in fp16 (:data:`TOY_IF`, :data:`TOY_CLIP`), pinned by
SHA-256; each names the one command that rebuilds it (:mod:`helpers.illusions.toy_training`).
Other hardware gives other bits, so a rebuilt file needs its new digest recorded here.

diffusers and transformers are imported inside the functions: they take seconds to import.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from helpers.diffusion import unnormalize
from helpers.illusions.models import PromptEmbeddings, embed_prompts
from helpers.tiny_models import IF_SCHEDULER, letter_tokenizer
from helpers.toy_world import CLASSES, caption, vocabulary
from helpers.weights import sha256_of

if TYPE_CHECKING:
    from diffusers import IFPipeline, IFSuperResolutionPipeline
    from transformers import CLIPModel, CLIPProcessor

    from helpers.metrics import ClipScorer

__all__ = [
    "TOY_IF",
    "TOY_CLIP",
    "ShippedFile",
    "STAGE_1_SIZE",
    "STAGE_2_SIZE",
    "toy_prompts",
    "toy_text_pipe",
    "toy_stage_1",
    "toy_stage_2",
    "toy_clip",
    "ToyIF",
    "load_toy_if",
    "load_toy_clip",
]

CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"
STAGE_1_SIZE, STAGE_2_SIZE = 32, 64
TEXT_DIM = 32


@dataclass(frozen=True)
class ShippedFile:
    """A trained file shipped in ``helpers/checkpoints``: its digest and the command that rebuilds it."""

    path: Path
    sha256: str
    reproduce: str

    def checked(self, path: str | Path | None = None) -> Path:
        """``path`` (default: the shipped file) after its SHA-256 is checked; a clear error otherwise."""
        path = Path(path or self.path)
        if not path.is_file():
            raise FileNotFoundError(
                f"the toy model {path} is missing: reinstall the kit (the wheel ships it) or "
                f"rebuild it with `{self.reproduce}`"
            )
        digest = sha256_of(path)
        if digest != self.sha256:
            raise ValueError(
                f"{path} is not the shipped toy model: its SHA-256 is {digest}, expected "
                f"{self.sha256}. Restore it from the kit (git checkout or reinstall); after "
                f"rebuilding it with `{self.reproduce}`, record the new digest in "
                "helpers/illusions/toy_models.py."
            )
        return path


TOY_IF = ShippedFile(
    CHECKPOINTS / "toy_if.pt",
    "bbf6e44216a785537d5b29d1a35bd8f6d57a7306f4191f98a6d124574e657710",
    "python -m helpers.illusions.toy_training if",
)
"""Text encoder, stage I and stage II of the toy IF, fp16."""
TOY_CLIP = ShippedFile(
    CHECKPOINTS / "toy_clip.pt",
    "3138404a42cc00ca07aaac188483a6a9fd698563e9f7f39b23da8b0c158c8b47",
    "python -m helpers.illusions.toy_training clip",
)
"""The toy CLIP, fp16."""


def toy_prompts(pair: tuple[str, str]) -> list[str]:
    """The plain captions of a pair of classes: ``("face", "house") -> ["a face", "a house"]``."""
    return [caption(CLASSES.index(name)) for name in pair]


def _word_tokenizer() -> Any:
    """T5's interface (pad 0, end 1, unknown 2, an end token appended) over the toy words."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    vocab.update({word: 3 + i for i, word in enumerate(vocabulary())})
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    core.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", 1)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )


def _text_encoder() -> Any:
    from transformers import T5Config, T5EncoderModel

    config = T5Config(
        vocab_size=3 + len(vocabulary()),
        d_model=TEXT_DIM,
        d_kv=8,
        d_ff=64,
        num_layers=1,
        num_heads=4,
        decoder_start_token_id=0,
    )
    return T5EncoderModel(config).eval()


def _unet(size: int, in_channels: int, blocks: tuple[int, ...], **extra: Any) -> Any:
    """IF's UNet layout (diffusers' IF test components), cross-attention at the lowest level only."""
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=size,
        in_channels=in_channels,
        out_channels=6,
        block_out_channels=blocks,
        layers_per_block=1,
        down_block_types=("ResnetDownsampleBlock2D",) * (len(blocks) - 1)
        + ("SimpleCrossAttnDownBlock2D",),
        mid_block_type="UNetMidBlock2DSimpleCrossAttn",
        up_block_types=("SimpleCrossAttnUpBlock2D",)
        + ("ResnetUpsampleBlock2D",) * (len(blocks) - 1),
        cross_attention_dim=blocks[-1],
        encoder_hid_dim=TEXT_DIM,
        attention_head_dim=16,
        addition_embed_type="text",
        addition_embed_type_num_heads=2,
        cross_attention_norm="group_norm",
        resnet_time_scale_shift="scale_shift",
        act_fn="gelu",
        norm_num_groups=8,
        **extra,
    )


_NO_EXTRAS = dict(
    safety_checker=None, feature_extractor=None, watermarker=None, requires_safety_checker=False
)


def toy_text_pipe(text_encoder: Any | None = None) -> IFPipeline:
    """An ``IFPipeline`` holding only the toy tokenizer and text encoder, for ``encode_prompt``."""
    from diffusers import DDPMScheduler, IFPipeline

    return IFPipeline(
        tokenizer=_word_tokenizer(),
        text_encoder=text_encoder or _text_encoder(),
        unet=None,
        scheduler=DDPMScheduler(**IF_SCHEDULER),
        **_NO_EXTRAS,
    )


def toy_stage_1() -> IFPipeline:
    """Stage I with untrained weights: 32 px, 3 -> 6 channels."""
    from diffusers import DDPMScheduler, IFPipeline

    unet = _unet(STAGE_1_SIZE, 3, (16, 32, 64))
    return IFPipeline(
        tokenizer=None,
        text_encoder=None,
        unet=unet,
        scheduler=DDPMScheduler(**IF_SCHEDULER),
        **_NO_EXTRAS,
    )


def toy_stage_2() -> IFSuperResolutionPipeline:
    """Stage II with untrained weights: 64 px, the noisy image and the upscaled stage I image in."""
    from diffusers import DDPMScheduler, IFSuperResolutionPipeline

    unet = _unet(STAGE_2_SIZE, 6, (8, 16, 32), class_embed_type="timestep")
    noising = DDPMScheduler(
        num_train_timesteps=1000,
        beta_schedule="squaredcos_cap_v2",
        beta_start=0.0001,
        beta_end=0.02,
    )
    return IFSuperResolutionPipeline(
        tokenizer=None,
        text_encoder=None,
        unet=unet,
        scheduler=DDPMScheduler(**IF_SCHEDULER),
        image_noising_scheduler=noising,
        **_NO_EXTRAS,
    )


def toy_clip(folder: str | Path | None = None) -> tuple[CLIPModel, CLIPProcessor]:
    """The toy CLIP with untrained weights: 32 px images, letter-level text."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    tokenizer = letter_tokenizer(folder or tempfile.mkdtemp(prefix="toy-clip-"))
    processor = CLIPProcessor(
        image_processor=CLIPImageProcessor(
            size={"shortest_edge": STAGE_1_SIZE},
            crop_size={"height": STAGE_1_SIZE, "width": STAGE_1_SIZE},
        ),
        tokenizer=tokenizer,
    )
    config = CLIPConfig(
        text_config=dict(
            vocab_size=len(tokenizer),
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=77,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        ),
        vision_config=dict(
            image_size=STAGE_1_SIZE,
            patch_size=4,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=3,
            num_attention_heads=4,
        ),
        projection_dim=32,
    )
    return CLIPModel(config).eval(), processor


@dataclass
class ToyIF:
    """The trained toy IF: a text pipeline (for embeddings) and the two stages."""

    text_pipe: IFPipeline
    stage_1: IFPipeline
    stage_2: IFSuperResolutionPipeline

    def embed(self, prompts: list[str], negative_prompt: str = "") -> PromptEmbeddings:
        """Prompt embeddings through IF's own ``encode_prompt``, as full mode makes them."""
        return embed_prompts(self.text_pipe, prompts, negative_prompt)

    def sample(
        self,
        prompts: list[str],
        views: list,
        loop: Any,
        *,
        images: int = 1,
        seed: int = 0,
        image: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``images`` stage I pictures (32 px) of ``prompts`` through ``views`` and ``loop`` or,
        given their 32 px ``image``, stage II's (64 px), in ``[-1, 1]``, at smoke mode's steps
        and guidance, from one generator seeded ``seed``: how the tests and the demo measure
        the toy illusion."""
        from helpers.illusions.modes import SMOKE_GUIDANCE, SMOKE_STEPS
        from helpers.illusions.sampler import sample_stage

        stage_2 = image is not None
        return sample_stage(
            self.stage_2 if stage_2 else self.stage_1,
            self.embed(prompts),
            views,
            loop,
            num_inference_steps=SMOKE_STEPS[stage_2],
            guidance_scale=SMOKE_GUIDANCE,
            generator=torch.Generator().manual_seed(seed),
            image=image,
            num_images=images,
            progress=False,
        )


def count_read_right(
    scorer: ClipScorer, images: torch.Tensor, views: list, prompts: list[str]
) -> int:
    """How many of ``images`` (a batch in ``[-1, 1]``, as :meth:`ToyIF.sample` draws them)
    read right in every view to ``scorer`` (:meth:`ClipScorer.reads_right`): how the tests
    and the demo count the toy illusion."""
    return sum(scorer.reads_right(unnormalize(x.clamp(-1, 1)), views, prompts) for x in images)


def _load_weights(file: ShippedFile, path: str | Path | None) -> dict[str, dict[str, torch.Tensor]]:
    weights = torch.load(file.checked(path), map_location="cpu", weights_only=True)
    return {part: {k: v.float() for k, v in state.items()} for part, state in weights.items()}


def load_toy_if(path: str | Path | None = None) -> ToyIF:
    """The shipped toy IF (``path``: another copy of the file), SHA-256 checked, in eval mode."""
    weights = _load_weights(TOY_IF, path)
    text_pipe, stage_1, stage_2 = toy_text_pipe(), toy_stage_1(), toy_stage_2()
    text_pipe.text_encoder.load_state_dict(weights["text_encoder"])
    stage_1.unet.load_state_dict(weights["stage_1"])
    stage_2.unet.load_state_dict(weights["stage_2"])
    for pipe in (text_pipe, stage_1, stage_2):
        pipe.set_progress_bar_config(disable=True)
        for module in pipe.components.values():
            if isinstance(module, torch.nn.Module):
                module.eval()
    return ToyIF(text_pipe, stage_1, stage_2)


def load_toy_clip(path: str | Path | None = None) -> tuple[CLIPModel, CLIPProcessor]:
    """The shipped toy CLIP and its processor, SHA-256 checked, in eval mode."""
    model, processor = toy_clip()
    model.load_state_dict(_load_weights(TOY_CLIP, path)["clip"])
    return model.eval(), processor
