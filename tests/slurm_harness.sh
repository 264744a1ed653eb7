# A private single-node Slurm for tests (sourced): slurmctld and slurmd on
# 127.0.0.1 with auth/none, proctrack/linuxproc, task/none, no cgroups, in a
# temporary folder, on free ports.  Needs root and Debian's slurmctld/slurmd.
#   slurm_start DIR    sets SLURM_CONF and waits until the node is idle
#   slurm_stop         kills both daemons

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

slurm_start() {
  SLURM_DIR=$1
  command -v slurmctld >/dev/null && command -v slurmd >/dev/null || { echo "slurmctld/slurmd not installed"; return 77; }
  [ "$(id -u)" -eq 0 ] || { echo "the private Slurm needs root"; return 77; }
  local host cpus mem
  host=$(hostname -s)
  cpus=$(nproc)
  mem=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2))
  mkdir -p "$SLURM_DIR/spool" "$SLURM_DIR/state" "$SLURM_DIR/log"
  cat >"$SLURM_DIR/slurm.conf" <<CONF
ClusterName=trainbench-test
SlurmctldHost=$host(127.0.0.1)
AuthType=auth/none
CredType=cred/none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmUser=root
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmctldPidFile=$SLURM_DIR/slurmctld.pid
SlurmdPidFile=$SLURM_DIR/slurmd.pid
SlurmdSpoolDir=$SLURM_DIR/spool
StateSaveLocation=$SLURM_DIR/state
SlurmctldLogFile=$SLURM_DIR/log/slurmctld.log
SlurmdLogFile=$SLURM_DIR/log/slurmd.log
MpiDefault=none
ReturnToService=2
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE
CONF
  export SLURM_CONF=$SLURM_DIR/slurm.conf
  slurmctld -c -f "$SLURM_CONF" || return 1
  slurmd -c -f "$SLURM_CONF" || return 1
  for _ in $(seq 100); do
    sinfo -h -o %T 2>/dev/null | grep -q idle && return 0
    sleep 0.2
  done
  echo "the private Slurm did not come up; logs in $SLURM_DIR/log"
  return 1
}

slurm_stop() {
  [ -n "${SLURM_DIR:-}" ] || return 0
  local pids=""
  for f in slurmd slurmctld; do
    [ -f "$SLURM_DIR/$f.pid" ] && pids="$pids $(cat "$SLURM_DIR/$f.pid")"
  done
  [ -n "$pids" ] || return 0
  kill $pids 2>/dev/null
  for _ in $(seq 50); do
    kill -0 $pids 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 $pids 2>/dev/null
}
