"""Typed, validated configs loaded from YAML.

A config file names its stage (``stage: distill``), its hyperparameters, and its upstream
inputs as paths to other config files (``teacher: unlearn_maxent.yaml``); those references
form the dependency graph that :mod:`undo.pipeline` resolves. Three YAML keys are special:

- ``base: common.yaml`` deep-merges another file underneath this one; ``base: [common.yaml, model.yaml]`` several,
  left to right (the shipped configs keep one level: a base has no base of its own).
- ``scales: {smoke: {...}, mini: {...}}`` holds per-scale overlays, deep-merged on top when that
  scale is selected. The file's own values are the paper's (``paper`` scale).
- ``sweep: {noise.alpha: [0.2, 0.4], seed: [0, 1, 2]}`` expands the file into one stage instance
  per combination of the listed values; in an overlay, ``seed: null`` removes a swept key. Keys joined by a
  comma sweep together: ``{"options.a,options.b": [[0.1, 1e-4], [0.5, 0.01]]}`` gives two instances, not four.
  A list of such mappings is the union of their instances (``[{model: [a.yaml], seed: [1, 2]}, {model: [b.yaml]}]``:
  a.yaml attacked with two seeds, b.yaml once); an overlay's mapping applies to every group, an overlay's list
  replaces them.
  A swept upstream reference (``sweep: {model: [select_maxent.yaml, pretrain_oracle.yaml]}``: one file attacks
  several models) tags each instance with the referenced file's stem, and a reference elsewhere picks instances
  by their tags with a selector: ``relearn.yaml[model=select_maxent]``, ``relearn.yaml[model=distill_undo]``.

Under ``reproduce/``, a directory sees its parent directories' config files as its own (up to, not including,
``reproduce/`` itself; :func:`locate`): ``reproduce/synthetic/select_maxent.yaml`` is also
``reproduce/synthetic/language/select_maxent.yaml``, read as if it lived there, so its references
(``candidates: unlearn_maxent.yaml``) and its derived name (``language-select_maxent``) are the language setting's.
A setting's own file of the same name shadows the shared one.

Every problem is reported as one line ``FILE: KEY: what is wrong`` (:class:`ConfigError`), before
anything is run or written.

Usage::

    raw = load_raw(Path("reproduce/synthetic/arithmetic/distill_undo.yaml"), scale="mini")
    cfg = build(DistillConfig, raw.data, file=raw.path)
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import math
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

SCALES = ("paper", "mini", "smoke")
REPRODUCE_DIR = "reproduce"  # the config tree's root directory name: lookup of shared files stops below it
_SPECIAL_KEYS = ("base", "scales", "sweep")
# Bounds every config obeys, whatever its stage: a seed is what NumPy's legacy and PyTorch's generators both accept
# (np.random.seed takes 0 .. 2**32 - 1), a step or epoch count is one a run could finish (10**8 steps is months of
# the paper's largest run), and no integer exceeds 64 bits (PyTorch and NumPy store them so).
SEED_RANGE = (0, 2**32 - 1)
MAX_STEPS = 10**8
_INT64 = 2**63 - 1


class ConfigError(ValueError):
    """A config problem, reported as one line naming the file and the key."""

    def __init__(self, file: Path | str, key: str, message: str):
        self.file, self.key, self.message = str(file), key, message
        where = f"{self.file}: {key}: " if key else f"{self.file}: "
        super().__init__(where + message)


class Ref(str):
    """Type marker for a field that names another config file (an upstream stage).

    ``file.yaml[tag=value,...]`` names only the instances of that file whose sweep tags have those values (e.g.
    ``relearn.yaml[model=select_maxent]``: the attack on one of the models a relearn config lists)."""

    @property
    def path(self) -> Path:
        return Path(str(self).split("[", 1)[0])

    @property
    def selector(self) -> dict[str, str]:
        name, bracket, rest = str(self).partition("[")
        return parse_selector(rest) if bracket else {}


def parse_selector(text: str) -> dict[str, str]:
    """``tag=value,...]`` (what follows a reference's ``[``) as a mapping; ValueError if malformed."""
    parts = text[:-1].split(",") if text.endswith("]") else []
    pairs = [p.split("=") for p in parts]
    if not pairs or not all(len(kv) == 2 and kv[0] and kv[1] for kv in pairs):
        raise ValueError(f"a selector is [tag=value,...], got [{text}")
    return dict(pairs)


def option(default: Any = dataclasses.MISSING, doc: str = "", *, gt=None, ge=None, lt=None, le=None,
           in_key: bool = True, default_factory: Any = dataclasses.MISSING, key_if_set: bool = False,
           derived: str = ""):
    """A dataclass field with a docstring, numeric bounds, and whether it enters the artifact key.

    ``in_key=False`` marks settings that do not change results (checkpoint frequency, eval
    batch size), so changing them never invalidates a finished stage. ``key_if_set=True`` marks
    an option added after artifacts already existed: it enters the key only when it differs from
    its default, so adding it did not re-key (and recompute) stages that do not use it. ``derived="..."``
    marks a value the config computes itself (its ``derive`` method; the text says from what): YAML may not
    set it, and the resolved config shows it.
    """
    meta = {"doc": doc, "gt": gt, "ge": ge, "lt": lt, "le": le, "in_key": in_key, "key_if_set": key_if_set,
            "derived": derived}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@dataclass
class RawConfig:
    """A YAML file after includes and the scale overlay, before typing."""

    path: Path
    data: dict
    sweeps: list[dict[str, list]]  # groups; the instances are the union of each group's combinations

    def combos(self) -> list[dict]:
        """One ``{dotted key: value}`` per instance: each group's product, in order, without repeats."""
        out: list[dict] = []
        for group in self.sweeps:
            for values in itertools.product(*group.values()):
                combo: dict = {}
                for key, value in zip(group, values, strict=True):  # "a,b": [[a1, b1], ...] sweeps a and b together
                    combo.update(zip(key.split(","), value, strict=True) if "," in key else [(key, value)])
                if combo not in out:
                    out.append(combo)
        return out


def deep_merge(base: dict, over: dict) -> dict:
    """Return ``base`` updated recursively with ``over`` (mappings merge, everything else replaces)."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def merge_sweeps(under: Any, over: Any) -> Any:
    """``over``'s sweep on top of ``under``'s: mappings merge (into every group of a list), a list replaces."""
    if over is None:
        return copy.deepcopy(under)
    if isinstance(over, dict) and isinstance(under, dict):
        return deep_merge(under, over)
    if isinstance(over, dict) and isinstance(under, list):
        return [deep_merge(group, over) if isinstance(group, dict) else group for group in under]
    return copy.deepcopy(over)


def _merge_file(under: dict, over: dict) -> dict:
    """A file's keys on top of its base's (or an overlay on top of a file): ``deep_merge`` but sweeps by ``merge_sweeps``."""
    merged = deep_merge({k: v for k, v in under.items() if k != "sweep"}, {k: v for k, v in over.items() if k != "sweep"})
    sweep = merge_sweeps(under.get("sweep"), over.get("sweep"))
    if sweep is not None:
        merged["sweep"] = sweep
    return merged


def locate(path: Path | str) -> Path:
    """The file that a config path names: the path itself, or else the nearest parent directory's file of that name,
    searching the directories between the path and the enclosing ``reproduce/`` (exclusive). Outside a
    ``reproduce/`` tree a path names only itself. The path returned may not exist (callers report it)."""
    path = Path(path)
    if path.is_file():
        return path
    shared = []
    for parent in path.parent.parents:
        if parent.name == REPRODUCE_DIR:
            for directory in shared:
                if (directory / path.name).is_file():
                    return directory / path.name
            break
        shared.append(parent)
    return path


def config_files(directory: Path | str) -> list[Path]:
    """The config files a directory holds and inherits (:func:`locate`), by the paths they are read at, sorted."""
    directory = Path(directory)
    names = {p.name for p in directory.glob("*.yaml")}
    for parent in directory.parents:
        if parent.name == REPRODUCE_DIR:
            break
        names |= {p.name for p in parent.glob("*.yaml")}
    return sorted(directory / name for name in names if locate(directory / name).is_file())


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key: Any, line: int):
        super().__init__(f"duplicate key {key!r}")
        self.key, self.line = key, line


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping (PyYAML keeps the last silently)."""

    def construct_mapping(self, node, deep=False):
        seen: set = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, typing.Hashable) and key in seen:
                raise _DuplicateKey(key, key_node.start_mark.line + 1)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _nonfinite(data: Any, where: str = "") -> str | None:
    """The dotted key of the first infinite or NaN number in parsed YAML (``.inf``, ``1.0e+400``, ``.nan``), if any."""
    if isinstance(data, float) and not math.isfinite(data):
        return where or "?"
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        found = _nonfinite(value, f"{where}[{key}]" if isinstance(data, list) else f"{where}.{key}" if where else str(key))
        if found is not None:
            return found
    return None


def _read_yaml(path: Path) -> dict:
    path = locate(path)
    if not path.is_file():
        raise ConfigError(path, "", "file not found")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)  # noqa: S506 (a safe loader)
    except _DuplicateKey as err:
        raise ConfigError(path, f"line {err.line}", f"{err.key}: given twice in one mapping (YAML would keep the "
                                                    "last silently); keep one") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "?"
        raise ConfigError(path, where, f"invalid YAML ({getattr(err, 'problem', err)})") from None
    except UnicodeDecodeError:
        raise ConfigError(path, "", "not UTF-8 text") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(path, "", "top level must be a mapping")
    if (key := _nonfinite(data)) is not None:
        raise ConfigError(path, key, "must be a finite number (infinite or NaN given)")
    return data


def _with_bases(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    path = path.resolve()
    if path in seen:
        raise ConfigError(path, "base", "include cycle")
    data = _read_yaml(path)
    bases = data.pop("base", None)
    if bases is None:
        return data
    if isinstance(bases, str):
        bases = [bases]
    if not isinstance(bases, list) or not bases or not all(isinstance(b, str) for b in bases):
        raise ConfigError(path, "base", "must be a path or a list of paths")
    merged: dict = {}
    for base in bases:  # left to right, the file's own keys last
        base_path = (path.parent / base).resolve()
        if not locate(base_path).is_file():
            raise ConfigError(path, "base", f"file not found: {base}")
        merged = _merge_file(merged, _with_bases(base_path, seen + (path,)))
    return _merge_file(merged, data)


def load_raw(path: Path, scale: str = "paper") -> RawConfig:
    """Read a config file, apply its bases and the overlay for ``scale``."""
    if scale not in SCALES:
        raise ConfigError(path, "scale", f"unknown scale {scale!r} (choose from {', '.join(SCALES)})")
    data = _with_bases(Path(path))
    scales = data.pop("scales", None) or {}
    if not isinstance(scales, dict):
        raise ConfigError(path, "scales", "must be a mapping of scale name to overrides")
    for name in scales:
        if name not in SCALES:
            raise ConfigError(path, f"scales.{name}", f"unknown scale (choose from {', '.join(SCALES)})")
    if scale != "paper" and scales.get(scale):
        data = _merge_file(data, scales[scale])
    sweep = data.pop("sweep", None) or {}
    groups = sweep if isinstance(sweep, list) else [sweep]
    if not all(isinstance(group, dict) for group in groups) or not groups:
        raise ConfigError(path, "sweep", "must map dotted keys to lists of values (or be a list of such mappings)")
    sweeps = []
    for i, group in enumerate(groups):
        where = f"sweep[{i}]" if isinstance(sweep, list) else "sweep"
        group = {key: values for key, values in group.items() if values is not None}  # `key: null` drops it
        for key, values in group.items():
            if not isinstance(values, list) or not values:
                raise ConfigError(path, f"{where}.{key}", "must be a non-empty list")
            width = len(key.split(","))
            if width > 1 and not all(isinstance(v, list) and len(v) == width for v in values):
                raise ConfigError(path, f"{where}.{key}", f"a joint sweep of {width} keys takes a list of {width}-value lists")
        sweeps.append(group)
    return RawConfig(path=Path(path).resolve(), data=data, sweeps=sweeps)


def set_dotted(data: dict, dotted: str, value: Any, *, file: Path | str) -> None:
    """Set ``a.b.c`` in a nested dict, creating intermediate mappings."""
    parts = dotted.split(".")
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(file, f"sweep.{dotted}", f"{part!r} is not a mapping")
    node[parts[-1]] = value


# ----------------------------------------------------------------------------- typing

def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if tp is Ref:
        return "path to a config file"
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (list, tuple):
        return f"list of {_type_name(typing.get_args(tp)[0])}"
    if origin is dict:
        value_tp = typing.get_args(tp)[1]
        return "mapping" if value_tp is Any else f"mapping of names to {_type_name(value_tp)}"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    return getattr(tp, "__name__", str(tp))


def _coerce(tp: Any, value: Any, *, file: Path, key: str) -> Any:
    hook = getattr(tp, "__coerce__", None)  # a type that builds itself (e.g. an evaluation chosen from a registry)
    if hook is not None:
        return hook(value, file=file, key=key)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        others = [a for a in args if a is not type(None)]
        if len(others) == 1:  # Optional[X]: X's own message names the key that is wrong
            return _coerce(others[0], value, file=file, key=key)
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, file=file, key=key)
            except ConfigError as err:
                errors.append(err)
        raise ConfigError(file, key, f"expected {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise ConfigError(file, key, f"must be one of {_type_name(tp)}, got {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise ConfigError(file, key, f"expected a list, got {value!r}")
        (item_tp, *_) = typing.get_args(tp)
        items = [_coerce(item_tp, v, file=file, key=f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(file, key, f"expected a {_type_name(tp)}, got {value!r}")
        _, val_tp = typing.get_args(tp)
        return {str(k): _coerce(val_tp, v, file=file, key=f"{key}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(file, key, f"expected a mapping, got {value!r}")
        return build(tp, value, file=file, prefix=key + ".")
    if tp is Ref:
        if not isinstance(value, str):
            raise ConfigError(file, key, f"expected a path to a config file, got {value!r}")
        name, bracket, rest = value.partition("[")
        target = (Path(file).parent / name).resolve()
        if not locate(target).is_file():
            raise ConfigError(file, key, f"upstream config not found: {name}")
        if bracket:
            try:
                parse_selector(rest)
            except ValueError as err:
                raise ConfigError(file, key, str(err)) from None
            return Ref(f"{target}[{rest}")
        return Ref(str(target))
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(file, key, f"expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(file, key, f"expected an integer, got {value!r}")
        return value
    if tp is float:
        # YAML reads 4e-4 (no dot) as a string; accept numeric strings so configs can copy the paper's notation.
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise ConfigError(file, key, f"expected a number, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(file, key, f"expected a number, got {value!r}")
        try:
            value = float(value)
        except OverflowError:  # an integer beyond any float
            value = math.inf
        if not math.isfinite(value):
            raise ConfigError(file, key, f"must be a finite number, got {value}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(file, key, f"expected a string, got {value!r}")
        return value
    if tp is Any:
        return value
    raise TypeError(f"unsupported config type {tp!r} at {key}")


def _is_seed(name: str) -> bool:
    return name == "seed" or name.endswith("_seed")


def _is_step_count(name: str) -> bool:
    return name in ("steps", "epochs") or name.endswith("_steps")


def _check_bounds(field: dataclasses.Field, value: Any, *, file: Path, key: str) -> None:
    """The field's own bounds, then those every config obeys by the field's name (``SEED_RANGE``, ``MAX_STEPS``)."""
    meta = field.metadata
    if value is None:
        return
    values = value if isinstance(value, tuple) else (value,)
    for v in values:
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            continue
        if _is_seed(field.name) and isinstance(v, int) and not SEED_RANGE[0] <= v <= SEED_RANGE[1]:
            raise ConfigError(file, key, f"a seed is between {SEED_RANGE[0]} and 2**32 - 1 = {SEED_RANGE[1]}, got {v}")
        if _is_step_count(field.name) and v > MAX_STEPS:
            raise ConfigError(file, key, f"must be <= {MAX_STEPS:.0e} (a run that could finish), got {v}")
        if isinstance(v, int) and not -_INT64 <= v <= _INT64:
            raise ConfigError(file, key, f"{v} does not fit in 64 bits")
        if meta.get("gt") is not None and not v > meta["gt"]:
            raise ConfigError(file, key, f"must be > {meta['gt']}, got {v}")
        if meta.get("ge") is not None and not v >= meta["ge"]:
            raise ConfigError(file, key, f"must be >= {meta['ge']}, got {v}")
        if meta.get("lt") is not None and not v < meta["lt"]:
            raise ConfigError(file, key, f"must be < {meta['lt']}, got {v}")
        if meta.get("le") is not None and not v <= meta["le"]:
            raise ConfigError(file, key, f"must be <= {meta['le']}, got {v}")


def build(cls: type, data: dict, *, file: Path | str, prefix: str = ""):
    """Build dataclass ``cls`` from a mapping, refusing unknown keys, wrong types and out-of-range values."""
    file = Path(file)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            close = [name for name in fields if name.startswith(str(key)[:3])]
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(file, prefix + str(key), f"unknown key{hint}")
    kwargs = {}
    for name, field in fields.items():
        key = prefix + name
        if name in data and field.metadata.get("derived"):
            raise ConfigError(file, key, f"not a setting: {field.metadata['derived']}; remove it")
        if name in data:
            value = _coerce(hints[name], data[name], file=file, key=key)
            _check_bounds(field, value, file=file, key=key)
            kwargs[name] = value
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ConfigError(file, key, "required key is missing")
    obj = cls(**kwargs)
    derive = getattr(obj, "derive", None)
    if derive is not None:  # fill ``derived`` options from the rest of the config
        try:
            obj = derive()
        except (KeyError, ValueError) as err:
            raise ConfigError(file, prefix.rstrip("."), str(err).strip("'\"")) from None
    check = getattr(obj, "validate", None)
    if check is not None:
        try:
            check()
        except ValueError as err:
            msg = str(err)
            sub, _, text = msg.partition(": ")
            raise ConfigError(file, prefix + sub if text else prefix.rstrip("."), text or msg) from None
    return obj


def to_plain(obj: Any) -> Any:
    """A dataclass config as plain JSON/YAML-ready data (tuples become lists)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, Ref):
        return str(obj)
    return obj


def key_view(obj: Any, refs: dict[str, str]) -> Any:
    """The part of a config that determines its results: ``in_key=False`` fields dropped, upstream
    paths replaced by the upstream artifacts' keys (``refs`` maps a path string to its key)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: key_view(getattr(obj, f.name), refs) for f in dataclasses.fields(obj)
                if f.metadata.get("in_key", True) and f.name != "name" and not _unset(obj, f)}
    if isinstance(obj, Ref):
        return {"upstream": refs[str(obj)]}
    if isinstance(obj, (list, tuple)):
        return [key_view(v, refs) for v in obj]
    if isinstance(obj, dict):
        return {k: key_view(v, refs) for k, v in obj.items()}
    if isinstance(obj, float):
        return float(f"{obj:.10g}")
    return obj


def _unset(obj: Any, f: dataclasses.Field) -> bool:
    """A ``key_if_set`` option still at its default (left out of the key)."""
    if not f.metadata.get("key_if_set"):
        return False
    if f.default is not dataclasses.MISSING:
        default = f.default
    elif f.default_factory is not dataclasses.MISSING:
        default = f.default_factory()
    else:
        return False
    return getattr(obj, f.name) == default


def refs_of(obj: Any) -> list[tuple[str, Ref]]:
    """All upstream references in a config, as (dotted field path, Ref), in field order."""
    out: list[tuple[str, Ref]] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, Ref):
            out.append((path, node))
        elif dataclasses.is_dataclass(node):
            for f in dataclasses.fields(node):
                walk(getattr(node, f.name), f"{path}.{f.name}" if path else f.name)
        elif isinstance(node, (list, tuple)):
            for i, v in enumerate(node):
                walk(v, f"{path}[{i}]")
        elif isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{path}.{k}")

    walk(obj, "")
    return out
