"""Warnings and notes that can be said once for several services (docs/design.md section 9).

A builder says the same thing of every service that shares a YAML anchor: "environment variable X is empty"
five times for five Airflow services. A ``Message`` keeps what is said (``text``) apart from whom it is said of
(``services``), so that the printer can say it once, naming them all (``grouped``). A ``Message`` is a ``str``
too, reading as it always did (``service 'api': text``), so code and tests that treat warnings as text keep
working, and a plain string stays a valid warning: equal strings are printed once.
"""

from __future__ import annotations

from collections.abc import Iterable


class Message(str):
    """``text`` said of ``services`` (none: of the project). As a str: ``service 'a': text``, or
    ``services 'a' and 'b': text``."""

    text: str
    services: tuple[str, ...]

    def __new__(cls, text: str, services: Iterable[str] = ()) -> Message:
        services = tuple(dict.fromkeys(services))
        message = super().__new__(cls, f"{subject(services)}: {text}" if services else text)
        message.text, message.services = text, services
        return message

    def __getnewargs__(self) -> tuple[str, tuple[str, ...]]:  # copy and pickle rebuild it from its parts
        return self.text, self.services


def subject(services: tuple[str, ...]) -> str:
    """``service 'a'``, ``services 'a' and 'b'``, ``services 'a', 'b' and 'c'``."""
    names = [f"'{name}'" for name in services]
    if len(names) == 1:
        return f"service {names[0]}"
    return f"services {', '.join(names[:-1])} and {names[-1]}"


def grouped(messages: Iterable[str]) -> list[str]:
    """Each message once, where it was first said: ``Message``s with the same text become one naming all their
    services, in the order they were said; a plain string said twice is said once."""
    order: dict[tuple[str, str], list[str]] = {}  # a Message's text (or a plain string) -> the services it is said of
    for message in messages:
        if isinstance(message, Message) and message.services:
            order.setdefault(("message", message.text), []).extend(message.services)
        else:
            order.setdefault(("plain", str(message)), [])
    return [Message(text, services) if kind == "message" else text for (kind, text), services in order.items()]
