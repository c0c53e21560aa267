"""``python -m encoder.train``: train a toy task until 99% token accuracy or the time limit.

Shows progress about once a second, saves a checkpoint (safetensors, config and task inside),
and prints as its last line, for example:
``reverse: accuracy 0.995 on 2000 fresh examples after 14.2 s (1800 steps)``
Exit status 0 when the target accuracy was reached, 1 when the budget ran out first, 2 on bad
arguments.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from . import checkpoint
from .tasks import TASKS, get_task
from .train import Settings, Trainer, model_config


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one clear line, exit 2
        self.exit(2, f"error: {message} (see python -m encoder.train --help)\n")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = _Parser(prog="python -m encoder.train", description=__doc__.split("\n")[0])
    p.add_argument("--task", default="reverse", choices=list(TASKS), help="toy task (reverse)")
    p.add_argument("--seconds", type=float, default=60.0, help="time limit in seconds (60)")
    p.add_argument("--steps", type=int, default=20_000, help="step limit (20000)")
    p.add_argument("--seed", type=int, default=0, help="seed for the weights and the data (0)")
    p.add_argument("--out", type=Path, help="checkpoint to write (<task>.safetensors)")
    p.add_argument("--d-model", type=int, default=64, help="token vector width (64)")
    p.add_argument("--heads", type=int, default=4, help="attention heads per layer (4)")
    p.add_argument("--layers", type=int, default=2, help="encoder layers (2)")
    p.add_argument("--d-ff", type=int, default=256, help="feed-forward hidden width (256)")
    p.add_argument("--dropout", type=float, default=0.0, help="dropout probability (0)")
    p.add_argument("--post-norm", action="store_true", help="post-norm (default: pre-norm)")
    p.add_argument("--lr", type=float, default=3e-3, help="AdamW learning rate (0.003)")
    p.add_argument("--batch", type=int, default=64, help="examples per step (64)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads for torch (1)")
    p.add_argument("--quiet", action="store_true", help="print only the last line")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    task = get_task(args.task)
    out = args.out or Path(f"{task.name}.safetensors")
    try:
        if args.threads < 1:
            raise ValueError(f"--threads ({args.threads}) must be at least 1")
        if out.suffix != ".safetensors":
            raise ValueError(f"--out ({out}) must end in .safetensors")
        cfg = model_config(
            task,
            d_model=args.d_model,
            n_heads=args.heads,
            n_layers=args.layers,
            d_ff=args.d_ff,
            dropout=args.dropout,
            norm_first=not args.post_norm,
        )
        settings = Settings(
            lr=args.lr,
            batch_size=args.batch,
            seed=args.seed,
            max_steps=args.steps,
            max_seconds=args.seconds,
        )
        trainer = Trainer(task, cfg, settings)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    say = (lambda *a, **k: None) if args.quiet else print
    say(f"training {task.name}: {task.summary}")
    say(
        f"model: d_model {cfg.d_model}, {cfg.n_heads} heads, {cfg.n_layers} layers, "
        f"d_ff {cfg.d_ff}, {trainer.model.encoder.num_parameters():,} parameters; "
        f"batch {settings.batch_size}, lr {settings.lr}, seed {settings.seed}"
    )
    while not trainer.done:
        trainer.run(seconds=1.0)
        recent = trainer.history[-20:]
        say(
            f"step {trainer.steps:6d}  {trainer.seconds:6.1f} s  loss {recent[-1].loss:.4f}  "
            f"batch accuracy {sum(p.accuracy for p in recent) / len(recent):.3f}",
            flush=True,
        )
    if trainer.evaluated_at != trainer.steps:
        trainer.evaluate()
    checkpoint.save(out, trainer.model, task, training_record(trainer))
    say(f"saved {out}")
    if not trainer.reached:
        say(f"stopped by the budget before {settings.target:.0%} token accuracy")
    print(trainer.summary(), flush=True)
    return 0 if trainer.reached else 1


def training_record(trainer: Trainer) -> dict:
    """What a checkpoint says about its training (plain JSON values)."""
    s = trainer.settings
    return {
        "accuracy": round(float(trainer.accuracy or 0.0), 6),
        "eval_examples": s.eval_examples,
        "steps": trainer.steps,
        "seconds": round(trainer.seconds, 2),
        "seed": s.seed,
        "lr": s.lr,
        "batch_size": s.batch_size,
        "reached_target": trainer.reached,
    }


if __name__ == "__main__":
    sys.exit(main())
