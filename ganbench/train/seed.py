"""One seed's run as built: its nets, tricks, data and noise streams, evaluation and state.

A lone run (`Trainer`, train/loop.py) is one `SeedRun` plus its optimisers; a vectorised cell
(train/vectorised.py) is S `SeedRun`s whose nets one stacked optimiser trains. Either way the
step functions of train/step.py train them through the same hooks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import torch
from torch import nn

from ganbench.config import RunConfig
from ganbench.data import Dataset
from ganbench.data.base import load_dataset
from ganbench.losses import LOSSES
from ganbench.metrics import METRICS, available_metrics, image_outputs, mode_metrics
from ganbench.metrics.base import dataset_scorer
from ganbench.metrics.draws import draw_seed, summarise
from ganbench.metrics.fidelity import FidelityEvaluator
from ganbench.metrics.labels import LabelEvaluator
from ganbench.models import MODELS
from ganbench.specs.run import resolve_defaults
from ganbench.train.checkpoint import FORMAT_VERSION, check_compatible
from ganbench.train.schedules import RunSchedules
from ganbench.train.state import Evaluation
from ganbench.tricks import TrickStack
from ganbench.tricks.base import OptimSpec


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def to_device(obj: Any, device: torch.device) -> Any:
    """`obj` with every tensor in it (nested dicts, lists, tuples) moved to `device`."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return {k: to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(v, device) for v in obj)
    return obj


class SeedRun:
    """One run's nets, tricks and streams, built as its lone run builds them (no optimisers:
    whoever trains its nets owns those)."""

    def __init__(self, cfg: RunConfig, data: Dataset | None = None) -> None:
        """`data`: the run's dataset when the caller has it already (another SeedRun's `data`:
        runs stacked in one process share one copy); loaded here when None."""
        cfg = resolve_defaults(cfg)
        self.cfg = cfg
        self.device = pick_device(cfg.device)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick kernels once
        torch.manual_seed(cfg.seed)  # model init and the tricks' own draws
        # Data and z come from the run's own stream, so runs stacked in one process
        # (vectorised seeds) draw exactly what they would draw alone.
        self.gen = torch.Generator(device=self.device).manual_seed(cfg.seed)
        spec = MODELS.get(cfg.model)
        # The model's own options, checked again (before any data is loaded) for library
        # callers that built the config without validate(); BUILD_KEYWORDS keeps them
        # apart from the options tricks and widths pass below.
        own = spec.checked_options(cfg.model_options)
        if data is None:
            data = load_dataset(cfg.dataset, cfg.data_root, cfg.dataset_options)
        elif data.name != cfg.dataset:
            raise ValueError(f"the dataset given is {data.name!r}, the config's {cfg.dataset!r}")
        data = data.to(self.device)  # no copy when it is there already
        self.data = data.resized(spec.image_size) if data.kind == "images" else data
        self.stack = TrickStack.from_config(cfg)
        self.features = spec.features  # how D exposes features (StepContext.d_features)
        options = self.stack.model_options()
        if spec.widths is not None:
            options.update(g_width=cfg.g_width, d_width=cfg.d_width)
        # Conditional runs: labels of the real batch and of G's input, bound to the nets for
        # each step (models/conditional.py); 0 = unconditional.
        self.n_classes = 0
        if cfg.conditional:
            self.data.check_labelled()
            self.n_classes = options["n_classes"] = self.data.n_classes
        g, d = spec.build(cfg.z_dim, self.data.shape, cfg.d_norm, **own, **options)
        self.g, self.d = self.stack.build(g.to(self.device), d.to(self.device))
        self.optim = self.stack.optimizers(OptimSpec(cfg.lr, cfg.lr, cfg.betas, cfg.betas))
        self.schedules = RunSchedules(cfg)  # set before each step (step.py)
        self.loss = LOSSES.get(cfg.loss)()
        self.n_d = self.stack.d_steps()
        self.d_steps_done = 0
        b = cfg.batch_size
        self.ones = torch.ones(b, device=self.device)
        self.zeros = torch.zeros(b, device=self.device)
        # Image metrics: weights, the real reference and the classifier are resolved now, so
        # a missing file fails before training rather than after it.
        images = self.data.kind == "images"
        self.fidelity = (FidelityEvaluator.for_run(cfg, self.data, self.device)
                         if images and any(m in image_outputs() for m in cfg.image_metrics)
                         else None)
        self.labels = LabelEvaluator.for_run(cfg, self.data) if images else None
        # Data scored by its own scorer (the Dirac-GAN's), one per run: it keeps the history.
        scorer = dataset_scorer(cfg.dataset)
        self.scorer = scorer() if scorer is not None else None
        # Metrics that carry their own code (MetricSpec.compute, a plugin's too), of this
        # run's data kind: computed at each evaluation beside the kind's own; one computed
        # on request only where the run lists it (extra_metrics).
        self.computed = [s for s in map(METRICS.get, METRICS.names(
            compute=callable, data_kind=self.data.kind, datasets=None))
            if not s.on_request or s.name in cfg.extra_metrics]
        self._eval_z: torch.Tensor | None = None
        self._snap_z: torch.Tensor | None = None

    def optimiser(self, net: Literal["g", "d"], params: Iterable[torch.Tensor]
                  ) -> torch.optim.Optimizer:
        """The optimiser of G or D (rates and betas after the tricks') over `params`: that
        net's own, or seed-stacked ones (Adam is element-wise)."""
        o = self.optim
        lr, betas = (o.g_lr, o.g_betas) if net == "g" else (o.d_lr, o.d_betas)
        if o.kind == "sgd":  # asked for by a trick (the Dirac-GAN's plain SGD analysis)
            return torch.optim.SGD(params, lr=lr, momentum=o.momentum)
        return torch.optim.Adam(params, lr=lr, betas=betas)

    def z(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.cfg.z_dim, device=self.device, generator=self.gen)

    def real(self, n: int) -> torch.Tensor:
        return self.data.sample(n, self.gen)

    def real_labelled(self, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """A real batch and its labels: of uniformly drawn classes in a conditional run (the
        D step's fakes are generated for the same labels), None in another."""
        if not self.n_classes:
            return self.real(n), None
        return self.data.sample_labelled(n, self.gen)

    def fake_labels(self, n: int) -> torch.Tensor | None:
        """Uniform labels for a G step's fakes (conditional runs; else None, drawing nothing)."""
        if not self.n_classes:
            return None
        return torch.randint(self.n_classes, (n,), device=self.device, generator=self.gen)

    def state_dict(self, optimisers: tuple[dict[str, Any], dict[str, Any]],
                   global_rng: dict[str, torch.Tensor] | None = None) -> dict[str, Any]:
        """Everything later steps depend on, with `optimisers`, the (G, D) optimiser states,
        and `global_rng` the global RNG states ({"cpu": ..., "cuda": ...}; the current ones
        when None): a fresh Trainer for the same config that loads this continues exactly as
        this run would. Tensors share storage with the live run."""
        if global_rng is None:
            global_rng = {"cpu": torch.get_rng_state()}
            if self.device.type == "cuda":
                global_rng["cuda"] = torch.cuda.get_rng_state(self.device)
        # Data and z come from the run's own generator; model init and the tricks' own draws
        # (penalties, random targets, augmentations) from the global one.
        rng = {"run": self.gen.get_state(), **global_rng}
        opt_g, opt_d = optimisers
        return {
            "format": FORMAT_VERSION,
            "config": self.cfg.model_dump_json(),
            "device_type": self.device.type,
            "g": self.g.state_dict(),
            "d": self.d.state_dict(),  # the tricks' per-net buffers are in here
            "opt_g": opt_g,
            "opt_d": opt_d,
            "d_steps_done": self.d_steps_done,
            "tricks": self.stack.state_dict(),
            "rng": rng,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict()`'s output but the optimiser states (the caller's); ValueError
        if it was written for another config or device type (RNG states of CPU and CUDA
        generators are not interchangeable)."""
        check_compatible(state, self.cfg)
        if state["device_type"] != self.device.type:
            raise ValueError(f"the checkpoint was written on {state['device_type']}, this run "
                             f"is on {self.device.type}; its random streams cannot continue "
                             "on another device type: resume there or delete the checkpoint")
        self.g.load_state_dict(state["g"])
        self.d.load_state_dict(state["d"])
        self.d_steps_done = int(state["d_steps_done"])
        self.stack.load_state_dict(to_device(state["tricks"], self.device))
        rng = state["rng"]
        self.gen.set_state(rng["run"])
        torch.set_rng_state(rng["cpu"])
        if "cuda" in rng:
            torch.cuda.set_rng_state(rng["cuda"], self.device)

    @property
    def eval_g(self) -> torch.nn.Module:
        """The generator evaluation, samples and saved weights use (a trick's when one
        replaces it, e.g. a weight average)."""
        return self.stack.eval_generator(self.g)

    def opening_tags(self) -> dict[str, str]:
        """Where the run's data came from (and how many of its files were unreadable and left
        out, for image folders), its device, and which generator is evaluated."""
        tags = {"data_source": self.data.source, "device": str(self.device),
                "eval_generator": self.stack.eval_generator_name(self.g)}
        if self.data.skipped is not None:
            tags["data.skipped"] = str(self.data.skipped)
        return tags

    def eval_z(self, n: int, draw: int = 0) -> torch.Tensor:
        """Fixed evaluation noise from its own generator: evaluating never shifts the training
        RNG stream (results do not depend on eval_every) and every evaluation sees the same z.
        `draw` > 0: the fresh noise of that evaluation draw (metrics/draws.py), not kept."""
        if draw:
            seed = draw_seed(self.cfg.seed + 7919, self.cfg.seed, draw, "z")
            gen = torch.Generator(device=self.device).manual_seed(seed)
            return torch.randn(n, self.cfg.z_dim, device=self.device, generator=gen)
        if self._eval_z is None or len(self._eval_z) != n:
            gen = torch.Generator(device=self.device).manual_seed(self.cfg.seed + 7919)
            self._eval_z = torch.randn(n, self.cfg.z_dim, device=self.device, generator=gen)
        return self._eval_z

    @torch.no_grad()
    def snapshot(self) -> torch.Tensor:
        """A few samples of the eval generator for the pictures over training, on the CPU:
        the same z at every evaluation (2-D: the first 1,000 of the evaluation's; images:
        16 of their own), so pictures of one run differ only by what G learned."""
        if self.data.kind == "points":
            z = self.eval_z(self.cfg.eval_samples)[:1000]
        else:
            if self._snap_z is None:
                gen = torch.Generator(device=self.device).manual_seed(self.cfg.seed + 104729)
                self._snap_z = torch.randn(16, self.cfg.z_dim, device=self.device,
                                           generator=gen)
            z = self._snap_z
        return self.eval_g(z).detach().float().cpu()

    @torch.no_grad()
    def evaluate(self, g: nn.Module | None = None, draw: int = 0) -> Evaluation:
        """Metrics of `g` (default: eval_g) and their tags (protocol.<metric>,
        unavailable.<metric>). G stays in train mode: its batch statistics are the ones it
        was trained with. `draw`: which evaluation draw's latent samples (0: the run's own,
        the same at every evaluation)."""
        g = self.eval_g if g is None else g
        if self.scorer is not None:  # the Dirac-GAN's: its own metrics alone
            return Evaluation(*self.scorer(g, self.d, self.eval_z(self.cfg.eval_samples)))
        points = self.data.kind == "points"
        # One batch of samples for the 2-D metrics and the metrics with code of their own.
        samples = (g(self.eval_z(self.cfg.eval_samples, draw)) if points or self.computed
                   else None)
        out = (Evaluation(mode_metrics(samples, self.data.modes, self.data.mode_std))
               if points else self._image_metrics(g, draw))
        out.update({spec.name: float(spec.compute(samples, self.data))
                    for spec in self.computed})
        return out

    def _image_metrics(self, g: nn.Module, draw: int) -> Evaluation:
        out = Evaluation()  # stays empty when no image_metrics are asked for
        if self.fidelity is not None:
            res = self.fidelity(g, self.cfg.z_dim, draw=draw)
            out.update(res.metrics)
            out.tags.update(res.tags())
        if self.labels is not None:
            values, label_tags = self.labels(g, self.eval_z(self.cfg.eval_samples, draw))
            out.update(values)
            out.tags.update(label_tags)
        return out

    @torch.no_grad()
    def evaluate_draws(self, g: nn.Module | None = None, repeats: int | None = None
                       ) -> tuple[Evaluation, list[dict[str, float]]]:
        """The final evaluation: `repeats` (default: eval_repeats) draws of fresh latent
        samples. Returns draw 0's Evaluation (the recorded values, exactly what one draw
        gives) with `<m>_eval_mean` and `<m>_eval_sd` over the draws added for each metric
        with a goal, and every draw's metrics. A dataset scored by its own scorer (the
        Dirac-GAN's: its value does not depend on z, and the scorer keeps a history) is
        scored once."""
        k = self.cfg.eval_repeats if repeats is None else repeats
        first = self.evaluate(g)
        draws = [dict(first)]
        if k < 2 or self.scorer is not None:
            return first, draws
        draws += [dict(self.evaluate(g, draw=j)) for j in range(1, k)]
        first.update(summarise(draws, available_metrics(self.data.kind, self.cfg)))
        return first, draws

    def evaluate_final(self) -> Evaluation:
        """What the loop logs after the last step: `evaluate_draws()`'s Evaluation."""
        return self.evaluate_draws()[0]
