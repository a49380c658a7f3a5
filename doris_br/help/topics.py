"""grammar/*.md → Topic objects.

Every file has the same fixed shape, so it reads well as Markdown and parses without a Markdown library:

    # CREATE USER            the statement name, upper case; the file is create-user.md
    ## Category              one category; `Parent / Child` nests a sub-category
    ## Syntax                one fenced block
    ## Description           prose
    ## Examples              one or more fenced blocks of statements that our dialect parses
    ## Keywords              comma-separated words that find the topic

A file that strays from it raises TopicFormatError naming the file, so a broken topic fails the tests
instead of quietly vanishing from HELP.
"""

from __future__ import annotations

import re
from pathlib import Path

import attrs

SECTIONS = ("Category", "Syntax", "Description", "Examples", "Keywords")
FENCE = "```"
CATEGORY_SEPARATOR = "/"
# grammar/README.md explains the format to people writing topics; it is not a topic itself.
NOT_TOPICS = frozenset({"README.md"})

_PACKAGE_DIR = Path(__file__).resolve().parent


def grammar_dir() -> Path:
    """Where the topics are: doris_br/help/grammar, a link to grammar/ at the repository root (the parent of
    doris_br/) that setuptools turns into a copy in the wheel. A checkout that lost the link (git writes it as
    a plain file where symlinks are off) still finds the root folder."""
    for candidate in (_PACKAGE_DIR / "grammar", _PACKAGE_DIR.parents[1] / "grammar"):
        if candidate.is_dir():
            return candidate
    return _PACKAGE_DIR / "grammar"  # neither: load_topics finds no topics and HELP finds nothing


class TopicFormatError(ValueError):
    """A grammar/ file that does not follow the fixed topic format."""


@attrs.frozen
class Topic:
    name: str  # upper case, as HELP shows it
    category: tuple[str, ...]  # path from the top-level category down, e.g. ("Account Management",)
    syntax: str
    description: str
    examples: tuple[str, ...]
    keywords: tuple[str, ...]  # upper case

    @property
    def file_name(self) -> str:
        return topic_file_name(self.name)


def topic_file_name(name: str) -> str:
    """`CREATE USER` → `create-user.md`."""
    return "-".join(name.lower().split()) + ".md"


def _split_sections(text: str, source: str) -> tuple[str, dict[str, list[str]]]:
    title: str | None = None
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    in_fence = False
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith(FENCE):
            in_fence = not in_fence
        elif not in_fence and line.startswith("# "):
            if title is not None:
                raise TopicFormatError(f"{source}:{number}: a second '# ' title")
            title = line[2:].strip()
            continue
        elif not in_fence and line.startswith("## "):
            heading = line[3:].strip()
            if heading not in SECTIONS:
                raise TopicFormatError(f"{source}:{number}: unknown section '{heading}'; expected one of {SECTIONS}")
            if heading in sections:
                raise TopicFormatError(f"{source}:{number}: section '{heading}' appears twice")
            current = sections[heading] = []
            continue
        if current is None:
            if line.strip():
                raise TopicFormatError(f"{source}:{number}: text outside a section")
            continue
        current.append(line)
    if in_fence:
        raise TopicFormatError(f"{source}: a fenced block is not closed")
    if not title:
        raise TopicFormatError(f"{source}: no '# NAME' title")
    missing = [s for s in SECTIONS if s not in sections]
    if missing:
        raise TopicFormatError(f"{source}: missing section(s) {', '.join(missing)}")
    if tuple(sections) != SECTIONS:
        raise TopicFormatError(f"{source}: sections must come in this order: {', '.join(SECTIONS)}")
    return title, sections


def _fenced_blocks(lines: list[str], source: str, section: str) -> tuple[str, ...]:
    """The contents of the section's fenced blocks; anything else in it but blank lines is an error."""
    blocks: list[str] = []
    block: list[str] | None = None
    for line in lines:
        if line.startswith(FENCE):
            if block is None:
                block = []
            else:
                blocks.append("\n".join(block).strip("\n"))
                block = None
        elif block is not None:
            block.append(line)
        elif line.strip():
            raise TopicFormatError(f"{source}: ## {section} holds text outside a fenced block: {line.strip()!r}")
    if not blocks or not all(b.strip() for b in blocks):
        raise TopicFormatError(f"{source}: ## {section} needs at least one non-empty fenced block")
    return tuple(blocks)


def parse_topic(text: str, source: str = "<topic>") -> Topic:
    title, sections = _split_sections(text, source)
    if title != title.upper() or " ".join(title.split()) != title:
        raise TopicFormatError(f"{source}: the title '{title}' must be the statement name in upper case")
    category_lines = [line.strip() for line in sections["Category"] if line.strip()]
    if len(category_lines) != 1:
        raise TopicFormatError(f"{source}: ## Category must hold exactly one line")
    category = tuple(part.strip() for part in category_lines[0].split(CATEGORY_SEPARATOR))
    if not all(category):
        raise TopicFormatError(f"{source}: empty category name in '{category_lines[0]}'")
    syntax = _fenced_blocks(sections["Syntax"], source, "Syntax")
    if len(syntax) != 1:
        raise TopicFormatError(f"{source}: ## Syntax must hold exactly one fenced block")
    description = "\n".join(sections["Description"]).strip()
    if not description:
        raise TopicFormatError(f"{source}: ## Description is empty")
    keywords = tuple(k.strip().upper() for k in re.split(r"[,\n]", "\n".join(sections["Keywords"])) if k.strip())
    if not keywords:
        raise TopicFormatError(f"{source}: ## Keywords is empty")
    return Topic(name=title, category=category, syntax=syntax[0], description=description,
                 examples=_fenced_blocks(sections["Examples"], source, "Examples"), keywords=keywords)


def load_topics(directory: Path | None = None) -> tuple[Topic, ...]:
    """Every topic in `directory` (grammar_dir() by default), sorted by name."""
    directory = grammar_dir() if directory is None else directory
    if not directory.is_dir():
        return ()
    topics: dict[str, Topic] = {}
    for path in sorted(directory.glob("*.md")):
        if path.name in NOT_TOPICS:
            continue
        topic = parse_topic(path.read_text(encoding="utf-8"), path.name)
        if topic.file_name != path.name:
            raise TopicFormatError(f"{path.name}: the topic {topic.name} belongs in {topic.file_name}")
        topics[topic.name] = topic
    return tuple(topics[name] for name in sorted(topics))
