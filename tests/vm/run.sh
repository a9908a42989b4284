#!/bin/bash
# tests/vm/run.sh — run one command inside the IPVS test guest and exit with its exit code.
#
#   tests/vm/run.sh [--share DIR]... [--env NAME=VALUE]... [--timeout SECS] [--] COMMAND [ARG...]
#
# Boots Debian's generic amd64 kernel (see prepare.sh; run first if its output is missing) under
# qemu TCG with the initramfs, shares the repository's PARENT directory (so ../shared is there
# too), the current directory and every --share DIR over 9p at the same absolute paths, and runs
# COMMAND in the current directory. Guest output streams to stdout. The guest environment has
# the host's LVSDECK_*, RUST_*, CARGO_* and CI variables plus --env ones; PATH=/bin, HOME=/root.
#
# Exit code: COMMAND's. Otherwise, with a message on stderr: 124 the guest timed out
# (LVSDECK_VM_TIMEOUT, default 300 s); 125 qemu failed or the guest died without reporting
# (kernel panic, /init crash); 126 the guest could not set up (share mount, missing script).
#
# Knobs: LVSDECK_VM_TIMEOUT (s), LVSDECK_VM_MEM (MiB, 512), LVSDECK_VM_SMP (1),
#   LVSDECK_VM_DIR (artifacts, default <repo>/target/vm), LVSDECK_VM_KEEP=1 keeps the run folder
#   (target/vm/runs/*: run.sh, console.log, exit-code), LVSDECK_VM_CACHE (9p cache mode, none),
#   LVSDECK_VM_SHARE (more folders to share, space-separated),
#   LVSDECK_VM_APPEND (more kernel arguments, e.g. loglevel=7), LVSDECK_VM_QUIET=1 (no summary).
#
# Measured (2-core host shared with other builds, load 1-8; qemu 7.2 TCG, Debian kernel
# 6.1.0-56-amd64 booted as an ELF vmlinux through PVH, 19 MB uncompressed initramfs):
#   prepare.sh cold (apt-get download 70 MB .deb, dpkg -x, depmod, extract vmlinux, initramfs)
#   12-16 s; warm 0.3 s.
#   `run.sh true`: 4.4 s wall on a quiet host, 6-8 s under load. Of that, guest uptime when the
#   command starts ~3.9-5 s: kernel ~2.3-2.9 s to /init, /init ~1.4 s (loading 36 modules,
#   ~15 ms per IPVS scheduler), then 9p mounts; power-off ~0.3 s; qemu start ~0.5 s.
#   vm_smoke tests, wall per boot (body time in the guest): proc_net_ip_vs_exists 6.2 s (0.0 s),
#   ipvsadm_lists_a_service 6.3 s (0.5 s), every_scheduler_works 7.6 s (2.1 s: 26 ipvsadm
#   runs), netns_veth_ping 6.1 s (0.8 s), ipvs_nat_forwards_http 6.3-8.5 s (1.5-3.4 s).
#   Starting the host-built test binary from 9p: ~0.3 s. Each process start in the guest
#   (bash, ipvsadm) costs ~50-150 ms: batch shell commands into one script.
#
# Pitfalls:
#   - /dev/kvm exists but cannot run Debian's kernels: TCG is forced (-accel tcg).
#   - busybox sh runs its own applets (e.g. a limited `ip`) before PATH: the guest's /bin/sh is
#     bash, and scripts should say #!/bin/bash.
#   - busybox-static `wget` crashes: use bash /dev/tcp or a Rust binary for HTTP.
#   - crc32c-intel fails to load (no SSE4.2 under TCG); crc32c_generic is loaded instead.
#   - IPVS stats counters are updated by a ~2 s kernel timer (6.1 sums the per-CPU counters in
#     the estimator): poll, do not read once (tests/common/vm.rs has wait_for).
#   - the compressed vmlinuz is xz: decompressing it under TCG took ~4 s of every boot, so
#     prepare.sh extracts the ELF vmlinux and qemu boots it through PVH (no SeaBIOS real-mode
#     path, no decompressor). A gzip initramfs cost another ~0.6 s to unpack: it is stored raw.
#   - apt-cache takes ~1-1.6 s on these machines (no pkgcache.bin): prepare.sh caches its answer
#     keyed on /var/lib/apt/lists.
#   - libtest prints `test NAME ... ` before a test's own output on the same line; markers are
#     printed after a newline and searched anywhere in a line.
#   - the serial console turns \n into \r\n; run.sh strips the \r.
#   - the kernel command line is short (2 KiB) and split on spaces: paths may not contain spaces,
#     commas or colons; the command itself goes in a script on the share, never on the cmdline.
#   - qemu's stdin is /dev/null so a terminal is never put into raw mode.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
vm=${LVSDECK_VM_DIR:-$repo/target/vm}
timeout_s=${LVSDECK_VM_TIMEOUT:-300}
mem=${LVSDECK_VM_MEM:-512}
smp=${LVSDECK_VM_SMP:-1}
cache=${LVSDECK_VM_CACHE:-none}

usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0" | sed -n '1,12p' >&2; exit 2; }
fail() { echo "run.sh: $2" >&2; exit "$1"; }

shares=()
envs=()
while (($#)); do
    case $1 in
    --share) shares+=("$(cd "$2" && pwd)") || fail 2 "no such directory: $2"; shift 2 ;;
    --env) [[ $2 == [A-Za-z_]*=* ]] || fail 2 "--env wants NAME=VALUE"; envs+=("$2"); shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    -h | --help) usage ;;
    --) shift; break ;;
    -*) fail 2 "unknown option $1 (see --help)" ;;
    *) break ;;
    esac
done
(($#)) || usage

if [[ ! -f $vm/initramfs.cpio || ! -e $vm/kernel/vmlinuz ]]; then
    "$here/prepare.sh" || fail $? "prepare.sh failed"
fi

mkdir -p "$vm/runs"
run=$(mktemp -d "$vm/runs/run.XXXXXX")
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() { [[ ${LVSDECK_VM_KEEP:-} == 1 ]] || rm -rf "$run"; }
trap cleanup EXIT

# Shares: the repo's parent (or the repo when that is /), the cwd, the run folder, --share ones.
# A folder inside another share is not shared again.
parent=$(dirname "$repo")
if [[ $parent == / || $parent == /tmp ]]; then
    # The guest's /tmp is its own tmpfs: shared over 9p it would take unix sockets, which 9p
    # cannot carry (a daemon's control socket failed with ENXIO from a clone in /tmp). Share
    # the repo, and the ../shared beside it, instead of the whole parent.
    [[ -d $parent/shared ]] && shares+=("${parent%/}/shared")
    parent=$repo
fi
# shellcheck disable=SC2206 # LVSDECK_VM_SHARE is a space-separated list of folders
cands=("$parent" "$PWD" "$run" "${shares[@]}" ${LVSDECK_VM_SHARE:-})
mapfile -t cands < <(printf '%s\n' "${cands[@]}" | awk '{ print length($0) "\t" $0 }' | sort -n -s | cut -f2-)
final=()
for c in "${cands[@]}"; do
    case $c in
    / | /bin | /sbin | /lib | /lib64 | /usr | /etc | /proc | /sys | /dev | /run | /tmp | /init)
        fail 2 "cannot share $c (the guest needs its own)" ;;
    *[\ ,:]*) fail 2 "cannot share '$c': path contains a space, comma or colon" ;;
    esac
    inside=0
    for f in "${final[@]}"; do [[ $c == "$f" || $c == "$f"/* ]] && inside=1; done
    ((inside)) || final+=("$c")
done
virtfs=()
spec=
i=0
for d in "${final[@]}"; do
    virtfs+=(-virtfs "local,path=$d,mount_tag=host$i,security_model=none,multidevs=remap,id=host$i")
    spec+=${spec:+,}host$i:$d
    i=$((i + 1))
done

# The run script: working directory, environment, command.
{
    echo '#!/bin/bash'
    printf 'cd %q || exit 126\n' "$PWD"
    while IFS= read -r name; do
        printf 'export %s=%q\n' "$name" "${!name}"
    done < <(compgen -e | grep -E '^(LVSDECK_|RUST_|CARGO_|CI$)' || true)
    for e in "${envs[@]}"; do printf 'export %s=%q\n' "${e%%=*}" "${e#*=}"; done
    printf 'exec'
    printf ' %q' "$@"
    echo
} >"$run/run.sh"

kernel=$vm/kernel/vmlinux
[[ -f $kernel ]] || kernel=$(readlink -f "$vm/kernel/vmlinuz")
append="console=ttyS0 quiet panic=-1 lvsdeck.share=$spec lvsdeck.run=$run/run.sh lvsdeck.cache=$cache ${LVSDECK_VM_APPEND:-}"
((${#append} < 2000)) || fail 2 "kernel command line too long (${#append}); shorten the paths"

start=$(date +%s.%N)
# qemu runs in the background (timeout(1) puts it in a process group of its own) so that an
# interrupted run.sh stops it instead of leaving it to the timeout.
mkfifo "$run/console.fifo"
tr -d '\r' <"$run/console.fifo" | tee "$run/console.log" &
reader=$!
timeout -k 5 "$timeout_s" qemu-system-x86_64 \
    -accel tcg,thread=multi -cpu "${LVSDECK_VM_CPU:-max}" -smp "$smp" -m "$mem" \
    -nodefaults -display none -serial stdio -no-reboot \
    -kernel "$kernel" -initrd "$vm/initramfs.cpio" -append "$append" \
    "${virtfs[@]}" </dev/null >"$run/console.fifo" 2>"$run/qemu.err" &
qpid=$!
interrupted=0
trap 'interrupted=1; kill -TERM "$qpid" 2>/dev/null' INT TERM HUP
while :; do
    qrc=0
    wait "$qpid" || qrc=$?
    kill -0 "$qpid" 2>/dev/null || break # else wait was cut short by a signal: wait again
done
wait "$reader" || true
trap - INT TERM HUP
elapsed=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')

((interrupted)) && fail 130 "interrupted; guest stopped after ${elapsed}s"
if ((qrc == 124 || qrc == 137)); then
    fail 124 "guest timed out after ${timeout_s}s (LVSDECK_VM_TIMEOUT)"
fi
if ((qrc != 0)); then
    cat "$run/qemu.err" >&2
    fail 125 "qemu exited with $qrc after ${elapsed}s"
fi
if [[ -s $run/exit-code ]]; then
    rc=$(<"$run/exit-code")
else
    rc=$(sed -n 's/^LVSDECK_VM_EXIT=\([0-9]\{1,3\}\)$/\1/p' "$run/console.log" | tail -n1)
fi
if [[ -z $rc ]]; then
    cat "$run/qemu.err" >&2
    fail 125 "guest powered off after ${elapsed}s without reporting an exit code (kernel panic or /init crash?)"
fi
[[ ${LVSDECK_VM_QUIET:-} == 1 ]] || echo "run.sh: guest exit $rc after ${elapsed}s" >&2
exit "$rc"
