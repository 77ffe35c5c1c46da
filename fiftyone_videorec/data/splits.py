"""Seeded train/val/test splits with exact counts, by item or keeping each group in one split.

UCF101 clips of one group (``gXX``: same actors, same scene) are near-duplicates; a group split
keeps each group inside one split so that validation and test measure generalisation.
"""

from __future__ import annotations

import numbers
import random
from typing import Hashable, Mapping, Sequence, TypeVar

from ..errors import VideorecError

Item = TypeVar("Item")


def parse_split(split: str | Sequence[int], name: str = "split") -> tuple[int, int, int]:
    """Return ``(train, val, test)`` counts from ``"30,10,10"`` or a sequence; one-line errors.

    ``name`` is how the error messages call the option.
    """
    parts = [part.strip() for part in split.split(",")] if isinstance(split, str) else split
    try:
        counts = tuple(_whole_number(part) for part in parts)
    except (TypeError, ValueError):
        raise VideorecError(f"{name} {split!r}: expected three whole numbers train,val,test such as 30,10,10") from None
    if len(counts) != 3 or min(counts) < 0 or counts[0] == 0:
        raise VideorecError(f"{name} {split!r}: expected three counts train,val,test (train > 0, none "
                            "negative) such as 30,10,10")
    return counts  # type: ignore[return-value]


def _whole_number(value) -> int:
    """``value`` as an int: an integer, or a string of one; anything else (floats, bools) is a ValueError."""
    if isinstance(value, str):
        return int(value)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    raise ValueError(value)


def resolve_counts(per_class: int | None, split: str | Sequence[int] | None,
                   default_per_class: int, default_split: Sequence[int]) -> tuple[int, tuple[int, int, int]]:
    """Return ``(per_class, split)`` from either, both or neither; both must add up.

    Only ``per_class`` given: the default split's proportions, scaled (50 -> 30/10/10, 5 -> 3/1/1).
    Only ``split`` given: ``per_class`` is its sum.
    """
    if split is not None:
        counts = parse_split(split)
        if per_class is not None and sum(counts) != per_class:
            raise VideorecError(f"split {'/'.join(map(str, counts))} adds up to {sum(counts)}, not to the "
                                f"{per_class} clips per class asked for")
        return sum(counts), counts
    per_class = default_per_class if per_class is None else per_class
    if per_class < 3:
        raise VideorecError(f"{per_class} clips per class cannot make train, val and test; ask for at least 3")
    scale = per_class / sum(default_split)
    val, test = (max(1, round(n * scale)) for n in default_split[1:])
    return per_class, (per_class - val - test, val, test)


def split_items(items: Sequence[Item], counts: Sequence[int], rng: random.Random) -> list[list[Item]]:
    """Return ``len(counts)`` disjoint random lists of exactly ``counts`` items (plain random split)."""
    if sum(counts) > len(items):
        raise ValueError(f"{sum(counts)} items asked for, {len(items)} available")
    pool = list(items)
    rng.shuffle(pool)
    starts = [sum(counts[:i]) for i in range(len(counts) + 1)]
    return [pool[starts[i]:starts[i + 1]] for i in range(len(counts))]


def _assign_groups(sizes: Sequence[int], needs: tuple[int, ...]) -> list[int] | None:
    """Give each group a split index (or -1) so every split's groups hold at least its need.

    Depth-first, neediest split first, with the dead ends remembered; None when impossible.
    """
    capacity_after = [sum(sizes[i:]) for i in range(len(sizes) + 1)]
    dead_ends: set[tuple[int, tuple[int, ...]]] = set()
    choice = [-1] * len(sizes)

    def search(index: int, left: tuple[int, ...]) -> bool:
        if not any(left):
            return True
        if capacity_after[index] < sum(left) or (index, left) in dead_ends:
            return False
        for split in sorted((s for s in range(len(left)) if left[s]), key=lambda s: -left[s]):
            choice[index] = split
            after = tuple(max(0, n - sizes[index]) if s == split else n for s, n in enumerate(left))
            if search(index + 1, after):
                return True
        choice[index] = -1
        if search(index + 1, left):
            return True
        dead_ends.add((index, left))
        return False

    return choice if search(0, tuple(needs)) else None


def split_by_group(groups: Mapping[Hashable, Sequence[Item]], counts: Sequence[int],
                   rng: random.Random) -> list[list[Item]] | None:
    """Return exact-count splits in which no group gives items to two splits; None if impossible.

    Groups are shuffled, assigned to splits by a search that reaches the exact counts, and each
    split then draws its count at random from the items of its groups.
    """
    order = sorted(groups)
    rng.shuffle(order)
    choice = _assign_groups([len(groups[g]) for g in order], tuple(counts))
    if choice is None:
        return None
    splits: list[list[Item]] = []
    for split, need in enumerate(counts):
        pool = [item for group, chosen in zip(order, choice) if chosen == split for item in groups[group]]
        splits.append(rng.sample(pool, need))
    return splits
