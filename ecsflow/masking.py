"""What looks secret, and masking it: the one home of both (docs/design.md section 10). Pure, no I/O.

Two complementary mechanisms, applied at the output edge (``output.py``) to what is about to be printed:

1. **By name and shape.** The value of a variable, log option or label whose name looks secret
   (``looks_sensitive``: DB_PASSWORD, API_KEY, PGPASS; not MONKEY); the password of a URL
   (``redis://:pw@host``, ``postgres://u:pw@h``); credential-shaped strings anywhere (AWS access key ids,
   GitHub/GitLab/Slack/npm/PyPI/Stripe/Google tokens, JWTs, private key blocks, htpasswd hashes,
   ``Authorization:``/``Bearer`` credentials); secret-looking command-line arguments (``--db-password x``,
   ``--token=x``, ``DB_PASSWORD=x``, ``-Dkeystore.password=x``, ``curl -u user:pw``, ``-H 'X-Api-Key: k'``,
   ``mysql -ppw``, ``sshpass -p pw``, ``redis-cli -a pw``, ``openssl -passin pass:pw``); the ``user:password``
   of a label whose key names users (``traefik...basicauth.users``).
2. **By value.** The values of the secret-looking variables of the environment the compose project was
   interpolated with (shell + ``.env``), and the passwords of URLs in any of its values, are masked wherever
   they occur in any printed string: an environment value, a command argument, a label, an error message.
   This is how CI systems mask secrets in logs; it needs no tracking of where a value went. Values shorter
   than ``MIN_SECRET_LENGTH`` (and ``true``/``false``/...) are not collected: they would mask everything.

A masked value becomes ``(sensitive)``; inside a longer string only the secret part is replaced
(``redis://:(sensitive)@host``). A value that names a thing is not a secret, whatever its name: a file path
(``POSTGRES_PASSWORD_FILE=/run/secrets/db``, ``--password-file /run/secrets/db``) or a dotted class name
(``AIRFLOW__CORE__AUTH_MANAGER``); ``names_a_thing`` says which, narrowly, as masking errs on the side of hiding.
"""

from __future__ import annotations

import functools
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ecsflow.diff import Change, ChangeSet

SENSITIVE = "(sensitive)"
# The new side of a change whose both sides are masked and equal once masked: the change still shows.
SENSITIVE_CHANGED = "(sensitive, changed)"
MIN_SECRET_LENGTH = 4

# A name is sensitive when one of its words (split at `_`, `-`, `.`, and between camelCase humps) is one of
# these, or contains one of the long parts (DBPASSWORD, GITHUBTOKEN); MONKEY or KEYBOARD_LAYOUT are not.
_SENSITIVE_WORDS = frozenset({
    "KEY", "APIKEY", "ACCESSKEY", "PWD", "PASS", "PGPASS", "AUTH", "AUTHORIZATION", "CREDS", "SALT", "DSN",
    "COOKIE", "PRIVATE", "SIGNATURE", "PASSCODE", "HTPASSWD",
})
_SENSITIVE_PARTS = ("PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "TOKEN", "CREDENTIAL", "PRIVATEKEY", "ACCESSKEY",
                    "APIKEY", "STOREPASS", "KEYPASS")  # the last two: keytool's -storepass, -keypass
_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_WORD_SEPARATORS = re.compile(r"[^A-Za-z0-9]+")
# Variables of every shell whose names only look secret: PWD is the working directory, not a password.
_SHELL_VARIABLES = frozenset({"PWD", "OLDPWD"})
_NOT_SECRET_VALUES = frozenset({"true", "false", "null", "none", "yes", "no"})


def _words(name: str) -> list[str]:
    return [word for word in _WORD_SEPARATORS.split(_CAMEL_HUMP.sub("_", name).upper()) if word]


def looks_sensitive(name: str, value: Any = None) -> bool:
    """A name (of a variable, label, option or flag) whose words look secret; given a value, also a value with
    a password in a URL (the builder warns about both), and not a value that names a thing (``names_a_thing``:
    a secret-looking name may hold the path of a file or the name of a class, which are not secrets)."""
    if isinstance(value, str) and "://" in value and _URL_PASSWORD.search(value) is not None:
        return True
    return _secret_under(name, value)


# What a secret-looking name may hold that is not a secret: the path of a file (POSTGRES_PASSWORD_FILE:
# /run/secrets/db; absolute with two parts or more, or ./, ../, ~/) and a dotted class name, or a list of them
# (AIRFLOW__CORE__AUTH_MANAGER: airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager:
# three lowercase package parts or more, then a capitalised class). Narrow on purpose: `hunter2`, `/pw`,
# `my.secret.pass` or `my.Secret` still look like secrets, and masking errs on the side of hiding.
_FILE_PATH = re.compile(r"(?:/[\w.-]+(?:/[\w.-]+)+|(?:\.\.?|~)(?:/[\w.-]+)+)/?", re.ASCII)
_CLASS_NAME = r"(?:[a-z_][a-z0-9_]+\.){3,}[A-Z][A-Za-z0-9_]*"
_CLASS_NAMES = re.compile(rf"{_CLASS_NAME}(?:,\s*{_CLASS_NAME})*")


def names_a_thing(value: str) -> bool:
    """Whether a value is a file path or a dotted class name (see above): shown, even under a secret-looking name."""
    return bool(_FILE_PATH.fullmatch(value) or _CLASS_NAMES.fullmatch(value))


def _secret_under(name: str, value: Any) -> bool:
    """Whether ``value``, held by a variable, option, label or flag called ``name``, is masked for its name."""
    return _name_looks_sensitive(name) and not (isinstance(value, str) and names_a_thing(value))


@functools.lru_cache(maxsize=4096)  # the same names and flags come up again and again
def _name_looks_sensitive(name: str) -> bool:
    return any(word in _SENSITIVE_WORDS or any(part in word for part in _SENSITIVE_PARTS) for word in _words(name))


# --- credential shapes, masked in any text -------------------------------------------------------------------

# The password of a URL, with or without a user name: scheme://user:PW@host, scheme://:PW@host.
_URL_PASSWORD = re.compile(r"(?P<keep>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/@:]*:)(?P<secret>[^\s@/]+)(?=@)")
# Credential shapes: (literal markers, pattern). A pattern runs only on a text holding one of its markers:
# `in` is far cheaper than the regular expression engine, and most printed strings hold none.
_SHAPES: tuple[tuple[tuple[str, ...], re.Pattern[str]], ...] = tuple(
    (markers, re.compile(pattern, re.DOTALL))
    for markers, pattern in (
        # a private key block, to its end (or the end of the text when cut)
        (("PRIVATE KEY",),
         r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----|\Z)"),
        (("AKIA", "ASIA"), r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),  # AWS access key ids (long-term, temporary)
        (("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
         r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})"),  # GitHub
        (("gl",), r"\bgl(?:pat|ptt|dt|rt|cbt|oas)-[A-Za-z0-9_-]{20,}"),  # GitLab
        (("xox",), r"\bxox[abposre]-[A-Za-z0-9-]{10,}"),  # Slack tokens
        (("hooks.slack.com",), r"\bhooks\.slack\.com/services/[A-Za-z0-9/]+"),  # Slack webhooks
        (("eyJ",), r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),  # JWTs
        (("npm_",), r"\bnpm_[A-Za-z0-9]{36}\b"),  # npm
        (("pypi-",), r"\bpypi-AgE[A-Za-z0-9_-]{50,}"),  # PyPI
        (("k_live_",), r"\b[sr]k_live_[A-Za-z0-9]{16,}"),  # Stripe
        (("AIza",), r"\bAIza[0-9A-Za-z_-]{35}\b"),  # Google API keys
        (("sk-",), r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{32,}"),  # OpenAI, Anthropic
        ((":$", ":{SHA}"), r"(?<=:)(?:\$apr1\$|\$2[abxy]?\$|\$[156]\$|\{SHA\})[^\s,'\"]+"),  # htpasswd hashes
    )
)
_SHAPE_MARKERS = re.compile("|".join(re.escape(marker) for markers, _ in _SHAPES for marker in markers))
# Credentials after a scheme word: `Authorization: Bearer X`, `Authorization: X`, `Bearer X`.
_AUTHORIZATION = re.compile(
    r"(?P<keep>\b(?:[Aa]uthorization|AUTHORIZATION)\s*[:=]\s*(?:(?:Bearer|Basic|Token|Digest|token)\s+)?"
    r"|\bBearer\s+)(?P<secret>[A-Za-z0-9._~+/=:-]{8,})"
)

# --- command-line arguments -------------------------------------------------------------------------------

# A word of a shell command line, quotes included (so `--password 'a b'` masks both words).
_SHELL_WORD = re.compile(r"""(?:'[^']*'|"(?:\\.|[^"\\])*"|\\.|[^\s'"\\])+""")
# NAME=VALUE, --name=VALUE, -name=VALUE, -Dname=VALUE; in a message also (NAME=VALUE), 'NAME=VALUE',
_ASSIGNMENT = re.compile(r"^(?P<keep>[(\[{<'\"`]*(?:--?|-D)?(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)=)(?P<secret>.+?)"
                         r"(?P<tail>[)\]}>'\"`,;]*)$", re.DOTALL)
# --name, -name (at least three letters: `-p` alone means too many things)
_LONG_OPTION = re.compile(r"^(?:--|-)(?P<name>[A-Za-z][A-Za-z0-9_.-]{2,})$")
# Programs whose short flag takes a password: `-pPW` (attached) and `-p PW` / `-a PW` (next word).
_ATTACHED_P = frozenset({"mysql", "mysqladmin", "mysqldump", "mysqlcheck", "mysqlimport", "mysqlshow", "mariadb",
                         "mariadb-admin", "mariadb-dump"})
_NEXT_WORD = {"sshpass": "-p", "mongo": "-p", "mongosh": "-p", "redis-cli": "-a", "valkey-cli": "-a"}
# curl and wget take USER:PASSWORD after these; elsewhere `-u 1000:1000` is a user and group.
_USER_FLAGS = frozenset({"-u", "--user", "--proxy-user", "--http-user"})
_USER_PROGRAMS = frozenset({"curl", "wget"})
_HEADER_FLAGS = frozenset({"-H", "--header"})
_OPENSSL_PASS_FLAGS = frozenset({"-passin", "-passout", "-pass"})  # openssl: pass:PASSWORD


def _basename(word: str) -> str:
    return word.rsplit("/", 1)[-1]


def _mask_words(words: list[str]) -> list[str]:
    """Mask the secret-looking arguments of a command line given as words (quotes removed)."""
    out = list(words)
    programs: set[str] = set()
    handled = -1  # the index of a word already masked as the value of the word before it
    for i, word in enumerate(words):
        if i == handled:
            continue
        programs.add(_basename(word))
        following = words[i + 1] if i + 1 < len(words) else None
        value_follows = following is not None and not following.startswith("-")
        assignment = _ASSIGNMENT.match(word)
        option = _LONG_OPTION.match(word)
        masked_next = None
        if assignment and _secret_under(assignment["name"], assignment["secret"]):
            if not assignment["secret"].startswith(SENSITIVE[:-1]):  # not masked already
                out[i] = assignment["keep"] + SENSITIVE + assignment["tail"]
        elif option and value_follows and _secret_under(option["name"], following):
            masked_next = SENSITIVE
        elif word in _USER_FLAGS and following and ":" in following and programs & _USER_PROGRAMS:
            masked_next = following.split(":", 1)[0] + ":" + SENSITIVE
        elif word[:2] == "-u" and ":" in word and programs & _USER_PROGRAMS:  # curl -uUSER:PASSWORD
            out[i] = word.split(":", 1)[0] + ":" + SENSITIVE
        elif word in _HEADER_FLAGS and following and ":" in following:
            name, _, value = following.partition(":")
            if looks_sensitive(name) and value.strip():
                masked_next = f"{name}: {SENSITIVE}"
        elif word.startswith("-p") and len(word) > 2 and programs & _ATTACHED_P:
            out[i] = "-p" + SENSITIVE
        elif value_follows and any(_NEXT_WORD.get(p) == word for p in programs):
            masked_next = SENSITIVE
        elif i and words[i - 1] in _OPENSSL_PASS_FLAGS and word.startswith("pass:"):
            out[i] = "pass:" + SENSITIVE
        if masked_next is not None:
            out[i + 1], handled = masked_next, i + 1
    return out


def _unquote(word: str) -> str:
    if not any(q in word for q in "'\"\\"):
        return word
    try:
        parts = shlex.split(word)
    except ValueError:
        return word
    return parts[0] if len(parts) == 1 else word


def _may_hold_arguments(text: str) -> bool:
    """What every argument rule needs: an assignment, a word that starts with `-`, or openssl's `pass:`."""
    if "=" in text or "pass:" in text:
        return True
    return "-" in text and (text[:1] in "-'\"" or any(before + "-" in text for before in " \t\n'\""))


def _mask_command_line(text: str) -> str:
    """Mask the secret-looking arguments of a shell command line (or any text that may hold one)."""
    if not _may_hold_arguments(text):
        return text
    spans = [(m.start(), m.end(), m.group()) for m in _SHELL_WORD.finditer(text)]
    if not spans:
        return text
    words = [_unquote(word) for _, _, word in spans]
    masked = _mask_words(words)
    if masked == words:
        return text
    pieces, last = [], 0
    for (start, end, raw), word, new in zip(spans, words, masked, strict=True):
        if new != word:
            quote = raw[0] if raw[0] in "'\"" and " " in new else ""
            pieces += [text[last:start], f"{quote}{new}{quote}"]
            last = end
    return "".join(pieces) + text[last:]


# --- the masker ---------------------------------------------------------------------------------------------


def secret_values(environment: Mapping[str, Any]) -> frozenset[str]:
    """The values to mask wherever they occur: those of secret-looking variables, and URL passwords in any
    value, long enough not to mask everything."""
    found: set[str] = set()
    for name, value in environment.items():
        if not isinstance(value, str):
            continue
        if _secret_under(name, value) and name not in _SHELL_VARIABLES:
            found.update((value, value.strip()))
        found.update(m["secret"] for m in _URL_PASSWORD.finditer(value))
    return frozenset(v for v in found if len(v) >= MIN_SECRET_LENGTH and v.lower() not in _NOT_SECRET_VALUES)


_MEMO_TEXT_MAX = 256  # characters: longer strings (scripts, log lines) are masked each time
_MEMO_SIZE = 50_000  # entries before the memo starts over


@dataclass(frozen=True)
class Masker:
    """Masks what is about to be printed. ``values``: the exact strings to hide wherever they occur."""

    values: frozenset[str] = frozenset()
    _pattern: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)
    # text() of the short strings seen, which repeat across services (keys, images, settings): a render of
    # 1,000 services masks ~94,000 strings, few of them distinct. Bounded, as run's log lines pass here too.
    _memo: dict[tuple[str, bool], str] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.values:
            # Longest first, so that a value containing another is hidden whole.
            alternatives = sorted(self.values, key=lambda v: (-len(v), v))
            object.__setattr__(self, "_pattern", re.compile("|".join(map(re.escape, alternatives))))

    @classmethod
    def for_environment(cls, *environments: Mapping[str, Any]) -> Masker:
        return cls(frozenset().union(*(secret_values(e) for e in environments)))

    def with_environment(self, environment: Mapping[str, Any]) -> Masker:
        more = secret_values(environment)
        return self if more <= self.values else Masker(self.values | more)

    # --- strings

    def text(self, text: str, *, arguments: bool = True) -> str:
        """Any printed string: known secret values, URL passwords, credential shapes, and (unless not
        ``arguments``: a container's own log lines are left to say `API_TOKEN=<unset>`) secret arguments."""
        known = self._memo.get((text, arguments))
        if known is not None:
            return known
        masked = self._masked_text(text, arguments)
        if len(text) <= _MEMO_TEXT_MAX:
            if len(self._memo) >= _MEMO_SIZE:
                self._memo.clear()
            self._memo[(text, arguments)] = masked
        return masked

    def _masked_text(self, text: str, arguments: bool) -> str:
        if self._pattern is not None:
            text = self._pattern.sub(SENSITIVE, text)
        if "://" in text:
            text = _URL_PASSWORD.sub(lambda m: m["keep"] + SENSITIVE, text)
        if _SHAPE_MARKERS.search(text):
            for markers, pattern in _SHAPES:
                if any(marker in text for marker in markers):
                    text = pattern.sub(SENSITIVE, text)
        if "uthoriz" in text or "UTHORIZ" in text or "Bearer" in text:
            text = _AUTHORIZATION.sub(lambda m: m["keep"] + SENSITIVE, text)
        return _mask_command_line(text) if arguments else text

    def named(self, name: str, value: Any) -> Any:
        """The value of a variable or option called ``name``."""
        if value is None or value == "":
            return value
        if _secret_under(str(name), value):
            return SENSITIVE
        return self.tree(value)

    def label(self, key: str, value: Any) -> Any:
        """A container label: masked whole when its key looks secret; the password of `user:password`
        entries when its key names users (`basicauth.users: admin:pw,bob:pw2`)."""
        if not isinstance(value, str) or value == "":
            return self.tree(value)
        if _secret_under(key, value):
            return SENSITIVE
        if {"USER", "USERS"} & set(_words(key)) and ":" in value:
            value = ",".join(
                entry.split(":", 1)[0] + ":" + SENSITIVE if ":" in entry else entry for entry in value.split(",")
            )
        return self.text(value)

    def arguments(self, words: list[Any]) -> list[Any]:
        """A command given as a list (command, entryPoint, healthCheck.command)."""
        if not all(isinstance(w, str) for w in words):
            return [self.tree(w) for w in words]
        return [self.text(w) for w in _mask_words(words)]

    # --- documents

    def tree(self, value: Any, key: Any = None) -> Any:
        """A JSON-like document (a RegisterTaskDefinition request, its canonical form, a JSON report): every
        string masked, and, by the key that holds them, environment values, labels and commands."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            if key in _NAMED_VALUES:
                return {self._key(k): self.named(k, v) for k, v in value.items()}
            if key == "dockerLabels":
                return {self._key(k): self.label(k, v) for k, v in value.items()}
            return {self._key(k): self.tree(v, k) for k, v in value.items()}
        if isinstance(value, list | tuple):
            if key in _NAMED_VALUES and all(isinstance(e, Mapping) and "name" in e for e in value):
                return [{**self.tree(e), "value": self.named(e["name"], e["value"])} if "value" in e else self.tree(e)
                        for e in value]
            if key in _COMMANDS:
                return self.arguments(list(value))
            return [self.tree(v) for v in value]
        return value

    def _key(self, key: Any) -> Any:
        return self.text(key) if isinstance(key, str) else key

    # --- diff

    def change(self, change: Change) -> Change:
        """One field-level change of `ecsflow diff`. When both sides differ but read the same once masked,
        the new side says ``(sensitive, changed)``, so a changed secret still shows as a change."""
        match = _NAMED_PATH.search(change.path)
        if match and match["map"] == "dockerLabels":
            old, new = self.label(match["name"], change.old), self.label(match["name"], change.new)
        elif match:
            old, new = self.named(match["name"], change.old), self.named(match["name"], change.new)
        else:
            key = _LAST_KEY.search(change.path)
            context = key.group(1) if key else None
            old, new = self.tree(change.old, context), self.tree(change.new, context)
        if change.old is not None and change.new is not None:
            old = _hide_counterpart(change.old, change.new, old, new)
            new = _flag_hidden_change(change.old, change.new, old, new)
        return replace(change, path=self.text(change.path), old=old, new=new)

    def changes(self, changes: Iterable[Change]) -> tuple[Change, ...]:
        return tuple(self.change(c) for c in changes)

    def changeset(self, changeset: ChangeSet) -> ChangeSet:
        return replace(changeset, families=tuple(
            replace(f, service=self.text(f.service), family=self.text(f.family), changes=self.changes(f.changes))
            for f in changeset.families
        ))


_NAMED_VALUES = frozenset({"environment", "options"})  # environment variables; log and driver options
_COMMANDS = frozenset({"command", "entryPoint"})  # healthCheck.command too
# A diff path into a map of named values: containers[app].environment.DB_PASSWORD, ...dockerLabels.a.b.users
_NAMED_PATH = re.compile(r"\.(?P<map>environment|options|dockerLabels)\.(?P<name>.+)$")
_LAST_KEY = re.compile(r"(?:^|\.)([A-Za-z]+)$")


def _hide_counterpart(old: Any, new: Any, masked_old: Any, masked_new: Any) -> Any:
    """``masked_old``, hidden where the same place of the new side was masked and the old was not: the old
    value of a field that now holds a secret is most likely the previous secret (rotated, no longer in the
    environment), which only this tells apart."""
    if isinstance(old, dict) and isinstance(new, dict) and isinstance(masked_old, dict) \
            and isinstance(masked_new, dict):
        return {k: _hide_counterpart(old.get(k), new.get(k), v, masked_new.get(k)) for k, v in masked_old.items()}
    if isinstance(old, list | tuple) and isinstance(new, list | tuple) and isinstance(masked_old, list) \
            and isinstance(masked_new, list) and len(old) == len(new):
        return [_hide_counterpart(*parts) for parts in zip(old, new, masked_old, masked_new, strict=True)]
    if isinstance(old, str) and masked_old == old and isinstance(new, str) and masked_new != new:
        return SENSITIVE
    return masked_old


def _flag_hidden_change(old: Any, new: Any, masked_old: Any, masked_new: Any) -> Any:
    """``masked_new``, where a part that changed but reads the same once masked says so."""
    if old == new or masked_old != masked_new:
        return masked_new
    if isinstance(masked_new, dict) and isinstance(old, dict) and isinstance(new, dict):
        return {k: _flag_hidden_change(old.get(k), new.get(k), masked_old.get(k), v) for k, v in masked_new.items()}
    if isinstance(masked_new, list) and isinstance(old, list | tuple) and isinstance(new, list | tuple) \
            and len(old) == len(new) == len(masked_new):
        return [_flag_hidden_change(*parts) for parts in zip(old, new, masked_old, masked_new, strict=True)]
    if isinstance(masked_new, str):
        return masked_new.replace(SENSITIVE, SENSITIVE_CHANGED)
    return masked_new
