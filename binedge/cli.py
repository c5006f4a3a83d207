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


@main.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--format", "formats", type=click.Choice(["blob", "onnx", "all"]), default="all", show_default=True,
              help="What to write: the .bnm blob the C runtime reads, bit-packed ONNX, or all.")
@click.option("-o", "--out", type=click.Path(file_okay=False), required=True,
              help="Output directory (model.bnm, model.onnx, report.json).")
@click.option("--samples", type=click.IntRange(min=1), default=None,
              help="Check agreement on this many test images (default: the whole test set).")
@click.option("--no-check", is_flag=True, help="Skip the agreement / exactness checks.")
@user_errors
def export(run_dir, formats, out, samples, no_check):
    """Lower a trained run to the integer graph and write deployable files."""
    from .export import FORMATS, export_run

    chosen = FORMATS if formats == "all" else (formats,)
    report = export_run(run_dir, out, formats=chosen, samples=samples, check=not no_check)
    for name, info in report["files"].items():
        extra = ""
        if "within_bound" in info:
            extra = f" (size bound {info['size_bound']:,} B: {'ok' if info['within_bound'] else 'EXCEEDED'})"
        if "scores_equal_reference" in info:
            extra += f"; scores equal reference: {info['scores_equal_reference']}"
        click.echo(f"{name}: {info['path']} {info['bytes']:,} B{extra}")
    if "agreement" in report:
        a = report["agreement"]
        click.echo(f"PyTorch vs reference: {a['agree']}/{a['samples']} predictions agree "
                   f"({100 * a['agreement']:.2f}%); samples with a unit at a threshold tie: {a['ties']}; "
                   f"disagreements without a tie: {a['disagree_without_tie']}; reference accuracy "
                   f"{a.get('reference_accuracy', float('nan')):.4f}")


@main.command()
@click.argument("model", type=click.Path(exists=True))
@user_errors
def inspect(model):
    """Per-layer table of a .bnm blob, an export directory or a run directory."""
    from pathlib import Path

    from .inspect import format_table, layer_table, onnx_size_bound, totals

    path = Path(model)
    if path.is_dir() and (path / "best.pt").is_file():
        from .export import lower_run

        graph = lower_run(path)[1]
        siblings = None
    else:
        from .blob import read_blob

        blob = path / "model.bnm" if path.is_dir() else path
        graph = read_blob(blob)
        siblings = blob.parent
    rows = layer_table(graph)
    click.echo(format_table(rows))
    t = totals(rows)
    packed = t["weight_bytes"] + t["threshold_bytes"]
    click.echo(f"\nparameters {t['params']:,}; packed weights + thresholds {packed:,} B "
               f"(bit-packed lower bound {t['params'] // 8:,} B); binary MACs {t['binary_macs']:,}")
    if siblings is not None:
        for name in ("model.bnm", "model.onnx", "model.tflite"):
            f = siblings / name
            if f.is_file():
                line = f"{name}: {f.stat().st_size:,} B"
                if name == "model.onnx":
                    bound = onnx_size_bound(rows)
                    line += f" (bound 1.10 x packed + 16 KiB = {bound:,} B: " + \
                            ("within" if f.stat().st_size <= bound else "EXCEEDED") + ")"
                click.echo(line)


if __name__ == "__main__":
    main()
