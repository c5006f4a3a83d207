"""Every trained Fashion-MNIST blob (tests/data/fmnist-*.bnm) on EVERY target.

For each target of binedge.targets.all_target_names() (six QEMU Cortex-M boards, ARM Linux
under qemu-user, x86_64) and each trained blob: ``write_firmware`` with 16 real test images
(a self-contained C project built with the target's own toolchain), ``emulate`` it (Cortex-M
under qemu-system-arm, ARM Linux under qemu-user, x86_64 natively) and require every score
to equal ``binedge.reference.run`` bit for bit. Where a model cannot fit a board (the convnets
on cortex-m0's 16 KiB RAM), ``write_firmware`` must refuse with the clear "does not fit" error
and write nothing; the fully binary MLP must fit and run everywhere, cortex-m0 included.

Missing blobs FAIL (regenerate them with ``bash tests/data/make_blobs.sh``), as does a
missing compiler or QEMU (ToolchainError naming the Debian package); nothing is skipped.
Correctness runs use ``icount=False`` (faster); instruction counts per layer are
benchmarks/bench_targets.py's job (benchmarks/targets.md).

Each (target, blob) firmware is built and run once, in a module-scoped cache; the tests of
one target share an xdist group so that the cache is hit on one worker.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from binedge import reference
from binedge import targets as T
from binedge.blob import read_blob
from binedge.emulate import emulate
from binedge.firmware import FirmwareError, read_manifest, write_firmware

DATA = Path(__file__).resolve().parent / "data"
BLOBS = sorted(DATA.glob("fmnist-*.bnm"))
EXPECTED_BLOBS = {"fmnist-mlp-sign", "fmnist-vgg-sign", "fmnist-vgg-qrelu2"}
MLP = "fmnist-mlp-sign"
ALL = T.all_target_names()
SAMPLES = 16

# Each target's tests go to one xdist worker (--dist loadgroup): its cache entries are built once.
# (No blobs: one failing case per target instead of pytest's skip of an empty parametrization.)
CASES = [pytest.param(t, b, id=f"{t}-{b.stem if b else 'no-blobs'}",
                      marks=pytest.mark.xdist_group(f"trained-targets-{t}"))
         for t in ALL for b in (BLOBS or [None])]


def _missing_blobs_message() -> str:
    return (f"trained Fashion-MNIST blobs missing in {DATA}: found {[b.name for b in BLOBS]}, expected "
            f"{sorted(n + '.bnm' for n in EXPECTED_BLOBS)}; make them with `bash tests/data/make_blobs.sh`")


def test_trained_blobs_exist():
    assert BLOBS, _missing_blobs_message()
    assert EXPECTED_BLOBS <= {b.stem for b in BLOBS}, _missing_blobs_message()


@pytest.fixture(scope="module")
def test_images():
    from binedge.data import load_dataset

    ds = load_dataset("fashion-mnist", limit=SAMPLES)
    images, labels = ds.test.images[..., None], ds.test.labels
    assert images.shape == (SAMPLES, 28, 28, 1) and images.dtype == np.uint8
    return images, labels


class _Outcome:
    """What (target, blob) gave: the emulate() result, or the FirmwareError of write_firmware."""

    def __init__(self, fw: Path, result: dict | None = None, error: FirmwareError | None = None):
        self.fw, self.result, self.error = fw, result, error


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory, test_images):
    """(target, blob path) -> _Outcome, computed on first use (one build and run per pair)."""
    cache: dict[tuple[str, Path], _Outcome] = {}
    images, labels = test_images

    def get(target: str, blob: Path) -> _Outcome:
        key = (target, blob)
        if key not in cache:
            fw = tmp_path_factory.mktemp(f"fw-{target}-{blob.stem}", numbered=True) / "fw"
            graph = read_blob(blob)
            try:
                write_firmware(graph, fw, target=target, images=images, labels=labels, source=blob.name)
            except FirmwareError as e:
                cache[key] = _Outcome(fw, error=e)
            else:
                cache[key] = _Outcome(fw, result=emulate(fw, icount=False, timeout=600))
        return cache[key]

    return get


def _check_no_fit(target: str, blob: Path, out: _Outcome) -> None:
    t = T.get_target(target)
    msg = str(out.error)
    assert t.is_mcu and "ram" in t.memory, f"{blob.name} refused on {target}, which has no memory limit: {msg}"
    assert f"does not fit {target}" in msg and ("RAM" in msg or "flash" in msg), msg
    if "RAM" in msg:  # the refusal is real: the estimate it states exceeds the board's RAM
        need = re.search(r"stack = ([\d,]+) B", msg)
        assert need and int(need.group(1).replace(",", "")) > int(t.memory["ram"]), msg
    assert not out.fw.exists(), "write_firmware wrote something although the model does not fit"
    assert list(out.fw.parent.iterdir()) == [], "write_firmware left files behind"


@pytest.mark.parametrize(("target", "blob"), CASES)
def test_trained_blob_bit_exact_on_target(outcomes, test_images, target, blob):
    if blob is None:
        pytest.fail(_missing_blobs_message())
    out = outcomes(target, blob)
    if out.error is not None:
        assert blob.stem != MLP, f"the fully binary MLP must fit every target, {target} refused it: {out.error}"
        _check_no_fit(target, blob, out)
        return
    r = out.result
    images, labels = test_images
    graph = read_blob(blob)
    # the firmware carries this blob's program: same scores from the reference on both
    expected = reference.run(graph, images)
    assert np.array_equal(reference.run(read_blob(out.fw / "model.bnm"), images), expected)
    assert read_manifest(out.fw)["target"] == target
    assert r["target"] == target and r["samples"] == SAMPLES and r["labelled"] == SAMPLES
    assert r["scores_equal_reference"] is True, r["first_mismatch"]
    assert r["agreement"] == 1.0 and r["mismatched_samples"] == 0 and r["first_mismatch"] is None
    assert r["firmware_selfcheck_mismatches"] == 0 and r["exit_status"] == 0
    assert r["misaligned_input_mismatches"] == 0  # regression: the MLP's word Flatten faulted on odd inputs
    # bit-exact scores: the firmware's accuracy is the reference's
    assert r["accuracy"] == pytest.approx(float((expected.argmax(1) == labels).mean()))
    assert len(r["layers"]) == len(graph.ops)
    mem = r["memory"]
    assert mem["rodata"] > mem["blob_bytes"] >= mem["bitpacked_lower_bound_bytes"] > 0
    if T.get_target(target).is_mcu:
        assert mem["flash"] <= mem["flash_size"] and mem["ram"] <= mem["ram_size"]
        assert 0 < mem["stack_used"] <= mem["stack_reserved"]


@pytest.mark.xdist_group("trained-targets-cortex-m0")
def test_mlp_runs_on_cortex_m0_within_16_kib(outcomes):
    """The fully binary MLP fits cortex-m0 (16 KiB RAM) and runs there bit-exactly."""
    blobs = [b for b in BLOBS if b.stem == MLP]
    assert blobs, _missing_blobs_message()
    out = outcomes("cortex-m0", blobs[0])
    assert out.error is None, f"{MLP} does not fit cortex-m0: {out.error}"
    r = out.result
    assert r["scores_equal_reference"] and r["agreement"] == 1.0
    mem = r["memory"]
    assert mem["ram_size"] == 16 * 1024 and mem["ram"] <= 16 * 1024
    assert mem["data"] + mem["bss"] + mem["stack_used"] <= 16 * 1024


QRELU2 = "fmnist-vgg-qrelu2"
#: the qrelu2 VGG's 3x3 layers over 2 bit-planes (8, 8, 16, 16 and 32 input channels)
QRELU2_TAB_LAYERS = ("conv2", "conv5", "conv7", "conv10", "conv12")


@pytest.mark.parametrize("target", [pytest.param(t, marks=pytest.mark.xdist_group(f"trained-targets-{t}"))
                                    for t in ("cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33")])
def test_qrelu2_small_layers_take_the_offset_tables_on_thumb2_cores(outcomes, target):
    """On the Thumb-2 Cortex-M cores, "tab" takes the qrelu2 VGG's 2-bit layers with 8 to 32
    channels from its offset image (be_bin_tab.c), ahead of "sad" (which beat the older "tab" on
    the 7 x 7 x 16 one) and the popcount kernels (32 channels): the kernel dispatch the benchmark
    figures in benchmarks/targets.md rest on."""
    blobs = [b for b in BLOBS if b.stem == QRELU2]
    assert blobs, _missing_blobs_message()
    out = outcomes(target, blobs[0])
    assert out.error is None, f"{QRELU2} does not fit {target}: {out.error}"
    kernels = {layer["name"]: layer["kernel"] for layer in out.result["layers"]}
    assert all(kernels[n] == "tab" for n in QRELU2_TAB_LAYERS), kernels


SIGN_VGG = "fmnist-vgg-sign"


@pytest.mark.xdist_group("trained-targets-cortex-m55")
@pytest.mark.parametrize("stem", [QRELU2, SIGN_VGG])
def test_small_vggs_take_the_helium_position_lanes_on_cortex_m55(outcomes, stem):
    """On the Cortex-M55 "lanes" (output positions in Helium lanes: be_conv2d_px_mve.c, and the
    first layer's be_conv2d_u8_px_mve.c) takes every 3x3 conv of the small VGGs, the u8 first
    layer included: 8 to 32 channels of sign bits or 2 bit-planes, ahead of "tab", "sad", "mve"
    and "mla", the dispatch the cortex-m55 figures in benchmarks/targets.md rest on."""
    blobs = [b for b in BLOBS if b.stem == stem]
    assert blobs, _missing_blobs_message()
    out = outcomes("cortex-m55", blobs[0])
    assert out.error is None, f"{stem} does not fit cortex-m55: {out.error}"
    kernels = {layer["name"]: layer["kernel"] for layer in out.result["layers"]}
    assert all(kernels[n] == "lanes" for n in ("conv0", *QRELU2_TAB_LAYERS)), kernels


RESNET = Path(__file__).resolve().parent.parent / "benchmarks" / "models" / "fmnist-resnet-sign.bnm"


@pytest.mark.xdist_group("trained-targets-cortex-m55")
def test_resnet_residual_convs_take_the_helium_position_lanes_on_cortex_m55(outcomes, test_images):
    """The committed binary ResNet (benchmarks/models/fmnist-resnet-sign.bnm: residual 3x3 convs
    over 14 x 14 x 32 and 7 x 7 x 64 sign bits into int32 accumulators, each added to its shortcut
    by a Merge) runs bit-exactly on the Cortex-M55 with "lanes" (be_conv2d_px_mve.c's accumulator
    instance: 2 and 4 passes of 16 channels, scatter stores) on every residual conv: the dispatch
    the cortex-m55 ResNet rows of benchmarks/targets.md rest on."""
    assert RESNET.is_file(), f"{RESNET} missing: it is committed (benchmarks/models/README.md says how it was made)"
    out = outcomes("cortex-m55", RESNET)
    assert out.error is None, f"{RESNET.name} does not fit cortex-m55: {out.error}"
    r = out.result
    images, _ = test_images
    assert r["scores_equal_reference"] is True and r["agreement"] == 1.0, r["first_mismatch"]
    assert r["samples"] == len(images) and r["firmware_selfcheck_mismatches"] == 0
    kernels = {layer["name"]: layer["kernel"] for layer in r["layers"]}
    acc = [n for n in kernels if n.endswith(".conv_acc")]
    assert len(acc) == 5 and all(kernels[n] == "lanes" for n in acc), kernels
