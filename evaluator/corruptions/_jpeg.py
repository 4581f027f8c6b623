"""JPEG's lossy steps as batched torch arithmetic: what Pillow's ``save(buf, "JPEG", quality=q)`` then
``Image.open(buf)`` do to a picture, without the entropy coding (Huffman coding is lossless: it costs
time and changes nothing).

Pillow drives libjpeg-turbo with its defaults: JFIF YCbCr, 4:2:0 chroma subsampling, the Annex K tables
scaled by ``quality`` (``jpeg_set_quality(..., force_baseline=TRUE)``), the "islow" integer DCT both
ways and "fancy" (triangle filter) chroma upsampling on decode. Each step emulates one libjpeg-turbo
routine with its integer arithmetic:

- ``jccolor.c`` rgb_ycc_convert: fixed-point RGB -> YCbCr (``FIX(x) = round(x * 2**16)``);
- ``jcprepct.c`` / ``jcsample.c``: edge expansion to whole MCUs (16 x 16 px) and h2v2_downsample
  (2 x 2 sums, alternating bias 1, 2, ``>> 2``);
- ``jfdctint.c`` jpeg_fdct_islow (two 1-D passes, each rounded by ``DESCALE``), ``jcdctmgr.c``
  quantize (divide by 8 times the table, round half away from zero);
- ``jidctint.c`` jpeg_idct_islow (dequantize, two rounded 1-D passes, ``+ 128``, range limit);
- ``jdsample.c`` h2v2_fancy_upsample (3/4, 1/4 both ways, biases 8 and 7, ``>> 4``; first and last
  rows and columns are their own neighbours);
- ``jdcolor.c`` ycc_rgb_convert: fixed-point YCbCr -> RGB, range limited.

Colour conversions and resampling are exact in float32 (every partial sum is a multiple of a power of
two below 2**24), and so is the forward DCT's first pass. Each 1-D DCT pass is a linear map with
integer coefficients followed by one rounding, so it is a matrix product (the islow matrix, derived
from its flow graph) and a floor; the three later passes need up to 29 bits, which float32 rounds:
a sum that falls next to a rounding boundary may round the other way than libjpeg's integers. Against
Pillow: most pictures identical bit for bit, at most 12 values per picture off (by 1, rarely 2), the
mean absolute difference at most 0.0008 grey levels per picture over the test photos and sizes.
Float64 products would make them exact (bit-for-bit tested in development), at 1.5 to 4 times the
cost of float32 ones on a 2-core AMD EPYC with MKL.

Layout (see :class:`Bands`): samples are kept as the matrix the column passes multiply, so each of
those is one (8 x 8) @ (8 x everything) product, and the row passes see the same memory as rows of
16 samples (two blocks) times a (16 x 16) matrix: no small batched products, no copies between
passes. Nothing depends on the device: the same torch ops run on the CPU and on a GPU.

Not emulated: libjpeg's range-limit table wraps values more than 384 grey levels outside [0, 255]
(only corrupt streams produce them; here they clamp), and pictures narrower than 5 px (libjpeg
upsamples their 1- or 2-sample-wide chroma by plain replication).
"""

from __future__ import annotations

import contextlib
import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

MCU = 16  # 4:2:0: one MCU is 16 x 16 px (2 x 2 luma blocks and one block of each chroma)

# JPEG Annex K tables K.1 and K.2, row-major (vertical frequency, horizontal frequency), as in jcparam.c.
LUMINANCE = (
    (16, 11, 10, 16, 24, 40, 51, 61),
    (12, 12, 14, 19, 26, 58, 60, 55),
    (14, 13, 16, 24, 40, 57, 69, 56),
    (14, 17, 22, 29, 51, 87, 80, 62),
    (18, 22, 37, 56, 68, 109, 103, 77),
    (24, 35, 55, 64, 81, 104, 113, 92),
    (49, 64, 78, 87, 103, 121, 120, 101),
    (72, 92, 95, 98, 112, 100, 103, 99),
)
CHROMINANCE = (
    (17, 18, 24, 47, 99, 99, 99, 99),
    (18, 21, 26, 66, 99, 99, 99, 99),
    (24, 26, 56, 99, 99, 99, 99, 99),
    (47, 66, 99, 99, 99, 99, 99, 99),
    *((99,) * 8,) * 4,
)

# jccolor.c / jdcolor.c: fixed point with 16 fractional bits.
COLOR_BITS = 16
# jfdctint.c / jidctint.c: constants with 13 fractional bits, first-pass outputs with 2 more bits.
CONST_BITS = 13
PASS1_BITS = 2
FDCT_SHIFTS = (CONST_BITS - PASS1_BITS, CONST_BITS + PASS1_BITS)
IDCT_SHIFTS = (CONST_BITS - PASS1_BITS, CONST_BITS + PASS1_BITS + 3)

# jcdctmgr.c rounds quotients half away from zero; torch.round rounds half to even. Multiplying the
# (integer, |c| < 2**15) coefficient by this much more than 1 / divisor pushes exact halves away from
# zero and moves every other quotient, at least 1 / divisor away from a half, by less than 2**-5 of
# that.
_AWAY_FROM_ZERO = 1 + 2.0**-20


def fix(x: float, bits: int) -> int:
    """libjpeg's ``FIX(x)``: ``x`` in fixed point with ``bits`` fractional bits, rounded."""
    return int(x * (1 << bits) + 0.5)


def quality_scaling(quality: int) -> int:
    """jcparam.c jpeg_quality_scaling: quality 1..100 -> percentage applied to the Annex K tables."""
    quality = min(max(int(quality), 1), 100)
    return 5000 // quality if quality < 50 else 200 - 2 * quality


def quant_table(base: tuple[tuple[int, ...], ...], quality: int) -> np.ndarray:
    """jcparam.c jpeg_add_quant_table with force_baseline: scaled, rounded, clamped to 1..255."""
    scaled = (np.asarray(base, dtype=np.int64) * quality_scaling(quality) + 50) // 100
    return np.clip(scaled, 1, 255)


@functools.cache
def islow_matrix() -> np.ndarray:
    """The 1-D pass of jfdctint.c's islow forward DCT as an integer 8 x 8 matrix, before DESCALE.

    Row ``k`` holds output ``k``'s coefficients on the eight inputs, scaled by ``2**CONST_BITS`` (outputs
    0 and 4 are exact, the others use the 12 fixed-point rotation constants of the Loeffler-Ligtenberg-
    Moschytz flow graph). It is ``sqrt(8) * 2**13`` times the orthonormal DCT-II, up to the constants'
    rounding. jidctint.c's islow inverse uses the same constants and flow graph reversed: its matrix
    is this one transposed."""
    cos = [math.cos(k * math.pi / 16) for k in range(8)]

    def c(x: float) -> int:  # a rotation constant: sqrt(2) times a sum of cosines, 13 fractional bits
        return fix(math.sqrt(2) * x, CONST_BITS)

    x = np.eye(8, dtype=np.int64)  # the flow graph applied to unit inputs gives the matrix
    sums = [x[k] + x[7 - k] for k in range(4)]
    diffs = [x[k] - x[7 - k] for k in range(4)]
    even_sum, even_diff = sums[0] + sums[3], sums[0] - sums[3]
    odd_sum, odd_diff = sums[1] + sums[2], sums[1] - sums[2]
    out: list[np.ndarray] = [x[0]] * 8  # placeholders, all replaced below
    out[0] = (even_sum + odd_sum) << CONST_BITS
    out[4] = (even_sum - odd_sum) << CONST_BITS
    rotation = (odd_diff + even_diff) * c(cos[6])
    out[2] = rotation + even_diff * c(cos[2] - cos[6])
    out[6] = rotation - odd_diff * c(cos[2] + cos[6])
    d7, d6, d5, d4 = diffs  # x0 - x7, x1 - x6, x2 - x5, x3 - x4
    common = (d4 + d6 + d5 + d7) * c(cos[3])
    z1 = (d4 + d7) * -c(cos[3] - cos[7])
    z2 = (d5 + d6) * -c(cos[1] + cos[3])
    z3 = (d4 + d6) * -c(cos[3] + cos[5]) + common
    z4 = (d5 + d7) * -c(cos[3] - cos[5]) + common
    out[7] = d4 * c(-cos[1] + cos[3] + cos[5] - cos[7]) + z1 + z3
    out[5] = d5 * c(cos[1] + cos[3] - cos[5] + cos[7]) + z2 + z4
    out[3] = d6 * c(cos[1] + cos[3] + cos[5] - cos[7]) + z2 + z3
    out[1] = d7 * c(cos[1] + cos[3] - cos[5] - cos[7]) + z1 + z4
    return np.stack(out)


@dataclass(frozen=True)
class _Tables:
    """Everything that depends only on the quality, the padded width and the device (read only).

    Quantization tables are tiled along a band row: column x holds horizontal frequency x % 8."""

    fdct_rows: torch.Tensor  # (16, 16): jfdctint.c pass 1 on two blocks' rows at once, / 2**11
    fdct_columns: torch.Tensor  # (8, 8): pass 2, / 2**15
    idct_columns: torch.Tensor  # (8, 8): jidctint.c pass 1, / 2**11
    idct_rows: torch.Tensor  # (16, 16): pass 2 on two blocks' rows at once, / 2**18
    reciprocals: tuple[torch.Tensor, torch.Tensor]  # luma, chroma (8, 1, Wp): jcdctmgr.c's divisions
    tables: tuple[torch.Tensor, torch.Tensor]  # luma, chroma (8, 1, Wp): dequantization
    dc_offset: torch.Tensor  # (8, 1, Wp): dc_offset() on the DC coefficients
    ycc_offsets: torch.Tensor  # (3,): _RGB_TO_YCC's offsets, scaled
    downsample_bias: torch.Tensor  # (Wp / 2,): jcsample.c's 1, 2, 1, 2 ... (in quarters)
    upsample_bias: torch.Tensor  # (Wp,): jdsample.c's 8, 7, 8, 7 ... (in sixteenths), less 128


def dc_offset() -> int:
    """What the dequantized DC coefficient gets added so that the inverse DCT's output is already
    shifted by 128 (jidctint.c's range-limit centre) and by 1/2 (its final DESCALE's rounding): the DC
    term reaches every output sample divided by 8, so 8 * 128.5 = 1028."""
    return int(8 * (128 + 0.5))


@functools.lru_cache(maxsize=64)
def _tables(quality: int, width: int, device: torch.device) -> _Tables:
    fdct = islow_matrix().astype(np.float64)

    def t(a) -> torch.Tensor:
        return torch.as_tensor(np.asarray(a, dtype=np.float64), device=device).to(torch.float32)

    def rows(matrix: np.ndarray, shift: int) -> torch.Tensor:  # x (.., 16) @ this = two blocks' rows
        return t(np.kron(np.eye(2), matrix.T / (1 << shift)))

    def tiled(table: np.ndarray) -> torch.Tensor:  # (8, 8) -> (8, 1, width)
        return t(np.tile(table, (1, width // 8)))[:, None]

    luma, chroma = (quant_table(base, quality).astype(np.float64) for base in (LUMINANCE, CHROMINANCE))
    offset = np.zeros((8, 8))
    offset[0, 0] = dc_offset()
    return _Tables(
        fdct_rows=rows(fdct, FDCT_SHIFTS[0]),
        fdct_columns=t(fdct / (1 << FDCT_SHIFTS[1])),
        idct_columns=t(fdct.T / (1 << IDCT_SHIFTS[0])),
        idct_rows=rows(fdct.T, IDCT_SHIFTS[1]),
        reciprocals=(tiled(_AWAY_FROM_ZERO / (8 * luma)), tiled(_AWAY_FROM_ZERO / (8 * chroma))),
        tables=(tiled(luma), tiled(chroma)),
        dc_offset=tiled(offset),
        ycc_offsets=t([offset / (1 << COLOR_BITS) for _, offset in _RGB_TO_YCC]),
        downsample_bias=t(np.tile([1 / 4, 2 / 4], width // 4)),
        upsample_bias=t(np.tile([8 / 16 - 128, 7 / 16 - 128], width // 2)),
    )


def padded_size(side: int) -> int:
    """jcmaster.c / jcprepct.c: a side expanded to whole MCUs."""
    return -(-side // MCU) * MCU


class Bands:
    """The codec's sample buffer: float32 (8, bands, Wp), row r of every band of 8 pixel rows, so that
    each 1-D DCT pass down the columns is one (8 x 8) @ (8 x everything) product. Luma bands (picture,
    band) come first; then the chroma bands, Cb and Cr side by side in each row (both Wp / 2 wide)."""

    def __init__(self, n: int, padded: tuple[int, int], device: torch.device):
        self.n, (self.height, self.width) = n, padded
        self.luma_bands = n * self.height // 8
        bands = self.luma_bands * 3 // 2
        self.data = torch.empty(8, bands, self.width, dtype=torch.float32, device=device)

    def luma(self, data: torch.Tensor | None = None) -> torch.Tensor:
        """Y (N, Hp / 8, 8, Wp), a view of ``data`` (default: the buffer) in picture order."""
        data = self.data if data is None else data
        return data[:, : self.luma_bands].view(8, self.n, -1, self.width).permute(1, 2, 0, 3)

    def chroma(self, data: torch.Tensor | None = None) -> torch.Tensor:
        """Cb, Cr (2, N, Hp / 16, 8, Wp / 2), a view of ``data`` (default: the buffer) in picture order."""
        data = self.data if data is None else data
        sides = data[:, self.luma_bands :].view(8, self.n, -1, 2, self.width // 2)
        return sides.permute(3, 1, 2, 0, 4)


def rgb_planes(images: torch.Tensor, padded: tuple[int, int]) -> torch.Tensor:
    """uint8 (N, 3, H, W) -> float32 (3, N, Hp, Wp), the last row and column repeated to the padded
    size (jcprepct.c and jcsample.c's edge expansion; repeating RGB before the per-pixel colour
    conversion is repeating its output)."""
    n, _, h, w = images.shape
    rgb = torch.empty(3, n, *padded, dtype=torch.float32, device=images.device)
    rgb[:, :, :h, :w] = images.permute(1, 0, 2, 3)
    rgb[:, :, :h, w:] = rgb[:, :, :h, w - 1 : w]
    rgb[:, :, h:] = rgb[:, :, h - 1 : h]
    return rgb


# jccolor.c's fixed-point coefficients (rows Y, Cb, Cr) and offsets. All three come out centred on 0
# (the forward DCT's "- 128"): Y rounds half up, Cb and Cr by 1/2 - 2**-16 (libjpeg's fudge factor).
_RGB_TO_YCC = (
    ((fix(0.299, COLOR_BITS), fix(0.587, COLOR_BITS), fix(0.114, COLOR_BITS)), (1 << 15) - (128 << 16)),
    ((-fix(0.16874, COLOR_BITS), -fix(0.33126, COLOR_BITS), fix(0.5, COLOR_BITS)), (1 << 15) - 1),
    ((fix(0.5, COLOR_BITS), -fix(0.41869, COLOR_BITS), -fix(0.08131, COLOR_BITS)), (1 << 15) - 1),
)


def rgb_to_ycc(rgb: torch.Tensor, channel: int, offset: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """jccolor.c rgb_ycc_convert for one output channel (0: Y, 1: Cb, 2: Cr), RGB planes
    ``rgb`` (3, ...) -> ``out`` (same shape as a plane, any strides): the fixed-point sum, centred on 0,
    its floor still to take (``offset``: the channel's, 0-d). Float32 is exact: every partial sum is a
    multiple of 2**-16 below 2**8."""
    weights = _RGB_TO_YCC[channel][0]
    scale = 1.0 / (1 << COLOR_BITS)
    r, g, b = rgb.view(3, *out.shape)
    torch.add(offset, r, alpha=weights[0] * scale, out=out)
    return out.add_(g, alpha=weights[1] * scale).add_(b, alpha=weights[2] * scale)


def downsample_h2v2(chroma: torch.Tensor, image_height: int, bias: torch.Tensor, out: torch.Tensor) -> None:
    """jcsample.c h2v2_downsample: integer chroma (2, N, Hp, Wp) -> ``out`` (2, N, Hp/2, Wp/2 in any
    shape and strides): floor((2 x 2 sum + 1 or 2) / 4), the bias alternating along the row.

    Below the picture libjpeg repeats the last *downsampled* row (jcprepct.c's full-size padding only
    completes the last pair of rows), so the rows past ceil(H / 2) copy that row."""
    pairs = chroma.unflatten(2, (-1, 2))
    row_means = torch.lerp(pairs[:, :, :, 0], pairs[:, :, :, 1], 0.5)
    means = torch.lerp(row_means[..., 0::2], row_means[..., 1::2], 0.5)
    rows = -(-image_height // 2)
    if rows < means.shape[2]:
        means[:, :, rows:] = means[:, :, rows - 1 : rows]
    torch.add(means.view(out.shape), bias, out=out).floor_()


@contextlib.contextmanager
def _full_float32_matmuls(device: torch.device):
    """CUDA matrix products in full float32 even where the caller allowed TF32 (10-bit mantissas would
    round the DCT matrices' 14-bit constants)."""
    if device.type != "cuda" or not torch.backends.cuda.matmul.allow_tf32:
        yield
        return
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = True


def _descale_(x: torch.Tensor) -> torch.Tensor:
    """DESCALE's rounding (the division by 2**n is in the matrices): floor(x + 1/2)."""
    return x.add_(0.5).floor_()


def lossy_dct(bands: Bands, tables: _Tables) -> torch.Tensor:
    """jfdctint.c's islow forward DCT, jcdctmgr.c's quantization, then jidctint.c's dequantization and
    islow inverse DCT for every 8 x 8 block of ``bands`` (centred samples): returns the decoded
    samples plus 128.5, not yet rounded nor range limited, in the same layout (the buffer is reused).

    The row passes see the buffer as rows of 16 samples (two blocks' rows) and multiply by the pass's
    matrix for two blocks; the column passes are one (8 x 8) @ (8 x everything) product. Each pass is
    followed by its DESCALE rounding, as in libjpeg; only the sums differ: float32 instead of
    libjpeg's 32-bit integers (exact for the first pass, relative errors near 2**-24 for the others).
    Quantization divides by 8 times the table and rounds half away from zero."""
    data = bands.data
    with _full_float32_matmuls(data.device):
        rows = _descale_(torch.mm(data.view(-1, 16), tables.fdct_rows))
        coefficients = _descale_(torch.mm(tables.fdct_columns, rows.view(8, -1), out=data.view(8, -1)))
        coefficients = coefficients.view(data.shape)
        luma, chroma = coefficients[:, : bands.luma_bands], coefficients[:, bands.luma_bands :]
        luma.mul_(tables.reciprocals[0])
        chroma.mul_(tables.reciprocals[1])
        coefficients.round_()
        torch.addcmul(tables.dc_offset, luma, tables.tables[0], out=luma)
        torch.addcmul(tables.dc_offset, chroma, tables.tables[1], out=chroma)
        columns = _descale_(torch.mm(tables.idct_columns, coefficients.view(8, -1), out=rows.view(8, -1)))
        return torch.mm(columns.view(-1, 16), tables.idct_rows, out=data.view(-1, 16)).view(data.shape)


def upsample_h2v2_fancy(chroma: torch.Tensor, valid: tuple[int, int], bias: torch.Tensor) -> torch.Tensor:
    """jdsample.c h2v2_fancy_upsample: integer chroma (2, N, h, w) -> (2, N, 2h, 2w), centred on 0:
    floor((9 nearest + 3 + 3 next + 1 diagonal + 8 or 7) / 16), the bias 8 in even output columns
    and 7 in odd ones. Past the ``valid`` samples (ceil(H / 2), ceil(W / 2)) the last valid row and
    column repeat (jdmainct.c's context rows, jdsample.c's edge columns): ``chroma`` is overwritten
    there. 3/4, 1/4 along the rows, then along the columns: multiples of 1/16, exact in float32."""
    rows, cols = valid
    if rows < chroma.shape[2]:
        chroma[:, :, rows:] = chroma[:, :, rows - 1 : rows]
    if cols < chroma.shape[3]:
        chroma[..., cols:] = chroma[..., cols - 1 : cols]
    s, n, h, w = chroma.shape
    wide = torch.empty(s, n, h, w, 2, dtype=chroma.dtype, device=chroma.device)
    _triangle(chroma, wide, dim=3)
    wide = wide.view(s, n, h, 2 * w).add_(bias)  # weights sum to 1: the bias passes the next pass
    out = torch.empty(s, n, h, 2, 2 * w, dtype=chroma.dtype, device=chroma.device)
    _triangle(wide, out, dim=2)
    return out.view(s, n, 2 * h, 2 * w).floor_()


def _triangle(x: torch.Tensor, out: torch.Tensor, dim: int) -> None:
    """3/4 nearest + 1/4 next along ``dim`` into ``out`` (``x``'s shape with an axis of 2 after ``dim``:
    towards the sample before, towards the sample after), the first and last sample being their own
    neighbours."""
    size = x.shape[dim]
    before, after = out.select(dim + 1, 0), out.select(dim + 1, 1)
    first, rest = x.narrow(dim, 0, size - 1), x.narrow(dim, 1, size - 1)
    torch.lerp(first, rest, 0.75, out=before.narrow(dim, 1, size - 1))
    torch.lerp(rest, first, 0.75, out=after.narrow(dim, 0, size - 1))
    before.narrow(dim, 0, 1).copy_(x.narrow(dim, 0, 1))
    after.narrow(dim, size - 1, 1).copy_(x.narrow(dim, size - 1, 1))


# jdcolor.c's fixed-point coefficients of the centred chroma in R, G, B.
_CR_R = fix(1.402, COLOR_BITS) / (1 << COLOR_BITS)
_CB_G = -fix(0.34414, COLOR_BITS) / (1 << COLOR_BITS)
_CR_G = -fix(0.71414, COLOR_BITS) / (1 << COLOR_BITS)
_CB_B = fix(1.772, COLOR_BITS) / (1 << COLOR_BITS)


def ycc_to_rgb(luma_half: torch.Tensor, chroma: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """jdcolor.c ycc_rgb_convert and its range limit: ``luma_half`` = Y + 1/2 (N, Hp, Wp) and centred
    Cb, Cr (2, N, Hp, Wp) -> uint8 (N, 3, H, W). R = Y + floor(1.402 Cr + 1/2),
    G = Y + floor(-0.34414 Cb - 0.71414 Cr + 1/2), B = Y + floor(1.772 Cb + 1/2), 16-bit fixed point.

    Exact in float32: the chroma terms are multiples of 2**-16 below 2**8, so adding Y + 1/2 rounds
    only sums outside [-256, 256), which the range limit maps to 0 or 255 anyway; the cast to int16
    truncates, which is the floor on [0, 256) and keeps what is below 0 at or below 0."""
    n, hp, wp = luma_half.shape
    cb, cr = chroma
    rgb = torch.empty(n, 3, hp, wp, dtype=torch.float32, device=luma_half.device)
    torch.add(luma_half, cr, alpha=_CR_R, out=rgb[:, 0])
    torch.mul(cb, _CB_G, out=rgb[:, 1]).add_(cr, alpha=_CR_G).add_(luma_half)
    torch.add(luma_half, cb, alpha=_CB_B, out=rgb[:, 2])
    return rgb[:, :, : size[0], : size[1]].to(torch.int16).clamp_(0, 255).to(torch.uint8)


def round_trip(images: torch.Tensor, quality: int) -> torch.Tensor:
    """Pillow's JPEG save at ``quality`` then load, for a batch: uint8 (N, 3, H, W) -> uint8, same shape.
    Each picture is coded on its own: the output does not depend on the batch."""
    n, _, h, w = images.shape
    hp, wp = padded_size(h), padded_size(w)
    tables = _tables(int(quality), wp, images.device)
    bands = Bands(n, (hp, wp), images.device)

    rgb = rgb_planes(images, (hp, wp))
    ycc = torch.empty(3, n, hp, wp, dtype=torch.float32, device=images.device)
    for channel in range(3):
        rgb_to_ycc(rgb, channel, tables.ycc_offsets[channel], ycc[channel])
    del rgb
    torch.floor(ycc[0].view(n, hp // 8, 8, wp), out=bands.luma())
    chroma = ycc[1:].floor_()
    downsample_h2v2(chroma, h, tables.downsample_bias, bands.chroma())
    del ycc, chroma

    decoded = lossy_dct(bands, tables).floor_()  # jidctint.c's final DESCALE, + 128 (see dc_offset)
    luma_half = torch.empty(n, hp, wp, dtype=torch.float32, device=images.device)
    torch.clamp(bands.luma(decoded), 0, 255, out=luma_half.view(n, hp // 8, 8, wp)).add_(0.5)
    chroma = torch.empty(2, n, hp // 2, wp // 2, dtype=torch.float32, device=images.device)
    torch.clamp(bands.chroma(decoded), 0, 255, out=chroma.view(2, n, hp // 16, 8, wp // 2))
    chroma = upsample_h2v2_fancy(chroma, (-(-h // 2), -(-w // 2)), tables.upsample_bias)
    return ycc_to_rgb(luma_half, chroma, (h, w))
