#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for CI: `start` installs Debian's slurm-wlm and munge
# with apt-get when they are missing, writes a slurm.conf for this node (its real CPUs up to 2, no
# cgroups: proctrack/linuxproc, task/none), starts munged, slurmctld and slurmd as root with
# their state in SLURM_LOCAL_DIR, and waits until sinfo shows the node idle. `stop` kills exactly
# the daemons `start` started (their pid files), `status` says what runs.
#
#   scripts/slurm-local.sh start|stop|status
#   export SLURM_CONF="${SLURM_LOCAL_DIR:-/tmp/initlab-slurm}/slurm.conf"   # for sbatch, squeue
set -euo pipefail

DIR=${SLURM_LOCAL_DIR:-/tmp/initlab-slurm}
CONF=$DIR/slurm.conf
DAEMONS=(munged slurmctld slurmd)

say() { echo "slurm-local: $*" >&2; }

# Installs the packages without starting their services (a policy-rc.d that says no, removed
# again), as this script starts its own daemons.
install_when_missing() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null &&
        command -v munged >/dev/null && command -v sbatch >/dev/null; then
        return
    fi
    [ "$(id -u)" = 0 ] || { say "slurm-wlm and munge are missing and installing them needs root"; exit 1; }
    say "installing slurm-wlm and munge with apt-get"
    local policy=/usr/sbin/policy-rc.d made_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slurm-wlm munge >"$DIR/apt.log" 2>&1 ||
        { apt-get update -qq >>"$DIR/apt.log" 2>&1 &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slurm-wlm munge >>"$DIR/apt.log" 2>&1; } ||
        { [ $made_policy = 1 ] && rm -f "$policy"; say "apt-get failed, see $DIR/apt.log"; exit 1; }
    [ $made_policy = 1 ] && rm -f "$policy"
    return 0
}

write_conf() {
    local host cpus
    host=$(hostname -s)
    cpus=$(nproc)
    [ "$cpus" -gt 2 ] && cpus=2
    mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log" "$DIR/munge"
    cat >"$CONF" <<EOF
# Written by scripts/slurm-local.sh: a one-node cluster for initlab's CI.
ClusterName=initlab
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge/munge.sock
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
ReturnToService=2
JobRequeue=1
KillWait=30
MinJobAge=3600
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=1000 State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

pid_of() { [ -s "$DIR/$1.pid" ] && cat "$DIR/$1.pid"; }
alive() { local p; p=$(pid_of "$1") && kill -0 "$p" 2>/dev/null; }

start() {
    mkdir -p "$DIR"
    install_when_missing
    for d in "${DAEMONS[@]}"; do
        if alive "$d"; then say "$d already runs (pid $(pid_of "$d")); stop first"; exit 1; fi
    done
    write_conf
    # A key of this cluster's own, owned by root (munged runs as root here).
    [ -s "$DIR/munge/munge.key" ] || { head -c 1024 /dev/urandom >"$DIR/munge/munge.key"; chmod 400 "$DIR/munge/munge.key"; }
    chmod 700 "$DIR/munge"
    munged --force --key-file="$DIR/munge/munge.key" --socket="$DIR/munge/munge.sock" \
        --pid-file="$DIR/munged.pid" --log-file="$DIR/log/munged.log" --seed-file="$DIR/munge/seed"
    export SLURM_CONF=$CONF
    slurmctld -f "$CONF"
    slurmd -f "$CONF"
    local i
    for i in $(seq 60); do
        if [ "$(sinfo -h -o %T 2>/dev/null | head -1)" = idle ]; then
            say "up: node $(hostname -s) idle; export SLURM_CONF=$CONF"
            return 0
        fi
        sleep 1
    done
    say "the node did not come up idle in 60 s; logs in $DIR/log"
    sinfo >&2 || true
    return 1
}

stop() {
    local d p
    for d in slurmd slurmctld munged; do
        p=$(pid_of "$d") || continue
        if kill -0 "$p" 2>/dev/null; then
            kill -TERM "$p"
            for _ in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.5; done
            kill -0 "$p" 2>/dev/null && kill -KILL "$p"
            say "stopped $d (pid $p)"
        fi
        rm -f "$DIR/$d.pid"
    done
}

status() {
    local d
    for d in "${DAEMONS[@]}"; do
        if alive "$d"; then echo "$d: running (pid $(pid_of "$d"))"; else echo "$d: stopped"; fi
    done
    if alive slurmctld; then SLURM_CONF=$CONF sinfo; fi
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) status ;;
*) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
