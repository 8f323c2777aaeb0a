"""Saving and loading models: one `.npz` file, read back without executing anything.

    model.save("model.npz")            # or fastprop.io.save(model, "model.npz")
    model = fastprop.load("model.npz")

The file is a NumPy `.npz` archive (a zip of `.npy` arrays) holding::

    meta              0-d unicode array: JSON with the format name and version, the
                      architecture, dtype, seed, the optimizer's class and settings and
                      the shuffling generator's state (see `to_arrays`)
    params            (P,) the flat parameter vector, in the model's dtype
    optimizer_state   (STATE_ROWS, P) the optimizer's moment buffers   } when saved with
    optimizer_step    (1,) int64 the number of updates done             } the optimizer
    dropout_rng       (2,) uint64 the dropout stream (key, batch counter)
    extra.NAME        any arrays the caller attached (the CLI keeps its input scaling here)

so that a loaded model continues training exactly as the saved one would have: the same
parameters, moments, step count, shuffling order and dropout masks, bit for bit.

Loading never unpickles: nothing in the file can run code. A file that is missing,
truncated, damaged, foreign, or written by a newer format version raises an error
naming the path and the problem. A hostile file cannot make `load` hang or exhaust
memory: the path must be a regular file (opened without blocking), the archive's
entries must be exactly those its metadata declares (no other is decompressed), the
metadata is bounded (MAX_META_BYTES) and every core array's .npy header must match the
declared architecture before the model is allocated; parameters must be finite. Saving writes a temporary
file in the same folder and renames it over the target, so an interrupted save leaves
the old file as it was.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import re
import secrets
import stat
import zipfile

from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike

from .codes import STATE_ROWS
from .kernels.check import MAX_WIDTH
from .layout import count_params
from .model import Model
from .validation import all_finite
from .optimizers import SGD, Adadelta, Adagrad, Adam, AdamW, RMSprop

FORMAT = "fastprop.model"
VERSION = 1                      # bump when a file written now could be misread
EXTRA_PREFIX = "extra."
OPTIMIZER_CLASSES = {cls.__name__: cls for cls in (SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta)}
CORE_ARRAYS = ("meta", "params", "optimizer_state", "optimizer_step", "dropout_rng")
ZIP_MAGIC = b"PK\x03\x04"
EXTRA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
MAX_META_BYTES = 1 << 20     # a model's metadata takes a few KB
MAX_HEADER_BYTES = 10000     # numpy's own default limit for an .npy header
DEFLATE_RATIO = 1032         # the most DEFLATE can inflate (zlib's technical notes)


# ---------------------------------------------------------------- model <-> arrays
def to_arrays(model: Model, include_optimizer: bool = True,
              extra: Mapping[str, ArrayLike] | None = None) -> dict[str, np.ndarray]:
    """The model's complete state as a dict of plain (never object) arrays.

    What `save` writes, and what the scikit-learn estimators pickle; `from_arrays`
    rebuilds the model. Waits for a fit running in another thread to end, so the
    arrays are one consistent state.

    Parameters
    ----------
    model : Model
        The model to store.
    include_optimizer : bool, default True
        Also store the optimizer (class, settings, moment buffers, step count).
    extra : mapping of str to array_like, optional
        Arrays of numbers or strings to store beside the model, each under a name
        of ASCII letters, digits and underscores (not starting with a digit).

    Returns
    -------
    dict of str to numpy.ndarray
        The entries described in this module's docstring.

    Raises
    ------
    TypeError
        If `model` is not a fastprop Model.
    ValueError
        If an `extra` name or array cannot be stored.

    Examples
    --------
    >>> import fastprop as fp
    >>> from fastprop.io import from_arrays, to_arrays
    >>> arrays = to_arrays(fp.Model([2, 3, 1], seed=0))
    >>> arrays["params"].shape
    (13,)
    >>> model, extra = from_arrays(arrays)
    >>> model.sizes, extra
    ((2, 3, 1), {})
    """
    if not isinstance(model, Model):
        raise TypeError(f"expected a fastprop Model, got {type(model).__name__}")
    with model._lock:     # one consistent state, not one torn by a fit in another thread
        return _model_arrays(model, include_optimizer, extra)


def _model_arrays(model, include_optimizer, extra):
    net = model.net
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "layer_sizes": list(model.sizes),
        "activations": list(model.activations[:-1]),
        "output_activation": model.activations[-1],
        "loss": model.loss_name,
        "dtype": model.dtype.name,
        "seed": model.seed,
        "init": model.init,
        "dropout": model.dropout,
        "l2": model.l2,
        "optimizer": None,
        "shuffle_rng": model._shuffle_rng.bit_generator.state,
        "extra": [],
    }
    arrays = {"params": model.params.copy(), "dropout_rng": net.rng.copy()}
    if include_optimizer and model.optimizer is not None:
        opt = model.optimizer
        if type(opt).__name__ not in OPTIMIZER_CLASSES or \
                OPTIMIZER_CLASSES[type(opt).__name__] is not type(opt):
            raise ValueError(f"cannot save the optimizer {type(opt).__name__}: only "
                             f"fastprop's own ({', '.join(OPTIMIZER_CLASSES)}) are known to "
                             f"the file format; pass include_optimizer=False")
        meta["optimizer"] = {"class": type(opt).__name__, "settings": dict(vars(opt))}
        arrays["optimizer_state"] = net.opt_state.copy()
        arrays["optimizer_step"] = net.opt_step.copy()
    for name, value in (extra or {}).items():
        if not isinstance(name, str) or not EXTRA_NAME.match(name):
            raise ValueError(f"extra array names must be identifiers (letters, digits, _); "
                             f"got {name!r}")
        value = np.asarray(value)
        if value.dtype.hasobject or value.dtype.kind not in "biufcUSM":
            raise ValueError(f"extra[{name!r}] has dtype {value.dtype}, which cannot be "
                             f"stored without pickle; use numbers or strings")
        arrays[EXTRA_PREFIX + name] = value
        meta["extra"].append(name)
    arrays["meta"] = np.array(json.dumps(meta))
    return arrays


def from_arrays(arrays: Mapping[str, np.ndarray],
                source: str = "the arrays") -> tuple[Model, dict[str, np.ndarray]]:
    """Rebuild a model from what `to_arrays` made.

    Everything is checked before the model is allocated.

    Parameters
    ----------
    arrays : mapping of str to numpy.ndarray
        The entries `to_arrays` returned.
    source : str, default "the arrays"
        Names the origin in error messages.

    Returns
    -------
    model : Model
        The model, with its optimizer and moments where they were stored.
    extra : dict of str to numpy.ndarray
        The extra arrays stored beside it.

    Raises
    ------
    ValueError
        For anything missing, inconsistent, non-finite or unknown.
    MemoryError
        Naming the source, for a consistent model too large for this machine.

    Examples
    --------
    >>> import fastprop as fp
    >>> from fastprop.io import from_arrays, to_arrays
    >>> model, extra = from_arrays(to_arrays(fp.Model([2, 3, 1], seed=0)))
    >>> model.n_params
    13
    """
    def fail(message):
        raise ValueError(f"cannot load fastprop model from {source}: {message}")

    if "meta" not in arrays:
        names = ", ".join(sorted(arrays)) or "nothing"
        fail(f"not a fastprop model file (no 'meta' entry; it holds {names})")
    meta = _read_meta(arrays["meta"], fail)
    _check_entries(set(arrays), meta, fail)
    for name, (dtype, shape) in core_shapes(meta).items():
        if name in arrays:
            _check_array(name, arrays[name], dtype, shape, fail)

    try:
        model = Model(meta["layer_sizes"], activation=meta["activations"], loss=meta["loss"],
                      output_activation=meta["output_activation"], dtype=meta["dtype"],
                      seed=meta["seed"], init=meta["init"], dropout=meta["dropout"],
                      l2=meta["l2"])
    except (TypeError, ValueError, OverflowError) as err:
        fail(f"invalid architecture: {err}")
    except MemoryError as err:
        raise MemoryError(f"cannot load fastprop model from {source}: {err}") from None

    _copy_into(model.params, arrays["params"], "params", fail)
    if meta["optimizer"] is not None:
        model.set_optimizer(_make_optimizer(meta["optimizer"], fail))
        _copy_into(model.net.opt_state, arrays["optimizer_state"], "optimizer_state", fail)
        _copy_into(model.net.opt_step, arrays["optimizer_step"], "optimizer_step", fail)
        if model.net.opt_step[0] < 0:
            fail(f"optimizer_step is negative ({model.net.opt_step[0]})")
    _copy_into(model.net.rng, arrays["dropout_rng"], "dropout_rng", fail)
    bitgen = model._shuffle_rng.bit_generator
    state = meta["shuffle_rng"]
    if state.get("bit_generator") != type(bitgen).__name__:
        fail(f"shuffle_rng must be a {type(bitgen).__name__} state")
    try:
        bitgen.state = state
    except (TypeError, ValueError, KeyError, OverflowError) as err:
        fail(f"invalid shuffle_rng state ({type(err).__name__}: {err})")
    extra = {name: arrays[EXTRA_PREFIX + name] for name in meta["extra"]}
    return model, extra


def core_shapes(meta):
    """{entry: (dtype, shape)} of the arrays the checked metadata `meta` declares,
    computed in Python integers (no overflow) before anything is allocated."""
    sizes = meta["layer_sizes"]
    n_params = count_params(sizes)
    dtype = np.dtype(meta["dtype"])
    shapes = {"params": (dtype, (n_params,)), "dropout_rng": (np.dtype(np.uint64), (2,))}
    if meta["optimizer"] is not None:
        shapes["optimizer_state"] = (dtype, (STATE_ROWS, n_params))
        shapes["optimizer_step"] = (np.dtype(np.int64), (1,))
    return shapes


def _check_entries(names, meta, fail):
    """The archive's entry names are exactly those the metadata declares."""
    expected = {"meta", "params", "dropout_rng"} | {EXTRA_PREFIX + n for n in meta["extra"]}
    if meta["optimizer"] is not None:
        expected |= {"optimizer_state", "optimizer_step"}
    missing = expected - names
    unexpected = names - expected
    if missing:
        fail(f"entries missing: {', '.join(sorted(missing))}")
    if unexpected:
        fail(f"unexpected entries: {', '.join(sorted(unexpected)[:5])}")


def _check_array(name, value, dtype, shape, fail):
    """The stored array `value` is what the metadata declares, finite where it holds
    floats."""
    if not isinstance(value, np.ndarray):
        fail(f"{name} is not an array ({type(value).__name__})")
    _check_declared(name, value.dtype, value.shape, dtype, shape, fail)
    if dtype.kind == "f" and not all_finite(value):
        fail(f"{name} holds non-finite values (NaN or inf): the file is damaged, or was "
             f"not written by fastprop (a fit never keeps non-finite parameters)")


def _check_declared(name, got_dtype, got_shape, dtype, shape, fail):
    if got_dtype != dtype or tuple(got_shape) != shape:
        fail(f"{name} should be {dtype} {shape} for this architecture; found "
             f"{got_dtype} {tuple(got_shape)}")


def _read_meta(entry, fail):
    """The checked metadata dict of the 0-d unicode `meta` array."""
    if not isinstance(entry, np.ndarray) or entry.ndim != 0 or entry.dtype.kind != "U":
        fail("not a fastprop model file ('meta' is not a JSON string)")
    try:
        meta = json.loads(str(entry))
    except ValueError as err:
        fail(f"damaged metadata (invalid JSON: {err})")
    except RecursionError:
        fail("damaged metadata (JSON nested too deeply)")
    if not isinstance(meta, dict):
        fail("not a fastprop model file (its metadata is not a JSON object)")
    if meta.get("format") != FORMAT:
        fail(f"not a fastprop model file (format {meta.get('format')!r}, expected "
             f"{FORMAT!r})")
    version = meta.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        fail(f"invalid format version {version!r}")
    if version > VERSION:
        fail(f"it was written by a newer fastprop (file format version {version}; this "
             f"fastprop {_fastprop_version()} reads versions up to {VERSION}): upgrade "
             f"fastprop to load it")
    fields = {"layer_sizes": list, "activations": list, "output_activation": str,
              "loss": str, "dtype": str, "seed": int, "init": (str, type(None)),
              "dropout": list, "l2": (int, float), "optimizer": (dict, type(None)),
              "shuffle_rng": dict, "extra": list}
    for name, kind in fields.items():
        if name not in meta:
            fail(f"metadata lacks {name!r}")
        if not isinstance(meta[name], kind) or isinstance(meta[name], bool):
            fail(f"metadata field {name!r} has the wrong type "
                 f"({type(meta[name]).__name__})")
    if meta["dtype"] not in ("float32", "float64"):
        fail(f"dtype must be float32 or float64, got {meta['dtype']!r}")
    if not all(isinstance(n, str) and EXTRA_NAME.match(n) for n in meta["extra"]):
        fail("metadata field 'extra' must list identifier names")
    sizes = meta["layer_sizes"]
    if len(sizes) < 2 or not all(isinstance(n, int) and not isinstance(n, bool)
                                 and 1 <= n <= MAX_WIDTH for n in sizes):
        fail(f"layer_sizes must list at least two widths, integers in 1..{MAX_WIDTH}; "
             f"got {str(sizes)[:100]}")
    return meta


def _make_optimizer(spec, fail):
    """An optimizer object from its saved {"class": name, "settings": {...}}."""
    name, settings = spec.get("class"), spec.get("settings")
    if not isinstance(name, str) or name not in OPTIMIZER_CLASSES \
            or not isinstance(settings, dict):
        fail(f"unknown optimizer {name!r} (known: {', '.join(OPTIMIZER_CLASSES)})")
    settings = dict(settings)
    if "beta1" in settings or "beta2" in settings:     # Adam keeps betas as two fields
        settings["betas"] = (settings.pop("beta1", None), settings.pop("beta2", None))
    try:
        return OPTIMIZER_CLASSES[name](**settings)
    except (TypeError, ValueError, OverflowError) as err:
        fail(f"invalid {name} settings: {err}")


def _copy_into(target, value, name, fail):
    """Copy the stored array `value` into `target` after checking shape and dtype."""
    if not isinstance(value, np.ndarray) or value.shape != target.shape \
            or value.dtype != target.dtype:
        got = (f"{value.dtype} {value.shape}" if isinstance(value, np.ndarray)
               else type(value).__name__)
        fail(f"{name} should be {target.dtype} {target.shape} for this architecture; "
             f"found {got}")
    target[...] = value


def _fastprop_version():
    from . import __version__
    return __version__


# ---------------------------------------------------------------- files
def save(model: Model, path: str | os.PathLike[str], include_optimizer: bool = True,
         extra: Mapping[str, ArrayLike] | None = None) -> None:
    """Write `model` to the ``.npz`` file `path`.

    The file is written under a temporary name in the same folder and then renamed
    over `path`: a crash or error while saving leaves any old file intact.

    Parameters
    ----------
    model : Model
        The model to save.
    path : str or os.PathLike
        The file to write, exactly that name (no suffix is added).
    include_optimizer : bool, default True
        Also store the optimizer (class, settings, moment buffers, step count), so
        that `load` + `fit` continues training exactly.
    extra : mapping of str to array_like, optional
        {name: array} of numbers or strings to store beside the model;
        ``load(path, return_extra=True)`` gives them back.

    Raises
    ------
    TypeError
        If `model` is not a fastprop Model.
    ValueError
        If an `extra` name or array cannot be stored.
    OSError
        If the file cannot be written.

    See Also
    --------
    load : Read the file back.

    Examples
    --------
    >>> import numpy as np
    >>> import fastprop as fp
    >>> from fastprop.io import save
    >>> model = fp.Model([2, 3, 1], seed=0)
    >>> save(model, "model.npz", extra={"mean": np.zeros(2)})  # doctest: +SKIP
    >>> model, extra = fp.load("model.npz", return_extra=True)  # doctest: +SKIP
    """
    arrays = to_arrays(model, include_optimizer, extra)
    _write_atomic(os.fspath(path), arrays)


def load(path: str | os.PathLike[str],
         return_extra: bool = False) -> Model | tuple[Model, dict[str, np.ndarray]]:
    """Read a model written by `save` (or `Model.save`), or an ensemble's folder
    written by `Ensemble.save`.

    Never unpickles anything: nothing in the file can run code.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.npz`` file, or the folder of an Ensemble (which is then returned).
    return_extra : bool, default False
        Also return the dict of extra arrays saved beside the model.

    Returns
    -------
    Model or Ensemble or tuple of (Model, dict)
        The model, with its optimizer, moments, shuffling and dropout state where
        they were saved; with return_extra=True, (model, extra); for a folder, the
        Ensemble.

    Raises
    ------
    FileNotFoundError
        If the file is missing.
    ValueError
        Naming the file and the problem, for one that is damaged, truncated, not a
        fastprop model, or written by a newer format version.
    MemoryError
        If the model it holds is too large for this machine.

    See Also
    --------
    save : Write a model.

    Examples
    --------
    >>> import fastprop as fp
    >>> model = fp.load("model.npz")  # doctest: +SKIP
    >>> model, extra = fp.load("model.npz", return_extra=True)  # doctest: +SKIP
    """
    path = os.fspath(path)
    if os.path.isdir(path):         # an Ensemble's folder (Ensemble.save)
        if return_extra:
            raise ValueError(f"{path!r} holds an ensemble, which stores no extra arrays")
        from .io_ensemble import load_ensemble
        return load_ensemble(path)
    arrays = _read_npz(path)
    model, extra = from_arrays(arrays, source=repr(path))
    return (model, extra) if return_extra else model


def _read_npz(path):
    """{name: array} of the archive `path`, read only after its layout has passed: the
    path is a regular file (opened without blocking, so a FIFO is refused, not waited
    on), the entry names are exactly those its metadata declares (no other entry is
    ever decompressed), and every core entry's .npy header and sizes agree with the
    architecture, so nothing is allocated or inflated beyond what the model needs."""
    def fail(message):
        raise _Refused(f"cannot load fastprop model from {path!r}: {message}")

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
                     | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise FileNotFoundError(f"no such file: {path!r}") from None
    except OSError as err:
        fail(f"cannot open it ({err.strerror or err})")
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        fail("it is a folder, not a file" if stat.S_ISDIR(mode)
             else "not a regular file (a pipe, device or socket)")
    with os.fdopen(fd, "rb") as f:
        head = f.read(len(ZIP_MAGIC))
        if not head:
            fail("the file is empty")
        if head != ZIP_MAGIC:
            fail("not a fastprop model file (not an .npz archive)")
        f.seek(0)
        try:
            with zipfile.ZipFile(f) as archive:
                return _read_members(archive, fail)
        except _Refused:
            raise
        except Exception as err:    # zipfile.BadZipFile, zlib.error, EOFError, OSError...
            fail(f"the file is damaged or truncated ({type(err).__name__}: {err})")


class _Refused(ValueError):
    """A file refused by a check (as opposed to an error of the zip or .npy reader)."""


def _read_members(archive, fail):
    infos = {}
    for info in archive.infolist():
        if not info.filename.endswith(".npy") or info.filename in infos:
            fail(f"not a fastprop model file (entry {info.filename[:80]!r})")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            fail(f"entry {info.filename[:80]!r} uses an unknown compression")
        # DEFLATE inflates at most ~1032-fold: a larger claim is a lie (or a bomb)
        if info.file_size > DEFLATE_RATIO * info.compress_size + 1024:
            fail(f"entry {info.filename[:80]!r} claims more data than it can hold")
        infos[info.filename[:-4]] = info
    if "meta" not in infos:
        fail(f"not a fastprop model file (no 'meta' entry; it holds "
             f"{', '.join(sorted(infos)[:5]) or 'nothing'})")
    if infos["meta"].file_size > MAX_META_BYTES:
        fail(f"its metadata is {infos['meta'].file_size} bytes, more than any model needs")
    meta = _read_meta(_read_entry(archive, infos["meta"]), fail)
    _check_entries(set(infos), meta, fail)
    for name, (dtype, shape) in core_shapes(meta).items():
        with archive.open(infos[name]) as member:
            header = _npy_header(member)
        if header is None:
            fail(f"{name} is not an .npy array")
        got_shape, fortran, got_dtype = header
        _check_declared(name, got_dtype, got_shape, dtype, shape, fail)
        if infos[name].file_size > 2 * MAX_HEADER_BYTES + dtype.itemsize * math.prod(shape):
            fail(f"{name} holds more data than its shape {shape} needs")
    return {name: _read_entry(archive, info) for name, info in infos.items()}


def _npy_header(member):
    """(shape, fortran_order, dtype) of an .npy stream, or None if it is not one."""
    try:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(member, max_header_size=MAX_HEADER_BYTES)
        if version == (2, 0):
            return np.lib.format.read_array_header_2_0(member, max_header_size=MAX_HEADER_BYTES)
    except ValueError:
        pass
    return None


def _read_entry(archive, info):
    with archive.open(info) as member:
        return np.lib.format.read_array(member, allow_pickle=False,
                                        max_header_size=MAX_HEADER_BYTES)


def _write_atomic(path, arrays):
    """np.savez `arrays` to a fresh temporary file beside `path`, fsync it, then rename
    it over `path` (atomic on POSIX and Windows)."""
    folder = os.path.dirname(os.path.abspath(path))
    # a short name of its own: the target's name may already be as long as allowed
    tmp = os.path.join(folder, f".fastprop-{secrets.token_hex(6)}.tmp")
    # O_EXCL: never reuse an existing name; mode 0o666 less the umask, like open()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)     # to_arrays holds no object arrays: no pickle
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def _fsync_folder(folder):
    """Make the rename durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


__all__ = ["save", "load", "to_arrays", "from_arrays", "FORMAT", "VERSION"]
