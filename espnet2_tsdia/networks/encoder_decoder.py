"""Model type ``encoder_decoder``: encoder over the enrollment, decoder over the mixture."""

from __future__ import annotations

import logging
from typing import Any, Mapping, Optional

import torch
from torch import nn

from espnet2_tsdia.layers.mask import lengths_to_mask
from espnet2_tsdia.networks.abs_network import AbsTSDiaNetwork, NetworkOutput, build_similarity
from espnet2_tsdia.networks.joint import masked_mean
from espnet2_tsdia.stacks.abs_stack import AbsStack

logger = logging.getLogger(__name__)


class EncoderDecoderNetwork(AbsTSDiaNetwork):
    """The encoder encodes the enrollment; the decoder runs over the mixture and
    cross-attends to the encoded enrollment in every block. With a causal decoder the
    mixture side is online capable (the enrollment is known before the mixture starts).

    Encoder and decoder may have different d_model: a linear map brings the encoder output
    to the decoder's width (Identity when equal); ``enroll_emb`` lives in the decoder's
    space, like the frame embeddings it is compared with.

    Args:
        encoder: enrollment stack, without cross-attention.
        decoder: mixture stack built with ``use_cross_attention=True``.
        input_size: feature dimension F.
        num_classes: classes of the head (plan ``decoder.num_classes``; 4 = powerset).
        similarity: keywords of a
            :class:`~espnet2_tsdia.networks.speaker_similarity.SpeakerSimilarity` whose
            conditioning is added to the decoder's input; None: none.
    """

    def __init__(
        self,
        *,
        encoder: AbsStack,
        decoder: AbsStack,
        input_size: int = 345,
        num_classes: int = 4,
        similarity: Optional[Mapping[str, Any]] = None,
    ):
        super().__init__()
        if not decoder.use_cross_attention:
            raise ValueError(
                "model_type 'encoder_decoder' needs decoder.use_cross_attention=True (the "
                "decoder reads the encoded enrollment through it), got False"
            )
        if encoder.use_cross_attention:
            raise ValueError(
                "model_type 'encoder_decoder' encodes the enrollment alone, so the encoder has no "
                "memory to cross-attend to: build it with use_cross_attention=False"
            )
        if input_size < 1 or num_classes < 1:
            raise ValueError(f"input_size and num_classes must be >= 1, got {input_size}, {num_classes}")
        d_enc, d_dec = encoder.output_size(), decoder.output_size()
        self.num_classes = num_classes
        self.enroll_input = nn.Linear(input_size, d_enc)
        self.mixture_input = nn.Linear(input_size, d_dec)
        self.encoder = encoder
        self.memory_proj = nn.Linear(d_enc, d_dec) if d_enc != d_dec else nn.Identity()
        self.decoder = decoder
        self.head = nn.Linear(d_dec, num_classes)
        self.similarity = build_similarity(similarity, input_size=input_size, output_size=d_dec)

    def _memory(self, enroll: torch.Tensor, enroll_lens: torch.Tensor) -> torch.Tensor:
        memory, _ = self.encoder(self.enroll_input(enroll), enroll_lens)
        memory = self.memory_proj(memory)
        return memory.masked_fill(~lengths_to_mask(enroll_lens, memory.size(1))[..., None], 0.0)

    def encode(self, feats, feats_lens, enroll, enroll_lens) -> NetworkOutput:
        memory = self._memory(enroll, enroll_lens)
        x = self.mixture_input(feats)
        z = e = None
        if self.similarity is not None:
            cond, z, e = self.similarity(feats, feats_lens, enroll, enroll_lens)
            x = x + cond
        frame_emb, _ = self.decoder(x, feats_lens, memory, enroll_lens)
        return NetworkOutput(
            logits=self.head(frame_emb),
            lens=feats_lens,
            frame_emb=frame_emb,
            enroll_emb=masked_mean(memory, enroll_lens),
            speaker_frames=z,
            speaker_enroll=e,
        )

    def enrollment_embedding(self, enroll: torch.Tensor, enroll_lens: torch.Tensor) -> torch.Tensor:
        return masked_mean(self._memory(enroll, enroll_lens), enroll_lens)
