"""The repo map: real tree-sitter parsing of every supported language, of the example and of a real
installed package; ranking toward the task; the token budget; the per-file cache; `ornith map`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import rich

from ornith_local.cli.main import main
from ornith_local.tools.base import call_tool
from ornith_local.tools.repomap import RepoMap, RepoMapTool, estimate_tokens
from ornith_local.tools.repomap.cache import cache_directory
from ornith_local.tools.repomap.languages import available, grammar
from ornith_local.tools.repomap.tags import extract
from ornith_local.tools.workspace import Workspace

SAMPLES: dict[str, tuple[str, set[str]]] = {
    "python": ("class Cart:\n    def total(self, items):\n        return sum(items)\n\ndef helper():\n    pass\n",
               {"Cart", "total", "helper"}),
    "javascript": ("class Cart { total(items) { return 0; } }\nfunction helper() {}\nconst arrow = () => 1;\n",
                   {"Cart", "total", "helper", "arrow"}),
    "typescript": ("interface Shape { area(): number }\ntype Id = string;\nclass Box implements Shape {\n"
                   "  area(): number { return 1; }\n}\nexport function make(): Box { return new Box(); }\n",
                   {"Shape", "Id", "Box", "area", "make"}),
    "tsx": ("export function App(): JSX.Element { return <div/>; }\n", {"App"}),
    "go": ("package main\n\ntype Cart struct{}\n\nfunc (c *Cart) Total() int { return 0 }\n\nfunc Helper() {}\n",
           {"Cart", "Total", "Helper"}),
    "rust": ("struct Cart;\ntrait Priced { fn price(&self) -> u32; }\nimpl Cart { fn total(&self) -> u32 { 0 } }\n"
             "fn helper() {}\n", {"Cart", "Priced", "price", "total", "helper"}),
    "java": ("class Cart {\n  Cart() {}\n  int total() { return 0; }\n}\ninterface Priced {}\n",
             {"Cart", "total", "Priced"}),
    "c": ("struct cart { int n; };\ntypedef int money;\nint total(struct cart *c) { return c->n; }\n"
          "char *name(void) { return 0; }\n", {"cart", "money", "total", "name"}),
    "cpp": ("namespace shop {\nclass Cart {\n public:\n  int total() { return 0; }\n};\n}\n"
            "int shop_helper() { return 1; }\nint Cart::size() { return 0; }\n",
            {"shop", "Cart", "total", "shop_helper", "size"}),
}


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("ORNITH_CACHE_DIR", str(cache))
    return cache


def test_all_required_grammars_load_offline() -> None:
    assert set(SAMPLES) <= set(available())


@pytest.mark.parametrize("language", sorted(SAMPLES))
def test_definitions_are_extracted_for_each_language(language: str) -> None:
    source, expected = SAMPLES[language]
    loaded = grammar(language)
    assert loaded is not None
    tags = extract(source.encode(), loaded)
    assert {d.name for d in tags.definitions} == expected
    assert all(d.line >= 1 and d.signature for d in tags.definitions)


def test_example_map_ranks_the_library_and_follows_the_task(example_repo: Path, isolated_cache: Path) -> None:
    repo_map = RepoMap(example_repo)
    plain = repo_map.build(tokens=2000)
    assert plain.files_total == 8 and plain.files_parsed == 8
    assert "invoicing/discounts.py:\n   16│def bulk_discount_rate(quantity: int) -> Decimal:" in plain.text
    # The library the tests call is more central than any single test.
    assert plain.text.index("invoicing/money.py") < plain.text.index("tests/")
    focused = repo_map.build(task="coupon codes are rejected in apply_coupon", tokens=60)
    assert focused.focus_names == ["apply_coupon"]
    assert focused.text.startswith("invoicing/discounts.py:")
    assert estimate_tokens(focused.text) <= 60
    by_file = repo_map.build(focus=["tests/test_money.py"], tokens=80)
    assert "tests/test_money.py:" in by_file.text
    directory = cache_directory(repo_map.root)
    assert directory.parent == isolated_cache / "repomap" and list(directory.glob("tags-*.bin"))


def test_token_budget_is_respected_at_every_size(example_repo: Path) -> None:
    repo_map = RepoMap(example_repo)
    total = repo_map.build(tokens=100_000)
    assert total.definitions_shown == total.definitions_total
    previous = -1
    for budget in [0, 20, 50, 100, 200, 400, 800]:
        result = repo_map.build(tokens=budget)
        assert estimate_tokens(result.text) <= budget
        assert result.definitions_shown >= previous
        previous = result.definitions_shown


def test_cache_reuses_unchanged_files_and_reparses_changed_ones(example_repo: Path) -> None:
    assert RepoMap(example_repo).build().files_parsed == 8
    assert RepoMap(example_repo).build().files_parsed == 0
    assert RepoMap(example_repo).build(tokens=300).files_parsed == 0  # a new query over the cached tags
    target = example_repo / "invoicing" / "money.py"
    os.utime(target, ns=(1, 1))  # touched, same content: rehashed, not reparsed
    assert RepoMap(example_repo).build().files_parsed == 0
    target.write_text(target.read_text() + "\ndef brand_new_helper(x):\n    return x\n")
    result = RepoMap(example_repo).build(tokens=5000)
    assert result.files_parsed == 1 and "def brand_new_helper(x):" in result.text
    target.unlink()
    assert "invoicing/money.py" not in RepoMap(example_repo).build(tokens=5000).text


def test_map_of_a_real_installed_package() -> None:
    package = Path(rich.__file__).parent  # rich: ~80 modules of real-world Python
    result = RepoMap(package).build(tokens=1500)
    assert result.files_total > 50
    assert result.definitions_total > 500
    assert "console.py:" in result.text and "class Console:" in result.text
    assert estimate_tokens(result.text) <= 1500


def test_repo_map_tool_and_cli(example_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tool = RepoMapTool(Workspace.at(example_repo), task="the bulk discount tiers are off by one")
    result = call_tool(tool, {"focus": ["bulk_discount_rate"], "tokens": 100})
    assert result.ok and result.text.startswith("invoicing/discounts.py:")
    assert main(["map", str(example_repo), "--tokens", "300", "--focus", "format_money"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("invoicing/money.py:")
    assert main(["map", str(example_repo), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["files"] == 8 and figures["files_parsed"] == 0 and "map" in figures
    assert main(["map", str(example_repo / "missing")]) == 2
    assert "not a directory" in capsys.readouterr().err
