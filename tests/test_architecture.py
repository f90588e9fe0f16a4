"""The one-way dependency rule, enforced with import-linter (contracts in pyproject.toml)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


def test_domain_uses_stdlib_only():
    """domain/ must not import third-party packages either (pure value types and rules)."""
    import ast

    allowed_roots = set(sys.stdlib_module_names) | {"alfax", "__future__"}
    for path in (ROOT / "alfax" / "domain").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots = [node.module.split(".")[0]]
            else:
                continue
            for r in roots:
                assert r in allowed_roots, f"{path.name} imports {r}"
