"""Example ids: one normal form and one index, shared by the Tracker and the DataMap.

Ids are untrusted user data, so they keep exactly what the user gave:

- str ids live in an object array of Python str, so memory follows their total size (a
  fixed-width numpy ``U`` array would give every id the longest one's width) and a trailing
  NUL stays part of the id (``'a'`` and ``'a\\x00'`` are two ids);
- int ids are int64, or uint64 when some id is at least 2**63 (never wrapped to negative);
- bools, floats, None and mixtures are refused with a TypeError: ``True`` silently becoming
  ``1`` would merge two different examples.

:class:`IdIndex` maps ids to row positions, vectorized: int ids by a sorted copy and
``searchsorted`` (nothing at all for ids ``0..N-1``), str ids by their Python hashes, sorted,
with every hit confirmed by comparing the id itself. Pure numpy, no pandas.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

__all__ = ["IdIndex", "as_ids", "describe_ids", "is_torch_tensor", "unknown_ids_error"]

_INT64_MAX = np.iinfo(np.int64).max


def describe_ids(ids: Sequence[Any], limit: int = 5) -> str:
    """``['a', 'b' and 3 more]``: the first ``limit`` ids (or any values) as reprs, for error messages.

    The one way a message shows some of many values and says how many more there are."""
    head = list(ids[:limit]) if hasattr(ids, "__getitem__") else list(ids)[:limit]
    shown = ", ".join(repr(i.item() if isinstance(i, np.generic) else i) for i in head)
    more = f" and {len(ids) - limit} more" if len(ids) > limit else ""
    return f"[{shown}{more}]"


def unknown_ids_error(argument: str, unknown: Sequence[Any], missing: str = "not in this data map", hint: str = "") -> ValueError:
    """The one "unknown ids" message: ``ids has 2 id(s) not in this data map: ['x', 'y']``.

    ``missing`` says where they are missing (``"the tracker does not know"``); ``hint``, if
    given, follows after a semicolon and says what ids are expected.
    """
    return ValueError(f"{argument} has {len(unknown)} id(s) {missing}: {describe_ids(unknown)}{'; ' + hint if hint else ''}")


def is_torch_tensor(value: Any) -> bool:
    """Whether ``value`` is a torch tensor, found without importing torch."""
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def as_ids(values: Any, argument: str = "ids") -> np.ndarray:
    """``values`` as a 1-D id array: int64 / uint64, or object holding Python str.

    Accepts lists, tuples, numpy arrays, pandas Series / Index (Arrow strings included) and
    torch tensors. Raises TypeError for bools, floats, bytes, None or a mix of str and int,
    ValueError for a shape other than 1-D or ints that fit neither int64 nor uint64.
    """
    if is_torch_tensor(values):
        if values.device.type == "meta":
            raise TypeError(f"{argument} are on the 'meta' device, which holds shapes but no values; pass the real ids")
        values = values.detach().cpu().numpy()
    if isinstance(values, (str, bytes)) or np.isscalar(values):
        values = [values]
    if isinstance(values, (list, tuple)):
        array = np.empty(len(values), dtype=object)
        array[:] = values  # np.asarray would turn ["a", 1] into ["a", "1"] and [2**63] into float
    else:
        array = np.asarray(values)
        if array.dtype.kind == "O" and array.ndim == 1:
            pass
        elif array.dtype.kind == "U":
            array = array.astype(object)
    if array.ndim != 1:
        raise ValueError(f"{argument} must be one-dimensional, got shape {array.shape}")
    kind = array.dtype.kind
    if kind == "O":
        return _narrow_objects(array, argument)
    if kind == "i":
        return array.astype(np.int64, copy=False)
    if kind == "u":
        if len(array) and array.max() > _INT64_MAX:
            return array.astype(np.uint64, copy=False)
        return array.astype(np.int64)
    what = {"b": "bool", "f": "float", "c": "complex", "S": "bytes"}.get(kind, str(array.dtype))
    raise TypeError(f"{argument} must be str or int ids, got {what} values (dtype {array.dtype})")


def _narrow_objects(array: np.ndarray, argument: str) -> np.ndarray:
    if not len(array):
        return np.empty(0, dtype=object)
    kinds = set(map(type, array))  # C-level iteration; one type for real data
    if all(issubclass(k, str) for k in kinds):
        _check_encodable(array, argument)
        return array
    is_int = all(issubclass(k, (int, np.integer)) and not issubclass(k, (bool, np.bool_)) for k in kinds)
    if not is_int:
        names = sorted(k.__name__ for k in kinds)
        if any(issubclass(k, (bool, np.bool_)) for k in kinds):
            raise TypeError(
                f"{argument} must be str or int ids, got bool values ({names}): True and False would "
                "silently become the ids 1 and 0; use str or int ids"
            )
        raise TypeError(f"{argument} must be all str or all int, got {names}")
    try:
        return np.array(array.tolist(), dtype=np.int64)
    except OverflowError:
        pass
    try:
        return np.array(array.tolist(), dtype=np.uint64)
    except OverflowError:
        raise ValueError(
            f"{argument} has int ids that fit neither int64 nor uint64 (e.g. negative ids beside ids of "
            "2**63 or more); use str ids"
        ) from None


def _check_encodable(ids: np.ndarray, argument: str) -> None:
    """Refuse str ids that are not valid Unicode (a lone surrogate such as ``'\\ud800'``, from
    a bad decode): no file, database or browser can hold them, so they would fail only later, in
    ``to_parquet`` or the store. One C-level encode of all ids; the culprit is sought on failure only."""
    try:
        "".join(ids.tolist()).encode("utf-8")
    except UnicodeEncodeError:
        for value in ids.tolist():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError(
                    f"{argument} has an id that is not valid Unicode text: {value!r} (a lone surrogate, "
                    "usually from decoding bytes with errors='surrogateescape'); it could not be saved. "
                    "Decode the ids as UTF-8, or use int ids"
                ) from None


def _str_hashes(ids: np.ndarray) -> np.ndarray:
    return np.fromiter(map(hash, ids), dtype=np.int64, count=len(ids))


class IdIndex:
    """Row positions of ids, checked unique once and looked up vectorized.

    Parameters
    ----------
    ids : an array from :func:`as_ids`.
    argument : the name used in the duplicate-id error.
    """

    def __init__(self, ids: np.ndarray, argument: str = "ids"):
        self.ids = ids
        self.n = len(ids)
        self.is_str = ids.dtype.kind == "O"
        self.is_range = (not self.is_str) and self.n > 0 and ids[0] == 0 and ids[-1] == self.n - 1 and bool(
            (np.diff(ids) == 1).all()
        )
        self._fallback: dict[Any, int] | None = None
        self._device_copies: dict[Any, Any] = {}
        if self.is_range:
            return
        keys = _str_hashes(ids) if self.is_str else ids
        self.order = np.argsort(keys, kind="stable")
        self.sorted = keys[self.order]
        same = np.flatnonzero(self.sorted[1:] == self.sorted[:-1])
        if same.size:
            left, right = ids[self.order[same]], ids[self.order[same + 1]]
            repeated = same[left == right] if self.is_str else same
            if repeated.size:
                dupes = ids[self.order[repeated]]
                unique_dupes = list(dict.fromkeys(dupes.tolist()))
                raise ValueError(
                    f"{argument} must be unique; {len(unique_dupes)} id(s) repeat: {describe_ids(unique_dupes)}"
                )
            # Two different str ids with one 64-bit hash: astronomically rare; a dict is always right.
            self._fallback = {key: pos for pos, key in enumerate(ids.tolist())}

    def __reduce__(self):
        # str hashes are salted per process (PYTHONHASHSEED): rebuild, never ship them.
        return (IdIndex, (self.ids,))

    def on_device(self, device: Any, copy: Any) -> Any:
        """``copy(sorted_keys, order)`` for ``device``, made once per device and kept with the index.

        The tracker's lookup of int ids that already live on an accelerator keeps its device
        copies of :attr:`sorted` and :attr:`order` here (the index is shared by every map of a
        tracker). Not for ids ``0..N-1`` (:attr:`is_range`), which need no lookup table.
        """
        if device not in self._device_copies:
            self._device_copies[device] = copy(self.sorted, self.order)
        return self._device_copies[device]

    def lookup(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions of ``batch`` (an :func:`as_ids` array) and a mask of the known ones."""
        m = len(batch)
        nowhere = np.zeros(m, dtype=np.int64), np.zeros(m, dtype=bool)
        if self.n == 0 or m == 0:
            return nowhere
        if (batch.dtype.kind == "O") != self.is_str:
            return nowhere  # str never matches int
        if self._fallback is not None:
            pos = np.fromiter((self._fallback.get(key, -1) for key in batch.tolist()), dtype=np.int64, count=m)
            return np.maximum(pos, 0), pos >= 0
        valid = None
        if not self.is_str and batch.dtype != self.ids.dtype:
            # int64 against uint64: compare in the index's type, never through float64.
            valid = (batch >= 0) if self.ids.dtype == np.uint64 else (batch <= _INT64_MAX)
            batch = np.where(valid, batch, 0).astype(self.ids.dtype)
        if self.is_range:
            known = (batch >= 0) & (batch < self.n)
            pos = np.where(known, batch, 0).astype(np.int64)
        else:
            keys = _str_hashes(batch) if self.is_str else batch
            found = np.minimum(np.searchsorted(self.sorted, keys), self.n - 1)
            pos = self.order[found].astype(np.int64)
            known = self.sorted[found] == keys
            if self.is_str:
                known &= self.ids[pos] == batch  # a hash hit is confirmed by the id itself
        if valid is not None:
            known &= valid
        return pos, known

    def coerce(self, batch: Any, argument: str = "ids") -> np.ndarray:
        """``batch`` as an array :meth:`lookup` takes. Against str ids no per-id type check is
        needed: anything that is not an equal str (an int, a bool) simply is not found."""
        if self.is_str and not is_torch_tensor(batch) and not isinstance(batch, (str, bytes)) and not np.isscalar(batch):
            if isinstance(batch, (list, tuple)):
                array = np.empty(len(batch), dtype=object)
                array[:] = batch
            else:
                array = np.asarray(batch)
                if array.dtype.kind == "U":
                    array = array.astype(object)
            if array.dtype.kind == "O" and array.ndim == 1:
                return array
        return as_ids(batch, argument)

    def positions(self, batch: Any, argument: str = "ids", where: str = "in this data map") -> np.ndarray:
        """Positions of ``batch``; a ValueError naming the unknown ids (``where`` says where they are missing)."""
        ids = self.coerce(batch, argument)
        pos, known = self.lookup(ids)
        if not known.all():
            raise unknown_ids_error(argument, ids[~known], f"not {where}")
        return pos
