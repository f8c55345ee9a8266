"""Cutting a document into chunks of at most ``chunk_size`` characters, overlapping by about
``chunk_overlap``.

Cuts fall on paragraph boundaries where possible, then sentence boundaries, then word boundaries,
and only as a last resort inside a word: a chunk that ends mid-sentence embeds worse, and the
retrieved text reads worse in a prompt. The overlap repeats the end of one chunk at the start of
the next, so a fact that straddles a cut is still whole in one of them.
"""

from __future__ import annotations

import re

__all__ = ["split_text"]

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")
_SPACES = re.compile(r"[ \t\r\f\v]+")


def split_text(text: str, chunk_size: int, chunk_overlap: int) -> list[str]:
    """The chunks of ``text`` in order; empty when the text holds nothing but whitespace."""
    if chunk_size < 1 or not 0 <= chunk_overlap < chunk_size:
        raise ValueError("chunk_size must be positive and chunk_overlap in [0, chunk_size)")
    pieces = [piece for paragraph in _paragraphs(text) for piece in _fit(paragraph, chunk_size)]
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        separator = "\n\n" if piece.startswith("\x00") else " "
        piece = piece.lstrip("\x00")
        if not current:
            current = piece
        elif len(current) + len(separator) + len(piece) <= chunk_size:
            current += separator + piece
        else:
            chunks.append(current)
            tail = _tail(current, min(chunk_overlap, chunk_size - len(piece) - 1))
            current = f"{tail} {piece}" if tail else piece
    if current:
        chunks.append(current)
    return chunks


def _paragraphs(text: str) -> list[str]:
    paragraphs = []
    for raw in _PARAGRAPH_BREAK.split(text):
        # Single newlines inside a paragraph are layout (wrapped lines, PDF text), not meaning.
        paragraph = _SPACES.sub(" ", raw.replace("\n", " ")).strip()
        if paragraph:
            paragraphs.append(paragraph)
    return paragraphs


def _fit(paragraph: str, chunk_size: int) -> list[str]:
    """The paragraph as pieces no longer than ``chunk_size``; the first is marked with a NUL
    so the packer joins it to the previous paragraph with a blank line, not a space."""
    if len(paragraph) <= chunk_size:
        pieces = [paragraph]
    else:
        pieces = []
        for sentence in _SENTENCE_END.split(paragraph):
            pieces.extend([sentence] if len(sentence) <= chunk_size else _words(sentence, chunk_size))
    pieces[0] = "\x00" + pieces[0]
    return pieces


def _words(sentence: str, chunk_size: int) -> list[str]:
    pieces: list[str] = []
    current = ""
    for word in sentence.split(" "):
        while len(word) > chunk_size:  # a "word" longer than a chunk (a URL, a hash): cut it
            if current:
                pieces.append(current)
                current = ""
            pieces.append(word[:chunk_size])
            word = word[chunk_size:]
        if not current:
            current = word
        elif len(current) + 1 + len(word) <= chunk_size:
            current += " " + word
        else:
            pieces.append(current)
            current = word
    if current:
        pieces.append(current)
    return pieces


def _tail(chunk: str, overlap: int) -> str:
    """The last ``overlap`` characters or fewer, starting at a sentence or word boundary."""
    if overlap <= 0:
        return ""
    tail = chunk[-overlap:]
    if len(tail) == len(chunk):
        return tail
    sentence = _SENTENCE_END.search(tail)
    if sentence is not None and sentence.end() < len(tail):
        return tail[sentence.end() :]
    space = tail.find(" ")
    return tail[space + 1 :] if 0 <= space < len(tail) - 1 else ""
