"""TSDiarizationTask: ESPnet's AbsTask for target-speaker diarization.

Importing this module fills ESPnet's registries (so spawned DDP workers, which import it to
unpickle the task, see the same):

- ``espnet2.train.dataset.DATA_TYPES`` gets the ``tsdia_*`` data types;
- ``espnet2.tasks.abs_task.scheduler_classes`` gets ``tsdia`` (the plan's schedules).

Our registries (``ClassChoices``): ``frontend`` (tsdia_fbank, or none for stored features),
``normalize`` (global_mvn, utterance_mvn, or none), ``model_type`` (encoder, decoder,
encoder_decoder), ``encoder`` / ``decoder`` (transformer stacks). Data names: ``speech``,
``enroll``, ``labels`` (+ optional ``speech_mean`` / ``enroll_mean``).

The training options of the checklist that ESPnet lacks are added by
:class:`~espnet2_tsdia.train.trainer.TSDiaTrainer` and the task options below; the full map
from the checklist's keys to these options is ``espnet2_tsdia.config.checklist``. The task reads
ESPnet-layout configs only; ``python -m espnet2_tsdia.bin.tsdia_train`` also takes the nested
layout (it converts it first, :func:`espnet2_tsdia.config.layout.espnet_config_argument`).
"""

from __future__ import annotations

import argparse
import logging
from typing import Callable, Dict, Optional, Tuple

from espnet2.layers.global_mvn import GlobalMVN
from espnet2.layers.utterance_mvn import UtteranceMVN
from espnet2.tasks import abs_task
from espnet2.tasks.abs_task import AbsTask
from espnet2.train.class_choices import ClassChoices
from espnet2.utils.nested_dict_action import NestedDictAction
from espnet2.utils.types import int_or_none, str2bool

from espnet2_tsdia.networks.abs_network import AbsTSDiaNetwork
from espnet2_tsdia.networks.registry import MODEL_STACKS, NETWORK_TYPES, stack_conf
from espnet2_tsdia.stacks.abs_stack import AbsStack
from espnet2_tsdia.stacks.transformer import TransformerStack
from espnet2_tsdia.train.iterators import BatchShim, TSDiaIterFactory
from espnet2_tsdia.train.schedulers import SCHEDULER_NAME, build_tsdia_scheduler
from espnet2_tsdia.train.trainer import TSDiaTrainer

logger = logging.getLogger(__name__)


def _frontend_classes() -> Dict[str, type]:
    from espnet2_tsdia.frontend.fbank import TSDiaFbankFrontend

    return dict(tsdia_fbank=TSDiaFbankFrontend)


def register_everything() -> None:
    """Fill ESPnet's registries (idempotent); runs at import of this module."""
    from espnet2_tsdia.examples.datatypes import register_data_types

    register_data_types()
    abs_task.scheduler_classes[SCHEDULER_NAME] = build_tsdia_scheduler


register_everything()

from espnet2.asr.frontend.abs_frontend import AbsFrontend  # noqa: E402
from espnet2.layers.abs_normalize import AbsNormalize  # noqa: E402

frontend_choices = ClassChoices(
    name="frontend", classes=_frontend_classes(), type_check=AbsFrontend, default=None, optional=True
)
normalize_choices = ClassChoices(
    name="normalize",
    classes=dict(global_mvn=GlobalMVN, utterance_mvn=UtteranceMVN),
    type_check=AbsNormalize,
    default=None,
    optional=True,
)
model_type_choices = ClassChoices(
    name="model_type", classes=dict(NETWORK_TYPES), type_check=AbsTSDiaNetwork, default="encoder_decoder"
)
# One stack class in both roles; the model type gives each role its defaults (MODEL_STACKS).
encoder_choices = ClassChoices(
    name="encoder", classes=dict(transformer=TransformerStack), type_check=AbsStack, default="transformer"
)
decoder_choices = ClassChoices(
    name="decoder", classes=dict(transformer=TransformerStack), type_check=AbsStack, default="transformer"
)
STACK_CHOICES = {"encoder": encoder_choices, "decoder": decoder_choices}


def _bool_or_none(value):
    if value is None or str(value).lower() in ("none", "null"):
        return None
    return str2bool(value)


class TSDiarizationTask(AbsTask):
    """ESPnet task for TS-DIA; ``python -m espnet2_tsdia.bin.tsdia_train`` runs it."""

    num_optimizers: int = 1
    class_choices_list = [frontend_choices, normalize_choices, model_type_choices, encoder_choices, decoder_choices]
    trainer = TSDiaTrainer

    @classmethod
    def add_task_arguments(cls, parser: argparse.ArgumentParser):
        group = parser.add_argument_group(description="Task related")
        group.add_argument(
            "--label_scheme", type=str, default="powerset", help="label scheme of the labels (espnet2_tsdia.labels)"
        )
        group.add_argument("--max_speakers", type=int, default=4, help="speakers per recording for multi-label schemes")
        group.add_argument(
            "--input_size", type=int_or_none, default=None, help="feature dim when --frontend none (default 345)"
        )
        group.add_argument(
            "--loss_conf", action=NestedDictAction, default=dict(), help="build_loss keywords (plan training.loss)"
        )
        group.add_argument(
            "--eval_knobs", action=NestedDictAction, default=dict(), help="plan eval_knobs, stored for inference"
        )
        group.add_argument(
            "--mel_warp_conf",
            action=NestedDictAction,
            default=dict(),
            help="MelWarp keywords (training-time VTLP of mixture and enrollment); empty: off",
        )
        group.add_argument(
            "--tuning", action=NestedDictAction, default=dict(), help="plan tuning section, stored for bin/tune.py"
        )

        group = parser.add_argument_group(description="DataLoader (plan training.performance)")
        group.add_argument(
            "--pin_memory", type=_bool_or_none, default=None, help="DataLoader pin_memory; None = ngpu > 0"
        )
        group.add_argument(
            "--prefetch_factor", type=int_or_none, default=None, help="DataLoader prefetch_factor (num_workers > 0)"
        )
        group.add_argument(
            "--persistent_workers", type=str2bool, default=False, help="DataLoader persistent_workers (num_workers > 0)"
        )
        group.add_argument(
            "--batch_shim", type=str2bool, default=False, help="pad time axes to a multiple of 64 frames"
        )

        for class_choices in cls.class_choices_list:
            class_choices.add_arguments(group)
        # Our defaults where ESPnet's do not fit: the model reports loss/accuracy, not acc;
        # no clipping is "null" (ESPnet's --grad_clip is a float).
        # num_att_plot 0: TSDiaTrainer plots no attention maps, so ESPnet need not build the
        # iterator for them.
        parser.set_defaults(best_model_criterion=[("valid", "loss", "min")], num_att_plot=0)
        action = parser._option_string_actions["--grad_clip"]
        action.type = _float_or_none_arg

    @classmethod
    def get_default_config(cls):
        """ESPnet's, with each stack role's defaults of the model type (``decoder_conf.causal:
        true``; ``use_cross_attention: true`` for encoder_decoder), so ``--print_config`` output
        builds as it is."""
        config = super().get_default_config()
        # ESPnet's merges the command line's *_conf over the class defaults; the role defaults
        # go between the two, so a value given on the command line still wins.
        args, _ = cls.get_parser().parse_known_args()
        model_type = config["model_type"]
        for role in MODEL_STACKS.get(model_type, {}):
            config[f"{role}_conf"].update(stack_conf(model_type, role, getattr(args, f"{role}_conf")))
        return config

    @classmethod
    def build_collate_fn(cls, args: argparse.Namespace, train: bool) -> Callable:
        from espnet2_tsdia.examples.collate import TSDiaCollateFn

        frontend_conf = args.frontend_conf if getattr(args, "frontend", None) else {}
        collate = TSDiaCollateFn(
            hop_length=frontend_conf.get("hop_length", 80), subsampling=frontend_conf.get("subsampling", 10)
        )
        return BatchShim(collate) if getattr(args, "batch_shim", False) else collate

    @classmethod
    def build_preprocess_fn(cls, args: argparse.Namespace, train: bool) -> Optional[Callable]:
        # Labels are converted offline (make_tsdia_examples) and enrollment is drawn by the
        # tsdia_enroll data types: nothing is left to do per example.
        return None

    @classmethod
    def required_data_names(cls, train: bool = True, inference: bool = False) -> Tuple[str, ...]:
        return ("speech", "enroll") if inference else ("speech", "enroll", "labels")

    @classmethod
    def optional_data_names(cls, train: bool = True, inference: bool = False) -> Tuple[str, ...]:
        return ("speech_mean", "enroll_mean")

    @classmethod
    def build_model(cls, args: argparse.Namespace):
        from espnet2_tsdia.labels.schemes import get_scheme
        from espnet2_tsdia.losses.tsdia_loss import build_loss
        from espnet2_tsdia.model import TARGET_ACTIVITY, TSDiarizationModel

        frontend = None
        if getattr(args, "frontend", None):
            frontend = frontend_choices.get_class(args.frontend)(**args.frontend_conf)
            input_size = frontend.output_size()
            if args.input_size is not None and args.input_size != input_size:
                raise ValueError(f"--input_size {args.input_size} differs from the frontend's output size {input_size}")
        else:
            input_size = args.input_size if args.input_size is not None else 345
        normalize = None
        if getattr(args, "normalize", None):
            normalize = normalize_choices.get_class(args.normalize)(**args.normalize_conf)

        scheme = get_scheme(args.label_scheme)
        scheme_classes = scheme.num_classes(args.max_speakers)
        network_conf = dict(args.model_type_conf or {})
        num_classes = network_conf.pop("num_classes", None)
        if num_classes is None:
            num_classes = scheme_classes
        elif num_classes != scheme_classes:
            raise ValueError(
                f"decoder.num_classes (model_type_conf.num_classes) = {num_classes}, but label scheme "
                f"{args.label_scheme!r} has {scheme_classes} classes"
            )
        conf_input = network_conf.pop("input_size", None)
        if conf_input is not None and conf_input != input_size:
            raise ValueError(f"model_type_conf.input_size {conf_input} differs from the feature size {input_size}")
        similarity = network_conf.pop("similarity", None)
        if network_conf:
            raise ValueError(
                f"model_type_conf: unknown keys {sorted(network_conf)}; expected num_classes, input_size, similarity"
            )

        stacks = {
            role: STACK_CHOICES[role].get_class(getattr(args, role))(
                **stack_conf(args.model_type, role, getattr(args, f"{role}_conf"))
            )
            for role in MODEL_STACKS[args.model_type]
        }
        network = model_type_choices.get_class(args.model_type)(
            **stacks, input_size=input_size, num_classes=num_classes, similarity=similarity
        )
        loss = build_loss(**(args.loss_conf or {}))
        mel_warp = None
        warp_conf = dict(getattr(args, "mel_warp_conf", None) or {})
        if warp_conf:
            from espnet2_tsdia.layers.mel_warp import MelWarp

            if frontend is not None and hasattr(frontend, "n_mels"):
                warp_conf.setdefault("n_mels", frontend.n_mels)
            mel_warp = MelWarp(**warp_conf)
        return TSDiarizationModel(
            frontend=frontend,
            normalize=normalize,
            network=network,
            loss=loss,
            label_scheme=args.label_scheme if args.label_scheme in TARGET_ACTIVITY else None,
            mel_warp=mel_warp,
        )

    @classmethod
    def build_sequence_iter_factory(cls, args: argparse.Namespace, iter_options, mode: str):
        base = super().build_sequence_iter_factory(args=args, iter_options=iter_options, mode=mode)
        pin = args.pin_memory if args.pin_memory is not None else args.ngpu > 0
        workers = args.num_workers
        return TSDiaIterFactory(
            dataset=base.dataset,
            sampler=base.sampler,
            seed=args.seed,
            shuffle=iter_options.train,
            collate_fn=iter_options.collate_fn,
            num_workers=workers,
            pin_memory=pin,
            prefetch_factor=args.prefetch_factor if workers > 0 else None,
            persistent_workers=bool(args.persistent_workers) and workers > 0,
        )

    @classmethod
    def main_worker(cls, args: argparse.Namespace):
        """ESPnet's main_worker; the plan's ``name`` (``--exp_name``) names the wandb run
        unless ``--wandb_name`` does."""
        if getattr(args, "wandb_name", None) is None and getattr(args, "exp_name", None):
            args.wandb_name = args.exp_name
        return super().main_worker(args)


def _float_or_none_arg(value):
    if value is None or str(value).lower() in ("none", "null"):
        return None
    return float(value)
