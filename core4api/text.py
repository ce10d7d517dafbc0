"""What text can be stored and sent: a check without the API machinery (the job process's
result check and the event socket's frames use it too, with no REST framework loaded)."""

from __future__ import annotations


def text_error(text: str, what: str = "arguments") -> str | None:
    """Why ``text`` cannot be stored or sent (NUL, lone surrogate), or ``None``; linear."""
    if "\x00" in text:
        return f"NUL characters are not allowed in {what}"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            # valid JSON ("\ud800"), but no text: it can be neither stored nor sent back
            return f"invalid text in {what}: lone surrogate"
    return None
