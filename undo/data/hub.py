"""Hugging Face hub datasets: fast failure without the hub, loading, and a resumable shard cache.

Paper-scale corpora are hub datasets (e.g. ``HuggingFaceFW/fineweb-edu``, config ``sample-10BT``;
App. A) read through ``datasets.load_dataset``; the same code works on local files with the hub's
schema (``path="json"``, ``data_files=...``). ``HF_HUB_OFFLINE``/``HF_DATASETS_OFFLINE`` make a hub
id fail at once with a :class:`SourceError` that says how to run offline, and an unreachable hub is
detected within seconds (:func:`check_hub_reachable`) instead of after the libraries' retries.
:func:`cache_hf_documents` streams the rows into resumable JSONL shards under the cache directory,
so a second run reads the cache and an interrupted download resumes. Every loader takes ``revision`` (a hub
commit, branch or tag) to pin what is read; a row can become a document through one column (``text_field``) or a
template over several (``text_template``, e.g. ``"{instruction}\\n\\n{response}"``), and :func:`hf_rows` gives whole
rows (benchmarks such as ``cais/wmdp`` and ``cais/mmlu``). :func:`hub_revision` says which commit a hub read came from
(the default branch moves; a stage records the commit in its artifact, so an unpinned run can be pinned after the fact).

Usage::

    docs = hf_documents("json", data_files="docs.jsonl", n_documents=1000)
    cache = cache_hf_documents("HuggingFaceFW/fineweb-edu", name="sample-10BT", n_documents=10_000_000,
                               cache_dir=cache_dir)
    for text in cache.documents_iter(): ...
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..checksums import sha256_file
from .errors import SourceError

__all__ = ["HubCache", "cache_hf_documents", "check_hub_reachable", "hf_documents", "hf_rows", "hub_commit",
           "hub_revision", "revision_note", "template_fields"]


# --------------------------------------------------------------------------------------------------
# Hugging Face datasets (hub ids or local files with the hub's schema)
# --------------------------------------------------------------------------------------------------

_TRUE = {"1", "ON", "YES", "TRUE"}


def _hub_offline(variables: tuple[str, ...] = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")) -> bool:
    return any(os.environ.get(var, "").strip().upper() in _TRUE for var in variables)


def _looks_like_hub_id(path: str) -> bool:
    return "/" in path and not os.path.exists(path)


def _offline_error(path: str, name: str | None) -> SourceError:
    what = path if name is None else f"{path} (config {name})"
    return SourceError(
        f"dataset {what} is on the Hugging Face hub, but HF_HUB_OFFLINE/HF_DATASETS_OFFLINE is set; "
        f'to run offline use a local copy with the same schema (path="json" or "parquet", data_files=...), '
        "or unset those variables on a machine with hub access"
    )


_HUB_PROBE_TIMEOUT_S = 3.0


def _hub_endpoint() -> str:
    endpoint = os.environ.get("HF_ENDPOINT")
    if endpoint:
        return endpoint.rstrip("/")
    try:
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover - huggingface_hub comes with datasets and transformers
        return "https://huggingface.co"
    return constants.ENDPOINT.rstrip("/")


def _probe_target(endpoint: str) -> tuple[str, int]:
    """Host and port a connection to ``endpoint`` goes to first: the proxy when one is configured."""
    url = urlsplit(endpoint)
    scheme = url.scheme or "https"
    proxy = os.environ.get(f"{scheme}_proxy") or os.environ.get(f"{scheme.upper()}_PROXY")
    no_proxy = [h.strip().lstrip(".") for h in (os.environ.get("no_proxy") or os.environ.get("NO_PROXY") or "").split(",")]
    host = url.hostname or ""
    if proxy and not any(h and (host == h or host.endswith("." + h)) for h in no_proxy):
        purl = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        return purl.hostname or "", purl.port or 80
    return host, url.port or (443 if scheme == "https" else 80)


def check_hub_reachable(what: str, timeout: float = _HUB_PROBE_TIMEOUT_S,
                        offline_variables: tuple[str, ...] = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")) -> None:
    """Raise a one-line :class:`SourceError` within ``timeout`` seconds when the hub cannot be reached.

    Without network, ``datasets`` and ``transformers`` spend ~46 s on DNS retries before failing; a
    TCP connect to the hub endpoint (or the configured proxy), DNS included, run in a daemon thread
    and abandoned after ``timeout``, answers in seconds instead. With ``HF_HUB_OFFLINE`` set nothing
    is probed: the caller's offline path applies (``offline_variables``: which variables count; a
    tokenizer load only heeds ``HF_HUB_OFFLINE``).
    """
    if _hub_offline(offline_variables):
        return
    endpoint = _hub_endpoint()
    host, port = _probe_target(endpoint)
    outcome: list[BaseException | None] = []

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome.append(None)
        except OSError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=probe, daemon=True, name="undo-hub-probe")
    thread.start()
    thread.join(timeout)
    error = outcome[0] if outcome else TimeoutError(f"no answer within {timeout:g} s")
    if error is not None:
        raise SourceError(
            f"{what}: cannot reach the Hugging Face hub at {endpoint} ({type(error).__name__}: {error}); "
            "to run without the hub use --scale mini or --scale smoke (offline registry corpora), or set "
            "HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 to use files already in the Hugging Face cache"
        )


def _load_hf(path: str, name: str | None, split: str, *, streaming: bool, data_files, cache_dir: Path | None,
             revision: str | None = None):
    """``datasets.load_dataset`` with the kit's errors: offline, unreachable hub, bad name/split/files/revision."""
    where = _where(path, name, revision)
    hub = _looks_like_hub_id(path)
    if hub and _hub_offline() and streaming:
        raise _offline_error(path, name)
    if hub:
        check_hub_reachable(f"dataset {where}")
    try:
        import datasets
    except ImportError as exc:
        raise SourceError(
            "the 'datasets' package is not installed; pip install datasets (see requirements.lock)"
        ) from exc
    try:
        return datasets.load_dataset(
            path,
            name,
            split=split,
            streaming=streaming,
            data_files=data_files,
            cache_dir=None if cache_dir is None else str(cache_dir),
            revision=revision,
        )
    except Exception as exc:
        if _hub_offline() and ("OfflineModeIsEnabled" in str(exc) or type(exc).__name__ == "OfflineModeIsEnabled"):
            raise _offline_error(path, name) from exc
        first_line = (str(exc).strip().splitlines() or [""])[0]
        raise SourceError(
            f"could not load dataset {where} split {split!r}: {type(exc).__name__}: {first_line}; "
            "check the name, config, split, revision and data_files"
        ) from exc


def _where(path: str, name: str | None, revision: str | None = None) -> str:
    where = path if name is None else f"{path} (config {name})"
    return where if revision is None else f"{where} at revision {revision}"


def template_fields(template: str) -> tuple[str, ...]:
    """The column names a ``text_template`` reads (``"{instruction}\\n\\n{response}"``: instruction, response).

    ValueError (naming ``text_template``) for a malformed template, one without a field, or a field with an index,
    attribute, conversion or format spec: a template only joins whole text columns."""
    import string

    fields = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"text_template: malformed template {template!r} ({exc})") from None
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if not field.isidentifier() or spec or conversion:
            raise ValueError(f"text_template: {{{field}}} must name a column, as {{instruction}}")
        fields.append(field)
    if not fields:
        raise ValueError(f"text_template: {template!r} reads no column; write e.g. '{{instruction}}\\n\\n{{response}}'")
    return tuple(dict.fromkeys(fields))


def _texts(ds, where: str, text_field: str) -> Iterator[str | None]:
    """The ``text_field`` of every row (None for rows without usable text), checking the schema."""
    columns = getattr(ds, "column_names", None)
    if columns is not None and text_field not in columns:
        raise _missing_field_error(where, text_field, list(columns))
    for row in ds:
        if text_field not in row:
            raise _missing_field_error(where, text_field, list(row))
        value = row[text_field]
        if value is None:
            yield None
            continue
        if not isinstance(value, str):
            raise SourceError(
                f"field {text_field!r} of dataset {where} holds {type(value).__name__}, not text; pick a text column"
            )
        yield value if value.strip() else None


def _template_texts(ds, where: str, template: str) -> Iterator[str | None]:
    """Each row's columns filled into ``template`` (None for a row where one of them is None or blank: like a row
    with empty text, it is skipped)."""
    fields = template_fields(template)
    columns = getattr(ds, "column_names", None)
    for field in fields:
        if columns is not None and field not in columns:
            raise _missing_field_error(where, field, list(columns), "text_template")
    for row in ds:
        values = {}
        for field in fields:
            if field not in row:
                raise _missing_field_error(where, field, list(row), "text_template")
            value = row[field]
            if value is not None and not isinstance(value, str):
                raise SourceError(f"field {field!r} of dataset {where} holds {type(value).__name__}, not text; "
                                  "a text_template reads text columns only")
            values[field] = value
        if any(v is None or not v.strip() for v in values.values()):
            yield None
            continue
        yield template.format_map(values)


def _row_texts(ds, where: str, text_field: str, text_template: str | None) -> Iterator[str | None]:
    return _texts(ds, where, text_field) if text_template is None else _template_texts(ds, where, text_template)


def hf_documents(
    path: str,
    *,
    name: str | None = None,
    split: str = "train",
    text_field: str = "text",
    n_documents: int,
    streaming: bool = True,
    data_files=None,
    cache_dir: Path | None = None,
    revision: str | None = None,
    text_template: str | None = None,
) -> list[str]:
    """The ``text_field`` (or ``text_template`` filled from the row) of the first ``n_documents`` rows of a
    ``datasets`` dataset, at ``revision`` when given.

    ``path`` is a hub id (``"HuggingFaceFW/fineweb-edu"`` with ``name="sample-10BT"``) or a packaged
    builder with local files (``path="json"``, ``data_files="docs.jsonl"``).  Rows whose text is empty
    or None are skipped.  If the split has fewer usable rows than ``n_documents``, all of them are
    returned (the caller decides whether that is enough).

    With ``HF_HUB_OFFLINE``/``HF_DATASETS_OFFLINE`` set, a hub id fails at once with
    :class:`SourceError` (in streaming mode nothing could be served from a cache anyway; in
    non-streaming mode ``datasets`` is first given the chance to use its local cache).  Without those
    variables, an unreachable hub fails within seconds (:func:`check_hub_reachable`).
    """
    if n_documents < 0:
        raise ValueError(f"n_documents must be >= 0, got {n_documents}")
    if _looks_like_hub_id(path) and _hub_offline() and streaming:
        raise _offline_error(path, name)
    if n_documents == 0:
        return []
    where = _where(path, name, revision)
    ds = _load_hf(path, name, split, streaming=streaming, data_files=data_files, cache_dir=cache_dir, revision=revision)
    docs: list[str] = []
    for text in _row_texts(ds, where, text_field, text_template):
        if text is not None:
            docs.append(text)
            if len(docs) >= n_documents:
                break
    return docs


def _missing_field_error(where: str, text_field: str, columns: list[str], key: str = "text_field") -> SourceError:
    return SourceError(
        f"dataset {where} has no column {text_field!r} (columns: {', '.join(map(str, columns)) or 'none'}); set {key}"
    )


def hf_rows(path: str, *, name: str | None = None, split: str = "test", revision: str | None = None,
            data_files=None) -> Iterator[dict]:
    """Every row of a dataset split as a dict, in order (benchmarks: ``cais/wmdp``, ``cais/mmlu``).

    A hub id is loaded whole (``datasets`` serves it from its cache when ``HF_DATASETS_OFFLINE`` is set and it
    was downloaded before); local files with the hub's schema (``path="json"``/``"parquet"`` with ``data_files``,
    a mapping of split to files when there are several splits) are streamed, which leaves no cache behind."""
    streaming = not _looks_like_hub_id(path)
    yield from _load_hf(path, name, split, streaming=streaming, data_files=data_files, cache_dir=None,
                        revision=revision)


# --------------------------------------------------------------------------------------------------
# The commit a hub read came from
# --------------------------------------------------------------------------------------------------

_COMMIT = re.compile(r"[0-9a-f]{40}")
_LOOKUP_TIMEOUT_S = 10.0


def is_commit(revision: str | None) -> bool:
    """Whether ``revision`` is a full commit hash, which names itself (a branch or tag moves)."""
    return isinstance(revision, str) and _COMMIT.fullmatch(revision) is not None


def hub_commit(path: str, revision: str | None = None, *, repo_type: str = "dataset") -> str | None:
    """The commit ``revision`` (None: the default branch) of hub repository ``path`` names now: one API call,
    authenticated with ``HF_TOKEN`` when set (a gated repository answers only then; otherwise the cached login)."""
    from huggingface_hub import HfApi

    api = HfApi(token=os.environ.get("HF_TOKEN") or None)
    info = api.model_info if repo_type == "model" else api.dataset_info
    return info(path, revision=revision, timeout=_LOOKUP_TIMEOUT_S).sha


def _revision_record(path: str, name: str | None, revision: str | None, sha: str | None = None,
                     reason: str | None = None) -> dict:
    record = {"path": path, "config": name, "revision_requested": revision, "revision_resolved": sha}
    if sha is None:
        record["reason"] = reason
    return record


def hub_revision(path: str, *, name: str | None = None, revision: str | None = None, repo_type: str = "dataset",
                 read: str | None = None,
                 offline_variables: tuple[str, ...] = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")) -> dict | None:
    """What an artifact records about the hub commit it read: None for a local source, else ``{path, config,
    revision_requested, revision_resolved}`` (and ``reason`` when the commit is unknown).

    A full commit hash (``revision``, or ``read``: the commit a loader reports it used) is taken as is. Otherwise
    :func:`hub_commit` asks the hub once, except offline (``offline_variables`` set: the read came from a local
    cache, and asking would only wait on a network that is not there). A failed lookup never fails the caller: the
    data was read, only its commit goes unrecorded, with the reason."""
    if not _looks_like_hub_id(os.path.expanduser(path)):  # a local directory or files: no commit to name
        return None
    for known in (revision, read):
        if is_commit(known):
            return _revision_record(path, name, revision, known)
    offline = [variable for variable in offline_variables if _hub_offline((variable,))]
    if offline:
        return _revision_record(path, name, revision, reason=f"offline ({', '.join(offline)} set): commit not looked up")
    try:
        sha = hub_commit(path, revision, repo_type=repo_type)
    except Exception as exc:  # noqa: BLE001 - any failure only leaves the commit unrecorded
        first_line = (str(exc).strip().splitlines() or [""])[0]
        return _revision_record(path, name, revision, reason=f"lookup failed: {type(exc).__name__}: {first_line}")
    if not is_commit(sha):
        return _revision_record(path, name, revision, reason=f"the hub named no commit ({sha!r})")
    return _revision_record(path, name, revision, sha)


def revision_note(record: dict | None) -> str | None:
    """The line a stage logs when its config pinned no revision (None when it pinned one, or read local files)."""
    if record is None or record["revision_requested"] is not None:
        return None
    sha = record["revision_resolved"]
    if sha is None:
        return f"{record['path']}: no revision pinned; commit not recorded ({record['reason']})"
    return f"{record['path']}: no revision pinned; read commit {sha} (pin it with revision: {sha})"


# --------------------------------------------------------------------------------------------------
# Resumable local cache of a streamed dataset
# --------------------------------------------------------------------------------------------------

_SHARD = "shard-{:05d}.jsonl"


@dataclass(frozen=True)
class HubCache:
    """The shards of a cached dataset selection, in order, and what they hold."""

    directory: Path
    shards: tuple[Path, ...]
    documents: int
    rows: int
    hub: dict | None = None  # the commit the shards were read from (:func:`hub_revision`); None for local files

    def documents_iter(self) -> Iterator[str]:
        for shard in self.shards:
            with open(shard, encoding="utf-8") as fh:
                for line in fh:
                    yield json.loads(line)["text"]


def _unrecorded_cache(path: str, name: str | None, revision: str | None) -> dict | None:
    """The record of a cache filled before commits were recorded: a hub lookup now would name today's commit,
    not the one the shards were read from, so only a full commit hash in ``revision`` is taken."""
    if not _looks_like_hub_id(path):
        return None
    if is_commit(revision):
        return _revision_record(path, name, revision, revision)
    return _revision_record(path, name, revision, reason="cached before this kit recorded commits")


def _check_shards(directory: Path, progress: dict) -> None:
    """Every cached shard against the sha256 recorded when it was written (a cache filled before digests were
    recorded has none: unverified). A modified or damaged download is never used: the error names the shard."""
    for shard, digest in progress.get("sha256", {}).items():
        path = directory / shard
        if not path.is_file() or sha256_file(path) != digest:
            what = "is missing" if not path.is_file() else "differs from the sha256 recorded when it was downloaded"
            raise SourceError(f"{path}: the cached shard {what}; delete {directory} to download the selection again")


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def cache_hf_documents(
    path: str,
    *,
    name: str | None = None,
    split: str = "train",
    text_field: str = "text",
    n_documents: int,
    cache_dir: Path,
    data_files=None,
    shard_documents: int = 100_000,
    revision: str | None = None,
    text_template: str | None = None,
) -> HubCache:
    """Stream the first ``n_documents`` non-empty texts of a dataset into JSONL shards under ``cache_dir/hf/``.

    This is how the paper-scale corpora are sampled (App. A: the first 10M rows of each source). Each
    shard of ``shard_documents`` documents is written atomically, followed by ``progress.json``
    (rows read, documents kept, shards and their sha256, complete; a shard that no longer matches its sha256 stops
    the run with its path). A finished selection is served from the cache with
    no network; an interrupted one resumes by skipping the rows already read (``IterableDataset.skip``).
    The cache directory is keyed by everything that selects the rows, so two selections never mix (``revision``
    and ``text_template`` enter that key only when given, so caches written before they existed stay valid).
    ``progress.json`` also keeps the commit the rows were read from (:func:`hub_revision`), which the returned
    :class:`HubCache` reports as ``hub``, on a cache hit too.
    """
    if n_documents <= 0:
        raise ValueError(f"n_documents must be > 0, got {n_documents}")
    if shard_documents <= 0:
        raise ValueError(f"shard_documents must be > 0, got {shard_documents}")
    files = None if data_files is None else [str(f) for f in ([data_files] if isinstance(data_files, str) else data_files)]
    spec = {"path": path, "name": name, "split": split, "text_field": text_field, "data_files": files,
            "n_documents": n_documents, "shard_documents": shard_documents}
    if revision is not None:
        spec["revision"] = revision
    if text_template is not None:
        spec["text_template"] = text_template
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{path}--{name or 'default'}--{split}")
    directory = Path(cache_dir) / "hf" / f"{slug}-{digest}"
    progress_file = directory / "progress.json"
    progress = {"spec": spec, "rows": 0, "documents": 0, "shards": [], "complete": False}
    if progress_file.is_file():
        progress = json.loads(progress_file.read_text(encoding="utf-8"))
        _check_shards(directory, progress)

    def result() -> HubCache:
        hub = progress["hub"] if "hub" in progress else _unrecorded_cache(path, name, revision)
        return HubCache(directory, tuple(directory / s for s in progress["shards"]), progress["documents"],
                        progress["rows"], hub)

    if progress["complete"]:
        return result()
    where = _where(path, name, revision)
    # A resumed selection reads on at the commit its first rows came from, so the shards never mix two commits
    # (an unpinned branch may have moved since); the cache key is untouched.
    earlier = (progress.get("hub") or {}).get("revision_resolved") if progress["rows"] else None
    ds = _load_hf(path, name, split, streaming=True, data_files=files, cache_dir=None, revision=earlier or revision)
    if not earlier:
        progress["hub"] = hub_revision(path, name=name, revision=revision)
    directory.mkdir(parents=True, exist_ok=True)
    if progress["rows"]:
        ds = ds.skip(progress["rows"])  # resume after the rows already stored
    buffer: list[str] = []
    rows = progress["rows"]

    def flush() -> None:
        shard = _SHARD.format(len(progress["shards"]))
        text = "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in buffer)
        _write_atomic(directory / shard, text)
        progress["shards"].append(shard)
        progress.setdefault("sha256", {})[shard] = hashlib.sha256(text.encode("utf-8")).hexdigest()
        progress["documents"] += len(buffer)
        progress["rows"] = rows
        buffer.clear()
        _write_atomic(progress_file, json.dumps(progress, indent=1))

    for text in _row_texts(ds, where, text_field, text_template):
        rows += 1
        if text is None:
            continue
        buffer.append(text)
        if len(buffer) >= shard_documents or progress["documents"] + len(buffer) >= n_documents:
            flush()
        if progress["documents"] >= n_documents:
            break
    if buffer:
        flush()
    progress["rows"] = rows
    progress["complete"] = True
    _write_atomic(progress_file, json.dumps(progress, indent=1))
    if progress["documents"] == 0:
        what = repr(text_field) if text_template is None else f"text_template {text_template!r}"
        raise SourceError(f"dataset {where} split {split!r} has no non-empty {what} row; check the source")
    return result()
