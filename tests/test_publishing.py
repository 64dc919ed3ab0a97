"""The public home of the book: workflows, Colab links, badges, citation and licences, checked offline.

A fork on GitHub must test, build and publish itself after one edit, the repository URL in `_config.yml`,
followed by `make badges` (tools/badges.py). These tests check what that promise rests on:

- the workflows in .github/workflows are valid YAML, run only `make` targets that exist, and have the
  triggers, permissions and caches described in CONTRIBUTING.md;
- every notebook chapter of `_toc.yml` has its paired .ipynb, committed (not git-ignored), and the Colab link
  the book's theme draws for it opens `<repo>/blob/<branch>/chapters/NAME.ipynb`;
- the README badges, `CITATION.cff` and the Colab install cells are what tools/badges.py renders from
  `_config.yml`, and after a change of URL no file still names the old repository;
- `CITATION.cff` is CFF 1.2.0 with the same URL, and the licences agree with each other.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())


def _load_tool(name: str):
    """A script of tools/ (not a package) as a module."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


badges = _load_tool("badges")
build_book = _load_tool("build_book")
REPO = badges.Repository.from_config(ROOT)


# ---------------------------------------------------------------------------------------------------------
# Helpers: the Makefile's targets, the make calls of a shell script, a workflow's triggers and steps


def makefile_database(root: Path = ROOT) -> dict[str, list[str]]:
    """Every target of the Makefile with its recipe lines, from make's own database (`make -pRrq`)."""
    run = subprocess.run(["make", "-pRrq", "-f", "Makefile"], cwd=root, capture_output=True, text=True, timeout=60)
    assert "# Make data base" in run.stdout, f"make -p failed: {run.stderr[-2000:]}"
    targets: dict[str, list[str]] = {}
    current, previous = None, ""
    for line in run.stdout.splitlines():
        match = re.match(r"^([A-Za-z0-9_][A-Za-z0-9_./-]*):(?![=:])", line)
        if match and previous != "# Not a target:":
            current = match.group(1)
            targets[current] = []
        elif current and line.startswith("\t"):
            targets[current].append(line.strip())
        elif not line.strip():
            current = None
        previous = line
    return targets


TARGETS = makefile_database()


def make_calls(script: str) -> list[list[str]]:
    """The goals of each `make` command in a shell script (options and VAR=value assignments dropped)."""
    calls = []
    for command in re.split(r"&&|\|\||[;\n|]", script):
        words = command.split()
        for i, word in enumerate(words):
            if word == "make" and (i == 0 or words[i - 1] in ("sudo", "time", "env")):
                goals, skip = [], False
                for arg in words[i + 1 :]:
                    if skip:
                        skip = False
                    elif arg in ("-C", "-f", "-j", "-o", "-W", "--directory", "--file"):
                        skip = True
                    elif not arg.startswith("-") and "=" not in arg:
                        goals.append(arg)
                calls.append(goals)
    return calls


def load_workflow(path: Path) -> dict:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict) and "jobs" in data, f"{path.name}: not a workflow (no jobs)"
    if True in data:  # YAML 1.1 reads the key `on` as the boolean true
        data["on"] = data.pop(True)
    return data


def triggers(workflow: dict) -> dict:
    on = workflow["on"]
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return {event: None for event in on}
    return dict(on)


def steps(workflow: dict, job: str | None = None) -> list[dict]:
    jobs = [workflow["jobs"][job]] if job else workflow["jobs"].values()
    return [step for j in jobs for step in j.get("steps", [])]


def runs(workflow: dict, job: str | None = None) -> str:
    return "\n".join(str(step["run"]) for step in steps(workflow, job) if "run" in step)


def uses(workflow: dict, action: str, job: str | None = None) -> list[dict]:
    return [step for step in steps(workflow, job) if step.get("uses", "").split("@")[0] == action]


def job_running(workflow: dict, target: str) -> str:
    found = [name for name in workflow["jobs"] if any(target in call for call in make_calls(runs(workflow, name)))]
    assert found, f"no job runs `make {target}`"
    return found[0]


WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.y*ml"))
TESTS, BOOK, WEEKLY = (WORKFLOWS / name for name in ("tests.yml", "book.yml", "weekly.yml"))


# ---------------------------------------------------------------------------------------------------------
# Workflows


def test_the_workflows_exist():
    missing = [p.name for p in (TESTS, BOOK, WEEKLY) if not p.is_file()]
    assert not missing, f".github/workflows lacks {missing}"
    assert {badges.TESTS_WORKFLOW, badges.BOOK_WORKFLOW} <= {p.name for p in WORKFLOW_FILES}, (
        "the README badges name workflow files that do not exist"
    )


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_workflow_is_valid_yaml(path):
    workflow = load_workflow(path)
    assert triggers(workflow), f"{path.name}: no triggers"
    for name, job in workflow["jobs"].items():
        assert "runs-on" in job and job.get("steps"), f"{path.name}: job {name} needs runs-on and steps"
        for step in job["steps"]:
            assert ("run" in step) != ("uses" in step), (
                f"{path.name}: job {name} has a step with neither or both of run/uses"
            )


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_workflow_calls_only_existing_make_targets(path):
    calls = make_calls(runs(load_workflow(path)))
    unknown = sorted({goal for goals in calls for goal in goals} - set(TARGETS))
    assert not unknown, f"{path.name} runs make targets that the Makefile lacks: {unknown}"
    building = [job for job in load_workflow(path)["jobs"].values() if "container" in job or "setup-python" in str(job)]
    assert not building or calls, f"{path.name} builds or tests without calling make: use the targets a person uses"


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_workflow_installs_the_cpu_torch(path):
    """requirements/ci.txt pins torch==2.13.0; from PyPI alone that is a build with several GB of CUDA libraries."""
    workflow = load_workflow(path)
    if make_calls(runs(workflow)):
        assert "download.pytorch.org/whl/cpu" in workflow.get("env", {}).get("PIP_EXTRA_INDEX_URL", ""), (
            f"{path.name}: set PIP_EXTRA_INDEX_URL to the PyTorch CPU index"
        )


def test_make_call_parser_sees_every_goal():
    script = "apt-get update && apt-get install -y chromium\nmake clean book\nsudo make -j2 -C . linkcheck V=1; make"
    assert make_calls(script) == [["clean", "book"], ["linkcheck"], []]
    assert not {"clean", "book", "linkcheck"} - set(TARGETS)
    assert "no-such-target" not in TARGETS


def test_documented_make_commands_exist():
    """Every `make X` that README.md and CONTRIBUTING.md tell a person to run is a Makefile target."""
    for doc in ("README.md", "CONTRIBUTING.md"):
        text = (ROOT / doc).read_text()
        goals = {goal for code in re.findall(r"`(make [^`]+)`", text) for call in make_calls(code) for goal in call}
        goals |= {
            goal
            for block in re.findall(r"```bash\n(.*?)```", text, re.S)
            for call in make_calls(re.sub(r"#.*", "", block))
            for goal in call
        }
        assert goals, f"{doc} names no make command"
        assert not goals - set(TARGETS), f"{doc} names make targets that do not exist: {sorted(goals - set(TARGETS))}"


def debian_python(job: dict) -> bool:
    image = job.get("container", {})
    image = image.get("image", "") if isinstance(image, dict) else image
    return bool(re.fullmatch(r"python:3\.11(\.\d+)?-(bookworm|bullseye|trixie)", image or ""))


def test_tests_run_on_every_push_and_pull_request():
    workflow = load_workflow(TESTS)
    on = triggers(workflow)
    assert "push" in on and "pull_request" in on, f"tests.yml triggers: {sorted(on)}"
    for event in ("push", "pull_request"):
        filters = on[event] or {}
        assert not {"branches", "paths", "tags", "branches-ignore", "paths-ignore"} & set(filters), (
            f"tests.yml must run on every {event}, not a filtered subset: {filters}"
        )
    job_name = job_running(workflow, "test")
    job = workflow["jobs"][job_name]
    assert debian_python(job), "the test job runs in a Debian python:3.11 container (Debian's chromium, as root)"
    # The browser test looks for chromium and installs Debian's package with apt-get as root when it is
    # missing: the job installs it itself, before make test, in the same way.
    script = runs(workflow, job_name)
    assert re.search(r"apt-get install -y\b[^\n]*\bchromium\b", script), "the test job must install Debian's chromium"
    assert script.index("chromium") < script.index("make test")
    assert "user" not in str(job.get("container", "")) and "--user" not in str(job.get("container", "")), (
        "apt-get in the container needs root"
    )
    cache = uses(workflow, "actions/cache", job_name)
    assert cache and "hashFiles('requirements/ci.txt')" in cache[0]["with"]["key"], (
        "the pip cache must be keyed on requirements/ci.txt"
    )
    assert ".cache/pip" in cache[0]["with"]["path"]


def test_book_is_built_with_make_book_and_deployed_to_pages_from_the_branch():
    workflow = load_workflow(BOOK)
    on = triggers(workflow)
    assert set(on) <= {"push", "workflow_dispatch"}, f"book.yml deploys only from pushes (and by hand): {sorted(on)}"
    assert on["push"]["branches"] == [CONFIG["repository"]["branch"]], (
        "book.yml must deploy from repository.branch of _config.yml"
    )
    build = job_running(workflow, "book")
    assert debian_python(workflow["jobs"][build])
    upload = uses(workflow, "actions/upload-pages-artifact", build)
    assert upload and upload[0]["with"]["path"].rstrip("/") == "_build/html", (
        "upload _build/html (what make book writes)"
    )
    build_line = [line for line in TARGETS["book"] if "tools/build_book.py" in line]
    assert build_line and "--path-output" not in build_line[0], "make book must write ./_build/html"
    command = build_book.build_command(Path("config.yml"), build_book.ROOT)
    assert command[1:3] == ["build", str(build_book.ROOT)] and {"-W", "-n"} <= set(command), command
    assert build_book.arguments([]).path_output == build_book.ROOT, "tools/build_book.py must write ./_build/html"
    deploy = [name for name in workflow["jobs"] if uses(workflow, "actions/deploy-pages", name)]
    assert deploy, "no job deploys with actions/deploy-pages"
    job = workflow["jobs"][deploy[0]]
    needs = job.get("needs", [])
    assert build in ([needs] if isinstance(needs, str) else needs), "deploy must wait for the build"
    assert job["environment"]["name"] == "github-pages"
    permissions = {**workflow.get("permissions", {}), **job.get("permissions", {})}
    assert permissions.get("pages") == "write" and permissions.get("id-token") == "write", permissions
    concurrency = workflow.get("concurrency") or job.get("concurrency")
    assert concurrency and concurrency.get("cancel-in-progress") is False, "never cancel a running deployment"


def test_weekly_rebuild_from_scratch_fails_loudly():
    workflow = load_workflow(WEEKLY)
    on = triggers(workflow)
    crons = [entry["cron"] for entry in on.get("schedule", [])]
    assert crons, "weekly.yml has no schedule"
    for cron in crons:
        fields = cron.split()
        assert len(fields) == 5 and fields[2] == "*" and fields[3] == "*" and re.fullmatch(r"[0-6]", fields[4]), (
            f"{cron!r} is not a once-a-week schedule"
        )
    rebuild = job_running(workflow, "book")
    calls = make_calls(runs(workflow, rebuild))
    flat = [goal for call in calls for goal in call]
    assert "clean" in flat and flat.index("clean") < flat.index("book"), (
        "clear the caches (make clean) before make book"
    )
    assert any(line.startswith("rm -rf _build") for line in TARGETS["book"]), (
        "make book must start from an empty _build"
    )
    assert CONFIG["execute"]["execute_notebooks"] == "force", "the build must execute every chapter (not jupyter-cache)"
    assert not uses(workflow, "actions/cache"), "the weekly rebuild is from scratch: no cache"
    job_running(workflow, "linkcheck")
    reporters = [job for job in workflow["jobs"].values() if "failure()" in str(job.get("if", ""))]
    assert reporters, "a failure must be reported beyond the red mark (an issue)"
    reporter = reporters[0]
    needs = reporter.get("needs", [])
    others = {name for name, job in workflow["jobs"].items() if job is not reporter}
    assert others <= set([needs] if isinstance(needs, str) else needs), "the report must follow every other job"
    assert "gh issue create" in "\n".join(step.get("run", "") for step in reporter["steps"])
    assert reporter.get("permissions", {}).get("issues") == "write"


def test_linkcheck_knows_offline_links():
    recipe = " ".join(TARGETS["linkcheck"])
    assert "jupyter-book build ." in recipe and "--builder linkcheck" in recipe
    sphinx = CONFIG["sphinx"]["config"]
    ignore = [re.compile(pattern) for pattern in sphinx["linkcheck_ignore"]]

    def ignored(uri):
        return any(p.match(uri) for p in ignore)

    for uri in (
        "http://localhost:8888/lab",
        "http://127.0.0.1:8786",
        "../sweeps/book/frei_dk.yaml",
        "chapters/intro.html#x",
        REPO.colab_link("chapters/intro.ipynb"),
    ):
        assert ignored(uri), f"linkcheck would try {uri}"
    for uri in (
        "https://arxiv.org/abs/2303.01456",
        REPO.url,
        REPO.blob("chapters/intro.ipynb"),
        "http://localhostess.org",
    ):
        assert not ignored(uri), f"linkcheck would skip {uri}"


# ---------------------------------------------------------------------------------------------------------
# Chapters: paired notebooks and Colab links


def toc_docs() -> list[str]:
    docs = [TOC["root"]]

    def walk(node):
        if isinstance(node, dict):
            docs.extend([node["file"]] if "file" in node else [])
            for key, value in node.items():
                if key != "root":
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({k: v for k, v in TOC.items() if k != "root"})
    return [str(Path(doc).with_suffix("")) for doc in docs]


NOTEBOOK_CHAPTERS = [
    doc
    for doc in toc_docs()
    if (ROOT / f"{doc}.md").is_file() and (ROOT / f"{doc}.md").read_text().startswith("---\njupytext:")
]


def test_repository_settings_reach_the_theme():
    """What JB1 hands sphinx-book-theme (schema-validated): the URL, branch and Colab base of _config.yml."""
    from jupyter_book.config import get_final_config

    sphinx, _ = get_final_config(
        user_yaml=ROOT / "_config.yml",
        cli_config={"latex_individualpages": False},
        sourcedir=ROOT,
        raise_on_invalid=True,
    )
    theme = sphinx["html_theme_options"]
    assert theme["repository_url"] == CONFIG["repository"]["url"]
    assert theme["repository_branch"] == CONFIG["repository"]["branch"] == REPO.branch
    assert theme["path_to_docs"].strip("/") == REPO.book_path
    assert theme["launch_buttons"]["colab_url"].rstrip("/") == REPO.colab
    assert REPO.url == f"https://github.com/{REPO.owner}/{REPO.name}", "Colab's /github/ links need a GitHub URL"


def theme_colab_link(doc: str) -> str:
    """sphinx-book-theme's launch link for a page: its .ipynb when one sits beside the source, else the .md."""
    from jupyter_book.config import get_final_config

    theme = get_final_config(
        user_yaml=ROOT / "_config.yml", cli_config={"latex_individualpages": False}, sourcedir=ROOT
    )[0]["html_theme_options"]
    provider_url, org, repo = theme["repository_url"].strip("/").rsplit("/", 2)
    extension = ".ipynb" if (ROOT / f"{doc}.ipynb").exists() else ".md"
    relpath = theme["path_to_docs"].strip("/")
    relpath = f"{relpath}/" if relpath else ""
    colab = theme["launch_buttons"]["colab_url"].strip("/")
    return f"{colab}/github/{org}/{repo}/blob/{theme['repository_branch']}/{relpath}{doc}{extension}"


def test_chapters_run_longest_first_by_their_recorded_timings():
    """The order of the parallel executions (make book, make test): the cells' nbclient timestamps summed."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1"), nbformat.v4.new_markdown_cell("x")])
    nb.cells[0].metadata["execution"] = {
        "iopub.execute_input": "2026-12-03T10:00:00.500000Z",
        "shell.execute_reply": "2026-12-03T10:01:02.000000Z",
    }
    assert build_book.recorded_seconds(nb) == 61.5
    assert build_book.recorded_seconds(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])) == 0.0
    chapters = sorted(build_book.paired_chapters(), key=build_book.committed_seconds, reverse=True)
    assert chapters[0].stem in {"generalization", "polynomial_relu"}, [c.stem for c in chapters]


def test_every_toc_chapter_that_is_a_notebook_is_found():
    assert "chapters/intro" in NOTEBOOK_CHAPTERS and len(NOTEBOOK_CHAPTERS) >= 2


@pytest.mark.parametrize("doc", NOTEBOOK_CHAPTERS)
def test_chapter_has_committed_notebook_and_colab_link(doc):
    ipynb = ROOT / f"{doc}.ipynb"
    assert ipynb.is_file(), f"{doc}.ipynb is missing: run `make sync` (Colab opens the .ipynb, not the .md)"
    nb = jupytext.read(ipynb)
    assert nb.metadata.get("jupytext", {}).get("formats") == "ipynb,md:myst", f"{ipynb.name} is not paired"
    ignored = subprocess.run(["git", "check-ignore", "-q", str(ipynb)], cwd=ROOT)
    assert ignored.returncode == 1, f"{doc}.ipynb is git-ignored (or git failed): a fork would lack what Colab opens"
    url = CONFIG["repository"]["url"].rstrip("/")
    owner_repo = url.removeprefix("https://github.com/")
    expected = (
        f"{CONFIG['launch_buttons']['colab_url'].rstrip('/')}/github/{owner_repo}"
        f"/blob/{CONFIG['repository']['branch']}/{doc}.ipynb"
    )
    assert theme_colab_link(doc) == expected == REPO.colab_link(f"{doc}.ipynb")
    first = nb.cells[0]
    assert first.cell_type == "code" and f"git+{url}" in first.source, (
        f"{ipynb.name}: the notebook Colab opens must install the package from {url}"
    )


# ---------------------------------------------------------------------------------------------------------
# Derived files: badges, citation, install cells


def test_readme_badges_match_config():
    text = (ROOT / "README.md").read_text()
    block = badges.badge_block(REPO)
    assert block in text, "README.md badges differ from _config.yml: run `make badges`"
    assert text.index(badges.START) < text.index("\n## "), "the badges belong at the top of the README"
    assert f"{REPO.url}/actions/workflows/tests.yml/badge.svg" in block
    assert f"{REPO.url}/actions/workflows/book.yml/badge.svg" in block
    assert REPO.colab_link(f"{REPO.root_doc}.ipynb") in block
    assert (ROOT / f"{REPO.root_doc}.ipynb").is_file(), "the Colab badge opens the introduction's notebook"


def test_every_derived_file_matches_config():
    stale = [str(path.relative_to(ROOT)) for path, (now, new) in badges.rendered(ROOT).items() if now != new]
    assert not stale, f"out of date with _config.yml: {stale}; run `make badges`"
    assert subprocess.run([sys.executable, str(ROOT / "tools" / "badges.py"), "--check"], cwd=ROOT).returncode == 0


def text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    suffixes = {".md", ".ipynb", ".yml", ".yaml", ".cff", ".py", ".toml", ".txt", ".cfg", ".sh", ".bib", ".json"}
    return [
        ROOT / p
        for p in listed
        if p and (Path(p).suffix in suffixes or Path(p).name == "Makefile") and (ROOT / p).is_file()
    ]


def repository_mentions(text: str, repo) -> bool:
    owner, name = re.escape(repo.owner), re.escape(repo.name)
    end = r"(?:\.git)?(?![\w-]|\.\w)"  # the whole name (or name.git), not the prefix of another
    return bool(
        re.search(rf"github\.com/{owner}/{name}{end}|(?<![\w.-]){owner}\.github\.io/{name}{end}", text, re.IGNORECASE)
    )


def test_a_fork_edits_only_the_url(tmp_path):
    """Copy every file that names the repository, change the URL in _config.yml, run the badge script:
    nothing may still name the old repository, and the checks above hold for the fork."""
    copied = [
        p for p in text_files() if p.name != "_config.yml" and repository_mentions(p.read_text(errors="replace"), REPO)
    ]
    for path in copied + [ROOT / "_config.yml", ROOT / "_toc.yml"]:
        target = tmp_path / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    config = (tmp_path / "_config.yml").read_text()
    assert config.count(f"url: {REPO.url}\n") == 1
    owner = f"Fork-of-{REPO.owner}"  # any other owner; upper case where GitHub Pages uses lower case
    (tmp_path / "_config.yml").write_text(
        config.replace(f"url: {REPO.url}\n", f"url: https://github.com/{owner}/{REPO.name}\n")
    )

    assert badges.main(["--root", str(tmp_path)]) == 0
    assert badges.main(["--root", str(tmp_path), "--check"]) == 0
    fork = badges.Repository.from_config(tmp_path)
    assert fork.url == f"https://github.com/{owner}/{REPO.name}"
    if not CONFIG.get("html", {}).get("baseurl"):
        assert fork.pages == f"https://{owner.lower()}.github.io/{REPO.name}/"
    left = [
        str(p.relative_to(tmp_path))
        for p in tmp_path.rglob("*")
        if p.is_file() and repository_mentions(p.read_text(), REPO)
    ]
    assert not left, (
        f"after a change of repository.url these files still name {REPO.url}: {left}; derive the "
        "address from _config.yml or teach tools/badges.py to render it"
    )
    assert badges.badge_block(fork) in (tmp_path / "README.md").read_text()
    citation = yaml.safe_load((tmp_path / "CITATION.cff").read_text())
    assert citation["repository-code"] == fork.url and citation["url"] == fork.pages
    for doc in NOTEBOOK_CHAPTERS:
        md, ipynb = (tmp_path / f"{doc}.md"), (tmp_path / f"{doc}.ipynb")
        if not md.exists():
            continue
        first = jupytext.read(md).cells[0].source
        assert f"git+{fork.url}" in first, f"{doc}: install cell not rewritten"
        if ipynb.exists():
            nb = nbformat.read(ipynb, as_version=4)
            nbformat.validate(nb)
            assert nb.cells[0].source == first, f"{doc}.ipynb: install cell out of sync with the .md"


def test_badge_script_refuses_what_colab_cannot_open(tmp_path):
    for url in ("https://gitlab.com/a/b", "https://github.com/a/b.git", "https://github.com/a"):
        (tmp_path / "_config.yml").write_text(
            (ROOT / "_config.yml").read_text().replace(f"url: {REPO.url}\n", f"url: {url}\n")
        )
        shutil.copy2(ROOT / "_toc.yml", tmp_path / "_toc.yml")
        with pytest.raises(ValueError, match="github.com/OWNER/NAME"):
            badges.Repository.from_config(tmp_path)


# ---------------------------------------------------------------------------------------------------------
# Citation and licences

# Citation File Format 1.2.0: the required keys and every key allowed at the top level.
CFF_REQUIRED = {"cff-version", "message", "title", "authors"}
CFF_KEYS = CFF_REQUIRED | {
    "abstract",
    "commit",
    "contact",
    "date-released",
    "doi",
    "identifiers",
    "keywords",
    "license",
    "license-url",
    "preferred-citation",
    "references",
    "repository",
    "repository-artifact",
    "repository-code",
    "type",
    "url",
    "version",
}


def test_citation_cff():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert isinstance(cff, dict) and not CFF_REQUIRED - set(cff), f"CITATION.cff lacks {CFF_REQUIRED - set(cff)}"
    assert not set(cff) - CFF_KEYS, f"keys that CFF 1.2.0 does not know: {set(cff) - CFF_KEYS}"
    assert str(cff["cff-version"]) == "1.2.0"
    assert cff.get("type", "software") in ("software", "dataset")
    assert isinstance(cff["message"], str) and cff["message"].strip()
    assert cff["authors"] and all(isinstance(a, dict) and ("name" in a or "family-names" in a) for a in cff["authors"])
    assert cff["repository-code"] == CONFIG["repository"]["url"], (
        "CITATION.cff repository-code differs from _config.yml"
    )
    assert cff["url"] == REPO.pages and cff["title"] == CONFIG["title"]
    version = re.search(r'^version = "(.+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    assert str(cff["version"]) == version, "CITATION.cff version differs from pyproject.toml"
    licenses = cff["license"] if isinstance(cff["license"], list) else [cff["license"]]
    assert set(licenses) == {"MIT", "CC-BY-4.0"}, licenses
    for ref in cff.get("references", []):
        assert {"type", "title", "authors"} <= set(ref), ref.get("title")


def test_readme_cites_the_three_papers():
    readme = (ROOT / "README.md").read_text()
    cite = readme[readme.index("## How to cite") :]
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    bib = (ROOT / "references.bib").read_text()
    arxiv = [ref["url"].rsplit("/", 1)[-1] for ref in cff["references"]]
    assert len(arxiv) == 3
    for number, ref in zip(arxiv, cff["references"]):
        assert number in cite and number in bib, (
            f"arXiv:{number} missing from the README's How to cite or references.bib"
        )
        assert ref["title"].replace("ReLU", "{ReLU}") in bib or ref["title"] in bib
        assert all(a["family-names"] in cite for a in ref["authors"]), ref["title"]
    assert "CITATION.cff" in cite


def test_licences():
    mit = (ROOT / "LICENSE").read_text()
    assert mit.startswith("MIT License") and "Permission is hereby granted, free of charge" in mit
    assert re.search(r'^license = "MIT"$', (ROOT / "pyproject.toml").read_text(), re.M)
    content = (ROOT / "LICENSE-CONTENT.md").read_text()
    assert "CC BY 4.0" in content and "https://creativecommons.org/licenses/by/4.0/" in content
    assert "chapters/" in content, "say which files the CC BY licence covers"
    readme = (ROOT / "README.md").read_text()
    assert "LICENSE-CONTENT.md" in readme and "CONTRIBUTING.md" in readme
