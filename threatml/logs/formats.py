"""Known log layouts: a header spec per system and the miner settings that suit it.

A layout is written like ``"<Date> <Time> <Level> <Component>: <Content>"``;
:func:`header_regex` turns it into a regex with one named group per field
(the text between fields is a regex whose spaces match runs of whitespace;
the last field takes the rest of the line).
The table :data:`KNOWN_FORMATS` holds the layouts of the 16 loghub systems and,
for each, the extra masking regexes, similarity threshold and tree depth used
by the usual Drain benchmark settings. These per-system regexes are tuning
(classic Drain with no other masking): ``threatml templates`` uses them only
when told the system (``--system``); otherwise the miner's defaults apply
(broad default masking, threshold 0.5, depth 4).

Depth: our tree routes by the first ``depth - 2`` tokens; the reference
Drain benchmark code routes by ``depth - 3``, so its depth ``d`` is our
``d - 1``. Thunderbird and OpenSSH use that translated depth (the benchmark's
4 and 5); the other systems keep the benchmark's number as written, one level
deeper, where it measured at least as well. OpenSSH also splits tokens on
``:`` so a masked address written ``<ip>:`` is a parameter token of its own
rather than a constant ``<*>:`` that counts as similar.

>>> rx = header_regex("<Date> <Time> <Level> <Component>: <Content>")
>>> rx.match("081109 203615 INFO dfs.DataNode: got it").group("Content")
'got it'
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class LogFormat:
    name: str
    layout: str
    extra_regexes: tuple[str, ...] = ()
    sim_threshold: float = 0.5
    depth: int = 4
    delimiters: str = ""


def header_regex(layout: str) -> re.Pattern:
    """Compile a ``<Field>`` layout into a regex with named groups."""
    parts = re.split(r"(<[^<>]+>)", layout)
    out = []
    for i, part in enumerate(parts):
        if not part:
            continue
        if part.startswith("<") and part.endswith(">"):
            name = part[1:-1]
            rest = "".join(parts[i + 1:])
            out.append(f"(?P<{name}>.*?)" if re.search(r"<[^<>]+>", rest) else f"(?P<{name}>.*)")
        else:
            out.append(re.sub(" +", lambda _: r"\s+", part))  # literal parts are regex (\\[ ... \\])
    return re.compile("^" + "".join(out) + "$")


KNOWN_FORMATS: dict[str, LogFormat] = {f.name: f for f in (
    LogFormat("HDFS", "<Date> <Time> <Pid> <Level> <Component>: <Content>",
              (r"blk_-?\d+", r"(\d+\.){3}\d+(:\d+)?")),
    LogFormat("Hadoop", r"<Date> <Time> <Level> \[<Process>\] <Component>: <Content>", (r"(\d+\.){3}\d+",)),
    LogFormat("Spark", "<Date> <Time> <Level> <Component>: <Content>",
              (r"(\d+\.){3}\d+", r"\b[KGTM]?B\b", r"([\w-]+\.){2,}[\w-]+")),
    LogFormat("Zookeeper", r"<Date> <Time> - <Level>  \[<Node>:<Component>@<Id>\] - <Content>",
              (r"(/|)(\d+\.){3}\d+(:\d+)?",)),
    LogFormat("BGL", "<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> <Level> <Content>",
              (r"core\.\d+",)),
    LogFormat("HPC", "<LogId> <Node> <Component> <State> <Time> <Flag> <Content>", (r"=\d+",)),
    LogFormat("Thunderbird",
              r"<Label> <Timestamp> <Date> <User> <Month> <Day> <Time> <Location> <Component>(\[<PID>\])?: <Content>",
              (r"(\d+\.){3}\d+",), depth=3),
    LogFormat("Windows", "<Date> <Time>, <Level>                  <Component>    <Content>", (r"0x.*?\s",),
              sim_threshold=0.7, depth=5),
    LogFormat("Linux", r"<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>",
              (r"(\d+\.){3}\d+", r"\d{2}:\d{2}:\d{2}"), sim_threshold=0.39, depth=6),
    LogFormat("Android", "<Date> <Time>  <Pid>  <Tid> <Level> <Component>: <Content>",
              (r"(/[\w-]+)+", r"([\w-]+\.){2,}[\w-]+", r"\b(\-?\+?\d+)\b|\b0[Xx][a-fA-F\d]+\b|\b[a-fA-F\d]{4,}\b"),
              sim_threshold=0.2, depth=6),
    LogFormat("HealthApp", r"<Time>\|<Component>\|<Pid>\|<Content>", (), sim_threshold=0.2, depth=4),
    LogFormat("Apache", r"\[<Time>\] \[<Level>\] <Content>", (r"(\d+\.){3}\d+",)),
    LogFormat("Proxifier", r"\[<Time>\] <Program> - <Content>",
              (r"<\d+\ssec", r"([\w-]+\.)+[\w-]+(:\d+)?", r"\d{2}:\d{2}(:\d{2})*", r"[KGTM]B"),
              sim_threshold=0.6, depth=3),
    LogFormat("OpenSSH", r"<Date> <Day> <Time> <Component> sshd\[<Pid>\]: <Content>",
              (r"(\d+\.){3}\d+", r"([\w-]+\.){2,}[\w-]+"), sim_threshold=0.6, depth=4, delimiters=":"),
    LogFormat("OpenStack", r"<Logrecord> <Date> <Time> <Pid> <Level> <Component> \[<ADDR>\] <Content>",
              (r"((\d+\.){3}\d+,?)+", r"/.+?\s", r"\d+"), sim_threshold=0.5, depth=5),
    LogFormat("Mac", r"<Month>  <Date> <Time> <User> <Component>\[<PID>\]( \(<Address>\))?: <Content>",
              (r"([\w-]+\.){2,}[\w-]+",), sim_threshold=0.7, depth=6),
)}

