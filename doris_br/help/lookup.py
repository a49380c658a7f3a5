"""Resolving `HELP <mark>` as MySQL's and Doris's servers do, in this order:

1. a topic of that name → one row `name, description, example` (clients print it as a page);
2. a keyword of exactly one topic → that topic, likewise;
   a keyword of several → rows `name, is_it_category`: the topics ('N'), then a category of the same name ('Y');
3. a category name → its topics ('N') and sub-categories ('Y'); `contents` is the category above the
   top-level ones, so it lists them;
4. nothing → no rows, still with columns `name, is_it_category` (clients then print "Nothing found").

Every comparison ignores case and runs of white space.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable

import attrs

from doris_br.help.topics import Topic, load_topics

TOPIC_COLUMNS = ("name", "description", "example")
LIST_COLUMNS = ("name", "is_it_category")
CONTENTS = "Contents"


@attrs.frozen
class HelpAnswer:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def _key(text: str) -> str:
    return " ".join(text.split()).upper()


def topic_answer(topic: Topic) -> HelpAnswer:
    # As MySQL's help tables hold it: the syntax heads the description; clients print both as they come.
    description = f"Syntax:\n{topic.syntax}\n\n{topic.description}\n"
    example = "\n\n".join(topic.examples) + "\n"
    return HelpAnswer(TOPIC_COLUMNS, ((topic.name, description, example),))


@attrs.frozen
class HelpIndex:
    topics: dict[str, Topic]  # by upper-case name
    by_keyword: dict[str, tuple[str, ...]]  # keyword → topic names
    categories: dict[str, str]  # upper-case name → name as written
    # Both keyed by upper-case category name, so files that spell a category in different cases agree.
    topics_in: dict[str, tuple[str, ...]]  # category → its topics' names
    subcategories: dict[str, tuple[str, ...]]  # category → the categories directly below it

    @classmethod
    def build(cls, topics: Iterable[Topic]) -> HelpIndex:
        by_name = {t.name: t for t in topics}
        by_keyword: dict[str, set[str]] = defaultdict(set)
        topics_in: dict[str, set[str]] = defaultdict(set)
        subcategories: dict[str, set[str]] = defaultdict(set)
        categories = {CONTENTS.upper(): CONTENTS}
        for topic in by_name.values():
            for keyword in topic.keywords:
                by_keyword[_key(keyword)].add(topic.name)
            parent = CONTENTS.upper()
            for category in topic.category:
                written = categories.setdefault(category.upper(), category)
                subcategories[parent].add(written)
                parent = written.upper()
            topics_in[parent].add(topic.name)

        def frozen(groups: dict[str, set[str]]) -> dict[str, tuple[str, ...]]:
            return {k: tuple(sorted(v)) for k, v in groups.items()}

        return cls(by_name, frozen(by_keyword), categories, frozen(topics_in), frozen(subcategories))

    def lookup(self, mark: str) -> HelpAnswer:
        key = _key(mark)
        topic = self.topics.get(key)
        if topic is not None:
            return topic_answer(topic)
        named = self.by_keyword.get(key, ())
        if len(named) == 1:
            return topic_answer(self.topics[named[0]])
        category = self.categories.get(key)
        if named:
            rows = [(name, "N") for name in named]
            return HelpAnswer(LIST_COLUMNS, tuple(rows + ([(category, "Y")] if category else [])))
        if category is not None:
            rows = [(name, "N") for name in self.topics_in.get(key, ())]
            rows += [(sub, "Y") for sub in self.subcategories.get(key, ())]
            return HelpAnswer(LIST_COLUMNS, tuple(rows))
        return HelpAnswer(LIST_COLUMNS, ())


@functools.cache
def default_index() -> HelpIndex:
    """The index of grammar/, read once per process: topics change only with a new release."""
    return HelpIndex.build(load_topics())
