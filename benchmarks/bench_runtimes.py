"""The bundled networks under maintained CPU runtimes against PyTorch, on the same windows.

    python benchmarks/bench_runtimes.py [--windows 6] [--repeats 3] [--stages cavity wall scar]
        [--no-compile] [--json OUT]

For each stage network, windows of its training patch size are cut from the prepared ROIs of
held-out phantoms (the inputs the pipeline gives it), and every variant below runs the same
windows. Printed per variant: milliseconds per window (best of ``--repeats``), the speed against
PyTorch's fp32, and the Dice of its mask (the network's own threshold) against PyTorch fp32's,
over all windows. A runtime is worth shipping only where it is faster than what the pipeline
runs today (PyTorch bf16 channels-last on a CPU with native bf16, fp32 channels-last without)
and its Dice stays >= 0.998.

Variants: PyTorch fp32 (default layout, and channels-last), PyTorch bf16 autocast channels-last
(the pipeline on a CPU with native bf16), ``torch.compile`` of the bf16 one; ONNX Runtime fp32
and int8 (static QDQ quantisation calibrated on the windows); OpenVINO fp32, bf16 (where the CPU
has native bf16) and the int8 QDQ model. ONNX Runtime and OpenVINO are optional: a runtime that
is not installed is said and skipped (``pip install onnxruntime openvino onnx``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def windows_for(stage: str, n: int) -> tuple[np.ndarray, tuple[int, ...]]:
    """``n`` windows (n, 1, z, y, x) of the stage's patch size from prepared phantom ROIs,
    centred on the atrium (where the pipeline's windows lie)."""
    from napari_c2w import preprocess as pre
    from napari_c2w.infer import load_model_set
    from napari_c2w.phantom import generate_phantom

    model = load_model_set([])[stage]
    patch = tuple(int(p) for p in model.meta.get("patch") or model.meta["roi"])
    spacing = tuple(model.meta["spacing"])
    out = []
    rng = np.random.default_rng(0)
    for seed in range(1000, 1000 + n):
        ph = generate_phantom(seed, spacing=(1.25, 0.625, 0.625))
        grid = pre.to_model_grid(ph.image.array, ph.image.spacing, spacing)
        x = pre.normalize_intensity(grid, model.meta.get("intensity_normalisation"))
        cavity = pre.to_model_grid(np.asarray(ph.labels["cavity"]), ph.image.spacing, spacing, kind="mask")
        centre = [int(c) + int(rng.integers(-8, 9)) for c in pre.center_of_mass(cavity)]
        box = [(c - p // 2, c - p // 2 + p) for c, p in zip(centre, patch, strict=True)]
        out.append(pre.crop(x, box))
    return np.stack(out)[:, None].astype(np.float32), patch


def timed(fn, x: np.ndarray, repeats: int) -> tuple[float, np.ndarray]:
    """Best seconds per window over ``repeats`` passes of all windows, and the logits."""
    fn(x[:1])  # warm-up: kernels chosen, memory allocated
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = np.concatenate([fn(x[i : i + 1]) for i in range(len(x))])
        best = min(best, (time.perf_counter() - t0) / len(x))
    return best, out


def torch_variants(model, allow_compile: bool) -> dict:
    from napari_c2w.models import cpu_supports_bf16

    def run(layout, dtype, net=model):
        def fn(x):
            t = torch.from_numpy(x).contiguous(memory_format=layout)
            cast = torch.autocast("cpu", dtype=dtype) if dtype is not None else contextlib.nullcontext()
            with torch.inference_mode(), cast:
                return net(t).float().numpy()

        return fn

    cl = torch.channels_last_3d
    model_cl = model.to(memory_format=cl)
    out = {
        "pytorch fp32": run(torch.contiguous_format, None),
        "pytorch fp32 channels-last": run(cl, None, model_cl),
    }
    if cpu_supports_bf16():
        out["pytorch bf16 channels-last (pipeline)"] = run(cl, torch.bfloat16, model_cl)
        if allow_compile:
            out["torch.compile bf16 channels-last"] = run(cl, torch.bfloat16, torch.compile(model_cl))
    elif allow_compile:
        out["torch.compile fp32 channels-last"] = run(cl, None, torch.compile(model_cl))
    return out


def onnx_variants(model, x: np.ndarray, folder: Path, threads: int) -> tuple[dict, dict]:
    """ONNX Runtime and OpenVINO variants, and what was skipped (name -> why)."""
    out, skipped = {}, {}
    try:
        import onnx
    except ImportError:
        return out, {"ONNX Runtime, OpenVINO": "onnx is not installed"}
    fp32 = folder / "model.onnx"
    torch.onnx.export(
        model,
        (torch.from_numpy(x[:1].copy()),),
        str(fp32),
        input_names=["x"],
        output_names=["y"],
        opset_version=17,
        dynamo=False,
    )
    input_name = onnx.load(str(fp32)).graph.input[0].name
    int8 = folder / "model.int8.onnx"
    try:
        import onnxruntime as ort
        from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

        class Reader(CalibrationDataReader):
            def __init__(self) -> None:
                self.items = iter([{input_name: x[i : i + 1]} for i in range(len(x))])

            def get_next(self):
                return next(self.items, None)

        try:
            quantize_static(
                str(fp32),
                str(int8),
                Reader(),
                quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                per_channel=True,
            )
        except Exception as err:  # a model the quantiser cannot take: said, not fatal
            skipped["int8"] = f"quantize_static failed: {err}"
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        for name, path in (("onnxruntime fp32", fp32), ("onnxruntime int8", int8)):
            if path.exists():
                sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
                out[name] = lambda a, s=sess: s.run(None, {input_name: a})[0]
    except ImportError:
        skipped["ONNX Runtime"] = "onnxruntime is not installed"
    more, why = openvino_variants(fp32, int8, threads)
    out.update(more)
    skipped.update(why)
    return out, skipped


def openvino_variants(fp32: Path, int8: Path, threads: int) -> tuple[dict, dict]:
    """OpenVINO on the fp32 model (fp32, and bf16 where the CPU has it) and on the int8 QDQ model."""
    out, skipped = {}, {}
    try:
        import openvino as ov

        from napari_c2w.models import cpu_supports_bf16

        core = ov.Core()
        precisions = ["f32", *(["bf16"] if cpu_supports_bf16() else [])]
        for precision in precisions:
            compiled = core.compile_model(
                str(fp32),
                "CPU",
                {
                    "INFERENCE_PRECISION_HINT": precision,
                    "INFERENCE_NUM_THREADS": threads,
                    "PERFORMANCE_HINT": "LATENCY",
                },
            )
            out[f"openvino {precision}"] = lambda a, c=compiled: c(a)[0]
        if int8.exists():
            compiled = core.compile_model(
                str(int8), "CPU", {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}
            )
            out["openvino int8 (QDQ)"] = lambda a, c=compiled: c(a)[0]
    except ImportError:
        skipped["OpenVINO"] = "openvino is not installed"
    return out, skipped


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--windows", type=int, default=6)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--stages", nargs="+", default=["cavity", "wall", "scar"])
    ap.add_argument(
        "--no-compile", action="store_true", help="leave torch.compile out (it compiles for minutes)"
    )
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    from napari_c2w.infer import load_model_set
    from napari_c2w.metrics import dice
    from napari_c2w.models import cpu_features, set_threads

    threads = set_threads()
    print(f"CPU: {cpu_features()}; {threads} threads; torch {torch.__version__}")
    models = load_model_set([])
    rows = []
    for stage in args.stages:
        model = models[stage].model.float().eval()
        threshold = float(models[stage].meta.get("threshold", 0.5))
        logit = float(np.log(threshold / (1 - threshold)))
        x, patch = windows_for(stage, args.windows)
        variants = torch_variants(model, not args.no_compile)
        with tempfile.TemporaryDirectory() as tmp:
            fresh = load_model_set([])[stage].model.float().eval()  # default layout, for the export
            more, skipped = onnx_variants(fresh, x, Path(tmp), threads)
            variants.update(more)
            reference = None
            print(f"\n{stage}: {len(x)} windows of {patch}")
            print("| runtime | ms per window | × PyTorch fp32 | Dice vs PyTorch fp32 |")
            print("|---|---|---|---|")
            for name, fn in variants.items():
                seconds, logits = timed(fn, x, args.repeats)
                if reference is None:
                    reference = (seconds, logits > logit)
                d = dice(logits > logit, reference[1])
                rows.append({"stage": stage, "runtime": name, "ms": 1000 * seconds, "dice_vs_fp32": d})
                print(
                    f"| {name} | {1000 * seconds:.0f} | {reference[0] / seconds:.2f} | {d:.4f} |", flush=True
                )
            for name, why in skipped.items():
                print(f"| {name} | skipped: {why} | | |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
