#!/usr/bin/env bash
# The paper's analysis on a Slurm cluster as a chain of job arrays (no MPI needed):
#
#   scripts/slurm-array.sh PRESET OUT TASKS [ROUNDS] [-- sbatch options...]
#   e.g. scripts/slurm-array.sh paper /scratch/me/paper 64 4 -- --cpus-per-task=4 --time=12:00:00
#
# It submits, each job depending on the one before (afterok):
#   merge 0    phaseflow scripts/paper.lua ... --merge   catalogue, selection; stops at flows
#   array r    ... --task I/TASKS   (I = 1..TASKS)       share I of the next step's jobs
#   merge r    ... --merge                               gathers the shares, runs on to the
#                                                        next step with jobs (or the end)
# for r = 1..ROUNDS. The paper's steps with jobs are flows (two phases when a systematic
# refits on the base ensemble: its refits need the base flows first), accelerations,
# densities and potential: 5 rounds (the default) cover them; a round with nothing left to do returns at
# once. If the last merge prints "next: ...", submit again: finished jobs are never redone.
# Threads per task: OMP_NUM_THREADS follows --cpus-per-task. PHASEFLOW names the
# executable (default: build/phaseflow, run from the repository's top).
set -euo pipefail

usage() { sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ $# -ge 3 ] || usage
preset=$1 out=$2 tasks=$3
shift 3
rounds=5
if [ $# -gt 0 ] && [ "$1" != "--" ]; then rounds=$1; shift; fi
[ $# -gt 0 ] && [ "$1" = "--" ] && shift
case $tasks in ''|*[!0-9]*) echo "slurm-array.sh: TASKS must be a whole number, not '$tasks'" >&2; exit 2 ;; esac
case $rounds in ''|*[!0-9]*) echo "slurm-array.sh: ROUNDS must be a whole number, not '$rounds'" >&2; exit 2 ;; esac
[ "$tasks" -ge 1 ] || { echo "slurm-array.sh: TASKS must be >= 1" >&2; exit 2; }

exe=${PHASEFLOW:-build/phaseflow}
run="$exe scripts/paper.lua --preset $preset --out $out"
threads='export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1};'

prev=$(sbatch --parsable --job-name=pf-merge0 "$@" --wrap "$threads $run --merge")
echo "merge 0: job $prev"
for r in $(seq 1 "$rounds"); do
  arr=$(sbatch --parsable --dependency="afterok:$prev" --array="1-$tasks" --job-name="pf-jobs$r" "$@" \
        --wrap "$threads $run --task \${SLURM_ARRAY_TASK_ID}/$tasks")
  prev=$(sbatch --parsable --dependency="afterok:$arr" --job-name="pf-merge$r" "$@" --wrap "$threads $run --merge")
  echo "round $r: array $arr, merge $prev"
done
echo "the last merge (job $prev) writes $out/report.md"
