"""The benchmark's inputs: a real text corpus, questions about it, synthetic chunks and a large generated corpus."""

import hashlib
import random
import re
from pathlib import Path

import numpy as np

from assistant.settings import MB
from ingest.records import ChunkMeta

# Questions about Python's language reference (the topics `pydoc_data.topics` ships), one per line.
PYDOC_QUESTIONS = """\
What does the with statement do?
How does a with statement call __enter__ and __exit__?
What happens when an exception is raised inside a try block?
What is the finally clause for?
How does the raise statement chain exceptions?
What does the global statement declare?
What does the nonlocal statement do?
How are default parameter values evaluated?
What is a lambda expression?
How does the for loop assign to its target list?
When is the else clause of a loop executed?
What does the break statement do?
What does continue do inside a loop?
How does the pass statement behave?
What does the del statement do to a name?
How does the return statement work in a generator?
What does yield do in a function?
What is an await expression?
How does async with work?
What does the assert statement do when optimization is requested?
How does the import statement find a module?
What is a relative import?
How does from import star behave?
What are augmented assignment statements?
How does unpacking work in an assignment?
What is an annotated assignment?
How are comparisons chained?
What is the difference between is and ==?
How does the in operator test membership?
What are the rules for operator precedence?
How does the power operator bind with unary minus?
What do the shifting operations do?
How are bitwise operations defined on integers?
What does the conditional expression return?
How are boolean operations evaluated?
What values are considered false?
How are floating point literals written?
What is an imaginary literal?
How are integer literals written in hexadecimal?
How do formatted string literals work?
What does the format specification mini-language support?
What does str.split do?
How does str.join work?
What methods do mutable sequences have?
How does list.sort order its items?
What is a slice object?
How does subscription work for mappings?
What methods does a dictionary have?
How does dict.get handle a missing key?
What is a class definition?
What does the __init__ method do?
What is __getattr__ used for?
How does __getattribute__ differ from __getattr__?
What are descriptors?
What does __slots__ do?
What is __repr__ used for?
How does the __hash__ method relate to __eq__?
What special attributes do modules have?
What is a code object?
How do I set a breakpoint in the debugger?
What does the pdb step command do?
How are names bound in the execution model?
What is a namespace?
What is the Ellipsis object?
What does the None object represent?
How does a context manager handle exceptions?
What is a coroutine function?
How do method objects work?
""".splitlines()

# Phrasings that make a question new to the query-vector cache without changing what it asks.
_PHRASINGS = ("{q}", "Question: {q}", "Please explain: {q}", "In Python, {lq}", "I would like to know: {q}",
              "Quick question: {q}", "Tell me: {q}", "From the docs, {lq}", "Explain briefly: {q}", "Remind me: {q}",
              "Could you say {lq}", "Help: {q}")


def write_pydoc_corpus(folder: Path, max_bytes: int | None = None) -> list[Path]:
    """Python's own language reference topics as one .txt file each (about 465 KB); `max_bytes` keeps the smaller
    ones."""
    import pydoc_data.topics

    folder.mkdir(parents=True, exist_ok=True)
    topics = sorted(pydoc_data.topics.topics.items())
    if max_bytes is not None:
        chosen, total = [], 0
        # Mid-sized topics, so a quick corpus still has several chunks per file.
        for name, text in sorted(topics, key=lambda item: abs(len(item[1]) - 4000)):
            if total + len(text) > max_bytes:
                break
            chosen.append((name, text))
            total += len(text)
        topics = sorted(chosen)
    paths = []
    for name, text in topics:
        path = folder / f"{name}.txt"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def corpus_files(corpus: Path) -> list[Path]:
    """The files `assistant ingest` would read from a file or folder (supported types only)."""
    from ingest.loaders import iter_files

    return list(iter_files([corpus]))


def split_groups(files: list[Path], n: int) -> list[list[Path]]:
    """`n` disjoint groups of files of about equal size (largest first, each to the lightest group)."""
    n = max(1, min(n, len(files)))
    groups: list[list[Path]] = [[] for _ in range(n)]
    sizes = [0] * n
    for path in sorted(files, key=lambda p: (-p.stat().st_size, str(p))):
        lightest = sizes.index(min(sizes))
        groups[lightest].append(path)
        sizes[lightest] += path.stat().st_size
    return [sorted(group) for group in groups]


def corpus_questions(texts: list[str], n: int, seed: int = 0) -> list[str]:
    """Questions for a corpus without a question list: the start of real sentences, asked about."""
    from ingest.chunking import sentence_spans

    sentences = [text[s:e] for text in texts for s, e in sentence_spans(text)]
    sentences = [s for s in sentences if 6 <= len(s.split()) <= 40 and re.search(r"[A-Za-z]{4}", s)]
    random.Random(seed).shuffle(sentences)
    questions = list(dict.fromkeys(f"What is said about {_topic(s)}?" for s in sentences))
    return questions[:n] or ["What is this document about?"]


_TRAILING = frozenset("a an the of for to in on at by and or but with from as is are was were be that this its "
                      "their".split())


def _topic(sentence: str) -> str:
    """The first words of a sentence, without a dangling article or preposition at the end."""
    words = [w.strip(".,;:!?()[]\"'") for w in sentence.split()[:8]]
    while len(words) > 2 and (not words[-1] or words[-1].lower() in _TRAILING):
        words.pop()
    return " ".join(w for w in words if w)


def variants(questions: list[str], round_: int) -> list[str]:
    """The same questions, phrased differently for each round (so no round reuses another's cached query vectors)."""
    template = _PHRASINGS[round_ % len(_PHRASINGS)]
    suffix = "" if round_ < len(_PHRASINGS) else f" (take {round_ // len(_PHRASINGS) + 1})"
    return [template.format(q=q, lq=q[:1].lower() + q[1:]) + suffix for q in questions]


def synthetic_batches(real: dict, start: int, count: int, folder: str, batch: int, seed: int = 0):
    """Batches of (ids, vectors, documents, metadatas) for `count` made-up chunks numbered from `start`.

    Each is a real chunk's text with every fifth plain word swapped for a random word of the corpus (BM25 sees real term
    statistics, and no two chunks share sentences: the answerer's sentence cache gets no unearned hits), the real vector
    plus noise (cosine ~0.86 to it, so the vector index holds clusters as real text does), in made-up files of 20 chunks
    with real-looking metadata."""
    rng = np.random.default_rng(seed + start)
    vectors = np.asarray(real["embeddings"], dtype=np.float32)
    texts = real["documents"]
    words = [text.split(" ") for text in texts]
    vocabulary = sorted({w for ws in words for w in ws if w.isalpha()}) or ["word"]
    per_file = 20
    for first in range(start, start + count, batch):
        numbers = range(first, min(first + batch, start + count))
        picks = [i % len(texts) for i in numbers]
        noisy = vectors[picks] + rng.normal(0.0, 0.03, (len(picks), vectors.shape[1])).astype(np.float32)
        noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
        ids, docs, metas = [], [], []
        for number, pick in zip(numbers, picks):
            swapped = list(words[pick])
            positions = range(number % 5, len(swapped), 5)
            for position, choice in zip(positions, rng.integers(0, len(vocabulary), len(positions))):
                if swapped[position].isalpha():  # words only: punctuation and line breaks, so sentences, stay
                    swapped[position] = vocabulary[choice]
            text = " ".join(swapped)
            file_number, index = divmod(number, per_file)
            offset = index * 600
            ids.append(f"bench-synthetic-{number:07d}")
            docs.append(text)
            # The real chunk's sentence vectors: swapping words keeps its sentences, so answering reads them as it
            # reads a real chunk's.
            metas.append(ChunkMeta(
                source=f"{folder}/doc-{file_number:05d}.txt", title=f"Synthetic document {file_number}",
                start=offset, end=offset + len(text), line_start=1 + index * 8,
                line_end=1 + index * 8 + text.count("\n"), index=index,
                doc_hash=hashlib.sha256(f"synthetic {file_number}".encode()).hexdigest()[:32], n_chunks=per_file,
                sentence_vectors=((real.get("metadatas") or [{}] * len(texts))[pick] or {}).get("sentence_vectors"),
            ))
        yield ids, noisy, docs, metas


def write_large_corpus(folder: Path, megabytes: float, file_mb: float = 1.0, seed: int = 0) -> list[Path]:
    """About `megabytes` of distinct text files (~`file_mb` each): pydoc paragraphs shuffled differently per file."""
    import pydoc_data.topics

    folder.mkdir(parents=True, exist_ok=True)
    paragraphs = [p.strip() for text in pydoc_data.topics.topics.values() for p in re.split(r"\n\s*\n", text)
                  if p.strip()]
    rng = random.Random(seed)
    target, per_file = int(megabytes * MB), int(file_mb * MB)
    paths, written, number = [], 0, 0
    while written < target:
        size = min(per_file, target - written)
        parts, length = [f"Generated document {number}.\n"], 0
        while length < size:
            paragraph = rng.choice(paragraphs)
            parts.append(paragraph)
            length += len(paragraph) + 2
        path = folder / f"generated-{number:04d}.txt"
        path.write_text("\n\n".join(parts), encoding="utf-8")
        written += path.stat().st_size
        paths.append(path)
        number += 1
    return paths
