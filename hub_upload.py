"""Mirror the zoo's original releases to the Hugging Face Hub as safetensors with model cards.

    python hub_upload.py mirror resnet50.augmix_in1k --org ORG [--dry-run OUT]
    python hub_upload.py mirror --all --org ORG --dry-run OUT
    python hub_upload.py mirror --all --org ORG --source-dir ~/Downloads   # releases fetched by hand

Each mirror: the original (pickled) release -> ``zoo._convert`` (``torch.load(weights_only=True)``,
keys mapped and matched strictly to timm's architecture) -> ``config.json`` + ``model.safetensors`` +
model card -> ONE commit to ``ORG/<name>`` (see ``zoo.publish.upload_folder``). After an upload it
prints the registry pin (commit sha + sha256 of the weights) to paste into ``zoo/_entries``.
``--dry-run OUT`` writes the folder(s) only. Importable: :func:`mirror`, :func:`build_mirror_folder`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from zoo.errors import InvalidInputError, RzooError


@dataclass(frozen=True)
class MirrorOutcome:
    name: str
    repo_id: str
    weights_sha256: str
    folder: Path | None  # the dry-run folder
    revision: str | None  # the Hub commit holding the weights (None for a dry run)
    changed: bool = False

    def registry_snippet(self) -> str:
        """The ``HubLocation`` line that pins this mirror in the registry."""
        revision = f'"{self.revision}"' if self.revision else "None"
        return (
            f"# {self.name}\n"
            f'hub=HubLocation(repo_id="{self.repo_id}", revision={revision}, sha256="{self.weights_sha256}"),'
        )

    def registry_entry(self) -> dict[str, str | None]:
        return {"repo_id": self.repo_id, "revision": self.revision, "sha256": self.weights_sha256}


def mirrorable_names(include: str = "*") -> list[str]:
    """Registry entries that have an original release to convert."""
    from zoo import get_weights, list_models

    return [n for n in list_models(include) if get_weights(n).provenance.source is not None]


def convert_original(weights, cache_dir: Path, source_dir: Path | None = None, progress: bool = True):
    """The converted snapshot (``zoo._convert``): from ``source_dir/<filename>`` when given, else downloaded."""
    from zoo._convert import build_from_source, convert_source_release

    source = weights.provenance.source
    if source is None:
        raise InvalidInputError(
            f"{weights.name} has no original release to mirror (it is on the Hub already)"
        )
    if source_dir is None:
        return build_from_source(weights, progress=progress, cache_dir=cache_dir)
    checkpoint = Path(source_dir) / source.filename
    if not checkpoint.is_file():
        raise InvalidInputError(f"{source.filename} is not in {source_dir} (get it from {source.url})")
    return convert_source_release(checkpoint, weights, source, cache_dir=cache_dir)


def build_mirror_folder(
    name: str,
    org: str,
    out: Path,
    *,
    source_dir: Path | None = None,
    results_paths: Sequence[str | Path] = (),
    progress: bool = True,
) -> Path:
    """Convert ``name``'s original release and write its publish folder (weights, config, card) to ``out``."""
    from cards import PLOT_FILENAME, CardSpec, plot_robustness, write_card
    from zoo import get_weights
    from zoo._hub import sha256_file
    from zoo.publish import (
        CONFIG_FILENAME,
        WEIGHTS_FILENAME,
        check_results_match,
        copy_results,
        load_results,
        timm_config,
        verify_timm_loadable,
        write_folder_atomically,
        write_json,
    )

    weights = get_weights(name)
    repo_id = f"{org}/{weights.name}"
    results = load_results(results_paths)
    with tempfile.TemporaryDirectory(prefix="rzoo-mirror-") as cache:
        fetched = convert_original(weights, Path(cache), source_dir, progress)
        config = timm_config(
            json.loads((fetched.folder / CONFIG_FILENAME).read_text()), weights.data_config.to_timm()
        )
        weights_file = fetched.weights_file.resolve()
        verify_timm_loadable(config, weights_file)
        weights_sha256 = sha256_file(weights_file)
        check_results_match(results, "classification", weights_sha256)

        def build(tmp: Path) -> None:
            shutil.copyfile(weights_file, tmp / WEIGHTS_FILENAME)
            write_json(tmp / CONFIG_FILENAME, config)
            results_in_repo = copy_results(results, tmp)
            plot = plot_robustness(results, tmp / PLOT_FILENAME)
            spec = CardSpec(
                repo_id=repo_id,
                architecture=weights.architecture,
                num_classes=weights.num_classes,
                num_params=weights.num_params,
                license=weights.provenance.license,
                train_datasets=("imagenet-1k",),
                tags=weights.tags,
                summary=(
                    f"`{weights.name}`: {weights.recipe}. The authors' original release converted to "
                    f"safetensors for timm and rzoo (no retraining; tensors copied as released)."
                ),
                provenance=weights.provenance,
                reference_metrics=weights.metrics,
                recipe_text=weights.recipe,
                preprocessing=weights.data_config.to_timm(),
                results=tuple(results),
                results_paths=tuple(results_in_repo),
                plot_filename=PLOT_FILENAME if plot is not None else None,
                checkpoint_sha256=weights_sha256,
            )
            write_card(spec, tmp)

        return write_folder_atomically(out, build)


def mirror(
    name: str,
    org: str,
    *,
    dry_run: str | Path | None = None,
    source_dir: Path | None = None,
    results_paths: Sequence[str | Path] = (),
    private: bool = False,
    token: str | None = None,
    progress: bool = True,
) -> MirrorOutcome:
    """Convert, card and (unless ``dry_run``) upload one registry entry to ``ORG/<name>``."""
    from zoo import __version__, get_weights
    from zoo._hub import sha256_file
    from zoo.publish import WEIGHTS_FILENAME, upload_folder

    weights = get_weights(name)
    repo_id = f"{org}/{weights.name}"
    if dry_run is not None:
        folder = build_mirror_folder(
            weights.name,
            org,
            Path(dry_run),
            source_dir=source_dir,
            results_paths=results_paths,
            progress=progress,
        )
        return MirrorOutcome(weights.name, repo_id, sha256_file(folder / WEIGHTS_FILENAME), folder, None)
    with tempfile.TemporaryDirectory(prefix="rzoo-mirror-out-") as tmp:
        folder = build_mirror_folder(
            weights.name,
            org,
            Path(tmp) / "folder",
            source_dir=source_dir,
            results_paths=results_paths,
            progress=progress,
        )
        weights_sha256 = sha256_file(folder / WEIGHTS_FILENAME)
        source = weights.provenance.source
        assert source is not None
        upload = upload_folder(
            folder,
            repo_id,
            commit_message=f"Mirror {weights.name} from its original release as safetensors (rzoo {__version__})",
            commit_description=(
                f"Original release: {source.url.split('?')[0]} ({source.filename}, layout {source.layout})\n"
                f"Weights: {WEIGHTS_FILENAME} sha256 {weights_sha256}"
            ),
            private=private,
            token=token,
        )
    return MirrorOutcome(weights.name, repo_id, weights_sha256, None, upload.commit_sha, upload.changed)


# ---- command line ---------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hub_upload.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("mirror", help="Original release -> safetensors + model card -> Hub (one commit).")
    m.add_argument("name", nargs="?", help="Registry name or alias (see `rzoo models list`).")
    m.add_argument("--all", action="store_true", help="Every registry entry with an original release.")
    m.add_argument("--include", default="*", help="With --all: only names matching this glob.")
    m.add_argument("--org", required=True, help="Hub organisation or user to publish under.")
    m.add_argument("--dry-run", metavar="OUT", type=Path, help="Write the folder(s) to OUT; upload nothing.")
    m.add_argument(
        "--source-dir", type=Path, help="Read the original releases from here instead of downloading."
    )
    m.add_argument(
        "--results", action="append", default=[], type=Path, help="rzoo results JSON to put on the card."
    )
    m.add_argument("--private", action="store_true", help="Create new repos private.")
    m.add_argument(
        "--registry-out", type=Path, help="Also write the pins as JSON {name: {repo_id, revision, sha256}}."
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.all == bool(args.name):
        print("error: give a NAME or --all (not both)", file=sys.stderr)
        return 2
    try:
        names = mirrorable_names(args.include) if args.all else [args.name]
        if args.all and not names:
            raise InvalidInputError(f"no registry entry with an original release matches {args.include!r}")
    except RzooError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    outcomes: list[MirrorOutcome] = []
    failures: list[str] = []
    for name in names:
        out = None if args.dry_run is None else (args.dry_run / name if args.all else args.dry_run)
        try:
            outcome = mirror(
                name,
                args.org,
                dry_run=out,
                source_dir=args.source_dir,
                results_paths=args.results if not args.all else [],
                private=args.private,
            )
        except RzooError as err:
            print(f"error: {name}: {err}", file=sys.stderr)
            failures.append(name)
            continue
        outcomes.append(outcome)
        if outcome.folder is not None:
            print(
                f"dry run: wrote {outcome.repo_id} to {outcome.folder} (model.safetensors sha256 {outcome.weights_sha256})"
            )
        elif outcome.changed:
            print(f"mirrored {outcome.name} to {outcome.repo_id} at commit {outcome.revision}")
        else:
            print(f"{outcome.repo_id} is already up to date at commit {outcome.revision} (no new commit)")
    uploaded = [o for o in outcomes if o.revision is not None]
    if uploaded:
        print("\nRegistry pins (paste into zoo/_entries):")
        for outcome in uploaded:
            print(outcome.registry_snippet())
        if args.registry_out is not None:
            from evaluator.results import atomic_write_text

            pins = {o.name: o.registry_entry() for o in uploaded}
            atomic_write_text(args.registry_out, json.dumps(pins, indent=2) + "\n")
    if failures:
        print(f"error: {len(failures)} of {len(names)} failed: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
