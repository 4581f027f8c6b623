"""Torch building blocks of the blur and weather families: filters, resampling and cached constants.

Each helper mirrors one operation of the reference implementation (imagecorruptions, which uses
scipy.ndimage, scikit-image and OpenCV) closely enough that the deterministic corruptions match it
within one grey level. Images are float tensors (N, C, H, W); kernels are small constants built
once with NumPy/torch on the CPU and cached per device.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from evaluator.corruptions import _ops


def _device_key(device: torch.device | str) -> str:
    return str(torch.device(device))


@lru_cache(maxsize=64)
def _gaussian_taps(sigma: float, truncate: float) -> tuple[float, ...]:
    """scipy.ndimage.gaussian_filter1d's weights (``_ops.gaussian_kernel1d``) as a cacheable tuple."""
    return tuple(_ops.gaussian_kernel1d(sigma, truncate, torch.float64).tolist())


_MATMUL_TAPS_RATIO = 16  # a dense banded matrix product beats shifted adds when side <= 16 * taps (CPU)


@lru_cache(maxsize=128)
def _band_matrix(
    taps: tuple[float, ...], n: int, pad_mode: str, device: str, dtype: torch.dtype
) -> torch.Tensor:
    """(n, n) matrix M with (M @ v)[i] = sum_j taps[j] * v[border(i + j - r)], borders folded in."""
    r = len(taps) // 2
    m = np.zeros((n, n), dtype=np.float64)
    rows = np.arange(n)
    for j, t in enumerate(taps):
        cols = rows + j - r
        if pad_mode == "replicate":
            cols = np.clip(cols, 0, n - 1)
        else:  # reflect-101 (n > r assumed)
            cols = np.abs(cols)
            cols = np.where(cols > n - 1, 2 * (n - 1) - cols, cols)
        np.add.at(m, (rows, cols), t)
    return torch.from_numpy(m).to(device=device, dtype=dtype)


_BLOCK = 28  # output columns per block of the block-banded product


@lru_cache(maxsize=64)
def _toeplitz(taps: tuple[float, ...], block: int, device: str, dtype: torch.dtype) -> torch.Tensor:
    """(block + k - 1, block) T with (v @ T)[j] = sum_t taps[t] * v[j + t]."""
    k = len(taps)
    t = np.zeros((block + k - 1, block))
    for j in range(block):
        t[j : j + k, j] = taps
    return torch.from_numpy(t).to(device=device, dtype=dtype)


def _block_banded(x: torch.Tensor, taps: tuple[float, ...], pad_mode: str) -> torch.Tensor:
    """Both passes as products of ``_BLOCK``-wide slices with one small Toeplitz matrix: the band's
    zeros are skipped, and the slices are strided views that BLAS reads without copies."""
    r = len(taps) // 2
    h, w = x.shape[-2:]
    t = _toeplitz(taps, _BLOCK, _device_key(x.device), x.dtype)
    padded = F.pad(x, (r, r, 0, 0), mode=pad_mode)
    cols = [
        padded[..., a : min(a + _BLOCK, w) + 2 * r] @ t[: min(_BLOCK, w - a) + 2 * r, : min(_BLOCK, w - a)]
        for a in range(0, w, _BLOCK)
    ]
    padded = F.pad(torch.cat(cols, dim=-1), (0, 0, r, r), mode=pad_mode)
    rows = [
        t[: min(_BLOCK, h - a) + 2 * r, : min(_BLOCK, h - a)].T
        @ padded[..., a : min(a + _BLOCK, h) + 2 * r, :]
        for a in range(0, h, _BLOCK)
    ]
    return torch.cat(rows, dim=-2)


def separable_filter(x: torch.Tensor, taps: tuple[float, ...], pad_mode: str = "replicate") -> torch.Tensor:
    """Correlate every channel of ``x`` (N, C, H, W) with ``taps`` along H and W (a separable kernel).

    ``pad_mode`` is a torch padding mode: "replicate" is scipy's ``mode='nearest'``, "reflect" is
    OpenCV's default BORDER_REFLECT_101. On the CPU OpenCV filters (``_ops.separable_filter_opencv``);
    elsewhere each pass is either a product with a banded matrix (one BLAS
    call: small images or long kernels) or a sum of shifted slices; both beat a 1-channel conv2d.
    """
    h, w = x.shape[-2:]
    device = _device_key(x.device)
    r = len(taps) // 2
    if _ops.opencv_can_filter(x, r):
        return _ops.separable_filter_opencv(x, taps, taps, _ops.TORCH_PAD_TO_SCIPY[pad_mode])
    if len(taps) >= 17 and min(h, w) > 4 * _BLOCK and min(h, w) > r:
        return _block_banded(x, taps, pad_mode)
    if max(h, w) <= _MATMUL_TAPS_RATIO * len(taps) or x.device.type != "cpu":
        y = x @ _band_matrix(taps, w, pad_mode, device, x.dtype).T
        return _band_matrix(taps, h, pad_mode, device, x.dtype) @ y
    y = F.pad(x, (0, 0, r, r), mode=pad_mode)
    out = y[..., 0:h, :] * taps[0]
    for j in range(1, len(taps)):
        out.add_(y[..., j : j + h, :], alpha=taps[j])
    y = F.pad(out, (r, r, 0, 0), mode=pad_mode)
    out = y[..., 0:w] * taps[0]
    for j in range(1, len(taps)):
        out.add_(y[..., j : j + w], alpha=taps[j])
    return out


def gaussian_filter(x: torch.Tensor, sigma: float, truncate: float = 4.0) -> torch.Tensor:
    """skimage.filters.gaussian / scipy.ndimage.gaussian_filter over H and W, borders ``'nearest'``."""
    return separable_filter(x, _gaussian_taps(float(sigma), float(truncate)), "replicate")


def box_blur3(x: torch.Tensor) -> torch.Tensor:
    """cv2.blur(x, (3, 3)): the 3x3 mean with BORDER_REFLECT_101."""
    n, c, h, w = x.shape
    y = F.pad(x.reshape(n * c, 1, h, w), (1, 1, 1, 1), mode="reflect")
    y = y[..., :, :-2] + y[..., :, 1:-1] + y[..., :, 2:]
    y = y[..., :-2, :] + y[..., 1:-1, :] + y[..., 2:, :]
    return (y * (1.0 / 9.0)).reshape(n, c, h, w)


def filter2d(x: torch.Tensor, kernel: torch.Tensor, pad_mode: str = "reflect") -> torch.Tensor:
    """cv2.filter2D(x, -1, kernel) per channel (correlation, anchor at the centre, reflect-101 borders).

    Large kernels go through the FFT (as OpenCV does): the padded image is transformed once and
    multiplied by the cached transform of the kernel (on the CPU about 1.5x faster than calling
    cv2.filter2D per plane).
    """
    n, c, h, w = x.shape
    kh, kw = kernel.shape
    rh, rw = kh // 2, kw // 2
    y = F.pad(x.reshape(n * c, 1, h, w), (rw, rw, rh, rh), mode=pad_mode)
    if kh * kw < 64:
        out = F.conv2d(y, kernel.to(device=x.device, dtype=x.dtype)[None, None])
        return out.reshape(n, c, h, w)
    ph, pw = y.shape[-2:]
    spec = _kernel_spectrum(kernel, ph, pw, x.device)
    product = torch.fft.rfft2(y.float()) * spec
    # an even width comes back by default; passing ``s`` makes torch take a path ~1.5-2x slower
    full = torch.fft.irfft2(product) if pw % 2 == 0 else torch.fft.irfft2(product, s=(ph, pw))
    # circular correlation with the kernel anchored at (0, 0): valid part starts at the kernel size - 1
    out = full[..., kh - 1 : kh - 1 + h, kw - 1 : kw - 1 + w]
    return out.reshape(n, c, h, w).to(x.dtype)


_SPECTRA: dict[tuple, torch.Tensor] = {}


def _kernel_spectrum(kernel: torch.Tensor, ph: int, pw: int, device: torch.device) -> torch.Tensor:
    key = (kernel.shape, hash(kernel.numpy().tobytes()), ph, pw, _device_key(device))
    spec = _SPECTRA.get(key)
    if spec is None:
        # convolution with the flipped kernel == correlation with the kernel
        flipped = torch.flip(kernel.float(), dims=(0, 1))
        spec = torch.fft.rfft2(flipped, s=(ph, pw)).to(device)
        if len(_SPECTRA) > 128:
            _SPECTRA.clear()
        _SPECTRA[key] = spec
    return spec


def zoom_crop(x: torch.Tensor, zoom: float, centre_trim: bool) -> torch.Tensor:
    """imagecorruptions' ``clipped_zoom``: crop the centre 1/zoom of the image and zoom it back.

    scipy.ndimage.zoom(order=1) output sizes are ``round(side * zoom)`` and its sampling grid is
    torch's ``align_corners=True``. imagecorruptions keeps the whole zoomed layer (callers crop the
    top-left H x W); the original make_cifar_c trims the centre (``centre_trim=True``).
    """
    h, w = x.shape[-2:]
    ch0 = math.ceil(h / float(zoom))
    ch1 = math.ceil(w / float(zoom))
    top0 = (h - ch0) // 2
    top1 = (w - ch1) // 2
    crop = x[..., top0 : top0 + ch0, top1 : top1 + ch1]
    out_h, out_w = round(ch0 * float(zoom)), round(ch1 * float(zoom))
    if (out_h, out_w) == (ch0, ch1):
        zoomed = crop
    else:
        zoomed = F.interpolate(crop, size=(out_h, out_w), mode="bilinear", align_corners=True)
    if centre_trim:
        t0, t1 = (out_h - h) // 2, (out_w - w) // 2
        return zoomed[..., t0 : t0 + h, t1 : t1 + w]
    return zoomed


@lru_cache(maxsize=64)
def _motion_weights(radius: int, sigma: float) -> tuple[float, ...]:
    width = radius * 2 + 1
    k = np.exp(-(np.arange(width) ** 2) / (2 * sigma**2)) / (np.sqrt(2 * np.pi) * sigma)
    return tuple((k / k.sum()).tolist())


def motion_blur_taps(
    radius: int, sigma: float, angle: float, h: int, w: int
) -> tuple[tuple[int, int, float], ...]:
    """The (dy, dx, weight) shifts of imagecorruptions' ``_motion_blur`` (a numpy copy of Wand's).

    A one-sided Gaussian of width 2*radius+1 along ``angle`` degrees; the loop stops when a shift
    would leave an image of size (h, w), exactly as the reference does. The shifts of all taps are
    computed at once (the same float64 operations as the reference's loop); angles are random
    floats, so they are not cached, the weights are.
    """
    weights = _motion_weights(radius, sigma)
    width = len(weights)
    py, px = width * np.sin(np.deg2rad(angle)), width * np.cos(np.deg2rad(angle))
    hypot = math.hypot(py, px)
    i = np.arange(width)
    dy = -np.ceil(((i * py) / hypot) - 0.5)
    dx = -np.ceil(((i * px) / hypot) - 0.5)
    outside = (np.abs(dy) >= h) | (np.abs(dx) >= w)
    count = int(outside.argmax()) if outside.any() else width
    return tuple(
        zip(dy[:count].astype(int).tolist(), dx[:count].astype(int).tolist(), weights[:count], strict=True)
    )


def shifted_sum(x: torch.Tensor, taps: tuple[tuple[int, int, float], ...]) -> torch.Tensor:
    """sum_i w_i * shift(x, dx_i, dy_i) for one image (C, H, W), edges replicated like the reference."""
    h, w = x.shape[-2:]
    py = max(abs(dy) for dy, _, _ in taps)
    px = max(abs(dx) for _, dx, _ in taps)
    xp = F.pad(x[None], (px, px, py, py), mode="replicate")[0] if (py or px) else x
    out = torch.zeros_like(x)
    for dy, dx, weight in taps:
        out.add_(xp[:, py - dy : py - dy + h, px - dx : px - dx + w], alpha=weight)
    return out


# motion_blur: above this many values per picture, a gathered copy costs more than one add_ per
# picture and tap on a view (measured: ~1.5 ns per gathered value against ~8 us per op)
MOTION_GATHER_MAX_VALUES = 4096


def motion_blur(x: torch.Tensor, radius: int, sigma: float, angles: list[float]) -> torch.Tensor:
    """imagecorruptions' ``_motion_blur`` on each image of ``x`` (N, C, H, W) with its own angle.

    The weight of tap ``i`` depends only on (radius, sigma), its shift on the image's angle. So the
    batch takes one gather and one ``add_`` per tap, not per image and tap: a window view of the
    replicate-padded batch (``unfold``) is indexed at every image's shift. An image whose loop
    stopped early (a shift leaving the image) gets zeros for its missing taps, which add exactly
    nothing: the same float operations, in the same order, as ``shifted_sum``. Larger pictures
    (over ``MOTION_GATHER_MAX_VALUES``) take ``shifted_sum`` one by one: there the ops are not the cost.
    """
    n, _, h, w = x.shape
    per_image = [motion_blur_taps(radius, sigma, a, h, w) for a in angles]
    count = max(len(t) for t in per_image)
    if (
        count
        and x.device.type == "cpu"
        and x.dtype == torch.float32
        and x[0].numel() > MOTION_GATHER_MAX_VALUES
    ):
        return _shifted_sums_compiled(x, per_image)
    if n == 1 or count == 0 or x[0].numel() > MOTION_GATHER_MAX_VALUES:
        return torch.stack([shifted_sum(img, t) for img, t in zip(x, per_image, strict=True)])
    py = max(abs(t[-1][0]) for t in per_image)  # shifts grow with the tap index
    px = max(abs(t[-1][1]) for t in per_image)
    xp = F.pad(x, (px, px, py, py), mode="replicate") if (py or px) else x
    windows = xp.unfold(2, h, 1).unfold(3, w, 1)  # (N, C, 2py + 1, 2px + 1, H, W) view
    weights = max(per_image, key=len)
    tops = [[py - t[i][0] if i < len(t) else py for t in per_image] for i in range(count)]
    lefts = [[px - t[i][1] if i < len(t) else px for t in per_image] for i in range(count)]
    device = x.device
    image = torch.arange(n, device=device)
    top = torch.tensor(tops, device=device)
    left = torch.tensor(lefts, device=device)
    out = torch.zeros_like(x)
    for i in range(count):
        # the first tap never shifts (and every image has it)
        shifted = x if i == 0 else windows[image, :, top[i], left[i]]
        missing = [j for j, t in enumerate(per_image) if len(t) <= i]
        if missing:
            shifted.index_fill_(0, torch.tensor(missing, device=device), 0.0)
        out.add_(shifted, alpha=weights[i][2])
    return out


def _shifted_sums_compiled(
    x: torch.Tensor, per_image: list[tuple[tuple[int, int, float], ...]]
) -> torch.Tensor:
    """:func:`shifted_sum` of every picture of a CPU float32 batch by ``_motion_kernel`` (one pass per
    output row instead of one per tap), the pictures spread over ``_ops.map_pictures``' threads."""
    from evaluator.corruptions._motion_kernel import shifted_sum as compiled

    out = torch.empty_like(x)

    def one(i: int) -> None:
        taps = per_image[i]
        py = max(abs(dy) for dy, _, _ in taps)
        px = max(abs(dx) for _, dx, _ in taps)
        padded = F.pad(x[i : i + 1], (px, px, py, py), mode="replicate")[0] if (py or px) else x[i]
        rows = np.array([py - dy for dy, _, _ in taps], dtype=np.int64)
        cols = np.array([px - dx for _, dx, _ in taps], dtype=np.int64)
        weights = np.array([w for _, _, w in taps], dtype=np.float32)
        compiled(padded.contiguous().numpy(), rows, cols, weights, out[i].numpy())

    _ops.map_pictures(one, range(x.shape[0]), x[0].numel())
    return out


def uniform(generator: torch.Generator, low: float, high: float) -> float:
    """One float64 draw in [low, high) from a CPU generator."""
    return low + (high - low) * torch.rand((), generator=generator, dtype=torch.float64).item()


# ---- OpenCV ports used by spatter ------------------------------------------------------------------

_CANNY_SHIFT = 15
_TG22 = int(0.4142135623730950488016887242097 * (1 << _CANNY_SHIFT) + 0.5)
# cv2.distanceTransform(DIST_L2, 5): chamfer weights 1, 1.4, 2.1969 in 16-bit fixed point
_CHAMFER = tuple(int(np.rint(np.float32(m) * np.float32(1 << 16))) for m in (1.0, 1.4, 2.1969))


def canny(gray: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """cv2.Canny(gray, low, high) (aperture 3, L1 gradient) for a batch (N, 1, H, W) of uint8 values.

    Sobel with replicated borders, OpenCV's integer non-maximum suppression (tan 22.5 in 15-bit fixed
    point, strict/non-strict neighbour comparisons as in canny.cpp) and 8-connected hysteresis.
    Returns a bool edge mask (N, 1, H, W).
    """
    g = F.pad(gray.float(), (1, 1, 1, 1), mode="replicate").to(torch.int16)  # |Sobel| <= 2040
    smooth_rows = g[..., :-2, :] + 2 * g[..., 1:-1, :] + g[..., 2:, :]  # Sobel = smoothing x difference
    smooth_cols = g[..., :, :-2] + 2 * g[..., :, 1:-1] + g[..., :, 2:]
    gx = smooth_rows[..., :, 2:] - smooth_rows[..., :, :-2]
    gy = smooth_cols[..., 2:, :] - smooth_cols[..., :-2, :]
    mag = gx.abs() + gy.abs()
    # non-maximum suppression, only where the magnitude passes the low threshold (a small minority)
    h, w = mag.shape[-2:]
    wp = w + 2
    flat = (mag > math.floor(low)).reshape(-1).nonzero().squeeze(1)
    rem = flat % (h * w)
    padded_index = (flat // (h * w)) * ((h + 2) * wp) + (rem // w + 1) * wp + rem % w + 1
    m = mag.reshape(-1).index_select(0, flat).to(torch.int64)
    xs, ys = (
        gx.reshape(-1).index_select(0, flat).to(torch.int64),
        gy.reshape(-1).index_select(0, flat).to(torch.int64),
    )
    ax, ay = xs.abs(), ys.abs() << _CANNY_SHIFT
    tg22x = ax * _TG22
    horizontal = ay < tg22x
    vertical = ~horizontal & (ay > tg22x + (ax << (_CANNY_SHIFT + 1)))
    s = torch.where((xs ^ ys) < 0, -1, 1)
    step = torch.where(horizontal, 1, torch.where(vertical, wp, wp + s))  # towards the "next" neighbour
    magp = F.pad(mag, (1, 1, 1, 1), value=0).reshape(-1)
    after = magp.index_select(0, padded_index + step)
    before = magp.index_select(0, padded_index - step)
    diagonal = ~horizontal & ~vertical
    keep = (m > before) & torch.where(diagonal, m > after, m >= after)
    # hysteresis: weak maxima (low < m <= high) join the edges when 8-connected to one, repeatedly
    strong = keep & (m > math.floor(high))
    edges = torch.zeros((mag.shape[0], h + 2, wp), dtype=torch.bool, device=mag.device).view(-1)
    edges.index_put_((padded_index,), strong)
    weak = padded_index[keep & ~strong]
    neighbours = torch.tensor([-wp - 1, -wp, -wp + 1, -1, 1, wp - 1, wp, wp + 1], device=mag.device)
    while weak.numel():
        around = edges.index_select(0, (weak[:, None] + neighbours).reshape(-1)).view(-1, 8)
        reached = around.any(dim=1)
        if not bool(reached.any()):
            break
        edges.index_fill_(0, weak[reached], True)
        weak = weak[~reached]
    edges = edges.view(mag.shape[0], 1, h + 2, wp)[..., 1:-1, 1:-1]
    return edges


@lru_cache(maxsize=8)
def _chamfer_costs(far: int, device: str) -> torch.Tensor:
    """(far + 1, far + 1) int32: the 5x5 chamfer distance (fixed point) to offset (v rows, u columns)."""
    a, b, c = _CHAMFER
    v, u = np.meshgrid(np.arange(far + 1), np.arange(far + 1), indexing="ij")
    big, small = np.maximum(u, v), np.minimum(u, v)
    cost = np.where(
        big >= 2 * small, (big - 2 * small) * a + small * c, (2 * small - big) * b + (big - small) * c
    )
    return torch.from_numpy(cost.astype(np.int32)).to(device)


def chamfer_distance(zero: torch.Tensor, cap: int) -> torch.Tensor:
    """cv2.distanceTransform(DIST_L2, 5) of an image whose zero pixels are ``zero`` (N, 1, H, W), then
    truncated at ``cap`` (cv2.threshold THRESH_TRUNC).

    The 5x5 chamfer distance to a pixel at offset (u, v), u >= v >= 0, is (u - 2v) a + v c when
    u >= 2v and (2v - u) b + (u - v) c otherwise, non-decreasing in each coordinate. So the distance
    to the nearest zero is the minimum over row offsets v of the cost to the nearest zero pixel of
    rows y - v and y + v (found with cumulative max/min along the rows): a few vectorised steps over
    the whole image, then more only for the pixels still far from every edge.
    """
    h, w = zero.shape[-2:]
    far = cap + 1
    col = torch.arange(w, device=zero.device, dtype=torch.int32)
    z = zero[:, 0]
    none = 1 << 20
    left = torch.where(z, col, -none).cummax(dim=-1).values
    right = torch.where(z, col, none).flip(-1).cummin(dim=-1).values.flip(-1)
    row_dist = torch.minimum(col - left, right - col).clamp_(max=far)
    padded = F.pad(row_dist, (0, 0, far, far), value=far)
    costs = _chamfer_costs(far, _device_key(zero.device))
    best = costs[0].index_select(0, row_dist.reshape(-1))
    near_rows = min(6, cap)
    for v in range(1, near_rows):  # every pixel: most find an edge within a few rows
        nearest = torch.minimum(padded[:, far - v : far - v + h], padded[:, far + v : far + v + h])
        best = torch.minimum(best, costs[v].index_select(0, nearest.reshape(-1)))
    # f(u, v) >= v * a: only pixels farther than ``v`` can still improve at row offset v, and rows
    # ``cap`` or more away cannot beat the cap. Continue with those pixels only.
    a = _CHAMFER[0]
    far_pixels = (best > near_rows * a).nonzero().squeeze(1)
    if far_pixels.numel() and near_rows < cap:
        image, rest = far_pixels // (h * w), far_pixels % (h * w)
        position = image * ((h + 2 * far) * w) + (rest // w + far) * w + rest % w
        column = padded.reshape(-1)
        sub = best.index_select(0, far_pixels)
        for v in range(near_rows, cap):
            up = column.index_select(0, position - v * w)
            down = column.index_select(0, position + v * w)
            sub = torch.minimum(sub, costs[v].index_select(0, torch.minimum(up, down)))
        best = best.index_copy(0, far_pixels, sub)
    best = best.view_as(row_dist)
    return (best.to(torch.float32) * (1.0 / (1 << 16))).clamp_(max=cap)[:, None]


def equalize_hist(x: torch.Tensor) -> torch.Tensor:
    """cv2.equalizeHist per image of a batch (N, 1, H, W) of uint8 values (as a float or int tensor)."""
    n = x.shape[0]
    flat = x.reshape(n, -1).to(torch.int64)
    total = flat.shape[1]
    hist = torch.zeros(n, 256, dtype=torch.int64, device=x.device).scatter_add_(
        1, flat, torch.ones_like(flat)
    )
    first = (hist > 0).to(torch.int64).argmax(dim=1, keepdim=True)  # first non-empty bin
    first_count = torch.gather(hist, 1, first)
    bins = torch.arange(256, device=x.device)[None]
    cumulative = torch.where(bins > first, hist, 0).cumsum(dim=1)
    scale = 255.0 / (total - first_count).clamp(min=1).to(torch.float32)
    lut = torch.round(cumulative.to(torch.float32) * scale).clamp_(0, 255)
    constant = first_count == total  # a constant image maps to its own value
    lut = torch.where(constant, first.to(torch.float32).expand_as(lut), lut)
    return torch.gather(lut, 1, flat).reshape(x.shape)
