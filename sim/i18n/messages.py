"""What ``gdcloud`` prints on stderr, in the language: error lines, failed runs, interruptions.

English lines are the messages as the code writes them (unchanged). Chinese lines are made from
the same messages: the frame (``错误：``, ``；允许：``, ``（另有2处错误）``) and every message
the table knows are translated; a message it does not know keeps its English words inside the
Chinese frame (never dropped, so nothing a user needs to fix the input is lost).

Two kinds of rows of ``sim/i18n/terms.csv`` serve here:

* ``msg.*``: a whole message, its English text a template whose ``{fields}`` match any text
  (``got {value}: {problem}``); a field's text is itself translated when a row matches it;
* ``allowed.*``: a phrase of the "what is allowed" part (``integer``, ``one of``), replaced
  where it stands as whole words outside quotes.

Example:
    >>> from sim.errors import ScenarioError
    >>> err = ScenarioError("--set a=b", "population.total_firms", "a value is required", "integer")
    >>> error_line(err, "zh")
    '错误：--set a=b：population.total_firms：缺少取值；允许：整数'
"""

from __future__ import annotations

import re
from functools import cache

from sim import i18n

_FIELD = re.compile(r"\{(\w+)\}")
_QUOTED = re.compile(r"('[^']*'|\"[^\"]*\"|`[^`]*`)")


@cache
def _message_rules() -> list[tuple[re.Pattern[str], str]]:
    """(pattern of the English template, key) of every ``msg.*`` row, the template with the most
    fixed text first (``value {value} is out of range`` wins over ``{what} {value} is out of range``)."""
    rules = []
    for key in i18n.keys():
        if key.startswith("msg."):
            template = i18n.text(key, "en")
            parts = _FIELD.split(template)  # literal, field, literal, field, ...
            pattern = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts))
            rules.append((re.compile(pattern, re.DOTALL), key, len("".join(parts[::2]))))
    return [(p, k) for p, k, _ in sorted(rules, key=lambda r: -r[2])]


@cache
def _allowed_phrases() -> list[tuple[re.Pattern[str], str]]:
    rows = [(i18n.text(k, "en"), i18n.text(k, "zh")) for k in i18n.keys() if k.startswith("allowed.")]
    rows.sort(key=lambda r: -len(r[0]))
    return [(re.compile(rf"(?<![\w/-]){re.escape(en)}(?![\w/-])"), zh) for en, zh in rows]


def translate(message: str, lang: str = "en") -> str:
    """``message`` in ``lang``: the ``msg.*`` row whose template matches it whole, its fields
    translated in turn; else the message as written (English unchanged)."""
    if i18n.check_lang(lang) == "en":
        return message
    for pattern, key in _message_rules():
        m = pattern.fullmatch(message)
        if m:
            return i18n.text(key, lang, **{k: translate(v, lang) for k, v in m.groupdict().items()})
    return message


_SEPARATORS = ((", ", "，"), ("; ", "；"), (": ", "："), ("： ", "："))


def allowed_text(text: str, lang: str = "en") -> str:
    """A "what is allowed" text in ``lang``: known phrases (``allowed.*``) replaced outside quotes,
    with Chinese separators (``，`` ``；`` ``：``)."""
    if i18n.check_lang(lang) == "en":
        return text
    pieces = _QUOTED.split(text)
    for i in range(0, len(pieces), 2):  # even pieces are outside quotes
        for pattern, zh in _allowed_phrases():
            pieces[i] = pattern.sub(zh, pieces[i])
        for en, zh in _SEPARATORS:
            pieces[i] = pieces[i].replace(en, zh)
    return "".join(pieces)


def scenario_error_text(err, lang: str = "en") -> str:
    """A :class:`sim.errors.ScenarioError` as one line in ``lang`` (``str(err)`` in English)."""
    if i18n.check_lang(lang) == "en":
        return str(err)
    where = i18n.term_or("msg_where", err.key_path.strip("()"), lang) if err.key_path.startswith("(") else err.key_path
    line = i18n.text("msg_frame.error", lang, file=translate(err.file, lang), where=where, message=translate(err.message, lang),
                     allowed=allowed_text(translate(err.allowed, lang), lang))
    if err.suggestion:
        line += i18n.text("msg_frame.did_you_mean", lang, key=repr(err.suggestion))
    if err.more:
        line += i18n.text("msg_frame.more", lang, n=err.more)
    return line


def error_line(message: object, lang: str = "en") -> str:
    """The one ``error:`` line of a bad input or a failure (``message`` an exception or text)."""
    if i18n.check_lang(lang) == "en":
        return f"error: {' '.join(str(message).split())}"
    if all(hasattr(message, a) for a in ("file", "key_path", "message", "allowed", "more")):
        body = scenario_error_text(message, lang)
    else:
        body = translate(" ".join(str(message).split()), lang)
    return i18n.text("msg_frame.prefix", lang) + body
