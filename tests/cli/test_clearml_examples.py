"""The clearml-data examples, run with ``gd`` in place of ``clearml-data``.

Each example is kept as data: the command line its page shows (placeholders in
``<...>``), tagged with where it comes from (page URL and section). :func:`play`
turns a line into a gd command the way a user would: ``clearml-data`` becomes
``gd``, ``~`` is the home folder, each ``<placeholder>`` is a name chosen here or an
id an earlier command printed. The tests then check what came out (files got back,
counts), not only the exit codes.

They run on the embedded default store (no ``--storage``), outside any git
repository. Examples of commands gd does not have yet are marked
``xfail(strict=True)``: when the command lands, the test passes, strict xfail fails
the run, and the mark is removed.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from tests.cli.conftest import run_gd
from tests.conftest import make_tree, read_tree

README = "https://github.com/allegroai/clearml/blob/master/docs/datasets.md"
CLI = "https://clear.ml/docs/latest/docs/clearml_data/clearml_data_cli"
SIMPLE = "https://clear.ml/docs/latest/docs/clearml_data/data_management_examples/data_man_simple"
FOLDER_SYNC = (
    "https://clear.ml/docs/latest/docs/clearml_data/data_management_examples/data_man_folder_sync"
)


@dataclass(frozen=True)
class Ex:
    """One example: the command line as its page writes it and where it comes from.

    ``saves``: the placeholder the id this command prints fills (for later lines);
    ``exit_code``: what gd is expected to exit with (not 0 only where the example
    itself cannot work, said in a comment beside it).
    """

    line: str
    source: str
    saves: str | None = None
    exit_code: int = 0


# (exit code, stdout) of one gd command given its arguments
Runner = Callable[[list[str]], tuple[int, str]]

PLACEHOLDER = re.compile(r"<([a-z][a-z0-9_]*)>")
ID = re.compile(r"\b[0-9a-f]{32}\b")


def to_gd(line: str, values: dict[str, str]) -> list[str]:
    """The gd arguments of a clearml-data command line: split as a shell splits it,
    ``~`` expanded, placeholders filled from ``values`` (an unknown one is a bug)."""
    words = shlex.split(line)
    assert words[0] == "clearml-data", line
    out = []
    for word in words[1:]:
        word = PLACEHOLDER.sub(lambda m: values[m.group(1)], word)
        assert "<" not in word, f"unfilled placeholder in {line!r}"
        out.append(os.path.expanduser(word))
    return out


def printed_id(stdout: str) -> str:
    """The id a command printed: ``"id"`` of its ``--json`` document, else the first
    id on its stdout (``gd create`` prints it alone on a line, as a user reads it)."""
    try:
        return str(json.loads(stdout)["id"])
    except (ValueError, KeyError, TypeError):
        found = ID.search(stdout)
        assert found, f"no id in {stdout!r}"
        return found.group(0)


def play(examples: Sequence[Ex], values: dict[str, str], run: Runner) -> list[Any]:
    """Run the examples in order; each one's output (a JSON document when the runner
    gave ``--json``, else its stdout). An id a line ``saves`` goes into ``values``."""
    outputs: list[Any] = []
    for ex in examples:
        args = to_gd(ex.line, values)
        code, stdout = run(args)
        assert code == ex.exit_code, f"{ex.source}\n$ gd {shlex.join(args)} -> {code}\n{stdout}"
        if ex.saves:
            values[ex.saves] = printed_id(stdout)
        try:
            outputs.append(json.loads(stdout))
        except ValueError:
            outputs.append(stdout)
    return outputs


@pytest.fixture
def in_process(gd) -> Runner:
    """gd through typer's runner, with ``--json`` so every result is checked as data."""

    def run(args: list[str]) -> tuple[int, str]:
        r = gd(*args, "--json", ok=False)
        return r.exit_code, r.stdout

    return run


@pytest.fixture
def subprocess_runner(tmp_path: Path) -> Runner:
    """``python -m gitdata`` in its own process, human output, as a user runs it."""
    project = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(project)}

    def run(args: list[str]) -> tuple[int, str]:
        r = run_gd(*args, env=env, cwd=Path.cwd())
        return r.returncode, r.stdout + r.stderr

    return run


def names(listing: list[dict[str, Any]]) -> list[str]:
    """The paths of a ``gd list --json`` document."""
    return [row["path"] for row in listing]


# --------------------------------------------------------------------- the README
#
# The clearml-data README (docs/datasets.md of the clearml repository): the
# "Workflow" it walks through, one list per section.

README_CREATE = [
    # README, "Simple dataset creation with CLI"
    Ex(
        "clearml-data create --project <my_project> --name <my_dataset_name>",
        f"{README} Simple dataset creation with CLI",
        saves="dataset_id",
    ),
    Ex(
        "clearml-data add --files ~/datasets/best_dataset/",
        f"{README} Simple dataset creation with CLI",
    ),
    Ex("clearml-data close --id <dataset_id>", f"{README} Simple dataset creation with CLI"),
]

README_MODIFY = [
    # README, "Modifying a dataset with CLI"
    Ex(
        "clearml-data create --name <improved_dataset> --parents <existing_dataset_id>",
        f"{README} Modifying a dataset with CLI",
        saves="created_dataset_id",
    ),
    # The new version is still open: clearml-data refuses it as well (get_local_copy:
    # "Cannot get a local copy of a dataset that was not finalized/closed"), and gd
    # says it is a draft (exit 4). A user takes the copy of the parent instead, next.
    Ex(
        "clearml-data get --id <created_dataset_id> --copy ~/datasets/working_dataset",
        f"{README} Modifying a dataset with CLI",
        exit_code=4,
    ),
    Ex(
        "clearml-data get --id <existing_dataset_id> --copy ~/datasets/working_dataset",
        f"{README} Modifying a dataset with CLI (the same step given the parent's id)",
    ),
]

README_SYNC = [
    # README, "Folder sync mode"
    Ex(
        "clearml-data sync --id <created_dataset_id> --folder ~/datasets/working_dataset",
        f"{README} Folder sync mode",
    ),
    Ex("clearml-data upload --id <created_dataset_id>", f"{README} Folder sync mode"),
    Ex("clearml-data close --id <created_dataset_id>", f"{README} Folder sync mode"),
]

BEST = {
    "everything.csv": "id,label\n1,cat\n",
    "images/cat.jpg": b"\xff\xd8cat",
    "images/dog.jpg": b"\xff\xd8dog",
    "notes/readme.txt": "first cut",
}


@pytest.mark.parametrize("runner", ["in_process", "subprocess_runner"])
def test_readme_workflow(runner: str, request: pytest.FixtureRequest) -> None:
    """The README's create / add / close, then modify through a copy and sync it back."""
    run: Runner = request.getfixturevalue(runner)
    home = Path.home()
    make_tree(home / "datasets" / "best_dataset", BEST)
    values = {
        "my_project": "examples",
        "my_dataset_name": "best_dataset",
        "improved_dataset": "improved_dataset",
    }

    play(README_CREATE, values, run)
    values["existing_dataset_id"] = values["dataset_id"]
    play(README_MODIFY, values, run)
    work = home / "datasets" / "working_dataset"
    assert read_tree(work) == {k: v.encode() if isinstance(v, str) else v for k, v in BEST.items()}

    # "Change / add / remove files from the dataset folder" (the README opens vim)
    with (work / "everything.csv").open("a") as f:
        f.write("2,dog\n")
    (work / "images" / "cat.jpg").unlink()
    (work / "images" / "bird.jpg").write_bytes(b"\xff\xd8bird")
    play(README_SYNC, values, run)

    # what the user gets back: the parent as it was added, the child as the folder is now
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}

    def gd_json(*args: str) -> Any:
        r = run_gd(*args, "--json", env=env, cwd=Path.cwd())
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    parent, child = values["dataset_id"], values["created_dataset_id"]
    assert parent != child
    child_copy = Path(gd_json("get", "--id", child)["path"])
    assert read_tree(child_copy) == read_tree(work)
    parent_copy = Path(gd_json("get", "--id", parent)["path"])
    assert read_tree(parent_copy) == read_tree(home / "datasets" / "best_dataset")
    shown = gd_json("show", "--id", child)
    assert shown["project"] == "examples"  # taken from the parent: the README gives no --project
    assert shown["parents"] == [parent] and shown["state"] == "closed"
    assert (shown["added"], shown["modified"], shown["removed"]) == (
        ["images/bird.jpg"],
        ["everything.csv"],
        ["images/cat.jpg"],
    )


# ------------------------------------------------------- the documentation's examples

DATA_SAMPLES = {
    # the files of clearml/examples/reporting/data_samples the two example pages use
    "dancing.jpg": b"\xff\xd8dancing",
    "data.csv": "a,b\n1,2\n",
    "picasso.jpg": b"\xff\xd8picasso",
    "sample.json": '{"k": 1}',
    "sample.mp3": b"ID3mp3",
}

SIMPLE_FIRST = [
    # "Data Management from CLI", "Creating Initial Dataset"
    Ex(
        "clearml-data create --project datasets --name HelloDataset",
        f"{SIMPLE} Creating Initial Dataset",
        saves="dataset_id",
    ),
    Ex("clearml-data add --files data_samples", f"{SIMPLE} Creating Initial Dataset"),
    Ex("clearml-data close", f"{SIMPLE} Creating Initial Dataset"),
    # "Listing Dataset Content"
    Ex("clearml-data list --id <dataset_id>", f"{SIMPLE} Listing Dataset Content"),
]

SIMPLE_CHILD = [
    # "Creating a Child Dataset"
    Ex(
        "clearml-data create --project datasets --name HelloDataset-improved"
        " --parents <dataset_id>",
        f"{SIMPLE} Creating a Child Dataset",
        saves="child_id",
    ),
    Ex("clearml-data add --files new_data.txt", f"{SIMPLE} Creating a Child Dataset"),
    # The page's listing shows the folder's files at the dataset root (a folder's
    # content lands there), so this path names no file of the dataset: nothing is
    # removed. The next line removes the file by the path the listing shows.
    Ex(
        "clearml-data remove --files data_samples/dancing.jpg", f"{SIMPLE} Creating a Child Dataset"
    ),
    Ex(
        "clearml-data remove --files dancing.jpg",
        f"{SIMPLE} Creating a Child Dataset (the path the page's listing shows)",
    ),
    Ex("clearml-data close", f"{SIMPLE} Creating a Child Dataset"),
    Ex("clearml-data list --id <child_id>", f"{SIMPLE} Creating a Child Dataset"),
]


def test_data_management_from_cli(in_process: Runner) -> None:
    """The documentation's "Data Management from CLI" example."""
    make_tree(Path("data_samples"), DATA_SAMPLES)  # the page runs in examples/reporting
    values: dict[str, str] = {}

    out = play(SIMPLE_FIRST, values, in_process)
    assert out[1]["added"] == 5
    assert names(out[3]) == sorted(DATA_SAMPLES)

    Path("new_data.txt").write_text("data data data\n")  # echo "data data data" > new_data.txt
    out = play(SIMPLE_CHILD, values, in_process)
    assert out[1]["added"] == 1
    assert (out[2]["removed"], out[3]["removed"]) == (0, 1)
    # the page's final listing: new_data.txt added (15 bytes), dancing.jpg removed
    assert names(out[5]) == ["data.csv", "new_data.txt", "picasso.jpg", "sample.json", "sample.mp3"]
    assert {row["path"]: row["size"] for row in out[5]}["new_data.txt"] == 15


FOLDER_SYNC_STEPS = [
    # "Folder Sync with CLI", "Syncing a Folder"
    Ex(
        "clearml-data sync --project datasets --name sync_folder --folder data_samples",
        f"{FOLDER_SYNC} Syncing a Folder",
        saves="dataset_id",
    ),
]

FOLDER_SYNC_AGAIN = [
    # "Modifying Synced Folder" (the page's parent id is the one the first sync printed)
    Ex(
        "clearml-data sync --project datasets --name second_ds --parents <dataset_id>"
        " --folder data_samples",
        f"{FOLDER_SYNC} Modifying Synced Folder",
        saves="second_id",
    ),
]


def test_folder_sync_with_cli(in_process: Runner, gd) -> None:
    """The documentation's "Folder Sync with CLI" example: each sync closes a version."""
    make_tree(Path("data_samples"), DATA_SAMPLES)
    values: dict[str, str] = {}

    (first,) = play(FOLDER_SYNC_STEPS, values, in_process)
    assert (first["added"], first["modified"], first["removed"]) == (5, 0, 0)
    assert first["state"] == "closed"

    with open("data_samples/data.csv", "a") as f:  # "Add another line to one of the files"
        f.write("3,4\n")
    Path("data_samples/new_data.txt").write_text("data data data\n")
    (second,) = play(FOLDER_SYNC_AGAIN, values, in_process)
    # "See that 2 files were added or modified"
    assert (second["added"], second["modified"], second["removed"]) == (1, 1, 0)
    assert second["state"] == "closed"

    shown = gd("show", "--id", values["second_id"], "--json").json()
    assert (shown["name"], shown["parents"]) == ("second_ds", [values["dataset_id"]])
    got = gd("get", "--id", values["second_id"], "--json").json()["path"]
    assert read_tree(Path(got)) == read_tree(Path("data_samples"))


# The "ClearML Data CLI" reference page: one example per command, in the order a
# user builds, reads, reshapes and deletes versions. Its synopses name the flags;
# the values are the page's where it gives some (wildcards, chunk sizes).

CLI_BUILD = [
    Ex(
        "clearml-data create --project <project> --name <name> --version 1.0.0"
        " --tags <tag> <other_tag>",
        f"{CLI} #create",
        saves="dataset_id",
    ),
    Ex(
        "clearml-data add --id <dataset_id> --files <data>/images --dataset-folder images"
        " --verbose",
        f"{CLI} #add",
    ),
    # "--wildcard ... For example: ~/data/*.jpg"
    Ex(
        "clearml-data add --files <data>/more --wildcard '*.jpg' --dataset-folder more"
        " --non-recursive",
        f"{CLI} #add",
    ),
    Ex("clearml-data add --files <data>/folder --dataset-folder folder", f"{CLI} #add"),
    # "wildcard selection is supported, for example: ~/data/*.jpg"
    Ex("clearml-data remove --id <dataset_id> --files 'images/*.tmp' --verbose", f"{CLI} #remove"),
    # "--chunk-size ... Example: 512"
    Ex("clearml-data upload --id <dataset_id> --chunk-size 512 --verbose", f"{CLI} #upload"),
    Ex("clearml-data close --id <dataset_id> --verbose", f"{CLI} #close"),
]

CLI_LIST = [
    Ex("clearml-data list --id <dataset_id>", f"{CLI} #list"),
    Ex("clearml-data list --project <project> --name <name> --version 1.0.0", f"{CLI} #list"),
    # "--filter ... Example: folder/date_*.json folder/subfolder"
    Ex(
        "clearml-data list --id <dataset_id> --filter 'folder/date_*.json' folder/subfolder",
        f"{CLI} #list",
    ),
    Ex("clearml-data list --project <project> --name <name> --modified", f"{CLI} #list"),
]

CLI_CHILD = [
    Ex(
        "clearml-data create --project <project> --name <name> --parents <dataset_id>",
        f"{CLI} #create",
        saves="child_id",
    ),
    Ex(
        "clearml-data sync --id <child_id> --folder <work> --dataset-folder images --verbose",
        f"{CLI} #sync",
    ),
    # "--chunk-size ... (pass -1 for a single chunk)"
    Ex("clearml-data close --id <child_id> --chunk-size -1", f"{CLI} #close"),
    # one shot: a new version of project/name, synced, uploaded and closed
    Ex(
        "clearml-data sync --project <project> --name <name> --folder <work> --dataset-folder"
        " images --version 2.0.0 --tags synced --parents <child_id> --chunk-size 512 --verbose",
        f"{CLI} #sync",
        saves="synced_id",
    ),
    # --skip-close leaves it open; close --disable-upload then has nothing to upload
    Ex(
        "clearml-data sync --project <project> --name <name> --folder <work> --dataset-folder"
        " images --skip-close",
        f"{CLI} #sync",
        saves="open_id",
    ),
    Ex("clearml-data close --id <open_id> --disable-upload", f"{CLI} #close"),
]

CLI_SEARCH = [
    Ex("clearml-data search --project <project>", f"{CLI} #search"),
    Ex("clearml-data search --name <partial_name>", f"{CLI} #search"),
    Ex("clearml-data search --tags <tag>", f"{CLI} #search"),
    Ex("clearml-data search --ids <dataset_id> <synced_id>", f"{CLI} #search"),
]

CLI_RESHAPE = [
    Ex(
        "clearml-data compare --source <dataset_id> --target <child_id> --verbose",
        f"{CLI} #compare",
    ),
    Ex(
        "clearml-data squash --name <squashed_name> --ids <dataset_id> <child_id> --verbose",
        f"{CLI} #squash",
        saves="squashed_id",
    ),
]

CLI_GET = [
    Ex("clearml-data get --id <squashed_id>", f"{CLI} #get"),
    Ex("clearml-data get --id <squashed_id> --copy <copy_dir>", f"{CLI} #get"),
    Ex("clearml-data get --id <squashed_id> --link <link_dir>", f"{CLI} #get"),
    Ex(
        "clearml-data get --id <squashed_id> --copy <copy_dir> --overwrite --verbose", f"{CLI} #get"
    ),
    Ex("clearml-data get --id <squashed_id> --part 0 --num-parts 2 --copy <part0>", f"{CLI} #get"),
    Ex("clearml-data get --id <squashed_id> --part 1 --num-parts 2 --copy <part1>", f"{CLI} #get"),
    Ex("clearml-data verify --id <squashed_id> --folder <copy_dir> --verbose", f"{CLI} #verify"),
    Ex("clearml-data verify --id <squashed_id> --folder <link_dir> --filesize", f"{CLI} #verify"),
]

CLI_VERIFY_TAMPERED = [
    # the copy changed after the get: verify names it and fails (gd: exit 9)
    Ex(
        "clearml-data verify --id <squashed_id> --folder <copy_dir>",
        f"{CLI} #verify",
        exit_code=9,
    ),
]

CLI_DELETE = [
    Ex("clearml-data delete --id <squashed_id>", f"{CLI} #delete"),
    # the last version of project/name (the --skip-close sync's): nothing is built on it
    Ex(
        "clearml-data delete --project <project> --name <name> --version <open_version>",
        f"{CLI} #delete",
    ),
    Ex(
        "clearml-data delete --project <project> --name <name> --entire-dataset --force",
        f"{CLI} #delete",
    ),
]

CLI_DATA = {
    "images/a.jpg": b"\xff\xd8a",
    "images/b.jpg": b"\xff\xd8b",
    "images/skip.tmp": "scratch",
    "more/c.jpg": b"\xff\xd8c",
    "more/c.txt": "not a jpg",
    "more/deeper/d.jpg": b"\xff\xd8d",
    "folder/date_1.json": "{}",
    "folder/date_2.json": "[]",
    "folder/other.json": "{}",
    "folder/subfolder/s.bin": b"\x00",
}


def test_cli_reference_examples(in_process: Runner, tmp_path: Path) -> None:
    """Every command of the "ClearML Data CLI" page, with the flags its synopsis shows."""
    data = make_tree(tmp_path / "data", CLI_DATA)
    work = make_tree(tmp_path / "work_folder", {"a.jpg": b"\xff\xd8a", "new.jpg": b"\xff\xd8n"})
    values = {
        "project": "cli_examples",
        "name": "cli_dataset",
        "partial_name": "cli_data",
        "tag": "raw",
        "other_tag": "v1",
        "data": str(data),
        "work": str(work),
        "squashed_name": "flat",
        "copy_dir": str(tmp_path / "copy"),
        "link_dir": str(tmp_path / "link"),
        "part0": str(tmp_path / "part0"),
        "part1": str(tmp_path / "part1"),
    }

    out = play(CLI_BUILD, values, in_process)
    created, closed = out[0], out[-1]
    assert (created["version"], created["tags"]) == ("1.0.0", ["raw", "v1"])
    assert [o["added"] for o in out[1:4]] == [3, 1, 4]  # --non-recursive: more/c.jpg only
    assert out[4]["removed"] == 1  # images/skip.tmp
    assert closed["id"] == values["dataset_id"] and closed["stats"]["files"] == 7

    whole, by_name, filtered, modified = play(CLI_LIST, values, in_process)
    assert names(whole) == [
        "folder/date_1.json",
        "folder/date_2.json",
        "folder/other.json",
        "folder/subfolder/s.bin",
        "images/a.jpg",
        "images/b.jpg",
        "more/c.jpg",
    ]
    assert by_name == whole and modified == whole  # a first version added every file
    assert names(filtered) == ["folder/date_1.json", "folder/date_2.json", "folder/subfolder/s.bin"]

    out = play(CLI_CHILD, values, in_process)
    assert (out[1]["added"], out[1]["modified"], out[1]["removed"]) == (1, 0, 1)
    assert out[3]["state"] == "closed" and out[3]["version"] == "2.0.0"
    assert out[4]["state"] == "draft" and out[5]["id"] == values["open_id"]

    by_project, by_name_part, by_tag, by_ids = play(CLI_SEARCH, values, in_process)
    versions = {r["id"]: r["version"] for r in by_project}
    assert set(versions) == {
        values["dataset_id"],
        values["child_id"],
        values["synced_id"],
        values["open_id"],
    }
    assert [r["id"] for r in by_name_part] == [r["id"] for r in by_project]
    assert [r["id"] for r in by_tag] == [values["dataset_id"]]
    assert [r["id"] for r in by_ids] == [values["dataset_id"], values["synced_id"]]

    compared, squashed = play(CLI_RESHAPE, values, in_process)
    assert (compared["added"], compared["removed"]) == (["images/new.jpg"], ["images/b.jpg"])
    assert squashed["name"] == "flat" and squashed["squashed"] == [
        values["dataset_id"],
        values["child_id"],
    ]

    got = play(CLI_GET, values, in_process)
    child_files = read_tree(Path(got[0]["path"]))
    assert "images/new.jpg" in child_files and "images/b.jpg" not in child_files
    for i in (1, 2, 3):
        assert read_tree(Path(got[i]["path"])) == child_files
    parts = [read_tree(Path(values[p])) for p in ("part0", "part1")]
    assert not parts[0].keys() & parts[1].keys() and {**parts[0], **parts[1]} == child_files
    assert got[6]["ok"] and got[6]["checked"] == len(child_files) and got[7]["ok"]

    (Path(values["copy_dir"]) / "images" / "a.jpg").write_bytes(b"\xff\xd8z")  # same size
    (tampered,) = play(CLI_VERIFY_TAMPERED, values, in_process)
    assert tampered["ok"] is False and tampered["hash_mismatch"] == ["images/a.jpg"]

    values["open_version"] = versions[values["open_id"]]
    out = play(CLI_DELETE, values, in_process)
    assert out[2]["deleted"] and values["dataset_id"] in out[2]["deleted"]
    code, stdout = in_process(["search", "--project", values["project"]])
    assert code == 0 and json.loads(stdout) == []


def test_upload_to_a_shared_folder(in_process: Runner, tmp_path: Path) -> None:
    """``upload --storage /mnt/shared/folder`` (the page's example of a shared folder):
    the version's record and chunks are written there, and ``get --id`` finds it."""
    make_tree(tmp_path / "data", {"x.csv": "1\n", "y/z.csv": "2\n"})
    values = {"data": str(tmp_path / "data"), "shared": str(tmp_path / "mnt" / "shared")}
    steps = [
        Ex("clearml-data create --project shared --name ds", f"{CLI} #create", saves="dataset_id"),
        Ex("clearml-data add --files <data>", f"{CLI} #add"),
        Ex("clearml-data upload --storage <shared> --chunk-size -1", f"{CLI} #upload"),
        Ex("clearml-data close --storage <shared>", f"{CLI} #close"),
        Ex("clearml-data get --id <dataset_id>", f"{CLI} #get"),
    ]
    out = play(steps, values, in_process)
    assert (Path(values["shared"]) / "versions" / f"{values['dataset_id']}.yaml").is_file()
    assert read_tree(Path(out[-1]["path"])) == {"x.csv": b"1\n", "y/z.csv": b"2\n"}


# ---------------------------------------------- examples of commands still to come


def closed_version(in_process: Runner, tmp_path: Path, values: dict[str, str]) -> None:
    """A closed version of <project>/<name> for the metadata examples (its id: <dataset_id>)."""
    make_tree(tmp_path / "data", {"a.csv": "1\n", "b/c.csv": "2\n"})
    values["data"] = str(tmp_path / "data")
    play(
        [
            Ex(
                "clearml-data create --project <project> --name <name>",
                f"{CLI} #create",
                saves="dataset_id",
            ),
            Ex("clearml-data add --files <data>", f"{CLI} #add"),
            Ex("clearml-data close", f"{CLI} #close"),
        ],
        values,
        in_process,
    )


def search_ids(in_process: Runner, *args: str) -> list[str]:
    """Ids ``gd search ARGS`` lists."""
    code, stdout = in_process(["search", *args])
    assert code == 0, stdout
    return [r["id"] for r in json.loads(stdout)]


def test_set_description_example(in_process: Runner, tmp_path: Path) -> None:
    values = {"project": "meta", "name": "described", "description": "cats and dogs, cleaned"}
    closed_version(in_process, tmp_path, values)
    play(
        [
            Ex(
                "clearml-data set-description --id <dataset_id> --description <description>",
                f"{CLI} #set-description",
            )
        ],
        values,
        in_process,
    )
    code, stdout = in_process(["search", "--ids", values["dataset_id"]])
    assert json.loads(stdout)[0]["description"] == "cats and dogs, cleaned"


def test_rename_example(in_process: Runner, tmp_path: Path) -> None:
    values = {"project": "meta", "name": "before", "new_name": "after"}
    closed_version(in_process, tmp_path, values)
    play(
        [
            Ex(
                "clearml-data rename --new-name <new_name> --project <project> --name <name>",
                f"{CLI} #rename",
            )
        ],
        values,
        in_process,
    )
    assert search_ids(in_process, "--project", "meta", "--name", "after") == [values["dataset_id"]]
    assert search_ids(in_process, "--project", "meta", "--name", "before") == []


def test_move_example(in_process: Runner, tmp_path: Path) -> None:
    values = {"project": "old_home", "name": "moved", "new_project": "new_home"}
    closed_version(in_process, tmp_path, values)
    play(
        [
            Ex(
                "clearml-data move --new-project <new_project> --project <project> --name <name>",
                f"{CLI} #move",
            )
        ],
        values,
        in_process,
    )
    assert search_ids(in_process, "--project", "new_home") == [values["dataset_id"]]
    assert search_ids(in_process, "--project", "old_home") == []


def test_publish_example(in_process: Runner, tmp_path: Path) -> None:
    values = {"project": "meta", "name": "published"}
    closed_version(in_process, tmp_path, values)
    play([Ex("clearml-data publish --id <dataset_id>", f"{CLI} #publish")], values, in_process)
    # "The dataset must be finalized before it is published": a draft is refused
    play(
        [
            Ex("clearml-data create --project <project> --name <name>", f"{CLI} #create", "draft"),
            Ex("clearml-data publish --id <draft>", f"{CLI} #publish", exit_code=4),
        ],
        values,
        in_process,
    )
    code, stdout = in_process(["get", "--id", values["dataset_id"]])
    assert code == 0 and read_tree(Path(json.loads(stdout)["path"])) == {
        "a.csv": b"1\n",
        "b/c.csv": b"2\n",
    }


def test_add_links_example(in_process: Runner, tmp_path: Path) -> None:
    """``add --links s3://bucket/data``: a link to a folder on a store. No cloud here:
    the folder is a local one given as a file:// URL."""
    linked = make_tree(tmp_path / "bucket" / "data", {"l1.csv": "l1\n", "l2.csv": "l2\n"})
    values = {"project": "links", "name": "external", "link": linked.as_uri()}
    play(
        [
            Ex(
                "clearml-data create --project <project> --name <name>",
                f"{CLI} #create",
                saves="dataset_id",
            ),
            Ex("clearml-data add --links <link>", f"{CLI} #add"),
            Ex("clearml-data close", f"{CLI} #close"),
        ],
        values,
        in_process,
    )
    code, stdout = in_process(["get", "--id", values["dataset_id"]])
    assert code == 0, stdout
    got = read_tree(Path(json.loads(stdout)["path"]))
    assert sorted((PurePosixPath(p).name, v) for p, v in got.items()) == [
        ("l1.csv", b"l1\n"),
        ("l2.csv", b"l2\n"),
    ]
