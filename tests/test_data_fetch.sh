#!/usr/bin/env bash
# `trainbench data fetch` against a local HTTP server (127.0.0.1, a free
# port, stopped on exit) and file:// mirrors: a complete download, an
# interrupted and resumed one, a server ignoring ranges, a redirect, a stall,
# a slow drip, endless and oversized bodies, a wrong checksum, a truncated
# archive, path-traversal and link archives, and links or FIFOs planted where
# trainbench reads or writes.
set -u
. "$(dirname "$0")/lib.sh"
TB=${TRAINBENCH:?set TRAINBENCH to the trainbench binary}
SRC=${SOURCE_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
tmp=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT


# --- the archive and the server ---------------------------------------------
mkdir -p "$tmp/srv"
"$TB" data synth cifar10 --out "$tmp/srv" --per-class 20 >/dev/null || { echo "synth failed"; exit 1; }
A="$tmp/srv/cifar-10-binary.tar.gz"
MD5=$(md5sum "$A" | cut -d' ' -f1)
SIZE=$(stat -c %s "$A")
python3 "$SRC/tests/http_server.py" "$tmp/srv" "$tmp/port" "$tmp/log" &
server_pid=$!
for _ in $(seq 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
[ -s "$tmp/port" ] || { echo "the test HTTP server did not start"; exit 1; }
URL="http://127.0.0.1:$(cat "$tmp/port")"
batch="cifar10/cifar-10-batches-bin/data_batch_1.bin"

# --- a complete download, then idempotence ----------------------------------
R="$tmp/r1"
expect 0 "fetched, verified \(md5\)" -- "$TB" data fetch cifar10 --root "$R" --mirror "$URL/files" --checksum "md5:$MD5" --quiet
check '[ "$(stat -c %s "$R/$batch" 2>/dev/null)" = $((200 * 3073)) ]' "batch file missing or wrong size"
check '[ -f "$R/cifar10/.trainbench-fetched" ] && grep -q "md5:$MD5" "$R/cifar10/.trainbench-fetched"' "no stamp"
check '[ -z "$(ls -A "$R/.downloads")" ] && [ -z "$(ls -d "$R"/.cifar10.* 2>/dev/null)" ]' "leftovers after a good fetch"
requests=$(wc -l <"$tmp/log")
expect 0 "already fetched and verified" -- "$TB" data fetch cifar10 --root "$R" --mirror "$URL/files" --checksum "md5:$MD5"
check '[ "$(wc -l <"$tmp/log")" = "$requests" ]' "an installed dataset was downloaded again"
# trainbench train finds it by default under $TRAINBENCH_DATA (the size check
# then names the short synthetic batch: proof it read this folder).
expect 1 "$R/cifar10.*data_batch_1.bin: 614600 bytes, expected 30730000" -- \
  env TRAINBENCH_DATA="$R" "$TB" train --dataset cifar10 --runs-dir "$tmp/runs" --epochs 1

# --- wrong checksum: the good copy stays, the bad download is kept aside -----
before=$(md5sum "$R/$batch")
expect 1 "checksum mismatch.*moved aside" -- "$TB" data fetch cifar10 --root "$R" --mirror "$URL/files" --checksum "md5:0123456789abcdef0123456789abcdef" --quiet
check '[ "$(md5sum "$R/$batch")" = "$before" ] && grep -q "md5:$MD5" "$R/cifar10/.trainbench-fetched"' "the good dataset was touched"
check '[ -f "$R/.downloads/cifar-10-binary.tar.gz.bad" ] && [ ! -e "$R/.downloads/cifar-10-binary.tar.gz" ]' "bad download not moved aside"

# --- interrupted, then resumed with a range request --------------------------
R="$tmp/r2"
expect 1 "cut off after [0-9]+ bytes.*run the same command again to resume" -- "$TB" data fetch cifar10 --root "$R" --mirror "$URL/cut" --checksum "md5:$MD5" --quiet
part="$R/.downloads/cifar-10-binary.tar.gz.part"
psize=$(stat -c %s "$part" 2>/dev/null || echo 0)
check '[ "$psize" -gt 0 ] && [ "$psize" -lt "$SIZE" ]' "no partial download kept (size $psize of $SIZE)"
check '[ ! -e "$R/cifar10" ]' "a dataset folder appeared after a failed download"
expect 0 "fetched, verified" -- "$TB" data fetch cifar10 --root "$R" --mirror "$URL/cut" --checksum "md5:$MD5" --quiet
check 'grep -q "GET /cut/cifar-10-binary.tar.gz bytes=$psize-" "$tmp/log"' "the second try did not resume at byte $psize"
check '[ -f "$R/$batch" ]' "resumed download not installed"

# --- a server that ignores ranges: start over, no garbage appended ----------
R="$tmp/r3"
mkdir -p "$R/.downloads"
head -c 1000 "$A" >"$R/.downloads/cifar-10-binary.tar.gz.part"
expect 0 "fetched, verified" -- "$TB" data fetch cifar10 --root "$R" --mirror "$URL/norange" --checksum "md5:$MD5"

# --- redirects, file:// mirrors, --from --------------------------------------
expect 0 "fetched, verified" -- "$TB" data fetch cifar10 --root "$tmp/r4" --mirror "$URL/redirect" --checksum "md5:$MD5" --quiet
expect 0 "fetched, verified" -- "$TB" data fetch cifar10 --root "$tmp/r5" --mirror "file://$tmp/srv" --checksum "md5:$MD5" --quiet
check '[ -f "$tmp/r5/$batch" ]' "file:// mirror not installed"
expect 0 "fetched, verified" -- "$TB" data fetch cifar10 --root "$tmp/r6" --from "$A" --checksum "sha256:$(sha256sum "$A" | cut -d' ' -f1)"
check '[ -f "$A" ]' "--from deleted the user's archive"
# Without --checksum the published sum applies, and this archive is not it.
expect 1 "expected c32a1d4ab5d03f1284b67883e8d87530" -- "$TB" data fetch cifar10 --root "$tmp/r7" --from "$A"
expect 1 "server answered HTTP 404" -- "$TB" data fetch cifar10 --root "$tmp/r8" --mirror "$URL/files/nothere" --checksum "md5:$MD5" --quiet

# --- a stalled transfer times out with a clear message -----------------------
expect 1 "stalled: under 1024 bytes/s for 2 s.*resume" -- "$TB" data fetch cifar10 --root "$tmp/r9" --mirror "$URL/stall" --checksum "md5:$MD5" --stall-timeout 2 --quiet
# A byte every half second is a stall too (a 1 byte/s floor never fired):
# `timeout` turns the old endless wait into a failure instead of a hang.
start=$SECONDS
expect 1 "stalled: under 1024 bytes/s for 2 s" -- timeout 30 "$TB" data fetch cifar10 --root "$tmp/r9b" --mirror "$URL/drip" --checksum "md5:$MD5" --stall-timeout 2 --quiet
check '[ $((SECONDS - start)) -le 10 ]' "a dripping server was not cut off after the stall timeout ($((SECONDS - start)) s)"

# --- endless or oversized bodies are cut off and deleted, not kept ------------
# MNIST's train images are 9.9 MB published; the limit is 16 MiB.
expect 1 "sends more than 16777216 bytes.*cut off and deleted" -- timeout 60 "$TB" data fetch mnist --root "$tmp/r9c" --mirror "$URL/endless" --quiet
check '[ -z "$(ls -A "$tmp/r9c/.downloads" 2>/dev/null)" ]' "an endless download left $(du -sh "$tmp/r9c/.downloads" 2>/dev/null | cut -f1) behind"
expect 1 "sends more than 209715200 bytes" -- timeout 60 "$TB" data fetch cifar10 --root "$tmp/r9d" --mirror "$URL/huge" --checksum "md5:$MD5" --quiet
check '[ -z "$(ls -A "$tmp/r9d/.downloads" 2>/dev/null)" ]' "an oversized download left files behind"

# --- a truncated archive: nothing installed, no temporary folder left --------
mkdir -p "$tmp/trunc"
head -c $((SIZE / 2)) "$A" >"$tmp/trunc/cifar-10-binary.tar.gz"
T="$tmp/trunc/cifar-10-binary.tar.gz"
expect 1 "truncated or corrupt" -- "$TB" data fetch cifar10 --root "$tmp/r10" --from "$T" --checksum "md5:$(md5sum "$T" | cut -d' ' -f1)"
check '[ ! -e "$tmp/r10/cifar10" ] && [ -z "$(ls -d "$tmp"/r10/.cifar10.* 2>/dev/null)" ]' "a truncated archive left files behind"

# --- unsafe archives: refused, naming the entry; nothing written outside -----
python3 - "$tmp" <<'PY'
import io, sys, tarfile
tmp = sys.argv[1]
def make(name, entries):
    with tarfile.open(f"{tmp}/{name}.tar.gz", "w:gz") as t:
        for ename, kind, target in entries:
            info = tarfile.TarInfo(ename)
            if kind == "file":
                data = b"pwned\n"
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
            else:
                info.type = tarfile.SYMTYPE if kind == "sym" else tarfile.LNKTYPE
                info.linkname = target
                t.addfile(info)
ok = ("cifar-10-batches-bin/readme.txt", "file", None)
make("dotdot", [ok, ("cifar-10-batches-bin/../../evil.txt", "file", None)])
make("absolute", [ok, (f"{tmp}/abs-evil.txt", "file", None)])
make("symlink", [ok, ("cifar-10-batches-bin/link", "sym", "../../outside")])
make("abslink", [ok, ("cifar-10-batches-bin/etc", "sym", "/etc")])
make("hardlink", [ok, ("cifar-10-batches-bin/h", "hard", "../../x")])
# A chain whose every link looks inside on its own (no entry is written
# through a link either): l1 -> .. is the extraction folder, l2 -> l1/.. the
# --root above it.  Then a file written through it, a link at the stamp's
# path that the stamp write used to follow (O_TRUNC) onto ROOT/victim, and a
# hard link to ROOT/victim through the chain.
chain = [("cifar-10-batches-bin/l1", "sym", ".."), ("l2", "sym", "cifar-10-batches-bin/l1/..")]
make("chain", [ok] + chain + [("l2/victim", "file", None)])
make("stamplink", [ok] + chain + [(".trainbench-fetched", "sym", "l2/victim")])
make("hardchain", [ok] + chain + [("cifar-10-batches-bin/h", "hard", "l2/victim")])
make("insidelink", [ok, ("cifar-10-batches-bin/same", "sym", "readme.txt")])
make("stampfile", [ok, (".trainbench-fetched", "file", None)])
PY
for evil in dotdot absolute symlink abslink hardlink chain stamplink hardchain insidelink stampfile; do
  E="$tmp/$evil.tar.gz"
  mkdir -p "$tmp/e-$evil" && echo precious >"$tmp/e-$evil/victim"
  case $evil in
    dotdot) want="entry 'cifar-10-batches-bin/../../evil.txt' has a '..' component" ;;
    absolute) want="entry '$tmp/abs-evil.txt' has an absolute path" ;;
    symlink) want="entry 'cifar-10-batches-bin/link' is a symbolic link to '../../outside'" ;;
    abslink) want="entry 'cifar-10-batches-bin/etc' is a symbolic link to '/etc'" ;;
    hardlink) want="entry 'cifar-10-batches-bin/h' is a hard link to '../../x'" ;;
    chain | stamplink | hardchain) want="entry 'cifar-10-batches-bin/l1' is a symbolic link to '..'" ;;
    insidelink) want="entry 'cifar-10-batches-bin/same' is a symbolic link to 'readme.txt'" ;;
    stampfile) want="cannot write .*/.trainbench-fetched: File exists" ;;
  esac
  expect 1 "$want" -- "$TB" data fetch cifar10 --root "$tmp/e-$evil" --from "$E" --checksum "md5:$(md5sum "$E" | cut -d' ' -f1)"
  check '[ ! -e "$tmp/e-$evil/cifar10" ] && [ -z "$(ls -d "$tmp"/e-"$evil"/.cifar10.* 2>/dev/null)" ]' "$evil: files left behind"
  check '[ "$(cat "$tmp/e-$evil/victim")" = precious ] && [ "$(stat -c %h "$tmp/e-$evil/victim")" = 1 ]' \
    "$evil: the archive reached ROOT/victim outside its folder"
done
check '[ ! -e "$tmp/evil.txt" ] && [ ! -e "$tmp/abs-evil.txt" ] && [ ! -e "$tmp/outside" ]' "an unsafe archive wrote outside its root"

# --- an installed copy holding a link is not trusted: fetched again, clean ---
R="$tmp/r1"
ln -s / "$R/cifar10/cifar-10-batches-bin/root"
expect 0 "is a symbolic link.*fetching cifar10 again" -- "$TB" data fetch cifar10 --root "$R" --mirror "$URL/files" --checksum "md5:$MD5" --quiet
check '[ -z "$(find "$R/cifar10" ! -type f ! -type d)" ] && [ -f "$R/$batch" ]' "the re-fetched copy still holds a link"

# --- links and FIFOs planted where fetch reads or writes ---------------------
R="$tmp/r14"
mkdir -p "$R/.downloads"
echo "precious" >"$tmp/victim2"
ln -s "$tmp/victim2" "$R/.downloads/cifar-10-binary.tar.gz.part"
expect 1 "cifar-10-binary.tar.gz.part: it is a symbolic link" -- "$TB" data fetch cifar10 --root "$R" --mirror "$URL/files" --checksum "md5:$MD5" --quiet
check '[ "$(cat "$tmp/victim2")" = precious ]' "the download was written through a planted link"
rm "$R/.downloads/cifar-10-binary.tar.gz.part"
mkfifo "$R/.downloads/cifar-10-binary.tar.gz.part"
expect 1 "part: (it is a FIFO|No such device)" -- timeout 20 "$TB" data fetch cifar10 --root "$R" --mirror "$URL/files" --checksum "md5:$MD5" --quiet
mkdir -p "$tmp/fifos"
mkfifo "$tmp/fifos/cifar-10-binary.tar.gz"
expect 1 "is not a (readable|regular) file" -- timeout 20 "$TB" data fetch cifar10 --root "$R" --from "$tmp/fifos/cifar-10-binary.tar.gz" --checksum "md5:$MD5"
expect 1 "fifos/cifar-10-binary.tar.gz is not a regular file" -- timeout 20 "$TB" data fetch cifar10 --root "$tmp/r16" --mirror "file://$tmp/fifos" --checksum "md5:$MD5" --quiet
# A FIFO planted at an installed copy's stamp is never opened (it would block).
mkdir -p "$tmp/r15/cifar10"
mkfifo "$tmp/r15/cifar10/.trainbench-fetched"
expect 0 "fetched, verified" -- timeout 20 "$TB" data fetch cifar10 --root "$tmp/r15" --mirror "$URL/files" --checksum "md5:$MD5" --quiet
check '[ -f "$tmp/r15/cifar10/.trainbench-fetched" ] && [ -f "$tmp/r15/$batch" ]' "a FIFO at the stamp stopped the fetch"

# --- usage errors and the other datasets -------------------------------------
expect 2 "unknown dataset 'cifar11'" -- "$TB" data fetch cifar11
expect 2 "--checksum: checksum 'md5:123'" -- "$TB" data fetch cifar10 --checksum md5:123
expect 2 "exclude each other" -- "$TB" data fetch cifar10 --from x --mirror y
expect 1 "without an account" -- "$TB" data fetch imagenet --root "$tmp/r11"
if [ -d /usr/share/datasets/fashion-mnist ]; then
  expect 0 "using Debian's /usr/share/datasets/fashion-mnist" -- env TRAINBENCH_DATA="$tmp/r12" "$TB" data fetch fashion-mnist
  check '[ ! -e "$tmp/r12" ]' "fashion-mnist was downloaded although Debian's copy is installed"
  # Debian recompressed the .gz files, so they are not the published ones:
  # the MD5 check must catch that (and name the published sum).
  expect 1 "expected 8d4fb7e6c68d591d4c3dfef9ec88bf0d" -- "$TB" data fetch fashion-mnist --root "$tmp/r13" --mirror file:///usr/share/datasets/fashion-mnist --quiet
  expect 2 "--checksum replaces the sum of a single-archive dataset" -- "$TB" data fetch mnist --root "$tmp/r13" --checksum "md5:$MD5"
fi

echo "$((checks - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
