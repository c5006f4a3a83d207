"""benchmarks/bench_cmsis_nn.py without a CMSIS-NN checkout: its layer shapes are those of
runtime_c/tests/bench_kernels.c, --cmsis-nn errors are clear, the harness generator and the
report writer work on made-up numbers, and the binedge figures it quotes are in docs/kernels.md.
(The measurement itself needs the user's CMSIS-NN checkout and is not run here.)"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load():
    spec = importlib.util.spec_from_file_location("bench_cmsis_nn", ROOT / "benchmarks" / "bench_cmsis_nn.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_cmsis_nn"] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


bc = _load()


def test_shapes_are_bench_kernels_shapes():
    parsed = bc.bench_kernels_shapes()
    assert [s.name for s in bc.SHAPES] == list(parsed)
    for s in bc.SHAPES:
        assert bc.shape_tuple(s) == parsed[s.name][:9], s.name
        zp = parsed[s.name][9]
        if zp is not None:  # the int8 layers: CMSIS-NN's input_offset from bench_kernels' zero point
            kind, z = zp
            assert s.in_off == -(z - 128 if kind == "u8" else z), s.name
        assert -127 <= s.in_off <= 128


def test_mac_counts_match_docs():
    macs = {s.name: s.macs for s in bc.SHAPES}
    assert macs["dense"] == 1_048_576 and macs["conv"] == 7_225_344
    assert macs["u8dense"] == 200_704 and macs["u8conv1"] == 225_792 and macs["u8conv3"] == 221_184
    assert macs["i8dw2"] == 6 * 6 * 32 * 9


def test_small_ram_board_runs_fewer_dense_rows():
    m55 = bc.T.get_target("cortex-m55")  # 512 KiB RAM: 1 MiB of int8 weights do not fit
    dense = next(s for s in bc.SHAPES if s.name == "dense")
    small = bc.board_shape(dense, m55)
    assert small.o < dense.o and small.c * small.o <= 512 * 1024 // 2
    assert bc.board_shape(dense, bc.T.get_target("cortex-m4")) == dense
    conv = next(s for s in bc.SHAPES if s.name == "conv")
    assert bc.board_shape(conv, m55) == conv


@pytest.mark.parametrize("path", [None, ""])
def test_missing_checkout(path):
    with pytest.raises(bc.CheckoutError, match="--cmsis-nn PATH is required"):
        bc.check_checkout(path)


def test_not_a_checkout(tmp_path):
    with pytest.raises(bc.CheckoutError, match="no such directory"):
        bc.check_checkout(tmp_path / "nope")
    (tmp_path / "Include").mkdir()
    (tmp_path / "Include" / "arm_nnfunctions.h").write_text("")
    with pytest.raises(bc.CheckoutError, match="not a CMSIS-NN source tree.*arm_convolve_wrapper_s8.c"):
        bc.check_checkout(tmp_path)


def test_cli_error_without_checkout(capsys):
    with pytest.raises(SystemExit) as e:
        bc.main(["--targets", "cortex-m4"])
    assert e.value.code == 2
    assert "--cmsis-nn PATH is required" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bc.main(["--cmsis-nn", str(ROOT), "--targets", "cortex-m4"])  # binedge is not CMSIS-NN
    assert "not a CMSIS-NN source tree" in capsys.readouterr().err


def test_harness_source():
    shapes = [bc.board_shape(s, bc.T.get_target("cortex-m55")) for s in bc.SHAPES]
    src = bc.harness_source("cortex-m55", shapes)
    for s in shapes:
        assert f'{{"{s.name}", ' in src
    for fn in ("arm_convolve_wrapper_s8(", "arm_depthwise_conv_wrapper_s8(", "arm_fully_connected_per_channel_s8(",
               "arm_convolve_wrapper_s8_get_buffer_size(", "arm_depthwise_conv_wrapper_s8_get_buffer_size(",
               "arm_fully_connected_s8_get_buffer_size(", "arm_vector_sum_s8(", "board_ticks()"):
        assert fn in src
    assert int(re.search(r"#define POOL_BYTES (\d+)u", src).group(1)) < 512 * 1024 - 64 * 1024


def _made_up():
    rs = []
    for i, s in enumerate(bc.SHAPES):
        for b, per in (("cortex-m4", 2.0), ("cortex-m55", 0.25)):
            instr = per * s.macs * (1 + i / 100)
            rs.append(bc.Result(b, s, s.macs, int(instr * 1.6), int(instr * 1.6), int(instr * 1.6) + 8, 64, instr))
    return rs


def test_report_on_made_up_numbers(tmp_path):
    meta = {"command": ".venv/bin/python benchmarks/bench_cmsis_nn.py --cmsis-nn X",
            "cmsis_commit": "abc123 (2026-07-15)", "compiler": "arm-none-eabi-gcc 12.2",
            "qemu": "QEMU emulator version 7.2"}
    out = tmp_path / "r.md"
    text = bc.write_report(_made_up(), meta, out)
    assert out.read_text() == text
    assert text.count("instructions (QEMU -icount), not cycles") >= 3
    for needle in ("abc123 (2026-07-15)", "arm-none-eabi-gcc 12.2", "QEMU emulator version 7.2", meta["command"],
                   "docs/kernels.md", "per binary MAC", "per int8 MAC"):
        assert needle in text
    table = [ln for ln in text.splitlines() if ln.startswith("| i8c64 |")]
    assert table == ["| i8c64 | 8×8×64, 3×3 s1 p1 → 8×8×64 | per int8 MAC "
                     "| 2.140 | 1.513 (dsp) | 0.268 | 0.173 (mve) |"]
    row = [ln for ln in text.splitlines() if ln.startswith("| cortex-m4 | dense |")][0]
    assert "| 1,048,576 | 2,097,152 | 2.000 | 64 | 0.282 (dsp, per binary MAC) | 7.1× |" in row


def test_binedge_figures_are_in_docs():
    doc = (ROOT / bc.BINEDGE_SOURCE).read_text()
    for board, figs in bc.BINEDGE.items():
        for name, (value, variant) in figs.items():
            shown = f"{value:.3f}".rstrip("0") if value < 10 else f"{value:.2f}"
            assert re.search(rf"\b{re.escape(shown)}0*\b", doc), (board, name, value)
            assert variant in doc
