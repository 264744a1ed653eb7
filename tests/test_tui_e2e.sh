#!/bin/sh
# The workbench end to end in a real terminal (issue 7): tmux on its own
# socket at a fixed size drives `trainbench tui`: help, set the user's
# presets folder (remembered), pick quickstart, change the worker count,
# save it as a new preset, launch at smoke scale, watch the live view,
# scroll the log, resize, open the results (a sweep and a loose run),
# export Markdown and compare it with `trainbench export`, show the sweep
# and the run side by side and export both; then launch the saved preset,
# quit leaving the run going, and re-attach; and the Results screen under
# NO_COLOR in the C locale: no colour escapes, nothing beyond ASCII; and
# a table wider than the screen scrolls its columns; and the Resources
# screen with a stand-in NVML ($1) and without NVML.
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
shot() { [ -z "${TUI_SCREENS:-}" ] || T capture-pane -p -t tb > "$TUI_SCREENS/$1.txt"; }
# Down until the screen shows $1 (at most 40 times), each Down only once
# the previous one has changed the screen, so none overshoots.
down_to() {
    n=0
    until T capture-pane -p -t tb | grep -qF -- "$1"; do
        before=$(T capture-pane -p -t tb)
        keys Down; n=$((n + 1)); [ "$n" -lt 40 ] || fail "'$1' not found in the list"
        i=0
        while [ "$(T capture-pane -p -t tb)" = "$before" ] && [ "$i" -lt 50 ]; do sleep 0.05; i=$((i + 1)); done
    done
}

# A loose run (not a sweep), for the Results screen.
OMP_NUM_THREADS=2 "$TB" train --dataset synthetic --model resnet18-cifar:w4 --epochs 1 --limit-train 32 \
    --limit-test 32 --batch-size 32 --runs-dir "$runs" > "$tmp/train.log" 2>&1 || { cat "$tmp/train.log"; exit 1; }
loose=$(ls -d "$runs"/*/)
loose=${loose%/}
# Run folders are named by the second they start in and listed newest first;
# on a fast machine the sweep could start in the same second and sort below
# the run.  Let the second turn over.
second=$(date +%s)
while [ "$(date +%s)" = "$second" ]; do sleep 0.05; done

cat > "$tmp/env.sh" <<EOS
export LANG=C.UTF-8 LC_ALL=C.UTF-8 TRAINBENCH_PRESETS='$SRC/presets' OMP_NUM_THREADS=2 HOME='$tmp' XDG_CONFIG_HOME='$tmp/xdg'
EOS
T -f /dev/null new-session -d -s tb -x 120 -y 40 "sh -c '. $tmp/env.sh; exec sh'"
keys "$TB tui --runs-dir $runs" Enter
wait_for "1 Presets"
wait_for "lab2"
wait_for "Your presets: $tmp/xdg/trainbench/presets"
# Help lists the keys; Esc returns.
keys '?'
wait_for "PgUp/PgDn scroll the log"
wait_for "start trainbench again to re-attach"
shot help
keys Escape
wait_for "Question"
# Choose the user's presets folder: remembered in XDG_CONFIG_HOME.
keys f
wait_for "Your presets folder:"
keys C-u "$tmp/mine" Enter
wait_for "remembered"
grep -qxF "presets_dir = $tmp/mine" "$tmp/xdg/trainbench/tui.conf" || fail "the presets folder was not remembered"
down_to "Quickstart: ResNet-18"
shot presets
keys Enter
wait_for "Parameters: quickstart"
wait_for "1 configuration at smoke scale"
wait_for "(runs: 1)"
shot params
# num_workers is the fifth parameter: an invalid value is refused as typed.
keys Down Down Down Down Enter BSpace BSpace BSpace x
wait_for "Enter accept" 5
wait_for "x_" 5
# Enter does not accept it: still editing, so BSpace and 1 edit the value
# (were it accepted, 1 would switch to the Presets screen).
keys Enter BSpace 1 Enter
wait_for "num_workers ~"
T capture-pane -p -t tb | grep -E "num_workers ~ +1 " >/dev/null || fail "num_workers is not 1"
# Save as a new preset: a file the engine's parser loads, listed in Presets.
keys w
wait_for "Save as preset (name): quickstart-edited"
keys C-u my-quick Enter
wait_for "saved $tmp/mine/my-quick.ini"
"$TB" run "$tmp/mine/my-quick.ini" --scale smoke --dry-run > "$tmp/dry.txt" 2>&1 || { cat "$tmp/dry.txt"; fail "the saved preset does not load"; }
grep -q -- "--num-workers=1 " "$tmp/dry.txt" || fail "the saved preset lost num_workers=1: $(cat "$tmp/dry.txt")"
keys Escape
wait_for "my-quick (yours)"
keys 2
wait_for "Parameters: quickstart"
# Sweep it: a makes it an axis, then a list of two values.
keys a
wait_for "num_workers is now swept"
keys Enter BSpace "1, 2" Enter
wait_for "2 configurations at smoke scale"
shot params-sweep
keys l
wait_for "Epoch" 20
wait_for "Engine log"
wait_for "[1/2]" 30
# The log scrolls back and follows again.
keys PPage
wait_for "End follows" 5
keys End
# Resize during the run: smaller than the minimum, then bigger.
T resize-window -t tb -x 70 -y 20
wait_for "Terminal too small" 5
T resize-window -t tb -x 140 -y 45
wait_for "Epoch time: load vs compute" 5
wait_for "the sweep ended: completed" 120
wait_for "Sweep: workers vs data-load time"
wait_for "quickstart 2/2"
sweep=$(ls -d "$runs"/*-quickstart | head -1)
grep -Eq '"num_workers": ?1,' "$sweep"/01*/config.json || fail "the run did not get num_workers=1"
shot live
# Results: the sweep (newest) and the loose run.
keys 4
wait_for "Results (sweeps and runs"
wait_for "sweep/smoke"
wait_for "$(basename "$loose")"
shot results
keys Enter
wait_for "Does training work on this machine"
shot table
# At 80 columns the table is wider than its box: Right scrolls its columns,
# Workers stays, '<' marks the hidden ones; Left comes back.
T resize-window -t tb -x 80 -y 24
wait_for "Workers Model"
T capture-pane -p -t tb | grep -qF "Acc@5" && fail "the whole table fits at 80 columns: nothing to scroll"
n=0
until T capture-pane -p -t tb | grep -qF "Acc@5"; do
    keys Right; n=$((n + 1)); [ "$n" -lt 12 ] || fail "Right did not bring the last column into view"; sleep 0.1
done
wait_for "Workers<"
shot table-narrow
for _ in 1 2 3 4 5 6 7 8 9 10 11 12; do keys Left; done
wait_for "Workers Model"
T resize-window -t tb -x 140 -y 45
wait_for "Workers Model"
keys e
wait_for "Export Markdown to: "
keys Enter
wait_for "exported"
md="$runs/$(basename "$sweep").md"
[ -s "$md" ] || fail "no Markdown file $md"
"$TB" export "$sweep" --format md > "$tmp/cli.md"
diff -u "$tmp/cli.md" "$md" || fail "the workbench's export differs from trainbench export"
shot export
# Side by side: mark the sweep, Enter on the run; export both.
keys Escape Escape
wait_for "Results (sweeps and runs"
keys m Down Enter
wait_for "┌─ Runs"
wait_for "Does training work on this machine"
shot compare
keys e
wait_for "Export Markdown to: "
keys Enter
wait_for "exported"
md2="$runs/$(basename "$loose")-vs-$(basename "$sweep").md"
[ -s "$md2" ] || fail "no Markdown file $md2"
"$TB" export "$loose" "$sweep" --format md > "$tmp/cli2.md"
diff -u "$tmp/cli2.md" "$md2" || fail "the side-by-side export differs from trainbench export RUN SWEEP"

# Launch the saved preset, quit leaving it running, reopen without
# --presets (the remembered folder): re-attached.
keys Escape Escape 1
wait_for "Your presets: $tmp/mine"
down_to "(my-quick)"
keys Enter
wait_for "Parameters: my-quick"
keys l
wait_for "Epoch" 20
keys q
wait_for "A run is in progress" 5
keys l
wait_for "keeps running in" 5
keys "$TB tui --runs-dir $runs" Enter
wait_for "re-attached to the running sweep" 10
wait_for "Epoch" 10
wait_for "the sweep ended: completed" 120
keys 1
wait_for "Your presets: $tmp/mine"
down_to "(my-quick)"
wait_for "(from earlier sweeps"
shot estimate
keys q
i=0
until [ "$(T display -p -t tb '#{pane_current_command}')" = sh ]; do
    i=$((i + 1)); [ "$i" -lt 50 ] || fail "the workbench did not quit"; sleep 0.1
done
n=$(ls -d "$runs"/*-quickstart "$runs"/*-my-quick | wc -l)
[ "$n" -eq 2 ] || fail "expected 2 sweeps, found $n"

# NO_COLOR and a plain ASCII locale: the Results screen (bars, charts, table
# rules) in neither colour nor anything beyond ASCII; and, so this part can
# fail, the same screen in a UTF-8 locale does have colour.
plain_screen() { # LOCALE NO_COLOR: the Results screen with escapes (capture-pane -e)
    keys "LANG=$1 LC_ALL=$1 NO_COLOR=$2 $TB tui --runs-dir $runs" Enter
    wait_for "4 Results"
    keys 4
    wait_for "Results (sweeps and runs"
    wait_for "sweep/smoke"
    sleep 0.3
    T capture-pane -p -e -t tb > "$tmp/screen.txt"
    keys q
    i=0
    until [ "$(T display -p -t tb '#{pane_current_command}')" = sh ]; do
        i=$((i + 1)); [ "$i" -lt 50 ] || fail "the workbench did not quit"; sleep 0.1
    done
    keys clear Enter
}
plain_screen C 1
# SGR colours: 30-37/40-47/90-97 and 38;5 / 48;5 (tmux reports what was set).
esc=$(printf '\033')
if grep -qE "$esc\[([0-9;]*;)?(3[0-7]|4[0-7]|9[0-7]|38;5|48;5)(;[0-9;]*)?m" "$tmp/screen.txt"; then
    fail "colour escapes on the screen with NO_COLOR=1: $(grep -c "$esc" "$tmp/screen.txt") lines"
fi
if LC_ALL=C tr -d '\033\n' < "$tmp/screen.txt" | LC_ALL=C grep -q '[^ -~]'; then
    fail "non-ASCII bytes on the screen in the C locale"
fi
plain_screen C.UTF-8 ""
grep -qE "$esc\[([0-9;]*;)?(3[0-7]|4[0-7]|9[0-7]|38;5|48;5)(;[0-9;]*)?m" "$tmp/screen.txt" ||
    fail "no colour escapes on the screen without NO_COLOR (the check above proves nothing)"

# The Resources screen (issue 18): with the stand-in NVML (tests/nvml_standin.c,
# the test's argument) on the library path, its two GPUs and their readings,
# the host group, and the compact panel on the Live screen; without it, the
# line that says NVML is missing (where no real driver is installed).
quit_tui() {
    keys q
    i=0
    until [ "$(T display -p -t tb '#{pane_current_command}')" = sh ]; do
        i=$((i + 1)); [ "$i" -lt 50 ] || fail "the workbench did not quit"; sleep 0.1
    done
    keys clear Enter
}
standin=${1:-}
if [ -n "$standin" ]; then
    [ -f "$standin" ] || fail "no stand-in NVML at $standin (ninja builds it)"
    keys "LD_LIBRARY_PATH=$(dirname "$standin") $TB tui --runs-dir $runs" Enter
    wait_for "5 Resources"
    keys 5
    wait_for "GPU 0: Stand-in GPU A100-SXM4-80GB" 5
    wait_for "12.5/80.0 GiB (16%)" 5
    wait_for "312 W (78% of 400 W)" 5
    wait_for "Temp 71 C  SM 1410 MHz  mem 1593 MHz  00000000:19:00.0" 5
    wait_for "GPU 1: Stand-in GPU T4 (power: Not Supported)" 5
    wait_for "Host: " 5
    shot resources
    keys 3
    wait_for "GPU0 87% 12.5/80G 312W 71C" 5
    wait_for "GPU1 3% 1.0/16G -- 40C" 5
    quit_tui
fi
if ! /sbin/ldconfig -p 2>/dev/null | grep -qF libnvidia-ml.so.1; then
    keys "$TB tui --runs-dir $runs" Enter
    wait_for "5 Resources"
    keys 5
    wait_for "no NVIDIA GPU (NVML not found)" 5
    wait_for "Host: " 5
    quit_tui
fi
# Issue 18: the keys people expect.  Home/End inside tmux arrive as ESC [1~
# and ESC [4~, which terminfo for xterm-256color does not know: they must
# still be Home and End (before, Esc '1' '~': the Presets tab), and under
# TERM=screen.  `/` filters Results: typing "quick" does not quit at the q.
for term in xterm-256color screen; do
    keys "TERM=$term $TB tui --runs-dir $runs" Enter
    wait_for "4 Results"
    keys 4
    wait_for "Results (sweeps and runs"
    # As tmux and screen send them, whatever this tmux's own key tables say.
    keys -l "$(printf '\033[4~')"; keys -l "$(printf '\033[1~')"
    keys / q u i c k
    wait_for "/ quick (Esc: all)" 5
    [ "$term" = screen ] && shot results-filter
    T capture-pane -p -t tb | grep -qF "Your presets:" && fail "TERM=$term: Home/End switched to the Presets tab"
    T capture-pane -p -t tb | grep -qF "$(basename "$loose")" && fail "the filter /quick still lists the loose run"
    [ "$(T display -p -t tb '#{pane_current_command}')" != sh ] || fail "typing /quick quit the workbench"
    keys Enter Escape
    quit_tui
done
# Cancel asks first (any key but y keeps the run); the exit message after a
# cancel says the sweep was cancelled, not that it keeps running.
keys "$TB tui --runs-dir $runs" Enter
wait_for "1 Presets"
keys / quickstart Enter
wait_for "Question"
keys Enter
wait_for "Parameters: quickstart"
keys s
wait_for "at full scale"
keys l
wait_for "Epoch" 20
keys c
wait_for "Cancel the running sweep?" 5
keys n
wait_for "not cancelled" 5
keys c
wait_for "Cancel the running sweep?" 5
shot cancel-confirm
keys y
wait_for "cancelling" 5
keys q
i=0
until [ "$(T display -p -t tb '#{pane_current_command}')" = sh ]; do
    T capture-pane -p -t tb | grep -qF "A run is in progress" && keys l
    i=$((i + 1)); [ "$i" -lt 50 ] || fail "the workbench did not quit"; sleep 0.1
done
wait_for "was cancelled" 5
T capture-pane -p -t tb | grep -qF "keeps running in" && fail "the exit message after a cancel says the run keeps running"
# Issue 18: a failed run's reason whole on Results and on its Run screen;
# a finished run opened with Enter shows its options, epochs and curves.
mkdir -p "$runs/zz-failed"
cat > "$runs/zz-failed/result.json" <<EOS
{"status":"failed","started_at":$(( $(date +%s) + 3600 )),"config":{"model":"resnet18-cifar","epochs":1},
 "error":"cudaErrorInsufficientDriver: CUDA driver version is insufficient for CUDA runtime version; install the driver that CUDA 13 needs, or run with --device cpu (end of the reason)"}
EOS
keys "$TB tui --runs-dir $runs" Enter
wait_for "4 Results"
keys 4
wait_for "Failed:" 5
wait_for "(end of the reason)" 5
shot results-failed
keys Enter
wait_for "Run zz-failed" 5
wait_for "(end of the reason)" 5
keys Escape
wait_for "Results (sweeps and runs"
keys / "$(basename "$loose")" Enter
keys Enter
wait_for "Per epoch (with resource readings)" 5
wait_for "Options (*: not the default)" 5
shot run
keys Escape Escape
quit_tui
echo "tui e2e: ok"
