from __future__ import annotations

import pytest

from aiproxy_rag import split_text


def test_short_text_is_one_chunk() -> None:
    assert split_text("  One sentence.\n\n", 800, 100) == ["One sentence."]


def test_blank_text_has_no_chunks() -> None:
    assert split_text(" \n\n \t", 800, 100) == []


def test_paragraphs_are_kept_whole_when_they_fit() -> None:
    first, second = "A" * 60 + ".", "B" * 60 + "."
    chunks = split_text(f"{first}\n\n{second}", 100, 0)
    assert chunks == [first, second]


def test_cuts_fall_on_sentence_boundaries_and_respect_the_size() -> None:
    text = " ".join(f"Sentence number {i} says something." for i in range(60))
    chunks = split_text(text, 200, 40)
    assert len(chunks) > 5
    assert all(len(chunk) <= 200 for chunk in chunks)
    assert all(chunk.endswith(".") for chunk in chunks)
    assert all(chunk.startswith("Sentence") for chunk in chunks)


def test_neighbours_overlap() -> None:
    text = " ".join(f"Fact {i} is here." for i in range(80))
    chunks = split_text(text, 150, 40)
    for before, after in zip(chunks, chunks[1:]):
        assert after.split(".")[0] + "." in before  # the next chunk starts with the previous one's end


def test_a_word_longer_than_a_chunk_is_cut() -> None:
    chunks = split_text("x" * 250, 100, 10)
    assert all(len(chunk) <= 100 for chunk in chunks)
    assert "".join(chunk for chunk in chunks).count("x") >= 250


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (100, 100), (100, -1)])
def test_bad_sizes_are_refused(size: int, overlap: int) -> None:
    with pytest.raises(ValueError):
        split_text("text", size, overlap)
