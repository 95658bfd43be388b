"""`.token` / `.token-list` parsing, merging and rendering (§5.4)."""

from __future__ import annotations

import base64
import itertools

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from gateway.tokens.store import (
    ParseResult,
    TokenEntry,
    merge,
    parse_token_file,
    parse_token_list,
    render_token_list,
)
from gateway.upstream.checksum import Identity, parse_checksum, stored_checksum

HEADER = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
NOW = 1_700_000_000


def jwt(n: int) -> str:
    payload = base64.urlsafe_b64encode(f'{{"sub":"auth0|user_{n}","exp":1900000000}}'.encode()).rstrip(b"=")
    return f"{HEADER}.{payload.decode()}.sig{n:040d}"


A, B, C, D = jwt(1), jwt(2), jwt(3), jwt(4)
USER = "user_01JABCDEFGHJKMNPQRSTVWXYZ0"


def ident(n: int) -> Identity:
    return Identity(f"{n:064x}", f"{n + 1000:064x}")


def counter_identities():
    numbers = itertools.count(100)
    return lambda: ident(next(numbers))


def listed_line(token_part: str, identity: Identity) -> str:
    return f"{token_part},{stored_checksum(identity, NOW)}"


def assert_no_token_in(problems: list[str], *tokens: str) -> None:
    for problem in problems:
        for token in tokens:
            assert token not in problem
            assert token.split(".")[1] not in problem


# --------------------------------------------------------------------------- .token


def test_token_file_line_forms():
    text = "\n".join(
        [
            "# my tokens",
            A,
            f"work::{B}",
            f"{USER}%3A%3A{C}",
            f"home::{USER}::{D}",
            "",
        ]
    )
    result = parse_token_file(text)
    assert result.problems == []
    assert result.entries == [
        TokenEntry("unnamed-1", A, A, None, generated_alias=True),
        TokenEntry("work", B, B),
        TokenEntry(USER, f"{USER}%3A%3A{C}", C),
        TokenEntry("home", f"{USER}::{D}", D),
    ]


KEY1 = "crsr_" + "0123456789abcdef" * 4
KEY2 = "key_" + "fedcba9876543210" * 4


def test_api_keys_take_the_same_line_forms_and_carry_their_kind():
    result = parse_token_file(f"{KEY1}\nci::{KEY2}\nsession::{A}\n")
    assert result.problems == []
    assert result.entries == [
        TokenEntry("unnamed-1", KEY1, KEY1, None, generated_alias=True, kind="api_key"),
        TokenEntry("ci", KEY2, KEY2, kind="api_key"),
        TokenEntry("session", A, A, kind="session"),
    ]
    # The kind survives the merge with `.token-list` and a round trip through the rendered list.
    merged = merge(result, parse_token_list(""), make_identity=counter_identities())
    reparsed = parse_token_list(render_token_list(merged, NOW))
    assert [(e.alias, e.jwt, e.kind) for e in reparsed.entries] == [
        ("unnamed-1", KEY1, "api_key"),
        ("ci", KEY2, "api_key"),
        ("session", A, "session"),
    ]


def test_a_key_is_never_an_alias_and_bad_keys_are_reported_without_the_key():
    result = parse_token_file(f"{KEY1}::{A}\nwork::crsr_tooshort\nwork::{KEY2}\n")
    assert [(e.alias, e.kind) for e in result.entries] == [("work", "api_key")]
    assert "more than one token" in result.problems[0] and "crsr_' or 'key_'" in result.problems[1]
    assert_no_token_in(result.problems, A)
    assert all(KEY1 not in problem and "crsr_tooshort" not in problem for problem in result.problems)


def test_decoded_cookie_form_uses_the_user_id_as_alias():
    [entry] = parse_token_file(f"{USER}::{A}").entries
    assert (entry.alias, entry.raw, entry.jwt) == (USER, A, A)


def test_encoded_three_part_and_mixed_separators():
    result = parse_token_file(f"w1%3A%3A{USER}%3a%3a{A}\nw2::{USER}%3A%3A{B}\n")
    assert [(e.alias, e.raw, e.jwt) for e in result.entries] == [
        ("w1", f"{USER}%3a%3a{A}", A),
        ("w2", f"{USER}%3A%3A{B}", B),
    ]


def test_crlf_blank_lines_whitespace_and_bom():
    text = f"\ufeff# c\r\n\r\n   \r\n  work :: {A}  \r\n\t{B}\r\n"
    result = parse_token_file(text)
    assert result.problems == []
    assert [(e.alias, e.raw) for e in result.entries] == [("work", A), ("unnamed-1", B)]


def test_malformed_lines_are_reported_without_the_token():
    lines = [
        f"a::b::c::{A}",  # 1: four parts
        "just some words",  # 2
        f"{A},{'0' * 64}/{'1' * 64}",  # 3: a .token-list line pasted into .token
        f"::{B}",  # 4: empty alias
        f"{C}::{D}",  # 5: two tokens
        f"we:ird::{A}",  # 6: ':' in alias
        HEADER + "." + B.split(".")[1],  # 7: two segments
        f"ok::{A}",  # 8: fine
    ]
    result = parse_token_file("\n".join(lines), source="/etc/cursor/.token")
    assert [(e.alias, e.jwt) for e in result.entries] == [("ok", A)]
    assert len(result.problems) == 7
    for lineno, problem in zip([1, 2, 3, 4, 5, 6, 7], result.problems, strict=True):
        assert problem.startswith(f"/etc/cursor/.token:{lineno}: ")
    assert_no_token_in(result.problems, A, B, C, D)


def test_duplicate_aliases_get_suffixes_and_first_wins():
    text = f"work::{A}\nwork::{B}\nwork-2::{C}\nwork::{D}\n"
    result = parse_token_file(text)
    assert [(e.alias, e.jwt) for e in result.entries] == [
        ("work", A),
        ("work-3", B),  # work-2 is taken by line 3
        ("work-2", C),
        ("work-4", D),
    ]
    assert result.problems == [
        ".token:2: alias 'work' is already used on line 1; renamed to 'work-3'",
        ".token:4: alias 'work' is already used on line 1; renamed to 'work-4'",
    ]


def test_duplicate_tokens_are_ignored_after_the_first():
    text = f"one::{A}\n{USER}%3A%3A{A}\n{A}\n{B}\n"
    result = parse_token_file(text)
    assert [(e.alias, e.jwt) for e in result.entries] == [("one", A), ("unnamed-1", B)]
    assert result.problems == [
        ".token:2: repeats the token of line 1; ignored",
        ".token:3: repeats the token of line 1; ignored",
    ]


def test_generated_aliases_skip_names_already_given():
    result = parse_token_file(f"{A}\nunnamed-2::{B}\n{C}\n{D}\n")
    assert [(e.alias, e.generated_alias) for e in result.entries] == [
        ("unnamed-1", True),
        ("unnamed-2", False),
        ("unnamed-3", True),
        ("unnamed-4", True),
    ]


def test_empty_file():
    assert parse_token_file("") == ParseResult([], [])
    assert parse_token_list("# only a comment\n") == ParseResult([], [])


# --------------------------------------------------------------------------- .token-list


def test_token_list_forms():
    text = "\n".join(
        [
            listed_line(A, ident(1)),
            listed_line(f"work::{B}", ident(2)),
            f"# {C},{stored_checksum(ident(3), NOW)}",
            f"{USER}%3A%3A{D},{'ab' * 32}/{'CD' * 32}",
        ]
    )
    result = parse_token_list(text)
    assert result.problems == []
    assert result.entries == [
        TokenEntry("unnamed-1", A, A, ident(1), generated_alias=True),
        TokenEntry("work", B, B, ident(2)),
        TokenEntry(USER, f"{USER}%3A%3A{D}", D, Identity("ab" * 32, "cd" * 32)),
    ]


def test_token_list_72_char_checksum_has_no_mac_id():
    [entry] = parse_token_list(f"{A},Vfb45Bi9{'e' * 64}\n").entries
    assert entry.identity == Identity("e" * 64, None)


def test_token_list_bad_lines():
    text = "\n".join(
        [
            A,  # 1: no checksum
            f"{A},x,y",  # 2: two commas
            f"nope,{stored_checksum(ident(1), NOW)}",  # 3: not a token
            f"bad::{B},not-a-checksum",  # 4: kept, identity None
            f"{C},",  # 5: empty checksum, kept
        ]
    )
    result = parse_token_list(text, source="tl")
    assert [(e.alias, e.jwt, e.identity) for e in result.entries] == [
        ("bad", B, None),
        ("unnamed-1", C, None),
    ]
    assert [p.split(": ", 1)[0] for p in result.problems] == ["tl:1", "tl:2", "tl:3", "tl:4", "tl:5"]
    assert "invalid checksum for 'bad'" in result.problems[3]
    assert "invalid checksum for 'unnamed-1'" in result.problems[4]
    assert_no_token_in(result.problems, A, B, C)


# --------------------------------------------------------------------------- merge


def test_merge_token_wins_and_keeps_listed_identities():
    tokens = parse_token_file(f"new-name::{A}\n{B}\nfresh::{C}\n")
    listed = parse_token_list(
        "\n".join(
            [
                listed_line(f"old-name::{A}", ident(1)),
                listed_line(B, ident(2)),
                listed_line(f"kept::{D}", ident(4)),
            ]
        )
    )
    merged = merge(tokens, listed, make_identity=counter_identities())
    assert [(e.alias, e.jwt, e.identity) for e in merged] == [
        ("new-name", A, ident(1)),  # adopts the .token alias, keeps the checksum
        ("unnamed-1", B, ident(2)),
        ("fresh", C, ident(100)),  # new: generated
        ("kept", D, ident(4)),  # only in .token-list: stays in the pool, after the .token entries
    ]


def test_merge_alias_conflict_replaces_the_token_but_keeps_the_machine():
    tokens = parse_token_file(f"work::{B}\n")
    listed = parse_token_list(listed_line(f"work::{A}", ident(1)))
    merged = merge(tokens, listed, make_identity=counter_identities())
    assert [(e.alias, e.jwt, e.identity) for e in merged] == [("work", B, ident(1))]


def test_merge_jwt_match_beats_alias_match():
    # "work" names A in the list, but A itself is in .token under another alias.
    tokens = parse_token_file(f"work::{B}\nhome::{A}\n")
    listed = parse_token_list(
        "\n".join([listed_line(f"work::{A}", ident(1)), listed_line(f"x::{B}", ident(2))])
    )
    merged = merge(tokens, listed, make_identity=counter_identities())
    assert [(e.alias, e.jwt, e.identity) for e in merged] == [("work", B, ident(2)), ("home", A, ident(1))]


def test_merge_generated_aliases_never_claim_by_alias():
    tokens = parse_token_file(f"{B}\n")  # unnamed-1
    listed = parse_token_list(listed_line(A, ident(1)))  # also unnamed-1, a different token
    merged = merge(tokens, listed, make_identity=counter_identities())
    assert [(e.alias, e.jwt, e.identity) for e in merged] == [
        ("unnamed-1", B, ident(100)),
        ("unnamed-2", A, ident(1)),
    ]


def test_merge_renumbers_listed_generated_aliases_like_a_re_read_would():
    tokens = parse_token_file(f"{A}\n")  # unnamed-1
    listed = parse_token_list("\n".join([listed_line(B, ident(2)), listed_line(f"unnamed-2::{C}", ident(3))]))
    merged = merge(tokens, listed, make_identity=counter_identities())
    assert [(e.alias, e.jwt, e.generated_alias) for e in merged] == [
        ("unnamed-1", A, True),
        ("unnamed-3", B, True),  # unnamed-2 is given to C further down
        ("unnamed-2", C, False),
    ]
    reread = parse_token_list(render_token_list(merged, NOW))
    assert [e.alias for e in reread.entries] == [e.alias for e in merged]


def test_merge_renames_listed_aliases_that_collide():
    tokens = parse_token_file(f"work::{A}\n")
    listed = parse_token_list(
        "\n".join([listed_line(f"home::{A}", ident(1)), listed_line(f"work::{B}", ident(2))])
    )
    merged = merge(tokens, listed, make_identity=counter_identities())
    assert [(e.alias, e.jwt, e.identity) for e in merged] == [("work", A, ident(1)), ("work-2", B, ident(2))]


def test_merge_repairs_invalid_checksums_in_order():
    tokens = parse_token_file(f"a::{A}\nb::{B}\n")
    listed = parse_token_list(f"a::{A},broken\nc::{C},broken\n")
    merged = merge(tokens, listed, make_identity=counter_identities())
    assert [(e.alias, e.identity) for e in merged] == [
        ("a", ident(100)),
        ("b", ident(101)),
        ("c", ident(102)),
    ]


def test_merge_deleted_list_line_is_re_added_with_a_new_checksum():
    tokens = parse_token_file(f"a::{A}\n")
    listed = parse_token_list(f"# {listed_line(f'a::{A}', ident(1))}\n")
    [entry] = merge(tokens, listed, make_identity=counter_identities())
    assert entry.identity == ident(100)


def test_merge_every_entry_gets_an_identity_by_default():
    merged = merge(parse_token_file(f"{A}\n{B}\n"), parse_token_list(""))
    assert all(e.identity is not None for e in merged)
    assert merged[0].identity != merged[1].identity


# --------------------------------------------------------------------------- render


def test_render_lines_and_trailing_newline():
    tokens = parse_token_file(f"{A}\nwork::{B}\n{USER}%3A%3A{C}\nuser_other::{D}\n")
    merged = merge(tokens, parse_token_list(""), make_identity=counter_identities())
    text = render_token_list(merged, NOW)
    assert text.endswith("\n")
    assert text.splitlines() == [
        listed_line(A, ident(100)),  # generated alias: not written
        listed_line(f"work::{B}", ident(101)),
        listed_line(f"{USER}%3A%3A{C}", ident(102)),  # the raw text implies the alias: not doubled
        listed_line(f"user_other::{D}", ident(103)),
    ]
    assert render_token_list([], NOW) == ""


def test_render_writes_the_alias_when_the_raw_does_not_imply_it():
    tokens = parse_token_file(f"{USER}%3A%3A{A}\n{USER}%3A%3A{B}\nw::{USER}%3A%3A{C}\n")
    merged = merge(tokens, parse_token_list(""), make_identity=counter_identities())
    lines = render_token_list(merged, NOW).splitlines()
    assert [line.rsplit(",", 1)[0] for line in lines] == [
        f"{USER}%3A%3A{A}",
        f"{USER}-2::{USER}%3A%3A{B}",  # the de-duplicated alias must be written
        f"w::{USER}%3A%3A{C}",
    ]


def test_render_refuses_entries_that_would_corrupt_the_file():
    with pytest.raises(ValueError):
        render_token_list([TokenEntry("a", A, A, None)], NOW)
    with pytest.raises(ValueError):
        render_token_list([TokenEntry("a,b", A, A, ident(1))], NOW)
    with pytest.raises(ValueError):
        render_token_list([TokenEntry("a", A + ",x", A, ident(1))], NOW)


def test_render_checksum_is_the_137_form_with_a_fresh_prefix():
    merged = merge(parse_token_file(f"a::{A}\n"), parse_token_list(""), make_identity=counter_identities())
    checksum = render_token_list(merged, NOW).strip().rsplit(",", 1)[1]
    assert len(checksum) == 137
    assert checksum.startswith("Vfb45Bi9")
    assert parse_checksum(checksum) == ident(100)


aliases = st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.@ ", min_size=1, max_size=12
).map(str.strip)
user_ids = st.sampled_from([USER, "user_01HZZZZZZZZZZZZZZZZZZZZZZZ", "0123456789abcdef01234567"])
separators = st.sampled_from(["::", "%3A%3A", "%3a%3a", "%3A%3a"])


@st.composite
def token_lines(draw: st.DrawFn) -> str:
    token = jwt(draw(st.integers(min_value=0, max_value=30)))
    form = draw(st.sampled_from(["bare", "alias", "cookie", "alias-cookie"]))
    if form in ("cookie", "alias-cookie"):
        token = f"{draw(user_ids)}{draw(separators)}{token}"
    if form in ("alias", "alias-cookie"):
        alias = draw(aliases)
        if alias:
            token = f"{alias}{draw(separators)}{token}"
    return token


@given(
    lines=st.lists(token_lines(), max_size=10),
    listed=st.lists(token_lines(), max_size=6),
    eol=st.sampled_from(["\n", "\r\n"]),
)
@example(lines=[f"0::{jwt(0)}"], listed=[jwt(0), jwt(1)], eol="\n")  # list-only unnamed-2 -> unnamed-1
@example(lines=[jwt(0)], listed=[jwt(1), f"unnamed-1::{jwt(2)}", f"unnamed-2::{jwt(3)}"], eol="\n")
def test_render_then_parse_round_trips_and_is_a_fixed_point(lines, listed, eol):
    tokens = parse_token_file(eol.join(lines))
    old_list = render_token_list(merge(parse_token_file("\n".join(listed)), parse_token_list("")), NOW)
    merged = merge(tokens, parse_token_list(old_list), make_identity=counter_identities())
    rendered = render_token_list(merged, NOW)

    reparsed = parse_token_list(rendered)
    assert reparsed.problems == []
    assert [(e.alias, e.raw, e.jwt, e.identity) for e in reparsed.entries] == [
        (e.alias, e.raw, e.jwt, e.identity) for e in merged
    ]
    # Reading the files again changes nothing, so the pool never rewrites the list in a loop.
    again = merge(tokens, reparsed, make_identity=counter_identities())
    assert render_token_list(again, NOW) == rendered
    assert len({e.alias for e in merged}) == len(merged)
    assert len({e.jwt for e in merged}) == len(merged)
