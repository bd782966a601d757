import pytest

from bench.errors import UnknownNameError
from bench.registry import Registry


def test_register_get_alias_and_names():
    reg = Registry("thing")
    reg.register("alpha", "a")(1)
    reg.register_lazy("beta", "math:pi")
    assert reg.get("alpha") == 1 and reg.get("a") == 1
    assert reg.canonical("a") == "alpha"
    assert reg.names() == ["alpha", "beta"] and reg.names("b*") == ["beta"]
    assert reg.aliases_of("alpha") == ["a"]
    assert "a" in reg and "gamma" not in reg


def test_lazy_entries_import_on_first_get_only():
    import math

    reg = Registry("thing")
    reg.register_lazy("pi", "math:pi")
    assert reg._entries["pi"] == "math:pi"  # nothing imported yet
    assert reg.get("pi") == math.pi


def test_did_you_mean_and_duplicates():
    reg = Registry("model")
    reg.register("patn")(object())
    with pytest.raises(UnknownNameError, match=r"unknown model 'patm'; did you mean 'patn'"):
        reg.get("patm")
    with pytest.raises(UnknownNameError, match="known: patn"):
        reg.get("zzzzzz")
    with pytest.raises(ValueError, match="already registered"):
        reg.register("patn")(object())
    with pytest.raises(ValueError, match="module:attr"):
        reg.register_lazy("x", "no_colon")


def test_project_registries_resolve_pata_and_stay_lazy():
    import subprocess
    import sys

    from bench.models import GENERATORS

    assert GENERATORS.canonical("pata") == "patn"
    assert {"oracle", "source", "warp", "ctat", "patn", "pg2"} <= set(GENERATORS.names())
    code = (
        "import sys, bench.models, bench.metrics, bench.data; "
        "print(sorted(m for m in sys.modules if m.startswith(('baselines', 'ctat'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"  # no model package imported to list the registries


def test_unregister_removes_name_and_aliases():
    reg = Registry("thing")
    reg.register("alpha", "a")(1)
    reg.unregister("a")
    assert "alpha" not in reg and "a" not in reg
    with pytest.raises(UnknownNameError):
        reg.unregister("alpha")
