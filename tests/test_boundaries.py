"""What ships never crosses a service line: a service imports only itself and libs/common, and
libs/common (its test fixtures too) imports no service. Test support lives beside the tests
(``services/*/tests/support``, ``tests/support``), never in a shipped package."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVICES = sorted(p.parent.parent.name for p in ROOT.glob("services/*/src/harmoniq_*"))


def _imported_packages(package_dir: Path) -> dict[str, set[str]]:
    """Top-level ``harmoniq_*`` packages each module of ``package_dir`` imports."""
    found: dict[str, set[str]] = {}
    for module in package_dir.rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(module.read_text(), str(module))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[str(module.relative_to(ROOT))] = {n for n in names if n.startswith("harmoniq_")}
    return found


def test_no_shipped_module_imports_another_service() -> None:
    assert SERVICES  # the glob found the services
    crossings = []
    for service in SERVICES:
        own = f"harmoniq_{service}"
        for module, imported in _imported_packages(ROOT / "services" / service / "src").items():
            crossings += [f"{module} -> {name}" for name in imported - {own, "harmoniq_common"}]
    for module, imported in _imported_packages(ROOT / "libs" / "common" / "src").items():
        crossings += [f"{module} -> {name}" for name in imported - {"harmoniq_common"}]
    assert crossings == []


def test_test_support_is_not_in_shipped_packages() -> None:
    shipped = [p.relative_to(ROOT) for p in ROOT.glob("services/*/src/harmoniq_*/testing*")]
    assert shipped == []
