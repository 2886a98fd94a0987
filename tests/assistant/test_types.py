"""The foundation's shared pieces: the one citation-marker syntax every part reads and writes."""

from assistant.types import marker_numbers, strip_markers


def test_markers_single_and_grouped_are_read_in_order():
    assert marker_numbers("Witkoff met Putin [2]. He left [1, 3] and [4 ,5].") == [2, 1, 3, 4, 5]
    assert marker_numbers("No markers, only [brackets] and 1932.") == []


def test_stripping_markers_keeps_the_text_and_its_punctuation():
    assert strip_markers("Witkoff met Putin [2]. He left [1, 3].") == "Witkoff met Putin. He left."
    assert strip_markers("[brackets] stay, [12a] too") == "[brackets] stay, [12a] too"
