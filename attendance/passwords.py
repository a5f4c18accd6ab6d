"""Password rules: long enough, not one of the commonest, not trivially repetitive or sequential.

A school's staff choose passwords under time pressure; the ones guessed first (``1234567890``,
``matkhau123``, ``aaaaaaaaaa``, ``abcabcabca``, ``qwertyuiop``) are refused with a reason, whatever their length.
"""

from __future__ import annotations

import unicodedata

from attendance.errors import InvalidInput

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # argon2 copes, but an unbounded input is a cheap denial of service
# The commonest passwords of 10 or more characters (shorter ones are refused by length), and the
# Vietnamese ones staff reach for; compared case-insensitively, spaces ignored.
COMMON_PASSWORDS = frozenset({
    "1234567890", "0123456789", "0987654321", "9876543210", "1234567891", "12345678910", "123456789a",
    "a123456789", "123456789q", "1q2w3e4r5t", "1qaz2wsx3edc", "qwertyuiop", "qwerty1234", "qwerty12345",
    "asdfghjkl1", "asdfghjkl;", "zxcvbnm123", "password12", "password123", "password1234", "passw0rd12",
    "password!1", "iloveyou12", "iloveyou123", "abc1234567", "abcd123456", "abcde12345", "admin12345",
    "admin123456", "administrator", "welcome123", "welcome1234", "letmein123", "football12", "baseball12",
    "princess12", "sunshine12", "superman12", "starwars12", "trustno1234", "computer12", "internet12",
    "matkhau123", "matkhau1234", "matkhaumoi", "matkhau@123", "123456789@", "anhyeuem123", "anhyeuem12",
    "emyeuanh123", "vietnam123", "vietnam1234", "hanoi12345", "saigon1234", "truonghoc1", "truonghoc123",
    "giaovien123", "hocsinh123", "diemdanh123", "attendance1", "attendance123", "changeme123", "changeme12",
})
KEYBOARD_ROWS = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm", "abcdefghijklmnopqrstuvwxyz")


def check_password_strength(password: str, username: str = "") -> None:
    """Raise ``InvalidInput`` (with the reason) unless ``password`` is 10 to 1024 characters, not a common
    password, not the username, and not a repetition or run (``aaaaaaaaaa``, ``abcabcabca``, ``0123456789``)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(f"password must have at most {MAX_PASSWORD_LENGTH} characters")
    folded = "".join(unicodedata.normalize("NFKC", password).casefold().split())
    if folded in COMMON_PASSWORDS:
        raise InvalidInput("this password is one of the most common: choose another")
    if username and unicodedata.normalize("NFKC", username).casefold() in folded:
        raise InvalidInput("the password must not contain the username")
    if _is_repetition(folded):
        raise InvalidInput("the password repeats a few characters: choose a passphrase of several words")
    if _is_run(folded):
        raise InvalidInput("the password is a run of keys or letters: choose a passphrase of several words")


def _is_repetition(text: str) -> bool:
    """``aaaaaaaaaa``, ``ababababab``, ``abcabcabca``, ``12341234...``: a unit of 1-4 characters repeated, or
    at most 3 distinct characters in all."""
    if len(set(text)) <= 3:
        return True
    return any(text == (text[:unit] * (len(text) // unit + 1))[:len(text)] for unit in range(1, 5))


def _is_run(text: str) -> bool:
    """A stretch of a keyboard row or the alphabet, forwards or backwards (``3456789012`` counts, wrapping)."""
    for row in KEYBOARD_ROWS:
        for line in (row, row[::-1]):
            doubled = line + line
            if len(text) <= len(doubled) and text in doubled:
                return True
    return False
