"""The ``binedge`` command line: a thin layer over the library (heavy imports inside commands)."""

from __future__ import annotations

import click

from . import __version__
from .cli_options import (check_zoo_options, command_line, data_options, device_options, model_options,
                          parse_float_list, parse_image_size, parse_int_list, recipe_options, user_errors)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="binedge")
def main():
    """Train binarized / hard-threshold networks and deploy them bit-exactly to MCUs and CPUs."""


@main.command()
@model_options
@data_options
@device_options
@click.option("--epochs", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=100, show_default=True,
              help="The global batch: with N processes each takes about batch/N samples of it.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=0.01, show_default=True,
              help="Adam learning rate (LAB's paper: 0.01 for the MLP).")
@click.option("--schedule", type=click.Choice(["step", "cosine", "exp", "none"]), default="step", show_default=True,
              help="step: multiply by --gamma at --milestones (default 30% and 50% of the epochs; LAB: epochs 15 "
                   "and 25 of 50); cosine: lr * (1 + cos(pi * e / E)) / 2 in epoch e of E; exp: lr * gamma^(e - M) "
                   "in epoch e after the first milestone M (LAB's LSTM, the default of --model lstm: 0.98 after "
                   "epoch 10); none: constant.")
@click.option("--gamma", type=click.FloatRange(min=0, min_open=True), default=0.1, show_default=True)
@click.option("--weight-decay", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Adam L2 weight decay of the real-valued weights only (full-precision and int8 layers' weights; "
                   "never binary layers' latent weights, BatchNorm or biases). FTPROP's recipe: 5e-4.")
@click.option("--loss", type=click.Choice(["ce", "hinge"]), default="ce", show_default=True,
              help="ce: cross-entropy; hinge: LAB's squared hinge.")
@recipe_options
@click.option("--data-file", type=click.Path(dir_okay=True), default=None, metavar="FILE",
              help="--dataset text: a UTF-8 (else byte) text file, split 90/5/5 in order; the vocabulary is the "
                   "training split's characters plus an unknown id (docs/lstm.md).")
@click.option("--bptt", type=click.IntRange(min=1), default=100, show_default=True,
              help="--model lstm: truncated back-propagation through time over this many characters (LAB: 100).")
@click.option("--grad-clip", type=click.FloatRange(min=0), default=5.0, show_default=True,
              help="--model lstm: clip the gradients' total L2 norm to this (LAB: 5; 0: no clipping).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("-o", "--out", type=click.Path(file_okay=False), default="runs/run", show_default=True,
              help="Run directory (metrics.json, best.pt, last.pt, curves.png).")
@click.option("--resume", is_flag=True,
              help="Continue the run in --out after its last epoch with its saved settings. An explicit "
                   "--epochs extends it; any other run option given (--model, --hidden, --lr, ...) must "
                   "equal the saved value, else the resume is refused listing each difference; --threads, "
                   "--quiet, --device, --nproc, --workers and --cuda-graphs are free.")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="torch threads per process (default: all cores, shared among the processes of a --nproc / "
                   "torchrun run; use 1 when several trainings share the machine).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--cuda-graphs/--no-cuda-graphs", default=True, show_default=True,
              help="On a single-process CUDA run, replay each full-batch training step from a CUDA graph "
                   "(the same kernels, launched at once instead of one by one from Python; "
                   "docs/training.md). Ignored on the CPU and under --nproc.")
@click.pass_context
@user_errors
def train(ctx, model, weights, activation, rule, unweighted, hidden, depth, widths, fc, blocks, shortcut, downsample,
          classifier, dataset, data_dir, data, image_size, color, label_column, features, limit, device, nproc,
          workers, epochs, batch_size, lr, schedule, gamma, weight_decay, loss, augment, crop_pad, milestones, teacher,
          kd_weight, kd_temperature, two_stage, data_file, bptt, grad_clip, seed, out, resume, threads, quiet,
          cuda_graphs):
    """Train a model (a zoo model, or your own: --model path/to/file.py:factory) on built-in or your own
    data (an image folder, a .npz or a .csv) and keep its best-validation checkpoint. With --nproc N (or
    under torchrun) data-parallel in N processes."""
    from .distributed import in_torchrun
    from .models import MODELS, ModelConfig
    from .train import TrainConfig, train as run_training

    given = [opt for p in ctx.command.params
             if ctx.get_parameter_source(p.name) == click.core.ParameterSource.COMMANDLINE for opt in p.opts]
    check_zoo_options(model, given)
    from .lm import IMAGE_ONLY_OPTIONS, LSTM_DEFAULTS, TEXT_ONLY_OPTIONS

    if model == "lstm":
        wrong = [o for o in IMAGE_ONLY_OPTIONS if o in given]
        if wrong:
            raise click.UsageError(f"{', '.join(wrong)}: not for --model lstm, a character model trained on "
                                   f"--dataset text --data-file FILE")
        if "--dataset" not in given:
            dataset = "text"  # the only data of a character model
        # LAB's LSTM values for the options not given (binedge.lm.LSTM_DEFAULTS)
        hidden = hidden if "--hidden" in given else LSTM_DEFAULTS["--hidden"]
        depth = depth if "--depth" in given else LSTM_DEFAULTS["--depth"]
        lr = lr if "--lr" in given else LSTM_DEFAULTS["--lr"]
        schedule = schedule if "--schedule" in given else LSTM_DEFAULTS["--schedule"]
        gamma = gamma if "--gamma" in given else LSTM_DEFAULTS["--gamma"]
        if milestones is None and schedule == "exp":
            milestones = ",".join(str(m) for m in LSTM_DEFAULTS["--milestones"])
    elif "--resume" not in given:
        wrong = [o for o in TEXT_ONLY_OPTIONS if o in given]
        if wrong or dataset == "text":
            raise click.UsageError(f"{', '.join(wrong) or '--dataset text'}: for --model lstm (a character model) "
                                   f"only")
    if data is not None and data_dir is not None:
        raise click.UsageError("--data (a .csv / .npz file) and --data-dir (a folder) name two data sources; give one")
    if data is not None and "--dataset" in given:
        raise click.UsageError("--dataset names the built-in data; --data FILE is read by its type (.csv, .npz)")
    if teacher is None:
        for option in ("--kd-weight", "--kd-temperature"):
            if option in given:
                raise click.UsageError(f"{option} sets the distillation from --teacher RUN_DIR; give --teacher too")
    if milestones is not None and schedule not in ("step", "exp"):
        raise click.UsageError(f"--milestones are the steps of --schedule step (or the start of --schedule exp), not "
                               f"of --schedule {schedule}")
    if "--crop-pad" in given and augment == "none":
        raise click.UsageError("--crop-pad sets the random crop of --augment crop / crop+flip; give --augment too")
    resnet_only = [o for o in ("--blocks", "--shortcut", "--downsample", "--classifier") if o in given]
    if resnet_only and model in MODELS and model != "resnet":
        raise click.UsageError(f"{', '.join(resnet_only)} configure{'s' if len(resnet_only) == 1 else ''} "
                               f"--model resnet, not --model {model}")
    mcfg = ModelConfig(model=model, weights=weights, activation=activation, rule=rule, weighted=not unweighted,
                       hidden=hidden, depth=depth,
                       widths=parse_int_list(widths, "--widths") if widths is not None else None, fc=fc,
                       blocks=parse_int_list(blocks, "--blocks", minimum=0) if blocks is not None else None,
                       shortcut=shortcut, downsample=downsample, classifier=classifier)
    cfg = TrainConfig(model=mcfg, dataset=dataset, data_dir=data_dir, data=data,
                      image_size=parse_image_size(image_size), color=color, label_column=label_column,
                      features=features, limit=limit, epochs=epochs, batch_size=batch_size, lr=lr, schedule=schedule,
                      gamma=gamma, weight_decay=weight_decay, loss=loss, seed=seed, out=out, augment=augment,
                      crop_pad=crop_pad, teacher=teacher, kd_weight=kd_weight, kd_temperature=kd_temperature,
                      two_stage=two_stage, data_file=data_file, bptt=bptt, grad_clip=grad_clip)
    if milestones is not None:
        cfg.milestones = parse_float_list(milestones, "--milestones")
    if nproc is not None and nproc > 1:
        if model == "lstm":
            raise click.UsageError("--nproc: data-parallel training of --model lstm is not built yet; train it in "
                                   "one process")
        if in_torchrun():
            raise click.UsageError("--nproc starts the processes itself; under torchrun give --nproc-per-node to "
                                   "torchrun instead")
        from .distributed import launch

        cfg.validate()  # the option errors once, here, before any process starts
        code = launch(nproc, command_line(ctx, skip=("nproc",)), err=lambda msg: click.echo(msg, err=True))
        ctx.exit(code)
    summary = run_training(cfg, resume=resume, epochs=epochs if resume and "--epochs" in given else None,
                           threads=threads, progress=not quiet, explicit=given, device=device, workers=workers,
                           cuda_graphs=cuda_graphs)
    import os

    if os.environ.get("RANK", "0") in ("", "0") and "test_ce" in summary:
        click.echo(f"test cross-entropy {summary['test_ce']:.4f} nats/char, {summary['test_bpc']:.4f} bits/char (best "
                   f"validation epoch {summary['best_epoch']}, val {summary['val_ce']:.4f}); checkpoint {out}/best.pt")
    elif os.environ.get("RANK", "0") in ("", "0"):
        click.echo(f"test accuracy {summary['test_acc']:.4f} (best validation epoch {summary['best_epoch']}, "
                   f"val {summary['val_acc']:.4f}); checkpoint {out}/best.pt")


@main.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--format", "formats", type=click.Choice(["blob", "onnx", "tflite", "all"]), default="all",
              show_default=True,
              help="What to write: the .bnm blob the C runtime reads, bit-packed ONNX, LiteRT .tflite, or all.")
@click.option("-o", "--out", type=click.Path(file_okay=False), required=True,
              help="Output directory (model.bnm, model.onnx, model.tflite, report.json; with --target also the C "
                   "project and firmware.json), written as a whole: it is replaced only if binedge wrote it and "
                   "nothing in it changed since.")
@click.option("--samples", type=click.IntRange(min=1), default=None,
              help="Check agreement on this many test images (default: the whole test set).")
@click.option("--no-check", is_flag=True, help="Skip the agreement / exactness checks.")
@click.option("--target", default=None, metavar="TARGET",
              help="Also make OUT a self-contained firmware project for this target (cortex-m0/m3/m4/m7/m33/m55, "
                   "'cortex-m' = cortex-m4, aarch64-virt, armv7-virt, aarch64-linux, armv7-linux, x86_64): model.c, the "
                   "runtime, the board "
                   "files, a test harness with --samples test images (default 64) and a Makefile; "
                   "see docs/firmware.md. Run it with `binedge emulate OUT`.")
@user_errors
def export(run_dir, formats, out, samples, no_check, target):
    """Lower a trained run to the integer graph and write deployable files."""
    from .export import FORMATS, export_run

    chosen = FORMATS if formats == "all" else (formats,)
    report = export_run(run_dir, out, formats=chosen, samples=samples, check=not no_check, target=target)
    for name, info in report["files"].items():
        extra = ""
        if "within_bound" in info:
            extra = onnx_size_note(info)
        if "scores_equal_reference" in info:
            extra += f"; scores equal reference: {info['scores_equal_reference']}"
        click.echo(f"{name}: {info['path']} {info['bytes']:,} B{extra}")
    for name, why in report.get("notes", {}).items():
        click.echo(f"{name}: {why}")
    if "agreement" in report and "ce_float_nats" in report["agreement"]:
        a = report["agreement"]
        click.echo(f"PyTorch integer path vs reference on {a['samples']:,} test characters: int32 scores "
                   f"{'equal' if a['pytorch_integer_scores_equal'] else 'DIFFER'}; float model vs integer model: "
                   f"{100 * a['agreement']:.2f}% next-character agreement ({a['ties']} steps with tied best scores); "
                   f"cross-entropy float {a['ce_float_nats']:.4f}, integer {a['ce_integer_nats']:.4f} nats/char; "
                   f"integer accuracy {a['reference_accuracy']:.4f}")
    elif "agreement" in report:
        a = report["agreement"]
        click.echo(f"PyTorch vs reference: {a['agree']}/{a['samples']} predictions agree "
                   f"({100 * a['agreement']:.2f}%); samples with a tie (a unit at a threshold or rounding boundary, "
                   f"within float32's error): {a['ties']}; "
                   f"disagreements without a tie: {a['disagree_without_tie']}; reference accuracy "
                   f"{a.get('reference_accuracy', float('nan')):.4f}")
    if "firmware" in report:
        f = report["firmware"]
        inputs = (f"a seed of {f['samples']} characters, then {f['generate']} generated" if f.get("generate")
                  else f"{f['samples']} test inputs")
        click.echo(f"firmware for {f['target']}: {f['path']} ({inputs}, blob {f['blob_bytes']:,} B, "
                   f"arena {f['arena_bytes']:,} B); build: {f['build']}; run and check: {f['emulate']}")


def onnx_size_note(info: dict) -> str:
    """The export line's note on the ONNX file against its size bound (1.10 × packed weights and
    thresholds + 16 KiB, binedge.inspect.onnx_size_bound): "ok", or by how much it is over and
    that the bound counts parameters, not the graph's nodes (a ResNet's many int8 element-wise
    ops cost ~70 B of structure each)."""
    if info["within_bound"]:
        return f" (size bound {info['size_bound']:,} B: ok)"
    over = info["bytes"] - info["size_bound"]
    nodes = f" of its {info['nodes']:,} nodes" if "nodes" in info else ""
    return (f" (size bound {info['size_bound']:,} B, 1.10 x packed parameters + 16 KiB: {over:,} B over, the graph "
            f"structure{nodes}; the parameters themselves are stored packed)")


@main.command()
@click.argument("model", type=click.Path())
@click.option("--dot", "dot", type=click.Path(dir_okay=False), default=None,
              help="Also write the graph as Graphviz dot to this file (render: dot -Tsvg FILE -o graph.svg).")
@user_errors
def inspect(model, dot):
    """Per-layer table of a .bnm blob, an export directory or a run directory: every op with its
    input / output types and shapes, parameters, MACs and bytes, then the arena the C runtime needs."""
    from .fileio import atomic_write_bytes
    from .inspect import arena_summary, format_table, layer_table, onnx_size_bound, open_model, to_dot, totals

    graph, siblings, warning = open_model(model)
    rows = layer_table(graph)
    click.echo(format_table(rows))
    t = totals(rows)
    packed = t["weight_bytes"] + t["threshold_bytes"]
    click.echo(f"\nparameters {t['params']:,}; packed weights + thresholds {packed:,} B "
               f"(bit-packed lower bound {t['params'] // 8:,} B); binary MACs {t['binary_macs']:,}")
    click.echo(arena_summary(graph))
    if dot is not None:
        atomic_write_bytes(dot, to_dot(graph).encode())
        click.echo(f"graph: {dot} (Graphviz dot)")
    if siblings is not None:
        for name in ("model.bnm", "model.onnx", "model.tflite"):
            f = siblings / name
            if f.is_file():
                line = f"{name}: {f.stat().st_size:,} B"
                if name == "model.onnx":
                    bound = onnx_size_bound(rows)
                    size = f.stat().st_size
                    line += f" (bound 1.10 x packed + 16 KiB = {bound:,} B: " + \
                            ("within" if size <= bound else f"{size - bound:,} B over, the graph structure") + ")"
                click.echo(line)
    if warning:
        click.echo(warning, err=True)  # last, where it is seen


@main.command()
@click.argument("fw_dir", type=click.Path(file_okay=False))
@click.option("--samples", type=click.IntRange(min=1), default=None,
              help="Run only the first N test inputs of the firmware (default: all it holds).")
@click.option("--icount/--no-icount", default=None,
              help="QEMU -icount: deterministic counts of executed instructions (not cycles). "
                   "Default: on for Cortex-M targets (the only ones that have it).")
@click.option("--kernel", default=None, help="Force a kernel variant, e.g. 'ref' (default: automatic dispatch).")
@click.option("--timeout", type=click.FloatRange(min=1), default=900, show_default=True,
              help="Seconds before the emulator is killed.")
@user_errors
def emulate(fw_dir, samples, icount, kernel, timeout):
    """Build a firmware project (binedge export --target), run it under QEMU (or natively) and
    check every score bit-exactly against the reference; report accuracy, flash / RAM use and
    executed instructions per inference and per layer (QEMU -icount: instructions, not cycles).
    Writes FW_DIR/emulate.json. Exit status 1 on any mismatch."""
    from .emulate import MismatchError, format_report
    from .emulate import emulate as run_emulation

    try:
        result = run_emulation(fw_dir, samples=samples, icount=icount, kernel=kernel, timeout=timeout)
    except MismatchError as e:  # the report first, then the one-line error
        click.echo(format_report(e.result))
        raise click.ClickException(str(e)) from None
    click.echo(format_report(result))


@main.command()
@click.option("-o", "--out", type=click.Path(dir_okay=False), default="benchmarks/host.md", show_default=True,
              help="Markdown report to write.")
@click.option("--quick", is_flag=True, help="Fewer iterations and GEMM shapes (a smoke run, noisier).")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Folder of trained .bnm blobs to time too (default: tests/data).")
@user_errors
def bench(out, quick, data_dir):
    """Host benchmark: C runtime variants vs onnxruntime (bit-packed and float ONNX) at batch 1 on one
    thread, and the binary GEMM kernels against the popcount-bound peak."""
    import sys

    from .bench import run_benchmark

    run_benchmark(out, quick=quick, data_dir=data_dir, command=" ".join(["binedge bench"] + sys.argv[2:]),
                  log=click.echo)


if __name__ == "__main__":
    main()
