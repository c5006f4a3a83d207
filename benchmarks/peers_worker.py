#!/usr/bin/env python
"""The peers' side of benchmarks/peers.py; runs in the peers' own virtualenv (.venv-peers/:
TensorFlow 2.16 with tf-keras, larq, Larq Compute Engine 0.16, tflite-micro, numpy < 2;
benchmarks/peers-requirements.txt), never in binedge's.

It builds binedge's fully binary VGG (``--model vgg --widths 32,64,128 --fc 256`` on 28x28x1) in
Larq, converts it with LCE's converter, builds the int8 twin (the same layers and shapes as a
plain Keras network, full-integer post-training quantization), writes both .tflite files to
--workdir, checks the engines' outputs, then answers timing requests from peers.py, one JSON
object per line on stdin / stdout:

    {"cmd": "time", "engine": NAME, "iters": N}  ->  {"samples": [ns, ...]}
    {"cmd": "quit"}

The first line it writes is {"ready": {...}}: engines (label, detail, error), versions, checks,
model files. Timing: time.perf_counter_ns around one call of batch 1 (input set, invoke, output
read), like binedge.bench's LiteRT rows.

The pure-Python parts (architecture, architecture_rows, DIFFERENCES) import nothing beyond the
standard library so that peers.py and its test can use them without TensorFlow.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback

#: What differs between the Larq network and binedge's (used in the report).
DIFFERENCES = [
    "The Larq network mirrors binedge's layer list (binedge.models.build_vgg): the same layers, shapes, "
    "quantizers and padding (`ste_sign` inputs padded with +1 = LCE's `pad_values=1.0`, binedge's sign "
    "`pad_value`; the first layer sees the real image x/255, zero-padded, with binary weights); its MAC count "
    "equals the binedge model's (checked).",
    "Input: LCE's model takes float32 x/255 (its first convolution is a float TFLite CONV_2D with ±1 weights, "
    "LCE does not binarize a layer whose input is not binary); binedge's takes the uint8 pixels and runs the "
    "first layer as u8 × binary integer arithmetic.",
    "Convolutions 2-6: binary in both (LceBconv2d; BatchNorm + sign fused into output thresholds, bit-packed "
    "outputs, max-pooling of bit-packed values by LceBMaxPool2d where the next layer is binary), as in binedge.",
    "Dense layers: LCE 0.16 has no binary dense kernel; it runs the three QuantDense layers as float32 "
    "FULLY_CONNECTED on dequantized ±1 inputs (LceDequantize), after a float MAX_POOL_2D. binedge runs them "
    "as binary dense kernels. Output: LCE's is float32, binedge's int32 scores (a fixed-point logit).",
    "The int8 twin (LiteRT / TFLM rows) is not a binary network: the same layers and shapes as a plain "
    "Keras float network (Conv2D / Dense without bias, BatchNormalization, ReLU in place of sign), "
    "full-integer post-training quantized (int8 weights per channel, int8 activations, int8 input and "
    "output): what a conventional int8 deployment of this architecture runs.",
]


def architecture(widths=(32, 64, 128), fc: int = 256, image_shape=(28, 28, 1), classes: int = 10) -> list[dict]:
    """binedge's fully binary VGG (binedge.models.build_vgg) as a list of Larq layers with their
    output shapes: 2 binary 3x3 'same' convs per width, each with BatchNorm, a 2x2 max-pool after
    each pair, Flatten, 2 x QuantDense(fc) + BatchNorm, QuantDense(classes) + BatchNorm. The first
    conv has no input quantizer (the real image, zero-padded); every later layer's input quantizer
    is ste_sign (padded with +1)."""
    h, w, c = (int(v) for v in image_shape)
    rows: list[dict] = []
    first = True
    for width in widths:
        for _ in range(2):
            rows.append({"layer": "QuantConv2D", "units": int(width), "kernel": 3, "padding": "same",
                         "input_quantizer": None if first else "ste_sign", "kernel_quantizer": "ste_sign",
                         "pad_values": 0.0 if first else 1.0, "in_channels": c, "shape": (h, w, int(width)),
                         "macs": h * w * int(width) * 9 * c})
            rows.append({"layer": "BatchNormalization", "shape": (h, w, int(width))})
            c, first = int(width), False
        h, w = h // 2, w // 2
        rows.append({"layer": "MaxPool2D", "pool": 2, "shape": (h, w, c)})
    rows.append({"layer": "Flatten", "shape": (h * w * c,)})
    fan_in = h * w * c
    for units in (fc, fc, classes):
        rows.append({"layer": "QuantDense", "units": int(units), "input_quantizer": "ste_sign",
                     "kernel_quantizer": "ste_sign", "in_channels": fan_in, "shape": (int(units),),
                     "macs": fan_in * int(units)})
        rows.append({"layer": "BatchNormalization", "shape": (int(units),)})
        fan_in = int(units)
    return rows


def architecture_rows(rows: list[dict]) -> list[str]:
    """Markdown table of architecture(): one line per layer."""
    out = ["| # | Larq layer | settings | output shape | MACs |", "|---:|---|---|---|---:|"]
    for i, r in enumerate(rows):
        if r["layer"] in ("QuantConv2D", "QuantDense"):
            kind = f"{r['units']} filters 3x3, padding same" if r["layer"] == "QuantConv2D" else f"{r['units']} units"
            iq = r["input_quantizer"] or "none (real x/255)"
            pad = f", pad_values={r['pad_values']:g}" if r["layer"] == "QuantConv2D" else ""
            settings = f"{kind}, input_quantizer {iq}, kernel_quantizer {r['kernel_quantizer']}{pad}, no bias"
            macs = f"{r['macs']:,}"
        elif r["layer"] == "MaxPool2D":
            settings, macs = "2x2, stride 2", ""
        else:
            settings, macs = "", ""
        shape = "×".join(str(v) for v in r["shape"])
        out.append(f"| {i} | {r['layer']} | {settings} | {shape} | {macs} |")
    return out


# ----------------------------------------------------------------------------- TensorFlow side


def _keras():
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import tensorflow as tf

    return tf, tf.keras


def _randomize_bn(model, rng) -> None:
    """Random BatchNorm statistics (gamma, beta, mean, variance) so that thresholds are not all equal."""
    import numpy as np

    for layer in model.layers:
        if layer.__class__.__name__ == "BatchNormalization":
            ws = layer.get_weights()  # gamma, beta, moving_mean, moving_variance
            n = ws[0].shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, n).astype(np.float32), rng.normal(0, 0.5, n).astype(np.float32),
                               rng.normal(0, 2.0, n).astype(np.float32), rng.uniform(0.5, 4.0, n).astype(np.float32)])


def build_larq(rows, image_shape, seed: int):
    import larq as lq
    import numpy as np

    tf, keras = _keras()
    tf.random.set_seed(seed)
    inp = x = keras.Input(tuple(image_shape))
    for r in rows:
        if r["layer"] == "QuantConv2D":
            x = lq.layers.QuantConv2D(r["units"], 3, padding="same", input_quantizer=r["input_quantizer"],
                                      kernel_quantizer="ste_sign", kernel_constraint="weight_clip",
                                      pad_values=r["pad_values"], use_bias=False)(x)
        elif r["layer"] == "QuantDense":
            x = lq.layers.QuantDense(r["units"], input_quantizer="ste_sign", kernel_quantizer="ste_sign",
                                     kernel_constraint="weight_clip", use_bias=False)(x)
        elif r["layer"] == "BatchNormalization":
            x = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)
        elif r["layer"] == "MaxPool2D":
            x = keras.layers.MaxPool2D(2)(x)
        elif r["layer"] == "Flatten":
            x = keras.layers.Flatten()(x)
    model = keras.Model(inp, x, name="binedge_vgg_larq")
    _randomize_bn(model, np.random.default_rng(seed))
    return model


def build_twin(rows, image_shape, seed: int):
    import numpy as np

    tf, keras = _keras()
    tf.random.set_seed(seed + 1)
    inp = x = keras.Input(tuple(image_shape))
    last_weight = max(i for i, r in enumerate(rows) if r["layer"] in ("QuantConv2D", "QuantDense"))
    for i, r in enumerate(rows):
        if r["layer"] == "QuantConv2D":
            x = keras.layers.Conv2D(r["units"], 3, padding="same", use_bias=False)(x)
        elif r["layer"] == "QuantDense":
            x = keras.layers.Dense(r["units"], use_bias=False)(x)
        elif r["layer"] == "BatchNormalization":
            x = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)
            if i < last_weight:
                x = keras.layers.ReLU()(x)
        elif r["layer"] == "MaxPool2D":
            x = keras.layers.MaxPool2D(2)(x)
        elif r["layer"] == "Flatten":
            x = keras.layers.Flatten()(x)
    model = keras.Model(inp, x, name="binedge_vgg_int8_twin")
    _randomize_bn(model, np.random.default_rng(seed + 1))
    return model


def quantize_int8(model, calib):
    tf, _ = _keras()

    def rep():
        for img in calib:
            yield [img[None].astype("float32")]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return conv.convert()


def tflite_ops(content: bytes) -> dict:
    """Operator counts of a .tflite flatbuffer (builtin names, custom codes for LCE's ops)."""
    from tensorflow.lite.python import schema_py_generated as fb

    model = fb.Model.GetRootAsModel(content, 0)
    names = {v: k for k, v in vars(fb.BuiltinOperator).items() if not k.startswith("_")}
    codes = []
    for i in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(i)
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        custom = oc.CustomCode()
        codes.append(custom.decode() if custom else names.get(code, str(code)))
    counts: dict[str, int] = {}
    sg = model.Subgraphs(0)
    for i in range(sg.OperatorsLength()):
        name = codes[sg.Operators(i).OpcodeIndex()]
        counts[name] = counts.get(name, 0) + 1
    return counts


# ----------------------------------------------------------------------------- runners


class _Timed:
    def time(self, iters: int) -> list:
        call, clock = self.call, time.perf_counter_ns
        out = []
        for _ in range(iters):
            t0 = clock()
            call()
            out.append(clock() - t0)
        return out


class LceRunner(_Timed):
    def __init__(self, content: bytes, x, **flags):
        from larq_compute_engine.tflite.python.interpreter import Interpreter

        self.interp = Interpreter(content, num_threads=1, **flags)
        self.lite = self.interp.interpreter
        self.x = [x]
        self.out = self.call()

    def call(self):
        return self.lite.predict(self.x)[0]


class LiteRunner(_Timed):
    def __init__(self, content: bytes, x, delegates: bool = True):
        tf, _ = _keras()
        kw = {} if delegates else {
            "experimental_op_resolver_type": tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}
        self.interp = tf.lite.Interpreter(model_content=content, num_threads=1, **kw)
        self.interp.allocate_tensors()
        self.inp = self.interp.get_input_details()[0]["index"]
        self.outi = self.interp.get_output_details()[0]["index"]
        self.x = x
        self.out = self.call()

    def call(self):
        self.interp.set_tensor(self.inp, self.x)
        self.interp.invoke()
        return self.interp.get_tensor(self.outi)


class TflmRunner(_Timed):
    def __init__(self, content: bytes, x):
        from tflite_micro.python.tflite_micro import runtime

        self.interp = runtime.Interpreter.from_bytes(content, arena_size=max(len(content) * 10, 1 << 20))
        self.x = x
        self.out = self.call()

    def call(self):
        self.interp.set_input(self.x, 0)
        self.interp.invoke()
        return self.interp.get_output(0)


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for p in ("tensorflow-cpu", "tensorflow", "tf-keras", "larq", "larq-compute-engine", "tflite-micro", "numpy"):
        try:
            out[p] = version(p)
        except PackageNotFoundError:
            pass
    return out


def _err(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}".strip().splitlines()[0][:400]


def prepare(args) -> tuple[dict, dict]:
    """Build, convert, check; return (runners, ready-info). A step that fails records its error."""
    import numpy as np

    images = np.load(args.images)  # uint8 (N, 28, 28, 1)
    shape = images.shape[1:]
    rows = architecture(tuple(int(v) for v in args.widths.split(",")), args.fc, shape, args.classes)
    xf = (images[:1].astype(np.float32) / 255.0)
    calib = images.astype(np.float32) / 255.0
    info: dict = {"versions": versions(), "engines": {}, "checks": {}, "models": {}}
    runners: dict = {}

    def engine(name, label, detail, make):
        try:
            runners[name] = make()
            info["engines"][name] = {"label": label, "detail": detail}
        except Exception as e:  # noqa: BLE001 - reported, never hidden
            traceback.print_exc(file=sys.stderr)
            info["engines"][name] = {"label": label, "detail": detail, "error": _err(e)}

    # --- Larq + LCE
    lce_fb = None
    try:
        larq_model = build_larq(rows, shape, args.seed)
        keras_out = larq_model(xf, training=False).numpy()
        from larq_compute_engine import convert_keras_model

        lce_fb = convert_keras_model(larq_model)
        path = os.path.join(args.workdir, "vgg-lce.tflite")
        with open(path, "wb") as f:
            f.write(lce_fb)
        info["models"]["lce"] = {"path": path, "bytes": len(lce_fb), "ops": tflite_ops(lce_fb),
                                 "params": int(larq_model.count_params())}
    except Exception as e:  # noqa: BLE001
        traceback.print_exc(file=sys.stderr)
        info["models"]["lce"] = {"error": _err(e)}
    lce_variants = [("lce", "LCE 0.16, default kernels", {}),
                    ("lce-indirect", "LCE 0.16, indirect BGEMM", {"use_indirect_bgemm": True}),
                    ("lce-xnnpack", "LCE 0.16, XNNPACK for the float ops", {"use_xnnpack": True}),
                    ("lce-indirect-xnnpack", "LCE 0.16, indirect BGEMM + XNNPACK",
                     {"use_indirect_bgemm": True, "use_xnnpack": True})]
    for name, label, flags in lce_variants:
        if lce_fb is None:
            info["engines"][name] = {"label": label, "detail": "", "error": "LCE conversion failed: "
                                     + info["models"]["lce"]["error"]}
            continue
        engine(name, label, f"LCE Interpreter(num_threads=1{''.join(f', {k}=True' for k in flags)}), "
               "`predict` of the underlying interpreter", lambda f=flags: LceRunner(lce_fb, xf, **f))
    if "lce" in runners:
        out = np.asarray(runners["lce"].out).reshape(keras_out.shape)
        info["checks"]["lce_vs_larq_keras"] = {
            "max_abs_diff": float(np.max(np.abs(out - keras_out))), "max_abs": float(np.max(np.abs(keras_out))),
            "argmax_equal": bool(np.argmax(out) == np.argmax(keras_out))}
        for name in ("lce-indirect", "lce-xnnpack", "lce-indirect-xnnpack"):
            if name in runners:
                o = np.asarray(runners[name].out).reshape(keras_out.shape)
                info["checks"][f"{name}_vs_lce"] = {"max_abs_diff": float(np.max(np.abs(o - out)))}

    # --- int8 twin: LiteRT (TF 2.16's tf.lite) with and without XNNPACK, TFLM
    int8_fb = None
    try:
        twin = build_twin(rows, shape, args.seed)
        twin_out = twin(xf, training=False).numpy()
        int8_fb = quantize_int8(twin, calib)
        path = os.path.join(args.workdir, "vgg-int8.tflite")
        with open(path, "wb") as f:
            f.write(int8_fb)
        info["models"]["int8"] = {"path": path, "bytes": len(int8_fb), "ops": tflite_ops(int8_fb),
                                  "params": int(twin.count_params()), "calibration_images": int(len(calib))}
    except Exception as e:  # noqa: BLE001
        traceback.print_exc(file=sys.stderr)
        info["models"]["int8"] = {"error": _err(e)}
    xq = None
    if int8_fb is not None:
        tf, _ = _keras()
        d = tf.lite.Interpreter(model_content=int8_fb).get_input_details()[0]
        scale, zp = d["quantization"]
        xq = np.clip(np.round(xf / scale) + zp, -128, 127).astype(np.int8)
        info["models"]["int8"]["input_quantization"] = [float(scale), int(zp)]
    tfv = info["versions"].get("tensorflow-cpu") or info["versions"].get("tensorflow", "?")
    for name, label, detail, make in [
        ("litert-tf-xnnpack", f"LiteRT (TF {tfv}) int8 + XNNPACK",
         "tf.lite.Interpreter(num_threads=1), default delegates (XNNPACK)",
         lambda: LiteRunner(int8_fb, xq, delegates=True)),
        ("litert-tf-builtin", f"LiteRT (TF {tfv}) int8, builtin kernels",
         "tf.lite.Interpreter(num_threads=1), BUILTIN_WITHOUT_DEFAULT_DELEGATES (no XNNPACK)",
         lambda: LiteRunner(int8_fb, xq, delegates=False)),
        ("tflm", f"TFLM ({info['versions'].get('tflite-micro', '?')}) int8",
         "tflite_micro.python.tflite_micro.runtime.Interpreter, set_input / invoke / get_output; "
         "reference kernels on x86", lambda: TflmRunner(int8_fb, xq)),
    ]:
        if int8_fb is None:
            info["engines"][name] = {"label": label, "detail": detail,
                                     "error": "int8 conversion failed: " + info["models"]["int8"]["error"]}
            continue
        engine(name, label, detail, make)
    if "litert-tf-xnnpack" in runners:
        ref = np.asarray(runners["litert-tf-xnnpack"].out).astype(np.int32)
        for name in ("litert-tf-builtin", "tflm"):
            if name in runners:
                o = np.asarray(runners[name].out).astype(np.int32).reshape(ref.shape)
                info["checks"][f"{name}_vs_litert-tf-xnnpack"] = {"max_abs_diff_int8": int(np.max(np.abs(o - ref)))}
        info["int8_output"] = [int(v) for v in ref.ravel()]
        info["checks"]["int8_vs_float_twin"] = {
            "argmax_equal": bool(np.argmax(ref) == np.argmax(twin_out))}
    return runners, info


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--images", required=True, help=".npy of uint8 images (N, H, W, C); [0] is timed")
    ap.add_argument("--widths", default="32,64,128")
    ap.add_argument("--fc", type=int, default=256)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything TensorFlow or a library prints goes to stderr, not into the protocol
    sys.stdout = sys.stderr
    try:
        runners, info = prepare(args)
    except Exception as e:  # noqa: BLE001
        traceback.print_exc(file=sys.stderr)
        proto.write(json.dumps({"fatal": _err(e)}) + "\n")
        return 1
    proto.write(json.dumps({"ready": info}) + "\n")
    for line in sys.stdin:
        req = json.loads(line)
        if req.get("cmd") == "quit":
            break
        if req.get("cmd") == "time":
            try:
                proto.write(json.dumps({"samples": runners[req["engine"]].time(int(req["iters"]))}) + "\n")
            except Exception as e:  # noqa: BLE001
                proto.write(json.dumps({"error": _err(e)}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
