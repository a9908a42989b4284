#!/bin/bash
# tests/vm/prepare.sh — get everything the IPVS test guest needs, idempotently.
#
#   1. the Debian packages (qemu-system-x86, busybox-static, ipvsadm, iproute2, nftables, cpio,
#      kmod, tmux, keepalived, dnsmasq-base, bird2), installed with --no-install-recommends when missing (needs root);
#   2. Debian's current generic amd64 kernel: the linux-image-*-amd64 that the linux-image-amd64
#      metapackage depends on (never pinned), `apt-get download`ed and `dpkg -x`ed into
#      target/vm/kernel/ (not installed), then depmod'ed. Re-used while the metapackage still
#      points at the same package and version; an older one is kept if the download fails;
#   3. target/vm/initramfs.cpio (uncompressed: unpacking gzip costs the guest ~0.6 s under TCG):
#      busybox, bash, iproute2, ipvsadm, nft, tmux (with terminfo and a UTF-8 locale), keepalived
#      (Debian's, the referee of tests/keepalived_diff_vm.rs), dnsmasq (DNS_CHECK), the glibc runtime for
#      host-built Rust test binaries, the kernel modules (see MODULES_* below) and tests/vm/init.
#      Rebuilt only when its inputs (scripts, kernel, host binaries and libraries) change.
#
# Output goes to LVSDECK_VM_DIR (default: <repo>/target/vm). Prints one line per step; with
# --quiet only problems. Exit 0: ready; 1: an error (message on stderr); 2: a prerequisite is
# missing and cannot be installed here (not root, offline): callers may skip VM tests then.
# Warm (everything cached) it takes well under 2 s.
set -euo pipefail

quiet=0
[[ ${1:-} == --quiet || ${1:-} == -q ]] && quiet=1

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
vm=${LVSDECK_VM_DIR:-$repo/target/vm}

# Loaded by /init at boot, in this order (with their dependencies first).
MODULES_BOOT=(virtio_pci 9pnet_virtio 9p nf_conntrack ip_vs
    ip_vs_rr ip_vs_wrr ip_vs_lc ip_vs_wlc ip_vs_sh ip_vs_mh ip_vs_sed ip_vs_nq ip_vs_fo
    ip_vs_ovf ip_vs_dh ip_vs_lblc ip_vs_lblcr ip_vs_twos
    veth dummy bridge macvlan)
# Shipped but loaded on demand (the kernel's request_module, or `modprobe NAME` in a test).
MODULES_EXTRA=(nf_tables nft_ct nft_numgen nft_chain_nat nft_masq nft_reject_inet nft_fib_inet nfnetlink nft_dup_ipv4 nft_dup_ipv6
    xt_ipvs ip_vs_ftp sch_netem 8021q tun vxlan ipvlan ipip)
# Module names that may be absent from a kernel build (no error then).
MODULES_OPTIONAL=" ip_vs_twos ip_vs_ovf ip_vs_mh xt_ipvs ipvlan vxlan "

PACKAGES=(qemu-system-x86 busybox-static ipvsadm iproute2 nftables cpio kmod xz-utils tmux keepalived
    dnsmasq-base bird2)
# Real binaries put in the guest (everything else is a busybox applet).
GUEST_BINS=(/usr/bin/bash /usr/sbin/ip /usr/sbin/tc /usr/bin/ss /usr/sbin/bridge
    /usr/sbin/ipvsadm /usr/sbin/nft /usr/bin/tmux /usr/sbin/keepalived /usr/sbin/dnsmasq
    /usr/sbin/bird)
# glibc runtime for host-built Rust binaries (plus what ldd finds for GUEST_BINS).
GUEST_LIBS=(ld-linux-x86-64.so.2 libc.so.6 libm.so.6 libgcc_s.so.1 libpthread.so.0 libdl.so.2
    librt.so.1 libutil.so.1 libresolv.so.2)

say() { ((quiet)) || echo "prepare: $*"; }
warn() { echo "prepare: $*" >&2; }
die() { echo "prepare: error: $*" >&2; exit 1; }
missing() { echo "prepare: missing prerequisite: $*" >&2; exit 2; }

is_root() { [[ $(id -u) == 0 ]]; }

# Run an apt command, waiting (up to ~10 min) while another apt/dpkg holds its locks.
apt_locked() {
    local out rc tries=0
    while :; do
        rc=0
        out=$(DEBIAN_FRONTEND=noninteractive "$@" -o DPkg::Lock::Timeout=600 2>&1) || rc=$?
        if ((rc != 0)) && grep -qiE 'could not get lock|unable to acquire|is another process using it' <<<"$out" &&
            ((tries++ < 120)); then
            sleep 5
            continue
        fi
        ((quiet)) || [[ -z $out ]] || sed 's/^/  apt: /' <<<"$out" | tail -n 5
        ((rc == 0)) || sed 's/^/  apt: /' <<<"$out" >&2
        return $rc
    done
}
apt_updated=0
apt_update_once() {
    ((apt_updated)) && return 0
    is_root || return 1
    say "apt-get update"
    apt_locked apt-get update -q || return 1
    apt_updated=1
}

mkdir -p "$vm"
# One prepare at a time (several test binaries may start one).
exec 9>"$vm/.prepare.lock"
flock 9

### 1. packages ###################################################################################
need=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || need+=("$p")
done
if ((${#need[@]})); then
    is_root || missing "packages ${need[*]} (run as root, or apt-get install them)"
    say "installing ${need[*]}"
    if ! apt_locked apt-get install -y -q --no-install-recommends "${need[@]}"; then
        apt_update_once || missing "apt-get update failed"
        apt_locked apt-get install -y -q --no-install-recommends "${need[@]}" ||
            missing "apt-get install ${need[*]} failed"
    fi
else
    say "packages present"
fi
for c in qemu-system-x86_64 busybox depmod modprobe cpio gzip ldd "${GUEST_BINS[@]}"; do
    command -v "$c" >/dev/null || missing "command $c"
done

### 2. kernel #####################################################################################
kdir=$vm/kernel
# "linux-image-6.1.0-56-amd64 6.1.192-2" for the metapackage's candidate version.
resolve_kernel() {
    apt-cache show --no-all-versions linux-image-amd64 2>/dev/null |
        sed -n 's/^Depends:.*\(linux-image-[0-9][^ ,]*-amd64\) *(= *\([^)]*\)).*/\1 \2/p' | head -n1
}
# apt-cache takes ~1 s here (no pkgcache.bin): re-use the answer while the lists are unchanged.
lists_key=$(stat -c '%n %s %Y' /var/lib/apt/lists/* 2>/dev/null | sha256sum | cut -d' ' -f1)
want=
if [[ -f $vm/kernel.resolved && $(head -n1 "$vm/kernel.resolved") == "$lists_key" ]]; then
    want=$(sed -n 2p "$vm/kernel.resolved")
fi
[[ -n $want ]] || want=$(resolve_kernel || true)
if [[ -z $want ]] && apt_update_once; then want=$(resolve_kernel || true); fi
if [[ -n $want ]] && ! ((apt_updated)); then printf '%s\n%s\n' "$lists_key" "$want" >"$vm/kernel.resolved"; fi
have=$(cat "$kdir/STAMP" 2>/dev/null || true)

# The ELF vmlinux inside a bzImage (as the kernel's scripts/extract-vmlinux does).
extract_vmlinux() { # $1 = vmlinuz, $2 = output
    local magic tool off
    for pair in '\xFD7zXZ\x00 xz' '\x28\xB5\x2F\xFD zstd' '\x1F\x8B\x08 gzip'; do
        magic=${pair% *} tool=${pair#* }
        command -v "$tool" >/dev/null || continue
        for off in $(LC_ALL=C grep -obUaP "$magic" "$1" | cut -d: -f1); do
            # Trailing data after the stream makes some tools complain: judge by the output.
            tail -c +$((off + 1)) "$1" | "$tool" -dc >"$2" 2>/dev/null || true
            [[ $(head -c 4 "$2" | tr -d '\0') == $'\x7fELF' ]] && return 0
        done
    done
    return 1
}

fetch_kernel() { # $1 = "pkg version"
    local pkg=${1% *} ver=${1#* } dl=$vm/download new=$vm/kernel.new
    rm -rf "$dl" "$new"
    mkdir -p "$dl"
    (cd "$dl" && apt-get download -q "$pkg=$ver" >/dev/null 2>&1) || return 1
    say "extracting $(basename "$dl"/*.deb)"
    mkdir -p "$new/root"
    dpkg -x "$dl"/*.deb "$new/root" || return 1
    local kver
    kver=$(basename "$(find "$new/root/lib/modules" -mindepth 1 -maxdepth 1 -type d | head -n1)")
    [[ -n $kver && -f $new/root/boot/vmlinuz-$kver ]] || return 1
    depmod -b "$new/root" "$kver" || return 1
    ln -s "root/boot/vmlinuz-$kver" "$new/vmlinuz"
    # qemu boots an uncompressed ELF vmlinux through its PVH entry point, skipping SeaBIOS's
    # real-mode path and the kernel's own decompressor: ~4 s faster under TCG.
    if extract_vmlinux "$new/vmlinuz" "$new/vmlinux"; then
        :
    else
        rm -f "$new/vmlinux"
        warn "warning: could not extract vmlinux; booting the compressed vmlinuz (slower)"
    fi
    echo "$kver" >"$new/KVER"
    echo "$1" >"$new/STAMP"
    rm -rf "$dl" "$kdir"
    mv "$new" "$kdir"
}

if [[ -n $want && $want == "$have" && -f $kdir/vmlinuz ]]; then
    say "kernel $have (cached)"
elif [[ -n $want ]]; then
    say "downloading kernel $want"
    if ! fetch_kernel "$want"; then
        # The lists may name a version the mirror no longer has: refresh once and retry.
        if apt_update_once && want=$(resolve_kernel) && [[ -n $want ]] && fetch_kernel "$want"; then
            :
        elif [[ -f $kdir/vmlinuz ]]; then
            warn "warning: could not download kernel $want; keeping $have"
        else
            rm -rf "$vm/kernel.new" "$vm/download"
            missing "could not download the Debian kernel ($want)"
        fi
    fi
    have=$(cat "$kdir/STAMP")
    say "kernel $have ready"
elif [[ -f $kdir/vmlinuz ]]; then
    warn "warning: cannot resolve linux-image-amd64 (no apt lists?); keeping kernel $have"
else
    missing "cannot resolve the linux-image-amd64 metapackage (apt lists missing and apt-get update impossible)"
fi
kver=$(cat "$kdir/KVER")
kroot=$kdir/root

### 3. initramfs ##################################################################################
out=$vm/initramfs.cpio

# Host files that go into the guest: binaries, the libraries they need, the glibc runtime.
libs=()
for b in "${GUEST_BINS[@]}"; do
    while read -r l; do libs+=("$l"); done < <(ldd "$b" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}')
done
for l in "${GUEST_LIBS[@]}"; do
    f=
    for d in /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu /lib64; do
        [[ -e $d/$l ]] && { f=$d/$l; break; }
    done
    [[ -n $f ]] || die "host library $l not found"
    libs+=("$f")
done
mapfile -t libs < <(printf '%s\n' "${libs[@]}" | sort -u)
busybox=$(command -v busybox)
extra_etc=(/etc/protocols /etc/services /etc/ethertypes)
# For the console under tmux in the guest: the terminal descriptions tmux and the console use,
# and a UTF-8 locale (tmux turns non-ASCII cells into `_` without one).
terminfo=()
for t in x/xterm-256color t/tmux-256color s/screen s/screen-256color d/dumb; do
    for d in /lib/terminfo /usr/share/terminfo; do
        [[ -f $d/$t ]] && { terminfo+=("$d/$t"); break; }
    done
done
locale_dir=/usr/lib/locale/C.utf8

fingerprint=$(
    {
        echo "kernel $(cat "$kdir/STAMP")"
        echo "boot ${MODULES_BOOT[*]}"
        echo "extra ${MODULES_EXTRA[*]}"
        sha256sum "$here/prepare.sh" "$here/init"
        stat -L -c '%n %s %Y' "$busybox" "${GUEST_BINS[@]}" "${libs[@]}" "${extra_etc[@]}" \
            "${terminfo[@]}" "$locale_dir"/* 2>/dev/null
    } | sha256sum | cut -d' ' -f1
)
if [[ -f $out && $(cat "$out.fingerprint" 2>/dev/null) == "$fingerprint" ]]; then
    say "initramfs up to date ($(du -h "$out" | cut -f1))"
    exit 0
fi

say "building initramfs"
stage=$vm/initramfs.stage
rm -rf "$stage"
mkdir -p "$stage"/{bin,lib/x86_64-linux-gnu,lib64,etc,proc,sys,dev,tmp,run,root,var,mnt,usr}
ln -s ../bin "$stage/usr/bin"
ln -s ../bin "$stage/usr/sbin"
ln -s bin "$stage/sbin"
ln -s ../lib "$stage/usr/lib"
ln -s ../run "$stage/var/run"
chmod 1777 "$stage/tmp"

# Libraries land under /lib (merged /usr), the loader also at /lib64.
for l in "${libs[@]}"; do
    dst=${l#/usr}
    install -D -m 0755 "$(readlink -f "$l")" "$stage$dst"
done
ln -sf ../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$stage/lib64/ld-linux-x86-64.so.2"
for b in "${GUEST_BINS[@]}"; do install -m 0755 "$(readlink -f "$b")" "$stage/bin/$(basename "$b")"; done
ln -s bash "$stage/bin/sh" # never busybox sh: its own `ip` applet shadows iproute2's
install -m 0755 "$busybox" "$stage/bin/busybox"
for a in $("$busybox" --list); do
    [[ -e $stage/bin/$a || -L $stage/bin/$a ]] || ln -s busybox "$stage/bin/$a"
done
install -m 0755 "$here/init" "$stage/init"

# /etc
cat >"$stage/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/bash
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$stage/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
cat >"$stage/etc/hosts" <<'EOF'
127.0.0.1 localhost lvsdeck-vm
::1 localhost ip6-localhost ip6-loopback
EOF
echo "hosts: files" >"$stage/etc/nsswitch.conf"
echo "lvsdeck-vm" >"$stage/etc/hostname"
echo /lib/x86_64-linux-gnu >"$stage/etc/ld.so.conf"
for f in "${extra_etc[@]}"; do [[ -f $f ]] && cp "$f" "$stage$f"; done
for f in "${terminfo[@]}"; do install -D -m 0644 "$f" "$stage/lib/terminfo/${f#*/terminfo/}"; done
if [[ -d $locale_dir ]]; then
    mkdir -p "$stage/lib/locale"
    cp -r "$locale_dir" "$stage/lib/locale/"
fi
ldconfig -r "$stage" 2>/dev/null || true

# Kernel modules: the dependency closure of MODULES_BOOT and MODULES_EXTRA, with a modules.dep of
# their own (busybox modprobe serves the kernel's request_module), and the boot load order.
mdst=$stage/lib/modules/$kver
mkdir -p "$mdst"
: >"$stage/etc/lvsdeck-modules"
declare -A seen=()
add_module() { # $1 = name, $2 = 1 when loaded at boot
    local lines line path params rel
    if ! lines=$(modprobe -d "$kroot" -S "$kver" --show-depends "$1" 2>/dev/null); then
        [[ $MODULES_OPTIONAL == *" $1 "* ]] && return 0
        die "kernel $kver has no module $1"
    fi
    while read -r line; do
        [[ $line == insmod\ * ]] || continue
        line=${line#insmod }
        path=${line%% *}
        params=
        [[ $line == *" "* ]] && params=${line#* }
        rel=${path#"$kroot/lib/modules/$kver/"}
        [[ -n ${seen[$rel]:-} ]] && continue
        seen[$rel]=1
        install -D -m 0644 "$path" "$mdst/$rel"
        if (($2)); then echo "$rel $params" >>"$stage/etc/lvsdeck-modules"; fi
    done <<<"$lines"
}
for m in "${MODULES_BOOT[@]}"; do add_module "$m" 1; done
for m in "${MODULES_EXTRA[@]}"; do add_module "$m" 0; done
cp "$kroot/lib/modules/$kver"/modules.{order,builtin,builtin.modinfo} "$mdst/"
depmod -b "$stage" "$kver"
echo "$kver" >"$stage/etc/lvsdeck-kver"

(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 >"$out.tmp")
mv "$out.tmp" "$out"
echo "$fingerprint" >"$out.fingerprint"
rm -rf "$stage"
say "initramfs built ($(du -h "$out" | cut -f1))"
