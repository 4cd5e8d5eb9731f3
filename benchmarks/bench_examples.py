"""Each example workflow run through the runner, as saved: wall time per example on this machine.

The notes in the example workflows and the README's example table state these times; they are taken
from benchmarks/example_timings.json, which ``--write`` replaces (then run scripts/build_examples.py).
Examples whose checkpoint is not in the models folder run on the test stand-ins (tests/model_files.py,
small random generators under the same file names, with the tests' widget overrides); their times are
recorded but marked and never quoted.  All examples run in one process, in template order, each timed
from the workflow file to its saved images (model loading included); the ratio column is each time
over the first example's, a same-process reference for comparing runs on busy machines.

    python3 benchmarks/bench_examples.py [KEY ...] [--write]
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "tests"))
import conftest  # noqa: E402,F401  - makes ``gan_latent_lab`` this checkout

from gan_latent_lab import workflow  # noqa: E402
from model_files import STANDIN_OVERRIDES, write_example_inputs, write_example_models  # noqa: E402

sys.path.insert(0, os.path.join(REPO, "scripts"))
from make_thumbnails import needs_stand_in  # noqa: E402 - the same test the thumbnails use

OUT = os.path.join(HERE, "example_timings.json")


def load_builder():
    spec = importlib.util.spec_from_file_location("_build_examples", os.path.join(REPO, "scripts", "build_examples.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def machine() -> dict:
    model = platform.processor() or "unknown CPU"
    flags = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name") and model in ("", "unknown CPU", platform.machine()):
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = line
    except OSError:
        pass
    threads = torch.get_num_threads()
    avx512 = " avx512f " in f" {flags.split(':', 1)[-1].strip()} " if flags else False
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0  # other work on the cores as the run starts
    # scripts/build_examples.py describes the machine in the notes from these fields
    return {"cpu": model, "avx512": avx512, "torch_threads": threads, "cpu_count": os.cpu_count(),
            "load_1min_at_start": round(load, 2), "torch": torch.__version__, "python": platform.python_version()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("keys", nargs="*", help="examples to run (default: all)")
    ap.add_argument("--write", action="store_true", help=f"replace {os.path.relpath(OUT, REPO)} with these times")
    args = ap.parse_args()
    builder = load_builder()
    examples = sorted(builder.EXAMPLES, key=lambda e: e.number)
    if args.keys:
        examples = [e for e in examples if e.key in args.keys]
    info = machine()
    print(f"{info['cpu']}, {info['torch_threads']} torch threads, torch {info['torch']}")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        real_models = os.environ.get("GAN_LATENT_LAB_MODELS")
        stand_ins = {ex.key: needs_stand_in(builder.path_of(ex.key)) for ex in examples}
        for ex in examples:
            path = builder.path_of(ex.key)
            stand_in = stand_ins[ex.key]
            # the built-in-model examples get a fresh, empty models folder, so a Voynov run saved earlier is
            # not resumed; an example whose downloads are there uses the real folders, else the stand-ins
            # (and a stand-in input/example.png)
            models = os.path.join(tmp, ex.key, "models")
            input_dir = os.path.join(os.path.dirname(HERE), "input")  # the photos this repository carries
            if stand_in:
                write_example_models(Path(models))
                input_dir = str(write_example_inputs(Path(tmp, ex.key, "input")).parent)
            elif ex.needs:
                models = real_models
            if models is None:
                os.environ.pop("GAN_LATENT_LAB_MODELS", None)
            else:
                os.environ["GAN_LATENT_LAB_MODELS"] = models
            t0 = time.perf_counter()
            result = workflow.run(path, os.path.join(tmp, ex.key, "out"), input_dir=input_dir,
                                  overrides=STANDIN_OVERRIDES.get(ex.key) if stand_in else None)
            seconds = time.perf_counter() - t0
            results[ex.key] = {"seconds": round(seconds, 2), "stand_in": stand_in, "images": len(result.images)}
            base = next(iter(results.values()))["seconds"]
            print(f"{ex.stem:32s} {seconds:8.2f} s  {seconds / base:7.1f}x the first"
                  + ("  (stand-in, not quoted)" if stand_in else ""))
        if real_models is None:
            os.environ.pop("GAN_LATENT_LAB_MODELS", None)
        else:
            os.environ["GAN_LATENT_LAB_MODELS"] = real_models
    if args.write:
        data = {"written_by": "benchmarks/bench_examples.py --write",
                "date": datetime.date.today().isoformat(), "machine": info, "examples": results}
        if args.keys and os.path.exists(OUT):
            with open(OUT, encoding="utf-8") as f:
                old = json.load(f)
            data["examples"] = {**old.get("examples", {}), **results}
        with open(OUT, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
            f.write("\n")
        print(f"wrote {os.path.relpath(OUT, REPO)}; now run scripts/build_examples.py")


if __name__ == "__main__":
    main()
