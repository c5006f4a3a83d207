"""Firmware of recurrent character models (docs/firmware.md "Character models"): the seed runs as
time steps from the zero state (be_reset before every pass), then the firmware generates
characters greedily; `binedge emulate` checks every seed step against binedge.reference.run and
every generated id and score against binedge.lstm_deploy.generate, bit for bit.

Random LSTM graphs (H=33, V=20, one and two layers) and a briefly trained 128-cell CharLSTM on
examples/data/tiny_corpus.txt, exported for x86_64 (native) and cortex-m4 / cortex-m0
(qemu-system-arm with -icount). To keep the time down the runtime is compiled once per target
and op count: the one-layer models share it (identical Makefiles: their runtime objects are
copied, only the model, the test data and the harness are compiled), and the two-layer model
runs on cortex-m4 only. A missing compiler or QEMU is a failure naming the Debian package, never
a skip (as in test_firmware.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from binedge import emulate as E
from binedge import reference
from binedge import targets as T
from binedge.firmware import FirmwareError, decode_ids, plan_firmware, read_manifest, write_firmware
from binedge.lstm_deploy import generate, lower_char_lstm, random_lstm_graph
from char_models import CORPUS, train_char_lstm

pytestmark = pytest.mark.xdist_group("firmware")

TARGETS = ["x86_64", "cortex-m4", "cortex-m0"]
CASES = [("trained", t) for t in TARGETS] + [("random1", t) for t in TARGETS] + [("random2", "cortex-m4")]
SEED, GENERATE = 24, 16


def _trained():
    """A 128-cell, one-layer LAB CharLSTM after ~120 truncated-BPTT steps (~6 s on one thread):
    its greedy text is code-like, not noise. Returns (graph, test ids)."""
    from binedge.datasets.text import load_text

    corpus = load_text(CORPUS)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        m = train_char_lstm(corpus, 128, streams=16, chars=40 * 120, lr=2e-2)
        return lower_char_lstm(m, corpus.vocab), corpus.test
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def models():
    """name -> (graph, seed ids (SEED, 1) uint8, labels = the next ids)."""
    rng = np.random.default_rng(15)
    out = {}
    for name, layers in (("random1", 1), ("random2", 2)):
        g = random_lstm_graph(rng, 20, 33, layers)
        seq = rng.integers(0, 20, SEED + 1)
        out[name] = (g, seq[:-1].reshape(-1, 1).astype(np.uint8), seq[1:].astype(np.int64))
    g, test = _trained()
    out["trained"] = (g, test[:SEED].reshape(-1, 1).astype(np.uint8), test[1:SEED + 1].astype(np.int64))
    return out


@pytest.fixture(scope="module")
def built(models, tmp_path_factory):
    """(model, target) -> (firmware dir, emulate result), each written, built and run once."""
    root = tmp_path_factory.mktemp("fw_lstm")
    cache: dict = {}

    def get(name: str, target: str):
        if (name, target) not in cache:
            g, seed, labels = models[name]
            fw = root / f"{name}-{target}"
            write_firmware(g, fw, target=target, images=seed, labels=labels, generate=GENERATE)
            for other, _ in cache.values():
                if (other / "Makefile").read_bytes() == (fw / "Makefile").read_bytes():
                    _reuse_runtime_objects(other, fw)
                    break
            cache[name, target] = (fw, E.emulate(fw))
        return cache[name, target]

    return get


def _reuse_runtime_objects(built_fw: Path, fw: Path) -> None:
    """Copy the compiled runtime and board objects of ``built_fw`` (same Makefile: same target,
    BE_MAX_OPS, kernel families; the runtime sources are the same copy) into ``fw``'s build
    folder, newer than its sources, so that make compiles only its own model, data and harness."""
    src = built_fw / "build"
    shutil.copytree(src, fw / "build", copy_function=shutil.copyfile,
                    ignore=lambda d, names: [n for n in names
                                             if Path(d) == src and n not in ("runtime", "board", "kernels.txt")])
    now = time.time()
    for p in (fw / "build").rglob("*.o"):
        os.utime(p, (now, now))


@pytest.mark.parametrize("name,target", CASES)
def test_generation_is_bit_exact(models, built, name, target):
    g, seed, labels = models[name]
    fw, r = built(name, target)
    t = T.get_target(target)
    m = read_manifest(fw)
    assert m["recurrent"] is True and m["generate"] == GENERATE and m["samples"] == SEED
    # the seed: every step from the zero state, scores bit-exact, also from odd addresses
    assert r["recurrent"] is True and r["scores_equal_reference"] and r["agreement"] == 1.0
    assert r["firmware_selfcheck_mismatches"] == 0 and r["misaligned_input_mismatches"] == 0
    scores = reference.run(g, seed)
    assert r["accuracy"] == pytest.approx(float((scores.argmax(1) == labels).mean()))
    # generation: the reference's ids, and the firmware's own check of them passed
    ids, _ = generate(g, seed, GENERATE)
    gen = r["generation"]
    assert gen["equal_reference"] and gen["first_mismatch"] is None and gen["mismatched_steps"] == 0
    assert gen["ids"] == ids.tolist() == gen["expected_ids"]
    assert r["firmware_generate_mismatches"] == 0
    if name == "trained":
        assert gen["text"] == decode_ids(g.class_names, ids) == m["generated_text"]
        assert gen["seed_text"] == decode_ids(g.class_names, seed.reshape(-1)) == m["seed_text"]
        assert len(gen["text"]) >= GENERATE  # "<unk>" is five characters
    else:
        assert gen["text"] is None  # a random graph has no vocabulary
    pc = r["per_character"]
    assert pc["seed_median"] > 0 and pc["generate_median"] > 0
    report = E.format_report(r)
    assert "generated (16 steps)" in report and "ids and scores bit-exact" in report
    if t.is_mcu:
        # one invoke = one character; -icount makes the count exact and the steps alike
        assert r["unit"] == E.INSTRUCTIONS_LABEL and E.INSTRUCTIONS_LABEL in report
        assert r["instructions_per_character"] == pc["seed_median"]
        assert 0.8 < pc["generate_median"] / pc["seed_median"] < 1.25
        mem = r["memory"]
        assert mem["ram"] <= mem["ram_size"] and mem["flash"] <= mem["flash_size"]
        assert 0 < mem["stack_used"] <= mem["stack_reserved"]
    if name == "trained" and target == "cortex-m0":
        # 128 cells, 82 characters: blob ~27 KB in flash, arena 768 B, in the micro:bit's 16 KiB RAM
        assert r["memory"]["arena_bytes"] <= 1024 and r["memory"]["blob_bytes"] < 32 * 1024


def _stdout(fw: Path) -> str:
    m = read_manifest(fw)
    return T.run(m["target"], fw / "firmware.elf", icount=False, timeout=300).check().stdout


def test_harness_output(models, built):
    """The records: the header says recurrent, G lines feed back their own argmax, every pass
    restarts from the zero state (the seed's first scores are those of a fresh state)."""
    g, seed, _ = models["random1"]
    fw, _ = built("random1", "x86_64")
    out = _stdout(fw)
    p = E.parse_output(out)
    assert p["header"]["recurrent"] == "1" and p["header"]["generate"] == str(GENERATE)
    assert p["summary"]["generated"] == str(GENERATE) and p["summary"]["generate_mismatches"] == "0"
    assert sorted(p["generated"]) == list(range(GENERATE)) == sorted(p["generate_ticks"])
    last = p["scores"][SEED - 1]
    for i in range(GENERATE):
        gid, sc = p["generated"][i]
        assert gid == int(np.argmax(last)), i  # first maximum, as numpy
        last = sc
    # the G and GT lines come after the seed's S lines and before the profile pass
    tags = [ln.split(" ", 1)[0] for ln in out.splitlines()]
    assert tags.index("G") > max(i for i, tg in enumerate(tags) if tg == "S") and tags.index("P") > tags.index("G")


def test_fewer_samples_generate_from_the_shorter_seed(models, built):
    g, seed, _ = models["random1"]
    fw, _ = built("random1", "x86_64")
    r = E.emulate(fw, samples=10)  # firmware-n10.elf; its own generation check is off (other seed)
    ids, _ = generate(g, seed[:10], GENERATE)
    assert r["samples"] == 10 and r["generation"]["ids"] == ids.tolist() and r["generation"]["equal_reference"]


def _tampered_run(monkeypatch, edit):
    """emulate with the firmware's stdout changed by edit(stdout)."""
    real = T.run

    def run(*a, **k):
        res = real(*a, **k)
        res.stdout = edit(res.stdout)
        return res

    monkeypatch.setattr(T, "run", run)


def _bump(line: str, field: int) -> str:
    parts = line.split(" ")
    parts[field] = str(int(parts[field]) + 1)
    return " ".join(parts)


def test_tampered_generation_is_detected(models, built, monkeypatch, tmp_path):
    fw, _ = built("trained", "x86_64")
    work = tmp_path / "fw"
    shutil.copytree(fw, work)

    # a generated score one off
    _tampered_run(monkeypatch, lambda s: re.sub(r"^G 5 .*$", lambda mt: _bump(mt.group(0), 7), s, flags=re.M))
    with pytest.raises(E.MismatchError, match=r"1 of 16 generated steps differ .* generation step 5: id \d+ .*class 4: "
                                              r"firmware -?\d+, reference -?\d+") as ei:
        E.emulate(work, build=False)
    assert ei.value.result["generation"]["first_mismatch"]["step"] == 5
    assert json.loads((work / "emulate.json").read_text())["generation"]["equal_reference"] is False

    # a generated id changed (then every later step differs too, through the fed-back id)
    monkeypatch.undo()
    _tampered_run(monkeypatch, lambda s: re.sub(r"^G 3 (\d+)", lambda mt: f"G 3 {(int(mt.group(1)) + 1) % 82}", s,
                                                 flags=re.M))
    with pytest.raises(E.MismatchError, match=r"generation step 3: firmware generated id \d+ '.*', reference id"):
        E.emulate(work, build=False)

    # a seed step: named as a seed step
    monkeypatch.undo()
    _tampered_run(monkeypatch, lambda s: re.sub(r"^S 7 .*$", lambda mt: _bump(mt.group(0), 2), s, flags=re.M))
    with pytest.raises(E.MismatchError,
                       match=r"1 of 24 seed steps \(from the zero state\) differ .* seed step 7 class 0"):
        E.emulate(work, build=False)

    # a missing G line is not a pass
    monkeypatch.undo()
    _tampered_run(monkeypatch, lambda s: re.sub(r"^G 15 .*\n", "", s, flags=re.M))
    with pytest.raises(E.EmulateError, match=r"printed 15 of the 16 generated steps"):
        E.emulate(work, build=False)


def test_firmware_checks_its_own_generation(models, built, tmp_path):
    """A wrong reference compiled into test_inputs.c: the harness counts the generated step as a
    self-check mismatch and exits 1, although its scores equal the reference executor's."""
    fw, _ = built("random1", "x86_64")
    work = tmp_path / "fw"
    shutil.copytree(fw, work)
    src = (work / "test_inputs.c").read_text()
    head, _, tail = src.partition("const int32_t fw_ref_gen_scores")
    tail = re.sub(r"\{(-?\d+)", lambda mt: "{" + str(int(mt.group(1)) + 1), tail, count=1)
    (work / "test_inputs.c").write_text(head + "const int32_t fw_ref_gen_scores" + tail)
    with pytest.raises(E.EmulateError, match="exited with status 1 although its scores are right"):
        E.emulate(work)
    out = E.parse_output(T.run("x86_64", work / "firmware.elf", timeout=60).stdout)
    assert out["summary"]["status"] == "mismatch" and out["summary"]["generate_mismatches"] == "1"
    assert out["summary"]["selfcheck_mismatches"] == "1" and out["summary"]["misaligned_input_mismatches"] == "0"


def test_project_files(models, built):
    g, seed, _ = models["trained"]
    fw, _ = built("trained", "cortex-m4")
    h = (fw / "model.h").read_text()
    assert "#define BINEDGE_MODEL_RECURRENT 1" in h and "be_reset" in h and "'\\n'" in h
    ti = (fw / "test_inputs.h").read_text()
    assert f"#define FW_GENERATE {GENERATE}u" in ti and "fw_ref_gen_scores" in ti
    readme = (fw / "README.md").read_text()
    assert "## A recurrent model" in readme and "be_reset" in readme and f"generates {GENERATE} characters" in readme
    assert json.dumps(decode_ids(g.class_names, seed.reshape(-1)), ensure_ascii=False) in readme


def test_refusals(models, tmp_path):
    from graphs import random_graph, random_images

    g, seed, labels = models["random1"]
    out = tmp_path / "fw"
    rng = np.random.default_rng(0)
    image_graph = random_graph(rng)
    images = random_images(rng, image_graph, 2)
    with pytest.raises(FirmwareError, match="only a recurrent character model"):
        write_firmware(image_graph, out, target="x86_64", images=images, generate=4)
    for bad in (-1, 2.5, True, "4"):
        with pytest.raises(FirmwareError, match="generate must be a number"):
            write_firmware(g, out, target="x86_64", images=seed, generate=bad)
    with pytest.raises(FirmwareError, match=r"test input 2: character id 20 is not below the model's vocabulary of 20"):
        write_firmware(g, out, target="x86_64", images=np.array([[1], [2], [20]], np.uint8))
    assert not out.exists()
    # an image model's header says it is not recurrent
    write_firmware(image_graph, out, target="x86_64", images=images)
    assert "#define BINEDGE_MODEL_RECURRENT 0" in (out / "model.h").read_text()
    assert "#define FW_GENERATE 0u" in (out / "test_inputs.h").read_text()
    m = read_manifest(out)
    assert m["recurrent"] is False and m["generate"] == 0
    assert "## A recurrent model" not in (out / "README.md").read_text()


def test_the_microbit_fits_a_128_cell_96_character_model():
    """cortex-m0 (16 KiB RAM): a one-layer 128-cell model over 96 characters, 64 seed characters
    and 64 generated ones: the fit check accepts it (blob ~30 KB, arena 768 B)."""
    g = random_lstm_graph(np.random.default_rng(3), 96, 128, 1)
    seed = np.random.default_rng(4).integers(0, 96, (64, 1)).astype(np.uint8)
    plan = plan_firmware(g, target="cortex-m0", images=seed, generate=64)
    assert plan.arena == 768 and 28_000 < len(plan.blob) < 32 * 1024
    assert plan.estimate["test_input_bytes"] == 64 * (1 + 2 + 4 * 96) + 64 * (1 + 4 * 96)
