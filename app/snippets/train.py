"""Snippet of the Train page."""

from __future__ import annotations

from encoder.train import Settings


def train_snippet(task: str, arch: dict, settings: Settings, steps: int) -> str:
    """The Train page's run as Python: the same task, model, settings and number of steps, then
    its accuracy on fresh examples and the head closest to the ideal pattern.

    One thread, as the app: with two, float sums round differently, and a few hundred steps
    later the run reaches 99% at another step with another accuracy.
    """
    s = settings
    args = "".join(f", {k}={v!r}" for k, v in arch.items())
    return (
        "import torch\n\n"
        "from encoder.tasks import get_task\n"
        "from encoder.train import Settings, Trainer, best_head, model_config\n\n"
        "torch.set_num_threads(1)  # as the app: the same float rounding as the page\n"
        f"task = get_task({task!r})\n"
        f"config = model_config(task{args})\n"
        f"settings = Settings(lr={s.lr!r}, batch_size={s.batch_size}, seed={s.seed}, "
        f"max_steps={steps}, max_seconds=1e9)\n"
        "trainer = Trainer(task, config, settings)\n"
        f"trainer.run()  # the page's {steps:,} steps: the seed fixes the weights, the examples "
        "and the dropout masks\n"
        "trainer.evaluate()  # token accuracy on 2000 fresh examples, eval mode\n"
        "print(trainer.summary())  # the page's accuracy and steps\n"
        "att = trainer.attention(task.example)  # (layers, heads, n, n), eval mode\n"
        "ideal = task.ideal_attention(trainer.tokenizer.encode(task.example).ids)\n"
        "layer, head, match = best_head(att, ideal)  # counted from 0, as on the page\n"
        "print(layer, head, round(match, 3))  # share of that head's weight on the ideal keys\n"
    )
