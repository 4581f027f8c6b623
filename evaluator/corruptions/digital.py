"""Digital corruptions: contrast, elastic_transform, pixelate, jpeg_compression, saturate.

- contrast: ``(x - mean) * c + mean`` with the per-channel mean of the picture.
- elastic_transform: resample the picture along a smooth random displacement field (bilinear, SciPy
  ``reflect`` border). imagenet-c (imagecorruptions): uniform noise of +-0.5 % of the height, blurred with
  sigma = 1 % of each side (truncate 3), times ``alpha``. cifar10-c (make_cifar_c): first a random affine
  warp (the three control points jittered by up to ``affine`` px, OpenCV ``BORDER_REFLECT_101``), then uniform
  noise in [-1, 1] blurred with ``sigma`` px, times ``alpha`` px.
- pixelate: PIL ``BOX`` downscale by ``c`` (two passes rounded to uint8, as PIL does), ``NEAREST`` upscale.
- jpeg_compression: Pillow's JPEG save at ``quality`` and load (libjpeg-turbo). Large pictures on the CPU
  go through libjpeg itself (bit for bit the reference's); small ones and GPUs through an emulation of
  the codec's lossy steps (colour conversion, 4:2:0, islow DCT, quantization, fancy upsampling) in
  torch arithmetic, entropy coding left out (lossless): within 0.001 grey levels on average.
- saturate: HSV saturation ``s -> clip(s * a + b, 0, 1)`` (skimage's rgb2hsv/hsv2rgb, in closed form).
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from evaluator.corruptions import _jpeg, _ops
from evaluator.corruptions._spec import CorruptionSpec

# torchvision 0.29 deprecates torchvision.io's JPEG codec in favour of torchcodec (not installable here);
# it is still libjpeg-turbo, the same codec Pillow uses.
warnings.filterwarnings(
    "ignore", message="The image decoding and encoding capabilities", category=DeprecationWarning
)


@dataclass(frozen=True)
class Elastic:
    """One severity of elastic_transform."""

    alpha: float  # gain of the smoothed displacement field
    sigma: float  # smoothing sigma: px, or a fraction of each side when ``relative``
    amplitude: float  # the uniform noise is in [-amplitude, amplitude]: px, or a fraction of the height
    affine: float = 0.0  # max jitter (px) of the random affine warp's control points; 0: no affine warp
    relative: bool = False


_CIFAR = 32  # make_cifar_c expresses its elastic parameters as multiples of the 32 px side

# Parameter tables, severities 1..5.
CONTRAST = {"imagenet-c": (0.4, 0.3, 0.2, 0.1, 0.05), "cifar10-c": (0.75, 0.5, 0.4, 0.3, 0.15)}
ELASTIC = {
    "imagenet-c": tuple(
        Elastic(alpha=250 * a, sigma=0.01, amplitude=0.005, relative=True)
        for a in (0.05, 0.065, 0.085, 0.1, 0.12)
    ),
    "cifar10-c": tuple(
        Elastic(alpha=_CIFAR * a, sigma=_CIFAR * s, amplitude=1.0, affine=_CIFAR * f)
        for a, s, f in (
            (0, 0, 0.08),
            (0.05, 0.2, 0.07),
            (0.08, 0.06, 0.06),
            (0.1, 0.04, 0.05),
            (0.1, 0.03, 0.03),
        )
    ),
}
PIXELATE = {"imagenet-c": (0.6, 0.5, 0.4, 0.3, 0.25), "cifar10-c": (0.95, 0.9, 0.85, 0.75, 0.65)}
JPEG_QUALITY = {"imagenet-c": (25, 18, 15, 10, 7), "cifar10-c": (80, 65, 58, 50, 40)}
SATURATE = {
    "imagenet-c": ((0.3, 0), (0.1, 0), (2, 0), (5, 0.1), (20, 0.2)),
    "cifar10-c": ((0.3, 0), (0.1, 0), (1.5, 0), (2, 0.1), (2.5, 0.2)),
}


def contrast(images: torch.Tensor, c: float, generators) -> torch.Tensor:
    # ((x / 255 - m) * c + m) * 255 == c * x + (1 - c) * 255 m, with m the per-channel mean
    h, w = images.shape[-2:]
    # integer levels sum exactly in float32 while the total stays under 2**24 (224 px: 12.8M); bigger
    # pictures sum in float64 (slower: the whole picture is converted)
    exact = h * w * 255 < 2**24
    sums = images.sum(dim=(2, 3), keepdim=True, dtype=None if exact else torch.float64)
    shift = sums.double().div_(h * w).mul_(1.0 - c).to(images.dtype)
    return images.mul(c).add_(shift)


def saturate(images: torch.Tensor, param: tuple[float, float], generators) -> torch.Tensor:
    # In HSV with only S changing, every channel moves along the line from the max channel: with
    # v = max, delta = max - min, s = delta / v and s' the new saturation, hsv2rgb(h, s', v) is
    # c' = v - (s' / s) * (v - c) = v - s' * v * (v - c) / delta. Grey pixels (delta = 0) have hue 0 (red):
    # (v, v (1 - s'), v (1 - s')).
    gain, offset = param
    x = images / 255.0
    v = x.amax(dim=1, keepdim=True)
    delta = v - x.amin(dim=1, keepdim=True)
    s = torch.where(v > 0, delta / v.clamp_min(1e-12), torch.zeros_like(v))
    s_new = (s * gain + offset).clamp_(0, 1)
    coloured = v - s_new * v * (v - x) / delta.clamp_min(1e-12)
    red_tint = v * (1 - s_new)
    grey = torch.cat([v, red_tint, red_tint], dim=1)
    out = torch.where(delta > 0, coloured, grey)
    return out.clamp_(0, 1).mul_(255)


@functools.lru_cache(maxsize=64)
def _box_matrix(in_size: int, out_size: int) -> torch.Tensor:
    """PIL's BOX resampling as an (out_size, in_size) averaging matrix.

    PIL includes input pixel ``i`` in output pixel ``o`` when ``-0.5 < (i + 0.5 - center) / s <= 0.5`` with
    ``center = (o + 0.5) * scale`` and ``s = max(scale, 1)``; members weigh the same."""
    scale = in_size / out_size
    support = 0.5 * max(scale, 1.0)
    weights = torch.zeros(out_size, in_size)
    for o in range(out_size):
        center = (o + 0.5) * scale
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), in_size)
        members = [i for i in range(lo, hi) if -0.5 < (i - center + 0.5) / max(scale, 1.0) <= 0.5]
        weights[o, members] = 1.0 / len(members)
    return weights


@functools.lru_cache(maxsize=64)
def _nearest_index(in_size: int, out_size: int) -> torch.Tensor:
    """PIL's NEAREST resize: output pixel ``o`` takes input ``int(x_o)`` where ``x_0 = scale / 2`` and
    ``x_{o+1} = x_o + scale`` accumulated in double precision, as Pillow's affine transform walks the
    row (the closed form ``(o + 0.5) * scale`` rounds differently at some sizes, e.g. 80 -> 200 px)."""
    scale = in_size / out_size
    steps = np.full(out_size, scale)
    steps[0] = scale * 0.5
    positions = np.add.accumulate(steps)  # strictly sequential, like Pillow's loop
    return torch.from_numpy(np.minimum(positions.astype(np.int64), in_size - 1))


def _pixelate_torch(images: torch.Tensor, c: float) -> torch.Tensor:
    """PIL's two resizes in torch (for pictures on a GPU).

    PIL's 8-bit resampler works horizontally, rounds half up to uint8, then vertically and rounds again;
    the BOX passes are two small matrix products here, the NEAREST one two row gathers."""
    h, w = images.shape[-2:]
    small_h, small_w = int(h * c), int(w * c)
    device = images.device
    across = _box_matrix(w, small_w).T.to(device)
    down = _box_matrix(h, small_h).to(device)
    small = torch.matmul(images.to(torch.float32), across).add_(0.5).floor_()
    small = torch.matmul(down, small).add_(0.5).floor_().to(torch.uint8)
    # gathers along the last axis are slow on the CPU: upsample columns as rows of the transpose
    wide = small.transpose(2, 3).index_select(2, _nearest_index(small_w, w).to(device)).transpose(2, 3)
    return wide.contiguous().index_select(2, _nearest_index(small_h, h).to(device))


def _plane_image(plane: np.ndarray):
    """One (H, W) uint8 channel as a Pillow ``L`` image."""
    from PIL import Image

    return Image.frombuffer("L", (plane.shape[1], plane.shape[0]), plane, "raw", "L", 0, 1)


def pixelate(images: torch.Tensor, c: float, generators) -> torch.Tensor:
    """uint8 in, uint8 out: BOX down to ``int(side * c)``, NEAREST back up (PIL's two resizes).

    On the CPU the result is Pillow's, bit for bit, at any size: Pillow's fixed-point arithmetic
    compiled by Numba (``_pil_kernel``) on the planes as they are, or for pictures at least about
    twice as tall as wide (Pillow resamples those vertically first) Pillow itself. On a GPU the torch
    formulation runs; its BOX pass differs from Pillow's by one grey level on a few per cent of the
    pixels at some non-square sizes (within the fidelity criterion, but not exact)."""
    h, w = images.shape[-2:]
    if images.device.type != "cpu":
        return _pixelate_torch(images, c)
    small_w, small_h = int(w * c), int(h * c)
    planes = images.contiguous().numpy()
    if h >= 2 * w - 1:  # Pillow's pass order changes for tall pictures: let Pillow do it
        from PIL import Image

        def with_pillow(picture: np.ndarray) -> np.ndarray:
            rgb = Image.merge("RGB", [_plane_image(plane) for plane in picture])
            small = rgb.resize((small_w, small_h), Image.BOX)
            return np.asarray(small.resize((w, h), Image.NEAREST)).transpose(2, 0, 1)

        return torch.from_numpy(np.stack(_ops.map_pictures(with_pillow, planes, planes[0].size)))
    from evaluator.corruptions._pil_kernel import box_coefficients, box_then_nearest

    tables = (
        *box_coefficients(w, small_w),
        *box_coefficients(h, small_h),
        _nearest_index(small_h, h).numpy(),
        _nearest_index(small_w, w).numpy(),
    )
    compiled = _ops.map_pictures(lambda picture: box_then_nearest(picture, *tables), planes, planes[0].size)
    return torch.from_numpy(np.stack(compiled))


# On the CPU, pictures up to this many pixels take the emulation (there it is 2-10x libjpeg's round
# trip: one batched pass instead of a codec call per picture); larger ones libjpeg itself, whose SIMD
# transforms the emulation's torch ops do not match (measured: 0.75x the reference at 224 px).
JPEG_EMULATION_MAX_PIXELS = 96 * 96


def jpeg_compression(images: torch.Tensor, quality: int, generators) -> torch.Tensor:
    """uint8 in, uint8 out: the reference's JPEG round trip at ``quality`` (Pillow's save and load:
    libjpeg-turbo, 4:2:0, the Annex K tables scaled by ``quality``, islow DCTs, fancy upsampling).

    On a GPU, and for small pictures on the CPU, JPEG's lossy steps emulated in torch arithmetic by
    :mod:`._jpeg` (the batch at once; no entropy coding, which is lossless). Every integer step is
    libjpeg's; only the DCTs' sums run in float32: against Pillow the mean absolute difference is at
    most 0.0008 grey levels per picture on the test photos, most pictures identical bit for bit.
    Larger pictures on the CPU go through libjpeg-turbo itself (:func:`_libjpeg_round_trip`): the
    reference's own picture, bit for bit."""
    h, w = images.shape[-2:]
    if images.device.type != "cpu" or h * w <= JPEG_EMULATION_MAX_PIXELS:
        return _jpeg.round_trip(images, quality)
    return _libjpeg_round_trip(images, int(quality))


def _libjpeg_round_trip(images: torch.Tensor, quality: int) -> torch.Tensor:
    """torchvision's libjpeg-turbo encoder and decoder, with the settings Pillow gives libjpeg (the
    reference's codec): the same decoded picture as Pillow's round trip (tested), one picture per call
    on ``_ops.map_pictures``' threads (both release the GIL; Pillow's encoder does not).

    The codec works on (H, W, 3) pixels and torchvision's (3, H, W) tensors are views of them: OpenCV
    interleaves the planes and splits them back with SIMD, where torch's and NumPy's strided uint8
    copies take about 1 ns per byte (as long as the encoding itself at 512 px)."""
    import cv2
    from torchvision.io import ImageReadMode, decode_jpeg, encode_jpeg

    planes = images.contiguous().numpy()
    out = np.empty_like(planes)

    def one(i: int) -> None:
        pixels = torch.from_numpy(cv2.merge(list(planes[i]))).permute(2, 0, 1)
        decoded = decode_jpeg(encode_jpeg(pixels, quality=quality), mode=ImageReadMode.RGB)
        for target, plane in zip(out[i], cv2.split(decoded.permute(1, 2, 0).numpy()), strict=True):
            target[...] = plane

    _ops.map_pictures(one, range(planes.shape[0]), planes[0].size)
    return torch.from_numpy(out)


def _affine_matrices(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """OpenCV ``getAffineTransform`` for a batch: (N, 3, 2) point pairs -> (N, 2, 3) maps src -> dst."""
    ones = torch.ones(*src.shape[:-1], 1, dtype=src.dtype)
    a = torch.cat([src, ones], dim=-1)  # (N, 3, 3)
    return torch.linalg.solve(a, dst).transpose(1, 2)


def _random_affine(images: torch.Tensor, jitter: float, generators) -> torch.Tensor:
    """make_cifar_c's affine step: jitter three control points, ``cv2.warpAffine`` (bilinear, REFLECT_101)."""
    n, _, h, w = images.shape
    centre = torch.tensor([h // 2, w // 2], dtype=torch.float64)  # (as make_cifar_c: row/col used as x/y)
    square = min(h, w) // 3
    src = torch.stack(
        [centre + square, torch.stack([centre[0] + square, centre[1] - square]), centre - square]
    )
    src = src.expand(n, 3, 2)
    noise = torch.stack([torch.rand(3, 2, generator=g, dtype=torch.float64) for g in generators])
    dst = src + (noise * 2 - 1) * jitter
    forward = _affine_matrices(src, dst)
    full = torch.cat([forward, torch.tensor([[[0.0, 0.0, 1.0]]], dtype=torch.float64).expand(n, 1, 3)], dim=1)
    inverse = torch.linalg.inv(full)[:, :2]  # dst pixel -> src pixel
    ys, xs = torch.meshgrid(
        torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij"
    )
    pix = torch.stack([xs, ys, torch.ones_like(xs)], dim=-1).reshape(-1, 3)  # (HW, 3)
    src_xy = torch.einsum("nij,pj->npi", inverse, pix).reshape(n, h, w, 2)
    # BORDER_REFLECT_101 is grid_sample's "reflection" with align_corners=True
    grid = torch.stack([src_xy[..., 0] / max(w - 1, 1), src_xy[..., 1] / max(h - 1, 1)], dim=-1) * 2 - 1
    grid = grid.to(images.device, images.dtype)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=True)


def elastic_transform(images: torch.Tensor, p: Elastic, generators) -> torch.Tensor:
    h, w = images.shape[-2:]
    x = images / 255.0
    if p.affine > 0:
        x = _random_affine(x, p.affine, generators)
    if p.alpha == 0:
        return x.clamp_(0, 1).mul_(255)
    amplitude = p.amplitude * h if p.relative else p.amplitude
    sigma = (p.sigma * h, p.sigma * w) if p.relative else (p.sigma, p.sigma)
    noise = (
        _ops.rand(generators, (2, h, w), images.device) * (2 * amplitude) - amplitude
    )  # (N, 2, H, W): dx, dy
    field = _ops.gaussian_filter(noise, sigma, truncate=3.0, mode="reflect") * p.alpha
    if x.device.type == "cpu" and x.dtype == torch.float32:
        return _warp_cpu(x, field).clamp_(0, 1).mul_(255)
    return _warp_torch(x, field).clamp_(0, 1).mul_(255)


def _warp_cpu(x: torch.Tensor, field: torch.Tensor) -> torch.Tensor:
    """:func:`_warp_torch` by ``_elastic_kernel.warp``, the pictures on ``_ops.map_pictures``' threads."""
    from evaluator.corruptions._elastic_kernel import warp

    pictures, shifts = x.contiguous().numpy(), field.contiguous().numpy()
    out = torch.empty_like(x)
    target = out.numpy()
    _ops.map_pictures(
        lambda i: warp(pictures[i], shifts[i, 0], shifts[i, 1], target[i]),
        range(x.shape[0]),
        pictures[0].size,
    )
    return out


def _warp_torch(x: torch.Tensor, field: torch.Tensor) -> torch.Tensor:
    """Resample ``x`` (N, C, H, W) at each pixel plus ``field`` (N, 2, H, W: dx, dy), bilinearly, with
    SciPy's half-sample ``reflect`` border."""
    h, w = x.shape[-2:]
    ys = torch.arange(h, device=x.device, dtype=x.dtype)[:, None]
    xs = torch.arange(w, device=x.device, dtype=x.dtype)[None, :]
    grid = torch.stack(
        [_ops.pixel_to_grid(xs + field[:, 0], w), _ops.pixel_to_grid(ys + field[:, 1], h)], dim=-1
    )  # (N, H, W, 2) as (x, y); align_corners=False + reflection = SciPy's half-sample "reflect"
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


SPECS = (
    CorruptionSpec("contrast", "digital", contrast, CONTRAST, random=False),
    CorruptionSpec("elastic_transform", "digital", elastic_transform, ELASTIC, random=True),
    CorruptionSpec("pixelate", "digital", pixelate, PIXELATE, random=False, uint8_io=True),
    CorruptionSpec(
        "jpeg_compression", "digital", jpeg_compression, JPEG_QUALITY, random=False, uint8_io=True
    ),
    CorruptionSpec("saturate", "digital", saturate, SATURATE, random=False),
)
