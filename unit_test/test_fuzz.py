"""The fuzz tier: Hypothesis generates hostile YAML and hostile command lines, and every answer keeps the promise.

    make test    a fixed budget (FUZZ_EXAMPLES, 60 examples per property by default)
    make fuzz    a long run (FUZZ_EXAMPLES=3000)

The promise, for any input: exit 0 or 2, no traceback, a bounded answer in bounded time, nothing written
on refusal, and an untrusted metaprogram that is accepted holds no interpolation, path or code reference.
"""

from __future__ import annotations

import os
import time

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.bounds import InputError, check_plain
from engine.compose import load
from engine.metaprogram import Metaprogram, MetaprogramError, validate
from engine.strict_yaml import UnsafeYAML
from engine.strict_yaml import load as safe_load
from unit_test.helpers import files_under

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,  # bounded time is asserted per example, with room for a loaded CI machine
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
    derandomize=os.environ.get("FUZZ_RANDOM") is None,  # CI: the same examples every run
)
ANSWER_LIMIT = 10_000  # characters one refusal may print
TIME_LIMIT = 5.0  # seconds one input may take

# ------------------------------------------------------------------------------------------- hostile pieces
TAGS = ["!!binary", "!!set", "!!python/object/apply:os.system", "!!python/name:os.getcwd", "!foo", "!!omap",
        "!!timestamp", "!!str", "!!int", "!!float", "!!bool", "!!null", "!!map", "!!seq", "!", "!<tag:x>",
        "!!merge", "!!value", "!!pairs", "!!python/tuple"]  # fmt: skip
INTERPOLATIONS = ["${oc.env:HOME}", "${oc.decode:'1'}", "${..x}", "${x}", "\\${x}", "${oc.env:PATH,/}",
                  "${oc.create:{a: 1}}", "$ {x}", "${", "}"]  # fmt: skip
PATHS = ["/etc/passwd", "../../../../tmp/x", "~/x", "~root", "file:///etc", "http://10.0.0.1", "..\\x", "a/../../b",
         "example:../../x", "/", ".", "..", "C:\\Windows"]  # fmt: skip
EDGE_NUMBERS = ["-0.0", "0.0", "1e308", "1e309", "-1e309", ".inf", "-.inf", ".nan", "0x7fffffffffffffff",
                "0o777", "9223372036854775808", "-9223372036854775809", "1_000", "0b101", "1e-400",
                "99999999999999999999999999999", "+1", "007", "1.", ".5", "true", "yes", "no", "on", "~", "null",
                "2001-12-14t21:59:43.10-05:00", "1:20", "=", "<<"]  # fmt: skip
ODD_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], min_codepoint=0, max_codepoint=0x10FFFF), max_size=30
)

scalar_text = st.one_of(
    st.sampled_from(INTERPOLATIONS + PATHS + EDGE_NUMBERS),
    ODD_TEXT.map(lambda t: yaml.safe_dump(t, default_style='"').strip().removesuffix("...").strip()),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["mlp", "digits", "execution", "adam", "x"]),
)


@st.composite
def hostile_yaml(draw) -> str:
    """A YAML text with tags, anchors and aliases, nesting, long values, odd unicode and edge numbers."""

    def node(depth: int) -> str:
        kind = draw(st.sampled_from(["scalar", "scalar", "map", "seq", "tagged", "alias"] if depth < 6 else ["scalar"]))
        if kind == "scalar":
            return draw(scalar_text)
        if kind == "tagged":
            return f"{draw(st.sampled_from(TAGS))} {draw(scalar_text)}"
        if kind == "alias":
            return "*" + draw(st.sampled_from(["a", "b", "nowhere"]))
        anchor = draw(st.sampled_from(["", "", "&a ", "&b "]))
        items = [node(depth + 1) for _ in range(draw(st.integers(0, 4)))]
        if kind == "seq":
            return f"{anchor}[{', '.join(items)}]"
        keys = [draw(st.one_of(scalar_text, st.sampled_from(["model", "dataset", "pipeline", "seed", "<<", "? [a]"])))
                for _ in items]  # fmt: skip
        return anchor + "{" + ", ".join(f"{k}: {v}" for k, v in zip(keys, items, strict=True)) + "}"

    body = "\n".join(f"{key}: {node(1)}" for key in draw(st.lists(st.sampled_from(
        ["model", "dataset", "pipeline", "seed", "path", "hydra", "defaults", "_target_", "${oc.env:HOME}", "model"]
    ), max_size=5)))  # fmt: skip
    extra = draw(
        st.sampled_from(
            [
                "",
                "",
                "deep: " + "[" * draw(st.integers(50, 5000)) + "]" * draw(st.integers(0, 5000)),
                "long: '" + "x" * draw(st.integers(1000, 400_000)) + "'",
                "wide: [" + ",".join(["1"] * draw(st.integers(1000, 250_000))) + "]",
                "---\nseed: 1",
                "bomb: &x [" + ",".join(["y"] * 50) + "]\nb2: &y [" + ",".join(["*x"] * 50) + "]\nb3: [" +
                ",".join(["*y"] * 100) + "]",
            ]
        )
    )  # fmt: skip
    return body + "\n" + extra


# ------------------------------------------------------------------------------------------- the properties
@pytest.fixture
def roots(tmp_path, monkeypatch):
    for key, sub in (("DATA", "data"), ("MODEL", "models"), ("CACHE", "cache"), ("OUTPUT", "out")):
        monkeypatch.setenv(f"METAPROGRAM_{key}_ROOT", str(tmp_path / sub))
    return tmp_path


def assert_safe_metaprogram(mp: Metaprogram) -> None:
    """What an untrusted metaprogram that passed may hold: plain data, no interpolation, path or code reference."""
    from engine.metaprogram import _paths_set, _unsafe_text

    check_plain(mp.canonical)
    stack = [mp.canonical]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            assert not any(k.startswith("_") and k.endswith("_") for k in item)
            stack += list(item.keys()) + list(item.values())
        elif isinstance(item, list):
            stack += item
        elif isinstance(item, str):
            assert _unsafe_text(item) is None, item
    assert not any(_paths_set(getattr(mp, kind)) for kind in ("model", "dataset", "pipeline"))


@FUZZ
@given(text=hostile_yaml(), encoding=st.sampled_from(["utf-8", "utf-8", "latin-1", "utf-16"]))
def test_any_text_through_the_validator_keeps_the_promise(text, encoding, roots, capsys):
    from engine.validate import main

    file = roots / "fuzz.yaml"
    try:
        file.write_bytes(text.encode(encoding))
    except UnicodeEncodeError:
        file.write_bytes(text.encode("utf-8", "surrogatepass"))
    started = time.monotonic()
    status = main([str(file)])
    elapsed = time.monotonic() - started
    out, err = capsys.readouterr()
    assert status in (0, 2) and "Traceback" not in out + err
    assert len(out) + len(err) < ANSWER_LIMIT and elapsed < TIME_LIMIT
    if status == 2:
        assert files_under(roots / "out") == []


@FUZZ
@given(text=hostile_yaml())
def test_the_loader_gives_plain_data_or_one_line(text):
    try:
        value = safe_load(text, "fuzz")
    except UnsafeYAML as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 1_000
        return
    try:
        check_plain({"v": value})
    except InputError as exc:  # a NUL or a non-string key: plain YAML, refused by the gate's bounds
        assert len(str(exc)) < 1_000


@pytest.fixture(scope="module")
def example() -> dict:
    return load([], "metaprogram/example").metaprogram.canonical


hostile_value = st.recursive(
    st.one_of(
        st.sampled_from(INTERPOLATIONS + PATHS), scalar_text, st.floats(), st.integers(), st.none(), st.booleans()
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.one_of(scalar_text, st.integers()), inner, max_size=3)
    ),  # fmt: skip
    max_leaves=8,
)


@FUZZ
@given(data=st.data())
def test_an_untrusted_metaprogram_with_one_hostile_value_is_refused_or_safe(data, example):
    """Anywhere in a valid metaprogram, one hostile value or key: refused with MetaprogramError, or accepted
    holding nothing unsafe."""
    import copy

    tree = copy.deepcopy(example)
    node = tree
    for _ in range(data.draw(st.integers(0, 4))):
        keys = [k for k, v in node.items() if isinstance(v, dict)] if isinstance(node, dict) else []
        if not keys:
            break
        node = node[data.draw(st.sampled_from(sorted(keys)))]
    key = data.draw(st.one_of(st.sampled_from(sorted(node)), scalar_text, st.sampled_from(["_target_", "${x}"])))
    node[key] = data.draw(hostile_value)
    try:
        mp = validate(tree, trusted=False)
    except MetaprogramError as exc:
        assert len(str(exc)) < 80_000
        return
    assert_safe_metaprogram(mp)


ARGV_TOKENS = st.one_of(
    st.builds(
        lambda k, v: f"{k}={v}",
        st.sampled_from(
            [
                "model.hidden",
                "model.name",
                "pipeline.optim.lr",
                "seed",
                "pipeline.epochs",
                "dataset.name",
                "force",
                "dry_run",
                "path.output_root",
                "+model.x",
                "~model.hidden",
                "++pipeline.hooks.x",
                "hydra.run.dir",
                "model",
                "x.y.z",
                "",
            ]
        ),
        scalar_text,
    ),  # fmt: skip
    st.sampled_from(
        [
            "--cfg",
            "job",
            "--info",
            "-m",
            "--config-name",
            "metaprogram/nope",
            "--config-path=/etc",
            "+metaprogram/component/model=../../x",
            "hydra/launcher=nope",
            "model.hidden=[" * 40,
        ]
    ),
    ODD_TEXT,
)


@FUZZ
@given(argv=st.lists(ARGV_TOKENS, max_size=4))
def test_any_command_line_keeps_the_promise(argv, roots, capsys):
    from engine.boundary import guarded
    from engine.cli import main

    started = time.monotonic()
    try:
        status = guarded(main, ["--config-name=metaprogram/example", *argv, "dry_run=true"])
    except SystemExit as exc:  # argparse and Hydra's own flags (--help, unknown flags) exit themselves
        status = exc.code if isinstance(exc.code, int) else 2
    out, err = capsys.readouterr()
    assert status in (0, 2), out + err
    assert "Traceback" not in out + err and time.monotonic() - started < 3 * TIME_LIMIT
    assert files_under(roots / "out") == []


@FUZZ
@given(argv=st.lists(st.one_of(ODD_TEXT, st.sampled_from(["runs", "show", "diff", "--where", "--since", "--until",
       "--sort", "--columns", "--status", "x=${y}", "x='a", "99999999999d", "-1s", "list", "report", "--root"])),
       max_size=5))  # fmt: skip
def test_any_runs_command_keeps_the_promise(argv, roots, capsys):
    from database.cli import main

    (roots / "out").mkdir(exist_ok=True)
    try:
        status = main(["--root", str(roots / "out"), *argv])
    except SystemExit as exc:  # argparse's own answer to an unknown flag
        status = exc.code
    out, err = capsys.readouterr()
    assert status in (0, 2) and "Traceback" not in out + err


plain_data = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**63), 2**63 - 1),
        st.floats(allow_nan=False, allow_infinity=False),
        ODD_TEXT,
        st.sampled_from(EDGE_NUMBERS),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.one_of(ODD_TEXT, st.integers()), inner, max_size=4)
    ),  # fmt: skip
    max_leaves=20,
)


@FUZZ
@given(value=plain_data, flow=st.booleans())
def test_the_fast_reader_and_the_careful_reader_agree(value, flow):
    """libyaml's own loader serves texts that plainly need no care; on those it must give what the careful reader
    gives, or fail so that the careful reader answers."""
    from engine.bounds import LIMITS
    from engine.strict_yaml import _Builder, _fast_load, _Parser, _plainly_safe

    text = yaml.safe_dump({"v": value}, default_flow_style=flow, allow_unicode=True)
    if not _plainly_safe(text, LIMITS):
        return
    try:
        careful = _Builder("t", LIMITS).build(yaml.parse(text, Loader=_Parser))
    except UnsafeYAML:
        careful = "refused"
    try:
        fast = _fast_load(text)
    except Exception:
        return  # load() then asks the careful reader
    assert fast == careful
