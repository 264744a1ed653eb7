#!/bin/sh
# The workbench end to end in a real terminal (issue 7): tmux on its own
# socket at a fixed size drives `trainbench tui`: pick quickstart, change the
# worker count, launch at smoke scale, watch the live view, resize, open the
# results, export Markdown and compare it with `trainbench export`; then
# launch again, quit leaving the run going, and re-attach.
set -eu
TB=${TRAINBENCH:?} SRC=${SOURCE_ROOT:?}
command -v tmux >/dev/null 2>&1 || { echo "tmux not installed: skipped"; exit 77; }
tmp=$(mktemp -d)
sock=tbtest-$$
T() { tmux -L "$sock" "$@"; }
cleanup() { T kill-server 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM
runs=$tmp/runs
fail() { echo "FAIL: $*"; echo "--- screen:"; T capture-pane -p -t tb || true; exit 1; }
# Waits (up to $2 s) for text on the screen, polling, not sleeping blindly.
wait_for() {
    i=0
    while [ "$i" -lt $(( ${2:-20} * 10 )) ]; do
        T capture-pane -p -t tb 2>/dev/null | grep -qF -- "$1" && return 0
        sleep 0.1; i=$((i + 1))
    done
    fail "'$1' did not appear within ${2:-20} s"
}
keys() { T send-keys -t tb "$@"; }

cat > "$tmp/env.sh" <<EOS
export LANG=C.UTF-8 LC_ALL=C.UTF-8 TRAINBENCH_PRESETS='$SRC/presets' OMP_NUM_THREADS=2 HOME='$tmp'
EOS
T -f /dev/null new-session -d -s tb -x 120 -y 40 "sh -c '. $tmp/env.sh; exec sh'"
keys "$TB tui --runs-dir $runs --presets-dir $tmp/user" Enter
wait_for "1 Presets"
wait_for "lab2"
# Down until the detail pane shows quickstart.
n=0
until T capture-pane -p -t tb | grep -qF "Quickstart: ResNet-18"; do
    keys Down; n=$((n + 1)); [ "$n" -lt 40 ] || fail "quickstart not found in the list"; sleep 0.1
done
keys Enter
wait_for "Parameters: quickstart"
wait_for "1 configuration at smoke scale"
[ -z "${TUI_SCREENS:-}" ] || T capture-pane -p -t tb > "$TUI_SCREENS/params.txt"
# num_workers is the fifth parameter: an invalid value is refused as typed.
keys Down Down Down Down Enter BSpace BSpace BSpace x
wait_for "num_workers" 5
T capture-pane -p -t tb | grep -q "Enter accept" || fail "not editing"
keys Enter
T capture-pane -p -t tb | grep -q "Enter accept" || fail "an invalid value was accepted"
keys BSpace 1 Enter
wait_for "num_workers ~"
T capture-pane -p -t tb | grep -E "num_workers ~ +1 " >/dev/null || fail "num_workers is not 1"
keys l
wait_for "Epoch" 20
wait_for "Engine log"
# Resize during the run: smaller than the minimum, then bigger.
T resize-window -t tb -x 70 -y 20
wait_for "Terminal too small" 5
T resize-window -t tb -x 140 -y 45
wait_for "Epoch time: load vs compute" 5
wait_for "the sweep ended: completed" 120
sweep=$(ls -d "$runs"/*-quickstart | head -1)
grep -Eq '"num_workers": ?1,' "$sweep"/01*/config.json || fail "the run did not get num_workers=1"
[ -z "${TUI_SCREENS:-}" ] || T capture-pane -p -t tb > "$TUI_SCREENS/live.txt"
keys 4
wait_for "Results (sweeps"
keys Enter
wait_for "Does training work on this machine"
[ -z "${TUI_SCREENS:-}" ] || T capture-pane -p -t tb > "$TUI_SCREENS/table.txt"
keys e
wait_for "exported"
md="$runs/$(basename "$sweep").md"
[ -s "$md" ] || fail "no Markdown file $md"
"$TB" export "$sweep" --format md > "$tmp/cli.md"
diff -u "$tmp/cli.md" "$md" || fail "the workbench's export differs from trainbench export"

# Launch again, quit leaving it running, reopen: re-attached.
keys Escape Escape 2
wait_for "Parameters: quickstart"
keys l
wait_for "Epoch" 20
keys q
wait_for "A run is in progress" 5
keys l
wait_for "keeps running in" 5
keys "$TB tui --runs-dir $runs --presets-dir $tmp/user" Enter
wait_for "re-attached to the running sweep" 10
wait_for "Epoch" 10
wait_for "the sweep ended: completed" 120
keys q
i=0
until [ "$(T display -p -t tb '#{pane_current_command}')" = sh ]; do
    i=$((i + 1)); [ "$i" -lt 50 ] || fail "the workbench did not quit"; sleep 0.1
done
n=$(ls -d "$runs"/*-quickstart | wc -l)
[ "$n" -eq 2 ] || fail "expected 2 sweeps, found $n"
echo "tui e2e: ok"
