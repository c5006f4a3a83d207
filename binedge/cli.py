"""The ``binedge`` command line: a thin layer over the library (heavy imports inside commands)."""

from __future__ import annotations

import click

from . import __version__
from .cli_options import data_options, model_options, parse_int_list, user_errors


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="binedge")
def main():
    """Train binarized / hard-threshold networks and deploy them bit-exactly to MCUs and CPUs."""


@main.command()
@model_options
@data_options
@click.option("--epochs", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=0.01, show_default=True,
              help="Adam learning rate (LAB's paper: 0.01 for the MLP).")
@click.option("--schedule", type=click.Choice(["step", "cosine", "none"]), default="step", show_default=True,
              help="step: multiply by --gamma at 30% and 50% of the epochs (LAB: epochs 15 and 25 of 50).")
@click.option("--gamma", type=click.FloatRange(min=0, min_open=True), default=0.1, show_default=True)
@click.option("--loss", type=click.Choice(["ce", "hinge"]), default="ce", show_default=True,
              help="ce: cross-entropy; hinge: LAB's squared hinge.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("-o", "--out", type=click.Path(file_okay=False), default="runs/run", show_default=True,
              help="Run directory (metrics.json, best.pt, last.pt, curves.png).")
@click.option("--resume", is_flag=True, help="Continue the interrupted run in --out after its last epoch.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@user_errors
def train(model, weights, activation, rule, unweighted, hidden, depth, widths, fc, dataset, data_dir, limit,
          epochs, batch_size, lr, schedule, gamma, loss, seed, out, resume, quiet):
    """Train a model and keep its best-validation checkpoint."""
    from .models import ModelConfig
    from .train import TrainConfig, train as run_training

    mcfg = ModelConfig(model=model, weights=weights, activation=activation, rule=rule, weighted=not unweighted,
                       hidden=hidden, depth=depth, widths=parse_int_list(widths, "--widths"), fc=fc)
    cfg = TrainConfig(model=mcfg, dataset=dataset, data_dir=data_dir, limit=limit, epochs=epochs,
                      batch_size=batch_size, lr=lr, schedule=schedule, gamma=gamma, loss=loss, seed=seed, out=out)
    summary = run_training(cfg, resume=resume, progress=not quiet)
    click.echo(f"test accuracy {summary['test_acc']:.4f} (best validation epoch {summary['best_epoch']}, "
               f"val {summary['val_acc']:.4f}); checkpoint {out}/best.pt")


if __name__ == "__main__":
    main()
