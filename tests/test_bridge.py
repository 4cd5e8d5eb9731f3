"""How generators meet ComfyUI's memory manager.  ComfyUI cannot run inside the unit suite, so a
minimal stand-in for its two modules records what the bridge hands over (the real one is exercised
by test_comfyui_e2e.py)."""

from __future__ import annotations

import gc
import sys
import types
import weakref

import pytest
import torch

from gan_latent_lab.nodes import bridge
from gan_latent_lab.nodes.bridge import autograd_ready


class FakePatcher:
    def __init__(self, model, load_device, offload_device):
        self.model, self.load_device, self.offload_device = model, load_device, offload_device


@pytest.fixture()
def fake_comfy(monkeypatch):
    loaded = []  # ComfyUI keeps weak references to the patchers it loaded
    mm = types.ModuleType("comfy.model_management")
    mm.get_torch_device = lambda: torch.device("cpu")
    mm.unet_offload_device = lambda: torch.device("cpu")
    mm.intermediate_device = lambda: torch.device("cpu")
    mm.load_models_gpu = lambda patchers: loaded.extend(weakref.ref(p) for p in patchers)
    mp = types.ModuleType("comfy.model_patcher")
    mp.ModelPatcher = FakePatcher
    comfy = types.ModuleType("comfy")
    comfy.model_management, comfy.model_patcher = mm, mp
    for name, mod in (("comfy", comfy), ("comfy.model_management", mm), ("comfy.model_patcher", mp)):
        monkeypatch.setitem(sys.modules, name, mod)
    return loaded


def tiny():
    return torch.nn.Sequential(torch.nn.Linear(4, 4)).requires_grad_(False)


def test_patcher_is_reused_and_generator_is_freed_when_unused(fake_comfy):
    gen = tiny()
    bridge.load_to_device(gen)
    first = fake_comfy[-1]()
    bridge.load_to_device(gen)
    assert fake_comfy[-1]() is first and first.model.gen is gen
    ref = weakref.ref(gen)
    del gen, first
    gc.collect()
    assert ref() is None, "the bridge kept an unused generator alive"
    assert all(r() is None for r in fake_comfy)


def test_copy_for_training_leaves_the_patcher_behind(fake_comfy):
    with torch.inference_mode():
        gen = tiny()
        bridge.load_to_device(gen)
    with torch.inference_mode(False):
        copy = autograd_ready(gen)
    assert copy is not gen and bridge.PATCHER_ATTR not in copy.__dict__
    assert not next(copy.parameters()).is_inference() and next(gen.parameters()).is_inference()
    torch.testing.assert_close(copy[0].weight, gen[0].weight.clone())
    assert autograd_ready(copy) is copy  # ordinary tensors: no second copy


def test_previews_reach_comfyui_at_a_modest_size(monkeypatch):
    """The Voynov preview grid (8 directions x 5 shifts of 64 px tiles = 320 x 512) is sent at most
    220 px (the frontend's preview area) on its longest side, proportions kept; small previews are not enlarged."""
    from PIL import Image

    sent = []

    class Bar:
        def __init__(self, total):
            self.total = total

        def update_absolute(self, value, total=None, preview=None):
            sent.append(preview)

    utils = types.ModuleType("comfy.utils")
    utils.ProgressBar = Bar
    monkeypatch.setitem(sys.modules, "comfy", types.ModuleType("comfy"))
    monkeypatch.setitem(sys.modules, "comfy.utils", utils)
    bar = bridge.Progress(3)
    bar.set(1, Image.new("RGB", (320, 512), "red"))
    bar.set(2, Image.new("RGB", (64, 48), "blue"))
    bar.set(3)
    big, small, none = sent
    assert big[0] == "PNG" and big[1].size[1] == 220 and big[1].size[0] in (137, 138)
    assert small[1].size == (64, 48) and none is None
