#!/usr/bin/env bash
# Issue 18 on the command line: a sweep whose first two configurations fail
# the same way (here: a data folder that does not exist) stops and says so,
# unless --keep-going; `trainbench results` lists newest first and filters.
set -u
. "$(dirname "$0")/lib.sh"
TB=${TRAINBENCH:?set TRAINBENCH to the trainbench binary}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cat >"$tmp/nodata.ini" <<'INI'
[preset]
title = A data folder that does not exist
lab = test
question = Does the sweep stop when every configuration would fail alike?
[run]
model = resnet18-cifar:w2
dataset = fashion-mnist
data_dir = /does/not/exist
limit_train = 64
limit_test = 64
epochs = 1
batch_size = 32
[sweep]
lr = 0.1, 0.05, 0.02
[table]
columns = lr, test_acc
INI
summary() { python3 -c "import json,glob,sys; d=json.load(open(glob.glob(sys.argv[1] + '/*/summary.json')[0])); print(eval(sys.argv[2]))" "$@"; }

expect 1 "stopped: the first 2 configurations failed the same way: dataset fashion-mnist: .*not found in /does/not/exist" \
  -- "$TB" run "$tmp/nodata.ini" --runs-dir "$tmp/stop" --quiet
[ "$(summary "$tmp/stop" "[c['status'] for c in d['configs']], d['status'], 'same way' in d.get('stopped', '')")" = \
  "(['failed', 'failed', 'pending'], 'failed', True)" ] && ok || bad "stopped sweep: $(cat "$tmp"/stop/*/summary.json)"
expect 1 "0 of 3 completed" -- "$TB" run "$tmp/nodata.ini" --runs-dir "$tmp/all" --quiet --keep-going
[ "$(summary "$tmp/all" "[c['status'] for c in d['configs']], 'stopped' in d")" = \
  "(['failed', 'failed', 'failed'], False)" ] && ok || bad "--keep-going: $(cat "$tmp"/all/*/summary.json)"

# Newest first by the time the files record (folder names in the other order).
mkdir -p "$tmp/list/a-old" "$tmp/list/b-new"
echo '{"status":"failed","started_at":1000,"config":{"model":"resnet18-cifar"},"summary":{}}' >"$tmp/list/a-old/result.json"
echo '{"status":"completed","started_at":2000,"config":{"model":"resnet50"},"summary":{}}' >"$tmp/list/b-new/result.json"
"$TB" results --runs-dir "$tmp/list" >"$tmp/list.txt" 2>&1
[ "$(grep -o -- '-old\|-new' "$tmp/list.txt" | tr '\n' ' ')" = "-new -old " ] && ok || bad "order: $(cat "$tmp/list.txt")"
expect 0 "a-old" -- "$TB" results --runs-dir "$tmp/list" --filter FAILED
grep -q b-new <<<"$last_out" && bad "--filter FAILED kept the completed run: $last_out" || ok
expect 0 "b-new" -- "$TB" results --runs-dir "$tmp/list" --filter=resnet50 --json
expect 0 'no sweeps or runs under .* match "nothing"' -- "$TB" results --runs-dir "$tmp/list" --filter nothing
expect 2 '--filter "": expected a non-empty value' -- "$TB" results --runs-dir "$tmp/list" --filter ""

[ "$fails" -eq 0 ] || { echo "$fails of $checks checks failed" >&2; exit 1; }
echo "all $checks checks passed"
