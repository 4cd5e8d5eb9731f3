"""VGG16 files and LPIPS on VGG16: both readers on files the test builds (a torchvision state dict and a
TorchScript archive laid out like NVIDIA's vgg16.pt, random weights), refusals, the VGG16 forward
against a plain conv/pool chain written here, LPIPS against its formula and against the scripted
module's own computation, the lpips package's real vgg.pth, and the Load Perceptual Distance node."""

from __future__ import annotations

import os
import pickle
import sys
import types
import zipfile

import pytest
import torch

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
import torch.nn.functional as F

from gan_latent_lab.directions.lpips import LPIPS, SIZE_CAP, VGG16Features
from gan_latent_lab.directions.perceptual import PixelMSSSIM, image_distance
from gan_latent_lab.errors import CheckpointError, InputError, UnsafePickleError
from gan_latent_lab.loaders.vgg import read_lpips_weights, read_vgg16
from helpers import face_dcgan_path, package_file

# VGG16 as torchvision builds it: 'C' a 3x3 conv + ReLU, 'M' a 2x2 max-pool; written out here, not imported
PLAN = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
TAPS = (3, 8, 15, 22, 29)  # features index of relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 in torchvision's Sequential
CHANNELS = (64, 128, 256, 512, 512)
MEAN, STD = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])


def torchvision_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """A VGG16 state dict under torchvision's names with He-scaled random weights (activations stay O(1))."""
    g = torch.Generator().manual_seed(seed)
    sd, idx, cin = {}, 0, 3
    for item in PLAN:
        if item == "M":
            idx += 1
            continue
        sd[f"features.{idx}.weight"] = torch.randn(item, cin, 3, 3, generator=g) * (2 / (9 * cin)) ** 0.5
        sd[f"features.{idx}.bias"] = torch.randn(item, generator=g) * 0.05
        idx, cin = idx + 2, item
    sd["classifier.6.weight"] = torch.randn(10, 8, generator=g)  # a stand-in head: the reader must ignore it
    return sd


def random_lin(seed: int = 1) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(c, generator=g) * 0.5 for c in CHANNELS]


def plain_vgg(sd: dict[str, torch.Tensor], x: torch.Tensor) -> list[torch.Tensor]:
    """The oracle: torchvision's layer list executed op by op, keeping the five ReLU outputs LPIPS reads."""
    taps, idx = [], 0
    for item in PLAN:
        if item == "M":
            x = F.max_pool2d(x, kernel_size=2, stride=2)
            idx += 1
        else:
            x = F.conv2d(x, sd[f"features.{idx}.weight"], sd[f"features.{idx}.bias"], stride=1, padding=1)
            x = torch.clamp(x, min=0)
            if idx + 1 in TAPS:
                taps.append(x)
                if len(taps) == len(TAPS):
                    return taps  # pool5 and the classifier do not enter LPIPS
            idx += 2
    return taps


def lpips_formula(sd, lin, x, y) -> torch.Tensor:
    """LPIPS written from the paper: ImageNet-normalised [0, 1] images, unit channel vectors, weighted squared
    differences as a 1x1 convolution, spatial mean, sum over layers."""
    def prep(img):
        return (((img + 1) / 2) - MEAN.view(1, 3, 1, 1)) / STD.view(1, 3, 1, 1)

    total = torch.zeros(len(x))
    for fx, fy, w in zip(plain_vgg(sd, prep(x)), plain_vgg(sd, prep(y)), lin):
        nx = fx / (fx.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        ny = fy / (fy.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        total = total + F.conv2d((nx - ny) ** 2, w.view(1, -1, 1, 1)).mean(dim=(1, 2, 3))
    return total


# ----- a TorchScript module laid out like NVIDIA's vgg16.pt ----------------------------------------------
class NvidiaLikeLayers(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        cin, k, p = 3, 1, 1
        for item in PLAN:
            if item == "M":
                setattr(self, f"pool{p}", torch.nn.MaxPool2d(2))
                p += 1
            else:
                setattr(self, f"conv{k}", torch.nn.Conv2d(cin, item, 3, padding=1))
                cin, k = item, k + 1
        self.fc1 = torch.nn.Linear(8, 8)  # the real head is 25088 -> 4096 -> 4096 -> 1000; never read
        self.fc2 = torch.nn.Linear(8, 8)
        self.fc3 = torch.nn.Linear(8, 8)


class NvidiaLikeVGG(torch.nn.Module):
    """Inputs in [0, 255]; ``return_lpips`` gives the feature vector whose squared distance is LPIPS."""

    def __init__(self, lin: list[torch.Tensor]) -> None:
        super().__init__()
        self.layers = NvidiaLikeLayers()
        for k, w in enumerate(lin):
            setattr(self, f"lpips{k}", torch.nn.Parameter(w.view(-1, 1, 1).clone()))
        self.register_buffer("mean", MEAN.view(1, 3, 1, 1) * 255)
        self.register_buffer("std", STD.view(1, 3, 1, 1) * 255)

    def _lp(self, f: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        f = f / (f.square().sum(1, keepdim=True).sqrt() + 1e-10)
        f = f * w.sqrt().view(1, -1, 1, 1) / (f.shape[2] * f.shape[3]) ** 0.5
        return f.flatten(1)

    def forward(self, x: torch.Tensor, resize_images: bool = True, return_lpips: bool = False) -> torch.Tensor:
        m = self.layers
        x = (x - self.mean) / self.std
        x = torch.relu(m.conv2(torch.relu(m.conv1(x))))
        t1 = x
        x = m.pool1(x)
        x = torch.relu(m.conv4(torch.relu(m.conv3(x))))
        t2 = x
        x = m.pool2(x)
        x = torch.relu(m.conv7(torch.relu(m.conv6(torch.relu(m.conv5(x))))))
        t3 = x
        x = m.pool3(x)
        x = torch.relu(m.conv10(torch.relu(m.conv9(torch.relu(m.conv8(x))))))
        t4 = x
        x = m.pool4(x)
        x = torch.relu(m.conv13(torch.relu(m.conv12(torch.relu(m.conv11(x))))))
        if return_lpips:
            return torch.cat([self._lp(t1, self.lpips0), self._lp(t2, self.lpips1), self._lp(t3, self.lpips2),
                              self._lp(t4, self.lpips3), self._lp(x, self.lpips4)], dim=1)
        return x


def nvidia_like(sd: dict[str, torch.Tensor], lin: list[torch.Tensor]) -> NvidiaLikeVGG:
    m = NvidiaLikeVGG(lin)
    tv_index = sorted({int(k.split(".")[1]) for k in sd if k.startswith("features.")})
    with torch.no_grad():
        for k, i in enumerate(tv_index, start=1):
            getattr(m.layers, f"conv{k}").weight.copy_(sd[f"features.{i}.weight"])
            getattr(m.layers, f"conv{k}").bias.copy_(sd[f"features.{i}.bias"])
    return m.eval()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("vgg")
    sd, lin = torchvision_state(), random_lin()
    torch.save(sd, root / "vgg16-397923af.pth")
    torch.save({f"lin{k}.model.1.weight": w.view(1, -1, 1, 1) for k, w in enumerate(lin)}, root / "vgg.pth")
    scripted = torch.jit.script(nvidia_like(sd, lin))
    scripted.save(str(root / "vgg16.pt"))
    return types.SimpleNamespace(root=root, sd=sd, lin=lin, tv=root / "vgg16-397923af.pth", lins=root / "vgg.pth",
                                 nv=root / "vgg16.pt", scripted=scripted)


@pytest.fixture(scope="module")
def tv(files):
    return read_vgg16(files.tv)


@pytest.fixture(scope="module")
def calibrated(files, tv):
    return image_distance(tv, files.lins)


def images(n: int = 2, size: int = 16, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, size, size, generator=g) * 2 - 1
    return F.avg_pool2d(x, 3, 1, 1)  # some spatial structure


# ----- readers ----------------------------------------------------------------------------------------------
def conv_list(sd):
    return [(sd[f"features.{i}.weight"], sd[f"features.{i}.bias"])
            for i in sorted({int(k.split(".")[1]) for k in sd if k.startswith("features.")})]


@pytest.mark.parametrize("variant", ["zip", "legacy", "module-prefix", "nested"])
def test_torchvision_state_dict_is_read(files, tmp_path, variant):
    sd = files.sd
    path = tmp_path / "vgg16.pth"
    if variant == "zip":
        path = files.tv
    elif variant == "legacy":
        torch.save(sd, path, _use_new_zipfile_serialization=False)
    elif variant == "module-prefix":
        torch.save({f"module.{k}": v for k, v in sd.items()}, path)
    else:
        torch.save({"state_dict": sd, "epoch": 90}, path)
    vgg = read_vgg16(path)
    assert vgg.layout == "torchvision" and vgg.lin is None and len(vgg.convs) == 13
    for (w, b), (w0, b0) in zip(vgg.convs, conv_list(sd)):
        assert torch.equal(w, w0) and torch.equal(b, b0)


def test_nvidia_torchscript_archive_is_read_without_running_it(files, monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("the reader must not compile or run TorchScript")

    monkeypatch.setattr(torch.jit, "load", refuse)
    monkeypatch.setattr(torch, "load", refuse)  # a TorchScript archive never goes through torch.load either
    vgg = read_vgg16(files.nv)
    assert vgg.layout == "nvidia" and len(vgg.convs) == 13
    for k, (w, b) in enumerate(vgg.convs, start=1):
        conv = getattr(files.scripted.layers, f"conv{k}")
        assert torch.equal(w, conv.weight.detach()) and torch.equal(b, conv.bias.detach())
    assert [tuple(w.shape) for w in vgg.lin] == [(c,) for c in CHANNELS]
    assert all(torch.equal(a, b) for a, b in zip(vgg.lin, files.lin))


def test_lpips_on_nvidia_weights_equals_the_scripted_modules_own_lpips(files):
    """The archive's module, run by torch.jit in this test (our own file), against our reading of its tensors."""
    x, y = images(2, 24, seed=1), images(2, 24, seed=2)
    with torch.no_grad():
        fx = files.scripted((x + 1) * 127.5, resize_images=False, return_lpips=True)
        fy = files.scripted((y + 1) * 127.5, resize_images=False, return_lpips=True)
    expected = (fx - fy).square().sum(1)
    d = image_distance(str(files.nv))
    assert d.name == "lpips-vgg16" and "vgg16.pt" in d.summary and not d.hint
    assert torch.allclose(d(x, y), expected, rtol=1e-4, atol=1e-6), (d(x, y), expected)


def test_lpips_package_real_vgg_weights_are_read():
    path = package_file("lpips", "weights/v0.1/vgg.pth")
    lin = read_lpips_weights(path)
    assert [tuple(w.shape) for w in lin] == [(c,) for c in CHANNELS]
    assert all((w > 0).all() and (w < 10).all() for w in lin)
    raw = torch.load(path, map_location="cpu", weights_only=True)  # the same file, read directly
    for k, w in enumerate(lin):
        assert torch.equal(w, raw[f"lin{k}.model.1.weight"].flatten())


@pytest.mark.parametrize("net, why", [("alex", "needs 128 weights"), ("squeeze", "7 layers")])
def test_lpips_weights_of_other_networks_are_refused(net, why):
    path = package_file("lpips", f"weights/v0.1/{net}.pth")
    with pytest.raises(CheckpointError, match=why) as e:
        read_lpips_weights(path)
    assert f"{net}.pth" in str(e.value)


# ----- refusals -----------------------------------------------------------------------------------------------
def _refused(path, match: str = "") -> CheckpointError:
    with pytest.raises(CheckpointError, match=match) as e:
        read_vgg16(path)
    assert os.path.basename(str(path)) in str(e.value)
    return e.value


def test_wrong_shapes_missing_layers_and_nan_are_refused(files, tmp_path):
    bad = dict(files.sd)
    bad["features.0.weight"] = torch.zeros(64, 3, 5, 5)
    torch.save(bad, tmp_path / "five.pth")
    _refused(tmp_path / "five.pth", r"features\.0\.weight.*\[64, 3, 5, 5\]")
    bad = {k: v for k, v in files.sd.items() if not k.startswith("features.28.")}
    torch.save(bad, tmp_path / "short.pth")
    _refused(tmp_path / "short.pth", r"features\.28\.weight.*missing")
    bad = dict(files.sd)
    bad["features.5.bias"] = bad["features.5.bias"].clone()
    bad["features.5.bias"][3] = float("nan")
    torch.save(bad, tmp_path / "nan.pth")
    _refused(tmp_path / "nan.pth", "NaN")
    vgg19 = dict(files.sd)  # VGG19 puts a conv where VGG16 pools
    vgg19["features.16.weight"] = torch.zeros(256, 256, 3, 3)
    torch.save({k: v for k, v in vgg19.items() if k != "features.17.weight"}, tmp_path / "vgg19.pth")
    _refused(tmp_path / "vgg19.pth", r"features\.17\.weight")


def test_generator_checkpoint_is_refused():
    err = _refused(face_dcgan_path(), "not a VGG16 file")
    assert "features.N.weight" in str(err)


def test_calibration_file_and_network_are_not_confused(files):
    _refused(files.lins, "LPIPS calibration file")
    with pytest.raises(CheckpointError, match="VGG16 network, not LPIPS") as e:
        read_lpips_weights(files.tv)
    assert "vgg16-397923af.pth" in str(e.value)
    with pytest.raises(CheckpointError, match="TorchScript"):
        read_lpips_weights(files.nv)


def test_hostile_pickle_named_pth_is_refused_and_nothing_runs(tmp_path):
    sentinel = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {sentinel}",))

    (tmp_path / "vgg16.pth").write_bytes(pickle.dumps({"features.0.weight": Evil()}, protocol=2))
    with pytest.raises(UnsafePickleError, match="system") as e:
        read_vgg16(tmp_path / "vgg16.pth")
    assert "vgg16.pth" in str(e.value) and not sentinel.exists()


def _archive(path, entries: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)


def _entries(nv_path) -> dict[str, bytes]:
    with zipfile.ZipFile(nv_path) as z:
        return {n: z.read(n) for n in z.namelist()}


def test_hostile_torchscript_archive_is_refused_and_nothing_runs(files, tmp_path):
    sentinel = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {sentinel}",))

    entries = _entries(files.nv)
    prefix = next(n for n in entries if n.endswith("/data.pkl")).rsplit("/", 1)[0]
    entries[f"{prefix}/data.pkl"] = pickle.dumps(Evil(), protocol=2)
    _archive(tmp_path / "vgg16.pt", entries)
    with pytest.raises(UnsafePickleError, match="system") as e:
        read_vgg16(tmp_path / "vgg16.pt")
    assert "vgg16.pt" in str(e.value) and not sentinel.exists()


def test_torchscript_storage_sizes_are_checked(files, tmp_path):
    entries = _entries(files.nv)
    prefix = next(n for n in entries if n.endswith("/data.pkl")).rsplit("/", 1)[0]
    storages = sorted((n for n in entries if n.startswith(f"{prefix}/data/")), key=lambda n: len(entries[n]))
    cut = dict(entries)
    big = storages[-1]  # the largest storage: a conv weight
    cut[big] = entries[big][: len(entries[big]) // 2]
    _archive(tmp_path / "cut.pt", cut)
    _refused(tmp_path / "cut.pt", "bytes")
    gone = {n: v for n, v in entries.items() if n != big}
    _archive(tmp_path / "gone.pt", gone)
    _refused(tmp_path / "gone.pt", "not in it")


class Holder(torch.nn.Module):
    def __init__(self, layers: torch.nn.Module) -> None:
        super().__init__()
        self.layers = layers

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers.conv1(x)


def test_torchscript_reads_only_what_is_asked_within_a_byte_budget(files):
    from gan_latent_lab.loaders.torchscript import read_torchscript

    arch = read_torchscript(files.nv)
    assert arch.classes[""].startswith("__torch__.") and "layers.fc1.weight" in arch.tensors
    one = arch.load(["layers.conv1.bias"], max_bytes=64 * 4)
    assert torch.equal(one["layers.conv1.bias"], files.scripted.layers.conv1.bias.detach())
    with pytest.raises(CheckpointError, match="more than"):  # e.g. a small tensor in a huge compressed storage
        arch.load(["layers.conv13.weight"], max_bytes=2 ** 20)


def test_torchscript_archive_with_wrong_layers_is_refused(tmp_path):
    layers = NvidiaLikeLayers()
    layers.conv3 = torch.nn.Conv2d(64, 96, 3, padding=1)  # a different network
    torch.jit.script(Holder(layers)).save(str(tmp_path / "vgg16.pt"))
    _refused(tmp_path / "vgg16.pt", r"layers\.conv3\.weight.*\[96, 64, 3, 3\]")
    other = torch.jit.script(torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3)))
    other.save(str(tmp_path / "other.pt"))
    _refused(tmp_path / "other.pt", "not a VGG16 file")


# ----- the network and the distance ----------------------------------------------------------------------------
def test_vgg16_features_match_a_plain_conv_pool_chain(files, tv):
    x = torch.randn(2, 3, 48, 40, generator=torch.Generator().manual_seed(4))
    ours = VGG16Features(tv.convs)(x)
    ref = plain_vgg(files.sd, x)
    assert [tuple(t.shape) for t in ours] == [(2, 64, 48, 40), (2, 128, 24, 20), (2, 256, 12, 10), (2, 512, 6, 5),
                                              (2, 512, 3, 2)]
    for a, b in zip(ours, ref):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-5 * float(b.abs().max()))


def test_lpips_matches_its_formula(files, calibrated):
    x, y = images(3, 24, seed=5), images(3, 24, seed=6)
    d = calibrated
    assert d.name == "lpips-vgg16" and "vgg.pth" in d.summary and not d.hint
    expected = lpips_formula(files.sd, files.lin, x, y)
    assert torch.allclose(d(x, y), expected, rtol=1e-4), (d(x, y), expected)


def test_uniform_weights_without_calibration_say_so(files, tv):
    d = image_distance(tv)
    assert d.name == "lpips-vgg16-uniform" and "vgg.pth" in d.hint
    x, y = images(2, 16, seed=7), images(2, 16, seed=8)
    ones = [torch.ones(c) for c in CHANNELS]
    assert torch.allclose(d(x, y), lpips_formula(files.sd, ones, x, y), rtol=1e-4)
    off = image_distance(files.nv, False)  # NVIDIA's own weights switched off
    assert off.name == "lpips-vgg16-uniform" and torch.allclose(off(x, y), d(x, y), rtol=1e-5)


def test_explicit_calibration_overrides_the_files_own(files):
    nv = read_vgg16(files.nv)
    d = image_distance(nv, [w * 2 for w in files.lin])
    x, y = images(2, 16, seed=9), images(2, 16, seed=10)
    assert torch.allclose(d(x, y), 2 * image_distance(nv)(x, y), rtol=1e-5)


def test_distance_properties(calibrated):
    d = calibrated
    x = images(3, 16, seed=11)
    g = torch.Generator().manual_seed(12)
    noise = torch.randn(x.shape, generator=g)
    y = (x + 0.3 * noise).clamp(-1, 1)
    assert torch.allclose(d(x, x), torch.zeros(3), atol=1e-6)
    assert torch.allclose(d(x, y), d(y, x), rtol=1e-5)
    assert torch.allclose(d(x, y)[1:], d(x[1:], y[1:]), rtol=1e-5)  # per image: the others do not matter
    levels = [d((x + s * noise).clamp(-1, 1), x) for s in (0.03, 0.3, 1.0)]
    for lo, hi in zip(levels, levels[1:]):
        assert (hi > lo).all(), levels
    xg = x.clone().requires_grad_(True)
    d(xg, y).sum().backward()
    assert torch.isfinite(xg.grad).all() and xg.grad.abs().sum() > 0


def test_gradient_is_finite_where_features_vanish(tv):
    d = image_distance(tv)
    x = torch.full((1, 3, 16, 16), -1.0, requires_grad=True)  # a flat image: many all-zero ReLU positions
    d(x, images(1, 16)).sum().backward()
    assert torch.isfinite(x.grad).all()


def test_target_features_are_reused_only_while_the_target_is_unchanged(files, tv):
    cached = LPIPS(tv, lin=files.lin)
    fresh = LPIPS(tv, lin=files.lin, cache_target=False)
    x, y = images(2, 16, seed=13), images(2, 16, seed=14)
    assert torch.allclose(cached(x, y), fresh(x, y), rtol=1e-6)
    assert cached._target is not None
    y.mul_(0.5)  # in place: the cached features are stale now
    assert torch.allclose(cached(x, y), fresh(x, y), rtol=1e-6)
    y2 = y.clone().requires_grad_(True)  # a target that wants a gradient goes through the network with x
    out = cached(x, y2)
    out.sum().backward()
    assert y2.grad is not None and torch.allclose(out.detach(), fresh(x, y), rtol=1e-5)


def test_large_images_are_area_downsampled_to_the_cap(tv):
    assert SIZE_CAP == 256
    vgg = tv
    x, y = images(2, 32, seed=15), images(2, 32, seed=16)
    at_cap = LPIPS(vgg, size_cap=16)(F.avg_pool2d(x, 2), F.avg_pool2d(y, 2))  # 2x2 means: area downsampling by 2
    assert torch.allclose(LPIPS(vgg, size_cap=16)(x, y), at_cap, rtol=1e-5)
    xw, yw = images(1, 48, seed=17)[..., :32, :], images(1, 48, seed=18)[..., :32, :]  # 32 x 48 -> 16 x 24
    small = LPIPS(vgg, size_cap=48)(F.avg_pool2d(xw, 2), F.avg_pool2d(yw, 2))
    assert torch.allclose(LPIPS(vgg, size_cap=24)(xw, yw), small, rtol=1e-5)
    assert not torch.allclose(LPIPS(vgg, size_cap=48)(xw, yw), small, rtol=1e-3)  # below the cap: full size


def test_bad_inputs_are_refused_before_work(files, tv):
    d = image_distance(tv)
    with pytest.raises(InputError, match="16 px"):
        d(images(1, 8), images(1, 8))
    with pytest.raises(InputError, match="one shape"):
        d(images(1, 32), images(2, 32))
    with pytest.raises(InputError, match="VGG16 file"):
        image_distance(None, files.lins)
    with pytest.raises(InputError, match="5 weight vectors"):
        image_distance(tv, [torch.ones(64)])
    with pytest.raises(InputError, match="non-negative"):
        image_distance(tv, [-w for w in files.lin])


def test_without_vgg_the_pixel_distance_names_the_files_that_help():
    d = image_distance()
    assert isinstance(d, PixelMSSSIM) and d.name == "pixel+ms-ssim"
    assert "vgg16-397923af.pth" in d.hint and "vgg16.pt" in d.hint and "models/gan_aux" in d.hint


# ----- the node -------------------------------------------------------------------------------------------------
@pytest.fixture()
def aux(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_LATENT_LAB_MODELS", str(tmp_path))
    return tmp_path / "gan_aux"


def test_node_without_files_offers_pixel_distance_and_names_the_files(aux):
    from gan_latent_lab.nodes import perceptual_nodes as pn

    spec = pn.LoadPerceptualDistance.INPUT_TYPES()
    assert spec["required"]["vgg_file"][0] == [pn.NO_VGG]
    dist, text = pn.LoadPerceptualDistance().load(pn.NO_VGG)
    assert isinstance(dist, PixelMSSSIM)
    assert "vgg16-397923af.pth" in text and "vgg16.pt" in text and "pixel" in text
    assert pn.LoadPerceptualDistance.RETURN_TYPES[0] == "GAN_PERCEPTUAL"


def test_node_reads_files_in_gan_aux(aux, files):
    from gan_latent_lab.nodes import perceptual_nodes as pn

    aux.mkdir()
    (aux / "vgg16-397923af.pth").write_bytes(files.tv.read_bytes())
    (aux / "vgg16.pt").write_bytes(files.nv.read_bytes())
    spec = pn.LoadPerceptualDistance.INPUT_TYPES()
    assert spec["required"]["vgg_file"][0] == ["vgg16-397923af.pth", "vgg16.pt", pn.NO_VGG]
    dist, text = pn.LoadPerceptualDistance().load("vgg16-397923af.pth")  # no vgg.pth yet: uniform, and says so
    assert dist.name == "lpips-vgg16-uniform" and "vgg.pth" in text
    (aux / "vgg.pth").write_bytes(files.lins.read_bytes())
    assert "vgg.pth" not in pn.vgg_choices() and pn.lpips_choices()[2] == "vgg.pth"
    dist, text = pn.LoadPerceptualDistance().load("vgg16-397923af.pth", pn.AUTO_LIN)
    assert dist.name == "lpips-vgg16" and "vgg.pth" in text and "To improve" not in text
    x, y = images(2, 16, seed=19), images(2, 16, seed=20)
    assert torch.allclose(dist(x, y), lpips_formula(files.sd, files.lin, x, y), rtol=1e-4)
    dist, text = pn.LoadPerceptualDistance().load("vgg16.pt", pn.UNIFORM_LIN)
    assert dist.name == "lpips-vgg16-uniform"
    again, _ = pn.LoadPerceptualDistance().load("vgg16.pt", "vgg.pth")  # a chosen file beats NVIDIA's own weights
    assert again.name == "lpips-vgg16" and "vgg.pth" in again.summary
    assert pn.load_vgg(str(aux / "vgg16.pt")) is again.weights  # read once while a distance uses it


def test_node_refuses_bad_names_and_files(aux, files):
    from gan_latent_lab.nodes import perceptual_nodes as pn

    aux.mkdir()
    (aux / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError):
        pn.LoadPerceptualDistance().load("../vgg16.pth")
    with pytest.raises(InputError, match="no file"):
        pn.LoadPerceptualDistance().load("missing.pth")
    with pytest.raises(CheckpointError, match="junk.pth"):
        pn.LoadPerceptualDistance().load("junk.pth")


def test_gan_aux_folder_is_registered_with_comfyui(monkeypatch, tmp_path):
    from gan_latent_lab.nodes import bridge

    fp = types.ModuleType("folder_paths")
    fp.models_dir = str(tmp_path)
    fp.folder_names_and_paths = {}
    monkeypatch.setitem(sys.modules, "folder_paths", fp)
    bridge.register_folders()
    paths, exts = fp.folder_names_and_paths["gan_aux"]
    assert paths == [str(tmp_path / "gan_aux")] and {".pt", ".pth"} <= exts
