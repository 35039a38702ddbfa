#!/bin/busybox sh
# PID 1 of the test guest (see xtask/src/vm.rs). Loads the modules listed in /modules/order, mounts
# the host's / read-only at /host and the run directory writable at /out, then runs the host-written
# /out/guest.sh inside a chroot of the host and powers off. Lines starting with @@lvs-vm are for
# the host side, which hides them.

/bin/busybox --install -s /bin
export PATH=/bin

say() { echo "vm: $*"; }
# Powering off without a written exit code is how the host learns that the guest failed.
die() { say "$*"; poweroff -f; }

mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev

while read -r module; do
    insmod "/modules/$module.ko" || say "cannot load module $module"
done < /modules/order

# The largest msize virtio allows: fewer round trips when reading test binaries over 9p.
ninep="trans=virtio,version=9p2000.L,msize=512000"
mount -t 9p -o "$ninep,ro" host /host || die "cannot mount the host's / over 9p"
mount -t 9p -o "$ninep" out /out || die "cannot mount the run directory over 9p"
run=$(cat /out/run-dir) || die "no run-dir in the run directory"
# Streamed rather than dumped at the end, so a guest that hangs or is killed still leaves its log.
cat /proc/kmsg > /out/kernel.log &

# The host's own /proc, /sys, /dev are not shared: give the chroot the guest's, and a tmpfs
# wherever programs expect to write, except above the run directory (a workspace under /tmp).
mount -t proc proc /host/proc
mount -t sysfs sys /host/sys
mount -t devtmpfs dev /host/dev
mkdir -p /host/dev/pts /host/dev/shm
mount -t devpts devpts /host/dev/pts
for dir in /tmp /run /var/tmp /dev/shm /root; do
    case "$run/" in "$dir"/*) continue ;; esac
    [ -d "/host$dir" ] && mount -t tmpfs tmpfs "/host$dir"
done
# `ip netns` keeps its bind mounts there.
mkdir -p /host/run/netns
# Same path inside the chroot as on the host, so both sides agree on artifact paths.
mount --bind /out "/host$run" || die "cannot mount the run directory at $run"

ip link set lo up
# From here kernel messages go to kernel.log only, not between the test output lines.
dmesg -n 1
echo "@@lvs-vm ready"
chroot /host /bin/sh "$run/guest.sh"
echo "@@lvs-vm done"

sync
poweroff -f
