"""Regenerate ``biggan_hf32_repaired_io.safetensors`` with the reference implementation (not our code).

Why: ``tests/data/oracles/biggan_hf32`` (copied from the project's shared oracles) randomized the spectral-norm vectors ``weight_u`` / ``weight_v`` too,
so ``sigma = u . (W v)`` is tiny or negative, activations overflow and every stored output is NaN (the
reference itself gives NaN on those weights).  Here each ``weight_u`` / ``weight_v`` is replaced by the top
singular pair of its ``weight_orig`` (what converged power iteration holds in a trained model), every other
tensor is the oracle's, and ``pytorch-pretrained-biggan==0.1.1`` computes the images in eval mode, CPU float32.

Run: ``pip install pytorch-pretrained-biggan==0.1.1 && python3 tests/data/make_biggan_repaired_io.py``
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

HERE = Path(__file__).resolve().parent
ORACLES = HERE / "oracles"
OUT = HERE / "biggan_hf32_repaired_io.safetensors"
TRUNCATIONS = {"img_trunc04": 0.4, "img_trunc10": 1.0, "img_trunc0433": 0.433}


def main() -> None:
    from pytorch_pretrained_biggan import BigGAN, BigGANConfig

    config = json.loads((ORACLES / "biggan_hf32.json").read_text())["config.json"]
    state = load_file(ORACLES / "biggan_hf32.safetensors")
    io = load_file(ORACLES / "biggan_hf32_io.safetensors")
    out: dict[str, torch.Tensor] = {}
    for key in [k for k in state if k.endswith(".weight_orig")]:
        prefix = key[: -len("weight_orig")]
        u, _, vh = torch.linalg.svd(state[key].flatten(1).double())
        out[prefix + "weight_u"] = state[prefix + "weight_u"] = u[:, 0].float().contiguous()
        out[prefix + "weight_v"] = state[prefix + "weight_v"] = vh[0].float().contiguous()
    model = BigGAN(BigGANConfig.from_dict(config))
    model.load_state_dict(state, strict=True)
    model.eval()
    z, c = io["z"], io["class_vector"]
    out["z"], out["class_vector"] = z, c
    with torch.no_grad():
        for name, t in TRUNCATIONS.items():
            out[name] = model(t * z, c, t).contiguous()
    meta = {"source": "pytorch-pretrained-biggan 0.1.1 BigGAN.forward, eval mode, CPU float32",
            "weights": "tests/data/oracles/biggan_hf32.safetensors with every weight_u/weight_v replaced by the "
                       "tensors of the same name in this file (top singular pair of weight_orig)",
            "outputs": json.dumps({k: f"forward({t} * z, class_vector, truncation={t})"
                                   for k, t in TRUNCATIONS.items()})}
    save_file(out, OUT, metadata=meta)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
