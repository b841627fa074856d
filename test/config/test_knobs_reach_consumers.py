"""Every training key of the plan, changed away from its default, reaches its consumer.

Four scenarios change many keys at once (keys that exclude each other, such as sgd's
momentum and adam's betas, go to different scenarios). For every key, a probe reads the
value back from the object that consumes it (the built module, optimizer, scheduler, trainer
options and loop, data loader, DDP wrapper); the test asserts the probe sees the new value in
its scenario and something else in the default build, so no key is accepted and ignored.
"""

import pytest
import torch
import torch.nn.functional as F

from espnet2_tsdia.config.checklist import KNOBS
from espnet2_tsdia.config.layout import nest, plan_to_espnet
from espnet2_tsdia.layers.attention import favor_kernels
from espnet2_tsdia.layers.norm import ReZero, ScaleNorm
from test.train.tiny_data import Built, deep_merge, make_dataset, tiny_config

ENC = lambda b: b.model.network.encoder  # noqa: E731  (encoder_decoder scenarios)
DEC = lambda b: b.model.network.decoder  # noqa: E731
STACK = lambda b: b.model.network.stack  # noqa: E731  (encoder / decoder model types)


def block(stack):
    return stack.blocks[0]


def kernel(stack):
    ks = list(favor_kernels(stack))
    return ks[0] if ks else None


def stack_probes(section, get):
    return {
        f"{section}.d_model": lambda b: get(b).output_size(),
        f"{section}.num_layers": lambda b: len(get(b).blocks),
        f"{section}.num_heads": lambda b: block(get(b)).self_attn.num_heads,
        f"{section}.attention_type": lambda b: block(get(b)).self_attn.attention_type,
        f"{section}.nb_features": lambda b: kernel(get(b)).nb_features if kernel(get(b)) else None,
        f"{section}.activation": lambda b: (block(get(b)).ffn.act, block(get(b)).ffn.gated),
        f"{section}.use_rezero": lambda b: isinstance(block(get(b)).scale_self, ReZero),
        f"{section}.use_scalenorm": lambda b: isinstance(block(get(b)).norm_self, ScaleNorm),
        f"{section}.feature_redraw_interval": lambda b: (
            kernel(get(b)).feature_redraw_interval if kernel(get(b)) else None
        ),
        f"{section}.auto_check_redraw": lambda b: kernel(get(b)).auto_check_redraw if kernel(get(b)) else None,
    }


def ddp_flags(b):
    """Wrap the model in DDP inside a 1-process gloo group and read the flags back."""
    import socket

    import torch.distributed as dist
    from espnet2.train.distributed_utils import DistributedOption

    with socket.socket() as sock:  # a free port: other test sessions may share the machine
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)
    saved = b.loop.dist
    try:
        b.loop.dist = DistributedOption(distributed=True, ngpu=0)  # CPU DDP here
        b.loop.distributed = True
        ddp = b.loop.wrap_model()
        return (ddp.find_unused_parameters, ddp.gradient_as_bucket_view, ddp.static_graph)
    finally:
        b.loop.distributed = False
        b.loop.dist = saved
        dist.destroy_process_group()


def barrier_calls(b, monkeypatch):
    import torch.distributed as dist

    calls = []
    monkeypatch.setattr(dist, "barrier", lambda *a, **k: calls.append(1))
    monkeypatch.setattr(dist, "get_world_size", lambda *a, **k: 1)
    b.loop.distributed = True
    b.loop.dp_model = b.model
    for p in b.model.parameters():
        p.grad = torch.zeros_like(p)
    from espnet2.train.reporter import Reporter

    rep = Reporter()
    rep.set_epoch(1)
    with rep.observe("train") as sub:
        b.loop.optimizer_step(sub, 1.0)
        sub.next()
    b.loop.distributed = False
    return len(calls)


SCENARIOS = {
    # encoder_decoder with linear attention, adam, linear schedule, almost every trainer knob
    "A": {
        "model_type": "encoder_decoder",
        "name": "probe_run",
        "global_config.dropout": 0.25,
        "global_config.batch_size": 3,
        "global_config.device": "cuda",
        "encoder.d_model": 24,
        "encoder.num_layers": 2,
        "encoder.num_heads": 4,
        "encoder.attention_type": "linear",
        "encoder.nb_features": 12,
        "encoder.activation": "geglu",
        "encoder.use_rezero": True,
        "encoder.feature_redraw_interval": 5,
        "encoder.auto_check_redraw": False,
        "decoder.d_model": 8,
        "decoder.num_layers": 2,
        "decoder.num_heads": 4,
        "decoder.attention_type": "causal_linear",
        "decoder.nb_features": 6,
        "decoder.activation": "swiglu",
        "decoder.use_scalenorm": True,
        "decoder.feature_redraw_interval": 9,
        "decoder.auto_check_redraw": False,
        "training.epochs": 7,
        "training.random_seed": 11,
        "training.max_steps": 13,
        "training.optimizer.type": "adam",
        "training.optimizer.lr": 0.003,
        "training.optimizer.weight_decay": 0.02,
        "training.optimizer.betas": [0.5, 0.6],
        "training.optimizer.epsilon": 1e-5,
        "training.optimizer.amsgrad": True,
        "training.scheduler.type": "linear",
        "training.scheduler.min_lr": 1e-5,
        "training.scheduler.max_lr": 0.01,
        "training.scheduler.warmup_steps": 3,
        "training.scheduler.decay_steps": 30,
        "training.gradient_clipping": 0.5,
        "training.gradient_accumulation_steps": 2,
        "training.mixed_precision": True,
        "training.amp_loss_scale": 128,
        "training.fixed_projection": True,
        "checkpoint.snapshot_features": False,
        "training.loss.main": "cross_entropy",
        "training.loss.label_smoothing": 0.1,
        "training.loss.reduction": "sum",
        "training.loss.auxiliary.norm_reg": 0.01,
        "training.loss.auxiliary.contrastive": 0.2,
        "training.loss.auxiliary.speaker_contrastive": 0.3,
        "decoder.similarity": {"dim": 4, "num_layers": 1},
        "training.augmentation.mel_warp": {"warp_range": [0.9, 1.1]},
        "training.loss.focal_alpha": 0.25,
        "training.loss.focal_gamma": 2.0,
        "training.validation.interval": 4,
        "training.validation.batch_size": 2,
        "training.validation.metric_for_best_model": "val_accuracy",
        "training.validation.greater_is_better": True,
        "training.early_stopping.patience": 2,
        "training.early_stopping.metric": "val_target_error",
        "training.early_stopping.min_delta": 0.05,
        "training.early_stopping.mode": "max",
        "training.early_stopping.restore_best_weights": True,
        "training.checkpoint.save_dir": "SAVE_DIR",
        "training.checkpoint.interval": 6,
        "training.checkpoint.save_total_limit": 2,
        "training.checkpoint.resume": "some/checkpoint.pth",
        "training.checkpoint.snapshot_optimizer": False,
        "training.checkpoint.snapshot_scheduler": False,
        "training.checkpoint.save_best_only": True,
        "training.checkpoint.monitor_metric": "val_loss",
        "training.distributed.backend": "gloo",
        "training.distributed.world_size": 2,
        "training.distributed.local_rank": 1,
        "training.distributed.sync_gradient_barrier": True,
        "training.distributed.find_unused_parameters": True,
        "training.distributed.gradient_as_bucket_view": False,
        "training.distributed.static_graph": True,
        "training.logging.interval": 3,
        "training.logging.tensorboard": False,
        "training.logging.wandb": True,
        "training.logging.wandb_project": "proj",
        "training.logging.wandb_entity": "team",
        "training.logging.log_model": True,
        "training.performance.num_workers": 1,
        "training.performance.pin_memory": True,
        "training.performance.batch_shim": True,
        "training.performance.prefetch_factor": 3,
        "training.performance.persistent_workers": True,
        "training.performance.compile_model": True,
        "training.callbacks": [
            {"name": "pruning", "amount": 0.3},
            {"name": "freeze_layers", "prefixes": ["network.encoder"]},
        ],
        "training.profiling": True,
    },
    # model type decoder (non-causal softmax), sgd, step schedule, redraw defaults for both stacks
    "B": {
        "model_type": "decoder",
        "decoder.causal": False,
        "decoder.use_rezero": True,
        "training.batch_size": 2,
        "global_config.d_ff": 3,
        "training.feature_redraw_interval": 17,
        "training.optimizer.type": "sgd",
        "training.optimizer.momentum": 0.7,
        "training.optimizer.nesterov": True,
        "training.scheduler.type": "step",
        "training.scheduler.step_size": 4,
        "training.scheduler.gamma": 0.3,
        "training.loss.main": "focal",
    },
    # cosine restarts
    "C": {
        "model_type": "encoder",
        "encoder.use_scalenorm": True,
        "training.scheduler.type": "cosine",
        "training.scheduler.decay_steps": 40,
        "training.scheduler.num_cycles": 4,
        "training.checkpoint.snapshot_features": False,
    },
    # plateau, binary labels with an explicit head size, encoder_decoder without cross-attention
    "D": {
        "model_type": "encoder_decoder",
        "decoder.num_classes": 2,
        "training.scheduler.type": "plateau",
        "training.scheduler.patience": 3,
        "training.scheduler.mode": "max",
    },
}
PASSTHROUGH = {"D": {"label_scheme": "binary"}}
#: Scenario D uses label_scheme binary: probe its head.
B_ONLY_EXPECTED = {}


def probes(monkeypatch, tmp_path):
    """key -> (scenario, probe(built) -> observed, expected observed value)."""
    p = {}

    def add(key, scenario, fn, expected):
        p[key] = (scenario, fn, expected)

    for key, fn in stack_probes("encoder", ENC).items():
        add(key, "A", fn, None)
    for key, fn in stack_probes("decoder", DEC).items():
        add(key, "A", fn, None)
    exp = {
        "encoder.d_model": 24,
        "encoder.num_layers": 2,
        "encoder.num_heads": 4,
        "encoder.attention_type": "linear",
        "encoder.nb_features": 12,
        "encoder.activation": (F.gelu, True),
        "encoder.use_rezero": True,
        "encoder.feature_redraw_interval": 5,
        "encoder.auto_check_redraw": False,
        "decoder.d_model": 8,
        "decoder.num_layers": 2,
        "decoder.num_heads": 4,
        "decoder.attention_type": "causal_linear",
        "decoder.nb_features": 6,
        "decoder.activation": (F.silu, True),
        "decoder.use_scalenorm": True,
        "decoder.feature_redraw_interval": 9,
        "decoder.auto_check_redraw": False,
    }
    for key, value in exp.items():
        p[key] = (p[key][0], p[key][1], value)
    add("decoder.use_rezero", "B", lambda b: isinstance(block(STACK(b)).scale_self, ReZero), True)
    add("encoder.use_scalenorm", "C", lambda b: isinstance(block(STACK(b)).norm_self, ScaleNorm), True)
    add("model_type", "B", lambda b: type(b.model.network).__name__, "DecoderNetwork")
    add("name", "A", lambda b: b.options.exp_name, "probe_run")
    add("global_config.dropout", "A", lambda b: (block(ENC(b)).dropout.p, block(DEC(b)).ffn.dropout.p), (0.25, 0.25))
    add("global_config.batch_size", "A", lambda b: len(b.train_factory.epoch_batches(1, shuffle=False)[0]), 3)
    add("global_config.d_ff", "B", lambda b: block(STACK(b)).ffn.w_out.in_features, 48)
    add("global_config.device", "A", lambda b: (b.args.ngpu, b.loop.device), (1, "cuda"))
    add("decoder.num_classes", "D", lambda b: b.model.network.head.out_features, 2)
    add("decoder.causal", "B", lambda b: block(STACK(b)).self_attn.causal, False)
    add("training.epochs", "A", lambda b: b.options.max_epoch, 7)
    add("training.batch_size", "B", lambda b: len(b.train_factory.epoch_batches(1, shuffle=False)[0]), 2)
    add("training.random_seed", "A", lambda b: (b.options.seed, b.train_factory.seed), (11, 11))
    add("training.max_steps", "A", lambda b: b.options.max_steps, 13)
    opt = lambda name: lambda b: b.optimizer.param_groups[0].get(name)  # noqa: E731
    add("training.optimizer.type", "B", lambda b: type(b.optimizer).__name__, "SGD")
    add("training.optimizer.lr", "A", lambda b: b.optimizer.defaults["lr"], 0.003)
    add("training.optimizer.weight_decay", "A", opt("weight_decay"), 0.02)
    add("training.optimizer.betas", "A", lambda b: tuple(opt("betas")(b)), (0.5, 0.6))
    add("training.optimizer.epsilon", "A", opt("eps"), 1e-5)
    add("training.optimizer.amsgrad", "A", opt("amsgrad"), True)
    add("training.optimizer.momentum", "B", opt("momentum"), 0.7)
    add("training.optimizer.nesterov", "B", opt("nesterov"), True)
    sched_opt = lambda f: lambda b: getattr(getattr(b.scheduler, "options", None), f, None)  # noqa: E731
    add("training.scheduler.type", "A", lambda b: sched_opt("type")(b), "linear")
    add("training.scheduler.min_lr", "A", sched_opt("min_lr"), 1e-5)
    add("training.scheduler.max_lr", "A", sched_opt("max_lr"), 0.01)
    add("training.scheduler.warmup_steps", "A", sched_opt("warmup_steps"), 3)
    add("training.scheduler.decay_steps", "A", sched_opt("decay_steps"), 30)
    add("training.scheduler.num_cycles", "C", lambda b: getattr(b.scheduler, "first_cycle_steps", None), 10)
    add("training.scheduler.step_size", "B", sched_opt("step_size"), 4)
    add("training.scheduler.gamma", "B", sched_opt("gamma"), 0.3)
    add("training.scheduler.patience", "D", lambda b: getattr(b.scheduler, "patience", None), 3)
    add("training.scheduler.mode", "D", lambda b: getattr(b.scheduler, "mode", None), "max")
    add("training.gradient_clipping", "A", lambda b: b.options.grad_clip, 0.5)
    add("training.gradient_accumulation_steps", "A", lambda b: b.options.accum_grad, 2)
    add("training.mixed_precision", "A", lambda b: b.options.use_amp, True)
    add("training.amp_loss_scale", "A", lambda b: b.loop.scaler.get_scale() if b.loop.scaler else None, 128.0)
    add("training.feature_redraw_interval", "B", lambda b: "n/a", "n/a")  # replaced below
    add("training.fixed_projection", "A", lambda b: [k.fixed_projection for k in favor_kernels(b.model)], [True] * 6)
    add("checkpoint.snapshot_features", "A", lambda b: b.options.snapshot_features, False)
    loss = lambda b: b.model.loss  # noqa: E731
    add("training.loss.main", "B", lambda b: loss(b).main, "focal")
    add("training.loss.label_smoothing", "A", lambda b: loss(b).options["label_smoothing"], 0.1)
    add("training.loss.reduction", "A", lambda b: loss(b).reduction, "sum")
    add("training.loss.auxiliary.norm_reg", "A", lambda b: loss(b).norm_reg, 0.01)
    add("training.loss.auxiliary.contrastive", "A", lambda b: loss(b).contrastive, 0.2)
    add("training.loss.auxiliary.speaker_contrastive", "A", lambda b: loss(b).speaker_contrastive, 0.3)
    sim = lambda b: getattr(b.model.network, "similarity", None)  # noqa: E731
    add("decoder.similarity", "A", lambda b: sim(b) and sim(b).encoder.output.out_features, 4)
    add("training.augmentation.mel_warp", "A", lambda b: b.model.mel_warp and b.model.mel_warp.warp_range, (0.9, 1.1))
    add("training.loss.focal_alpha", "A", lambda b: loss(b).options["focal_alpha"], 0.25)
    add("training.loss.focal_gamma", "A", lambda b: loss(b).options["focal_gamma"], 2.0)
    add("training.validation.interval", "A", lambda b: b.options.valid_interval_steps, 4)
    add("training.validation.batch_size", "A", lambda b: len(b.valid_factory.epoch_batches(1)[0]), 2)
    add("training.validation.metric_for_best_model", "A", lambda b: b.loop.best_criteria[0][:2], ("valid", "accuracy"))
    add("training.validation.greater_is_better", "A", lambda b: b.loop.best_criteria[0][2], "max")
    early = lambda f: lambda b: getattr(b.loop.early, f)  # noqa: E731
    add("training.early_stopping.patience", "A", early("patience"), 2)
    add(
        "training.early_stopping.metric",
        "A",
        lambda b: (b.loop.early.phase, b.loop.early.key),
        ("valid", "target_error"),
    )
    add("training.early_stopping.min_delta", "A", early("min_delta"), 0.05)
    add("training.early_stopping.mode", "A", early("mode"), "max")
    add("training.early_stopping.restore_best_weights", "A", lambda b: b.options.early_stopping_restore_best, True)
    add("training.checkpoint.save_dir", "A", lambda b: b.options.output_dir, "SAVE_DIR")
    add("training.checkpoint.interval", "A", lambda b: b.options.checkpoint_interval_steps, 6)
    add("training.checkpoint.save_total_limit", "A", lambda b: b.loop.keep_nbest, [2])
    add(
        "training.checkpoint.resume",
        "A",
        lambda b: (b.options.resume, b.options.resume_checkpoint),
        (True, "some/checkpoint.pth"),
    )
    add("training.checkpoint.snapshot_optimizer", "A", lambda b: b.options.snapshot_optimizer, False)
    add("training.checkpoint.snapshot_scheduler", "A", lambda b: b.options.snapshot_scheduler, False)
    add("training.checkpoint.snapshot_features", "C", lambda b: b.options.snapshot_features, False)
    add("training.checkpoint.save_best_only", "A", lambda b: b.options.save_best_only, True)
    add("training.checkpoint.monitor_metric", "A", lambda b: b.loop.monitor, ("valid", "loss", "max"))
    add("training.distributed.backend", "A", lambda b: b.dist.dist_backend, "gloo")
    add("training.distributed.world_size", "A", lambda b: b.dist.dist_world_size, 2)
    add("training.distributed.local_rank", "A", lambda b: b.dist.local_rank, 1)
    add("training.distributed.sync_gradient_barrier", "A", lambda b: barrier_calls(b, monkeypatch), 1)
    add("training.distributed.find_unused_parameters", "A", lambda b: ddp_flags(b)[0], True)
    add("training.distributed.gradient_as_bucket_view", "A", lambda b: ddp_flags(b)[1], False)
    add("training.distributed.static_graph", "A", lambda b: ddp_flags(b)[2], True)
    add("training.logging.interval", "A", lambda b: b.options.log_interval, 3)
    add("training.logging.tensorboard", "A", lambda b: b.loop.open_writers() is not None, False)
    add("training.logging.wandb", "A", lambda b: b.options.use_wandb, True)
    add("training.logging.wandb_project", "A", lambda b: b.args.wandb_project, "proj")
    add("training.logging.wandb_entity", "A", lambda b: b.args.wandb_entity, "team")
    add("training.logging.log_model", "A", lambda b: b.options.wandb_model_log_interval, 1)
    dl = lambda b: b.train_factory.build_iter(1)  # noqa: E731
    add("training.performance.num_workers", "A", lambda b: dl(b).num_workers, 1)
    add("training.performance.pin_memory", "A", lambda b: dl(b).pin_memory, True)
    add("training.performance.batch_shim", "A", lambda b: type(dl(b).collate_fn).__name__, "BatchShim")
    add("training.performance.prefetch_factor", "A", lambda b: dl(b).prefetch_factor if dl(b).num_workers else None, 3)
    add("training.performance.persistent_workers", "A", lambda b: dl(b).persistent_workers, True)
    add("training.performance.compile_model", "A", lambda b: type(b.loop.wrap_model()).__name__, "OptimizedModule")
    add(
        "training.callbacks",
        "A",
        lambda b: [type(c).__name__ for c in b.loop.callbacks],
        ["MagnitudePruning", "FreezeLayers"],
    )
    add("training.profiling", "A", lambda b: b.options.profiling, True)
    p["training.feature_redraw_interval"] = (
        "B",
        lambda b: (
            [k.feature_redraw_interval for k in favor_kernels(b.model)] or [STACK(b).blocks[0].self_attn.attention_type]
        ),
        None,
    )
    return p


#: Keys whose only non-default value makes the build fail: tested by the error they cause.
BY_ERROR = {"decoder.use_cross_attention"}
TRAIN_KEYS = [k.key for k in KNOBS if k.stage == "train" and k.key not in BY_ERROR]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("knobs")
    data = make_dataset(tmp / "data")
    out = {"default": {}}
    base = tiny_config("encoder_decoder", "softmax")
    out["default"]["encoder_decoder"] = Built(tmp, base, data, "default_ed")
    out["default"]["decoder"] = Built(tmp, tiny_config("decoder", "softmax"), data, "default_dec")
    out["default"]["encoder"] = Built(tmp, tiny_config("encoder", "softmax"), data, "default_enc")
    for name, flat in SCENARIOS.items():
        flat = dict(flat)
        if name == "A":
            flat["training.checkpoint.save_dir"] = str(tmp / "SAVE_DIR")
        plan = nest(flat)
        plan["espnet"] = PASSTHROUGH.get(name, {})
        esp, issues = plan_to_espnet(plan)
        assert issues == []
        cfg = deep_merge(tiny_config(esp["model_type"], "softmax"), esp)
        if name == "A":
            cfg["decoder_conf"]["causal"] = True
        if name == "B":
            # a linear decoder (non-causal) so training.feature_redraw_interval has a kernel to reach
            cfg["decoder_conf"]["attention_type"] = "linear"
            cfg["decoder_conf"]["nb_features"] = 4
        cfg["compile_backend"] = "eager"
        out[name] = Built(tmp, cfg, data, f"scenario_{name}")
    return out


def test_every_train_key_has_a_probe(monkeypatch, tmp_path):
    table = probes(monkeypatch, tmp_path)
    all_train = {k.key for k in KNOBS if k.stage == "train"}
    assert sorted(all_train - set(table) - BY_ERROR) == []
    for key, (scenario, _, _) in table.items():
        assert key in SCENARIOS[scenario], f"{key} is probed in scenario {scenario} but not set there"


@pytest.mark.parametrize("key", TRAIN_KEYS)
def test_key_reaches_its_consumer(key, built, monkeypatch, tmp_path):
    scenario, probe, expected = probes(monkeypatch, tmp_path)[key]
    b = built[scenario]
    # Compared with the default build of the same model type (model_type itself: the task's default).
    default = built["default"]["encoder_decoder" if key == "model_type" else b.args.model_type]
    if key == "training.feature_redraw_interval":
        assert probe(b) == [17]  # the one FAVOR+ kernel: the linear decoder's self-attention
        return
    if key == "training.checkpoint.save_dir":
        expected = str(b.args.output_dir)
        assert probe(b) == expected and b.args.output_dir.endswith("SAVE_DIR")
        assert probe(default) != expected
        return
    assert probe(b) == expected
    assert probe(default) != expected


def test_use_cross_attention_reaches_the_network(tmp_path):
    data = make_dataset(tmp_path / "data")
    cfg = tiny_config("encoder_decoder")
    cfg["decoder_conf"]["use_cross_attention"] = False
    with pytest.raises(ValueError, match="needs decoder.use_cross_attention=True"):
        Built(tmp_path, cfg, data, "ed")
    cfg = tiny_config("decoder")
    cfg["decoder_conf"]["use_cross_attention"] = True
    with pytest.raises(ValueError, match="model_type 'decoder' has no encoder"):
        Built(tmp_path, cfg, data, "dec")
