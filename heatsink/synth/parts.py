"""Parts: one surface rendered whole, with its defects, then cut into adjacent 320×320 tiles.

A real heat sink is larger than one camera frame, so neighbouring frames of the real
dataset show the same part, and a scratch can run from one frame into the next. The twin
reproduces this: each part of ``rows × cols`` tiles is rendered as one canvas (surface,
defects, label and truth), some defects are placed across the seams between tiles, and the
canvas is cut into tiles. Per-tile object counts and bounding boxes are drawn from the
calibration targets, so the tiles' connected components match the real statistics.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from heatsink.classes import BACKGROUND, SCRATCH, STAIN
from heatsink.components import components
from heatsink.synth import defects, surface
from heatsink.synth.noise import NoiseConfig
from heatsink.synth.sampling import sample_bboxes

TILE = 320
#: Part shapes (rows, cols) and their relative frequencies.
PART_SHAPES: tuple[tuple[int, int], ...] = (
    (1, 1), (1, 2), (2, 1), (2, 2), (1, 3), (3, 1), (2, 3), (3, 2), (3, 3)
)
PART_WEIGHTS: tuple[float, ...] = (0.40, 0.13, 0.13, 0.12, 0.05, 0.05, 0.05, 0.05, 0.02)
#: Probability that an internal seam gets a scratch / a stain placed across it.
SEAM_SCRATCH_P = 0.30
SEAM_STAIN_P = 0.20
#: Minimum gap (px) between distinct defects, so components never merge by accident and
#: truth edits of ≤2 px (sloppy boundaries) stay apart.
GAP = 3
_NAMES = {SCRATCH: "scratch", STAIN: "stain"}
_OTHER = {SCRATCH: STAIN, STAIN: SCRATCH}


def plan_parts(rng: np.random.Generator, n: int) -> list[tuple[int, int]]:
    """Part shapes whose tiles add up to exactly ``n``."""
    shapes: list[tuple[int, int]] = []
    left = n
    weights = np.array(PART_WEIGHTS)
    sizes = np.array([r * c for r, c in PART_SHAPES])
    while left > 0:
        ok = sizes <= left
        p = weights * ok
        k = int(rng.choice(len(PART_SHAPES), p=p / p.sum()))
        shapes.append(PART_SHAPES[k])
        left -= int(sizes[k])
    return shapes


@dataclass
class PartSpec:
    """Everything needed to render one part, independent of the other parts."""

    index: int
    rows: int
    cols: int
    counts: np.ndarray  # (rows*cols, 2): scratch, stain objects as labelled, row-major
    seed: np.random.SeedSequence
    noise: NoiseConfig


@dataclass
class InjectedError:
    """One label error, with its changed pixels in part coordinates."""

    tile: tuple[int, int]
    error: str
    class_truth: int
    class_labelled: int
    detail: str
    top: int
    left: int
    diff: np.ndarray  # bool, truth != label inside the window
    neighbour: tuple[int, int] | None = None


@dataclass
class PartResult:
    """Rendered tiles (row-major) of one part and the label errors injected into it."""

    index: int
    rows: int
    cols: int
    images: list[np.ndarray]
    labels: list[np.ndarray]
    truths: list[np.ndarray]
    errors: list[InjectedError] = field(default_factory=list)


@dataclass
class _Obj:
    cls: int
    mask: np.ndarray
    top: int
    left: int
    tile: tuple[int, int]
    app: int  # index into the appearance list


class _Canvas:
    def __init__(self, rows: int, cols: int) -> None:
        self.shape = (rows * TILE, cols * TILE)
        self.label = np.zeros(self.shape, np.uint8)
        self.truth = np.zeros(self.shape, np.uint8)
        self.blocked = np.zeros(self.shape, bool)
        self.apps: list[defects.Appearance] = []
        self.objs: list[_Obj] = []

    def free(self, mask: np.ndarray, top: int, left: int) -> bool:
        h, w = mask.shape
        if top < 0 or left < 0 or top + h > self.shape[0] or left + w > self.shape[1]:
            return False
        return not (self.blocked[top : top + h, left : left + w] & mask).any()

    def block(self, mask: np.ndarray, top: int, left: int) -> None:
        g = GAP
        h, w = mask.shape
        pad = np.zeros((h + 2 * g, w + 2 * g), np.uint8)
        pad[g : g + h, g : g + w] = mask
        pad = cv2.dilate(pad, np.ones((2 * g + 1, 2 * g + 1), np.uint8)).astype(bool)
        t0, l0 = top - g, left - g
        ct0, cl0 = max(t0, 0), max(l0, 0)
        ct1, cl1 = min(t0 + h + 2 * g, self.shape[0]), min(l0 + w + 2 * g, self.shape[1])
        self.blocked[ct0:ct1, cl0:cl1] |= pad[ct0 - t0 : ct1 - t0, cl0 - l0 : cl1 - l0]

    def paint(self, mask: np.ndarray, top: int, left: int, label: int, truth: int) -> None:
        h, w = mask.shape
        win = (slice(top, top + h), slice(left, left + w))
        if label:
            self.label[win][mask] = label
        if truth:
            self.truth[win][mask] = truth
        self.block(mask, top, left)


def _place_local(
    rng: np.random.Generator, cv: _Canvas, mask: np.ndarray, tile: tuple[int, int],
    top_bias: bool, tries: int = 40,
) -> tuple[int, int] | None:
    h, w = mask.shape
    r, c = tile
    for _ in range(tries):
        u = rng.beta(1.0, 2.2) if (top_bias and rng.random() < 0.35) else rng.random()
        top = r * TILE + int(u * (TILE - h + 1))
        left = c * TILE + int(rng.integers(0, TILE - w + 1))
        if cv.free(mask, top, left):
            return top, left
    return None


def _seam_geometry(seam_axis: int, n_coord: np.ndarray, t_coord: np.ndarray) -> np.ndarray:
    """(n, t) seam coordinates -> (x, y). ``seam_axis`` 1: vertical seam (n = x)."""
    if seam_axis == 1:
        return np.stack([n_coord, t_coord], axis=-1)
    return np.stack([t_coord, n_coord], axis=-1)


def _seam_window(
    cv: _Canvas, pts_mask: np.ndarray, top: int, left: int, a: tuple[int, int],
    b: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray] | None:
    """Split a seam object's mask into its A and B pieces; None if it strays elsewhere."""
    h, w = pts_mask.shape
    yy = np.arange(top, top + h)[:, None] // TILE
    xx = np.arange(left, left + w)[None, :] // TILE
    in_a = (yy == a[0]) & (xx == a[1])
    in_b = (yy == b[0]) & (xx == b[1])
    if (pts_mask & ~(in_a | in_b)).any():
        return None
    pa, pb = pts_mask & in_a, pts_mask & in_b
    if not pa.any() or not pb.any():
        return None
    for piece in (pa, pb):
        if components(piece.astype(np.uint8)).n != 1:
            return None
    return pa, pb


def _seam_scratch(
    rng: np.random.Generator, cv: _Canvas, a: tuple[int, int], b: tuple[int, int],
    box_a: tuple[int, int], box_b: tuple[int, int],
) -> tuple[np.ndarray, int, int, list[np.ndarray]] | None:
    """A straight scratch band crossing the seam between tiles ``a`` and ``b``."""
    seam_axis = 1 if a[0] == b[0] else 0
    sign_ab = 1 if (b[seam_axis] > a[seam_axis]) else -1
    seam = max(a[seam_axis], b[seam_axis]) * TILE
    lane = a[1 - seam_axis] * TILE  # start of the shared range along the seam

    # orient each piece so its longer side runs across the seam
    na, ta = max(box_a), min(box_a)
    nb = max(box_b)
    t = float(rng.choice(defects.SCRATCH_THICKNESS, p=defects.SCRATCH_THICKNESS_P))
    slope = (ta - t) / max(na - t, 1.0) * rng.choice([-1.0, 1.0])
    la, lb = max(na - t - 1, 2.0), max(nb - t - 1, 2.0)
    for _ in range(25):
        tc = rng.uniform(lane + t + 2, lane + TILE - t - 2)
        n0, n1 = seam - sign_ab * la, seam + sign_ab * lb
        t0, t1 = tc - slope * la, tc + slope * lb
        line = _seam_geometry(seam_axis, np.array([n0, n1]), np.array([t0, t1]))
        lo = np.floor(line.min(0) - t).astype(int)
        hi = np.ceil(line.max(0) + t).astype(int)
        if (lo < 0).any() or hi[0] >= cv.shape[1] or hi[1] >= cv.shape[0]:
            continue
        shape = (int(hi[1] - lo[1] + 1), int(hi[0] - lo[0] + 1))
        mask = defects.rasterize_band([line], t, shape, offset=lo)
        ys, xs = np.nonzero(mask)
        mask = mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        top, left = int(lo[1] + ys.min()), int(lo[0] + xs.min())
        if cv.free(mask, top, left):
            return mask, top, left, [line]
    return None


def _seam_stain(
    rng: np.random.Generator, cv: _Canvas, a: tuple[int, int], b: tuple[int, int],
    box_a: tuple[int, int], box_b: tuple[int, int],
) -> tuple[np.ndarray, int, int] | None:
    """An irregular stain straddling the seam between tiles ``a`` and ``b``."""
    seam_axis = 1 if a[0] == b[0] else 0
    seam = max(a[seam_axis], b[seam_axis]) * TILE
    lane = a[1 - seam_axis] * TILE
    # extent across the seam: the two pieces' sizes; along it: their mean
    first = a if a[seam_axis] < b[seam_axis] else b
    box_first, box_second = (box_a, box_b) if first == a else (box_b, box_a)
    n_first, n_second = box_first[seam_axis], box_second[seam_axis]
    along = (box_a[1 - seam_axis] + box_b[1 - seam_axis] + 1) // 2
    across = n_first + n_second
    hw = (along, across) if seam_axis == 1 else (across, along)
    if max(hw) > TILE or along > TILE - 2:
        return None
    mask = defects.stain_label(rng, *hw)
    for _ in range(25):
        pos_t = lane + int(rng.integers(0, TILE - along + 1))
        pos_n = seam - n_first
        top, left = (pos_t, pos_n) if seam_axis == 1 else (pos_n, pos_t)
        if cv.free(mask, top, left):
            return mask, top, left
    return None


def _new_error(
    tile: tuple[int, int], error: str, ct: int, cl: int, detail: str, cv: _Canvas,
    top: int, left: int, own: np.ndarray, neighbour: tuple[int, int] | None = None,
) -> InjectedError:
    """Record an error whose pixels are ``own`` (bool window at ``top, left``)."""
    h, w = own.shape
    t0, l0 = max(top, 0), max(left, 0)
    t1, l1 = min(top + h, cv.shape[0]), min(left + w, cv.shape[1])
    own = own[t0 - top : t1 - top, l0 - left : l1 - left]
    diff = (cv.truth[t0:t1, l0:l1] != cv.label[t0:t1, l0:l1]) & own
    return InjectedError(tile, error, ct, cl, detail, t0, l0, diff, neighbour)


def _place_seams(rng, cv, spec, targets, errors) -> None:
    rows, cols = spec.rows, spec.cols
    seams = [((r, c), (r, c + 1)) for r in range(rows) for c in range(cols - 1)]
    seams += [((r, c), (r + 1, c)) for r in range(rows - 1) for c in range(cols)]
    order = rng.permutation(len(seams)) if seams else []
    for k in order:
        a, b = seams[int(k)]
        if rng.random() < 0.5:
            a, b = b, a
        for cls, p in ((SCRATCH, SEAM_SCRATCH_P), (STAIN, SEAM_STAIN_P)):
            if rng.random() >= p or not targets[a][cls]:
                continue
            inconsistent = rng.random() < spec.noise.rates()["seam_inconsistency"]
            b_label = cls
            if inconsistent:
                b_label = _OTHER[cls] if (rng.random() < 0.4 and targets[b][_OTHER[cls]]) \
                    else BACKGROUND
            if b_label and not targets[b][b_label]:
                continue
            ia = int(rng.integers(len(targets[a][cls])))
            box_a = targets[a][cls][ia]
            box_b = targets[b][b_label][0] if b_label == cls else tuple(
                int(v) for v in sample_bboxes(rng, _NAMES[cls], 1)[0])
            if cls == SCRATCH:
                made = _seam_scratch(rng, cv, a, b, box_a, box_b)
                lines = made[3] if made else None
            else:
                made = _seam_stain(rng, cv, a, b, box_a, box_b)
                lines = None
            if made is None:
                continue
            mask, top, left = made[0], made[1], made[2]
            split = _seam_window(cv, mask, top, left, a, b)
            if split is None:
                continue
            pa, pb = split
            targets[a][cls].pop(ia)
            if b_label:
                targets[b][b_label].pop(0)
            cv.paint(pa, top, left, cls, cls)
            cv.paint(pb, top, left, b_label, cls)
            if cls == SCRATCH:
                cv.apps.append(defects.line_appearance(rng, lines))
            else:
                cv.apps.append(defects.blot_appearance(rng, mask, top, left))
            if inconsistent:
                how = "missing" if b_label == BACKGROUND else f"labelled {_NAMES[b_label]}"
                detail = f"{_NAMES[cls]} crossing the seam: {how} here, labelled in the neighbour"
                errors.append(_new_error(b, "seam_inconsistency", cls, b_label, detail, cv,
                                         top, left, pb, neighbour=a))


def _place_tile_objects(rng, cv, spec, targets) -> None:
    for r in range(spec.rows):
        for c in range(spec.cols):
            tile = (r, c)
            todo = [(cls, box) for cls in (SCRATCH, STAIN) for box in targets[tile][cls]]
            todo.sort(key=lambda it: -it[1][0] * it[1][1])
            for cls, box in todo:
                placed = False
                for attempt in range(6):
                    h, w = box
                    if cls == SCRATCH:
                        mask, lines, _ = defects.scratch_label(rng, h, w)
                    else:
                        mask, lines = defects.stain_label(rng, h, w), None
                    pos = _place_local(rng, cv, mask, tile, top_bias=(cls == STAIN))
                    if pos is not None:
                        placed = True
                        break
                    # crowded: redraw the size (smaller boxes fit more easily)
                    new = sample_bboxes(rng, _NAMES[cls], 2)
                    box = tuple(int(v) for v in new[np.argmin(new.prod(1))])
                    del attempt
                if not placed:
                    continue
                top, left = pos
                cv.paint(mask, top, left, cls, cls)
                if cls == SCRATCH:
                    shifted = [ln + np.array([left, top], float) for ln in lines]
                    cv.apps.append(defects.line_appearance(rng, shifted))
                else:
                    cv.apps.append(defects.blot_appearance(rng, mask, top, left))
                cv.objs.append(_Obj(cls, mask, top, left, tile, len(cv.apps) - 1))


def _inject_tile_noise(rng, cv, spec, errors) -> None:
    rates = spec.noise.rates()
    used: set[int] = set()
    for r in range(spec.rows):
        for c in range(spec.cols):
            tile = (r, c)
            mine = [i for i, o in enumerate(cv.objs) if o.tile == tile]
            if rng.random() < rates["class_swap"] and mine:
                _class_swap(rng, cv, tile, mine, used, errors)
            if rng.random() < rates["sloppy_boundary"]:
                free = [i for i in mine if i not in used]
                if free:
                    _sloppy(rng, cv, tile, free, used, errors)
            if rng.random() < rates["missed_stain"]:
                _missed_stain(rng, cv, tile, errors)


def _class_swap(rng, cv, tile, mine, used, errors) -> None:
    objs = [cv.objs[i] for i in mine]
    # plausible confusions: the most elongated stain or the smallest scratch
    def elong(o: _Obj) -> float:
        h, w = o.mask.shape
        return max(h, w) / max(min(h, w), 1)

    stains = [i for i, o in zip(mine, objs, strict=True) if o.cls == STAIN]
    scratches = [i for i, o in zip(mine, objs, strict=True) if o.cls == SCRATCH]
    if stains and (not scratches or rng.random() < 0.5):
        k = max(stains, key=lambda i: elong(cv.objs[i]))
    else:
        k = min(scratches, key=lambda i: cv.objs[i].mask.sum())
    o = cv.objs[k]
    new = _OTHER[o.cls]
    h, w = o.mask.shape
    cv.truth[o.top : o.top + h, o.left : o.left + w][o.mask] = new
    if new == SCRATCH:
        cv.apps[o.app] = defects.line_appearance(
            rng, [defects.principal_line(o.mask, o.top, o.left)])
    else:
        cv.apps[o.app] = defects.blot_appearance(rng, o.mask, o.top, o.left)
    used.add(k)
    detail = f"a {_NAMES[new]} labelled as {_NAMES[o.cls]}"
    errors.append(_new_error(tile, "class_swap", new, o.cls, detail, cv, o.top, o.left, o.mask))


def _sloppy(rng, cv, tile, free, used, errors) -> None:
    k = int(rng.choice(free))
    o = cv.objs[k]
    h, w = o.mask.shape
    g = 2
    top, left = o.top - g, o.left - g
    pad = np.zeros((h + 2 * g, w + 2 * g), np.uint8)
    pad[g : g + h, g : g + w] = o.mask
    kind = str(rng.choice(["grown", "shrunk", "shifted"]))
    if kind == "shrunk" and min(h, w) < 6:
        kind = "grown"
    size = int(rng.integers(1, 3))
    if kind == "grown":  # label larger than the truth: truth = label eroded
        new = cv2.erode(pad, np.ones((2 * size + 1,) * 2, np.uint8))
        if not new.any():
            kind = "shrunk"
    if kind == "shrunk":  # label smaller than the truth: truth = label dilated
        new = cv2.dilate(pad, np.ones((2 * size + 1,) * 2, np.uint8))
    elif kind == "shifted":
        dy, dx = 0, 0
        while dy == 0 and dx == 0:
            dy, dx = (int(v) for v in rng.integers(-2, 3, 2))
        new = np.roll(np.roll(pad, dy, axis=0), dx, axis=1)
        cv.apps[o.app] = cv.apps[o.app].shifted(dy, dx)
    t0, l0 = max(top, 0), max(left, 0)
    t1, l1 = min(top + h + 2 * g, cv.shape[0]), min(left + w + 2 * g, cv.shape[1])
    sub_new = new[t0 - top : t1 - top, l0 - left : l1 - left].astype(bool)
    sub_old = pad[t0 - top : t1 - top, l0 - left : l1 - left].astype(bool)
    # keep truth edits inside the object's tile, so the edit is one tile's error
    yy = np.arange(t0, t1)[:, None] // TILE
    xx = np.arange(l0, l1)[None, :] // TILE
    sub_new &= (yy == tile[0]) & (xx == tile[1])
    win = cv.truth[t0:t1, l0:l1]
    win[sub_old] = BACKGROUND
    win[sub_new] = o.cls
    used.add(k)
    if kind == "shifted":
        detail = f"label shifted by ({-dy}, {-dx}) px from the truth"
    else:
        detail = f"label {kind} by {size} px"
    err = _new_error(tile, "sloppy_boundary", o.cls, o.cls, detail, cv, t0, l0, sub_old | sub_new)
    if err.diff.any():
        errors.append(err)


def _missed_stain(rng, cv, tile, errors) -> None:
    boxes = sample_bboxes(rng, "stain", 2)
    h, w = (int(v) for v in boxes[np.argmin(boxes.prod(1))])  # missed ones are the small ones
    mask = defects.stain_label(rng, h, w)
    pos = _place_local(rng, cv, mask, tile, top_bias=True)
    if pos is None:
        return
    top, left = pos
    cv.paint(mask, top, left, BACKGROUND, STAIN)
    app = defects.blot_appearance(rng, mask, top, left)
    app.amplitude *= 0.6  # the ones annotators miss are the faintest
    cv.apps.append(app)
    detail = f"stain of {h}x{w} px not labelled"
    errors.append(_new_error(tile, "missed_stain", STAIN, BACKGROUND, detail, cv, top, left, mask))


def _render_appearances(rng: np.random.Generator, cv: _Canvas, lum: np.ndarray) -> None:
    H, W = cv.shape
    for app in cv.apps:
        if app.kind == "blot" and app.blot is not None:
            h, w = app.blot.shape
            # soft edges that widen with the blot, and a blotchy (not pixel-noise) interior
            sigma = float(np.clip(0.12 * np.sqrt(app.blot.sum()), 1.2, 4.0))
            m = int(np.ceil(2 * sigma)) + 1
            t0, l0 = max(app.top - m, 0), max(app.left - m, 0)
            t1, l1 = min(app.top + h + m, H), min(app.left + w + m, W)
            local = np.zeros((t1 - t0, l1 - l0), np.float32)
            bt, bl = app.top - t0, app.left - l0
            src = app.blot[max(-bt, 0) : h - max(bt + h - local.shape[0], 0),
                           max(-bl, 0) : w - max(bl + w - local.shape[1], 0)]
            local[max(bt, 0) : max(bt, 0) + src.shape[0],
                  max(bl, 0) : max(bl, 0) + src.shape[1]] = src
            local = surface.gaussian_blur(local, sigma)
            texture = 1.0 + 0.25 * surface.smooth_noise(rng, local.shape, 3.0)
            lum[t0:t1, l0:l1] *= 1.0 + app.amplitude * local * texture
        elif app.kind == "line":
            pts = np.concatenate(app.lines)
            lo = np.floor(pts.min(0)).astype(int) - 4
            hi = np.ceil(pts.max(0)).astype(int) + 5
            l0, t0 = max(lo[0], 0), max(lo[1], 0)
            l1, t1 = min(hi[0], W), min(hi[1], H)
            if l1 <= l0 or t1 <= t0:
                continue
            local = np.zeros((t1 - t0, l1 - l0), np.float32)
            thick = 1 if app.width < 1.8 else 2
            for line in app.lines:
                p = np.round((line - [l0, t0]) * 4).astype(np.int32)
                cv2.polylines(local, [p], False, 1.0, thick, cv2.LINE_AA, shift=2)
            local = surface.gaussian_blur(local, 0.5 + 0.3 * (app.width - 1))
            fade = np.clip(0.75 + 0.45 * surface.smooth_noise(rng, local.shape, 40.0), 0.15, 1.2)
            lum[t0:t1, l0:l1] *= 1.0 + app.amplitude * local * fade


def render_part(spec: PartSpec) -> PartResult:
    """Render one part and cut it into tiles.

    Parameters
    ----------
    spec : PartSpec

    Returns
    -------
    PartResult
        Tiles in row-major order: BGR images, as-labelled masks, clean truth masks, and the
        injected label errors.
    """
    rng = np.random.default_rng(spec.seed)
    cv = _Canvas(spec.rows, spec.cols)
    targets: dict[tuple[int, int], dict[int, list[tuple[int, int]]]] = {}
    for i, (n_scratch, n_stain) in enumerate(spec.counts):
        tile = divmod(i, spec.cols)
        targets[tile] = {
            SCRATCH: [tuple(int(v) for v in b) for b in sample_bboxes(rng, "scratch", n_scratch)],
            STAIN: [tuple(int(v) for v in b) for b in sample_bboxes(rng, "stain", n_stain)],
        }
    errors: list[InjectedError] = []
    _place_seams(rng, cv, spec, targets, errors)
    _place_tile_objects(rng, cv, spec, targets)
    _inject_tile_noise(rng, cv, spec, errors)

    lum = surface.luminance(rng, cv.shape, tile=TILE)
    _render_appearances(rng, cv, lum)
    image = surface.colourize(rng, lum)
    result = PartResult(spec.index, spec.rows, spec.cols, [], [], [], errors)
    for r in range(spec.rows):
        for c in range(spec.cols):
            win = (slice(r * TILE, (r + 1) * TILE), slice(c * TILE, (c + 1) * TILE))
            result.images.append(np.ascontiguousarray(image[win]))
            result.labels.append(np.ascontiguousarray(cv.label[win]))
            result.truths.append(np.ascontiguousarray(cv.truth[win]))
    return result


__all__ = [
    "GAP",
    "PART_SHAPES",
    "PART_WEIGHTS",
    "SEAM_SCRATCH_P",
    "SEAM_STAIN_P",
    "TILE",
    "InjectedError",
    "PartResult",
    "PartSpec",
    "plan_parts",
    "render_part",
]
