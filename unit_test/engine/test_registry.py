import pytest

from engine.errors import UnknownComponent, did_you_mean, nearest
from engine.registry import Registry
from engine.schema.base import DATASETS, MODELS, PIPELINES


def test_unknown_name_answers_with_the_nearest_registered_ones():
    with pytest.raises(UnknownComponent) as info:
        MODELS.schema("mlpp")
    assert "did you mean 'mlp'" in str(info.value)


def test_nearest_prefers_close_matches():
    assert nearest("digts", DATASETS.names()) == ["digits"]
    assert did_you_mean("zzzz", ["a", "b"]) == "valid names: a, b"


def test_registered_components_cover_the_spine():
    assert {"mlp", "cnn", "transformer"} <= set(MODELS.names())
    assert {"digits", "iris", "wine", "breast_cancer", "diabetes", "csv", "jsonl"} <= set(DATASETS.names())
    assert {"synthetic_classification", "synthetic_regression"} <= set(DATASETS.names())
    assert "execution" in PIPELINES.names()


def test_implementations_are_imported_only_when_loaded():
    registry = Registry("thing")
    registry.register("json", dict, "json:dumps")
    assert registry.load("json")({"a": 1}) == '{"a": 1}'
    with pytest.raises(ValueError, match="registered twice"):
        registry.register("json", dict)
