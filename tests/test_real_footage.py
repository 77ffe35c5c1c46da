"""Splitting real recordings: leave-one-group-out folds for the across-recordings set."""

from pathlib import Path

from fiftyone_videorec.data.real_footage import Recording, across_folds, split_groups


def _recordings(groups_per_action: dict[str, int]) -> list[Recording]:
    return [Recording(Path(f"{action}{g}.mp4"), action, f"{action}{g}", f"{action}/g{g}", "")
            for action, count in groups_per_action.items() for g in range(count)]


def test_each_fold_tests_on_another_group_of_every_action():
    recordings = _recordings({"Wave": 3, "Juggle": 2, "Alone": 1})
    assert across_folds(recordings) == 2  # the fewest groups of an action that has two or more
    folds = [split_groups(recordings, fold) for fold in range(across_folds(recordings))]
    for split_of in folds:
        assert "Alone/g0" not in split_of  # an action seen in one group only cannot be tested across groups
        for action in ("Wave", "Juggle"):
            splits = [split for group, split in split_of.items() if group.startswith(action)]
            assert splits.count("test") == 1 and "train" in splits
    tested = [{g for g, split in split_of.items() if split == "test"} for split_of in folds]
    assert tested[0].isdisjoint(tested[1])
    assert across_folds(_recordings({"Alone": 1})) == 0
