"""Exceptions that rzoo turns into one clear line on the command line.

Every error a user can cause (a bad name, a missing file, a corrupt download, a dataset that is not
there) is an :class:`RzooError`; the CLI prints ``error: <message>`` and exits with ``exit_code``.
Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class RzooError(Exception):
    """Base class for errors caused by input, environment or remote services."""

    exit_code: int = 1


class UnknownNameError(RzooError, KeyError):
    """A model, corruption, task or other registered name that does not exist."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class InvalidInputError(RzooError, ValueError):
    """An argument or input file that is malformed or out of range."""


class ChecksumError(RzooError):
    """A downloaded or supplied file whose sha256/md5 does not match the expected digest."""


class HubError(RzooError):
    """The Hugging Face Hub (or a mirror) refused or failed a request, or is unreachable."""


class DatasetNotFoundError(RzooError, FileNotFoundError):
    """A dataset that is not where it was expected; the message names the download command."""


class UnsafeFileError(RzooError):
    """An untrusted file that rzoo refuses to load (pickles, malformed safetensors, custom ONNX ops)."""


def closest_names(name: str, candidates: list[str] | tuple[str, ...], n: int = 3) -> list[str]:
    """The registered names closest to ``name``, for "did you mean" hints."""
    import difflib

    lowered = {c.lower(): c for c in candidates}
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.5)
    if not hits:  # fall back to substring matches ("augmix" -> every augmix entry)
        hits = [c for c in lowered if name.lower() in c][:n]
    return [lowered[h] for h in hits]


def unknown_name(kind: str, name: str, candidates: list[str] | tuple[str, ...]) -> UnknownNameError:
    """An :class:`UnknownNameError` whose message suggests the closest candidates."""
    hints = closest_names(name, candidates)
    hint = f"; did you mean {', '.join(repr(h) for h in hints)}?" if hints else ""
    return UnknownNameError(f"unknown {kind} {name!r}{hint}")
