"""Face alignment: the FFHQ geometry on synthetic landmarks, input conversion and refusals, the
MediaPipe landmarks on a real photo against hand-marked points, and the Align Face node.

input/astronaut.png is scikit-image's ``skimage/data/astronaut.png`` (NASA portrait of Eileen
Collins, public domain), copied so the tests do not depend on scikit-image's data layout.
"""

from __future__ import annotations

import math
import re
import sys
import tomllib
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gan_latent_lab.directions import align as al
from gan_latent_lab.directions import align_face, align_from_landmarks, find_landmarks
from gan_latent_lab.errors import GANLabError, InputError
from gan_latent_lab.nodes import align_nodes as an

ROOT = Path(__file__).resolve().parents[1]
ASTRONAUT = ROOT / "input" / "astronaut.png"

# Marked by hand on astronaut.png (512 x 512) from 20x zoomed crops with a pixel grid: the centre
# of each eye opening (midway between the corners, midway between the lids) and the two mouth
# corners, in pixel indices [x, y]. Image-left eye first.
HAND_EYES = np.array([[203.0, 100.5], [247.0, 103.0]])
HAND_MOUTH_CORNERS = np.array([[203.0, 140.0], [243.0, 140.5]])
HAND_MOUTH = HAND_MOUTH_CORNERS.mean(axis=0)
HAND_EYE_DISTANCE = float(np.hypot(*(HAND_EYES[1] - HAND_EYES[0])))


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return np.asarray(Image.open(ASTRONAUT).convert("RGB"))


@pytest.fixture()
def mediapipe():
    return pytest.importorskip("mediapipe", reason="the align extra (mediapipe) is not installed")


# ----- helpers that derive expectations from the protocol, independently of the module ------------
def blobs(h: int, w: int, points, sigma: float) -> np.ndarray:
    """A black image with one Gaussian spot per point, each in its own colour channel."""
    img = np.zeros((h, w, 3), np.uint8)
    r = int(5 * sigma)
    for ch, (px, py) in enumerate(points):
        x0, y0 = max(int(px) - r, 0), max(int(py) - r, 0)
        yy, xx = np.mgrid[y0:min(int(py) + r, h), x0:min(int(px) + r, w)]
        spot = np.exp(-((xx - px) ** 2 + (yy - py) ** 2) / (2 * sigma**2))
        img[yy, xx, ch] = np.rint(spot * 255).astype(np.uint8)
    return img


def centroid(channel: np.ndarray) -> np.ndarray:
    weight = np.where(channel > 20, channel.astype(float), 0.0)
    yy, xx = np.mgrid[0:channel.shape[0], 0:channel.shape[1]]
    return np.array([(weight * xx).sum(), (weight * yy).sum()]) / weight.sum()


def canonical(size: int, eye_distance: float, eye_to_mouth: float) -> np.ndarray:
    """Where FFHQ puts the eyes and the mouth centre of a face whose mouth is straight below the eye
    midpoint, in output pixel indices. The crop's half-width is s = max(2 D, 1.8 M) along the eye line
    and the centre sits 0.1 M below the eyes, so a point at offset (a, b) from the centre lands at
    ((a / s + 1) / 2, (b / s + 1) / 2) of the output; pixel centres sit half a pixel in."""
    s = max(2.0 * eye_distance, 1.8 * eye_to_mouth)
    offsets = np.array([[-eye_distance / 2, -0.1 * eye_to_mouth], [eye_distance / 2, -0.1 * eye_to_mouth],
                        [0.0, 0.9 * eye_to_mouth]])
    return (offsets / s + 1) / 2 * size - 0.5


def similarity(angle_deg: float, scale: float, shift) -> tuple[np.ndarray, np.ndarray]:
    t = math.radians(angle_deg)
    return np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]]) * scale, np.asarray(shift, float)


def to_output(points, quad, size: int) -> np.ndarray:
    """Source points -> output pixel indices through the crop square (top-left, bottom-left, ...)."""
    q = np.asarray(quad)
    axes = np.stack([q[3] - q[0], q[1] - q[0]], axis=1)       # columns: output x and y directions
    frac = np.linalg.solve(axes, (np.asarray(points, float) - q[0]).T).T
    return frac * size - 0.5


def transformed_photo(img: Image.Image, rot: np.ndarray, shift: np.ndarray, side: int) -> Image.Image:
    """``img`` moved by dst = rot @ src + shift (pixel indices) onto a grey canvas."""
    inv = np.linalg.inv(rot)
    # Pillow maps output continuous coordinates (index + 0.5) to input continuous ones
    off = -inv @ shift + 0.5 - inv @ np.array([0.5, 0.5])
    return img.transform((side, side), Image.Transform.AFFINE, (inv[0, 0], inv[0, 1], off[0], inv[1, 0], inv[1, 1], off[1]),
                         Image.Resampling.BICUBIC, fillcolor=(128, 128, 128))


# ----- the FFHQ geometry ---------------------------------------------------------------------------
@pytest.mark.parametrize("size", [256, 1024])
def test_eyes_and_mouth_land_on_the_ffhq_spots(size):
    d, m = 60.0, 60.0
    left = np.array([370.3, 280.7])
    pts = [left, left + [d, 0], left + [d / 2, m]]
    out, info = align_from_landmarks(blobs(600, 800, pts, 2.0), pts[:2], pts[2], size)
    assert out.shape == (size, size, 3) and out.dtype == np.uint8
    expected = canonical(size, d, m)
    assert np.allclose([centroid(out[:, :, c]) for c in range(3)], expected, atol=0.05 * size / 256)
    # FFHQ at 1024: eyes 256 px apart, at x = 384 and 640 (pixel edges), 2.5% above the centre
    if size == 1024:
        assert np.allclose(expected[:2, 0] + 0.5, [384, 640]) and np.isclose(expected[0, 1] + 0.5, 486.4)
    assert info["eyes"] == [p.tolist() for p in pts[:2]] and info["mouth"] == pts[2].tolist()
    assert info["mouth_corners"] is None and info["size"] == size


def test_rotated_and_scaled_face_gives_the_same_crop():
    d, m = 50.0, 55.0
    upright = np.array([[-d / 2, 0.0], [d / 2, 0.0], [0.0, m]])          # eyes, mouth about the eye midpoint
    rot, shift = similarity(-33.0, 1.7, [420.0, 350.0])
    pts = upright @ rot.T + shift
    out, info = align_from_landmarks(blobs(720, 900, pts, 4.0), pts[:2], pts[2], 256)
    assert np.allclose([centroid(out[:, :, c]) for c in range(3)], canonical(256, d, m), atol=0.15)
    # the quad is the upright one (centre 0.1 M below the eyes, half-side max(2D, 1.8M)), moved the same way
    s = max(2 * d, 1.8 * m)
    c = np.array([0.0, 0.1 * m])
    quad = np.array([c + [-s, -s], c + [-s, s], c + [s, s], c + [s, -s]]) @ rot.T + shift
    assert np.allclose(info["quad"], quad, atol=1e-9)


def test_long_face_is_scaled_by_the_mouth_distance():
    d, m = 40.0, 80.0                                                    # 1.8 M = 144 > 2 D = 80
    left = np.array([300.0, 200.0])
    pts = [left, left + [d, 0], left + [d / 2, m]]
    out, info = align_from_landmarks(blobs(600, 640, pts, 3.0), pts[:2], pts[2], 256)
    q = np.asarray(info["quad"])
    assert np.isclose(np.hypot(*(q[3] - q[0])), 2 * 1.8 * m)
    assert np.allclose([centroid(out[:, :, c]) for c in range(3)], canonical(256, d, m), atol=0.15)


def test_orientation_blends_the_eye_line_and_the_mouth_direction():
    # eyes level, mouth moved sideways by a: x = eye_to_eye - perp(eye_to_mouth) = (D + M, -a)
    d, m, a = 60.0, 50.0, 20.0
    eyes = [[200.0, 200.0], [260.0, 200.0]]
    mouth = [230.0 + a, 200.0 + m]
    _, info = align_from_landmarks(np.zeros((500, 500, 3), np.uint8), eyes, mouth, 64)
    q = np.asarray(info["quad"])
    top = q[3] - q[0]
    assert np.isclose(math.atan2(top[1], top[0]), math.atan2(-a, d + m))
    assert np.allclose(q[1] - q[0], [-top[1], top[0]])                 # square, y a quarter turn from x


def test_mouth_corners_are_averaged():
    eyes = [[100.0, 100.0], [140.0, 102.0]]
    corners = [[104.0, 140.0], [138.0, 144.0]]
    img = np.full((300, 300, 3), 90, np.uint8)
    a, info_a = align_from_landmarks(img, eyes, corners, 64)
    b, info_b = align_from_landmarks(img, eyes, [121.0, 142.0], 64)
    assert np.array_equal(a, b) and info_a["quad"] == info_b["quad"]
    assert info_a["mouth_corners"] == corners and info_a["mouth"] == [121.0, 142.0]


def test_large_photo_is_shrunk_first_and_still_lands_right():
    d, m = 600.0, 640.0
    left = np.array([1100.0, 1300.0])
    pts = [left, left + [d, 0], left + [d / 2, m]]
    out, _ = align_from_landmarks(blobs(3000, 2800, pts, 30.0), pts[:2], pts[2], 256)
    assert np.allclose([centroid(out[:, :, c]) for c in range(3)], canonical(256, d, m), atol=0.3)


def test_the_warp_is_ffhqs_quad_transform_and_antialiased_resize():
    # the quad covers the whole 100 px photo, so nothing is shrunk or cropped, and padding is off:
    # what is left is FFHQ's call, Pillow's QUAD transform at 4x the size, then a Lanczos resize
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (100, 100, 3), dtype=np.uint8)
    ours, info = align_from_landmarks(img, [[35.0, 45.0], [65.0, 45.0]], [50.0, 65.0], 64, padding=False)
    quad = np.asarray(info["quad"])
    assert quad.min() < -10 and quad.max() >= 110
    ref = Image.fromarray(img).transform((256, 256), Image.Transform.QUAD, tuple((quad + 0.5).ravel().tolist()),
                                         Image.Resampling.BILINEAR).resize((64, 64), Image.Resampling.LANCZOS)
    assert np.abs(ours.astype(int) - np.asarray(ref, dtype=int)).max() <= 1


def test_padding_matches_the_protocol_with_scipys_exact_gaussian(photo):
    # The FFHQ pad step written out here with scipy's Gaussian (the dataset script's blur); ours blurs
    # with Pillow's box approximation. The quad covers the whole 100 px face crop: no shrink, no crop.
    ndimage = pytest.importorskip("scipy.ndimage")
    img = np.asarray(Image.fromarray(photo[50:250, 110:310]).resize((100, 100), Image.Resampling.LANCZOS))
    ours, info = align_from_landmarks(img, [[35.0, 45.0], [65.0, 45.0]], [50.0, 65.0], 64)
    quad = np.asarray(info["quad"])
    qsize = np.hypot(*(quad[3] - quad[0]))
    border = max(int(np.rint(0.1 * qsize)), 3)
    lo, hi = np.floor(quad.min(axis=0)).astype(int), np.ceil(quad.max(axis=0)).astype(int)
    pad = np.maximum([border - lo[0], border - lo[1], hi[0] + border - 100, hi[1] + border - 100], 0)
    pad = np.maximum(pad, int(np.rint(0.3 * qsize)))                  # left, top, right, bottom
    a = np.pad(img.astype(np.float32), ((pad[1], pad[3]), (pad[0], pad[2]), (0, 0)), mode="reflect")
    h, w = a.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    mask = np.maximum(1 - np.minimum(xx / pad[0], (w - 1 - xx) / pad[2]),
                      1 - np.minimum(yy / pad[1], (h - 1 - yy) / pad[3]))[:, :, None]
    sigma = 0.02 * qsize
    a += (ndimage.gaussian_filter(a, [sigma, sigma, 0]) - a) * np.clip(3 * mask + 1, 0, 1)
    a += (np.median(a, axis=(0, 1)) - a) * np.clip(mask, 0, 1)
    padded = Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8))
    ref = padded.transform((256, 256), Image.Transform.QUAD, tuple((quad + pad[:2] + 0.5).ravel().tolist()),
                           Image.Resampling.BILINEAR).resize((64, 64), Image.Resampling.LANCZOS)
    diff = np.abs(ours.astype(int) - np.asarray(ref, dtype=int))
    assert diff.mean() < 0.5 and np.percentile(diff, 99) <= 3, (diff.mean(), np.percentile(diff, 99), diff.max())


def test_padding_near_the_border_is_blurred_reflection_not_black():
    # a face in the top-left corner of a fine coloured checkerboard: the crop leaves the photo
    yy, xx = np.mgrid[0:400, 0:400]
    board = np.where(((xx // 2 + yy // 2) % 2)[:, :, None] == 0, [200, 60, 40], [40, 160, 220]).astype(np.uint8)
    eyes, mouth = [[30.0, 40.0], [80.0, 40.0]], [55.0, 95.0]
    padded, info = align_from_landmarks(board, eyes, mouth, 128)
    black, _ = align_from_landmarks(board, eyes, mouth, 128, padding=False)
    # output pixels whose source lies well outside the photo, and well inside it
    yo, xo = np.mgrid[0:128, 0:128]
    q = np.asarray(info["quad"])
    src = q[0] + ((xo + 0.5) / 128)[..., None] * (q[3] - q[0]) + ((yo + 0.5) / 128)[..., None] * (q[1] - q[0])
    outside = (src[..., 0] < -8) | (src[..., 1] < -8)
    inside = (src[..., 0] > 8) & (src[..., 1] > 8)
    assert outside.sum() > 500 and inside.sum() > 500
    assert (black[outside] == 0).all()
    assert (padded[outside].sum(axis=1) > 60).all()                  # no black where the photo ends
    # the reflection is blurred towards the board's mean: little pixel-to-pixel change outside
    step = np.abs(np.diff(padded.astype(float), axis=1)).sum(axis=2)
    assert step[outside[:, 1:] & outside[:, :-1]].mean() < 0.25 * step[inside[:, 1:] & inside[:, :-1]].mean()


# ----- input conversion and refusals ---------------------------------------------------------------
def test_grey_rgba_palette_and_16_bit_images_are_converted(photo):
    crop = photo[60:220, 150:310]
    eyes, mouth = HAND_EYES - [150, 60], HAND_MOUTH - [150, 60]
    ref, _ = align_from_landmarks(crop, eyes, mouth, 64)
    rgba = np.concatenate([crop, np.full(crop.shape[:2] + (1,), 7, np.uint8)], axis=2)
    for image in (Image.fromarray(crop), Image.fromarray(rgba), rgba, crop.astype(np.float32) / 255.0):
        out, _ = align_from_landmarks(image, eyes, mouth, 64)
        assert np.array_equal(out, ref)
    grey = np.asarray(Image.fromarray(crop).convert("L"))
    grey_ref, _ = align_from_landmarks(np.repeat(grey[:, :, None], 3, axis=2), eyes, mouth, 64)
    for image in (Image.fromarray(grey), grey, grey[:, :, None], grey.astype(np.uint16) * 257,
                  Image.fromarray(grey).convert("P"), Image.fromarray(grey.astype(np.uint16) * 257),
                  Image.fromarray(grey).convert("I")):
        out, _ = align_from_landmarks(image, eyes, mouth, 64)
        assert out.shape == (64, 64, 3)
        assert np.array_equal(out, grey_ref)


@pytest.mark.parametrize("image, words", [
    (Image.new("RGB", (1, 1)), "1x1"),
    (np.zeros((0, 0, 3), np.uint8), "at least"),
    (np.zeros((10, 400, 3), np.uint8), "at least"),
    (np.full((64, 64, 3), np.nan, np.float32), "NaN"),
    (np.full((64, 64, 3), 1.5, np.float32), "[0, 1]"),
    (np.full((64, 64, 3), 300, np.int64), "0..255"),
    (np.zeros((64, 64, 2), np.uint8), "[H, W, 3]"),
    (np.zeros((2, 64, 64, 3), np.uint8), "[H, W, 3]"),
    (np.zeros((64, 64, 3), bool), "uint8"),
    ([[0, 0, 0]], "PIL image or a numpy array"),
])
def test_bad_images_are_refused(image, words):
    with pytest.raises(InputError, match=re.escape(words)):
        align_from_landmarks(image, [[20.0, 20.0], [40.0, 20.0]], [30.0, 40.0], 64)


@pytest.mark.parametrize("eyes, mouth, size, words", [
    ([[20.0, 20.0], [40.0, 20.0]], [30.0, 40.0], 0, "outside 16..4096"),
    ([[20.0, 20.0], [40.0, 20.0]], [30.0, 40.0], 8192, "outside 16..4096"),
    ([[20.0, 20.0], [40.0, 20.0]], [30.0, 40.0], 100.5, "whole number"),
    ([[20.0, float("nan")], [40.0, 20.0]], [30.0, 40.0], 64, "not finite"),
    ([[20.0, 20.0], [20.5, 20.0]], [30.0, 40.0], 64, "apart"),
    ([[20.0, 20.0], [40.0, 20.0]], [30.0, 20.0], 64, "no face"),
    ([[20.0, 20.0], [400.0, 20.0]], [30.0, 40.0], 64, "outside the 64x64 image"),
    ([[20.0, 20.0], [40.0, 20.0]], [30.0, 1e7], 64, "mouth point [30.0, 10000000.0] lies outside the 64x64 image"),
    ([[20.0, 20.0], [40.0, 20.0]], [[25.0, 40.0], [-90.0, 40.0]], 4096, "mouth point [-90.0, 40.0] lies outside"),
    ([[20.0, 20.0]], [30.0, 40.0], 64, "two [x, y] points"),
    ([[20.0, 20.0], [40.0, 20.0]], [[1, 2, 3]], 64, "centre [x, y] or two corners"),
])
def test_bad_landmarks_and_sizes_are_refused(eyes, mouth, size, words):
    with pytest.raises(InputError, match=re.escape(words)):
        align_from_landmarks(np.zeros((64, 64, 3), np.uint8), eyes, mouth, size)


def test_missing_landmark_library_names_the_extra(monkeypatch, photo):
    monkeypatch.setitem(sys.modules, "mediapipe", None)                # import mediapipe -> ImportError
    with pytest.raises(GANLabError, match=re.escape('pip install "gan-latent-lab[align]"')) as e:
        align_face(photo)
    assert "mediapipe==0.10.14" in str(e.value)
    monkeypatch.setitem(sys.modules, "mediapipe", types.ModuleType("mediapipe"))   # a release without solutions
    with pytest.raises(GANLabError, match="mediapipe==0.10.14"):
        find_landmarks(photo)
    with pytest.raises(InputError, match="NaN"):                       # bad input is named before the extra
        align_face(np.full((64, 64, 3), np.nan))


def test_the_extra_pins_the_version_the_error_names():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    pin = re.search(r"mediapipe==[\d.]+", al.ALIGN_EXTRA).group(0)
    assert extras["align"] == [pin] and pin in extras["test"]


# ----- the landmark detector on a real photo -------------------------------------------------------
def test_real_photo_eyes_within_10_percent_of_hand_marks(mediapipe, photo):
    aligned, info = align_face(photo, 256)
    assert aligned.shape == (256, 256, 3) and aligned.dtype == np.uint8
    err = np.linalg.norm(np.asarray(info["eyes"]) - HAND_EYES, axis=1)
    assert (err < 0.1 * HAND_EYE_DISTANCE).all(), err
    assert np.linalg.norm(np.asarray(info["mouth"]) - HAND_MOUTH) < 0.1 * HAND_EYE_DISTANCE
    assert np.linalg.norm(np.asarray(info["mouth_corners"]) - HAND_MOUTH_CORNERS, axis=1).max() < 0.15 * HAND_EYE_DISTANCE
    # in the aligned image the hand-marked eyes sit on FFHQ's eye spots, within 10% of the eye distance there
    spots = canonical(256, HAND_EYE_DISTANCE, float(np.hypot(*(HAND_MOUTH - HAND_EYES.mean(axis=0)))))[:2]
    landed = to_output(HAND_EYES, info["quad"], 256)
    assert (np.linalg.norm(landed - spots, axis=1) < 0.1 * (spots[1, 0] - spots[0, 0])).all(), landed - spots


def test_pil_input_and_default_size(mediapipe):
    aligned, info = align_face(Image.open(ASTRONAUT))                  # a PIL image, size 1024
    assert aligned.shape == (1024, 1024, 3)
    assert (np.linalg.norm(np.asarray(info["eyes"]) - HAND_EYES, axis=1) < 0.1 * HAND_EYE_DISTANCE).all()


@pytest.mark.parametrize("angle, scale", [(28.0, 1.0), (-40.0, 0.8)])
def test_tilted_photo(mediapipe, angle, scale):
    rot, _ = similarity(angle, scale, [0, 0])
    shift = np.array([400.0, 400.0]) - rot @ np.array([255.5, 255.5])
    tilted = transformed_photo(Image.open(ASTRONAUT), rot, shift, 800)
    expected = HAND_EYES @ rot.T + shift
    info = find_landmarks(tilted)
    assert (np.linalg.norm(np.asarray(info["eyes"]) - expected, axis=1) < 0.1 * HAND_EYE_DISTANCE * scale).all()


def test_mirrored_photo_still_lists_the_image_left_eye_first(mediapipe, photo):
    info = find_landmarks(photo[:, ::-1])
    expected = np.array([[511 - HAND_EYES[1, 0], HAND_EYES[1, 1]], [511 - HAND_EYES[0, 0], HAND_EYES[0, 1]]])
    assert (np.linalg.norm(np.asarray(info["eyes"]) - expected, axis=1) < 0.1 * HAND_EYE_DISTANCE).all()


def test_small_face_in_a_large_photo(mediapipe):
    canvas = Image.new("RGB", (2048, 2048), (128, 128, 128))
    canvas.paste(Image.open(ASTRONAUT), (1300, 900))                   # the face is ~6% of the side
    info = find_landmarks(canvas)
    assert (np.linalg.norm(np.asarray(info["eyes"]) - (HAND_EYES + [1300, 900]), axis=1) < 0.1 * HAND_EYE_DISTANCE).all()


@pytest.mark.parametrize("big_on_the_right", [False, True])
def test_several_faces_give_the_largest(mediapipe, big_on_the_right):
    big = Image.open(ASTRONAUT).convert("RGB")
    small = big.resize((384, 384), Image.Resampling.LANCZOS)
    alone = find_landmarks(small)                                      # the small face is a face on its own
    assert (np.linalg.norm(np.asarray(alone["eyes"]) - HAND_EYES * 0.75, axis=1) < 0.1 * HAND_EYE_DISTANCE * 0.75).all()
    canvas = Image.new("RGB", (896, 512), (200, 200, 200))
    big_x = 384 if big_on_the_right else 0
    canvas.paste(big, (big_x, 0))
    canvas.paste(small, (0 if big_on_the_right else 512, 64))
    info = find_landmarks(canvas)
    assert (np.linalg.norm(np.asarray(info["eyes"]) - (HAND_EYES + [big_x, 0]), axis=1) < 0.1 * HAND_EYE_DISTANCE).all()


def test_no_face_is_a_clear_error(mediapipe, photo):
    with pytest.raises(InputError, match="no face found"):
        align_face(photo[300:], 64)                                    # the space suit, no face
    with pytest.raises(InputError, match="no face found"):
        find_landmarks(np.full((200, 300, 3), 128, np.uint8))


# ----- the node ------------------------------------------------------------------------------------
def test_node_is_registered_and_declared():
    import gan_latent_lab

    assert gan_latent_lab.NODE_CLASS_MAPPINGS["GANLabAlignFace"] is an.AlignFace
    assert gan_latent_lab.NODE_DISPLAY_NAME_MAPPINGS["GANLabAlignFace"] == "Align Face"
    spec = an.AlignFace.INPUT_TYPES()["required"]
    assert spec["image"][0] == "IMAGE" and spec["size"][0] == "INT" and spec["size"][1]["default"] == 1024
    assert an.AlignFace.RETURN_TYPES == ("IMAGE", "STRING")


def test_node_converts_comfy_images_at_the_edge():
    levels = torch.arange(256, dtype=torch.float32).reshape(1, 16, 16, 1) / 255.0
    (grey,) = an.image_batch_to_uint8(levels)
    assert grey.shape == (16, 16, 3) and grey.dtype == np.uint8
    assert np.array_equal(grey[:, :, 1].ravel(), np.arange(256))
    rgba = torch.rand(2, 20, 24, 4)
    out = an.image_batch_to_uint8(rgba)
    assert len(out) == 2 and np.array_equal(out[1], np.rint(rgba[1, :, :, :3].numpy() * 255).astype(np.uint8))


@pytest.mark.parametrize("image, size, words", [
    (torch.full((2, 64, 64, 3), 0.5).index_put_((torch.tensor([1]),), torch.tensor(float("nan"))), 256, "image 1"),
    (torch.rand(64, 64, 3), 256, "[B, H, W, 3]"),
    (torch.rand(1, 64, 64, 3), 10, "outside 16..4096"),
    (torch.rand(1, 1, 1, 3), 256, "1x1"),
])
def test_node_refuses_bad_input_before_looking_for_faces(monkeypatch, image, size, words):
    monkeypatch.setitem(sys.modules, "mediapipe", None)                # no detector needed to refuse
    with pytest.raises(InputError, match=re.escape(words)):
        an.AlignFace().align(image, size)


def test_node_aligns_each_batch_entry(mediapipe, photo):
    batch = torch.from_numpy(np.stack([photo, photo[:, ::-1].copy()])).float() / 255.0
    aligned, text = an.AlignFace().align(batch, 128)
    assert aligned.shape == (2, 128, 128, 3) and aligned.dtype == torch.float32
    assert 0.0 <= float(aligned.min()) and float(aligned.max()) <= 1.0
    lines = text.splitlines()
    assert [line.split(":")[0] for line in lines] == ["image 0", "image 1"]
    eyes0 = np.array([float(v) for v in re.findall(r"-?\d+\.\d", lines[0])[:4]]).reshape(2, 2)
    assert (np.linalg.norm(eyes0 - HAND_EYES, axis=1) < 0.1 * HAND_EYE_DISTANCE).all()
    # the mirrored photo aligns to (nearly) the mirrored crop
    diff = (aligned[1] - aligned[0].flip(1)).abs().mean()
    assert float(diff) < 0.05


def test_node_names_the_entry_without_a_face(mediapipe, photo):
    batch = torch.from_numpy(np.stack([photo, np.full_like(photo, 128)])).float() / 255.0
    with pytest.raises(InputError, match=r"image 1 of the batch: no face found"):
        an.AlignFace().align(batch, 64)
