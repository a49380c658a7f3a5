"""HELP: one Markdown topic per statement under grammar/, looked up the way MySQL and Doris look up theirs.

`topics` reads the files into Topic objects; `lookup` answers `HELP <mark>` with the result shapes the
mysql and mariadb clients know how to print.
"""

from doris_br.help.lookup import HelpAnswer, HelpIndex, default_index
from doris_br.help.topics import Topic, TopicFormatError, grammar_dir, load_topics, parse_topic

__all__ = [
    "HelpAnswer", "HelpIndex", "Topic", "TopicFormatError", "default_index", "grammar_dir", "load_topics",
    "parse_topic",
]
