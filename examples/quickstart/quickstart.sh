#!/usr/bin/env bash
# gitdata quickstart: a throwaway git repo, a dataset, a child version, local copies,
# a comparison, a report and the lineage graph. Uses the embedded default store ($XDG_DATA_HOME/gitdata/store).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
gd() { python3 -m gitdata "$@"; }   # same as the `gd` command, even before the shell rehashes

WORK="$(mktemp -d "${TMPDIR:-/tmp}/gd-quickstart.XXXXXX")"
echo "== working in $WORK"
cd "$WORK"
git init -q repo && cd repo
git config user.email "quickstart@example.com" && git config user.name "gd quickstart"
cp -r "$HERE/sample" data

echo "== 1. create a dataset from the sample files and close it"
gd create --project quickstart --name flowers --tags demo --description "sample flowers"
gd add --files data
V1="$(gd close --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
git commit -qm "flowers v1" && echo "committed pointer .gitdata/datasets/quickstart/flowers.yaml"
cat .gitdata/datasets/quickstart/flowers.yaml

echo "== 2. change the folder, make a child version with sync"
echo "sunflower" > data/labels/flower_06.txt
cp data/images/flower_00.pgm data/images/flower_06.pgm
echo "tulip (relabelled)" > data/labels/flower_01.txt
rm data/labels/flower_05.txt data/images/flower_05.pgm
mv data/README.txt data/ABOUT.txt          # a rename: stored content is reused, nothing uploaded
V2="$(gd sync --project quickstart --name flowers --parents "$V1" --folder data --json \
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
git commit -qm "flowers v2"
gd show --id "$V2" --files

echo "== 3. get local copies"
echo "cached read-only copy: $(gd get --project quickstart --name flowers)"
gd get --id "$V2" --link ../linked
gd get --id "$V1" --copy ../v1-copy
echo "v1 writable copy in ../v1-copy, v2 linked tree in ../linked"
gd verify --id "$V1" --folder ../v1-copy

echo "== 4. compare the versions"
gd compare --source "$V1" --target "$V2"
gd search --project quickstart

echo "== 5. training code: one line of the ClearML API, pinned by the commit's pointer"
python3 "$HERE/../train.py" --project quickstart --name flowers
echo "== 6. one file to share: the version page as self-contained HTML (gd ui serves them all)"
gd report --id "$V2" --output ../flowers-v2.html

echo "== done: everything is under $WORK; the lineage of the dataset:"
gd graph --project quickstart --name flowers
