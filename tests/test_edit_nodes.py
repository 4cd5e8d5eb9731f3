"""Node pipeline on the real face DCGAN: Load -> Latent -> SeFa -> Apply -> Decode, grids, files."""

import importlib.util
import shutil
from pathlib import Path

import pytest
import torch

from gan_latent_lab.errors import GANLabError, InputError, MismatchError
from gan_latent_lab.nodes import direction_nodes as dn
from gan_latent_lab.nodes import edit_nodes as en
from gan_latent_lab.nodes import latent_nodes as ln
from gan_latent_lab.nodes import model_nodes as mn

FACE = "builtin: face DCGAN 64px (gan-face-generate)"
INTERFACEGAN = Path(__file__).resolve().parent / "data" / "interfacegan"
MY_NODES = {**dn.NODES, **en.NODES, **ln.NODES}


@pytest.fixture(autouse=True)
def models_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_LATENT_LAB_MODELS", str(tmp_path))
    monkeypatch.setenv("GAN_LATENT_LAB_DEVICE", "cpu")
    return tmp_path


@pytest.fixture(scope="module")
def model():
    if importlib.util.find_spec("gan_face_generate") is None:
        pytest.skip("gan-face-generate not installed")
    return mn.LoadGANModel().load(FACE)[0]


@pytest.fixture()
def latent(model):
    return mn.GANLatentFromSeed().sample(model, 10, 3, 1.0, 0, "0")[0]


def test_node_declarations():
    from gan_latent_lab.nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS

    assert set(MY_NODES) | set(mn.NODES) <= set(NODE_CLASS_MAPPINGS)
    for node_id, cls in NODE_CLASS_MAPPINGS.items():  # every node of the pack, the core ones included
        display = NODE_DISPLAY_NAME_MAPPINGS[node_id]
        assert node_id.startswith("GANLab") and display
        assert cls.DESCRIPTION and cls.CATEGORY.startswith("GAN Latent Lab")
        assert len(cls.OUTPUT_TOOLTIPS) == len(cls.RETURN_TYPES)
        assert hasattr(cls, cls.FUNCTION)
        spec = cls.INPUT_TYPES()
        for group in spec.values():
            for name, (kind, opts) in group.items():
                assert opts.get("tooltip"), f"{node_id}.{name} has no tooltip"


def test_pipeline_sefa_apply_decode_grid(model, latent):
    dirs, table = dn.SeFaDirections().find(model, "all", 10)
    assert len(dirs) == 10 and "eigenvalue" in table and table.count("\n") >= 11
    edited = en.ApplyDirection().apply(model, latent, dirs, 0, 5.0, 0, -1, False)[0]
    assert torch.allclose(edited.codes - latent.codes, 5.0 * dirs.vectors[0].expand(3, 1, 100), atol=1e-5)
    twice = en.ApplyDirection().apply(model, edited, dirs, 1, -2.0, 0, 0, False)[0]  # chainable
    assert torch.allclose(twice.codes - edited.codes, -2.0 * dirs.vectors[1].expand(3, 1, 100), atol=1e-5)
    img = mn.GANDecode().decode(model, twice, "const")[0]
    base = mn.GANDecode().decode(model, latent, "const")[0]
    assert img.shape == (3, 64, 64, 3) and 0 <= float(img.min()) and float(img.max()) <= 1
    assert float((img - base).abs().mean()) > 0.01
    grid = en.DirectionGrid().grid(model, latent, dirs, 0, 3, 5.0, 4, 0, -1, False)[0]
    assert grid.ndim == 4 and grid.shape[0] == 1 and grid.shape[-1] == 3
    # 3 rows and 4 columns of 64 px cells, plus label margins and 2 px gaps
    assert grid.shape[1] >= 3 * 64 + 2 * 2 and grid.shape[2] >= 4 * 64 + 3 * 2
    assert grid.shape[1] < 3 * 64 + 60 and grid.shape[2] < 4 * 64 + 200
    sw = en.DirectionSweep().sweep(model, latent, dirs, 2, 3.0, 5, 0, -1, False)[0]
    assert sw.codes.shape == (15, 1, 100)


def test_nodes_validate_before_work(model, latent):
    dirs = dn.SeFaDirections().find(model, "all", 5)[0]
    with pytest.raises(InputError):
        en.ApplyDirection().apply(model, latent, dirs, 0, float("nan"), 0, -1, False)
    with pytest.raises(InputError):
        en.ApplyDirection().apply(model, latent, dirs, 0, 1.0, 0, 1, False)  # DCGAN has one slot
    with pytest.raises(InputError):
        en.ApplyDirection().apply(model, latent, dirs, 0, 1.0, 0, -1, True)  # sigma on eigenvalues
    with pytest.raises(InputError):
        en.DirectionGrid().grid(model, latent, dirs, 7, 3, 5.0, 4, 0, -1, False)
    with pytest.raises(InputError):
        dn.SeFaDirections().find(model, "0-3", 5)


def test_save_load_directions_nodes(model, models_dir):
    dirs = dn.SeFaDirections().find(model, "all", 8)[0]
    path = dn.SaveDirections().save(dirs, "face_sefa", False)[0]
    assert Path(path) == models_dir / "gan_directions" / "face_sefa.safetensors"
    before = Path(path).read_bytes()
    with pytest.raises(GANLabError):
        dn.SaveDirections().save(dn.SeFaDirections().find(model, "all", 3)[0], "face_sefa", False)
    assert Path(path).read_bytes() == before
    with pytest.raises(InputError):
        dn.SaveDirections().save(dirs, "../escape", False)
    assert "face_sefa.safetensors" in dn.direction_choices()
    back, summary = dn.LoadDirections().load("face_sefa.safetensors", model)
    assert torch.equal(back.vectors, dirs.vectors) and "sefa" in summary


def test_load_directions_imports_and_refuses_wrong_width(model, models_dir):
    folder = models_dir / "gan_directions"
    folder.mkdir(parents=True)
    shutil.copy(INTERFACEGAN / "stylegan_ffhq_age_boundary.npy", folder)
    assert "stylegan_ffhq_age_boundary.npy" in dn.direction_choices()
    d, summary = dn.LoadDirections().load("stylegan_ffhq_age_boundary.npy")
    assert d.method == "interfacegan" and len(d) == 1
    with pytest.raises(MismatchError, match=r"512.*100"):
        dn.LoadDirections().load("stylegan_ffhq_age_boundary.npy", model)
    with pytest.raises(InputError):
        dn.LoadDirections().load("nothing_here.npy")


def test_latent_nodes(model, latent, models_dir):
    other = mn.GANLatentFromSeed().sample(model, 100, 1, 1.0, 0, "0")[0]
    frames = ln.LatentInterpolate().run(latent, other, 6, "slerp")[0]
    assert frames.codes.shape == (18, 1, 100)
    assert torch.allclose(frames.codes[5], other.codes[0], atol=1e-5)
    mixed = ln.StyleMix().mix(model, latent, other, 0, 0)[0]
    assert torch.equal(mixed.codes, other.codes.expand(3, -1, -1))  # one slot: all of B
    path = ln.SaveLatent().save(latent, "my_latent", False)[0]
    assert Path(path).parent == models_dir / "gan_latents"
    back, summary = ln.LoadLatent().load("my_latent.safetensors", model)
    assert torch.equal(back.codes, latent.codes) and back.seeds == [10, 11, 12] and "seeds 10..12" in summary
    imgs = mn.GANDecode().decode(model, back, "const")[0]
    assert imgs.shape == (3, 64, 64, 3)


def test_batch_limits_are_checked_before_work(model, latent, monkeypatch):
    """Interpolations beyond MAX_IMAGES latents, joined batches beyond MAX_BATCH and Decodes of more than
    MAX_IMAGES codes are refused up front."""
    from gan_latent_lab.directions.latent import GANLatent
    from gan_latent_lab.nodes import bridge
    from gan_latent_lab.nodes.common import MAX_BATCH, MAX_IMAGES

    big = mn.GANLatentFromSeed().sample(model, 0, MAX_BATCH, 1.0, 0, "0")[0]
    with pytest.raises(InputError, match=f"more than {MAX_IMAGES}"):
        ln.LatentInterpolate().run(big, big, 3, "lerp")  # 768 latents
    assert len(ln.LatentInterpolate().run(big, big, 2, "lerp")[0]) == MAX_IMAGES  # the limit itself is fine
    with pytest.raises(InputError, match=f"more than {MAX_BATCH}"):
        ln.LatentBatch().join(big, latent)
    too_many = GANLatent(codes=torch.zeros(MAX_IMAGES + 1, model.num_ws, model.w_dim), fingerprint=model.fingerprint,
                         space=big.space)

    def no_work(*a, **k):
        raise AssertionError("decoding started before the batch size was checked")

    monkeypatch.setattr(bridge, "load_to_device", no_work)
    with pytest.raises(InputError, match="split the batch"):
        mn.GANDecode().decode(model, too_many, "const")


def test_direction_grid_is_labelled_with_index_eigenvalue_and_strength(model, latent, monkeypatch):
    """Rows name the direction and its eigenvalue, columns the strength, and the text is drawn in the margins."""
    import re

    from gan_latent_lab.directions import grid as grid_mod

    dirs = dn.SeFaDirections().find(model, "all", 6)[0]
    seen = {}
    real = en.image_grid

    def spy(images, rows, cols, row_labels=(), col_labels=(), **kw):
        seen.update(rows=list(row_labels), cols=list(col_labels), images=images)
        return real(images, rows, cols, row_labels, col_labels, **kw)

    monkeypatch.setattr(en, "image_grid", spy)
    one = type(latent)(**{**latent.__dict__, "codes": latent.codes[:1], "z": latent.z[:1], "seeds": latent.seeds[:1]})
    out = en.DirectionGrid().grid(model, one, dirs, 2, 2, 4.0, 3, 0, -1, False)[0]
    assert len(seen["rows"]) == 2 and seen["cols"] == ["-4", "0", "+4"]
    for row, index in zip(seen["rows"], (2, 3)):
        m = re.fullmatch(rf"#{index} eig=([0-9.e+-]+)", row)
        assert m, row
        assert abs(float(m.group(1)) - float(dirs.values[index])) <= 1e-3 * float(dirs.values[index])
    plain = grid_mod.image_grid(seen["images"], 2, 3)
    assert out.shape[1] > plain.shape[1] and out.shape[2] > plain.shape[2]  # margins for the labels
    margin = out[0, :, :out.shape[2] - plain.shape[2]]
    assert float(margin.std()) > 0.05  # ink on the background: the row labels are drawn
