"""Face alignment the way the FFHQ dataset was made, so a photo meets a face GAN on its own terms.

StyleGAN-family face models were trained on FFHQ crops: the face rotated level, scaled by the eye
distance and the eye-to-mouth distance, centred a little below the eyes, with reflected and
blurred padding where the crop leaves the photo. A photo cropped any other way inverts badly.
This module reproduces the protocol of NVIDIA's FFHQ dataset script from four landmarks (two eye
centres, two mouth corners), which :func:`find_landmarks` takes from MediaPipe's face mesh when
the optional ``align`` extra is installed.

Coordinates are source pixel indices ``[x, y]`` (pixel centres at integers, x to the right, y
down). "The eyes" are the subject's right then left eye, which is image-left first in an upright
photo. Pillow and numpy do all the image work; the landmark library is imported only when needed.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Iterator, Sequence

import numpy as np
from PIL import Image, ImageFilter

from ..errors import GANLabError, InputError

MIN_SIDE = 16              # smaller images hold no face worth aligning
MAX_SIDE = 32768
MIN_SIZE, MAX_SIZE = 16, 4096
TRANSFORM_SCALE, TRANSFORM_MAX = 4, 4096   # FFHQ samples the quad at 4096 px, then resizes to 1024
MIN_EYE_DISTANCE = 2.0     # pixels

# FFHQ's constants (NVlabs ffhq-dataset, recreate_aligned_images)
CROP_EYE_SCALE = 2.0       # half-width of the crop >= 2 x eye distance ...
CROP_MOUTH_SCALE = 1.8     # ... and >= 1.8 x eye-to-mouth distance
CENTRE_SHIFT = 0.1         # the centre sits 10% of the way from the eyes to the mouth
BORDER_FRACTION = 0.1      # crop margin, fraction of the quad size (at least 3 px)
PAD_FRACTION = 0.3         # padding when the quad leaves the image, fraction of the quad size
BLUR_FRACTION = 0.02       # Gaussian sigma of the padded area, fraction of the quad size

ALIGN_EXTRA = 'pip install "gan-latent-lab[align]" (that is: pip install mediapipe==0.10.14)'
DETECT_SIDE = 640          # detection tiles are downscaled to this (the detector reads 192 px)
MESH_SIDE = 768            # the face mesh reads its crop at no more pixels than this
MAX_CANDIDATES = 5         # face-like regions per search level checked with the face mesh
MESH_CROP = 2.5            # crop side for the face mesh, in face-box sizes (the face fills ~40%)
# MediaPipe face-mesh indices of the six points dlib's 68-point model puts on each eye contour
# (outer corner, two upper lid points, inner corner, two lower lid points), and the mouth corners.
MESH_EYE_RIGHT = (33, 160, 158, 133, 153, 144)     # subject's right eye: image-left
MESH_EYE_LEFT = (362, 385, 387, 263, 373, 380)     # subject's left eye: image-right
MESH_MOUTH = (61, 291)                             # image-left corner, image-right corner


# ----- input images -----------------------------------------------------------------------------
def _check_shape(h: int, w: int) -> None:
    if min(h, w) < MIN_SIDE:
        raise InputError(f"the image is {w}x{h} pixels; alignment needs at least {MIN_SIDE}x{MIN_SIDE}")
    if max(h, w) > MAX_SIDE:
        raise InputError(f"the image is {w}x{h} pixels; the largest side accepted is {MAX_SIDE}")


def _from_pil(image: Image.Image) -> np.ndarray:
    w, h = image.size
    _check_shape(h, w)
    if image.mode.startswith("I;16"):                            # 16-bit greyscale PNGs
        return _from_array(np.asarray(image).astype(np.uint16))
    if image.mode == "I":     # 32-bit integers: 16-bit PNGs in older Pillow, or 8-bit values
        a = np.clip(np.asarray(image), 0, 65535)
        return _from_array(a.astype(np.uint16) if a.max() > 255 else a.astype(np.uint8))
    if image.mode == "F":
        return _from_array(np.asarray(image))
    if image.mode == "P":                                        # palette, maybe with a transparent index
        image = image.convert("RGBA")
    return np.asarray(image.convert("RGB"))


def _from_array(a: np.ndarray) -> np.ndarray:
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 2:
        a = a[:, :, None].repeat(3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise InputError(f"an image array must be [H, W], [H, W, 1], [H, W, 3] or [H, W, 4], not {list(a.shape)}")
    _check_shape(a.shape[0], a.shape[1])
    a = a[:, :, :3]                                              # alpha is dropped, colours kept as they are
    if a.dtype == np.uint8:
        return np.ascontiguousarray(a)
    if a.dtype == np.bool_ or a.dtype.kind not in "uif":
        raise InputError(f"image arrays must be uint8, uint16 or float in [0, 1], not {a.dtype}")
    if a.dtype == np.uint16:
        return np.rint(a / 257.0).astype(np.uint8)
    if a.dtype.kind == "f":
        if not np.isfinite(a).all():
            raise InputError("the image has NaN or infinite pixels")
        lo, hi = float(a.min()), float(a.max())
        if lo < 0.0 or hi > 1.0:
            raise InputError(f"float image pixels must lie in [0, 1], these span [{lo:.4g}, {hi:.4g}]")
        return np.rint(a * 255.0).astype(np.uint8)
    lo, hi = int(a.min()), int(a.max())
    if lo < 0 or hi > 255:
        raise InputError(f"integer image pixels must lie in 0..255, these span {lo}..{hi}")
    return a.astype(np.uint8)


def as_rgb(image: Any) -> np.ndarray:
    """An ``[H, W, 3]`` uint8 array from a PIL image (any mode) or a numpy array.

    Greyscale, palette and 16-bit images are converted, alpha is dropped; float arrays must be
    finite and in [0, 1]. Everything else is an :class:`InputError` before any work starts."""
    if isinstance(image, Image.Image):
        return _from_pil(image)
    if isinstance(image, np.ndarray):
        return _from_array(image)
    raise InputError(f"expected a PIL image or a numpy array, not {type(image).__name__}")


def check_size(size: int) -> int:
    """The output side as an int in MIN_SIZE..MAX_SIZE (an InputError otherwise)."""
    try:
        s = int(size)
    except (TypeError, ValueError):
        raise InputError(f"size must be an integer, not {size!r}") from None
    if s != size:
        raise InputError(f"size must be a whole number of pixels, not {size!r}")
    if not MIN_SIZE <= s <= MAX_SIZE:
        raise InputError(f"size {s} is outside {MIN_SIZE}..{MAX_SIZE}")
    return s


def _point(name: str, p: Any) -> np.ndarray:
    a = np.asarray(p, dtype=np.float64)
    if a.shape != (2,):
        raise InputError(f"{name} must be one [x, y] point, not shape {list(a.shape)}")
    if not np.isfinite(a).all():
        raise InputError(f"{name} {a.tolist()} is not finite")
    return a


def _mouth_centre(mouth: Any) -> tuple[np.ndarray, np.ndarray | None]:
    a = np.asarray(mouth, dtype=np.float64)
    if a.shape == (2, 2):
        corners = np.stack([_point("mouth corner", a[0]), _point("mouth corner", a[1])])
        return corners.mean(axis=0), corners
    if a.shape == (2,):
        return _point("mouth", a), None
    raise InputError(f"mouth must be a centre [x, y] or two corners [[x, y], [x, y]], not shape {list(a.shape)}")


# ----- the FFHQ geometry --------------------------------------------------------------------------
def _perpendicular(v: np.ndarray) -> np.ndarray:
    """``v`` turned a quarter turn clockwise on screen (y down): right -> down."""
    return np.array([-v[1], v[0]])


def ffhq_quad(eyes: Sequence, mouth: Any) -> tuple[np.ndarray, float]:
    """The oriented crop square of the FFHQ protocol: its corners ``[4, 2]`` and side length.

    The horizontal axis blends the eye-to-eye direction with the eye-to-mouth direction turned a
    quarter (so the face is levelled by both); its half-length is the larger of twice the eye
    distance and 1.8 times the eye-to-mouth distance; the centre is the eye midpoint moved 10% of
    the way to the mouth. Corners in the order Pillow's QUAD transform wants: top-left,
    bottom-left, bottom-right, top-right of the aligned image."""
    e = np.asarray(eyes, dtype=np.float64)
    if e.shape != (2, 2):
        raise InputError(f"eyes must be two [x, y] points, not shape {list(e.shape)}")
    eye_a, eye_b = _point("eye", e[0]), _point("eye", e[1])
    mouth_c, _ = _mouth_centre(mouth)
    eye_avg = (eye_a + eye_b) * 0.5
    eye_to_eye = eye_b - eye_a
    eye_to_mouth = mouth_c - eye_avg
    d_eyes, d_mouth = float(np.hypot(*eye_to_eye)), float(np.hypot(*eye_to_mouth))
    if d_eyes < MIN_EYE_DISTANCE:
        raise InputError(f"the eyes are {d_eyes:.3g} px apart; at least {MIN_EYE_DISTANCE:g} px are needed")
    if d_mouth < MIN_EYE_DISTANCE * 0.5:
        raise InputError(f"the mouth is {d_mouth:.3g} px from the eyes' midpoint; that is no face")
    x = eye_to_eye - _perpendicular(eye_to_mouth)     # mouth direction turned back to horizontal
    norm = float(np.hypot(*x))
    if norm < 1e-6:
        raise InputError("the eyes and mouth are arranged so that the face has no orientation")
    x *= max(d_eyes * CROP_EYE_SCALE, d_mouth * CROP_MOUTH_SCALE) / norm
    y = _perpendicular(x)
    c = eye_avg + eye_to_mouth * CENTRE_SHIFT
    quad = np.stack([c - x - y, c - x + y, c + x + y, c + x - y])
    return quad, float(np.hypot(*x) * 2.0)



# ----- crop, pad, resample --------------------------------------------------------------------------
def _bounds(quad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.floor(quad.min(axis=0)).astype(int), np.ceil(quad.max(axis=0)).astype(int)


def _blur_pad(img: Image.Image, pad: tuple[int, int, int, int], qsize: float) -> Image.Image:
    """Reflect the photo outwards by ``pad`` (left, top, right, bottom), then fade the reflection.

    The mask is 0 on the photo's edge, 1 on the padded image's edge and negative inside the photo:
    the blur fades in over the outer third of the padding's width inside the photo and is full
    outside it; the colour then fades to the image's median towards the outer edge, so mirrored
    features never look like part of the face."""
    left, top, right, bottom = pad
    a = np.pad(np.asarray(img), ((top, bottom), (left, right), (0, 0)), mode="reflect")
    h, w = a.shape[:2]
    xs, ys = np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)
    mask_x = 1.0 - np.minimum(xs / left, (w - 1 - xs) / right)
    mask_y = 1.0 - np.minimum(ys / top, (h - 1 - ys) / bottom)
    mask = np.maximum(mask_y[:, None], mask_x[None, :])[:, :, None]
    blurred = np.asarray(Image.fromarray(a).filter(ImageFilter.GaussianBlur(qsize * BLUR_FRACTION)), dtype=np.float32)
    out = a.astype(np.float32)
    out += (blurred - out) * np.clip(mask * 3.0 + 1.0, 0.0, 1.0)
    out += (np.median(out, axis=(0, 1)) - out) * np.clip(mask, 0.0, 1.0)
    return Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8))


def transform_size(size: int) -> int:
    """The side at which the quad is sampled before the antialiased resize to ``size``."""
    return max(size, min(size * TRANSFORM_SCALE, TRANSFORM_MAX))


def _warp(rgb: np.ndarray, quad: np.ndarray, qsize: float, size: int, padding: bool) -> np.ndarray:
    img, quad = Image.fromarray(rgb), quad.copy()
    # Shrink a photo much larger than the output first (antialiased), as FFHQ does.
    shrink = int(math.floor(qsize / size * 0.5))
    if shrink > 1:
        img = img.resize((int(np.rint(img.width / shrink)), int(np.rint(img.height / shrink))), Image.Resampling.LANCZOS)
        quad, qsize = quad / shrink, qsize / shrink
    # Crop to the quad's bounding box and a border.
    border = max(int(np.rint(qsize * BORDER_FRACTION)), 3)
    lo, hi = _bounds(quad)
    box = (max(lo[0] - border, 0), max(lo[1] - border, 0), min(hi[0] + border, img.width), min(hi[1] + border, img.height))
    if box[2] - box[0] < img.width or box[3] - box[1] < img.height:
        img = img.crop(box)
        quad = quad - box[:2]
    # Pad where the quad and its border leave the photo.
    lo, hi = _bounds(quad)
    pad = (max(border - lo[0], 0), max(border - lo[1], 0), max(hi[0] + border - img.width, 0),
           max(hi[1] + border - img.height, 0))
    if padding and max(pad) > border - 4:
        least = max(int(np.rint(qsize * PAD_FRACTION)), 1)
        pad = tuple(max(int(p), least) for p in pad)
        img = _blur_pad(img, pad, qsize)
        quad = quad + pad[:2]
    # Sample the quad bilinearly at 4x, then resize down. The quad is a square, so Pillow's affine
    # transform gives what its QUAD transform would (FFHQ's call), a fifth faster. Pillow's pixel
    # centres sit at +0.5: output corner (0, 0) reads source pixel index quad[0].
    side = transform_size(size)
    ax, ay = (quad[3] - quad[0]) / side, (quad[1] - quad[0]) / side
    origin = quad[0] + 0.5
    img = img.transform((side, side), Image.Transform.AFFINE, (ax[0], ay[0], origin[0], ax[1], ay[1], origin[1]),
                        Image.Resampling.BILINEAR)
    if side > size:
        img = img.resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(img)


def align_from_landmarks(image: Any, eyes: Sequence, mouth: Any, size: int = 1024, *,
                         padding: bool = True) -> tuple[np.ndarray, dict]:
    """Align a face from given landmarks with the FFHQ protocol.

    ``eyes``: the two eye centres ``[[x, y], [x, y]]`` in source pixels, the subject's right eye
    (image-left in an upright photo) first; ``mouth``: the mouth centre ``[x, y]`` or its two
    corners. Returns the aligned ``[size, size, 3]`` uint8 image and ``info`` with ``eyes``,
    ``mouth`` (centre), ``mouth_corners`` (or None), ``quad`` (the crop's corners in source
    pixels: top-left, bottom-left, bottom-right, top-right of the output) and ``size``.
    ``padding=False`` leaves black where the crop leaves the photo instead of FFHQ's blurred
    reflection."""
    rgb = as_rgb(image)
    size = check_size(size)
    quad, qsize = ffhq_quad(eyes, mouth)
    eye_pts = np.asarray(eyes, dtype=np.float64)
    h, w = rgb.shape[:2]
    for p in eye_pts:
        if not (-0.5 <= p[0] <= w - 0.5 and -0.5 <= p[1] <= h - 0.5):
            raise InputError(f"eye {p.tolist()} lies outside the {w}x{h} image")
    mouth_c, corners = _mouth_centre(mouth)
    # a mouth far outside the photo would make the crop (and its padding) any size, whatever the photo's
    for p in ([mouth_c] if corners is None else list(corners)):
        if not (-0.5 <= p[0] <= w - 0.5 and -0.5 <= p[1] <= h - 0.5):
            raise InputError(f"mouth point {p.tolist()} lies outside the {w}x{h} image")
    aligned = _warp(rgb, quad, qsize, size, bool(padding))
    info = {"eyes": eye_pts.tolist(), "mouth": mouth_c.tolist(),
            "mouth_corners": None if corners is None else corners.tolist(),
            "quad": quad.tolist(), "size": size}
    return aligned, info


# ----- landmarks from MediaPipe ---------------------------------------------------------------------
def _mediapipe():
    try:
        import mediapipe as mp
    except ImportError as e:
        raise GANLabError(f"face alignment needs MediaPipe's face landmarks, which are not installed: {ALIGN_EXTRA} "
                          f"({e})") from e
    solutions = getattr(mp, "solutions", None)
    if solutions is None or not hasattr(solutions, "face_mesh") or not hasattr(solutions, "face_detection"):
        raise GANLabError(f"mediapipe {getattr(mp, '__version__', '?')} lacks the face mesh with its model inside the "
                          f"package (later releases dropped it): {ALIGN_EXTRA}")
    return mp


def _downscaled(rgb: np.ndarray, side: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    if max(h, w) <= side:
        return np.ascontiguousarray(rgb)
    s = side / max(h, w)
    small = Image.fromarray(rgb).resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.BILINEAR,
                                        reducing_gap=2.0)
    return np.asarray(small)


def _starts(length: int, side: int) -> list[int]:
    """Tile origins along one axis: every half tile, the last one flush with the far edge."""
    count = max(1, math.ceil(2 * length / side) - 1)
    return sorted({min(i * side // 2, length - side) for i in range(count)})


def _tiles(w: int, h: int) -> list[list[tuple[int, int, int, int]]]:
    """Search levels: the whole image, then square tiles of the short side, its half and quarter,
    overlapping by half, so that a face small in a large photo fills a tile well enough."""
    levels = [[(0, 0, w, h)]]
    for side in (min(w, h), min(w, h) // 2, min(w, h) // 4):
        level = [(x, y, x + side, y + side) for y in _starts(h, side) for x in _starts(w, side)]
        if side >= 96 and level != levels[-1]:
            levels.append(level)
    return levels


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _detections(det, tile: np.ndarray, origin: tuple[int, int], extent: tuple[int, int]) -> list[dict]:
    """One detector's faces in a (downscaled) tile, as ``box`` ``[x0, y0, x1, y1]`` and ``eyes``
    ``[2, 2]`` (subject's right eye first) in continuous source coordinates."""
    (x0, y0), (tw, th) = origin, extent
    faces = []
    for d in det.process(tile).detections or []:
        r = d.location_data.relative_bounding_box
        box = np.array([x0 + r.xmin * tw, y0 + r.ymin * th, x0 + (r.xmin + r.width) * tw, y0 + (r.ymin + r.height) * th])
        kp = d.location_data.relative_keypoints   # 0: right eye, 1: left eye, then nose, mouth, ears
        eyes = np.array([[x0 + kp[i].x * tw, y0 + kp[i].y * th] for i in (0, 1)]) if len(kp) >= 2 else None
        if box[2] - box[0] > 1 and box[3] - box[1] > 1:
            faces.append({"box": box, "eyes": eyes})
    return faces


def _candidates(mp, rgb: np.ndarray) -> Iterator[list[dict]]:
    """Face candidates per search level, largest box first, duplicates from overlapping tiles merged.

    The detectors' threshold is low enough to find small and tilted faces, so candidates include
    false alarms; the face mesh confirms them."""
    h, w = rgb.shape[:2]
    detectors = [mp.solutions.face_detection.FaceDetection(model_selection=m, min_detection_confidence=0.5)
                 for m in (1, 0)]   # full range (faces up to ~5 m away), then short range (close-ups)
    try:
        for depth, level in enumerate(_tiles(w, h)):
            found: list[dict] = []
            for x0, y0, x1, y1 in level:
                tile = _downscaled(rgb[y0:y1, x0:x1], DETECT_SIDE)
                for det in detectors if depth == 0 else detectors[:1]:
                    found += _detections(det, tile, (x0, y0), (x1 - x0, y1 - y0))
            found.sort(key=lambda f: -(f["box"][2] - f["box"][0]) * (f["box"][3] - f["box"][1]))
            kept: list[dict] = []
            for f in found:
                if all(_iou(f["box"], k["box"]) < 0.3 for k in kept):
                    kept.append(f)
            if kept:
                yield kept[:MAX_CANDIDATES]
    finally:
        for det in detectors:
            det.close()


def _mesh_points(mp, rgb: np.ndarray, face: dict) -> np.ndarray | None:
    """The face-mesh points ``[n, 2]`` (source pixel indices) of a detected face.

    The mesh's own detector wants an upright face filling a good part of its input, so it gets a
    square around the face box, turned so the detector's eye keypoints are level (photos lying on
    their side or upside down work) and resampled to at most MESH_SIDE pixels."""
    box = face["box"]
    centre = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
    side = MESH_CROP * max(box[2] - box[0], box[3] - box[1])
    angle = 0.0
    if face["eyes"] is not None:
        dx, dy = face["eyes"][1] - face["eyes"][0]
        angle = math.atan2(dy, dx)
    out = int(min(MESH_SIDE, max(64, round(side))))
    k = side / out
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]]) * k
    shift = centre - rot @ np.array([out / 2, out / 2])          # crop (continuous) -> source (continuous)
    crop = Image.fromarray(rgb).transform((out, out), Image.Transform.AFFINE,
                                          (rot[0, 0], rot[0, 1], shift[0], rot[1, 0], rot[1, 1], shift[1]),
                                          Image.Resampling.BILINEAR, fillcolor=(128, 128, 128))
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=3, refine_landmarks=False,
                                         min_detection_confidence=0.5) as mesh:
        result = mesh.process(np.asarray(crop))
    faces = result.multi_face_landmarks or []
    if not faces:
        return None
    meshes = [np.array([[p.x, p.y] for p in f.landmark]) * out for f in faces]
    nearest = min(meshes, key=lambda m: float(np.hypot(*(m.mean(axis=0) - out / 2))))   # the face in the middle
    points = nearest @ rot.T + shift - 0.5                         # continuous -> pixel indices
    right, left = points[list(MESH_EYE_RIGHT)].mean(axis=0), points[list(MESH_EYE_LEFT)].mean(axis=0)
    down = points[list(MESH_MOUTH)].mean(axis=0) - (right + left) / 2
    across = left - right
    if across[0] * down[1] - across[1] * down[0] <= 0:              # mouth not below the eye line: a misread
        return None
    return points


def find_landmarks(image: Any) -> dict:
    """Eye centres and mouth corners of the largest face, from MediaPipe's face mesh (the ``align`` extra).

    Face detectors search the whole image, then overlapping tiles (for faces small in a large
    photo); candidates, largest first, go to the face mesh in an upright crop, and the first it
    reads is the face. Each eye centre is the mean of the six mesh points that match dlib's
    68-point eye contour, as the FFHQ protocol averages; the mouth corners are the mesh's lip
    corners. Returns ``eyes`` (subject's right eye first, image-left when upright),
    ``mouth_corners``, ``mouth`` (their mean) and ``box`` (the face's detection box, source
    pixels). No face is an :class:`InputError`."""
    rgb = as_rgb(image)
    mp = _mediapipe()
    points, face, seen = None, None, 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # protobuf deprecation chatter from mediapipe's graph runner
        for candidates in _candidates(mp, rgb):
            for face in candidates:
                seen += 1
                points = _mesh_points(mp, rgb, face)
                if points is not None:
                    break
            if points is not None:
                break
    if points is None:
        hint = f" ({seen} face-like regions did not hold a face the landmark model could read)" if seen else ""
        raise InputError(f"no face found in the {rgb.shape[1]}x{rgb.shape[0]} image{hint}; faces must be roughly "
                         "upright and at least about 1/40 of the image's short side")
    eyes = np.stack([points[list(MESH_EYE_RIGHT)].mean(axis=0), points[list(MESH_EYE_LEFT)].mean(axis=0)])
    corners = points[list(MESH_MOUTH)]
    return {"eyes": eyes.tolist(), "mouth_corners": corners.tolist(), "mouth": corners.mean(axis=0).tolist(),
            "box": [float(v) for v in face["box"]]}


def align_face(image: Any, size: int = 1024, *, padding: bool = True) -> tuple[np.ndarray, dict]:
    """Find the largest face in a photo and crop it the way FFHQ was made.

    ``image``: an ``[H, W, 3]`` uint8 array or a PIL image (greyscale, RGBA, palette converted).
    Returns the aligned ``[size, size, 3]`` uint8 image and ``info``: ``eyes`` (two ``[x, y]``,
    image-left first, source pixels), ``mouth`` (centre), ``mouth_corners``, ``quad`` (the crop's
    corners in source pixels), ``size`` and ``box`` (the face's detection box). Needs the ``align``
    extra; no face is an :class:`InputError`, several faces give the largest."""
    rgb = as_rgb(image)
    size = check_size(size)
    marks = find_landmarks(rgb)
    aligned, info = align_from_landmarks(rgb, marks["eyes"], marks["mouth_corners"], size, padding=padding)
    info["box"] = marks["box"]
    return aligned, info
