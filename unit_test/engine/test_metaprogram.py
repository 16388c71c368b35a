"""The validation gate and the identity hash."""

import pytest

from engine.metaprogram import Caps, MetaprogramError, validate


def minimal(**changes):
    raw = {"model": {"name": "mlp"}, "dataset": {"name": "digits"}, "pipeline": {"name": "execution"}}
    for key, value in changes.items():
        kind, _, leaf = key.partition("__")
        raw[kind][leaf] = value
    return raw


def errors_of(raw, trusted=False, caps=Caps()):
    with pytest.raises(MetaprogramError) as info:
        validate(raw, trusted=trusted, caps=caps)
    return info.value.errors


def test_id_does_not_depend_on_key_order_or_on_spelling_out_defaults():
    a = validate(minimal(), trusted=False)
    explicit = {
        "seed": 0,
        "pipeline": {"optim": {"lr": 0.001, "name": "adam"}, "name": "execution", "epochs": 20},
        "dataset": {"standardize": True, "name": "digits"},
        "model": {"layers": 2, "hidden": 128, "name": "mlp"},
    }
    b = validate(explicit, trusted=False)
    assert a.id == b.id and len(a.id) == 16
    assert validate(minimal(model__hidden=64), trusted=False).id != a.id
    assert validate({**minimal(), "seed": 1}, trusted=False).id != a.id


def test_float_spelling_does_not_change_the_id():
    a = validate(minimal(pipeline__epochs=3), trusted=True)
    raw = minimal(pipeline__epochs=3)
    raw["pipeline"]["optim"] = {"lr": 1e-3}
    assert validate(raw, trusted=True).id == a.id


def test_every_error_is_reported_at_once_with_its_key_path_and_nearest_names():
    raw = minimal(model__hiden=3)
    raw["dataset"]["name"] = "digts"
    raw["pipeline"]["optim"] = {"name": "adamm", "lr": -1}
    raw["pipeline"]["hooks"] = {"chekpoint": {}}
    errors = errors_of(raw)
    assert len(errors) == 5
    text = "\n".join(errors)
    assert "model.hiden: unknown key; did you mean 'hidden'?" in text
    assert "dataset.name: unknown dataset 'digts'; did you mean 'digits'?" in text
    assert "pipeline.optim.name: 'adamm' is not allowed; did you mean 'adam' or 'adamw'?" in text
    assert "pipeline.optim.lr: Input should be greater than 0" in text
    assert "pipeline.hooks.chekpoint: unknown hook 'chekpoint'; did you mean 'checkpoint'?" in text


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"model__hidden": "wide"}, "model.hidden: expected a number, got str"),
        ({"model__hidden": True}, "model.hidden: expected a number, got bool"),
        ({"model__hidden": 0}, "model.hidden: Input should be greater than or equal to 1"),
        ({"pipeline__epochs": 10**9}, "pipeline.epochs: Input should be less than or equal to"),
        ({"model__activation": "relux"}, "did you mean 'relu'"),
        ({"dataset__split": {"test_fraction": 0.9}}, "dataset.split.test_fraction"),
    ],
)
def test_bad_values_name_the_key(change, expected):
    assert any(expected in e for e in errors_of(minimal(**change)))


def test_missing_required_values_are_named():
    errors = errors_of({"model": {"name": "mlp"}, "dataset": {"name": "csv", "file": "???"}, "pipeline": "???"})
    assert "dataset.file: missing required value" in errors
    assert "dataset.target: missing required value" in errors
    assert any(e.startswith("pipeline: missing") for e in errors)


def test_cross_field_rules_are_checked():
    errors = errors_of({**minimal(), "model": {"name": "transformer", "d_model": 30, "heads": 4}})
    assert any("divisible by heads" in e for e in errors)


def test_untrusted_input_refuses_code_interpolation_paths_and_overruns():
    raw = minimal(model___target_="os.system", pipeline__epochs="${oc.env:HOME}")
    raw["dataset"] = {"name": "csv", "file": "/etc/passwd", "target": "x"}
    raw["pipeline"]["resources"] = {"cpus": 999}
    raw["path"] = {"output_root": "/"}
    errors = errors_of(raw)
    assert "model._target_: _target_ is not accepted from untrusted input" in errors
    assert "pipeline.epochs: interpolation '${oc.env:HOME}' is not accepted from untrusted input" in errors
    assert "dataset.file: path keys are not accepted from untrusted input" in errors
    assert "path: not accepted from untrusted input" in errors
    assert any("pipeline.resources.cpus: 999.0 is over the cap" in e for e in errors)
    assert len(errors) == 5  # each problem once: refused values are not re-reported by the schema


def test_the_same_input_is_fine_when_trusted_except_unknown_keys(paths):
    (paths.root("data_root") / "table.csv").parent.mkdir(parents=True)
    (paths.root("data_root") / "table.csv").write_text("x,y\n1,0\n")
    raw = minimal()
    raw["dataset"] = {"name": "csv", "file": "table.csv", "target": "y"}
    raw["pipeline"]["resources"] = {"cpus": 999}
    assert validate(raw, trusted=True, paths=paths).dataset.file == "table.csv"


def test_caps_are_configurable():
    raw = minimal()
    raw["pipeline"]["resources"] = {"gpus": 2}
    assert any("gpus" in e for e in errors_of(raw, caps=Caps(gpus=1)))
    assert validate(raw, trusted=False, caps=Caps(gpus=2)).pipeline.resources.gpus == 2


def test_objective_follows_the_task():
    assert validate(minimal(), trusted=True).objective() == ("val/accuracy", "max")
    regression = minimal()
    regression["dataset"]["name"] = "diabetes"
    assert validate(regression, trusted=True).objective() == ("val/mse", "min")
    custom = minimal()
    custom["pipeline"]["objective"] = {"metric": "val/loss"}
    assert validate(custom, trusted=True).objective() == ("val/loss", "min")


@pytest.mark.integration  # a fresh interpreter
def test_validation_never_imports_torch():
    import subprocess
    import sys

    code = (
        "import sys; from engine.metaprogram import validate;"
        "validate({'model': {'name': 'cnn'}, 'dataset': {'name': 'digits'}, 'pipeline': {'name': 'execution'}},"
        " trusted=False); import engine.compose, engine.validate;"
        "heavy = [m for m in ('torch', 'transformers', 'llmcompressor', 'lm_eval', 'guidellm', 'ray')"
        " if m in sys.modules]; print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_metaprogram_error_crosses_processes_whole():
    """Raised in a Ray trial or a job_launch job, it is pickled: its errors, not its message, rebuild it."""
    import pickle

    from engine.metaprogram import MetaprogramError

    sent = MetaprogramError(["model.init_from: the weights do not fit", "seed: must be an integer"], "job.yaml")
    received = pickle.loads(pickle.dumps(sent))
    assert received.errors == sent.errors and received.source == sent.source and str(received) == str(sent)
