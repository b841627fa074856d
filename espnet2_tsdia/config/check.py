"""``config check``: resolve a training config, list every checklist key, and find every problem.

A config (either layout) passes when

- every key is known (checklist keys, ESPnet options from the task's parser, fields of
  ``*_conf`` dicts from the constructor they are given to);
- no key set away from its "off" value is left unread by the chosen configuration (a
  ``momentum`` for adamw, ``decoder.*`` for model_type encoder, an ESPnet option our trainer
  does not implement, ...);
- keys the checklist names twice agree (``global_config.batch_size`` vs ``training.batch_size``);
- the model, optimizer and scheduler build (on the meta device: nothing is allocated).

Keys read only at inference or tuning time are reported as such. FAVOR+ settings of a stack
whose attention is softmax (``nb_features``, ``feature_redraw_interval``, ``auto_check_redraw``,
``fixed_projection``) are *inactive*: a status of their own in the table, and a warning when the
config sets one to a value that would change something; the config still passes (a search over
``attention_type`` keeps them set).
"""

from __future__ import annotations

import inspect
import logging
import tempfile
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import torch
import yaml
from espnet2.utils.get_default_kwargs import get_default_kwargs

from espnet2_tsdia.config.checklist import (
    KNOB_BY_KEY,
    KNOBS,
    MISSING,
    PRECEDENCE,
    is_inert,
    suggest,
)
from espnet2_tsdia.config.consumers import CONSUMERS, describe_consumer
from espnet2_tsdia.config.layout import (
    attention_ignores,
    espnet_to_plan,
    flatten_plan,
    inactive_reason,
    is_plan_layout,
    plan_to_espnet,
    read_plan_value,
    validate_plan_values,
)
from espnet2_tsdia.config.tuning_section import section_issues
from espnet2_tsdia.inference.speech2tsdia import OPTION_NAMES, resolve_options
from espnet2_tsdia.losses.tsdia_loss import build_loss
from espnet2_tsdia.networks.registry import MODEL_STACKS, stack_conf
from espnet2_tsdia.tasks import tsdia
from espnet2_tsdia.train.callbacks import CALLBACKS, callback_options
from espnet2_tsdia.train.optimizers import optimizer_class
from espnet2_tsdia.train.schedulers import scheduler_class
from espnet2_tsdia.train.trainer import TSDiaTrainer

logger = logging.getLogger(__name__)

#: ESPnet options (parser dests) -> the code that reads them in this task. Options absent from
#: this map are read by nothing here and must keep their default (``config check`` says so).
ESPNET_CONSUMERS: Dict[str, str] = {
    "config": "config_argparse (the yaml itself)",
    "print_config": "AbsTask.main",
    "log_level": "AbsTask.main_worker logging.basicConfig",
    "drop_last_iter": "build_batch_sampler(drop_last=)",
    "dry_run": "AbsTask.main_worker",
    "iterator_type": "AbsTask.build_iter_factory (sequence only)",
    "valid_iterator_type": "AbsTask.build_iter_factory (None/sequence only)",
    "output_dir": "AbsTask.main_worker / TSDiaTrainer",
    "ngpu": "AbsTask.main_worker / TSDiaTrainer (device)",
    "seed": "set_all_random_seed / TSDiaIterFactory",
    "num_workers": "TSDiaIterFactory(num_workers=)",
    "dist_backend": "DistributedOption.init_torch_distributed",
    "dist_init_method": "DistributedOption",
    "dist_world_size": "DistributedOption",
    "dist_rank": "DistributedOption",
    "local_rank": "DistributedOption",
    "dist_master_addr": "DistributedOption",
    "dist_master_port": "DistributedOption",
    "dist_launcher": "DistributedOption",
    "multiprocessing_distributed": "AbsTask.main (spawn)",
    "unused_parameters": "TSDiaTrainer DDP(find_unused_parameters=)",
    "gradient_as_bucket_view": "TSDiaTrainer DDP(gradient_as_bucket_view=)",
    "ddp_comm_hook": "TSDiaTrainer DDP.register_comm_hook",
    "cudnn_enabled": "AbsTask.main_worker",
    "cudnn_benchmark": "AbsTask.main_worker",
    "cudnn_deterministic": "AbsTask.main_worker",
    "use_tf32": "AbsTask.main_worker",
    "collect_stats": "AbsTask.main_worker (collect_stats)",
    "write_collected_feats": "espnet2 collect_stats",
    "max_epoch": "TSDiaTrainer (data epochs)",
    "patience": "espnet2_tsdia.train.early_stopping.EarlyStopping",
    "val_scheduler_criterion": "TSDiaTrainer (plateau scheduler metric)",
    "early_stopping_criterion": "EarlyStopping",
    "best_model_criterion": "TSDiaTrainer (*.best.pth, n-best averaging)",
    "keep_nbest_models": "TSDiaTrainer (snapshots kept, n-best averaging)",
    "nbest_averaging_interval": "TSDiaTrainer (intermediate averaging)",
    "grad_clip": "TSDiaTrainer clip_grad_norm_",
    "grad_clip_type": "TSDiaTrainer clip_grad_norm_(norm_type=)",
    "grad_noise": "TSDiaTrainer add_gradient_noise",
    "accum_grad": "TSDiaTrainer",
    "no_forward_run": "TSDiaTrainer",
    "resume": "TSDiaTrainer (output_dir/checkpoint.pth)",
    "train_dtype": "AbsTask.main_worker model.to(dtype)",
    "use_amp": "TSDiaTrainer autocast",
    "log_interval": "TSDiaTrainer",
    "use_matplotlib": "TSDiaTrainer Reporter.matplotlib_plot",
    "use_tensorboard": "TSDiaTrainer SummaryWriter",
    "create_graph_in_tensorboard": "(unsupported by TSDiaTrainer)",
    "use_wandb": "AbsTask.main_worker wandb.init / TSDiaTrainer",
    "wandb_project": "wandb.init",
    "wandb_id": "wandb.init",
    "wandb_entity": "wandb.init",
    "wandb_name": "wandb.init",
    "wandb_model_log_interval": "TSDiaTrainer wandb.log_artifact",
    "detect_anomaly": "AbsTask.main_worker",
    "init_param": "AbsTask.main_worker load_pretrained_model",
    "ignore_init_mismatch": "load_pretrained_model",
    "freeze_param": "AbsTask.main_worker (requires_grad=False)",
    "batch_size": "build_batch_sampler",
    "valid_batch_size": "build_batch_sampler (validation)",
    "batch_bins": "build_batch_sampler",
    "valid_batch_bins": "build_batch_sampler (validation)",
    "max_batch_size": "build_batch_sampler",
    "min_batch_size": "build_batch_sampler",
    "train_shape_file": "build_batch_sampler",
    "valid_shape_file": "build_batch_sampler",
    "batch_type": "build_batch_sampler",
    "valid_batch_type": "build_batch_sampler",
    "fold_length": "build_batch_sampler",
    "sort_in_batch": "build_batch_sampler",
    "shuffle_within_batch": "(ignored by TSDiaIterFactory)",
    "sort_batch": "build_batch_sampler",
    "train_data_path_and_name_and_type": "ESPnetDataset",
    "valid_data_path_and_name_and_type": "ESPnetDataset",
    "allow_variable_data_keys": "AbsTask.check_task_requirements",
    "max_cache_size": "ESPnetDataset",
    "max_cache_fd": "ESPnetDataset",
    "allow_multi_rates": "ESPnetDataset",
    "valid_max_cache_size": "ESPnetDataset (validation)",
    "exclude_weight_decay": "AbsTask.build_optimizers",
    "exclude_weight_decay_conf": "AbsTask.build_optimizers",
    "optim": "AbsTask.build_optimizers",
    "optim_conf": "AbsTask.build_optimizers",
    "scheduler": "AbsTask.main_worker scheduler_classes",
    "scheduler_conf": "AbsTask.main_worker scheduler_classes",
}
#: Options of ESPnet's parser no code of this task reads (must keep their defaults).
NOT_CONSUMED = {
    "num_att_plot",  # TSDiaTrainer draws no attention plots; the task's default is 0
    "sharded_ddp",
    "use_deepspeed",
    "deepspeed_config",
    "use_adapter",
    "adapter",
    "save_strategy",
    "adapter_conf",
    "pretrain_path",
    "num_iters_per_epoch",
    "category_sample_size",
    "upsampling_factor",
    "category_upsampling_factor",
    "dataset_upsampling_factor",
    "dataset_scaling_factor",
    "multiple_iterator",
    "chunk_length",
    "chunk_shift_ratio",
    "num_cache_chunks",
    "chunk_excluded_key_prefixes",
    "chunk_default_fs",
    "chunk_max_abs_length",
    "chunk_discard_short_samples",
    "multi_task_dataset",
    "create_graph_in_tensorboard",
    "shuffle_within_batch",
}


def our_option_consumers() -> Dict[str, str]:
    """Options added by our task and trainer -> consumer (from the checklist where it names them)."""
    out = {k.target: CONSUMERS[k.key].describe() for k in KNOBS if "." not in k.target and "{" not in k.target}
    out.update(
        {
            "exp_name": "TSDiaTrainer",
            "profile_steps": "TSDiaTrainer torch.profiler schedule",
            "compile_backend": "TSDiaTrainer torch.compile(backend=)",
            "callback_conf": "espnet2_tsdia.train.callbacks.build_callbacks",
            "label_scheme": "TSDiarizationTask.build_model / TSDiarizationModel",
            "max_speakers": "TSDiarizationTask.build_model (classes of multi-label schemes)",
            "input_size": "TSDiarizationTask.build_model (frontend none)",
            "loss_conf": "espnet2_tsdia.losses.tsdia_loss.build_loss",
            "eval_knobs": "consumed at inference time (config.yaml)",
            "tuning": "consumed at tuning time (config.yaml)",
            "frontend": "TSDiarizationTask.build_model",
            "frontend_conf": "TSDiarizationTask.build_model",
            "normalize": "TSDiarizationTask.build_model",
            "normalize_conf": "TSDiarizationTask.build_model",
            "model_type": "TSDiarizationTask.build_model",
            "model_type_conf": "TSDiarizationTask.build_model",
            "encoder": "TSDiarizationTask.build_model",
            "encoder_conf": "TSDiarizationTask.build_model",
            "decoder": "TSDiarizationTask.build_model",
            "decoder_conf": "TSDiarizationTask.build_model",
            "resume_checkpoint": "TSDiaTrainer resume",
            "checkpoint_monitor": "TSDiaTrainer save_best_only",
            "val_scheduler_criterion": "TSDiaTrainer (plateau scheduler metric)",
        }
    )
    return out


@dataclass
class Row:
    key: str
    value: Any
    status: str
    consumer: str


@dataclass
class CheckReport:
    layout: str
    rows: List[Row] = field(default_factory=list)
    extra: List[Row] = field(default_factory=list)
    issues: List[str] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    espnet: Dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.issues

    def render(self) -> str:
        def fmt(v):
            return (
                "-"
                if v is MISSING
                else yaml.safe_dump(v, default_flow_style=True, width=10**6).strip().removesuffix("...").strip()
            )

        lines = [f"layout: {self.layout}", ""]
        rows = [(r.key, fmt(r.value), r.status, r.consumer) for r in self.rows]
        if self.extra:
            rows.append(("", "", "", ""))
            rows += [(r.key, fmt(r.value), r.status, r.consumer) for r in self.extra]
        w = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(("key", "value", "status"))]
        lines.append(f"{'key':<{w[0]}}  {'value':<{w[1]}}  {'status':<{w[2]}}  consumer")
        for key, value, status, consumer in rows:
            lines.append(f"{key:<{w[0]}}  {value:<{w[1]}}  {status:<{w[2]}}  {consumer}".rstrip())
        lines.append("")
        lines += [f"WARNING: {w}" for w in self.warnings]
        if self.issues:
            lines.append(f"FAILED: {len(self.issues)} problem(s)")
            lines += [f"ERROR: {i}" for i in self.issues]
        else:
            lines.append(f"OK: {len(self.rows)} checklist keys resolved, every set key has a consumer")
        return "\n".join(lines)


def _signature_keys(obj) -> List[str]:
    params = inspect.signature(obj).parameters
    return [p for p, v in params.items() if p not in ("self", "optimizer", "params") and v.kind != v.VAR_KEYWORD]


def validate_espnet(cfg: Dict[str, Any], parser) -> List[str]:
    """Unknown options, unknown ``*_conf`` fields and unconsumed ESPnet options."""
    issues: List[str] = []
    dests = {a.dest: a for a in parser._actions if a.dest != "help"}
    for name, value in cfg.items():
        if name not in dests:
            issues.append(f"{name}: unknown option{suggest(name, list(dests))}")
        elif name in NOT_CONSUMED and value != dests[name].default:
            issues.append(
                f"{name}={value!r} is not consumed: no code of TSDiarizationTask/TSDiaTrainer reads it (keep {dests[name].default!r})"
            )

    def check_fields(option: str, allowed: List[str], where: str):
        conf = cfg.get(option)
        if conf is None:
            return
        if not isinstance(conf, dict):
            issues.append(f"{option}: expected a mapping, got {conf!r}")
            return
        for k in conf:
            if k not in allowed:
                issues.append(f"{option}.{k}: unknown field of {where}{suggest(k, allowed)}")

    for choices in tsdia.TSDiarizationTask.class_choices_list:
        name = choices.name
        chosen = cfg.get(name, dests[name].default if name in dests else None)
        if chosen is None or str(chosen).lower() == "none":
            if cfg.get(f"{name}_conf"):
                issues.append(f"{name}_conf is set but {name} is none: not consumed")
            continue
        try:
            cls = choices.get_class(chosen)
        except ValueError as e:
            issues.append(f"{name}: {e}")
            continue
        allowed = _signature_keys(cls)
        if name == "model_type":
            allowed = ["num_classes", "input_size", "similarity"]
        check_fields(f"{name}_conf", allowed, cls.__name__)
    model_type = cfg.get("model_type", "encoder_decoder")
    for stack in ("encoder", "decoder"):
        if model_type in MODEL_STACKS and stack not in MODEL_STACKS[model_type]:
            conf = cfg.get(f"{stack}_conf") or {}
            defaults = {
                k: v.default
                for k, v in inspect.signature(tsdia.STACK_CHOICES[stack].get_class("transformer")).parameters.items()
            }
            changed = [k for k, v in conf.items() if defaults.get(k, MISSING) != v]
            if changed:
                issues.append(
                    f"{stack}_conf.{changed[0]} (and {len(changed) - 1} more) is not consumed: model_type {model_type!r} has no {stack}"
                    if len(changed) > 1
                    else f"{stack}_conf.{changed[0]} is not consumed: model_type {model_type!r} has no {stack}"
                )
    try:
        check_fields(
            "optim_conf",
            _signature_keys(optimizer_class(cfg.get("optim", "adadelta"))),
            f"optimizer {cfg.get('optim', 'adadelta')}",
        )
    except ValueError as e:
        issues.append(str(e))
    if cfg.get("scheduler") is not None:
        try:
            check_fields(
                "scheduler_conf", _signature_keys(scheduler_class(cfg["scheduler"])), f"scheduler {cfg['scheduler']}"
            )
        except ValueError as e:
            issues.append(str(e))
    elif cfg.get("scheduler_conf"):
        issues.append("scheduler_conf is set but scheduler is null: not consumed")
    check_fields("loss_conf", _signature_keys(build_loss), "build_loss")
    check_fields("eval_knobs", list(OPTION_NAMES), "eval_knobs (consumed at inference time)")
    knobs = cfg.get("eval_knobs") or {}
    if isinstance(knobs, dict) and set(knobs) <= set(OPTION_NAMES):
        try:
            resolve_options(knobs)
        except ValueError as e:
            issues.append(str(e))
    issues += section_issues(cfg.get("tuning") or {})
    names = cfg.get("callbacks") or []
    for n in names:
        if n not in CALLBACKS:
            issues.append(
                f"callbacks: unknown callback {n!r}; expected one of {sorted(CALLBACKS)}{suggest(n, list(CALLBACKS))}"
            )
    for n, conf in (cfg.get("callback_conf") or {}).items():
        if n not in names:
            issues.append(f"callback_conf.{n} is not consumed: {n!r} is not in callbacks")
        elif n in CALLBACKS:
            for k in conf or {}:
                if k not in callback_options(n):
                    issues.append(f"callback_conf.{n}.{k}: unknown option{suggest(k, callback_options(n))}")
    return issues


def resolve(cfg: Dict[str, Any]):
    """Parse an ESPnet config with the task's parser: (args Namespace, resolved dict with the
    defaults of every ``*_conf`` constructor filled in)."""
    parser = tsdia.TSDiarizationTask.get_parser()
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        yaml.safe_dump(cfg, f)
        f.flush()
        args = parser.parse_args(["--config", f.name])
    resolved = dict(vars(args))
    for choices in tsdia.TSDiarizationTask.class_choices_list:
        chosen = resolved.get(choices.name)
        if chosen is None:
            continue
        conf = get_default_kwargs(choices.get_class(chosen))
        stacks = MODEL_STACKS.get(resolved.get("model_type"), {})
        if choices.name in stacks:  # the role's defaults of this model type
            conf.update(stack_conf(resolved["model_type"], choices.name))
        conf.update(resolved.get(f"{choices.name}_conf") or {})
        resolved[f"{choices.name}_conf"] = conf
    conf = get_default_kwargs(optimizer_class(resolved["optim"]))
    conf.update(resolved.get("optim_conf") or {})
    resolved["optim_conf"] = conf
    if resolved.get("scheduler"):
        conf = get_default_kwargs(scheduler_class(resolved["scheduler"]))
        conf.update(resolved.get("scheduler_conf") or {})
        resolved["scheduler_conf"] = conf
    conf = get_default_kwargs(build_loss)
    conf.update(resolved.get("loss_conf") or {})
    resolved["loss_conf"] = conf
    return args, resolved, parser


def try_build(args) -> List[str]:
    """Build model, optimizer and scheduler on the meta device; the errors they raise."""
    try:
        with torch.device("meta"):
            model = tsdia.TSDiarizationTask.build_model(args)
        optim = tsdia.TSDiarizationTask.build_optimizers(args, model)[0]
        if args.scheduler is not None:
            scheduler_class(args.scheduler)(optim, **args.scheduler_conf)
        args.output_dir = args.output_dir or "exp"
        TSDiaTrainer.build_options(args)
    except (ValueError, TypeError, KeyError) as e:
        return [f"building the model/optimizer/scheduler/trainer failed: {e}"]
    return []


def check_config(cfg: Dict[str, Any], *, build: bool = True) -> CheckReport:
    """Check a loaded yaml (either layout); see the module docstring."""
    if not isinstance(cfg, dict):
        return CheckReport(layout="?", issues=[f"a config must be a yaml mapping, got {type(cfg).__name__}"])
    plan_layout = is_plan_layout(cfg)
    report = CheckReport(layout="plan (nested)" if plan_layout else "espnet (flat)")
    given: Dict[str, Any] = {}
    if plan_layout:
        espnet, issues = plan_to_espnet(cfg, strict=False)
        report.issues += issues
        given, _, _ = flatten_plan(cfg)
    else:
        espnet = dict(cfg)
        given = espnet_given(espnet)
        report.issues += validate_plan_values(given)
        for key, value in given.items():
            reason = inactive_reason(key, given)
            knob = KNOB_BY_KEY[key]
            if reason and not is_inert(knob, value):
                report.issues.append(f"{key}={value!r} (ESPnet {knob.target}) is not consumed: {reason}")
    report.espnet = espnet
    parser = tsdia.TSDiarizationTask.get_parser()
    report.issues += validate_espnet(espnet, parser)
    try:
        args, resolved, _ = resolve({k: v for k, v in espnet.items() if any(a.dest == k for a in parser._actions)})
    except SystemExit:
        report.issues.append("the ESPnet parser rejected the config (see the message above)")
        return report
    except Exception as e:  # noqa: BLE001 - report any parser failure as an issue
        report.issues.append(f"the ESPnet parser rejected the config: {e}")
        return report
    flat_resolved = {}
    for knob in KNOBS:
        try:
            flat_resolved[knob.key] = read_plan_value(knob.key, resolved)
        except ValueError as e:
            flat_resolved[knob.key] = f"(not in plan terms: {e})"
    for winner, loser in PRECEDENCE:
        if flat_resolved.get(loser) is MISSING and flat_resolved.get(winner) is not MISSING:
            flat_resolved[loser] = flat_resolved[winner]
    known = {k: v for k, v in flat_resolved.items() if v is not MISSING}
    for knob in KNOBS:
        value = flat_resolved[knob.key]
        if knob.stage in ("inference", "tuning"):
            status = f"{knob.stage} time"
        else:
            status = "set" if knob.key in given else "default"
            reason = inactive_reason(knob.key, known)
            ignored = None if reason else attention_ignores(knob.key, known)
            if reason:
                status += f"; unused: {reason}"
            elif ignored:
                status += f"; inactive: {ignored}"
                if knob.key in given and not is_inert(knob, given[knob.key]):
                    report.warnings.append(f"{knob.key}={given[knob.key]!r} is inactive: {ignored}")
        report.rows.append(Row(knob.key, value, status, describe_consumer(knob)))
    covered = {k.target.split(".")[0] for k in KNOBS}
    ours = our_option_consumers()
    for name, value in espnet.items():
        if name in covered or name in (
            "scheduler",
            "val_scheduler_criterion",
            "resume",
            "callback_conf",
            "best_model_criterion",
            "early_stopping_criterion",
            "optim",
        ):
            continue
        consumer = ours.get(name) or ESPNET_CONSUMERS.get(name) or "(not consumed)"
        report.extra.append(Row(name, value, "espnet option", consumer))
    if build and not report.issues:
        report.issues += try_build(args)
    return report


def espnet_given(cfg: Dict[str, Any]) -> Dict[str, Any]:
    """The checklist keys an ESPnet-layout config sets, with their values (keys the nested
    layout cannot express, such as two stacks with different dropouts, are left out)."""
    given = {}
    for knob in KNOBS:
        try:
            value = read_plan_value(knob.key, cfg)
        except ValueError as e:
            logger.info("not expressible in the nested layout: %s", e)
            continue
        if value is not MISSING:
            given[knob.key] = value
    return given


def load_yaml(path: str) -> Any:
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def convert(cfg: Dict[str, Any], *, to: Optional[str] = None) -> Tuple[str, Dict[str, Any]]:
    """Convert a config to the other layout (or to ``to``: 'espnet' or 'plan')."""
    src = "plan" if is_plan_layout(cfg) else "espnet"
    dst = to or ("espnet" if src == "plan" else "plan")
    if dst not in ("espnet", "plan"):
        raise ValueError(f"--to must be 'espnet' or 'plan', got {dst!r}")
    if src == dst:
        return dst, cfg
    if src == "plan":
        return dst, plan_to_espnet(cfg, strict=True)[0]
    return dst, espnet_to_plan(cfg)


def knob_table_markdown() -> str:
    """The checklist as a markdown table (for docs): key, ESPnet option, stage, consumer, note."""
    lines = ["| key | ESPnet option | stage | consumer | note |", "|---|---|---|---|---|"]
    for k in KNOBS:
        lines.append(f"| `{k.key}` | `{k.target}` | {k.stage} | {describe_consumer(k, full=True)} | {k.note} |")
    return "\n".join(lines)
