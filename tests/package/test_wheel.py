"""The distribution as a user gets it: the wheel holds the three reusable packages and
nothing of this repository's own pipeline, and a fresh virtual environment imports them from
the wheel, never from this source tree.

The fresh venv gets the wheel alone (``--no-deps``) and borrows its dependencies from the
dev venv through a ``.pth`` file naming a directory of symlinks to the dev venv's
site-packages entries, minus this project's own editable install: no network at test time,
and nothing of the source tree on ``sys.path``. ``fresh_venv_with_wheel`` is the helper for
any test that runs a user's project against the installed distribution.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
DIST_NAME = PYPROJECT["name"]  # exactly-once-sqs
DIST_INFO = f"{DIST_NAME.replace('-', '_')}-{PYPROJECT['version']}.dist-info"
PACKAGES = ("exactly_once", "exactly_once_cdk", "exactly_once_local")
# exactly_once (functions/exactly_once) has no py.typed marker yet; it joins this list when
# the file exists (package-data already takes every package's py.typed).
TYPED_PACKAGES = ("exactly_once", "exactly_once_cdk", "exactly_once_local")
PLUGIN = ("exactly_once", "exactly_once_local.pytest_plugin")  # pytest11: name, module

# Never copied into the build's source tree: environments, caches, build output.
NOT_SOURCE = {
    ".git",
    ".venv",
    "node_modules",
    "cdk.out",
    ".cdk-home",
    ".jsii-cache",
    "reports",
    "build",
    "dist",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
}
TIMEOUT_SECONDS = 600


def run(
    command: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``command``; fail the test with its output if it fails."""
    completed = subprocess.run(
        command,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    assert completed.returncode == 0, (
        f"{' '.join(command)} exited {completed.returncode}\n"
        f"stdout:\n{completed.stdout}\nstderr:\n{completed.stderr}"
    )
    return completed


def _not_source(directory: str, names: list[str]) -> set[str]:
    return {n for n in names if n in NOT_SOURCE or n.endswith((".egg-info", ".pyc"))}


def build_wheel(directory: Path) -> Path:
    """Build the project's wheel under ``directory`` and return its path.

    From a copy of the work tree, so that the test writes nothing into it and a stale
    ``build/`` there cannot leak old files into the wheel; with the dev venv's pinned
    setuptools (no isolated build environment) and no index: offline.
    """
    source = directory / "source"
    shutil.copytree(ROOT, source, ignore=_not_source)
    wheelhouse = directory / "wheelhouse"
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--wheel-dir",
            str(wheelhouse),
            str(source),
        ]
    )
    (wheel,) = wheelhouse.glob("*.whl")
    return wheel


def _own_install(name: str) -> bool:
    """This project's own entries in the dev venv: its editable finder, metadata, packages."""
    return (
        name.startswith(("__editable__", DIST_NAME.replace("-", "_")))
        or name.endswith((".pth", ".egg-link"))
        or name.split(".")[0] in PACKAGES
        or name == "__pycache__"
    )


def site_packages(python: Path) -> Path:
    """The site-packages directory of the interpreter ``python``."""
    script = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    return Path(run([str(python), "-c", script]).stdout.strip())


def clean_environment(home: Path) -> dict[str, str]:
    """No PYTHONPATH, no VIRTUAL_ENV, an empty HOME; PATH kept (the CDK's jsii needs node)."""
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "LANG", "LC_ALL", "TMPDIR"}}
    home.mkdir(parents=True, exist_ok=True)
    env["HOME"] = str(home)
    env["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = "20"
    return env


def fresh_venv_with_wheel(directory: Path, wheel: Path | None = None) -> Path:
    """A new virtual environment in ``directory / "venv"`` with the project's wheel installed
    (built first when ``wheel`` is None); returns its python.

    The wheel goes in alone; its dependencies (and pytest, moto, the CDK) come from the dev
    venv through ``_dev_dependencies.pth`` naming ``directory / "dev-dependencies"``, a
    directory of symlinks to the dev venv's site-packages entries without this project's
    editable install. The venv has no pip of its own: install more into it with
    ``sys.executable -m pip --python <its python> install ...``. Run it with a working
    directory outside the repository and ``clean_environment(...)``.
    """
    wheel = wheel or build_wheel(directory / "wheel")
    venv = directory / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python)]
    run([*pip, "install", "--quiet", "--no-deps", "--no-index", str(wheel)])
    dependencies = directory / "dev-dependencies"
    dependencies.mkdir()
    dev_sites = {Path(sysconfig.get_paths()[key]) for key in ("purelib", "platlib")}
    for site in dev_sites:
        for entry in site.iterdir():
            link = dependencies / entry.name
            if not _own_install(entry.name) and not link.exists():
                link.symlink_to(entry)
    (site_packages(python) / "_dev_dependencies.pth").write_text(f"{dependencies}\n")
    return python


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def fresh_python(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    return fresh_venv_with_wheel(tmp_path_factory.mktemp("fresh"), wheel)


def test_the_wheel_holds_the_three_packages_and_nothing_else(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = archive.read(f"{DIST_INFO}/entry_points.txt").decode()
    top_level = {name.split("/")[0] for name in names}
    # Not the ledger, infra, pipeline, bench or tests: only the three packages and metadata.
    expected = {*PACKAGES, DIST_INFO}
    assert top_level == expected, f"the wheel holds {sorted(top_level)}, not {sorted(expected)}"
    for package in PACKAGES:
        assert f"{package}/__init__.py" in names
    for package in TYPED_PACKAGES:
        assert f"{package}/py.typed" in names
    assert "[pytest11]" in entry_points
    assert f"{PLUGIN[0]} = {PLUGIN[1]}" in entry_points


PROBE = """
import importlib, importlib.metadata, importlib.util, json, pkgutil, sys
modules = []
for name in %(packages)r:
    package = importlib.import_module(name)
    modules += [m.name for m in pkgutil.walk_packages(package.__path__, name + ".")]
for name in modules:  # every module: none may need the ledger, infra, pipeline or app
    importlib.import_module(name)
print(json.dumps({
    "files": {n: sys.modules[n].__file__ for n in %(packages)r},
    "modules": modules,
    "sys_path": sys.path,
    "pytest11": [
        [ep.name, ep.value, ep.dist.name if ep.dist else None]
        for ep in importlib.metadata.entry_points(group="pytest11")
    ],
    "version": importlib.metadata.version(%(dist)r),
    "importable": {
        n: importlib.util.find_spec(n) is not None
        for n in ("ledger", "infra", "pipeline", "bench", "app", "tests")
    },
}))
"""


def test_a_fresh_venv_imports_the_packages_from_the_wheel_not_the_tree(
    fresh_python: Path,
) -> None:
    # WHEN a fresh venv's python, outside the repository, imports the three packages
    directory = fresh_python.parents[2]
    script = PROBE % {"packages": PACKAGES, "dist": DIST_NAME}
    completed = run(
        [str(fresh_python), "-c", script],
        cwd=directory,
        env=clean_environment(directory / "home"),
    )
    found = json.loads(completed.stdout.splitlines()[-1])

    # THEN each comes from the venv's site-packages, and the source tree is nowhere
    assert "exactly_once_local.events" in found["modules"], found["modules"]
    site = site_packages(fresh_python).resolve()
    for package, file in found["files"].items():
        assert Path(file).resolve().is_relative_to(site), f"{package} imported from {file}"
    on_path = {Path(entry or directory).resolve() for entry in found["sys_path"]}
    assert ROOT not in on_path and ROOT / "functions" not in on_path, found["sys_path"]
    assert not [p for p in on_path if p.is_relative_to(ROOT)], found["sys_path"]
    assert found["importable"] == dict.fromkeys(found["importable"], False), found["importable"]
    assert found["version"] == PYPROJECT["version"]
    # AND the pytest plugin's entry point is there once, from the installed distribution
    ours = [ep for ep in found["pytest11"] if ep[2] == DIST_NAME]
    assert ours == [[*PLUGIN, DIST_NAME]], found["pytest11"]


def test_the_plugin_imports_without_moto_and_serves_its_fixture(
    fresh_python: Path, tmp_path: Path
) -> None:
    # GIVEN a user's project whose test asks for the plugin's fixture, with no import
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_user.py").write_text(
        "import sys\n\n"
        "def test_context(lambda_context):\n"
        "    assert 'moto' not in sys.modules\n"
        "    assert lambda_context.get_remaining_time_in_millis() == 30_000\n"
        "    lambda_context.clock.advance(29.5)\n"
        "    assert lambda_context.get_remaining_time_in_millis() == 500\n"
    )
    # WHEN pytest runs it with the fresh venv's python
    completed = run(
        [str(fresh_python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"],
        cwd=project,
        env=clean_environment(tmp_path / "home"),
    )
    # THEN the plugin, loaded through its entry point, served the fixture
    assert "1 passed" in completed.stdout, completed.stdout


def test_the_orders_consumers_tests_pass_against_the_installed_package(
    fresh_python: Path, tmp_path: Path
) -> None:
    # GIVEN a user's project: the orders consumer and its tests, nothing else of this tree
    project = tmp_path / "project"
    shutil.copytree(ROOT / "functions" / "orders", project / "orders", ignore=_not_source)
    (project / "tests").mkdir()
    shutil.copy(ROOT / "tests" / "orders" / "test_orders.py", project / "tests")
    env = clean_environment(tmp_path / "home")
    env["PYTHONPATH"] = str(project)  # the user's own code, as their project layout puts it
    # WHEN pytest runs them with the fresh venv's python (the plugin's fixtures, no conftest)
    completed = run(
        [str(fresh_python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"],
        cwd=project,
        env=env,
    )
    # THEN they pass, every one of them (at least one run per test function)
    functions = re.findall(r"^def test_", (project / "tests" / "test_orders.py").read_text(), re.M)
    passed = re.search(r"\b(\d+) passed\b", completed.stdout)
    assert passed and int(passed.group(1)) >= len(functions) > 0, completed.stdout
    assert " failed" not in completed.stdout and " error" not in completed.stdout, completed.stdout


def test_the_example_user_project_passes_from_a_fresh_venv(
    fresh_python: Path, tmp_path: Path
) -> None:
    # GIVEN the example project (its own folder, cdk.json, app, consumer and tests), alone
    project = tmp_path / "shipments"
    shutil.copytree(ROOT / "examples" / "shipments", project, ignore=_not_source)
    # WHEN its tests run with the fresh venv (the package installed from the wheel)
    completed = run(
        [str(fresh_python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"],
        cwd=project,
        env=clean_environment(tmp_path / "home"),
    )
    # THEN they pass: the consumer on moto, the checker, and the stack's synth
    passed = re.search(r"\b(\d+) passed\b", completed.stdout)
    assert passed and int(passed.group(1)) >= 4, completed.stdout
    assert " failed" not in completed.stdout and " error" not in completed.stdout, completed.stdout
