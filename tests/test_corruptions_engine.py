"""The corruption engine's API: registry, validation, quantization, seeding and determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from evaluator.corruptions import CORRUPTIONS, PARAM_SETS, _engine, _ops, corrupt, corrupt_batch, image_seed
from evaluator.corruptions._engine import quantize
from evaluator.corruptions.seeding import numpy_seed
from evaluator.protocol import ALL_CORRUPTIONS, FAMILY_OF
from zoo.errors import InvalidInputError, RzooError, UnknownNameError

NAMES = list(CORRUPTIONS)
RANDOM = [n for n in NAMES if CORRUPTIONS[n].random]
DETERMINISTIC = [n for n in NAMES if not CORRUPTIONS[n].random]


def _photo(size: int = 48, seed: int = 0) -> np.ndarray:
    """A small natural picture: a crop of skimage's astronaut (real texture, real colours)."""
    from skimage import data

    img = data.astronaut()
    top = 60 + 17 * seed
    return np.ascontiguousarray(img[top : top + 4 * size : 4, 150 : 150 + 4 * size : 4])


def _batch(n: int, size: int = 48) -> torch.Tensor:
    return torch.stack([torch.from_numpy(_photo(size, i)).permute(2, 0, 1) for i in range(n)])


def test_registry_follows_the_protocol():
    assert [n for n in ALL_CORRUPTIONS if n in CORRUPTIONS] == NAMES  # protocol order, known names only
    assert {"gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise"} <= set(NAMES)
    assert {"contrast", "elastic_transform", "pixelate", "jpeg_compression", "saturate"} <= set(NAMES)
    for name, spec in CORRUPTIONS.items():
        assert spec.family == FAMILY_OF[name]
        assert set(spec.params) == set(PARAM_SETS)
        assert all(len(table) == 5 for table in spec.params.values())
    assert CORRUPTIONS["speckle_noise"].holdout and not CORRUPTIONS["contrast"].holdout


def test_quantize_clips_then_truncates_like_numpy_uint8():
    x = torch.tensor([254.999, -3.0, 300.0, 1.5, 0.999, 128.0])
    assert quantize(x).tolist() == [254, 0, 255, 1, 0, 128]
    assert quantize(x).tolist() == np.uint8(np.clip(x.numpy(), 0, 255)).tolist()


def test_image_seed_is_a_pinned_stable_hash():
    # Pinned values: changing the scheme silently would change every published benchmark number.
    assert image_seed(0, 0, "fog", 3) == 8190587863912889877
    assert image_seed(2022, "COCO_000000139", "glass_blur", 5) == 5801264895449824550
    seeds = {
        image_seed(b, i, c, s) for b in (0, 1) for i in (0, 1, "0") for c in ("fog", "snow") for s in (1, 2)
    }
    assert len(seeds) == 16  # 2 seeds x 2 ids (int 0 and str "0" are the same id) x 2 x 2
    assert all(0 <= s < 2**63 for s in seeds)
    assert numpy_seed(7) == 7 and 0 <= numpy_seed(image_seed(0, 0, "fog", 3)) < 2**32


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_output_whatever_the_batch(name):
    x = _batch(3)
    seeds = [11, 12, 13]
    full = corrupt_batch(x, name, 3, seeds)
    assert full.dtype == torch.uint8 and full.shape == x.shape
    assert torch.equal(full, corrupt_batch(x, name, 3, seeds))  # repeatable
    reordered = corrupt_batch(x[[2, 0]], name, 3, [13, 11])  # other order, other neighbours
    assert torch.equal(reordered[0], full[2]) and torch.equal(reordered[1], full[0])
    alone = corrupt(x[1].permute(1, 2, 0).numpy(), name, 3, seed=12)
    assert np.array_equal(alone, full[1].permute(1, 2, 0).numpy())


@pytest.mark.parametrize("name", NAMES)
def test_output_does_not_depend_on_the_thread_count_or_chunking(name, monkeypatch):
    # with 2 threads (and no size threshold) all per-picture work (random fills, Pillow's codecs) runs
    # on a pool of 2 threads and torch ops on 2 intra-op threads; with 1 thread and a 1-byte chunk
    # budget every picture is its own chunk, run in order in this thread
    x = _batch(5, size=40)
    seeds = [21, 22, 23, 24, 25]
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        monkeypatch.setattr(_ops, "PARALLEL_MIN_VALUES", 0)
        threaded = corrupt_batch(x, name, 4, seeds)
        assert torch.get_num_threads() == 2  # the pool's one-thread setting stays in its own threads
        torch.set_num_threads(1)
        monkeypatch.setattr(_engine, "CPU_CHUNK_BYTES", 1)
        serial = corrupt_batch(x, name, 4, seeds)
    finally:
        torch.set_num_threads(previous)
    assert torch.equal(threaded, serial)


@pytest.mark.parametrize("name", NAMES)
def test_different_sizes_in_one_call_match_one_by_one(name):
    pictures = [torch.from_numpy(_photo(s, i)).permute(2, 0, 1) for i, s in enumerate((32, 40, 32))]
    pictures[1] = pictures[1][:, :, :36]  # non-square too
    out = corrupt_batch(pictures, name, 2, [5, 6, 7])
    assert [tuple(o.shape) for o in out] == [tuple(p.shape) for p in pictures]
    for picture, seed, got in zip(pictures, (5, 6, 7), out, strict=True):
        assert torch.equal(got, corrupt_batch(picture[None], name, 2, [seed])[0])


@pytest.mark.parametrize("name", RANDOM)
def test_random_corruptions_change_with_the_seed(name):
    img = _photo()
    assert not np.array_equal(corrupt(img, name, 3, seed=1), corrupt(img, name, 3, seed=2))


@pytest.mark.parametrize("name", DETERMINISTIC)
def test_deterministic_corruptions_ignore_the_seed(name):
    img = _photo()
    out = corrupt(img, name, 3, seed=1)
    assert np.array_equal(out, corrupt(img, name, 3, seed=2))
    assert not np.array_equal(out, img)


def test_severity_grows_the_damage():
    img = _photo(64)
    for name in NAMES:
        if name == "saturate":  # not monotone by design (desaturate at 1-2, saturate at 3-5)
            continue
        errors = [np.abs(corrupt(img, name, s, seed=0).astype(float) - img).mean() for s in (1, 5)]
        assert errors[1] > errors[0], name


def test_greyscale_and_rgba_are_converted_to_rgb():
    rgb = _photo()
    grey = rgb[..., 1].copy()
    out = corrupt(grey, "contrast", 2)
    assert out.shape == (*grey.shape, 3)
    assert np.array_equal(out, corrupt(np.repeat(grey[..., None], 3, axis=2), "contrast", 2))
    rgba = np.concatenate([rgb, np.full_like(rgb[..., :1], 7)], axis=2)
    assert np.array_equal(
        corrupt(rgba, "gaussian_noise", 2, seed=3), corrupt(rgb, "gaussian_noise", 2, seed=3)
    )


def test_reference_backend_is_seeded_per_picture_and_leaves_the_global_rng_alone():
    img = _photo()
    np.random.seed(123)
    expected_next = np.random.rand()
    np.random.seed(123)
    a = corrupt(img, "gaussian_noise", 2, seed=4, backend="reference")
    assert np.random.rand() == expected_next  # the caller's RNG stream is untouched
    assert np.array_equal(a, corrupt(img, "gaussian_noise", 2, seed=4, backend="reference"))
    assert not np.array_equal(a, corrupt(img, "gaussian_noise", 2, seed=5, backend="reference"))
    b = corrupt(img, "impulse_noise", 2, seed=4, backend="reference")  # takes its own seed= argument
    assert np.array_equal(b, corrupt(img, "impulse_noise", 2, seed=4, backend="reference"))
    c = corrupt(img[:32, :32].copy(), "elastic_transform", 3, seed=4, params="cifar10-c", backend="reference")
    assert c.shape == (32, 32, 3) and c.dtype == np.uint8


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: corrupt(_photo(), "gausian_noise", 3), UnknownNameError, "did you mean 'gaussian_noise'"),
        (lambda: corrupt(_photo(), "contrast", 0), InvalidInputError, "severity must be an integer in 1..5"),
        (lambda: corrupt(_photo(), "contrast", 6), InvalidInputError, "got 6"),
        (lambda: corrupt(_photo(), "contrast", "3"), InvalidInputError, "severity"),
        (
            lambda: corrupt(_photo()[:31], "contrast", 3),
            InvalidInputError,
            "at least 32x32 px for imagenet-c",
        ),
        (lambda: corrupt(_photo().astype(np.float32), "contrast", 3), InvalidInputError, "uint8"),
        (lambda: corrupt(_photo()[..., :2], "contrast", 3), InvalidInputError, "shape"),
        (lambda: corrupt([[1, 2]], "contrast", 3), InvalidInputError, "numpy array"),
        (lambda: corrupt(_photo(), "contrast", 3, params="imagenet"), UnknownNameError, "parameter set"),
        (lambda: corrupt(_photo(), "contrast", 3, backend="numpy"), UnknownNameError, "backend"),
        (lambda: corrupt(_photo(), "fogg", 3, backend="reference"), UnknownNameError, "did you mean 'fog'"),
        (lambda: corrupt_batch(_batch(2), "contrast", 3, [1]), InvalidInputError, "one seed per image"),
        (lambda: corrupt_batch(_batch(2).float(), "contrast", 3, [1, 2]), InvalidInputError, "uint8"),
        (lambda: corrupt_batch(_batch(2)[:, :1], "contrast", 3, [1, 2]), InvalidInputError, "(N, 3, H, W)"),
    ],
)
def test_bad_input_is_one_clear_rzoo_error(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert isinstance(info.value, RzooError)
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("mode", ["nearest", "reflect", "mirror"])
def test_separable_gaussian_filter_equals_scipy(mode):
    from scipy import ndimage

    from evaluator.corruptions import _ops

    x = torch.rand(2, 3, 40, 37, dtype=torch.float64)
    for sigma in ((0.7, 0.35), (3.0, 1.5), (20.0, 10.0)):  # the last pads beyond the picture
        ours = _ops.gaussian_filter(x, sigma, truncate=3.0, mode=mode).numpy()
        theirs = ndimage.gaussian_filter(x.numpy(), (0, 0, *sigma), truncate=3.0, mode=mode)
        np.testing.assert_allclose(ours, theirs, atol=1e-12)


def test_exact_poisson_sampler_matches_the_poisson_law():
    from scipy import stats

    from evaluator.corruptions.noise import poisson_counts

    levels = torch.tensor([0, 1, 40, 128, 255], dtype=torch.int32).repeat_interleave(20000)
    u = torch.rand(levels.numel(), generator=torch.Generator().manual_seed(0))
    counts = poisson_counts(levels.clone(), 60, u).reshape(5, -1).double()
    for row, level in zip(counts, (0, 1, 40, 128, 255), strict=True):
        lam = level / 255 * 60
        assert row.mean().item() == pytest.approx(lam, abs=4 * (lam / 20000) ** 0.5 + 1e-9)
        if lam > 1:  # chi-square goodness of fit over the bulk of the law
            ks = np.arange(int(lam - 3 * lam**0.5), int(lam + 3 * lam**0.5))
            observed = np.array([(row == k).sum().item() for k in ks])
            expected = stats.poisson.pmf(ks, lam) * row.numel()
            assert stats.chisquare(observed, expected * observed.sum() / expected.sum()).pvalue > 1e-3


def test_device_argument_runs_the_work_there_and_returns_on_the_input_device():
    x = _batch(2)
    out = corrupt_batch(x, "gaussian_noise", 2, [1, 2], device="cpu")
    assert out.device == x.device and torch.equal(out, corrupt_batch(x, "gaussian_noise", 2, [1, 2]))


@pytest.mark.parametrize("rate", [3, 12, 60, 500])
def test_shot_noise_lookup_table_equals_exact_inversion(rate):
    # the (level, uniform bucket) table must give what inverting each draw's Poisson CDF gives
    from evaluator.corruptions import noise, seeding

    x = _batch(2, size=40)
    out = noise.shot_noise(x, rate, seeding.generators([1, 2]))
    u = _ops.rand(seeding.generators([1, 2]), (3, 40, 40), "cpu").reshape(-1)  # the same draws
    counts = noise.poisson_counts(x.reshape(-1).to(torch.int32), rate, u)
    expected = (counts.float() * (255.0 / rate)).clamp(0, 255).to(torch.uint8).reshape(x.shape)
    assert out.dtype == torch.uint8
    assert torch.equal(out, expected)


def test_pixelate_is_the_references_picture_on_non_square_sizes():
    # CPU: Pillow's own resizes, so exactly the reference's picture; the torch formulation (GPUs) within
    # one grey level on average, and its NEAREST upscale index is Pillow's exactly
    from evaluator.corruptions import digital

    x = torch.stack([torch.from_numpy(_photo(64, i)).permute(2, 0, 1) for i in range(2)])
    x = torch.nn.functional.interpolate(x.float(), size=(150, 131), mode="bilinear").round().to(torch.uint8)
    for severity in (1, 3, 5):
        c = digital.PIXELATE["imagenet-c"][severity - 1]
        out = corrupt_batch(x, "pixelate", severity, [0, 1])
        for picture, got in zip(x, out, strict=True):
            reference = corrupt(
                picture.permute(1, 2, 0).numpy().copy(), "pixelate", severity, seed=0, backend="reference"
            )
            assert np.array_equal(got.permute(1, 2, 0).numpy(), reference)
        torch_path = digital._pixelate_torch(x, c)
        assert (torch_path.int() - out.int()).abs().double().mean() < 1.0


@pytest.mark.parametrize(
    "height,width",
    [
        (224, 224),
        (32, 32),
        (61, 45),
        (33, 97),
        (480, 640),
        (32, 400),
        (100, 51),
        (100, 50),
        (66, 33),
        (400, 32),
    ],
)
def test_pixelate_is_pillows_picture_bit_for_bit(height, width):
    # the CPU kernel (Pillow's fixed-point BOX and NEAREST compiled) and, for tall pictures that
    # Pillow resamples vertically first, Pillow itself: every pixel equal, every parameter
    from PIL import Image

    from evaluator.corruptions import digital

    x = torch.from_numpy(
        np.random.default_rng(height * width).integers(0, 256, (2, 3, height, width), np.uint8)
    )
    for c in digital.PIXELATE["imagenet-c"] + digital.PIXELATE["cifar10-c"]:
        out = digital.pixelate(x, c, None)
        for picture, got in zip(x, out, strict=True):
            rgb = Image.fromarray(picture.permute(1, 2, 0).numpy().copy())
            small = rgb.resize((int(width * c), int(height * c)), Image.BOX)
            expected = np.asarray(small.resize((width, height), Image.NEAREST))
            np.testing.assert_array_equal(got.permute(1, 2, 0).numpy(), expected, err_msg=str(c))


# Measured worst per-picture mean absolute difference to Pillow over these sizes and photos, all
# qualities: 0.00073 grey levels (61 x 45, quality 15: 6 of 8235 values off by 1). The DCTs' float32
# sums differ from libjpeg's integer ones on rare values next to a rounding boundary.
JPEG_MAD_BOUND = 0.0015


@pytest.mark.parametrize("height,width", [(224, 224), (32, 32), (61, 45), (37, 130), (500, 333)])
def test_jpeg_compression_is_pillows_round_trip(height, width):
    # The emulation (GPUs; small pictures on the CPU) within JPEG_MAD_BOUND of Pillow's round trip at
    # every size; on the CPU, pictures above JPEG_EMULATION_MAX_PIXELS are Pillow's, bit for bit.
    import io

    from PIL import Image

    from evaluator.corruptions import _jpeg, digital
    from evaluator.corruptions.fidelity import photos

    pictures = photos(max(height, width))[:3]
    x = torch.stack([torch.from_numpy(p[:height, :width].copy()).permute(2, 0, 1) for p in pictures])
    codec = height * width > digital.JPEG_EMULATION_MAX_PIXELS
    previous = torch.get_num_threads()
    try:
        for threads in (1, 2):  # one group of pictures per thread
            torch.set_num_threads(threads)
            for quality in digital.JPEG_QUALITY["imagenet-c"] + digital.JPEG_QUALITY["cifar10-c"]:
                out = digital.jpeg_compression(x, quality, None)
                emulated = _jpeg.round_trip(x, quality)
                for i, (picture, got) in enumerate(zip(x, out, strict=True)):
                    buffer = io.BytesIO()
                    Image.fromarray(picture.permute(1, 2, 0).numpy().copy()).save(
                        buffer, "JPEG", quality=quality
                    )
                    expected = np.asarray(Image.open(buffer).convert("RGB"))
                    mad = np.abs(emulated[i].permute(1, 2, 0).numpy().astype(np.int16) - expected).mean()
                    assert mad <= JPEG_MAD_BOUND, (quality, i, mad)
                    if codec:
                        np.testing.assert_array_equal(got.permute(1, 2, 0).numpy(), expected)
                    else:
                        assert torch.equal(got, emulated[i])
                    alone = digital.jpeg_compression(x[i : i + 1], quality, None)[0]
                    assert torch.equal(alone, got), (quality, i)  # the batch does not matter
    finally:
        torch.set_num_threads(previous)


def test_jpeg_codec_is_torch_ops_on_the_pictures_device():
    """The codec emulation never takes the pictures off the torch device (no NumPy, no Python numbers
    read back), so the same ops run on a GPU. Tables built once from constants are not pictures."""
    from torch.overrides import TorchFunctionMode

    from evaluator.corruptions import _jpeg

    host_trips = {"numpy", "item", "tolist", "__array__", "cpu", "__float__", "__int__", "__bool__"}
    seen: set[str] = set()

    class Watch(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            seen.add(getattr(func, "__name__", str(func)))
            return func(*args, **(kwargs or {}))

    x = _batch(2, 40)
    expected = _jpeg.round_trip(x, 15)
    with Watch():
        out = _jpeg.round_trip(x, 15)
    assert seen and not seen & host_trips, seen & host_trips
    assert torch.equal(out, expected) and out.device == x.device and out.dtype == torch.uint8


def test_pixelate_nearest_index_is_pillows():
    from PIL import Image

    from evaluator.corruptions import digital

    for small, size in ((80, 200), (52, 131), (16, 40), (89, 224), (120, 300)):
        row = np.tile(np.arange(small, dtype=np.uint8), (2, 1))
        pillow = np.asarray(Image.fromarray(row).resize((size, 2), Image.NEAREST))[0]
        assert np.array_equal(digital._nearest_index(small, size).numpy(), pillow)


def test_a_forked_child_corrupts_with_its_own_thread_pool():
    # the parent's pool threads do not exist in a forked child (a DataLoader worker, say): the child
    # must start its own pool instead of waiting forever on the inherited one
    import multiprocessing

    from evaluator.corruptions import _ops

    x = _batch(4, size=40)
    seeds = [1, 2, 3, 4]
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        expected = corrupt_batch(x, "gaussian_noise", 3, seeds)  # the parent's pool now exists
        assert _ops._pool.cache_info().currsize >= 1 or _ops.PARALLEL_MIN_VALUES > 3 * 40 * 40
        _ops.map_pictures(lambda i: i, range(4), _ops.PARALLEL_MIN_VALUES)  # make sure it does
        assert _ops._pool.cache_info().currsize >= 1
        context = multiprocessing.get_context("fork")
        with context.Pool(1) as children:
            got = children.apply_async(_corrupt_in_child, (x, seeds)).get(timeout=30)
    finally:
        torch.set_num_threads(previous)
    assert torch.equal(got, expected)


def _corrupt_in_child(x, seeds):
    from evaluator.corruptions import _ops

    torch.set_num_threads(2)
    _ops.PARALLEL_MIN_VALUES = 0  # every per-picture call goes through the (child's) pool
    return corrupt_batch(x, "gaussian_noise", 3, seeds)


@pytest.mark.parametrize("size", [32, 70])
def test_pixel_major_batches_are_made_planar_exactly(size):
    # datasets hand the engine (N, 3, H, W) views of (N, H, W, 3) pixels: copied to planes by NumPy
    # (small pictures) or OpenCV (larger ones), the same bytes as torch's copy, and corrupted alike
    pixels = torch.randint(0, 256, (3, size, size + 3, 3), generator=torch.Generator().manual_seed(size))
    view = pixels.to(torch.uint8).permute(0, 3, 1, 2)
    planar = _ops.planar_uint8(view)
    assert planar.is_contiguous() and torch.equal(planar, view.contiguous())
    assert torch.equal(
        corrupt_batch(view, "contrast", 3, [1, 2, 3]), corrupt_batch(planar, "contrast", 3, [1, 2, 3])
    )
