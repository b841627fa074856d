"""One stack over [enrollment ; mixture]: the shared body of the encoder and decoder models."""

from __future__ import annotations

import logging
from typing import Any, Mapping, Optional, Tuple

import torch
from torch import nn

from espnet2_tsdia.layers.mask import lengths_to_mask
from espnet2_tsdia.networks.abs_network import AbsTSDiaNetwork, NetworkOutput, build_similarity
from espnet2_tsdia.stacks.abs_stack import AbsStack

logger = logging.getLogger(__name__)

ENROLLMENT, MIXTURE = 0, 1


def concat_enroll_mixture(
    enroll: torch.Tensor,
    enroll_lens: torch.Tensor,
    feats: torch.Tensor,
    feats_lens: torch.Tensor,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pack each example as [its real enrollment frames ; its real mixture frames ; padding].

    Packing (rather than concatenating padded tensors) keeps the padding at the end, so a
    stack needs only lengths, and in a causal stack every mixture frame sees the whole
    enrollment. Vectorised with one gather.

    Args:
        enroll: (B, E, D); enroll_lens: (B,).
        feats: (B, T, D); feats_lens: (B,).

    Returns:
        x (B, E + T, D) with zeros after the real frames, lens (B,) = enroll_lens + feats_lens,
        segment (B, E + T) long: 0 for enrollment frames, 1 otherwise.
    """
    e = enroll.size(1)
    both = torch.cat([enroll, feats], dim=1)
    pos = torch.arange(both.size(1), device=both.device)[None, :]
    in_enroll = pos < enroll_lens[:, None]
    # Packed position p takes enrollment frame p, or mixture frame p - enroll_len (at E + it).
    source = torch.where(in_enroll, pos, e + pos - enroll_lens[:, None]).clamp_max(both.size(1) - 1)
    x = both.gather(1, source[..., None].expand(-1, -1, both.size(2)))
    lens = enroll_lens + feats_lens
    x = x.masked_fill(~lengths_to_mask(lens, x.size(1))[..., None], 0.0)
    segment = (~in_enroll).long()
    return x, lens, segment


def take_mixture(y: torch.Tensor, enroll_lens: torch.Tensor, num_frames: int) -> torch.Tensor:
    """Inverse of the packing for the mixture part: (B, E + T, D) -> (B, T, D) (T = num_frames).

    Frames beyond a mixture's length are copies of other packed frames; callers mask them.
    """
    pos = torch.arange(num_frames, device=y.device)[None, :] + enroll_lens[:, None]
    pos = pos.clamp_max(y.size(1) - 1)
    return y.gather(1, pos[..., None].expand(-1, -1, y.size(2)))


def masked_mean(y: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
    """Mean over the first ``lens[b]`` frames: (B, T, D), (B,) -> (B, D)."""
    mask = lengths_to_mask(lens, y.size(1))[..., None]
    return (y * mask).sum(1) / lens.clamp_min(1)[:, None].to(y.dtype)


class JointStackNetwork(AbsTSDiaNetwork):
    """Input projection + segment embedding, one stack over [enrollment ; mixture], a head on
    the mixture frames.

    Subclasses name their ``model_type``, which is also the role (config section) of the stack.

    Args:
        stack: the encoder or decoder stack (called as ``stack(x, x_lens)``); it must not use
            cross-attention (there is no encoder output to attend to).
        input_size: feature dimension F (345 for the standard frontend).
        num_classes: C of the head (4 for the powerset scheme).
        similarity: keywords of a
            :class:`~espnet2_tsdia.networks.speaker_similarity.SpeakerSimilarity` whose
            conditioning is added to the mixture frames' input; None: none.
    """

    model_type: str

    def __init__(
        self,
        *,
        stack: AbsStack,
        input_size: int = 345,
        num_classes: int = 4,
        similarity: Optional[Mapping[str, Any]] = None,
    ):
        super().__init__()
        if stack.use_cross_attention:
            raise ValueError(
                f"model_type {self.model_type!r} has no encoder output to cross-attend to (its one stack runs "
                f"over [enrollment ; mixture]), so {self.model_type}.use_cross_attention=True would be "
                "cross-attention without an encoder; set it to False or use 'encoder_decoder'"
            )
        if input_size < 1 or num_classes < 1:
            raise ValueError(f"input_size and num_classes must be >= 1, got {input_size}, {num_classes}")
        d_model = stack.output_size()
        self.num_classes = num_classes
        self.input_layer = nn.Linear(input_size, d_model)
        # Tells enrollment frames (0) from mixture frames (1): the stack has no other cue.
        self.segment_embedding = nn.Embedding(2, d_model)
        nn.init.normal_(self.segment_embedding.weight, std=0.02)
        self.stack = stack
        self.head = nn.Linear(d_model, num_classes)
        self.similarity = build_similarity(similarity, input_size=input_size, output_size=d_model)

    def encode(self, feats, feats_lens, enroll, enroll_lens) -> NetworkOutput:
        mixture = self.input_layer(feats)
        z = e = None
        if self.similarity is not None:
            cond, z, e = self.similarity(feats, feats_lens, enroll, enroll_lens)
            mixture = mixture + cond
        x, lens, segment = concat_enroll_mixture(self.input_layer(enroll), enroll_lens, mixture, feats_lens)
        x = x + self.segment_embedding(segment)
        y, _ = self.stack(x, lens)
        frame_emb = take_mixture(y, enroll_lens, feats.size(1))
        frame_emb = frame_emb.masked_fill(~lengths_to_mask(feats_lens, feats.size(1))[..., None], 0.0)
        enroll_emb = masked_mean(y, enroll_lens)
        return NetworkOutput(
            logits=self.head(frame_emb),
            lens=feats_lens,
            frame_emb=frame_emb,
            enroll_emb=enroll_emb,
            speaker_frames=z,
            speaker_enroll=e,
        )

    def enrollment_embedding(self, enroll: torch.Tensor, enroll_lens: torch.Tensor) -> torch.Tensor:
        x = self.input_layer(enroll) + self.segment_embedding.weight[ENROLLMENT]
        y, _ = self.stack(x, enroll_lens)
        return masked_mean(y, enroll_lens)
